#ifndef CORREIO_DSN_H
#define CORREIO_DSN_H
/*
 * dsn: the delivery status notifications correio sends to the envelope
 * sender (RFC 3464 multipart/report; report-type=delivery-status, RFC 3461
 * for what is asked with NOTIFY= and RET=, RFC 6533 when addresses or the
 * returned header section hold UTF-8).  Pure: the caller gathers the
 * facts, dsn_compose() writes the message text; queuing and sending it
 * (with MAIL FROM:<>) is the caller's.
 */
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

#define DSN_FIELD_MAX 900	/* longest value written; longer ones are cut */
#define DSN_STATUS_MAX 16	/* "5.123.123" and its NUL fit */

enum dsn_kind {
	DSN_FAILURE,		/* a bounce: "Undelivered Mail Returned to Sender" */
	DSN_DELAY,		/* "Delayed Mail (still being retried)" */
	DSN_SUCCESS,		/* "Successful Mail Delivery Report" */
};

/* One recipient's fate.  The strings are borrowed for the call. */
struct dsn_rcpt {
	const char *address;	/* the recipient as given at RCPT TO */
	const char *orcpt;	/* ORCPT= as given ("rfc822;a+2Bb@x"), or NULL */
	const char *action;	/* "failed" "delayed" "delivered" "relayed"
				   "expanded" */
	const char *status;	/* "5.1.1" (see dsn_status_from_reply()) */
	const char *remote_mta;	/* "dns; mx.example.net", or NULL */
	const char *diagnostic;	/* "smtp; 550 5.1.1 No such user", or NULL */
	time_t last_attempt;	/* 0: none (the field is left out) */
	time_t will_retry_until;/* for "delayed"; 0 otherwise */
};

/* The message being reported on, and the report. */
struct dsn_info {
	enum dsn_kind kind;
	const char *reporting_mta;	/* our hostname */
	const char *from_address;	/* "MAILER-DAEMON@<hostname>" */
	const char *to;			/* the envelope sender (never "") */
	const char *envid;		/* ENVID= as given (xtext), or NULL */
	const char *queue_id;		/* of the original message */
	time_t arrival;			/* 0: the field is left out */
	time_t date;			/* of the report; 0: now */
	bool ret_full;			/* see dsn_ret_full() */
	size_t max_return;		/* bytes; 0: no limit */
};

struct dsn_result {
	bool need_8bitmime;	/* 8-bit text inside: send with BODY=8BITMIME */
	bool need_smtputf8;	/* UTF-8 in addresses or returned header
				   fields: send with SMTPUTF8 */
	bool returned_full;	/* the whole original is attached (else its
				   header section only) */
};

/*
 * Append the complete notice, LF line ends, to out: header fields (From:
 * "Mail Delivery System <from_address>", To:, Subject:, Date:, Message-ID:,
 * Auto-Submitted: auto-replied, MIME-Version:, Content-Type:
 * multipart/report), then three parts: a text/plain explanation, the
 * message/delivery-status fields, and the original — message/rfc822 when
 * info->ret_full and it is at most max_return bytes, else its header
 * section as text/rfc822-headers.  original[0..original_len) is the stored
 * text; a leading Return-Path: field is left out.  8-bit text in the
 * original is labelled 8bit (and need_8bitmime set); UTF-8 in its header
 * section or in an address makes the parts message/global,
 * message/global-headers and message/global-delivery-status (RFC 6533)
 * and sets need_smtputf8.  Control characters in field values become
 * spaces, 8-bit bytes in diagnostics "?", and values are cut at
 * DSN_FIELD_MAX bytes.  The ENVID and ORCPT are shown xtext-decoded
 * (undecodable ones as given).
 *
 * rcpts[0..n) with n >= 1.  Returns 1 with *result_r filled, or -1 with
 * *error_r (a static string: bad argument, out full); out is then left as
 * it was.
 */
int dsn_compose(const struct dsn_info *info, const struct dsn_rcpt *rcpts,
		unsigned n, const char *original, size_t original_len,
		struct buf *out, struct dsn_result *result_r,
		const char **error_r);

/*
 * The status code (RFC 3463) for an SMTP reply: the enhanced code when
 * `enhanced` (the reply text after the code, or NULL) starts with one of
 * the same class, else "<class>.0.0".  code must be 200..599.
 * Returns 1, or -1 (bad code, out of size bytes too small).
 */
int dsn_status_from_reply(int code, const char *enhanced, char *out,
			  size_t size);

/* Does a recipient with these SMTP_NOTIFY_* bits want a notice of this
   kind?  No bits (no NOTIFY=) means FAILURE,DELAY (RFC 3461 §4.1). */
bool dsn_wanted(enum dsn_kind kind, unsigned notify);

/* The ret_full to pass for a notice of this kind and the envelope's RET
   (enum smtp_ret): only failures return the whole message, unless RET=HDRS
   (RFC 3461 §4.3). */
bool dsn_ret_full(enum dsn_kind kind, int ret);

#endif
