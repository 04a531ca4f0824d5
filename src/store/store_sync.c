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
 * next scan.  A newcomer from new/ is read once for its RFC822.SIZE
 * (unless S= and W= are in its name), which its new name carries.  One
 * found in cur/ is indexed from its name alone: its size, RFC822.SIZE and
 * internal date are read when first wanted (store_rec_measure), so the
 * first look at a big folder costs a directory read, not a read of every
 * file.
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
	size_t fname;		/* in the context's names */
	bool in_new;
	bool skip;
	bool lazy;		/* sizes and date left for later */
	unsigned char d_type;	/* of the directory entry */
	struct mdname md;
	uint32_t uid;		/* kept from U=, or 0 */
	uint64_t key;		/* arrival order */
	uint64_t key2;		/* then the 8 bytes after the name's leading number */
	time_t date;
	uint64_t size, vsize;
};

struct sync_ctx {
	struct mbox *mb;
	bool rebuild;
	uint64_t modseq;	/* of this sync, once something changed */
	struct newcomer *v;
	unsigned n, cap;
	struct buf names;	/* the newcomers' file names, NUL-terminated */
	bool lazy_taken;	/* some newcomer was indexed unmeasured */
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

static const char *nc_name(const struct sync_ctx *sc, const struct newcomer *nc)
{
	return sc->names.data + nc->fname;
}

static void add_newcomer(struct sync_ctx *sc, const char *fname, bool in_new,
			 unsigned char d_type, const struct mdname *md)
{
	struct newcomer *nc;

	if (sc->n == sc->cap) {
		sc->cap = sc->cap < 64 ? 64 : sc->cap * 2;
		sc->v = xrealloc(sc->v, sc->cap * sizeof(*sc->v));
	}
	nc = &sc->v[sc->n++];
	memset(nc, 0, sizeof(*nc));
	nc->fname = sc->names.len;
	buf_append(&sc->names, fname, strlen(fname) + 1);
	nc->in_new = in_new;
	nc->d_type = d_type;
	nc->md = *md;
	/* names that arrived in the same second mostly differ just after
	   the number: comparing these bytes as one integer orders them as
	   strcmp would, without its calls */
	fname += strspn(fname, "0123456789");
	for (unsigned i = 0; i < 8; i++) {
		nc->key2 = nc->key2 << 8 | (unsigned char)*fname;
		if (*fname != '\0')
			fname++;
	}
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
	if ((r->flags & ~REC_FLAG_UNMEASURED) != md->flags ||
	    r->keywords != (md->keywords & known)) {
		r->flags = md->flags | (r->flags & REC_FLAG_UNMEASURED);
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
	sc->by_base = xcalloc(size, sizeof(*sc->by_base));
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

static void cur_entry(struct sync_ctx *sc, const char *fname, unsigned char d_type)
{
	struct index *idx = &sc->mb->idx;
	struct mdname md;
	long i = -1;

	uint32_t uid;

	if (store_unlink_pending(sc->mb, fname))
		return;		/* expunged: a worker is unlinking it */
	if (store_rename_name(sc->mb, fname, &uid)) {
		/* a worker is renaming it: the index has its flags */
		if ((i = store_index_find(idx, uid)) >= 0)
			idx->recs[i].mark = 0;
		return;
	}
	store_maildir_parse(fname, &md);
	if (!sc->rebuild)
		i = md.uid != 0 ? store_index_find(idx, md.uid)
				: find_by_base(sc, fname, md.base_len);
	if (i >= 0) {
		struct index_rec *r = &idx->recs[i];
		const char *have = store_index_name(idx, r);
		if (r->mark && (r->flags & REC_FLAG_RENAMING) != 0 &&
		    strcspn(have, ",:") == strcspn(fname, ",:") &&
		    strncmp(have, fname, strcspn(fname, ",:")) == 0) {
			/* its renames were cut short (a stop): the index's
			   flags are the truth, the name follows them */
			r->mark = 0;
			store_rename_fix(sc->mb, r, fname);
			return;
		}
		if (r->mark && strncmp(have, fname, md.base_len) == 0 &&
		    (have[md.base_len] == ':' || have[md.base_len] == '\0')) {
			r->mark = 0;
			if (strcmp(have, fname) != 0)
				external_flags(sc, r, fname, &md);
			return;
		}
	}
	add_newcomer(sc, fname, false, d_type, &md);
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
			cur_entry(sc, de->d_name, de->d_type);
		} else {
			store_maildir_parse(de->d_name, &md);
			add_newcomer(sc, de->d_name, true, de->d_type, &md);
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
	if (mb->cur_clean && mb->renames_head == mb->n_renames) {
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
	    !store_watch_clean(mb) || mb->renames_head != mb->n_renames)
		return;		/* (renames under way move it again) */
	mb->cur_mtime = mb->idx.cur_mtime = st.st_mtim;
	mb->cur_clean = true;
	store_index_log(&mb->idx, INDEX_LOG_CURDIR, NULL, NULL);
}

/* ---- newcomers ---- */

#define FILL_CHUNK 2000		/* files measured by one worker job */

/* Size, RFC822 size and date of the file name in directory dfd (md: the
   name parsed; dir names dfd in the log, "" when name is a whole path).
   1, 0 to leave it out (gone, not a regular file, unreadable: a symlink,
   no permission), -1 out of descriptors. */
static int measure_file(int dfd, const char *dir, const char *name,
			const struct mdname *md, uint64_t *size_r, uint64_t *vsize_r,
			time_t *date_r)
{
	const char *slash = dir[0] != '\0' ? "/" : "";
	struct stat st;
	int fd, ret = 1;

	if (md->size != UINT64_MAX && md->vsize != UINT64_MAX && md->vsize >= md->size) {
		/* S= and W= are right when S= is the file's size: no read */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				log_warn("store: %s%s%s: %m (left alone)", dir, slash, name);
			return 0;
		}
		if (!S_ISREG(st.st_mode))
			return 0;
		if (md->size == (uint64_t)st.st_size) {
			*size_r = md->size;
			*vsize_r = md->vsize;
			*date_r = st.st_mtime;
			return 1;
		}
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)	/* not the files' owner */
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			return -1;
		if (errno != ENOENT)
			log_warn("store: %s%s%s: %m (left alone)", dir, slash, name);
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = 0;
	} else if (file_crlf_size(fd, size_r, vsize_r) < 0) {
		log_warn("store: read %s%s%s: %m (left alone)", dir, slash, name);
		ret = 0;
	}
	close(fd);
	*date_r = st.st_mtime;
	return ret;
}

/* What a newcomer needs before the UIDs are given: its arrival order,
   and for one from new/ its sizes and date (its new name carries them).
   One in cur/ keeps its name and is measured when first wanted; only a
   name without a leading number costs a stat(2), for its order.  1, or
   0 to leave it out, -1 out of descriptors. */
static int prepare(struct sync_ctx *sc, struct newcomer *nc, int dfd, const char *dir)
{
	const char *name = nc_name(sc, nc);
	struct stat st;
	int ret;

	if (nc->in_new) {
		ret = measure_file(dfd, dir, name, &nc->md, &nc->size, &nc->vsize, &nc->date);
		nc->key = nc->md.arrival != 0 ? nc->md.arrival : (uint64_t)nc->date;
		return ret;
	}
	nc->lazy = true;
	if (nc->md.arrival == 0 || (nc->d_type != DT_REG && nc->d_type != DT_UNKNOWN)) {
		if (nc->d_type != DT_REG && nc->d_type != DT_UNKNOWN)
			return 0;	/* a symlink, a device: left alone */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return 0;
		nc->key = (uint64_t)st.st_mtime;
		return 1;
	}
	nc->key = nc->md.arrival;
	if (nc->d_type == DT_UNKNOWN &&
	    (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)))
		return 0;
	return 1;
}

int store_rec_measure(struct mbox *mb, struct index_rec *r)
{
	char path[STORE_PATH_MAX];
	const char *name;
	struct mdname md;
	time_t date = 0;
	int ret;

	if ((r->flags & REC_FLAG_UNMEASURED) == 0)
		return 1;
	name = store_index_name(&mb->idx, r);
	store_maildir_parse(name, &md);
	snprintf(path, sizeof(path), "%s/cur/%s", mb->dir, name);
	ret = measure_file(AT_FDCWD, "", path, &md, &r->size, &r->vsize, &date);
	if (ret <= 0) {
		r->size = r->vsize = 0;
		return 0;
	}
	r->date = date;
	r->flags &= (uint8_t)~REC_FLAG_UNMEASURED;
	store_index_log(&mb->idx, INDEX_LOG_SIZES, r, NULL);
	return 1;
}

/* A newcomer's place in UID order: the sort moves these, not newcomers. */
struct nc_order {
	uint64_t uid;		/* kept from U=, else UINT64_MAX */
	uint64_t key, key2;
	uint32_t i;		/* in the context's v */
	uint32_t pad;
};

static int order_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct nc_order *a = pa, *b = pb;
	const struct sync_ctx *sc = ctx;

	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->key2 != b->key2)
		return a->key2 < b->key2 ? -1 : 1;
	return strcmp(nc_name(sc, &sc->v[a->i]), nc_name(sc, &sc->v[b->i]));
}

/* Byte d (0 = least significant of key2 ... 23 = most of uid) of o. */
static unsigned order_digit(const struct nc_order *o, unsigned d)
{
	uint64_t w = d < 8 ? o->key2 : d < 16 ? o->key : o->uid;

	return (unsigned)(w >> (8 * (d % 8))) & 0xff;
}

/* Sort o[0..n) by (uid, key, key2, name): a radix sort of the 24 key
   bytes, least significant first, skipping the bytes all entries share
   (most of them: the same U= absence, close arrival times), then runs of
   equal keys by name.  A comparison sort of 100,000 newcomers cost more
   than reading their directory. */
static void order_sort(struct sync_ctx *sc, struct nc_order *o, unsigned n)
{
	unsigned (*count)[256];
	struct nc_order *tmp, *from = o, *to;

	if (n < 2)
		return;
	count = xcalloc(24, sizeof(*count));
	tmp = to = xreallocarray(NULL, n, sizeof(*tmp));
	for (unsigned i = 0; i < n; i++)
		for (unsigned d = 0; d < 24; d++)
			count[d][order_digit(&o[i], d)]++;
	for (unsigned d = 0; d < 24; d++) {
		unsigned at = 0, first = order_digit(&o[0], d);
		if (count[d][first] == n)
			continue;	/* one value: nothing to move */
		for (unsigned b = 0; b < 256; b++) {
			unsigned c = count[d][b];
			count[d][b] = at;
			at += c;
		}
		for (unsigned i = 0; i < n; i++)
			to[count[d][order_digit(&from[i], d)]++] = from[i];
		struct nc_order *t = from;
		from = to;
		to = t;
	}
	if (from != o)
		memcpy(o, from, (size_t)n * sizeof(*o));
	free(tmp);
	free(count);
	for (unsigned i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && o[j].uid == o[i].uid && o[j].key == o[i].key &&
				o[j].key2 == o[i].key2; j++)
			;
		if (j - i > 1)
			qsort_r(o + i, j - i, sizeof(*o), order_cmp, sc);
	}
}

/* Which newcomers keep their U=; then their order (positions in v) by
   UID, arrival, name.  The caller frees it. */
static struct nc_order *order_newcomers(struct sync_ctx *sc)
{
	struct index *idx = &sc->mb->idx;
	struct nc_order *o;
	bool clash = false;

	o = xcalloc(sc->n + 1, sizeof(*o));
	for (unsigned i = 0; i < sc->n; i++) {
		struct newcomer *nc = &sc->v[i];
		uint32_t u = nc->md.uid;
		if (u != 0 && (sc->rebuild ||
			       (u >= idx->uidnext && u - idx->uidnext < UID_TRUST_WINDOW)))
			nc->uid = u;
		o[i] = (struct nc_order){ .uid = nc->uid != 0 ? nc->uid : UINT64_MAX,
					  .key = nc->key, .key2 = nc->key2, .i = i };
	}
	order_sort(sc, o, sc->n);
	for (unsigned k = 1; k < sc->n; k++)
		if (o[k].uid != UINT64_MAX && o[k].uid == o[k - 1].uid) {
			sc->v[o[k].i].uid = 0;	/* two files claim one UID */
			o[k].uid = UINT64_MAX;
			clash = true;
		}
	if (clash)
		order_sort(sc, o, sc->n);
	return o;
}

static uint32_t known_keywords(const struct mbox *mb)
{
	uint32_t known = 0;

	for (unsigned i = 0; i < mb->n_keywords; i++)
		if (mb->keywords[i] != NULL)
			known |= 1u << i;
	return known;
}

/* ---- the sizes left for later, read on a worker ---- */

/*
 * After a sync indexed files from their names, a worker reads their
 * sizes and dates, FILL_CHUNK files a job, one job at a time, so that a
 * FETCH of RFC822.SIZE, a STATUS SIZE or POP3 later finds them in the
 * index instead of reading 100,000 files on the loop.  The loop applies
 * each chunk to the records still unmeasured under the same name (a
 * look-up may have measured one meanwhile; another program may have
 * renamed it); when the folder is done a new snapshot keeps them (one
 * write instead of a log record per message).  The job holds a
 * reference on the folder; a folder deleted meanwhile, or the store
 * stopping, ends the fill.
 */
struct fill_item {
	uint32_t uid;
	uint32_t name_at;	/* in names */
	int ok;
	uint64_t size, vsize;
	time_t date;
};

struct fill_job {
	struct store_job job;	/* first */
	struct mbox *mb;
	char dir[STORE_PATH_MAX];	/* cur/ */
	struct fill_item *v;
	unsigned n;
	struct buf names;
	uint32_t next_uid;	/* where the next chunk starts */
};

static void fill_work(struct store_job *j)
{
	struct fill_job *fj = (struct fill_job *)j;
	char path[STORE_PATH_MAX];
	struct mdname md;

	for (unsigned i = 0; i < fj->n; i++) {
		struct fill_item *it = &fj->v[i];
		const char *name = fj->names.data + it->name_at;
		store_maildir_parse(name, &md);
		it->ok = (size_t)snprintf(path, sizeof(path), "%s/%s", fj->dir, name) <
			 sizeof(path) &&
			 measure_file(AT_FDCWD, "", path, &md, &it->size, &it->vsize,
				      &it->date) > 0;
	}
}


static void fill_next(struct mbox *mb, uint32_t from_uid, bool after);

static void fill_done(struct store_job *j)
{
	struct fill_job *fj = (struct fill_job *)j;
	struct mbox *mb = fj->mb;
	struct index *idx = &mb->idx;
	long k;

	for (unsigned i = 0; i < fj->n && !mb->deleted; i++) {
		struct fill_item *it = &fj->v[i];
		struct index_rec *r;
		if (!it->ok || (k = store_index_find(idx, it->uid)) < 0)
			continue;
		r = &idx->recs[k];
		if ((r->flags & REC_FLAG_UNMEASURED) == 0 ||
		    strcmp(store_index_name(idx, r), fj->names.data + it->name_at) != 0)
			continue;
		r->size = it->size;
		r->vsize = it->vsize;
		r->date = it->date;
		r->flags &= (uint8_t)~REC_FLAG_UNMEASURED;
	}
	mb->filling = false;
	/* the next chunk; when the store stops, what is measured stays in
	   memory (and in the snapshot if the folder is written) */
	if (!mb->deleted && mb->acct->store->pool != NULL)
		fill_next(mb, fj->next_uid, true);
	buf_deinit(&fj->names);
	free(fj->v);
	free(fj);
	store_mbox_release(mb);
}

/* Queue the next chunk: up to FILL_CHUNK unmeasured records from
   from_uid on.  None left after a chunk (after): a snapshot keeps what
   the fill measured. */
static void fill_next(struct mbox *mb, uint32_t from_uid, bool after)
{
	struct index *idx = &mb->idx;
	struct fill_job *fj;
	unsigned i = store_index_lower(idx, from_uid);

	if (mb->filling || mb->deleted || mb->mbox_path != NULL ||
	    mb->acct->store->pool == NULL)
		return;
	fj = xcalloc(1, sizeof(*fj));
	fj->v = xcalloc(FILL_CHUNK, sizeof(*fj->v));
	buf_init(&fj->names, 0);
	for (; i < idx->count && fj->n < FILL_CHUNK; i++) {
		const struct index_rec *r = &idx->recs[i];
		const char *name = store_index_name(idx, r);
		if ((r->flags & REC_FLAG_UNMEASURED) == 0)
			continue;
		fj->v[fj->n].uid = r->uid;
		fj->v[fj->n].name_at = (uint32_t)fj->names.len;
		buf_append(&fj->names, name, strlen(name) + 1);
		fj->n++;
	}
	if (fj->n == 0) {
		buf_deinit(&fj->names);
		free(fj->v);
		free(fj);
		if (after) {
			idx->needs_compact = true;
			store_index_commit(mb);
		}
		return;
	}
	fj->next_uid = i < idx->count ? idx->recs[i].uid : idx->uidnext;
	fj->mb = mb;
	snprintf(fj->dir, sizeof(fj->dir), "%s/cur", mb->dir);
	fj->job.work = fill_work;
	fj->job.done = fill_done;
	mb->filling = true;
	store_mbox_ref(mb);
	store_job_submit(mb->acct->store, &fj->job);
}

void store_sync_fill(struct mbox *mb)
{
	fill_next(mb, 1, false);
}

/* Give nc its UID and final name in cur/, and index it.  1, 0 gone, -1. */
static int take_newcomer(struct sync_ctx *sc, struct newcomer *nc)
{
	struct mbox *mb = sc->mb;
	char name[STORE_FILE_MAX], from[STORE_PATH_MAX], to[STORE_PATH_MAX];
	const char *fname = nc_name(sc, nc), *newname = name;
	uint32_t uid = nc->uid != 0 ? nc->uid : mb->idx.uidnext;
	bool keep = !nc->in_new && (nc->md.uid == 0 || nc->md.uid == uid);
	struct index_rec r = { .uid = uid, .flags = nc->md.flags,
			       .keywords = nc->md.keywords & known_keywords(mb) };
	int ret;

	if (nc->lazy && !keep) {
		/* renamed: its new name carries its sizes */
		snprintf(from, sizeof(from), "%s/cur/%s", mb->dir, fname);
		if ((ret = measure_file(AT_FDCWD, "", from, &nc->md, &nc->size, &nc->vsize,
					&nc->date)) <= 0)
			return ret;
		nc->lazy = false;
	}
	if (nc->lazy)
		r.flags |= REC_FLAG_UNMEASURED;
	r.date = nc->date;
	r.size = nc->size;
	r.vsize = nc->vsize;
	if (keep) {
		/* a file of cur/ keeps the name it was found with: its base
		   finds it at the next scan, the index has its size and UID */
		newname = fname;
	} else if (store_maildir_name(name, sizeof(name), fname, nc->md.base_len, nc->size,
				      nc->vsize, uid, r.flags, r.keywords) < 0) {
		return 0;
	} else if (nc->in_new || strcmp(name, fname) != 0) {
		snprintf(from, sizeof(from), "%s/%s/%s", mb->dir,
			 nc->in_new ? "new" : "cur", fname);
		snprintf(to, sizeof(to), "%s/cur/%s", mb->dir, name);
		if (store_rename_noreplace(from, to) < 0)
			return errno == ENOENT || errno == EEXIST ? 0 : -1;
		if (!nc->in_new)
			store_watch_own(mb, 'F', fname);
		store_watch_own(mb, 'T', name);
	}
	r.modseq = store_index_lazy_modseq(sc->mb, &sc->modseq);
	store_index_append(&mb->idx, &r, newname);
	store_index_log(&mb->idx, INDEX_LOG_ADD, &r, newname);
	if (uid >= mb->idx.uidnext)
		mb->idx.uidnext = uid + 1;
	uidvec_push(&mb->chg_exists, uid);
	if (nc->lazy)
		sc->lazy_taken = true;
	else
		store_account_usage_add(mb->acct, (int64_t)r.size, 1);
	return 1;
}

static int take_newcomers(struct sync_ctx *sc)
{
	char dir[2][STORE_PATH_MAX];
	int dfd[2] = { -1, -1 }, ret = 1;
	struct nc_order *order;

	for (unsigned k = 0; k < 2; k++) {
		snprintf(dir[k], sizeof(dir[k]), "%s/%s", sc->mb->dir, k == 0 ? "cur" : "new");
		if (sc->n > 0 &&
		    (dfd[k] = open(dir[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			ret = -1;
	}
	for (unsigned i = 0; ret > 0 && i < sc->n; i++) {
		struct newcomer *nc = &sc->v[i];
		int r = prepare(sc, nc, dfd[nc->in_new], dir[nc->in_new]);
		if (r < 0)
			ret = -1;
		nc->skip = r == 0;
	}
	for (unsigned k = 0; k < 2; k++)
		if (dfd[k] >= 0)
			close(dfd[k]);
	if (ret < 0)
		return -1;
	order = order_newcomers(sc);
	store_index_reserve(&sc->mb->idx, sc->n, sc->names.len);
	for (unsigned k = 0; k < sc->n; k++) {
		struct newcomer *nc = &sc->v[order[k].i];
		if (nc->skip)
			continue;
		if ((ret = take_newcomer(sc, nc)) < 0)
			break;
		if (ret == 0) {
			sc->mb->cur_clean = false;	/* it moved: look again */
			store_watch_lost(sc->mb);
		}
	}
	free(order);
	if (ret < 0)
		return -1;
	/* the bytes of files not measured yet: the next quota check counts
	   the Maildir again */
	if (sc->lazy_taken) {
		store_account_usage_stale(sc->mb->acct);
		fill_next(sc->mb, 1, false);
	}
	return 1;
}

static void free_ctx(struct sync_ctx *sc)
{
	free(sc->v);
	buf_deinit(&sc->names);
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
		/* records whose file was not seen in cur/ (but for files being
		   renamed: a directory read may miss them) */
		store_rename_unmark(mb);
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

	buf_init(&sc.names, 0);
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
	store_renames_kick(mb);	/* names put right (store_rename_fix) */
	if (sc.modseq != 0 || mb->idx.pending.len > 0 || mb->idx.needs_compact)
		store_index_commit(mb);
	store_mbox_notify(mb, NULL);
	return ret;
}
