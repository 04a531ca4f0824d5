#ifndef CORREIO_MTA_PRIVATE_H
#define CORREIO_MTA_PRIVATE_H
/*
 * Shared by mta.c (messages, schedule, outcomes, DSNs) and mta_session.c
 * (the SMTP client).  Not for use outside src/mta/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/handoff.h"
#include "lib-smtp/smtp_reply.h"
#include "mta/dane.h"
#include "mta/dns.h"
#include "mta/mta.h"
#include "mta/mta_sts.h"
#include "conn/services.h"

struct session;
struct delivery_job;

#define MTA_MAX_RCPTS 1000

/* A queued message. */
struct mta_msg {
	struct envelope *env;
	bool recovered;		/* found in the spool at start */
	bool unrouted;		/* some recipients wait to be resolved (the
				   account store failed when it was taken) */
	bool removed;		/* the delivery agent removed its spool files */
	unsigned txns;		/* transactions in progress */
	unsigned char *fresh;	/* per recipient: outcome not yet reported */
	bool *go;		/* per recipient: scratch of msg_schedule */
	struct mta_msg *prev, *next;
};

/* One message to one destination: the recipients of that domain. */
struct mta_txn {
	struct mta_msg *msg;
	struct mta_dest *dest;
	unsigned rcpt[MTA_MAX_RCPTS];	/* indexes into msg->env->rcpts */
	bool has_result[MTA_MAX_RCPTS];
	bool peer_dsn;			/* the peer offered DSN */
	bool forwarded;			/* its recipients came through an alias
					   or a Sieve redirect: SRS sender */
	time_t deferred_at;		/* first deferral: every recipient the
					   transaction defers waits from it */
	unsigned n;
	struct mta_txn *next;
};

/* A destination: a domain, the smarthost, or the local delivery agent. */
struct mta_dest {
	struct mta *mta;
	char name[256];
	bool local;			/* SCHEDULE_LOCAL: mta_local.c */
	struct mta_txn *head, **tail;	/* waiting transactions */
	unsigned active;		/* open connections */
	struct dns_request *lookup;
	struct dns_mx mx;
	time_t mx_time;			/* 0: no answer yet */
	struct sts_lookup *sts;		/* the MTA-STS policy being looked up */
	struct dane_lookup *dane_lookup;	/* the DNSSEC lookups of DANE */
	struct dane_result dane;	/* their outcome (with mx) */
	bool has_policy;		/* policy below applies (with mx) */
	struct mta_sts_policy policy;
	struct mta_dest *next;
};

#define MTA_MAX_RETIRED_DNS 8

struct mta {
	struct services *srv;
	struct dns *dns;
	/* resolvers replaced on SIGHUP, freed once their lookups are over */
	struct dns *retired_dns[MTA_MAX_RETIRED_DNS];
	unsigned n_retired_dns;
	struct mta_msg *msgs;
	struct mta_dest *dests;
	struct event *tick;
	struct handoff *local_done;	/* jobs back from the delivery thread */
	struct event *local_event;	/* watches local_done */
	uint64_t local_jobs, local_rcpts;	/* handed to the local agent */
	uint64_t relay_txns;			/* transactions to other hosts */
	struct session *sessions;	/* open connections (mta_session.c) */
	struct dane *dane;		/* NULL: DANE off */
	struct sts_cached *sts_cache;	/* MTA-STS policies (mta_sts_fetch.c) */
	struct sts_lookup *sts_lookups;	/* in progress */
	char smarthost_password[1025];
	char tlsrpt_day[16];		/* the UTC day whose reports are due next */
};

/* mta_session.c: open a connection for dest and run its transactions. */
void mta_session_start(struct mta_dest *d);
/* mta_session.c: close every connection at once (stop); their
   transactions end without results (the envelopes on disk are unchanged). */
void mta_session_close_all(struct mta *m);

/* mta_sts_fetch.c: the MTA-STS policy of domain (lower case ASCII), from
   the cache or fetched; cb gets NULL when none applies (policy valid
   during the call only).  cb runs exactly once, later, unless cancelled.
   Returns NULL (and never calls cb) for a name that cannot have one. */
struct sts_lookup;
typedef void sts_fn(void *ctx, const struct mta_sts_policy *policy);
struct sts_lookup *mta_sts_lookup(struct mta *m, const char *domain, sts_fn *cb, void *ctx);
void mta_sts_cancel(struct sts_lookup *l);
/* mta_sts_fetch.c: end every lookup and forget the cache (before the
   resolver is freed). */
void mta_sts_stop(struct mta *m);

/* tlsrpt.c: count the outcome of one connection under a policy (RFC
   8460): policy_type "sts" or "tlsa", policy_strings its lines joined
   with '|', result NULL for success or a result-type
   ("certificate-host-mismatch", ...), mx and addr the host (or NULL). */
void tlsrpt_count(struct mta *m, const char *domain, const char *policy_type,
		  const char *policy_strings, const char *result, const char *mx,
		  const struct sockaddr_storage *addr);
/* mta_session.c / mta.c: the policy lines of d's MTA-STS policy or of the
   TLSA records of host h, joined with '|', into out. */
void mta_policy_strings(const struct mta_dest *d, int h, bool tlsa, struct buf *out);

/* mta_local.c: hand every waiting transaction of the local destination d
   to the delivery agent. */
void mta_local_run(struct mta_dest *d);
/* mta_local.c: the delivery agent's outcomes of job (loop thread): each
   recipient's result, then the transaction is done.  Frees job. */
void mta_local_finish(struct delivery_job *job);

/* mta.c: was recipient r forwarded to another domain (a remote target of
   an alias, the postmaster address or a Sieve redirect)?  Such
   recipients travel in transactions of their own, with an SRS sender. */
bool mta_rcpt_forwarded(const struct envelope_rcpt *r);

/* mta.c: outcome of a transaction's recipient i (index into txn->rcpt):
   code 2xx sent, 4xx deferred, 5xx bounced; text is the reply or error. */
void mta_rcpt_result(struct mta_txn *t, unsigned i, int code, const char *status,
		     const char *text, const char *host);
/* mta.c: the transaction is over (every recipient has a result). */
void mta_txn_done(struct mta_txn *t);
/* mta.c: a connection of d closed; start others if work is waiting. */
void mta_dest_idle(struct mta_dest *d);

#endif
