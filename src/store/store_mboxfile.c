/*
 * store_mboxfile.c - the INBOX of an mbox account: local delivery appends
 * to <data_dir>/mbox/<address> (store_mboxfile_deliver, here); this file
 * lets the rest of the store see it as a folder like the others.
 *
 * The folder's index files (the usual correio-index, its log, cache,
 * keywords and correio-uidvalidity) live in <account root>/correio-mbox/.
 * A record's name is "<offset>,<length>,<crc>": where its entry starts in
 * the file, the length of the From_ line and stored lines (not the
 * separator), and their CRC-32C.  Flags and keywords live in the index
 * only; the file is never changed to hold them.
 *
 * Sync (store_sync_run): nothing to do while the file's inode, size and
 * mtime are as last seen.  When it only grew (the last indexed message is
 * still where it was, same bytes, and a From_ line follows it), only the
 * new tail is parsed: deliveries cost what they add.  Otherwise (another
 * program rewrote it, or a message is not where the index says) the whole
 * file is parsed and each message matched to the oldest unmatched record
 * with the same length and CRC: those keep their UID and flags, records
 * without a message are expunged, messages without a record are new.
 * UIDs are thus stable across restarts; when the index is lost the
 * identities are too, and the folder gets a new UIDVALIDITY with UIDs in
 * file order (store_index_file.c).
 *
 * Expunge rewrites the file: a new file beside it with every byte but
 * the removed entries, fsynced, renamed over the mbox, the directory
 * fsynced, then the index compacted with the new offsets.  All of that
 * under the lock the delivery agent takes, an OFD write lock on the whole
 * file (it excludes other threads of this process, and fcntl(2) locks of
 * other programs such as mutt).  A delivery waiting for the lock finds
 * the path renamed when it gets it, and appends to the new file instead
 * (store_mboxfile_deliver, at the end of this file, which the delivery
 * agent reaches through store_deliver).  A crash before the index is
 * written leaves old offsets: the next sync finds them wrong and matches
 * again.
 *
 * APPEND, COPY and MOVE into the INBOX append entries as delivery does
 * (store_mboxparse_entry, "From MAILER-DAEMON <internal date>"), under
 * the same lock, after taking in what was delivered before, and fsync.
 *
 * Reading holds a read lock while it maps or reads, so a delivery never
 * shows half a message.  Locks are tried for up to LOCK_WAIT_MS and the
 * operation fails as temporary when another program holds one longer.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define LOCK_WAIT_MS 3000
#define LOCK_STEP_MS 5

struct mbox_id {
	uint64_t off, raw_len;
	uint32_t crc;
};

struct found {
	struct mboxmsg *v;
	unsigned n, cap;
};

/* ---- record names ---- */

static void id_name(const struct mboxmsg *m, char *out, size_t size)
{
	snprintf(out, size, "%llu,%llu,%08x", (unsigned long long)m->off,
		 (unsigned long long)m->raw_len, m->crc);
}

static bool id_parse(const char *name, struct mbox_id *id)
{
	unsigned long long off, len;
	unsigned crc;
	int used = 0;

	if (sscanf(name, "%llu,%llu,%x%n", &off, &len, &crc, &used) != 3 ||
	    name[used] != '\0' || len < 5)
		return false;
	id->off = off;
	id->raw_len = len;
	id->crc = crc;
	return true;
}

/* ---- the file and its lock ---- */

static int lock_fd(int fd, short type)
{
	struct flock lk = { .l_type = type, .l_whence = SEEK_SET };

	for (int waited = 0; waited < LOCK_WAIT_MS; waited += LOCK_STEP_MS) {
		if (fcntl(fd, F_OFD_SETLK, &lk) == 0)
			return 1;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		usleep(LOCK_STEP_MS * 1000);
	}
	errno = EAGAIN;
	return -1;
}

enum open_mode { OPEN_READ, OPEN_WRITE, OPEN_CREATE };

/* Open path locked (write: for a rewrite or an append).  1, 0 no such
   file, -1. */
static int open_locked(const char *path, enum open_mode mode, int *fd_r, struct stat *st)
{
	static const int flags[] = { O_RDONLY, O_RDWR | O_APPEND, O_RDWR | O_APPEND | O_CREAT };
	bool write = mode != OPEN_READ;
	struct stat now;
	int fd, saved;

	for (int tries = 0; tries < 10; tries++) {
		fd = open(path, flags[mode] | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return errno == ENOENT ? 0 : -1;
		if (lock_fd(fd, write ? F_WRLCK : F_RDLCK) < 0 || fstat(fd, st) < 0 ||
		    !S_ISREG(st->st_mode)) {
			saved = S_ISREG(st->st_mode) ? errno : EINVAL;
			close(fd);
			errno = saved;
			return -1;
		}
		if (stat(path, &now) == 0 && now.st_ino == st->st_ino &&
		    now.st_dev == st->st_dev) {
			*fd_r = fd;
			return 1;
		}
		close(fd);	/* rewritten meanwhile: take the new file */
	}
	errno = EAGAIN;
	return -1;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Map the whole file read-only (NULL for an empty one).  1 or -1. */
static int map_file(int fd, size_t size, const char **data_r)
{
	void *p;

	*data_r = NULL;
	if (size == 0)
		return 1;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	*data_r = p;
	return 1;
}

static void unmap_file(const char *data, size_t size)
{
	if (data != NULL)
		munmap((void *)data, size);
}

/* Is id's entry at its place in data[0..size)? */
static bool id_valid(const struct mbox_id *id, const char *data, size_t size)
{
	return id->off <= size && id->raw_len <= size - id->off &&
	       memcmp(data + id->off, "From ", 5) == 0 &&
	       store_crc32c(0, data + id->off, id->raw_len) == id->crc;
}

/* ---- sync ---- */

static void collect(void *ctx, const struct mboxmsg *m)
{
	struct found *f = ctx;

	if (f->n == f->cap) {
		f->cap = f->cap < 64 ? 64 : f->cap * 2;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	f->v[f->n++] = *m;
}

/* The keyword bits of X-Keywords: data[0..len), names added to the
   folder's keywords as needed. */
static uint32_t header_keywords(struct mbox *mb, const char *data, size_t len)
{
	char name[130];
	uint32_t bits = 0;
	size_t at = 0;

	while (at < len) {
		size_t l;
		unsigned i;
		at += strspn(data + at, " \t,");
		for (l = 0; at + l < len && strchr(" \t,\r\n", data[at + l]) == NULL; l++)
			;
		if (l > 0 && l < sizeof(name)) {
			memcpy(name, data + at, l);
			name[l] = '\0';
			if (store_keywords_find(mb, name, true, &i, NULL) > 0)
				bits |= 1u << i;
		}
		at += l > 0 ? l : 1;
	}
	return bits;
}

/* A message not in the index: its flags and keywords are those of its
   Status:, X-Status: and X-Keywords: headers (delivery writes them);
   data is the file. */
static void add_new(struct mbox *mb, const struct mboxmsg *m, const char *data, time_t mtime,
		    uint64_t *modseq)
{
	char name[80];
	struct index_rec r = { .uid = mb->idx.uidnext, .flags = m->flags,
			       .date = m->date != 0 ? m->date : (int64_t)mtime,
			       .size = m->size, .vsize = m->vsize };

	if (m->kw_len > 0 && data != NULL)
		r.keywords = header_keywords(mb, data + m->kw_off, m->kw_len);
	r.modseq = store_index_lazy_modseq(mb, modseq);
	id_name(m, name, sizeof(name));
	store_index_append(&mb->idx, &r, name);
	store_index_log(&mb->idx, INDEX_LOG_ADD, &r, name);
	mb->idx.uidnext = r.uid + 1;
	uidvec_push(&mb->chg_exists, r.uid);
	store_account_usage_add(mb->acct, (int64_t)r.size, 1);
}

/* Where the unindexed tail starts when the file only grew since the last
   sync (or load).  1 and *from_r, or 0: read it all. */
static int appended_only(const struct mbox *mb, const char *data, size_t size,
			 uint64_t *from_r)
{
	struct mbox_id last = { 0 }, id;
	uint64_t end;

	if (mb->idx.count == 0)
		return 0;
	for (unsigned i = 0; i < mb->idx.count; i++) {
		if (!id_parse(store_index_name(&mb->idx, &mb->idx.recs[i]), &id))
			return 0;
		if (i == 0 || id.off > last.off)
			last = id;
	}
	if (!id_valid(&last, data, size))
		return 0;
	end = last.off + last.raw_len;
	if (end < size && data[end] == '\n')
		end++;	/* the separator */
	if (end != size && (size - end < 5 || memcmp(data + end, "From ", 5) != 0))
		return 0;
	*from_r = end;
	return 1;
}

struct key {
	uint64_t raw_len;
	uint32_t crc;
	uint32_t uid;
	unsigned i;
	bool used;
};

static int key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;

	if (a->raw_len != b->raw_len)
		return a->raw_len < b->raw_len ? -1 : 1;
	if (a->crc != b->crc)
		return a->crc < b->crc ? -1 : 1;
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

/* The oldest unused key for m, or NULL. */
static struct key *find_key(struct key *keys, unsigned n, const struct mboxmsg *m)
{
	struct key want = { .raw_len = m->raw_len, .crc = m->crc };
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (key_cmp(&keys[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && keys[lo].raw_len == m->raw_len && keys[lo].crc == m->crc; lo++)
		if (!keys[lo].used)
			return &keys[lo];
	return NULL;
}

/* Match every message found to the index; the rest are new. */
static void match_all(struct mbox *mb, const struct found *f, const char *data, time_t mtime,
		      uint64_t *modseq)
{
	struct key *keys = xcalloc(mb->idx.count + 1, sizeof(*keys));
	unsigned nk = 0;
	struct mbox_id id;
	char name[80];

	for (unsigned i = 0; i < mb->idx.count; i++) {
		struct index_rec *r = &mb->idx.recs[i];
		r->mark = 1;
		if (id_parse(store_index_name(&mb->idx, r), &id))
			keys[nk++] = (struct key){ id.raw_len, id.crc, r->uid, i, false };
	}
	qsort(keys, nk, sizeof(*keys), key_cmp);
	for (unsigned j = 0; j < f->n; j++) {
		struct key *k = find_key(keys, nk, &f->v[j]);
		if (k == NULL)
			continue;
		struct index_rec *r = &mb->idx.recs[k->i];
		k->used = true;
		r->mark = 0;
		id_name(&f->v[j], name, sizeof(name));
		if (strcmp(name, store_index_name(&mb->idx, r)) != 0) {
			store_index_set_name(&mb->idx, r, name);
			store_index_log(&mb->idx, INDEX_LOG_FLAGS, r, name);
		}
		f->v[j].raw_len = 0;	/* matched */
	}
	free(keys);
	store_index_expunge_marked(mb, modseq);	/* not in the file any more */
	for (unsigned j = 0; j < f->n; j++)
		if (f->v[j].raw_len != 0)
			add_new(mb, &f->v[j], data, mtime, modseq);
}

/* Sync with the file open and locked (st NULL: there is no file).
   rebuild: the index is new or was lost. */
static int sync_locked(struct mbox *mb, int fd, const struct stat *st, bool rebuild,
		       bool full, uint64_t *modseq)
{
	struct found f = { 0 };
	const char *data;
	uint64_t from;
	size_t size;

	full = full || rebuild;
	if (st == NULL) {
		match_all(mb, &f, NULL, 0, modseq);
		mb->mbox_known = false;
		return 1;
	}
	if (!full && mb->mbox_known && same_file(st, &mb->mbox_st))
		return 1;
	size = (size_t)st->st_size;
	if (map_file(fd, size, &data) < 0)
		return -1;
	if (!full && appended_only(mb, data, size, &from)) {
		store_mboxparse(data + from, size - from, from, collect, &f);
		for (unsigned j = 0; j < f.n; j++)
			add_new(mb, &f.v[j], data, st->st_mtime, modseq);
	} else {
		store_mboxparse(data, size, 0, collect, &f);
		match_all(mb, &f, data, st->st_mtime, modseq);
	}
	unmap_file(data, size);
	free(f.v);
	mb->mbox_st = *st;
	mb->mbox_known = true;
	return 1;
}

int store_mboxfile_sync(struct mbox *mb, bool rebuild, bool full, uint64_t *modseq)
{
	struct stat st;
	int fd = -1, ret;

	if ((ret = open_locked(mb->mbox_path, OPEN_READ, &fd, &st)) < 0)
		return -1;
	ret = sync_locked(mb, fd, ret > 0 ? &st : NULL, rebuild, full, modseq);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- reading a message ---- */

static int pread_all(int fd, char *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : 0;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 1;
}

/* The served text of raw into a memory file. */
static int served_fd(const char *raw, size_t raw_len, int *fd_r)
{
	char *text = malloc(raw_len);
	size_t n;
	int fd, ret = -1;

	if (text == NULL)
		return -1;
	n = store_mboxparse_content(raw, raw_len, text);
	fd = memfd_create("correio-mbox-message", MFD_CLOEXEC);
	if (fd >= 0 && write_all(fd, text, n) > 0 && lseek(fd, 0, SEEK_SET) == 0)
		ret = 1;
	else if (fd >= 0)
		close(fd);
	free(text);
	if (ret > 0)
		*fd_r = fd;
	return ret;
}

int store_mboxfile_open_msg(struct mbox *mb, const struct index_rec *r, int *fd_r)
{
	struct mbox_id id;
	struct stat st;
	char *raw;
	int fd, ret;

	if (!id_parse(store_index_name(&mb->idx, r), &id) || id.raw_len > SIZE_MAX / 2)
		return 0;
	if ((ret = open_locked(mb->mbox_path, OPEN_READ, &fd, &st)) <= 0)
		return ret;
	if ((raw = malloc(id.raw_len)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	ret = pread_all(fd, raw, id.raw_len, id.off);
	close(fd);
	if (ret > 0 && (memcmp(raw, "From ", 5) != 0 ||
			store_crc32c(0, raw, id.raw_len) != id.crc)) {
		mb->mbox_known = false;	/* changed under us: match again */
		ret = 0;
	}
	if (ret > 0)
		ret = served_fd(raw, id.raw_len, fd_r);
	free(raw);
	return ret;
}

/* ---- expunge: rewrite the file ---- */

struct cut {
	uint64_t off, end;
};

static int cut_cmp(const void *pa, const void *pb)
{
	const struct cut *a = pa, *b = pb;

	return a->off < b->off ? -1 : a->off > b->off;
}

/* The byte ranges of the marked records; a record whose entry is not
   where its name says is left in place (and unmarked). */
static unsigned plan_cuts(struct mbox *mb, const char *data, size_t size,
			  struct cut *cuts)
{
	struct mbox_id id;
	unsigned n = 0;

	for (unsigned i = 0; i < mb->idx.count; i++) {
		struct index_rec *r = &mb->idx.recs[i];
		if (!r->mark)
			continue;
		if (!id_parse(store_index_name(&mb->idx, r), &id) || !id_valid(&id, data, size)) {
			r->mark = 0;
			mb->mbox_known = false;
			continue;
		}
		cuts[n].off = id.off;
		cuts[n].end = id.off + id.raw_len;
		if (cuts[n].end < size && data[cuts[n].end] == '\n')
			cuts[n].end++;
		n++;
	}
	qsort(cuts, n, sizeof(*cuts), cut_cmp);
	return n;
}

/* Bytes removed before offset off. */
static uint64_t removed_before(const struct cut *cuts, unsigned n, uint64_t off)
{
	uint64_t sum = 0;
	unsigned lo = 0, hi = n;

	while (lo < hi) {	/* cuts before off: lo */
		unsigned mid = lo + (hi - lo) / 2;
		if (cuts[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (unsigned i = 0; i < lo; i++)
		sum += cuts[i].end - cuts[i].off;
	return sum;
}

static int write_kept(int out, const char *data, size_t size, const struct cut *cuts,
		      unsigned n)
{
	uint64_t at = 0;

	for (unsigned i = 0; i <= n; i++) {
		uint64_t to = i < n ? cuts[i].off : size;
		if (to > at && write_all(out, data + at, (size_t)(to - at)) < 0)
			return -1;
		if (i < n)
			at = cuts[i].end;
	}
	return 1;
}

static void tmp_path(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash != NULL ? (int)(slash - path) : 0;

	snprintf(out, size, "%.*s/.%s.correio-tmp", dir_len, path,
		 slash != NULL ? slash + 1 : path);
}

/* The new file, durable under the mbox's name.  *st_r: its state. */
static int replace_file(struct mbox *mb, const char *data, size_t size, mode_t mode,
			const struct cut *cuts, unsigned n, struct stat *st_r)
{
	char tmp[STORE_PATH_MAX], dir[STORE_PATH_MAX];
	int out, ret;

	tmp_path(mb->mbox_path, tmp, sizeof(tmp));
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
	if (out < 0)
		return -1;
	ret = write_kept(out, data, size, cuts, n) > 0 && fsync(out) == 0 &&
	      fstat(out, st_r) == 0 ? 1 : -1;
	if (close(out) < 0 || (ret > 0 && rename(tmp, mb->mbox_path) < 0))
		ret = -1;
	if (ret < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	str_copy(dir, mb->mbox_path, sizeof(dir));
	if (fsync_dir(dirname(dir)) < 0)
		log_warn("store: fsync %s: %m", dir);
	return 1;
}

/* The kept records' new offsets. */
static void move_records(struct mbox *mb, const struct cut *cuts, unsigned n)
{
	struct mboxmsg m = { 0 };
	struct mbox_id id;
	char name[80];

	for (unsigned i = 0; i < mb->idx.count; i++) {
		struct index_rec *r = &mb->idx.recs[i];
		if (r->mark || !id_parse(store_index_name(&mb->idx, r), &id))
			continue;
		m.off = id.off - removed_before(cuts, n, id.off);
		m.raw_len = id.raw_len;
		m.crc = id.crc;
		id_name(&m, name, sizeof(name));
		store_index_set_name(&mb->idx, r, name);
	}
	mb->idx.needs_compact = true;	/* the new offsets, fsynced */
}

static int rewrite(struct mbox *mb, int fd, const struct stat *st)
{
	size_t size = (size_t)st->st_size;
	struct cut *cuts;
	struct stat nst;
	const char *data;
	unsigned n;
	int ret;

	if (map_file(fd, size, &data) < 0)
		return -1;
	cuts = xcalloc(mb->idx.count + 1, sizeof(*cuts));
	n = plan_cuts(mb, data, size, cuts);
	ret = n == 0 ? 1 : replace_file(mb, data, size, st->st_mode, cuts, n, &nst);
	if (ret > 0 && n > 0) {
		move_records(mb, cuts, n);
		mb->mbox_st = nst;
		mb->mbox_known = true;
	}
	if (ret < 0) {
		for (unsigned i = 0; i < mb->idx.count; i++)
			mb->idx.recs[i].mark = 0;
	}
	free(cuts);
	unmap_file(data, size);
	return ret;
}

int store_mboxfile_expunge(struct mbox *mb, const uint32_t *uids, unsigned n,
			   struct store_error *error_r)
{
	uint64_t modseq = 0;
	struct stat st;
	int fd = -1, ret;
	long i;

	if ((ret = open_locked(mb->mbox_path, OPEN_WRITE, &fd, &st)) < 0) {
		store_error_sys(error_r, "lock", mb->mbox_path);
		return -1;
	}
	/* first take in what was delivered meanwhile: it must survive */
	if (sync_locked(mb, fd, ret > 0 ? &st : NULL, false, false, &modseq) < 0) {
		store_error_sys(error_r, "read", mb->mbox_path);
		close(fd);
		return -1;
	}
	store_mbox_notify(mb, NULL);
	for (unsigned k = 0; k < n; k++)
		if ((i = store_index_find(&mb->idx, uids[k])) >= 0)
			mb->idx.recs[i].mark = 1;
	ret = fd < 0 ? 1 : rewrite(mb, fd, &st);
	if (ret < 0)
		store_error_sys(error_r, "rewrite", mb->mbox_path);
	if (fd >= 0)
		close(fd);	/* releases the lock */
	return ret;
}

/* ---- append ---- */

static int read_text(int fd, struct buf *out)
{
	char block[65536];
	ssize_t n;

	buf_reset(out);
	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(out, block, (size_t)n) < 0)
			return -1;
	}
	return 1;
}

/* The entries of v[0..n) into out, after a LF when the file lacks one. */
static int build_entries(int fd, const struct stat *st, struct mbox_add *v, unsigned n,
			 struct buf *out)
{
	struct buf text;
	char last = '\n';
	int ret = 1;

	if (st->st_size > 0 && pread(fd, &last, 1, st->st_size - 1) != 1)
		return -1;
	if (last != '\n')
		buf_putc(out, '\n');
	buf_init(&text, 0);
	for (unsigned i = 0; ret > 0 && i < n; i++) {
		ret = read_text(v[i].fd, &text);
		store_mboxparse_entry("MAILER-DAEMON", v[i].date, text.data != NULL ? text.data : "",
				      text.len, out);
	}
	buf_deinit(&text);
	return ret;
}

/* Index what was just written (out, at offset base) as v[0..n). */
static void index_added(struct mbox *mb, const struct buf *out, uint64_t base,
			struct mbox_add *v, unsigned n, uint64_t *modseq)
{
	struct found f = { 0 };
	char name[80];

	store_mboxparse(out->data, out->len, base, collect, &f);
	if (f.n != n) {
		log_err("store: %s: appended %u messages, found %u", mb->mbox_path, n, f.n);
		mb->mbox_known = false;	/* the next sync finds them */
		free(f.v);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct index_rec r = { .uid = mb->idx.uidnext, .flags = v[i].flags & STORE_FLAGS_SYSTEM,
				       .keywords = v[i].keywords, .date = v[i].date,
				       .size = f.v[i].size, .vsize = f.v[i].vsize };
		r.modseq = store_index_lazy_modseq(mb, modseq);
		id_name(&f.v[i], name, sizeof(name));
		store_index_append(&mb->idx, &r, name);
		store_index_log(&mb->idx, INDEX_LOG_ADD, &r, name);
		mb->idx.uidnext = r.uid + 1;
		uidvec_push(&mb->chg_exists, r.uid);
		store_account_usage_add(mb->acct, (int64_t)r.size, 1);
		v[i].uid = r.uid;
	}
	free(f.v);
}

static int append_locked(struct mbox *mb, int fd, const struct stat *st,
			 struct mbox_add *v, unsigned n, uint64_t *modseq)
{
	char dir[STORE_PATH_MAX];
	struct stat nst;
	struct buf out;
	int ret;

	buf_init(&out, 0);
	ret = build_entries(fd, st, v, n, &out);
	if (ret > 0 && (write_all(fd, out.data, out.len) < 0 || fsync(fd) < 0 ||
			fstat(fd, &nst) < 0)) {
		int saved = errno;
		if (ftruncate(fd, st->st_size) < 0)
			log_err("store: %s: cannot cut a failed append: %m", mb->mbox_path);
		errno = saved;
		ret = -1;
	}
	if (ret > 0) {
		index_added(mb, &out, (uint64_t)st->st_size, v, n, modseq);
		mb->mbox_st = nst;
		str_copy(dir, mb->mbox_path, sizeof(dir));
		if (st->st_size == 0 && fsync_dir(dirname(dir)) < 0)
			log_warn("store: fsync %s: %m", dir);
	}
	buf_deinit(&out);
	return ret;
}

int store_mboxfile_append(struct mbox *mb, struct mbox_add *v, unsigned n,
			  struct store_error *error_r)
{
	char dir[STORE_PATH_MAX];
	uint64_t modseq = 0;
	struct stat st;
	int fd, ret;

	str_copy(dir, mb->mbox_path, sizeof(dir));
	if (mkdir_p(dirname(dir), 0700) < 0 ||
	    open_locked(mb->mbox_path, OPEN_CREATE, &fd, &st) <= 0) {
		store_error_sys(error_r, "lock", mb->mbox_path);
		return -1;
	}
	/* what was delivered meanwhile comes first, with the lower UIDs */
	ret = sync_locked(mb, fd, &st, false, false, &modseq);
	if (ret > 0)
		ret = append_locked(mb, fd, &st, v, n, &modseq);
	if (ret < 0)
		store_error_sys(error_r, "append", mb->mbox_path);
	close(fd);
	return ret;
}

int store_mboxfile_append_foreign(const char *path, const char *entries, size_t len,
				  struct store_error *error_r)
{
	char dir[STORE_PATH_MAX];
	struct stat st;
	char last = '\n';
	int fd, ret = 1;

	str_copy(dir, path, sizeof(dir));
	if (mkdir_p(dirname(dir), 0700) < 0 || open_locked(path, OPEN_CREATE, &fd, &st) <= 0) {
		store_error_sys(error_r, "lock", path);
		return -1;
	}
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		ret = -1;
	if (ret > 0 && ((last != '\n' && write_all(fd, "\n", 1) < 0) ||
			write_all(fd, entries, len) < 0 || fsync(fd) < 0))
		ret = -1;
	if (ret < 0) {
		store_error_sys(error_r, "append", path);
		if (ftruncate(fd, st.st_size) < 0)
			log_err("store: %s: cannot cut a failed append: %m", path);
	}
	str_copy(dir, path, sizeof(dir));
	if (ret > 0 && st.st_size == 0 && fsync_dir(dirname(dir)) < 0)
		log_warn("store: fsync %s: %m", dir);
	close(fd);	/* releases the lock */
	return ret;
}

/* ---- local delivery ---- */

/* Does the file end with text?  (A delivery resumed after a crash finds
   the entry it appended before the spool was cleaned.) */
static bool ends_with(int fd, const struct stat *st, const struct buf *text)
{
	char block[65536];
	off_t off;
	size_t done = 0;

	if ((uint64_t)st->st_size < text->len)
		return false;
	off = st->st_size - (off_t)text->len;
	while (done < text->len) {
		size_t want = text->len - done < sizeof(block) ? text->len - done : sizeof(block);
		ssize_t n = pread(fd, block, want, off + (off_t)done);
		if (n <= 0 || memcmp(block, text->data + done, (size_t)n) != 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* Append entry under the lock already held: after a LF when the file
   lacks one (another program left it so), cut back on failure. */
static int append_entry(int fd, const struct stat *st, const struct buf *entry,
			bool recovered)
{
	char last = '\n';
	int ret = 1;

	if (recovered && ends_with(fd, st, entry))
		return 0;	/* appended before the crash */
	if (st->st_size > 0 && pread(fd, &last, 1, st->st_size - 1) != 1)
		return -1;
	if ((last != '\n' && write_all(fd, "\n", 1) < 0) ||
	    write_all(fd, entry->data, entry->len) < 0) {
		int saved = errno;
		if (ftruncate(fd, st->st_size) < 0)
			log_err("store: cannot cut a failed delivery: %m");
		errno = saved;
		ret = -1;
	}
	return ret;
}

int store_mboxfile_deliver(const char *path, const char *sender, int64_t arrival,
			   const char *src, const char *flags, bool recovered,
			   bool *created_r)
{
	struct buf text, stated, entry;
	struct stat st;
	int in, fd = -1, ret = -1;

	*created_r = false;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	buf_init(&text, 0);
	buf_init(&stated, 0);
	buf_init(&entry, 0);
	if (read_text(in, &text) > 0) {
		store_mboxparse_state(text.data != NULL ? text.data : "", text.len, flags,
				      &stated);
		store_mboxparse_entry(sender, arrival, buf_cstr(&stated), stated.len, &entry);
		if ((ret = open_locked(path, OPEN_CREATE, &fd, &st)) <= 0)
			ret = -1;
	}
	if (ret > 0) {
		*created_r = st.st_size == 0;
		ret = append_entry(fd, &st, &entry, recovered);
	}
	if (fd >= 0)
		close(fd);	/* releases the lock */
	close(in);
	buf_deinit(&text);
	buf_deinit(&stated);
	buf_deinit(&entry);
	return ret;
}
