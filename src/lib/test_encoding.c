/*
 * test_encoding.c - hex digits and base64 (RFC 4648 §10 test vectors,
 * padding and canonical-bit rules, base64url), table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/encoding.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_hex_value(void **state)
{
	static const struct {
		unsigned char c;
		int want;
	} cases[] = {
		{ '0', 0 }, { '9', 9 }, { 'A', 10 }, { 'F', 15 }, { 'a', 10 },
		{ 'f', 15 }, { 'G', -1 }, { 'g', -1 }, { '/', -1 }, { ':', -1 },
		{ '@', -1 }, { '`', -1 }, { ' ', -1 }, { 0, -1 }, { 0xc1, -1 },
		{ 0xff, -1 },
	};

	for (size_t i = 0; i < N(cases); i++)
		assert_int_equal(hex_value(cases[i].c), cases[i].want);
	for (unsigned c = 0; c < 256; c++)
		assert_true(hex_value((unsigned char)c) >= -1 && hex_value((unsigned char)c) <= 15);
}

static void test_hex_encode(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(bytes) + 1];

	memset(out, 'x', sizeof(out));
	hex_encode(bytes, sizeof(bytes), out);
	assert_string_equal(out, "00017f80abff");
	hex_encode(bytes, 0, out);
	assert_string_equal(out, "");
}

static void test_hex_encode_upper(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(bytes) + 1];

	memset(out, 'x', sizeof(out));
	hex_encode_upper(bytes, sizeof(bytes), out);
	assert_string_equal(out, "00017F80ABFF");
	hex_encode_upper(bytes, 0, out);
	assert_string_equal(out, "");
}

static void test_hex_encode_buf(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	unsigned char big[300];
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, "G");
	assert_int_equal(hex_encode_buf(bytes, sizeof(bytes), &b), 1);
	assert_string_equal(buf_cstr(&b), "G00017f80abff");
	assert_int_equal(hex_encode_buf(bytes, 0, &b), 1);
	assert_string_equal(buf_cstr(&b), "G00017f80abff");
	/* longer than any one growth of the buffer */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)i;
	buf_reset(&b);
	assert_int_equal(hex_encode_buf(big, sizeof(big), &b), 1);
	assert_int_equal(b.len, 2 * sizeof(big));
	assert_memory_equal(b.data + 2 * 0xfe, "feff0001", 8);
	buf_deinit(&b);
	/* a full buffer keeps what it had */
	buf_init(&b, 5);
	buf_puts(&b, "ab");
	assert_int_equal(hex_encode_buf(bytes, 2, &b), -1);
	assert_string_equal(buf_cstr(&b), "ab");
	assert_int_equal(hex_encode_buf(bytes + 5, 1, &b), 1);
	assert_string_equal(buf_cstr(&b), "abff");
	buf_deinit(&b);
}

static void test_hex_escape(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(hex_escape('=', '=', &b), 1);
	assert_int_equal(hex_escape('+', '+', &b), 1);
	assert_int_equal(hex_escape(' ', '%', &b), 1);
	assert_int_equal(hex_escape(0x00, '=', &b), 1);
	assert_int_equal(hex_escape(0xff, '%', &b), 1);
	assert_int_equal(hex_escape(0xa9, '=', &b), 1);
	assert_string_equal(buf_cstr(&b), "=3D+2B%20=00%FF=A9");
	buf_deinit(&b);
	buf_init(&b, 4);
	buf_puts(&b, "ab");
	assert_int_equal(hex_escape('\n', '=', &b), -1);
	assert_string_equal(buf_cstr(&b), "ab");
	buf_deinit(&b);
}

static void test_hex_fingerprint(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x1a, 0xbc, 0xff };
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(hex_fingerprint(bytes, sizeof(bytes), &b), 1);
	assert_string_equal(buf_cstr(&b), "00:1A:BC:FF");
	buf_reset(&b);
	assert_int_equal(hex_fingerprint(bytes, 1, &b), 1);
	assert_string_equal(buf_cstr(&b), "00");
	buf_reset(&b);
	assert_int_equal(hex_fingerprint(bytes, 0, &b), 1);
	assert_string_equal(buf_cstr(&b), "");
	buf_deinit(&b);
	/* a full buffer keeps what it had */
	buf_init(&b, 10);
	buf_puts(&b, "x");
	assert_int_equal(hex_fingerprint(bytes, sizeof(bytes), &b), -1);
	assert_string_equal(buf_cstr(&b), "x");
	buf_deinit(&b);
}

static void test_hex_decode_u64(void **state)
{
	static const struct {
		const char *in;
		int want;
		uint64_t value;
	} cases[] = {
		{ "0", 1, 0 }, { "f", 1, 15 }, { "00000001", 1, 1 },
		{ "deadbeef", 1, 0xdeadbeef }, { "ffffffffffffffff", 1, UINT64_MAX },
		{ "0123456789abcdef", 1, 0x0123456789abcdefULL },
		{ "", -1, 0 },			/* no digits */
		{ "10000000000000000", -1, 0 },	/* 17 digits: past 64 bits */
		{ "DEADBEEF", -1, 0 },		/* one spelling: lower case */
		{ "12g4", -1, 0 }, { "12 4", -1, 0 }, { "-1", -1, 0 },
	};

	for (size_t i = 0; i < N(cases); i++) {
		uint64_t v = 42;
		assert_int_equal(hex_decode_u64(cases[i].in, strlen(cases[i].in), &v),
				 cases[i].want);
		if (cases[i].want > 0)
			assert_true(v == cases[i].value);
	}
	/* the length given, not the NUL, ends the digits */
	uint64_t v;
	assert_int_equal(hex_decode_u64("abcz", 3, &v), 1);
	assert_true(v == 0xabc);
}

static void test_base64_digit(void **state)
{
	static const struct {
		unsigned char c;
		char c63;
		int want;
	} cases[] = {
		{ 'A', '/', 0 }, { 'Z', '/', 25 }, { 'a', '/', 26 }, { 'z', '/', 51 },
		{ '0', '/', 52 }, { '9', '/', 61 }, { '+', '/', 62 }, { '/', '/', 63 },
		{ ',', '/', -1 }, { ',', ',', 63 }, { '/', ',', -1 }, { '=', '/', -1 },
		{ '-', '/', -1 }, { 0x80, '/', -1 },
	};

	for (size_t i = 0; i < N(cases); i++)
		assert_int_equal(base64_digit(cases[i].c, cases[i].c63), cases[i].want);
}

/* RFC 4648 §10, and bytes that use the last two digits */
static const struct {
	const char *raw;
	size_t n;
	const char *b64, *url;
} vectors[] = {
	{ "", 0, "", "" },
	{ "f", 1, "Zg==", "Zg" },
	{ "fo", 2, "Zm8=", "Zm8" },
	{ "foo", 3, "Zm9v", "Zm9v" },
	{ "foob", 4, "Zm9vYg==", "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy", "Zm9vYmFy" },
	{ "\xfb\xff\xbf", 3, "+/+/", "-_-_" },
	{ "\0user\0pass", 10, "AHVzZXIAcGFzcw==", "AHVzZXIAcGFzcw" },
};

static void test_base64_encode(void **state)
{
	for (size_t i = 0; i < N(vectors); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(base64_encode(vectors[i].raw, vectors[i].n, &b), 1);
		assert_string_equal(buf_cstr(&b), vectors[i].b64);
		buf_reset(&b);
		assert_int_equal(base64url_encode(vectors[i].raw, vectors[i].n, &b), 1);
		assert_string_equal(buf_cstr(&b), vectors[i].url);
		buf_deinit(&b);
	}
}

static void test_base64_decode(void **state)
{
	for (size_t i = 0; i < N(vectors); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(base64_decode(vectors[i].b64, strlen(vectors[i].b64), &b), 1);
		assert_int_equal(b.len, vectors[i].n);
		assert_memory_equal(b.data != NULL ? b.data : "", vectors[i].raw, vectors[i].n);
		buf_deinit(&b);
	}
}

static void test_base64_decode_refuses(void **state)
{
	static const char *const bad[] = {
		"Zg=",		/* not a multiple of 4 */
		"Zg",		/* padding missing */
		"Z===",		/* three pad characters */
		"Zh==",		/* leftover bits not zero */
		"Zm9=",		/* leftover bits not zero */
		"Zg==Zg==",	/* padding before the end */
		"Zm 9",		/* whitespace */
		"Zm9\n",	/* line break */
		"-_-_",		/* base64url digits */
		"Zm=v",		/* a digit after padding */
	};

	for (size_t i = 0; i < N(bad); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), &b), -1);
		buf_deinit(&b);
	}
}

/* a refused text leaves what the buffer held before */
static void test_base64_decode_keeps_buffer(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, "x");
	assert_int_equal(base64_decode("Zm9vZm9vZg=", 11, &b), -1);
	assert_string_equal(buf_cstr(&b), "x");
	assert_int_equal(base64url_decode("Zm9vZm9vZ", 9, &b), -1);
	assert_string_equal(buf_cstr(&b), "x");
	assert_int_equal(base64_decode_fws("Zm9v Zm9v Zh==", 14, &b), -1);
	assert_string_equal(buf_cstr(&b), "x");
	buf_deinit(&b);
	buf_init(&b, 4);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, &b), -1);
	assert_int_equal(b.len, 0);
	buf_deinit(&b);
}

/* DKIM's tags: folding white space anywhere, the strict rules otherwise */
static void test_base64_decode_fws(void **state)
{
	static const struct {
		const char *in;
		const char *want;	/* NULL: refused */
	} cases[] = {
		{ "Zm9vYmFy", "foobar" },
		{ "Zm9v\r\n\tYmFy", "foobar" },
		{ " Zm 9v Ym Fy ", "foobar" },
		{ "Zm9vYg\r\n =\t=", "foob" },
		{ "Zm9vYmE =", "fooba" },
		{ "Z\tg = =\r\n", "f" },
		{ "", "" },
		{ " \t\r\n", "" },
		{ "Zm9vYg=", NULL },		/* padding missing */
		{ "Zm9vYg", NULL },
		{ "Zh ==", NULL },		/* leftover bits not zero */
		{ "Zg== Zg==", NULL },		/* padding before the end */
		{ "Zm=v", NULL },		/* a digit after padding */
		{ "Z===", NULL },
		{ "-_-_", NULL },		/* base64url digits */
		{ "Zm9v;", NULL },		/* not white space */
		{ "Zm\v9v", NULL },		/* VT is no folding white space */
		{ "Zm\0" "9v", NULL },
	};

	for (size_t i = 0; i < N(cases); i++) {
		size_t len = strlen(cases[i].in);
		struct buf b;
		if (i == N(cases) - 1)
			len = 5;
		buf_init(&b, 0);
		if (cases[i].want == NULL) {
			assert_int_equal(base64_decode_fws(cases[i].in, len, &b), -1);
			assert_int_equal(b.len, 0);
		} else {
			assert_int_equal(base64_decode_fws(cases[i].in, len, &b), 1);
			assert_string_equal(buf_cstr(&b), cases[i].want);
		}
		buf_deinit(&b);
	}
	/* without white space it is base64_decode */
	for (size_t i = 0; i < N(vectors); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(base64_decode_fws(vectors[i].b64, strlen(vectors[i].b64), &b), 1);
		assert_int_equal(b.len, vectors[i].n);
		assert_memory_equal(b.data != NULL ? b.data : "", vectors[i].raw, vectors[i].n);
		buf_deinit(&b);
	}
}

static void test_base64url_decode(void **state)
{
	static const char *const bad[] = {
		"Z",		/* one digit carries no byte */
		"Zm9vY",
		"Zg==",		/* no padding in base64url */
		"Zm8=",
		"Zh",		/* leftover bits not zero */
		"Zm9",
		"+/+/",		/* base64 digits */
		"Zm 9v",	/* white space */
		"Zg\n",
	};

	for (size_t i = 0; i < N(vectors); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(base64url_decode(vectors[i].url, strlen(vectors[i].url), &b), 1);
		assert_int_equal(b.len, vectors[i].n);
		assert_memory_equal(b.data != NULL ? b.data : "", vectors[i].raw, vectors[i].n);
		buf_deinit(&b);
	}
	for (size_t i = 0; i < N(bad); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(base64url_decode(bad[i], strlen(bad[i]), &b), -1);
		buf_deinit(&b);
	}
	/* every byte string of up to 3 bytes comes back through both forms */
	for (unsigned v = 0; v < 1u << 24; v += 4099) {
		unsigned char raw[3] = { (unsigned char)(v >> 16), (unsigned char)(v >> 8),
					 (unsigned char)v };
		for (size_t n = 1; n <= 3; n++) {
			struct buf e, d;
			buf_init(&e, 0);
			buf_init(&d, 0);
			assert_int_equal(base64url_encode(raw, n, &e), 1);
			assert_int_equal(base64url_decode(e.data, e.len, &d), 1);
			assert_int_equal(d.len, n);
			assert_memory_equal(d.data, raw, n);
			buf_reset(&e);
			buf_reset(&d);
			assert_int_equal(base64_encode(raw, n, &e), 1);
			assert_int_equal(base64_decode(e.data, e.len, &d), 1);
			assert_int_equal(d.len, n);
			assert_memory_equal(d.data, raw, n);
			buf_deinit(&e);
			buf_deinit(&d);
		}
	}
}

static void test_base64_full_buffer(void **state)
{
	struct buf b;

	buf_init(&b, 4);
	assert_int_equal(base64_encode("foo", 3, &b), 1);
	assert_int_equal(base64_encode("foo", 3, &b), -1);
	buf_deinit(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_value),
		cmocka_unit_test(test_hex_encode),
		cmocka_unit_test(test_hex_encode_upper),
		cmocka_unit_test(test_hex_encode_buf),
		cmocka_unit_test(test_hex_escape),
		cmocka_unit_test(test_hex_fingerprint),
		cmocka_unit_test(test_hex_decode_u64),
		cmocka_unit_test(test_base64_digit),
		cmocka_unit_test(test_base64_encode),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_base64_decode_refuses),
		cmocka_unit_test(test_base64_decode_keeps_buffer),
		cmocka_unit_test(test_base64_decode_fws),
		cmocka_unit_test(test_base64url_decode),
		cmocka_unit_test(test_base64_full_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
