#ifndef CORREIO_MTA_DSN_H
#define CORREIO_MTA_DSN_H
/*
 * mta_dsn: the notices the relay sends to a message's envelope sender —
 * bounce, delay, success (RFC 3464) — composed by mime/dsn and queued as
 * new messages from the null sender, so they are delivered (or relayed)
 * like any other mail and can never cause a notice themselves.
 */
struct mta;
struct envelope;

enum mta_dsn_kind { MTA_DSN_FAILURE, MTA_DSN_DELAY, MTA_DSN_SUCCESS };

/*
 * Queue the notice of kind for e's recipients that call for it: FAILURE,
 * the bounced ones marked in fresh; SUCCESS, the sent ones marked in fresh
 * that asked NOTIFY=SUCCESS; DELAY, every pending one (fresh unused).
 * Recipients with NOTIFY=NEVER, or without the matching NOTIFY bit when
 * they gave one, are left out.  Returns the number of recipients reported
 * (0: no notice needed), or -1 if the notice could not be queued.
 */
int mta_dsn_send(struct mta *m, const struct envelope *e, const unsigned char *fresh,
		 enum mta_dsn_kind kind);

#endif
