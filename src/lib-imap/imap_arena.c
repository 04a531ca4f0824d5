/*
 * imap_arena.c - the per-command bump allocator of lib-imap.
 *
 * Used by the IMAP reader (imap_parser.c) and the section parser for
 * everything that lives as long as one command.  Limits come from the
 * caller: the reader bounds what one command may allocate with its line,
 * argument and literal limits.  Out of memory is fatal, as for struct buf.
 */
#include "imap_private.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define ARENA_FIRST_BLOCK 1024
#define ARENA_MAX_BLOCK (32 * 1024)
#define ARENA_ALIGN alignof(max_align_t)

struct imap_arena_block {
	struct imap_arena_block *next;
	size_t size;			/* bytes in the block, header included */
	alignas(max_align_t) char data[];
};

void imap_arena_init(struct imap_arena *a)
{
	a->blocks = NULL;
	a->pos = NULL;
	a->avail = 0;
	a->total = 0;
}

static struct imap_arena_block *arena_block_new(struct imap_arena *a,
						size_t size)
{
	struct imap_arena_block *b = xmalloc(size);

	b->size = size;
	a->total += size;
	return b;
}

/* A block of its own for a request bigger than a normal block. */
static void *arena_alloc_big(struct imap_arena *a, size_t size)
{
	struct imap_arena_block *b;

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

void *imap_arena_alloc(struct imap_arena *a, size_t size)
{
	size_t block_size, need;
	struct imap_arena_block *b;
	void *p;

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

char *imap_arena_strndup(struct imap_arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		fatal("out of memory");
	p = imap_arena_alloc(a, n + 1);
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void imap_arena_clear(struct imap_arena *a)
{
	struct imap_arena_block *b, *next;

	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	imap_arena_init(a);
}
