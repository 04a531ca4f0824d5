#ifndef CORREIO_IMAP_BODY_H
#define CORREIO_IMAP_BODY_H
/*
 * imap_body: the FETCH items ENVELOPE, BODY and BODYSTRUCTURE
 * (RFC 9051 §7.5.2) of a message parsed by mime_message_parse().  Pure;
 * strings are written by imap_quote (quoted, or a literal for 8-bit text,
 * CR or LF), NIL for what is absent.
 *
 * Output goes to the caller's buf; a function that returns -1 because the
 * buf reached its maximum has appended only a prefix of what it meant to.
 */
#include <stdbool.h>

#include "lib/buf.h"
#include "mime/mime.h"

/*
 * ENVELOPE of a message: the root, or the embedded message of a MESSAGE
 * part (its children).  Values are the raw unfolded fields (encoded words
 * left as they are, as IMAP requires); From, Sender, Reply-To, To, Cc and
 * Bcc are read as RFC 5322 address lists (mime_address_walk()), groups in
 * IMAP group syntax; Sender and Reply-To default to From.  Returns 1 or -1
 * (full).
 */
int imap_body_envelope(const struct mime_message *msg,
		       const struct mime_part *part, struct buf *out);

/* imap_body_structure() flags */
#define IMAP_BODY_EXTENDED 0x01	/* BODYSTRUCTURE, not BODY */
#define IMAP_BODY_REV1 0x02	/* IMAP4rev1 session: MESSAGE/GLOBAL is a
				   basic part (RFC 3501 knows only
				   MESSAGE/RFC822 as body-type-msg) */

/*
 * BODY or BODYSTRUCTURE (IMAP_BODY_EXTENDED) of part and all below it.
 * Returns 1 or -1 (full).
 */
int imap_body_structure(const struct mime_message *msg,
			const struct mime_part *part, unsigned int flags,
			struct buf *out);

#endif
