/*
 * mime_util.c - the arena that holds a parsed message's parts and strings,
 * and small byte helpers shared by the mime files.
 *
 * The arena hands out memory from chunks of at least 4 KiB and frees them
 * all at once in mime_message_free(); the parser bounds how much it asks
 * for (parts and header sizes are capped by struct mime_limits).
 */
#include "mime_int.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define ARENA_CHUNK 4096
#define ARENA_ALIGN 16

struct mime_arena {
	struct mime_arena *next;
	size_t used, size;
	_Alignas(ARENA_ALIGN) char data[];
};

void *mime_arena_alloc(struct mime_arena **a, size_t n)
{
	struct mime_arena *c = *a;
	size_t size;
	void *p;

	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (c == NULL || c->size - c->used < n) {
		size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = xmalloc(sizeof(*c) + size);
		c->next = *a;
		c->used = 0;
		c->size = size;
		*a = c;
	}
	p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *mime_arena_strdup(struct mime_arena **a, const char *p, size_t n)
{
	char *s = mime_arena_alloc(a, n + 1);

	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

char *mime_arena_upper(struct mime_arena **a, const char *p, size_t n)
{
	char *s = mime_arena_strdup(a, p, n);
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
	}
	return s;
}

void mime_arena_free(struct mime_arena **a)
{
	struct mime_arena *c = *a, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	*a = NULL;
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
