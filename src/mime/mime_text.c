/*
 * mime_text.c - the decoded content of parts: UTF-8 text for SEARCH and
 * the client, CTE-decoded bytes for IMAP BINARY, and the walk over all the
 * text of a message that SEARCH TEXT / BODY use.
 *
 * Memory is bounded by the caller: text is cut at the output buffer's
 * maximum (the intermediate buffers are bounded relative to it), the walk
 * at max bytes per part.
 */
#include "mime_int.h"

#include <string.h>

/* The cap for an intermediate buffer feeding room bytes of output. */
static size_t cap_for(size_t room)
{
	if (room == 0)
		return 0;
	return room > (SIZE_MAX - 64) / 2 ? SIZE_MAX - 64 : room * 2 + 64;
}

/* Append in[0..n) to out without the CR of each CRLF; 0 if cut. */
static int lf_put(struct buf *out, const char *in, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i + 1 < n; i++) {
		if (in[i] != '\r' || in[i + 1] != '\n')
			continue;
		if (mime_buf_put(out, in + run, i - run) < 0)
			return 0;
		run = i + 1;
	}
	return mime_buf_put(out, in + run, n - run) < 0 ? 0 : 1;
}

int mime_text_decode(const struct mime_message *msg,
		     const struct mime_part *part, struct buf *out)
{
	const char *body = mime_message_data(msg) + part->body_start;
	size_t n = part->end - part->body_start, room, cap;
	const struct mime_param *cs = mime_param_find(part, "charset");
	struct buf raw, utf8;
	int ret = 1;

	room = out->max == 0 ? 0 : out->max > out->len ? out->max - out->len
						       : 1;
	cap = cap_for(room);
	buf_init(&raw, cap);
	buf_init(&utf8, cap);
	if ((part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0) {
		if (mime_utf8_sanitize(body, n, &utf8) < 0)
			ret = 0;
	} else {
		if (mime_cte_decode(part->cte, body, n, false, &raw) < 0)
			ret = 0;
		if (mime_charset_to_utf8(cs != NULL ? cs->value : "us-ascii",
					 buf_cstr(&raw), raw.len, &utf8) < 0)
			ret = 0;
	}
	if (lf_put(out, buf_cstr(&utf8), utf8.len) == 0)
		ret = 0;
	buf_deinit(&raw);
	buf_deinit(&utf8);
	return ret;
}

int mime_text_binary(const struct mime_message *msg,
		     const struct mime_part *part, struct buf *out)
{
	if (part->cte == MIME_CTE_UNKNOWN)
		return 0;
	return mime_cte_decode(part->cte,
			       mime_message_data(msg) + part->body_start,
			       part->end - part->body_start, true, out);
}

int mime_text_binary_size(const struct mime_message *msg,
			  const struct mime_part *part, uint64_t *size_r)
{
	if (part->cte == MIME_CTE_UNKNOWN)
		return 0;
	*size_r = mime_cte_size(part->cte,
				mime_message_data(msg) + part->body_start,
				part->end - part->body_start, true);
	return 1;
}

/* ---- the SEARCH walk ------------------------------------------------------ */

struct walk {
	const struct mime_message *msg;
	size_t max;
	mime_text_fn *fn;
	void *ctx;
	struct buf raw, text;
};

static int walk_headers(struct walk *w, const struct mime_part *p)
{
	struct mime_header_iter it;
	struct mime_field f;
	struct mime_text t = { .kind = MIME_TEXT_HEADER, .part = p };

	mime_header_iter_init(&it, mime_message_data(w->msg) + p->header_start,
			      p->body_start - p->header_start);
	while (mime_header_next(&it, &f) == 1) {
		buf_reset(&w->raw);
		buf_reset(&w->text);
		mime_header_unfold(&f, &w->raw);
		mime_rfc2047_decode(buf_cstr(&w->raw), w->raw.len, &w->text);
		t.name = f.name;
		t.name_len = f.name_len;
		t.text = buf_cstr(&w->text);
		t.len = w->text.len;
		if (w->fn(w->ctx, &t) == 0)
			return 0;
	}
	return 1;
}

static int walk_body(struct walk *w, const struct mime_part *p)
{
	struct mime_text t = { .kind = MIME_TEXT_BODY, .part = p };
	struct buf text;
	int ret;

	buf_init(&text, w->max);
	mime_text_decode(w->msg, p, &text);
	t.text = buf_cstr(&text);
	t.len = text.len;
	ret = w->fn(w->ctx, &t);
	buf_deinit(&text);
	return ret;
}

static bool is_message_header(const struct mime_part *p)
{
	return p->parent == NULL ||
	       (p->parent->flags & MIME_PART_MESSAGE) != 0;
}

int mime_text_walk(const struct mime_message *msg, unsigned int what,
		   size_t max, mime_text_fn *fn, void *ctx)
{
	struct walk w = { .msg = msg, .max = max, .fn = fn, .ctx = ctx };
	const struct mime_part *p;
	int ret = 1;

	buf_init(&w.raw, 0);
	buf_init(&w.text, 0);
	for (p = mime_message_root(msg); p != NULL && ret != 0;
	     p = mime_part_next(p)) {
		if ((what & MIME_WALK_HEADERS) != 0 && is_message_header(p))
			ret = walk_headers(&w, p);
		if (ret != 0 && (what & MIME_WALK_BODIES) != 0 &&
		    (p->flags & MIME_PART_TEXT) != 0)
			ret = walk_body(&w, p);
	}
	buf_deinit(&w.raw);
	buf_deinit(&w.text);
	return ret;
}
