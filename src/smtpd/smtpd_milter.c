/*
 * smtpd_milter.c - the mail filters of [milter] filters, asked at the end
 * of each message, one after the other, over the milter protocol (v6) on
 * a bufferevent of the loop.
 *
 * Once the text is complete (before it is committed), each filter gets
 * option negotiation, then the whole transaction as Postfix would have sent
 * it along the way: connect, HELO, MAIL, each RCPT, DATA, each header, end
 * of headers, the body in chunks (CRLF lines), end of message.  Commands
 * the filter declined in the negotiation are not sent, and replies it said
 * it would not give are not awaited.  A reject, tempfail or custom reply
 * at any step refuses the message (a RCPT-stage reject too: there is only
 * one answer left to give, at the end of DATA); discard answers 250 and
 * drops it; accept ends that filter's part.  At the end of the message a
 * filter may add, insert, change or delete headers, replace the body and
 * quarantine (the message is queued held, as `correio queue hold` does);
 * the next filter sees the changed message, and the queue file is
 * rewritten from the client's text on.  A filter that cannot be reached,
 * times out or breaks the protocol follows [milter] default_action:
 * tempfail (451 4.7.1) or accept (skip that filter).
 */
#include "smtpd_private.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib-smtp/milter.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"

#define MILTER_BODY_CHUNK 65535

enum stage {
	ST_CONNECTING, ST_OPTNEG, ST_CONNECT, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA,
	ST_HEADER, ST_EOH, ST_BODY, ST_EOB, ST_DONE
};

struct header {
	char *name;
	char *value;		/* after "name:", one leading space removed */
};

struct smtpd_milter {
	struct smtpd_session *s;
	bool started;		/* start is known */
	size_t start;		/* queue file offset of the client's text */
	struct buf text;	/* the client's text, LF lines */

	/* the message as the filters see and change it */
	struct header *headers;
	unsigned n_headers, cap_headers;
	struct buf body;
	struct buf new_body;
	bool new_body_started;
	bool modified, quarantine;
	char quarantine_reason[200];

	/* the filter being asked */
	unsigned filter;
	char name[300];		/* "inet:127.0.0.1:11332" */
	struct bufferevent *bev;
	struct event *timer;
	struct milter_reader rd;
	uint32_t protocol, actions;
	enum stage stage;
	unsigned idx;		/* RCPT or header index */
	size_t body_off;
	char refusal[512];	/* the final SMTP reply when refused, or "" */
};

static const struct config *cfg_of(struct smtpd_session *s)
{
	return &s->conn.srv->cfg;
}

static void next_filter(struct smtpd_milter *m);

/* ---- the message ---- */

static void headers_free(struct smtpd_milter *m)
{
	for (unsigned i = 0; i < m->n_headers; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	m->headers = NULL;
	m->n_headers = m->cap_headers = 0;
}

static void header_insert(struct smtpd_milter *m, unsigned at, const char *name, size_t nlen,
			  const char *value, size_t vlen)
{
	struct header h;

	if (m->n_headers == m->cap_headers) {
		m->cap_headers = m->cap_headers * 2 + 16;
		m->headers = xrealloc(m->headers, m->cap_headers * sizeof(*m->headers));
	}
	h.name = xstrndup(name, nlen);
	h.value = xstrndup(value, vlen);
	if (at > m->n_headers)
		at = m->n_headers;
	memmove(m->headers + at + 1, m->headers + at, (m->n_headers - at) * sizeof(*m->headers));
	m->headers[at] = h;
	m->n_headers++;
}

/* Split the client's text into header fields and body. */
static void message_parse(struct smtpd_milter *m)
{
	const char *p = m->text.data != NULL ? m->text.data : "", *end = p + m->text.len;

	while (p < end && *p != '\n') {
		const char *line_end = memchr(p, '\n', (size_t)(end - p));
		const char *colon, *field_end;
		if (line_end == NULL)
			line_end = end;
		/* the field runs on over continuation lines */
		field_end = line_end;
		while (field_end + 1 < end && (field_end[1] == ' ' || field_end[1] == '\t')) {
			const char *next = memchr(field_end + 1, '\n', (size_t)(end - field_end - 1));
			field_end = next != NULL ? next : end;
		}
		colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon == NULL)
			break;	/* not a header: the rest is body */
		{
			const char *v = colon + 1;
			if (v < field_end && *v == ' ')
				v++;
			header_insert(m, m->n_headers, p, (size_t)(colon - p), v,
				      (size_t)(field_end - v));
		}
		p = field_end < end ? field_end + 1 : end;
	}
	if (p < end && *p == '\n')
		p++;
	buf_append(&m->body, p, (size_t)(end - p));
}

/* The message as text again (LF lines). */
static void message_write(struct smtpd_milter *m, struct buf *out)
{
	for (unsigned i = 0; i < m->n_headers; i++)
		buf_printf(out, "%s: %s\n", m->headers[i].name, m->headers[i].value);
	buf_putc(out, '\n');
	buf_append(out, m->body.data, m->body.len);
}

/* "\r\n" to "\n" of a filter's new body */
static void body_take(struct smtpd_milter *m, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!(p[i] == '\r' && i + 1 < len && p[i + 1] == '\n'))
			buf_putc(&m->new_body, p[i]);
}

/* ---- talking to one filter ---- */

static void timer_arm(struct smtpd_milter *m, uint64_t seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	evtimer_add(m->timer, &tv);
}

static void filter_close(struct smtpd_milter *m)
{
	if (m->bev != NULL) {
		bufferevent_free(m->bev);
		m->bev = NULL;
	}
	if (m->timer != NULL) {
		event_free(m->timer);
		m->timer = NULL;
	}
	milter_reader_deinit(&m->rd);
	m->stage = ST_DONE;
}

/* The filter failed: follow default_action. */
static void filter_failed(struct smtpd_milter *m, const char *why)
{
	bool accept = cfg_of(m->s)->milter_default_action == CONFIG_MILTER_ACCEPT;

	log_warn("smtpd: [%s]: milter %s: %s; %s", m->s->conn.addr, m->name, why,
		 accept ? "accepting without it" : "message deferred");
	filter_close(m);
	if (!accept)
		snprintf(m->refusal, sizeof(m->refusal),
			 "451 4.7.1 Error: mail filter unavailable, try again later");
	next_filter(m);
}

static void send_packet(struct smtpd_milter *m, const struct buf *b)
{
	bufferevent_write(m->bev, b->data, b->len);
}

/* Does the filter answer the command of stage st? */
static bool answers(const struct smtpd_milter *m, enum stage st)
{
	static const uint32_t no_reply[] = {
		[ST_CONNECT] = MILTER_P_NR_CONN, [ST_HELO] = MILTER_P_NR_HELO,
		[ST_MAIL] = MILTER_P_NR_MAIL, [ST_RCPT] = MILTER_P_NR_RCPT,
		[ST_DATA] = MILTER_P_NR_DATA, [ST_HEADER] = MILTER_P_NR_HDR,
		[ST_EOH] = MILTER_P_NR_EOH, [ST_BODY] = MILTER_P_NR_BODY,
	};

	return st >= (int)(sizeof(no_reply) / sizeof(no_reply[0])) ||
	       (m->protocol & no_reply[st]) == 0;
}

/* Build the command of the current stage into b; false when the filter
   does not want it (or nothing is left of a repeated stage). */
static bool command(struct smtpd_milter *m, struct buf *b)
{
	struct smtpd_session *s = m->s;
	struct envelope *e = queue_msg_envelope(s->msg);
	char addr[600];

	switch (m->stage) {
	case ST_CONNECT: {
		const char *macros[] = { "j", cfg_of(s)->hostname, "{daemon_name}", "correio" };
		char host[INET6_ADDRSTRLEN + 2];
		if (m->protocol & MILTER_P_NOCONNECT)
			return false;
		/* no reverse lookup: the address literal, as sendmail names an
		   unresolved client */
		snprintf(host, sizeof(host), "[%s]", s->conn.addr);
		milter_put_macros(b, MILTER_CMD_CONNECT, macros, 4);
		milter_put_connect(b, host, s->conn.addr, s->conn.port);
		return true;
	}
	case ST_HELO: {
		const char *item = s->helo;
		if (m->protocol & MILTER_P_NOHELO)
			return false;
		milter_put_strings(b, MILTER_CMD_HELO, &item, 1);
		return true;
	}
	case ST_MAIL: {
		const char *item = addr;
		const char *macros[] = { "{mail_addr}", e->sender, "{auth_authen}", s->user };
		if (m->protocol & MILTER_P_NOMAIL)
			return false;
		snprintf(addr, sizeof(addr), "<%s>", e->sender);
		milter_put_macros(b, MILTER_CMD_MAIL, macros, s->user[0] != '\0' ? 4 : 2);
		milter_put_strings(b, MILTER_CMD_MAIL, &item, 1);
		return true;
	}
	case ST_RCPT: {
		const char *item = addr;
		const char *macros[2] = { "{rcpt_addr}", "" };
		if ((m->protocol & MILTER_P_NORCPT) || m->idx >= e->n_rcpts)
			return false;
		macros[1] = e->rcpts[m->idx].address;
		snprintf(addr, sizeof(addr), "<%s>", e->rcpts[m->idx].address);
		milter_put_macros(b, MILTER_CMD_RCPT, macros, 2);
		milter_put_strings(b, MILTER_CMD_RCPT, &item, 1);
		return true;
	}
	case ST_DATA: {
		const char *macros[] = { "i", queue_msg_id(s->msg) };
		if (m->protocol & MILTER_P_NODATA)
			return false;
		milter_put_macros(b, MILTER_CMD_DATA, macros, 2);
		milter_put(b, MILTER_CMD_DATA, NULL, 0);
		return true;
	}
	case ST_HEADER: {
		const char *items[2];
		if ((m->protocol & MILTER_P_NOHDRS) || m->idx >= m->n_headers)
			return false;
		items[0] = m->headers[m->idx].name;
		items[1] = m->headers[m->idx].value;
		milter_put_strings(b, MILTER_CMD_HEADER, items, 2);
		return true;
	}
	case ST_EOH:
		if (m->protocol & MILTER_P_NOEOH)
			return false;
		milter_put(b, MILTER_CMD_EOH, NULL, 0);
		return true;
	case ST_BODY: {
		struct buf chunk;
		if ((m->protocol & MILTER_P_NOBODY) || m->body_off >= m->body.len) {
			m->body_off = m->body.len;
			return false;
		}
		/* CRLF lines, at most one chunk */
		buf_init(&chunk, 0);
		while (m->body_off < m->body.len && chunk.len < MILTER_BODY_CHUNK - 1) {
			char c = m->body.data[m->body_off++];
			if (c == '\n')
				buf_putc(&chunk, '\r');
			buf_putc(&chunk, c);
		}
		milter_put(b, MILTER_CMD_BODY, chunk.data, chunk.len);
		buf_deinit(&chunk);
		return true;
	}
	case ST_EOB: {
		const char *macros[] = { "i", queue_msg_id(s->msg) };
		milter_put_macros(b, MILTER_CMD_BODYEOB, macros, 2);
		milter_put(b, MILTER_CMD_BODYEOB, NULL, 0);
		return true;
	}
	default:
		return false;
	}
}

/* Is there nothing to send in stage st (no recipient, header or body)? */
static bool stage_empty(const struct smtpd_milter *m)
{
	switch (m->stage) {
	case ST_RCPT: return queue_msg_envelope(m->s->msg)->n_rcpts == 0;
	case ST_HEADER: return m->n_headers == 0;
	case ST_BODY: return m->body.len == 0;
	default: return false;
	}
}

/* The next recipient, header or body chunk, else the next stage. */
static void next_position(struct smtpd_milter *m)
{
	bool more = false;

	switch (m->stage) {
	case ST_RCPT: more = ++m->idx < queue_msg_envelope(m->s->msg)->n_rcpts; break;
	case ST_HEADER: more = ++m->idx < m->n_headers; break;
	case ST_BODY: more = m->body_off < m->body.len; break;
	default: break;
	}
	if (more)
		return;
	do {
		m->stage++;
		m->idx = 0;
		m->body_off = 0;
	} while (stage_empty(m));
}

/* Send the next commands the filter wants, up to one that awaits a reply
   (end of message always does). */
static void advance(struct smtpd_milter *m)
{
	struct buf b;

	buf_init(&b, 0);
	for (;;) {
		next_position(m);
		buf_reset(&b);
		if (!command(m, &b))
			continue;
		send_packet(m, &b);
		if (answers(m, m->stage))
			break;
	}
	buf_deinit(&b);
	timer_arm(m, cfg_of(m->s)->milter_timeout);
}

/* The filter is through with this message. */
static void filter_done(struct smtpd_milter *m)
{
	struct buf b;

	if (m->new_body_started) {
		buf_reset(&m->body);
		buf_append(&m->body, m->new_body.data, m->new_body.len);
		buf_reset(&m->new_body);
		m->new_body_started = false;
	}
	buf_init(&b, 0);
	milter_put(&b, MILTER_CMD_QUIT, NULL, 0);
	send_packet(m, &b);
	buf_deinit(&b);
	filter_close(m);
	next_filter(m);
}

static void refuse(struct smtpd_milter *m, const char *text)
{
	str_copy(m->refusal, text, sizeof(m->refusal));
	log_info("smtpd: [%s]: milter %s: %s", m->s->conn.addr, m->name, text);
	filter_close(m);
	next_filter(m);
}

/* Apply an end-of-message change. */
static void modify(struct smtpd_milter *m, const struct milter_reply *r)
{
	unsigned seen = 0;

	switch (r->kind) {
	case MILTER_R_ADDHEADER:
		if (!(m->actions & MILTER_A_ADDHDRS))
			break;
		header_insert(m, m->n_headers, r->name, strlen(r->name), r->value, strlen(r->value));
		m->modified = true;
		break;
	case MILTER_R_INSHEADER:
		if (!(m->actions & MILTER_A_ADDHDRS))
			break;
		header_insert(m, r->index, r->name, strlen(r->name), r->value, strlen(r->value));
		m->modified = true;
		break;
	case MILTER_R_CHGHEADER:
		if (!(m->actions & MILTER_A_CHGHDRS))
			break;
		m->modified = true;
		for (unsigned i = 0; i < m->n_headers; i++) {
			if (strcasecmp(m->headers[i].name, r->name) != 0 || ++seen != r->index)
				continue;
			free(m->headers[i].value);
			if (r->value[0] == '\0') {
				free(m->headers[i].name);
				memmove(m->headers + i, m->headers + i + 1,
					(m->n_headers - i - 1) * sizeof(*m->headers));
				m->n_headers--;
			} else {
				m->headers[i].value = xstrdup(r->value);
			}
			return;
		}
		if (r->value[0] != '\0')
			header_insert(m, m->n_headers, r->name, strlen(r->name), r->value,
				      strlen(r->value));
		break;
	case MILTER_R_REPLBODY:
		if (!(m->actions & MILTER_A_CHGBODY))
			break;
		m->new_body_started = true;
		m->modified = true;
		body_take(m, r->data, r->len);
		break;
	case MILTER_R_QUARANTINE:
		if (!(m->actions & MILTER_A_QUARANTINE))
			break;
		m->quarantine = true;
		str_copy(m->quarantine_reason, r->text, sizeof(m->quarantine_reason));
		break;
	default:
		log_info("smtpd: [%s]: milter %s: envelope change '%c' ignored",
			 m->s->conn.addr, m->name, r->cmd);
		break;
	}
}

/* One reply.  Returns false once the filter's connection is gone. */
static bool handle(struct smtpd_milter *m, const struct milter_reply *r)
{
	if (m->stage == ST_OPTNEG) {
		if (r->kind != MILTER_R_OPTNEG || r->version < 2) {
			filter_failed(m, "bad option negotiation");
			return false;
		}
		m->protocol = r->protocol & MILTER_P_OFFERED;
		m->actions = r->actions & MILTER_A_OFFERED;
		advance(m);
		return true;
	}
	switch (r->kind) {
	case MILTER_R_CONTINUE:
		if (m->stage == ST_EOB) {
			filter_done(m);
			return false;
		}
		advance(m);
		return true;
	case MILTER_R_SKIP:
		if (m->stage == ST_BODY)
			m->body_off = m->body.len;
		advance(m);
		return true;
	case MILTER_R_ACCEPT:
		filter_done(m);
		return false;
	case MILTER_R_PROGRESS:
		timer_arm(m, cfg_of(m->s)->milter_timeout);
		return true;
	case MILTER_R_REJECT:
		refuse(m, "550 5.7.1 Error: message rejected by a mail filter");
		return false;
	case MILTER_R_TEMPFAIL:
		refuse(m, "451 4.7.1 Error: message deferred by a mail filter, try again later");
		return false;
	case MILTER_R_REPLYCODE:
		refuse(m, r->text);
		return false;
	case MILTER_R_DISCARD:
		log_info("smtpd: [%s]: milter %s: message discarded", m->s->conn.addr, m->name);
		refuse(m, "250 2.0.0 Ok: discarded by a mail filter");
		return false;
	case MILTER_R_OPTNEG:
		filter_failed(m, "option negotiation out of turn");
		return false;
	default:
		if (m->stage != ST_EOB) {
			filter_failed(m, "message change before the end of the message");
			return false;
		}
		modify(m, r);
		return true;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtpd_milter *m = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) > 0) {
		size_t n = evbuffer_get_contiguous_space(in), used = 0;
		const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);
		struct milter_reply r;
		const char *error;
		int ret = milter_read(&m->rd, p, n, &used, &r, &error);
		if (ret < 0) {
			filter_failed(m, error);
			return;
		}
		if (ret > 0 && !handle(m, &r))
			return;		/* bev is gone */
		evbuffer_drain(in, used);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_milter *m = arg;
	struct buf b;

	if (what & BEV_EVENT_CONNECTED) {
		buf_init(&b, 0);
		milter_put_optneg(&b, MILTER_A_OFFERED, MILTER_P_OFFERED);
		send_packet(m, &b);
		buf_deinit(&b);
		m->stage = ST_OPTNEG;
		timer_arm(m, cfg_of(m->s)->milter_timeout);
		return;
	}
	filter_failed(m, m->stage == ST_CONNECTING ? "cannot connect" : "connection lost");
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_milter *m = arg;

	filter_failed(m, m->stage == ST_CONNECTING ? "connect timeout" : "timeout");
}

/* "inet:HOST:PORT", "inet6:[HOST]:PORT" or "unix:/PATH" */
static int filter_address(const char *name, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (strncmp(name, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		if (str_copy(un->sun_path, name + 5, sizeof(un->sun_path)) >= sizeof(un->sun_path))
			return -1;
		*len = sizeof(*un);
		return 1;
	}
	if (strncmp(name, "inet:", 5) == 0)
		name += 5;
	else if (strncmp(name, "inet6:", 6) == 0)
		name += 6;
	colon = strrchr(name, ':');
	if (colon == NULL || parse_uint(colon + 1, &port) < 0 || port == 0 || port > 65535)
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - name), name);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 1;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 1;
	}
	return -1;
}

/* The n-th filter of the list, or false past its end. */
static bool filter_name(const struct config *cfg, unsigned n, char *out, size_t size)
{
	char copy[sizeof(cfg->milter_filters)], *save = NULL;
	unsigned i = 0;

	str_copy(copy, cfg->milter_filters, sizeof(copy));
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save), i++)
		if (i == n) {
			str_copy(out, t, size);
			return true;
		}
	return false;
}

/* Rewrite the queue file from the client's text on; then resume. */
static void finish(struct smtpd_milter *m)
{
	struct smtpd_session *s = m->s;

	if (m->refusal[0] != '\0') {
		smtpd_data_milter_done(s, m->refusal);
		return;
	}
	if (m->modified) {
		struct buf text;
		buf_init(&text, 0);
		message_write(m, &text);
		if (queue_msg_truncate(s->msg, m->start) < 0 ||
		    queue_msg_write(s->msg, text.data, text.len) < 0) {
			buf_deinit(&text);
			smtpd_data_milter_done(s, "451 4.3.0 Error: queue file write error");
			return;
		}
		buf_deinit(&text);
	}
	if (m->quarantine) {
		queue_msg_envelope(s->msg)->held = true;
		log_info("%s: milter-hold: %s", queue_msg_id(s->msg), m->quarantine_reason);
	}
	smtpd_data_milter_done(s, NULL);
}

static void next_filter(struct smtpd_milter *m)
{
	const struct config *cfg = cfg_of(m->s);
	struct sockaddr_storage ss;
	socklen_t len;

	for (;;) {
		if (m->refusal[0] != '\0' || !filter_name(cfg, m->filter++, m->name, sizeof(m->name))) {
			finish(m);
			return;
		}
		if (filter_address(m->name, &ss, &len) < 0) {
			filter_failed(m, "not inet:HOST:PORT or unix:PATH");
			return;
		}
		break;
	}
	milter_reader_init(&m->rd);
	m->stage = ST_CONNECTING;
	m->protocol = m->actions = 0;
	m->idx = 0;
	m->body_off = 0;
	m->timer = evtimer_new(m->s->conn.srv->base, on_timeout, m);
	m->bev = bufferevent_socket_new(m->s->conn.srv->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(m->bev, on_read, NULL, on_event, m);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
	timer_arm(m, cfg->milter_connect_timeout);
	if (bufferevent_socket_connect(m->bev, (struct sockaddr *)&ss, (int)len) < 0) {
		/* reported from the loop, never from inside this call */
		struct timeval now = { 0, 0 };
		bufferevent_free(m->bev);
		m->bev = NULL;
		evtimer_add(m->timer, &now);
	}
}

/* ---- what smtpd_data.c calls ---- */

void smtpd_milter_text(struct smtpd_session *s, const char *p, size_t len)
{
	struct smtpd_milter *m = s->milter;

	if (cfg_of(s)->milter_filters[0] == '\0' || s->msg == NULL)
		return;
	if (m == NULL) {
		m = xcalloc(1, sizeof(*m));
		m->s = s;
		buf_init(&m->text, 0);
		buf_init(&m->body, 0);
		buf_init(&m->new_body, 0);
		m->stage = ST_DONE;
		s->milter = m;
	}
	if (!m->started) {
		m->started = true;
		m->start = queue_msg_size(s->msg);
	}
	buf_append(&m->text, p, len);
}

int smtpd_milter_eom(struct smtpd_session *s)
{
	struct smtpd_milter *m = s->milter;

	if (cfg_of(s)->milter_filters[0] == '\0' || s->msg == NULL)
		return 1;
	if (m == NULL) {
		smtpd_milter_text(s, "", 0);	/* an empty message */
		m = s->milter;
	}
	message_parse(m);
	s->state = SMTPD_STATE_MILTER;
	m->filter = 0;
	next_filter(m);
	return 0;
}

void smtpd_milter_free(struct smtpd_session *s)
{
	struct smtpd_milter *m = s->milter;

	if (m == NULL)
		return;
	if (m->stage != ST_DONE)
		filter_close(m);
	headers_free(m);
	buf_deinit(&m->text);
	buf_deinit(&m->body);
	buf_deinit(&m->new_body);
	free(m);
	s->milter = NULL;
}
