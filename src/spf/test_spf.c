/*
 * test_spf.c - SPF records (RFC 7208 §4.6, §5, §6) and the macro examples
 * of RFC 7208 §7.4, prefixes, and check_host() driven by a table standing
 * in for DNS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "spf/spf.h"

static void test_parse(void **state)
{
	struct spf_record r;
	const char *error;

	assert_int_equal(spf_record_parse("v=spf1 +a mx/24 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 "
					  "?include:_spf.example.com exists:%{i}.x.test "
					  "a:b.test/28//64 redirect=r.test exp=e.test foo=bar -all",
					  &r, &error), 1);
	assert_int_equal(r.n, 8);
	assert_int_equal(r.terms[0].mech, SPF_A);
	assert_int_equal(r.terms[0].qualifier, SPF_PASS);
	assert_int_equal(r.terms[1].mech, SPF_MX);
	assert_int_equal(r.terms[1].cidr4, 24);
	assert_int_equal(r.terms[2].qualifier, SPF_FAIL);
	assert_int_equal(r.terms[2].cidr4, 24);
	assert_int_equal(r.terms[3].mech, SPF_IP6);
	assert_int_equal(r.terms[3].cidr6, 32);
	assert_int_equal(r.terms[4].qualifier, SPF_NEUTRAL);
	assert_int_equal(r.terms[4].spec_len, strlen("_spf.example.com"));
	assert_int_equal(r.terms[6].cidr4, 28);
	assert_int_equal(r.terms[6].cidr6, 64);
	assert_int_equal(r.terms[6].spec_len, 6);
	assert_int_equal(r.terms[7].mech, SPF_ALL);
	assert_memory_equal(r.redirect, "r.test", r.redirect_len);

	assert_true(spf_is_record("v=spf1"));
	assert_true(spf_is_record("V=SPF1 -all"));
	assert_false(spf_is_record("v=spf10 -all"));
	assert_int_equal(spf_record_parse("v=spf1", &r, &error), 1);
	assert_int_equal(r.n, 0);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"v=spf1 ip4:300.1.1.1", "v=spf1 ip4:192.0.2.0/33", "v=spf1 ip6:::1/129",
		"v=spf1 frob", "v=spf1 include", "v=spf1 include:", "v=spf1 all:x",
		"v=spf1 a/33", "v=spf1 a//200", "v=spf1 redirect=a.test redirect=b.test",
		"v=spf1 exp=a exp=b", "v=spf1 exists:%{q}.test", "v=spf1 exists:%x",
		"v=spf1 a:%{d", "v=spf1 ptr/24", "spf1 -all",
	};
	struct spf_record r;
	const char *error = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (spf_record_parse(bad[i], &r, &error) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void check_macro(const struct spf_macro_ctx *c, const char *spec, const char *want)
{
	char out[300];
	const char *error;

	if (spf_macro_expand(spec, strlen(spec), c, out, sizeof(out), &error) != 1)
		fail_msg("%s: %s", spec, error);
	assert_string_equal(out, want);
}

static void test_macros(void **state)
{
	struct sockaddr_storage ip = { 0 }, ip6 = { 0 };
	struct spf_macro_ctx c = { "strong-bad@email.example.com", "email.example.com", &ip,
				   "mx.example.org" };

	ip.ss_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.3", &((struct sockaddr_in *)&ip)->sin_addr);
	/* RFC 7208 §7.4 */
	check_macro(&c, "%{s}", "strong-bad@email.example.com");
	check_macro(&c, "%{o}", "email.example.com");
	check_macro(&c, "%{d}", "email.example.com");
	check_macro(&c, "%{d4}", "email.example.com");
	check_macro(&c, "%{d3}", "email.example.com");
	check_macro(&c, "%{d2}", "example.com");
	check_macro(&c, "%{d1}", "com");
	check_macro(&c, "%{dr}", "com.example.email");
	check_macro(&c, "%{d2r}", "example.email");
	check_macro(&c, "%{l}", "strong-bad");
	check_macro(&c, "%{l-}", "strong.bad");
	check_macro(&c, "%{lr}", "strong-bad");
	check_macro(&c, "%{lr-}", "bad.strong");
	check_macro(&c, "%{l1r-}", "strong");
	check_macro(&c, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com");
	check_macro(&c, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com");
	check_macro(&c, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	check_macro(&c, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		    "3.2.0.192.in-addr.strong.lp._spf.example.com");
	check_macro(&c, "%{d2}.trusted-domains.example.net",
		    "example.com.trusted-domains.example.net");
	check_macro(&c, "%{h}.%%.%_x", "mx.example.org.%. x");
	ip6.ss_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::cb01", &((struct sockaddr_in6 *)&ip6)->sin6_addr);
	c.ip = &ip6;
	check_macro(&c, "%{ir}.%{v}._spf.%{d2}",
		    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf."
		    "example.com");
}

static void test_ip_match(void **state)
{
	struct sockaddr_storage ip = { 0 };
	unsigned char net[16];

	ip.ss_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.130", &((struct sockaddr_in *)&ip)->sin_addr);
	inet_pton(AF_INET, "192.0.2.128", net);
	assert_true(spf_ip_match(&ip, net, false, 25));
	assert_true(spf_ip_match(&ip, net, false, 0));
	assert_false(spf_ip_match(&ip, net, false, 32));
	assert_false(spf_ip_match(&ip, net, true, 0));	/* other family */
	inet_pton(AF_INET, "192.0.2.0", net);
	assert_false(spf_ip_match(&ip, net, false, 25));
	assert_true(spf_ip_match(&ip, net, false, 24));
}

/* ---- check_host with a table for DNS ---- */

struct fake {
	const char *name;
	enum dns_type type;
	const char *value;	/* TXT text, address, or MX name; NULL: temporary failure */
};

static const struct fake *zone;
static enum spf_result got;
static int done_calls;
static unsigned queries;

static void fake_query(void *ctx, struct spf_check *c, const char *name, enum dns_type type)
{
	struct dns_answer a;
	bool temp = false;

	memset(&a, 0, sizeof(a));
	queries++;
	for (const struct fake *f = zone; f->name != NULL; f++) {
		if (strcmp(f->name, name) != 0 || f->type != type)
			continue;
		if (f->value == NULL) {
			temp = true;
			break;
		}
		if (type == DNS_TXT)
			a.txt[a.n++] = (char *)f->value;
		else if (type == DNS_MX_NAMES)
			a.names[a.n++] = (char *)f->value;
		else {
			struct sockaddr_in *v4 = (struct sockaddr_in *)&a.addrs[a.n++];
			v4->sin_family = AF_INET;
			inet_pton(AF_INET, f->value, &v4->sin_addr);
		}
	}
	a.status = temp ? DNS_TEMPORARY : a.n > 0 ? DNS_OK : DNS_PERMANENT;
	spf_check_answer(c, &a);
}

static void fake_done(void *ctx, enum spf_result r, const char *detail)
{
	got = r;
	done_calls++;
}

static enum spf_result run_check(const struct fake *z, const char *domain)
{
	struct sockaddr_storage ip = { 0 };
	struct spf_check *c;

	ip.ss_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.10", &((struct sockaddr_in *)&ip)->sin_addr);
	zone = z;
	done_calls = 0;
	queries = 0;
	c = spf_check_new(&ip, domain, "user@example.test", "helo.test", fake_query, fake_done,
			  NULL);
	spf_check_start(c);
	spf_check_free(&c);
	assert_int_equal(done_calls, 1);
	return got;
}

static void test_check_host(void **state)
{
	static const struct fake z[] = {
		{ "pass.test", DNS_TXT, "v=spf1 a:h.pass.test -all" },
		{ "h.pass.test", DNS_A, "192.0.2.10" },
		{ "two.test", DNS_TXT, "v=spf1 -all" },
		{ "two.test", DNS_TXT, "v=spf1 +all" },
		{ "other.test", DNS_TXT, "something else" },
		{ "other.test", DNS_TXT, "v=spf1 ~all" },
		{ "mx.test", DNS_TXT, "v=spf1 mx -all" },
		{ "mx.test", DNS_MX_NAMES, "m1.mx.test" },
		{ "mx.test", DNS_MX_NAMES, "m2.mx.test" },
		{ "m2.mx.test", DNS_A, "192.0.2.10" },
		{ "temp.test", DNS_TXT, NULL },
		{ "inctemp.test", DNS_TXT, "v=spf1 include:temp.test -all" },
		{ "loop.test", DNS_TXT, "v=spf1 include:loop.test -all" },
		{ "red.test", DNS_TXT, "v=spf1 redirect=nothing.test" },
		{ NULL, DNS_TXT, NULL },
	};

	assert_int_equal(run_check(z, "pass.test"), SPF_PASS);
	assert_int_equal(run_check(z, "two.test"), SPF_PERMERROR);
	assert_int_equal(run_check(z, "other.test"), SPF_SOFTFAIL);
	assert_int_equal(run_check(z, "mx.test"), SPF_PASS);
	assert_int_equal(run_check(z, "temp.test"), SPF_TEMPERROR);
	assert_int_equal(run_check(z, "inctemp.test"), SPF_TEMPERROR);
	assert_int_equal(run_check(z, "loop.test"), SPF_PERMERROR);
	assert_true(queries <= 12);
	assert_int_equal(run_check(z, "red.test"), SPF_PERMERROR);
	assert_int_equal(run_check(z, "absent.test"), SPF_NONE);
	assert_int_equal(run_check(z, "nodot"), SPF_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_ip_match),
		cmocka_unit_test(test_check_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
