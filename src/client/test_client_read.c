/*
 * test_client_read.c - what `correio mail` makes of a message: file names
 * that cannot leave the save directory, HTML turned into text, the
 * attachments it finds (MIME parts and uuencoded blocks), and the JSON
 * strings it writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "client/client_private.h"

static void test_safe_filename(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "report.pdf", "report.pdf" },
		{ "../../etc/passwd", "passwd" },
		{ "/absolute/name.txt", "name.txt" },
		{ "C:\\\\Windows\\\\evil.exe", "evil.exe" },
		{ "..", "fallback" },
		{ ".", "fallback" },
		{ "", "fallback" },
		{ "dir/", "fallback" },
		{ ".bashrc", "_bashrc" },
		{ "a\x01" "b\x1b[31m.txt", "a_b_[31m.txt" },
		{ "bad\xff" "utf8", "bad_utf8" },
		{ "Relat\xc3\xb3rio.txt", "Relat\xc3\xb3rio.txt" },
		{ "trailing. . ", "trailing" },
		{ "\x7f", "fallback" },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		client_safe_filename(t[i].in, "fallback", out, sizeof(out));
		assert_string_equal(out, t[i].out);
	}
}

static void test_html(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "<p>Hello <b>world</b></p>", "Hello world\n" },
		{ "a<br>b<br/>c", "a\nb\nc\n" },
		{ "<style>p{color:red}</style><script>x()</script>text", "text\n" },
		{ "<ul><li>one</li><li>two</li></ul>", "  * one\n  * two\n" },
		{ "caf&eacute; &amp; &lt;tag&gt; &#233; &#x263a; &bogus; &",
		  "caf\xc3\xa9 & <tag> \xc3\xa9 \xe2\x98\xba &bogus; &\n" },
		{ "<!-- hidden -->shown", "shown\n" },
		{ "spaces   and\n\nnewlines", "spaces and newlines\n" },
		{ "<p>unclosed", "unclosed\n" },
	};
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf_reset(&out);
		client_html_to_text(t[i].in, strlen(t[i].in), &out);
		assert_string_equal(buf_cstr(&out), t[i].out);
	}
	buf_deinit(&out);
}

static void test_view_attachments(void **state)
{
	static const char msg[] =
		"From: a@example.org\n"
		"Subject: =?UTF-8?Q?ol=C3=A1?=\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=B\n"
		"\n"
		"--B\n"
		"Content-Type: multipart/alternative; boundary=C\n"
		"\n"
		"--C\n"
		"Content-Type: text/plain\n"
		"\n"
		"plain text\n"
		"begin 644 cat.txt\n"
		"#0V%T\n"
		"`\n"
		"end\n"
		"--C\n"
		"Content-Type: text/html\n"
		"\n"
		"<p>html text</p>\n"
		"--C--\n"
		"--B\n"
		"Content-Type: application/pdf; name=\"doc.pdf\"\n"
		"Content-Transfer-Encoding: base64\n"
		"\n"
		"JVBERi0=\n"
		"--B\n"
		"Content-Type: text/plain\n"
		"Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve.txt\n"
		"\n"
		"naive\n"
		"--B--\n";
	struct client_view v;
	struct buf out;

	(void)state;
	client_view_init(&v, msg, sizeof(msg) - 1);
	assert_true(strstr(buf_cstr(&v.text), "plain text") != NULL);
	assert_null(strstr(buf_cstr(&v.text), "html text"));
	assert_int_equal(v.natt, 3);
	assert_string_equal(v.att[0].name, "doc.pdf");
	assert_string_equal(v.att[0].type, "application/pdf");
	assert_int_equal(v.att[0].size, 5);
	assert_string_equal(v.att[1].name, "na\xc3\xafve.txt");
	assert_string_equal(v.att[2].name, "cat.txt");
	buf_init(&out, 0);
	assert_int_equal(client_view_attachment(&v, 0, &out), 1);
	assert_memory_equal(out.data, "%PDF-", 5);
	buf_reset(&out);
	assert_int_equal(client_view_attachment(&v, 2, &out), 1);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "Cat", 3);
	buf_reset(&out);
	client_view_render(&v, &out);
	assert_non_null(strstr(buf_cstr(&out), "Subject: ol\xc3\xa1\n"));
	assert_non_null(strstr(buf_cstr(&out), "[uuencoded file cat.txt, 3 bytes]"));
	assert_null(strstr(buf_cstr(&out), "#0V%T"));
	buf_deinit(&out);
	client_view_deinit(&v);
}

static void test_json_string(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	client_json_str(&out, "a\"b\\c\nd\x01\xc3\xa9\xff");
	assert_string_equal(buf_cstr(&out), "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\xef\xbf\xbd\"");
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safe_filename),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_view_attachments),
		cmocka_unit_test(test_json_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
