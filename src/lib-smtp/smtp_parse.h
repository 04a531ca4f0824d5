#ifndef CORREIO_SMTP_PARSE_H
#define CORREIO_SMTP_PARSE_H
/*
 * smtp_parse: the SMTP command-line parser (RFC 5321 §4.1, with the
 * parameters of RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8,
 * RFC 3461 DSN, RFC 3030 BDAT, RFC 4954 AUTH).  Pure: no I/O, no allocation.
 * Each function takes one line without its CRLF, modifies it in place
 * (results point into it) and on failure returns -1 with *error_r set to a
 * complete reply line such as "501 5.5.4 Syntax: MAIL FROM:<address>".
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mime/mime.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT,
	SMTP_VERB_DATA, SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_NOOP,
	SMTP_VERB_QUIT, SMTP_VERB_HELP, SMTP_VERB_VRFY, SMTP_VERB_EXPN,
	SMTP_VERB_VERB, SMTP_VERB_STARTTLS, SMTP_VERB_AUTH,
	SMTP_VERB_COUNT
};

struct smtp_command {
	enum smtp_verb verb;
	char *arg;		/* text after the verb and its spaces; "" if none */
};

/*
 * Split a command line into verb and argument.  "MAIL FROM:" and "RCPT TO:"
 * are recognised by their first word; the argument keeps "FROM:..." so that
 * smtp_mail_parse() checks it.  line[len] must be writable: the line is
 * NUL-terminated in place (a buf's terminator serves).  Trailing spaces are
 * ignored.  Returns 1, or -1 (NUL byte, empty line).
 * An unknown verb is not an error: verb is SMTP_VERB_UNKNOWN.
 */
int smtp_command_parse(char *line, size_t len, struct smtp_command *cmd,
		       const char **error_r);

/* Upper-case name of a verb ("MAIL"). */
const char *smtp_verb_name(enum smtp_verb verb);

enum smtp_body { SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS };

#define SMTP_NOTIFY_NEVER   0x1
#define SMTP_NOTIFY_SUCCESS 0x2
#define SMTP_NOTIFY_FAILURE 0x4
#define SMTP_NOTIFY_DELAY   0x8

struct smtp_mail_args {
	bool null_sender;	/* MAIL FROM:<> */
	struct address sender;	/* valid unless null_sender */
	uint64_t size;		/* SIZE=, 0 when absent */
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	char *envid;		/* ENVID= xtext as given, NULL if absent */
	char *auth;		/* AUTH= as given, NULL if absent */
};

/*
 * Parse the argument of MAIL: "FROM:<reverse-path> [SP params]".
 * Source routes (<@a,@b:u@d>) are accepted and dropped.  An unknown
 * parameter gives "555 5.5.4"; a bad address "553 5.1.3" (or "553 5.6.7"
 * for a UTF-8 address without SMTPUTF8); other syntax "501 5.5.4".
 */
int smtp_mail_parse(char *arg, struct smtp_mail_args *r, const char **error_r);

struct smtp_rcpt_args {
	bool postmaster;	/* RCPT TO:<Postmaster> without a domain */
	struct address rcpt;	/* for postmaster: local "postmaster", domain "" */
	unsigned notify;	/* SMTP_NOTIFY_* bits, 0 when absent */
	char *orcpt;		/* ORCPT= as given, NULL if absent */
};

/*
 * Parse the argument of RCPT: "TO:<forward-path> [SP params]".
 * utf8: the transaction's MAIL had SMTPUTF8 (UTF-8 addresses allowed).
 */
int smtp_rcpt_parse(char *arg, bool utf8, struct smtp_rcpt_args *r,
		    const char **error_r);

/* Parse the argument of BDAT: "chunk-size [SP LAST]".  Returns 1 or -1. */
int smtp_bdat_parse(const char *arg, uint64_t *size_r, bool *last_r,
		    const char **error_r);

#endif
