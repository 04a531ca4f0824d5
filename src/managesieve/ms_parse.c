/*
 * ms_parse.c - the ManageSieve command parser (RFC 5804 §4): a line of
 * atoms and strings, where a string is quoted ("..." with \" and \\) or a
 * literal ({n+} or {n} CRLF and n octets).  No input is ever buffered
 * beyond the argument being read, and every argument is bounded.
 */
#include "managesieve.h"

#include <string.h>

enum {
	S_START,	/* before an argument */
	S_ATOM,
	S_QUOTED,
	S_QUOTED_ESC,
	S_LIT_NUM,	/* after '{' */
	S_LIT_PLUS,	/* after '+' */
	S_LIT_CR,	/* after '}' */
	S_LIT_LF,
	S_LITERAL,	/* copying octets */
	S_AFTER,	/* after a string: space or end of line */
	S_CR,		/* after CR at the end of a command */
	S_SKIP_LINE,	/* after an error: up to LF */
	S_SKIP_LITERAL,	/* after an error: a literal's octets */
};

#define LITERAL_DIGITS 12

void ms_parser_init(struct ms_parser *p, size_t literal_max)
{
	memset(p, 0, sizeof(*p));
	p->literal_max = literal_max;
	buf_init(&p->data, literal_max + MS_MAX_ARGS * (MS_TOKEN_MAX + 1) + 1);
}

void ms_parser_deinit(struct ms_parser *p)
{
	buf_deinit(&p->data);
}

const char *ms_arg_text(const struct ms_parser *p, unsigned i, size_t *len_r)
{
	if (i >= p->n_args)
		return NULL;
	if (len_r != NULL)
		*len_r = p->args[i].len;
	return p->data.data + p->args[i].off;
}

static bool atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '{' && c != '}' && c != '(' &&
	       c != ')' && c != '\\';
}

static bool begin_arg(struct ms_parser *p, enum ms_arg_kind kind)
{
	if (p->n_args == MS_MAX_ARGS)
		return false;
	p->args[p->n_args].kind = kind;
	p->args[p->n_args].off = p->data.len;
	p->args[p->n_args].len = 0;
	return true;
}

static void end_arg(struct ms_parser *p)
{
	struct ms_arg *a = &p->args[p->n_args++];

	a->len = p->data.len - a->off;
	buf_putc(&p->data, '\0');	/* room kept by the buffer's maximum */
}

/* Append to the current token, bounded by MS_TOKEN_MAX (literals by the
   cap checked at their header). */
static bool token_add(struct ms_parser *p, const char *s, size_t n, bool literal)
{
	size_t have = p->data.len - p->args[p->n_args].off;

	if (!literal && have + n > MS_TOKEN_MAX)
		return false;
	return buf_append(&p->data, s, n) > 0;
}

/* A syntax error at the octet c: skip the rest of the line (none if c
   ended it). */
static size_t fail(struct ms_parser *p, unsigned char c, const char *why, enum ms_event *ev,
		   size_t used)
{
	p->error = why;
	p->state = S_SKIP_LINE;
	p->skip_brace = 0;
	if (c == '\n') {
		p->state = S_START;
		p->complete = true;	/* cleared at the next call */
	}
	*ev = MS_ERROR;
	return used;
}

/* A new command: forget the last one. */
static void clear(struct ms_parser *p)
{
	buf_reset(&p->data);
	p->n_args = 0;
}

/* Skipping a bad line: notice "{n}" or "{n+}" right before its end, whose
   octets belong to the line. */
static void skip_track(struct ms_parser *p, unsigned char c)
{
	if (c == '{') {
		p->skip_brace = 1;
		p->skip_number = 0;
	} else if (p->skip_brace == 1 && c >= '0' && c <= '9' &&
		   p->skip_number < UINT64_MAX / 10 - 10) {
		p->skip_number = p->skip_number * 10 + (c - '0');
	} else if (p->skip_brace == 1 && c == '+') {
		p->skip_brace = 2;
	} else if (p->skip_brace >= 1 && c == '}') {
		p->skip_brace = 3;
	} else if (p->skip_brace == 3 && c == '\r') {
		p->skip_brace = 4;
	} else {
		p->skip_brace = 0;
	}
}

size_t ms_parse(struct ms_parser *p, const char *in, size_t len, enum ms_event *ev)
{
	size_t i = 0;

	*ev = MS_MORE;
	if (p->complete) {
		clear(p);
		p->complete = false;
	}
	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		switch (p->state) {
		case S_LITERAL: {
			size_t n = len - i < p->skip ? len - i : (size_t)p->skip;
			if (!token_add(p, in + i, n, true))
				return fail(p, 0, "literal too large", ev, i);
			i += n;
			p->skip -= n;
			if (p->skip == 0) {
				end_arg(p);
				p->state = S_AFTER;
			}
			continue;
		}
		case S_SKIP_LITERAL: {
			size_t n = len - i < p->skip ? len - i : (size_t)p->skip;
			i += n;
			p->skip -= n;
			if (p->skip == 0) {
				p->state = S_SKIP_LINE;
				p->skip_brace = 0;
			}
			continue;
		}
		default:
			break;
		}
		i++;
		switch (p->state) {
		case S_START:
			if (c == ' ')
				break;
			if (c == '\r') {
				p->state = S_CR;
			} else if (c == '\n') {
				if (p->n_args == 0)
					break;	/* an empty line is no command */
				p->complete = true;
				*ev = MS_COMMAND;
				return i;
			} else if (c == '"') {
				if (!begin_arg(p, MS_STRING))
					return fail(p, c, "too many arguments", ev, i);
				p->state = S_QUOTED;
			} else if (c == '{') {
				if (!begin_arg(p, MS_STRING))
					return fail(p, c, "too many arguments", ev, i);
				p->number = 0;
				p->digits = 0;
				p->state = S_LIT_NUM;
			} else if (atom_char(c)) {
				if (!begin_arg(p, MS_ATOM))
					return fail(p, c, "too many arguments", ev, i);
				token_add(p, (const char *)&c, 1, false);
				p->state = S_ATOM;
			} else {
				return fail(p, c, "unexpected character", ev, i);
			}
			break;
		case S_ATOM:
			if (atom_char(c)) {
				if (!token_add(p, (const char *)&c, 1, false))
					return fail(p, c, "atom too long", ev, i);
				break;
			}
			end_arg(p);
			if (c == ' ') {
				p->state = S_START;
			} else if (c == '\r') {
				p->state = S_CR;
			} else if (c == '\n') {
				p->state = S_START;
				p->complete = true;
				*ev = MS_COMMAND;
				return i;
			} else {
				return fail(p, c, "unexpected character after an atom", ev, i);
			}
			break;
		case S_QUOTED:
			if (c == '\\') {
				p->state = S_QUOTED_ESC;
			} else if (c == '"') {
				end_arg(p);
				p->state = S_AFTER;
			} else if (c == '\r' || c == '\n' || c == '\0') {
				return fail(p, c, "CR, LF or NUL in a quoted string", ev, i);
			} else if (!token_add(p, (const char *)&c, 1, false)) {
				return fail(p, c, "quoted string too long", ev, i);
			}
			break;
		case S_QUOTED_ESC:
			if (c != '"' && c != '\\')
				return fail(p, c, "bad escape in a quoted string", ev, i);
			if (!token_add(p, (const char *)&c, 1, false))
				return fail(p, c, "quoted string too long", ev, i);
			p->state = S_QUOTED;
			break;
		case S_LIT_NUM:
			if (c >= '0' && c <= '9' && p->digits < LITERAL_DIGITS) {
				p->number = p->number * 10 + (c - '0');
				p->digits++;
			} else if (c == '+' && p->digits > 0) {
				p->state = S_LIT_PLUS;
			} else if (c == '}' && p->digits > 0) {
				p->state = S_LIT_CR;
			} else {
				return fail(p, c, "bad literal length", ev, i);
			}
			if (p->state == S_LIT_CR && p->number > p->literal_max)
				goto too_big;
			break;
		case S_LIT_PLUS:
			if (c != '}')
				return fail(p, c, "bad literal length", ev, i);
			p->state = S_LIT_CR;
			if (p->number > p->literal_max)
				goto too_big;
			break;
		case S_LIT_CR:
			if (c == '\r') {
				p->state = S_LIT_LF;
				break;
			}
			/* fall through */
		case S_LIT_LF:
			if (c != '\n')
				return fail(p, c, "literal header not followed by CRLF", ev, i);
			p->skip = p->number;
			p->state = S_LITERAL;
			if (p->skip == 0) {
				end_arg(p);
				p->state = S_AFTER;
			}
			break;
		case S_AFTER:
			if (c == ' ') {
				p->state = S_START;
			} else if (c == '\r') {
				p->state = S_CR;
			} else if (c == '\n') {
				p->state = S_START;
				p->complete = true;
				*ev = MS_COMMAND;
				return i;
			} else {
				return fail(p, c, "a string must be followed by a space or CRLF", ev, i);
			}
			break;
		case S_CR:
			if (c != '\n')
				return fail(p, c, "CR not followed by LF", ev, i);
			p->state = S_START;
			if (p->n_args == 0)
				break;	/* an empty line is no command */
			p->complete = true;
			*ev = MS_COMMAND;
			return i;
		case S_SKIP_LINE:
			if (c == '\n' && p->skip_brace >= 3) {
				p->skip = p->skip_number;
				p->state = S_SKIP_LITERAL;
				p->skip_brace = 0;
			} else if (c == '\n') {
				p->state = S_START;
				clear(p);
			} else {
				skip_track(p, c);
			}
			break;
		}
	}
	return i;

too_big:
	/* refused on its header: its octets (after CRLF) are skipped */
	p->error = "literal too large";
	p->skip_number = p->number;
	p->skip_brace = 3;
	p->state = S_SKIP_LINE;
	*ev = MS_TOO_BIG;
	return i;
}
