/*
 * test_jmap_websession.c - the webmail's sessions: ids, expiry (idle and
 * absolute), the bounds per user and in all, sign-out; the Cookie header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jmap/jmap_websession.h"

static void test_create_find(void **state)
{
	struct jmap_websessions *s = jmap_websessions_new(8, 4, 100, 1000);
	char id[JMAP_WEB_ID_LEN + 1], csrf[JMAP_WEB_ID_LEN + 1], id2[JMAP_WEB_ID_LEN + 1];
	const char *user, *token;

	assert_int_equal(jmap_websessions_create(s, "ana@example.org", 1000, id, csrf), 1);
	assert_int_equal(strlen(id), JMAP_WEB_ID_LEN);
	assert_int_equal(strspn(id, "0123456789abcdef"), JMAP_WEB_ID_LEN);
	assert_string_not_equal(id, csrf);
	assert_int_equal(jmap_websessions_find(s, id, 1001, &user, &token), 1);
	assert_string_equal(user, "ana@example.org");
	assert_string_equal(token, csrf);
	assert_int_equal(jmap_websessions_create(s, "ana@example.org", 1000, id2, csrf), 1);
	assert_string_not_equal(id, id2);
	/* unknown, truncated, empty */
	memcpy(id2, id, sizeof(id2));
	id2[0] = id2[0] == 'a' ? 'b' : 'a';
	assert_int_equal(jmap_websessions_find(s, id2, 1001, &user, &token), 0);
	id2[10] = '\0';
	assert_int_equal(jmap_websessions_find(s, id2, 1001, &user, &token), 0);
	assert_int_equal(jmap_websessions_find(s, "", 1001, &user, &token), 0);
	jmap_websessions_free(&s);
	assert_null(s);
}

static void test_expiry(void **state)
{
	struct jmap_websessions *s = jmap_websessions_new(8, 4, 100, 250);
	char id[JMAP_WEB_ID_LEN + 1], csrf[JMAP_WEB_ID_LEN + 1];
	const char *user, *token;

	assert_int_equal(jmap_websessions_create(s, "ana@example.org", 1000, id, csrf), 1);
	/* use keeps it alive while idle < 100 ... */
	assert_int_equal(jmap_websessions_find(s, id, 1090, &user, &token), 1);
	assert_int_equal(jmap_websessions_find(s, id, 1180, &user, &token), 1);
	assert_int_equal(jmap_websessions_find(s, id, 1240, &user, &token), 1);
	/* ... but not past the absolute lifetime */
	assert_int_equal(jmap_websessions_find(s, id, 1250, &user, &token), 0);
	assert_int_equal(jmap_websessions_count(s, 1250), 0);

	assert_int_equal(jmap_websessions_create(s, "ana@example.org", 2000, id, csrf), 1);
	assert_int_equal(jmap_websessions_count(s, 2099), 1);
	assert_int_equal(jmap_websessions_find(s, id, 2100, &user, &token), 0);
	/* a clock set back does not revive or keep it */
	assert_int_equal(jmap_websessions_create(s, "ana@example.org", 3000, id, csrf), 1);
	assert_int_equal(jmap_websessions_find(s, id, 2999, &user, &token), 0);
	jmap_websessions_free(&s);
}

static void test_bounds(void **state)
{
	struct jmap_websessions *s = jmap_websessions_new(4, 2, 1000, 10000);
	char ids[6][JMAP_WEB_ID_LEN + 1], csrf[JMAP_WEB_ID_LEN + 1];
	const char *user, *token;

	/* per user: the third sign-in of ana pushes out her oldest */
	assert_int_equal(jmap_websessions_create(s, "ana", 100, ids[0], csrf), 1);
	assert_int_equal(jmap_websessions_create(s, "ana", 101, ids[1], csrf), 1);
	assert_int_equal(jmap_websessions_create(s, "ana", 102, ids[2], csrf), 1);
	assert_int_equal(jmap_websessions_find(s, ids[0], 103, &user, &token), 0);
	assert_int_equal(jmap_websessions_find(s, ids[1], 103, &user, &token), 1);
	assert_int_equal(jmap_websessions_find(s, ids[2], 103, &user, &token), 1);
	/* in all: 4 slots, full with bia and cid; once the others are used
	   again, bia's is the least recently used and goes for dan's */
	assert_int_equal(jmap_websessions_create(s, "bia", 104, ids[3], csrf), 1);
	assert_int_equal(jmap_websessions_create(s, "cid", 105, ids[4], csrf), 1);
	assert_int_equal(jmap_websessions_count(s, 105), 4);
	assert_int_equal(jmap_websessions_find(s, ids[1], 106, &user, &token), 1);
	assert_int_equal(jmap_websessions_find(s, ids[2], 106, &user, &token), 1);
	assert_int_equal(jmap_websessions_find(s, ids[4], 106, &user, &token), 1);
	assert_int_equal(jmap_websessions_create(s, "dan", 107, ids[5], csrf), 1);
	assert_int_equal(jmap_websessions_count(s, 107), 4);
	assert_int_equal(jmap_websessions_find(s, ids[3], 107, &user, &token), 0);
	assert_int_equal(jmap_websessions_find(s, ids[5], 107, &user, &token), 1);
	assert_string_equal(user, "dan");
	jmap_websessions_free(&s);
}

static void test_remove(void **state)
{
	struct jmap_websessions *s = jmap_websessions_new(4, 4, 1000, 10000);
	char id[JMAP_WEB_ID_LEN + 1], csrf[JMAP_WEB_ID_LEN + 1];
	const char *user, *token;

	assert_int_equal(jmap_websessions_create(s, "ana", 100, id, csrf), 1);
	assert_int_equal(jmap_websessions_remove(s, id), 1);
	assert_int_equal(jmap_websessions_remove(s, id), 0);
	assert_int_equal(jmap_websessions_find(s, id, 101, &user, &token), 0);
	jmap_websessions_free(&s);
}

static void test_cookie(void **state)
{
	char v[16];

	assert_int_equal(jmap_cookie_value("a=1; correio_session=abc; b=2", "correio_session", v,
					   sizeof(v)), 1);
	assert_string_equal(v, "abc");
	assert_int_equal(jmap_cookie_value("correio_session=\"q\"", "correio_session", v,
					   sizeof(v)), 1);
	assert_string_equal(v, "q");
	assert_int_equal(jmap_cookie_value("xcorreio_session=abc", "correio_session", v,
					   sizeof(v)), 0);
	assert_int_equal(jmap_cookie_value("correio_sessionx=abc;c", "correio_session", v,
					   sizeof(v)), 0);
	assert_int_equal(jmap_cookie_value("", "correio_session", v, sizeof(v)), 0);
	assert_int_equal(jmap_cookie_value(";;; ;", "correio_session", v, sizeof(v)), 0);
	assert_int_equal(jmap_cookie_value("s=", "s", v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(jmap_cookie_value("s=0123456789abcdef", "s", v, sizeof(v)), -1);
	/* the first of two wins */
	assert_int_equal(jmap_cookie_value("s=one; s=two", "s", v, sizeof(v)), 1);
	assert_string_equal(v, "one");
	/* every value, in order; a long one does not end the list */
	assert_int_equal(jmap_cookie_nth("s=one; t=x; s=0123456789abcdef; s=three", "s", 1, v,
					 sizeof(v)), -1);
	assert_int_equal(jmap_cookie_nth("s=one; t=x; s=0123456789abcdef; s=three", "s", 2, v,
					 sizeof(v)), 1);
	assert_string_equal(v, "three");
	assert_int_equal(jmap_cookie_nth("s=one; s=two", "s", 2, v, sizeof(v)), 0);
	assert_int_equal(jmap_cookie_nth("__Host-s=h; s=p", "s", 0, v, sizeof(v)), 1);
	assert_string_equal(v, "p");
	assert_true(jmap_token_equal("abc", "abc"));
	assert_false(jmap_token_equal("abc", "abd"));
	assert_false(jmap_token_equal("abc", "ab"));
	assert_false(jmap_token_equal("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_find),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_cookie),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
