/*
 * test_resolve.c - recipient resolution on a real account store in a
 * temporary directory: accounts, aliases and lists, chains, plus-addressing,
 * catch-alls, duplicates, remote targets; alias loops found (never cut
 * silently), the self-copy of an alias that lists itself, and the check
 * `correio alias add` makes before storing new targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "delivery/resolve.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/util.h"

struct fixture {
	char dir[64];
	struct config cfg;
	struct accounts *a;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/correio-test-resolve.XXXXXX");
	if (mkdtemp(f->dir) == NULL || accounts_open(f->dir, &f->a, &error) != 1)
		return -1;
	config_defaults(&f->cfg);
	str_copy(f->cfg.local_domains, "example.org", sizeof(f->cfg.local_domains));
	str_copy(f->cfg.recipient_delimiter, "+", sizeof(f->cfg.recipient_delimiter));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const files[] = { "accounts.db", "accounts.db-wal",
					     "accounts.db-shm" };
	char path[128];

	accounts_free(&f->a);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void user(struct fixture *f, const char *address)
{
	const char *error;

	assert_int_equal(accounts_user_add(f->a, address, "pw", -1, &error), 1);
}

static void alias(struct fixture *f, const char *name, const char *target)
{
	const char *error;

	assert_int_equal(accounts_alias_add(f->a, name, target, &error), 1);
}

/* Targets as "L:addr " (local) or "R:addr " (remote), in call order. */
static void collect(void *ctx, const struct resolve_target *t)
{
	buf_printf(ctx, "%c:%s ", t->kind == RESOLVE_LOCAL ? 'L' : 'R', t->address);
}

static void assert_resolves(struct fixture *f, const char *key, int count,
			    const char *targets)
{
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(resolve_address(&f->cfg, f->a, key, collect, &out), count);
	assert_string_equal(buf_cstr(&out), targets);
	assert_int_equal(resolve_address(&f->cfg, f->a, key, NULL, NULL), count);
	buf_deinit(&out);
}

static void test_plain(void **state)
{
	struct fixture *f = *state;

	user(f, "alice@example.org");
	user(f, "bob@example.org");
	alias(f, "list@example.org", "alice@example.org");
	alias(f, "list@example.org", "bob@example.org");
	alias(f, "list@example.org", "carol@example.net");
	alias(f, "first@example.org", "second@example.org");
	alias(f, "second@example.org", "list@example.org");
	alias(f, "second@example.org", "alice@example.org");	/* also via list */

	assert_resolves(f, "alice@example.org", 1, "L:alice@example.org ");
	assert_resolves(f, "alice+tag@example.org", 1, "L:alice@example.org ");
	assert_resolves(f, "nobody@example.org", 0, "");
	assert_resolves(f, "someone@example.net", 1, "R:someone@example.net ");
	assert_resolves(f, "list+x@example.org", 3,
			"L:alice@example.org L:bob@example.org R:carol@example.net ");
	assert_resolves(f, "first@example.org", 3,
			"L:alice@example.org L:bob@example.org R:carol@example.net ");
}

static void test_catch_all(void **state)
{
	struct fixture *f = *state;

	user(f, "bob@example.org");
	alias(f, "postmaster@example.org", "bob@example.org");
	alias(f, "@example.org", "postmaster@example.org");
	assert_resolves(f, "whoever@example.org", 1, "L:bob@example.org ");
	assert_resolves(f, "bob+x@example.org", 1, "L:bob@example.org ");
}

static void test_self_copy(void **state)
{
	struct fixture *f = *state;

	user(f, "alice@example.org");
	user(f, "bob@example.org");
	alias(f, "alice@example.org", "alice@example.org");
	alias(f, "alice@example.org", "alice+archive@example.org");
	alias(f, "alice@example.org", "bob@example.org");
	assert_resolves(f, "alice@example.org", 2, "L:alice@example.org L:bob@example.org ");
	/* the same alias reached through another one */
	alias(f, "team@example.org", "alice@example.org");
	assert_resolves(f, "team@example.org", 2, "L:alice@example.org L:bob@example.org ");
}

static void test_loops(void **state)
{
	struct fixture *f = *state;
	struct buf out;

	user(f, "alice@example.org");
	alias(f, "ping@example.org", "pong@example.org");
	alias(f, "pong@example.org", "ping@example.org");
	alias(f, "pong@example.org", "alice@example.org");
	alias(f, "self@example.org", "self+x@example.org");	/* no account */
	alias(f, "@example.org", "lost@example.org");		/* lost: nobody */
	alias(f, "entry@example.org", "alice@example.org");
	alias(f, "entry@example.org", "ping@example.org");

	buf_init(&out, 0);
	/* no target is called at all for a looping expansion */
	assert_int_equal(resolve_address(&f->cfg, f->a, "entry@example.org", collect, &out),
			 RESOLVE_LOOP);
	assert_string_equal(buf_cstr(&out), "");
	assert_int_equal(resolve_address(&f->cfg, f->a, "ping@example.org", NULL, NULL),
			 RESOLVE_LOOP);
	assert_int_equal(resolve_address(&f->cfg, f->a, "self@example.org", collect, &out),
			 RESOLVE_LOOP);
	assert_int_equal(resolve_address(&f->cfg, f->a, "whoever@example.org", collect, &out),
			 RESOLVE_LOOP);
	assert_string_equal(buf_cstr(&out), "");
	/* an account is not taken by the catch-all */
	assert_resolves(f, "alice@example.org", 1, "L:alice@example.org ");
	buf_deinit(&out);
}

static void test_alias_check(void **state)
{
	struct fixture *f = *state;
	char loop[RESOLVE_LOOP_TEXT_MAX];
	char t_a[] = "a@example.org", t_c[] = "c@example.org", t_b[] = "b@example.org";
	char t_alice[] = "alice@example.org", t_lost[] = "lost@example.org";
	char *to_a[] = { t_alice, t_a }, *to_c[] = { t_c }, *to_b[] = { t_b };
	char *to_alice[] = { t_alice }, *to_lost[] = { t_lost };

	user(f, "alice@example.org");
	alias(f, "a@example.org", "b@example.org");
	alias(f, "b@example.org", "c@example.org");

	assert_int_equal(resolve_alias_check(&f->cfg, f->a, "c@example.org", to_a, 2, loop),
			 RESOLVE_LOOP);
	assert_string_equal(loop, "c@example.org -> a@example.org -> b@example.org -> "
			    "c@example.org");
	assert_int_equal(resolve_alias_check(&f->cfg, f->a, "c@example.org", to_c, 1, loop),
			 RESOLVE_LOOP);
	assert_string_equal(loop, "c@example.org -> c@example.org");
	assert_int_equal(resolve_alias_check(&f->cfg, f->a, "c@example.org", to_alice, 1,
					     loop), 1);
	assert_int_equal(resolve_alias_check(&f->cfg, f->a, "d@example.org", to_b, 1, loop),
			 1);
	assert_int_equal(resolve_alias_check(&f->cfg, f->a, "alice@example.org", to_alice, 1,
					     loop), 1);		/* the self-copy */
	assert_int_equal(resolve_alias_check(&f->cfg, f->a, "@example.org", to_lost, 1, loop),
			 RESOLVE_LOOP);
	assert_string_equal(loop, "@example.org -> lost@example.org -> @example.org");
	/* nothing was stored */
	assert_resolves(f, "c@example.org", 0, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_check, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
