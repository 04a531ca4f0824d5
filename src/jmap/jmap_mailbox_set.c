/*
 * jmap_mailbox_set.c - Mailbox/set, Mailbox/query and Mailbox/queryChanges
 * (RFC 8621 §2.3-2.5) over the store's folders, as IMAP CREATE, RENAME,
 * DELETE and SUBSCRIBE do them.
 *
 * create: name (no "/", the hierarchy separator), parentId, role (one of
 * the SPECIAL-USE roles not yet taken; "inbox" is INBOX's), isSubscribed.
 * update: name and parentId rename the folder (and its children),
 * isSubscribed; a role cannot change once made (the store keeps
 * SPECIAL-USE from the creation), and sortOrder is fixed (0 INBOX, 10 a
 * role, 100 the others).  destroy: not INBOX, not with children
 * (mailboxHasChild), not with emails unless onDestroyRemoveEmails
 * (mailboxHasEmail): an email is in one mailbox, so they go with it.
 * Mailbox/query filters by parentId, name, role, hasAnyRole,
 * isSubscribed and sorts by name or sortOrder; its queryState is the
 * account state, and /queryChanges answers for an unchanged state only
 * (cannotCalculateChanges otherwise: the client queries again, the list
 * being short).
 */
#include "jmap_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"

#define MAX_MAILBOX_NAME 255

static unsigned role_attr(const char *role)
{
	static const struct { const char *name; unsigned attr; } roles[] = {
		{ "sent", STORE_FOLDER_SENT }, { "drafts", STORE_FOLDER_DRAFTS },
		{ "trash", STORE_FOLDER_TRASH }, { "junk", STORE_FOLDER_JUNK },
		{ "archive", STORE_FOLDER_ARCHIVE },
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(roles[i].name, role) == 0)
			return roles[i].attr;
	return 0;
}

/* The folder list changed: open it again. */
static void reload(struct jmap_account *a)
{
	jmap_account_unload(a);
	jmap_account_load(a);
}

/* A mailbox id, or "#creationId" of one made earlier in the request. */
static struct jmap_folder *folder_ref(struct jmap_call *call, struct jmap_account *a,
				      const char *id)
{
	if (id != NULL && id[0] == '#')
		id = json_string_value(json_object_get(call->created_ids, id + 1));
	return id != NULL ? jmap_folder_by_id(a, id) : NULL;
}

static bool has_children(struct jmap_account *a, const char *name)
{
	size_t n = strlen(name);

	for (unsigned i = 0; i < a->n_folders; i++)
		if (strncmp(a->folders[i].name, name, n) == 0 && a->folders[i].name[n] == '/')
			return true;
	return false;
}

/* The full name for name under parent (NULL: top level) into out.
   NULL, or the SetError. */
static json_t *full_name(json_t *name, struct jmap_folder *parent, char *out, size_t size)
{
	const char *n = json_string_value(name);

	if (n == NULL || n[strspn(n, " \t")] == '\0' || strlen(n) > MAX_MAILBOX_NAME ||
	    strchr(n, '/') != NULL)
		return jmap_invalid_property("name", "1 to 255 characters, not only spaces, no \"/\"");
	if (parent == NULL && str_ieq(n, "INBOX"))
		return jmap_set_error("invalidProperties", "INBOX exists");
	if ((size_t)snprintf(out, size, "%s%s%s", parent != NULL ? parent->name : "",
			     parent != NULL ? "/" : "", n) >= size)
		return jmap_invalid_property("name", "too long");
	return NULL;
}

static json_t *store_set_error(const struct store_error *err)
{
	switch (err->code) {
	case STORE_ERROR_EXISTS:
		return jmap_set_error("alreadyExists", err->text);
	case STORE_ERROR_BAD_PARAM:
	case STORE_ERROR_LIMIT:
		return jmap_invalid_property("name", err->text);
	default:
		return jmap_set_error("serverFail", err->text);
	}
}

static json_t *create_one(struct jmap_call *call, struct jmap_account *a, json_t *obj,
			  json_t **created)
{
	json_t *parent_id = json_object_get(obj, "parentId"), *role = json_object_get(obj, "role");
	json_t *sub = json_object_get(obj, "isSubscribed"), *v, *err;
	struct jmap_folder *parent = NULL, *f;
	struct store_error serr;
	unsigned attr = 0;
	const char *key;
	char name[1024];

	if (!json_is_object(obj))
		return jmap_set_error("invalidProperties", NULL);
	json_object_foreach(obj, key, v)
		if (strcmp(key, "name") != 0 && strcmp(key, "parentId") != 0 &&
		    strcmp(key, "role") != 0 && strcmp(key, "isSubscribed") != 0 &&
		    strcmp(key, "sortOrder") != 0)
			return jmap_invalid_property(key, "not settable");
	if (parent_id != NULL && !json_is_null(parent_id) &&
	    (parent = folder_ref(call, a, json_string_value(parent_id))) == NULL)
		return jmap_invalid_property("parentId", "no such mailbox");
	if (role != NULL && !json_is_null(role)) {
		if (!json_is_string(role) || (attr = role_attr(json_string_value(role))) == 0)
			return jmap_invalid_property("role", "sent, drafts, trash, junk or archive");
		for (unsigned i = 0; i < a->n_folders; i++)
			if ((a->folders[i].attrs & STORE_FOLDER_SPECIAL_USE) == attr)
				return jmap_invalid_property("role", "another mailbox has this role");
	}
	if (sub != NULL && !json_is_boolean(sub))
		return jmap_invalid_property("isSubscribed", NULL);
	if ((err = full_name(json_object_get(obj, "name"), parent, name, sizeof(name))) != NULL)
		return err;
	if (store_folder_create(a->store, name, attr, &serr) < 0)
		return store_set_error(&serr);
	if (json_is_true(sub) && store_folder_subscribe(a->store, name, true, &serr) < 0)
		log_warn("jmap: %s: subscribe %s: %s", a->user, name, serr.text);
	reload(a);
	for (unsigned i = 0; i < a->n_folders; i++) {
		f = &a->folders[i];
		if (strcmp(f->name, name) == 0) {
			/* the whole object: all but name is server-set or defaulted */
			*created = jmap_mailbox_object(a, f);
			return NULL;
		}
	}
	return jmap_set_error("serverFail", "the new folder cannot be opened");
}

static json_t *update_one(struct jmap_call *call, struct jmap_account *a, const char *id,
			  json_t *patch)
{
	struct jmap_folder *f = jmap_folder_by_id(a, id), *parent = NULL;
	json_t *obj, *v, *err = NULL, *name, *pid;
	struct store_error serr;
	const char *key;
	char newname[1024], oldname[1024];
	bool rename = false;

	if (f == NULL)
		return jmap_set_error("notFound", NULL);
	if (!json_is_object(patch))
		return jmap_set_error("invalidPatch", NULL);
	obj = jmap_mailbox_object(a, f);
	json_object_foreach(patch, key, v) {
		if (strcmp(key, "name") == 0 || strcmp(key, "parentId") == 0) {
			rename |= !json_equal(v, json_object_get(obj, key));
		} else if (strcmp(key, "isSubscribed") == 0) {
			if (!json_is_boolean(v))
				err = jmap_invalid_property(key, NULL);
		} else if (!json_equal(v, json_object_get(obj, key))) {
			err = jmap_invalid_property(key, strcmp(key, "role") == 0 ?
					       "a role is set when the mailbox is made" :
					       "not settable");
		}
		if (err != NULL)
			break;
	}
	if (err == NULL && rename) {
		name = json_object_get(patch, "name");
		pid = json_object_get(patch, "parentId");
		if (name == NULL)
			name = json_object_get(obj, "name");
		if (pid == NULL)
			pid = json_object_get(obj, "parentId");
		if (str_ieq(f->name, "INBOX"))
			err = jmap_set_error("forbidden", "INBOX keeps its name");
		else if (!json_is_null(pid) &&
			 (parent = folder_ref(call, a, json_string_value(pid))) == NULL)
			err = jmap_invalid_property("parentId", "no such mailbox");
		else if (parent != NULL && (parent == f ||
			 (strncmp(parent->name, f->name, strlen(f->name)) == 0 &&
			  parent->name[strlen(f->name)] == '/')))
			err = jmap_invalid_property("parentId", "a mailbox cannot go below itself");
		else
			err = full_name(name, parent, newname, sizeof(newname));
		if (err == NULL) {
			str_copy(oldname, f->name, sizeof(oldname));
			if (store_folder_rename(a->store, oldname, newname, &serr) < 0)
				err = store_set_error(&serr);
			else
				reload(a);
		}
	}
	if (err == NULL && (v = json_object_get(patch, "isSubscribed")) != NULL &&
	    (f = jmap_folder_by_id(a, id)) != NULL &&
	    store_folder_subscribe(a->store, f->name, json_is_true(v), &serr) < 0)
		err = jmap_set_error("serverFail", serr.text);
	json_decref(obj);
	return err;
}

static json_t *destroy_one(struct jmap_account *a, const char *id, bool remove_emails)
{
	struct jmap_folder *f = jmap_folder_by_id(a, id);
	struct store_error serr;
	char name[1024];

	if (f == NULL)
		return jmap_set_error("notFound", NULL);
	if (str_ieq(f->name, "INBOX"))
		return jmap_set_error("forbidden", "INBOX cannot be destroyed");
	if (has_children(a, f->name))
		return jmap_set_error("mailboxHasChild", NULL);
	if (f->st.messages > 0 && !remove_emails)
		return jmap_set_error("mailboxHasEmail", NULL);
	str_copy(name, f->name, sizeof(name));
	if (store_folder_delete(a->store, name, &serr) < 0)
		return jmap_set_error("serverFail", serr.text);
	store_folder_subscribe(a->store, name, false, &serr);
	reload(a);
	return NULL;
}

int jmap_mailbox_set(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *create = json_object_get(call->args, "create");
	json_t *update = json_object_get(call->args, "update");
	json_t *destroy = json_object_get(call->args, "destroy");
	json_t *if_state = json_object_get(call->args, "ifInState");
	json_t *remove = json_object_get(call->args, "onDestroyRemoveEmails");
	json_t *created, *not_created, *updated, *not_updated, *destroyed, *not_destroyed, *v;
	const char *key;
	char old[24], now[24];
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((create != NULL && !json_is_null(create) && !json_is_object(create)) ||
	    (update != NULL && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy != NULL && !json_is_null(destroy) && !json_is_array(destroy)) ||
	    (remove != NULL && !json_is_boolean(remove)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_object_size(create) + json_object_size(update) + json_array_size(destroy) >
	    call->limits->max_objects_set)
		return jmap_call_error(call, "requestTooLarge", NULL);
	jmap_account_state(a, old);
	if (json_is_string(if_state) && strcmp(json_string_value(if_state), old) != 0)
		return jmap_call_error(call, "stateMismatch", NULL);
	created = json_object();
	not_created = json_object();
	updated = json_object();
	not_updated = json_object();
	destroyed = json_array();
	not_destroyed = json_object();
	json_object_foreach(create, key, v) {
		json_t *c = NULL, *err = create_one(call, a, v, &c);
		if (err != NULL) {
			json_object_set_new(not_created, key, err);
			continue;
		}
		json_object_set(call->created_ids, key, json_object_get(c, "id"));
		json_object_set_new(created, key, c);
	}
	json_object_foreach(update, key, v) {
		json_t *err = update_one(call, a, key, v);
		if (err != NULL)
			json_object_set_new(not_updated, key, err);
		else
			json_object_set_new(updated, key, json_null());
	}
	json_array_foreach(destroy, i, v) {
		const char *id = json_string_value(v);
		json_t *err;
		if (id == NULL)
			continue;
		if (id[0] == '#')
			id = json_string_value(json_object_get(call->created_ids, id + 1));
		err = id != NULL ? destroy_one(a, id, json_is_true(remove)) :
			jmap_set_error("notFound", NULL);
		if (err != NULL)
			json_object_set_new(not_destroyed, json_string_value(v), err);
		else
			json_array_append(destroyed, v);
	}
	jmap_account_state(a, now);
	call->result = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "accountId", a->id,
				 "oldState", old, "newState", now, "created", created,
				 "notCreated", not_created, "updated", updated,
				 "notUpdated", not_updated, "destroyed", destroyed,
				 "notDestroyed", not_destroyed);
	return 1;
}

/* ---- Mailbox/query ---- */

static int filter_match(json_t *filter, json_t *m)
{
	const char *key;
	json_t *v;

	json_object_foreach(filter, key, v) {
		json_t *have = json_object_get(m, strcmp(key, "hasAnyRole") == 0 ? "role" : key);
		if (strcmp(key, "parentId") == 0 || strcmp(key, "role") == 0) {
			if (!json_is_null(v) && !json_is_string(v))
				return -1;
			if (!json_equal(v, have))
				return 0;
		} else if (strcmp(key, "name") == 0) {
			if (!json_is_string(v))
				return -1;
			if (strcasestr(json_string_value(have), json_string_value(v)) == NULL)
				return 0;
		} else if (strcmp(key, "hasAnyRole") == 0 || strcmp(key, "isSubscribed") == 0) {
			bool want = json_is_true(v);
			if (!json_is_boolean(v))
				return -1;
			if ((strcmp(key, "hasAnyRole") == 0 ? !json_is_null(have) : json_is_true(have))
			    != want)
				return 0;
		} else {
			return -1;
		}
	}
	return 1;
}

static const char *sort_by;
static bool sort_desc;

static int cmp_mailboxes(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int c = 0;

	if (strcmp(sort_by, "sortOrder") == 0)
		c = (int)(json_integer_value(json_object_get(a, "sortOrder")) -
			  json_integer_value(json_object_get(b, "sortOrder")));
	if (c == 0)
		c = strcmp(json_string_value(json_object_get(a, "name")),
			   json_string_value(json_object_get(b, "name")));
	return sort_desc ? -c : c;
}

int jmap_mailbox_query(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *filter = json_object_get(call->args, "filter");
	json_t *sort = json_object_get(call->args, "sort");
	json_t *pos = json_object_get(call->args, "position");
	json_t *lim = json_object_get(call->args, "limit");
	json_t *ids, **match;
	char state[24];
	size_t n = 0, start, limit;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((filter != NULL && !json_is_null(filter) && !json_is_object(filter)) ||
	    (sort != NULL && !json_is_null(sort) &&
	     (!json_is_array(sort) || json_array_size(sort) > 2)) ||
	    (pos != NULL && !json_is_null(pos) &&
	     (!json_is_integer(pos) || json_integer_value(pos) < 0)) ||
	    (lim != NULL && !json_is_null(lim) &&
	     (!json_is_integer(lim) || json_integer_value(lim) < 0)))
		return jmap_call_error(call, "invalidArguments", NULL);
	sort_by = "sortOrder";
	sort_desc = false;
	if (json_array_size(sort) > 0) {
		json_t *c = json_array_get(sort, 0);
		const char *p = json_string_value(json_object_get(c, "property"));
		if (p == NULL || (strcmp(p, "name") != 0 && strcmp(p, "sortOrder") != 0))
			return jmap_call_error(call, "unsupportedSort", NULL);
		sort_by = p;
		sort_desc = json_is_false(json_object_get(c, "isAscending"));
	}
	match = xcalloc(a->n_folders + 1, sizeof(*match));
	for (unsigned i = 0; i < a->n_folders; i++) {
		json_t *m = jmap_mailbox_object(a, &a->folders[i]);
		int r = json_is_object(filter) ? filter_match(filter, m) : 1;
		if (r < 0) {
			json_decref(m);
			for (size_t k = 0; k < n; k++)
				json_decref(match[k]);
			free(match);
			return jmap_call_error(call, "unsupportedFilter", NULL);
		}
		if (r > 0)
			match[n++] = m;
		else
			json_decref(m);
	}
	qsort(match, n, sizeof(*match), cmp_mailboxes);
	start = json_is_integer(pos) ? (size_t)json_integer_value(pos) : 0;
	limit = json_is_integer(lim) ? (size_t)json_integer_value(lim) : n;
	ids = json_array();
	for (size_t i = start; i < n && i - start < limit; i++)
		json_array_append(ids, json_object_get(match[i], "id"));
	for (size_t k = 0; k < n; k++)
		json_decref(match[k]);
	free(match);
	jmap_account_state(a, state);
	call->result = json_pack("{s:s,s:s,s:b,s:I,s:o}", "accountId", a->id, "queryState",
				 state, "canCalculateChanges", 0, "position",
				 (json_int_t)(start < n ? start : n), "ids", ids);
	if (json_is_true(json_object_get(call->args, "calculateTotal")))
		json_object_set_new(call->result, "total", json_integer((json_int_t)n));
	return 1;
}

int jmap_mailbox_query_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceQueryState"));
	char state[24];

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL)
		return jmap_call_error(call, "invalidArguments", "sinceQueryState");
	jmap_account_state(a, state);
	if (strcmp(since, state) != 0)
		return jmap_call_error(call, "cannotCalculateChanges", NULL);
	call->result = json_pack("{s:s,s:s,s:s,s:[],s:[]}", "accountId", a->id,
				 "oldQueryState", since, "newQueryState", state,
				 "removed", "added");
	return 1;
}
