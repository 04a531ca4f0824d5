/*
 * fuzz_smtp_data.c - libFuzzer target: message text through smtp_data in
 * two pieces (split where the first byte says), for DATA and BDAT, checked
 * against the same text fed whole and against a line-by-line model.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-smtp/smtp_data.h"

#define FUZZ_MAX_LINE 16

/*
 * The model: split at LF; a line ending in CRLF makes the next line a
 * CRLF line start; ".CRLF" there ends DATA; a leading dot is dropped.
 */
static size_t model(bool dots, const char *in, size_t n, struct buf *out,
		    bool *too_long_r)
{
	bool crlf_start = true;
	size_t i = 0;

	while (i < n) {
		const char *line = in + i, *lf = memchr(line, '\n', n - i);
		size_t len = lf != NULL ? (size_t)(lf - line) : n - i;
		bool cr = lf != NULL && len > 0 && line[len - 1] == '\r';

		if (dots && crlf_start && lf != NULL && len == 2 &&
		    line[0] == '.' && line[1] == '\r')
			return i + 3;
		i += len + (lf != NULL ? 1 : 0);
		len -= cr ? 1 : 0;
		if (len > FUZZ_MAX_LINE)
			*too_long_r = true;
		if (dots && len > 0 && line[0] == '.') {
			line++;
			len--;
		}
		if (buf_append(out, line, len) < 0 ||
		    (lf != NULL && buf_putc(out, '\n') < 0))
			abort();
		crlf_start = cr;
	}
	return n;
}

/* Feed in[0..split) then in[split..n); return the bytes consumed. */
static size_t feed_two(bool dots, const char *in, size_t n, size_t split,
		       struct buf *out, bool *too_long_r)
{
	struct smtp_data d;
	size_t used, pos = 0, ends[2] = { split, n }, i, before;
	int ret = 0;

	smtp_data_init(&d, dots, FUZZ_MAX_LINE);
	for (i = 0; i < 2 && ret == 0; i++) {
		before = out->len;
		ret = smtp_data_feed(&d, in + pos, ends[i] - pos, &used, out);
		if (ret < 0 || used > ends[i] - pos ||
		    out->len - before > ends[i] - pos + 1 ||
		    (ret == 0 && used != ends[i] - pos) ||
		    (ret == 1) != (d.state == SMTP_DATA_DONE) ||
		    (!dots && ret != 0))
			abort();
		pos += used;
	}
	/* once done, nothing more is consumed */
	if (ret == 1 &&
	    (smtp_data_feed(&d, in + pos, n - pos, &used, out) != 1 ||
	     used != 0 || d.state != SMTP_DATA_DONE))
		abort();
	if (d.octets != pos || smtp_data_finish(&d, out) != 1 || out->len > pos)
		abort();
	*too_long_r = d.line_too_long;
	return pos;
}

static void fuzz_mode(bool dots, const char *in, size_t n, size_t split)
{
	struct buf whole, parts, expect;
	bool too_long_whole, too_long_parts, too_long_expect = false;
	size_t a, b, c;

	buf_init(&whole, 0);
	buf_init(&parts, 0);
	buf_init(&expect, 0);
	a = feed_two(dots, in, n, n, &whole, &too_long_whole);
	b = feed_two(dots, in, n, split, &parts, &too_long_parts);
	c = model(dots, in, n, &expect, &too_long_expect);
	if (a != b || a != c || too_long_whole != too_long_parts ||
	    too_long_whole != too_long_expect ||
	    whole.len != parts.len || whole.len != expect.len ||
	    memcmp(buf_cstr(&whole), buf_cstr(&parts), whole.len) != 0 ||
	    memcmp(buf_cstr(&whole), buf_cstr(&expect), whole.len) != 0)
		abort();
	buf_deinit(&whole);
	buf_deinit(&parts);
	buf_deinit(&expect);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t split;

	if (size == 0)
		return 0;
	split = data[0] % size;
	fuzz_mode(true, (const char *)data + 1, size - 1, split);
	fuzz_mode(false, (const char *)data + 1, size - 1, split);
	return 0;
}
