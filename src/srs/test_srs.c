/*
 * test_srs.c - the Sender Rewriting Scheme: forward forms (SRS0, SRS1 from
 * SRS0 and from SRS1), hashes computed independently (HMAC-SHA1 of the
 * lower-cased fields, base64, 4 characters), and a table of reversals:
 * good, forged hashes, expired and future stamps, case changes, malformed
 * addresses, other domains, and the secret file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "srs/srs.h"

#define NOW 1765000000ULL	/* day 20428, stamp "6M" */
#define DAY 86400ULL

static void setup_srs(struct srs *srs)
{
	memset(srs, 0, sizeof(*srs));
	memcpy(srs->secret, "s3cret", 6);
	srs->secret_len = 6;
	snprintf(srs->domain, sizeof(srs->domain), "fwd.test");
	srs->max_age_days = SRS_DEFAULT_MAX_AGE_DAYS;
}

static void test_forward(void **state)
{
	struct srs srs;
	char out[SRS_ADDRESS_MAX];

	setup_srs(&srs);
	/* computed with Python's hmac over "6Mexample.netalice" */
	assert_int_equal(srs_forward(&srs, "Alice@example.net", NOW, out, sizeof(out)), 1);
	assert_string_equal(out, "SRS0=VzvI=6M=example.net=Alice@fwd.test");
	/* SRS0 of another forwarder becomes SRS1 naming it */
	assert_int_equal(srs_forward(&srs, "SRS0=HHHH=TT=orig.test=bob@other.test", NOW, out,
				     sizeof(out)), 1);
	assert_string_equal(out, "SRS1=Pj0V=other.test==HHHH=TT=orig.test=bob@fwd.test");
	/* SRS1 of another forwarder keeps its first host and rest */
	assert_int_equal(srs_forward(&srs, "SRS1=xxxx=other.test==HHHH=TT=orig.test=bob@third.test",
				     NOW, out, sizeof(out)), 1);
	assert_string_equal(out, "SRS1=Pj0V=other.test==HHHH=TT=orig.test=bob@fwd.test");
	/* left alone: null sender, ours already, no domain */
	assert_int_equal(srs_forward(&srs, "", NOW, out, sizeof(out)), 0);
	assert_int_equal(srs_forward(&srs, "x@FWD.test", NOW, out, sizeof(out)), 0);
	assert_int_equal(srs_forward(&srs, "nodomain", NOW, out, sizeof(out)), 0);
	assert_int_equal(srs_forward(&srs, "a@example.net", NOW, out, 20), -1);
}

/* A rewritten sender must be one our own SMTP server accepts back as a
   recipient (a bounce): its local part within RFC 5321's 64 octets.  A
   sender whose SRS form would be longer is left as it is. */
static void test_forward_local_part_limit(void **state)
{
	struct srs srs;
	char out[SRS_ADDRESS_MAX];
	const char *at;

	setup_srs(&srs);
	/* 5 + 5 + 3 + 30 + 21 = 64: still rewritten */
	assert_int_equal(srs_forward(&srs, "abcdefghijklmnopqrstu@notifications.service.example",
				     NOW, out, sizeof(out)), 1);
	at = strrchr(out, '@');
	assert_int_equal(at - out, 64);
	/* one more: left alone */
	assert_int_equal(srs_forward(&srs, "abcdefghijklmnopqrstuv@notifications.service.example",
				     NOW, out, sizeof(out)), 0);
	/* SRS1 forms too */
	assert_int_equal(srs_forward(&srs, "SRS0=HHHH=TT=a-rather-long-origin.example=somebody"
				     "@other-forwarder.example", NOW, out, sizeof(out)), 0);
	assert_int_equal(srs_forward(&srs, "SRS1=xxxx=a-rather-long-forwarder-name.example=="
				     "HHHH=TT=orig.test=bob@third.test", NOW, out, sizeof(out)), 0);
}

struct reverse_case {
	const char *address;
	uint64_t now;
	int ret;
	const char *result;	/* ret 1: the address; ret -1: the error's start */
};

static void test_reverse_table(void **state)
{
	static const struct reverse_case cases[] = {
		{ "SRS0=VzvI=6M=example.net=Alice@fwd.test", NOW, 1, "Alice@example.net" },
		/* case changed on the way: hash, stamp and domain compare in any case */
		{ "srs0=vZVi=6m=EXAMPLE.NET=ALICE@FWD.TEST", NOW, 1, "ALICE@EXAMPLE.NET" },
		/* other separators after the tag */
		{ "SRS0+VzvI=6M=example.net=Alice@fwd.test", NOW, 1, "Alice@example.net" },
		/* 21 days later still good, 22 days later expired */
		{ "SRS0=VzvI=6M=example.net=Alice@fwd.test", NOW + 21 * DAY, 1, "Alice@example.net" },
		{ "SRS0=VzvI=6M=example.net=Alice@fwd.test", NOW + 22 * DAY, -1, "expired" },
		/* a stamp from "the future" is as old as its modulo says */
		{ "SRS0=VzvI=6M=example.net=Alice@fwd.test", NOW - DAY, -1, "expired" },
		/* forged: another hash, another user, another host, another stamp */
		{ "SRS0=VzvJ=6M=example.net=Alice@fwd.test", NOW, -1, "bad SRS hash" },
		{ "SRS0=VzvI=6M=example.net=mallory@fwd.test", NOW, -1, "bad SRS hash" },
		{ "SRS0=VzvI=6M=example.org=Alice@fwd.test", NOW, -1, "bad SRS hash" },
		{ "SRS0=VzvI=6N=example.net=Alice@fwd.test", NOW, -1, "bad SRS hash" },
		{ "SRS0=VzvIA=6M=example.net=Alice@fwd.test", NOW, -1, "bad SRS hash" },
		{ "SRS0==6M=example.net=Alice@fwd.test", NOW, -1, "malformed" },
		{ "SRS0=VzvI=6M=example.net@fwd.test", NOW, -1, "malformed" },
		{ "SRS0=VzvI=6MM=example.net=a@fwd.test", NOW, -1, "malformed" },
		{ "SRS0=VzvI=6M=example.net=@fwd.test", NOW, -1, "malformed" },
		/* SRS1: back to the first forwarder's SRS0 */
		{ "SRS1=Pj0V=other.test==HHHH=TT=orig.test=bob@fwd.test", NOW, 1,
		  "SRS0=HHHH=TT=orig.test=bob@other.test" },
		{ "SRS1=Pj0W=other.test==HHHH=TT=orig.test=bob@fwd.test", NOW, -1, "bad SRS hash" },
		{ "SRS1=Pj0V=other.test@fwd.test", NOW, -1, "malformed" },
		/* not ours or not SRS: left to the caller */
		{ "SRS0=VzvI=6M=example.net=Alice@elsewhere.test", NOW, 0, NULL },
		{ "alice@fwd.test", NOW, 0, NULL },
		{ "SRS2=VzvI=6M=example.net=Alice@fwd.test", NOW, 0, NULL },
		{ "SRS0", NOW, 0, NULL },
	};
	struct srs srs;

	setup_srs(&srs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reverse_case *c = &cases[i];
		char out[SRS_ADDRESS_MAX] = "";
		const char *error = NULL;
		int ret = srs_reverse(&srs, c->address, c->now, out, sizeof(out), &error);
		if (ret != c->ret)
			fail_msg("%s: got %d (%s), want %d", c->address, ret,
				 error != NULL ? error : "", c->ret);
		if (ret == 1)
			assert_string_equal(out, c->result);
		if (ret == -1 && (error == NULL || strstr(error, c->result) == NULL))
			fail_msg("%s: error \"%s\", want \"%s\"", c->address,
				 error != NULL ? error : "(none)", c->result);
	}
}

/* What forward makes, reverse undoes, at every day of the stamp's cycle. */
static void test_round_trip(void **state)
{
	struct srs srs;
	char fwd[SRS_ADDRESS_MAX], back[SRS_ADDRESS_MAX];
	const char *error;

	setup_srs(&srs);
	for (uint64_t day = 0; day < 2048; day += 7) {
		uint64_t t = day * DAY + 3600;
		assert_int_equal(srs_forward(&srs, "u.ser+tag@sub.example.net", t, fwd,
					     sizeof(fwd)), 1);
		assert_int_equal(srs_reverse(&srs, fwd, t + 20 * DAY, back, sizeof(back),
					     &error), 1);
		assert_string_equal(back, "u.ser+tag@sub.example.net");
	}
	/* a second secret does not accept the first one's addresses */
	assert_int_equal(srs_forward(&srs, "a@example.net", NOW, fwd, sizeof(fwd)), 1);
	srs.secret[0] = 'S';
	assert_int_equal(srs_reverse(&srs, fwd, NOW, back, sizeof(back), &error), -1);
}

static void test_secret_file(void **state)
{
	char dir[] = "/tmp/test_srs.XXXXXX", path[300];
	struct srs a, b;
	const char *error;
	struct stat st;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/srs.secret", dir);
	assert_int_equal(srs_secret_load(&a, path, &error), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(a.secret_len >= 40);
	/* the second load reads the same secret */
	assert_int_equal(srs_secret_load(&b, path, &error), 1);
	assert_int_equal(a.secret_len, b.secret_len);
	assert_memory_equal(a.secret, b.secret, a.secret_len);
	/* an administrator's own secret: the first line */
	unlink(path);
	assert_non_null(f = fopen(path, "w"));
	fputs("s3cret\nold-secret\n", f);
	fclose(f);
	assert_int_equal(srs_secret_load(&a, path, &error), 1);
	assert_int_equal(a.secret_len, 6);
	assert_memory_equal(a.secret, "s3cret", 6);
	/* an empty file is refused */
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(srs_secret_load(&a, path, &error), -1);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_forward_local_part_limit),
		cmocka_unit_test(test_reverse_table),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_secret_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
