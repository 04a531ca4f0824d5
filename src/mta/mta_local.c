/*
 * mta_local.c - the local transport: the destination SCHEDULE_LOCAL, whose
 * "session" hands a transaction's recipients (accounts) to the delivery
 * agent's thread and takes back a result per recipient, which the
 * scheduler records like an SMTP reply: delivered, deferred (retried on
 * the queue's schedule) or refused (bounced).
 */
#include "mta_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/delivery.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib-smtp/smtp_parse.h"

/* Is t all its message waits for, with no success notice asked (which is
   queued before the spool files go)?  Then the agent may remove them. */
static bool is_last(const struct mta_txn *t)
{
	const struct envelope *e = t->msg->env;
	unsigned pending = 0;

	if (t->msg->txns != 1)
		return false;
	for (unsigned i = 0; i < e->n_rcpts; i++)
		pending += e->rcpts[i].state == ENVELOPE_PENDING;
	for (unsigned i = 0; i < t->n; i++)
		if (e->rcpts[t->rcpt[i]].notify & SMTP_NOTIFY_SUCCESS)
			return false;
	return pending == t->n;
}

void mta_local_run(struct mta_dest *d)
{
	struct mta *m = d->mta;
	struct mta_txn *t;

	while ((t = d->head) != NULL) {
		struct envelope *e = t->msg->env;
		struct delivery_job *job = xcalloc(1, sizeof(*job));

		d->head = t->next;
		if (d->head == NULL)
			d->tail = &d->head;
		t->next = NULL;
		job->rcpts = xcalloc(t->n, sizeof(*job->rcpts));
		str_copy(job->id, e->id, sizeof(job->id));
		job->arrival = e->arrival;
		job->size = e->size;
		job->host = e->host;		/* never changed while queued */
		job->sender = e->sender;
		job->recovered = t->msg->recovered;
		job->junk = e->junk;
		job->ctx = t;
		for (unsigned i = 0; i < t->n; i++) {
			const struct envelope_rcpt *r = &e->rcpts[t->rcpt[i]];
			job->rcpts[i].address = r->address;
			job->rcpts[i].orig = r->orig;
			/* an earlier attempt may have filed it before failing */
			if (r->attempts > 0)
				job->recovered = true;
		}
		job->n_rcpts = t->n;
		job->last = is_last(t);
		m->local_jobs++;
		m->local_rcpts += t->n;
		delivery_submit(m->srv->delivery, job);
	}
}

void mta_local_done(struct mta *m, struct delivery_job *job)
{
	handoff_post(m->local_done, &job->link);
}

/* The remote addresses Sieve scripts redirected the message to become
   recipients of it, scheduled like the others (an address it already has
   is not added again: each gets the message once).  Each is recorded as
   forwarded for the recipient whose script redirected it (orig), so the
   relay gives the copy an SRS sender. */
static void add_redirects(struct mta_txn *t, const struct delivery_job *job)
{
	struct mta_msg *g = t->msg;
	struct envelope *e = g->env;
	unsigned n = e->n_rcpts;
	size_t off = 0;

	while (off < job->redirects.len) {
		const char *address = job->redirects.data + off;
		const char *by = address + strlen(address) + 1;
		bool have = false;
		off += strlen(address) + 1 + strlen(by) + 1;
		for (unsigned i = 0; i < e->n_rcpts && !have; i++)
			have = strcasecmp(e->rcpts[i].address, address) == 0;
		if (have || envelope_add_rcpt(e, address, NULL, 0) < 0)
			continue;
		e->rcpts[e->n_rcpts - 1].kind = ENVELOPE_REMOTE;
		envelope_set(&e->rcpts[e->n_rcpts - 1].orig, by);
	}
	if (e->n_rcpts == n)
		return;
	g->fresh = xrealloc(g->fresh, e->n_rcpts + 1);
	g->go = xreallocarray(g->go, e->n_rcpts + 1, sizeof(*g->go));
	memset(g->fresh + n, 0, e->n_rcpts + 1 - n);
	memset(g->go + n, 0, (e->n_rcpts + 1 - n) * sizeof(*g->go));
}

void mta_local_finish(struct delivery_job *job)
{
	struct mta_txn *t = job->ctx;

	if (job->removed)
		t->msg->removed = true;
	add_redirects(t, job);
	for (unsigned i = 0; i < job->n_rcpts; i++)
		if (job->rcpts[i].code != 0)
			mta_rcpt_result(t, i, job->rcpts[i].code, NULL, job->rcpts[i].text, NULL);
	delivery_job_free(&job);
	mta_txn_done(t);
}
