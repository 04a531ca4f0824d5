/*
 * store_append.c - APPEND: a message streamed in by the IMAP layer (or
 * the client's Sent copy), written to the folder's tmp/ and moved into
 * cur/ with its flags and UID once complete.
 *
 * The bytes arrive in chunks of any size; CRLF becomes LF on the way
 * (Maildir files have LF line ends) and the RFC822.SIZE is counted as we
 * go.  At the end: set its mtime (the internal date), fsync the file,
 * rename it into cur/, fsync cur/: when finish returns 1 the message is
 * on disk.  store_append_commit does the same for the messages of one
 * command with the disk work on the store's workers (store_worker.c):
 * the file in tmp/ is created, written and fsynced there, the rename
 * and the index follow on the loop, and the fsync of cur/ is shared with
 * every other commit waiting at that moment.  Between the rename and
 * that flush other sessions may already see the message; a crash there
 * can lose it, but its APPEND was not acknowledged.
 *
 * The converted text gathers in memory (ap->text).  A small message is
 * written whole by the worker that seals it; a streamed one
 * (store_append_stream: an IMAP literal) goes to a worker in chunks of
 * APPEND_CHUNK as it arrives, one chunk in flight at a time, the buffer
 * handed over, not copied.  The loop never opens or writes the file.
 * XXX: while a chunk is being written the literal's next bytes gather in
 * memory without a bound other than the literal's size (checked against
 * message_size before the continuation); a slow disk costs memory, not
 * other sessions' time.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

/* bytes of a streamed message handed to a worker at a time */
#define APPEND_CHUNK (256u * 1024)

struct append_job;

struct store_append {
	struct store_account *acct;
	char folder[STORE_NAME_MAX + 1];
	char dir[STORE_PATH_MAX];
	char base[200];
	char tmp[STORE_PATH_MAX];
	/* the file in tmp/: created, written and closed by a worker (or
	   inline, without workers); the loop reads these only when no job
	   of ap runs */
	int fd;
	bool created;		/* tmp exists (unlinked when dropped) */
	bool filed;		/* renamed into cur/: nothing left in tmp/ */
	int io_errno;		/* of a create or write: 0 fine */
	struct buf text;	/* converted bytes not written yet */
	bool stream;		/* chunks go to workers as they come */
	bool writing;		/* a chunk is on a worker */
	bool dropped;		/* aborted while writing: freed when done */
	struct append_job *commit;	/* waiting for the chunk in flight */
	uint64_t size, bare_lf;
	bool cr_pending;	/* the last chunk ended in CR */
	char last;		/* last byte written */
	int sync_errno;		/* of the fsync and close: 0 done */
	/* what store_append_set gave, for store_append_commit */
	uint8_t flags;
	struct buf keywords;	/* names, NUL-terminated each */
	unsigned n_keywords;
	time_t date;		/* 0: now */
};

int store_append_begin(struct store_account *a, const char *name,
		       struct store_append **r, struct store_error *error_r)
{
	struct store_append *ap = xcalloc(1, sizeof(*ap));
	struct stat st;

	if (store_name_normalize(name, ap->folder, sizeof(ap->folder), error_r) < 0) {
		free(ap);
		return -1;
	}
	if (a->mbox_path != NULL && strcmp(ap->folder, "INBOX") == 0) {
		/* an mbox INBOX: the text waits in its index directory */
		char tmpdir[STORE_PATH_MAX + 8];
		snprintf(ap->dir, sizeof(ap->dir), "%s/%s", a->root, STORE_MBOX_INDEX_DIR);
		snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", ap->dir);
		if (mkdir_p(tmpdir, 0700) < 0) {
			store_error_sys(error_r, "create", tmpdir);
			free(ap);
			return -1;
		}
	} else if (store_folder_path(a, ap->folder, ap->dir, sizeof(ap->dir)) < 0 ||
	    stat(ap->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		store_error_set(error_r, STORE_ERROR_NOT_FOUND, "Mailbox doesn't exist");
		free(ap);
		return -1;
	}
	store_unique_name(a->store, ap->base, sizeof(ap->base));
	if (store_path_fmt(ap->tmp, sizeof(ap->tmp), "%s/tmp/%s", ap->dir, ap->base) < 0) {
		store_error_sys(error_r, "create", ap->dir);
		free(ap);
		return -1;
	}
	/* the file itself is created by the worker that first writes it */
	ap->fd = -1;
	ap->acct = a;
	a->refs++;
	buf_init(&ap->keywords, 0);
	buf_init(&ap->text, 0);
	*r = ap;
	return 1;
}

void store_append_stream(struct store_append *ap)
{
	ap->stream = true;
}

/* Create the file in tmp/ if not yet, and write data to it (any
   thread: touches only ap's file fields).  Sets ap->io_errno. */
static void file_write(struct store_append *ap, const struct buf *data)
{
	if (ap->io_errno != 0)
		return;
	if (ap->fd < 0) {
		ap->fd = open(ap->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      0600);
		if (ap->fd < 0) {
			ap->io_errno = errno;
			return;
		}
		ap->created = true;
	}
	if (data->len > 0 && write_all(ap->fd, data->data, data->len) < 0)
		ap->io_errno = errno != 0 ? errno : EIO;
}

static int put(struct store_append *ap, struct buf *out, const char *p, size_t n)
{
	for (const char *lf = p, *end = p + n;
	     (lf = memchr(lf, '\n', (size_t)(end - lf))) != NULL; lf++)
		if ((lf == p ? ap->last : lf[-1]) != '\r')
			ap->bare_lf++;
	if (n > 0)
		ap->last = p[n - 1];
	ap->size += n;
	return buf_append(out, p, n);
}

/* data with every CRLF turned into LF, into out. */
static void convert(struct store_append *ap, struct buf *out, const char *p, size_t n)
{
	const char *end = p + n, *cr;

	if (ap->cr_pending && n > 0) {
		ap->cr_pending = false;
		if (*p != '\n')
			put(ap, out, "\r", 1);
	}
	while (p < end) {
		if ((cr = memchr(p, '\r', (size_t)(end - p))) == NULL) {
			put(ap, out, p, (size_t)(end - p));
			break;
		}
		put(ap, out, p, (size_t)(cr - p));
		if (cr + 1 == end) {
			ap->cr_pending = true;
			break;
		}
		if (cr[1] != '\n')
			put(ap, out, "\r", 1);
		p = cr + 1;
	}
}

/* ---- chunks of a streamed message, written by workers ---- */

struct chunk_job {
	struct store_job job;	/* first */
	struct store_append *ap;
	struct buf data;
};

static void discard(struct store_append *ap);
static void chunk_next(struct store_append *ap);
static void commit_ready(struct append_job *aj);

static void chunk_work(struct store_job *j)
{
	struct chunk_job *c = (struct chunk_job *)j;

	file_write(c->ap, &c->data);
}

static void chunk_done(struct store_job *j)
{
	struct chunk_job *c = (struct chunk_job *)j;
	struct store_append *ap = c->ap;

	buf_deinit(&c->data);
	free(c);
	ap->writing = false;
	if (ap->dropped)
		discard(ap);
	else if (ap->commit != NULL)
		commit_ready(ap->commit);
	else
		chunk_next(ap);
}

/* Hand the text gathered so far to a worker, if it is a chunk's worth
   and none is in flight. */
static void chunk_next(struct store_append *ap)
{
	struct store *s = ap->acct->store;
	struct chunk_job *c;

	if (!ap->stream || s->pool == NULL || ap->writing || ap->io_errno != 0 ||
	    ap->text.len < APPEND_CHUNK)
		return;
	c = xcalloc(1, sizeof(*c));
	c->ap = ap;
	c->data = ap->text;	/* handed over whole */
	buf_init(&ap->text, 0);
	c->job.work = chunk_work;
	c->job.done = chunk_done;
	ap->writing = true;
	store_job_submit(s, &c->job);
}

int store_append_write(struct store_append *ap, const void *data, size_t len,
		       struct store_error *error_r)
{
	if (ap->io_errno != 0) {
		errno = ap->io_errno;
		store_error_sys(error_r, "write", ap->tmp);
		return -1;
	}
	convert(ap, &ap->text, data, len);
	chunk_next(ap);
	return 1;
}

/* Close and remove the file, free ap (no job of it runs). */
static void discard(struct store_append *ap)
{
	if (ap->fd >= 0)
		close(ap->fd);
	if (ap->created && !ap->filed)
		unlink(ap->tmp);
	store_account_unref(&ap->acct);
	buf_deinit(&ap->keywords);
	buf_deinit(&ap->text);
	free(ap);
}

void store_append_abort(struct store_append **app)
{
	struct store_append *ap = *app;

	if (ap == NULL)
		return;
	*app = NULL;
	if (ap->writing)
		ap->dropped = true;	/* the chunk's done step frees it */
	else
		discard(ap);
}

/* The text complete: a CR left at the end of the last chunk is text
   too; the date is the file's mtime, set by seal_sync. */
static void seal_prepare(struct store_append *ap, time_t date)
{
	if (ap->cr_pending) {
		ap->cr_pending = false;
		put(ap, &ap->text, "\r", 1);
	}
	ap->date = date;
}

/* The file written whole, its mtime the internal date, and durable (any
   thread: touches only ap's file fields and text).  Sets ap->sync_errno,
   0 when done. */
static void seal_sync(struct store_append *ap)
{
	struct timespec times[2] = { { ap->date, 0 }, { ap->date, 0 } };

	file_write(ap, &ap->text);
	buf_deinit(&ap->text);
	ap->sync_errno = ap->io_errno;
	if (ap->fd < 0)
		return;
	if (ap->sync_errno == 0 && (futimens(ap->fd, times) < 0 || fsync(ap->fd) < 0))
		ap->sync_errno = errno;
	if (close(ap->fd) < 0 && ap->sync_errno == 0)
		ap->sync_errno = errno;
	ap->fd = -1;
}

/* After seal_sync, on the loop: 1, or -1 with the error. */
static int sealed(struct store_append *ap, struct store_error *error_r)
{
	if (ap->sync_errno == 0)
		return 1;
	errno = ap->sync_errno;
	store_error_sys(error_r, "write", ap->tmp);
	return -1;
}

/* Keywords that cannot be added (bad, or 26 in use) are left out. */
static uint32_t keyword_bits(struct mbox *mb, const char *const *keywords, unsigned n)
{
	uint32_t bits = 0;
	unsigned k;

	for (unsigned i = 0; i < n; i++)
		if (store_keywords_find(mb, keywords[i], true, &k, NULL) > 0)
			bits |= 1u << k;
	return bits;
}

/* Append the sealed file to mb's mbox file, which indexes it. */
static int mbox_into(struct store_append *ap, struct mbox *mb, uint8_t flags,
		     uint32_t keywords, time_t date, uint32_t *uid_r,
		     struct store_error *error_r)
{
	struct mbox_add add = { .flags = flags, .keywords = keywords, .date = date };
	int ret;

	if ((add.fd = open(ap->tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		store_error_sys(error_r, "open", ap->tmp);
		return -1;
	}
	ret = store_mboxfile_append(mb, &add, 1, error_r);
	close(add.fd);
	*uid_r = add.uid;
	store_index_commit(mb);
	store_mbox_notify(mb, NULL);
	return ret;
}

/* Move the sealed file into cur/ of mb and index it; cur/ still needs
   its fsync, into *cur_r (NULL: fsync it here). */
static int file_into(struct store_append *ap, struct mbox *mb, uint8_t flags,
		     uint32_t keywords, time_t date, char *cur_r,
		     struct store_error *error_r)
{
	char name[STORE_FILE_MAX], to[STORE_PATH_MAX], cur[STORE_PATH_MAX];
	struct index_rec r = { .uid = mb->idx.uidnext, .flags = flags & STORE_FLAGS_SYSTEM,
			       .keywords = keywords, .date = date, .size = ap->size,
			       .vsize = ap->size + ap->bare_lf };

	store_maildir_name(name, sizeof(name), ap->base, strlen(ap->base), r.size,
			   r.vsize, r.uid, r.flags, r.keywords);
	snprintf(to, sizeof(to), "%s/cur/%s", mb->dir, name);
	snprintf(cur, sizeof(cur), "%s/cur", mb->dir);
	if (store_rename_noreplace(ap->tmp, to) < 0) {
		store_error_sys(error_r, "rename", to);
		return -1;
	}
	ap->filed = true;
	store_watch_own(mb, 'T', name);
	if (cur_r != NULL) {
		snprintf(cur_r, STORE_PATH_MAX, "%s", cur);
	} else {
		store_disk_delay(mb->acct->store);
		if (fsync_dir(cur) < 0) {
			store_error_sys(error_r, "fsync", cur);
			return -1;
		}
	}
	r.modseq = store_index_next_modseq(mb);
	store_index_append(&mb->idx, &r, name);
	store_index_log(&mb->idx, INDEX_LOG_ADD, &r, name);
	mb->idx.uidnext = r.uid + 1;
	mb->cur_clean = false;
	mb->written = true;	/* parked after use: the next APPEND finds it */
	uidvec_push(&mb->chg_exists, r.uid);
	store_account_usage_add(mb->acct, (int64_t)r.size, 1);
	store_index_commit(mb);
	store_mbox_notify(mb, NULL);
	return 1;
}

/*
 * File the sealed message ap (its file durable) with its flags, keywords
 * and date: the next UID of its folder, into *uid_r.  *cur_r: the
 * directory to fsync yet ("" for none; NULL: fsync it here).  1 or -1.
 */
static int file_message(struct store_append *ap, uint8_t flags, const char *const *keywords,
			unsigned n_keywords, time_t date, uint32_t *uid_r,
			uint32_t *uidvalidity_r, char *cur_r, struct store_error *error_r)
{
	struct mbox *mb = NULL;
	int ret;

	if (cur_r != NULL)
		cur_r[0] = '\0';
	ret = store_account_quota_check(ap->acct, ap->size, error_r);
	if (ret == 0) {
		store_error_set(error_r, STORE_ERROR_OVER_QUOTA, "Quota exceeded");
		ret = -1;
	}
	if (ret > 0)
		ret = store_mbox_get(ap->acct, ap->folder, &mb, error_r);
	if (ret > 0)
		ret = store_mbox_check(mb, error_r);
	if (ret > 0) {
		uint32_t kw = keyword_bits(mb, keywords, n_keywords);
		*uid_r = mb->idx.uidnext;
		*uidvalidity_r = mb->idx.uidvalidity;
		if (mb->mbox_path != NULL)
			ret = mbox_into(ap, mb, flags, kw, date, uid_r, error_r);
		else
			ret = file_into(ap, mb, flags, kw, date, cur_r, error_r);
	}
	if (mb != NULL)
		store_mbox_release(mb);
	return ret;
}

int store_append_finish(struct store_append **app, uint8_t flags,
			const char *const *keywords, unsigned n_keywords,
			time_t internal_date, uint32_t *uid_r,
			uint32_t *uidvalidity_r, struct store_error *error_r)
{
	struct store_append *ap = *app;
	time_t date = internal_date != 0 ? internal_date : time(NULL);
	int ret;

	/* XXX: inline, on the caller's thread (JMAP's Email/import): a
	   message here is never streamed, so no chunk is in flight */
	seal_prepare(ap, date);
	store_disk_delay(ap->acct->store);
	seal_sync(ap);
	ret = sealed(ap, error_r);
	if (ret > 0)
		ret = file_message(ap, flags, keywords, n_keywords, date, uid_r, uidvalidity_r,
				   NULL, error_r);
	store_append_abort(app);	/* frees; the file is gone from tmp/ */
	return ret;
}

void store_append_set(struct store_append *ap, uint8_t flags, const char *const *keywords,
		      unsigned n_keywords, time_t internal_date)
{
	ap->flags = flags;
	buf_reset(&ap->keywords);
	for (unsigned i = 0; i < n_keywords; i++) {
		buf_puts(&ap->keywords, keywords[i]);
		buf_putc(&ap->keywords, '\0');
	}
	ap->n_keywords = n_keywords;
	ap->date = internal_date;
}

/* ---- store_append_commit: the fsyncs on the workers ---- */

struct append_job {
	struct store_wait w;	/* first */
	struct store *store;
	struct store_append **aps;
	unsigned n;
	unsigned n_writing;	/* chunks still in flight */
	uint32_t *uids;
	unsigned n_filed;
	uint32_t uidvalidity;
	int result;
	struct store_error err;
	char (*dirs)[STORE_PATH_MAX];
	unsigned n_dirs;
	store_append_fn *cb;
	void *ctx;
};

/* Worker: write and fsync every file of the command (their content;
   the directory entries come after the renames). */
static void append_sync_work(struct store_job *j)
{
	struct append_job *aj = (struct append_job *)j;

	store_disk_delay(aj->store);
	for (unsigned i = 0; i < aj->n; i++)
		seal_sync(aj->aps[i]);
}

static void append_job_end(struct append_job *aj)
{
	for (unsigned i = 0; i < aj->n; i++)
		store_append_abort(&aj->aps[i]);
	if (!aj->w.cancelled)
		aj->cb(aj->ctx, aj->result, aj->uids, aj->n_filed, aj->uidvalidity, &aj->err);
	if (aj->w.finished != NULL)
		*aj->w.finished = true;
	free(aj->aps);
	free(aj->uids);
	free(aj->dirs);
	free(aj);
}

/* Loop: the directories are durable too. */
static void append_dirs_flushed(void *arg, int result)
{
	struct append_job *aj = arg;

	if (result < 0 && aj->result > 0) {
		aj->result = -1;
		store_error_set(&aj->err, STORE_ERROR_TEMP, "cannot write the folder to disk");
	}
	append_job_end(aj);
}

/* Loop: the files are durable; file them, in order, then flush the
   directories. */
static void append_sync_done(struct store_job *j)
{
	struct append_job *aj = (struct append_job *)j;
	const char *kw[STORE_MAX_KEYWORDS];
	const char **dirs;

	aj->result = 1;
	for (unsigned i = 0; i < aj->n && aj->result > 0; i++) {
		struct store_append *ap = aj->aps[i];
		char *cur = aj->dirs[aj->n_dirs];
		unsigned n_kw = 0;
		bool known = false;

		for (size_t off = 0; off < ap->keywords.len && n_kw < STORE_MAX_KEYWORDS;
		     off += strlen(ap->keywords.data + off) + 1)
			kw[n_kw++] = ap->keywords.data + off;
		if ((aj->result = sealed(ap, &aj->err)) < 0 ||
		    (aj->result = file_message(ap, ap->flags, kw, n_kw, ap->date, &aj->uids[i],
					       &aj->uidvalidity, cur, &aj->err)) < 0)
			break;
		aj->n_filed++;
		for (unsigned k = 0; k < aj->n_dirs; k++)
			known = known || strcmp(aj->dirs[k], cur) == 0;
		if (cur[0] != '\0' && !known)
			aj->n_dirs++;
	}
	if (aj->n_dirs == 0) {
		append_job_end(aj);
		return;
	}
	dirs = xcalloc(aj->n_dirs, sizeof(*dirs));
	for (unsigned k = 0; k < aj->n_dirs; k++)
		dirs[k] = aj->dirs[k];
	store_flush_dirs(aj->store, dirs, aj->n_dirs, append_dirs_flushed, aj);
	free(dirs);
}

/* One more message of aj has no chunk in flight: when none has, the
   files are sealed on a worker. */
static void commit_ready(struct append_job *aj)
{
	if (--aj->n_writing == 0)
		store_job_submit(aj->store, &aj->w.job);
}

struct store_wait *store_append_commit(struct store_append **aps, unsigned n,
				       store_append_fn *cb, void *ctx)
{
	struct append_job *aj = xcalloc(1, sizeof(*aj));
	bool finished = false;

	aj->aps = xcalloc(n + 1, sizeof(*aj->aps));
	aj->uids = xcalloc(n + 1, sizeof(*aj->uids));
	aj->dirs = xcalloc(n + 1, sizeof(*aj->dirs));
	aj->store = aps[0]->acct->store;
	aj->n = n;
	aj->cb = cb;
	aj->ctx = ctx;
	aj->w.finished = &finished;
	aj->w.job.work = append_sync_work;
	aj->w.job.done = append_sync_done;
	aj->n_writing = 1;	/* until every message is looked at */
	for (unsigned i = 0; i < n; i++) {
		struct store_append *ap = aj->aps[i] = aps[i];
		aps[i] = NULL;
		seal_prepare(ap, ap->date != 0 ? ap->date : time(NULL));
		if (ap->writing) {
			ap->commit = aj;	/* sealed after its last chunk */
			aj->n_writing++;
		}
	}
	commit_ready(aj);
	if (finished)
		return NULL;
	aj->w.finished = NULL;
	return &aj->w;
}

void store_wait_cancel(struct store_wait *w)
{
	if (w != NULL)
		w->cancelled = true;
}
