/*
 * acme_jws.c - the keys and signatures of the ACME client: the account
 * key (EC P-256, kept in <data_dir>/acme/account.pem), its JWK and
 * thumbprint (RFC 7638), JWS in the flattened JSON serialization signed
 * with ES256 (RFC 7515, 7518 3.4: r and s, 32 bytes each), the CSR of an
 * order, and the TLS-ALPN-01 challenge certificate (RFC 8737).
 * Called by acme.c; OpenSSL 3 EVP and jansson.
 */
#include "acme/acme_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/util.h"
#include "lib/encoding.h"

EVP_PKEY *acme_key_new(void)
{
	return EVP_EC_gen("P-256");
}

EVP_PKEY *acme_key_load(const char *path, struct buf *error)
{
	char tmp[1100];
	EVP_PKEY *key = NULL;
	FILE *f = fopen(path, "re");
	int fd;

	if (f != NULL) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (key == NULL)
			buf_printf(error, "%s: no PEM private key in it", path);
		return key;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((key = acme_key_new()) == NULL ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		buf_printf(error, "cannot write the account key %s: %m", tmp);
		EVP_PKEY_free(key);
		return NULL;
	}
	if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) < 0) {
		buf_printf(error, "cannot write the account key %s: %m", path);
		unlink(tmp);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* A coordinate of the public key, 32 bytes big-endian, in base64url. */
static int coordinate(EVP_PKEY *key, const char *param, struct buf *out)
{
	unsigned char bytes[32];
	BIGNUM *bn = NULL;
	int ok;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		return -1;
	ok = BN_bn2binpad(bn, bytes, sizeof(bytes)) == sizeof(bytes);
	BN_free(bn);
	return ok ? base64url_encode(bytes, sizeof(bytes), out) : -1;
}

/* The JWK with its members in lexicographic order and no white space,
   as RFC 7638 3 hashes it. */
static int jwk(EVP_PKEY *key, struct buf *out)
{
	if (buf_puts(out, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"") < 0 ||
	    coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X, out) < 0 ||
	    buf_puts(out, "\",\"y\":\"") < 0 ||
	    coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y, out) < 0 ||
	    buf_puts(out, "\"}") < 0)
		return -1;
	return 1;
}

int acme_thumbprint(EVP_PKEY *key, struct buf *out)
{
	unsigned char md[32];
	unsigned n = 0;
	struct buf text;
	int ret = -1;

	buf_init(&text, 1024);
	if (jwk(key, &text) > 0 &&
	    EVP_Digest(text.data, text.len, md, &n, EVP_sha256(), NULL) == 1)
		ret = base64url_encode(md, n, out);
	buf_deinit(&text);
	return ret;
}

/* ES256 over input: the DER signature of OpenSSL made r || s. */
static int sign_es256(EVP_PKEY *key, const struct buf *input, unsigned char rs[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *p = der;
	size_t len = sizeof(der);
	ECDSA_SIG *sig = NULL;
	int ok;

	ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestSign(md, der, &len, (const unsigned char *)input->data,
			    input->len) == 1 &&
	     (sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) != NULL &&
	     BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 &&
	     BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ok ? 1 : -1;
}

/* The protected header, JSON-encoded by jansson (the URL and nonce come
   from the CA: escaped, never pasted). */
static char *protected_header(EVP_PKEY *key, const char *kid, const char *nonce,
			      const char *url)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url", url);
	struct buf text;
	char *s = NULL;

	buf_init(&text, 1024);
	if (h == NULL)
		return NULL;
	if (kid != NULL) {
		json_object_set_new(h, "kid", json_string(kid));
	} else if (jwk(key, &text) > 0) {
		json_object_set_new(h, "jwk", json_loadb(text.data, text.len, 0, NULL));
	}
	if (json_object_get(h, kid != NULL ? "kid" : "jwk") != NULL)
		s = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
	buf_deinit(&text);
	json_decref(h);
	return s;
}

int acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
	     const char *payload, struct buf *out)
{
	char *header = protected_header(key, kid, nonce, url);
	unsigned char rs[64];
	struct buf input;
	size_t dot;
	int ret = -1;

	if (header == NULL)
		return -1;
	buf_init(&input, 0);
	base64url_encode(header, strlen(header), &input);
	dot = input.len;
	buf_putc(&input, '.');
	base64url_encode(payload, strlen(payload), &input);
	if (sign_es256(key, &input, rs) > 0) {
		buf_printf(out, "{\"protected\":\"%.*s\",\"payload\":\"%s\",\"signature\":\"",
			   (int)dot, input.data, input.data + dot + 1);
		base64url_encode(rs, sizeof(rs), out);
		ret = buf_puts(out, "\"}");
	}
	buf_deinit(&input);
	free(header);
	return ret;
}

/* subjectAltName text "DNS:a,DNS:b" of the NUL-separated names. */
static void san_text(const char *names, size_t len, struct buf *out)
{
	for (const char *p = names; p < names + len; p += strlen(p) + 1)
		buf_printf(out, "%sDNS:%s", out->len > 0 ? "," : "", p);
}

int acme_csr(EVP_PKEY *key, const char *names, size_t len, struct buf *out)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	struct buf san;
	int n, ret = -1;

	buf_init(&san, 0);
	san_text(names, len, &san);
	X509_REQ_set_version(req, 0);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
				   (const unsigned char *)names, -1, -1, 0);
	X509_REQ_set_pubkey(req, key);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, buf_cstr(&san));
	if (ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0 &&
	    X509_REQ_add_extensions(req, exts) == 1 && X509_REQ_sign(req, key, EVP_sha256()) > 0 &&
	    (n = i2d_X509_REQ(req, &der)) > 0)
		ret = base64url_encode(der, (size_t)n, out);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	buf_deinit(&san);
	return ret;
}

/* id-pe-acmeIdentifier (RFC 8737 6.1), critical, its value the DER of
   Authorization ::= OCTET STRING (SIZE (32)). */
static int add_acme_identifier(X509 *cert, const char *keyauth)
{
	unsigned char md[32], der[34];
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	unsigned n = 0;
	int ok;

	ok = oid != NULL && value != NULL &&
	     EVP_Digest(keyauth, strlen(keyauth), md, &n, EVP_sha256(), NULL) == 1;
	if (ok) {
		der[0] = 0x04;	/* OCTET STRING */
		der[1] = 32;
		memcpy(der + 2, md, 32);
		ok = ASN1_OCTET_STRING_set(value, der, sizeof(der)) == 1 &&
		     (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value)) != NULL &&
		     X509_add_ext(cert, ext, -1) == 1;
	}
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(value);
	ASN1_OBJECT_free(oid);
	return ok ? 1 : -1;
}

int acme_alpn_make(const char *name, const char *keyauth, X509 **cert_r, EVP_PKEY **key_r)
{
	EVP_PKEY *key = acme_key_new();
	X509 *cert = X509_new();
	X509_EXTENSION *ext;
	struct buf san;
	int ok;

	buf_init(&san, 0);
	buf_printf(&san, "DNS:%s", name);
	ok = key != NULL && cert != NULL && X509_set_version(cert, 2) == 1 &&
	     ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) == 1 &&
	     X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(cert), 7L * 86400) != NULL &&
	     X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
					(const unsigned char *)name, -1, -1, 0) == 1 &&
	     X509_set_issuer_name(cert, X509_get_subject_name(cert)) == 1 &&
	     X509_set_pubkey(cert, key) == 1;
	if (ok && (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
					     buf_cstr(&san))) != NULL) {
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	} else {
		ok = 0;
	}
	ok = ok && add_acme_identifier(cert, keyauth) > 0 && X509_sign(cert, key, EVP_sha256()) > 0;
	buf_deinit(&san);
	if (!ok) {
		X509_free(cert);
		EVP_PKEY_free(key);
		return -1;
	}
	*cert_r = cert;
	*key_r = key;
	return 1;
}
