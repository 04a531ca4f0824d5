/*
 * mime_message.c - the MIME tree of a whole message in memory.
 *
 * Called by the IMAP server (FETCH, SEARCH) and the client with a mapped
 * Maildir file.  Every entity's header is read with the header iterator,
 * its Content-* fields parsed, then a multipart body is cut at its
 * delimiter lines and each piece parsed the same way, and the body of a
 * message/rfc822 (or message/global) part parsed as a message.
 *
 * RFC 2046 §5.1.1:
 *   multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF
 *                     body-part *encapsulation close-delimiter
 *                     transport-padding [CRLF epilogue]
 *   encapsulation  := delimiter transport-padding CRLF body-part
 *   delimiter      := CRLF dash-boundary       ; dash-boundary := "--" boundary
 *   close-delimiter := delimiter "--"
 * The CRLF before a delimiter belongs to it, not to the body part.  A
 * delimiter line must hold nothing but blanks after the boundary, so that
 * nested boundaries that are prefixes of each other do not mix.  A missing
 * close delimiter ends the last part at the end of its parent.
 *
 * Limits (struct mime_limits): depth, number of parts, fields and bytes of
 * each header.  Past them the content stays in one leaf.  The work is
 * linear in the message size times the depth.
 */
#include "mime_int.h"

#include <string.h>

struct mime_message {
	const char *data;
	size_t size;
	struct mime_limits limits;
	struct arena arena;		/* holds this struct too */
	struct mime_part *root;
	unsigned int nparts;
	struct buf tmp;		/* unfolded header values */
};

static void parse_entity(struct mime_message *msg, struct mime_part *part);

static struct mime_part *part_new(struct mime_message *msg,
				  struct mime_part *parent, size_t start,
				  size_t end, unsigned int depth)
{
	struct mime_part *p;

	if (msg->nparts >= msg->limits.max_parts)
		return NULL;
	msg->nparts++;
	p = arena_alloc0(&msg->arena, sizeof(*p));
	p->parent = parent;
	p->depth = depth;
	p->header_start = p->body_start = start;
	p->end = end;
	return p;
}

/* ---- Content-* fields ---------------------------------------------------- */

static const char *field_dup(struct mime_message *msg, const char *v,
			     size_t n)
{
	return arena_strndup(&msg->arena, v, n);
}

static void field_encoding(struct mime_message *msg, struct mime_part *p,
			   const char *v, size_t n)
{
	static const struct {
		const char *name;
		enum mime_cte cte;
	} ctes[] = {
		{ "7BIT", MIME_CTE_7BIT }, { "8BIT", MIME_CTE_8BIT },
		{ "BINARY", MIME_CTE_BINARY },
		{ "QUOTED-PRINTABLE", MIME_CTE_QP },
		{ "BASE64", MIME_CTE_BASE64 },
	};
	struct mime_lex l;
	size_t i, start;

	mime_lex_init(&l, v, n);
	mime_lex_cfws(&l, NULL);
	start = l.pos;
	if (mime_lex_atom(&l, MIME_LEX_TSPECIALS, NULL) <= 0)
		return;
	p->encoding = mime_arena_upper(&msg->arena, v + start, l.pos - start);
	p->cte = MIME_CTE_UNKNOWN;
	for (i = 0; i < sizeof(ctes) / sizeof(ctes[0]); i++) {
		if (strcmp(p->encoding, ctes[i].name) == 0)
			p->cte = ctes[i].cte;
	}
}

#define LANGUAGE_MAX 32

static void field_language(struct mime_message *msg, struct mime_part *p,
			   const char *v, size_t n)
{
	const char *tags[LANGUAGE_MAX];
	const char **list;
	struct mime_lex l;
	size_t start;
	unsigned int count = 0;

	mime_lex_init(&l, v, n);
	while (!mime_lex_eof(&l) && count < LANGUAGE_MAX) {
		mime_lex_cfws(&l, NULL);
		start = l.pos;
		if (mime_lex_atom(&l, MIME_LEX_TSPECIALS, NULL) > 0)
			tags[count++] = field_dup(msg, v + start,
						  l.pos - start);
		else if (!mime_lex_eof(&l))
			l.pos++;	/* "," or junk */
	}
	if (count == 0)
		return;
	list = arena_alloc0(&msg->arena, sizeof(*list) * count);
	memcpy(list, tags, sizeof(*list) * count);
	p->languages = list;
	p->nlanguages = count;
}

/* Store one Content-* field (the first of each name wins). */
static void field_store(struct mime_message *msg, struct mime_part *p,
			const struct mime_field *f, const char *v, size_t n)
{
	const char *name = f->name + 8;	/* after "Content-" */
	size_t len = f->name_len - 8;

	if (mime_ieq(name, len, "type") && p->type == NULL)
		mime_param_parse_type(&msg->arena, p, v, n);
	else if (mime_ieq(name, len, "transfer-encoding") && !p->encoding)
		field_encoding(msg, p, v, n);
	else if (mime_ieq(name, len, "disposition") && !p->disposition)
		mime_param_parse_disposition(&msg->arena, p, v, n);
	else if (mime_ieq(name, len, "id") && p->id == NULL)
		p->id = field_dup(msg, v, n);
	else if (mime_ieq(name, len, "description") && !p->description)
		p->description = field_dup(msg, v, n);
	else if (mime_ieq(name, len, "md5") && p->md5 == NULL)
		p->md5 = field_dup(msg, v, n);
	else if (mime_ieq(name, len, "location") && p->location == NULL)
		p->location = field_dup(msg, v, n);
	else if (mime_ieq(name, len, "language") && p->languages == NULL)
		field_language(msg, p, v, n);
}

static void field_read(struct mime_message *msg, struct mime_part *p,
		       const struct mime_field *f)
{
	if (f->name_len <= 8 || !mime_ieq(f->name, 8, "content-"))
		return;
	buf_reset(&msg->tmp);
	mime_header_unfold(f, &msg->tmp);
	field_store(msg, p, f, buf_cstr(&msg->tmp), msg->tmp.len);
}

/* Read the header of p, find where its body starts. */
static void header_read(struct mime_message *msg, struct mime_part *p)
{
	struct mime_header_iter it;
	struct mime_field f;
	unsigned int count = 0;

	mime_header_iter_init(&it, msg->data + p->header_start,
			      p->end - p->header_start);
	while (mime_header_next(&it, &f) == 1) {
		if (++count > msg->limits.max_header_fields ||
		    f.end > msg->limits.max_header_size) {
			it.end = f.start;
			p->flags |= MIME_PART_LIMIT;
			break;
		}
		field_read(msg, p, &f);
	}
	p->body_start = p->header_start + it.end;
	if (!it.empty_line)
		p->flags |= MIME_PART_NO_EMPTY_LINE;
}

/* No or bad Content-Type: RFC 2045 §5.2, RFC 2046 §5.1.5 (digest). */
static void type_default(struct mime_part *p)
{
	const struct mime_part *parent = p->parent;

	p->flags |= MIME_PART_DEFAULT_TYPE;
	if (parent != NULL && (parent->flags & MIME_PART_MULTIPART) != 0 &&
	    strcmp(parent->subtype, "DIGEST") == 0) {
		p->type = "MESSAGE";
		p->subtype = "RFC822";
	} else {
		p->type = "TEXT";
		p->subtype = "PLAIN";
	}
}

static void sizes_count(struct mime_message *msg, struct mime_part *p)
{
	const char *body = msg->data + p->body_start;
	size_t n = p->end - p->body_start, i;
	uint64_t lines = 0;

	p->header_size = mime_crlf_size(msg->data + p->header_start,
					p->body_start - p->header_start);
	p->body_size = mime_crlf_size(body, n);
	for (i = 0; i < n; i++) {
		const char *lf = memchr(body + i, '\n', n - i);

		if (lf == NULL)
			break;
		lines++;
		i = (size_t)(lf - body);
	}
	if (n > 0 && body[n - 1] != '\n')
		lines++;
	p->body_lines = lines;
}

/* ---- multipart --------------------------------------------------------- */

/* 0: not a delimiter line; 1: delimiter; 2: close delimiter. */
static int boundary_match(const char *line, size_t len, const char *b,
			  size_t blen)
{
	size_t i;
	int ret = 1;

	if (len < 2 + blen || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, b, blen) != 0)
		return 0;
	i = 2 + blen;
	if (i + 1 < len && line[i] == '-' && line[i + 1] == '-') {
		ret = 2;
		i += 2;
	}
	for (; i < len; i++) {
		if (!mime_is_wsp(line[i]) && line[i] != '\r')
			return 0;
	}
	return ret;
}

/* Where the body part before the delimiter line at pos ends. */
static size_t part_end_before(const struct mime_message *msg, size_t pos,
			      size_t start)
{
	if (pos > start && msg->data[pos - 1] == '\n') {
		pos--;
		if (pos > start && msg->data[pos - 1] == '\r')
			pos--;
	}
	return pos;
}

static struct mime_part *child_add(struct mime_message *msg,
				   struct mime_part *p, struct mime_part *last,
				   size_t start)
{
	struct mime_part *c = part_new(msg, p, start, p->end, p->depth + 1);

	if (c == NULL)
		return NULL;
	if (last == NULL)
		p->children = c;
	else
		last->next = c;
	p->nchildren++;
	return c;
}

/* Cut the body of p at the delimiters of boundary b. */
static void multipart_split(struct mime_message *msg, struct mime_part *p,
			    const char *b, size_t blen)
{
	struct mime_part *last = NULL, *c;
	size_t pos = p->body_start, next;
	const char *lf;
	int m;

	p->flags |= MIME_PART_UNCLOSED;
	for (; pos < p->end; pos = next) {
		lf = memchr(msg->data + pos, '\n', p->end - pos);
		next = lf != NULL ? (size_t)(lf - msg->data) + 1 : p->end;
		m = boundary_match(msg->data + pos, next - pos -
				   (lf != NULL ? 1 : 0), b, blen);
		if (m == 0)
			continue;
		if (last != NULL)
			last->end = part_end_before(msg, pos,
						    last->header_start);
		if (m == 2) {
			p->flags &= ~MIME_PART_UNCLOSED;
			break;
		}
		if ((c = child_add(msg, p, last, next)) == NULL) {
			if (last != NULL)
				last->end = p->end;
			p->flags |= MIME_PART_LIMIT;
			break;
		}
		last = c;
	}
}

static void multipart_parse(struct mime_message *msg, struct mime_part *p)
{
	const struct mime_param *b = mime_param_find(p, "boundary");
	struct mime_part *c;

	if (p->depth >= msg->limits.max_depth)
		p->flags |= MIME_PART_LIMIT;
	else if (b != NULL && b->value[0] != '\0')
		multipart_split(msg, p, b->value, strlen(b->value));
	if (p->children == NULL) {
		p->flags |= MIME_PART_OPAQUE | MIME_PART_TEXT;
		return;
	}
	p->flags |= MIME_PART_MULTIPART;
	for (c = p->children; c != NULL; c = c->next)
		parse_entity(msg, c);
}

static void message_parse(struct mime_message *msg, struct mime_part *p)
{
	struct mime_part *c = NULL;

	if (p->depth >= msg->limits.max_depth)
		p->flags |= MIME_PART_LIMIT;
	else if (p->cte == MIME_CTE_7BIT || p->cte == MIME_CTE_8BIT ||
		 p->cte == MIME_CTE_BINARY)
		c = part_new(msg, p, p->body_start, p->end, p->depth + 1);
	if (c == NULL) {
		p->flags |= MIME_PART_OPAQUE;
		return;
	}
	p->flags |= MIME_PART_MESSAGE;
	p->children = c;
	p->nchildren = 1;
	parse_entity(msg, c);
}

static void parse_entity(struct mime_message *msg, struct mime_part *p)
{
	header_read(msg, p);
	if (p->type == NULL)
		type_default(p);
	sizes_count(msg, p);
	if (strcmp(p->type, "TEXT") == 0)
		p->flags |= MIME_PART_TEXT;
	if (strcmp(p->type, "MULTIPART") == 0)
		multipart_parse(msg, p);
	else if (strcmp(p->type, "MESSAGE") == 0 &&
		 (strcmp(p->subtype, "RFC822") == 0 ||
		  strcmp(p->subtype, "GLOBAL") == 0))
		message_parse(msg, p);
}

/* ---- the message ----------------------------------------------------------- */

struct mime_message *mime_message_parse(const char *data, size_t size,
					const struct mime_limits *limits)
{
	static const struct mime_limits defaults = {
		MIME_MAX_DEPTH, MIME_MAX_PARTS, MIME_MAX_HEADER_FIELDS,
		MIME_MAX_HEADER_SIZE
	};
	struct arena arena;
	struct mime_message *msg;

	arena_init(&arena);
	msg = arena_alloc0(&arena, sizeof(*msg));
	msg->arena = arena;	/* from here on, allocated through msg->arena */
	msg->data = data != NULL ? data : "";
	msg->size = data != NULL ? size : 0;
	msg->limits = limits != NULL ? *limits : defaults;
	if (msg->limits.max_parts == 0)
		msg->limits.max_parts = 1;
	buf_init(&msg->tmp, 0);
	msg->root = part_new(msg, NULL, 0, msg->size, 0);
	parse_entity(msg, msg->root);
	buf_deinit(&msg->tmp);
	return msg;
}

void mime_message_free(struct mime_message **msg)
{
	struct arena arena;

	if (*msg == NULL)
		return;
	arena = (*msg)->arena;	/* out of the block it frees */
	*msg = NULL;
	arena_clear(&arena);
}

const struct mime_part *mime_message_root(const struct mime_message *msg)
{
	return msg->root;
}

const char *mime_message_data(const struct mime_message *msg)
{
	return msg->data;
}

size_t mime_message_size(const struct mime_message *msg)
{
	return msg->size;
}

uint64_t mime_message_size_crlf(const struct mime_message *msg)
{
	return msg->root->header_size + msg->root->body_size;
}

unsigned int mime_message_part_count(const struct mime_message *msg)
{
	return msg->nparts;
}

const struct mime_part *mime_part_next(const struct mime_part *p)
{
	if (p->children != NULL)
		return p->children;
	for (; p != NULL; p = p->parent) {
		if (p->next != NULL)
			return p->next;
	}
	return NULL;
}
