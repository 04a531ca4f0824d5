/*
 * store_keywords.c - a folder's IMAP keywords and their Maildir letters.
 *
 * The file dovecot-keywords in the folder, as Dovecot writes it, lists
 * "<n> <keyword>" lines: keyword n is the flag letter 'a' + n in the
 * file names (so at most 26 per folder).  Keywords are compared without
 * regard to case and never removed; the file is rewritten (tmp + rename)
 * when one is added.
 *
 * Others add keywords too: local delivery (Sieve imap4flags, from its own
 * thread) and `correio user import` (another process).  Whoever adds one
 * holds an flock(2) on the folder's directory, reads the file again and
 * takes in the names it does not know before choosing a letter, so that
 * no writer drops another's name.  A sync reads the file again when it
 * changed (store_keywords_refresh), so that a session sees the keywords
 * delivered meanwhile.
 */
#include "store/store_private.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define KEYWORD_MAX 128

static void keywords_path(const struct mbox *mb, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", mb->dir, STORE_KEYWORDS_FILE);
}

static void parse_line(struct mbox *mb, const char *line, size_t len)
{
	char text[KEYWORD_MAX + 8];
	unsigned long n;
	char *end;

	if (len == 0 || len >= sizeof(text))
		return;
	memcpy(text, line, len);
	text[len] = '\0';
	n = strtoul(text, &end, 10);
	if (end == text || *end != ' ' || end[1] == '\0' || n >= STORE_MAX_KEYWORDS ||
	    mb->keywords[n] != NULL)
		return;
	mb->keywords[n] = xstrdup(end + 1);
	if (n + 1 > mb->n_keywords)
		mb->n_keywords = (unsigned)n + 1;
}

int store_keywords_load(struct mbox *mb)
{
	char path[STORE_PATH_MAX];
	struct buf text;
	struct stat st;
	const char *p, *nl;
	int ret;

	keywords_path(mb, path, sizeof(path));
	mb->kw_known = stat(path, &st) == 0;
	if (mb->kw_known) {
		mb->kw_ino = st.st_ino;
		mb->kw_size = st.st_size;
		mb->kw_mtime = st.st_mtim;
	}
	buf_init(&text, 64 * 1024);
	ret = store_read_file(path, &text);
	for (p = buf_cstr(&text); ret > 0 && *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		parse_line(mb, p, (size_t)(nl - p) + (*nl == '\n' ? 0 : 1));
	}
	buf_deinit(&text);
	if (ret < 0)
		log_err("store: read %s: %m", path);
	return ret < 0 ? -1 : 1;
}

static unsigned known_count(const struct mbox *mb)
{
	unsigned n = 0;

	for (unsigned i = 0; i < mb->n_keywords; i++)
		n += mb->keywords[i] != NULL;
	return n;
}

int store_keywords_refresh(struct mbox *mb)
{
	char path[STORE_PATH_MAX];
	struct stat st;
	unsigned before = known_count(mb);

	keywords_path(mb, path, sizeof(path));
	if (stat(path, &st) < 0)
		return 0;
	if (mb->kw_known && st.st_ino == mb->kw_ino && st.st_size == mb->kw_size &&
	    st.st_mtim.tv_sec == mb->kw_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == mb->kw_mtime.tv_nsec)
		return 0;
	if (store_keywords_load(mb) < 0)
		return -1;
	if (known_count(mb) == before)
		return 0;
	mb->chg_keywords = true;
	return 1;
}

void store_keywords_free(struct mbox *mb)
{
	for (unsigned i = 0; i < STORE_MAX_KEYWORDS; i++) {
		free(mb->keywords[i]);
		mb->keywords[i] = NULL;
	}
	mb->n_keywords = 0;
}

static int keywords_save(struct mbox *mb)
{
	char path[STORE_PATH_MAX];
	struct buf text;
	int ret;

	buf_init(&text, 0);
	for (unsigned i = 0; i < mb->n_keywords; i++)
		if (mb->keywords[i] != NULL)
			buf_printf(&text, "%u %s\n", i, mb->keywords[i]);
	keywords_path(mb, path, sizeof(path));
	ret = store_write_file(path, text.data, text.len, false);
	if (ret < 0)
		log_err("store: write %s: %m", path);
	buf_deinit(&text);
	return ret;
}

/* An IMAP flag-keyword: atom characters, not starting with '\'. */
static bool keyword_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > KEYWORD_MAX || name[0] == '\\')
		return false;
	for (; *name != '\0'; name++)
		if (*name <= 0x20 || *name >= 0x7f || strchr("(){%*\"\\]", *name) != NULL)
			return false;
	return true;
}

static int keyword_add(struct mbox *mb, const char *name, unsigned *index_r,
		       struct store_error *error_r)
{
	unsigned i = 0;

	while (i < STORE_MAX_KEYWORDS && mb->keywords[i] != NULL)
		i++;
	if (i == STORE_MAX_KEYWORDS) {
		store_error_set(error_r, STORE_ERROR_LIMIT, "Too many keywords in this mailbox");
		return -1;
	}
	mb->keywords[i] = xstrdup(name);
	if (i + 1 > mb->n_keywords)
		mb->n_keywords = i + 1;
	if (keywords_save(mb) < 0) {
		free(mb->keywords[i]);
		mb->keywords[i] = NULL;
		store_error_set(error_r, STORE_ERROR_TEMP, "Internal error occurred, try again later");
		return -1;
	}
	mb->chg_keywords = true;
	*index_r = i;
	return 1;
}

static int keyword_lookup(const struct mbox *mb, const char *name, unsigned *index_r)
{
	for (unsigned i = 0; i < mb->n_keywords; i++) {
		if (mb->keywords[i] != NULL && str_ieq(mb->keywords[i], name)) {
			*index_r = i;
			return 1;
		}
	}
	return 0;
}

int store_keywords_find(struct mbox *mb, const char *name, bool create,
			unsigned *index_r, struct store_error *error_r)
{
	unsigned before;
	int fd, ret;

	if (keyword_lookup(mb, name, index_r) > 0)
		return 1;
	if (!keyword_valid(name)) {
		store_error_set(error_r, STORE_ERROR_BAD_PARAM, "Invalid keyword");
		return -1;
	}
	if (!create)
		return 0;
	/* under the folder's lock, with what others added meanwhile */
	fd = open(mb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		log_err("store: lock %s: %m", mb->dir);
		if (fd >= 0)
			close(fd);
		store_error_set(error_r, STORE_ERROR_TEMP, "Internal error occurred, try again later");
		return -1;
	}
	before = known_count(mb);
	if (store_keywords_load(mb) < 0) {
		close(fd);
		store_error_set(error_r, STORE_ERROR_TEMP, "Internal error occurred, try again later");
		return -1;
	}
	if (known_count(mb) != before)
		mb->chg_keywords = true;
	ret = keyword_lookup(mb, name, index_r) > 0 ? 1 : keyword_add(mb, name, index_r, error_r);
	if (ret > 0)
		store_keywords_load(mb);	/* the file as written: not changed by others */
	close(fd);
	return ret;
}

int store_keyword_letters(const char *dir, const char *const *names, unsigned n,
			  char *out, size_t size)
{
	struct mbox kw;
	struct store_error err;
	size_t len = 0;
	int ret = 1;

	memset(&kw, 0, sizeof(kw));
	kw.dir = xstrdup(dir);
	if (store_keywords_load(&kw) < 0)
		ret = -1;
	for (unsigned i = 0; i < n && ret > 0; i++) {
		unsigned k;
		int found = store_keywords_find(&kw, names[i], true, &k, &err);
		if (found < 0 && err.code == STORE_ERROR_TEMP) {
			ret = -1;
		} else if (found < 0) {
			log_warn("store: %s: keyword \"%s\" not kept: %s", dir, names[i], err.text);
		} else if (len + 1 < size && memchr(out, 'a' + (int)k, len) == NULL) {
			out[len++] = (char)('a' + k);
		}
	}
	if (size > 0)
		out[len] = '\0';
	store_keywords_free(&kw);
	free(kw.dir);
	return ret;
}
