/*
 * store_worker.c - the store's disk waits off the event loop.
 *
 * A small pool of threads takes jobs from a locked list; a finished job
 * goes on the done list and the eventfd is written; the loop, polling it,
 * calls store_workers_run(), which runs each job's done step (the same
 * hand-off the queue's committer and the password pool use).  A job's
 * work step touches only what it was given (descriptors, paths), never
 * the index or an account: those stay on the loop thread.
 *
 * Directory flushes are group-committed: store_flush_dirs() puts a
 * request on a pending list and, unless one is queued already, queues a
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

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define STORE_WORKERS_MAX 16

struct dir_req {
	char **paths;
	unsigned n;
	int result;
	void (*done)(void *arg, int result);
	void *arg;
	struct dir_req *next;
};

/* A group flush: the requests it took. */
struct dir_flush {
	struct store_job job;	/* first */
	struct store *store;
	struct dir_req *reqs;
};

struct store_pool {
	pthread_t threads[STORE_WORKERS_MAX];
	unsigned n_threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_job *todo, **todo_tail;
	struct store_job *done, **done_tail;
	struct dir_req *dirs_pending;
	bool dirs_queued;	/* a flush job waits in todo */
	bool stop;
	int event_fd;
};

static void *worker_main(void *arg)
{
	struct store *s = arg;
	struct store_pool *p = s->pool;
	uint64_t one = 1;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct store_job *j;

		while (p->todo == NULL && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if ((j = p->todo) == NULL)
			break;
		if ((p->todo = j->next) == NULL)
			p->todo_tail = &p->todo;
		pthread_mutex_unlock(&p->lock);
		j->work(j);
		pthread_mutex_lock(&p->lock);
		j->next = NULL;
		*p->done_tail = j;
		p->done_tail = &j->next;
		if (write(p->event_fd, &one, sizeof(one)) < 0)
			log_err("store: eventfd: %m");
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int store_workers_start(struct store *s, unsigned n)
{
	struct store_pool *p;

	if (s->pool != NULL)
		return s->pool->event_fd;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("out of memory");
	if (n > STORE_WORKERS_MAX)
		n = STORE_WORKERS_MAX;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->todo_tail = &p->todo;
	p->done_tail = &p->done;
	if ((p->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		log_err("store: eventfd: %m");
		free(p);
		return -1;
	}
	s->pool = p;
	for (; p->n_threads < n; p->n_threads++)
		if (pthread_create(&p->threads[p->n_threads], NULL, worker_main, s) != 0) {
			log_err("store: cannot start a worker thread");
			break;
		}
	if (p->n_threads == 0) {
		close(p->event_fd);
		free(p);
		s->pool = NULL;
		return -1;
	}
	return p->event_fd;
}

/* Take the done list. */
static struct store_job *take_done(struct store_pool *p)
{
	struct store_job *j;

	pthread_mutex_lock(&p->lock);
	j = p->done;
	p->done = NULL;
	p->done_tail = &p->done;
	pthread_mutex_unlock(&p->lock);
	return j;
}

void store_workers_run(struct store *s)
{
	struct store_job *j, *next;
	uint64_t count;

	if (s->pool == NULL)
		return;
	if (read(s->pool->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_err("store: eventfd read: %m");
	for (j = take_done(s->pool); j != NULL; j = next) {
		next = j->next;
		j->done(j);
	}
}

void store_workers_stop(struct store *s)
{
	struct store_pool *p = s->pool;
	struct store_job *j;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	/* the threads ran every job queued; finish them, and whatever their
	   done steps start, here */
	s->pool = NULL;
	for (j = take_done(p); j != NULL; j = take_done(p))
		while (j != NULL) {
			struct store_job *next = j->next;
			j->done(j);
			j = next;
		}
	while (p->dirs_pending != NULL) {
		struct dir_req *r = p->dirs_pending;
		p->dirs_pending = r->next;
		r->next = NULL;
		store_flush_dirs(s, (const char *const *)r->paths, r->n, r->done, r->arg);
		for (unsigned i = 0; i < r->n; i++)
			free(r->paths[i]);
		free(r->paths);
		free(r);
	}
	close(p->event_fd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

void store_job_submit(struct store *s, struct store_job *j)
{
	struct store_pool *p = s->pool;

	if (p == NULL) {
		j->work(j);
		j->done(j);
		return;
	}
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->todo_tail = j;
	p->todo_tail = &j->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
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
	struct offload *o = calloc(1, sizeof(*o));

	if (o == NULL)
		fatal("out of memory");
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
static void flush_reqs(struct store *s, struct dir_req *reqs)
{
	struct {
		const char *path;
		int result;
	} *u;
	const char **all;
	unsigned n = 0, k = 0;

	for (struct dir_req *r = reqs; r != NULL; r = r->next)
		n += r->n;
	if (n == 0)
		return;
	if ((all = calloc(n, sizeof(*all))) == NULL || (u = calloc(n, sizeof(*u))) == NULL)
		fatal("out of memory");
	for (struct dir_req *r = reqs; r != NULL; r = r->next)
		for (unsigned i = 0; i < r->n; i++)
			all[k++] = r->paths[i];
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
	for (struct dir_req *r = reqs; r != NULL; r = r->next) {
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
	struct store_pool *p = f->store->pool;

	if (p != NULL) {
		pthread_mutex_lock(&p->lock);
		f->reqs = p->dirs_pending;
		p->dirs_pending = NULL;
		p->dirs_queued = false;
		pthread_mutex_unlock(&p->lock);
	}
	flush_reqs(f->store, f->reqs);
}

static void dir_req_free(struct dir_req *r)
{
	for (unsigned i = 0; i < r->n; i++)
		free(r->paths[i]);
	free(r->paths);
	free(r);
}

static void dir_flush_done(struct store_job *j)
{
	struct dir_flush *f = (struct dir_flush *)j;
	struct dir_req *r, *next;

	f->store->dir_flushes++;
	for (r = f->reqs; r != NULL; r = next) {
		next = r->next;
		f->store->dir_requests++;
		r->done(r->arg, r->result);
		dir_req_free(r);
	}
	free(f);
}

void store_flush_dirs(struct store *s, const char *const *paths, unsigned n,
		      void (*done)(void *arg, int result), void *arg)
{
	struct dir_req *r = calloc(1, sizeof(*r));
	struct store_pool *p = s->pool;
	struct dir_flush *f = NULL;

	if (r == NULL || (r->paths = calloc(n + 1, sizeof(*r->paths))) == NULL)
		fatal("out of memory");
	for (unsigned i = 0; i < n; i++)
		if ((r->paths[i] = strdup(paths[i])) == NULL)
			fatal("out of memory");
	r->n = n;
	r->done = done;
	r->arg = arg;
	if (p == NULL) {
		s->dir_flushes++;
		s->dir_requests++;
		flush_reqs(s, r);
		r->done(r->arg, r->result);
		dir_req_free(r);
		return;
	}
	pthread_mutex_lock(&p->lock);
	r->next = p->dirs_pending;
	p->dirs_pending = r;
	if (!p->dirs_queued) {
		p->dirs_queued = true;
		if ((f = calloc(1, sizeof(*f))) == NULL)
			fatal("out of memory");
	}
	pthread_mutex_unlock(&p->lock);
	if (f != NULL) {
		f->store = s;
		f->job.work = dir_flush_work;
		f->job.done = dir_flush_done;
		store_job_submit(s, &f->job);
	}
}
