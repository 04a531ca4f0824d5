/*
 * test_store_watch.c - a big folder is not read whole again after the
 * store's own changes (flag renames, APPEND, COPY, MOVE, EXPUNGE, new
 * deliveries taken into cur/), and another program's change to cur/ is
 * still seen at the next sync, even right after one of ours.
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

#define ADDR "watch@example.org"
#define COUNT 3000
#define PARK_TEST_COPY 1200

static char root[64];
static char inbox[128];

static void deliver_new(unsigned first, unsigned n)
{
	char path[512], text[256];
	int len, fd;

	for (unsigned i = first; i < first + n; i++) {
		len = snprintf(text, sizeof(text), "From: <s%u@example.net>\n"
			       "Subject: message %u\n\nbody %u\n", i, i, i);
		snprintf(path, sizeof(path), "%s/new/%u.Q%08X.mx.example.org", inbox,
			 1700000000 + i, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, text, (size_t)len), len);
		close(fd);
	}
}

/* n messages into new/ of folder (Maildir++: .<name>) from another program */
static void deliver_into(const char *folder, unsigned n)
{
	char path[512];
	int fd;

	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/.%s/new/%u.Q%08X.mx.example.org", inbox,
			 folder, 1700000000 + i, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "Subject: x\n\nx\n", 15), 15);
		close(fd);
	}
}

static void append_one(struct store_account *a, const char *text)
{
	struct store_append *ap;
	struct store_error err;
	uint32_t uid, uidv;

	assert_int_equal(store_append_begin(a, "INBOX", &ap, &err), 1);
	assert_int_equal(store_append_write(ap, text, strlen(text), &err), 1);
	assert_int_equal(store_append_finish(&ap, 0, NULL, 0, 0, &uid, &uidv, &err), 1);
}

static void test_own_changes_no_rescan(void **state)
{
	struct store *st = store_new(root, "test.example");
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	struct store_msg m;
	uint32_t uids[100], new_uids[100], uidv;
	char from[512], to[520];
	unsigned long scans;
	unsigned n;

	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	store_mailbox_close(&h);
	assert_int_equal(store_folder_create(a, "Archive", 0, &err), 1);
	deliver_new(0, COUNT);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_int_equal(store_mailbox_count(h), COUNT);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	scans = h->mb->cur_scans;

	/* STORE +FLAGS \Seen on 100 messages, then the sync of the next
	   command: no scan */
	for (unsigned i = 0; i < 100; i++)
		uids[i] = 1 + i * 7;
	assert_int_equal(store_mailbox_set_flags(h, uids, 100, STORE_FLAGS_ADD,
						 STORE_FLAG_SEEN, 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(h->mb->cur_scans, scans);
	assert_int_equal(store_mailbox_lookup(h, 8, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_SEEN);

	/* APPEND, COPY into the same folder, MOVE out, EXPUNGE, and a new
	   delivery taken from new/: still no scan */
	append_one(a, "Subject: appended\n\nhi\n");
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_copy(h, uids, 10, "INBOX", false, new_uids, &uidv, &err), 1);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_copy(h, uids + 10, 10, "Archive", true, new_uids, &uidv, &err), 1);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	n = 10;
	assert_int_equal(store_mailbox_expunge(h, uids + 20, &n, &err), 1);
	assert_int_equal(n, 10);
	deliver_new(COUNT, 5);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(h->mb->cur_scans, scans);
	assert_int_equal(store_mailbox_count(h), COUNT + 1 + 10 - 10 - 10 + 5);

	/* another program's rename, right after a change of ours (the same
	   clock tick of cur/'s mtime): seen, by a scan */
	uids[0] = 2;
	assert_int_equal(store_mailbox_set_flags(h, uids, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_ANSWERED, 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_lookup(h, 3, &m), 1);
	snprintf(from, sizeof(from), "%s/cur/%s", inbox, m.name);
	snprintf(to, sizeof(to), "%sF", from);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(h->mb->cur_scans, scans + 1);
	assert_int_equal(store_mailbox_lookup(h, 3, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_FLAGGED);
	assert_int_equal(store_mailbox_lookup(h, 2, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_ANSWERED);

	/* and a file removed by hand is expunged */
	assert_int_equal(store_mailbox_lookup(h, 4, &m), 1);
	snprintf(from, sizeof(from), "%s/cur/%s", inbox, m.name);
	assert_int_equal(unlink(from), 0);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_lookup(h, 4, &m), 0);
	assert_int_equal(h->mb->cur_scans, scans + 2);
	/* after which our own changes are trusted again */
	assert_int_equal(store_mailbox_set_flags(h, uids, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_FLAGGED, 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(h->mb->cur_scans, scans + 2);

	store_mailbox_close(&h);
	store_account_unref(&a);
	store_free(&st);
}

/* A big folder stays parked in memory between two SELECTs while its
   account is in use; what changed meanwhile is seen on reopening; a
   parked folder can be deleted; and after a restart the index log
   vouches for cur/ (our own changes were all seen by the watch). */
static void test_parked_folder(void **state)
{
	struct store *st = store_new(root, "test.example");
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	struct store_status s;
	struct store_msg m;
	struct mbox *mb;
	uint32_t uids[COUNT], new_uids[COUNT], uidv;
	char from[512], to[520];
	unsigned long scans;

	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	store_mailbox_close(&h);
	assert_int_equal(store_folder_create(a, "Big", 0, &err), 1);
	deliver_new(0, COUNT);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	mb = h->mb;
	scans = mb->cur_scans;
	store_mailbox_close(&h);
	assert_true(mb->parked);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_ptr_equal(h->mb, mb);		/* not loaded again */
	assert_int_equal(mb->cur_scans, scans);
	assert_int_equal(store_mailbox_count(h), COUNT);
	/* the index fields alone, for walks like SEARCH */
	struct store_msg meta;
	assert_int_equal(store_mailbox_lookup(h, 9, &m), 1);
	assert_int_equal(store_mailbox_lookup_meta(h, 9, &meta), 1);
	assert_null(meta.name);
	assert_int_equal(meta.uid, 9);
	assert_int_equal(meta.flags, m.flags);
	assert_int_equal(meta.vsize, m.vsize);
	assert_int_equal(meta.size, m.size);
	assert_int_equal(meta.modseq, m.modseq);
	assert_int_equal(meta.internal_date, m.internal_date);
	assert_int_equal(store_mailbox_lookup_meta(h, COUNT + 50, &meta), 0);

	/* where a search for UNSEEN may start: found again after changes */
	uint32_t some[3] = { 1, 2, 3 };
	assert_int_equal(store_mailbox_unseen_low(h), 1);
	assert_int_equal(store_mailbox_set_flags(h, some, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_unseen_low(h), 4);
	assert_int_equal(store_mailbox_unseen_low(h), 4);
	assert_int_equal(store_mailbox_set_flags(h, some + 1, 1, STORE_FLAGS_REMOVE,
						 STORE_FLAG_SEEN, 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_unseen_low(h), 2);
	assert_int_equal(store_mailbox_set_flags(h, some + 1, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_SEEN, 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_unseen_low(h), 4);
	assert_int_equal(store_mailbox_set_flags(h, some, 3, STORE_FLAGS_REMOVE,
						 STORE_FLAG_SEEN, 0, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_unseen_low(h), 1);
	store_mailbox_close(&h);

	/* another program flags a message while the folder is parked */
	assert_int_equal(store_folder_status(a, "INBOX", true, &s, &err), 1);
	assert_int_equal(s.unseen, COUNT);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_int_equal(store_mailbox_lookup(h, 5, &m), 1);
	store_mailbox_close(&h);
	snprintf(from, sizeof(from), "%s/cur/%s", inbox, m.name);
	snprintf(to, sizeof(to), "%sS", from);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(store_folder_status(a, "INBOX", true, &s, &err), 1);
	assert_int_equal(s.unseen, COUNT - 1);

	/* a parked folder deleted */
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	for (unsigned i = 0; i < COUNT; i++)
		uids[i] = i + 1;
	assert_int_equal(store_copy(h, uids, PARK_TEST_COPY, "Big", false, new_uids, &uidv,
				    &err), 1);
	assert_int_equal(store_folder_status(a, "Big", true, &s, &err), 1);
	assert_int_equal(s.messages, PARK_TEST_COPY);
	assert_int_equal(store_folder_delete(a, "Big", &err), 1);
	assert_int_equal(store_folder_status(a, "Big", true, &s, &err), -1);

	/* the index log vouches for cur/ once its mtime is old enough */
	usleep(150000);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	store_mailbox_close(&h);
	store_account_unref(&a);	/* frees the parked INBOX too */
	store_free(&st);
	st = store_new(root, "test.example");
	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_int_equal(h->mb->cur_scans, 0);
	assert_int_equal(store_mailbox_count(h), COUNT);
	assert_int_equal(store_mailbox_lookup(h, 5, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_SEEN);
	store_mailbox_close(&h);
	store_account_unref(&a);
	store_free(&st);
}

/* A folder written to by APPEND stays parked after it while its account
   is in use, whatever its size: the next APPEND into it (a client saving
   to Sent or Drafts with INBOX selected, an upload) neither loads its
   index again nor reads its cur/ whole, which cost time in proportion
   to the folder for every message. */
static void test_append_target_parked(void **state)
{
	struct store *st = store_new(root, "test.example");
	struct store_account *a;
	struct store_mailbox *h;
	struct store_append *ap;
	struct store_error err;
	struct store_status s;
	struct mbox *mb, *sent, *mb_first = NULL;
	uint32_t uid, uidv;
	unsigned long scans = 0;
	const char *text = "From: <a@example.net>\r\nSubject: sent\r\n\r\nbody\r\n";

	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	assert_int_equal(store_folder_create(a, "Sent", 0, &err), 1);
	/* a session with its INBOX selected */
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(store_append_begin(a, "Sent", &ap, &err), 1);
		assert_int_equal(store_append_write(ap, text, strlen(text), &err), 1);
		assert_int_equal(store_append_finish(&ap, 0, NULL, 0, 0, &uid, &uidv, &err), 1);
		assert_int_equal(uid, i + 1);
		for (sent = NULL, mb = a->open; mb != NULL; mb = mb->next)
			if (strcmp(mb->name, "Sent") == 0)
				sent = mb;
		assert_non_null(sent);
		assert_true(sent->parked);
		if (i > 0) {
			assert_ptr_equal(sent, mb_first);
			assert_int_equal(sent->cur_scans, scans);
		}
		mb_first = sent;
		scans = sent->cur_scans;
	}
	/* what another program put there meanwhile is still seen */
	deliver_into("Sent", 1);
	assert_int_equal(store_folder_status(a, "Sent", false, &s, &err), 1);
	assert_int_equal(s.messages, 4);

	/* a few such small folders stay parked, not every one written to */
	for (unsigned i = 0; i < 20; i++) {
		char name[16];
		unsigned parked = 0;
		snprintf(name, sizeof(name), "F%u", i);
		assert_int_equal(store_folder_create(a, name, 0, &err), 1);
		assert_int_equal(store_append_begin(a, name, &ap, &err), 1);
		assert_int_equal(store_append_write(ap, text, strlen(text), &err), 1);
		assert_int_equal(store_append_finish(&ap, 0, NULL, 0, 0, &uid, &uidv, &err), 1);
		for (mb = a->open; mb != NULL; mb = mb->next)
			parked += mb->parked;
		assert_true(parked >= 1 && parked <= 8);
	}
	store_mailbox_close(&h);
	store_account_unref(&a);	/* frees the parked Sent too */
	store_free(&st);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/correio-test-watch-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(inbox, sizeof(inbox), "%s/mail/example.org/watch", root);
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
		cmocka_unit_test_setup_teardown(test_own_changes_no_rescan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parked_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_target_parked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
