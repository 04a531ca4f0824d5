/*
 * test_store_deliver.c - the store as the delivery agent's mailbox
 * writer: layout and paths, names, exactly-once by name (new/ and cur/),
 * flags and keywords at once, folders created bare, the mbox appender's
 * quoting and redelivery, and the batch's commit (what it flushes, its
 * callback).  Without workers: each commit runs on the test's thread.
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

#include "lib/util.h"
#include "store/store_private.h"

#define ALICE "alice@example.org"

static char root[64];
static struct store *st;

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/correio-test-deliver-XXXXXX");
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

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_file(const char *path)
{
	static char data[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(data, 1, sizeof(data) - 1, f);
	data[n] = '\0';
	fclose(f);
	return data;
}

static int commits, last_result;

static void committed(void *ctx, int result)
{
	commits++;
	last_result = result;
}

/* Deliver m to address (folder, mbox, flags) in a batch of its own. */
static int deliver_one(const struct store_delivery_msg *m, const char *address,
		       const char *folder, bool mbox, const char *flags)
{
	struct store_delivery *b = store_delivery_begin(st);
	struct store_error err;
	int ret = store_deliver(b, m, address, folder, mbox, flags, &err);

	store_delivery_commit(&b, committed, NULL);
	assert_null(b);
	return ret;
}

/* A message file named name under root, and its delivery facts. */
static void message(struct store_delivery_msg *m, const char *name, const char *text,
		    const char *id, bool recovered)
{
	static char src[8][128];
	static unsigned next;
	char *path = src[next++ % 8];

	snprintf(path, 128, "%s/%s", root, name);
	write_file(path, text);
	store_delivery_msg_init(m, path, id, "mx.example.org", "a@b", 1700000000,
				strlen(text), recovered);
}

static void test_create_and_deliver(void **state)
{
	struct store_delivery_msg m;
	char path[1024];
	struct stat sb;

	message(&m, "msg1", "Return-Path: <a@b>\nSubject: hi\n\nbody\n", "X1", false);
	assert_string_equal(m.name, "1700000000.QX1.mx.example.org,S=37,W=41");
	commits = 0;
	assert_int_equal(deliver_one(&m, ALICE, NULL, false, NULL), 1);
	assert_int_equal(commits, 1);
	assert_int_equal(last_result, 1);
	/* the account's Maildir, made as the store makes it */
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/tmp", root);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/new/%s", root, m.name);
	assert_string_equal(read_file(path), "Return-Path: <a@b>\nSubject: hi\n\nbody\n");
	/* the same name again: already delivered, not a second copy */
	assert_int_equal(deliver_one(&m, ALICE, NULL, false, NULL), 0);
	assert_int_equal(commits, 2);
}

/* Is path (relative to root) in the NUL-separated list? */
static bool listed(const struct buf *list, const char *path)
{
	char full[512];

	snprintf(full, sizeof(full), "%s%s%s", root, path[0] != '\0' ? "/" : "", path);
	for (size_t off = 0; off < list->len; off += strlen(list->data + off) + 1)
		if (strcmp(list->data + off, full) == 0)
			return true;
	return false;
}

static unsigned count(const struct buf *list)
{
	unsigned n = 0;

	for (size_t off = 0; off < list->len; off += strlen(list->data + off) + 1)
		n++;
	return n;
}

/* A batch flushes exactly what its deliveries changed: each directory
   that got an entry (new ones with the directory they were made in),
   once; the files whose data is not on disk yet (a hard-linked message's
   is: the queue flushed it). */
static void test_commit_flushes_what_changed(void **state)
{
	struct store_delivery *b = store_delivery_begin(st);
	struct store_delivery_msg m1, m2, m3;
	const struct buf *dirs, *files;
	struct store_error err;

	message(&m1, "msg20", "a\n", "C1", false);
	message(&m2, "msg21", "b\n", "C2", false);
	message(&m3, "msg22", "c\n", "C3", false);
	/* carol's first mail: her Maildir is made */
	assert_int_equal(store_deliver(b, &m1, "carol@example.net", NULL, false, NULL, &err), 1);
	assert_int_equal(store_deliver(b, &m2, "carol@example.net", NULL, false, NULL, &err), 1);
	store_delivery_pending(b, &dirs, &files);
	assert_true(listed(dirs, "mail/example.net/carol/new"));
	assert_true(listed(dirs, "mail/example.net/carol"));
	assert_true(listed(dirs, "mail/example.net"));
	assert_true(listed(dirs, "mail"));
	assert_int_equal(count(dirs), 4 + (listed(dirs, "") ? 1 : 0));
	assert_int_equal(count(files), 0);
	store_delivery_commit(&b, committed, NULL);

	/* her Maildir is there now: only cur/ (flags), and the keywords
	   file with its directory; an mbox file's data */
	b = store_delivery_begin(st);
	assert_int_equal(store_deliver(b, &m3, "carol@example.net", NULL, false, "$A \\Seen",
				       &err), 1);
	assert_int_equal(store_deliver(b, &m3, "dave@example.net", NULL, true, NULL, &err), 1);
	store_delivery_pending(b, &dirs, &files);
	assert_true(listed(dirs, "mail/example.net/carol/cur"));
	assert_true(listed(dirs, "mail/example.net/carol"));
	assert_true(listed(dirs, "mbox"));
	assert_int_equal(count(dirs), 3 + (listed(dirs, "") ? 1 : 0));
	assert_true(listed(files, "mail/example.net/carol/dovecot-keywords"));
	assert_true(listed(files, "mbox/dave@example.net"));
	assert_int_equal(count(files), 2);
	commits = 0;
	store_delivery_commit(&b, committed, NULL);
	assert_int_equal(commits, 1);
	assert_int_equal(last_result, 1);
}

static void test_present(void **state)
{
	struct store_delivery *b = store_delivery_begin(st);
	struct store_delivery_msg m, other;

	message(&m, "msg2", "a\n", "P1", false);
	message(&other, "msg3", "b\n", "P2", false);
	assert_false(store_delivery_present(b, &m, ALICE, NULL, false));
	assert_int_equal(deliver_one(&m, ALICE, NULL, false, NULL), 1);
	assert_true(store_delivery_present(b, &m, ALICE, NULL, false));
	assert_false(store_delivery_present(b, &other, ALICE, NULL, false));
	/* an mbox INBOX cannot tell */
	assert_false(store_delivery_present(b, &m, ALICE, NULL, true));
	store_delivery_commit(&b, committed, NULL);
}

static void test_moved_to_cur_counts(void **state)
{
	struct store_delivery_msg m, prefix;
	char dir[256], from[1024], to[1024];

	snprintf(dir, sizeof(dir), "%s/mail/example.org/bob", root);
	message(&m, "msg4", "x\n", "Y", false);
	assert_int_equal(deliver_one(&m, "bob@example.org", NULL, false, NULL), 1);
	snprintf(from, sizeof(from), "%s/new/%s", dir, m.name);
	snprintf(to, sizeof(to), "%s/cur/%s:2,S", dir, m.name);
	assert_int_equal(rename(from, to), 0);
	/* a resumed delivery looks in cur/ too */
	m.recovered = true;
	assert_int_equal(deliver_one(&m, "bob@example.org", NULL, false, NULL), 0);
	/* also under the name the mail store gives it */
	snprintf(from, sizeof(from), "%s/cur/%s,U=1:2,S", dir, m.name);
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(deliver_one(&m, "bob@example.org", NULL, false, NULL), 0);
	snprintf(to, sizeof(to), "%s/new/%s", dir, m.name);
	assert_int_equal(access(to, F_OK), -1);
	/* a name that is only a prefix of the one in cur/ is a different message */
	prefix = m;
	prefix.name[strlen(prefix.name) - 1] = '\0';
	assert_int_equal(deliver_one(&prefix, "bob@example.org", NULL, false, NULL), 1);
}

/* The spool on another file system (tmpfs here): the message is copied
   through tmp/, its data flushed before it is linked into new/. */
static void test_copy_across_file_systems(void **state)
{
	struct store_delivery *b = store_delivery_begin(st);
	struct store_delivery_msg m;
	const struct buf *dirs, *files;
	struct store_error err;
	char src[64], path[1024];
	struct stat a, c;
	int fd;

	snprintf(src, sizeof(src), "/dev/shm/correio-test-deliver-XXXXXX");
	if ((fd = mkstemp(src)) < 0) {
		store_delivery_commit(&b, committed, NULL);
		skip();	/* no tmpfs: nothing to cross */
	}
	assert_int_equal(write(fd, "Subject: x\n\ncopied\n", 20), 20);
	close(fd);
	store_delivery_msg_init(&m, src, "XD", "mx", "a@b", 5, 20, false);
	snprintf(path, sizeof(path), "%s/mail", root);
	assert_int_equal(stat(src, &a), 0);
	assert_int_equal(mkdir_p(path, 0700), 1);
	assert_int_equal(stat(path, &c), 0);
	if (a.st_dev == c.st_dev) {
		unlink(src);
		store_delivery_commit(&b, committed, NULL);
		skip();
	}
	assert_int_equal(store_deliver(b, &m, "erin@example.org", NULL, false, NULL, &err), 1);
	snprintf(path, sizeof(path), "%s/mail/example.org/erin/new/%s", root, m.name);
	assert_string_equal(read_file(path), "Subject: x\n\ncopied\n");
	assert_int_equal(stat(path, &c), 0);
	assert_int_equal(c.st_nlink, 1);
	snprintf(path, sizeof(path), "%s/mail/example.org/erin/tmp/%s", root, m.name);
	assert_int_equal(access(path, F_OK), -1);
	store_delivery_pending(b, &dirs, &files);
	assert_true(listed(dirs, "mail/example.org/erin/new"));
	/* the copy was flushed already: nothing more of it for the commit */
	assert_int_equal(count(files), 0);
	store_delivery_commit(&b, committed, NULL);
	unlink(src);
}

static void test_missing_source(void **state)
{
	struct store_delivery *b = store_delivery_begin(st);
	struct store_delivery_msg m = { .src = "/nonexistent/msg", .sender = "" };
	struct store_error err;

	str_copy(m.name, "3.QZ.h,S=1", sizeof(m.name));
	assert_int_equal(store_deliver(b, &m, ALICE, NULL, false, NULL, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_TEMP);
	store_delivery_commit(&b, committed, NULL);
}

/* Flags put it into cur/ with its letters at once; keywords get letters
   of the folder's dovecot-keywords. */
static void test_flags_and_keywords(void **state)
{
	struct store_delivery_msg m;
	char path[1024];

	message(&m, "msg5", "Subject: f\n\nx\n", "F1", false);
	assert_int_equal(deliver_one(&m, ALICE, NULL, false, "\\Seen \\Flagged $Work"), 1);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/cur/%s:2,FSa", root, m.name);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/dovecot-keywords", root);
	assert_string_equal(read_file(path), "0 $Work\n");
}

/* A folder that does not exist is made a bare Maildir++ folder (Junk);
   folder names are escaped as the store escapes them. */
static void test_folder(void **state)
{
	struct store_delivery *b = store_delivery_begin(st);
	struct store_delivery_msg m;
	char path[1024];

	message(&m, "msg6", "Subject: j\n\nx\n", "J1", false);
	assert_int_equal(store_delivery_folder_exists(b, ALICE, "Junk"), 0);
	assert_int_equal(deliver_one(&m, ALICE, "Junk", true, NULL), 1);
	assert_int_equal(store_delivery_folder_exists(b, ALICE, "Junk"), 1);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/.Junk/maildirfolder", root);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/.Junk/new/%s", root, m.name);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(deliver_one(&m, ALICE, "a.b/c", false, NULL), 1);
	snprintf(path, sizeof(path), "%s/mail/example.org/alice/.a%%2Eb.c/new/%s", root,
		 m.name);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(store_delivery_folder_exists(b, ALICE, "a//b"), -1);
	assert_int_equal(store_delivery_folder_exists(b, ALICE, "INBOX"), -1);
	store_delivery_commit(&b, committed, NULL);
}

static void mbox_path(const char *address, char *out, size_t size)
{
	snprintf(out, size, "%s/mbox/%s", root, address);
}

static void test_mbox(void **state)
{
	struct store_delivery_msg m;
	char box[256];

	message(&m, "msg7", "Subject: a\n\nFrom here\n>From there\nno newline at end", "M1",
		false);
	m.arrival = 0;
	assert_int_equal(deliver_one(&m, "m1@example.org", NULL, true, NULL), 1);
	m.sender = "";
	assert_int_equal(deliver_one(&m, "m1@example.org", NULL, true, NULL), 1);
	mbox_path("m1@example.org", box, sizeof(box));
	assert_non_null(strstr(read_file(box),
			       "From a@b Thu Jan  1 00:00:00 1970\nSubject: a\n\n"
			       ">From here\n>>From there\nno newline at end\n\n"
			       "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"));
}

/* Delivered again after a crash: the message the mbox ends with is not
   appended twice; any other one is. */
static void test_mbox_redelivery(void **state)
{
	struct store_delivery_msg one, two;
	const char *text, *p;
	char box[256];
	int count = 0;

	message(&one, "msg8", "Received: by mx with ESMTP id Q1\nSubject: one\n\nbody\n",
		"Q1", false);
	message(&two, "msg9", "Received: by mx with ESMTP id Q2\nSubject: two\n\nbody\n",
		"Q2", false);
	assert_int_equal(deliver_one(&one, "m2@example.org", NULL, true, NULL), 1);
	one.recovered = two.recovered = true;
	assert_int_equal(deliver_one(&one, "m2@example.org", NULL, true, NULL), 0);
	assert_int_equal(deliver_one(&two, "m2@example.org", NULL, true, NULL), 1);
	assert_int_equal(deliver_one(&two, "m2@example.org", NULL, true, NULL), 0);
	assert_int_equal(deliver_one(&one, "m2@example.org", NULL, true, NULL), 1);	/* not the tail */
	mbox_path("m2@example.org", box, sizeof(box));
	text = read_file(box);
	for (p = text; (p = strstr(p, "Subject: ")) != NULL; p++)
		count++;
	assert_int_equal(count, 3);
}

/* Another program left the file without a final LF: the From_ line still
   starts a line of its own. */
static void test_mbox_unterminated(void **state)
{
	struct store_delivery_msg m;
	char box[256], dir[256];

	snprintf(dir, sizeof(dir), "%s/mbox", root);
	mkdir(dir, 0700);
	mbox_path("m3@example.org", box, sizeof(box));
	write_file(box, "From x Thu Jan  1 00:00:00 1970\nS: y\n\nno end");
	message(&m, "msg10", "Subject: a\n\nb\n", "U1", false);
	m.arrival = 0;
	assert_int_equal(deliver_one(&m, "m3@example.org", NULL, true, NULL), 1);
	assert_string_equal(read_file(box),
			    "From x Thu Jan  1 00:00:00 1970\nS: y\n\nno end\n"
			    "From a@b Thu Jan  1 00:00:00 1970\nSubject: a\n\nb\n\n");
}

/* The sender's Status:, X-Status: and X-Keywords: are dropped; the
   delivery's flags are written instead. */
static void test_mbox_flags(void **state)
{
	struct store_delivery_msg m;
	char box[256];

	message(&m, "msg11", "Subject: s\nStatus: RO\nX-Keywords: evil\n\tmore\nX: y\n\nb\n",
		"S1", false);
	m.arrival = 0;
	assert_int_equal(deliver_one(&m, "m4@example.org", NULL, true,
				     "\\Answered \\Seen $Label1"), 1);
	mbox_path("m4@example.org", box, sizeof(box));
	assert_string_equal(read_file(box),
			    "From a@b Thu Jan  1 00:00:00 1970\nSubject: s\nX: y\n"
			    "Status: RO\nX-Status: A\nX-Keywords: $Label1\n\nb\n\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_deliver),
		cmocka_unit_test(test_present),
		cmocka_unit_test(test_commit_flushes_what_changed),
		cmocka_unit_test(test_moved_to_cur_counts),
		cmocka_unit_test(test_copy_across_file_systems),
		cmocka_unit_test(test_missing_source),
		cmocka_unit_test(test_flags_and_keywords),
		cmocka_unit_test(test_folder),
		cmocka_unit_test(test_mbox),
		cmocka_unit_test(test_mbox_redelivery),
		cmocka_unit_test(test_mbox_unterminated),
		cmocka_unit_test(test_mbox_flags),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
