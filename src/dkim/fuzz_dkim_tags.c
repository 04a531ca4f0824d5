/*
 * fuzz_dkim_tags.c - libFuzzer target: the DKIM tag-list parser on
 * arbitrary bytes (DKIM-Signature values and key records).  Every tag
 * found must lie inside the input, have a valid name, be found again by
 * dkim_tags_get, and a value must not end in white space.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *error = NULL;
	struct dkim_tags t;
	int ret = dkim_tags_parse(s, size, &t, &error);

	if (ret == -1) {
		if (error == NULL)
			abort();
		return 0;
	}
	if (ret != 1 || t.n > DKIM_TAGS_MAX)
		abort();
	for (unsigned i = 0; i < t.n; i++) {
		const struct dkim_tag *g = &t.tag[i];
		char name[256];
		size_t len;

		if (g->name < s || g->name + g->name_len > s + size || g->name_len == 0 ||
		    g->value < s || g->value + g->value_len > s + size)
			abort();
		if (g->value_len > 0 && strchr(" \t\r\n;", g->value[g->value_len - 1]) != NULL)
			abort();
		if (g->name_len >= sizeof(name))
			continue;
		memcpy(name, g->name, g->name_len);
		name[g->name_len] = '\0';
		if (dkim_tags_get(&t, name, &len) != g->value || len != g->value_len)
			abort();
	}
	return 0;
}
