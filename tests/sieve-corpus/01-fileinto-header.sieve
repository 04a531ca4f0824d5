require "fileinto";
if header :contains "subject" "[announce]" { fileinto "Announce"; }
