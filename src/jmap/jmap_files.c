/*
 * jmap_files.c - JMAP's own state: the files it keeps per account under
 * <data_dir>/jmap/<accountId>/ (0700, files 0600), beside the mailboxes
 * (which it reaches through store.h only):
 *   submissions   the EmailSubmission log, one JSON object a line
 *   identities    the Identity settings (names, reply-to, signatures)
 *   threads       the thread map, one JSON object a line (jmap_thread.c)
 *   states        the state strings of the last session (jmap_session.c)
 *   vacation      the VacationResponse object (jmap_vacation.c)
 *   u<hex>        uploads (jmap_blob.c), swept after a day
 * Every open, write, sync, rename and unlink of those files is here, so
 * that moving them elsewhere (another backend) means changing this file.
 * A log line is appended (and fsynced, or later by jmap_file_sync); a
 * whole file is written to a temporary name ".tmp-NAME", fsynced and
 * renamed over the old one.
 */
#include "jmap_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"

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

int jmap_file_read_max(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t start = out->len;
	char chunk[65536];
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (out->len - start + (size_t)n > max ||
		    buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return n < 0 ? -1 : 1;
}

int jmap_file_read(const char *path, struct buf *out)
{
	return jmap_file_read_max(path, JMAP_FILE_MAX, out);
}

int jmap_file_open(const char *path, uint64_t from, int *fd_r)
{
	*fd_r = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd_r < 0)
		return errno == ENOENT ? 0 : -1;
	if (lseek(*fd_r, (off_t)from, SEEK_SET) < 0) {
		close(*fd_r);
		*fd_r = -1;
		return -1;
	}
	return 1;
}

int jmap_file_append(const char *path, const void *p, size_t n, bool sync)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool ok;

	if (fd < 0)
		return -1;
	ok = write(fd, p, n) == (ssize_t)n && (!sync || fsync(fd) == 0);
	return close(fd) == 0 && ok ? 1 : -1;
}

int jmap_file_sync(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	bool ok;

	if (fd < 0)
		return -1;
	ok = fsync(fd) == 0;
	return close(fd) == 0 && ok ? 1 : -1;
}

int jmap_file_append_line(const char *path, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	size_t len;
	int ret;

	if (text == NULL)
		return -1;
	len = strlen(text);
	text[len] = '\n';	/* json_dumps's NUL: the line end instead */
	ret = jmap_file_append(path, text, len + 1, true);
	free(text);
	return ret;
}

int jmap_file_put(const char *path, const void *p, size_t n)
{
	const char *slash = strrchr(path, '/');
	char tmp[1300];
	int fd, len;
	bool ok;

	len = slash == NULL ? 0 : (int)(slash - path + 1);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%.*s.tmp-%s", len, path, path + len) >=
	    sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	ok = write_all(fd, p, n) > 0 && fsync(fd) == 0;
	if (close(fd) != 0 || !ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 1;
}

int jmap_file_replace(const char *path, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	int ret;

	if (text == NULL)
		return -1;
	ret = jmap_file_put(path, text, strlen(text));
	free(text);
	return ret;
}

void jmap_file_expire_uploads(const char *data_dir, const char *account_id, time_t before)
{
	char dir[1100], path[1400];
	struct dirent *e;
	struct stat st;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/jmap/%s", data_dir, account_id);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		/* uploads and temporary files only: not the account's
		   other files */
		if (e->d_name[0] != 'u' && strncmp(e->d_name, ".tmp-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < before)
			unlink(path);
	}
	closedir(d);
}
