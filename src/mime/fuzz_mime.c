/*
 * fuzz_mime.c - libFuzzer target for the message parser: parse the input,
 * check the tree's ranges and sizes, resolve every part's section path and
 * its MIME, HEADER, TEXT and HEADER.FIELDS sections, decode every part,
 * walk the text.  Then parse the input again with every bare LF as CRLF:
 * the tree and the BINARY bytes must be the same.  A third parse with tiny
 * limits must stay within them.  (ENVELOPE and BODYSTRUCTURE of the same
 * inputs: lib-imap/fuzz_imap_body.c.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

#define OUT_MAX (4u << 20)

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_part(const struct mime_message *m,
		       const struct mime_part *p)
{
	const char *d = mime_message_data(m);
	const struct mime_part *c;
	unsigned int n = 0;

	check(p->header_start <= p->body_start && p->body_start <= p->end &&
	      p->end <= mime_message_size(m));
	check(p->header_size == mime_crlf_size(d + p->header_start,
					       p->body_start - p->header_start));
	check(p->body_size == mime_crlf_size(d + p->body_start,
					     p->end - p->body_start));
	check(p->type != NULL && p->subtype != NULL);
	for (c = p->children; c != NULL; c = c->next, n++) {
		check(c->parent == p && c->depth == p->depth + 1);
		check(c->header_start >= p->body_start && c->end <= p->end);
	}
	check(n == p->nchildren);
	check(((p->flags & MIME_PART_MESSAGE) != 0) == (n == 1 &&
	      (p->flags & MIME_PART_MULTIPART) == 0) || n == 0);
}

static void check_section(const struct mime_message *m,
			  const struct mime_part *p, const char *suffix)
{
	struct mime_section s;
	struct buf path;
	int ret;

	buf_init(&path, 0);
	mime_section_path(p, &path);
	if (*suffix != '\0' && path.len > 0)
		buf_putc(&path, '.');
	buf_puts(&path, suffix);
	ret = mime_section_resolve(m, buf_cstr(&path), path.len, &s);
	/* MIME needs a part number */
	check(ret >= 0 || strcmp(buf_cstr(&path), "MIME") == 0);
	if (ret == 1)
		check(s.start <= s.end && s.end <= mime_message_size(m));
	if (*suffix == '\0') {
		check(ret == 1);
		/* an embedded multipart is addressed by its MESSAGE part */
		check(s.part == p || s.part == p->parent);
	}
	if (ret == 1 && (s.kind == MIME_SECTION_HEADER_FIELDS ||
			 s.kind == MIME_SECTION_HEADER_FIELDS_NOT)) {
		static const char *const names[] = { "subject", "From" };
		struct buf out;

		buf_init(&out, OUT_MAX);
		mime_header_filter(mime_message_data(m) + s.start,
				   s.end - s.start, names, 2,
				   s.kind == MIME_SECTION_HEADER_FIELDS_NOT,
				   &out);
		check(out.len <= s.end - s.start + 2);
		buf_deinit(&out);
	}
	buf_deinit(&path);
}

static void check_decode(const struct mime_message *m,
			 const struct mime_part *p)
{
	struct buf out;
	uint64_t size;
	int ret;

	buf_init(&out, 1 << 16);
	mime_text_decode(m, p, &out);
	check(out.len <= 1 << 16);
	buf_deinit(&out);
	buf_init(&out, 0);
	ret = mime_text_binary(m, p, &out);
	check(mime_text_binary_size(m, p, &size) == ret);
	check(ret == 0 || size == out.len);
	buf_deinit(&out);
}

static int walk_fn(void *ctx, const struct mime_text *t)
{
	size_t *total = ctx;

	check(t->text[t->len] == '\0');
	*total += t->len;
	return 1;
}

static void parse_all(const char *in, size_t n, struct mime_message **m_r)
{
	static const struct mime_limits limits = { 20, 1000, 1000, 1 << 20 };
	static const char *const suffixes[] = {
		"", "MIME", "HEADER", "TEXT", "HEADER.FIELDS",
		"HEADER.FIELDS.NOT"
	};
	struct mime_message *m = mime_message_parse(in, n, &limits);
	const struct mime_part *p;
	unsigned int count = 0;
	size_t i, total = 0;

	for (p = mime_message_root(m); p != NULL; p = mime_part_next(p)) {
		check_part(m, p);
		for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
			check_section(m, p, suffixes[i]);
		check_decode(m, p);
		count++;
	}
	check(count == mime_message_part_count(m));
	mime_text_walk(m, MIME_WALK_HEADERS | MIME_WALK_BODIES, 4096,
		       walk_fn, &total);
	*m_r = m;
}

/* Every bare LF as CRLF. */
static char *to_crlf(const char *in, size_t n, size_t *len_r)
{
	char *out = malloc(n * 2 + 1);
	size_t i, o = 0;

	check(out != NULL);
	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	*len_r = o;
	return out;
}

static void compare_binary(const struct mime_message *a,
			   const struct mime_part *pa,
			   const struct mime_message *b,
			   const struct mime_part *pb)
{
	struct buf x, y;

	buf_init(&x, 0);
	buf_init(&y, 0);
	check(mime_text_binary(a, pa, &x) == mime_text_binary(b, pb, &y));
	check(x.len == y.len && memcmp(buf_cstr(&x), buf_cstr(&y), x.len) == 0);
	buf_deinit(&x);
	buf_deinit(&y);
}

static void compare(const struct mime_message *a, const struct mime_message *b)
{
	const struct mime_part *pa = mime_message_root(a);
	const struct mime_part *pb = mime_message_root(b);

	check(mime_message_size_crlf(a) == mime_message_size_crlf(b));
	for (; pa != NULL && pb != NULL;
	     pa = mime_part_next(pa), pb = mime_part_next(pb)) {
		check(pa->flags == pb->flags && pa->depth == pb->depth);
		check(pa->body_size == pb->body_size &&
		      pa->body_lines == pb->body_lines &&
		      pa->header_size == pb->header_size);
		compare_binary(a, pa, b, pb);
	}
	check(pa == NULL && pb == NULL);
}

static void tiny_limits(const char *in, size_t n)
{
	static const struct mime_limits limits = { 2, 5, 3, 60 };
	struct mime_message *m = mime_message_parse(in, n, &limits);
	const struct mime_part *p;

	check(mime_message_part_count(m) <= 5);
	for (p = mime_message_root(m); p != NULL; p = mime_part_next(p)) {
		check(p->depth <= 2);
		check_part(m, p);
	}
	mime_message_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *a, *b;
	struct buf ia;
	size_t crlf_len;
	char *crlf;

	parse_all((const char *)data, size, &a);
	crlf = to_crlf((const char *)data, size, &crlf_len);
	parse_all(crlf, crlf_len, &b);
	compare(a, b);
	mime_message_free(&a);
	mime_message_free(&b);
	check(a == NULL);
	free(crlf);
	tiny_limits((const char *)data, size);
	/* the whole input as one address field, in SEARCH's normal form */
	buf_init(&ia, OUT_MAX);
	mime_address_text((const char *)data, size, &ia);
	check(ia.len <= OUT_MAX);
	buf_deinit(&ia);
	return 0;
}
