#ifndef CORREIO_GREYLIST_H
#define CORREIO_GREYLIST_H
/*
 * greylist: the table of greylisting triplets (client network, sender,
 * recipient) that the smtp listener consults at RCPT ([door] greylist).
 * A triplet seen for the first time is deferred until delay seconds have
 * passed since then; a retry after that passes and the triplet is
 * remembered as passed.  Stale triplets (passed ones unseen for 36 days,
 * pending ones never retried within 2 days) go at greylist_purge().
 *
 * This is the only way to that state: smtpd never sees how it is kept.
 * The backend here is SQLite, <data_dir>/greylist.db (WAL mode, busy
 * timeout), so that every loop of one host shares it; a backend shared by
 * several hosts would implement these four calls.
 *
 * A handle belongs to one thread at a time.  Functions returning int give
 * 1 on success, -1 on error (logged, and the text in *error_r where there
 * is one).
 */
#include <time.h>

struct greylist;

/* Open (creating it when missing) the table under data_dir.  Returns 1,
   or -1 with *error_r (static text). */
int greylist_open(const char *data_dir, struct greylist **r, const char **error_r);
/* Close and free; *g becomes NULL (NULL is fine). */
void greylist_free(struct greylist **g);

/*
 * The triplet of a client address (IPv4 or IPv6 text: its /24 or /64 is
 * what counts, so that a sender's pool of outgoing hosts shares one entry),
 * an envelope sender and a recipient, at time now, with the configured
 * delay in seconds.  Returns 1 when it may pass, 0 when deferred with
 * *wait_r the seconds left to wait, -1 when the table cannot be read or
 * written (the caller decides: smtpd lets the mail pass).
 */
int greylist_check(struct greylist *g, const char *client_addr, const char *sender,
		   const char *rcpt, time_t now, unsigned long delay, long *wait_r);

/* Forget the stale triplets as of now (see above).  Returns 1 or -1. */
int greylist_purge(struct greylist *g, time_t now);

#endif
