/*
 * store_change.c - changing messages through a handle: flags (STORE) and
 * expunge.
 *
 * Flags live in the Maildir name too, so a flag change is one rename(2)
 * per message (no fsync: like every Maildir program, a crash of the
 * machine may lose the last flag changes, never a message).  The index
 * changes at once; the renames are queued for a worker (store_rename.c).
 * Each operation takes one new modseq for all the messages it changed,
 * writes one batch of log records, then tells the other handles.  An mbox INBOX keeps flags in
 * its index only, and its expunge rewrites the file (store_mboxfile.c).
 */
#include "store/store_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct flag_change {
	enum store_flag_op op;
	uint8_t flags;
	uint32_t keywords;
	uint64_t unchanged_since;
	uint64_t modseq;	/* taken at the first change */
	bool resync;		/* a file was not where we thought */
	bool queued;		/* renames for the worker */
};

static void new_flags(const struct flag_change *fc, const struct index_rec *r,
		      uint8_t *flags_r, uint32_t *keywords_r)
{
	uint8_t f = fc->flags & STORE_FLAGS_SYSTEM;

	switch (fc->op) {
	case STORE_FLAGS_ADD:
		*flags_r = r->flags | f;
		*keywords_r = r->keywords | fc->keywords;
		break;
	case STORE_FLAGS_REMOVE:
		*flags_r = r->flags & (uint8_t)~f;
		*keywords_r = r->keywords & ~fc->keywords;
		break;
	default:
		*flags_r = (uint8_t)((r->flags & (REC_FLAG_PASSED | REC_FLAG_UNMEASURED)) | f);
		*keywords_r = fc->keywords;
		break;
	}
}

/* Change r's flags in the index; queue the rename of its file that makes
   its name carry them (store_rename.c). */
static enum store_flag_status change_one(struct mbox *mb, struct flag_change *fc,
					 struct index_rec *r)
{
	char name[STORE_FILE_MAX];
	const char *cur;
	uint32_t keywords;
	uint8_t flags, had = r->flags & (uint8_t)~REC_FLAG_RENAMING;

	if (fc->unchanged_since != 0 && r->modseq > fc->unchanged_since)
		return STORE_FLAG_MODIFIED;
	new_flags(fc, r, &flags, &keywords);
	flags &= (uint8_t)~REC_FLAG_RENAMING;
	if (flags == had && keywords == r->keywords)
		return STORE_FLAG_UNCHANGED;
	if (store_rec_measure(mb, r) == 0) {
		/* gone or renamed by another program: its new name carries the
		   sizes, so they are read first */
		fc->resync = true;
		return STORE_FLAG_GONE;
	}
	flags &= (uint8_t)~REC_FLAG_UNMEASURED;
	if (mb->mbox_path == NULL) {
		/* the name the file will have after the renames queued before */
		cur = store_rename_target(mb, r);
		if (store_maildir_name(name, sizeof(name), cur, strcspn(cur, ":"), r->size,
				       r->vsize, r->uid, flags, keywords) < 0)
			return STORE_FLAG_UNCHANGED;
		if (strcmp(cur, name) != 0) {
			store_rename_queue(mb, r, name);
			fc->queued = true;
		}
		if (store_rename_pending(mb, r) || strcmp(cur, name) != 0)
			flags |= REC_FLAG_RENAMING;
	}
	if (fc->modseq == 0)
		fc->modseq = store_index_next_modseq(mb);
	r->flags = flags;
	r->keywords = keywords;
	r->modseq = fc->modseq;
	/* the name stays the file's present one until the worker renamed it */
	store_index_log(&mb->idx, INDEX_LOG_FLAGS, r, store_index_name(&mb->idx, r));
	uidvec_push(&mb->chg_flags, r->uid);
	return STORE_FLAG_CHANGED;
}

int store_mailbox_set_flags(struct store_mailbox *h, const uint32_t *uids,
			    unsigned n, enum store_flag_op op, uint8_t flags,
			    uint32_t keywords, uint64_t unchanged_since,
			    struct store_flag_result *results,
			    struct store_error *error_r)
{
	struct flag_change fc = { op, flags, keywords, unchanged_since, 0, false, false };
	struct mbox *mb = h->mb;
	enum store_flag_status res;
	long i;

	if (store_mbox_check(mb, error_r) < 0)
		return -1;
	for (unsigned k = 0; k < n; k++) {
		i = store_index_find(&mb->idx, uids[k]);
		res = i < 0 ? STORE_FLAG_GONE : change_one(mb, &fc, &mb->idx.recs[i]);
		if (results == NULL)
			continue;
		results[k].status = res;
		results[k].modseq = res == STORE_FLAG_GONE ? 0 : mb->idx.recs[i].modseq;
	}
	store_index_commit(mb);
	store_mbox_notify(mb, h);
	if (fc.queued)
		store_renames_kick(mb);
	if (fc.resync && store_sync_run(mb, false, true, error_r) < 0)
		return -1;
	return 1;
}

/* ---- expunge ---- */

/*
 * The files of expunged messages are unlinked by a worker (an unlink is
 * a journal transaction of the file system: it waited on the loop).  The
 * index, its log and the sessions know of the expunge at once; until the
 * worker is done, the names wait in mb->unlinking so that a scan of cur/
 * does not take the files for new mail, and so that the watch accepts
 * their deletion events whenever they come.  A crash in between leaves
 * the files, which the next start takes in as new messages: the expunge
 * was not made durable before either (no fsync of cur/).
 */
struct unlink_job {
	const struct store *store;
	struct mbox *mb;	/* referenced until done */
	char *dir;		/* cur/ of the folder */
	char **names;		/* sorted */
	char **order;		/* the same, in the order to unlink: the names
				   of one file along its renames, oldest first */
	unsigned n;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool store_unlink_pending(const struct mbox *mb, const char *name)
{
	return mb->n_unlinking > 0 &&
	       bsearch(&name, mb->unlinking, mb->n_unlinking, sizeof(char *), cmp_name) != NULL;
}

static void unlink_work(void *arg)
{
	struct unlink_job *j = arg;
	char path[STORE_PATH_MAX];

	store_disk_delay(j->store);
	for (unsigned i = 0; i < j->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", j->dir, j->order[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			log_err("store: unlink %s: %m (the message comes back at the next scan)",
				path);
	}
}

/* Take the job's names out of mb->unlinking (both sorted). */
static void unlinking_remove(struct mbox *mb, char **names, unsigned n)
{
	unsigned out = 0, k = 0;

	for (unsigned i = 0; i < mb->n_unlinking; i++) {
		while (k < n && strcmp(names[k], mb->unlinking[i]) < 0)
			k++;
		if (k < n && mb->unlinking[i] == names[k])
			k++;	/* the same string: ours */
		else
			mb->unlinking[out++] = mb->unlinking[i];
	}
	mb->n_unlinking = out;
}

static void unlink_done(void *arg)
{
	struct unlink_job *j = arg;
	struct mbox *mb = j->mb;

	/* the deletions are queued as events by now: take them while the
	   names are still known as ours */
	store_watch_clean(mb);
	unlinking_remove(mb, j->names, j->n);
	for (unsigned i = 0; i < j->n; i++)
		free(j->names[i]);
	free(j->names);
	free(j->order);
	free(j->dir);
	free(j);
	store_mbox_release(mb);
}

/* Queue the unlinks of names[0..n) (taken over, sorted here). */
static void unlink_later(struct mbox *mb, char **names, unsigned n)
{
	struct unlink_job *j = calloc(1, sizeof(*j));
	size_t len = strlen(mb->dir) + sizeof("/cur");
	char **all;

	if (j == NULL || (j->dir = malloc(len)) == NULL)
		fatal("out of memory");
	snprintf(j->dir, len, "%s/cur", mb->dir);
	j->order = xcalloc(n, sizeof(*j->order));
	memcpy(j->order, names, n * sizeof(*names));
	qsort(names, n, sizeof(*names), cmp_name);
	j->names = names;
	j->n = n;
	j->mb = mb;
	j->store = mb->acct->store;
	store_mbox_ref(mb);
	if (mb->n_unlinking + n > mb->cap_unlinking) {
		mb->cap_unlinking = (mb->n_unlinking + n) * 2;
		if ((all = realloc(mb->unlinking, mb->cap_unlinking * sizeof(*all))) == NULL)
			fatal("out of memory");
		mb->unlinking = all;
	}
	memcpy(mb->unlinking + mb->n_unlinking, names, n * sizeof(*names));
	mb->n_unlinking += n;
	qsort(mb->unlinking, mb->n_unlinking, sizeof(*mb->unlinking), cmp_name);
	store_offload(mb->acct->store, unlink_work, unlink_done, j);
}

void store_unlink_now(struct mbox *mb)
{
	char path[STORE_PATH_MAX];

	for (unsigned i = 0; i < mb->n_unlinking; i++) {
		snprintf(path, sizeof(path), "%s/cur/%s", mb->dir, mb->unlinking[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			log_err("store: unlink %s: %m", path);
	}
	store_watch_lost(mb);	/* those events come in no known order */
}

void store_unlink_free(struct mbox *mb)
{
	free(mb->unlinking);	/* the names are the jobs' */
	mb->unlinking = NULL;
	mb->n_unlinking = mb->cap_unlinking = 0;
}

static int unlink_path(const char *path, void *arg)
{
	if (unlink(path) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* Delete the files of uids and mark their records; with later, mark
   them and queue the unlinks.  1 or -1. */
static int unlink_files(struct mbox *mb, const uint32_t *uids, unsigned n, bool later,
			struct store_error *error_r)
{
	char path[STORE_PATH_MAX], **names = NULL;
	unsigned count = 0, cap = 0;
	const char *name;
	long i;
	int ret;

	for (unsigned k = 0; k < n; k++) {
		if ((i = store_index_find(&mb->idx, uids[k])) < 0 || mb->idx.recs[i].mark)
			continue;
		if (later) {
			/* every name of its file while renames are pending: the
			   worker tries them in order */
			unsigned n_names;
			char **v = store_rename_names(mb, &mb->idx.recs[i], &n_names);
			if (count + n_names > cap) {
				cap = (count + n_names) * 2;
				names = xreallocarray(names, cap, sizeof(*names));
			}
			memcpy(names + count, v, n_names * sizeof(*v));
			count += n_names;
			free(v);
			mb->idx.recs[i].mark = 1;
			continue;
		}
		ret = store_rename_try(mb, &mb->idx.recs[i], unlink_path, NULL, &name);
		if (ret < 0) {
			snprintf(path, sizeof(path), "%s/cur/%s", mb->dir, name);
			store_error_sys(error_r, "unlink", path);
			return -1;	/* those removed so far are expunged */
		}
		if (ret > 0)
			store_watch_own(mb, 'D', name);
		mb->idx.recs[i].mark = 1;
	}
	if (count > 0)
		unlink_later(mb, names, count);
	return 1;
}

int store_expunge_run(struct mbox *mb, struct store_mailbox *origin, uint32_t *uids,
		      unsigned *n, bool later, struct store_error *error_r)
{
	uint64_t modseq = 0;
	unsigned out = 0;
	int ret;

	if (store_mbox_check(mb, error_r) < 0)
		return -1;
	if (mb->mbox_path != NULL)
		ret = store_mboxfile_expunge(mb, uids, *n, error_r);
	else
		ret = unlink_files(mb, uids, *n, later, error_r);
	for (unsigned k = 0; k < mb->idx.count; k++) {
		struct index_rec *r = &mb->idx.recs[k];
		if (!r->mark)
			continue;
		if (modseq == 0)
			modseq = store_index_next_modseq(mb);
		r->modseq = modseq;
		store_index_log(&mb->idx, INDEX_LOG_EXPUNGE, r, NULL);
		uidvec_push(&mb->chg_expunge, r->uid);
		if ((r->flags & REC_FLAG_UNMEASURED) != 0)
			store_account_usage_stale(mb->acct);	/* its bytes: count again */
		else
			store_account_usage_add(mb->acct, -(int64_t)r->size, -1);
		uids[out++] = r->uid;
	}
	store_index_remove_marked(&mb->idx);
	*n = out;
	if (out > 0)
		store_index_write_fallback(mb, false);
	store_index_commit(mb);
	store_mbox_notify(mb, origin);
	return ret;
}

int store_mailbox_expunge(struct store_mailbox *h, uint32_t *uids, unsigned *n,
			  struct store_error *error_r)
{
	return store_expunge_run(h->mb, h, uids, n, false, error_r);
}

int store_mailbox_expunge_later(struct store_mailbox *h, uint32_t *uids, unsigned *n,
				struct store_error *error_r)
{
	return store_expunge_run(h->mb, h, uids, n, true, error_r);
}
