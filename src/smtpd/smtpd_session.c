/*
 * smtpd_session.c - one SMTP connection: greeting, command lines (read
 * through the connection layer, src/conn), replies, timeouts, the error
 * budget, and an orderly close.  Called by the server (smtpd_accept) and
 * by the connection layer (the ops).
 */
#include "smtpd.h"
#include "smtpd_private.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/util.h"
#include "auth/auth.h"
#include "queue/queue.h"
#include "tls/tls.h"

void smtpd_session_free(struct smtpd_session *s)
{
	if (!s->dead)
		conn_unregister(&s->conn);
	smtpd_reset_transaction(s);
	smtpd_door_free(s);
	buf_deinit(&s->text);
	free(s);
}

/* Close now.  A session waiting for its commit lives on, dead, until the
   queue's callback (smtpd_data.c) frees it. */
static void session_close(struct smtpd_session *s)
{
	if (s->dead || conn_guard_defer(&s->conn))
		return;
	log_info("smtpd: disconnect from [%s]:%u", s->conn.addr, s->conn.port);
	smtpd_door_free(s);
	if (s->auth_req != NULL) {
		auth_cancel(s->auth_req);
		s->auth_req = NULL;
	}
	if (s->state == SMTPD_STATE_COMMIT) {
		conn_unregister(&s->conn);
		s->dead = true;
		return;
	}
	smtpd_session_free(s);
}

void smtpd_trace(struct smtpd_session *s, const char *dir, const char *text, size_t len)
{
	log_dialogue(s->trace, "smtpd", s->conn.addr, dir, text, len);
}

void smtpd_log_reject(struct smtpd_session *s, const char *to, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_info("smtpd: [%s]: reject: %s; from=<%s> to=<%s> helo=<%s>", s->conn.addr, why,
		 s->env != NULL ? s->env->sender : "", to != NULL ? to : "", s->helo);
}

void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	struct evbuffer *out;
	va_list ap;

	if (s->dead)
		return;
	out = conn_output(&s->conn);
	va_start(ap, fmt);
	log_dialogue_vprintf(s->trace, "smtpd", s->conn.addr, ">", fmt, ap);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void smtpd_close_after_output(struct smtpd_session *s)
{
	if (s->quitting || s->dead)
		return;
	s->quitting = true;
	conn_close_after_output(&s->conn);
}

bool smtpd_error(struct smtpd_session *s)
{
	if (++s->errors < s->conn.srv->cfg.max_errors)
		return false;
	log_warn("smtpd: [%s]: too many errors, disconnecting", s->conn.addr);
	smtpd_reply(s, "421 4.7.0 %s Error: too many errors", s->conn.srv->cfg.hostname);
	smtpd_close_after_output(s);
	return true;
}

static void on_command_timeout(struct conn *c)
{
	struct smtpd_session *s = (struct smtpd_session *)c;

	log_warn("smtpd: [%s]: command timeout", s->conn.addr);
	smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->conn.srv->cfg.hostname);
	smtpd_close_after_output(s);
}

void smtpd_command_timer(struct smtpd_session *s, bool on)
{
	if (on)
		conn_timer_start(&s->conn, s->conn.srv->cfg.command_timeout);
	else
		conn_timer_stop(&s->conn);
}

/*
 * Take one command line from in.  Returns 1 with the line (CRLF removed)
 * in line/len, 0 when no complete line is there yet, -1 when an over-long
 * line was dropped (already answered).
 */
static int read_line(struct smtpd_session *s, char *line, size_t *len)
{
	int ret = conn_read_line(&s->conn, line, SMTPD_AUTH_LINE_MAX, len);

	if (ret < 0) {
		smtpd_reply(s, "500 5.5.2 Error: line too long");
		smtpd_error(s);
	}
	if (ret <= 0)
		return ret;
	/* AUTH lines may be longer (RFC 4954 §4); every other line is bound by
	   RFC 5321 §4.5.3.1.4 */
	if (*len + 2 > SMTPD_LINE_MAX && s->state != SMTPD_STATE_AUTH &&
	    strncasecmp(line, "AUTH ", 5) != 0) {
		smtpd_reply(s, "500 5.5.2 Error: line too long");
		smtpd_error(s);
		return -1;
	}
	return 1;
}

/* Whether a stop lets the session go on: a message under way (its text,
   between two BDAT chunks too, or its commit) or a login being checked. */
static bool in_message(const struct smtpd_session *s)
{
	return s->state == SMTPD_STATE_DATA || s->state == SMTPD_STATE_BDAT ||
	       s->state == SMTPD_STATE_COMMIT || s->state == SMTPD_STATE_AUTH_CHECK ||
	       s->state == SMTPD_STATE_MILTER || (s->state == SMTPD_STATE_MAIL && s->bdat);
}

static bool waiting(const struct smtpd_session *s)
{
	return s->quitting || s->dead || conn_gone(&s->conn) || s->state == SMTPD_STATE_COMMIT ||
	       s->state == SMTPD_STATE_AUTH_CHECK || s->state == SMTPD_STATE_MILTER ||
	       smtpd_door_waiting(s);
}

bool smtpd_process_input(struct smtpd_session *s)
{
	char line[SMTPD_AUTH_LINE_MAX + 1];
	size_t len = 0;
	int ret;

	conn_guard_enter(&s->conn);
	while (!waiting(s)) {
		if (s->state == SMTPD_STATE_DATA || s->state == SMTPD_STATE_BDAT) {
			/* fetched each time: STARTTLS replaces the bufferevent */
			if (smtpd_data_input(s, conn_input(&s->conn)) == 0)
				break;
			continue;
		}
		ret = read_line(s, line, &len);
		if (ret == 0)
			break;
		if (ret > 0 && s->state == SMTPD_STATE_AUTH)
			smtpd_auth_line(s, line, len);
		else if (ret > 0)
			smtpd_dispatch(s, line, len);
		explicit_bzero(line, len);
		if (s->shutdown && !in_message(s) && !s->quitting && !s->dead) {
			/* stopping: the message let through is given up (RSET) */
			smtpd_reply(s, "421 4.3.2 %s Service shutting down",
				    s->conn.srv->cfg.hostname);
			smtpd_close_after_output(s);
		}
	}
	return conn_guard_leave(&s->conn);
}

static bool on_input(struct conn *c)
{
	struct smtpd_session *s = (struct smtpd_session *)c;

	return smtpd_process_input(s) && !s->dead;
}

static void on_idle(struct conn *c)
{
	struct smtpd_session *s = (struct smtpd_session *)c;

	log_info("smtpd: [%s]: idle timeout", s->conn.addr);
	smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->conn.srv->cfg.hostname);
	smtpd_close_after_output(s);
}

static void on_lost(struct conn *c, short what)
{
	struct smtpd_session *s = (struct smtpd_session *)c;

	if (what & BEV_EVENT_ERROR)
		log_info("smtpd: [%s]: connection error: %s", s->conn.addr,
			 conn_last_error(&s->conn));
	if (s->state == SMTPD_STATE_DATA || s->state == SMTPD_STATE_BDAT)
		log_info("smtpd: [%s]: lost connection after %s", s->conn.addr,
			 s->state == SMTPD_STATE_DATA ? "DATA" : "BDAT");
	session_close(s);
}

static void on_shutdown(struct conn *c)
{
	struct smtpd_session *s = (struct smtpd_session *)c;

	if (in_message(s)) {
		s->shutdown = true;	/* smtpd_data.c closes after the reply */
		return;
	}
	smtpd_reply(s, "421 4.3.2 %s Service shutting down", c->srv->cfg.hostname);
	smtpd_close_after_output(s);
}

static void on_close_now(struct conn *c)
{
	session_close((struct smtpd_session *)c);
}

static const struct conn_ops smtpd_ops = {
	.input = on_input,
	.idle = on_idle,
	.timer = on_command_timeout,
	.lost = on_lost,
	.shutdown = on_shutdown,
	.close_now = on_close_now,
};

static const struct conn_params smtpd_params = {
	.input_max = SMTPD_INPUT_MAX,
	.idle = true,
};

void smtpd_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
		  const char *addr, uint16_t port)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));

	s->submission = l != CONFIG_LISTEN_SMTP;
	s->trace = srv->cfg.debug_peers[0] != '\0' &&
		   config_networks_match(&srv->cfg.debug_nets, addr);
	buf_init(&s->text, 0);
	conn_start(&s->conn, srv, fd, l, addr, port, l == CONFIG_LISTEN_SUBMISSIONS,
		   &smtpd_ops, &smtpd_params);
	log_info("smtpd: connect from [%s]:%u to %s", addr, port, config_listener_name(l));
	smtpd_reply(s, "220 %s ESMTP correio", srv->cfg.hostname);
	smtpd_door_connect(s);
}
