/*
 * cmd_mailio.c - `correio user import|export`: an account's mail in and
 * out, as Maildir++ trees (Dovecot's layout) or mbox files.
 *
 * The store does the writing and reading of the account's mail
 * (store_import_*, store_export_folder: through the Maildir, never an
 * index, so a running server is no obstacle); this file reads and writes
 * the outside formats:
 *
 *   Maildir++ tree   PATH/{cur,new,tmp} is INBOX, PATH/.A.B/ folder A/B
 *                    (names in modified UTF-7, as Dovecot writes them);
 *                    flags after ":2," (D F R S T, keywords a-z listed in
 *                    the folder's dovecot-keywords); dovecot-uidlist
 *                    ("3 V<uidvalidity> N<nextuid> ..." then
 *                    "<uid> [fields] :<file name>" lines, or the older
 *                    "<uid> <file name>") gives the UIDs to keep.  The
 *                    file's mtime is the internal date.
 *   mbox             one file; a directory of them is one folder per
 *                    file ("A.B" is A/B), as export --mbox writes.
 *
 * Run as root, the command works as the configured user for the data
 * directory, so that what it writes there belongs to the server, and
 * takes root back only to read the files imported or to write the
 * export (privilege_invoker), whoever owns them.
 */
#include "cli/cli.h"

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

#include "auth/accounts.h"
#include "delivery/delivery.h"
#include "lib-imap/imap_utf7.h"
#include "lib/buf.h"
#include "lib/encoding.h"
#include "lib/log.h"
#include "lib/privilege.h"
#include "lib/util.h"
#include "store/store.h"

#define MAILIO_MAX_MESSAGE (1024ull * 1024 * 1024)
#define MAILIO_PATH_MAX 4096

static const char import_usage[] =
	"usage: correio user import ADDRESS PATH\n"
	"       correio user export ADDRESS PATH [--mbox]\n"
	"\n"
	"import: PATH is a Maildir++ tree (INBOX and .Folder.Sub folders; flags,\n"
	"keywords and, from dovecot-uidlist, the UIDs are kept when the folder\n"
	"is new or empty), an mbox file (into INBOX), or a directory of mbox\n"
	"files (one folder per file).  It is safe while the server runs: the\n"
	"messages appear at the folder's next sync.\n"
	"export: PATH (new or empty) gets a Maildir++ tree with flags, keywords\n"
	"and dovecot-uidlist, or with --mbox one mbox file per folder.\n";

/* snprintf for paths: a path too long is cut, and then not found. */
static void __attribute__((format(printf, 3, 4)))
pathf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(out, size, fmt, ap) < 0)
		out[0] = '\0';
	va_end(ap);
}

/* ---- reading outside files (as the invoker) ---- */

/* The whole regular file at path into out (replaced), as the invoker
   (outside) or as the run-as user.  1, or -1 (errno). */
static int read_path(const char *path, struct buf *out, bool outside)
{
	struct stat st;
	char chunk[65536];
	ssize_t n;
	int fd;

	if (outside)
		privilege_invoker(true);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (outside)
		privilege_invoker(false);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	buf_reset(out);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 1;
}

static int read_outside(const char *path, struct buf *out)
{
	return read_path(path, out, true);
}

static int stat_outside(const char *path, struct stat *st)
{
	int ret;

	privilege_invoker(true);
	ret = lstat(path, st);
	privilege_invoker(false);
	return ret;
}

static DIR *opendir_outside(const char *path)
{
	DIR *d;

	privilege_invoker(true);
	d = opendir(path);
	privilege_invoker(false);
	return d;
}

static bool is_dir_outside(const char *path)
{
	struct stat st;

	return stat_outside(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- a string list ---- */

struct strv {
	char **v;
	unsigned n, cap;
};

static void strv_add(struct strv *s, const char *str)
{
	if (s->n == s->cap) {
		s->cap = s->cap < 16 ? 16 : s->cap * 2;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(str);
}

static void strv_free(struct strv *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- import: a Maildir folder ---- */

struct src_msg {
	char *file;		/* "cur/<name>" or "new/<name>" */
	size_t base_off, base_len;	/* the name up to ':' */
	uint32_t uid;		/* from dovecot-uidlist, 0 if none */
	uint8_t flags;
	uint32_t kw_letters;
	unsigned long long arrival;
};

struct src_folder {
	struct src_msg *v;
	unsigned n, cap;
	uint32_t uidvalidity, uidnext;
	char *keywords[26];
	struct buf uidlist;	/* the text of dovecot-uidlist */
};

static void src_add(struct src_folder *f, const char *sub, const char *name)
{
	const char *colon = strchr(name, ':');
	struct src_msg *m;

	if (f->n == f->cap) {
		f->cap = f->cap < 64 ? 64 : f->cap * 2;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	m = &f->v[f->n++];
	memset(m, 0, sizeof(*m));
	if (asprintf(&m->file, "%s/%s", sub, name) < 0)
		fatal("out of memory");
	m->base_off = strlen(sub) + 1;
	m->base_len = colon != NULL ? (size_t)(colon - name) : strlen(name);
	m->arrival = strtoull(name, NULL, 10);
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		for (const char *p = colon + 3; *p != '\0'; p++) {
			switch (*p) {
			case 'D': m->flags |= STORE_FLAG_DRAFT; break;
			case 'F': m->flags |= STORE_FLAG_FLAGGED; break;
			case 'R': m->flags |= STORE_FLAG_ANSWERED; break;
			case 'S': m->flags |= STORE_FLAG_SEEN; break;
			case 'T': m->flags |= STORE_FLAG_DELETED; break;
			default:
				if (*p >= 'a' && *p <= 'z')
					m->kw_letters |= 1u << (*p - 'a');
			}
		}
	}
}

static int src_scan(struct src_folder *f, const char *dir, const char *sub)
{
	char path[MAILIO_PATH_MAX];
	struct dirent *de;
	DIR *d;

	pathf(path, sizeof(path), "%s/%s", dir, sub);
	if ((d = opendir_outside(path)) == NULL)
		return errno == ENOENT ? 1 : -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && de->d_type != DT_DIR)
			src_add(f, sub, de->d_name);
	closedir(d);
	return 1;
}

static void keyword_line(void *ctx, unsigned index, const char *name, size_t len)
{
	struct src_folder *f = ctx;

	if (f->keywords[index] == NULL)
		f->keywords[index] = xstrndup(name, len);
}

static void src_keywords(struct src_folder *f, const char *dir)
{
	char path[MAILIO_PATH_MAX];
	struct buf text;

	pathf(path, sizeof(path), "%s/dovecot-keywords", dir);
	buf_init(&text, 0);
	if (read_outside(path, &text) > 0)
		dovecot_keywords_parse(text.data, text.len, keyword_line, f);
	buf_deinit(&text);
}

/* The records of dovecot-uidlist, sorted by name for look-ups. */
struct uid_rec {
	const char *name;	/* into the file's text */
	size_t len;
	uint32_t uid;
};

struct uid_table {
	struct uid_rec *v;
	size_t n, cap;
};

static void uidlist_record(void *ctx, uint32_t uid, const char *name, size_t len)
{
	struct uid_table *t = ctx;

	if (t->n == t->cap) {
		t->cap = t->cap < 64 ? 64 : t->cap * 2;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = (struct uid_rec){ name, len, uid };
}

static int uid_rec_cmp(const void *pa, const void *pb)
{
	const struct uid_rec *a = pa, *b = pb;
	int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);

	return c != 0 ? c : a->len < b->len ? -1 : a->len > b->len;
}

/* dovecot-uidlist: its header and each message's UID. */
static void src_uidlist(struct src_folder *f, const char *dir)
{
	char path[MAILIO_PATH_MAX];
	struct uid_table t = { 0 };

	pathf(path, sizeof(path), "%s/dovecot-uidlist", dir);
	buf_init(&f->uidlist, 0);
	if (read_outside(path, &f->uidlist) < 0 ||
	    dovecot_uidlist_parse(f->uidlist.data, f->uidlist.len, &f->uidvalidity,
				  &f->uidnext, uidlist_record, &t) <= 0) {
		f->uidvalidity = f->uidnext = 0;
		free(t.v);
		return;
	}
	/* Dovecot leaves records of expunged messages (and an N below them)
	   until it rewrites the file: no UID listed may be given again */
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].uid < UINT32_MAX && t.v[i].uid >= f->uidnext)
			f->uidnext = t.v[i].uid + 1;
	if (t.n > 1)
		qsort(t.v, t.n, sizeof(*t.v), uid_rec_cmp);
	for (unsigned i = 0; i < f->n; i++) {
		struct src_msg *m = &f->v[i];
		struct uid_rec key = { m->file + m->base_off, m->base_len, 0 }, *hit;
		hit = t.n > 0 ? bsearch(&key, t.v, t.n, sizeof(*t.v), uid_rec_cmp) : NULL;
		if (hit != NULL)
			m->uid = hit->uid;
	}
	free(t.v);
}

static int src_cmp(const void *pa, const void *pb)
{
	const struct src_msg *a = pa, *b = pb;
	uint64_t ua = a->uid != 0 ? a->uid : UINT64_MAX, ub = b->uid != 0 ? b->uid : UINT64_MAX;

	if (ua != ub)
		return ua < ub ? -1 : 1;
	if (a->arrival != b->arrival)
		return a->arrival < b->arrival ? -1 : 1;
	return strcmp(a->file + a->base_off, b->file + b->base_off);
}

static void src_free(struct src_folder *f)
{
	for (unsigned i = 0; i < f->n; i++)
		free(f->v[i].file);
	free(f->v);
	for (int i = 0; i < 26; i++)
		free(f->keywords[i]);
	buf_deinit(&f->uidlist);
}

struct import_totals {
	unsigned folders, messages;
	struct strv names;	/* folders imported into, to subscribe */
};

/* Import the Maildir at dir into folder name.  1 or -1 (said). */
static int import_maildir_folder(struct store_account *acct, const char *dir,
				 const char *name, struct import_totals *t)
{
	struct src_folder f;
	struct store_import *im;
	struct store_error err;
	struct buf text;
	int ret = 1;
	unsigned count = 0;

	memset(&f, 0, sizeof(f));
	if (src_scan(&f, dir, "cur") < 0 || src_scan(&f, dir, "new") < 0) {
		cli_error("user import", "%s: %s", dir, strerror(errno));
		src_free(&f);
		return -1;
	}
	src_keywords(&f, dir);
	src_uidlist(&f, dir);
	if (f.n > 1)
		qsort(f.v, f.n, sizeof(*f.v), src_cmp);
	if (store_import_begin(acct, name, f.uidvalidity, f.uidnext, &im, &err) < 0) {
		cli_error("user import", "%s: %s", name, err.text);
		src_free(&f);
		return -1;
	}
	buf_init(&text, MAILIO_MAX_MESSAGE);
	for (unsigned i = 0; ret > 0 && i < f.n; i++) {
		const struct src_msg *m = &f.v[i];
		const char *kw[26];
		unsigned n_kw = 0;
		char path[MAILIO_PATH_MAX];
		struct stat st;

		for (int k = 0; k < 26; k++)
			if ((m->kw_letters & (1u << k)) && f.keywords[k] != NULL)
				kw[n_kw++] = f.keywords[k];
		pathf(path, sizeof(path), "%s/%s", dir, m->file);
		if (stat_outside(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (read_outside(path, &text) < 0) {
			cli_error("user import", "%s: %s", path, strerror(errno));
			ret = -1;
			break;
		}
		ret = store_import_add(im, text.data, text.len, m->uid, m->flags, kw, n_kw,
				       st.st_mtime, NULL, &err);
		if (ret < 0)
			cli_error("user import", "%s: %s", name, err.text);
		else
			count++;
	}
	buf_deinit(&text);
	if (ret > 0 && store_import_keeps_uids(im))
		printf("%s: %u message%s, UIDs kept%s\n", name, count, count == 1 ? "" : "s",
		       f.uidvalidity != 0 ? " (UIDVALIDITY from dovecot-uidlist)" : "");
	else if (ret > 0)
		printf("%s: %u message%s added with new UIDs (the folder had mail, or is an "
		       "mbox INBOX)\n", name, count, count == 1 ? "" : "s");
	if (ret > 0 && store_import_finish(&im, &err) < 0) {
		cli_error("user import", "%s: %s", name, err.text);
		ret = -1;
	}
	store_import_abort(&im);
	t->folders++;
	t->messages += count;
	strv_add(&t->names, name);
	src_free(&f);
	return ret;
}

/* ".A.B" (modified UTF-7) as the folder name "A/B". */
static int maildir_folder_name(const char *dirname, struct buf *out)
{
	struct buf raw;
	int ret;

	buf_init(&raw, 0);
	for (const char *p = dirname + 1; *p != '\0'; p++)
		buf_putc(&raw, *p == '.' ? '/' : *p);
	buf_reset(out);
	ret = imap_utf7_decode(raw.data, raw.len, out);
	if (ret < 0) {
		buf_reset(out);
		buf_append(out, raw.data, raw.len);
	}
	buf_deinit(&raw);
	return 1;
}

static int import_maildir_tree(struct store_account *acct, const char *path,
			       struct import_totals *t)
{
	struct strv dirs = { 0 };
	struct dirent *de;
	struct buf name;
	int ret;
	DIR *d;

	if ((ret = import_maildir_folder(acct, path, "INBOX", t)) < 0)
		return -1;
	if ((d = opendir_outside(path)) == NULL) {
		cli_error("user import", "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[MAILIO_PATH_MAX];
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		pathf(sub, sizeof(sub), "%s/%s/cur", path, de->d_name);
		if (is_dir_outside(sub))
			strv_add(&dirs, de->d_name);
	}
	closedir(d);
	if (dirs.n > 1)
		qsort(dirs.v, dirs.n, sizeof(*dirs.v), strv_cmp);	/* parents first */
	buf_init(&name, 0);
	for (unsigned i = 0; ret > 0 && i < dirs.n; i++) {
		char sub[MAILIO_PATH_MAX];
		pathf(sub, sizeof(sub), "%s/%s", path, dirs.v[i]);
		maildir_folder_name(dirs.v[i], &name);
		ret = import_maildir_folder(acct, sub, buf_cstr(&name), t);
	}
	buf_deinit(&name);
	strv_free(&dirs);
	return ret;
}

/* ---- import: mbox ---- */

static int import_mbox_file(struct store_account *acct, const char *path, const char *name,
			    struct import_totals *t)
{
	struct store_import *im;
	struct store_error err;
	struct buf data;
	unsigned count = 0;
	int ret;

	buf_init(&data, 0);
	if (read_outside(path, &data) < 0) {
		cli_error("user import", "%s: %s", path, strerror(errno));
		buf_deinit(&data);
		return -1;
	}
	if (store_import_begin(acct, name, 0, 0, &im, &err) < 0) {
		cli_error("user import", "%s: %s", name, err.text);
		buf_deinit(&data);
		return -1;
	}
	ret = store_import_mbox(im, data.data, data.len, &count, &err);
	if (ret > 0)
		ret = store_import_finish(&im, &err);
	store_import_abort(&im);
	if (ret < 0)
		cli_error("user import", "%s: %s", name, err.text);
	else
		printf("%s: %u message%s from %s\n", name, count, count == 1 ? "" : "s", path);
	t->folders++;
	t->messages += count;
	strv_add(&t->names, name);
	buf_deinit(&data);
	return ret;
}

/* A directory of mbox files, as export --mbox writes it. */
static int import_mbox_dir(struct store_account *acct, const char *path,
			   struct import_totals *t)
{
	struct strv files = { 0 };
	struct dirent *de;
	int ret = 1;
	DIR *d;

	if ((d = opendir_outside(path)) == NULL) {
		cli_error("user import", "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char file[MAILIO_PATH_MAX];
		struct stat st;
		pathf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (de->d_name[0] != '.' && stat_outside(file, &st) == 0 && S_ISREG(st.st_mode))
			strv_add(&files, de->d_name);
	}
	closedir(d);
	if (files.n > 1)
		qsort(files.v, files.n, sizeof(*files.v), strv_cmp);
	for (unsigned i = 0; ret > 0 && i < files.n; i++) {
		char file[MAILIO_PATH_MAX], name[1024];
		size_t len = str_copy(name, files.v[i], sizeof(name));
		if (len > 5 && strcmp(name + len - 5, ".mbox") == 0)
			name[len - 5] = '\0';
		for (char *p = name; *p != '\0'; p++)
			if (*p == '.')
				*p = '/';
		pathf(file, sizeof(file), "%s/%s", path, files.v[i]);
		ret = import_mbox_file(acct, file, name, t);
	}
	strv_free(&files);
	return ret;
}

/* ---- the account ---- */

/* Check the account, open its mail in the store.  1, or -1 (said). */
static int mailio_open(const char *what, struct config *cfg, const char *address,
		       struct store **store_r, struct store_account **acct_r, bool *mbox_r)
{
	struct store_error err;
	struct accounts *a;
	struct account acct;
	const char *error;
	int ret;

	if (privilege_drop_effective(cfg, &error) < 0) {
		cli_error(what, "%s", error);
		return -1;
	}
	if (cli_open_accounts(cfg, &a) < 0)
		return -1;
	ret = accounts_user_get(a, address, &acct);
	accounts_free(&a);
	if (ret <= 0) {
		cli_error(what, ret == 0 ? "no such user %s" : "cannot read the account store (%s)",
			  address);
		return -1;
	}
	*store_r = store_new(cfg->data_dir, cfg->hostname);
	if (store_account_open(*store_r, acct.address, acct_r, &err) < 0) {
		cli_error(what, "%s: %s", acct.address, err.text);
		store_free(store_r);
		return -1;
	}
	*mbox_r = delivery_uses_mbox(cfg, acct.mailbox_format);
	store_account_set_mbox(*acct_r, *mbox_r);
	return 1;
}

static void mailio_close(struct store **s, struct store_account **acct)
{
	store_account_unref(acct);
	store_free(s);
}

/*
 * Clients that show only subscribed folders must see what was imported:
 * the account gets its default folders first if it never had them (they
 * come with the subscriptions file, which must not exist without them),
 * then every folder imported into is subscribed.
 */
static int subscribe_all(struct store_account *acct, const struct strv *names)
{
	struct store_error err;

	if (store_account_default_folders(acct, &err) < 0) {
		cli_error("user import", "default folders: %s", err.text);
		return -1;
	}
	for (unsigned i = 0; i < names->n; i++) {
		if (store_folder_subscribe(acct, names->v[i], true, &err) < 0) {
			cli_error("user import", "subscribe %s: %s", names->v[i], err.text);
			return -1;
		}
	}
	return 1;
}

/* A running server takes the mail in at its next sync of each folder;
   sessions with the INBOX open (IDLE) are told now. */
static void tell_server(const struct config *cfg, const char *address)
{
	char sock[MAILIO_PATH_MAX], line[400];
	struct stat st;

	pathf(sock, sizeof(sock), "%s/control.sock", cfg->data_dir);
	if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode) || strlen(address) > 320)
		return;		/* no server running */
	snprintf(line, sizeof(line), "NEWMAIL %s\n", address);
	(void)cli_control_request(cfg, "user import", line);
}

int cmd_user_import(int argc, char **argv, struct config *cfg)
{
	struct import_totals t = { 0 };
	struct store_account *acct;
	bool is_mbox;
	struct store *s;
	struct stat st;
	char cur[MAILIO_PATH_MAX];
	const char *path;
	int ret;

	if (cli_wants_help(argc, argv)) {
		fputs(import_usage, stdout);
		return 0;
	}
	if (cli_operands(argc, argv, "user import", import_usage, 2, 2) < 0)
		return 2;
	path = argv[2];
	if (mailio_open("user import", cfg, argv[1], &s, &acct, &is_mbox) < 0)
		return 1;
	pathf(cur, sizeof(cur), "%s/cur", path);
	if (stat_outside(path, &st) < 0) {
		cli_error("user import", "%s: %s", path, strerror(errno));
		ret = -1;
	} else if (S_ISREG(st.st_mode))
		ret = import_mbox_file(acct, path, "INBOX", &t);
	else if (S_ISDIR(st.st_mode) && is_dir_outside(cur))
		ret = import_maildir_tree(acct, path, &t);
	else if (S_ISDIR(st.st_mode))
		ret = import_mbox_dir(acct, path, &t);
	else {
		cli_error("user import", "%s: neither a Maildir, an mbox file nor a directory",
			  path);
		ret = -1;
	}
	if (ret > 0)
		ret = subscribe_all(acct, &t.names);
	strv_free(&t.names);
	if (ret > 0)
		printf("imported %u message%s into %u folder%s of %s\n", t.messages,
		       t.messages == 1 ? "" : "s", t.folders, t.folders == 1 ? "" : "s",
		       argv[1]);
	if (ret > 0 && t.messages > 0)
		tell_server(cfg, argv[1]);
	mailio_close(&s, &acct);
	return ret > 0 ? 0 : 1;
}

/* ---- export ---- */

struct export_ctx {
	const char *out_dir;	/* the folder's directory (Maildir) */
	bool mbox;
	int mbox_fd;
	struct buf uidlist;
	struct buf text;
	unsigned count;
	bool failed;
	uint32_t uidvalidity, uidnext;
	char *keywords[STORE_MAX_KEYWORDS];
	unsigned n_keywords;
};

/* Write data to a new file at path (as the invoker), mtime date. */
static int write_outside(const char *path, const void *data, size_t len, time_t date)
{
	struct timespec times[2] = { { date, 0 }, { date, 0 } };
	int fd, ret = 1;

	privilege_invoker(true);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, data, len) < 0 || (date != 0 && futimens(fd, times) < 0))
		ret = -1;
	if (fd >= 0 && close(fd) < 0)
		ret = -1;
	privilege_invoker(false);
	return ret;
}

static int mkdir_outside(const char *path)
{
	int ret;

	privilege_invoker(true);
	ret = mkdir(path, 0700);
	privilege_invoker(false);
	return ret < 0 && errno != EEXIST ? -1 : 0;
}

static int make_maildir_outside(const char *dir)
{
	static const char *subs[] = { "cur", "new", "tmp" };
	char path[MAILIO_PATH_MAX];

	if (mkdir_outside(dir) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		pathf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (mkdir_outside(path) < 0)
			return -1;
	}
	return 0;
}

static const char flag_letters[] = "DFRST";
static const uint8_t flag_bits[] = { STORE_FLAG_DRAFT, STORE_FLAG_FLAGGED,
				     STORE_FLAG_ANSWERED, STORE_FLAG_SEEN,
				     STORE_FLAG_DELETED };

/* The message file's base name: after the last '/', up to ':'. */
static void base_of(const char *path, struct buf *out)
{
	const char *name = strrchr(path, '/') + 1;
	const char *colon = strchr(name, ':');

	buf_append(out, name, colon != NULL ? (size_t)(colon - name) : strlen(name));
}

static int export_maildir_msg(struct export_ctx *x, const struct store_export_msg *m)
{
	char path[MAILIO_PATH_MAX];
	struct buf name;
	int ret;

	buf_init(&name, 0);
	base_of(m->path, &name);
	if (m->uid != 0 && x->uidvalidity != 0)
		buf_printf(&x->uidlist, "%u :%s\n", m->uid, buf_cstr(&name));
	buf_puts(&name, ":2,");
	for (int i = 0; i < 5; i++)
		if (m->flags & flag_bits[i])
			buf_putc(&name, flag_letters[i]);
	for (unsigned i = 0; i < STORE_MAX_KEYWORDS; i++)
		if (m->keywords & (1u << i))
			buf_putc(&name, (char)('a' + i));
	pathf(path, sizeof(path), "%s/cur/%s", x->out_dir, buf_cstr(&name));
	ret = write_outside(path, x->text.data, x->text.len, m->date);
	if (ret < 0)
		cli_error("user export", "%s: %s", path, strerror(errno));
	buf_deinit(&name);
	return ret;
}

/* From_ line, the header with Status:/X-Status:/X-Keywords:, the body
   with mboxrd quoting, an empty line. */
static int export_mbox_msg(struct export_ctx *x, const struct store_export_msg *m)
{
	const char *p = buf_cstr(&x->text), *end = p + x->text.len;
	struct buf out;
	char date[64];
	struct tm tm;
	bool in_header = true;
	int ret;

	buf_init(&out, 0);
	gmtime_r(&m->date, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(&out, "From MAILER-DAEMON %s\n", date);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (in_header && len == 0) {
			buf_puts(&out, "Status: ");
			if (m->flags & STORE_FLAG_SEEN)
				buf_putc(&out, 'R');
			buf_puts(&out, "O\nX-Status: ");
			if (m->flags & STORE_FLAG_ANSWERED)
				buf_putc(&out, 'A');
			if (m->flags & STORE_FLAG_FLAGGED)
				buf_putc(&out, 'F');
			if (m->flags & STORE_FLAG_DRAFT)
				buf_putc(&out, 'T');
			if (m->flags & STORE_FLAG_DELETED)
				buf_putc(&out, 'D');
			buf_putc(&out, '\n');
			if (m->keywords != 0) {
				buf_puts(&out, "X-Keywords:");
				for (unsigned i = 0; i < x->n_keywords; i++)
					if ((m->keywords & (1u << i)) && x->keywords[i])
						buf_printf(&out, " %s", x->keywords[i]);
				buf_putc(&out, '\n');
			}
			in_header = false;
		}
		/* mboxrd: ">*From " gets one more '>' */
		const char *q = p;
		while (q < p + len && *q == '>')
			q++;
		if ((size_t)(p + len - q) >= 5 && memcmp(q, "From ", 5) == 0)
			buf_putc(&out, '>');
		buf_append(&out, p, len);
		buf_putc(&out, '\n');
		p = nl != NULL ? nl + 1 : end;
	}
	buf_putc(&out, '\n');
	ret = write_all(x->mbox_fd, out.data, out.len);
	if (ret < 0)
		cli_error("user export", "write: %s", strerror(errno));
	buf_deinit(&out);
	return ret;
}

static int export_one(void *ctx, const struct store_export_folder *f,
		      const struct store_export_msg *m)
{
	struct export_ctx *x = ctx;

	if (m == NULL) {
		x->uidvalidity = f->uidvalidity;
		x->uidnext = f->uidnext;
		x->n_keywords = f->n_keywords;
		for (unsigned i = 0; i < f->n_keywords; i++)
			if (f->keywords[i] != NULL)
				x->keywords[i] = xstrdup(f->keywords[i]);
		return 1;
	}
	if (read_path(m->path, &x->text, false) < 0)
		return 1;	/* expunged meanwhile */
	if ((x->mbox ? export_mbox_msg(x, m) : export_maildir_msg(x, m)) < 0) {
		x->failed = true;
		return -1;
	}
	x->count++;
	return 1;
}

static void collect_folder(void *ctx, const struct store_folder_info *f)
{
	struct strv *names = ctx;

	if ((f->attrs & (STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT)) == 0)
		strv_add(names, f->name);
}

/* "A/B" as the Maildir++ directory ".A.B" (modified UTF-7) under path. */
static void maildir_folder_dir(const char *path, const char *name, char *out, size_t size)
{
	struct buf enc;

	if (strcmp(name, "INBOX") == 0) {
		str_copy(out, path, size);
		return;
	}
	buf_init(&enc, 0);
	if (imap_utf7_encode(name, strlen(name), &enc) < 0) {
		buf_reset(&enc);
		buf_puts(&enc, name);
	}
	for (size_t i = 0; i < enc.len; i++)
		if (enc.data[i] == '/')
			enc.data[i] = '.';
	pathf(out, size, "%s/.%s", path, buf_cstr(&enc));
	buf_deinit(&enc);
}

static int export_folder(struct store_account *acct, const char *path, const char *name,
			 bool mbox, unsigned *total)
{
	char dir[MAILIO_PATH_MAX], file[MAILIO_PATH_MAX];
	struct export_ctx x = { .mbox = mbox, .mbox_fd = -1 };
	struct store_error err;
	int ret;

	buf_init(&x.uidlist, 0);
	buf_init(&x.text, MAILIO_MAX_MESSAGE);
	if (mbox) {
		char fname[1024];
		str_copy(fname, name, sizeof(fname));
		for (char *p = fname; *p != '\0'; p++)
			if (*p == '/')
				*p = '.';
		pathf(file, sizeof(file), "%s/%s", path, fname);
		privilege_invoker(true);
		x.mbox_fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		privilege_invoker(false);
		if (x.mbox_fd < 0) {
			cli_error("user export", "%s: %s", file, strerror(errno));
			ret = -1;
			goto out;
		}
	} else {
		maildir_folder_dir(path, name, dir, sizeof(dir));
		x.out_dir = dir;
		if (make_maildir_outside(dir) < 0) {
			cli_error("user export", "%s: %s", dir, strerror(errno));
			ret = -1;
			goto out;
		}
		if (strcmp(name, "INBOX") != 0) {
			pathf(file, sizeof(file), "%s/maildirfolder", dir);
			(void)write_outside(file, "", 0, 0);
		}
	}
	ret = store_export_folder(acct, name, export_one, &x, &err);
	if (ret < 0 && !x.failed)
		cli_error("user export", "%s: %s", name, err.text);
	if (ret > 0 && !mbox) {
		struct buf kw;
		buf_init(&kw, 0);
		for (unsigned i = 0; i < x.n_keywords; i++)
			if (x.keywords[i] != NULL)
				buf_printf(&kw, "%u %s\n", i, x.keywords[i]);
		pathf(file, sizeof(file), "%s/dovecot-keywords", dir);
		if (kw.len > 0 && write_outside(file, kw.data, kw.len, 0) < 0)
			ret = -1;
		buf_deinit(&kw);
		if (ret > 0 && x.uidvalidity != 0) {
			struct buf head;
			unsigned char guid[16];
			buf_init(&head, 0);
			if (getentropy(guid, sizeof(guid)) < 0)
				memset(guid, 0, sizeof(guid));
			buf_printf(&head, "3 V%u N%u G", x.uidvalidity, x.uidnext);
			hex_encode_buf(guid, sizeof(guid), &head);
			buf_putc(&head, '\n');
			buf_append(&head, x.uidlist.data, x.uidlist.len);
			pathf(file, sizeof(file), "%s/dovecot-uidlist", dir);
			if (write_outside(file, head.data, head.len, 0) < 0)
				ret = -1;
			buf_deinit(&head);
		}
		if (ret < 0)
			cli_error("user export", "%s: %s", dir, strerror(errno));
	}
	if (ret > 0)
		printf("%s: %u message%s\n", name, x.count, x.count == 1 ? "" : "s");
	*total += x.count;
out:
	if (x.mbox_fd >= 0 && close(x.mbox_fd) < 0 && ret > 0) {
		cli_error("user export", "%s: %s", file, strerror(errno));
		ret = -1;
	}
	buf_deinit(&x.uidlist);
	buf_deinit(&x.text);
	for (unsigned i = 0; i < x.n_keywords; i++)
		free(x.keywords[i]);
	return ret;
}

int cmd_user_export(int argc, char **argv, struct config *cfg)
{
	struct strv names = { 0 };
	struct store_account *acct;
	struct store_error err;
	struct store *s;
	struct dirent *de;
	unsigned total = 0, failed = 0;
	bool mbox = false, is_mbox;
	const char *path;
	int n = 0, ret = 1;
	DIR *d;

	if (cli_wants_help(argc, argv)) {
		fputs(import_usage, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mbox") == 0)
			mbox = true;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			cli_error("user export", "unknown option: %s", argv[i]);
			fputs(import_usage, stderr);
			return 2;
		} else
			argv[++n] = argv[i];
	}
	if (n != 2) {
		cli_error("user export", "needs ADDRESS and PATH");
		fputs(import_usage, stderr);
		return 2;
	}
	path = argv[2];
	if (mailio_open("user export", cfg, argv[1], &s, &acct, &is_mbox) < 0)
		return 1;
	if (mkdir_outside(path) < 0 || (d = opendir_outside(path)) == NULL) {
		cli_error("user export", "%s: %s", path, strerror(errno));
		ret = -1;
	} else {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				ret = 0;
		closedir(d);
		if (ret == 0) {
			cli_error("user export", "%s is not empty", path);
			ret = -1;
		}
	}
	if (ret > 0 && store_folder_list(acct, collect_folder, &names, &err) < 0) {
		cli_error("user export", "%s", err.text);
		ret = -1;
	}
	for (unsigned i = 0; ret > 0 && i < names.n; i++) {
		if (export_folder(acct, path, names.v[i], mbox, &total) > 0)
			continue;
		failed++;	/* said; the other folders are still worth having */
		if (strcmp(names.v[i], "INBOX") == 0 && is_mbox) {
			char file[MAILIO_PATH_MAX];
			delivery_mailbox_path(cfg, argv[1], true, file, sizeof(file));
			cli_error("user export", "INBOX left out: it is the mbox file %s, "
				  "copy it as it is", file);
		}
	}
	if (ret > 0)
		printf("exported %u message%s from %u folder%s of %s to %s\n", total,
		       total == 1 ? "" : "s", names.n - failed, names.n - failed == 1 ? "" : "s",
		       argv[1], path);
	if (failed > 0)
		ret = -1;
	strv_free(&names);
	mailio_close(&s, &acct);
	return ret > 0 ? 0 : 1;
}

/* ---- the mail of a deleted account ---- */

int cli_user_mail_gone(const struct config *cfg, const struct account *acct,
		       bool remove_mail)
{
	char maildir[MAILIO_PATH_MAX], mbox[MAILIO_PATH_MAX];
	bool has_maildir, has_mbox;
	struct store_error err;
	struct store *s;
	struct stat st;
	int ret = 1;

	delivery_mailbox_path(cfg, acct->address, false, maildir, sizeof(maildir));
	delivery_mailbox_path(cfg, acct->address, true, mbox, sizeof(mbox));
	has_maildir = lstat(maildir, &st) == 0;
	has_mbox = lstat(mbox, &st) == 0;
	if (!has_maildir && !has_mbox) {
		printf("user %s deleted; it had no mail on disk\n", acct->address);
		return 1;
	}
	if (!remove_mail) {
		printf("user %s deleted; its mail is kept in %s%s%s "
		       "(delete it with --remove-mail, or by hand)\n", acct->address,
		       has_maildir ? maildir : "", has_maildir && has_mbox ? " and " : "",
		       has_mbox ? mbox : "");
		return 1;
	}
	s = store_new(cfg->data_dir, cfg->hostname);
	if (store_account_remove_mail(s, acct->address, &err) < 0) {
		cli_error("user del", "user %s deleted, but its mail could not be removed: %s",
			  acct->address, err.text);
		ret = -1;
	} else
		printf("user %s deleted with its mail (%s%s%s removed)\n", acct->address,
		       has_maildir ? maildir : "", has_maildir && has_mbox ? " and " : "",
		       has_mbox ? mbox : "");
	store_free(&s);
	return ret;
}
