#ifndef CORREIO_AUTH_H
#define CORREIO_AUTH_H
/*
 * auth: password checks for every protocol, off the event loop.  A check
 * costs a yescrypt hash (tens of milliseconds by design), so it runs on a
 * small pool of threads, each with its own account-store handle, and the
 * answer comes back to the loop.  Failed attempts are throttled as
 * Dovecot does (throttle.h): failures slow their client address down (a
 * delay that doubles, with a cap), and past max_failures one account is
 * refused from that one address for a while; other accounts at that
 * address and the account from other addresses are never refused.
 * Passwords are wiped as soon as they are checked and never logged.  Loop
 * thread only, except the pool itself.
 */
#include <stdbool.h>

#include "lib/config.h"

struct auth;
struct auth_request;
struct event_base;

enum auth_result {
	AUTH_OK = 1,
	AUTH_FAILED = 0,	/* wrong user or password */
	AUTH_TEMPFAIL = -1,	/* store error */
	AUTH_THROTTLED = -2,	/* too many failures: try later */
};

/* cb runs on the loop thread; user is the canonical account address. */
typedef void auth_fn(void *ctx, enum auth_result result, const char *user);

int auth_start(const struct config *cfg, struct event_base *base, struct auth **r,
	       const char **error_r);
void auth_stop(struct auth **a);
/* Take new limits (SIGHUP). */
void auth_set_config(struct auth *a, const struct config *cfg);

/*
 * Check user/password for a client at addr.  The password is copied and
 * the caller may wipe its own copy at once.  cb is called exactly once,
 * later, unless the request is cancelled first.
 */
struct auth_request *auth_verify(struct auth *a, const char *addr, const char *user,
				 const char *password, auth_fn *cb, void *ctx);
/* The session is going away: cb will not be called. */
void auth_cancel(struct auth_request *r);

/* `correio user unlock`: forget the failed logins of user (an address, or
   a bare name in the primary domain) from every client address.  Returns
   how many addresses had some. */
unsigned auth_unlock(struct auth *a, const char *user);

#endif
