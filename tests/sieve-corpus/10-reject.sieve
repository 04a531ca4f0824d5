require "reject";
if header :contains "subject" "report" { reject "not wanted"; }
