/*
 * test_dmarc.c - DMARC records (RFC 7489 §6.3), organizational domains
 * with a small list and with Debian's Public Suffix List, and alignment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc/dmarc.h"

static void test_records(void **state)
{
	struct dmarc_record r;
	const char *error;
	const char *t;

	t = "v=DMARC1; p=reject; sp=quarantine; pct=20; adkim=s; aspf=r; rua=mailto:a@b.test";
	assert_true(dmarc_is_record(t));
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &error), 1);
	assert_int_equal(r.p, DMARC_REJECT);
	assert_int_equal(r.sp, DMARC_QUARANTINE);
	assert_int_equal(r.pct, 20);
	assert_true(r.adkim_strict);
	assert_false(r.aspf_strict);

	t = "v=DMARC1;p=quarantine";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &error), 1);
	assert_int_equal(r.sp, DMARC_QUARANTINE);	/* sp defaults to p */
	assert_int_equal(r.pct, 100);

	t = "v=DMARC1; rua=mailto:x@y.test";	/* §6.6.3: p=none */
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &error), 1);
	assert_int_equal(r.p, DMARC_NONE);

	t = "v=DMARC1; p=bogus";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &error), -1);
	t = "p=reject; v=DMARC1";		/* v= must come first */
	assert_false(dmarc_is_record(t));
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &error), -1);
	t = "v=DMARC1";
	assert_int_equal(dmarc_record_parse(t, strlen(t), &r, &error), -1);
	assert_false(dmarc_is_record("v=spf1 -all"));
	assert_false(dmarc_is_record("v=DMARC10; p=none"));
}

static void check_org(const struct dmarc_psl *psl, const char *domain, const char *want)
{
	char out[256];

	assert_int_equal(dmarc_org_domain(psl, domain, out, sizeof(out)), 1);
	assert_string_equal(out, want);
}

static void test_small_list(void **state)
{
	const char list[] = "// comment\ncom\nuk\nco.uk\n*.kawasaki.jp\n!city.kawasaki.jp\n"
			    "jp\n\nbar.example.com  trailing words\n";
	struct dmarc_psl *psl = dmarc_psl_parse(list, sizeof(list) - 1);

	check_org(psl, "example.com", "example.com");
	check_org(psl, "a.b.example.com", "example.com");
	check_org(psl, "com", "com");
	check_org(psl, "x.example.co.uk", "example.co.uk");
	check_org(psl, "a.b.kawasaki.jp", "a.b.kawasaki.jp");	/* *.kawasaki.jp */
	check_org(psl, "www.city.kawasaki.jp", "city.kawasaki.jp");	/* exception */
	check_org(psl, "x.foo.bar.example.com", "foo.bar.example.com");
	check_org(psl, "mail.example.test", "example.test");	/* default rule "*" */
	assert_true(dmarc_aligned(psl, "mail.example.com", "example.com", false));
	assert_false(dmarc_aligned(psl, "mail.example.com", "example.com", true));
	assert_true(dmarc_aligned(psl, "Example.COM", "example.com", true));
	assert_false(dmarc_aligned(psl, "a.co.uk", "b.co.uk", false));
	dmarc_psl_free(&psl);
	assert_null(psl);
	check_org(NULL, "a.b.example.org", "example.org");
}

static void test_debian_list(void **state)
{
	const struct dmarc_psl *psl = dmarc_psl_default();

	if (psl == NULL)
		fail_msg("%s missing: install the publicsuffix package", DMARC_PSL_PATH);
	check_org(psl, "mail.example.co.uk", "example.co.uk");
	check_org(psl, "a.b.example.com", "example.com");
	check_org(psl, "user.github.io", "user.github.io");
	check_org(psl, "www.example.com.br", "example.com.br");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_small_list),
		cmocka_unit_test(test_debian_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
