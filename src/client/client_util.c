/*
 * client_util.c - small helpers of `correio mail`: the last error, JSON
 * strings, whole-file reads and writes, the terminal's charset, random
 * hex.  Everything here is used by several files of src/client.
 */
#include "client/client_private.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/encoding.h"
#include "lib/util.h"
#include "mime/mime.h"

static char last_error[1024];
static enum client_err last_kind;

int client_fail(enum client_err kind, const char *fmt, ...)
{
	char text[sizeof(last_error)];
	va_list ap;

	/* the arguments may include client_error() itself */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memcpy(last_error, text, sizeof(text));
	last_kind = kind;
	return -1;
}

const char *client_error(void)
{
	return last_error[0] != '\0' ? last_error : "failed";
}

enum client_err client_error_kind(void)
{
	return last_kind;
}

void client_json_str(struct buf *out, const char *s)
{
	struct buf clean;

	buf_init(&clean, 0);
	mime_utf8_sanitize(s, strlen(s), &clean);
	buf_putc(out, '"');
	for (const unsigned char *p = (const unsigned char *)buf_cstr(&clean); *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else if (*p == '\t')
			buf_puts(out, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(out, "\\u%04x", *p);
		else
			buf_putc(out, (char)*p);
	}
	buf_putc(out, '"');
	buf_deinit(&clean);
}

int client_write_file(const char *path, const void *p, size_t n)
{
	char tmp[4200];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", tmp, strerror(errno));
	if (write_all(fd, p, n) < 0 || fsync(fd) < 0) {
		client_fail(CLIENT_ERR_OTHER, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	}
	return 1;
}

int client_read_file(const char *path, size_t max, struct buf *out)
{
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (out->len + (size_t)n > max || buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			return client_fail(CLIENT_ERR_OTHER, "%s: file too big", path);
		}
	}
	close(fd);
	if (n < 0)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	return 1;
}

void client_to_terminal(const char *utf8, size_t n, struct buf *out)
{
	const char *cs = nl_langinfo(CODESET);
	char target[64];
	iconv_t cd;

	if (cs == NULL || strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0) {
		buf_append(out, utf8, n);
		return;
	}
	snprintf(target, sizeof(target), "%s//TRANSLIT", cs);
	cd = iconv_open(target, "UTF-8");
	if (cd == (iconv_t)-1) {
		buf_append(out, utf8, n);
		return;
	}
	char *in = (char *)utf8;
	size_t left = n;
	while (left > 0) {
		char tmp[4096], *o = tmp;
		size_t room = sizeof(tmp);
		size_t r = iconv(cd, &in, &left, &o, &room);
		buf_append(out, tmp, (size_t)(o - tmp));
		if (r == (size_t)-1 && errno != E2BIG) {
			/* a character the charset cannot show, not even
			   transliterated: a question mark instead */
			buf_putc(out, '?');
			size_t skip = utf8_sequence((const unsigned char *)in, left);
			skip = skip == 0 ? 1 : skip;
			in += skip;
			left -= skip;
		}
	}
	iconv_close(cd);
}

void client_random_hex(char *out, size_t bytes)
{
	unsigned char r[64];

	if (bytes > sizeof(r))
		bytes = sizeof(r);
	if (getrandom(r, bytes, 0) != (ssize_t)bytes) {
		for (size_t i = 0; i < bytes; i++)
			r[i] = (unsigned char)(time_now_us() >> (i % 8));
	}
	hex_encode(r, bytes, out);
}

void client_strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
