require "fileinto";
if anyof (not exists "x-spam-score", header :is "subject" "nothing") { fileinto "A"; }
elsif allof (exists ["from", "to"], true) { fileinto "B"; }
