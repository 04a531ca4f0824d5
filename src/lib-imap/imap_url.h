#ifndef CORREIO_IMAP_URL_H
#define CORREIO_IMAP_URL_H
/*
 * imap_url: the IMAP URLs (RFC 5092) a CATENATE part names (RFC 4469
 * §3): a message, or a section or range of one, in one of the user's
 * own mailboxes.  Pure: no I/O.
 *
 *   url    = ["imap://" [userinfo "@"] host [":" port]] "/" enc-mailbox
 *            [";UIDVALIDITY=" nz-number] "/;UID=" nz-number
 *            ["/;SECTION=" enc-section] ["/;PARTIAL=" number ["." nz-number]]
 *
 * Keys are case-insensitive; the mailbox and section are %-decoded.  The
 * host and user are not checked (the server takes any URL as its own).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_URL_MAILBOX_MAX 1024
#define IMAP_URL_SECTION_MAX 256

struct imap_url {
	char mailbox[IMAP_URL_MAILBOX_MAX + 1];	/* UTF-8, %-decoded */
	uint32_t uidvalidity;			/* 0: not given */
	uint32_t uid;
	char section[IMAP_URL_SECTION_MAX + 1];	/* upper case; "" the whole message */
	bool partial;
	uint32_t partial_offset, partial_length;	/* length 0: to the end */
};

/* Parse s into *u.  1, or -1 with a short reason in *error_r. */
int imap_url_parse(const char *s, struct imap_url *u, const char **error_r);

#endif
