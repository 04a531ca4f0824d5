/*
 * test_throttle.c - the failed-login table on its own clock: delays that
 * grow and stop at the cap, lockout per account+address pair only, the
 * owner never locked out by other addresses, expiry, unlock, and a table
 * that stays within its size under a flood of addresses and names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "auth/throttle.h"

static const struct throttle_limits LIMITS = {
	.delay_ms = 1000, .max_delay_ms = 15000, .max_failures = 3, .lockout_ms = 900000,
};

static void test_delay_doubles_up_to_the_cap(void **state)
{
	struct throttle *t = throttle_new(100, &LIMITS);
	static const uint64_t want[] = { 1000, 2000, 4000, 8000, 15000, 15000, 15000 };
	unsigned pair;
	uint64_t now = 5000;

	assert_int_equal(throttle_wait(t, "192.0.2.1", now), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		/* a different account each time: the address pays, no pair locks */
		char user[32];
		snprintf(user, sizeof(user), "u%zu@example.org", i);
		assert_int_equal(throttle_failure(t, "192.0.2.1", user, now, &pair), want[i]);
		assert_int_equal(pair, 1);
		/* the next attempt from there waits the same, counted from now */
		assert_int_equal(throttle_wait(t, "192.0.2.1", now), want[i]);
		assert_int_equal(throttle_wait(t, "192.0.2.1", now + 500), want[i] - 500);
		assert_int_equal(throttle_wait(t, "192.0.2.1", now + want[i]), 0);
		assert_false(throttle_locked(t, "192.0.2.1", user, now));
		/* other addresses do not wait */
		assert_int_equal(throttle_wait(t, "192.0.2.2", now), 0);
		now += want[i];
	}
	throttle_free(&t);
	assert_null(t);
}

static void test_lockout_is_per_account_and_address(void **state)
{
	struct throttle *t = throttle_new(100, &LIMITS);
	unsigned pair;
	uint64_t now = 1;

	for (unsigned i = 1; i <= 3; i++) {
		assert_false(throttle_locked(t, "192.0.2.1", "alice@example.org", now));
		throttle_failure(t, "192.0.2.1", "alice@example.org", now, &pair);
		assert_int_equal(pair, i);
	}
	assert_true(throttle_locked(t, "192.0.2.1", "alice@example.org", now));
	/* another account at the same address: not refused */
	assert_false(throttle_locked(t, "192.0.2.1", "bob@example.org", now));
	/* the account from another address: not refused */
	assert_false(throttle_locked(t, "198.51.100.7", "alice@example.org", now));
	/* bob's right password clears the address's delay, not alice's lockout */
	throttle_success(t, "192.0.2.1", "bob@example.org");
	assert_int_equal(throttle_wait(t, "192.0.2.1", now), 0);
	assert_true(throttle_locked(t, "192.0.2.1", "alice@example.org", now));
	/* the lockout ends lockout_ms after the last failure */
	assert_true(throttle_locked(t, "192.0.2.1", "alice@example.org", now + 899999));
	assert_false(throttle_locked(t, "192.0.2.1", "alice@example.org", now + 900000));
	assert_int_equal(throttle_count(t), 0);
	throttle_free(&t);
}

static void test_many_addresses_never_lock_the_owner(void **state)
{
	struct throttle *t = throttle_new(1000, &LIMITS);
	unsigned pair;

	for (unsigned i = 0; i < 200; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "203.0.113.%u", i);
		for (unsigned k = 0; k < 5; k++)
			throttle_failure(t, addr, "alice@example.org", 10, &pair);
		assert_true(throttle_locked(t, addr, "alice@example.org", 10));
	}
	assert_false(throttle_locked(t, "192.0.2.1", "alice@example.org", 10));
	assert_int_equal(throttle_wait(t, "192.0.2.1", 10), 0);
	throttle_free(&t);
}

static void test_unlock_clears_every_address_of_the_account(void **state)
{
	struct throttle *t = throttle_new(100, &LIMITS);
	unsigned pair;

	for (unsigned k = 0; k < 3; k++) {
		throttle_failure(t, "192.0.2.1", "alice@example.org", 10, &pair);
		throttle_failure(t, "192.0.2.2", "alice@example.org", 10, &pair);
		throttle_failure(t, "192.0.2.1", "alicia@example.org", 10, &pair);
	}
	assert_int_equal(throttle_unlock(t, "alice@example.org"), 2);
	assert_false(throttle_locked(t, "192.0.2.1", "alice@example.org", 10));
	assert_false(throttle_locked(t, "192.0.2.2", "alice@example.org", 10));
	/* a name that begins the same is another account */
	assert_true(throttle_locked(t, "192.0.2.1", "alicia@example.org", 10));
	assert_int_equal(throttle_unlock(t, "alice@example.org"), 0);
	throttle_free(&t);
}

static void test_table_is_bounded(void **state)
{
	struct throttle *t = throttle_new(64, &LIMITS);
	unsigned pair;
	char addr[64], user[64];

	for (unsigned i = 0; i < 10000; i++) {
		snprintf(addr, sizeof(addr), "2001:db8::%x", i);
		snprintf(user, sizeof(user), "user%u@example.org", i);
		throttle_failure(t, addr, user, 100 + i, &pair);
		assert_true(throttle_count(t) <= 64);
	}
	/* the most recent ones are still there */
	assert_int_equal(throttle_wait(t, addr, 100 + 9999), 1000);
	throttle_free(&t);
}

static void test_zero_delay(void **state)
{
	struct throttle_limits l = LIMITS;
	struct throttle *t;
	unsigned pair;

	l.delay_ms = 0;
	t = throttle_new(10, &l);
	assert_int_equal(throttle_failure(t, "192.0.2.1", "a@example.org", 1, &pair), 0);
	assert_int_equal(throttle_wait(t, "192.0.2.1", 1), 0);
	throttle_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_doubles_up_to_the_cap),
		cmocka_unit_test(test_lockout_is_per_account_and_address),
		cmocka_unit_test(test_many_addresses_never_lock_the_owner),
		cmocka_unit_test(test_unlock_clears_every_address_of_the_account),
		cmocka_unit_test(test_table_is_bounded),
		cmocka_unit_test(test_zero_delay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
