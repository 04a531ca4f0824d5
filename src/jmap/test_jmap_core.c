/*
 * test_jmap_core.c - the JMAP request layer without I/O: RFC 8620 §3.7
 * paths (JSON pointer with "*"), the request checks and their problem
 * types, back-references between calls, and method-level errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jmap/jmap_core.h"

static const char *doc =
	"{\"list\":[{\"id\":\"a\",\"k\":[1,2],\"m\":{\"x/y\":5,\"t~\":6}},"
	"{\"id\":\"b\",\"k\":[3],\"m\":{}}],\"ids\":[\"a\",\"b\"],\"n\":0}";

struct path_case {
	const char *path;
	const char *want;	/* compact JSON, or NULL: no value */
};

static const struct path_case paths[] = {
	{ "", NULL /* the whole document: checked apart */ },
	{ "/ids", "[\"a\",\"b\"]" },
	{ "/ids/0", "\"a\"" },
	{ "/ids/1", "\"b\"" },
	{ "/ids/2", NULL },
	{ "/ids/01", NULL },
	{ "/ids/-1", NULL },
	{ "/list/*/id", "[\"a\",\"b\"]" },
	{ "/list/*/k", "[1,2,3]" },		/* arrays are flattened */
	{ "/list/0/m/x~1y", "5" },
	{ "/list/0/m/t~0", "6" },
	{ "/list/0/m/t~2", NULL },
	{ "/list/*/m/x~1y", NULL },		/* missing in one item */
	{ "/n", "0" },
	{ "/n/x", NULL },
	{ "ids", NULL },			/* must start with "/" */
	{ "/nope", NULL },
	{ "/ids/*", "[\"a\",\"b\"]" },
};

static void test_paths(void **state)
{
	json_t *root = json_loads(doc, 0, NULL), *r;

	assert_non_null(root);
	for (size_t i = 1; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int ret = jmap_pointer_eval(root, paths[i].path, &r);
		if (paths[i].want == NULL) {
			assert_int_equal(ret, -1);
			continue;
		}
		assert_int_equal(ret, 1);
		char *text = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_string_equal(text, paths[i].want);
		free(text);
		json_decref(r);
	}
	assert_int_equal(jmap_pointer_eval(root, "", &r), 1);
	assert_ptr_equal(r, root);
	json_decref(r);
	json_decref(root);
}

static int echo_args(struct jmap_call *call)
{
	return jmap_core_echo(call);
}

static int fails(struct jmap_call *call)
{
	return jmap_call_error(call, "accountNotFound", NULL);
}

static const struct jmap_method table[] = {
	{ "Core/echo", JMAP_CAP_CORE, echo_args },
	{ "Mailbox/get", JMAP_CAP_MAIL, fails },
	{ NULL, NULL, NULL },
};

static const struct jmap_limits limits = { .max_size_request = 4096, .max_calls = 4,
					   .max_objects_get = 10, .max_objects_set = 10 };

/* The problem type of body (without the prefix), or "" for a Response. */
static const char *run(const char *body, json_t **resp_r)
{
	static char type[64];
	json_t *resp, *prob;

	if (jmap_core_run(body, strlen(body), &limits, table, NULL, "s1", &resp, &prob) > 0) {
		*resp_r = resp;
		return "";
	}
	assert_int_equal(json_integer_value(json_object_get(prob, "status")), 400);
	snprintf(type, sizeof(type), "%s",
		 json_string_value(json_object_get(prob, "type")) + strlen("urn:ietf:params:jmap:error:"));
	json_decref(prob);
	*resp_r = NULL;
	return type;
}

static void test_request_problems(void **state)
{
	json_t *r;
	char big[5000];

	assert_string_equal(run("{", &r), "notJSON");
	assert_string_equal(run("[]", &r), "notRequest");
	assert_string_equal(run("{\"using\":[]}", &r), "notRequest");
	assert_string_equal(run("{\"using\":[1],\"methodCalls\":[]}", &r), "notRequest");
	assert_string_equal(run("{\"using\":[],\"methodCalls\":[[\"a\",{},1]]}", &r), "notRequest");
	assert_string_equal(run("{\"using\":[],\"methodCalls\":[[\"a\",[],\"1\"]]}", &r),
			    "notRequest");
	assert_string_equal(run("{\"using\":[\"urn:x\"],\"methodCalls\":[]}", &r),
			    "unknownCapability");
	assert_string_equal(run("{\"using\":[],\"methodCalls\":[[\"a\",{},\"1\"],[\"a\",{},\"2\"],"
				"[\"a\",{},\"3\"],[\"a\",{},\"4\"],[\"a\",{},\"5\"]]}", &r), "limit");
	assert_string_equal(run("{\"using\":[],\"methodCalls\":[],\"a\":1,\"a\":2}", &r), "notJSON");
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(run(big, &r), "limit");
	assert_string_equal(run("{\"using\":[],\"methodCalls\":[],\"createdIds\":{\"x\":\"y\"}}", &r),
			    "");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "createdIds"), "x")),
			    "y");
	assert_string_equal(json_string_value(json_object_get(r, "sessionState")), "s1");
	json_decref(r);
}

static void test_calls_and_references(void **state)
{
	json_t *r, *resp;
	const char *body =
		"{\"using\":[\"urn:ietf:params:jmap:core\"],\"methodCalls\":["
		"[\"Core/echo\",{\"list\":[{\"id\":\"p\"},{\"id\":\"q\"}]},\"a\"],"
		"[\"Core/echo\",{\"#ids\":{\"resultOf\":\"a\",\"name\":\"Core/echo\","
		"\"path\":\"/list/*/id\"}},\"b\"],"
		"[\"Mailbox/get\",{},\"c\"],"
		"[\"Core/echo\",{\"ids\":1,\"#ids\":{\"resultOf\":\"a\",\"name\":\"Core/echo\","
		"\"path\":\"/list\"}},\"d\"]]}";
	char *text;

	assert_string_equal(run(body, &r), "");
	resp = json_object_get(r, "methodResponses");
	text = json_dumps(resp, JSON_COMPACT);
	assert_string_equal(text,
		"[[\"Core/echo\",{\"list\":[{\"id\":\"p\"},{\"id\":\"q\"}]},\"a\"],"
		"[\"Core/echo\",{\"ids\":[\"p\",\"q\"]},\"b\"],"
		"[\"error\",{\"type\":\"unknownMethod\"},\"c\"],"	/* mail not in using */
		"[\"error\",{\"type\":\"invalidArguments\",\"description\":"
		"\"both an argument and its reference given\"},\"d\"]]");
	free(text);
	json_decref(r);
	/* a reference to a call that failed, or to a later one */
	assert_string_equal(run("{\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:mail\"],"
				"\"methodCalls\":[[\"Mailbox/get\",{},\"a\"],"
				"[\"Core/echo\",{\"#x\":{\"resultOf\":\"a\",\"name\":\"Mailbox/get\","
				"\"path\":\"\"}},\"b\"],"
				"[\"Core/echo\",{\"#x\":{\"resultOf\":\"c\",\"name\":\"Core/echo\","
				"\"path\":\"\"}},\"c\"]]}", &r), "");
	resp = json_object_get(r, "methodResponses");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_array_get(resp, 0), 1),
							      "type")), "accountNotFound");
	for (int i = 1; i < 3; i++)
		assert_string_equal(json_string_value(json_object_get(
			json_array_get(json_array_get(resp, (size_t)i), 1), "type")),
			"invalidResultReference");
	json_decref(r);
}

/* A method that waits once, then answers with a second response and
   records a creation id; the wake function counts. */
static int woken;

static int wait_done(struct jmap_call *call)
{
	call->result = json_pack("{s:b}", "ctx", call->ctx != NULL);
	call->also = json_pack("[[s,{s:i}]]", "Email/set", "n", 1);
	json_object_set_new(call->created_ids, "k", json_string("S1"));
	return 1;
}

static int wait_start(struct jmap_call *call)
{
	call->resume = wait_done;
	return 0;
}

static void count_wake(void *ctx, struct jmap_run *r)
{
	woken++;
}

static const struct jmap_method wait_table[] = {
	{ "Core/echo", JMAP_CAP_CORE, echo_args },
	{ "EmailSubmission/set", JMAP_CAP_SUBMISSION, wait_start },
	{ NULL, NULL, NULL },
};

static void test_waiting_method(void **state)
{
	const char *body =
		"{\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:submission\"],"
		"\"methodCalls\":[[\"EmailSubmission/set\",{},\"a\"],"
		"[\"Core/echo\",{\"#x\":{\"resultOf\":\"a\",\"name\":\"Email/set\","
		"\"path\":\"/n\"}},\"b\"]],\"createdIds\":{}}";
	struct jmap_run *r;
	json_t *resp, *prob;
	char *text;
	int ctx = 1;

	assert_int_equal(jmap_run_new(body, strlen(body), &limits, wait_table, &ctx, "s1", &r,
				      &prob), 1);
	assert_int_equal(jmap_run_step(r, &resp), 0);
	assert_true(jmap_run_waiting(r));
	assert_null(resp);
	jmap_run_set_wake(r, count_wake, NULL);
	jmap_run_wake(r);
	assert_int_equal(woken, 1);
	assert_int_equal(jmap_run_step(r, &resp), 1);
	text = json_dumps(resp, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text,
		"{\"createdIds\":{\"k\":\"S1\"},\"methodResponses\":["
		"[\"EmailSubmission/set\",{\"ctx\":true},\"a\"],"
		"[\"Email/set\",{\"n\":1},\"a\"],"
		"[\"Core/echo\",{\"x\":1},\"b\"]],\"sessionState\":\"s1\"}");
	free(text);
	json_decref(resp);
	jmap_run_free(&r);
	assert_null(r);
	/* the client went away: the method resumes without its context */
	assert_int_equal(jmap_run_new(body, strlen(body), &limits, wait_table, &ctx, "s1", &r,
				      &prob), 1);
	assert_int_equal(jmap_run_step(r, &resp), 0);
	jmap_run_abandon(r, count_wake);
	assert_int_equal(jmap_run_step(r, &resp), 1);
	assert_true(json_is_false(json_object_get(json_array_get(json_array_get(
		json_object_get(resp, "methodResponses"), 0), 1), "ctx")));
	json_decref(resp);
	jmap_run_free(&r);
	/* the plain entry point cannot wait: a problem, no leak */
	assert_int_equal(jmap_core_run(body, strlen(body), &limits, wait_table, &ctx, "s1",
				       &resp, &prob), -1);
	json_decref(prob);
}

static void test_ids(void **state)
{
	assert_true(jmap_is_id("a-Z_9"));
	assert_false(jmap_is_id(""));
	assert_false(jmap_is_id("a.b"));
	assert_false(jmap_is_id("a/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_request_problems),
		cmocka_unit_test(test_calls_and_references),
		cmocka_unit_test(test_waiting_method),
		cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
