/*
 * schedule.c - retry backoff, delay-notice and give-up times, and which
 * recipients of a message are due together.
 */
#include "schedule.h"

#include <string.h>

/* Most destinations one message has due at once that schedule_due
   tracks by name; past it, a recipient goes only when itself due. */
#define SCHEDULE_DUE_DESTS 64

uint64_t schedule_backoff(const struct config *cfg, unsigned attempts)
{
	uint64_t delay = cfg->retry_interval;

	for (unsigned i = 1; i < attempts && delay < cfg->max_retry_interval; i++)
		delay *= 2;
	return delay < cfg->max_retry_interval ? delay : cfg->max_retry_interval;
}

bool schedule_warn_due(const struct config *cfg, uint64_t arrival, uint64_t now)
{
	return now >= arrival + cfg->warn_after;
}

bool schedule_expired(const struct config *cfg, uint64_t arrival, uint64_t now)
{
	return now >= arrival + cfg->give_up;
}

const char *schedule_destination(const char *address, const char *smarthost)
{
	const char *at;

	if (smarthost != NULL && smarthost[0] != '\0')
		return smarthost;
	at = strrchr(address, '@');
	return at != NULL ? at + 1 : "";
}

const char *schedule_rcpt_destination(const struct envelope_rcpt *r, const char *smarthost)
{
	if (r->kind == ENVELOPE_LOCAL)
		return SCHEDULE_LOCAL;
	return schedule_destination(r->address, smarthost);
}

static bool rcpt_pending(const struct envelope_rcpt *r)
{
	return r->state == ENVELOPE_PENDING;
}

unsigned schedule_due(const struct envelope *e, const char *smarthost, uint64_t now,
		      bool *go)
{
	const char *due[SCHEDULE_DUE_DESTS];
	unsigned n_due = 0, n_go = 0;

	for (unsigned i = 0; i < e->n_rcpts; i++) {
		const struct envelope_rcpt *r = &e->rcpts[i];
		const char *name = schedule_rcpt_destination(r, smarthost);
		unsigned k = 0;
		go[i] = rcpt_pending(r) && r->next_attempt <= now;
		if (!go[i])
			continue;
		n_go++;
		while (k < n_due && strcmp(due[k], name) != 0)
			k++;
		if (k == n_due && n_due < SCHEDULE_DUE_DESTS)
			due[n_due++] = name;
	}
	for (unsigned i = 0; n_due > 0 && i < e->n_rcpts; i++) {
		const struct envelope_rcpt *r = &e->rcpts[i];
		const char *name;
		if (go[i] || !rcpt_pending(r))
			continue;
		name = schedule_rcpt_destination(r, smarthost);
		for (unsigned k = 0; k < n_due && !go[i]; k++)
			go[i] = strcmp(due[k], name) == 0;
		n_go += go[i];
	}
	return n_go;
}
