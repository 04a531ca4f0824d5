#ifndef CORREIO_DANE_H
#define CORREIO_DANE_H
/*
 * dane: the DNSSEC half of DANE for SMTP (RFC 7672): is a destination's
 * MX record set validated, and what TLSA records (_25._tcp.MXHOST) do its
 * mail exchangers publish.  libunbound validates, forwarding to [dns]
 * dnssec_resolver with the trust anchors of [dns] trust_anchor_file; its
 * answers come back on the event loop.  Off (dane_open gives NULL) when
 * no dnssec_resolver is set.  The TLS half is tls_connect_dane().
 * Loop thread only.
 */
#include <stdbool.h>
#include <stdint.h>

#include "mta/dns.h"

#define DANE_MAX_TLSA 8

struct dane;
struct dane_lookup;
struct event_base;
struct config;

struct dane_tlsa {
	uint8_t usage, selector, mtype;
	uint16_t len;
	unsigned char data[64];		/* SHA-512 at most: longer ones are left out */
};

enum dane_host_state {
	DANE_HOST_NONE,		/* no validated TLSA records: no DANE here */
	DANE_HOST_TLSA,		/* validated TLSA records: TLS must match them */
	DANE_HOST_FAILED,	/* the TLSA lookup failed or was bogus: do not use */
};

struct dane_host {
	enum dane_host_state state;
	unsigned n;		/* records, usable or not (0 never with TLSA) */
	struct dane_tlsa tlsa[DANE_MAX_TLSA];
};

enum dane_status {
	DANE_INSECURE,		/* the MX records are not signed: no DANE */
	DANE_SECURE,		/* signed: hosts[] says each host's TLSA */
	DANE_FAILED,		/* bogus or a lookup failure: defer */
};

struct dane_result {
	enum dane_status status;
	char error[300];			/* with DANE_FAILED */
	struct dane_host hosts[DNS_MAX_HOSTS];	/* as the hosts of the dns_mx */
};

/* Returns 1 with *r (NULL when DANE is off), or -1 with *error_r. */
int dane_open(struct event_base *base, const struct config *cfg, struct dane **r,
	      const char **error_r);
/* Ends every lookup without calling back. */
void dane_free(struct dane **d);

/* result valid during the call only. */
typedef void dane_fn(void *ctx, const struct dane_result *result);
/* Validate the MX records of domain and look up the TLSA records of
   each host of mx (the c-ares answer).  cb runs once, later, unless
   cancelled. */
struct dane_lookup *dane_lookup(struct dane *d, const char *domain, const struct dns_mx *mx,
				dane_fn *cb, void *ctx);
void dane_cancel(struct dane_lookup *l);

#endif
