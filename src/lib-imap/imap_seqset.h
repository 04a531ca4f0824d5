#ifndef CORREIO_IMAP_SEQSET_H
#define CORREIO_IMAP_SEQSET_H
/*
 * imap_seqset: IMAP sequence sets (RFC 9051 §9 sequence-set) such as
 * "1,3:5,7:*": parsing into sorted, merged ranges, membership, iteration
 * in ascending order, and writing sets back ("1:3,5") for COPYUID,
 * APPENDUID (RFC 4315) and ESEARCH (RFC 4731).  The same code serves
 * message sequence numbers and UIDs.  Pure: no I/O.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct imap_seq_range {
	uint32_t first;
	uint32_t last;		/* first <= last */
};

struct imap_seqset {
	struct buf ranges;	/* struct imap_seq_range[]: ascending, merged,
				   neither overlapping nor adjacent */
};

/* An empty set.  imap_seqset_deinit() frees what parsing allocated. */
void imap_seqset_init(struct imap_seqset *set);
void imap_seqset_deinit(struct imap_seqset *set);

/*
 * Parse the sequence-set s (NUL-terminated) into set, replacing what it
 * held.  "*" stands for star: the highest number in use (the message count
 * or the highest UID); with star 0 (an empty mailbox) the numbers that
 * remain are those above 0, so "1:*" is {1} and "*" is empty.  A range
 * may be given either way round (5:3 is 3:5).  max_ranges bounds the
 * number of ranges and numbers written in s.  Returns 1, or -1 with
 * *error_r set on bad syntax, 0, a number of 2^32 or more, or too many
 * ranges (set is then empty).  The "$" of SEARCHRES is not handled here.
 */
int imap_seqset_parse(struct imap_seqset *set, const char *s, uint32_t star,
		      size_t max_ranges, const char **error_r);

/* Whether n is in the set (binary search). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* The ranges, ascending; valid until the set changes. */
const struct imap_seq_range *imap_seqset_ranges(const struct imap_seqset *set,
						size_t *count_r);
/* How many numbers the set holds. */
uint64_t imap_seqset_count(const struct imap_seqset *set);

struct imap_seqset_iter {
	const struct imap_seqset *set;
	size_t range;		/* index of the current range */
	uint64_t next;		/* next number to return from it */
};

/* Walk the numbers of a set in ascending order: init, then next until it
   returns false.  The set must not change meanwhile. */
void imap_seqset_iter_init(struct imap_seqset_iter *it,
			   const struct imap_seqset *set);
bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r);

/* Append the set in its compact form ("1:3,5,7:9").  Returns 1, 0 for an
   empty set (nothing written), -1 if out refused to grow (out unchanged). */
int imap_seqset_write(const struct imap_seqset *set, struct buf *out);

/*
 * Append nums[0..count) - ascending, repeats allowed, none 0 - as a
 * compact sequence set: {1,2,3,5} gives "1:3,5".  Returns 1, 0 if count
 * is 0 (nothing written), -1 if nums is not ascending or holds 0, or out
 * refused to grow (out unchanged).
 */
int imap_seqset_format(const uint32_t *nums, size_t count, struct buf *out);

#endif
