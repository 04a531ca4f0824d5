/*
 * sieve_body.c - what the "body" test (RFC 5173) looks at, through the
 * MIME parser of src/mime:
 *
 *   :raw               the body as it is (the first SIEVE_MAX_MATCH_INPUT
 *                      bytes);
 *   :text              every text leaf, transfer encoding undone and
 *                      converted to UTF-8; text/html also turned into
 *                      plain text (a tag becomes a space or a line break
 *                      where none is, scripts, styles and comments are
 *                      left out, character references decoded), as
 *                      Pigeonhole does;
 *   :content "types"   every part of those types ("" all, "text" any
 *                      subtype, "text/plain" that one): a text part as
 *                      UTF-8 (HTML kept), another leaf transfer-decoded,
 *                      a multipart its prologue and epilogue, a message
 *                      part the header of the message it holds.
 *
 * Each part is one value (the test matches when any does).  Work is
 * bounded: the MIME structure is read from the first SV_BODY_MAX_PARSE
 * bytes of the message only, each part gives at most
 * SIEVE_MAX_MATCH_INPUT bytes of text from at most SV_BODY_PART_INPUT
 * bytes of its encoded body, and all parts of a message together are
 * decoded from at most SV_BODY_TOTAL_INPUT bytes; a part past that is an
 * empty value.  The tree and the decoded parts are kept for the run, so
 * that several body tests decode once.
 */
#include "sieve/sieve_private.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mime/mime.h"

#define SV_BODY_MAX_PARSE	(8 * 1024 * 1024)
#define SV_BODY_PART_INPUT	(4 * SIEVE_MAX_MATCH_INPUT)
#define SV_BODY_TOTAL_INPUT	(2 * 1024 * 1024)

struct sv_body_part {
	const struct mime_part *part;
	char *decoded;		/* :content form, NULL until asked */
	char *text;		/* :text form of a text/html part, NULL until asked */
};

struct sv_body {
	struct mime_message *msg;
	struct sv_body_part *parts;
	unsigned n;
	size_t budget;		/* encoded bytes that may still be decoded */
};

static char *dup_buf(const struct buf *b)
{
	return xstrndup(buf_cstr(b), b->len);
}

struct sv_body *sv_body_new(const char *data, size_t len)
{
	struct sv_body *b = xcalloc(1, sizeof(*b));
	const struct mime_part *p;
	unsigned i = 0;

	b->msg = mime_message_parse(data, len > SV_BODY_MAX_PARSE ? SV_BODY_MAX_PARSE : len,
				    NULL);
	b->n = mime_message_part_count(b->msg);
	b->parts = xcalloc(b->n + 1, sizeof(*b->parts));
	for (p = mime_message_root(b->msg); p != NULL && i < b->n; p = mime_part_next(p))
		b->parts[i++].part = p;
	b->n = i;
	b->budget = SV_BODY_TOTAL_INPUT;
	return b;
}

void sv_body_free(struct sv_body **bp)
{
	struct sv_body *b = *bp;

	if (b == NULL)
		return;
	for (unsigned i = 0; i < b->n; i++) {
		free(b->parts[i].decoded);
		free(b->parts[i].text);
	}
	free(b->parts);
	mime_message_free(&b->msg);
	free(b);
	*bp = NULL;
}

static bool is_container(const struct mime_part *p)
{
	return (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0;
}

/* The encoded bytes of data[0..n) that this part may decode. */
static size_t take_budget(struct sv_body *b, size_t n)
{
	if (n > SV_BODY_PART_INPUT)
		n = SV_BODY_PART_INPUT;
	if (n > b->budget)
		n = b->budget;
	b->budget -= n;
	return n;
}

/* The prologue and epilogue of a multipart: what lies before its first
   delimiter line and after its close delimiter line. */
static void multipart_text(struct sv_body *b, const struct mime_part *p, struct buf *out)
{
	const char *data = mime_message_data(b->msg);
	const struct mime_part *first = p->children, *last = p->children;
	size_t pro_end = p->end, epi = p->end, n;

	if (first != NULL) {
		/* back over the delimiter line before the first part's header */
		pro_end = first->header_start;
		if (pro_end > p->body_start && data[pro_end - 1] == '\n')
			pro_end--;
		while (pro_end > p->body_start && data[pro_end - 1] != '\n')
			pro_end--;
		while (last->next != NULL)
			last = last->next;
		/* past the close delimiter line ("--boundary--") */
		epi = last->end;
		while (epi < p->end) {
			const char *nl = memchr(data + epi, '\n', p->end - epi);
			size_t line = epi;
			epi = nl == NULL ? p->end : (size_t)(nl - data) + 1;
			if (p->end - line >= 2 && data[line] == '-' && data[line + 1] == '-')
				break;
		}
	}
	n = take_budget(b, pro_end - p->body_start);
	mime_utf8_sanitize(data + p->body_start, n, out);
	if (epi < p->end) {
		buf_putc(out, '\n');
		n = take_budget(b, p->end - epi);
		mime_utf8_sanitize(data + epi, n, out);
	}
}

/* The :content form of part i. */
static const char *part_decoded(struct sv_body *b, unsigned i)
{
	struct sv_body_part *bp = &b->parts[i];
	const struct mime_part *p = bp->part;
	const char *data = mime_message_data(b->msg);
	struct buf raw, out;

	if (bp->decoded != NULL)
		return bp->decoded;
	buf_init(&raw, 0);
	buf_init(&out, SIEVE_MAX_MATCH_INPUT);
	if (p->flags & MIME_PART_MULTIPART) {
		multipart_text(b, p, &out);
	} else if (p->flags & MIME_PART_MESSAGE) {
		/* the header of the message it holds */
		const struct mime_part *m = p->children;
		if (m != NULL) {
			size_t n = take_budget(b, m->body_start - m->header_start);
			mime_utf8_sanitize(data + m->header_start, n, &out);
		}
	} else {
		size_t n = take_budget(b, p->end - p->body_start);
		mime_cte_decode(p->cte, data + p->body_start, n, false, &raw);
		if (strcasecmp(p->type, "TEXT") == 0) {
			const struct mime_param *cs = mime_param_find(p, "charset");
			mime_charset_to_utf8(cs != NULL ? cs->value : "us-ascii", buf_cstr(&raw),
					     raw.len, &out);
		} else {
			buf_append(&out, raw.data, raw.len > SIEVE_MAX_MATCH_INPUT ?
				   SIEVE_MAX_MATCH_INPUT : raw.len);
		}
	}
	/* a match value is a C string: NUL bytes of binary parts end it */
	bp->decoded = dup_buf(&out);
	buf_deinit(&raw);
	buf_deinit(&out);
	return bp->decoded;
}

/* ---- HTML as plain text ---- */

static void put_utf8(struct buf *out, unsigned long c)
{
	if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		c = 0xfffd;
	if (c < 0x80) {
		buf_putc(out, (char)c);
	} else if (c < 0x800) {
		buf_putc(out, (char)(0xc0 | (c >> 6)));
		buf_putc(out, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_putc(out, (char)(0xe0 | (c >> 12)));
		buf_putc(out, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (c & 0x3f)));
	} else {
		buf_putc(out, (char)(0xf0 | (c >> 18)));
		buf_putc(out, (char)(0x80 | ((c >> 12) & 0x3f)));
		buf_putc(out, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (c & 0x3f)));
	}
}

/* A character reference at s ("&amp;", "&#233;", "&#xE9;"): appended,
   and its length returned; 0 when it is none (the '&' stays). */
static size_t html_entity(const char *s, struct buf *out)
{
	static const struct {
		const char *name;
		unsigned long c;
	} named[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
		{ "apos", '\'' }, { "nbsp", ' ' }, { "copy", 0xa9 }, { "reg", 0xae },
		{ "euro", 0x20ac }, { "hellip", 0x2026 }, { "mdash", 0x2014 },
		{ "ndash", 0x2013 },
	};
	const char *semi = NULL;
	size_t len;

	for (size_t k = 1; k < 12 && s[k] != '\0'; k++)
		if (s[k] == ';') {
			semi = s + k;
			break;
		}
	if (semi == NULL)
		return 0;
	len = (size_t)(semi - s) + 1;
	if (s[1] == '#') {
		char *end;
		unsigned long c = (s[2] == 'x' || s[2] == 'X') ? strtoul(s + 3, &end, 16)
							       : strtoul(s + 2, &end, 10);
		if (end != semi || end == s + 2 || end == s + 3)
			return 0;
		put_utf8(out, c);
		return len;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == len - 2 &&
		    strncasecmp(s + 1, named[i].name, len - 2) == 0) {
			put_utf8(out, named[i].c);
			return len;
		}
	return 0;
}

/* Does the tag at s ("<name" or "</name") have that name? */
static bool tag_is(const char *s, const char *name)
{
	size_t l = strlen(name);

	s += s[1] == '/' ? 2 : 1;
	return strncasecmp(s, name, l) == 0 && !isalnum((unsigned char)s[l]);
}

void sv_html_to_text(const char *s, struct buf *out)
{
	static const char *const blocks[] = { "br", "p", "div", "tr", "li", "h1", "h2", "h3",
					      "h4", "h5", "h6", "table", "blockquote", "pre" };

	while (*s != '\0') {
		if (*s == '<') {
			const char *end;
			if (strncmp(s, "<!--", 4) == 0) {
				end = strstr(s + 4, "-->");
				s = end != NULL ? end + 3 : s + strlen(s);
				continue;
			}
			if (tag_is(s, "script") || tag_is(s, "style")) {
				const char *close = s[1] == '/' ? NULL
					: strcasestr(s + 1, tag_is(s, "script") ? "</script" : "</style");
				s = close != NULL ? close : s + 1;
				end = strchr(s, '>');
				s = end != NULL ? end + 1 : s + strlen(s);
				continue;
			}
			/* a tag separates words, as in Pigeonhole: a line break for
			   a block, else a space, unless one is there already */
			char sep = ' ';
			for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
				if (tag_is(s, blocks[i]))
					sep = '\n';
			if (out->len > 0 && !isspace((unsigned char)out->data[out->len - 1]))
				buf_putc(out, sep);
			end = strchr(s, '>');
			s = end != NULL ? end + 1 : s + strlen(s);
			continue;
		}
		if (*s == '&') {
			size_t n = html_entity(s, out);
			if (n > 0) {
				s += n;
				continue;
			}
		}
		buf_putc(out, *s++);
	}
}

/* The :text form of part i (a text leaf). */
static const char *part_text(struct sv_body *b, unsigned i)
{
	struct sv_body_part *bp = &b->parts[i];
	const char *decoded = part_decoded(b, i);
	struct buf out;

	if (strcasecmp(bp->part->subtype, "HTML") != 0)
		return decoded;
	if (bp->text == NULL) {
		buf_init(&out, SIEVE_MAX_MATCH_INPUT);
		sv_html_to_text(decoded, &out);
		bp->text = dup_buf(&out);
		buf_deinit(&out);
	}
	return bp->text;
}

/* Does part p have one of the types? */
static bool type_wanted(const struct mime_part *p, char *const *types, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		const char *t = types[k], *slash = strchr(t, '/');
		size_t tl = slash != NULL ? (size_t)(slash - t) : strlen(t);
		if (t[0] == '\0')
			return true;
		if (strlen(p->type) != tl || strncasecmp(p->type, t, tl) != 0)
			continue;
		if (slash == NULL || strcasecmp(p->subtype, slash + 1) == 0)
			return true;
	}
	return false;
}

unsigned sv_body_values(struct sv_body *b, bool text, char *const *types, unsigned n_types,
			const char **out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < b->n && n < max; i++) {
		const struct mime_part *p = b->parts[i].part;
		if (text) {
			if (!is_container(p) && strcasecmp(p->type, "TEXT") == 0)
				out[n++] = part_text(b, i);
		} else if (type_wanted(p, types, n_types)) {
			out[n++] = part_decoded(b, i);
		}
	}
	return n;
}
