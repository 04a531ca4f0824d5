/*
 * mime_header.c - header blocks: iterating fields, unfolding values,
 * looking a field up by name, and the HEADER.FIELDS filter of IMAP FETCH.
 *
 * Used by the message parser (to find where each header ends and read the
 * Content-* fields) and by the IMAP server.  Pure, no allocation.  The
 * iterator never reads past the text it is given; limits on the number of
 * fields and the header size are applied by the parser (mime_message.c).
 *
 * RFC 5322 §2.2 and §3.6.8, leniently:
 *   field      = field-name *WSP ":" unstructured CRLF
 *   field-name = 1*ftext            ; here: any byte > 0x20 but ":" and DEL
 *   folding    = a line that begins with WSP continues the field
 * Line endings are LF or CRLF.  A line that is neither a field, nor a
 * continuation, nor empty ends the header: the body starts there.
 */
#include "mime_int.h"

#include <string.h>

void mime_header_iter_init(struct mime_header_iter *it, const char *text,
			   size_t len)
{
	it->data = text;
	it->pos = 0;
	it->end = len;
	it->empty_line = false;
}

/* One past the LF ending the line at pos, or end. */
static size_t line_next(const struct mime_header_iter *it, size_t pos)
{
	const char *lf = memchr(it->data + pos, '\n', it->end - pos);

	return lf != NULL ? (size_t)(lf - it->data) + 1 : it->end;
}

/* Length of the field name at pos (trailing blanks included) up to the
   colon, or 0 when the line is not a field. */
static size_t field_name(const struct mime_header_iter *it, size_t pos,
			 size_t *name_len_r)
{
	size_t i = pos, name_end;
	unsigned char c;

	while (i < it->end) {
		c = (unsigned char)it->data[i];
		if (c <= ' ' || c == ':' || c == 0x7f)
			break;
		i++;
	}
	name_end = i;
	while (i < it->end && mime_is_wsp(it->data[i]))
		i++;
	if (name_end == pos || i >= it->end || it->data[i] != ':')
		return 0;
	*name_len_r = name_end - pos;
	return i - pos;
}

static bool line_is_empty(const struct mime_header_iter *it, size_t pos)
{
	return it->data[pos] == '\n' ||
	       (it->data[pos] == '\r' && pos + 1 < it->end &&
		it->data[pos + 1] == '\n');
}

int mime_header_next(struct mime_header_iter *it, struct mime_field *f)
{
	size_t pos = it->pos, colon, next, value_end;

	if (pos >= it->end)
		return 0;
	if (line_is_empty(it, pos)) {
		it->pos = line_next(it, pos);
		it->end = it->pos;
		it->empty_line = true;
		return 0;
	}
	colon = field_name(it, pos, &f->name_len);
	if (colon == 0) {
		it->end = pos;	/* not a field: the body starts here */
		return 0;
	}
	next = line_next(it, pos);
	while (next < it->end && mime_is_wsp(it->data[next]))
		next = line_next(it, next);
	value_end = next;
	if (value_end > pos && it->data[value_end - 1] == '\n')
		value_end--;
	if (value_end > pos + colon + 1 && it->data[value_end - 1] == '\r')
		value_end--;
	f->name = it->data + pos;
	f->value = it->data + pos + colon + 1;
	f->value_len = value_end - (pos + colon + 1);
	f->start = pos;
	f->end = next;
	it->pos = next;
	return 1;
}

int mime_header_unfold(const struct mime_field *f, struct buf *out)
{
	size_t n = f->value_len, i, run = 0;
	const char *p = mime_trim(f->value, &n);

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\0' ||
		    (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')) {
			if (i > run && buf_append(out, p + run, i - run) < 0)
				return -1;
			run = i + 1;
		}
	}
	if (n > run && buf_append(out, p + run, n - run) < 0)
		return -1;
	return 1;
}

int mime_header_get(const struct mime_message *msg,
		    const struct mime_part *part, const char *name,
		    struct buf *out)
{
	struct mime_header_iter it;
	struct mime_field f;

	mime_header_iter_init(&it, mime_message_data(msg) + part->header_start,
			      part->body_start - part->header_start);
	while (mime_header_next(&it, &f) == 1) {
		if (mime_ieq(f.name, f.name_len, name))
			return mime_header_unfold(&f, out);
	}
	return 0;
}

int mime_header_get_decoded(const struct mime_message *msg,
			    const struct mime_part *part, const char *name,
			    struct buf *out)
{
	struct buf raw;
	int ret;

	buf_init(&raw, 0);
	ret = mime_header_get(msg, part, name, &raw);
	if (ret == 1 && mime_rfc2047_decode(buf_cstr(&raw), raw.len, out) < 0)
		ret = -1;
	buf_deinit(&raw);
	return ret;
}

static bool name_listed(const struct mime_field *f, const char *const *names,
			size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (mime_ieq(f->name, f->name_len, names[i]))
			return true;
	}
	return false;
}

int mime_header_filter(const char *text, size_t len,
		       const char *const *names, size_t n, bool exclude,
		       struct buf *out)
{
	struct mime_header_iter it;
	struct mime_field f;

	mime_header_iter_init(&it, text, len);
	while (mime_header_next(&it, &f) == 1) {
		if (name_listed(&f, names, n) == exclude)
			continue;
		if (buf_append(out, text + f.start, f.end - f.start) < 0)
			return -1;
		if (text[f.end - 1] != '\n' && buf_putc(out, '\n') < 0)
			return -1;
	}
	return buf_putc(out, '\n');
}
