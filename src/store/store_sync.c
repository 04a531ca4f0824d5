/*
 * store_sync.c - bringing a folder's index in line with its Maildir: new
 * deliveries, and what other programs (mutt, a shell) did.
 *
 * new/ is read at every sync (usually empty: one getdents).  cur/ is read
 * when its mtime changed since the last scan, or when that mtime was too
 * young to be trusted when we looked: a change in the same clock tick
 * would not move it.  "Too young" is 50 ms on file systems with
 * sub-second times (Linux stamps files with the kernel tick, 1-10 ms),
 * one second where the nanoseconds are zero.  Our own renames move the
 * mtime too; so while the folder is open, an inotify watch on cur/
 * (store_watch.c) tells our own changes from other programs', and cur/
 * is read again only after one of theirs.
 *
 * In cur/, a file whose ",U=" names a message of the index
 * with the same base is that message (a different ":2," suffix means its
 * flags changed); files of the index not seen are expunged; every other
 * file is a newcomer.
 *
 * Newcomers get UIDs in arrival order (the leading number of the name,
 * then the file's mtime, then the name).  A newcomer keeps the UID of its
 * ",U=" when that cannot clash: always in a rebuild (the index was lost),
 * otherwise when it is at or above UIDNEXT (a message we named before a
 * crash lost the index log).  A newcomer from new/ is renamed into cur/
 * as "<base>,S=,W=,U=:2,<flags>"; one found in cur/ keeps its name (a
 * rename per file made the first look at a big folder slow), the index
 * holding its UID and sizes, and its base (up to ':') finds it at the
 * next scan.  Reading it once gives its RFC822.SIZE, unless S= and W=
 * are in its name.
 */
#include "store/store_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define UID_TRUST_WINDOW 1000000u	/* a U= further above UIDNEXT is foreign */
#define DIRTY_NS 50000000LL		/* mtime younger than this: rescan */
#define DIRTY_COARSE_NS 1000000000LL	/* the same with whole-second times */

struct newcomer {
	char *fname;
	bool in_new;
	bool skip;
	struct mdname md;
	uint32_t uid;		/* kept from U=, or 0 */
	uint64_t key;		/* arrival order */
	time_t date;
	uint64_t size, vsize;
};

struct sync_ctx {
	struct mbox *mb;
	bool rebuild;
	uint64_t modseq;	/* of this sync, once something changed */
	struct newcomer *v;
	unsigned n, cap;
	/* records whose name has no U=, by base (position + 1; 0 empty),
	   built at the first such file of a scan */
	unsigned *by_base;
	size_t by_base_mask;
	bool by_base_built;
};

int store_rename_noreplace(const char *from, const char *to)
{
#ifdef SYS_renameat2
	if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* NOREPLACE */) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	/* XXX: file systems without RENAME_NOREPLACE: link + unlink */
	if (link(from, to) < 0)
		return -1;
	unlink(from);
	return 0;
}

/* ---- reading the directories ---- */

static void add_newcomer(struct sync_ctx *sc, const char *fname, bool in_new,
			 const struct mdname *md)
{
	struct newcomer *nc;

	if (sc->n == sc->cap) {
		sc->cap = sc->cap < 64 ? 64 : sc->cap * 2;
		if ((sc->v = realloc(sc->v, sc->cap * sizeof(*sc->v))) == NULL)
			fatal("out of memory");
	}
	nc = &sc->v[sc->n++];
	memset(nc, 0, sizeof(*nc));
	if ((nc->fname = strdup(fname)) == NULL)
		fatal("out of memory");
	nc->in_new = in_new;
	nc->md = *md;
}

/* A file of cur/ whose flags changed under another program's hand. */
static void external_flags(struct sync_ctx *sc, struct index_rec *r,
			   const char *fname, const struct mdname *md)
{
	struct mbox *mb = sc->mb;
	uint32_t known = 0;

	for (unsigned i = 0; i < mb->n_keywords; i++)
		if (mb->keywords[i] != NULL)
			known |= 1u << i;
	store_index_set_name(&mb->idx, r, fname);
	if (r->flags != md->flags || r->keywords != (md->keywords & known)) {
		r->flags = md->flags;
		r->keywords = md->keywords & known;
		r->modseq = store_index_lazy_modseq(sc->mb, &sc->modseq);
		uidvec_push(&mb->chg_flags, r->uid);
	}
	store_index_log(&mb->idx, INDEX_LOG_FLAGS, r, fname);
}

static size_t base_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The table of records named without U= (files kept as another program
   left them in cur/). */
static void build_by_base(struct sync_ctx *sc)
{
	struct index *idx = &sc->mb->idx;
	struct mdname md;
	size_t size = 16, h;

	sc->by_base_built = true;
	while (size < (size_t)idx->count * 2)
		size *= 2;
	if ((sc->by_base = calloc(size, sizeof(*sc->by_base))) == NULL)
		fatal("out of memory");
	sc->by_base_mask = size - 1;
	for (unsigned i = 0; i < idx->count; i++) {
		const char *name = store_index_name(idx, &idx->recs[i]);
		store_maildir_parse(name, &md);
		if (md.uid != 0)
			continue;
		for (h = base_hash(name, md.base_len); sc->by_base[h & sc->by_base_mask] != 0; h++)
			;
		sc->by_base[h & sc->by_base_mask] = i + 1;
	}
}

/* The unmarked record named without U= whose base is fname's, or -1. */
static long find_by_base(struct sync_ctx *sc, const char *fname, size_t base_len)
{
	struct index *idx = &sc->mb->idx;
	size_t h;
	unsigned k;

	if (!sc->by_base_built)
		build_by_base(sc);
	for (h = base_hash(fname, base_len); (k = sc->by_base[h & sc->by_base_mask]) != 0; h++) {
		const char *have = store_index_name(idx, &idx->recs[k - 1]);
		if (strncmp(have, fname, base_len) == 0 &&
		    (have[base_len] == ':' || have[base_len] == '\0'))
			return (long)k - 1;
	}
	return -1;
}

static void cur_entry(struct sync_ctx *sc, const char *fname)
{
	struct index *idx = &sc->mb->idx;
	struct mdname md;
	long i = -1;

	if (store_unlink_pending(sc->mb, fname))
		return;		/* expunged: a worker is unlinking it */
	store_maildir_parse(fname, &md);
	if (!sc->rebuild)
		i = md.uid != 0 ? store_index_find(idx, md.uid)
				: find_by_base(sc, fname, md.base_len);
	if (i >= 0) {
		struct index_rec *r = &idx->recs[i];
		const char *have = store_index_name(idx, r);
		if (r->mark && strncmp(have, fname, md.base_len) == 0 &&
		    (have[md.base_len] == ':' || have[md.base_len] == '\0')) {
			r->mark = 0;
			if (strcmp(have, fname) != 0)
				external_flags(sc, r, fname, &md);
			return;
		}
	}
	add_newcomer(sc, fname, false, &md);
}

static int scan_dir(struct sync_ctx *sc, const char *sub)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	struct mdname md;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", sc->mb->dir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		if (strlen(de->d_name) > STORE_FILE_MAX - 64) {
			log_warn("store: %s/%s: file name too long, ignored", path, de->d_name);
			continue;
		}
		if (sub[0] == 'c') {
			cur_entry(sc, de->d_name);
		} else {
			store_maildir_parse(de->d_name, &md);
			add_newcomer(sc, de->d_name, true, &md);
		}
	}
	closedir(d);
	return 1;
}

/* Does cur/ need reading?  *st gets its state now. */
static bool cur_changed(struct mbox *mb, struct stat *st)
{
	char path[STORE_PATH_MAX];

	snprintf(path, sizeof(path), "%s/cur", mb->dir);
	if (stat(path, st) < 0)
		return true;
	return !mb->cur_clean || st->st_mtim.tv_sec != mb->cur_mtime.tv_sec ||
	       st->st_mtim.tv_nsec != mb->cur_mtime.tv_nsec;
}

static void cur_scanned(struct mbox *mb, const struct stat *st)
{
	struct timespec now;
	long long age;

	clock_gettime(CLOCK_REALTIME, &now);
	age = (long long)(now.tv_sec - st->st_mtim.tv_sec) * 1000000000LL +
	      (now.tv_nsec - st->st_mtim.tv_nsec);
	mb->cur_mtime = st->st_mtim;
	mb->cur_clean = age >= (st->st_mtim.tv_nsec != 0 ? DIRTY_NS : DIRTY_COARSE_NS);
	if (mb->cur_clean) {
		/* after this scan's own records: the next load may trust it */
		mb->idx.cur_mtime = st->st_mtim;
		store_index_log(&mb->idx, INDEX_LOG_CURDIR, NULL, NULL);
	}
}

/* cur/ is known through the watch: once its mtime is old enough, let the
   index log vouch for it, so that a load after a restart (or by another
   process) need not read it whole.  The mtime is taken before the
   events are read: a change after it is either an event (no vouching)
   or moves the mtime past it. */
static void vouch_cur(struct mbox *mb)
{
	char path[STORE_PATH_MAX];
	struct timespec now;
	struct stat st;
	long long age;

	snprintf(path, sizeof(path), "%s/cur", mb->dir);
	if (stat(path, &st) < 0 || (st.st_mtim.tv_sec == mb->idx.cur_mtime.tv_sec &&
				    st.st_mtim.tv_nsec == mb->idx.cur_mtime.tv_nsec))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	age = (long long)(now.tv_sec - st.st_mtim.tv_sec) * 1000000000LL +
	      (now.tv_nsec - st.st_mtim.tv_nsec);
	if (age < (st.st_mtim.tv_nsec != 0 ? DIRTY_NS : DIRTY_COARSE_NS) ||
	    !store_watch_clean(mb))
		return;
	mb->cur_mtime = mb->idx.cur_mtime = st.st_mtim;
	mb->cur_clean = true;
	store_index_log(&mb->idx, INDEX_LOG_CURDIR, NULL, NULL);
}

/* ---- newcomers ---- */

/* Size, RFC822 size and date of a newcomer.  1, or 0 to leave it out
   (gone, not a regular file, unreadable: a symlink, no permission). */
static int measure(struct sync_ctx *sc, struct newcomer *nc)
{
	char path[STORE_PATH_MAX];
	struct stat st;
	int fd, ret = 1;

	snprintf(path, sizeof(path), "%s/%s/%s", sc->mb->dir, nc->in_new ? "new" : "cur",
		 nc->fname);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)	/* not the files' owner */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			return -1;
		if (errno != ENOENT)
			log_warn("store: %s: %m (left alone)", path);
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		ret = 0;
	else if (nc->md.size == (uint64_t)st.st_size && nc->md.vsize != UINT64_MAX &&
		 nc->md.vsize >= nc->md.size) {
		nc->size = nc->md.size;		/* S= and W= are right: no read */
		nc->vsize = nc->md.vsize;
	} else if (file_crlf_size(fd, &nc->size, &nc->vsize) < 0) {
		log_warn("store: read %s: %m (left alone)", path);
		ret = 0;
	}
	close(fd);
	nc->date = st.st_mtime;
	nc->key = nc->md.arrival != 0 ? nc->md.arrival : (uint64_t)st.st_mtime;
	return ret;
}

static int newcomer_cmp(const void *pa, const void *pb)
{
	const struct newcomer *a = pa, *b = pb;
	uint64_t ua = a->uid != 0 ? a->uid : UINT64_MAX, ub = b->uid != 0 ? b->uid : UINT64_MAX;

	if (ua != ub)
		return ua < ub ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return strcmp(a->fname, b->fname);
}

/* Which newcomers keep their U=; then sort them into UID order. */
static void order_newcomers(struct sync_ctx *sc)
{
	struct index *idx = &sc->mb->idx;

	if (sc->n == 0)
		return;
	for (unsigned i = 0; i < sc->n; i++) {
		struct newcomer *nc = &sc->v[i];
		uint32_t u = nc->md.uid;
		if (u != 0 && (sc->rebuild ||
			       (u >= idx->uidnext && u - idx->uidnext < UID_TRUST_WINDOW)))
			nc->uid = u;
	}
	qsort(sc->v, sc->n, sizeof(*sc->v), newcomer_cmp);
	for (unsigned i = 1; i < sc->n; i++)
		if (sc->v[i].uid != 0 && sc->v[i].uid == sc->v[i - 1].uid)
			sc->v[i].uid = 0;	/* two files claim one UID */
	if (sc->n > 1)
		qsort(sc->v, sc->n, sizeof(*sc->v), newcomer_cmp);
}

static uint32_t known_keywords(const struct mbox *mb)
{
	uint32_t known = 0;

	for (unsigned i = 0; i < mb->n_keywords; i++)
		if (mb->keywords[i] != NULL)
			known |= 1u << i;
	return known;
}

/* Give nc its UID and final name in cur/, and index it.  1, 0 gone, -1. */
static int take_newcomer(struct sync_ctx *sc, struct newcomer *nc)
{
	struct mbox *mb = sc->mb;
	char name[STORE_FILE_MAX], from[STORE_PATH_MAX], to[STORE_PATH_MAX];
	uint32_t uid = nc->uid != 0 ? nc->uid : mb->idx.uidnext;
	struct index_rec r = { .uid = uid, .flags = nc->md.flags, .date = nc->date,
			       .keywords = nc->md.keywords & known_keywords(mb),
			       .size = nc->size, .vsize = nc->vsize };

	if (store_maildir_name(name, sizeof(name), nc->fname, nc->md.base_len, nc->size,
			       nc->vsize, uid, r.flags, r.keywords) < 0)
		return 0;
	if (!nc->in_new && (nc->md.uid == 0 || nc->md.uid == uid)) {
		/* a file of cur/ keeps the name it was found with: its base
		   finds it at the next scan, the index has its size and UID */
		str_copy(name, nc->fname, sizeof(name));
	} else if (nc->in_new || strcmp(name, nc->fname) != 0) {
		snprintf(from, sizeof(from), "%s/%s/%s", mb->dir,
			 nc->in_new ? "new" : "cur", nc->fname);
		snprintf(to, sizeof(to), "%s/cur/%s", mb->dir, name);
		if (store_rename_noreplace(from, to) < 0)
			return errno == ENOENT || errno == EEXIST ? 0 : -1;
		if (!nc->in_new)
			store_watch_own(mb, 'F', nc->fname);
		store_watch_own(mb, 'T', name);
	}
	r.modseq = store_index_lazy_modseq(sc->mb, &sc->modseq);
	store_index_append(&mb->idx, &r, name);
	store_index_log(&mb->idx, INDEX_LOG_ADD, &r, name);
	if (uid >= mb->idx.uidnext)
		mb->idx.uidnext = uid + 1;
	uidvec_push(&mb->chg_exists, uid);
	store_account_usage_add(mb->acct, (int64_t)r.size, 1);
	return 1;
}

static int take_newcomers(struct sync_ctx *sc)
{
	int ret;

	for (unsigned i = 0; i < sc->n; i++) {
		if ((ret = measure(sc, &sc->v[i])) < 0)
			return -1;
		sc->v[i].skip = ret == 0;
	}
	order_newcomers(sc);
	for (unsigned i = 0; i < sc->n; i++) {
		if (sc->v[i].skip)
			continue;
		if ((ret = take_newcomer(sc, &sc->v[i])) < 0)
			return -1;
		if (ret == 0) {
			sc->mb->cur_clean = false;	/* it moved: look again */
			store_watch_lost(sc->mb);
		}
	}
	return 1;
}

static void free_ctx(struct sync_ctx *sc)
{
	for (unsigned i = 0; i < sc->n; i++)
		free(sc->v[i].fname);
	free(sc->v);
	free(sc->by_base);
}

static int sync_dirs(struct sync_ctx *sc, bool force_cur)
{
	struct mbox *mb = sc->mb;
	struct stat st;
	bool was_watched = mb->watch_wd >= 0, scan_cur;

	if (store_watch_clean(mb)) {
		/* only our own changes since the last scan: cur/ is known */
		scan_cur = force_cur || sc->rebuild;
		if (scan_cur)
			cur_changed(mb, &st);
		else
			vouch_cur(mb);
	} else {
		/* watch first, then look: a change in between shows in both */
		store_watch_begin(mb);
		scan_cur = cur_changed(mb, &st) || was_watched || force_cur || sc->rebuild;
	}
	if (scan_cur) {
		for (unsigned i = 0; i < mb->idx.count; i++)
			mb->idx.recs[i].mark = 1;	/* not seen yet */
		mb->cur_scans++;
		if (scan_dir(sc, "cur") < 0)
			return -1;
		log_debug("store: %s: cur/ read whole (%u messages indexed)", mb->dir,
			  mb->idx.count);
		/* records whose file was not seen in cur/ */
		store_index_expunge_marked(mb, &sc->modseq);
		cur_scanned(mb, &st);
	}
	if (scan_dir(sc, "new") < 0 || take_newcomers(sc) < 0)
		return -1;
	if (sc->n > 0)
		mb->cur_clean = false;	/* our renames moved cur/'s mtime */
	return 1;
}

int store_sync_run(struct mbox *mb, bool rebuild, bool force_cur,
		   struct store_error *error_r)
{
	struct sync_ctx sc = { .mb = mb, .rebuild = rebuild };
	int ret;

	if (store_mbox_check(mb, error_r) < 0)
		return -1;
	if (mb->mbox_path != NULL) {
		ret = store_mboxfile_sync(mb, rebuild, force_cur, &sc.modseq);
	} else {
		/* keywords delivered meanwhile name letters of the new files */
		if (store_keywords_refresh(mb) < 0)
			log_err("store: %s: keywords not read again", mb->dir);
		ret = sync_dirs(&sc, force_cur);
	}
	if (ret < 0)
		store_error_sys(error_r, "scan", mb->dir);
	free_ctx(&sc);
	if (sc.modseq != 0 || mb->idx.pending.len > 0 || mb->idx.needs_compact)
		store_index_commit(mb);
	store_mbox_notify(mb, NULL);
	return ret;
}
