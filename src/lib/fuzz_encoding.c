/*
 * fuzz_encoding.c - libFuzzer target for lib/encoding's decoders on
 * arbitrary bytes: strict base64 and base64url must round-trip through
 * their encoders; the folding-white-space decoder must answer as the
 * strict one does on the same text with its white space taken out;
 * hex_decode_u64 must read back what hex_encode writes; and a refusing
 * decoder leaves its output as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* decode, then the encoder must give back the very text */
static void round_trip(const char *s, size_t n, int (*dec)(const char *, size_t, struct buf *),
		       int (*enc)(const void *, size_t, struct buf *))
{
	struct buf d, e;

	buf_init(&d, 0);
	buf_init(&e, 0);
	buf_puts(&d, "x");
	if (dec(s, n, &d) > 0) {
		CHECK(enc(d.data + 1, d.len - 1, &e) == 1);
		CHECK(e.len == n && (n == 0 || memcmp(e.data, s, n) == 0));
	} else {
		CHECK(d.len == 1 && d.data[0] == 'x');
	}
	buf_deinit(&d);
	buf_deinit(&e);
}

static void fws_matches_strict(const char *s, size_t n)
{
	struct buf plain, a, b;
	int ra, rb;

	buf_init(&plain, 0);
	buf_init(&a, 0);
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			buf_putc(&plain, s[i]);
	ra = base64_decode_fws(s, n, &a);
	rb = base64_decode(plain.data != NULL ? plain.data : "", plain.len, &b);
	CHECK(ra == rb && a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	buf_deinit(&plain);
	buf_deinit(&a);
	buf_deinit(&b);
}

static void hex_round_trip(const char *s, size_t n)
{
	uint64_t v;
	unsigned char be[8];
	char hex[17];

	if (hex_decode_u64(s, n, &v) < 0)
		return;
	for (int i = 0; i < 8; i++)
		be[i] = (unsigned char)(v >> (56 - 8 * i));
	hex_encode(be, sizeof(be), hex);
	CHECK(memcmp(hex + 16 - n, s, n) == 0);
	for (size_t i = 0; i < 16 - n; i++)
		CHECK(hex[i] == '0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	round_trip(s, size, base64_decode, base64_encode);
	round_trip(s, size, base64url_decode, base64url_encode);
	fws_matches_strict(s, size);
	hex_round_trip(s, size);
	return 0;
}
