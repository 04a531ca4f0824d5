/*
 * imap_parser.c - the incremental reader of IMAP client commands.
 *
 * Called by the IMAP session with the bytes it read from a connection;
 * returns one event per call (see imap_parser.h).  Pure: no I/O.  Any
 * split of the input gives the same events.
 *
 * Limits (struct imap_parser_limits): octets of a command outside literal
 * data, literal size, literal octets kept per command, arguments per
 * command, list depth, raw line length.  On an error the reader reports
 * BAD at once and skips to the end of the line; a non-synchronising
 * literal announced at the end of a skipped line is skipped too, so no
 * literal data is ever read as a command.
 *
 * Memory: a command's tag, name, strings and argument arrays live in an
 * arena and two buffers that are freed when the session is done with the
 * command; an idle reader holds only its own struct.
 */
#include "imap_parser.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_private.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

/*
 * States.  The first group reads the command line; its octets count
 * against max_line.  The bulk group handles literal data and raw lines.
 * The skip group reads the rest of a bad line, watching for a literal
 * header at its end.
 */
enum imap_parser_state {
	IMAP_PARSER_TAG,		/* start of a command: the tag */
	IMAP_PARSER_NAME,		/* the command name */
	IMAP_PARSER_ARG_SEP,		/* after an argument: SP, ")" or CRLF */
	IMAP_PARSER_ARG,		/* where an argument may start */
	IMAP_PARSER_ATOM,
	IMAP_PARSER_SECTION,		/* inside the [...] of a fetch item */
	IMAP_PARSER_SECTION_QUOTED,	/* a quoted string inside [...] */
	IMAP_PARSER_SECTION_ESC,	/* after "\" in that string */
	IMAP_PARSER_QUOTED,
	IMAP_PARSER_QUOTED_ESC,
	IMAP_PARSER_TILDE,		/* "~": literal8 or an atom */
	IMAP_PARSER_LITERAL_SIZE,	/* "{" and digits */
	IMAP_PARSER_LITERAL_PLUS,	/* "{n+" */
	IMAP_PARSER_LITERAL_CLOSE,	/* "{n}": CRLF must follow */
	IMAP_PARSER_LITERAL_LF,		/* "{n}" CR */
	IMAP_PARSER_EOL_LF,		/* CR at the end of the command */

	IMAP_PARSER_LITERAL_WAIT,	/* LITERAL event out, action pending */
	IMAP_PARSER_LITERAL_DATA,	/* octets of an accepted literal */
	IMAP_PARSER_SKIP_LITERAL,	/* octets of a literal being dropped */
	IMAP_PARSER_RAW,		/* imap_parser_read_line() */
	IMAP_PARSER_RAW_SKIP,		/* the rest of a too long raw line */

	IMAP_PARSER_SKIP,		/* the rest of a bad line */
	IMAP_PARSER_SKIP_SIZE,		/* ... "{" and digits */
	IMAP_PARSER_SKIP_PLUS,		/* ... "{n+" */
	IMAP_PARSER_SKIP_CLOSE,		/* ... "{n}" */
	IMAP_PARSER_SKIP_LF		/* ... "{n}" CR */
};

struct imap_parser {
	struct imap_parser_limits limits;
	enum imap_parser_state state;
	bool release_pending;	/* the last event still points into us */

	/* the command being read */
	struct arena arena;
	struct buf token;	/* atom or quoted string so far; raw line */
	struct buf args;	/* struct imap_arg[nargs] then an EOL */
	size_t nargs;
	size_t open;		/* 1 + index of the innermost open list */
	size_t outer;		/* 1 + index of the outermost open list */
	unsigned depth;
	unsigned arg_count;	/* for max_args */
	size_t line_bytes;	/* for max_line */
	size_t section_at;	/* token offset after the "[" of a fetch item */
	uint64_t collected;	/* literal octets kept, for max_collect */
	const char *tag;
	const char *name;

	/* the literal being read */
	uint64_t lit_size;
	uint64_t lit_left;
	unsigned lit_digits;
	bool lit_sync;
	bool lit8;
	enum imap_literal_action lit_action;
	char *lit_data;		/* COLLECT: where the octets go */

	/* a literal header at the end of a line being skipped */
	uint64_t skip_size;
	unsigned skip_digits;
	bool skip_nonsync;
	bool skip_overflow;
};

static const struct imap_arg imap_eol;

void imap_parser_limits_default(struct imap_parser_limits *limits)
{
	limits->max_line = 64 * 1024;
	limits->max_literal = 64 * 1024 * 1024;
	limits->max_collect = 64 * 1024;
	limits->max_args = 1024;
	limits->max_depth = 16;
	limits->max_raw_line = 64 * 1024;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser_limits def;
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	imap_parser_limits_default(&def);
	p->limits = *limits;
	if (p->limits.max_line == 0)
		p->limits.max_line = def.max_line;
	if (p->limits.max_args == 0)
		p->limits.max_args = def.max_args;
	if (p->limits.max_depth == 0)
		p->limits.max_depth = def.max_depth;
	if (p->limits.max_raw_line == 0)
		p->limits.max_raw_line = def.max_raw_line;
	p->state = IMAP_PARSER_TAG;
	arena_init(&p->arena);
	/* both are bounded by max_line and max_args */
	buf_init(&p->token, 0);
	buf_init(&p->args, 0);
	return p;
}

/* Forget the command: free its memory, keep the state. */
static void parser_reset_command(struct imap_parser *p)
{
	arena_clear(&p->arena);
	buf_deinit(&p->token);
	buf_deinit(&p->args);
	p->nargs = p->open = p->outer = 0;
	p->depth = p->arg_count = 0;
	p->line_bytes = p->section_at = 0;
	p->collected = 0;
	p->tag = p->name = NULL;
	p->lit_data = NULL;
	p->release_pending = false;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	parser_reset_command(p);
	free(p);
	*pp = NULL;
}

void imap_parser_done(struct imap_parser *p)
{
	if (p->release_pending)
		parser_reset_command(p);
}

bool imap_parser_at_boundary(const struct imap_parser *p)
{
	return p->state == IMAP_PARSER_TAG &&
		(p->release_pending || p->line_bytes == 0);
}

size_t imap_parser_memory(const struct imap_parser *p)
{
	size_t n = sizeof(*p) + p->arena.total;

	if (p->token.data != NULL)
		n += p->token.cap + 1;
	if (p->args.data != NULL)
		n += p->args.cap + 1;
	return n;
}

int imap_parser_read_line(struct imap_parser *p)
{
	if (!imap_parser_at_boundary(p))
		return -1;
	p->state = IMAP_PARSER_RAW;
	return 1;
}

/* character classes (RFC 9051 §9) */

/* ATOM-CHAR: any CHAR except atom-specials */
static bool is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* what an unquoted argument may hold: ASTRING-CHAR, list-wildcards
   (LIST patterns) and "*" (sequence sets) */
static bool is_arg_char(unsigned char c)
{
	return is_atom_char(c) || c == ']' || c == '*' || c == '%';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned char c)
{
	return (is_atom_char(c) && c != '+') || c == ']';
}

/* argument storage */

static struct imap_arg *args_at(struct imap_parser *p, size_t i)
{
	return (struct imap_arg *)(void *)p->args.data + i;
}

/* Keep an EOL after the last argument so that any prefix is a list. */
static void args_seal(struct imap_parser *p)
{
	buf_truncate(&p->args, p->nargs * sizeof(struct imap_arg));
	if (buf_append(&p->args, &imap_eol, sizeof(imap_eol)) < 0)
		fatal("out of memory");
}

static void args_push(struct imap_parser *p, const struct imap_arg *arg)
{
	buf_truncate(&p->args, p->nargs * sizeof(*arg));
	if (buf_append(&p->args, arg, sizeof(*arg)) < 0)
		fatal("out of memory");
	p->nargs++;
	args_seal(p);
}

/* The complete top-level arguments: all of them, or those before the
   outermost open list (whose slot holds an EOL until it closes). */
static const struct imap_arg *args_top(struct imap_parser *p, size_t *count_r)
{
	*count_r = p->depth > 0 ? p->outer - 1 : p->nargs;
	return p->args.data != NULL ? args_at(p, 0) : &imap_eol;
}

/* Count one more argument.  Returns false past max_args. */
static bool arg_reserve(struct imap_parser *p)
{
	if (p->arg_count >= p->limits.max_args)
		return false;
	p->arg_count++;
	return true;
}

static void token_start(struct imap_parser *p, enum imap_parser_state state)
{
	buf_reset(&p->token);
	p->section_at = 0;
	p->state = state;
}

/* The token never outgrows the line, which max_line bounds. */
static void token_add(struct imap_parser *p, unsigned char c)
{
	if (buf_putc(&p->token, (char)c) < 0)
		fatal("out of memory");
}

static char *token_dup(struct imap_parser *p)
{
	return arena_strndup(&p->arena, buf_cstr(&p->token),
				  p->token.len);
}

/* errors and the skip to the end of the line */

/*
 * Report BAD.  The byte that caused it is not consumed: the skip states
 * read it.  A literal header being read carries over into them, so that
 * "{5+}" CRLF at the end of a bad line still skips its 5 octets.
 */
static int parser_fail(struct imap_parser *p, struct imap_event *ev,
		       const char *reason)
{
	ev->type = IMAP_EVENT_BAD;
	ev->tag = p->tag;
	ev->name = p->name;
	ev->reason = reason;
	p->skip_size = p->lit_size;
	p->skip_digits = p->lit_digits;
	p->skip_nonsync = !p->lit_sync;
	p->skip_overflow = false;
	switch (p->state) {
	case IMAP_PARSER_LITERAL_SIZE:
		p->state = IMAP_PARSER_SKIP_SIZE;
		break;
	case IMAP_PARSER_LITERAL_PLUS:
		p->state = IMAP_PARSER_SKIP_PLUS;
		break;
	case IMAP_PARSER_LITERAL_CLOSE:
		p->state = IMAP_PARSER_SKIP_CLOSE;
		break;
	case IMAP_PARSER_LITERAL_LF:
		p->state = IMAP_PARSER_SKIP_LF;
		break;
	default:
		p->state = IMAP_PARSER_SKIP;
		break;
	}
	p->release_pending = true;
	return -1;
}

/* The end of a skipped line: drop the data of a literal it announced. */
static int skip_line_end(struct imap_parser *p)
{
	if ((p->state == IMAP_PARSER_SKIP_CLOSE ||
	     p->state == IMAP_PARSER_SKIP_LF) &&
	    p->skip_nonsync && !p->skip_overflow) {
		p->lit_left = p->skip_size;
		p->state = IMAP_PARSER_SKIP_LITERAL;
	} else {
		p->state = IMAP_PARSER_TAG;
	}
	return 0;
}

static void skip_digit(struct imap_parser *p, unsigned char c)
{
	if (p->skip_size > (uint64_t)(INT64_MAX - (c - '0')) / 10)
		p->skip_overflow = true;
	else
		p->skip_size = p->skip_size * 10 + (uint64_t)(c - '0');
	p->skip_digits++;
}

/* A byte of a bad line.  Only a literal header at its end matters. */
static int parse_skip(struct imap_parser *p, unsigned char c)
{
	if (c == '\n')
		return skip_line_end(p);
	if (c == '{') {
		p->skip_size = 0;
		p->skip_digits = 0;
		p->skip_nonsync = false;
		p->skip_overflow = false;
		p->state = IMAP_PARSER_SKIP_SIZE;
		return 0;
	}
	if (p->state == IMAP_PARSER_SKIP_SIZE && c >= '0' && c <= '9') {
		skip_digit(p, c);
		return 0;
	}
	if (p->state == IMAP_PARSER_SKIP_SIZE && p->skip_digits > 0 &&
	    (c == '+' || c == '}')) {
		p->skip_nonsync = c == '+';
		p->state = c == '+' ? IMAP_PARSER_SKIP_PLUS :
			IMAP_PARSER_SKIP_CLOSE;
		return 0;
	}
	if (p->state == IMAP_PARSER_SKIP_PLUS && c == '}')
		p->state = IMAP_PARSER_SKIP_CLOSE;
	else if (p->state == IMAP_PARSER_SKIP_CLOSE && c == '\r')
		p->state = IMAP_PARSER_SKIP_LF;
	else
		p->state = IMAP_PARSER_SKIP;
	return 0;
}

/*
 * The command line (RFC 9051 §9, RFC 3501 §9; RFC 7888; RFC 3516):
 *
 *   command       = tag SP command-name *(SP argument) CRLF
 *   tag           = 1*<any ASTRING-CHAR except "+">
 *   argument      = atom-ish / quoted / literal / literal8 / list
 *   list          = "(" [argument *(SP argument)] ")"
 *   quoted        = DQUOTE *QUOTED-CHAR DQUOTE
 *   QUOTED-CHAR   = <any TEXT-CHAR except quoted-specials> /
 *                   "\" quoted-specials / UTF8-2 / UTF8-3 / UTF8-4
 *   literal       = "{" number64 ["+"] "}" CRLF *CHAR8
 *   literal8      = "~{" number64 ["+"] "}" CRLF *OCTET
 *   atom-ish      = ["\"] 1*(ASTRING-CHAR / list-wildcards) /
 *                   fetch-name "[" section-spec "]" [partial]
 *   fetch-name    = "BODY" [".PEEK"] / "BINARY" [".PEEK" / ".SIZE"]
 *   ATOM-CHAR     = <any CHAR except atom-specials>
 *   atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                   quoted-specials / resp-specials
 *
 * The atom-ish form covers atoms, numbers, NIL, sequence sets (1:*,3),
 * flags (\Seen), unquoted dates (1-Jan-2024), LIST patterns (%, *) and
 * astrings with "]".  Inside the brackets of a fetch item SP, parens and
 * quoted strings are allowed; imap_section.c parses them.
 *
 * Leniencies: several SP where one is due, SP before CRLF, a bare LF as
 * the end of a line.
 */

static int parse_arg_sep(struct imap_parser *p, unsigned char c,
			 struct imap_event *ev);

static int command_end(struct imap_parser *p, struct imap_event *ev)
{
	if (p->depth > 0)
		return parser_fail(p, ev, "Unclosed list");
	ev->type = IMAP_EVENT_COMMAND;
	ev->tag = p->tag;
	ev->name = p->name;
	ev->args = args_top(p, &ev->arg_count);
	p->state = IMAP_PARSER_TAG;
	p->release_pending = true;
	return 1;
}

static int parse_tag(struct imap_parser *p, unsigned char c,
		     struct imap_event *ev)
{
	if (is_tag_char(c)) {
		token_add(p, c);
		return 0;
	}
	if (p->token.len == 0) {
		if (c == '\r' || c == '\n')
			return parser_fail(p, ev, "Empty command line");
		return parser_fail(p, ev, c == ' ' ? "Missing tag" :
				   "Invalid tag");
	}
	if (c != ' ' && c != '\r' && c != '\n')
		return parser_fail(p, ev, "Invalid tag");
	p->tag = token_dup(p);
	if (c != ' ')
		return parser_fail(p, ev, "Missing command name");
	token_start(p, IMAP_PARSER_NAME);
	return 0;
}

static int parse_name(struct imap_parser *p, unsigned char c,
		      struct imap_event *ev)
{
	if (is_atom_char(c)) {
		token_add(p, c);
		return 0;
	}
	if (c == ' ' && p->token.len == 0)
		return 0;
	if (c != ' ' && c != '\r' && c != '\n')
		return parser_fail(p, ev, "Invalid command name");
	if (p->token.len == 0)
		return parser_fail(p, ev, "Missing command name");
	p->name = token_dup(p);
	p->state = IMAP_PARSER_ARG_SEP;
	return parse_arg_sep(p, c, ev);
}

static int list_open(struct imap_parser *p, struct imap_event *ev)
{
	/* an EOL placeholder whose len remembers the enclosing list */
	struct imap_arg arg = { .type = IMAP_ARG_EOL, .len = p->open };

	if (p->depth >= p->limits.max_depth)
		return parser_fail(p, ev, "Too deeply nested");
	if (!arg_reserve(p))
		return parser_fail(p, ev, "Too many arguments");
	args_push(p, &arg);
	p->open = p->nargs;
	if (p->depth == 0)
		p->outer = p->nargs;
	p->depth++;
	p->state = IMAP_PARSER_ARG;
	return 0;
}

/* Move the items of the innermost open list into an array of its own. */
static int list_close(struct imap_parser *p, struct imap_event *ev)
{
	struct imap_arg *list, *items;
	size_t first, count;

	if (p->depth == 0)
		return parser_fail(p, ev, "Unexpected )");
	first = p->open;
	count = p->nargs - first;
	items = arena_alloc(&p->arena, (count + 1) * sizeof(*items));
	memcpy(items, args_at(p, first), (count + 1) * sizeof(*items));
	list = args_at(p, first - 1);
	p->open = list->len;
	list->type = IMAP_ARG_LIST;
	list->len = count;
	list->list = items;
	p->nargs = first;
	args_seal(p);
	p->depth--;
	p->state = IMAP_PARSER_ARG_SEP;
	return 0;
}

static int parse_arg_sep(struct imap_parser *p, unsigned char c,
			 struct imap_event *ev)
{
	switch (c) {
	case ' ':
		p->state = IMAP_PARSER_ARG;
		return 0;
	case ')':
		return list_close(p, ev);
	case '\r':
		p->state = IMAP_PARSER_EOL_LF;
		return 0;
	case '\n':
		return command_end(p, ev);
	default:
		return parser_fail(p, ev, "Missing space between arguments");
	}
}

static void literal_start(struct imap_parser *p, bool literal8)
{
	p->lit8 = literal8;
	p->lit_sync = true;
	p->lit_size = 0;
	p->lit_digits = 0;
	p->state = IMAP_PARSER_LITERAL_SIZE;
}

static int parse_arg(struct imap_parser *p, unsigned char c,
		     struct imap_event *ev)
{
	switch (c) {
	case ' ':
		return 0;
	case '(':
		return list_open(p, ev);
	case ')':
		return list_close(p, ev);
	case '"':
		token_start(p, IMAP_PARSER_QUOTED);
		return 0;
	case '{':
		literal_start(p, false);
		return 0;
	case '\r':
		p->state = IMAP_PARSER_EOL_LF;
		return 0;
	case '\n':
		return command_end(p, ev);
	case '~':
		token_start(p, IMAP_PARSER_TILDE);
		token_add(p, c);
		return 0;
	}
	if (c != '\\' && !is_arg_char(c))
		return parser_fail(p, ev, "Invalid characters in argument");
	token_start(p, IMAP_PARSER_ATOM);
	token_add(p, c);
	return 0;
}

static int atom_end(struct imap_parser *p, unsigned char c,
		    struct imap_event *ev)
{
	struct imap_arg arg = { .type = IMAP_ARG_ATOM };

	if (p->token.len == 1 && p->token.data[0] == '\\')
		return parser_fail(p, ev, "Invalid flag");
	if (!arg_reserve(p))
		return parser_fail(p, ev, "Too many arguments");
	arg.str = token_dup(p);
	arg.len = p->token.len;
	if (p->section_at != 0 &&
	    imap_section_parse(&p->arena, arg.str, arg.len,
			       p->section_at - 1, &arg.section) < 0)
		return parser_fail(p, ev, "Invalid fetch item");
	if (arg.len == 3 && strcasecmp(arg.str, "NIL") == 0)
		arg.type = IMAP_ARG_NIL;
	args_push(p, &arg);
	p->state = IMAP_PARSER_ARG_SEP;
	return parse_arg_sep(p, c, ev);
}

static int parse_atom(struct imap_parser *p, unsigned char c,
		      struct imap_event *ev)
{
	if (c == '[' && p->section_at == 0 &&
	    imap_section_name_is_known(buf_cstr(&p->token), p->token.len)) {
		token_add(p, c);
		p->section_at = p->token.len;
		p->state = IMAP_PARSER_SECTION;
		return 0;
	}
	if (is_arg_char(c)) {
		token_add(p, c);
		return 0;
	}
	if (c == ' ' || c == ')' || c == '\r' || c == '\n')
		return atom_end(p, c, ev);
	return parser_fail(p, ev, "Invalid characters in atom");
}

/* The brackets of a fetch item: printable ASCII, quoted strings. */
static int parse_section(struct imap_parser *p, unsigned char c,
			 struct imap_event *ev)
{
	enum imap_parser_state next = p->state;

	if (c < 0x20 || c >= 0x7f)
		return parser_fail(p, ev, "Invalid fetch item");
	switch (p->state) {
	case IMAP_PARSER_SECTION:
		if (c == '{' || c == '[')
			return parser_fail(p, ev, "Invalid fetch item");
		if (c == ']')
			next = IMAP_PARSER_ATOM;
		else if (c == '"')
			next = IMAP_PARSER_SECTION_QUOTED;
		break;
	case IMAP_PARSER_SECTION_QUOTED:
		if (c == '"')
			next = IMAP_PARSER_SECTION;
		else if (c == '\\')
			next = IMAP_PARSER_SECTION_ESC;
		break;
	default:
		if (c != '"' && c != '\\')
			return parser_fail(p, ev, "Invalid fetch item");
		next = IMAP_PARSER_SECTION_QUOTED;
		break;
	}
	token_add(p, c);
	p->state = next;
	return 0;
}

static int parse_quoted(struct imap_parser *p, unsigned char c,
			struct imap_event *ev)
{
	struct imap_arg arg = { .type = IMAP_ARG_STRING };

	if (p->state == IMAP_PARSER_QUOTED_ESC) {
		if (c != '"' && c != '\\')
			return parser_fail(p, ev,
					   "Invalid escape in quoted string");
		token_add(p, c);
		p->state = IMAP_PARSER_QUOTED;
		return 0;
	}
	switch (c) {
	case '"':
		if (!arg_reserve(p))
			return parser_fail(p, ev, "Too many arguments");
		arg.str = token_dup(p);
		arg.len = p->token.len;
		args_push(p, &arg);
		p->state = IMAP_PARSER_ARG_SEP;
		return 0;
	case '\\':
		p->state = IMAP_PARSER_QUOTED_ESC;
		return 0;
	case '\r':
	case '\n':
		return parser_fail(p, ev, "Unterminated quoted string");
	case '\0':
		return parser_fail(p, ev, "NUL in quoted string");
	}
	token_add(p, c);
	return 0;
}

/* Whether the literal being read may take the given action. */
static bool literal_allowed(const struct imap_parser *p,
			    enum imap_literal_action action)
{
	if (action == IMAP_LITERAL_REJECT)
		return true;
	if (p->lit_size > p->limits.max_literal)
		return false;
	return action == IMAP_LITERAL_STREAM ||
		p->lit_size <= p->limits.max_collect - p->collected;
}

static void literal_event(struct imap_parser *p, enum imap_event_type type,
			  struct imap_event *ev)
{
	ev->type = type;
	ev->tag = p->tag;
	ev->name = p->name;
	ev->args = args_top(p, &ev->arg_count);
	ev->literal.size = p->lit_size;
	ev->literal.sync = p->lit_sync;
	ev->literal.literal8 = p->lit8;
	ev->literal.depth = p->depth;
	ev->literal.action = p->lit_action;
}

/* "{n}" CRLF has been read: announce the literal before its data. */
static int literal_header(struct imap_parser *p, struct imap_event *ev)
{
	if (!arg_reserve(p))
		return parser_fail(p, ev, "Too many arguments");
	p->lit_action = literal_allowed(p, IMAP_LITERAL_COLLECT) ?
		IMAP_LITERAL_COLLECT : IMAP_LITERAL_REJECT;
	literal_event(p, IMAP_EVENT_LITERAL, ev);
	p->state = IMAP_PARSER_LITERAL_WAIT;
	return 1;
}

static int parse_literal(struct imap_parser *p, unsigned char c,
			 struct imap_event *ev)
{
	switch (p->state) {
	case IMAP_PARSER_TILDE:
		if (c == '{') {
			literal_start(p, true);
			return 0;
		}
		p->state = IMAP_PARSER_ATOM;
		return parse_atom(p, c, ev);
	case IMAP_PARSER_LITERAL_SIZE:
		if (c >= '0' && c <= '9') {
			if (p->lit_size > (uint64_t)(INT64_MAX - (c - '0')) / 10)
				return parser_fail(p, ev, "Literal too big");
			p->lit_size = p->lit_size * 10 + (uint64_t)(c - '0');
			p->lit_digits++;
			return 0;
		}
		if (p->lit_digits == 0 || (c != '+' && c != '}'))
			return parser_fail(p, ev, "Invalid literal");
		p->lit_sync = c == '}';
		p->state = c == '+' ? IMAP_PARSER_LITERAL_PLUS :
			IMAP_PARSER_LITERAL_CLOSE;
		return 0;
	case IMAP_PARSER_LITERAL_PLUS:
		if (c != '}')
			return parser_fail(p, ev, "Invalid literal");
		p->state = IMAP_PARSER_LITERAL_CLOSE;
		return 0;
	case IMAP_PARSER_LITERAL_CLOSE:
		if (c == '\r') {
			p->state = IMAP_PARSER_LITERAL_LF;
			return 0;
		}
		/* fall through */
	default:
		if (c != '\n')
			return parser_fail(p, ev, "Literal must end the line");
		return literal_header(p, ev);
	}
}

static int parser_byte(struct imap_parser *p, unsigned char c,
		       struct imap_event *ev)
{
	if (p->state <= IMAP_PARSER_EOL_LF &&
	    ++p->line_bytes > p->limits.max_line)
		return parser_fail(p, ev, "Command line too long");
	switch (p->state) {
	case IMAP_PARSER_TAG:
		return parse_tag(p, c, ev);
	case IMAP_PARSER_NAME:
		return parse_name(p, c, ev);
	case IMAP_PARSER_ARG_SEP:
		return parse_arg_sep(p, c, ev);
	case IMAP_PARSER_ARG:
		return parse_arg(p, c, ev);
	case IMAP_PARSER_ATOM:
		return parse_atom(p, c, ev);
	case IMAP_PARSER_SECTION:
	case IMAP_PARSER_SECTION_QUOTED:
	case IMAP_PARSER_SECTION_ESC:
		return parse_section(p, c, ev);
	case IMAP_PARSER_QUOTED:
	case IMAP_PARSER_QUOTED_ESC:
		return parse_quoted(p, c, ev);
	case IMAP_PARSER_TILDE:
	case IMAP_PARSER_LITERAL_SIZE:
	case IMAP_PARSER_LITERAL_PLUS:
	case IMAP_PARSER_LITERAL_CLOSE:
	case IMAP_PARSER_LITERAL_LF:
		return parse_literal(p, c, ev);
	case IMAP_PARSER_EOL_LF:
		if (c != '\n')
			return parser_fail(p, ev, "CR without LF");
		return command_end(p, ev);
	default:
		return parse_skip(p, c);
	}
}

/* bulk states: literal data and raw lines */

int imap_parser_literal_action(struct imap_parser *p,
			       enum imap_literal_action action)
{
	if (p->state != IMAP_PARSER_LITERAL_WAIT ||
	    !literal_allowed(p, action))
		return -1;
	p->lit_action = action;
	return 1;
}

/* Carry out the action decided for the literal just announced. */
static void literal_begin(struct imap_parser *p)
{
	p->lit_left = p->lit_size;
	switch (p->lit_action) {
	case IMAP_LITERAL_COLLECT:
		p->collected += p->lit_size;
		p->lit_data = arena_alloc(&p->arena,
					       (size_t)p->lit_size + 1);
		p->state = IMAP_PARSER_LITERAL_DATA;
		break;
	case IMAP_LITERAL_STREAM:
		p->state = IMAP_PARSER_LITERAL_DATA;
		break;
	case IMAP_LITERAL_REJECT:
		/* a client waiting for "+" sends no data: a new command
		   follows; else the data and the rest are skipped */
		parser_reset_command(p);
		p->state = p->lit_sync ? IMAP_PARSER_TAG :
			IMAP_PARSER_SKIP_LITERAL;
		break;
	}
}

static void literal_push(struct imap_parser *p)
{
	struct imap_arg arg = {
		.type = IMAP_ARG_LITERAL_STREAMED,
		.literal8 = p->lit8,
		.literal_size = p->lit_size,
	};

	if (p->lit_action == IMAP_LITERAL_COLLECT) {
		p->lit_data[p->lit_size] = '\0';
		arg.type = IMAP_ARG_LITERAL;
		arg.str = p->lit_data;
		arg.len = (size_t)p->lit_size;
		p->lit_data = NULL;
	}
	args_push(p, &arg);
	p->state = IMAP_PARSER_ARG_SEP;
}

static int literal_data(struct imap_parser *p, const unsigned char *in,
			size_t n, size_t *used_r, struct imap_event *ev)
{
	size_t chunk = p->lit_left < n ? (size_t)p->lit_left : n;

	if (p->lit_action == IMAP_LITERAL_COLLECT) {
		memcpy(p->lit_data + (p->lit_size - p->lit_left), in, chunk);
		p->lit_left -= chunk;
		*used_r = chunk;
		if (p->lit_left == 0)
			literal_push(p);
		return 0;
	}
	if (p->lit_left == 0) {
		literal_event(p, IMAP_EVENT_LITERAL_END, ev);
		literal_push(p);
		return 1;
	}
	if (chunk == 0)
		return 0;
	literal_event(p, IMAP_EVENT_LITERAL_DATA, ev);
	ev->data = (const char *)in;
	ev->data_len = chunk;
	p->lit_left -= chunk;
	*used_r = chunk;
	return 1;
}

static int raw_line(struct imap_parser *p, const unsigned char *in, size_t n,
		    size_t *used_r, struct imap_event *ev)
{
	const unsigned char *lf = memchr(in, '\n', n);
	size_t chunk = lf != NULL ? (size_t)(lf - in) : n;

	/* one octet more for the CR of CRLF */
	if (chunk > p->limits.max_raw_line + 1 - p->token.len) {
		/* the rest of the line, up to its LF, is dropped */
		parser_fail(p, ev, "Line too long");
		p->state = IMAP_PARSER_RAW_SKIP;
		return -1;
	}
	if (buf_append(&p->token, in, chunk) < 0)
		fatal("out of memory");
	*used_r = chunk;
	if (lf == NULL)
		return 0;
	*used_r = chunk + 1;
	if (p->token.len > 0 && p->token.data[p->token.len - 1] == '\r')
		buf_truncate(&p->token, p->token.len - 1);
	if (p->token.len > p->limits.max_raw_line) {
		/* the line is consumed: commands follow */
		parser_fail(p, ev, "Line too long");
		p->state = IMAP_PARSER_TAG;
		return -1;
	}
	ev->type = IMAP_EVENT_LINE;
	ev->data = buf_cstr(&p->token);
	ev->data_len = p->token.len;
	p->state = IMAP_PARSER_TAG;
	p->release_pending = true;
	return 1;
}

static int parser_bulk(struct imap_parser *p, const unsigned char *in,
		       size_t n, size_t *used_r, struct imap_event *ev)
{
	const unsigned char *lf;
	size_t chunk;

	*used_r = 0;
	switch (p->state) {
	case IMAP_PARSER_LITERAL_WAIT:
		literal_begin(p);
		return 0;
	case IMAP_PARSER_LITERAL_DATA:
		return literal_data(p, in, n, used_r, ev);
	case IMAP_PARSER_SKIP_LITERAL:
		chunk = p->lit_left < n ? (size_t)p->lit_left : n;
		p->lit_left -= chunk;
		*used_r = chunk;
		if (p->lit_left == 0)
			p->state = IMAP_PARSER_SKIP;
		return 0;
	case IMAP_PARSER_RAW:
		return raw_line(p, in, n, used_r, ev);
	default:
		lf = memchr(in, '\n', n);
		*used_r = lf != NULL ? (size_t)(lf - in) + 1 : n;
		if (lf != NULL)
			p->state = IMAP_PARSER_TAG;
		return 0;
	}
}

static bool state_is_bulk(enum imap_parser_state state)
{
	return state >= IMAP_PARSER_LITERAL_WAIT &&
		state <= IMAP_PARSER_RAW_SKIP;
}

int imap_parser_feed(struct imap_parser *p, const void *in, size_t n,
		     size_t *consumed_r, struct imap_event *ev_r)
{
	const unsigned char *s = n > 0 ? in : (const void *)"";
	enum imap_parser_state before;
	size_t i = 0, used;
	int ret = 0;

	memset(ev_r, 0, sizeof(*ev_r));
	if (p->release_pending)
		parser_reset_command(p);
	while (ret == 0) {
		if (state_is_bulk(p->state)) {
			before = p->state;
			ret = parser_bulk(p, s + i, n - i, &used, ev_r);
			i += used;
			if (ret == 0 && used == 0 && p->state == before)
				break;
		} else if (i == n) {
			break;
		} else if ((ret = parser_byte(p, s[i], ev_r)) >= 0) {
			i++;
		}
	}
	*consumed_r = i;
	return ret;
}
