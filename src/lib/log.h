#ifndef CORREIO_LOG_H
#define CORREIO_LOG_H
/*
 * log: one line per event, to stderr (default) or syslog.  Each line is
 * written with a single write(2), so threads may log concurrently.
 * Lines look like:  2026-11-27T05:11:17Z correio[123]: smtpd: 1A2B3C: from=<a@b>
 */
#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERR };

/* Send log lines to syslog instead of stderr. */
void log_use_syslog(bool on);
void log_set_level(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1): for start-up and environment faults only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
