#ifndef CORREIO_DNS_H
#define CORREIO_DNS_H
/*
 * dns: where a domain receives mail (RFC 5321 §5.1), asynchronously with
 * c-ares inside the event loop.  MX records in preference order, equal
 * preferences shuffled; no MX: the domain's own A/AAAA (implicit MX); a
 * null MX (RFC 7505) or NXDOMAIN: permanent; SERVFAIL and timeouts:
 * temporary.  Internationalised domains are converted with libidn2.
 * Loop thread only.
 */
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DNS_MAX_HOSTS 10
#define DNS_MAX_ADDRS 8

struct dns;
struct dns_request;
struct event_base;

enum dns_status {
	DNS_OK,
	DNS_PERMANENT,		/* NXDOMAIN, null MX, no address at all */
	DNS_TEMPORARY,		/* SERVFAIL, timeout, refused: try again later */
};

struct dns_host {
	char name[256];
	unsigned pref;
	unsigned n_addrs;
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
};

struct dns_mx {
	enum dns_status status;
	bool null_mx;		/* RFC 7505: the domain refuses mail */
	char error[300];	/* for DSNs and logs when status != DNS_OK */
	unsigned n_hosts;	/* hosts with at least one address, in order */
	struct dns_host hosts[DNS_MAX_HOSTS];
};

/* result is valid during the call only. */
typedef void dns_mx_fn(void *ctx, const struct dns_mx *result);

/* ---- single queries (the checks of received mail: DKIM, SPF, DMARC) ---- */

enum dns_type { DNS_TXT, DNS_A, DNS_AAAA, DNS_MX_NAMES, DNS_PTR };

#define DNS_MAX_ANSWERS 32

struct dns_answer {
	enum dns_status status;	/* DNS_PERMANENT: NXDOMAIN or no such record */
	bool nxdomain;		/* the name does not exist */
	unsigned n;		/* records below (0 with DNS_OK never happens) */
	char *txt[DNS_MAX_ANSWERS];	/* TXT: each record's strings joined */
	struct sockaddr_storage addrs[DNS_MAX_ANSWERS];	/* A, AAAA */
	char *names[DNS_MAX_ANSWERS];	/* MX_NAMES: the exchangers; PTR: the
					   names (name is the reverse name,
					   e.g. 1.2.0.192.in-addr.arpa) */
};

/* answer is valid during the call only. */
typedef void dns_answer_fn(void *ctx, const struct dns_answer *answer);

/* Ask for the records of one type at name (ASCII).  cb runs exactly once,
   later (never from inside this call). */
void dns_query(struct dns *d, const char *name, enum dns_type type, dns_answer_fn *cb,
	       void *ctx);

/* servers: "host:port, host:port" or "" for the system's resolv.conf. */
int dns_open(struct event_base *base, const char *servers, struct dns **r,
	     const char **error_r);
void dns_free(struct dns **d);

/* Find the mail exchangers of domain (UTF-8 allowed; an IP address or an
   address literal [192.0.2.1] / [IPv6:...] is its own, single host).  cb runs exactly
   once, later, unless the request is cancelled. */
struct dns_request *dns_lookup_mx(struct dns *d, const char *domain, dns_mx_fn *cb,
				  void *ctx);
/* The IPv4 addresses (A records) of name, as a DNS blocklist answers
   (status DNS_PERMANENT for NXDOMAIN or no A record: not listed).  addrs is
   valid during the call only.  cb runs exactly once, later, unless the
   request is cancelled. */
typedef void dns_a_fn(void *ctx, enum dns_status status, const struct in_addr *addrs,
		      unsigned n_addrs);
struct dns_request *dns_lookup_a(struct dns *d, const char *name, dns_a_fn *cb, void *ctx);
void dns_cancel(struct dns_request *r);
/* Are requests (cancelled ones included) still waiting for an answer?
   A resolver replaced on SIGHUP is freed once it is not. */
bool dns_busy(const struct dns *d);

#endif
