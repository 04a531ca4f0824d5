/*
 * sieve_parse.c - the Sieve lexer and parser (RFC 5228 section 8): an
 * explicit state machine over the script buffer producing tokens, and a
 * recursive-descent parser (depth capped) building the command tree.
 * Every error carries the line where it was found.  After parsing, a
 * check pass verifies that each command and test is known, that its
 * extension was required, and that arguments have the right shape.
 */
#include "sieve/sieve_private.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"

enum tok_type {
	TOK_EOF, TOK_IDENT, TOK_TAG, TOK_NUM, TOK_STRING,
	TOK_LBRACKET, TOK_RBRACKET, TOK_LPAREN, TOK_RPAREN, TOK_LBRACE,
	TOK_RBRACE, TOK_COMMA, TOK_SEMI,
};

struct lexer {
	const char *p, *end;
	unsigned line;
	enum tok_type type;
	struct buf text;	/* IDENT, TAG, STRING */
	uint64_t num;
	unsigned tok_line;
	char *err;
	size_t err_size;
	bool failed;
};

static int fail(struct lexer *lx, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct lexer *lx, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (lx->failed)
		return -1;
	lx->failed = true;
	n = snprintf(lx->err, lx->err_size, "line %u: ", line);
	if (n < 0 || (size_t)n >= lx->err_size)
		return -1;
	va_start(ap, fmt);
	vsnprintf(lx->err + n, lx->err_size - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Skip white space and comments (# to end of line, bracketed). */
static int skip_space(struct lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			unsigned start = lx->line;
			lx->p += 2;
			for (;;) {
				if (lx->p + 1 >= lx->end)
					return fail(lx, start, "unterminated comment");
				if (lx->p[0] == '*' && lx->p[1] == '/')
					break;
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
			lx->p += 2;
		} else {
			break;
		}
	}
	return 1;
}

static int lex_quoted(struct lexer *lx)
{
	lx->p++;
	for (;;) {
		if (lx->p >= lx->end)
			return fail(lx, lx->tok_line, "unterminated string");
		char c = *lx->p++;
		if (c == '"')
			return 1;
		if (c == '\\') {
			if (lx->p >= lx->end)
				return fail(lx, lx->tok_line, "unterminated string");
			c = *lx->p++;
		}
		if (c == '\n')
			lx->line++;
		if (buf_putc(&lx->text, c) < 0)
			return fail(lx, lx->tok_line, "string too long");
	}
}

/* "text:" then lines up to a line of a single "."; a leading ".." is
   unstuffed. */
static int lex_multiline(struct lexer *lx)
{
	lx->p += 5;
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p < lx->end && *lx->p == '#')
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
	if (lx->p < lx->end && *lx->p == '\r')
		lx->p++;
	if (lx->p >= lx->end || *lx->p != '\n')
		return fail(lx, lx->line, "expected a new line after text:");
	lx->p++;
	lx->line++;
	for (;;) {
		const char *nl = memchr(lx->p, '\n', lx->end - lx->p);
		size_t len;
		if (nl == NULL)
			return fail(lx, lx->tok_line, "unterminated multi-line string");
		len = nl - lx->p;
		if (len > 0 && lx->p[len - 1] == '\r')
			len--;
		if (len == 1 && lx->p[0] == '.') {
			lx->p = nl + 1;
			lx->line++;
			return 1;
		}
		const char *s = lx->p;
		if (len > 1 && s[0] == '.' && s[1] == '.')
			s++, len--;
		if (buf_append(&lx->text, s, len) < 0 || buf_puts(&lx->text, "\r\n") < 0)
			return fail(lx, lx->tok_line, "string too long");
		lx->p = nl + 1;
		lx->line++;
	}
}

/* The next token into lx.  Returns 1 or -1. */
static int lex(struct lexer *lx)
{
	char c;

	buf_reset(&lx->text);
	if (skip_space(lx) < 0)
		return -1;
	lx->tok_line = lx->line;
	if (lx->p >= lx->end) {
		lx->type = TOK_EOF;
		return 1;
	}
	c = *lx->p;
	switch (c) {
	case '[': lx->type = TOK_LBRACKET; lx->p++; return 1;
	case ']': lx->type = TOK_RBRACKET; lx->p++; return 1;
	case '(': lx->type = TOK_LPAREN; lx->p++; return 1;
	case ')': lx->type = TOK_RPAREN; lx->p++; return 1;
	case '{': lx->type = TOK_LBRACE; lx->p++; return 1;
	case '}': lx->type = TOK_RBRACE; lx->p++; return 1;
	case ',': lx->type = TOK_COMMA; lx->p++; return 1;
	case ';': lx->type = TOK_SEMI; lx->p++; return 1;
	case '"':
		lx->type = TOK_STRING;
		return lex_quoted(lx);
	default:
		break;
	}
	if (isdigit((unsigned char)c)) {
		uint64_t v = 0;
		while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
			if (v > (UINT64_MAX - 9) / 10)
				return fail(lx, lx->line, "number too large");
			v = v * 10 + (*lx->p++ - '0');
		}
		if (lx->p < lx->end) {
			unsigned shift = 0;
			switch (*lx->p) {
			case 'K': case 'k': shift = 10; break;
			case 'M': case 'm': shift = 20; break;
			case 'G': case 'g': shift = 30; break;
			}
			if (shift != 0) {
				if (v > (UINT64_MAX >> shift))
					return fail(lx, lx->line, "number too large");
				v <<= shift;
				lx->p++;
			}
		}
		lx->type = TOK_NUM;
		lx->num = v;
		return 1;
	}
	if (c == ':' || isalpha((unsigned char)c) || c == '_') {
		bool tag = c == ':';
		if (!tag && lx->end - lx->p >= 5 && strncasecmp(lx->p, "text:", 5) == 0) {
			lx->type = TOK_STRING;
			return lex_multiline(lx);
		}
		if (tag)
			lx->p++;
		if (lx->p >= lx->end || !(isalpha((unsigned char)*lx->p) || *lx->p == '_'))
			return fail(lx, lx->line, "bad tag");
		while (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '_'))
			if (buf_putc(&lx->text, tolower((unsigned char)*lx->p++)) < 0)
				return fail(lx, lx->line, "identifier too long");
		lx->type = tag ? TOK_TAG : TOK_IDENT;
		return 1;
	}
	return fail(lx, lx->line, "unexpected character '%c'", isprint((unsigned char)c) ? c : '?');
}

/* ---- parser ---- */

static char *take_text(struct lexer *lx)
{
	char *s = xmalloc(lx->text.len + 1);

	if (lx->text.len > 0)
		memcpy(s, lx->text.data, lx->text.len);
	s[lx->text.len] = '\0';
	return s;
}

static struct sv_node *node_new(struct lexer *lx)
{
	struct sv_node *n = xcalloc(1, sizeof(*n));

	n->name = take_text(lx);
	n->line = lx->tok_line;
	return n;
}

static struct sv_arg *add_arg(struct sv_node *n)
{
	struct sv_arg *a = xreallocarray(n->args, n->n_args + 1, sizeof(*a));

	n->args = a;
	a = &n->args[n->n_args++];
	memset(a, 0, sizeof(*a));
	return a;
}

static void add_str(struct sv_arg *a, char *s)
{
	char **v = xreallocarray(a->strs, a->n_strs + 1, sizeof(*v));

	a->strs = v;
	a->strs[a->n_strs++] = s;
}

static void add_test(struct sv_node *n, struct sv_node *t)
{
	struct sv_node **v = xreallocarray(n->tests, n->n_tests + 1, sizeof(*v));

	n->tests = v;
	n->tests[n->n_tests++] = t;
}

void sieve_node_free(struct sv_node *n)
{
	while (n != NULL) {
		struct sv_node *next = n->next;
		for (unsigned i = 0; i < n->n_args; i++) {
			free(n->args[i].tag);
			for (unsigned j = 0; j < n->args[i].n_strs; j++)
				free(n->args[i].strs[j]);
			free(n->args[i].strs);
		}
		free(n->args);
		for (unsigned i = 0; i < n->n_tests; i++)
			sieve_node_free(n->tests[i]);
		free(n->tests);
		sieve_node_free(n->block);
		free(n->name);
		free(n);
		n = next;
	}
}

static int parse_test(struct lexer *lx, struct sv_node **r, unsigned depth);

/* arguments *argument [test / test-list]; lx holds the first token after
   the identifier and is left on the token that ends the arguments. */
static int parse_arguments(struct lexer *lx, struct sv_node *n, unsigned depth)
{
	for (;;) {
		struct sv_arg *a;
		if (lx->type == TOK_TAG) {
			a = add_arg(n);
			a->type = SV_ARG_TAG;
			a->tag = take_text(lx);
		} else if (lx->type == TOK_NUM) {
			a = add_arg(n);
			a->type = SV_ARG_NUM;
			a->num = lx->num;
		} else if (lx->type == TOK_STRING) {
			a = add_arg(n);
			a->type = SV_ARG_STRINGS;
			add_str(a, take_text(lx));
		} else if (lx->type == TOK_LBRACKET) {
			a = add_arg(n);
			a->type = SV_ARG_STRINGS;
			for (;;) {
				if (lex(lx) < 0)
					return -1;
				if (lx->type != TOK_STRING)
					return fail(lx, lx->tok_line, "expected a string in the list");
				add_str(a, take_text(lx));
				if (lex(lx) < 0)
					return -1;
				if (lx->type == TOK_RBRACKET)
					break;
				if (lx->type != TOK_COMMA)
					return fail(lx, lx->tok_line, "expected ',' or ']'");
			}
		} else {
			break;
		}
		if (lex(lx) < 0)
			return -1;
	}
	if (lx->type == TOK_IDENT) {
		struct sv_node *t = NULL;
		int ret = parse_test(lx, &t, depth + 1);
		if (t != NULL)
			add_test(n, t);	/* freed with n, also on error */
		if (ret < 0)
			return -1;
	} else if (lx->type == TOK_LPAREN) {
		for (;;) {
			struct sv_node *t;
			if (lex(lx) < 0)
				return -1;
			if (lx->type != TOK_IDENT)
				return fail(lx, lx->tok_line, "expected a test");
			t = NULL;
			int ret = parse_test(lx, &t, depth + 1);
			if (t != NULL)
				add_test(n, t);
			if (ret < 0)
				return -1;
			if (lx->type == TOK_RPAREN)
				break;
			if (lx->type != TOK_COMMA)
				return fail(lx, lx->tok_line, "expected ',' or ')'");
		}
		if (lex(lx) < 0)
			return -1;
	}
	return 1;
}

/* lx on the test's identifier; left on the token after the test. */
static int parse_test(struct lexer *lx, struct sv_node **r, unsigned depth)
{
	struct sv_node *n;

	*r = NULL;
	if (depth > SIEVE_MAX_DEPTH)
		return fail(lx, lx->tok_line, "tests nested too deeply");
	n = node_new(lx);
	*r = n;
	if (lex(lx) < 0)
		return -1;
	return parse_arguments(lx, n, depth);
}

/* Commands until '}' (in a block) or the end. */
static int parse_commands(struct lexer *lx, struct sv_node **first, unsigned depth)
{
	struct sv_node **tail = first;

	if (depth > SIEVE_MAX_DEPTH)
		return fail(lx, lx->tok_line, "blocks nested too deeply");
	for (;;) {
		struct sv_node *n;
		if (lex(lx) < 0)
			return -1;
		if (lx->type == TOK_EOF) {
			if (depth > 0)
				return fail(lx, lx->tok_line, "missing '}'");
			return 1;
		}
		if (lx->type == TOK_RBRACE) {
			if (depth == 0)
				return fail(lx, lx->tok_line, "unexpected '}'");
			return 1;
		}
		if (lx->type != TOK_IDENT)
			return fail(lx, lx->tok_line, "expected a command");
		n = node_new(lx);
		*tail = n;
		tail = &n->next;
		if (lex(lx) < 0 || parse_arguments(lx, n, depth) < 0)
			return -1;
		if (lx->type == TOK_LBRACE) {
			n->has_block = true;
			if (parse_commands(lx, &n->block, depth + 1) < 0)
				return -1;
		} else if (lx->type != TOK_SEMI) {
			return fail(lx, lx->tok_line, "expected ';' after %s", n->name);
		}
	}
}

/* ---- checks ---- */

static const struct {
	const char *name;
	unsigned bit;
} extensions[] = {
	{ "fileinto", SV_EXT_FILEINTO }, { "mailbox", SV_EXT_MAILBOX },
	{ "envelope", SV_EXT_ENVELOPE }, { "body", SV_EXT_BODY },
	{ "variables", SV_EXT_VARIABLES }, { "imap4flags", SV_EXT_IMAP4FLAGS },
	{ "relational", SV_EXT_RELATIONAL }, { "regex", SV_EXT_REGEX },
	{ "copy", SV_EXT_COPY }, { "reject", SV_EXT_REJECT },
	{ "ereject", SV_EXT_EREJECT }, { "subaddress", SV_EXT_SUBADDRESS },
	{ "comparator-i;ascii-numeric", SV_EXT_COMPARATOR_NUMERIC },
	{ "vacation", SV_EXT_VACATION }, { "include", SV_EXT_INCLUDE },
	{ "date", SV_EXT_DATE }, { "index", SV_EXT_INDEX },
	{ "comparator-i;octet", 0 }, { "comparator-i;ascii-casemap", 0 },
};

void sieve_extensions_text(char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		int n = snprintf(out + used, size - used, "%s%s", used ? " " : "",
				 extensions[i].name);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

unsigned sieve_extension(const char *name)
{
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		if (strcmp(extensions[i].name, name) == 0)
			return extensions[i].bit ? extensions[i].bit : 1u << 31;
	return 0;
}

struct known {
	const char *name;
	unsigned ext;		/* required extension, 0 for the base */
	unsigned min_strings;	/* positional string-list arguments */
	unsigned max_strings;
	bool test;
	int n_tests;		/* -1: a test-list, else exactly this many */
	bool block;
};

static const struct known commands[] = {
	{ "require", 0, 1, 1, false, 0, false },
	{ "if", 0, 0, 0, false, 1, true },
	{ "elsif", 0, 0, 0, false, 1, true },
	{ "else", 0, 0, 0, false, 0, true },
	{ "stop", 0, 0, 0, false, 0, false },
	{ "keep", 0, 0, 0, false, 0, false },
	{ "discard", 0, 0, 0, false, 0, false },
	{ "redirect", 0, 1, 1, false, 0, false },
	{ "fileinto", SV_EXT_FILEINTO, 1, 1, false, 0, false },
	{ "reject", SV_EXT_REJECT, 1, 1, false, 0, false },
	{ "ereject", SV_EXT_EREJECT, 1, 1, false, 0, false },
	{ "set", SV_EXT_VARIABLES, 2, 2, false, 0, false },
	{ "vacation", SV_EXT_VACATION, 1, 1, false, 0, false },
	{ "include", SV_EXT_INCLUDE, 1, 1, false, 0, false },
	{ "return", SV_EXT_INCLUDE, 0, 0, false, 0, false },
	{ "global", SV_EXT_INCLUDE, 1, 1, false, 0, false },
	{ "setflag", SV_EXT_IMAP4FLAGS, 1, 2, false, 0, false },
	{ "addflag", SV_EXT_IMAP4FLAGS, 1, 2, false, 0, false },
	{ "removeflag", SV_EXT_IMAP4FLAGS, 1, 2, false, 0, false },
	{ "address", 0, 2, 2, true, 0, false },
	{ "envelope", SV_EXT_ENVELOPE, 2, 2, true, 0, false },
	{ "header", 0, 2, 2, true, 0, false },
	{ "exists", 0, 1, 1, true, 0, false },
	{ "size", 0, 0, 0, true, 0, false },
	{ "allof", 0, 0, 0, true, -1, false },
	{ "anyof", 0, 0, 0, true, -1, false },
	{ "not", 0, 0, 0, true, 1, false },
	{ "true", 0, 0, 0, true, 0, false },
	{ "false", 0, 0, 0, true, 0, false },
	{ "body", SV_EXT_BODY, 1, 1, true, 0, false },
	{ "string", SV_EXT_VARIABLES, 2, 2, true, 0, false },
	{ "hasflag", SV_EXT_IMAP4FLAGS, 1, 2, true, 0, false },
	{ "date", SV_EXT_DATE, 3, 3, true, 0, false },
	{ "currentdate", SV_EXT_DATE, 2, 2, true, 0, false },
};

/* Tags that take an argument: the tag and the extension it needs. */
static const struct {
	const char *tag;
	unsigned ext;
	bool has_value;
} tags[] = {
	{ "is", 0, false }, { "contains", 0, false }, { "matches", 0, false },
	{ "regex", SV_EXT_REGEX, false }, { "comparator", 0, true },
	{ "all", 0, false }, { "localpart", 0, false }, { "domain", 0, false },
	{ "user", SV_EXT_SUBADDRESS, false }, { "detail", SV_EXT_SUBADDRESS, false },
	{ "over", 0, false }, { "under", 0, false },
	{ "count", SV_EXT_RELATIONAL, true }, { "value", SV_EXT_RELATIONAL, true },
	{ "raw", SV_EXT_BODY, false }, { "text", SV_EXT_BODY, false },
	{ "content", SV_EXT_BODY, true }, { "create", SV_EXT_MAILBOX, false },
	{ "copy", SV_EXT_COPY, false }, { "flags", SV_EXT_IMAP4FLAGS, true },
	{ "lower", SV_EXT_VARIABLES, false }, { "upper", SV_EXT_VARIABLES, false },
	{ "lowerfirst", SV_EXT_VARIABLES, false }, { "upperfirst", SV_EXT_VARIABLES, false },
	{ "quotewildcard", SV_EXT_VARIABLES, false }, { "length", SV_EXT_VARIABLES, false },
	{ "days", SV_EXT_VACATION, false }, { "subject", SV_EXT_VACATION, true },
	{ "from", SV_EXT_VACATION, true }, { "addresses", SV_EXT_VACATION, true },
	{ "mime", SV_EXT_VACATION, false }, { "handle", SV_EXT_VACATION, true },
	{ "personal", SV_EXT_INCLUDE, false }, { "once", SV_EXT_INCLUDE, false },
	{ "optional", SV_EXT_INCLUDE, false }, { "global", SV_EXT_INCLUDE, false },
	{ "zone", SV_EXT_DATE, true }, { "originalzone", SV_EXT_DATE, false },
	{ "index", SV_EXT_INDEX, false }, { "last", SV_EXT_INDEX, false },
};

static int check_node(struct lexer *lx, struct sieve_script *s, struct sv_node *n,
		      bool test, bool *allow_require);

#define MATCH_TAGS " is contains matches regex count value comparator "
#define ADDRESS_TAGS " all localpart domain user detail "

/* The tags each command or test takes; any other is an error, as in
   Pigeonhole (a stray ":over" on redirect took its address away). */
static const struct {
	const char *name;
	const char *tags;	/* space-separated, with a space at each end */
} command_tags[] = {
	{ "address", MATCH_TAGS ADDRESS_TAGS " index last " },
	{ "envelope", MATCH_TAGS ADDRESS_TAGS },
	{ "header", MATCH_TAGS " index last " },
	{ "size", " over under " },
	{ "body", MATCH_TAGS " raw text content " },
	{ "string", MATCH_TAGS },
	{ "hasflag", MATCH_TAGS },
	{ "date", MATCH_TAGS " zone originalzone index last " },
	{ "currentdate", MATCH_TAGS " zone " },
	{ "fileinto", " create copy flags " },
	{ "redirect", " copy " },
	{ "keep", " flags " },
	{ "set", " lower upper lowerfirst upperfirst quotewildcard length " },
	{ "vacation", " days subject from addresses mime handle " },
	{ "include", " personal global once optional " },
};

static bool tag_fits(const char *command, const char *tag)
{
	size_t len = strlen(tag);

	for (size_t i = 0; i < sizeof(command_tags) / sizeof(command_tags[0]); i++) {
		const char *p;
		if (strcmp(command_tags[i].name, command) != 0)
			continue;
		for (p = strstr(command_tags[i].tags, tag); p != NULL; p = strstr(p + 1, tag))
			if (p[-1] == ' ' && p[len] == ' ')
				return true;
		return false;
	}
	return false;
}

static int check_block(struct lexer *lx, struct sieve_script *s, struct sv_node *first,
		       bool top)
{
	bool allow_require = top;
	const char *prev = NULL;

	for (struct sv_node *n = first; n != NULL; n = n->next) {
		if ((strcmp(n->name, "elsif") == 0 || strcmp(n->name, "else") == 0) &&
		    (prev == NULL || (strcmp(prev, "if") != 0 && strcmp(prev, "elsif") != 0)))
			return fail(lx, n->line, "%s without if", n->name);
		if (check_node(lx, s, n, false, &allow_require) < 0)
			return -1;
		prev = n->name;
	}
	return 1;
}

static int check_node(struct lexer *lx, struct sieve_script *s, struct sv_node *n,
		      bool test, bool *allow_require)
{
	const struct known *k = NULL;
	unsigned strings = 0;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, n->name) == 0 && commands[i].test == test)
			k = &commands[i];
	if (k == NULL)
		return fail(lx, n->line, "unknown %s '%s'", test ? "test" : "command", n->name);
	if (k->ext != 0 && !(s->extensions & k->ext))
		return fail(lx, n->line, "'%s' needs require", n->name);
	/* RFC 6609 3.5: global variables are variables */
	if (strcmp(n->name, "global") == 0 && !(s->extensions & SV_EXT_VARIABLES))
		return fail(lx, n->line, "'global' needs require \"variables\"");
	if (strcmp(n->name, "require") == 0) {
		if (!*allow_require)
			return fail(lx, n->line, "require must come before other commands");
	} else if (!test) {
		*allow_require = false;
	}
	for (unsigned i = 0; i < n->n_args; i++) {
		struct sv_arg *a = &n->args[i];
		if (a->type == SV_ARG_TAG) {
			size_t j;
			for (j = 0; j < sizeof(tags) / sizeof(tags[0]); j++)
				if (strcmp(tags[j].tag, a->tag) == 0)
					break;
			if (j == sizeof(tags) / sizeof(tags[0]))
				return fail(lx, n->line, "unknown tag ':%s'", a->tag);
			if (tags[j].ext != 0 && !(s->extensions & tags[j].ext))
				return fail(lx, n->line, "':%s' needs require", a->tag);
			if (!tag_fits(n->name, a->tag))
				return fail(lx, n->line, "%s takes no ':%s'", n->name, a->tag);
			if (tags[j].has_value) {
				if (i + 1 >= n->n_args || n->args[i + 1].type != SV_ARG_STRINGS)
					return fail(lx, n->line, "':%s' needs a string", a->tag);
				i++;
			}
			if ((strcmp(n->name, "size") == 0 &&
			     (strcmp(a->tag, "over") == 0 || strcmp(a->tag, "under") == 0)) ||
			    strcmp(a->tag, "days") == 0 || strcmp(a->tag, "index") == 0) {
				if (i + 1 >= n->n_args || n->args[i + 1].type != SV_ARG_NUM)
					return fail(lx, n->line, ":%s needs a number", a->tag);
				i++;
			}
		} else if (a->type == SV_ARG_NUM) {
			return fail(lx, n->line, "unexpected number");
		} else {
			strings++;
		}
	}
	if (strings < k->min_strings || strings > k->max_strings)
		return fail(lx, n->line, "wrong number of arguments to %s", n->name);
	if (k->n_tests >= 0 && n->n_tests != (unsigned)k->n_tests)
		return fail(lx, n->line, "%s takes %d test%s", n->name, k->n_tests,
			    k->n_tests == 1 ? "" : "s");
	if (k->n_tests < 0 && n->n_tests == 0)
		return fail(lx, n->line, "%s needs a list of tests", n->name);
	if (k->block != n->has_block)
		return fail(lx, n->line, k->block ? "%s needs a block" : "%s takes no block",
			    n->name);
	if (strcmp(n->name, "require") == 0) {
		for (unsigned i = 0; i < n->args[0].n_strs; i++) {
			unsigned bit = sieve_extension(n->args[0].strs[i]);
			if (bit == 0)
				return fail(lx, n->line, "unsupported extension \"%s\"",
					    n->args[0].strs[i]);
			s->extensions |= bit;
		}
	}
	for (unsigned i = 0; i < n->n_tests; i++)
		if (check_node(lx, s, n->tests[i], true, allow_require) < 0)
			return -1;
	if (n->has_block)
		return check_block(lx, s, n->block, false);
	return 1;
}

int sieve_compile(const char *text, size_t len, struct sieve_script **r,
		  char *err, size_t err_size)
{
	struct lexer lx = { .p = text, .end = text + len, .line = 1,
			    .err = err, .err_size = err_size };
	struct sieve_script *s;
	int ret;

	*r = NULL;
	if (err_size > 0)
		err[0] = '\0';
	if (len > SIEVE_MAX_SCRIPT)
		return fail(&lx, 1, "script larger than %u bytes", SIEVE_MAX_SCRIPT);
	if (memchr(text, '\0', len) != NULL)
		return fail(&lx, 1, "NUL byte in the script");
	s = xcalloc(1, sizeof(*s));
	buf_init(&lx.text, SIEVE_MAX_SCRIPT);
	ret = parse_commands(&lx, &s->first, 0);
	if (ret > 0)
		ret = check_block(&lx, s, s->first, true);
	buf_deinit(&lx.text);
	if (ret < 0) {
		sieve_script_free(&s);
		return -1;
	}
	*r = s;
	return 1;
}

void sieve_script_free(struct sieve_script **sp)
{
	struct sieve_script *s = *sp;

	if (s == NULL)
		return;
	sieve_node_free(s->first);
	free(s);
	*sp = NULL;
}
