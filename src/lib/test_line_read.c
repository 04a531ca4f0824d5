/*
 * test_line_read.c - capped command lines out of an evbuffer: whole,
 * byte by byte, CR LF and bare LF, and over-long lines dropped without
 * losing the next line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "lib/line_read.h"

#define MAX 16

/* Feed text (all at once, or one byte at a time) and collect what comes
   out: each line followed by "|", each over-long line as "!". */
static void run(const char *text, bool bytewise, char *out, size_t size)
{
	struct evbuffer *in = evbuffer_new();
	char line[MAX + 1];
	size_t len, n = strlen(text), o = 0;
	bool skip = false;

	out[0] = '\0';
	for (size_t i = 0; i < n; i += bytewise ? 1 : n) {
		int ret;
		evbuffer_add(in, text + i, bytewise ? 1 : n);
		while ((ret = line_read(in, line, MAX, &len, &skip)) != 0) {
			if (ret < 0) {
				o += (size_t)snprintf(out + o, size - o, "!");
				continue;
			}
			assert_int_equal(strlen(line), len);
			o += (size_t)snprintf(out + o, size - o, "%s|", line);
		}
	}
	evbuffer_free(in);
}

static void test_lines(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" },
		{ "NOOP\r\n", "NOOP|" },
		{ "NOOP\n", "NOOP|" },
		{ "NOOP", "" },
		{ "\r\n\r\n", "||" },
		{ "A\r\nB\nC\r\n", "A|B|C|" },
		{ "a\rb\r\n", "a\rb|" },
		{ "12345678901234\r\n", "12345678901234|" },	/* 16 with CR LF */
		{ "123456789012345\r\n", "!" },			/* 17 */
		{ "123456789012345\r\nQUIT\r\n", "!QUIT|" },
		{ "12345678901234567890123456789012345678\r\nQUIT\r\n", "!QUIT|" },
		{ "USER a\r\n12345678901234567890\nPASS b\r\n", "USER a|!PASS b|" },
	};
	char out[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run(cases[i].in, false, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
		run(cases[i].in, true, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
