/*
 * smtpd_data.c - message text: DATA (dot-terminated) and BDAT (chunks of
 * announced size, RFC 3030), the Return-Path: and Received: lines, the
 * size and line-length limits, and the hand-over to the queue.  The final
 * 250 is sent from the queue's callback, after the group commit.
 */
#include "smtpd_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "delivery/quota.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mailauth/mailauth.h"
#include "queue/queue.h"
#include "tls/tls.h"

#define TEXT_FLUSH 32768

static const struct config *cfg_of(struct smtpd_session *s)
{
	return &s->conn.srv->cfg;
}

static void rfc5322_date(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* RFC 3848 / RFC 6531 protocol names: ESMTP, ESMTPS, ESMTPA, ESMTPSA, ... */
static void protocol_name(struct smtpd_session *s, bool utf8, char *out, size_t size)
{
	if (!s->esmtp) {
		str_copy(out, "SMTP", size);
		return;
	}
	snprintf(out, size, "%s%s%s", utf8 ? "UTF8SMTP" : "ESMTP",
		 s->conn.tls ? "S" : "", s->user[0] != '\0' ? "A" : "");
}

/* RFC 5321 §4.4 trace lines. */
static void write_trace(struct smtpd_session *s)
{
	struct envelope *e = queue_msg_envelope(s->msg);
	char date[64], with[16], tls[160];
	struct buf h;

	rfc5322_date(date, sizeof(date));
	protocol_name(s, e->smtputf8, with, sizeof(with));
	tls_describe(s->conn.bev, tls, sizeof(tls));
	buf_init(&h, 0);
	buf_printf(&h, "Return-Path: <%s>\n", e->sender);
	queue_msg_write(s->msg, h.data, h.len);
	queue_msg_mark_header(s->msg);
	buf_reset(&h);
	buf_printf(&h, "Received: from %s (unknown [%s])\n", s->helo, s->conn.addr);
	if (tls[0] != '\0')
		buf_printf(&h, "\t(using %s)\n", tls);
	buf_printf(&h, "\tby %s (correio) with %s id %s", cfg_of(s)->hostname, with,
		   queue_msg_id(s->msg));
	if (e->n_rcpts == 1)
		buf_printf(&h, "\n\tfor <%s>", e->rcpts[0].address);
	buf_printf(&h, "; %s\n", date);
	queue_msg_write(s->msg, h.data, h.len);
	buf_deinit(&h);
}

/* The authentication step of the message (mailauth/mailauth.h): mail
   from an authenticated user is signed, mail received on `smtp` checked. */
static void reception_auth(struct smtpd_session *s)
{
	struct services *srv = s->conn.srv;
	struct mailauth *a = NULL;

	if (s->user[0] != '\0')
		a = mailauth_new_submission(&srv->cfg, srv->accounts);
	else if (s->conn.listener == CONFIG_LISTEN_SMTP)
		a = mailauth_new_inbound(&srv->cfg, srv->mta, s->conn.addr, s->helo,
					 queue_msg_envelope(s->msg)->sender);
	if (a != NULL)
		queue_msg_set_auth(s->msg, a, s->refusal, sizeof(s->refusal));
}

/* Create the queue file for the transaction.  Returns 1, or 0 with the
   reply to give in *reply_r. */
static int begin_message(struct smtpd_session *s, const char **reply_r)
{
	const char *error;
	struct envelope *e = s->env;

	if (e->n_rcpts == 0) {
		*reply_r = "554 5.5.1 Error: no valid recipients";
		return 0;
	}
	e->arrival = (uint64_t)time(NULL);
	envelope_set(&e->host, cfg_of(s)->hostname);
	s->env = NULL;
	if (queue_msg_new(s->conn.srv->queue, e, &s->msg, &error) < 0) {
		*reply_r = "451 4.3.0 Error: cannot create a queue file";
		return 0;
	}
	write_trace(s);
	reception_auth(s);
	memset(&s->headers, 0, sizeof(s->headers));
	s->headers.line_start = true;
	smtpd_command_timer(s, true);
	return 1;
}

void smtpd_cmd_data(struct smtpd_session *s, char *arg)
{
	const char *reply;

	if (s->bdat) {
		smtpd_reply(s, "503 5.5.1 Error: DATA after BDAT");
		smtpd_error(s);
		return;
	}
	if (arg[0] != '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: DATA");
		smtpd_error(s);
		return;
	}
	if (begin_message(s, &reply) == 0) {
		smtpd_reply(s, "%s", reply);
		return;
	}
	smtp_data_init(&s->data, true, SMTPD_TEXT_LINE_MAX);
	s->state = SMTPD_STATE_DATA;
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* ---- the commit ---- */

static void finish_reply(struct smtpd_session *s)
{
	smtpd_command_timer(s, false);
	s->state = SMTPD_STATE_READY;
	if (s->shutdown) {
		smtpd_reply(s, "421 4.3.2 %s Service shutting down", cfg_of(s)->hostname);
		smtpd_close_after_output(s);
	}
}

static void on_committed(void *ctx, int result)
{
	struct smtpd_session *s = ctx;

	if (result <= 0)
		quota_release(s->conn.srv->quota, s->queue_id);
	if (result == 0)
		log_info("%s: reject: %s", s->queue_id, s->refusal);
	if (s->dead) {
		/* the client left while its message was being made durable */
		s->state = SMTPD_STATE_READY;
		smtpd_session_free(s);
		return;
	}
	if (result > 0) {
		metrics_received(METRICS_SMTP);
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", s->queue_id);
	}
	else if (result == 0)
		smtpd_reply(s, "%s", s->refusal);	/* the authentication step's */
	else
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
	finish_reply(s);
	smtpd_process_input(s);
}

static void commit_message(struct smtpd_session *s)
{
	struct envelope *e = queue_msg_envelope(s->msg);

	str_copy(s->queue_id, queue_msg_id(s->msg), sizeof(s->queue_id));
	if (s->user[0] != '\0')	/* as Postfix's smtpd says who logged in */
		log_info("%s: client=%s[%s], sasl_method=%s, sasl_username=%s, from=<%s>, "
			 "size=%zu, nrcpt=%u", s->queue_id, s->helo, s->conn.addr,
			 s->mech == SMTPD_MECH_LOGIN ? "LOGIN" : "PLAIN", s->user, e->sender,
			 queue_msg_size(s->msg), e->n_rcpts);
	else
		log_info("%s: client=%s[%s], from=<%s>, size=%zu, nrcpt=%u", s->queue_id,
			 s->helo, s->conn.addr, e->sender, queue_msg_size(s->msg), e->n_rcpts);
	s->state = SMTPD_STATE_COMMIT;
	queue_commit(&s->msg, on_committed, s);
}

/* ---- submission: Message-ID: and Date: when missing (RFC 6409 §8) ---- */

static void headers_missing(struct smtpd_session *s, struct buf *out)
{
	char date[64];

	if (!s->headers.has_date) {
		rfc5322_date(date, sizeof(date));
		buf_printf(out, "Date: %s\n", date);
	}
	if (!s->headers.has_message_id)
		buf_printf(out, "Message-ID: <%s.%llu@%s>\n", queue_msg_id(s->msg),
			   (unsigned long long)time(NULL), cfg_of(s)->hostname);
}

/* Insert the missing headers at offset at of s->text. */
static void headers_insert(struct smtpd_session *s, size_t at)
{
	struct buf tail;

	buf_init(&tail, 0);
	buf_append(&tail, s->text.data + at, s->text.len - at);
	buf_truncate(&s->text, at);
	headers_missing(s, &s->text);
	buf_append(&s->text, tail.data, tail.len);
	buf_deinit(&tail);
}

/* Note the name of a header line as it goes by. */
static void header_name_byte(struct smtpd_headers *h, char c)
{
	if (h->name_len >= sizeof(h->name) - 1)
		return;		/* past the name, or a name we do not look for */
	h->name[h->name_len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	h->name[h->name_len] = '\0';
	if (c == ':') {
		h->has_date |= strcmp(h->name, "date:") == 0;
		h->has_message_id |= strcmp(h->name, "message-id:") == 0;
		h->name_len = sizeof(h->name) - 1;
	}
}

/* Scan the new part of s->text; at the end of the header section of a
   submitted message, add what is missing. */
static void headers_watch(struct smtpd_session *s)
{
	struct smtpd_headers *h = &s->headers;

	for (size_t i = h->scanned; !h->done && i < s->text.len; i++) {
		char c = s->text.data[i];
		if (c == '\n') {
			if (h->line_start) {
				h->done = true;
				if (s->submission)
					headers_insert(s, i);
			}
			h->line_start = true;
			h->name_len = 0;
			continue;
		}
		if (h->line_start && (c == ' ' || c == '\t'))
			h->name_len = sizeof(h->name) - 1;	/* folded: no name */
		h->line_start = false;
		header_name_byte(h, c);
	}
	h->scanned = s->text.len;
}

/* Give the filtered text to the queue. */
static void text_flush(struct smtpd_session *s)
{
	headers_watch(s);
	s->headers.scanned = 0;
	if (s->msg != NULL)
		smtpd_milter_text(s, s->text.data, s->text.len);
	if (s->text.len > 0 && s->msg != NULL)
		queue_msg_write(s->msg, s->text.data, s->text.len);
	buf_reset(&s->text);
}

/* The text is complete: refuse it, or commit it. */
static void end_of_message(struct smtpd_session *s)
{
	text_flush(s);
	if (!s->headers.done && s->submission && s->msg != NULL) {
		/* headers only, no body: the missing ones go at the end */
		if (!s->headers.line_start)
			buf_putc(&s->text, '\n');
		headers_missing(s, &s->text);
		s->headers.done = true;
		text_flush(s);
	}
	if (s->too_big || s->data.line_too_long) {
		if (s->too_big)
			smtpd_reply(s, "552 5.3.4 Error: message exceeds fixed maximum message size");
		else
			smtpd_reply(s, "500 5.5.2 Error: message has a line longer than %d characters",
				    SMTPD_TEXT_LINE_MAX);
		struct envelope *e = queue_msg_envelope(s->msg);
		log_info("%s: reject: %s; from=<%s> to=<%s>%s helo=<%s>", queue_msg_id(s->msg),
			 s->too_big ? "message too big" : "line too long", e->sender,
			 e->n_rcpts > 0 ? e->rcpts[0].address : "",
			 e->n_rcpts > 1 ? " (and more)" : "", s->helo);
		smtpd_reset_transaction(s);
		finish_reply(s);
		return;
	}
	if (smtpd_milter_eom(s) == 0)
		return;		/* smtpd_data_milter_done() goes on */
	smtpd_data_milter_done(s, NULL);
}

void smtpd_data_milter_done(struct smtpd_session *s, const char *refusal)
{
	bool resumed = s->state == SMTPD_STATE_MILTER;
	char reply[512];

	if (refusal != NULL)	/* it may live in the filters' state, freed here */
		str_copy(reply, refusal, sizeof(reply));
	smtpd_milter_free(s);
	if (refusal != NULL) {
		smtpd_reply(s, "%s", reply);
		smtpd_reset_transaction(s);
		finish_reply(s);
	} else if (smtpd_quota_data(s) == 0) {
		smtpd_reset_transaction(s);
		finish_reply(s);
	} else {
		commit_message(s);
		return;
	}
	if (resumed)
		smtpd_process_input(s);
}

/* Feed len bytes of wire text through the filter into the message. */
static int feed(struct smtpd_session *s, const char *p, size_t len, size_t *used)
{
	int ret = smtp_data_feed(&s->data, p, len, used, &s->text);

	if (s->data.octets > cfg_of(s)->message_size)
		s->too_big = true;
	if (s->too_big || s->data.line_too_long)
		buf_reset(&s->text);	/* doomed: stop storing it */
	else if (s->text.len >= TEXT_FLUSH)
		text_flush(s);
	return ret;
}

/* DATA: consume input up to the end of data. */
static int data_input(struct smtpd_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	size_t used;
	int done = 0;

	while (!done && evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		done = feed(s, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
	}
	if (!done)
		return 0;
	end_of_message(s);
	return 1;
}

/* ---- BDAT ---- */

/* A chunk of a refused BDAT has been read: say why. */
static void chunk_refused(struct smtpd_session *s)
{
	smtpd_command_timer(s, false);
	smtpd_reply(s, "%s", s->bdat_error);
	queue_msg_abort(&s->msg);
	if (s->bdat_outside) {
		/* BDAT outside a transaction: nothing to keep failing */
		s->state = s->bdat_outside_state;
		s->bdat_failed = s->bdat_outside = false;
		s->bdat_error = NULL;
		smtpd_error(s);
	} else if (s->bdat_last) {
		smtpd_reset_transaction(s);
		finish_reply(s);
	} else {
		s->state = SMTPD_STATE_MAIL;
	}
}

/* Reply to a chunk that has been read completely. */
static void chunk_done(struct smtpd_session *s)
{
	if (!s->bdat_failed && (s->too_big || s->data.line_too_long)) {
		s->bdat_failed = true;
		s->bdat_error = s->too_big ?
			"552 5.3.4 Error: message exceeds fixed maximum message size" :
			"500 5.5.2 Error: message has a line longer than 998 characters";
	}
	if (s->bdat_failed) {
		chunk_refused(s);
		return;
	}
	if (!s->bdat_last) {
		text_flush(s);
		smtpd_command_timer(s, false);
		smtpd_reply(s, "250 2.0.0 %llu octets received",
			    (unsigned long long)s->data.octets);
		s->state = SMTPD_STATE_MAIL;
		return;
	}
	if (smtp_data_finish(&s->data, &s->text) < 0)
		s->too_big = true;
	end_of_message(s);
}

static int bdat_input(struct smtpd_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	size_t used, n;

	while (s->chunk_left > 0 && evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		n = v.iov_len < s->chunk_left ? v.iov_len : (size_t)s->chunk_left;
		if (s->bdat_failed || s->msg == NULL) {
			used = n;
		} else {
			feed(s, v.iov_base, n, &used);
		}
		evbuffer_drain(in, used);
		s->chunk_left -= used;
	}
	if (s->chunk_left > 0)
		return 0;
	chunk_done(s);
	return 1;
}

int smtpd_data_input(struct smtpd_session *s, struct evbuffer *in)
{
	return s->state == SMTPD_STATE_DATA ? data_input(s, in) : bdat_input(s, in);
}

/* Decide what the chunk that follows BDAT will be used for. */
static void bdat_begin(struct smtpd_session *s)
{
	if (s->state != SMTPD_STATE_MAIL) {
		s->bdat_outside = true;
		s->bdat_outside_state = s->state;
		s->bdat_failed = true;
		s->bdat_error = s->state == SMTPD_STATE_GREETED ?
			"503 5.5.1 Error: send HELO/EHLO first" :
			"503 5.5.1 Error: need MAIL command";
		return;
	}
	if (s->bdat || s->bdat_failed)
		return;		/* a later chunk of the same message */
	s->bdat = true;
	smtp_data_init(&s->data, false, SMTPD_TEXT_LINE_MAX);
	if (begin_message(s, &s->bdat_error) == 0)
		s->bdat_failed = true;
}

void smtpd_cmd_bdat(struct smtpd_session *s, char *arg)
{
	const char *error;
	uint64_t size;
	bool last;

	if (smtp_bdat_parse(arg, &size, &last, &error) < 0) {
		/* without a valid size the chunk cannot be skipped: give up */
		smtpd_reply(s, "%s", error);
		smtpd_reply(s, "421 4.7.0 %s Error: cannot resynchronise after a bad BDAT",
			    cfg_of(s)->hostname);
		smtpd_close_after_output(s);
		return;
	}
	bdat_begin(s);
	if (!s->bdat_failed && s->data.octets + size > cfg_of(s)->message_size)
		s->too_big = true;
	s->bdat_last = last;
	s->chunk_left = size;
	s->state = SMTPD_STATE_BDAT;
	smtpd_command_timer(s, true);
	if (size == 0)
		chunk_done(s);
}
