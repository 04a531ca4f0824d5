/*
 * test_imap_parser.c - the IMAP command reader.  Every case is fed whole,
 * byte by byte and split at every offset; the events, written out as a
 * transcript, must be the same each time.  The harness plays the IMAP
 * session: it decides on literals by a per-case policy and switches to
 * raw lines after AUTHENTICATE and IDLE.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "lib-imap/imap_parser.h"
#include "lib-imap/imap_private.h"
#include "lib/buf.h"

enum policy {
	POL_DEFAULT,	/* keep the reader's action */
	POL_STREAM,	/* stream every literal */
	POL_REJECT,	/* reject every literal */
	POL_APPEND	/* stream the message literal of APPEND */
};

struct limits_case {
	size_t max_line;
	uint64_t max_literal;
	size_t max_collect;
	unsigned max_args;
	unsigned max_depth;
	size_t max_raw_line;
};

struct parser_case {
	const char *in;
	size_t in_len;		/* 0: strlen(in) */
	enum policy policy;
	struct limits_case limits;	/* zeros: defaults */
	const char *expect;	/* transcript, one event a line */
};

#define NO_LIMITS { 0, 0, 0, 0, 0, 0 }
#define CASE(in, expect) { in, 0, POL_DEFAULT, NO_LIMITS, expect }
#define CASE_POL(in, pol, expect) { in, 0, pol, NO_LIMITS, expect }
#define CASE_LIM(in, lim, expect) { in, 0, POL_DEFAULT, lim, expect }

static const struct parser_case cases[] = {
	/* simple commands */
	CASE("a1 NOOP\r\n", "CMD a1 NOOP\n"),
	CASE("a2 login fred \"pass word\"\r\n",
	     "CMD a2 login fred \"pass word\"\n"),
	CASE("a3 LOGIN \"fr\\\"ed\" \"a\\\\b\"\r\n",
	     "CMD a3 LOGIN \"fr\"ed\" \"a\\b\"\n"),
	CASE("a4 SELECT INBOX\r\n", "CMD a4 SELECT INBOX\n"),
	CASE("a5 LOGIN \"\" \"\"\r\n", "CMD a5 LOGIN \"\" \"\"\n"),
	CASE("b1 NOOP\r\nb2 CHECK\r\nb3 LOGOUT\r\n",
	     "CMD b1 NOOP\nCMD b2 CHECK\nCMD b3 LOGOUT\n"),
	/* leniencies: bare LF, trailing and doubled spaces */
	CASE("a1 NOOP\n", "CMD a1 NOOP\n"),
	CASE("a1 NOOP \r\n", "CMD a1 NOOP\n"),
	CASE("a1  FOO  x   (a  b )\r\n", "CMD a1 FOO x (a b)\n"),
	/* atoms of every kind */
	CASE("a1 SELECT [Gmail]/Sent\r\n", "CMD a1 SELECT [Gmail]/Sent\n"),
	CASE("a1 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n",
	     "CMD a1 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\n"),
	CASE("a1 FOO NIL nil \"NIL\" NILS\r\n",
	     "CMD a1 FOO NIL NIL \"NIL\" NILS\n"),
	CASE("a1 FOO () (()) (a (b (c)))\r\n",
	     "CMD a1 FOO () (()) (a (b (c)))\n"),
	CASE("a1 LIST \"\" %\r\n", "CMD a1 LIST \"\" %\n"),
	CASE("a1 LIST \"\" *\r\n", "CMD a1 LIST \"\" *\n"),
	CASE("a1 LIST (SUBSCRIBED) \"\" (INBOX* Foo/%) RETURN (CHILDREN)\r\n",
	     "CMD a1 LIST (SUBSCRIBED) \"\" (INBOX* Foo/%) RETURN (CHILDREN)\n"),
	CASE("a1 SELECT \"Caf\xc3\xa9\"\r\n", "CMD a1 SELECT \"Caf\xc3\xa9\"\n"),
	CASE("a1 AUTHENTICATE PLAIN AGZyZWQAcHc=\r\n",
	     "CMD a1 AUTHENTICATE PLAIN AGZyZWQAcHc=\n"),
	/* sequence sets, flags, search keys, dates */
	CASE("a1 UID FETCH 1:*,3,5:7 (UID FLAGS)\r\n",
	     "CMD a1 UID FETCH 1:*,3,5:7 (UID FLAGS)\n"),
	CASE("a1 STORE 2:4 +FLAGS.SILENT (\\Seen $Forwarded \\Deleted)\r\n",
	     "CMD a1 STORE 2:4 +FLAGS.SILENT (\\Seen $Forwarded \\Deleted)\n"),
	CASE("a1 UID SEARCH CHARSET UTF-8 OR (FROM \"bob\" SINCE 1-Jan-2024)"
	     " NOT (SEEN (UNDELETED)) UID 1:*,5 BEFORE \"2-Feb-2024\"\r\n",
	     "CMD a1 UID SEARCH CHARSET UTF-8 OR (FROM \"bob\" SINCE 1-Jan-2024)"
	     " NOT (SEEN (UNDELETED)) UID 1:*,5 BEFORE \"2-Feb-2024\"\n"),
	CASE("a1 SEARCH OR OR FROM a TO b SUBJECT {3}\r\nc d LARGER 10\r\n",
	     "LIT 3 sync d0 COLLECT [OR OR FROM a TO b SUBJECT]\n"
	     "CMD a1 SEARCH OR OR FROM a TO b SUBJECT {3}c d LARGER 10\n"),
	CASE("a1 APPEND Drafts (\\Draft) \" 1-Jan-2024 10:00:00 +0000\" {3}"
	     "\r\nabc\r\n",
	     "LIT 3 sync d0 COLLECT [Drafts (\\Draft) \" 1-Jan-2024 10:00:00 +0000\"]\n"
	     "CMD a1 APPEND Drafts (\\Draft) \" 1-Jan-2024 10:00:00 +0000\" {3}abc\n"),
	/* fetch items */
	CASE("a1 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>"
	     " BINARY[1.2]<0.10> BODY[])\r\n",
	     "CMD a1 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>"
	     "{BODY.PEEK|HEADER.FIELDS (From To)|-|FIELDS|From,To|0.100}"
	     " BINARY[1.2]<0.10>{BINARY|1.2|1.2|-|-|0.10}"
	     " BODY[]{BODY||-|-|-|-})\n"),
	CASE("a1 FETCH 1 body[1.2.mime]\r\n",
	     "CMD a1 FETCH 1 body[1.2.mime]{body|1.2.mime|1.2|MIME|-|-}\n"),
	CASE("a1 FETCH 1 (BODY[TEXT] BODY[3.HEADER] BODY[4.TEXT]<5.6>)\r\n",
	     "CMD a1 FETCH 1 (BODY[TEXT]{BODY|TEXT|-|TEXT|-|-}"
	     " BODY[3.HEADER]{BODY|3.HEADER|3|HEADER|-|-}"
	     " BODY[4.TEXT]<5.6>{BODY|4.TEXT|4|TEXT|-|5.6})\n"),
	CASE("a1 FETCH 1 BODY[HEADER.FIELDS.NOT (\"X-A\" \"a\\\"b\" c)]\r\n",
	     "CMD a1 FETCH 1 BODY[HEADER.FIELDS.NOT (\"X-A\" \"a\\\"b\" c)]"
	     "{BODY|HEADER.FIELDS.NOT (\"X-A\" \"a\\\"b\" c)|-|FIELDS.NOT"
	     "|X-A,a\"b,c|-}\n"),
	CASE("a1 FETCH 1 BODY[1.HEADER.FIELDS (a])]\r\n",
	     "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 (BINARY.PEEK[] BINARY.SIZE[2])\r\n",
	     "CMD a1 FETCH 1 (BINARY.PEEK[]{BINARY.PEEK||-|-|-|-}"
	     " BINARY.SIZE[2]{BINARY.SIZE|2|2|-|-|-})\n"),
	CASE("a1 FETCH 1 BODY[4294967295]<4294967295.4294967295>\r\n",
	     "CMD a1 FETCH 1 BODY[4294967295]<4294967295.4294967295>"
	     "{BODY|4294967295|4294967295|-|-|4294967295.4294967295}\n"),
	CASE("a1 FETCH 1 BODY[4294967296]\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[FOO]\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[0]\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[1.]\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[MIME]\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[HEADER.FIELDS]\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
	     "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[]<0>\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[]<0.0>\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[]x\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BINARY[HEADER]\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BINARY.SIZE[1]<0.5>\r\n", "BAD a1 Invalid fetch item\n"),
	CASE("a1 FETCH 1 BODY[HEADER\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid fetch item\nCMD b1 NOOP\n"),
	CASE("a1 FETCH 1 BODY[HEADER.FIELDS ({3}\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid fetch item\nCMD b1 NOOP\n"),
	CASE("a1 FETCH 1 BODY[HEADER.FIELDS ({3+}\r\nabc)]\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid fetch item\nCMD b1 NOOP\n"),
	/* synchronising, non-synchronising and literal8 */
	CASE("a1 LOGIN {4}\r\nfred {3}\r\npwd\r\n",
	     "LIT 4 sync d0 COLLECT []\n"
	     "LIT 3 sync d0 COLLECT [{4}fred]\n"
	     "CMD a1 LOGIN {4}fred {3}pwd\n"),
	CASE("a1 LOGIN {4+}\r\nfred {3+}\r\npwd\r\n",
	     "LIT 4 nonsync d0 COLLECT []\n"
	     "LIT 3 nonsync d0 COLLECT [{4}fred]\n"
	     "CMD a1 LOGIN {4}fred {3}pwd\n"),
	CASE("a1 LOGIN {4}\nfred {3+}\npwd\n",
	     "LIT 4 sync d0 COLLECT []\n"
	     "LIT 3 nonsync d0 COLLECT [{4}fred]\n"
	     "CMD a1 LOGIN {4}fred {3}pwd\n"),
	CASE("a1 X {0}\r\n {0+}\r\n ~{0}\r\n\r\n",
	     "LIT 0 sync d0 COLLECT []\n"
	     "LIT 0 nonsync d0 COLLECT [{0}]\n"
	     "LIT 0 sync8 d0 COLLECT [{0} {0}]\n"
	     "CMD a1 X {0} {0} ~{0}\n"),
	CASE("a1 X {5}\r\n(a)\r\n\r\n",
	     "LIT 5 sync d0 COLLECT []\n"
	     "CMD a1 X {5}(a)\\x0d\\x0a\n"),
	CASE("a1 X ({2}\r\nab {1+}\r\nc)\r\n",
	     "LIT 2 sync d1 COLLECT []\n"
	     "LIT 1 nonsync d1 COLLECT []\n"
	     "CMD a1 X ({2}ab {1}c)\n"),
	CASE("a1 X y ({1}\r\na ({1}\r\nb))\r\n",
	     "LIT 1 sync d1 COLLECT [y]\n"
	     "LIT 1 sync d2 COLLECT [y]\n"
	     "CMD a1 X y ({1}a ({1}b))\n"),
	{ "a1 APPEND INBOX (\\Seen) \"1-Jan-2024 10:00:00 +0000\" ~{5}\r\n"
	  "ab\0cd\r\n", 65, POL_APPEND, NO_LIMITS,
	  "LIT 5 sync8 d0 COLLECT [INBOX (\\Seen) \"1-Jan-2024 10:00:00 +0000\"]"
	  " -> STREAM\n"
	  "STREAM ab\\x00cd\n"
	  "CMD a1 APPEND INBOX (\\Seen) \"1-Jan-2024 10:00:00 +0000\" ~{5*}\n" },
	CASE_POL("a1 APPEND INBOX {11+}\r\nhello world {0+}\r\n\r\n"
		 "b1 NOOP\r\n", POL_APPEND,
		 "LIT 11 nonsync d0 COLLECT [INBOX] -> STREAM\n"
		 "STREAM hello world\n"
		 "LIT 0 nonsync d0 COLLECT [INBOX {11*}] -> STREAM\n"
		 "STREAM \n"
		 "CMD a1 APPEND INBOX {11*} {0*}\n"
		 "CMD b1 NOOP\n"),
	CASE_POL("a1 APPEND INBOX CATENATE (TEXT {5}\r\nhello URL \"/a\")\r\n",
		 POL_STREAM,
		 "LIT 5 sync d1 COLLECT [INBOX CATENATE] -> STREAM\n"
		 "STREAM hello\n"
		 "CMD a1 APPEND INBOX CATENATE (TEXT {5*} URL \"/a\")\n"),
	CASE_POL("a1 LOGIN {4}\r\nb1 NOOP\r\n", POL_REJECT,
		 "LIT 4 sync d0 COLLECT [] -> REJECT\nCMD b1 NOOP\n"),
	CASE_POL("a1 LOGIN {4+}\r\nfred {3+}\r\npwd\r\nb1 NOOP\r\n",
		 POL_REJECT,
		 "LIT 4 nonsync d0 COLLECT [] -> REJECT\nCMD b1 NOOP\n"),
	CASE_POL("a1 LOGIN {4+}\r\nfred {3}\r\nb1 NOOP\r\n", POL_REJECT,
		 "LIT 4 nonsync d0 COLLECT [] -> REJECT\nCMD b1 NOOP\n"),
	/* raw lines: AUTHENTICATE and IDLE */
	CASE("a1 AUTHENTICATE PLAIN\r\nAGZyZWQAcHc=\r\na2 NOOP\r\n",
	     "CMD a1 AUTHENTICATE PLAIN\nLINE-MODE\nLINE AGZyZWQAcHc=\n"
	     "CMD a2 NOOP\n"),
	CASE("a1 AUTHENTICATE X\r\nmore 1\r\nmore {5+}\r\n*\r\n",
	     "CMD a1 AUTHENTICATE X\nLINE-MODE\nLINE more 1\nLINE-MODE\n"
	     "LINE more {5+}\nLINE-MODE\nLINE *\n"),
	CASE("a1 IDLE\r\nDONE\r\na2 NOOP\r\n",
	     "CMD a1 IDLE\nLINE-MODE\nLINE DONE\nCMD a2 NOOP\n"),
	CASE("a1 IDLE\r\n\r\n", "CMD a1 IDLE\nLINE-MODE\nLINE \n"),
	CASE("a1 IDLE\r\nDONE\n", "CMD a1 IDLE\nLINE-MODE\nLINE DONE\n"),
	/* syntax errors and resynchronisation */
	CASE("\r\nb1 NOOP\r\n", "BAD - Empty command line\nCMD b1 NOOP\n"),
	CASE("a1\r\nb1 NOOP\r\n", "BAD a1 Missing command name\nCMD b1 NOOP\n"),
	CASE("a1 \r\n", "BAD a1 Missing command name\n"),
	CASE(" a1 NOOP\r\n", "BAD - Missing tag\n"),
	CASE("* NOOP\r\nb1 NOOP\r\n", "BAD - Invalid tag\nCMD b1 NOOP\n"),
	CASE("+a NOOP\r\n", "BAD - Invalid tag\n"),
	CASE("a+ NOOP\r\n", "BAD - Invalid tag\n"),
	CASE("a\"1 NOOP\r\n", "BAD - Invalid tag\n"),
	CASE("a1 NO\"OP\r\n", "BAD a1 Invalid command name\n"),
	CASE("a1 NOOP (\r\nb1 NOOP\r\n", "BAD a1 Unclosed list\nCMD b1 NOOP\n"),
	CASE("a1 NOOP )\r\n", "BAD a1 Unexpected )\n"),
	CASE("a1 NOOP (a))\r\n", "BAD a1 Unexpected )\n"),
	CASE("a1 NOOP)\r\n", "BAD a1 Invalid command name\n"),
	CASE("a1 LOGIN \"abc\r\nb1 NOOP\r\n",
	     "BAD a1 Unterminated quoted string\nCMD b1 NOOP\n"),
	CASE("a1 LOGIN \"a\\bc\"\r\n", "BAD a1 Invalid escape in quoted string\n"),
	{ "a1 LOGIN \"a\0\"\r\nb1 NOOP\r\n", 24, POL_DEFAULT, NO_LIMITS,
	  "BAD a1 NUL in quoted string\nCMD b1 NOOP\n" },
	CASE("a1 FOO \"abc\"def\r\n", "BAD a1 Missing space between arguments\n"),
	CASE("a1 FOO (a)(b)\r\n", "BAD a1 Missing space between arguments\n"),
	CASE("a1 FOO a\x01q\r\n", "BAD a1 Invalid characters in atom\n"),
	CASE("a1 FOO a\"b\r\n", "BAD a1 Invalid characters in atom\n"),
	CASE("a1 FOO a\\b\r\n", "BAD a1 Invalid characters in atom\n"),
	CASE("a1 FOO a{5}\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in atom\nCMD b1 NOOP\n"),
	CASE("a1 FOO caf\xc3\xa9\r\n", "BAD a1 Invalid characters in atom\n"),
	CASE("a1 FOO \x7f\r\n", "BAD a1 Invalid characters in argument\n"),
	CASE("a1 FOO \\\r\n", "BAD a1 Invalid flag\n"),
	CASE("a1 FOO \\ x\r\n", "BAD a1 Invalid flag\n"),
	CASE("a1 FOO {5}x\r\nb1 NOOP\r\n",
	     "BAD a1 Literal must end the line\nCMD b1 NOOP\n"),
	CASE("a1 FOO {x}\r\n", "BAD a1 Invalid literal\n"),
	CASE("a1 FOO {}\r\n", "BAD a1 Invalid literal\n"),
	CASE("a1 FOO {+}\r\n", "BAD a1 Invalid literal\n"),
	CASE("a1 FOO {5+x}\r\n", "BAD a1 Invalid literal\n"),
	CASE("a1 FOO {5}\rx\r\nb1 NOOP\r\n",
	     "BAD a1 Literal must end the line\nCMD b1 NOOP\n"),
	CASE("a1 FOO ~x\r\n", "CMD a1 FOO ~x\n"),
	CASE("a1 FOO ~{x}\r\n", "BAD a1 Invalid literal\n"),
	CASE("a1 FOO {99999999999999999999}\r\nb1 NOOP\r\n",
	     "BAD a1 Literal too big\nCMD b1 NOOP\n"),
	CASE("a1 FOO {99999999999999999999+}\r\nb1 NOOP\r\n",
	     "BAD a1 Literal too big\nCMD b1 NOOP\n"),
	CASE("a1 FOO {9223372036854775807+}\r\n",
	     "LIT 9223372036854775807 nonsync d0 REJECT []\n"),
	CASE("a1 NOOP\rb1\r\n", "BAD a1 CR without LF\n"),
	/* a bad line's non-synchronising literals are skipped, not read */
	CASE("a1 FOO \x01 {5+}\r\nb1 NO\r\nb2 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b2 NOOP\n"),
	CASE("a1 FOO \x01 {5}\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b1 NOOP\n"),
	CASE("a1 FOO \x01 {2+}\r\nxx {3+}\r\nyyy\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b1 NOOP\n"),
	CASE("a1 FOO \x01 {2+}\r\n\r\n\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b1 NOOP\n"),
	CASE("a1 FOO \x01 {{2+}\r\nxx\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b1 NOOP\n"),
	CASE("a1 FOO \x01 {2+} \r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b1 NOOP\n"),
	CASE("a1 FOO \x01 {2+}\rx\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b1 NOOP\n"),
	CASE("a1 FOO \x01 {}\r\nb1 NOOP\r\n",
	     "BAD a1 Invalid characters in argument\nCMD b1 NOOP\n"),
	CASE("a1 FOO \"x\r\n{3+}\r\nabc\r\nb1 NOOP\r\n",
	     "BAD a1 Unterminated quoted string\n"
	     "BAD - Invalid tag\nCMD b1 NOOP\n"),
	/* limits */
	CASE_LIM("a1 FOO (((x)))\r\n", ((struct limits_case){ .max_depth = 3 }),
		 "CMD a1 FOO (((x)))\n"),
	CASE_LIM("a1 FOO ((((x))))\r\nb1 NOOP\r\n",
		 ((struct limits_case){ .max_depth = 3 }),
		 "BAD a1 Too deeply nested\nCMD b1 NOOP\n"),
	CASE_LIM("a1 FOO a (b c)\r\n", ((struct limits_case){ .max_args = 4 }),
		 "CMD a1 FOO a (b c)\n"),
	CASE_LIM("a1 FOO a (b c d)\r\n", ((struct limits_case){ .max_args = 4 }),
		 "BAD a1 Too many arguments\n"),
	CASE_LIM("a1 FOO a b c \"d\" e\r\n",
		 ((struct limits_case){ .max_args = 4 }),
		 "BAD a1 Too many arguments\n"),
	CASE_LIM("a1 FOO a b c d {3+}\r\nabc\r\nb1 NOOP\r\n",
		 ((struct limits_case){ .max_args = 4 }),
		 "BAD a1 Too many arguments\nCMD b1 NOOP\n"),
	CASE_LIM("a1 FOO a b c d {3}\r\nb1 NOOP\r\n",
		 ((struct limits_case){ .max_args = 4 }),
		 "BAD a1 Too many arguments\nCMD b1 NOOP\n"),
	CASE_LIM("a1 FOO 01234567\r\n", ((struct limits_case){ .max_line = 17 }),
		 "CMD a1 FOO 01234567\n"),
	CASE_LIM("a1 FOO 012345678\r\nb1 NOOP\r\n",
		 ((struct limits_case){ .max_line = 17 }),
		 "BAD a1 Command line too long\nCMD b1 NOOP\n"),
	CASE_LIM("a1 X {10}\r\n0123456789 y\r\n",
		 ((struct limits_case){ .max_line = 16 }),
		 "LIT 10 sync d0 COLLECT []\nCMD a1 X {10}0123456789 y\n"),
	CASE_LIM("a1 X {3+}\r\nb1 \r\nb2 NOOP\r\n",
		 ((struct limits_case){ .max_line = 10 }),
		 "BAD a1 Command line too long\nCMD b2 NOOP\n"),
	CASE_LIM("a1 X {3+}\r\nb1 \r\nb2 NOOP\r\n",
		 ((struct limits_case){ .max_line = 9 }),
		 "BAD a1 Command line too long\nCMD b2 NOOP\n"),
	CASE_LIM("a1 APPEND INBOX {11}\r\nb1 NOOP\r\n",
		 ((struct limits_case){ .max_literal = 10 }),
		 "LIT 11 sync d0 REJECT [INBOX]\nCMD b1 NOOP\n"),
	CASE_LIM("a1 APPEND INBOX {11+}\r\nhello world\r\nb1 NOOP\r\n",
		 ((struct limits_case){ .max_literal = 10 }),
		 "LIT 11 nonsync d0 REJECT [INBOX]\nCMD b1 NOOP\n"),
	CASE_LIM("a1 APPEND INBOX {11+}\r\nhello world {2+}\r\nxy\r\n"
		 "b1 NOOP\r\n", ((struct limits_case){ .max_literal = 10 }),
		 "LIT 11 nonsync d0 REJECT [INBOX]\nCMD b1 NOOP\n"),
	CASE_LIM("a1 APPEND INBOX {10+}\r\nhello worl\r\n",
		 ((struct limits_case){ .max_literal = 10, .max_collect = 10 }),
		 "LIT 10 nonsync d0 COLLECT [INBOX]\n"
		 "CMD a1 APPEND INBOX {10}hello worl\n"),
	CASE_LIM("a1 LOGIN {5}\r\nhello {4}\r\nworld\r\n",
		 ((struct limits_case){ .max_collect = 8 }),
		 "LIT 5 sync d0 COLLECT []\nLIT 4 sync d0 REJECT [{5}hello]\n"
		 "BAD world Missing command name\n"),
	{ "a1 LOGIN {5}\r\nhello {4}\r\nworl\r\n", 0, POL_STREAM,
	  { .max_collect = 8 },
	  "LIT 5 sync d0 COLLECT [] -> STREAM\nSTREAM hello\n"
	  "LIT 4 sync d0 COLLECT [{5*}] -> STREAM\nSTREAM worl\n"
	  "CMD a1 LOGIN {5*} {4*}\n" },
	{ "a1 AUTHENTICATE PLAIN\r\n012345678\r\na2 NOOP\r\n", 0, POL_DEFAULT,
	  { .max_raw_line = 8 },
	  "CMD a1 AUTHENTICATE PLAIN\nLINE-MODE\nBAD - Line too long\n"
	  "CMD a2 NOOP\n" },
	{ "a1 AUTHENTICATE PLAIN\r\n012345678\na2 NOOP\r\n", 0, POL_DEFAULT,
	  { .max_raw_line = 8 },
	  "CMD a1 AUTHENTICATE PLAIN\nLINE-MODE\nBAD - Line too long\n"
	  "CMD a2 NOOP\n" },
	{ "a1 AUTHENTICATE PLAIN\r\n01234567\r\na2 NOOP\r\n", 0, POL_DEFAULT,
	  { .max_raw_line = 8 },
	  "CMD a1 AUTHENTICATE PLAIN\nLINE-MODE\nLINE 01234567\n"
	  "CMD a2 NOOP\n" },
};

struct harness {
	const struct parser_case *c;
	struct imap_parser *p;
	struct buf *log;
	struct buf stream;	/* the streamed literal so far */
	size_t idle_memory;
};

static void render_bytes(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, (char)c);
	}
}

static const char *const text_names[] = {
	"-", "HEADER", "FIELDS", "FIELDS.NOT", "TEXT", "MIME"
};

static void render_section(struct buf *out, const struct imap_section *s)
{
	unsigned i;

	buf_printf(out, "{%s|%s|", s->name, s->spec);
	for (i = 0; i < s->part_count; i++)
		buf_printf(out, "%s%u", i > 0 ? "." : "", s->parts[i]);
	buf_printf(out, "%s|%s|", s->part_count == 0 ? "-" : "",
		   text_names[s->text]);
	for (i = 0; i < s->field_count; i++)
		buf_printf(out, "%s%s", i > 0 ? "," : "", s->fields[i]);
	buf_puts(out, s->field_count == 0 ? "-|" : "|");
	if (s->partial)
		buf_printf(out, "%u.%u}", s->partial_offset, s->partial_length);
	else
		buf_puts(out, "-}");
}

static void render_args(struct buf *out, const struct imap_arg *args,
			size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (i > 0)
			buf_putc(out, ' ');
		switch (a->type) {
		case IMAP_ARG_NIL:
			assert_int_equal(strcasecmp(a->str, "NIL"), 0);
			buf_puts(out, "NIL");
			break;
		case IMAP_ARG_ATOM:
			buf_puts(out, a->str);
			if (a->section != NULL)
				render_section(out, a->section);
			break;
		case IMAP_ARG_STRING:
			buf_printf(out, "\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL:
			assert_int_equal(a->literal_size, a->len);
			buf_printf(out, "%s{%zu}", a->literal8 ? "~" : "", a->len);
			render_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_LITERAL_STREAMED:
			buf_printf(out, "%s{%llu*}", a->literal8 ? "~" : "",
				   (unsigned long long)a->literal_size);
			break;
		case IMAP_ARG_LIST:
			buf_putc(out, '(');
			render_args(out, a->list, a->len);
			assert_int_equal(a->list[a->len].type, IMAP_ARG_EOL);
			buf_putc(out, ')');
			break;
		case IMAP_ARG_EOL:
			fail_msg("EOL inside the arguments");
		}
	}
	assert_int_equal(args[count].type, IMAP_ARG_EOL);
}

static const char *const action_names[] = { "COLLECT", "STREAM", "REJECT" };

static void on_literal(struct harness *h, const struct imap_event *ev)
{
	enum imap_literal_action want = ev->literal.action;

	buf_printf(h->log, "LIT %llu %s%s d%u %s [",
		   (unsigned long long)ev->literal.size,
		   ev->literal.sync ? "sync" : "nonsync",
		   ev->literal.literal8 ? "8" : "", ev->literal.depth,
		   action_names[ev->literal.action]);
	render_args(h->log, ev->args, ev->arg_count);
	buf_putc(h->log, ']');
	if (h->c->policy == POL_STREAM ||
	    (h->c->policy == POL_APPEND && strcasecmp(ev->name, "APPEND") == 0
	     && ev->literal.depth == 0 && ev->arg_count > 0))
		want = IMAP_LITERAL_STREAM;
	else if (h->c->policy == POL_REJECT)
		want = IMAP_LITERAL_REJECT;
	if (want != ev->literal.action) {
		assert_int_equal(imap_parser_literal_action(h->p, want), 1);
		buf_printf(h->log, " -> %s", action_names[want]);
	}
	buf_putc(h->log, '\n');
	buf_reset(&h->stream);
}

static void on_command(struct harness *h, const struct imap_event *ev)
{
	assert_non_null(ev->tag);
	assert_non_null(ev->name);
	buf_printf(h->log, "CMD %s %s", ev->tag, ev->name);
	if (ev->arg_count > 0)
		buf_putc(h->log, ' ');
	render_args(h->log, ev->args, ev->arg_count);
	buf_putc(h->log, '\n');
	assert_true(imap_parser_at_boundary(h->p));
	if (strcasecmp(ev->name, "AUTHENTICATE") == 0 && ev->arg_count == 1) {
		assert_int_equal(imap_parser_read_line(h->p), 1);
		buf_puts(h->log, "LINE-MODE\n");
	} else if (strcasecmp(ev->name, "IDLE") == 0) {
		assert_int_equal(imap_parser_read_line(h->p), 1);
		buf_puts(h->log, "LINE-MODE\n");
	} else {
		/* done with the command: an idle reader holds no more */
		imap_parser_done(h->p);
		assert_int_equal(imap_parser_memory(h->p), h->idle_memory);
	}
}

static void on_event(struct harness *h, int ret, const struct imap_event *ev)
{
	assert_int_equal(ret < 0, ev->type == IMAP_EVENT_BAD);
	switch (ev->type) {
	case IMAP_EVENT_LITERAL:
		on_literal(h, ev);
		break;
	case IMAP_EVENT_LITERAL_DATA:
		assert_true(ev->data_len > 0);
		buf_append(&h->stream, ev->data, ev->data_len);
		break;
	case IMAP_EVENT_LITERAL_END:
		assert_int_equal(h->stream.len, ev->literal.size);
		buf_puts(h->log, "STREAM ");
		render_bytes(h->log, buf_cstr(&h->stream), h->stream.len);
		buf_putc(h->log, '\n');
		break;
	case IMAP_EVENT_COMMAND:
		on_command(h, ev);
		break;
	case IMAP_EVENT_LINE:
		buf_printf(h->log, "LINE %s\n", ev->data);
		assert_int_equal(strlen(ev->data), ev->data_len);
		if (strncmp(ev->data, "more", 4) == 0) {
			assert_int_equal(imap_parser_read_line(h->p), 1);
			buf_puts(h->log, "LINE-MODE\n");
		}
		break;
	case IMAP_EVENT_BAD:
		assert_non_null(ev->reason);
		buf_printf(h->log, "BAD %s %s\n", ev->tag != NULL ? ev->tag : "-",
			   ev->reason);
		break;
	}
}

static struct imap_parser *case_parser(const struct parser_case *c)
{
	struct imap_parser_limits l;

	imap_parser_limits_default(&l);
	if (c->limits.max_line != 0)
		l.max_line = c->limits.max_line;
	if (c->limits.max_literal != 0)
		l.max_literal = c->limits.max_literal;
	if (c->limits.max_collect != 0)
		l.max_collect = c->limits.max_collect;
	if (c->limits.max_args != 0)
		l.max_args = c->limits.max_args;
	if (c->limits.max_depth != 0)
		l.max_depth = c->limits.max_depth;
	if (c->limits.max_raw_line != 0)
		l.max_raw_line = c->limits.max_raw_line;
	return imap_parser_new(&l);
}

static size_t case_len(const struct parser_case *c)
{
	return c->in_len != 0 ? c->in_len : strlen(c->in);
}

/* Feed c->in in pieces ending at ends[0..count); log every event. */
static void feed_pieces(const struct parser_case *c, const size_t *ends,
			size_t count, struct buf *log)
{
	struct harness h = { .c = c, .log = log };
	struct imap_event ev;
	size_t pos = 0, used, i;
	int ret;

	h.p = case_parser(c);
	h.idle_memory = imap_parser_memory(h.p);
	assert_true(h.idle_memory < 512);
	buf_init(&h.stream, 0);
	for (i = 0; i < count; i++) {
		do {
			ret = imap_parser_feed(h.p, c->in + pos, ends[i] - pos,
					       &used, &ev);
			assert_true(used <= ends[i] - pos);
			pos += used;
			if (ret == 0)
				assert_true(pos == ends[i]);
			else
				on_event(&h, ret, &ev);
		} while (ret != 0);
	}
	buf_deinit(&h.stream);
	imap_parser_free(&h.p);
	assert_null(h.p);
}

static void run_case(const struct parser_case *c)
{
	size_t len = case_len(c), ends[1024], i;
	struct buf whole, got;

	assert_true(len < sizeof(ends) / sizeof(ends[0]));
	buf_init(&whole, 0);
	buf_init(&got, 0);
	ends[0] = len;
	feed_pieces(c, ends, 1, &whole);
	if (strcmp(buf_cstr(&whole), c->expect) != 0)
		fail_msg("input \"%s\"\nexpected:\n%sgot:\n%s", c->in,
			 c->expect, buf_cstr(&whole));
	for (i = 0; i < len; i++)
		ends[i] = i + 1;
	feed_pieces(c, ends, len, &got);
	if (strcmp(buf_cstr(&got), c->expect) != 0)
		fail_msg("input \"%s\" byte by byte:\n%s", c->in, buf_cstr(&got));
	for (i = 0; i <= len; i++) {
		ends[0] = i;
		ends[1] = len;
		buf_reset(&got);
		feed_pieces(c, ends, 2, &got);
		if (strcmp(buf_cstr(&got), c->expect) != 0)
			fail_msg("input \"%s\" split at %zu:\n%s", c->in, i,
				 buf_cstr(&got));
	}
	buf_deinit(&whole);
	buf_deinit(&got);
}

static void test_cases(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Feed all of in; return the first event that is not 0. */
static int feed_all(struct imap_parser *p, const char *in,
		    struct imap_event *ev, size_t *used_r)
{
	return imap_parser_feed(p, in, strlen(in), used_r, ev);
}

/* The literal decision API and its refusals. */
static void test_literal_actions(void **state)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_event ev;
	size_t used;

	imap_parser_limits_default(&l);
	l.max_literal = 100;
	l.max_collect = 10;
	p = imap_parser_new(&l);
	/* nothing to decide */
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_STREAM), -1);
	assert_int_equal(feed_all(p, "a1 X {50}\r\n", &ev, &used), 1);
	assert_int_equal(ev.type, IMAP_EVENT_LITERAL);
	assert_int_equal(ev.literal.action, IMAP_LITERAL_REJECT);
	/* too big to collect, small enough to stream */
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_COLLECT), -1);
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_STREAM), 1);
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_REJECT), 1);
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_STREAM), 1);
	assert_int_equal(imap_parser_feed(p, "", 0, &used, &ev), 0);
	/* only one decision per literal */
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_REJECT), -1);
	/* no read_line inside a command */
	assert_int_equal(imap_parser_read_line(p), -1);
	assert_false(imap_parser_at_boundary(p));
	imap_parser_free(&p);

	p = imap_parser_new(&l);
	assert_int_equal(feed_all(p, "a1 X {101+}\r\n", &ev, &used), 1);
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_STREAM), -1);
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_COLLECT), -1);
	assert_int_equal(ev.literal.action, IMAP_LITERAL_REJECT);
	imap_parser_free(&p);
	imap_parser_free(&p);
}

/* APPEND of a 50 MB message: streamed in pieces, memory stays small. */
static void test_big_append(void **state)
{
	static char chunk[64 * 1024];
	const uint64_t size = 50 * 1000 * 1000;
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_event ev;
	uint64_t streamed = 0, sent = 0;
	size_t used, n, max_mem = 0;
	bool ended = false;
	int ret;

	imap_parser_limits_default(&l);
	p = imap_parser_new(&l);
	assert_int_equal(feed_all(p, "A003 APPEND saved-messages (\\Seen) "
				  "{50000000}\r\n", &ev, &used), 1);
	assert_int_equal(ev.type, IMAP_EVENT_LITERAL);
	assert_true(ev.literal.sync);
	assert_int_equal(ev.arg_count, 2);
	assert_int_equal(ev.literal.action, IMAP_LITERAL_REJECT);
	assert_int_equal(imap_parser_literal_action(p, IMAP_LITERAL_STREAM), 1);
	memset(chunk, 'x', sizeof(chunk));
	while (sent < size) {
		n = size - sent < sizeof(chunk) ? (size_t)(size - sent) :
			sizeof(chunk);
		ret = imap_parser_feed(p, chunk, n, &used, &ev);
		assert_int_equal(ret, 1);
		assert_int_equal(ev.type, IMAP_EVENT_LITERAL_DATA);
		assert_true(ev.data == chunk);
		streamed += ev.data_len;
		sent += used;
		if (imap_parser_memory(p) > max_mem)
			max_mem = imap_parser_memory(p);
	}
	assert_true(streamed == size);
	do {
		ret = imap_parser_feed(p, "\r\n", 2, &used, &ev);
		if (ret == 1 && ev.type == IMAP_EVENT_LITERAL_END)
			ended = true;
	} while (ret == 1 && ev.type != IMAP_EVENT_COMMAND);
	assert_true(ended);
	assert_int_equal(ev.type, IMAP_EVENT_COMMAND);
	assert_int_equal(ev.args[2].type, IMAP_ARG_LITERAL_STREAMED);
	assert_true(ev.args[2].literal_size == size);
	assert_true(max_mem < 4096);
	imap_parser_done(p);
	assert_true(imap_parser_memory(p) < 512);
	imap_parser_free(&p);
}

/* A full-size command and the memory it leaves behind. */
static void test_idle_memory(void **state)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_event ev;
	size_t idle, used, i;
	struct buf cmd;

	imap_parser_limits_default(&l);
	p = imap_parser_new(&l);
	idle = imap_parser_memory(p);
	assert_true(idle < 1024);
	buf_init(&cmd, 0);
	buf_puts(&cmd, "a1 UID STORE 1:* +FLAGS (");
	for (i = 0; i < 1000; i++)
		buf_printf(&cmd, "%s$Keyword%zu", i > 0 ? " " : "", i);
	buf_puts(&cmd, ")\r\n");
	assert_int_equal(imap_parser_feed(p, cmd.data, cmd.len, &used, &ev), 1);
	assert_int_equal(ev.type, IMAP_EVENT_COMMAND);
	assert_int_equal(ev.args[3].len, 1000);
	assert_true(imap_parser_memory(p) > 20000);
	imap_parser_done(p);
	assert_int_equal(imap_parser_memory(p), idle);
	/* the next feed gives the memory back too */
	assert_int_equal(imap_parser_feed(p, cmd.data, cmd.len, &used, &ev), 1);
	assert_int_equal(imap_parser_feed(p, "a", 1, &used, &ev), 0);
	assert_true(imap_parser_memory(p) < idle + 200);
	buf_deinit(&cmd);
	imap_parser_free(&p);
}

/* max_args counts all arguments; a long run of them is refused cleanly. */
static void test_many_args(void **state)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_event ev;
	struct buf cmd;
	size_t used, i;

	imap_parser_limits_default(&l);
	p = imap_parser_new(&l);
	buf_init(&cmd, 0);
	buf_puts(&cmd, "a1 X");
	for (i = 0; i < 1025; i++)
		buf_puts(&cmd, " a");
	buf_puts(&cmd, "\r\nb1 NOOP\r\n");
	assert_int_equal(imap_parser_feed(p, cmd.data, cmd.len, &used, &ev), -1);
	assert_string_equal(ev.reason, "Too many arguments");
	assert_int_equal(imap_parser_feed(p, cmd.data + used, cmd.len - used,
					  &used, &ev), 1);
	assert_string_equal(ev.tag, "b1");
	buf_deinit(&cmd);
	imap_parser_free(&p);
}

/* Argument accessors. */
static void test_arg_helpers(void **state)
{
	static const char in[] = "a1 X 42 4294967296 NIL \"q\" {3}\r\na\0b"
		" (x) \\Seen $Junk INBOX 9223372036854775807 007\r\n";
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_event ev;
	const struct imap_arg *a, *list;
	const char *s;
	size_t used, len, pos = 0;
	uint32_t n;
	uint64_t n64;
	int ret;

	imap_parser_limits_default(&l);
	p = imap_parser_new(&l);
	do {
		ret = imap_parser_feed(p, in + pos, sizeof(in) - 1 - pos,
				       &used, &ev);
		pos += used;
	} while (ret == 1 && ev.type != IMAP_EVENT_COMMAND);
	assert_int_equal(ev.type, IMAP_EVENT_COMMAND);
	assert_int_equal(ev.arg_count, 11);
	a = ev.args;
	assert_true(imap_arg_get_number(&a[0], &n) && n == 42);
	assert_false(imap_arg_get_number(&a[1], &n));
	assert_true(imap_arg_get_number64(&a[1], &n64) && n64 == 4294967296ULL);
	assert_true(imap_arg_get_astring(&a[2], &s) && strcmp(s, "NIL") == 0);
	assert_true(imap_arg_get_nstring(&a[2], &s) && s == NULL);
	assert_false(imap_arg_get_atom(&a[2], &s));
	assert_true(imap_arg_get_nstring(&a[3], &s) && strcmp(s, "q") == 0);
	assert_true(imap_arg_get_astring(&a[3], &s) && strcmp(s, "q") == 0);
	assert_false(imap_arg_get_atom(&a[3], &s));
	assert_true(imap_arg_get_string(&a[4], &s, &len) && len == 3);
	assert_false(imap_arg_get_astring(&a[4], &s));
	assert_false(imap_arg_get_nstring(&a[4], &s));
	assert_false(imap_arg_get_string(&a[2], &s, &len));
	assert_true(imap_arg_get_list(&a[5], &list, &len) && len == 1);
	assert_true(imap_arg_atom_equals(&list[0], "X"));
	assert_int_equal(list[1].type, IMAP_ARG_EOL);
	assert_false(imap_arg_get_list(&a[0], &list, &len));
	assert_true(imap_arg_is_flag(&a[6]));
	assert_true(imap_arg_is_flag(&a[7]));
	assert_true(imap_arg_get_atom(&a[8], &s) && strcmp(s, "INBOX") == 0);
	assert_false(imap_arg_is_flag(&a[3]));
	assert_true(imap_arg_get_number64(&a[9], &n64) &&
		    n64 == 9223372036854775807ULL);
	assert_true(imap_arg_get_number(&a[10], &n) && n == 7);
	assert_false(imap_arg_get_number(&a[5], &n));
	assert_int_equal(a[11].type, IMAP_ARG_EOL);
	imap_parser_free(&p);
}

/* The per-command arena: alignment, big blocks, growth, clear. */
static void test_arena(void **state)
{
	struct arena a;
	char *big, *small, *s;
	size_t i;

	arena_init(&a);
	assert_int_equal(a.total, 0);
	/* a big first request gets a block of its own */
	big = arena_alloc(&a, 5000);
	memset(big, 'b', 5000);
	assert_true(a.total >= 5000 && a.total < 5200);
	small = arena_alloc(&a, 3);
	assert_true(((uintptr_t)small % sizeof(void *)) == 0);
	for (i = 0; i < 2000; i++) {
		s = arena_strndup(&a, "abcdefghij", i % 11);
		assert_int_equal(strlen(s), i % 11);
		assert_true(((uintptr_t)s % 16) == 0);
	}
	/* earlier allocations stay put */
	for (i = 0; i < 5000; i++)
		assert_true(big[i] == 'b');
	assert_true(a.total < 2000 * 16 + 5200 + 64 * 1024);
	arena_clear(&a);
	assert_int_equal(a.total, 0);
	assert_null(a.blocks);
	s = arena_strndup(&a, "x", 1);
	assert_string_equal(s, "x");
	arena_clear(&a);
}

/* NULL with 0 octets is fine; a fresh reader is small. */
static void test_empty_feed(void **state)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_event ev;
	size_t used = 99;

	memset(&l, 0, sizeof(l));	/* zeros: the defaults */
	p = imap_parser_new(&l);
	assert_int_equal(imap_parser_feed(p, NULL, 0, &used, &ev), 0);
	assert_int_equal(used, 0);
	assert_true(imap_parser_at_boundary(p));
	assert_true(imap_parser_memory(p) < 512);
	print_message("idle reader: %zu bytes\n", imap_parser_memory(p));
	imap_parser_done(p);
	imap_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_literal_actions),
		cmocka_unit_test(test_big_append),
		cmocka_unit_test(test_idle_memory),
		cmocka_unit_test(test_many_args),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_empty_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
