/*
 * mime_cte.c - Content-Transfer-Encoding decoding (base64,
 * quoted-printable, identity) and the CRLF size and conversion IMAP needs.
 *
 * Used for BINARY fetches, for decoding text for SEARCH and the client, and
 * for RFC 2047 "B" words.  The decoders are lenient, never fail on bad
 * input, and write through a small sink that can also just count (the
 * BINARY.SIZE of a part without storing it) and stops at the buffer's
 * maximum.
 */
#include "mime_int.h"
#include "lib/util.h"
#include "lib/encoding.h"

#include <string.h>

struct sink {
	struct buf *out;	/* NULL: only count */
	uint64_t count;
	int ret;		/* 1, or -1 once out is full */
	size_t t;
	char tmp[1024];
};

static void sink_init(struct sink *s, struct buf *out)
{
	s->out = out;
	s->count = 0;
	s->ret = 1;
	s->t = 0;
}

static void sink_flush(struct sink *s)
{
	s->count += s->t;
	if (s->out != NULL && s->ret > 0 &&
	    mime_buf_put(s->out, s->tmp, s->t) < 0)
		s->ret = -1;
	s->t = 0;
}

static void sink_put(struct sink *s, char c)
{
	s->tmp[s->t++] = c;
	if (s->t == sizeof(s->tmp))
		sink_flush(s);
}

static void sink_write(struct sink *s, const char *p, size_t n)
{
	while (n-- > 0)
		sink_put(s, *p++);
}

/* ---- CRLF ----------------------------------------------------------------- */

uint64_t mime_crlf_size(const char *p, size_t n)
{
	uint64_t size = n;
	const char *lf, *end = p + n, *q = p;

	while (q < end && (lf = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (lf == p || lf[-1] != '\r')
			size++;
		q = lf + 1;
	}
	return size;
}

static void crlf_write(struct sink *s, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && s->ret > 0; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			sink_put(s, '\r');
		sink_put(s, p[i]);
	}
}

int mime_crlf_append(struct buf *out, const char *p, size_t n)
{
	struct sink s;

	sink_init(&s, out);
	crlf_write(&s, p, n);
	sink_flush(&s);
	return s.ret;
}

/* ---- base64 (RFC 2045 §6.8) ------------------------------------------- */

static void b64_write(struct sink *s, const char *in, size_t n)
{
	uint32_t acc = 0;
	unsigned int q = 0;
	size_t i;
	int v;

	for (i = 0; i < n && in[i] != '=' && s->ret > 0; i++) {
		if ((v = base64_digit((unsigned char)in[i], '/')) < 0)
			continue;
		acc = acc << 6 | (uint32_t)v;
		if (++q == 4) {
			sink_put(s, (char)(acc >> 16));
			sink_put(s, (char)(acc >> 8));
			sink_put(s, (char)acc);
			acc = 0;
			q = 0;
		}
	}
	if (q >= 2)
		sink_put(s, (char)(acc >> (q == 2 ? 4 : 10)));
	if (q == 3)
		sink_put(s, (char)(acc >> 2));
}

int mime_base64_decode(const char *in, size_t n, struct buf *out)
{
	struct sink s;

	sink_init(&s, out);
	b64_write(&s, in, n);
	sink_flush(&s);
	return s.ret;
}

/* ---- quoted-printable (RFC 2045 §6.7) ----------------------------------- */

/* Decode the escapes of one line's text. */
static void qp_text(struct sink *s, const char *p, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (p[i] == '=' && i + 2 < n &&
		    (hi = hex_value(p[i + 1])) >= 0 &&
		    (lo = hex_value(p[i + 2])) >= 0) {
			sink_put(s, (char)(hi << 4 | lo));
			i += 2;
		} else {
			sink_put(s, p[i]);
		}
	}
}

static void qp_write(struct sink *s, const char *in, size_t n, bool crlf)
{
	size_t i = 0, eol, ce, text_end;
	const char *lf;

	while (i < n && s->ret > 0) {
		lf = memchr(in + i, '\n', n - i);
		eol = lf != NULL ? (size_t)(lf - in) : n;
		ce = eol;
		if (lf != NULL && ce > i && in[ce - 1] == '\r')
			ce--;
		text_end = ce;
		while (text_end > i && mime_is_wsp(in[text_end - 1]))
			text_end--;
		if (text_end > i && in[text_end - 1] == '=') {
			qp_text(s, in + i, text_end - 1 - i);	/* soft break */
		} else {
			qp_text(s, in + i, text_end - i);
			if (lf != NULL && crlf)
				sink_write(s, "\r\n", 2);
			else if (lf != NULL)
				sink_write(s, in + ce, eol + 1 - ce);
		}
		i = eol + 1;
	}
}

int mime_qp_decode(const char *in, size_t n, bool crlf, struct buf *out)
{
	struct sink s;

	sink_init(&s, out);
	qp_write(&s, in, n, crlf);
	sink_flush(&s);
	return s.ret;
}

/* ---- any encoding ----------------------------------------------------------- */

static int cte_write(struct sink *s, enum mime_cte cte, const char *in,
		     size_t n, bool crlf)
{
	switch (cte) {
	case MIME_CTE_BASE64:
		b64_write(s, in, n);
		return 1;
	case MIME_CTE_QP:
		qp_write(s, in, n, crlf);
		return 1;
	case MIME_CTE_UNKNOWN:
		sink_write(s, in, n);
		return 0;
	default:
		if (crlf)
			crlf_write(s, in, n);
		else
			sink_write(s, in, n);
		return 1;
	}
}

int mime_cte_decode(enum mime_cte cte, const char *in, size_t n, bool crlf,
		    struct buf *out)
{
	struct sink s;
	int ret;

	sink_init(&s, out);
	ret = cte_write(&s, cte, in, n, crlf);
	sink_flush(&s);
	return s.ret < 0 ? -1 : ret;
}

uint64_t mime_cte_size(enum mime_cte cte, const char *in, size_t n,
		       bool crlf)
{
	struct sink s;

	sink_init(&s, NULL);
	cte_write(&s, cte, in, n, crlf);
	sink_flush(&s);
	return s.count;
}
