/*
 * conn.c - the connections under the protocols: admission within
 * [limits] (total, per client address, the descriptor limit), the
 * bufferevent callbacks turned into the session's ops, capped command
 * lines, STARTTLS and COMPRESS switches, the re-entrancy guard, the
 * protocol's timer, and the close once the output has left.
 *
 * TLS handshakes run on the handshake threads (tls.h): meanwhile the
 * session's bufferevent is a stand-in without a socket that gathers what
 * the protocol writes (its greeting, ManageSieve's capabilities after
 * STARTTLS); when the handshake is done the session gets its TLS
 * bufferevent, with that output moved into it.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "lib/line_read.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "tls/tls.h"

#define CLIENT_BUCKETS 1024
#define LOG_EVERY_SECONDS 10		/* repeated refusals: one line per period */

struct client_count {
	char addr[INET6_ADDRSTRLEN];
	unsigned count;
	struct client_count *next;
};

struct conn_set {
	struct conn *conns;
	unsigned n_conns;
	struct client_count *clients[CLIENT_BUCKETS];
	uint64_t fd_connections;	/* connections the descriptor limit allows */
	struct log_limit refuse_log;
	void (*released)(void *ctx, unsigned open);
	void *ctx;
};

/* ---- per-client connection counts ---- */

static struct client_count **client_slot(struct conn_set *set, const char *addr)
{
	unsigned h = 5381;
	struct client_count **p;

	for (const char *c = addr; *c != '\0'; c++)
		h = h * 33 + (unsigned char)*c;
	for (p = &set->clients[h % CLIENT_BUCKETS]; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->addr, addr) == 0)
			break;
	return p;
}

static unsigned client_count(struct conn_set *set, const char *addr)
{
	struct client_count **p = client_slot(set, addr);

	return *p == NULL ? 0 : (*p)->count;
}

static void client_add(struct conn_set *set, const char *addr, int delta)
{
	struct client_count **p = client_slot(set, addr), *c = *p;

	if (c == NULL) {
		if (delta < 0)
			return;
		c = xcalloc(1, sizeof(*c));
		str_copy(c->addr, addr, sizeof(c->addr));
		*p = c;
	}
	c->count += (unsigned)delta;
	if (c->count == 0) {
		*p = c->next;
		free(c);
	}
}

void conn_sockaddr_text(const struct sockaddr *sa, char *out, size_t size, uint16_t *port)
{
	const void *a = sa->sa_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	*port = ntohs(sa->sa_family == AF_INET6 ?
		      ((const struct sockaddr_in6 *)sa)->sin6_port :
		      ((const struct sockaddr_in *)sa)->sin_port);
	if (inet_ntop(sa->sa_family, a, out, (socklen_t)size) == NULL)
		str_copy(out, "unknown", size);
	if (strncmp(out, "::ffff:", 7) == 0)
		memmove(out, out + 7, strlen(out + 7) + 1);
}

/* ---- the set ---- */

struct conn_set *conn_set_new(void (*released)(void *ctx, unsigned open), void *ctx)
{
	struct conn_set *set = xcalloc(1, sizeof(*set));

	set->fd_connections = UINT64_MAX;
	set->released = released;
	set->ctx = ctx;
	return set;
}

void conn_set_free(struct conn_set **setp)
{
	struct conn_set *set = *setp;

	if (set == NULL)
		return;
	for (int i = 0; i < CLIENT_BUCKETS; i++)
		while (set->clients[i] != NULL) {
			struct client_count *next = set->clients[i]->next;
			free(set->clients[i]);
			set->clients[i] = next;
		}
	free(set);
	*setp = NULL;
}

void conn_set_fd_limit(struct conn_set *set, uint64_t connections)
{
	set->fd_connections = connections;
}

unsigned conn_set_count(const struct conn_set *set)
{
	return set->n_conns;
}

void conn_set_shutdown(struct conn_set *set)
{
	struct conn *c, *next;

	for (c = set->conns; c != NULL; c = next) {
		next = c->next;
		if (c->handshake != NULL || c->clear != NULL)
			c->ops->close_now(c);	/* nothing said yet under TLS */
		else
			c->ops->shutdown(c);
	}
}

void conn_set_close_all(struct conn_set *set)
{
	struct conn *c;

	/* sessions left after the grace period are closed without more replies;
	   one waiting for its commit is freed by the commit's callback */
	while ((c = set->conns) != NULL)
		c->ops->close_now(c);
}

bool conn_admit(struct services *srv, enum config_listener l, const char *addr,
		uint16_t port)
{
	struct conn_set *set = srv->conns;
	const struct config *cfg = &srv->cfg;
	unsigned skipped;

	if (!srv->stopping && set->n_conns < cfg->max_connections &&
	    set->n_conns < set->fd_connections &&
	    client_count(set, addr) < cfg->max_connections_per_client)
		return true;
	if (log_limit_ok(&set->refuse_log, LOG_EVERY_SECONDS, &skipped))
		log_warn("%s: refusing [%s]:%u: connection limit reached"
			 " (%u more refused since the last such line)",
			 config_listener_name(l), addr, port, skipped);
	return false;
}

/* ---- closing ---- */

static void on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	conn_output_drained(arg);
}

void conn_output_drained(struct conn *c)
{
	struct timeval soon = { 0, 10000 };

	if (c->closing && (c->handshake != NULL || c->clear != NULL)) {
		c->ops->close_now(c);	/* nothing can leave before the handshake */
		return;
	}
	if (!c->closing || evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;		/* the write callback comes again */
	for (struct bufferevent *under = bufferevent_get_underlying(c->bev); under != NULL;
	     under = bufferevent_get_underlying(under)) {
		if (evbuffer_get_length(bufferevent_get_output(under)) > 0 &&
		    c->close_tries++ < 500) {
			evtimer_add(c->close_timer, &soon);	/* a filter still holds bytes */
			return;
		}
	}
	c->ops->close_now(c);
}

void conn_ack_input(struct conn *c)
{
	int one = 1;
	evutil_socket_t fd;

	if (c->bev == NULL || c->closing ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;		/* the answer carries the acknowledgement */
	fd = bufferevent_getfd(c->bev);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

void conn_close_after_output(struct conn *c)
{
	struct timeval now = { 0, 0 };

	if (c->closing)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_add(c->close_timer, &now);
}

/* ---- registering ---- */

void conn_register(struct services *srv, struct conn *c)
{
	struct conn_set *set = srv->conns;

	metrics_connection(c->listener);
	c->close_timer = evtimer_new(srv->base, on_close_timer, c);
	c->srv = srv;
	c->prev = NULL;
	c->next = set->conns;
	if (set->conns != NULL)
		set->conns->prev = c;
	set->conns = c;
	set->n_conns++;
	client_add(set, c->addr, 1);
}

void conn_unregister(struct conn *c)
{
	struct conn_set *set = c->srv->conns;

	if (c->handshake != NULL)
		tls_handshake_cancel(c->handshake);	/* its thread closes the socket */
	c->handshake = NULL;
	if (c->clear != NULL)
		bufferevent_free(c->clear);
	c->clear = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->close_timer);
	c->close_timer = NULL;
	if (c->timer != NULL)
		event_free(c->timer);
	c->timer = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		set->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	set->n_conns--;
	client_add(set, c->addr, -1);
	if (set->released != NULL)
		set->released(set->ctx, set->n_conns);
}

/* ---- the bufferevent's callbacks ---- */

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->ops->input(c))
		conn_ack_input(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->ops->output != NULL && c->ops->output(c))
		return;
	conn_output_drained(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;		/* TLS handshake done */
	if ((what & BEV_EVENT_TIMEOUT) && c->ops->idle != NULL) {
		c->ops->idle(c);
		return;
	}
	c->ops->lost(c, what);
}

/* Serve c on bev from now on (accept, STARTTLS, COMPRESS). */
static void use_bev(struct conn *c, struct bufferevent *bev)
{
	const struct conn_params *p = c->params;

	c->bev = bev;
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(bev, EV_READ, 0, p->input_max);
	if (p->output_low > 0)
		bufferevent_setwatermark(bev, EV_WRITE, p->output_low, 0);
	if (p->idle) {
		struct timeval idle = { (time_t)c->srv->cfg.idle_timeout, 0 };
		bufferevent_set_timeouts(bev, &idle, NULL);
	}
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	c->ops->timer(c);
}

/* ---- TLS handshakes ---- */

/* The stand-in bufferevent while a handshake runs: no socket, no
   callbacks, its output kept for the session's TLS bufferevent. */
static struct bufferevent *stand_in_new(struct conn *c)
{
	struct bufferevent *bev = bufferevent_socket_new(c->srv->base, -1, 0);

	bufferevent_disable(bev, EV_READ | EV_WRITE);
	return bev;
}

/* The handshake thread's answer: serve the session over TLS from now on,
   with what it wrote meanwhile, or tell it the connection is lost. */
static void on_handshake(void *ctx, evutil_socket_t fd, SSL *ssl, short what,
			 const char *error)
{
	struct conn *c = ctx;
	struct bufferevent *stand_in = c->bev, *bev;

	c->handshake = NULL;
	if (ssl == NULL) {
		c->tls_error = error;
		c->ops->lost(c, what);	/* the session is freed */
		return;
	}
	if ((bev = tls_session_new(c->srv->base, fd, ssl)) == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		c->tls_error = "cannot open the TLS session";
		c->ops->lost(c, BEV_EVENT_ERROR);
		return;
	}
	/* a socket bufferevent keeps its output's front frozen */
	evbuffer_unfreeze(bufferevent_get_output(stand_in), 1);
	evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_output(stand_in));
	bufferevent_free(stand_in);
	use_bev(c, bev);
}

/* Hand the socket to a handshake thread; the session writes to a stand-in
   until it is done. */
static void handshake_start(struct conn *c, evutil_socket_t fd)
{
	c->bev = stand_in_new(c);
	c->handshake = tls_pool_accept(c->srv->tls_pool, fd,
				       (unsigned)c->srv->cfg.idle_timeout, on_handshake, c);
}

/* STARTTLS: the go-ahead has left the clear bufferevent; its socket goes
   to a handshake thread (the bufferevent is freed without closing it). */
static void on_clear_sent(struct bufferevent *clear, void *arg)
{
	struct conn *c = arg;
	evutil_socket_t fd = bufferevent_getfd(clear);

	bufferevent_setfd(clear, -1);
	bufferevent_free(clear);
	c->clear = NULL;
	c->tls_error = NULL;
	c->handshake = tls_pool_accept(c->srv->tls_pool, fd,
				       (unsigned)c->srv->cfg.idle_timeout, on_handshake, c);
}

static void on_clear_event(struct bufferevent *clear, short what, void *arg)
{
	struct conn *c = arg;

	c->ops->lost(c, what);
}

const char *conn_last_error(const struct conn *c)
{
	if (c->tls_error != NULL)
		return c->tls_error;
	return tls_last_error(c->bev);
}

void conn_start(struct conn *c, struct services *srv, evutil_socket_t fd,
		enum config_listener l, const char *addr, uint16_t port, bool tls,
		const struct conn_ops *ops, const struct conn_params *params)
{
	evutil_make_socket_nonblocking(fd);
	c->tls = tls;
	c->listener = l;
	str_copy(c->addr, addr, sizeof(c->addr));
	c->port = port;
	c->loopback = strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
	c->ops = ops;
	c->params = params;
	if (ops->timer != NULL)
		c->timer = evtimer_new(srv->base, on_timer, c);
	conn_register(srv, c);
	if (tls)
		handshake_start(c, fd);
	else
		use_bev(c, bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE));
}

struct evbuffer *conn_output(struct conn *c)
{
	return bufferevent_get_output(c->bev);
}

struct evbuffer *conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

void conn_set_output_low(struct conn *c, size_t low)
{
	bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

void conn_read_resume(struct conn *c)
{
	bufferevent_enable(c->bev, EV_READ);
}

int conn_read_line(struct conn *c, char *line, size_t max, size_t *len_r)
{
	return line_read(bufferevent_get_input(c->bev), line, max, len_r, &c->skip_line);
}

/* ---- STARTTLS, COMPRESS ---- */

bool conn_starttls_offered(const struct conn *c)
{
	/* the handshake threads take the socket itself: no TLS under COMPRESS */
	return !c->tls && c->srv->tls != NULL && bufferevent_get_underlying(c->bev) == NULL;
}

bool conn_starttls_clean(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (evbuffer_get_length(in) == 0)
		return true;
	evbuffer_drain(in, evbuffer_get_length(in));
	return false;
}

void conn_starttls(struct conn *c)
{
	struct bufferevent *clear = c->bev;

	/* the ClientHello stays in the socket for the handshake thread */
	bufferevent_disable(clear, EV_READ);
	bufferevent_set_timeouts(clear, NULL, NULL);
	bufferevent_setwatermark(clear, EV_WRITE, 0, 0);
	bufferevent_setcb(clear, NULL, on_clear_sent, on_clear_event, c);
	c->clear = clear;
	c->tls = true;
	c->bev = stand_in_new(c);
	if (evbuffer_get_length(bufferevent_get_output(clear)) == 0)
		on_clear_sent(clear, c);
}

int conn_compress(struct conn *c)
{
	struct bufferevent *bev = conn_deflate_wrap(c->bev, c->params->output_low);

	if (bev == NULL)
		return -1;
	use_bev(c, bev);
	/* what the client sent after the command is already compressed */
	bufferevent_flush(bev, EV_READ, BEV_NORMAL);
	return 1;
}

/* ---- the re-entrancy guard ---- */

void conn_guard_enter(struct conn *c)
{
	c->guard++;
}

bool conn_guard_defer(struct conn *c)
{
	if (c->guard == 0)
		return false;
	c->free_due = true;
	return true;
}

bool conn_gone(const struct conn *c)
{
	return c->free_due;
}

bool conn_guarded(const struct conn *c)
{
	return c->guard > 0;
}

bool conn_guard_leave(struct conn *c)
{
	if (c->guard > 0)
		c->guard--;
	if (c->guard > 0 || !c->free_due)
		return true;
	c->free_due = false;
	c->ops->close_now(c);
	return false;
}

/* ---- timers ---- */

void conn_timer_start(struct conn *c, unsigned long seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	if (c->timer != NULL)
		evtimer_add(c->timer, &tv);
}

void conn_timer_stop(struct conn *c)
{
	if (c->timer != NULL)
		evtimer_del(c->timer);
}

/* ---- logins ---- */

bool conn_plaintext_ok(const struct conn *c)
{
	return c->tls || (c->loopback && c->srv->cfg.auth_plaintext_loopback);
}

/* Per protocol: the upgrade command, s_client's -starttls name and the
   implicit-TLS listener. */
static void tls_way(enum config_listener l, const char **cmd, const char **proto,
		    enum config_listener *implicit)
{
	*cmd = "STARTTLS";
	*proto = "smtp";
	*implicit = CONFIG_LISTEN_SUBMISSIONS;
	if (l == CONFIG_LISTEN_POP3 || l == CONFIG_LISTEN_POP3S) {
		*cmd = "STLS";
		*proto = "pop3";
		*implicit = CONFIG_LISTEN_POP3S;
	} else if (l == CONFIG_LISTEN_IMAP || l == CONFIG_LISTEN_IMAPS) {
		*proto = "imap";
		*implicit = CONFIG_LISTEN_IMAPS;
	} else if (l == CONFIG_LISTEN_MANAGESIEVE) {
		*proto = "sieve";
		*implicit = CONFIG_LISTEN_COUNT;	/* none */
	}
}

void conn_tls_hint(const struct conn *c, char *out, size_t size)
{
	const char *cmd, *proto, *list;
	enum config_listener implicit;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char local[INET6_ADDRSTRLEN + 2] = "HOST", port_text[8] = "PORT";
	size_t first;
	uint16_t port;

	tls_way(c->listener, &cmd, &proto, &implicit);
	if (c->bev != NULL &&
	    getsockname(bufferevent_getfd(c->bev), (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		char text[INET6_ADDRSTRLEN];
		conn_sockaddr_text((struct sockaddr *)&ss, text, sizeof(text), &port);
		snprintf(local, sizeof(local), strchr(text, ':') != NULL ? "[%s]" : "%s", text);
		snprintf(port_text, sizeof(port_text), "%u", port);
	}
	list = implicit < CONFIG_LISTEN_COUNT ? c->srv->cfg.listen[implicit] : "";
	list += strspn(list, ", \t");
	first = strcspn(list, ", \t");
	if (first > 0 && memchr(list, ':', first) != NULL) {
		const char *colon = list + first;
		while (*colon != ':')
			colon--;
		snprintf(out, size, "use %s, or implicit TLS on port %.*s; by hand: "
			 "openssl s_client -crlf -starttls %s -connect %s:%s", cmd,
			 (int)(list + first - colon - 1), colon + 1, proto, local, port_text);
	} else {
		snprintf(out, size, "use %s; by hand: openssl s_client -crlf -starttls %s "
			 "-connect %s:%s", cmd, proto, local, port_text);
	}
}
