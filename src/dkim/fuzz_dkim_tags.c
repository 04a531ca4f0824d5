/*
 * fuzz_dkim_tags.c - libFuzzer target: the DKIM tag-list parser on
 * arbitrary bytes (DKIM-Signature values and key records).  Every tag
 * found must lie inside the input, have a valid name, be found again by
 * dkim_tags_get, and a value must not end in white space.  The same bytes
 * then go through the DKIM-Signature parser and the key-record parser
 * (both algorithms).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dkim/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *error = NULL;
	struct dkim_tags t;
	int ret = dkim_tags_parse(s, size, &t, &error);

	struct dkim_sig sig;
	void *pkey = NULL;

	for (int alg = 0; alg < 2; alg++) {
		int k = dkim_key_parse(s, size, alg == 0 ? DKIM_ALG_RSA_SHA256 :
				       DKIM_ALG_ED25519_SHA256, &pkey, &error);
		if (k == 1)
			EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	if (dkim_sig_parse(s, size, &sig, &error) == 1 &&
	    (sig.domain[0] == '\0' || sig.selector[0] == '\0' || sig.bh_len != 32 ||
	     sig.b_len == 0 || strstr(sig.headers, "from") == NULL))
		abort();
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
