#ifndef CORREIO_ARENA_H
#define CORREIO_ARENA_H
/*
 * arena: a bump allocator for memory that lives as long as one unit of work
 * (an IMAP command, a parsed MIME message) and is freed all at once.
 * Blocks grow from 1 KiB to 32 KiB; bigger requests get a block of their
 * own.  Nothing is freed alone: arena_clear frees it all.  An empty arena
 * holds no memory.  The struct may be copied while no allocation is in
 * progress (the copy then owns the blocks).  Not thread-safe.
 */
#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *blocks;	/* newest first, NULL if empty */
	char *pos;			/* next free byte */
	size_t avail;			/* free bytes at pos */
	size_t total;			/* bytes taken from malloc */
};

void arena_init(struct arena *a);
/* size bytes aligned for any type; never NULL (out of memory aborts). */
void *arena_alloc(struct arena *a, size_t size);
/* The same, zeroed. */
void *arena_alloc0(struct arena *a, size_t size);
/* A NUL-terminated copy of s[0..n) (s may be NULL when n is 0). */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Free every block; the arena is empty and usable again. */
void arena_clear(struct arena *a);

#endif
