/*
 * store_cache.c - the per-message cache of strings (correio-cache): what
 * the IMAP layer computed once from a message (ENVELOPE, BODYSTRUCTURE),
 * kept so that SELECT and FETCH need not reopen every file.
 *
 * The file: a 16-byte header (magic "CRIC", version, uidvalidity), then
 * records appended at the end, never rewritten in place:
 *     u32 uid, u32 data length, u32 CRC-32C of data, data
 * where data is the message's fields: { u8 field, u32 length, bytes }.
 * Setting a field appends a new record holding all fields of the message;
 * the index record points at the newest one (offset and length).  Old
 * records are garbage: when the file is mostly garbage, the index
 * compaction copies the live records into a new file.  No fsync: a
 * record that fails its checks reads as "not cached".  Offsets are 32
 * bits: past 4 GB nothing more is cached until compaction.
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

#define CACHE_MAGIC	0x43495243u	/* "CRIC" */
#define CACHE_VERSION	1
#define CACHE_HDR	16
#define REC_HDR		12
#define CACHE_MAX	((uint64_t)UINT32_MAX - (64u << 20))
#define CACHE_COMPACT_MIN (1u << 20)

struct cache_header {
	uint32_t magic, version, uidvalidity, pad;
};

static void cache_path(const struct mbox *mb, const char *suffix, char *out, size_t size)
{
	snprintf(out, size, "%s/%s%s", mb->dir, STORE_CACHE_FILE, suffix);
}

static int cache_reset(struct mbox *mb)
{
	struct cache_header h = { CACHE_MAGIC, CACHE_VERSION, mb->idx.uidvalidity, 0 };

	if (ftruncate(mb->cache_fd, 0) < 0 || pwrite(mb->cache_fd, &h, sizeof(h), 0) !=
						   (ssize_t)sizeof(h))
		return -1;
	mb->cache_size = CACHE_HDR;
	for (unsigned i = 0; i < mb->idx.count; i++)
		mb->idx.recs[i].cache_off = mb->idx.recs[i].cache_len = 0;
	return 1;
}

int store_cache_open(struct mbox *mb, bool truncate)
{
	char path[STORE_PATH_MAX];
	struct cache_header h;
	struct stat st;

	cache_path(mb, "", path, sizeof(path));
	mb->cache_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mb->cache_fd < 0 || fstat(mb->cache_fd, &st) < 0) {
		log_err("store: open %s: %m", path);
		return -1;
	}
	mb->cache_size = (uint64_t)st.st_size;
	if (truncate || pread(mb->cache_fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    h.magic != CACHE_MAGIC || h.version != CACHE_VERSION ||
	    h.uidvalidity != mb->idx.uidvalidity) {
		if (cache_reset(mb) < 0) {
			log_err("store: write %s: %m", path);
			return -1;
		}
	}
	return 1;
}

void store_cache_close(struct mbox *mb)
{
	if (mb->cache_fd >= 0)
		close(mb->cache_fd);
	mb->cache_fd = -1;
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = pread(fd, c, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 1;
}

int store_cache_read(struct mbox *mb, const struct index_rec *r, struct buf *out)
{
	uint32_t hdr[3];

	buf_reset(out);
	if (r->cache_off == 0 || r->cache_len < REC_HDR || mb->cache_fd < 0 ||
	    (uint64_t)r->cache_off + r->cache_len > mb->cache_size)
		return 0;
	if (pread_all(mb->cache_fd, hdr, sizeof(hdr), r->cache_off) < 0)
		return -1;
	if (hdr[0] != r->uid || hdr[1] != r->cache_len - REC_HDR)
		return 0;
	for (uint32_t done = 0; done < hdr[1];) {
		char block[8192];
		size_t n = hdr[1] - done < sizeof(block) ? hdr[1] - done : sizeof(block);
		if (pread_all(mb->cache_fd, block, n, (uint64_t)r->cache_off + REC_HDR + done) < 0 ||
		    buf_append(out, block, n) < 0)
			return -1;
		done += (uint32_t)n;
	}
	if (store_crc32c(0, out->data, hdr[1]) != hdr[2]) {
		buf_reset(out);
		return 0;
	}
	return 1;
}

int store_cache_write(struct mbox *mb, struct index_rec *r, const void *rec, size_t len)
{
	uint32_t hdr[3] = { r->uid, (uint32_t)len, store_crc32c(0, rec, len) };

	if (mb->cache_fd < 0 || mb->cache_size + REC_HDR + len > CACHE_MAX)
		return 0;
	if (pwrite(mb->cache_fd, hdr, sizeof(hdr), (off_t)mb->cache_size) != sizeof(hdr) ||
	    pwrite(mb->cache_fd, rec, len, (off_t)(mb->cache_size + REC_HDR)) !=
	    (ssize_t)len) {
		log_err("store: %s: cache write: %m", mb->dir);
		return -1;
	}
	r->cache_off = (uint32_t)mb->cache_size;
	r->cache_len = (uint32_t)(REC_HDR + len);
	mb->cache_size += REC_HDR + len;
	return 1;
}

/* Copy every live record into fd (a new file); offsets into new_off. */
static int copy_live(struct mbox *mb, int fd, uint32_t *new_off)
{
	uint64_t at = CACHE_HDR;
	struct buf rec;
	int ret = 1;

	buf_init(&rec, 0);
	for (unsigned i = 0; ret > 0 && i < mb->idx.count; i++) {
		struct index_rec *r = &mb->idx.recs[i];
		new_off[i] = 0;
		if (store_cache_read(mb, r, &rec) <= 0)
			continue;
		uint32_t hdr[3] = { r->uid, (uint32_t)rec.len,
				    store_crc32c(0, rec.data, rec.len) };
		if (pwrite(fd, hdr, sizeof(hdr), (off_t)at) != sizeof(hdr) ||
		    pwrite(fd, rec.data, rec.len, (off_t)(at + REC_HDR)) != (ssize_t)rec.len)
			ret = -1;
		new_off[i] = (uint32_t)at;
		at += REC_HDR + rec.len;
	}
	buf_deinit(&rec);
	return ret;
}

static void adopt_offsets(struct mbox *mb, const uint32_t *new_off, int fd)
{
	uint64_t size = CACHE_HDR;

	for (unsigned i = 0; i < mb->idx.count; i++) {
		struct index_rec *r = &mb->idx.recs[i];
		r->cache_off = new_off[i];
		if (new_off[i] == 0)
			r->cache_len = 0;
		else
			size = (uint64_t)new_off[i] + r->cache_len;
	}
	close(mb->cache_fd);
	mb->cache_fd = fd;
	mb->cache_size = size;
}

int store_cache_compact(struct mbox *mb)
{
	struct cache_header h = { CACHE_MAGIC, CACHE_VERSION, mb->idx.uidvalidity, 0 };
	char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	uint64_t live = 0;
	uint32_t *new_off;
	int fd, ret;

	for (unsigned i = 0; i < mb->idx.count; i++)
		live += mb->idx.recs[i].cache_len;
	if (mb->cache_fd < 0 || mb->cache_size < CACHE_COMPACT_MIN ||
	    mb->cache_size < 2 * live)
		return 1;
	cache_path(mb, "", path, sizeof(path));
	cache_path(mb, ".tmp", tmp, sizeof(tmp));
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	new_off = xcalloc(mb->idx.count + 1, sizeof(*new_off));
	ret = pwrite(fd, &h, sizeof(h), 0) == sizeof(h) ? copy_live(mb, fd, new_off) : -1;
	if (ret > 0 && rename(tmp, path) == 0) {
		adopt_offsets(mb, new_off, fd);
	} else {
		close(fd);
		unlink(tmp);
		ret = -1;
	}
	free(new_off);
	return ret;
}

/* ---- fields ---- */

/* Find field in the encoded record; 1 with *p, *len set, else 0. */
static int find_field(const struct buf *rec, unsigned field, const char **p,
		      uint32_t *len)
{
	size_t at = 0;
	uint32_t n;

	while (rec->len - at >= 5) {
		memcpy(&n, rec->data + at + 1, 4);
		if (n > rec->len - at - 5)
			return 0;
		if ((unsigned char)rec->data[at] == field) {
			*p = rec->data + at + 5;
			*len = n;
			return 1;
		}
		at += 5 + n;
	}
	return 0;
}

int store_mailbox_cache_get(struct store_mailbox *h, uint32_t uid, unsigned field,
			    struct buf *out)
{
	struct mbox *mb = h->mb;
	long i = store_index_find(&mb->idx, uid);
	struct buf rec;
	const char *p;
	uint32_t len;
	int ret;

	buf_reset(out);
	if (i < 0 || field >= STORE_CACHE_FIELDS)
		return 0;
	buf_init(&rec, 0);
	ret = store_cache_read(mb, &mb->idx.recs[i], &rec);
	if (ret > 0 && (ret = find_field(&rec, field, &p, &len)) > 0)
		ret = buf_append(out, p, len);
	buf_deinit(&rec);
	return ret;
}

/* rec without field, plus field = data. */
static void replace_field(struct buf *rec, unsigned field, const void *data, size_t len)
{
	struct buf out;
	size_t at = 0;
	uint32_t n, n32 = (uint32_t)len;
	uint8_t f = (uint8_t)field;

	buf_init(&out, 0);
	while (rec->len - at >= 5) {
		memcpy(&n, rec->data + at + 1, 4);
		if (n > rec->len - at - 5)
			break;
		if ((unsigned char)rec->data[at] != field)
			buf_append(&out, rec->data + at, 5 + n);
		at += 5 + n;
	}
	buf_append(&out, &f, 1);
	buf_append(&out, &n32, 4);
	buf_append(&out, data, len);
	buf_deinit(rec);
	*rec = out;
}

int store_mailbox_cache_set(struct store_mailbox *h, uint32_t uid, unsigned field,
			    const void *data, size_t len, struct store_error *error_r)
{
	struct mbox *mb = h->mb;
	long i = store_index_find(&mb->idx, uid);
	struct buf rec;
	int ret;

	if (store_mbox_check(mb, error_r) < 0)
		return -1;
	if (i < 0)
		return 0;
	if (field >= STORE_CACHE_FIELDS || len > (16u << 20)) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM, "Bad cache field");
		return -1;
	}
	buf_init(&rec, 0);
	if (store_cache_read(mb, &mb->idx.recs[i], &rec) < 0)
		buf_reset(&rec);
	replace_field(&rec, field, data, len);
	ret = store_cache_write(mb, &mb->idx.recs[i], rec.data, rec.len);
	buf_deinit(&rec);
	if (ret < 0) {
		store_error_set(error_r, STORE_ERROR_TEMP, "Cache write failed");
		return -1;
	}
	if (ret == 0)
		return 1;	/* the cache is full until compaction */
	store_index_log(&mb->idx, INDEX_LOG_CACHE, &mb->idx.recs[i], NULL);
	store_index_commit(mb);
	return 1;
}
