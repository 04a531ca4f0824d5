/*
 * test_queue.c - the spool's readers on a real spool in a fresh temporary
 * directory: a committed message is opened and read back by its id (whole,
 * from an offset, cut short by a maximum), unknown or malformed ids are
 * "no such message", the census counts the messages and the age of the
 * oldest, and the free space is known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib-smtp/smtp_parse.h"
#include "lib/buf.h"
#include "queue/queue.h"

static const char return_path[] = "Return-Path: <bob@example.net>\n";
static const char body[] = "Subject: spool\n\nthe text of the message\n";

struct fixture {
	char dir[64];
	struct event_base *base;
	struct queue *q;
	char id[ENVELOPE_ID_LEN + 1];
	int committed;		/* commit's result, 2 while in flight */
	unsigned routed;
};

static void on_route(void *ctx, struct envelope *e, bool recovered)
{
	struct fixture *f = ctx;

	f->routed++;
	envelope_free(&e);
}

static void on_committed(void *ctx, int result)
{
	struct fixture *f = ctx;

	f->committed = result;
}

/* Queue one message from bob to alice and wait until it is on disk. */
static void queue_one(struct fixture *f)
{
	struct envelope *e = envelope_new();
	struct queue_msg *m;
	const char *error = NULL;

	envelope_set(&e->sender, "bob@example.net");
	envelope_set(&e->host, "mx.example.org");
	assert_int_equal(envelope_add_rcpt(e, "alice@example.org", NULL, SMTP_NOTIFY_NEVER), 1);
	assert_int_equal(queue_msg_new(f->q, e, &m, &error), 1);
	snprintf(f->id, sizeof(f->id), "%s", queue_msg_id(m));
	assert_int_equal(queue_msg_write(m, return_path, sizeof(return_path) - 1), 1);
	queue_msg_mark_header(m);
	assert_int_equal(queue_msg_write(m, body, sizeof(body) - 1), 1);
	f->committed = 2;
	queue_commit(&m, on_committed, f);
	while (f->committed == 2)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(f->committed, 1);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error = NULL;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/correio-test-queue.XXXXXX");
	if (mkdtemp(f->dir) == NULL || (f->base = event_base_new()) == NULL ||
	    queue_open(f->dir, f->base, on_route, f, &f->q, &error) != 1) {
		fprintf(stderr, "queue_open: %s\n", error != NULL ? error : f->dir);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	if (f->id[0] != '\0')
		queue_done(f->q, f->id);
	queue_free(&f->q);
	event_base_free(f->base);
	snprintf(path, sizeof(path), "%s/queue", f->dir);
	rmdir(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_text_open_reads_the_message(void **state)
{
	struct fixture *f = *state;
	char text[256];
	ssize_t n;
	int fd = -1;

	queue_one(f);
	assert_int_equal(f->routed, 1);
	assert_int_equal(queue_text_open(f->q, f->id, &fd), 1);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_int_equal((size_t)n, strlen(return_path) + strlen(body));
	assert_memory_equal(text, return_path, strlen(return_path));
	assert_string_equal(text + strlen(return_path), body);
}

static void test_unknown_and_malformed_ids(void **state)
{
	struct fixture *f = *state;
	struct buf out;
	int fd = 7;

	assert_int_equal(queue_text_open(f->q, "00000000000DEAD1", &fd), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(queue_text_open(f->q, "../queue/x", &fd), 0);
	assert_int_equal(queue_text_open(f->q, "", &fd), 0);
	assert_int_equal(queue_text_open(f->q, "0123456789ABCDEF0", &fd), 0);
	buf_init(&out, 0);
	assert_int_equal(queue_text_read(f->q, "00000000000DEAD1", 0, 100, &out), -1);
	assert_int_equal(out.len, 0);
	buf_deinit(&out);
}

static void test_text_read_offset_and_max(void **state)
{
	struct fixture *f = *state;
	size_t header = sizeof(return_path) - 1, all = header + sizeof(body) - 1;
	struct buf out;

	queue_one(f);
	buf_init(&out, 0);
	/* from the end of the Return-Path line to the end */
	assert_int_equal(queue_text_read(f->q, f->id, header, SIZE_MAX, &out), 1);
	assert_int_equal(out.len, sizeof(body) - 1);
	assert_memory_equal(out.data, body, out.len);
	/* cut short, appended after what out holds */
	assert_int_equal(queue_text_read(f->q, f->id, 0, 8, &out), 0);
	assert_int_equal(out.len, sizeof(body) - 1 + 8);
	assert_memory_equal(out.data + sizeof(body) - 1, "Return-P", 8);
	/* a maximum of exactly the size still reads to the end */
	buf_reset(&out);
	assert_int_equal(queue_text_read(f->q, f->id, 0, all, &out), 1);
	assert_int_equal(out.len, all);
	buf_deinit(&out);
}

static void test_census_and_space(void **state)
{
	struct fixture *f = *state;
	uint64_t messages = 9, age = 9, space = 0;

	assert_int_equal(queue_census(f->q, time(NULL), &messages, &age), 1);
	assert_int_equal(messages, 0);
	assert_int_equal(age, 0);
	queue_one(f);
	assert_int_equal(queue_census(f->q, time(NULL) + 100, &messages, &age), 1);
	assert_int_equal(messages, 1);
	assert_true(age >= 99 && age <= 102);
	queue_done(f->q, f->id);
	f->id[0] = '\0';
	assert_int_equal(queue_census(f->q, time(NULL), &messages, &age), 1);
	assert_int_equal(messages, 0);
	assert_int_equal(queue_space(f->q, &space), 1);
	assert_true(space > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text_open_reads_the_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_malformed_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_read_offset_and_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_census_and_space, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
