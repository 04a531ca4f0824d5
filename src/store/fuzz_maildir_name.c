/*
 * fuzz_maildir_name.c - libFuzzer target for Maildir file names: the input,
 * cut at the first NUL or '/' and at STORE_FILE_MAX - 1 bytes, is read as
 * a file found in new/ or cur/ of a folder.
 *
 * Checked: the base ends at the first ':' (or is all of the name); a file
 * that has S=, W= and a UID is renamed as correio would rename it, the
 * new name (when it fits) parses to the same sizes, UID, flags and
 * keywords, and naming it once more gives the very same name, so the next
 * sync of the folder leaves the file alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_private.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* Name the file as the sync of a folder does: from its own fields. */
static int rename_like_sync(const char *fname, const struct mdname *md, char *out,
			    size_t size)
{
	return store_maildir_name(out, size, fname, md->base_len, md->size, md->vsize,
				  md->uid, md->flags, md->keywords);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char fname[STORE_FILE_MAX], name[STORE_FILE_MAX], again[STORE_FILE_MAX];
	const char *colon;
	struct mdname md, md2;
	size_t len = 0;

	while (len < size && len < sizeof(fname) - 1 && data[len] != '\0' &&
	       data[len] != '/')
		len++;
	memcpy(fname, data, len);
	fname[len] = '\0';

	store_maildir_parse(fname, &md);
	colon = strchr(fname, ':');
	CHECK(md.base_len == (colon != NULL ? (size_t)(colon - fname) : len));
	CHECK(md.uid != UINT32_MAX);
	CHECK((md.flags & ~(STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED |
			    STORE_FLAG_DELETED | STORE_FLAG_DRAFT | REC_FLAG_PASSED)) == 0);
	CHECK(md.keywords < 1u << STORE_MAX_KEYWORDS);
	if (md.size == UINT64_MAX || md.vsize == UINT64_MAX || md.uid == 0)
		return 0;
	if (rename_like_sync(fname, &md, name, sizeof(name)) < 0)
		return 0;
	CHECK(strchr(name, '/') == NULL && strlen(name) < STORE_FILE_MAX);
	store_maildir_parse(name, &md2);
	CHECK(md2.size == md.size && md2.vsize == md.vsize && md2.uid == md.uid);
	CHECK(md2.flags == md.flags && md2.keywords == md.keywords);
	CHECK(md2.arrival == md.arrival);
	CHECK(rename_like_sync(name, &md2, again, sizeof(again)) == 1);
	CHECK(strcmp(again, name) == 0);
	return 0;
}
