#ifndef CORREIO_IMAP_DATE_H
#define CORREIO_IMAP_DATE_H
/*
 * imap_date: the dates of IMAP (RFC 9051 §9): date-time for APPEND and
 * INTERNALDATE ("17-Jul-1996 02:44:25 -0700") and date for SEARCH
 * BEFORE/ON/SINCE ("1-Feb-1994").  The reader has already removed the
 * quotes.  Pure; no locale, no time zone database.
 */
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

/*
 * Parse a date-time: day ("01", " 1" or "1"), "-", month name (any case),
 * "-", 4-digit year, SP, hh:mm:ss, SP, zone (+hhmm / -hhmm).
 * Returns 1 with *t_r the moment (seconds since the epoch, UTC) and
 * *tz_r the zone in minutes east of UTC, or -1 on bad syntax or values
 * (31-Feb, 24:00:00, zone minutes 60...).
 */
int imap_date_time_parse(const char *s, time_t *t_r, int *tz_r);

/*
 * Parse a date: day ("1" or "01"), "-", month, "-", 4-digit year.
 * Returns 1 with *t_r the midnight UTC that starts the day, or -1.
 * SEARCH compares dates with no time of day and no zone (RFC 9051 §6.4.4),
 * so callers compare it with the day of a message's date in its own zone.
 */
int imap_date_parse(const char *s, time_t *t_r);

/*
 * Append t as seen in zone tz (minutes east of UTC, -1439..1439) in the
 * INTERNALDATE form "dd-Mon-yyyy hh:mm:ss +zzzz" (no quotes).  Returns 1,
 * or -1 for a year outside 0..9999, a bad zone, or if out refused to grow.
 */
int imap_date_time_write(struct buf *out, time_t t, int tz);

#endif
