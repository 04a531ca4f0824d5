/*
 * test_dovecot_files.c - unit tests of the dovecot-uidlist and
 * dovecot-keywords readers, with the files as Dovecot writes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

struct seen {
	char text[1024];
};

static void on_record(void *ctx, uint32_t uid, const char *name, size_t len)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%u=%.*s;", uid, (int)len, name);
}

static void on_keyword(void *ctx, unsigned index, const char *name, size_t len)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%u=%.*s;", index, (int)len, name);
}

static void test_uidlist_v3(void **state)
{
	const char *t = "3 V1600000001 N12 G0123456789abcdef0123456789abcdef\n"
			"3 :1700000000.M1P10.old\n"
			"7 W310 S300 :1700000005.M2P10.old,S=300,W=310\n"
			"x :garbage\n"
			"9 :../escape\n"
			"11 :1700000020.M4P10.old";	/* no final newline */
	struct seen s = { "" };
	uint32_t v, next;

	assert_int_equal(dovecot_uidlist_parse(t, strlen(t), &v, &next, on_record, &s), 1);
	assert_int_equal(v, 1600000001);
	assert_int_equal(next, 12);
	assert_string_equal(s.text, "3=1700000000.M1P10.old;"
			    "7=1700000005.M2P10.old,S=300,W=310;11=1700000020.M4P10.old;");
}

static void test_uidlist_v1(void **state)
{
	const char *t = "1 1185001000 4\n1 1185000000.P123Q1.host\n3 1185000001.P123Q2.host\n";
	struct seen s = { "" };
	uint32_t v, next;

	assert_int_equal(dovecot_uidlist_parse(t, strlen(t), &v, &next, on_record, &s), 1);
	assert_int_equal(v, 1185001000);
	assert_int_equal(next, 4);
	assert_string_equal(s.text, "1=1185000000.P123Q1.host;3=1185000001.P123Q2.host;");
}

static void test_uidlist_bad_header(void **state)
{
	static const char *bad[] = { "", "3 N5\n1 :a\n", "3 V0 N5\n", "9 V1 N2\n",
				     "3 V99999999999 N2\n", "1 12\n", "V1 N2\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seen s = { "" };
		uint32_t v = 7, next = 7;
		assert_int_equal(dovecot_uidlist_parse(bad[i], strlen(bad[i]), &v, &next,
						       on_record, &s), 0);
		assert_int_equal(v, 0);
		assert_string_equal(s.text, "");
	}
}

static void test_keywords(void **state)
{
	const char *t = "0 $Forwarded\n1 Work\nx bad\n26 over\n3\n25 Last\n2 $Junk";
	struct seen s = { "" };

	dovecot_keywords_parse(t, strlen(t), on_keyword, &s);
	assert_string_equal(s.text, "0=$Forwarded;1=Work;25=Last;2=$Junk;");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uidlist_v3),
		cmocka_unit_test(test_uidlist_v1),
		cmocka_unit_test(test_uidlist_bad_header),
		cmocka_unit_test(test_keywords),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
