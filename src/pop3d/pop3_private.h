#ifndef CORREIO_POP3_PRIVATE_H
#define CORREIO_POP3_PRIVATE_H
/*
 * The POP3 session shared by pop3_session.c (connection, lines, replies,
 * streaming of message text) and pop3_cmd.c (the commands).
 */
#include <stdbool.h>
#include <stdint.h>

#include "conn/conn.h"

#define POP3_LINE_MAX 255		/* RFC 2449 §4, CRLF included */
#define POP3_AUTH_LINE_MAX 8192		/* SASL responses (RFC 5034) */

struct event;
struct store_account;
struct store_mailbox;
struct store_snapshot;
struct auth_request;

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_AUTH_PLAIN,		/* waiting for the SASL response */
	POP3_STATE_CHECKING,		/* password check in flight */
	POP3_STATE_TRANSACTION,
	POP3_STATE_SENDING,		/* streaming RETR/TOP text */
};

struct pop3_session {
	struct conn conn;		/* first: the connection layer's view */
	enum pop3_state state;
	char user[320];			/* USER name, then the account */
	unsigned errors;
	bool trace;			/* a debug_peers client: dialogue logged at info */
	bool quitting;
	bool shutdown_pending;		/* server stopping: after this message */
	struct auth_request *auth_req;

	struct store_account *account;
	struct store_mailbox *inbox;
	struct store_snapshot *snap;
	bool *deleted;			/* per message of snap */

	int fd;				/* message being sent */
	int64_t body_lines;		/* TOP: body lines left (-1 all) */
	bool in_body, line_start, cr;
	size_t line_len;
};

/* pop3_session.c */
void pop3_reply(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool pop3_error(struct pop3_session *s);
void pop3_close_after_output(struct pop3_session *s);
void pop3_process_input(struct pop3_session *s);
/* Send the message text of fd (TOP: lines of body, -1 = all), then ".". */
void pop3_send_message(struct pop3_session *s, int fd, int64_t lines);

/* pop3_cmd.c */
void pop3_dispatch(struct pop3_session *s, char *line, size_t len);
void pop3_auth_response(struct pop3_session *s, char *line, size_t len);
void pop3_release_mailbox(struct pop3_session *s);

#endif
