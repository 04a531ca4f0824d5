/*
 * sendmail_headers.c - the header work of `correio sendmail`: for -t, the
 * recipients named in To:, Cc: and Bcc: of the message's header section
 * (RFC 5322 §3.4 address lists, groups included) and the removal of Bcc:
 * lines; for every message, the From:, Date: and Message-ID: it lacks
 * (RFC 5322 §3.6 requires the first two), added as Postfix's cleanup
 * does (here at the top of the header section).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/buf.h"

/* Append " addr" for every address of a list value (unfolded); returns how
   many. */
static int take_list(const char *v, size_t n, struct buf *rcpts)
{
	size_t start = 0;
	int found = 0;
	int angle = 0, quote = 0, comment = 0;

	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? v[i] : ',';
		if (quote) {
			quote = c != '"' || (i > 0 && v[i - 1] == '\\');
			continue;
		}
		if (c == '"')
			quote = 1;
		else if (c == '(')
			comment++;
		else if (c == ')' && comment > 0)
			comment--;
		else if (c == '<')
			angle = 1, start = i + 1;
		else if (c == '>' && angle) {
			angle = 2;
			if (i > start)
				found += buf_printf(rcpts, " %.*s", (int)(i - start),
						    v + start) > 0;
		} else if (c == ':' && !angle && !comment) {
			start = i + 1;		/* a group's name */
		} else if ((c == ',' || c == ';') && !angle && !comment) {
			size_t a = start, b = i;
			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			if (b > a && memchr(v + a, '@', b - a) != NULL)
				found += buf_printf(rcpts, " %.*s", (int)(b - a),
						    v + a) > 0;
			start = i + 1;
		} else if (c == ',' && angle == 2) {
			angle = 0;
			start = i + 1;
		}
		if (angle == 2 && (c == ',' || c == ';')) {
			angle = 0;
			start = i + 1;
		}
	}
	return found;
}

static bool is_field(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

int sendmail_headers(struct buf *msg, struct buf *rcpts)
{
	struct buf out, value;
	size_t pos = 0;
	bool in_list = false, drop = false;
	int found = 0;

	buf_init(&out, 0);
	buf_init(&value, 0);
	while (pos < msg->len) {
		const char *line = msg->data + pos;
		const char *nl = memchr(line, '\n', msg->len - pos);
		size_t len = nl != NULL ? (size_t)(nl - line) + 1 : msg->len - pos;
		size_t text = len - (len > 0 && line[len - 1] == '\n') -
			      (len > 1 && line[len - 2] == '\r');
		bool cont = text > 0 && (line[0] == ' ' || line[0] == '\t');

		if (text == 0)		/* end of the header section */
			break;
		if (!cont) {
			if (in_list)
				found += take_list(value.data, value.len, rcpts);
			buf_reset(&value);
			in_list = is_field(line, text, "to") || is_field(line, text, "cc") ||
				  is_field(line, text, "bcc");
			drop = is_field(line, text, "bcc");
			if (in_list)
				buf_append(&value, memchr(line, ':', text) + 1,
					   text - (size_t)((const char *)memchr(line, ':', text) + 1 - line));
		} else if (in_list) {
			buf_append(&value, line, text);
		}
		if (!drop)
			buf_append(&out, line, len);
		pos += len;
	}
	if (in_list)
		found += take_list(value.data, value.len, rcpts);
	buf_append(&out, msg->data + pos, msg->len - pos);
	buf_reset(msg);
	buf_append(msg, out.data, out.len);
	buf_deinit(&out);
	buf_deinit(&value);
	return found;
}

/* ---- missing header fields ---- */

/* Is line[0..len) (no line end) a header field: a name of printable
   characters other than ':' and SP, then ':'? */
static bool is_header_line(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] > ' ' && line[i] < 127 && line[i] != ':')
		i++;
	return i > 0 && i < len && line[i] == ':';
}

struct header_scan {
	size_t end;		/* offset where the header section ends */
	bool blank;		/* ...at an empty line (else at the body or EOF) */
	bool from, date, message_id;
};

static void scan_headers(const struct buf *msg, struct header_scan *h)
{
	size_t pos = 0;
	bool in_header = false;

	memset(h, 0, sizeof(*h));
	while (pos < msg->len) {
		const char *line = msg->data + pos;
		const char *nl = memchr(line, '\n', msg->len - pos);
		size_t len = nl != NULL ? (size_t)(nl - line) + 1 : msg->len - pos;
		size_t text = len - (line[len - 1] == '\n') -
			      (len > 1 && line[len - 2] == '\r');

		if (text == 0) {
			h->blank = true;
			break;
		}
		if (in_header && (line[0] == ' ' || line[0] == '\t')) {
			pos += len;
			continue;
		}
		if (!is_header_line(line, text))
			break;		/* the body starts without an empty line */
		in_header = true;
		h->from |= is_field(line, text, "from");
		h->date |= is_field(line, text, "date");
		h->message_id |= is_field(line, text, "message-id");
		pos += len;
	}
	h->end = pos;
}

/* A leading "From " line (an mbox envelope line) is not part of the
   message. */
static void drop_from_line(struct buf *msg)
{
	const char *nl;

	if (msg->len < 5 || memcmp(msg->data, "From ", 5) != 0)
		return;
	nl = memchr(msg->data, '\n', msg->len);
	buf_consume(msg, nl != NULL ? (size_t)(nl - msg->data) + 1 : msg->len);
}

static int add_date(struct buf *out)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	return buf_printf(out, "Date: %s\n", date);
}

static int add_message_id(struct buf *out, const char *hostname)
{
	char stamp[32];
	unsigned int rnd[2] = { 0, 0 };
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd[0] = (unsigned int)now ^ (unsigned int)clock();
	return buf_printf(out, "Message-ID: <%s.%ld.%08x%08x@%s>\n", stamp,
			  (long)getpid(), rnd[0], rnd[1], hostname);
}

int sendmail_complete_headers(struct buf *msg, const char *from, const char *hostname)
{
	struct header_scan h;
	struct buf out;
	bool ok = true;

	drop_from_line(msg);
	scan_headers(msg, &h);
	if (h.from && h.date && h.message_id)
		return 1;
	buf_init(&out, msg->max);
	if (!h.from)
		ok &= buf_printf(&out, "From: %s\n", from) > 0;
	if (!h.date)
		ok &= add_date(&out) > 0;
	if (!h.message_id)
		ok &= add_message_id(&out, hostname) > 0;
	ok &= buf_append(&out, msg->data, h.end) > 0;
	/* the body started without the empty line that ends the header */
	if (!h.blank && h.end < msg->len)
		ok &= buf_putc(&out, '\n') > 0;
	ok &= buf_append(&out, msg->data + h.end, msg->len - h.end) > 0;
	if (!ok) {
		buf_deinit(&out);
		return -1;
	}
	buf_deinit(msg);
	*msg = out;
	return 1;
}
