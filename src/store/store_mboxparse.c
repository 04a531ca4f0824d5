/*
 * store_mboxparse.c - the mbox file format, written (an entry, and the
 * header fields that carry a delivered message's flags) and read back:
 * where each message is and what it is when served.  Pure: no I/O, used
 * by store_mboxfile.c and its fuzz target.
 *
 * An entry is a "From " line, the message's lines (mboxrd: a line that
 * was ">*From " got one more '>'), and one empty separator line:
 *
 *     mbox      = *garbage *entry
 *     entry     = from-line *line [empty-line]
 *     from-line = "From " *(any but LF) LF
 *     line      = *(any but LF) LF       ; not a from-line
 *
 * Every line that starts with "From " starts an entry (mboxrd quotes all
 * of them in bodies, and so does mboxo).  The empty line just before the
 * next entry, or before the end of the file, is the separator and not
 * part of the message.  Served text: the lines after the From_ line, with
 * one '>' taken off each ">+From " line.  Bytes before the first From_
 * line belong to no message.  A last line without LF ends at the end of
 * the data.
 *
 * Status: and X-Status: headers (mutt, the /var/mail tools) give the
 * message's flags: R \Seen; A \Answered, F \Flagged, T \Draft,
 * D \Deleted; X-Keywords: its keywords (space or comma separated).  The
 * store takes them for every message it indexes from the file: local
 * delivery drops the sender's and writes the flags it gives (a Sieve
 * script's), store_mboxparse_state().  They are served as they are.
 */
#include "store/store_private.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#define FROM_LINE_MAX 1000	/* what is looked at of a From_ line */

struct parse_state {
	struct mboxmsg m;
	bool in_msg;
	bool in_headers;
	bool pending_empty;	/* an empty line that may be the separator */
	store_mboxparse_fn *cb;
	void *ctx;
};

static bool is_from(const char *p, size_t len)
{
	return len >= 5 && memcmp(p, "From ", 5) == 0;
}

/* ">+From ": a quoted line (one '>' is taken off when served). */
static bool is_quoted_from(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && p[i] == '>')
		i++;
	return i > 0 && is_from(p + i, len - i);
}

/* The date of "From sender Thu Dec  3 10:00:00 2026" (UTC), 0 if none. */
static int64_t from_date(const char *line, size_t len)
{
	char text[32];
	struct tm tm;
	const char *end;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
			   line[len - 1] == ' '))
		len--;
	if (len < 24 + 5 || len > FROM_LINE_MAX)
		return 0;
	memcpy(text, line + len - 24, 24);
	text[24] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%a %b %e %H:%M:%S %Y", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	return (int64_t)timegm(&tm);
}

/* Flags of a Status: or X-Status: header line. */
static uint8_t header_flags(const char *p, size_t len)
{
	static const struct { char c; uint8_t flag; } xstatus[] = {
		{ 'A', STORE_FLAG_ANSWERED }, { 'F', STORE_FLAG_FLAGGED },
		{ 'T', STORE_FLAG_DRAFT }, { 'D', STORE_FLAG_DELETED },
	};
	uint8_t flags = 0;
	size_t i;

	if (len >= 7 && strncasecmp(p, "Status:", 7) == 0) {
		for (i = 7; i < len; i++)
			if (p[i] == 'R')
				flags |= STORE_FLAG_SEEN;
	} else if (len >= 9 && strncasecmp(p, "X-Status:", 9) == 0) {
		for (i = 9; i < len; i++)
			for (size_t k = 0; k < sizeof(xstatus) / sizeof(xstatus[0]); k++)
				if (p[i] == xstatus[k].c)
					flags |= xstatus[k].flag;
	}
	return flags;
}

/* Add a line of the message (not the From_ line) as served. */
static void add_line(struct parse_state *ps, const char *p, size_t len, bool lf)
{
	size_t served = len - (is_quoted_from(p, len) ? 1 : 0);

	ps->m.size += served;
	ps->m.vsize += served;
	if (lf && (len < 2 || p[len - 2] != '\r'))
		ps->m.vsize++;	/* a bare LF goes out as CRLF */
	ps->m.raw_len += len;
	ps->m.crc = store_crc32c(ps->m.crc, p, len);
}

static void end_msg(struct parse_state *ps, uint64_t end)
{
	if (!ps->in_msg)
		return;
	ps->m.end = end;
	ps->cb(ps->ctx, &ps->m);
	ps->in_msg = false;
}

static void start_msg(struct parse_state *ps, const char *p, size_t len, uint64_t off)
{
	memset(&ps->m, 0, sizeof(ps->m));
	ps->m.off = off;
	ps->m.raw_len = len;
	ps->m.crc = store_crc32c(0, p, len);
	ps->m.date = from_date(p, len);
	ps->in_msg = true;
	ps->in_headers = true;
	ps->pending_empty = false;
}

static void one_line(struct parse_state *ps, const char *p, size_t len, bool lf,
		     uint64_t off)
{
	if (is_from(p, len)) {
		end_msg(ps, off);
		start_msg(ps, p, len, off);
		return;
	}
	if (!ps->in_msg)
		return;
	if (ps->pending_empty) {
		add_line(ps, "\n", 1, true);
		ps->pending_empty = false;
	}
	if (len == 1 && lf) {
		ps->pending_empty = true;
		ps->in_headers = false;
		return;
	}
	if (ps->in_headers) {
		ps->m.flags |= header_flags(p, len);
		if (len > 11 && strncasecmp(p, "X-Keywords:", 11) == 0 && ps->m.kw_len == 0) {
			ps->m.kw_off = off + 11;
			ps->m.kw_len = (uint32_t)(len - 11 > 1000 ? 1000 : len - 11);
		}
	}
	add_line(ps, p, len, lf);
}

void store_mboxparse(const char *data, size_t len, uint64_t base,
		     store_mboxparse_fn *cb, void *ctx)
{
	struct parse_state ps = { .cb = cb, .ctx = ctx };
	size_t at = 0;

	while (at < len) {
		const char *nl = memchr(data + at, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - (data + at)) + 1 : len - at;
		one_line(&ps, data + at, n, nl != NULL, base + at);
		at += n;
	}
	end_msg(&ps, base + len);
}

size_t store_mboxparse_content(const char *raw, size_t raw_len, char *out)
{
	const char *nl = memchr(raw, '\n', raw_len);
	size_t at = nl != NULL ? (size_t)(nl - raw) + 1 : raw_len, o = 0;

	while (at < raw_len) {
		const char *p = raw + at;
		nl = memchr(p, '\n', raw_len - at);
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : raw_len - at;
		size_t skip = is_quoted_from(p, n) ? 1 : 0;
		memcpy(out + o, p + skip, n - skip);
		o += n - skip;
		at += n;
	}
	return o;
}

void store_mboxparse_entry(const char *sender, int64_t date, const char *text,
			   size_t len, struct buf *out)
{
	time_t t = (time_t)date;
	struct tm tm;
	char stamp[64];
	size_t at = 0;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(out, "From %s %s\n", sender[0] != '\0' ? sender : "MAILER-DAEMON", stamp);
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - (text + at)) + 1 : len - at;
		size_t i = 0;
		while (i < n && text[at + i] == '>')
			i++;
		if (is_from(text + at + i, n - i))
			buf_putc(out, '>');
		buf_append(out, text + at, n);
		at += n;
	}
	if (len > 0 && text[len - 1] != '\n')
		buf_putc(out, '\n');
	buf_putc(out, '\n');	/* the separator */
}

/* Is the header line p[0..len) one of the fields that hold an mbox
   message's state? */
static bool state_field(const char *p, size_t len)
{
	static const char *const names[] = { "status:", "x-status:", "x-keywords:" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (len >= strlen(names[i]) && strncasecmp(p, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

#define MBOX_KEYWORDS_LINE 998	/* characters of the X-Keywords: line */

/* The Status: (seen), X-Status: and X-Keywords: values of flags. */
static void state_values(const char *flags, bool *seen, struct buf *x, struct buf *kw)
{
	static const struct { const char *flag; char letter; } xstatus[] = {
		{ "\\Answered", 'A' }, { "\\Flagged", 'F' }, { "\\Draft", 'T' },
		{ "\\Deleted", 'D' },
	};

	for (const char *p = flags != NULL ? flags : ""; *p != '\0';) {
		size_t l = strcspn(p, " ");
		if (l == 5 && strncasecmp(p, "\\Seen", 5) == 0)
			*seen = true;
		for (size_t i = 0; i < sizeof(xstatus) / sizeof(xstatus[0]); i++)
			if (l == strlen(xstatus[i].flag) && strncasecmp(p, xstatus[i].flag, l) == 0)
				buf_putc(x, xstatus[i].letter);
		/* whole keywords, on one line of at most 998 characters
		   (RFC 5322 §2.1.1): the store reads that line only */
		if (l > 0 && p[0] != '\\' &&
		    sizeof("X-Keywords: ") - 1 + kw->len + 1 + l <= MBOX_KEYWORDS_LINE) {
			if (kw->len > 0)
				buf_putc(kw, ' ');
			buf_append(kw, p, l);
		}
		p += l;
		p += strspn(p, " ");
	}
}

void store_mboxparse_state(const char *msg, size_t len, const char *flags, struct buf *out)
{
	struct buf x, kw;
	size_t at = 0;
	bool seen = false, skipping = false;

	buf_init(&x, 0);
	buf_init(&kw, 0);
	state_values(flags, &seen, &x, &kw);
	while (at < len) {
		const char *p = msg + at, *nl = memchr(p, '\n', len - at);
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : len - at;
		bool empty = (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
		if (empty || nl == NULL)
			break;	/* the end of the header */
		if (p[0] != ' ' && p[0] != '\t')
			skipping = state_field(p, n);
		if (!skipping)
			buf_append(out, p, n);
		at += n;
	}
	if (seen)
		buf_puts(out, "Status: RO\n");
	if (x.len > 0)
		buf_printf(out, "X-Status: %s\n", buf_cstr(&x));
	if (kw.len > 0)
		buf_printf(out, "X-Keywords: %s\n", buf_cstr(&kw));
	buf_append(out, msg + at, len - at);
	buf_deinit(&x);
	buf_deinit(&kw);
}
