/*
 * jmap_email_import.c - Email/import (RFC 8621 §4.8): a blob (an upload,
 * or a message's own blob) becomes a message of one mailbox, with
 * keywords and receivedAt, through the store's append (the same as IMAP
 * APPEND: fsynced, then visible to IMAP, POP3 and push at once).
 */
#include "jmap_private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "conn/services.h"

static int parse_utc(const char *s, time_t *t_r)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    strcmp(end, "Z") != 0)
		return -1;
	*t_r = timegm(&tm);
	return 1;
}

json_t *jmap_new_email_read(struct jmap_account *a, json_t *obj, struct jmap_new_email *ne)
{
	json_t *mboxes = json_object_get(obj, "mailboxIds");
	json_t *kws = json_object_get(obj, "keywords"), *v;
	json_t *recv = json_object_get(obj, "receivedAt");
	const char *key;

	memset(ne, 0, sizeof(*ne));
	if (!json_is_object(mboxes) || json_object_size(mboxes) != 1)
		return jmap_invalid_property("mailboxIds", "an email is in exactly one mailbox here");
	json_object_foreach(mboxes, key, v)
		ne->folder = json_is_true(v) ? jmap_folder_by_id(a, key) : NULL;
	if (ne->folder == NULL)
		return jmap_invalid_property("mailboxIds", "no such mailbox");
	if (kws != NULL && !json_is_null(kws) && !json_is_object(kws))
		return jmap_invalid_property("keywords", NULL);
	json_object_foreach(kws, key, v) {
		if (!json_is_true(v) || key[0] == '\0' || strlen(key) > 255 ||
		    strpbrk(key, "()[]{}%*\"\\ ") != NULL)
			return jmap_invalid_property("keywords", NULL);
		if (jmap_keyword_flag(key) != 0)
			ne->flags |= jmap_keyword_flag(key);
		else if (ne->n_names < JMAP_NEW_EMAIL_KEYWORDS)
			ne->names[ne->n_names++] = key;
		else
			return jmap_invalid_property("keywords", NULL);
	}
	if (recv != NULL && !json_is_null(recv) &&
	    parse_utc(json_string_value(recv), &ne->received) < 0)
		return jmap_invalid_property("receivedAt", NULL);
	return NULL;
}

json_t *jmap_new_email_file(struct jmap_account *a, const struct jmap_new_email *ne,
			    const char *text, size_t len, json_t **created)
{
	struct jmap_folder *f = ne->folder;
	struct store_append *ap = NULL;
	struct store_error err;
	uint32_t uid, uv;
	char id[20];

	if (store_append_begin(a->store, f->name, &ap, &err) < 0 ||
	    store_append_write(ap, text, len, &err) < 0) {
		store_append_abort(&ap);
		return jmap_set_error(err.code == STORE_ERROR_OVER_QUOTA ? "overQuota" : "serverFail",
				      err.text);
	}
	if (store_append_finish(&ap, ne->flags, ne->names, ne->n_names, ne->received, &uid, &uv,
				&err) < 0)
		return jmap_set_error(err.code == STORE_ERROR_OVER_QUOTA ? "overQuota" : "serverFail",
				      err.text);
	if (store_mailbox_sync(f->h, &err) < 0)
		log_warn("jmap: %s: %s", a->user, err.text);
	store_mailbox_status(f->h, &f->st);
	jmap_email_id(uv, uid, id);
	*created = json_pack("{s:s}", "id", id);
	id[0] = 'b';
	json_object_set_new(*created, "blobId", json_string(id));
	jmap_thread_of(a, f, uid, id);
	json_object_set_new(*created, "threadId", json_string(id));
	json_object_set_new(*created, "size", json_integer((json_int_t)len));
	return NULL;
}

/* One EmailImport object: NULL with *created set, or the SetError. */
static json_t *import_one(struct jmap_account *a, json_t *obj, json_t **created)
{
	const char *blob = json_string_value(json_object_get(obj, "blobId"));
	struct jmap_new_email ne;
	const char *key;
	struct buf data;
	json_t *v, *err;
	int ret;

	if (!json_is_object(obj))
		return jmap_set_error("invalidProperties", NULL);
	json_object_foreach(obj, key, v)
		if (strcmp(key, "blobId") != 0 && strcmp(key, "mailboxIds") != 0 &&
		    strcmp(key, "keywords") != 0 && strcmp(key, "receivedAt") != 0)
			return jmap_invalid_property(key, NULL);
	if ((err = jmap_new_email_read(a, obj, &ne)) != NULL)
		return err;
	if (blob == NULL)
		return jmap_invalid_property("blobId", NULL);
	buf_init(&data, a->srv->cfg.message_size + 65536);
	ret = jmap_blob_read(a, blob, &data);
	if (ret <= 0) {
		buf_deinit(&data);
		return ret < 0 ? jmap_set_error("tooLarge", NULL) :
		       json_pack("{s:s,s:[s]}", "type", "blobNotFound", "notFound", blob);
	}
	if (data.len == 0) {
		buf_deinit(&data);
		return jmap_set_error("invalidEmail", "the blob is empty");
	}
	err = jmap_new_email_file(a, &ne, data.data, data.len, created);
	buf_deinit(&data);
	return err;
}

int jmap_email_import(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *emails = json_object_get(call->args, "emails");
	json_t *if_state = json_object_get(call->args, "ifInState");
	json_t *created, *not_created, *v;
	const char *key;
	char old[24], now[24];

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (!json_is_object(emails))
		return jmap_call_error(call, "invalidArguments", "emails");
	if (json_object_size(emails) > call->limits->max_objects_set)
		return jmap_call_error(call, "requestTooLarge", NULL);
	jmap_account_state(a, old);
	if (json_is_string(if_state) && strcmp(json_string_value(if_state), old) != 0)
		return jmap_call_error(call, "stateMismatch", NULL);
	created = json_object();
	not_created = json_object();
	json_object_foreach(emails, key, v) {
		json_t *c = NULL, *err = import_one(a, v, &c);
		if (err != NULL) {
			json_object_set_new(not_created, key, err);
			continue;
		}
		json_object_set(call->created_ids, key, json_object_get(c, "id"));
		json_object_set_new(created, key, c);
	}
	jmap_account_state(a, now);
	call->result = json_pack("{s:s,s:s,s:s,s:o,s:o}", "accountId", a->id, "oldState", old,
				 "newState", now, "created", created, "notCreated", not_created);
	return 1;
}
