/*
 * test_mime_decode.c - the decoders and writers of the mime component, one
 * table each: base64, quoted-printable, charsets, RFC 2047 encoded words,
 * RFC 2231 parameters.  (IMAP strings: lib-imap/test_imap_quote.c; ENVELOPE
 * address lists: lib-imap/test_imap_body.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"

#define LIT(s) s, sizeof(s) - 1

struct bytes_case {
	const char *in;
	size_t in_len;
	const char *out;
	size_t out_len;
};

static void bytes_equal(const struct buf *b, const char *out, size_t len,
			const char *in)
{
	if (b->len != len || memcmp(buf_cstr(b), out, len) != 0)
		fail_msg("\"%s\": got \"%s\"", in, buf_cstr(b));
}

/* ---- base64 -------------------------------------------------------------- */

static const struct bytes_case base64_cases[] = {
	{ LIT("aGVsbG8="), LIT("hello") },
	{ LIT("aGVsbG8"), LIT("hello") },
	{ LIT("aGVs\nbG8h\n"), LIT("hello!") },
	{ LIT("aGVs\r\nbG8h\r\n"), LIT("hello!") },
	{ LIT(" a G V s bG8h "), LIT("hello!") },
	{ LIT("aGV*s#bG8h!"), LIT("hello!") },	/* garbage skipped */
	{ LIT("aGVsbG8=IGlnbm9yZWQ="), LIT("hello") },	/* stops at = */
	{ LIT("aA"), LIT("h") },
	{ LIT("a"), LIT("") },
	{ LIT(""), LIT("") },
	{ LIT("AAEC/w=="), LIT("\x00\x01\x02\xff") },
	{ LIT("+/+/"), LIT("\xfb\xff\xbf") },
};

static void test_base64(void **state)
{
	struct buf out;
	size_t i;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(base64_cases) / sizeof(base64_cases[0]); i++) {
		buf_reset(&out);
		assert_int_equal(mime_base64_decode(base64_cases[i].in,
						    base64_cases[i].in_len,
						    &out), 1);
		bytes_equal(&out, base64_cases[i].out, base64_cases[i].out_len,
			    base64_cases[i].in);
	}
	buf_deinit(&out);
	buf_init(&out, 3);
	assert_int_equal(mime_base64_decode(LIT("aGVsbG8="), &out), -1);
	assert_string_equal(buf_cstr(&out), "hel");
	buf_deinit(&out);
}

/* ---- quoted-printable ---------------------------------------------------- */

struct qp_case {
	const char *in;
	const char *out;	/* crlf false */
	const char *out_crlf;	/* crlf true */
};

static const struct qp_case qp_cases[] = {
	{ "caf=C3=A9", "caf\xc3\xa9", "caf\xc3\xa9" },
	{ "caf=c3=a9", "caf\xc3\xa9", "caf\xc3\xa9" },
	{ "soft=\nbreak", "softbreak", "softbreak" },
	{ "soft=\r\nbreak", "softbreak", "softbreak" },
	{ "soft= \t\nbreak", "softbreak", "softbreak" },
	{ "hard\nbreak\n", "hard\nbreak\n", "hard\r\nbreak\r\n" },
	{ "hard\r\nbreak", "hard\r\nbreak", "hard\r\nbreak" },
	{ "trailing   \nblanks\t\n", "trailing\nblanks\n",
	  "trailing\r\nblanks\r\n" },
	{ "bad =XY escape", "bad =XY escape", "bad =XY escape" },
	{ "half =4", "half =4", "half =4" },
	{ "end =", "end ", "end " },
	{ "a==3D", "a==", "a==" },
	{ "=3D=3d", "==", "==" },
	{ "=00nul", "\0nul", "\0nul" },
	{ "", "", "" },
};

static void test_qp(void **state)
{
	struct buf out;
	size_t i, want;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(qp_cases) / sizeof(qp_cases[0]); i++) {
		want = qp_cases[i].out[0] == '\0' && qp_cases[i].in[0] != '\0'
		       ? 4 : strlen(qp_cases[i].out);
		buf_reset(&out);
		assert_int_equal(mime_qp_decode(qp_cases[i].in,
						strlen(qp_cases[i].in), false,
						&out), 1);
		bytes_equal(&out, qp_cases[i].out, want, qp_cases[i].in);
		buf_reset(&out);
		assert_int_equal(mime_qp_decode(qp_cases[i].in,
						strlen(qp_cases[i].in), true,
						&out), 1);
		bytes_equal(&out, qp_cases[i].out_crlf, want +
			    strlen(qp_cases[i].out_crlf) -
			    strlen(qp_cases[i].out), qp_cases[i].in);
	}
	buf_deinit(&out);
}

static void test_cte_identity(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(mime_cte_decode(MIME_CTE_8BIT, LIT("a\nb\r\nc\n"),
					 true, &out), 1);
	assert_string_equal(buf_cstr(&out), "a\r\nb\r\nc\r\n");
	buf_reset(&out);
	assert_int_equal(mime_cte_decode(MIME_CTE_7BIT, LIT("a\nb"), false,
					 &out), 1);
	assert_string_equal(buf_cstr(&out), "a\nb");
	assert_int_equal(mime_crlf_size(LIT("a\nb\r\n\n")), 8);
	assert_int_equal(mime_crlf_size(LIT("\n")), 2);
	assert_int_equal(mime_crlf_size(LIT("\r")), 1);
	buf_reset(&out);
	assert_int_equal(mime_crlf_append(&out, LIT("\na\r\nb\n")), 1);
	assert_string_equal(buf_cstr(&out), "\r\na\r\nb\r\n");
	buf_deinit(&out);
}

/* ---- charsets ------------------------------------------------------------ */

struct charset_case {
	const char *charset;
	const char *in;
	size_t in_len;
	int ret;
	const char *out;
};

static const struct charset_case charset_cases[] = {
	{ "utf-8", LIT("caf\xc3\xa9"), 1, "caf\xc3\xa9" },
	{ "UTF-8", LIT("bad \xc3 byte"), 1, "bad \xef\xbf\xbd byte" },
	{ "utf-8", LIT("\xed\xa0\x80"), 1,	/* a surrogate */
	  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "us-ascii", LIT("caf\xc3\xa9"), 1, "caf\xc3\xa9" },
	{ "ISO-8859-1", LIT("caf\xe9"), 1, "caf\xc3\xa9" },
	/* read as Windows-1252, as mail readers do */
	{ "iso-8859-1", LIT("\x93q\x94"), 1, "\xe2\x80\x9cq\xe2\x80\x9d" },
	{ "windows-1252", LIT("\x80 5"), 1, "\xe2\x82\xac 5" },
	{ "ISO-8859-15", LIT("\xa4"), 1, "\xe2\x82\xac" },
	{ "koi8-r", LIT("\xf0\xd2\xc9\xd7\xc5\xd4"), 1,
	  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
	{ "ISO-2022-JP", LIT("\x1b$BF|K\\8l\x1b(B"), 1,
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "Shift_JIS", LIT("\x93\xfa\x96\x7b"), 1, "\xe6\x97\xa5\xe6\x9c\xac" },
	{ "utf-16le", LIT("h\0i\0"), 1, "hi" },
	{ "utf-16le", LIT("h\0i"), 1, "h\xef\xbf\xbd" },	/* truncated */
	{ "x-no-such-charset", LIT("caf\xc3\xa9\xff"), 0,
	  "caf\xc3\xa9\xef\xbf\xbd" },
	{ "../../etc/passwd", LIT("a"), 0, "a" },
	{ "utf-8//TRANSLIT", LIT("a"), 0, "a" },
	{ NULL, LIT("a\xff"), 0, "a\xef\xbf\xbd" },
};

static void test_charsets(void **state)
{
	const struct charset_case *c;
	struct buf out;
	size_t i;
	int ret;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(charset_cases) / sizeof(charset_cases[0]);
	     i++) {
		c = &charset_cases[i];
		buf_reset(&out);
		ret = mime_charset_to_utf8(c->charset, c->in, c->in_len, &out);
		if (ret != c->ret || strcmp(buf_cstr(&out), c->out) != 0)
			fail_msg("%s: %d \"%s\"", c->charset ? c->charset :
				 "NULL", ret, buf_cstr(&out));
	}
	buf_deinit(&out);
}

/* ---- RFC 2047 ---------------------------------------------------------- */

struct rfc2047_case {
	const char *in;
	const char *out;
};

static const struct rfc2047_case rfc2047_cases[] = {
	/* RFC 2047 §8 examples */
	{ "(=?ISO-8859-1?Q?a?=)", "(a)" },
	{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=\t =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
	{ "=?US-ASCII?Q?Keith_Moore?=", "Keith Moore" },
	{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
	{ "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=",
	  "If you can read this yo" },
	/* UTF-8, Windows-1252, ISO-2022-JP */
	{ "=?UTF-8?B?Q2Fmw6kgbWVudQ==?=", "Caf\xc3\xa9 menu" },
	{ "=?utf-8?q?J=C3=B6rg?= Schmidt", "J\xc3\xb6rg Schmidt" },
	{ "=?windows-1252?Q?=93Quoted=94?=",
	  "\xe2\x80\x9cQuoted\xe2\x80\x9d" },
	{ "=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=",
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= mail",
	  "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88 mail" },
	/* a character split across two words is joined before conversion */
	{ "=?UTF-8?B?w6k=?= =?UTF-8?B?4oKs?=", "\xc3\xa9\xe2\x82\xac" },
	{ "=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9t=C3=A9?=", "\xc3\xa9t\xc3\xa9" },
	/* language suffix (RFC 2231 §5) */
	{ "=?US-ASCII*EN?Q?Keith?=", "Keith" },
	/* glued to text, as some mailers send */
	{ "Re:=?UTF-8?Q?caf=C3=A9?=!", "Re:caf\xc3\xa9!" },
	/* malformed words stay as they are */
	{ "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=" },
	{ "=?UTF-8?Q?abc", "=?UTF-8?Q?abc" },
	{ "=??Q?abc?=", "=??Q?abc?=" },
	{ "=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?=" },
	{ "=?", "=?" },
	{ "a =?UTF-8?Q?x?= b", "a x b" },
	/* unknown charset: bytes taken as UTF-8 */
	{ "=?x-unknown-cs?Q?caf=C3=A9?=", "caf\xc3\xa9" },
	/* raw 8-bit text: UTF-8 kept, anything else read as Windows-1252 */
	{ "caf\xc3\xa9", "caf\xc3\xa9" },
	{ "caf\xe9", "caf\xc3\xa9" },
	{ "", "" },
};

static void test_rfc2047(void **state)
{
	struct buf out;
	size_t i;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(rfc2047_cases) / sizeof(rfc2047_cases[0]);
	     i++) {
		buf_reset(&out);
		assert_int_equal(mime_rfc2047_decode(rfc2047_cases[i].in,
						     strlen(rfc2047_cases[i].in),
						     &out), 1);
		if (strcmp(buf_cstr(&out), rfc2047_cases[i].out) != 0)
			fail_msg("\"%s\": got \"%s\"", rfc2047_cases[i].in,
				 buf_cstr(&out));
	}
	buf_deinit(&out);
}

/* ---- parameters ---------------------------------------------------------- */

struct param_case {
	const char *header;	/* Content-Type value */
	const char *name;
	const char *raw;	/* as in BODYSTRUCTURE, NULL: absent */
	bool extended;
	const char *decoded;
};

static const struct param_case param_cases[] = {
	{ "text/plain; charset=us-ascii", "charset", "us-ascii", false,
	  "us-ascii" },
	{ "text/plain; CHARSET=\"UTF-8\"", "charset", "UTF-8", false,
	  "UTF-8" },
	{ "text/plain; name=\"a \\\"q\\\" b\"", "name", "a \"q\" b", false,
	  "a \"q\" b" },
	{ "multipart/mixed; boundary=----=_Part_1_2.3", "boundary",
	  "----=_Part_1_2.3", false, "----=_Part_1_2.3" },
	/* RFC 2231 §3: continuations */
	{ "message/external-body; access-type=URL;\n"
	  " URL*0=\"ftp://\";\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/"
	  "bulk-mailer.tar\"", "url",
	  "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar", false,
	  "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar" },
	/* RFC 2231 §4: charset and language */
	{ "application/x-stuff;\n title*=us-ascii'en-us'This%20is%20"
	  "%2A%2A%2Afun%2A%2A%2A", "title",
	  "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", true,
	  "This is ***fun***" },
	/* RFC 2231 §4.1: both, and a plain section in the middle */
	{ "application/x-stuff;\n title*0*=us-ascii'en'This%20is%20even%20"
	  "more%20;\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n"
	  " title*2=\"isn't it!\"", "title",
	  "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20"
	  "isn%27t%20it!", true,
	  "This is even more ***fun*** isn't it!" },
	/* sections out of order; a gap ends the value */
	{ "text/plain; n*1=b; n*0=a; n*3=d", "n", "ab", false, "ab" },
	/* only later sections: nothing */
	{ "text/plain; n*1=b", "n", NULL, false, NULL },
	{ "application/octet-stream; name*=utf-8''%E2%82%AC.txt", "name",
	  "utf-8''%E2%82%AC.txt", true, "\xe2\x82\xac.txt" },
	{ "application/octet-stream; name*=''%41", "name", "''%41", true,
	  "A" },
	{ "application/octet-stream; name*=%41%4", "name", "%41%4", true,
	  "A%4" },
	/* encoded words in a plain value are decoded by mime_param_decode */
	{ "text/plain; name=\"=?UTF-8?Q?caf=C3=A9?=.txt\"", "name",
	  "=?UTF-8?Q?caf=C3=A9?=.txt", false, "caf\xc3\xa9.txt" },
	{ "text/plain; charset=\"us-ascii\" (a comment)", "charset",
	  "us-ascii", false, "us-ascii" },
	{ "text/plain; novalue; x=1", "x", "1", false, "1" },
	{ "text/plain; =1; y=2", "y", "2", false, "2" },
};

static void test_params(void **state)
{
	const struct param_case *c;
	const struct mime_param *p;
	struct mime_message *m;
	struct buf msg, out;
	size_t i;

	buf_init(&msg, 0);
	buf_init(&out, 0);
	for (i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]); i++) {
		c = &param_cases[i];
		buf_reset(&msg);
		buf_printf(&msg, "Content-Type: %s\n\n", c->header);
		m = mime_message_parse(msg.data, msg.len, NULL);
		p = mime_param_find(mime_message_root(m), c->name);
		if (c->raw == NULL) {
			assert_null(p);
			mime_message_free(&m);
			continue;
		}
		if (p == NULL)
			fail_msg("%s: no %s", c->header, c->name);
		assert_string_equal(p->value, c->raw);
		assert_int_equal(p->extended, c->extended);
		buf_reset(&out);
		assert_int_equal(mime_param_decode(p, &out), 1);
		assert_string_equal(buf_cstr(&out), c->decoded);
		mime_message_free(&m);
	}
	buf_deinit(&msg);
	buf_deinit(&out);
}

static void test_disposition(void **state)
{
	static const char msg[] =
		"Content-Disposition: Attachment;\n"
		" filename*0*=UTF-8''%C3%A9t%C3%A9;\n"
		" filename*1=\".pdf\"; size=12\n"
		"\n";
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	const struct mime_part *root = mime_message_root(m);
	const struct mime_param *p;
	struct buf out;

	buf_init(&out, 0);
	assert_string_equal(root->disposition, "ATTACHMENT");
	assert_int_equal(root->ndisp_params, 2);
	p = mime_param_find_disp(root, "FileName");
	assert_non_null(p);
	assert_string_equal(p->value, "UTF-8''%C3%A9t%C3%A9.pdf");
	assert_int_equal(mime_param_decode(p, &out), 1);
	assert_string_equal(buf_cstr(&out), "\xc3\xa9t\xc3\xa9.pdf");
	assert_null(mime_param_find(root, "filename"));
	mime_message_free(&m);
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_cte_identity),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_disposition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
