/*
 * test_tlsrpt_record.c - the _smtp._tls TXT record: versions, rua lists
 * with mailto: and https: URIs, %-encoding, bad syntax; each record also
 * cut at every length (a prefix never crashes nor yields a bad address).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mta/tlsrpt_record.h"

static void test_good(void **state)
{
	struct tlsrpt_rua r;

	assert_int_equal(tlsrpt_record_parse("v=TLSRPTv1; rua=mailto:reports@example.com", &r), 1);
	assert_int_equal(r.n_mailto, 1);
	assert_string_equal(r.mailto[0], "reports@example.com");
	assert_int_equal(tlsrpt_record_parse("v=TLSRPTv1;rua=mailto:a@x.test , "
					     "https://reports.test/v1,MAILTO:b%21c@y.test?subject=x;",
					     &r), 1);
	assert_int_equal(r.n_mailto, 2);
	assert_int_equal(r.n_other, 1);
	assert_string_equal(r.mailto[0], "a@x.test");
	assert_string_equal(r.mailto[1], "b!c@y.test");
	assert_int_equal(tlsrpt_record_parse("v=TLSRPTv1; ext=1; rua=https://r.test/", &r), 1);
	assert_int_equal(r.n_mailto, 0);
	assert_int_equal(r.n_other, 1);
}

static void test_not_tlsrpt(void **state)
{
	struct tlsrpt_rua r;

	assert_int_equal(tlsrpt_record_parse("v=spf1 -all", &r), 0);
	assert_int_equal(tlsrpt_record_parse("v=TLSRPTv10; rua=mailto:a@b.test", &r), 0);
	assert_int_equal(tlsrpt_record_parse("", &r), 0);
}

static void test_bad(void **state)
{
	static const char *bad[] = {
		"v=TLSRPTv1",
		"v=TLSRPTv1;",
		"v=TLSRPTv1; rua=",
		"v=TLSRPTv1; rua=mailto:a@b.test,",
		"v=TLSRPTv1; rua=mailto:nobody",
		"v=TLSRPTv1; rua=mailto:@b.test",
		"v=TLSRPTv1; rua=mailto:a@b.test%2",
		"v=TLSRPTv1; rua=mailto:a%3Cb@c.test",
		"v=TLSRPTv1; rua=not-a-uri",
		"v=TLSRPTv1 rua=mailto:a@b.test",
		"v=TLSRPTv1; =x; rua=mailto:a@b.test",
	};
	struct tlsrpt_rua r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tlsrpt_record_parse(bad[i], &r) != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void test_prefixes(void **state)
{
	static const char rec[] = "v=TLSRPTv1; rua=mailto:a%21b@x.test,https://r.test/";
	char cut[sizeof(rec)];
	struct tlsrpt_rua r;

	for (size_t n = 0; n < sizeof(rec); n++) {
		memcpy(cut, rec, n);
		cut[n] = '\0';
		if (tlsrpt_record_parse(cut, &r) == 1) {
			if (n < strlen("v=TLSRPTv1; rua=mailto:a%21b@x"))
				fail_msg("accepted: %s", cut);
			assert_true(n >= strlen("v=TLSRPTv1; rua=mailto:a%21b@x"));
			assert_int_equal(r.n_mailto, 1);
			assert_non_null(strchr(r.mailto[0], '@'));
		}
	}
	assert_int_equal(tlsrpt_record_parse(rec, &r), 1);
	assert_string_equal(r.mailto[0], "a!b@x.test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_not_tlsrpt),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
