/*
 * auth.c - the password-checking pool and the failure throttle.
 *
 * Requests go to the pool through a locked list; answers come back through
 * an eventfd to the loop, where the throttle is updated and, after the
 * delay the throttle asks for, the caller's callback runs.  The throttle
 * table (loop thread only) keeps a failure count and the time of the last
 * failure per client address and per account; entries older than the
 * lockout are forgotten.
 */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/accounts.h"
#include "lib/log.h"
#include "lib/util.h"

#define THROTTLE_BUCKETS 1024
#define DELAY_CAP_SECONDS 30

struct auth_request {
	struct auth *auth;
	char addr[64];
	char user[320];
	char password[1100];
	int result;
	bool cancelled;
	auth_fn *cb;
	void *ctx;
	struct event *delay;
	struct auth_request *next;
};

struct throttle {
	char key[330];		/* "ip:<addr>" or "user:<address>" */
	unsigned failures;
	time_t last;
	struct throttle *next;
};

struct auth {
	struct config cfg;
	struct event_base *base;
	pthread_t *threads;
	unsigned n_threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct auth_request *todo, **todo_tail, *done;
	bool stop;
	int event_fd;
	struct event *event;
	struct throttle *table[THROTTLE_BUCKETS];
	char error[256];
};

/* ---- throttle (loop thread) ---- */

static struct throttle **throttle_slot(struct auth *a, const char *key)
{
	unsigned h = 5381;
	struct throttle **p;

	for (const char *c = key; *c != '\0'; c++)
		h = h * 33 + (unsigned char)*c;
	for (p = &a->table[h % THROTTLE_BUCKETS]; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->key, key) == 0)
			break;
	return p;
}

/* Failures recorded for key, forgetting stale entries. */
static unsigned throttle_get(struct auth *a, const char *key)
{
	struct throttle **p = throttle_slot(a, key), *t = *p;

	if (t == NULL)
		return 0;
	if (time(NULL) - t->last > (time_t)a->cfg.auth_lockout) {
		*p = t->next;
		free(t);
		return 0;
	}
	return t->failures;
}

static void throttle_fail(struct auth *a, const char *key)
{
	struct throttle **p = throttle_slot(a, key), *t = *p;

	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			abort();
		str_copy(t->key, key, sizeof(t->key));
		*p = t;
	}
	t->failures++;
	t->last = time(NULL);
}

static void throttle_clear(struct auth *a, const char *key)
{
	struct throttle **p = throttle_slot(a, key), *t = *p;

	if (t != NULL) {
		*p = t->next;
		free(t);
	}
}

static void keys(const struct auth_request *r, char *ip, char *user, size_t size)
{
	snprintf(ip, size, "ip:%s", r->addr);
	snprintf(user, size, "user:%s", r->user);
}

/* ---- pool ---- */

static void *worker_main(void *arg)
{
	struct auth *a = arg;
	struct accounts *accts = NULL;
	const char *error;
	uint64_t one = 1;

	if (accounts_open(a->cfg.data_dir, &accts, &error) < 0)
		log_err("auth: %s", error);
	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct auth_request *r;
		while (a->todo == NULL && !a->stop)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->todo == NULL)
			break;
		r = a->todo;
		a->todo = r->next;
		if (a->todo == NULL)
			a->todo_tail = &a->todo;
		pthread_mutex_unlock(&a->lock);
		r->result = accts == NULL ? AUTH_TEMPFAIL :
			    accounts_password_verify(accts, r->user, r->password);
		explicit_bzero(r->password, sizeof(r->password));
		pthread_mutex_lock(&a->lock);
		r->next = a->done;
		a->done = r;
		if (write(a->event_fd, &one, sizeof(one)) < 0)
			log_err("auth: eventfd: %m");
	}
	pthread_mutex_unlock(&a->lock);
	accounts_free(&accts);
	return NULL;
}

static void request_free(struct auth_request *r)
{
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
	char ip[400], user[400];
	unsigned n;
	struct timeval tv = { 0, 0 };

	keys(r, ip, user, sizeof(ip));
	if (r->result == AUTH_OK) {
		throttle_clear(a, ip);
		throttle_clear(a, user);
		log_info("auth: %s: login ok from [%s]", r->user, r->addr);
	} else if (r->result == AUTH_FAILED) {
		throttle_fail(a, ip);
		throttle_fail(a, user);
		n = throttle_get(a, ip);
		if (throttle_get(a, user) > n)
			n = throttle_get(a, user);
		tv.tv_sec = (time_t)(a->cfg.auth_failure_delay * n);
		if (tv.tv_sec > DELAY_CAP_SECONDS)
			tv.tv_sec = DELAY_CAP_SECONDS;
		log_warn("auth: %s: login failed from [%s] (%u failures)", r->user, r->addr, n);
	}
	r->delay = evtimer_new(a->base, request_answer, r);
	evtimer_add(r->delay, &tv);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct auth *a = arg;
	struct auth_request *r, *next;
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_err("auth: eventfd read: %m");
	pthread_mutex_lock(&a->lock);
	r = a->done;
	a->done = NULL;
	pthread_mutex_unlock(&a->lock);
	for (; r != NULL; r = next) {
		next = r->next;
		request_finish(a, r);
	}
}

/* ---- interface ---- */

int auth_start(const struct config *cfg, struct event_base *base, struct auth **r,
	       const char **error_r)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (a == NULL)
		abort();
	a->cfg = *cfg;
	a->base = base;
	a->todo_tail = &a->todo;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a->event = event_new(base, a->event_fd, EV_READ | EV_PERSIST, on_done, a);
	event_add(a->event, NULL);
	a->n_threads = cfg->auth_threads;
	a->threads = calloc(a->n_threads, sizeof(*a->threads));
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
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	for (unsigned i = 0; i < a->n_threads; i++)
		pthread_join(a->threads[i], NULL);
	while (a->todo != NULL) {
		struct auth_request *r = a->todo;
		a->todo = r->next;
		request_free(r);
	}
	while (a->done != NULL) {
		struct auth_request *r = a->done;
		a->done = r->next;
		request_free(r);
	}
	for (int i = 0; i < THROTTLE_BUCKETS; i++)
		while (a->table[i] != NULL) {
			struct throttle *next = a->table[i]->next;
			free(a->table[i]);
			a->table[i] = next;
		}
	event_free(a->event);
	close(a->event_fd);
	free(a->threads);
	free(a);
	*ap = NULL;
}

void auth_set_config(struct auth *a, const struct config *cfg)
{
	a->cfg.auth_failure_delay = cfg->auth_failure_delay;
	a->cfg.auth_max_failures = cfg->auth_max_failures;
	a->cfg.auth_lockout = cfg->auth_lockout;
}

struct auth_request *auth_verify(struct auth *a, const char *addr, const char *user,
				 const char *password, auth_fn *cb, void *ctx)
{
	struct auth_request *r = calloc(1, sizeof(*r));
	char ip[400], ukey[400];

	if (r == NULL)
		abort();
	r->auth = a;
	r->cb = cb;
	r->ctx = ctx;
	str_copy(r->addr, addr, sizeof(r->addr));
	if (strchr(user, '@') != NULL) {
		str_copy(r->user, user, sizeof(r->user));
	} else {
		/* a bare name means the account in the primary local domain */
		const char *d = a->cfg.local_domains + strspn(a->cfg.local_domains, ", \t");
		snprintf(r->user, sizeof(r->user), "%s@%.*s", user,
			 (int)strcspn(d, ", \t"), d);
	}
	str_lower(r->user);
	keys(r, ip, ukey, sizeof(ip));
	if (throttle_get(a, ip) >= a->cfg.auth_max_failures ||
	    throttle_get(a, ukey) >= a->cfg.auth_max_failures) {
		log_warn("auth: %s: refused from [%s]: too many failures", r->user, addr);
		r->result = AUTH_THROTTLED;
		struct timeval now = { 0, 0 };
		r->delay = evtimer_new(a->base, request_answer, r);
		evtimer_add(r->delay, &now);
		return r;
	}
	str_copy(r->password, password, sizeof(r->password));
	pthread_mutex_lock(&a->lock);
	*a->todo_tail = r;
	a->todo_tail = &r->next;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return r;
}

void auth_cancel(struct auth_request *r)
{
	if (r != NULL)
		r->cancelled = true;
}
