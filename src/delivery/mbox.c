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
 * appended to the replaced file.
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

/* Does the line start with ">*From "? */
static bool needs_quote(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] == '>')
		i++;
	return len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

/* Quote and append the whole of src to out. */
static int mbox_body(int in, struct buf *out)
{
	char block[65536];
	struct buf line;
	ssize_t n;
	int ret = 1;

	buf_init(&line, 0);
	while (ret > 0 && (n = read(in, block, sizeof(block))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			buf_putc(&line, block[i]);
			if (block[i] != '\n')
				continue;
			if (needs_quote(line.data, line.len))
				buf_putc(out, '>');
			buf_append(out, line.data, line.len);
			buf_reset(&line);
		}
	}
	if (n < 0)
		ret = -1;
	if (line.len > 0) {
		if (needs_quote(line.data, line.len))
			buf_putc(out, '>');
		buf_append(out, line.data, line.len);
		buf_putc(out, '\n');
	}
	buf_putc(out, '\n');
	buf_deinit(&line);
	return ret;
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
	struct buf text;
	struct stat st;
	time_t t = (time_t)arrival;
	char date[64];
	int fd = -1, in, ret = -1;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	buf_init(&text, 0);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", gmtime(&t));
	buf_printf(&text, "From %s %s\n", sender[0] != '\0' ? sender : "MAILER-DAEMON", date);
	if (mbox_body(in, &text) > 0 && (fd = open_locked(path, &st)) >= 0) {
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
	buf_deinit(&text);
	return ret;
}
