/*
 * throttle.c - the failed-login table: per client address (the delay) and
 * per account+address pair (the lockout).
 *
 * Entries live in a hash table (seeded, so that chosen account names do
 * not pile into one chain) and on one list ordered by their last failure,
 * newest first: expiry and eviction both take from the old end, so each
 * costs O(1) per entry.  Keys are "a\t<address>" and
 * "p\t<account>\t<address>".
 */
#include "throttle.h"
#include "lib/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define KEY_MAX 512
#define MAX_SHIFT 30

struct entry {
	struct entry *chain;		/* same bucket */
	struct entry *newer, *older;	/* by last failure */
	uint64_t last;			/* time of the last failure, ms */
	unsigned failures;
	uint64_t hash;
	char key[];
};

struct throttle {
	struct throttle_limits lim;
	unsigned max_entries, count;
	uint64_t seed;
	unsigned n_buckets;
	struct entry **buckets;
	struct entry *newest, *oldest;
};

/* ---- table ---- */

static uint64_t key_hash(const struct throttle *t, const char *key)
{
	uint64_t h = 14695981039346656037ull ^ t->seed;

	for (const unsigned char *c = (const unsigned char *)key; *c != '\0'; c++) {
		h ^= *c;
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static struct entry **slot_of(struct throttle *t, const char *key, uint64_t h)
{
	struct entry **p = &t->buckets[h % t->n_buckets];

	while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->chain;
	return p;
}

static void list_unlink(struct throttle *t, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void list_push_newest(struct throttle *t, struct entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = e;
	t->newest = e;
	if (t->oldest == NULL)
		t->oldest = e;
}

static void entry_remove(struct throttle *t, struct entry *e)
{
	struct entry **p = slot_of(t, e->key, e->hash);

	*p = e->chain;
	list_unlink(t, e);
	free(e);
	t->count--;
}

/* Forget what is older than the lockout. */
static void expire(struct throttle *t, uint64_t now)
{
	while (t->oldest != NULL && now >= t->oldest->last &&
	       now - t->oldest->last >= t->lim.lockout_ms)
		entry_remove(t, t->oldest);
}

static struct entry *find(struct throttle *t, const char *key)
{
	return *slot_of(t, key, key_hash(t, key));
}

/* The entry for key, made if missing (evicting the oldest when full);
   marked as failed now, newest of all. */
static struct entry *fail_entry(struct throttle *t, const char *key, uint64_t now)
{
	uint64_t h = key_hash(t, key);
	struct entry **p = slot_of(t, key, h), *e = *p;
	size_t n = strlen(key) + 1;

	if (e == NULL) {
		if (t->count >= t->max_entries) {
			entry_remove(t, t->oldest);
			p = slot_of(t, key, h);
		}
		e = xcalloc(1, sizeof(*e) + n);
		memcpy(e->key, key, n);
		e->hash = h;
		*p = e;
		t->count++;
	} else {
		list_unlink(t, e);
	}
	list_push_newest(t, e);
	e->failures++;
	e->last = now;
	return e;
}

static void addr_key(char *out, const char *addr)
{
	snprintf(out, KEY_MAX, "a\t%s", addr);
}

static void pair_key(char *out, const char *addr, const char *user)
{
	snprintf(out, KEY_MAX, "p\t%s\t%s", user, addr);
}

/* failures 1, 2, 3...: delay, 2 delay, 4 delay... up to the cap. */
static uint64_t delay_for(const struct throttle_limits *lim, unsigned failures)
{
	unsigned shift = failures - 1;

	if (failures == 0 || lim->delay_ms == 0)
		return 0;
	if (shift > MAX_SHIFT)
		shift = MAX_SHIFT;
	if (lim->delay_ms > (lim->max_delay_ms >> shift))
		return lim->max_delay_ms > lim->delay_ms ? lim->max_delay_ms : lim->delay_ms;
	return lim->delay_ms << shift;
}

/* ---- interface ---- */

struct throttle *throttle_new(unsigned max_entries, const struct throttle_limits *limits)
{
	struct throttle *t = xcalloc(1, sizeof(*t));

	t->max_entries = max_entries < 2 ? 2 : max_entries;
	t->n_buckets = t->max_entries / 4 + 1;
	t->buckets = xcalloc(t->n_buckets, sizeof(*t->buckets));
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t;
	t->lim = *limits;
	return t;
}

void throttle_free(struct throttle **tp)
{
	struct throttle *t = *tp;

	if (t == NULL)
		return;
	while (t->oldest != NULL)
		entry_remove(t, t->oldest);
	free(t->buckets);
	free(t);
	*tp = NULL;
}

void throttle_set_limits(struct throttle *t, const struct throttle_limits *limits)
{
	t->lim = *limits;
}

uint64_t throttle_wait(struct throttle *t, const char *addr, uint64_t now)
{
	char key[KEY_MAX];
	struct entry *e;
	uint64_t until;

	expire(t, now);
	addr_key(key, addr);
	if ((e = find(t, key)) == NULL)
		return 0;
	until = e->last + delay_for(&t->lim, e->failures);
	return until > now ? until - now : 0;
}

bool throttle_locked(struct throttle *t, const char *addr, const char *user, uint64_t now)
{
	char key[KEY_MAX];
	struct entry *e;

	expire(t, now);
	pair_key(key, addr, user);
	e = find(t, key);
	return e != NULL && e->failures >= t->lim.max_failures;
}

uint64_t throttle_failure(struct throttle *t, const char *addr, const char *user,
			  uint64_t now, unsigned *pair_failures_r)
{
	char key[KEY_MAX];
	uint64_t delay;

	expire(t, now);
	addr_key(key, addr);
	delay = delay_for(&t->lim, fail_entry(t, key, now)->failures);
	pair_key(key, addr, user);
	*pair_failures_r = fail_entry(t, key, now)->failures;
	return delay;
}

void throttle_success(struct throttle *t, const char *addr, const char *user)
{
	char key[KEY_MAX];
	struct entry *e;

	pair_key(key, addr, user);
	if ((e = find(t, key)) != NULL)
		entry_remove(t, e);
	addr_key(key, addr);
	if ((e = find(t, key)) != NULL)
		entry_remove(t, e);
}

unsigned throttle_unlock(struct throttle *t, const char *user)
{
	char prefix[KEY_MAX];
	size_t n;
	unsigned cleared = 0;
	struct entry *e, *older;

	n = (size_t)snprintf(prefix, sizeof(prefix), "p\t%s\t", user);
	for (e = t->newest; e != NULL; e = older) {
		older = e->older;
		if (strncmp(e->key, prefix, n) == 0) {
			entry_remove(t, e);
			cleared++;
		}
	}
	return cleared;
}

unsigned throttle_count(const struct throttle *t)
{
	return t->count;
}
