#ifndef CORREIO_ACME_INT_H
#define CORREIO_ACME_INT_H
/*
 * acme_int.h - the pieces of the ACME client, shared by its files and
 * their tests: HTTP responses and the CA's JSON objects (acme_parse.c,
 * pure), JWS and keys (acme_jws.c), blocking HTTPS (acme_http.c).
 */
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/config.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

/* Limits on what the CA may send. */
#define ACME_RESPONSE_MAX (256 * 1024)	/* head and body together */
#define ACME_HEADER_MAX 16384		/* status line and headers */
#define ACME_URL_MAX 512
#define ACME_TOKEN_MAX 128
#define ACME_AUTHZ_MAX 32		/* authorizations of one order */
#define ACME_CHALLENGES_MAX 8		/* challenges of one authorization */

/* ---- HTTP responses (acme_parse.c) ---- */

struct acme_resp {
	int status;
	char location[ACME_URL_MAX];	/* "" when absent or too long */
	char nonce[128];		/* Replay-Nonce */
	char content_type[128];
	unsigned retry_after;		/* seconds, 0 when absent */
	struct buf body;		/* chunked decoded; max ACME_RESPONSE_MAX */
};

void acme_resp_init(struct acme_resp *r);
void acme_resp_deinit(struct acme_resp *r);
/* A whole HTTP/1.1 response (the connection closed after it): status,
   the headers above, the body (Content-Length, chunked or up to the end;
   none at all for the answer to HEAD).  Returns 1, or -1 with *error_r
   (static) for a malformed or oversized one. */
int acme_http_parse(const char *data, size_t len, bool head, struct acme_resp *r,
		    const char **error_r);

/* ---- the CA's objects (acme_parse.c) ---- */

struct acme_directory {
	char new_nonce[ACME_URL_MAX];
	char new_account[ACME_URL_MAX];
	char new_order[ACME_URL_MAX];
};

enum acme_status {
	ACME_STATUS_UNKNOWN, ACME_STATUS_PENDING, ACME_STATUS_READY,
	ACME_STATUS_PROCESSING, ACME_STATUS_VALID, ACME_STATUS_INVALID
};

struct acme_order {
	enum acme_status status;
	char finalize[ACME_URL_MAX];
	char certificate[ACME_URL_MAX];	/* "" until valid */
	char authz[ACME_AUTHZ_MAX][ACME_URL_MAX];
	int n_authz;
	char error[256];		/* the problem's detail, if any */
};

struct acme_challenge {
	char type[32];			/* "http-01", "tls-alpn-01", ... */
	char url[ACME_URL_MAX];
	char token[ACME_TOKEN_MAX + 1];	/* base64url characters only */
	enum acme_status status;
	char error[256];
};

struct acme_authz {
	enum acme_status status;
	char name[256];			/* the dns identifier */
	struct acme_challenge ch[ACME_CHALLENGES_MAX];
	int n_ch;
};

/* Each returns 1, or -1 with a reason in error (up to size bytes) when
   the JSON is malformed or lacks what RFC 8555 requires. */
int acme_parse_directory(const char *json, size_t len, struct acme_directory *d,
			 char *error, size_t size);
int acme_parse_order(const char *json, size_t len, struct acme_order *o,
		     char *error, size_t size);
int acme_parse_authz(const char *json, size_t len, struct acme_authz *z,
		     char *error, size_t size);
int acme_parse_challenge(const char *json, size_t len, struct acme_challenge *c,
			 char *error, size_t size);
/* A problem document (RFC 7807): "type: detail" into out, or the start of
   the body made printable when it is not one. */
void acme_parse_problem(const char *json, size_t len, char *out, size_t size);
const char *acme_status_name(enum acme_status s);

/* ---- keys and JWS (acme_jws.c) ---- */

/* A new EC P-256 key, or NULL. */
EVP_PKEY *acme_key_new(void);
/* Read the key at path, or make one and write it (0600, atomically). */
EVP_PKEY *acme_key_load(const char *path, struct buf *error);
/* The JWK thumbprint (RFC 7638) in base64url, into out. */
int acme_thumbprint(EVP_PKEY *key, struct buf *out);
/* The flattened JWS (RFC 7515 7.2.2) of payload ("" = POST-as-GET):
   protected header with alg ES256, kid (or the jwk when kid is NULL),
   nonce and url.  1 or -1. */
int acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
	     const char *payload, struct buf *out);
/* A CSR for the NUL-separated names (the first is the subject's CN),
   DER in base64url, into out.  1 or -1. */
int acme_csr(EVP_PKEY *key, const char *names, size_t len, struct buf *out);
/* The TLS-ALPN-01 certificate for name (RFC 8737 3): self-signed, the
   name alone in subjectAltName, the critical acmeIdentifier extension
   holding SHA-256 of the key authorization.  1 or -1. */
int acme_alpn_make(const char *name, const char *keyauth, X509 **cert_r, EVP_PKEY **key_r);

/* ---- HTTPS (acme_http.c) ---- */

/* One request to an https:// URL (Connection: close), verifying the
   server against ca_file ("" = the system's store), every step bounded
   by a timeout and the whole request by a limit; given up as soon as
   cancel(cancel_arg) is true (cancel may be NULL).  body NULL: no body.
   Returns 1 with the response (any status), or -1 with a reason appended
   to error. */
int acme_http_request(const struct config *cfg, bool (*cancel)(void *arg), void *cancel_arg,
		      const char *method, const char *url, const char *body,
		      struct acme_resp *r, struct buf *error);

#endif
