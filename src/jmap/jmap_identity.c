/*
 * jmap_identity.c - Identity/get, /set and /changes (RFC 8621 §6).
 *
 * The identities of an account are the addresses it may send as: its own
 * address, then every alias (`correio alias add`, not a catch-all) whose
 * expansion reaches the account, in the alias table's order.  They are
 * made by the administrator, so a client can neither create nor destroy
 * one; it may set name, replyTo, bcc, textSignature and htmlSignature,
 * kept in <data_dir>/jmap/<accountId>/identities as {email: {...}}.
 * Identity id: "i" + 16 hex digits of FNV-1a of the address.  The state
 * is a hash of the whole list as sent, so any change (an alias added, a
 * name set) changes it; /changes is exact for an unchanged state and says
 * cannotCalculateChanges otherwise.
 */
#include "jmap_private.h"

#include <stdlib.h>
#include <string.h>

#include "auth/accounts.h"
#include "delivery/resolve.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "conn/services.h"

#define IDENTITY_FILE "identities"
#define MAX_IDENTITIES 1000
#define MAX_SIGNATURE (64 * 1024)

static const char *const settable[] = {
	"name", "replyTo", "bcc", "textSignature", "htmlSignature",
};

static void identity_id(const char *email, char out[20])
{
	snprintf(out, 20, "i%016llx", (unsigned long long)jmap_name_hash(email));
}

static json_t *settings_load(struct jmap_account *a)
{
	char path[1200];
	struct buf b;
	json_t *v = NULL;

	buf_init(&b, 0);
	if (jmap_file_path(a->srv->cfg.data_dir, a->id, IDENTITY_FILE, path, sizeof(path)) > 0 &&
	    jmap_file_read(path, &b) > 0)
		v = json_loadb(b.data, b.len, 0, NULL);
	buf_deinit(&b);
	if (!json_is_object(v)) {
		json_decref(v);
		v = json_object();
	}
	return v;
}

struct alias_scan {
	struct jmap_account *a;
	json_t *emails;		/* the addresses, in order, once each */
};

static void add_email(json_t *emails, const char *email)
{
	json_t *v;
	size_t i;

	json_array_foreach(emails, i, v)
		if (strcmp(json_string_value(v), email) == 0)
			return;
	if (json_array_size(emails) < MAX_IDENTITIES)
		json_array_append_new(emails, json_string(email));
}

static void alias_seen(void *ctx, const char *alias, const char *target)
{
	struct alias_scan *s = ctx;

	(void)target;
	if (alias[0] == '@')
		return;		/* a catch-all names no one address */
	if (resolve_reaches(&s->a->srv->cfg, s->a->srv->accounts, alias, s->a->user))
		add_email(s->emails, alias);
}

/* Every identity object of a, in order. */
static json_t *identity_list(struct jmap_account *a)
{
	struct alias_scan scan = { a, json_array() };
	json_t *settings = settings_load(a), *list = json_array(), *v;
	char id[20];
	size_t i;

	add_email(scan.emails, a->user);
	if (accounts_alias_list(a->srv->accounts, NULL, alias_seen, &scan) < 0)
		log_warn("jmap: %s: cannot list the aliases", a->user);
	json_array_foreach(scan.emails, i, v) {
		const char *email = json_string_value(v);
		json_t *o, *mine = json_object_get(settings, email);
		identity_id(email, id);
		o = json_pack("{s:s,s:s,s:s,s:n,s:n,s:s,s:s,s:b}", "id", id, "name", "",
			      "email", email, "replyTo", "bcc", "textSignature", "",
			      "htmlSignature", "", "mayDelete", 0);
		for (size_t k = 0; k < sizeof(settable) / sizeof(settable[0]); k++)
			if (json_object_get(mine, settable[k]) != NULL)
				json_object_set(o, settable[k], json_object_get(mine, settable[k]));
		json_array_append_new(list, o);
	}
	json_decref(scan.emails);
	json_decref(settings);
	return list;
}

static void list_state(json_t *list, char out[24])
{
	char *text = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);

	snprintf(out, 24, "i%016llx",
		 (unsigned long long)jmap_name_hash(text != NULL ? text : ""));
	free(text);
}

int jmap_identity_find(struct jmap_account *a, const char *id, char *email)
{
	json_t *list = identity_list(a), *v;
	size_t i;
	int ret = 0;

	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0) {
			str_copy(email, json_string_value(json_object_get(v, "email")), 320);
			ret = 1;
			break;
		}
	json_decref(list);
	return ret;
}

int jmap_identity_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "ids");
	json_t *props = json_object_get(call->args, "properties");
	json_t *all, *list, *notfound, *v, *o;
	char state[24];
	size_t i, k;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((ids != NULL && !json_is_null(ids) && !json_is_array(ids)) ||
	    (props != NULL && !json_is_null(props) && !json_is_array(props)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_is_array(ids) && json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	all = identity_list(a);
	list_state(all, state);
	list = json_array();
	notfound = json_array();
	if (!json_is_array(ids)) {
		json_array_extend(list, all);
	} else {
		json_array_foreach(ids, i, v) {
			bool found = false;
			json_array_foreach(all, k, o)
				if (json_is_string(v) && json_equal(v, json_object_get(o, "id"))) {
					json_array_append(list, o);
					found = true;
					break;
				}
			if (!found)
				json_array_append(notfound, v);
		}
	}
	if (json_is_array(props)) {
		json_array_foreach(list, i, o) {
			json_t *copy = json_pack("{s:O}", "id", json_object_get(o, "id"));
			json_array_foreach(props, k, v)
				if (json_is_string(v) && json_object_get(o, json_string_value(v)))
					json_object_set(copy, json_string_value(v),
							json_object_get(o, json_string_value(v)));
			json_array_set_new(list, i, copy);
		}
	}
	json_decref(all);
	call->result = json_pack("{s:s,s:s,s:o,s:o}", "accountId", a->id, "state", state,
				 "list", list, "notFound", notfound);
	return 1;
}

/* An EmailAddress[] or null (replyTo, bcc). */
static bool addresses_ok(json_t *v)
{
	json_t *e;
	size_t i;

	if (json_is_null(v))
		return true;
	if (!json_is_array(v) || json_array_size(v) > 100)
		return false;
	json_array_foreach(v, i, e) {
		json_t *name = json_object_get(e, "name");
		const char *email = json_string_value(json_object_get(e, "email"));
		if (!json_is_object(e) || email == NULL || strlen(email) > 320 ||
		    strchr(email, '@') == NULL ||
		    (name != NULL && !json_is_null(name) && !json_is_string(name)))
			return false;
	}
	return true;
}

/* Check patch (of the identity o) and apply it to mine.  NULL, or the
   SetError. */
static json_t *apply_patch(json_t *o, json_t *patch, json_t *mine)
{
	const char *key;
	json_t *v;

	json_object_foreach(patch, key, v) {
		bool known = false;
		for (size_t k = 0; k < sizeof(settable) / sizeof(settable[0]); k++)
			known |= strcmp(key, settable[k]) == 0;
		if (!known && json_equal(v, json_object_get(o, key)))
			continue;	/* an unchanged server-set property */
		if (!known ||
		    (strcmp(key, "name") == 0 && (!json_is_string(v) ||
						  json_string_length(v) > 256)) ||
		    ((strcmp(key, "replyTo") == 0 || strcmp(key, "bcc") == 0) &&
		     !addresses_ok(v)) ||
		    (strstr(key, "Signature") != NULL && (!json_is_string(v) ||
							  json_string_length(v) > MAX_SIGNATURE)))
			return json_pack("{s:s,s:[s]}", "type", "invalidProperties",
					 "properties", key);
	}
	json_object_update(mine, patch);
	return NULL;
}

int jmap_identity_set(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *create = json_object_get(call->args, "create");
	json_t *update = json_object_get(call->args, "update");
	json_t *destroy = json_object_get(call->args, "destroy");
	json_t *if_state = json_object_get(call->args, "ifInState");
	json_t *all, *settings, *not_created, *updated, *not_updated, *not_destroyed, *v, *o;
	const char *key;
	char old[24], now[24], path[1200];
	size_t i, k;
	bool changed = false;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((create != NULL && !json_is_null(create) && !json_is_object(create)) ||
	    (update != NULL && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy != NULL && !json_is_null(destroy) && !json_is_array(destroy)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_object_size(create) + json_object_size(update) + json_array_size(destroy) >
	    call->limits->max_objects_set)
		return jmap_call_error(call, "requestTooLarge", NULL);
	all = identity_list(a);
	list_state(all, old);
	if (json_is_string(if_state) && strcmp(json_string_value(if_state), old) != 0) {
		json_decref(all);
		return jmap_call_error(call, "stateMismatch", NULL);
	}
	not_created = json_object();
	updated = json_object();
	not_updated = json_object();
	not_destroyed = json_object();
	json_object_foreach(create, key, v)
		json_object_set_new(not_created, key, json_pack("{s:s,s:s}", "type", "forbidden",
			"description", "identities are the account's address and its aliases"));
	json_array_foreach(destroy, i, v)
		if (json_is_string(v))
			json_object_set_new(not_destroyed, json_string_value(v),
					    json_pack("{s:s,s:s}", "type", "forbidden", "description",
						      "identities are the account's address and its aliases"));
	settings = settings_load(a);
	json_object_foreach(update, key, v) {
		json_t *found = NULL, *mine, *err;
		json_array_foreach(all, k, o)
			if (strcmp(json_string_value(json_object_get(o, "id")), key) == 0)
				found = o;
		if (found == NULL || !json_is_object(v)) {
			json_object_set_new(not_updated, key, json_pack("{s:s}", "type",
				found == NULL ? "notFound" : "invalidPatch"));
			continue;
		}
		mine = json_object_get(settings, json_string_value(json_object_get(found, "email")));
		if (mine == NULL) {
			mine = json_object();
			json_object_set_new(settings,
					    json_string_value(json_object_get(found, "email")), mine);
		}
		err = apply_patch(found, v, mine);
		if (err != NULL) {
			json_object_set_new(not_updated, key, err);
			continue;
		}
		json_object_set_new(updated, key, json_null());
		changed = true;
	}
	if (changed && (jmap_file_path(a->srv->cfg.data_dir, a->id, IDENTITY_FILE, path,
				       sizeof(path)) < 0 || jmap_file_replace(path, settings) < 0)) {
		log_err("jmap: %s: cannot write the identity settings", a->user);
		json_object_foreach(updated, key, v)
			json_object_set_new(not_updated, key, json_pack("{s:s}", "type",
									"serverFail"));
		json_object_clear(updated);
	}
	json_decref(settings);
	json_decref(all);
	all = identity_list(a);
	list_state(all, now);
	json_decref(all);
	call->result = json_pack("{s:s,s:s,s:s,s:n,s:o,s:o,s:o,s:[],s:o}", "accountId", a->id,
				 "oldState", old, "newState", now, "created",
				 "notCreated", not_created, "updated", updated,
				 "notUpdated", not_updated, "destroyed",
				 "notDestroyed", not_destroyed);
	return 1;
}

int jmap_identity_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceState"));
	json_t *all;
	char state[24];

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL)
		return jmap_call_error(call, "invalidArguments", "sinceState");
	all = identity_list(a);
	list_state(all, state);
	json_decref(all);
	if (strcmp(since, state) != 0)
		return jmap_call_error(call, "cannotCalculateChanges", NULL);
	call->result = json_pack("{s:s,s:s,s:s,s:b,s:[],s:[],s:[]}", "accountId", a->id,
				 "oldState", since, "newState", state, "hasMoreChanges", 0,
				 "created", "updated", "destroyed");
	return 1;
}
