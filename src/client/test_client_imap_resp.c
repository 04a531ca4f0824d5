/*
 * test_client_imap_resp.c - the client's IMAP response reader: framing
 * with literals fed whole, byte by byte and split at every offset; the
 * limits (line, literal, whole response) and recovery after them; the
 * split into status responses, continuation requests and parsed data
 * responses; FETCH items and FLAGS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "client/client_private.h"

static const struct imap_resp_limits limits = { 1024, 4096, 8192 };

/* Frame all of in, step bytes at a time (0: whole); responses joined by
   "|" into log, "E" for a refused one. */
static void frame(const char *in, size_t len, size_t step, struct buf *log)
{
	struct imap_resp_reader r;
	size_t pos = 0;

	imap_resp_reader_init(&r, &limits);
	while (pos < len) {
		size_t n = step == 0 || len - pos < step ? len - pos : step, used;
		const char *reason;
		int ret = imap_resp_feed(&r, in + pos, n, &used, &reason);
		pos += used;
		if (ret == 1) {
			buf_append(log, r.text.data, r.text.len);
			buf_putc(log, '|');
		} else if (ret < 0) {
			buf_puts(log, "E|");
		}
	}
	imap_resp_reader_deinit(&r);
}

static const char stream[] =
	"* OK [CAPABILITY IMAP4rev1] hi\r\n"
	"* 1 FETCH (UID 5 BODY[] {12}\r\nline1\r\nline2 FLAGS (\\Seen))\r\n"
	"* LIST () \"/\" {5}\r\nIN{3}\r\n"
	"c1 OK done\r\n";

static const char expected[] =
	"* OK [CAPABILITY IMAP4rev1] hi\r\n|"
	"* 1 FETCH (UID 5 BODY[] {12}\r\nline1\r\nline2 FLAGS (\\Seen))\r\n|"
	"* LIST () \"/\" {5}\r\nIN{3}\r\n|"
	"c1 OK done\r\n|";

static void test_framing_any_split(void **state)
{
	struct buf log;
	size_t len = strlen(stream);

	(void)state;
	buf_init(&log, 0);
	for (size_t step = 0; step <= len; step++) {
		buf_reset(&log);
		frame(stream, len, step, &log);
		assert_string_equal(buf_cstr(&log), expected);
	}
	/* split at every offset into two feeds */
	for (size_t cut = 1; cut < len; cut++) {
		struct imap_resp_reader r;
		size_t used, pos = 0;
		const char *reason;
		buf_reset(&log);
		imap_resp_reader_init(&r, &limits);
		while (pos < len) {
			size_t end = pos < cut ? cut : len;
			int ret = imap_resp_feed(&r, stream + pos, end - pos, &used, &reason);
			pos += used;
			if (ret == 1) {
				buf_append(&log, r.text.data, r.text.len);
				buf_putc(&log, '|');
			}
		}
		imap_resp_reader_deinit(&r);
		assert_string_equal(buf_cstr(&log), expected);
	}
	buf_deinit(&log);
}

static void test_limits(void **state)
{
	struct buf log, in;

	(void)state;
	buf_init(&log, 0);
	buf_init(&in, 0);
	/* a line over max_line, then a good response */
	for (int i = 0; i < 1100; i++)
		buf_putc(&in, 'x');
	buf_puts(&in, "\r\n* 2 EXISTS\r\n");
	frame(in.data, in.len, 0, &log);
	assert_string_equal(buf_cstr(&log), "E|* 2 EXISTS\r\n|");
	buf_reset(&log);
	frame(in.data, in.len, 7, &log);
	assert_string_equal(buf_cstr(&log), "E|* 2 EXISTS\r\n|");
	/* a literal over max_literal is refused before its data is read */
	buf_reset(&log);
	buf_reset(&in);
	buf_puts(&in, "* 1 FETCH (BODY[] {99999}\r\n");
	frame(in.data, in.len, 0, &log);
	assert_string_equal(buf_cstr(&log), "E|");
	/* a literal size that overflows */
	buf_reset(&log);
	frame("* X {99999999999999999999999}\r\n", 31, 0, &log);
	assert_string_equal(buf_cstr(&log), "E|");
	buf_deinit(&log);
	buf_deinit(&in);
}

static int parse(struct imap_parser *p, struct buf *scratch, const char *s,
		 struct imap_resp *r)
{
	return imap_resp_parse(p, scratch, s, strlen(s), r);
}

static void test_parse(void **state)
{
	struct imap_parser_limits pl;
	struct imap_parser *p;
	struct buf scratch;
	struct imap_resp r;
	const struct imap_arg *list, *v;
	size_t count, len;
	const char *s;
	uint32_t uid;

	(void)state;
	imap_parser_limits_default(&pl);
	p = imap_parser_new(&pl);
	buf_init(&scratch, 0);

	assert_int_equal(parse(p, &scratch, "c7 no [OVERQUOTA] Quota exceeded (x)\r\n", &r), 1);
	assert_int_equal(r.kind, IMAP_RESP_TAGGED);
	assert_string_equal(r.tag, "c7");
	assert_string_equal(r.status, "NO");
	assert_string_equal(r.code, "OVERQUOTA");
	assert_string_equal(r.text, "Quota exceeded (x)");

	assert_int_equal(parse(p, &scratch, "* OK Dovecot ready.\r\n", &r), 1);
	assert_int_equal(r.kind, IMAP_RESP_UNTAGGED);
	assert_string_equal(r.code, "");
	assert_string_equal(r.text, "Dovecot ready.");

	assert_int_equal(parse(p, &scratch, "+ Ready for literal\r\n", &r), 1);
	assert_int_equal(r.kind, IMAP_RESP_CONT);

	assert_int_equal(parse(p, &scratch, "* 3 EXISTS\r\n", &r), 1);
	assert_true(r.has_number);
	assert_int_equal(r.number, 3);
	assert_string_equal(r.name, "EXISTS");

	assert_int_equal(parse(p, &scratch, "* SEARCH 2 4 9\r\n", &r), 1);
	assert_string_equal(r.name, "SEARCH");
	assert_string_equal(r.rest, "2 4 9\r\n");

	assert_int_equal(parse(p, &scratch, "* 12 FETCH (UID 40 FLAGS (\\Seen \\Flagged) "
			       "BODY[HEADER.FIELDS (SUBJECT)] {14}\r\nSubject: a\r\n\r\n)\r\n", &r), 1);
	assert_string_equal(r.name, "FETCH");
	assert_int_equal(r.number, 12);
	assert_true(imap_arg_get_list(&r.args[0], &list, &count));
	v = imap_resp_fetch_item(list, count, "UID", false);
	assert_non_null(v);
	assert_true(imap_arg_get_number(v, &uid));
	assert_int_equal(uid, 40);
	assert_int_equal(client_imap_flags(imap_resp_fetch_item(list, count, "FLAGS", false)),
			 CLIENT_F_SEEN | CLIENT_F_FLAGGED);
	v = imap_resp_fetch_item(list, count, "BODY[HEADER", true);
	assert_true(imap_arg_get_string(v, &s, &len));
	assert_int_equal(len, 14);
	assert_memory_equal(s, "Subject: a\r\n\r\n", 14);

	assert_int_equal(parse(p, &scratch, "* LIST (\\HasNoChildren \\Sent) \"/\" "
			       "\"Enviados &AOk-\"\r\n", &r), 1);
	assert_string_equal(r.name, "LIST");
	assert_true(imap_arg_get_astring(&r.args[2], &s));
	assert_string_equal(s, "Enviados &AOk-");

	/* nonsense */
	assert_int_equal(parse(p, &scratch, "c1 FETCH x\r\n", &r), -1);
	assert_int_equal(parse(p, &scratch, "*\r\n", &r), -1);
	assert_int_equal(parse(p, &scratch, "* 1 FETCH (UID\r\n", &r), -1);
	buf_deinit(&scratch);
	imap_parser_free(&p);
}

/* SEARCH numbers as the search and sync code take them: zero and numbers
   past 32 bits skipped, the walk ending at anything else. */
static void test_search_next(void **state)
{
	const char *p = "4 0 17 99999999999  3 x 5";
	uint32_t v;

	(void)state;
	assert_int_equal(imap_resp_search_next(&p, &v), 1);
	assert_int_equal(v, 4);
	assert_int_equal(imap_resp_search_next(&p, &v), 1);
	assert_int_equal(v, 17);
	assert_int_equal(imap_resp_search_next(&p, &v), 1);
	assert_int_equal(v, 3);
	assert_int_equal(imap_resp_search_next(&p, &v), 0);
	p = "";
	assert_int_equal(imap_resp_search_next(&p, &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing_any_split),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_search_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
