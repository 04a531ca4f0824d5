/*
 * fuzz_acme.c - libFuzzer target: what an ACME CA sends, as the client
 * reads it.  The input is an HTTP response; its body (and the input
 * itself) go to the JSON readers of the directory, order, authorization,
 * challenge and problem.  Whatever they accept holds only https URLs,
 * base64url tokens of the challenges answered, NUL-terminated fields and
 * no more entries than the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_int.h"

static void check_url(const char *u, bool may_be_empty)
{
	if ((u[0] == '\0' && !may_be_empty) ||
	    (u[0] != '\0' && strncmp(u, "https://", 8) != 0) || strlen(u) >= ACME_URL_MAX)
		abort();
}

static void check_challenge(const struct acme_challenge *c)
{
	check_url(c->url, false);
	if (strcmp(c->type, "http-01") == 0 || strcmp(c->type, "tls-alpn-01") == 0) {
		if (c->token[0] == '\0' ||
		    strspn(c->token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			   "0123456789-_") != strlen(c->token))
			abort();
	}
}

static void parse_json(const char *text, size_t len)
{
	struct acme_directory d;
	struct acme_order o;
	struct acme_authz z;
	struct acme_challenge c;
	char error[256], problem[300];

	if (acme_parse_directory(text, len, &d, error, sizeof(error)) > 0) {
		check_url(d.new_nonce, false);
		check_url(d.new_account, false);
		check_url(d.new_order, false);
	}
	if (acme_parse_order(text, len, &o, error, sizeof(error)) > 0) {
		if (o.n_authz < 0 || o.n_authz > ACME_AUTHZ_MAX)
			abort();
		check_url(o.finalize, false);
		check_url(o.certificate, true);
		for (int i = 0; i < o.n_authz; i++)
			check_url(o.authz[i], false);
	}
	if (acme_parse_authz(text, len, &z, error, sizeof(error)) > 0) {
		if (z.n_ch < 0 || z.n_ch > ACME_CHALLENGES_MAX || z.name[0] == '\0')
			abort();
		for (int i = 0; i < z.n_ch; i++)
			check_challenge(&z.ch[i]);
	}
	if (acme_parse_challenge(text, len, &c, error, sizeof(error)) > 0)
		check_challenge(&c);
	acme_parse_problem(text, len, problem, sizeof(problem));
	if (strlen(problem) >= sizeof(problem))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct acme_resp r;
	const char *error;

	acme_resp_init(&r);
	if (acme_http_parse(text, size, size > 0 && data[0] == 'H' && size % 2 == 0, &r,
			    &error) > 0) {
		if (r.status < 0 || r.status > 999 || r.body.len > ACME_RESPONSE_MAX ||
		    r.retry_after > 86400)
			abort();
		parse_json(r.body.data != NULL ? r.body.data : "", r.body.len);
	}
	acme_resp_deinit(&r);
	parse_json(text, size);
	return 0;
}
