#ifndef CORREIO_IMAP_PRIVATE_H
#define CORREIO_IMAP_PRIVATE_H
/*
 * imap_private: interfaces shared between the .c files of lib-imap and not
 * meant for its callers: the parser of fetch-item sections, whose memory
 * comes from the reader's per-command arena (lib/arena.h).  Callers use
 * imap_parser.h.
 */
#include <stddef.h>

#include "imap_parser.h"
#include "lib/arena.h"

/*
 * Parse the fetch item atom[0..len), whose name ends at the "[" found at
 * atom[name_len] (e.g. "BODY.PEEK[HEADER.FIELDS (From)]<0.100>").
 * Returns 1 with *section_r allocated from a, or -1 if the item is not a
 * valid BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...] or
 * BINARY.SIZE[...] item.
 */
int imap_section_parse(struct arena *a, const char *atom, size_t len,
		       size_t name_len, const struct imap_section **section_r);
/* True if atom[0..len) names a fetch item that takes a section. */
int imap_section_name_is_known(const char *atom, size_t len);

#endif
