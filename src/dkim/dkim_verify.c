/*
 * dkim_verify.c - checking DKIM signatures (RFC 6376 §6): the
 * DKIM-Signature field, the key record, and the header hash with the b=
 * value removed from the signature's own field.
 */
#include "dkim/dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/encoding.h"
#include "lib/util.h"

/* A tag's base64 value, folding white space inside, into out[0..max).
   1 or -1. */
static int b64_decode(const char *p, size_t n, unsigned char *out, size_t max, size_t *len_r)
{
	struct buf raw;
	int ret;

	*len_r = 0;
	buf_init(&raw, max);
	ret = base64_decode_fws(p, n, &raw);
	if (ret > 0) {
		if (raw.len > 0)
			memcpy(out, raw.data, raw.len);
		*len_r = raw.len;
	}
	buf_deinit(&raw);
	return ret;
}

static bool value_is(const char *v, size_t len, const char *s)
{
	return v != NULL && len == strlen(s) && strncasecmp(v, s, len) == 0;
}

static int copy_lower(const char *v, size_t len, char *out, size_t size)
{
	if (v == NULL || len == 0 || len >= size)
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] + 32) : v[i];
	out[len] = '\0';
	return 1;
}

static int parse_canon(const char *v, size_t len, struct dkim_sig *r)
{
	const char *slash = v == NULL ? NULL : memchr(v, '/', len);
	size_t hl = slash == NULL ? len : (size_t)(slash - v);

	r->canon_header = r->canon_body = DKIM_CANON_SIMPLE;
	if (v == NULL)
		return 1;
	if (value_is(v, hl, "relaxed"))
		r->canon_header = DKIM_CANON_RELAXED;
	else if (!value_is(v, hl, "simple"))
		return -1;
	if (slash == NULL)
		return 1;
	if (value_is(slash + 1, len - hl - 1, "relaxed"))
		r->canon_body = DKIM_CANON_RELAXED;
	else if (!value_is(slash + 1, len - hl - 1, "simple"))
		return -1;
	return 1;
}

static int parse_number(const char *v, size_t len, uint64_t *r)
{
	char num[24];

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, v, len);
	num[len] = '\0';
	return parse_uint(num, r);
}

int dkim_sig_parse(const char *value, size_t len, struct dkim_sig *r, const char **error_r)
{
	struct dkim_tags t;
	const char *v;
	size_t n, k = 0;

	memset(r, 0, sizeof(*r));
	r->limit = UINT64_MAX;
	if (dkim_tags_parse(value, len, &t, error_r) < 0)
		return -1;
	*error_r = "unsupported version";
	v = dkim_tags_get(&t, "v", &n);
	if (!value_is(v, n, "1"))
		return -1;
	*error_r = "unsupported algorithm";
	v = dkim_tags_get(&t, "a", &n);
	if (value_is(v, n, "rsa-sha256"))
		r->alg = DKIM_ALG_RSA_SHA256;
	else if (value_is(v, n, "ed25519-sha256"))
		r->alg = DKIM_ALG_ED25519_SHA256;
	else
		return -1;
	*error_r = "bad c= tag";
	v = dkim_tags_get(&t, "c", &n);
	if (parse_canon(v, n, r) < 0)
		return -1;
	*error_r = "bad or missing d= tag";
	v = dkim_tags_get(&t, "d", &n);
	if (copy_lower(v, n, r->domain, sizeof(r->domain)) < 0)
		return -1;
	*error_r = "bad or missing s= tag";
	v = dkim_tags_get(&t, "s", &n);
	if (v == NULL || n == 0 || n >= sizeof(r->selector))
		return -1;
	memcpy(r->selector, v, n);
	r->selector[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || v[i] == '.' || v[i] == '_'))
			return -1;
	*error_r = "bad or missing h= tag";
	v = dkim_tags_get(&t, "h", &n);
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (k + 1 >= sizeof(r->headers))
			return -1;
		r->headers[k++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	r->headers[k] = '\0';
	if (k == 0)
		return -1;
	/* From must be signed (§5.4) */
	{
		bool from = false;
		for (const char *p = r->headers; *p != '\0';) {
			size_t l = strcspn(p, ":");
			from |= l == 4 && strncmp(p, "from", 4) == 0;
			p += l + (p[l] == ':');
		}
		*error_r = "From is not signed";
		if (!from)
			return -1;
	}
	*error_r = "bad or missing bh= tag";
	v = dkim_tags_get(&t, "bh", &n);
	if (v == NULL || b64_decode(v, n, r->bh, sizeof(r->bh), &r->bh_len) < 0 || r->bh_len != 32)
		return -1;
	*error_r = "bad or missing b= tag";
	v = dkim_tags_get(&t, "b", &n);
	if (v == NULL || b64_decode(v, n, r->b, sizeof(r->b), &r->b_len) < 0 || r->b_len == 0)
		return -1;
	for (size_t i = 0, o = 0; i < n && o < sizeof(r->b_prefix) - 1; i++)
		if (v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n')
			r->b_prefix[o++] = v[i];
	*error_r = "bad l= tag";
	v = dkim_tags_get(&t, "l", &n);
	if (v != NULL && parse_number(v, n, &r->limit) < 0)
		return -1;
	*error_r = "bad x= tag";
	v = dkim_tags_get(&t, "x", &n);
	if (v != NULL && parse_number(v, n, &r->expires) < 0)
		return -1;
	v = dkim_tags_get(&t, "i", &n);
	if (v != NULL) {
		const char *at = memchr(v, '@', n);
		size_t dl;
		*error_r = "bad i= tag";
		if (at == NULL)
			return -1;
		dl = n - (size_t)(at + 1 - v);
		if (copy_lower(at + 1, dl, r->auid_domain, sizeof(r->auid_domain)) < 0)
			return -1;
		/* the AUID must be in d= or a subdomain of it (§3.5) */
		*error_r = "i= is not within d=";
		dl = strlen(r->auid_domain);
		if (!(strcmp(r->auid_domain, r->domain) == 0 ||
		      (dl > strlen(r->domain) && r->auid_domain[dl - strlen(r->domain) - 1] == '.' &&
		       strcmp(r->auid_domain + dl - strlen(r->domain), r->domain) == 0)))
			return -1;
	} else {
		str_copy(r->auid_domain, r->domain, sizeof(r->auid_domain));
	}
	return 1;
}

int dkim_key_parse(const char *txt, size_t len, enum dkim_alg alg, void **pkey_r,
		   const char **error_r)
{
	struct dkim_tags t;
	const char *v;
	size_t n;
	unsigned char der[1024];
	size_t der_len;
	EVP_PKEY *k = NULL;

	if (dkim_tags_parse(txt, len, &t, error_r) < 0)
		return -1;
	v = dkim_tags_get(&t, "v", &n);
	*error_r = "not a DKIM1 key record";
	if (v != NULL && !value_is(v, n, "DKIM1"))
		return -1;
	v = dkim_tags_get(&t, "k", &n);
	*error_r = "key type does not match the signature's algorithm";
	if (alg == DKIM_ALG_RSA_SHA256 ? (v != NULL && !value_is(v, n, "rsa")) :
					 !value_is(v, n, "ed25519"))
		return -1;
	v = dkim_tags_get(&t, "h", &n);
	*error_r = "key record does not allow sha256";
	if (v != NULL) {
		bool ok = false;
		for (size_t i = 0; i < n;) {
			size_t l = 0;
			while (i + l < n && v[i + l] != ':')
				l++;
			const char *h = v + i;
			size_t hl = l;
			while (hl > 0 && (h[0] == ' ' || h[0] == '\t'))
				h++, hl--;
			while (hl > 0 && (h[hl - 1] == ' ' || h[hl - 1] == '\t'))
				hl--;
			ok |= value_is(h, hl, "sha256");
			i += l + 1;
		}
		if (!ok)
			return -1;
	}
	v = dkim_tags_get(&t, "p", &n);
	*error_r = "key record without p=";
	if (v == NULL)
		return -1;
	*error_r = "bad base64 in p=";
	if (b64_decode(v, n, der, sizeof(der), &der_len) < 0)
		return -1;
	if (der_len == 0) {
		*error_r = "key revoked";
		return 0;
	}
	*error_r = "unusable public key";
	if (alg == DKIM_ALG_RSA_SHA256) {
		const unsigned char *p = der;
		k = d2i_PUBKEY(NULL, &p, (long)der_len);
		if (k != NULL && (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
				  EVP_PKEY_get_bits(k) < 1024)) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	} else if (der_len == 32) {
		k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, der_len);
	}
	if (k == NULL)
		return -1;
	*pkey_r = k;
	return 1;
}

static bool field_named(const struct dkim_field *f, const char *name, size_t len)
{
	size_t n = f->name_len;

	while (n > 0 && (f->text[n - 1] == ' ' || f->text[n - 1] == '\t'))
		n--;
	return n == len && strncasecmp(f->text, name, n) == 0;
}

/* The instance of name[0..len) `skip` from the bottom, or 0. */
static int nth_from_bottom(const char *h, size_t hlen, const char *name, size_t len,
			   unsigned skip, struct dkim_field *r)
{
	struct dkim_field f;
	size_t pos = 0;
	unsigned count = 0, want, seen = 0;

	while (dkim_fields_next(h, hlen, &pos, &f) > 0)
		count += field_named(&f, name, len);
	if (skip >= count)
		return 0;
	want = count - skip;
	pos = 0;
	while (dkim_fields_next(h, hlen, &pos, &f) > 0) {
		if (field_named(&f, name, len) && ++seen == want) {
			*r = f;
			return 1;
		}
	}
	return 0;
}

/* The signature's own field with the value of its b= tag removed. */
static void without_b(const struct dkim_field *f, struct buf *out)
{
	struct dkim_tags t;
	const char *error, *v;
	size_t n, start, end;

	buf_append(out, f->text, f->len);
	if (dkim_tags_parse(f->value, f->value_len, &t, &error) < 0 ||
	    (v = dkim_tags_get(&t, "b", &n)) == NULL)
		return;
	start = (size_t)(v - f->text);
	end = start;
	while (end < f->value_len + (size_t)(f->value - f->text) && f->text[end] != ';')
		end++;
	buf_truncate(out, 0);
	buf_append(out, f->text, start);
	buf_append(out, f->text + end, f->len - end);
}

int dkim_sig_verify(const char *header, size_t len, const struct dkim_field *sig_field,
		    const struct dkim_sig *sig, void *pkey, const unsigned char body_hash[32],
		    const char **error_r)
{
	unsigned uses[64] = { 0 };
	const char *names[64];
	size_t name_lens[64];
	unsigned n_names = 0;
	struct buf data, own;
	unsigned char digest[32];
	unsigned dlen = sizeof(digest);
	EVP_MD_CTX *md;
	int ok;

	if (memcmp(body_hash, sig->bh, 32) != 0) {
		*error_r = "body hash did not verify";
		return 0;
	}
	buf_init(&data, 0);
	for (const char *p = sig->headers; *p != '\0';) {
		size_t l = strcspn(p, ":");
		unsigned k;
		struct dkim_field f;

		for (k = 0; k < n_names; k++)
			if (name_lens[k] == l && strncmp(names[k], p, l) == 0)
				break;
		if (k == n_names && n_names < 64) {
			names[n_names] = p;
			name_lens[n_names++] = l;
		}
		if (k < 64 && nth_from_bottom(header, len, p, l, uses[k]++, &f) > 0)
			dkim_canon_header(sig->canon_header, f.text, f.len, &data);
		p += l + (p[l] == ':');
	}
	buf_init(&own, 0);
	without_b(sig_field, &own);
	dkim_canon_header(sig->canon_header, own.data, own.len, &data);
	buf_deinit(&own);
	if (data.len >= 2)
		buf_truncate(&data, data.len - 2);	/* no CRLF after the signature */
	md = EVP_MD_CTX_new();
	if (sig->alg == DKIM_ALG_RSA_SHA256) {
		ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		     EVP_DigestVerify(md, sig->b, sig->b_len, (const unsigned char *)data.data,
				      data.len) == 1;
	} else {
		ok = EVP_Digest(data.data, data.len, digest, &dlen, EVP_sha256(), NULL) == 1 &&
		     EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
		     EVP_DigestVerify(md, sig->b, sig->b_len, digest, dlen) == 1;
	}
	EVP_MD_CTX_free(md);
	buf_deinit(&data);
	if (!ok)
		*error_r = "signature did not verify";
	return ok ? 1 : 0;
}
