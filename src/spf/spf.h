#ifndef CORREIO_SPF_H
#define CORREIO_SPF_H
/*
 * spf: Sender Policy Framework (RFC 7208).  The pure parts - the record
 * parser and the macro expander - and check_host() as an asynchronous
 * evaluator that asks its caller for each DNS answer (so that it runs on
 * the event loop through the c-ares resolver, and in tests on anything).
 * Limits of §4.6.4: 10 terms that cause DNS lookups, 2 lookups that find
 * nothing (void lookups), 10 MX names per mx mechanism.  The ptr mechanism
 * (which §5.5 says not to use) never matches; it still counts as a lookup.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "mta/dns.h"

enum spf_result {
	SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "none", "neutral", "pass", ... */
const char *spf_result_name(enum spf_result r);

enum spf_mech { SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6, SPF_EXISTS };

#define SPF_MAX_TERMS 64

struct spf_term {
	enum spf_mech mech;
	enum spf_result qualifier;	/* PASS '+', FAIL '-', SOFTFAIL '~', NEUTRAL '?' */
	const char *spec;		/* domain-spec (macros unexpanded), NULL if none */
	size_t spec_len;
	unsigned cidr4, cidr6;		/* prefix lengths (32 / 128 when absent) */
	unsigned char ip[16];		/* ip4 (4 bytes) / ip6 */
};

struct spf_record {
	unsigned n;
	struct spf_term terms[SPF_MAX_TERMS];
	const char *redirect;		/* redirect= domain-spec, or NULL */
	size_t redirect_len;
};

/* Is txt an SPF record ("v=spf1" then a space or the end)? */
bool spf_is_record(const char *txt);
/* Parse record txt (pointers into it).  Returns 1, or -1 with *error_r
   (a syntax error: permerror). */
int spf_record_parse(const char *txt, struct spf_record *r, const char **error_r);

/* What macros expand to (§7.2). */
struct spf_macro_ctx {
	const char *sender;	/* local-part@domain */
	const char *domain;	/* <domain> of the current check_host */
	const struct sockaddr_storage *ip;
	const char *helo;
};

/* Expand the domain-spec spec[0..len) into out (a domain name, at most 253
   bytes: longer results lose labels from the left, §7.3).  Returns 1, or
   -1 with *error_r (bad macro syntax: permerror). */
int spf_macro_expand(const char *spec, size_t len, const struct spf_macro_ctx *ctx,
		     char *out, size_t size, const char **error_r);

/* Does ip fall in the prefix net/bits of the same family? */
bool spf_ip_match(const struct sockaddr_storage *ip, const unsigned char *net, bool v6,
		  unsigned bits);

/* ---- check_host (spf_eval.c) ---- */

struct spf_check;

/* Ask for records; the answer must come through spf_check_answer(). */
typedef void spf_query_fn(void *ctx, struct spf_check *c, const char *name,
			  enum dns_type type);
typedef void spf_done_fn(void *ctx, enum spf_result result, const char *detail);

/* Start check_host(ip, domain, sender) (RFC 7208 §4).  query is called for
   each lookup (one at a time); done once at the end, possibly from inside
   this call or spf_check_answer(). */
struct spf_check *spf_check_new(const struct sockaddr_storage *ip, const char *domain,
				const char *sender, const char *helo, spf_query_fn *query,
				spf_done_fn *done, void *ctx);
void spf_check_start(struct spf_check *c);
/* The answer to the last query. */
void spf_check_answer(struct spf_check *c, const struct dns_answer *a);
void spf_check_free(struct spf_check **c);

#endif
