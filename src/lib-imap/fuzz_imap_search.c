/*
 * fuzz_imap_search.c - libFuzzer target: SEARCH programs.
 *
 * The first two bytes choose the "*" values (message count and highest
 * UID, both at least 1); the rest follows "a SEARCH " through the command
 * reader.  A program that parses is written out, read back and written
 * again: both writings must be equal.  The same bytes also go through
 * folding (same length, idempotent), matching and the Date: header day.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_search.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* The first command of "a SEARCH <keys>\r\n": 1, or 0 if none. */
static int read_command(struct imap_parser *p, const char *keys, size_t len,
			struct imap_event *ev)
{
	struct buf line;
	size_t pos = 0, used;
	int ret;

	buf_init(&line, 0);
	buf_puts(&line, "a SEARCH ");
	buf_append(&line, keys, len);
	buf_puts(&line, "\r\n");
	do {
		ret = imap_parser_feed(p, line.data + pos, line.len - pos, &used, ev);
		pos += used;
	} while (ret > 0 && ev->type != IMAP_EVENT_COMMAND);
	buf_deinit(&line);
	return ret > 0 ? 1 : 0;
}

/* Parse keys and write the program into out: 1, 0 (charset), -1. */
static int parse_write(const char *keys, size_t len, const struct imap_search_params *params,
		       struct buf *out)
{
	struct imap_parser_limits limits;
	struct imap_search_program *prog = NULL;
	struct imap_parser *p;
	struct imap_event ev;
	const char *error = NULL;
	int ret = -1;

	imap_parser_limits_default(&limits);
	limits.max_collect = 4096;
	p = imap_parser_new(&limits);
	if (read_command(p, keys, len, &ev) > 0) {
		ret = imap_search_parse(ev.args, params, &prog, &error);
		CHECK(ret >= 0 || (error != NULL && prog == NULL));
		if (ret > 0) {
			CHECK(prog->need == prog->root->need);
			CHECK(imap_search_write(prog, out) == 1);
			imap_search_program_free(&prog);
		}
	}
	imap_parser_free(&p);
	return ret;
}

static void check_text(const char *in, size_t size)
{
	char *s = malloc(size + 1), *t = malloc(size + 1);
	struct buf scratch;
	time_t day;

	CHECK(s != NULL && t != NULL);
	memcpy(s, in, size);
	s[size] = '\0';
	imap_search_date_header(s, &day);
	imap_search_fold(s, size);
	memcpy(t, s, size + 1);
	imap_search_fold(t, size);
	CHECK(memcmp(s, t, size) == 0);
	buf_init(&scratch, 0);
	CHECK(imap_search_match(s, size / 2, in, size, &scratch) >= 0);
	CHECK(imap_search_match(s, size, in, size, &scratch) == 1);
	buf_deinit(&scratch);
	free(s);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_search_params params = { 1, 1, 0, NULL };
	struct buf a, b;

	if (size < 2)
		return 0;
	params.messages += data[0];
	params.max_uid += (uint32_t)data[1] * 1000;
	/* "$" (SEARCHRES): refused, nothing saved, or a saved set */
	params.saved = data[0] % 3 == 0 ? NULL : data[0] % 3 == 1 ? "" : "1:3,7";
	data += 2;
	size -= 2;
	check_text((const char *)data, size);
	buf_init(&a, 0);
	buf_init(&b, 0);
	if (parse_write((const char *)data, size, &params, &a) > 0) {
		CHECK(parse_write(buf_cstr(&a), a.len, &params, &b) == 1);
		CHECK(a.len == b.len && memcmp(buf_cstr(&a), buf_cstr(&b), a.len) == 0);
	}
	buf_deinit(&a);
	buf_deinit(&b);
	return 0;
}
