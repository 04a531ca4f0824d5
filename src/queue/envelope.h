#ifndef CORREIO_ENVELOPE_H
#define CORREIO_ENVELOPE_H
/*
 * envelope: what the queue knows of a message besides its text — sender,
 * recipients, SMTP parameters — and its on-disk form, a small text file
 * (queue/<id>.env) that ends with an "end" line so that a torn write is
 * recognised and never taken for a message.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mime/mime.h"	/* enum dsn_kind */

#define ENVELOPE_ID_LEN 16

enum envelope_state {
	ENVELOPE_PENDING = 'p',	/* to be delivered (again) */
	ENVELOPE_SENT = 's',	/* delivered or relayed */
	ENVELOPE_BOUNCED = 'b',	/* given up: a bounce is (or was) sent */
	ENVELOPE_FAILED = 'f',	/* refused by local delivery (over quota, no
				   such user): the relay sends its bounce and
				   makes it 'b' */
};

/*
 * What a recipient resolved to, recorded once (at RCPT, or at local
 * submission) so that delivery does not resolve it again.
 */
enum envelope_kind {
	ENVELOPE_UNRESOLVED = '?',	/* an envelope written before routes were
					   recorded: resolve it when loaded */
	ENVELOPE_LOCAL = 'l',		/* an account: address is its address */
	ENVELOPE_REMOTE = 'r',		/* another domain: the relay takes it */
	ENVELOPE_FAIL = 'x',		/* refused: address is the reason */
};

/* One final target of a recipient, as resolved at RCPT. */
struct envelope_target {
	char kind;		/* enum envelope_kind, never '?' */
	char *address;		/* account or remote address, or the reason */
};

struct envelope_rcpt {
	char *address;		/* as given at RCPT, lookup form (lower case);
				   once expanded, the final target */
	char *orcpt;		/* DSN ORCPT, NULL if none */
	unsigned notify;	/* SMTP_NOTIFY_* bits */
	bool done;		/* delivered or given up (in memory only) */
	char state;		/* enum envelope_state */
	unsigned attempts;	/* relay attempts so far */
	uint64_t next_attempt;	/* unix seconds; 0 = as soon as possible */
	char *last_error;	/* the last failure, for DSNs and `queue show` */
	char *remote_mta;	/* the host that gave last_error, or NULL */
	char kind;		/* enum envelope_kind: what address is */
	char *orig;		/* once expanded: the address given at RCPT when
				   it differs from address, else NULL */
	struct envelope_target *targets;	/* recorded, not yet expanded */
	unsigned n_targets;
};

struct envelope {
	char id[ENVELOPE_ID_LEN + 1];
	uint64_t arrival;	/* seconds since the epoch */
	char *host;		/* hostname at acceptance (Maildir file names) */
	char *sender;		/* "" for the null sender <> */
	uint64_t size;		/* bytes in the .msg file */
	uint64_t header_offset;	/* bytes of the Return-Path line */
	int body;		/* enum smtp_body */
	bool smtputf8;
	int ret;		/* enum smtp_ret */
	char *envid;		/* NULL if none */
	bool routed;		/* recipients are final remote addresses (relay) */
	bool warned;		/* the delay notice was sent */
	bool held;		/* `correio queue hold`: no attempts until release */
	bool junk;		/* file into the recipients' Junk folder (DMARC
				   quarantine) */
	struct envelope_rcpt *rcpts;
	unsigned n_rcpts, cap_rcpts;
};

struct envelope *envelope_new(void);
void envelope_free(struct envelope **e);
/* Copies the strings.  Returns 1, or -1 past the limit of recipients. */
int envelope_add_rcpt(struct envelope *e, const char *address, const char *orcpt,
		      unsigned notify);
/* Remove the last recipient (refused after it was added). */
void envelope_drop_last_rcpt(struct envelope *e);
/* Give e the recipients of from (which is left with none). */
void envelope_take_rcpts(struct envelope *e, struct envelope *from);
/* Record a final target of recipient i (kind l, r or x; for x, address is
   the reason).  Returns 1, or -1 past the limit of targets. */
int envelope_add_target(struct envelope *e, unsigned i, char kind, const char *address);
/* Forget the recorded targets of recipient i. */
void envelope_clear_targets(struct envelope *e, unsigned i);
/*
 * Turn every recipient with recorded targets into one recipient per target
 * (its kind set, orig the address given at RCPT, ORCPT and NOTIFY kept; a
 * target of kind x is a recipient in state ENVELOPE_FAILED whose last_error
 * is the reason).  A target already present with the same kind and address
 * is not added twice.  Recipients without targets are kept as they are.
 */
void envelope_expand(struct envelope *e);
/* Replace a string field (copying value; NULL allowed). */
void envelope_set(char **field, const char *value);

/* Serialise e into out.  Returns 1 or -1. */
int envelope_format(const struct envelope *e, struct buf *out);
/* Parse data[0..len).  Returns 1, or -1 with *error_r (torn, bad field). */
int envelope_parse(const char *data, size_t len, struct envelope **r,
		   const char **error_r);

/*
 * Does a recipient with these NOTIFY= bits (SMTP_NOTIFY_*, as recorded)
 * want a notice of kind?  No bits (no NOTIFY=) means FAILURE,DELAY
 * (RFC 3461 §4.1); NEVER wants none.
 */
bool envelope_dsn_wanted(enum dsn_kind kind, unsigned notify);

/* The dsn_info.ret_full of a notice of kind for an envelope's RET (enum
   smtp_ret): only failures return the whole message, unless RET=HDRS
   (RFC 3461 §4.3). */
bool envelope_dsn_ret_full(enum dsn_kind kind, int ret);

#endif
