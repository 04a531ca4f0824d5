/*
 * dovecot_files.c - the two small files Dovecot keeps in a Maildir folder,
 * read for `correio user import` (pure: no I/O; see cli.h).
 *
 * dovecot-uidlist, version 3 (Dovecot 1.0 and later):
 *     3 V<uidvalidity> N<next uid> G<guid> [more fields]
 *     <uid> [<field>...] :<file name up to ':'>
 * and the older versions 1 and 2:
 *     1 <uidvalidity> <next uid>
 *     <uid> <file name>
 * dovecot-keywords: "<n> <keyword>" lines, n = 0 for the Maildir letter 'a'.
 * Lines that do not parse are skipped; a header that does not parse gives
 * no UIDVALIDITY (the caller then keeps no UIDs).
 */
#include "cli/cli.h"

#include <stdint.h>
#include <string.h>

/* A decimal number of at most 10 digits at p[0..n) fitting 32 bits, not
   0.  Its length, or 0. */
static size_t number(const char *p, size_t n, uint32_t *r)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && i < 11 && p[i] >= '0' && p[i] <= '9')
		v = v * 10 + (uint64_t)(p[i++] - '0');
	if (i == 0 || i > 10 || v == 0 || v > UINT32_MAX)
		return 0;
	*r = (uint32_t)v;
	return i;
}

static int uidlist_header(const char *p, size_t n, uint32_t *v_r, uint32_t *next_r)
{
	uint32_t v = 0, next = 0;
	size_t k;

	if (n >= 2 && p[0] == '3' && p[1] == ' ') {
		for (size_t i = 2; i < n; i++) {
			if (p[i - 1] != ' ' || i + 1 >= n)
				continue;
			if (p[i] == 'V' && number(p + i + 1, n - i - 1, &v) == 0)
				return 0;
			if (p[i] == 'N' && number(p + i + 1, n - i - 1, &next) == 0)
				return 0;
		}
	} else if (n >= 2 && (p[0] == '1' || p[0] == '2') && p[1] == ' ') {
		if ((k = number(p + 2, n - 2, &v)) == 0 || 2 + k >= n || p[2 + k] != ' ' ||
		    number(p + 3 + k, n - 3 - k, &next) == 0)
			return 0;
	} else
		return 0;
	if (v == 0)
		return 0;
	*v_r = v;
	*next_r = next;
	return 1;
}

int dovecot_uidlist_parse(const char *text, size_t len, uint32_t *uidvalidity_r,
			  uint32_t *uidnext_r, dovecot_uidlist_fn *cb, void *ctx)
{
	const char *p = text, *end = text + len;
	bool v3 = len > 0 && text[0] == '3';
	int ret = 0;

	*uidvalidity_r = *uidnext_r = 0;
	for (bool first = true; p < end; first = false) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *name = NULL;
		uint32_t uid;
		size_t k;

		if (first) {
			ret = uidlist_header(p, n, uidvalidity_r, uidnext_r);
			if (ret == 0)
				return 0;
		} else if ((k = number(p, n, &uid)) > 0 && k < n && p[k] == ' ') {
			if (v3) {
				const char *colon = memchr(p + k, ':', n - k);
				/* fields before the name are " <letter><value>" */
				if (colon != NULL && colon[-1] == ' ')
					name = colon + 1;
			} else
				name = p + k + 1;
			if (name != NULL && name < p + n && memchr(name, '/', (size_t)(p + n - name)) == NULL)
				cb(ctx, uid, name, (size_t)(p + n - name));
		}
		p += n + (nl != NULL);
	}
	return ret;
}

void dovecot_keywords_parse(const char *text, size_t len, dovecot_keyword_fn *cb, void *ctx)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		unsigned idx = 0;
		size_t i = 0;

		while (i < n && i < 3 && p[i] >= '0' && p[i] <= '9')
			idx = idx * 10 + (unsigned)(p[i++] - '0');
		if (i > 0 && i < 3 && idx < 26 && i + 1 < n && p[i] == ' ' &&
		    memchr(p + i + 1, '\0', n - i - 1) == NULL)
			cb(ctx, idx, p + i + 1, n - i - 1);
		p += n + (nl != NULL);
	}
}
