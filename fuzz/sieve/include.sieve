require ["include", "variables"];
set "n" "x";
include :personal :once :optional "${n}";
return;
