/*
 * jmap_core.c - the JMAP request object (RFC 8620 §3.3-§3.7): checks,
 * back-references and the method dispatch.  Pure: no I/O, no store; the
 * methods reach the mail through call->ctx.  Called by jmap_http.c for
 * POST /jmap/api and by fuzz_jmap_request.c.
 *
 * Limits: the body size (checked by the caller before parsing, again
 * here), maxCallsInRequest, and a path depth bound for back-references.
 */
#include "jmap_core.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define PROBLEM_PREFIX "urn:ietf:params:jmap:error:"
#define MAX_POINTER_DEPTH 32

json_t *jmap_set_error(const char *type, const char *desc)
{
	json_t *e = json_pack("{s:s}", "type", type);

	if (desc != NULL)
		json_object_set_new(e, "description", json_string(desc));
	return e;
}

json_t *jmap_invalid_property(const char *prop, const char *desc)
{
	json_t *e = jmap_set_error("invalidProperties", desc);

	json_object_set_new(e, "properties", json_pack("[s]", prop));
	return e;
}

int jmap_call_error(struct jmap_call *call, const char *type, const char *desc)
{
	json_decref(call->error);
	call->error = json_pack("{s:s}", "type", type);
	if (desc != NULL)
		json_object_set_new(call->error, "description", json_string(desc));
	return -1;
}

bool jmap_is_id(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return n >= 1 && n <= 255;
}

static json_t *problem(const char *type, int status, const char *detail)
{
	char t[128];

	snprintf(t, sizeof(t), PROBLEM_PREFIX "%s", type);
	return json_pack("{s:s,s:i,s:s}", "type", t, "status", status, "detail", detail);
}

/* ---- RFC 8620 §3.7 paths ---- */

/* Decode one JSON pointer token (~1 is '/', ~0 is '~') of len bytes into
   out (size > len).  -1 for a bad escape. */
static int pointer_token(const char *p, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] != '~') {
			out[o++] = p[i];
			continue;
		}
		if (i + 1 >= len || (p[i + 1] != '0' && p[i + 1] != '1'))
			return -1;
		out[o++] = p[i + 1] == '0' ? '~' : '/';
		i++;
	}
	out[o] = '\0';
	return 1;
}

/* Array index: digits only, no leading zero. */
static int array_index(const char *t, size_t *r)
{
	size_t v = 0;

	if (t[0] == '\0' || (t[0] == '0' && t[1] != '\0'))
		return -1;
	for (; *t != '\0'; t++) {
		if (*t < '0' || *t > '9' || v > 100000000)
			return -1;
		v = v * 10 + (size_t)(*t - '0');
	}
	*r = v;
	return 1;
}

static int eval_at(json_t *v, const char *path, unsigned depth, json_t **r);

/* "*" over an array: the rest applied to each item, arrays flattened. */
static int eval_star(json_t *v, const char *rest, unsigned depth, json_t **r)
{
	json_t *out = json_array(), *item, *sub;
	size_t i;

	json_array_foreach(v, i, item) {
		if (eval_at(item, rest, depth + 1, &sub) < 0) {
			json_decref(out);
			return -1;
		}
		if (json_is_array(sub))
			json_array_extend(out, sub);
		else
			json_array_append(out, sub);
		json_decref(sub);
	}
	*r = out;
	return 1;
}

static int eval_at(json_t *v, const char *path, unsigned depth, json_t **r)
{
	const char *end;
	size_t len, idx;
	char *tok;
	json_t *next;
	int ret = -1;

	if (*path == '\0') {
		*r = json_incref(v);
		return 1;
	}
	if (*path != '/' || depth > MAX_POINTER_DEPTH)
		return -1;
	path++;
	end = strchr(path, '/');
	len = end != NULL ? (size_t)(end - path) : strlen(path);
	tok = xmalloc(len + 1);
	if (pointer_token(path, len, tok) < 0) {
		free(tok);
		return -1;
	}
	path += len;
	if (json_is_array(v) && strcmp(tok, "*") == 0) {
		ret = eval_star(v, path, depth, r);
	} else if (json_is_array(v)) {
		if (array_index(tok, &idx) > 0 && (next = json_array_get(v, idx)) != NULL)
			ret = eval_at(next, path, depth + 1, r);
	} else if (json_is_object(v) && (next = json_object_get(v, tok)) != NULL) {
		ret = eval_at(next, path, depth + 1, r);
	}
	free(tok);
	return ret;
}

int jmap_pointer_eval(json_t *root, const char *path, json_t **r)
{
	return eval_at(root, path, 0, r);
}

/* ---- back-references ---- */

/* The response to which ref {resultOf, name, path} points, evaluated. */
static int resolve_ref(json_t *responses, json_t *ref, json_t **r)
{
	const char *of, *name, *path;
	json_t *inv;
	size_t i;

	if (json_unpack(ref, "{s:s,s:s,s:s !}", "resultOf", &of, "name", &name,
			"path", &path) < 0)
		return -1;
	json_array_foreach(responses, i, inv) {
		const char *n = json_string_value(json_array_get(inv, 0));
		const char *id = json_string_value(json_array_get(inv, 2));
		if (id != NULL && strcmp(id, of) == 0 && n != NULL && strcmp(n, name) == 0)
			return jmap_pointer_eval(json_array_get(inv, 1), path, r);
	}
	return -1;
}

/* Replace every "#key" argument by the value it refers to.  Returns 1,
   or -1 with call->error set. */
static int resolve_args(struct jmap_call *call, json_t *responses)
{
	json_t *out = json_object(), *v, *val;
	const char *key;

	json_object_foreach(call->args, key, v) {
		if (key[0] != '#') {
			if (json_object_get(out, key) == NULL)
				json_object_set(out, key, v);
			continue;
		}
		if (json_object_get(call->args, key + 1) != NULL) {
			json_decref(out);
			return jmap_call_error(call, "invalidArguments",
					       "both an argument and its reference given");
		}
		if (resolve_ref(responses, v, &val) < 0) {
			json_decref(out);
			return jmap_call_error(call, "invalidResultReference", NULL);
		}
		json_object_set_new(out, key + 1, val);
	}
	json_decref(call->args);
	call->args = out;
	return 1;
}

/* ---- the request ---- */

static bool capability_known(const char *cap)
{
	return strcmp(cap, JMAP_CAP_CORE) == 0 || strcmp(cap, JMAP_CAP_MAIL) == 0 ||
	       strcmp(cap, JMAP_CAP_SUBMISSION) == 0 || strcmp(cap, JMAP_CAP_VACATION) == 0;
}

static bool using_has(json_t *using, const char *cap)
{
	json_t *v;
	size_t i;

	json_array_foreach(using, i, v)
		if (strcmp(json_string_value(v), cap) == 0)
			return true;
	return false;
}

/* §3.3: {using: [String], methodCalls: [[String, Object, String]],
   createdIds?: Id[Id]}.  Returns 1 or -1 with *problem_r. */
static int check_request(json_t *req, const struct jmap_limits *limits, json_t **problem_r)
{
	json_t *using = json_object_get(req, "using");
	json_t *calls = json_object_get(req, "methodCalls"), *v;
	json_t *created = json_object_get(req, "createdIds");
	size_t i;

	if (!json_is_object(req) || !json_is_array(using) || !json_is_array(calls) ||
	    (created != NULL && !json_is_object(created))) {
		*problem_r = problem("notRequest", 400, "not a JMAP Request object");
		return -1;
	}
	json_array_foreach(using, i, v) {
		if (!json_is_string(v)) {
			*problem_r = problem("notRequest", 400, "using must hold strings");
			return -1;
		}
		if (!capability_known(json_string_value(v))) {
			*problem_r = problem("unknownCapability", 400, "unknown capability");
			return -1;
		}
	}
	if (json_array_size(calls) > limits->max_calls) {
		*problem_r = problem("limit", 400, "too many method calls");
		json_object_set_new(*problem_r, "limit", json_string("maxCallsInRequest"));
		return -1;
	}
	json_array_foreach(calls, i, v) {
		if (!json_is_array(v) || json_array_size(v) != 3 ||
		    !json_is_string(json_array_get(v, 0)) ||
		    !json_is_object(json_array_get(v, 1)) ||
		    !json_is_string(json_array_get(v, 2))) {
			*problem_r = problem("notRequest", 400,
					     "a method call is [name, arguments, id]");
			return -1;
		}
	}
	return 1;
}

static const struct jmap_method *find_method(const struct jmap_method *table,
					     const char *name)
{
	for (; table->name != NULL; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

struct jmap_run {
	json_t *req, *responses;
	json_t *created;		/* creation id -> id, the whole request */
	size_t next;			/* the next method call */
	const struct jmap_limits *limits;
	const struct jmap_method *table;
	void *ctx;
	char *session_state;
	struct jmap_call call;		/* the call that waits */
	bool waiting;
	jmap_run_wake_fn *wake;
	void *wake_ctx;
};

/* The call is over: its response(s) go after the others. */
static void finish_call(struct jmap_run *run)
{
	struct jmap_call *call = &run->call;
	json_t *v;
	size_t i;

	if (call->error != NULL) {
		json_array_append_new(run->responses, json_pack("[s,O,s]", "error", call->error,
								call->call_id));
	} else {
		json_array_append_new(run->responses, json_pack("[s,O,s]", call->name,
								call->result, call->call_id));
		json_array_foreach(call->also, i, v)
			json_array_append_new(run->responses,
					      json_pack("[O,O,s]", json_array_get(v, 0),
							json_array_get(v, 1), call->call_id));
	}
	json_decref(call->error);
	json_decref(call->result);
	json_decref(call->args);
	json_decref(call->also);
	memset(call, 0, sizeof(*call));
	run->waiting = false;
}

/* Start invocation inv.  1 when it is over, 0 when it waits. */
static int start_call(struct jmap_run *run, json_t *inv)
{
	struct jmap_call *call = &run->call;
	const struct jmap_method *m;
	int ret = -1;

	memset(call, 0, sizeof(*call));
	call->name = json_string_value(json_array_get(inv, 0));
	call->call_id = json_string_value(json_array_get(inv, 2));
	call->args = json_deep_copy(json_array_get(inv, 1));
	call->limits = run->limits;
	call->ctx = run->ctx;
	call->created_ids = run->created;
	call->run = run;
	m = find_method(run->table, call->name);
	if (m == NULL || !using_has(json_object_get(run->req, "using"), m->capability))
		jmap_call_error(call, "unknownMethod", NULL);
	else if (resolve_args(call, run->responses) > 0)
		ret = m->fn(call);
	if (ret == 0 && call->resume != NULL) {
		run->waiting = true;
		return 0;
	}
	if (ret > 0 && call->result == NULL)
		call->result = json_object();
	if (ret <= 0 && call->error == NULL)
		jmap_call_error(call, "serverFail", NULL);
	return 1;
}

int jmap_run_new(const char *body, size_t len, const struct jmap_limits *limits,
		 const struct jmap_method *table, void *ctx, const char *session_state,
		 struct jmap_run **run_r, json_t **problem_r)
{
	json_error_t jerr;
	json_t *req, *created;
	struct jmap_run *run;

	*run_r = NULL;
	*problem_r = NULL;
	if (len > limits->max_size_request) {
		*problem_r = problem("limit", 400, "request too large");
		json_object_set_new(*problem_r, "limit", json_string("maxSizeRequest"));
		return -1;
	}
	req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL) {
		*problem_r = problem("notJSON", 400, "the body is not JSON");
		return -1;
	}
	if (check_request(req, limits, problem_r) < 0) {
		json_decref(req);
		return -1;
	}
	run = xcalloc(1, sizeof(*run));
	run->session_state = xstrdup(session_state);
	run->req = req;
	run->responses = json_array();
	created = json_object_get(req, "createdIds");
	run->created = created != NULL ? json_deep_copy(created) : json_object();
	run->limits = limits;
	run->table = table;
	run->ctx = ctx;
	*run_r = run;
	return 1;
}

int jmap_run_step(struct jmap_run *run, json_t **response_r)
{
	json_t *calls = json_object_get(run->req, "methodCalls");

	*response_r = NULL;
	if (run->waiting) {
		struct jmap_call *call = &run->call;
		jmap_method_fn *resume = call->resume;
		int ret;
		call->resume = NULL;
		ret = resume(call);
		if (ret == 0 && call->resume != NULL)
			return 0;
		if (ret > 0 && call->result == NULL)
			call->result = json_object();
		if (ret <= 0 && call->error == NULL)
			jmap_call_error(call, "serverFail", NULL);
		finish_call(run);
	}
	while (run->next < json_array_size(calls)) {
		if (start_call(run, json_array_get(calls, run->next++)) == 0)
			return 0;
		finish_call(run);
	}
	*response_r = json_pack("{s:O,s:s}", "methodResponses", run->responses,
				"sessionState", run->session_state);
	if (json_object_get(run->req, "createdIds") != NULL)
		json_object_set(*response_r, "createdIds", run->created);
	return 1;
}

void jmap_run_set_wake(struct jmap_run *run, jmap_run_wake_fn *fn, void *ctx)
{
	run->wake = fn;
	run->wake_ctx = ctx;
}

void jmap_run_abandon(struct jmap_run *run, jmap_run_wake_fn *fn)
{
	run->ctx = NULL;
	run->call.ctx = NULL;
	jmap_run_set_wake(run, fn, NULL);
}

void jmap_run_wake(struct jmap_run *run)
{
	run->wake(run->wake_ctx, run);
}

bool jmap_run_waiting(const struct jmap_run *run)
{
	return run->waiting;
}

void jmap_run_free(struct jmap_run **runp)
{
	struct jmap_run *run = *runp;

	if (run == NULL)
		return;
	json_decref(run->call.error);
	json_decref(run->call.result);
	json_decref(run->call.args);
	json_decref(run->call.also);
	json_decref(run->req);
	json_decref(run->responses);
	json_decref(run->created);
	free(run->session_state);
	free(run);
	*runp = NULL;
}

int jmap_core_run(const char *body, size_t len, const struct jmap_limits *limits,
		  const struct jmap_method *table, void *ctx, const char *session_state,
		  json_t **response_r, json_t **problem_r)
{
	struct jmap_run *run;

	*response_r = NULL;
	if (jmap_run_new(body, len, limits, table, ctx, session_state, &run, problem_r) < 0)
		return -1;
	if (jmap_run_step(run, response_r) == 0) {
		/* a table for this entry point has no method that waits */
		jmap_run_free(&run);
		*problem_r = problem("serverFail", 500, "a method call could not finish");
		return -1;
	}
	jmap_run_free(&run);
	return 1;
}

int jmap_core_echo(struct jmap_call *call)
{
	call->result = json_incref(call->args);
	return 1;
}
