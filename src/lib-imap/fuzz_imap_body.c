/*
 * fuzz_imap_body.c - libFuzzer target for ENVELOPE, BODY and BODYSTRUCTURE:
 * parse the input as a message and write all four renderings (BODY and
 * BODYSTRUCTURE, for IMAP4rev2 and IMAP4rev1); parse it again with every
 * bare LF as CRLF: the output must be byte for byte the same.  A parse
 * with tiny limits gives every part's BODYSTRUCTURE into a small buffer,
 * which must never grow past its maximum.  Seeds: fuzz/imap_body/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_body.h"
#include "mime/mime.h"

#define OUT_MAX (4u << 20)

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* ENVELOPE, BODY and BODYSTRUCTURE of the whole message; out emptied if
   it filled up. */
static void render(const char *in, size_t n, struct buf *out)
{
	static const struct mime_limits limits = { 20, 1000, 1000, 1 << 20 };
	struct mime_message *m = mime_message_parse(in, n, &limits);
	const struct mime_part *root = mime_message_root(m);

	if (imap_body_envelope(m, root, out) < 0 ||
	    imap_body_structure(m, root, 0, out) < 0 ||
	    imap_body_structure(m, root, IMAP_BODY_EXTENDED, out) < 0 ||
	    imap_body_structure(m, root, IMAP_BODY_REV1, out) < 0 ||
	    imap_body_structure(m, root, IMAP_BODY_REV1 | IMAP_BODY_EXTENDED,
				out) < 0)
		buf_reset(out);
	check(out->len <= OUT_MAX);
	mime_message_free(&m);
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

static void tiny_limits(const char *in, size_t n)
{
	static const struct mime_limits limits = { 2, 5, 3, 60 };
	struct mime_message *m = mime_message_parse(in, n, &limits);
	const struct mime_part *p;
	struct buf out;

	buf_init(&out, 256);
	for (p = mime_message_root(m); p != NULL; p = mime_part_next(p)) {
		buf_reset(&out);
		imap_body_structure(m, p, IMAP_BODY_EXTENDED, &out);
		check(out.len <= 256);
		if ((p->flags & MIME_PART_MESSAGE) != 0 && p->children != NULL) {
			buf_reset(&out);
			imap_body_envelope(m, p->children, &out);
			check(out.len <= 256);
		}
	}
	buf_deinit(&out);
	mime_message_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a, b;
	size_t crlf_len;
	char *crlf;

	buf_init(&a, OUT_MAX);
	buf_init(&b, OUT_MAX);
	render((const char *)data, size, &a);
	crlf = to_crlf((const char *)data, size, &crlf_len);
	render(crlf, crlf_len, &b);
	if (a.len > 0 && b.len > 0)
		check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	free(crlf);
	buf_deinit(&a);
	buf_deinit(&b);
	tiny_limits((const char *)data, size);
	return 0;
}
