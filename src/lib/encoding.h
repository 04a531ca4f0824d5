#ifndef CORREIO_ENCODING_H
#define CORREIO_ENCODING_H
/*
 * encoding: the hex digit and base64 (RFC 4648) helpers every component
 * shares: xtext, quoted-printable, RFC 2047 and RFC 2231 decoders read hex
 * digits through hex_value(); SASL, MIME, IMAP's modified UTF-7 and ACME's
 * JWS use the one base64 alphabet.  Pure; output goes to a struct buf, whose
 * maximum bounds it.
 */
#include <stddef.h>

#include "buf.h"

/* The value (0..15) of the hex digit c (either case), or -1. */
int hex_value(unsigned char c);

/* The value (0..63) of a base64 digit ('+' is 62), or -1.  c63 is the
   64th digit: '/' in RFC 4648 base64, ',' in IMAP's modified base64
   (RFC 3501). */
int base64_digit(unsigned char c, char c63);

/* Decode base64 text (no whitespace, '=' padding required, the bits a
   padded group leaves over zero) into out.  Returns 1, or -1 on bad input
   or when out refuses to grow. */
int base64_decode(const char *in, size_t len, struct buf *out);
/* Append the padded base64 form of in to out.  1, or -1 (out full). */
int base64_encode(const void *in, size_t len, struct buf *out);
/* Append the base64url form of in (RFC 4648 §5, no padding) to out.
   1, or -1 (out full). */
int base64url_encode(const void *in, size_t len, struct buf *out);

#endif
