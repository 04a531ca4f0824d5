/*
 * jmap_submission.c - EmailSubmission/set, /get, /query and /changes
 * (RFC 8621 §7).
 *
 * A submission enters the queue exactly as authenticated SMTP and local
 * sendmail do: [submission] restrict_sender decides which envelope sender
 * and From: addresses the user may use (resolve_may_send_as), each
 * recipient is resolved once and recorded, the text passes through the
 * submission authentication step (DKIM signing, mailauth.h), and the
 * message is made durable by the queue's group commit.  The method waits
 * for that commit (it returns 0 and the request resumes from the queue's
 * callback), so "created" means "queued on disk", as 250 does in SMTP.
 * Bcc: is removed from the text, Date: and Message-ID: added when missing.
 * Then onSuccessUpdateEmail / onSuccessDestroyEmail run as an implicit
 * Email/set whose response follows (moving the draft to Sent, say).
 *
 * Submissions are sent at once and cannot be undone: undoStatus is
 * "final"; deliveryStatus is null (the queue's progress is not tracked
 * per submission).  They are kept in a log, <data_dir>/jmap/<account>/
 * submissions, one line per event ({"create": EmailSubmission} or
 * {"destroy": id}); the state is "e" + the number of lines, so /changes
 * is exact across restarts.  Id: "S" + the queue id.
 */
#include "jmap_private.h"
#include "jmap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/accounts.h"
#include "delivery/resolve.h"
#include "mime/mime.h"
#include "lib-smtp/smtp_parse.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mailauth/mailauth.h"
#include "queue/queue.h"
#include "conn/services.h"

#define SUBMISSION_LOG "submissions"

/* ---- the log ---- */

static int log_path(struct jmap_account *a, char *out, size_t size)
{
	return jmap_file_path(a->srv->cfg.data_dir, a->id, SUBMISSION_LOG, out, size);
}

/* Every event of the log, in order: 1, or -1. */
static int log_load(struct jmap_account *a, json_t **events_r)
{
	char path[1200];
	struct buf b;
	size_t start = 0;
	int ret;

	*events_r = json_array();
	buf_init(&b, 0);
	if (log_path(a, path, sizeof(path)) < 0 || (ret = jmap_file_read(path, &b)) < 0) {
		buf_deinit(&b);
		return -1;
	}
	for (size_t i = 0; i < b.len; i++) {
		json_t *v;
		if (b.data[i] != '\n')
			continue;
		v = json_loadb(b.data + start, i - start, 0, NULL);
		/* a torn last line (a crash in the write) is no event */
		if (json_is_object(v))
			json_array_append_new(*events_r, v);
		else
			json_decref(v);
		start = i + 1;
	}
	buf_deinit(&b);
	return 1;
}

static void log_state(json_t *events, char out[24])
{
	snprintf(out, 24, "e%zu", json_array_size(events));
}

/* The submissions that exist after the events: [EmailSubmission]. */
static json_t *log_current(json_t *events)
{
	json_t *list = json_array(), *ev, *v;
	size_t i, k;

	json_array_foreach(events, i, ev) {
		json_t *c = json_object_get(ev, "create");
		const char *d = json_string_value(json_object_get(ev, "destroy"));
		if (json_is_object(c))
			json_array_append(list, c);
		if (d == NULL)
			continue;
		json_array_foreach(list, k, v)
			if (strcmp(json_string_value(json_object_get(v, "id")), d) == 0) {
				json_array_remove(list, k);
				break;
			}
	}
	return list;
}

static json_t *find_by_id(json_t *list, const char *id)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0)
			return v;
	return NULL;
}

/* ---- one submission ---- */

struct sub_wait;

struct sub_item {
	struct sub_wait *w;
	char *cid;
	json_t *record;		/* the EmailSubmission */
	char refusal[512];	/* the authentication step's refusal */
	int result;		/* the queue's: 1 queued, 0 refused, -1 error */
};

struct sub_wait {
	struct jmap_run *run;
	char user[320];
	char log[1200];
	char old_state[24];
	struct sub_item *items;
	unsigned n_items, pending;
	bool waiting;
	json_t *not_created, *updated, *not_updated, *destroyed, *not_destroyed;
};

/* "local@domain" with the domain in lower case (as the queue records
   it) from an address text; the key for look-ups into key.  1 or -1. */
static int envelope_address(const char *text, char *out, size_t size, char *key,
			    size_t key_size, bool *utf8)
{
	struct address ad;
	const char *error;

	if (text[0] == '\0') {
		out[0] = key[0] = '\0';
		return 1;
	}
	if (address_parse(text, strlen(text), true, &ad, &error) < 0 ||
	    address_key(&ad, key, key_size) < 0 || ad.domain[0] == '\0')
		return -1;
	str_lower(ad.domain);
	*utf8 |= address_is_utf8(&ad);
	return snprintf(out, size, "%s@%s", ad.local, ad.domain) < (int)size ? 1 : -1;
}

#define ADDRESS_FIELD_MAX (1u << 20)	/* bytes of one From:, To:, ... field */

/* The addresses of header field name of msg: [EmailAddress], maybe [];
   NULL when the field is longer than ADDRESS_FIELD_MAX (not cut short:
   its recipients would be left out without a word). */
static json_t *header_addresses(const struct mime_message *msg, const char *name)
{
	struct buf raw, text;
	json_t *r = json_array();
	int ret;

	buf_init(&raw, ADDRESS_FIELD_MAX);
	buf_init(&text, ADDRESS_FIELD_MAX);
	if ((ret = mime_header_get(msg, mime_message_root(msg), name, &raw)) < 0 ||
	    (ret > 0 && mime_address_text(raw.data != NULL ? raw.data : "", raw.len,
					  &text) < 0)) {
		json_decref(r);
		r = NULL;
	} else if (ret > 0) {
		json_decref(r);
		r = jmap_parse_addresses(text.data != NULL ? text.data : "", text.len);
	}
	buf_deinit(&raw);
	buf_deinit(&text);
	return r;
}

/* RFC 8621 §7: the envelope when the client gives none: mailFrom from
   Sender: or else From:, rcptTo from To:, Cc: and Bcc:, each once (no more
   than max + 1 of them: past max the submission is refused anyway).
   NULL when one of those fields is too long. */
static json_t *derive_envelope(const struct mime_message *msg, json_t *from, size_t max)
{
	json_t *sender = header_addresses(msg, "Sender"), *rcpts = json_array(), *v, *r;
	const char *names[] = { "To", "Cc", "Bcc" };
	const char *mail_from;
	size_t i, k;

	if (sender == NULL) {
		json_decref(rcpts);
		return NULL;
	}
	mail_from = json_string_value(json_object_get(json_array_get(
		json_array_size(sender) > 0 ? sender : from, 0), "email"));
	for (unsigned n = 0; n < 3; n++) {
		json_t *l = header_addresses(msg, names[n]);
		if (l == NULL) {
			json_decref(rcpts);
			json_decref(sender);
			return NULL;
		}
		json_array_foreach(l, i, v) {
			const char *e = json_string_value(json_object_get(v, "email"));
			bool dup = false;
			if (json_array_size(rcpts) > max)
				break;
			json_array_foreach(rcpts, k, r)
				dup |= strcasecmp(json_string_value(json_object_get(r, "email")),
						  e) == 0;
			if (!dup)
				json_array_append_new(rcpts, json_pack("{s:s,s:n}", "email", e,
								       "parameters"));
		}
		json_decref(l);
	}
	r = json_pack("{s:{s:s,s:n},s:o}", "mailFrom", "email",
		      mail_from != NULL ? mail_from : "", "parameters", "rcptTo", rcpts);
	json_decref(sender);
	return r;
}

/* An Address object of an envelope given by the client. */
static bool envelope_entry_ok(json_t *v)
{
	json_t *params = json_object_get(v, "parameters");

	return json_is_object(v) && json_is_string(json_object_get(v, "email")) &&
	       (params == NULL || json_is_null(params) ||
		(json_is_object(params) && json_object_size(params) == 0));
}

static void write_trace(struct queue_msg *m, struct jmap_account *a, const char *sender)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	struct buf h;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_init(&h, 0);
	buf_printf(&h, "Return-Path: <%s>\n", sender);
	queue_msg_write(m, h.data, h.len);
	queue_msg_mark_header(m);
	buf_reset(&h);
	buf_printf(&h, "Received: by %s (correio, JMAP submission)\n\tid %s; %s\n",
		   a->srv->cfg.hostname, queue_msg_id(m), date);
	queue_msg_write(m, h.data, h.len);
	buf_deinit(&h);
}

/* The text as it goes out: no Bcc:, Date: and Message-ID: when missing. */
static void write_text(struct queue_msg *m, struct jmap_account *a, const struct buf *text)
{
	struct buf h;
	unsigned missing;
	size_t body;

	buf_init(&h, 0);
	body = jmap_parse_submission_header(text->data, text->len, &h, &missing);
	if (missing & JMAP_MISSING_DATE) {
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		buf_printf(&h, "Date: %s\n", date);
	}
	if (missing & JMAP_MISSING_MESSAGE_ID)
		buf_printf(&h, "Message-ID: <%s.%llu@%s>\n", queue_msg_id(m),
			   (unsigned long long)time(NULL), a->srv->cfg.hostname);
	queue_msg_write(m, h.data, h.len);
	if (body < text->len)
		queue_msg_write(m, text->data + body, text->len - body);
	buf_deinit(&h);
}

static void on_committed(void *ctx, int result)
{
	struct sub_item *it = ctx;
	struct sub_wait *w = it->w;

	it->result = result;
	if (result > 0) {
		json_t *ev = json_pack("{s:O}", "create", it->record);
		if (jmap_file_append_line(w->log, ev) < 0)
			log_err("jmap: %s: cannot record submission %s in %s", w->user,
				json_string_value(json_object_get(it->record, "id")), w->log);
		json_decref(ev);
	}
	if (--w->pending == 0 && w->waiting)
		jmap_run_wake(w->run);
}

static json_t *utc_now(void)
{
	time_t now = time(NULL);
	struct tm tm;
	char s[32];

	gmtime_r(&now, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(s);
}

/* Does c end the addr-spec around an "@" as a reader's client may see it? */
static bool shown_address_end(unsigned char c)
{
	return c <= ' ' || c == 0x7f || strchr("<>()[],;:\"\\@", c) != NULL;
}

/*
 * restrict_sender for the originator fields as a reader sees them: the
 * message has exactly one From: field, and every address its From: and
 * Sender: fields show, display names included and with RFC 2047 encoded
 * words decoded (a client may show any of them), is one the user may
 * send as.  A structured parse alone is not enough: text that it skips
 * (an address after a bracketed one, one inside an encoded word) still
 * reaches the reader.  NULL, or the SetError.
 */
static json_t *originator_check(struct jmap_account *a, const struct buf *text)
{
	const struct config *cfg = &a->srv->cfg;
	struct mime_header_iter it;
	struct mime_field f;
	struct buf raw, shown;
	char addr[700], key[700];
	unsigned n_from = 0;
	json_t *err = NULL;
	bool utf8 = false;

	buf_init(&raw, 65536);
	buf_init(&shown, 4 * 65536);
	mime_header_iter_init(&it, text->data != NULL ? text->data : "", text->len);
	while (err == NULL && mime_header_next(&it, &f) == 1) {
		bool from = f.name_len == 4 && strncasecmp(f.name, "From", 4) == 0;
		if (!from && !(f.name_len == 6 && strncasecmp(f.name, "Sender", 6) == 0))
			continue;
		n_from += from;
		buf_reset(&raw);
		buf_reset(&shown);
		if (mime_header_unfold(&f, &raw) < 0) {
			err = jmap_set_error("invalidEmail", "an originator field is too long");
			break;
		}
		/* quotes out, so that encoded words in quoted names decode too */
		for (size_t i = 0; i < raw.len; i++)
			if (raw.data[i] == '"')
				raw.data[i] = ' ';
		buf_append(&shown, raw.data != NULL ? raw.data : "", raw.len);
		buf_putc(&shown, ' ');
		mime_rfc2047_decode(raw.data != NULL ? raw.data : "", raw.len, &shown);
		for (size_t at = 0; err == NULL && at < shown.len; at++) {
			size_t s = at, e = at + 1;
			if (shown.data[at] != '@')
				continue;
			while (s > 0 && !shown_address_end((unsigned char)shown.data[s - 1]))
				s--;
			while (e < shown.len && !shown_address_end((unsigned char)shown.data[e]))
				e++;
			if (s == at || e == at + 1 || e - s >= sizeof(addr)) {
				err = jmap_set_error("invalidEmail", "an originator field shows an "
						"address that is not plain local@domain");
				break;
			}
			memcpy(addr, shown.data + s, e - s);
			addr[e - s] = '\0';
			if (envelope_address(addr, addr, sizeof(addr), key, sizeof(key), &utf8) < 0)
				err = jmap_set_error("invalidEmail", "an originator field shows an "
						"address that is not valid");
			else if (!resolve_may_send_as(cfg, a->srv->accounts, a->user, key))
				err = jmap_set_error("forbiddenFrom",
						"you may not send as an address this email shows");
			at = e - 1;
		}
	}
	if (err == NULL && n_from != 1)
		err = jmap_set_error("invalidEmail", "the email must have exactly one From field");
	buf_deinit(&raw);
	buf_deinit(&shown);
	return err;
}

/* Check creation obj and hand the message to the queue (it->record set,
   the commit under way).  NULL, or the SetError. */
static json_t *sub_start(struct jmap_call *call, struct jmap_account *a,
			 struct sub_item *it, json_t *obj)
{
	const struct config *cfg = &a->srv->cfg;
	const char *key, *email_id, *identity_id, *error;
	json_t *v, *env = NULL, *from = NULL, *bad, *err = NULL, *rcpts;
	char identity[320], addr[700], lookup[700];
	struct jmap_email_ref r;
	struct mime_message *msg = NULL;
	struct envelope *e = NULL;
	struct queue_msg *m;
	struct buf text;
	bool utf8 = false;
	size_t i;

	if (!json_is_object(obj))
		return jmap_set_error("invalidProperties", NULL);
	json_object_foreach(obj, key, v)
		if (strcmp(key, "identityId") != 0 && strcmp(key, "emailId") != 0 &&
		    strcmp(key, "envelope") != 0)
			return jmap_invalid_property(key, "not settable");
	identity_id = json_string_value(json_object_get(obj, "identityId"));
	email_id = json_string_value(json_object_get(obj, "emailId"));
	if (identity_id == NULL || jmap_identity_find(a, identity_id, identity) <= 0)
		return jmap_invalid_property("identityId", "no such identity");
	if (email_id != NULL && email_id[0] == '#')
		email_id = json_string_value(json_object_get(call->created_ids, email_id + 1));
	if (email_id == NULL || jmap_email_find(a, email_id, &r) <= 0)
		return jmap_invalid_property("emailId", "no such email");
	if (r.m.size > cfg->message_size) {
		err = jmap_set_error("tooLarge", NULL);
		json_object_set_new(err, "maxSize", json_integer((json_int_t)cfg->message_size));
		return err;
	}
	buf_init(&text, 0);
	if (jmap_email_read(a, r.f->st.uidvalidity, r.m.uid, &text) <= 0) {
		buf_deinit(&text);
		return jmap_set_error("serverFail", "cannot read the email");
	}
	msg = mime_message_parse(text.data != NULL ? text.data : "", text.len, NULL);
	from = header_addresses(msg, "From");
	if (from == NULL) {
		err = jmap_set_error("invalidEmail", "the From field is too long");
		goto out;
	}
	if (json_array_size(from) == 0) {
		err = jmap_set_error("invalidEmail", "the email has no From address");
		goto out;
	}
	json_array_foreach(from, i, v) {
		if (envelope_address(json_string_value(json_object_get(v, "email")), addr,
				     sizeof(addr), lookup, sizeof(lookup), &utf8) < 0) {
			err = jmap_set_error("invalidEmail", "a From address is not valid");
			goto out;
		}
		if (!resolve_may_send_as(cfg, a->srv->accounts, a->user, lookup)) {
			err = jmap_set_error("forbiddenFrom", "you may not send as this From address");
			goto out;
		}
	}
	if ((err = originator_check(a, &text)) != NULL)
		goto out;
	env = json_object_get(obj, "envelope");
	if (env == NULL || json_is_null(env)) {
		if ((env = derive_envelope(msg, from, cfg->max_recipients)) == NULL) {
			err = jmap_set_error("invalidEmail", "a Sender, To, Cc or Bcc field is "
					"longer than 1 MiB");
			goto out;
		}
	} else {
		json_t *rt = json_object_get(env, "rcptTo");
		if (!json_is_object(env) || !envelope_entry_ok(json_object_get(env, "mailFrom")) ||
		    !json_is_array(rt)) {
			err = jmap_invalid_property("envelope", NULL);
			goto out;
		}
		json_array_foreach(rt, i, v)
			if (!envelope_entry_ok(v)) {
				err = jmap_invalid_property("envelope", "SMTP parameters are not supported");
				goto out;
			}
		json_incref(env);
	}
	if (envelope_address(json_string_value(json_object_get(json_object_get(env, "mailFrom"),
							       "email")),
			     addr, sizeof(addr), lookup, sizeof(lookup), &utf8) < 0) {
		err = jmap_invalid_property("envelope", "mailFrom is not a valid address");
		goto out;
	}
	if (!resolve_may_send_as(cfg, a->srv->accounts, a->user, lookup)) {
		err = jmap_set_error("forbiddenMailFrom", "you may not use this envelope sender");
		goto out;
	}
	e = envelope_new();
	envelope_set(&e->sender, addr);
	rcpts = json_object_get(env, "rcptTo");
	bad = json_array();
	json_array_foreach(rcpts, i, v) {
		const char *t = json_string_value(json_object_get(v, "email"));
		if (envelope_address(t, addr, sizeof(addr), lookup, sizeof(lookup), &utf8) < 0 ||
		    addr[0] == '\0') {
			json_array_append_new(bad, json_string(t));
			continue;
		}
		/* [limits] recipients, as RCPT answers 452 past it */
		if (e->n_rcpts >= cfg->max_recipients || envelope_add_rcpt(e, addr, NULL, 0) < 0) {
			json_decref(bad);
			err = jmap_set_error("tooManyRecipients", NULL);
			json_object_set_new(err, "maxRecipients",
					    json_integer((json_int_t)cfg->max_recipients));
			goto out;
		}
		resolve_record(cfg, a->srv->accounts, e, e->n_rcpts - 1);
	}
	if (json_array_size(bad) > 0) {
		err = jmap_set_error("invalidRecipients", NULL);
		json_object_set_new(err, "invalidRecipients", bad);
		goto out;
	}
	json_decref(bad);
	if (e->n_rcpts == 0) {
		err = jmap_set_error("noRecipients", NULL);
		goto out;
	}
	e->arrival = (uint64_t)time(NULL);
	e->body = SMTP_BODY_8BITMIME;
	e->smtputf8 = utf8;
	envelope_set(&e->host, cfg->hostname);
	if (queue_msg_new(a->srv->queue, e, &m, &error) < 0) {
		e = NULL;	/* freed by the queue */
		log_err("jmap: %s: cannot create a queue file: %s", a->user, error);
		err = jmap_set_error("serverFail", "cannot queue the message");
		goto out;
	}
	e = queue_msg_envelope(m);
	write_trace(m, a, e->sender);
	queue_msg_set_auth(m, mailauth_new_submission(cfg, a->srv->accounts), it->refusal,
			   sizeof(it->refusal));
	write_text(m, a, &text);
	snprintf(addr, sizeof(addr), "S%s", queue_msg_id(m));
	email_id = json_string_value(json_object_get(obj, "emailId"));
	if (email_id[0] == '#')
		email_id = json_string_value(json_object_get(call->created_ids, email_id + 1));
	jmap_thread_of(a, r.f, r.m.uid, lookup);
	it->record = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o,s:s,s:n,s:[],s:[]}", "id", addr,
			       "identityId", identity_id, "emailId", email_id,
			       "threadId", lookup, "envelope", env, "sendAt", utc_now(),
			       "undoStatus", "final", "deliveryStatus", "dsnBlobIds",
			       "mdnBlobIds");
	log_info("%s: jmap user=%s, from=<%s>, size=%zu, nrcpt=%u (submission %s)",
		 queue_msg_id(m), a->user, e->sender, queue_msg_size(m), e->n_rcpts, addr);
	e = NULL;
	it->w->pending++;
	queue_commit(&m, on_committed, it);
out:
	envelope_free(&e);
	json_decref(env);
	json_decref(from);
	mime_message_free(&msg);
	buf_deinit(&text);
	return err;
}

/* ---- EmailSubmission/set ---- */

static void wait_free(struct sub_wait *w)
{
	for (unsigned i = 0; i < w->n_items; i++) {
		free(w->items[i].cid);
		json_decref(w->items[i].record);
	}
	free(w->items);
	json_decref(w->not_created);
	json_decref(w->updated);
	json_decref(w->not_updated);
	json_decref(w->destroyed);
	json_decref(w->not_destroyed);
	free(w);
}

/* The email of the submission named by key ("#creationId" or an id)
   among those created by this call, or NULL. */
static const char *success_email(struct sub_wait *w, const char *key)
{
	for (unsigned i = 0; i < w->n_items; i++) {
		struct sub_item *it = &w->items[i];
		if (it->result <= 0)
			continue;
		if ((key[0] == '#' && strcmp(key + 1, it->cid) == 0) ||
		    strcmp(key, json_string_value(json_object_get(it->record, "id"))) == 0)
			return json_string_value(json_object_get(it->record, "emailId"));
	}
	return NULL;
}

/* onSuccessUpdateEmail / onSuccessDestroyEmail: an implicit Email/set. */
static void on_success(struct jmap_call *call, struct sub_wait *w)
{
	json_t *upd = json_object_get(call->args, "onSuccessUpdateEmail");
	json_t *des = json_object_get(call->args, "onSuccessDestroyEmail");
	json_t *update = json_object(), *destroy = json_array(), *v;
	struct jmap_call sub;
	const char *key, *email;
	size_t i;

	json_object_foreach(upd, key, v)
		if ((email = success_email(w, key)) != NULL)
			json_object_set(update, email, v);
	json_array_foreach(des, i, v)
		if (json_is_string(v) && (email = success_email(w, json_string_value(v))) != NULL)
			json_array_append_new(destroy, json_string(email));
	if (json_object_size(update) == 0 && json_array_size(destroy) == 0) {
		json_decref(update);
		json_decref(destroy);
		return;
	}
	memset(&sub, 0, sizeof(sub));
	sub.name = "Email/set";
	sub.call_id = call->call_id;
	sub.args = json_pack("{s:O,s:o,s:o}", "accountId", json_object_get(call->args,
								       "accountId"),
			     "update", update, "destroy", destroy);
	sub.limits = call->limits;
	sub.ctx = call->ctx;
	sub.created_ids = call->created_ids;
	sub.run = call->run;
	if (jmap_email_set(&sub) > 0)
		call->also = json_pack("[[s,O]]", "Email/set", sub.result);
	else
		call->also = json_pack("[[s,O]]", "error", sub.error);
	json_decref(sub.args);
	json_decref(sub.result);
	json_decref(sub.error);
}

static int sub_finish(struct jmap_call *call)
{
	struct sub_wait *w = call->wait;
	struct jmap_account *a = call->ctx;
	json_t *created = json_object(), *events;
	char now[24];

	call->wait = NULL;
	for (unsigned i = 0; i < w->n_items; i++) {
		struct sub_item *it = &w->items[i];
		if (it->result > 0) {
			json_object_set(created, it->cid, it->record);
			json_object_set(call->created_ids, it->cid, json_object_get(it->record, "id"));
		} else if (it->result == 0) {
			json_object_set_new(w->not_created, it->cid,
					    jmap_set_error("forbiddenToSend", it->refusal));
		} else if (it->result == -1) {
			json_object_set_new(w->not_created, it->cid,
					    jmap_set_error("serverFail", "cannot queue the message"));
		}
	}
	if (a == NULL) {
		/* the client left meanwhile: what was queued goes out */
		json_decref(created);
		wait_free(w);
		return jmap_call_error(call, "serverFail", "the client went away");
	}
	on_success(call, w);
	str_copy(now, w->old_state, sizeof(now));
	if (log_load(a, &events) > 0)
		log_state(events, now);
	json_decref(events);
	call->result = json_pack("{s:s,s:s,s:s,s:o,s:O,s:O,s:O,s:O,s:O}", "accountId", a->id,
				 "oldState", w->old_state, "newState", now, "created", created,
				 "notCreated", w->not_created, "updated", w->updated,
				 "notUpdated", w->not_updated, "destroyed", w->destroyed,
				 "notDestroyed", w->not_destroyed);
	wait_free(w);
	return 1;
}

static int sub_resume(struct jmap_call *call)
{
	return sub_finish(call);
}

/* update (only undoStatus could change, and nothing can be undone) and
   destroy (forget the record; the mail has gone). */
static void update_destroy(struct jmap_call *call, struct sub_wait *w, json_t *list)
{
	json_t *update = json_object_get(call->args, "update");
	json_t *destroy = json_object_get(call->args, "destroy"), *v, *p;
	const char *key, *pk;
	size_t i;

	json_object_foreach(update, key, v) {
		json_t *rec = find_by_id(list, key), *err = NULL;
		if (rec == NULL) {
			json_object_set_new(w->not_updated, key, jmap_set_error("notFound", NULL));
			continue;
		}
		json_object_foreach(v, pk, p)
			if (err == NULL && strcmp(pk, "undoStatus") == 0 &&
			    !json_equal(p, json_object_get(rec, "undoStatus")))
				err = jmap_set_error("cannotUnsend", "the message has been sent");
			else if (err == NULL && !json_equal(p, json_object_get(rec, pk)))
				err = jmap_invalid_property(pk, NULL);
		if (err != NULL)
			json_object_set_new(w->not_updated, key, err);
		else
			json_object_set_new(w->updated, key, json_null());
	}
	json_array_foreach(destroy, i, v) {
		const char *id = json_string_value(v);
		json_t *ev;
		if (id == NULL)
			continue;
		if (find_by_id(list, id) == NULL) {
			json_object_set_new(w->not_destroyed, id, jmap_set_error("notFound", NULL));
			continue;
		}
		ev = json_pack("{s:s}", "destroy", id);
		if (jmap_file_append_line(w->log, ev) < 0)
			json_object_set_new(w->not_destroyed, id, jmap_set_error("serverFail", NULL));
		else
			json_array_append(w->destroyed, v);
		json_decref(ev);
	}
}

int jmap_submission_set(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *create = json_object_get(call->args, "create");
	json_t *update = json_object_get(call->args, "update");
	json_t *destroy = json_object_get(call->args, "destroy");
	json_t *if_state = json_object_get(call->args, "ifInState");
	json_t *upd = json_object_get(call->args, "onSuccessUpdateEmail");
	json_t *des = json_object_get(call->args, "onSuccessDestroyEmail");
	json_t *events, *list, *v;
	struct sub_wait *w;
	const char *key;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((create != NULL && !json_is_null(create) && !json_is_object(create)) ||
	    (update != NULL && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy != NULL && !json_is_null(destroy) && !json_is_array(destroy)) ||
	    (upd != NULL && !json_is_null(upd) && !json_is_object(upd)) ||
	    (des != NULL && !json_is_null(des) && !json_is_array(des)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_object_size(create) + json_object_size(update) + json_array_size(destroy) >
	    call->limits->max_objects_set)
		return jmap_call_error(call, "requestTooLarge", NULL);
	if (log_load(a, &events) < 0) {
		json_decref(events);
		return jmap_call_error(call, "serverFail", "cannot read the submissions");
	}
	w = xcalloc(1, sizeof(*w));
	w->items = xcalloc(json_object_size(create) + 1, sizeof(*w->items));
	log_state(events, w->old_state);
	if (json_is_string(if_state) && strcmp(json_string_value(if_state), w->old_state) != 0) {
		json_decref(events);
		wait_free(w);
		return jmap_call_error(call, "stateMismatch", NULL);
	}
	w->run = call->run;
	str_copy(w->user, a->user, sizeof(w->user));
	w->not_created = json_object();
	w->updated = json_object();
	w->not_updated = json_object();
	w->destroyed = json_array();
	w->not_destroyed = json_object();
	if (log_path(a, w->log, sizeof(w->log)) < 0) {
		json_decref(events);
		wait_free(w);
		return jmap_call_error(call, "serverFail", "cannot write the submissions");
	}
	list = log_current(events);
	update_destroy(call, w, list);
	json_decref(list);
	json_decref(events);
	call->wait = w;
	json_object_foreach(create, key, v) {
		struct sub_item *it = &w->items[w->n_items];
		json_t *err;
		it->w = w;
		it->cid = xstrdup(key);
		it->result = -1;
		w->n_items++;
		err = sub_start(call, a, it, v);
		if (err != NULL) {
			json_object_set_new(w->not_created, key, err);
			it->result = -2;	/* never queued: not in the lists below */
		}
	}
	if (w->pending == 0)
		return sub_finish(call);
	w->waiting = true;
	call->resume = sub_resume;
	return 0;
}

/* ---- EmailSubmission/get, /query, /changes ---- */

int jmap_submission_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "ids");
	json_t *props = json_object_get(call->args, "properties");
	json_t *events, *all, *list, *notfound, *v, *o, *p;
	char state[24];
	size_t i, k;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((ids != NULL && !json_is_null(ids) && !json_is_array(ids)) ||
	    (props != NULL && !json_is_null(props) && !json_is_array(props)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_is_array(ids) && json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	if (log_load(a, &events) < 0) {
		json_decref(events);
		return jmap_call_error(call, "serverFail", NULL);
	}
	log_state(events, state);
	all = log_current(events);
	json_decref(events);
	list = json_array();
	notfound = json_array();
	if (!json_is_array(ids))
		json_array_extend(list, all);
	else
		json_array_foreach(ids, i, v) {
			o = json_is_string(v) ? find_by_id(all, json_string_value(v)) : NULL;
			json_array_append(o != NULL ? list : notfound, o != NULL ? o : v);
		}
	json_array_foreach(list, i, o) {
		json_t *copy;
		if (!json_is_array(props))
			continue;
		copy = json_pack("{s:O}", "id", json_object_get(o, "id"));
		json_array_foreach(props, k, p)
			if (json_is_string(p) && json_object_get(o, json_string_value(p)) != NULL)
				json_object_set(copy, json_string_value(p),
						json_object_get(o, json_string_value(p)));
		json_array_set_new(list, i, copy);
	}
	json_decref(all);
	call->result = json_pack("{s:s,s:s,s:o,s:o}", "accountId", a->id, "state", state,
				 "list", list, "notFound", notfound);
	return 1;
}

static bool in_list(json_t *list, json_t *v)
{
	json_t *x;
	size_t i;

	json_array_foreach(list, i, x)
		if (json_equal(x, v))
			return true;
	return false;
}

/* The FilterCondition of RFC 8621 §7.3 (no operators).  1 match, 0 no,
   -1 unsupported. */
static int filter_match(json_t *f, json_t *rec)
{
	const char *key;
	json_t *v;

	json_object_foreach(f, key, v) {
		if (strcmp(key, "identityIds") == 0 || strcmp(key, "emailIds") == 0 ||
		    strcmp(key, "threadIds") == 0) {
			char prop[16];
			str_copy(prop, key, sizeof(prop));
			prop[strlen(prop) - 1] = '\0';
			if (!json_is_array(v))
				return -1;
			if (!in_list(v, json_object_get(rec, prop)))
				return 0;
		} else if (strcmp(key, "undoStatus") == 0) {
			if (!json_is_string(v))
				return -1;
			if (!json_equal(v, json_object_get(rec, "undoStatus")))
				return 0;
		} else if (strcmp(key, "before") == 0 || strcmp(key, "after") == 0) {
			const char *t = json_string_value(v);
			const char *at = json_string_value(json_object_get(rec, "sendAt"));
			if (t == NULL || strlen(t) != 20)
				return -1;	/* UTCDate: yyyy-mm-ddThh:mm:ssZ */
			if (key[0] == 'b' ? strcmp(at, t) >= 0 : strcmp(at, t) < 0)
				return 0;
		} else {
			return -1;
		}
	}
	return 1;
}

static const char *sort_prop;
static bool sort_desc;

static int cmp_records(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	const char *p = strcmp(sort_prop, "sentAt") == 0 ? "sendAt" : sort_prop;
	int c = strcmp(json_string_value(json_object_get(a, p)),
		       json_string_value(json_object_get(b, p)));

	return sort_desc ? -c : c;
}

int jmap_submission_query(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *filter = json_object_get(call->args, "filter");
	json_t *sort = json_object_get(call->args, "sort");
	json_t *pos = json_object_get(call->args, "position");
	json_t *lim = json_object_get(call->args, "limit");
	json_t *events, *all, *ids, *v, **match;
	char state[24];
	size_t i, n = 0, start, limit;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((filter != NULL && !json_is_null(filter) && !json_is_object(filter)) ||
	    (sort != NULL && !json_is_null(sort) &&
	     (!json_is_array(sort) || json_array_size(sort) > 1)) ||
	    (pos != NULL && !json_is_null(pos) &&
	     (!json_is_integer(pos) || json_integer_value(pos) < 0)) ||
	    (lim != NULL && !json_is_null(lim) &&
	     (!json_is_integer(lim) || json_integer_value(lim) < 0)))
		return jmap_call_error(call, "invalidArguments", NULL);
	sort_prop = "sentAt";
	sort_desc = false;
	if (json_array_size(sort) == 1) {
		json_t *c = json_array_get(sort, 0);
		const char *p = json_string_value(json_object_get(c, "property"));
		if (p == NULL || (strcmp(p, "sentAt") != 0 && strcmp(p, "emailId") != 0 &&
				  strcmp(p, "threadId") != 0))
			return jmap_call_error(call, "unsupportedSort", NULL);
		sort_prop = p;
		sort_desc = json_is_false(json_object_get(c, "isAscending"));
	}
	if (log_load(a, &events) < 0) {
		json_decref(events);
		return jmap_call_error(call, "serverFail", NULL);
	}
	log_state(events, state);
	all = log_current(events);
	json_decref(events);
	match = xcalloc(json_array_size(all) + 1, sizeof(*match));
	json_array_foreach(all, i, v) {
		int m = json_is_object(filter) ? filter_match(filter, v) : 1;
		if (m < 0) {
			free(match);
			json_decref(all);
			return jmap_call_error(call, "unsupportedFilter", NULL);
		}
		if (m > 0)
			match[n++] = v;
	}
	/* stable: the log's order (sentAt) breaks ties */
	if (!(strcmp(sort_prop, "sentAt") == 0 && !sort_desc))
		qsort(match, n, sizeof(*match), cmp_records);
	start = json_is_integer(pos) ? (size_t)json_integer_value(pos) : 0;
	limit = json_is_integer(lim) ? (size_t)json_integer_value(lim) : n;
	ids = json_array();
	for (i = start; i < n && i - start < limit; i++)
		json_array_append(ids, json_object_get(match[i], "id"));
	call->result = json_pack("{s:s,s:s,s:b,s:I,s:o}", "accountId", a->id, "queryState",
				 state, "canCalculateChanges", 0, "position",
				 (json_int_t)(start < n ? start : n), "ids", ids);
	if (json_is_true(json_object_get(call->args, "calculateTotal")))
		json_object_set_new(call->result, "total", json_integer((json_int_t)n));
	free(match);
	json_decref(all);
	return 1;
}

int jmap_submission_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceState"));
	json_t *maxc = json_object_get(call->args, "maxChanges");
	json_t *events, *created, *destroyed, *ev, *v;
	char state[24], *end;
	unsigned long long from;
	size_t to, i, k;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL || (maxc != NULL && !json_is_null(maxc) &&
			      (!json_is_integer(maxc) || json_integer_value(maxc) <= 0)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (log_load(a, &events) < 0) {
		json_decref(events);
		return jmap_call_error(call, "serverFail", NULL);
	}
	from = since[0] == 'e' ? strtoull(since + 1, &end, 10) : 0;
	if (since[0] != 'e' || since[1] == '\0' || *end != '\0' ||
	    from > json_array_size(events)) {
		json_decref(events);
		return jmap_call_error(call, "cannotCalculateChanges", NULL);
	}
	to = json_array_size(events);
	if (json_is_integer(maxc) && to - from > (size_t)json_integer_value(maxc))
		to = from + (size_t)json_integer_value(maxc);
	created = json_array();
	destroyed = json_array();
	for (i = from; i < to; i++) {
		ev = json_array_get(events, i);
		v = json_object_get(json_object_get(ev, "create"), "id");
		if (v != NULL) {
			json_array_append(created, v);
			continue;
		}
		v = json_object_get(ev, "destroy");
		if (v == NULL)
			continue;
		json_array_foreach(created, k, ev)
			if (json_equal(ev, v))
				break;
		if (k < json_array_size(created))
			json_array_remove(created, k);	/* made and gone since */
		else
			json_array_append(destroyed, v);
	}
	snprintf(state, sizeof(state), "e%zu", to);
	call->result = json_pack("{s:s,s:s,s:s,s:b,s:o,s:[],s:o}", "accountId", a->id,
				 "oldState", since, "newState", state, "hasMoreChanges",
				 to < json_array_size(events), "created", created, "updated",
				 "destroyed", destroyed);
	json_decref(events);
	return 1;
}
