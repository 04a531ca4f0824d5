/*
 * imap_date.c - IMAP date-time and date parsing, INTERNALDATE writing.
 *
 * Called by the APPEND handler (the optional date-time), the SEARCH
 * handler (BEFORE, ON, SINCE, SENTBEFORE...) and FETCH INTERNALDATE.
 * Calendar arithmetic is done here (proleptic Gregorian, no timegm) so
 * that results do not depend on the process time zone.  Years are 4
 * digits.
 */
#include "imap_date.h"

#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

/*
 * RFC 9051 §9:
 *
 *   date-time      = DQUOTE date-day-fixed "-" date-month "-" date-year
 *                    SP time SP zone DQUOTE
 *   date-day-fixed = (SP DIGIT) / 2DIGIT
 *   date           = date-text / DQUOTE date-text DQUOTE
 *   date-text      = date-day "-" date-month "-" date-year
 *   date-day       = 1*2DIGIT
 *   date-month     = "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" /
 *                    "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
 *   date-year      = 4DIGIT
 *   time           = 2DIGIT ":" 2DIGIT ":" 2DIGIT
 *   zone           = ("+" / "-") 4DIGIT
 *
 * Leniency: a date-time day of one digit without the leading SP, as
 * many clients send it.
 */

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits at *sp. */
static int digits(const char **sp, unsigned n, int *value_r)
{
	const char *s = *sp;
	int v = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*sp = s + n;
	*value_r = v;
	return 1;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 1 && is_leap(y) ? 29 : days[m];
}

/* Days from 1970-01-01 to y-m-d (m 1..12): years counted from March,
   in 400-year eras of 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* day "-" month "-" year; day is 1 or 2 digits. */
static int parse_day_month_year(const char **sp, int64_t *days_r)
{
	const char *s = *sp;
	int day = 0, month, year;

	if (!is_digit(s[0]))
		return -1;
	day = s[0] - '0';
	s++;
	if (is_digit(s[0]))
		day = day * 10 + (*s++ - '0');
	if (*s++ != '-')
		return -1;
	for (month = 0; month < 12; month++) {
		if (strncasecmp(s, month_names[month], 3) == 0)
			break;
	}
	if (month == 12 || s[3] != '-')
		return -1;
	s += 4;
	if (digits(&s, 4, &year) < 0)
		return -1;
	if (day < 1 || day > days_in_month(year, month))
		return -1;
	*days_r = days_from_civil(year, month + 1, day);
	*sp = s;
	return 1;
}

int imap_date_parse(const char *s, time_t *t_r)
{
	int64_t days;

	if (parse_day_month_year(&s, &days) < 0 || *s != '\0')
		return -1;
	*t_r = (time_t)(days * 86400);
	return 1;
}

/* SP hh:mm:ss SP (+|-)hhmm, the end of a date-time. */
static int parse_time_zone(const char *s, int *secs_r, int *tz_r)
{
	int hh, mm, ss, zh, zm;
	char sign;

	if (*s++ != ' ' || digits(&s, 2, &hh) < 0 || *s++ != ':' ||
	    digits(&s, 2, &mm) < 0 || *s++ != ':' ||
	    digits(&s, 2, &ss) < 0 || *s++ != ' ')
		return -1;
	sign = *s++;
	if ((sign != '+' && sign != '-') || digits(&s, 2, &zh) < 0 ||
	    digits(&s, 2, &zm) < 0 || *s != '\0')
		return -1;
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	*secs_r = hh * 3600 + mm * 60 + ss;
	*tz_r = (sign == '-' ? -1 : 1) * (zh * 60 + zm);
	return 1;
}

int imap_date_time_parse(const char *s, time_t *t_r, int *tz_r)
{
	int64_t days;
	int secs, tz;

	if (s[0] == ' ' && is_digit(s[1]) && s[2] == '-')
		s++;
	if (parse_day_month_year(&s, &days) < 0 ||
	    parse_time_zone(s, &secs, &tz) < 0)
		return -1;
	*t_r = (time_t)(days * 86400 + secs - (int64_t)tz * 60);
	*tz_r = tz;
	return 1;
}

/* y-m-d of a day count from 1970-01-01: the inverse of the above. */
static void civil_from_days(int64_t z, int64_t *y_r, int *m_r, int *d_r)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = yoe + era * 400 + (*m_r <= 2);
}

int imap_date_time_write(struct buf *out, time_t t, int tz)
{
	int64_t local, days, secs, year;
	int month, day, atz = tz < 0 ? -tz : tz;

	if (tz < -1439 || tz > 1439)
		return -1;
	/* 10000-01-01 is 253402300800: beyond it and before year 0 no */
	if ((int64_t)t < -62167219200 - 86400 ||
	    (int64_t)t > INT64_C(253402300800) + 86400)
		return -1;
	local = (int64_t)t + (int64_t)tz * 60;
	days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	secs = local - days * 86400;
	civil_from_days(days, &year, &month, &day);
	if (year < 0 || year > 9999)
		return -1;
	return buf_printf(out, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d",
			  day, month_names[month - 1], (int)year,
			  (int)(secs / 3600), (int)(secs / 60 % 60),
			  (int)(secs % 60), tz < 0 ? '-' : '+',
			  atz / 60, atz % 60);
}
