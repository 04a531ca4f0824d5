/*
 * serve_lock.c - the lock file that keeps a second `correio serve` off a
 * data directory in use (see serve_lock.h).  Called by server.c at start,
 * before the listeners are bound, so that the refusal names the real
 * reason rather than a busy port.
 */
#include "serve_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVE_LOCK_NAME "serve.lock"

static char serve_lock_error[1400];

/* The pid the running server wrote, or 0 when unreadable. */
static long serve_lock_owner(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	if (n <= 0)
		return 0;
	text[n] = '\0';
	return strtol(text, NULL, 10);
}

static int serve_lock_busy(const struct config *cfg, int fd, const char **error_r)
{
	long pid = serve_lock_owner(fd);

	if (pid > 0)
		snprintf(serve_lock_error, sizeof(serve_lock_error),
			 "another correio serve (pid %ld) is running on data directory %s",
			 pid, cfg->data_dir);
	else
		snprintf(serve_lock_error, sizeof(serve_lock_error),
			 "another correio serve is running on data directory %s",
			 cfg->data_dir);
	*error_r = serve_lock_error;
	close(fd);
	return -1;
}

/* Write our pid; as root, give the file to the run-as user. */
static void serve_lock_record(const struct config *cfg, int fd)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	struct passwd *pw;

	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
		/* the lock holds without it; the message loses the pid */
	}
	if (geteuid() == 0 && (pw = getpwnam(cfg->user)) != NULL &&
	    fchown(fd, pw->pw_uid, pw->pw_gid) < 0) {
		/* root-owned lock file: only a later start as root can take it */
	}
}

int serve_lock_take(const struct config *cfg, const char **error_r)
{
	char path[1100];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, SERVE_LOCK_NAME) >=
	    sizeof(path)) {
		*error_r = "data_dir is too long for the lock file path";
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(serve_lock_error, sizeof(serve_lock_error), "%s: %s", path,
			 strerror(errno));
		*error_r = serve_lock_error;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		snprintf(serve_lock_error, sizeof(serve_lock_error),
			 "%s: not a regular file of its own", path);
		*error_r = serve_lock_error;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return serve_lock_busy(cfg, fd, error_r);
		close(fd);
		*error_r = "cannot lock the data directory";
		return -1;
	}
	serve_lock_record(cfg, fd);
	return fd;
}

void serve_lock_release(int *fd)
{
	if (*fd < 0)
		return;
	close(*fd);
	*fd = -1;
}
