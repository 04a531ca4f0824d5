/*
 * store_list.c - LIST: every folder of an account with its attributes.
 *
 * One readdir of the account's Maildir gives the folders; the
 * subscriptions file adds SUBSCRIBED (and the subscribed names that do
 * not exist); parents that exist only as a prefix of their children come
 * as \Noselect \NonExistent.  The list is sorted (INBOX first, then byte
 * order), so children are found by binary search.  Folders are few (tens
 * to a few thousand): the work is one directory scan and one small read
 * per folder with a SPECIAL-USE.
 */
#include "store/store_private.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define ENTRY_SUBSCRIPTION_ONLY 0x10000	/* no folder behind it */

struct entry {
	char *name;
	unsigned attrs;
};

struct list {
	struct entry *v;
	unsigned n, cap;
};

static struct entry *list_add(struct list *l, const char *name, size_t len,
			      unsigned attrs)
{
	struct entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap < 16 ? 16 : l->cap * 2;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	e = &l->v[l->n++];
	e->name = xstrndup(name, len);
	e->attrs = attrs;
	return e;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	bool ia = strcmp(a->name, "INBOX") == 0, ib = strcmp(b->name, "INBOX") == 0;

	if (ia != ib)
		return ia ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Position of name in the sorted list, or -1. */
static long list_find(const struct list *l, const char *name)
{
	struct entry key = { (char *)name, 0 };
	struct entry *e = bsearch(&key, l->v, l->n, sizeof(*l->v), entry_cmp);

	return e == NULL ? -1 : e - l->v;
}

static int read_folders(struct store_account *a, struct list *l)
{
	char name[STORE_NAME_MAX + 1], path[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(a->root)) == NULL)
		return -1;
	list_add(l, "INBOX", 5, 0);
	while ((de = readdir(d)) != NULL) {
		if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
		    store_name_from_dir(de->d_name, name, sizeof(name)) <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", a->root, de->d_name);
		list_add(l, name, strlen(name), store_folder_special_use(path));
	}
	closedir(d);
	return 1;
}

static void list_sort(struct list *l)
{
	qsort(l->v, l->n, sizeof(*l->v), entry_cmp);
}

/* Drop repeated names, keeping the entry of a real folder. */
static void list_dedupe(struct list *l)
{
	unsigned o = 0;

	for (unsigned i = 0; i < l->n; i++) {
		if (o > 0 && strcmp(l->v[o - 1].name, l->v[i].name) == 0) {
			if ((l->v[o - 1].attrs & STORE_FOLDER_NONEXISTENT) != 0) {
				free(l->v[o - 1].name);
				l->v[o - 1] = l->v[i];
			} else {
				free(l->v[i].name);
			}
			continue;
		}
		l->v[o++] = l->v[i];
	}
	l->n = o;
}

/* Parents that exist only through their children. */
static void add_parents(struct list *l)
{
	unsigned n = l->n;

	for (unsigned i = 0; i < n; i++)
		for (const char *p = strchr(l->v[i].name, '/'); p != NULL;
		     p = strchr(p + 1, '/'))
			list_add(l, l->v[i].name, (size_t)(p - l->v[i].name),
				 STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT);
	list_sort(l);
	list_dedupe(l);
}

static void add_subscriptions(struct store_account *a, struct list *l)
{
	char path[STORE_PATH_MAX], name[STORE_NAME_MAX + 1];
	unsigned n = l->n;
	struct buf text;
	const char *p, *nl;
	long i;

	snprintf(path, sizeof(path), "%s/%s", a->root, STORE_SUBS_FILE);
	buf_init(&text, 0);
	if (store_read_file(path, &text) < 0)
		log_warn("store: read %s: %m", path);
	for (p = buf_cstr(&text); *p != '\0'; p = *nl == '\0' ? nl : nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		if (nl == p || (size_t)(nl - p) > STORE_NAME_MAX)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(nl - p), p);
		/* the first n entries are sorted; later ones are additions */
		struct list sorted = { l->v, n, n };
		if ((i = list_find(&sorted, name)) >= 0)
			l->v[i].attrs |= STORE_FOLDER_SUBSCRIBED;
		else
			list_add(l, name, strlen(name), STORE_FOLDER_SUBSCRIBED |
				 STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT |
				 ENTRY_SUBSCRIPTION_ONLY);
	}
	buf_deinit(&text);
	list_sort(l);
	list_dedupe(l);
}

/* First position in v[1..n) whose name is >= key (INBOX sits at 0). */
static unsigned lower_bound(const struct list *l, const char *key)
{
	unsigned lo = 1, hi = l->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (strcmp(l->v[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does any folder (not a mere subscription) sit under v[i]? */
static bool has_children(const struct list *l, unsigned i)
{
	char prefix[STORE_NAME_MAX + 2];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "%s/", l->v[i].name);

	for (unsigned k = lower_bound(l, prefix);
	     k < l->n && strncmp(l->v[k].name, prefix, n) == 0; k++)
		if ((l->v[k].attrs & ENTRY_SUBSCRIPTION_ONLY) == 0)
			return true;
	return false;
}

static void set_children(struct list *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		if ((l->v[i].attrs & ENTRY_SUBSCRIPTION_ONLY) != 0)
			continue;
		l->v[i].attrs |= has_children(l, i) ? STORE_FOLDER_HASCHILDREN :
						       STORE_FOLDER_HASNOCHILDREN;
	}
}

int store_folder_list(struct store_account *a,
		      void (*cb)(void *ctx, const struct store_folder_info *f),
		      void *ctx, struct store_error *error_r)
{
	struct list l = { 0 };

	if (read_folders(a, &l) < 0) {
		store_error_sys(error_r, "scan", a->root);
		return -1;
	}
	add_parents(&l);
	add_subscriptions(a, &l);
	set_children(&l);
	for (unsigned i = 0; i < l.n; i++) {
		struct store_folder_info f = { l.v[i].name,
					       l.v[i].attrs & ~ENTRY_SUBSCRIPTION_ONLY };
		cb(ctx, &f);
	}
	for (unsigned i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	return 1;
}
