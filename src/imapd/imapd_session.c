/*
 * imapd_session.c - one IMAP connection: the reader fed from the socket,
 * literals (announced, accepted or refused before their data; APPEND's
 * streamed into the store), replies, untagged updates from the store's
 * listener, IDLE, timeouts and an orderly close.
 */
#include "imapd.h"
#include "imapd_private.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth/auth.h"
#include "lib/log.h"
#include "lib/util.h"

#define IMAPD_INPUT_MAX (64 * 1024)
#define IMAPD_AUTOLOGOUT_NOT_AUTH 60	/* RFC 9051 §5.4: unauthenticated */

void imapd_cmd_dispatch(struct imapd_session *s, const struct imap_event *ev);
int imapd_append_literal(struct imapd_session *s, const struct imap_event *ev);
void imapd_append_data(struct imapd_session *s, const struct imap_event *ev);
void imapd_line(struct imapd_session *s, const struct imap_event *ev);

static void session_free(struct imapd_session *s)
{
	if (conn_guard_defer(&s->conn))
		return;
	log_info("imapd: disconnect from [%s]:%u%s%s", s->conn.addr, s->conn.port,
		 s->user[0] != '\0' ? " user=" : "", s->user);
	if (s->auth_req != NULL)
		auth_cancel(s->auth_req);
	store_wait_cancel(s->store_wait);
	free(s->wait_state);
	if (s->work != NULL) {
		/* a worker still reads the command's arguments and state */
		s->work->orphaned = true;
		s->work->parser = s->parser;
		s->work->state = s->resume_state;
		s->work->state_free = s->resume_free;
		s->parser = NULL;
		s->resume_state = NULL;
		s->resume_free = NULL;
	}
	if (s->resume_free != NULL)
		s->resume_free(s->resume_state);
	else
		free(s->resume_state);
	if (s->resume_timer != NULL)
		event_free(s->resume_timer);
	imapd_append_abort(s);
	imapd_unselect(s);
	store_account_unref(&s->account);
	imap_parser_free(&s->parser);
	free(s->append_msgs);
	buf_deinit(&s->tag);
	conn_unregister(&s->conn);
	free(s);
}

struct evbuffer *imapd_out(struct imapd_session *s)
{
	return conn_output(&s->conn);
}

void imapd_untagged(struct imapd_session *s, const char *fmt, ...)
{
	struct evbuffer *out = imapd_out(s);
	va_list ap;

	evbuffer_add(out, "* ", 2);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* FETCH, STORE and SEARCH by sequence number may not see EXPUNGE (§7.5.1). */
static bool expunges_allowed(const struct imapd_session *s)
{
	const char *n = s->cmd.name;

	return s->cmd.uid || n == NULL ||
	       (strcmp(n, "FETCH") != 0 && strcmp(n, "STORE") != 0 && strcmp(n, "SEARCH") != 0);
}

void imapd_tagged(struct imapd_session *s, const char *status, const char *fmt, ...)
{
	struct evbuffer *out = imapd_out(s);
	va_list ap;

	if (s->state == IMAPD_STATE_SELECTED)
		imapd_flush_updates(s, expunges_allowed(s));
	evbuffer_add_printf(out, "%s %s ", s->cmd.tag != NULL ? s->cmd.tag : "*", status);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	imapd_done(s);
}

/* ---- closing ---- */

void imapd_close_after_output(struct imapd_session *s)
{
	s->quitting = true;
	conn_close_after_output(&s->conn);
}

bool imapd_error(struct imapd_session *s)
{
	if (++s->errors < s->conn.srv->cfg.max_errors)
		return false;
	imapd_untagged(s, "BYE too many errors");
	imapd_close_after_output(s);
	return true;
}

/* ---- timers ---- */

static void arm_autologout(struct imapd_session *s)
{
	unsigned long seconds = s->state == IMAPD_STATE_NOT_AUTH ? IMAPD_AUTOLOGOUT_NOT_AUTH :
				(unsigned long)s->conn.srv->cfg.idle_timeout;

	if (s->state != IMAPD_STATE_NOT_AUTH && seconds < 30 * 60 && !s->idling)
		seconds = 30 * 60;	/* RFC 9051 §5.4: at least 30 minutes */
	conn_timer_start(&s->conn, seconds);
}

static void on_autologout(struct conn *c)
{
	struct imapd_session *s = (struct imapd_session *)c;

	imapd_untagged(s, "BYE autologout; idle for too long");
	imapd_close_after_output(s);
}

/* ---- input ---- */

void imapd_done(struct imapd_session *s)
{
	s->busy = false;
	s->resume = NULL;
	s->resume_free = NULL;
	s->cmd.tag = s->cmd.name = NULL;
	s->cmd.args = NULL;
	imap_parser_done(s->parser);
}

static void handle_bad(struct imapd_session *s, const struct imap_event *ev)
{
	imapd_append_abort(s);
	evbuffer_add_printf(imapd_out(s), "%s BAD %s\r\n", ev->tag != NULL ? ev->tag : "*",
			    ev->reason != NULL ? ev->reason : "syntax error");
	imapd_error(s);
}

/* One event from the reader. */
static void handle_event(struct imapd_session *s, const struct imap_event *ev)
{
	switch (ev->type) {
	case IMAP_EVENT_COMMAND:
		imapd_cmd_dispatch(s, ev);
		break;
	case IMAP_EVENT_LITERAL:
		if (imapd_append_literal(s, ev) > 0 && ev->literal.sync)
			evbuffer_add_printf(imapd_out(s), "+ Ready for literal data\r\n");
		break;
	case IMAP_EVENT_LITERAL_DATA:
	case IMAP_EVENT_LITERAL_END:
		imapd_append_data(s, ev);
		break;
	case IMAP_EVENT_LINE:
		imapd_line(s, ev);
		break;
	case IMAP_EVENT_BAD:
		handle_bad(s, ev);
		break;
	}
}

/* Returns false if the session was freed. */
static bool process_input(struct imapd_session *s)
{
	conn_guard_enter(&s->conn);
	/* a command in progress stops the reading, except for the line it
	   waits for (IDLE's DONE, AUTHENTICATE's response) */
	while ((!s->busy || s->idling || s->auth_continue) && !s->quitting &&
	       !conn_gone(&s->conn)) {
		struct evbuffer *in = conn_input(&s->conn);
		struct evbuffer_iovec v;
		struct imap_event ev;
		size_t used = 0;
		int ret;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		ret = imap_parser_feed(s->parser, v.iov_base, v.iov_len, &used, &ev);
		if (ret != 0 && ev.type == IMAP_EVENT_LITERAL_DATA) {
			handle_event(s, &ev);	/* its data points into the input */
			evbuffer_drain(in, used);
			continue;
		}
		evbuffer_drain(in, used);
		if (ret != 0)
			handle_event(s, &ev);
	}
	if (!conn_guard_leave(&s->conn))
		return false;
	if (!s->busy)
		arm_autologout(s);
	return true;
}

void imapd_resume_input(struct imapd_session *s)
{
	process_input(s);
}

void imapd_store_waited(struct imapd_session *s)
{
	s->store_wait = NULL;
	free(s->wait_state);
	s->wait_state = NULL;
	if (!conn_guarded(&s->conn))
		process_input(s);
}

static bool on_input(struct conn *c)
{
	return process_input((struct imapd_session *)c);
}

/* Go on with the command in progress; then with the input, if it ended. */
static void run_resume(struct imapd_session *s)
{
	conn_guard_enter(&s->conn);
	s->resume(s);
	if (!conn_guard_leave(&s->conn))
		return;
	if (!s->busy)
		process_input(s);
}

static bool on_output(struct conn *c)
{
	struct imapd_session *s = (struct imapd_session *)c;

	if (s->resume == NULL)
		return false;
	run_resume(s);
	return true;
}

static void on_resume_timer(evutil_socket_t fd, short what, void *arg)
{
	struct imapd_session *s = arg;

	if (s->resume != NULL)
		run_resume(s);
}

void imapd_resume_soon(struct imapd_session *s, imapd_resume_fn *fn)
{
	static const struct timeval now = { 0, 0 };

	s->resume = fn;
	if (s->resume_timer == NULL)
		s->resume_timer = evtimer_new(s->conn.srv->base, on_resume_timer, s);
	evtimer_add(s->resume_timer, &now);
}

void imapd_work_begin(struct imapd_session *s, struct imapd_work *w)
{
	w->orphaned = false;
	s->work = w;
	s->resume = NULL;
}

bool imapd_work_alive(struct imapd_work *w)
{
	struct imap_parser *parser = w->parser;
	void (*state_free)(void *state) = w->state_free;
	void *state = w->state;

	if (!w->orphaned)
		return true;
	/* w may be part of the state */
	imap_parser_free(&parser);
	if (state_free != NULL)
		state_free(state);
	else
		free(state);
	return false;
}

void imapd_work_resume(struct imapd_session *s, imapd_resume_fn *fn)
{
	s->work = NULL;
	imapd_resume_soon(s, fn);	/* not from inside the store's call */
}

struct store *imapd_store(struct imapd_session *s)
{
	return s->conn.srv->store;
}

static void on_lost(struct conn *c, short what)
{
	session_free((struct imapd_session *)c);
}

static void on_shutdown(struct conn *c)
{
	struct imapd_session *s = (struct imapd_session *)c;

	imapd_untagged(s, "BYE server shutting down");
	imapd_close_after_output(s);
}

static void on_close_now(struct conn *c)
{
	session_free((struct imapd_session *)c);
}

static const struct conn_ops imapd_ops = {
	.input = on_input,
	.output = on_output,
	.timer = on_autologout,
	.lost = on_lost,
	.shutdown = on_shutdown,
	.close_now = on_close_now,
};

static const struct conn_params imapd_params = {
	.input_max = IMAPD_INPUT_MAX,
	.output_low = IMAPD_OUTPUT_LOW,
};

int imapd_start_compress(struct imapd_session *s)
{
	if (conn_compress(&s->conn) < 0)
		return -1;
	s->compressed = true;
	return 1;
}

const char *imapd_capabilities(struct imapd_session *s);

void imapd_accept(struct services *srv, evutil_socket_t fd, enum config_listener l,
		  const char *addr, uint16_t port)
{
	struct imapd_session *s = xcalloc(1, sizeof(*s));
	struct imap_parser_limits limits;

	imap_parser_limits_default(&limits);
	limits.max_literal = srv->cfg.message_size;
	limits.max_raw_line = IMAPD_AUTH_LINE_MAX;
	s->parser = imap_parser_new(&limits);
	buf_init(&s->tag, 0);
	conn_start(&s->conn, srv, fd, l, addr, port, l == CONFIG_LISTEN_IMAPS, &imapd_ops,
		   &imapd_params);
	log_info("imapd: connect from [%s]:%u to %s", addr, port, config_listener_name(l));
	imapd_untagged(s, "OK [CAPABILITY %s] correio IMAP server ready", imapd_capabilities(s));
	arm_autologout(s);
}
