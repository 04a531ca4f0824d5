#ifndef CORREIO_XTEXT_H
#define CORREIO_XTEXT_H
/*
 * xtext: the encoding of the DSN parameters ENVID= and ORCPT= (RFC 3461 §4).
 *
 *   xtext   = *( xchar / hexchar )
 *   xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *             except for "+" and "="
 *   hexchar = "+" 2(HEXDIGIT)      ; upper case on output
 *
 * Pure; the output goes to a struct buf.
 */
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * Decode in[0..len) and append the result to out.  Lower-case hex digits
 * and a bare "=" are accepted (be liberal in what is read); any byte
 * outside 33..126 or a "+" without two hex digits is refused.  The result
 * may contain any byte, NUL included: check it before use.
 * Returns 1, or -1 (bad syntax or out full; out is then left as it was).
 */
int xtext_decode(const char *in, size_t len, struct buf *out);

/* Encode in[0..len) and append it to out.  Returns 1, or -1 (out full;
   out is then left as it was). */
int xtext_encode(const char *in, size_t len, struct buf *out);

/* Is s[0..len) valid xtext as xtext_decode() reads it? */
bool xtext_valid(const char *s, size_t len);

#endif
