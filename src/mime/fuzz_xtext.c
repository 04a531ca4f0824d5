/*
 * fuzz_xtext.c - libFuzzer target for the xtext of DSN parameters (ENVID=,
 * ORCPT=): the input is read once as xtext, as a client would send it to
 * correio, and once as raw bytes to encode.
 *
 * Checked: xtext_valid() says yes exactly when xtext_decode() succeeds, and
 * a failed decode leaves the buffer as it was; the decoded bytes, encoded
 * and decoded again, come back the same; any bytes, encoded, make valid
 * xtext of only 33..126 with upper-case hex that decodes to them again;
 * a buffer one byte too small refuses the whole result and keeps its
 * contents, one just big enough takes it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "lib/buf.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static const char prefix[] = "rfc822;";

/* The bytes of in[0..len), encoded and decoded again, are the same. */
static void check_round_trip(const char *in, size_t len)
{
	struct buf enc, dec;
	size_t i, plus = 0;

	buf_init(&enc, 0);
	buf_init(&dec, 0);
	CHECK(xtext_encode(in, len, &enc) == 1);
	CHECK(enc.len >= len && enc.len <= 3 * len);
	for (i = 0; i < enc.len; i++) {
		unsigned char u = (unsigned char)enc.data[i];

		CHECK(u >= 33 && u <= 126 && u != '=');
		if (u == '+') {
			plus++;
			CHECK(i + 2 < enc.len);
			CHECK(strchr("0123456789ABCDEF", enc.data[i + 1]) != NULL);
			CHECK(strchr("0123456789ABCDEF", enc.data[i + 2]) != NULL);
			i += 2;
		}
	}
	CHECK(enc.len == len + 2 * plus);
	CHECK(xtext_valid(buf_cstr(&enc), enc.len));
	CHECK(xtext_decode(buf_cstr(&enc), enc.len, &dec) == 1);
	CHECK(dec.len == len && (len == 0 || memcmp(dec.data, in, len) == 0));
	buf_deinit(&enc);
	buf_deinit(&dec);
}

/* Output limits: all or nothing, what was there before is kept. */
static void check_limits(const char *in, size_t len, size_t dec_len)
{
	size_t base = sizeof(prefix) - 1;
	struct buf b;

	if (dec_len < 1)
		return;
	buf_init(&b, base + dec_len - 1);
	CHECK(buf_puts(&b, prefix) == 1);
	CHECK(xtext_decode(in, len, &b) == -1);
	CHECK(b.len == base && memcmp(b.data, prefix, base + 1) == 0);
	/* encoding makes at least as many bytes as it is given */
	CHECK(xtext_encode(in, dec_len, &b) == -1);
	CHECK(b.len == base && memcmp(b.data, prefix, base + 1) == 0);
	buf_deinit(&b);

	buf_init(&b, base + dec_len);
	CHECK(buf_puts(&b, prefix) == 1);
	CHECK(xtext_decode(in, len, &b) == 1);
	CHECK(b.len == base + dec_len);
	buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf dec;
	size_t i, plus = 0;
	int ret;

	buf_init(&dec, 0);
	CHECK(buf_puts(&dec, prefix) == 1);
	ret = xtext_decode(in, size, &dec);
	CHECK(ret == 1 || ret == -1);
	CHECK((ret == 1) == xtext_valid(in, size));
	if (ret < 0) {
		CHECK(dec.len == sizeof(prefix) - 1 && strcmp(dec.data, prefix) == 0);
	} else {
		for (i = 0; i < size; i++)
			plus += in[i] == '+';
		CHECK(dec.len == sizeof(prefix) - 1 + size - 2 * plus);
		CHECK(memcmp(dec.data, prefix, sizeof(prefix) - 1) == 0);
		check_round_trip(dec.data + sizeof(prefix) - 1,
				 dec.len - (sizeof(prefix) - 1));
		check_limits(in, size, dec.len - (sizeof(prefix) - 1));
	}
	buf_deinit(&dec);
	check_round_trip(in, size);
	return 0;
}
