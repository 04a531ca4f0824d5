/*
 * maildir.c - Maildir creation and delivery by link or copy.
 */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/store.h"

int maildir_create(const char *dir)
{
	static const char *subs[] = { "tmp", "new", "cur" };
	char path[4200];

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (mkdir_p(path, 0700) < 0)
			return -1;
	}
	return 1;
}

static bool in_cur(const char *dir, const char *name)
{
	char path[4200];
	size_t n = strlen(name);
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cur", dir);
	if ((d = opendir(path)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		/* the mail store renames "<name>" to "<name>,W=..,U=..:2,<flags>" */
		found = strncmp(de->d_name, name, n) == 0 &&
			(de->d_name[n] == ':' || de->d_name[n] == ',' ||
			 de->d_name[n] == '\0');
	closedir(d);
	return found;
}

bool maildir_has(const char *dir, const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	return lstat(path, &st) == 0 || in_cur(dir, name);
}

static int copy_file(const char *src, const char *dst)
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
	while (ret > 0 && (n = read(in, block, sizeof(block))) != 0)
		ret = n < 0 ? -1 : write_all(out, block, (size_t)n);
	close(in);
	if (close(out) < 0)
		ret = -1;
	return ret;
}

int maildir_deliver(const char *dir, const char *name, const char *src,
		    bool check_cur)
{
	return maildir_deliver_flags(dir, name, "", src, check_cur);
}

int maildir_deliver_flags(const char *dir, const char *name, const char *letters,
			  const char *src, bool check_cur)
{
	char dst[4200], tmp[4200];

	if (check_cur && in_cur(dir, name))
		return 0;
	if (letters[0] == '\0')
		snprintf(dst, sizeof(dst), "%s/new/%s", dir, name);
	else
		snprintf(dst, sizeof(dst), "%s/cur/%s:2,%s", dir, name, letters);
	if (link(src, dst) == 0)
		return 1;
	if (errno == EEXIST)
		return 0;
	if (errno != EXDEV && errno != EMLINK && errno != EPERM)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	if (copy_file(src, tmp) < 0)
		return -1;
	if (link(tmp, dst) < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return errno == EEXIST ? 0 : -1;
	}
	unlink(tmp);
	return 1;
}

static int letter_cmp(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

int maildir_flag_letters(const char *dir, const char *flags, char *out, size_t size)
{
	static const struct {
		char letter;
		const char *flag;
	} map[] = {
		{ 'D', "\\Draft" }, { 'F', "\\Flagged" }, { 'R', "\\Answered" },
		{ 'S', "\\Seen" }, { 'T', "\\Deleted" },
	};
	char letters[8 + STORE_MAX_KEYWORDS + 1], words[4096];
	const char *keywords[64];
	unsigned n_keywords = 0;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t fl = strlen(map[i].flag);
		for (const char *p = flags; *p != '\0';) {
			size_t l = strcspn(p, " ");
			if (l == fl && strncasecmp(p, map[i].flag, l) == 0) {
				letters[n++] = map[i].letter;
				break;
			}
			p += l;
			p += strspn(p, " ");
		}
	}
	/* keywords: the other words, not starting with '\\' */
	snprintf(words, sizeof(words), "%s", flags);
	for (char *p = words; *p != '\0' && n_keywords < 64;) {
		size_t l = strcspn(p, " ");
		char *word = p;
		p += l;
		if (*p != '\0')
			*p++ = '\0';
		p += strspn(p, " ");
		if (l > 0 && word[0] != '\\')
			keywords[n_keywords++] = word;
	}
	letters[n] = '\0';
	if (n_keywords > 0 &&
	    store_keyword_letters(dir, keywords, n_keywords, letters + n, sizeof(letters) - n) < 0)
		return -1;
	n = strlen(letters);
	/* in ASCII order, as Maildir readers expect */
	qsort(letters, n, 1, letter_cmp);
	snprintf(out, size, "%s", letters);
	return 1;
}
