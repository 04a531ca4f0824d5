/*
 * test_sasl.c - base64 and the PLAIN and LOGIN decoders on good, bad and
 * hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/sasl.h"

static void b64(const void *raw, size_t n, struct buf *out)
{
	buf_init(out, 0);
	assert_int_equal(base64_encode(raw, n, out), 1);
}

static void test_base64_roundtrip(void **state)
{
	static const char *vectors[][2] = {	/* RFC 4648 §10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct buf enc, dec;
		b64(vectors[i][0], strlen(vectors[i][0]), &enc);
		assert_string_equal(buf_cstr(&enc), vectors[i][1]);
		buf_init(&dec, 0);
		assert_int_equal(base64_decode(vectors[i][1], strlen(vectors[i][1]), &dec), 1);
		assert_string_equal(buf_cstr(&dec), vectors[i][0]);
		buf_deinit(&enc);
		buf_deinit(&dec);
	}
}

static void test_base64_bad(void **state)
{
	static const char *bad[] = { "Zg=", "Zg", "Z===", "Zm9v!A==", "Zg==Zg==",
				     "=Zg=", "Zm 9v", "Zg=a" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf dec;
		buf_init(&dec, 0);
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), &dec), -1);
		buf_deinit(&dec);
	}
}

static int plain(const void *raw, size_t n, struct sasl_plain *p)
{
	struct buf enc;
	const char *error;
	int ret;

	b64(raw, n, &enc);
	ret = sasl_plain_decode(buf_cstr(&enc), enc.len, p, &error);
	buf_deinit(&enc);
	return ret;
}

static void test_plain_good(void **state)
{
	struct sasl_plain p;

	assert_int_equal(plain("\0alice@example.org\0s3cret", 25, &p), 1);
	assert_string_equal(p.authzid, "");
	assert_string_equal(p.authcid, "alice@example.org");
	assert_string_equal(p.password, "s3cret");
	assert_int_equal(plain("admin\0alice\0pw", 14, &p), 1);
	assert_string_equal(p.authzid, "admin");
	assert_string_equal(p.authcid, "alice");
}

static void test_plain_bad(void **state)
{
	struct sasl_plain p;
	const char *error;
	char *huge;

	assert_int_equal(plain("alice\0pw", 8, &p), -1);		/* one NUL */
	assert_int_equal(plain("alicepw", 7, &p), -1);			/* none */
	assert_int_equal(plain("\0\0pw", 4, &p), -1);			/* empty user */
	assert_int_equal(plain("\0alice\0", 7, &p), -1);		/* empty password */
	assert_int_equal(plain("\0alice\0p\0w", 10, &p), -1);		/* NUL in password */
	assert_int_equal(sasl_plain_decode("%%%%", 4, &p, &error), -1);
	assert_string_equal(p.authcid, "");
	huge = malloc(5000);
	memset(huge, 'a', 5000);
	huge[0] = '\0';
	huge[2000] = '\0';
	assert_int_equal(plain(huge, 5000, &p), -1);			/* fields too long */
	free(huge);
}

static void test_login(void **state)
{
	char out[64];
	const char *error;

	assert_int_equal(sasl_login_decode("YWxpY2U=", 8, out, sizeof(out), &error), 1);
	assert_string_equal(out, "alice");
	assert_int_equal(sasl_login_decode("", 0, out, sizeof(out), &error), -1);
	assert_int_equal(sasl_login_decode("YQBi", 4, out, sizeof(out), &error), -1);
	assert_int_equal(sasl_login_decode("YWFhYWFhYWFhYQ==", 16, out, 8, &error), -1);
	assert_int_equal(sasl_login_decode("not base64", 10, out, sizeof(out), &error), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_bad),
		cmocka_unit_test(test_plain_good),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_login),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
