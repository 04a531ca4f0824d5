/*
 * test_store_lazy.c - messages another program left in cur/ are indexed
 * from their names alone; their size, RFC822.SIZE (CRLF counted) and
 * internal date are read when first wanted, kept in the index across a
 * restart, and written into the name when the store renames the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "store/store_private.h"

#define ADDR "lazy@example.org"
#define DATE0 1600000000

static char root[64];
static char inbox[128];

/* The files, in UID order (their leading numbers). */
static const struct {
	const char *name, *text;
	uint64_t size, vsize;
} files[] = {
	{ "1700000001.A.other:2,S", "a\nb\n", 4, 6 },			/* bare LF */
	{ "1700000002.B.other:2,", "x\r\ny\n", 5, 6 },			/* mixed */
	{ "1700000003.C.other,S=999,W=999:2,", "hello\n", 6, 7 },	/* names lie */
	{ "1700000004.D.other,S=6,W=7:2,S", "hello\n", 6, 7 },		/* names right */
};
#define N_FILES (sizeof(files) / sizeof(files[0]))

static void write_file(const char *name, const char *text, time_t mtime)
{
	struct timespec times[2] = { { mtime, 0 }, { mtime, 0 } };
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/cur/%s", inbox, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static bool unmeasured(struct store_mailbox *h, uint32_t uid)
{
	long i = store_index_find(&h->mb->idx, uid);

	assert_true(i >= 0);
	return (h->mb->idx.recs[i].flags & REC_FLAG_UNMEASURED) != 0;
}

/* The name in cur/ that starts with base. */
static bool cur_name(const char *base, char *out, size_t size)
{
	char path[256];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cur", inbox);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strncmp(de->d_name, base, strlen(base)) == 0) {
			str_copy(out, de->d_name, size);
			found = true;
		}
	closedir(d);
	return found;
}

static void open_inbox(struct store **st, struct store_account **a, struct store_mailbox **h)
{
	struct store_error err;

	*st = store_new(root, "test.example");
	assert_int_equal(store_account_open(*st, ADDR, a, &err), 1);
	assert_int_equal(store_mailbox_open(*a, "INBOX", NULL, NULL, h, &err), 1);
}

static void close_all(struct store **st, struct store_account **a, struct store_mailbox **h)
{
	store_mailbox_close(h);
	store_account_unref(a);
	store_free(st);
}

static void test_sizes_read_late(void **state)
{
	struct store *st;
	struct store_account *a;
	struct store_mailbox *h;
	struct store_status s;
	struct store_msg m;
	struct store_snapshot *snap;

	open_inbox(&st, &a, &h);
	close_all(&st, &a, &h);
	for (unsigned i = 0; i < N_FILES; i++)
		write_file(files[i].name, files[i].text, DATE0 + (time_t)i);

	open_inbox(&st, &a, &h);
	assert_int_equal(store_mailbox_count(h), N_FILES);
	for (uint32_t uid = 1; uid <= N_FILES; uid++)
		assert_true(unmeasured(h, uid));
	/* flags alone read nothing */
	assert_int_equal(store_mailbox_lookup_flags(h, 1, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_SEEN);
	assert_true(unmeasured(h, 1));
	store_mailbox_status(h, &s);
	assert_int_equal(s.messages, N_FILES);
	assert_int_equal(s.unseen, 2);
	assert_true(unmeasured(h, 1));

	/* a look-up reads the file: LF size, CRLF size, mtime */
	for (uint32_t uid = 1; uid <= 2; uid++) {
		assert_int_equal(store_mailbox_lookup(h, uid, &m), 1);
		assert_int_equal(m.size, files[uid - 1].size);
		assert_int_equal(m.vsize, files[uid - 1].vsize);
		assert_int_equal(m.internal_date, DATE0 + uid - 1);
		assert_false(unmeasured(h, uid));
	}
	close_all(&st, &a, &h);

	/* after a restart the index has the two measured ones: their files
	   are not read again (changed behind the store's back, they keep
	   the sizes read); the others are read from the files as they are */
	write_file(files[0].name, "changed since\n", DATE0 + 100);
	write_file(files[2].name, "hello\nworld\n", DATE0 + 102);
	open_inbox(&st, &a, &h);
	assert_int_equal(store_mailbox_count(h), N_FILES);
	assert_false(unmeasured(h, 1));
	assert_false(unmeasured(h, 2));
	assert_true(unmeasured(h, 3));
	assert_int_equal(store_mailbox_lookup(h, 1, &m), 1);
	assert_int_equal(m.size, 4);
	assert_int_equal(m.vsize, 6);
	assert_int_equal(m.internal_date, DATE0);
	assert_int_equal(store_mailbox_lookup_meta(h, 3, &m), 1);
	assert_int_equal(m.size, 12);
	assert_int_equal(m.vsize, 14);
	assert_int_equal(m.internal_date, DATE0 + 102);

	/* STATUS SIZE and POP3 measure what is left */
	store_mailbox_status_sizes(h, &s);
	assert_int_equal(s.size, 6 + 6 + 14 + 7);
	assert_false(unmeasured(h, 4));
	assert_non_null(snap = store_snapshot_new(h));
	assert_int_equal(snap->total_vsize, 6 + 6 + 14 + 7);
	store_snapshot_free(&snap);
	close_all(&st, &a, &h);
}

static void test_rename_carries_sizes(void **state)
{
	struct store *st;
	struct store_account *a;
	struct store_mailbox *h;
	struct store_flag_result res;
	struct store_error err;
	uint32_t uid = 2, new_uid, uidv;
	char name[256];

	open_inbox(&st, &a, &h);
	assert_int_equal(store_folder_create(a, "Archive", 0, &err), 1);
	close_all(&st, &a, &h);
	for (unsigned i = 0; i < N_FILES; i++)
		write_file(files[i].name, files[i].text, DATE0 + (time_t)i);

	open_inbox(&st, &a, &h);
	assert_true(unmeasured(h, 2));
	/* a flag change renames the file: its sizes go into the name */
	assert_int_equal(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_FLAGGED, 0, 0, &res, &err), 1);
	assert_int_equal(res.status, STORE_FLAG_CHANGED);
	assert_false(unmeasured(h, 2));
	assert_true(cur_name("1700000002.B.other", name, sizeof(name)));
	assert_non_null(strstr(name, ",S=5,W=6,U=2:2,F"));
	/* a copy's name too, and the lying S=/W= are not copied */
	uid = 3;
	assert_int_equal(store_copy(h, &uid, 1, "Archive", false, &new_uid, &uidv, &err), 1);
	assert_false(unmeasured(h, 3));
	close_all(&st, &a, &h);
	snprintf(inbox + strlen(inbox), sizeof(inbox) - strlen(inbox), "/.Archive");
	assert_true(cur_name("", name, sizeof(name)));
	assert_non_null(strstr(name, ",S=6,W=7,U=1:2,"));
}

/* With worker threads, the sizes are read after the open, off the loop
   (those a sync just left unread, and those an earlier run left in the
   index unread), and a new snapshot keeps them. */
static void test_filled_by_workers(void **state)
{
	struct store *st;
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	char name[64], text[128];
	unsigned left = 0;
	int fd;

	/* half indexed by a store without workers (the index keeps them
	   unmeasured, as after a restart), half new at the next open */
	open_inbox(&st, &a, &h);
	close_all(&st, &a, &h);
	for (unsigned i = 0; i < 5000; i++) {
		if (i == 2500) {
			open_inbox(&st, &a, &h);
			assert_int_equal(store_mailbox_count(h), 2500);
			assert_true(unmeasured(h, 2500));
			close_all(&st, &a, &h);
		}
		snprintf(name, sizeof(name), "%u.F%u.other:2,S", 1700000000 + i, i);
		snprintf(text, sizeof(text), "Subject: %u\n\n%.*s\n", i, (int)(i % 50),
			 "..................................................");
		write_file(name, text, DATE0 + (time_t)i);
	}
	st = store_new(root, "test.example");
	assert_true((fd = store_workers_start(st, 2)) >= 0);
	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	assert_int_equal(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 5000);
	for (unsigned tries = 0; tries < 100 && h->mb->filling; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) > 0)
			store_workers_run(st);
	}
	assert_false(h->mb->filling);
	for (unsigned i = 0; i < 5000; i++) {
		const struct index_rec *r = &h->mb->idx.recs[i];
		left += (r->flags & REC_FLAG_UNMEASURED) != 0;
		/* "Subject: i\n\n" + dots + "\n": three bare LFs */
		snprintf(text, sizeof(text), "Subject: %u\n\n", i);
		assert_int_equal(r->size, strlen(text) + i % 50 + 1);
		assert_int_equal(r->vsize, r->size + 3);
		assert_int_equal(r->date, DATE0 + i);
	}
	assert_int_equal(left, 0);
	close_all(&st, &a, &h);
	/* the snapshot has them: a store without workers reads no file */
	open_inbox(&st, &a, &h);
	for (unsigned i = 0; i < 5000; i++)
		assert_int_equal(h->mb->idx.recs[i].flags & REC_FLAG_UNMEASURED, 0);
	close_all(&st, &a, &h);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/correio-test-lazy-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(inbox, sizeof(inbox), "%s/mail/example.org/lazy", root);
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
		cmocka_unit_test_setup_teardown(test_sizes_read_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_carries_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filled_by_workers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
