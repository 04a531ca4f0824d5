/*
 * fuzz_spf_record.c - libFuzzer target: the SPF record parser on arbitrary
 * text (a NUL ends it, as in a TXT record handed over by the resolver),
 * then every domain-spec it found through the macro expander, for an IPv4
 * and an IPv6 client.  A parsed term's spec must lie inside the text; an
 * expansion must be a non-empty name of at most 253 characters.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf/spf.h"

static void expand(const char *spec, size_t len, const struct spf_macro_ctx *c)
{
	char out[300];
	const char *error = NULL;

	if (spf_macro_expand(spec, len, c, out, sizeof(out), &error) == 1) {
		if (out[0] == '\0' || strlen(out) > 253)
			abort();
	} else if (error == NULL) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *txt = malloc(size + 1);
	struct spf_record r;
	struct sockaddr_storage ip4 = { 0 }, ip6 = { 0 };
	struct spf_macro_ctx c4 = { "some-user@mail.example.test", "example.test", &ip4, "helo.test" };
	struct spf_macro_ctx c6 = { "@bare.test", "x.test", &ip6, "" };
	const char *error = NULL;

	memcpy(txt, data, size);
	txt[size] = '\0';
	ip4.ss_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.3", &((struct sockaddr_in *)&ip4)->sin_addr);
	ip6.ss_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::cb01", &((struct sockaddr_in6 *)&ip6)->sin6_addr);
	if (spf_record_parse(txt, &r, &error) == 1) {
		if (r.n > SPF_MAX_TERMS)
			abort();
		for (unsigned i = 0; i < r.n; i++) {
			const struct spf_term *t = &r.terms[i];
			if (t->spec == NULL)
				continue;
			if (t->spec < txt || t->spec + t->spec_len > txt + strlen(txt))
				abort();
			expand(t->spec, t->spec_len, &c4);
			expand(t->spec, t->spec_len, &c6);
		}
		if (r.redirect != NULL)
			expand(r.redirect, r.redirect_len, &c4);
	} else if (error == NULL) {
		abort();
	}
	/* the whole input as a domain-spec, too */
	expand(txt, strlen(txt), &c4);
	free(txt);
	return 0;
}
