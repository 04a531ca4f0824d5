/*
 * mime_lex.c - the lexer for structured header fields, used by the
 * Content-Type / Content-Disposition parameter parser and the address list
 * parser.  Lenient: 8-bit bytes are atom text, an unterminated comment or
 * quoted string runs to the end of the value.
 *
 *   quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS]
 *   qcontent      = qtext / quoted-pair
 *   quoted-pair   = "\" (VCHAR / WSP)
 *   comment       = "(" *([FWS] ccontent) [FWS] ")"
 *   ccontent      = ctext / quoted-pair / comment
 *   atom          = [CFWS] 1*atext [CFWS]        (RFC 5322 §3.2.3)
 *   token         = 1*<any CHAR except SPACE, CTLs, or tspecials>
 *                                                (RFC 2045 §5.1)
 */
#include "mime_int.h"

#include <string.h>

#define LEX_COMMENT_DEPTH 32

void mime_lex_init(struct mime_lex *l, const char *s, size_t len)
{
	l->s = s;
	l->pos = 0;
	l->len = len;
}

bool mime_lex_eof(const struct mime_lex *l)
{
	return l->pos >= l->len;
}

int mime_lex_peek(const struct mime_lex *l)
{
	return l->pos < l->len ? (unsigned char)l->s[l->pos] : -1;
}

/* At "(": skip the comment, keeping its text (outer parentheses off). */
static void lex_comment(struct mime_lex *l, struct buf *comment)
{
	unsigned int depth = 0;
	char c;

	if (comment != NULL)
		buf_reset(comment);
	while (l->pos < l->len) {
		c = l->s[l->pos++];
		if (c == '\\' && l->pos < l->len)
			c = l->s[l->pos++];
		else if (c == '(' && ++depth == 1)
			continue;
		else if (c == ')' && --depth == 0)
			return;
		if (depth > LEX_COMMENT_DEPTH)
			depth = LEX_COMMENT_DEPTH;
		if (comment != NULL && c != '\r' && c != '\n')
			mime_buf_put(comment, &c, 1);
	}
}

bool mime_lex_cfws(struct mime_lex *l, struct buf *comment)
{
	size_t start = l->pos;
	char c;

	while (l->pos < l->len) {
		c = l->s[l->pos];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			l->pos++;
		else if (c == '(')
			lex_comment(l, comment);
		else
			break;
	}
	return l->pos != start;
}

int mime_lex_quoted(struct mime_lex *l, struct buf *out, struct buf *raw)
{
	size_t start = l->pos;
	int ret = 1;
	char c;

	l->pos++;	/* the opening quote */
	while (l->pos < l->len) {
		c = l->s[l->pos++];
		if (c == '"')
			break;
		if (c == '\\' && l->pos < l->len)
			c = l->s[l->pos++];
		else if (c == '\r' || c == '\n')
			continue;
		if (out != NULL && buf_putc(out, c) < 0)
			ret = -1;
	}
	if (raw != NULL && buf_append(raw, l->s + start, l->pos - start) < 0)
		ret = -1;
	return ret;
}

int mime_lex_atom(struct mime_lex *l, const char *specials, struct buf *out)
{
	size_t start = l->pos;
	unsigned char c;

	while (l->pos < l->len) {
		c = (unsigned char)l->s[l->pos];
		if (c <= ' ' || c == 0x7f || strchr(specials, c) != NULL)
			break;
		l->pos++;
	}
	if (out != NULL && buf_append(out, l->s + start, l->pos - start) < 0)
		return -1;
	return (int)(l->pos - start > 0x7fffffff ? 0x7fffffff :
		     l->pos - start);
}
