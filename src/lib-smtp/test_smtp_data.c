/*
 * test_smtp_data.c - DATA dot-unstuffing, end detection, CRLF handling and
 * BDAT chunks.  Every case is fed whole, byte by byte and split at every
 * offset, and must give the same output each time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib-smtp/smtp_data.h"

struct data_case {
	const char *in;
	size_t in_len;		/* 0: strlen(in) */
	bool dots;
	int ret;		/* 1: the end was seen */
	const char *out;
	size_t out_len;		/* 0: strlen(out) */
	const char *rest;	/* input left unconsumed ("" if none) */
	size_t max_line;	/* 0: 998 */
	bool too_long;
};

#define DATA(in, ret, out, rest) { in, 0, true, ret, out, 0, rest, 0, false }
#define BDAT(in, out) { in, 0, false, 0, out, 0, "", 0, false }
#define LONG(in, max, too_long) \
	{ in, 0, true, 1, NULL, 0, "", max, too_long }

static const struct data_case cases[] = {
	/* plain messages and the end marker */
	DATA("Hello\r\n.\r\n", 1, "Hello\n", ""),
	DATA("Subject: x\r\n\r\nbody\r\n.\r\n", 1, "Subject: x\n\nbody\n", ""),
	DATA(".\r\n", 1, "", ""),
	DATA(".\r\nQUIT\r\n", 1, "", "QUIT\r\n"),
	DATA("\r\n.\r\n", 1, "\n", ""),
	DATA("a\r\n.\r\nMAIL FROM:<a@b>\r\n", 1, "a\n", "MAIL FROM:<a@b>\r\n"),
	DATA("a\r\n.\r\n.\r\n", 1, "a\n", ".\r\n"),
	DATA("", 0, "", ""),
	DATA("abc", 0, "abc", ""),
	DATA("abc\r\n", 0, "abc\n", ""),
	DATA("abc\r\n.", 0, "abc\n", ""),
	DATA("abc\r\n.\r", 0, "abc\n\n", ""),
	/* dot-stuffing */
	DATA("a\r\n..b\r\n.\r\n", 1, "a\n.b\n", ""),
	DATA("a\r\n.b\r\n.\r\n", 1, "a\nb\n", ""),
	DATA("..\r\n.\r\n", 1, ".\n", ""),
	DATA("...\r\n.\r\n", 1, "..\n", ""),
	DATA(". \r\n.\r\n", 1, " \n", ""),
	DATA("a.b\r\nc..\r\n.\r\n", 1, "a.b\nc..\n", ""),
	DATA("..\r\n..\r\n.\r\n", 1, ".\n.\n", ""),
	/* bare LF and bare CR end a line (stored as LF, relayed as CRLF) but
	   never the data; the line after one is no CRLF line start, so a dot
	   there is text, not stuffing (the SMTP smuggling variants) */
	DATA("a\nb\r\n.\r\n", 1, "a\nb\n", ""),
	DATA("a\n.\nb\r\n.\r\n", 1, "a\n.\nb\n", ""),
	DATA("a\n.\r\nb\r\n.\r\n", 1, "a\n.\nb\n", ""),
	DATA("a\r\n.\nb\r\n.\r\n", 1, "a\n\nb\n", ""),
	DATA("a\n..\nb\r\n.\r\n", 1, "a\n..\nb\n", ""),
	DATA("a\r\n.\n", 0, "a\n\n", ""),
	DATA("a\n.\n", 0, "a\n.\n", ""),
	DATA("a\n.\r\n", 0, "a\n.\n", ""),
	DATA(".\n", 0, "\n", ""),
	DATA("a\r.\r\n", 0, "a\n.\n", ""),
	DATA("a\r.\n", 0, "a\n.\n", ""),
	DATA("a\r.\rMAIL FROM:<x@y>\r\n.\r\n", 1, "a\n.\nMAIL FROM:<x@y>\n", ""),
	DATA("line1\r.\r\nMAIL FROM:<x@y>\r\n.\r\n", 1,
	     "line1\n.\nMAIL FROM:<x@y>\n", ""),
	DATA("line1\n.\nMAIL FROM:<x@y>\r\n.\r\n", 1,
	     "line1\n.\nMAIL FROM:<x@y>\n", ""),
	DATA("a\r\r\n.\r\n", 1, "a\n\n", ""),
	DATA("a\r\r\r\n.\r\n", 1, "a\n\n\n", ""),
	DATA(".\r.\r\n", 0, "\n.\n", ""),
	DATA(".\r\r\n.\r\n", 1, "\n\n", ""),
	DATA(".\rx\r\n.\r\n", 1, "\nx\n", ""),
	DATA("a\r\n\r.\r\n.\r\n", 1, "a\n\n.\n", ""),
	DATA("a\r\n .\r\n.\r\n", 1, "a\n .\n", ""),
	DATA("a\n\r\n.\r\n", 1, "a\n\n", ""),
	DATA("a\rb\r\n.\r\n", 1, "a\nb\n", ""),
	DATA("a\r", 0, "a\n", ""),
	DATA("a\r\n.\r", 0, "a\n\n", ""),
	/* binary bytes pass through */
	{ "a\0b\r\n.\r\n", 8, true, 1, "a\0b\n", 4, "", 0, false },
	{ "\xff\xfe\r\n.\r\n", 0, true, 1, "\xff\xfe\n", 0, "", 0, false },
	/* BDAT: no dot handling, no end, CRLF -> LF */
	BDAT("a\r\n.\r\nb", "a\n.\nb"),
	BDAT(".\r\n", ".\n"),
	BDAT("..x\r\n", "..x\n"),
	BDAT("a\r", "a\n"),
	BDAT("a\rb", "a\nb"),
	BDAT("a\r\r\n", "a\n\n"),
	BDAT("a\r.\r\nMAIL FROM:<x@y>\r\n", "a\n.\nMAIL FROM:<x@y>\n"),
	BDAT("\r\r", "\n\n"),
	BDAT("a\nb", "a\nb"),
	BDAT("", ""),
	BDAT("\r\n.\r\n", "\n.\n"),
};

/* The stored form of a LONG case is its input minus CRLF handling. */
static const struct data_case long_cases[] = {
	LONG("0123456789\r\n.\r\n", 10, false),
	LONG("0123456789a\r\n.\r\n", 10, true),
	LONG("0123456789a\r\nshort\r\n.\r\n", 10, true),
	LONG("short\r\n0123456789a\r\n.\r\n", 10, true),
	LONG(".123456789\r\n.\r\n", 10, false),
	LONG("..123456789\r\n.\r\n", 10, true),
	LONG("01234\r56789\r\n.\r\n", 10, false),
	LONG("0123456789\r0123456789\r\n.\r\n", 10, false),
	LONG("0123456789\r0123456789a\r\n.\r\n", 10, true),
	LONG("0123456789\n.123456789\r\n.\r\n", 10, false),
	LONG("0123456789\n.123456789a\r\n.\r\n", 10, true),
	LONG("0123\r56789\r\n.\r\n", 10, false),
	LONG("0123456789\n0123456789\r\n.\r\n", 10, false),
	LONG("0123456789\r\r\n.\r\n", 10, false),
	LONG("x\r\n.\r\n", 1, false),
	LONG("xy\r\n.\r\n", 1, true),
	LONG(".\r\n", 1, false),
};

static size_t case_in_len(const struct data_case *c)
{
	return c->in_len != 0 ? c->in_len : strlen(c->in);
}

/*
 * Feed c->in in pieces ending at ends[0..count) and check every call's
 * contract.  Returns the last result; *consumed_r gets the bytes used.
 */
static int feed_pieces(const struct data_case *c, const size_t *ends,
		       size_t count, struct buf *out, bool *too_long_r,
		       size_t *consumed_r)
{
	size_t len = case_in_len(c), pos = 0, used, i;
	struct smtp_data d;
	int ret = 0;

	smtp_data_init(&d, c->dots, c->max_line != 0 ? c->max_line : 998);
	for (i = 0; i < count && ret == 0; i++) {
		size_t n = ends[i] - pos, before = out->len;

		ret = smtp_data_feed(&d, c->in + pos, n, &used, out);
		assert_true(ret >= 0);
		assert_true(used <= n);
		assert_true(out->len - before <= n + 1);
		if (ret == 0)
			assert_true(used == n);
		pos += used;
	}
	if (ret == 1) {
		/* once done, nothing more is consumed */
		assert_int_equal(d.state, SMTP_DATA_DONE);
		assert_int_equal(smtp_data_feed(&d, c->in + pos, len - pos,
						&used, out), 1);
		assert_true(used == 0);
	}
	assert_true(d.octets == pos);
	assert_int_equal(smtp_data_finish(&d, out), 1);
	*too_long_r = d.line_too_long;
	*consumed_r = pos;
	return ret;
}

static void check_result(const struct data_case *c, int ret,
			 const struct buf *out, bool too_long,
			 size_t consumed, const char *how, size_t at)
{
	size_t len = case_in_len(c);
	size_t out_len = c->out_len != 0 || c->out == NULL ? c->out_len :
		strlen(c->out);

	if (ret != c->ret || consumed != len - strlen(c->rest) ||
	    too_long != c->too_long)
		fail_msg("\"%s\" %s %zu: ret %d consumed %zu too_long %d",
			 c->in, how, at, ret, consumed, too_long);
	if (c->out != NULL && (out->len != out_len ||
			       memcmp(buf_cstr(out), c->out, out_len) != 0))
		fail_msg("\"%s\" %s %zu: output \"%s\"", c->in, how, at,
			 buf_cstr(out));
}

static void run_case(const struct data_case *c)
{
	size_t len = case_in_len(c), ends[512], consumed, i;
	struct buf out;
	bool too_long;
	int ret;

	assert_true(len < sizeof(ends) / sizeof(ends[0]));
	buf_init(&out, 0);
	/* whole */
	ends[0] = len;
	ret = feed_pieces(c, ends, 1, &out, &too_long, &consumed);
	check_result(c, ret, &out, too_long, consumed, "whole", 0);
	/* byte by byte */
	for (i = 0; i < len; i++)
		ends[i] = i + 1;
	buf_reset(&out);
	ret = feed_pieces(c, ends, len, &out, &too_long, &consumed);
	check_result(c, ret, &out, too_long, consumed, "bytes", 0);
	/* split at every offset */
	for (i = 0; i <= len; i++) {
		ends[0] = i;
		ends[1] = len;
		buf_reset(&out);
		ret = feed_pieces(c, ends, 2, &out, &too_long, &consumed);
		check_result(c, ret, &out, too_long, consumed, "split", i);
	}
	buf_deinit(&out);
}

static void test_cases(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

static void test_long_lines(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(long_cases) / sizeof(long_cases[0]); i++)
		run_case(&long_cases[i]);
}

/* A 998-octet line is fine, 999 is not; the flag stays set. */
static void test_default_line_limit(void **state)
{
	char in[1100];
	struct smtp_data d;
	struct buf out;
	size_t used;

	buf_init(&out, 0);
	memset(in, 'x', 998);
	memcpy(in + 998, "\r\n", 2);
	smtp_data_init(&d, true, 998);
	assert_int_equal(smtp_data_feed(&d, in, 1000, &used, &out), 0);
	assert_false(d.line_too_long);
	memset(in, 'x', 999);
	memcpy(in + 999, "\r\n", 2);
	assert_int_equal(smtp_data_feed(&d, in, 1001, &used, &out), 0);
	assert_true(d.line_too_long);
	assert_int_equal(smtp_data_feed(&d, "ok\r\n.\r\n", 7, &used, &out), 1);
	assert_true(d.line_too_long);
	assert_true(d.octets == 2008);
	assert_int_equal(out.len, 998 + 1 + 999 + 1 + 3);
	buf_deinit(&out);
}

/* A CR held at the end of one call comes out with the next: n + 1. */
static void test_held_cr(void **state)
{
	struct smtp_data d;
	struct buf out;
	size_t used;

	buf_init(&out, 0);
	smtp_data_init(&d, false, 998);
	assert_int_equal(smtp_data_feed(&d, "a\r", 2, &used, &out), 0);
	assert_int_equal(used, 2);
	assert_int_equal(out.len, 1);
	assert_int_equal(smtp_data_feed(&d, "b", 1, &used, &out), 0);
	assert_int_equal(out.len, 3);
	assert_string_equal(buf_cstr(&out), "a\nb");
	assert_int_equal(smtp_data_feed(&d, "\r", 1, &used, &out), 0);
	assert_int_equal(smtp_data_finish(&d, &out), 1);
	assert_string_equal(buf_cstr(&out), "a\nb\n");
	/* finish twice is harmless */
	assert_int_equal(smtp_data_finish(&d, &out), 1);
	assert_string_equal(buf_cstr(&out), "a\nb\n");
	buf_deinit(&out);
}

/* A chunk boundary inside CRLF must not leave a CR behind. */
static void test_bdat_chunks(void **state)
{
	static const char *chunks[] = { "line one\r", "\nline two\r",
					"\n.\r", "\n" };
	struct smtp_data d;
	struct buf out;
	size_t used, i;

	buf_init(&out, 0);
	smtp_data_init(&d, false, 998);
	for (i = 0; i < 4; i++) {
		assert_int_equal(smtp_data_feed(&d, chunks[i], strlen(chunks[i]),
						&used, &out), 0);
		assert_int_equal(used, strlen(chunks[i]));
	}
	assert_int_equal(smtp_data_finish(&d, &out), 1);
	assert_string_equal(buf_cstr(&out), "line one\nline two\n.\n");
	assert_true(d.octets == 23);
	buf_deinit(&out);
}

/* When out refuses to grow the state stays usable. */
static void test_out_full(void **state)
{
	static const char in[] = "abcdef\r\n..x\r\n.\r\nQUIT";
	size_t len = sizeof(in) - 1, pos = 0, used, rounds = 0;
	struct smtp_data d;
	struct buf out;
	int ret = 0;

	buf_init(&out, 2);
	smtp_data_init(&d, true, 998);
	while (ret != 1) {
		ret = smtp_data_feed(&d, in + pos, len - pos, &used, &out);
		pos += used;
		if (ret < 0)
			out.max += 2;
		assert_true(++rounds < 100);
	}
	assert_true(rounds > 3);
	assert_string_equal(buf_cstr(&out), "abcdef\n.x\n");
	assert_int_equal(pos, len - 4);
	assert_true(d.octets == pos);
	buf_deinit(&out);
}

/* ---- smtp_data_out: the stored text on the relay's wire ---- */

struct out_case {
	const char *in;
	bool dots;
	const char *wire;
};

static const struct out_case out_cases[] = {
	{ "", true, ".\r\n" },
	{ "", false, "" },
	{ "a\n", true, "a\r\n.\r\n" },
	{ "a", true, "a\r\n.\r\n" },
	{ "a", false, "a" },
	{ ".\n..x\nx.\n", true, "..\r\n...x\r\nx.\r\n.\r\n" },
	{ ".\n..x\n", false, ".\r\n..x\r\n" },
	{ "a\n\nb\n", true, "a\r\n\r\nb\r\n.\r\n" },
	/* CRLF, bare CR, bare LF in the store: each one CRLF on the wire */
	{ "a\r\nb\n", true, "a\r\nb\r\n.\r\n" },
	{ "line1\r.\r\nMAIL FROM:<x@y>\n", true,
	  "line1\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n" },
	{ "line1\r.\r\nMAIL FROM:<x@y>\n", false,
	  "line1\r\n.\r\nMAIL FROM:<x@y>\r\n" },
	{ "a\r\rb", true, "a\r\n\r\nb\r\n.\r\n" },
	{ "a\n\r\n", false, "a\r\n\r\n" },
	{ "a\r", true, "a\r\n.\r\n" },
	{ "a\r", false, "a\r\n" },
	{ "\r\n.", true, "\r\n..\r\n.\r\n" },
};

static void out_check(const struct out_case *c, const size_t *ends, size_t count,
		      const char *how, size_t at)
{
	struct smtp_data_out o, counted;
	struct buf wire;
	size_t pos = 0;

	buf_init(&wire, 0);
	smtp_data_out_init(&o, c->dots);
	smtp_data_out_init(&counted, c->dots);
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(smtp_data_out_feed(&o, c->in + pos, ends[i] - pos, &wire), 1);
		assert_int_equal(smtp_data_out_feed(&counted, c->in + pos, ends[i] - pos,
						    NULL), 1);
		pos = ends[i];
	}
	assert_int_equal(smtp_data_out_finish(&o, &wire), 1);
	assert_int_equal(smtp_data_out_finish(&counted, NULL), 1);
	if (strcmp(buf_cstr(&wire), c->wire) != 0 || o.octets != wire.len ||
	    counted.octets != wire.len)
		fail_msg("out \"%s\" %s %zu: \"%s\"", c->in, how, at, buf_cstr(&wire));
	buf_deinit(&wire);
}

static void test_out_cases(void **state)
{
	size_t ends[64];

	for (size_t k = 0; k < sizeof(out_cases) / sizeof(out_cases[0]); k++) {
		const struct out_case *c = &out_cases[k];
		size_t len = strlen(c->in), i;

		assert_true(len < 64);
		ends[0] = len;
		out_check(c, ends, 1, "whole", 0);
		for (i = 0; i < len; i++)
			ends[i] = i + 1;
		out_check(c, ends, len, "bytes", 0);
		for (i = 0; i <= len; i++) {
			ends[0] = i;
			ends[1] = len;
			out_check(c, ends, 2, "split", i);
		}
	}
}

/* What a smuggling client sends arrives at the next hop as one message of
   CRLF lines: received, stored, relayed, received again. */
static void test_smuggling_round_trip(void **state)
{
	static const char *variants[] = { "\r.\r\n", "\n.\n", "\r\n.\n", "\n.\r\n", "\r.\n" };

	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		struct buf wire, stored, next;
		struct smtp_data d;
		struct smtp_data_out o;
		size_t used;

		buf_init(&wire, 0);
		buf_init(&stored, 0);
		buf_init(&next, 0);
		buf_printf(&wire, "line1%sMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n"
			   "forged\r\n.\r\n", variants[v]);
		smtp_data_init(&d, true, 998);
		assert_int_equal(smtp_data_feed(&d, wire.data, wire.len, &used, &stored), 1);
		assert_true(used == wire.len);
		assert_null(memchr(stored.data, '\r', stored.len));
		buf_reset(&wire);
		smtp_data_out_init(&o, true);
		assert_int_equal(smtp_data_out_feed(&o, stored.data, stored.len, &wire), 1);
		assert_int_equal(smtp_data_out_finish(&o, &wire), 1);
		/* the next hop ends the data only at the very end */
		assert_non_null(strstr(buf_cstr(&wire), "\r\n.\r\n"));
		assert_true(strstr(buf_cstr(&wire), "\r\n.\r\n") ==
			    buf_cstr(&wire) + wire.len - 5);
		smtp_data_init(&d, true, 998);
		assert_int_equal(smtp_data_feed(&d, wire.data, wire.len, &used, &next), 1);
		assert_true(used == wire.len);
		assert_string_equal(buf_cstr(&next), buf_cstr(&stored));
		buf_deinit(&wire);
		buf_deinit(&stored);
		buf_deinit(&next);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_default_line_limit),
		cmocka_unit_test(test_held_cr),
		cmocka_unit_test(test_bdat_chunks),
		cmocka_unit_test(test_out_full),
		cmocka_unit_test(test_out_cases),
		cmocka_unit_test(test_smuggling_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
