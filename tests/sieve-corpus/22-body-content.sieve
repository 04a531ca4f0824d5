require ["body", "fileinto"];
if body :content "text/html" :contains "htmlmarker" { fileinto "Html"; }
if body :content "text/plain" :contains "htmlmarker" { fileinto "HtmlInPlain"; }
if body :content "text/plain" :contains "café" { fileinto "PlainCafe"; }
if body :content "application/pdf" :contains "PDFmarker" { fileinto "Pdf"; }
if body :content "application" :contains "binary data" { fileinto "AnyApplication"; }
if body :content "text" :contains "calendarmarker" { fileinto "AnyText"; }
if body :content "text/calendar" :contains "BEGIN:VCALENDAR" { fileinto "Calendar"; }
if body :content "multipart" :contains "preamblemarker" { fileinto "Multi"; }
if body :content "multipart" :contains "Olá" { fileinto "MultiInner"; }
if body :content ["image", "text/plain"] :contains "attached" { fileinto "Attached"; }
if body :content "" :contains "lovely" { fileinto "Empty"; }
if body :content "text/html" :contains "<b>" { fileinto "HtmlTags"; }
if body :content "" :contains "preamblemarker" { fileinto "EmptyPreamble"; }
if body :content "multipart" :contains "epiloguemarker" { fileinto "Epilogue"; }
