#ifndef CORREIO_TLS_H
#define CORREIO_TLS_H
/*
 * tls: the server side of TLS for every protocol, on OpenSSL 3 and
 * libevent's OpenSSL bufferevents.  TLS 1.2 and 1.3 only, the server's
 * cipher preference, SNI choosing among the configured certificates by the
 * names they carry.  With no certificate configured, a self-signed one for
 * the hostname is created on first start under <data_dir>/tls/.  A reload
 * swaps the contexts for new sessions; sessions already open keep theirs.
 * Loop thread only, apart from the handshake threads of tls_pool.c.
 */
#include <stddef.h>

#include <event2/util.h>

#include "lib/config.h"

struct tls;
struct bufferevent;
struct event_base;

/* Load (or create) the certificates.  Returns 1 or -1 with *error_r
   (static or valid until the next call). */
int tls_open(const struct config *cfg, struct tls **r, const char **error_r);
/* Load the certificates again; on failure the old ones stay in use. */
int tls_reload(struct tls *t, const struct config *cfg, const char **error_r);
void tls_free(struct tls **t);
/* Load the configured certificate and key files as serve would, and let
   them go (`correio check`).  None configured: 1 at once (serve makes a
   self-signed one).  Returns 1 or -1 with *error_r (valid until the next
   call). */
int tls_check(const struct config *cfg, const char **error_r);

/* ---- server handshakes ---- */

typedef struct ssl_st SSL;
struct tls_pool;
struct tls_handshake;

/* A new SSL for a server handshake, with the current certificates (SNI
   picks among them during the handshake). */
SSL *tls_server_ssl(struct tls *t);
/* A bufferevent that runs a server handshake on a fresh socket on base's
   own loop (the HTTPS listener; fd is owned by it). */
struct bufferevent *tls_accept(struct tls *t, struct event_base *base,
			       evutil_socket_t fd);
/* The bufferevent of a session whose server handshake is done (fd and ssl
   are owned by it).  NULL on failure. */
struct bufferevent *tls_session_new(struct event_base *base, evutil_socket_t fd, SSL *ssl);

/*
 * tls_pool.c: the handshake threads.  Server handshakes (implicit TLS,
 * and STARTTLS once the go-ahead has left) run on threads named
 * "correio-tls" (one per core, at least 2), each with an event loop of its
 * own driving many handshakes at once: their public-key work never holds
 * up the loop's sessions.  The functions below are for the loop thread;
 * the callbacks run on it.
 */
/* The outcome of a handshake: ssl non-NULL when it is done (the callback
   owns fd and ssl: tls_session_new()), else NULL, what is BEV_EVENT_EOF
   (the client closed) or BEV_EVENT_ERROR (with BEV_EVENT_TIMEOUT when it
   ran out of time), error says why (valid during the call) and fd is
   already closed. */
typedef void tls_handshake_fn(void *ctx, evutil_socket_t fd, SSL *ssl, short what,
			      const char *error);
/* Start that many handshake threads (threads 0: one per core, at least
   2, at most 16) for t's certificates, answering on loop.  Returns 1, or -1 with *error_r
   (static text). */
int tls_pool_new(struct tls *t, struct event_base *loop, unsigned threads,
		 struct tls_pool **r, const char **error_r);
/* Stop and join the threads, once the connections waiting for handshakes
   are gone.  Handshakes still in flight are closed, their callbacks never
   run.  NULL is allowed; *p is set to NULL. */
void tls_pool_free(struct tls_pool **p);
/* How many handshake threads run. */
unsigned tls_pool_threads(const struct tls_pool *p);
/* Start a server handshake on the socket fd (non-blocking; owned from now
   on), to finish within timeout seconds; fn(ctx, ...) is called once with
   the outcome, unless cancelled.  The handle is valid until then. */
struct tls_handshake *tls_pool_accept(struct tls_pool *p, evutil_socket_t fd,
				      unsigned timeout, tls_handshake_fn *fn, void *ctx);
/* Give up a handshake whose callback has not run: its socket is closed,
   the callback never runs. */
void tls_handshake_cancel(struct tls_handshake *h);

/* ---- client handshakes ---- */

/* A bufferevent that starts a client handshake over under (STARTTLS of
   the relay).  The handshake does not fail on the peer's certificate (the
   opportunistic TLS usual for MX hosts); tls_peer_verified() tells after
   it whether the certificate is valid for servername under the system's
   CAs and [relay] ca_file (MTA-STS). */
struct bufferevent *tls_connect(struct tls *t, struct event_base *base,
				struct bufferevent *under, const char *servername);
/* A bufferevent for a new socket (connect it with bufferevent_socket_connect)
   whose client handshake fails unless the certificate is valid for
   servername (the HTTPS fetch of an MTA-STS policy). */
struct bufferevent *tls_connect_strict(struct tls *t, struct event_base *base,
				       const char *servername);
/* One TLSA record (RFC 6698): certificate usage, selector, matching type
   and the association data. */
struct tls_tlsa {
	unsigned char usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};
/* tls_connect() for a DANE mail exchanger (RFC 7672): the certificate is
   matched against the n records (DANE-TA(2) and DANE-EE(3); the others
   are unusable), tls_peer_verified() tells the outcome.  *usable_r: how
   many records OpenSSL took; with none, only encryption is possible. */
struct bufferevent *tls_connect_dane(struct tls *t, struct event_base *base,
				     struct bufferevent *under, const char *servername,
				     const struct tls_tlsa *r, unsigned n, unsigned *usable_r);
/* After the handshake of tls_connect*: 1 if the peer's certificate chains
   to a trusted CA and names the servername, else -1 with *error_r
   (static text). */
int tls_peer_verified(struct bufferevent *bev, const char **error_r);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", or "" for a
   bufferevent without TLS. */
void tls_describe(struct bufferevent *bev, char *out, size_t size);

/* Why the connection failed: the TLS error, else the socket error. */
const char *tls_last_error(struct bufferevent *bev);

/* The self-signed certificate (tls_selfsigned.c): write a new key and
   certificate to path (and the certificate alone beside it) for
   cfg->hostname, the local domains (and mail.<domain>), localhost and
   the loopback addresses.  ensure: keep the one at path if it names all
   of those and stays valid 30 more days, else make it again.  Returns 1
   or -1 with a reason appended to error. */
struct buf;
int tls_selfsigned_create(const struct config *cfg, const char *path, struct buf *error);
int tls_selfsigned_ensure(const struct config *cfg, const char *path, struct buf *error);
/* Where the certificate alone is written: "<path without .pem>.crt". */
void tls_selfsigned_crt_path(const char *pem_path, char *out, size_t size);
/* Where the certificate issued by ACME lives, with its key:
   "<data_dir>/tls/acme.pem" (the chain alone beside it, acme.crt).  With
   [tls] acme = yes it is served once it exists and loads; until then the
   self-signed one. */
void tls_acme_cert_path(const struct config *cfg, char *out, size_t size);

/* TLS-ALPN-01 (RFC 8737): a handshake offering ALPN "acme-tls/1" gets
   the certificate fn gives for its server name (references the caller
   frees), with acme-tls/1 selected; without one the handshake fails.
   fn may be called on the loop while another thread changes its table. */
typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef int tls_alpn_cert_fn(void *ctx, const char *name, X509 **cert_r, EVP_PKEY **key_r);
void tls_set_alpn_challenge(struct tls *t, tls_alpn_cert_fn *fn, void *ctx);

/* The subjectAltName entries of a certificate: "DNS:a,IP:127.0.0.1". */
typedef struct x509_st X509;
void tls_cert_names(X509 *cert, struct buf *out);

#endif
