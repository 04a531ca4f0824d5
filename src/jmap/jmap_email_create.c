/*
 * jmap_email_create.c - Email/set create (RFC 8621 §4.6): an Email given
 * as properties becomes a MIME message appended to its one mailbox, as
 * Email/import appends an uploaded one.
 *
 * Accepted: mailboxIds (one), keywords, receivedAt; from, sender, to, cc,
 * bcc, replyTo; subject; sentAt; messageId, inReplyTo, references;
 * textBody and htmlBody (at most one part each, its text in bodyValues
 * under its partId) and attachments (blobId, type, name, disposition,
 * cid).  The message: text alone, or multipart/alternative of text and
 * HTML, inside multipart/mixed when there are attachments; text parts in
 * UTF-8 (7bit when ASCII with short lines, else base64), attachments in
 * base64.  Refused (invalidProperties): bodyStructure, headers and
 * header:* forms, and anything else.
 */
#include "jmap_private.h"
#include "jmap_parse.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/sasl.h"
#include "mime/mime.h"
#include "lib/buf.h"
#include "lib/encoding.h"
#include "lib/log.h"
#include "lib/util.h"
#include "conn/services.h"

#define MAX_CREATE_ATTACHMENTS 100

/* A list of EmailAddress as a header field; NULL or the SetError. */
static json_t *address_field(struct buf *out, const char *field, const char *prop,
			     json_t *list)
{
	json_t *v;
	size_t i;

	if (list == NULL || json_is_null(list))
		return NULL;
	if (!json_is_array(list) || json_array_size(list) > 1000)
		return jmap_invalid_property(prop, NULL);
	if (json_array_size(list) == 0)
		return NULL;
	buf_printf(out, "%s: ", field);
	json_array_foreach(list, i, v) {
		const char *email = json_string_value(json_object_get(v, "email"));
		json_t *name = json_object_get(v, "name");
		struct address ad;
		const char *error;
		if (email == NULL || address_parse(email, strlen(email), true, &ad, &error) < 0 ||
		    strpbrk(email, " \t\r\n<>") != NULL ||
		    (name != NULL && !json_is_null(name) && !json_is_string(name)))
			return jmap_invalid_property(prop, "not a valid address");
		if (i > 0)
			buf_puts(out, ",\n ");
		jmap_format_address(out, json_string_value(name), email);
	}
	buf_putc(out, '\n');
	return NULL;
}

/* messageId, inReplyTo, references: [String] of ids without < >. */
static json_t *msgid_field(struct buf *out, const char *field, const char *prop, json_t *list)
{
	json_t *v;
	size_t i;

	if (list == NULL || json_is_null(list))
		return NULL;
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 100)
		return jmap_invalid_property(prop, NULL);
	buf_printf(out, "%s:", field);
	json_array_foreach(list, i, v) {
		const char *id = json_string_value(v);
		if (id == NULL || id[0] == '\0' || strlen(id) > 900 ||
		    strspn(id, "!#$%&'*+-/=?^_`{|}~.@[]0123456789"
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(id))
			return jmap_invalid_property(prop, "not a message id");
		buf_printf(out, "%s<%s>", i > 0 ? "\n " : " ", id);
	}
	buf_putc(out, '\n');
	return NULL;
}

/* RFC 3339 "2026-12-06T10:00:00+01:00" or "...Z" as an RFC 5322 date. */
static int date_field(struct buf *out, const char *s)
{
	struct tm tm;
	const char *end;
	long off = 0;
	char text[64];

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*end == '.')
		end += 1 + strspn(end + 1, "0123456789");
	if (strcmp(end, "Z") != 0) {
		int h, m;
		if ((end[0] != '+' && end[0] != '-') || strlen(end) != 6 || end[3] != ':' ||
		    sscanf(end + 1, "%2d:%2d", &h, &m) != 2 || h > 23 || m > 59)
			return -1;
		off = (h * 60 + m) * (end[0] == '-' ? -1 : 1);
	}
	{
		/* the clock time in its zone; timegm/gmtime_r fill in the day
		   of the week */
		time_t t = timegm(&tm);
		gmtime_r(&t, &tm);
	}
	strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S", &tm);
	buf_printf(out, "Date: %s %c%02ld%02ld\n", text, off < 0 ? '-' : '+', labs(off) / 60,
		   labs(off) % 60);
	return 1;
}

static void random_hex(char *out, size_t bytes)
{
	unsigned char r[32];

	RAND_bytes(r, (int)bytes);
	hex_encode(r, bytes, out);
}

static bool short_ascii_lines(const char *s, size_t n)
{
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0' || s[i] == '\r')
			return false;
		line = s[i] == '\n' ? 0 : line + 1;
		if (line > 900)
			return false;
	}
	return true;
}

static void base64_body(struct buf *out, const void *p, size_t n)
{
	struct buf enc;

	buf_init(&enc, 0);
	base64_encode(p, n, &enc);
	for (size_t i = 0; i < enc.len; i += 76) {
		buf_append(out, enc.data + i, enc.len - i < 76 ? enc.len - i : 76);
		buf_putc(out, '\n');
	}
	buf_deinit(&enc);
}

/* One text part (type text/plain or text/html) of value. */
static void text_part(struct buf *out, const char *subtype, const char *value)
{
	size_t n = strlen(value);

	buf_printf(out, "Content-Type: text/%s; charset=utf-8\n", subtype);
	if (short_ascii_lines(value, n)) {
		buf_puts(out, "Content-Transfer-Encoding: 7bit\n\n");
		buf_append(out, value, n);
		if (n > 0 && value[n - 1] != '\n')
			buf_putc(out, '\n');
	} else {
		buf_puts(out, "Content-Transfer-Encoding: base64\n\n");
		base64_body(out, value, n);
	}
}

/* The value of body part list[0] (type as given): NULL with *value_r
   (NULL when no part), or the SetError. */
static json_t *body_value(json_t *obj, const char *prop, const char *type, const char **value_r)
{
	json_t *list = json_object_get(obj, prop), *part, *v;
	const char *pid, *t, *key;

	*value_r = NULL;
	if (list == NULL || json_is_null(list) ||
	    (json_is_array(list) && json_array_size(list) == 0))
		return NULL;
	if (!json_is_array(list) || json_array_size(list) > 1)
		return jmap_invalid_property(prop, "one part at most");
	part = json_array_get(list, 0);
	pid = json_string_value(json_object_get(part, "partId"));
	t = json_string_value(json_object_get(part, "type"));
	json_object_foreach(part, key, v)
		if (strcmp(key, "partId") != 0 && strcmp(key, "type") != 0)
			return jmap_invalid_property(prop, "a body part has partId and type only");
	if (pid == NULL || (t != NULL && strcasecmp(t, type) != 0))
		return jmap_invalid_property(prop, type);
	*value_r = json_string_value(json_object_get(json_object_get(
		json_object_get(obj, "bodyValues"), pid), "value"));
	if (*value_r == NULL)
		return jmap_invalid_property("bodyValues", "no value for the part");
	return NULL;
}

static bool needs_words_2231(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x7f || (unsigned char)*s < 0x20 || *s == '"' ||
		    *s == '\\')
			return true;
	return false;
}

/* A parameter value: quoted when plain ASCII, else RFC 2231. */
static void param(struct buf *out, const char *name, const char *value)
{
	if (!needs_words_2231(value)) {
		buf_printf(out, "; %s=\"%s\"", name, value);
		return;
	}
	buf_printf(out, "; %s*=utf-8''", name);
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p) != NULL)
			buf_putc(out, (char)*p);
		else
			hex_escape(*p, '%', out);
	}
}

static json_t *attachment_part(struct jmap_account *a, struct buf *out, json_t *att)
{
	const char *blob = json_string_value(json_object_get(att, "blobId"));
	const char *type = json_string_value(json_object_get(att, "type"));
	const char *name = json_string_value(json_object_get(att, "name"));
	const char *disp = json_string_value(json_object_get(att, "disposition"));
	const char *cid = json_string_value(json_object_get(att, "cid"));
	struct buf data;
	int ret;

	if (blob == NULL)
		return jmap_invalid_property("attachments", "blobId");
	if (type == NULL || strlen(type) > 100 || strchr(type, '/') == NULL ||
	    strspn(type, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		   "!#$&-^_.+/") != strlen(type))
		type = "application/octet-stream";
	if (cid != NULL && (strlen(cid) > 200 || strpbrk(cid, " \t\r\n<>") != NULL))
		return jmap_invalid_property("attachments", "cid");
	if (name != NULL && (strlen(name) > 255 || strpbrk(name, "\r\n") != NULL))
		return jmap_invalid_property("attachments", "name");
	buf_init(&data, a->srv->cfg.message_size);
	ret = jmap_blob_read(a, blob, &data);
	if (ret <= 0) {
		buf_deinit(&data);
		return ret < 0 ? json_pack("{s:s}", "type", "tooLarge") :
		       json_pack("{s:s,s:[s]}", "type", "blobNotFound", "notFound", blob);
	}
	buf_printf(out, "Content-Type: %s", type);
	if (name != NULL)
		param(out, "name", name);
	buf_printf(out, "\nContent-Disposition: %s",
		   disp != NULL && strcmp(disp, "inline") == 0 ? "inline" : "attachment");
	if (name != NULL)
		param(out, "filename", name);
	buf_putc(out, '\n');
	if (cid != NULL)
		buf_printf(out, "Content-ID: <%s>\n", cid);
	buf_puts(out, "Content-Transfer-Encoding: base64\n\n");
	base64_body(out, data.data != NULL ? data.data : "", data.len);
	buf_deinit(&data);
	return NULL;
}

/* The whole message for obj into out: NULL, or the SetError. */
static json_t *build(struct jmap_account *a, json_t *obj, struct buf *out)
{
	static const struct { const char *prop, *field; } addrs[] = {
		{ "from", "From" }, { "sender", "Sender" }, { "to", "To" }, { "cc", "Cc" },
		{ "bcc", "Bcc" }, { "replyTo", "Reply-To" },
	};
	json_t *atts = json_object_get(obj, "attachments"), *v, *err;
	const char *text, *html, *subject, *sent;
	char boundary[2][40], id[40];
	size_t i;

	sent = json_string_value(json_object_get(obj, "sentAt"));
	if (json_object_get(obj, "sentAt") != NULL && !json_is_null(json_object_get(obj, "sentAt")) &&
	    (sent == NULL || date_field(out, sent) < 0))
		return jmap_invalid_property("sentAt", NULL);
	if (sent == NULL) {
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		buf_printf(out, "Date: %s\n", date);
	}
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		if ((err = address_field(out, addrs[i].field, addrs[i].prop,
					 json_object_get(obj, addrs[i].prop))) != NULL)
			return err;
	v = json_object_get(obj, "subject");
	subject = json_string_value(v);
	if (v != NULL && !json_is_null(v) && (subject == NULL || strlen(subject) > 4000))
		return jmap_invalid_property("subject", NULL);
	if (subject != NULL) {
		buf_puts(out, "Subject: ");
		jmap_format_text(out, subject);
		buf_putc(out, '\n');
	}
	if (json_object_get(obj, "messageId") == NULL ||
	    json_is_null(json_object_get(obj, "messageId"))) {
		random_hex(id, 16);
		buf_printf(out, "Message-ID: <%s@%s>\n", id, a->srv->cfg.hostname);
	} else if ((err = msgid_field(out, "Message-ID", "messageId",
				      json_object_get(obj, "messageId"))) != NULL) {
		return err;
	}
	if ((err = msgid_field(out, "In-Reply-To", "inReplyTo",
			       json_object_get(obj, "inReplyTo"))) != NULL ||
	    (err = msgid_field(out, "References", "references",
			       json_object_get(obj, "references"))) != NULL)
		return err;
	if ((err = body_value(obj, "textBody", "text/plain", &text)) != NULL ||
	    (err = body_value(obj, "htmlBody", "text/html", &html)) != NULL)
		return err;
	if (atts != NULL && !json_is_null(atts) &&
	    (!json_is_array(atts) || json_array_size(atts) > MAX_CREATE_ATTACHMENTS))
		return jmap_invalid_property("attachments", NULL);
	buf_puts(out, "MIME-Version: 1.0\n");
	random_hex(boundary[0], 12);
	random_hex(boundary[1], 12);
	if (json_array_size(atts) > 0)
		buf_printf(out, "Content-Type: multipart/mixed; boundary=\"=_m%s\"\n\n--=_m%s\n",
			   boundary[0], boundary[0]);
	if (text != NULL && html != NULL) {
		buf_printf(out, "Content-Type: multipart/alternative; boundary=\"=_a%s\"\n\n"
			   "--=_a%s\n", boundary[1], boundary[1]);
		text_part(out, "plain", text);
		buf_printf(out, "\n--=_a%s\n", boundary[1]);
		text_part(out, "html", html);
		buf_printf(out, "\n--=_a%s--\n", boundary[1]);
	} else {
		text_part(out, html != NULL ? "html" : "plain",
			  html != NULL ? html : text != NULL ? text : "");
	}
	json_array_foreach(atts, i, v) {
		buf_printf(out, "\n--=_m%s\n", boundary[0]);
		if ((err = attachment_part(a, out, v)) != NULL)
			return err;
	}
	if (json_array_size(atts) > 0)
		buf_printf(out, "\n--=_m%s--\n", boundary[0]);
	return NULL;
}

json_t *jmap_email_create(struct jmap_account *a, json_t *obj, json_t **created)
{
	static const char *const known[] = {
		"mailboxIds", "keywords", "receivedAt", "from", "sender", "to", "cc", "bcc",
		"replyTo", "subject", "sentAt", "messageId", "inReplyTo", "references",
		"textBody", "htmlBody", "attachments", "bodyValues",
	};
	struct jmap_new_email ne;
	const char *key;
	struct buf msg;
	json_t *v, *err;

	if (!json_is_object(obj))
		return jmap_set_error("invalidProperties", NULL);
	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= strcmp(known[i], key) == 0;
		if (!ok)
			return jmap_invalid_property(key, "not supported when creating an email");
	}
	if ((err = jmap_new_email_read(a, obj, &ne)) != NULL)
		return err;
	buf_init(&msg, a->srv->cfg.message_size + 65536);
	if ((err = build(a, obj, &msg)) == NULL)
		err = jmap_new_email_file(a, &ne, msg.data, msg.len, created);
	buf_deinit(&msg);
	return err;
}
