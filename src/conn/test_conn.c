/*
 * test_conn.c - the connection layer over a real socket pair: admission
 * within [limits] (total, per client, after a close), command lines read
 * through the ops with an over-long one reported, input pipelined after
 * STARTTLS discarded, the re-entrancy guard deferring a free, the
 * protocol timer, and a close once the output has left.
 */
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
#include <event2/event.h>

#include "conn/conn.h"

#define LINE_MAX_TEST 16

struct test_session {
	struct conn conn;	/* first, as the protocols embed it */
	char lines[256];	/* each line read and "|", "!" for a long one */
	unsigned inputs, timers, closes, released;
	unsigned last_open;
	bool free_inside;	/* free the session from inside its input */
	bool hold;		/* leave the input where it is */
};

static struct services srv;

static void on_released(void *ctx, unsigned open)
{
	struct test_session *t = ctx;

	if (t != NULL) {
		t->released++;
		t->last_open = open;
	}
}

static void session_free(struct test_session *t)
{
	if (conn_guard_defer(&t->conn))
		return;
	t->closes++;
	conn_unregister(&t->conn);
}

static bool on_input(struct conn *c)
{
	struct test_session *t = (struct test_session *)c;
	char line[LINE_MAX_TEST + 1];
	size_t len, o = strlen(t->lines);
	int ret;

	t->inputs++;
	if (t->hold)
		return true;
	conn_guard_enter(c);
	while (!conn_gone(c) && (ret = conn_read_line(c, line, LINE_MAX_TEST, &len)) != 0) {
		o += (size_t)snprintf(t->lines + o, sizeof(t->lines) - o, "%s",
				      ret < 0 ? "!" : line);
		o += (size_t)snprintf(t->lines + o, sizeof(t->lines) - o, "%s",
				      ret < 0 ? "" : "|");
		if (ret > 0 && strcmp(line, "QUIT") == 0 && t->free_inside)
			session_free(t);
	}
	return conn_guard_leave(c);
}

static void on_timer(struct conn *c)
{
	((struct test_session *)c)->timers++;
}

static void on_lost(struct conn *c, short what)
{
	session_free((struct test_session *)c);
}

static void on_close_now(struct conn *c)
{
	session_free((struct test_session *)c);
}

static const struct conn_ops ops = {
	.input = on_input,
	.timer = on_timer,
	.lost = on_lost,
	.shutdown = on_close_now,
	.close_now = on_close_now,
};

static const struct conn_params params = { .input_max = 4096 };

static void setup_services(unsigned max, unsigned per_client, struct test_session *t)
{
	memset(&srv, 0, sizeof(srv));
	config_defaults(&srv.cfg);
	srv.cfg.max_connections = max;
	srv.cfg.max_connections_per_client = per_client;
	srv.base = event_base_new();
	srv.conns = conn_set_new(on_released, t);
}

static void teardown_services(void)
{
	conn_set_free(&srv.conns);
	event_base_free(srv.base);
}

/* Start t on one end of a socket pair; the other end is returned. */
static int start(struct test_session *t, const char *addr)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	conn_start(&t->conn, &srv, sv[0], CONFIG_LISTEN_SMTP, addr, 25, false, &ops, &params);
	return sv[1];
}

/* Run the loop until nothing is left to do right now. */
static void settle(void)
{
	for (int i = 0; i < 20; i++) {
		struct timeval tick = { 0, 5000 };
		event_base_loopexit(srv.base, &tick);
		event_base_dispatch(srv.base);
	}
}

static void test_admission(void **state)
{
	struct test_session a = { 0 }, b = { 0 };
	int pa, pb;

	setup_services(2, 1, &a);
	assert_true(conn_admit(&srv, CONFIG_LISTEN_SMTP, "192.0.2.1", 1000));
	pa = start(&a, "192.0.2.1");
	assert_int_equal(conn_set_count(srv.conns), 1);
	/* one per client: the same address is refused, another is taken */
	assert_false(conn_admit(&srv, CONFIG_LISTEN_SMTP, "192.0.2.1", 1001));
	assert_true(conn_admit(&srv, CONFIG_LISTEN_SMTP, "192.0.2.2", 1000));
	pb = start(&b, "192.0.2.2");
	/* two in all: a third address is refused */
	assert_false(conn_admit(&srv, CONFIG_LISTEN_SMTP, "192.0.2.3", 1000));
	/* a closed connection gives its slot back, and says so */
	session_free(&a);
	assert_int_equal(a.released, 1);
	assert_int_equal(a.last_open, 1);
	assert_true(conn_admit(&srv, CONFIG_LISTEN_SMTP, "192.0.2.1", 1002));
	/* a stopping server takes nobody */
	srv.stopping = true;
	assert_false(conn_admit(&srv, CONFIG_LISTEN_SMTP, "192.0.2.4", 1000));
	srv.stopping = false;
	conn_set_close_all(srv.conns);
	assert_int_equal(conn_set_count(srv.conns), 0);
	assert_int_equal(b.closes, 1);
	close(pa);
	close(pb);
	teardown_services();
}

static void test_lines(void **state)
{
	static const char text[] = "HELO a\r\n12345678901234567890\r\nNOOP\nQU";
	struct test_session t = { 0 };
	int peer;

	setup_services(10, 10, NULL);
	peer = start(&t, "127.0.0.1");
	assert_true(t.conn.loopback);
	assert_int_equal(write(peer, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	settle();
	assert_string_equal(t.lines, "HELO a|!NOOP|");
	assert_int_equal(write(peer, "IT\r\n", 4), 4);
	settle();
	assert_string_equal(t.lines, "HELO a|!NOOP|QUIT|");
	/* the client goes: the session is told and frees itself */
	close(peer);
	settle();
	assert_int_equal(t.closes, 1);
	assert_int_equal(conn_set_count(srv.conns), 0);
	teardown_services();
}

static void test_starttls_pipelined(void **state)
{
	struct test_session t = { 0 };
	int peer;

	setup_services(10, 10, NULL);
	peer = start(&t, "192.0.2.9");
	assert_false(t.conn.loopback);
	assert_false(conn_starttls_offered(&t.conn));	/* no certificate */
	assert_true(conn_starttls_clean(&t.conn));
	/* a command sent in the clear behind STARTTLS */
	t.hold = true;
	assert_int_equal(write(peer, "RCPT TO:<x@y>\r\n", 15), 15);
	settle();
	assert_int_equal(evbuffer_get_length(conn_input(&t.conn)), 15);
	assert_false(conn_starttls_clean(&t.conn));
	assert_int_equal(evbuffer_get_length(conn_input(&t.conn)), 0);
	session_free(&t);
	close(peer);
	teardown_services();
}

static void test_guard(void **state)
{
	struct test_session t = { 0 };
	int peer;

	setup_services(10, 10, NULL);
	peer = start(&t, "192.0.2.9");
	t.free_inside = true;
	/* freed inside its own input: the reading stops, the free is done
	   once, when the guard is left */
	assert_int_equal(write(peer, "QUIT\r\nNOOP\r\n", 12), 12);
	settle();
	assert_string_equal(t.lines, "QUIT|");
	assert_int_equal(t.closes, 1);
	assert_int_equal(conn_set_count(srv.conns), 0);
	close(peer);
	teardown_services();
}

static void test_timer_and_close(void **state)
{
	struct test_session t = { 0 };
	char reply[16] = { 0 };
	int peer;

	setup_services(10, 10, NULL);
	peer = start(&t, "192.0.2.9");
	conn_timer_start(&t.conn, 0);
	settle();
	assert_int_equal(t.timers, 1);
	conn_timer_start(&t.conn, 0);
	conn_timer_stop(&t.conn);
	settle();
	assert_int_equal(t.timers, 1);
	/* the reply leaves before the close */
	evbuffer_add(conn_output(&t.conn), "221 bye\r\n", 9);
	conn_close_after_output(&t.conn);
	settle();
	assert_int_equal(t.closes, 1);
	assert_int_equal(read(peer, reply, sizeof(reply) - 1), 9);
	assert_string_equal(reply, "221 bye\r\n");
	close(peer);
	teardown_services();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_starttls_pipelined),
		cmocka_unit_test(test_guard),
		cmocka_unit_test(test_timer_and_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
