/*
 * fuzz_imap_seqset.c - libFuzzer target: sequence sets.
 *
 * The first 4 bytes are the value of "*", the rest the set.  The result is
 * checked against a plain model parser (accept/reject, membership), for
 * sorted merged ranges, iteration order, and the round trips through
 * imap_seqset_write() and imap_seqset_format().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_seqset.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_RANGES 64

struct model_range {
	uint64_t a, b;
};

/* A straightforward reading of the grammar; returns the range count or
   -1.  Numbers: "*" or a non-zero decimal without leading 0, < 2^32. */
static int model_number(const char **sp, uint32_t star, uint64_t *n_r)
{
	const char *s = *sp;
	uint64_t n = 0;
	size_t digits = 0;

	if (*s == '*') {
		*n_r = star;
		*sp = s + 1;
		return 1;
	}
	while (s[digits] >= '0' && s[digits] <= '9') {
		if (digits < 11)
			n = n * 10 + (uint64_t)(s[digits] - '0');
		digits++;
	}
	if (digits == 0 || digits > 10 || s[0] == '0' || n > UINT32_MAX)
		return -1;
	*n_r = n;
	*sp = s + digits;
	return 1;
}

static int model_parse(const char *s, uint32_t star, struct model_range *r)
{
	int count = 0;

	for (;;) {
		if (count == MAX_RANGES || model_number(&s, star, &r[count].a) < 0)
			return -1;
		r[count].b = r[count].a;
		if (*s == ':') {
			s++;
			if (model_number(&s, star, &r[count].b) < 0)
				return -1;
		}
		count++;
		if (*s == '\0')
			return count;
		if (*s++ != ',')
			return -1;
	}
}

static bool model_contains(const struct model_range *r, int count, uint32_t n)
{
	int i;

	for (i = 0; i < count; i++) {
		uint64_t lo = r[i].a < r[i].b ? r[i].a : r[i].b;
		uint64_t hi = r[i].a < r[i].b ? r[i].b : r[i].a;

		if (n > 0 && n >= lo && n <= hi)
			return true;
	}
	return false;
}

static void check_shape(const struct imap_seqset *set)
{
	const struct imap_seq_range *r;
	size_t count, i;

	r = imap_seqset_ranges(set, &count);
	for (i = 0; i < count; i++) {
		CHECK(r[i].first >= 1 && r[i].first <= r[i].last);
		CHECK(i == 0 || (uint64_t)r[i - 1].last + 1 < r[i].first);
	}
}

/* Iterate (small sets only), format the numbers, parse: the same set. */
static void check_roundtrips(const struct imap_seqset *set)
{
	struct imap_seqset_iter it;
	struct imap_seqset again;
	uint32_t *nums, n;
	size_t count = 0;
	const char *error;
	struct buf out;

	buf_init(&out, 0);
	imap_seqset_init(&again);
	CHECK(imap_seqset_write(set, &out) >= 0);
	if (out.len > 0) {
		CHECK(imap_seqset_parse(&again, buf_cstr(&out), 0, MAX_RANGES,
					&error) == 1);
		CHECK(again.ranges.len == set->ranges.len &&
		      memcmp(again.ranges.data, set->ranges.data,
			     set->ranges.len) == 0);
	}
	if (imap_seqset_count(set) <= 4096) {
		nums = malloc(4096 * sizeof(*nums));
		CHECK(nums != NULL);
		imap_seqset_iter_init(&it, set);
		while (imap_seqset_iter_next(&it, &n)) {
			CHECK(count == 0 || nums[count - 1] < n);
			CHECK(imap_seqset_contains(set, n));
			nums[count++] = n;
		}
		CHECK(count == imap_seqset_count(set));
		buf_reset(&out);
		CHECK(imap_seqset_format(nums, count, &out) == (count > 0));
		buf_reset(&again.ranges);
		if (count > 0)
			CHECK(imap_seqset_parse(&again, buf_cstr(&out), 0,
						MAX_RANGES, &error) == 1);
		CHECK(again.ranges.len == set->ranges.len &&
		      (set->ranges.len == 0 ||
		       memcmp(again.ranges.data, set->ranges.data,
			      set->ranges.len) == 0));
		free(nums);
	}
	imap_seqset_deinit(&again);
	buf_deinit(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model_range model[MAX_RANGES];
	struct imap_seqset set;
	const struct imap_seq_range *r;
	const char *error = NULL;
	uint32_t star, probe;
	size_t count, i;
	char *s;
	int ret, mcount;

	if (size < 4)
		return 0;
	star = data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
		(uint32_t)data[3] << 24;
	s = malloc(size - 3);
	CHECK(s != NULL);
	memcpy(s, data + 4, size - 4);
	s[size - 4] = '\0';
	imap_seqset_init(&set);
	ret = imap_seqset_parse(&set, s, star, MAX_RANGES, &error);
	/* both read s up to its first NUL */
	mcount = model_parse(s, star, model);
	CHECK((ret == 1) == (mcount >= 0));
	if (ret == 1) {
		check_shape(&set);
		r = imap_seqset_ranges(&set, &count);
		for (i = 0; i < count; i++) {
			probe = r[i].first - 1;
			CHECK(imap_seqset_contains(&set, probe) ==
			      model_contains(model, mcount, probe));
			probe = r[i].last + 1;
			CHECK(imap_seqset_contains(&set, probe) ==
			      model_contains(model, mcount, probe));
		}
		for (i = 0; i < 64; i++) {
			probe = (uint32_t)(i * 2654435761u) ^ star;
			CHECK(imap_seqset_contains(&set, probe) ==
			      model_contains(model, mcount, probe));
			CHECK(imap_seqset_contains(&set, (uint32_t)i) ==
			      model_contains(model, mcount, (uint32_t)i));
		}
		check_roundtrips(&set);
	} else {
		CHECK(error != NULL && imap_seqset_count(&set) == 0);
	}
	imap_seqset_deinit(&set);
	free(s);
	return 0;
}
