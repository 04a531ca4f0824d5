require ["imap4flags"];
setflag "\\Seen"; addflag ["\\Flagged", "\\Answered"]; removeflag "\\Answered";
keep;
