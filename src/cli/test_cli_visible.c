/*
 * test_cli_visible.c - text from elsewhere as the CLI shows it on a
 * terminal: control characters and DEL as \xNN, line breaks kept only
 * when asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "lib/buf.h"

static void check(const char *in, bool lines, const char *want)
{
	struct buf out;

	buf_init(&out, 0);
	cli_visible(&out, in, lines);
	assert_string_equal(buf_cstr(&out), want);
	buf_deinit(&out);
}

static void test_escapes(void **state)
{
	check("", false, "");
	check("plain text, caf\xc3\xa9", false, "plain text, caf\xc3\xa9");
	check("\x1b[31mred\x7f", false, "\\x1b[31mred\\x7f");
	check("a\tb\r\nc\n", false, "a\\x09b\\x0d\\x0ac\\x0a");
	check("\x01\x1f ~", false, "\\x01\\x1f ~");
}

static void test_lines(void **state)
{
	/* a header section: TAB, LF and the CR of CRLF stay */
	check("Subject: a\tb\r\n", true, "Subject: a\tb\r\n");
	check("X: 1\n", true, "X: 1\n");
	check("bare\rcr\r", true, "bare\\x0dcr\\x0d");
	check("\x1b]0;title\x07\r\n", true, "\\x1b]0;title\\x07\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
