require ["fileinto", "variables", "regex"];
if header :regex "subject" "^\\[([a-z]+)\\] ([A-Z][a-z]+)" { fileinto "${2}"; }
