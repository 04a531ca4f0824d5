/*
 * test_mime_binenc.c - the APPEND filter that turns binary body parts into
 * base64: the exact bytes come back through BINARY decoding, everything
 * else passes byte for byte, and the result does not depend on how the
 * message is cut into pieces (whole, byte by byte, split at every offset).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"

#define LIT(s) s, sizeof(s) - 1

/* The filter's output for msg fed whole. */
static void run_whole(const char *msg, size_t len, struct buf *out)
{
	struct mime_binenc *e = mime_binenc_new();

	assert_int_equal(mime_binenc_write(e, msg, len, out), 1);
	assert_int_equal(mime_binenc_finish(e, out), 1);
	mime_binenc_free(&e);
	assert_null(e);
}

/* The output is the same fed byte by byte and split at every offset. */
static void check_pieces(const char *msg, size_t len, const struct buf *whole)
{
	struct mime_binenc *e = mime_binenc_new();
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < len; i++)
		mime_binenc_write(e, msg + i, 1, &out);
	mime_binenc_finish(e, &out);
	mime_binenc_free(&e);
	assert_int_equal(out.len, whole->len);
	assert_memory_equal(out.data, whole->data, whole->len);
	for (size_t cut = 0; cut <= len; cut++) {
		buf_reset(&out);
		e = mime_binenc_new();
		mime_binenc_write(e, msg, cut, &out);
		mime_binenc_write(e, msg + cut, len - cut, &out);
		mime_binenc_finish(e, &out);
		mime_binenc_free(&e);
		assert_int_equal(out.len, whole->len);
		assert_memory_equal(out.data, whole->data, whole->len);
	}
	buf_deinit(&out);
}

/* Part spec of the filtered message decodes (BINARY) to want. */
static void check_binary(const struct buf *stored, const char *spec, const char *want,
			 size_t want_len)
{
	struct mime_message *m = mime_message_parse(stored->data, stored->len, NULL);
	const struct mime_part *p;
	struct mime_section sec;
	struct buf out;
	uint64_t size;

	assert_int_equal(mime_section_resolve(m, spec, strlen(spec), &sec), 1);
	p = sec.part;
	assert_int_equal(p->cte, MIME_CTE_BASE64);
	buf_init(&out, 0);
	assert_int_equal(mime_text_binary(m, p, &out), 1);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(out.data, want, want_len);
	assert_int_equal(mime_text_binary_size(m, p, &size), 1);
	assert_int_equal(size, want_len);
	buf_deinit(&out);
	mime_message_free(&m);
}

static const char multipart[] =
	"From: a@example.org\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: binary\r\n"
	"\r\n"
	"a\0b\nc\rd\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"text stays\r\n"
	"--b1--\r\n"
	"epilogue\r\n";

static void test_multipart_binary(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	run_whole(multipart, sizeof(multipart) - 1, &out);
	assert_non_null(memmem(out.data, out.len, LIT("Content-Transfer-Encoding: base64\r\n")));
	assert_null(memmem(out.data, out.len, LIT("binary")));
	assert_non_null(memmem(out.data, out.len, LIT("\r\n\r\nYQBiCmMNZA==\r\n--b1\r\n")));
	assert_non_null(memmem(out.data, out.len,
			       LIT("\r\n\r\ntext stays\r\n--b1--\r\nepilogue\r\n")));
	check_binary(&out, "1", LIT("a\0b\nc\rd"));
	check_pieces(multipart, sizeof(multipart) - 1, &out);
	buf_deinit(&out);
}

/* Line ends inside the content are content; the one before the
   delimiter is not; long lines and a CR at a piece's end survive. */
static void test_line_ends(void **state)
{
	char msg[4096], want[3000];
	size_t n = 0, w = 0;
	struct buf out;

	(void)state;
	n += (size_t)snprintf(msg, sizeof(msg), "Content-Type: multipart/mixed; boundary=zz\n\n--zz\n"
			      "Content-Transfer-Encoding: BINARY\n\n");
	for (int i = 0; i < 2500; i++)
		want[w++] = i % 7 == 0 ? '\r' : i % 1300 == 0 ? '\n' : (char)(i | 0x80);
	want[w++] = '\r';
	want[w++] = '\r';
	want[w++] = '\n';
	memcpy(msg + n, want, w);
	n += w;
	memcpy(msg + n, "\r\n--zz--\n", 9);
	n += 9;
	buf_init(&out, 0);
	run_whole(msg, n, &out);
	check_binary(&out, "1", want, w);
	check_pieces(msg, n, &out);
	buf_deinit(&out);
}

/* A single-part message, and a part left open at the end. */
static void test_single_and_unclosed(void **state)
{
	static const char single[] = "Subject: x\nContent-Transfer-Encoding: binary\n\n\0\0\n";
	static const char unclosed[] =
		"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n"
		"Content-Transfer-Encoding:\r\n binary\r\n\r\nx\ry\r\n";
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	run_whole(single, sizeof(single) - 1, &out);
	assert_string_equal(buf_cstr(&out),
			    "Subject: x\nContent-Transfer-Encoding: base64\r\n\nAAAK\r\n");
	check_binary(&out, "1", LIT("\0\0\n"));
	check_pieces(single, sizeof(single) - 1, &out);
	buf_reset(&out);
	run_whole(unclosed, sizeof(unclosed) - 1, &out);
	check_binary(&out, "1", LIT("x\ry\r\n"));
	check_pieces(unclosed, sizeof(unclosed) - 1, &out);
	buf_deinit(&out);
}

/* Messages without a binary part are not changed at all. */
static void test_unchanged(void **state)
{
	static const char *const msgs[] = {
		"Subject: plain\r\n\r\nhello\r\nworld\r\n",
		"Subject: no body",
		"Subject: lf\n\nhello\n\n",
		"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n"
		"Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n--x\r\n"
		"Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n--x--\r\n",
		"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n"
		"Content-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\n\r\none\r\n"
		"--x--\r\nafter\r\n",
		"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\n"
		"Subject: in\r\n\r\n\0raw\r\n",
	};
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		size_t len = strlen(msgs[i]) + (i == 5 ? sizeof("\0raw\r\n") - 1 : 0);

		buf_reset(&out);
		run_whole(msgs[i], len, &out);
		assert_int_equal(out.len, len);
		assert_memory_equal(out.data, msgs[i], len);
		check_pieces(msgs[i], len, &out);
	}
	buf_deinit(&out);
}

/* Binary parts of nested multiparts and of an embedded message. */
static void test_nested(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
		"Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n"
		"Content-Transfer-Encoding: binary\r\n\r\n1\n2\r\n--i\r\n\r\nplain\r\n"
		"--o\r\nContent-Type: message/rfc822\r\n\r\n"
		"Content-Transfer-Encoding: binary\r\n\r\n\0\r\n--o--\r\n";
	struct buf out;

	(void)state;
	buf_init(&out, 0);
	run_whole(msg, sizeof(msg) - 1, &out);
	check_binary(&out, "1.1", LIT("1\n2"));
	check_binary(&out, "2.1", LIT("\0"));
	assert_non_null(memmem(out.data, out.len, LIT("--i\r\n\r\nplain\r\n--o\r\n")));
	check_pieces(msg, sizeof(msg) - 1, &out);
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipart_binary),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_single_and_unclosed),
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_nested),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
