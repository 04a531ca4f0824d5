/*
 * cmd_append.c - APPEND (RFC 9051 §6.3.12, UIDPLUS APPENDUID, LITERAL+,
 * literal8).  The message literal is never held in memory: when the
 * reader announces it, the size is checked against the limit and the
 * quota and the destination is opened, before "+ Ready" is sent; its data
 * then streams into the store, which fsyncs it before the tagged OK.
 */
#include "imapd_private.h"

#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "lib-imap/imap_date.h"
#include "lib-imap/imap_utf7.h"
#include "lib/log.h"
#include "lib/util.h"

static const char *const system_flags[] = {
	"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"
};

/* Flags of APPEND into s->append_flags and keyword names. */
static int take_flags(struct imapd_session *s, const struct imap_arg *arg)
{
	const struct imap_arg *list;
	size_t count;
	const char *f;

	if (!imap_arg_get_list(arg, &list, &count))
		return -1;
	for (size_t i = 0; i < count; i++) {
		bool system = false;
		if (!imap_arg_is_flag(&list[i]) || !imap_arg_get_atom(&list[i], &f))
			return -1;
		for (unsigned k = 0; k < 5; k++)
			if (strcasecmp(f, system_flags[k]) == 0) {
				s->append_flags |= (uint8_t)(1u << k);
				system = true;
			}
		if (!system && f[0] != '\\') {
			buf_puts(&s->append_text, f);
			buf_putc(&s->append_text, '\0');
		}
	}
	return 1;
}

/* mailbox [flags] [date]: the arguments before the literal. */
static int append_args(struct imapd_session *s, const struct imap_event *ev,
		       struct buf *name)
{
	const struct imap_arg *a = ev->args;
	size_t i = 1;
	const char *mbox, *date;
	int tz;

	s->append_flags = 0;
	s->append_date = 0;
	buf_reset(&s->append_text);
	if (ev->arg_count < 1 || !imap_arg_get_astring(&a[0], &mbox))
		return -1;
	if (s->utf8 ? buf_puts(name, mbox) < 0 : imap_utf7_decode(mbox, strlen(mbox), name) < 0)
		return -1;
	if (i < ev->arg_count && a[i].type == IMAP_ARG_LIST && take_flags(s, &a[i++]) < 0)
		return -1;
	if (i < ev->arg_count && imap_arg_get_astring(&a[i], &date)) {
		if (imap_date_time_parse(date, &s->append_date, &tz) < 0)
			return -1;
		i++;
	}
	return i == ev->arg_count ? 1 : -1;
}

static int refuse(struct imapd_session *s, const struct imap_event *ev,
		  const char *status, const char *text)
{
	evbuffer_add_printf(imapd_out(s), "%s %s %s\r\n", ev->tag, status, text);
	imap_parser_literal_action(s->parser, IMAP_LITERAL_REJECT);
	return 0;	/* the reader drops the command: no COMMAND event */
}

int imapd_append_literal(struct imapd_session *s, const struct imap_event *ev)
{
	struct store_error err;
	struct buf name;
	int ret;

	if (ev->name == NULL || strcasecmp(ev->name, "APPEND") != 0 || ev->literal.depth != 0 ||
	    s->state == IMAPD_STATE_NOT_AUTH) {
		if (ev->literal.action == IMAP_LITERAL_REJECT)
			return refuse(s, ev, "NO", "[TOOBIG] literal too big");
		return 1;
	}
	if (ev->literal.size > s->conn.server->cfg.message_size)
		return refuse(s, ev, "NO", "[TOOBIG] message too big");
	buf_init(&name, 0);
	if (append_args(s, ev, &name) < 0) {
		buf_deinit(&name);
		return refuse(s, ev, "BAD", "usage: APPEND mailbox [(flags)] [date] literal");
	}
	ret = store_account_quota_check(s->account, ev->literal.size, &err);
	if (ret == 0) {
		buf_deinit(&name);
		return refuse(s, ev, "NO", "[OVERQUOTA] mailbox is full");
	}
	ret = store_append_begin(s->account, buf_cstr(&name), &s->append, &err);
	buf_deinit(&name);
	if (ret < 0)
		return refuse(s, ev, "NO", err.code == STORE_ERROR_NOT_FOUND ?
			      "[TRYCREATE] no such mailbox" : "[SERVERBUG] cannot store the message");
	imap_parser_literal_action(s->parser, IMAP_LITERAL_STREAM);
	return 1;
}

void imapd_append_data(struct imapd_session *s, const struct imap_event *ev)
{
	struct store_error err;

	if (s->append == NULL || ev->type != IMAP_EVENT_LITERAL_DATA)
		return;
	if (store_append_write(s->append, ev->data, ev->data_len, &err) < 0) {
		log_err("imapd: %s: append: %s", s->user, err.text);
		store_append_abort(&s->append);
	}
}

/* The whole APPEND command has been read (its literal streamed). */
void imapd_cmd_append(struct imapd_session *s)
{
	const char *kw[STORE_MAX_KEYWORDS];
	unsigned n_kw = 0;
	uint32_t uid, uidvalidity;
	struct store_error err;

	if (s->append == NULL) {
		imapd_tagged(s, "NO", "[SERVERBUG] the message could not be stored");
		return;
	}
	for (size_t off = 0; off < s->append_text.len && n_kw < STORE_MAX_KEYWORDS;
	     off += strlen(s->append_text.data + off) + 1)
		kw[n_kw++] = s->append_text.data + off;
	if (store_append_finish(&s->append, s->append_flags, kw, n_kw, s->append_date,
				&uid, &uidvalidity, &err) < 0) {
		imapd_tagged(s, "NO", "%s%s", err.code == STORE_ERROR_OVER_QUOTA ? "[OVERQUOTA] " :
			     "[SERVERBUG] ", err.text);
		return;
	}
	if (s->box != NULL)
		store_mailbox_sync(s->box, NULL);
	imapd_tagged(s, "OK", "[APPENDUID %u %u] APPEND completed", uidvalidity, uid);
}
