/*
 * mta_dsn.c - choosing the recipients a notice reports, composing it with
 * mime/dsn, and queueing it from the null sender.
 */
#include "mta_dsn.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib-smtp/smtp_parse.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mailauth/mailauth.h"
#include "mta/mta_private.h"
#include "mime/mime.h"
#include "queue/queue.h"

#define DSN_MAX_RETURN (1024 * 1024)	/* larger originals: headers only */

static enum dsn_kind dsn_kind_of(enum mta_dsn_kind kind)
{
	return kind == MTA_DSN_FAILURE ? DSN_FAILURE :
	       kind == MTA_DSN_DELAY ? DSN_DELAY : DSN_SUCCESS;
}

/* Does recipient r call for a notice of kind? */
static bool wanted(const struct envelope_rcpt *r, unsigned char fresh,
		   enum mta_dsn_kind kind)
{
	if (!envelope_dsn_wanted(dsn_kind_of(kind), r->notify))
		return false;
	if (kind == MTA_DSN_DELAY)
		return r->state == ENVELOPE_PENDING;
	if (!fresh)
		return false;
	return r->state == (kind == MTA_DSN_FAILURE ? ENVELOPE_BOUNCED : ENVELOPE_SENT);
}

/* Read the original message (bounded) into text. */
static int read_original(struct mta *m, const struct envelope *e, struct buf *text)
{
	/* past DSN_MAX_RETURN only the headers are returned (dsn_compose) */
	return queue_text_read(m->srv->queue, e->id, 0, DSN_MAX_RETURN + 65536, text) < 0 ?
	       -1 : 1;
}

static void on_dsn_committed(void *ctx, int result)
{
	if (result < 0)
		log_err("relay: a delivery status notification could not be queued");
}

/* Queue text as a message from <> to rcpt. */
static int queue_notice(struct mta *m, const char *rcpt, const struct buf *text,
			const struct dsn_result *result, const char **id_r)
{
	struct envelope *e = envelope_new();
	struct queue_msg *msg;
	const char *error;
	static const char rp[] = "Return-Path: <>\n";

	e->arrival = (uint64_t)time(NULL);
	envelope_set(&e->host, m->srv->cfg.hostname);
	e->body = result->need_8bitmime ? SMTP_BODY_8BITMIME : SMTP_BODY_7BIT;
	e->smtputf8 = result->need_smtputf8;
	envelope_add_rcpt(e, rcpt, NULL, SMTP_NOTIFY_NEVER);
	if (queue_msg_new(m->srv->queue, e, &msg, &error) < 0) {
		log_err("relay: %s", error);
		return -1;
	}
	*id_r = queue_msg_id(msg);
	queue_msg_write(msg, rp, sizeof(rp) - 1);
	queue_msg_mark_header(msg);
	/* DKIM-signed for the local domain of the hostname (mailauth.h) */
	queue_msg_set_auth(msg, mailauth_new_notice(&m->srv->cfg, m->srv->accounts), NULL, 0);
	queue_msg_write(msg, text->data, text->len);
	queue_commit(&msg, on_dsn_committed, NULL);
	return 1;
}

int mta_dsn_send(struct mta *m, const struct envelope *e, const unsigned char *fresh,
		 enum mta_dsn_kind kind)
{
	struct dsn_rcpt *rcpts = xcalloc(e->n_rcpts + 1, sizeof(*rcpts));
	struct dsn_rcpt_text *texts = xcalloc(e->n_rcpts + 1, sizeof(*texts));
	struct dsn_info info = { 0 };
	struct dsn_result result;
	struct buf original, text;
	char from[300], id_copy[32];
	const char *error, *id = NULL;
	unsigned n = 0;
	int ret = -1;

	for (unsigned i = 0; i < e->n_rcpts; i++) {
		const struct envelope_rcpt *r = &e->rcpts[i];
		if (!wanted(r, fresh != NULL ? fresh[i] : 0, kind))
			continue;
		dsn_rcpt_text(dsn_kind_of(kind), r->last_error, r->remote_mta, &texts[n]);
		rcpts[n].address = r->address;
		rcpts[n].orcpt = r->orcpt;
		rcpts[n].action = kind == MTA_DSN_FAILURE ? "failed" :
				  kind == MTA_DSN_DELAY ? "delayed" :
				  r->kind == ENVELOPE_LOCAL ? "delivered" : "relayed";
		rcpts[n].status = texts[n].status;
		rcpts[n].remote_mta = texts[n].mta[0] != '\0' ? texts[n].mta : NULL;
		rcpts[n].diagnostic = texts[n].diagnostic[0] != '\0' ? texts[n].diagnostic : NULL;
		rcpts[n].last_attempt = time(NULL);
		rcpts[n].will_retry_until = kind == MTA_DSN_DELAY ?
			(time_t)(e->arrival + m->srv->cfg.give_up) : 0;
		n++;
	}
	if (n == 0) {
		free(rcpts);
		free(texts);
		return 0;
	}
	snprintf(from, sizeof(from), "MAILER-DAEMON@%s", m->srv->cfg.hostname);
	info.reporting_mta = m->srv->cfg.hostname;
	info.from_address = from;
	info.to = e->sender;
	info.envid = e->envid;
	info.arrival = (time_t)e->arrival;
	info.queue_id = e->id;
	info.kind = dsn_kind_of(kind);
	info.ret_full = envelope_dsn_ret_full(info.kind, e->ret);
	info.max_return = DSN_MAX_RETURN;
	buf_init(&original, 0);
	buf_init(&text, 0);
	if (read_original(m, e, &original) > 0 &&
	    dsn_compose(&info, rcpts, n, original.data, original.len, &text, &result,
			&error) > 0 &&
	    queue_notice(m, e->sender, &text, &result, &id) > 0) {
		str_copy(id_copy, id, sizeof(id_copy));
		log_info("%s: sender %s notice: %s", e->id,
			 kind == MTA_DSN_FAILURE ? "non-delivery" :
			 kind == MTA_DSN_DELAY ? "delay" : "delivery", id_copy);
		ret = (int)n;
	} else {
		log_err("%s: cannot send a delivery status notification", e->id);
	}
	buf_deinit(&original);
	buf_deinit(&text);
	free(rcpts);
	free(texts);
	return ret;
}
