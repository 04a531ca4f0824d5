require ["fileinto", "imap4flags"];
fileinto :flags "\\Flagged" "F"; addflag "\\Seen";
