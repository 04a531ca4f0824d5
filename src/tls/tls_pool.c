/*
 * tls_pool.c - the handshake threads: server TLS handshakes off the loop.
 *
 * The public-key work of a handshake (the signature, the key exchange) is
 * most of the CPU a mail session's TLS costs; on the loop it would hold up
 * every other session for as long as it takes.  So the loop gives a new
 * socket (implicit TLS) or one whose STARTTLS reply has left to one of a
 * few threads, in turn.  Each thread runs an event loop of its own and
 * drives many handshakes at once with SSL_do_handshake() on read and write
 * readiness, within a deadline.  A finished handshake (its socket and its
 * SSL, or the reason it failed) goes back to the loop through the "done"
 * hand-off, where the caller's callback runs.
 *
 * Ownership: a handshake is the thread's from tls_pool_accept() until it
 * posts it to done; the loop frees it after the callback.  Every handshake
 * is also on the loop's live list (loop thread only), so that stopping the
 * pool frees those in flight, on a thread or on done, once the threads are
 * joined.  A cancel (the connection went away on the loop) marks the
 * handshake and wakes its thread, which drops it at once: its descriptor
 * is closed, its callback never runs.
 */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/handoff.h"
#include "lib/log.h"
#include "lib/util.h"

#define TLS_POOL_MIN_THREADS 2
#define TLS_POOL_MAX_THREADS 16
#define TLS_THREAD_NAME "correio-tls"

struct tls_thread {
	struct tls_pool *pool;
	pthread_t id;
	bool started;
	struct event_base *base;
	struct handoff *in;		/* handshakes to start, from the loop */
	struct event *in_ev;
	struct event *wake;		/* made active by a cancel */
	struct tls_handshake *flight;	/* in progress here (this thread only) */
};

struct tls_pool {
	struct tls *tls;
	struct handoff *done;		/* finished handshakes, to the loop */
	struct event *done_ev;
	struct tls_thread *threads;
	unsigned n_threads, next;
	struct tls_handshake *live;	/* every handshake not freed (loop only) */
};

struct tls_handshake {
	struct handoff_link link;	/* on the thread's in, then on done */
	struct tls_thread *thread;
	evutil_socket_t fd;
	SSL *ssl;
	struct event *ev;		/* the socket's readiness (thread) */
	struct timespec deadline;	/* CLOCK_MONOTONIC */
	atomic_bool cancelled;
	short what;			/* 0: done, else BEV_EVENT_* */
	char error[200];
	tls_handshake_fn *fn;
	void *ctx;
	struct tls_handshake *prev, *next;		/* the thread's flight */
	struct tls_handshake *live_prev, *live_next;	/* the pool's live list */
};

static struct tls_handshake *handshake_of(struct handoff_link *l)
{
	return HANDOFF_ITEM(l, struct tls_handshake, link);
}

/* ---- on a handshake thread ---- */

static void flight_remove(struct tls_handshake *h)
{
	struct tls_thread *th = h->thread;

	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		th->flight = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
}

/* The handshake is over (what 0: done): stop watching its socket, close it
   on failure, and give it back to the loop. */
static void handshake_end(struct tls_handshake *h, short what, const char *error)
{
	flight_remove(h);
	if (h->ev != NULL)
		event_free(h->ev);
	h->ev = NULL;
	h->what = what;
	if (what != 0) {
		str_copy(h->error, error, sizeof(h->error));
		SSL_free(h->ssl);
		h->ssl = NULL;
		close(h->fd);
		h->fd = -1;
	}
	handoff_post(h->thread->pool->done, &h->link);
}

/* Why SSL_do_handshake() returned r: the TLS error, the socket's, or the
   peer's close. */
static short handshake_failure(struct tls_handshake *h, int r, char *text, size_t size)
{
	int e = SSL_get_error(h->ssl, r);
	unsigned long code = ERR_peek_error();

	if (code != 0) {
		ERR_error_string_n(code, text, size);
		ERR_clear_error();
		return BEV_EVENT_ERROR;
	}
	if (e == SSL_ERROR_SYSCALL && errno != 0) {
		snprintf(text, size, "%s", strerror(errno));
		return BEV_EVENT_ERROR;
	}
	str_copy(text, "connection closed during the TLS handshake", size);
	return BEV_EVENT_EOF;
}

static void on_ready(evutil_socket_t fd, short what, void *arg);

/* Wait until the socket is ready for the way the handshake wants, within
   what is left of its deadline. */
static void handshake_wait(struct tls_handshake *h, short way)
{
	struct timespec now;
	struct timeval left;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (h->deadline.tv_sec - now.tv_sec) * 1000LL +
	     (h->deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0) {
		handshake_end(h, BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT, "TLS handshake timed out");
		return;
	}
	left.tv_sec = (time_t)(ms / 1000);
	left.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (h->ev == NULL)
		h->ev = event_new(h->thread->base, h->fd, way, on_ready, h);
	else
		event_assign(h->ev, h->thread->base, h->fd, way, on_ready, h);
	event_add(h->ev, &left);
}

/* One step of the handshake, as far as the socket lets it go. */
static void handshake_step(struct tls_handshake *h)
{
	char text[200];
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(h->ssl);
	if (r == 1) {
		handshake_end(h, 0, "");
		return;
	}
	switch (SSL_get_error(h->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		handshake_wait(h, EV_READ);
		return;
	case SSL_ERROR_WANT_WRITE:
		handshake_wait(h, EV_WRITE);
		return;
	default:
		handshake_end(h, handshake_failure(h, r, text, sizeof(text)), text);
	}
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct tls_handshake *h = arg;

	if (what & EV_TIMEOUT)
		handshake_end(h, BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT, "TLS handshake timed out");
	else
		handshake_step(h);
}

/* New handshakes from the loop: each takes its first step at once. */
static void on_in(void *ctx, struct handoff_link *batch)
{
	struct tls_thread *th = ctx;

	while (batch != NULL) {
		struct tls_handshake *h = handshake_of(batch);
		batch = batch->next;
		h->next = th->flight;
		if (th->flight != NULL)
			th->flight->prev = h;
		th->flight = h;
		if (atomic_load(&h->cancelled))
			handshake_end(h, BEV_EVENT_ERROR, "cancelled");
		else
			handshake_step(h);
	}
}

/* A cancel: drop the cancelled handshakes in flight. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct tls_thread *th = arg;
	struct tls_handshake *h, *next;

	for (h = th->flight; h != NULL; h = next) {
		next = h->next;
		if (atomic_load(&h->cancelled))
			handshake_end(h, BEV_EVENT_ERROR, "cancelled");
	}
}

static void *thread_main(void *arg)
{
	struct tls_thread *th = arg;

	event_base_loop(th->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* ---- on the loop ---- */

static void live_remove(struct tls_pool *p, struct tls_handshake *h)
{
	if (h->live_prev != NULL)
		h->live_prev->live_next = h->live_next;
	else
		p->live = h->live_next;
	if (h->live_next != NULL)
		h->live_next->live_prev = h->live_prev;
}

/* Free h and what it still holds (a finished handshake nobody took). */
static void handshake_free(struct tls_pool *p, struct tls_handshake *h)
{
	live_remove(p, h);
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->ssl != NULL)
		SSL_free(h->ssl);
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}

/* Finished handshakes: the callbacks of those not cancelled. */
static void on_done(void *ctx, struct handoff_link *batch)
{
	struct tls_pool *p = ctx;

	while (batch != NULL) {
		struct tls_handshake *h = handshake_of(batch);
		batch = batch->next;
		if (!atomic_load(&h->cancelled)) {
			h->fn(h->ctx, h->fd, h->ssl, h->what, h->error);
			h->fd = -1;	/* the callback's now */
			h->ssl = NULL;
		}
		handshake_free(p, h);
	}
}

static int thread_start(struct tls_pool *p, struct tls_thread *th)
{
	sigset_t all, old;
	int ret;

	th->pool = p;
	if ((th->base = event_base_new()) == NULL || handoff_new(on_in, th, &th->in) < 0)
		return -1;
	th->in_ev = handoff_watch(th->in, th->base);
	th->wake = event_new(th->base, -1, 0, on_wake, th);
	/* signals are the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&th->id, NULL, thread_main, th);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0)
		return -1;
	pthread_setname_np(th->id, TLS_THREAD_NAME);
	th->started = true;
	return 1;
}

static unsigned default_threads(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cores < TLS_POOL_MIN_THREADS)
		return TLS_POOL_MIN_THREADS;
	return cores > TLS_POOL_MAX_THREADS ? TLS_POOL_MAX_THREADS : (unsigned)cores;
}

int tls_pool_new(struct tls *t, struct event_base *loop, unsigned threads,
		 struct tls_pool **r, const char **error_r)
{
	struct tls_pool *p = xcalloc(1, sizeof(*p));

	p->tls = t;
	p->n_threads = threads > 0 ? threads : default_threads();
	p->threads = xcalloc(p->n_threads, sizeof(*p->threads));
	if (handoff_new(on_done, p, &p->done) < 0) {
		*error_r = "cannot make the TLS handshake threads' hand-off";
		free(p->threads);
		free(p);
		return -1;
	}
	p->done_ev = handoff_watch(p->done, loop);
	*r = p;
	for (unsigned i = 0; i < p->n_threads; i++) {
		if (thread_start(p, &p->threads[i]) < 0) {
			*error_r = "cannot start the TLS handshake threads";
			tls_pool_free(r);
			return -1;
		}
	}
	return 1;
}

static void thread_free(struct tls_thread *th)
{
	if (th->in_ev != NULL)
		event_free(th->in_ev);
	if (th->wake != NULL)
		event_free(th->wake);
	handoff_free(&th->in);
	if (th->base != NULL)
		event_base_free(th->base);
}

void tls_pool_free(struct tls_pool **pp)
{
	struct tls_pool *p = *pp;

	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->n_threads; i++)
		if (p->threads[i].started)
			event_base_loopbreak(p->threads[i].base);
	for (unsigned i = 0; i < p->n_threads; i++)
		if (p->threads[i].started)
			pthread_join(p->threads[i].id, NULL);
	/* in flight, waiting on a thread's in or on done: all on the live list,
	   their events freed before their thread's base */
	while (p->live != NULL)
		handshake_free(p, p->live);
	for (unsigned i = 0; i < p->n_threads; i++)
		thread_free(&p->threads[i]);
	event_free(p->done_ev);
	handoff_free(&p->done);
	free(p->threads);
	free(p);
	*pp = NULL;
}

unsigned tls_pool_threads(const struct tls_pool *p)
{
	return p->n_threads;
}

struct tls_handshake *tls_pool_accept(struct tls_pool *p, evutil_socket_t fd,
				      unsigned timeout, tls_handshake_fn *fn, void *ctx)
{
	struct tls_handshake *h = xcalloc(1, sizeof(*h));

	h->thread = &p->threads[p->next++ % p->n_threads];
	h->fd = fd;
	h->ssl = tls_server_ssl(p->tls);
	SSL_set_fd(h->ssl, fd);
	SSL_set_accept_state(h->ssl);
	clock_gettime(CLOCK_MONOTONIC, &h->deadline);
	h->deadline.tv_sec += timeout;
	h->fn = fn;
	h->ctx = ctx;
	h->live_next = p->live;
	if (p->live != NULL)
		p->live->live_prev = h;
	p->live = h;
	handoff_post(h->thread->in, &h->link);
	return h;
}

void tls_handshake_cancel(struct tls_handshake *h)
{
	atomic_store(&h->cancelled, true);
	event_active(h->thread->wake, 0, 0);
}
