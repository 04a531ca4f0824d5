#ifndef CORREIO_METRICS_H
#define CORREIO_METRICS_H
/*
 * metrics: the counters `correio serve` offers Prometheus at
 * [metrics] listen (src/server/metrics_http.c).  Every call is one or two
 * relaxed atomic additions on a process-wide integer, so any thread may
 * count (the loop, the delivery thread, the queue's committer, the
 * password threads) and a disabled listener costs nothing more.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/config.h"

struct buf;

enum metrics_transport { METRICS_SMTP, METRICS_LOCAL, METRICS_TRANSPORTS };
enum metrics_outcome { METRICS_DELIVERED, METRICS_DEFERRED, METRICS_BOUNCED, METRICS_OUTCOMES };

/* A message accepted into the queue: by SMTP, or locally (sendmail). */
void metrics_received(enum metrics_transport t);
/* One recipient's delivery attempt ended so; arrival: when the message
   was accepted (seconds since the epoch), for the latency of deliveries. */
void metrics_delivery(enum metrics_transport t, enum metrics_outcome o, uint64_t arrival);
/* A connection accepted on a listener. */
void metrics_connection(enum config_listener l);
/* A login's answer on a listener (ok, or refused for any reason). */
void metrics_login(enum config_listener l, bool ok);
/* A wrong password, or a login refused because of earlier failures. */
void metrics_auth_failure(bool locked_out);
/* One flush of the queue (group commit) made n messages durable. */
void metrics_fsync_group(unsigned n);

/* What the server knows at the time of the scrape. */
struct metrics_gauges {
	uint64_t queue_messages;
	uint64_t queue_oldest_age;	/* seconds, 0 when empty */
	uint64_t connections;		/* open now */
};

/* Everything in the Prometheus text format (version 0.0.4) into out. */
void metrics_write(struct buf *out, const struct metrics_gauges *g);

#endif
