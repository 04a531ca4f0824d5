#ifndef CORREIO_ACME_H
#define CORREIO_ACME_H
/*
 * acme: certificates from an ACME CA (RFC 8555: Let's Encrypt, or pebble
 * in the tests) for the hostname and the mail names, with the HTTP-01
 * and TLS-ALPN-01 (RFC 8737) challenges.
 *
 * A dedicated thread talks to the CA with blocking HTTPS (acme_http.c),
 * signs its requests with an ES256 account key (acme_jws.c) and reads the
 * CA's JSON with limits (acme_parse.c).  It checks the certificate at
 * start and daily, orders a new one when none was issued yet, when one
 * ends within 30 days or lacks a wanted name, and retries failures with
 * backoff.  The issued key and chain go atomically to
 * <data_dir>/tls/acme.pem; the loop is then told to reload its TLS
 * contexts.  Until the first issuance the self-signed certificate serves.
 *
 * The challenges being answered are kept in a table that the loop reads
 * (acme_http01_answer for the HTTP listener, acme_alpn_cert for TLS
 * handshakes that offer "acme-tls/1"); those two are thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/config.h"

struct acme;
struct event_base;
typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

/* The names to certify (acme_names, else the hostname and mail.<domain>
   of each local domain with a dot), NUL-separated, each once. */
void acme_wanted_names(const struct config *cfg, struct buf *names);

/* Is the [tls] acme configuration usable (e-mail, https directory, a
   listener for HTTP-01)?  1, or -1 with *error_r (static). */
int acme_config_check(const struct config *cfg, const char **error_r);

/* Called on the loop after a certificate was written. */
typedef void acme_issued_fn(void *ctx);

/* Start the thread (cfg->acme must be set; cfg is copied).  Returns 1 or
   -1 with *error_r (static). */
int acme_start(const struct config *cfg, struct event_base *base,
	       acme_issued_fn *issued, void *ctx, struct acme **r, const char **error_r);
/* Stop the thread (waits for a request in progress, bounded by its
   timeouts) and free. */
void acme_stop(struct acme **a);
/* Check and order now, whatever the certificate's age (`correio tls renew`). */
void acme_renew_now(struct acme *a);

/* HTTP-01: the key authorization for token into out.  1, or 0 unknown. */
int acme_http01_answer(struct acme *a, const char *token, char *out, size_t size);
/* TLS-ALPN-01: the challenge certificate and key for name, with a
   reference each for the caller.  1, or 0 none. */
int acme_alpn_cert(struct acme *a, const char *name, X509 **cert_r, EVP_PKEY **key_r);

/* The HTTP-01 listener (acme_http01.c): on each "addr:port" of listen,
   GET /.well-known/acme-challenge/<token> answers the key authorization
   that *ap publishes (ap is read at each request: the listener is bound
   before privileges are dropped, the client starts after); anything else
   is 404.  Binds now; loop thread.  1, or -1 with *error_r (static). */
struct acme_http01;
int acme_http01_open(struct event_base *base, const char *listen, struct acme *const *ap,
		     struct acme_http01 **r, const char **error_r);
void acme_http01_free(struct acme_http01 **h);

#endif
