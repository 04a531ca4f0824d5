#ifndef CORREIO_VACATION_H
#define CORREIO_VACATION_H
/*
 * vacation: sending a Sieve vacation reply (RFC 5230) for an account, as
 * an RFC 3834 auto-reply (Auto-Submitted: auto-replied, In-Reply-To,
 * References) from the null sender, through the server's queue (the
 * control socket's SUBMIT, as `correio sendmail` does).  One reply per
 * sender and handle per period: the record is a file per (sender, handle)
 * under <maildir>/sieve/.vacation/ whose modification time is the last
 * reply.
 */
#include "lib/config.h"
#include "sieve/sieve.h"

/* Returns 1 sent, 0 not sent (already replied within the period), -1
   error (logged). */
int vacation_send(const struct config *cfg, const char *maildir, const char *account,
		  const struct sieve_action *a);

#endif
