/*
 * test_quota.c - the quota rule (what fits) and the reservations that
 * sessions ending DATA at the same time share, across threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

#include <cmocka.h>

#include "delivery/delivery.h"
#include "delivery/quota.h"
#include "lib/util.h"

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

static char root[64];
static struct config cfg;

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/correio-test-quota-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	config_defaults(&cfg);
	str_copy(cfg.data_dir, root, sizeof(cfg.data_dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static struct account account(const char *address, uint64_t quota)
{
	struct account a = { .mailbox_format = ACCOUNTS_FORMAT_MAILDIR, .quota = quota };

	str_copy(a.address, address, sizeof(a.address));
	return a;
}

/* A message of size bytes in the account's INBOX (new/), by its name. */
static void put_message(const char *address, const char *name, size_t size)
{
	char dir[4200], path[4400];
	FILE *f;

	delivery_mailbox_path(&cfg, address, false, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(mkdir_p(path, 0700), 1);
	snprintf(path, sizeof(path), "%s/new/%s,S=%zu", dir, name, size);
	assert_non_null(f = fopen(path, "w"));
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
}

static void test_usage(void **state)
{
	struct account carol = account("carol@example.org", 1000);
	uint64_t used = 1;

	/* no mailbox yet: nothing used */
	assert_int_equal(quota_usage(&cfg, &carol, &used), 1);
	assert_true(used == 0);
	put_message(carol.address, "1.Q1.host", 300);
	put_message(carol.address, "2.Q2.host", 200);
	assert_int_equal(quota_usage(&cfg, &carol, &used), 1);
	assert_true(used == 500);
}

static void test_reserve_release(void **state)
{
	struct quota *q = quota_new();
	struct account carol = account("erin@example.org", 1000);
	struct account dave = account("dave@example.org", 100);
	struct account free_ = account("free@example.org", 0);

	put_message(carol.address, "1.Q1.host", 200);
	assert_int_equal(quota_reserve(q, "A1", &cfg, &carol, 500), 1);
	assert_true(quota_reserved(q, carol.address) == 500);
	/* 200 used + 500 reserved: 400 more does not fit, 300 does */
	assert_int_equal(quota_check(q, &cfg, &carol, 400), 0);
	assert_int_equal(quota_reserve(q, "A2", &cfg, &carol, 400), 0);
	assert_true(quota_reserved(q, carol.address) == 500);
	assert_int_equal(quota_check(q, &cfg, &carol, 300), 1);
	assert_int_equal(quota_reserve(q, "A2", &cfg, &carol, 300), 1);
	assert_int_equal(quota_check(q, &cfg, &carol, 1), 0);
	/* another mailbox is counted apart; no quota: always room */
	assert_int_equal(quota_reserve(q, "A2", &cfg, &dave, 300), 0);
	assert_int_equal(quota_reserve(q, "A2", &cfg, &free_, 1u << 30), 1);
	assert_true(quota_reserved(q, free_.address) == 0);
	assert_true(quota_reserved(q, carol.address) == 800);
	quota_release(q, "A2");
	assert_true(quota_reserved(q, carol.address) == 500);
	quota_release(q, "A1");
	quota_release(q, "A1");		/* twice is harmless */
	assert_true(quota_reserved(q, carol.address) == 0);
	quota_free(&q);
	assert_null(q);
}

struct file_ctx {
	const char *address;
	int calls;
};

static int file_one(void *ctx)
{
	struct file_ctx *f = ctx;

	put_message(f->address, "9.Q9.host", 100);
	f->calls++;
	return 1;
}

/* Filing drops the message's reservation for that mailbox only. */
static void test_file_releases(void **state)
{
	struct quota *q = quota_new();
	struct account carol = account("fay@example.org", 1000);
	struct account dave = account("gus@example.org", 1000);
	struct file_ctx f = { carol.address, 0 };

	assert_int_equal(quota_reserve(q, "B1", &cfg, &carol, 100), 1);
	assert_int_equal(quota_reserve(q, "B1", &cfg, &dave, 100), 1);
	assert_int_equal(quota_file(q, "B1", &carol, file_one, &f), 1);
	assert_int_equal(f.calls, 1);
	assert_true(quota_reserved(q, carol.address) == 0);
	assert_true(quota_reserved(q, dave.address) == 100);
	quota_release(q, "B1");
	assert_true(quota_reserved(q, dave.address) == 0);
	quota_free(&q);
}

struct racer {
	struct quota *q;
	char id[8];
	int won;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct account racy = account("racy@example.org", 25000);

	for (int i = 0; i < 300; i++) {
		char id[32];
		snprintf(id, sizeof(id), "%s-%d", r->id, i);
		r->won += quota_reserve(r->q, id, &cfg, &racy, 100);
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
		snprintf(r[i].id, sizeof(r[i].id), "T%d", i % 10);
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += r[i].won;
	}
	assert_int_equal(total, 250);
	assert_true(quota_reserved(q, "racy@example.org") == 25000);
	quota_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_reserve_release),
		cmocka_unit_test(test_file_releases),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
