#ifndef CORREIO_IMAP_QUOTE_H
#define CORREIO_IMAP_QUOTE_H
/*
 * imap_quote: writing strings into IMAP responses (RFC 9051 §4.3, §9) as
 * atom, quoted string or literal, whichever the text allows.  Pure.
 *
 * A quoted string cannot hold CR, LF or NUL; 8-bit text only when the
 * client accepts UTF-8 (IMAP4rev2 or ENABLE UTF8=ACCEPT, RFC 6855) and
 * the text is valid UTF-8.  Anything else goes as a literal "{n}" CRLF
 * data; text holding NUL as a literal8 "~{n}", which only BINARY
 * (RFC 3516) responses allow: callers that may meet NULs elsewhere must
 * remove them first.
 *
 * Every function returns 1, or -1 if out refused to grow; out is then
 * unchanged.
 */
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Whether s[0..len) may go as an astring atom: 1*ASTRING-CHAR, not NIL. */
bool imap_quote_is_atom(const char *s, size_t len);
/* Whether s[0..len) may go as a quoted string (see above for utf8). */
bool imap_quote_is_quotable(const char *s, size_t len, bool utf8);

/* astring: atom, else quoted, else literal (mailbox names, LIST). */
int imap_quote_astring(struct buf *out, const char *s, size_t len, bool utf8);
/* string: quoted, else literal (never an atom). */
int imap_quote_string(struct buf *out, const char *s, size_t len, bool utf8);
/* nstring: NIL when s is NULL, else as imap_quote_string(). */
int imap_quote_nstring(struct buf *out, const char *s, size_t len, bool utf8);
/* Always quoted: DQUOTE, "\" before DQUOTE and "\", DQUOTE.  The caller
   has checked imap_quote_is_quotable(). */
int imap_quote_quoted(struct buf *out, const char *s, size_t len);
/* Always a literal: "{len}" CRLF s, or "~{len}" when s holds a NUL. */
int imap_quote_literal(struct buf *out, const char *s, size_t len);

#endif
