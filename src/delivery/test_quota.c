/*
 * test_quota.c - the quota rule (what fits) and the reservations that
 * sessions ending DATA at the same time share, across threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>

#include <cmocka.h>

#include "delivery/quota.h"

static void test_fits(void **state)
{
	static const struct {
		uint64_t limit, used, reserved, bytes;
		bool fits;
	} cases[] = {
		{ 0, 999, 999, UINT64_MAX, true },	/* no quota */
		{ 100, 0, 0, 100, true },		/* exactly full after */
		{ 100, 0, 0, 101, false },
		{ 100, 60, 40, 0, true },
		{ 100, 60, 40, 1, false },
		{ 100, 60, 30, 10, true },
		{ 100, 150, 0, 0, false },		/* already over (quota lowered) */
		{ 100, 50, 60, 0, false },
		{ UINT64_MAX, UINT64_MAX - 1, 1, 0, true },
		{ UINT64_MAX, UINT64_MAX - 1, 1, 1, false },	/* no overflow */
		{ 100, 1, UINT64_MAX, 1, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(quota_fits(cases[i].limit, cases[i].used, cases[i].reserved,
					    cases[i].bytes), cases[i].fits);
}

static void test_reserve_release(void **state)
{
	struct quota *q = quota_new();

	assert_int_equal(quota_reserve(q, "A1", "carol@x", 1000, 200, 500), 1);
	assert_int_equal(quota_reserved(q, "carol@x"), 500);
	/* 200 used + 500 reserved: 400 more does not fit, 300 does */
	assert_int_equal(quota_reserve(q, "A2", "carol@x", 1000, 200, 400), 0);
	assert_int_equal(quota_reserved(q, "carol@x"), 500);
	assert_int_equal(quota_reserve(q, "A2", "carol@x", 1000, 200, 300), 1);
	/* another mailbox is counted apart; a message may reserve in both */
	assert_int_equal(quota_reserve(q, "A2", "dave@x", 100, 0, 300), 0);
	assert_int_equal(quota_reserve(q, "A2", "dave@x", 1000, 0, 300), 1);
	assert_int_equal(quota_reserved(q, "carol@x"), 800);
	quota_release(q, "A2");
	assert_int_equal(quota_reserved(q, "carol@x"), 500);
	assert_int_equal(quota_reserved(q, "dave@x"), 0);
	quota_release(q, "A1");
	quota_release(q, "A1");		/* twice is harmless */
	assert_int_equal(quota_reserved(q, "carol@x"), 0);
	quota_free(&q);
	assert_null(q);
}

struct racer {
	struct quota *q;
	char id[8];
	int won;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < 1000; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%s-%d", r->id, i);
		r->won += quota_reserve(r->q, id, "carol@x", 25000, 0, 10);
	}
	return NULL;
}

/* Four sessions at once never reserve past the limit together. */
static void test_concurrent(void **state)
{
	struct racer r[4];
	pthread_t t[4];
	struct quota *q = quota_new();
	int total = 0;

	for (int i = 0; i < 4; i++) {
		r[i].q = q;
		r[i].won = 0;
		snprintf(r[i].id, sizeof(r[i].id), "T%d", i);
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += r[i].won;
	}
	assert_int_equal(total, 2500);
	assert_int_equal(quota_reserved(q, "carol@x"), 25000);
	quota_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_reserve_release),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
