#ifndef CORREIO_MAILAUTH_H
#define CORREIO_MAILAUTH_H
/*
 * mailauth: the authentication step of reception.  Every message enters
 * correio through the spool writer (queue_msg), whether it came by SMTP or
 * by local sendmail; the writer passes the message text through a mailauth
 * and, when the message is committed, puts the header fields it returns at
 * the top of the message.
 *
 * Today: mail submitted by an authenticated user or by local sendmail whose
 * From: domain is local and has keys is DKIM-signed (RSA-SHA256 and
 * Ed25519-SHA256, see dkim/dkim.h).  Loop thread only.
 */
#include <stddef.h>

#include "lib/buf.h"
#include "lib/config.h"

struct accounts;
struct mailauth;

/* For submitted mail (authenticated SMTP or local sendmail).  cfg and
   accounts must outlive the mailauth (the server's). */
struct mailauth *mailauth_new_submission(const struct config *cfg, struct accounts *accounts);
/* Message text, from the first header field on (after our trace lines). */
void mailauth_feed(struct mailauth *a, const char *p, size_t n);
/* The text is complete: append the header fields to add at the top of the
   message (LF line ends) to out.  queue_id is for the log.  Returns 1 (out
   may have nothing added), or -1 when the message must not be accepted
   (not used by submission: a signing failure is logged, the message goes
   unsigned). */
int mailauth_finish(struct mailauth *a, const char *queue_id, struct buf *out);
void mailauth_free(struct mailauth **a);

#endif
