#ifndef CORREIO_JMAP_CORE_H
#define CORREIO_JMAP_CORE_H
/*
 * jmap_core: the JMAP request layer of RFC 8620 §3, with no I/O.  It
 * checks a request object, resolves back-references (§3.7) and runs each
 * method call through a table, collecting the responses.  The HTTP side
 * (jmap_http.c) feeds it bodies; the fuzz target feeds it bytes.
 *
 * Ownership: json values handed out belong to the caller (json_decref).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JMAP_CAP_CORE "urn:ietf:params:jmap:core"
#define JMAP_CAP_MAIL "urn:ietf:params:jmap:mail"

/* Limits advertised in the session's core capability and enforced here. */
struct jmap_limits {
	size_t max_size_request;
	unsigned max_calls;
	unsigned max_objects_get;
	unsigned max_objects_set;
	size_t max_size_upload;
	unsigned max_concurrent_requests;
	unsigned max_concurrent_upload;
};

/* One method call being run. */
struct jmap_call {
	const char *name;
	const char *call_id;
	json_t *args;		/* the arguments, back-references resolved */
	json_t *result;		/* set by the method: its response arguments */
	json_t *error;		/* or this: an error object (jmap_call_error) */
	const struct jmap_limits *limits;
	void *ctx;		/* the account context of the caller */
};

/* A method: 1 done (call->result set), -1 failed (call->error set). */
typedef int jmap_method_fn(struct jmap_call *call);

struct jmap_method {
	const char *name;		/* "Mailbox/get" */
	const char *capability;		/* needed in "using" */
	jmap_method_fn *fn;
};

/* Set call->error to {"type": type, "description": desc?}; returns -1. */
int jmap_call_error(struct jmap_call *call, const char *type, const char *desc);

/*
 * Evaluate an RFC 8620 §3.7 path (a JSON pointer where "*" maps over an
 * array, flattening arrays of arrays) against root.  Returns 1 with a new
 * reference in *r, or -1 when the path does not lead anywhere.
 */
int jmap_pointer_eval(json_t *root, const char *path, json_t **r);

/*
 * Run the request body[0..len).  Returns 1 with the Response object in
 * *response_r, or -1 with an RFC 7807 problem object in *problem_r
 * (type urn:ietf:params:jmap:error:notJSON, notRequest, limit or
 * unknownCapability; HTTP status 400).  table ends with a NULL name.
 * session_state goes into the response.
 */
int jmap_core_run(const char *body, size_t len, const struct jmap_limits *limits,
		  const struct jmap_method *table, void *ctx, const char *session_state,
		  json_t **response_r, json_t **problem_r);

/* Core/echo: the arguments back. */
int jmap_core_echo(struct jmap_call *call);

/* Is s a JMAP Id (1-255 of A-Z a-z 0-9 - _)? */
bool jmap_is_id(const char *s);

#endif
