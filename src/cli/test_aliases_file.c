/*
 * test_aliases_file.c - unit tests of the aliases(5) reader of newaliases:
 * entries, continuation lines, quotes, comments, the kinds of value, and
 * lines that are not entries; the file whole, byte by byte in its lines'
 * places (every split of an entry gives the same entries).
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
	char text[2048];
};

/* "line:name=v1|v2;" or "line:!error;" per entry */
static void on_entry(void *ctx, const struct aliases_entry *en)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);

	if (en->error != NULL) {
		snprintf(s->text + n, sizeof(s->text) - n, "%u:!%s;", en->line, en->error);
		return;
	}
	n += (size_t)snprintf(s->text + n, sizeof(s->text) - n, "%u:%s=", en->line, en->name);
	for (unsigned i = 0; i < en->n_values && n < sizeof(s->text); i++)
		n += (size_t)snprintf(s->text + n, sizeof(s->text) - n, "%s%s",
				      i > 0 ? "|" : "", en->values[i]);
	if (n < sizeof(s->text))
		snprintf(s->text + n, sizeof(s->text) - n, ";");
}

static const char *parse(const char *text, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	aliases_parse(text, strlen(text), on_entry, s);
	return s->text;
}

static void test_entries(void **state)
{
	struct seen s;
	const char *t =
		"# See man 5 aliases for format\n"
		"postmaster:    root\n"
		"\n"
		"root: alice\n"
		"\"staff\":  alice, bob@example.org,\n"
		"\tcarol@elsewhere.example\n"
		"  ,dave\n"
		"# a comment between entries\n"
		"prog: \"|/usr/bin/vacation alice, bob\"\n"
		"archive: /var/mail/archive\r\n"
		"lists: :include:/etc/mail/lists\n"
		"no colon here\n"
		"empty:\n"
		"two words: x\n"
		"last: end";

	assert_string_equal(parse(t, &s),
		"2:postmaster=root;"
		"4:root=alice;"
		"5:staff=alice|bob@example.org|carol@elsewhere.example|dave;"
		"9:prog=|/usr/bin/vacation alice, bob;"
		"10:archive=/var/mail/archive;"
		"11:lists=:include:/etc/mail/lists;"
		"12:!no ':' after the name;"
		"13:!no value after the ':';"
		"14:!a bad name before the ':';"
		"15:last=end;");
}

static void test_value_kinds(void **state)
{
	assert_int_equal(aliases_value_kind("|/bin/true"), ALIASES_PIPE);
	assert_int_equal(aliases_value_kind("/var/mail/x"), ALIASES_FILE);
	assert_int_equal(aliases_value_kind(":include:/etc/x"), ALIASES_INCLUDE);
	assert_int_equal(aliases_value_kind(":INCLUDE:/etc/x"), ALIASES_INCLUDE);
	assert_int_equal(aliases_value_kind("root"), ALIASES_ADDRESS);
	assert_int_equal(aliases_value_kind("a@b.example"), ALIASES_ADDRESS);
}

static void test_limits(void **state)
{
	static char big[ALIASES_ENTRY_MAX + 100];
	struct seen s;

	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "x: ", 3);
	assert_string_equal(parse(big, &s), "1:!the entry is too long;");
	memset(&s, 0, sizeof(s));
	aliases_parse("a: b\0c\nd: e\n", 12, on_entry, &s);
	assert_string_equal(s.text, "1:!a NUL byte in the entry;2:d=e;");
	assert_string_equal(parse("", &s), "");
	assert_string_equal(parse("\n\n#x\n  \n", &s), "");
	assert_string_equal(parse(":x\n", &s), "1:!a bad name before the ':';");
	/* a name runs over a continuation line; a value of quotes alone */
	assert_string_equal(parse("a@b.example,\n\tc: d\n", &s),
			    "1:!a bad name before the ':';");
	assert_string_equal(parse("x: \"\", y\nz: \"\"\n", &s),
			    "1:x=y;2:!no value after the ':';");
}

/* The entries do not depend on where the text ends: each prefix of the
   file up to a line end gives the entries of those lines. */
static void test_prefixes(void **state)
{
	const char *t = "a: b\nc: d,\n e\nf: g\n";
	static const char *const want[] = {
		"", "1:a=b;", "1:a=b;2:c=d;", "1:a=b;2:c=d|e;", "1:a=b;2:c=d|e;4:f=g;",
	};
	struct seen s;
	size_t k = 0;

	for (size_t len = 0; len <= strlen(t); len++) {
		if (len > 0 && t[len - 1] != '\n')
			continue;
		memset(&s, 0, sizeof(s));
		aliases_parse(t, len, on_entry, &s);
		assert_string_equal(s.text, want[k]);
		k++;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_value_kinds),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
