#ifndef CORREIO_QUOTA_H
#define CORREIO_QUOTA_H
/*
 * quota: an account's storage limit as SMTP and the delivery agent apply
 * it (Dovecot's rules): a message that would take the account past its
 * quota is refused, at RCPT when the declared SIZE already does not fit,
 * at the end of DATA when the text does not, or bounced by the delivery
 * agent.  Space is reserved for messages accepted but not yet filed, so
 * that sessions ending DATA at the same moment are counted together.
 *
 * The reservations are shared by the event loop (smtpd reserves) and the
 * delivery thread (releases): every function here is thread-safe.
 */
#include <stdbool.h>
#include <stdint.h>

#include "auth/accounts.h"

struct store;

struct quota;

struct quota *quota_new(void);
void quota_free(struct quota **q);

/* Bytes the account's mail uses now, as the store counts it
   (store_mail_usage: every folder, and the mbox file of an mbox INBOX).
   A mailbox not created yet uses 0.  Returns 1 or -1 (errno). */
int quota_usage(const struct store *store, const struct account *acct, uint64_t *bytes_r);

/* Bytes reserved for address by messages not filed yet. */
uint64_t quota_reserved(struct quota *q, const char *address);

/*
 * Would bytes more fit: used + reserved + bytes <= limit (limit 0: no
 * quota, always fits)?  The pure rule, shared by every check.
 */
bool quota_fits(uint64_t limit, uint64_t used, uint64_t reserved, uint64_t bytes);

/*
 * The usage of acct's mailbox is read under the same lock as the
 * reservations and as quota_file(), so that a message is always counted
 * once: either reserved or in the mailbox, never both or neither.
 */

/* Would bytes more fit in acct's mailbox now?  1 yes (or no quota), 0 no,
   -1 usage unknown (errno). */
int quota_check(struct quota *q, const struct store *store, const struct account *acct,
		uint64_t bytes);

/* Reserve bytes for message id in acct's mailbox if they fit beside its
   usage and the reservations already made.  1 reserved (or no quota), 0
   no room (nothing recorded), -1 usage unknown. */
int quota_reserve(struct quota *q, const char *id, const struct store *store,
		  const struct account *acct, uint64_t bytes);

/* File message id into acct's mailbox: file(ctx) runs under the lock (for
   an account with a quota), and id's reservation for acct goes with it.
   Returns what file returns. */
int quota_file(struct quota *q, const char *id, const struct account *acct,
	       int (*file)(void *ctx), void *ctx);

/* Drop every reservation of message id (handled, refused, or not stored). */
void quota_release(struct quota *q, const char *id);

#endif
