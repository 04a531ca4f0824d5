/*
 * mime_util.c - small byte helpers shared by the mime files.
 *
 * A parsed message's parts and strings live in one arena (lib/arena.h),
 * freed all at once in mime_message_free(); the parser bounds how much it
 * asks for (parts and header sizes are capped by struct mime_limits).
 */
#include "mime_int.h"

#include <stdlib.h>
#include <string.h>

char *mime_arena_upper(struct arena *a, const char *p, size_t n)
{
	char *s = arena_strndup(a, p, n);
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
	}
	return s;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

const char *mime_trim(const char *p, size_t *n)
{
	size_t len = *n;

	while (len > 0 && is_blank(p[0])) {
		p++;
		len--;
	}
	while (len > 0 && is_blank(p[len - 1]))
		len--;
	*n = len;
	return p;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool mime_ieq(const char *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\0' || lower(p[i]) != lower(s[i]))
			return false;
	}
	return s[n] == '\0';
}

int mime_buf_put(struct buf *out, const void *p, size_t n)
{
	size_t room;

	if (buf_append(out, p, n) == 1)
		return 1;
	room = out->max > out->len ? out->max - out->len : 0;
	if (room > n)
		room = n;
	if (room > 0)
		buf_append(out, p, room);
	return -1;
}
