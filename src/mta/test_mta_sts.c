/*
 * test_mta_sts.c - the MTA-STS parsers: TXT records, policies (LF and
 * CRLF, fed whole and cut at every length), mx patterns, HTTP answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "mta/mta_sts.h"

static void test_txt(void **state)
{
	static const struct { const char *txt; int ret; const char *id; } cases[] = {
		{ "v=STSv1; id=20160831085700Z;", 1, "20160831085700Z" },
		{ "v=STSv1;id=abc", 1, "abc" },
		{ "v=STSv1 ; id=1 ; ext=value;", 1, "1" },
		{ "v=STSv1; ext=x; id=A1", 1, "A1" },
		{ "v=STSv1; id=first; id=second", 1, "first" },
		{ "v=spf1 -all", 0, NULL },
		{ "v=STSv10; id=1", 0, NULL },
		{ "", 0, NULL },
		{ "v=STSv1", -1, NULL },
		{ "v=STSv1;", -1, NULL },
		{ "v=STSv1; id=", -1, NULL },
		{ "v=STSv1; id=has-dash", -1, NULL },
		{ "v=STSv1; id=x y", -1, NULL },
		{ "v=STSv1; id=123456789012345678901234567890123", -1, NULL },
		{ "v=STSv1 id=1", -1, NULL },
		{ "v=STSv1; noequals", -1, NULL },
	};
	char id[33];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = mta_sts_txt_parse(cases[i].txt, id, sizeof(id));
		if (ret != cases[i].ret)
			fail_msg("%s: %d, expected %d", cases[i].txt, ret, cases[i].ret);
		if (ret == 1)
			assert_string_equal(id, cases[i].id);
	}
}

static const char policy_rfc[] =
	"version: STSv1\n"
	"mode: enforce\n"
	"mx: mail.example.com\n"
	"mx: *.example.net\n"
	"mx: backupmx.example.com\n"
	"max_age: 604800\n";

static void test_policy(void **state)
{
	struct mta_sts_policy p;
	const char *error = NULL;

	assert_int_equal(mta_sts_policy_parse(policy_rfc, strlen(policy_rfc), &p, &error), 1);
	assert_int_equal(p.mode, MTA_STS_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.n_mx, 3);
	assert_string_equal(mta_sts_mx_next(&p, mta_sts_mx_next(&p, NULL)), "*.example.net");
	assert_true(mta_sts_mx_match(&p, "mail.example.com"));
	assert_true(mta_sts_mx_match(&p, "MAIL.Example.COM."));
	assert_true(mta_sts_mx_match(&p, "mx1.example.net"));
	assert_false(mta_sts_mx_match(&p, "a.b.example.net"));
	assert_false(mta_sts_mx_match(&p, "example.net"));
	assert_false(mta_sts_mx_match(&p, "xexample.net"));
	assert_false(mta_sts_mx_match(&p, "mail.example.com.evil.test"));
	assert_false(mta_sts_mx_match(&p, "other.example.com"));
}

/* The same policy with CRLF, spaces, unknown fields and repeated ones. */
static void test_policy_variants(void **state)
{
	static const char text[] =
		"version: STSv1\r\n"
		"mode:testing   \r\n"
		"mode: enforce\r\n"
		"ext_field: whatever: value\r\n"
		"\r\n"
		"mx:   MX.Example.ORG\r\n"
		"max_age: 99999999999\r\n";
	struct mta_sts_policy p;
	const char *error = NULL;

	assert_int_equal(mta_sts_policy_parse(text, strlen(text), &p, &error), -1);
	assert_string_equal(error, "bad max_age");	/* 11 digits */
	assert_int_equal(mta_sts_policy_parse(text, strlen(text) - 7, &p, &error), 1);
	assert_int_equal(p.mode, MTA_STS_TESTING);	/* the first mode */
	assert_string_equal(mta_sts_mx_next(&p, NULL), "mx.example.org");
	assert_int_equal(p.max_age, 999999);
	{
		static const char big[] = "version: STSv1\nmode: none\nmax_age: 9999999999";
		assert_int_equal(mta_sts_policy_parse(big, strlen(big), &p, &error), 1);
		assert_int_equal(p.max_age, MTA_STS_MAX_AGE);
		assert_int_equal(p.mode, MTA_STS_NONE);
		assert_int_equal(p.n_mx, 0);
	}
}

static void test_policy_errors(void **state)
{
	static const struct { const char *text; const char *error; } cases[] = {
		{ "mode: enforce\nmx: a.test\nmax_age: 1\n", "no version" },
		{ "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "version is not STSv1" },
		{ "version: STSv1\nmx: a.test\nmax_age: 1\n", "no mode" },
		{ "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n", "unknown mode" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\n", "no max_age" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n", "bad max_age" },
		{ "version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx" },
		{ "version: STSv1\nmode: testing\nmx: a..test\nmax_age: 1\n", "bad mx pattern" },
		{ "version: STSv1\nmode: testing\nmx: *.*.test\nmax_age: 1\n", "bad mx pattern" },
		{ "version: STSv1\nmode: testing\nmx: -a.test\nmax_age: 1\n", "bad mx pattern" },
		{ "version: STSv1\nmode: testing\nmx: a_b.test\nmax_age: 1\n", "bad mx pattern" },
		{ "Version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\n", "no version" },
	};
	struct mta_sts_policy p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *error = NULL;
		if (mta_sts_policy_parse(cases[i].text, strlen(cases[i].text), &p, &error) != -1)
			fail_msg("accepted: %s", cases[i].text);
		assert_string_equal(error, cases[i].error);
	}
}

/* Cut at every length: a prefix is either refused or parses to a
   policy whose fields come from the text. */
static void test_policy_prefixes(void **state)
{
	size_t len = strlen(policy_rfc);

	for (size_t n = 0; n <= len; n++) {
		struct mta_sts_policy p;
		const char *error = NULL;
		int ret = mta_sts_policy_parse(policy_rfc, n, &p, &error);
		if (ret == 1) {
			assert_int_equal(p.mode, MTA_STS_ENFORCE);
			assert_true(p.n_mx >= 1 && p.n_mx <= 3);
			assert_true(n >= len - 6);	/* "max_age: 6" at least */
		} else {
			assert_non_null(error);
		}
	}
}

static void test_policy_nul(void **state)
{
	static const char text[] = "version: STSv1\nmode: none\0\nmax_age: 5\n";
	struct mta_sts_policy p;
	const char *error = NULL;

	assert_int_equal(mta_sts_policy_parse(text, sizeof(text) - 1, &p, &error), -1);
}

/* More mx lines than a few: a mail exchanger named on the 40th line of
   an enforced policy matches (it used to be dropped past the 16th, and
   enforce then refused the domain's own mail exchanger); 10,000 lines
   parse, the patterns kept bounded. */
static void test_policy_many_mx(void **state)
{
	struct mta_sts_policy p;
	const char *error = NULL;
	struct buf t;
	unsigned n = 0;

	buf_init(&t, 0);
	buf_puts(&t, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
	for (unsigned i = 0; i < 40; i++)
		buf_printf(&t, "mx: mx%u.example.net\n", i);
	assert_int_equal(mta_sts_policy_parse(t.data, t.len, &p, &error), 1);
	assert_int_equal(p.n_mx, 40);
	assert_true(mta_sts_mx_match(&p, "mx39.example.net"));
	assert_true(mta_sts_mx_match(&p, "mx0.example.net"));
	assert_false(mta_sts_mx_match(&p, "mx40.example.net"));
	for (const char *m = mta_sts_mx_next(&p, NULL); m != NULL; m = mta_sts_mx_next(&p, m))
		n++;
	assert_int_equal(n, 40);
	buf_reset(&t);
	buf_puts(&t, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
	for (unsigned i = 0; i < 10000; i++)
		buf_puts(&t, "mx: a\n");
	assert_int_equal(mta_sts_policy_parse(t.data, t.len, &p, &error), 1);
	assert_true(p.n_mx >= 1 && p.n_mx * 2 <= sizeof(p.mx));
	assert_true(mta_sts_mx_match(&p, "a"));
	buf_deinit(&t);
	(void)state;
}

static void test_http(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: text/plain; "
				 "charset=utf-8\r\nContent-Length: 5\r\n\r\nhello";
	static const char nolen[] = "HTTP/1.0 200 OK\ncontent-type: TEXT/PLAIN\n\nbody\n";
	static const char *bad[] = {
		"HTTP/1.1 301 Moved\r\nLocation: https://x/\r\nContent-Type: text/plain\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plainx\r\n\r\nx",
		"HTTP/1.1 200 OK\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: x\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
		"HTTP/1.1 2000 OK\r\nContent-Type: text/plain\r\n\r\n",
		"SMTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
		"",
	};
	const char *body, *error;
	size_t len;

	assert_int_equal(mta_sts_http_parse(ok, strlen(ok), &body, &len, &error), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(body, "hello", 5);
	assert_int_equal(mta_sts_http_parse(nolen, strlen(nolen), &body, &len, &error), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(body, "body\n", 5);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mta_sts_http_parse(bad[i], strlen(bad[i]), &body, &len, &error) != -1)
			fail_msg("accepted: %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_variants),
		cmocka_unit_test(test_policy_errors),
		cmocka_unit_test(test_policy_prefixes),
		cmocka_unit_test(test_policy_nul),
		cmocka_unit_test(test_policy_many_mx),
		cmocka_unit_test(test_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
