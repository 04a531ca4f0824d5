/*
 * arena.c - a bump allocator for memory that lives as long as one unit of
 * work and is freed all at once.
 *
 * Users: the IMAP reader and section parser (one command), the MIME parser
 * (one parsed message).  Limits come from the caller: each bounds what it
 * may allocate (line, argument and literal limits; MIME part and header
 * limits).  Out of memory aborts, as for every allocation (xmalloc).
 */
#include "arena.h"

#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define ARENA_FIRST_BLOCK 1024
#define ARENA_MAX_BLOCK (32 * 1024)
#define ARENA_ALIGN alignof(max_align_t)

struct arena_block {
	struct arena_block *next;
	size_t size;			/* bytes in the block, header included */
	alignas(max_align_t) char data[];
};

void arena_init(struct arena *a)
{
	a->blocks = NULL;
	a->pos = NULL;
	a->avail = 0;
	a->total = 0;
}

static struct arena_block *arena_block_new(struct arena *a, size_t size)
{
	struct arena_block *b = xmalloc(size);

	b->size = size;
	a->total += size;
	return b;
}

/* A block of its own for a request bigger than a normal block. */
static void *arena_alloc_big(struct arena *a, size_t size)
{
	struct arena_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		fatal("out of memory");
	b = arena_block_new(a, sizeof(*b) + size);
	if (a->blocks == NULL) {
		b->next = NULL;
		a->blocks = b;
	} else {
		/* behind the current block, whose free space stays usable */
		b->next = a->blocks->next;
		a->blocks->next = b;
	}
	return b->data;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size_t block_size, need;
	struct arena_block *b;
	void *p;

	assert(a != NULL);
	if (size > SIZE_MAX - ARENA_ALIGN)
		fatal("out of memory");
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need > a->avail) {
		block_size = a->blocks == NULL ? ARENA_FIRST_BLOCK :
			a->blocks->size * 2;
		if (block_size > ARENA_MAX_BLOCK)
			block_size = ARENA_MAX_BLOCK;
		if (need > block_size - sizeof(*b))
			return arena_alloc_big(a, size);
		b = arena_block_new(a, block_size);
		b->next = a->blocks;
		a->blocks = b;
		a->pos = b->data;
		a->avail = block_size - sizeof(*b);
	}
	p = a->pos;
	a->pos += need;
	a->avail -= need;
	return p;
}

void *arena_alloc0(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);

	memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		fatal("out of memory");
	p = arena_alloc(a, n + 1);
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void arena_clear(struct arena *a)
{
	struct arena_block *b, *next;

	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	arena_init(a);
}
