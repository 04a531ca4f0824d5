#ifndef CORREIO_THROTTLE_H
#define CORREIO_THROTTLE_H
/*
 * throttle: what failed logins cost, after Dovecot's model.  A failure
 * slows down the client address it came from: its next attempts (for any
 * account) wait a delay that doubles with each failure, up to a cap, so a
 * user behind the same NAT who knows their password still gets in within
 * seconds.  Refusal (lockout) is per account and address pair only: after
 * max_failures wrong passwords for one account from one address, that
 * account is refused from that address until lockout has passed since the
 * last failure.  Failures from elsewhere never lock the owner out.
 *
 * The table is hostile-input state: at most a fixed number of entries,
 * the one with the oldest failure evicted first; entries are forgotten
 * lockout after their last failure.  Times are milliseconds of a
 * monotonic clock, passed in (the tests drive their own clock).  Not
 * thread-safe: the auth component uses it from the loop thread only.
 */
#include <stdbool.h>
#include <stdint.h>

struct throttle;

struct throttle_limits {
	uint64_t delay_ms;	/* after the first failure; doubles after each */
	uint64_t max_delay_ms;	/* the cap of that delay */
	unsigned max_failures;	/* per account+address, then refusal */
	uint64_t lockout_ms;	/* refusal lasts, and failures are kept, this long */
};

/* A table of at most max_entries entries (addresses and pairs). */
struct throttle *throttle_new(unsigned max_entries, const struct throttle_limits *limits);
void throttle_free(struct throttle **t);
void throttle_set_limits(struct throttle *t, const struct throttle_limits *limits);

/* How long an attempt from addr must still wait before it is checked
   (0: at once): the delay its failures earned, counted from the last. */
uint64_t throttle_wait(struct throttle *t, const char *addr, uint64_t now);
/* Is user refused from addr (too many failures of that pair)? */
bool throttle_locked(struct throttle *t, const char *addr, const char *user, uint64_t now);
/* Record a wrong password; returns the delay before answering it, and in
   *pair_failures_r the failures of user from addr so far. */
uint64_t throttle_failure(struct throttle *t, const char *addr, const char *user,
			  uint64_t now, unsigned *pair_failures_r);
/* A right password: forget the pair and the address's failures. */
void throttle_success(struct throttle *t, const char *addr, const char *user);
/* Forget every pair of user (any address); returns how many there were. */
unsigned throttle_unlock(struct throttle *t, const char *user);
/* Entries held (for tests and logs). */
unsigned throttle_count(const struct throttle *t);

#endif
