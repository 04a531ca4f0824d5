/*
 * fuzz_imap_resp.c - libFuzzer target: the client's reader of IMAP server
 * responses (client_imap_resp.c), the part of `correio mail` that an
 * untrusted server talks to.
 *
 * The input is framed twice, whole and one byte at a time: both must give
 * the same responses.  Every framed response is split and parsed, and a
 * FETCH list searched the way the client does.  Small limits, so that the
 * limit paths are reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void frame_all(const char *in, size_t size, size_t step, struct buf *log)
{
	struct imap_resp_limits limits = { 256, 512, 1024 };
	struct imap_resp_reader r;
	size_t pos = 0;

	imap_resp_reader_init(&r, &limits);
	while (pos < size) {
		size_t n = step == 0 || size - pos < step ? size - pos : step;
		size_t used;
		const char *reason;
		int ret = imap_resp_feed(&r, in + pos, n, &used, &reason);
		CHECK(used <= n);
		pos += used;
		if (ret == 1) {
			buf_printf(log, "R%zu:", r.text.len);
			buf_append(log, r.text.data, r.text.len);
		} else if (ret < 0) {
			buf_puts(log, "E;");
		} else {
			CHECK(used == n);
		}
	}
	imap_resp_reader_deinit(&r);
}

static void parse_all(const char *log, size_t len)
{
	struct imap_parser_limits pl;
	struct imap_parser *p;
	struct buf scratch;
	struct imap_resp resp;

	imap_parser_limits_default(&pl);
	p = imap_parser_new(&pl);
	buf_init(&scratch, 0);
	for (size_t i = 0; i + 1 < len;) {
		char *end;
		if (log[i] != 'R') {
			i += 2;
			continue;
		}
		size_t n = strtoul(log + i + 1, &end, 10);
		const char *text = end + 1;
		if (imap_resp_parse(p, &scratch, text, n, &resp) > 0 && resp.args != NULL) {
			const struct imap_arg *list;
			size_t count;
			if (resp.arg_count > 0 && imap_arg_get_list(&resp.args[0], &list, &count)) {
				imap_resp_fetch_item(list, count, "UID", false);
				imap_resp_fetch_item(list, count, "BODY[HEADER", true);
				client_imap_flags(imap_resp_fetch_item(list, count, "FLAGS", false));
			}
		}
		i = (size_t)(text - log) + n;
	}
	buf_deinit(&scratch);
	imap_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole, bytes;

	buf_init(&whole, 0);
	buf_init(&bytes, 0);
	frame_all((const char *)data, size, 0, &whole);
	frame_all((const char *)data, size, 1, &bytes);
	CHECK(whole.len == bytes.len &&
	      memcmp(buf_cstr(&whole), buf_cstr(&bytes), whole.len) == 0);
	parse_all(buf_cstr(&whole), whole.len);
	buf_deinit(&whole);
	buf_deinit(&bytes);
	return 0;
}
