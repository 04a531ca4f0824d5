/*
 * greylist.c - the greylisting triplets in SQLite, <data_dir>/greylist.db:
 * one row per triplet, keyed "NETWORK|SENDER|RECIPIENT", with when it was
 * first and last seen and whether it has passed.  smtpd's door calls it at
 * RCPT (smtpd/smtpd_door.c); nothing else opens the file.
 */
#include "greylist/greylist.h"

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define GREYLIST_FILE "greylist.db"
#define GREYLIST_PASSED_TTL (36 * 86400)	/* a passed triplet unseen this long */
#define GREYLIST_PENDING_TTL (2 * 86400)	/* a first try never retried */
#define GREYLIST_KEY_MAX 1024

struct greylist {
	sqlite3 *db;
	char path[1100];
};

int greylist_open(const char *data_dir, struct greylist **r, const char **error_r)
{
	struct greylist *g = calloc(1, sizeof(*g));

	*r = NULL;
	if (g == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	if ((size_t)snprintf(g->path, sizeof(g->path), "%s/%s", data_dir, GREYLIST_FILE) >=
	    sizeof(g->path)) {
		free(g);
		*error_r = "data directory path too long";
		return -1;
	}
	if (sqlite3_open_v2(g->path, &g->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(g->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			 "CREATE TABLE IF NOT EXISTS triplet (key TEXT PRIMARY KEY, "
			 "first INTEGER NOT NULL, last INTEGER NOT NULL, "
			 "passed INTEGER NOT NULL DEFAULT 0)", NULL, NULL, NULL) != SQLITE_OK) {
		log_err("greylist: %s: %s", g->path,
			g->db != NULL ? sqlite3_errmsg(g->db) : "cannot open");
		greylist_free(&g);
		*error_r = "cannot open the greylisting table";
		return -1;
	}
	sqlite3_busy_timeout(g->db, 200);
	*r = g;
	return 1;
}

void greylist_free(struct greylist **gp)
{
	struct greylist *g = *gp;

	if (g == NULL)
		return;
	sqlite3_close(g->db);
	free(g);
	*gp = NULL;
}

/* The client's network as greylisting sees it: its /24 or /64. */
static void client_net(const char *addr, char *out, size_t size)
{
	unsigned char b[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, addr, b) == 1) {
		b[3] = 0;
		inet_ntop(AF_INET, b, text, sizeof(text));
		snprintf(out, size, "%s/24", text);
	} else if (inet_pton(AF_INET6, addr, b) == 1) {
		memset(b + 8, 0, 8);
		inet_ntop(AF_INET6, b, text, sizeof(text));
		snprintf(out, size, "%s/64", text);
	} else {
		str_copy(out, addr, size);
	}
}

/* Run st (bound by the caller) to its end and finalize it: 1 or -1. */
static int step_done(struct greylist *g, sqlite3_stmt *st)
{
	int ret = sqlite3_step(st) == SQLITE_DONE ? 1 : -1;

	if (ret < 0)
		log_err("greylist: %s: %s", g->path, sqlite3_errmsg(g->db));
	sqlite3_finalize(st);
	return ret;
}

/* The row of key: 1 with *first_r and *passed_r, 0 if none, -1. */
static int triplet_get(struct greylist *g, const char *key, time_t *first_r, bool *passed_r)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(g->db, "SELECT first, passed FROM triplet WHERE key = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*first_r = (time_t)sqlite3_column_int64(st, 0);
		*passed_r = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A first try of key at now (already passed when there is no delay). */
static int triplet_add(struct greylist *g, const char *key, time_t now, bool passed)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(g->db, "INSERT INTO triplet (key, first, last, passed) "
			       "VALUES (?1, ?2, ?2, ?3)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_int(st, 3, passed);
	return step_done(g, st);
}

static int triplet_pass(struct greylist *g, const char *key, time_t now)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(g->db, "UPDATE triplet SET passed = 1, last = ?2 WHERE key = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	return step_done(g, st);
}

int greylist_check(struct greylist *g, const char *client_addr, const char *sender,
		   const char *rcpt, time_t now, unsigned long delay, long *wait_r)
{
	char net[64], key[GREYLIST_KEY_MAX];
	time_t first = 0;
	bool passed = false;
	int found;

	*wait_r = 0;
	client_net(client_addr, net, sizeof(net));
	snprintf(key, sizeof(key), "%s|%s|%s", net, sender, rcpt);
	if ((found = triplet_get(g, key, &first, &passed)) < 0)
		return -1;
	if (found == 0) {
		/* a failed insert defers all the same: the next try inserts */
		if (triplet_add(g, key, now, delay == 0) < 0 && delay == 0)
			return -1;
		*wait_r = (long)delay;
		return delay == 0 ? 1 : 0;
	}
	if (!passed && now - first < (time_t)delay) {
		*wait_r = (long)((time_t)delay - (now - first));
		return 0;
	}
	/* past the delay: it passes even if the table cannot say so */
	triplet_pass(g, key, now);
	return 1;
}

int greylist_purge(struct greylist *g, time_t now)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(g->db, "DELETE FROM triplet WHERE (passed AND last < ?1) OR "
			       "(NOT passed AND first < ?2)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - GREYLIST_PASSED_TTL));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(now - GREYLIST_PENDING_TTL));
	return step_done(g, st);
}
