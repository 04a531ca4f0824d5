require ["date", "relational", "fileinto"];
if date :originalzone "date" "date" "2026-12-05" { fileinto "Today"; }
if date :zone "-0800" "date" "hour" "02" { fileinto "Zoned"; }
if date :value "ge" :originalzone "date" "year" "2026" { fileinto "Year"; }
if date :originalzone "date" "weekday" "6" { fileinto "Saturday"; }
if date :originalzone "date" "iso8601" "2026-12-05T10:00:00+00:00" { fileinto "Iso"; }
if date :originalzone "date" "iso8601" "2026-12-05T10:00:00Z" { fileinto "IsoZ"; }
if date :zone "+0130" "date" "iso8601" "2026-12-05T11:30:00+01:30" { fileinto "Iso130"; }
if currentdate :value "ge" "year" "2020" { fileinto "Now"; }
