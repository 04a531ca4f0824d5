#ifndef CORREIO_TLS_H
#define CORREIO_TLS_H
/*
 * tls: the server side of TLS for every protocol, on OpenSSL 3 and
 * libevent's OpenSSL bufferevents.  TLS 1.2 and 1.3 only, the server's
 * cipher preference, SNI choosing among the configured certificates by the
 * names they carry.  With no certificate configured, a self-signed one for
 * the hostname is created on first start under <data_dir>/tls/.  A reload
 * swaps the contexts for new sessions; sessions already open keep theirs.
 * Loop thread only.
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

/* A bufferevent that starts a server handshake over an existing one
   (STARTTLS); under is owned (freed) by the new one. */
struct bufferevent *tls_wrap(struct tls *t, struct event_base *base,
			     struct bufferevent *under);
/* A bufferevent that starts a server handshake on a fresh socket
   (implicit TLS, ports 465/993/995); fd is owned by it. */
struct bufferevent *tls_accept(struct tls *t, struct event_base *base,
			       evutil_socket_t fd);

/* A bufferevent that starts a client handshake over under (opportunistic
   STARTTLS of the relay: the peer's certificate is not verified, as is
   usual for MX hosts without DANE or MTA-STS). */
struct bufferevent *tls_connect(struct tls *t, struct event_base *base,
				struct bufferevent *under, const char *servername);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)", or "" for a
   bufferevent without TLS. */
void tls_describe(struct bufferevent *bev, char *out, size_t size);

/* Why the connection failed: the TLS error, else the socket error. */
const char *tls_last_error(struct bufferevent *bev);

/* Internal (tls_selfsigned.c): write a new key and self-signed
   certificate for cfg->hostname to path.  Returns 1 or -1 with a reason
   appended to error. */
struct buf;
int tls_selfsigned_create(const struct config *cfg, const char *path, struct buf *error);

#endif
