#ifndef CORREIO_SMTP_REPLY_H
#define CORREIO_SMTP_REPLY_H
/*
 * smtp_reply: the SMTP reply parser of the client side (RFC 5321 §4.2,
 * RFC 3463 enhanced codes).  Fed one line at a time (CRLF removed); a
 * reply is complete at the line whose code is followed by a space.  Pure.
 *
 *   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                Reply-code [ SP textstring ] CRLF
 */
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define SMTP_REPLY_MAX_LINES 100

struct smtp_reply {
	int code;		/* 200..599 */
	char enhanced[16];	/* "5.1.1" from the first line, or "" */
	struct buf text;	/* the lines' texts (codes removed), '\n' between */
	unsigned lines;
};

void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_deinit(struct smtp_reply *r);
/* Forget the previous reply. */
void smtp_reply_reset(struct smtp_reply *r);

/* Returns 1 when the reply is complete, 0 when more lines follow, -1 for a
   malformed line (bad code, code changing between lines, too many lines). */
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len);

/* After an EHLO reply: does a line start with keyword (case-insensitive)?
   *param_r points to its parameters ("" if none), valid until reset. */
bool smtp_reply_has_keyword(const struct smtp_reply *r, const char *keyword,
			    const char **param_r);

/* "550 5.1.1 text" on one line, for logs and DSNs, into out. */
void smtp_reply_summary(const struct smtp_reply *r, char *out, size_t size);

#endif
