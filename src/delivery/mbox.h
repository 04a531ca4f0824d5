#ifndef CORREIO_MBOX_H
#define CORREIO_MBOX_H
/*
 * mbox: appending a message to a classic mbox file ("From " separator
 * lines, mboxrd quoting of body lines that begin with ">*From "), locked
 * with fcntl(2) as mutt and the /var/mail tools expect.  A failed append is
 * truncated away, so the file never holds half a message.
 */
#include <stdbool.h>
#include <stdint.h>

/* Append the text file src to mbox path.  sender "" is written as
   MAILER-DAEMON.  recovered: a delivery again after a crash; if the file
   ends with this very message (its Received: line names the queue id),
   it is not appended twice.  Returns 1, 0 already there, or -1 (errno). */
int mbox_deliver(const char *path, const char *sender, uint64_t arrival,
		 const char *src, bool recovered);
/* The same with IMAP flags (space-separated, keywords too; NULL none),
   written as Status:, X-Status: and X-Keywords: header fields; those of
   the sender are dropped (mbox_deliver too). */
int mbox_deliver_flags(const char *path, const char *sender, uint64_t arrival,
		       const char *src, const char *flags, bool recovered);

#endif
