/*
 * test_store_scale.c - a big folder: 10,000 messages (CORREIO_SCALE=n for
 * another count) delivered into new/, then timed: the first sync (reads
 * every file, names it, writes the index), loading the index, opening the
 * folder after a restart, a sync with nothing new, a flag change on every
 * message, an expunge, and the index rebuilt from the names alone.
 * Timings are printed, and asserted only loosely (a slow disk must not
 * fail the build).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "store/store_private.h"

#define ADDR "scale@example.org"

static char root[64];
static char inbox[128];
static unsigned scale = 10000;

static double ms_since(uint64_t start)
{
	return (double)(time_now_us() - start) / 1000.0;
}

static void fill_new(unsigned n)
{
	char path[512], text[1024];
	int len;

	for (unsigned i = 0; i < n; i++) {
		len = snprintf(text, sizeof(text),
			       "Return-Path: <sender%u@example.net>\n"
			       "Received: from mx.example.net by test.example with ESMTP id %016X\n"
			       "Date: Mon, 1 Jan 2024 00:00:00 +0000\nFrom: <sender%u@example.net>\n"
			       "To: <scale@example.org>\nSubject: message number %u\n"
			       "Message-ID: <%u@example.net>\n\n"
			       "Hello,\n\nThis is the body of message %u.\n", i, i, i, i, i, i);
		snprintf(path, sizeof(path), "%s/new/%u.Q%016X.mx.example.org,S=%d", inbox,
			 1700000000 + i / 10, i, len);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, text, (size_t)len), len);
		close(fd);
	}
}

static void open_inbox(struct store *st, struct store_account **a, struct store_mailbox **h)
{
	struct store_error err;

	assert_int_equal(store_account_open(st, ADDR, a, &err), 1);
	assert_int_equal(store_mailbox_open(*a, "INBOX", NULL, NULL, h, &err), 1);
}

static void close_inbox(struct store_account **a, struct store_mailbox **h)
{
	store_mailbox_close(h);
	store_account_unref(a);
}

/* The index load alone: snapshot + log, no directory scan. */
static double time_load(unsigned *count_r)
{
	struct mbox mb = { .dir = inbox, .cache_fd = -1 };
	struct store_error err;
	uint64_t t = time_now_us();
	double ms;

	store_index_init(&mb.idx);
	assert_int_equal(store_index_load(&mb, &err), 1);
	ms = ms_since(t);
	*count_r = mb.idx.count;
	if (mb.idx.log_fd >= 0)
		close(mb.idx.log_fd);
	store_index_deinit(&mb.idx);
	return ms;
}

static void test_big_folder(void **state)
{
	struct store *st = store_new(root, "test.example");
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	struct store_status s;
	uint32_t *uids = calloc(scale, sizeof(*uids));
	unsigned n, loaded;
	uint64_t t;
	double ms;

	open_inbox(st, &a, &h);		/* creates the account */
	close_inbox(&a, &h);
	t = time_now_us();
	fill_new(scale);
	printf("    %u messages written into new/ in %.0f ms\n", scale, ms_since(t));

	t = time_now_us();
	open_inbox(st, &a, &h);
	ms = ms_since(t);
	assert_int_equal(store_mailbox_count(h), scale);
	printf("    first sync (read, name, index every message): %.0f ms (%.1f us/msg)\n",
	       ms, ms * 1000 / scale);
	store_mailbox_get(h, scale - 1, &(struct store_msg){ 0 });
	store_mailbox_status(h, &s);
	assert_int_equal(s.uidnext, scale + 1);
	close_inbox(&a, &h);
	store_free(&st);

	ms = time_load(&loaded);
	assert_int_equal(loaded, scale);
	printf("    index load (snapshot + log): %.2f ms\n", ms);
	assert_true(ms < 1000);

	st = store_new(root, "test.example");
	t = time_now_us();
	open_inbox(st, &a, &h);
	printf("    open after restart (load + scan of cur/): %.1f ms\n", ms_since(t));
	sleep(1);	/* let cur/'s mtime age: then it can be trusted */
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	t = time_now_us();
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	printf("    sync with nothing new: %.3f ms\n", ms_since(t));
	/* cur/ is trusted now; another program's rename still shows */
	struct store_msg m;
	char from[512], to[520];
	assert_int_equal(store_mailbox_lookup(h, 7, &m), 1);
	snprintf(from, sizeof(from), "%s/cur/%s", inbox, m.name);
	snprintf(to, sizeof(to), "%sF", from);
	assert_int_equal(rename(from, to), 0);
	t = time_now_us();
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	printf("    sync after another program renamed one file: %.1f ms\n", ms_since(t));
	assert_int_equal(store_mailbox_lookup(h, 7, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_FLAGGED);

	for (unsigned i = 0; i < scale; i++)
		uids[i] = i + 1;
	t = time_now_us();
	assert_int_equal(store_mailbox_set_flags(h, uids, scale, STORE_FLAGS_ADD,
						 STORE_FLAG_SEEN, 0, 0, NULL, &err), 1);
	printf("    \\Seen on every message (renames + log): %.0f ms\n", ms_since(t));
	n = scale / 10;
	t = time_now_us();
	assert_int_equal(store_mailbox_expunge(h, uids, &n, &err), 1);
	printf("    expunge of %u messages: %.0f ms\n", n, ms_since(t));
	store_mailbox_status(h, &s);
	assert_int_equal(s.unseen, 0);
	assert_int_equal(s.messages, scale - scale / 10);
	printf("    memory: %zu bytes per message + %.0f bytes of file name\n",
	       sizeof(struct index_rec), (double)h->mb->idx.names_len / h->mb->idx.count);
	close_inbox(&a, &h);
	store_free(&st);

	/* the index lost: rebuilt from the names (no file is read) */
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", inbox, STORE_INDEX_FILE);
	unlink(path);
	st = store_new(root, "test.example");
	t = time_now_us();
	open_inbox(st, &a, &h);
	printf("    rebuild from the Maildir names: %.0f ms\n", ms_since(t));
	store_mailbox_status(h, &s);
	assert_int_equal(s.messages, scale - scale / 10);
	assert_int_equal(s.unseen, 0);
	assert_int_equal(s.uidnext, scale + 1);
	close_inbox(&a, &h);
	store_free(&st);
	free(uids);
}

static int setup(void **state)
{
	const char *env = getenv("CORREIO_SCALE");

	if (env != NULL && atoi(env) > 0)
		scale = (unsigned)atoi(env);
	snprintf(root, sizeof(root), "/tmp/correio-test-scale-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(inbox, sizeof(inbox), "%s/mail/example.org/scale", root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_folder),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
