/*
 * test_xtext.c - RFC 3461 xtext: decoding (strict about syntax, liberal
 * about hex case), encoding, and round trips over every byte value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"

struct decode_case {
	const char *in;
	int ret;
	const char *out;
};

static const struct decode_case decode_cases[] = {
	{ "", 1, "" },
	{ "user@example.org", 1, "user@example.org" },
	{ "a+2Bb@x", 1, "a+b@x" },
	{ "a+3Db", 1, "a=b" },
	{ "+20lead", 1, " lead" },
	{ "trail+20", 1, "trail " },
	{ "+2b+3d", 1, "+=" },
	{ "+C3+A9", 1, "\xc3\xa9" },
	{ "a=b", 1, "a=b" },		/* "=" is not xchar, but harmless */
	{ "!~", 1, "!~" },
	{ "a+2", -1, NULL },
	{ "a+", -1, NULL },
	{ "a+G0", -1, NULL },
	{ "a+0G", -1, NULL },
	{ "a b", -1, NULL },
	{ "a\tb", -1, NULL },
	{ "caf\xc3\xa9", -1, NULL },
	{ "\x7f", -1, NULL },
};

static void test_decode(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];

		buf_reset(&out);
		buf_puts(&out, "<");
		assert_int_equal(xtext_decode(c->in, strlen(c->in), &out), c->ret);
		assert_int_equal(xtext_valid(c->in, strlen(c->in)), c->ret > 0);
		if (c->ret > 0) {
			assert_int_equal(out.len, 1 + strlen(c->out));
			assert_memory_equal(out.data + 1, c->out, strlen(c->out));
		} else {
			assert_string_equal(buf_cstr(&out), "<");
		}
	}
	buf_deinit(&out);
}

static void test_decode_nul(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(xtext_decode("a+00b", 5, &out), 1);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "a\0b", 3);
	/* the length given is the length used */
	buf_reset(&out);
	assert_int_equal(xtext_decode("ab+2B", 3, &out), -1);
	assert_int_equal(xtext_decode("ab+2B", 2, &out), 1);
	assert_string_equal(buf_cstr(&out), "ab");
	buf_deinit(&out);
}

static void test_encode(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(xtext_encode("a+b=c d@x", 9, &out), 1);
	assert_string_equal(buf_cstr(&out), "a+2Bb+3Dc+20d@x");
	buf_reset(&out);
	assert_int_equal(xtext_encode("\xc3\xa9\x01\x7f~!", 6, &out), 1);
	assert_string_equal(buf_cstr(&out), "+C3+A9+01+7F~!");
	buf_deinit(&out);
}

static void test_full(void **state)
{
	struct buf out;

	buf_init(&out, 6);
	buf_puts(&out, "ab");
	assert_int_equal(xtext_encode("c d", 3, &out), -1);
	assert_string_equal(buf_cstr(&out), "ab");
	assert_int_equal(xtext_decode("cdefg", 5, &out), -1);
	assert_string_equal(buf_cstr(&out), "ab");
	assert_int_equal(xtext_decode("c+20d", 5, &out), 1);
	assert_string_equal(buf_cstr(&out), "abc d");
	buf_deinit(&out);
}

static void test_round_trip(void **state)
{
	char all[256];
	struct buf enc, dec;

	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	buf_init(&enc, 0);
	buf_init(&dec, 0);
	assert_int_equal(xtext_encode(all, sizeof(all), &enc), 1);
	assert_true(xtext_valid(enc.data, enc.len));
	for (size_t i = 0; i < enc.len; i++)
		assert_true(enc.data[i] >= 33 && enc.data[i] <= 126 && enc.data[i] != '=');
	assert_int_equal(xtext_decode(enc.data, enc.len, &dec), 1);
	assert_int_equal(dec.len, sizeof(all));
	assert_memory_equal(dec.data, all, sizeof(all));
	buf_deinit(&enc);
	buf_deinit(&dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_nul),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
