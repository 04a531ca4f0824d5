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

/* The same, with the message's flags: letters "" is new/<name>, else
   cur/<name>:2,<letters> (maildir_flag_letters), so that the message
   appears with its flags at once. */
int maildir_deliver_flags(const char *dir, const char *name, const char *letters,
			  const char *src, bool check_cur);

/* The ":2," letters of the IMAP flags in flags (space-separated, e.g.
   "\\Seen \\Flagged $Label1") for the Maildir dir, in ASCII order: system
   flags as D F R S T, keywords as the letters of the folder's
   dovecot-keywords, where those it lacks are added (the mail store's
   store_keyword_letters).  size > 32.  Returns 1, or -1 (errno set). */
int maildir_flag_letters(const char *dir, const char *flags, char *out, size_t size);

#endif
