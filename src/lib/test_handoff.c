/*
 * test_handoff.c - the thread hand-off: several producer threads posting
 * to a loop (polled by hand and watched by libevent), each producer's
 * order kept, nothing lost or doubled, wake-ups coalesced; worker threads
 * taking one or all; stopping with and without draining.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/handoff.h"

#define PRODUCERS 4
#define PER_PRODUCER 5000

struct item {
	unsigned producer;
	unsigned seq;
	struct handoff_link link;
};

/* What a consumer saw. */
struct seen {
	unsigned next[PRODUCERS];	/* the seq expected next from each */
	unsigned total;
	unsigned batches;
	unsigned out_of_order;
	struct event_base *base;	/* to leave when all arrived */
};

struct producer {
	struct handoff *h;
	unsigned id;
	struct item *items;
	bool as_lists;		/* post chains of 7 with handoff_post_list */
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (unsigned i = 0; i < PER_PRODUCER; i++) {
		p->items[i].producer = p->id;
		p->items[i].seq = i;
	}
	for (unsigned i = 0; i < PER_PRODUCER;) {
		if (!p->as_lists) {
			handoff_post(p->h, &p->items[i++].link);
			continue;
		}
		unsigned end = i + 7 < PER_PRODUCER ? i + 7 : PER_PRODUCER;
		for (unsigned k = i; k < end; k++)
			p->items[k].link.next = k + 1 < end ? &p->items[k + 1].link : NULL;
		handoff_post_list(p->h, &p->items[i].link);
		i = end;
	}
	return NULL;
}

static void record(struct seen *s, struct handoff_link *batch)
{
	assert_non_null(batch);
	s->batches++;
	for (struct handoff_link *l = batch; l != NULL; l = l->next) {
		struct item *it = HANDOFF_ITEM(l, struct item, link);
		assert_true(it->producer < PRODUCERS);
		if (it->seq != s->next[it->producer])
			s->out_of_order++;
		s->next[it->producer] = it->seq + 1;
		s->total++;
	}
}

static void on_batch(void *ctx, struct handoff_link *batch)
{
	struct seen *s = ctx;

	record(s, batch);
	if (s->base != NULL && s->total == PRODUCERS * PER_PRODUCER)
		event_base_loopbreak(s->base);
}

static void start_producers(struct handoff *h, struct producer *p, pthread_t *t,
			    bool as_lists)
{
	for (unsigned i = 0; i < PRODUCERS; i++) {
		p[i].h = h;
		p[i].id = i;
		p[i].as_lists = as_lists;
		p[i].items = calloc(PER_PRODUCER, sizeof(*p[i].items));
		assert_non_null(p[i].items);
		assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
	}
}

static void join_producers(struct producer *p, pthread_t *t)
{
	for (unsigned i = 0; i < PRODUCERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
}

static void free_producers(struct producer *p)
{
	for (unsigned i = 0; i < PRODUCERS; i++)
		free(p[i].items);
}

static void check_all_seen(const struct seen *s)
{
	assert_int_equal(s->total, PRODUCERS * PER_PRODUCER);
	assert_int_equal(s->out_of_order, 0);
	for (unsigned i = 0; i < PRODUCERS; i++)
		assert_int_equal(s->next[i], PER_PRODUCER);
}

/* A loop polling the descriptor by hand, as the store's owner does. */
static void run_polled(bool as_lists)
{
	struct producer p[PRODUCERS];
	pthread_t t[PRODUCERS];
	struct seen s = { .total = 0 };
	struct handoff *h;

	assert_int_equal(handoff_new(on_batch, &s, &h), 1);
	assert_true(handoff_fd(h) >= 0);
	assert_false(handoff_run(h));		/* nothing yet: no callback */
	start_producers(h, p, t, as_lists);
	while (s.total < PRODUCERS * PER_PRODUCER) {
		struct pollfd pfd = { .fd = handoff_fd(h), .events = POLLIN };
		assert_true(poll(&pfd, 1, 10000) > 0);	/* never stranded */
		handoff_run(h);
	}
	join_producers(p, t);
	check_all_seen(&s);
	/* items arrived faster than the loop ran: they came in batches */
	assert_true(s.batches <= s.total);
	assert_false(handoff_run(h));
	assert_null(handoff_take(h));
	handoff_free(&h);
	assert_null(h);
	free_producers(p);
}

static void test_loop_polled(void **state)
{
	run_polled(false);
}

static void test_loop_polled_lists(void **state)
{
	run_polled(true);
}

/* The same through libevent: handoff_watch. */
static void test_loop_watched(void **state)
{
	struct producer p[PRODUCERS];
	pthread_t t[PRODUCERS];
	struct seen s = { .total = 0 };
	struct timeval limit = { 20, 0 };
	struct handoff *h;
	struct event *ev;

	assert_non_null(s.base = event_base_new());
	assert_int_equal(handoff_new(on_batch, &s, &h), 1);
	ev = handoff_watch(h, s.base);
	start_producers(h, p, t, false);
	event_base_loopexit(s.base, &limit);
	event_base_dispatch(s.base);
	join_producers(p, t);
	check_all_seen(&s);
	event_free(ev);
	handoff_free(&h);
	event_base_free(s.base);
	free_producers(p);
}

/* Many posts before the loop runs: one wake-up, one batch, in order. */
static void test_wakeups_coalesce(void **state)
{
	struct item items[10];
	struct seen s = { .total = 0 };
	struct handoff *h;
	uint64_t count = 0;

	assert_int_equal(handoff_new(on_batch, &s, &h), 1);
	for (unsigned i = 0; i < 10; i++) {
		items[i].producer = 0;
		items[i].seq = i;
		assert_int_equal(handoff_post(h, &items[i].link), i == 0);
	}
	assert_int_equal(read(handoff_fd(h), &count, sizeof(count)), sizeof(count));
	assert_int_equal(count, 1);
	assert_true(handoff_run(h));
	assert_int_equal(s.batches, 1);
	assert_int_equal(s.total, 10);
	assert_int_equal(s.out_of_order, 0);
	/* emptied: the next post is a first again */
	assert_true(handoff_post(h, &items[0].link));
	assert_ptr_equal(handoff_take(h), &items[0].link);
	handoff_free(&h);
}

/* ---- worker hand-offs ---- */

struct workers {
	struct handoff *h;
	pthread_mutex_t lock;
	bool all;
	struct seen s;
	unsigned takes;
	unsigned several;	/* takes of one that gave more */
};

static void *work(void *arg)
{
	struct workers *w = arg;
	struct handoff_link *got;

	while ((got = handoff_wait(w->h, w->all)) != NULL) {
		pthread_mutex_lock(&w->lock);
		w->takes++;
		if (!w->all && got->next != NULL)
			w->several++;	/* one at a time, checked on the main thread */
		/* one worker for "all": the order is the posting order */
		for (struct handoff_link *l = got; l != NULL; l = l->next) {
			struct item *it = HANDOFF_ITEM(l, struct item, link);
			if (w->all && it->seq != w->s.next[it->producer])
				w->s.out_of_order++;
			w->s.next[it->producer] = it->seq + 1;
			w->s.total++;
		}
		pthread_mutex_unlock(&w->lock);
	}
	return NULL;
}

static void run_workers(unsigned n_workers, bool all)
{
	struct producer p[PRODUCERS];
	pthread_t t[PRODUCERS], wt[4];
	struct workers w = { .all = all };

	assert_int_equal(handoff_new(NULL, NULL, &w.h), 1);
	assert_int_equal(handoff_fd(w.h), -1);
	pthread_mutex_init(&w.lock, NULL);
	for (unsigned i = 0; i < n_workers; i++)
		assert_int_equal(pthread_create(&wt[i], NULL, work, &w), 0);
	start_producers(w.h, p, t, false);
	join_producers(p, t);
	/* every item posted before the stop is still taken */
	handoff_stop(w.h, true);
	for (unsigned i = 0; i < n_workers; i++)
		assert_int_equal(pthread_join(wt[i], NULL), 0);
	assert_int_equal(w.s.total, PRODUCERS * PER_PRODUCER);
	assert_int_equal(w.s.out_of_order, 0);
	assert_int_equal(w.several, 0);
	if (!all)
		assert_int_equal(w.takes, PRODUCERS * PER_PRODUCER);
	assert_null(handoff_take(w.h));
	handoff_free(&w.h);
	pthread_mutex_destroy(&w.lock);
	free_producers(p);
}

static void test_workers_take_one(void **state)
{
	run_workers(4, false);
}

static void test_worker_takes_all(void **state)
{
	run_workers(1, true);
}

/* A stop without draining: the waiters leave at once and the items stay
   for the owner, in order. */
static void test_stop_without_drain(void **state)
{
	struct item items[3];
	struct workers w = { .all = false };
	struct handoff_link *left;
	pthread_t wt;

	assert_int_equal(handoff_new(NULL, NULL, &w.h), 1);
	pthread_mutex_init(&w.lock, NULL);
	handoff_stop(w.h, false);
	for (unsigned i = 0; i < 3; i++) {
		items[i].producer = 0;
		items[i].seq = i;
		handoff_post(w.h, &items[i].link);
	}
	assert_null(handoff_wait(w.h, false));
	assert_int_equal(pthread_create(&wt, NULL, work, &w), 0);
	assert_int_equal(pthread_join(wt, NULL), 0);
	assert_int_equal(w.s.total, 0);
	left = handoff_take(w.h);
	for (unsigned i = 0; i < 3; i++, left = left->next)
		assert_ptr_equal(left, &items[i].link);
	assert_null(left);
	handoff_free(&w.h);
	pthread_mutex_destroy(&w.lock);
}

/* Workers asleep on an empty hand-off all wake for the stop. */
static void test_stop_wakes_sleepers(void **state)
{
	struct workers w = { .all = false };
	pthread_t wt[4];

	assert_int_equal(handoff_new(NULL, NULL, &w.h), 1);
	pthread_mutex_init(&w.lock, NULL);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&wt[i], NULL, work, &w), 0);
	usleep(20000);
	handoff_stop(w.h, true);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_join(wt[i], NULL), 0);
	assert_int_equal(w.takes, 0);
	handoff_free(&w.h);
	pthread_mutex_destroy(&w.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_polled),
		cmocka_unit_test(test_loop_polled_lists),
		cmocka_unit_test(test_loop_watched),
		cmocka_unit_test(test_wakeups_coalesce),
		cmocka_unit_test(test_workers_take_one),
		cmocka_unit_test(test_worker_takes_all),
		cmocka_unit_test(test_stop_without_drain),
		cmocka_unit_test(test_stop_wakes_sleepers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
