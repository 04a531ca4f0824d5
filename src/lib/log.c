/*
 * log.c - timestamped single-write log lines to stderr or syslog.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static bool use_syslog;
static enum log_level min_level = LOG_LEVEL_INFO;

void log_use_syslog(bool on)
{
	if (on && !use_syslog)
		openlog("correio", LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (!on && use_syslog)
		closelog();
	use_syslog = on;
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
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
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
