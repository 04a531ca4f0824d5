/*
 * mime_rfc2047.c - RFC 2047 encoded words in unstructured header values
 * (Subject, display names, file names) decoded to UTF-8, for SEARCH and the
 * client.  ENVELOPE sends values raw and does not use this.
 *
 *   encoded-word = "=?" charset ["*" language] "?" encoding "?"
 *                  encoded-text "?="
 *   encoding     = "B" / "Q"      ; case-insensitive
 *
 * Lenient as mail readers are: words are recognised even when glued to
 * other text; the blanks between two adjacent words are dropped (§6.2) and
 * their bytes joined before charset conversion, so a character split
 * across two words survives; a malformed word is kept as written.  Text
 * outside words is taken as UTF-8, or as Windows-1252 when it is not valid
 * UTF-8 (raw 8-bit headers from old mailers).
 */
#include "mime_int.h"
#include "lib/encoding.h"

#include <string.h>
#include <strings.h>

#define EW_CHARSET_MAX 40

struct encoded_word {
	char charset[EW_CHARSET_MAX + 1];
	char encoding;		/* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len;		/* of the whole word */
};

/* Parse the word at p ("=?" already seen); false when malformed. */
static bool word_parse(const char *p, size_t n, struct encoded_word *w)
{
	size_t i = 2, cs_start = 2, cs_len, t;

	while (i < n && p[i] != '?' && p[i] > ' ' && p[i] != 0x7f)
		i++;
	if (i >= n || p[i] != '?' || i == cs_start)
		return false;
	cs_len = i - cs_start;
	if (memchr(p + cs_start, '*', cs_len) != NULL)
		cs_len = (size_t)((const char *)memchr(p + cs_start, '*',
						      cs_len) - (p + cs_start));
	if (cs_len == 0 || cs_len > EW_CHARSET_MAX || i + 3 >= n ||
	    p[i + 2] != '?')
		return false;
	w->encoding = (char)(p[i + 1] & ~0x20);
	if (w->encoding != 'B' && w->encoding != 'Q')
		return false;
	t = i + 3;
	for (i = t; i < n && p[i] != '?'; i++) {
		if (p[i] <= ' ' || p[i] == 0x7f)
			return false;
	}
	if (i + 1 >= n || p[i + 1] != '=')
		return false;
	memcpy(w->charset, p + cs_start, cs_len);
	w->charset[cs_len] = '\0';
	w->text = p + t;
	w->text_len = i - t;
	w->len = i + 2;
	return true;
}

/* RFC 2047 §4.2: "_" is a space, "=XX" a byte. */
static void q_decode(const char *p, size_t n, struct buf *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (p[i] == '_')
			buf_putc(out, ' ');
		else if (p[i] == '=' && i + 2 < n &&
			 (hi = hex_value(p[i + 1])) >= 0 &&
			 (lo = hex_value(p[i + 2])) >= 0) {
			buf_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			buf_putc(out, p[i]);
		}
	}
}

struct decoder {
	struct buf *out;
	struct buf pending;	/* bytes of adjacent words, one charset */
	char charset[EW_CHARSET_MAX + 1];
	int ret;
};

static void pending_flush(struct decoder *d)
{
	if (d->pending.len > 0 &&
	    mime_charset_to_utf8(d->charset, buf_cstr(&d->pending),
				 d->pending.len, d->out) < 0)
		d->ret = -1;
	buf_reset(&d->pending);
}

static bool utf8_valid(const char *p, size_t n)
{
	struct buf tmp;
	bool valid;

	buf_init(&tmp, 0);
	mime_utf8_sanitize(p, n, &tmp);
	valid = tmp.len == n;
	buf_deinit(&tmp);
	return valid;
}

/* Text outside encoded words. */
static void text_put(struct decoder *d, const char *p, size_t n)
{
	size_t i;

	pending_flush(d);
	for (i = 0; i < n && (unsigned char)p[i] < 0x80; i++)
		;
	if (i == n || utf8_valid(p, n)) {
		if (mime_buf_put(d->out, p, n) < 0)
			d->ret = -1;
	} else if (mime_charset_to_utf8("windows-1252", p, n, d->out) < 0) {
		d->ret = -1;
	}
}

static void word_put(struct decoder *d, const struct encoded_word *w)
{
	if (strcasecmp(w->charset, d->charset) != 0) {
		pending_flush(d);
		memcpy(d->charset, w->charset, sizeof(d->charset));
	}
	if (w->encoding == 'B')
		mime_base64_decode(w->text, w->text_len, &d->pending);
	else
		q_decode(w->text, w->text_len, &d->pending);
}

static bool all_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!mime_is_wsp(p[i]) && p[i] != '\r' && p[i] != '\n')
			return false;
	}
	return true;
}

int mime_rfc2047_decode(const char *in, size_t n, struct buf *out)
{
	struct decoder d = { .out = out, .ret = 1 };
	struct encoded_word w;
	size_t i = 0, text = 0;
	bool after_word = false;

	buf_init(&d.pending, 0);
	while (i + 1 < n && d.ret > 0) {
		if (in[i] != '=' || in[i + 1] != '?' ||
		    !word_parse(in + i, n - i, &w)) {
			i++;
			continue;
		}
		if (!after_word || !all_blank(in + text, i - text))
			text_put(&d, in + text, i - text);
		word_put(&d, &w);
		i += w.len;
		text = i;
		after_word = true;
	}
	if (d.ret > 0)
		text_put(&d, in + text, n - text);
	pending_flush(&d);
	buf_deinit(&d.pending);
	return d.ret;
}
