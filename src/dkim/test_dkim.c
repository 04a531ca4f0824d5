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
#include <unistd.h>
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
		char one[24];
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

static void test_sig_parse(void **state)
{
	const char *ok = "v=1; a=rsa-sha256; c=relaxed; d=Example.ORG; s=sel;\n\t"
			 "i=user@mail.example.org; h=From : To; l=12; x=4102444800;\n\t"
			 "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=;\n\tb=AAEC AwQ=";
	static const char *const bad[] = {
		"v=2; a=rsa-sha256; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA==",
		"v=1; a=rsa-sha1; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA==",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=to; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA==",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; i=x@b.test; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA==",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=AAAA; b=AA==",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=",
		"v=1; a=rsa-sha256; c=fancy; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA==",
		"v=1; a=rsa-sha256; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA==",
		/* base64 that is not: '=' inside a value, bits left over */
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeu=eRkm5NMpJWZG3hXuFU=; b=AA==",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA=A",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b==AAA",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AB==",
		"v=1; a=rsa-sha256; d=a.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hXuFU=; b=AA== AA==",
	};
	struct dkim_sig sig;
	const char *error;

	assert_int_equal(dkim_sig_parse(ok, strlen(ok), &sig, &error), 1);
	assert_int_equal(sig.alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(sig.canon_header, DKIM_CANON_RELAXED);
	assert_int_equal(sig.canon_body, DKIM_CANON_SIMPLE);	/* "relaxed" alone */
	assert_string_equal(sig.domain, "example.org");
	assert_string_equal(sig.selector, "sel");
	assert_string_equal(sig.auid_domain, "mail.example.org");
	assert_string_equal(sig.headers, "from:to");
	assert_int_equal(sig.limit, 12);
	assert_int_equal(sig.expires, 4102444800ull);
	assert_int_equal(sig.bh_len, 32);
	assert_int_equal(sig.b_len, 5);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dkim_sig_parse(bad[i], strlen(bad[i]), &sig, &error) != -1)
			fail_msg("accepted: %s", bad[i]);
}

static void test_key_parse(void **state)
{
	const char *ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	void *pkey = NULL;
	const char *error;

	assert_int_equal(dkim_key_parse(ed, strlen(ed), DKIM_ALG_ED25519_SHA256, &pkey, &error), 1);
	EVP_PKEY_free(pkey);
	/* the key type must match the signature's algorithm */
	assert_int_equal(dkim_key_parse(ed, strlen(ed), DKIM_ALG_RSA_SHA256, &pkey, &error), -1);
	assert_int_equal(dkim_key_parse("v=DKIM1; p=", 11, DKIM_ALG_RSA_SHA256, &pkey, &error), 0);
	assert_int_equal(dkim_key_parse("v=DKIM2; p=AAAA", 15, DKIM_ALG_RSA_SHA256, &pkey, &error), -1);
	assert_int_equal(dkim_key_parse("k=rsa; h=sha1; p=AAAA", 21, DKIM_ALG_RSA_SHA256, &pkey,
					 &error), -1);
	assert_int_equal(dkim_key_parse("k=rsa; p=AAAA", 13, DKIM_ALG_RSA_SHA256, &pkey, &error), -1);
	/* the key folded over lines is the same key */
	{
		const char *folded = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQH\r\n\t"
				     "Og7hcvPapiMlrwIaaPcHURo =";
		assert_int_equal(dkim_key_parse(folded, strlen(folded), DKIM_ALG_ED25519_SHA256,
						&pkey, &error), 1);
		EVP_PKEY_free(pkey);
	}
	/* '=' inside p= is no base64: refused, not read as a zero digit */
	{
		const char *inner = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPa=iMlrwIaaPcHURo=";
		pkey = NULL;
		assert_int_equal(dkim_key_parse(inner, strlen(inner), DKIM_ALG_ED25519_SHA256,
						&pkey, &error), -1);
		assert_null(pkey);
	}
}

/* Sign with dkim_signer, verify with dkim_sig_verify; then tamper. */
static void test_sign_verify(void **state)
{
	const char *msg = "From: a@example.org\nTo: b@example.net\nSubject:  hi\n\nbody  \n\n";
	EVP_PKEY *keys[2] = { EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
			      EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) };

	for (int k = 0; k < 2; k++) {
		struct dkim_key key = { k == 0 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256,
					"sel", keys[k] };
		struct dkim_signer *s = dkim_signer_new("example.org", &key, 1, 1700000000);
		struct buf out, whole;
		struct dkim_field f;
		struct dkim_sig sig;
		const char *error;
		size_t pos = 0, hlen;
		unsigned char bh[32];
		struct dkim_body *b;

		buf_init(&out, 0);
		dkim_signer_feed(s, msg, strlen(msg));
		assert_int_equal(dkim_signer_finish(s, &out), 1);
		dkim_signer_free(&s);
		buf_init(&whole, 0);
		buf_append(&whole, out.data, out.len);
		buf_puts(&whole, msg);
		assert_int_equal(dkim_fields_next(whole.data, whole.len, &pos, &f), 1);
		assert_int_equal(dkim_sig_parse(f.value, f.value_len, &sig, &error), 1);
		assert_string_equal(sig.headers, "from:from:to:subject");
		hlen = (size_t)(strstr(whole.data, "\n\n") - whole.data) + 1;
		b = dkim_body_new(sig.canon_body, sig.limit);
		dkim_body_feed(b, whole.data + hlen + 1, whole.len - hlen - 1);
		dkim_body_final(b, bh);
		dkim_body_free(&b);
		assert_int_equal(dkim_sig_verify(whole.data, hlen, &f, &sig, keys[k], bh, &error), 1);
		/* a changed subject */
		whole.data[strstr(whole.data, "Subject:  hi") - whole.data + 10] = 'H';
		assert_int_equal(dkim_sig_verify(whole.data, hlen, &f, &sig, keys[k], bh, &error), 0);
		/* a changed body hash */
		bh[0] ^= 1;
		assert_int_equal(dkim_sig_verify(whole.data, hlen, &f, &sig, keys[k], bh, &error), 0);
		buf_deinit(&out);
		buf_deinit(&whole);
		EVP_PKEY_free(keys[k]);
	}
}

/* Move data_dir/dkim/<domain>/<selector>.<ext>.key away (back: to its
   place), or remove it. */
static void move_key(const char *data_dir, const char *selector, const char *ext, int how)
{
	char path[1400], away[1410];

	snprintf(path, sizeof(path), "%s/dkim/example.org/%s.%s.key", data_dir, selector, ext);
	snprintf(away, sizeof(away), "%s.away", path);
	if (how == 0)
		assert_int_equal(unlink(path), 0);
	else
		assert_int_equal(how > 0 ? rename(path, away) : rename(away, path), 0);
}

/* The signing keys are read from disk once: with the key files gone, the
   next load still has them; a rotation (a new "signing" file) loads the
   new keys. */
static void test_keys_cached_until_rotated(void **state)
{
	char dir[] = "/tmp/test_dkim_keys.XXXXXX", rsa[64], ed[64], rsa2[64], ed2[64];
	struct dkim_key keys[2];
	const char *error;
	unsigned n;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(dkim_keys_load(dir, "example.org", keys, &n, &error), 0);
	assert_int_equal(dkim_keys_create(dir, "example.org", rsa, ed, &error), 1);
	assert_int_equal(dkim_keys_load(dir, "example.org", keys, &n, &error), 1);
	assert_int_equal(n, 2);
	dkim_keys_unload(keys, n);
	move_key(dir, rsa, "rsa", 1);
	move_key(dir, ed, "ed25519", 1);
	assert_int_equal(dkim_keys_load(dir, "example.org", keys, &n, &error), 1);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0].selector, rsa);
	assert_string_equal(keys[1].selector, ed);
	assert_non_null(keys[0].pkey);
	dkim_keys_unload(keys, n);
	move_key(dir, rsa, "rsa", -1);
	move_key(dir, ed, "ed25519", -1);
	/* rotated: the new selectors sign */
	assert_int_equal(dkim_keys_create(dir, "example.org", rsa2, ed2, &error), 1);
	assert_string_not_equal(rsa, rsa2);
	assert_int_equal(dkim_keys_load(dir, "example.org", keys, &n, &error), 1);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0].selector, rsa2);
	assert_string_equal(keys[1].selector, ed2);
	dkim_keys_unload(keys, n);
	move_key(dir, rsa, "rsa", 0);
	move_key(dir, ed, "ed25519", 0);
	move_key(dir, rsa2, "rsa", 0);
	move_key(dir, ed2, "ed25519", 0);
	{
		char path[1400];
		snprintf(path, sizeof(path), "%s/dkim/example.org/signing", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/dkim/example.org", dir);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/dkim", dir);
		rmdir(path);
		rmdir(dir);
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
		cmocka_unit_test(test_sig_parse),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_keys_cached_until_rotated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
