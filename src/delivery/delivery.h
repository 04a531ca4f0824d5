#ifndef CORREIO_DELIVERY_H
#define CORREIO_DELIVERY_H
/*
 * delivery: the local delivery agent.  A thread of its own takes committed
 * messages from the queue, resolves each recipient (resolve.h), files the
 * message into each account's Maildir (or mbox), makes the whole batch
 * durable with one syncfs(2), then removes the messages from the spool.
 * Recipients in other domains are handed to the relay.  A message that
 * meets a temporary error is retried a minute later.
 */
#include <stdbool.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "queue/envelope.h"

struct delivery;
struct queue;
struct quota;

/* Called on the delivery thread with an envelope (ownership passed) whose
   recipients are the remote addresses left once local delivery is done. */
typedef void delivery_relay_fn(void *ctx, struct envelope *e);

/* Called on the delivery thread, after a batch is durable, with each
   account that received mail in it (for the mail store's listeners). */
typedef void delivery_notify_fn(void *ctx, const char *address);

/* Called on the delivery thread, after a batch is durable, with the
   "delivered" notice (RFC 3461 §5.2.2) a message's local recipients asked
   for with NOTIFY=SUCCESS: the report for sender (queue/dsn's text, LF
   line ends; the callee takes text, a malloc'd buf, and frees both it
   and its contents), and whether it needs 8BITMIME or SMTPUTF8 to
   travel. */
typedef void delivery_notice_fn(void *ctx, const char *sender, struct buf *text,
				bool need_8bitmime, bool need_smtputf8);

/* quota: the reservations smtpd makes at DATA (borrowed; released here
   once each message is handled).  A local recipient over its quota, or
   unknown by the time of delivery, goes to the relay marked
   ENVELOPE_FAILED, which bounces it to the sender. */
int delivery_start(const struct config *cfg, struct queue *q, struct quota *quota,
		   delivery_relay_fn *relay, delivery_notify_fn *notify,
		   delivery_notice_fn *notice, void *ctx,
		   struct delivery **r, const char **error_r);
/* Finish the batch in progress and stop; undelivered messages stay in the
   spool for the next start. */
void delivery_stop(struct delivery **d);
/* Queue a message for delivery (any thread).  Takes ownership of e. */
void delivery_submit(struct delivery *d, struct envelope *e, bool recovered);
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
