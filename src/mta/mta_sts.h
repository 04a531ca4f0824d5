#ifndef CORREIO_MTA_STS_H
#define CORREIO_MTA_STS_H
/*
 * mta_sts: the pure parts of SMTP MTA Strict Transport Security (RFC
 * 8461): the `_mta-sts` TXT record, the HTTP response that carries a
 * policy, the policy text itself, and the match of a mail exchanger's
 * name against the policy's mx patterns.  No I/O: mta_sts_fetch.c does the
 * lookups, the HTTPS fetch and the cache.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MTA_STS_MX_TEXT 4096		/* bytes of mx patterns kept from one policy */
#define MTA_STS_MAX_POLICY 65536	/* bytes of policy body (RFC 8461 §3.3) */
#define MTA_STS_MAX_AGE 31557600	/* seconds (§3.2) */

enum mta_sts_mode { MTA_STS_NONE, MTA_STS_TESTING, MTA_STS_ENFORCE };

struct mta_sts_policy {
	enum mta_sts_mode mode;
	uint64_t max_age;		/* seconds */
	unsigned n_mx;
	/* the mx patterns, each with its NUL, back to back (mta_sts_mx_next):
	   "mx.example.net" or "*.example.net", lower case, no final dot; the
	   patterns past MTA_STS_MX_TEXT bytes are left out (some 200 names
	   of usual length) */
	char mx[MTA_STS_MX_TEXT];
};

/* p's mx pattern after prev (NULL: the first), or NULL past the last. */
const char *mta_sts_mx_next(const struct mta_sts_policy *p, const char *prev);

/* "none", "testing", "enforce". */
const char *mta_sts_mode_name(enum mta_sts_mode mode);

/* One TXT record of _mta-sts.DOMAIN: "v=STSv1; id=20190429T010101;"
   (§3.1).  Returns 1 with the id (1 to 32 letters and digits) in id
   (size >= 33), 0 when the record is not an STS record (another version,
   other text: ignored), -1 for an STS record with bad syntax. */
int mta_sts_txt_parse(const char *txt, char *id, size_t size);

/* A policy body (§3.2): "version: STSv1", "mode: ...", "max_age: ...",
   "mx: ..." lines, LF or CRLF, unknown fields ignored, the first of a
   repeated field used (mx repeats).  Returns 1 with *p filled, or -1 with
   *error_r (static text) when the version, the mode or max_age is missing
   or bad, or mx is missing in a mode other than none. */
int mta_sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *p,
			 const char **error_r);

/* Does host (a mail exchanger's name, any case, an optional final dot)
   match one of p's mx patterns?  "*.example.net" matches exactly one more
   label on the left (§4.1). */
bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *host);

/* The answer to "GET /.well-known/mta-sts.txt" (HTTP/1.0 or 1.1, read to
   the end): it must be "200" (redirects are not followed, §3.3) with a
   Content-Type of text/plain; a Content-Length, when present, must match
   what came.  Returns 1 with *body_r / *body_len_r pointing into data, or
   -1 with *error_r (static text). */
int mta_sts_http_parse(const char *data, size_t len, const char **body_r, size_t *body_len_r,
		       const char **error_r);

#endif
