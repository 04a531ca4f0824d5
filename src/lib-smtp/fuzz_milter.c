/*
 * fuzz_milter.c - libFuzzer target for the milter reply framing and
 * decoding: the input is a filter's byte stream, fed in pieces of varying
 * size until it ends or fails.
 */
#include <stdint.h>
#include <string.h>

#include "lib-smtp/milter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter_reader r;
	struct milter_reply reply;
	const char *error;
	size_t off = 0, step = size > 0 ? (size_t)data[0] % 7 + 1 : 1;

	milter_reader_init(&r);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;
		int ret = milter_read(&r, data + off, n, &used, &reply, &error);
		if (ret < 0)
			break;
		if (ret > 0 && reply.name != NULL && strlen(reply.name) + strlen(reply.value) > 1u << 30)
			break;
		off += used;
	}
	milter_reader_deinit(&r);
	return 0;
}
