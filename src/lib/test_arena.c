/*
 * test_arena.c - the bump allocator: alignment, growth, big requests kept
 * beside the current block, zeroed and string allocations, clear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/arena.h"

static void test_empty(void **state)
{
	struct arena a;

	arena_init(&a);
	assert_null(a.blocks);
	assert_int_equal(a.total, 0);
	arena_clear(&a);
	assert_int_equal(a.total, 0);
}

static void test_aligned_and_distinct(void **state)
{
	static const size_t sizes[] = { 1, 3, 8, 15, 16, 17, 100, 1000, 5000, 40000, 0, 7 };
	char *seen[sizeof(sizes) / sizeof(sizes[0])];
	struct arena a;

	arena_init(&a);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		seen[i] = arena_alloc(&a, sizes[i]);
		assert_non_null(seen[i]);
		assert_int_equal((uintptr_t)seen[i] % _Alignof(max_align_t), 0);
		memset(seen[i], (int)i, sizes[i]);
	}
	/* nothing overwrote an earlier allocation */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t k = 0; k < sizes[i]; k++)
			assert_int_equal((unsigned char)seen[i][k], i);
	assert_true(a.total >= 40000 + 5000 + 1000);
	arena_clear(&a);
	assert_null(a.blocks);
	assert_int_equal(a.total, 0);
}

static void test_big_request_keeps_current_block(void **state)
{
	struct arena a;
	char *small, *big, *after;

	arena_init(&a);
	small = arena_alloc(&a, 16);
	big = arena_alloc(&a, 100000);
	after = arena_alloc(&a, 16);
	/* the small block's free space is still used after the big one */
	assert_true(after > small && after - small < 1024);
	memset(big, 1, 100000);
	arena_clear(&a);
}

static void test_zeroed_and_strings(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		const char *want;
	} cases[] = {
		{ "", 0, "" },
		{ NULL, 0, "" },
		{ "INBOX", 5, "INBOX" },
		{ "BODY[TEXT]", 4, "BODY" },
	};
	struct arena a;
	unsigned char *z;

	arena_init(&a);
	for (int round = 0; round < 3; round++) {
		z = arena_alloc(&a, 256);
		memset(z, 0xff, 256);
		z = arena_alloc0(&a, 256);
		for (size_t i = 0; i < 256; i++)
			assert_int_equal(z[i], 0);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(arena_strndup(&a, cases[i].s, cases[i].n), cases[i].want);
	arena_clear(&a);
	/* usable again after clear */
	assert_string_equal(arena_strndup(&a, "Sent", 4), "Sent");
	arena_clear(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_aligned_and_distinct),
		cmocka_unit_test(test_big_request_keeps_current_block),
		cmocka_unit_test(test_zeroed_and_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
