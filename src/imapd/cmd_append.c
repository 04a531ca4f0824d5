/*
 * cmd_append.c - APPEND (RFC 9051 §6.3.12, UIDPLUS APPENDUID, LITERAL+,
 * literal8) and MULTIAPPEND (RFC 3502: several messages in one command,
 * each with its own flags and date).  A message literal is never held in
 * memory: when the reader announces it, the size is checked against the
 * limit and the quota (with the messages before it in the command) and
 * the destination is opened, before "+ Ready" is sent; its data then
 * streams into the store.  At the end of the command the store fsyncs
 * every message off the event loop, files them in order and flushes
 * their folder (a flush shared with other sessions' APPENDs and COPYs);
 * the tagged OK follows, and the session reads its next command only
 * then.  Other sessions run meanwhile.
 *
 *   append = "APPEND" SP mailbox 1*append-message
 *   append-message = [SP flag-list] [SP date-time] SP literal
 *
 * Every message passes through mime_binenc on its way to the store: a
 * part sent with Content-Transfer-Encoding binary (RFC 3516) is stored
 * in base64, as RFC 3516 §4.2 allows, because the store keeps LF-ended
 * text and would not give back its NULs, bare CRs and line ends as
 * sent; BINARY[n] decodes it to the client's exact bytes.  Other
 * messages are stored byte for byte.
 *
 * XXX: MULTIAPPEND is all or nothing up to filing: a refused literal or a
 * failed write drops every message; but a store error while filing (a
 * disk failure) leaves the messages filed before it in the mailbox.
 */
#include "imapd_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "lib-imap/imap_date.h"
#include "lib-imap/imap_seqset.h"
#include "lib-imap/imap_utf7.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mime/mime.h"

#define APPEND_MESSAGES_MAX 1000	/* messages of one MULTIAPPEND */

static const char *const system_flags[] = {
	"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"
};

void imapd_append_abort(struct imapd_session *s)
{
	for (unsigned i = 0; i < s->n_append_msgs; i++) {
		store_append_abort(&s->append_msgs[i].ap);
		mime_binenc_free(&s->append_msgs[i].enc);
		buf_deinit(&s->append_msgs[i].keywords);
	}
	s->n_append_msgs = 0;
	s->append_total = 0;
}

static struct imapd_append_msg *msg_new(struct imapd_session *s)
{
	struct imapd_append_msg *m;

	if (s->n_append_msgs == s->cap_append_msgs) {
		unsigned cap = s->cap_append_msgs == 0 ? 4 : s->cap_append_msgs * 2;
		s->append_msgs = xreallocarray(s->append_msgs, cap, sizeof(*s->append_msgs));
		s->cap_append_msgs = cap;
	}
	m = &s->append_msgs[s->n_append_msgs++];
	memset(m, 0, sizeof(*m));
	buf_init(&m->keywords, 0);
	return m;
}

int imapd_append_put(struct imapd_append_msg *m, const void *data, size_t len,
		     struct store_error *error_r)
{
	struct buf out;
	int ret = 1;

	if (m->ap == NULL) {
		snprintf(error_r->text, sizeof(error_r->text), "the message was dropped");
		return -1;
	}
	if (m->enc == NULL)
		m->enc = mime_binenc_new();
	buf_init(&out, 0);
	if (data != NULL)
		mime_binenc_write(m->enc, data, len, &out);
	else
		mime_binenc_finish(m->enc, &out);
	if (out.len > 0 && store_append_write(m->ap, out.data, out.len, error_r) < 0) {
		store_append_abort(&m->ap);
		ret = -1;
	}
	buf_deinit(&out);
	return ret;
}

/* A message's flag list into m: system flags and keyword names. */
static int take_flags(struct imapd_append_msg *m, const struct imap_arg *arg)
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
				m->flags |= (uint8_t)(1u << k);
				system = true;
			}
		if (!system && f[0] != '\\') {
			buf_puts(&m->keywords, f);
			buf_putc(&m->keywords, '\0');
		}
	}
	return 1;
}

/* Where the arguments of the message being announced start: after the
   literal of the one before it (MULTIAPPEND), else after the mailbox. */
static size_t message_start(const struct imap_arg *a, size_t n)
{
	size_t start = 1;

	for (size_t i = 1; i < n; i++)
		if (a[i].type == IMAP_ARG_LITERAL_STREAMED)
			start = i + 1;
	return start;
}

static int mailbox_name(struct imapd_session *s, const struct imap_arg *a, size_t n,
			struct buf *name)
{
	const char *mbox;

	if (n < 1 || !imap_arg_get_astring(&a[0], &mbox))
		return -1;
	return s->utf8 ? buf_puts(name, mbox) : imap_utf7_decode(mbox, strlen(mbox), name);
}

/* A message's [flags] [date] at a[*i..n) into m.  1 or -1. */
static int message_prefix(const struct imap_arg *a, size_t n, size_t *i,
			  struct imapd_append_msg *m)
{
	const char *date;
	int tz;

	if (*i < n && a[*i].type == IMAP_ARG_LIST && take_flags(m, &a[(*i)++]) < 0)
		return -1;
	if (*i < n && !imap_arg_atom_equals(&a[*i], "CATENATE") &&
	    imap_arg_get_astring(&a[*i], &date)) {
		if (imap_date_time_parse(date, &m->date, &tz) < 0)
			return -1;
		(*i)++;
	}
	return 1;
}

/* Open the destination of m; 1, or 0 with the NO text. */
static int begin_message(struct imapd_session *s, struct imapd_append_msg *m, const char *name,
			 char *text, size_t size)
{
	struct store_error err;

	if (store_append_begin(s->account, name, &m->ap, &err) >= 0) {
		store_append_stream(m->ap);
		return 1;
	}
	if (err.code == STORE_ERROR_BAD_PARAM)
		snprintf(text, size, "[CANNOT] %s", err.text);
	else
		snprintf(text, size, "%s", err.code == STORE_ERROR_NOT_FOUND ?
			 "[TRYCREATE] no such mailbox" : "[SERVERBUG] cannot store the message");
	return 0;
}

/*
 * The CATENATE messages (RFC 4469) from a[s->append_next_arg] on, made
 * now, in order; *next_r: the first argument after them.  1, 0 NO, -1 BAD
 * (the reply text in text).
 */
static int catenate_messages(struct imapd_session *s, const struct imap_arg *a, size_t n,
			     const char *name, size_t *next_r, char *text, size_t size)
{
	const struct imap_arg *parts;
	size_t i = s->append_next_arg, j, count;
	struct imapd_append_msg *m;
	int ret;

	for (;;) {
		if (s->n_append_msgs >= APPEND_MESSAGES_MAX) {
			snprintf(text, size, "[LIMIT] too many messages in one APPEND");
			return 0;
		}
		m = msg_new(s);
		j = i;
		if (message_prefix(a, n, &j, m) < 0 || j + 1 >= n ||
		    !imap_arg_atom_equals(&a[j], "CATENATE") ||
		    !imap_arg_get_list(&a[j + 1], &parts, &count)) {
			buf_deinit(&m->keywords);	/* not one: given back */
			s->n_append_msgs--;
			*next_r = i;
			return 1;
		}
		if ((ret = begin_message(s, m, name, text, size)) <= 0 ||
		    (ret = imapd_catenate(s, m, parts, count, text, size)) <= 0)
			return ret;
		i = j + 2;
		s->append_next_arg = i;
	}
}

/* Refuse the literal: the whole command is dropped, its messages too. */
static int refuse(struct imapd_session *s, const struct imap_event *ev,
		  const char *status, const char *text)
{
	imapd_append_abort(s);
	evbuffer_add_printf(imapd_out(s), "%s %s %s\r\n", ev->tag, status, text);
	imap_parser_literal_action(s->parser, IMAP_LITERAL_REJECT);
	return 0;	/* the reader drops the command: no COMMAND event */
}

/* Open the destination of the literal's message m; 1, or 0 refused. */
static int open_message(struct imapd_session *s, const struct imap_event *ev,
			struct imapd_append_msg *m, const char *name)
{
	struct store_error err;
	char text[sizeof(err.text) + 16];
	int ret;

	ret = store_account_quota_check(s->account, s->append_total + ev->literal.size, &err);
	if (ret == 0)
		return refuse(s, ev, "NO", "[OVERQUOTA] mailbox is full");
	if (begin_message(s, m, name, text, sizeof(text)) == 0)
		return refuse(s, ev, "NO", text);
	s->append_total += ev->literal.size;
	return 1;
}

#define APPEND_USAGE "usage: APPEND mailbox [(flags)] [date] (literal | CATENATE (...)) ..."

int imapd_append_literal(struct imapd_session *s, const struct imap_event *ev)
{
	struct imapd_append_msg *m;
	char text[600];
	struct buf name;
	size_t i;
	int ret;

	if (ev->name == NULL || strcasecmp(ev->name, "APPEND") != 0 || ev->literal.depth != 0 ||
	    s->state == IMAPD_STATE_NOT_AUTH) {
		if (ev->literal.action == IMAP_LITERAL_REJECT)
			return refuse(s, ev, "NO", "[TOOBIG] literal too big");
		return 1;	/* CATENATE's TEXT literals are collected */
	}
	if (message_start(ev->args, ev->arg_count) == 1) {
		imapd_append_abort(s);		/* a new command */
		s->append_next_arg = 1;
	}
	if (ev->literal.size > s->conn.srv->cfg.message_size)
		return refuse(s, ev, "NO", "[TOOBIG] message too big");
	buf_init(&name, 0);
	if (mailbox_name(s, ev->args, ev->arg_count, &name) < 0) {
		buf_deinit(&name);
		return refuse(s, ev, "BAD", APPEND_USAGE);
	}
	ret = catenate_messages(s, ev->args, ev->arg_count, buf_cstr(&name), &i, text,
				sizeof(text));
	if (ret <= 0) {
		buf_deinit(&name);
		return refuse(s, ev, ret < 0 ? "BAD" : "NO", text);
	}
	if (s->n_append_msgs >= APPEND_MESSAGES_MAX) {
		buf_deinit(&name);
		return refuse(s, ev, "NO", "[LIMIT] too many messages in one APPEND");
	}
	m = msg_new(s);
	if (message_prefix(ev->args, ev->arg_count, &i, m) < 0 || i != ev->arg_count) {
		buf_deinit(&name);
		return refuse(s, ev, "BAD", APPEND_USAGE);
	}
	ret = open_message(s, ev, m, buf_cstr(&name));
	buf_deinit(&name);
	if (ret > 0) {
		s->append_next_arg = ev->arg_count + 1;	/* after this literal */
		imap_parser_literal_action(s->parser, IMAP_LITERAL_STREAM);
	}
	return ret;
}

void imapd_append_data(struct imapd_session *s, const struct imap_event *ev)
{
	struct imapd_append_msg *m;
	struct store_error err;

	if (s->n_append_msgs == 0 || ev->type != IMAP_EVENT_LITERAL_DATA)
		return;
	m = &s->append_msgs[s->n_append_msgs - 1];
	if (m->ap != NULL && imapd_append_put(m, ev->data, ev->data_len, &err) < 0)
		log_err("imapd: %s: append: %s", s->user, err.text);
}

/* The end of message m's text, and its flags, keywords and date, for
   the store.  1, or -1 with the reply sent. */
static int seal_message(struct imapd_session *s, struct imapd_append_msg *m)
{
	const char *kw[STORE_MAX_KEYWORDS];
	struct store_error err;
	unsigned n_kw = 0;

	for (size_t off = 0; off < m->keywords.len && n_kw < STORE_MAX_KEYWORDS;
	     off += strlen(m->keywords.data + off) + 1)
		kw[n_kw++] = m->keywords.data + off;
	if (imapd_append_put(m, NULL, 0, &err) < 0) {
		imapd_tagged(s, "NO", "[SERVERBUG] %s", err.text);
		return -1;
	}
	store_append_set(m->ap, m->flags, kw, n_kw, m->date);
	return 1;
}

/* The store has filed the messages and flushed them to disk (or failed):
   the tagged reply. */
static void on_filed(void *ctx, int result, const uint32_t *uids, unsigned n_filed,
		     uint32_t uidvalidity, const struct store_error *err)
{
	struct imapd_session *s = ctx;
	struct buf set;

	imapd_append_abort(s);	/* frees what is left: the keyword lists */
	if (s->box != NULL)
		store_mailbox_sync(s->box, NULL);
	if (result < 0) {
		imapd_tagged(s, "NO", "%s%s", err->code == STORE_ERROR_OVER_QUOTA ?
			     "[OVERQUOTA] " : "[SERVERBUG] ", err->text);
	} else {
		buf_init(&set, 0);
		imap_seqset_format(uids, n_filed, &set);
		imapd_tagged(s, "OK", "[APPENDUID %u %s] APPEND completed", uidvalidity,
			     buf_cstr(&set));
		buf_deinit(&set);
	}
	imapd_store_waited(s);
}

/* The whole APPEND command has been read (its literals streamed). */
/* The messages after the last literal (CATENATE ones): 1, or -1 with the
   reply sent and every message dropped. */
static int last_messages(struct imapd_session *s)
{
	char text[600];
	struct buf name;
	size_t i = 0;
	int ret;

	if (message_start(s->cmd.args, s->cmd.arg_count) == 1) {
		imapd_append_abort(s);		/* no literal: all are here */
		s->append_next_arg = 1;
	}
	buf_init(&name, 0);
	ret = mailbox_name(s, s->cmd.args, s->cmd.arg_count, &name) < 0 ? -1 :
	      catenate_messages(s, s->cmd.args, s->cmd.arg_count, buf_cstr(&name), &i, text,
				sizeof(text));
	buf_deinit(&name);
	if (ret < 0 || (ret > 0 && (i != s->cmd.arg_count || s->n_append_msgs == 0)))
		snprintf(text, sizeof(text), "%s", APPEND_USAGE);
	if (ret > 0 && i == s->cmd.arg_count && s->n_append_msgs > 0)
		return 1;
	imapd_append_abort(s);
	imapd_tagged(s, ret == 0 ? "NO" : "BAD", "%s", text);
	return -1;
}

void imapd_cmd_append(struct imapd_session *s)
{
	struct store_append **aps;
	unsigned n;

	if (last_messages(s) < 0)
		return;
	n = s->n_append_msgs;
	for (unsigned i = 0; i < n; i++)
		if (s->append_msgs[i].ap == NULL) {
			imapd_append_abort(s);
			imapd_tagged(s, "NO", "[SERVERBUG] the message could not be stored");
			return;
		}
	for (unsigned i = 0; i < n; i++)
		if (seal_message(s, &s->append_msgs[i]) < 0) {
			imapd_append_abort(s);
			return;
		}
	/* the store files them in order and answers once they are on disk;
	   the session reads no other command meanwhile */
	aps = xcalloc(n, sizeof(*aps));
	for (unsigned i = 0; i < n; i++) {
		aps[i] = s->append_msgs[i].ap;
		s->append_msgs[i].ap = NULL;
	}
	s->store_wait = store_append_commit(aps, n, on_filed, s);
	free(aps);
}
