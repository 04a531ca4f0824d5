/*
 * test_imap_url.c - the IMAP URLs of CATENATE: the forms RFC 5092 and
 * RFC 4469 show, case, %-encoding, and what is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_url.h"

static void test_good(void **state)
{
	static const struct {
		const char *in, *mailbox, *section;
		uint32_t uidvalidity, uid;
		bool partial;
		uint32_t offset, length;
	} cases[] = {
		{ "/INBOX/;UID=20", "INBOX", "", 0, 20, false, 0, 0 },
		{ "/INBOX;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2", "INBOX", "1.2",
		  385759045, 20, false, 0, 0 },
		{ "/box/;uid=3/;section=header", "box", "HEADER", 0, 3, false, 0, 0 },
		{ "/box/;uid=3/;section=text/;partial=100000.1", "box", "TEXT", 0, 3, true,
		  100000, 1 },
		{ "/box/;uid=3/;partial=0", "box", "", 0, 3, true, 0, 0 },
		{ "/My%20Box/Sub/;UID=7", "My Box/Sub", "", 0, 7, false, 0, 0 },
		{ "/a%2fb%C3%A9/;UID=7", "a/b\xc3\xa9", "", 0, 7, false, 0, 0 },
		{ "imap://joe@example.org/INBOX/;UID=9/;SECTION=1.MIME", "INBOX", "1.MIME", 0, 9,
		  false, 0, 0 },
		{ "/INBOX/;UID=4294967295", "INBOX", "", 0, 4294967295u, false, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_url u;
		const char *error = NULL;

		assert_int_equal(imap_url_parse(cases[i].in, &u, &error), 1);
		assert_string_equal(u.mailbox, cases[i].mailbox);
		assert_string_equal(u.section, cases[i].section);
		assert_int_equal(u.uidvalidity, cases[i].uidvalidity);
		assert_int_equal(u.uid, cases[i].uid);
		assert_int_equal(u.partial, cases[i].partial);
		assert_int_equal(u.partial_offset, cases[i].offset);
		assert_int_equal(u.partial_length, cases[i].length);
	}
}

static void test_bad(void **state)
{
	static const char *const cases[] = {
		"", "INBOX/;UID=1", "/", "/INBOX", "/INBOX/", "/INBOX/;UID=0", "/INBOX/;UID=x",
		"/INBOX/;UID=4294967296", "/INBOX/;UID=1/;UID=2", "/;UID=1",
		"/INBOX;UIDVALIDITY=0/;UID=1", "/INBOX;FOO=1/;UID=1", "/INBOX/;SECTION=1",
		"/INBOX/;UID=1/;SECTION=1/;SECTION=2", "/INBOX/;UID=1/;PARTIAL=1.0",
		"/INBOX/;UID=1/;PARTIAL=.5", "/INBOX/;UID=1/;PARTIAL=1/;SECTION=2",
		"/IN%ZZBOX/;UID=1", "/IN%0/;UID=1", "/IN%00BOX/;UID=1", "/INBOX/;UID=1x",
		"/INBOX/;UID=1/junk", "imap://host", "http://x/INBOX/;UID=1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_url u;
		const char *error = NULL;

		if (imap_url_parse(cases[i], &u, &error) != -1)
			fail_msg("accepted: %s", cases[i]);
		assert_non_null(error);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
