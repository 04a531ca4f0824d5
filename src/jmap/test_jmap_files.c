/*
 * test_jmap_files.c - JMAP's own per-account files (jmap_files.c) in a
 * fresh temporary data directory: the account directory is made on
 * demand, a whole file is replaced atomically, lines are appended and
 * read back from an offset, a read past its maximum fails, and the sweep
 * of old uploads spares the account's other files and recent uploads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "jmap/jmap_private.h"
#include "lib/buf.h"

struct fixture {
	char dir[64];
	char acct[1200];	/* the account's directory */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/correio-test-jmap-files.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->acct, sizeof(f->acct), "%s/jmap/a1", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static bool exists(const struct fixture *f, const char *name)
{
	char path[1300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->acct, name);
	return lstat(path, &st) == 0;
}

static void test_put_replace_read(void **state)
{
	struct fixture *f = *state;
	char path[1200];
	struct buf b;
	json_t *v = json_pack("{s:s}", "name", "Alice");
	struct stat st;

	assert_int_equal(jmap_file_path(f->dir, "a1", "identities", path, sizeof(path)), 1);
	assert_int_equal(stat(f->acct, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	buf_init(&b, 0);
	assert_int_equal(jmap_file_read(path, &b), 0);
	assert_int_equal(jmap_file_replace(path, v), 1);
	assert_int_equal(jmap_file_read(path, &b), 1);
	assert_int_equal(b.len, strlen("{\"name\":\"Alice\"}"));
	assert_memory_equal(b.data, "{\"name\":\"Alice\"}", b.len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_false(exists(f, ".tmp-identities"));
	/* past the maximum: an error, not a part */
	buf_reset(&b);
	assert_int_equal(jmap_file_put(path, "0123456789", 10), 1);
	assert_int_equal(jmap_file_read_max(path, 9, &b), -1);
	buf_reset(&b);
	assert_int_equal(jmap_file_read_max(path, 10, &b), 1);
	assert_int_equal(b.len, 10);
	buf_deinit(&b);
	json_decref(v);
}

static void test_append_and_read_from(void **state)
{
	struct fixture *f = *state;
	char path[1200], text[64];
	json_t *v = json_pack("{s:i}", "n", 1);
	ssize_t n;
	int fd = -1;

	assert_int_equal(jmap_file_path(f->dir, "a1", "threads", path, sizeof(path)), 1);
	assert_int_equal(jmap_file_open(path, 0, &fd), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(jmap_file_append(path, "one\n", 4, false), 1);
	assert_int_equal(jmap_file_sync(path), 1);
	assert_int_equal(jmap_file_append_line(path, v), 1);
	assert_int_equal(jmap_file_open(path, 4, &fd), 1);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_string_equal(text, "{\"n\":1}\n");
	json_decref(v);
}

static void test_expire_uploads(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {
		"uold", "unew", ".tmp-uold", "threads", "identities",
	};
	time_t now = time(NULL);
	char path[1200];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct utimbuf old = { .actime = now - 90000, .modtime = now - 90000 };
		assert_int_equal(jmap_file_path(f->dir, "a1", names[i], path, sizeof(path)), 1);
		assert_int_equal(jmap_file_put(path, "x", 1), 1);
		if (strcmp(names[i], "unew") != 0)
			assert_int_equal(utime(path, &old), 0);
	}
	jmap_file_expire_uploads(f->dir, "a1", now - 86400);
	assert_false(exists(f, "uold"));
	assert_false(exists(f, ".tmp-uold"));
	assert_true(exists(f, "unew"));
	assert_true(exists(f, "threads"));
	assert_true(exists(f, "identities"));
	/* an account without a directory yet: nothing to do */
	jmap_file_expire_uploads(f->dir, "nobody", now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_replace_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_and_read_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_uploads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
