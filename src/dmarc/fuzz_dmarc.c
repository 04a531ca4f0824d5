/*
 * fuzz_dmarc.c - libFuzzer target: the DMARC record parser on arbitrary
 * bytes, and the same bytes as a Public Suffix List and as a domain whose
 * organizational domain must be one of its own suffixes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *error = NULL;
	struct dmarc_record r;
	struct dmarc_psl *psl;
	char domain[256], org[256];
	size_t n = size < sizeof(domain) - 1 ? size : sizeof(domain) - 1;

	if (dmarc_record_parse(s, size, &r, &error) == 1) {
		if (r.pct > 100 || r.p > DMARC_REJECT || r.sp > DMARC_REJECT)
			abort();
	} else if (error == NULL) {
		abort();
	}
	psl = dmarc_psl_parse(s, size);
	memcpy(domain, s, n);
	domain[n] = '\0';
	if (strlen(domain) > 0 && domain[0] != '.' && strstr(domain, "..") == NULL &&
	    domain[strlen(domain) - 1] != '.') {
		if (dmarc_org_domain(psl, domain, org, sizeof(org)) != 1)
			abort();
		if (strlen(org) > strlen(domain) ||
		    strcmp(domain + strlen(domain) - strlen(org), org) != 0)
			abort();
	}
	dmarc_psl_free(&psl);
	return 0;
}
