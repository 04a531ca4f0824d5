/*
 * imap_section.c - the bracketed section and partial of a FETCH item,
 * such as BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> or BINARY[3]<0.10>.
 *
 * Called by the IMAP reader (imap_parser.c) when an atom that starts with a
 * fetch item name holds "[...]": the reader has already checked that the
 * brackets hold printable ASCII with balanced quotes.  Results are
 * allocated from the command's arena.  Limits: the line limit of the
 * reader bounds the number of parts and fields; numbers are 32-bit.
 */
#include "imap_private.h"

#include <string.h>
#include <strings.h>

/*
 * RFC 9051 §9 (and RFC 3501 §9, RFC 3516 §6):
 *
 *   fetch-att       =/ "BODY" [".PEEK"] section [partial] /
 *                      "BINARY" [".PEEK"] section-binary [partial] /
 *                      "BINARY.SIZE" section-binary
 *   partial         = "<" number "." nz-number ">"
 *   section         = "[" [section-spec] "]"
 *   section-binary  = "[" [section-part] "]"
 *   section-spec    = section-msgtext / (section-part ["." section-text])
 *   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *                     "TEXT"
 *   section-part    = nz-number *("." nz-number)
 *   section-text    = section-msgtext / "MIME"
 *   header-list     = "(" header-fld-name *(SP header-fld-name) ")"
 *   header-fld-name = astring
 *
 * XXX: a header-fld-name sent as a literal is not supported (no client
 * does that); the reader answers BAD.
 */

struct cursor {
	const char *p;
	const char *end;
};

static const char *const fetch_names[] = {
	"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"
};

int imap_section_name_is_known(const char *atom, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(fetch_names) / sizeof(fetch_names[0]); i++) {
		if (strlen(fetch_names[i]) == len &&
		    strncasecmp(atom, fetch_names[i], len) == 0)
			return 1;
	}
	return 0;
}

static bool at_digit(const struct cursor *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* number = 1*DIGIT below 2^32; nz-number: no leading 0, not 0. */
static int cursor_number(struct cursor *c, bool nz, uint32_t *num_r)
{
	uint64_t n = 0;

	if (!at_digit(c) || (nz && *c->p == '0'))
		return -1;
	while (at_digit(c)) {
		n = n * 10 + (uint64_t)(*c->p++ - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*num_r = (uint32_t)n;
	return 1;
}

static bool cursor_skip(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

/* A keyword, ASCII case ignored, followed by the end or by SP. */
static bool cursor_keyword(struct cursor *c, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(c->end - c->p) < len || strncasecmp(c->p, word, len) != 0)
		return false;
	if (c->p + len != c->end && c->p[len] != ' ')
		return false;
	c->p += len;
	return true;
}

static size_t count_char(const char *p, const char *end, char ch)
{
	size_t n = 0;

	for (; p < end; p++)
		n += *p == ch;
	return n;
}

/* section-part: the numbers, and the "." before a section-text. */
static int parse_parts(struct arena *a, struct cursor *c,
		       struct imap_section *sec)
{
	uint32_t *parts = arena_alloc(a, (count_char(c->p, c->end, '.')
					       + 1) * sizeof(*parts));

	sec->parts = parts;
	do {
		if (cursor_number(c, true, &parts[sec->part_count]) < 0)
			return -1;
		sec->part_count++;
	} while (cursor_skip(c, '.') && at_digit(c));
	/* a section-text follows a ".", the end needs no "." */
	if (c->p < c->end && c->p[-1] != '.')
		return -1;
	if (c->p == c->end && c->p[-1] == '.')
		return -1;
	return 1;
}

/* ASTRING-CHAR, but "]" ends the brackets before we get here */
static bool is_field_char(char ch)
{
	unsigned char u = (unsigned char)ch;

	return u > 0x20 && u < 0x7f && strchr("(){%*\"\\", u) == NULL;
}

/* header-fld-name = astring (atom or quoted; the brackets hold no "]") */
static int parse_field(struct arena *a, struct cursor *c,
		       const char **field_r)
{
	const char *start = c->p;
	char *out, *o;

	if (!cursor_skip(c, '"')) {
		while (c->p < c->end && is_field_char(*c->p))
			c->p++;
		if (c->p == start)
			return -1;
		*field_r = arena_strndup(a, start, (size_t)(c->p - start));
		return 1;
	}
	o = out = arena_alloc(a, (size_t)(c->end - c->p) + 1);
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\' && ++c->p == c->end)
			return -1;
		*o++ = *c->p++;
	}
	if (!cursor_skip(c, '"'))
		return -1;
	*o = '\0';
	*field_r = out;
	return 1;
}

static int parse_header_list(struct arena *a, struct cursor *c,
			     struct imap_section *sec)
{
	const char **fields;

	if (!cursor_skip(c, ' ') || !cursor_skip(c, '('))
		return -1;
	fields = arena_alloc(a, (count_char(c->p, c->end, ' ') + 1) *
				  sizeof(*fields));
	sec->fields = fields;
	do {
		if (parse_field(a, c, &fields[sec->field_count]) < 0)
			return -1;
		sec->field_count++;
	} while (cursor_skip(c, ' '));
	return cursor_skip(c, ')') ? 1 : -1;
}

/* section-msgtext, or section-text after a section-part */
static int parse_text(struct arena *a, struct cursor *c,
		      struct imap_section *sec)
{
	if (cursor_keyword(c, "HEADER.FIELDS.NOT"))
		sec->text = IMAP_SECTION_TEXT_HEADER_FIELDS_NOT;
	else if (cursor_keyword(c, "HEADER.FIELDS"))
		sec->text = IMAP_SECTION_TEXT_HEADER_FIELDS;
	else if (cursor_keyword(c, "HEADER"))
		sec->text = IMAP_SECTION_TEXT_HEADER;
	else if (cursor_keyword(c, "TEXT"))
		sec->text = IMAP_SECTION_TEXT_TEXT;
	else if (sec->part_count > 0 && cursor_keyword(c, "MIME"))
		sec->text = IMAP_SECTION_TEXT_MIME;
	else
		return -1;
	if (sec->text == IMAP_SECTION_TEXT_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_TEXT_HEADER_FIELDS_NOT)
		return parse_header_list(a, c, sec);
	return 1;
}

static int parse_spec(struct arena *a, struct cursor *c,
		      struct imap_section *sec)
{
	if (c->p == c->end)
		return 1;
	if (at_digit(c) && parse_parts(a, c, sec) < 0)
		return -1;
	if (c->p < c->end && parse_text(a, c, sec) < 0)
		return -1;
	return c->p == c->end ? 1 : -1;
}

/* "" or partial = "<" number "." nz-number ">" */
static int parse_partial(struct cursor *c, struct imap_section *sec)
{
	if (c->p == c->end)
		return 1;
	if (!cursor_skip(c, '<') ||
	    cursor_number(c, false, &sec->partial_offset) < 0 ||
	    !cursor_skip(c, '.') ||
	    cursor_number(c, true, &sec->partial_length) < 0 ||
	    !cursor_skip(c, '>') || c->p != c->end)
		return -1;
	sec->partial = true;
	return 1;
}

/* The "]" that closes the "[" at open: the first one outside quotes. */
static const char *find_close(const char *p, const char *end)
{
	bool quoted = false;

	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ']')
			return p;
	}
	return NULL;
}

int imap_section_parse(struct arena *a, const char *atom, size_t len,
		       size_t name_len, const struct imap_section **section_r)
{
	const char *end = atom + len, *close;
	struct imap_section *sec;
	struct cursor c;
	bool binary;

	close = find_close(atom + name_len + 1, end);
	if (close == NULL)
		return -1;
	sec = arena_alloc(a, sizeof(*sec));
	memset(sec, 0, sizeof(*sec));
	sec->name = arena_strndup(a, atom, name_len);
	sec->spec = arena_strndup(a, atom + name_len + 1,
				       (size_t)(close - atom) - name_len - 1);
	c.p = atom + name_len + 1;
	c.end = close;
	if (parse_spec(a, &c, sec) < 0)
		return -1;
	c.p = close + 1;
	c.end = end;
	if (parse_partial(&c, sec) < 0)
		return -1;
	binary = strncasecmp(sec->name, "BINARY", 6) == 0;
	if (binary && sec->text != IMAP_SECTION_TEXT_NONE)
		return -1;
	if (binary && strcasecmp(sec->name, "BINARY.SIZE") == 0 && sec->partial)
		return -1;	/* BINARY.SIZE has no partial */
	*section_r = sec;
	return 1;
}
