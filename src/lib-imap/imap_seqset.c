/*
 * imap_seqset.c - IMAP sequence sets: parse, test, iterate, write.
 *
 * Called by the IMAP command handlers (FETCH, STORE, COPY, MOVE, SEARCH,
 * UID ...) on the sequence-set arguments the reader hands them as atoms,
 * and by the handlers that answer with COPYUID, APPENDUID or ESEARCH.
 * Limits: the caller's max_ranges bounds the memory one set takes
 * (8 bytes a range); numbers are 32-bit as RFC 9051 says.
 */
#include "imap_seqset.h"

#include <stdlib.h>

#define SEQ_ERR_SYNTAX "Invalid sequence set"
#define SEQ_ERR_ZERO "Invalid sequence number 0"
#define SEQ_ERR_BIG "Sequence number too big"
#define SEQ_ERR_RANGES "Too many ranges in sequence set"

void imap_seqset_init(struct imap_seqset *set)
{
	buf_init(&set->ranges, 0);
}

void imap_seqset_deinit(struct imap_seqset *set)
{
	buf_deinit(&set->ranges);
}

const struct imap_seq_range *imap_seqset_ranges(const struct imap_seqset *set,
						size_t *count_r)
{
	*count_r = set->ranges.len / sizeof(struct imap_seq_range);
	return (const struct imap_seq_range *)(const void *)set->ranges.data;
}

/*
 * RFC 9051 §9:
 *
 *   sequence-set = (seq-number / seq-range) ["," sequence-set]
 *   seq-range    = seq-number ":" seq-number
 *   seq-number   = nz-number / "*"
 *   nz-number    = digit-nz *DIGIT      ; below 4,294,967,296
 */

/* seq-number at *sp; "*" gives star. */
static int parse_number(const char **sp, uint32_t star, uint32_t *num_r,
			const char **error_r)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (*s == '*') {
		*num_r = star;
		*sp = s + 1;
		return 1;
	}
	if (*s < '0' || *s > '9') {
		*error_r = SEQ_ERR_SYNTAX;
		return -1;
	}
	if (*s == '0') {
		*error_r = s[1] >= '0' && s[1] <= '9' ? SEQ_ERR_SYNTAX :
			SEQ_ERR_ZERO;
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX) {
			*error_r = SEQ_ERR_BIG;
			return -1;
		}
	}
	*num_r = (uint32_t)n;
	*sp = s;
	return 1;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* Sort and merge overlapping or adjacent ranges in place. */
static void seqset_normalise(struct imap_seqset *set)
{
	struct imap_seq_range *r = (void *)set->ranges.data;
	size_t count = set->ranges.len / sizeof(*r), i, out = 0;

	if (count == 0)
		return;
	qsort(r, count, sizeof(*r), range_cmp);
	for (i = 1; i < count; i++) {
		if ((uint64_t)r[i].first <= (uint64_t)r[out].last + 1) {
			if (r[i].last > r[out].last)
				r[out].last = r[i].last;
		} else {
			r[++out] = r[i];
		}
	}
	buf_truncate(&set->ranges, (out + 1) * sizeof(*r));
}

/* One seq-number or seq-range at *sp, added to set. */
static int parse_range(struct imap_seqset *set, const char **sp, uint32_t star,
		       const char **error_r)
{
	struct imap_seq_range r;
	uint32_t a, b;

	if (parse_number(sp, star, &a, error_r) < 0)
		return -1;
	b = a;
	if (**sp == ':') {
		(*sp)++;
		if (parse_number(sp, star, &b, error_r) < 0)
			return -1;
	}
	r.first = a < b ? a : b;
	r.last = a < b ? b : a;
	if (r.first == 0)	/* only "*" of an empty mailbox is 0 */
		r.first = 1;
	if (r.last == 0)
		return 1;
	if (buf_append(&set->ranges, &r, sizeof(r)) < 0) {
		*error_r = SEQ_ERR_RANGES;
		return -1;
	}
	return 1;
}

int imap_seqset_parse(struct imap_seqset *set, const char *s, uint32_t star,
		      size_t max_ranges, const char **error_r)
{
	size_t written = 0;

	buf_reset(&set->ranges);
	do {
		if (++written > max_ranges) {
			*error_r = SEQ_ERR_RANGES;
			buf_reset(&set->ranges);
			return -1;
		}
		if (parse_range(set, &s, star, error_r) < 0) {
			buf_reset(&set->ranges);
			return -1;
		}
	} while (*s++ == ',');
	if (s[-1] != '\0') {
		*error_r = SEQ_ERR_SYNTAX;
		buf_reset(&set->ranges);
		return -1;
	}
	seqset_normalise(set);
	return 1;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t count, lo = 0, hi, mid;
	const struct imap_seq_range *r = imap_seqset_ranges(set, &count);

	hi = count;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (n < r[mid].first)
			hi = mid;
		else if (n > r[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	size_t count, i;
	const struct imap_seq_range *r = imap_seqset_ranges(set, &count);
	uint64_t n = 0;

	for (i = 0; i < count; i++)
		n += (uint64_t)r[i].last - r[i].first + 1;
	return n;
}

void imap_seqset_iter_init(struct imap_seqset_iter *it,
			   const struct imap_seqset *set)
{
	size_t count;
	const struct imap_seq_range *r = imap_seqset_ranges(set, &count);

	it->set = set;
	it->range = 0;
	it->next = count > 0 ? r[0].first : 0;
}

bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r)
{
	size_t count;
	const struct imap_seq_range *r = imap_seqset_ranges(it->set, &count);

	if (it->range >= count)
		return false;
	*n_r = (uint32_t)it->next;
	if (it->next < r[it->range].last) {
		it->next++;
	} else if (++it->range < count) {
		it->next = r[it->range].first;
	}
	return true;
}

static int write_range(struct buf *out, bool comma, uint32_t first,
		       uint32_t last)
{
	if (first == last)
		return buf_printf(out, "%s%u", comma ? "," : "", first);
	return buf_printf(out, "%s%u:%u", comma ? "," : "", first, last);
}

int imap_seqset_write(const struct imap_seqset *set, struct buf *out)
{
	size_t count, i, start = out->len;
	const struct imap_seq_range *r = imap_seqset_ranges(set, &count);

	for (i = 0; i < count; i++) {
		if (write_range(out, i > 0, r[i].first, r[i].last) < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return count > 0 ? 1 : 0;
}

int imap_seqset_format(const uint32_t *nums, size_t count, struct buf *out)
{
	size_t i, start = out->len;
	uint32_t first, last;
	bool comma = false;

	if (count == 0)
		return 0;
	for (i = 1; i < count; i++) {
		if (nums[i] < nums[i - 1])
			return -1;
	}
	if (nums[0] == 0)
		return -1;
	first = last = nums[0];
	for (i = 1; i <= count; i++) {
		if (i < count && (uint64_t)nums[i] <= (uint64_t)last + 1) {
			last = nums[i];
			continue;
		}
		if (write_range(out, comma, first, last) < 0) {
			buf_truncate(out, start);
			return -1;
		}
		comma = true;
		if (i < count)
			first = last = nums[i];
	}
	return 1;
}
