/*
 * accounts.c - the account store: users, aliases and local domains in
 * SQLite (<data_dir>/accounts.db).
 *
 * Callers: the `correio user|alias|domain` commands, and the server (SMTP
 * recipient checks, delivery, authentication), which opens one handle per
 * thread.  A handle belongs to one thread; several handles, in one process
 * or many, may use the same file at once: the database is in WAL mode so
 * readers never wait for the writer, and writers wait up to 5 s for each
 * other (busy timeout).  SQLite's locks are POSIX (fcntl) locks, which
 * belong to the process and vanish when any descriptor of the file is
 * closed: so the file is never opened here outside SQLite, or another
 * process would believe it is alone and checkpoint and delete the WAL
 * under this one's handles.
 *
 * Every statement is prepared once at open with bound parameters; no SQL is
 * ever built from data.  Names are lower-cased and checked (accounts_check)
 * before they are stored or looked up.  List callbacks run while a statement
 * is active and must not call back into the same handle.
 */
#include "auth/accounts.h"
#include "lib/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "lib/log.h"
#include "lib/util.h"

#define ACCOUNTS_DB_NAME "accounts.db"
#define ACCOUNTS_BUSY_MS 5000
#define ACCOUNTS_SETUP_WAIT_MS 10
#define ACCOUNTS_NAME_MAX 320		/* local (64) "@" domain (253), NUL */
#define ACCOUNTS_LOCAL_MAX 64
#define ACCOUNTS_DOMAIN_MAX 253
#define ACCOUNTS_LABEL_MAX 63
#define ACCOUNTS_HASH_MAX 512

/*
 * Schema migrations: migration[i] takes user_version i to i + 1.  Append
 * new ones; never edit a released one.
 */
static const char *const accounts_migrations[] = {
	"CREATE TABLE domains (name TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE users (address TEXT PRIMARY KEY NOT NULL,"
	" hash TEXT NOT NULL, mailbox_format INTEGER NOT NULL DEFAULT -1,"
	" quota INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE aliases (alias TEXT NOT NULL, target TEXT NOT NULL,"
	" PRIMARY KEY (alias, target)) WITHOUT ROWID;"
	"PRAGMA user_version = 1;",
};
#define ACCOUNTS_SCHEMA_VERSION \
	(int)(sizeof(accounts_migrations) / sizeof(accounts_migrations[0]))

enum accounts_sql {
	ACCOUNTS_SQL_BEGIN, ACCOUNTS_SQL_COMMIT, ACCOUNTS_SQL_ROLLBACK,
	ACCOUNTS_SQL_USER_ADD, ACCOUNTS_SQL_USER_DEL, ACCOUNTS_SQL_USER_PASSWD,
	ACCOUNTS_SQL_USER_FORMAT, ACCOUNTS_SQL_USER_QUOTA, ACCOUNTS_SQL_USER_GET,
	ACCOUNTS_SQL_USER_HASH, ACCOUNTS_SQL_USER_LIST,
	ACCOUNTS_SQL_ALIAS_ADD, ACCOUNTS_SQL_ALIAS_DEL_ONE, ACCOUNTS_SQL_ALIAS_DEL_ALL,
	ACCOUNTS_SQL_ALIAS_LIST_ALL, ACCOUNTS_SQL_ALIAS_LIST_ONE,
	ACCOUNTS_SQL_DOMAIN_ADD, ACCOUNTS_SQL_DOMAIN_DEL, ACCOUNTS_SQL_DOMAIN_LIST,
	ACCOUNTS_SQL_DOMAIN_EXISTS, ACCOUNTS_SQL_DOMAIN_USERS,
	ACCOUNTS_SQL_COUNT
};

static const char *const accounts_sql_text[ACCOUNTS_SQL_COUNT] = {
	[ACCOUNTS_SQL_BEGIN] = "BEGIN IMMEDIATE",
	[ACCOUNTS_SQL_COMMIT] = "COMMIT",
	[ACCOUNTS_SQL_ROLLBACK] = "ROLLBACK",
	[ACCOUNTS_SQL_USER_ADD] = "INSERT INTO users (address, hash, mailbox_format,"
		" quota, created) VALUES (?1, ?2, ?3, 0, ?4)",
	[ACCOUNTS_SQL_USER_DEL] = "DELETE FROM users WHERE address = ?1",
	[ACCOUNTS_SQL_USER_PASSWD] = "UPDATE users SET hash = ?2 WHERE address = ?1",
	[ACCOUNTS_SQL_USER_FORMAT] =
		"UPDATE users SET mailbox_format = ?2 WHERE address = ?1",
	[ACCOUNTS_SQL_USER_QUOTA] = "UPDATE users SET quota = ?2 WHERE address = ?1",
	[ACCOUNTS_SQL_USER_GET] =
		"SELECT address, mailbox_format, quota FROM users WHERE address = ?1",
	[ACCOUNTS_SQL_USER_HASH] = "SELECT hash FROM users WHERE address = ?1",
	[ACCOUNTS_SQL_USER_LIST] =
		"SELECT address, mailbox_format, quota FROM users ORDER BY address",
	[ACCOUNTS_SQL_ALIAS_ADD] = "INSERT INTO aliases (alias, target) VALUES (?1, ?2)",
	[ACCOUNTS_SQL_ALIAS_DEL_ONE] =
		"DELETE FROM aliases WHERE alias = ?1 AND target = ?2",
	[ACCOUNTS_SQL_ALIAS_DEL_ALL] = "DELETE FROM aliases WHERE alias = ?1",
	[ACCOUNTS_SQL_ALIAS_LIST_ALL] =
		"SELECT alias, target FROM aliases ORDER BY alias, target",
	[ACCOUNTS_SQL_ALIAS_LIST_ONE] =
		"SELECT alias, target FROM aliases WHERE alias = ?1 ORDER BY target",
	[ACCOUNTS_SQL_DOMAIN_ADD] = "INSERT INTO domains (name) VALUES (?1)",
	[ACCOUNTS_SQL_DOMAIN_DEL] = "DELETE FROM domains WHERE name = ?1",
	[ACCOUNTS_SQL_DOMAIN_LIST] = "SELECT name FROM domains ORDER BY name",
	[ACCOUNTS_SQL_DOMAIN_EXISTS] = "SELECT 1 FROM domains WHERE name = ?1",
	[ACCOUNTS_SQL_DOMAIN_USERS] = "SELECT count(*) FROM users"
		" WHERE substr(address, -(length(?1) + 1)) = '@' || ?1",
};

struct accounts {
	sqlite3 *db;
	sqlite3_stmt *stmt[ACCOUNTS_SQL_COUNT];
	char error[512];
};

/* accounts_open() has no handle to keep its error text in. */
static __thread char accounts_open_error[512];

/* ---- names ---------------------------------------------------------- */

static bool accounts_domain_ok(const char *d, const char **why)
{
	size_t len = strlen(d), label = 0;

	if (len == 0 || len > ACCOUNTS_DOMAIN_MAX) {
		*why = len == 0 ? "empty domain" : "domain too long";
		return false;
	}
	for (size_t i = 0; i <= len; i++) {
		char c = d[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > ACCOUNTS_LABEL_MAX ||
			    d[i - 1] == '-' || d[i - label] == '-') {
				*why = "domain is not a valid host name";
				return false;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			label++;
		} else {
			*why = "domain is not a valid host name";
			return false;
		}
	}
	return true;
}

/* Local part l[0..n): a dot-string of chars from the allowed set. */
static bool accounts_local_ok(const char *l, size_t n, bool atext, const char **why)
{
	static const char user_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
	static const char atext_chars[] = "!#$%&'*+/=?^`{|}~";

	if (n == 0 || n > ACCOUNTS_LOCAL_MAX) {
		*why = n == 0 ? "empty local part" : "local part too long";
		return false;
	}
	if (l[0] == '.' || l[n - 1] == '.' || memmem(l, n, "..", 2) != NULL) {
		*why = "misplaced '.' in local part";
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (memchr(user_chars, l[i], sizeof(user_chars) - 1) != NULL)
			continue;
		if (atext && memchr(atext_chars, l[i], sizeof(atext_chars) - 1) != NULL)
			continue;
		*why = "invalid character in local part";
		return false;
	}
	return true;
}

/* Check an already lower-cased name. */
static int accounts_check_lower(enum accounts_kind kind, const char *s,
				const char **why)
{
	const char *at = strchr(s, '@');

	if (kind == ACCOUNTS_KIND_DOMAIN)
		return accounts_domain_ok(s, why) ? 1 : -1;
	if (at == NULL) {
		*why = "missing '@domain'";
		return -1;
	}
	if (!(kind == ACCOUNTS_KIND_ALIAS && at == s) &&
	    !accounts_local_ok(s, (size_t)(at - s), kind == ACCOUNTS_KIND_TARGET, why))
		return -1;
	return accounts_domain_ok(at + 1, why) ? 1 : -1;
}

/* Lower-cased copy of s into out[ACCOUNTS_NAME_MAX].  1, or -1 too long. */
static int accounts_lower_copy(const char *s, char *out)
{
	if (str_copy(out, s, ACCOUNTS_NAME_MAX) >= ACCOUNTS_NAME_MAX)
		return -1;
	str_lower(out);
	return 1;
}

int accounts_check(enum accounts_kind kind, const char *name, const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX];

	if (accounts_lower_copy(name, key) < 0) {
		*error_r = "name too long";
		return -1;
	}
	return accounts_check_lower(kind, key, error_r);
}

/* ---- errors and statements ---------------------------------------- */

static int accounts_fail(struct accounts *a, const char **error_r,
			 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int accounts_fail(struct accounts *a, const char **error_r,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->error, sizeof(a->error), fmt, ap);
	va_end(ap);
	*error_r = a->error;
	return -1;
}

static int accounts_db_fail(struct accounts *a, const char **error_r)
{
	return accounts_fail(a, error_r, "%s: %s", ACCOUNTS_DB_NAME,
			     sqlite3_errmsg(a->db));
}

/* Normalise and check name into key; *error_r names the kind and input. */
static int accounts_key(struct accounts *a, enum accounts_kind kind,
			const char *name, char *key, const char **error_r)
{
	static const char *const what[] = { "address", "alias", "target", "domain" };
	const char *why = "too long";

	if (accounts_lower_copy(name, key) < 0 ||
	    accounts_check_lower(kind, key, &why) < 0)
		return accounts_fail(a, error_r, "invalid %s '%.100s': %s",
				     what[kind], name, why);
	return 1;
}

static void accounts_stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/*
 * Run a statement that returns no rows.  Returns 1 done, 0 when a
 * uniqueness constraint failed (the row exists), -1 error.
 */
static int accounts_write(struct accounts *a, sqlite3_stmt *st, const char **error_r)
{
	int rc = sqlite3_step(st);
	int ret = 1;

	if (rc == SQLITE_CONSTRAINT)
		ret = sqlite3_extended_errcode(a->db) == SQLITE_CONSTRAINT_PRIMARYKEY ?
			0 : accounts_db_fail(a, error_r);
	else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = accounts_db_fail(a, error_r);
	accounts_stmt_done(st);
	return ret;
}

static sqlite3_stmt *accounts_bind_text(struct accounts *a, enum accounts_sql q,
					const char *p1, const char *p2)
{
	sqlite3_stmt *st = a->stmt[q];

	sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
	if (p2 != NULL)
		sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
	return st;
}

static int accounts_tx(struct accounts *a, enum accounts_sql q, const char **error_r)
{
	return accounts_write(a, a->stmt[q], error_r) > 0 ? 1 : -1;
}

/* ---- open / close ------------------------------------------------- */

static int accounts_open_fail(struct accounts *a, const char **error_r,
			      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int accounts_open_fail(struct accounts *a, const char **error_r,
			      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(accounts_open_error, sizeof(accounts_open_error), fmt, ap);
	va_end(ap);
	*error_r = accounts_open_error;
	accounts_free(&a);
	return -1;
}

/*
 * Create the file when it is missing, readable by its owner only (SQLite
 * gives the -wal and -shm files the same mode).  The existing file is
 * never opened here: closing any descriptor of it would drop every POSIX
 * lock this process's SQLite connections hold on it, and another process
 * would then believe it is alone and checkpoint and delete the WAL under
 * them.  The empty file is made under a temporary name and linked into
 * place, which never replaces a file another process made meanwhile.
 */
static int accounts_create_file(const char *path)
{
	char tmp[4200];
	struct stat st;
	int fd, saved = 0;

	if (lstat(path, &st) == 0 || errno != ENOENT)
		return 1;	/* there (SQLite reports what is wrong with it) */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new-XXXXXX", path) >= sizeof(tmp))
		return -1;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -1;
	close(fd);
	if (link(tmp, path) < 0 && errno != EEXIST)
		saved = errno;
	unlink(tmp);
	errno = saved;
	return saved == 0 ? 1 : -1;
}

/*
 * The set-up steps below return SQLite result codes, so that accounts_setup
 * can tell "another connection is busy" (retry) from real errors.
 */
static int accounts_pragma_int(struct accounts *a, const char *sql, int *r)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int accounts_set_wal(struct accounts *a)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(a->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
			str_copy(a->error, "cannot switch to WAL mode", sizeof(a->error));
			rc = SQLITE_ERROR;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* Bring the schema up to ACCOUNTS_SCHEMA_VERSION, in a write transaction. */
static int accounts_migrate_locked(struct accounts *a)
{
	int version, rc;

	if ((rc = accounts_pragma_int(a, "PRAGMA user_version", &version)) != SQLITE_OK)
		return rc;
	if (version > ACCOUNTS_SCHEMA_VERSION) {
		snprintf(a->error, sizeof(a->error),
			 "schema version %d is newer than this correio (%d)",
			 version, ACCOUNTS_SCHEMA_VERSION);
		return SQLITE_ERROR;
	}
	for (; version < ACCOUNTS_SCHEMA_VERSION; version++) {
		rc = sqlite3_exec(a->db, accounts_migrations[version], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int accounts_migrate(struct accounts *a)
{
	int version, rc;

	if ((rc = accounts_pragma_int(a, "PRAGMA user_version", &version)) != SQLITE_OK ||
	    version == ACCOUNTS_SCHEMA_VERSION)
		return rc;
	if ((rc = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = accounts_migrate_locked(a)) != SQLITE_OK) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
}

static int accounts_setup_once(struct accounts *a)
{
	int rc;

	if ((rc = accounts_set_wal(a)) != SQLITE_OK ||
	    (rc = sqlite3_exec(a->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		return rc;
	return accounts_migrate(a);
}

/*
 * WAL mode, synchronous writes and the schema.  While the file is still new
 * (rollback journal), connections opening it at the same moment can
 * deadlock on the switch to WAL; SQLite then answers BUSY at once instead
 * of waiting, so wait here and try again, within the busy timeout.
 */
static int accounts_setup(struct accounts *a)
{
	int rc;

	sqlite3_busy_timeout(a->db, ACCOUNTS_BUSY_MS);
	for (int waited = 0; ; waited += ACCOUNTS_SETUP_WAIT_MS) {
		rc = accounts_setup_once(a);
		if (rc == SQLITE_OK)
			return 1;
		if ((rc & 0xff) != SQLITE_BUSY || waited >= ACCOUNTS_BUSY_MS)
			return -1;
		usleep(ACCOUNTS_SETUP_WAIT_MS * 1000);
	}
}

static int accounts_prepare(struct accounts *a)
{
	for (int i = 0; i < ACCOUNTS_SQL_COUNT; i++) {
		if (sqlite3_prepare_v3(a->db, accounts_sql_text[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &a->stmt[i],
				       NULL) != SQLITE_OK)
			return -1;
	}
	return 1;
}

int accounts_open(const char *data_dir, struct accounts **r, const char **error_r)
{
	struct accounts *a = xcalloc(1, sizeof(*a));
	char path[4096];
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, ACCOUNTS_DB_NAME) >=
	    sizeof(path))
		return accounts_open_fail(a, error_r, "data directory path too long");
	if (accounts_create_file(path) < 0)
		return accounts_open_fail(a, error_r, "%s: %s", path, strerror(errno));
	if (sqlite3_open_v2(path, &a->db, flags, NULL) != SQLITE_OK ||
	    accounts_setup(a) < 0 || accounts_prepare(a) < 0)
		return accounts_open_fail(a, error_r, "%s: %s", path,
					  a->error[0] != '\0' ? a->error :
					  a->db == NULL ? "out of memory" :
					  sqlite3_errmsg(a->db));
	*r = a;
	return 1;
}

void accounts_free(struct accounts **ap)
{
	struct accounts *a = *ap;

	if (a == NULL)
		return;
	for (int i = 0; i < ACCOUNTS_SQL_COUNT; i++)
		sqlite3_finalize(a->stmt[i]);
	sqlite3_close(a->db);
	free(a);
	*ap = NULL;
}

/* ---- users -------------------------------------------------------- */

static bool accounts_format_ok(int format)
{
	return format == ACCOUNTS_FORMAT_DEFAULT || format == ACCOUNTS_FORMAT_MAILDIR ||
	       format == ACCOUNTS_FORMAT_MBOX;
}

int accounts_user_add(struct accounts *a, const char *address, const char *password,
		      int format, const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX], hash[ACCOUNTS_HASH_MAX];
	sqlite3_stmt *st;
	int ret;

	if (accounts_key(a, ACCOUNTS_KIND_USER, address, key, error_r) < 0)
		return -1;
	if (!accounts_format_ok(format))
		return accounts_fail(a, error_r, "invalid mailbox format %d", format);
	if (password_hash(password, hash, sizeof(hash)) < 0)
		return accounts_fail(a, error_r, "cannot hash the password");
	st = accounts_bind_text(a, ACCOUNTS_SQL_USER_ADD, key, hash);
	sqlite3_bind_int(st, 3, format);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	ret = accounts_write(a, st, error_r);
	explicit_bzero(hash, sizeof(hash));
	if (ret == 0)
		return accounts_fail(a, error_r, "user %s already exists", key);
	return ret;
}

/* Run an UPDATE/DELETE on one user; "no such user" when no row changed. */
static int accounts_user_change(struct accounts *a, sqlite3_stmt *st,
				const char *key, const char **error_r)
{
	if (accounts_write(a, st, error_r) < 0)
		return -1;
	if (sqlite3_changes(a->db) == 0)
		return accounts_fail(a, error_r, "no such user %s", key);
	return 1;
}

int accounts_user_del(struct accounts *a, const char *address, const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX];

	if (accounts_key(a, ACCOUNTS_KIND_USER, address, key, error_r) < 0)
		return -1;
	return accounts_user_change(a, accounts_bind_text(a, ACCOUNTS_SQL_USER_DEL,
							  key, NULL), key, error_r);
}

int accounts_user_passwd(struct accounts *a, const char *address,
			 const char *password, const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX], hash[ACCOUNTS_HASH_MAX];
	int ret;

	if (accounts_key(a, ACCOUNTS_KIND_USER, address, key, error_r) < 0)
		return -1;
	if (password_hash(password, hash, sizeof(hash)) < 0)
		return accounts_fail(a, error_r, "cannot hash the password");
	ret = accounts_user_change(a, accounts_bind_text(a, ACCOUNTS_SQL_USER_PASSWD,
							 key, hash), key, error_r);
	explicit_bzero(hash, sizeof(hash));
	return ret;
}

int accounts_user_set_format(struct accounts *a, const char *address, int format,
			     const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX];
	sqlite3_stmt *st;

	if (accounts_key(a, ACCOUNTS_KIND_USER, address, key, error_r) < 0)
		return -1;
	if (!accounts_format_ok(format))
		return accounts_fail(a, error_r, "invalid mailbox format %d", format);
	st = accounts_bind_text(a, ACCOUNTS_SQL_USER_FORMAT, key, NULL);
	sqlite3_bind_int(st, 2, format);
	return accounts_user_change(a, st, key, error_r);
}

int accounts_user_set_quota(struct accounts *a, const char *address, uint64_t quota,
			    const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX];
	sqlite3_stmt *st;

	if (accounts_key(a, ACCOUNTS_KIND_USER, address, key, error_r) < 0)
		return -1;
	if (quota > (uint64_t)INT64_MAX)
		return accounts_fail(a, error_r, "quota too large");
	st = accounts_bind_text(a, ACCOUNTS_SQL_USER_QUOTA, key, NULL);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)quota);
	return accounts_user_change(a, st, key, error_r);
}

static void accounts_row_account(sqlite3_stmt *st, struct account *r)
{
	sqlite3_int64 quota = sqlite3_column_int64(st, 2);

	memset(r, 0, sizeof(*r));
	str_copy(r->address, (const char *)sqlite3_column_text(st, 0),
		 sizeof(r->address));
	r->mailbox_format = sqlite3_column_int(st, 1);
	r->quota = quota > 0 ? (uint64_t)quota : 0;
}

int accounts_user_get(struct accounts *a, const char *address, struct account *r)
{
	char key[ACCOUNTS_NAME_MAX];
	const char *why;
	sqlite3_stmt *st;
	int rc;

	if (accounts_lower_copy(address, key) < 0 ||
	    accounts_check_lower(ACCOUNTS_KIND_USER, key, &why) < 0)
		return 0;
	st = accounts_bind_text(a, ACCOUNTS_SQL_USER_GET, key, NULL);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		accounts_row_account(st, r);
	accounts_stmt_done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int accounts_user_list(struct accounts *a,
		       void (*cb)(void *ctx, const struct account *acct), void *ctx)
{
	sqlite3_stmt *st = a->stmt[ACCOUNTS_SQL_USER_LIST];
	struct account acct;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		accounts_row_account(st, &acct);
		cb(ctx, &acct);
	}
	accounts_stmt_done(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

/* The stored hash of key into hash[ACCOUNTS_HASH_MAX]: 1, 0 no user, -1. */
static int accounts_user_hash(struct accounts *a, const char *key, char *hash)
{
	sqlite3_stmt *st = accounts_bind_text(a, ACCOUNTS_SQL_USER_HASH, key, NULL);
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE ? 0 : -1;

	if (rc == SQLITE_ROW &&
	    str_copy(hash, (const char *)sqlite3_column_text(st, 0),
		     ACCOUNTS_HASH_MAX) < ACCOUNTS_HASH_MAX)
		ret = 1;
	accounts_stmt_done(st);
	return ret;
}

int accounts_password_verify(struct accounts *a, const char *address,
			     const char *password)
{
	char key[ACCOUNTS_NAME_MAX], hash[ACCOUNTS_HASH_MAX];
	const char *why;
	int ret = 0;

	if (accounts_lower_copy(address, key) == 1 &&
	    accounts_check_lower(ACCOUNTS_KIND_USER, key, &why) == 1 &&
	    (ret = accounts_user_hash(a, key, hash)) < 0)
		return -1;
	if (ret == 0) {
		/* Same cost as a real check, so timing tells nothing. */
		(void)password_verify(password, password_dummy_hash());
		return 0;
	}
	ret = password_verify(password, hash);
	if (ret < 0) {
		log_warn("accounts: unusable password hash for %s", key);
		return 0;
	}
	return ret;
}

/* ---- aliases ------------------------------------------------------ */

int accounts_alias_add(struct accounts *a, const char *alias, const char *target,
		       const char **error_r)
{
	char akey[ACCOUNTS_NAME_MAX], tkey[ACCOUNTS_NAME_MAX];
	int ret;

	if (accounts_key(a, ACCOUNTS_KIND_ALIAS, alias, akey, error_r) < 0 ||
	    accounts_key(a, ACCOUNTS_KIND_TARGET, target, tkey, error_r) < 0)
		return -1;
	ret = accounts_write(a, accounts_bind_text(a, ACCOUNTS_SQL_ALIAS_ADD, akey, tkey),
			     error_r);
	if (ret == 0)
		return accounts_fail(a, error_r, "alias %s -> %s already exists",
				     akey, tkey);
	return ret;
}

int accounts_alias_del(struct accounts *a, const char *alias, const char *target,
		       const char **error_r)
{
	char akey[ACCOUNTS_NAME_MAX], tkey[ACCOUNTS_NAME_MAX];
	sqlite3_stmt *st;

	if (accounts_key(a, ACCOUNTS_KIND_ALIAS, alias, akey, error_r) < 0 ||
	    (target != NULL &&
	     accounts_key(a, ACCOUNTS_KIND_TARGET, target, tkey, error_r) < 0))
		return -1;
	st = target == NULL ?
		accounts_bind_text(a, ACCOUNTS_SQL_ALIAS_DEL_ALL, akey, NULL) :
		accounts_bind_text(a, ACCOUNTS_SQL_ALIAS_DEL_ONE, akey, tkey);
	if (accounts_write(a, st, error_r) < 0)
		return -1;
	if (sqlite3_changes(a->db) > 0)
		return 1;
	if (target == NULL)
		return accounts_fail(a, error_r, "no such alias %s", akey);
	return accounts_fail(a, error_r, "no such alias %s -> %s", akey, tkey);
}

int accounts_alias_list(struct accounts *a, const char *alias,
			void (*cb)(void *ctx, const char *alias, const char *target),
			void *ctx)
{
	char akey[ACCOUNTS_NAME_MAX];
	const char *why;
	sqlite3_stmt *st = a->stmt[ACCOUNTS_SQL_ALIAS_LIST_ALL];
	int rc;

	if (alias != NULL) {
		if (accounts_lower_copy(alias, akey) < 0 ||
		    accounts_check_lower(ACCOUNTS_KIND_ALIAS, akey, &why) < 0)
			return 1;
		st = accounts_bind_text(a, ACCOUNTS_SQL_ALIAS_LIST_ONE, akey, NULL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1));
	accounts_stmt_done(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

int accounts_alias_targets(struct accounts *a, const char *alias,
			   void (*cb)(void *ctx, const char *target), void *ctx)
{
	char akey[ACCOUNTS_NAME_MAX];
	const char *why;
	sqlite3_stmt *st;
	struct buf targets;	/* NUL-separated: cb may call back into us */
	int rc, n = 0;

	if (accounts_lower_copy(alias, akey) < 0 ||
	    accounts_check_lower(ACCOUNTS_KIND_ALIAS, akey, &why) < 0)
		return 0;
	buf_init(&targets, 0);
	st = accounts_bind_text(a, ACCOUNTS_SQL_ALIAS_LIST_ONE, akey, NULL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		buf_puts(&targets, (const char *)sqlite3_column_text(st, 1));
		buf_putc(&targets, '\0');
		n++;
	}
	accounts_stmt_done(st);
	for (size_t off = 0; rc == SQLITE_DONE && off < targets.len;
	     off += strlen(targets.data + off) + 1)
		cb(ctx, targets.data + off);
	buf_deinit(&targets);
	return rc == SQLITE_DONE ? n : -1;
}

/* ---- domains ------------------------------------------------------ */

int accounts_domain_add(struct accounts *a, const char *domain, const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX];
	int ret;

	if (accounts_key(a, ACCOUNTS_KIND_DOMAIN, domain, key, error_r) < 0)
		return -1;
	ret = accounts_write(a, accounts_bind_text(a, ACCOUNTS_SQL_DOMAIN_ADD, key, NULL),
			     error_r);
	if (ret == 0)
		return accounts_fail(a, error_r, "domain %s already exists", key);
	return ret;
}

/* Number of users in domain key, or -1. */
static int accounts_domain_users(struct accounts *a, const char *key,
				 const char **error_r)
{
	sqlite3_stmt *st = accounts_bind_text(a, ACCOUNTS_SQL_DOMAIN_USERS, key, NULL);
	int n = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	else
		accounts_db_fail(a, error_r);
	accounts_stmt_done(st);
	return n;
}

/* Inside a write transaction: refuse while users remain, then delete. */
static int accounts_domain_del_locked(struct accounts *a, const char *key,
				      const char **error_r)
{
	int users = accounts_domain_users(a, key, error_r);

	if (users < 0)
		return -1;
	if (users > 0)
		return accounts_fail(a, error_r, "domain %s still has %d user%s",
				     key, users, users == 1 ? "" : "s");
	if (accounts_write(a, accounts_bind_text(a, ACCOUNTS_SQL_DOMAIN_DEL, key, NULL),
			   error_r) < 0)
		return -1;
	if (sqlite3_changes(a->db) == 0)
		return accounts_fail(a, error_r, "no such domain %s", key);
	return 1;
}

int accounts_domain_del(struct accounts *a, const char *domain, const char **error_r)
{
	char key[ACCOUNTS_NAME_MAX];
	const char *ignored;

	if (accounts_key(a, ACCOUNTS_KIND_DOMAIN, domain, key, error_r) < 0 ||
	    accounts_tx(a, ACCOUNTS_SQL_BEGIN, error_r) < 0)
		return -1;
	if (accounts_domain_del_locked(a, key, error_r) < 0) {
		accounts_tx(a, ACCOUNTS_SQL_ROLLBACK, &ignored);
		return -1;
	}
	return accounts_tx(a, ACCOUNTS_SQL_COMMIT, error_r);
}

int accounts_domain_list(struct accounts *a,
			 void (*cb)(void *ctx, const char *domain), void *ctx)
{
	sqlite3_stmt *st = a->stmt[ACCOUNTS_SQL_DOMAIN_LIST];
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
	accounts_stmt_done(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

int accounts_domain_exists(struct accounts *a, const char *domain)
{
	char key[ACCOUNTS_NAME_MAX];
	const char *why;
	sqlite3_stmt *st;
	int rc;

	if (accounts_lower_copy(domain, key) < 0 ||
	    accounts_check_lower(ACCOUNTS_KIND_DOMAIN, key, &why) < 0)
		return 0;
	st = accounts_bind_text(a, ACCOUNTS_SQL_DOMAIN_EXISTS, key, NULL);
	rc = sqlite3_step(st);
	accounts_stmt_done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}
