/*
 * mime_section.c - IMAP section specs (BODY[1.2.MIME], BINARY[3], ...)
 * resolved to parts and raw byte ranges of a parsed message, for FETCH.
 *
 * RFC 9051 §6.4.5 and §9:
 *   section-spec  = section-msgtext / (section-part ["." section-text])
 *   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *                     "TEXT"
 *   section-part  = nz-number *("." nz-number)
 *   section-text  = section-msgtext / "MIME"
 *
 * Numbering: the parts of a multipart are 1, 2, ...; a message that is not
 * a multipart has one part, 1, its body.  A number after a MESSAGE part
 * numbers the parts of the embedded message the same way.  HEADER and TEXT
 * after numbers need a MESSAGE part and mean its embedded message; MIME
 * means the part's own header.
 */
#include "mime_int.h"

#include <string.h>

#define SECTION_NUMBER_MAX 1000000

/* One number of the path; false when there is no such part. */
static bool step(const struct mime_part **cur, bool *at_msg, unsigned long n)
{
	const struct mime_part *p = *cur;
	unsigned long i;

	if (!*at_msg && (p->flags & MIME_PART_MESSAGE) != 0) {
		p = p->children;
		*at_msg = true;
	}
	if ((p->flags & MIME_PART_MULTIPART) != 0) {
		for (p = p->children, i = 1; p != NULL && i < n; i++)
			p = p->next;
	} else if (!*at_msg || n != 1) {
		p = NULL;
	}
	*cur = p;
	*at_msg = false;
	return p != NULL;
}

/* Parse an nz-number at spec[*i]; 0 when there is none. */
static unsigned long number_read(const char *spec, size_t len, size_t *i)
{
	unsigned long n = 0;

	if (*i >= len || spec[*i] < '1' || spec[*i] > '9')
		return 0;
	while (*i < len && spec[*i] >= '0' && spec[*i] <= '9') {
		n = n * 10 + (unsigned long)(spec[*i] - '0');
		if (n > SECTION_NUMBER_MAX)
			n = SECTION_NUMBER_MAX;
		(*i)++;
	}
	return n;
}

static int text_kind(const char *s, size_t n, bool numbers,
		     enum mime_section_kind *kind)
{
	if (n == 0)
		*kind = MIME_SECTION_BODY;
	else if (mime_ieq(s, n, "HEADER"))
		*kind = MIME_SECTION_HEADER;
	else if (mime_ieq(s, n, "HEADER.FIELDS"))
		*kind = MIME_SECTION_HEADER_FIELDS;
	else if (mime_ieq(s, n, "HEADER.FIELDS.NOT"))
		*kind = MIME_SECTION_HEADER_FIELDS_NOT;
	else if (mime_ieq(s, n, "TEXT"))
		*kind = MIME_SECTION_TEXT;
	else if (mime_ieq(s, n, "MIME") && numbers)
		*kind = MIME_SECTION_MIME;
	else
		return -1;
	return 1;
}

/* The range of the section; 0 when it does not apply to this part. */
static int section_range(const struct mime_message *msg, bool numbers,
			 bool at_msg, struct mime_section *r)
{
	const struct mime_part *p = r->part, *m = p;

	if (!at_msg)
		m = (p->flags & MIME_PART_MESSAGE) != 0 ? p->children : NULL;
	switch (r->kind) {
	case MIME_SECTION_BODY:
		r->start = numbers ? p->body_start : 0;
		r->end = numbers ? p->end : mime_message_size(msg);
		return 1;
	case MIME_SECTION_MIME:
		r->start = p->header_start;
		r->end = p->body_start;
		return 1;
	case MIME_SECTION_TEXT:
		if (m == NULL)
			return 0;
		r->start = m->body_start;
		r->end = m->end;
		return 1;
	default:
		if (m == NULL)
			return 0;
		r->start = m->header_start;
		r->end = m->body_start;
		return 1;
	}
}

int mime_section_resolve(const struct mime_message *msg, const char *spec,
			 size_t len, struct mime_section *r)
{
	const struct mime_part *cur = mime_message_root(msg);
	bool at_msg = true, found = true, numbers = false;
	unsigned long n;
	size_t i = 0;

	while (i < len && spec[i] >= '0' && spec[i] <= '9') {
		if ((n = number_read(spec, len, &i)) == 0)
			return -1;
		if (found)
			found = step(&cur, &at_msg, n);
		numbers = true;
		if (i < len && (spec[i] != '.' || ++i == len))
			return -1;
	}
	if (text_kind(spec + i, len - i, numbers, &r->kind) < 0)
		return -1;
	if (!found)
		return 0;
	r->part = cur;
	return section_range(msg, numbers, at_msg, r);
}

/* ---- paths --------------------------------------------------------------- */

static int num_path(const struct mime_part *p, struct buf *out);

/* The path the numbers of a multipart's children are appended to. */
static int container_path(const struct mime_part *m, struct buf *out)
{
	if (m->parent == NULL)
		return 1;
	if ((m->parent->flags & MIME_PART_MESSAGE) != 0)
		return num_path(m->parent, out);
	return num_path(m, out);
}

static int num_path(const struct mime_part *p, struct buf *out)
{
	const struct mime_part *parent = p->parent, *c;
	size_t before = out->len;
	unsigned int idx = 1;

	if (parent == NULL)
		return (p->flags & MIME_PART_MULTIPART) != 0 ? 1 :
		       buf_putc(out, '1');
	if ((parent->flags & MIME_PART_MESSAGE) != 0) {
		if (num_path(parent, out) < 0)
			return -1;
		return (p->flags & MIME_PART_MULTIPART) != 0 ? 1 :
		       buf_puts(out, ".1");
	}
	for (c = parent->children; c != NULL && c != p; c = c->next)
		idx++;
	if (container_path(parent, out) < 0)
		return -1;
	return buf_printf(out, out->len > before ? ".%u" : "%u", idx);
}

int mime_section_path(const struct mime_part *part, struct buf *out)
{
	if (part->parent == NULL)
		return 1;
	return num_path(part, out);
}
