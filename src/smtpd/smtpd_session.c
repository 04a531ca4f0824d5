/*
 * smtpd_session.c - one SMTP connection: greeting, reading bounded command
 * lines, replies, timeouts, the error budget, and an orderly close.
 * Called by the server (smtpd_accept) and by libevent.
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

#include "lib/line_read.h"
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
	event_free(s->command_timer);
	free(s);
}

/* Close now.  A session waiting for its commit lives on, dead, until the
   queue's callback (smtpd_data.c) frees it. */
static void session_close(struct smtpd_session *s)
{
	if (s->dead)
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
	out = bufferevent_get_output(s->conn.bev);
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
	if (++s->errors < s->conn.server->cfg.max_errors)
		return false;
	log_warn("smtpd: [%s]: too many errors, disconnecting", s->conn.addr);
	smtpd_reply(s, "421 4.7.0 %s Error: too many errors", s->conn.server->cfg.hostname);
	smtpd_close_after_output(s);
	return true;
}

static void on_command_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	log_warn("smtpd: [%s]: command timeout", s->conn.addr);
	smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->conn.server->cfg.hostname);
	smtpd_close_after_output(s);
}

void smtpd_command_timer(struct smtpd_session *s, bool on)
{
	struct timeval tv = { (time_t)s->conn.server->cfg.command_timeout, 0 };

	if (on)
		evtimer_add(s->command_timer, &tv);
	else
		evtimer_del(s->command_timer);
}

/*
 * Take one command line from in.  Returns 1 with the line (CRLF removed)
 * in line/len, 0 when no complete line is there yet, -1 when an over-long
 * line was dropped (already answered).
 */
static int read_line(struct smtpd_session *s, struct evbuffer *in, char *line,
		     size_t *len)
{
	int ret = line_read(in, line, SMTPD_AUTH_LINE_MAX, len, &s->skip_line);

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
	return s->quitting || s->dead || s->state == SMTPD_STATE_COMMIT ||
	       s->state == SMTPD_STATE_AUTH_CHECK || s->state == SMTPD_STATE_MILTER ||
	       smtpd_door_waiting(s);
}

void smtpd_process_input(struct smtpd_session *s)
{
	char line[SMTPD_AUTH_LINE_MAX + 1];
	size_t len = 0;
	int ret;

	while (!waiting(s)) {
		/* fetched each time: STARTTLS replaces the bufferevent */
		struct evbuffer *in = bufferevent_get_input(s->conn.bev);
		if (s->state == SMTPD_STATE_DATA || s->state == SMTPD_STATE_BDAT) {
			if (smtpd_data_input(s, in) == 0)
				break;
			continue;
		}
		ret = read_line(s, in, line, &len);
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
				    s->conn.server->cfg.hostname);
			smtpd_close_after_output(s);
		}
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	smtpd_process_input(s);
	if (!s->dead)
		conn_ack_input(&s->conn);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	if (s->quitting)
		conn_output_drained(&s->conn);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;		/* TLS handshake done */
	if (what & BEV_EVENT_TIMEOUT) {
		log_info("smtpd: [%s]: idle timeout", s->conn.addr);
		smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
			    s->conn.server->cfg.hostname);
		smtpd_close_after_output(s);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		log_info("smtpd: [%s]: connection error: %s", s->conn.addr,
			 tls_last_error(s->conn.bev));
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
	smtpd_reply(s, "421 4.3.2 %s Service shutting down", c->server->cfg.hostname);
	smtpd_close_after_output(s);
}

static void on_close_now(struct conn *c)
{
	session_close((struct smtpd_session *)c);
}

static const struct conn_ops smtpd_ops = { on_shutdown, on_close_now };

void smtpd_session_use_bev(struct smtpd_session *s, struct bufferevent *bev)
{
	struct timeval idle = { (time_t)s->conn.server->cfg.idle_timeout, 0 };

	s->conn.bev = bev;
	bufferevent_setcb(bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(bev, EV_READ, 0, SMTPD_INPUT_MAX);
	bufferevent_set_timeouts(bev, &idle, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void smtpd_accept(struct server *srv, evutil_socket_t fd, enum config_listener l,
		  const char *addr, uint16_t port)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));

	evutil_make_socket_nonblocking(fd);
	s->conn.tls = l == CONFIG_LISTEN_SUBMISSIONS;
	s->conn.bev = s->conn.tls ? tls_accept(srv->tls, srv->base, fd) :
		      bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->submission = l != CONFIG_LISTEN_SMTP;
	s->conn.listener = l;
	str_copy(s->conn.addr, addr, sizeof(s->conn.addr));
	s->conn.port = port;
	s->conn.loopback = strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
	s->trace = srv->cfg.debug_peers[0] != '\0' &&
		   config_networks_match(&srv->cfg.debug_nets, addr);
	s->conn.ops = &smtpd_ops;
	buf_init(&s->text, 0);
	s->command_timer = evtimer_new(srv->base, on_command_timeout, s);
	conn_register(srv, &s->conn);
	smtpd_session_use_bev(s, s->conn.bev);
	log_info("smtpd: connect from [%s]:%u to %s", addr, port, config_listener_name(l));
	smtpd_reply(s, "220 %s ESMTP correio", srv->cfg.hostname);
	smtpd_door_connect(s);
}
