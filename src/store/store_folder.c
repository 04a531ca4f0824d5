/*
 * store_folder.c - the folder tree of an account: LIST, CREATE, DELETE,
 * RENAME, SUBSCRIBE and STATUS.
 *
 * The tree is the account's Maildir++ directory: each folder is a ".Name"
 * directory beside INBOX's tmp/ new/ cur/ (see store_name.c).  A folder
 * is created complete under a temporary name and renamed into place, and
 * deleted by renaming it away first, so other readers never see half a
 * folder.  SPECIAL-USE is the file correio-special-use inside the folder
 * (it follows renames); subscriptions are the account's file
 * "subscriptions", one name per line.
 */
#include "store/store_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

static const struct {
	unsigned flag;
	const char *text;
} special_uses[] = {
	{ STORE_FOLDER_SENT, "\\Sent" }, { STORE_FOLDER_DRAFTS, "\\Drafts" },
	{ STORE_FOLDER_TRASH, "\\Trash" }, { STORE_FOLDER_JUNK, "\\Junk" },
	{ STORE_FOLDER_ARCHIVE, "\\Archive" },
};

static bool dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

unsigned store_folder_special_use(const char *dir)
{
	char path[STORE_PATH_MAX];
	unsigned flag = 0;
	struct buf text;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_SPECIAL_FILE);
	buf_init(&text, 256);
	if (store_read_file(path, &text) > 0) {
		for (size_t i = 0; i < sizeof(special_uses) / sizeof(special_uses[0]); i++)
			if (strncasecmp(buf_cstr(&text), special_uses[i].text,
					strlen(special_uses[i].text)) == 0)
				flag = special_uses[i].flag;
	}
	buf_deinit(&text);
	return flag;
}

/* ---- create ---- */

static int fill_new_folder(struct store_account *a, const char *tmp, unsigned special_use,
			   bool sync)
{
	char path[STORE_PATH_MAX], text[64];
	int n;

	if (store_maildir_create(tmp) < 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/maildirfolder", tmp) >= sizeof(path) ||
	    store_write_file(path, "", 0, false) < 0)
		return -1;
	n = snprintf(text, sizeof(text), "%u 1 1\n", store_account_new_uidvalidity(a, sync));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", tmp, STORE_UIDV_FILE) >= sizeof(path) ||
	    store_write_file(path, text, (size_t)n, sync) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(special_uses) / sizeof(special_uses[0]); i++) {
		if (special_uses[i].flag != special_use)
			continue;
		n = snprintf(text, sizeof(text), "%s\n", special_uses[i].text);
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", tmp, STORE_SPECIAL_FILE) >=
		    sizeof(path) || store_write_file(path, text, (size_t)n, false) < 0)
			return -1;
	}
	return sync ? fsync_dir(tmp) : 1;
}

/* Create one folder (canonical name) whose parent exists; sync: make its
   files and directories durable (the caller still fsyncs the root). */
static int create_one(struct store_account *a, const char *name, unsigned special_use,
		      bool sync, struct store_error *error_r)
{
	char dir[STORE_PATH_MAX], tmp[STORE_PATH_MAX], unique[200];

	if (store_folder_path(a, name, dir, sizeof(dir)) < 0) {
		store_error_set(error_r, STORE_ERROR_LIMIT, "Mailbox name is too long");
		return -1;
	}
	if (dir_exists(dir)) {
		store_error_set(error_r, STORE_ERROR_EXISTS, "Mailbox already exists");
		return -1;
	}
	store_unique_name(a->store, unique, sizeof(unique));
	snprintf(tmp, sizeof(tmp), "%s/%s%s", a->root, STORE_NEWDIR_PREFIX, unique);
	if (fill_new_folder(a, tmp, special_use, sync) < 0) {
		store_error_sys(error_r, "create", tmp);
		store_remove_tree(tmp);
		return -1;
	}
	if (rename(tmp, dir) < 0) {
		int saved = errno;
		store_remove_tree(tmp);
		errno = saved;
		if (errno == EEXIST || errno == ENOTEMPTY)
			store_error_set(error_r, STORE_ERROR_EXISTS, "Mailbox already exists");
		else
			store_error_sys(error_r, "rename", dir);
		return -1;
	}
	return 1;
}

/* Create every missing parent of a canonical name. */
static int create_parents(struct store_account *a, const char *name, bool sync,
			  struct store_error *error_r)
{
	char parent[STORE_NAME_MAX + 1], dir[STORE_PATH_MAX];

	for (const char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(p - name), name);
		if (strcmp(parent, "INBOX") == 0)
			continue;
		if (store_folder_path(a, parent, dir, sizeof(dir)) > 0 && dir_exists(dir))
			continue;
		if (create_one(a, parent, 0, sync, error_r) < 0 &&
		    (error_r == NULL || error_r->code != STORE_ERROR_EXISTS))
			return -1;
	}
	return 1;
}

/* A new folder and its missing parents; sync: each one durable but for
   the entry in the account's root, which the caller fsyncs. */
static int folder_create(struct store_account *a, const char *name, unsigned special_use,
			 bool sync, struct store_error *error_r)
{
	char canon[STORE_NAME_MAX + 1];

	if (store_name_normalize(name, canon, sizeof(canon), error_r) < 0)
		return -1;
	if (strcmp(canon, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERROR_EXISTS, "Mailbox already exists");
		return -1;
	}
	if ((special_use & ~STORE_FOLDER_SPECIAL_USE) != 0 ||
	    (special_use & (special_use - 1)) != 0) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM, "Bad special-use attribute");
		return -1;
	}
	if (create_parents(a, canon, sync, error_r) < 0 ||
	    create_one(a, canon, special_use, sync, error_r) < 0)
		return -1;
	return 1;
}

int store_folder_create(struct store_account *a, const char *name,
			unsigned special_use, struct store_error *error_r)
{
	if (folder_create(a, name, special_use, true, error_r) < 0)
		return -1;
	if (fsync_dir(a->root) < 0) {
		store_error_sys(error_r, "fsync", a->root);
		return -1;
	}
	return 1;
}

int store_folder_create_unsynced(struct store_account *a, const char *name,
				 unsigned special_use, struct store_error *error_r)
{
	return folder_create(a, name, special_use, false, error_r);
}

/* ---- children ---- */

/* Call cb for every directory of the folder dirname and its children. */
static int each_in_tree(const struct store_account *a, const char *dirname,
			void (*cb)(void *ctx, const char *entry), void *ctx)
{
	size_t n = strlen(dirname);
	struct dirent *de;
	DIR *d;

	if ((d = opendir(a->root)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, dirname, n) == 0 &&
		    (de->d_name[n] == '\0' || de->d_name[n] == '.'))
			cb(ctx, de->d_name);
	closedir(d);
	return 1;
}

static void count_child(void *ctx, const char *entry)
{
	const char **dirname = ctx;

	if (strcmp(entry, *dirname) != 0)
		*dirname = NULL;	/* found one */
}

static bool has_children(const struct store_account *a, const char *name)
{
	char dirname[300];
	const char *probe = dirname;

	if (store_name_to_dir(name, dirname, sizeof(dirname)) < 0)
		return false;
	each_in_tree(a, dirname, count_child, &probe);
	return probe == NULL;
}

/* ---- delete ---- */

static void forget_open(struct store_account *a, const char *name)
{
	for (struct mbox *mb = a->open; mb != NULL; mb = mb->next) {
		if (strcmp(mb->name, name) == 0) {
			store_mbox_gone(mb);
			return;
		}
	}
}

int store_folder_delete(struct store_account *a, const char *name,
			struct store_error *error_r)
{
	char canon[STORE_NAME_MAX + 1], dir[STORE_PATH_MAX], trash[STORE_PATH_MAX];
	char unique[200];

	if (store_name_normalize(name, canon, sizeof(canon), error_r) < 0)
		return -1;
	if (strcmp(canon, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM, "INBOX can't be deleted");
		return -1;
	}
	if (store_folder_path(a, canon, dir, sizeof(dir)) < 0 || !dir_exists(dir)) {
		if (has_children(a, canon))
			store_error_set(error_r, STORE_ERROR_BAD_PARAM,
					"Mailbox has children, delete them first");
		else
			store_error_set(error_r, STORE_ERROR_NOT_FOUND, "Mailbox doesn't exist");
		return -1;
	}
	store_unique_name(a->store, unique, sizeof(unique));
	snprintf(trash, sizeof(trash), "%s/%s%s", a->root, STORE_TRASH_PREFIX, unique);
	if (rename(dir, trash) < 0) {
		store_error_sys(error_r, "rename", dir);
		return -1;
	}
	forget_open(a, canon);
	store_account_usage_stale(a);
	if (store_remove_tree(trash) < 0)
		log_warn("store: remove %s: %m (removed at next login)", trash);
	if (fsync_dir(a->root) < 0)
		log_warn("store: fsync %s: %m", a->root);
	return 1;
}

/* ---- rename ---- */

struct rename_ctx {
	const char *olddir;
	char (*entries)[300];
	unsigned n, cap;
};

static void collect_entry(void *ctx, const char *entry)
{
	struct rename_ctx *rc = ctx;

	if (rc->n == rc->cap) {
		rc->cap = rc->cap < 8 ? 8 : rc->cap * 2;
		rc->entries = xrealloc(rc->entries, rc->cap * sizeof(*rc->entries));
	}
	str_copy(rc->entries[rc->n++], entry, sizeof(rc->entries[0]));
}

/* New directory of entry when olddir becomes newdir.  1 or -1 (long). */
static int moved_dir(const char *entry, size_t oldlen, const char *newdir,
		     char *out, size_t size)
{
	int n = snprintf(out, size, "%s%s", newdir, entry + oldlen);

	return n > 0 && n <= 255 && (size_t)n < size ? 1 : -1;
}

static int check_targets(struct store_account *a, const struct rename_ctx *rc,
			 const char *newdir, struct store_error *error_r)
{
	char target[300], path[STORE_PATH_MAX];

	for (unsigned i = 0; i < rc->n; i++) {
		if (moved_dir(rc->entries[i], strlen(rc->olddir), newdir, target,
			      sizeof(target)) < 0) {
			store_error_set(error_r, STORE_ERROR_LIMIT, "Mailbox name is too long");
			return -1;
		}
		snprintf(path, sizeof(path), "%s/%s", a->root, target);
		if (dir_exists(path)) {
			store_error_set(error_r, STORE_ERROR_EXISTS, "Mailbox already exists");
			return -1;
		}
	}
	return 1;
}

static int move_dirs(struct store_account *a, const struct rename_ctx *rc,
		     const char *newdir, struct store_error *error_r)
{
	char target[300], from[STORE_PATH_MAX], to[STORE_PATH_MAX];

	for (unsigned i = 0; i < rc->n; i++) {
		moved_dir(rc->entries[i], strlen(rc->olddir), newdir, target, sizeof(target));
		snprintf(from, sizeof(from), "%s/%s", a->root, rc->entries[i]);
		snprintf(to, sizeof(to), "%s/%s", a->root, target);
		if (store_rename_noreplace(from, to) < 0) {
			store_error_sys(error_r, "rename", from);
			return -1;
		}
	}
	return 1;
}

/* Open folders under oldname follow it. */
static void follow_rename(struct store_account *a, const char *oldname,
			  const char *newname)
{
	size_t n = strlen(oldname);
	char name[STORE_NAME_MAX * 2 + 2], dir[STORE_PATH_MAX];

	for (struct mbox *mb = a->open; mb != NULL; mb = mb->next) {
		if (strncmp(mb->name, oldname, n) != 0 ||
		    (mb->name[n] != '\0' && mb->name[n] != '/'))
			continue;
		snprintf(name, sizeof(name), "%s%s", newname, mb->name + n);
		if (store_folder_path(a, name, dir, sizeof(dir)) < 0)
			continue;
		free(mb->name);
		free(mb->dir);
		mb->name = xstrdup(name);
		mb->dir = xstrdup(dir);
	}
}

static int rename_tree(struct store_account *a, const char *oldname,
		       const char *newname, struct store_error *error_r)
{
	char olddir[300], newdir[300];
	struct rename_ctx rc = { .olddir = olddir };
	int ret = -1;

	if (store_name_to_dir(oldname, olddir, sizeof(olddir)) < 0 ||
	    store_name_to_dir(newname, newdir, sizeof(newdir)) < 0) {
		store_error_set(error_r, STORE_ERROR_LIMIT, "Mailbox name is too long");
		return -1;
	}
	if (each_in_tree(a, olddir, collect_entry, &rc) < 0)
		store_error_sys(error_r, "scan", a->root);
	else if (rc.n == 0)
		store_error_set(error_r, STORE_ERROR_NOT_FOUND, "Mailbox doesn't exist");
	else if (check_targets(a, &rc, newdir, error_r) > 0 &&
		 create_parents(a, newname, true, error_r) > 0 &&
		 move_dirs(a, &rc, newdir, error_r) > 0)
		ret = 1;
	if (ret > 0)
		follow_rename(a, oldname, newname);
	free(rc.entries);
	return ret;
}

/* RENAME INBOX: its messages move to a new folder; INBOX stays, empty. */
static int rename_inbox(struct store_account *a, const char *newname,
			struct store_error *error_r)
{
	struct mbox *inbox;
	uint32_t *uids, uidv;
	int ret;

	if (create_parents(a, newname, true, error_r) < 0 ||
	    create_one(a, newname, 0, true, error_r) < 0)
		return -1;
	if (store_mbox_get(a, "INBOX", &inbox, error_r) < 0)
		return -1;
	uids = xcalloc(inbox->idx.count * 2 + 1, sizeof(*uids));
	for (unsigned i = 0; i < inbox->idx.count; i++)
		uids[i] = inbox->idx.recs[i].uid;
	ret = store_copy_run(inbox, NULL, uids, inbox->idx.count, newname, true,
			     uids + inbox->idx.count, &uidv, error_r);
	free(uids);
	store_mbox_release(inbox);
	return ret;
}

int store_folder_rename(struct store_account *a, const char *oldname,
			const char *newname, struct store_error *error_r)
{
	char from[STORE_NAME_MAX + 1], to[STORE_NAME_MAX + 1];
	size_t n;

	if (store_name_normalize(oldname, from, sizeof(from), error_r) < 0 ||
	    store_name_normalize(newname, to, sizeof(to), error_r) < 0)
		return -1;
	n = strlen(from);
	/* files of expunged messages must not move with their folder */
	for (struct mbox *mb = a->open; mb != NULL; mb = mb->next)
		store_unlink_now(mb);
	if (strcmp(to, "INBOX") == 0) {
		store_error_set(error_r, STORE_ERROR_EXISTS, "Mailbox already exists");
		return -1;
	}
	if (strcmp(from, "INBOX") == 0)
		return rename_inbox(a, to, error_r) < 0 ? -1 : 1;
	if (strncmp(to, from, n) == 0 && (to[n] == '\0' || to[n] == '/')) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM,
				"Can't rename a mailbox under itself");
		return -1;
	}
	if (rename_tree(a, from, to, error_r) < 0)
		return -1;
	if (fsync_dir(a->root) < 0)
		log_warn("store: fsync %s: %m", a->root);
	return 1;
}

/* ---- subscriptions ---- */

static bool has_line(const struct buf *text, const char *name, size_t *at_r)
{
	size_t n = strlen(name);

	for (const char *p = buf_cstr(text); *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len == n && memcmp(p, name, n) == 0) {
			*at_r = (size_t)(p - text->data);
			return true;
		}
		p += len + (nl != NULL ? 1 : 0);
	}
	return false;
}

int store_folder_subscribe(struct store_account *a, const char *name, bool on,
			   struct store_error *error_r)
{
	char canon[STORE_NAME_MAX + 1], path[STORE_PATH_MAX];
	struct buf text;
	size_t at;
	bool found;
	int ret = 1;

	if (store_name_normalize(name, canon, sizeof(canon), error_r) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", a->root, STORE_SUBS_FILE);
	buf_init(&text, 0);
	if (store_read_file(path, &text) < 0)
		ret = -1;
	found = ret > 0 && has_line(&text, canon, &at);
	if (ret > 0 && on && !found) {
		if (text.len > 0 && text.data[text.len - 1] != '\n')
			buf_putc(&text, '\n');
		buf_printf(&text, "%s\n", canon);
	} else if (ret > 0 && !on && found) {
		size_t len = strlen(canon) + (at + strlen(canon) < text.len ? 1 : 0);
		memmove(text.data + at, text.data + at + len, text.len - at - len);
		buf_truncate(&text, text.len - len);
	}
	if (ret > 0 && found != on && store_write_file(path, text.data, text.len, false) < 0)
		ret = -1;
	if (ret < 0)
		store_error_sys(error_r, "write", path);
	buf_deinit(&text);
	return ret;
}

/* ---- status ---- */

int store_folder_status(struct store_account *a, const char *name, bool sizes,
			struct store_status *st, struct store_error *error_r)
{
	struct store_mailbox tmp = { 0 };

	if (store_mbox_get(a, name, &tmp.mb, error_r) < 0)
		return -1;
	/* a fresh open has just synced; a busy one is being told of changes */
	if (tmp.mb->refs > 1 && !tmp.mb->busy &&
	    store_sync_run(tmp.mb, false, false, error_r) < 0) {
		store_mbox_release(tmp.mb);
		return -1;
	}
	store_mailbox_status(&tmp, st);
	if (sizes)
		store_mailbox_status_sizes(&tmp, st);
	store_mbox_release(tmp.mb);
	return 1;
}
