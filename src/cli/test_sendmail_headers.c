/*
 * test_sendmail_headers.c - the header work of `correio sendmail`: the
 * From:, Date: and Message-ID: a message lacks (and only those), the empty
 * line before a body that had none, a leading mbox "From " line, the size
 * limit; and the recipients -t takes from To:, Cc: and Bcc:.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "lib/buf.h"

/*
 * Does text match the expected lines?  An expected line ending in '*'
 * matches any line that starts with what comes before the '*'.
 */
static void assert_lines(const char *text, const char *const *expect, size_t n)
{
	const char *p = text;

	for (size_t i = 0; i < n; i++) {
		const char *nl = strchr(p, '\n');
		size_t len = strlen(expect[i]);
		assert_non_null(nl);
		if (len > 0 && expect[i][len - 1] == '*') {
			assert_true((size_t)(nl - p) >= len - 1);
			assert_memory_equal(p, expect[i], len - 1);
		} else {
			assert_int_equal((size_t)(nl - p), len);
			assert_memory_equal(p, expect[i], len);
		}
		p = nl + 1;
	}
	assert_string_equal(p, "");
}

struct complete_case {
	const char *in;
	const char *out[10];
};

static const struct complete_case complete_cases[] = {
	{ "Subject: x\n\nbody\n",
	  { "From: Me <me@example.org>", "Date: *", "Message-ID: <*", "Subject: x", "",
	    "body" } },
	/* a body without a header section gets the empty line */
	{ "just a line\n",
	  { "From: Me <me@example.org>", "Date: *", "Message-ID: <*", "", "just a line" } },
	/* ...and so does one that follows the header fields directly */
	{ "Subject: x\nno empty line\n",
	  { "From: Me <me@example.org>", "Date: *", "Message-ID: <*", "Subject: x", "",
	    "no empty line" } },
	/* only what is missing, names in any case */
	{ "FROM: a@example.net\nsubject: y\n\nb\n",
	  { "Date: *", "Message-ID: <*", "FROM: a@example.net", "subject: y", "", "b" } },
	{ "date: Mon, 1 Jan 2024 00:00:00 +0000\nMESSAGE-id: <1@x>\n\nb\n",
	  { "From: Me <me@example.org>", "date: Mon, 1 Jan 2024 00:00:00 +0000",
	    "MESSAGE-id: <1@x>", "", "b" } },
	/* a continuation line is no field of its own */
	{ "Subject: one\n From: two\n\nb\n",
	  { "From: Me <me@example.org>", "Date: *", "Message-ID: <*", "Subject: one",
	    " From: two", "", "b" } },
	/* in the body, a From: is text */
	{ "Subject: z\n\nFrom: body\n",
	  { "From: Me <me@example.org>", "Date: *", "Message-ID: <*", "Subject: z", "",
	    "From: body" } },
	/* an mbox envelope line is dropped */
	{ "From me@example.org Mon Jan  1 00:00:00 2024\nSubject: m\n\nb\n",
	  { "From: Me <me@example.org>", "Date: *", "Message-ID: <*", "Subject: m", "",
	    "b" } },
	{ "",
	  { "From: Me <me@example.org>", "Date: *", "Message-ID: <*" } },
};

static size_t count_lines(const char *const *out)
{
	size_t n = 0;

	while (n < 10 && out[n] != NULL)
		n++;
	return n;
}

static void test_complete(void **state)
{
	for (size_t i = 0; i < sizeof(complete_cases) / sizeof(complete_cases[0]); i++) {
		const struct complete_case *c = &complete_cases[i];
		struct buf msg;

		buf_init(&msg, 0);
		buf_puts(&msg, c->in);
		assert_int_equal(sendmail_complete_headers(&msg, "Me <me@example.org>",
							   "mx.example.org"), 1);
		assert_lines(buf_cstr(&msg), c->out, count_lines(c->out));
		buf_deinit(&msg);
	}
}

static void test_complete_nothing_missing(void **state)
{
	static const char text[] = "From: a@example.net\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
				   "Message-ID: <1@example.net>\r\n\r\nbody\r\n";
	struct buf msg;

	buf_init(&msg, 0);
	buf_puts(&msg, text);
	assert_int_equal(sendmail_complete_headers(&msg, "x@example.org", "h"), 1);
	assert_string_equal(buf_cstr(&msg), text);
	buf_deinit(&msg);
}

static void test_message_id_form(void **state)
{
	struct buf a, b;
	const char *ida, *idb;

	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_puts(&a, "\nx\n");
	buf_puts(&b, "\nx\n");
	assert_int_equal(sendmail_complete_headers(&a, "me@example.org", "mx.example.org"), 1);
	assert_int_equal(sendmail_complete_headers(&b, "me@example.org", "mx.example.org"), 1);
	ida = strstr(buf_cstr(&a), "Message-ID: <");
	idb = strstr(buf_cstr(&b), "Message-ID: <");
	assert_non_null(ida);
	assert_non_null(idb);
	assert_non_null(strstr(ida, "@mx.example.org>\n\nx\n"));
	assert_true(strcmp(ida, idb) != 0);		/* unique */
	buf_deinit(&a);
	buf_deinit(&b);
}

static void test_complete_too_big(void **state)
{
	struct buf msg;

	buf_init(&msg, 20);
	buf_puts(&msg, "Subject: x\n\nbody\n");
	assert_int_equal(sendmail_complete_headers(&msg, "me@example.org", "h"), -1);
	assert_string_equal(buf_cstr(&msg), "Subject: x\n\nbody\n");
	buf_deinit(&msg);
}

static void test_recipients(void **state)
{
	struct buf msg, rcpts;

	buf_init(&msg, 0);
	buf_init(&rcpts, 0);
	buf_puts(&msg, "To: A <a@example.org>, b@example.org\nCc: list:;\n"
		       "Bcc: c@example.net\nSubject: s\n\nTo: d@example.org\n");
	assert_int_equal(sendmail_headers(&msg, &rcpts), 3);
	assert_string_equal(buf_cstr(&rcpts), " a@example.org b@example.org c@example.net");
	assert_null(strstr(buf_cstr(&msg), "Bcc"));

	buf_reset(&rcpts);
	buf_reset(&msg);
	buf_puts(&msg, "To: undisclosed-recipients:;\nSubject: s\n\nbody\n");
	assert_int_equal(sendmail_headers(&msg, &rcpts), 0);
	buf_reset(&msg);
	buf_puts(&msg, "Subject: no recipients\n\nTo: body@example.org\n");
	assert_int_equal(sendmail_headers(&msg, &rcpts), 0);
	assert_string_equal(buf_cstr(&rcpts), "");
	buf_deinit(&msg);
	buf_deinit(&rcpts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_complete_nothing_missing),
		cmocka_unit_test(test_message_id_form),
		cmocka_unit_test(test_complete_too_big),
		cmocka_unit_test(test_recipients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
