/*
 * test_jmap_parse.c - dates, address lists, Basic credentials and
 * download types, table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jmap/jmap_parse.h"
#include "mime/mime.h"

static void test_dates(void **state)
{
	static const struct { const char *in; long long t; long off; } ok[] = {
		{ "Sat, 05 Dec 2026 10:00:00 +0100", 1796461200, 3600 },
		{ "5 Dec 2026 10:00:00 +0100", 1796461200, 3600 },
		{ "Sat, 5 Dec 2026 10:00 -0330", 1796477400, -12600 },
		{ "Thu, 01 Jan 1970 00:00:00 +0000", 0, 0 },
	};
	static const char *const bad[] = {
		"", "yesterday", "Sat, 05 Foo 2026 10:00:00 +0100", "05 Dec 2026", "Sat,",
		"Sat, 05 Dec 20260:00:00 +4411", "Sat, 05 Dec 2026 10:00:00 -2400",
	};
	time_t t;
	long off;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(jmap_parse_date(ok[i].in, &t, &off), 1);
		assert_int_equal((long long)t, ok[i].t);
		assert_int_equal(off, ok[i].off);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(jmap_parse_date(bad[i], &t, &off), -1);
}

static void check_addresses(const char *in, const char *want)
{
	json_t *v = jmap_parse_addresses(in, strlen(in));
	char *text = json_dumps(v, JSON_COMPACT);

	assert_string_equal(text, want);
	free(text);
	json_decref(v);
}

static void test_addresses(void **state)
{
	check_addresses("", "[]");
	check_addresses("<a@b>", "[{\"name\":null,\"email\":\"a@b\"}]");
	check_addresses("Ana Silva <ana@example.org> <b@c>",
			"[{\"name\":\"Ana Silva\",\"email\":\"ana@example.org\"},"
			"{\"name\":null,\"email\":\"b@c\"}]");
	check_addresses("\"Silva, Ana\" <ana@x>", "[{\"name\":\"Silva, Ana\",\"email\":\"ana@x\"}]");
	check_addresses("=?utf-8?q?Jo=C3=A3o?= <j@x>",
			"[{\"name\":\"Jo\xc3\xa3o\",\"email\":\"j@x\"}]");
	check_addresses("broken <a@b", "[]");
	/* a name's stray 8-bit byte is read as Latin-1 by the RFC 2047 decoder */
	check_addresses("x\xff <a\xfe@b>",
			"[{\"name\":\"x\xc3\xbf\",\"email\":\"a\xef\xbf\xbd@b\"}]");
}

static void test_types(void **state)
{
	static const char *const safe[] = {
		"image/png", "text/plain", "message/rfc822", "audio/x-wav", "application/zip",
	};
	static const char *const unsafe[] = {
		"text/html", "TEXT/HTML", "image/svg+xml", "application/xhtml+xml",
		"application/javascript", "text/xml", "multipart/mixed", "text/plain; x=\"<\"",
		"image", "/png", "image/", "a/b/c", "text/plain\r\nX: y", "application/pdf",
	};

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		assert_true(jmap_type_safe(safe[i]));
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
		assert_false(jmap_type_safe(unsafe[i]));
}

static void test_basic(void **state)
{
	struct buf b;
	const char *pass;

	buf_init(&b, 1024);
	/* "ana@x:s3:cret" */
	assert_int_equal(jmap_parse_basic("Basic YW5hQHg6czM6Y3JldA==", &b, &pass), 1);
	assert_string_equal(b.data, "ana@x");
	assert_string_equal(pass, "s3:cret");
	buf_reset(&b);
	assert_int_equal(jmap_parse_basic("basic   YW5hQHg6czM6Y3JldA==", &b, &pass), 1);
	buf_reset(&b);
	assert_int_equal(jmap_parse_basic("Bearer abc", &b, &pass), -1);
	buf_reset(&b);
	/* "anaxpass": no colon */
	assert_int_equal(jmap_parse_basic("Basic YW5heHBhc3M=", &b, &pass), -1);
	buf_reset(&b);
	/* "a\0b:c": a NUL in the user */
	assert_int_equal(jmap_parse_basic("Basic YQBiOmM=", &b, &pass), -1);
	buf_reset(&b);
	/* the token is strict base64 (RFC 7617 section 2): no characters
	   skipped inside it, the padding required; blanks may follow it */
	assert_int_equal(jmap_parse_basic("Basic YW5hQH!g6czM6Y3JldA==", &b, &pass), -1);
	buf_reset(&b);
	assert_int_equal(jmap_parse_basic("Basic YW5hQHg6 czM6Y3JldA==", &b, &pass), -1);
	buf_reset(&b);
	assert_int_equal(jmap_parse_basic("Basic YW5hQHg6czM6Y3JldA", &b, &pass), -1);
	buf_reset(&b);
	assert_int_equal(jmap_parse_basic("Basic YW5hQHg6czM6Y3JldA== \t", &b, &pass), 1);
	assert_string_equal(b.data, "ana@x");
	assert_string_equal(pass, "s3:cret");
	buf_deinit(&b);
}

/* The header of a submitted message: Bcc (and its continuation lines)
   gone, the body found, Date and Message-ID noticed; fed whole and cut at
   every byte (a prefix is a header without its end). */
static void test_submission_header(void **state)
{
	static const struct { const char *in, *out; size_t body; unsigned missing; } cases[] = {
		{ "From: a@x\nBcc: b@x,\n c@x\nTo: d@x\n\nbody\nBcc: kept\n",
		  "From: a@x\nTo: d@x\n", 33, JMAP_MISSING_DATE | JMAP_MISSING_MESSAGE_ID },
		{ "BCC : b@x\r\nDate: now\r\nmessage-id: <1@x>\r\n\r\nx",
		  "Date: now\r\nmessage-id: <1@x>\r\n", 41, 0 },
		{ "Bccx: y\nBcc-Like: z\n\n", "Bccx: y\nBcc-Like: z\n", 20,
		  JMAP_MISSING_DATE | JMAP_MISSING_MESSAGE_ID },
		{ "Subject: no end", "Subject: no end\n", 15,
		  JMAP_MISSING_DATE | JMAP_MISSING_MESSAGE_ID },
		{ "\nonly a body", "", 0, JMAP_MISSING_DATE | JMAP_MISSING_MESSAGE_ID },
		{ "", "", 0, JMAP_MISSING_DATE | JMAP_MISSING_MESSAGE_ID },
	};
	struct buf b;
	unsigned missing;

	(void)state;
	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);
		buf_reset(&b);
		assert_int_equal(jmap_parse_submission_header(cases[i].in, n, &b, &missing),
				 cases[i].body);
		assert_int_equal(b.len, strlen(cases[i].out));
		assert_memory_equal(b.data != NULL ? b.data : "", cases[i].out, b.len);
		assert_int_equal(missing, cases[i].missing);
		for (size_t cut = 0; cut <= n; cut++) {
			size_t body;
			buf_reset(&b);
			body = jmap_parse_submission_header(cases[i].in, cut, &b, &missing);
			assert_true(body <= cut);
			assert_true(b.len == 0 || b.data[b.len - 1] == '\n');
		}
	}
	buf_deinit(&b);
}

static void test_highlight(void **state)
{
	static const char *const terms[] = { "inv", "invoice", "é" };
	static const struct { const char *in; size_t max; const char *out; } cases[] = {
		{ "  An  INVOICE\n<b>&'\"  ", 0,
		  "An <mark>INVOICE</mark> &lt;b&gt;&amp;&#39;&quot;" },
		{ "café invented", 0, "caf<mark>é</mark> <mark>inv</mark>ented" },
		{ "0123456789012345678901234567890123456789012345678901234567890 invoice tail", 12,
		  "90 <mark>invoice</mark> t" },
	};
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		assert_int_equal(jmap_parse_highlight(cases[i].in, strlen(cases[i].in), terms, 3,
						      cases[i].max, &b), 1);
		assert_int_equal(b.len, strlen(cases[i].out));
		assert_memory_equal(b.data, cases[i].out, b.len);
	}
	buf_reset(&b);
	assert_int_equal(jmap_parse_highlight("no match <here>", 15, terms, 3, 0, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(jmap_parse_highlight("inv", 3, terms, 0, 0, &b), 0);
	buf_deinit(&b);
}

static void test_format(void **state)
{
	struct buf b;
	char long_subject[200];

	(void)state;
	buf_init(&b, 0);
	jmap_format_text(&b, "plain subject");
	assert_string_equal(buf_cstr(&b), "plain subject");
	buf_reset(&b);
	jmap_format_text(&b, "Ol\xc3\xa1\r\nBcc: x");
	assert_string_equal(buf_cstr(&b), "=?UTF-8?B?T2zDoQ0KQmNjOiB4?=");
	buf_reset(&b);
	/* 60 "é": 120 bytes, words of at most 45 bytes never split a character */
	for (int i = 0; i < 60; i++)
		memcpy(long_subject + 2 * i, "\xc3\xa9", 2);
	long_subject[120] = '\0';
	jmap_format_text(&b, long_subject);
	assert_non_null(strstr(buf_cstr(&b), "?=\n =?UTF-8?B?"));
	assert_null(strchr(buf_cstr(&b) + 1, '\r'));
	{
		struct buf dec;
		buf_init(&dec, 0);
		assert_true(mime_rfc2047_decode(b.data, b.len, &dec) >= 0);
		assert_int_equal(dec.len, 120);
		assert_memory_equal(dec.data, long_subject, 120);
		buf_deinit(&dec);
	}
	buf_reset(&b);
	jmap_format_address(&b, "Bob \"the\" B\\", "bob@x");
	assert_string_equal(buf_cstr(&b), "\"Bob \\\"the\\\" B\\\\\" <bob@x>");
	buf_reset(&b);
	jmap_format_address(&b, NULL, "bob@x");
	assert_string_equal(buf_cstr(&b), "<bob@x>");
	buf_reset(&b);
	jmap_format_address(&b, "\xc3\x9c", "u@x");
	assert_string_equal(buf_cstr(&b), "=?UTF-8?B?w5w=?= <u@x>");
	buf_deinit(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_submission_header),
		cmocka_unit_test(test_highlight),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
