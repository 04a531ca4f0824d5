/*
 * test_queue_format.c - unit tests of what `correio queue list|show` print
 * from the server's DUMP answer: the mailq listing, the readable envelope,
 * the recipient and message states, JSON, and the dump reader's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "lib/buf.h"

/* 2026-12-06 06:00:00 UTC */
#define T0 1796536800ull

static const char env_text[] =
	"correio-envelope 1\n"
	"id 0123456789ABCDEF\n"
	"arrival 1796536800\n"
	"host mx.example.org\n"
	"sender alice@example.org\n"
	"size 2048\n"
	"header-offset 30\n"
	"body 1\n"
	"smtputf8 0\n"
	"ret 2\n"
	"envid env-42\n"
	"routed 0\n"
	"warned 0\n"
	"held 0\n"
	"rcpt p 2 1796540400 6 rfc822;carol@a.test carol@a.test\n"
	"error 0 451 4.3.0 try later\n"
	"mta 0 mx1.a.test\n"
	"route 0 r -\n"
	"rcpt s 0 0 0 - alice@example.org\n"
	"route 1 l -\n"
	"rcpt b 1 0 0 - nobody@nope.test\n"
	"error 2 5.1.2 domain not found\n"
	"route 2 r -\n"
	"rcpt p 0 0 0 - dave@b.test\n"
	"route 3 r -\n"
	"end\n";

/* "envelope ID ACTIVE LEN" and env_text, with held set to held. */
static void dump_one(struct buf *b, int active, int held)
{
	char text[sizeof(env_text)];

	memcpy(text, env_text, sizeof(env_text));
	*strstr(text, "held 0") = '\0';
	buf_printf(b, "envelope 0123456789ABCDEF %d %zu\n%sheld %d%s", active,
		   sizeof(env_text) - 1, text, held, strstr(env_text, "held 0") + 6);
}

static void setup_tz(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

static struct queue_entry *parse_ok(const struct buf *b, size_t *n)
{
	struct queue_entry *v = NULL;
	const char *error = NULL;

	assert_int_equal(queue_dump_parse(b->data, b->len, &v, n, &error), 1);
	return v;
}

static void test_list_mailq_layout(void **state)
{
	struct buf b, out;
	struct queue_entry *v;
	size_t n;

	setup_tz();
	buf_init(&b, 0);
	buf_init(&out, 0);
	dump_one(&b, 0, 0);
	buf_puts(&b, "damaged FEDCBA9876543210 1000 1796536900 damaged: "
		     "the envelope is torn (files in /var/lib/correio/queue/damaged/)\n");
	v = parse_ok(&b, &n);
	assert_int_equal(n, 2);
	queue_format_list(v, n, &out);
	assert_string_equal(buf_cstr(&out),
		"-Queue ID-------- --Size-- ----Arrival Time---- -State--- -Sender/Recipient-------\n"
		"0123456789ABCDEF      2048 Sun Dec  6 06:00:00  deferred  alice@example.org\n"
		"                                                deferred  carol@a.test\n"
		"                                                          (451 4.3.0 try later)\n"
		"                                                delivered alice@example.org\n"
		"                                                bounced   nobody@nope.test\n"
		"                                                          (5.1.2 domain not found)\n"
		"                                                pending   dave@b.test\n"
		"\n"
		"FEDCBA9876543210#     1000 Sun Dec  6 06:01:40  damaged   ?\n"
		"                                                          (the envelope is torn "
		"(files in /var/lib/correio/queue/damaged/))\n"
		"\n"
		"-- 3 Kbytes in 2 Requests.\n");
	queue_entries_free(&v, n);
	buf_deinit(&b);
	buf_deinit(&out);
}

static void test_list_empty_and_markers(void **state)
{
	struct buf b, out;
	struct queue_entry *v;
	size_t n;

	buf_init(&b, 0);
	buf_init(&out, 0);
	v = parse_ok(&b, &n);
	assert_int_equal(n, 0);
	queue_format_list(v, n, &out);
	assert_string_equal(buf_cstr(&out), "Mail queue is empty\n");
	queue_entries_free(&v, n);

	dump_one(&b, 1, 0);
	v = parse_ok(&b, &n);
	assert_string_equal(queue_entry_state(&v[0]), "active");
	buf_reset(&out);
	queue_format_list(v, n, &out);
	assert_non_null(strstr(buf_cstr(&out), "\n0123456789ABCDEF*  "));
	assert_non_null(strstr(buf_cstr(&out), "-- 2 Kbytes in 1 Request.\n"));
	queue_entries_free(&v, n);

	buf_reset(&b);
	dump_one(&b, 1, 1);
	v = parse_ok(&b, &n);
	assert_string_equal(queue_entry_state(&v[0]), "held");
	buf_reset(&out);
	queue_format_list(v, n, &out);
	assert_non_null(strstr(buf_cstr(&out), "\n0123456789ABCDEF!  "));
	queue_entries_free(&v, n);
	buf_deinit(&b);
	buf_deinit(&out);
}

static void test_rcpt_states(void **state)
{
	struct envelope_rcpt r = { .state = ENVELOPE_PENDING };

	assert_string_equal(queue_rcpt_state(&r), "pending");
	r.attempts = 1;
	assert_string_equal(queue_rcpt_state(&r), "deferred");
	r.state = ENVELOPE_SENT;
	assert_string_equal(queue_rcpt_state(&r), "delivered");
	r.state = ENVELOPE_FAILED;
	assert_string_equal(queue_rcpt_state(&r), "bounced");
	r.state = ENVELOPE_BOUNCED;
	assert_string_equal(queue_rcpt_state(&r), "bounced");
}

static void test_show(void **state)
{
	struct buf b, out;
	struct queue_entry *v;
	size_t n;

	setup_tz();
	buf_init(&b, 0);
	buf_init(&out, 0);
	dump_one(&b, 0, 1);
	v = parse_ok(&b, &n);
	queue_format_show(&v[0], T0 + 600, &out);
	assert_string_equal(buf_cstr(&out),
		"Queue ID:       0123456789ABCDEF\n"
		"State:          held (no attempts until `correio queue release "
		"0123456789ABCDEF`)\n"
		"Arrival:        Sun, 06 Dec 2026 06:00:00 +0000 (10m 0s ago)\n"
		"Size:           2048 bytes\n"
		"Sender:         alice@example.org\n"
		"DSN:            RET=HDRS ENVID=env-42\n"
		"Body:           8BITMIME\n"
		"Delay notice:   not sent\n"
		"Recipients:     4 (1 pending, 1 deferred, 1 delivered, 1 bounced)\n"
		"\n  carol@a.test\n"
		"    State:        deferred after 2 attempts\n"
		"    Route:        relay to another host\n"
		"    Next attempt: Sun, 06 Dec 2026 07:00:00 +0000 (in 50m 0s)\n"
		"    Last error:   451 4.3.0 try later (from mx1.a.test)\n"
		"    DSN:          NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;carol@a.test\n"
		"\n  alice@example.org\n"
		"    State:        delivered\n"
		"    Route:        local delivery (an account)\n"
		"    DSN:          NOTIFY=default (FAILURE)\n"
		"\n  nobody@nope.test\n"
		"    State:        bounced after 1 attempt\n"
		"    Route:        relay to another host\n"
		"    Last error:   5.1.2 domain not found\n"
		"    DSN:          NOTIFY=default (FAILURE)\n"
		"\n  dave@b.test\n"
		"    State:        pending\n"
		"    Route:        relay to another host\n"
		"    Next attempt: as soon as possible\n"
		"    DSN:          NOTIFY=default (FAILURE)\n");
	queue_entries_free(&v, n);
	buf_deinit(&b);
	buf_deinit(&out);
}

static void test_span(void **state)
{
	static const struct { uint64_t s; const char *text; } cases[] = {
		{ 0, "0s" }, { 59, "59s" }, { 60, "1m 0s" }, { 3599, "59m 59s" },
		{ 3600, "1h 0m" }, { 86399, "23h 59m" }, { 86400, "1d 0h" },
		{ 5 * 86400 + 7200, "5d 2h" },
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		queue_format_span(cases[i].s, out, sizeof(out));
		assert_string_equal(out, cases[i].text);
	}
}

static void test_json(void **state)
{
	struct buf b;
	struct queue_entry *v;
	size_t n;
	json_t *j, *r;

	buf_init(&b, 0);
	dump_one(&b, 0, 0);
	v = parse_ok(&b, &n);
	envelope_set(&v[0].env->rcpts[0].last_error, "451 caf\xe9 closed");	/* not UTF-8 */
	j = queue_entry_json(&v[0]);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "deferred");
	assert_int_equal(json_integer_value(json_object_get(j, "size")), 2048);
	r = json_array_get(json_object_get(j, "recipients"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "address")), "carol@a.test");
	assert_string_equal(json_string_value(json_object_get(r, "last_error")),
			    "451 caf? closed");
	assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 2);
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "recipients"),
						   1), "last_error")));
	json_decref(j);
	queue_entries_free(&v, n);
	buf_deinit(&b);
}

static void test_dump_refused(void **state)
{
	static const char *const bad[] = {
		"envelope 0123456789ABCDEF 0 9999\ncorreio-envelope 1\n",	/* short */
		"envelope 0123456789ABCDEF 0 5\nhello",				/* not one */
		"envelope 0123456789ABCDEF 0\n",
		"damaged 0123456789ABCDEF 1 2 why\n",
		"damaged 0123456789ABCDEF 1 2 damaged: no line end",
		"something else\n",
	};
	struct queue_entry *v = NULL;
	const char *error = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(queue_dump_parse(bad[i], strlen(bad[i]), &v, &n, &error), -1);
		assert_non_null(error);
		assert_null(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_mailq_layout),
		cmocka_unit_test(test_list_empty_and_markers),
		cmocka_unit_test(test_rcpt_states),
		cmocka_unit_test(test_show),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_dump_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
