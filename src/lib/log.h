#ifndef CORREIO_LOG_H
#define CORREIO_LOG_H
/*
 * log: one line per event, to stderr (default), a file or syslog.  Each line is
 * written with a single write(2), so threads may log concurrently.
 * Lines look like:  2026-11-27T05:11:17Z correio[123]: smtpd: 1A2B3C: from=<a@b>
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERR };

/* Send log lines to syslog instead of stderr. */
void log_use_syslog(bool on);
void log_set_level(enum log_level level);
/* Is a debug line written (log_level = debug)? */
bool log_debug_enabled(void);

/*
 * Where lines go: "stderr", "syslog" (facility mail) or the absolute path
 * of a file, opened for appending (created 0640).  Returns 1, or -1 with
 * the reason, the previous destination kept.
 */
int log_set_destination(const char *dest, const char **error_r);
/* Open the log file's path again (after logrotate moved it); nothing for
   stderr and syslog.  Returns 1, or -1 with the reason, the old file kept. */
int log_reopen(const char **error_r);
/* Give the open log file to the run-as user, so that it can reopen it
   after the switch.  Returns 1 (also without a file), or -1. */
int log_file_chown(uid_t uid, gid_t gid);

/*
 * One line of a protocol dialogue: "<proto>: [<addr>]: <dir> <text>", at
 * info when peer_listed (the client is in [server] debug_peers), else at
 * debug.  Control characters become spaces; text is cut at 500 bytes.
 */
void log_dialogue(bool peer_listed, const char *proto, const char *addr,
		  const char *dir, const char *text, size_t len);
/* log_dialogue() of a reply still to be formatted from fmt and ap; does
   nothing (not even the formatting) when the line would not be logged.
   ap is only copied, so the caller may still use it. */
void log_dialogue_vprintf(bool peer_listed, const char *proto, const char *addr,
			  const char *dir, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* One kind of repeated log line (a refusal, a failing accept), said at
   most once per period. */
struct log_limit {
	time_t last;
	unsigned skipped;	/* lines not said since the last one */
};
/* May the line be logged now (period in seconds)?  *skipped_r: how many
   were not, since the last one. */
bool log_limit_ok(struct log_limit *l, unsigned period, unsigned *skipped_r);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1): for start-up and environment faults only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
