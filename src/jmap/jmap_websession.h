#ifndef CORREIO_JMAP_WEBSESSION_H
#define CORREIO_JMAP_WEBSESSION_H
/*
 * The webmail's sign-in sessions, kept in memory (a restart signs every
 * browser out).  A session is a random 256-bit id (the cookie's value,
 * 64 hex digits) naming a user and a CSRF token (another 256 random bits)
 * that the browser must echo on every state-changing request.  A session
 * ends when idle for longer than idle seconds, at absolute seconds after
 * its sign-in whatever its use, or when signed out.  At most max sessions
 * live at once and per_user of one user; past either bound the least
 * recently used one goes.  No event loop here: callers pass the time.
 */
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define JMAP_WEB_ID_LEN 64		/* hex digits of an id or token */

struct jmap_websessions;

struct jmap_websessions *jmap_websessions_new(unsigned max, unsigned per_user,
					      time_t idle, time_t absolute);
void jmap_websessions_free(struct jmap_websessions **s);
/* A new session for user: its id and token (JMAP_WEB_ID_LEN + 1 bytes
   each).  1, or -1 when no random bytes could be had. */
int jmap_websessions_create(struct jmap_websessions *s, const char *user, time_t now,
			    char *id_r, char *csrf_r);
/* The live session of id (its use counts from now): 1 with the user and
   token (valid until the next call), or 0 (unknown, expired: forgotten). */
int jmap_websessions_find(struct jmap_websessions *s, const char *id, time_t now,
			  const char **user_r, const char **csrf_r);
/* Sign out: forget id.  1 if it was known, else 0. */
int jmap_websessions_remove(struct jmap_websessions *s, const char *id);
/* How many are live (for tests and the log). */
unsigned jmap_websessions_count(struct jmap_websessions *s, time_t now);

/* The value of cookie name in a Cookie header (RFC 6265 §5.4: "a=b; c=d")
   into out: 1, 0 absent, -1 present but longer than size - 1. */
int jmap_cookie_value(const char *header, const char *name, char *out, size_t size);
/* The same for the nth (from 0) cookie of that name: a browser sends
   every cookie of the name whose domain and path match, the longest path
   first, and cookies are not kept apart by port or scheme. */
int jmap_cookie_nth(const char *header, const char *name, unsigned nth, char *out,
		    size_t size);
/* Same secret?  In time independent of where they differ. */
bool jmap_token_equal(const char *a, const char *b);

#endif
