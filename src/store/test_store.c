/*
 * test_store.c - the mail store against real Maildirs in a temporary data
 * directory: new accounts and their folders, deliveries dropped into new/
 * as the delivery agent does, UIDs and flags across restarts and index
 * loss, other programs' changes, append, copy, move, expunge, folder
 * create/rename/delete with Unicode names, listeners, UIDVALIDITY, the
 * cache of strings, POP3 snapshots and quota.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "store/store.h"

#define ADDR "alice@example.org"

static char root[64];
static char inbox[128];		/* the account's Maildir */
static struct store *st;

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/correio-test-store-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(inbox, sizeof(inbox), "%s/mail/example.org/alice", root);
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

static void restart(void)
{
	store_free(&st);
	st = store_new(root, "test.example");
}

/* ---- helpers ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* As the delivery agent files a message: a complete file in new/.
   Returns its size. */
static size_t deliver(const char *dir, unsigned long arrival, const char *id,
		      const char *subject)
{
	char text[512], path[512], mkdirs[600];

	snprintf(mkdirs, sizeof(mkdirs), "mkdir -p '%s/new' '%s/cur' '%s/tmp'", dir, dir, dir);
	assert_int_equal(system(mkdirs), 0);
	snprintf(text, sizeof(text),
		 "Return-Path: <bob@example.net>\nReceived: from mx by test\n"
		 "Subject: %s\n\nHello.\n", subject);
	snprintf(path, sizeof(path), "%s/new/%lu.Q%s.mx.example.org,S=%zu", dir, arrival,
		 id, strlen(text));
	write_file(path, text);
	return strlen(text);
}

static struct store_account *open_account(void)
{
	struct store_account *a;
	struct store_error err;

	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	assert_int_equal(store_account_default_folders(a, &err), 1);
	return a;
}

struct events {
	unsigned exists, expunge, flags, keywords, gone;
	uint32_t uids[64];
	unsigned n_uids;
};

static void on_change(void *ctx, struct store_mailbox *h, const struct store_change *c)
{
	struct events *ev = ctx;

	switch (c->kind) {
	case STORE_CHANGE_EXISTS: ev->exists += c->count; break;
	case STORE_CHANGE_EXPUNGE: ev->expunge += c->count; break;
	case STORE_CHANGE_FLAGS: ev->flags += c->count; break;
	case STORE_CHANGE_KEYWORDS: ev->keywords++; break;
	case STORE_CHANGE_GONE: ev->gone++; break;
	}
	for (unsigned i = 0; i < c->count && ev->n_uids < 64; i++)
		ev->uids[ev->n_uids++] = c->uids[i];
}

static struct store_mailbox *open_box(struct store_account *a, const char *name,
				      struct events *ev)
{
	struct store_mailbox *h;
	struct store_error err = { 0 };

	if (store_mailbox_open(a, name, ev != NULL ? on_change : NULL, ev, &h, &err) != 1)
		fail_msg("open %s: %s", name, err.text);
	return h;
}

static uint32_t uid_at(struct store_mailbox *h, unsigned i)
{
	struct store_msg m;

	store_mailbox_get(h, i, &m);
	return m.uid;
}

static struct store_msg lookup(struct store_mailbox *h, uint32_t uid)
{
	struct store_msg m;

	assert_int_equal(store_mailbox_lookup(h, uid, &m), 1);
	return m;
}

static unsigned count_files(const char *dir)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Path of the file of uid in folder dir (cur/). */
static void file_of(struct store_mailbox *h, const char *dir, uint32_t uid,
		    char *out, size_t size)
{
	struct store_msg m = lookup(h, uid);

	snprintf(out, size, "%s/cur/%s", dir, m.name);
}

static uint32_t append(struct store_account *a, const char *folder, const char *text,
		       uint8_t flags, time_t date)
{
	struct store_append *ap;
	struct store_error err;
	uint32_t uid, uidv;

	assert_int_equal(store_append_begin(a, folder, &ap, &err), 1);
	assert_int_equal(store_append_write(ap, text, strlen(text), &err), 1);
	assert_int_equal(store_append_finish(&ap, flags, NULL, 0, date, &uid, &uidv, &err), 1);
	assert_null(ap);
	return uid;
}

/* ---- folders ---- */

struct listing {
	char names[32][64];
	unsigned attrs[32];
	unsigned n;
};

static void on_folder(void *ctx, const struct store_folder_info *f)
{
	struct listing *l = ctx;

	assert_true(l->n < 32);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", f->name);
	l->attrs[l->n++] = f->attrs;
}

static unsigned attrs_of(struct store_account *a, const char *name)
{
	struct listing l = { .n = 0 };
	struct store_error err;

	assert_int_equal(store_folder_list(a, on_folder, &l, &err), 1);
	for (unsigned i = 0; i < l.n; i++)
		if (strcmp(l.names[i], name) == 0)
			return l.attrs[i];
	return 0xdead;
}

/* Opened for POP3 or delivery only: the Maildir, no default folders. */
static void test_account_without_reader(void **state)
{
	struct store_account *a;
	struct listing l = { .n = 0 };
	struct store_error err;

	assert_int_equal(store_account_open(st, "bob@example.org", &a, &err), 1);
	assert_int_equal(store_folder_list(a, on_folder, &l, &err), 1);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "INBOX");
	/* the first IMAP login makes them */
	assert_int_equal(store_account_default_folders(a, &err), 1);
	l.n = 0;
	assert_int_equal(store_folder_list(a, on_folder, &l, &err), 1);
	assert_int_equal(l.n, 6);
	store_account_unref(&a);
}

static void test_new_account(void **state)
{
	static const char *want[] = { "INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash" };
	static const unsigned use[] = { 0, STORE_FOLDER_ARCHIVE, STORE_FOLDER_DRAFTS,
					STORE_FOLDER_JUNK, STORE_FOLDER_SENT,
					STORE_FOLDER_TRASH };
	struct store_account *a = open_account(), *b;
	struct listing l = { .n = 0 };
	struct store_error err;
	char path[256];

	assert_int_equal(store_folder_list(a, on_folder, &l, &err), 1);
	assert_int_equal(l.n, 6);
	for (unsigned i = 0; i < 6; i++) {
		assert_string_equal(l.names[i], want[i]);
		assert_int_equal(l.attrs[i], use[i] | STORE_FOLDER_SUBSCRIBED |
				 STORE_FOLDER_HASNOCHILDREN);
	}
	snprintf(path, sizeof(path), "%s/.Sent/maildirfolder", inbox);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/.Junk/cur", inbox);
	assert_int_equal(access(path, F_OK), 0);
	/* shared: the same account object */
	assert_int_equal(store_account_open(st, "Alice@Example.ORG", &b, &err), 1);
	assert_ptr_equal(a, b);
	store_account_unref(&b);
	/* a deleted default folder is not created again */
	assert_int_equal(store_folder_delete(a, "Junk", &err), 1);
	store_account_unref(&a);
	restart();
	a = open_account();
	assert_int_equal(attrs_of(a, "Junk"), STORE_FOLDER_SUBSCRIBED | STORE_FOLDER_NOSELECT |
			 STORE_FOLDER_NONEXISTENT);
	assert_int_equal(store_account_open(st, "../etc@x", &b, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_BAD_PARAM);
	store_account_unref(&a);
}

/* ---- deliveries and UIDs ---- */

static void test_delivery_uids(void **state)
{
	struct store_account *a = open_account();
	struct events ev = { 0 };
	struct store_mailbox *h;
	struct store_status s;
	struct store_msg m;
	char path[256];

	/* filed out of name order: UIDs follow the arrival */
	deliver(inbox, 1700000003, "0000000000C00003", "three");
	deliver(inbox, 1700000001, "0000000000A00001", "one");
	deliver(inbox, 1700000002, "0000000000B00002", "two");
	deliver(inbox, 1700000002, "0000000000B00001", "two-a");
	h = open_box(a, "inbox", &ev);
	assert_int_equal(store_mailbox_count(h), 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(uid_at(h, i), i + 1);
	m = lookup(h, 1);
	assert_memory_equal(m.name, "1700000001.Q0000000000A00001", 28);
	m = lookup(h, 2);
	assert_memory_equal(m.name, "1700000002.Q0000000000B00001", 28);
	assert_int_equal(m.vsize, m.size + 5);	/* five lines */
	assert_non_null(strstr(m.name, ",U=2:2,"));
	snprintf(path, sizeof(path), "%s/new", inbox);
	assert_int_equal(count_files(path), 0);
	snprintf(path, sizeof(path), "%s/cur/%s", inbox, m.name);
	assert_int_equal(access(path, F_OK), 0);

	store_mailbox_status(h, &s);
	assert_int_equal(s.messages, 4);
	assert_int_equal(s.unseen, 4);
	assert_int_equal(s.first_unseen, 1);
	assert_int_equal(s.recent, 4);
	assert_int_equal(s.uidnext, 5);
	assert_int_equal(store_mailbox_claim_recent(h), 1);
	assert_int_equal(store_mailbox_first_recent(h), 5);
	assert_int_equal(ev.exists, 0);	/* the opening sync is nobody's news */

	/* new mail for an open INBOX: the server's notification */
	deliver(inbox, 1700000010, "0000000000D00001", "four");
	store_notify_delivery(st, "ALICE@example.org");
	assert_int_equal(ev.exists, 1);
	assert_int_equal(ev.uids[0], 5);
	assert_int_equal(store_mailbox_count(h), 5);
	store_mailbox_status(h, &s);
	assert_int_equal(s.recent, 1);
	/* nobody has bob's INBOX open: nothing to do */
	store_notify_delivery(st, "bob@example.org");
	store_mailbox_close(&h);
	store_account_unref(&a);

	/* \Recent survives restarts for messages nobody claimed */
	restart();
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_first_recent(h), 5);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void test_flags_persist(void **state)
{
	struct store_account *a = open_account();
	struct store_flag_result res[3];
	struct store_mailbox *h;
	struct store_error err;
	uint64_t modseq, highest;
	uint32_t uids[3] = { 1, 2, 3 };
	struct store_status s;
	unsigned kw;

	for (int i = 0; i < 3; i++) {
		char id[32];
		snprintf(id, sizeof(id), "00000000000%05d", i);
		deliver(inbox, 1700000000 + (unsigned long)i, id, "x");
	}
	h = open_box(a, "INBOX", NULL);
	modseq = lookup(h, 1).modseq;
	assert_int_equal(store_mailbox_set_flags(h, uids, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, res, &err), 1);
	assert_int_equal(res[0].status, STORE_FLAG_CHANGED);
	assert_true(lookup(h, 1).modseq > modseq);
	assert_int_equal(res[0].modseq, lookup(h, 1).modseq);
	assert_int_equal(store_mailbox_set_flags(h, uids + 1, 1, STORE_FLAGS_REPLACE,
						 STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED, 0, 0,
						 res, &err), 1);
	assert_int_equal(store_mailbox_keyword(h, "$Forwarded", true, &kw, &err), 1);
	assert_int_equal(kw, 0);
	assert_int_equal(store_mailbox_keyword(h, "$forwarded", false, &kw, &err), 1);
	assert_int_equal(store_mailbox_keyword(h, "bad keyword", true, &kw, &err), -1);
	assert_int_equal(store_mailbox_set_flags(h, uids + 2, 1, STORE_FLAGS_ADD, 0, 1u << kw,
						 0, res, &err), 1);
	/* already so: unchanged, no new modseq */
	modseq = lookup(h, 1).modseq;
	assert_int_equal(store_mailbox_set_flags(h, uids, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, res, &err), 1);
	assert_int_equal(res[0].status, STORE_FLAG_UNCHANGED);
	assert_int_equal(res[0].modseq, modseq);
	assert_int_equal(lookup(h, 1).modseq, modseq);
	/* CONDSTORE: UNCHANGEDSINCE older than the message's modseq */
	assert_int_equal(store_mailbox_set_flags(h, uids, 3, STORE_FLAGS_ADD, STORE_FLAG_DRAFT,
						 0, modseq - 1, res, &err), 1);
	assert_int_equal(res[0].status, STORE_FLAG_MODIFIED);
	assert_int_equal(res[1].status, STORE_FLAG_MODIFIED);
	assert_int_equal(res[2].status, STORE_FLAG_MODIFIED);
	assert_non_null(strstr(lookup(h, 2).name, ":2,FR"));
	assert_non_null(strstr(lookup(h, 3).name, ":2,a"));
	store_mailbox_status(h, &s);
	highest = s.highestmodseq;
	store_mailbox_close(&h);
	store_account_unref(&a);

	restart();
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(lookup(h, 1).flags, STORE_FLAG_SEEN);
	assert_int_equal(lookup(h, 1).modseq, modseq);
	assert_int_equal(lookup(h, 2).flags, STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED);
	assert_int_equal(lookup(h, 3).keywords, 1);
	assert_string_equal(store_mailbox_keyword_name(h, 0), "$Forwarded");
	assert_int_equal(store_mailbox_keyword_count(h), 1);
	store_mailbox_status(h, &s);
	assert_int_equal(s.highestmodseq, highest);
	assert_int_equal(s.unseen, 2);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void remove_index(const char *dir)
{
	static const char *files[] = { "correio-index", "correio-index.log", "correio-cache" };
	char path[256];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
}

static void test_rebuild_index(void **state)
{
	struct store_account *a = open_account();
	uint32_t uids[2] = { 2, 4 }, uidv;
	struct store_mailbox *h;
	struct store_error err;
	struct store_status s1, s2;
	unsigned n = 1, kw;

	for (int i = 0; i < 4; i++) {
		char id[32];
		snprintf(id, sizeof(id), "00000000000%05d", i);
		deliver(inbox, 1700000000 + (unsigned long)i, id, "x");
	}
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_keyword(h, "Work", true, &kw, &err), 1);
	assert_int_equal(store_mailbox_set_flags(h, uids + 1, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_SEEN | STORE_FLAG_DELETED, 1u << kw,
						 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_expunge(h, uids, &n, &err), 1);
	assert_int_equal(n, 1);
	store_mailbox_close(&h);
	append(a, "INBOX", "Subject: appended\r\n\r\nhi\r\n", STORE_FLAG_FLAGGED, 0);
	h = open_box(a, "INBOX", NULL);
	store_mailbox_status(h, &s1);
	store_mailbox_close(&h);
	store_account_unref(&a);

	restart();
	remove_index(inbox);
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	store_mailbox_status(h, &s2);
	assert_int_equal(s2.uidvalidity, s1.uidvalidity);
	assert_int_equal(s2.messages, 4);
	assert_int_equal(s2.uidnext, s1.uidnext);
	assert_true(s2.highestmodseq >= s1.highestmodseq);
	assert_int_equal(uid_at(h, 0), 1);
	assert_int_equal(uid_at(h, 1), 3);
	assert_int_equal(uid_at(h, 2), 4);
	assert_int_equal(uid_at(h, 3), 5);
	assert_int_equal(lookup(h, 4).flags, STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	assert_int_equal(lookup(h, 4).keywords, 1u << kw);
	assert_int_equal(lookup(h, 5).flags, STORE_FLAG_FLAGGED);
	assert_true(s2.recent <= s1.recent);

	/* the top UID expunged, then the index lost: never given again */
	uids[0] = 5;
	n = 1;
	assert_int_equal(store_mailbox_expunge(h, uids, &n, &err), 1);
	store_mailbox_close(&h);
	store_account_unref(&a);
	restart();
	remove_index(inbox);
	a = open_account();
	assert_int_equal(store_folder_status(a, "INBOX", true, &s2, &err), 1);
	assert_int_equal(s2.uidnext, 6);
	uidv = s2.uidvalidity;
	assert_int_equal(uidv, s1.uidvalidity);
	store_account_unref(&a);
}

static void test_damaged_index(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_error err;
	struct store_status s1, s2;
	uint32_t uid = 2;
	char path[256];
	int fd;

	deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, NULL, &err), 1);
	store_mailbox_status(h, &s1);
	store_mailbox_close(&h);
	store_account_unref(&a);

	/* a torn log tail: the changes before it are kept */
	restart();
	snprintf(path, sizeof(path), "%s/correio-index.log", inbox);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x40\0\0\0garbage", 11), 11);
	close(fd);
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	store_mailbox_status(h, &s2);
	assert_int_equal(s2.messages, 2);
	assert_true(s2.highestmodseq >= s1.highestmodseq);
	assert_int_equal(lookup(h, 2).flags, STORE_FLAG_SEEN);
	store_mailbox_close(&h);
	store_account_unref(&a);

	/* a snapshot full of garbage: rebuilt from the Maildir */
	restart();
	snprintf(path, sizeof(path), "%s/correio-index", inbox);
	write_file(path, "this is not an index at all, not at all, not at all.......");
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	store_mailbox_status(h, &s2);
	assert_int_equal(s2.messages, 2);
	assert_int_equal(s2.uidvalidity, s1.uidvalidity);
	assert_true(s2.highestmodseq >= s1.highestmodseq);
	assert_int_equal(lookup(h, 1).flags, 0);
	assert_int_equal(lookup(h, 2).flags, STORE_FLAG_SEEN);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void test_external_changes(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct events ev = { 0 };
	struct store_error err;
	char path[512], to[520];
	struct store_msg m;
	int fd;

	deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	deliver(inbox, 1700000003, "0000000000000003", "c");
	h = open_box(a, "INBOX", &ev);

	/* another program: removes 2, flags 3, adds a file to cur/ */
	file_of(h, inbox, 2, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	file_of(h, inbox, 3, path, sizeof(path));
	snprintf(to, sizeof(to), "%sFS", path);
	assert_int_equal(rename(path, to), 0);
	snprintf(path, sizeof(path), "%s/cur/1800000000.M1P1.other:2,S", inbox);
	write_file(path, "Subject: from elsewhere\n\nhi\n");
	/* a symlink dropped in new/ is left alone, and breaks nothing */
	snprintf(path, sizeof(path), "%s/new/1800000001.M2P2.link", inbox);
	assert_int_equal(symlink("/etc/passwd", path), 0);

	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(ev.expunge, 1);
	assert_int_equal(ev.flags, 1);
	assert_int_equal(ev.exists, 1);
	assert_int_equal(store_mailbox_count(h), 3);
	assert_int_equal(store_mailbox_lookup(h, 2, &m), 0);
	assert_int_equal(lookup(h, 3).flags, STORE_FLAG_FLAGGED | STORE_FLAG_SEEN);
	m = lookup(h, 4);
	assert_int_equal(m.flags, STORE_FLAG_SEEN);
	assert_int_equal(m.vsize, m.size + 3);
	/* a file found in cur/ keeps its name */
	assert_string_equal(m.name, "1800000000.M1P1.other:2,S");

	/* a renamed file is found again when it is opened */
	file_of(h, inbox, 1, path, sizeof(path));
	snprintf(to, sizeof(to), "%sT", path);
	assert_int_equal(rename(path, to), 0);
	assert_int_equal(store_mailbox_open_msg(h, 1, &fd, &m, &err), 1);
	close(fd);
	assert_int_equal(m.flags, STORE_FLAG_DELETED);
	/* and a removed one is gone */
	file_of(h, inbox, 3, path, sizeof(path));
	unlink(path);
	assert_int_equal(store_mailbox_open_msg(h, 3, &fd, &m, &err), 0);
	assert_int_equal(store_mailbox_count(h), 2);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* cur/'s mtime set to t, nanoseconds included (utimensat). */
static void set_cur_mtime(const struct timespec *t)
{
	char path[256];
	struct timespec times[2] = { *t, *t };

	snprintf(path, sizeof(path), "%s/cur", inbox);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* A folder opened again (here by a new store, as after a restart) does
   not read cur/ when the index log vouches for cur/'s present mtime: the
   cost of opening then does not grow with the folder.  A moved mtime is
   still noticed. */
static void test_reopen_skips_cur(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct timespec old = { time(NULL) - 60, 123456789 }, other = { time(NULL) - 30, 5 };
	char path[256];

	deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	deliver(inbox, 1700000003, "0000000000000003", "c");
	h = open_box(a, "INBOX", NULL);	/* new/ -> cur/: cur/ just changed */
	store_mailbox_close(&h);
	store_account_unref(&a);
	set_cur_mtime(&old);		/* old enough to be trusted */
	restart();
	a = open_account();
	h = open_box(a, "INBOX", NULL);	/* reads cur/ and says so in the log */
	assert_int_equal(store_mailbox_count(h), 3);
	store_mailbox_close(&h);
	store_account_unref(&a);

	/* a file slipped into cur/ behind the mtime's back is not looked for */
	snprintf(path, sizeof(path), "%s/cur/1800000000.M1P1.other:2,S", inbox);
	write_file(path, "Subject: from elsewhere\n\nhi\n");
	set_cur_mtime(&old);
	restart();
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_count(h), 3);
	store_mailbox_close(&h);
	store_account_unref(&a);

	/* once the mtime moved, cur/ is read again */
	set_cur_mtime(&other);
	restart();
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_count(h), 4);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* Files another program left in cur/ are indexed under the names they
   have (no rename each), found again by their base at every later scan
   and after a restart, and renamed only when their flags change. */
static void test_cur_names_kept(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct events ev = { 0 };
	struct store_error err;
	char path[512], to[600];
	const char *text = "Subject: kept\n\nhello\n";
	struct store_msg m;
	int fd;

	deliver(inbox, 1700000001, "0000000000000001", "a");	/* new/: named */
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/cur/17000000%02u.L%u.other,S=%zu:2,%s", inbox,
			 10 + i, i, strlen(text), i == 1 ? "" : "S");
		write_file(path, text);
	}
	h = open_box(a, "INBOX", &ev);
	assert_int_equal(store_mailbox_count(h), 4);
	assert_non_null(strstr(lookup(h, 1).name, ",U=1:2,"));
	m = lookup(h, 2);
	assert_string_equal(m.name, "1700000010.L0.other,S=21:2,S");
	assert_int_equal(m.flags, STORE_FLAG_SEEN);
	assert_int_equal(m.size, 21);
	assert_int_equal(m.vsize, 24);
	assert_string_equal(lookup(h, 3).name, "1700000011.L1.other,S=21:2,");
	snprintf(path, sizeof(path), "%s/cur/1700000011.L1.other,S=21:2,", inbox);
	assert_int_equal(access(path, F_OK), 0);

	/* a later scan (another program flags one) finds each by its base */
	snprintf(path, sizeof(path), "%s/cur/1700000012.L2.other,S=21:2,S", inbox);
	snprintf(to, sizeof(to), "%s/cur/1700000012.L2.other,S=21:2,FS", inbox);
	assert_int_equal(rename(path, to), 0);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 4);
	assert_int_equal(ev.exists, 0);
	assert_int_equal(ev.expunge, 0);
	assert_int_equal(lookup(h, 4).flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_int_equal(store_mailbox_open_msg(h, 4, &fd, &m, &err), 1);
	close(fd);

	/* our own flag change gives it the full name */
	uint32_t uid = 3;
	assert_int_equal(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, NULL, &err), 1);
	assert_non_null(strstr(lookup(h, 3).name, "1700000011.L1.other,S=21,W=24,U=3:2,S"));
	store_mailbox_close(&h);
	store_account_unref(&a);

	/* after a restart (the index loaded, cur/ read again) the same UIDs */
	set_cur_mtime(&(struct timespec){ time(NULL) - 30, 7 });
	restart();
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_count(h), 4);
	assert_string_equal(lookup(h, 2).name, "1700000010.L0.other,S=21:2,S");
	assert_int_equal(lookup(h, 4).flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	store_mailbox_status(h, &(struct store_status){ 0 });
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void test_append(void **state)
{
	/* CRLF split across chunks, a bare CR kept, no final newline */
	static const char *chunks[] = { "Subject: hi\r", "\n\r\nline one\r\nlone \r cr\r",
					"\n", "end" };
	const char *want = "Subject: hi\n\nline one\nlone \r cr\nend";
	const char *kws[] = { "Work", "$Important" };
	struct store_account *a = open_account();
	struct store_append *ap;
	struct store_mailbox *h;
	struct store_error err;
	uint32_t uid, uidv;
	struct store_msg m;
	char data[256];
	ssize_t n;
	int fd;

	assert_int_equal(store_append_begin(a, "Drafts", &ap, &err), 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(store_append_write(ap, chunks[i], strlen(chunks[i]), &err), 1);
	assert_int_equal(store_append_finish(&ap, STORE_FLAG_SEEN | STORE_FLAG_DRAFT, kws, 2,
					     1600000000, &uid, &uidv, &err), 1);
	assert_int_equal(uid, 1);
	h = open_box(a, "Drafts", NULL);
	m = lookup(h, 1);
	assert_int_equal(m.internal_date, 1600000000);
	assert_int_equal(m.flags, STORE_FLAG_SEEN | STORE_FLAG_DRAFT);
	assert_int_equal(m.keywords, 3);
	assert_int_equal(m.size, strlen(want));
	assert_int_equal(m.vsize, strlen(want) + 4);
	assert_int_equal(store_mailbox_open_msg(h, 1, &fd, &m, &err), 1);
	n = read(fd, data, sizeof(data));
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(data, want, strlen(want));
	assert_non_null(strstr(m.name, ":2,DSab"));

	/* the next one gets the next UID; an open handle hears of it */
	assert_int_equal(append(a, "Drafts", "x\r\n", 0, 0), 2);
	assert_int_equal(store_mailbox_count(h), 2);
	assert_true(lookup(h, 2).internal_date > 1600000000);

	assert_int_equal(store_append_begin(a, "Nowhere", &ap, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_NOT_FOUND);
	assert_int_equal(store_append_begin(a, "Drafts", &ap, &err), 1);
	store_append_abort(&ap);
	assert_null(ap);
	snprintf(data, sizeof(data), "%s/.Drafts/tmp", inbox);
	assert_int_equal(count_files(data), 0);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void test_copy_move(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h, *other, *arch;
	struct events ev = { 0 }, ev_arch = { 0 };
	uint32_t uids[3] = { 1, 2, 77 }, out[3], uidv;
	struct store_error err;
	struct store_status s;
	struct buf cache;
	unsigned kw;

	deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	deliver(inbox, 1700000003, "0000000000000003", "c");
	h = open_box(a, "INBOX", NULL);
	other = open_box(a, "INBOX", &ev);
	arch = open_box(a, "Archive", &ev_arch);
	assert_int_equal(store_mailbox_keyword(h, "Later", true, &kw, &err), 1);
	assert_int_equal(store_mailbox_set_flags(h, uids, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED,
						 1u << kw, 0, NULL, &err), 1);
	assert_int_equal(store_mailbox_cache_set(h, 1, 3, "(envelope)", 10, &err), 1);

	assert_int_equal(store_copy(h, uids, 3, "Archive", false, out, &uidv, &err), 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 0);
	store_mailbox_status(arch, &s);
	assert_int_equal(uidv, s.uidvalidity);
	assert_int_equal(s.messages, 2);
	assert_int_equal(ev_arch.exists, 2);
	assert_int_equal(lookup(arch, 1).flags, STORE_FLAG_FLAGGED);
	assert_string_equal(store_mailbox_keyword_name(arch, lookup(arch, 1).keywords == 1 ? 0 : 9),
			    "Later");
	assert_int_equal(lookup(arch, 1).internal_date, lookup(h, 1).internal_date);
	buf_init(&cache, 0);
	assert_int_equal(store_mailbox_cache_get(arch, 1, 3, &cache), 1);
	assert_string_equal(buf_cstr(&cache), "(envelope)");
	assert_int_equal(store_mailbox_count(h), 3);

	/* move: gone from INBOX (the other handle hears), new UID in Trash */
	uids[0] = 3;
	assert_int_equal(store_copy(h, uids, 1, "Trash", true, out, &uidv, &err), 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(store_mailbox_count(h), 2);
	assert_int_equal(ev.expunge, 1);
	assert_int_equal(store_folder_status(a, "Trash", true, &s, &err), 1);
	assert_int_equal(s.messages, 1);
	/* into the same folder: a new UID */
	uids[0] = 2;
	assert_int_equal(store_copy(h, uids, 1, "INBOX", false, out, &uidv, &err), 1);
	assert_int_equal(out[0], 4);
	assert_int_equal(store_mailbox_count(h), 3);
	assert_int_equal(ev.exists, 1);
	assert_int_equal(store_copy(h, uids, 1, "Nowhere", false, out, &uidv, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_NOT_FOUND);
	buf_deinit(&cache);
	store_mailbox_close(&arch);
	store_mailbox_close(&other);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void test_expunge(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h, *other;
	struct events ev = { 0 }, mine = { 0 };
	uint32_t uids[3] = { 3, 2, 99 };
	struct store_error err;
	char path[256];
	unsigned n = 3;

	deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	deliver(inbox, 1700000003, "0000000000000003", "c");
	h = open_box(a, "INBOX", &mine);
	other = open_box(a, "INBOX", &ev);
	file_of(h, inbox, 2, path, sizeof(path));
	assert_int_equal(store_mailbox_expunge(h, uids, &n, &err), 1);
	assert_int_equal(n, 2);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 3);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(store_mailbox_count(other), 1);
	assert_int_equal(ev.expunge, 2);
	assert_int_equal(mine.expunge, 0);
	snprintf(path, sizeof(path), "%s/cur", inbox);
	assert_int_equal(count_files(path), 1);
	store_mailbox_close(&other);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* ---- folder operations ---- */

static void test_rename(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h, *in;
	struct events ev = { 0 };
	struct store_error err;
	struct store_status s;
	char path[256];

	assert_int_equal(store_folder_create(a, "Projects/2024", 0, &err), 1);
	assert_int_equal(attrs_of(a, "Projects"), STORE_FOLDER_HASCHILDREN);
	h = open_box(a, "Projects/2024", NULL);
	assert_int_equal(store_folder_rename(a, "Projects", "Work/Old", &err), 1);
	assert_string_equal(store_mailbox_name(h), "Work/Old/2024");
	assert_int_equal(attrs_of(a, "Projects"), 0xdead);
	assert_int_equal(attrs_of(a, "Work"), STORE_FOLDER_HASCHILDREN);
	assert_int_equal(attrs_of(a, "Work/Old/2024"), STORE_FOLDER_HASNOCHILDREN);
	snprintf(path, sizeof(path), "%s/.Work.Old.2024/cur", inbox);
	assert_int_equal(access(path, F_OK), 0);
	/* the handle follows: append there and see it */
	append(a, "Work/Old/2024", "x\n", 0, 0);
	assert_int_equal(store_mailbox_count(h), 1);
	store_mailbox_close(&h);

	assert_int_equal(store_folder_rename(a, "Work", "Sent", &err), -1);
	assert_int_equal(err.code, STORE_ERROR_EXISTS);
	assert_int_equal(store_folder_rename(a, "Work", "Work/Sub", &err), -1);
	assert_int_equal(err.code, STORE_ERROR_BAD_PARAM);
	assert_int_equal(store_folder_rename(a, "Nothing", "Else", &err), -1);
	assert_int_equal(err.code, STORE_ERROR_NOT_FOUND);

	/* RENAME INBOX: the messages move, INBOX stays and is empty */
	deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	in = open_box(a, "INBOX", &ev);
	assert_int_equal(store_folder_create(a, "INBOX/Child", 0, &err), 1);
	assert_int_equal(store_folder_rename(a, "INBOX", "Old Mail", &err), 1);
	assert_int_equal(store_mailbox_count(in), 0);
	assert_int_equal(ev.expunge, 2);
	assert_int_equal(store_folder_status(a, "Old Mail", true, &s, &err), 1);
	assert_int_equal(s.messages, 2);
	assert_int_equal(s.uidnext, 3);
	assert_int_equal(attrs_of(a, "INBOX/Child"), STORE_FOLDER_HASNOCHILDREN);
	assert_int_equal(attrs_of(a, "INBOX"), STORE_FOLDER_SUBSCRIBED | STORE_FOLDER_HASCHILDREN);
	assert_int_equal(store_folder_rename(a, "Old Mail", "inbox", &err), -1);
	assert_int_equal(err.code, STORE_ERROR_EXISTS);
	store_mailbox_close(&in);
	store_account_unref(&a);
}

static void test_delete_folder(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h, *b;
	struct events ev = { 0 };
	struct store_error err;
	char path[256];

	assert_int_equal(store_folder_create(a, "A/B", 0, &err), 1);
	assert_int_equal(store_folder_create(a, "A/B", 0, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_EXISTS);
	append(a, "A", "x\n", 0, 0);
	h = open_box(a, "A", &ev);
	assert_int_equal(store_folder_delete(a, "A", &err), 1);
	assert_int_equal(ev.gone, 1);
	assert_int_equal(store_mailbox_sync(h, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_NOT_FOUND);
	assert_int_equal(attrs_of(a, "A"), STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT |
			 STORE_FOLDER_HASCHILDREN);
	assert_int_equal(store_mailbox_open(a, "A", NULL, NULL, &b, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_NOT_FOUND);
	assert_int_equal(store_folder_delete(a, "A", &err), -1);
	assert_int_equal(err.code, STORE_ERROR_BAD_PARAM);
	assert_int_equal(store_folder_delete(a, "A/B", &err), 1);
	assert_int_equal(attrs_of(a, "A"), 0xdead);
	assert_int_equal(store_folder_delete(a, "INBOX", &err), -1);
	assert_int_equal(err.code, STORE_ERROR_BAD_PARAM);
	assert_int_equal(store_folder_delete(a, "Nope", &err), -1);
	assert_int_equal(err.code, STORE_ERROR_NOT_FOUND);
	/* created again: an empty folder */
	assert_int_equal(store_folder_create(a, "A", 0, &err), 1);
	b = open_box(a, "A", NULL);
	assert_int_equal(store_mailbox_count(b), 0);
	store_mailbox_close(&b);
	store_mailbox_close(&h);
	snprintf(path, sizeof(path), "%s", inbox);
	assert_int_equal(count_files(path) >= 4, 1);
	store_account_unref(&a);
}

static void test_unicode_names(void **state)
{
	static const char *names[] = { "Café/日本語", "a.b", "100% sure", "Ünïcødé ✉" };
	struct store_account *a = open_account();
	struct store_error err;
	struct store_status s;
	char path[512];

	for (int i = 0; i < 4; i++) {
		assert_int_equal(store_folder_create(a, names[i], 0, &err), 1);
		append(a, names[i], "Subject: x\n\nx\n", 0, 0);
	}
	snprintf(path, sizeof(path), "%s/.Café.日本語/cur", inbox);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/.a%%2Eb/cur", inbox);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/.100%%25 sure/cur", inbox);
	assert_int_equal(access(path, F_OK), 0);
	store_account_unref(&a);
	restart();
	a = open_account();
	for (int i = 0; i < 4; i++) {
		assert_int_equal(attrs_of(a, names[i]), STORE_FOLDER_HASNOCHILDREN);
		assert_int_equal(store_folder_status(a, names[i], true, &s, &err), 1);
		assert_int_equal(s.messages, 1);
	}
	assert_int_equal(attrs_of(a, "Café"), STORE_FOLDER_HASCHILDREN);
	assert_int_equal(store_folder_create(a, "bad\xff", 0, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_BAD_PARAM);
	store_account_unref(&a);
}

static void test_subscriptions(void **state)
{
	struct store_account *a = open_account();
	struct store_error err;

	assert_int_equal(store_folder_subscribe(a, "Junk", false, &err), 1);
	assert_int_equal(attrs_of(a, "Junk"), STORE_FOLDER_JUNK | STORE_FOLDER_HASNOCHILDREN);
	assert_int_equal(store_folder_subscribe(a, "Junk", false, &err), 1);
	assert_int_equal(store_folder_subscribe(a, "Later/Maybe", true, &err), 1);
	assert_int_equal(store_folder_subscribe(a, "Later/Maybe", true, &err), 1);
	assert_int_equal(attrs_of(a, "Later/Maybe"), STORE_FOLDER_SUBSCRIBED |
			 STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT);
	assert_int_equal(attrs_of(a, "Later"), 0xdead);
	assert_int_equal(store_folder_subscribe(a, "Junk", true, &err), 1);
	assert_int_equal(attrs_of(a, "Junk"), STORE_FOLDER_JUNK | STORE_FOLDER_SUBSCRIBED |
			 STORE_FOLDER_HASNOCHILDREN);
	store_account_unref(&a);
}

/* ---- sessions ---- */

static void test_listeners(void **state)
{
	struct store_account *a = open_account();
	struct events ev1 = { 0 }, ev2 = { 0 };
	struct store_mailbox *h1, *h2;
	struct store_error err;
	uint32_t uid = 1;
	unsigned n = 1, kw;

	deliver(inbox, 1700000001, "0000000000000001", "a");
	h1 = open_box(a, "INBOX", &ev1);
	h2 = open_box(a, "INBOX", &ev2);
	assert_int_equal(store_mailbox_set_flags(h1, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, NULL, &err), 1);
	assert_int_equal(ev2.flags, 1);
	assert_int_equal(ev2.uids[0], 1);
	assert_int_equal(ev1.flags, 0);
	assert_int_equal(lookup(h2, 1).flags, STORE_FLAG_SEEN);
	assert_int_equal(store_mailbox_keyword(h1, "Todo", true, &kw, &err), 1);
	assert_int_equal(ev2.keywords, 1);
	assert_int_equal(ev1.keywords, 0);
	/* an append reaches both (the appender may have it selected) */
	append(a, "INBOX", "x\n", 0, 0);
	assert_int_equal(ev1.exists, 1);
	assert_int_equal(ev2.exists, 1);
	assert_int_equal(store_mailbox_expunge(h2, &uid, &n, &err), 1);
	assert_int_equal(ev1.expunge, 1);
	assert_int_equal(ev2.expunge, 0);
	/* a delivery reaches both */
	deliver(inbox, 1700000005, "0000000000000005", "e");
	store_notify_delivery(st, ADDR);
	assert_int_equal(ev1.exists, 2);
	assert_int_equal(ev2.exists, 2);
	/* \Recent goes to one session only */
	assert_int_equal(store_mailbox_claim_recent(h1), 1);
	assert_int_equal(store_mailbox_claim_recent(h2), 4);
	store_mailbox_close(&h1);
	store_mailbox_close(&h2);
	store_account_unref(&a);
}

/* A listener that tries to change the mailbox from inside the call. */
static void meddler(void *ctx, struct store_mailbox *h, const struct store_change *c)
{
	struct store_error err;
	uint32_t uid = 1;
	int *refused = ctx;

	if (store_mailbox_sync(h, &err) < 0 && err.code == STORE_ERROR_IN_USE)
		(*refused)++;
	if (store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, 0, 0,
				    NULL, &err) < 0 && err.code == STORE_ERROR_IN_USE)
		(*refused)++;
}

static void test_listener_reentry(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h1, *h2;
	struct store_error err;
	uint32_t uid = 1;
	int refused = 0;

	deliver(inbox, 1700000001, "0000000000000001", "a");
	h1 = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_open(a, "INBOX", meddler, &refused, &h2, &err), 1);
	assert_int_equal(store_mailbox_set_flags(h1, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
						 0, 0, NULL, &err), 1);
	assert_int_equal(refused, 2);
	assert_int_equal(lookup(h1, 1).flags, STORE_FLAG_SEEN);
	store_mailbox_close(&h2);
	store_mailbox_close(&h1);
	store_account_unref(&a);
}

static void test_uidvalidity(void **state)
{
	struct store_account *a = open_account();
	struct store_error err;
	struct store_status s;
	uint32_t first;

	assert_int_equal(store_folder_status(a, "Sent", true, &s, &err), 1);
	first = s.uidvalidity;
	assert_true(first > 0);
	store_account_unref(&a);
	restart();
	a = open_account();
	assert_int_equal(store_folder_status(a, "Sent", true, &s, &err), 1);
	assert_int_equal(s.uidvalidity, first);
	assert_int_equal(store_folder_delete(a, "Sent", &err), 1);
	assert_int_equal(store_folder_create(a, "Sent", STORE_FOLDER_SENT, &err), 1);
	assert_int_equal(store_folder_status(a, "Sent", true, &s, &err), 1);
	assert_true(s.uidvalidity > first);
	assert_int_equal(attrs_of(a, "Sent"), STORE_FOLDER_SENT | STORE_FOLDER_SUBSCRIBED |
			 STORE_FOLDER_HASNOCHILDREN);
	assert_int_equal(store_folder_status(a, "Nope", true, &s, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_NOT_FOUND);
	store_account_unref(&a);
}

static void test_cache(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_error err;
	struct buf out;
	uint32_t uid = 1;
	unsigned n = 1;

	deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	buf_init(&out, 0);
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_cache_get(h, 1, 0, &out), 0);
	assert_int_equal(store_mailbox_cache_set(h, 1, 0, "ENV", 3, &err), 1);
	assert_int_equal(store_mailbox_cache_set(h, 1, 1, "BODY", 4, &err), 1);
	assert_int_equal(store_mailbox_cache_set(h, 1, 0, "ENVELOPE", 8, &err), 1);
	assert_int_equal(store_mailbox_cache_set(h, 2, 1, "", 0, &err), 1);
	assert_int_equal(store_mailbox_cache_set(h, 9, 1, "x", 1, &err), 0);
	store_mailbox_close(&h);
	store_account_unref(&a);
	restart();
	a = open_account();
	h = open_box(a, "INBOX", NULL);
	assert_int_equal(store_mailbox_cache_get(h, 1, 0, &out), 1);
	assert_string_equal(buf_cstr(&out), "ENVELOPE");
	assert_int_equal(store_mailbox_cache_get(h, 1, 1, &out), 1);
	assert_string_equal(buf_cstr(&out), "BODY");
	assert_int_equal(store_mailbox_cache_get(h, 2, 1, &out), 1);
	assert_int_equal(out.len, 0);
	assert_int_equal(store_mailbox_cache_get(h, 2, 0, &out), 0);
	assert_int_equal(store_mailbox_expunge(h, &uid, &n, &err), 1);
	assert_int_equal(store_mailbox_cache_get(h, 1, 0, &out), 0);
	buf_deinit(&out);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void test_pop3(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *pop, *imap;
	struct store_snapshot *snap;
	uint32_t uids[2] = { 2, 1 };
	struct store_error err;
	struct store_msg m;
	char uidl[24], again[24], base[128];
	unsigned n = 1;
	size_t size;
	int fd;

	size = deliver(inbox, 1700000001, "0000000000000001", "a");
	deliver(inbox, 1700000002, "0000000000000002", "b");
	pop = open_box(a, "INBOX", NULL);
	imap = open_box(a, "INBOX", NULL);
	snap = store_snapshot_new(pop);
	assert_int_equal(snap->count, 2);
	assert_int_equal(snap->msgs[1].uid, 2);
	snprintf(base, sizeof(base), "1700000001.Q0000000000000001.mx.example.org,S=%zu,W=%zu,U=1",
		 size, size + 5);
	assert_string_equal(snap->msgs[0].base, base);
	assert_int_equal(snap->msgs[0].vsize, size + 5);
	assert_int_equal(snap->total_vsize, snap->msgs[0].vsize + snap->msgs[1].vsize);
	store_uidl(snap->uidvalidity, snap->msgs[0].uid, uidl, sizeof(uidl));
	/* IMAP expunges one while POP3 holds its list */
	assert_int_equal(store_mailbox_expunge(imap, uids, &n, &err), 1);
	assert_int_equal(store_mailbox_open_msg(pop, 2, &fd, &m, &err), 0);
	assert_int_equal(store_mailbox_open_msg(pop, 1, &fd, &m, &err), 1);
	close(fd);
	/* QUIT in UPDATE: delete both; the gone one is skipped */
	n = 2;
	assert_int_equal(store_mailbox_expunge(pop, uids, &n, &err), 1);
	assert_int_equal(n, 1);
	store_snapshot_free(&snap);
	assert_null(snap);
	store_mailbox_close(&imap);
	store_mailbox_close(&pop);

	/* the same UIDL in the next session */
	deliver(inbox, 1700000003, "0000000000000003", "c");
	pop = open_box(a, "INBOX", NULL);
	snap = store_snapshot_new(pop);
	assert_int_equal(snap->count, 1);
	store_uidl(snap->uidvalidity, snap->msgs[0].uid, again, sizeof(again));
	assert_string_not_equal(uidl, again);
	assert_int_equal(snap->msgs[0].uid, 3);
	store_snapshot_free(&snap);
	store_mailbox_close(&pop);
	store_account_unref(&a);
}

static void test_quota(void **state)
{
	struct store_account *a = open_account();
	struct store_append *ap;
	struct store_mailbox *h;
	struct store_error err;
	uint64_t used, msgs;
	uint32_t uid, uidv, out;
	char big[2000];
	size_t size;

	size = deliver(inbox, 1700000001, "0000000000000001", "a");
	assert_int_equal(store_account_usage(a, &used, &msgs, &err), 1);
	assert_int_equal(used, size);
	assert_int_equal(msgs, 1);
	store_account_set_quota(a, 1000);
	assert_int_equal(store_account_quota_check(a, 1000 - size, &err), 1);
	assert_int_equal(store_account_quota_check(a, 1001 - size, &err), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_append_begin(a, "INBOX", &ap, &err), 1);
	assert_int_equal(store_append_write(ap, big, strlen(big), &err), 1);
	assert_int_equal(store_append_finish(&ap, 0, NULL, 0, 0, &uid, &uidv, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_OVER_QUOTA);
	append(a, "Sent", "small\n", 0, 0);
	assert_int_equal(store_account_usage(a, &used, &msgs, &err), 1);
	assert_int_equal(used, size + 6);
	assert_int_equal(msgs, 2);
	/* copies count, moves do not */
	h = open_box(a, "INBOX", NULL);
	store_account_set_quota(a, 100);
	uid = 1;
	assert_int_equal(store_copy(h, &uid, 1, "Archive", false, &out, &uidv, &err), -1);
	assert_int_equal(err.code, STORE_ERROR_OVER_QUOTA);
	assert_int_equal(store_copy(h, &uid, 1, "Archive", true, &out, &uidv, &err), 1);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_without_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_uids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_skips_cur, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cur_names_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unicode_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listeners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_reentry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uidvalidity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pop3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
