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
 */
#include "mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "store/store.h"

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

int mbox_deliver(const char *path, const char *sender, uint64_t arrival,
		 const char *src, bool recovered)
{
	struct buf msg, text;
	struct stat st;
	int fd = -1, in, ret = -1;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	buf_init(&msg, 0);
	buf_init(&text, 0);
	if (read_all(in, &msg) > 0) {
		store_mboxparse_entry(sender, (int64_t)arrival, msg.data != NULL ? msg.data : "",
				      msg.len, &text);
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
	return ret;
}
