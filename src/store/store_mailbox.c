/*
 * store_mailbox.c - shared folders and the sessions' handles on them.
 *
 * The first open of a folder loads its index (or rebuilds it from the
 * Maildir), its keywords and cache, and syncs; later opens share that
 * struct mbox and only add a handle.  Each change made through a handle
 * is collected in the mbox (UIDs of new, expunged and re-flagged
 * messages) and, once the index is consistent again, told to every other
 * handle's listener.  The last release writes what the log holds.
 */
#include "store/store_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define TMP_MAX_AGE (36 * 3600)	/* Maildir: tmp/ files older are litter */
/* A folder this big stays open (parked) after its last user while the
   account is in use: loading its index again costs time in proportion.
   So does a folder that APPEND or COPY filed messages into, whatever its
   size: the next one (a client saving to Sent with INBOX selected, an
   upload of many messages) would otherwise load it again every time.
   At most PARK_WRITTEN_MAX such smaller folders per account (a migration
   that fills hundreds of folders does not keep them all). */
#define PARK_MIN_MESSAGES 1000
#define PARK_WRITTEN_MAX 8

/* ---- shared folders ---- */

static struct mbox *find_open(struct store_account *a, const char *name)
{
	struct mbox *mb = a->open;

	while (mb != NULL && strcmp(mb->name, name) != 0)
		mb = mb->next;
	return mb;
}

static void clean_tmp(const struct mbox *mb)
{
	char path[STORE_PATH_MAX];
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tmp", mb->dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_ctime + TMP_MAX_AGE < now)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static bool renames_cut_short(const struct index *idx)
{
	for (unsigned i = 0; i < idx->count; i++)
		if ((idx->recs[i].flags & REC_FLAG_RENAMING) != 0)
			return true;
	return false;
}

static int mbox_load(struct mbox *mb, struct store_error *error_r)
{
	char path[STORE_PATH_MAX];
	struct stat st;
	int ret;

	snprintf(path, sizeof(path), "%s/cur", mb->dir);
	if (mb->mbox_path != NULL) {
		if (mkdir(mb->dir, 0700) < 0 && errno != EEXIST) {
			store_error_sys(error_r, "create", mb->dir);
			return -1;
		}
	} else if (stat(path, &st) < 0 && store_maildir_create(mb->dir) < 0) {
		store_error_sys(error_r, "create", mb->dir);
		return -1;
	}
	if (store_keywords_load(mb) < 0 || (ret = store_index_load(mb, error_r)) < 0) {
		store_error_set(error_r, STORE_ERROR_TEMP, "Internal error occurred, try again later");
		return -1;
	}
	if (store_cache_open(mb, ret == 0) < 0) {
		store_error_set(error_r, STORE_ERROR_TEMP, "Internal error occurred, try again later");
		return -1;
	}
	clean_tmp(mb);	/* an mbox INBOX's tmp/ holds its APPENDs on the way */
	/* an mbox is read whole only when it did not just grow; cur/ unless
	   the index log vouches for its present mtime and no flag renames
	   were cut short (their files get the index's flags) */
	return store_sync_run(mb, ret == 0, mb->mbox_path == NULL &&
			      (!mb->cur_clean || renames_cut_short(&mb->idx)), error_r);
}

static void mbox_free(struct mbox *mb)
{
	struct store_account *a = mb->acct;

	store_watch_end(mb);
	store_unlink_free(mb);
	store_renames_free(mb);
	store_index_close(mb);
	store_cache_close(mb);
	store_keywords_free(mb);
	store_index_deinit(&mb->idx);
	uidvec_free(&mb->chg_exists);
	uidvec_free(&mb->chg_expunge);
	uidvec_free(&mb->chg_flags);
	free(mb->name);
	free(mb->dir);
	free(mb->mbox_path);
	free(mb);
	store_account_unref(&a);
}

static void mbox_unlink(struct mbox *mb)
{
	struct mbox **p = &mb->acct->open;

	while (*p != NULL && *p != mb)
		p = &(*p)->next;
	if (*p != NULL)
		*p = mb->next;
	mb->next = NULL;
}

static struct mbox *mbox_new(struct store_account *a, const char *name, const char *dir)
{
	struct mbox *mb = xcalloc(1, sizeof(*mb));

	mb->name = xstrdup(name);
	mb->dir = xstrdup(dir);
	mb->acct = a;
	mb->refs = 1;
	mb->cache_fd = -1;
	mb->watch_wd = -1;
	store_index_init(&mb->idx);
	a->refs++;
	mb->next = a->open;
	a->open = mb;
	return mb;
}

int store_mbox_get(struct store_account *a, const char *name, struct mbox **r,
		   struct store_error *error_r)
{
	char canon[STORE_NAME_MAX + 1], dir[STORE_PATH_MAX];
	struct stat st;
	struct mbox *mb;

	if (store_name_normalize(name, canon, sizeof(canon), error_r) < 0)
		return -1;
	if ((mb = find_open(a, canon)) != NULL) {
		bool was_parked = mb->parked;
		store_mbox_ref(mb);
		/* a parked folder missed what others did meanwhile */
		if (was_parked && store_sync_run(mb, false, false, error_r) < 0) {
			store_mbox_release(mb);
			return -1;
		}
		*r = mb;
		return 1;
	}
	if (a->mbox_path != NULL && strcmp(canon, "INBOX") == 0) {
		/* the mbox file's index, beside the account's folders */
		snprintf(dir, sizeof(dir), "%s/%s", a->root, STORE_MBOX_INDEX_DIR);
	} else if (store_folder_path(a, canon, dir, sizeof(dir)) < 0 ||
		   stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		store_error_set(error_r, STORE_ERROR_NOT_FOUND, "Mailbox doesn't exist: %s", canon);
		return -1;
	}
	mb = mbox_new(a, canon, dir);
	if (a->mbox_path != NULL && strcmp(canon, "INBOX") == 0)
		mb->mbox_path = xstrdup(a->mbox_path);
	if (mbox_load(mb, error_r) < 0) {
		store_mbox_release(mb);
		return -1;
	}
	mb->ready = true;
	/* sizes a restart left unread (the index keeps them unmeasured) */
	store_sync_fill(mb);
	*r = mb;
	return 1;
}

void store_mbox_ref(struct mbox *mb)
{
	if (mb->refs++ == 0 && mb->parked) {
		mb->parked = false;
		mb->acct->refs++;
	}
}

/* Folders under PARK_MIN_MESSAGES that a's last APPEND or COPY left parked. */
static unsigned parked_small(const struct store_account *a)
{
	unsigned n = 0;

	for (const struct mbox *mb = a->open; mb != NULL; mb = mb->next)
		if (mb->parked && mb->idx.count < PARK_MIN_MESSAGES)
			n++;
	return n;
}

void store_mbox_release(struct mbox *mb)
{
	struct store_account *a = mb->acct;

	if (--mb->refs > 0)
		return;
	if (mb->ready && !mb->deleted && mb->mbox_path == NULL && !a->closing && a->refs > 1 &&
	    (mb->idx.count >= PARK_MIN_MESSAGES ||
	     (mb->written && parked_small(a) < PARK_WRITTEN_MAX))) {
		mb->parked = true;	/* its account reference goes */
		a->refs--;
		return;
	}
	if (!mb->deleted)
		mbox_unlink(mb);
	mbox_free(mb);
}

int store_mbox_check(struct mbox *mb, struct store_error *error_r)
{
	if (mb->deleted) {
		store_error_set(error_r, STORE_ERROR_NOT_FOUND, "Mailbox was deleted");
		return -1;
	}
	if (mb->busy) {
		store_error_set(error_r, STORE_ERROR_IN_USE, "Mailbox is busy");
		return -1;
	}
	return 1;
}

static void tell(struct mbox *mb, struct store_mailbox *origin,
		 enum store_change_kind kind, const struct uidvec *v)
{
	struct store_change c = { kind, v != NULL ? v->v : NULL, v != NULL ? v->n : 0 };
	struct store_mailbox *h, *next;

	for (h = mb->handles; h != NULL; h = next) {
		next = h->next;
		if (h != origin && h->listener != NULL)
			h->listener(h->ctx, h, &c);
	}
}

void store_mbox_notify(struct mbox *mb, struct store_mailbox *origin)
{
	mb->busy = true;
	if (mb->chg_keywords)
		tell(mb, origin, STORE_CHANGE_KEYWORDS, NULL);
	if (mb->chg_expunge.n > 0)
		tell(mb, origin, STORE_CHANGE_EXPUNGE, &mb->chg_expunge);
	if (mb->chg_flags.n > 0)
		tell(mb, origin, STORE_CHANGE_FLAGS, &mb->chg_flags);
	if (mb->chg_exists.n > 0)
		tell(mb, origin, STORE_CHANGE_EXISTS, &mb->chg_exists);
	mb->busy = false;
	mb->chg_keywords = false;
	mb->chg_expunge.n = mb->chg_flags.n = mb->chg_exists.n = 0;
}

void store_mbox_drop_parked(struct store_account *a)
{
	struct mbox *mb, *next;

	a->refs++;	/* held while they go */
	a->closing = true;
	for (mb = a->open; mb != NULL; mb = next) {
		next = mb->next;
		if (!mb->parked)
			continue;
		mb->parked = false;
		a->refs++;
		mb->refs = 1;
		store_mbox_release(mb);
	}
	a->closing = false;
	a->refs--;
}

void store_mbox_gone(struct mbox *mb)
{
	mbox_unlink(mb);
	mb->deleted = true;
	mb->chg_keywords = false;
	mb->chg_expunge.n = mb->chg_flags.n = mb->chg_exists.n = 0;
	mb->busy = true;
	tell(mb, NULL, STORE_CHANGE_GONE, NULL);
	mb->busy = false;
	if (mb->parked) {	/* nobody else holds it */
		mb->parked = false;
		mb->acct->refs++;
		mb->refs = 1;
		store_mbox_release(mb);
	}
}

/* ---- handles ---- */

int store_mailbox_open(struct store_account *a, const char *name,
		       store_listener_fn *listener, void *ctx,
		       struct store_mailbox **r, struct store_error *error_r)
{
	struct store_mailbox *h;
	struct mbox *mb;

	if (store_mbox_get(a, name, &mb, error_r) < 0)
		return -1;
	/* already open: bring it up to date (a first open has just synced) */
	if (mb->refs > 1 && !mb->busy && store_sync_run(mb, false, false, error_r) < 0) {
		store_mbox_release(mb);
		return -1;
	}
	h = xcalloc(1, sizeof(*h));
	h->mb = mb;
	h->listener = listener;
	h->ctx = ctx;
	h->next = mb->handles;
	mb->handles = h;
	*r = h;
	return 1;
}

void store_mailbox_close(struct store_mailbox **hp)
{
	struct store_mailbox *h = *hp, **p;

	if (h == NULL)
		return;
	for (p = &h->mb->handles; *p != NULL && *p != h; p = &(*p)->next)
		;
	if (*p != NULL)
		*p = h->next;
	store_mbox_release(h->mb);
	free(h);
	*hp = NULL;
}

int store_mailbox_sync(struct store_mailbox *h, struct store_error *error_r)
{
	return store_sync_run(h->mb, false, false, error_r);
}

const char *store_mailbox_name(struct store_mailbox *h)
{
	return h->mb->name;
}

void store_mailbox_status(struct store_mailbox *h, struct store_status *st)
{
	const struct index *idx = &h->mb->idx;

	memset(st, 0, sizeof(*st));
	st->messages = idx->count;
	st->uidnext = idx->uidnext;
	st->uidvalidity = idx->uidvalidity;
	st->highestmodseq = idx->highestmodseq;
	st->recent = idx->count - store_index_lower(idx, idx->first_recent);
	for (unsigned i = 0; i < idx->count; i++) {
		if ((idx->recs[i].flags & STORE_FLAG_DELETED) != 0)
			st->deleted++;
		if ((idx->recs[i].flags & STORE_FLAG_SEEN) != 0)
			continue;
		if (st->unseen++ == 0)
			st->first_unseen = i + 1;
	}
}

void store_mailbox_status_sizes(struct store_mailbox *h, struct store_status *st)
{
	struct index *idx = &h->mb->idx;

	st->size = st->deleted_size = 0;
	for (unsigned i = 0; i < idx->count; i++) {
		store_rec_measure(h->mb, &idx->recs[i]);
		st->size += idx->recs[i].vsize;
		if ((idx->recs[i].flags & STORE_FLAG_DELETED) != 0)
			st->deleted_size += idx->recs[i].size;
	}
}

uint32_t store_mailbox_first_recent(struct store_mailbox *h)
{
	return h->mb->idx.first_recent;
}

uint32_t store_mailbox_claim_recent(struct store_mailbox *h)
{
	struct index *idx = &h->mb->idx;
	uint32_t first = idx->first_recent;

	if (first != idx->uidnext && !h->mb->deleted) {
		idx->first_recent = idx->uidnext;
		store_index_log(idx, INDEX_LOG_STATE, NULL, NULL);
		store_index_commit(h->mb);
	}
	return first;
}

/* ---- messages ---- */

/* m from r, without its size, vsize and date. */
static void fill_flags(const struct index *idx, const struct index_rec *r,
		       struct store_msg *m)
{
	const char *name = store_index_name(idx, r), *colon = strchr(name, ':');

	m->uid = r->uid;
	m->flags = r->flags & STORE_FLAGS_SYSTEM;
	m->keywords = r->keywords;
	m->modseq = r->modseq;
	m->internal_date = 0;
	m->size = m->vsize = 0;
	m->name = name;
	m->base_len = colon != NULL ? (size_t)(colon - name) : strlen(name);
}

/* m from r, measuring its file if the sync left that for later. */
static void fill_msg(struct mbox *mb, struct index_rec *r, struct store_msg *m)
{
	store_rec_measure(mb, r);
	fill_flags(&mb->idx, r, m);
	m->internal_date = (time_t)r->date;
	m->size = r->size;
	m->vsize = r->vsize;
}

unsigned store_mailbox_count(struct store_mailbox *h)
{
	return h->mb->idx.count;
}

void store_mailbox_get(struct store_mailbox *h, unsigned i, struct store_msg *m)
{
	fill_msg(h->mb, &h->mb->idx.recs[i], m);
}

uint32_t store_mailbox_uid_at(struct store_mailbox *h, unsigned i)
{
	return h->mb->idx.recs[i].uid;
}

/* Position of uid, starting from the hint; -1 if none. */
static long find_hinted(struct store_mailbox *h, uint32_t uid)
{
	const struct index *idx = &h->mb->idx;
	unsigned at = h->hint;
	long i;

	if (at < idx->count && idx->recs[at].uid == uid)
		i = at;
	else if (at + 1 < idx->count && idx->recs[at + 1].uid == uid)
		i = at + 1;
	else if ((i = store_index_find(idx, uid)) < 0)
		return -1;
	h->hint = (unsigned)i;
	return i;
}

int store_mailbox_lookup(struct store_mailbox *h, uint32_t uid, struct store_msg *m)
{
	long i = find_hinted(h, uid);

	if (i < 0)
		return 0;
	fill_msg(h->mb, &h->mb->idx.recs[i], m);
	return 1;
}

int store_mailbox_lookup_flags(struct store_mailbox *h, uint32_t uid, struct store_msg *m)
{
	long i = find_hinted(h, uid);

	if (i < 0)
		return 0;
	fill_flags(&h->mb->idx, &h->mb->idx.recs[i], m);
	return 1;
}

uint32_t store_mailbox_unseen_low(struct store_mailbox *h)
{
	struct mbox *mb = h->mb;
	const struct index *idx = &mb->idx;
	unsigned i;

	if (!mb->unseen_known || mb->unseen_modseq != idx->highestmodseq ||
	    mb->unseen_count != idx->count) {
		mb->unseen_known = true;
		mb->unseen_modseq = idx->highestmodseq;
		mb->unseen_count = idx->count;
		mb->unseen_pos = 0;
	}
	for (i = mb->unseen_pos; i < idx->count && (idx->recs[i].flags & STORE_FLAG_SEEN) != 0; i++)
		;
	mb->unseen_pos = i;
	return i < idx->count ? idx->recs[i].uid : idx->uidnext;
}

int store_mailbox_lookup_meta(struct store_mailbox *h, uint32_t uid, struct store_msg *m)
{
	struct index_rec *r;
	long i = find_hinted(h, uid);

	if (i < 0)
		return 0;
	r = &h->mb->idx.recs[i];
	store_rec_measure(h->mb, r);
	m->uid = r->uid;
	m->flags = r->flags & STORE_FLAGS_SYSTEM;
	m->keywords = r->keywords;
	m->modseq = r->modseq;
	m->internal_date = (time_t)r->date;
	m->size = r->size;
	m->vsize = r->vsize;
	m->name = NULL;		/* the names pool is not touched */
	m->base_len = 0;
	return 1;
}

unsigned store_mailbox_seek(struct store_mailbox *h, uint32_t uid)
{
	return store_index_lower(&h->mb->idx, uid);
}

/* Open path for reading into *(int *)arg: 1, 0 not there, -1. */
static int open_path(const char *path, void *arg)
{
	int *fd_r = arg;

	if ((*fd_r = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

static int open_file(struct store_mailbox *h, uint32_t uid, int *fd_r,
		     struct store_msg *m)
{
	struct stat st;
	const char *name;
	long i = store_index_find(&h->mb->idx, uid);
	int ret;

	if (i < 0)
		return 0;
	fill_msg(h->mb, &h->mb->idx.recs[i], m);
	if (h->mb->mbox_path != NULL)
		return store_mboxfile_open_msg(h->mb, &h->mb->idx.recs[i], fd_r);
	/* under its index name, or a name its pending renames give it */
	if ((ret = store_rename_try(h->mb, &h->mb->idx.recs[i], open_path, fd_r, &name)) <= 0)
		return ret;
	if (fstat(*fd_r, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd_r);
		errno = EINVAL;
		return -1;
	}
	return 1;
}

int store_mailbox_open_msg(struct store_mailbox *h, uint32_t uid, int *fd_r,
			   struct store_msg *m, struct store_error *error_r)
{
	int ret = open_file(h, uid, fd_r, m);

	if (ret == 0 && store_index_find(&h->mb->idx, uid) >= 0 && !h->mb->busy) {
		/* renamed by another program, or gone: look again */
		if (store_sync_run(h->mb, false, true, error_r) < 0)
			return -1;
		ret = open_file(h, uid, fd_r, m);
	}
	if (ret < 0)
		store_error_sys(error_r, "open", h->mb->dir);
	return ret;
}

/* ---- keywords ---- */

unsigned store_mailbox_keyword_count(struct store_mailbox *h)
{
	return h->mb->n_keywords;
}

const char *store_mailbox_keyword_name(struct store_mailbox *h, unsigned i)
{
	return i < h->mb->n_keywords ? h->mb->keywords[i] : NULL;
}

int store_mailbox_keyword(struct store_mailbox *h, const char *name, bool create,
			  unsigned *index_r, struct store_error *error_r)
{
	int ret;

	if (create && store_mbox_check(h->mb, error_r) < 0)
		return -1;
	ret = store_keywords_find(h->mb, name, create, index_r, error_r);
	if (h->mb->chg_keywords)
		store_mbox_notify(h->mb, h);
	return ret;
}

/* ---- POP3 ---- */

struct store_snapshot *store_snapshot_new(struct store_mailbox *h)
{
	struct index *idx = &h->mb->idx;
	size_t names = 0;
	struct store_snapshot *s;
	struct store_msg m;
	char *pool;

	for (unsigned i = 0; i < idx->count; i++)
		names += strlen(store_index_name(idx, &idx->recs[i])) + 1;
	s = xcalloc(1, sizeof(*s) + idx->count * sizeof(s->msgs[0]) + names);
	s->msgs = (struct store_snapshot_msg *)(s + 1);
	pool = (char *)(s->msgs + idx->count);
	s->uidvalidity = idx->uidvalidity;
	s->count = idx->count;
	for (size_t i = 0, at = 0; i < idx->count; i++) {
		fill_msg(h->mb, &idx->recs[i], &m);
		s->msgs[i].uid = m.uid;
		s->msgs[i].vsize = m.vsize;
		s->msgs[i].base = pool + at;
		memcpy(pool + at, m.name, m.base_len);
		pool[at + m.base_len] = '\0';
		at += m.base_len + 1;
		s->total_vsize += m.vsize;
	}
	return s;
}

void store_snapshot_free(struct store_snapshot **s)
{
	free(*s);
	*s = NULL;
}
