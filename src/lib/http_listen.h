#ifndef CORREIO_HTTP_LISTEN_H
#define CORREIO_HTTP_LISTEN_H
/*
 * http_listen: the small HTTP endpoints correio serves on its event loop
 * with libevent's evhttp (the metrics scrape, the ACME HTTP-01 responder):
 * one evhttp with the same limits (10 s timeout, capped headers, no body)
 * and listening sockets bound from "address:port" items.
 */
#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_request;

/* A new evhttp on base, every request to cb(req, arg): GET, HEAD, POST,
   PUT and DELETE reach cb (which answers 405 itself), a 10 s timeout,
   at most max_headers bytes of headers and no body.  Never NULL (out of
   memory aborts).  Free with evhttp_free(). */
struct evhttp *http_listen_new(struct event_base *base, size_t max_headers,
			       void (*cb)(struct evhttp_request *req, void *arg),
			       void *arg);
/* Listen on one "address:port" or "[v6]:port" item (SO_REUSEADDR,
   non-blocking, close-on-exec) and hand the socket to http.  1, or -1 with
   errno set (nothing left open). */
int http_listen_bind(struct evhttp *http, const char *item);

#endif
