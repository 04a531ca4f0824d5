/*
 * fuzz_sieve_body.c - libFuzzer target: what the Sieve body test (RFC
 * 5173) reads of a message.  The input is a message; a fixed script runs
 * body :raw, :text (text parts decoded, HTML as text) and :content tests
 * with every match type over it, which must finish with a plan of at
 * most the action limit or a "line N:" error and an empty plan.  The
 * HTML-to-text conversion also gets the input as it is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "sieve/sieve_private.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static const char script[] =
	"require [\"body\", \"fileinto\", \"regex\", \"relational\", \"variables\"];\n"
	"if body :raw :contains \"x\" { fileinto \"Raw\"; }\n"
	"if body :text :matches \"*a?b*\" { fileinto \"Text\"; }\n"
	"if body :text :regex \"c[0-9]+d\" { fileinto \"Regex\"; }\n"
	"if body :content \"text/html\" :contains \"<\" { fileinto \"Html\"; }\n"
	"if body :content [\"multipart\", \"message\"] :contains \"--\" { fileinto \"Multi\"; }\n"
	"if body :content \"\" :value \"gt\" \"m\" { fileinto \"Any\"; }\n"
	"if body :content \"application\" :is \"\" { fileinto \"Empty\"; }\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sieve_script *s;
	struct sieve_message m = { .data = (const char *)data, .len = size,
				   .env_from = "alice@example.net",
				   .env_to = "bob@example.org", .delimiter = '+' };
	struct sieve_plan *plan;
	char err[256], *text;
	struct buf out;

	if (s == NULL)
		CHECK(sieve_compile(script, sizeof(script) - 1, &s, err, sizeof(err)) == 1);
	plan = calloc(1, sizeof(*plan));
	CHECK(plan != NULL);
	if (sieve_run(s, &m, plan, err, sizeof(err)) < 0)
		CHECK(plan->n == 0);
	else
		CHECK(plan->n >= 1 && plan->n <= 8);
	sieve_plan_free(plan);
	free(plan);

	text = malloc(size + 1);
	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	buf_init(&out, 64 * 1024);
	sv_html_to_text(text, &out);
	CHECK(out.len <= 64 * 1024);
	buf_deinit(&out);
	free(text);
	return 0;
}
