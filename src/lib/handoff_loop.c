/*
 * handoff_loop.c - a loop hand-off watched by a libevent base (handoff.h):
 * the eventfd readable runs the owner's callback on the loop's thread.
 * Apart from handoff.c so that users without an event loop (the store's
 * unit tests, the fuzz build) need no libevent.
 */
#include "lib/handoff.h"

#include <event2/event.h>

#include "lib/log.h"

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	handoff_run(arg);
}

struct event *handoff_watch(struct handoff *h, struct event_base *base)
{
	struct event *ev = event_new(base, handoff_fd(h), EV_READ | EV_PERSIST, on_readable, h);

	if (ev == NULL || event_add(ev, NULL) < 0)
		fatal("handoff: cannot watch an eventfd on the event loop");
	return ev;
}
