/*
 * metrics.c - process-wide counters and their Prometheus text.
 *
 * Histograms keep one counter per bucket (not cumulative: the text adds
 * them up), their count and the sum of the observed values.
 */
#include "lib/metrics.h"

#include <stdio.h>
#include <time.h>

#include "lib/buf.h"

#define ADD(var, n) __atomic_add_fetch(&(var), (n), __ATOMIC_RELAXED)
#define GET(var) __atomic_load_n(&(var), __ATOMIC_RELAXED)

static const double latency_bounds[] = { 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400 };
#define LATENCY_BUCKETS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))
static const double group_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
#define GROUP_BUCKETS (sizeof(group_bounds) / sizeof(group_bounds[0]))

struct histogram {
	uint64_t buckets[16];	/* the last one past the highest bound: +Inf */
	uint64_t count, sum;
};

static uint64_t received[METRICS_TRANSPORTS];
static uint64_t outcomes[METRICS_TRANSPORTS][METRICS_OUTCOMES];
static struct histogram latency[METRICS_TRANSPORTS];
static uint64_t connections[CONFIG_LISTEN_COUNT];
static uint64_t logins[CONFIG_LISTEN_COUNT][2];	/* [failed, ok] */
static uint64_t auth_failures[2];		/* [password, locked out] */
static struct histogram fsync_groups;

static const char *const transport_names[METRICS_TRANSPORTS] = { "smtp", "local" };

static void observe(struct histogram *h, const double *bounds, unsigned n, uint64_t v)
{
	unsigned i = 0;

	while (i < n && (double)v > bounds[i])
		i++;
	ADD(h->buckets[i], 1);
	ADD(h->sum, v);
	ADD(h->count, 1);
}

void metrics_received(enum metrics_transport t)
{
	ADD(received[t], 1);
}

void metrics_delivery(enum metrics_transport t, enum metrics_outcome o, uint64_t arrival)
{
	uint64_t now = (uint64_t)time(NULL);

	ADD(outcomes[t][o], 1);
	if (o == METRICS_DELIVERED)
		observe(&latency[t], latency_bounds, LATENCY_BUCKETS,
			now > arrival ? now - arrival : 0);
}

void metrics_connection(enum config_listener l)
{
	ADD(connections[l], 1);
}

void metrics_login(enum config_listener l, bool ok)
{
	ADD(logins[l][ok ? 1 : 0], 1);
}

void metrics_auth_failure(bool locked_out)
{
	ADD(auth_failures[locked_out ? 1 : 0], 1);
}

void metrics_fsync_group(unsigned n)
{
	observe(&fsync_groups, group_bounds, GROUP_BUCKETS, n);
}

/* ---- the text ---- */

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram_text(struct buf *out, const char *name, const char *labels,
			   const struct histogram *h, const double *bounds, unsigned n)
{
	uint64_t cum = 0;

	for (unsigned i = 0; i <= n; i++) {
		cum += GET(h->buckets[i]);
		if (i < n)
			buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
				   labels[0] != '\0' ? "," : "", bounds[i],
				   (unsigned long long)cum);
		else
			buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
				   labels[0] != '\0' ? "," : "", (unsigned long long)cum);
	}
	buf_printf(out, "%s_sum%s%s%s %llu\n", name, labels[0] != '\0' ? "{" : "", labels,
		   labels[0] != '\0' ? "}" : "", (unsigned long long)GET(h->sum));
	buf_printf(out, "%s_count%s%s%s %llu\n", name, labels[0] != '\0' ? "{" : "", labels,
		   labels[0] != '\0' ? "}" : "", (unsigned long long)GET(h->count));
}

void metrics_write(struct buf *out, const struct metrics_gauges *g)
{
	static const char *const outcome_names[METRICS_OUTCOMES] = {
		"correio_messages_delivered_total", "correio_messages_deferred_total",
		"correio_messages_bounced_total" };
	static const char *const outcome_help[METRICS_OUTCOMES] = {
		"Recipients delivered (local mailbox, or accepted by the next hop).",
		"Delivery attempts deferred for a recipient (retried later).",
		"Recipients given up on (bounced to the sender)." };
	char labels[64];

	family(out, "correio_messages_received_total", "counter",
	       "Messages accepted into the queue, by how they came in.");
	for (int t = 0; t < METRICS_TRANSPORTS; t++)
		buf_printf(out, "correio_messages_received_total{transport=\"%s\"} %llu\n",
			   transport_names[t], (unsigned long long)GET(received[t]));
	for (int o = 0; o < METRICS_OUTCOMES; o++) {
		family(out, outcome_names[o], "counter", outcome_help[o]);
		for (int t = 0; t < METRICS_TRANSPORTS; t++)
			buf_printf(out, "%s{transport=\"%s\"} %llu\n", outcome_names[o],
				   transport_names[t], (unsigned long long)GET(outcomes[t][o]));
	}
	family(out, "correio_delivery_latency_seconds", "histogram",
	       "Time from acceptance to delivery of each recipient (whole seconds).");
	for (int t = 0; t < METRICS_TRANSPORTS; t++) {
		snprintf(labels, sizeof(labels), "transport=\"%s\"", transport_names[t]);
		histogram_text(out, "correio_delivery_latency_seconds", labels, &latency[t],
			       latency_bounds, LATENCY_BUCKETS);
	}
	family(out, "correio_queue_messages", "gauge", "Messages in the queue.");
	buf_printf(out, "correio_queue_messages %llu\n", (unsigned long long)g->queue_messages);
	family(out, "correio_queue_oldest_age_seconds", "gauge",
	       "Age of the oldest message in the queue (0 when it is empty).");
	buf_printf(out, "correio_queue_oldest_age_seconds %llu\n",
		   (unsigned long long)g->queue_oldest_age);
	family(out, "correio_connections_total", "counter",
	       "Connections accepted, by listener.");
	for (int l = 0; l < CONFIG_LISTEN_COUNT; l++)
		buf_printf(out, "correio_connections_total{protocol=\"%s\"} %llu\n",
			   config_listener_name((enum config_listener)l),
			   (unsigned long long)GET(connections[l]));
	family(out, "correio_connections_open", "gauge", "Client connections open now.");
	buf_printf(out, "correio_connections_open %llu\n", (unsigned long long)g->connections);
	family(out, "correio_logins_total", "counter",
	       "Logins answered, by listener and result.");
	for (int l = 0; l < CONFIG_LISTEN_COUNT; l++)
		for (int ok = 1; ok >= 0; ok--)
			buf_printf(out, "correio_logins_total{protocol=\"%s\",result=\"%s\"} %llu\n",
				   config_listener_name((enum config_listener)l),
				   ok ? "ok" : "failed", (unsigned long long)GET(logins[l][ok]));
	family(out, "correio_auth_failures_total", "counter",
	       "Wrong passwords, and logins refused after too many of them.");
	buf_printf(out, "correio_auth_failures_total{reason=\"password\"} %llu\n",
		   (unsigned long long)GET(auth_failures[0]));
	buf_printf(out, "correio_auth_failures_total{reason=\"locked_out\"} %llu\n",
		   (unsigned long long)GET(auth_failures[1]));
	family(out, "correio_queue_fsync_group_size", "histogram",
	       "Messages made durable by one flush of the queue (group commit).");
	histogram_text(out, "correio_queue_fsync_group_size", "", &fsync_groups,
		       group_bounds, GROUP_BUCKETS);
}
