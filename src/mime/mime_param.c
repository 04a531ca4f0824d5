/*
 * mime_param.c - Content-Type and Content-Disposition values: the media
 * type, the disposition type and their parameters, with RFC 2231
 * continuations joined; and the lookup and UTF-8 decoding of a parameter.
 *
 * Called by the message parser for every part; strings go into the
 * message's arena.  At most PARAM_MAX parameters per field and PARAM_MAX
 * RFC 2231 sections per parameter are kept; the rest is ignored.
 *
 * RFC 2045 §5.1 and RFC 2231 §3-4:
 *   content   := "Content-Type" ":" type "/" subtype *(";" parameter)
 *   parameter := attribute "=" value
 *   value     := token / quoted-string
 *   attribute := token [ "*" section ] [ "*" ]    ; name*0*=utf-8'en'%E2...
 * Leniently, an unquoted value runs to the next ";" or "(" (boundaries
 * like ----=_Part_1 are often sent unquoted) and junk between parameters is
 * skipped.
 */
#include "mime_int.h"
#include "lib/encoding.h"

#include <string.h>

#define PARAM_MAX 64

struct raw_param {
	char *name;		/* upper-case, as written */
	char *value;
};

struct param_list {
	struct raw_param raw[PARAM_MAX];
	unsigned int n;
};

/* An unquoted value: up to ";" or "(", blanks trimmed. */
static void value_unquoted(struct mime_lex *l, struct buf *out)
{
	size_t start = l->pos, n;
	const char *p;

	while (l->pos < l->len && l->s[l->pos] != ';' && l->s[l->pos] != '(')
		l->pos++;
	n = l->pos - start;
	p = mime_trim(l->s + start, &n);
	buf_append(out, p, n);
}

/* After ";": one attribute=value; false when none was found. */
static bool param_read(struct arena *a, struct mime_lex *l,
		       struct buf *tmp, struct raw_param *r)
{
	buf_reset(tmp);
	mime_lex_cfws(l, NULL);
	if (mime_lex_atom(l, MIME_LEX_TSPECIALS, tmp) <= 0)
		return false;
	r->name = mime_arena_upper(a, tmp->data, tmp->len);
	mime_lex_cfws(l, NULL);
	if (mime_lex_peek(l) != '=')
		return false;
	l->pos++;
	mime_lex_cfws(l, NULL);
	buf_reset(tmp);
	if (mime_lex_peek(l) == '"')
		mime_lex_quoted(l, tmp, NULL);
	else
		value_unquoted(l, tmp);
	r->value = arena_strndup(a, buf_cstr(tmp), tmp->len);
	return true;
}

static void params_read(struct arena *a, struct mime_lex *l,
			struct buf *tmp, struct param_list *list)
{
	struct raw_param r;

	list->n = 0;
	for (;;) {
		mime_lex_cfws(l, NULL);
		while (!mime_lex_eof(l) && mime_lex_peek(l) != ';')
			l->pos++;	/* junk */
		if (mime_lex_eof(l))
			return;
		l->pos++;
		if (param_read(a, l, tmp, &r) && list->n < PARAM_MAX)
			list->raw[list->n++] = r;
	}
}

/* ---- RFC 2231 ---------------------------------------------------------- */

/* Split "NAME*3*": *base_len_r 4, section 3, extended.  Returns false for a
   plain name. */
static bool name_2231(const char *name, size_t *base_len_r, int *section_r,
		      bool *ext_r)
{
	const char *star = strchr(name, '*'), *p;
	int section = 0;

	if (star == NULL || star == name)
		return false;
	*base_len_r = (size_t)(star - name);
	p = star + 1;
	*ext_r = false;
	if (*p == '\0') {
		*ext_r = true;
		*section_r = -1;	/* name*: whole, encoded */
		return true;
	}
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return false;
	for (; *p >= '0' && *p <= '9' && section < PARAM_MAX; p++)
		section = section * 10 + (*p - '0');
	if (*p == '*' && p[1] == '\0')
		*ext_r = true;
	else if (*p != '\0')
		return false;
	*section_r = section;
	return true;
}

/* The raw parameter with this base name and section, or -1. */
static int find_section(const struct param_list *list, const char *base,
			size_t base_len, int section, bool *ext_r)
{
	size_t blen;
	int sec;
	unsigned int i;

	for (i = 0; i < list->n; i++) {
		if (name_2231(list->raw[i].name, &blen, &sec, ext_r) &&
		    blen == base_len && sec == section &&
		    memcmp(list->raw[i].name, base, base_len) == 0)
			return (int)i;
	}
	return -1;
}

static bool attribute_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

static void percent_encode(const char *s, struct buf *out)
{
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (attribute_char(c))
			buf_putc(out, (char)c);
		else
			hex_escape(c, '%', out);
	}
}

/*
 * Join the sections of the parameter named base into out.  Returns true
 * when the result is in RFC 2231 encoded form.
 */
static bool join_sections(const struct param_list *list, const char *base,
			  size_t base_len, struct buf *out)
{
	bool ext, any_ext = false;
	int i, sec, idx;

	idx = find_section(list, base, base_len, -1, &ext);
	if (idx >= 0) {
		buf_puts(out, list->raw[idx].value);
		return true;
	}
	for (sec = 0; sec < PARAM_MAX; sec++) {
		if (find_section(list, base, base_len, sec, &ext) < 0)
			break;
		any_ext |= ext;
	}
	for (i = 0; i < sec; i++) {
		idx = find_section(list, base, base_len, i, &ext);
		if (i == 0 && any_ext && !ext)
			buf_puts(out, "''");
		if (ext || !any_ext)
			buf_puts(out, list->raw[idx].value);
		else
			percent_encode(list->raw[idx].value, out);
	}
	return any_ext;
}

/* Is there an earlier raw parameter of the same RFC 2231 base name? */
static bool base_seen(const struct param_list *list, unsigned int upto,
		      const char *base, size_t base_len)
{
	size_t blen;
	int sec;
	bool ext;
	unsigned int i;

	for (i = 0; i < upto; i++) {
		if (name_2231(list->raw[i].name, &blen, &sec, &ext) &&
		    blen == base_len &&
		    memcmp(list->raw[i].name, base, base_len) == 0)
			return true;
	}
	return false;
}

/* Turn the raw list into the final one, continuations joined. */
static struct mime_param *params_join(struct arena *a,
				      const struct param_list *list,
				      struct buf *tmp, unsigned int *n_r)
{
	struct mime_param *out;
	const char *name;
	size_t blen;
	unsigned int i, n = 0;
	int sec;
	bool ext;

	out = arena_alloc0(a, sizeof(*out) * (list->n + 1));
	for (i = 0; i < list->n; i++) {
		name = list->raw[i].name;
		if (!name_2231(name, &blen, &sec, &ext)) {
			out[n].name = name;
			out[n++].value = list->raw[i].value;
			continue;
		}
		if (base_seen(list, i, name, blen) ||
		    (sec > 0 && find_section(list, name, blen, 0, &ext) < 0 &&
		     find_section(list, name, blen, -1, &ext) < 0))
			continue;
		buf_reset(tmp);
		out[n].extended = join_sections(list, name, blen, tmp);
		out[n].name = arena_strndup(a, name, blen);
		out[n++].value = arena_strndup(a, buf_cstr(tmp), tmp->len);
	}
	*n_r = n;
	return out;
}

/* ---- the fields ---------------------------------------------------------- */

static const struct mime_param *params_parse(struct arena *a,
					     struct mime_lex *l,
					     struct buf *tmp, unsigned int *n_r)
{
	struct param_list list;

	params_read(a, l, tmp, &list);
	return params_join(a, &list, tmp, n_r);
}

void mime_param_parse_type(struct arena *a, struct mime_part *part,
			   const char *value, size_t len)
{
	struct mime_lex l;
	struct buf tmp;
	size_t slash;

	buf_init(&tmp, 0);
	mime_lex_init(&l, value, len);
	mime_lex_cfws(&l, NULL);
	if (mime_lex_atom(&l, MIME_LEX_TSPECIALS, &tmp) <= 0)
		goto out;
	mime_lex_cfws(&l, NULL);
	if (mime_lex_peek(&l) != '/')
		goto out;
	l.pos++;
	buf_putc(&tmp, '/');
	slash = tmp.len;
	mime_lex_cfws(&l, NULL);
	if (mime_lex_atom(&l, MIME_LEX_TSPECIALS, &tmp) <= 0)
		goto out;
	part->type = mime_arena_upper(a, tmp.data, slash - 1);
	part->subtype = mime_arena_upper(a, tmp.data + slash, tmp.len - slash);
	part->params = params_parse(a, &l, &tmp, &part->nparams);
out:
	buf_deinit(&tmp);
}

void mime_param_parse_disposition(struct arena *a,
				  struct mime_part *part, const char *value,
				  size_t len)
{
	struct mime_lex l;
	struct buf tmp;

	buf_init(&tmp, 0);
	mime_lex_init(&l, value, len);
	mime_lex_cfws(&l, NULL);
	if (mime_lex_atom(&l, MIME_LEX_TSPECIALS, &tmp) > 0) {
		part->disposition = mime_arena_upper(a, tmp.data, tmp.len);
		part->disp_params = params_parse(a, &l, &tmp,
						 &part->ndisp_params);
	}
	buf_deinit(&tmp);
}

/* ---- lookup and decoding ----------------------------------------------- */

static const struct mime_param *find(const struct mime_param *params,
				     unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (mime_ieq(params[i].name, strlen(params[i].name), name))
			return &params[i];
	}
	return NULL;
}

const struct mime_param *mime_param_find(const struct mime_part *part,
					 const char *name)
{
	return find(part->params, part->nparams, name);
}

const struct mime_param *mime_param_find_disp(const struct mime_part *part,
					      const char *name)
{
	return find(part->disp_params, part->ndisp_params, name);
}

static void percent_decode(const char *s, struct buf *out)
{
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%' && (hi = hex_value(s[1])) >= 0 &&
		    (lo = hex_value(s[2])) >= 0) {
			buf_putc(out, (char)(hi * 16 + lo));
			s += 2;
		} else {
			buf_putc(out, *s);
		}
	}
}

int mime_param_decode(const struct mime_param *p, struct buf *out)
{
	const char *q1, *q2, *text = p->value;
	struct buf charset, bytes;
	int ret;

	if (!p->extended)
		return mime_rfc2047_decode(p->value, strlen(p->value), out);
	buf_init(&charset, 0);
	buf_init(&bytes, 0);
	q1 = strchr(text, '\'');
	q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
	if (q2 != NULL) {
		buf_append(&charset, text, (size_t)(q1 - text));
		text = q2 + 1;
	}
	percent_decode(text, &bytes);
	ret = mime_charset_to_utf8(charset.len > 0 ? buf_cstr(&charset) : NULL,
				   buf_cstr(&bytes), bytes.len, out);
	buf_deinit(&charset);
	buf_deinit(&bytes);
	return ret < 0 ? -1 : 1;
}
