#ifndef CORREIO_SIEVE_H
#define CORREIO_SIEVE_H
/*
 * sieve: mail filtering scripts (RFC 5228) run by local delivery.
 *
 * A script is compiled once into a tree (sieve_compile) and run for each
 * message (sieve_run), which gives a plan: the list of actions local
 * delivery carries out (file into folders with flags, redirect, reject,
 * discard).  The running never touches the disk: delivery does.
 *
 * Extensions: fileinto, mailbox (:create), envelope, body, variables,
 * imap4flags, relational, regex, copy, reject, ereject, subaddress,
 * include (:personal, :global, :once, :optional, "return", "global"
 * variables),
 * vacation (the reply is built and sent by delivery, which keeps the
 * one-reply-per-period record).
 *
 * Limits (a hostile script cannot hang delivery): SIEVE_MAX_SCRIPT bytes
 * of script, SIEVE_MAX_STEPS tests and commands per run, SIEVE_MAX_ACTIONS
 * actions, SIEVE_MAX_REDIRECTS redirects, SIEVE_MAX_REGEX bytes of regular
 * expression, and at most SIEVE_MAX_MATCH_INPUT bytes of any string given
 * to a :regex or :matches test (POSIX regexec has no step limit).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define SIEVE_MAX_SCRIPT	(1024 * 1024)
#define SIEVE_MAX_STEPS		100000
#define SIEVE_MAX_ACTIONS	64
#define SIEVE_MAX_REDIRECTS	4
#define SIEVE_MAX_REGEX		1024
#define SIEVE_MAX_MATCH_INPUT	(64 * 1024)
#define SIEVE_MAX_DEPTH		64	/* nesting of blocks and tests */
#define SIEVE_MAX_INCLUDE	8	/* nesting of include */
#define SIEVE_MAX_INCLUDED	32	/* scripts included in one run */

struct sieve_script;

enum sieve_action_kind {
	SIEVE_ACTION_FILEINTO,	/* folder ("INBOX" for keep) */
	SIEVE_ACTION_REDIRECT,	/* address */
	SIEVE_ACTION_REJECT,	/* text */
	SIEVE_ACTION_VACATION,	/* address (to), text, subject, from, handle, days */
};

struct sieve_action {
	enum sieve_action_kind kind;
	char *folder;		/* FILEINTO: folder name, '/' between levels */
	bool create;		/* FILEINTO: :create */
	char *flags;		/* FILEINTO: IMAP flags, space separated, or "" */
	char *address;		/* REDIRECT */
	char *text;		/* REJECT, VACATION: the reason */
	/* VACATION: */
	char *subject;		/* of the reply (":subject", else "Auto: " + the original's) */
	char *from;		/* ":from", or NULL: the account */
	char *handle;		/* what identifies this reply for the period */
	char *in_reply_to;	/* the original's Message-ID, or NULL */
	char *references;	/* the original's References, or NULL */
	unsigned days;		/* the period */
	bool mime;		/* text is a MIME entity (headers and body) */
};

/* What a run decided; an empty plan means discard. */
struct sieve_plan {
	struct sieve_action actions[SIEVE_MAX_ACTIONS + 1];
	unsigned n;
};

/* The message a script looks at. */
struct sieve_message {
	const char *data;	/* the whole message, headers and body */
	size_t len;
	const char *env_from;	/* envelope sender, "" for <> */
	const char *env_to;	/* envelope recipient (the account) */
	char delimiter;		/* recipient_delimiter for subaddress, or 0 */
	/* include (RFC 6609): the compiled script name, :personal (global
	   false) or :global, or 1 with *r NULL when there is none, -1 when it
	   does not compile (a message in err).  The script stays valid until
	   the run ends.  NULL: include always fails. */
	int (*include)(void *ctx, const char *name, bool global,
		       const struct sieve_script **r, char *err, size_t err_size);
	void *include_ctx;
};

/* Compile text[0..len).  Returns 1 with *r, or -1 with a message
   "line N: ..." in err. */
int sieve_compile(const char *text, size_t len, struct sieve_script **r,
		  char *err, size_t err_size);
void sieve_script_free(struct sieve_script **s);
/* The extensions "require" accepts, space separated (ManageSieve's SIEVE
   capability). */
void sieve_extensions_text(char *out, size_t size);

/* Run s on msg into plan (to be freed with sieve_plan_free).  Returns 1,
   or -1 with a message in err (a run-time error or a limit: the caller
   keeps the message in INBOX; plan is then empty). */
int sieve_run(const struct sieve_script *s, const struct sieve_message *msg,
	      struct sieve_plan *plan, char *err, size_t err_size);
/* The same for scripts[0..n) run one after the other as one run (each
   with its own variables; the global ones shared; a "stop" ends the
   run; NULL entries skipped): the server's "before" script, the
   account's, the "after" one. */
int sieve_run_scripts(const struct sieve_script *const *scripts, unsigned n,
		      const struct sieve_message *msg, struct sieve_plan *plan, char *err,
		      size_t err_size);
void sieve_plan_free(struct sieve_plan *plan);

/* The server's scripts ([sieve] in the configuration); "" for none. */
struct sieve_globals {
	const char *dir;	/* include :global scripts: <dir>/<name>.sieve */
	const char *before;	/* a script file run before the account's */
	const char *after;	/* ... and after it */
};

/*
 * Delivery's seam: the plan for msg in the account whose Maildir is
 * maildir.  The active script is <maildir>/sieve/active (a symlink to, or
 * a file naming, <name>.sieve in that directory); compiled scripts are
 * cached by path and modification time.  g (may be NULL): the global
 * scripts; before and after run around the account's script (also when
 * it has none).  Returns 1 with a plan, 0 when no script applies (plain
 * keep), or 1 with a plan of one keep after logging why when a script
 * fails to load, compile or run.  Thread-safe.
 */
int sieve_deliver_plan(const char *maildir, const struct sieve_globals *g,
		       const struct sieve_message *msg, struct sieve_plan *plan);

/*
 * The script store of an account, shared by `correio user sieve` and the
 * ManageSieve server: dir is <maildir>/sieve, scripts are <name>.sieve
 * there, and "active" (a symlink) names the one delivery runs.  Failures
 * return -1 with errno set.
 */
#define SIEVE_STORE_MAX_SCRIPTS	64
#define SIEVE_NAME_MAX		200

/* A name a script may have: 1..SIEVE_NAME_MAX bytes, no '/', no control
   character, not starting with '.'. */
bool sieve_store_valid_name(const char *name);
/* The Sieve directory of the account address under data_dir, into out:
   "sieve" in its Maildir (an mbox account keeps its scripts in the same
   place).  ManageSieve, JMAP's vacation and `correio user sieve` ask
   here rather than knowing where mailboxes live. */
void sieve_store_dir(const char *data_dir, const char *address, char *out, size_t size);
/* The active script's name into out (size bytes), "" when none. */
void sieve_store_active(const char *dir, char *out, size_t size);
/* Call fn for each script, in no order.  Returns the number of scripts,
   or -1 (a missing dir is 0 scripts). */
int sieve_store_list(const char *dir, void (*fn)(void *ctx, const char *name,
						 bool active), void *ctx);
/* Read a script into out (bounded by its maximum).  1, 0 when there is no
   such script, or -1. */
int sieve_store_get(const char *dir, const char *name, struct buf *out);
/* Write (create or replace) a script atomically.  1 or -1.  The caller
   compiles it first. */
int sieve_store_put(const char *dir, const char *name, const char *text, size_t len);
/* Make name the active script ("" deactivates).  1, 0 when there is no
   such script, or -1. */
int sieve_store_activate(const char *dir, const char *name);
/* Delete a script that is not active.  1, 0 when there is no such
   script, 2 when it is the active one (kept), or -1. */
int sieve_store_delete(const char *dir, const char *name);
/* Rename a script (the active one stays active).  1, 0 when there is no
   such script, 2 when the new name exists, or -1. */
int sieve_store_rename(const char *dir, const char *from, const char *to);

#endif
