require ["include", "variables", "fileinto", "body"];
global ["box", "other"];
set "global.x" "y";
include :global :once :optional "shared";
include :personal :optional "mine";
if body :text :contains "body" { fileinto "${box}${global.x}"; }
if body :content "text" :contains "text" { keep; }
