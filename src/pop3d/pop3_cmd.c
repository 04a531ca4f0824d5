/*
 * pop3_cmd.c - the POP3 commands, one table {name, handler, states}.
 *
 * AUTHORIZATION: CAPA, USER, PASS, AUTH, STLS, QUIT.  TRANSACTION: STAT,
 * LIST, RETR, DELE, RSET, NOOP, TOP, UIDL, QUIT (and CAPA).  Message
 * numbers refer to the snapshot of INBOX taken at login; DELE only marks,
 * and the marked messages are expunged at QUIT (the UPDATE state).
 */
#include "pop3_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "auth/accounts.h"
#include "auth/auth.h"
#include "auth/sasl.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/util.h"
#include "delivery/delivery.h"
#include "store/store.h"

#define ST_AUTHZ (1u << POP3_STATE_AUTHORIZATION)
#define ST_TRANS (1u << POP3_STATE_TRANSACTION)

struct pop3_cmd {
	const char *name;
	void (*handler)(struct pop3_session *s, char *arg);
	unsigned states;
};

void pop3_release_mailbox(struct pop3_session *s)
{
	store_snapshot_free(&s->snap);
	store_mailbox_close(&s->inbox);
	store_account_unref(&s->account);
	free(s->deleted);
	s->deleted = NULL;
}

static bool plaintext_ok(struct pop3_session *s)
{
	return conn_plaintext_ok(&s->conn);
}

/* ---- AUTHORIZATION ---- */

static void cmd_capa(struct pop3_session *s, char *arg)
{
	pop3_reply(s, "+OK capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	pop3_reply(s, "EXPIRE NEVER");
	if (s->state == POP3_STATE_AUTHORIZATION) {
		if (plaintext_ok(s)) {
			pop3_reply(s, "USER");
			pop3_reply(s, "SASL PLAIN");
		}
		if (conn_starttls_offered(&s->conn))
			pop3_reply(s, "STLS");
	}
	pop3_reply(s, "IMPLEMENTATION correio");
	pop3_reply(s, ".");
}

static void cmd_stls(struct pop3_session *s, char *arg)
{
	if (s->conn.tls) {
		pop3_reply(s, "-ERR TLS already active");
		pop3_error(s);
		return;
	}
	if (!conn_starttls_clean(&s->conn)) {
		pop3_reply(s, "-ERR command pipelined after STLS");
		pop3_error(s);
		return;
	}
	pop3_reply(s, "+OK begin TLS negotiation");
	s->user[0] = '\0';
	conn_starttls(&s->conn);
}

/* USER, PASS or AUTH PLAIN in the clear from another machine: refuse, and
   say how to get TLS.  Returns true after replying. */
static bool plaintext_refused(struct pop3_session *s)
{
	char hint[300];

	if (plaintext_ok(s))
		return false;
	conn_tls_hint(&s->conn, hint, sizeof(hint));
	pop3_reply(s, "-ERR [AUTH] plaintext login needs TLS: %s", hint);
	pop3_error(s);
	return true;
}

static void cmd_user(struct pop3_session *s, char *arg)
{
	if (plaintext_refused(s))
		return;
	if (arg[0] == '\0' || strlen(arg) >= sizeof(s->user)) {
		pop3_reply(s, "-ERR usage: USER name");
		pop3_error(s);
		return;
	}
	str_copy(s->user, arg, sizeof(s->user));
	pop3_reply(s, "+OK send PASS");
}

/* The account's INBOX: an mbox file or the Maildir. */
static void set_format(struct pop3_session *s, const char *user)
{
	struct account acct;

	if (accounts_user_get(s->conn.srv->accounts, user, &acct) > 0)
		store_account_set_mbox(s->account, delivery_uses_mbox(&s->conn.srv->cfg,
								      acct.mailbox_format));
}

/* Open INBOX and take the snapshot.  Returns 1, or -1 after replying. */
static int open_maildrop(struct pop3_session *s, const char *user)
{
	struct store_error err;
	int ret = store_account_open(s->conn.srv->store, user, &s->account, &err);

	if (ret > 0)
		set_format(s, user);
	if (ret < 0 ||
	    store_mailbox_open(s->account, "INBOX", NULL, NULL, &s->inbox, &err) < 0 ||
	    (s->snap = store_snapshot_new(s->inbox)) == NULL) {
		log_err("pop3d: %s: cannot open the maildrop: %s", user, err.text);
		pop3_release_mailbox(s);
		pop3_reply(s, "-ERR [SYS/TEMP] cannot open the maildrop");
		return -1;
	}
	s->deleted = xcalloc(s->snap->count + 1, sizeof(*s->deleted));
	return 1;
}

static void on_auth_result(void *ctx, enum auth_result result, const char *user)
{
	struct pop3_session *s = ctx;
	bool ok;

	s->auth_req = NULL;
	s->state = POP3_STATE_AUTHORIZATION;
	s->user[0] = '\0';
	ok = result == AUTH_OK && open_maildrop(s, user) > 0;
	metrics_login(s->conn.listener, ok);
	if (ok) {
		str_copy(s->user, user, sizeof(s->user));
		s->state = POP3_STATE_TRANSACTION;
		log_info("pop3d: %s: logged in from [%s], %u messages", user, s->conn.addr,
			 s->snap->count);
		pop3_reply(s, "+OK maildrop has %u messages (%llu octets)", s->snap->count,
			   (unsigned long long)s->snap->total_vsize);
	} else if (result == AUTH_FAILED) {
		pop3_reply(s, "-ERR [AUTH] authentication failed");
		pop3_error(s);
	} else if (result == AUTH_THROTTLED || result == AUTH_TEMPFAIL) {
		pop3_reply(s, "-ERR [SYS/TEMP] %s", result == AUTH_THROTTLED ?
			   "too many failed attempts, try again later" :
			   "temporary authentication failure");
	}
	pop3_process_input(s);
}

static void check_password(struct pop3_session *s, const char *user, const char *password)
{
	s->state = POP3_STATE_CHECKING;
	s->auth_req = auth_verify(s->conn.srv->auth, s->conn.addr, user, password,
				  on_auth_result, s);
}

static void cmd_pass(struct pop3_session *s, char *arg)
{
	/* the USER before it was refused for the same reason: say that again */
	if (plaintext_refused(s))
		return;
	if (s->user[0] == '\0') {
		pop3_reply(s, "-ERR send USER first");
		pop3_error(s);
		return;
	}
	check_password(s, s->user, arg);
}

void pop3_auth_response(struct pop3_session *s, char *line, size_t len)
{
	struct sasl_plain p;
	const char *error;

	s->state = POP3_STATE_AUTHORIZATION;
	if (len == 1 && line[0] == '*') {
		pop3_reply(s, "-ERR authentication aborted");
		return;
	}
	if (sasl_plain_decode(line, len, &p, &error) < 0) {
		pop3_reply(s, "-ERR [AUTH] cannot decode the response: %s", error);
		pop3_error(s);
		return;
	}
	if (p.authzid[0] != '\0' && !str_ieq(p.authzid, p.authcid)) {
		explicit_bzero(&p, sizeof(p));
		pop3_reply(s, "-ERR [AUTH] authorization identity not allowed");
		pop3_error(s);
		return;
	}
	check_password(s, p.authcid, p.password);
	explicit_bzero(&p, sizeof(p));
}

static void cmd_auth(struct pop3_session *s, char *arg)
{
	char *initial = strchr(arg, ' ');

	if (arg[0] == '\0') {
		pop3_reply(s, "+OK SASL mechanisms follow");
		if (plaintext_ok(s))
			pop3_reply(s, "PLAIN");
		pop3_reply(s, ".");
		return;
	}
	if (initial != NULL)
		*initial++ = '\0';
	if (!str_ieq(arg, "PLAIN")) {
		pop3_reply(s, "-ERR unsupported mechanism");
		pop3_error(s);
		return;
	}
	if (plaintext_refused(s))
		return;
	if (initial == NULL) {
		s->state = POP3_STATE_AUTH_PLAIN;
		pop3_reply(s, "+ ");
		return;
	}
	pop3_auth_response(s, initial, strcmp(initial, "=") == 0 ? 0 : strlen(initial));
}

/* ---- TRANSACTION ---- */

/* Parse a message number; 0 after replying -ERR. */
static unsigned msg_number(struct pop3_session *s, const char *arg)
{
	uint64_t n;

	if (parse_uint(arg, &n) < 0 || n == 0 || n > s->snap->count) {
		pop3_reply(s, "-ERR no such message");
		pop3_error(s);
		return 0;
	}
	if (s->deleted[n - 1]) {
		pop3_reply(s, "-ERR message %u already deleted", (unsigned)n);
		return 0;
	}
	return (unsigned)n;
}

static void cmd_stat(struct pop3_session *s, char *arg)
{
	unsigned n = 0;
	uint64_t size = 0;

	for (unsigned i = 0; i < s->snap->count; i++)
		if (!s->deleted[i]) {
			n++;
			size += s->snap->msgs[i].vsize;
		}
	pop3_reply(s, "+OK %u %llu", n, (unsigned long long)size);
}

static void list_or_uidl(struct pop3_session *s, char *arg, bool uidl)
{
	char id[32];
	unsigned n;

	if (arg[0] != '\0') {
		if ((n = msg_number(s, arg)) == 0)
			return;
		store_uidl(s->snap->uidvalidity, s->snap->msgs[n - 1].uid, id, sizeof(id));
		if (uidl)
			pop3_reply(s, "+OK %u %s", n, id);
		else
			pop3_reply(s, "+OK %u %llu", n, (unsigned long long)s->snap->msgs[n - 1].vsize);
		return;
	}
	pop3_reply(s, "+OK listing follows");
	for (unsigned i = 0; i < s->snap->count; i++) {
		if (s->deleted[i])
			continue;
		store_uidl(s->snap->uidvalidity, s->snap->msgs[i].uid, id, sizeof(id));
		if (uidl)
			pop3_reply(s, "%u %s", i + 1, id);
		else
			pop3_reply(s, "%u %llu", i + 1, (unsigned long long)s->snap->msgs[i].vsize);
	}
	pop3_reply(s, ".");
}

static void cmd_list(struct pop3_session *s, char *arg)
{
	list_or_uidl(s, arg, false);
}

static void cmd_uidl(struct pop3_session *s, char *arg)
{
	list_or_uidl(s, arg, true);
}

static void send_text(struct pop3_session *s, unsigned n, int64_t lines)
{
	struct store_error err;
	struct store_msg m;
	int fd, ret;

	ret = store_mailbox_open_msg(s->inbox, s->snap->msgs[n - 1].uid, &fd, &m, &err);
	if (ret <= 0) {
		pop3_reply(s, "-ERR [SYS/TEMP] %s", ret == 0 ? "message was removed meanwhile" :
			   "cannot read the message");
		return;
	}
	if (lines < 0)
		pop3_reply(s, "+OK %llu octets", (unsigned long long)s->snap->msgs[n - 1].vsize);
	else
		pop3_reply(s, "+OK top of message follows");
	pop3_send_message(s, fd, lines);
}

static void cmd_retr(struct pop3_session *s, char *arg)
{
	unsigned n = msg_number(s, arg);

	if (n > 0)
		send_text(s, n, -1);
}

static void cmd_top(struct pop3_session *s, char *arg)
{
	char *k = strchr(arg, ' ');
	uint64_t lines;
	unsigned n;

	if (k == NULL || parse_uint(k + 1, &lines) < 0 || lines > INT64_MAX) {
		pop3_reply(s, "-ERR usage: TOP msg lines");
		pop3_error(s);
		return;
	}
	*k = '\0';
	if ((n = msg_number(s, arg)) > 0)
		send_text(s, n, (int64_t)lines);
}

static void cmd_dele(struct pop3_session *s, char *arg)
{
	unsigned n = msg_number(s, arg);

	if (n == 0)
		return;
	s->deleted[n - 1] = true;
	pop3_reply(s, "+OK message %u deleted", n);
}

static void cmd_rset(struct pop3_session *s, char *arg)
{
	memset(s->deleted, 0, s->snap->count * sizeof(*s->deleted));
	cmd_stat(s, arg);
}

static void cmd_noop(struct pop3_session *s, char *arg)
{
	pop3_reply(s, "+OK");
}

/* The UPDATE state: expunge what was marked. */
static int update(struct pop3_session *s)
{
	uint32_t *uids = xcalloc(s->snap->count + 1, sizeof(*uids));
	struct store_error err;
	unsigned n = 0;
	int ret = 1;

	for (unsigned i = 0; i < s->snap->count; i++)
		if (s->deleted[i])
			uids[n++] = s->snap->msgs[i].uid;
	if (n > 0 && store_mailbox_expunge(s->inbox, uids, &n, &err) < 0) {
		log_err("pop3d: %s: expunge: %s", s->user, err.text);
		ret = -1;
	}
	if (n > 0 && ret > 0)
		log_info("pop3d: %s: %u message(s) deleted", s->user, n);
	free(uids);
	return ret;
}

static void cmd_quit(struct pop3_session *s, char *arg)
{
	if (s->state == POP3_STATE_TRANSACTION && update(s) < 0)
		pop3_reply(s, "-ERR [SYS/TEMP] some deleted messages were not removed");
	else
		pop3_reply(s, "+OK correio POP3 server signing off");
	pop3_close_after_output(s);
}

static const struct pop3_cmd commands[] = {
	{ "CAPA", cmd_capa, ST_AUTHZ | ST_TRANS },
	{ "USER", cmd_user, ST_AUTHZ },
	{ "PASS", cmd_pass, ST_AUTHZ },
	{ "AUTH", cmd_auth, ST_AUTHZ },
	{ "STLS", cmd_stls, ST_AUTHZ },
	{ "QUIT", cmd_quit, ST_AUTHZ | ST_TRANS },
	{ "STAT", cmd_stat, ST_TRANS },
	{ "LIST", cmd_list, ST_TRANS },
	{ "RETR", cmd_retr, ST_TRANS },
	{ "DELE", cmd_dele, ST_TRANS },
	{ "RSET", cmd_rset, ST_TRANS },
	{ "NOOP", cmd_noop, ST_TRANS },
	{ "TOP", cmd_top, ST_TRANS },
	{ "UIDL", cmd_uidl, ST_TRANS },
};

void pop3_dispatch(struct pop3_session *s, char *line, size_t len)
{
	char *arg = strchr(line, ' ');

	if (s->trace || log_debug_enabled()) {
		/* PASS and AUTH's initial response carry a password */
		size_t shown = len;
		if (len >= 4 && strncasecmp(line, "PASS", 4) == 0)
			shown = 4;
		else if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0)
			shown = 5 + strcspn(line + 5, " ");
		log_dialogue(s->trace, "pop3d", s->conn.addr, "<", line, shown);
	}
	if (memchr(line, '\0', len) != NULL) {
		pop3_reply(s, "-ERR NUL in command");
		pop3_error(s);
		return;
	}
	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = line + len;
	if (strcasecmp(line, "PASS") != 0)
		while (*arg == ' ')
			arg++;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcasecmp(commands[i].name, line) != 0)
			continue;
		if ((commands[i].states & (1u << s->state)) == 0) {
			pop3_reply(s, "-ERR command not valid in this state");
			pop3_error(s);
		} else {
			commands[i].handler(s, arg);
		}
		return;
	}
	pop3_reply(s, "-ERR unknown command");
	pop3_error(s);
}
