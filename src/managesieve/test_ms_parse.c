/*
 * test_ms_parse.c - the ManageSieve command parser: atoms, quoted strings
 * with escapes, literals {n+} and {n}, errors that skip the rest of the
 * line (and a literal announced at its end), the size cap checked on a
 * literal's header; every input gives the same events whole, byte by
 * byte, and split in two at every offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "managesieve/managesieve.h"

#define CAP 64

/* The events of feeding in[0..len) in pieces of at most step bytes (0:
   whole), or split once at split, as text: "[A:NAME S:arg]" per command,
   "E" per error, "B" per literal too big. */
static void trace(const char *in, size_t len, size_t step, size_t split, struct buf *out)
{
	struct ms_parser p;
	size_t pos = 0;

	ms_parser_init(&p, CAP);
	buf_reset(out);
	while (pos < len) {
		size_t n = len - pos;
		enum ms_event ev;
		if (step > 0 && n > step)
			n = step;
		if (split > 0 && pos < split && pos + n > split)
			n = split - pos;
		size_t used = ms_parse(&p, in + pos, n, &ev);
		assert_true(used <= n);
		assert_true(used > 0 || ev != MS_MORE);
		pos += used;
		if (ev == MS_COMMAND) {
			buf_putc(out, '[');
			for (unsigned i = 0; i < p.n_args; i++) {
				size_t l;
				const char *t = ms_arg_text(&p, i, &l);
				buf_printf(out, "%s%c:", i ? " " : "", p.args[i].kind == MS_ATOM ? 'A' : 'S');
				buf_append(out, t, l);
				assert_int_equal(t[l], '\0');
			}
			buf_putc(out, ']');
		} else if (ev == MS_ERROR) {
			buf_putc(out, 'E');
		} else if (ev == MS_TOO_BIG) {
			buf_putc(out, 'B');
		}
	}
	ms_parser_deinit(&p);
}

/* in gives want, however it is cut. */
static void check(const char *in, size_t len, const char *want)
{
	struct buf got;

	buf_init(&got, 0);
	trace(in, len, 0, 0, &got);
	assert_string_equal(buf_cstr(&got), want);
	trace(in, len, 1, 0, &got);
	assert_string_equal(buf_cstr(&got), want);
	for (size_t k = 1; k < len; k++) {
		trace(in, len, 0, k, &got);
		assert_string_equal(buf_cstr(&got), want);
	}
	buf_deinit(&got);
}

#define CHECK(in, want) check(in, sizeof(in) - 1, want)

static void test_atoms_and_quoted(void **state)
{
	CHECK("CAPABILITY\r\n", "[A:CAPABILITY]");
	CHECK("logout\n", "[A:logout]");
	CHECK("\r\n\r\nNOOP\r\n", "[A:NOOP]");
	CHECK("HAVESPACE \"my script\" 1000\r\n", "[A:HAVESPACE S:my script A:1000]");
	CHECK("NOOP \"a\\\"b\\\\c\"\r\n", "[A:NOOP S:a\"b\\c]");
	CHECK("SETACTIVE \"\"\r\nLISTSCRIPTS\r\n", "[A:SETACTIVE S:][A:LISTSCRIPTS]");
}

static void test_literals(void **state)
{
	CHECK("PUTSCRIPT \"s\" {7+}\r\nkeep;\r\n\r\n", "[A:PUTSCRIPT S:s S:keep;\r\n]");
	CHECK("PUTSCRIPT \"s\" {5}\r\nkeep;\r\nNOOP\r\n", "[A:PUTSCRIPT S:s S:keep;][A:NOOP]");
	CHECK("CHECKSCRIPT {0+}\r\n\r\n", "[A:CHECKSCRIPT S:]");
	/* a literal may hold anything, quotes and braces included */
	CHECK("X {2+}\r\n\"{\r\n", "[A:X S:\"{]");
}

static void test_errors_skip_the_line(void **state)
{
	CHECK("NOOP \"a\nNOOP\r\n", "E[A:NOOP]");
	CHECK("NOOP \"a\\x\"\r\nNOOP\r\n", "E[A:NOOP]");
	CHECK("NOOP \"a\"b\r\nNOOP\r\n", "E[A:NOOP]");
	CHECK("NOOP (x)\r\nNOOP\r\n", "E[A:NOOP]");
	CHECK("NOOP {x}\r\nNOOP\r\n", "E[A:NOOP]");
	CHECK("NOOP {}\r\nNOOP\r\n", "E[A:NOOP]");
	CHECK("NOOP\rX\r\nNOOP\r\n", "E[A:NOOP]");
	CHECK("A B C D E F\r\nNOOP\r\n", "E[A:NOOP]");
	/* an error before a literal: its octets are skipped with the line */
	CHECK("A B C D E \"f\" {6+}\r\nNOOP\r\n\r\nNOOP\r\n", "E[A:NOOP]");
}

static void test_literal_cap(void **state)
{
	/* refused on its header: the octets are skipped, then the next command */
	CHECK("PUTSCRIPT \"s\" {65+}\r\n"
	      "0123456789012345678901234567890123456789012345678901234567890123\n"
	      "\r\nNOOP\r\n", "B[A:NOOP]");
	CHECK("PUTSCRIPT \"s\" {64+}\r\n"
	      "0123456789012345678901234567890123456789012345678901234567890123"
	      "\r\n", "[A:PUTSCRIPT S:s S:"
	      "0123456789012345678901234567890123456789012345678901234567890123]");
	CHECK("X {99999999999999999999+}\r\nNOOP\r\n", "E[A:NOOP]");
}

static void test_refused_before_octets(void **state)
{
	struct ms_parser p;
	enum ms_event ev;
	const char head[] = "PUTSCRIPT \"s\" {1000000+}";

	ms_parser_init(&p, CAP);
	assert_int_equal(ms_parse(&p, head, sizeof(head) - 1, &ev), sizeof(head) - 1);
	assert_int_equal(ev, MS_TOO_BIG);
	assert_true(p.data.len < 100);
	ms_parser_deinit(&p);
}

static void test_token_bound(void **state)
{
	static char line[MS_TOKEN_MAX + 20];
	struct buf got;

	memset(line, 'a', sizeof(line));
	memcpy(line + sizeof(line) - 8, "\r\nN\r\n", 5);
	buf_init(&got, 0);
	trace(line, sizeof(line) - 3, 0, 0, &got);
	assert_string_equal(buf_cstr(&got), "E[A:N]");
	buf_deinit(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atoms_and_quoted),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_errors_skip_the_line),
		cmocka_unit_test(test_literal_cap),
		cmocka_unit_test(test_refused_before_octets),
		cmocka_unit_test(test_token_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
