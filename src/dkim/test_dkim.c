/*
 * test_dkim.c - the DKIM tag-list parser (RFC 6376 §3.2), the header and
 * body canonicalizations with the example of RFC 6376 §3.4.5 fed in every
 * split, the header-section walk and the From: domain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "dkim/dkim.h"

static void assert_tag(const struct dkim_tags *t, const char *name, const char *value)
{
	size_t len;
	const char *v = dkim_tags_get(t, name, &len);

	assert_non_null(v);
	assert_int_equal(len, strlen(value));
	assert_memory_equal(v, value, len);
}

static void test_tags_valid(void **state)
{
	const char *s = " v=1; a=rsa-sha256 ;\r\n\td=example.org; s=sel;\n h=from : to;"
			" bh=ab c\r\n\t de=; b=; x_1=y;";
	struct dkim_tags t;
	const char *error;
	size_t len;

	assert_int_equal(dkim_tags_parse(s, strlen(s), &t, &error), 1);
	assert_int_equal(t.n, 8);
	assert_tag(&t, "v", "1");
	assert_tag(&t, "a", "rsa-sha256");
	assert_tag(&t, "d", "example.org");
	assert_tag(&t, "h", "from : to");
	assert_tag(&t, "bh", "ab c\r\n\t de=");
	assert_tag(&t, "b", "");
	assert_tag(&t, "x_1", "y");
	assert_null(dkim_tags_get(&t, "V", &len));	/* names are case-sensitive */
	assert_null(dkim_tags_get(&t, "l", &len));

	assert_int_equal(dkim_tags_parse("", 0, &t, &error), 1);
	assert_int_equal(t.n, 0);
	assert_int_equal(dkim_tags_parse("v=DKIM1; k=ed25519; p=", 22, &t, &error), 1);
	assert_int_equal(t.n, 3);
	assert_tag(&t, "p", "");
}

static void test_tags_invalid(void **state)
{
	static const char *const bad[] = {
		"v=1; v=2",		/* twice */
		"1v=1",			/* name starts with a digit */
		"v",			/* no '=' */
		"v 1=2",
		"=1",
		";;",			/* an empty tag-spec */
		"a=b\x01",		/* control character */
		"a=b\xc3\xa9",		/* 8-bit */
	};
	struct dkim_tags t;
	const char *error = NULL;
	char many[400] = "";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(dkim_tags_parse(bad[i], strlen(bad[i]), &t, &error), -1);
		assert_non_null(error);
	}
	for (int i = 0; i <= DKIM_TAGS_MAX; i++) {
		char one[12];
		snprintf(one, sizeof(one), "t%d=x;", i);
		strncat(many, one, sizeof(many) - strlen(many) - 1);
	}
	assert_int_equal(dkim_tags_parse(many, strlen(many), &t, &error), -1);
}

static void test_canon_header(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	/* RFC 6376 §3.4.5 */
	assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "A: X\n", 5, &out), 1);
	assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "B : Y\t\n\tZ  \n", 12, &out), 1);
	assert_string_equal(buf_cstr(&out), "a:X\r\nb:Y Z\r\n");
	buf_reset(&out);
	assert_int_equal(dkim_canon_header(DKIM_CANON_SIMPLE, "B : Y\t\n\tZ  \n", 12, &out), 1);
	assert_string_equal(buf_cstr(&out), "B : Y\t\r\n\tZ  \r\n");
	buf_reset(&out);
	/* no final line end; an empty value */
	assert_int_equal(dkim_canon_header(DKIM_CANON_RELAXED, "Subject:", 8, &out), 1);
	assert_string_equal(buf_cstr(&out), "subject:\r\n");
	buf_deinit(&out);
}

static void sha256_of(const char *s, unsigned char d[32])
{
	unsigned len = 32;

	EVP_Digest(s, strlen(s), d, &len, EVP_sha256(), NULL);
}

/* Feed body in every two-piece split and compare with the hash of want. */
static void check_body(enum dkim_canon c, const char *body, const char *want)
{
	unsigned char expect[32], got[32];
	size_t n = strlen(body);

	sha256_of(want, expect);
	for (size_t split = 0; split <= n; split++) {
		struct dkim_body *b = dkim_body_new(c, UINT64_MAX);
		assert_non_null(b);
		dkim_body_feed(b, body, split);
		dkim_body_feed(b, body + split, n - split);
		dkim_body_final(b, got);
		dkim_body_free(&b);
		assert_null(b);
		assert_memory_equal(got, expect, 32);
	}
}

static void test_canon_body(void **state)
{
	/* RFC 6376 §3.4.5, in correio's stored form (LF) */
	check_body(DKIM_CANON_RELAXED, " C \nD \t E\n\n\n", " C\r\nD E\r\n");
	check_body(DKIM_CANON_SIMPLE, " C \nD \t E\n\n\n", " C \r\nD \t E\r\n");
	/* empty bodies: relaxed hashes nothing, simple one CRLF */
	check_body(DKIM_CANON_RELAXED, "", "");
	check_body(DKIM_CANON_RELAXED, "\n\n \t\n", "");
	check_body(DKIM_CANON_SIMPLE, "", "\r\n");
	check_body(DKIM_CANON_SIMPLE, "\n\n", "\r\n");
	/* a last line without its line end gets one */
	check_body(DKIM_CANON_RELAXED, "a  b", "a b\r\n");
	check_body(DKIM_CANON_SIMPLE, "a  b", "a  b\r\n");
	/* empty lines inside are kept */
	check_body(DKIM_CANON_RELAXED, "a\n\n  \nb\n", "a\r\n\r\n\r\nb\r\n");
}

static void test_body_limit(void **state)
{
	unsigned char expect[32], got[32];
	struct dkim_body *b = dkim_body_new(DKIM_CANON_SIMPLE, 5);

	dkim_body_feed(b, "abc\ndef\n", 8);
	dkim_body_final(b, got);
	dkim_body_free(&b);
	sha256_of("abc\r\n", expect);
	assert_memory_equal(got, expect, 32);
}

static void test_fields(void **state)
{
	const char *h = "From: a@b\nSubject: one\n two\nX:y\n\nbody: no\n";
	struct dkim_field f;
	size_t pos = 0;

	assert_int_equal(dkim_fields_next(h, strlen(h), &pos, &f), 1);
	assert_int_equal(f.name_len, 4);
	assert_int_equal(f.value_len, 4);
	assert_int_equal(dkim_fields_next(h, strlen(h), &pos, &f), 1);
	assert_int_equal(f.len, strlen("Subject: one\n two\n"));
	assert_memory_equal(f.value, " one\n two", f.value_len);
	assert_int_equal(dkim_fields_next(h, strlen(h), &pos, &f), 1);
	assert_int_equal(f.name_len, 1);
	assert_int_equal(dkim_fields_next(h, strlen(h), &pos, &f), 0);
}

static void test_from_domain(void **state)
{
	static const char *const cases[][2] = {
		{ " alice@Example.ORG", "example.org" },
		{ " Alice <alice@example.org>", "example.org" },
		{ " \"a@evil.test\" <alice@example.org>", "example.org" },
		{ " alice@example.org (Alice)", "example.org" },
		{ " a@one.test, b@two.test", "one.test" },
		{ " undisclosed", NULL },
		{ " <>", NULL },
	};
	char out[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = dkim_from_domain(cases[i][0], strlen(cases[i][0]), out, sizeof(out));
		if (cases[i][1] == NULL) {
			assert_int_equal(r, 0);
		} else {
			assert_int_equal(r, 1);
			assert_string_equal(out, cases[i][1]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags_valid),
		cmocka_unit_test(test_tags_invalid),
		cmocka_unit_test(test_canon_header),
		cmocka_unit_test(test_canon_body),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_from_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
