/*
 * mbox.c - locked, all-or-nothing append to an mbox file.
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

int mbox_deliver(const char *path, const char *sender, uint64_t arrival,
		 const char *src, bool recovered)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct buf text;
	struct stat st;
	time_t t = (time_t)arrival;
	char date[64];
	int fd, in, ret = -1;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		close(in);
		return -1;
	}
	buf_init(&text, 0);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", gmtime(&t));
	buf_printf(&text, "From %s %s\n", sender[0] != '\0' ? sender : "MAILER-DAEMON", date);
	if (mbox_body(in, &text) > 0 && fcntl(fd, F_SETLKW, &lk) == 0 &&
	    fstat(fd, &st) == 0) {
		if (recovered && ends_with(fd, &st, &text))
			ret = 0;	/* appended before the crash */
		else
			ret = write_all(fd, text.data, text.len);
		if (ret < 0) {
			int saved = errno;
			if (ftruncate(fd, st.st_size) < 0) {
				/* the partial tail stays; nothing more to do */
			}
			errno = saved;
		}
	}
	close(fd);	/* releases the lock */
	close(in);
	buf_deinit(&text);
	return ret;
}
