/*
 * store_index.c - a folder's index in memory: an array of 56-byte records
 * in ascending UID order plus one pool of file names.
 *
 * Look-ups by UID are binary searches; new messages always have the
 * highest UID, so they are appended.  A name that changes (new flags) is
 * appended to the pool and the old one becomes garbage, collected when it
 * outweighs the live names.  Used by the other store files only.
 */
#include "store/store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define NAMES_GC_MIN 65536

void store_index_init(struct index *idx)
{
	memset(idx, 0, sizeof(*idx));
	idx->log_fd = -1;
	buf_init(&idx->pending, 0);
}

void store_index_deinit(struct index *idx)
{
	free(idx->recs);
	free(idx->names);
	buf_deinit(&idx->pending);
	idx->recs = NULL;
	idx->names = NULL;
	idx->count = idx->cap = 0;
	idx->names_len = idx->names_cap = idx->names_garbage = 0;
}

void store_index_clear(struct index *idx)
{
	idx->count = 0;
	idx->names_len = idx->names_garbage = 0;
}

long store_index_find(const struct index *idx, uint32_t uid)
{
	unsigned i = store_index_lower(idx, uid);

	return i < idx->count && idx->recs[i].uid == uid ? (long)i : -1;
}

unsigned store_index_lower(const struct index *idx, uint32_t uid)
{
	unsigned lo = 0, hi = idx->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (idx->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *store_index_name(const struct index *idx, const struct index_rec *r)
{
	return idx->names + r->name_off;
}

static uint32_t names_add(struct index *idx, const char *name)
{
	size_t n = strlen(name) + 1;
	uint32_t off;

	if (idx->names_len + n > idx->names_cap) {
		size_t cap = idx->names_cap < 4096 ? 4096 : idx->names_cap;
		while (cap < idx->names_len + n)
			cap *= 2;
		/* offsets are 32 bits */
		if (cap > UINT32_MAX)
			fatal("store: a folder's file names pass 4 GiB");
		idx->names = xrealloc(idx->names, cap);
		idx->names_cap = cap;
	}
	off = (uint32_t)idx->names_len;
	memcpy(idx->names + off, name, n);
	idx->names_len += n;
	return off;
}

void store_index_reserve(struct index *idx, unsigned n, size_t names_bytes)
{
	if (idx->count + n > idx->cap) {
		idx->recs = xreallocarray(idx->recs, idx->count + n, sizeof(*idx->recs));
		idx->cap = idx->count + n;
	}
	if (idx->names_len + names_bytes > idx->names_cap) {
		/* offsets are 32 bits */
		if (idx->names_len + names_bytes > UINT32_MAX)
			fatal("store: a folder's file names pass 4 GiB");
		idx->names = xrealloc(idx->names, idx->names_len + names_bytes);
		idx->names_cap = idx->names_len + names_bytes;
	}
}

void store_index_append(struct index *idx, const struct index_rec *r, const char *name)
{
	if (idx->count == idx->cap) {
		unsigned cap = idx->cap < 64 ? 64 : idx->cap * 2;
		struct index_rec *p = xrealloc(idx->recs, cap * sizeof(*p));
		idx->recs = p;
		idx->cap = cap;
	}
	idx->recs[idx->count] = *r;
	idx->recs[idx->count].name_off = names_add(idx, name);
	idx->recs[idx->count].mark = 0;
	idx->count++;
}

void store_index_set_name(struct index *idx, struct index_rec *r, const char *name)
{
	char copy[STORE_FILE_MAX + 64];
	const char *old = store_index_name(idx, r);

	if (strcmp(old, name) == 0)
		return;
	idx->names_garbage += strlen(old) + 1;
	if (name >= idx->names && name < idx->names + idx->names_len) {
		/* the pool may move while growing */
		snprintf(copy, sizeof(copy), "%s", name);
		name = copy;
	}
	r->name_off = names_add(idx, name);
}

void store_index_remove_marked(struct index *idx)
{
	unsigned o = 0;

	for (unsigned i = 0; i < idx->count; i++) {
		if (idx->recs[i].mark) {
			idx->names_garbage += strlen(store_index_name(idx, &idx->recs[i])) + 1;
			continue;
		}
		if (o != i)
			idx->recs[o] = idx->recs[i];
		o++;
	}
	idx->count = o;
}

void store_index_gc_names(struct index *idx, bool force)
{
	char *old = idx->names;
	size_t cap = idx->names_len - idx->names_garbage + 4096;

	if (!force && (idx->names_garbage < NAMES_GC_MIN ||
		       idx->names_garbage < idx->names_len / 2))
		return;
	idx->names = xmalloc(cap);
	idx->names_cap = cap;
	idx->names_len = idx->names_garbage = 0;
	for (unsigned i = 0; i < idx->count; i++)
		idx->recs[i].name_off = names_add(idx, old + idx->recs[i].name_off);
	free(old);
}

void uidvec_push(struct uidvec *v, uint32_t uid)
{
	if (v->n == v->cap) {
		unsigned cap = v->cap < 16 ? 16 : v->cap * 2;
		uint32_t *p = xrealloc(v->v, cap * sizeof(*p));
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = uid;
}

void uidvec_free(struct uidvec *v)
{
	free(v->v);
	v->v = NULL;
	v->n = v->cap = 0;
}
