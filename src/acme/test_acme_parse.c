/*
 * test_acme_parse.c - unit tests of what the ACME client reads and signs:
 * HTTP responses (Content-Length, chunked, limits), the CA's JSON objects
 * (well-formed and hostile), base64url, JWS signatures checked with the
 * public key, the CSR's names and the TLS-ALPN-01 certificate (RFC 8737).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "acme/acme.h"
#include "acme/acme_int.h"
#include "lib/config.h"
#include "lib/encoding.h"

/* ---- HTTP ---- */

static int parse(const char *text, struct acme_resp *r)
{
	const char *error;

	return acme_http_parse(text, strlen(text), false, r, &error);
}

static void test_http_content_length(void **state)
{
	struct acme_resp r;

	acme_resp_init(&r);
	assert_int_equal(parse("HTTP/1.1 201 Created\r\nLocation: https://ca.test/o/1\r\n"
			       "replay-nonce:  n0nce \r\nRetry-After: 7\r\n"
			       "Content-Length: 2\r\n\r\n{}trailing", &r), 1);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.location, "https://ca.test/o/1");
	assert_string_equal(r.nonce, "n0nce");
	assert_int_equal(r.retry_after, 7);
	assert_string_equal(buf_cstr(&r.body), "{}");
	acme_resp_deinit(&r);
}

static void test_http_head(void **state)
{
	const char *text = "HTTP/1.1 200 OK\r\nReplay-Nonce: abc\r\nContent-Length: 9\r\n\r\n";
	struct acme_resp r;
	const char *error;

	acme_resp_init(&r);
	assert_int_equal(acme_http_parse(text, strlen(text), true, &r, &error), 1);
	assert_string_equal(r.nonce, "abc");
	assert_int_equal(r.body.len, 0);
	assert_int_equal(acme_http_parse(text, strlen(text), false, &r, &error), -1);
	acme_resp_deinit(&r);
}

static void test_http_chunked(void **state)
{
	struct acme_resp r;

	acme_resp_init(&r);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", &r), 1);
	assert_string_equal(buf_cstr(&r.body), "abcde");
	/* a chunk longer than what follows, a size that is not hex */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "9\r\nabc\r\n0\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "zz\r\nabc\r\n0\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "fffffffffffffffff\r\n", &r), -1);
	acme_resp_deinit(&r);
}

static void test_http_malformed(void **state)
{
	struct acme_resp r;

	acme_resp_init(&r);
	assert_int_equal(parse("", &r), -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n", &r), -1);	/* no end of head */
	assert_int_equal(parse("SMTP 220 hello\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1 2x0 OK\r\n\r\n", &r), -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", &r), -1);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", &r),
			 -1);
	/* a Location too long is dropped, not cut */
	{
		char text[2048];
		snprintf(text, sizeof(text), "HTTP/1.1 201 Created\r\nLocation: https://%0900d\r\n\r\n", 0);
		assert_int_equal(parse(text, &r), 1);
		assert_string_equal(r.location, "");
	}
	acme_resp_deinit(&r);
}

static void test_http_body_limit(void **state)
{
	size_t n = ACME_RESPONSE_MAX + 100;
	char *text = malloc(n + 64);
	struct acme_resp r;
	const char *error;
	int head = snprintf(text, 64, "HTTP/1.1 200 OK\r\n\r\n");

	memset(text + head, 'x', n);
	acme_resp_init(&r);
	assert_int_equal(acme_http_parse(text, (size_t)head + n, false, &r, &error), -1);
	acme_resp_deinit(&r);
	free(text);
}

/* ---- JSON ---- */

static void test_directory(void **state)
{
	const char *ok = "{\"newNonce\":\"https://ca.test/n\",\"newAccount\":\"https://ca.test/a\","
			 "\"newOrder\":\"https://ca.test/o\",\"meta\":{\"termsOfService\":\"x\"}}";
	struct acme_directory d;
	char error[256];

	assert_int_equal(acme_parse_directory(ok, strlen(ok), &d, error, sizeof(error)), 1);
	assert_string_equal(d.new_order, "https://ca.test/o");
	const char *bad[] = {
		"[]", "{", "{\"newNonce\":\"https://ca.test/n\"}",
		"{\"newNonce\":\"http://ca.test/n\",\"newAccount\":\"https://ca.test/a\","
		"\"newOrder\":\"https://ca.test/o\"}",
		"{\"newNonce\":1,\"newAccount\":\"https://ca.test/a\",\"newOrder\":\"https://c\"}",
		"{\"newNonce\":\"https://a\\u0000b\",\"newAccount\":\"https://ca.test/a\","
		"\"newOrder\":\"https://ca.test/o\"}",
		"{\"newNonce\":\"https://a\",\"newNonce\":\"https://b\",\"newAccount\":\"https://a\","
		"\"newOrder\":\"https://o\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acme_parse_directory(bad[i], strlen(bad[i]), &d, error,
						      sizeof(error)), -1);
}

static void test_order(void **state)
{
	const char *ok = "{\"status\":\"valid\",\"authorizations\":[\"https://ca.test/z/1\","
			 "\"https://ca.test/z/2\"],\"finalize\":\"https://ca.test/f\","
			 "\"certificate\":\"https://ca.test/c\"}";
	const char *invalid = "{\"status\":\"invalid\",\"authorizations\":[],"
			      "\"finalize\":\"https://ca.test/f\",\"error\":{\"type\":\"t\","
			      "\"detail\":\"d\"}}";
	struct acme_order o;
	char error[256], text[8192];
	size_t n;

	assert_int_equal(acme_parse_order(ok, strlen(ok), &o, error, sizeof(error)), 1);
	assert_int_equal(o.status, ACME_STATUS_VALID);
	assert_int_equal(o.n_authz, 2);
	assert_string_equal(o.authz[1], "https://ca.test/z/2");
	assert_string_equal(o.certificate, "https://ca.test/c");
	assert_int_equal(acme_parse_order(invalid, strlen(invalid), &o, error, sizeof(error)), 1);
	assert_int_equal(o.status, ACME_STATUS_INVALID);
	assert_string_equal(o.error, "t: d");
	/* more authorizations than the limit, one that is not a URL */
	n = (size_t)snprintf(text, sizeof(text), "{\"status\":\"pending\",\"finalize\":"
			     "\"https://f\",\"authorizations\":[");
	for (int i = 0; i <= ACME_AUTHZ_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"https://z/%d\"",
				      i > 0 ? "," : "", i);
	snprintf(text + n, sizeof(text) - n, "]}");
	assert_int_equal(acme_parse_order(text, strlen(text), &o, error, sizeof(error)), -1);
	const char *bad = "{\"status\":\"pending\",\"finalize\":\"https://f\","
			  "\"authorizations\":[\"https://z/1\", 7]}";
	assert_int_equal(acme_parse_order(bad, strlen(bad), &o, error, sizeof(error)), -1);
	const char *nostatus = "{\"finalize\":\"https://f\",\"authorizations\":[]}";
	assert_int_equal(acme_parse_order(nostatus, strlen(nostatus), &o, error, sizeof(error)),
			 -1);
}

static void test_authz(void **state)
{
	const char *ok = "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
			 "\"value\":\"mx.example.org\"},\"challenges\":["
			 "{\"type\":\"dns-01\",\"url\":\"https://c/0\",\"token\":\"!!\"},"
			 "{\"type\":\"http-01\",\"url\":\"https://c/1\",\"token\":\"aB-_9\"},"
			 "{\"type\":\"tls-alpn-01\",\"url\":\"https://c/2\",\"token\":\"x\","
			 "\"status\":\"invalid\",\"error\":{\"type\":\"u\",\"detail\":\"no\"}}]}";
	struct acme_authz z;
	char error[256];

	assert_int_equal(acme_parse_authz(ok, strlen(ok), &z, error, sizeof(error)), 1);
	assert_string_equal(z.name, "mx.example.org");
	assert_int_equal(z.n_ch, 3);
	assert_string_equal(z.ch[1].token, "aB-_9");
	assert_int_equal(z.ch[2].status, ACME_STATUS_INVALID);
	assert_string_equal(z.ch[2].error, "u: no");
	const char *bad[] = {
		/* a token that could leave the well-known path */
		"{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a\"},"
		"\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://c\",\"token\":\"../x\"}]}",
		"{\"status\":\"pending\",\"identifier\":{\"type\":\"ip\",\"value\":\"1.2.3.4\"},"
		"\"challenges\":[]}",
		"{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a\"}}",
		"{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a\"},"
		"\"challenges\":[\"x\"]}",
		"{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a\"},"
		"\"challenges\":[{\"type\":\"http-01\",\"url\":\"ftp://c\",\"token\":\"t\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acme_parse_authz(bad[i], strlen(bad[i]), &z, error,
						  sizeof(error)), -1);
}

static void test_problem(void **state)
{
	const char *p = "{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
			"\"detail\":\"too many\"}";
	char out[300];

	acme_parse_problem(p, strlen(p), out, sizeof(out));
	assert_string_equal(out, "urn:ietf:params:acme:error:rateLimited: too many");
	acme_parse_problem("<html>\n\x01", 8, out, sizeof(out));
	assert_string_equal(out, "<html>..");
}

/* ---- signing ---- */

static void test_b64url(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	base64url_encode("", 0, &b);
	assert_string_equal(buf_cstr(&b), "");
	base64url_encode("f", 1, &b);
	buf_putc(&b, ' ');
	base64url_encode("fo", 2, &b);
	buf_putc(&b, ' ');
	base64url_encode("foo", 3, &b);
	buf_putc(&b, ' ');
	base64url_encode("\xfb\xff\xbf", 3, &b);
	assert_string_equal(buf_cstr(&b), "Zg Zm8 Zm9v -_-_");
	buf_deinit(&b);
}

/* base64url back to bytes (the test's own, simple decoder). */
/* The bytes of base64url text s[0..n) into out[0..size); their count. */
static size_t unb64url(const char *s, size_t n, unsigned char *out, size_t size)
{
	struct buf raw;
	size_t len;

	buf_init(&raw, size);
	assert_int_equal(base64url_decode(s, n, &raw), 1);
	len = raw.len;
	if (len > 0)
		memcpy(out, raw.data, len);
	buf_deinit(&raw);
	return len;
}

static void test_jws_verifies(void **state)
{
	EVP_PKEY *key = acme_key_new();
	struct buf jws, input, thumb;
	unsigned char rs[64], der[80], *p = der, header[1024];
	json_t *root, *h;
	const char *prot, *sig;
	ECDSA_SIG *es = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n;
	int dlen;

	buf_init(&jws, 0);
	buf_init(&input, 0);
	buf_init(&thumb, 0);
	assert_int_equal(acme_jws(key, NULL, "n\"once", "https://ca.test/acct", "{\"a\":1}",
				  &jws), 1);
	root = json_loads(buf_cstr(&jws), 0, NULL);
	assert_non_null(root);
	prot = json_string_value(json_object_get(root, "protected"));
	sig = json_string_value(json_object_get(root, "signature"));
	n = unb64url(prot, strlen(prot), header, sizeof(header));
	h = json_loadb((const char *)header, n, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(h, "nonce")), "n\"once");
	assert_string_equal(json_string_value(json_object_get(h, "url")), "https://ca.test/acct");
	assert_string_equal(json_string_value(json_object_get(json_object_get(h, "jwk"), "crv")),
			    "P-256");
	/* the signature: r || s over protected.payload, checked with the key */
	assert_int_equal(unb64url(sig, strlen(sig), rs, sizeof(rs)), 64);
	ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
	dlen = i2d_ECDSA_SIG(es, &p);
	buf_printf(&input, "%s.%s", prot, json_string_value(json_object_get(root, "payload")));
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(md, der, (size_t)dlen, (unsigned char *)input.data,
					  input.len), 1);
	/* with a kid, no jwk; POST-as-GET has an empty payload */
	buf_reset(&jws);
	assert_int_equal(acme_jws(key, "https://ca.test/acct/1", "n", "https://u", "", &jws), 1);
	json_decref(root);
	json_decref(h);
	root = json_loads(buf_cstr(&jws), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(root, "payload")), "");
	prot = json_string_value(json_object_get(root, "protected"));
	n = unb64url(prot, strlen(prot), header, sizeof(header));
	h = json_loadb((const char *)header, n, 0, NULL);
	assert_null(json_object_get(h, "jwk"));
	assert_string_equal(json_string_value(json_object_get(h, "kid")), "https://ca.test/acct/1");
	assert_int_equal(acme_thumbprint(key, &thumb), 1);
	assert_int_equal(thumb.len, 43);	/* 32 bytes, unpadded */
	json_decref(root);
	json_decref(h);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	buf_deinit(&jws);
	buf_deinit(&input);
	buf_deinit(&thumb);
}

static void test_csr_names(void **state)
{
	static const char names[] = "mx.example.org\0mail.example.org";
	EVP_PKEY *key = acme_key_new();
	unsigned char der[4096];
	const unsigned char *p = der;
	struct buf b64;
	X509_REQ *req;
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *gens;

	buf_init(&b64, 0);
	assert_int_equal(acme_csr(key, names, sizeof(names), &b64), 1);
	req = d2i_X509_REQ(NULL, &p, (long)unb64url(b64.data, b64.len, der, sizeof(der)));
	assert_non_null(req);
	assert_int_equal(X509_REQ_verify(req, key), 1);
	exts = X509_REQ_get_extensions(req);
	gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
	assert_string_equal(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(gens, 1)->d.dNSName),
			    "mail.example.org");
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	buf_deinit(&b64);
}

static void test_alpn_certificate(void **state)
{
	static const unsigned char want_prefix[] = { 0x04, 0x20 };
	const char *keyauth = "token.thumbprint";
	unsigned char md[32];
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	X509_EXTENSION *ext;
	const ASN1_OCTET_STRING *v;
	EVP_PKEY *key;
	X509 *cert;
	int at;

	assert_int_equal(acme_alpn_make("mx.example.org", keyauth, &cert, &key), 1);
	assert_int_equal(X509_check_host(cert, "mx.example.org", 0, 0, NULL), 1);
	at = X509_get_ext_by_OBJ(cert, oid, -1);
	assert_true(at >= 0);
	ext = X509_get_ext(cert, at);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	v = X509_EXTENSION_get_data(ext);
	assert_int_equal(ASN1_STRING_length(v), 34);
	assert_memory_equal(ASN1_STRING_get0_data(v), want_prefix, 2);
	EVP_Digest(keyauth, strlen(keyauth), md, NULL, EVP_sha256(), NULL);
	assert_memory_equal(ASN1_STRING_get0_data(v) + 2, md, 32);
	ASN1_OBJECT_free(oid);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* ---- configuration ---- */

static void test_wanted_names(void **state)
{
	struct config cfg;
	struct buf names;

	config_defaults(&cfg);
	buf_init(&names, 0);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "mx.example.org");
	snprintf(cfg.local_domains, sizeof(cfg.local_domains), "example.org, localhost, Example.NET");
	acme_wanted_names(&cfg, &names);
	assert_int_equal(names.len, sizeof("mx.example.org\0mail.example.org\0mail.Example.NET"));
	assert_memory_equal(names.data, "mx.example.org\0mail.example.org\0mail.Example.NET",
			    names.len);
	snprintf(cfg.acme_names, sizeof(cfg.acme_names), "a.example, b.example a.example");
	acme_wanted_names(&cfg, &names);
	assert_int_equal(names.len, sizeof("a.example\0b.example"));
	buf_deinit(&names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_content_length),
		cmocka_unit_test(test_http_head),
		cmocka_unit_test(test_http_chunked),
		cmocka_unit_test(test_http_malformed),
		cmocka_unit_test(test_http_body_limit),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_authz),
		cmocka_unit_test(test_problem),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_jws_verifies),
		cmocka_unit_test(test_csr_names),
		cmocka_unit_test(test_alpn_certificate),
		cmocka_unit_test(test_wanted_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
