/*
 * test_qp.c - quoted-printable encoding vectors (RFC 2045 §6.7) and the
 * 8BITMIME downgrade: single parts, multiparts, nesting, what must be
 * refused, and a round trip through a small decoder written here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/encoding.h"
#include "mime/mime.h"

/* ---- a small quoted-printable decoder, for the round trips ---- */

/* An upper-case hex digit's value, or -1: the encoder writes no other. */
static int hexval(char c)
{
	return c >= 'a' && c <= 'f' ? -1 : hex_value((unsigned char)c);
}

/* Strict: only upper-case hex, "=" only before LF or two hex digits. */
static int qp_decode(const char *in, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '=') {
			buf_putc(out, in[i]);
			continue;
		}
		if (i + 1 < len && in[i + 1] == '\n') {
			i++;
			continue;
		}
		if (i + 2 >= len || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0)
			return -1;
		buf_putc(out, (char)(hexval(in[i + 1]) << 4 | hexval(in[i + 2])));
		i += 2;
	}
	return 1;
}

/* Every encoded line is at most 76 characters of printable ASCII, no
   line ends in white space, none reads "." or starts "From ". */
static void assert_qp_lines(const char *p, size_t len)
{
	size_t start = 0, n;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '\n') {
			assert_true((p[i] >= 33 && p[i] <= 126) || p[i] == ' ' ||
				    p[i] == '\t');
			continue;
		}
		n = i - start;
		assert_true(n <= QP_LINE_MAX);
		if (n > 0)
			assert_true(p[i - 1] != ' ' && p[i - 1] != '\t');
		assert_false(n == 1 && p[start] == '.');
		assert_false(n >= 5 && memcmp(p + start, "From ", 5) == 0);
		start = i + 1;
	}
}

/* ---- qp_encode ---- */

struct encode_case {
	const char *in, *out;
};

#define A10 "aaaaaaaaaa"
#define A70 A10 A10 A10 A10 A10 A10 A10
#define X75 A70 "aaaaa"

static const struct encode_case encode_cases[] = {
	{ "", "" },
	{ "hello world\n", "hello world\n" },
	{ "a=b\n", "a=3Db\n" },
	{ "caf\xc3\xa9\n", "caf=C3=A9\n" },
	{ "\xff\x80\x7f", "=FF=80=7F" },
	{ "trailing \n", "trailing=20\n" },
	{ "tab\t\n", "tab=09\n" },
	{ "end ", "end=20" },
	{ "two  spaces in\tthe middle\n", "two  spaces in\tthe middle\n" },
	{ " \n", "=20\n" },
	{ "x\ry\n", "x=0Dy\n" },
	{ ".\n", "=2E\n" },
	{ "..\n", "=2E.\n" },
	{ "a.\n.b\n", "a.\n=2Eb\n" },
	{ "From me\n", "=46rom me\n" },
	{ "From\n", "From\n" },
	{ "Fromage\n", "Fromage\n" },
	{ " From me\n", " From me\n" },
	{ "-- \nsig\n", "--=20\nsig\n" },
	{ "a\n\nb", "a\n\nb" },
	/* 76 characters fit on the last line; 77 need a soft break */
	{ X75 "a\n", X75 "a\n" },
	{ X75 "aa\n", X75 "=\naa\n" },
	{ X75 "a", X75 "a" },
	{ X75 "aa", X75 "=\naa" },
	/* an encoded byte is never split across lines */
	{ A70 "aaaa\xe9" "b\n", A70 "aaaa=\n=E9b\n" },
	{ A70 "aaaa\xe9\n", A70 "aaaa=\n=E9\n" },
	{ A70 "aaa\xe9\n", A70 "aaa=E9\n" },
	/* white space before a soft break is fine, at the end it is not */
	{ A70 "aaaa b\n", A70 "aaaa b\n" },
	{ A70 "aaaa bc\n", A70 "aaaa =\nbc\n" },
	{ X75 " \n", X75 "=\n=20\n" },
	/* what a soft break would put at a line start is encoded */
	{ X75 "--b\n", X75 "=\n=2D-b\n" },
	{ X75 ".x\n", X75 "=\n=2Ex\n" },
	{ X75 "From x\n", X75 "=\n=46rom x\n" },
	{ X75 ".\n", X75 ".\n" },
	{ X75 "-\n", X75 "-\n" },
	{ X75 "x-\n", X75 "=\nx-\n" },
};

static void test_encode_table(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof(encode_cases) / sizeof(encode_cases[0]); i++) {
		const struct encode_case *c = &encode_cases[i];

		buf_reset(&out);
		assert_int_equal(qp_encode(c->in, strlen(c->in), &out), 1);
		if (strcmp(buf_cstr(&out), c->out) != 0)
			fail_msg("case %zu: got \"%s\" want \"%s\"", i,
				 buf_cstr(&out), c->out);
		assert_qp_lines(out.data != NULL ? out.data : "", out.len);
	}
	buf_deinit(&out);
}

static void test_encode_nul(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(qp_encode("a\0b", 3, &out), 1);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "a=00b", 5);
	buf_deinit(&out);
}

static void test_encode_full(void **state)
{
	struct buf out;

	buf_init(&out, 8);
	buf_puts(&out, "ab");
	assert_int_equal(qp_encode("cd\xff\xff", 4, &out), -1);
	assert_string_equal(buf_cstr(&out), "ab");
	assert_int_equal(qp_encode("cdef", 4, &out), 1);
	assert_string_equal(buf_cstr(&out), "abcdef");
	buf_deinit(&out);
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* Random text biased towards what is hard: spaces, LFs, "=", ".", "-",
   "From ", 8-bit bytes, long lines. */
static size_t random_text(char *p, size_t max)
{
	static const char *const pieces[] = {
		" ", "\t", "\n", "=", ".", "-", "--", "From ", "F", "x", "abc",
		"\xc3\xa9", "\xff", "\r", "\0", "\n.\n", " \n", A70,
	};
	size_t len = 0, n, plen;

	n = rnd() % 80;
	for (size_t i = 0; i < n; i++) {
		const char *s = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];

		plen = s[0] == '\0' ? 1 : strlen(s);
		if (len + plen > max)
			break;
		memcpy(p + len, s, plen);
		len += plen;
	}
	return len;
}

static void test_encode_round_trip(void **state)
{
	char in[4096];
	struct buf enc, dec;
	size_t len;

	buf_init(&enc, 0);
	buf_init(&dec, 0);
	for (int i = 0; i < 5000; i++) {
		len = random_text(in, sizeof(in));
		buf_reset(&enc);
		buf_reset(&dec);
		assert_int_equal(qp_encode(in, len, &enc), 1);
		assert_false(qp_is_8bit(enc.data != NULL ? enc.data : "", enc.len));
		assert_qp_lines(enc.data != NULL ? enc.data : "", enc.len);
		assert_int_equal(qp_decode(enc.data, enc.len, &dec), 1);
		assert_int_equal(dec.len, len);
		if (len > 0)
			assert_memory_equal(dec.data, in, len);
	}
	buf_deinit(&enc);
	buf_deinit(&dec);
}

static void test_is_8bit(void **state)
{
	assert_false(qp_is_8bit("", 0));
	assert_false(qp_is_8bit("plain\n\x7f", 7));
	assert_true(qp_is_8bit("caf\xc3\xa9", 5));
	assert_true(qp_is_8bit("\x80", 1));
	assert_false(qp_is_8bit("\x80", 0));
}

/* ---- qp_downgrade ---- */

/* Convert and expect success with the given output (NULL: unchanged). */
static void assert_downgrade(const char *in, const char *want)
{
	struct buf out;
	bool converted = true;
	const char *error = NULL;

	buf_init(&out, 0);
	assert_int_equal(qp_downgrade(in, strlen(in), &out, &converted, &error), 1);
	if (want == NULL) {
		assert_false(converted);
		assert_int_equal(out.len, 0);
	} else {
		assert_true(converted);
		if (strcmp(buf_cstr(&out), want) != 0)
			fail_msg("got:\n%s\nwant:\n%s", buf_cstr(&out), want);
		assert_false(qp_is_8bit(out.data, out.len));
	}
	buf_deinit(&out);
}

static void assert_refused(const char *in, const char *error_want)
{
	struct buf out;
	bool converted = true;
	const char *error = NULL;

	buf_init(&out, 0);
	buf_puts(&out, "kept");
	assert_int_equal(qp_downgrade(in, strlen(in), &out, &converted, &error), -1);
	assert_false(converted);
	assert_non_null(error);
	assert_string_equal(error, error_want);
	assert_string_equal(buf_cstr(&out), "kept");
	buf_deinit(&out);
}

static void test_downgrade_7bit(void **state)
{
	assert_downgrade("Subject: hi\n\nplain text\n", NULL);
	assert_downgrade("", NULL);
	assert_downgrade("Subject: x\nContent-Transfer-Encoding: 8bit\n\nascii only\n",
			 NULL);
}

static void test_downgrade_plain(void **state)
{
	assert_downgrade(
		"From: a@example.org\nSubject: x\n\ncaf\xc3\xa9 = ok\n.\n",
		"From: a@example.org\nSubject: x\n"
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=unknown-8bit\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\ncaf=C3=A9 =3D ok\n=2E\n");
	/* an existing label (folded) is replaced, MIME-Version not doubled */
	assert_downgrade(
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding:\n 8bit\n"
		"Subject: y\n\n\xc3\xa9t\xc3\xa9\n",
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"Subject: y\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\n=C3=A9t=C3=A9\n");
	assert_downgrade(
		"Mime-Version: 1.0\ncontent-transfer-encoding : BINARY\n"
		"Content-Type: application/octet-stream\n\n\x01\xff\n",
		"Mime-Version: 1.0\n"
		"Content-Type: application/octet-stream\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\n=01=FF\n");
	/* a message without header fields */
	assert_downgrade("\n\xe9\n",
			 "MIME-Version: 1.0\n"
			 "Content-Type: text/plain; charset=unknown-8bit\n"
			 "Content-Transfer-Encoding: quoted-printable\n"
			 "\n=E9\n");
}

static void test_downgrade_refused(void **state)
{
	assert_refused("Subject: caf\xc3\xa9\n\nbody\n", "8-bit data in a header field");
	assert_refused("Subject: x\n X-Folded: \xe9\n\nbody\n",
		       "8-bit data in a header field");
	assert_refused("Subject: no body \xe9", "8-bit data in a header field");
	assert_refused("Content-Transfer-Encoding: base64\n\n\xe9\n",
		       "8-bit data in a part with an encoding of its own");
	assert_refused("Content-Transfer-Encoding: quoted-printable\n\n\xe9\n",
		       "8-bit data in a part with an encoding of its own");
	assert_refused("Content-Transfer-Encoding: x-uuencode\n\n\xe9\n",
		       "8-bit data in a part with an encoding of its own");
	assert_refused("Content-Type: message/rfc822\n\nSubject: a\n\n\xe9\n",
		       "8-bit data in a message/ part");
	assert_refused("Content-Type: multipart/mixed\n\n\xe9\n",
		       "8-bit data in a multipart without a boundary");
}

#define MP_HEAD "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n"

static void test_downgrade_multipart(void **state)
{
	assert_downgrade(
		MP_HEAD
		"preamble\n"
		"--b1\n"
		"Content-Type: text/plain; charset=us-ascii\n\n"
		"ascii part\n"
		"--b1\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: 8bit\n\n"
		"ol\xc3\xa1\n"
		"--bb not a delimiter\n"
		"--b1--\n"
		"epilogue\n",
		MP_HEAD
		"preamble\n"
		"--b1\n"
		"Content-Type: text/plain; charset=us-ascii\n\n"
		"ascii part\n"
		"--b1\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: quoted-printable\n\n"
		"ol=C3=A1\n"
		"--bb not a delimiter\n"
		"--b1--\n"
		"epilogue\n");
	/* a multipart's own 8bit label becomes 7bit; transport padding;
	   a part without header fields; no close delimiter */
	assert_downgrade(
		"Content-Type: multipart/alternative;\n boundary=b2 (comment)\n"
		"Content-Transfer-Encoding: 8bit\n\n"
		"--b2  \n"
		"\n\xe9\n"
		"--b2\t\n"
		"Content-Type: text/html\n\n<p>\xe9</p>",
		"Content-Type: multipart/alternative;\n boundary=b2 (comment)\n"
		"MIME-Version: 1.0\n"
		"Content-Transfer-Encoding: 7bit\n\n"
		"--b2  \n"
		"Content-Type: text/plain; charset=unknown-8bit\n"
		"Content-Transfer-Encoding: quoted-printable\n\n=E9\n"
		"--b2\t\n"
		"Content-Type: text/html\n"
		"Content-Transfer-Encoding: quoted-printable\n\n<p>=E9</p>");
}

static void test_downgrade_nested(void **state)
{
	assert_downgrade(
		MP_HEAD
		"--b1\n"
		"Content-Type: multipart/alternative; boundary=\"in ner\"\n\n"
		"--in ner\n"
		"Content-Type: text/plain\n\nplain\n"
		"--in ner\n"
		"Content-Type: text/plain; charset=latin1\n\nna\xefve\n"
		"--in ner--\n"
		"--b1\n"
		"Content-Type: message/rfc822\n\nSubject: inner\n\nascii\n"
		"--b1--\n",
		MP_HEAD
		"--b1\n"
		"Content-Type: multipart/alternative; boundary=\"in ner\"\n\n"
		"--in ner\n"
		"Content-Type: text/plain\n\nplain\n"
		"--in ner\n"
		"Content-Type: text/plain; charset=latin1\n"
		"Content-Transfer-Encoding: quoted-printable\n\nna=EFve\n"
		"--in ner--\n"
		"--b1\n"
		"Content-Type: message/rfc822\n\nSubject: inner\n\nascii\n"
		"--b1--\n");
	/* an outer delimiter ends an inner multipart left open */
	assert_downgrade(
		MP_HEAD
		"--b1\n"
		"Content-Type: multipart/mixed; boundary=b2\n\n"
		"--b2\n\n\xe9\n"
		"--b1\n\nafter\n"
		"--b1--\n",
		MP_HEAD
		"--b1\n"
		"Content-Type: multipart/mixed; boundary=b2\n\n"
		"--b2\n"
		"Content-Type: text/plain; charset=unknown-8bit\n"
		"Content-Transfer-Encoding: quoted-printable\n\n=E9\n"
		"--b1\n\nafter\n"
		"--b1--\n");
}

static void test_downgrade_multipart_refused(void **state)
{
	assert_refused(MP_HEAD "pre\xe9mble\n--b1\n\nx\n--b1--\n",
		       "8-bit data in a multipart preamble or epilogue");
	assert_refused(MP_HEAD "--b1\n\nx\n--b1--\nepi\xe9\n",
		       "8-bit data in a multipart preamble or epilogue");
	assert_refused(MP_HEAD "no delimiter \xe9\n",
		       "8-bit data in a multipart preamble or epilogue");
	assert_refused(MP_HEAD "--b1\nSubject: \xe9\n\nx\n--b1--\n",
		       "8-bit data in a header field");
	assert_refused(MP_HEAD "--b1\nContent-Type: message/rfc822\n\n"
		       "Subject: a\n\n\xe9\n--b1--\n",
		       "8-bit data in a message/ part");
	/* in a digest, a part without Content-Type is a message/rfc822 */
	assert_refused("Content-Type: multipart/digest; boundary=d\n\n"
		       "--d\n\nSubject: a\n\n\xe9\n--d--\n",
		       "8-bit data in a message/ part");
}

/* A multipart holding depth nested multiparts, the innermost holding an
   8-bit part: that part is at depth + 1. */
static void nested(struct buf *b, unsigned depth)
{
	buf_puts(b, "Content-Type: multipart/mixed; boundary=\"z0\"\n\n");
	for (unsigned i = 0; i < depth; i++) {
		buf_printf(b, "--z%u\nContent-Type: multipart/mixed; "
			   "boundary=\"z%u\"\n\n", i, i + 1);
	}
	buf_printf(b, "--z%u\n\n\xe9\n", depth);
	for (unsigned i = depth + 1; i-- > 0;)
		buf_printf(b, "--z%u--\n", i);
}

static void test_downgrade_depth(void **state)
{
	struct buf in, out;
	bool converted;
	const char *error;

	buf_init(&in, 0);
	buf_init(&out, 0);
	nested(&in, QP_DEPTH_MAX - 1);
	assert_int_equal(qp_downgrade(in.data, in.len, &out, &converted, &error), 1);
	assert_true(converted);
	assert_non_null(strstr(buf_cstr(&out), "\n\n=E9\n"));

	buf_reset(&in);
	buf_reset(&out);
	nested(&in, QP_DEPTH_MAX);
	assert_int_equal(qp_downgrade(in.data, in.len, &out, &converted, &error), -1);
	assert_string_equal(error, "MIME parts nested too deep");
	assert_int_equal(out.len, 0);
	buf_deinit(&in);
	buf_deinit(&out);
}

static void test_downgrade_full(void **state)
{
	const char *msg = "Subject: x\n\n\xe9\xe9\xe9\xe9\n";
	struct buf out;
	bool converted;
	const char *error;

	buf_init(&out, 40);
	assert_int_equal(qp_downgrade(msg, strlen(msg), &out, &converted, &error), -1);
	assert_string_equal(error, "converted message too large");
	assert_int_equal(out.len, 0);
	buf_deinit(&out);
}

/* Find the body of the part whose header section contains marker. */
static const char *part_body(const char *msg, const char *marker, size_t *len_r)
{
	const char *p = strstr(msg, marker), *body, *end;

	assert_non_null(p);
	body = strstr(p, "\n\n");
	assert_non_null(body);
	body += 2;
	end = strstr(body, "\n--b1");
	assert_non_null(end);
	*len_r = (size_t)(end - body);
	return body;
}

static void test_downgrade_round_trip(void **state)
{
	struct buf in, out, dec, body;
	bool converted;
	const char *error, *enc;
	size_t len;
	char text[4096];

	buf_init(&in, 0);
	buf_init(&out, 0);
	buf_init(&dec, 0);
	buf_init(&body, 0);
	for (int i = 0; i < 500; i++) {
		buf_reset(&in);
		buf_reset(&out);
		buf_reset(&dec);
		buf_reset(&body);
		do {
			len = random_text(text, sizeof(text));
			buf_reset(&body);
			buf_append(&body, text, len);
		} while (memmem(text, len, "--b1", 4) != NULL);
		buf_puts(&in, MP_HEAD "--b1\nContent-Type: text/plain; x=marker\n\n");
		buf_append(&in, body.data, body.len);
		buf_puts(&in, "\n--b1--\n");
		assert_int_equal(qp_downgrade(in.data, in.len, &out, &converted,
					      &error), 1);
		if (!converted) {
			assert_false(qp_is_8bit(in.data, in.len));
			continue;
		}
		assert_false(qp_is_8bit(out.data, out.len));
		enc = part_body(buf_cstr(&out), "x=marker", &len);
		assert_qp_lines(enc, len);
		assert_int_equal(qp_decode(enc, len, &dec), 1);
		assert_int_equal(dec.len, body.len);
		if (body.len > 0)
			assert_memory_equal(dec.data, body.data, body.len);
	}
	buf_deinit(&in);
	buf_deinit(&out);
	buf_deinit(&dec);
	buf_deinit(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_table),
		cmocka_unit_test(test_encode_nul),
		cmocka_unit_test(test_encode_full),
		cmocka_unit_test(test_encode_round_trip),
		cmocka_unit_test(test_is_8bit),
		cmocka_unit_test(test_downgrade_7bit),
		cmocka_unit_test(test_downgrade_plain),
		cmocka_unit_test(test_downgrade_refused),
		cmocka_unit_test(test_downgrade_multipart),
		cmocka_unit_test(test_downgrade_nested),
		cmocka_unit_test(test_downgrade_multipart_refused),
		cmocka_unit_test(test_downgrade_depth),
		cmocka_unit_test(test_downgrade_full),
		cmocka_unit_test(test_downgrade_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
