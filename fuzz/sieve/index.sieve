require ["index", "fileinto", "date"];
if header :index 1 :last :contains "received" "from b" { fileinto "LastB"; }
if header :index 2 :contains "received" "from b" { fileinto "SecondB"; }
if date :index 1 :originalzone "received" "zone" "-0500" { fileinto "FirstZone"; }
