/*
 * store_import.c - mail in and out of an account in bulk (`correio user
 * import|export`), through the Maildir as another program sees it.
 *
 * One process owns a folder's index: the running server.  So import
 * never opens an index: it writes each message into the folder's tmp/
 * and renames it into cur/ with its flags and keyword letters in the
 * ":2," suffix, as a Maildir delivery agent or mutt would, and the store
 * takes it in at the next sync of the folder (the server's, or the
 * first open of it after).  Keyword letters follow the folder's
 * dovecot-keywords file, to which new names are added.
 *
 * UIDs: into a folder that is new or holds no message, messages are
 * written with ",U=<uid>" in their names, the source's UIDs when it has
 * them (dovecot-uidlist) and otherwise 1, 2, ...; the folder's
 * correio-uidvalidity file then names the source's UIDVALIDITY and its
 * next UID, and an index left from before is removed.  The store trusts
 * a U= at or above its UIDNEXT, and every U= when it rebuilds an index,
 * so the messages keep those UIDs and clients that knew the source need
 * not fetch them again.  Into a folder that has messages, names carry no
 * UID and the store gives the next ones, in the order written (the
 * names' leading time, then a zero-padded counter).  Messages are
 * written to tmp/ and, 256 at a time, flushed with one syncfs and moved
 * into cur/ in order.
 *
 * The INBOX of an mbox account is the file delivery appends to: import
 * appends there too, under the same lock, each message with its flags as
 * Status:/X-Status: headers (what the store reads from messages other
 * programs add); the file keeps no UIDs or keywords.
 *
 * Export reads the names and files of a folder (never its index): the
 * flags, keywords and UIDs are in the names, the UIDVALIDITY in
 * correio-uidvalidity, the internal date in the file's mtime.  A message
 * that arrived since the last sync has no UID yet (uid 0).
 */
#include "store/store_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

/* Messages written to tmp/ and not yet flushed and moved into cur/. */
#define IMPORT_BATCH 256

struct import_pending {
	char *tmp, *to;
};

struct store_import {
	struct store_account *acct;
	struct mbox kw;		/* only dir and keywords are used */
	char cur[STORE_PATH_MAX];
	struct import_pending pending[IMPORT_BATCH];
	unsigned n_pending;
	char *mbox_path;	/* an mbox INBOX: entries are appended to it */
	struct buf entries;	/* ... gathered here until the flush */
	bool keep_uids;
	uint32_t next_uid;	/* the lowest UID still free */
	uint32_t src_next;	/* the source's next UID: for messages it gave none */
	unsigned seq;
	unsigned count;
};

/* "<uidvalidity> <uidnext> <modseq bound>" of the folder at dir.  1, 0 none. */
static int read_uidv(const char *dir, uint32_t *v_r, uint32_t *next_r, uint64_t *bound_r)
{
	char path[STORE_PATH_MAX];

	store_path_fmt(path, sizeof(path), "%s/%s", dir, STORE_UIDV_FILE);
	return store_uidv_read(path, v_r, next_r, bound_r) > 0 ? 1 : 0;
}

/* Does the Maildir at dir hold no message (new/ and cur/ empty)? */
static bool maildir_empty(const char *dir)
{
	static const char *subs[] = { "new", "cur" };
	char path[STORE_PATH_MAX];
	struct dirent *de;
	bool empty = true;
	DIR *d;

	for (int i = 0; i < 2 && empty; i++) {
		if (store_path_fmt(path, sizeof(path), "%s/%s", dir, subs[i]) < 0)
			continue;
		if ((d = opendir(path)) == NULL)
			continue;
		while (empty && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				empty = false;
		closedir(d);
	}
	return empty;
}

static int write_uidv(const char *dir, uint32_t uidvalidity, uint32_t uidnext,
		      uint64_t bound)
{
	char path[STORE_PATH_MAX], text[96];
	int n;

	n = snprintf(text, sizeof(text), "%u %u %llu\n", uidvalidity, uidnext,
		     (unsigned long long)(bound > 0 ? bound : 1));
	if (store_path_fmt(path, sizeof(path), "%s/%s", dir, STORE_UIDV_FILE) < 0)
		return -1;
	return store_write_file(path, text, (size_t)n, true);
}

/* The folder takes the source's UIDVALIDITY: forget its own index. */
static int adopt_uidvalidity(const char *dir, uint32_t uidvalidity, uint32_t uidnext,
			     uint64_t bound)
{
	static const char *index_files[] = { STORE_INDEX_FILE, STORE_LOG_FILE,
					     STORE_CACHE_FILE };
	char path[STORE_PATH_MAX];

	for (size_t i = 0; i < sizeof(index_files) / sizeof(index_files[0]); i++) {
		if (store_path_fmt(path, sizeof(path), "%s/%s", dir, index_files[i]) > 0 &&
		    unlink(path) < 0 && errno != ENOENT)
			return -1;
	}
	return write_uidv(dir, uidvalidity, uidnext, bound);
}

/*
 * Make the batch durable and visible: one flush of the file system for
 * every file of it (syncfs, as the queue's group commit does), then each
 * moved into cur/ in the order written, then cur/ itself flushed.  A
 * crash before leaves files in tmp/ only, which nobody reads and the
 * store cleans away.  1 or -1.
 */
static int import_flush(struct store_import *im, struct store_error *error_r)
{
	unsigned i = 0;
	int fd, ret = 1;

	if (im->n_pending == 0)
		return 1;
	if ((fd = open(im->cur, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || syncfs(fd) < 0) {
		store_error_sys(error_r, "syncfs", im->cur);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	for (; ret > 0 && i < im->n_pending; i++) {
		if (store_rename_noreplace(im->pending[i].tmp, im->pending[i].to) < 0) {
			store_error_sys(error_r, "rename", im->pending[i].to);
			ret = -1;
		}
	}
	if (ret > 0 && fsync_dir(im->cur) < 0) {
		store_error_sys(error_r, "fsync", im->cur);
		ret = -1;
	}
	for (unsigned k = 0; k < im->n_pending; k++) {
		if (k >= i || ret < 0)
			unlink(im->pending[k].tmp);	/* not moved: gone */
		free(im->pending[k].tmp);
		free(im->pending[k].to);
	}
	im->n_pending = 0;
	return ret;
}

int store_import_begin(struct store_account *a, const char *name, uint32_t uidvalidity,
		       uint32_t uidnext, struct store_import **r,
		       struct store_error *error_r)
{
	char canon[STORE_NAME_MAX + 1], dir[STORE_PATH_MAX];
	struct store_import *im;
	uint32_t v = 0, next = 1;
	uint64_t bound = 0;
	struct stat st;

	if (store_name_normalize(name, canon, sizeof(canon), error_r) < 0)
		return -1;
	if (a->mbox_path != NULL && store_name_is_inbox(canon)) {
		im = xcalloc(1, sizeof(*im));
		im->mbox_path = xstrdup(a->mbox_path);
		buf_init(&im->entries, 0);
		im->acct = a;
		a->refs++;
		*r = im;
		return 1;
	}
	if (store_folder_path(a, canon, dir, sizeof(dir)) < 0) {
		store_error_set(error_r, STORE_ERROR_LIMIT, "Mailbox name is too long");
		return -1;
	}
	if (!store_name_is_inbox(canon) && stat(dir, &st) < 0 &&
	    store_folder_create(a, canon, 0, error_r) < 0 &&
	    (error_r == NULL || error_r->code != STORE_ERROR_EXISTS))
		return -1;
	if (store_maildir_create(dir) < 0) {
		store_error_sys(error_r, "create", dir);
		return -1;
	}
	im = xcalloc(1, sizeof(*im));
	im->kw.dir = xstrdup(dir);
	store_path_fmt(im->cur, sizeof(im->cur), "%s/cur", dir);
	if (maildir_empty(dir)) {
		im->keep_uids = true;
		read_uidv(dir, &v, &next, &bound);
		if (uidvalidity != 0 && uidvalidity != v) {
			im->src_next = uidnext;
			next = 1;
			if (adopt_uidvalidity(dir, uidvalidity, uidnext > 0 ? uidnext : 1,
					      bound) < 0) {
				store_error_sys(error_r, "write", dir);
				store_import_abort(&im);
				return -1;
			}
		} else if (uidvalidity != 0) {
			im->src_next = uidnext;
		}
		im->next_uid = next;
	}
	if (store_keywords_load(&im->kw) < 0) {
		store_error_sys(error_r, "read", dir);
		store_import_abort(&im);
		return -1;
	}
	im->acct = a;
	a->refs++;
	*r = im;
	return 1;
}

bool store_import_keeps_uids(const struct store_import *im)
{
	return im->keep_uids;
}

/* data with CRLF turned into LF, into out; *lf_r: its line feeds. */
static void to_lf(const char *p, size_t n, struct buf *out, uint64_t *lf_r)
{
	uint64_t lf = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue;
		if (p[i] == '\n')
			lf++;
		buf_putc(out, p[i]);
	}
	*lf_r = lf;
}

/* An mbox INBOX keeps no UIDs and no keywords in the file: the message
   goes in with its flags as Status:/X-Status: (those it had replaced). */
static void mbox_strip(const char *text, size_t len, struct buf *out, struct buf *kw);

static int mbox_add(struct store_import *im, const void *data, size_t len, uint8_t flags,
		    time_t date, uint32_t *uid_r, struct store_error *error_r)
{
	struct buf lf, stripped, kw, text;
	const char *p, *q;
	uint64_t n;
	size_t head;

	buf_init(&lf, 0);
	buf_init(&stripped, 0);
	buf_init(&kw, 0);
	buf_init(&text, 0);
	to_lf(data, len, &lf, &n);
	mbox_strip(lf.data != NULL ? lf.data : "", lf.len, &stripped, &kw);
	/* the header ends at the first empty line (or with the message) */
	p = buf_cstr(&stripped);
	if (p[0] == '\n')
		head = 0;
	else if ((q = memmem(p, stripped.len, "\n\n", 2)) != NULL)
		head = (size_t)(q - p) + 1;
	else
		head = stripped.len;
	buf_append(&text, stripped.data, head);
	if (head > 0 && text.data[head - 1] != '\n')
		buf_putc(&text, '\n');
	buf_printf(&text, "Status: %sO\nX-Status: %s%s%s%s\n",
		   flags & STORE_FLAG_SEEN ? "R" : "", flags & STORE_FLAG_ANSWERED ? "A" : "",
		   flags & STORE_FLAG_FLAGGED ? "F" : "", flags & STORE_FLAG_DRAFT ? "T" : "",
		   flags & STORE_FLAG_DELETED ? "D" : "");
	if (head == stripped.len)
		buf_putc(&text, '\n');
	buf_append(&text, stripped.data + head, stripped.len - head);
	store_mboxparse_entry("MAILER-DAEMON", date != 0 ? (int64_t)date : (int64_t)time(NULL),
			      buf_cstr(&text), text.len, &im->entries);
	buf_putc(&im->entries, '\n');	/* the empty line before the next From_ */
	buf_deinit(&lf);
	buf_deinit(&stripped);
	buf_deinit(&kw);
	buf_deinit(&text);
	if (uid_r != NULL)
		*uid_r = 0;
	im->count++;
	if (im->entries.len >= (4u << 20) &&
	    store_mboxfile_append_foreign(im->mbox_path, im->entries.data, im->entries.len,
					  error_r) < 0)
		return -1;
	if (im->entries.len >= (4u << 20))
		buf_reset(&im->entries);
	return 1;
}

int store_import_add(struct store_import *im, const void *data, size_t len, uint32_t uid,
		     uint8_t flags, const char *const *keywords, unsigned n_keywords,
		     time_t date, uint32_t *uid_r, struct store_error *error_r)
{
	char base[200], name[STORE_FILE_MAX], tmp[STORE_PATH_MAX], to[STORE_PATH_MAX];
	struct timespec times[2];
	struct timeval tv;
	uint32_t kw = 0;
	struct buf text;
	uint64_t lf;
	unsigned k;
	int fd, ret = 1;

	if (im->mbox_path != NULL)
		return mbox_add(im, data, len, flags, date, uid_r, error_r);
	for (unsigned i = 0; i < n_keywords; i++)
		if (store_keywords_find(&im->kw, keywords[i], true, &k, NULL) > 0)
			kw |= 1u << k;
	if (!im->keep_uids)
		uid = 0;
	else if (uid == 0 || uid < im->next_uid)
		uid = im->next_uid > im->src_next ? im->next_uid : im->src_next;
	gettimeofday(&tv, NULL);
	snprintf(base, sizeof(base), "%lld.M%06ldP%ldI%08u.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), ++im->seq, im->acct->store->host);
	buf_init(&text, 0);
	to_lf(data, len, &text, &lf);
	if (store_maildir_name(name, sizeof(name), base, strlen(base), text.len,
			       text.len + lf, uid, flags & (STORE_FLAGS_SYSTEM), kw) < 0) {
		buf_deinit(&text);
		store_error_set(error_r, STORE_ERROR_LIMIT, "file name too long");
		return -1;
	}
	if (store_path_fmt(tmp, sizeof(tmp), "%s/tmp/%s", im->kw.dir, base) < 0 ||
	    store_path_fmt(to, sizeof(to), "%s/%s", im->cur, name) < 0) {
		buf_deinit(&text);
		store_error_set(error_r, STORE_ERROR_LIMIT, "file name too long");
		return -1;
	}
	times[0] = times[1] = (struct timespec){ date != 0 ? date : tv.tv_sec, 0 };
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, text.data, text.len) < 0 || futimens(fd, times) < 0)
		ret = -1;
	if (fd >= 0 && close(fd) < 0)
		ret = -1;
	buf_deinit(&text);
	if (ret < 0) {
		store_error_sys(error_r, "write", tmp);
		unlink(tmp);
		return -1;
	}
	im->pending[im->n_pending].tmp = xstrdup(tmp);
	im->pending[im->n_pending].to = xstrdup(to);
	if (++im->n_pending == IMPORT_BATCH && import_flush(im, error_r) < 0)
		return -1;
	if (uid != 0)
		im->next_uid = uid + 1;
	if (uid_r != NULL)
		*uid_r = uid;
	im->count++;
	return 1;
}

int store_import_finish(struct store_import **imp, struct store_error *error_r)
{
	struct store_import *im = *imp;
	uint32_t v, next;
	uint64_t bound;
	int ret = 1;

	if (im->mbox_path != NULL) {
		if (im->entries.len > 0 &&
		    store_mboxfile_append_foreign(im->mbox_path, im->entries.data,
						  im->entries.len, error_r) < 0)
			ret = -1;
		if (im->count > 0)
			store_account_usage_stale(im->acct);
		store_import_abort(imp);
		return ret;
	}
	if (import_flush(im, error_r) < 0)
		ret = -1;
	/* the next UID must stay above every U= written */
	else if (im->keep_uids && im->count > 0 &&
		 read_uidv(im->kw.dir, &v, &next, &bound) > 0 && next < im->next_uid &&
		 write_uidv(im->kw.dir, v, im->next_uid, bound) < 0) {
		store_error_sys(error_r, "write", im->kw.dir);
		ret = -1;
	}
	if (ret > 0 && fsync_dir(im->cur) < 0) {
		store_error_sys(error_r, "fsync", im->cur);
		ret = -1;
	}
	if (im->count > 0)
		store_account_usage_stale(im->acct);
	store_import_abort(imp);
	return ret;
}

void store_import_abort(struct store_import **imp)
{
	struct store_import *im = *imp;

	if (im == NULL)
		return;
	for (unsigned i = 0; i < im->n_pending; i++) {
		unlink(im->pending[i].tmp);
		free(im->pending[i].tmp);
		free(im->pending[i].to);
	}
	store_keywords_free(&im->kw);
	free(im->kw.dir);
	free(im->mbox_path);
	buf_deinit(&im->entries);
	store_account_unref(&im->acct);
	free(im);
	*imp = NULL;
}

/* ---- export ---- */

struct export_file {
	char *name;
	bool in_new;
	struct mdname md;
};

static int export_cmp(const void *pa, const void *pb)
{
	const struct export_file *a = pa, *b = pb;
	uint64_t ua = a->md.uid != 0 ? a->md.uid : UINT64_MAX;
	uint64_t ub = b->md.uid != 0 ? b->md.uid : UINT64_MAX;

	if (ua != ub)
		return ua < ub ? -1 : 1;
	if (a->md.arrival != b->md.arrival)
		return a->md.arrival < b->md.arrival ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int export_scan(const char *dir, const char *sub, struct export_file **v,
		       unsigned *n, unsigned *cap)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (store_path_fmt(path, sizeof(path), "%s/%s", dir, sub) < 0)
		return -1;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 1 : -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		if (*n == *cap) {
			*cap = *cap < 64 ? 64 : *cap * 2;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[*n].name = xstrdup(de->d_name);
		(*v)[*n].in_new = sub[0] == 'n';
		store_maildir_parse(de->d_name, &(*v)[*n].md);
		if ((*v)[*n].in_new)	/* new/ holds no flags */
			(*v)[*n].md.flags = 0, (*v)[*n].md.keywords = 0;
		(*n)++;
	}
	closedir(d);
	return 1;
}

int store_export_folder(struct store_account *a, const char *name,
			store_export_fn *cb, void *ctx, struct store_error *error_r)
{
	char canon[STORE_NAME_MAX + 1], dir[STORE_PATH_MAX], path[STORE_PATH_MAX];
	struct store_export_folder f;
	struct export_file *v = NULL;
	struct mbox kw;
	unsigned n = 0, cap = 0;
	uint64_t bound;
	int ret = 1;

	if (store_name_normalize(name, canon, sizeof(canon), error_r) < 0)
		return -1;
	if (a->mbox_path != NULL && store_name_is_inbox(canon)) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM,
				"the INBOX of this account is an mbox file");
		return -1;
	}
	if (store_folder_path(a, canon, dir, sizeof(dir)) < 0) {
		store_error_set(error_r, STORE_ERROR_LIMIT, "Mailbox name is too long");
		return -1;
	}
	memset(&f, 0, sizeof(f));
	memset(&kw, 0, sizeof(kw));
	kw.dir = dir;
	if (store_keywords_load(&kw) < 0 || export_scan(dir, "cur", &v, &n, &cap) < 0 ||
	    export_scan(dir, "new", &v, &n, &cap) < 0) {
		store_error_sys(error_r, "read", dir);
		ret = -1;
	}
	if (ret > 0) {
		if (n > 1)
			qsort(v, n, sizeof(*v), export_cmp);
		read_uidv(dir, &f.uidvalidity, &f.uidnext, &bound);
		for (unsigned i = 0; i < n; i++)
			if (v[i].md.uid >= f.uidnext)
				f.uidnext = v[i].md.uid + 1;
		f.n_keywords = kw.n_keywords;
		for (unsigned i = 0; i < kw.n_keywords; i++)
			f.keywords[i] = kw.keywords[i];
	}
	if (ret > 0 && cb(ctx, &f, NULL) < 0) {
		store_error_set(error_r, STORE_ERROR_TEMP, "export stopped");
		ret = -1;
	}
	for (unsigned i = 0; ret > 0 && i < n; i++) {
		struct store_export_msg m = { .uid = v[i].md.uid, .flags = v[i].md.flags &
					      STORE_FLAGS_SYSTEM, .keywords = v[i].md.keywords,
					      .path = path };
		struct stat st;
		if (store_path_fmt(path, sizeof(path), "%s/%s/%s", dir, v[i].in_new ? "new" : "cur",
			     v[i].name) < 0 || stat(path, &st) < 0)
			continue;	/* expunged or renamed meanwhile */
		m.date = st.st_mtime;
		if ((ret = cb(ctx, &f, &m)) < 0)
			store_error_set(error_r, STORE_ERROR_TEMP, "export stopped");
	}
	for (unsigned i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	store_keywords_free(&kw);
	return ret < 0 ? -1 : 1;
}

/* ---- an mbox file ---- */

struct mbox_import {
	struct store_import *im;
	const char *data;
	struct mboxmsg *v;
	unsigned n, cap;
};

static void mbox_collect(void *ctx, const struct mboxmsg *m)
{
	struct mbox_import *mi = ctx;

	if (mi->n == mi->cap) {
		mi->cap = mi->cap < 64 ? 64 : mi->cap * 2;
		mi->v = xrealloc(mi->v, mi->cap * sizeof(*mi->v));
	}
	mi->v[mi->n++] = *m;
}

/* Is the header field at p (of len bytes, first line) one of the mbox
   bookkeeping fields other programs add? */
static bool mbox_field(const char *p, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && p[n] == ':' && strncasecmp(p, name, n) == 0;
}

/*
 * The header of text[0..len) without Status:, X-Status:, X-Keywords:,
 * X-UID:, X-IMAP: and X-IMAPbase: (what mbox readers add), into out, the
 * body after it; the names of X-Keywords: into kw (space separated).
 */
static void mbox_strip(const char *text, size_t len, struct buf *out, struct buf *kw)
{
	static const char *fields[] = { "Status", "X-Status", "X-Keywords", "X-UID",
					"X-IMAP", "X-IMAPbase" };
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl != NULL ? nl + 1 : end;
		bool drop = false;

		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			break;	/* the end of the header */
		/* the field's continuation lines go with it */
		while (next < end && (*next == ' ' || *next == '\t')) {
			nl = memchr(next, '\n', (size_t)(end - next));
			next = nl != NULL ? nl + 1 : end;
		}
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (mbox_field(p, (size_t)(next - p), fields[i]))
				drop = true;
		if (mbox_field(p, (size_t)(next - p), "X-Keywords")) {
			buf_append(kw, p + 11, (size_t)(next - p - 11));
			buf_putc(kw, ' ');
		}
		if (!drop)
			buf_append(out, p, (size_t)(next - p));
		p = next;
	}
	buf_append(out, p, (size_t)(end - p));
}

int store_import_mbox(struct store_import *im, const char *data, size_t len,
		      unsigned *count_r, struct store_error *error_r)
{
	struct mbox_import mi = { .im = im, .data = data };
	struct buf text, kw;
	char *served = NULL;
	int ret = 1;

	*count_r = 0;
	store_mboxparse(data, len, 0, mbox_collect, &mi);
	buf_init(&text, 0);
	buf_init(&kw, 0);
	for (unsigned i = 0; ret > 0 && i < mi.n; i++) {
		const struct mboxmsg *m = &mi.v[i];
		const char *names[STORE_MAX_KEYWORDS];
		unsigned n_names = 0;
		size_t served_len;
		char *save = NULL, *tok;

		served = xrealloc(served, m->raw_len + 1);
		served_len = store_mboxparse_content(data + m->off, m->raw_len, served);
		buf_reset(&text);
		buf_reset(&kw);
		mbox_strip(served, served_len, &text, &kw);
		for (tok = strtok_r((char *)buf_cstr(&kw), " \t\r\n,", &save);
		     tok != NULL && n_names < STORE_MAX_KEYWORDS;
		     tok = strtok_r(NULL, " \t\r\n,", &save))
			names[n_names++] = tok;
		ret = store_import_add(im, text.data, text.len, 0, m->flags, names, n_names,
				       (time_t)m->date, NULL, error_r);
		if (ret > 0)
			(*count_r)++;
	}
	free(served);
	free(mi.v);
	buf_deinit(&text);
	buf_deinit(&kw);
	return ret;
}

/* ---- removing an account's mail ---- */

int store_account_remove_mail(struct store *s, const char *address,
			      struct store_error *error_r)
{
	char root[STORE_PATH_MAX], trash[STORE_PATH_MAX], unique[200], mbox[STORE_PATH_MAX];
	const char *at = strchr(address, '@');
	struct stat st;

	if (at == NULL || at == address || strchr(address, '/') != NULL ||
	    address[0] == '.' || at[1] == '.' || at[1] == '\0' ||
	    store_account_path(s, address, false, root, sizeof(root)) < 0 ||
	    store_account_path(s, address, true, mbox, sizeof(mbox)) < 0) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM, "Bad account address");
		return -1;
	}
	/* out of the way at once (one rename), then deleted */
	store_unique_name(s, unique, sizeof(unique));
	if (lstat(root, &st) == 0) {
		if (store_path_fmt(trash, sizeof(trash), "%s/%s/.%s%s", s->mail_dir, at + 1,
			     STORE_TRASH_PREFIX, unique) < 0 || rename(root, trash) < 0 ||
		    store_remove_tree(trash) < 0) {
			store_error_sys(error_r, "remove", root);
			return -1;
		}
	}
	if (unlink(mbox) < 0 && errno != ENOENT) {
		store_error_sys(error_r, "remove", mbox);
		return -1;
	}
	return 1;
}
