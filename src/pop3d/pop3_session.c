/*
 * pop3_session.c - one POP3 connection: greeting, command lines (read
 * through the connection layer, src/conn), replies, the error budget, the
 * idle timeout, and the streaming of message text
 * (LF to CRLF, dot-stuffing, TOP's line limit) from the Maildir file in
 * blocks, so that a session's memory stays bounded for any message.
 */
#include "pop3d.h"
#include "pop3_private.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth/auth.h"
#include "lib/log.h"
#include "lib/util.h"

#define POP3_BLOCK 32768
#define POP3_OUTPUT_LOW 16384
#define POP3_INPUT_MAX 16384

static void session_free(struct pop3_session *s)
{
	if (conn_guard_defer(&s->conn))
		return;
	log_info("pop3d: disconnect from [%s]:%u", s->conn.addr, s->conn.port);
	if (s->auth_req != NULL)
		auth_cancel(s->auth_req);
	if (s->fd >= 0)
		close(s->fd);
	pop3_release_mailbox(s);
	conn_unregister(&s->conn);
	free(s);
}

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	struct evbuffer *out = conn_output(&s->conn);
	va_list ap;

	va_start(ap, fmt);
	log_dialogue_vprintf(s->trace, "pop3d", s->conn.addr, ">", fmt, ap);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void pop3_close_after_output(struct pop3_session *s)
{
	s->quitting = true;
	conn_close_after_output(&s->conn);
}

bool pop3_error(struct pop3_session *s)
{
	if (++s->errors < s->conn.srv->cfg.max_errors)
		return false;
	pop3_reply(s, "-ERR too many errors, closing");
	pop3_close_after_output(s);
	return true;
}

/* ---- message text ---- */

/* At the end of a line: count it against TOP's budget.  Returns false
   when no more lines are wanted. */
static bool line_done(struct pop3_session *s)
{
	bool empty = s->line_len == 0 || (s->line_len == 1 && s->cr);

	s->line_len = 0;
	if (!s->in_body) {
		s->in_body = empty;
		return !(empty && s->body_lines == 0);
	}
	return s->body_lines < 0 || --s->body_lines > 0;
}

/* Convert one block (LF to CRLF, dot-stuffing); returns false when TOP's
   line budget ran out. */
static bool send_block(struct pop3_session *s, const char *p, size_t n)
{
	struct evbuffer *out = conn_output(&s->conn);
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (s->line_start && p[i] == '.') {
			evbuffer_add(out, p + start, i - start);
			evbuffer_add(out, ".", 1);
			start = i;
		}
		s->line_start = false;
		if (p[i] != '\n') {
			s->cr = p[i] == '\r';
			s->line_len++;
			continue;
		}
		evbuffer_add(out, p + start, i - start);
		evbuffer_add(out, s->cr ? "\n" : "\r\n", s->cr ? 1 : 2);
		start = i + 1;
		s->line_start = true;
		if (!line_done(s))
			return false;
		s->cr = false;
	}
	evbuffer_add(out, p + start, n - start);
	return true;
}

static void finish_message(struct pop3_session *s)
{
	struct evbuffer *out = conn_output(&s->conn);

	close(s->fd);
	s->fd = -1;
	if (!s->line_start)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	s->state = POP3_STATE_TRANSACTION;
	conn_set_output_low(&s->conn, 0);
	if (s->shutdown_pending) {
		pop3_reply(s, "-ERR [SYS/TEMP] server shutting down");
		pop3_close_after_output(s);
	}
}

static void send_more(struct pop3_session *s)
{
	char block[POP3_BLOCK];
	ssize_t n = read(s->fd, block, sizeof(block));

	if (n <= 0 || !send_block(s, block, (size_t)n))
		finish_message(s);
}

void pop3_send_message(struct pop3_session *s, int fd, int64_t lines)
{
	s->fd = fd;
	s->body_lines = lines;
	s->in_body = false;
	s->line_start = true;
	s->cr = false;
	s->line_len = 0;
	s->state = POP3_STATE_SENDING;
	conn_set_output_low(&s->conn, POP3_OUTPUT_LOW);
	send_more(s);
}

/* ---- input ---- */

static int read_line(struct pop3_session *s, char *line, size_t max, size_t *len)
{
	int ret = conn_read_line(&s->conn, line, max, len);

	if (ret < 0) {
		pop3_reply(s, "-ERR line too long");
		pop3_error(s);
	}
	return ret;
}

static bool waiting(const struct pop3_session *s)
{
	return s->quitting || conn_gone(&s->conn) || s->state == POP3_STATE_CHECKING ||
	       s->state == POP3_STATE_SENDING;
}

/* Returns false if the session was freed. */
static bool process_input(struct pop3_session *s)
{
	char line[POP3_AUTH_LINE_MAX + 1];
	size_t len = 0;
	int ret;

	conn_guard_enter(&s->conn);
	while (!waiting(s)) {
		bool auth = s->state == POP3_STATE_AUTH_PLAIN;
		ret = read_line(s, line, auth ? POP3_AUTH_LINE_MAX : POP3_LINE_MAX, &len);
		if (ret == 0)
			break;
		if (ret < 0 && auth)
			s->state = POP3_STATE_AUTHORIZATION;	/* the exchange is over */
		if (ret > 0 && auth)
			pop3_auth_response(s, line, len);
		else if (ret > 0)
			pop3_dispatch(s, line, len);
		explicit_bzero(line, len);
	}
	return conn_guard_leave(&s->conn);
}

void pop3_process_input(struct pop3_session *s)
{
	process_input(s);
}

static bool on_input(struct conn *c)
{
	return process_input((struct pop3_session *)c);
}

static bool on_output(struct conn *c)
{
	struct pop3_session *s = (struct pop3_session *)c;

	if (s->state != POP3_STATE_SENDING)
		return false;
	send_more(s);
	if (s->state != POP3_STATE_SENDING)
		pop3_process_input(s);	/* commands pipelined behind it */
	return true;
}

static void on_idle(struct conn *c)
{
	struct pop3_session *s = (struct pop3_session *)c;

	if (s->state == POP3_STATE_SENDING) {
		/* a client reading a long message is not idle */
		conn_read_resume(c);
		return;
	}
	pop3_reply(s, "-ERR autologout: idle for too long");
	pop3_close_after_output(s);
}

static void on_lost(struct conn *c, short what)
{
	session_free((struct pop3_session *)c);	/* a dropped connection deletes nothing */
}

static void on_shutdown(struct conn *c)
{
	struct pop3_session *s = (struct pop3_session *)c;

	if (s->state == POP3_STATE_SENDING) {
		s->shutdown_pending = true;	/* after the message, not inside it */
		return;
	}
	pop3_reply(s, "-ERR [SYS/TEMP] server shutting down");
	pop3_close_after_output(s);
}

static void on_close_now(struct conn *c)
{
	session_free((struct pop3_session *)c);
}

static const struct conn_ops pop3_ops = {
	.input = on_input,
	.output = on_output,
	.idle = on_idle,
	.lost = on_lost,
	.shutdown = on_shutdown,
	.close_now = on_close_now,
};

static const struct conn_params pop3_params = {
	.input_max = POP3_INPUT_MAX,
	.idle = true,
};

void pop3d_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
		  const char *addr, uint16_t port)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->fd = -1;
	s->trace = srv->cfg.debug_peers[0] != '\0' &&
		   config_networks_match(&srv->cfg.debug_nets, addr);
	conn_start(&s->conn, srv, fd, l, addr, port, l == CONFIG_LISTEN_POP3S, &pop3_ops,
		   &pop3_params);
	log_info("pop3d: connect from [%s]:%u to %s", addr, port, config_listener_name(l));
	pop3_reply(s, "+OK correio POP3 server ready");
}
