/*
 * fuzz_aliases_file.c - libFuzzer target: the aliases(5) reader of
 * newaliases.  Every entry has either an error or a non-empty name
 * without blanks and 1..ALIASES_VALUES_MAX values, none empty and none
 * holding a line end or a quote; lines count up from 1 and never
 * backwards.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void on_entry(void *ctx, const struct aliases_entry *en)
{
	unsigned *last = ctx;

	if (en->line == 0 || en->line < *last)
		abort();
	*last = en->line;
	if (en->error != NULL) {
		if (en->name != NULL || en->n_values != 0)
			abort();
		return;
	}
	if (en->name[0] == '\0' || strpbrk(en->name, " \t\n") != NULL ||
	    en->n_values == 0 || en->n_values > ALIASES_VALUES_MAX)
		abort();
	for (unsigned i = 0; i < en->n_values; i++)
		if (en->values[i][0] == '\0' || strpbrk(en->values[i], "\n\"") != NULL)
			abort();
	(void)aliases_value_kind(en->values[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned last = 0;

	aliases_parse((const char *)data, size, on_entry, &last);
	return 0;
}
