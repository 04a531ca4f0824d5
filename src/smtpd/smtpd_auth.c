/*
 * smtpd_auth.c - STARTTLS (RFC 3207) and AUTH (RFC 4954) with the PLAIN
 * and LOGIN mechanisms.  The password check runs in the auth component's
 * pool; the session waits in SMTPD_STATE_AUTH_CHECK without reading.
 */
#include "smtpd_private.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "auth/auth.h"
#include "auth/sasl.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/util.h"
#include "tls/tls.h"

bool smtpd_starttls_offered(struct smtpd_session *s)
{
	return conn_starttls_offered(&s->conn);
}

bool smtpd_auth_offered(struct smtpd_session *s)
{
	return s->user[0] == '\0' && conn_plaintext_ok(&s->conn);
}

/* ---- STARTTLS ---- */

void smtpd_cmd_starttls(struct smtpd_session *s, char *arg)
{
	if (!smtpd_starttls_offered(s)) {
		smtpd_reply(s, "554 5.5.1 Error: TLS already active");
		smtpd_error(s);
		return;
	}
	if (arg[0] != '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
		smtpd_error(s);
		return;
	}
	if (!conn_starttls_clean(&s->conn)) {
		log_warn("smtpd: [%s]: command pipelined after STARTTLS, refused",
			 s->conn.addr);
		smtpd_reply(s, "554 5.5.1 Error: command pipelined after STARTTLS");
		smtpd_error(s);
		return;
	}
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	conn_starttls(&s->conn);
	smtpd_reset_transaction(s);
	s->state = SMTPD_STATE_GREETED;
	s->helo[0] = '\0';
	s->esmtp = false;
}

/* ---- AUTH ---- */

static void auth_done(struct smtpd_session *s)
{
	s->state = s->auth_return;
	explicit_bzero(s->login_user, sizeof(s->login_user));
}

static void on_auth_result(void *ctx, enum auth_result result, const char *user)
{
	struct smtpd_session *s = ctx;

	s->auth_req = NULL;
	auth_done(s);
	metrics_login(s->conn.listener, result == AUTH_OK);
	switch (result) {
	case AUTH_OK:
		str_copy(s->user, user, sizeof(s->user));
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_FAILED:
		smtpd_reply(s, "535 5.7.8 Error: authentication failed");
		smtpd_error(s);
		break;
	case AUTH_THROTTLED:
		smtpd_reply(s, "454 4.7.0 Error: too many failed attempts, try again later");
		break;
	case AUTH_TEMPFAIL:
		smtpd_reply(s, "454 4.7.0 Error: temporary authentication failure");
		break;
	}
	if (s->shutdown) {
		smtpd_reply(s, "421 4.3.2 %s Service shutting down",
			    s->conn.srv->cfg.hostname);
		smtpd_close_after_output(s);
		return;
	}
	smtpd_process_input(s);
}

static void check_password(struct smtpd_session *s, const char *user, const char *password)
{
	s->state = SMTPD_STATE_AUTH_CHECK;
	s->auth_req = auth_verify(s->conn.srv->auth, s->conn.addr, user, password,
				  on_auth_result, s);
}

static void auth_fail_syntax(struct smtpd_session *s, const char *why)
{
	log_info("smtpd: [%s]: AUTH: %s", s->conn.addr, why);
	auth_done(s);
	smtpd_reply(s, "501 5.5.2 Error: cannot decode response");
	smtpd_error(s);
}

static void auth_plain(struct smtpd_session *s, const char *b64, size_t len)
{
	struct sasl_plain p;
	const char *error;

	if (sasl_plain_decode(b64, len, &p, &error) < 0) {
		auth_fail_syntax(s, error);
		return;
	}
	if (p.authzid[0] != '\0' && !str_ieq(p.authzid, p.authcid)) {
		explicit_bzero(&p, sizeof(p));
		auth_done(s);
		smtpd_reply(s, "535 5.7.8 Error: authorization identity not allowed");
		smtpd_error(s);
		return;
	}
	check_password(s, p.authcid, p.password);
	explicit_bzero(&p, sizeof(p));
}

/* One LOGIN step: the user name first, then the password. */
static void auth_login(struct smtpd_session *s, const char *b64, size_t len)
{
	char password[SASL_FIELD_MAX + 1];
	const char *error;

	if (s->login_user[0] == '\0') {
		if (sasl_login_decode(b64, len, s->login_user, sizeof(s->login_user),
				      &error) < 0) {
			auth_fail_syntax(s, error);
			return;
		}
		s->state = SMTPD_STATE_AUTH;
		smtpd_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
		return;
	}
	if (sasl_login_decode(b64, len, password, sizeof(password), &error) < 0) {
		auth_fail_syntax(s, error);
		return;
	}
	check_password(s, s->login_user, password);
	explicit_bzero(password, sizeof(password));
}

static void auth_response(struct smtpd_session *s, const char *b64, size_t len)
{
	if (s->mech == SMTPD_MECH_PLAIN)
		auth_plain(s, b64, len);
	else
		auth_login(s, b64, len);
}

void smtpd_auth_line(struct smtpd_session *s, char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		auth_done(s);
		smtpd_reply(s, "501 5.0.0 Authentication aborted");
		return;
	}
	auth_response(s, line, len);
}

/* Refuse AUTH here and now?  Returns true after replying. */
static bool auth_refused(struct smtpd_session *s)
{
	if (s->user[0] != '\0')
		smtpd_reply(s, "503 5.5.1 Error: already authenticated");
	else if (s->state != SMTPD_STATE_READY || !s->esmtp)
		smtpd_reply(s, "503 5.5.1 Error: %s", s->state == SMTPD_STATE_MAIL ?
			    "MAIL transaction in progress" : "send EHLO first");
	else if (!conn_plaintext_ok(&s->conn)) {
		char hint[300];
		conn_tls_hint(&s->conn, hint, sizeof(hint));
		smtpd_reply(s, "538 5.7.11 Encryption required for requested authentication "
			    "mechanism: %s", hint);
	} else
		return false;
	smtpd_error(s);
	return true;
}

void smtpd_cmd_auth(struct smtpd_session *s, char *arg)
{
	char *initial = strchr(arg, ' ');

	if (auth_refused(s))
		return;
	if (initial != NULL)
		*initial++ = '\0';
	if (str_ieq(arg, "PLAIN")) {
		s->mech = SMTPD_MECH_PLAIN;
	} else if (str_ieq(arg, "LOGIN")) {
		s->mech = SMTPD_MECH_LOGIN;
	} else {
		smtpd_reply(s, "504 5.5.4 Error: unsupported authentication mechanism");
		smtpd_error(s);
		return;
	}
	s->auth_return = s->state;
	s->login_user[0] = '\0';
	if (initial == NULL) {
		s->state = SMTPD_STATE_AUTH;
		smtpd_reply(s, "334 %s", s->mech == SMTPD_MECH_PLAIN ? "" : "VXNlcm5hbWU6");
		return;
	}
	/* "=" is an empty initial response (RFC 4954 §4) */
	auth_response(s, initial, strcmp(initial, "=") == 0 ? 0 : strlen(initial));
}
