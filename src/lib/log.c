/*
 * log.c - timestamped single-write log lines to stderr, a file or syslog.
 *
 * A log file is opened with O_APPEND and kept on one descriptor number:
 * log_reopen() (SIGUSR1, SIGHUP, after logrotate moved the file away)
 * opens the path anew and dup2()s it over that number, so a thread
 * writing at that moment writes whole lines to the old or the new file.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static bool use_syslog;
static enum log_level min_level = LOG_LEVEL_INFO;
static int file_fd = -1;		/* the log file's descriptor, once opened */
static bool use_file;			/* lines go to file_fd, not stderr */
static char log_path[1024];		/* the file */

void log_use_syslog(bool on)
{
	if (on && !use_syslog)
		openlog("correio", LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (!on && use_syslog)
		closelog();
	use_syslog = on;
}

static int open_log_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int log_set_destination(const char *dest, const char **error_r)
{
	int fd;

	if (strcmp(dest, "syslog") == 0 || strcmp(dest, "stderr") == 0) {
		use_file = false;	/* the file stays open, unused */
		log_use_syslog(dest[1] == 'y');
		return 1;
	}
	if (file_fd >= 0 && strcmp(dest, log_path) == 0) {
		if (log_reopen(error_r) < 0)
			return -1;
	} else {
		if ((fd = open_log_file(dest)) < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		if (file_fd >= 0) {
			/* another file: the same descriptor number, now the new file */
			dup2(fd, file_fd);
			close(fd);
		} else {
			file_fd = fd;
		}
		str_copy(log_path, dest, sizeof(log_path));
	}
	use_file = true;
	log_use_syslog(false);
	return 1;
}

int log_reopen(const char **error_r)
{
	int fd;

	if (!use_file)
		return 1;
	if ((fd = open_log_file(log_path)) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (dup2(fd, file_fd) < 0) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	close(fd);
	return 1;
}

int log_file_chown(uid_t uid, gid_t gid)
{
	if (!use_file)
		return 1;
	return fchown(file_fd, uid, gid) == 0 ? 1 : -1;
}

bool log_debug_enabled(void)
{
	return min_level <= LOG_LEVEL_DEBUG;
}

void log_set_level(enum log_level level)
{
	min_level = level;
}

static void log_vline(enum log_level level, const char *fmt, va_list ap)
{
	static const char *names[] = { "debug", "info", "warning", "error" };
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	char line[2048];
	struct tm tm;
	time_t now;
	size_t n;
	int w;

	if (level < min_level)
		return;
	if (use_syslog) {
		vsyslog(prio[level], fmt, ap);
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	w = snprintf(line + n, sizeof(line) - n, " correio[%d]: %s: ",
		     (int)getpid(), names[level]);
	n += (size_t)w;
	w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (w < 0)
		w = 0;
	n += (size_t)w;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(use_file ? file_fd : STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

void log_dialogue(bool peer_listed, const char *proto, const char *addr,
		  const char *dir, const char *text, size_t len)
{
	char line[501];
	size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

	if (!peer_listed && min_level > LOG_LEVEL_DEBUG)
		return;
	for (size_t i = 0; i < n; i++)
		line[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
	line[n] = '\0';
	if (peer_listed)
		log_info("%s: [%s]: %s %s", proto, addr, dir, line);
	else
		log_debug("%s: [%s]: %s %s", proto, addr, dir, line);
}

void log_dialogue_vprintf(bool peer_listed, const char *proto, const char *addr,
			  const char *dir, const char *fmt, va_list ap)
{
	char text[512];
	va_list copy;
	int n;

	if (!peer_listed && min_level > LOG_LEVEL_DEBUG)
		return;
	va_copy(copy, ap);
	n = vsnprintf(text, sizeof(text), fmt, copy);
	va_end(copy);
	log_dialogue(peer_listed, proto, addr, dir, text,
		     n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
}

#define LOG_FN(name, level)                          \
	void name(const char *fmt, ...)              \
	{                                            \
		va_list ap;                          \
		va_start(ap, fmt);                   \
		log_vline(level, fmt, ap);           \
		va_end(ap);                          \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_err, LOG_LEVEL_ERR)

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

bool log_limit_ok(struct log_limit *l, unsigned period, unsigned *skipped_r)
{
	time_t now = time(NULL);

	if (l->last != 0 && now - l->last < (time_t)period) {
		l->skipped++;
		return false;
	}
	*skipped_r = l->skipped;
	l->skipped = 0;
	l->last = now;
	return true;
}
