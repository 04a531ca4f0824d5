/*
 * test_store_index.c - the mail store's index files from the inside:
 * compaction (snapshot, log, fallback file), the cache file's garbage
 * collection, and a log that belongs to an older snapshot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store_private.h"

static char root[64];
static char inbox[128];

static int setup(void **state)
{
	char path[512];
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/correio-test-index-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(inbox, sizeof(inbox), "%s/mail/example.org/ann", root);
	snprintf(path, sizeof(path), "mkdir -p '%s/new' '%s/cur' '%s/tmp'", inbox, inbox, inbox);
	if (system(path) != 0)
		return -1;
	for (int i = 1; i <= 2; i++) {
		snprintf(path, sizeof(path), "%s/new/%d.Q%d.mx,S=8", inbox, 1700000000 + i, i);
		if ((f = fopen(path, "w")) == NULL)
			return -1;
		fputs("Hello.\n\n", f);
		fclose(f);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static off_t file_size(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", inbox, name);
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void open_all(struct store **st, struct store_account **a, struct store_mailbox **h)
{
	struct store_error err;

	*st = store_new(root, "test.example");
	assert_int_equal(store_account_open(*st, "ann@example.org", a, &err), 1);
	assert_int_equal(store_mailbox_open(*a, "INBOX", NULL, NULL, h, &err), 1);
}

static void close_all(struct store **st, struct store_account **a, struct store_mailbox **h)
{
	store_mailbox_close(h);
	store_account_unref(a);
	store_free(st);
}

static void test_cache_compaction(void **state)
{
	static char big[100000];
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	struct store *st;
	struct buf out;

	memset(big, 'e', sizeof(big));
	open_all(&st, &a, &h);
	for (int i = 0; i < 20; i++) {
		big[0] = (char)('A' + i);
		assert_int_equal(store_mailbox_cache_set(h, 1, 2, big, sizeof(big), &err), 1);
	}
	assert_int_equal(store_mailbox_cache_set(h, 2, 0, "small", 5, &err), 1);
	assert_true(file_size(STORE_CACHE_FILE) > 2000000);
	assert_int_equal(store_index_compact(h->mb), 1);
	assert_true(file_size(STORE_CACHE_FILE) < 120000);
	assert_int_equal(file_size(STORE_LOG_FILE), 24);	/* header only */
	buf_init(&out, 0);
	assert_int_equal(store_mailbox_cache_get(h, 1, 2, &out), 1);
	assert_int_equal(out.len, sizeof(big));
	assert_int_equal(out.data[0], 'T');
	close_all(&st, &a, &h);

	open_all(&st, &a, &h);
	assert_int_equal(store_mailbox_cache_get(h, 1, 2, &out), 1);
	assert_int_equal(out.data[0], 'T');
	assert_int_equal(store_mailbox_cache_get(h, 2, 0, &out), 1);
	assert_string_equal(buf_cstr(&out), "small");
	buf_deinit(&out);
	close_all(&st, &a, &h);
}

static void test_log_of_older_snapshot(void **state)
{
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	struct store *st;
	char path[256], saved[300];
	uint32_t uid = 2;
	uint64_t modseq;

	open_all(&st, &a, &h);
	assert_int_equal(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, NULL, &err), 1);
	modseq = h->mb->idx.highestmodseq;
	/* keep the log as it is now, compact, then put the old log back:
	   a crash between the new snapshot and the new log */
	snprintf(path, sizeof(path), "%s/%s", inbox, STORE_LOG_FILE);
	snprintf(saved, sizeof(saved), "%s.saved", path);
	assert_int_equal(link(path, saved), 0);
	assert_int_equal(store_index_compact(h->mb), 1);
	close_all(&st, &a, &h);
	assert_int_equal(rename(saved, path), 0);

	open_all(&st, &a, &h);
	assert_int_equal(h->mb->idx.count, 2);
	assert_int_equal(h->mb->idx.recs[1].flags, STORE_FLAG_SEEN);
	/* its records are in the snapshot already: no modseq jump */
	assert_int_equal(h->mb->idx.highestmodseq, modseq);
	close_all(&st, &a, &h);
}

static void test_record_layout(void **state)
{
	/* the memory budget of a message (plus its file name) */
	assert_int_equal(sizeof(struct index_rec), 56);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_of_older_snapshot, setup, teardown),
		cmocka_unit_test(test_record_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
