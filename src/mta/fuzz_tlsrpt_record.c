/*
 * fuzz_tlsrpt_record.c - libFuzzer target: the _smtp._tls TXT record
 * parser on arbitrary text (up to a NUL, as the resolver hands records
 * over).  A parsed record keeps at most TLSRPT_MAX_RUA addresses, each
 * non-empty, with an '@' and none of the characters that would break an
 * envelope (controls, space, angle brackets, comma).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta/tlsrpt_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *txt = malloc(size + 1);
	struct tlsrpt_rua r;

	memcpy(txt, data, size);
	txt[size] = '\0';
	if (tlsrpt_record_parse(txt, &r) == 1) {
		if (r.n_mailto > TLSRPT_MAX_RUA)
			abort();
		for (unsigned i = 0; i < r.n_mailto; i++) {
			const char *a = r.mailto[i];
			if (a[0] == '\0' || strchr(a, '@') == NULL || strlen(a) >= TLSRPT_ADDR_MAX)
				abort();
			for (const char *p = a; *p != '\0'; p++)
				if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',')
					abort();
		}
	}
	free(txt);
	return 0;
}
