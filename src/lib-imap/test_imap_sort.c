/*
 * test_imap_sort.c - SORT and THREAD pieces: sort criteria, base subjects
 * (RFC 5256 §2.1), Date: values as times, message IDs, the sort with its
 * tie-breaks, and both threading algorithms on small mailboxes written
 * out as THREAD data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_sort.h"

/* The arguments of "a SORT <text>" (the parser lives as long as ev). */
static struct imap_parser *read_args(const char *text, struct imap_event *ev)
{
	struct imap_parser_limits limits;
	struct imap_parser *p;
	struct buf line;
	size_t pos = 0, used;
	int ret;

	imap_parser_limits_default(&limits);
	p = imap_parser_new(&limits);
	buf_init(&line, 0);
	buf_printf(&line, "a SORT %s\r\n", text);
	do {
		ret = imap_parser_feed(p, line.data + pos, line.len - pos, &used, ev);
		pos += used;
	} while (ret > 0 && ev->type != IMAP_EVENT_COMMAND);
	buf_deinit(&line);
	assert_true(ret > 0);
	return p;
}

static void test_criteria(void **state)
{
	static const struct {
		const char *text;
		int ret;
		unsigned n;
		enum imap_sort_key first;
		bool first_reverse;
	} cases[] = {
		{ "(ARRIVAL)", 1, 1, IMAP_SORT_ARRIVAL, false },
		{ "(reverse date subject)", 1, 2, IMAP_SORT_DATE, true },
		{ "(CC FROM SIZE TO DISPLAYFROM DISPLAYTO)", 1, 6, IMAP_SORT_CC, false },
		{ "(REVERSE DISPLAYTO)", 1, 1, IMAP_SORT_DISPLAYTO, true },
		{ "()", -1, 0, 0, false },
		{ "(REVERSE)", -1, 0, 0, false },
		{ "(REVERSE REVERSE DATE)", -1, 0, 0, false },
		{ "(DATE REVERSE)", -1, 0, 0, false },
		{ "(NAME)", -1, 0, 0, false },
		{ "(\"DATE\" (SIZE))", -1, 0, 0, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_sort_criterion c[IMAP_SORT_MAX_CRITERIA];
		const struct imap_arg *list;
		const char *error = NULL;
		struct imap_event ev;
		struct imap_parser *p = read_args(cases[i].text, &ev);
		size_t count;
		unsigned n = 0;

		assert_true(imap_arg_get_list(&ev.args[0], &list, &count));
		assert_int_equal(imap_sort_criteria_parse(list, count, c, &n, &error), cases[i].ret);
		if (cases[i].ret > 0) {
			assert_int_equal(n, cases[i].n);
			assert_int_equal(c[0].key, cases[i].first);
			assert_int_equal(c[0].reverse, cases[i].first_reverse);
			if (n > 1)
				assert_false(c[1].reverse);	/* REVERSE is for one key */
		} else {
			assert_non_null(error);
		}
		imap_parser_free(&p);
	}
}

static void test_base_subject(void **state)
{
	static const struct {
		const char *in, *out;
		bool reply;
	} cases[] = {
		{ "Hello World", "hello world", false },
		{ "Re: Hello", "hello", true },
		{ "RE: re: FWD: hello", "hello", true },
		{ "Fw: hello (fwd)", "hello", true },
		{ "hello (fwd) (FWD)  ", "hello", true },
		{ "[list] Re: hello", "hello", true },
		{ "Re[2]: hello", "hello", true },
		{ "Re [list]: hello", "hello", true },
		{ "[list] hello", "hello", false },
		{ "[list]", "[list]", false },
		{ "[Fwd: hello]", "hello", true },
		{ "[fwd: Re: [x] hello (fwd)]", "hello", true },
		{ "  spaced\t \r\n out  ", "spaced out", false },
		{ "re:", "", true },
		{ "Reply: not a leader", "reply: not a leader", false },
		{ "", "", false },
		{ "Re: Relat\xc3\xb3rio", "relat\xc3\xb3rio", true },
		{ "[a][b] Re: [c] Fwd: x", "x", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;
		bool reply = !cases[i].reply;

		buf_init(&out, 0);
		assert_int_equal(imap_base_subject(cases[i].in, strlen(cases[i].in), &out, &reply), 1);
		assert_string_equal(buf_cstr(&out), cases[i].out);
		assert_int_equal(reply, cases[i].reply);
		buf_deinit(&out);
	}
	/* out's maximum is kept */
	struct buf small;
	buf_init(&small, 3);
	assert_int_equal(imap_base_subject("Re: hello", 9, &small, NULL), -1);
	buf_deinit(&small);
}

static void test_date(void **state)
{
	static const struct {
		const char *in;
		int ret;
		long long t;
	} cases[] = {
		{ "Tue, 1 Jul 2003 10:52:37 +0200", 1, 1057049557 },
		{ "1 Jul 2003 08:52:37 GMT", 1, 1057049557 },
		{ "Tue,  1 Jul 03 03:52:37 -0500 (EST)", 1, 1057049557 },
		{ "01 jul 2003 01:52:37 PDT", 1, 1057049557 },
		{ "1 Jul 2003 08:52 +0000", 1, 1057049520 },
		{ "Thu, 1 Jan 1970 00:00:00 +0000", 1, 0 },
		{ "(comment) 1 Jul 2003 08:52:37 UT", 1, 1057049557 },
		{ "1 Jul 2003", -1, 0 },
		{ "Tue, Jul 1 2003 08:52:37", -1, 0 },
		{ "1 Foo 2003 08:52:37 +0000", -1, 0 },
		{ "1 Jul 2003 25:52:37 +0000", -1, 0 },
		{ "", -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = 0;
		assert_int_equal(imap_sort_date_parse(cases[i].in, &t), cases[i].ret);
		if (cases[i].ret > 0)
			assert_int_equal((long long)t, cases[i].t);
	}
}

static void collect_id(void *ctx, const char *id, size_t len)
{
	struct buf *out = ctx;

	buf_append(out, id, len);
	buf_putc(out, ',');
}

static void test_msgids(void **state)
{
	static const struct {
		const char *in, *out;
		unsigned n;
	} cases[] = {
		{ "<a@b>", "<a@b>,", 1 },
		{ " <a@b> (c) <c@d>\r\n\t<e@f>", "<a@b>,<c@d>,<e@f>,", 3 },
		{ "Your message of ... <a@b>", "<a@b>,", 1 },
		{ "<a b@c> <x@y>", "<x@y>,", 1 },
		{ "<<a@b>", "<a@b>,", 1 },
		{ "<> <", "", 0 },
		{ "", "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out;
		buf_init(&out, 0);
		assert_int_equal(imap_msgids(cases[i].in, collect_id, &out), cases[i].n);
		assert_string_equal(buf_cstr(&out), cases[i].out);
		buf_deinit(&out);
	}
}

/* A message for the sort and thread cases: seq, id = seq. */
static struct imap_sort_msg msg(uint32_t seq, time_t date, const char *subject, bool reply)
{
	struct imap_sort_msg m = {
		.id = seq, .seq = seq, .date = date, .arrival = 1000 - (time_t)seq,
		.size = 100 * (seq % 3), .subject = subject, .reply = reply,
		.from = "", .to = "", .cc = "", .display_from = "", .display_to = "",
		.message_id = "",
	};
	return m;
}

static void ids(const struct imap_sort_msg *m, size_t n, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%u", i > 0 ? " " : "", m[i].id);
}

static void test_sort(void **state)
{
	struct imap_sort_msg m[5] = {
		msg(1, 50, "b", false), msg(2, 10, "a", false), msg(3, 50, "a", false),
		msg(4, 30, "", false), msg(5, 10, "b", false),
	};
	struct imap_sort_criterion c[2];
	char got[64];

	(void)state;
	m[0].from = "zed"; m[2].from = "amy"; m[4].from = "amy";
	c[0] = (struct imap_sort_criterion){ IMAP_SORT_DATE, false };
	imap_sort(m, 5, c, 1);
	ids(m, 5, got, sizeof(got));
	assert_string_equal(got, "2 5 4 1 3");		/* ties by sequence number */
	c[0].reverse = true;
	imap_sort(m, 5, c, 1);
	ids(m, 5, got, sizeof(got));
	assert_string_equal(got, "1 3 4 2 5");		/* the tie-break stays */
	c[0] = (struct imap_sort_criterion){ IMAP_SORT_SUBJECT, false };
	c[1] = (struct imap_sort_criterion){ IMAP_SORT_DATE, true };
	imap_sort(m, 5, c, 2);
	ids(m, 5, got, sizeof(got));
	assert_string_equal(got, "4 3 2 1 5");
	c[0] = (struct imap_sort_criterion){ IMAP_SORT_FROM, false };
	imap_sort(m, 5, c, 1);
	ids(m, 5, got, sizeof(got));
	assert_string_equal(got, "2 4 3 5 1");		/* "" first */
	c[0] = (struct imap_sort_criterion){ IMAP_SORT_ARRIVAL, false };
	imap_sort(m, 5, c, 1);
	ids(m, 5, got, sizeof(got));
	assert_string_equal(got, "5 4 3 2 1");
	c[0] = (struct imap_sort_criterion){ IMAP_SORT_SIZE, true };
	imap_sort(m, 5, c, 1);
	ids(m, 5, got, sizeof(got));
	assert_string_equal(got, "2 5 1 4 3");
}

static void test_orderedsubject(void **state)
{
	struct imap_sort_msg m[6] = {
		msg(1, 10, "a", false), msg(2, 20, "a", true), msg(3, 30, "b", false),
		msg(4, 40, "a", false), msg(5, 5, "b", true), msg(6, 60, "c", false),
	};
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	assert_int_equal(imap_thread_orderedsubject(m, 6, &out), 1);
	assert_string_equal(buf_cstr(&out), "(5 3)(1 (2)(4))(6)");
	buf_reset(&out);
	assert_int_equal(imap_thread_orderedsubject(m, 0, &out), 1);
	assert_string_equal(buf_cstr(&out), "");
	buf_deinit(&out);
}

static void test_references(void **state)
{
	static const char *const r1[] = { "<1@x>" };
	static const char *const r12[] = { "<1@x>", "<2@x>" };
	static const char *const rmiss[] = { "<missing@x>" };
	struct imap_sort_msg m[9] = {
		msg(1, 10, "a", false), msg(2, 20, "a", true), msg(3, 30, "a", true),
		msg(4, 40, "a", true), msg(5, 50, "b", false), msg(6, 60, "c", false),
		msg(7, 70, "c", true), msg(8, 80, "b", true), msg(9, 90, "d", false),
	};
	struct buf out;

	(void)state;
	m[0].message_id = "<1@x>";
	m[1].message_id = "<2@x>"; m[1].refs = r1; m[1].n_refs = 1;
	m[2].message_id = "<3@x>"; m[2].refs = r12; m[2].n_refs = 2;
	m[3].message_id = "<4@x>"; m[3].refs = r1; m[3].n_refs = 1;
	m[4].message_id = "<5@x>";
	m[5].message_id = "<6@x>"; m[5].refs = rmiss; m[5].n_refs = 1;
	m[6].message_id = "<7@x>"; m[6].refs = rmiss; m[6].n_refs = 1;
	m[7].message_id = "<8@x>";
	m[8].message_id = "<1@x>";	/* a duplicate ID: a message of its own */
	buf_init(&out, 0);
	assert_int_equal(imap_thread_references(m, 9, &out), 1);
	/* 2 and 4 answer 1, 3 answers 2; 8 joins 5 by subject ("b", a reply);
	   6 and 7 share a missing parent: a dummy at the root */
	assert_string_equal(buf_cstr(&out), "(1 (2 3)(4))(5 8)((6)(7))(9)");
	buf_deinit(&out);
}

static void test_references_subjects(void **state)
{
	struct imap_sort_msg m[4] = {
		msg(1, 10, "x", false), msg(2, 20, "x", false), msg(3, 30, "y", true),
		msg(4, 5, "y", true),
	};
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	/* two non-replies of one subject: a dummy holds them; two replies too */
	assert_int_equal(imap_thread_references(m, 4, &out), 1);
	assert_string_equal(buf_cstr(&out), "((4)(3))((1)(2))");
	buf_deinit(&out);
}

static void test_references_loops(void **state)
{
	static const char *const r1[] = { "<1@x>" };
	static const char *const r2[] = { "<2@x>" };
	static const char *const r_self[] = { "<3@x>", "<3@x>" };
	struct imap_sort_msg m[3] = {
		msg(1, 10, "p", false), msg(2, 20, "q", false), msg(3, 30, "r", false),
	};
	struct buf out;

	(void)state;
	m[0].message_id = "<1@x>"; m[0].refs = r2; m[0].n_refs = 1;
	m[1].message_id = "<2@x>"; m[1].refs = r1; m[1].n_refs = 1;
	m[2].message_id = "<3@x>"; m[2].refs = r_self; m[2].n_refs = 2;
	buf_init(&out, 0);
	assert_int_equal(imap_thread_references(m, 3, &out), 1);
	/* 1 under 2 would loop: 2 stays under 1 */
	assert_string_equal(buf_cstr(&out), "(2 1)(3)");
	buf_deinit(&out);
}

/* A chain of replies deeper than the walks may go: cut at
   THREAD_DEPTH_MAX, every message still named once, and no stack
   overflow (run with a small stack too). */
static void test_references_deep_chain(void **state)
{
	enum { N = 2500 };
	static char ids[N][16];
	static const char *refs[N];
	static struct imap_sort_msg m[N];
	unsigned char *seen = calloc(N + 1, 1);
	struct buf out;
	const char *p;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "<%d@x>", i);
		m[i] = msg((uint32_t)i + 1, i, "s", i > 0);
		m[i].message_id = ids[i];
		if (i > 0) {
			refs[i] = ids[i - 1];
			m[i].refs = &refs[i];
			m[i].n_refs = 1;
		}
	}
	buf_init(&out, 0);
	assert_int_equal(imap_thread_references(m, N, &out), 1);
	for (p = buf_cstr(&out); *p != '\0';) {
		if (*p >= '1' && *p <= '9') {
			long v = strtol(p, (char **)&p, 10);
			assert_true(v >= 1 && v <= N && !seen[v]);
			seen[v] = 1;
		} else {
			p++;
		}
	}
	for (int i = 1; i <= N; i++)
		assert_true(seen[i]);
	/* the cut-off replies join the first message by subject (step 5) */
	assert_true(strncmp(buf_cstr(&out), "(1 (2 3 ", 8) == 0);
	buf_deinit(&out);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_criteria),
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_msgids),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_references_subjects),
		cmocka_unit_test(test_references_loops),
		cmocka_unit_test(test_references_deep_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
