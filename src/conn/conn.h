#ifndef CORREIO_CONN_H
#define CORREIO_CONN_H
/*
 * conn: the connection layer under the protocols (SMTP, POP3, IMAP,
 * ManageSieve; HTTP for the limits).  It admits and counts accepted
 * connections within [limits], runs the socket (or TLS) bufferevent and
 * turns its callbacks into the protocol's ops, reads capped command lines,
 * bounds what is read ahead and what is written, switches to TLS on
 * STARTTLS, guards a session against being freed inside its own
 * callbacks, and keeps the idle and command timers.  The protocol embeds
 * struct conn first in its session.  Loop thread only.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "conn/services.h"
#include "lib/config.h"

struct event;
struct evbuffer;
struct bufferevent;
struct conn;
struct tls_handshake;

/* What a protocol session offers the connection layer.  input and lost
   are required for conn_start(); the rest may be NULL where unused. */
struct conn_ops {
	/* Input arrived.  Returns false when the session was freed. */
	bool (*input)(struct conn *c);
	/* The output fell to the low-water mark (conn_params.output_low; 0:
	   all sent).  Returns true when it was the protocol's (more to send),
	   false to let the layer finish a close after output. */
	bool (*output)(struct conn *c);
	/* No input for [limits] idle_timeout (conn_params.idle).  Reading is
	   paused; conn_read_resume() takes it up again. */
	void (*idle)(struct conn *c);
	/* The timer of conn_timer_start() fired. */
	void (*timer)(struct conn *c);
	/* The client went away or the connection failed (BEV_EVENT_EOF,
	   BEV_EVENT_ERROR in what); the protocol frees its session. */
	void (*lost)(struct conn *c, short what);
	/* The server is stopping: finish the transaction in progress or refuse
	   politely, then close. */
	void (*shutdown)(struct conn *c);
	/* Close at once, without a reply (end of the grace period, or after a
	   close after output). */
	void (*close_now)(struct conn *c);
};

/* How a protocol wants its connection run. */
struct conn_params {
	size_t input_max;	/* read no further ahead than this */
	size_t output_low;	/* ops->output when the output falls to this */
	bool idle;		/* [limits] idle_timeout applies to reading */
};

/* A client connection; protocols embed it first in their session. */
struct conn {
	struct services *srv;
	struct bufferevent *bev;
	enum config_listener listener;
	char addr[INET6_ADDRSTRLEN];	/* client address, text */
	uint16_t port;
	bool loopback;
	bool tls;			/* the connection is encrypted */
	const struct conn_ops *ops;
	const struct conn_params *params;	/* NULL: not started by conn_start() */
	struct conn *prev, *next;
	bool closing;			/* conn_close_after_output() was called */
	unsigned close_tries;
	struct event *close_timer;
	struct event *timer;		/* conn_timer_start() */
	bool skip_line;			/* conn_read_line(): dropping an over-long line */
	unsigned guard;			/* depth of conn_guard_enter() */
	bool free_due;			/* freed inside the guard: done on leaving it */
	/* TLS being set up: while the handshake runs on a handshake thread,
	   bev is a stand-in holding the replies (no socket) */
	struct tls_handshake *handshake;	/* in flight, or NULL */
	struct bufferevent *clear;	/* STARTTLS: the go-ahead still leaving */
	const char *tls_error;		/* during ops->lost after a failed handshake */
};

/* ---- the open connections and their limits ---- */

/* The connections of a server.  released is called after a connection
   was unregistered (a descriptor is free again), with the count left. */
struct conn_set *conn_set_new(void (*released)(void *ctx, unsigned open), void *ctx);
void conn_set_free(struct conn_set **set);
/* The descriptor limit's bound on connections (UINT64_MAX: none). */
void conn_set_fd_limit(struct conn_set *set, uint64_t connections);
unsigned conn_set_count(const struct conn_set *set);
/* ops->shutdown of every connection (the server is stopping); one whose
   TLS handshake is not done yet is closed at once (ops->close_now). */
void conn_set_shutdown(struct conn_set *set);
/* ops->close_now of every connection, until none is left. */
void conn_set_close_all(struct conn_set *set);

/* A peer's address as text (an IPv4-mapped IPv6 address as IPv4) and
   its port. */
struct sockaddr;
void conn_sockaddr_text(const struct sockaddr *sa, char *out, size_t size, uint16_t *port);

/* May a new connection from addr:port on listener l be taken (server not
   stopping, within [limits] connections and connections_per_client and
   the descriptor limit)?  Logs a refusal, at most one line in 10 s. */
bool conn_admit(struct services *srv, enum config_listener l, const char *addr,
		uint16_t port);
/* Register an accepted connection (counts it against the limits).  For
   connections the layer does not run itself (HTTP); c->addr, c->listener
   and c->ops must be set. */
void conn_register(struct services *srv, struct conn *c);
/* Forget a connection: frees its bufferevent, its timers and its slot in
   the limits.  The protocol frees its own session afterwards. */
void conn_unregister(struct conn *c);

/* ---- running a connection ---- */

/* Take an accepted socket: fill c (addr, port, loopback, listener), open
   the bufferevent, register c and start reading.  With tls (implicit TLS)
   the socket goes to a handshake thread (tls.h) first, within [limits]
   idle_timeout; the protocol's replies wait for the handshake, and a
   failed one comes as ops->lost (conn_last_error() says why).  The
   protocol sends its greeting afterwards. */
void conn_start(struct conn *c, struct services *srv, evutil_socket_t fd,
		enum config_listener l, const char *addr, uint16_t port, bool tls,
		const struct conn_ops *ops, const struct conn_params *params);
/* The output buffer, for replies. */
struct evbuffer *conn_output(struct conn *c);
/* The input buffer, for protocols that parse it as it comes (IMAP,
   ManageSieve, SMTP DATA). */
struct evbuffer *conn_input(struct conn *c);
/* Change the output's low-water mark (e.g. while streaming a message:
   ops->output is called for more when the output falls to low). */
void conn_set_output_low(struct conn *c, size_t low);
/* Take up reading after an idle timeout paused it. */
void conn_read_resume(struct conn *c);

/*
 * Take the next command line out of the input, at most max bytes with its
 * LF, into line (max + 1 bytes), without CR LF, NUL-terminated, its length
 * in *len_r.  Returns 1 with a line, 0 when no complete line is there yet,
 * -1 when an over-long line was dropped: the protocol says "too long".
 * The rest of an over-long line is dropped as it arrives.
 */
int conn_read_line(struct conn *c, char *line, size_t max, size_t *len_r);

/* ---- STARTTLS ---- */

/* May STARTTLS be offered (not on TLS already, not compressed, and a
   certificate)? */
bool conn_starttls_offered(const struct conn *c);
/* On the STARTTLS command, before the go-ahead reply: was nothing sent
   after it?  Input pipelined after STARTTLS was sent in the clear and
   must never count as a command under TLS (RFC 3207 §5): it is discarded
   and false returned; the protocol refuses the command. */
bool conn_starttls_clean(struct conn *c);
/* After the go-ahead reply: from now on the connection is TLS.  The reply
   itself still goes out in the clear; once it has left, the socket goes to
   a handshake thread as for implicit TLS (see conn_start()), and what the
   protocol writes meanwhile waits for the handshake. */
void conn_starttls(struct conn *c);
/* Why the connection failed, in ops->lost: the TLS handshake's error, the
   TLS error, else the socket error. */
const char *conn_last_error(const struct conn *c);
/* COMPRESS DEFLATE (RFC 4978): from now on both ways are compressed, the
   stream below bounded at the output low-water mark.  Input already read
   past the command is compressed and goes through the inflater.  Returns
   1, or -1 (nothing changed). */
int conn_compress(struct conn *c);

/* ---- the re-entrancy guard ----
   A session is never freed inside its own processing: the protocol
   brackets it with conn_guard_enter() and conn_guard_leave(), and its
   free function asks conn_guard_defer() first. */
void conn_guard_enter(struct conn *c);
/* Inside the guard: the free is noted for later and true returned (the
   caller returns at once).  Outside: false, the caller frees now. */
bool conn_guard_defer(struct conn *c);
/* Was the session freed inside the guard (it stops processing input)? */
bool conn_gone(const struct conn *c);
/* Is the session inside its processing (the guard entered)? */
bool conn_guarded(const struct conn *c);
/* Leave the guard.  Returns false when a free was deferred: it is done
   now (ops->close_now) and the session is gone. */
bool conn_guard_leave(struct conn *c);

/* ---- timers ---- */

/* Arm (again) the protocol's timer (ops->timer) for seconds; stop it.
   Nothing happens once the connection is unregistered. */
void conn_timer_start(struct conn *c, unsigned long seconds);
void conn_timer_stop(struct conn *c);

/* ---- logins and closing ---- */

/* Plaintext passwords may be sent on c: over TLS, or from a loopback
   address (127.0.0.0/8, ::1) unless [auth] plaintext_on_loopback = no. */
bool conn_plaintext_ok(const struct conn *c);
/* For a refused plaintext login: the way to TLS on c's protocol, e.g.
   "use STLS, or implicit TLS on port 995; by hand: openssl s_client -crlf
   -starttls pop3 -connect 192.0.2.1:110", into out. */
void conn_tls_hint(const struct conn *c, char *out, size_t size);

/* Stop reading and close (ops->close_now) once every byte written has
   left, the TLS filter's included; at once while the TLS handshake runs
   (nothing can be sent before it is done). */
void conn_close_after_output(struct conn *c);
/* For connections the layer does not run itself: called from the write
   callback while closing. */
void conn_output_drained(struct conn *c);

/* Input was read and nothing is queued to answer it: acknowledge it now.
   A client with Nagle's algorithm on (most do) that writes a command in
   pieces, e.g. an IMAP literal and then its CRLF, holds each piece until
   the previous one is acknowledged; the kernel's delayed ACK would make it
   wait some 40 ms.  Done by the layer after ops->input. */
void conn_ack_input(struct conn *c);

/* conn_deflate.c: a bufferevent over under that inflates what is read and
   deflates what is written (raw deflate, RFC 4978), with under's output
   bounded at write_max.  It frees under with itself.  NULL on failure. */
struct bufferevent *conn_deflate_wrap(struct bufferevent *under, size_t write_max);

#endif
