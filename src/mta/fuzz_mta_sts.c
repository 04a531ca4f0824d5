/*
 * fuzz_mta_sts.c - libFuzzer target: the MTA-STS parsers on arbitrary
 * bytes: the HTTP answer, the policy in it (or the whole input as a
 * policy), the input as a TXT record (up to a NUL), and each mx pattern
 * matched against the name it allows.  A body must lie inside the input;
 * a parsed policy has a known mode, max_age within the RFC's bound, and
 * mx patterns that match a host made from them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta/mta_sts.h"

static void check_policy(const char *text, size_t len)
{
	struct mta_sts_policy p;
	const char *error = NULL;
	char host[300];
	unsigned seen = 0;

	if (mta_sts_policy_parse(text, len, &p, &error) != 1) {
		if (error == NULL)
			abort();
		return;
	}
	if (p.mode > MTA_STS_ENFORCE || p.max_age > MTA_STS_MAX_AGE || p.n_mx * 2 > sizeof(p.mx) ||
	    (p.mode != MTA_STS_NONE && p.n_mx == 0))
		abort();
	for (const char *pat = mta_sts_mx_next(&p, NULL); pat != NULL;
	     pat = mta_sts_mx_next(&p, pat)) {
		size_t n = strlen(pat);
		if (n == 0 || n > 255)
			abort();
		if (pat[0] == '*') {
			host[0] = 'x';
			memcpy(host + 1, pat + 1, n);	/* with its NUL */
		} else {
			memcpy(host, pat, n + 1);
		}
		if (!mta_sts_mx_match(&p, host))
			abort();
		seen++;
	}
	if (seen != p.n_mx)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *body = NULL, *error = NULL;
	size_t body_len = 0;
	char *txt = malloc(size + 1), id[33];

	if (mta_sts_http_parse(in, size, &body, &body_len, &error) == 1) {
		if (body < in || body + body_len > in + size)
			abort();
		check_policy(body, body_len);
	}
	check_policy(in, size);
	memcpy(txt, data, size);
	txt[size] = '\0';
	if (mta_sts_txt_parse(txt, id, sizeof(id)) == 1 && (id[0] == '\0' || strlen(id) > 32))
		abort();
	free(txt);
	return 0;
}
