/*
 * fuzz_envelope.c - libFuzzer target for the queue's envelope files: the
 * input is read as queue/<id>.env, as correio reads it back after a
 * restart.
 *
 * Checked: a refused file gives a reason; an envelope that parses has an
 * id and recipients, is written out again, and what was written parses
 * too and is written byte for byte the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "queue/envelope.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope *e = NULL, *e2 = NULL;
	struct buf out, out2;
	const char *error = NULL;

	if (envelope_parse((const char *)data, size, &e, &error) < 0) {
		CHECK(e == NULL && error != NULL && error[0] != '\0');
		return 0;
	}
	CHECK(e != NULL && e->id[0] != '\0' && e->n_rcpts > 0);
	buf_init(&out, 0);
	buf_init(&out2, 0);
	CHECK(envelope_format(e, &out) == 1);
	if (envelope_parse(buf_cstr(&out), out.len, &e2, &error) < 0)
		abort();
	CHECK(e2->n_rcpts == e->n_rcpts && strcmp(e2->id, e->id) == 0);
	CHECK(envelope_format(e2, &out2) == 1);
	CHECK(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0);
	envelope_free(&e);
	envelope_free(&e2);
	CHECK(e == NULL && e2 == NULL);
	buf_deinit(&out);
	buf_deinit(&out2);
	return 0;
}
