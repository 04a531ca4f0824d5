/*
 * mime_binenc.c - the APPEND filter that makes binary body parts storable
 * as text (RFC 3516 §4.2 lets the server change the encoding of binary
 * data it is given).  correio keeps messages as LF-ended text and serves
 * them with CRLF, so the bytes of a part sent with
 * "Content-Transfer-Encoding: binary" (NULs, bare CR, bare LF, CRLF) would
 * not come back as they were.  Such a leaf part leaves here in base64,
 * its Content-Transfer-Encoding field rewritten; BINARY[n] decodes it to
 * the exact bytes the client sent.  Everything else passes unchanged.
 *
 * The message streams through in pieces of any size; memory is bounded by
 * one header block (MIME_MAX_HEADER_SIZE, past which the rest of the
 * message passes unchanged) and one line start (enough to recognise a
 * delimiter).  Delimiter lines are recognised as mime_message.c does: the
 * whole line is "--" boundary ["--"] then blanks; the line end before a
 * delimiter belongs to the delimiter, not to the encoded content.
 */
#include "mime/mime.h"
#include "mime/mime_int.h"
#include "lib/encoding.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAD_MAX 1000		/* blanks after a boundary still looked at */
#define B64_LINE 76

enum binenc_state {
	BE_HEADER,		/* reading a header block */
	BE_BODY,		/* body passed unchanged */
	BE_BINARY,		/* body encoded to base64 */
	BE_RAW			/* past a limit: everything unchanged */
};

struct mime_binenc {
	enum binenc_state state;
	struct buf hdr;		/* the header block so far */
	struct buf line;	/* the current line while it may be a delimiter */
	bool line_long;		/* it cannot: its start is already out */
	/* one entry per open entity: a multipart's boundary, or NULL for an
	   embedded message */
	char *stack[MIME_MAX_DEPTH];
	unsigned depth;
	size_t peek;		/* line bytes held to compare with boundaries */
	/* base64 state */
	unsigned char grp[3];
	unsigned ngrp, col;
	char pend[2];		/* line end held back: it may be a delimiter's */
	unsigned npend;
};

struct mime_binenc *mime_binenc_new(void)
{
	struct mime_binenc *e = xcalloc(1, sizeof(*e));

	buf_init(&e->hdr, 0);
	buf_init(&e->line, 0);
	e->state = BE_HEADER;
	e->peek = PAD_MAX;
	return e;
}

void mime_binenc_free(struct mime_binenc **ep)
{
	struct mime_binenc *e = *ep;

	if (e == NULL)
		return;
	for (unsigned i = 0; i < e->depth; i++)
		free(e->stack[i]);
	buf_deinit(&e->hdr);
	buf_deinit(&e->line);
	free(e);
	*ep = NULL;
}

/* ---- base64 ---------------------------------------------------------- */

/* The group of n bytes as four base64 digits (padded; lib/encoding's
   alphabet), a line break after every B64_LINE characters. */
static void b64_quad(struct mime_binenc *e, struct buf *out, unsigned n)
{
	base64_encode(e->grp, n, out);
	e->col += 4;
	if (e->col >= B64_LINE) {
		buf_append(out, "\r\n", 2);
		e->col = 0;
	}
}

static void b64_put(struct mime_binenc *e, struct buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		e->grp[e->ngrp++] = (unsigned char)p[i];
		if (e->ngrp == 3) {
			b64_quad(e, out, 3);
			e->ngrp = 0;
		}
	}
}

/* The encoded content complete: its last group and line end. */
static void b64_end(struct mime_binenc *e, struct buf *out)
{
	if (e->ngrp > 0)
		b64_quad(e, out, e->ngrp);
	if (e->col > 0)
		buf_append(out, "\r\n", 2);
	e->ngrp = e->col = 0;
	e->npend = 0;
}

/* Body bytes p[0..n) of the current part, in the current state. */
static void content(struct mime_binenc *e, struct buf *out, const char *p, size_t n)
{
	if (e->state != BE_BINARY) {
		buf_append(out, p, n);
		return;
	}
	if (e->npend > 0) {
		b64_put(e, out, e->pend, e->npend);
		e->npend = 0;
	}
	b64_put(e, out, p, n);
}

/* ---- structure ------------------------------------------------------- */

/* 0: not a delimiter line; 1: delimiter; 2: close delimiter. */
static int delimiter(const char *line, size_t len, const char *b)
{
	size_t blen = strlen(b), i;
	int ret = 1;

	if (len < 2 + blen || line[0] != '-' || line[1] != '-' || memcmp(line + 2, b, blen) != 0)
		return 0;
	i = 2 + blen;
	if (i + 1 < len && line[i] == '-' && line[i + 1] == '-') {
		ret = 2;
		i += 2;
	}
	for (; i < len; i++)
		if (!mime_is_wsp(line[i]) && line[i] != '\r')
			return 0;
	return ret;
}

static void set_peek(struct mime_binenc *e)
{
	e->peek = PAD_MAX;
	for (unsigned i = 0; i < e->depth; i++)
		if (e->stack[i] != NULL && strlen(e->stack[i]) + 4 + PAD_MAX > e->peek)
			e->peek = strlen(e->stack[i]) + 4 + PAD_MAX;
}

static void pop_to(struct mime_binenc *e, unsigned depth)
{
	while (e->depth > depth)
		free(e->stack[--e->depth]);
	set_peek(e);
}

/*
 * If the complete line p[0..n) (its LF included) is a delimiter of an open
 * multipart, act on it and return 1; else 0.
 */
static int try_delimiter(struct mime_binenc *e, struct buf *out, const char *p, size_t n)
{
	for (unsigned i = e->depth; i-- > 0;) {
		int m;

		if (e->stack[i] == NULL || (m = delimiter(p, n - 1, e->stack[i])) == 0)
			continue;
		if (e->state == BE_BINARY)
			b64_end(e, out);
		else if (e->state == BE_HEADER) {
			buf_append(out, e->hdr.data, e->hdr.len);
			buf_reset(&e->hdr);
		}
		buf_append(out, p, n);
		pop_to(e, m == 2 ? i : i + 1);
		e->state = m == 2 ? (e->depth == 0 ? BE_RAW : BE_BODY) : BE_HEADER;
		return 1;
	}
	return 0;
}

/* The header block in e->hdr out, with CTE rewritten to base64. */
static void header_base64(struct mime_binenc *e, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_field f;
	size_t pos = 0;

	mime_header_iter_init(&it, e->hdr.data, e->hdr.len);
	while (mime_header_next(&it, &f) > 0) {
		if (f.name_len != 25 || strncasecmp(f.name, "Content-Transfer-Encoding", 25) != 0)
			continue;
		buf_append(out, e->hdr.data + pos, f.start - pos);
		buf_puts(out, "Content-Transfer-Encoding: base64\r\n");
		pos = f.end;
	}
	buf_append(out, e->hdr.data + pos, e->hdr.len - pos);
}

/* The header block in e->hdr is complete: out it goes, and the body's
   state is chosen. */
static void header_done(struct mime_binenc *e, struct buf *out)
{
	struct mime_message *msg = mime_message_parse(e->hdr.data, e->hdr.len, NULL);
	const struct mime_part *p = mime_message_root(msg);
	const struct mime_param *b = mime_param_find(p, "boundary");
	bool room = e->depth + 1 < MIME_MAX_DEPTH;

	e->state = BE_BODY;
	if (strcmp(p->type, "MULTIPART") == 0) {
		if (room && b != NULL && b->value[0] != '\0') {
			e->stack[e->depth++] = xstrdup(b->value);
			set_peek(e);
		}
	} else if (strcmp(p->type, "MESSAGE") == 0 &&
		   (strcmp(p->subtype, "RFC822") == 0 || strcmp(p->subtype, "GLOBAL") == 0) &&
		   (p->cte == MIME_CTE_7BIT || p->cte == MIME_CTE_8BIT ||
		    p->cte == MIME_CTE_BINARY)) {
		if (room) {
			e->stack[e->depth++] = NULL;
			e->state = BE_HEADER;
		}
	} else if (p->cte == MIME_CTE_BINARY) {
		header_base64(e, out);
		buf_reset(&e->hdr);
		mime_message_free(&msg);
		e->state = BE_BINARY;
		e->ngrp = e->col = e->npend = 0;
		return;
	}
	mime_message_free(&msg);
	buf_append(out, e->hdr.data, e->hdr.len);
	buf_reset(&e->hdr);
	if (e->state == BE_BODY && e->depth == 0)
		e->state = BE_RAW;	/* no delimiter can follow */
}

/* A complete header line p[0..n). */
static void header_line(struct mime_binenc *e, struct buf *out, const char *p, size_t n)
{
	if (try_delimiter(e, out, p, n))
		return;
	buf_append(&e->hdr, p, n);
	if (n == 1 || (n == 2 && p[0] == '\r'))
		header_done(e, out);
}

/* A complete body line p[0..n) (its start already out if e->line_long). */
static void body_line(struct mime_binenc *e, struct buf *out, const char *p, size_t n)
{
	size_t end = n >= 2 && p[n - 2] == '\r' ? 2 : 1;

	if (!e->line_long && try_delimiter(e, out, p, n))
		return;
	if (e->state != BE_BINARY) {
		buf_append(out, p, n);
		return;
	}
	content(e, out, p, n - end);
	memcpy(e->pend, p + n - end, end);
	e->npend = (unsigned)end;
}

int mime_binenc_write(struct mime_binenc *e, const void *data, size_t len, struct buf *out)
{
	const char *p = data, *lf;
	size_t n;

	while (len > 0) {
		if (e->state == BE_RAW) {
			buf_append(out, p, len);
			break;
		}
		lf = memchr(p, '\n', len);
		n = lf != NULL ? (size_t)(lf - p) + 1 : len;
		if (e->state == BE_HEADER) {
			buf_append(&e->line, p, n);
			if (e->hdr.len + e->line.len > MIME_MAX_HEADER_SIZE) {
				buf_append(out, e->hdr.data, e->hdr.len);
				buf_append(out, e->line.data, e->line.len);
				buf_reset(&e->hdr);
				buf_reset(&e->line);
				e->state = BE_RAW;
			} else if (lf != NULL) {
				header_line(e, out, e->line.data, e->line.len);
				buf_reset(&e->line);
			}
		} else {
			buf_append(&e->line, p, n);
			if (lf != NULL) {
				body_line(e, out, e->line.data, e->line.len);
				buf_reset(&e->line);
				e->line_long = false;
			} else if (e->line_long || e->line.len > e->peek) {
				/* no delimiter: out with it, but a last CR may
				   start the line end */
				size_t k = e->line.data[e->line.len - 1] == '\r' ?
					   e->line.len - 1 : e->line.len;
				content(e, out, e->line.data, k);
				buf_consume(&e->line, k);
				e->line_long = true;
			}
		}
		p += n;
		len -= n;
	}
	return 1;
}

int mime_binenc_finish(struct mime_binenc *e, struct buf *out)
{
	switch (e->state) {
	case BE_HEADER:
		buf_append(out, e->hdr.data, e->hdr.len);
		buf_append(out, e->line.data, e->line.len);
		break;
	case BE_BODY:
		buf_append(out, e->line.data, e->line.len);
		break;
	case BE_BINARY:
		content(e, out, e->line.data, e->line.len);
		if (e->npend > 0)
			content(e, out, "", 0);
		b64_end(e, out);
		break;
	case BE_RAW:
		break;
	}
	buf_reset(&e->hdr);
	buf_reset(&e->line);
	e->state = BE_RAW;
	return 1;
}
