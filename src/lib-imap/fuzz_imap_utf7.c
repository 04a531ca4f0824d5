/*
 * fuzz_imap_utf7.c - libFuzzer target: modified UTF-7 mailbox names.
 *
 * The input is tried as modified UTF-7 (whatever decodes must encode back
 * to exactly the input: only the one canonical form is accepted) and as
 * UTF-8 (whatever encodes must decode back to the input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_utf7.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf a, b;

	buf_init(&a, 0);
	buf_init(&b, 0);
	if (imap_utf7_decode(in, size, &a) == 1) {
		CHECK(imap_utf7_is_valid(in, size));
		CHECK(imap_utf7_encode(a.data != NULL ? a.data : "", a.len,
				       &b) == 1);
		CHECK(b.len == size && memcmp(buf_cstr(&b), in, size) == 0);
	} else {
		CHECK(a.len == 0 && !imap_utf7_is_valid(in, size));
	}
	buf_reset(&a);
	buf_reset(&b);
	if (imap_utf7_encode(in, size, &a) == 1) {
		CHECK(imap_utf7_decode(a.data != NULL ? a.data : "", a.len,
				       &b) == 1);
		CHECK(b.len == size && memcmp(buf_cstr(&b), in, size) == 0);
	} else {
		CHECK(a.len == 0);
	}
	buf_deinit(&a);
	buf_deinit(&b);
	return 0;
}
