/*
 * fuzz_queue_dump.c - libFuzzer target: the reader of the server's DUMP
 * answer behind `correio queue list|show`, then the listing, the readable
 * envelope and JSON of whatever it accepts.  An accepted dump gives
 * entries with an envelope or a reason; a refused one gives none and says
 * why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_entry *v = NULL;
	const char *error = NULL;
	struct buf out;
	size_t n = 0;

	if (queue_dump_parse((const char *)data, size, &v, &n, &error) < 0) {
		if (v != NULL || error == NULL)
			abort();
		return 0;
	}
	buf_init(&out, 0);
	queue_format_list(v, n, &out);
	for (size_t i = 0; i < n; i++) {
		if ((v[i].env == NULL) == (v[i].why == NULL))
			abort();
		queue_format_show(&v[i], 1796536800, &out);
		json_decref(queue_entry_json(&v[i]));
	}
	buf_deinit(&out);
	queue_entries_free(&v, n);
	return 0;
}
