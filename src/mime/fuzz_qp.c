/*
 * fuzz_qp.c - libFuzzer target: qp_downgrade() on arbitrary messages (a
 * converted message must be 7-bit; a refusal leaves the output alone),
 * and qp_encode() on the same bytes (7-bit, short lines, decodes back).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "mime/mime.h"

/* An upper-case hex digit's value, or -1: the encoder writes no other. */
static int hexval(char c)
{
	return c >= 'a' && c <= 'f' ? -1 : hex_value((unsigned char)c);
}

/* Decode enc and compare with the original bytes. */
static void check_decode(const char *enc, size_t len, const char *orig,
			 size_t orig_len)
{
	size_t o = 0;
	char c;

	for (size_t i = 0; i < len; i++) {
		c = enc[i];
		if (c == '=' && i + 1 < len && enc[i + 1] == '\n') {
			i++;
			continue;
		}
		if (c == '=') {
			if (i + 2 >= len || hexval(enc[i + 1]) < 0 ||
			    hexval(enc[i + 2]) < 0)
				abort();
			c = (char)(hexval(enc[i + 1]) << 4 | hexval(enc[i + 2]));
			i += 2;
		}
		if (o >= orig_len || orig[o++] != c)
			abort();
	}
	if (o != orig_len)
		abort();
}

static void check_lines(const char *p, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '\n')
			continue;
		if (i - start > QP_LINE_MAX)
			abort();
		if (i > start && (p[i - 1] == ' ' || p[i - 1] == '\t'))
			abort();
		start = i + 1;
	}
}

static void fuzz_encode(const char *s, size_t size)
{
	struct buf out;

	buf_init(&out, 0);
	if (qp_encode(s, size, &out) != 1)
		abort();
	if (qp_is_8bit(buf_cstr(&out), out.len))
		abort();
	check_lines(buf_cstr(&out), out.len);
	check_decode(buf_cstr(&out), out.len, s, size);
	buf_deinit(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct buf out;
	bool converted = true;
	const char *error = NULL;
	int ret;

	buf_init(&out, 0);
	ret = qp_downgrade(s, size, &out, &converted, &error);
	if (ret == 1 && converted) {
		if (qp_is_8bit(buf_cstr(&out), out.len) || out.len == 0)
			abort();
	} else if (ret == 1) {
		if (qp_is_8bit(s, size) || out.len != 0)
			abort();
	} else if (ret != -1 || error == NULL || converted || out.len != 0 ||
		   !qp_is_8bit(s, size)) {
		abort();
	}
	buf_deinit(&out);
	fuzz_encode(s, size);
	return 0;
}
