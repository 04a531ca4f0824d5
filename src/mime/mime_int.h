#ifndef CORREIO_MIME_INT_H
#define CORREIO_MIME_INT_H
/*
 * mime_int: what the files of src/mime share and nobody else uses: the
 * arena a message's parts and strings live in, the structured-field lexer
 * (RFC 5322 §3.2 / RFC 2045 §5.1 tokens, quoted strings, comments) and a
 * few byte helpers.  Not part of the interface; include mime.h instead.
 */
#include "mime.h"
#include "lib/arena.h"

/* ---- lexer ------------------------------------------------------------ */

/* RFC 5322 specials, and RFC 2045 tspecials */
#define MIME_LEX_SPECIALS "()<>[]:;@\\,.\""
#define MIME_LEX_TSPECIALS "()<>@,;:\\\"/[]?="

struct mime_lex {
	const char *s;
	size_t pos, len;
};

void mime_lex_init(struct mime_lex *l, const char *s, size_t len);
bool mime_lex_eof(const struct mime_lex *l);
/* The current byte, or -1 at the end. */
int mime_lex_peek(const struct mime_lex *l);
/*
 * Skip blanks, line breaks and (nested) comments.  When comment is not
 * NULL it receives the text of the last comment skipped.  Returns true
 * when anything was skipped.
 */
bool mime_lex_cfws(struct mime_lex *l, struct buf *comment);
/*
 * At a DQUOTE: append the unescaped content to out and, if raw is not
 * NULL, the text as written (quotes included).  An unterminated string
 * runs to the end.  Returns 1 or -1 (a buffer is full).
 */
int mime_lex_quoted(struct mime_lex *l, struct buf *out, struct buf *raw);
/*
 * Append the run of bytes that are not blank, control, or in specials.
 * Returns its length (0: none here), or -1 when out is full.
 */
int mime_lex_atom(struct mime_lex *l, const char *specials, struct buf *out);

/* ---- helpers ------------------------------------------------------------ */

static inline bool mime_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* Trim blanks (and CR, LF) at both ends of p[0..*n); returns the start. */
const char *mime_trim(const char *p, size_t *n);
/* ASCII case-insensitive comparison of p[0..n) with the C string s. */
bool mime_ieq(const char *p, size_t n, const char *s);
/* Upper-case ASCII copy of p[0..n) in the arena. */
char *mime_arena_upper(struct arena *a, const char *p, size_t n);
/* Append as much of p[0..n) as fits.  Returns 1, or -1 if cut. */
int mime_buf_put(struct buf *out, const void *p, size_t n);

/* mime_cte.c: the length mime_cte_decode() would append. */
uint64_t mime_cte_size(enum mime_cte cte, const char *in, size_t n,
		       bool crlf);

/* mime_param.c: parse a Content-Type / -Disposition value into part. */
void mime_param_parse_type(struct arena *a, struct mime_part *part,
			   const char *value, size_t len);
void mime_param_parse_disposition(struct arena *a,
				  struct mime_part *part, const char *value,
				  size_t len);

#endif
