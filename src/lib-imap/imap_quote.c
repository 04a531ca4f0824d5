/*
 * imap_quote.c - atoms, quoted strings and literals in IMAP responses.
 *
 * Called by the IMAP session when it writes mailbox names, envelope
 * fields, flags and message data into responses.  Strings of any length
 * are handled; the caller's buffer maximum is the only limit.
 */
#include "imap_quote.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* ASTRING-CHAR = ATOM-CHAR / resp-specials (RFC 9051 §9) */
static bool is_astring_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\", c) == NULL;
}

bool imap_quote_is_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return false;
	for (i = 0; i < len; i++) {
		if (!is_astring_char((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* Octets of the UTF-8 sequence at s[0..len), or 0 if it is not one
   (overlong forms, surrogates and values past U+10FFFF refused). */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

bool imap_quote_is_quotable(const char *s, size_t len, bool utf8)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (u[i] == '\0' || u[i] == '\r' || u[i] == '\n')
			return false;
		if (u[i] >= 0x80 && !utf8)
			return false;
		n = utf8_seq_len(u + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int imap_quote_quoted(struct buf *out, const char *s, size_t len)
{
	size_t start = out->len, i, run;

	if (buf_putc(out, '"') < 0)
		return -1;
	for (i = 0; i < len; i += run) {
		for (run = 0; i + run < len && s[i + run] != '"' &&
		     s[i + run] != '\\'; run++)
			;
		if (run == 0) {
			run = 1;
			if (buf_putc(out, '\\') < 0 || buf_putc(out, s[i]) < 0)
				goto fail;
		} else if (buf_append(out, s + i, run) < 0) {
			goto fail;
		}
	}
	if (buf_putc(out, '"') < 0)
		goto fail;
	return 1;
fail:
	buf_truncate(out, start);
	return -1;
}

int imap_quote_literal(struct buf *out, const char *s, size_t len)
{
	size_t start = out->len;
	bool nul = memchr(s, '\0', len) != NULL;

	if (buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len) < 0 ||
	    buf_append(out, s, len) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 1;
}

int imap_quote_string(struct buf *out, const char *s, size_t len, bool utf8)
{
	if (imap_quote_is_quotable(s, len, utf8))
		return imap_quote_quoted(out, s, len);
	return imap_quote_literal(out, s, len);
}

int imap_quote_astring(struct buf *out, const char *s, size_t len, bool utf8)
{
	if (imap_quote_is_atom(s, len))
		return buf_append(out, s, len);
	return imap_quote_string(out, s, len, utf8);
}

int imap_quote_nstring(struct buf *out, const char *s, size_t len, bool utf8)
{
	if (s == NULL)
		return buf_puts(out, "NIL");
	return imap_quote_string(out, s, len, utf8);
}
