#ifndef CORREIO_MAILAUTH_H
#define CORREIO_MAILAUTH_H
/*
 * mailauth: the authentication step of reception.  Every message enters
 * correio through the spool writer (queue_msg), whether it came by SMTP or
 * by local sendmail; the writer passes the message text through a mailauth
 * and, when the text is complete, asks it for its verdict and edits the
 * header section as told before the message is made durable.
 *
 * Submitted mail (authenticated SMTP, local sendmail) whose From: domain is
 * local and has keys is DKIM-signed (RSA-SHA256 and Ed25519-SHA256, see
 * dkim/dkim.h).  Mail received on the `smtp` listener has its DKIM
 * signatures verified, its SPF (spf/spf.h) and DMARC (dmarc/dmarc.h)
 * evaluated - every lookup asynchronous, through the relay's resolver -
 * and gets one Authentication-Results: field (RFC 8601); any
 * Authentication-Results: field that claims our hostname is removed.
 * [auth_checks] dkim | spf | dmarc = off | tag | enforce.  Loop thread
 * only.
 */
#include <stddef.h>

#include "lib/buf.h"
#include "lib/config.h"

struct accounts;
struct mailauth;
struct mta;

enum mailauth_action {
	MAILAUTH_ACCEPT,
	MAILAUTH_REJECT,	/* refuse: 550 with the reply text */
};

#define MAILAUTH_MAX_REMOVE 8

/* What to do with the message, given to the finish callback. */
struct mailauth_verdict {
	enum mailauth_action action;
	const char *reply;		/* MAILAUTH_REJECT: the SMTP reply */
	bool junk;			/* file into the Junk folder (DMARC quarantine) */
	const struct buf *fields;	/* header fields to add at the top */
	unsigned n_remove;		/* header fields to remove: byte ranges */
	struct { size_t offset, len; } remove[MAILAUTH_MAX_REMOVE];
	/* offsets count from the first byte given to mailauth_feed */
};

typedef void mailauth_done_fn(void *ctx, const struct mailauth_verdict *v);

/* For submitted mail (authenticated SMTP or local sendmail).  cfg and
   accounts must outlive the mailauth (the server's). */
struct mailauth *mailauth_new_submission(const struct config *cfg, struct accounts *accounts);
/* For a notice correio writes itself (a bounce, a delay or success
   report) from MAILER-DAEMON@<hostname>: signed like submitted mail, with
   the keys of the From: domain or of its nearest parent domain that is
   local and has keys (mx.example.org's notices by example.org). */
struct mailauth *mailauth_new_notice(const struct config *cfg, struct accounts *accounts);
/* For mail received on `smtp` from client_ip (text) that said helo and
   gave sender ("" for <>).  NULL when every check is off. */
struct mailauth *mailauth_new_inbound(const struct config *cfg, struct mta *mta,
				      const char *client_ip, const char *helo,
				      const char *sender);
/* Message text, from the first header field on (after our trace lines). */
void mailauth_feed(struct mailauth *a, const char *p, size_t n);
/* The text is complete: run what remains (DNS lookups) and call cb once,
   possibly from inside this call.  queue_id is for the log.  The mailauth
   must not be freed before cb runs. */
void mailauth_finish(struct mailauth *a, const char *queue_id, mailauth_done_fn *cb,
		     void *ctx);
void mailauth_free(struct mailauth **a);

#endif
