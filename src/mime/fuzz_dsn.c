/*
 * fuzz_dsn.c - libFuzzer target: dsn_compose() with arbitrary original
 * text (the first byte picks the kind, RET and a return limit).  The
 * notice must be built, end with its close delimiter, use a boundary the
 * original does not contain, and say it needs 8BITMIME exactly when it
 * holds 8-bit bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

static void check(const struct buf *out, const char *orig, size_t len,
		  const struct dsn_result *res)
{
	const char *b = strstr(out->data, "boundary=\""), *q;
	char close[160];
	size_t n;

	if (b == NULL || (q = strchr(b + 10, '"')) == NULL || q - b - 10 > 70)
		abort();
	n = (size_t)snprintf(close, sizeof(close), "\n--%.*s--\n",
			     (int)(q - b - 10), b + 10);
	if (out->len < n || memcmp(out->data + out->len - n, close, n) != 0)
		abort();
	if (memmem(orig, len, b + 10, (size_t)(q - b - 10)) != NULL)
		abort();
	if (res->need_8bitmime != qp_is_8bit(out->data, out->len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsn_info info = {
		.reporting_mta = "mx.example.org",
		.from_address = "MAILER-DAEMON@mx.example.org",
		.to = "a@example.org", .envid = "e+2Bx", .queue_id = "F00D",
		.arrival = 1751000000, .date = 1751371389,
	};
	struct dsn_rcpt r = {
		.address = "b@example.net", .orcpt = "rfc822;b+2B1@example.net",
		.action = "failed", .status = "5.1.1",
		.diagnostic = "smtp; 550 5.1.1 No such user",
	};
	struct dsn_result res;
	struct buf out;
	const char *error;

	if (size < 1)
		return 0;
	info.kind = (enum dsn_kind)(data[0] % 3);
	info.ret_full = (data[0] & 4) != 0;
	info.max_return = (data[0] & 8) != 0 ? (size_t)(data[0] >> 4) * 64 : 0;
	buf_init(&out, 0);
	if (dsn_compose(&info, &r, 1, (const char *)data + 1, size - 1, &out,
			&res, &error) != 1)
		abort();
	check(&out, (const char *)data + 1, size - 1, &res);
	buf_deinit(&out);
	return 0;
}
