/*
 * fuzz_imap_date.c - libFuzzer target for the dates of IMAP: the input, cut
 * at 63 bytes and made a C string, is read as an APPEND date-time and as a
 * SEARCH date, as correio reads them from clients.
 *
 * Checked: a date-time that parses is written back as INTERNALDATE (26
 * bytes) unless its local time falls after 9999; the written form parses
 * to the same moment and zone, and its first 11 bytes to the date of that
 * moment in that zone.  A date that parses is a UTC midnight, and with
 * " 00:00:00 +0000" after it is a date-time of the same moment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_date.h"
#include "lib/buf.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define INPUT_MAX 64
/* 10000-01-01 00:00:00 UTC: the first moment INTERNALDATE cannot show */
#define YEAR_10000 INT64_C(253402300800)

static int64_t day_start(int64_t t)
{
	return (t >= 0 ? t / 86400 : -((-t + 86399) / 86400)) * 86400;
}

static void check_date_time(const char *s)
{
	time_t t, t2, day;
	int tz, tz2;
	int64_t local;
	struct buf out;
	char date[12];

	if (imap_date_time_parse(s, &t, &tz) < 0)
		return;
	CHECK(tz >= -1439 && tz <= 1439);
	local = (int64_t)t + (int64_t)tz * 60;
	buf_init(&out, 0);
	if (imap_date_time_write(&out, t, tz) < 0) {
		/* only the leap second that ends 9999 leaves the range */
		CHECK(local == YEAR_10000 && out.len == 0);
		buf_deinit(&out);
		return;
	}
	CHECK(local < YEAR_10000);
	CHECK(out.len == 26);
	CHECK(imap_date_time_parse(buf_cstr(&out), &t2, &tz2) == 1);
	CHECK(t2 == t && tz2 == tz);
	memcpy(date, out.data, 11);
	date[11] = '\0';
	CHECK(imap_date_parse(date, &day) == 1);
	CHECK((int64_t)day == day_start(local));
	buf_deinit(&out);
}

static void check_date(const char *s)
{
	char dt[INPUT_MAX + 16];
	time_t t, t2;
	int tz;

	if (imap_date_parse(s, &t) < 0)
		return;
	CHECK(day_start((int64_t)t) == (int64_t)t);
	CHECK(strlen(s) <= 11);
	memcpy(dt, s, strlen(s));
	memcpy(dt + strlen(s), " 00:00:00 +0000", 16);
	CHECK(imap_date_time_parse(dt, &t2, &tz) == 1);
	CHECK(t2 == t && tz == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[INPUT_MAX];

	if (size > sizeof(s) - 1)
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	check_date_time(s);
	check_date(s);
	return 0;
}
