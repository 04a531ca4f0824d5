#ifndef CORREIO_SMTPD_PRIVATE_H
#define CORREIO_SMTPD_PRIVATE_H
/*
 * The SMTP session shared by smtpd_session.c (connection, input, replies),
 * smtpd_cmd.c (one handler per command) and smtpd_data.c (DATA, BDAT and
 * the commit to the queue).  Not for use outside src/smtpd/.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib-smtp/smtp_data.h"
#include "lib-smtp/smtp_parse.h"
#include "lib/buf.h"
#include "queue/envelope.h"
#include "conn/conn.h"

struct evbuffer;
struct event;
struct bufferevent;
struct auth_request;

#define SMTPD_LINE_MAX 1000		/* RFC 5321 §4.5.3.1.4/6, CRLF included */
#define SMTPD_TEXT_LINE_MAX 998		/* text line, CRLF excluded */
#define SMTPD_INPUT_MAX (64 * 1024)	/* read no further ahead than this */

enum smtpd_state {
	SMTPD_STATE_GREETED,	/* waiting for HELO/EHLO */
	SMTPD_STATE_READY,	/* no transaction */
	SMTPD_STATE_MAIL,	/* MAIL given, collecting RCPT */
	SMTPD_STATE_DATA,	/* reading DATA text */
	SMTPD_STATE_BDAT,	/* reading a BDAT chunk */
	SMTPD_STATE_COMMIT,	/* waiting for the queue to make it durable */
	SMTPD_STATE_AUTH,	/* reading SASL responses */
	SMTPD_STATE_AUTH_CHECK,	/* waiting for the password check */
	SMTPD_STATE_MILTER,	/* waiting for the mail filters (end of text) */
};

#define SMTPD_AUTH_LINE_MAX 12288	/* RFC 4954 §4 */

enum smtpd_mech { SMTPD_MECH_PLAIN, SMTPD_MECH_LOGIN };

/* The message-header watch of submitted mail (Message-ID:, Date:). */
struct smtpd_headers {
	bool done;		/* past the header section */
	bool line_start;
	char name[16];		/* start of the current line, lower case */
	size_t name_len;
	bool has_message_id, has_date;
	size_t scanned;		/* bytes of s->text already looked at */
};

struct smtpd_session {
	struct conn conn;	/* first: the connection layer's view */
	enum smtpd_state state;
	char helo[256];
	bool esmtp;
	unsigned errors;
	bool quitting;		/* close once the output is sent */
	bool shutdown;		/* server stopping: close after this transaction */
	bool dead;		/* connection gone, waiting for the commit callback */
	bool submission;	/* submission or submissions listener */
	bool trace;		/* a debug_peers client: its dialogue logged at info */
	char user[320];		/* authenticated account, "" if none */
	enum smtpd_state auth_return;
	enum smtpd_mech mech;
	char login_user[1025];	/* LOGIN: the name, between its two steps */
	struct auth_request *auth_req;
	struct smtpd_headers headers;

	/* the transaction */
	struct envelope *env;	/* from MAIL until DATA/BDAT */
	uint64_t declared_size;	/* MAIL FROM's SIZE=, 0 if none */
	struct queue_msg *msg;	/* from DATA/BDAT until commit */
	struct smtp_data data;
	struct buf text;	/* filtered text not yet given to the queue */
	bool too_big;
	bool bdat;		/* BDAT used in this transaction */
	bool bdat_failed;	/* a chunk was refused: discard until LAST */
	bool bdat_last;
	bool bdat_outside;	/* BDAT without a transaction: chunk discarded */
	enum smtpd_state bdat_outside_state;
	uint64_t chunk_left;
	const char *bdat_error;	/* reply for the chunks of a failed BDAT */

	struct smtpd_door *door;
	struct smtpd_milter *milter;	/* the message for the filters (smtpd_milter.c) */	/* blocklist answers (smtpd_door.c), or NULL */
	char queue_id[ENVELOPE_ID_LEN + 1];	/* of the message being committed */
	char refusal[400];	/* the reply when the authentication step refuses it */
};

/* smtpd_session.c */
/* Log one line of the dialogue ("<" from the client, ">" to it): at info
   for a [server] debug_peers client, else at debug. */
void smtpd_trace(struct smtpd_session *s, const char *dir, const char *text, size_t len);
/* Log a refused command as Postfix does: the reason, then the transaction
   so far: "; from=<...> to=<...> helo=<...>" (to may be NULL). */
void smtpd_log_reject(struct smtpd_session *s, const char *to, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Count a client error; past the budget, say 421 and close.  Returns true
   when the session is closing. */
bool smtpd_error(struct smtpd_session *s);
/* Send 221/421 first if wanted, then close once the output is flushed. */
void smtpd_close_after_output(struct smtpd_session *s);
/* Resume reading input (after an asynchronous step).  Returns false when
   the session was freed meanwhile. */
bool smtpd_process_input(struct smtpd_session *s);
void smtpd_command_timer(struct smtpd_session *s, bool on);
/* Free the session (and unregister it unless it is dead already). */
void smtpd_session_free(struct smtpd_session *s);

/* smtpd_cmd.c */
void smtpd_dispatch(struct smtpd_session *s, char *line, size_t len);
void smtpd_reset_transaction(struct smtpd_session *s);

/* smtpd_quota.c */
/* Resolve a local RCPT key and look for room in its mailboxes.  Returns
   what resolve_address() does (targets, 0 unknown, -1 store error); with
   *full_r true when every final mailbox is full or has no room for the
   declared SIZE (then 552 5.2.2). */
int smtpd_quota_rcpt(struct smtpd_session *s, const char *key, bool *full_r);
/* End of the text: reserve its size in the recipients' mailboxes.  Returns
   1 to commit, or 0 after replying 552 (a single recipient whose single
   mailbox has no room). */
int smtpd_quota_data(struct smtpd_session *s);

/* smtpd_door.c: DNS blocklists, rate limits, greylisting ([door]) */
/* At connect: start the blocklist lookups for the client. */
void smtpd_door_connect(struct smtpd_session *s);
/* Cancel the lookups and free (at close; again is harmless). */
void smtpd_door_free(struct smtpd_session *s);
/* Is a RCPT waiting for the blocklist answers (input paused)? */
bool smtpd_door_waiting(const struct smtpd_session *s);
/* Start of RCPT: 1 to go on, or 0 when the answers are not all in: the
   command is kept and run again once they are. */
int smtpd_door_ready(struct smtpd_session *s, const char *arg);
/* MAIL: 1 to go on, or 0 after replying 450 (message rate). */
int smtpd_door_mail(struct smtpd_session *s);
/* An accepted recipient: 1 to take it, or 0 after replying (554 listed,
   450 recipient rate, 450 greylisted). */
int smtpd_door_rcpt(struct smtpd_session *s, const char *key);

/* smtpd_milter.c: [milter] filters, asked at the end of the text */
/* Keep a copy of the client's text as it goes to the queue file. */
void smtpd_milter_text(struct smtpd_session *s, const char *p, size_t len);
/* End of the text: 1 when no filter is configured, else 0: the filters
   are asked and smtpd_data_milter_done() is called later. */
int smtpd_milter_eom(struct smtpd_session *s);
void smtpd_milter_free(struct smtpd_session *s);

/* smtpd_auth.c */
void smtpd_cmd_starttls(struct smtpd_session *s, char *arg);
void smtpd_cmd_auth(struct smtpd_session *s, char *arg);
void smtpd_auth_line(struct smtpd_session *s, char *line, size_t len);
/* May AUTH be offered (TLS, or loopback when allowed)? */
bool smtpd_auth_offered(struct smtpd_session *s);
bool smtpd_starttls_offered(struct smtpd_session *s);

/* smtpd_data.c */
void smtpd_cmd_data(struct smtpd_session *s, char *arg);
void smtpd_cmd_bdat(struct smtpd_session *s, char *arg);
/* Consume input in the DATA or BDAT state.  Returns 1 if the state was
   left (call again for the next command), 0 if more input is needed. */
int smtpd_data_input(struct smtpd_session *s, struct evbuffer *in);
/* The filters are through: refusal is the reply that refuses the message
   (or 250 for a discarded one), NULL to go on to commit it. */
void smtpd_data_milter_done(struct smtpd_session *s, const char *refusal);

#endif
