#ifndef CORREIO_IMAP_PRIVATE_H
#define CORREIO_IMAP_PRIVATE_H
/*
 * imap_private: interfaces shared between the .c files of lib-imap and not
 * meant for its callers: the per-command arena of the IMAP reader and the
 * parser of fetch-item sections.  Callers use imap_parser.h.
 */
#include <stddef.h>

#include "imap_parser.h"

/*
 * imap_arena: a bump allocator for the memory of one IMAP command (argument
 * arrays, strings, sections).  Blocks grow from 1 KiB to 32 KiB; bigger
 * requests get a block of their own.  Nothing is freed alone: clear frees
 * it all.  An empty arena holds no memory.
 * XXX: private to lib-imap until src/lib grows a shared arena.
 */
struct imap_arena_block;

struct imap_arena {
	struct imap_arena_block *blocks;	/* newest first, NULL if empty */
	char *pos;				/* next free byte */
	size_t avail;				/* free bytes at pos */
	size_t total;				/* bytes taken from malloc */
};

void imap_arena_init(struct imap_arena *a);
/* size bytes aligned for any type; never NULL (out of memory is fatal). */
void *imap_arena_alloc(struct imap_arena *a, size_t size);
/* A NUL-terminated copy of s[0..n). */
char *imap_arena_strndup(struct imap_arena *a, const char *s, size_t n);
/* Free every block; the arena is empty and usable again. */
void imap_arena_clear(struct imap_arena *a);

/*
 * Parse the fetch item atom[0..len), whose name ends at the "[" found at
 * atom[name_len] (e.g. "BODY.PEEK[HEADER.FIELDS (From)]<0.100>").
 * Returns 1 with *section_r allocated from a, or -1 if the item is not a
 * valid BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...] or
 * BINARY.SIZE[...] item.
 */
int imap_section_parse(struct imap_arena *a, const char *atom, size_t len,
		       size_t name_len, const struct imap_section **section_r);
/* True if atom[0..len) names a fetch item that takes a section. */
int imap_section_name_is_known(const char *atom, size_t len);

#endif
