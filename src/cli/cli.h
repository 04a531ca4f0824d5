#ifndef CORREIO_CLI_H
#define CORREIO_CLI_H
/*
 * cli: the `correio` subcommands.  main.c loads the configuration (from
 * -c FILE anywhere on the command line, else the default path, else the
 * built-in defaults) and calls one cmd_* with argv[0] = the subcommand name.
 * Each returns the process exit status (0 success, 1 failure, 2 usage) and
 * prints errors as "correio: <what>: <why>" on stderr.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

struct accounts;
struct buf;

int cmd_serve(int argc, char **argv, struct config *cfg);
int cmd_user(int argc, char **argv, struct config *cfg);
/* After the account acct was deleted: remove its mail (remove_mail) or
   say where it is kept, on stdout.  1, or -1 after printing why. */
struct account;
int cli_user_mail_gone(const struct config *cfg, const struct account *acct,
		       bool remove_mail);
/* correio user import|export (cmd_mailio.c); argv[0] is "import"/"export". */
int cmd_user_import(int argc, char **argv, struct config *cfg);
/* cmd_user_sieve.c: `correio user sieve ADDRESS ...` (argv[0] is "sieve"). */
int cmd_user_sieve(int argc, char **argv, struct config *cfg);
int cmd_user_export(int argc, char **argv, struct config *cfg);
int cmd_alias(int argc, char **argv, struct config *cfg);
int cmd_domain(int argc, char **argv, struct config *cfg);
int cmd_check(int argc, char **argv, struct config *cfg);
int cmd_queue(int argc, char **argv, struct config *cfg);
int cmd_sendmail(int argc, char **argv, struct config *cfg);
int cmd_tls(int argc, char **argv, struct config *cfg);
int cmd_tlsrpt(int argc, char **argv, struct config *cfg);

/*
 * Create the data directory if needed; when running as root, make it owned
 * by cfg->user and switch to that user.  Then open the account store.
 * Returns 1, or -1 after printing the reason on stderr.
 */
int cli_open_accounts(const struct config *cfg, struct accounts **r);

/* The mail store as the server makes it: under cfg->data_dir, with the
   configured default mailbox format.  Never fails; store_free() it. */
struct store *cli_store_new(const struct config *cfg);

/* Is domain local (config local_domains or `correio domain add`)?
   1 yes, 0 no, -1 error reading the store. */
int cli_domain_is_local(const struct config *cfg, struct accounts *a,
			const char *domain);

/* check_startup.c: what `correio serve` would refuse although the file
   parses (listeners on one port, certificate or key files the run-as user
   cannot read or load, a data directory it cannot reach), each printed as
   "correio: check: ..." on stderr.  Returns how many. */
int check_startup(const struct config *cfg);

/*
 * Send one request line (ending in LF) to the running server's control
 * socket and print its answer (stdout, or the error on stderr).  Returns
 * the exit status.
 */
int cli_control_request(const struct config *cfg, const char *what, const char *line);
/* `correio queue list` (also mailq and sendmail -bp): mailq's listing or
   JSON, oldest message first.  Returns the exit status. */
int cli_queue_list(const struct config *cfg, bool json);
/* newaliases (also `sendmail -bi`, `correio newaliases`): argv as given to
   newaliases.  Returns the exit status. */
int cmd_newaliases(int argc, char **argv, struct config *cfg);
/* The binary called as mailq (argv as given to it). */
int cmd_mailq(int argc, char **argv, struct config *cfg);

/* Print "correio: <what>: <message>" (or "correio: <message>" when what is
   NULL) and a newline on stderr. */
void cli_error(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Is -h or --help among argv[1..] (before any "--")? */
bool cli_wants_help(int argc, char **argv);

/* One subcommand of a command with several ("alias add", "user list"). */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv, struct config *cfg);
};

/*
 * Run the subcommand argv[1] of what, one of cmds[0..n), with argv[1..].
 * No subcommand or an unknown one: the error and usage on stderr, 2; -h or
 * --help anywhere (before "--"): usage on stdout, 0.  Otherwise what the
 * subcommand returns (its exit status).
 */
int cli_subcommand(const char *what, const char *usage, const struct cli_command *cmds,
		   size_t n, int argc, char **argv, struct config *cfg);

/*
 * For subcommands that take no options: move the operands of argv[1..] to
 * argv[1..n] ("--" ends the options; any other "-x" is an error) and check
 * min <= n <= max (max < 0: no limit).  Returns n, or -1 after printing the
 * problem as "correio: <what>: ..." and usage on stderr.
 */
int cli_operands(int argc, char **argv, const char *what, const char *usage,
		 int min, int max);

/* ---- Dovecot's Maildir files (dovecot_files.c, pure) ---- */

/* One record of dovecot-uidlist: the file name (up to ':') of uid. */
typedef void dovecot_uidlist_fn(void *ctx, uint32_t uid, const char *name, size_t len);
/* Parse dovecot-uidlist text: its UIDVALIDITY and next UID (0 when the
   header gives none), and cb for each record.  1, or 0 when the header is
   not one of versions 1, 2 or 3 with a UIDVALIDITY (no record is given). */
int dovecot_uidlist_parse(const char *text, size_t len, uint32_t *uidvalidity_r,
			  uint32_t *uidnext_r, dovecot_uidlist_fn *cb, void *ctx);
/* One line of dovecot-keywords: keyword index (0..25, letter 'a' + index)
   and its name (not NUL-terminated, no NUL in it). */
typedef void dovecot_keyword_fn(void *ctx, unsigned index, const char *name, size_t len);
void dovecot_keywords_parse(const char *text, size_t len, dovecot_keyword_fn *cb, void *ctx);

/* ---- check warnings (check_warn.c) ---- */

/* Print a warning when the hostname is not a fully qualified domain name.
   Returns the number of warnings printed (0 or 1). */
int check_warn_hostname(const struct config *cfg);
/* Is every [listen] smtp address a loopback one (or none at all)? */
bool check_smtp_loopback_only(const struct config *cfg);

/* check_records.c: `check --dns DOMAIN`: print the DNS records DOMAIN
   should publish (MX, SPF, DKIM, DMARC, MTA-STS, TLSRPT, the hostname's
   PTR), compare each with DNS and print the fix of each mismatch.
   Returns the number of mismatches, or -1 when DNS cannot be asked. */
int check_records(const struct config *cfg, const char *domain);

/* cli_visible.c: append s to out for a terminal, each control character
   and DEL as "\\xNN", so that text from elsewhere cannot send escape
   sequences to the administrator's terminal; lines: keep TAB, LF and the
   CR of a CRLF (a header section shown as lines). */
void cli_visible(struct buf *out, const char *s, bool lines);
/* The same, on stdout. */
void cli_print_visible(const char *s, bool lines);

/* ---- the queue as operators read it (queue_format.c, pure) ---- */

#include <jansson.h>

#include "queue/envelope.h"

/* One message of the server's DUMP answer: a queued one (env set) or a
   damaged one (env NULL, why says what is wrong). */
struct queue_entry {
	char id[ENVELOPE_ID_LEN + 1];
	bool active;		/* a delivery is under way */
	uint64_t size, arrival;
	struct envelope *env;	/* owned */
	char *why;		/* damaged: the reason (owned) */
};

/* Parse a DUMP answer into *r (n_r entries; free with queue_entries_free).
   1, or -1 with *error_r. */
int queue_dump_parse(const char *data, size_t len, struct queue_entry **r,
		     size_t *n_r, const char **error_r);
void queue_entries_free(struct queue_entry **v, size_t n);
/* "pending", "deferred" (tried and failed for now), "delivered", "bounced". */
const char *queue_rcpt_state(const struct envelope_rcpt *r);
/* "held", "active", "deferred", "queued" (not tried yet) or "damaged". */
const char *queue_entry_state(const struct queue_entry *q);
/* mailq's listing: a header, a block per message, a total line ("-- 3
   Kbytes in 2 Requests."), or "Mail queue is empty". */
void queue_format_list(const struct queue_entry *v, size_t n, struct buf *out);
/* `queue show`: the envelope readably (now: for "in 5m" and "2h ago"). */
void queue_format_show(const struct queue_entry *q, uint64_t now, struct buf *out);
/* A span of seconds as "45s", "12m 3s", "3h 5m" or "2d 4h". */
void queue_format_span(uint64_t seconds, char *out, size_t size);
/* The entry as a JSON object (new reference). */
json_t *queue_entry_json(const struct queue_entry *q);

/* ---- the aliases file of newaliases (aliases_file.c, pure) ---- */

#define ALIASES_ENTRY_MAX 65536
#define ALIASES_VALUES_MAX 1000
#define ALIASES_NAME_MAX 320

/* One entry: name and values (quotes removed, blanks trimmed; valid during
   the callback), or error (then name is NULL and there are no values). */
struct aliases_entry {
	unsigned line;			/* where it starts, from 1 */
	const char *name;
	const char *const *values;
	unsigned n_values;
	const char *error;
};
typedef void aliases_entry_fn(void *ctx, const struct aliases_entry *entry);
/* Call cb for every entry of the aliases(5) text, in order. */
void aliases_parse(const char *text, size_t len, aliases_entry_fn *cb, void *ctx);

enum aliases_kind { ALIASES_ADDRESS, ALIASES_PIPE, ALIASES_FILE, ALIASES_INCLUDE };
/* What a value is: "|command", "/file", ":include:/file" or an address. */
enum aliases_kind aliases_value_kind(const char *value);

/* ---- sendmail (sendmail_headers.c) ---- */

/*
 * `sendmail -t`: append " address" to rcpts for every address of the To:,
 * Cc: and Bcc: fields of msg's header section, and remove the Bcc: fields.
 * Returns the number of addresses found (0: none, or no such field).
 */
int sendmail_headers(struct buf *msg, struct buf *rcpts);

/*
 * Drop a leading mbox "From " line, and add what the header section lacks
 * of "From: <from>", "Date: <now>" and "Message-ID: <...@hostname>" at its
 * top (and the empty line that ends the header section, when the body
 * started without it).
 * Returns 1, or -1 when msg would grow past its maximum (msg unchanged).
 */
int sendmail_complete_headers(struct buf *msg, const char *from, const char *hostname);

/*
 * The configuration file named by sendmail's -C FILE (or -CFILE) among
 * argv's options, or NULL.  argv is left as it was.
 */
const char *sendmail_config_option(int argc, char **argv);

#endif
