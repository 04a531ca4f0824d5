require "copy";
redirect :copy "carol@example.com";
