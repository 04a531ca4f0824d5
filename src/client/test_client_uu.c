/*
 * test_client_uu.c - uuencoded blocks in text: found and decoded (LF and
 * CRLF line ends, several blocks, the "`" line missing), and text that
 * only looks like a block left alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "client/client_private.h"

/* "Cat" and "hello world\n" as uuencode(1) writes them */
static const char two[] =
	"Some text\n"
	"begin 644 cat.txt\n"
	"#0V%T\n"
	"`\n"
	"end\n"
	"between\r\n"
	"begin 600 hello world.txt\r\n"
	",:&5L;&\\@=V]R;&0*\r\n"
	"end\r\n"
	"after\n";

static void test_find_and_decode(void **state)
{
	struct client_uu_block b;
	struct buf out;
	size_t pos = 0, len = strlen(two);

	(void)state;
	buf_init(&out, 0);
	assert_int_equal(client_uu_find(two, len, &pos, &b), 1);
	assert_string_equal(b.name, "cat.txt");
	assert_int_equal(b.mode, 0644);
	assert_int_equal(b.start, 10);
	assert_int_equal(client_uu_decode(two, &b, &out), 1);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "Cat", 3);
	assert_int_equal(client_uu_find(two, len, &pos, &b), 1);
	assert_string_equal(b.name, "hello world.txt");
	buf_reset(&out);
	assert_int_equal(client_uu_decode(two, &b, &out), 1);
	assert_int_equal(out.len, 12);
	assert_memory_equal(out.data, "hello world\n", 12);
	assert_memory_equal(two + b.end, "after\n", 6);
	assert_int_equal(client_uu_find(two, len, &pos, &b), 0);
	assert_int_equal(pos, len);
	buf_deinit(&out);
}

/* a line that declares more bytes than its characters carry yields only
 * the bytes they carry: "0V" is 12 bits, one byte, though "#" says 3 */
static void test_short_line(void **state)
{
	static const char text[] = "begin 644 x\n#0V\n`\nend\n";
	struct client_uu_block b;
	struct buf out;
	size_t pos = 0;

	(void)state;
	buf_init(&out, 0);
	assert_int_equal(client_uu_find(text, strlen(text), &pos, &b), 1);
	assert_int_equal(client_uu_decode(text, &b, &out), 1);
	assert_int_equal(out.len, 1);
	assert_memory_equal(out.data, "C", 1);
	buf_deinit(&out);
}

static void test_not_blocks(void **state)
{
	static const char *const texts[] = {
		"begin here we go\nend\n",		/* no mode */
		"begin 644\nend\n",			/* no name */
		"begin 644 x\n#0V%T\n",			/* no end */
		"begin 644 x\nthis is prose, not data\nend\n",
		"to begin 644 x\n#0V%T\nend\n",		/* not at a line start */
	};
	struct client_uu_block b;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t pos = 0;
		assert_int_equal(client_uu_find(texts[i], strlen(texts[i]), &pos, &b), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_and_decode),
		cmocka_unit_test(test_short_line),
		cmocka_unit_test(test_not_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
