/*
 * test_imap_body.c - ENVELOPE, BODY and BODYSTRUCTURE of the corpus of
 * real-world-shaped messages (tests/mime-corpus/), byte for byte: each
 * message with LF, CRLF and mixed line endings, the RFC 3501 §7.4.2
 * example, message/global in IMAP4rev1 and IMAP4rev2, malformed input,
 * every truncation of every corpus message, output cut at the buffer's
 * maximum; ENVELOPE address lists (RFC 5322 §A examples, groups, routes,
 * broken ones) and the Sender/Reply-To defaults.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_body.h"
#include "mime/mime.h"

#define CORPUS "tests/mime-corpus/"

/* ---- helpers ------------------------------------------------------------- */

static char *corpus_read(const char *name, size_t *len_r)
{
	char path[256];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), CORPUS "%s.eml", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the source tree)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	data[n] = '\0';
	*len_r = (size_t)n;
	return data;
}

enum line_ends { ENDS_LF, ENDS_CRLF, ENDS_MIXED };

/* The text with its LFs as CRLF (all, or every other line). */
static char *line_ends(const char *in, size_t n, enum line_ends ends,
		       size_t *len_r)
{
	char *out = malloc(n * 2 + 1);
	size_t i, o = 0, line = 0;

	assert_non_null(out);
	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r') &&
		    (ends == ENDS_CRLF || (ends == ENDS_MIXED && line++ % 2)))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

static void imap_of(const struct mime_message *m, const struct mime_part *p,
		    bool envelope, bool extended, struct buf *out)
{
	buf_reset(out);
	if (envelope)
		assert_int_equal(imap_body_envelope(m, p, out), 1);
	else
		assert_int_equal(imap_body_structure(m, p, extended ?
						 IMAP_BODY_EXTENDED : 0, out), 1);
}

/* ---- the corpus: ENVELOPE and BODYSTRUCTURE ---------------------------- */

struct corpus_case {
	const char *name;
	const char *envelope;
	const char *bodystructure;
};

static const struct corpus_case corpus_cases[] = {
	{ "simple",
	  "(\"Mon, 2 Mar 2026 09:59:58 +0000\" \"Lunch on Thursday?\" ((\"Alice "
	  "Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" "
	  "NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" "
	  "\"example.org\")) ((\"Bob\" NIL \"bob\" \"example.com\")) NIL "
	  "NIL NIL \"<20260302095958.1234@example.org>\")",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" \"FORMAT\" \"flowed\")"
	  " NIL NIL \"8BIT\" 62 6 NIL NIL NIL NIL)" },
	{ "alternative",
	  "(\"Tue, 3 Mar 2026 12:00:00 +0100\" \"=?UTF-8?B?Q2Fmw6kgbWVudQ==?=\" "
	  "((\"Carol\" NIL \"carol\" \"example.net\")) ((\"Carol\" NIL \"carol\" "
	  "\"example.net\")) ((\"Carol\" NIL \"carol\" \"example.net\"))"
	  " ((NIL NIL \"dave\" \"example.com\")) NIL NIL NIL \"<alt-1@example.net>\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"QUOTED-PRINTABLE\" "
	  "105 2 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\")"
	  " NIL NIL \"QUOTED-PRINTABLE\" 59 1 NIL NIL NIL NIL) \"ALTERNATIVE\" "
	  "(\"BOUNDARY\" \"000000000000a1b2c3\") NIL NIL NIL)" },
	{ "mixed-base64",
	  "(\"Wed, 4 Mar 2026 08:30:00 -0500\" \"Report attached\" ((\"Eve\" "
	  "NIL \"eve\" \"example.com\")) ((\"Eve\" NIL \"eve\" \"example.com\")"
	  ") ((\"Eve\" NIL \"eve\" \"example.com\")) ((\"Frank\" NIL \"frank\" "
	  "\"example.com\")) NIL NIL NIL \"<mixed-1@example.com>\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" "
	  "32 1 NIL NIL NIL NIL)(\"APPLICATION\" \"PDF\" (\"NAME\" \"report.pdf\")"
	  " NIL NIL \"BASE64\" 402 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"ATTACHMENT\" "
	  "(\"FILENAME\" \"report.pdf\" \"SIZE\" \"293\")) NIL NIL) \"MIXED\" "
	  "(\"BOUNDARY\" \"----=_Part_0_12345.67890\") NIL NIL NIL)" },
	{ "nested",
	  "(\"Thu, 5 Mar 2026 18:00:00 +0000\" \"Photos\" ((\"Grace\" NIL "
	  "\"grace\" \"example.org\")) ((\"Grace\" NIL \"grace\" \"example.org\")"
	  ") ((\"Grace\" NIL \"grace\" \"example.org\")) ((\"Heidi\" NIL "
	  "\"heidi\" \"example.org\")) NIL NIL NIL NIL)",
	  "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "20 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\")"
	  " NIL NIL \"7BIT\" 27 1 NIL NIL (\"en\" \"pt-BR\") NIL) \"ALTERNATIVE\" "
	  "(\"BOUNDARY\" \"outer-inner\") NIL NIL NIL)(\"IMAGE\" \"PNG\" "
	  "(\"NAME\" \"a.png\") \"<img1@example.org>\" NIL \"BASE64\" 12 "
	  "NIL (\"INLINE\" (\"FILENAME\" \"a.png\")) NIL \"http://example.org/a.png\")"
	  " \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)" },
	{ "forward",
	  "(\"Fri, 6 Mar 2026 09:00:00 +0000\" \"Fwd: Photos\" ((\"Ivan\" "
	  "NIL \"ivan\" \"example.com\")) ((\"Ivan\" NIL \"ivan\" \"example.com\")"
	  ") ((\"Ivan\" NIL \"ivan\" \"example.com\")) ((\"Judy\" NIL \"judy\" "
	  "\"example.com\")) NIL NIL NIL NIL)",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "10 1 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded "
	  "message\" \"7BIT\" 439 (\"Thu, 5 Mar 2026 18:00:00 +0000\" \"Photos\" "
	  "((\"Grace\" NIL \"grace\" \"example.org\")) ((\"Grace\" NIL \"grace\" "
	  "\"example.org\")) ((\"Grace\" NIL \"grace\" \"example.org\"))"
	  " ((\"Heidi\" NIL \"heidi\" \"example.org\")) NIL NIL NIL \"<photos@example.org>\")"
	  " ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"iso-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" "
	  "27 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"iso-8859-1\")"
	  " NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" "
	  "\"inner\") NIL NIL NIL) 18 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" "
	  "\"fwd\") NIL NIL NIL)" },
	{ "encoded-words",
	  "(\"Sat, 7 Mar 2026 07:00:00 +0900\" \"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= "
	  "=?UTF-8?Q?=E2=80=93_test?=\" ((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" "
	  "NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?ISO-8859-1?Q?Andr=E9?= "
	  "Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?ISO-8859-1?Q?Andr=E9?= "
	  "Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?UTF-8?B?SsO2cmc=?=\" "
	  "NIL \"joerg\" \"example.de\")) ((\"=?windows-1252?Q?=93Quoted=94_Person?=\" "
	  "NIL \"q\" \"example.com\")) NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-2022-JP\") NIL NIL \"7BIT\" "
	  "14 1 NIL NIL NIL NIL)" },
	{ "groups",
	  "(NIL \"groups\" ((\"Sybil\" NIL \"sybil\" \"example.com\")) ((\"Sybil\" "
	  "NIL \"sybil\" \"example.com\")) ((\"Sybil Replies\" NIL \"replies\" "
	  "\"example.com\")) ((NIL NIL \"Friends\" NIL)(NIL NIL \"alice\" "
	  "\"example.org\")(\"Bob B.\" NIL \"bob\" \"example.com\")(NIL "
	  "NIL NIL NIL)(NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL "
	  "NIL NIL)(\"Trent T\" NIL \"trent\" \"example.com\")) ((NIL \"@relay.example\" "
	  "\"victor\" \"example.com\")(NIL NIL \"walter\" \"MISSING_DOMAIN\")"
	  ") NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "6 1 NIL NIL NIL NIL)" },
	{ "rfc2231",
	  "(NIL \"Files with long names\" ((\"Mallory\" NIL \"mallory\" "
	  "\"example.com\")) ((\"Mallory\" NIL \"mallory\" \"example.com\")"
	  ") ((\"Mallory\" NIL \"mallory\" \"example.com\")) ((\"Niaj\" "
	  "NIL \"niaj\" \"example.com\")) NIL NIL NIL NIL)",
	  "((\"APPLICATION\" \"OCTET-STREAM\" (\"NAME*\" \"UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E%20long%20name.txt\")"
	  " NIL NIL \"7BIT\" 4 NIL (\"ATTACHMENT\" (\"FILENAME\" \"a very "
	  "long file name that goes on and on.txt\")) NIL NIL)(\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"=?UTF-8?B?w6lsw6hiZS50eHQ=?=\")"
	  " NIL NIL \"7BIT\" 4 1 NIL (\"ATTACHMENT\" (\"FILENAME*\" \"iso-8859-1'fr'%E9l%E8ve.txt\")"
	  ") NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)" },
	{ "digest",
	  "(NIL \"Digest\" ((NIL NIL \"list\" \"example.com\")) ((NIL NIL "
	  "\"list\" \"example.com\")) ((NIL NIL \"list\" \"example.com\")"
	  ") NIL NIL NIL NIL NIL)",
	  "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 42 (NIL \"one\" "
	  "((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")"
	  ") ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) (\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 1 NIL "
	  "NIL NIL NIL) 4 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL "
	  "NIL \"7BIT\" 43 (NIL \"two\" ((NIL NIL \"b\" \"example.com\")"
	  ") ((NIL NIL \"b\" \"example.com\")) ((NIL NIL \"b\" \"example.com\")"
	  ") NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\")"
	  " NIL NIL \"7BIT\" 6 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) \"DIGEST\" "
	  "(\"BOUNDARY\" \"d\") NIL NIL NIL)" },
	{ "broken-boundary",
	  "(NIL \"broken\" ((\"Olivia\" NIL \"olivia\" \"example.com\"))"
	  " ((\"Olivia\" NIL \"olivia\" \"example.com\")) ((\"Olivia\" NIL "
	  "\"olivia\" \"example.com\")) ((\"Peggy\" NIL \"peggy\" \"example.com\")"
	  ") NIL NIL NIL NIL)",
	  "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "11 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\")"
	  " NIL NIL \"7BIT\" 26 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" "
	  "\"abcdef\") NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\")"
	  " NIL NIL \"7BIT\" 31 1 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" "
	  "\"abc\") NIL NIL NIL)" },
	{ "wrong-boundary",
	  "(NIL \"wrong boundary\" ((\"Rupert\" NIL \"rupert\" \"example.com\")"
	  ") ((\"Rupert\" NIL \"rupert\" \"example.com\")) ((\"Rupert\" "
	  "NIL \"rupert\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"BOUNDARY\" \"xyz\")"
	  " NIL NIL \"7BIT\" 54 5 NIL NIL NIL NIL)" },
	{ "malformed",
	  "(NIL {18}\r\nnul and \xff\xfe garbage ((\"Zed\" NIL \"zed\" "
	  "\"example.com\")) ((\"Zed\" NIL \"zed\" \"example.com\")) "
	  "((\"Zed\" NIL \"zed\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "57 4 NIL NIL NIL NIL)" },
};

/* Parse name with the given line ends; check the expected strings. */
static void corpus_check(const struct corpus_case *c, enum line_ends ends,
			 uint64_t *size_r)
{
	struct mime_message *m;
	struct buf out;
	size_t raw_len, len;
	char *raw = corpus_read(c->name, &raw_len);
	char *text = line_ends(raw, raw_len, ends, &len);

	buf_init(&out, 0);
	m = mime_message_parse(text, len, NULL);
	imap_of(m, mime_message_root(m), true, false, &out);
	assert_string_equal(buf_cstr(&out), c->envelope);
	imap_of(m, mime_message_root(m), false, true, &out);
	assert_string_equal(buf_cstr(&out), c->bodystructure);
	*size_r = mime_message_size_crlf(m);
	if (ends == ENDS_CRLF)
		assert_int_equal(*size_r, len);
	mime_message_free(&m);
	assert_null(m);
	buf_deinit(&out);
	free(text);
	free(raw);
}

static void test_corpus_imap(void **state)
{
	uint64_t lf, crlf, mixed;
	size_t i;

	for (i = 0; i < sizeof(corpus_cases) / sizeof(corpus_cases[0]); i++) {
		corpus_check(&corpus_cases[i], ENDS_LF, &lf);
		corpus_check(&corpus_cases[i], ENDS_CRLF, &crlf);
		corpus_check(&corpus_cases[i], ENDS_MIXED, &mixed);
		assert_int_equal(lf, crlf);
		assert_int_equal(lf, mixed);
	}
}

/* RFC 3501 §7.4.2, the FETCH example, on a message built to match it. */
static void test_rfc3501_example(void **state)
{
	static const char envelope[] =
		"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
		"\"IMAP4rev1 WG mtg summary and minutes\" "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((NIL NIL \"imap\" \"cac.washington.edu\")) "
		"((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
		"(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
		"\"<B27397-0100000@cac.washington.edu>\")";
	static const char body[] =
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
		"\"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
		"\"US-ASCII\" \"NAME\" \"cc.diff\") "
		"\"<960723163407.20117h@cac.washington.edu>\" "
		"\"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")";
	static const char bodystructure[] =
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
		"\"7BIT\" 1152 23 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" "
		"(\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
		"\"<960723163407.20117h@cac.washington.edu>\" "
		"\"Compiler diff\" \"BASE64\" 4554 73 NIL NIL NIL NIL) "
		"\"MIXED\" (\"BOUNDARY\" \"--IMAP-summary\") NIL NIL NIL)";
	struct corpus_case c = { "rfc3501", envelope, bodystructure };
	struct mime_message *m;
	struct buf out;
	uint64_t lf, crlf;
	size_t len;
	char *raw = corpus_read("rfc3501", &len);

	buf_init(&out, 0);
	m = mime_message_parse(raw, len, NULL);
	imap_of(m, mime_message_root(m), false, false, &out);
	assert_string_equal(buf_cstr(&out), body);
	mime_message_free(&m);
	buf_deinit(&out);
	free(raw);
	corpus_check(&c, ENDS_LF, &lf);
	corpus_check(&c, ENDS_CRLF, &crlf);
	assert_int_equal(lf, crlf);
}

/* A message that is not a multipart: BODY of message/rfc822 in BODY form. */
static void test_body_forms(void **state)
{
	static const char msg[] =
		"Subject: outer\n"
		"Content-Type: message/rfc822\n"
		"\n"
		"Subject: inner\n"
		"\n"
		"hello\n";
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct buf out;

	buf_init(&out, 0);
	imap_of(m, mime_message_root(m), false, false, &out);
	assert_string_equal(buf_cstr(&out),
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 25 "
		"(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
		"\"7BIT\" 7 1) 3)");
	mime_message_free(&m);
	buf_deinit(&out);
}

/* message/global is body-type-msg in IMAP4rev2 only */
static void test_message_global(void **state)
{
	static const char msg[] =
		"Content-Type: message/global\n"
		"\n"
		"Subject: caf\xc3\xa9\n"
		"\n"
		"hello\n";
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(imap_body_structure(m, mime_message_root(m), 0, &out), 1);
	assert_string_equal(buf_cstr(&out),
		"(\"MESSAGE\" \"GLOBAL\" NIL NIL NIL \"7BIT\" 25 "
		"(NIL {5}\r\ncaf\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
		"\"7BIT\" 7 1) 3)");
	buf_reset(&out);
	assert_int_equal(imap_body_structure(m, mime_message_root(m),
					IMAP_BODY_REV1 | IMAP_BODY_EXTENDED,
					&out), 1);
	assert_string_equal(buf_cstr(&out),
		"(\"MESSAGE\" \"GLOBAL\" NIL NIL NIL \"7BIT\" 25 "
		"NIL NIL NIL NIL)");
	mime_message_free(&m);
	buf_deinit(&out);
}

/* ---- limits and malformed input ---------------------------------------- */

/* Past MIME_MAX_DEPTH the rest is one opaque leaf: TEXT/PLAIN. */
static void test_limit_depth(void **state)
{
	struct mime_message *m;
	struct buf msg, out;
	int i;

	buf_init(&msg, 0);
	for (i = 0; i < 30; i++)
		buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%d\n"
			   "\n--b%d\n", i, i);
	buf_puts(&msg, "\ndeep text\n");
	for (i = 29; i >= 0; i--)
		buf_printf(&msg, "--b%d--\n", i);
	m = mime_message_parse(msg.data, msg.len, NULL);
	buf_init(&out, 0);
	assert_int_equal(imap_body_structure(m, mime_message_root(m),
					     IMAP_BODY_EXTENDED, &out), 1);
	assert_non_null(strstr(buf_cstr(&out), "(\"TEXT\" \"PLAIN\" "
			       "(\"CHARSET\" \"US-ASCII\" \"BOUNDARY\" "
			       "\"b20\")"));
	mime_message_free(&m);
	buf_deinit(&msg);
	buf_deinit(&out);
}

struct malformed_case {
	const char *msg;
	size_t len;		/* 0: strlen */
	const char *bodystructure;
};

#define LIT(s) s, sizeof(s) - 1

static const struct malformed_case malformed_cases[] = {
	/* no empty line: the header runs to the end */
	{ "Subject: x\nContent-Type: text/html", 0,
	  "(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 "
	  "NIL NIL NIL NIL)" },
	/* the body starts at the first line that is no header field */
	{ "Subject: x\nHello there\n", 0,
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 13 1 "
	  "NIL NIL NIL NIL)" },
	/* empty message */
	{ "", 0,
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 "
	  "NIL NIL NIL NIL)" },
	/* bad Content-Type: the default */
	{ "Content-Type: text\n\nx", 0,
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 1 "
	  "NIL NIL NIL NIL)" },
	/* multipart without boundary parameter */
	{ "Content-Type: multipart/mixed\n\n--x\n\nx\n--x--\n", 0,
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 17 4 "
	  "NIL NIL NIL NIL)" },
	/* base64 message/rfc822 is not parsed */
	{ "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n"
	  "\nU3ViamVjdDogeAoKeQo=\n", 0,
	  "(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 22 "
	  "NIL NIL NIL NIL)" },
	/* an empty part, a part without header, the close right after */
	{ "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\n--b\nno header"
	  "\n--b--", 0,
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 "
	  "NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL "
	  "NIL \"7BIT\" 9 1 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL "
	  "NIL NIL)" },
	/* a delimiter with trailing blanks, one with trailing text */
	{ "Content-Type: multipart/mixed; boundary=b\n\n--b \t\r\n\na\n--bx\n"
	  "--b--  \n", 0,
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 7 2 "
	  "NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)" },
	/* NUL bytes in the header, 8-bit garbage in a field name */
	{ LIT("Subj\xe9" "ct: a\nContent-Type: text/plain; charset=\"x\0y\"\n\nz"),
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"xy\") NIL NIL \"7BIT\" 1 1 "
	  "NIL NIL NIL NIL)" },
	/* an unterminated quoted string and comment */
	{ "Content-Type: text/plain; name=\"abc\nContent-Language: (en\n\nz", 0,
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"abc\") NIL "
	  "NIL \"7BIT\" 1 1 NIL NIL NIL NIL)" },
	/* a comment, and junk between parameters */
	{ "Content-Type: text/plain (plain text); junk; charset=us-ascii "
	  "(Plain text) ; format = flowed\n\nz", 0,
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\" \"FORMAT\" \"flowed\") "
	  "NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL)" },
};

static void test_malformed(void **state)
{
	const struct malformed_case *c;
	struct mime_message *m;
	struct buf out;
	size_t i, len;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(malformed_cases) / sizeof(malformed_cases[0]);
	     i++) {
		c = &malformed_cases[i];
		len = c->len != 0 ? c->len : strlen(c->msg);
		m = mime_message_parse(c->msg, len, NULL);
		imap_of(m, mime_message_root(m), false, true, &out);
		if (strcmp(buf_cstr(&out), c->bodystructure) != 0)
			fail_msg("case %zu: %s", i, buf_cstr(&out));
		mime_message_free(&m);
	}
	buf_deinit(&out);
}

/* Every prefix of every corpus message renders. */
static void test_truncated(void **state)
{
	static const char *const names[] = {
		"simple", "alternative", "mixed-base64", "nested", "forward",
		"encoded-words", "rfc2231", "broken-boundary", "groups",
		"digest", "malformed", "rfc3501"
	};
	struct mime_message *m;
	struct buf out;
	size_t i, n, len;
	char *raw;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		raw = corpus_read(names[i], &len);
		for (n = 0; n <= len; n += 1 + n / 512) {
			m = mime_message_parse(raw, n, NULL);
			imap_of(m, mime_message_root(m), false, true, &out);
			imap_of(m, mime_message_root(m), true, false, &out);
			mime_message_free(&m);
		}
		free(raw);
	}
	buf_deinit(&out);
}

/* Output stops cleanly at the buffer's maximum. */
static void test_output_max(void **state)
{
	struct mime_message *m;
	struct buf out;
	size_t len, max;
	char *raw = corpus_read("forward", &len);

	m = mime_message_parse(raw, len, NULL);
	for (max = 1; max < 200; max += 7) {
		buf_init(&out, max);
		assert_int_equal(imap_body_structure(m, mime_message_root(m),
						IMAP_BODY_EXTENDED,
						&out), -1);
		assert_true(out.len <= max);
		buf_deinit(&out);
		buf_init(&out, max);
		assert_int_equal(imap_body_envelope(m, mime_message_root(m),
						    &out), -1);
		assert_true(out.len <= max);
		buf_deinit(&out);
	}
	mime_message_free(&m);
	free(raw);
}

/* ---- ENVELOPE address lists ------------------------------------------------------- */

struct address_case {
	const char *to;
	const char *imap;
};

static const struct address_case address_cases[] = {
	{ "user@example.com", "((NIL NIL \"user\" \"example.com\"))" },
	{ "John Doe <jdoe@machine.example>",
	  "((\"John Doe\" NIL \"jdoe\" \"machine.example\"))" },
	{ "\"Joe Q. Public\" <john.q.public@example.com>",
	  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\"))" },
	{ "Joe Q. Public <john.q.public@example.com>",
	  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\"))" },
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	  "((\"Mary Smith\" NIL \"mary\" \"x.test\")"
	  "(NIL NIL \"jdoe\" \"example.org\")"
	  "(\"Who?\" NIL \"one\" \"y.test\"))" },
	{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	  "((NIL NIL \"boss\" \"nil.test\")"
	  "(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\"))" },
	/* RFC 5322 §A.1.3: groups */
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	  "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
	  "(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")"
	  "(NIL NIL NIL NIL))" },
	{ "Undisclosed recipients:;",
	  "((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL))" },
	{ "Group: a@b.c", "((NIL NIL \"Group\" NIL)(NIL NIL \"a\" \"b.c\")"
	  "(NIL NIL NIL NIL))" },
	/* RFC 5322 §A.5: comments and folding */
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	  "((\"Pete\" NIL \"pete\" \"silly.test\"))" },
	{ "jdoe@example.org (John Doe)",
	  "((\"John Doe\" NIL \"jdoe\" \"example.org\"))" },
	{ "\"quoted local\"@example.org",
	  "((NIL NIL \"\\\"quoted local\\\"\" \"example.org\"))" },
	{ "<@a.test,@b.test:user@c.test>",
	  "((NIL \"@a.test,@b.test\" \"user\" \"c.test\"))" },
	{ "u@[192.0.2.1]", "((NIL NIL \"u\" \"[192.0.2.1]\"))" },
	/* encoded words stay raw, 8-bit names become literals */
	{ "=?UTF-8?Q?J=C3=B6rg?= <j@x.test>",
	  "((\"=?UTF-8?Q?J=C3=B6rg?=\" NIL \"j\" \"x.test\"))" },
	{ "J\xc3\xb6rg <j@x.test>",
	  "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.test\"))" },
	/* broken */
	{ "nobody", "((NIL NIL \"nobody\" \"MISSING_DOMAIN\"))" },
	{ "@example.com", "((NIL NIL \"MISSING_MAILBOX\" \"example.com\"))" },
	{ "<>", "((NIL NIL \"\" \"\"))" },
	{ "", "NIL" },
	{ " , ,", "NIL" },
	{ "a@b.c junk junk, d@e.f",
	  "((NIL NIL \"a\" \"b.c\")(NIL NIL \"d\" \"e.f\"))" },
	{ "Name <a@b.c", "((\"Name\" NIL \"a\" \"b.c\"))" },
	{ "\"unterminated <a@b.c>", "((NIL NIL \"\\\"unterminated <a@b.c>\" "
	  "\"MISSING_DOMAIN\"))" },
	{ ">)]:;", "NIL" },
};

static void test_addresses(void **state)
{
	struct mime_message *m;
	struct buf msg, out, want;
	size_t i;

	buf_init(&msg, 0);
	buf_init(&out, 0);
	buf_init(&want, 0);
	for (i = 0; i < sizeof(address_cases) / sizeof(address_cases[0]);
	     i++) {
		buf_reset(&msg);
		buf_printf(&msg, "To: %s\n\n", address_cases[i].to);
		m = mime_message_parse(msg.data, msg.len, NULL);
		buf_reset(&out);
		assert_int_equal(imap_body_envelope(m, mime_message_root(m),
						    &out), 1);
		buf_reset(&want);
		buf_printf(&want, "(NIL NIL NIL NIL NIL %s NIL NIL NIL NIL)",
			   address_cases[i].imap);
		if (strcmp(buf_cstr(&out), buf_cstr(&want)) != 0)
			fail_msg("%s: got %s", address_cases[i].to,
				 buf_cstr(&out));
		mime_message_free(&m);
	}
	buf_deinit(&msg);
	buf_deinit(&out);
	buf_deinit(&want);
}

/* Sender and Reply-To fall back to From, also when empty. */
static void test_envelope_defaults(void **state)
{
	static const char msg[] =
		"From: a@b.c\nSender:\nReply-To: r@b.c\nSubject:\n"
		"In-Reply-To: <x@y>\n\n";
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(imap_body_envelope(m, mime_message_root(m), &out), 1);
	assert_string_equal(buf_cstr(&out),
		"(NIL \"\" ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
		"((NIL NIL \"r\" \"b.c\")) NIL NIL NIL \"<x@y>\" NIL)");
	mime_message_free(&m);
	buf_deinit(&out);
}

/* Header values lose their NULs (mime_header_unfold): quoted, no literal8. */
static void test_envelope_nul(void **state)
{
	static const char msg[] = "Subject: a\0b\nTo: \"x\0y\" <u@h.test>\n\n";
	struct mime_message *m = mime_message_parse(msg, sizeof(msg) - 1, NULL);
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(imap_body_envelope(m, mime_message_root(m), &out), 1);
	assert_string_equal(buf_cstr(&out),
		"(NIL \"ab\" NIL NIL NIL ((\"xy\" NIL \"u\" \"h.test\")) NIL NIL "
		"NIL NIL)");
	mime_message_free(&m);
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_imap),
		cmocka_unit_test(test_rfc3501_example),
		cmocka_unit_test(test_body_forms),
		cmocka_unit_test(test_message_global),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_output_max),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_envelope_defaults),
		cmocka_unit_test(test_envelope_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
