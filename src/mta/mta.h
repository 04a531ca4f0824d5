#ifndef CORREIO_MTA_H
#define CORREIO_MTA_H
/*
 * mta: the relay to other domains.  It keeps every queued message that has
 * recipients in other domains, schedules attempts per recipient (retry
 * with backoff, a delay notice after warn_after, a bounce after give_up),
 * looks up each domain's mail exchangers, and hands the messages over with
 * its SMTP client, several messages per connection and a bounded number of
 * connections per destination.  Outcomes are written to the envelope on
 * disk before anything else happens, so a restart resumes where it was.
 * Loop thread only, except mta_submit() and mta_submit_notice().
 */
#include <stdbool.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "queue/envelope.h"

struct dns;
struct mta;
struct server;

int mta_start(struct server *srv, struct mta **r, const char **error_r);
/* Close connections (messages stay queued) and free. */
void mta_stop(struct mta **m);
/* SIGHUP: the server's configuration changed from old.  A new [dns]
   servers list gets a new resolver, the smarthost password file is read
   again, and every destination's mail exchangers are looked up again
   before their next delivery (lookups under way start again). */
void mta_reload(struct mta *m, const struct config *old);
/* Take a message whose recipients are final remote addresses (any thread;
   takes ownership of e). */
void mta_submit(struct mta *m, struct envelope *e);
/* The resolver of the moment (replaced on SIGHUP; one in use is freed
   only once its queries are answered). */
struct dns *mta_dns(struct mta *m);
/* Queue a composed delivery notice (queue/dsn's text) from <> to rcpt on
   the loop thread (any thread; takes ownership of text, a malloc'd buf). */
struct buf;
void mta_submit_notice(struct mta *m, const char *rcpt, struct buf *text,
		       bool need_8bitmime, bool need_smtputf8);

/* Queue administration (`correio queue ...`); text answers appended to
   out.  Each returns 1, or -1 with a reason in out. */
int mta_list(struct mta *m, struct buf *out);
int mta_show(struct mta *m, const char *id, struct buf *out);
int mta_flush(struct mta *m, const char *id, struct buf *out);	/* id NULL: all */
int mta_hold(struct mta *m, const char *id, bool hold, struct buf *out);
int mta_delete(struct mta *m, const char *id, struct buf *out);

#endif
