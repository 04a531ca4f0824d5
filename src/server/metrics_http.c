/*
 * metrics_http.c - the [metrics] listen HTTP endpoint: GET /metrics
 * answers the counters of lib/metrics.c in the Prometheus text format,
 * with the queue's size and the age of its oldest message counted from
 * the spool at each scrape (one directory read: `*.msg` files and their
 * mtimes, the time each message was accepted).  Other paths get 404,
 * other methods 405.  Served by libevent's evhttp on the loop.
 */
#include "server/metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

#include "lib/buf.h"
#include "lib/http_listen.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "queue/queue.h"

#define METRICS_MAX_LISTENERS 4

struct metrics_http {
	struct services *srv;
	struct evhttp *http;
	metrics_connections_fn *open_connections;
	void *ctx;
};

/* Messages in the spool and the age of the oldest. */
static void queue_gauges(struct queue *q, struct metrics_gauges *g)
{
	if (q != NULL)
		queue_census(q, time(NULL), &g->queue_messages, &g->queue_oldest_age);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *m = arg;
	struct metrics_gauges g = { 0 };
	struct evbuffer *body;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct buf text;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Try /metrics");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	queue_gauges(m->srv->queue, &g);
	g.connections = m->open_connections(m->ctx);
	buf_init(&text, 0);
	metrics_write(&text, &g);
	body = evbuffer_new();
	evbuffer_add(body, text.data, text.len);
	buf_deinit(&text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

int metrics_http_open(struct services *srv, metrics_connections_fn *open_connections,
		      void *ctx, struct metrics_http **r)
{
	struct metrics_http *m;
	char copy[512], *save = NULL;

	*r = NULL;
	if (srv->cfg.metrics_listen[0] == '\0')
		return 1;
	m = xcalloc(1, sizeof(*m));
	m->srv = srv;
	m->open_connections = open_connections;
	m->ctx = ctx;
	m->http = http_listen_new(srv->base, 16384, on_request, m);
	str_copy(copy, srv->cfg.metrics_listen, sizeof(copy));
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (http_listen_bind(m->http, t) < 0) {
			log_err("metrics: cannot listen on %s: %m", t);
			metrics_http_free(&m);
			return -1;
		}
		log_info("metrics: listening on http://%s/metrics", t);
	}
	*r = m;
	return 1;
}

void metrics_http_free(struct metrics_http **mp)
{
	struct metrics_http *m = *mp;

	if (m == NULL)
		return;
	evhttp_free(m->http);
	free(m);
	*mp = NULL;
}
