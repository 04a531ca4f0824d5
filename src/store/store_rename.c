/*
 * store_rename.c - the renames of Maildir files whose flags changed,
 * made by the store's workers.
 *
 * A STORE changes the flags in the index at once (every session, POP3
 * and JMAP see them); the file's name, which carries the flags too,
 * follows on a worker.  The renames of a folder are queued in order and
 * one job at a time makes them, so the renames of one file happen in the
 * order of the changes.  Until a job's done step has run, a record's
 * name in the index is the name its file had before the queued renames
 * (the head of its chain); the names the renames give it follow in the
 * queue.  Whoever opens, links or unlinks the file on the loop tries the
 * names of the chain in order (store_rename_try): a file only moves
 * forward along its chain, so one pass finds it.
 *
 * A record whose renames are pending carries REC_FLAG_RENAMING, logged
 * with its new flags: after a kill -9 before the renames were made, the
 * index is the truth; the next load reads cur/ (store_mailbox.c) and
 * each such file found is renamed to the name of the index's flags
 * (store_rename_fix).  The done step takes the flag away and logs the
 * record's new name with the folder's next commit.
 *
 * The chains are found by the unique part of the file name (up to the
 * first ',' or ':'), which no rename changes: for the watch's events,
 * the scans of cur/ and the lookups of records.
 */
#include "store/store_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

struct rename_job {
	struct mbox *mb;	/* referenced until done */
	char *dir;		/* cur/ of the folder */
	unsigned first, n;	/* ops [first, first + n) of mb */
	/* what the worker reads and writes: its own copies of the pointers
	   (the folder's array may move meanwhile) */
	const char **from, **to;
	int *err;
};

static size_t key_len(const char *name)
{
	return strcspn(name, ",:");
}

static size_t key_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The slot of key name[0..len) in the table: its latest op, or empty. */
static unsigned *slot_of(const struct mbox *mb, const char *name, size_t len)
{
	size_t h = key_hash(name, len);
	unsigned *slot;

	for (;; h++) {
		slot = &mb->rename_tab[h & mb->rename_mask];
		if (*slot == 0)
			return slot;
		const struct rename_op *op = &mb->renames[*slot - 1];
		if (op->key_len == len && memcmp(op->from, name, len) == 0)
			return slot;
	}
}

/* The latest live op of the file named name (any name of its chain),
   or -1. */
static long latest(const struct mbox *mb, const char *name)
{
	unsigned *slot;

	if (mb->n_renames == mb->renames_head)
		return -1;
	slot = slot_of(mb, name, key_len(name));
	if (*slot == 0 || *slot - 1 < mb->renames_head)
		return -1;
	return (long)*slot - 1;
}

static void table_rebuild(struct mbox *mb)
{
	size_t size = 64;

	/* room for every op since the last reset: slots of ops done stay
	   taken until the next rebuild */
	while (size < (size_t)mb->n_renames * 2 + 2)
		size *= 2;
	free(mb->rename_tab);
	mb->rename_tab = xcalloc(size, sizeof(*mb->rename_tab));
	mb->rename_mask = size - 1;
	for (unsigned i = mb->renames_head; i < mb->n_renames; i++)
		*slot_of(mb, mb->renames[i].from, mb->renames[i].key_len) = i + 1;
}

bool store_rename_pending(const struct mbox *mb, const struct index_rec *r)
{
	return (r->flags & REC_FLAG_RENAMING) != 0 &&
	       latest(mb, store_index_name(&mb->idx, r)) >= 0;
}

const char *store_rename_target(const struct mbox *mb, const struct index_rec *r)
{
	const char *name = store_index_name(&mb->idx, r);
	long i = (r->flags & REC_FLAG_RENAMING) != 0 ? latest(mb, name) : -1;

	return i >= 0 ? mb->renames[i].to : name;
}

void store_rename_queue(struct mbox *mb, const struct index_rec *r, const char *name)
{
	const char *from = store_rename_target(mb, r);
	struct rename_op *op;
	long prev = (r->flags & REC_FLAG_RENAMING) != 0 ? latest(mb, from) : -1;

	if (mb->n_renames == mb->cap_renames) {
		mb->cap_renames = mb->cap_renames == 0 ? 64 : mb->cap_renames * 2;
		mb->renames = xreallocarray(mb->renames, mb->cap_renames, sizeof(*mb->renames));
	}
	op = &mb->renames[mb->n_renames++];
	op->from = xstrdup(from);
	op->to = xstrdup(name);
	op->uid = r->uid;
	op->key_len = key_len(op->from);
	op->prev = (int32_t)prev;
	if (mb->rename_tab == NULL || (size_t)mb->n_renames * 2 + 2 > mb->rename_mask)
		table_rebuild(mb);
	else
		*slot_of(mb, op->from, op->key_len) = mb->n_renames;
}

/* The names of r's file from its index name along its chain, oldest
   first, into a new array (*n_r of them). */
static const char **chain_names(const struct mbox *mb, const struct index_rec *r,
				unsigned *n_r)
{
	const char *name = store_index_name(&mb->idx, r);
	long i = (r->flags & REC_FLAG_RENAMING) != 0 ? latest(mb, name) : -1;
	unsigned n = 1;
	const char **v;

	for (long k = i; k >= (long)mb->renames_head; k = mb->renames[k].prev)
		n++;
	v = xcalloc(n, sizeof(*v));
	v[0] = name;
	*n_r = n;
	for (long k = i; k >= (long)mb->renames_head; k = mb->renames[k].prev)
		v[--n] = mb->renames[k].to;
	return v;
}

int store_rename_try(struct mbox *mb, const struct index_rec *r,
		     int (*fn)(const char *path, void *arg), void *arg, const char **name_r)
{
	char path[STORE_PATH_MAX];
	unsigned n;
	const char **v;
	int ret = 0;

	*name_r = store_index_name(&mb->idx, r);
	if ((r->flags & REC_FLAG_RENAMING) == 0) {
		/* the common case: no renames pending, one name */
		if (store_path_fmt(path, sizeof(path), "%s/cur/%s", mb->dir, *name_r) < 0)
			return 0;
		return fn(path, arg);
	}
	v = chain_names(mb, r, &n);
	for (unsigned k = 0; k < n && ret == 0; k++) {
		if (store_path_fmt(path, sizeof(path), "%s/cur/%s", mb->dir, v[k]) < 0)
			break;
		if ((ret = fn(path, arg)) != 0)
			*name_r = v[k];
	}
	free(v);
	return ret;
}

char **store_rename_names(const struct mbox *mb, const struct index_rec *r, unsigned *n_r)
{
	const char **v = chain_names(mb, r, n_r);
	char **out = xcalloc(*n_r, sizeof(*out));

	for (unsigned k = 0; k < *n_r; k++)
		out[k] = xstrdup(v[k]);
	free(v);
	return out;
}

bool store_rename_name(const struct mbox *mb, const char *fname, uint32_t *uid_r)
{
	long i = latest(mb, fname);

	for (long k = i; k >= (long)mb->renames_head; k = mb->renames[k].prev) {
		const struct rename_op *op = &mb->renames[k];
		if (strcmp(op->to, fname) == 0 || strcmp(op->from, fname) == 0) {
			*uid_r = op->uid;
			return true;
		}
	}
	return false;
}

void store_rename_unmark(struct mbox *mb)
{
	long i;

	for (unsigned k = mb->renames_head; k < mb->n_renames; k++)
		if ((i = store_index_find(&mb->idx, mb->renames[k].uid)) >= 0)
			mb->idx.recs[i].mark = 0;
}

void store_rename_fix(struct mbox *mb, struct index_rec *r, const char *fname)
{
	char name[STORE_FILE_MAX];
	size_t base = strcspn(fname, ":");

	if (latest(mb, fname) >= 0)
		return;		/* its renames are under way */
	store_index_set_name(&mb->idx, r, fname);
	if (store_maildir_name(name, sizeof(name), fname, base, r->size, r->vsize, r->uid,
			       r->flags, r->keywords) < 0 || strcmp(name, fname) == 0) {
		r->flags &= (uint8_t)~REC_FLAG_RENAMING;
		store_index_log(&mb->idx, INDEX_LOG_FLAGS, r, fname);
		return;
	}
	log_info("store: %s: %s: flags as the index has them (a rename was cut short)",
		 mb->dir, fname);
	store_rename_queue(mb, r, name);
}

/* ---- the job ---- */

static void rename_work(void *arg)
{
	struct rename_job *j = arg;
	char from[STORE_PATH_MAX], to[STORE_PATH_MAX];

	for (unsigned k = 0; k < j->n; k++) {
		j->err[k] = 0;
		if (store_path_fmt(from, sizeof(from), "%s/%s", j->dir, j->from[k]) < 0 ||
		    store_path_fmt(to, sizeof(to), "%s/%s", j->dir, j->to[k]) < 0 ||
		    rename(from, to) < 0)
			j->err[k] = errno;
	}
}

/* The record of op, if it is still the same message. */
static struct index_rec *op_rec(struct mbox *mb, const struct rename_op *op)
{
	long i = store_index_find(&mb->idx, op->uid);
	const char *name;

	if (i < 0)
		return NULL;
	name = store_index_name(&mb->idx, &mb->idx.recs[i]);
	if (key_len(name) != op->key_len || memcmp(name, op->from, op->key_len) != 0)
		return NULL;
	return &mb->idx.recs[i];
}

static void ops_free(struct mbox *mb, unsigned from, unsigned upto)
{
	for (unsigned k = from; k < upto; k++) {
		free(mb->renames[k].from);
		free(mb->renames[k].to);
	}
}

/* The ops before upto are made.  Their strings stay until the array is
   emptied or compacted: the table's slots may still point at them. */
static void ops_retire(struct mbox *mb, unsigned upto)
{
	mb->renames_head = upto;
	if (mb->renames_head == mb->n_renames) {
		ops_free(mb, 0, mb->n_renames);
		mb->renames_head = mb->n_renames = 0;
		if (mb->rename_tab != NULL)
			memset(mb->rename_tab, 0, (mb->rename_mask + 1) * sizeof(*mb->rename_tab));
	} else if (mb->renames_head >= 1024 && mb->renames_head * 2 >= mb->n_renames) {
		unsigned head = mb->renames_head, n = mb->n_renames - head;
		ops_free(mb, 0, head);
		memmove(mb->renames, mb->renames + head, n * sizeof(*mb->renames));
		for (unsigned k = 0; k < n; k++)
			mb->renames[k].prev = mb->renames[k].prev >= (int32_t)head ?
					      mb->renames[k].prev - (int32_t)head : -1;
		mb->renames_head = 0;
		mb->n_renames = n;
		table_rebuild(mb);
	}
}

/* r's renames are all made (nothing pending for it) and its name
   carries its flags: the flag goes, and the log learns the name. */
static void settle(struct mbox *mb, struct index_rec *r)
{
	const char *name = store_index_name(&mb->idx, r);
	char want[STORE_FILE_MAX];

	if ((r->flags & REC_FLAG_RENAMING) == 0 || store_rename_pending(mb, r))
		return;
	if (store_maildir_name(want, sizeof(want), name, strcspn(name, ":"), r->size,
			       r->vsize, r->uid, r->flags, r->keywords) < 0 ||
	    strcmp(want, name) != 0)
		return;		/* a rename failed: the next scan sees to it */
	r->flags &= (uint8_t)~REC_FLAG_RENAMING;
	store_index_log(&mb->idx, INDEX_LOG_FLAGS, r, name);
}

static void rename_done(void *arg)
{
	struct rename_job *j = arg;
	struct mbox *mb = j->mb;
	uint32_t *uids = xcalloc(j->n + 1, sizeof(*uids));
	unsigned n_uids = 0;
	struct index_rec *r;
	long i;

	/* the renames' events are queued by now: take them while the names
	   are still known as ours */
	store_watch_clean(mb);
	for (unsigned k = 0; k < j->n; k++) {
		struct rename_op *op = &mb->renames[j->first + k];
		if ((r = op_rec(mb, op)) == NULL)
			continue;
		uids[n_uids++] = op->uid;
		if (j->err[k] == 0) {
			store_index_set_name(&mb->idx, r, op->to);
		} else {
			if (j->err[k] != ENOENT)
				log_err("store: rename %s/%s: %s", j->dir, op->from,
					strerror(j->err[k]));
			/* not where we thought: the next sync reads cur/ */
			mb->cur_clean = false;
			store_watch_lost(mb);
		}
	}
	ops_retire(mb, j->first + j->n);
	/* the records that say so ride with the folder's next commit (or
	   its close): lost in a crash, they cost only a scan at the next
	   load, which finds the names right */
	for (unsigned k = 0; k < n_uids; k++)
		if ((i = store_index_find(&mb->idx, uids[k])) >= 0)
			settle(mb, &mb->idx.recs[i]);
	free(uids);
	free(j->from);
	free(j->to);
	free(j->err);
	free(j->dir);
	free(j);
	mb->renaming = false;
	store_renames_kick(mb);
	store_mbox_release(mb);
}

void store_renames_kick(struct mbox *mb)
{
	struct rename_job *j;
	size_t len;

	if (mb->renaming || mb->n_renames == mb->renames_head)
		return;
	j = xcalloc(1, sizeof(*j));
	len = strlen(mb->dir) + sizeof("/cur");
	j->dir = xcalloc(1, len);
	snprintf(j->dir, len, "%s/cur", mb->dir);
	j->mb = mb;
	j->first = mb->renames_head;
	j->n = mb->n_renames - mb->renames_head;
	j->from = xcalloc(j->n, sizeof(*j->from));
	j->to = xcalloc(j->n, sizeof(*j->to));
	j->err = xcalloc(j->n, sizeof(*j->err));
	for (unsigned k = 0; k < j->n; k++) {
		j->from[k] = mb->renames[j->first + k].from;
		j->to[k] = mb->renames[j->first + k].to;
	}
	mb->renaming = true;
	store_mbox_ref(mb);
	store_offload(mb->acct->store, rename_work, rename_done, j);
}

void store_renames_free(struct mbox *mb)
{
	ops_free(mb, 0, mb->n_renames);
	free(mb->renames);
	free(mb->rename_tab);
	mb->renames = NULL;
	mb->rename_tab = NULL;
	mb->n_renames = mb->cap_renames = mb->renames_head = 0;
}
