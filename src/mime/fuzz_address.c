/*
 * fuzz_address.c - libFuzzer target: address_parse() in both modes, then
 * address_key(), address_canonical() and address_strip_tag() on what it
 * accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"

static void fuzz_key(const struct address *a, bool utf8)
{
	char key[ADDRESS_LOCAL_MAX * 2 + 3 + ADDRESS_DOMAIN_MAX + 1];
	char base[sizeof(key)];
	struct address again;
	const char *error;

	if (strlen(a->local) > ADDRESS_LOCAL_MAX * 2 + 2 ||
	    strlen(a->domain) > ADDRESS_DOMAIN_MAX)
		abort();
	if (!utf8 && address_is_utf8(a))
		abort();
	if (address_key(a, key, sizeof(key)) != 1)
		abort();
	/* a key is itself a valid address with the same key */
	if (address_parse(key, strlen(key), utf8, &again, &error) != 1)
		abort();
	if (address_key(&again, base, sizeof(base)) != 1 ||
	    strcmp(key, base) != 0)
		abort();
	/* the canonical form parses again, and differs from the key in case only */
	if (address_canonical(a, base, sizeof(base)) != 1 ||
	    address_parse(base, strlen(base), utf8, &again, &error) != 1 ||
	    strcasecmp(base, key) != 0)
		abort();
	if (address_strip_tag(key, "+-", base, sizeof(base)) < 0 ||
	    strlen(base) > strlen(key))
		abort();
	(void)address_strip_tag(key, "", base, sizeof(base));
	(void)address_strip_tag(key, "+", base, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct address a;
	const char *error = NULL;
	int ascii, utf8;

	ascii = address_parse(s, size, false, &a, &error);
	if (ascii > 0)
		fuzz_key(&a, false);
	else if (error == NULL)
		abort();
	utf8 = address_parse(s, size, true, &a, &error);
	if (utf8 > 0)
		fuzz_key(&a, true);
	/* UTF-8 mode accepts a superset */
	if (ascii > 0 && utf8 < 0)
		abort();
	return 0;
}
