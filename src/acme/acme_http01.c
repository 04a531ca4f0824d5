/*
 * acme_http01.c - the HTTP-01 responder (RFC 8555 8.3): the CA's
 * validator fetches http://<name>/.well-known/acme-challenge/<token> on
 * port 80 and must read the key authorization, as text.  libevent's
 * evhttp on the loop; requests are small (headers capped, no body) and
 * short-lived (10 s timeout).  Answers only while a challenge of that
 * token is pending (acme_http01_answer); everything else is 404.
 */
#include "acme/acme.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

#include "acme/acme_int.h"
#include "lib/http_listen.h"
#include "lib/log.h"
#include "lib/util.h"

#define WELL_KNOWN "/.well-known/acme-challenge/"

struct acme_http01 {
	struct evhttp *http;
	struct acme *const *ap;
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct acme_http01 *h = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	char answer[ACME_TOKEN_MAX + 64];
	struct evbuffer *body;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if (path == NULL || strncmp(path, WELL_KNOWN, strlen(WELL_KNOWN)) != 0 ||
	    *h->ap == NULL ||
	    acme_http01_answer(*h->ap, path + strlen(WELL_KNOWN), answer, sizeof(answer)) <= 0) {
		log_info("acme: HTTP-01 request for %.200s: no such challenge pending",
			 path != NULL ? path : "(none)");
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	body = evbuffer_new();
	evbuffer_add(body, answer, strlen(answer));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/octet-stream");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
	log_info("acme: answered the HTTP-01 challenge %.200s", path + strlen(WELL_KNOWN));
}

int acme_http01_open(struct event_base *base, const char *listen, struct acme *const *ap,
		     struct acme_http01 **r, const char **error_r)
{
	static char error[600];
	struct acme_http01 *h;
	char item[512];

	h = xcalloc(1, sizeof(*h));
	h->ap = ap;
	h->http = http_listen_new(base, 8192, on_request, h);
	for (int i = 0; str_list_item(listen, i, item, sizeof(item)); i++) {
		if (http_listen_bind(h->http, item) < 0) {
			snprintf(error, sizeof(error), "acme: cannot listen on %s: %s", item,
				 strerror(errno));
			*error_r = error;
			acme_http01_free(&h);
			return -1;
		}
		log_info("acme: answering HTTP-01 challenges on http://%s", item);
	}
	*r = h;
	return 1;
}

void acme_http01_free(struct acme_http01 **hp)
{
	if (*hp == NULL)
		return;
	evhttp_free((*hp)->http);
	free(*hp);
	*hp = NULL;
}
