#ifndef CORREIO_ENCODING_H
#define CORREIO_ENCODING_H
/*
 * encoding: the hex digit and base64 (RFC 4648) helpers every component
 * shares: xtext, quoted-printable, RFC 2047, RFC 2231 and TLSRPT's mailto:
 * decoders read hex digits through hex_value() and write them through
 * hex_escape(); random identifiers, digests and TLSA data are written with
 * hex_encode() and JMAP's ids and states read back with hex_decode_u64();
 * certificate fingerprints are shown by hex_fingerprint(); SASL, MIME,
 * IMAP's modified UTF-7, ACME's JWS, DKIM, SRS and JMAP's Basic
 * credentials use the one base64 alphabet (base64url for JWS).  Pure;
 * output goes to a struct buf, whose maximum bounds it.
 */
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The value (0..15) of the hex digit c (either case), or -1. */
int hex_value(unsigned char c);
/* The 2 * len lower-case hex digits of in[0..len) and a NUL into out,
   which holds 2 * len + 1 bytes. */
void hex_encode(const void *in, size_t len, char *out);
/* The same in upper-case digits. */
void hex_encode_upper(const void *in, size_t len, char *out);
/* Append the 2 * len lower-case hex digits of in[0..len) to out.  1, or
   -1 (out full; nothing appended). */
int hex_encode_buf(const void *in, size_t len, struct buf *out);
/* Append prefix and the two upper-case hex digits of c to out: the
   escapes of quoted-printable ("=3D"), xtext ("+2B") and percent-encoding
   ("%20").  1, or -1 (out full; nothing appended). */
int hex_escape(unsigned char c, char prefix, struct buf *out);
/* Append in[0..len) as upper-case hex pairs joined by ':' ("AB:01:FF"),
   the form certificate fingerprints are shown in.  1, or -1 (out full;
   nothing appended). */
int hex_fingerprint(const void *in, size_t len, struct buf *out);
/* The number that the n (1..16) lower-case hex digits p[0..n) spell into
   *r: the form correio writes its identifiers and states in (upper case
   is refused, so that each value has one spelling).  Returns 1, or -1. */
int hex_decode_u64(const char *p, size_t n, uint64_t *r);

/* The value (0..63) of a base64 digit ('+' is 62), or -1.  c63 is the
   64th digit: '/' in RFC 4648 base64, ',' in IMAP's modified base64
   (RFC 3501). */
int base64_digit(unsigned char c, char c63);

/* Decode base64 text (no whitespace, '=' padding required, the bits a
   padded group leaves over zero) into out.  Returns 1, or -1 on bad input
   or when out refuses to grow (out as it was). */
int base64_decode(const char *in, size_t len, struct buf *out);
/* The same, with folding white space (SP, HTAB, CR, LF) ignored wherever
   it stands, padding included: DKIM's b=, bh= and p= tags (RFC 6376
   section 3.5 and 3.6.1). */
int base64_decode_fws(const char *in, size_t len, struct buf *out);
/* Decode base64url text (RFC 4648 section 5: '-' and '_' for 62 and 63,
   no padding, the bits a short last group leaves over zero) into out.
   1, or -1 on bad input or when out refuses to grow (out as it was). */
int base64url_decode(const char *in, size_t len, struct buf *out);
/* Append the padded base64 form of in to out.  1, or -1 (out full). */
int base64_encode(const void *in, size_t len, struct buf *out);
/* Append the base64url form of in (RFC 4648 §5, no padding) to out.
   1, or -1 (out full). */
int base64url_encode(const void *in, size_t len, struct buf *out);

#endif
