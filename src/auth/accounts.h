#ifndef CORREIO_ACCOUNTS_H
#define CORREIO_ACCOUNTS_H
/*
 * accounts: the account store (users, aliases, local domains) in SQLite
 * under the data directory (<data_dir>/accounts.db, WAL mode, busy timeout)
 * so that `correio user ...` may run while the server reads it.
 *
 * Addresses are stored and compared lower-case.  Passwords are stored only
 * as crypt(3) yescrypt hashes.  Every function returns 1 on success (or
 * "found"), 0 for "not found" where stated, -1 on error with *error_r set to
 * a short human-readable text (static or owned by the handle, valid until
 * the next call).
 */
#include <stdbool.h>
#include <stdint.h>

struct accounts;

enum accounts_format { ACCOUNTS_FORMAT_DEFAULT = -1, ACCOUNTS_FORMAT_MAILDIR = 0,
		       ACCOUNTS_FORMAT_MBOX = 1 };

struct account {
	char address[320];	/* "local@domain", lower case */
	int mailbox_format;	/* enum accounts_format */
	uint64_t quota;		/* bytes, 0 = unlimited */
};

/* Open (creating the file and schema when missing) <data_dir>/accounts.db.
   Nothing in correio may open the file other than through this function:
   closing any other descriptor of it would drop the POSIX locks of every
   handle of the process (see accounts.c). */
int accounts_open(const char *data_dir, struct accounts **r, const char **error_r);
void accounts_free(struct accounts **a);

/* Users.  add: error if it exists.  format: enum accounts_format. */
int accounts_user_add(struct accounts *a, const char *address, const char *password,
		      int format, const char **error_r);
/* del/passwd: -1 with "no such user" when missing. */
int accounts_user_del(struct accounts *a, const char *address, const char **error_r);
int accounts_user_passwd(struct accounts *a, const char *address,
			 const char *password, const char **error_r);
int accounts_user_set_format(struct accounts *a, const char *address, int format,
			     const char **error_r);
/* Quota in bytes, 0 = unlimited; -1 with "no such user" when missing. */
int accounts_user_set_quota(struct accounts *a, const char *address, uint64_t quota,
			    const char **error_r);
/* 1 found (filled in), 0 not found, -1 error. */
int accounts_user_get(struct accounts *a, const char *address, struct account *r);
/* Calls cb for every user, sorted by address.  Returns 1 or -1. */
int accounts_user_list(struct accounts *a,
		       void (*cb)(void *ctx, const struct account *acct), void *ctx);
/* 1 password matches, 0 wrong password or no such user, -1 error.
   Costs one hash computation even for an unknown user. */
int accounts_password_verify(struct accounts *a, const char *address,
			     const char *password);

/* Aliases: alias is "local@domain" or "@domain" (catch-all); target is any
   address.  An alias may have many targets (one row each). */
int accounts_alias_add(struct accounts *a, const char *alias, const char *target,
		       const char **error_r);
/* Remove one target, or every target when target is NULL; -1 if none. */
int accounts_alias_del(struct accounts *a, const char *alias, const char *target,
		       const char **error_r);
/* Every (alias, target) pair, or only those of alias when it is not NULL. */
int accounts_alias_list(struct accounts *a, const char *alias,
			void (*cb)(void *ctx, const char *alias, const char *target),
			void *ctx);
/* Number of targets of alias (0 when it is no alias), or -1. */
int accounts_alias_targets(struct accounts *a, const char *alias,
			   void (*cb)(void *ctx, const char *target), void *ctx);

/* Domains added with `correio domain add` (the config's local_domains are
   local too; callers check both). */
int accounts_domain_add(struct accounts *a, const char *domain, const char **error_r);
int accounts_domain_del(struct accounts *a, const char *domain, const char **error_r);
int accounts_domain_list(struct accounts *a,
			 void (*cb)(void *ctx, const char *domain), void *ctx);
/* 1 exists, 0 not, -1 error. */
int accounts_domain_exists(struct accounts *a, const char *domain);

/*
 * The syntax every function above checks (any case) before storing:
 *   user    local@domain, local of [a-z0-9._-] (dot-string, at most 64,
 *           never starting with '.'), domain a host name
 *   alias   a user address, or "@domain" (catch-all)
 *   target  any address: local part of RFC 5322 atext (dot-string)
 *   domain  a host name: labels of [a-z0-9-], at most 63 each, 253 in all
 * For callers that want to check before prompting.  Returns 1, or -1 with
 * *error_r a static text naming the problem.
 */
enum accounts_kind { ACCOUNTS_KIND_USER, ACCOUNTS_KIND_ALIAS, ACCOUNTS_KIND_TARGET,
		     ACCOUNTS_KIND_DOMAIN };
int accounts_check(enum accounts_kind kind, const char *name, const char **error_r);

#endif
