/*
 * test_imap_date.c - date-time and date parsing (calendar rules, zones,
 * the day forms clients send) and INTERNALDATE writing, with round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_date.h"

struct dt_case {
	const char *in;
	int ret;
	int64_t t;
	int tz;
};

static const struct dt_case dt_cases[] = {
	{ "17-Jul-1996 02:44:25 -0700", 1, 837596665, -420 },
	{ " 1-Jan-2024 10:00:00 +0000", 1, 1704103200, 0 },
	{ "1-Jan-2024 10:00:00 +0000", 1, 1704103200, 0 },
	{ "01-jan-2024 10:00:00 +0000", 1, 1704103200, 0 },
	{ "01-JAN-2024 15:30:00 +0530", 1, 1704103200, 330 },
	{ "01-Jan-1970 00:00:00 +0000", 1, 0, 0 },
	{ "31-Dec-1969 23:59:59 +0000", 1, -1, 0 },
	{ "29-Feb-2000 00:00:00 +0000", 1, 951782400, 0 },
	{ "31-Dec-9999 23:59:59 +0000", 1, 253402300799, 0 },
	{ "01-Jan-0001 00:00:00 +0000", 1, -62135596800, 0 },
	{ "01-Jan-2024 10:00:00 -0000", 1, 1704103200, 0 },
	{ "31-Dec-2016 23:59:60 +0000", 1, 1483228800, 0 },
	{ "29-Feb-2023 00:00:00 +0000", -1, 0, 0 },
	{ "29-Feb-1900 00:00:00 +0000", -1, 0, 0 },
	{ "32-Jan-2024 10:00:00 +0000", -1, 0, 0 },
	{ "31-Apr-2024 10:00:00 +0000", -1, 0, 0 },
	{ "00-Jan-2024 10:00:00 +0000", -1, 0, 0 },
	{ "1-Foo-2024 10:00:00 +0000", -1, 0, 0 },
	{ "1-Jan-24 10:00:00 +0000", -1, 0, 0 },
	{ "1-Jan-20245 10:00:00 +0000", -1, 0, 0 },
	{ "1-Jan-2024 24:00:00 +0000", -1, 0, 0 },
	{ "1-Jan-2024 10:60:00 +0000", -1, 0, 0 },
	{ "1-Jan-2024 10:00:61 +0000", -1, 0, 0 },
	{ "1-Jan-2024 10:00:00 0000", -1, 0, 0 },
	{ "1-Jan-2024 10:00:00 +00000", -1, 0, 0 },
	{ "1-Jan-2024 10:00:00 +000", -1, 0, 0 },
	{ "1-Jan-2024 10:00:00 +0060", -1, 0, 0 },
	{ "1-Jan-2024 10:00:00 +2400", -1, 0, 0 },
	{ "1-Jan-2024  10:00:00 +0000", -1, 0, 0 },
	{ "1-Jan-2024 10:00 +0000", -1, 0, 0 },
	{ "1-Jan-2024 1:00:00 +0000", -1, 0, 0 },
	{ "1-Jan-2024", -1, 0, 0 },
	{ "  1-Jan-2024 10:00:00 +0000", -1, 0, 0 },
	{ "123-Jan-2024 10:00:00 +0000", -1, 0, 0 },
	{ "1-Jan-2024 10:00:00 +0000 ", -1, 0, 0 },
	{ "", -1, 0, 0 },
	{ "1-Ja", -1, 0, 0 },
};

static const struct dt_case date_cases[] = {
	{ "1-Feb-1994", 1, 760060800, 0 },
	{ "01-Feb-1994", 1, 760060800, 0 },
	{ "1-feb-1994", 1, 760060800, 0 },
	{ "29-Feb-2000", 1, 951782400, 0 },
	{ "29-Feb-2001", -1, 0, 0 },
	{ " 1-Feb-1994", -1, 0, 0 },
	{ "1-Feb-1994 ", -1, 0, 0 },
	{ "1-Feb-94", -1, 0, 0 },
	{ "001-Feb-1994", -1, 0, 0 },
	{ "1 Feb 1994", -1, 0, 0 },
	{ "1-Feb-1994 10:00:00 +0000", -1, 0, 0 },
	{ "", -1, 0, 0 },
};

static void test_date_time(void **state)
{
	size_t i;
	time_t t;
	int tz;

	for (i = 0; i < sizeof(dt_cases) / sizeof(dt_cases[0]); i++) {
		const struct dt_case *c = &dt_cases[i];
		int ret = imap_date_time_parse(c->in, &t, &tz);

		if (ret != c->ret)
			fail_msg("\"%s\": %d", c->in, ret);
		if (ret > 0 && ((int64_t)t != c->t || tz != c->tz))
			fail_msg("\"%s\": %lld %d", c->in, (long long)t, tz);
	}
}

static void test_date(void **state)
{
	size_t i;
	time_t t;

	for (i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
		const struct dt_case *c = &date_cases[i];
		int ret = imap_date_parse(c->in, &t);

		if (ret != c->ret)
			fail_msg("\"%s\": %d", c->in, ret);
		if (ret > 0 && (int64_t)t != c->t)
			fail_msg("\"%s\": %lld", c->in, (long long)t);
	}
}

static void test_write(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(imap_date_time_write(&out, 837596665, -420), 1);
	assert_string_equal(buf_cstr(&out), "17-Jul-1996 02:44:25 -0700");
	buf_reset(&out);
	assert_int_equal(imap_date_time_write(&out, 0, 0), 1);
	assert_string_equal(buf_cstr(&out), "01-Jan-1970 00:00:00 +0000");
	buf_reset(&out);
	assert_int_equal(imap_date_time_write(&out, 1704103200, 330), 1);
	assert_string_equal(buf_cstr(&out), "01-Jan-2024 15:30:00 +0530");
	buf_reset(&out);
	assert_int_equal(imap_date_time_write(&out, -1, 0), 1);
	assert_string_equal(buf_cstr(&out), "31-Dec-1969 23:59:59 +0000");
	buf_reset(&out);
	assert_int_equal(imap_date_time_write(&out, 1704067200, -1), 1);
	assert_string_equal(buf_cstr(&out), "31-Dec-2023 23:59:00 -0001");
	buf_reset(&out);
	assert_int_equal(imap_date_time_write(&out, 253402300799, 0), 1);
	assert_string_equal(buf_cstr(&out), "31-Dec-9999 23:59:59 +0000");
	buf_reset(&out);
	assert_int_equal(imap_date_time_write(&out, 253402300800, 0), -1);
	assert_int_equal(imap_date_time_write(&out, 253402300799, 60), -1);
	assert_int_equal(imap_date_time_write(&out, 0, 1440), -1);
	assert_int_equal(imap_date_time_write(&out, 0, -1440), -1);
	assert_int_equal(imap_date_time_write(&out, -62167219201, 0), -1);
	assert_int_equal(out.len, 0);
	buf_deinit(&out);
}

/* Written dates parse back to the same moment and zone. */
static void test_roundtrip(void **state)
{
	static const int zones[] = { 0, 60, -60, 330, -420, 845, 1439, -1439 };
	struct buf out;
	int64_t t;
	size_t z;
	time_t back;
	int tz;

	buf_init(&out, 0);
	for (t = -2208988800; t < 4102444800; t += 7776011) {
		for (z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
			buf_reset(&out);
			assert_int_equal(imap_date_time_write(&out, (time_t)t,
							      zones[z]), 1);
			assert_int_equal(out.len, 26);
			assert_int_equal(imap_date_time_parse(buf_cstr(&out),
							      &back, &tz), 1);
			assert_true((int64_t)back == t);
			assert_int_equal(tz, zones[z]);
		}
	}
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_time),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
