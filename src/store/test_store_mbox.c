/*
 * test_store_mbox.c - the INBOX of an mbox account through the store:
 * messages appended by the store's delivery writer (store_mboxfile_deliver),
 * served unquoted with the right sizes, UIDs and flags across restarts,
 * expunge rewriting the file while a thread keeps delivering, another
 * program's rewrite, a lost index, and the parser fed whole and in parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "store/store_private.h"

#define ADDR "carol@example.org"

static char root[64];
static char mbox[256];		/* the account's mbox file */
static struct store *st;

static int setup(void **state)
{
	char dir[128];

	snprintf(root, sizeof(root), "/tmp/correio-test-mbox-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/mbox", root);
	snprintf(mbox, sizeof(mbox), "%s/%s", dir, ADDR);
	st = store_new(root, "test.example");
	return mkdir(dir, 0700);
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

static char *slurp(const char *path, size_t *len_r)
{
	struct stat sb;
	char *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	p = malloc((size_t)sb.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)sb.st_size), sb.st_size);
	p[sb.st_size] = '\0';
	close(fd);
	if (len_r != NULL)
		*len_r = (size_t)sb.st_size;
	return p;
}

/* Deliver text as the delivery agent does, with IMAP flags (NULL none). */
static void deliver_flags(const char *text, const char *flags, uint64_t arrival)
{
	char src[128];
	bool created;
	FILE *f;

	snprintf(src, sizeof(src), "%s/src.%lu", root, (unsigned long)pthread_self());
	f = fopen(src, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(store_mboxfile_deliver(mbox, "bob@example.net", (int64_t)arrival, src,
						flags, false, &created), 1);
	unlink(src);
}

static const char *const texts[];
static const char *const texts_flags[];

/* One of texts with its flags (the third is \Seen \Flagged, which
   delivery writes as Status: RO and X-Status: F), or another text. */
static void deliver(const char *text, uint64_t arrival)
{
	const char *flags = NULL;

	for (unsigned i = 0; i < 3; i++)
		if (text == texts[i])
			flags = texts_flags[i];
	deliver_flags(text, flags, arrival);
}

static struct store_account *open_account(void)
{
	struct store_account *a;
	struct store_error err;

	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	store_account_set_mbox(a, true);
	return a;
}

static struct store_mailbox *open_inbox(struct store_account *a)
{
	struct store_mailbox *h;
	struct store_error err = { 0 };

	if (store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err) != 1)
		fail_msg("open INBOX: %s", err.text);
	return h;
}

/* The served text of uid; NULL if it is gone. */
static char *text_of(struct store_mailbox *h, uint32_t uid, size_t *len_r)
{
	struct store_error err;
	struct store_msg m;
	char *p;
	int fd, ret = store_mailbox_open_msg(h, uid, &fd, &m, &err);

	assert_true(ret >= 0);
	if (ret == 0)
		return NULL;
	p = malloc(m.size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, m.size + 1), (ssize_t)m.size);
	p[m.size] = '\0';
	close(fd);
	if (len_r != NULL)
		*len_r = m.size;
	return p;
}

static const char *const texts[] = {
	"Subject: one\n\nFrom the start of a line\n>From quoted already\n",
	"Subject: two\n\nplain\n\n\n",
	"Subject: three\nStatus: RO\nX-Status: F\n\nFrom\n From\nlast",
};
static const char *const texts_flags[] = { NULL, NULL, "\\Seen \\Flagged" };

static uint32_t uid_at(struct store_mailbox *h, unsigned i)
{
	struct store_msg m;

	store_mailbox_get(h, i, &m);
	return m.uid;
}

/* Served as delivered (a missing final LF comes back added), with the
   sizes POP3 and IMAP announce; flags from Status:/X-Status:. */
static void test_read(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_msg m;
	char *t;

	for (unsigned i = 0; i < 3; i++)
		deliver(texts[i], 1700000000 + i);
	h = open_inbox(a);
	assert_int_equal(store_mailbox_count(h), 3);
	for (unsigned i = 0; i < 3; i++) {
		size_t len, lf = 0;
		store_mailbox_get(h, i, &m);
		assert_int_equal(m.uid, i + 1);
		assert_int_equal(m.internal_date, 1700000000 + i);
		t = text_of(h, m.uid, &len);
		assert_non_null(t);
		if (i == 2)
			assert_string_equal(t, "Subject: three\nStatus: RO\nX-Status: F\n\n"
					       "From\n From\nlast\n");
		else
			assert_string_equal(t, texts[i]);
		for (size_t k = 0; k < len; k++)
			lf += t[k] == '\n';
		assert_int_equal(m.size, len);
		assert_int_equal(m.vsize, len + lf);
		free(t);
	}
	store_mailbox_get(h, 2, &m);
	assert_int_equal(m.flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	/* a sender's Status: header does not flag new mail: delivery drops it */
	deliver_flags(texts[2], NULL, 1700000003);
	assert_int_equal(store_mailbox_sync(h, NULL), 1);
	assert_int_equal(store_mailbox_lookup(h, 4, &m), 1);
	assert_int_equal(m.flags, 0);
	t = text_of(h, 4, NULL);
	assert_string_equal(t, "Subject: three\n\nFrom\n From\nlast\n");
	free(t);
	/* the flags delivery gives (a Sieve script's), keywords too */
	deliver_flags("Subject: four\nX-Keywords: Forged\n\nbody\n", "$Label1 \\Answered Work",
		      1700000004);
	assert_int_equal(store_mailbox_sync(h, NULL), 1);
	assert_int_equal(store_mailbox_lookup(h, 5, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_ANSWERED);
	assert_int_equal(store_mailbox_keyword_count(h), 2);
	assert_string_equal(store_mailbox_keyword_name(h, 0), "$Label1");
	assert_string_equal(store_mailbox_keyword_name(h, 1), "Work");
	assert_int_equal(m.keywords, 3);
	t = text_of(h, 5, NULL);
	assert_string_equal(t, "Subject: four\nX-Status: A\nX-Keywords: $Label1 Work\n\nbody\n");
	free(t);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* UIDs, UIDVALIDITY and flags survive a restart; a delivery is seen at
   the next sync; mail in the Maildir INBOX of the account is not shown. */
static void test_persist(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_status s1, s2;
	struct store_error err;
	struct store_msg m;
	uint32_t uid = 2;

	deliver(texts[0], 1);
	deliver(texts[1], 2);
	h = open_inbox(a);
	store_mailbox_status(h, &s1);
	assert_int_equal(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_ANSWERED, 0, 0, NULL, &err), 1);
	deliver(texts[2], 3);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 3);
	store_mailbox_close(&h);
	store_account_unref(&a);

	restart();
	a = open_account();
	h = open_inbox(a);
	store_mailbox_status(h, &s2);
	assert_int_equal(s2.uidvalidity, s1.uidvalidity);
	assert_int_equal(s2.messages, 3);
	assert_int_equal(s2.uidnext, 4);
	assert_int_equal(store_mailbox_lookup(h, 2, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_ANSWERED);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* Expunge rewrites the file without those entries, byte for byte. */
static void test_expunge(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_error err;
	uint32_t uids[] = { 2 };
	unsigned n = 1;
	char *before, *after, *t;
	const char *two, *three;
	size_t len;

	for (unsigned i = 0; i < 3; i++)
		deliver(texts[i], 100 + i);
	before = slurp(mbox, &len);
	two = strstr(before, "From bob@example.net Thu Jan  1 00:01:41 1970");
	three = strstr(before, "From bob@example.net Thu Jan  1 00:01:42 1970");
	assert_non_null(two);
	assert_non_null(three);
	h = open_inbox(a);
	assert_int_equal(store_mailbox_expunge(h, uids, &n, &err), 1);
	assert_int_equal(n, 1);
	after = slurp(mbox, NULL);
	assert_int_equal(strlen(after), len - (size_t)(three - two));
	assert_memory_equal(after, before, (size_t)(two - before));
	assert_string_equal(after + (two - before), three);
	assert_int_equal(store_mailbox_count(h), 2);
	assert_int_equal(uid_at(h, 1), 3);
	t = text_of(h, 3, NULL);
	assert_string_equal(t, "Subject: three\nStatus: RO\nX-Status: F\n\nFrom\n From\nlast\n");
	free(t);
	/* the new offsets are in the index: after a restart too */
	store_mailbox_close(&h);
	store_account_unref(&a);
	restart();
	a = open_account();
	h = open_inbox(a);
	assert_int_equal(store_mailbox_count(h), 2);
	t = text_of(h, 1, NULL);
	assert_string_equal(t, texts[0]);
	free(t);
	free(before);
	free(after);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* Another program drops the first message (its own rewrite): the others
   keep their UIDs and flags. */
static void test_foreign_rewrite(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_error err;
	struct store_msg m;
	uint32_t uid = 3;
	char *text, *second;
	FILE *f;

	for (unsigned i = 0; i < 3; i++)
		deliver(texts[i], 200 + i);
	h = open_inbox(a);
	assert_int_equal(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_DELETED, 0, 0, NULL, &err), 1);
	text = slurp(mbox, NULL);
	second = strstr(text + 1, "\nFrom bob") + 1;
	f = fopen(mbox, "w");
	assert_non_null(f);
	fputs(second, f);
	assert_int_equal(fclose(f), 0);
	free(text);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 2);
	assert_int_equal(uid_at(h, 0), 2);
	assert_int_equal(store_mailbox_lookup(h, 3, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED | STORE_FLAG_DELETED);
	text = text_of(h, 2, NULL);
	assert_string_equal(text, texts[1]);
	free(text);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* A crash after the rewritten file was renamed but before the index was
   written: the old index names old offsets; the messages are found by
   their bytes and keep their UIDs and flags. */
static void test_stale_index_after_rewrite(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_error err;
	struct store_msg m;
	uint32_t uid = 3, gone = 1;
	unsigned n = 1;
	char cmd[600], *t;

	for (unsigned i = 0; i < 3; i++)
		deliver(texts[i], 600 + i);
	h = open_inbox(a);
	assert_int_equal(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD,
						 STORE_FLAG_ANSWERED, 0, 0, NULL, &err), 1);
	store_mailbox_close(&h);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/mail/example.org/carol/%s' '%s/saved'", root,
		 STORE_MBOX_INDEX_DIR, root);
	assert_int_equal(system(cmd), 0);
	h = open_inbox(a);
	assert_int_equal(store_mailbox_expunge(h, &gone, &n, &err), 1);
	store_mailbox_close(&h);
	store_account_unref(&a);
	restart();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/mail/example.org/carol/%s' && mv '%s/saved' "
		 "'%s/mail/example.org/carol/%s'", root, STORE_MBOX_INDEX_DIR, root, root,
		 STORE_MBOX_INDEX_DIR);
	assert_int_equal(system(cmd), 0);
	a = open_account();
	h = open_inbox(a);
	assert_int_equal(store_mailbox_count(h), 2);
	assert_int_equal(uid_at(h, 0), 2);
	assert_int_equal(store_mailbox_lookup(h, 3, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED);
	t = text_of(h, 2, NULL);
	assert_string_equal(t, texts[1]);
	free(t);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* Without its index the folder comes back with a higher UIDVALIDITY and
   UIDs in file order. */
static void test_index_lost(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_status s1, s2;
	struct store_error err;
	uint32_t uid = 1;
	unsigned n = 1;
	char cmd[300];

	for (unsigned i = 0; i < 3; i++)
		deliver(texts[i], 300 + i);
	h = open_inbox(a);
	assert_int_equal(store_mailbox_expunge(h, &uid, &n, &err), 1);
	store_mailbox_status(h, &s1);
	store_mailbox_close(&h);
	store_account_unref(&a);
	restart();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/mail/example.org/carol/%s'", root,
		 STORE_MBOX_INDEX_DIR);
	assert_int_equal(system(cmd), 0);
	a = open_account();
	h = open_inbox(a);
	store_mailbox_status(h, &s2);
	assert_true(s2.uidvalidity > s1.uidvalidity);
	assert_int_equal(s2.messages, 2);
	assert_int_equal(uid_at(h, 0), 1);
	assert_int_equal(uid_at(h, 1), 2);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* Copy and move out of the mbox into a Maildir folder, and back in; an
   APPEND with its flags and date. */
static void test_copy_out_and_in(void **state)
{
	static const char appended[] = "Subject: app\r\n\r\nFrom me\r\n>From you\r\nend";
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_append *ap;
	struct store_error err;
	struct store_msg m;
	uint32_t uids[] = { 1 }, new_uids[1], uidv, uid;
	char *t;

	deliver(texts[0], 400);
	deliver(texts[1], 401);
	assert_int_equal(store_folder_create(a, "Trash", 0, &err), 1);
	h = open_inbox(a);
	assert_int_equal(store_copy(h, uids, 1, "Trash", true, new_uids, &uidv, &err), 1);
	assert_int_equal(new_uids[0], 1);
	assert_int_equal(store_mailbox_count(h), 1);
	t = slurp(mbox, NULL);
	assert_null(strstr(t, "Subject: one"));
	free(t);
	store_mailbox_close(&h);
	assert_int_equal(store_mailbox_open(a, "Trash", NULL, NULL, &h, &err), 1);
	t = text_of(h, 1, NULL);
	assert_string_equal(t, texts[0]);
	free(t);
	/* back into the mbox, where a delivery came meanwhile */
	deliver(texts[2], 402);
	uids[0] = 1;
	assert_int_equal(store_copy(h, uids, 1, "INBOX", true, new_uids, &uidv, &err), 1);
	assert_int_equal(new_uids[0], 4);
	assert_int_equal(store_mailbox_count(h), 0);
	store_mailbox_close(&h);
	h = open_inbox(a);
	assert_int_equal(store_mailbox_count(h), 3);
	assert_int_equal(uid_at(h, 1), 3);
	t = text_of(h, 4, NULL);
	assert_string_equal(t, texts[0]);
	free(t);
	/* APPEND */
	assert_int_equal(store_append_begin(a, "INBOX", &ap, &err), 1);
	assert_int_equal(store_append_write(ap, appended, sizeof(appended) - 1, &err), 1);
	assert_int_equal(store_append_finish(&ap, STORE_FLAG_SEEN, NULL, 0, 1234567, &uid,
					     &uidv, &err), 1);
	assert_int_equal(uid, 5);
	assert_int_equal(store_mailbox_lookup(h, 5, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_SEEN);
	assert_int_equal(m.internal_date, 1234567);
	t = text_of(h, 5, NULL);
	assert_string_equal(t, "Subject: app\n\nFrom me\n>From you\nend\n");
	free(t);
	t = slurp(mbox, NULL);
	assert_non_null(strstr(t, "\n\nFrom MAILER-DAEMON Thu Jan 15 06:56:07 1970\n"
				  "Subject: app\n\n>From me\n>>From you\nend\n\n"));
	free(t);
	store_mailbox_close(&h);
	/* what the index says survives a restart */
	store_account_unref(&a);
	restart();
	a = open_account();
	h = open_inbox(a);
	assert_int_equal(store_mailbox_count(h), 4);
	assert_int_equal(store_mailbox_lookup(h, 5, &m), 1);
	assert_int_equal(m.flags, STORE_FLAG_SEEN);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

static void *deliver_many(void *arg)
{
	char text[128];

	for (unsigned i = 0; i < 60; i++) {
		snprintf(text, sizeof(text), "Subject: keep %u\n\nbody\n", i);
		deliver(text, 1000 + i);
	}
	return arg;
}

/* Expunges rewrite the file while a thread delivers: no message is lost
   and only the expunged ones go. */
static void test_concurrent_delivery(void **state)
{
	struct store_account *a = open_account();
	struct store_mailbox *h;
	struct store_error err;
	pthread_t th;
	unsigned kept = 0, gone = 0;
	char *text;
	const char *p;

	for (unsigned i = 0; i < 40; i++)
		deliver("Subject: drop\n\nbody\n", 500 + i);
	h = open_inbox(a);
	assert_int_equal(pthread_create(&th, NULL, deliver_many, NULL), 0);
	while (gone < 40) {
		uint32_t uids[64];
		unsigned n = 0;
		assert_int_equal(store_mailbox_sync(h, &err), 1);
		for (unsigned i = 0; i < store_mailbox_count(h) && n < 3; i++) {
			char *t = text_of(h, uid_at(h, i), NULL);
			if (t != NULL && strcmp(t, "Subject: drop\n\nbody\n") == 0)
				uids[n++] = uid_at(h, i);
			free(t);
		}
		assert_int_equal(store_mailbox_expunge(h, uids, &n, &err), 1);
		gone += n;
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	text = slurp(mbox, NULL);
	for (p = text; (p = strstr(p, "Subject: keep ")) != NULL; p++)
		kept++;
	assert_int_equal(kept, 60);
	assert_null(strstr(text, "Subject: drop"));
	free(text);
	assert_int_equal(store_mailbox_sync(h, &err), 1);
	assert_int_equal(store_mailbox_count(h), 60);
	store_mailbox_close(&h);
	store_account_unref(&a);
}

/* The mbox file counts for the quota, also where nobody said the
   account is an mbox one (SMTP's check). */
static void test_usage(void **state)
{
	struct store_account *a;
	struct store_error err;
	uint64_t bytes, msgs;
	struct stat sb;

	deliver(texts[0], 1);
	assert_int_equal(stat(mbox, &sb), 0);
	assert_int_equal(store_account_open(st, ADDR, &a, &err), 1);
	assert_int_equal(store_account_usage(a, &bytes, &msgs, &err), 1);
	assert_int_equal(bytes, (uint64_t)sb.st_size);
	store_account_unref(&a);
}

struct parsed {
	struct mboxmsg v[8];
	unsigned n;
};

static void collect(void *ctx, const struct mboxmsg *m)
{
	struct parsed *p = ctx;

	if (p->n < 8)
		p->v[p->n++] = *m;
}

/* The parser alone: garbage before the first From_ line, the separator,
   an empty message, a last line without LF, CRLF lines. */
static void test_parser(void **state)
{
	static const char data[] =
		"junk\n"
		"From a Thu Jan  1 00:00:10 1970\nA: 1\n\n>From x\n\n"
		"From b bad date\n\n"
		"From c Thu Jan  1 00:00:00 1970\r\nB: 2\r\n\r\nend";
	struct parsed p = { 0 };
	char out[sizeof(data)];

	store_mboxparse(data, sizeof(data) - 1, 0, collect, &p);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.v[0].off, 5);
	assert_int_equal(p.v[0].date, 10);
	assert_int_equal(p.v[0].size, strlen("A: 1\n\nFrom x\n"));
	assert_int_equal(p.v[0].vsize, p.v[0].size + 3);
	assert_int_equal(store_mboxparse_content(data + p.v[0].off, p.v[0].raw_len, out),
			 p.v[0].size);
	assert_memory_equal(out, "A: 1\n\nFrom x\n", p.v[0].size);
	assert_int_equal(p.v[1].size, 0);
	assert_int_equal(p.v[1].date, 0);
	assert_int_equal(p.v[2].size, strlen("B: 2\r\n\r\nend"));
	assert_int_equal(p.v[2].vsize, p.v[2].size);
	assert_int_equal(p.v[2].end, sizeof(data) - 1);
	/* resumed at an entry, as a sync after a delivery does */
	p.n = 0;
	store_mboxparse(data + p.v[1].off, sizeof(data) - 1 - p.v[1].off, 0, collect, &p);
	assert_int_equal(p.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_index_after_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_out_and_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
