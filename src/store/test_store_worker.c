/*
 * test_store_worker.c - the store's disk waits on worker threads: APPENDs
 * of several sessions committed at once get distinct UIDs, are on disk
 * before their callbacks, share directory flushes (group commit), and a
 * store freed with work in flight finishes it; without workers a commit
 * answers before it returns.  A STORE changes the index at once and its
 * renames follow on a worker, the files found by their names meanwhile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store_private.h"

#define ADDR "alice@example.org"
#define SESSIONS 6

static char root[64];
static struct store *st;

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/correio-test-worker-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	st = store_new(root, "test.example");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	store_free(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

struct answer {
	bool called;
	int result;
	uint32_t uid;
	unsigned n_filed;
};

static void on_filed(void *ctx, int result, const uint32_t *uids, unsigned n_filed,
		     uint32_t uidvalidity, const struct store_error *error)
{
	struct answer *a = ctx;

	a->called = true;
	a->result = result;
	a->n_filed = n_filed;
	a->uid = n_filed > 0 ? uids[0] : 0;
}

static struct store_append *message(struct store_account *a, const char *text)
{
	struct store_append *ap;
	struct store_error err;

	assert_int_equal(store_append_begin(a, "INBOX", &ap, &err), 1);
	assert_int_equal(store_append_write(ap, text, strlen(text), &err), 1);
	store_append_set(ap, STORE_FLAG_SEEN, NULL, 0, 1600000000);
	return ap;
}

static unsigned files_in_cur(void)
{
	char cmd[200];
	unsigned n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls '%s/mail/example.org/alice/cur' | wc -l", root);
	assert_non_null(p = popen(cmd, "r"));
	assert_int_equal(fscanf(p, "%u", &n), 1);
	pclose(p);
	return n;
}

static void test_group_commit(void **state)
{
	struct answer answers[SESSIONS] = { { 0 } };
	struct store_account *a;
	struct store_error err;
	struct store_mailbox *h;
	time_t deadline = time(NULL) + 20;
	bool seen[SESSIONS + 1] = { false };
	int fd = store_workers_start(st, 2);
	unsigned done = 0;

	assert_true(fd >= 0);
	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	st->disk_delay_ms = 100;	/* flushes last long enough to gather */
	for (unsigned i = 0; i < SESSIONS; i++) {
		struct store_append *ap = message(a, "Subject: one of several\r\n\r\nhi\r\n");
		assert_non_null(store_append_commit(&ap, 1, on_filed, &answers[i]));
		assert_null(ap);
	}
	assert_int_equal(answers[0].called, false);	/* the loop must run first */
	while (done < SESSIONS && time(NULL) < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 1000) > 0)
			store_workers_run(st);
		done = 0;
		for (unsigned i = 0; i < SESSIONS; i++)
			done += answers[i].called;
	}
	assert_int_equal(done, SESSIONS);
	for (unsigned i = 0; i < SESSIONS; i++) {
		assert_int_equal(answers[i].result, 1);
		assert_int_equal(answers[i].n_filed, 1);
		assert_true(answers[i].uid >= 1 && answers[i].uid <= SESSIONS);
		assert_false(seen[answers[i].uid]);
		seen[answers[i].uid] = true;
	}
	assert_int_equal(st->dir_requests, SESSIONS);
	assert_true(st->dir_flushes < st->dir_requests);
	assert_int_equal(files_in_cur(), SESSIONS);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_int_equal(store_mailbox_count(h), SESSIONS);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* A session that went away (cancel) and a store freed meanwhile: the
   message is still filed, and no callback runs. */
static void test_free_finishes_work(void **state)
{
	struct answer answer = { 0 };
	struct store_account *a;
	struct store_append *ap;
	struct store_error err;
	struct store_wait *w;

	assert_true(store_workers_start(st, 1) >= 0);
	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	st->disk_delay_ms = 100;
	ap = message(a, "Subject: left behind\r\n\r\nhi\r\n");
	assert_non_null(w = store_append_commit(&ap, 1, on_filed, &answer));
	store_wait_cancel(w);
	store_account_unref(&a);
	store_free(&st);
	assert_false(answer.called);
	assert_int_equal(files_in_cur(), 1);
}

static void run_workers_until(int fd, const unsigned *count, unsigned want)
{
	time_t deadline = time(NULL) + 20;

	while (*count != want && time(NULL) < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 1000) > 0)
			store_workers_run(st);
	}
	assert_int_equal(*count, want);
}

/* EXPUNGE returns before its files are unlinked (a worker does it); a
   scan of cur/ meanwhile does not take them for new mail, and once they
   are gone the folder's watch still vouches for cur/. */
static void test_expunge_unlinks_off_the_loop(void **state)
{
	struct store_account *a;
	struct store_error err;
	struct store_mailbox *h;
	int fd = store_workers_start(st, 1);
	uint32_t uid, uidv, uids[2] = { 1, 3 };
	unsigned n = 2;

	assert_true(fd >= 0);
	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	for (unsigned i = 0; i < 4; i++) {
		struct store_append *ap = message(a, "Subject: to expunge\r\n\r\nhi\r\n");
		assert_int_equal(store_append_finish(&ap, 0, NULL, 0, 0, &uid, &uidv, &err), 1);
	}
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 4);
	st->disk_delay_ms = 300;	/* the unlinks wait: a slow disk */
	assert_int_equal(store_mailbox_expunge_later(h, uids, &n, &err), 1);
	assert_int_equal(n, 2);
	assert_int_equal(store_mailbox_count(h), 2);
	assert_int_equal(files_in_cur(), 4);	/* not unlinked yet */
	assert_int_equal(store_sync_run(h->mb, false, true, &err), 1);
	assert_int_equal(store_mailbox_count(h), 2);	/* nothing came back */
	run_workers_until(fd, &h->mb->n_unlinking, 0);
	assert_int_equal(files_in_cur(), 2);
	assert_true(store_watch_clean(h->mb));
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 2);
	assert_int_equal(store_mailbox_uid_at(h, 0), 2);
	assert_int_equal(store_mailbox_uid_at(h, 1), 4);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* How many files of cur/ carry flag letter c after ":2,". */
static unsigned files_flagged(char c)
{
	char cmd[200];
	unsigned n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls '%s/mail/example.org/alice/cur' | grep -c ':2,.*%c'",
		 root, c);
	assert_non_null(p = popen(cmd, "r"));
	assert_int_equal(fscanf(p, "%u", &n), 1);
	pclose(p);
	return n;
}

/* STORE: the flags are in the index at once, the renames wait for the
   loop to run the worker's done step; meanwhile every file opens (under
   whichever name it has), a scan of cur/ loses nothing, a second change
   queues behind the first, and in the end the names carry the flags. */
static void test_flag_renames_off_the_loop(void **state)
{
	struct store_account *a;
	struct store_error err;
	struct store_mailbox *h;
	struct store_msg m;
	int fd = store_workers_start(st, 1), msg_fd;
	uint32_t uid, uidv, all[4] = { 1, 2, 3, 4 }, two[1] = { 2 };

	assert_true(fd >= 0);
	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	for (unsigned i = 0; i < 4; i++) {
		struct store_append *ap = message(a, "Subject: flagged\r\n\r\nhi\r\n");
		assert_int_equal(store_append_finish(&ap, 0, NULL, 0, 0, &uid, &uidv, &err), 1);
	}
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_int_equal(store_mailbox_set_flags(h, all, 4, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED,
						 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_set_flags(h, two, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, NULL, &err), 1);
	assert_true(h->mb->n_renames > h->mb->renames_head);	/* not done yet */
	for (uint32_t u = 1; u <= 4; u++) {
		assert_int_equal(store_mailbox_lookup_flags(h, u, &m), 1);
		assert_true((m.flags & STORE_FLAG_FLAGGED) != 0);
		assert_int_equal((m.flags & STORE_FLAG_SEEN) != 0, u == 2);
		assert_int_equal(store_mailbox_open_msg(h, u, &msg_fd, &m, &err), 1);
		close(msg_fd);
	}
	assert_int_equal(store_sync_run(h->mb, false, true, &err), 1);
	assert_int_equal(store_mailbox_count(h), 4);	/* nothing lost or new */
	run_workers_until(fd, &h->mb->n_renames, 0);
	assert_int_equal(files_flagged('F'), 4);
	assert_int_equal(files_flagged('S'), 1);
	for (unsigned i = 0; i < h->mb->idx.count; i++)
		assert_int_equal(h->mb->idx.recs[i].flags & REC_FLAG_RENAMING, 0);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 4);
	assert_int_equal(store_mailbox_lookup_flags(h, 2, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_FLAGGED | STORE_FLAG_SEEN);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void test_without_workers(void **state)
{
	struct answer answer = { 0 };
	struct store_account *a;
	struct store_append *ap[2];
	struct store_error err;

	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	ap[0] = message(a, "Subject: first\r\n\r\nhi\r\n");
	ap[1] = message(a, "Subject: second\r\n\r\nhi\r\n");
	assert_null(store_append_commit(ap, 2, on_filed, &answer));
	assert_true(answer.called);
	assert_int_equal(answer.result, 1);
	assert_int_equal(answer.n_filed, 2);
	assert_int_equal(answer.uid, 1);
	assert_int_equal(files_in_cur(), 2);
	store_account_unref(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_finishes_work, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_unlinks_off_the_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flag_renames_off_the_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_workers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
