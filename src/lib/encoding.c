/*
 * encoding.c - hex digits and numbers, and base64 (RFC 4648 §4 and §5).
 *
 * Callers: mime (xtext, quoted-printable, RFC 2047,
 * RFC 2231, base64 bodies), auth (SASL), lib-imap (modified UTF-7), acme
 * (JWS), dkim (b=, bh=, p= and key records), srs (hashes, secrets), the
 * relay (TLSA in TLS-RPT), the CLI (fingerprints, pins).  Lenient decoders
 * that skip line breaks and garbage (MIME bodies) keep their own loop and
 * use base64_digit() for the alphabet.
 */
#include "encoding.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#define HEX_LOWER "0123456789abcdef"
#define HEX_UPPER "0123456789ABCDEF"
#define B64_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The two hex digits of every byte of in[0..len) from digits, and a NUL,
   into out. */
static void hex_digits(const unsigned char *in, size_t len, const char *digits, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void hex_encode(const void *in, size_t len, char *out)
{
	hex_digits(in, len, HEX_LOWER, out);
}

void hex_encode_upper(const void *in, size_t len, char *out)
{
	hex_digits(in, len, HEX_UPPER, out);
}

int hex_encode_buf(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	size_t start = out->len;
	char two[3];

	for (size_t i = 0; i < len; i++) {
		hex_digits(p + i, 1, HEX_LOWER, two);
		if (buf_append(out, two, 2) < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 1;
}

int hex_escape(unsigned char c, char prefix, struct buf *out)
{
	char three[4];

	three[0] = prefix;
	hex_digits(&c, 1, HEX_UPPER, three + 1);
	return buf_append(out, three, 3);
}

int hex_fingerprint(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	size_t start = out->len;
	char three[4];

	for (size_t i = 0; i < len; i++) {
		hex_digits(p + i, 1, HEX_UPPER, three);
		three[2] = ':';
		if (buf_append(out, three, i + 1 < len ? 3 : 2) < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 1;
}

int hex_decode_u64(const char *p, size_t n, uint64_t *r)
{
	uint64_t v = 0;

	if (n == 0 || n > 16)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d = hex_value((unsigned char)p[i]);
		if (d < 0 || (p[i] >= 'A' && p[i] <= 'F'))
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*r = v;
	return 1;
}

/* The value (0..63) of c in the alphabet whose last two digits are c62
   and c63, or -1. */
static int digit(unsigned char c, char c62, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)c62)
		return 62;
	return c == (unsigned char)c63 ? 63 : -1;
}

int base64_digit(unsigned char c, char c63)
{
	return digit(c, '+', c63);
}

/* How a decoder reads its text: the last two digits of the alphabet,
   whether groups are padded with '=', the white space it skips. */
struct b64_form {
	char c62, c63;
	bool padded;
	const char *skip;	/* NULL: none */
};

static bool skipped(const struct b64_form *f, char c)
{
	return f->skip != NULL && c != '\0' && strchr(f->skip, c) != NULL;
}

/* Up to 4 characters of in[*ip..len) that are not skipped into q; after
   them, *ip is past any skipped characters that follow.  The count. */
static size_t next_group(const struct b64_form *f, const char *in, size_t len,
			 size_t *ip, char q[4])
{
	size_t n = 0;

	while (*ip < len && n < 4) {
		char c = in[(*ip)++];
		if (!skipped(f, c))
			q[n++] = c;
	}
	while (*ip < len && skipped(f, in[*ip]))
		(*ip)++;
	return n;
}

/* The n characters of a group q as bytes appended to out; last says that
   no group follows (only the last may be short or padded).  1 or -1. */
static int decode_group(const struct b64_form *f, const char q[4], size_t n, bool last,
			struct buf *out)
{
	int v[4] = { 0, 0, 0, 0 };
	size_t digits = 0, pad = 0;
	unsigned char bytes[3];

	for (size_t k = 0; k < n; k++) {
		if (q[k] == '=' && f->padded && last && k >= 2) {
			pad++;
			continue;
		}
		if (pad > 0 || (v[k] = digit((unsigned char)q[k], f->c62, f->c63)) < 0)
			return -1;
		digits++;
	}
	if (f->padded ? n != 4 : (n < 2 || (n < 4 && !last)))
		return -1;
	/* the bits a short group leaves over must be zero (canonical) */
	if ((digits == 2 && (v[1] & 15) != 0) || (digits == 3 && (v[2] & 3) != 0))
		return -1;
	bytes[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	bytes[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
	bytes[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	return buf_append(out, bytes, digits - 1);
}

static int decode(const struct b64_form *f, const char *in, size_t len, struct buf *out)
{
	size_t i = 0, n, start = out->len;
	char q[4];

	while (i < len && (n = next_group(f, in, len, &i, q)) > 0) {
		if (decode_group(f, q, n, i == len, out) < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 1;
}

int base64_decode(const char *in, size_t len, struct buf *out)
{
	static const struct b64_form strict = { '+', '/', true, NULL };

	return decode(&strict, in, len, out);
}

int base64_decode_fws(const char *in, size_t len, struct buf *out)
{
	static const struct b64_form fws = { '+', '/', true, " \t\r\n" };

	return decode(&fws, in, len, out);
}

int base64url_decode(const char *in, size_t len, struct buf *out)
{
	static const struct b64_form url = { '-', '_', false, NULL };

	return decode(&url, in, len, out);
}

/* Groups of 3 bytes as 4 digits of alphabet; a short last group is padded
   with '=' or, without pad, cut to the digits that carry its bits. */
static int encode(const unsigned char *p, size_t len, const char *alphabet,
		  bool pad, struct buf *out)
{
	assert(p != NULL || len == 0);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		size_t keep = len - i >= 3 ? 4 : len - i + 1;
		char q[4];
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		q[0] = alphabet[v >> 18 & 63];
		q[1] = alphabet[v >> 12 & 63];
		q[2] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
		q[3] = i + 2 < len ? alphabet[v & 63] : '=';
		if (buf_append(out, q, pad ? 4 : keep) < 0)
			return -1;
	}
	return 1;
}

int base64_encode(const void *in, size_t len, struct buf *out)
{
	return encode(in, len, B64_DIGITS "+/", true, out);
}

int base64url_encode(const void *in, size_t len, struct buf *out)
{
	return encode(in, len, B64_DIGITS "-_", false, out);
}
