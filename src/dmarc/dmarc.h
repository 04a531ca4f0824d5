#ifndef CORREIO_DMARC_H
#define CORREIO_DMARC_H
/*
 * dmarc: Domain-based Message Authentication, Reporting and Conformance
 * (RFC 7489) - the pure parts: the policy record, the organizational
 * domain from the Public Suffix List (Debian's publicsuffix package), and
 * identifier alignment.  The lookups and the verdict are mailauth's.
 */
#include <stdbool.h>
#include <stddef.h>

#define DMARC_PSL_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

enum dmarc_policy { DMARC_NONE, DMARC_QUARANTINE, DMARC_REJECT };

struct dmarc_record {
	enum dmarc_policy p, sp;	/* sp is p when absent */
	unsigned pct;			/* 0..100, 100 when absent */
	bool adkim_strict, aspf_strict;
};

/* Is txt a DMARC record ("v=DMARC1" first)? */
bool dmarc_is_record(const char *txt);
/* Parse a DMARC record.  Returns 1, or -1 with *error_r (not usable: the
   domain is then treated as having no policy). */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
		       const char **error_r);
const char *dmarc_policy_name(enum dmarc_policy p);

/* The Public Suffix List. */
struct dmarc_psl;

/* Load the list from the text data[0..len) (the .dat format: rules,
   wildcards "*.", exceptions "!", comments "//").  Never NULL. */
struct dmarc_psl *dmarc_psl_parse(const char *data, size_t len);
/* The list of DMARC_PSL_PATH, loaded on first use (NULL if unreadable:
   then the organizational domain is the last two labels). */
const struct dmarc_psl *dmarc_psl_default(void);
void dmarc_psl_free(struct dmarc_psl **psl);

/* The organizational domain of domain (lower case) into out: the public
   suffix plus one label (RFC 7489 §3.2); the domain itself when it is a
   public suffix.  psl NULL: the last two labels.  Returns 1, or -1 when
   out is too small. */
int dmarc_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t size);

/* Are a and b aligned: equal (strict) or of the same organizational
   domain (relaxed)? */
bool dmarc_aligned(const struct dmarc_psl *psl, const char *a, const char *b, bool strict);

#endif
