#ifndef CORREIO_MBOX_H
#define CORREIO_MBOX_H
/*
 * mbox: appending a message to a classic mbox file ("From " separator
 * lines, mboxrd quoting of body lines that begin with ">*From "), locked
 * with fcntl(2) as mutt and the /var/mail tools expect.  A failed append is
 * truncated away, so the file never holds half a message.
 */
#include <stdint.h>

/* Append the text file src to mbox path.  sender "" is written as
   MAILER-DAEMON.  Returns 1 or -1 (errno set). */
int mbox_deliver(const char *path, const char *sender, uint64_t arrival,
		 const char *src);

#endif
