/*
 * dkim_canon.c - the "simple" and "relaxed" canonicalizations of header
 * fields and of the body (RFC 6376 §3.4), and the walk over a header
 * section.  correio stores text with LF line ends: each LF is read as the
 * CRLF of the wire form, and the canonical output has CRLF.
 */
#include "dkim/dkim.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- header fields ---- */

/* simple: the field unchanged, every line ending in CRLF. */
static int canon_header_simple(const char *f, size_t len, struct buf *out)
{
	size_t start = 0;

	if (len > 0 && f[len - 1] == '\n')
		len--;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || f[i] == '\n') {
			size_t end = i;
			if (end > start && f[end - 1] == '\r')
				end--;
			if (buf_append(out, f + start, end - start) < 0 ||
			    buf_append(out, "\r\n", 2) < 0)
				return -1;
			start = i + 1;
		}
	}
	return 1;
}

/* relaxed: name in lower case without the white space around it, the
   value unfolded, runs of WSP made one SP, none at either end. */
static int canon_header_relaxed(const char *f, size_t len, struct buf *out)
{
	const char *colon = memchr(f, ':', len);
	size_t name_len, i;
	bool space = false, any = false;

	if (colon == NULL)
		return canon_header_simple(f, len, out);
	name_len = (size_t)(colon - f);
	while (name_len > 0 && is_wsp(f[name_len - 1]))
		name_len--;
	for (i = 0; i < name_len; i++) {
		char c = f[i];
		if (c == '\r' || c == '\n')
			continue;	/* unfold (a broken field) */
		if (buf_putc(out, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c) < 0)
			return -1;
	}
	if (buf_putc(out, ':') < 0)
		return -1;
	for (i = (size_t)(colon - f) + 1; i < len; i++) {
		char c = f[i];
		if (c == '\r' || c == '\n')
			continue;	/* unfold */
		if (is_wsp(c)) {
			space = true;
			continue;
		}
		if (space && any && buf_putc(out, ' ') < 0)
			return -1;
		if (buf_putc(out, c) < 0)
			return -1;
		space = false;
		any = true;
	}
	return buf_append(out, "\r\n", 2);
}

int dkim_canon_header(enum dkim_canon c, const char *field, size_t len, struct buf *out)
{
	return c == DKIM_CANON_RELAXED ? canon_header_relaxed(field, len, out) :
					 canon_header_simple(field, len, out);
}

int dkim_fields_next(const char *text, size_t len, size_t *pos, struct dkim_field *f)
{
	size_t p = *pos, start = p;
	const char *colon;

	if (p >= len || text[p] == '\n' || (text[p] == '\r' && p + 1 < len && text[p + 1] == '\n'))
		return 0;
	for (;;) {
		const char *nl = memchr(text + p, '\n', len - p);
		p = nl == NULL ? len : (size_t)(nl - text) + 1;
		if (p >= len || !is_wsp(text[p]))
			break;	/* the next line is not a continuation */
	}
	f->text = text + start;
	f->len = p - start;
	colon = memchr(f->text, ':', f->len);
	f->name_len = colon == NULL ? f->len : (size_t)(colon - f->text);
	f->value = colon == NULL ? f->text + f->len : colon + 1;
	f->value_len = (size_t)(f->text + f->len - f->value);
	if (f->value_len > 0 && f->value[f->value_len - 1] == '\n')
		f->value_len--;
	*pos = p;
	return 1;
}

int dkim_from_domain(const char *value, size_t len, char *out, size_t size)
{
	const char *lt = memchr(value, '<', len), *at, *end;
	const char *p = value, *stop = value + len;
	size_t n;

	if (lt != NULL) {
		const char *gt = memchr(lt, '>', (size_t)(stop - lt));
		p = lt + 1;
		stop = gt == NULL ? stop : gt;
	}
	at = NULL;
	for (const char *q = p; q < stop; q++) {
		if (*q == '@')
			at = q;
		else if (*q == ',' && lt == NULL && at != NULL)
			break;	/* a second address */
	}
	if (at == NULL)
		return 0;
	p = at + 1;
	end = p;
	while (end < stop && (unsigned char)*end > ' ' && (unsigned char)*end < 0x7f &&
	       strchr(">,;()\"<[]\\", *end) == NULL)
		end++;
	n = (size_t)(end - p);
	if (n == 0 || n >= size)
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
	out[n] = '\0';
	return 1;
}

/* ---- body ---- */

struct dkim_body {
	enum dkim_canon canon;
	EVP_MD_CTX *md;
	uint64_t limit, hashed;
	bool line_has_content;	/* relaxed: a non-WSP character; simple: any */
	bool pending_wsp;	/* relaxed: WSP seen, not yet written */
	bool any_output;
	uint64_t empty_lines;	/* empty lines not yet written */
	char out[4096];
	size_t out_len;
};

static void emit_flush(struct dkim_body *b)
{
	EVP_DigestUpdate(b->md, b->out, b->out_len);
	b->out_len = 0;
}

static void emit(struct dkim_body *b, const char *p, size_t n)
{
	if (b->hashed + n > b->limit)
		n = (size_t)(b->limit - b->hashed);
	b->hashed += n;
	b->any_output = true;
	while (n > 0) {
		size_t k = sizeof(b->out) - b->out_len;
		if (k > n)
			k = n;
		memcpy(b->out + b->out_len, p, k);
		b->out_len += k;
		p += k;
		n -= k;
		if (b->out_len == sizeof(b->out))
			emit_flush(b);
	}
}

static void emit_empty_lines(struct dkim_body *b)
{
	for (; b->empty_lines > 0; b->empty_lines--)
		emit(b, "\r\n", 2);
}

struct dkim_body *dkim_body_new(enum dkim_canon c, uint64_t limit)
{
	struct dkim_body *b = xcalloc(1, sizeof(*b));

	b->canon = c;
	b->limit = limit;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		dkim_body_free(&b);
		return NULL;
	}
	return b;
}

static void feed_char(struct dkim_body *b, char c)
{
	if (c == '\n') {
		if (b->line_has_content)
			emit(b, "\r\n", 2);
		else
			b->empty_lines++;
		b->line_has_content = b->pending_wsp = false;
		return;
	}
	if (b->canon == DKIM_CANON_RELAXED && is_wsp(c)) {
		b->pending_wsp = true;
		return;
	}
	if (!b->line_has_content)
		emit_empty_lines(b);
	if (b->pending_wsp)
		emit(b, " ", 1);
	emit(b, &c, 1);
	b->pending_wsp = false;
	b->line_has_content = true;
}

void dkim_body_feed(struct dkim_body *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		feed_char(b, p[i]);
}

void dkim_body_final(struct dkim_body *b, unsigned char digest[32])
{
	unsigned len = 32;

	if (b->line_has_content)
		emit(b, "\r\n", 2);	/* a last line without its line end */
	if (b->canon == DKIM_CANON_SIMPLE && !b->any_output)
		emit(b, "\r\n", 2);	/* an empty body is one CRLF */
	emit_flush(b);
	EVP_DigestFinal_ex(b->md, digest, &len);
}

void dkim_body_free(struct dkim_body **bp)
{
	struct dkim_body *b = *bp;

	if (b == NULL)
		return;
	EVP_MD_CTX_free(b->md);
	free(b);
	*bp = NULL;
}
