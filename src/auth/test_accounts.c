/*
 * test_accounts.c - unit tests for accounts.c on a real SQLite file in a
 * fresh temporary directory: users, passwords, aliases and catch-alls,
 * domains, list callbacks, name checks, the schema version, two handles
 * writing to the same file at once, and changes made by other processes
 * while handles are open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "lib/buf.h"

struct fixture {
	char dir[64];
	struct accounts *a;
};

static void remove_dir(const char *dir)
{
	static const char *const files[] = {
		"accounts.db", "accounts.db-wal", "accounts.db-shm", "accounts.db-journal",
	};
	char path[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error = NULL;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/correio-test-accounts.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if (accounts_open(f->dir, &f->a, &error) != 1) {
		fprintf(stderr, "accounts_open: %s\n", error);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	accounts_free(&f->a);
	assert_null(f->a);
	remove_dir(f->dir);
	free(f);
	return 0;
}

/* ---- list callbacks collect "a b c\n" lines into a buf ---- */

static void collect_user(void *ctx, const struct account *acct)
{
	buf_printf(ctx, "%s %d %llu\n", acct->address, acct->mailbox_format,
		   (unsigned long long)acct->quota);
}

static void collect_alias(void *ctx, const char *alias, const char *target)
{
	buf_printf(ctx, "%s %s\n", alias, target);
}

static void collect_one(void *ctx, const char *s)
{
	buf_printf(ctx, "%s\n", s);
}

static void test_user_add_get_del(void **state)
{
	struct fixture *f = *state;
	struct account acct;
	const char *error;

	assert_int_equal(accounts_user_add(f->a, "Alice@Example.ORG", "pw1",
					   ACCOUNTS_FORMAT_DEFAULT, &error), 1);
	assert_int_equal(accounts_user_get(f->a, "alice@example.org", &acct), 1);
	assert_string_equal(acct.address, "alice@example.org");
	assert_int_equal(acct.mailbox_format, ACCOUNTS_FORMAT_DEFAULT);
	assert_int_equal(acct.quota, 0);
	assert_int_equal(accounts_user_get(f->a, "ALICE@example.org", &acct), 1);
	assert_int_equal(accounts_user_get(f->a, "bob@example.org", &acct), 0);
	assert_int_equal(accounts_user_get(f->a, "not an address", &acct), 0);

	assert_int_equal(accounts_user_add(f->a, "alice@EXAMPLE.org", "pw2",
					   ACCOUNTS_FORMAT_MBOX, &error), -1);
	assert_string_equal(error, "user alice@example.org already exists");

	assert_int_equal(accounts_user_del(f->a, "ALICE@example.org", &error), 1);
	assert_int_equal(accounts_user_get(f->a, "alice@example.org", &acct), 0);
	assert_int_equal(accounts_user_del(f->a, "alice@example.org", &error), -1);
	assert_string_equal(error, "no such user alice@example.org");
}

static void test_user_password(void **state)
{
	struct fixture *f = *state;
	const char *error;

	assert_int_equal(accounts_user_add(f->a, "bob@example.org", "old secret",
					   ACCOUNTS_FORMAT_MAILDIR, &error), 1);
	assert_int_equal(accounts_password_verify(f->a, "bob@example.org", "old secret"), 1);
	assert_int_equal(accounts_password_verify(f->a, "BOB@Example.org", "old secret"), 1);
	assert_int_equal(accounts_password_verify(f->a, "bob@example.org", "Old secret"), 0);
	assert_int_equal(accounts_password_verify(f->a, "bob@example.org", ""), 0);
	assert_int_equal(accounts_password_verify(f->a, "nobody@example.org", "old secret"), 0);
	assert_int_equal(accounts_password_verify(f->a, "bad/addr@example.org", "x"), 0);

	assert_int_equal(accounts_user_passwd(f->a, "bob@example.org", "new secret", &error), 1);
	assert_int_equal(accounts_password_verify(f->a, "bob@example.org", "old secret"), 0);
	assert_int_equal(accounts_password_verify(f->a, "bob@example.org", "new secret"), 1);
	assert_int_equal(accounts_user_passwd(f->a, "carol@example.org", "x", &error), -1);
	assert_string_equal(error, "no such user carol@example.org");
}

static void test_user_format_quota(void **state)
{
	struct fixture *f = *state;
	struct account acct;
	const char *error;

	assert_int_equal(accounts_user_add(f->a, "dave@example.org", "pw",
					   ACCOUNTS_FORMAT_MBOX, &error), 1);
	assert_int_equal(accounts_user_get(f->a, "dave@example.org", &acct), 1);
	assert_int_equal(acct.mailbox_format, ACCOUNTS_FORMAT_MBOX);
	assert_int_equal(accounts_user_set_format(f->a, "dave@example.org",
						  ACCOUNTS_FORMAT_MAILDIR, &error), 1);
	assert_int_equal(accounts_user_set_quota(f->a, "dave@example.org",
						 1024ull * 1024 * 1024 * 5, &error), 1);
	assert_int_equal(accounts_user_get(f->a, "dave@example.org", &acct), 1);
	assert_int_equal(acct.mailbox_format, ACCOUNTS_FORMAT_MAILDIR);
	assert_int_equal(acct.quota, 1024ull * 1024 * 1024 * 5);
	assert_int_equal(accounts_user_set_format(f->a, "dave@example.org", 7, &error), -1);
	assert_int_equal(accounts_user_add(f->a, "eve@example.org", "pw", 2, &error), -1);
	assert_int_equal(accounts_user_set_quota(f->a, "dave@example.org", UINT64_MAX,
						 &error), -1);
	assert_int_equal(accounts_user_set_quota(f->a, "zed@example.org", 1, &error), -1);
	assert_string_equal(error, "no such user zed@example.org");
	assert_int_equal(accounts_user_set_format(f->a, "zed@example.org", 0, &error), -1);
}

static void test_user_list(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(accounts_user_list(f->a, collect_user, &b), 1);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(accounts_user_add(f->a, "zoe@b.example", "pw", 1, &error), 1);
	assert_int_equal(accounts_user_add(f->a, "adam@b.example", "pw", -1, &error), 1);
	assert_int_equal(accounts_user_add(f->a, "mia@a.example", "pw", 0, &error), 1);
	assert_int_equal(accounts_user_set_quota(f->a, "mia@a.example", 1000, &error), 1);
	assert_int_equal(accounts_user_list(f->a, collect_user, &b), 1);
	assert_string_equal(buf_cstr(&b), "adam@b.example -1 0\n"
					  "mia@a.example 0 1000\n"
					  "zoe@b.example 1 0\n");
	buf_deinit(&b);
}

static void test_bad_user_addresses(void **state)
{
	static const char *const bad[] = {
		"", "alice", "alice@", "@example.org", ".alice@example.org",
		"alice.@example.org", "al..ice@example.org", "a/b@example.org",
		"../x@example.org", "a+b@example.org", "a b@example.org",
		"a@b@example.org", "alice@-example.org", "alice@example-.org",
		"alice@example..org", "alice@.example.org", "alice@example.org.",
		"alice@exa_mple.org", "alice@exa/mple.org", "\"a\"@example.org",
		"alice@[127.0.0.1]", "ali\xc3\xa7" "e@example.org",
	};
	struct fixture *f = *state;
	const char *error;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(accounts_user_add(f->a, bad[i], "pw", -1, &error), -1);
		assert_non_null(strstr(error, "invalid address"));
		assert_int_equal(accounts_check(ACCOUNTS_KIND_USER, bad[i], &error), -1);
	}
}

static void test_name_limits(void **state)
{
	char local[80], label[80], name[400];
	const char *error;

	memset(local, 'a', 64);
	local[64] = '\0';
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s@%s.org", local, label);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_USER, name, &error), 1);
	snprintf(name, sizeof(name), "%sa@%s.org", local, label);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_USER, name, &error), -1);
	snprintf(name, sizeof(name), "x@%sb.org", label);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_USER, name, &error), -1);
	/* 253 characters of domain: 3 * (63 + 1) + 61. */
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label, label, label, label);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_DOMAIN, name, &error), 1);
	snprintf(name, sizeof(name), "%s.%s.%s.%.62s", label, label, label, label);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_DOMAIN, name, &error), -1);
}

static void test_check_kinds(void **state)
{
	const char *error;

	assert_int_equal(accounts_check(ACCOUNTS_KIND_USER, "J.Doe_1-x@Mail.Example.ORG",
					&error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_USER, "-x@localhost", &error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_ALIAS, "@example.org", &error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_ALIAS, "info@example.org", &error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_ALIAS, "a/b@example.org", &error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_ALIAS, "@", &error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_USER, "@example.org", &error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_TARGET, "@example.org", &error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_TARGET, "o'brien+tag@remote.example",
					&error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_TARGET, "a/b=c@remote.example",
					&error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_TARGET, "a..b@remote.example",
					&error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_TARGET, "a b@remote.example",
					&error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_DOMAIN, "Example.ORG", &error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_DOMAIN, "localhost", &error), 1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_DOMAIN, "a@b", &error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_DOMAIN, "", &error), -1);
	assert_int_equal(accounts_check(ACCOUNTS_KIND_DOMAIN, "x.", &error), -1);
}

static void test_aliases(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(accounts_alias_add(f->a, "Info@Example.org", "bob@example.org", &error), 1);
	assert_int_equal(accounts_alias_add(f->a, "info@example.org", "ALICE@example.org", &error), 1);
	assert_int_equal(accounts_alias_add(f->a, "info@example.org", "x+y@remote.example", &error), 1);
	assert_int_equal(accounts_alias_add(f->a, "info@example.org", "bob@example.org", &error), -1);
	assert_string_equal(error, "alias info@example.org -> bob@example.org already exists");
	assert_int_equal(accounts_alias_add(f->a, "sales@example.org", "bob@example.org", &error), 1);
	assert_int_equal(accounts_alias_add(f->a, "in/fo@example.org", "bob@example.org", &error), -1);
	assert_int_equal(accounts_alias_add(f->a, "x@example.org", "bob", &error), -1);

	assert_int_equal(accounts_alias_targets(f->a, "INFO@example.org", collect_one, &b), 3);
	assert_string_equal(buf_cstr(&b), "alice@example.org\nbob@example.org\n"
					  "x+y@remote.example\n");
	buf_reset(&b);
	assert_int_equal(accounts_alias_targets(f->a, "none@example.org", collect_one, &b), 0);
	assert_int_equal(accounts_alias_list(f->a, NULL, collect_alias, &b), 1);
	assert_string_equal(buf_cstr(&b), "info@example.org alice@example.org\n"
					  "info@example.org bob@example.org\n"
					  "info@example.org x+y@remote.example\n"
					  "sales@example.org bob@example.org\n");
	buf_reset(&b);
	assert_int_equal(accounts_alias_list(f->a, "sales@EXAMPLE.org", collect_alias, &b), 1);
	assert_string_equal(buf_cstr(&b), "sales@example.org bob@example.org\n");

	assert_int_equal(accounts_alias_del(f->a, "info@example.org", "BOB@example.org", &error), 1);
	assert_int_equal(accounts_alias_del(f->a, "info@example.org", "bob@example.org", &error), -1);
	assert_string_equal(error, "no such alias info@example.org -> bob@example.org");
	assert_int_equal(accounts_alias_targets(f->a, "info@example.org", collect_one, &b), 2);
	assert_int_equal(accounts_alias_del(f->a, "info@example.org", NULL, &error), 1);
	assert_int_equal(accounts_alias_targets(f->a, "info@example.org", collect_one, &b), 0);
	assert_int_equal(accounts_alias_del(f->a, "info@example.org", NULL, &error), -1);
	assert_string_equal(error, "no such alias info@example.org");
	buf_deinit(&b);
}

static void test_catch_all(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(accounts_alias_add(f->a, "@Example.org", "postmaster@example.org", &error), 1);
	assert_int_equal(accounts_alias_add(f->a, "@example.org", "bob@remote.example", &error), 1);
	assert_int_equal(accounts_alias_targets(f->a, "@example.org", collect_one, &b), 2);
	assert_string_equal(buf_cstr(&b), "bob@remote.example\npostmaster@example.org\n");
	assert_int_equal(accounts_alias_targets(f->a, "@other.example", collect_one, &b), 0);
	assert_int_equal(accounts_alias_add(f->a, "@", "bob@remote.example", &error), -1);
	assert_int_equal(accounts_alias_del(f->a, "@example.org", NULL, &error), 1);
	buf_deinit(&b);
}

static void test_domains(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(accounts_domain_exists(f->a, "example.org"), 0);
	assert_int_equal(accounts_domain_add(f->a, "Example.ORG", &error), 1);
	assert_int_equal(accounts_domain_add(f->a, "a.example", &error), 1);
	assert_int_equal(accounts_domain_add(f->a, "example.org", &error), -1);
	assert_string_equal(error, "domain example.org already exists");
	assert_int_equal(accounts_domain_add(f->a, "bad_domain", &error), -1);
	assert_int_equal(accounts_domain_exists(f->a, "EXAMPLE.org"), 1);
	assert_int_equal(accounts_domain_exists(f->a, "not valid"), 0);
	assert_int_equal(accounts_domain_list(f->a, collect_one, &b), 1);
	assert_string_equal(buf_cstr(&b), "a.example\nexample.org\n");

	/* Refused while users remain; users of look-alike domains do not count. */
	assert_int_equal(accounts_user_add(f->a, "u@example.org", "pw", -1, &error), 1);
	assert_int_equal(accounts_user_add(f->a, "v@xexample.org", "pw", -1, &error), 1);
	assert_int_equal(accounts_user_add(f->a, "w@sub.example.org", "pw", -1, &error), 1);
	assert_int_equal(accounts_domain_del(f->a, "example.org", &error), -1);
	assert_string_equal(error, "domain example.org still has 1 user");
	assert_int_equal(accounts_domain_exists(f->a, "example.org"), 1);
	assert_int_equal(accounts_user_del(f->a, "u@example.org", &error), 1);
	assert_int_equal(accounts_domain_del(f->a, "example.ORG", &error), 1);
	assert_int_equal(accounts_domain_exists(f->a, "example.org"), 0);
	assert_int_equal(accounts_domain_del(f->a, "example.org", &error), -1);
	assert_string_equal(error, "no such domain example.org");
	/* The handle is usable after a refused (rolled back) transaction. */
	assert_int_equal(accounts_domain_add(f->a, "example.org", &error), 1);
	buf_deinit(&b);
}

static void test_reopen_schema(void **state)
{
	struct fixture *f = *state;
	struct accounts *a2 = NULL;
	struct account acct;
	char path[128];
	const char *error;
	sqlite3 *db;
	sqlite3_stmt *st;
	struct stat stbuf;

	assert_int_equal(accounts_user_add(f->a, "keep@example.org", "pw", 1, &error), 1);
	accounts_free(&f->a);
	assert_int_equal(accounts_open(f->dir, &a2, &error), 1);
	assert_int_equal(accounts_user_get(a2, "keep@example.org", &acct), 1);
	assert_int_equal(accounts_password_verify(a2, "keep@example.org", "pw"), 1);
	f->a = a2;

	snprintf(path, sizeof(path), "%s/accounts.db", f->dir);
	assert_int_equal(stat(path, &stbuf), 0);
	assert_int_equal(stbuf.st_mode & 0777, 0600);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* A newer schema is refused rather than misread. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(accounts_open(f->dir, &a2, &error), -1);
	assert_non_null(strstr(error, "newer"));
}

static void test_open_missing_dir(void **state)
{
	struct accounts *a = NULL;
	const char *error;

	assert_int_equal(accounts_open("/nonexistent/correio", &a, &error), -1);
	assert_null(a);
	assert_non_null(strstr(error, "accounts.db"));
}

/* ---- two handles on one file, writing at the same time ---- */

#define CONC_USERS 10
#define CONC_ALIASES 150

struct conc_arg {
	const char *dir;
	int id;
	int failures;
};

static void *conc_thread(void *p)
{
	struct conc_arg *arg = p;
	struct accounts *a;
	const char *error;
	char name[64];

	if (accounts_open(arg->dir, &a, &error) != 1) {
		arg->failures = -1;
		return NULL;
	}
	for (int i = 0; i < CONC_USERS; i++) {
		snprintf(name, sizeof(name), "t%d-u%d@example.org", arg->id, i);
		if (accounts_user_add(a, name, "pw", -1, &error) != 1 ||
		    accounts_password_verify(a, name, "pw") != 1)
			arg->failures++;
	}
	for (int i = 0; i < CONC_ALIASES; i++) {
		snprintf(name, sizeof(name), "t%d-a%d@example.org", arg->id, i);
		if (accounts_alias_add(a, "all@example.org", name, &error) != 1 ||
		    accounts_domain_exists(a, "example.org") < 0)
			arg->failures++;
	}
	accounts_free(&a);
	return NULL;
}

static void count_user(void *ctx, const struct account *acct)
{
	(*(int *)ctx)++;
}

static void count_target(void *ctx, const char *target)
{
}

static void test_concurrent_handles(void **state)
{
	char dir[64];
	struct conc_arg args[2];
	pthread_t t[2];
	struct accounts *a;
	const char *error;
	int users = 0;

	/* A fresh directory, so that both handles also race to create it. */
	snprintf(dir, sizeof(dir), "/tmp/correio-test-conc.XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		args[i] = (struct conc_arg){ .dir = dir, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, conc_thread, &args[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(accounts_open(dir, &a, &error), 1);
	assert_int_equal(accounts_user_list(a, count_user, &users), 1);
	assert_int_equal(users, 2 * CONC_USERS);
	assert_int_equal(accounts_alias_targets(a, "all@example.org", count_target, NULL),
			 2 * CONC_ALIASES);
	accounts_free(&a);
	remove_dir(dir);
}

/* ---- another process writes while this one holds handles ---- */

/* This program run again as a fresh process (a forked child would share
   SQLite's record of the parent's locks): add one user, or look one up,
   and exit 0 on success. */
static int child_main(const char *what, const char *dir, const char *address)
{
	struct accounts *a;
	struct account acct;
	const char *error;
	int ok = accounts_open(dir, &a, &error) == 1 &&
		 (strcmp(what, "--add-user") == 0 ?
		  accounts_user_add(a, address, "pw", -1, &error) == 1 :
		  accounts_user_get(a, address, &acct) == 1);

	accounts_free(&a);
	return ok ? 0 : 1;
}

static int in_child(const char *what, const char *dir, const char *address)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_accounts", what, dir, address, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * The server keeps handles open while `correio user add` runs in other
 * processes.  Opening a second handle in the server must not drop the
 * first one's locks (a descriptor of the file closed outside SQLite does),
 * or a command that closes its handle checkpoints and deletes the WAL the
 * server still uses: the server's own writes then go to a deleted file
 * that no other process sees, and it misses later changes.
 */
static void test_other_process_changes_seen(void **state)
{
	struct fixture *f = *state;
	struct account acct;
	struct accounts *second;
	const char *error;

	assert_int_equal(accounts_user_get(f->a, "x@example.org", &acct), 0);
	assert_int_equal(accounts_open(f->dir, &second, &error), 1);
	assert_int_equal(in_child("--add-user", f->dir, "one@example.org"), 0);
	assert_int_equal(accounts_user_add(f->a, "two@example.org", "pw", -1, &error), 1);
	assert_int_equal(in_child("--has-user", f->dir, "two@example.org"), 0);
	assert_int_equal(in_child("--add-user", f->dir, "three@example.org"), 0);
	assert_int_equal(accounts_user_get(f->a, "one@example.org", &acct), 1);
	assert_int_equal(accounts_user_get(second, "three@example.org", &acct), 1);
	accounts_free(&second);
}

int main(int argc, char **argv)
{
	if (argc == 4)
		return child_main(argv[1], argv[2], argv[3]);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_user_add_get_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_format_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_user_addresses, setup, teardown),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_check_kinds),
		cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_schema, setup, teardown),
		cmocka_unit_test(test_open_missing_dir),
		cmocka_unit_test(test_concurrent_handles),
		cmocka_unit_test_setup_teardown(test_other_process_changes_seen, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
