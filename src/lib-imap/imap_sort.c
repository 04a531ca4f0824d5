/*
 * imap_sort.c - SORT's pieces that need no mailbox (RFC 5256, RFC 5957):
 * the criteria, base subjects, sent dates, message IDs and the sort.
 * Called by the IMAP server's SORT and THREAD (src/imapd/cmd_sort.c);
 * threading itself is in imap_thread.c.  Pure; limits: the criteria
 * (IMAP_SORT_MAX_CRITERIA), and out's maximum for the base subject.
 */
#include "lib-imap/imap_sort.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/imap_search.h"
#include "lib/util.h"

/* ---- criteria ---- */

int imap_sort_criteria_parse(const struct imap_arg *list, size_t count,
			     struct imap_sort_criterion *out, unsigned *n_r,
			     const char **error_r)
{
	static const char *const names[] = {
		[IMAP_SORT_ARRIVAL] = "ARRIVAL", [IMAP_SORT_CC] = "CC",
		[IMAP_SORT_DATE] = "DATE", [IMAP_SORT_FROM] = "FROM",
		[IMAP_SORT_SIZE] = "SIZE", [IMAP_SORT_SUBJECT] = "SUBJECT",
		[IMAP_SORT_TO] = "TO", [IMAP_SORT_DISPLAYFROM] = "DISPLAYFROM",
		[IMAP_SORT_DISPLAYTO] = "DISPLAYTO",
	};
	bool reverse = false;
	unsigned n = 0;
	size_t k;

	for (size_t i = 0; i < count; i++) {
		if (imap_arg_atom_equals(&list[i], "REVERSE") && !reverse) {
			reverse = true;
			continue;
		}
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (imap_arg_atom_equals(&list[i], names[k]))
				break;
		if (k == sizeof(names) / sizeof(names[0]) || n == IMAP_SORT_MAX_CRITERIA) {
			*error_r = "unknown sort criterion";
			return -1;
		}
		out[n].key = (enum imap_sort_key)k;
		out[n++].reverse = reverse;
		reverse = false;
	}
	if (n == 0 || reverse) {
		*error_r = n == 0 ? "no sort criteria" : "REVERSE needs a sort key";
		return -1;
	}
	*n_r = n;
	return 1;
}

/* ---- base subject (RFC 5256 §2.1) ---- */

/*
 *   subj-trailer    = "(fwd)" / WSP
 *   subj-fwd-hdr    = "[fwd:"
 *   subj-fwd-trl    = "]"
 *   subj-blob       = "[" *BLOBCHAR "]" *WSP
 *   subj-refwd      = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
 *   subj-leader     = (*subj-blob subj-refwd) / WSP
 *   BLOBCHAR        = %x01-5a / %x5c / %x5e-7f  (not "[" or "]")
 */

/* Length of a subj-blob at s[0..n), 0 if none. */
static size_t blob_len(const char *s, size_t n)
{
	size_t i = 1;

	if (n == 0 || s[0] != '[')
		return 0;
	while (i < n && s[i] != '[' && s[i] != ']')
		i++;
	if (i == n || s[i] != ']')
		return 0;
	for (i++; i < n && s[i] == ' '; i++)
		;
	return i;
}

/* Length of a subj-refwd at s[0..n), 0 if none. */
static size_t refwd_len(const char *s, size_t n)
{
	size_t i;

	if (n >= 2 && strncasecmp(s, "re", 2) == 0)
		i = 2;
	else if (n >= 3 && strncasecmp(s, "fwd", 3) == 0)
		i = 3;
	else if (n >= 2 && strncasecmp(s, "fw", 2) == 0)
		i = 2;
	else
		return 0;
	while (i < n && s[i] == ' ')
		i++;
	i += blob_len(s + i, n - i);
	return i < n && s[i] == ':' ? i + 1 : 0;
}

/* Length of a subj-leader at s[0..n), 0 if none. */
static size_t leader_len(const char *s, size_t n, bool *reply)
{
	size_t i = 0, b, r;

	if (n > 0 && s[0] == ' ')
		return 1;
	while ((b = blob_len(s + i, n - i)) > 0) {
		if ((r = refwd_len(s + i + b, n - i - b)) > 0) {
			*reply = true;
			return i + b + r;
		}
		i += b;
	}
	if ((r = refwd_len(s, n)) > 0)
		*reply = true;
	return r;
}

/* Steps 2 to 5 on s[*start..*end): one pass; true if anything changed. */
static bool subject_pass(const char *s, size_t *start, size_t *end, bool *reply)
{
	size_t a = *start, z = *end, n, b;
	bool changed = false;

	/* (2) trailers */
	for (;;) {
		if (z > a && s[z - 1] == ' ')
			z--;
		else if (z - a >= 5 && strncasecmp(s + z - 5, "(fwd)", 5) == 0) {
			z -= 5;
			*reply = true;
		} else
			break;
	}
	/* (3) and (4): leaders, and a blob when something is left after it */
	for (;;) {
		if ((n = leader_len(s + a, z - a, reply)) > 0) {
			a += n;
			continue;
		}
		b = blob_len(s + a, z - a);
		if (b > 0 && a + b < z) {
			a += b;
			continue;
		}
		break;
	}
	/* (5) [fwd: ...] */
	if (z - a >= 6 && strncasecmp(s + a, "[fwd:", 5) == 0 && s[z - 1] == ']') {
		a += 5;
		z--;
		*reply = true;
		changed = true;
	}
	changed = changed || a != *start || z != *end;
	*start = a;
	*end = z;
	return changed;
}

int imap_base_subject(const char *subject, size_t len, struct buf *out, bool *reply_r)
{
	size_t start = out->len, a = 0, z;
	bool reply = false, blank = true;
	char *s;

	/* (1) blanks (tabs, folding) become one space; leading ones go */
	s = xmalloc(len + 1);
	z = 0;
	for (size_t i = 0; i < len; i++) {
		char c = subject[i];
		bool is_blank = c == ' ' || c == '\t' || c == '\r' || c == '\n';
		if (is_blank && blank)
			continue;
		s[z++] = is_blank ? ' ' : c;
		blank = is_blank;
	}
	while (subject_pass(s, &a, &z, &reply))
		;
	if (buf_append(out, s + a, z - a) < 0) {
		free(s);
		return -1;
	}
	free(s);
	imap_search_fold(out->data + start, out->len - start);
	if (reply_r != NULL)
		*reply_r = reply;
	return 1;
}

/* ---- sent date ---- */

static const char *skip_cfws(const char *s)
{
	int depth = 0;

	for (;; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n' && depth == 0)
			return s;
		else if (*s == '\0')
			return s;
	}
}

static int number(const char **s, int max_digits, int *v)
{
	int n = 0;

	*v = 0;
	while (n < max_digits && **s >= '0' && **s <= '9') {
		*v = *v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n;
}

/* Minutes east of UTC of a zone: "+0200", "-0800", "GMT", "EST"...; an
   unknown one (and military zones) is UTC (RFC 5322 §4.3). */
static int zone_minutes(const char *z)
{
	static const struct { const char *name; int hours; } zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "EST", -5 }, { "EDT", -4 }, { "CST", -6 },
		{ "CDT", -5 }, { "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	int v;

	if ((*z == '+' || *z == '-') && z[1] >= '0' && z[1] <= '9') {
		const char *p = z + 1;
		if (number(&p, 4, &v) != 4)
			return 0;
		v = v / 100 * 60 + v % 100;
		return *z == '-' ? -v : v;
	}
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		size_t n = strlen(zones[i].name);
		if (strncasecmp(z, zones[i].name, n) == 0 &&
		    !((z[n] | 32) >= 'a' && (z[n] | 32) <= 'z'))
			return zones[i].hours * 60;
	}
	return 0;
}

int imap_sort_date_parse(const char *value, time_t *t_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *s = skip_cfws(value), *m;
	struct tm tm = { 0 };
	int day, year, hour, min, sec = 0, digits;
	time_t t;

	if ((*s | 32) >= 'a' && (*s | 32) <= 'z') {	/* day-of-week */
		while ((*s | 32) >= 'a' && (*s | 32) <= 'z')
			s++;
		s = skip_cfws(s);
		if (*s == ',')
			s = skip_cfws(s + 1);
	}
	if (number(&s, 2, &day) == 0)
		return -1;
	s = skip_cfws(*s == '-' ? s + 1 : s);
	for (m = months; *m != '\0'; m += 3)
		if (strncasecmp(s, m, 3) == 0)
			break;
	if (*m == '\0')
		return -1;
	while ((*s | 32) >= 'a' && (*s | 32) <= 'z')
		s++;
	s = skip_cfws(*s == '-' ? s + 1 : s);
	if ((digits = number(&s, 4, &year)) < 2)
		return -1;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	s = skip_cfws(s);
	if (number(&s, 2, &hour) == 0 || *s != ':')
		return -1;
	s++;
	if (number(&s, 2, &min) == 0)
		return -1;
	if (*s == ':') {
		s++;
		number(&s, 2, &sec);
	}
	if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*t_r = t - (time_t)zone_minutes(skip_cfws(s)) * 60;
	return 1;
}

/* ---- message IDs ---- */

unsigned imap_msgids(const char *value, void (*fn)(void *ctx, const char *id, size_t len),
		     void *ctx)
{
	unsigned count = 0;
	const char *p = value, *end;

	while ((p = strchr(p, '<')) != NULL) {
		end = p + 1 + strcspn(p + 1, "<> \t\r\n");
		if (*end != '>' || end == p + 1) {
			p = *end == '<' ? end : end + (*end != '\0');
			continue;
		}
		fn(ctx, p, (size_t)(end + 1 - p));
		count++;
		p = end + 1;
	}
	return count;
}

/* ---- sorting ---- */

struct sort_ctx {
	const struct imap_sort_criterion *c;
	unsigned n;
};

static int cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_key(const struct imap_sort_msg *a, const struct imap_sort_msg *b,
		   enum imap_sort_key key)
{
	switch (key) {
	case IMAP_SORT_ARRIVAL:
		return cmp_num((uint64_t)a->arrival, (uint64_t)b->arrival);
	case IMAP_SORT_DATE:
		return cmp_num((uint64_t)a->date, (uint64_t)b->date);
	case IMAP_SORT_SIZE:
		return cmp_num(a->size, b->size);
	case IMAP_SORT_CC:
		return strcmp(a->cc, b->cc);
	case IMAP_SORT_FROM:
		return strcmp(a->from, b->from);
	case IMAP_SORT_TO:
		return strcmp(a->to, b->to);
	case IMAP_SORT_SUBJECT:
		return strcmp(a->subject, b->subject);
	case IMAP_SORT_DISPLAYFROM:
		return strcmp(a->display_from, b->display_from);
	case IMAP_SORT_DISPLAYTO:
		return strcmp(a->display_to, b->display_to);
	}
	return 0;
}

static int cmp_msgs(const void *pa, const void *pb, void *arg)
{
	const struct imap_sort_msg *a = pa, *b = pb;
	const struct sort_ctx *ctx = arg;
	int r;

	for (unsigned i = 0; i < ctx->n; i++) {
		if ((r = cmp_key(a, b, ctx->c[i].key)) != 0)
			return ctx->c[i].reverse ? -r : r;
	}
	return cmp_num(a->seq, b->seq);
}

void imap_sort(struct imap_sort_msg *msgs, size_t n, const struct imap_sort_criterion *c,
	       unsigned n_c)
{
	struct sort_ctx ctx = { c, n_c };

	qsort_r(msgs, n, sizeof(*msgs), cmp_msgs, &ctx);
}
