/*
 * sieve_deliver.c - the seam with local delivery: find the account's
 * active script, compile it once (cached by path, inode, size and
 * modification time), run it, and fall back to a plain keep, logged,
 * when anything goes wrong.
 *
 * Layout in the account's Maildir:
 *   sieve/<name>.sieve   scripts
 *   sieve/active         a symlink to <name>.sieve, or a file naming it
 */
#include "sieve/sieve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define CACHE_SIZE 64

struct cached {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct sieve_script *script;	/* NULL: did not compile */
	char error[256];
	uint64_t used;
	unsigned refs;			/* runs using script now */
	bool stale;			/* replaced while in use: free at refs 0 */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache[CACHE_SIZE];
static uint64_t cache_clock;

static bool valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 200 || name[0] == '.')
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			return false;
	return true;
}

/* The path of the active script into out.  1 found, 0 none. */
static int active_path(const char *maildir, char *out, size_t size)
{
	char link[PATH_MAX], dir[PATH_MAX];
	ssize_t n;
	struct stat st;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/sieve", maildir) >= sizeof(dir) - 256 ||
	    (size_t)snprintf(out, size, "%s/active", dir) >= size)
		return 0;
	if (lstat(out, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(out, link, sizeof(link) - 1);
		if (n <= 0)
			return 0;
		link[n] = '\0';
	} else if (S_ISREG(st.st_mode)) {
		FILE *f = fopen(out, "r");
		if (f == NULL)
			return 0;
		if (fgets(link, sizeof(link), f) == NULL)
			link[0] = '\0';
		fclose(f);
		link[strcspn(link, "\r\n")] = '\0';
		if (link[0] != '\0' && strchr(link, '/') == NULL &&
		    (strlen(link) < 6 || strcmp(link + strlen(link) - 6, ".sieve") != 0)) {
			size_t l = strlen(link);
			snprintf(link + l, sizeof(link) - l, ".sieve");
		}
	} else {
		return 0;
	}
	/* only a script of the same directory */
	const char *base = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if (!valid_name(base))
		return 0;
	if ((size_t)snprintf(out, size, "%s/%s", dir, base) >= size)
		return 0;
	return 1;
}

static void cached_free(struct cached **cp)
{
	struct cached *c = *cp;

	sieve_script_free(&c->script);
	free(c);
	*cp = NULL;
}

/* Read and compile path (outside the lock). */
static struct cached *load(const char *path, const struct stat *st)
{
	struct cached *c = xcalloc(1, sizeof(*c));
	char *text = NULL;
	int fd;

	snprintf(c->path, sizeof(c->path), "%s", path);
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	if (st->st_size > SIEVE_MAX_SCRIPT) {
		snprintf(c->error, sizeof(c->error), "script larger than %d bytes",
			 SIEVE_MAX_SCRIPT);
		return c;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	text = xmalloc(st->st_size + 1);
	if (fd < 0 || read(fd, text, st->st_size) != st->st_size) {
		snprintf(c->error, sizeof(c->error), "cannot read: %s", strerror(errno));
	} else {
		sieve_compile(text, st->st_size, &c->script, c->error, sizeof(c->error));
	}
	if (fd >= 0)
		close(fd);
	free(text);
	return c;
}

static bool same_file(const struct cached *c, const char *path, const struct stat *st)
{
	return strcmp(c->path, path) == 0 && c->dev == st->st_dev && c->ino == st->st_ino &&
	       c->size == st->st_size && c->mtime.tv_sec == st->st_mtim.tv_sec &&
	       c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The cached entry for path, referenced (release with unref). */
static struct cached *get(const char *path, const struct stat *st)
{
	struct cached *c, *fresh;
	unsigned slot = 0;

	pthread_mutex_lock(&cache_lock);
	for (unsigned i = 0; i < CACHE_SIZE; i++)
		if (cache[i] != NULL && same_file(cache[i], path, st)) {
			c = cache[i];
			c->refs++;
			c->used = ++cache_clock;
			pthread_mutex_unlock(&cache_lock);
			return c;
		}
	pthread_mutex_unlock(&cache_lock);

	fresh = load(path, st);
	fresh->refs = 1;
	pthread_mutex_lock(&cache_lock);
	fresh->used = ++cache_clock;
	/* the slot of the same path (an older version), else the least used */
	for (unsigned i = 0; i < CACHE_SIZE; i++) {
		if (cache[i] == NULL || strcmp(cache[i]->path, path) == 0) {
			slot = i;
			break;
		}
		if (cache[i]->used < cache[slot]->used)
			slot = i;
	}
	if (cache[slot] != NULL) {
		if (cache[slot]->refs > 0)
			cache[slot]->stale = true;
		else
			cached_free(&cache[slot]);
	}
	cache[slot] = fresh;
	pthread_mutex_unlock(&cache_lock);
	return fresh;
}

static void unref(struct cached *c)
{
	bool in_cache = false;

	pthread_mutex_lock(&cache_lock);
	c->refs--;
	for (unsigned i = 0; i < CACHE_SIZE; i++)
		in_cache = in_cache || cache[i] == c;
	if (c->refs == 0 && !in_cache)
		cached_free(&c);
	pthread_mutex_unlock(&cache_lock);
}

static void plan_keep(struct sieve_plan *plan)
{
	struct sieve_action *a = &plan->actions[0];

	plan->n = 1;
	memset(a, 0, sizeof(*a));
	a->kind = SIEVE_ACTION_FILEINTO;
	a->folder = xstrdup("INBOX");
	a->flags = xstrdup("");
}

/* include: :personal scripts of the same directory, :global ones of the
   configured directory, through the cache; each one used stays
   referenced until the run ends (as the before and after scripts). */
struct includes {
	char dir[PATH_MAX];
	const char *global_dir;		/* "" none */
	struct cached *used[SIEVE_MAX_INCLUDED + 2];
	unsigned n;
};

static int include_script(void *ctx, const char *name, bool global,
			  const struct sieve_script **r, char *err, size_t err_size)
{
	struct includes *inc = ctx;
	const char *dir = global ? inc->global_dir : inc->dir;
	char path[PATH_MAX];
	struct stat st;
	struct cached *c;

	*r = NULL;
	if (!valid_name(name) || inc->n >= SIEVE_MAX_INCLUDED) {
		snprintf(err, err_size, "bad script name");
		return -1;
	}
	if (dir == NULL || dir[0] == '\0')
		return 1;	/* no global scripts: none of that name */
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.sieve", dir, name) >= sizeof(path))
		return -1;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 1;
	c = get(path, &st);
	inc->used[inc->n++] = c;
	if (c->script == NULL) {
		snprintf(err, err_size, "%s", c->error);
		return -1;
	}
	*r = c->script;
	return 1;
}

/* The server's before or after script, compiled (through the cache), or
   NULL when there is none or it does not load (logged). */
static const struct sieve_script *server_script(struct includes *inc, const char *path)
{
	struct stat st;
	struct cached *c;

	if (path == NULL || path[0] == '\0')
		return NULL;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warn("sieve: %s: %s: left out", path, strerror(errno));
		return NULL;
	}
	c = get(path, &st);
	inc->used[inc->n++] = c;
	if (c->script == NULL)
		log_warn("sieve: %s: %s: left out", path, c->error);
	return c->script;
}

int sieve_deliver_plan(const char *maildir, const struct sieve_globals *g,
		       const struct sieve_message *msg_in, struct sieve_plan *plan)
{
	char path[PATH_MAX], err[256];
	struct stat st;
	struct cached *c = NULL;
	struct includes inc = { .n = 0, .global_dir = g != NULL ? g->dir : NULL };
	struct sieve_message m = *msg_in, *msg = &m;
	const struct sieve_script *scripts[3] = { NULL, NULL, NULL };
	bool active;

	snprintf(inc.dir, sizeof(inc.dir), "%s/sieve", maildir);
	m.include = include_script;
	m.include_ctx = &inc;

	plan->n = 0;
	active = active_path(maildir, path, sizeof(path)) > 0;
	if (g != NULL) {
		scripts[0] = server_script(&inc, g->before);
		scripts[2] = server_script(&inc, g->after);
	}
	if (!active && scripts[0] == NULL && scripts[2] == NULL) {
		for (unsigned i = 0; i < inc.n; i++)
			unref(inc.used[i]);
		return 0;
	}
	if (active && (stat(path, &st) < 0 || !S_ISREG(st.st_mode))) {
		log_warn("sieve: %s: the active script is missing: keeping in INBOX", path);
		plan_keep(plan);
	} else {
		if (active)
			c = get(path, &st);
		if (c != NULL && c->script == NULL) {
			log_warn("sieve: %s: %s: keeping in INBOX", path, c->error);
			plan_keep(plan);
		} else {
			scripts[1] = c != NULL ? c->script : NULL;
			if (sieve_run_scripts(scripts, 3, msg, plan, err, sizeof(err)) < 0) {
				log_warn("sieve: %s: run failed, %s: keeping in INBOX",
					 active ? path : "the server's scripts", err);
				plan_keep(plan);
			}
		}
	}
	if (c != NULL)
		unref(c);
	for (unsigned i = 0; i < inc.n; i++)
		unref(inc.used[i]);
	return 1;
}
