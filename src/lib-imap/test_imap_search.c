/*
 * test_imap_search.c - SEARCH programs: every key, RETURN and CHARSET,
 * normalisation and errors (table-driven, checked through the written
 * form and its round trip); what each key needs of a message; folding
 * and matching; Date: header days; ESEARCH responses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_search.h"

/* Read "a SEARCH <keys>" with the command reader; NULL on a reader error. */
static struct imap_parser *read_command(const char *keys, struct imap_event *ev)
{
	struct imap_parser_limits limits;
	struct imap_parser *p;
	struct buf line;
	size_t pos = 0, used;
	int ret;

	imap_parser_limits_default(&limits);
	p = imap_parser_new(&limits);
	buf_init(&line, 0);
	buf_printf(&line, "a SEARCH %s\r\n", keys);
	do {
		ret = imap_parser_feed(p, line.data + pos, line.len - pos, &used, ev);
		pos += used;
	} while (ret > 0 && ev->type != IMAP_EVENT_COMMAND);
	buf_deinit(&line);
	if (ret <= 0) {
		imap_parser_free(&p);
		return NULL;
	}
	return p;
}

/* Parse keys; *out gets the written program or the error text. */
static int parse_keys(const char *keys, uint32_t messages, uint32_t max_uid,
		      struct buf *out, unsigned *need_r)
{
	struct imap_search_params params = { messages, max_uid, 0, NULL };
	struct imap_search_program *prog = NULL;
	struct imap_event ev;
	struct imap_parser *p = read_command(keys, &ev);
	const char *error = NULL;
	int ret;

	assert_non_null(p);
	ret = imap_search_parse(ev.args, &params, &prog, &error);
	if (ret > 0) {
		assert_int_equal(imap_search_write(prog, out), 1);
		if (need_r != NULL)
			*need_r = prog->need;
		imap_search_program_free(&prog);
		assert_null(prog);
	} else if (ret < 0) {
		buf_puts(out, error);
	}
	imap_parser_free(&p);
	return ret;
}

struct search_case {
	const char *in;
	int ret;
	const char *out;	/* the normalised program, or the error */
};

#define OK(in, out) { in, 1, out }
#define BAD(in, err) { in, -1, err }

static const struct search_case cases[] = {
	OK("ALL", "ALL"),
	OK("all", "ALL"),
	OK("ANSWERED DELETED DRAFT FLAGGED SEEN", "ANSWERED DELETED DRAFT FLAGGED SEEN"),
	OK("UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
	   "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN"),
	OK("NEW", "(RECENT UNSEEN)"),
	OK("OLD", "NOT RECENT"),
	OK("RECENT", "RECENT"),
	OK("FROM joao", "HEADER FROM \"joao\""),
	OK("TO \"Ana Maria\" CC x BCC y", "HEADER TO \"ana maria\" HEADER CC \"x\" HEADER BCC \"y\""),
	OK("SUBJECT \"Ação\"", "HEADER SUBJECT \"ação\""),
	OK("HEADER X-Spam-Flag YES", "HEADER X-Spam-Flag \"yes\""),
	OK("HEADER \"Message-ID\" \"\"", "HEADER Message-ID \"\""),
	OK("BODY {5}\r\nHello", "BODY \"hello\""),
	OK("TEXT \"ΚΑΛΗΜΕΡΑ\"", "TEXT \"καλημερα\""),
	OK("TEXT \"a\\\"b\"", "TEXT \"a\\\"b\""),
	OK("KEYWORD $Forwarded UNKEYWORD Junk", "KEYWORD $Forwarded UNKEYWORD Junk"),
	OK("KEYWORD \\Seen UNKEYWORD \\flagged", "SEEN UNFLAGGED"),
	OK("KEYWORD \\Recent", "KEYWORD \\Recent"),
	OK("LARGER 100 SMALLER 9223372036854775807",
	   "LARGER 100 SMALLER 9223372036854775807"),
	OK("older 3600 YOUNGER 86400", "OLDER 3600 YOUNGER 86400"),
	OK("OR OLDER 1 NOT YOUNGER 2", "OR OLDER 1 NOT YOUNGER 2"),
	OK("BEFORE 1-Feb-1994 ON \"02-mar-2024\" SINCE 31-Dec-1999",
	   "BEFORE 01-Feb-1994 ON 02-Mar-2024 SINCE 31-Dec-1999"),
	OK("SENTBEFORE 1-Feb-1994 SENTON 1-Feb-1994 SENTSINCE 1-Feb-1994",
	   "SENTBEFORE 01-Feb-1994 SENTON 01-Feb-1994 SENTSINCE 01-Feb-1994"),
	OK("1:3,7", "1:3,7"),
	OK("2:*", "2:10"),
	OK("*", "10"),
	OK("UID 5:*", "UID 5:500"),
	OK("UID 1000:*", "UID 500:1000"),
	OK("NOT SEEN", "NOT SEEN"),
	OK("NOT NOT SEEN", "NOT NOT SEEN"),
	OK("OR SEEN FLAGGED", "OR SEEN FLAGGED"),
	OK("OR OR FROM a TO b SUBJECT c", "OR OR HEADER FROM \"a\" HEADER TO \"b\" HEADER SUBJECT \"c\""),
	OK("(SEEN FLAGGED) DELETED", "(SEEN FLAGGED) DELETED"),
	OK("OR (FROM bob SINCE 1-Jan-2024) NOT (SEEN (UNDELETED))",
	   "OR (HEADER FROM \"bob\" SINCE 01-Jan-2024) NOT (SEEN (UNDELETED))"),
	OK("CHARSET UTF-8 FROM x", "HEADER FROM \"x\""),
	OK("CHARSET us-ascii ALL", "ALL"),
	OK("CHARSET \"UTF-8\" ALL", "ALL"),
	OK("RETURN () ALL", "RETURN (ALL) ALL"),
	OK("RETURN (MIN MAX COUNT) SEEN", "RETURN (MIN MAX COUNT) SEEN"),
	OK("RETURN (count all) CHARSET UTF-8 SEEN", "RETURN (ALL COUNT) SEEN"),
	BAD("", "search key expected"),
	BAD("FOO", "unknown search key"),
	BAD("FROM", "search string expected"),
	BAD("FROM (a)", "search string expected"),
	BAD("HEADER Subject", "search string expected"),
	BAD("HEADER \"\" x", "HEADER needs a field name"),
	BAD("BEFORE 1-Foo-2024", "bad date (d-Mon-yyyy)"),
	BAD("BEFORE 1-Feb-94", "bad date (d-Mon-yyyy)"),
	BAD("ON", "bad date (d-Mon-yyyy)"),
	OK("MODSEQ 5", "MODSEQ 5"),
	OK("modseq \"/flags/\\\\draft\" all 620162338", "MODSEQ 620162338"),
	OK("MODSEQ \"/flags/$Work\" priv 0", "MODSEQ 0"),
	BAD("MODSEQ \"/flags/\\\\draft\" 7", "MODSEQ entry type must be priv, shared or all"),
	BAD("MODSEQ \"/annotation/x\" all 7", "MODSEQ entry must be /flags/<flag>"),
	BAD("MODSEQ 9223372036854775808", "number expected"),
	BAD("MODSEQ", "number expected"),
	BAD("LARGER x", "number expected"),
	BAD("OLDER", "number expected"),
	BAD("YOUNGER -5", "number expected"),
	BAD("LARGER -1", "number expected"),
	BAD("SMALLER 9223372036854775808", "number expected"),
	BAD("KEYWORD", "keyword expected"),
	BAD("KEYWORD \"a b\"", "keyword expected"),
	BAD("UID", "sequence set expected"),
	BAD("UID x", "Invalid sequence set"),
	BAD("UID 0", "Invalid sequence number 0"),
	BAD("1:", "Invalid sequence set"),
	BAD("$", "no SEARCHRES here"),
	OK("RETURN (SAVE) SEEN", "RETURN (SAVE) SEEN"),
	OK("RETURN (SAVE MIN) 1:3", "RETURN (MIN SAVE) 1:3"),
	BAD("RETURN (SAVE FOO) ALL", "unknown RETURN option"),
	BAD("NOT", "search key expected"),
	BAD("OR SEEN", "search key expected"),
	BAD("()", "empty search key list"),
	BAD("(SEEN FOO)", "unknown search key"),
	BAD("\"SEEN\"", "search key expected"),
	BAD("CHARSET", "CHARSET needs a name"),
	BAD("CHARSET UTF-8", "search key expected"),
	BAD("RETURN ALL", "RETURN needs a list of options"),
	BAD("RETURN (SAVE PARTIAL) ALL", "unknown RETURN option"),
	BAD("RETURN (MIN)", "search key expected"),
	BAD("SEEN RETURN (MIN)", "unknown search key"),
};

static void test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct search_case *c = &cases[i];
		struct buf out, again;
		int ret;

		buf_init(&out, 0);
		buf_init(&again, 0);
		ret = parse_keys(c->in, 10, 500, &out, NULL);
		if (ret != c->ret || strcmp(buf_cstr(&out), c->out) != 0)
			fail_msg("SEARCH %s: %d \"%s\", want %d \"%s\"", c->in, ret,
				 buf_cstr(&out), c->ret, c->out);
		if (ret > 0) {
			/* the written form reads back to the same program */
			assert_int_equal(parse_keys(buf_cstr(&out), 10, 500, &again, NULL), 1);
			assert_string_equal(buf_cstr(&again), buf_cstr(&out));
		}
		buf_deinit(&out);
		buf_deinit(&again);
	}
}

static void test_charset(void **state)
{
	static const char *const refused[] = {
		"CHARSET ISO-8859-1 ALL", "CHARSET UTF8 FROM x", "CHARSET \"\" ALL",
		"RETURN (MIN) CHARSET KOI8-R SEEN",
	};
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(parse_keys(refused[i], 10, 500, &out, NULL), 0);
	assert_int_equal(out.len, 0);
	buf_deinit(&out);
}

static void test_empty_mailbox(void **state)
{
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(parse_keys("1:* UID 1:*", 0, 0, &out, NULL), 1);
	assert_string_equal(buf_cstr(&out), "1 UID 1");
	buf_deinit(&out);
}

struct need_case {
	const char *in;
	unsigned need;
};

static void test_need(void **state)
{
	static const struct need_case needs[] = {
		{ "ALL SEEN UID 1:* 1:3 LARGER 5 BEFORE 1-Jan-2000 KEYWORD x", 0 },
		{ "FROM x", IMAP_SEARCH_NEED_HEADER },
		{ "SENTON 1-Jan-2000", IMAP_SEARCH_NEED_HEADER },
		{ "NOT HEADER a b", IMAP_SEARCH_NEED_HEADER },
		{ "OR SEEN BODY x", IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY },
		{ "(SEEN (TEXT x))", IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY },
	};
	struct buf out;
	unsigned need;

	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		assert_int_equal(parse_keys(needs[i].in, 10, 500, &out, &need), 1);
		assert_int_equal(need, needs[i].need);
	}
	buf_deinit(&out);
}

static void test_depth(void **state)
{
	struct imap_search_params params = { 10, 10, 3, NULL };
	struct imap_search_program *prog = NULL;
	struct imap_event ev;
	struct imap_parser *p = read_command("NOT NOT SEEN NOT NOT NOT SEEN", &ev);
	const char *error = NULL;

	assert_int_equal(imap_search_parse(ev.args, &params, &prog, &error), -1);
	assert_string_equal(error, "search program nested too deep");
	assert_null(prog);
	imap_parser_free(&p);
}

static void test_fold(void **state)
{
	static const char *const pairs[][2] = {
		{ "HeLLo World 123", "hello world 123" },
		{ "AÇÃO Ação", "ação ação" },
		{ "ÀÉÎÕÜÝÞ×", "àéîõüýþ×" },
		{ "ĀĞŁŃŒŠŽŸ", "āğłńœšžÿ" },
		{ "ΑΒΓΣΩΆΈΏς", "αβγσωάέώσ" },
		{ "ПРИВЕТ ЁЖ Ђ", "привет ёж ђ" },
		{ "ß€𝄞", "ß€𝄞" },
		{ "\xc3 A\xff\xc3", "\xc3 a\xff\xc3" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		size_t len = strlen(pairs[i][0]);
		char *s = strdup(pairs[i][0]);

		imap_search_fold(s, len);
		assert_int_equal(strlen(pairs[i][1]), len);
		assert_memory_equal(s, pairs[i][1], len);
		imap_search_fold(s, len);
		assert_memory_equal(s, pairs[i][1], len);
		free(s);
	}
}

static void test_match(void **state)
{
	struct buf scratch;

	buf_init(&scratch, 0);
	assert_int_equal(imap_search_match("ação", strlen("ação"), "Uma AÇÃO rápida",
					   strlen("Uma AÇÃO rápida"), &scratch), 1);
	assert_int_equal(imap_search_match("acao", 4, "Uma AÇÃO", strlen("Uma AÇÃO"),
					   &scratch), 0);
	assert_int_equal(imap_search_match("", 0, "", 0, &scratch), 1);
	assert_int_equal(imap_search_match("ab", 2, "a", 1, &scratch), 0);
	assert_int_equal(imap_search_match("b\0c", 3, "AB\0CD", 5, &scratch), 1);
	buf_deinit(&scratch);
	buf_init(&scratch, 4);
	assert_int_equal(imap_search_match("x", 1, "abcdefx", 7, &scratch), -1);
	buf_deinit(&scratch);
}

struct date_case {
	const char *in;
	int ret;
	int64_t day;
};

static void test_date_header(void **state)
{
	static const struct date_case dates[] = {
		{ "Tue, 1 Jul 2003 10:52:37 +0200", 1, 1057017600 },
		{ "  Tue,01 Jul 2003 23:59:59 -1200 (PDT)", 1, 1057017600 },
		{ "1 Jul 2003 00:00:00 +0000", 1, 1057017600 },
		{ "Tue , 1 july 2003 10:52", 1, 1057017600 },
		{ "Fri, 21 Nov 97 09:55:06 GMT", 1, 880070400 },
		{ "21 Nov 03 09:55:06 GMT", 1, 1069372800 },
		{ "21 Nov 103 09:55:06 GMT", 1, 1069372800 },
		{ "1-Jan-2024", 1, 1704067200 },
		{ "", -1, 0 },
		{ "Tue,", -1, 0 },
		{ "Tue, 32 Jul 2003", -1, 0 },
		{ "Tue, 1 Foo 2003", -1, 0 },
		{ "Tue, 1 Ju 2003", -1, 0 },
		{ "1 Jul 2", -1, 0 },
		{ "1 Jul 20031", -1, 0 },
		{ "100 Jul 2003", -1, 0 },
	};
	time_t day;

	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		int ret = imap_search_date_header(dates[i].in, &day);

		if (ret != dates[i].ret || (ret > 0 && (int64_t)day != dates[i].day))
			fail_msg("\"%s\": %d %lld", dates[i].in, ret, (long long)day);
	}
}

static void test_esearch(void **state)
{
	static const uint32_t nums[] = { 1, 2, 3, 7 };
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(imap_search_esearch_write(&out, "a1", false, 0x0f, nums, 4, 0), 1);
	assert_string_equal(buf_cstr(&out),
			    "ESEARCH (TAG \"a1\") MIN 1 MAX 7 ALL 1:3,7 COUNT 4");
	buf_reset(&out);
	assert_int_equal(imap_search_esearch_write(&out, "t", true, 0x0f, nums, 0, 0), 1);
	assert_string_equal(buf_cstr(&out), "ESEARCH (TAG \"t\") UID COUNT 0");
	buf_reset(&out);
	assert_int_equal(imap_search_esearch_write(&out, "t", true, IMAP_SEARCH_RETURN_ALL,
						   nums, 0, 0), 1);
	assert_string_equal(buf_cstr(&out), "ESEARCH (TAG \"t\") UID");
	buf_reset(&out);
	assert_int_equal(imap_search_esearch_write(&out, "t", false, IMAP_SEARCH_RETURN_MAX,
						   nums, 3, 0), 1);
	assert_string_equal(buf_cstr(&out), "ESEARCH (TAG \"t\") MAX 3");
	buf_reset(&out);
	assert_int_equal(imap_search_esearch_write(&out, "t", true, IMAP_SEARCH_RETURN_COUNT,
						   nums, 2, 917162500), 1);
	assert_string_equal(buf_cstr(&out), "ESEARCH (TAG \"t\") UID COUNT 2 MODSEQ 917162500");
	buf_reset(&out);
	assert_int_equal(imap_search_esearch_write(&out, "t", true, IMAP_SEARCH_RETURN_COUNT,
						   nums, 0, 917162500), 1);
	assert_string_equal(buf_cstr(&out), "ESEARCH (TAG \"t\") UID COUNT 0");
	buf_deinit(&out);
	buf_init(&out, 20);
	assert_int_equal(imap_search_esearch_write(&out, "a1", false, 0x0f, nums, 4, 0), -1);
	assert_int_equal(out.len, 0);
	buf_deinit(&out);
}

/* "$" with a saved result (RFC 5182): its UIDs; nothing saved: no match. */
static void test_saved(void **state)
{
	static const struct { const char *saved, *keys, *out; int ret; } saved_cases[] = {
		{ "3:5,9", "$", "UID 3:5,9", 1 },
		{ "3:5,9", "UID $ SEEN", "UID 3:5,9 SEEN", 1 },
		{ "7", "OR $ 1", "OR UID 7 1", 1 },
		{ "", "$", "NOT ALL", 1 },
		{ "3", "$,4", "$ stands alone", -1 },
		{ "3", "$:4", "$ stands alone", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(saved_cases) / sizeof(saved_cases[0]); i++) {
		struct imap_search_params params = { 10, 20, 0, saved_cases[i].saved };
		struct imap_search_program *prog = NULL;
		struct imap_event ev;
		struct imap_parser *p = read_command(saved_cases[i].keys, &ev);
		const char *error = NULL;
		struct buf out;

		assert_non_null(p);
		buf_init(&out, 0);
		assert_int_equal(imap_search_parse(ev.args, &params, &prog, &error), saved_cases[i].ret);
		if (saved_cases[i].ret > 0)
			assert_int_equal(imap_search_write(prog, &out), 1);
		else
			buf_puts(&out, error);
		assert_string_equal(buf_cstr(&out), saved_cases[i].out);
		imap_search_program_free(&prog);
		buf_deinit(&out);
		imap_parser_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_saved),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_empty_mailbox),
		cmocka_unit_test(test_need),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_date_header),
		cmocka_unit_test(test_esearch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
