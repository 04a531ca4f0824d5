/*
 * handoff.c - the locked list behind every hand-off between threads (see
 * handoff.h): the queue's committer, the password pool, the store's
 * workers, the delivery agent, its results to the scheduler and its
 * new-mail notices to the store, and the ACME thread's new certificates.
 *
 * One mutex guards the list and the stop flags.  A loop hand-off writes its
 * eventfd only when the list goes from empty to not empty; handoff_run()
 * reads the eventfd before it takes the list, so an item posted between
 * the two is taken now and only costs a spurious wake-up later, and an
 * item posted after the take writes the eventfd again: none is stranded.
 */
#include "lib/handoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct handoff {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a worker hand-off's sleepers */
	struct handoff_link *head, **tail;
	bool stopped, drain;
	int fd;				/* a loop hand-off's eventfd, else -1 */
	handoff_fn *fn;
	void *ctx;
};

int handoff_new(handoff_fn *fn, void *ctx, struct handoff **r)
{
	struct handoff *h = xcalloc(1, sizeof(*h));

	h->fd = -1;
	if (fn != NULL && (h->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		free(h);
		return -1;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->tail = &h->head;
	h->fn = fn;
	h->ctx = ctx;
	*r = h;
	return 1;
}

void handoff_free(struct handoff **hp)
{
	struct handoff *h = *hp;

	if (h == NULL)
		return;
	if (h->fd >= 0)
		close(h->fd);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
	*hp = NULL;
}

/* The loop's wake-up, outside the lock (an extra one is harmless). */
static void wake_loop(struct handoff *h)
{
	uint64_t one = 1;

	if (h->fd >= 0 && write(h->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("handoff: eventfd write: %m");
}

/* Append the chain head..last; under the lock.  Returns whether the list
   was empty. */
static bool append(struct handoff *h, struct handoff_link *head,
		   struct handoff_link *last)
{
	bool was_empty = h->head == NULL;

	last->next = NULL;
	*h->tail = head;
	h->tail = &last->next;
	return was_empty;
}

bool handoff_post(struct handoff *h, struct handoff_link *item)
{
	bool was_empty;

	pthread_mutex_lock(&h->lock);
	was_empty = append(h, item, item);
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (was_empty)
		wake_loop(h);
	return was_empty;
}

void handoff_post_list(struct handoff *h, struct handoff_link *head)
{
	struct handoff_link *last = head;
	bool was_empty;

	if (head == NULL)
		return;
	while (last->next != NULL)
		last = last->next;
	pthread_mutex_lock(&h->lock);
	was_empty = append(h, head, last);
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (was_empty)
		wake_loop(h);
}

/* Unlink the whole list; under the lock. */
static struct handoff_link *take_all(struct handoff *h)
{
	struct handoff_link *head = h->head;

	h->head = NULL;
	h->tail = &h->head;
	return head;
}

/* Unlink the oldest item; under the lock, the list not empty. */
static struct handoff_link *take_one(struct handoff *h)
{
	struct handoff_link *item = h->head;

	if ((h->head = item->next) == NULL)
		h->tail = &h->head;
	item->next = NULL;
	return item;
}

struct handoff_link *handoff_take(struct handoff *h)
{
	struct handoff_link *head;

	pthread_mutex_lock(&h->lock);
	head = take_all(h);
	pthread_mutex_unlock(&h->lock);
	return head;
}

int handoff_fd(const struct handoff *h)
{
	return h->fd;
}

bool handoff_run(struct handoff *h)
{
	struct handoff_link *batch;
	uint64_t count;

	if (h->fd >= 0 && read(h->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_err("handoff: eventfd read: %m");
	if ((batch = handoff_take(h)) == NULL)
		return false;
	h->fn(h->ctx, batch);
	return true;
}

struct handoff_link *handoff_wait(struct handoff *h, bool all)
{
	struct handoff_link *got = NULL;

	pthread_mutex_lock(&h->lock);
	while (h->head == NULL && !h->stopped)
		pthread_cond_wait(&h->cond, &h->lock);
	if (h->head != NULL && (!h->stopped || h->drain))
		got = all ? take_all(h) : take_one(h);
	pthread_mutex_unlock(&h->lock);
	return got;
}

void handoff_stop(struct handoff *h, bool drain)
{
	pthread_mutex_lock(&h->lock);
	h->stopped = true;
	h->drain = drain;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}
