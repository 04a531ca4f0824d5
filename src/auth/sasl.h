#ifndef CORREIO_SASL_H
#define CORREIO_SASL_H
/*
 * sasl: decoding of the SASL mechanisms correio offers (RFC 4616 PLAIN,
 * the LOGIN mechanism of draft-murchison-sasl-login), over the strict
 * base64 of lib/encoding.h.  Pure; bounded by the caller's buffers.  Shared by SMTP AUTH,
 * POP3 AUTH and IMAP AUTHENTICATE.
 */
#include <stddef.h>

#include "lib/buf.h"
#include "lib/encoding.h"	/* base64_decode() and base64_encode() */

#define SASL_FIELD_MAX 1024	/* authzid, authcid, password: each at most */

struct sasl_plain {
	char authzid[SASL_FIELD_MAX + 1];	/* "" when absent */
	char authcid[SASL_FIELD_MAX + 1];
	char password[SASL_FIELD_MAX + 1];
};

/*
 * Decode a PLAIN response: base64 of authzid NUL authcid NUL password.
 * Returns 1, or -1 with *error_r (bad base64, missing NUL, empty user or
 * password, a field too long, NUL inside a field).  Wipe r after use.
 */
int sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *r,
		      const char **error_r);

/* Decode one LOGIN step (base64 of a user name or password) into out
   (size bytes, NUL-terminated, no NUL inside).  Returns 1 or -1. */
int sasl_login_decode(const char *b64, size_t len, char *out, size_t size,
		      const char **error_r);

#endif
