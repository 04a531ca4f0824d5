/*
 * xtext.c - RFC 3461 §4 xtext, the encoding of ENVID= and ORCPT= values.
 * Used by the DSN composer (to show the decoded values) and by the SMTP
 * client (to pass them on).  No limits of its own: the buf's maximum caps
 * the output.
 */
#include "mime.h"
#include "lib/encoding.h"

/* Decode one unit at in[i]: stores the byte in *c and returns its length
   in the input (1 or 3), or 0 for bad syntax. */
static size_t xtext_unit(const char *in, size_t len, size_t i, char *c)
{
	unsigned char u = (unsigned char)in[i];
	int hi, lo;

	if (u < 33 || u > 126)
		return 0;
	if (u != '+') {
		*c = (char)u;
		return 1;
	}
	if (len - i < 3)
		return 0;
	hi = hex_value(in[i + 1]);
	lo = hex_value(in[i + 2]);
	if (hi < 0 || lo < 0)
		return 0;
	*c = (char)(hi << 4 | lo);
	return 3;
}

bool xtext_valid(const char *s, size_t len)
{
	size_t i = 0, n;
	char c;

	while (i < len) {
		n = xtext_unit(s, len, i, &c);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int xtext_decode(const char *in, size_t len, struct buf *out)
{
	size_t i = 0, n, start = out->len;
	char c;

	while (i < len) {
		n = xtext_unit(in, len, i, &c);
		if (n == 0 || buf_putc(out, c) < 0) {
			buf_truncate(out, start);
			return -1;
		}
		i += n;
	}
	return 1;
}

int xtext_encode(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len;
	unsigned char u;
	int ret;

	for (size_t i = 0; i < len; i++) {
		u = (unsigned char)in[i];
		if (u >= 33 && u <= 126 && u != '+' && u != '=')
			ret = buf_putc(out, (char)u);
		else
			ret = hex_escape(u, '+', out);
		if (ret < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 1;
}
