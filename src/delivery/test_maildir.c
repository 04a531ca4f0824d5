/*
 * test_maildir.c - the Maildir writer: layout, names, link and copy paths,
 * exactly-once by name (new/ and cur/), and the mbox appender's quoting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "delivery/maildir.h"
#include "delivery/mbox.h"

static char root[64];

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/correio-test-maildir-XXXXXX");
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

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

static void test_create_and_deliver(void **state)
{
	char dir[128], src[128], path[256];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/mail/example.org/alice", root);
	snprintf(src, sizeof(src), "%s/msg", root);
	write_file(src, "Return-Path: <a@b>\nSubject: hi\n\nbody\n");
	assert_int_equal(maildir_create(dir), 1);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(maildir_deliver(dir, "1.QX.h,S=36", src, false), 1);
	snprintf(path, sizeof(path), "%s/new/1.QX.h,S=36", dir);
	assert_string_equal(read_file(path), "Return-Path: <a@b>\nSubject: hi\n\nbody\n");
	/* the same name again: already delivered, not a second copy */
	assert_int_equal(maildir_deliver(dir, "1.QX.h,S=36", src, false), 0);
}

static void test_moved_to_cur_counts(void **state)
{
	char dir[128], src[128], from[256], to[256];

	snprintf(dir, sizeof(dir), "%s/m2", root);
	snprintf(src, sizeof(src), "%s/msg2", root);
	write_file(src, "x\n");
	assert_int_equal(maildir_create(dir), 1);
	assert_int_equal(maildir_deliver(dir, "2.QY.h,S=2", src, false), 1);
	snprintf(from, sizeof(from), "%s/new/2.QY.h,S=2", dir);
	snprintf(to, sizeof(to), "%s/cur/2.QY.h,S=2:2,S", dir);
	assert_int_equal(rename(from, to), 0);
	/* a resumed delivery looks in cur/ too */
	assert_int_equal(maildir_deliver(dir, "2.QY.h,S=2", src, true), 0);
	/* also under the name the mail store gives it */
	snprintf(from, sizeof(from), "%s/cur/2.QY.h,S=2,W=3,U=1:2,S", dir);
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(maildir_deliver(dir, "2.QY.h,S=2", src, true), 0);
	snprintf(from, sizeof(from), "%s/new/2.QY.h,S=2", dir);
	assert_int_equal(access(from, F_OK), -1);
	/* a name that is only a prefix of the one in cur/ is a different message */
	assert_int_equal(maildir_deliver(dir, "2.QY.h,S", src, true), 1);
}

static void test_missing_source(void **state)
{
	char dir[128], src[128];

	snprintf(dir, sizeof(dir), "%s/m3", root);
	snprintf(src, sizeof(src), "%s/nothing", root);
	assert_int_equal(maildir_create(dir), 1);
	assert_int_equal(maildir_deliver(dir, "3.QZ.h,S=1", src, false), -1);
}

static void test_mbox(void **state)
{
	char src[128], box[128];
	const char *text;

	snprintf(src, sizeof(src), "%s/msg4", root);
	snprintf(box, sizeof(box), "%s/box", root);
	write_file(src, "Subject: a\n\nFrom here\n>From there\nno newline at end");
	assert_int_equal(mbox_deliver(box, "a@b", 0, src, false), 1);
	assert_int_equal(mbox_deliver(box, "", 0, src, false), 1);
	text = read_file(box);
	assert_non_null(strstr(text, "From a@b Thu Jan  1 00:00:00 1970\nSubject: a\n\n"
				     ">From here\n>>From there\nno newline at end\n\n"
				     "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"));
}

/* Delivered again after a crash: the message the mbox ends with is not
   appended twice; any other one is. */
static void test_mbox_redelivery(void **state)
{
	char src[128], other[128], box[128];
	const char *text, *p;
	int count = 0;

	snprintf(src, sizeof(src), "%s/msg5", root);
	snprintf(other, sizeof(other), "%s/msg6", root);
	snprintf(box, sizeof(box), "%s/box2", root);
	write_file(src, "Received: by mx with ESMTP id Q1\nSubject: one\n\nbody\n");
	write_file(other, "Received: by mx with ESMTP id Q2\nSubject: two\n\nbody\n");
	assert_int_equal(mbox_deliver(box, "a@b", 7, src, false), 1);
	assert_int_equal(mbox_deliver(box, "a@b", 7, src, true), 0);
	assert_int_equal(mbox_deliver(box, "a@b", 8, other, true), 1);
	assert_int_equal(mbox_deliver(box, "a@b", 8, other, true), 0);
	assert_int_equal(mbox_deliver(box, "a@b", 7, src, true), 1);	/* not the tail */
	text = read_file(box);
	for (p = text; (p = strstr(p, "Subject: ")) != NULL; p++)
		count++;
	assert_int_equal(count, 3);
}

/* Another program left the file without a final LF: the From_ line still
   starts a line of its own. */
static void test_mbox_unterminated(void **state)
{
	char src[128], box[128];

	snprintf(src, sizeof(src), "%s/msg7", root);
	snprintf(box, sizeof(box), "%s/box3", root);
	write_file(src, "Subject: a\n\nb\n");
	write_file(box, "From x Thu Jan  1 00:00:00 1970\nS: y\n\nno end");
	assert_int_equal(mbox_deliver(box, "a@b", 0, src, false), 1);
	assert_string_equal(read_file(box),
			    "From x Thu Jan  1 00:00:00 1970\nS: y\n\nno end\n"
			    "From a@b Thu Jan  1 00:00:00 1970\nSubject: a\n\nb\n\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_deliver),
		cmocka_unit_test(test_moved_to_cur_counts),
		cmocka_unit_test(test_missing_source),
		cmocka_unit_test(test_mbox),
		cmocka_unit_test(test_mbox_redelivery),
		cmocka_unit_test(test_mbox_unterminated),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
