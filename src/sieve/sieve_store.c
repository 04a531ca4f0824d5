/*
 * sieve_store.c - an account's Sieve scripts on disk: <dir>/<name>.sieve
 * and the symlink <dir>/active.  Writes go through a temporary file and
 * rename, so that delivery never reads half a script.
 */
#include "sieve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/store.h"

#define PATH_SIZE 4400

bool sieve_store_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SIEVE_NAME_MAX || name[0] == '.')
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

void sieve_store_dir(const char *data_dir, const char *address, char *out, size_t size)
{
	char maildir[PATH_SIZE - 100];

	store_mailbox_path(data_dir, address, false, maildir, sizeof(maildir));
	snprintf(out, size, "%s/sieve", maildir);
}

void sieve_store_active(const char *dir, char *out, size_t size)
{
	char path[PATH_SIZE], link[300];
	ssize_t n;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/active", dir);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		FILE *f = fopen(path, "re");
		if (f == NULL)
			return;
		if (fgets(link, sizeof(link), f) == NULL)
			link[0] = '\0';
		fclose(f);
		n = (ssize_t)strcspn(link, "\r\n");
	}
	link[n] = '\0';
	if (n > 6 && strcmp(link + n - 6, ".sieve") == 0)
		link[n - 6] = '\0';
	snprintf(out, size, "%s", link);
}

static bool script_path(const char *dir, const char *name, char *out, size_t size)
{
	return sieve_store_valid_name(name) &&
	       (size_t)snprintf(out, size, "%s/%s.sieve", dir, name) < size;
}

int sieve_store_list(const char *dir, void (*fn)(void *ctx, const char *name, bool active),
		     void *ctx)
{
	char active[300], name[SIEVE_NAME_MAX + 1];
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	sieve_store_active(dir, active, sizeof(active));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l <= 6 || l - 6 > SIEVE_NAME_MAX || strcmp(de->d_name + l - 6, ".sieve") != 0 ||
		    de->d_name[0] == '.')
			continue;
		memcpy(name, de->d_name, l - 6);
		name[l - 6] = '\0';
		n++;
		if (fn != NULL)
			fn(ctx, name, strcmp(name, active) == 0);
	}
	closedir(d);
	return n;
}

int sieve_store_get(const char *dir, const char *name, struct buf *out)
{
	char path[PATH_SIZE], block[8192];
	ssize_t n;
	int fd;

	if (!script_path(dir, name, path, sizeof(path)))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, block, sizeof(block))) > 0)
		if (buf_append(out, block, (size_t)n) < 0) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
	close(fd);
	return n < 0 ? -1 : 1;
}

int sieve_store_put(const char *dir, const char *name, const char *text, size_t len)
{
	char path[PATH_SIZE], tmp[PATH_SIZE];
	int fd, saved;

	if (!script_path(dir, name, path, sizeof(path))) {
		errno = EINVAL;
		return -1;
	}
	if (mkdir_p(dir, 0700) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/.%s.sieve.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if ((len > 0 && write(fd, text, len) != (ssize_t)len) || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 1;
}

int sieve_store_activate(const char *dir, const char *name)
{
	char path[PATH_SIZE], link[PATH_SIZE], target[300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/active", dir);
	if (name[0] == '\0')
		return unlink(path) == 0 || errno == ENOENT ? 1 : -1;
	if (!script_path(dir, name, link, sizeof(link)) || stat(link, &st) < 0)
		return errno == ENOENT || !sieve_store_valid_name(name) ? 0 : -1;
	snprintf(target, sizeof(target), "%s.sieve", name);
	snprintf(link, sizeof(link), "%s/.active.tmp", dir);
	unlink(link);
	if (symlink(target, link) < 0 || rename(link, path) < 0) {
		int saved = errno;
		unlink(link);
		errno = saved;
		return -1;
	}
	return 1;
}

int sieve_store_delete(const char *dir, const char *name)
{
	char path[PATH_SIZE], active[300];

	if (!script_path(dir, name, path, sizeof(path)))
		return 0;
	sieve_store_active(dir, active, sizeof(active));
	if (access(path, F_OK) < 0)
		return errno == ENOENT ? 0 : -1;
	if (strcmp(active, name) == 0)
		return 2;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

int sieve_store_rename(const char *dir, const char *from, const char *to)
{
	char old_path[PATH_SIZE], new_path[PATH_SIZE], active[300];

	if (!script_path(dir, from, old_path, sizeof(old_path)))
		return 0;
	if (!script_path(dir, to, new_path, sizeof(new_path))) {
		errno = EINVAL;
		return -1;
	}
	if (access(old_path, F_OK) < 0)
		return errno == ENOENT ? 0 : -1;
	if (access(new_path, F_OK) == 0)
		return 2;
	sieve_store_active(dir, active, sizeof(active));
	/* link then unlink: a script appearing under the new name meanwhile
	   is not overwritten */
	if (link(old_path, new_path) < 0)
		return errno == EEXIST ? 2 : -1;
	if (strcmp(active, from) == 0 && sieve_store_activate(dir, to) < 0) {
		int saved = errno;
		unlink(new_path);
		errno = saved;
		return -1;
	}
	unlink(old_path);
	return 1;
}
