/*
 * test_tls_pool.c - the handshake threads over socket pairs: many
 * handshakes in flight at once all finish and hand back a working session,
 * a client speaking no TLS fails with the reason, a silent one times out,
 * a cancelled handshake's socket is closed without its callback, and
 * freeing the pool with handshakes in flight closes them (no leak under
 * the sanitizer build).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "lib/config.h"
#include "tls/tls.h"

#define PAIRS 16

struct outcome {
	bool called;
	evutil_socket_t fd;
	SSL *ssl;
	short what;
	char error[200];
};

static struct event_base *base;
static struct tls *tls;
static struct config cfg;
static unsigned pending;

static void on_handshake(void *ctx, evutil_socket_t fd, SSL *ssl, short what,
			 const char *error)
{
	struct outcome *o = ctx;

	o->called = true;
	o->fd = fd;
	o->ssl = ssl;
	o->what = what;
	snprintf(o->error, sizeof(o->error), "%s", error);
	if (--pending == 0)
		event_base_loopbreak(base);
}

/* Run the loop until every callback came, or seconds passed. */
static void run_until_done(unsigned seconds)
{
	struct timeval limit = { (time_t)seconds, 0 };

	if (pending > 0) {
		event_base_loopexit(base, &limit);
		event_base_dispatch(base);
	}
}

static void run_for_ms(long ms)
{
	struct timeval limit = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
}

/* The client side of PAIRS handshakes, one after the other, blocking. */
static void *clients_main(void *arg)
{
	int *fds = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	for (int i = 0; i < PAIRS; i++) {
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fds[i]);
		if (SSL_connect(ssl) == 1)
			SSL_write(ssl, "a1 NOOP\r\n", 9);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
	return NULL;
}

static void socket_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	evutil_make_socket_nonblocking(sv[0]);
}

/* Has the peer of fd closed it (within ms, after what it sent, such as
   an alert)? */
static bool closed(int fd, int ms)
{
	struct timeval tv = { 0, ms * 1000 };
	char buf[512];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n == 0 || errno == ECONNRESET;	/* closed with input unread */
}

static int setup(void **state)
{
	char dir[] = "/tmp/correio-test-tls-XXXXXX";
	const char *error;

	evthread_use_pthreads();
	base = event_base_new();
	config_defaults(&cfg);
	assert_non_null(mkdtemp(dir));
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "mx.example.org");
	if (tls_open(&cfg, &tls, &error) < 0)
		fail_msg("%s", error);
	return 0;
}

static int teardown(void **state)
{
	char cmd[1200];

	tls_free(&tls);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cfg.data_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_many_in_flight(void **state)
{
	struct tls_pool *pool;
	struct outcome out[PAIRS] = { 0 };
	int client[PAIRS], sv[2];
	const char *error;
	pthread_t clients;

	assert_int_equal(tls_pool_new(tls, base, 2, &pool, &error), 1);
	assert_int_equal(tls_pool_threads(pool), 2);
	for (int i = 0; i < PAIRS; i++) {
		socket_pair(sv);
		client[i] = sv[1];
		tls_pool_accept(pool, sv[0], 10, on_handshake, &out[i]);
		pending++;
	}
	pthread_create(&clients, NULL, clients_main, client);
	run_until_done(20);
	pthread_join(clients, NULL);
	for (int i = 0; i < PAIRS; i++) {
		struct bufferevent *bev;
		char line[16] = "";

		assert_true(out[i].called);
		assert_non_null(out[i].ssl);
		assert_int_equal(out[i].what, 0);
		/* the session goes on over TLS on the loop */
		bev = tls_session_new(base, out[i].fd, out[i].ssl);
		assert_non_null(bev);
		bufferevent_enable(bev, EV_READ);
		run_for_ms(50);
		evbuffer_remove(bufferevent_get_input(bev), line, sizeof(line) - 1);
		assert_string_equal(line, "a1 NOOP\r\n");
		bufferevent_free(bev);
		close(client[i]);
	}
	tls_pool_free(&pool);
	assert_null(pool);
}

static void test_failure_and_timeout(void **state)
{
	struct tls_pool *pool;
	struct outcome plain = { 0 }, silent = { 0 };
	int a[2], b[2];
	const char *error;

	assert_int_equal(tls_pool_new(tls, base, 0, &pool, &error), 1);
	assert_true(tls_pool_threads(pool) >= 2);
	socket_pair(a);
	socket_pair(b);
	assert_int_equal(write(a[1], "EHLO not TLS\r\n\r\n", 16), 16);
	tls_pool_accept(pool, a[0], 10, on_handshake, &plain);
	tls_pool_accept(pool, b[0], 1, on_handshake, &silent);
	pending = 2;
	run_until_done(5);
	assert_true(plain.called && silent.called);
	assert_null(plain.ssl);
	assert_true(plain.what & BEV_EVENT_ERROR);
	assert_non_null(strstr(plain.error, "SSL routines"));
	assert_null(silent.ssl);
	assert_int_equal(silent.what, BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT);
	/* the pool closed both sockets */
	assert_true(closed(a[1], 500));
	assert_true(closed(b[1], 500));
	close(a[1]);
	close(b[1]);
	tls_pool_free(&pool);
}

static void test_cancel_and_free_in_flight(void **state)
{
	struct tls_pool *pool;
	struct tls_handshake *h[PAIRS];
	struct outcome out[PAIRS] = { 0 };
	int client[PAIRS], sv[2];
	const char *error;

	assert_int_equal(tls_pool_new(tls, base, 2, &pool, &error), 1);
	for (int i = 0; i < PAIRS; i++) {
		socket_pair(sv);
		client[i] = sv[1];
		h[i] = tls_pool_accept(pool, sv[0], 30, on_handshake, &out[i]);
	}
	run_for_ms(50);
	for (int i = 0; i < PAIRS; i += 2)
		tls_handshake_cancel(h[i]);
	run_for_ms(100);
	for (int i = 0; i < PAIRS; i += 2)
		assert_true(closed(client[i], 500));
	tls_pool_free(&pool);	/* the odd ones are still in flight */
	for (int i = 0; i < PAIRS; i++) {
		assert_false(out[i].called);
		assert_true(closed(client[i], 500));
		close(client[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_in_flight),
		cmocka_unit_test(test_failure_and_timeout),
		cmocka_unit_test(test_cancel_and_free_in_flight),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
