#ifndef CORREIO_SCHEDULE_H
#define CORREIO_SCHEDULE_H
/*
 * schedule: the queue's timing rules, the same for the recipients the
 * relay sends and those the local delivery agent files, apart so that
 * they can be tested:
 * when a deferred recipient is tried again, when the sender is warned, when
 * the message is given up.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/config.h"
#include "queue/envelope.h"

/* Seconds to wait after the attempts-th failed attempt (attempts >= 1):
   retry_interval, doubling each time, at most max_retry_interval. */
uint64_t schedule_backoff(const struct config *cfg, unsigned attempts);

/* Is a message that arrived at arrival due for its delay notice at now? */
bool schedule_warn_due(const struct config *cfg, uint64_t arrival, uint64_t now);

/* Has a message that arrived at arrival run out of time at now? */
bool schedule_expired(const struct config *cfg, uint64_t arrival, uint64_t now);

/* The destination of address: the smarthost when one is set (non-empty),
   else the address's domain (what follows the last '@', "" if none).
   Points into smarthost or address. */
const char *schedule_destination(const char *address, const char *smarthost);

/* The destination name of the local delivery agent: no domain or
   smarthost can be named so. */
#define SCHEDULE_LOCAL "(local)"

/* The destination of recipient r: SCHEDULE_LOCAL for an account (kind
   ENVELOPE_LOCAL), else schedule_destination of its address. */
const char *schedule_rcpt_destination(const struct envelope_rcpt *r, const char *smarthost);

/*
 * Which recipients of e go out at now: every pending recipient of each
 * destination that has at least one pending recipient due.  A message's
 * recipients for one destination travel in one transaction: one deferred
 * a second later than the others (their replies straddled a second, or a
 * restart came between) is taken along rather than left for a second
 * transaction.  go has e->n_rcpts entries, each set.  Returns how many go.
 */
unsigned schedule_due(const struct envelope *e, const char *smarthost, uint64_t now,
		      bool *go);

#endif
