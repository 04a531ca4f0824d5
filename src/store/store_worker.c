/*
 * store_worker.c - the store's disk waits off the event loop.
 *
 * A small pool of threads takes jobs from a worker hand-off; a finished
 * job goes on a loop hand-off (lib/handoff.h, as for the queue's
 * committer and the password pool) whose descriptor the owner's loop
 * polls, calling store_workers_run(), which runs each job's done step.  A
 * job's work step touches only what it was given (descriptors, paths),
 * never the index or an account: those stay on the loop thread.
 *
 * Directory flushes are group-committed: store_flush_dirs() puts a
 * request on a pending list and, when it is the first there, queues a
 * flush job; the worker that runs it takes every request pending at that
 * moment and fsyncs each distinct directory once.  Requests arriving
 * meanwhile gather for the next flush, which another worker may run at
 * the same time: several flushes are in flight, and under load each one
 * serves many APPENDs and COPYs of any session.
 *
 * Without workers (the CLI, unit tests, or a failed start) every job
 * runs at once on the caller's thread.
 */
#include "store/store_private.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/handoff.h"
#include "lib/log.h"
#include "lib/util.h"

#define STORE_WORKERS_MAX 16

struct dir_req {
	char **paths;
	unsigned n;
	int result;
	void (*done)(void *arg, int result);
	void *arg;
	struct handoff_link link;	/* on the pending list, then in a flush */
};

/* A group flush: the requests it took. */
struct dir_flush {
	struct store_job job;	/* first */
	struct store *store;
	struct handoff_link *reqs;
};

struct store_pool {
	pthread_t threads[STORE_WORKERS_MAX];
	unsigned n_threads;
	struct handoff *todo;		/* jobs for the workers */
	struct handoff *done;		/* finished jobs, for the loop */
	struct handoff *dirs_pending;	/* flush requests not taken yet */
};

static struct store_job *job_of(struct handoff_link *l)
{
	return HANDOFF_ITEM(l, struct store_job, link);
}

static struct dir_req *req_of(struct handoff_link *l)
{
	return HANDOFF_ITEM(l, struct dir_req, link);
}

static void dir_req_free(struct dir_req *r)
{
	for (unsigned i = 0; i < r->n; i++)
		free(r->paths[i]);
	free(r->paths);
	free(r);
}

/* One job per turn; at stop, the jobs queued still run. */
static void *worker_main(void *arg)
{
	struct store_pool *p = arg;
	struct handoff_link *l;

	while ((l = handoff_wait(p->todo, false)) != NULL) {
		job_of(l)->work(job_of(l));
		handoff_post(p->done, l);
	}
	return NULL;
}

/* The done steps of a batch of finished jobs, oldest first. */
static void run_done(void *ctx, struct handoff_link *batch)
{
	struct handoff_link *next;

	for (; batch != NULL; batch = next) {
		next = batch->next;
		job_of(batch)->done(job_of(batch));
	}
}

static void pool_free(struct store_pool *p)
{
	handoff_free(&p->todo);
	handoff_free(&p->done);
	handoff_free(&p->dirs_pending);
	free(p);
}

int store_workers_start(struct store *s, unsigned n)
{
	struct store_pool *p;

	if (s->pool != NULL)
		return handoff_fd(s->pool->done);
	p = xcalloc(1, sizeof(*p));
	if (n > STORE_WORKERS_MAX)
		n = STORE_WORKERS_MAX;
	if (handoff_new(NULL, NULL, &p->todo) < 0 || handoff_new(run_done, s, &p->done) < 0 ||
	    handoff_new(NULL, NULL, &p->dirs_pending) < 0) {
		log_err("store: eventfd: %m");
		pool_free(p);
		return -1;
	}
	s->pool = p;
	for (; p->n_threads < n; p->n_threads++)
		if (pthread_create(&p->threads[p->n_threads], NULL, worker_main, p) != 0) {
			log_err("store: cannot start a worker thread");
			break;
		}
	if (p->n_threads == 0) {
		pool_free(p);
		s->pool = NULL;
		return -1;
	}
	return handoff_fd(p->done);
}

void store_workers_run(struct store *s)
{
	if (s->pool != NULL)
		handoff_run(s->pool->done);
}

void store_workers_stop(struct store *s)
{
	struct store_pool *p = s->pool;
	struct handoff_link *l, *next;

	if (p == NULL)
		return;
	handoff_stop(p->todo, true);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	/* the threads ran every job queued; finish them, and whatever their
	   done steps start, here (without the pool: at once) */
	s->pool = NULL;
	while (handoff_run(p->done)) {
		/* again: a done step may have finished more */
	}
	for (l = handoff_take(p->dirs_pending); l != NULL; l = next) {
		struct dir_req *r = req_of(l);
		next = l->next;
		store_flush_dirs(s, (const char *const *)r->paths, r->n, r->done, r->arg);
		dir_req_free(r);
	}
	pool_free(p);
}

void store_job_submit(struct store *s, struct store_job *j)
{
	struct store_pool *p = s->pool;

	if (p == NULL) {
		j->work(j);
		j->done(j);
		return;
	}
	handoff_post(p->todo, &j->link);
}

/* ---- work of the servers over the store ---- */

struct offload {
	struct store_job job;	/* first */
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

static void offload_work(struct store_job *j)
{
	struct offload *o = (struct offload *)j;

	o->work(o->arg);
}

static void offload_done(struct store_job *j)
{
	struct offload *o = (struct offload *)j;
	void (*done)(void *arg) = o->done;
	void *arg = o->arg;

	free(o);
	done(arg);
}

void store_offload(struct store *s, void (*work)(void *arg), void (*done)(void *arg),
		   void *arg)
{
	struct offload *o = xcalloc(1, sizeof(*o));

	o->job.work = offload_work;
	o->job.done = offload_done;
	o->work = work;
	o->done = done;
	o->arg = arg;
	store_job_submit(s, &o->job);
}

/* ---- group-committed directory flushes ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fsync each distinct directory of reqs once; each request gets the
   result of its own directories. */
static void flush_reqs(struct store *s, struct handoff_link *reqs)
{
	struct {
		const char *path;
		int result;
	} *u;
	const char **all;
	unsigned n = 0, k = 0;

	for (struct handoff_link *l = reqs; l != NULL; l = l->next)
		n += req_of(l)->n;
	if (n == 0)
		return;
	all = xcalloc(n, sizeof(*all));
	u = xcalloc(n, sizeof(*u));
	for (struct handoff_link *l = reqs; l != NULL; l = l->next)
		for (unsigned i = 0; i < req_of(l)->n; i++)
			all[k++] = req_of(l)->paths[i];
	qsort(all, n, sizeof(*all), cmp_str);
	k = 0;
	store_disk_delay(s);
	for (unsigned i = 0; i < n; i++)
		if (k == 0 || strcmp(u[k - 1].path, all[i]) != 0) {
			u[k].path = all[i];
			if ((u[k].result = fsync_dir(all[i])) < 0)
				log_err("store: fsync %s: %m", all[i]);
			k++;
		}
	for (struct handoff_link *l = reqs; l != NULL; l = l->next) {
		struct dir_req *r = req_of(l);
		r->result = 1;
		for (unsigned i = 0; i < r->n; i++)
			for (unsigned j = 0; j < k; j++)
				if (strcmp(u[j].path, r->paths[i]) == 0 && u[j].result < 0)
					r->result = -1;
	}
	free(all);
	free(u);
}

static void dir_flush_work(struct store_job *j)
{
	struct dir_flush *f = (struct dir_flush *)j;

	/* from here a new request queues the next flush */
	f->reqs = handoff_take(f->store->pool->dirs_pending);
	flush_reqs(f->store, f->reqs);
}

static void dir_flush_done(struct store_job *j)
{
	struct dir_flush *f = (struct dir_flush *)j;
	struct handoff_link *l, *next;

	f->store->dir_flushes++;
	for (l = f->reqs; l != NULL; l = next) {
		struct dir_req *r = req_of(l);
		next = l->next;
		f->store->dir_requests++;
		r->done(r->arg, r->result);
		dir_req_free(r);
	}
	free(f);
}

void store_flush_dirs(struct store *s, const char *const *paths, unsigned n,
		      void (*done)(void *arg, int result), void *arg)
{
	struct dir_req *r = xcalloc(1, sizeof(*r));
	struct store_pool *p = s->pool;
	struct dir_flush *f;

	r->paths = xcalloc(n + 1, sizeof(*r->paths));
	for (unsigned i = 0; i < n; i++)
		r->paths[i] = xstrdup(paths[i]);
	r->n = n;
	r->done = done;
	r->arg = arg;
	if (p == NULL) {
		s->dir_flushes++;
		s->dir_requests++;
		flush_reqs(s, &r->link);
		r->done(r->arg, r->result);
		dir_req_free(r);
		return;
	}
	/* the first request since the last flush took them queues the next */
	if (handoff_post(p->dirs_pending, &r->link)) {
		f = xcalloc(1, sizeof(*f));
		f->store = s;
		f->job.work = dir_flush_work;
		f->job.done = dir_flush_done;
		store_job_submit(s, &f->job);
	}
}
