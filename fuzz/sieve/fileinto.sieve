require ["fileinto", "mailbox", "imap4flags", "variables", "envelope", "subaddress"];
if header :matches "subject" "[*] *" {
    fileinto :create :flags "\\Flagged" "Lists/${1}";
    stop;
} elsif envelope :detail "to" "box" { addflag "\\Seen"; keep; }
