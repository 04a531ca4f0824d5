/*
 * fuzz_dkim_canon.c - libFuzzer target: a header section walked field by
 * field, each field in both header canonicalizations (the relaxed form has
 * a lower-case name, no folding and no white space before its CRLF), the
 * From: domain; and the body canonicalizations (with and without an l=
 * limit) fed in two pieces at a split chosen by the first byte must hash
 * like the body fed at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"

static void check_relaxed(const struct buf *b)
{
	const char *p = buf_cstr(b), *colon = memchr(p, ':', b->len);

	if (b->len < 2 || memcmp(p + b->len - 2, "\r\n", 2) != 0)
		abort();
	if (memchr(p, '\n', b->len - 1) != NULL)
		abort();	/* unfolded: one line */
	if (b->len >= 3 && (p[b->len - 3] == ' ' || p[b->len - 3] == '\t'))
		abort();
	if (colon != NULL)
		for (const char *q = p; q < colon; q++)
			if (*q >= 'A' && *q <= 'Z')
				abort();
}

static void hash_body(enum dkim_canon c, const char *p, size_t n, size_t split,
		      uint64_t limit, unsigned char d[32])
{
	struct dkim_body *b = dkim_body_new(c, limit);

	if (b == NULL)
		abort();
	dkim_body_feed(b, p, split);
	dkim_body_feed(b, p + split, n - split);
	dkim_body_final(b, d);
	dkim_body_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct dkim_field f;
	size_t pos = 0, split;
	struct buf out;
	char domain[256];
	unsigned char a[32], b[32];

	buf_init(&out, 0);
	while (dkim_fields_next(s, size, &pos, &f) > 0) {
		if (f.len == 0 || f.text + f.len > s + size)
			abort();
		buf_reset(&out);
		if (dkim_canon_header(DKIM_CANON_RELAXED, f.text, f.len, &out) != 1)
			abort();
		if (memchr(f.text, ':', f.len) != NULL)
			check_relaxed(&out);	/* a line without a colon stays as is */
		buf_reset(&out);
		if (dkim_canon_header(DKIM_CANON_SIMPLE, f.text, f.len, &out) != 1)
			abort();
		if (dkim_from_domain(f.value, f.value_len, domain, sizeof(domain)) == 1 &&
		    (domain[0] == '\0' || strlen(domain) >= sizeof(domain)))
			abort();
	}
	buf_deinit(&out);
	if (pos > size)
		abort();
	split = size == 0 ? 0 : data[0] % (size + 1);
	for (int c = 0; c < 4; c++) {
		enum dkim_canon canon = c % 2 == 0 ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
		uint64_t limit = c < 2 ? UINT64_MAX : size / 2;
		hash_body(canon, s, size, 0, limit, a);
		hash_body(canon, s, size, split, limit, b);
		if (memcmp(a, b, 32) != 0)
			abort();
	}
	return 0;
}
