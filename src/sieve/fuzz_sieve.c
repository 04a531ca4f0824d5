/*
 * fuzz_sieve.c - libFuzzer target: the Sieve compiler and interpreter.
 * The input is a script.  Compiling must either succeed or give an error
 * that starts with "line N:"; a compiled script is run over a fixed
 * message and must finish (the step budget) with a plan no longer than
 * the action limit, or fail with a "line N:" error and an empty plan.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static const char message[] =
	"From: Alice <alice@example.net>\r\n"
	"To: bob+box@example.org, carol@example.org\r\n"
	"Subject: [list] a test\r\n"
	"List-Id: <list.example.net>\r\n"
	"\r\n"
	"body text\r\n";

static bool line_error(const char *err)
{
	unsigned line;

	return sscanf(err, "line %u:", &line) == 1 && line >= 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sieve_message m = { .data = message, .len = sizeof(message) - 1,
				   .env_from = "alice@example.net",
				   .env_to = "bob+box@example.org", .delimiter = '+' };
	struct sieve_script *s;
	struct sieve_plan *plan;
	char err[256];

	if (sieve_compile((const char *)data, size, &s, err, sizeof(err)) < 0) {
		CHECK(s == NULL && line_error(err));
		return 0;
	}
	plan = calloc(1, sizeof(*plan));
	CHECK(plan != NULL);
	if (sieve_run(s, &m, plan, err, sizeof(err)) < 0)
		CHECK(plan->n == 0 && line_error(err));
	else
		CHECK(plan->n <= SIEVE_MAX_ACTIONS);
	for (unsigned i = 0; i < plan->n; i++)
		CHECK(plan->actions[i].kind != SIEVE_ACTION_FILEINTO ||
		      (plan->actions[i].folder != NULL && plan->actions[i].flags != NULL));
	sieve_plan_free(plan);
	free(plan);
	sieve_script_free(&s);
	return 0;
}
