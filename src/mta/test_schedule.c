/*
 * test_schedule.c - retry arithmetic with the defaults (15 min doubling
 * to 4 h; warn after 4 h; give up after 5 d) and with test-sized values;
 * which recipients of a message go out together.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

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

/* 300 recipients at a.test deferred in one transaction whose replies
   straddled a second: 120 due at 1000, 180 at 1001.  At 1000 (say just
   after a restart) all 300 go, in one transaction, not 120 now and 180
   in a second one. */
static void test_due_takes_the_whole_destination(void **state)
{
	struct envelope *e = envelope_new();
	bool go[302];
	char address[64];

	for (unsigned i = 0; i < 300; i++) {
		snprintf(address, sizeof(address), "r%03u@a.test", i);
		assert_int_equal(envelope_add_rcpt(e, address, NULL, 0), 1);
		e->rcpts[i].attempts = 1;
		e->rcpts[i].next_attempt = i < 120 ? 1000 : 1001;
	}
	assert_int_equal(envelope_add_rcpt(e, "x@b.test", NULL, 0), 1);
	e->rcpts[300].next_attempt = 5000;		/* another destination */
	assert_int_equal(envelope_add_rcpt(e, "y@a.test", NULL, 0), 1);
	e->rcpts[301].state = ENVELOPE_SENT;		/* done already */

	assert_int_equal(schedule_due(e, "", 999, go), 0);
	assert_int_equal(schedule_due(e, "", 1000, go), 300);
	for (unsigned i = 0; i < 300; i++)
		assert_true(go[i]);
	assert_false(go[300]);
	assert_false(go[301]);

	/* through a smarthost every recipient shares one destination */
	assert_int_equal(schedule_due(e, "relay.test:25", 1000, go), 301);
	assert_true(go[300]);
	assert_false(go[301]);
	envelope_free(&e);
}

static void test_destination(void **state)
{
	assert_string_equal(schedule_destination("a@b.test", ""), "b.test");
	assert_string_equal(schedule_destination("\"a@x\"@b.test", NULL), "b.test");
	assert_string_equal(schedule_destination("nodomain", ""), "");
	assert_string_equal(schedule_destination("a@b.test", "sh:587"), "sh:587");
}

/* Accounts go to the local delivery agent, smarthost or not, and are due
   together like the recipients of any destination. */
static void test_local_destination(void **state)
{
	struct envelope *e = envelope_new();
	bool go[3];

	assert_int_equal(envelope_add_rcpt(e, "alice@example.org", NULL, 0), 1);
	e->rcpts[0].kind = ENVELOPE_LOCAL;
	e->rcpts[0].next_attempt = 1000;
	assert_int_equal(envelope_add_rcpt(e, "bob@example.org", NULL, 0), 1);
	e->rcpts[1].kind = ENVELOPE_LOCAL;
	e->rcpts[1].next_attempt = 1001;
	assert_int_equal(envelope_add_rcpt(e, "carol@example.org", NULL, 0), 1);
	e->rcpts[2].kind = ENVELOPE_REMOTE;	/* e.g. a domain moved away */
	e->rcpts[2].next_attempt = 5000;
	assert_string_equal(schedule_rcpt_destination(&e->rcpts[0], "sh:587"), SCHEDULE_LOCAL);
	assert_string_equal(schedule_rcpt_destination(&e->rcpts[2], ""), "example.org");
	assert_string_equal(schedule_rcpt_destination(&e->rcpts[2], "sh:587"), "sh:587");
	assert_int_equal(schedule_due(e, "", 999, go), 0);
	assert_int_equal(schedule_due(e, "", 1000, go), 2);
	assert_true(go[0] && go[1] && !go[2]);
	envelope_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_sum_of_retries_in_five_days),
		cmocka_unit_test(test_due_takes_the_whole_destination),
		cmocka_unit_test(test_destination),
		cmocka_unit_test(test_local_destination),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
