/*
 * auth.c - the password-checking pool and the failed-login throttle.
 *
 * An attempt first waits what its client address's failures earned
 * (throttle.c), then is refused at once if its account is locked out from
 * that address, else goes to the pool; answers come back to the loop (both
 * hand-offs are lib/handoff.h's), where the throttle is updated and, after
 * the delay a failure costs, the caller's callback runs.
 */
#include "auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "auth/accounts.h"
#include "auth/throttle.h"
#include "lib/handoff.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/util.h"

/* entries of the throttle table: addresses and account+address pairs */
#define THROTTLE_ENTRIES 16384
/* the longest a failure delays an address's next attempt, unless
   failure_delay itself is longer */
#define DELAY_CAP_MS 15000

struct auth_request {
	struct auth *auth;
	char addr[64];
	char user[320];
	char password[1100];
	int result;
	bool cancelled;
	bool answering;		/* the timer answers (else it ends the hold) */
	auth_fn *cb;
	void *ctx;
	struct event *delay;
	struct handoff_link link;		/* on todo, then on done */
	struct auth_request *live_prev, *live_next;	/* every request (loop) */
};

struct auth {
	struct config cfg;
	struct event_base *base;
	pthread_t *threads;
	unsigned n_threads;
	struct handoff *todo;		/* to the pool */
	struct handoff *done;		/* back to the loop */
	struct event *event;		/* watches done */
	struct throttle *throttle;
	struct auth_request *live;	/* not answered yet, loop thread only */
	char error[256];
};

/* ---- throttle (loop thread) ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void throttle_limits_of(const struct config *cfg, struct throttle_limits *l)
{
	l->delay_ms = cfg->auth_failure_delay * 1000;
	l->max_delay_ms = DELAY_CAP_MS;
	l->max_failures = (unsigned)cfg->auth_max_failures;
	l->lockout_ms = cfg->auth_lockout * 1000;
}

static void timeval_ms(struct timeval *tv, uint64_t ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* ---- pool ---- */

static struct auth_request *request_of(struct handoff_link *l)
{
	return HANDOFF_ITEM(l, struct auth_request, link);
}

/* One request at a time; at stop, those queued are still checked. */
static void *worker_main(void *arg)
{
	struct auth *a = arg;
	struct accounts *accts = NULL;
	struct handoff_link *l;
	const char *error;

	if (accounts_open(a->cfg.data_dir, &accts, &error) < 0)
		log_err("auth: %s", error);
	while ((l = handoff_wait(a->todo, false)) != NULL) {
		struct auth_request *r = request_of(l);
		r->result = accts == NULL ? AUTH_TEMPFAIL :
			    accounts_password_verify(accts, r->user, r->password);
		explicit_bzero(r->password, sizeof(r->password));
		handoff_post(a->done, &r->link);
	}
	accounts_free(&accts);
	return NULL;
}

static void request_free(struct auth_request *r)
{
	if (r->live_prev != NULL)
		r->live_prev->live_next = r->live_next;
	else
		r->auth->live = r->live_next;
	if (r->live_next != NULL)
		r->live_next->live_prev = r->live_prev;
	if (r->delay != NULL)
		event_free(r->delay);
	explicit_bzero(r, sizeof(*r));
	free(r);
}

static void request_answer(evutil_socket_t fd, short what, void *arg)
{
	struct auth_request *r = arg;

	if (!r->cancelled)
		r->cb(r->ctx, (enum auth_result)r->result, r->user);
	request_free(r);
}

/* Update the throttle with a result, then answer now or after a delay. */
static void request_finish(struct auth *a, struct auth_request *r)
{
	struct timeval tv = { 0, 0 };
	unsigned pair;
	uint64_t delay;

	if (r->result == AUTH_OK) {
		throttle_success(a->throttle, r->addr, r->user);
		log_info("auth: %s: login ok from [%s]", r->user, r->addr);
	} else if (r->result == AUTH_FAILED) {
		metrics_auth_failure(false);
		delay = throttle_failure(a->throttle, r->addr, r->user, now_ms(), &pair);
		timeval_ms(&tv, delay);
		log_warn("auth: %s: login failed from [%s] (%u of %llu for this account "
			 "from there; answered after %llu ms)", r->user, r->addr, pair,
			 (unsigned long long)a->cfg.auth_max_failures, (unsigned long long)delay);
	}
	r->answering = true;
	evtimer_add(r->delay, &tv);
}

/* On the loop: the answers of the pool, in the order they came. */
static void on_done(void *ctx, struct handoff_link *batch)
{
	struct auth *a = ctx;
	struct handoff_link *next;

	for (; batch != NULL; batch = next) {
		next = batch->next;
		request_finish(a, request_of(batch));
	}
}

/* ---- interface ---- */

int auth_start(const struct config *cfg, struct event_base *base, struct auth **r,
	       const char **error_r)
{
	struct auth *a = xcalloc(1, sizeof(*a));
	struct throttle_limits limits;

	a->cfg = *cfg;
	a->base = base;
	throttle_limits_of(cfg, &limits);
	a->throttle = throttle_new(THROTTLE_ENTRIES, &limits);
	if (handoff_new(NULL, NULL, &a->todo) < 0 || handoff_new(on_done, a, &a->done) < 0) {
		*error_r = "cannot make the password-checking pool's hand-off";
		log_err("auth: eventfd: %m");
		handoff_free(&a->todo);
		throttle_free(&a->throttle);
		free(a);
		return -1;
	}
	a->event = handoff_watch(a->done, base);
	a->n_threads = cfg->auth_threads;
	a->threads = xcalloc(a->n_threads, sizeof(*a->threads));
	for (unsigned i = 0; i < a->n_threads; i++)
		if (pthread_create(&a->threads[i], NULL, worker_main, a) != 0) {
			*error_r = "cannot start the password-checking threads";
			return -1;
		}
	*r = a;
	return 1;
}

void auth_stop(struct auth **ap)
{
	struct auth *a = *ap;

	if (a == NULL)
		return;
	handoff_stop(a->todo, true);
	for (unsigned i = 0; i < a->n_threads; i++)
		pthread_join(a->threads[i], NULL);
	/* queued, checked, held or waiting to answer: all on the live list */
	while (a->live != NULL)
		request_free(a->live);
	throttle_free(&a->throttle);
	event_free(a->event);
	handoff_free(&a->done);		/* what is left was on the live list */
	handoff_free(&a->todo);
	free(a->threads);
	free(a);
	*ap = NULL;
}

void auth_set_config(struct auth *a, const struct config *cfg)
{
	struct throttle_limits limits;
	unsigned threads = a->cfg.auth_threads;
	char data_dir[sizeof(a->cfg.data_dir)];

	/* the threads and their account stores stay as they were started */
	str_copy(data_dir, a->cfg.data_dir, sizeof(data_dir));
	a->cfg = *cfg;
	a->cfg.auth_threads = threads;
	str_copy(a->cfg.data_dir, data_dir, sizeof(a->cfg.data_dir));
	throttle_limits_of(cfg, &limits);
	throttle_set_limits(a->throttle, &limits);
}

/* The account a login name means: a bare name is the account in the
   primary local domain; lower case. */
static void canonical_user(const struct auth *a, const char *user, char *out, size_t size)
{
	if (strchr(user, '@') != NULL) {
		str_copy(out, user, size);
	} else {
		const char *d = a->cfg.local_domains + strspn(a->cfg.local_domains, ", \t");
		snprintf(out, size, "%s@%.*s", user, (int)strcspn(d, ", \t"), d);
	}
	str_lower(out);
}

/* Queue r for the pool, or refuse it at once when its account is locked
   out from its address. */
static void request_start(struct auth *a, struct auth_request *r)
{
	struct timeval now = { 0, 0 };

	if (throttle_locked(a->throttle, r->addr, r->user, now_ms())) {
		log_warn("auth: %s: refused from [%s]: too many failures for this account "
			 "from there", r->user, r->addr);
		explicit_bzero(r->password, sizeof(r->password));
		metrics_auth_failure(true);
		r->result = AUTH_THROTTLED;
		r->answering = true;
		evtimer_add(r->delay, &now);
		return;
	}
	handoff_post(a->todo, &r->link);
}

/* The request's timer: the end of the hold, or the time to answer. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct auth_request *r = arg;

	if (r->answering || r->cancelled)
		request_answer(fd, what, r);
	else
		request_start(r->auth, r);
}

struct auth_request *auth_verify(struct auth *a, const char *addr, const char *user,
				 const char *password, auth_fn *cb, void *ctx)
{
	struct auth_request *r = xcalloc(1, sizeof(*r));
	uint64_t wait;
	struct timeval tv;

	r->auth = a;
	r->cb = cb;
	r->ctx = ctx;
	r->live_next = a->live;
	if (a->live != NULL)
		a->live->live_prev = r;
	a->live = r;
	str_copy(r->addr, addr, sizeof(r->addr));
	canonical_user(a, user, r->user, sizeof(r->user));
	str_copy(r->password, password, sizeof(r->password));
	r->delay = evtimer_new(a->base, on_timer, r);
	wait = throttle_wait(a->throttle, r->addr, now_ms());
	if (wait > 0) {
		/* earlier failures from this address: its attempts wait */
		timeval_ms(&tv, wait);
		evtimer_add(r->delay, &tv);
		return r;
	}
	request_start(a, r);
	return r;
}

void auth_cancel(struct auth_request *r)
{
	if (r != NULL)
		r->cancelled = true;
}

unsigned auth_unlock(struct auth *a, const char *user)
{
	char account[320];
	unsigned n;

	canonical_user(a, user, account, sizeof(account));
	n = throttle_unlock(a->throttle, account);
	log_info("auth: %s: unlocked by the administrator (%u address(es) cleared)",
		 account, n);
	return n;
}
