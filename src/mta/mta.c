/*
 * mta.c - the queue's messages, schedule and outcomes, local and remote.
 *
 * Every second (and at once after a submit or a flush) each message that
 * is not held and has no attempt in flight is looked at: past give_up its
 * pending recipients bounce; otherwise the recipients whose next attempt
 * is due are grouped by destination into transactions, which wait in the
 * destination's queue for a connection (mta_session.c).  When a message's
 * transactions are all over, its envelope is rewritten on disk, the DSNs
 * its new outcomes call for are queued, and a finished message leaves the
 * spool.
 */
#include "mta_private.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "delivery/delivery.h"
#include "delivery/resolve.h"
#include "lib-smtp/smtp_parse.h"
#include "lib/encoding.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mta/mta_dsn.h"
#include "mta/schedule.h"
#include "queue/queue.h"

static const struct config *cfg_of(struct mta *m)
{
	return &m->srv->cfg;
}

/* ---- messages ---- */

static struct mta_msg *msg_find(struct mta *m, const char *id)
{
	for (struct mta_msg *g = m->msgs; g != NULL; g = g->next)
		if (strcmp(g->env->id, id) == 0)
			return g;
	return NULL;
}

static void msg_add(struct mta *m, struct envelope *e)
{
	struct mta_msg *g = xcalloc(1, sizeof(*g));

	g->fresh = xcalloc(e->n_rcpts + 1, 1);
	g->go = xcalloc(e->n_rcpts + 1, sizeof(*g->go));
	g->env = e;
	g->next = m->msgs;
	if (m->msgs != NULL)
		m->msgs->prev = g;
	m->msgs = g;
}

static void msg_remove(struct mta *m, struct mta_msg *g)
{
	if (g->prev != NULL)
		g->prev->next = g->next;
	else
		m->msgs = g->next;
	if (g->next != NULL)
		g->next->prev = g->prev;
	envelope_free(&g->env);
	free(g->fresh);
	free(g->go);
	free(g);
}

/* ---- destinations ---- */

static struct mta_dest *dest_get(struct mta *m, const char *name)
{
	struct mta_dest *d;

	for (d = m->dests; d != NULL; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->mta = m;
	str_copy(d->name, name, sizeof(d->name));
	d->local = strcmp(name, SCHEDULE_LOCAL) == 0;
	d->tail = &d->head;
	d->next = m->dests;
	m->dests = d;
	return d;
}

static void dest_push(struct mta_dest *d, struct mta_txn *t)
{
	t->next = NULL;
	t->dest = d;
	*d->tail = t;
	d->tail = &t->next;
}

static unsigned dest_waiting(const struct mta_dest *d)
{
	unsigned n = 0;

	for (const struct mta_txn *t = d->head; t != NULL; t = t->next)
		n++;
	return n;
}

/* Fail every waiting transaction of d with code/text (no connection). */
static void dest_fail_all(struct mta_dest *d, int code, const char *status,
			  const char *text)
{
	struct mta_txn *t;

	while ((t = d->head) != NULL) {
		d->head = t->next;
		if (d->head == NULL)
			d->tail = &d->head;
		for (unsigned i = 0; i < t->n; i++)
			mta_rcpt_result(t, i, code, status, text, NULL);
		mta_txn_done(t);
	}
}

static void dest_connect(struct mta_dest *d)
{
	unsigned want = dest_waiting(d);
	uint64_t limit = cfg_of(d->mta)->destination_concurrency;

	while (d->active < limit && d->active < want) {
		d->active++;
		mta_session_start(d);
	}
}

/* Does some mail exchanger of d match its MTA-STS policy? */
static bool dest_mx_allowed(const struct mta_dest *d)
{
	for (unsigned i = 0; i < d->mx.n_hosts; i++)
		if (mta_sts_mx_match(&d->policy, d->mx.hosts[i].name))
			return true;
	return false;
}

/* Does some mail exchanger of d publish validated TLSA records? */
static bool dest_has_dane(const struct mta_dest *d)
{
	if (d->dane.status != DANE_SECURE)
		return false;
	for (unsigned i = 0; i < d->mx.n_hosts; i++)
		if (d->dane.hosts[i].state == DANE_HOST_TLSA)
			return true;
	return false;
}

static void dest_ready(struct mta_dest *d);

void mta_policy_strings(const struct mta_dest *d, int h, bool tlsa, struct buf *out)
{
	if (tlsa) {
		const struct dane_host *dh = &d->dane.hosts[h];
		for (unsigned i = 0; i < dh->n; i++) {
			buf_printf(out, "%s%u %u %u ", i > 0 ? "|" : "", dh->tlsa[i].usage,
				   dh->tlsa[i].selector, dh->tlsa[i].mtype);
			hex_encode_buf(dh->tlsa[i].data, dh->tlsa[i].len, out);
		}
		return;
	}
	buf_printf(out, "version: STSv1|mode: %s", mta_sts_mode_name(d->policy.mode));
	for (const char *mx = mta_sts_mx_next(&d->policy, NULL); mx != NULL;
	     mx = mta_sts_mx_next(&d->policy, mx))
		buf_printf(out, "|mx: %s", mx);
	buf_printf(out, "|max_age: %llu", (unsigned long long)d->policy.max_age);
}

/* TLS-RPT: the policy of d names none of its mail exchangers. */
static void dest_count_mismatch(struct mta_dest *d)
{
	struct buf strings;

	buf_init(&strings, 0);
	mta_policy_strings(d, 0, false, &strings);
	for (unsigned i = 0; i < d->mx.n_hosts; i++)
		tlsrpt_count(d->mta, d->name, "sts", buf_cstr(&strings), "validation-failure",
			     d->mx.hosts[i].name, NULL);
	buf_deinit(&strings);
}

static void on_dane(void *ctx, const struct dane_result *result)
{
	struct mta_dest *d = ctx;

	d->dane_lookup = NULL;
	d->dane = *result;
	dest_ready(d);
}

/* The mail exchangers and the MTA-STS policy of d are known: connect,
   unless an enforced policy leaves no host to connect to (§5: the
   message waits, it is never sent elsewhere). */
static void dest_ready(struct mta_dest *d)
{
	char text[600];

	if (d->lookup != NULL || d->sts != NULL || d->dane_lookup != NULL || d->mx_time == 0)
		return;
	if (d->dane.status == DANE_FAILED) {
		snprintf(text, sizeof(text), "DANE: %s: %s", d->name, d->dane.error);
		log_info("relay: %s", text);
		d->mx_time = 0;
		dest_fail_all(d, 451, "4.7.5", text);
		return;
	}
	/* DANE takes precedence over MTA-STS (RFC 8461 §2) */
	if (d->has_policy && !dest_has_dane(d) && !dest_mx_allowed(d)) {
		snprintf(text, sizeof(text), "MTA-STS policy of %s (%s): no mail exchanger "
			 "matches its mx patterns", d->name, mta_sts_mode_name(d->policy.mode));
		log_info("relay: %s", text);
		dest_count_mismatch(d);
		if (d->policy.mode == MTA_STS_ENFORCE) {
			d->mx_time = 0;		/* ask again at the next attempt */
			dest_fail_all(d, 451, "4.7.5", text);
			return;
		}
	}
	dest_connect(d);
}

static void on_mx(void *ctx, const struct dns_mx *mx)
{
	struct mta_dest *d = ctx;

	d->lookup = NULL;
	d->mx = *mx;
	if (mx->status != DNS_OK) {
		log_info("relay: %s: %s", d->name, mx->error);
		dest_fail_all(d, mx->status == DNS_PERMANENT ? 550 : 451,
			      mx->null_mx ? "5.1.10" :
			      mx->status == DNS_PERMANENT ? "5.1.2" : "4.4.3", mx->error);
		return;		/* not cached: the next attempt asks again */
	}
	d->mx_time = time(NULL);
	memset(&d->dane, 0, sizeof(d->dane));
	d->dane.status = DANE_INSECURE;
	if (d->dane_lookup != NULL)
		dane_cancel(d->dane_lookup);	/* one for an older answer */
	d->dane_lookup = NULL;
	if (d->mta->dane != NULL && cfg_of(d->mta)->smarthost[0] == '\0')
		d->dane_lookup = dane_lookup(d->mta->dane, d->name, mx, on_dane, d);
	dest_ready(d);
}

static void on_sts(void *ctx, const struct mta_sts_policy *policy)
{
	struct mta_dest *d = ctx;

	d->sts = NULL;
	d->has_policy = policy != NULL && policy->mode != MTA_STS_NONE;
	if (d->has_policy)
		d->policy = *policy;
	dest_ready(d);
}

/* Look up the MTA-STS policy of d beside its mail exchangers. */
static void dest_sts_start(struct mta_dest *d)
{
	const struct config *cfg = cfg_of(d->mta);

	d->has_policy = false;
	if (!cfg->mta_sts || cfg->smarthost[0] != '\0' || d->sts != NULL)
		return;
	d->sts = mta_sts_lookup(d->mta, d->name, on_sts, d);
}

void mta_dest_idle(struct mta_dest *d)
{
	if (d->head != NULL)
		dest_connect(d);
}

/* Work is waiting at d: make sure it gets connections. */
static void dest_run(struct mta_dest *d)
{
	const struct config *cfg = cfg_of(d->mta);

	if (d->local) {
		mta_local_run(d);
		return;
	}
	if (d->lookup != NULL)
		return;
	if (cfg->smarthost[0] != '\0' || (d->mx_time != 0 && time(NULL) - d->mx_time < 60)) {
		dest_connect(d);
		return;
	}
	d->mx_time = 0;
	d->lookup = dns_lookup_mx(d->mta->dns, d->name, on_mx, d);
	dest_sts_start(d);
}

/* ---- schedule ---- */

bool mta_rcpt_forwarded(const struct envelope_rcpt *r)
{
	return r->kind == ENVELOPE_REMOTE && r->orig != NULL;
}

/* Group the due recipients of g by destination into transactions (all of
   a destination's pending recipients together: schedule_due), those
   forwarded (an SRS sender) apart from the others. */
static void msg_schedule(struct mta *m, struct mta_msg *g, time_t now)
{
	struct envelope *e = g->env;
	const char *smarthost = cfg_of(m)->smarthost;
	struct mta_txn *open[64];
	unsigned n_open = 0;

	if (schedule_due(e, smarthost, (uint64_t)now, g->go) == 0)
		return;
	for (unsigned i = 0; i < e->n_rcpts; i++) {
		struct envelope_rcpt *r = &e->rcpts[i];
		const char *name = schedule_rcpt_destination(r, smarthost);
		struct mta_txn *t = NULL;
		if (!g->go[i])
			continue;
		for (unsigned k = 0; k < n_open && t == NULL; k++)
			if (strcmp(open[k]->dest->name, name) == 0 && open[k]->n < MTA_MAX_RCPTS &&
			    open[k]->forwarded == mta_rcpt_forwarded(r))
				t = open[k];
		if (t == NULL) {
			if (n_open == 64)
				break;
			t = xcalloc(1, sizeof(*t));
			t->msg = g;
			t->forwarded = mta_rcpt_forwarded(r);
			dest_push(dest_get(m, name), t);
			if (!t->dest->local)
				m->relay_txns++;
			open[n_open++] = t;
			g->txns++;
		}
		t->rcpt[t->n++] = i;
	}
	for (unsigned k = 0; k < n_open; k++)
		dest_run(open[k]->dest);
}

static void msg_expire(struct mta_msg *g, time_t now, const struct config *cfg)
{
	struct envelope *e = g->env;
	char text[600];

	for (unsigned i = 0; i < e->n_rcpts; i++) {
		struct envelope_rcpt *r = &e->rcpts[i];
		if (r->state != ENVELOPE_PENDING)
			continue;
		snprintf(text, sizeof(text), "5.4.7 delivery time expired%s%s",
			 r->last_error != NULL ? ": " : "",
			 r->last_error != NULL ? r->last_error : "");
		log_info("%s: to=<%s>, status=bounced (%s)", e->id, r->address, text);
		metrics_delivery(r->kind == ENVELOPE_LOCAL ? METRICS_LOCAL : METRICS_SMTP,
				 METRICS_BOUNCED, e->arrival);
		r->state = ENVELOPE_BOUNCED;
		envelope_set(&r->last_error, text);
		g->fresh[i] = 1;
	}
	(void)now;
	(void)cfg;
}

static void msg_finish(struct mta *m, struct mta_msg *g);
static int msg_reroute(struct mta *m, struct mta_msg *g);

/* Free the replaced resolvers that no lookup waits for any more (all
   of them when force). */
static void retired_dns_reap(struct mta *m, bool force)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < m->n_retired_dns; i++) {
		if (!force && dns_busy(m->retired_dns[i]))
			m->retired_dns[kept++] = m->retired_dns[i];
		else
			dns_free(&m->retired_dns[i]);
	}
	m->n_retired_dns = kept;
}

/* Once a UTC day (and at start), the reports of the days before. */
static void tlsrpt_daily(struct mta *m, time_t now)
{
	char today[16];
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if (strcmp(today, m->tlsrpt_day) == 0)
		return;
	str_copy(m->tlsrpt_day, today, sizeof(m->tlsrpt_day));
	tlsrpt_send(m, false, NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct mta *m = arg;
	time_t now = time(NULL);
	struct mta_msg *g, *next;

	if (m->n_retired_dns > 0)
		retired_dns_reap(m, false);
	tlsrpt_daily(m, now);

	for (g = m->msgs; g != NULL; g = next) {
		next = g->next;
		if (g->txns > 0 || g->env->held)
			continue;
		if (schedule_expired(cfg_of(m), g->env->arrival, (uint64_t)now)) {
			msg_expire(g, now, cfg_of(m));
			msg_finish(m, g);
			continue;
		}
		if (g->unrouted && msg_reroute(m, g) <= 0)
			continue;
		msg_schedule(m, g, now);
	}
}

static void tick_now(struct mta *m)
{
	struct timeval zero = { 0, 0 };

	event_active(m->tick, EV_TIMEOUT, 0);
	(void)zero;
}

/* ---- outcomes ---- */

void mta_rcpt_result(struct mta_txn *t, unsigned i, int code, const char *status,
		     const char *text, const char *host)
{
	struct envelope *e = t->msg->env;
	unsigned idx = t->rcpt[i];
	struct envelope_rcpt *r = &e->rcpts[idx];
	const struct config *cfg = cfg_of(t->dest->mta);
	char line[700];
	enum metrics_transport via = t->dest->local ? METRICS_LOCAL : METRICS_SMTP;

	if (t->has_result[i])
		return;
	t->has_result[i] = true;
	/* an SMTP reply ("550 5.1.1 ...") says it all; our own texts get
	   their status code in front ("4.4.1 connection refused") */
	if (status != NULL && status[0] != '\0' && !(text[0] >= '2' && text[0] <= '5' &&
	    text[1] >= '0' && text[1] <= '9' && text[2] >= '0' && text[2] <= '9' && text[3] == ' '))
		snprintf(line, sizeof(line), "%s %s", status, text);
	else
		snprintf(line, sizeof(line), "%s", text);
	envelope_set(&r->remote_mta, host);
	if (code >= 200 && code < 300) {
		r->state = ENVELOPE_SENT;
		envelope_set(&r->last_error, text);
		/* a peer that speaks DSN took over NOTIFY=SUCCESS (RFC 3461 §5.2) */
		t->msg->fresh[idx] = !t->peer_dsn;
		if (!t->dest->local)
			log_info("%s: to=<%s>, relay=%s, status=sent (%s)", e->id, r->address,
			 host != NULL ? host : "none", text);
		metrics_delivery(via, METRICS_DELIVERED, e->arrival);
		return;
	}
	envelope_set(&r->last_error, line);
	if (code >= 500) {
		r->state = ENVELOPE_BOUNCED;
		t->msg->fresh[idx] = 1;
		if (!t->dest->local)
			log_info("%s: to=<%s>, relay=%s, status=bounced (%s)", e->id, r->address,
			 host != NULL ? host : "none", line);
		metrics_delivery(via, METRICS_BOUNCED, e->arrival);
		return;
	}
	r->attempts++;
	if (t->deferred_at == 0)
		t->deferred_at = time(NULL);
	r->next_attempt = (uint64_t)t->deferred_at + schedule_backoff(cfg, r->attempts);
	if (!t->dest->local)
		log_info("%s: to=<%s>, relay=%s, status=deferred (%s)", e->id, r->address,
		 host != NULL ? host : "none", line);
	metrics_delivery(via, METRICS_DEFERRED, e->arrival);
}

void mta_txn_done(struct mta_txn *t)
{
	struct mta_msg *g = t->msg;
	struct mta *m = t->dest->mta;

	for (unsigned i = 0; i < t->n; i++)
		if (!t->has_result[i])
			mta_rcpt_result(t, i, 451, "4.4.2", "transaction not completed", NULL);
	free(t);
	if (--g->txns == 0)
		msg_finish(m, g);
}

static bool all_final(const struct envelope *e)
{
	for (unsigned i = 0; i < e->n_rcpts; i++)
		if (e->rcpts[i].state == ENVELOPE_PENDING)
			return false;
	return true;
}

/* Queue the notices that the fresh outcomes of g call for. */
static void msg_notify(struct mta *m, struct mta_msg *g, time_t now)
{
	struct envelope *e = g->env;
	bool delayed = !e->warned && !all_final(e) &&
		       schedule_warn_due(cfg_of(m), e->arrival, (uint64_t)now);

	if (e->sender[0] == '\0') {
		memset(g->fresh, 0, e->n_rcpts);	/* never a DSN for a DSN */
		return;
	}
	mta_dsn_send(m, e, g->fresh, MTA_DSN_FAILURE);
	mta_dsn_send(m, e, g->fresh, MTA_DSN_SUCCESS);
	if (delayed && mta_dsn_send(m, e, NULL, MTA_DSN_DELAY) >= 0)
		e->warned = true;
	memset(g->fresh, 0, e->n_rcpts);
}

static void msg_finish(struct mta *m, struct mta_msg *g)
{
	struct envelope *e = g->env;

	msg_notify(m, g, time(NULL));
	if (all_final(e)) {
		if (!g->removed) {
			queue_done(m->srv->queue, e->id);
			log_info("%s: removed", e->id);
		}
		msg_remove(m, g);
		return;
	}
	if (queue_update(m->srv->queue, e, true) < 0)
		log_err("%s: cannot record the delivery state", e->id);
}

/* ---- taking messages ---- */

/* Route the recipients of e as RCPT (or local submission) recorded them;
   those of an envelope from before routes were recorded are resolved
   now (a routed one's are all remote).  Returns 1, or -1 when the account
   store failed for some (they stay unresolved). */
static int env_route(struct mta *m, struct envelope *e)
{
	int ret = 1;

	for (unsigned i = 0; i < e->n_rcpts; i++) {
		struct envelope_rcpt *r = &e->rcpts[i];
		if (r->kind != ENVELOPE_UNRESOLVED || r->n_targets > 0 ||
		    r->state != ENVELOPE_PENDING)
			continue;
		if (e->routed)
			r->kind = ENVELOPE_REMOTE;
		else if (resolve_record(cfg_of(m), m->srv->accounts, e, i) < 0)
			ret = -1;
	}
	envelope_expand(e);
	return ret;
}

/* Recipients refused when they were resolved (or by an older local
   delivery) are bounced now (the notice is queued before the envelope
   says 'b', so a restart in between sends it then).  Returns 0 if the
   message is finished and gone, else 1. */
static int msg_bounce_refused(struct mta *m, struct mta_msg *g)
{
	struct envelope *e = g->env;
	bool failed = false;

	for (unsigned i = 0; i < e->n_rcpts; i++) {
		struct envelope_rcpt *r = &e->rcpts[i];
		if (r->state != ENVELOPE_FAILED)
			continue;
		if (r->kind == ENVELOPE_FAIL) {
			log_info("%s: to=<%s>, status=bounced (%s)", e->id, r->address,
				 r->last_error != NULL ? r->last_error : "refused");
			metrics_delivery(METRICS_LOCAL, METRICS_BOUNCED, e->arrival);
		}
		r->state = ENVELOPE_BOUNCED;
		g->fresh[i] = 1;
		failed = true;
	}
	if (!failed)
		return 1;
	if (all_final(e)) {
		msg_finish(m, g);
		return 0;
	}
	msg_finish(m, g);
	return 1;
}

/* A message whose routing failed: try again.  1 routed now, 0 not yet,
   -1 finished and gone. */
static int msg_reroute(struct mta *m, struct mta_msg *g)
{
	unsigned n = g->env->n_rcpts;

	if (env_route(m, g->env) < 0 && g->env->n_rcpts == n)
		return 0;
	g->unrouted = false;
	for (unsigned i = 0; i < g->env->n_rcpts; i++)
		if (g->env->rcpts[i].kind == ENVELOPE_UNRESOLVED &&
		    g->env->rcpts[i].state == ENVELOPE_PENDING)
			g->unrouted = true;
	free(g->fresh);
	free(g->go);
	g->fresh = xcalloc(g->env->n_rcpts + 1, 1);
	g->go = xcalloc(g->env->n_rcpts + 1, sizeof(*g->go));
	if (msg_bounce_refused(m, g) == 0)
		return -1;
	return g->unrouted ? 0 : 1;
}

void mta_take(struct mta *m, struct envelope *e, bool recovered)
{
	struct mta_msg *g;
	bool unrouted;

	if (recovered && msg_find(m, e->id) != NULL) {
		envelope_free(&e);
		return;
	}
	unrouted = env_route(m, e) < 0;
	msg_add(m, e);
	g = m->msgs;
	g->recovered = recovered;
	g->unrouted = unrouted;
	if (unrouted)
		log_warn("%s: recipients not resolved yet (account store error): "
			 "trying again", e->id);
	if (msg_bounce_refused(m, g) == 0)
		return;
	if (recovered || unrouted || e->held)
		tick_now(m);	/* give_up and the rest are checked there */
	else
		msg_schedule(m, g, time(NULL));
}

/* On the loop: the jobs the delivery agent finished, oldest first. */
static void on_local_done(void *ctx, struct handoff_link *batch)
{
	struct handoff_link *next;

	for (; batch != NULL; batch = next) {
		next = batch->next;
		mta_local_finish(HANDOFF_ITEM(batch, struct delivery_job, link));
	}
}

/* ---- reload ---- */

static void dns_replace(struct mta *m, const struct config *old)
{
	struct services *srv = m->srv;
	struct dns *fresh;
	const char *error;

	if (dns_open(srv->base, srv->cfg.dns_servers, &fresh, &error) < 0) {
		log_err("reload: [dns] servers: %s; still asking %s", error,
			old->dns_servers[0] != '\0' ? old->dns_servers : "the resolv.conf servers");
		str_copy(srv->cfg.dns_servers, old->dns_servers, sizeof(srv->cfg.dns_servers));
		return;
	}
	if (m->n_retired_dns == MTA_MAX_RETIRED_DNS) {
		/* XXX: reloads faster than lookups end: the oldest resolver goes
		   now, its lookups answer "temporary failure" and are retried */
		dns_free(&m->retired_dns[0]);
		memmove(m->retired_dns, m->retired_dns + 1,
			(MTA_MAX_RETIRED_DNS - 1) * sizeof(m->retired_dns[0]));
		m->n_retired_dns--;
	}
	m->retired_dns[m->n_retired_dns++] = m->dns;
	m->dns = fresh;
	log_info("reload: relay lookups now ask %s", srv->cfg.dns_servers[0] != '\0' ?
		 srv->cfg.dns_servers : "the resolv.conf servers");
}

static int read_password(struct mta *m, const char *path, const char **error_r);

void mta_reload(struct mta *m, const struct config *old)
{
	const struct config *cfg = cfg_of(m);
	const char *error;

	if (strcmp(cfg->dns_servers, old->dns_servers) != 0)
		dns_replace(m, old);
	if (cfg->smarthost_password_file[0] == '\0')
		explicit_bzero(m->smarthost_password, sizeof(m->smarthost_password));
	else if (read_password(m, cfg->smarthost_password_file, &error) < 0)
		log_err("reload: %s (keeping the password read before)", error);
	/* what the old settings found is not used again */
	for (struct mta_dest *d = m->dests; d != NULL; d = d->next) {
		d->mx_time = 0;
		if (d->lookup != NULL || d->sts != NULL || d->dane_lookup != NULL) {
			if (d->lookup != NULL)
				dns_cancel(d->lookup);
			if (d->sts != NULL)
				mta_sts_cancel(d->sts);
			if (d->dane_lookup != NULL)
				dane_cancel(d->dane_lookup);
			d->lookup = NULL;
			d->sts = NULL;
			d->dane_lookup = NULL;
			if (d->head != NULL)
				dest_run(d);
		}
	}
	tick_now(m);
}

/* ---- start / stop ---- */

static int read_password(struct mta *m, const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		*error_r = "cannot read relay.smarthost_password_file";
		return -1;
	}
	n = read(fd, m->smarthost_password, sizeof(m->smarthost_password) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	m->smarthost_password[n] = '\0';
	m->smarthost_password[strcspn(m->smarthost_password, "\r\n")] = '\0';
	return 1;
}

int mta_start(struct services *srv, struct mta **r, const char **error_r)
{
	struct mta *m = xcalloc(1, sizeof(*m));
	struct timeval second = { 1, 0 };

	m->srv = srv;
	if (dane_open(srv->base, &srv->cfg, &m->dane, error_r) < 0) {
		free(m);
		return -1;
	}
	if (dns_open(srv->base, srv->cfg.dns_servers, &m->dns, error_r) < 0 ||
	    (srv->cfg.smarthost_password_file[0] != '\0' &&
	     read_password(m, srv->cfg.smarthost_password_file, error_r) < 0)) {
		dns_free(&m->dns);
		dane_free(&m->dane);
		free(m);
		return -1;
	}
	if (handoff_new(on_local_done, m, &m->local_done) < 0) {
		*error_r = "cannot make the local transport's hand-off";
		log_err("queue: eventfd: %m");
		dns_free(&m->dns);
		dane_free(&m->dane);
		free(m);
		return -1;
	}
	m->local_event = handoff_watch(m->local_done, srv->base);
	m->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, m);
	evtimer_add(m->tick, &second);
	*r = m;
	return 1;
}

/* At stop (the delivery agent stopped first): the outcomes it gave back
   are recorded, and a finished message leaves the spool; the notices
   they call for are left to the next start, where a recipient kept as
   ENVELOPE_FAILED is bounced when its message is loaded again. */
static void local_results_at_stop(struct mta *m)
{
	struct handoff_link *left = handoff_take(m->local_done), *next;

	for (; left != NULL; left = next) {
		struct delivery_job *job = HANDOFF_ITEM(left, struct delivery_job, link);
		struct mta_txn *t = job->ctx;
		struct mta_msg *g = t->msg;
		struct envelope *e = g->env;
		bool any = false;

		next = left->next;
		for (unsigned i = 0; i < job->n_rcpts; i++) {
			if (job->rcpts[i].code == 0)
				continue;
			mta_rcpt_result(t, i, job->rcpts[i].code, NULL, job->rcpts[i].text, NULL);
			any = true;
		}
		for (unsigned i = 0; i < t->n; i++) {
			struct envelope_rcpt *r = &e->rcpts[t->rcpt[i]];
			if (r->state == ENVELOPE_BOUNCED && g->fresh[t->rcpt[i]])
				r->state = ENVELOPE_FAILED;
		}
		memset(g->fresh, 0, e->n_rcpts);
		if (any && all_final(e)) {
			if (!job->removed) {
				queue_done(m->srv->queue, e->id);
				log_info("%s: removed", e->id);
			}
		} else if (any && queue_update(m->srv->queue, e, true) < 0) {
			log_err("%s: cannot record the delivery state", e->id);
		}
		free(t);
		delivery_job_free(&job);
	}
}

void mta_stop(struct mta **mp)
{
	struct mta *m = *mp;

	if (m == NULL)
		return;
	local_results_at_stop(m);
	mta_session_close_all(m);
	event_free(m->tick);
	event_free(m->local_event);
	handoff_free(&m->local_done);
	mta_sts_stop(m);
	dane_free(&m->dane);
	dns_free(&m->dns);
	retired_dns_reap(m, true);
	while (m->msgs != NULL)
		msg_remove(m, m->msgs);
	while (m->dests != NULL) {
		struct mta_dest *next = m->dests->next;
		free(m->dests);
		m->dests = next;
	}
	explicit_bzero(m->smarthost_password, sizeof(m->smarthost_password));
	free(m);
	*mp = NULL;
}

/* ---- administration ---- */

/* "envelope ID ACTIVE LEN" then LEN bytes of the envelope as stored, per
   message (or only id's); the reader (`correio queue list|show`) makes it
   readable.  0 when id is given and not queued. */
int mta_dump(struct mta *m, const char *id, struct buf *out)
{
	struct buf env;
	int found = 0;

	buf_init(&env, 0);
	for (struct mta_msg *g = m->msgs; g != NULL; g = g->next) {
		if (id != NULL && strcmp(g->env->id, id) != 0)
			continue;
		if (out == NULL) {
			found = 1;
			break;
		}
		buf_reset(&env);
		if (envelope_format(g->env, &env) < 0 ||
		    buf_printf(out, "envelope %s %d %zu\n", g->env->id, g->txns > 0,
			       env.len) < 0 || buf_append(out, env.data, env.len) < 0) {
			buf_deinit(&env);
			buf_reset(out);
			buf_puts(out, "the queue is too big to list at once\n");
			return -1;
		}
		found = 1;
	}
	buf_deinit(&env);
	return id == NULL ? 1 : found;
}

int mta_flush(struct mta *m, const char *id, struct buf *out)
{
	struct mta_msg *one = id != NULL ? msg_find(m, id) : NULL;
	unsigned n = 0, held = 0;

	if (id != NULL && one == NULL) {
		buf_printf(out, "no message %s in the queue\n", id);
		return -1;
	}
	if (one != NULL && one->env->held) {
		buf_printf(out, "%s is held: flush does not send held mail; "
			   "`correio queue release %s` sends it\n", id, id);
		for (unsigned i = 0; i < one->env->n_rcpts; i++)
			one->env->rcpts[i].next_attempt = 0;
		return -1;
	}
	for (struct mta_msg *g = m->msgs; g != NULL; g = g->next) {
		if (id != NULL && g != one)
			continue;
		/* a held message is made due too: released, it goes at once */
		for (unsigned i = 0; i < g->env->n_rcpts; i++)
			g->env->rcpts[i].next_attempt = 0;
		if (g->env->held)
			held++;
		else
			n++;
	}
	for (struct mta_dest *d = m->dests; d != NULL; d = d->next)
		d->mx_time = 0;
	buf_printf(out, "%u message(s) scheduled now\n", n);
	if (held > 0)
		buf_printf(out, "%u held message(s) wait for `correio queue release ID`\n",
			   held);
	tick_now(m);
	return 1;
}

int mta_hold(struct mta *m, const char *id, bool hold, struct buf *out)
{
	struct mta_msg *g = msg_find(m, id);

	if (g == NULL) {
		buf_printf(out, "no message %s in the queue\n", id);
		return -1;
	}
	g->env->held = hold;
	if (queue_update(m->srv->queue, g->env, true) < 0) {
		buf_printf(out, "cannot record the change\n");
		return -1;
	}
	log_info("%s: %s", id, hold ? "held" : "released");
	buf_printf(out, "%s %s\n", id, hold ? "held" : "released");
	if (!hold)
		tick_now(m);
	return 1;
}

int mta_delete(struct mta *m, const char *id, struct buf *out)
{
	struct mta_msg *g = msg_find(m, id);

	if (g == NULL || g->txns > 0) {
		buf_printf(out, g == NULL ? "no message %s in the queue\n" :
			   "%s is being delivered right now; hold it first\n", id);
		return -1;
	}
	queue_done(m->srv->queue, id);
	log_info("%s: deleted by the administrator", id);
	msg_remove(m, g);
	buf_printf(out, "%s deleted\n", id);
	return 1;
}

int mta_stats(struct mta *m, struct buf *out)
{
	buf_printf(out, "local-jobs %llu\nlocal-recipients %llu\nrelay-transactions %llu\n",
		   (unsigned long long)m->local_jobs, (unsigned long long)m->local_rcpts,
		   (unsigned long long)m->relay_txns);
	return 1;
}

struct dns *mta_dns(struct mta *m)
{
	return m->dns;
}
