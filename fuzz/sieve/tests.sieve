require ["relational", "comparator-i;ascii-numeric", "regex", "body", "copy", "reject"];
/* bracketed */
if anyof (address :domain :is "from" "example.net",
          not exists "x-none", size :over 1K,
          header :count "ge" :comparator "i;ascii-numeric" "to" "1",
          body :text :contains "body") {
    redirect :copy "carol@example.com";
} else { reject text:
go away
..dots
.
; }
if header :regex "subject" "^\\[([a-z]+)\\]" { discard; }
