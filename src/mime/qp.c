/*
 * qp.c - quoted-printable encoding and the 8BITMIME downgrade (RFC 6152).
 *
 * The relay client calls qp_downgrade() when a message with 8-bit data
 * goes to a server that does not offer 8BITMIME.  The message is walked as
 * MIME entities: a header section, then a body that is either a leaf
 * (re-encoded when it holds 8-bit data), a multipart (split at its
 * boundary lines, each part walked in turn) or a message/ part (refused
 * when 8-bit: re-encoding the message inside is not ours to do).  Entities
 * that are already 7-bit are copied byte for byte.
 *
 * Limits: QP_DEPTH_MAX nested multiparts, QP_BOUNDARY_MAX bytes of
 * boundary; the output buf's maximum caps the result.
 *
 *   delimiter       := CRLF "--" boundary transport-padding     (RFC 2046)
 *   close-delimiter := delimiter "--"
 *   qp-line         := *(qp-segment "=" CRLF) qp-part           (RFC 2045)
 */
#include "mime.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/encoding.h"
#include "lib/util.h"

bool qp_is_8bit(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)p[i] >= 0x80)
			return true;
	}
	return false;
}

/* ---- quoted-printable ---- */

/* May in[i] be written as itself at column col of an encoded line? */
static bool qp_literal(const char *in, size_t len, size_t i, size_t col,
		       bool soft)
{
	unsigned char c = (unsigned char)in[i];
	bool at_end = i + 1 == len || in[i + 1] == '\n';

	if (c == '=' || c >= 0x7f || (c < 32 && c != '\t'))
		return false;
	if ((c == ' ' || c == '\t') && at_end)
		return false;
	if (col > 0)
		return true;
	if (c == '.')
		return false;
	if (c == 'F' && len - i >= 5 && memcmp(in + i, "From ", 5) == 0)
		return false;
	return !(soft && c == '-' && !at_end && in[i + 1] == '-');
}

/* Room left on the line for the unit at in[i]: the last unit of a line
   needs no soft break after it. */
static size_t qp_room(const char *in, size_t len, size_t i)
{
	return i + 1 == len || in[i + 1] == '\n' ? QP_LINE_MAX : QP_LINE_MAX - 1;
}

static int qp_unit(struct buf *out, unsigned char c, bool literal)
{
	return literal ? buf_putc(out, (char)c) : hex_escape(c, '=', out);
}

int qp_encode(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len, col = 0, width;
	bool soft = false, literal;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n') {
			if (buf_putc(out, '\n') < 0)
				goto full;
			col = 0;
			soft = false;
			continue;
		}
		literal = qp_literal(in, len, i, col, soft);
		width = literal ? 1 : 3;
		if (col + width > qp_room(in, len, i)) {
			if (buf_append(out, "=\n", 2) < 0)
				goto full;
			col = 0;
			soft = true;
			literal = qp_literal(in, len, i, col, soft);
			width = literal ? 1 : 3;
		}
		if (qp_unit(out, (unsigned char)in[i], literal) < 0)
			goto full;
		col += width;
	}
	return 1;
full:
	buf_truncate(out, start);
	return -1;
}

/* ---- MIME entities: header section ---- */

struct qp_entity {
	const char *p;
	size_t len;
	size_t hdr_len;		/* header fields, the last one's LF included */
	size_t body;		/* where the body starts (len if none) */
	bool has_ctype, has_cte, has_mime_version;
	char type[128];		/* "type/subtype", lower case */
	char cte[32];		/* lower case, "" when absent */
	char boundary[QP_BOUNDARY_MAX + 1];
};

/* Where the field starting at s ends (after its continuation lines). */
static size_t field_end(const char *p, size_t end, size_t s)
{
	const char *nl;

	do {
		nl = memchr(p + s, '\n', end - s);
		s = nl == NULL ? end : (size_t)(nl - p) + 1;
	} while (s < end && (p[s] == ' ' || p[s] == '\t'));
	return s;
}

/* If the field f[0..flen) is called name, the offset of its value, else 0. */
static size_t field_is(const char *f, size_t flen, const char *name)
{
	size_t n = strlen(name), i = n;

	if (flen <= n || strncasecmp(f, name, n) != 0)
		return 0;
	while (i < flen && (f[i] == ' ' || f[i] == '\t'))
		i++;
	return i < flen && f[i] == ':' ? i + 1 : 0;
}

static void entity_split(const char *p, size_t len, struct qp_entity *e)
{
	const char *blank;

	e->p = p;
	e->len = len;
	if (len > 0 && p[0] == '\n') {
		e->hdr_len = 0;
		e->body = 1;
		return;
	}
	blank = memmem(p, len, "\n\n", 2);
	e->hdr_len = blank == NULL ? len : (size_t)(blank - p) + 1;
	e->body = blank == NULL ? len : e->hdr_len + 1;
}

/* ---- header values: tokens, quoted strings, comments (RFC 2045 §5.1) ---- */

struct qp_cursor {
	const char *p, *end;
};

/* Skip white space, folding and (nested) comments. */
static void cur_skip(struct qp_cursor *c)
{
	unsigned depth = 0;

	for (; c->p < c->end; c->p++) {
		if (depth > 0 && *c->p == '\\' && c->end - c->p > 1)
			c->p++;
		else if (*c->p == '(')
			depth++;
		else if (*c->p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(" \t\r\n", *c->p) == NULL)
			return;
	}
}

static bool is_tchar(char ch)
{
	unsigned char u = (unsigned char)ch;

	return u > 32 && u < 127 && strchr("()<>@,;:\\\"/[]?=", u) == NULL;
}

/* A token into out (size bytes).  Returns 1, or -1 (none, too long). */
static int cur_token(struct qp_cursor *c, char *out, size_t size)
{
	size_t n = 0;

	while (c->p < c->end && is_tchar(*c->p)) {
		if (n + 1 >= size)
			return -1;
		out[n++] = *c->p++;
	}
	out[n] = '\0';
	return n > 0 ? 1 : -1;
}

/* A token or quoted-string into out.  Returns 1 or -1. */
static int cur_value(struct qp_cursor *c, char *out, size_t size)
{
	size_t n = 0;

	if (c->p >= c->end || *c->p != '"')
		return cur_token(c, out, size);
	for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
		if (*c->p == '\\' && c->end - c->p > 1)
			c->p++;
		if (n + 1 >= size)
			return -1;
		out[n++] = *c->p;
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	out[n] = '\0';
	return 1;
}

static bool cur_char(struct qp_cursor *c, char ch)
{
	cur_skip(c);
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	cur_skip(c);
	return true;
}

/* "boundary" among the parameters that follow the type. */
static void ctype_params(struct qp_cursor *c, struct qp_entity *e)
{
	char attr[64], value[QP_BOUNDARY_MAX + 1];

	while (cur_char(c, ';')) {
		if (cur_token(c, attr, sizeof(attr)) < 0 || !cur_char(c, '=') ||
		    cur_value(c, value, sizeof(value)) < 0)
			return;
		if (str_ieq(attr, "boundary") && e->boundary[0] == '\0')
			str_copy(e->boundary, value, sizeof(e->boundary));
	}
}

/* Content-Type: type "/" subtype *(";" parameter).  A value that does not
   parse leaves the type text/plain (RFC 2045 §5.2). */
static void ctype_parse(const char *v, const char *end, struct qp_entity *e)
{
	struct qp_cursor c = { v, end };
	char type[64], sub[64];

	str_copy(e->type, "text/plain", sizeof(e->type));
	cur_skip(&c);
	if (cur_token(&c, type, sizeof(type)) < 0 || !cur_char(&c, '/') ||
	    cur_token(&c, sub, sizeof(sub)) < 0)
		return;
	snprintf(e->type, sizeof(e->type), "%s/%s", type, sub);
	str_lower(e->type);
	ctype_params(&c, e);
}

static void cte_parse(const char *v, const char *end, struct qp_entity *e)
{
	struct qp_cursor c = { v, end };

	cur_skip(&c);
	if (cur_token(&c, e->cte, sizeof(e->cte)) < 0)
		str_copy(e->cte, "unknown", sizeof(e->cte));
	str_lower(e->cte);
}

/* One header field f[0..flen): note what the downgrade needs of it. */
static void entity_field(const char *f, size_t flen, struct qp_entity *e)
{
	size_t v;

	if (!e->has_ctype && (v = field_is(f, flen, "content-type")) > 0) {
		e->has_ctype = true;
		ctype_parse(f + v, f + flen, e);
	} else if (!e->has_cte &&
		   (v = field_is(f, flen, "content-transfer-encoding")) > 0) {
		e->has_cte = true;
		cte_parse(f + v, f + flen, e);
	} else if (field_is(f, flen, "mime-version") > 0) {
		e->has_mime_version = true;
	}
}

static void entity_parse(const char *p, size_t len, const char *default_type,
			 struct qp_entity *e)
{
	size_t s, end;

	memset(e, 0, sizeof(*e));
	entity_split(p, len, e);
	str_copy(e->type, default_type, sizeof(e->type));
	for (s = 0; s < e->hdr_len; s = end) {
		end = field_end(p, e->hdr_len, s);
		entity_field(p + s, end - s, e);
	}
}

/* ---- the downgrade ---- */

struct qp_ctx {
	struct buf *out;
	const char *error;
};

static int ctx_fail(struct qp_ctx *ctx, const char *error)
{
	if (ctx->error == NULL)
		ctx->error = error;
	return -1;
}

static int ctx_put(struct qp_ctx *ctx, const char *p, size_t n)
{
	if (buf_append(ctx->out, p, n) < 0)
		return ctx_fail(ctx, "converted message too large");
	return 1;
}

static int entity_convert(struct qp_ctx *ctx, const char *p, size_t len,
			  bool top, const char *default_type, unsigned depth);

/*
 * The header section again, without its Content-Transfer-Encoding fields
 * when cte is not NULL (then "Content-Transfer-Encoding: cte" ends it),
 * with MIME-Version for the top level, and the blank line.
 */
static int header_emit(struct qp_ctx *ctx, const struct qp_entity *e, bool top,
		       const char *cte, bool add_ctype)
{
	const char *p = e->p;
	size_t s, end;
	int ret = 1;

	for (s = 0; s < e->hdr_len && ret > 0; s = end) {
		end = field_end(p, e->hdr_len, s);
		if (cte == NULL ||
		    field_is(p + s, end - s, "content-transfer-encoding") == 0)
			ret = ctx_put(ctx, p + s, end - s);
	}
	if (ret > 0 && top && !e->has_mime_version)
		ret = ctx_put(ctx, "MIME-Version: 1.0\n", 18);
	if (ret > 0 && add_ctype)
		ret = ctx_put(ctx, "Content-Type: text/plain; charset=unknown-8bit\n", 47);
	if (ret > 0 && cte != NULL &&
	    buf_printf(ctx->out, "Content-Transfer-Encoding: %s\n", cte) < 0)
		ret = ctx_fail(ctx, "converted message too large");
	return ret > 0 ? ctx_put(ctx, "\n", 1) : -1;
}

/* A leaf with 8-bit data in its body: re-encode it. */
static int leaf_convert(struct qp_ctx *ctx, const struct qp_entity *e, bool top)
{
	if (e->cte[0] != '\0' && strcmp(e->cte, "7bit") != 0 &&
	    strcmp(e->cte, "8bit") != 0 && strcmp(e->cte, "binary") != 0)
		return ctx_fail(ctx, "8-bit data in a part with an encoding of its own");
	if (header_emit(ctx, e, top, "quoted-printable", !e->has_ctype) < 0)
		return -1;
	if (qp_encode(e->p + e->body, e->len - e->body, ctx->out) < 0)
		return ctx_fail(ctx, "converted message too large");
	return 1;
}

/* Is the line at p[at..len) a delimiter of boundary b?  *close_r: it ends
   the multipart.  Transport padding (spaces, tabs) may follow. */
static bool delimiter_at(const char *p, size_t len, size_t at, const char *b,
			 size_t blen, bool *close_r)
{
	size_t i = at + 2 + blen;

	if (len - at < 2 + blen || p[at] != '-' || p[at + 1] != '-' ||
	    memcmp(p + at + 2, b, blen) != 0)
		return false;
	*close_r = len - i >= 2 && p[i] == '-' && p[i + 1] == '-';
	if (*close_r)
		i += 2;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i == len || p[i] == '\n';
}

static size_t line_next(const char *p, size_t len, size_t at)
{
	const char *nl = memchr(p + at, '\n', len - at);

	return nl == NULL ? len : (size_t)(nl - p) + 1;
}

/* Text outside the parts: copied when 7-bit, refused when not. */
static int outside_copy(struct qp_ctx *ctx, const char *p, size_t n)
{
	if (qp_is_8bit(p, n))
		return ctx_fail(ctx, "8-bit data in a multipart preamble or epilogue");
	return ctx_put(ctx, p, n);
}

/* The state of the walk over a multipart body. */
struct qp_walk {
	const struct qp_entity *e;
	size_t copied;		/* input up to here is in the output */
	size_t part;		/* start of the current part; 0 in the preamble */
	const char *default_type;
	unsigned depth;
};

/* A delimiter line at `at`: finish the text before it (preamble or part),
   copy the line.  The LF before a delimiter belongs to the delimiter. */
static int walk_delimiter(struct qp_ctx *ctx, struct qp_walk *w, size_t at)
{
	const char *p = w->e->p;
	size_t end = at > w->copied ? at - 1 : at, next;

	if (w->part == 0) {
		if (outside_copy(ctx, p + w->copied, end - w->copied) < 0)
			return -1;
	} else if (entity_convert(ctx, p + w->part, end - w->part, false,
				  w->default_type, w->depth + 1) < 0) {
		return -1;
	}
	next = line_next(p, w->e->len, at);
	if (ctx_put(ctx, p + end, next - end) < 0)
		return -1;
	w->copied = w->part = next;
	return 1;
}

static int multipart_convert(struct qp_ctx *ctx, const struct qp_entity *e,
			     bool top, unsigned depth)
{
	struct qp_walk w = { e, e->body, 0, "text/plain", depth };
	size_t blen = strlen(e->boundary), at;
	bool close = false;

	if (blen == 0)
		return ctx_fail(ctx, "8-bit data in a multipart without a boundary");
	if (strcmp(e->type, "multipart/digest") == 0)
		w.default_type = "message/rfc822";
	if (header_emit(ctx, e, top, e->has_cte ? "7bit" : NULL, false) < 0)
		return -1;
	for (at = e->body; at < e->len && !close; at = line_next(e->p, e->len, at)) {
		if (delimiter_at(e->p, e->len, at, e->boundary, blen, &close) &&
		    walk_delimiter(ctx, &w, at) < 0)
			return -1;
	}
	if (w.part == 0 || close)
		return outside_copy(ctx, e->p + w.copied, e->len - w.copied);
	/* no close delimiter: the last part runs to the end */
	return entity_convert(ctx, e->p + w.part, e->len - w.part, false,
			      w.default_type, depth + 1);
}

static int entity_convert(struct qp_ctx *ctx, const char *p, size_t len,
			  bool top, const char *default_type, unsigned depth)
{
	struct qp_entity e;

	if (!qp_is_8bit(p, len))
		return ctx_put(ctx, p, len);
	if (depth > QP_DEPTH_MAX)
		return ctx_fail(ctx, "MIME parts nested too deep");
	entity_parse(p, len, default_type, &e);
	if (qp_is_8bit(p, e.hdr_len))
		return ctx_fail(ctx, "8-bit data in a header field");
	if (strncmp(e.type, "multipart/", 10) == 0)
		return multipart_convert(ctx, &e, top, depth);
	if (strncmp(e.type, "message/", 8) == 0)
		return ctx_fail(ctx, "8-bit data in a message/ part");
	return leaf_convert(ctx, &e, top);
}

int qp_downgrade(const char *msg, size_t len, struct buf *out,
		 bool *converted_r, const char **error_r)
{
	struct qp_ctx ctx = { out, NULL };
	size_t start = out->len;

	*converted_r = false;
	if (!qp_is_8bit(msg, len))
		return 1;
	if (entity_convert(&ctx, msg, len, true, "text/plain", 0) < 0) {
		buf_truncate(out, start);
		*error_r = ctx.error;
		return -1;
	}
	*converted_r = true;
	return 1;
}
