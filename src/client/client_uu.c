/*
 * client_uu.c - uuencoded files inside plain-text bodies (the way files
 * travelled before MIME, still seen from old tools).  Pure; no I/O.
 *
 *   block  = "begin" SP mode SP name LF *line "`" or " " LF "end" LF
 *   line   = length-char 1*data-char LF       ; length-char = 32 + n
 *   data   = 4 chars -> 3 bytes, each char = 32 + 6 bits ("`" is 0)
 *
 * The scanner is lenient the way uudecode(1) is: CRLF line ends, a
 * missing final "`" line, trailing garbage after the counted characters.
 * A block must have a mode of octal digits and a name, and an "end" line;
 * otherwise it is ordinary text.  Decoding never reads outside the block.
 */
#include "client/client_private.h"

#include <string.h>

#include "lib/util.h"

/* The line at text[pos..): its end (exclusive of LF) and the next line. */
static size_t line_end(const char *text, size_t len, size_t pos, size_t *next)
{
	const char *nl = memchr(text + pos, '\n', len - pos);
	size_t end = nl != NULL ? (size_t)(nl - text) : len;

	*next = nl != NULL ? end + 1 : len;
	if (end > pos && text[end - 1] == '\r')
		end--;
	return end;
}

/* "begin 644 name" at text[pos..end)?  Fills mode and name. */
static bool begin_line(const char *text, size_t pos, size_t end,
		       struct client_uu_block *r)
{
	size_t i = pos + 6, n = 0;
	unsigned mode = 0;

	if (end - pos < 9 || memcmp(text + pos, "begin ", 6) != 0)
		return false;
	while (i < end && text[i] >= '0' && text[i] <= '7' && n < 6) {
		mode = mode * 8 + (unsigned)(text[i] - '0');
		i++, n++;
	}
	if (n < 3 || i >= end || text[i] != ' ')
		return false;
	i++;
	if (i >= end || end - i >= sizeof(r->name))
		return false;
	memcpy(r->name, text + i, end - i);
	r->name[end - i] = '\0';
	if (memchr(r->name, '\0', end - i) != NULL)
		return false;
	r->mode = mode;
	return true;
}

int client_uu_find(const char *text, size_t len, size_t *pos,
		   struct client_uu_block *r)
{
	size_t p = *pos, next;

	while (p < len) {
		size_t end = line_end(text, len, p, &next);
		if (!begin_line(text, p, end, r)) {
			p = next;
			continue;
		}
		/* look for "end" */
		size_t q = next, qnext;
		while (q < len) {
			size_t qend = line_end(text, len, q, &qnext);
			if (qend - q == 3 && memcmp(text + q, "end", 3) == 0) {
				r->start = p;
				r->data_start = next;
				r->end = qnext;
				*pos = qnext;
				return 1;
			}
			/* a line that cannot be uuencoded data ends the try */
			if (qend > q && (text[q] < ' ' || text[q] > '`'))
				break;
			q = qnext;
		}
		p = next;
	}
	*pos = len;
	return 0;
}

static unsigned char uu_val(char c)
{
	return (unsigned char)((c - ' ') & 0x3f);
}

int client_uu_decode(const char *text, const struct client_uu_block *b,
		     struct buf *out)
{
	size_t p = b->data_start, next;

	while (p < b->end) {
		size_t end = line_end(text, b->end, p, &next);
		if (end - p == 3 && memcmp(text + p, "end", 3) == 0)
			break;
		if (end > p) {
			size_t n = uu_val(text[p]);
			size_t i = p + 1;
			unsigned char tmp[64];
			size_t k = 0;
			while (k < n && i < end) {
				unsigned char c[4] = { 0, 0, 0, 0 };
				/* a short line's last group holds only the bytes its
				 * characters carry: 6 bits each, so 2 -> 1, 3 -> 2 */
				size_t have = end - i < 4 ? end - i : 4;
				for (size_t j = 0; j < have; j++)
					c[j] = uu_val(text[i + j]);
				unsigned char o[3] = {
					(unsigned char)(c[0] << 2 | c[1] >> 4),
					(unsigned char)(c[1] << 4 | c[2] >> 2),
					(unsigned char)(c[2] << 6 | c[3]) };
				for (size_t j = 0; j < have * 6 / 8 && k < n; j++)
					tmp[k++] = o[j];
				i += 4;
			}
			if (buf_append(out, tmp, k) < 0)
				return -1;
		}
		p = next;
	}
	return 1;
}
