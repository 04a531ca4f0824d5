/*
 * fuzz_jmap_request.c - a JMAP request body through the request checks,
 * the back-reference evaluator and the method dispatch of jmap_core.c,
 * with no I/O: Core/echo, and a method that answers like a mail method
 * with no account.  Every outcome must be a Response or a problem object.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jmap/jmap_core.h"

static int no_account(struct jmap_call *call)
{
	return jmap_call_error(call, "accountNotFound", NULL);
}

static const struct jmap_method table[] = {
	{ "Core/echo", JMAP_CAP_CORE, jmap_core_echo },
	{ "Mailbox/get", JMAP_CAP_MAIL, no_account },
	{ NULL, NULL, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jmap_limits limits = { .max_size_request = 1 << 20, .max_calls = 16,
				      .max_objects_get = 500, .max_objects_set = 500 };
	json_t *resp, *prob;
	int ret = jmap_core_run((const char *)data, size, &limits, table, NULL, "s0",
				&resp, &prob);

	assert(ret > 0 ? resp != NULL && prob == NULL : resp == NULL && prob != NULL);
	if (resp != NULL) {
		assert(json_is_array(json_object_get(resp, "methodResponses")));
		free(json_dumps(resp, JSON_COMPACT));
	}
	json_decref(resp);
	json_decref(prob);
	return 0;
}
