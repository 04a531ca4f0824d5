#ifndef CORREIO_SCHEDULE_H
#define CORREIO_SCHEDULE_H
/*
 * schedule: the relay's timing rules, apart so that they can be tested:
 * when a deferred recipient is tried again, when the sender is warned, when
 * the message is given up.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/config.h"

/* Seconds to wait after the attempts-th failed attempt (attempts >= 1):
   retry_interval, doubling each time, at most max_retry_interval. */
uint64_t schedule_backoff(const struct config *cfg, unsigned attempts);

/* Is a message that arrived at arrival due for its delay notice at now? */
bool schedule_warn_due(const struct config *cfg, uint64_t arrival, uint64_t now);

/* Has a message that arrived at arrival run out of time at now? */
bool schedule_expired(const struct config *cfg, uint64_t arrival, uint64_t now);

#endif
