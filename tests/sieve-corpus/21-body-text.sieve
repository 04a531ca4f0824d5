require ["body", "fileinto", "variables"];
if body :text :contains "café" { fileinto "Cafe"; }
if body :text :contains "softline" { fileinto "Soft"; }
if body :text :contains "preamblemarker" { fileinto "Preamble"; }
if body :text :contains "epiloguemarker" { fileinto "Epilogue"; }
if body :text :contains "PDFmarker" { fileinto "Pdf"; }
if body :text :contains "base64marker" { fileinto "B64"; }
if body :text :contains "São Paulo" { fileinto "Utf8B64"; }
if body :text :contains "qpmarker" { fileinto "QP"; }
if body :text :contains "José" { fileinto "Latin1"; }
if body :text :contains "calendarmarker" { fileinto "Calendar"; }
if body :text :contains "Content-Type" { fileinto "Headers"; }
if body :raw :contains "UERGbWFya2Vy" { fileinto "RawB64"; }
if body :raw :contains "qp=" { fileinto "RawQP"; }
if body :raw :contains "Content-Type: text/html" { fileinto "RawHeaders"; }
if body :text :contains "<b>" { fileinto "HtmlTags"; }
if body :text :matches "*Lisbon*" { fileinto "Matches"; }
if body :text :matches "*Lisbon*" { fileinto "Captured${1}"; }
if body :text :contains "htmlmarker  caf" { fileinto "HtmlText"; }
if body :text :contains "htmlmarker caf" { fileinto "HtmlTextOneSpace"; }
if body :text :contains "Bob,  htmlmarker" { fileinto "HtmlTwoBefore"; }
