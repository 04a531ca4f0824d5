/*
 * client_cache.c - the offline cache of one account, under cache_dir:
 *
 *   folders/<name>/cur/<uid>:2,<flags>   one Maildir per folder; the file
 *                                        name holds the server's UID and
 *                                        the Maildir flags (D F R S T)
 *   folders/<name>/state                 "uidvalidity N" "modseq M" "name X"
 *   journal                              offline changes, one per line
 *   outbox/<id>.msg, outbox/<id>.env     mail composed offline, envelope
 *   pop3-uidl                            POP3 messages already fetched
 *
 * <name> is the folder's UTF-8 name with every byte other than letters,
 * digits, "-" and "_" written as %XX, so no folder name can climb out of
 * the cache.  This file is the only one that reads or writes these paths.
 */
#include "client/client_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/encoding.h"
#include "lib/util.h"

struct client_cache {
	char dir[1024];
};

/* snprintf for paths: a name too long is cut (and then not found),
   which the sizes here make impossible for names the server may send */
static void pathf(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pathf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

static void encode_name(const char *name, char *out, size_t size)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < size; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_') {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			hex_encode_upper(p, 1, out + n);
			n += 2;
		}
	}
	out[n] = '\0';
}

static void decode_name(const char *enc, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = enc; *p && n + 1 < size; p++) {
		int hi, lo;
		if (*p == '%' && (hi = hex_value((unsigned char)p[1])) >= 0 &&
		    (lo = hex_value((unsigned char)p[2])) >= 0) {
			out[n++] = (char)(hi << 4 | lo);
			p += 2;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static void folder_dir(struct client_cache *c, const char *folder, char *out,
		       size_t size)
{
	char enc[1600];

	encode_name(folder, enc, sizeof(enc));
	pathf(out, size, "%s/folders/%s", c->dir, enc);
}

bool client_cache_exists(const struct client_account *a)
{
	char path[4096];
	struct stat st;

	pathf(path, sizeof(path), "%s/folders", a->cache_dir);
	return stat(path, &st) == 0;
}

int client_cache_open(const struct client_account *a, struct client_cache **r)
{
	struct client_cache *c = xcalloc(1, sizeof(*c));
	char path[4096];

	str_copy(c->dir, a->cache_dir, sizeof(c->dir));
	pathf(path, sizeof(path), "%s/outbox", c->dir);
	if (mkdir_p(path, 0700) < 0) {
		free(c);
		return client_fail(CLIENT_ERR_OTHER, "cache %s: %s", path, strerror(errno));
	}
	pathf(path, sizeof(path), "%s/folders", c->dir);
	mkdir_p(path, 0700);
	*r = c;
	return 1;
}

void client_cache_close(struct client_cache **c)
{
	free(*c);
	*c = NULL;
}

static int strcmp_p(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	if (strcmp(x, "INBOX") == 0)
		return -1;
	if (strcmp(y, "INBOX") == 0)
		return 1;
	return strcmp(x, y);
}

int client_cache_folders(struct client_cache *c, char ***r, size_t *n_r)
{
	char path[4096], name[1024];
	DIR *d;
	struct dirent *e;

	*r = NULL;
	*n_r = 0;
	pathf(path, sizeof(path), "%s/folders", c->dir);
	d = opendir(path);
	if (d == NULL)
		return client_fail(CLIENT_ERR_OTHER, "no offline cache at %s (run `correio "
				   "mail sync` while online)", c->dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		decode_name(e->d_name, name, sizeof(name));
		*r = xrealloc(*r, (*n_r + 1) * sizeof(**r));
		(*r)[(*n_r)++] = xstrdup(name);
	}
	closedir(d);
	if (*n_r > 1)
		qsort(*r, *n_r, sizeof(**r), strcmp_p);
	return 1;
}

static unsigned flags_from_name(const char *name)
{
	const char *info = strstr(name, ":2,");
	unsigned f = 0;

	if (info == NULL)
		return 0;
	for (const char *p = info + 3; *p; p++) {
		switch (*p) {
		case 'S': f |= CLIENT_F_SEEN; break;
		case 'R': f |= CLIENT_F_ANSWERED; break;
		case 'F': f |= CLIENT_F_FLAGGED; break;
		case 'T': f |= CLIENT_F_DELETED; break;
		case 'D': f |= CLIENT_F_DRAFT; break;
		}
	}
	return f;
}

static void file_name(uint32_t uid, unsigned f, char *out, size_t size)
{
	pathf(out, size, "%u:2,%s%s%s%s%s", uid, f & CLIENT_F_DRAFT ? "D" : "",
		 f & CLIENT_F_FLAGGED ? "F" : "", f & CLIENT_F_ANSWERED ? "R" : "",
		 f & CLIENT_F_SEEN ? "S" : "", f & CLIENT_F_DELETED ? "T" : "");
}

static int msg_cmp(const void *a, const void *b)
{
	const struct client_cache_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int client_cache_list(struct client_cache *c, const char *folder,
		      struct client_cache_msg **r, size_t *n_r)
{
	char dir[4096];
	DIR *d;
	struct dirent *e;
	size_t cap = 0;

	*r = NULL;
	*n_r = 0;
	folder_dir(c, folder, dir, sizeof(dir));
	str_copy(dir + strlen(dir), "/cur", sizeof(dir) - strlen(dir));
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return client_fail(CLIENT_ERR_OTHER, "folder %s is not in the offline "
					   "cache", folder);
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", dir, strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		char *end;
		unsigned long uid = strtoul(e->d_name, &end, 10);
		if (e->d_name[0] == '.' || end == e->d_name || *end != ':' || uid == 0)
			continue;
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 64;
			*r = xrealloc(*r, cap * sizeof(**r));
		}
		struct client_cache_msg *m = &(*r)[(*n_r)++];
		m->uid = (uint32_t)uid;
		m->flags = flags_from_name(e->d_name);
		pathf(m->file, sizeof(m->file), "%s/%s", dir, e->d_name);
		struct stat st;
		m->arrived = stat(m->file, &st) == 0 ? st.st_mtime : 0;
	}
	closedir(d);
	if (*n_r > 1)
		qsort(*r, *n_r, sizeof(**r), msg_cmp);
	return 1;
}

int client_cache_state(struct client_cache *c, const char *folder,
		       uint32_t *uidvalidity_r, uint64_t *modseq_r)
{
	char path[4096], line[256];
	FILE *f;

	*uidvalidity_r = 0;
	*modseq_r = 0;
	folder_dir(c, folder, path, sizeof(path) - 8);
	str_copy(path + strlen(path), "/state", 8);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long v;
		unsigned long long m;
		if (sscanf(line, "uidvalidity %lu", &v) == 1)
			*uidvalidity_r = (uint32_t)v;
		else if (sscanf(line, "modseq %llu", &m) == 1)
			*modseq_r = m;
	}
	fclose(f);
	return 1;
}

static int ensure_folder(struct client_cache *c, const char *folder)
{
	char dir[4096], sub[1900];

	folder_dir(c, folder, dir, sizeof(dir));
	for (int i = 0; i < 3; i++) {
		pathf(sub, sizeof(sub), "%s/%s", dir, i == 0 ? "cur" : i == 1 ? "new" : "tmp");
		if (mkdir_p(sub, 0700) < 0)
			return client_fail(CLIENT_ERR_OTHER, "%s: %s", sub, strerror(errno));
	}
	return 1;
}

int client_cache_set_state(struct client_cache *c, const char *folder,
			   uint32_t uidvalidity, uint64_t modseq)
{
	char path[4096];
	struct buf s;
	int ret;

	if (ensure_folder(c, folder) < 0)
		return -1;
	folder_dir(c, folder, path, sizeof(path) - 8);
	str_copy(path + strlen(path), "/state", 8);
	buf_init(&s, 0);
	buf_printf(&s, "uidvalidity %u\nmodseq %llu\n", uidvalidity,
		   (unsigned long long)modseq);
	ret = client_write_file(path, s.data, s.len);
	buf_deinit(&s);
	return ret;
}

int client_cache_clear(struct client_cache *c, const char *folder)
{
	struct client_cache_msg *m;
	size_t n;

	if (client_cache_list(c, folder, &m, &n) < 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		unlink(m[i].file);
	free(m);
	return 1;
}

int client_cache_drop_folder(struct client_cache *c, const char *folder)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char dir[4096], path[4600];
	DIR *d;
	struct dirent *e;

	folder_dir(c, folder, dir, sizeof(dir));
	for (size_t i = 0; i < 3; i++) {
		pathf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if ((d = opendir(path)) != NULL) {
			while ((e = readdir(d)) != NULL) {
				char file[4900];
				if (e->d_name[0] == '.')
					continue;
				pathf(file, sizeof(file), "%s/%s", path, e->d_name);
				unlink(file);
			}
			closedir(d);
		}
		rmdir(path);
	}
	pathf(path, sizeof(path), "%s/state", dir);
	unlink(path);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", dir, strerror(errno));
	return 1;
}

int client_cache_store(struct client_cache *c, const char *folder, uint32_t uid,
		       unsigned flags, time_t arrived, const char *data, size_t len)
{
	char dir[4096], name[64], path[4600];

	if (ensure_folder(c, folder) < 0)
		return -1;
	folder_dir(c, folder, dir, sizeof(dir));
	file_name(uid, flags, name, sizeof(name));
	pathf(path, sizeof(path), "%s/cur/%s", dir, name);
	if (client_write_file(path, data, len) < 0)
		return -1;
	if (arrived > 0) {
		/* the file's time is the message's arrival (INTERNALDATE) */
		struct timespec ts[2] = { { arrived, 0 }, { arrived, 0 } };
		utimensat(AT_FDCWD, path, ts, 0);
	}
	return 1;
}

int client_cache_set_flags(struct client_cache *c, const char *folder,
			   const struct client_cache_msg *m, unsigned flags)
{
	char dir[4096], name[64], path[2000];

	folder_dir(c, folder, dir, sizeof(dir));
	file_name(m->uid, flags, name, sizeof(name));
	pathf(path, sizeof(path), "%s/cur/%s", dir, name);
	if (strcmp(path, m->file) != 0 && rename(m->file, path) < 0)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", m->file, strerror(errno));
	return 1;
}

int client_cache_remove(struct client_cache *c, const struct client_cache_msg *m)
{
	(void)c;
	if (unlink(m->file) < 0 && errno != ENOENT)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", m->file, strerror(errno));
	return 1;
}

uint32_t client_cache_next_uid(struct client_cache *c, const char *folder)
{
	struct client_cache_msg *m;
	size_t n;
	uint32_t next = 1;
	char path[4096], line[64];
	FILE *f;

	/* a counter file, so that a deleted last message's UID is not reused */
	pathf(path, sizeof(path), "%s/pop3-next-uid", c->dir);
	f = fopen(path, "r");
	if (f != NULL) {
		if (fgets(line, sizeof(line), f) != NULL)
			next = (uint32_t)strtoul(line, NULL, 10);
		fclose(f);
	}
	if (client_cache_list(c, folder, &m, &n) > 0) {
		if (n > 0 && m[n - 1].uid >= next)
			next = m[n - 1].uid + 1;
		free(m);
	}
	if (next == 0)
		next = 1;
	pathf(line, sizeof(line), "%u\n", next + 1);
	client_write_file(path, line, strlen(line));
	return next;
}

/* ---- the journal ---------------------------------------------------------- */

static const char *const op_names[] = { "flags", "delete", "move" };

int client_cache_journal_add(struct client_cache *c, const struct client_pending *p)
{
	char path[4096], enc[1600], dest[1600];
	FILE *f;

	pathf(path, sizeof(path), "%s/journal", c->dir);
	f = fopen(path, "a");
	if (f == NULL)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	encode_name(p->folder, enc, sizeof(enc));
	encode_name(p->dest[0] ? p->dest : "-", dest, sizeof(dest));
	fprintf(f, "%s %s %u %u %u %u %s\n", op_names[p->op], enc, p->uidvalidity,
		p->uid, p->add, p->del, dest);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	}
	fclose(f);
	return 1;
}

int client_cache_journal(struct client_cache *c, struct client_pending **r,
			 size_t *n_r)
{
	char path[4096], line[4096], op[16], enc[1600], dest[1600];
	FILE *f;

	*r = NULL;
	*n_r = 0;
	pathf(path, sizeof(path), "%s/journal", c->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 1;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct client_pending p = { 0 };
		if (sscanf(line, "%15s %1599s %u %u %u %u %1599s", op, enc, &p.uidvalidity,
			   &p.uid, &p.add, &p.del, dest) != 7)
			continue;
		for (size_t i = 0; i < 3; i++)
			if (strcmp(op, op_names[i]) == 0)
				p.op = (enum client_op)i;
		decode_name(enc, p.folder, sizeof(p.folder));
		if (p.op == CLIENT_OP_MOVE)
			decode_name(dest, p.dest, sizeof(p.dest));
		*r = xrealloc(*r, (*n_r + 1) * sizeof(**r));
		(*r)[(*n_r)++] = p;
	}
	fclose(f);
	return 1;
}

int client_cache_journal_clear(struct client_cache *c)
{
	char path[4096];

	pathf(path, sizeof(path), "%s/journal", c->dir);
	if (unlink(path) < 0 && errno != ENOENT)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	return 1;
}

/* ---- the outbox ----------------------------------------------------------- */

int client_cache_outbox_add(struct client_cache *c, const char *from,
			    char *const *rcpts, size_t n, const char *msg, size_t len)
{
	char id[40], path[1300];
	struct buf env;

	pathf(id, sizeof(id), "%lld.", (long long)time(NULL));
	client_random_hex(id + strlen(id), 8);
	pathf(path, sizeof(path), "%s/outbox/%s.msg", c->dir, id);
	if (client_write_file(path, msg, len) < 0)
		return -1;
	buf_init(&env, 0);
	buf_printf(&env, "%s\n", from);
	for (size_t i = 0; i < n; i++)
		buf_printf(&env, "%s\n", rcpts[i]);
	pathf(path, sizeof(path), "%s/outbox/%s.env", c->dir, id);
	int ret = client_write_file(path, env.data, env.len);
	buf_deinit(&env);
	return ret;
}

int client_cache_outbox(struct client_cache *c, char ***r, size_t *n_r)
{
	char path[4096];
	DIR *d;
	struct dirent *e;

	*r = NULL;
	*n_r = 0;
	pathf(path, sizeof(path), "%s/outbox", c->dir);
	d = opendir(path);
	if (d == NULL)
		return 1;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".env") != 0)
			continue;
		char full[4096];
		pathf(full, sizeof(full), "%s/%.*s", path, (int)(len - 4), e->d_name);
		*r = xrealloc(*r, (*n_r + 1) * sizeof(**r));
		(*r)[(*n_r)++] = xstrdup(full);
	}
	closedir(d);
	if (*n_r > 1)
		qsort(*r, *n_r, sizeof(**r), strcmp_p);
	return 1;
}

int client_cache_outbox_read(const char *base, struct buf *from, char ***rcpts,
			     size_t *n_r, struct buf *msg)
{
	char path[4096];
	struct buf env;

	*rcpts = NULL;
	*n_r = 0;
	pathf(path, sizeof(path), "%s.env", base);
	buf_init(&env, 1 << 20);
	if (client_read_file(path, 1 << 20, &env) <= 0) {
		buf_deinit(&env);
		return client_fail(CLIENT_ERR_OTHER, "%s: unreadable", path);
	}
	char *line = env.data, *nl;
	bool first = true;
	while (line != NULL && (nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		if (first)
			buf_puts(from, line);
		else if (line[0] != '\0') {
			*rcpts = xrealloc(*rcpts, (*n_r + 1) * sizeof(**rcpts));
			(*rcpts)[(*n_r)++] = xstrdup(line);
		}
		first = false;
		line = nl + 1;
	}
	buf_deinit(&env);
	pathf(path, sizeof(path), "%s.msg", base);
	if (client_read_file(path, 512u << 20, msg) <= 0)
		return client_fail(CLIENT_ERR_OTHER, "%s: unreadable", path);
	return 1;
}

int client_cache_outbox_done(const char *base)
{
	char path[4096];

	pathf(path, sizeof(path), "%s.msg", base);
	unlink(path);
	pathf(path, sizeof(path), "%s.env", base);
	unlink(path);
	return 1;
}

/* ---- POP3 ------------------------------------------------------------------ */

bool client_cache_pop3_seen(struct client_cache *c, const char *uidl)
{
	char path[4096], line[512];
	FILE *f;
	bool seen = false;

	pathf(path, sizeof(path), "%s/pop3-uidl", c->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (!seen && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		seen = strcmp(line, uidl) == 0;
	}
	fclose(f);
	return seen;
}

int client_cache_pop3_mark(struct client_cache *c, const char *uidl)
{
	char path[4096];
	FILE *f;

	pathf(path, sizeof(path), "%s/pop3-uidl", c->dir);
	f = fopen(path, "a");
	if (f == NULL)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	fprintf(f, "%s\n", uidl);
	fclose(f);
	return 1;
}
