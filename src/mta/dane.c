/*
 * dane.c - DNSSEC-validated MX and TLSA lookups for DANE (RFC 7672 §2.2)
 * with libunbound, on the event loop: libunbound's worker thread resolves
 * and validates, its answers are taken when ub_fd() is readable.
 *
 * A lookup asks the MX records of the domain: not signed (insecure): no
 * DANE; bogus or failed: the domain waits (DANE_FAILED).  Signed: the TLSA
 * records at _25._tcp.HOST of each mail exchanger the c-ares lookup found:
 * validated records make the host a DANE host, a validated denial (or an
 * unsigned answer) leaves it without DANE, a bogus or failed answer rules
 * the host out for this attempt.
 * XXX: the address records of the hosts are taken from c-ares, not
 * validated (§2.2.2 asks for them to be secure too).
 */
#include "mta/dane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"

#define RR_MX 15
#define RR_TLSA 52

struct dane {
	struct event_base *base;
	struct ub_ctx *ub;
	struct event *event;
	struct dane_lookup *lookups;
};

struct dane_lookup {
	struct dane *dane;
	dane_fn *cb;
	void *ctx;
	bool cancelled;
	unsigned pending;		/* queries without an answer */
	unsigned n_hosts;
	char names[DNS_MAX_HOSTS][256];
	struct dane_result result;
	struct dane_lookup *prev, *next;
};

/* One query of a lookup: which host (or the MX records: -1). */
struct dane_query {
	struct dane_lookup *lookup;
	int host;
};

static void on_ub(evutil_socket_t fd, short what, void *arg)
{
	struct dane *d = arg;

	if (ub_process(d->ub) != 0)
		log_err("dane: libunbound cannot process its answers");
}

int dane_open(struct event_base *base, const struct config *cfg, struct dane **r,
	      const char **error_r)
{
	static char error[2048];
	struct dane *d;
	char fwd[600];
	const char *colon;
	int ret;

	*r = NULL;
	if (cfg->dnssec_resolver[0] == '\0')
		return 1;
	d = xcalloc(1, sizeof(*d));
	if ((d->ub = ub_ctx_create()) == NULL)
		fatal("dane: cannot create the DNSSEC resolver's context");
	colon = strrchr(cfg->dnssec_resolver, ':');
	if (colon != NULL)
		snprintf(fwd, sizeof(fwd), "%.*s@%s", (int)(colon - cfg->dnssec_resolver),
			 cfg->dnssec_resolver, colon + 1);
	else
		snprintf(fwd, sizeof(fwd), "%s", cfg->dnssec_resolver);
	ub_ctx_set_option(d->ub, "do-not-query-localhost:", "no");
	if ((ret = ub_ctx_set_fwd(d->ub, fwd)) != 0 ||
	    (ret = ub_ctx_add_ta_file(d->ub, cfg->trust_anchor_file)) != 0 ||
	    (ret = ub_ctx_async(d->ub, 1)) != 0) {
		snprintf(error, sizeof(error), "DANE: [dns] dnssec_resolver %s, trust_anchor_file "
			 "%s: %s", cfg->dnssec_resolver, cfg->trust_anchor_file,
			 ub_strerror(ret));
		*error_r = error;
		ub_ctx_delete(d->ub);
		free(d);
		return -1;
	}
	d->base = base;
	d->event = event_new(base, ub_fd(d->ub), EV_READ | EV_PERSIST, on_ub, d);
	event_add(d->event, NULL);
	*r = d;
	return 1;
}

static void lookup_unlink(struct dane_lookup *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else if (l->dane != NULL)
		l->dane->lookups = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

void dane_free(struct dane **dp)
{
	struct dane *d = *dp;

	if (d == NULL)
		return;
	event_free(d->event);
	ub_ctx_delete(d->ub);		/* no callback runs after this */
	while (d->lookups != NULL) {
		struct dane_lookup *l = d->lookups;
		lookup_unlink(l);
		free(l);
	}
	free(d);
	*dp = NULL;
}

/* ---- answers ---- */

static void lookup_done(struct dane_lookup *l)
{
	lookup_unlink(l);
	if (!l->cancelled)
		l->cb(l->ctx, &l->result);
	free(l);
}

static void take_tlsa(struct dane_host *h, const struct ub_result *r)
{
	h->n = 0;
	for (int i = 0; r->data[i] != NULL && h->n < DANE_MAX_TLSA; i++) {
		struct dane_tlsa *t = &h->tlsa[h->n];
		const unsigned char *p = (const unsigned char *)r->data[i];
		int len = r->len[i];
		if (len < 4 || len - 3 > (int)sizeof(t->data))
			continue;
		t->usage = p[0];
		t->selector = p[1];
		t->mtype = p[2];
		t->len = (uint16_t)(len - 3);
		memcpy(t->data, p + 3, t->len);
		h->n++;
	}
	h->state = h->n > 0 ? DANE_HOST_TLSA : DANE_HOST_NONE;
}

static void on_tlsa(void *arg, int err, struct ub_result *r)
{
	struct dane_query *q = arg;
	struct dane_lookup *l = q->lookup;
	int host = q->host;
	struct dane_host *h = &l->result.hosts[host];

	free(q);
	if (err != 0 || r->bogus || r->rcode == 2 /* SERVFAIL */) {
		h->state = DANE_HOST_FAILED;
		log_info("dane: TLSA of %s: %s", l->names[host], err != 0 ? ub_strerror(err) :
			 r->bogus ? (r->why_bogus != NULL ? r->why_bogus : "bogus") : "SERVFAIL");
	} else if (r->secure && r->havedata) {
		take_tlsa(h, r);
	} else {
		h->state = DANE_HOST_NONE;
	}
	if (r != NULL)
		ub_resolve_free(r);
	if (--l->pending == 0)
		lookup_done(l);
}

static void ask(struct dane_lookup *l, const char *name, int type, int host,
		ub_callback_type cb)
{
	struct dane_query *q = xcalloc(1, sizeof(*q));
	int id;

	q->lookup = l;
	q->host = host;
	l->pending++;
	if (ub_resolve_async(l->dane->ub, name, type, 1, q, cb, &id) != 0) {
		l->pending--;
		free(q);
		if (host >= 0)
			l->result.hosts[host].state = DANE_HOST_FAILED;
	}
}

static void on_mx(void *arg, int err, struct ub_result *r)
{
	struct dane_query *q = arg;
	struct dane_lookup *l = q->lookup;
	char name[300];

	free(q);
	l->pending--;
	if (err != 0 || r->bogus || r->rcode == 2) {
		l->result.status = DANE_FAILED;
		snprintf(l->result.error, sizeof(l->result.error), "DNSSEC lookup of the MX records "
			 "failed: %s", err != 0 ? ub_strerror(err) : r->bogus ?
			 (r->why_bogus != NULL ? r->why_bogus : "bogus") : "SERVFAIL");
	} else if (r->secure) {
		l->result.status = DANE_SECURE;
		for (unsigned i = 0; i < l->n_hosts; i++) {
			snprintf(name, sizeof(name), "_25._tcp.%s", l->names[i]);
			ask(l, name, RR_TLSA, (int)i, on_tlsa);
		}
	}
	if (r != NULL)
		ub_resolve_free(r);
	if (l->pending == 0)
		lookup_done(l);
}

static void on_not_started(evutil_socket_t fd, short what, void *arg)
{
	lookup_done(arg);
}

struct dane_lookup *dane_lookup(struct dane *d, const char *domain, const struct dns_mx *mx,
				dane_fn *cb, void *ctx)
{
	struct dane_lookup *l = xcalloc(1, sizeof(*l));

	l->dane = d;
	l->cb = cb;
	l->ctx = ctx;
	l->result.status = DANE_INSECURE;
	l->n_hosts = mx->n_hosts;
	for (unsigned i = 0; i < mx->n_hosts; i++)
		str_copy(l->names[i], mx->hosts[i].name, sizeof(l->names[i]));
	l->next = d->lookups;
	if (l->next != NULL)
		l->next->prev = l;
	d->lookups = l;
	ask(l, domain, RR_MX, -1, on_mx);
	if (l->pending == 0) {
		struct timeval now = { 0, 0 };
		l->result.status = DANE_FAILED;
		str_copy(l->result.error, "DNSSEC lookup could not be started",
			 sizeof(l->result.error));
		event_base_once(d->base, -1, EV_TIMEOUT, on_not_started, l, &now);
	}
	return l;
}

void dane_cancel(struct dane_lookup *l)
{
	l->cancelled = true;	/* freed when its answers are in */
}
