require ["imap4flags", "fileinto"];
addflag "$Label1";
addflag "Junk \\Seen";
fileinto :flags ["$Work", "\\Flagged"] "Work";
if hasflag :contains "label" { fileinto "HasLabel"; }
