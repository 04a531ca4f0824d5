#ifndef CORREIO_ADDRESS_H
#define CORREIO_ADDRESS_H
/*
 * address: RFC 5321 §4.1.2 Mailbox syntax (local-part "@" domain), with
 * RFC 6531 UTF-8 when allowed.  Pure; no allocation.
 *
 *   Mailbox      = Local-part "@" ( Domain / address-literal )
 *   Local-part   = Dot-string / Quoted-string      ; at most 64 octets, unquoted
 *   Domain       = sub-domain *("." sub-domain)    ; at most 255 octets
 *   address-literal = "[" ( IPv4 / "IPv6:" IPv6 / tag ":" text ) "]"
 */
#include <stdbool.h>
#include <stddef.h>

#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255

struct address {
	char local[ADDRESS_LOCAL_MAX * 2 + 3];	/* as written, quotes included */
	char domain[ADDRESS_DOMAIN_MAX + 1];	/* as written (literal keeps [ ]) */
};

/*
 * Parse s[0..len) as a Mailbox.  utf8 allows non-ASCII UTF-8 (RFC 6531) in
 * both parts; without it any byte >= 0x80 is an error.  Returns 1, or -1
 * with *error_r a short text ("local part too long", ...).
 */
int address_parse(const char *s, size_t len, bool utf8, struct address *r,
		  const char **error_r);

/* Does the address contain any byte >= 0x80? */
bool address_is_utf8(const struct address *a);

/*
 * The lookup key: "local@domain" lower-cased, quotes removed from a quoted
 * local part that needs none (one that does is written in its shortest
 * quoted form); just "local" when the domain is empty (RCPT <Postmaster>).
 * Writes at most size bytes (NUL included).
 * Returns 1, or -1 if it does not fit.
 */
int address_key(const struct address *a, char *out, size_t size);

/*
 * The address as an envelope records it: like address_key() (a quoted
 * local part that needs no quotes loses them, RFC 5321 §4.1.2: "alice"
 * and alice are one mailbox), but every character's case kept.
 * Returns 1, or -1 if it does not fit.
 */
int address_canonical(const struct address *a, char *out, size_t size);

/*
 * Split a lookup key's local part at the first delimiter character
 * ("user+tag" -> "user").  delims "" means no plus-addressing.  A delimiter
 * that is the first character, or any in a quoted local part, is kept.
 * Writes the base key (with domain) to out.  Returns 1 if a tag was
 * removed, 0 if not, -1 if out (size bytes) is too small.
 */
int address_strip_tag(const char *key, const char *delims, char *out,
		      size_t size);

#endif
