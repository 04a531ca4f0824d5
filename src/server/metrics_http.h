#ifndef CORREIO_METRICS_HTTP_H
#define CORREIO_METRICS_HTTP_H
/*
 * metrics_http: the Prometheus endpoint of `correio serve`
 * ([metrics] listen; empty: none).
 */
#include <stdint.h>

#include "conn/services.h"

struct metrics_http;

/* Connections open now (the server's count). */
typedef uint64_t metrics_connections_fn(void *ctx);

/* Listen on srv->cfg.metrics_listen (nothing when empty: *r NULL).
   Bind before leaving root.  1, or -1 (logged). */
int metrics_http_open(struct services *srv, metrics_connections_fn *open_connections,
		      void *ctx, struct metrics_http **r);
void metrics_http_free(struct metrics_http **m);

#endif
