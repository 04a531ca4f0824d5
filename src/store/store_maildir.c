/*
 * store_maildir.c - Maildir file names and the small file helpers of the
 * store.
 *
 * A message file name is "<base>:2,<flags>".  The base is the unique name
 * given by whoever created the file, followed by ",X=<number>" fields;
 * correio reads and writes S= (bytes), W= (RFC822.SIZE, CRLF) and U=
 * (IMAP UID) and keeps any other field as part of the base.  Flag letters
 * are in ASCII order: D F P R S T, then a-z (keywords).
 */
#include "store/store_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

static const struct {
	char letter;
	uint8_t flag;
} letters[] = {
	{ 'D', STORE_FLAG_DRAFT }, { 'F', STORE_FLAG_FLAGGED },
	{ 'P', REC_FLAG_PASSED }, { 'R', STORE_FLAG_ANSWERED },
	{ 'S', STORE_FLAG_SEEN }, { 'T', STORE_FLAG_DELETED },
};

/* The value of a ",X=<digits>" field starting at p (p[0] == ','), ending
   before end; *next gets the end of the field.  1, or 0 if p is no such
   field. */
static int field_at(const char *p, const char *end, char *key, uint64_t *value,
		    const char **next)
{
	const char *q = p + 3;
	uint64_t v = 0;

	if (end - p < 4 || p[2] != '=' || p[1] < 'A' || p[1] > 'Z')
		return 0;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > UINT64_MAX / 10 - 1)
			return 0;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (q == p + 3 || (q < end && *q != ','))
		return 0;
	*key = p[1];
	*value = v;
	*next = q;
	return 1;
}

static void parse_info(const char *info, struct mdname *r)
{
	for (; *info != '\0'; info++) {
		if (*info >= 'a' && *info <= 'z') {
			r->keywords |= 1u << (*info - 'a');
			continue;
		}
		for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
			if (letters[i].letter == *info)
				r->flags |= letters[i].flag;
	}
}

void store_maildir_parse(const char *fname, struct mdname *r)
{
	const char *colon = strchr(fname, ':'), *end, *p, *next;
	uint64_t v;
	char key;

	memset(r, 0, sizeof(*r));
	r->base_len = colon != NULL ? (size_t)(colon - fname) : strlen(fname);
	r->size = r->vsize = UINT64_MAX;
	end = fname + r->base_len;
	for (p = fname; p < end && *p >= '0' && *p <= '9' && r->arrival < UINT64_MAX / 20; p++)
		r->arrival = r->arrival * 10 + (uint64_t)(*p - '0');
	for (p = memchr(fname, ',', r->base_len); p != NULL;
	     p = next < end ? memchr(next, ',', (size_t)(end - next)) : NULL) {
		next = p + 1;
		if (!field_at(p, end, &key, &v, &next))
			continue;
		if (key == 'S')
			r->size = v;
		else if (key == 'W')
			r->vsize = v;
		else if (key == 'U' && v > 0 && v < UINT32_MAX)
			r->uid = (uint32_t)v;
	}
	if (colon != NULL && colon[1] == '2' && colon[2] == ',')
		parse_info(colon + 3, r);
}

/* Append base to b without its S=, W= and U= fields. */
static void base_without_fields(struct buf *b, const char *base, size_t len)
{
	const char *end = base + len, *p = base, *next;
	uint64_t v;
	char key;

	while (p < end) {
		const char *comma = memchr(p + 1, ',', (size_t)(end - p - 1));
		if (*p == ',' && field_at(p, end, &key, &v, &next) &&
		    (key == 'S' || key == 'W' || key == 'U')) {
			p = next;
			continue;
		}
		if (comma == NULL)
			comma = end;
		buf_append(b, p, (size_t)(comma - p));
		p = comma;
	}
}

int store_maildir_name(char *out, size_t size, const char *base, size_t base_len,
		       uint64_t bytes, uint64_t vsize, uint32_t uid,
		       uint8_t flags, uint32_t keywords)
{
	struct buf b;
	int ret;

	buf_init(&b, 0);
	base_without_fields(&b, base, base_len);
	buf_printf(&b, ",S=%llu,W=%llu,U=%u:2,", (unsigned long long)bytes,
		   (unsigned long long)vsize, uid);
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if ((flags & letters[i].flag) != 0)
			buf_putc(&b, letters[i].letter);
	for (unsigned i = 0; i < STORE_MAX_KEYWORDS; i++)
		if ((keywords & (1u << i)) != 0)
			buf_putc(&b, (char)('a' + i));
	ret = b.len < size && b.len < STORE_FILE_MAX ? 1 : -1;
	str_copy(out, buf_cstr(&b), size);
	buf_deinit(&b);
	return ret;
}

/* ---- small files ---- */

int store_path_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 1;
}

int store_write_file(const char *path, const void *data, size_t len, bool sync)
{
	char tmp[STORE_PATH_MAX];
	int fd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ret = write_all(fd, data, len);
	if (ret > 0 && sync && fsync(fd) < 0)
		ret = -1;
	if (close(fd) < 0)
		ret = -1;
	if (ret > 0 && rename(tmp, path) < 0)
		ret = -1;
	if (ret < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
	}
	return ret;
}

int store_read_file(const char *path, struct buf *out)
{
	char block[4096];
	ssize_t n;
	int fd, ret = 1;

	buf_reset(out);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	while (ret > 0 && (n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(out, block, (size_t)n) < 0)
			ret = -1;
	}
	close(fd);
	return ret;
}

static int remove_at(int dfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 1;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 1;
	if ((errno != EISDIR && errno != EPERM) || depth == 0)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (ret > 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			ret = remove_at(dirfd(d), de->d_name, depth - 1);
	closedir(d);
	if (ret > 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = -1;
	return ret;
}

int store_remove_tree(const char *path)
{
	return remove_at(AT_FDCWD, path, 4);
}

int store_maildir_create(const char *path)
{
	static const char *subs[] = { "tmp", "new", "cur" };
	char sub[STORE_PATH_MAX];

	if (mkdir_p(path, 0700) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]) >= sizeof(sub)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 1;
}

void store_maildir_host(const char *host, char *out, size_t size)
{
	size_t i;

	/* Maildir readers split names at '/', ':' and ','; '\\' is kept out too */
	for (i = 0; host[i] != '\0' && i + 1 < size; i++)
		out[i] = strchr("/:,\\", host[i]) != NULL ? '_' : host[i];
	out[i] = '\0';
	if (out[0] == '\0')
		str_copy(out, "localhost", size);
}

void store_delivery_name(char *out, size_t size, uint64_t arrival, const char *id,
			 const char *host, uint64_t bytes, uint64_t crlf_bytes)
{
	char safe[256];
	int n;

	store_maildir_host(host, safe, sizeof(safe));
	n = snprintf(out, size, "%llu.Q%s.%s,S=%llu", (unsigned long long)arrival, id,
		     safe, (unsigned long long)bytes);
	if (crlf_bytes != 0 && n > 0 && (size_t)n < size)
		snprintf(out + n, size - (size_t)n, ",W=%llu", (unsigned long long)crlf_bytes);
}
