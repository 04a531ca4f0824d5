#ifndef CORREIO_MAILDIR_H
#define CORREIO_MAILDIR_H
/*
 * maildir: writing messages into a Maildir (tmp/, new/, cur/), as every
 * Maildir reader (mutt, the IMAP and POP3 servers) expects.  A message
 * appears in new/ complete or not at all.  Durability is the caller's: it
 * flushes the file system once for a whole batch (see delivery.c).
 *
 * File names (made by the store: store_delivery_name) are
 * "<arrival>.Q<queue id>.<host>,S=<size>": one queue id is
 * delivered at most once per Maildir, so the name is also the proof that a
 * delivery already happened (used after a crash).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Create dir and its tmp/, new/, cur/ (and parents).  Returns 1 or -1. */
int maildir_create(const char *dir);

/* Is name in dir/new, or in dir/cur with flags or sizes added? */
bool maildir_has(const char *dir, const char *name);

/*
 * Put the file src into dir/new/<name>: by hard link when possible (no
 * copy), else by copying through tmp/ and renaming.  Returns 1 delivered,
 * 0 already there (an earlier delivery of the same name), -1 error
 * (errno set).  check_cur: also look in cur/ for name followed by ':' or
 * ',' (a reader, or the mail store which adds ",W=<size>,U=<uid>", may
 * have moved it there), for deliveries resumed after a crash.
 */
int maildir_deliver(const char *dir, const char *name, const char *src,
		    bool check_cur);

/* Move dir/new/<name> to dir/cur/<name>:2,<letters> for the IMAP system
   flags in flags (space-separated, e.g. "\\Seen \\Flagged"; keywords are
   left out).  Returns 1, or -1 (errno set). */
int maildir_set_flags(const char *dir, const char *name, const char *flags);

#endif
