/*
 * fuzz_uudecode.c - libFuzzer target: the scanner that finds uuencoded
 * files in plain-text bodies and decodes them (client_uu.c).
 *
 * Every block found lies inside the input, after the previous one, starts
 * with "begin" and ends past an "end" line; decoding never yields more
 * than 3/4 of the block's size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_private.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct client_uu_block b;
	size_t pos = 0, last_end = 0;
	struct buf out;

	buf_init(&out, 0);
	while (client_uu_find(text, size, &pos, &b) > 0) {
		CHECK(b.start >= last_end && b.start < b.data_start);
		CHECK(b.data_start <= b.end && b.end <= size && pos == b.end);
		CHECK(memcmp(text + b.start, "begin ", 6) == 0);
		CHECK(strlen(b.name) > 0);
		buf_reset(&out);
		CHECK(client_uu_decode(text, &b, &out) == 1);
		CHECK(out.len <= (b.end - b.data_start) * 3 / 4 + 3);
		last_end = b.end;
	}
	CHECK(pos == size);
	buf_deinit(&out);
	return 0;
}
