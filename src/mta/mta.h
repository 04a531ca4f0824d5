#ifndef CORREIO_MTA_H
#define CORREIO_MTA_H
/*
 * mta: the queue's scheduler and the relay to other domains.  It keeps
 * every queued message, schedules attempts per recipient (retry with
 * backoff, a delay notice after warn_after, a bounce after give_up, a
 * success notice on NOTIFY=SUCCESS), the same for every recipient, and
 * hands each destination its due recipients: the local delivery agent
 * takes the accounts (mta_local.c, delivery.h), the SMTP client the
 * others, after looking up each domain's mail exchangers, several
 * messages per connection and a bounded number of connections per
 * destination.  Outcomes are written to the envelope on disk before
 * anything else happens, so a restart resumes where it was.
 * Loop thread only, except mta_local_done().
 */
#include <stdbool.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "queue/envelope.h"

struct dns;
struct mta;
struct dns;
struct services;

int mta_start(struct services *srv, struct mta **r, const char **error_r);
/* Close connections (messages stay queued) and free. */
void mta_stop(struct mta **m);
/* SIGHUP: the server's configuration changed from old.  A new [dns]
   servers list gets a new resolver, the smarthost password file is read
   again, and every destination's mail exchangers are looked up again
   before their next delivery (lookups under way start again). */
void mta_reload(struct mta *m, const struct config *old);
/* Take a message committed to the spool, or found there at start
   (recovered); takes ownership of e.  Its recipients go where RCPT
   resolved them (an older envelope's are resolved now). */
void mta_take(struct mta *m, struct envelope *e, bool recovered);
/* The resolver of the moment (replaced on SIGHUP; one in use is freed
   only once its queries are answered). */
struct dns *mta_dns(struct mta *m);
struct delivery_job;
/* The local delivery agent gives back a job (any thread). */
void mta_local_done(struct mta *m, struct delivery_job *job);

/* Every queued message (id NULL) or id's, for `correio queue list|show`:
   "envelope ID ACTIVE LEN" LF, then the LEN bytes of its envelope as
   envelope_format() writes it (ACTIVE 1 while a delivery is under way).
   Returns 1, 0 when id is not queued, -1 (reason in out) when out is full.
   With out NULL: only whether id is queued (1 or 0). */
int mta_dump(struct mta *m, const char *id, struct buf *out);
/* Queue administration (`correio queue ...`); text answers appended to
   out.  Each returns 1, or -1 with a reason in out.  flush of a held id
   refuses (it is made due, so that release sends it at once); flush of
   all makes held messages due too and counts them apart. */
int mta_flush(struct mta *m, const char *id, struct buf *out);	/* id NULL: all */
int mta_hold(struct mta *m, const char *id, bool hold, struct buf *out);
int mta_delete(struct mta *m, const char *id, struct buf *out);
/* Counters since start: jobs and recipients handed to the local delivery
   agent, transactions with other hosts. */
int mta_stats(struct mta *m, struct buf *out);
/* TLS-RPT (tlsrpt.c): send the reports of the days counted so far (today
   too when today_too), each to the addresses its domain's _smtp._tls
   record names, through the queue; a line for out (may be NULL).  The
   server calls it once a day.  Returns 1, or -1. */
int tlsrpt_send(struct mta *m, bool today_too, struct buf *out);

#endif
