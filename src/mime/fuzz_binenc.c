/*
 * fuzz_binenc.c - libFuzzer target for the APPEND filter that re-encodes
 * binary body parts: the output must not depend on how the message is
 * cut (whole, byte by byte, split at an offset taken from the input), a
 * message that never says "binary" must pass byte for byte, and the
 * output must parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void run(const char *d, size_t n, size_t step, size_t cut, struct buf *out)
{
	struct mime_binenc *e = mime_binenc_new();

	if (step == 0) {
		mime_binenc_write(e, d, cut, out);
		mime_binenc_write(e, d + cut, n - cut, out);
	} else {
		for (size_t i = 0; i < n; i += step)
			mime_binenc_write(e, d + i, n - i < step ? n - i : step, out);
	}
	mime_binenc_finish(e, out);
	mime_binenc_free(&e);
}

/* "binary" anywhere, NULs skipped as header parsing skips them. */
static bool says_binary(const char *d, size_t n)
{
	static const char word[] = "binary";
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char c = d[i] >= 'A' && d[i] <= 'Z' ? (char)(d[i] + 32) : d[i];

		if (c == '\0')
			continue;
		k = c == word[k] ? k + 1 : c == word[0] ? 1 : 0;
		if (k == 6)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	struct buf whole, other;
	struct mime_message *m;

	buf_init(&whole, 0);
	buf_init(&other, 0);
	run(d, size, 0, size, &whole);
	run(d, size, 1, 0, &other);
	check(other.len == whole.len && memcmp(other.data, whole.data, whole.len) == 0);
	buf_reset(&other);
	run(d, size, 0, size > 0 ? data[0] % (size + 1) : 0, &other);
	check(other.len == whole.len && memcmp(other.data, whole.data, whole.len) == 0);
	if (!says_binary(d, size))
		check(whole.len == size && memcmp(whole.data, d, size) == 0);
	m = mime_message_parse(whole.data, whole.len, NULL);
	for (const struct mime_part *p = mime_message_root(m); p != NULL; p = mime_part_next(p)) {
		buf_reset(&other);
		if (p->children == NULL)
			mime_text_binary(m, p, &other);
	}
	mime_message_free(&m);
	buf_deinit(&whole);
	buf_deinit(&other);
	return 0;
}
