/*
 * store_account.c - an account's mail: opening it (and setting it up on
 * first use), and the storage it uses for quota.
 *
 * An account is shared by every session of that user and by its open
 * folders (each holds a reference).  The first use by a folder reader
 * (store_account_default_folders, IMAP) is told by the missing
 * subscriptions file: then the default folders are created with their
 * SPECIAL-USE and all subscribed, so a folder the user deletes later is
 * not created again.  They are created without an fsync each; one fsync
 * of the account file and of the account's directory, before the
 * subscriptions file is written, makes them durable together (a crash
 * before it leaves no subscriptions file, and first use runs again; a
 * folder's lost tmp/new/cur or UIDVALIDITY file is remade when opened).
 *
 * Usage is counted from the Maildir names (",S=" gives the size without a
 * stat) over every folder's new/ and cur/, plus the size of the account's
 * mbox file if it has one; the total is kept and adjusted by our own
 * changes, and counted again after a delivery or a minute.
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

#define USAGE_MAX_AGE 60

static const struct {
	const char *name;
	unsigned special_use;
} default_folders[] = {
	{ "Sent", STORE_FOLDER_SENT }, { "Drafts", STORE_FOLDER_DRAFTS },
	{ "Trash", STORE_FOLDER_TRASH }, { "Junk", STORE_FOLDER_JUNK },
	{ "Archive", STORE_FOLDER_ARCHIVE },
};

/* local@domain, both parts safe as directory names. */
static bool address_ok(const char *address)
{
	const char *at = strchr(address, '@');

	return at != NULL && at != address && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
	       strlen(address) < 320 && strchr(address, '/') == NULL &&
	       address[0] != '.' && at[1] != '.' && strstr(address, "..") == NULL;
}

static int sync_account_file(const struct store_account *a)
{
	char path[STORE_PATH_MAX];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", a->root, STORE_ACCOUNT_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 1 : -1;
	ret = fsync(fd);
	close(fd);
	return ret < 0 ? -1 : 1;
}

int store_account_default_folders(struct store_account *a, struct store_error *error_r)
{
	char path[STORE_PATH_MAX];
	struct store_error err;
	struct buf subs;
	struct stat st;
	int ret = 1;

	snprintf(path, sizeof(path), "%s/%s", a->root, STORE_SUBS_FILE);
	if (stat(path, &st) == 0)
		return 1;
	buf_init(&subs, 0);
	buf_puts(&subs, "INBOX\n");
	for (size_t i = 0; ret > 0 && i < sizeof(default_folders) / sizeof(default_folders[0]); i++) {
		ret = store_folder_create_unsynced(a, default_folders[i].name,
						   default_folders[i].special_use, &err);
		if (ret < 0 && err.code == STORE_ERROR_EXISTS)
			ret = 1;
		else if (ret < 0 && error_r != NULL)
			*error_r = err;
		buf_printf(&subs, "%s\n", default_folders[i].name);
	}
	if (ret > 0 && (sync_account_file(a) < 0 || fsync_dir(a->root) < 0)) {
		store_error_sys(error_r, "fsync", a->root);
		ret = -1;
	}
	if (ret > 0 && store_write_file(path, subs.data, subs.len, true) < 0) {
		store_error_sys(error_r, "write", path);
		ret = -1;
	}
	buf_deinit(&subs);
	return ret;
}

/* Folders whose deletion was interrupted. */
static void clean_trash(const struct store_account *a)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(a->root)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STORE_TRASH_PREFIX, strlen(STORE_TRASH_PREFIX)) != 0 &&
		    strncmp(de->d_name, STORE_NEWDIR_PREFIX, strlen(STORE_NEWDIR_PREFIX)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->root, de->d_name);
		if (store_remove_tree(path) < 0)
			log_warn("store: remove %s: %m", path);
	}
	closedir(d);
}

/* "<root_dir>/<domain>/<local>" (Maildir) or "<root_dir>/<address>"
   (mbox): the one place an account's mailbox path is made. 1 or -1. */
static int account_path(const char *root_dir, const char *address, bool mbox,
			char *out, size_t size)
{
	const char *at = strrchr(address, '@');
	int local_len = at == NULL ? (int)strlen(address) : (int)(at - address);

	if (mbox)
		return store_path_fmt(out, size, "%s/%s", root_dir, address);
	return store_path_fmt(out, size, "%s/%s/%.*s", root_dir, at == NULL ? "" : at + 1,
			      local_len, address);
}

int store_account_path(const struct store *s, const char *address, bool mbox,
		       char *out, size_t size)
{
	return account_path(mbox ? s->mbox_dir : s->mail_dir, address, mbox, out, size);
}

void store_mailbox_path(const char *data_dir, const char *address, bool mbox,
			char *out, size_t size)
{
	char root_dir[STORE_PATH_MAX];

	if (store_path_fmt(root_dir, sizeof(root_dir), "%s/%s", data_dir,
			   mbox ? "mbox" : "mail") < 0 ||
	    account_path(root_dir, address, mbox, out, size) < 0)
		str_copy(out, "", size);
}

static struct store_account *account_new(struct store *s, const char *address)
{
	struct store_account *a = xcalloc(1, sizeof(*a));
	size_t n = strlen(s->mail_dir) + strlen(address) + 3;

	a->address = xstrdup(address);
	a->root = xmalloc(n);
	account_path(s->mail_dir, address, false, a->root, n);
	a->store = s;
	a->refs = 1;
	return a;
}

static void account_free(struct store_account *a)
{
	free(a->mbox_path);
	free(a->address);
	free(a->root);
	free(a);
}

int store_account_open(struct store *s, const char *address,
		       struct store_account **r, struct store_error *error_r)
{
	char lower[320];
	struct store_account *a;

	if (str_copy(lower, address, sizeof(lower)) >= sizeof(lower) || !address_ok(lower) ||
	    strlen(s->mail_dir) + strlen(lower) > STORE_ROOT_MAX) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM, "Bad account address");
		return -1;
	}
	str_lower(lower);
	if ((a = store_find_account(s, lower)) != NULL) {
		a->refs++;
		*r = a;
		return 1;
	}
	a = account_new(s, lower);
	if (store_maildir_create(a->root) < 0) {
		store_error_sys(error_r, "create", a->root);
		account_free(a);
		return -1;
	}
	store_remember_account(s, a);
	clean_trash(a);
	*r = a;
	return 1;
}

void store_account_unref(struct store_account **ap)
{
	struct store_account *a = *ap;

	*ap = NULL;
	if (a == NULL || --a->refs > 0)
		return;
	if (a->open != NULL) {
		store_mbox_drop_parked(a);	/* only parked folders are left */
		if (a->refs > 0)
			return;
	}
	store_account_forget(a);
	account_free(a);
}

void store_account_set_mbox(struct store_account *a, bool mbox)
{
	size_t n = strlen(a->store->mbox_dir) + strlen(a->address) + 2;

	free(a->mbox_path);
	a->mbox_path = NULL;
	if (!mbox)
		return;
	a->mbox_path = xmalloc(n);
	store_account_path(a->store, a->address, true, a->mbox_path, n);
}

/* ---- UIDVALIDITY ---- */

uint32_t store_account_new_uidvalidity(struct store_account *a, bool sync)
{
	struct store *s = a->store;
	char path[STORE_PATH_MAX], text[32];
	unsigned long long last = 0;
	uint32_t now = (uint32_t)time(NULL), v;
	struct buf old;
	int n;

	snprintf(path, sizeof(path), "%s/%s", a->root, STORE_ACCOUNT_FILE);
	buf_init(&old, 1024);
	if (store_read_file(path, &old) > 0 &&
	    sscanf(buf_cstr(&old), "uidvalidity %llu", &last) != 1)
		last = 0;
	buf_deinit(&old);
	/* strictly increasing per account, across restarts: a folder deleted
	   and created again in the same second still gets a new value */
	v = now > last ? now : (uint32_t)last + 1;
	if (v <= s->last_uidvalidity)
		v = s->last_uidvalidity + 1;
	s->last_uidvalidity = v;
	n = snprintf(text, sizeof(text), "uidvalidity %u\n", v);
	if (store_write_file(path, text, (size_t)n, sync) < 0)
		log_warn("store: write %s: %m", path);
	return v;
}

/* ---- quota ---- */

uint64_t store_account_quota(const struct store_account *a)
{
	return a->quota;
}

void store_account_set_quota(struct store_account *a, uint64_t limit)
{
	a->quota = limit;
}

static void count_dir(const char *path, uint64_t *bytes, uint64_t *msgs)
{
	struct dirent *de;
	struct mdname md;
	struct stat st;
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		store_maildir_parse(de->d_name, &md);
		if (md.size == UINT64_MAX) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			md.size = (uint64_t)st.st_size;
		}
		*bytes += md.size;
		(*msgs)++;
	}
	closedir(d);
}

static void count_folder(const char *dir, uint64_t *bytes, uint64_t *msgs)
{
	char path[STORE_PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/new", dir) < sizeof(path))
		count_dir(path, bytes, msgs);
	if ((size_t)snprintf(path, sizeof(path), "%s/cur", dir) < sizeof(path))
		count_dir(path, bytes, msgs);
}

/* The account's mbox file, whether or not its INBOX is read from it now
   (SMTP's quota check does not ask); its messages are counted when it is
   open. */
static void count_mbox(const struct store_account *a, uint64_t *bytes, uint64_t *msgs)
{
	char path[STORE_PATH_MAX];
	struct stat st;

	if (store_account_path(a->store, a->address, true, path, sizeof(path)) > 0 &&
	    stat(path, &st) == 0 && S_ISREG(st.st_mode))
		*bytes += (uint64_t)st.st_size;
	for (const struct mbox *mb = a->open; mb != NULL; mb = mb->next)
		if (mb->mbox_path != NULL)
			*msgs += mb->idx.count;
}

int store_usage_scan(const char *root, bool inbox, uint64_t *bytes_r, uint64_t *messages_r)
{
	char path[STORE_PATH_MAX], name[STORE_NAME_MAX + 1];
	uint64_t bytes = 0, msgs = 0;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(root)) == NULL)
		return -1;
	if (inbox)
		count_folder(root, &bytes, &msgs);
	while ((de = readdir(d)) != NULL) {
		if (store_name_from_dir(de->d_name, name, sizeof(name)) <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
		count_folder(path, &bytes, &msgs);
	}
	closedir(d);
	*bytes_r = bytes;
	if (messages_r != NULL)
		*messages_r = msgs;
	return 1;
}

static int count_usage(struct store_account *a)
{
	uint64_t bytes, msgs;

	if (store_usage_scan(a->root, a->mbox_path == NULL, &bytes, &msgs) < 0)
		return -1;
	count_mbox(a, &bytes, &msgs);
	a->usage = bytes;
	a->usage_msgs = msgs;
	a->usage_at = time(NULL);
	a->usage_valid = true;
	return 1;
}

int store_account_usage(struct store_account *a, uint64_t *bytes_r,
			uint64_t *messages_r, struct store_error *error_r)
{
	if ((!a->usage_valid || time(NULL) - a->usage_at >= USAGE_MAX_AGE) &&
	    count_usage(a) < 0) {
		store_error_sys(error_r, "scan", a->root);
		return -1;
	}
	*bytes_r = a->usage;
	if (messages_r != NULL)
		*messages_r = a->usage_msgs;
	return 1;
}

int store_account_quota_check(struct store_account *a, uint64_t bytes,
			      struct store_error *error_r)
{
	uint64_t used;

	if (a->quota == 0)
		return 1;
	if (store_account_usage(a, &used, NULL, error_r) < 0)
		return -1;
	return used <= a->quota && bytes <= a->quota - used ? 1 : 0;
}

void store_account_usage_add(struct store_account *a, int64_t bytes, int64_t msgs)
{
	if (!a->usage_valid)
		return;
	if (bytes < 0 && (uint64_t)-bytes > a->usage)
		a->usage = 0;
	else
		a->usage += (uint64_t)bytes;
	if (msgs < 0 && (uint64_t)-msgs > a->usage_msgs)
		a->usage_msgs = 0;
	else
		a->usage_msgs += (uint64_t)msgs;
}

void store_account_usage_stale(struct store_account *a)
{
	a->usage_valid = false;
}
