/*
 * jmap_files.c - the small files JMAP keeps per account beside the
 * uploads, under <data_dir>/jmap/<accountId>/ (0700, files 0600):
 *   submissions   the EmailSubmission log, one JSON object a line
 *   identities    the Identity settings (names, reply-to, signatures)
 *   threads       the thread map, one JSON object a line (jmap_thread.c)
 * A log line is appended and fsynced; a settings file is written whole to
 * a temporary name, fsynced and renamed over the old one.
 */
#include "jmap_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "conn/services.h"

#define JMAP_FILE_MAX (16u * 1024 * 1024)

int jmap_file_path(const char *data_dir, const char *account_id, const char *name,
		   char *out, size_t size)
{
	char dir[1100];
	int n;

	snprintf(dir, sizeof(dir), "%s/jmap", data_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(dir, sizeof(dir), "%s/jmap/%s", data_dir, account_id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	n = snprintf(out, size, "%s/%s", dir, name);
	return n > 0 && (size_t)n < size ? 1 : -1;
}

int jmap_file_read(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char chunk[65536];
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (out->len + (size_t)n > JMAP_FILE_MAX || buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return n < 0 ? -1 : 1;
}

int jmap_file_append_line(const char *path, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	size_t len;
	int fd, ok;

	if (text == NULL)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(text);
		return -1;
	}
	len = strlen(text);
	text[len] = '\n';	/* json_dumps's NUL: the line end instead */
	ok = write(fd, text, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
	free(text);
	return close(fd) == 0 && ok ? 1 : -1;
}

int jmap_file_replace(const char *path, json_t *v)
{
	char tmp[1200], *text = json_dumps(v, JSON_COMPACT);
	size_t len;
	int fd, ok;

	if (text == NULL)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(text);
		return -1;
	}
	len = strlen(text);
	ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	free(text);
	if (close(fd) != 0 || !ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 1;
}
