/*
 * mbox.c - locked, all-or-nothing append to an mbox file.
 *
 * The lock is an OFD lock (fcntl F_OFD_SETLKW) on the whole file: it
 * conflicts with the classic fcntl locks of other programs (mutt) and,
 * unlike those, with the store on the server's event loop thread, which
 * takes the same lock to read the file and to rewrite it after an
 * expunge (store_mboxfile.c).  That rewrite renames a new file over the
 * mbox, so once locked, an append checks that its descriptor is still
 * the file under the path, and opens it again if not: a message is never
 * appended to the replaced file.  The entry itself (From_ line, quoting,
 * separator) is written by the store's store_mboxparse_entry(), so the
 * one module that reads the format also writes it.
 *
 * The message's state is in its header, as mutt and Dovecot keep it:
 * Status: R (\Seen), X-Status: A F T D (\Answered, \Flagged, \Draft,
 * \Deleted), X-Keywords: the keywords.  Those fields the sender wrote
 * are dropped, so that a message arrives with the flags delivery gives
 * it (a Sieve script's) and no others; the store reads them.
 */
#include "mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "store/store.h"

#define MBOX_KEYWORDS_LINE 998	/* characters of the X-Keywords: line */

/* The whole of src into out. */
static int read_all(int in, struct buf *out)
{
	char block[65536];
	ssize_t n;

	while ((n = read(in, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(out, block, (size_t)n) < 0)
			return -1;
	}
	return 1;
}

/* Does the file end with text?  (A redelivery after a crash finds the
   message it appended before the spool was cleaned.) */
static bool ends_with(int fd, const struct stat *st, const struct buf *text)
{
	char block[65536];
	off_t off;
	size_t done = 0;

	if ((uint64_t)st->st_size < text->len)
		return false;
	off = st->st_size - (off_t)text->len;
	while (done < text->len) {
		size_t want = text->len - done < sizeof(block) ? text->len - done : sizeof(block);
		ssize_t n = pread(fd, block, want, off + (off_t)done);
		if (n <= 0 || memcmp(block, text->data + done, (size_t)n) != 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* Open path and lock it for writing; the descriptor, or -1. */
static int open_locked(const char *path, struct stat *st)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat now;
	int fd, saved;

	for (;;) {
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		if (fcntl(fd, F_OFD_SETLKW, &lk) < 0 || fstat(fd, st) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (stat(path, &now) == 0 && now.st_ino == st->st_ino &&
		    now.st_dev == st->st_dev)
			return fd;
		close(fd);	/* replaced while we waited: lock the new one */
	}
}

/* A file another program left without a final LF gets one first, so
   that the From_ line starts a line. */
static int end_line(int fd, const struct stat *st)
{
	char last = '\n';

	if (st->st_size > 0 && pread(fd, &last, 1, st->st_size - 1) != 1)
		return -1;
	return last == '\n' ? 1 : write_all(fd, "\n", 1);
}

/* Is the header line p[0..len) one of the fields that hold an mbox
   message's state? */
static bool state_field(const char *p, size_t len)
{
	static const char *const names[] = { "status:", "x-status:", "x-keywords:" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (len >= strlen(names[i]) && strncasecmp(p, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* msg with its header's Status:, X-Status: and X-Keywords: fields (the
   sender's: they are the mailbox's, not the message's) replaced by those
   of the IMAP flags in flags (NULL or "": none), into out. */
static void with_state(const char *msg, size_t len, const char *flags, struct buf *out)
{
	static const struct { const char *flag; char letter; } xstatus[] = {
		{ "\\Answered", 'A' }, { "\\Flagged", 'F' }, { "\\Draft", 'T' },
		{ "\\Deleted", 'D' },
	};
	struct buf x, kw;
	size_t at = 0;
	bool seen = false, skipping = false;

	buf_init(&x, 0);
	buf_init(&kw, 0);
	for (const char *p = flags != NULL ? flags : ""; *p != '\0';) {
		size_t l = strcspn(p, " ");
		if (l == 5 && strncasecmp(p, "\\Seen", 5) == 0)
			seen = true;
		for (size_t i = 0; i < sizeof(xstatus) / sizeof(xstatus[0]); i++)
			if (l == strlen(xstatus[i].flag) && strncasecmp(p, xstatus[i].flag, l) == 0)
				buf_putc(&x, xstatus[i].letter);
		/* whole keywords, on one line of at most 998 characters
		   (RFC 5322 §2.1.1): the store reads that line only */
		if (l > 0 && p[0] != '\\' &&
		    sizeof("X-Keywords: ") - 1 + kw.len + 1 + l <= MBOX_KEYWORDS_LINE) {
			if (kw.len > 0)
				buf_putc(&kw, ' ');
			buf_append(&kw, p, l);
		}
		p += l;
		p += strspn(p, " ");
	}
	while (at < len) {
		const char *p = msg + at, *nl = memchr(p, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : len - at;
		bool empty = (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
		if (empty || nl == NULL)
			break;	/* the end of the header */
		if (p[0] == ' ' || p[0] == '\t') {
			if (!skipping)
				buf_append(out, p, n);
		} else {
			skipping = state_field(p, n);
			if (!skipping)
				buf_append(out, p, n);
		}
		at += n;
	}
	if (seen)
		buf_puts(out, "Status: RO\n");
	if (x.len > 0)
		buf_printf(out, "X-Status: %s\n", buf_cstr(&x));
	if (kw.len > 0)
		buf_printf(out, "X-Keywords: %s\n", buf_cstr(&kw));
	buf_append(out, msg + at, len - at);
	buf_deinit(&x);
	buf_deinit(&kw);
}

int mbox_deliver(const char *path, const char *sender, uint64_t arrival,
		 const char *src, bool recovered)
{
	return mbox_deliver_flags(path, sender, arrival, src, NULL, recovered);
}

int mbox_deliver_flags(const char *path, const char *sender, uint64_t arrival,
		       const char *src, const char *flags, bool recovered)
{
	struct buf msg, text, stated;
	struct stat st;
	int fd = -1, in, ret = -1;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	buf_init(&msg, 0);
	buf_init(&text, 0);
	buf_init(&stated, 0);
	if (read_all(in, &msg) > 0) {
		with_state(msg.data != NULL ? msg.data : "", msg.len, flags, &stated);
		store_mboxparse_entry(sender, (int64_t)arrival, buf_cstr(&stated), stated.len,
				      &text);
		fd = open_locked(path, &st);
	}
	if (fd >= 0) {
		if (recovered && ends_with(fd, &st, &text))
			ret = 0;	/* appended before the crash */
		else if ((ret = end_line(fd, &st)) > 0)
			ret = write_all(fd, text.data, text.len);
		if (ret < 0) {
			int saved = errno;
			if (ftruncate(fd, st.st_size) < 0) {
				/* the partial tail stays; nothing more to do */
			}
			errno = saved;
		}
	}
	if (fd >= 0)
		close(fd);	/* releases the lock */
	close(in);
	buf_deinit(&msg);
	buf_deinit(&text);
	buf_deinit(&stated);
	return ret;
}
