/*
 * test_password.c - unit tests for password.c: yescrypt hashing, checks
 * against right and wrong passwords, bcrypt compatibility, unusable hashes
 * and the dummy hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <pthread.h>
#include <string.h>

#include "auth/password.h"

static void test_hash_verify(void **state)
{
	char h1[128], h2[128];

	assert_int_equal(password_hash("s3cret pass", h1, sizeof(h1)), 1);
	assert_int_equal(strncmp(h1, "$y$", 3), 0);
	assert_int_equal(password_verify("s3cret pass", h1), 1);
	assert_int_equal(password_verify("s3cret pasS", h1), 0);
	assert_int_equal(password_verify("", h1), 0);
	assert_int_equal(password_verify("s3cret pass ", h1), 0);
	/* A fresh salt every time. */
	assert_int_equal(password_hash("s3cret pass", h2, sizeof(h2)), 1);
	assert_string_not_equal(h1, h2);
	assert_int_equal(password_verify("s3cret pass", h2), 1);
}

static void test_empty_password(void **state)
{
	char h[128];

	assert_int_equal(password_hash("", h, sizeof(h)), 1);
	assert_int_equal(password_verify("", h), 1);
	assert_int_equal(password_verify("x", h), 0);
}

static void test_output_too_small(void **state)
{
	char h[16];

	assert_int_equal(password_hash("pw", h, sizeof(h)), -1);
}

static void test_bcrypt(void **state)
{
	struct crypt_data data;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], hash[CRYPT_OUTPUT_SIZE];
	const char *res;

	memset(&data, 0, sizeof(data));
	assert_non_null(crypt_gensalt_rn("$2b$", 5, NULL, 0, salt, sizeof(salt)));
	res = crypt_rn("bcrypt pw", salt, &data, sizeof(data));
	assert_non_null(res);
	assert_int_equal(strncmp(res, "$2b$", 4), 0);
	memcpy(hash, res, strlen(res) + 1);
	assert_int_equal(password_verify("bcrypt pw", hash), 1);
	assert_int_equal(password_verify("bcrypt pW", hash), 0);
}

static void test_unusable_hashes(void **state)
{
	static const char *const bad[] = {
		"", "*", "*0", "!", "!$y$j9T$abc", "$unknown$xx", "$y$", "$2b$99$x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(password_verify("pw", bad[i]), -1);
}

static void *dummy_thread(void *arg)
{
	return (void *)password_dummy_hash();
}

static void test_dummy_hash(void **state)
{
	pthread_t t[4];
	void *r[4];
	const char *d;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, dummy_thread, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], &r[i]), 0);
	d = password_dummy_hash();
	for (int i = 0; i < 4; i++)
		assert_ptr_equal(r[i], d);
	assert_int_equal(strncmp(d, "$y$", 3), 0);
	assert_int_equal(password_verify("", d), 0);
	assert_int_equal(password_verify("password", d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_empty_password),
		cmocka_unit_test(test_output_too_small),
		cmocka_unit_test(test_bcrypt),
		cmocka_unit_test(test_unusable_hashes),
		cmocka_unit_test(test_dummy_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
