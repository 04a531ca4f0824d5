require ["fileinto", "copy"];
fileinto "A"; fileinto "A"; fileinto :copy "B";
