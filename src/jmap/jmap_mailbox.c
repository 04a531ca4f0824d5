/*
 * jmap_mailbox.c - Mailbox/get and Mailbox/changes (RFC 8621 §2) over the
 * account's folders: a Mailbox is a selectable folder, its id from the
 * folder's UIDVALIDITY, its role from SPECIAL-USE (INBOX is "inbox"),
 * its parent the folder named by the part before the last "/".
 * Mailbox/set and Mailbox/query are in jmap_mailbox_set.c.
 */
#include "jmap_private.h"

#include <string.h>

#include "lib/util.h"

const char *jmap_mailbox_role(unsigned attrs, const char *name)
{
	if (str_ieq(name, "INBOX"))
		return "inbox";
	switch (attrs & STORE_FOLDER_SPECIAL_USE) {
	case STORE_FOLDER_SENT: return "sent";
	case STORE_FOLDER_DRAFTS: return "drafts";
	case STORE_FOLDER_TRASH: return "trash";
	case STORE_FOLDER_JUNK: return "junk";
	case STORE_FOLDER_ARCHIVE: return "archive";
	default: return NULL;
	}
}

static json_t *parent_id(struct jmap_account *a, const char *name)
{
	const char *slash = strrchr(name, '/');

	if (slash == NULL)
		return json_null();
	for (unsigned i = 0; i < a->n_folders; i++) {
		const char *n = store_mailbox_name(a->folders[i].h);
		if (strlen(n) == (size_t)(slash - name) && memcmp(n, name, strlen(n)) == 0)
			return json_string(a->folders[i].id);
	}
	return json_null();
}

/* Everything, but INBOX can be neither renamed nor deleted. */
static json_t *rights(bool inbox)
{
	return json_pack("{s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}",
			 "mayReadItems", 1, "mayAddItems", 1, "mayRemoveItems", 1,
			 "maySetSeen", 1, "maySetKeywords", 1, "mayCreateChild", 1,
			 "mayRename", !inbox, "mayDelete", !inbox, "maySubmit", 1);
}

json_t *jmap_mailbox_object(struct jmap_account *a, struct jmap_folder *f)
{
	const char *name = store_mailbox_name(f->h), *slash = strrchr(name, '/');
	const char *role = jmap_mailbox_role(f->attrs, name);
	unsigned sort = role == NULL ? 100 : strcmp(role, "inbox") == 0 ? 0 : 10;

	return json_pack("{s:s,s:s,s:o,s:o,s:i,s:I,s:I,s:I,s:I,s:o,s:b}",
			 "id", f->id, "name", str_ieq(name, "INBOX") ? "Inbox" :
			 slash != NULL ? slash + 1 : name,
			 "parentId", parent_id(a, name),
			 "role", role != NULL ? json_string(role) : json_null(),
			 "sortOrder", sort,
			 "totalEmails", (json_int_t)f->st.messages,
			 "unreadEmails", (json_int_t)f->st.unseen,
			 "totalThreads", (json_int_t)f->st.messages,
			 "unreadThreads", (json_int_t)f->st.unseen,
			 "myRights", rights(str_ieq(name, "INBOX")),
			 "isSubscribed", (f->attrs & STORE_FOLDER_SUBSCRIBED) != 0);
}

/* Keep only the asked properties (and always the id). */
static void filter_props(json_t *obj, json_t *props)
{
	const char *key;
	json_t *v;
	void *tmp;
	size_t i;

	if (!json_is_array(props))
		return;
	json_object_foreach_safe(obj, tmp, key, v) {
		bool keep = strcmp(key, "id") == 0;
		json_t *p;
		json_array_foreach(props, i, p)
			if (json_is_string(p) && strcmp(json_string_value(p), key) == 0)
				keep = true;
		if (!keep)
			json_object_del(obj, key);
	}
}

int jmap_mailbox_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "ids"), *list, *notfound, *v;
	json_t *props = json_object_get(call->args, "properties");
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (ids != NULL && !json_is_null(ids) && !json_is_array(ids))
		return jmap_call_error(call, "invalidArguments", "ids");
	if (props != NULL && !json_is_null(props) && !json_is_array(props))
		return jmap_call_error(call, "invalidArguments", "properties");
	if (json_is_array(ids) && json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	list = json_array();
	notfound = json_array();
	if (!json_is_array(ids)) {
		for (unsigned k = 0; k < a->n_folders; k++)
			json_array_append_new(list, jmap_mailbox_object(a, &a->folders[k]));
	} else {
		json_array_foreach(ids, i, v) {
			struct jmap_folder *f = json_is_string(v) ?
				jmap_folder_by_id(a, json_string_value(v)) : NULL;
			if (f != NULL)
				json_array_append_new(list, jmap_mailbox_object(a, f));
			else
				json_array_append(notfound, v);
		}
	}
	json_array_foreach(list, i, v)
		filter_props(v, props);
	return jmap_get_result(call, a, list, notfound);
}

int jmap_mailbox_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceState"));
	struct jmap_changes ch;
	char id[16];

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL)
		return jmap_call_error(call, "invalidArguments", "sinceState");
	if (jmap_changes_begin(call, a, since, &ch) < 0)
		return -1;
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		uint64_t modseq, name_hash;
		if (!jmap_snapshot_folder(ch.snap, f->st.uidvalidity, &modseq, &name_hash))
			json_array_append_new(ch.created, json_string(f->id));
		else if (modseq != f->st.highestmodseq ||
			 name_hash != jmap_name_hash(store_mailbox_name(f->h)))
			json_array_append_new(ch.updated, json_string(f->id));
	}
	for (unsigned i = 0; i < jmap_snapshot_folder_count(ch.snap); i++) {
		snprintf(id, sizeof(id), "f%08x", jmap_snapshot_folder_at(ch.snap, i));
		if (jmap_folder_by_id(a, id) == NULL)
			json_array_append_new(ch.destroyed, json_string(id));
	}
	call->result = json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:o,s:n}", "accountId", a->id,
				 "oldState", since, "newState", ch.state, "hasMoreChanges", 0,
				 "created", ch.created, "updated", ch.updated, "destroyed", ch.destroyed,
				 "updatedProperties");
	return 1;
}
