#ifndef CORREIO_DELIVERY_H
#define CORREIO_DELIVERY_H
/*
 * delivery: the local delivery agent, the relay's local transport.  The
 * relay's scheduler hands it jobs: the local recipients of one message
 * that are due, each already resolved to an account at RCPT.  A thread of
 * its own files the message into each account's Maildir (or mbox) through
 * the mail store (store_deliver: the store is the only mailbox writer),
 * has the store make the whole batch of jobs durable (an fsync of each
 * file and directory it changed), then gives each job back with a result
 * per recipient: delivered, deferred (a temporary error: the scheduler
 * retries it like any other), or refused (no such account any more,
 * mailbox full: the scheduler bounces it).
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/handoff.h"
#include "lib/config.h"
#include "queue/envelope.h"

struct delivery;
struct queue;
struct quota;
struct store;

/* One recipient of a job and its outcome. */
struct delivery_rcpt {
	const char *address;	/* the account (borrowed from the caller) */
	const char *orig;	/* the address given at RCPT, or NULL */
	int code;		/* out: 250 delivered, 4xx deferred, 5xx refused */
	char text[400];		/* out: "<status> text", e.g. "4.2.0 mailbox: ..." */
};

/* The local recipients of one message. */
struct delivery_job {
	char id[ENVELOPE_ID_LEN + 1];
	uint64_t arrival;
	uint64_t size;		/* bytes of the queued text */
	const char *host;	/* hostname at acceptance (borrowed) */
	const char *sender;	/* (borrowed) */
	bool recovered;		/* an earlier attempt may have filed it already */
	bool last;		/* these are all the message still waits for: when
				   every one is delivered the agent removes the
				   spool files itself (off the event loop) */
	bool removed;		/* out: it did */
	bool junk;		/* DMARC quarantine: into each account's Junk folder */
	struct buf redirects;	/* out: remote addresses Sieve scripts redirected
				   the message to, each followed by the
				   recipient whose script did it (the copy is
				   forwarded: SRS), NUL-separated, for the
				   scheduler to add as recipients */
	struct delivery_rcpt *rcpts;
	unsigned n_rcpts;
	void *ctx;		/* the caller's */
	struct handoff_link link;	/* to the agent's thread and back */
};

/* Called once a job's outcomes are durable (ownership of the job passes
   back): on the store's worker thread that flushed its batch, or on the
   delivery thread; never on the loop. */
typedef void delivery_done_fn(void *ctx, struct delivery_job *job);

/* quota: the reservations smtpd makes at DATA (borrowed; released here
   once each message's local recipients are handled).  store: the loop's
   mail store (borrowed, outlives the agent), which files the mail,
   flushes it on its workers and takes the new mail in. */
int delivery_start(const struct config *cfg, struct queue *q, struct quota *quota,
		   struct store *store, delivery_done_fn *done, void *ctx,
		   struct delivery **r, const char **error_r);
/* Finish the batch in progress, wait for the batches being flushed, and
   stop; jobs not yet taken are given back through done without results
   (their messages stay in the spool). */
void delivery_stop(struct delivery **d);
/* Hand a job to the agent (any thread).  Takes ownership of job until it
   is given back through done. */
void delivery_submit(struct delivery *d, struct delivery_job *job);
/* Free a job and its recipients. */
void delivery_job_free(struct delivery_job **job);
/* Use a new configuration from the next batch on. */
void delivery_set_config(struct delivery *d, const struct config *cfg);

/* Does an account with this format (enum accounts_format) get its mail
   in an mbox file?  (Its own setting, else the configured default.) */
bool delivery_uses_mbox(const struct config *cfg, int account_format);

/* The Maildir or mbox path of an account, into out.  The mbox path is
   the one the store reads (store_account_set_mbox). */
void delivery_mailbox_path(const struct config *cfg, const char *address, bool mbox,
			   char *out, size_t size);

#endif
