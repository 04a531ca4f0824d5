/*
 * test_imap_utf7.c - modified UTF-7 mailbox names: the RFC 3501 example
 * and more vectors both ways, every kind of bad encoding refused, and
 * encode/decode round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib-imap/imap_utf7.h"

struct utf7_vector {
	const char *utf8;
	const char *mutf7;
};

static const struct utf7_vector vectors[] = {
	/* RFC 3501 §5.1.3 */
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	  "\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&", "&-" },
	{ "a&b&&", "a&-b&-&-" },
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	{ "Hi Mom -\xe2\x98\xba-!", "Hi Mom -&Jjo--!" },
	{ "\xe2\x98\xba", "&Jjo-" },
	{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-" },
	{ "\x01", "&AAE-" },
	{ "\x7f", "&AH8-" },
	{ "a\tb", "a&AAk-b" },
	{ "\xc3\xa9&\xc3\xa9", "&AOk-&-&AOk-" },
	{ "\xef\xbf\xbf", "&,,8-" },
	{ "\xf4\x8f\xbf\xbf", "&2,,f,w-" },
	{ " !~", " !~" },
};

static const char *const bad_mutf7[] = {
	"&",			/* unterminated */
	"&U,BTFw",		/* no "-" */
	"&-&",
	"&AGE-",		/* "a" must stand for itself */
	"&AGEAYQ-",
	"&ACA-",		/* SP too */
	"&U,BTFw-&ZeVnLIqe-",	/* two runs side by side */
	"&U,BTFx-",		/* stray bits */
	"&U,BTFwA-",		/* a whole group too many */
	"&2D0-",		/* high surrogate alone */
	"&2D3eAA",
	"&3gA-",		/* low surrogate alone */
	"&2D3YPQ-",		/* high then high */
	"&AAA-",		/* NUL */
	"&U/BTFw-",		/* "/" is not modified BASE64 */
	"&U=-",
	"a\001b",		/* control octets are encoded */
	"caf\xc3\xa9",		/* 8-bit */
	"\x7f",
	"a\tb",
	"&Jjo",
	"&*-",
};

static const char *const bad_utf8[] = {
	"\xff", "\xc0\x80", "\xc1\xbf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"\xe6\x97", "\346\227a", "\x80", "\xf8\x88\x80\x80\x80",
	"\xe0\x80\xaf",
};

static void test_vectors(void **state)
{
	struct buf out;
	size_t i;

	buf_init(&out, 0);
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct utf7_vector *v = &vectors[i];

		buf_reset(&out);
		assert_int_equal(imap_utf7_encode(v->utf8, strlen(v->utf8),
						  &out), 1);
		if (strcmp(buf_cstr(&out), v->mutf7) != 0)
			fail_msg("encode %zu: \"%s\"", i, buf_cstr(&out));
		buf_reset(&out);
		assert_int_equal(imap_utf7_decode(v->mutf7, strlen(v->mutf7),
						  &out), 1);
		if (strcmp(buf_cstr(&out), v->utf8) != 0)
			fail_msg("decode %zu: \"%s\"", i, buf_cstr(&out));
		assert_true(imap_utf7_is_valid(v->mutf7, strlen(v->mutf7)));
	}
	buf_deinit(&out);
}

static void test_bad(void **state)
{
	struct buf out;
	size_t i;

	buf_init(&out, 0);
	buf_puts(&out, "keep");
	for (i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++) {
		if (imap_utf7_decode(bad_mutf7[i], strlen(bad_mutf7[i]),
				     &out) != -1)
			fail_msg("accepted \"%s\"", bad_mutf7[i]);
		assert_false(imap_utf7_is_valid(bad_mutf7[i],
						strlen(bad_mutf7[i])));
		assert_string_equal(buf_cstr(&out), "keep");
	}
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		if (imap_utf7_encode(bad_utf8[i], strlen(bad_utf8[i]), &out) != -1)
			fail_msg("encoded bad UTF-8 %zu", i);
		assert_string_equal(buf_cstr(&out), "keep");
	}
	/* NUL either way */
	assert_int_equal(imap_utf7_encode("a\0b", 3, &out), -1);
	assert_int_equal(imap_utf7_decode("a\0b", 3, &out), -1);
	assert_string_equal(buf_cstr(&out), "keep");
	buf_deinit(&out);
}

/* Every code point class through encode and back. */
static void test_roundtrip(void **state)
{
	static const uint32_t cps[] = {
		0x01, 0x1f, 0x26, 0x41, 0x7e, 0x7f, 0x80, 0xff, 0x100, 0x7ff,
		0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600,
		0x10ffff,
	};
	struct buf utf8, mutf7, back;
	size_t i, j, k;

	buf_init(&utf8, 0);
	buf_init(&mutf7, 0);
	buf_init(&back, 0);
	for (i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		for (j = 0; j < sizeof(cps) / sizeof(cps[0]); j++) {
			uint32_t pair[3] = { cps[i], cps[j], cps[(i + j) % 18] };

			buf_reset(&utf8);
			for (k = 0; k < 3; k++) {
				uint32_t c = pair[k];

				if (c < 0x80)
					buf_putc(&utf8, (char)c);
				else if (c < 0x800)
					buf_printf(&utf8, "%c%c", 0xc0 | (c >> 6),
						   0x80 | (c & 0x3f));
				else if (c < 0x10000)
					buf_printf(&utf8, "%c%c%c", 0xe0 | (c >> 12),
						   0x80 | ((c >> 6) & 0x3f),
						   0x80 | (c & 0x3f));
				else
					buf_printf(&utf8, "%c%c%c%c",
						   0xf0 | (c >> 18),
						   0x80 | ((c >> 12) & 0x3f),
						   0x80 | ((c >> 6) & 0x3f),
						   0x80 | (c & 0x3f));
			}
			buf_reset(&mutf7);
			buf_reset(&back);
			assert_int_equal(imap_utf7_encode(utf8.data, utf8.len,
							  &mutf7), 1);
			assert_int_equal(imap_utf7_decode(mutf7.data, mutf7.len,
							  &back), 1);
			assert_int_equal(back.len, utf8.len);
			assert_memory_equal(back.data, utf8.data, utf8.len);
		}
	}
	buf_deinit(&utf8);
	buf_deinit(&mutf7);
	buf_deinit(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
