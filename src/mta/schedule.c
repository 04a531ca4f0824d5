/*
 * schedule.c - retry backoff, delay-notice and give-up times.
 */
#include "schedule.h"

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
