#ifndef CORREIO_DKIM_H
#define CORREIO_DKIM_H
/*
 * dkim: DomainKeys Identified Mail (RFC 6376) with RSA-SHA256 and
 * Ed25519-SHA256 (RFC 8463), on OpenSSL 3.
 *
 * The pure parts (no I/O): the tag-list parser of DKIM-Signature fields and
 * key records, the header and body canonicalizations, and the signer, which
 * reads a message as correio stores it (LF line ends; each LF stands for
 * the CRLF of the wire form) and writes the DKIM-Signature fields to add.
 * dkim_keys.c holds the I/O: the key files under data_dir/dkim/<domain>/
 * and the DNS records that publish them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* ---- tag lists (RFC 6376 §3.2) ---- */

#define DKIM_TAGS_MAX 32

struct dkim_tag {
	const char *name;	/* points into the parsed text */
	size_t name_len;
	const char *value;	/* FWS inside the value is kept */
	size_t value_len;
};

struct dkim_tags {
	unsigned n;
	struct dkim_tag tag[DKIM_TAGS_MAX];
};

/* Parse the tag list s[0..len).  Returns 1, or -1 with *error_r (bad
   syntax, a tag given twice, more than DKIM_TAGS_MAX tags). */
int dkim_tags_parse(const char *s, size_t len, struct dkim_tags *r,
		    const char **error_r);
/* The value of the tag called name (case-sensitive, as the RFC says), with
   its length in *len_r; NULL if absent. */
const char *dkim_tags_get(const struct dkim_tags *t, const char *name, size_t *len_r);

/* ---- canonicalization (RFC 6376 §3.4) ---- */

enum dkim_canon { DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED };

/* Append the canonical form of one header field (its raw text
   field[0..len), continuation lines included, with or without its final
   LF) to out, ending in CRLF.  Returns 1, or -1 when out is full. */
int dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out);

/* A body hash computed as the body goes by. */
struct dkim_body;

/* limit: hash at most this many canonical bytes (the l= tag), or
   UINT64_MAX.  NULL if OpenSSL refuses SHA-256. */
struct dkim_body *dkim_body_new(enum dkim_canon c, uint64_t limit);
void dkim_body_feed(struct dkim_body *b, const char *p, size_t n);
/* Finish: the SHA-256 of the canonical body into digest (32 bytes). */
void dkim_body_final(struct dkim_body *b, unsigned char digest[32]);
void dkim_body_free(struct dkim_body **b);

/* ---- header sections ---- */

/* One header field of a header section, as found by dkim_fields_next. */
struct dkim_field {
	const char *text;	/* the raw field, continuation lines included */
	size_t len;		/* up to and including its final LF, if any */
	size_t name_len;	/* the name, before the colon */
	const char *value;	/* after the colon */
	size_t value_len;	/* up to the final LF (excluded) */
};

/* The next field of header section text[0..len) at *pos (advanced).
   Returns 1, or 0 at the end (or at an empty line). */
int dkim_fields_next(const char *text, size_t len, size_t *pos, struct dkim_field *f);

/* The domain of the (first) address of a From: value, lower case, into
   out.  Returns 1, or 0 when there is none. */
int dkim_from_domain(const char *value, size_t len, char *out, size_t size);

/* ---- signing ---- */

enum dkim_alg { DKIM_ALG_RSA_SHA256, DKIM_ALG_ED25519_SHA256 };

struct dkim_key {
	enum dkim_alg alg;
	char selector[64];
	void *pkey;		/* EVP_PKEY, owned */
};

struct dkim_signer;

/* A signer for domain with the given keys (copied: the EVP_PKEYs are
   up-referenced).  time: the t= tag (seconds since the epoch). */
struct dkim_signer *dkim_signer_new(const char *domain, const struct dkim_key *keys,
				    unsigned n_keys, uint64_t time);
/* The message text, from its first header field on, in any pieces. */
void dkim_signer_feed(struct dkim_signer *s, const char *p, size_t n);
/* Append one DKIM-Signature field per key (LF line ends, folded) to out.
   Returns 1, 0 when the message cannot be signed (header section too
   large), -1 on an OpenSSL failure. */
int dkim_signer_finish(struct dkim_signer *s, struct buf *out);
void dkim_signer_free(struct dkim_signer **s);

/* ---- verifying (dkim_verify.c) ---- */

/* A parsed DKIM-Signature field. */
struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon canon_header, canon_body;
	char domain[256];	/* d=, lower case */
	char selector[64];	/* s= */
	char auid_domain[256];	/* the domain of i= (d= when absent) */
	char headers[1024];	/* h=, without white space, lower case */
	unsigned char bh[64];
	size_t bh_len;
	unsigned char b[1024];
	size_t b_len;
	uint64_t limit;		/* l=, UINT64_MAX when absent */
	uint64_t expires;	/* x=, 0 when absent */
	char b_prefix[8];	/* the first characters of b=, for the header.b of RFC 6008 */
};

/* Parse the value of a DKIM-Signature field.  Returns 1, or -1 with
   *error_r (syntax, a missing required tag, an unknown algorithm or
   version: a permanent error, dkim=permerror / neutral). */
int dkim_sig_parse(const char *value, size_t len, struct dkim_sig *r, const char **error_r);

/* Parse a key record (TXT of <selector>._domainkey.<domain>) for a
   signature of algorithm alg into an EVP_PKEY (*pkey_r, to free with
   EVP_PKEY_free).  Returns 1, 0 when the key is revoked (p= empty), -1
   with *error_r. */
int dkim_key_parse(const char *txt, size_t len, enum dkim_alg alg, void **pkey_r,
		   const char **error_r);

/* Check signature sig (the raw field sig_field of header section
   header[0..len)) against the body hash computed with its c= and l= and
   the key.  Returns 1 pass, 0 fail (with *error_r: body hash or
   signature mismatch). */
int dkim_sig_verify(const char *header, size_t len, const struct dkim_field *sig_field,
		    const struct dkim_sig *sig, void *pkey, const unsigned char body_hash[32],
		    const char **error_r);

/* ---- keys (dkim_keys.c) ---- */

/* Create data_dir/dkim/<domain>/ (0700) if needed, make a new RSA-2048 and
   a new Ed25519 key (files <selector>.rsa.key and <selector>.ed25519.key,
   0600), and make them the ones that sign.  The selectors are
   c<yyyymm>r and c<yyyymm>e, with a number added when taken.  Their names
   are written to rsa_sel/ed_sel (64 bytes each).  Returns 1, or -1 with
   *error_r. */
int dkim_keys_create(const char *data_dir, const char *domain, char *rsa_sel,
		     char *ed_sel, const char **error_r);
/* Load the signing keys of domain into keys[0..2) (*n_r of them; free
   them with dkim_keys_unload).  The keys are cached: read from disk the
   first time, and again only when the domain's "signing" file was
   replaced (dkim_keys_create: a rotation); thread-safe.  Returns 1, 0
   when the domain has none, -1 with *error_r. */
int dkim_keys_load(const char *data_dir, const char *domain, struct dkim_key *keys,
		   unsigned *n_r, const char **error_r);
void dkim_keys_unload(struct dkim_key *keys, unsigned n);

/* One published key of a domain. */
struct dkim_record {
	char selector[64];
	enum dkim_alg alg;
	bool signing;		/* used for new signatures */
	char txt[1500];		/* "v=DKIM1; k=...; p=..." */
};

/* Every key of domain (signing or only still published), sorted by
   selector, into recs[0..max).  Returns the count (0: none), or -1 with
   *error_r. */
int dkim_keys_list(const char *data_dir, const char *domain, struct dkim_record *recs,
		   unsigned max, const char **error_r);
/* Remove the key of selector (it must not be signing).  Returns 1, 0 when
   there is no such selector, -1 with *error_r. */
int dkim_keys_retire(const char *data_dir, const char *domain, const char *selector,
		     const char **error_r);

#endif
