#ifndef CORREIO_IMAP_UTF7_H
#define CORREIO_IMAP_UTF7_H
/*
 * imap_utf7: the modified UTF-7 of IMAP4rev1 mailbox names (RFC 3501
 * §5.1.3), to and from UTF-8.  IMAP4rev2 and UTF8=ACCEPT clients send
 * UTF-8 names; IMAP4rev1 clients send and expect this form.  Pure.
 *
 * Both directions are strict: only the one encoding an RFC 3501 encoder
 * produces is accepted (printable ASCII is never base64-encoded, every
 * base64 run ends with "-" and has no leftover bits, surrogates pair up,
 * no two runs touch), and UTF-8 must be well formed.  NUL is refused.
 *
 * Each function returns 1, or -1 on a bad input or if out refused to
 * grow; out is then unchanged.
 */
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* UTF-8 s[0..len) -> modified UTF-7 appended to out. */
int imap_utf7_encode(const char *s, size_t len, struct buf *out);
/* Modified UTF-7 s[0..len) -> UTF-8 appended to out. */
int imap_utf7_decode(const char *s, size_t len, struct buf *out);
/* Whether s[0..len) is valid modified UTF-7. */
bool imap_utf7_is_valid(const char *s, size_t len);

#endif
