/*
 * fuzz_smtp_data.c - libFuzzer target: message text through smtp_data in
 * two pieces (split where the first byte says), for DATA and BDAT, checked
 * against the same text fed whole and against a line-by-line model; then
 * the stored text back to the wire (smtp_data_out) and read again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-smtp/smtp_data.h"

#define FUZZ_MAX_LINE 16

/*
 * The model: split into lines at CRLF, bare LF and bare CR (a CR at the
 * very end is bare: finish flushes it); every line end is stored as LF.
 * A line after CRLF (or the first) is a CRLF line start: ".CRLF" there
 * ends DATA and a leading dot is dropped; after a bare end a dot is text.
 */
static size_t model(bool dots, const char *in, size_t n, struct buf *out,
		    bool *too_long_r)
{
	bool crlf_start = true;
	size_t i = 0;

	while (i < n) {
		const char *line = in + i;
		size_t len = 0, end_len;

		while (i + len < n && line[len] != '\r' && line[len] != '\n')
			len++;
		end_len = i + len == n ? 0 :
			  line[len] == '\r' && i + len + 1 < n && line[len + 1] == '\n' ? 2 : 1;
		if (dots && crlf_start && end_len == 2 && len == 1 && line[0] == '.')
			return i + 3;
		i += len + end_len;
		if (len > FUZZ_MAX_LINE)
			*too_long_r = true;
		if (dots && crlf_start && len > 0 && line[0] == '.') {
			line++;
			len--;
		}
		if (buf_append(out, line, len) < 0 ||
		    (end_len > 0 && buf_putc(out, '\n') < 0))
			abort();
		crlf_start = end_len == 2;
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

/*
 * The stored text back to the wire: only CRLF line ends, and read again
 * it gives the same text (plus the LF that DATA's end adds to an
 * unfinished last line).  The store never holds a CR.
 */
static void round_trip(bool dots, const struct buf *stored)
{
	struct smtp_data_out o;
	struct smtp_data d;
	struct buf wire, again;
	size_t used, i;

	if (memchr(buf_cstr(stored), '\r', stored->len) != NULL)
		abort();
	buf_init(&wire, 0);
	buf_init(&again, 0);
	smtp_data_out_init(&o, dots);
	if (smtp_data_out_feed(&o, buf_cstr(stored), stored->len, &wire) != 1 ||
	    smtp_data_out_finish(&o, &wire) != 1 || o.octets != wire.len)
		abort();
	for (i = 0; i < wire.len; i++)
		if ((wire.data[i] == '\r') != (i + 1 < wire.len && wire.data[i + 1] == '\n') ||
		    (wire.data[i] == '\n' && (i == 0 || wire.data[i - 1] != '\r')))
			abort();
	smtp_data_init(&d, dots, SIZE_MAX);
	if (smtp_data_feed(&d, buf_cstr(&wire), wire.len, &used, &again) != (dots ? 1 : 0) ||
	    used != wire.len || smtp_data_finish(&d, &again) != 1)
		abort();
	if (dots && stored->len > 0 && stored->data[stored->len - 1] != '\n')
		buf_putc((struct buf *)stored, '\n');
	if (again.len != stored->len || memcmp(buf_cstr(&again), buf_cstr(stored), again.len) != 0)
		abort();
	buf_deinit(&wire);
	buf_deinit(&again);
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
	round_trip(dots, &whole);
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
