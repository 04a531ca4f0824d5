/*
 * test_imap_quote.c - atoms, quoted strings and literals as written into
 * responses; everything written is read back through the IMAP reader and
 * must give the original string.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_parser.h"
#include "lib-imap/imap_quote.h"

enum kind { ASTRING, STRING, NSTRING };

struct quote_case {
	enum kind kind;
	const char *in;		/* NULL: nstring NIL */
	size_t len;		/* 0: strlen(in) */
	bool utf8;
	const char *out;
	size_t out_len;		/* 0: strlen(out) */
};

static const struct quote_case cases[] = {
	{ ASTRING, "INBOX", 0, false, "INBOX", 0 },
	{ ASTRING, "[Gmail]/Sent", 0, false, "[Gmail]/Sent", 0 },
	{ ASTRING, "~peter/mail/&U,BTFw-", 0, false, "~peter/mail/&U,BTFw-", 0 },
	{ ASTRING, "", 0, false, "\"\"", 0 },
	{ ASTRING, "NIL", 0, false, "\"NIL\"", 0 },
	{ ASTRING, "nil", 0, false, "\"nil\"", 0 },
	{ ASTRING, "NILS", 0, false, "NILS", 0 },
	{ ASTRING, "a b", 0, false, "\"a b\"", 0 },
	{ ASTRING, "a%", 0, false, "\"a%\"", 0 },
	{ ASTRING, "a*", 0, false, "\"a*\"", 0 },
	{ ASTRING, "(x)", 0, false, "\"(x)\"", 0 },
	{ ASTRING, "{5}", 0, false, "\"{5}\"", 0 },
	{ ASTRING, "a\"b", 0, false, "\"a\\\"b\"", 0 },
	{ ASTRING, "a\\b", 0, false, "\"a\\\\b\"", 0 },
	{ ASTRING, "\"\\\"", 0, false, "\"\\\"\\\\\\\"\"", 0 },
	{ ASTRING, "a\r\nb", 0, false, "{4}\r\na\r\nb", 0 },
	{ ASTRING, "a\tb", 0, false, "\"a\tb\"", 0 },
	{ ASTRING, "Caf\xc3\xa9", 0, false, "{5}\r\nCaf\xc3\xa9", 0 },
	{ ASTRING, "Caf\xc3\xa9", 0, true, "\"Caf\xc3\xa9\"", 0 },
	{ ASTRING, "\xff", 0, true, "{1}\r\n\xff", 0 },
	{ ASTRING, "\xc3", 0, true, "{1}\r\n\xc3", 0 },
	{ ASTRING, "\xed\xa0\x80", 0, true, "{3}\r\n\xed\xa0\x80", 0 },
	{ ASTRING, "\xf0\x9f\x98\x80", 0, true, "\"\xf0\x9f\x98\x80\"", 0 },
	{ ASTRING, "a\0b", 3, false, "~{3}\r\na\0b", 9 },
	{ STRING, "INBOX", 0, false, "\"INBOX\"", 0 },
	{ STRING, "", 0, false, "\"\"", 0 },
	{ STRING, "line\n", 0, false, "{5}\r\nline\n", 0 },
	{ NSTRING, NULL, 0, false, "NIL", 0 },
	{ NSTRING, "NIL", 0, false, "\"NIL\"", 0 },
	{ NSTRING, "", 0, false, "\"\"", 0 },
};

static size_t in_len(const struct quote_case *c)
{
	return c->in == NULL ? 0 : c->len != 0 ? c->len : strlen(c->in);
}

static int quote(const struct quote_case *c, struct buf *out)
{
	switch (c->kind) {
	case ASTRING:
		return imap_quote_astring(out, c->in, in_len(c), c->utf8);
	case STRING:
		return imap_quote_string(out, c->in, in_len(c), c->utf8);
	default:
		return imap_quote_nstring(out, c->in, in_len(c), c->utf8);
	}
}

/* Read "a1 X <written>" back through the reader: the same string. */
static void read_back(const struct quote_case *c, const struct buf *written)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_event ev;
	struct buf cmd;
	size_t pos = 0, used;
	int ret;

	imap_parser_limits_default(&l);
	p = imap_parser_new(&l);
	buf_init(&cmd, 0);
	buf_puts(&cmd, "a1 X ");
	buf_append(&cmd, written->data, written->len);
	buf_puts(&cmd, "\r\n");
	do {
		ret = imap_parser_feed(p, cmd.data + pos, cmd.len - pos, &used,
				       &ev);
		pos += used;
	} while (ret == 1 && ev.type == IMAP_EVENT_LITERAL);
	assert_int_equal(ret, 1);
	assert_int_equal(ev.type, IMAP_EVENT_COMMAND);
	assert_int_equal(ev.arg_count, 1);
	if (c->in == NULL) {
		assert_int_equal(ev.args[0].type, IMAP_ARG_NIL);
	} else {
		assert_int_equal(ev.args[0].len, in_len(c));
		assert_memory_equal(ev.args[0].str, c->in, in_len(c));
		if (c->kind != ASTRING)
			assert_int_not_equal(ev.args[0].type, IMAP_ARG_ATOM);
	}
	buf_deinit(&cmd);
	imap_parser_free(&p);
}

static void test_cases(void **state)
{
	struct buf out;
	size_t i, out_len;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct quote_case *c = &cases[i];

		out_len = c->out_len != 0 ? c->out_len : strlen(c->out);
		buf_reset(&out);
		assert_int_equal(quote(c, &out), 1);
		if (out.len != out_len || memcmp(out.data, c->out, out_len) != 0)
			fail_msg("case %zu: \"%s\"", i, buf_cstr(&out));
		read_back(c, &out);
	}
	buf_deinit(&out);
}

static void test_predicates(void **state)
{
	assert_true(imap_quote_is_atom("INBOX", 5));
	assert_false(imap_quote_is_atom("", 0));
	assert_false(imap_quote_is_atom("Nil", 3));
	assert_false(imap_quote_is_atom("a b", 3));
	assert_true(imap_quote_is_atom("a]", 2));
	assert_true(imap_quote_is_quotable("", 0, false));
	assert_false(imap_quote_is_quotable("\xc3\xa9", 2, false));
	assert_true(imap_quote_is_quotable("\xc3\xa9", 2, true));
	assert_false(imap_quote_is_quotable("\xe0\x80\x80", 3, true));
	assert_false(imap_quote_is_quotable("\xf4\x90\x80\x80", 4, true));
	assert_false(imap_quote_is_quotable("a\rb", 3, true));
}

/* A buffer at its maximum is left as it was. */
static void test_full_buffer(void **state)
{
	struct buf out;

	buf_init(&out, 10);
	buf_puts(&out, "* ");
	assert_int_equal(imap_quote_string(&out, "0123456789", 10, false), -1);
	assert_string_equal(buf_cstr(&out), "* ");
	assert_int_equal(imap_quote_literal(&out, "a\r\nbcdef", 8), -1);
	assert_string_equal(buf_cstr(&out), "* ");
	assert_int_equal(imap_quote_quoted(&out, "abc\"de", 6), -1);
	assert_string_equal(buf_cstr(&out), "* ");
	assert_int_equal(imap_quote_astring(&out, "abcdefghi", 9, false), -1);
	assert_string_equal(buf_cstr(&out), "* ");
	assert_int_equal(imap_quote_astring(&out, "abc", 3, false), 1);
	assert_string_equal(buf_cstr(&out), "* abc");
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_full_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
