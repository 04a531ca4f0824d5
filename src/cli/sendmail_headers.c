/*
 * sendmail_headers.c - `sendmail -t`: the recipients named in To:, Cc:
 * and Bcc: of the message's header section (RFC 5322 §3.4 address lists,
 * groups included), and the removal of Bcc: lines.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"

int sendmail_headers(struct buf *msg, struct buf *rcpts);

/* Append " addr" for every address of a list value (unfolded). */
static void take_list(const char *v, size_t n, struct buf *rcpts)
{
	size_t start = 0;
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
				buf_printf(rcpts, " %.*s", (int)(i - start), v + start);
		} else if (c == ':' && !angle && !comment) {
			start = i + 1;		/* a group's name */
		} else if ((c == ',' || c == ';') && !angle && !comment) {
			size_t a = start, b = i;
			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			if (b > a && memchr(v + a, '@', b - a) != NULL)
				buf_printf(rcpts, " %.*s", (int)(b - a), v + a);
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
	bool in_list = false, drop = false, found = false;

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
				take_list(value.data, value.len, rcpts);
			buf_reset(&value);
			in_list = is_field(line, text, "to") || is_field(line, text, "cc") ||
				  is_field(line, text, "bcc");
			drop = is_field(line, text, "bcc");
			found |= in_list;
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
		take_list(value.data, value.len, rcpts);
	buf_append(&out, msg->data + pos, msg->len - pos);
	buf_reset(msg);
	buf_append(msg, out.data, out.len);
	buf_deinit(&out);
	buf_deinit(&value);
	return found ? 1 : -1;
}
