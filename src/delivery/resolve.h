#ifndef CORREIO_RESOLVE_H
#define CORREIO_RESOLVE_H
/*
 * resolve: what a recipient address means for this server.  A recipient in
 * a local domain is an account, an alias (one or many targets, local or
 * remote, followed recursively with loop detection), an account or alias
 * with a +tag, or the domain's catch-all alias.  postmaster@ any local
 * domain that names nobody goes to the postmaster address (RFC 5321
 * §4.5.1).  Anything else in a local domain is unknown (550 5.1.1 at
 * RCPT).  A recipient in any other domain is remote.  Used by the SMTP
 * server at RCPT, by the delivery agent, and by `correio alias add` to
 * refuse a loop before it is stored.
 *
 * Loops: an alias whose expansion comes back to an alias (or catch-all)
 * still being expanded is an alias loop, reported as such (never cut
 * silently).  One exception, as in Postfix: an alias that lists itself
 * (or itself with a +tag) and is also an account delivers that copy to the
 * account's own mailbox ("alice -> alice, bob": alice keeps a copy).
 * An address reached twice on different branches is delivered once.
 */
#include <stdbool.h>

#include "auth/accounts.h"
#include "lib/config.h"
#include "queue/envelope.h"

#define RESOLVE_MAX_DEPTH 8
#define RESOLVE_MAX_TARGETS 1000
#define RESOLVE_LOOP (-2)		/* resolve_address: an alias loop */
#define RESOLVE_LOOP_TEXT_MAX 400

enum resolve_kind { RESOLVE_LOCAL, RESOLVE_REMOTE };

struct resolve_target {
	enum resolve_kind kind;
	const char *address;		/* account address, or remote address */
	const struct account *account;	/* RESOLVE_LOCAL only */
};

typedef void resolve_fn(void *ctx, const struct resolve_target *t);

/* Is domain local: config local_domains or `correio domain add`?
   1 yes, 0 no, -1 store error. */
int resolve_domain_is_local(const struct config *cfg, struct accounts *a,
			    const char *domain);

/* The postmaster address, into out: [server] postmaster, else
   postmaster@<the first local domain> (the hostname without any). */
void resolve_postmaster(const struct config *cfg, char *out, size_t size);

/* Is key postmaster@<some domain> (the local part in any case)? */
bool resolve_is_postmaster(const char *key);

/*
 * Call cb (may be NULL: only count) once for each final target of key
 * ("local@domain", domain lower case; the local part's case is kept for
 * remote targets and ignored for local ones),
 * without duplicates.  Returns the number of targets; 0 when key is in a
 * local domain but names nobody; -1 on a store error (temporary);
 * RESOLVE_LOOP when the expansion meets an alias loop (logged with the
 * aliases that form it; cb may have been called for some targets).
 */
int resolve_address(const struct config *cfg, struct accounts *a, const char *key,
		    resolve_fn *cb, void *ctx);

/*
 * Resolve recipient i of e once and record the outcome in it
 * (envelope_add_target): each account (l) and remote address (r) it
 * reaches, or a refusal (x) "5.1.1 unknown user" or "5.4.6 alias loop".
 * Returns as resolve_address; on -1 (store error) nothing is recorded.
 */
int resolve_record(const struct config *cfg, struct accounts *a, struct envelope *e,
		   unsigned i);

/*
 * Would alias (lower case, "local@domain" or "@domain") loop if targets[0..n)
 * were added to the targets it has now?  Returns 1 no, RESOLVE_LOOP yes
 * (loop_r, of RESOLVE_LOOP_TEXT_MAX bytes, gets the chain, e.g.
 * "a@example.org -> b@example.org -> a@example.org"), -1 store error.
 */
int resolve_alias_check(const struct config *cfg, struct accounts *a, const char *alias,
			char *const *targets, int n, char *loop_r);

/*
 * [submission] restrict_sender: may user send as key (a lower-case-domain
 * address, "" for the null sender)?  Itself, or an address that reaches
 * its account (+tag, an alias, a catch-all).  Always true when the
 * setting is off.  Authenticated SMTP (MAIL FROM) and JMAP
 * EmailSubmission ask it.
 */
bool resolve_may_send_as(const struct config *cfg, struct accounts *a, const char *user,
			 const char *key);
/* Does key reach user's account (whatever restrict_sender says)? */
bool resolve_reaches(const struct config *cfg, struct accounts *a, const char *key,
		     const char *user);

#endif
