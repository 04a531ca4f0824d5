require ["envelope", "subaddress", "fileinto"];
if envelope :detail "to" "box" { fileinto "Box"; }
