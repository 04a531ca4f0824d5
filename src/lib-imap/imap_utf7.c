/*
 * imap_utf7.c - modified UTF-7 mailbox names (RFC 3501 §5.1.3).
 *
 * Called by the IMAP session for the mailbox names of IMAP4rev1 clients:
 * decode what they send (SELECT, CREATE, LIST patterns...) into the UTF-8
 * the store uses, encode what it answers.  No limit of its own: names are
 * as long as the reader's line limit allows.
 */
#include "imap_utf7.h"
#include "lib/util.h"
#include "lib/encoding.h"

#include <stdint.h>

/*
 * RFC 3501 §5.1.3:
 *
 *   In modified UTF-7, printable US-ASCII characters, except for "&",
 *   represent themselves; that is, characters with octet values 0x20-0x25
 *   and 0x27-0x7e.  The character "&" (0x26) is represented by the
 *   two-octet sequence "&-".
 *
 *   All other characters (octet values 0x00-0x1f and 0x7f-0xff) are
 *   represented in modified BASE64, with a further modification from
 *   [UTF-7] that "," is used instead of "/".  Modified BASE64 MUST NOT
 *   be used to represent any printing US-ASCII character which can
 *   represent itself.
 *
 *   "&" is used to shift to modified BASE64 and "-" to shift back to
 *   US-ASCII.  There is no implicit shift from BASE64 to US-ASCII, and
 *   null shifts ("-&" while in BASE64; note that "&-" while in US-ASCII
 *   means "&") are not permitted.  However, all names start in US-ASCII,
 *   and MUST end in US-ASCII; that is, a name that ends with a non-ASCII
 *   ISO-10646 character MUST end with a "-".
 *
 * The base64 text is UTF-16BE; characters past U+FFFF are surrogate
 * pairs.  Decoding runs a small machine over the base64 run: bits
 * collect in an accumulator and come out 16 at a time.
 */

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool is_direct(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static int b64_value(unsigned char c)
{
	return base64_digit(c, ',');
}

/* One code point from UTF-8 at s[*ip..len).  Returns 1 or -1. */
static int utf8_next(const unsigned char *s, size_t len, size_t *ip,
		     uint32_t *cp_r)
{
	size_t i = *ip, n, k;
	uint32_t cp;

	if (s[i] < 0x80) {
		n = 1;
		cp = s[i];
	} else if (s[i] >= 0xc2 && s[i] <= 0xdf) {
		n = 2;
		cp = s[i] & 0x1f;
	} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
		n = 3;
		cp = s[i] & 0x0f;
	} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
		n = 4;
		cp = s[i] & 0x07;
	} else {
		return -1;
	}
	if (len - i < n)
		return -1;
	for (k = 1; k < n; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i + k] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp == 0)
		return -1;
	*ip = i + n;
	*cp_r = cp;
	return 1;
}

static int utf8_put(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

struct b64_out {
	uint32_t acc;
	unsigned bits;
};

/* Emit the complete 6-bit groups of a UTF-16 unit. */
static int b64_put_unit(struct buf *out, struct b64_out *b, uint32_t unit)
{
	b->acc = (b->acc << 16) | unit;
	b->bits += 16;
	while (b->bits >= 6) {
		b->bits -= 6;
		if (buf_putc(out, b64_chars[(b->acc >> b->bits) & 0x3f]) < 0)
			return -1;
	}
	b->acc &= (1u << b->bits) - 1;
	return 1;
}

/* End a base64 run: the last bits padded with zeros, then "-". */
static int b64_finish(struct buf *out, struct b64_out *b)
{
	if (b->bits > 0 &&
	    buf_putc(out, b64_chars[(b->acc << (6 - b->bits)) & 0x3f]) < 0)
		return -1;
	b->acc = 0;
	b->bits = 0;
	return buf_putc(out, '-');
}

static int encode_cp(struct buf *out, struct b64_out *b, uint32_t cp)
{
	if (cp < 0x10000)
		return b64_put_unit(out, b, cp);
	cp -= 0x10000;
	if (b64_put_unit(out, b, 0xd800 | (cp >> 10)) < 0)
		return -1;
	return b64_put_unit(out, b, 0xdc00 | (cp & 0x3ff));
}

static int encode(const unsigned char *s, size_t len, struct buf *out)
{
	struct b64_out b = { 0, 0 };
	bool in_b64 = false;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		if (utf8_next(s, len, &i, &cp) < 0)
			return -1;
		if (cp < 0x80 && is_direct((unsigned char)cp)) {
			if (in_b64 && b64_finish(out, &b) < 0)
				return -1;
			in_b64 = false;
			if (buf_putc(out, (char)cp) < 0 ||
			    (cp == '&' && buf_putc(out, '-') < 0))
				return -1;
			continue;
		}
		if (!in_b64 && buf_putc(out, '&') < 0)
			return -1;
		in_b64 = true;
		if (encode_cp(out, &b, cp) < 0)
			return -1;
	}
	if (in_b64 && b64_finish(out, &b) < 0)
		return -1;
	return 1;
}

int imap_utf7_encode(const char *s, size_t len, struct buf *out)
{
	size_t start = out->len;

	if (encode((const unsigned char *)s, len, out) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 1;
}

struct b64_in {
	uint32_t acc;
	unsigned bits;
	uint32_t high;		/* a high surrogate waiting for its low */
	bool any;		/* the run decoded a character */
};

/* A complete UTF-16 unit of a base64 run. */
static int decode_unit(struct buf *out, struct b64_in *b, uint32_t unit)
{
	if (b->high != 0) {
		if (unit < 0xdc00 || unit > 0xdfff)
			return -1;
		unit = 0x10000 + ((b->high - 0xd800) << 10) + (unit - 0xdc00);
		b->high = 0;
	} else if (unit >= 0xd800 && unit <= 0xdbff) {
		b->high = unit;
		return 1;
	} else if (unit >= 0xdc00 && unit <= 0xdfff) {
		return -1;
	} else if (unit == 0 || (unit < 0x80 && is_direct((unsigned char)unit))) {
		return -1;	/* NUL, or ASCII that must stand for itself */
	}
	b->any = true;
	return utf8_put(out, unit);
}

/* The base64 run at s[*ip..len) up to and including its "-". */
static int decode_run(const unsigned char *s, size_t len, size_t *ip,
		      struct buf *out)
{
	struct b64_in b = { 0, 0, 0, false };
	size_t i = *ip;
	int v;

	for (; i < len && s[i] != '-'; i++) {
		if ((v = b64_value(s[i])) < 0)
			return -1;
		b.acc = (b.acc << 6) | (uint32_t)v;
		b.bits += 6;
		if (b.bits >= 16) {
			b.bits -= 16;
			if (decode_unit(out, &b, (b.acc >> b.bits) & 0xffff) < 0)
				return -1;
			b.acc &= (1u << b.bits) - 1;
		}
	}
	/* a "-" ends it; no surrogate half, no full group, no stray bits */
	if (i == len || !b.any || b.high != 0 || b.bits >= 6 || b.acc != 0)
		return -1;
	*ip = i + 1;
	return 1;
}

static int decode(const unsigned char *s, size_t len, struct buf *out)
{
	bool after_run = false;
	size_t i = 0;

	while (i < len) {
		if (!is_direct(s[i]))
			return -1;
		if (s[i] != '&') {
			if (buf_putc(out, (char)s[i++]) < 0)
				return -1;
			after_run = false;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '-') {
			if (buf_putc(out, '&') < 0)
				return -1;
			i += 2;
			after_run = false;
			continue;
		}
		/* two runs side by side must have been one */
		if (after_run)
			return -1;
		i++;
		if (decode_run(s, len, &i, out) < 0)
			return -1;
		after_run = true;
	}
	return 1;
}

int imap_utf7_decode(const char *s, size_t len, struct buf *out)
{
	size_t start = out->len;

	if (decode((const unsigned char *)s, len, out) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 1;
}

bool imap_utf7_is_valid(const char *s, size_t len)
{
	struct buf tmp;
	int ret;

	buf_init(&tmp, 0);
	ret = imap_utf7_decode(s, len, &tmp);
	buf_deinit(&tmp);
	return ret > 0;
}
