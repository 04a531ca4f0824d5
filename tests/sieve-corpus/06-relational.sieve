require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if address :count "ge" :comparator "i;ascii-numeric" "to" "2" { fileinto "Many"; }
if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "Spam"; }
