/*
 * imap_url.c - the IMAP URLs of CATENATE (RFC 4469, RFC 5092); see
 * imap_url.h for the grammar.  Called by src/imapd/cmd_catenate.c.  Pure;
 * limits: IMAP_URL_MAILBOX_MAX and IMAP_URL_SECTION_MAX decoded bytes.
 */
#include "lib-imap/imap_url.h"

#include <string.h>
#include <strings.h>

#include "lib/encoding.h"

/* %-decode s[0..n) into out (max bytes); NUL bytes are refused. */
static int decode(const char *s, size_t n, char *out, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = hex_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_value((unsigned char)s[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o == max)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 1;
}

/* A decimal number of s[0..n): 1..UINT32_MAX (zero when zero_ok). */
static int number(const char *s, size_t n, bool zero_ok, uint32_t *v_r)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX || (v == 0 && !zero_ok))
		return -1;
	*v_r = (uint32_t)v;
	return 1;
}

/* "key=value" at s[0..n) when key matches: value into *v, *vn. */
static bool param(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
	size_t k = strlen(key);

	if (n < k + 1 || strncasecmp(s, key, k) != 0 || s[k] != '=')
		return false;
	*v = s + k + 1;
	*vn = n - k - 1;
	return true;
}

static int partial(const char *v, size_t n, struct imap_url *u)
{
	const char *dot = memchr(v, '.', n);

	u->partial = true;
	if (dot == NULL)
		return number(v, n, true, &u->partial_offset);
	if (number(v, (size_t)(dot - v), true, &u->partial_offset) < 0)
		return -1;
	return number(dot + 1, n - (size_t)(dot + 1 - v), false, &u->partial_length);
}

/* The "/;UID=..." part after the mailbox: '/'-separated parameters. */
static int message_params(const char *s, struct imap_url *u, const char **error_r)
{
	bool have_uid = false;

	while (*s == '/' && s[1] == ';') {
		const char *p = s + 2, *v;
		size_t n = strcspn(p, "/"), vn;
		int ret;
		if (!have_uid && param(p, n, "UID", &v, &vn)) {
			ret = number(v, vn, false, &u->uid);
			have_uid = true;
		} else if (have_uid && u->section[0] == '\0' && !u->partial &&
			 param(p, n, "SECTION", &v, &vn)) {
			ret = decode(v, vn, u->section, IMAP_URL_SECTION_MAX);
			for (char *c = u->section; ret > 0 && *c != '\0'; c++)
				if (*c >= 'a' && *c <= 'z')
					*c = (char)(*c - 32);
		} else if (have_uid && !u->partial && param(p, n, "PARTIAL", &v, &vn))
			ret = partial(v, vn, u);
		else
			ret = -1;
		if (ret < 0) {
			*error_r = "bad URL parameter";
			return -1;
		}
		s = p + n;
	}
	if (*s != '\0' || !have_uid) {
		*error_r = have_uid ? "bad URL" : "the URL names no UID";
		return -1;
	}
	return 1;
}

int imap_url_parse(const char *s, struct imap_url *u, const char **error_r)
{
	const char *semi, *end, *v;
	size_t n, vn;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "imap://", 7) == 0) {	/* the server is us */
		s += 7;
		if ((s = strchr(s, '/')) == NULL) {
			*error_r = "the URL names no mailbox";
			return -1;
		}
	}
	if (*s != '/') {
		*error_r = "the URL must start with / or imap://";
		return -1;
	}
	s++;
	/* enc-mailbox [";UIDVALIDITY=" n] "/;" ('/' may be in the name) */
	if ((end = strstr(s, "/;")) == NULL) {
		*error_r = "the URL names no message";
		return -1;
	}
	semi = memchr(s, ';', (size_t)(end - s));
	n = (size_t)((semi != NULL ? semi : end) - s);
	if (n == 0 || decode(s, n, u->mailbox, IMAP_URL_MAILBOX_MAX) < 0) {
		*error_r = "bad mailbox in the URL";
		return -1;
	}
	if (semi != NULL && (!param(semi + 1, (size_t)(end - semi - 1), "UIDVALIDITY", &v, &vn) ||
			     number(v, vn, false, &u->uidvalidity) < 0)) {
		*error_r = "bad UIDVALIDITY in the URL";
		return -1;
	}
	return message_params(end, u, error_r);
}
