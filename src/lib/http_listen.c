/*
 * http_listen.c - an evhttp with correio's limits, and its listening
 * sockets.  Callers: server/metrics_http.c and acme/acme_http01.c, each of
 * which logs its own listening line and error.
 */
#include "http_listen.h"

#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/util.h>

#include "log.h"
#include "util.h"

struct evhttp *http_listen_new(struct event_base *base, size_t max_headers,
			       void (*cb)(struct evhttp_request *req, void *arg),
			       void *arg)
{
	struct evhttp *http = evhttp_new(base);

	if (http == NULL)
		fatal("out of memory");
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_timeout(http, 10);
	evhttp_set_max_headers_size(http, max_headers);
	evhttp_set_max_body_size(http, 0);
	evhttp_set_gencb(http, cb, arg);
	return http;
}

int http_listen_bind(struct evhttp *http, const char *item)
{
	struct addrinfo *res;
	evutil_socket_t fd;
	int one = 1;

	if (listen_address_resolve(item, &res) < 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
	    evhttp_accept_socket(http, fd) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		errno = saved;
		return -1;
	}
	freeaddrinfo(res);
	return 1;
}
