/*
 * encoding.c - hex digits and numbers, and base64 (RFC 4648 §4 and §5).
 *
 * Callers: mime (xtext, quoted-printable, RFC 2047,
 * RFC 2231, base64 bodies), auth (SASL), lib-imap (modified UTF-7), acme
 * (JWS).  Lenient decoders that skip line breaks and garbage (MIME bodies)
 * keep their own loop and use base64_digit() for the alphabet.
 */
#include "encoding.h"

#include <assert.h>
#include <stdbool.h>

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

void hex_encode(const void *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
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

int base64_digit(unsigned char c, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == (unsigned char)c63 ? 63 : -1;
}

int base64_decode(const char *in, size_t len, struct buf *out)
{
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		unsigned char bytes[3];
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = base64_digit(c, '/')) < 0)
				return -1;
		}
		/* the bits a padded group leaves over must be zero (canonical) */
		if ((pad == 2 && (v[1] & 15) != 0) || (pad == 1 && (v[2] & 3) != 0))
			return -1;
		bytes[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		bytes[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		bytes[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
		if (buf_append(out, bytes, (size_t)(3 - pad)) < 0)
			return -1;
	}
	return 1;
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
	return encode(in, len,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		      true, out);
}

int base64url_encode(const void *in, size_t len, struct buf *out)
{
	return encode(in, len,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
		      false, out);
}
