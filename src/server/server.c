/*
 * server.c - listeners, connection limits, signals and the main loop.
 *
 * Start-up order: take the data directory's lock (serve_lock.c: one
 * server per data directory), then read nothing from the data directory
 * until the listeners are bound and root is left; then recover the spool,
 * start the delivery agent, and accept.  The lock is released last, once
 * everything else, the control socket included, is gone.
 *
 * Descriptors: at start the soft RLIMIT_NOFILE is raised to the hard one
 * and `connections` is held to what the limit leaves after a reserve for
 * spool, mailbox, database and log files.  Should accept() still run out
 * (EMFILE, ENFILE), the clients waiting are told "busy" with the help of
 * one spare descriptor, and the listeners pause until a connection closes
 * or a short timer fires: no busy loop, and one log line now and then.
 */
#include "server.h"
#include "conn/conn.h"
#include "control.h"
#include "serve_lock.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "acme/acme.h"
#include "auth/accounts.h"
#include "auth/auth.h"
#include "delivery/delivery.h"
#include "delivery/quota.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/privilege.h"
#include "lib/util.h"
#include "mta/mta.h"
#include "queue/queue.h"
#include "server/metrics_http.h"
#include "imapd/imapd.h"
#include "jmap/jmap.h"
#include "pop3d/pop3d.h"
#include "managesieve/managesieve.h"
#include "smtpd/smtpd.h"
#include "srs/srs.h"
#include "store/store.h"
#include "tls/tls.h"

#define MAX_LISTENERS 16
#define SHUTDOWN_GRACE_SECONDS 30
#define FD_RESERVE_MIN 64		/* descriptors kept beside the connections */
#define FD_LIMIT_MAX (1u << 20)		/* when the hard limit is "unlimited" */
#define ACCEPT_PAUSE_MS 200		/* listeners paused after EMFILE, at most */
#define LOG_EVERY_SECONDS 10		/* repeated complaints: one line per period */
#define STORE_WORKERS 4			/* threads for the mail store's fsyncs */

struct protocol {
	void (*accept)(struct services *srv, evutil_socket_t fd,
		       enum config_listener l, const char *addr, uint16_t port);
	const char *busy_reply;
};

static const struct protocol protocols[CONFIG_LISTEN_COUNT] = {
	[CONFIG_LISTEN_SMTP] = { smtpd_accept, "421 4.7.0 Too many connections, try again later\r\n" },
	[CONFIG_LISTEN_SUBMISSION] = { smtpd_accept, "421 4.7.0 Too many connections, try again later\r\n" },
	/* implicit TLS: a plaintext reply would be noise to the client */
	[CONFIG_LISTEN_SUBMISSIONS] = { smtpd_accept, "" },
	[CONFIG_LISTEN_POP3] = { pop3d_accept, "-ERR [SYS/TEMP] too many connections\r\n" },
	[CONFIG_LISTEN_POP3S] = { pop3d_accept, "" },
	[CONFIG_LISTEN_IMAP] = { imapd_accept, "* BYE too many connections\r\n" },
	[CONFIG_LISTEN_IMAPS] = { imapd_accept, "" },
	[CONFIG_LISTEN_MANAGESIEVE] = { managesieve_accept, "BYE (TRYLATER) \"too many connections\"\r\n" },
};

struct listener {
	struct evconnlistener *ev;
	enum config_listener kind;
	struct server_state *st;
};

/* The server with what only this file sees. */
struct server_state {
	struct services srv;
	struct listener listeners[MAX_LISTENERS];
	int n_listeners;
	struct event *sig_term, *sig_int, *sig_hup, *sig_usr1, *grace;
	struct control *control;
	struct event *store_event;	/* the store's workers have finished work */
	int spare_fd;			/* given up to refuse clients at EMFILE */
	bool paused;			/* listeners disabled for want of descriptors */
	struct event *resume;		/* re-enables them */
	struct log_limit accept_log;
	int lock_fd;			/* serve_lock: held for the server's life */
	struct metrics_http *metrics;	/* [metrics] listen, or NULL */
	struct acme_http01 *acme_http01;	/* [listen] acme_http, or NULL */
};

static void listeners_resume(struct server_state *st);

/* ---- descriptors ---- */

/* Raise the soft descriptor limit to the hard one.  Returns the number of
   connections it allows (a bound on `connections`, now and after a
   reload), and says so if that is fewer than configured. */
static uint64_t descriptors_setup(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want, reserve, limit;
	uint64_t allowed;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return UINT64_MAX;
	want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FD_LIMIT_MAX ?
		FD_LIMIT_MAX : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info("start: descriptor limit raised from %llu to %llu",
				 (unsigned long long)old, (unsigned long long)want);
		else
			rl.rlim_cur = old;
	}
	limit = rl.rlim_cur == RLIM_INFINITY ? FD_LIMIT_MAX : rl.rlim_cur;
	reserve = limit / 8 > FD_RESERVE_MIN ? limit / 8 : FD_RESERVE_MIN;
	allowed = limit > reserve + 1 ? (uint64_t)(limit - reserve) : 1;
	if (allowed < cfg->max_connections)
		log_warn("start: connections = %llu lowered to %llu: %llu descriptors allowed "
			 "(ulimit -n), %llu kept for the spool, mailboxes, database and logs",
			 (unsigned long long)cfg->max_connections, (unsigned long long)allowed,
			 (unsigned long long)limit, (unsigned long long)reserve);
	return allowed;
}

/* ---- connections ---- */

/* A connection closed: a descriptor is free again, and a stopping server
   is done once the last one is gone. */
static void on_conn_released(void *ctx, unsigned open)
{
	struct server_state *st = ctx;

	if (st->paused)
		listeners_resume(st);
	if (st->srv.stopping && open == 0)
		event_base_loopexit(st->srv.base, NULL);
}

static void on_accept(struct evconnlistener *ev, evutil_socket_t fd,
		      struct sockaddr *sa, int socklen, void *arg)
{
	struct listener *l = arg;
	struct server_state *st = l->st;
	char addr[INET6_ADDRSTRLEN];
	uint16_t port;

	conn_sockaddr_text(sa, addr, sizeof(addr), &port);
	if (!conn_admit(&st->srv, l->kind, addr, port)) {
		const char *reply = protocols[l->kind].busy_reply;

		if (write(fd, reply, strlen(reply)) < 0) {
			/* the client is gone already */
		}
		evutil_closesocket(fd);
		return;
	}
	if (sa->sa_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	protocols[l->kind].accept(&st->srv, fd, l->kind, addr, port);
}

/* Accept and refuse what waits on every listener, with the descriptor
   kept spare for this; returns how many clients were told. */
static unsigned refuse_waiting(struct server_state *st)
{
	unsigned n = 0;

	if (st->spare_fd < 0)
		return 0;
	close(st->spare_fd);
	for (int i = 0; i < st->n_listeners; i++) {
		const char *reply = protocols[st->listeners[i].kind].busy_reply;
		int lfd = evconnlistener_get_fd(st->listeners[i].ev), fd;

		while (n < 10000 &&
		       (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			if (write(fd, reply, strlen(reply)) < 0) {
				/* the client is gone already */
			}
			close(fd);
			n++;
		}
	}
	st->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return n;
}

static void listeners_pause(struct server_state *st)
{
	struct timeval pause = { 0, ACCEPT_PAUSE_MS * 1000 };

	if (st->paused)
		return;
	st->paused = true;
	for (int i = 0; i < st->n_listeners; i++)
		evconnlistener_disable(st->listeners[i].ev);
	evtimer_add(st->resume, &pause);
}

static void listeners_resume(struct server_state *st)
{
	if (!st->paused)
		return;
	st->paused = false;
	evtimer_del(st->resume);
	for (int i = 0; i < st->n_listeners; i++)
		evconnlistener_enable(st->listeners[i].ev);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	listeners_resume(arg);
}

/* accept() failed for want of descriptors (or memory): without a pause
   the listener, still readable, would spin the loop. */
static void on_accept_error(struct evconnlistener *ev, void *arg)
{
	struct listener *l = arg;
	struct server_state *st = l->st;
	int err = EVUTIL_SOCKET_ERROR();
	unsigned refused = 0, skipped;

	if (err == EMFILE || err == ENFILE)
		refused = refuse_waiting(st);
	listeners_pause(st);
	if (log_limit_ok(&st->accept_log, LOG_EVERY_SECONDS, &skipped))
		log_err("accept: %s with %u connections open: %u waiting client(s) told to "
			"come back, listeners paused until one closes (%u more since the last "
			"such line)", evutil_socket_error_to_string(err),
			conn_set_count(st->srv.conns), refused,
			skipped);
}

/* ---- listeners ---- */

static int bind_one(struct server_state *st, enum config_listener kind,
		    const char *item)
{
	struct addrinfo *res;
	struct listener *l;

	if (st->n_listeners >= MAX_LISTENERS || listen_address_resolve(item, &res) < 0)
		return -1;
	l = &st->listeners[st->n_listeners];
	l->kind = kind;
	l->st = st;
	l->ev = evconnlistener_new_bind(st->srv.base, on_accept, l,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					LEV_OPT_CLOSE_ON_EXEC, 511, res->ai_addr,
					(int)res->ai_addrlen);
	freeaddrinfo(res);
	if (l->ev == NULL)
		return -1;
	evconnlistener_set_error_cb(l->ev, on_accept_error);
	st->n_listeners++;
	log_info("%s: listening on %s", config_listener_name(kind), item);
	return 1;
}

static int bind_listeners(struct server_state *st)
{
	for (int k = 0; k < CONFIG_LISTEN_COUNT; k++) {
		char copy[512], *save = NULL;
		if (protocols[k].accept == NULL)
			continue;	/* http, https: bound by src/jmap */
		str_copy(copy, st->srv.cfg.listen[k], sizeof(copy));
		for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
		     t = strtok_r(NULL, ", \t", &save)) {
			if (bind_one(st, (enum config_listener)k, t) < 0) {
				log_err("%s: cannot listen on %s: %m",
					config_listener_name((enum config_listener)k), t);
				return -1;
			}
		}
	}
	return 1;
}

static void close_listeners(struct server_state *st)
{
	for (int i = 0; i < st->n_listeners; i++)
		evconnlistener_free(st->listeners[i].ev);
	st->n_listeners = 0;
}

/* ---- signals ---- */

static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
	struct server_state *st = arg;

	log_warn("stop: %u session(s) still open after %d s, closing them",
		 conn_set_count(st->srv.conns), SHUTDOWN_GRACE_SECONDS);
	event_base_loopexit(st->srv.base, NULL);
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct server_state *st = arg;
	struct timeval grace = { SHUTDOWN_GRACE_SECONDS, 0 };

	if (st->srv.stopping)
		return;
	log_info("stop: signal %d, finishing open sessions", (int)sig);
	st->srv.stopping = true;
	close_listeners(st);
	jmap_unbind(st->srv.jmap);
	conn_set_shutdown(st->srv.conns);
	if (conn_set_count(st->srv.conns) == 0) {
		event_base_loopexit(st->srv.base, NULL);
		return;
	}
	st->grace = evtimer_new(st->srv.base, on_grace_over, st);
	evtimer_add(st->grace, &grace);
}

static void log_restart_needed(void *ctx, const char *section, const char *key)
{
	log_warn("reload: [%s] %s changed: it takes effect only at restart", section, key);
}

/* [server] log and log_level; a log file is opened again (logrotate). */
static void server_log_setup(const struct config *cfg, const char *when)
{
	const char *error;

	log_set_level(cfg->log_level == CONFIG_LOG_DEBUG ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (log_set_destination(cfg->log, &error) < 0)
		log_err("%s: cannot open the log %s, logging where it did: %s", when,
			cfg->log, error);
}

/* SIGUSR1: logrotate moved the log file away; write to a new one. */
static void on_sigusr1(evutil_socket_t sig, short what, void *arg)
{
	struct server_state *st = arg;
	const char *error;

	if (log_reopen(&error) < 0)
		log_err("log: cannot reopen %s, writing to the old file: %s (the new file must "
			"be one %s may write, e.g. logrotate's \"create 0640 %s adm\")",
			st->srv.cfg.log, error, st->srv.cfg.user, st->srv.cfg.user);
	else
		log_info("log: log file reopened");
}

/* SIGHUP: the [srs] settings as read now (the old ones stay when the
   secret cannot be read). */
static void srs_reload(struct services *srv)
{
	struct srs *srs;
	const char *error;

	if (srs_setup(&srv->cfg, &srs, &error) < 0) {
		log_err("reload: [srs]: keeping the current settings: %s", error);
		return;
	}
	srs_free(&srv->srs);
	srv->srs = srs;
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct server_state *st = arg;
	struct config cfg, old;
	struct buf errors;
	const char *error;

	if (log_reopen(&error) < 0)	/* even if the file has errors */
		log_err("reload: cannot reopen the log file, writing to the old one: %s", error);
	if (st->srv.cfg.path[0] == '\0') {
		log_info("reload: running on built-in defaults, nothing to read");
		return;
	}
	config_defaults(&cfg);
	buf_init(&errors, 65536);
	if (config_load(&cfg, st->srv.cfg.path, &errors) < 0) {
		log_err("reload: keeping the current configuration: %s", buf_cstr(&errors));
		buf_deinit(&errors);
		return;
	}
	buf_deinit(&errors);
	/* listeners, data_dir, user, auth threads: named in the log, kept */
	config_reload(&cfg, &st->srv.cfg, log_restart_needed, st);
	if (tls_reload(st->srv.tls, &cfg, &error) < 0)
		log_err("reload: keeping the current certificates: %s", error);
	old = st->srv.cfg;
	st->srv.cfg = cfg;
	server_log_setup(&cfg, "reload");
	store_set_host(st->srv.store, cfg.hostname);
	store_set_default_format(st->srv.store, cfg.mailbox_format == CONFIG_MAILBOX_MBOX);
	delivery_set_config(st->srv.delivery, &cfg);
	auth_set_config(st->srv.auth, &cfg);
	mta_reload(st->srv.mta, &old);
	srs_reload(&st->srv);
	log_info("reload: configuration %s read", cfg.path);
}

/* ---- ACME ---- */

/* A certificate was issued: serve it from the next handshake on. */
static void on_acme_issued(void *ctx)
{
	struct server_state *st = ctx;
	const char *error;

	if (tls_reload(st->srv.tls, &st->srv.cfg, &error) < 0)
		log_err("acme: cannot load the new certificate, keeping the current one: %s",
			error);
	else
		log_info("acme: TLS certificates reloaded");
}

static int alpn_cert(void *ctx, const char *name, X509 **cert_r, EVP_PKEY **key_r)
{
	struct services *srv = ctx;

	return srv->acme != NULL ? acme_alpn_cert(srv->acme, name, cert_r, key_r) : 0;
}

/* Before privileges are dropped: the check and the HTTP-01 port (80). */
static int acme_bind(struct server_state *st, const char **error_r)
{
	struct services *srv = &st->srv;

	if (!srv->cfg.acme)
		return 1;
	if (acme_config_check(&srv->cfg, error_r) < 0)
		return -1;
	if (srv->cfg.acme_http_listen[0] == '\0')
		return 1;
	return acme_http01_open(srv->base, srv->cfg.acme_http_listen, &srv->acme,
				&st->acme_http01, error_r);
}

static int acme_open(struct server_state *st, const char **error_r)
{
	struct services *srv = &st->srv;

	if (!srv->cfg.acme)
		return 1;
	tls_set_alpn_challenge(srv->tls, alpn_cert, srv);
	return acme_start(&srv->cfg, srv->base, on_acme_issued, st, &srv->acme, error_r);
}

/* ---- run ---- */

static void on_route(void *ctx, struct envelope *e, bool recovered)
{
	struct services *srv = ctx;

	mta_take(srv->mta, e, recovered);
}

/* The delivery agent gives back a job of the scheduler's local transport
   (it tells the mail store of the new mail itself). */
static void on_local_done(void *ctx, struct delivery_job *job)
{
	struct server_state *st = ctx;

	mta_local_done(st->srv.mta, job);
}

static uint64_t open_connections(void *ctx)
{
	struct server_state *st = ctx;

	return conn_set_count(st->srv.conns);
}

/* The store's workers hand finished disk work back (store.h). */
static void on_store_work(evutil_socket_t fd, short what, void *arg)
{
	store_workers_run(arg);
}

static int server_open(struct server_state *st)
{
	struct services *srv = &st->srv;
	const char *error;
	int fd;

	if (privilege_make_data_dir(&srv->cfg, &error) < 0) {
		log_err("start: %s: %s", srv->cfg.data_dir, error);
		return -1;
	}
	if ((st->lock_fd = serve_lock_take(&srv->cfg, &error)) < 0) {
		log_err("start: %s", error);
		return -1;
	}
	if (bind_listeners(st) < 0 ||
	    metrics_http_open(srv, open_connections, st, &st->metrics) < 0)
		return -1;
	if (jmap_bind(srv, &srv->jmap, &error) < 0 || acme_bind(st, &error) < 0) {
		log_err("start: %s", error);
		return -1;
	}
	if (privilege_drop(&srv->cfg, &error) < 0) {
		log_err("start: %s: %s", srv->cfg.data_dir, error);
		return -1;
	}
	srv->quota = quota_new();
	/* the store first: the delivery agent files mail through it */
	srv->store = store_new(srv->cfg.data_dir, srv->cfg.hostname);
	store_set_default_format(srv->store, srv->cfg.mailbox_format == CONFIG_MAILBOX_MBOX);
	if ((fd = store_workers_start(srv->store, STORE_WORKERS)) >= 0) {
		st->store_event = event_new(srv->base, fd, EV_READ | EV_PERSIST,
					    on_store_work, srv->store);
		event_add(st->store_event, NULL);
	} else {
		log_warn("start: the mail store flushes on the event loop");
	}
	if (srs_setup(&srv->cfg, &srv->srs, &error) < 0) {
		log_err("start: [srs]: %s", error);
		return -1;
	}
	if (tls_open(&srv->cfg, &srv->tls, &error) < 0 ||
	    tls_pool_new(srv->tls, srv->base, 0, &srv->tls_pool, &error) < 0 ||
	    auth_start(&srv->cfg, srv->base, &srv->auth, &error) < 0 ||
	    accounts_open(srv->cfg.data_dir, &srv->accounts, &error) < 0 ||
	    queue_open(srv->cfg.data_dir, srv->base, on_route, srv, &srv->queue, &error) < 0 ||
	    mta_start(srv, &srv->mta, &error) < 0 ||
	    delivery_start(&srv->cfg, srv->queue, srv->quota, srv->store, on_local_done, st,
			   &srv->delivery, &error) < 0 ||
	    control_open(srv, &st->control, &error) < 0 || acme_open(st, &error) < 0) {
		log_err("start: %s", error);
		return -1;
	}
	queue_recover(srv->queue);
	return 1;
}

static void server_close(struct server_state *st)
{
	conn_set_close_all(st->srv.conns);
	close_listeners(st);
	jmap_free(&st->srv.jmap);
	metrics_http_free(&st->metrics);
	acme_stop(&st->srv.acme);
	acme_http01_free(&st->acme_http01);
	control_free(&st->control);
	if (st->srv.queue != NULL)
		queue_stop(st->srv.queue);
	delivery_stop(&st->srv.delivery);
	mta_stop(&st->srv.mta);
	queue_free(&st->srv.queue);
	if (st->store_event != NULL)
		event_free(st->store_event);
	if (st->srv.store != NULL)
		store_free(&st->srv.store);
	auth_stop(&st->srv.auth);
	tls_pool_free(&st->srv.tls_pool);	/* the connections are closed */
	tls_free(&st->srv.tls);
	accounts_free(&st->srv.accounts);
	quota_free(&st->srv.quota);
	srs_free(&st->srv.srs);
	conn_set_free(&st->srv.conns);
}

static void server_signals(struct server_state *st)
{
	struct event_base *base = st->srv.base;

	signal(SIGPIPE, SIG_IGN);
	st->sig_term = evsignal_new(base, SIGTERM, on_sigterm, st);
	st->sig_int = evsignal_new(base, SIGINT, on_sigterm, st);
	st->sig_hup = evsignal_new(base, SIGHUP, on_sighup, st);
	st->sig_usr1 = evsignal_new(base, SIGUSR1, on_sigusr1, st);
	evsignal_add(st->sig_usr1, NULL);
	evsignal_add(st->sig_term, NULL);
	evsignal_add(st->sig_int, NULL);
	evsignal_add(st->sig_hup, NULL);
}

int server_run(const struct config *cfg)
{
	struct server_state *st = xcalloc(1, sizeof(*st));
	int status = 1;

	st->srv.cfg = *cfg;
	st->lock_fd = -1;
	server_log_setup(cfg, "start");
	evthread_use_pthreads();
	st->srv.base = event_base_new();
	st->srv.conns = conn_set_new(on_conn_released, st);
	conn_set_fd_limit(st->srv.conns, descriptors_setup(cfg));
	st->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	st->resume = evtimer_new(st->srv.base, on_resume, st);
	server_signals(st);
	if (server_open(st) > 0) {
		log_info("start: correio on %s, data in %s", cfg->hostname, cfg->data_dir);
		event_base_dispatch(st->srv.base);
		status = 0;
	}
	/* stopping already: a second SIGTERM must not cut the clean-up short.
	   Blocked here, it stays pending until exit, even once the events are
	   freed and the default handlers are back (workers are joined by then). */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	sigaddset(&stop_signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	server_close(st);
	serve_lock_release(&st->lock_fd);
	log_info("stop: done");
	event_free(st->sig_term);
	event_free(st->sig_int);
	event_free(st->sig_hup);
	event_free(st->sig_usr1);
	if (st->grace != NULL)
		event_free(st->grace);
	event_free(st->resume);
	if (st->spare_fd >= 0)
		close(st->spare_fd);
	event_base_free(st->srv.base);
	free(st);
	return status;
}
