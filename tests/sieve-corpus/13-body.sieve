require ["body", "fileinto"];
if body :text :contains "attached" { fileinto "Attached"; }
