/*
 * aliases_file.c - the aliases(5) file of sendmail and Postfix
 * (/etc/aliases) as newaliases reads it.  Pure: text in, one callback per
 * entry out.
 *
 *   file     = *(entry / comment / empty-line)
 *   entry    = name ":" value *("," value) LF *(continuation)
 *   continuation = (SP / HTAB) more values LF   ; the entry goes on
 *   comment  = "#" *CHAR LF
 *   value    = address / "|" command / "/" file / ":include:" file,
 *              any of them in double quotes to hold commas or spaces
 *
 * Limits: ALIASES_ENTRY_MAX bytes per entry, ALIASES_VALUES_MAX values;
 * an entry past them, or without a ':', is handed out with an error.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trim blanks and line ends at both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (is_blank(**s) || **s == '\n'))
		(*s)++;
	while (*e > *s && (is_blank((*e)[-1]) || (*e)[-1] == '\n'))
		(*e)--;
}

/* A name is one word: no blank, line end, quote or control character. */
static bool good_name(const char *s, const char *e)
{
	if (s == e || (size_t)(e - s) >= ALIASES_NAME_MAX)
		return false;
	for (; s < e; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == 0x7f)
			return false;
	return true;
}

/* Split the values part (after the ':') at commas outside quotes, into
   entry's values (copies in store, NUL-separated).  1, or -1 too many. */
static int split_values(const char *p, const char *end, struct buf *store,
			size_t *offsets, unsigned *n)
{
	while (p < end) {
		const char *s = p, *e;
		bool quoted = false;
		size_t start = store->len;
		while (p < end && (quoted || *p != ',')) {
			if (*p == '"')
				quoted = !quoted;
			p++;
		}
		e = p;
		if (p < end)
			p++;		/* the comma */
		trim(&s, &e);
		if (s == e)
			continue;
		if (*n == ALIASES_VALUES_MAX)
			return -1;
		for (const char *q = s; q < e; q++)
			if (*q != '"' && *q != '\n')
				buf_putc(store, *q == '\t' ? ' ' : *q);
		if (store->len == start)
			continue;	/* only quotes: "" */
		buf_putc(store, '\0');
		offsets[(*n)++] = start;
	}
	return 1;
}

/* One logical entry [p, end) (continuation lines joined by LF). */
static void parse_entry(const char *p, const char *end, unsigned line,
			aliases_entry_fn *cb, void *ctx)
{
	struct aliases_entry en = { .line = line };
	size_t offsets[ALIASES_VALUES_MAX];
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *ns = p, *ne = colon;
	const char *values[ALIASES_VALUES_MAX];
	char name[ALIASES_NAME_MAX];
	struct buf store;

	buf_init(&store, ALIASES_ENTRY_MAX * 2);
	if (colon == NULL) {
		en.error = "no ':' after the name";
	} else {
		trim(&ns, &ne);
		if (ns < ne && *ns == '"' && ne - ns >= 2 && ne[-1] == '"') {
			ns++;
			ne--;
		}
		if (!good_name(ns, ne))
			en.error = "a bad name before the ':'";
		else if (split_values(colon + 1, end, &store, offsets, &en.n_values) < 0)
			en.error = "too many values";
		else if (en.n_values == 0)
			en.error = "no value after the ':'";
	}
	if (en.error == NULL) {
		memcpy(name, ns, (size_t)(ne - ns));
		name[ne - ns] = '\0';
		en.name = name;
		for (unsigned i = 0; i < en.n_values; i++)
			values[i] = store.data + offsets[i];
		en.values = values;
	}
	cb(ctx, &en);
	buf_deinit(&store);
}

void aliases_parse(const char *text, size_t len, aliases_entry_fn *cb, void *ctx)
{
	const char *p = text, *end = text + len;
	unsigned line = 1;

	while (p < end) {
		const char *start = p, *nl;
		unsigned first = line;
		/* the first line, then every continuation line */
		do {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
			line++;
		} while (p < end && is_blank(*p) && *start != '#');
		const char *e = p;
		while (e > start && (e[-1] == '\n' || is_blank(e[-1])))
			e--;
		const char *s = start;
		while (s < e && is_blank(*s))
			s++;
		if (s == e || *s == '#')
			continue;
		if (e - start > ALIASES_ENTRY_MAX || memchr(start, '\0', (size_t)(e - start))) {
			struct aliases_entry en = { .line = first, .error =
				e - start > ALIASES_ENTRY_MAX ? "the entry is too long" :
								"a NUL byte in the entry" };
			cb(ctx, &en);
			continue;
		}
		parse_entry(start, e, first, cb, ctx);
	}
}

enum aliases_kind aliases_value_kind(const char *value)
{
	if (value[0] == '|')
		return ALIASES_PIPE;
	if (value[0] == '/')
		return ALIASES_FILE;
	if (strncasecmp(value, ":include:", 9) == 0)
		return ALIASES_INCLUDE;
	return ALIASES_ADDRESS;
}
