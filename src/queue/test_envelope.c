/*
 * test_envelope.c - the envelope file: recorded resolutions (target and
 * route lines) are written and read back, an envelope from before them
 * still loads (its recipients unresolved), expansion gives one recipient
 * per target, and damaged route lines are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "lib-smtp/smtp_parse.h"
#include "queue/envelope.h"

static const char old_envelope[] =
	"correio-envelope 1\nid 18F3A2B4C5D00001\narrival 1751371400\nhost mx.example.org\n"
	"sender bob@example.org\nsize 300\nheader-offset 27\nbody 0\nsmtputf8 0\nret 0\n"
	"routed 0\nwarned 0\nheld 0\nrcpt p 0 0 0 - alice@example.org\nend\n";

static struct envelope *parse(const char *text)
{
	struct envelope *e = NULL;
	const char *error = NULL;

	if (envelope_parse(text, strlen(text), &e, &error) < 0)
		return NULL;
	return e;
}

static void test_old_envelope_loads_unresolved(void **state)
{
	struct envelope *e = parse(old_envelope);

	assert_non_null(e);
	assert_int_equal(e->n_rcpts, 1);
	assert_int_equal(e->rcpts[0].kind, ENVELOPE_UNRESOLVED);
	assert_int_equal(e->rcpts[0].n_targets, 0);
	assert_null(e->rcpts[0].orig);
	envelope_free(&e);
}

static struct envelope *recorded(void)
{
	struct envelope *e = envelope_new();

	memcpy(e->id, "18F3A2B4C5D00002", 17);
	envelope_set(&e->sender, "bob@example.org");
	assert_int_equal(envelope_add_rcpt(e, "list@example.org", "rfc822;list@example.org", 2), 1);
	assert_int_equal(envelope_add_target(e, 0, ENVELOPE_LOCAL, "alice@example.org"), 1);
	assert_int_equal(envelope_add_target(e, 0, ENVELOPE_REMOTE, "x@elsewhere.example"), 1);
	assert_int_equal(envelope_add_target(e, 0, ENVELOPE_FAIL, "5.4.6 alias loop"), 1);
	assert_int_equal(envelope_add_rcpt(e, "alice@example.org", NULL, 0), 1);
	assert_int_equal(envelope_add_target(e, 1, ENVELOPE_LOCAL, "alice@example.org"), 1);
	assert_int_equal(envelope_add_target(e, 1, '?', "alice@example.org"), -1);
	assert_int_equal(envelope_add_target(e, 7, ENVELOPE_LOCAL, "alice@example.org"), -1);
	return e;
}

static void test_targets_round_trip(void **state)
{
	struct envelope *e = recorded(), *e2;
	struct buf out, out2;

	buf_init(&out, 0);
	buf_init(&out2, 0);
	assert_int_equal(envelope_format(e, &out), 1);
	assert_non_null(strstr(buf_cstr(&out), "target 0 r x@elsewhere.example\n"));
	assert_non_null(strstr(buf_cstr(&out), "target 0 x 5.4.6 alias loop\n"));
	e2 = parse(buf_cstr(&out));
	assert_non_null(e2);
	assert_int_equal(e2->rcpts[0].n_targets, 3);
	assert_int_equal(e2->rcpts[0].targets[1].kind, ENVELOPE_REMOTE);
	assert_string_equal(e2->rcpts[0].targets[2].address, "5.4.6 alias loop");
	assert_int_equal(envelope_format(e2, &out2), 1);
	assert_string_equal(buf_cstr(&out), buf_cstr(&out2));
	envelope_free(&e);
	envelope_free(&e2);
	buf_deinit(&out);
	buf_deinit(&out2);
}

static void test_expand(void **state)
{
	struct envelope *e = recorded(), *e2;
	struct buf out;

	envelope_expand(e);
	/* alice twice (through the list and directly) is one recipient */
	assert_int_equal(e->n_rcpts, 3);
	assert_string_equal(e->rcpts[0].address, "alice@example.org");
	assert_int_equal(e->rcpts[0].kind, ENVELOPE_LOCAL);
	assert_string_equal(e->rcpts[0].orig, "list@example.org");
	assert_string_equal(e->rcpts[0].orcpt, "rfc822;list@example.org");
	assert_int_equal(e->rcpts[0].notify, 2);
	assert_string_equal(e->rcpts[1].address, "x@elsewhere.example");
	assert_int_equal(e->rcpts[1].kind, ENVELOPE_REMOTE);
	assert_int_equal(e->rcpts[1].state, ENVELOPE_PENDING);
	assert_string_equal(e->rcpts[2].address, "list@example.org");
	assert_int_equal(e->rcpts[2].kind, ENVELOPE_FAIL);
	assert_int_equal(e->rcpts[2].state, ENVELOPE_FAILED);
	assert_null(e->rcpts[2].orig);
	assert_string_equal(e->rcpts[2].last_error, "5.4.6 alias loop");
	for (unsigned i = 0; i < e->n_rcpts; i++)
		assert_int_equal(e->rcpts[i].n_targets, 0);
	/* expanded, written and read back: the routes stay */
	buf_init(&out, 0);
	assert_int_equal(envelope_format(e, &out), 1);
	assert_non_null(strstr(buf_cstr(&out), "route 0 l list@example.org\n"));
	assert_non_null(strstr(buf_cstr(&out), "route 2 x -\n"));
	e2 = parse(buf_cstr(&out));
	assert_non_null(e2);
	assert_int_equal(e2->rcpts[1].kind, ENVELOPE_REMOTE);
	assert_string_equal(e2->rcpts[1].orig, "list@example.org");
	assert_null(e2->rcpts[2].orig);
	/* expanding again changes nothing */
	envelope_expand(e2);
	assert_int_equal(e2->n_rcpts, 3);
	envelope_free(&e);
	envelope_free(&e2);
	buf_deinit(&out);
}

static void test_bad_route_lines(void **state)
{
	static const char *bad[] = {
		"route 1 l -\n",		/* no such recipient */
		"route 0 q -\n",		/* no such kind */
		"route 0 l\n",			/* no address */
		"route 0 l -\nroute 0 l -\n",	/* twice */
		"route 0 l -\ntarget 0 l a@b\n",	/* both */
		"target 0 ? a@b\n",
		"target x l a@b\n",
	};
	char text[1000];
	size_t head = strlen(old_envelope) - strlen("end\n");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(text, old_envelope, head);
		memcpy(text + head, bad[i], strlen(bad[i]));
		memcpy(text + head + strlen(bad[i]), "end\n", 5);
		assert_null(parse(text));
	}
}

static void test_dsn_wanted(void **state)
{
	assert_true(envelope_dsn_wanted(DSN_FAILURE, 0));
	assert_true(envelope_dsn_wanted(DSN_DELAY, 0));
	assert_false(envelope_dsn_wanted(DSN_SUCCESS, 0));
	assert_false(envelope_dsn_wanted(DSN_FAILURE, SMTP_NOTIFY_NEVER));
	assert_false(envelope_dsn_wanted(DSN_DELAY, SMTP_NOTIFY_NEVER));
	assert_true(envelope_dsn_wanted(DSN_SUCCESS, SMTP_NOTIFY_SUCCESS));
	assert_false(envelope_dsn_wanted(DSN_FAILURE, SMTP_NOTIFY_SUCCESS));
	assert_false(envelope_dsn_wanted(DSN_DELAY, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE));
	assert_true(envelope_dsn_wanted(DSN_DELAY, SMTP_NOTIFY_DELAY));
	assert_true(envelope_dsn_wanted(DSN_FAILURE, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY));

	assert_true(envelope_dsn_ret_full(DSN_FAILURE, SMTP_RET_NONE));
	assert_true(envelope_dsn_ret_full(DSN_FAILURE, SMTP_RET_FULL));
	assert_false(envelope_dsn_ret_full(DSN_FAILURE, SMTP_RET_HDRS));
	assert_false(envelope_dsn_ret_full(DSN_DELAY, SMTP_RET_FULL));
	assert_false(envelope_dsn_ret_full(DSN_SUCCESS, SMTP_RET_FULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_old_envelope_loads_unresolved),
		cmocka_unit_test(test_targets_round_trip),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_bad_route_lines),
		cmocka_unit_test(test_dsn_wanted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
