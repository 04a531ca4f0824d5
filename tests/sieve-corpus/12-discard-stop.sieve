if size :over 10 { discard; stop; }
keep;
