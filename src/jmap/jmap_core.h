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
#define JMAP_CAP_SUBMISSION "urn:ietf:params:jmap:submission"
#define JMAP_CAP_VACATION "urn:ietf:params:jmap:vacationresponse"

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

struct jmap_call;
struct jmap_run;

/* A method: 1 done (call->result set), -1 failed (call->error set), 0
   waiting (for the queue, say): it set call->resume and will have
   jmap_run_wake(call->run) called; resume then runs (with the same call)
   and returns the same way. */
typedef int jmap_method_fn(struct jmap_call *call);

/* One method call being run. */
struct jmap_call {
	const char *name;
	const char *call_id;
	json_t *args;		/* the arguments, back-references resolved */
	json_t *result;		/* set by the method: its response arguments */
	json_t *error;		/* or this: an error object (jmap_call_error) */
	const struct jmap_limits *limits;
	void *ctx;		/* the account context of the caller; NULL once the
				   client is gone while the call waited */
	json_t *also;		/* more responses of this call: [[name, args]]
				   (an implicit Email/set after a submission) */
	json_t *created_ids;	/* the request's creation id -> id (§3.3) */
	struct jmap_run *run;
	jmap_method_fn *resume;	/* set by a method that returns 0 */
	void *wait;		/* its state meanwhile (the method's to free) */
};

struct jmap_method {
	const char *name;		/* "Mailbox/get" */
	const char *capability;		/* needed in "using" */
	jmap_method_fn *fn;
};

/* Set call->error to {"type": type, "description": desc?}; returns -1. */
int jmap_call_error(struct jmap_call *call, const char *type, const char *desc);
/* A SetError (RFC 8620 5.3) of type, with desc when not NULL; with the
   one property it names for invalidProperties. */
json_t *jmap_set_error(const char *type, const char *desc);
json_t *jmap_invalid_property(const char *prop, const char *desc);

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

/*
 * The same in steps, for methods that wait.  jmap_run_new checks the
 * request (1, or -1 with *problem_r); jmap_run_step runs the calls until
 * the end (1 with *response_r) or until one waits (0): the owner then
 * waits for its wake function, which is called (from the event that ends
 * the wait) with the run, and steps again.  jmap_run_abandon: the client
 * is gone; the method sees ctx NULL when it resumes and fn is the wake
 * function from then on (it steps to the end and frees).
 */
typedef void jmap_run_wake_fn(void *ctx, struct jmap_run *run);
int jmap_run_new(const char *body, size_t len, const struct jmap_limits *limits,
		 const struct jmap_method *table, void *ctx, const char *session_state,
		 struct jmap_run **run_r, json_t **problem_r);
int jmap_run_step(struct jmap_run *run, json_t **response_r);
void jmap_run_set_wake(struct jmap_run *run, jmap_run_wake_fn *fn, void *ctx);
void jmap_run_wake(struct jmap_run *run);
void jmap_run_abandon(struct jmap_run *run, jmap_run_wake_fn *fn);
bool jmap_run_waiting(const struct jmap_run *run);
void jmap_run_free(struct jmap_run **run);

/* Core/echo: the arguments back. */
int jmap_core_echo(struct jmap_call *call);

/* Is s a JMAP Id (1-255 of A-Z a-z 0-9 - _)? */
bool jmap_is_id(const char *s);

#endif
