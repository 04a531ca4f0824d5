require "vacation";
vacation :days 3 :addresses ["bob@example.org"] "I am away.";
