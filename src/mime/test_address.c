/*
 * test_address.c - Mailbox syntax, lookup keys and tag stripping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"

struct parse_case {
	const char *in;
	bool utf8;
	int ret;
	const char *local;	/* expected when ret == 1 */
	const char *domain;
};

static const struct parse_case parse_cases[] = {
	/* dot-strings */
	{ "user@example.com", false, 1, "user", "example.com" },
	{ "First.Last@Example.COM", false, 1, "First.Last", "Example.COM" },
	{ "a!#$%&'*+-/=?^_`{|}~z@x.org", false, 1,
	  "a!#$%&'*+-/=?^_`{|}~z", "x.org" },
	{ "u@localhost", false, 1, "u", "localhost" },
	{ "u@my_host.example", false, 1, "u", "my_host.example" },
	{ "u@a-b.c-d.e", false, 1, "u", "a-b.c-d.e" },
	{ "u@123.example", false, 1, "u", "123.example" },
	{ ".user@x", false, -1, NULL, NULL },
	{ "user.@x", false, -1, NULL, NULL },
	{ "us..er@x", false, -1, NULL, NULL },
	{ "@x", false, -1, NULL, NULL },
	{ "us er@x", false, -1, NULL, NULL },
	{ "us(er@x", false, -1, NULL, NULL },
	{ "user", false, -1, NULL, NULL },
	{ "", false, -1, NULL, NULL },
	{ "user@", false, -1, NULL, NULL },
	{ "a@b@c", false, -1, NULL, NULL },
	{ "us\ter@x", false, -1, NULL, NULL },
	/* quoted local parts */
	{ "\"john doe\"@x.org", false, 1, "\"john doe\"", "x.org" },
	{ "\"a\\\"b\"@x", false, 1, "\"a\\\"b\"", "x" },
	{ "\"a\\\\b\"@x", false, 1, "\"a\\\\b\"", "x" },
	{ "\"a@b\"@x", false, 1, "\"a@b\"", "x" },
	{ "\"\"@x", false, 1, "\"\"", "x" },
	{ "\"plain\"@x", false, 1, "\"plain\"", "x" },
	{ "\"unterminated@x", false, -1, NULL, NULL },
	{ "\"a\"b@x", false, -1, NULL, NULL },
	{ "\"a\"", false, -1, NULL, NULL },
	{ "\"a\\\x01\"@x", false, -1, NULL, NULL },
	{ "\"a\tb\"@x", false, -1, NULL, NULL },
	{ "\"a\\", false, -1, NULL, NULL },
	/* domains */
	{ "u@-x.org", false, -1, NULL, NULL },
	{ "u@x-.org", false, -1, NULL, NULL },
	{ "u@x..org", false, -1, NULL, NULL },
	{ "u@.x.org", false, -1, NULL, NULL },
	{ "u@x.org.", false, -1, NULL, NULL },
	{ "u@x org", false, -1, NULL, NULL },
	{ "u@x!org", false, -1, NULL, NULL },
	/* address literals */
	{ "u@[192.0.2.1]", false, 1, "u", "[192.0.2.1]" },
	{ "u@[0.0.0.0]", false, 1, "u", "[0.0.0.0]" },
	{ "u@[255.255.255.255]", false, 1, "u", "[255.255.255.255]" },
	{ "u@[256.1.1.1]", false, -1, NULL, NULL },
	{ "u@[1.2.3]", false, -1, NULL, NULL },
	{ "u@[1.2.3.4.5]", false, -1, NULL, NULL },
	{ "u@[1.2.3.4.]", false, -1, NULL, NULL },
	{ "u@[1..3.4]", false, -1, NULL, NULL },
	{ "u@[1234.1.1.1]", false, -1, NULL, NULL },
	{ "u@[1.2.3.4", false, -1, NULL, NULL },
	{ "u@[]", false, -1, NULL, NULL },
	{ "u@[IPv6:2001:db8::1]", false, 1, "u", "[IPv6:2001:db8::1]" },
	{ "u@[ipv6:::1]", false, 1, "u", "[ipv6:::1]" },
	{ "u@[IPv6:::ffff:192.0.2.1]", false, 1, "u", "[IPv6:::ffff:192.0.2.1]" },
	{ "u@[IPv6:2001:db8::g]", false, -1, NULL, NULL },
	{ "u@[IPv6:1.2.3.4]", false, -1, NULL, NULL },
	{ "u@[IPv6:]", false, -1, NULL, NULL },
	{ "u@[IPv6:fe80::1%eth0]", false, -1, NULL, NULL },
	{ "u@[x-tag:some-text]", false, 1, "u", "[x-tag:some-text]" },
	{ "u@[tag:]", false, -1, NULL, NULL },
	{ "u@[tag:a]b]", false, -1, NULL, NULL },
	{ "u@[tag-:a]", false, -1, NULL, NULL },
	{ "u@[2001:db8::1]", false, -1, NULL, NULL },
	/* UTF-8 (RFC 6531) */
	{ "j\xc3\xb8rn@x.org", true, 1, "j\xc3\xb8rn", "x.org" },
	{ "j\xc3\xb8rn@x.org", false, -1, NULL, NULL },
	{ "u@b\xc3\xbc" "cher.example", true, 1, "u", "b\xc3\xbc" "cher.example" },
	{ "u@b\xc3\xbc" "cher.example", false, -1, NULL, NULL },
	{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
	  true, 1, "\xe7\x94\xa8\xe6\x88\xb7",
	  "\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a" },
	{ "\"\xc3\xa9 t\xc3\xa9\"@x", true, 1, "\"\xc3\xa9 t\xc3\xa9\"", "x" },
	{ "\"\xc3\xa9\"@x", false, -1, NULL, NULL },
	{ "\xf0\x9f\x93\xa7@x", true, 1, "\xf0\x9f\x93\xa7", "x" },
	{ "a\xc3@x", true, -1, NULL, NULL },		/* truncated */
	{ "a\xc3(@x", true, -1, NULL, NULL },		/* bad continuation */
	{ "a\xc0\xaf@x", true, -1, NULL, NULL },	/* overlong */
	{ "a\xe0\x80\xaf@x", true, -1, NULL, NULL },	/* overlong */
	{ "a\xed\xa0\x80@x", true, -1, NULL, NULL },	/* surrogate */
	{ "a\xf4\x90\x80\x80@x", true, -1, NULL, NULL }, /* > U+10FFFF */
	{ "a\xff@x", true, -1, NULL, NULL },
	{ "a\x80@x", true, -1, NULL, NULL },
	{ "u@x\xc3", true, -1, NULL, NULL },
	{ "u@[\xc3\xa9]", true, -1, NULL, NULL },
};

static void test_parse_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct address a;
		const char *error = NULL;
		int ret = address_parse(c->in, strlen(c->in), c->utf8, &a,
					&error);

		if (ret != c->ret)
			fail_msg("case %zu \"%s\": got %d (%s)", i, c->in, ret,
				 error != NULL ? error : "");
		if (ret < 0) {
			assert_non_null(error);
			continue;
		}
		assert_string_equal(a.local, c->local);
		assert_string_equal(a.domain, c->domain);
	}
}

static void test_parse_not_nul_terminated(void **state)
{
	struct address a;
	const char *error;
	const char s[] = "user@example.comXYZ";

	assert_int_equal(address_parse(s, 16, false, &a, &error), 1);
	assert_string_equal(a.domain, "example.com");
	/* an embedded NUL is never part of an address */
	assert_int_equal(address_parse("u\0v@x", 5, false, &a, &error), -1);
	assert_int_equal(address_parse("u@x\0y", 5, false, &a, &error), -1);
	assert_int_equal(address_parse("\"u\0\"@x", 6, false, &a, &error), -1);
}

/* Build "<local of n chars>@<domain>" into s. */
static size_t make_addr(char *s, size_t n, char fill, const char *domain)
{
	memset(s, fill, n);
	s[n] = '@';
	memcpy(s + n + 1, domain, strlen(domain) + 1);
	return strlen(s);
}

static void test_local_length(void **state)
{
	char s[512];
	struct address a;
	const char *error;
	size_t len;

	len = make_addr(s, ADDRESS_LOCAL_MAX, 'a', "x");
	assert_int_equal(address_parse(s, len, false, &a, &error), 1);
	len = make_addr(s, ADDRESS_LOCAL_MAX + 1, 'a', "x");
	assert_int_equal(address_parse(s, len, false, &a, &error), -1);
	assert_string_equal(error, "local part too long");

	/* quoted: 64 escaped octets fit, 65 do not */
	s[0] = '"';
	for (len = 0; len < ADDRESS_LOCAL_MAX; len++)
		memcpy(s + 1 + len * 2, "\\\"", 2);
	memcpy(s + 1 + len * 2, "\"@x", 4);
	assert_int_equal(address_parse(s, strlen(s), false, &a, &error), 1);
	assert_int_equal(strlen(a.local), ADDRESS_LOCAL_MAX * 2 + 2);
	memcpy(s + 1 + len * 2, "\\\"\"@x", 6);
	assert_int_equal(address_parse(s, strlen(s), false, &a, &error), -1);
	assert_string_equal(error, "local part too long");

	/* UTF-8 counts octets: 32 two-octet characters fit, 33 do not */
	for (len = 0; len < 32; len++)
		memcpy(s + len * 2, "\xc3\xa9", 2);
	memcpy(s + len * 2, "@x", 3);
	assert_int_equal(address_parse(s, strlen(s), true, &a, &error), 1);
	memcpy(s + len * 2, "\xc3\xa9@x", 5);
	assert_int_equal(address_parse(s, strlen(s), true, &a, &error), -1);
}

/* A domain of labels of 63 chars, total length n. */
static void make_domain(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = i % 64 == 63 ? '.' : 'd';
	if (s[n - 1] == '.')
		s[n - 1] = 'd';
	s[n] = '\0';
}

static void test_domain_length(void **state)
{
	char dom[300], s[400];
	struct address a;
	const char *error;
	size_t len;

	make_domain(dom, ADDRESS_DOMAIN_MAX);
	len = make_addr(s, 1, 'u', dom);
	assert_int_equal(address_parse(s, len, false, &a, &error), 1);
	assert_string_equal(a.domain, dom);
	make_domain(dom, ADDRESS_DOMAIN_MAX + 1);
	len = make_addr(s, 1, 'u', dom);
	assert_int_equal(address_parse(s, len, false, &a, &error), -1);
	assert_string_equal(error, "domain too long");

	memset(dom, 'l', 63);
	memcpy(dom + 63, ".com", 5);
	len = make_addr(s, 1, 'u', dom);
	assert_int_equal(address_parse(s, len, false, &a, &error), 1);
	memset(dom, 'l', 64);
	memcpy(dom + 64, ".com", 5);
	len = make_addr(s, 1, 'u', dom);
	assert_int_equal(address_parse(s, len, false, &a, &error), -1);
}

static void test_is_utf8(void **state)
{
	struct address a;
	const char *error;

	assert_int_equal(address_parse("a@b", 3, true, &a, &error), 1);
	assert_false(address_is_utf8(&a));
	assert_int_equal(address_parse("\xc3\xa9@b", 4, true, &a, &error), 1);
	assert_true(address_is_utf8(&a));
	assert_int_equal(address_parse("a@\xc3\xa9", 4, true, &a, &error), 1);
	assert_true(address_is_utf8(&a));
}

struct key_case {
	const char *in;
	const char *key;
};

static const struct key_case key_cases[] = {
	{ "User@Example.COM", "user@example.com" },
	{ "\"user\"@x.org", "user@x.org" },
	{ "\"First.Last\"@X", "first.last@x" },
	{ "\"a\\b\"@x", "ab@x" },
	{ "\"john doe\"@x", "\"john doe\"@x" },
	{ "\"a\\ b\"@x", "\"a b\"@x" },
	{ "\"a\\\"b\"@x", "\"a\\\"b\"@x" },
	{ "\".a\"@x", "\".a\"@x" },
	{ "\"a..b\"@x", "\"a..b\"@x" },
	{ "\"a.\"@x", "\"a.\"@x" },
	{ "\"\"@x", "\"\"@x" },
	{ "\"a@b\"@x", "\"a@b\"@x" },
	{ "\"\xc3\x89t\xc3\xa9\"@X", "\xc3\x89t\xc3\xa9@x" },
	{ "U@[IPv6:2001:DB8::1]", "u@[ipv6:2001:db8::1]" },
};

static void test_key(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		struct address a;
		const char *error;
		char key[400];

		assert_int_equal(address_parse(key_cases[i].in,
					       strlen(key_cases[i].in), true,
					       &a, &error), 1);
		assert_int_equal(address_key(&a, key, sizeof(key)), 1);
		assert_string_equal(key, key_cases[i].key);
	}
}

static void test_key_size(void **state)
{
	struct address a;
	const char *error;
	char key[8];

	assert_int_equal(address_parse("abc@d.e", 7, false, &a, &error), 1);
	assert_int_equal(address_key(&a, key, 8), 1);
	assert_string_equal(key, "abc@d.e");
	assert_int_equal(address_key(&a, key, 7), -1);
	assert_int_equal(address_key(&a, key, 0), -1);

	/* RCPT <Postmaster>: no domain, no "@" */
	memset(&a, 0, sizeof(a));
	memcpy(a.local, "Postmaster", 11);
	assert_int_equal(address_key(&a, key, sizeof(key)), -1);
	{
		char big[32];
		assert_int_equal(address_key(&a, big, sizeof(big)), 1);
		assert_string_equal(big, "postmaster");
	}
}

struct tag_case {
	const char *key;
	const char *delims;
	int ret;
	const char *out;
};

static const struct tag_case tag_cases[] = {
	{ "user+tag@x.org", "+", 1, "user@x.org" },
	{ "user+a+b@x.org", "+", 1, "user@x.org" },
	{ "user-tag@x.org", "+-", 1, "user@x.org" },
	{ "user+@x.org", "+", 1, "user@x.org" },
	{ "user@x.org", "+", 0, "user@x.org" },
	{ "user+tag@x.org", "", 0, "user+tag@x.org" },
	{ "+tag@x.org", "+", 0, "+tag@x.org" },
	{ "user@x+y.org", "+", 0, "user@x+y.org" },
	{ "\"a+b c\"@x.org", "+", 0, "\"a+b c\"@x.org" },
	{ "postmaster+x", "+", 1, "postmaster" },
	{ "postmaster", "+", 0, "postmaster" },
};

static void test_strip_tag(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
		const struct tag_case *c = &tag_cases[i];
		char out[64];

		assert_int_equal(address_strip_tag(c->key, c->delims, out,
						   sizeof(out)), c->ret);
		assert_string_equal(out, c->out);
	}
}

static void test_strip_tag_size(void **state)
{
	char out[11];

	assert_int_equal(address_strip_tag("user+t@x.org", "+", out, 11), 1);
	assert_string_equal(out, "user@x.org");
	assert_int_equal(address_strip_tag("user+t@x.org", "+", out, 10), -1);
	assert_int_equal(address_strip_tag("user@x.org", "+", out, 10), -1);
	assert_int_equal(address_strip_tag("a", "+", out, 0), -1);
}

/* RCPT's form: quotes that are not needed go, the case stays. */
static void test_canonical(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "\"alice\"@Example.org", "alice@Example.org" },
		{ "\"Alice.Smith\"@d.e", "Alice.Smith@d.e" },
		{ "\"A\\lice\"@d.e", "Alice@d.e" },		/* quoted-pair of a plain char */
		{ "\"two words\"@d.e", "\"two words\"@d.e" },
		{ "\"a..b\"@d.e", "\"a..b\"@d.e" },
		{ "Bob@d.e", "Bob@d.e" },
	};
	struct address a;
	const char *error;
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(address_parse(cases[i].in, strlen(cases[i].in), false, &a,
					       &error), 1);
		assert_int_equal(address_canonical(&a, out, sizeof(out)), 1);
		assert_string_equal(out, cases[i].out);
	}
	assert_int_equal(address_canonical(&a, out, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_not_nul_terminated),
		cmocka_unit_test(test_local_length),
		cmocka_unit_test(test_domain_length),
		cmocka_unit_test(test_is_utf8),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_key_size),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_strip_tag),
		cmocka_unit_test(test_strip_tag_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
