/*
 * jmap_email_set.c - Email/set (RFC 8621 §4.6: create in
 * jmap_email_create.c, keywords, mailboxIds as a move, destroy as an
 * expunge) and
 * Email/changes (RFC 8620 §5.2, from the snapshots of jmap_session.c).
 */
#include "jmap_private.h"

#include <stdlib.h>
#include <string.h>

/* Apply keyword changes: patch is the whole "keywords" object or the
   "keywords/<k>" entries.  Returns NULL or a SetError. */
static json_t *update_keywords(struct jmap_email_ref *r, json_t *patch)
{
	json_t *full = json_object_get(patch, "keywords"), *v;
	const char *key;
	uint8_t add = 0, del = 0;
	uint32_t kadd = 0, kdel = 0;
	struct store_error err;
	unsigned idx;

	if (full != NULL) {
		if (!json_is_object(full))
			return jmap_set_error("invalidProperties", "keywords");
		del = STORE_FLAGS_SYSTEM & ~STORE_FLAG_DELETED;
		kdel = 0xffffffffu;
	}
	json_object_foreach(full != NULL ? full : patch, key, v) {
		const char *kw = key;
		bool on;
		if (full == NULL) {
			if (strncmp(key, "keywords/", 9) != 0)
				continue;
			kw = key + 9;
			if (!json_is_true(v) && !json_is_null(v))
				return jmap_set_error("invalidProperties", "keywords");
			on = json_is_true(v);
		} else {
			if (!json_is_true(v))
				return jmap_set_error("invalidProperties", "keywords");
			on = true;
		}
		if (jmap_keyword_flag(kw) != 0) {
			uint8_t f = jmap_keyword_flag(kw);
			if (on) {
				add |= f;
				del &= (uint8_t)~f;
			} else {
				del |= f;
			}
			continue;
		}
		if (kw[0] == '\0' || strlen(kw) > 255 || strpbrk(kw, "()[]{}%*\"\\ ") != NULL)
			return jmap_set_error("invalidProperties", "keywords");
		if (store_mailbox_keyword(r->f->h, kw, on, &idx, &err) < 0)
			return jmap_set_error("invalidProperties", err.text);
		if (idx >= 32)
			continue;
		if (on) {
			kadd |= 1u << idx;
			kdel &= ~(1u << idx);
		} else {
			kdel |= 1u << idx;
		}
	}
	if (((del || kdel) && store_mailbox_set_flags(r->f->h, &r->m.uid, 1, STORE_FLAGS_REMOVE,
						       del, kdel, 0, NULL, &err) < 0) ||
	    ((add || kadd) && store_mailbox_set_flags(r->f->h, &r->m.uid, 1, STORE_FLAGS_ADD,
						       add, kadd, 0, NULL, &err) < 0))
		return jmap_set_error("serverFail", err.text);
	return NULL;
}

/* mailboxIds: the one mailbox the email ends up in, moved there. */
static json_t *update_mailbox(struct jmap_account *a, struct jmap_email_ref *r, json_t *patch)
{
	json_t *full = json_object_get(patch, "mailboxIds"), *set = json_object(), *v;
	const char *key, *dest_id;
	struct jmap_folder *dest;
	struct store_error err;
	uint32_t new_uid = 0, uv;

	if (full != NULL && json_is_object(full)) {
		json_object_update(set, full);
	} else if (full != NULL) {
		json_decref(set);
		return jmap_set_error("invalidProperties", "mailboxIds");
	} else {
		json_object_set_new(set, r->f->id, json_true());
	}
	json_object_foreach(patch, key, v) {
		if (strncmp(key, "mailboxIds/", 11) != 0)
			continue;
		if (json_is_true(v))
			json_object_set(set, key + 11, v);
		else
			json_object_del(set, key + 11);
	}
	if (json_object_size(set) != 1) {
		json_decref(set);
		return jmap_set_error("invalidProperties",
				 "an email is in exactly one mailbox here");
	}
	dest_id = json_object_iter_key(json_object_iter(set));
	dest = jmap_folder_by_id(a, dest_id);
	json_decref(set);
	if (dest == NULL)
		return jmap_set_error("invalidProperties", "no such mailbox");
	if (dest == r->f)
		return NULL;
	if (store_copy(r->f->h, &r->m.uid, 1, store_mailbox_name(dest->h), true, &new_uid,
		       &uv, &err) < 0 || new_uid == 0)
		return jmap_set_error("serverFail", err.text);
	return NULL;
}

static bool patch_has(json_t *patch, const char *prefix)
{
	const char *key;
	json_t *v;

	json_object_foreach(patch, key, v)
		if (strncmp(key, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* An email id, or "#creationId" of one created earlier in the request. */
static const char *email_ref(json_t *created_ids, const char *id)
{
	if (id != NULL && id[0] == '#')
		return json_string_value(json_object_get(created_ids, id + 1));
	return id;
}

static void set_update(struct jmap_account *a, json_t *update, json_t *updated,
		       json_t *not_updated, json_t *created_ids)
{
	const char *id, *key, *real;
	json_t *patch, *v, *err;
	struct jmap_email_ref r;

	json_object_foreach(update, id, patch) {
		err = NULL;
		if ((real = email_ref(created_ids, id)) == NULL ||
		    jmap_email_find(a, real, &r) <= 0) {
			json_object_set_new(not_updated, id, jmap_set_error("notFound", NULL));
			continue;
		}
		json_object_foreach(patch, key, v)
			if (strncmp(key, "keywords", 8) != 0 && strncmp(key, "mailboxIds", 10) != 0)
				err = jmap_set_error("invalidProperties", key);
		if (err == NULL && patch_has(patch, "keywords"))
			err = update_keywords(&r, patch);
		if (err == NULL && patch_has(patch, "mailboxIds"))
			err = update_mailbox(a, &r, patch);
		if (err != NULL)
			json_object_set_new(not_updated, id, err);
		else
			json_object_set_new(updated, real, json_null());
	}
}

static void set_destroy(struct jmap_account *a, json_t *destroy, json_t *destroyed,
			json_t *not_destroyed, json_t *created_ids)
{
	struct store_error err;
	struct jmap_email_ref r;
	json_t *v;
	size_t i;

	json_array_foreach(destroy, i, v) {
		const char *id = json_string_value(v);
		uint32_t uid;
		unsigned n = 1;
		const char *real = email_ref(created_ids, id);
		if (real == NULL || jmap_email_find(a, real, &r) <= 0) {
			if (id != NULL)
				json_object_set_new(not_destroyed, id, jmap_set_error("notFound", NULL));
			continue;
		}
		uid = r.m.uid;
		if (store_mailbox_expunge(r.f->h, &uid, &n, &err) < 0)
			json_object_set_new(not_destroyed, id, jmap_set_error("serverFail", err.text));
		else
			json_array_append_new(destroyed, json_string(real));
	}
}

int jmap_email_set(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *create = json_object_get(call->args, "create");
	json_t *update = json_object_get(call->args, "update");
	json_t *destroy = json_object_get(call->args, "destroy");
	json_t *if_state = json_object_get(call->args, "ifInState");
	json_t *created = json_object(), *not_created = json_object(), *updated = json_object();
	json_t *not_updated = json_object(), *destroyed = json_array();
	json_t *not_destroyed = json_object(), *v;
	const char *key;
	char old[24], now[24];

	if (jmap_call_account(call, &a) < 0)
		goto fail;
	if ((create != NULL && !json_is_null(create) && !json_is_object(create)) ||
	    (update != NULL && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy != NULL && !json_is_null(destroy) && !json_is_array(destroy))) {
		jmap_call_error(call, "invalidArguments", NULL);
		goto fail;
	}
	if (json_object_size(create) + json_object_size(update) + json_array_size(destroy) >
	    call->limits->max_objects_set) {
		jmap_call_error(call, "requestTooLarge", NULL);
		goto fail;
	}
	jmap_account_state(a, old);
	if (json_is_string(if_state) && strcmp(json_string_value(if_state), old) != 0) {
		jmap_call_error(call, "stateMismatch", NULL);
		goto fail;
	}
	json_object_foreach(create, key, v) {
		json_t *c = NULL, *err = jmap_email_create(a, v, &c);
		if (err != NULL) {
			json_object_set_new(not_created, key, err);
			continue;
		}
		json_object_set(call->created_ids, key, json_object_get(c, "id"));
		json_object_set_new(created, key, c);
	}
	if (json_is_object(update))
		set_update(a, update, updated, not_updated, call->created_ids);
	if (json_is_array(destroy))
		set_destroy(a, destroy, destroyed, not_destroyed, call->created_ids);
	jmap_account_state(a, now);
	call->result = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "accountId", a->id,
				 "oldState", old, "newState", now, "created", created,
				 "notCreated", not_created, "updated", updated,
				 "notUpdated", not_updated, "destroyed", destroyed,
				 "notDestroyed", not_destroyed);
	return 1;
fail:
	json_decref(created);
	json_decref(not_created);
	json_decref(updated);
	json_decref(not_updated);
	json_decref(destroyed);
	json_decref(not_destroyed);
	return -1;
}

/* ---- Email/changes ---- */

int jmap_email_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceState"));
	json_t *maxc = json_object_get(call->args, "maxChanges");
	struct jmap_changes ch;
	char id[20];

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL || (maxc != NULL && !json_is_null(maxc) &&
			      (!json_is_integer(maxc) || json_integer_value(maxc) <= 0)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (jmap_changes_begin(call, a, since, &ch) < 0)
		return -1;
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		uint64_t old_modseq = 0, name_hash;
		bool known = jmap_snapshot_folder(ch.snap, f->st.uidvalidity, &old_modseq, &name_hash);
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct store_msg m;
			store_mailbox_get(f->h, k, &m);
			jmap_email_id(f->st.uidvalidity, m.uid, id);
			if (!known || !jmap_snapshot_has(ch.snap, (uint64_t)f->st.uidvalidity << 32 | m.uid))
				json_array_append_new(ch.created, json_string(id));
			else if (m.modseq > old_modseq)
				json_array_append_new(ch.updated, json_string(id));
		}
	}
	for (unsigned i = 0; i < jmap_snapshot_email_count(ch.snap); i++) {
		uint64_t e = jmap_snapshot_email_at(ch.snap, i);
		struct jmap_folder *f = jmap_folder_by_uv(a, (uint32_t)(e >> 32));
		struct store_msg m;
		if (f == NULL || store_mailbox_lookup(f->h, (uint32_t)e, &m) <= 0) {
			jmap_email_id((uint32_t)(e >> 32), (uint32_t)e, id);
			json_array_append_new(ch.destroyed, json_string(id));
		}
	}
	if (json_is_integer(maxc) && json_array_size(ch.created) + json_array_size(ch.updated) +
	    json_array_size(ch.destroyed) > (size_t)json_integer_value(maxc)) {
		json_decref(ch.created);
		json_decref(ch.updated);
		json_decref(ch.destroyed);
		return jmap_call_error(call, "cannotCalculateChanges",
				       "more changes than maxChanges");
	}
	call->result = json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:o}", "accountId", a->id,
				 "oldState", since, "newState", ch.state, "hasMoreChanges", 0,
				 "created", ch.created, "updated", ch.updated, "destroyed", ch.destroyed);
	return 1;
}

