/*
 * mime_charset.c - charset conversion to UTF-8 for decoded bodies, RFC 2047
 * words and RFC 2231 parameters, with glibc's iconv.
 *
 * Everything that comes out is valid UTF-8: bytes that do not convert
 * become U+FFFD.  Charset names come from mail, so only plain names
 * (letters, digits, "-_.:+", at most CHARSET_NAME_MAX) reach iconv_open();
 * a few labels are read the way mail readers do (ISO-8859-1 as
 * Windows-1252, US-ASCII as UTF-8, GB2312 as GB18030).  An unknown charset
 * is taken as UTF-8.
 */
#include "lib/util.h"
#include "mime_int.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

#define CHARSET_NAME_MAX 40
#define REPLACEMENT "\xef\xbf\xbd"	/* U+FFFD */

static const struct {
	const char *label;
	const char *iconv;	/* NULL: UTF-8 */
} charset_aliases[] = {
	{ "utf-8", NULL }, { "utf8", NULL }, { "us-ascii", NULL },
	{ "ascii", NULL }, { "ansi_x3.4-1968", NULL }, { "x-unknown", NULL },
	{ "unknown-8bit", NULL }, { "x-user-defined", NULL },
	{ "iso-8859-1", "WINDOWS-1252" }, { "iso8859-1", "WINDOWS-1252" },
	{ "iso_8859-1", "WINDOWS-1252" }, { "latin1", "WINDOWS-1252" },
	{ "gb2312", "GB18030" }, { "gbk", "GB18030" }, { "x-gbk", "GB18030" },
	{ "ks_c_5601-1987", "CP949" }, { "euc-kr", "CP949" },
	{ "shift_jis", "CP932" }, { "x-sjis", "CP932" },
	{ "iso-2022-jp", "ISO-2022-JP-2" }, { "big5", "CP950" },
	{ "unicode-1-1-utf-7", "UTF-7" },
};

int mime_utf8_sanitize(const char *in, size_t n, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, run = 0, len;

	while (i < n) {
		len = utf8_sequence(p + i, n - i);
		if (len > 0) {
			i += len;
			continue;
		}
		if (mime_buf_put(out, in + run, i - run) < 0 ||
		    mime_buf_put(out, REPLACEMENT, 3) < 0)
			return -1;
		run = ++i;
	}
	return mime_buf_put(out, in + run, n - run);
}

/* The iconv name for a charset label: NULL for UTF-8, "" if unusable. */
static const char *charset_name(const char *label, char *name, size_t size)
{
	size_t n = strlen(label), i;
	const char *p = mime_trim(label, &n);

	if (n == 0 || n >= size)
		return "";
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   strchr("-_.:+", c) != NULL))
			return "";
		name[i] = c;
	}
	name[n] = '\0';
	for (i = 0; i < sizeof(charset_aliases) / sizeof(charset_aliases[0]);
	     i++) {
		if (strcmp(name, charset_aliases[i].label) == 0)
			return charset_aliases[i].iconv;
	}
	return name;
}

/* Convert with cd; what does not convert becomes U+FFFD. */
static int iconv_write(iconv_t cd, const char *in, size_t n, struct buf *out)
{
	char tmp[4096], *ip = (char *)in, *op;
	size_t il = n, ol, r;
	int ret = 1, err;

	for (;;) {
		op = tmp;
		ol = sizeof(tmp);
		r = iconv(cd, il > 0 ? &ip : NULL, &il, &op, &ol);
		err = errno;
		if (op > tmp && mime_buf_put(out, tmp, (size_t)(op - tmp)) < 0)
			return -1;
		if (r != (size_t)-1 && il == 0)
			break;
		if (r != (size_t)-1 || err == E2BIG)
			continue;
		if (mime_buf_put(out, REPLACEMENT, 3) < 0)
			return -1;
		if (err != EILSEQ || il == 0)
			il = 0;	/* EINVAL: incomplete at the end */
		else {
			ip++;
			il--;
		}
	}
	/* back to the initial shift state (ISO-2022-JP) */
	op = tmp;
	ol = sizeof(tmp);
	if (iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1 && op > tmp)
		ret = mime_buf_put(out, tmp, (size_t)(op - tmp));
	return ret;
}

int mime_charset_to_utf8(const char *charset, const char *in, size_t n,
			 struct buf *out)
{
	char label[CHARSET_NAME_MAX + 1];
	const char *name;
	iconv_t cd;
	int ret;

	if (charset == NULL)
		return mime_utf8_sanitize(in, n, out) < 0 ? -1 : 0;
	name = charset_name(charset, label, sizeof(label));
	if (name == NULL)
		return mime_utf8_sanitize(in, n, out);
	cd = *name != '\0' ? iconv_open("UTF-8", name) : (iconv_t)-1;
	if (cd == (iconv_t)-1)
		return mime_utf8_sanitize(in, n, out) < 0 ? -1 : 0;
	ret = iconv_write(cd, in, n, out);
	iconv_close(cd);
	return ret;
}
