#ifndef CORREIO_JMAP_PARSE_H
#define CORREIO_JMAP_PARSE_H
/*
 * jmap_parse: pure text parsers of src/jmap (see jmap_parse.c).  json
 * values returned belong to the caller.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

/* An RFC 5322 date-time ("Sat, 05 Dec 2026 10:00:00 +0100", day name and
   seconds optional): 1 with the moment (UTC) and the zone's offset in
   seconds, or -1. */
int jmap_parse_date(const char *s, time_t *t_r, long *off_r);
/* p[0..n) as a JSON string, bytes that are not UTF-8 replaced (U+FFFD). */
json_t *jmap_utf8_string(const char *p, size_t n);
/* A list in mime_address_text()'s form ("Name <a@b> <c@d>") as RFC 8621
   EmailAddress objects [{name, email}], names RFC 2047-decoded. */
json_t *jmap_parse_addresses(const char *s, size_t n);
/* May a download be sent with type t (type/subtype, nothing a browser
   would render as a page or run)? */
bool jmap_type_safe(const char *t);
/* "Basic <base64(user:password)>": out gets "user\0password\0", *pass_r
   points at the password in it.  1, or -1 when malformed (no colon, a NUL
   inside, bad scheme). */
int jmap_parse_basic(const char *header, struct buf *out, const char **pass_r);

/*
 * The header section of a message being submitted (p[0..n), LF or CRLF
 * line ends), as it goes out: every field but Bcc (RFC 8621 §7: the
 * server removes it), continuation lines included, into out, which ends
 * with a line end.  Returns the offset of the empty line that ends the
 * section (n when there is none: the header is all), and in *missing_r
 * which of Date and Message-ID it lacks.
 */
#define JMAP_MISSING_DATE 0x1
#define JMAP_MISSING_MESSAGE_ID 0x2
size_t jmap_parse_submission_header(const char *p, size_t n, struct buf *out,
				    unsigned *missing_r);

/*
 * SearchSnippet text (RFC 8621 §5): text[0..len) with white space runs
 * made single spaces, HTML-escaped (& < > " '), every occurrence of a term
 * (ASCII letters in any case; the longest term where several start) in
 * <mark></mark>.  With max_chars, at most that many characters from a
 * little (SNIPPET_LEAD bytes, at most a quarter of max_chars) before the
 * first match; 0 keeps the whole.
 * Returns 1 with the snippet appended to out, 0 when no term occurs (out
 * untouched).  Terms are non-empty.
 */
#define SNIPPET_LEAD 40
int jmap_parse_highlight(const char *text, size_t len, const char *const *terms, unsigned n,
			 size_t max_chars, struct buf *out);

/*
 * Header text for Email/set create: an unstructured value (Subject, a
 * display name) as is when it is printable ASCII, else as RFC 2047
 * encoded words (UTF-8, B), at most 45 bytes each, cut between
 * characters, each after the first on a folded line of its own ("\n ");
 * so no line end of the value itself gets through.
 */
void jmap_format_text(struct buf *out, const char *s);
/* An address: "Name" <email> (the name quoted, or encoded words), or
   <email>.  email must have been checked (no white space or line end). */
void jmap_format_address(struct buf *out, const char *name, const char *email);

#endif
