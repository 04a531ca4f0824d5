/*
 * test_schedule.c - retry arithmetic with the defaults (15 min doubling
 * to 4 h; warn after 4 h; give up after 5 d) and with test-sized values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mta/schedule.h"

static void test_defaults(void **state)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_int_equal(schedule_backoff(&cfg, 1), 15 * 60);
	assert_int_equal(schedule_backoff(&cfg, 2), 30 * 60);
	assert_int_equal(schedule_backoff(&cfg, 3), 60 * 60);
	assert_int_equal(schedule_backoff(&cfg, 4), 2 * 3600);
	assert_int_equal(schedule_backoff(&cfg, 5), 4 * 3600);
	assert_int_equal(schedule_backoff(&cfg, 6), 4 * 3600);
	assert_int_equal(schedule_backoff(&cfg, 1000), 4 * 3600);
	assert_false(schedule_warn_due(&cfg, 1000, 1000 + 4 * 3600 - 1));
	assert_true(schedule_warn_due(&cfg, 1000, 1000 + 4 * 3600));
	assert_false(schedule_expired(&cfg, 1000, 1000 + 5 * 86400 - 1));
	assert_true(schedule_expired(&cfg, 1000, 1000 + 5 * 86400));
}

static void test_small(void **state)
{
	struct config cfg;

	config_defaults(&cfg);
	cfg.retry_interval = 1;
	cfg.max_retry_interval = 5;
	assert_int_equal(schedule_backoff(&cfg, 1), 1);
	assert_int_equal(schedule_backoff(&cfg, 2), 2);
	assert_int_equal(schedule_backoff(&cfg, 3), 4);
	assert_int_equal(schedule_backoff(&cfg, 4), 5);
	cfg.max_retry_interval = 1;
	assert_int_equal(schedule_backoff(&cfg, 7), 1);
}

static void test_sum_of_retries_in_five_days(void **state)
{
	struct config cfg;
	uint64_t t = 0;
	unsigned attempts = 0;

	config_defaults(&cfg);
	while (!schedule_expired(&cfg, 0, t))
		t += schedule_backoff(&cfg, ++attempts);
	/* 15m + 30m + 1h + 2h, then every 4h: about 30 tries in 5 days */
	assert_in_range(attempts, 28, 34);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_sum_of_retries_in_five_days),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
