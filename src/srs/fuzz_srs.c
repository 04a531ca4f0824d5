/*
 * fuzz_srs.c - libFuzzer target: the SRS address parser and reversal on
 * arbitrary bytes (as an address of the SRS domain), and forward then
 * reverse of the bytes as a sender, which must give the sender back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "srs/srs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srs srs = { .secret = "fuzz", .secret_len = 4, .domain = "fwd.test",
			   .max_age_days = SRS_DEFAULT_MAX_AGE_DAYS };
	char text[SRS_ADDRESS_MAX], local[SRS_ADDRESS_MAX], out[SRS_ADDRESS_MAX],
	     back[SRS_ADDRESS_MAX];
	const char *error = NULL;
	struct srs_parts p;
	int ret;

	if (size >= sizeof(text) || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memcpy(local, text, size + 1);
	ret = srs_parse(local, &p, &error);
	if (ret < 0 && error == NULL)
		abort();
	if (ret > 0 && (p.hash == NULL || p.host == NULL || p.user == NULL))
		abort();
	error = NULL;
	ret = srs_reverse(&srs, text, 1765000000, out, sizeof(out), &error);
	if (ret < 0 && error == NULL)
		abort();
	if (srs_forward(&srs, text, 1765000000, out, sizeof(out)) == 1 &&
	    strncmp(out, "SRS0", 4) == 0) {
		if (srs_reverse(&srs, out, 1765000000, back, sizeof(back), &error) == 1 &&
		    strcmp(back, text) != 0)
			abort();
	}
	return 0;
}
