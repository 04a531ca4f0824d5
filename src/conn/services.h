#ifndef CORREIO_SERVICES_H
#define CORREIO_SERVICES_H
/*
 * services: what the running server offers the protocols and the relay.
 * The composition root (src/server) fills it at start and keeps it for
 * the server's life; sessions read it through their struct conn.  Loop
 * thread only, except where a member's own header says otherwise.
 */
#include <stdbool.h>

#include "lib/config.h"

struct event_base;
struct queue;
struct delivery;
struct accounts;
struct tls;
struct tls_pool;
struct auth;
struct mta;
struct store;
struct jmap;
struct acme;
struct quota;
struct srs;
struct conn_set;

struct services {
	struct config cfg;		/* as read at start or at the last reload */
	struct event_base *base;
	struct queue *queue;
	struct delivery *delivery;
	struct accounts *accounts;	/* the loop thread's handle */
	struct tls *tls;		/* NULL: no certificate, no TLS */
	struct tls_pool *tls_pool;	/* the handshake threads (with tls) */
	struct auth *auth;
	struct mta *mta;
	struct store *store;
	struct jmap *jmap;		/* the HTTP(S) listeners (src/jmap) */
	struct acme *acme;		/* [tls] acme = yes: the ACME client */
	struct quota *quota;		/* space reserved for messages not filed yet */
	struct srs *srs;		/* the Sender Rewriting Scheme; NULL: off */
	struct conn_set *conns;		/* open connections and their limits (conn.h) */
	bool stopping;			/* SIGTERM: finishing open sessions */
};

#endif
