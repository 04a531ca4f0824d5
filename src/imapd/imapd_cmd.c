/*
 * imapd_cmd.c - command dispatch {name, handler, states} and the commands
 * of the connection itself: CAPABILITY, NOOP, CHECK, LOGOUT, STARTTLS,
 * AUTHENTICATE, LOGIN, ENABLE, ID, NAMESPACE, IDLE, CLOSE, UNSELECT,
 * EXPUNGE and UID EXPUNGE.  Folder commands live in cmd_folder.c, APPEND
 * in cmd_append.c, and FETCH, SEARCH, STORE, COPY/MOVE in their files.
 */
#include "imapd_private.h"

#include <stdio.h>
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

#define ST_NOT_AUTH (1u << IMAPD_STATE_NOT_AUTH)
#define ST_AUTH (1u << IMAPD_STATE_AUTH)
#define ST_SELECTED (1u << IMAPD_STATE_SELECTED)
#define ST_ANY (ST_NOT_AUTH | ST_AUTH | ST_SELECTED)
#define ST_LOGGED (ST_AUTH | ST_SELECTED)

const char *imapd_capabilities(struct imapd_session *s)
{
	if (s->state == IMAPD_STATE_NOT_AUTH) {
		bool plain = conn_plaintext_ok(&s->conn);
		bool tls = !s->conn.tls && s->conn.srv->tls != NULL;
		return plain ? (tls ? "IMAP4rev1 IMAP4rev2 STARTTLS AUTH=PLAIN SASL-IR LITERAL+ ID ENABLE" :
				"IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR LITERAL+ ID ENABLE") :
			       (tls ? "IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED SASL-IR LITERAL+ ID ENABLE" :
				"IMAP4rev1 IMAP4rev2 LOGINDISABLED SASL-IR LITERAL+ ID ENABLE");
	}
	static char logged[600];
	snprintf(logged, sizeof(logged), "IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE NAMESPACE "
		 "UNSELECT UIDPLUS MOVE MULTIAPPEND CATENATE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED "
		 "LIST-STATUS "
		 "STATUS=SIZE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
		 "UTF8=ACCEPT BINARY CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE "
		 "APPENDLIMIT=%llu%s",
		 (unsigned long long)s->conn.srv->cfg.message_size,
		 s->compressed ? "" : " COMPRESS=DEFLATE");
	return logged;
}

/* ---- connection ---- */

static void cmd_capability(struct imapd_session *s)
{
	imapd_untagged(s, "CAPABILITY %s", imapd_capabilities(s));
	imapd_tagged(s, "OK", "CAPABILITY completed");
}

static void cmd_noop(struct imapd_session *s)
{
	if (s->box != NULL)
		store_mailbox_sync(s->box, NULL);
	imapd_tagged(s, "OK", "%s completed", s->cmd.name);
}

/* Only BYE and the tagged OK follow LOGOUT (RFC 9051 §6.1.3): the
   mailbox is closed first, so that no queued EXPUNGE or FETCH of other
   sessions' changes goes out with the reply. */
static void cmd_logout(struct imapd_session *s)
{
	imapd_unselect(s);
	s->state = IMAPD_STATE_LOGOUT;
	imapd_untagged(s, "BYE correio IMAP server signing off");
	imapd_tagged(s, "OK", "LOGOUT completed");
	imapd_close_after_output(s);
}

static void cmd_starttls(struct imapd_session *s)
{
	if (!conn_starttls_offered(&s->conn)) {
		imapd_tagged(s, "BAD", "TLS already active");
		return;
	}
	if (!conn_starttls_clean(&s->conn)) {
		imapd_tagged(s, "BAD", "command pipelined after STARTTLS");
		imapd_error(s);
		return;
	}
	imapd_tagged(s, "OK", "Begin TLS negotiation now");
	conn_starttls(&s->conn);
}

/* COMPRESS DEFLATE (RFC 4978): the OK goes out as it is, then both ways
   are compressed. */
static void cmd_compress(struct imapd_session *s)
{
	if (s->cmd.arg_count != 1 || !imap_arg_atom_equals(&s->cmd.args[0], "DEFLATE")) {
		imapd_tagged(s, "BAD", "usage: COMPRESS DEFLATE");
		return;
	}
	if (s->compressed) {
		imapd_tagged(s, "NO", "[COMPRESSIONACTIVE] DEFLATE is already active");
		return;
	}
	imapd_tagged(s, "OK", "DEFLATE active");
	if (imapd_start_compress(s) < 0) {
		log_err("imapd: %s: cannot start compression", s->user);
		imapd_close_after_output(s);	/* the client now speaks deflate */
	}
}

static void cmd_enable(struct imapd_session *s)
{
	struct buf enabled;

	buf_init(&enabled, 0);
	for (size_t i = 0; i < s->cmd.arg_count; i++) {
		if (imap_arg_atom_equals(&s->cmd.args[i], "IMAP4rev2") && !s->rev2) {
			s->rev2 = s->utf8 = true;
			buf_puts(&enabled, " IMAP4rev2");
		} else if (imap_arg_atom_equals(&s->cmd.args[i], "UTF8=ACCEPT") && !s->utf8) {
			s->utf8 = true;
			buf_puts(&enabled, " UTF8=ACCEPT");
		} else if (imap_arg_atom_equals(&s->cmd.args[i], "CONDSTORE") && !s->condstore) {
			imapd_condstore_enable(s);
			buf_puts(&enabled, " CONDSTORE");
		} else if (imap_arg_atom_equals(&s->cmd.args[i], "QRESYNC") && !s->qresync) {
			imapd_condstore_enable(s);	/* QRESYNC implies it */
			s->qresync = true;
			buf_puts(&enabled, " QRESYNC");
		}
	}
	imapd_untagged(s, "ENABLED%s", buf_cstr(&enabled));
	buf_deinit(&enabled);
	imapd_tagged(s, "OK", "ENABLE completed");
}

static void cmd_id(struct imapd_session *s)
{
	imapd_untagged(s, "ID (\"name\" \"correio\" \"vendor\" \"correio\")");
	imapd_tagged(s, "OK", "ID completed");
}

static void cmd_namespace(struct imapd_session *s)
{
	imapd_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imapd_tagged(s, "OK", "NAMESPACE completed");
}

/* ---- login ---- */

/* The account's storage limit, for APPEND, COPY and MOVE, and whether
   its INBOX is an mbox file. */
static void set_quota(struct imapd_session *s, const char *user)
{
	struct account acct;

	if (accounts_user_get(s->conn.srv->accounts, user, &acct) > 0) {
		store_account_set_quota(s->account, acct.quota);
		store_account_set_format(s->account, acct.mailbox_format);
	}
}

static void on_auth_result(void *ctx, enum auth_result result, const char *user)
{
	struct imapd_session *s = ctx;
	struct store_error err;

	s->auth_req = NULL;
	if (result == AUTH_OK &&
	    (store_account_open(s->conn.srv->store, user, &s->account, &err) < 0 ||
	     store_account_default_folders(s->account, &err) < 0)) {
		log_err("imapd: %s: %s", user, err.text);
		store_account_unref(&s->account);
		result = AUTH_TEMPFAIL;
	}
	metrics_login(s->conn.listener, result == AUTH_OK);
	switch (result) {
	case AUTH_OK:
		set_quota(s, user);
		str_copy(s->user, user, sizeof(s->user));
		s->state = IMAPD_STATE_AUTH;
		log_info("imapd: %s: logged in from [%s]", user, s->conn.addr);
		imapd_tagged(s, "OK", "[CAPABILITY %s] Logged in", imapd_capabilities(s));
		break;
	case AUTH_FAILED:
		imapd_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		imapd_error(s);
		break;
	default:
		imapd_tagged(s, "NO", "[UNAVAILABLE] %s", result == AUTH_THROTTLED ?
			     "Too many failed attempts, try again later" :
			     "Temporary authentication failure");
	}
	imapd_resume_input(s);
}

static void check_password(struct imapd_session *s, const char *user, const char *pw)
{
	s->auth_req = auth_verify(s->conn.srv->auth, s->conn.addr, user, pw,
				  on_auth_result, s);
}

/* A password in the clear from another machine: refuse, and say how to get
   TLS.  Returns true after replying. */
static bool plaintext_refused(struct imapd_session *s, const char *what)
{
	char hint[300];

	if (conn_plaintext_ok(&s->conn))
		return false;
	conn_tls_hint(&s->conn, hint, sizeof(hint));
	imapd_tagged(s, "NO", "[PRIVACYREQUIRED] %s needs TLS: %s", what, hint);
	return true;
}

static void cmd_login(struct imapd_session *s)
{
	const char *user, *pw;

	if (plaintext_refused(s, "LOGIN"))
		return;
	if (s->cmd.arg_count != 2 || !imap_arg_get_astring(&s->cmd.args[0], &user) ||
	    !imap_arg_get_astring(&s->cmd.args[1], &pw)) {
		imapd_tagged(s, "BAD", "usage: LOGIN user password");
		return;
	}
	check_password(s, user, pw);
}

/* An AUTHENTICATE PLAIN response (initial or on its own line). */
static void auth_plain(struct imapd_session *s, const char *b64, size_t len)
{
	struct sasl_plain p;
	const char *error;

	if (len == 1 && b64[0] == '*') {
		imapd_tagged(s, "BAD", "AUTHENTICATE aborted");
		return;
	}
	if (sasl_plain_decode(b64, len, &p, &error) < 0) {
		imapd_tagged(s, "BAD", "cannot decode the response: %s", error);
		return;
	}
	if (p.authzid[0] != '\0' && !str_ieq(p.authzid, p.authcid)) {
		explicit_bzero(&p, sizeof(p));
		imapd_tagged(s, "NO", "[AUTHORIZATIONFAILED] authorization identity not allowed");
		return;
	}
	check_password(s, p.authcid, p.password);
	explicit_bzero(&p, sizeof(p));
}

static void cmd_authenticate(struct imapd_session *s)
{
	const char *mech, *initial;

	if (s->cmd.arg_count < 1 || !imap_arg_get_atom(&s->cmd.args[0], &mech)) {
		imapd_tagged(s, "BAD", "usage: AUTHENTICATE mechanism");
		return;
	}
	if (strcasecmp(mech, "PLAIN") != 0) {
		imapd_tagged(s, "NO", "[CANNOT] unsupported mechanism");
		return;
	}
	if (plaintext_refused(s, "AUTHENTICATE PLAIN"))
		return;
	if (s->cmd.arg_count >= 2 && imap_arg_get_atom(&s->cmd.args[1], &initial)) {
		auth_plain(s, initial, strcmp(initial, "=") == 0 ? 0 : strlen(initial));
		return;
	}
	s->auth_continue = true;
	imap_parser_read_line(s->parser);
	evbuffer_add_printf(imapd_out(s), "+ \r\n");
}

/* A raw line: AUTHENTICATE's response, or IDLE's DONE. */
void imapd_line(struct imapd_session *s, const struct imap_event *ev)
{
	if (s->auth_continue) {
		s->auth_continue = false;
		auth_plain(s, ev->data, ev->data_len);
		return;
	}
	if (s->idling) {
		s->idling = false;
		if (strcasecmp(ev->data, "DONE") == 0)
			imapd_tagged(s, "OK", "IDLE terminated");
		else
			imapd_tagged(s, "BAD", "expected DONE");
	}
}

/* ---- selected state ---- */

static void cmd_idle(struct imapd_session *s)
{
	if (s->box != NULL) {
		store_mailbox_sync(s->box, NULL);
		imapd_flush_updates(s, true);
	}
	s->idling = true;
	imap_parser_read_line(s->parser);
	evbuffer_add_printf(imapd_out(s), "+ idling\r\n");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int expunge_deleted(struct imapd_session *s, const uint32_t *only, unsigned n_only,
			   bool silent)
{
	struct store_error err;
	struct store_msg m;
	uint32_t *uids = xcalloc(s->n_uids + 1, sizeof(*uids));
	unsigned n = 0;
	int ret = 1;

	for (unsigned i = 0; i < s->n_uids; i++) {
		if (store_mailbox_lookup_flags(s->box, s->uids[i], &m) <= 0 ||
		    !(m.flags & STORE_FLAG_DELETED))
			continue;
		if (only != NULL && bsearch(&m.uid, only, n_only, sizeof(*only), cmp_u32) == NULL)
			continue;
		uids[n++] = m.uid;
	}
	if (n > 0 && store_mailbox_expunge_later(s->box, uids, &n, &err) < 0)
		ret = -1;
	/* our own expunges are not reported by the listener: queue them */
	for (unsigned i = 0; i < n && ret > 0; i++)
		imapd_view_expunge(s, uids[i], !silent);
	free(uids);
	return ret;
}

static void cmd_expunge(struct imapd_session *s)
{
	uint32_t *only = NULL;
	const char *set;
	int n = 0;

	if (s->readonly) {
		imapd_tagged(s, "NO", "[READ-ONLY] mailbox is read-only");
		return;
	}
	if (s->cmd.uid) {
		if (s->cmd.arg_count != 1 || !imap_arg_get_atom(&s->cmd.args[0], &set)) {
			imapd_tagged(s, "BAD", "usage: UID EXPUNGE set");
			return;
		}
		if ((n = imapd_resolve_set(s, set, true, &only)) < 0) {
			imapd_done(s);
			return;
		}
	}
	if (expunge_deleted(s, only, (unsigned)n, false) < 0) {
		imapd_tagged(s, "NO", "[SERVERBUG] expunge failed");
	} else if (s->condstore) {
		struct store_status st;
		store_mailbox_status(s->box, &st);
		imapd_tagged(s, "OK", "[HIGHESTMODSEQ %llu] EXPUNGE completed",
			     (unsigned long long)st.highestmodseq);
	} else {
		imapd_tagged(s, "OK", "EXPUNGE completed");
	}
	free(only);
}

static void cmd_close(struct imapd_session *s)
{
	if (!s->readonly && strcmp(s->cmd.name, "CLOSE") == 0)
		expunge_deleted(s, NULL, 0, true);	/* silently (RFC 9051 §6.4.1) */
	imapd_unselect(s);
	imapd_tagged(s, "OK", "%s completed", s->cmd.name);
}

/* ---- dispatch ---- */

struct imapd_cmd {
	const char *name;
	void (*handler)(struct imapd_session *s);
	unsigned states;
	bool uid;		/* may follow UID */
};

static const struct imapd_cmd commands[] = {
	{ "CAPABILITY", cmd_capability, ST_ANY, false },
	{ "NOOP", cmd_noop, ST_ANY, false },
	{ "LOGOUT", cmd_logout, ST_ANY, false },
	{ "STARTTLS", cmd_starttls, ST_NOT_AUTH, false },
	{ "AUTHENTICATE", cmd_authenticate, ST_NOT_AUTH, false },
	{ "LOGIN", cmd_login, ST_NOT_AUTH, false },
	{ "ENABLE", cmd_enable, ST_LOGGED, false },
	{ "COMPRESS", cmd_compress, ST_LOGGED, false },
	{ "ID", cmd_id, ST_ANY, false },
	{ "NAMESPACE", cmd_namespace, ST_LOGGED, false },
	{ "SELECT", imapd_cmd_select, ST_LOGGED, false },
	{ "EXAMINE", imapd_cmd_select, ST_LOGGED, false },
	{ "CREATE", imapd_cmd_folder, ST_LOGGED, false },
	{ "DELETE", imapd_cmd_folder, ST_LOGGED, false },
	{ "RENAME", imapd_cmd_folder, ST_LOGGED, false },
	{ "SUBSCRIBE", imapd_cmd_folder, ST_LOGGED, false },
	{ "UNSUBSCRIBE", imapd_cmd_folder, ST_LOGGED, false },
	{ "LIST", imapd_cmd_list, ST_LOGGED, false },
	{ "LSUB", imapd_cmd_list, ST_LOGGED, false },
	{ "STATUS", imapd_cmd_status, ST_LOGGED, false },
	{ "GETQUOTA", imapd_cmd_quota, ST_LOGGED, false },
	{ "GETQUOTAROOT", imapd_cmd_quota, ST_LOGGED, false },
	{ "SETQUOTA", imapd_cmd_quota, ST_LOGGED, false },
	{ "APPEND", imapd_cmd_append, ST_LOGGED, false },
	{ "IDLE", cmd_idle, ST_LOGGED, false },
	{ "CHECK", cmd_noop, ST_SELECTED, false },
	{ "CLOSE", cmd_close, ST_SELECTED, false },
	{ "UNSELECT", cmd_close, ST_SELECTED, false },
	{ "EXPUNGE", cmd_expunge, ST_SELECTED, true },
	{ "FETCH", imapd_cmd_fetch, ST_SELECTED, true },
	{ "SEARCH", imapd_cmd_search, ST_SELECTED, true },
	{ "SORT", imapd_cmd_sort, ST_SELECTED, true },
	{ "THREAD", imapd_cmd_thread, ST_SELECTED, true },
	{ "STORE", imapd_cmd_store, ST_SELECTED, true },
	{ "COPY", imapd_cmd_copy, ST_SELECTED, true },
	{ "MOVE", imapd_cmd_copy, ST_SELECTED, true },
};

static const struct imapd_cmd *find(const char *name, bool uid)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcasecmp(commands[i].name, name) == 0 && (!uid || commands[i].uid))
			return &commands[i];
	return NULL;
}

void imapd_cmd_dispatch(struct imapd_session *s, const struct imap_event *ev)
{
	const struct imapd_cmd *c;
	const char *name = ev->name;

	s->busy = true;
	buf_reset(&s->tag);
	buf_puts(&s->tag, ev->tag);
	s->cmd.tag = buf_cstr(&s->tag);
	s->cmd.args = ev->args;
	s->cmd.arg_count = ev->arg_count;
	s->cmd.uid = strcasecmp(name, "UID") == 0;
	if (s->cmd.uid) {
		if (ev->arg_count < 1 || !imap_arg_get_atom(&ev->args[0], &name)) {
			s->cmd.name = "UID";
			imapd_tagged(s, "BAD", "UID needs a command");
			return;
		}
		s->cmd.args++;
		s->cmd.arg_count--;
	}
	c = find(name, s->cmd.uid);
	s->cmd.name = c != NULL ? c->name : "?";
	if (c == NULL) {
		imapd_tagged(s, "BAD", "unknown command");
		imapd_error(s);
	} else if ((c->states & (1u << s->state)) == 0) {
		imapd_tagged(s, "BAD", "%s not allowed %s", c->name,
			     s->state == IMAPD_STATE_NOT_AUTH ? "before login" :
			     (c->states & ST_NOT_AUTH) ? "after login" :
			     "without a selected mailbox");
	} else {
		c->handler(s);
	}
}
