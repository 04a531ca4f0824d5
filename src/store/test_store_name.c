/*
 * test_store_name.c - the pure parts of the mail store: folder names and
 * their Maildir++ directories (both ways, Unicode, escapes, refusals),
 * Maildir file names (fields and flags, both ways), the RFC822 size count
 * and the CRC used by the index files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "store/store_private.h"

static void test_name_to_dir(void **state)
{
	static const struct {
		const char *name, *dir;
	} cases[] = {
		{ "Sent", ".Sent" },
		{ "A/B", ".A.B" },
		{ "Projects/2024.Q1", ".Projects.2024%2EQ1" },
		{ "100%", ".100%25" },
		{ "Café", ".Café" },
		{ "日本語/メール", ".日本語.メール" },
		{ "INBOX/child", ".INBOX.child" },
		{ "a b", ".a b" },
		{ "~x", ".~x" },
	};
	char dir[300], back[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(store_name_to_dir(cases[i].name, dir, sizeof(dir)), 1);
		assert_string_equal(dir, cases[i].dir);
		assert_int_equal(store_name_from_dir(dir, back, sizeof(back)), 1);
		assert_string_equal(back, cases[i].name);
	}
}

static void test_from_dir_refuses(void **state)
{
	static const char *bad[] = {
		".", "..", "cur", "tmp", ".INBOX", ".inbox.x", ".a..b", ".a.",
		".%2e", ".%G0", ".%2", ".a.b%2Fc", ".%0A", "correio-trash.x",
		".\xff",
	};
	char out[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_name_from_dir(bad[i], out, sizeof(out)), 0);
	/* "/" escaped is the only way to write it, but a name cannot hold it */
	assert_int_equal(store_name_from_dir(".a%2Fb", out, sizeof(out)), 0);
	/* dots at the end of a level are fine */
	assert_int_equal(store_name_from_dir(".a%2Eb%2E.c", out, sizeof(out)), 1);
	assert_string_equal(out, "a.b./c");
}

static void test_normalize(void **state)
{
	static const struct {
		const char *in, *out;
		enum store_error_code code;
	} cases[] = {
		{ "inbox", "INBOX", 0 },
		{ "InBoX/Sub", "INBOX/Sub", 0 },
		{ "inboxes", "inboxes", 0 },
		{ "Über/ñ", "Über/ñ", 0 },
		{ "", NULL, STORE_ERROR_BAD_PARAM },
		{ "/a", NULL, STORE_ERROR_BAD_PARAM },
		{ "a/", NULL, STORE_ERROR_BAD_PARAM },
		{ "a//b", NULL, STORE_ERROR_BAD_PARAM },
		{ "a\tb", NULL, STORE_ERROR_BAD_PARAM },
		{ "a\nb", NULL, STORE_ERROR_BAD_PARAM },
		{ "\xc3\x28", NULL, STORE_ERROR_BAD_PARAM },		/* bad continuation */
		{ "\xc0\xaf", NULL, STORE_ERROR_BAD_PARAM },		/* overlong '/' */
		{ "\xed\xa0\x80", NULL, STORE_ERROR_BAD_PARAM },	/* surrogate */
		{ "\xf4\x90\x80\x80", NULL, STORE_ERROR_BAD_PARAM },	/* > U+10FFFF */
	};
	struct store_error err;
	char out[STORE_NAME_MAX + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = store_name_normalize(cases[i].in, out, sizeof(out), &err);
		if (cases[i].out != NULL) {
			assert_int_equal(ret, 1);
			assert_string_equal(out, cases[i].out);
		} else {
			assert_int_equal(ret, -1);
			assert_int_equal(err.code, cases[i].code);
		}
	}
}

static void test_long_names(void **state)
{
	char name[400], dir[600];

	memset(name, 'x', 254);
	name[254] = '\0';
	assert_int_equal(store_name_to_dir(name, dir, sizeof(dir)), 1);
	name[253] = '.';	/* escaped: three bytes, past NAME_MAX */
	assert_int_equal(store_name_to_dir(name, dir, sizeof(dir)), -1);
}

static void test_parse_file_name(void **state)
{
	struct mdname md;

	store_maildir_parse("1700000000.Q0A1B.mx.example.org,S=1234", &md);
	assert_int_equal(md.arrival, 1700000000);
	assert_int_equal(md.size, 1234);
	assert_true(md.vsize == UINT64_MAX);
	assert_int_equal(md.uid, 0);
	assert_int_equal(md.flags, 0);
	assert_int_equal(md.base_len, strlen("1700000000.Q0A1B.mx.example.org,S=1234"));

	store_maildir_parse("17.M1P2Q3.h,S=10,W=12,U=42:2,DFPRSTac", &md);
	assert_int_equal(md.uid, 42);
	assert_int_equal(md.size, 10);
	assert_int_equal(md.vsize, 12);
	assert_int_equal(md.flags, STORE_FLAG_DRAFT | STORE_FLAG_FLAGGED | REC_FLAG_PASSED |
			 STORE_FLAG_ANSWERED | STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	assert_int_equal(md.keywords, 0x5);
	assert_int_equal(md.base_len, strlen("17.M1P2Q3.h,S=10,W=12,U=42"));

	/* fields must be whole: ",U=4x" and ",S=" are part of the base */
	store_maildir_parse("x,U=4x,S=,W=5:2,S", &md);
	assert_int_equal(md.uid, 0);
	assert_true(md.size == UINT64_MAX);
	assert_int_equal(md.vsize, 5);
	assert_int_equal(md.flags, STORE_FLAG_SEEN);
	/* no info, or an info of another version: no flags */
	store_maildir_parse("x:1,S", &md);
	assert_int_equal(md.flags, 0);
	store_maildir_parse("plain", &md);
	assert_int_equal(md.arrival, 0);
	assert_int_equal(md.base_len, 5);
}

static void test_build_file_name(void **state)
{
	char name[STORE_FILE_MAX];
	const char *base = "1700000000.QAB.mx,S=99,U=7,W=3";

	assert_int_equal(store_maildir_name(name, sizeof(name), "1.QX.h,S=36", 11, 36, 40,
					    5, 0, 0), 1);
	assert_string_equal(name, "1.QX.h,S=36,W=40,U=5:2,");
	/* old S=, W=, U= are replaced, other fields kept */
	assert_int_equal(store_maildir_name(name, sizeof(name), base, strlen(base), 10, 12,
					    9, STORE_FLAG_SEEN | STORE_FLAG_DELETED |
					    STORE_FLAG_DRAFT, 0x2000001), 1);
	assert_string_equal(name, "1700000000.QAB.mx,S=10,W=12,U=9:2,DSTaz");
	assert_int_equal(store_maildir_name(name, sizeof(name), "x,Z=1,S=2", 9, 2, 3, 1,
					    REC_FLAG_PASSED | STORE_FLAG_ANSWERED |
					    STORE_FLAG_FLAGGED, 0), 1);
	assert_string_equal(name, "x,Z=1,S=2,W=3,U=1:2,FPR");
	/* too long for a file name */
	char big[300];
	memset(big, 'b', 250);
	big[250] = '\0';
	assert_int_equal(store_maildir_name(name, sizeof(name), big, 250, 1, 1, 1, 0, 0), -1);
}

static void test_measure(void **state)
{
	static const struct {
		const char *text;
		unsigned long long size, vsize;
	} cases[] = {
		{ "", 0, 0 },
		{ "a\nb\n", 4, 6 },
		{ "a\r\nb\n", 5, 6 },
		{ "\n\n\n", 3, 6 },
		{ "no end", 6, 6 },
		{ "\r\n\r\n", 4, 4 },
	};
	char path[] = "/tmp/correio-test-measure-XXXXXX";
	uint64_t size, vsize;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(pwrite(fd, cases[i].text, strlen(cases[i].text), 0),
				 (ssize_t)strlen(cases[i].text));
		assert_int_equal(file_crlf_size(fd, &size, &vsize), 1);
		assert_int_equal(size, cases[i].size);
		assert_int_equal(vsize, cases[i].vsize);
	}
	/* a CR at the end of one 64 KB block and its LF in the next */
	char *big = malloc(65537);
	memset(big, 'x', 65537);
	big[65535] = '\r';
	big[65536] = '\n';
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, big, 65537, 0), 65537);
	assert_int_equal(file_crlf_size(fd, &size, &vsize), 1);
	assert_int_equal(vsize, 65537);
	free(big);
	close(fd);
	unlink(path);
}

static void test_crc32c(void **state)
{
	/* the check value of CRC-32C */
	assert_int_equal(store_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(store_crc32c(store_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
	assert_int_equal(store_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros, of ones; also split unevenly
	   (the eight-byte steps and the tail of either implementation) */
	unsigned char b[32];
	memset(b, 0, sizeof(b));
	assert_int_equal(store_crc32c(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(store_crc32c(0, b, 32), 0x62a8ab43);
	assert_int_equal(store_crc32c(store_crc32c(0, b, 13), b + 13, 19), 0x62a8ab43);
}

static void test_uidl(void **state)
{
	char text[24];

	store_uidl(1732700000, 42, text, sizeof(text));
	assert_string_equal(text, "1732700000.42");
	store_uidl(UINT32_MAX, UINT32_MAX, text, sizeof(text));
	assert_string_equal(text, "4294967295.4294967295");
}

/* The names of delivered messages: one host part for the delivery agent
   and the store, and sizes the store parses back. */
static void test_delivery_name(void **state)
{
	char name[256], host[64];
	struct mdname md;

	store_delivery_name(name, sizeof(name), 1700000000, "ABC", "mx.example.org", 42, 45);
	assert_string_equal(name, "1700000000.QABC.mx.example.org,S=42,W=45");
	store_delivery_name(name, sizeof(name), 1, "Q", "bad/host:name,S=9\\x", 7, 0);
	assert_string_equal(name, "1.QQ.bad_host_name_S=9_x,S=7");
	store_maildir_parse(name, &md);
	assert_int_equal(md.size, 7);
	assert_true(md.vsize == UINT64_MAX);
	store_maildir_host("", host, sizeof(host));
	assert_string_equal(host, "localhost");
	store_maildir_host("a:b/c", host, sizeof(host));
	assert_string_equal(host, "a_b_c");
}

/* A delivered name whose host had '/', ':' or ',' in it parses back as
   written: the sizes, no flags until the store gives them, and once the
   store renames it into cur/ (with U= and flags) the same base, host
   part included, and the flags of the info only. */
static void test_delivery_name_round_trip(void **state)
{
	static const char *const hosts[] = {
		"mx:2,FS/x", "a/b:c", ":2,T", "h,S=1,W=2,U=3", "x\\y:z",
	};
	char name[256], cur[300], again[300];
	struct mdname md, back;

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		store_delivery_name(name, sizeof(name), 1700000000, "QID", hosts[i], 42, 45);
		assert_null(strchr(name, '/'));
		assert_null(strchr(name, ':'));
		store_maildir_parse(name, &md);
		assert_int_equal(md.size, 42);
		assert_int_equal(md.vsize, 45);
		assert_int_equal(md.uid, 0);
		assert_int_equal(md.flags, 0);
		assert_int_equal(md.keywords, 0);
		assert_int_equal(md.arrival, 1700000000);
		assert_int_equal(md.base_len, strlen(name));
		/* what the store makes of it in cur/, and back */
		assert_int_equal(store_maildir_name(cur, sizeof(cur), name, md.base_len, 42, 45,
						    7, STORE_FLAG_SEEN, 0), 1);
		store_maildir_parse(cur, &back);
		assert_int_equal(back.uid, 7);
		assert_int_equal(back.flags, STORE_FLAG_SEEN);
		assert_int_equal(back.size, 42);
		assert_int_equal(back.vsize, 45);
		assert_int_equal(store_maildir_name(again, sizeof(again), cur, back.base_len, 42,
						    45, 7, STORE_FLAG_SEEN, 0), 1);
		assert_string_equal(again, cur);
		/* the base up to the sizes is the delivered one */
		assert_memory_equal(cur, name, strcspn(name, ","));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_to_dir),
		cmocka_unit_test(test_from_dir_refuses),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_parse_file_name),
		cmocka_unit_test(test_build_file_name),
		cmocka_unit_test(test_measure),
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_uidl),
		cmocka_unit_test(test_delivery_name),
		cmocka_unit_test(test_delivery_name_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
