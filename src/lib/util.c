/*
 * util.c - bounded strings, unit parsing and file-system helpers.
 */
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

/* The one place allocation failure is handled: log, then abort. */
static void __attribute__((noreturn)) xalloc_fail(size_t size)
{
	log_err("out of memory (allocating %zu bytes)", size);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size != 0 ? size : 1);

	if (p == NULL)
		xalloc_fail(size);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (p == NULL)
		xalloc_fail(size > SIZE_MAX / nmemb ? SIZE_MAX : nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size != 0 ? size : 1);

	if (q == NULL)
		xalloc_fail(size);
	return q;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		xalloc_fail(SIZE_MAX);
	return xrealloc(p, nmemb * size);
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s);
	char *p = xmalloc(n + 1);

	memcpy(p, s, n + 1);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

size_t str_copy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

bool str_ieq(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++;
		b++;
	}
	return *a == *b;
}

void str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

int str_list_item(const char *list, int n, char *out, size_t size)
{
	const char *p = list;

	for (int i = 0;; i++) {
		size_t len;
		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 0)
			return 0;
		if (i == n) {
			snprintf(out, size, "%.*s", (int)len, p);
			return 1;
		}
		p += len;
	}
}

void sockaddr_addr_text(const struct sockaddr_storage *ss, char *out, size_t size)
{
	const void *a = ss->ss_family == AF_INET6 ?
			(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
			(const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (inet_ntop(ss->ss_family, a, out, (socklen_t)size) == NULL)
		snprintf(out, size, "?");
}

int listen_address_resolve(const char *item, struct addrinfo **res_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	const char *colon = strrchr(item, ':');
	size_t hlen = colon != NULL ? (size_t)(colon - item) : 0;
	char host[300];

	*res_r = NULL;
	if (colon == NULL || hlen >= sizeof(host))
		return -1;
	memcpy(host, item, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	if (getaddrinfo(host[0] == '*' ? NULL : host, colon + 1, &hints, res_r) != 0) {
		*res_r = NULL;
		return -1;
	}
	return 1;
}

int parse_uint(const char *s, uint64_t *r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*r = v;
	return 1;
}

/* Parse digits followed by an optional one-letter unit from units[]. */
static int parse_with_unit(const char *s, const char *units,
			   const uint64_t *mult, uint64_t *r)
{
	char digits[32];
	size_t n = strspn(s, "0123456789");
	const char *u;
	uint64_t v;

	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_uint(digits, &v) < 0)
		return -1;
	if (s[n] == '\0') {
		*r = v;
		return 1;
	}
	if (s[n + 1] != '\0' || (u = strchr(units, tolower((unsigned char)s[n]))) == NULL)
		return -1;
	if (v > UINT64_MAX / mult[u - units])
		return -1;
	*r = v * mult[u - units];
	return 1;
}

int parse_size(const char *s, uint64_t *r)
{
	static const uint64_t mult[] = { 1024, 1024 * 1024, 1024 * 1024 * 1024 };

	return parse_with_unit(s, "kmg", mult, r);
}

int parse_duration(const char *s, uint64_t *r)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400 };

	return parse_with_unit(s, "smhd", mult, r);
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n;

	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 1;		/* the usual case: only the last is missing */
	if (errno != ENOENT)
		return -1;
	if ((n = str_copy(tmp, path, sizeof(tmp))) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 1;
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret < 0 ? -1 : 1;
}

int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 1;
}

uint64_t time_now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

ssize_t read_file_at_start(int fd, size_t size, char **data, size_t *cap)
{
	size_t got = 0;
	ssize_t n;

	if (size > *cap) {
		*data = xrealloc(*data, size);
		*cap = size;
	}
	while (got < size) {
		n = pread(fd, *data + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

size_t utf8_sequence(const unsigned char *p, size_t n)
{
	uint32_t cp, min;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2; cp = p[0] & 0x1f; min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3; cp = p[0] & 0x0f; min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4; cp = p[0] & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int file_crlf_size(int fd, uint64_t *size_r, uint64_t *crlf_size_r)
{
	char block[65536];
	uint64_t size = 0, bare = 0;
	char prev = '\0';
	ssize_t n;

	while ((n = pread(fd, block, sizeof(block), (off_t)size)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (const char *p = block, *end = block + n;
		     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			if ((p == block ? prev : p[-1]) != '\r')
				bare++;
		prev = block[n - 1];
		size += (uint64_t)n;
	}
	*size_r = size;
	*crlf_size_r = size + bare;
	return 1;
}
