/*
 * store_deliver.c - local delivery into the mailboxes: the one writer of
 * delivered Maildir files and mbox entries, and the batch that makes
 * them durable.
 *
 * Called by the delivery agent on its own thread (src/delivery/): these
 * calls touch files only - never an index or an account object of the
 * loop's store - so they run beside the loop.  Names come from
 * store_delivery_name() (store_maildir.c), the account's paths from
 * store_account_path(), the mbox entry from store_mboxfile_deliver():
 * each format has one writer, the module that also reads it.
 *
 * Durability: a batch records what its deliveries changed - each
 * directory that got an entry (new/ or cur/, a directory created for a
 * new Maildir and the parent it was created in), each mbox file appended
 * to, a dovecot-keywords file rewritten - and its commit fsyncs exactly
 * those, the files first (fdatasync), then each directory once, on one
 * of the store's worker threads.  A hard-linked message needs no flush
 * of its own: its data went to disk when the queue accepted it, and the
 * link is in the directory flushed.  A copied one (the spool on another
 * file system) is written into tmp/ and fdatasynced before it is linked,
 * as the Maildir rules say.  Batches commit concurrently (one job each
 * on the workers), so the next batch is filed while one is flushing.
 * The loop's store then hears of the accounts that got mail (the job's
 * done step): no hand-off through the server.
 */
#include "store/store_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct store_delivery {
	struct store_job job;	/* first: the commit */
	struct store *store;
	struct buf dirs;	/* to fsync: NUL-separated, each once */
	struct buf files;	/* to fdatasync */
	struct buf addresses;	/* accounts that got mail */
	bool notify;		/* the done step runs on the loop */
	int result;
	store_delivery_fn *cb;
	void *ctx;
};

/* Add s to the NUL-separated list unless it is there. */
static void list_add(struct buf *list, const char *s)
{
	for (size_t off = 0; off < list->len; off += strlen(list->data + off) + 1)
		if (strcmp(list->data + off, s) == 0)
			return;
	buf_append(list, s, strlen(s) + 1);
}

static void add_parent(struct store_delivery *b, const char *path)
{
	char dir[STORE_PATH_MAX];
	char *slash;

	str_copy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		list_add(&b->dirs, dir);
	}
}

void store_delivery_msg_init(struct store_delivery_msg *m, const char *src,
			     const char *id, const char *host, const char *sender,
			     uint64_t arrival, uint64_t bytes, bool recovered)
{
	uint64_t size = 0, crlf = 0;
	int fd = open(src, O_RDONLY | O_CLOEXEC);

	/* W= measured here, on the delivery thread, so that the loop need
	   not read the file; left out if the file is not as queued */
	if (fd >= 0) {
		if (file_crlf_size(fd, &size, &crlf) < 0 || size != bytes)
			crlf = 0;
		close(fd);
	}
	m->src = src;
	m->sender = sender;
	m->arrival = (int64_t)arrival;
	m->recovered = recovered;
	store_delivery_name(m->name, sizeof(m->name), arrival, id, host, bytes, crlf);
}

struct store_delivery *store_delivery_begin(struct store *s)
{
	struct store_delivery *b = xcalloc(1, sizeof(*b));

	b->store = s;
	buf_init(&b->dirs, 0);
	buf_init(&b->files, 0);
	buf_init(&b->addresses, 0);
	return b;
}

/* ---- directories ---- */

/* mkdir path and the parents it lacks; each one made is recorded with
   the directory it was made in (that entry must reach the disk). */
static int make_dir(struct store_delivery *b, char *path)
{
	char *slash;
	int ret;

	if (mkdir(path, 0700) == 0) {
		add_parent(b, path);
		return 1;
	}
	if (errno == EEXIST)
		return 1;
	if (errno != ENOENT || (slash = strrchr(path, '/')) == NULL || slash == path)
		return -1;
	*slash = '\0';
	ret = make_dir(b, path);
	*slash = '/';
	if (ret < 0)
		return -1;
	if (mkdir(path, 0700) == 0) {
		add_parent(b, path);
		return 1;
	}
	return errno == EEXIST ? 1 : -1;
}

/* The Maildir dir with tmp/, new/ and cur/; a folder (not the INBOX)
   is marked as Maildir++ folders are. */
static int make_maildir(struct store_delivery *b, const char *dir, bool folder)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char path[STORE_PATH_MAX];
	int fd;

	for (unsigned i = 0; i < 3; i++) {
		if (store_path_fmt(path, sizeof(path), "%s/%s", dir, subs[i]) < 0 ||
		    make_dir(b, path) < 0)
			return -1;
	}
	if (!folder)
		return 1;
	if (store_path_fmt(path, sizeof(path), "%s/maildirfolder", dir) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		list_add(&b->dirs, dir);
	}
	return fd >= 0 || errno == EEXIST ? 1 : -1;
}

/* The Maildir of folder (NULL: INBOX) of address, into out. */
static int folder_dir(struct store_delivery *b, const char *address, const char *folder,
		      char *out, size_t size)
{
	char root[STORE_PATH_MAX], dir[300];

	if (store_account_path(b->store, address, false, root, sizeof(root)) < 0)
		return -1;
	if (folder == NULL || store_name_is_inbox(folder))
		return store_path_fmt(out, size, "%s", root);
	if (store_folder_dir_name(folder, dir, sizeof(dir)) < 0) {
		errno = EINVAL;
		return -1;
	}
	return store_path_fmt(out, size, "%s/%s", root, dir);
}

int store_delivery_folder_exists(struct store_delivery *b, const char *address,
				 const char *folder)
{
	char path[STORE_PATH_MAX];
	struct stat st;

	if (folder == NULL || store_name_is_inbox(folder) ||
	    folder_dir(b, address, folder, path, sizeof(path)) < 0)
		return -1;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 1 : 0;
}

/* ---- Maildir ---- */

/* Is name in dir/cur, as "<name>" followed by ':' or ',' (the store
   renames "<name>" to "<name>,W=..,U=..:2,<flags>")? */
static bool in_cur(const char *dir, const char *name)
{
	char path[STORE_PATH_MAX];
	size_t n = strlen(name);
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (store_path_fmt(path, sizeof(path), "%s/cur", dir) < 0 || (d = opendir(path)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, name, n) == 0 &&
			(de->d_name[n] == ':' || de->d_name[n] == ',' ||
			 de->d_name[n] == '\0');
	closedir(d);
	return found;
}

static bool maildir_has(const char *dir, const char *name)
{
	char path[STORE_PATH_MAX];
	struct stat st;

	return (store_path_fmt(path, sizeof(path), "%s/new/%s", dir, name) > 0 &&
		lstat(path, &st) == 0) || in_cur(dir, name);
}

bool store_delivery_present(struct store_delivery *b, const struct store_delivery_msg *m,
			    const char *address, const char *folder, bool mbox)
{
	char dir[STORE_PATH_MAX];

	if (mbox && (folder == NULL || store_name_is_inbox(folder)))
		return false;
	return folder_dir(b, address, folder, dir, sizeof(dir)) > 0 && maildir_has(dir, m->name);
}

/* src copied to dst (created), its data on disk. */
static int copy_synced(const char *src, const char *dst)
{
	char block[65536];
	int in, out, ret = 1;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while (ret > 0 && (n = read(in, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ret = n < 0 ? -1 : write_all(out, block, (size_t)n);
	}
	if (ret > 0 && fdatasync(out) < 0)
		ret = -1;
	close(in);
	if (close(out) < 0)
		ret = -1;
	return ret;
}

/* m into dir/new/<name>, or dir/cur/<name>:2,<letters>: by hard link,
   else through tmp/.  1, 0 already there, -1 (errno). */
static int maildir_put(struct store_delivery *b, const struct store_delivery_msg *m,
		       const char *dir, const char *letters)
{
	const char *sub = letters[0] == '\0' ? "new" : "cur";
	char dst[STORE_PATH_MAX], tmp[STORE_PATH_MAX], subdir[STORE_PATH_MAX];
	int ret;

	if (m->recovered && in_cur(dir, m->name))
		return 0;
	if (store_path_fmt(subdir, sizeof(subdir), "%s/%s", dir, sub) < 0 ||
	    (letters[0] == '\0' ? store_path_fmt(dst, sizeof(dst), "%s/%s", subdir, m->name) :
	     store_path_fmt(dst, sizeof(dst), "%s/%s:2,%s", subdir, m->name, letters)) < 0 ||
	    store_path_fmt(tmp, sizeof(tmp), "%s/tmp/%s", dir, m->name) < 0)
		return -1;
	if (link(m->src, dst) == 0) {
		list_add(&b->dirs, subdir);
		return 1;
	}
	if (errno == EEXIST)
		return 0;
	if (errno != EXDEV && errno != EMLINK && errno != EPERM)
		return -1;
	if (copy_synced(m->src, tmp) < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	ret = link(tmp, dst) == 0 ? 1 : errno == EEXIST ? 0 : -1;
	if (ret > 0)
		list_add(&b->dirs, subdir);
	if (ret < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	unlink(tmp);
	return ret;
}

static int letter_cmp(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

/* The ":2," letters of the IMAP flags in flags (space-separated: system
   flags D F R S T, keywords as the letters of the folder's
   dovecot-keywords, where those it lacks are added), in ASCII order. */
static int flag_letters(struct store_delivery *b, const char *dir, const char *flags,
			char *out, size_t size)
{
	static const struct {
		char letter;
		const char *flag;
	} map[] = {
		{ 'D', "\\Draft" }, { 'F', "\\Flagged" }, { 'R', "\\Answered" },
		{ 'S', "\\Seen" }, { 'T', "\\Deleted" },
	};
	char letters[8 + STORE_MAX_KEYWORDS + 1], words[4096], path[STORE_PATH_MAX];
	const char *keywords[64];
	unsigned n_keywords = 0;
	size_t n = 0;

	str_copy(words, flags, sizeof(words));
	for (char *p = words; *p != '\0';) {
		size_t l = strcspn(p, " ");
		char *word = p;
		p += l;
		if (*p != '\0')
			*p++ = '\0';
		p += strspn(p, " ");
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (str_ieq(word, map[i].flag) && memchr(letters, map[i].letter, n) == NULL)
				letters[n++] = map[i].letter;
		if (l > 0 && word[0] != '\\' && n_keywords < 64)
			keywords[n_keywords++] = word;
	}
	letters[n] = '\0';
	if (n_keywords > 0) {
		if (store_keyword_letters(dir, keywords, n_keywords, letters + n,
					  sizeof(letters) - n) < 0)
			return -1;
		/* the names the letters stand for reach the disk with them */
		if (store_path_fmt(path, sizeof(path), "%s/%s", dir, STORE_KEYWORDS_FILE) > 0)
			list_add(&b->files, path);
		list_add(&b->dirs, dir);
	}
	n = strlen(letters);
	qsort(letters, n, 1, letter_cmp);
	str_copy(out, letters, size);
	return 1;
}

static int deliver_maildir(struct store_delivery *b, const struct store_delivery_msg *m,
			   const char *address, const char *folder, const char *flags)
{
	char dir[STORE_PATH_MAX], letters[64] = "";
	bool is_folder = folder != NULL && !store_name_is_inbox(folder);

	if (folder_dir(b, address, folder, dir, sizeof(dir)) < 0 ||
	    make_maildir(b, dir, is_folder) < 0)
		return -1;
	/* with its flags at once: a sync never sees it without them */
	if (flags != NULL && flags[0] != '\0' &&
	    flag_letters(b, dir, flags, letters, sizeof(letters)) < 0)
		return -1;
	return maildir_put(b, m, dir, letters);
}

/* ---- mbox ---- */

static int deliver_mbox(struct store_delivery *b, const struct store_delivery_msg *m,
			const char *address, const char *flags)
{
	char path[STORE_PATH_MAX];
	bool created = false;
	char *slash;
	int ret;

	if (store_account_path(b->store, address, true, path, sizeof(path)) < 0)
		return -1;
	slash = strrchr(path, '/');
	*slash = '\0';
	ret = make_dir(b, path);
	*slash = '/';
	if (ret < 0)
		return -1;
	ret = store_mboxfile_deliver(path, m->sender, m->arrival, m->src, flags, m->recovered,
				     &created);
	if (ret > 0) {
		list_add(&b->files, path);
		if (created)
			add_parent(b, path);
	}
	return ret;
}

int store_deliver(struct store_delivery *b, const struct store_delivery_msg *m,
		  const char *address, const char *folder, bool mbox, const char *flags,
		  struct store_error *error_r)
{
	bool inbox = folder == NULL || store_name_is_inbox(folder);
	int ret;

	if (mbox && inbox)
		ret = deliver_mbox(b, m, address, flags);
	else
		ret = deliver_maildir(b, m, address, folder, flags);
	if (ret < 0) {
		int saved = errno;
		store_error_set(error_r, STORE_ERROR_TEMP, "%s", strerror(saved));
		errno = saved;
		return -1;
	}
	if (ret > 0)
		list_add(&b->addresses, address);
	return ret;
}

/* ---- commit ---- */

void store_delivery_pending(const struct store_delivery *b, const struct buf **dirs_r,
			    const struct buf **files_r)
{
	*dirs_r = &b->dirs;
	*files_r = &b->files;
}

static void delivery_free(struct store_delivery *b)
{
	buf_deinit(&b->dirs);
	buf_deinit(&b->files);
	buf_deinit(&b->addresses);
	free(b);
}

/* On a worker: the files' data, then each directory. */
static void commit_work(struct store_job *j)
{
	struct store_delivery *b = (struct store_delivery *)j;
	const char *p;

	b->result = 1;
	for (size_t off = 0; off < b->files.len; off += strlen(p) + 1) {
		int fd;
		p = b->files.data + off;
		if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0 || fdatasync(fd) < 0) {
			log_err("delivery: fdatasync %s: %m", p);
			b->result = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	for (size_t off = 0; off < b->dirs.len; off += strlen(p) + 1) {
		p = b->dirs.data + off;
		if (fsync_dir(p) < 0) {
			log_err("delivery: fsync %s: %m", p);
			b->result = -1;
		}
	}
	b->cb(b->ctx, b->result);
}

/* On the loop: the store takes in the new mail of its open INBOXes. */
static void commit_done(struct store_job *j)
{
	struct store_delivery *b = (struct store_delivery *)j;

	for (size_t off = 0; b->notify && off < b->addresses.len;
	     off += strlen(b->addresses.data + off) + 1)
		store_notify_delivery(b->store, b->addresses.data + off);
	delivery_free(b);
}

void store_delivery_commit(struct store_delivery **bp, store_delivery_fn *cb, void *ctx)
{
	struct store_delivery *b = *bp;

	*bp = NULL;
	b->cb = cb;
	b->ctx = ctx;
	/* without workers both steps run here, on the delivery thread: the
	   loop's store is not touched, it finds the mail at its next sync */
	b->notify = b->store->pool != NULL;
	b->job.work = commit_work;
	b->job.done = commit_done;
	store_job_submit(b->store, &b->job);
}
