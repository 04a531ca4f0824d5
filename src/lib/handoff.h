#ifndef CORREIO_HANDOFF_H
#define CORREIO_HANDOFF_H
/*
 * handoff: the one way work and results cross between threads - a locked
 * first-in first-out list of items, posted from any thread and taken
 * either by an event loop (a "loop" hand-off: an eventfd wakes the loop,
 * which takes every item posted so far as one batch and runs the owner's
 * callback on it) or by worker threads (a "worker" hand-off: they sleep on
 * a condition variable until an item or the stop comes).
 *
 * Items are the caller's structs with a struct handoff_link inside; the
 * hand-off never allocates or frees them, and an item is on at most one
 * list at a time.  Order: items come out in the order they were posted
 * (so each producer's items keep its order).  Wake-ups are coalesced: the
 * loop is woken once when the list goes from empty to not empty, however
 * many items follow before it runs.
 *
 * Shutdown: handoff_stop() wakes every waiting worker; with drain they
 * first get the items left, without it they get none and the items stay
 * for the owner to take (handoff_take).  handoff_free() never touches the
 * items left on the list: the owner takes them first if it owns them.  The
 * owner joins its threads before handoff_free().
 *
 * handoff.c needs only pthreads (the store and the fuzz build use it
 * without an event loop); handoff_watch(), in handoff_loop.c, ties a loop
 * hand-off to a libevent base.
 */
#include <stdbool.h>
#include <stddef.h>

/* The link every item embeds. */
struct handoff_link {
	struct handoff_link *next;
};

/* The item that holds link as its field member. */
#define HANDOFF_ITEM(link, type, member) \
	((type *)(void *)((char *)(link) - offsetof(type, member)))

struct handoff;
struct event;
struct event_base;

/* A loop hand-off's callback, on the loop's thread: batch is every item
   posted since the last run, oldest first, linked by next (NULL-ended),
   never empty.  The callback owns the items. */
typedef void handoff_fn(void *ctx, struct handoff_link *batch);

/* A loop hand-off when fn is set (its eventfd is handoff_fd()), a worker
   hand-off when fn is NULL.  Returns 1, or -1 (no eventfd: errno set,
   nothing made). */
int handoff_new(handoff_fn *fn, void *ctx, struct handoff **r);
/* Items left are not touched; *hp is set to NULL.  NULL is allowed. */
void handoff_free(struct handoff **hp);

/* Post item (any thread).  Returns whether the list was empty before:
   the first item since the last take. */
bool handoff_post(struct handoff *h, struct handoff_link *item);
/* Post a NULL-ended chain of items at once, in its order: one wake-up. */
void handoff_post_list(struct handoff *h, struct handoff_link *head);
/* Take every item posted so far (any thread, never waits): oldest first,
   NULL if none. */
struct handoff_link *handoff_take(struct handoff *h);

/* ---- a loop hand-off ---- */

/* Readable when items wait (a descriptor to poll; -1 for a worker hand-off). */
int handoff_fd(const struct handoff *h);
/* On the loop thread: clear the descriptor, take every item and give them
   to the callback.  Returns whether there were any. */
bool handoff_run(struct handoff *h);
/* Run handoff_run(h) on base's thread whenever items are posted.  Returns
   the event (persistent, added) to free with event_free() before
   handoff_free(h). */
struct event *handoff_watch(struct handoff *h, struct event_base *base);

/* ---- a worker hand-off ---- */

/* On a worker thread: wait for an item and take it (all of them, oldest
   first, if all).  NULL once the hand-off is stopped (after the items left,
   if the stop drains). */
struct handoff_link *handoff_wait(struct handoff *h, bool all);
/* Wake every waiting worker and make handoff_wait() return NULL from now
   on: after the items left if drain, at once if not. */
void handoff_stop(struct handoff *h, bool drain);

#endif
