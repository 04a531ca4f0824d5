/*
 * store_index_file.c - a folder's index on disk: a snapshot, a log of the
 * changes since, and a small fallback file.  Called by the store only.
 *
 * correio-index (snapshot), host byte order (a file from another
 * architecture fails the magic check and is rebuilt):
 *     header   64 bytes: magic "CRIX", version, header and record sizes,
 *              uidvalidity, uidnext, first recent UID, message count,
 *              highest modseq, log sequence, names size, CRC-32C
 *     records  count x 56 bytes (struct index_rec), ascending UID
 *     names    the file names, NUL-terminated, in record order
 *   Written whole to correio-index.tmp, fsynced, renamed over the old one.
 *   Loading is three read(2)s and one checksum: ~1.2 MB for 10,000
 *   messages, a few milliseconds; 100,000 messages are ~13 MB.
 *
 * correio-index.log (changes since the snapshot), appended with one
 * write(2) per operation, never fsynced (flags and UIDs are also in the
 * Maildir names, so a lost tail costs modseqs only, see below):
 *     header   24 bytes: magic "CRIL", version, uidvalidity, log sequence
 *     records  u32 length, u32 CRC-32C of the body, body = type byte +
 *              a 56-byte record (+ the file name for ADD and FLAGS), or
 *              for STATE: uidnext, first recent UID, highest modseq;
 *              for SIZES: the record of a message whose size, RFC822
 *              size and date were read after it was indexed (the flag
 *              REC_FLAG_UNMEASURED of a record says they are not yet);
 *              for CURDIR: the mtime of cur/ (s, ns) when a read of all
 *              of cur/ left the index equal to it, written when that
 *              mtime was old enough to be trusted (store_sync.c).  A load
 *              whose cur/ still has that mtime skips reading cur/, which
 *              costs time in proportion to the folder.  (A reader older
 *              than this record stops its replay there: it loses the
 *              modseqs of the tail and reads cur/, as after a crash.)
 *   The log goes with the snapshot whose sequence it carries.  Replay
 *   stops at the first torn or damaged record and cuts the file there.
 *   When the log passes max(256 KB, snapshot / 4) the index is compacted:
 *   new snapshot, then an empty log with the next sequence.  A crash in
 *   between leaves a log of the previous sequence, which is ignored.
 *
 * correio-uidvalidity (fallback): "<uidvalidity> <uidnext> <modseq bound>",
 * written at creation, at compaction (fsynced) and after expunges.  It
 * survives the loss of the index files, so a rebuilt index keeps the
 * UIDVALIDITY and never reuses a UID.  The modseq bound is above every
 * modseq ever given (raised, fsynced, before one would reach it); an
 * index rebuilt or read with a damaged log starts its HIGHESTMODSEQ at
 * the bound, so CONDSTORE clients never see it go back.
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

#define SNAP_MAGIC	0x58495243u	/* "CRIX" */
#define LOG_MAGIC	0x4c495243u	/* "CRIL" */
#define INDEX_VERSION	1
#define MODSEQ_SLACK	(1u << 20)
#define LOG_MIN_COMPACT	(256 * 1024)
#define LOG_REC_MAX	(sizeof(struct index_rec) + STORE_FILE_MAX + 16)

struct snap_header {
	uint32_t magic, version, header_size, rec_size;
	uint32_t uidvalidity, uidnext, first_recent, count;
	uint64_t highestmodseq, log_seq, names_size;
	uint32_t crc, pad;
};

struct log_header {
	uint32_t magic, version, uidvalidity, pad;
	uint64_t log_seq;
};

struct log_state {
	uint32_t uidnext, first_recent;
	uint64_t highestmodseq;
};

struct log_curdir {
	int64_t sec, nsec;
};

_Static_assert(sizeof(struct index_rec) == 56, "index record size");
_Static_assert(sizeof(struct snap_header) == 64, "snapshot header size");

/* ---- CRC-32C (Castagnoli), table-driven, eight bytes a step ---- */

static uint32_t crc_table[8][256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc32c_table(uint32_t crc, const unsigned char *p, size_t len)
{
	if (crc_table[0][1] == 0)
		crc_init();
	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][p[4]] ^ crc_table[2][p[5]] ^
		      crc_table[1][p[6]] ^ crc_table[0][p[7]];
	}
	while (len-- > 0)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE 4.2's crc32 instruction computes the same CRC-32C some ten times
   faster: loading a 100,000-message index checksums some 13 MB. */
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t)c;
	while (len-- > 0)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}

static bool have_sse42(void)
{
	static int known = -1;

	if (known < 0)
		known = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	return known == 1;
}
#endif

uint32_t store_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (have_sse42())
		return ~crc32c_sse42(~crc, p, len);
#endif
	return ~crc32c_table(~crc, p, len);
}

static void path_of(const struct mbox *mb, const char *file, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", mb->dir, file);
}

static int read_exact(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 1;
}

/* ---- the fallback file ---- */

struct fallback {
	uint32_t uidvalidity, uidnext;
	uint64_t bound;
};

int store_uidv_read(const char *path, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
		    uint64_t *bound_r)
{
	unsigned long long v, n, b;
	struct buf text;
	int ret;

	buf_init(&text, 4096);
	ret = store_read_file(path, &text);
	if (ret > 0 && (sscanf(buf_cstr(&text), "%llu %llu %llu", &v, &n, &b) != 3 ||
			v == 0 || v > UINT32_MAX || n == 0 || n > UINT32_MAX))
		ret = 0;
	buf_deinit(&text);
	if (ret <= 0)
		return ret < 0 && errno != ENOENT ? -1 : 0;
	*uidvalidity_r = (uint32_t)v;
	*uidnext_r = (uint32_t)n;
	*bound_r = b;
	return 1;
}

static int read_fallback(const struct mbox *mb, struct fallback *fb)
{
	char path[STORE_PATH_MAX];

	path_of(mb, STORE_UIDV_FILE, path, sizeof(path));
	return store_uidv_read(path, &fb->uidvalidity, &fb->uidnext, &fb->bound);
}

int store_index_write_fallback(struct mbox *mb, bool sync)
{
	char path[STORE_PATH_MAX], text[96];
	int n;

	path_of(mb, STORE_UIDV_FILE, path, sizeof(path));
	n = snprintf(text, sizeof(text), "%u %u %llu\n", mb->idx.uidvalidity,
		     mb->idx.uidnext, (unsigned long long)mb->idx.modseq_bound);
	if (store_write_file(path, text, (size_t)n, sync) < 0) {
		log_err("store: write %s: %m", path);
		return -1;
	}
	return 1;
}

uint64_t store_index_next_modseq(struct mbox *mb)
{
	struct index *idx = &mb->idx;

	if (idx->highestmodseq + 1 >= idx->modseq_bound) {
		idx->modseq_bound = idx->highestmodseq + 1 + MODSEQ_SLACK;
		store_index_write_fallback(mb, true);
	}
	return ++idx->highestmodseq;
}

uint64_t store_index_lazy_modseq(struct mbox *mb, uint64_t *modseq)
{
	if (*modseq == 0)
		*modseq = store_index_next_modseq(mb);
	return *modseq;
}

void store_index_expunge_marked(struct mbox *mb, uint64_t *modseq)
{
	bool any = false;

	for (unsigned i = 0; i < mb->idx.count; i++) {
		struct index_rec *r = &mb->idx.recs[i];
		if (!r->mark)
			continue;
		r->modseq = store_index_lazy_modseq(mb, modseq);
		uidvec_push(&mb->chg_expunge, r->uid);
		store_index_log(&mb->idx, INDEX_LOG_EXPUNGE, r, NULL);
		if ((r->flags & REC_FLAG_UNMEASURED) != 0)
			store_account_usage_stale(mb->acct);	/* its bytes: count again */
		else
			store_account_usage_add(mb->acct, -(int64_t)r->size, -1);
		any = true;
	}
	store_index_remove_marked(&mb->idx);
	if (any)
		store_index_write_fallback(mb, false);
}

/* ---- the snapshot ---- */

static bool snapshot_valid(const struct index *idx, const struct snap_header *h)
{
	for (unsigned i = 0; i < idx->count; i++) {
		const struct index_rec *r = &idx->recs[i];
		if (r->uid == 0 || r->uid >= h->uidnext ||
		    (i > 0 && r->uid <= idx->recs[i - 1].uid) ||
		    r->name_off >= h->names_size)
			return false;
	}
	/* names end in NUL and never hold a '/' (they are opened under cur/) */
	return h->names_size == 0 || (idx->names[h->names_size - 1] == '\0' &&
				      memchr(idx->names, '/', h->names_size) == NULL);
}

static int read_body(int fd, struct index *idx, const struct snap_header *h)
{
	size_t rec_bytes = (size_t)h->count * sizeof(struct index_rec);

	idx->cap = h->count < 64 ? 64 : h->count;
	idx->recs = xreallocarray(idx->recs, idx->cap, sizeof(struct index_rec));
	idx->names_cap = h->names_size + 4096;
	idx->names = xrealloc(idx->names, idx->names_cap);
	if (read_exact(fd, idx->recs, rec_bytes) < 0 ||
	    read_exact(fd, idx->names, h->names_size) < 0)
		return 0;
	idx->count = h->count;
	idx->names_len = h->names_size;
	return 1;
}

/* 1 loaded, 0 missing, -1 damaged. */
static int read_snapshot(struct mbox *mb, struct snap_header *h)
{
	char path[STORE_PATH_MAX];
	uint32_t crc, want;
	struct stat st;
	int fd, ret = 0;

	path_of(mb, STORE_INDEX_FILE, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == 0 && read_exact(fd, h, sizeof(*h)) > 0 &&
	    h->magic == SNAP_MAGIC && h->version == INDEX_VERSION &&
	    h->header_size == sizeof(*h) && h->rec_size == sizeof(struct index_rec) &&
	    (uint64_t)st.st_size == sizeof(*h) + (uint64_t)h->count * h->rec_size +
				    h->names_size && h->names_size < UINT32_MAX)
		ret = read_body(fd, &mb->idx, h);
	close(fd);
	if (ret == 0)
		return -1;
	want = h->crc;
	h->crc = 0;
	crc = store_crc32c(0, mb->idx.recs, (size_t)h->count * sizeof(struct index_rec));
	crc = store_crc32c(crc, mb->idx.names, h->names_size);
	crc = store_crc32c(crc, h, sizeof(*h));
	if (crc != want || !snapshot_valid(&mb->idx, h))
		return -1;
	mb->idx.snapshot_size = (uint64_t)st.st_size;
	return 1;
}

static int write_snapshot(struct mbox *mb)
{
	struct index *idx = &mb->idx;
	struct snap_header h = {
		.magic = SNAP_MAGIC, .version = INDEX_VERSION, .header_size = sizeof(h),
		.rec_size = sizeof(struct index_rec), .uidvalidity = idx->uidvalidity,
		.uidnext = idx->uidnext, .first_recent = idx->first_recent,
		.count = idx->count, .highestmodseq = idx->highestmodseq,
		.log_seq = idx->log_seq, .names_size = idx->names_len,
	};
	size_t rec_bytes = (size_t)idx->count * sizeof(struct index_rec);
	char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	uint32_t crc;
	int fd, ret;

	crc = store_crc32c(0, idx->recs, rec_bytes);
	crc = store_crc32c(crc, idx->names, idx->names_len);
	h.crc = store_crc32c(crc, &h, sizeof(h));	/* with h.crc = 0 */
	path_of(mb, STORE_INDEX_FILE, path, sizeof(path));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ret = write_all(fd, &h, sizeof(h)) > 0 && write_all(fd, idx->recs, rec_bytes) > 0 &&
	      write_all(fd, idx->names, idx->names_len) > 0 && fsync(fd) == 0 ? 1 : -1;
	if (close(fd) < 0 || (ret > 0 && rename(tmp, path) < 0))
		ret = -1;
	if (ret < 0)
		unlink(tmp);
	idx->snapshot_size = sizeof(h) + rec_bytes + idx->names_len;
	return ret;
}

/* ---- the log ---- */

static int new_log(struct mbox *mb)
{
	struct log_header h = { LOG_MAGIC, INDEX_VERSION, mb->idx.uidvalidity, 0,
				mb->idx.log_seq };
	char path[STORE_PATH_MAX];

	if (mb->idx.log_fd >= 0)
		close(mb->idx.log_fd);
	mb->idx.log_fd = -1;
	path_of(mb, STORE_LOG_FILE, path, sizeof(path));
	if (store_write_file(path, &h, sizeof(h), false) < 0)
		return -1;
	mb->idx.log_fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	mb->idx.log_size = sizeof(h);
	return mb->idx.log_fd < 0 ? -1 : 1;
}

void store_index_log(struct index *idx, enum index_log_type type,
		     const struct index_rec *r, const char *name)
{
	size_t name_len, at = idx->pending.len;
	uint32_t len, crc;
	struct log_state st = { idx->uidnext, idx->first_recent, idx->highestmodseq };
	struct log_curdir cd = { idx->cur_mtime.tv_sec, idx->cur_mtime.tv_nsec };
	uint8_t t = (uint8_t)type;

	/* the next commit writes a snapshot, which holds every change, and
	   drops what is pending (a first index build logs no 100,000 ADDs) */
	if (idx->needs_compact)
		return;
	name_len = name != NULL ? strlen(name) : 0;
	len = (uint32_t)(1 + sizeof(*r) + name_len);
	if (type == INDEX_LOG_STATE)
		len = 1 + sizeof(st);
	else if (type == INDEX_LOG_CURDIR)
		len = 1 + sizeof(cd);
	buf_append(&idx->pending, &len, sizeof(len));
	buf_append(&idx->pending, &len, sizeof(len));	/* room for the CRC */
	buf_append(&idx->pending, &t, 1);
	if (type == INDEX_LOG_STATE) {
		buf_append(&idx->pending, &st, sizeof(st));
	} else if (type == INDEX_LOG_CURDIR) {
		buf_append(&idx->pending, &cd, sizeof(cd));
	} else {
		buf_append(&idx->pending, r, sizeof(*r));
		buf_append(&idx->pending, name, name_len);
	}
	crc = store_crc32c(0, idx->pending.data + at + 8, len);
	memcpy(idx->pending.data + at + 4, &crc, sizeof(crc));
}

static void apply_state(struct index *idx, const struct log_state *st)
{
	if (st->uidnext > idx->uidnext)
		idx->uidnext = st->uidnext;
	idx->first_recent = st->first_recent;
	if (st->highestmodseq > idx->highestmodseq)
		idx->highestmodseq = st->highestmodseq;
}

/* FLAGS, EXPUNGE or CACHE of a record in the index. */
static bool apply_change(struct index *idx, char type, const struct index_rec *r,
			 const char *name, size_t name_len)
{
	long i = store_index_find(idx, r->uid);

	if (i < 0)
		return true;	/* expunged later in this log */
	if (type == INDEX_LOG_FLAGS && name_len > 0) {
		idx->recs[i].flags = r->flags;
		idx->recs[i].keywords = r->keywords;
		idx->recs[i].modseq = r->modseq;
		store_index_set_name(idx, &idx->recs[i], name);
	} else if (type == INDEX_LOG_EXPUNGE) {
		idx->recs[i].mark = 1;
	} else if (type == INDEX_LOG_CACHE) {
		idx->recs[i].cache_off = r->cache_off;
		idx->recs[i].cache_len = r->cache_len;
	} else if (type == INDEX_LOG_SIZES) {
		idx->recs[i].size = r->size;
		idx->recs[i].vsize = r->vsize;
		idx->recs[i].date = r->date;
		idx->recs[i].flags &= (uint8_t)~REC_FLAG_UNMEASURED;
	} else {
		return false;
	}
	return true;
}

/* Apply one record body; false if it makes no sense here. */
static bool apply_record(struct index *idx, const char *body, uint32_t len)
{
	char name[STORE_FILE_MAX + 1];
	struct index_rec r;
	size_t name_len;

	if (body[0] == INDEX_LOG_STATE && len == 1 + sizeof(struct log_state)) {
		struct log_state st;
		memcpy(&st, body + 1, sizeof(st));
		apply_state(idx, &st);
		return true;
	}
	if (body[0] == INDEX_LOG_CURDIR && len == 1 + sizeof(struct log_curdir)) {
		struct log_curdir cd;
		memcpy(&cd, body + 1, sizeof(cd));
		idx->cur_mtime.tv_sec = (time_t)cd.sec;
		idx->cur_mtime.tv_nsec = (long)cd.nsec;
		idx->cur_known = true;
		return true;
	}
	if (len < 1 + sizeof(r) || (name_len = len - 1 - sizeof(r)) > STORE_FILE_MAX)
		return false;
	memcpy(&r, body + 1, sizeof(r));
	memcpy(name, body + 1 + sizeof(r), name_len);
	name[name_len] = '\0';
	if (strlen(name) != name_len || strchr(name, '/') != NULL)
		return false;
	if (r.modseq > idx->highestmodseq)
		idx->highestmodseq = r.modseq;
	if (body[0] == INDEX_LOG_ADD) {
		if (name_len == 0 || r.uid == 0 ||
		    (idx->count > 0 && r.uid <= idx->recs[idx->count - 1].uid))
			return false;
		store_index_append(idx, &r, name);
		if (r.uid >= idx->uidnext)
			idx->uidnext = r.uid + 1;
		return true;
	}
	return apply_change(idx, body[0], &r, name, name_len);
}

/* Replay data[0..len) (after the header).  Returns the bytes used. */
static size_t replay(struct index *idx, const char *data, size_t len)
{
	size_t at = 0;
	uint32_t rlen, crc;

	while (len - at >= 8) {
		memcpy(&rlen, data + at, 4);
		memcpy(&crc, data + at + 4, 4);
		if (rlen == 0 || rlen > LOG_REC_MAX || rlen > len - at - 8 ||
		    store_crc32c(0, data + at + 8, rlen) != crc ||
		    !apply_record(idx, data + at + 8, rlen))
			break;
		at += 8 + rlen;
	}
	store_index_remove_marked(idx);
	return at;
}

/* 1 replayed whole, 0 missing or damaged (changes may be lost). */
static int read_log(struct mbox *mb)
{
	char path[STORE_PATH_MAX];
	struct log_header h;
	struct buf data;
	size_t used;
	int ret;

	path_of(mb, STORE_LOG_FILE, path, sizeof(path));
	buf_init(&data, 0);
	ret = store_read_file(path, &data);
	if (ret <= 0 || data.len < sizeof(h)) {
		buf_deinit(&data);
		return 0;
	}
	memcpy(&h, data.data, sizeof(h));
	if (h.magic != LOG_MAGIC || h.version != INDEX_VERSION ||
	    h.uidvalidity != mb->idx.uidvalidity || h.log_seq != mb->idx.log_seq) {
		buf_deinit(&data);
		/* the log of the snapshot before: already in this snapshot */
		return h.magic == LOG_MAGIC && h.log_seq + 1 == mb->idx.log_seq ? -2 : 0;
	}
	used = replay(&mb->idx, data.data + sizeof(h), data.len - sizeof(h));
	ret = used == data.len - sizeof(h) ? 1 : 0;
	if (ret == 0 && truncate(path, (off_t)(sizeof(h) + used)) < 0)
		log_warn("store: truncate %s: %m", path);
	mb->idx.log_size = sizeof(h) + used;
	buf_deinit(&data);
	return ret;
}

static int open_log(struct mbox *mb)
{
	char path[STORE_PATH_MAX];

	path_of(mb, STORE_LOG_FILE, path, sizeof(path));
	mb->idx.log_fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	return mb->idx.log_fd < 0 ? -1 : 1;
}

/* ---- loading ---- */

/* Start empty for a rebuild from the Maildir. */
static void start_rebuild(struct mbox *mb, const struct fallback *fb, bool have_fb)
{
	struct index *idx = &mb->idx;

	store_index_clear(idx);
	/* an mbox keeps no UIDs in the file: lost with the index, the
	   messages get new ones under a new UIDVALIDITY */
	if (mb->mbox_path != NULL)
		have_fb = false;
	idx->uidvalidity = have_fb ? fb->uidvalidity : store_account_new_uidvalidity(mb->acct, true);
	idx->uidnext = have_fb ? fb->uidnext : 1;
	idx->first_recent = idx->uidnext;
	idx->highestmodseq = have_fb ? fb->bound : 0;
	idx->modseq_bound = idx->highestmodseq + MODSEQ_SLACK;
	idx->log_seq = time_now_us();
	idx->needs_compact = true;
}

static void adopt_snapshot(struct mbox *mb, const struct snap_header *h,
			   const struct fallback *fb, bool have_fb)
{
	struct index *idx = &mb->idx;

	idx->uidvalidity = h->uidvalidity;
	idx->uidnext = h->uidnext;
	idx->first_recent = h->first_recent;
	idx->highestmodseq = h->highestmodseq;
	idx->log_seq = h->log_seq;
	idx->modseq_bound = h->highestmodseq + MODSEQ_SLACK;
	if (have_fb) {
		if (fb->uidnext > idx->uidnext)
			idx->uidnext = fb->uidnext;
		if (fb->bound > idx->highestmodseq)
			idx->modseq_bound = fb->bound;
	}
	for (unsigned i = 0; i < idx->count; i++)
		idx->recs[i].mark = 0;
	idx->cur_known = false;
}

int store_index_load(struct mbox *mb, struct store_error *error_r)
{
	struct index *idx = &mb->idx;
	struct snap_header h;
	struct fallback fb;
	int have_fb, snap, ret;

	if ((have_fb = read_fallback(mb, &fb)) < 0) {
		store_error_sys(error_r, "read", mb->dir);
		return -1;
	}
	snap = read_snapshot(mb, &h);
	if (snap > 0 && have_fb && fb.uidvalidity != h.uidvalidity)
		snap = -1;
	if (snap <= 0) {
		/* a new folder has no index yet: only say so for a real loss */
		if (snap < 0 || (have_fb && fb.uidnext > 1))
			log_info("store: %s: rebuilding the index from the %s", mb->dir,
				 mb->mbox_path != NULL ? "mbox file (new UIDVALIDITY)" : "Maildir");
		start_rebuild(mb, &fb, have_fb);
		return 0;
	}
	adopt_snapshot(mb, &h, &fb, have_fb);
	ret = read_log(mb);
	if (ret == 0) {
		/* lost changes: their modseqs may have been seen */
		if (idx->modseq_bound > idx->highestmodseq)
			idx->highestmodseq = idx->modseq_bound;
		idx->needs_compact = true;
	}
	if (ret < 0 || (ret > 0 && open_log(mb) < 0))
		idx->needs_compact = true;
	if (ret > 0 && idx->cur_known) {
		/* checked against cur/'s mtime at the first sync */
		mb->cur_mtime = idx->cur_mtime;
		mb->cur_clean = true;
	}
	if (idx->modseq_bound <= idx->highestmodseq)
		idx->modseq_bound = idx->highestmodseq + MODSEQ_SLACK;
	if (!have_fb)
		store_index_write_fallback(mb, true);
	return 1;
}

/* ---- writing ---- */

int store_index_compact(struct mbox *mb)
{
	struct index *idx = &mb->idx;
	char path[STORE_PATH_MAX];

	if (store_cache_compact(mb) < 0)
		log_warn("store: %s: cache compaction failed", mb->dir);
	store_index_gc_names(idx, true);	/* live names in record order */
	idx->log_seq++;
	idx->modseq_bound = idx->highestmodseq + MODSEQ_SLACK;
	if (store_index_write_fallback(mb, true) < 0 || write_snapshot(mb) < 0 ||
	    new_log(mb) < 0) {
		path_of(mb, STORE_INDEX_FILE, path, sizeof(path));
		log_err("store: write %s: %m", path);
		return -1;
	}
	idx->needs_compact = false;
	buf_reset(&idx->pending);
	if (mb->cur_clean) {
		/* the new log goes on vouching for cur/ */
		idx->cur_mtime = mb->cur_mtime;
		store_index_log(idx, INDEX_LOG_CURDIR, NULL, NULL);
		if (write_all(idx->log_fd, idx->pending.data, idx->pending.len) > 0)
			idx->log_size += idx->pending.len;
		buf_reset(&idx->pending);
	}
	return 1;
}

int store_index_commit(struct mbox *mb)
{
	struct index *idx = &mb->idx;
	uint64_t limit = idx->snapshot_size / 4;

	if (idx->needs_compact)
		return store_index_compact(mb);
	if (idx->pending.len == 0)
		return 1;
	if (idx->log_fd < 0 || write_all(idx->log_fd, idx->pending.data,
					 idx->pending.len) < 0) {
		log_warn("store: %s: index log write failed, compacting: %m", mb->dir);
		return store_index_compact(mb);
	}
	idx->log_size += idx->pending.len;
	buf_reset(&idx->pending);
	store_index_gc_names(idx, false);
	if (idx->log_size > (limit > LOG_MIN_COMPACT ? limit : LOG_MIN_COMPACT))
		return store_index_compact(mb);
	return 1;
}

void store_index_close(struct mbox *mb)
{
	/* a deleted folder's files are gone with it */
	if (!mb->deleted && (mb->idx.pending.len > 0 || mb->idx.needs_compact))
		store_index_commit(mb);
	if (mb->idx.log_fd >= 0)
		close(mb->idx.log_fd);
	mb->idx.log_fd = -1;
}
