/*
 * dkim_tags.c - the tag=value lists of DKIM-Signature fields and key
 * records (RFC 6376 §3.2): tag-name is ALPHA *(ALPHA / DIGIT / "_"), a
 * value is printable characters other than ";" with folding white space
 * between them, a trailing ";" is allowed, a tag given twice is an error.
 */
#include "dkim/dkim.h"

#include <string.h>

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_valchar(char c)
{
	return (unsigned char)c >= 0x21 && (unsigned char)c <= 0x7e && c != ';';
}

static size_t skip_fws(const char *s, size_t len, size_t i)
{
	while (i < len && is_fws(s[i]))
		i++;
	return i;
}

/* One tag-spec at s[*i..]; the caller has checked that something other
   than FWS is there. */
static int parse_spec(const char *s, size_t len, size_t *i, struct dkim_tag *t,
		      const char **error_r)
{
	size_t p = *i, end;

	if (!is_alpha(s[p])) {
		*error_r = "tag name does not start with a letter";
		return -1;
	}
	t->name = s + p;
	while (p < len && (is_alpha(s[p]) || (s[p] >= '0' && s[p] <= '9') || s[p] == '_'))
		p++;
	t->name_len = (size_t)(s + p - t->name);
	p = skip_fws(s, len, p);
	if (p >= len || s[p] != '=') {
		*error_r = "tag without '='";
		return -1;
	}
	p = skip_fws(s, len, p + 1);
	t->value = s + p;
	end = p;
	while (p < len && s[p] != ';') {
		if (is_valchar(s[p]))
			end = ++p;
		else if (is_fws(s[p]))
			p++;
		else {
			*error_r = "invalid character in a tag value";
			return -1;
		}
	}
	t->value_len = (size_t)(s + end - t->value);
	*i = p;
	return 1;
}

int dkim_tags_parse(const char *s, size_t len, struct dkim_tags *r, const char **error_r)
{
	size_t i = 0;

	r->n = 0;
	for (;;) {
		struct dkim_tag t;

		i = skip_fws(s, len, i);
		if (i >= len)
			break;
		if (r->n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		if (parse_spec(s, len, &i, &t, error_r) < 0)
			return -1;
		for (unsigned k = 0; k < r->n; k++) {
			if (r->tag[k].name_len == t.name_len &&
			    memcmp(r->tag[k].name, t.name, t.name_len) == 0) {
				*error_r = "tag given twice";
				return -1;
			}
		}
		r->tag[r->n++] = t;
		if (i >= len)
			break;
		i++;		/* the ';' */
	}
	return 1;
}

const char *dkim_tags_get(const struct dkim_tags *t, const char *name, size_t *len_r)
{
	size_t n = strlen(name);

	for (unsigned k = 0; k < t->n; k++) {
		if (t->tag[k].name_len == n && memcmp(t->tag[k].name, name, n) == 0) {
			*len_r = t->tag[k].value_len;
			return t->tag[k].value;
		}
	}
	*len_r = 0;
	return NULL;
}
