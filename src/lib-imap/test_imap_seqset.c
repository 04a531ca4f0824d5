/*
 * test_imap_seqset.c - sequence sets: parsing with "*", reversed and
 * overlapping ranges, errors and the range bound; membership and
 * iteration against a brute-force model; writing and formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_seqset.h"

#define ERR_SYNTAX "Invalid sequence set"
#define ERR_ZERO "Invalid sequence number 0"
#define ERR_BIG "Sequence number too big"
#define ERR_RANGES "Too many ranges in sequence set"

struct seq_case {
	const char *in;
	uint32_t star;
	size_t max_ranges;	/* 0: 100 */
	const char *out;	/* the set written back, or the error */
	int ret;
};

#define OK(in, star, out) { in, star, 0, out, 1 }
#define BAD(in, err) { in, 10, 0, err, -1 }

static const struct seq_case cases[] = {
	OK("1", 10, "1"),
	OK("1,3:5,7:*", 10, "1,3:5,7:10"),
	OK("5:3", 10, "3:5"),
	OK("*", 10, "10"),
	OK("*:5", 3, "3:5"),
	OK("559:*", 500, "500:559"),
	OK("3,1,2", 10, "1:3"),
	OK("1:3,2:6,10,9,11", 0, "1:6,9:11"),
	OK("7,7,7", 10, "7"),
	OK("1:2,4:5", 10, "1:2,4:5"),
	OK("4:5,1:3", 10, "1:5"),
	OK("2:4,1:10", 10, "1:10"),
	OK("4294967295", 10, "4294967295"),
	OK("4294967295:1", 10, "1:4294967295"),
	OK("1:4294967295,5", 10, "1:4294967295"),
	OK("4294967294,4294967295,1", 10, "1,4294967294:4294967295"),
	OK("*", 4294967295u, "4294967295"),
	/* an empty mailbox: "*" is 0 and only numbers above it remain */
	OK("*", 0, ""),
	OK("1:*", 0, "1"),
	OK("*:3", 0, "1:3"),
	OK("*,*:*", 0, ""),
	BAD("", ERR_SYNTAX),
	BAD(",", ERR_SYNTAX),
	BAD("1,", ERR_SYNTAX),
	BAD(",1", ERR_SYNTAX),
	BAD("1::2", ERR_SYNTAX),
	BAD("1:", ERR_SYNTAX),
	BAD(":1", ERR_SYNTAX),
	BAD("1:2:3", ERR_SYNTAX),
	BAD("a", ERR_SYNTAX),
	BAD("1 2", ERR_SYNTAX),
	BAD("1,,2", ERR_SYNTAX),
	BAD("**", ERR_SYNTAX),
	BAD("-1", ERR_SYNTAX),
	BAD("+1", ERR_SYNTAX),
	BAD("$", ERR_SYNTAX),
	BAD("01", ERR_SYNTAX),
	BAD("1:01", ERR_SYNTAX),
	BAD("0", ERR_ZERO),
	BAD("0:5", ERR_ZERO),
	BAD("5:0", ERR_ZERO),
	BAD("1,0", ERR_ZERO),
	BAD("4294967296", ERR_BIG),
	BAD("1:4294967296", ERR_BIG),
	BAD("99999999999999999999999999", ERR_BIG),
	{ "1,2,3", 10, 3, "1:3", 1 },
	{ "1,2,3,4", 10, 3, ERR_RANGES, -1 },
	{ "1:2,3:4,5:6,7", 10, 3, ERR_RANGES, -1 },
	{ "1:*", 10, 1, "1:10", 1 },
};

/* The brute-force model: is n in the set text (numbers up to 64)? */
static bool model_contains(const char *s, uint32_t star, uint32_t n)
{
	uint32_t a, b;
	char *end;

	for (;;) {
		a = *s == '*' ? star : (uint32_t)strtoul(s, &end, 10);
		s = *s == '*' ? s + 1 : end;
		b = a;
		if (*s == ':') {
			s++;
			b = *s == '*' ? star : (uint32_t)strtoul(s, &end, 10);
			s = *s == '*' ? s + 1 : end;
		}
		if (n >= (a < b ? a : b) && n <= (a < b ? b : a) && n > 0)
			return true;
		if (*s++ != ',')
			return false;
	}
}

static void check_model(const struct seq_case *c, const struct imap_seqset *set)
{
	struct imap_seqset_iter it;
	uint32_t n, prev = 0;
	uint64_t seen = 0;

	for (n = 0; n <= 64; n++) {
		if (imap_seqset_contains(set, n) != model_contains(c->in, c->star, n))
			fail_msg("\"%s\": %u", c->in, n);
	}
	assert_true(imap_seqset_contains(set, 4294967295u) ==
		    model_contains(c->in, c->star, 4294967295u));
	if (imap_seqset_count(set) > 1000)
		return;
	imap_seqset_iter_init(&it, set);
	while (imap_seqset_iter_next(&it, &n)) {
		assert_true(n > prev);
		assert_true(imap_seqset_contains(set, n));
		prev = n;
		seen++;
	}
	assert_true(seen == imap_seqset_count(set));
	assert_false(imap_seqset_iter_next(&it, &n));
}

static void test_parse(void **state)
{
	struct imap_seqset set, again;
	const char *error;
	struct buf out;
	size_t i;
	int ret;

	imap_seqset_init(&set);
	imap_seqset_init(&again);
	buf_init(&out, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct seq_case *c = &cases[i];

		error = NULL;
		ret = imap_seqset_parse(&set, c->in, c->star, c->max_ranges != 0 ?
					c->max_ranges : 100, &error);
		if (ret != c->ret)
			fail_msg("\"%s\": ret %d (%s)", c->in, ret, error);
		if (ret < 0) {
			assert_string_equal(error, c->out);
			assert_true(imap_seqset_count(&set) == 0);
			continue;
		}
		buf_reset(&out);
		assert_int_equal(imap_seqset_write(&set, &out),
				 c->out[0] != '\0' ? 1 : 0);
		if (strcmp(buf_cstr(&out), c->out) != 0)
			fail_msg("\"%s\": wrote \"%s\"", c->in, buf_cstr(&out));
		check_model(c, &set);
		/* written back, it parses to the same set */
		if (out.len > 0) {
			assert_int_equal(imap_seqset_parse(&again, buf_cstr(&out),
							   0, 100, &error), 1);
			assert_true(imap_seqset_count(&again) ==
				    imap_seqset_count(&set));
		}
	}
	buf_deinit(&out);
	imap_seqset_deinit(&set);
	imap_seqset_deinit(&again);
}

static void test_iterate_edges(void **state)
{
	struct imap_seqset set;
	struct imap_seqset_iter it;
	const struct imap_seq_range *r;
	const char *error;
	size_t count;
	uint32_t n;

	imap_seqset_init(&set);
	assert_int_equal(imap_seqset_parse(&set, "4294967293:*,1", 4294967295u,
					   10, &error), 1);
	r = imap_seqset_ranges(&set, &count);
	assert_int_equal(count, 2);
	assert_int_equal(r[1].first, 4294967293u);
	assert_int_equal(r[1].last, 4294967295u);
	imap_seqset_iter_init(&it, &set);
	assert_true(imap_seqset_iter_next(&it, &n) && n == 1);
	assert_true(imap_seqset_iter_next(&it, &n) && n == 4294967293u);
	assert_true(imap_seqset_iter_next(&it, &n) && n == 4294967294u);
	assert_true(imap_seqset_iter_next(&it, &n) && n == 4294967295u);
	assert_false(imap_seqset_iter_next(&it, &n));
	assert_true(imap_seqset_count(&set) == 4);
	/* the whole number space */
	assert_int_equal(imap_seqset_parse(&set, "1:*", 4294967295u, 10,
					   &error), 1);
	assert_true(imap_seqset_count(&set) == 4294967295ULL);
	/* an empty set */
	assert_int_equal(imap_seqset_parse(&set, "*", 0, 10, &error), 1);
	imap_seqset_iter_init(&it, &set);
	assert_false(imap_seqset_iter_next(&it, &n));
	assert_false(imap_seqset_contains(&set, 0));
	imap_seqset_deinit(&set);
}

/* Many ranges in random order: sorted and merged, membership right. */
static void test_many_ranges(void **state)
{
	static bool in_set[20001];
	struct imap_seqset set;
	const char *error;
	struct buf text;
	uint32_t x = 12345, a, b, n;
	size_t i;

	imap_seqset_init(&set);
	buf_init(&text, 0);
	memset(in_set, 0, sizeof(in_set));
	for (i = 0; i < 5000; i++) {
		x = x * 1103515245 + 12345;
		a = (x >> 8) % 20000 + 1;
		x = x * 1103515245 + 12345;
		b = a + (x >> 8) % 3;
		buf_printf(&text, "%s%u:%u", i > 0 ? "," : "", b, a);
		for (n = a; n <= b; n++)
			in_set[n] = true;
	}
	assert_int_equal(imap_seqset_parse(&set, buf_cstr(&text), 0, 5000,
					   &error), 1);
	for (n = 0; n <= 20000; n++)
		assert_int_equal(imap_seqset_contains(&set, n), in_set[n]);
	assert_int_equal(imap_seqset_parse(&set, buf_cstr(&text), 0, 4999,
					   &error), -1);
	buf_deinit(&text);
	imap_seqset_deinit(&set);
}

struct format_case {
	uint32_t nums[8];
	size_t count;
	int ret;
	const char *out;
};

static const struct format_case format_cases[] = {
	{ { 1, 2, 3, 5 }, 4, 1, "1:3,5" },
	{ { 1, 3, 5 }, 3, 1, "1,3,5" },
	{ { 1, 1, 2, 2 }, 4, 1, "1:2" },
	{ { 7 }, 1, 1, "7" },
	{ { 0 }, 0, 0, "" },
	{ { 3, 2 }, 2, -1, "" },
	{ { 0, 1 }, 2, -1, "" },
	{ { 4294967294u, 4294967295u }, 2, 1, "4294967294:4294967295" },
	{ { 1, 4294967295u }, 2, 1, "1,4294967295" },
	{ { 10, 11, 12, 20, 21, 30 }, 6, 1, "10:12,20:21,30" },
};

static void test_format(void **state)
{
	struct buf out;
	size_t i;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		const struct format_case *c = &format_cases[i];

		buf_reset(&out);
		assert_int_equal(imap_seqset_format(c->nums, c->count, &out),
				 c->ret);
		assert_string_equal(buf_cstr(&out), c->out);
	}
	buf_deinit(&out);
	/* a buffer that is too small is left as it was */
	buf_init(&out, 8);
	buf_puts(&out, "OK ");
	assert_int_equal(imap_seqset_format(format_cases[9].nums, 6, &out), -1);
	assert_string_equal(buf_cstr(&out), "OK ");
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_iterate_edges),
		cmocka_unit_test(test_many_ranges),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
