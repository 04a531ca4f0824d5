require ["envelope", "fileinto"];
if envelope :all :is "from" "alice@example.net" { fileinto "FromAlice"; }
