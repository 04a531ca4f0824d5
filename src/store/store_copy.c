/*
 * store_copy.c - COPY and MOVE between folders of one account (also the
 * RENAME of INBOX).
 *
 * Three steps.  Files: each message gets a new unique base and the next
 * UID of the destination, and is hard-linked (copy; a real copy through
 * tmp/ where links fail) or renamed (move) into the destination's cur/;
 * then cur/ is fsynced.  Source: moved messages are expunged and the
 * source's other handles told.  Destination: the new records are indexed
 * (flags, keywords by name, internal date, cache) and every handle on it
 * is told, the caller's too (it gets EXISTS for a copy into its own
 * folder).  A failure stops the file step; what was done is indexed.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct copied {
	struct index_rec rec;	/* as it will be in the destination */
	uint32_t src_uid;
	char name[STORE_FILE_MAX];
};

struct copy_ctx {
	struct mbox *src, *dst;
	bool move;
	uint32_t next_uid;
	uint8_t kw_map[STORE_MAX_KEYWORDS];	/* source index -> destination + 1 */
	struct copied *done;
	unsigned n_done;
	struct buf cache;
	/* store_copy_commit: the directories to fsync afterwards (else
	   NULL: fsynced here) */
	char (*dirs)[STORE_PATH_MAX];
	unsigned n_dirs;
};

/* Map the source's keywords to the destination's, adding them there. */
static void map_keywords(struct copy_ctx *cc)
{
	unsigned k;

	for (unsigned i = 0; i < cc->src->n_keywords; i++) {
		cc->kw_map[i] = 0;
		if (cc->src->keywords[i] != NULL &&
		    store_keywords_find(cc->dst, cc->src->keywords[i], true, &k, NULL) > 0)
			cc->kw_map[i] = (uint8_t)(k + 1);
	}
}

static uint32_t mapped(const struct copy_ctx *cc, uint32_t keywords)
{
	uint32_t out = 0;

	for (unsigned i = 0; i < STORE_MAX_KEYWORDS; i++)
		if ((keywords & (1u << i)) != 0 && cc->kw_map[i] != 0)
			out |= 1u << (cc->kw_map[i] - 1);
	return out;
}

/* A real copy of in, through the destination's tmp/, with mtime date
   (in's when date is 0).  Closes in. */
static int copy_fd(struct copy_ctx *cc, int in, time_t date, const char *to)
{
	char tmp[STORE_PATH_MAX], unique[200], block[65536];
	struct stat st;
	int out, ret = 1;
	ssize_t n;

	store_unique_name(cc->src->acct->store, unique, sizeof(unique));
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", cc->dst->dir, unique);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	while (out >= 0 && ret > 0 && (n = read(in, block, sizeof(block))) != 0)
		ret = n < 0 ? -1 : write_all(out, block, (size_t)n);
	if (out < 0 || fstat(in, &st) < 0)
		ret = -1;
	else if (date != 0)
		st.st_atim = st.st_mtim = (struct timespec){ .tv_sec = date };
	if (ret > 0 && (futimens(out, (struct timespec[2]){ st.st_atim, st.st_mtim }) < 0 ||
			fsync(out) < 0))
		ret = -1;
	close(in);
	if (out >= 0 && close(out) < 0)
		ret = -1;
	if (ret > 0 && store_rename_noreplace(tmp, to) < 0)
		ret = -1;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

static int copy_file(struct copy_ctx *cc, const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	return in < 0 ? -1 : copy_fd(cc, in, 0, to);
}

/* A message of an mbox: its served text.  1, 0 gone, -1. */
static int copy_from_mbox(struct copy_ctx *cc, const struct index_rec *r, const char *to)
{
	int in, ret = store_mboxfile_open_msg(cc->src, r, &in);

	if (ret <= 0) {
		if (ret == 0)
			errno = ENOENT;
		return -1;
	}
	return copy_fd(cc, in, (time_t)r->date, to);
}

/* 2 linked, 1 renamed or copied in (through tmp/), -1 error. */
static int place_file(struct copy_ctx *cc, const char *from, const char *to)
{
	if (cc->move)
		return store_rename_noreplace(from, to) < 0 ? -1 : 1;
	if (link(from, to) == 0)
		return 2;
	if (errno != EXDEV && errno != EMLINK && errno != EPERM)
		return -1;
	return copy_file(cc, from, to);
}

struct place {
	struct copy_ctx *cc;
	const char *to;
	int placed;
};

/* place_file from path: 1 done, 0 not there, -1 error. */
static int place_path(const char *path, void *arg)
{
	struct place *p = arg;

	if ((p->placed = place_file(p->cc, path, p->to)) >= 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* Step 1 for one message.  1 done, 0 gone, -1 error. */
static int copy_one(struct copy_ctx *cc, const struct index_rec *r,
		    struct store_error *error_r)
{
	char from[STORE_PATH_MAX], to[STORE_PATH_MAX], base[200];
	struct copied *c = &cc->done[cc->n_done];
	struct place p = { cc, to, -1 };
	const char *name = store_index_name(&cc->src->idx, r);

	store_unique_name(cc->src->acct->store, base, sizeof(base));
	c->rec = *r;
	c->rec.flags &= (uint8_t)~REC_FLAG_RENAMING;	/* named as it is */
	c->rec.uid = cc->next_uid;
	c->rec.keywords = mapped(cc, r->keywords);
	c->rec.cache_off = c->rec.cache_len = 0;
	c->src_uid = r->uid;
	store_maildir_name(c->name, sizeof(c->name), base, strlen(base), r->size,
			   r->vsize, c->rec.uid, r->flags, c->rec.keywords);
	snprintf(to, sizeof(to), "%s/cur/%s", cc->dst->dir, c->name);
	if (cc->src->mbox_path != NULL) {
		p.placed = copy_from_mbox(cc, r, to);
	} else if (store_rename_try(cc->src, r, place_path, &p, &name) == 0) {
		errno = ENOENT;		/* under none of its names */
		p.placed = -1;
	}
	snprintf(from, sizeof(from), "%s/cur/%s", cc->src->dir, name);
	int placed = p.placed;

	if (placed < 0) {
		if (errno == ENOENT) {
			cc->src->cur_clean = false;
			store_watch_lost(cc->src);
			cc->src->mbox_known = false;
			return 0;
		}
		store_error_sys(error_r, cc->move ? "rename" : "link", from);
		return -1;
	}
	if (cc->move && cc->src->mbox_path == NULL)
		store_watch_own(cc->src, 'F', name);
	store_watch_own(cc->dst, placed == 2 ? 'C' : 'T', c->name);
	if (store_cache_read(cc->src, r, &cc->cache) > 0 &&
	    store_cache_write(cc->dst, &c->rec, cc->cache.data, cc->cache.len) <= 0)
		c->rec.cache_off = c->rec.cache_len = 0;
	cc->next_uid++;
	cc->n_done++;
	return 1;
}

static int copy_files(struct copy_ctx *cc, const uint32_t *uids, unsigned n,
		      struct store_error *error_r)
{
	char path[STORE_PATH_MAX];
	int ret = 1;
	long i;

	for (unsigned k = 0; ret >= 0 && k < n; k++)
		if ((i = store_index_find(&cc->src->idx, uids[k])) >= 0)
			ret = copy_one(cc, &cc->src->idx.recs[i], error_r);
	if (cc->n_done == 0)
		return ret < 0 ? -1 : 1;
	snprintf(path, sizeof(path), "%s/cur", cc->dst->dir);
	if (cc->dirs != NULL) {
		snprintf(cc->dirs[cc->n_dirs++], STORE_PATH_MAX, "%s", path);
		if (cc->move && cc->src->mbox_path == NULL && cc->src != cc->dst)
			snprintf(cc->dirs[cc->n_dirs++], STORE_PATH_MAX, "%s/cur", cc->src->dir);
	} else {
		store_disk_delay(cc->dst->acct->store);
		if (fsync_dir(path) < 0) {
			store_error_sys(error_r, "fsync", path);
			ret = -1;
		}
		snprintf(path, sizeof(path), "%s/cur", cc->src->dir);
		if (cc->move && cc->src->mbox_path == NULL && fsync_dir(path) < 0)
			log_warn("store: fsync %s: %m", path);
	}
	cc->dst->idx.uidnext = cc->next_uid;
	cc->dst->cur_clean = cc->src->cur_clean = false;
	return ret < 0 ? -1 : 1;
}

/* Step 2 for an mbox: the file is rewritten without them. */
static void expunge_moved_mbox(struct copy_ctx *cc, struct store_mailbox *origin)
{
	uint32_t *uids = xcalloc(cc->n_done, sizeof(*uids));
	struct store_error err;
	unsigned n = cc->n_done;

	for (unsigned k = 0; k < n; k++)
		uids[k] = cc->done[k].src_uid;
	if (store_expunge_run(cc->src, origin, uids, &n, false, &err) < 0)
		log_err("store: %s: moved messages stay in the mbox: %s",
			cc->src->mbox_path, err.text);
	free(uids);
}

/* Step 2: moved messages leave the source. */
static void expunge_moved(struct copy_ctx *cc, struct store_mailbox *origin)
{
	struct mbox *src = cc->src;
	uint64_t modseq;
	long i;

	if (!cc->move || cc->n_done == 0)
		return;
	if (src->mbox_path != NULL) {
		expunge_moved_mbox(cc, origin);
		return;
	}
	modseq = store_index_next_modseq(src);
	for (unsigned k = 0; k < cc->n_done; k++) {
		if ((i = store_index_find(&src->idx, cc->done[k].src_uid)) < 0)
			continue;
		src->idx.recs[i].mark = 1;
		src->idx.recs[i].modseq = modseq;
		store_index_log(&src->idx, INDEX_LOG_EXPUNGE, &src->idx.recs[i], NULL);
		uidvec_push(&src->chg_expunge, cc->done[k].src_uid);
	}
	store_index_remove_marked(&src->idx);
	store_index_write_fallback(src, false);
	store_index_commit(src);
	store_mbox_notify(src, origin);
}

/* Step 3: the destination's index. */
static void index_copies(struct copy_ctx *cc)
{
	struct mbox *dst = cc->dst;
	uint64_t modseq;

	if (cc->n_done == 0)
		return;
	modseq = store_index_next_modseq(dst);
	for (unsigned k = 0; k < cc->n_done; k++) {
		struct copied *c = &cc->done[k];
		c->rec.modseq = modseq;
		store_index_append(&dst->idx, &c->rec, c->name);
		store_index_log(&dst->idx, INDEX_LOG_ADD, &c->rec, c->name);
		uidvec_push(&dst->chg_exists, c->rec.uid);
		if (!cc->move)
			store_account_usage_add(dst->acct, (int64_t)c->rec.size, 1);
	}
	store_index_commit(dst);
	dst->written = true;	/* parked after use: the next COPY finds it */
	store_mbox_notify(dst, NULL);
}

/* ---- into an mbox INBOX ---- */

static int open_path(const char *path, void *arg)
{
	int *fd_r = arg;

	if ((*fd_r = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* The text of r for appending: 1 and *fd_r, 0 gone, -1 error. */
static int open_source(struct copy_ctx *cc, const struct index_rec *r, int *fd_r)
{
	const char *name;
	int ret;

	if (cc->src->mbox_path != NULL)
		return store_mboxfile_open_msg(cc->src, r, fd_r);
	if ((ret = store_rename_try(cc->src, r, open_path, fd_r, &name)) != 0)
		return ret;
	cc->src->cur_clean = false;
	store_watch_lost(cc->src);
	return 0;
}

/* The messages' texts, appended to the mbox file under one lock. */
static int append_to_mbox(struct copy_ctx *cc, const uint32_t *uids, unsigned n,
			  struct store_error *error_r)
{
	struct mbox_add *adds = xcalloc(n + 1, sizeof(*adds));
	unsigned k = 0;
	int ret = 1;
	long i;

	for (unsigned j = 0; ret > 0 && j < n; j++) {
		const struct index_rec *r;
		if ((i = store_index_find(&cc->src->idx, uids[j])) < 0)
			continue;
		r = &cc->src->idx.recs[i];
		adds[k] = (struct mbox_add){ .flags = r->flags & STORE_FLAGS_SYSTEM,
					     .keywords = mapped(cc, r->keywords), .date = r->date };
		if ((ret = open_source(cc, r, &adds[k].fd)) < 0)
			store_error_sys(error_r, "open", cc->src->dir);
		if (ret > 0)
			cc->done[k++].src_uid = uids[j];
		ret = ret < 0 ? -1 : 1;
	}
	if (ret > 0 && k > 0)
		ret = store_mboxfile_append(cc->dst, adds, k, error_r);
	for (unsigned j = 0; j < k; j++) {
		close(adds[j].fd);
		cc->done[j].rec.uid = adds[j].uid;
		if (adds[j].uid != 0)
			cc->done[cc->n_done++] = cc->done[j];
	}
	free(adds);
	return ret;
}

/* COPY or MOVE into an mbox INBOX: append, then expunge what moved. */
static int copy_into_mbox(struct copy_ctx *cc, struct store_mailbox *origin,
			  const uint32_t *uids, unsigned n, struct store_error *error_r)
{
	struct store_error err;
	uint32_t *moved;
	unsigned m;
	int ret = append_to_mbox(cc, uids, n, error_r);

	store_index_commit(cc->dst);
	store_mbox_notify(cc->dst, NULL);
	if (!cc->move || cc->n_done == 0)
		return ret;
	moved = xcalloc(cc->n_done, sizeof(*moved));
	for (m = 0; m < cc->n_done; m++)
		moved[m] = cc->done[m].src_uid;
	if (store_expunge_run(cc->src, origin, moved, &m, false, &err) < 0)
		log_err("store: %s: moved messages stay in the source: %s", cc->src->dir, err.text);
	free(moved);
	return ret;
}

static int quota_ok(struct copy_ctx *cc, const uint32_t *uids, unsigned n,
		    struct store_error *error_r)
{
	uint64_t bytes = 0;
	int ret;
	long i;

	if (cc->move)
		return 1;
	for (unsigned k = 0; k < n; k++)
		if ((i = store_index_find(&cc->src->idx, uids[k])) >= 0)
			bytes += cc->src->idx.recs[i].size;
	ret = store_account_quota_check(cc->src->acct, bytes, error_r);
	if (ret == 0)
		store_error_set(error_r, STORE_ERROR_OVER_QUOTA, "Quota exceeded");
	return ret > 0 ? 1 : -1;
}

static void report(const struct copy_ctx *cc, const uint32_t *uids, unsigned n,
		   uint32_t *new_uids)
{
	unsigned d = 0;

	for (unsigned k = 0; k < n; k++) {
		new_uids[k] = 0;
		if (d < cc->n_done && cc->done[d].src_uid == uids[k])
			new_uids[k] = cc->done[d++].rec.uid;
	}
}

/* store_copy_run, with the directories to fsync left in dirs[0..*n_dirs_r)
   (dirs NULL: fsynced here). */
static int copy_run(struct mbox *src, struct store_mailbox *origin,
		    const uint32_t *uids, unsigned n, const char *dest, bool move,
		    uint32_t *new_uids, uint32_t *uidvalidity_r,
		    char (*dirs)[STORE_PATH_MAX], unsigned *n_dirs_r,
		    struct store_error *error_r)
{
	struct copy_ctx cc = { .src = src, .move = move, .dirs = dirs };
	int ret;
	long i;

	/* the quota and the copies' names want the sizes */
	for (unsigned k = 0; k < n; k++)
		if ((i = store_index_find(&src->idx, uids[k])) >= 0)
			store_rec_measure(src, &src->idx.recs[i]);
	if (store_mbox_check(src, error_r) < 0 ||
	    store_mbox_get(src->acct, dest, &cc.dst, error_r) < 0)
		return -1;
	if (store_mbox_check(cc.dst, error_r) < 0 || quota_ok(&cc, uids, n, error_r) < 0) {
		store_mbox_release(cc.dst);
		return -1;
	}
	cc.done = xcalloc(n + 1, sizeof(*cc.done));
	buf_init(&cc.cache, 0);
	map_keywords(&cc);
	cc.next_uid = cc.dst->idx.uidnext;
	*uidvalidity_r = cc.dst->idx.uidvalidity;
	if (cc.dst->mbox_path != NULL) {
		ret = copy_into_mbox(&cc, origin, uids, n, error_r);
	} else {
		ret = copy_files(&cc, uids, n, error_r);
		expunge_moved(&cc, origin);
		index_copies(&cc);
	}
	report(&cc, uids, n, new_uids);
	buf_deinit(&cc.cache);
	free(cc.done);
	store_mbox_release(cc.dst);
	if (n_dirs_r != NULL)
		*n_dirs_r = cc.n_dirs;
	return ret;
}

int store_copy_run(struct mbox *src, struct store_mailbox *origin,
		   const uint32_t *uids, unsigned n, const char *dest, bool move,
		   uint32_t *new_uids, uint32_t *uidvalidity_r,
		   struct store_error *error_r)
{
	return copy_run(src, origin, uids, n, dest, move, new_uids, uidvalidity_r, NULL, NULL,
			error_r);
}

int store_copy(struct store_mailbox *h, const uint32_t *uids, unsigned n,
	       const char *dest, bool move, uint32_t *new_uids,
	       uint32_t *uidvalidity_r, struct store_error *error_r)
{
	return store_copy_run(h->mb, h, uids, n, dest, move, new_uids,
			      uidvalidity_r, error_r);
}

/* ---- store_copy_commit: the directory flush on the workers ---- */

struct copy_wait {
	struct store_wait w;	/* first */
	int result;
	struct store_error err;
	store_copy_fn *cb;
	void *ctx;
};

static void copy_flushed(void *arg, int result)
{
	struct copy_wait *cw = arg;

	if (result < 0 && cw->result > 0) {
		cw->result = -1;
		store_error_set(&cw->err, STORE_ERROR_TEMP, "cannot write the folder to disk");
	}
	if (!cw->w.cancelled)
		cw->cb(cw->ctx, cw->result, &cw->err);
	if (cw->w.finished != NULL)
		*cw->w.finished = true;
	free(cw);
}

struct store_wait *store_copy_commit(struct store_mailbox *h, const uint32_t *uids,
				     unsigned n, const char *dest, bool move,
				     uint32_t *new_uids, uint32_t *uidvalidity_r,
				     store_copy_fn *cb, void *ctx)
{
	struct copy_wait *cw = xcalloc(1, sizeof(*cw));
	char dirs[2][STORE_PATH_MAX];
	const char *paths[2] = { dirs[0], dirs[1] };
	unsigned n_dirs = 0;
	bool finished = false;

	cw->cb = cb;
	cw->ctx = ctx;
	cw->w.finished = &finished;
	cw->result = copy_run(h->mb, h, uids, n, dest, move, new_uids, uidvalidity_r, dirs,
			      &n_dirs, &cw->err);
	if (n_dirs == 0)
		copy_flushed(cw, 1);
	else
		store_flush_dirs(h->mb->acct->store, paths, n_dirs, copy_flushed, cw);
	if (finished)
		return NULL;
	cw->w.finished = NULL;
	return &cw->w;
}
