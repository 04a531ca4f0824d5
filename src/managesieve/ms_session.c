/*
 * ms_session.c - one ManageSieve connection (RFC 5804): the capability
 * greeting, STARTTLS, AUTHENTICATE PLAIN, and the script commands on the
 * account's store (src/sieve).  Replies are OK/NO/BYE with the response
 * codes of RFC 5804 §1.3; a script that does not compile is refused with
 * the compiler's "line N: ..." message.
 */
#include "managesieve.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth/accounts.h"
#include "auth/auth.h"
#include "auth/sasl.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "conn/conn.h"
#include "sieve/sieve.h"

#define MS_INPUT_MAX 65536
#define MS_QUOTED_MAX 1024	/* longer strings, or with CR/LF, go as literals */

enum ms_state {
	MS_NONAUTH,
	MS_AUTH_PLAIN,		/* waiting for the SASL response */
	MS_CHECKING,		/* password check in flight */
	MS_AUTHED,
};

struct ms_session {
	struct conn conn;	/* first: the connection layer's view */
	enum ms_state state;
	struct ms_parser parser;
	char user[320];
	char dir[4400];		/* the account's Sieve directory (sieve_store_dir) */
	unsigned errors;
	bool trace, quitting;
	struct auth_request *auth_req;
};

static void session_free(struct ms_session *s)
{
	if (conn_guard_defer(&s->conn))
		return;
	log_info("managesieve: disconnect from [%s]:%u", s->conn.addr, s->conn.port);
	if (s->auth_req != NULL)
		auth_cancel(s->auth_req);
	ms_parser_deinit(&s->parser);
	conn_unregister(&s->conn);
	free(s);
}

/* A string as RFC 5804 wants it: quoted when short and plain, else a
   literal. */
static void add_string(struct evbuffer *out, const char *text, size_t len)
{
	bool quoted = len <= MS_QUOTED_MAX;

	for (size_t i = 0; i < len && quoted; i++)
		quoted = text[i] != '\r' && text[i] != '\n' && text[i] != '\0';
	if (!quoted) {
		evbuffer_add_printf(out, "{%zu}\r\n", len);
		evbuffer_add(out, text, len);
		return;
	}
	evbuffer_add(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"' || text[i] == '\\')
			evbuffer_add(out, "\\", 1);
		evbuffer_add(out, text + i, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* "OK", "NO" or "BYE", an optional response code, and a text. */
static void reply(struct ms_session *s, const char *kind, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void reply(struct ms_session *s, const char *kind, const char *code,
		  const char *fmt, ...)
{
	struct evbuffer *out = conn_output(&s->conn);
	char text[600], line[700];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (s->trace || log_debug_enabled()) {
		n = snprintf(line, sizeof(line), "%s%s%s%s %s", kind, code ? " (" : "",
			     code ? code : "", code ? ")" : "", text);
		log_dialogue(s->trace, "managesieve", s->conn.addr, ">", line,
			     n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	evbuffer_add_printf(out, "%s", kind);
	if (code != NULL)
		evbuffer_add_printf(out, " (%s)", code);
	evbuffer_add(out, " ", 1);
	add_string(out, text, strlen(text));
	evbuffer_add(out, "\r\n", 2);
}

static void close_after_output(struct ms_session *s)
{
	s->quitting = true;
	conn_close_after_output(&s->conn);
}

/* Count an error; after [limits] errors, say BYE.  True when closing. */
static bool error(struct ms_session *s)
{
	if (++s->errors < s->conn.srv->cfg.max_errors)
		return false;
	reply(s, "BYE", NULL, "too many errors, closing");
	close_after_output(s);
	return true;
}

static void no(struct ms_session *s, const char *code, const char *text)
{
	reply(s, "NO", code, "%s", text);
	error(s);
}

static void capabilities(struct ms_session *s)
{
	struct evbuffer *out = conn_output(&s->conn);
	char ext[1024];

	sieve_extensions_text(ext, sizeof(ext));
	evbuffer_add_printf(out, "\"IMPLEMENTATION\" \"correio\"\r\n");
	evbuffer_add_printf(out, "\"SASL\" \"%s\"\r\n",
			    conn_plaintext_ok(&s->conn) ? "PLAIN" : "");
	evbuffer_add_printf(out, "\"SIEVE\" \"%s\"\r\n", ext);
	evbuffer_add_printf(out, "\"MAXREDIRECTS\" \"%d\"\r\n", SIEVE_MAX_REDIRECTS);
	if (conn_starttls_offered(&s->conn))
		evbuffer_add_printf(out, "\"STARTTLS\"\r\n");
	evbuffer_add_printf(out, "\"UNAUTHENTICATE\"\r\n");
	if (s->state == MS_AUTHED)
		evbuffer_add_printf(out, "\"OWNER\" \"%s\"\r\n", s->user);
	evbuffer_add_printf(out, "\"VERSION\" \"1.0\"\r\n");
	reply(s, "OK", NULL, "correio ManageSieve ready");
}

/* ---- commands ---- */

struct args {
	unsigned n;		/* arguments after the command name */
	const char *v[MS_MAX_ARGS];
	size_t len[MS_MAX_ARGS];
	bool string[MS_MAX_ARGS];
};

static void cmd_capability(struct ms_session *s, struct args *a)
{
	capabilities(s);
}

static void cmd_starttls(struct ms_session *s, struct args *a)
{
	if (!conn_starttls_offered(&s->conn)) {
		no(s, NULL, s->conn.tls ? "TLS already active" : "TLS is not configured");
		return;
	}
	if (!conn_starttls_clean(&s->conn)) {
		no(s, NULL, "command pipelined after STARTTLS");
		return;
	}
	reply(s, "OK", NULL, "begin TLS negotiation");
	conn_starttls(&s->conn);
	capabilities(s);	/* RFC 5804 §2.2: said again under TLS */
}

static void on_auth_result(void *ctx, enum auth_result result, const char *user);
static bool process_input(struct ms_session *s);

static void plain_response(struct ms_session *s, const char *b64, size_t len)
{
	struct sasl_plain p;
	const char *why;

	s->state = MS_NONAUTH;
	if (len == 1 && b64[0] == '*') {
		no(s, NULL, "authentication aborted");
		return;
	}
	if (sasl_plain_decode(b64, len, &p, &why) < 0) {
		reply(s, "NO", NULL, "cannot decode the response: %s", why);
		error(s);
		return;
	}
	if (p.authzid[0] != '\0' && !str_ieq(p.authzid, p.authcid)) {
		explicit_bzero(&p, sizeof(p));
		no(s, NULL, "authorization identity not allowed");
		return;
	}
	s->state = MS_CHECKING;
	s->auth_req = auth_verify(s->conn.srv->auth, s->conn.addr, p.authcid, p.password,
				  on_auth_result, s);
	explicit_bzero(&p, sizeof(p));
}

static void cmd_authenticate(struct ms_session *s, struct args *a)
{
	char hint[300];

	if (a->n < 1 || a->n > 2 || !str_ieq(a->v[0], "PLAIN")) {
		no(s, NULL, a->n < 1 ? "usage: AUTHENTICATE \"PLAIN\" [initial-response]" :
		   "unsupported mechanism");
		return;
	}
	if (!conn_plaintext_ok(&s->conn)) {
		conn_tls_hint(&s->conn, hint, sizeof(hint));
		reply(s, "NO", "ENCRYPT-NEEDED", "plaintext login needs TLS: %s", hint);
		error(s);
		return;
	}
	if (a->n == 1) {
		s->state = MS_AUTH_PLAIN;
		evbuffer_add(conn_output(&s->conn), "\"\"\r\n", 4);
		return;
	}
	plain_response(s, a->v[1], a->len[1]);
}

/* The account's script directory.  1, or -1 with a reason. */
static int open_account(struct ms_session *s, const char *user, const char **why)
{
	struct account acct;

	if (accounts_user_get(s->conn.srv->accounts, user, &acct) <= 0) {
		*why = "cannot read the account";
		return -1;
	}
	sieve_store_dir(s->conn.srv->cfg.data_dir, acct.address, s->dir, sizeof(s->dir));
	str_copy(s->user, acct.address, sizeof(s->user));
	return 1;
}

static void on_auth_result(void *ctx, enum auth_result result, const char *user)
{
	struct ms_session *s = ctx;
	const char *why = "";
	bool ok;

	s->auth_req = NULL;
	s->state = MS_NONAUTH;
	ok = result == AUTH_OK && open_account(s, user, &why) > 0;
	metrics_login(s->conn.listener, ok);
	if (ok) {
		s->state = MS_AUTHED;
		log_info("managesieve: %s: logged in from [%s]", s->user, s->conn.addr);
		reply(s, "OK", NULL, "logged in");
	} else if (result == AUTH_OK) {
		reply(s, "NO", NULL, "%s", why);
	} else if (result == AUTH_FAILED) {
		no(s, NULL, "authentication failed");
	} else {
		reply(s, "NO", "TRYLATER", "%s", result == AUTH_THROTTLED ?
		      "too many failed attempts, try again later" :
		      "temporary authentication failure");
	}
	if (process_input(s))
		conn_ack_input(&s->conn);
}

static void cmd_logout(struct ms_session *s, struct args *a)
{
	reply(s, "OK", NULL, "logout completed");
	close_after_output(s);
}

static void cmd_noop(struct ms_session *s, struct args *a)
{
	if (a->n == 1) {
		struct evbuffer *out = conn_output(&s->conn);
		evbuffer_add(out, "OK (TAG ", 8);
		add_string(out, a->v[0], a->len[0]);
		evbuffer_add(out, ") \"done\"\r\n", 10);
		return;
	}
	reply(s, "OK", NULL, "done");
}

/* Compile a script; on error reply NO with "line N: ...".  True if good. */
static bool script_ok(struct ms_session *s, const char *text, size_t len)
{
	struct sieve_script *script;
	char err[300];

	if (sieve_compile(text, len, &script, err, sizeof(err)) < 0) {
		reply(s, "NO", NULL, "%s", err);
		error(s);
		return false;
	}
	sieve_script_free(&script);
	return true;
}

static bool name_ok(struct ms_session *s, const char *name)
{
	if (sieve_store_valid_name(name))
		return true;
	no(s, NULL, "invalid script name");
	return false;
}

static void store_failed(struct ms_session *s, const char *what)
{
	log_err("managesieve: %s: %s %s: %s", s->user, what, s->dir, strerror(errno));
	reply(s, "NO", "TRYLATER", "cannot %s the script store", what);
}

/* A script of len bytes under name fits?  True, or false after NO (QUOTA). */
static bool space_ok(struct ms_session *s, const char *name, uint64_t len)
{
	struct buf old;
	int n;

	if (len > SIEVE_MAX_SCRIPT) {
		reply(s, "NO", "QUOTA/MAXSIZE", "a script is at most %d bytes", SIEVE_MAX_SCRIPT);
		return false;
	}
	buf_init(&old, 1);	/* existence only */
	n = sieve_store_get(s->dir, name, &old);
	buf_deinit(&old);
	if (n == 0 && sieve_store_list(s->dir, NULL, NULL) >= SIEVE_STORE_MAX_SCRIPTS) {
		reply(s, "NO", "QUOTA/MAXSCRIPTS", "at most %d scripts", SIEVE_STORE_MAX_SCRIPTS);
		return false;
	}
	return true;
}

static void cmd_havespace(struct ms_session *s, struct args *a)
{
	uint64_t size;

	if (a->n != 2 || parse_uint(a->v[1], &size) < 0) {
		no(s, NULL, "usage: HAVESPACE name size");
		return;
	}
	if (name_ok(s, a->v[0]) && space_ok(s, a->v[0], size))
		reply(s, "OK", NULL, "putscript would succeed");
}

static void cmd_putscript(struct ms_session *s, struct args *a)
{
	if (a->n != 2 || !a->string[1]) {
		no(s, NULL, "usage: PUTSCRIPT name script");
		return;
	}
	if (!name_ok(s, a->v[0]) || !space_ok(s, a->v[0], a->len[1]) ||
	    !script_ok(s, a->v[1], a->len[1]))
		return;
	if (sieve_store_put(s->dir, a->v[0], a->v[1], a->len[1]) < 0) {
		store_failed(s, "write");
		return;
	}
	log_info("managesieve: %s: script %s stored (%zu bytes)", s->user, a->v[0], a->len[1]);
	reply(s, "OK", NULL, "script stored");
}

static void cmd_checkscript(struct ms_session *s, struct args *a)
{
	if (a->n != 1 || !a->string[0]) {
		no(s, NULL, "usage: CHECKSCRIPT script");
		return;
	}
	if (script_ok(s, a->v[0], a->len[0]))
		reply(s, "OK", NULL, "script is valid");
}

static void list_one(void *ctx, const char *name, bool active)
{
	struct evbuffer *out = ctx;

	add_string(out, name, strlen(name));
	evbuffer_add_printf(out, "%s\r\n", active ? " ACTIVE" : "");
}

static void cmd_listscripts(struct ms_session *s, struct args *a)
{
	if (sieve_store_list(s->dir, list_one, conn_output(&s->conn)) < 0) {
		store_failed(s, "list");
		return;
	}
	reply(s, "OK", NULL, "listscripts completed");
}

static void cmd_setactive(struct ms_session *s, struct args *a)
{
	int ret;

	if (a->n != 1) {
		no(s, NULL, "usage: SETACTIVE name");
		return;
	}
	if (a->v[0][0] != '\0' && !name_ok(s, a->v[0]))
		return;
	ret = sieve_store_activate(s->dir, a->v[0]);
	if (ret == 0)
		reply(s, "NO", "NONEXISTENT", "there is no script of that name");
	else if (ret < 0)
		store_failed(s, "activate in");
	else
		reply(s, "OK", NULL, a->v[0][0] ? "script activated" : "no script is active");
}

static void cmd_getscript(struct ms_session *s, struct args *a)
{
	struct evbuffer *out;
	struct buf text;
	int ret;

	if (a->n != 1) {
		no(s, NULL, "usage: GETSCRIPT name");
		return;
	}
	buf_init(&text, SIEVE_MAX_SCRIPT);
	ret = sieve_store_get(s->dir, a->v[0], &text);
	if (ret == 0) {
		reply(s, "NO", "NONEXISTENT", "there is no script of that name");
	} else if (ret < 0) {
		store_failed(s, "read");
	} else {
		out = conn_output(&s->conn);
		evbuffer_add_printf(out, "{%zu}\r\n", text.len);
		evbuffer_add(out, text.data ? text.data : "", text.len);
		evbuffer_add(out, "\r\n", 2);
		reply(s, "OK", NULL, "getscript completed");
	}
	buf_deinit(&text);
}

static void cmd_deletescript(struct ms_session *s, struct args *a)
{
	int ret;

	if (a->n != 1) {
		no(s, NULL, "usage: DELETESCRIPT name");
		return;
	}
	ret = sieve_store_delete(s->dir, a->v[0]);
	if (ret == 0)
		reply(s, "NO", "NONEXISTENT", "there is no script of that name");
	else if (ret == 2)
		reply(s, "NO", "ACTIVE", "the active script cannot be deleted");
	else if (ret < 0)
		store_failed(s, "delete from");
	else
		reply(s, "OK", NULL, "script deleted");
}

static void cmd_renamescript(struct ms_session *s, struct args *a)
{
	int ret;

	if (a->n != 2) {
		no(s, NULL, "usage: RENAMESCRIPT old new");
		return;
	}
	if (!name_ok(s, a->v[1]))
		return;
	ret = sieve_store_rename(s->dir, a->v[0], a->v[1]);
	if (ret == 0)
		reply(s, "NO", "NONEXISTENT", "there is no script of that name");
	else if (ret == 2)
		reply(s, "NO", "ALREADYEXISTS", "a script of the new name exists");
	else if (ret < 0)
		store_failed(s, "rename in");
	else
		reply(s, "OK", NULL, "script renamed");
}

static void cmd_unauthenticate(struct ms_session *s, struct args *a)
{
	s->state = MS_NONAUTH;
	s->user[0] = '\0';
	s->dir[0] = '\0';
	reply(s, "OK", NULL, "unauthenticated");
}

#define ANY (1u << MS_NONAUTH | 1u << MS_AUTHED)
#define NONAUTH (1u << MS_NONAUTH)
#define AUTHED (1u << MS_AUTHED)

static const struct {
	const char *name;
	void (*handler)(struct ms_session *s, struct args *a);
	unsigned states;
} commands[] = {
	{ "CAPABILITY", cmd_capability, ANY },
	{ "LOGOUT", cmd_logout, ANY },
	{ "NOOP", cmd_noop, ANY },
	{ "STARTTLS", cmd_starttls, NONAUTH },
	{ "AUTHENTICATE", cmd_authenticate, NONAUTH },
	{ "HAVESPACE", cmd_havespace, AUTHED },
	{ "PUTSCRIPT", cmd_putscript, AUTHED },
	{ "CHECKSCRIPT", cmd_checkscript, AUTHED },
	{ "LISTSCRIPTS", cmd_listscripts, AUTHED },
	{ "SETACTIVE", cmd_setactive, AUTHED },
	{ "GETSCRIPT", cmd_getscript, AUTHED },
	{ "DELETESCRIPT", cmd_deletescript, AUTHED },
	{ "RENAMESCRIPT", cmd_renamescript, AUTHED },
	{ "UNAUTHENTICATE", cmd_unauthenticate, AUTHED },
};

static void dispatch(struct ms_session *s)
{
	const struct ms_parser *p = &s->parser;
	struct args a = { 0 };
	const char *name = ms_arg_text(p, 0, NULL);

	for (unsigned i = 1; i < p->n_args; i++) {
		a.v[a.n] = ms_arg_text(p, i, &a.len[a.n]);
		a.string[a.n++] = p->args[i].kind == MS_STRING;
	}
	if (s->state == MS_AUTH_PLAIN) {
		/* the SASL response: one string */
		if (p->n_args != 1 || p->args[0].kind != MS_STRING) {
			s->state = MS_NONAUTH;
			no(s, NULL, "expected the SASL response as a string");
			return;
		}
		plain_response(s, name, p->args[0].len);
		return;
	}
	if (s->trace || log_debug_enabled())	/* arguments may carry a password */
		log_dialogue(s->trace, "managesieve", s->conn.addr, "<", name, strlen(name));
	if (p->args[0].kind != MS_ATOM) {
		no(s, NULL, "a command begins with its name");
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcasecmp(commands[i].name, name) != 0)
			continue;
		/* names and words are C strings; only a script may hold NUL */
		unsigned script = commands[i].handler == cmd_putscript ? 1 :
				  commands[i].handler == cmd_checkscript ? 0 : MS_MAX_ARGS;
		for (unsigned k = 0; k < a.n; k++)
			if (k != script && memchr(a.v[k], '\0', a.len[k]) != NULL) {
				no(s, NULL, "NUL in an argument");
				return;
			}
		if ((commands[i].states & (1u << s->state)) == 0)
			no(s, NULL, s->state == MS_AUTHED ? "already authenticated" :
			   "authenticate first");
		else
			commands[i].handler(s, &a);
		return;
	}
	no(s, NULL, "unknown command");
}

/* ---- input ---- */

static bool waiting(const struct ms_session *s)
{
	return s->quitting || conn_gone(&s->conn) || s->state == MS_CHECKING;
}

/* Returns false if the session was freed. */
static bool process_input(struct ms_session *s)
{
	conn_guard_enter(&s->conn);
	while (!waiting(s)) {
		struct evbuffer *in = conn_input(&s->conn);
		struct evbuffer_iovec v;
		enum ms_event ev;
		size_t used;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		used = ms_parse(&s->parser, v.iov_base, v.iov_len, &ev);
		evbuffer_drain(in, used);
		if (ev == MS_COMMAND) {
			dispatch(s);
		} else if (ev == MS_TOO_BIG) {
			/* said on the literal's header, before its octets */
			if (s->state == MS_AUTH_PLAIN)
				s->state = MS_NONAUTH;
			reply(s, "NO", "QUOTA/MAXSIZE", "%s: at most %zu bytes", s->parser.error,
			      s->parser.literal_max);
			error(s);
		} else if (ev == MS_ERROR) {
			if (s->state == MS_AUTH_PLAIN)
				s->state = MS_NONAUTH;
			reply(s, "NO", NULL, "syntax error: %s", s->parser.error);
			error(s);
		}
	}
	return conn_guard_leave(&s->conn);
}

static bool on_input(struct conn *c)
{
	return process_input((struct ms_session *)c);
}

static void on_idle(struct conn *c)
{
	struct ms_session *s = (struct ms_session *)c;

	reply(s, "BYE", NULL, "idle for too long");
	close_after_output(s);
}

static void on_lost(struct conn *c, short what)
{
	session_free((struct ms_session *)c);
}

static void on_shutdown(struct conn *c)
{
	struct ms_session *s = (struct ms_session *)c;

	reply(s, "BYE", "TRYLATER", "server shutting down");
	close_after_output(s);
}

static void on_close_now(struct conn *c)
{
	session_free((struct ms_session *)c);
}

static const struct conn_ops ms_ops = {
	.input = on_input,
	.idle = on_idle,
	.lost = on_lost,
	.shutdown = on_shutdown,
	.close_now = on_close_now,
};

static const struct conn_params ms_params = {
	.input_max = MS_INPUT_MAX,
	.idle = true,
};

void managesieve_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
			const char *addr, uint16_t port)
{
	struct ms_session *s = xcalloc(1, sizeof(*s));

	ms_parser_init(&s->parser, SIEVE_MAX_SCRIPT);
	s->trace = srv->cfg.debug_peers[0] != '\0' &&
		   config_networks_match(&srv->cfg.debug_nets, addr);
	conn_start(&s->conn, srv, fd, l, addr, port, false, &ms_ops, &ms_params);
	log_info("managesieve: connect from [%s]:%u", addr, port);
	capabilities(s);
}
