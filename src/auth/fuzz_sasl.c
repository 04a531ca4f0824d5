/*
 * fuzz_sasl.c - libFuzzer target for base64 and the SASL decoders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_plain p;
	struct buf dec, enc;
	const char *error;
	char out[128];

	sasl_plain_decode((const char *)data, size, &p, &error);
	sasl_login_decode((const char *)data, size, out, sizeof(out), &error);
	buf_init(&dec, 0);
	buf_init(&enc, 0);
	if (base64_decode((const char *)data, size, &dec) > 0) {
		base64_encode(dec.data, dec.len, &enc);
		if (enc.len != size || (size > 0 && memcmp(enc.data, data, size) != 0))
			abort();	/* strict base64 must round-trip */
	}
	buf_deinit(&dec);
	buf_deinit(&enc);
	return 0;
}
