#ifndef CORREIO_SERVER_H
#define CORREIO_SERVER_H
/*
 * server: the one event loop of `correio serve`.  It binds the listeners,
 * leaves root, opens the queue, the delivery agent and the account store,
 * accepts connections within the configured limits and hands each to its
 * protocol; SIGTERM stops it gracefully and SIGHUP reloads the
 * configuration.  Protocol sessions see the server through this header.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

struct event_base;
struct event;
struct bufferevent;
struct accounts;
struct queue;
struct conn;
struct tls;
struct auth;
struct mta;
struct store;
struct jmap;
struct quota;
struct srs;

/* What a protocol session offers the server. */
struct conn_ops {
	/* The server is stopping: finish the transaction in progress or refuse
	   politely, then close. */
	void (*shutdown)(struct conn *c);
	/* Close at once, without a reply (end of the grace period). */
	void (*close_now)(struct conn *c);
};

/* A client connection; protocols embed it first in their session. */
struct conn {
	struct server *server;
	struct bufferevent *bev;
	enum config_listener listener;
	char addr[INET6_ADDRSTRLEN];	/* client address, text */
	uint16_t port;
	bool loopback;
	bool tls;			/* the connection is encrypted */
	const struct conn_ops *ops;
	struct conn *prev, *next;
	bool closing;			/* conn_close_after_output() was called */
	unsigned close_tries;
	struct event *close_timer;
};

struct server {
	struct config cfg;
	struct event_base *base;
	struct queue *queue;
	struct delivery *delivery;
	struct accounts *accounts;	/* the loop thread's handle */
	struct tls *tls;
	struct auth *auth;
	struct mta *mta;
	struct store *store;
	struct jmap *jmap;		/* the HTTP(S) listeners (src/jmap) */
	struct acme *acme;		/* [tls] acme = yes: the ACME client */
	struct quota *quota;	/* space reserved for messages not filed yet */
	struct srs *srs;	/* the Sender Rewriting Scheme; NULL: off */
	bool stopping;
};

/* Run the server until it stops.  Returns the exit status. */
int server_run(const struct config *cfg);

/* May a new connection from addr on listener l be taken (server not stopping, within
   [limits] connections and connections_per_client)?  Logs a refusal.
   For listeners the server does not accept itself (HTTP). */
bool conn_admit(struct server *srv, enum config_listener l, const char *addr);
/* Register an accepted connection (counts it against the limits). */
void conn_register(struct server *srv, struct conn *c);
/* Plaintext passwords may be sent on c: over TLS, or from a loopback
   address (127.0.0.0/8, ::1) unless [auth] plaintext_on_loopback = no. */
bool conn_plaintext_ok(const struct conn *c);
/* For a refused plaintext login: the way to TLS on c's protocol, e.g.
   "use STLS, or implicit TLS on port 995; by hand: openssl s_client -crlf
   -starttls pop3 -connect 192.0.2.1:110", into out. */
void conn_tls_hint(const struct conn *c, char *out, size_t size);

/* Stop reading and close (ops->close_now) once every byte written has
   left, the TLS filter's included.  The session calls conn_output_drained()
   from its write callback while closing. */
void conn_close_after_output(struct conn *c);
void conn_output_drained(struct conn *c);

/* Input was read and nothing is queued to answer it: acknowledge it now.
   A client with Nagle's algorithm on (most do) that writes a command in
   pieces, e.g. an IMAP literal and then its CRLF, holds each piece until
   the previous one is acknowledged; the kernel's delayed ACK would make it
   wait some 40 ms.  Called by the sessions at the end of a read. */
void conn_ack_input(struct conn *c);

/* Forget a connection: frees its bufferevent and its slot in the limits.
   The protocol frees its own session afterwards. */
void conn_unregister(struct conn *c);

/* deflate.c: a bufferevent over under that inflates what is read and
   deflates what is written (raw deflate, RFC 4978), with under's output
   bounded at write_max.  It frees under with itself.  NULL on failure. */
struct bufferevent *deflate_wrap(struct bufferevent *under, size_t write_max);

#endif
