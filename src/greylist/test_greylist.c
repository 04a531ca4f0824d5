/*
 * test_greylist.c - unit tests for greylist.c on a real table in a fresh
 * temporary directory: the first try is deferred for the delay, a retry
 * after it passes and stays passed, a client's /24 or /64 shares one
 * triplet, no delay passes at once, the purge forgets stale triplets and
 * keeps fresh ones, the table outlives its handle, and an unusable
 * directory is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "greylist/greylist.h"

#define T0 ((time_t)1700000000)
#define DAY ((time_t)86400)

struct fixture {
	char dir[64];
	struct greylist *g;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error = NULL;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/correio-test-greylist.XXXXXX");
	if (mkdtemp(f->dir) == NULL || greylist_open(f->dir, &f->g, &error) != 1) {
		fprintf(stderr, "greylist_open: %s\n", error != NULL ? error : f->dir);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const files[] = {
		"greylist.db", "greylist.db-wal", "greylist.db-shm", "greylist.db-journal",
	};
	char path[256];

	greylist_free(&f->g);
	assert_null(f->g);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* greylist_check's answer, with its wait in *wait_r */
static int check(struct fixture *f, const char *addr, const char *rcpt, time_t now,
		 unsigned long delay, long *wait_r)
{
	return greylist_check(f->g, addr, "bob@example.net", rcpt, now, delay, wait_r);
}

static void test_first_try_deferred_then_passes(void **state)
{
	struct fixture *f = *state;
	long wait = -1;

	assert_int_equal(check(f, "192.0.2.10", "alice@example.org", T0, 300, &wait), 0);
	assert_int_equal(wait, 300);
	assert_int_equal(check(f, "192.0.2.10", "alice@example.org", T0 + 100, 300, &wait), 0);
	assert_int_equal(wait, 200);
	assert_int_equal(check(f, "192.0.2.10", "alice@example.org", T0 + 300, 300, &wait), 1);
	assert_int_equal(wait, 0);
	/* passed: a later, longer delay no longer holds it */
	assert_int_equal(check(f, "192.0.2.10", "alice@example.org", T0 + 400, 86400, &wait), 1);
	/* another recipient is another triplet */
	assert_int_equal(check(f, "192.0.2.10", "carol@example.org", T0 + 400, 300, &wait), 0);
	assert_int_equal(wait, 300);
}

static void test_network_shares_a_triplet(void **state)
{
	struct fixture *f = *state;
	long wait;

	assert_int_equal(check(f, "192.0.2.10", "alice@example.org", T0, 60, &wait), 0);
	assert_int_equal(check(f, "192.0.2.200", "alice@example.org", T0 + 60, 60, &wait), 1);
	assert_int_equal(check(f, "192.0.3.10", "alice@example.org", T0 + 60, 60, &wait), 0);
	assert_int_equal(check(f, "2001:db8:1:2::1", "alice@example.org", T0, 60, &wait), 0);
	assert_int_equal(check(f, "2001:db8:1:2:ffff::9", "alice@example.org", T0 + 60, 60,
			       &wait), 1);
	assert_int_equal(check(f, "2001:db8:1:3::1", "alice@example.org", T0 + 60, 60, &wait),
			 0);
}

static void test_no_delay_passes_at_once(void **state)
{
	struct fixture *f = *state;
	long wait = -1;

	assert_int_equal(check(f, "198.51.100.1", "alice@example.org", T0, 0, &wait), 1);
	assert_int_equal(wait, 0);
	/* and was remembered as passed */
	assert_int_equal(check(f, "198.51.100.1", "alice@example.org", T0 + 1, 300, &wait), 1);
}

static void test_purge_forgets_stale_triplets(void **state)
{
	struct fixture *f = *state;
	long wait;

	/* pending, never retried; passed long ago; passed lately */
	check(f, "192.0.2.1", "pending@example.org", T0, 60, &wait);
	check(f, "192.0.2.1", "old@example.org", T0, 60, &wait);
	assert_int_equal(check(f, "192.0.2.1", "old@example.org", T0 + 60, 60, &wait), 1);
	check(f, "192.0.2.1", "fresh@example.org", T0, 60, &wait);
	assert_int_equal(check(f, "192.0.2.1", "fresh@example.org", T0 + 35 * DAY, 60, &wait), 1);

	assert_int_equal(greylist_purge(f->g, T0 + 37 * DAY), 1);
	assert_int_equal(check(f, "192.0.2.1", "fresh@example.org", T0 + 37 * DAY, 60, &wait), 1);
	assert_int_equal(check(f, "192.0.2.1", "old@example.org", T0 + 37 * DAY, 60, &wait), 0);
	assert_int_equal(wait, 60);
	assert_int_equal(check(f, "192.0.2.1", "pending@example.org", T0 + 37 * DAY, 60, &wait),
			 0);
	assert_int_equal(wait, 60);
}

static void test_purge_keeps_a_pending_try_within_two_days(void **state)
{
	struct fixture *f = *state;
	long wait;

	check(f, "192.0.2.1", "alice@example.org", T0, 3 * DAY, &wait);
	assert_int_equal(greylist_purge(f->g, T0 + DAY), 1);
	assert_int_equal(check(f, "192.0.2.1", "alice@example.org", T0 + DAY, 3 * DAY, &wait), 0);
	assert_int_equal(wait, 2 * DAY);
}

static void test_table_outlives_the_handle(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	long wait;

	check(f, "192.0.2.1", "alice@example.org", T0, 60, &wait);
	greylist_free(&f->g);
	assert_int_equal(greylist_open(f->dir, &f->g, &error), 1);
	assert_int_equal(check(f, "192.0.2.1", "alice@example.org", T0 + 30, 60, &wait), 0);
	assert_int_equal(wait, 30);
}

static void test_open_missing_dir(void **state)
{
	struct greylist *g = (struct greylist *)1;
	const char *error = NULL;

	assert_int_equal(greylist_open("/nonexistent/correio-greylist", &g, &error), -1);
	assert_null(g);
	assert_non_null(error);
	greylist_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_try_deferred_then_passes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_network_shares_a_triplet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_delay_passes_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_forgets_stale_triplets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_keeps_a_pending_try_within_two_days,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_outlives_the_handle, setup, teardown),
		cmocka_unit_test(test_open_missing_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
