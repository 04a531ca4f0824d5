/*
 * jmap_push.c - push by EventSource (RFC 8620 §7.3):
 *   GET /jmap/eventsource?types=*&closeafter=no|state&ping=N
 * answers text/event-stream and sends a "state" event (a StateChange
 * object) whenever the account's Email or Mailbox state changes: a
 * delivery, an IMAP STORE/EXPUNGE/APPEND, another JMAP client.  The
 * stream keeps a handle on every folder with a store listener; the
 * listener only schedules a look 50 ms later (changes come in bursts and
 * a listener may not touch the store), which reopens the handles (new or
 * deleted folders), computes the state and sends it if it moved.
 *
 * closeafter=no: the current state is sent at once, then each change;
 * closeafter=state: the response ends after the first change (long
 * polling).  ping=N (seconds, at most 300; 0 none) sends "ping" events
 * so that proxies keep the stream and a vanished client is noticed.
 */
#include "jmap_private.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "conn/services.h"

#define PUSH_DELAY_MS 50
#define MAX_PING 300

struct jmap_push {
	struct jmap_push **owner;	/* the connection's slot, cleared at the end */
	struct evhttp_request *req;
	struct jmap_account acct;
	struct event *ping, *changed;
	unsigned ping_s;
	bool close_after_state;
	bool want_email, want_mailbox, want_thread;
	char state[24];
};

static void send_event(struct jmap_push *p, const char *type, json_t *data)
{
	struct evbuffer *out = evbuffer_new();
	char *text = json_dumps(data, JSON_COMPACT);

	evbuffer_add_printf(out, "event: %s\ndata: %s\n\n", type, text);
	free(text);
	evhttp_send_reply_chunk(p->req, out);
	evbuffer_free(out);
}

static void send_state(struct jmap_push *p)
{
	json_t *types = json_object();

	if (p->want_email)
		json_object_set_new(types, "Email", json_string(p->state));
	if (p->want_mailbox)
		json_object_set_new(types, "Mailbox", json_string(p->state));
	if (p->want_thread)
		json_object_set_new(types, "Thread", json_string(p->state));
	json_t *ev = json_pack("{s:s,s:{s:o}}", "@type", "StateChange", "changed",
			       p->acct.id, types);
	send_event(p, "state", ev);
	json_decref(ev);
}

static void push_end(struct jmap_push *p)
{
	struct jmap_push **owner = p->owner;

	evhttp_send_reply_end(p->req);
	p->req = NULL;
	jmap_push_free(owner, false);
}

static void on_changed(evutil_socket_t fd, short what, void *arg)
{
	struct jmap_push *p = arg;
	char state[24];

	jmap_account_unload(&p->acct);
	jmap_account_state(&p->acct, state);
	if (strcmp(state, p->state) == 0 || (!p->want_email && !p->want_mailbox &&
					     !p->want_thread))
		return;
	str_copy(p->state, state, sizeof(p->state));
	send_state(p);
	if (p->close_after_state)
		push_end(p);
}

static void on_store_change(void *ctx, struct store_mailbox *h,
			    const struct store_change *change)
{
	struct jmap_push *p = ctx;
	struct timeval delay = { 0, PUSH_DELAY_MS * 1000 };

	if (!evtimer_pending(p->changed, NULL))
		evtimer_add(p->changed, &delay);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct jmap_push *p = arg;
	json_t *ev = json_pack("{s:i}", "interval", (int)p->ping_s);

	send_event(p, "ping", ev);
	json_decref(ev);
}

/* types: "*" or a comma-separated list of type names. */
static void parse_types(struct jmap_push *p, const char *types)
{
	char copy[256], *save = NULL;

	if (types == NULL || strcmp(types, "*") == 0) {
		p->want_email = p->want_mailbox = p->want_thread = true;
		return;
	}
	str_copy(copy, types, sizeof(copy));
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "Email") == 0 || strcmp(t, "EmailDelivery") == 0)
			p->want_email = true;
		else if (strcmp(t, "Mailbox") == 0)
			p->want_mailbox = true;
		else if (strcmp(t, "Thread") == 0)
			p->want_thread = true;
	}
}

/* Parse the query; 1, or -1 when it is not valid. */
static int parse_query(struct jmap_push *p, struct evhttp_request *req)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params = { 0 };
	const char *closeafter, *ping;
	uint64_t n = 0;
	int ret = 1;

	if (query != NULL && evhttp_parse_query_str(query, &params) < 0)
		return -1;
	parse_types(p, evhttp_find_header(&params, "types"));
	closeafter = evhttp_find_header(&params, "closeafter");
	ping = evhttp_find_header(&params, "ping");
	if (closeafter != NULL && strcmp(closeafter, "state") != 0 && strcmp(closeafter, "no") != 0)
		ret = -1;
	p->close_after_state = closeafter != NULL && strcmp(closeafter, "state") == 0;
	if (ping != NULL && parse_uint(ping, &n) < 0)
		ret = -1;
	p->ping_s = n > MAX_PING ? MAX_PING : (unsigned)n;
	evhttp_clear_headers(&params);
	return ret;
}

struct jmap_push *jmap_push_start(struct jmap *j, struct services *srv, const char *user,
				  struct evhttp_request *req, struct jmap_push **owner)
{
	struct jmap_push *p = xcalloc(1, sizeof(*p));
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (parse_query(p, req) < 0) {
		free(p);
		return NULL;
	}
	if (jmap_account_open(j, srv, user, &p->acct) < 0) {
		free(p);
		return NULL;
	}
	p->acct.listener = on_store_change;
	p->acct.listener_ctx = p;
	p->req = req;
	p->owner = owner;
	*owner = p;
	p->changed = evtimer_new(srv->base, on_changed, p);
	jmap_account_state(&p->acct, p->state);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-cache, no-store");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	evhttp_send_reply_start(req, 200, "OK");
	if (p->ping_s > 0) {
		struct timeval tv = { p->ping_s, 0 };
		p->ping = event_new(srv->base, -1, EV_PERSIST, on_ping, p);
		event_add(p->ping, &tv);
	}
	if (!p->close_after_state)
		send_state(p);
	return p;
}

void jmap_push_free(struct jmap_push **pp, bool detached)
{
	struct jmap_push *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->ping != NULL)
		event_free(p->ping);
	event_free(p->changed);
	jmap_account_close(&p->acct);
	if (detached && p->req != NULL && evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	free(p);
}
