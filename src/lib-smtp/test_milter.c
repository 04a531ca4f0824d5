/*
 * test_milter.c - milter packets: framing across arbitrary splits, each
 * reply decoded, malformed packets refused, and the commands encoded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "lib-smtp/milter.h"

static void packet(struct buf *b, char cmd, const void *data, size_t len)
{
	milter_put(b, cmd, data, len);
}

/* Feed the whole of b in pieces of step bytes; collect the reply kinds. */
static int feed_all(const struct buf *b, size_t step, char *cmds, size_t size,
		    struct milter_reply *last)
{
	struct milter_reader r;
	const char *error;
	size_t off = 0, n_cmds = 0;
	int ret = 0;

	milter_reader_init(&r);
	while (off < b->len) {
		size_t n = b->len - off < step ? b->len - off : step, used;
		ret = milter_read(&r, b->data + off, n, &used, last, &error);
		if (ret < 0)
			break;
		if (ret > 0 && n_cmds + 1 < size)
			cmds[n_cmds++] = last->cmd;
		if (ret > 0 && last->text != NULL) {
			/* it points into r's data, gone with r */
			static char text[64];
			snprintf(text, sizeof(text), "%s", last->text);
			last->text = text;
		}
		off += used;
	}
	cmds[n_cmds] = '\0';
	milter_reader_deinit(&r);
	return ret;
}

static void test_framing_any_split(void **state)
{
	struct buf b;
	char cmds[16];
	struct milter_reply last;
	uint32_t neg[3] = { htonl(6), htonl(0x33), htonl(0x1ff) };

	buf_init(&b, 0);
	packet(&b, 'O', neg, sizeof(neg));
	packet(&b, 'c', NULL, 0);
	packet(&b, 'h', "X-Filter\0seen\0", 14);
	packet(&b, 'y', "554 5.7.1 no thanks\0", 20);
	for (size_t step = 1; step <= b.len; step++) {
		assert_int_equal(feed_all(&b, step, cmds, sizeof(cmds), &last), 1);
		assert_string_equal(cmds, "Ochy");
		assert_int_equal(last.kind, MILTER_R_REPLYCODE);
		assert_string_equal(last.text, "554 5.7.1 no thanks");
	}
	buf_deinit(&b);
}

static struct milter_reply one(const void *data, size_t len, char cmd, int want)
{
	struct buf b;
	struct milter_reader r;
	struct milter_reply rp;
	const char *error = NULL;
	size_t used;

	buf_init(&b, 0);
	packet(&b, cmd, data, len);
	milter_reader_init(&r);
	memset(&rp, 0, sizeof(rp));
	assert_int_equal(milter_read(&r, b.data, b.len, &used, &rp, &error), want);
	if (want > 0)
		assert_int_equal(used, b.len);
	else
		assert_non_null(error);
	/* the strings point into r's data: copy what the caller checks */
	static char name[64], value[64];
	if (want > 0 && rp.name != NULL) {
		snprintf(name, sizeof(name), "%s", rp.name);
		snprintf(value, sizeof(value), "%s", rp.value);
		rp.name = name;
		rp.value = value;
	}
	milter_reader_deinit(&r);
	buf_deinit(&b);
	return rp;
}

static void test_decode(void **state)
{
	uint32_t neg[3] = { htonl(6), htonl(0x21), htonl(0x80) };
	struct milter_reply rp = one(neg, sizeof(neg), 'O', 1);
	char ins[32];
	uint32_t idx = htonl(2);

	assert_int_equal(rp.kind, MILTER_R_OPTNEG);
	assert_int_equal(rp.version, 6);
	assert_int_equal(rp.actions, 0x21);
	assert_int_equal(rp.protocol, 0x80);
	assert_int_equal(one(NULL, 0, 'a', 1).kind, MILTER_R_ACCEPT);
	assert_int_equal(one(NULL, 0, 'r', 1).kind, MILTER_R_REJECT);
	assert_int_equal(one(NULL, 0, 't', 1).kind, MILTER_R_TEMPFAIL);
	assert_int_equal(one(NULL, 0, 'd', 1).kind, MILTER_R_DISCARD);
	assert_int_equal(one(NULL, 0, 'p', 1).kind, MILTER_R_PROGRESS);
	assert_int_equal(one(NULL, 0, 's', 1).kind, MILTER_R_SKIP);
	assert_int_equal(one("held\0", 5, 'q', 1).kind, MILTER_R_QUARANTINE);
	rp = one("X-Spam\0yes\0", 11, 'h', 1);
	assert_int_equal(rp.kind, MILTER_R_ADDHEADER);
	assert_string_equal(rp.name, "X-Spam");
	assert_string_equal(rp.value, "yes");
	memcpy(ins, &idx, 4);
	memcpy(ins + 4, "Subject\0\0", 9);
	rp = one(ins, 13, 'm', 1);
	assert_int_equal(rp.kind, MILTER_R_CHGHEADER);
	assert_int_equal(rp.index, 2);
	assert_string_equal(rp.name, "Subject");
	assert_string_equal(rp.value, "");
	rp = one("new body", 8, 'b', 1);
	assert_int_equal(rp.kind, MILTER_R_REPLBODY);
	assert_int_equal(rp.len, 8);
	assert_int_equal(one("<x@y>\0", 6, '+', 1).kind, MILTER_R_OTHER);
}

static void test_malformed(void **state)
{
	struct milter_reader r;
	struct milter_reply rp;
	const char *error;
	size_t used;
	static const char zero[5] = { 0, 0, 0, 0, 'c' };
	static const char huge[5] = { 0x7f, 0, 0, 0, 'b' };

	one("short", 5, 'O', -1);
	one("250 ok\0", 7, 'y', -1);		/* not a 4xx/5xx code */
	one("554 unterminated", 16, 'y', -1);
	one("Bad:Name\0v\0", 11, 'h', -1);
	one("X-No-Value", 10, 'h', -1);
	one("\0\0", 2, 'i', -1);
	one(NULL, 0, 'Z', -1);
	milter_reader_init(&r);
	assert_int_equal(milter_read(&r, zero, 5, &used, &rp, &error), -1);
	milter_reader_deinit(&r);
	milter_reader_init(&r);
	assert_int_equal(milter_read(&r, huge, 5, &used, &rp, &error), -1);
	milter_reader_deinit(&r);
}

static void test_encode(void **state)
{
	struct buf b;
	const char *items[] = { "<a@b.example>", "SIZE=10" };

	buf_init(&b, 0);
	milter_put_strings(&b, 'M', items, 2);
	assert_int_equal(b.len, 5 + 14 + 8);
	assert_memory_equal(b.data, "\0\0\0\x17M<a@b.example>\0SIZE=10\0", b.len);
	buf_reset(&b);
	milter_put_connect(&b, "client.example", "192.0.2.1", 25);
	assert_memory_equal(b.data, "\0\0\0\x1d" "Cclient.example\0" "4\0\x19" "192.0.2.1\0", b.len);
	buf_reset(&b);
	milter_put_optneg(&b, 0x33, 0x1ff);
	assert_memory_equal(b.data, "\0\0\0\x0dO\0\0\0\6\0\0\0\x33\0\0\1\xff", b.len);
	buf_deinit(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing_any_split),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
