/*
 * test_smtp_reply.c - one-line and multi-line replies, enhanced codes,
 * EHLO keywords, malformed lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib-smtp/smtp_reply.h"

static int feed(struct smtp_reply *r, const char *line)
{
	return smtp_reply_line(r, line, strlen(line));
}

static void test_single(void **state)
{
	struct smtp_reply r;
	char sum[100];

	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "250 2.1.0 Ok"), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.enhanced, "2.1.0");
	smtp_reply_summary(&r, sum, sizeof(sum));
	assert_string_equal(sum, "250 2.1.0 Ok");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "354"), 1);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.enhanced, "");
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "550 5.1.1. not enhanced"), 1);
	assert_string_equal(r.enhanced, "");
	smtp_reply_deinit(&r);
}

static void test_ehlo(void **state)
{
	struct smtp_reply r;
	const char *param;

	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "250-mx.example.net Hello"), 0);
	assert_int_equal(feed(&r, "250-PIPELINING"), 0);
	assert_int_equal(feed(&r, "250-SIZE 10240000"), 0);
	assert_int_equal(feed(&r, "250-AUTH=PLAIN LOGIN"), 0);
	assert_int_equal(feed(&r, "250 8BITMIME"), 1);
	assert_true(smtp_reply_has_keyword(&r, "pipelining", NULL));
	assert_true(smtp_reply_has_keyword(&r, "SIZE", &param));
	assert_string_equal(param, "10240000\nAUTH=PLAIN LOGIN\n8BITMIME");
	assert_true(smtp_reply_has_keyword(&r, "8BITMIME", NULL));
	assert_true(smtp_reply_has_keyword(&r, "AUTH", NULL));
	assert_false(smtp_reply_has_keyword(&r, "CHUNKING", NULL));
	assert_false(smtp_reply_has_keyword(&r, "mx.example.net", NULL));
	assert_false(smtp_reply_has_keyword(&r, "8BIT", NULL));
	smtp_reply_deinit(&r);
}

static void test_malformed(void **state)
{
	static const char *bad[] = { "", "25", "abc", "250x", "650 no", "199 no", "2500" };
	struct smtp_reply r;

	smtp_reply_init(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_reset(&r);
		assert_int_equal(feed(&r, bad[i]), -1);
	}
	smtp_reply_reset(&r);
	assert_int_equal(feed(&r, "250-a"), 0);
	assert_int_equal(feed(&r, "251 b"), -1);	/* the code changed */
	smtp_reply_reset(&r);
	for (int i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		assert_int_equal(feed(&r, "250-x"), 0);
	assert_int_equal(feed(&r, "250 x"), -1);	/* too many lines */
	smtp_reply_deinit(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
