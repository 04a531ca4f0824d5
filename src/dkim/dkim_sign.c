/*
 * dkim_sign.c - DKIM signatures of outgoing mail (RFC 6376 §5, RFC 8463):
 * relaxed/relaxed, SHA-256, over the fields RFC 6376 §5.4.1 recommends,
 * with From: signed once more than it occurs so that no From: can be added.
 * The header section is kept in memory; the body is hashed as it passes.
 */
#include "dkim/dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/util.h"
#include "lib/encoding.h"

#define HEADER_MAX (512 * 1024)

static const char *const signed_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"mime-version", "content-type", "content-transfer-encoding",
	"in-reply-to", "references",
};
#define N_SIGNED (sizeof(signed_fields) / sizeof(signed_fields[0]))

struct dkim_signer {
	char domain[256];
	struct dkim_key keys[4];
	unsigned n_keys;
	uint64_t time;
	struct buf header;
	bool in_header;		/* still reading the header section */
	bool prev_nl;		/* the last byte read ended a line */
	bool too_large;
	struct dkim_body *body;
};

struct dkim_signer *dkim_signer_new(const char *domain, const struct dkim_key *keys,
				    unsigned n_keys, uint64_t time)
{
	struct dkim_signer *s = xcalloc(1, sizeof(*s));

	str_copy(s->domain, domain, sizeof(s->domain));
	for (unsigned i = 0; i < n_keys && i < 4; i++) {
		s->keys[i] = keys[i];
		EVP_PKEY_up_ref(keys[i].pkey);
		s->n_keys++;
	}
	s->time = time;
	buf_init(&s->header, HEADER_MAX);
	s->in_header = s->prev_nl = true;
	s->body = dkim_body_new(DKIM_CANON_RELAXED, UINT64_MAX);
	if (s->body == NULL)
		dkim_signer_free(&s);
	return s;
}

void dkim_signer_feed(struct dkim_signer *s, const char *p, size_t n)
{
	size_t i = 0;

	while (s->in_header && i < n) {
		char c = p[i++];
		if (c == '\n' && s->prev_nl) {
			s->in_header = false;	/* the empty line */
			break;
		}
		if (!s->too_large && buf_putc(&s->header, c) < 0)
			s->too_large = true;
		s->prev_nl = c == '\n';
	}
	if (!s->in_header && i < n)
		dkim_body_feed(s->body, p + i, n - i);
}

static bool name_is(const struct dkim_field *f, const char *name)
{
	size_t n = f->name_len;

	while (n > 0 && (f->text[n - 1] == ' ' || f->text[n - 1] == '\t'))
		n--;
	return n == strlen(name) && strncasecmp(f->text, name, n) == 0;
}

/* The instance of name that is `skip` from the bottom, or 0. */
static int find_from_bottom(const struct buf *h, const char *name, unsigned skip,
			    struct dkim_field *r)
{
	struct dkim_field f;
	size_t pos = 0;
	unsigned count = 0, want;

	while (dkim_fields_next(h->data, h->len, &pos, &f) > 0)
		count += name_is(&f, name);
	if (skip >= count)
		return 0;
	want = count - skip;	/* 1-based from the top */
	pos = 0;
	count = 0;
	while (dkim_fields_next(h->data, h->len, &pos, &f) > 0) {
		if (name_is(&f, name) && ++count == want) {
			*r = f;
			return 1;
		}
	}
	return 0;
}

/* h= for this message, and the canonical signed fields into data. */
static int signed_header_data(const struct dkim_signer *s, struct buf *hlist,
			      struct buf *data)
{
	unsigned uses[N_SIGNED] = { 0 };
	struct dkim_field f;

	for (size_t k = 0; k < N_SIGNED; k++) {
		for (unsigned skip = 0;; skip++) {
			bool present = find_from_bottom(&s->header, signed_fields[k], skip, &f) > 0;
			bool oversign = !present && k == 0 && skip == uses[k];
			if (!present && !oversign)
				break;
			buf_printf(hlist, "%s%s", hlist->len > 0 ? ":" : "", signed_fields[k]);
			uses[k]++;
			if (present && dkim_canon_header(DKIM_CANON_RELAXED, f.text, f.len, data) < 0)
				return -1;
			if (oversign)
				break;
		}
	}
	return 1;
}

/* Append text to field, folded: a line break before a line gets longer
   than 76 characters (the text has no spaces: base64). */
static void append_folded(struct buf *field, const char *text, size_t col)
{
	for (size_t i = 0; text[i] != '\0'; i++) {
		if (col >= 76) {
			buf_puts(field, "\n\t ");
			col = 9;
		}
		buf_putc(field, text[i]);
		col++;
	}
}

static int sign_data(const struct dkim_key *k, const struct buf *data, struct buf *sig_b64)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32], sig[1024];
	unsigned dlen = sizeof(digest);
	size_t slen = sizeof(sig);
	int ok;

	if (md == NULL)
		return -1;
	if (k->alg == DKIM_ALG_RSA_SHA256) {
		ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		     EVP_DigestSign(md, sig, &slen, (const unsigned char *)data->data,
				    data->len) == 1;
	} else {
		/* RFC 8463 §3: Ed25519 (pure) over the SHA-256 of the data */
		ok = EVP_Digest(data->data, data->len, digest, &dlen, EVP_sha256(), NULL) == 1 &&
		     EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestSign(md, sig, &slen, digest, dlen) == 1;
	}
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	base64_encode(sig, slen, sig_b64);
	return 1;
}

/* One DKIM-Signature field for key k, appended to out. */
static int sign_one(const struct dkim_signer *s, const struct dkim_key *k,
		    const char *bh, const struct buf *hlist, const struct buf *hdata,
		    struct buf *out)
{
	struct buf field, data, sig;
	int ret = -1;

	buf_init(&field, 0);
	buf_init(&data, 0);
	buf_init(&sig, 0);
	buf_printf(&field, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;\n"
		   "\td=%s; s=%s; t=%llu;\n\th=",
		   k->alg == DKIM_ALG_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256",
		   s->domain, k->selector, (unsigned long long)s->time);
	append_folded(&field, buf_cstr(hlist), 11);
	buf_puts(&field, ";\n\tbh=");
	append_folded(&field, bh, 12);
	buf_puts(&field, ";\n\tb=");
	/* the signed data: the fields, then this one with b= empty and no CRLF */
	buf_append(&data, hdata->data, hdata->len);
	if (dkim_canon_header(DKIM_CANON_RELAXED, field.data, field.len, &data) < 0)
		goto out;
	buf_truncate(&data, data.len - 2);
	if (sign_data(k, &data, &sig) < 0)
		goto out;
	append_folded(&field, buf_cstr(&sig), 11);
	buf_puts(&field, "\n");
	buf_append(out, field.data, field.len);
	ret = 1;
out:
	buf_deinit(&field);
	buf_deinit(&data);
	buf_deinit(&sig);
	return ret;
}

int dkim_signer_finish(struct dkim_signer *s, struct buf *out)
{
	unsigned char digest[32];
	struct buf hlist, hdata, bh;
	int ret = 1;

	if (s->too_large)
		return 0;
	dkim_body_final(s->body, digest);
	buf_init(&hlist, 0);
	buf_init(&hdata, 0);
	buf_init(&bh, 0);
	base64_encode(digest, sizeof(digest), &bh);
	if (signed_header_data(s, &hlist, &hdata) < 0)
		ret = -1;
	for (unsigned i = 0; ret > 0 && i < s->n_keys; i++)
		ret = sign_one(s, &s->keys[i], buf_cstr(&bh), &hlist, &hdata, out);
	buf_deinit(&hlist);
	buf_deinit(&hdata);
	buf_deinit(&bh);
	return ret;
}

void dkim_signer_free(struct dkim_signer **sp)
{
	struct dkim_signer *s = *sp;

	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n_keys; i++)
		EVP_PKEY_free(s->keys[i].pkey);
	buf_deinit(&s->header);
	dkim_body_free(&s->body);
	free(s);
	*sp = NULL;
}
