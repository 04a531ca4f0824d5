require "fileinto";
if address :domain :is "from" "example.net" { fileinto "Net"; } else { fileinto "Other"; }
