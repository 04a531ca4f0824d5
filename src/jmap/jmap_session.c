/*
 * jmap_session.c - the account a request works on, its state string, the
 * snapshots that make /changes exact, and the Session resource (RFC 8620
 * §2).  Called by jmap_http.c per request and by the method files.
 *
 * State: for every folder its UIDVALIDITY, HIGHESTMODSEQ, message count
 * and name, hashed (FNV-1a, 64 bits) into "s" + 16 hex digits.  Any
 * delivery, flag change, expunge, append or rename changes a folder's
 * modseq, count or name, so the state follows the store's modseq.  Each
 * state handed out is remembered (the folders' modseqs and the list of
 * email ids) so that Mailbox/changes and Email/changes can say exactly
 * what changed since; the last USER_SNAPSHOTS of an account (and
 * MAX_SNAPSHOTS in all) are kept, in memory, and
 * an older or unknown state gets cannotCalculateChanges (RFC 8620 §5.2).
 * When the server stops, the newest SAVED_SNAPSHOTS of each account are
 * written to <data_dir>/jmap/<accountId>/states and read back the first
 * time an unknown state of that account is asked for, so /changes stays
 * exact across a restart (after a crash the states are older or missing:
 * cannotCalculateChanges).  A snapshot is history, true whatever happened
 * since; one that a folder's modseq went below (an index rebuilt) is not
 * trusted.
 */
#include "jmap_private.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "auth/accounts.h"
#include "delivery/delivery.h"
#include "lib/encoding.h"
#include "lib/log.h"
#include "lib/util.h"
#include "conn/services.h"

#define MAX_SNAPSHOTS 256		/* states remembered, all accounts */
#define USER_SNAPSHOTS 32		/* ... and of one account */
#define SAVED_SNAPSHOTS 8		/* written per account at stop */
#define STATES_FILE "states"

struct jmap_snapshot {
	char user[320];
	char state[24];
	uint32_t *folders;	/* UIDVALIDITY */
	uint64_t *modseqs;	/* and the folder's HIGHESTMODSEQ */
	uint64_t *name_hashes;
	unsigned n_folders;
	uint64_t *emails;	/* uidvalidity << 32 | uid, ascending */
	unsigned n_emails;
	struct jmap_snapshot *next;
};

struct jmap_snapshot_list {
	struct jmap_snapshot *first;
	unsigned count;
	json_t *loaded;		/* users whose saved states were read back */
};

struct jmap_snapshot_list **jmap_snapshot_list_of(struct jmap *j);

const struct jmap_method jmap_methods[] = {
	{ "Core/echo", JMAP_CAP_CORE, jmap_core_echo },
	{ "Mailbox/get", JMAP_CAP_MAIL, jmap_mailbox_get },
	{ "Mailbox/changes", JMAP_CAP_MAIL, jmap_mailbox_changes },
	{ "Mailbox/set", JMAP_CAP_MAIL, jmap_mailbox_set },
	{ "Mailbox/query", JMAP_CAP_MAIL, jmap_mailbox_query },
	{ "Mailbox/queryChanges", JMAP_CAP_MAIL, jmap_mailbox_query_changes },
	{ "Email/get", JMAP_CAP_MAIL, jmap_email_get },
	{ "Email/query", JMAP_CAP_MAIL, jmap_email_query },
	{ "Email/queryChanges", JMAP_CAP_MAIL, jmap_email_query_changes },
	{ "Email/set", JMAP_CAP_MAIL, jmap_email_set },
	{ "Email/changes", JMAP_CAP_MAIL, jmap_email_changes },
	{ "Email/import", JMAP_CAP_MAIL, jmap_email_import },
	{ "Email/parse", JMAP_CAP_MAIL, jmap_email_parse },
	{ "Thread/get", JMAP_CAP_MAIL, jmap_thread_get },
	{ "Thread/changes", JMAP_CAP_MAIL, jmap_thread_changes },
	{ "SearchSnippet/get", JMAP_CAP_MAIL, jmap_snippet_get },
	{ "Identity/get", JMAP_CAP_SUBMISSION, jmap_identity_get },
	{ "Identity/set", JMAP_CAP_SUBMISSION, jmap_identity_set },
	{ "Identity/changes", JMAP_CAP_SUBMISSION, jmap_identity_changes },
	{ "EmailSubmission/get", JMAP_CAP_SUBMISSION, jmap_submission_get },
	{ "EmailSubmission/set", JMAP_CAP_SUBMISSION, jmap_submission_set },
	{ "EmailSubmission/query", JMAP_CAP_SUBMISSION, jmap_submission_query },
	{ "EmailSubmission/changes", JMAP_CAP_SUBMISSION, jmap_submission_changes },
	{ "VacationResponse/get", JMAP_CAP_VACATION, jmap_vacation_get },
	{ "VacationResponse/set", JMAP_CAP_VACATION, jmap_vacation_set },
	{ NULL, NULL, NULL },
};

/* ---- the account ---- */

void jmap_account_id(const char *user, char out[20])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)user, strlen(user), md);
	out[0] = 'a';
	hex_encode(md, 8, out + 1);
}

int jmap_account_open(struct jmap *j, struct services *srv, const char *user,
		      struct jmap_account *a)
{
	struct store_error err;
	struct account acct;

	memset(a, 0, sizeof(*a));
	a->j = j;
	a->srv = srv;
	str_copy(a->user, user, sizeof(a->user));
	jmap_account_id(user, a->id);
	if (store_account_open(srv->store, user, &a->store, &err) < 0 ||
	    store_account_default_folders(a->store, &err) < 0) {
		log_err("jmap: %s: %s", user, err.text);
		store_account_unref(&a->store);
		return -1;
	}
	if (accounts_user_get(srv->accounts, user, &acct) > 0) {
		store_account_set_quota(a->store, acct.quota);
		store_account_set_mbox(a->store, delivery_uses_mbox(&srv->cfg,
								    acct.mailbox_format));
	}
	return 1;
}

void jmap_account_unload(struct jmap_account *a)
{
	for (unsigned i = 0; i < a->n_folders; i++) {
		if (a->folders[i].h != NULL)
			store_mailbox_close(&a->folders[i].h);
		free(a->folders[i].name);
	}
	free(a->folders);
	a->folders = NULL;
	a->n_folders = 0;
	a->loaded = false;
}

void jmap_account_close(struct jmap_account *a)
{
	jmap_account_unload(a);
	jmap_threads_flush(a);
	jmap_threads_free(&a->threads);
	if (a->store != NULL)
		store_account_unref(&a->store);
}

static void add_folder(void *ctx, const struct store_folder_info *f)
{
	struct jmap_account *a = ctx;
	struct jmap_folder *nf;

	if (f->attrs & (STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT))
		return;
	nf = xreallocarray(a->folders, a->n_folders + 1, sizeof(*nf));
	a->folders = nf;
	memset(&nf[a->n_folders], 0, sizeof(*nf));
	nf[a->n_folders].name = xstrdup(f->name);
	nf[a->n_folders].attrs = f->attrs;
	a->n_folders++;
}

int jmap_account_load(struct jmap_account *a)
{
	struct store_error err;
	unsigned keep = 0;

	if (a->loaded)
		return 1;
	if (store_folder_list(a->store, add_folder, a, &err) < 0) {
		log_err("jmap: %s: %s", a->user, err.text);
		return -1;
	}
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		if (store_mailbox_open(a->store, f->name, a->listener, a->listener_ctx, &f->h,
				       &err) < 0) {
			/* gone meanwhile: leave it out */
			free(f->name);
			continue;
		}
		store_mailbox_status(f->h, &f->st);
		snprintf(f->id, sizeof(f->id), "f%08x", f->st.uidvalidity);
		a->folders[keep++] = *f;
	}
	a->n_folders = keep;
	a->loaded = true;
	return 1;
}

struct same_folders {
	struct jmap_account *a;
	unsigned i;
	bool same;
};

static void check_folder(void *ctx, const struct store_folder_info *f)
{
	struct same_folders *c = ctx;

	if (f->attrs & (STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT))
		return;
	if (c->i >= c->a->n_folders || strcmp(c->a->folders[c->i].name, f->name) != 0 ||
	    c->a->folders[c->i].attrs != f->attrs)
		c->same = false;
	c->i++;
}

void jmap_account_refresh(struct jmap_account *a)
{
	struct same_folders c = { a, 0, true };
	struct store_error err;

	if (!a->loaded)
		return;
	if (store_folder_list(a->store, check_folder, &c, &err) < 0 || !c.same ||
	    c.i != a->n_folders) {
		jmap_account_unload(a);
		return;
	}
	for (unsigned i = 0; i < a->n_folders; i++) {
		if (store_mailbox_sync(a->folders[i].h, &err) < 0) {
			jmap_account_unload(a);
			return;
		}
		store_mailbox_status(a->folders[i].h, &a->folders[i].st);
	}
}

struct jmap_folder *jmap_folder_by_id(struct jmap_account *a, const char *id)
{
	for (unsigned i = 0; i < a->n_folders; i++)
		if (strcmp(a->folders[i].id, id) == 0)
			return &a->folders[i];
	return NULL;
}

int jmap_call_account(struct jmap_call *call, struct jmap_account **a_r)
{
	struct jmap_account *a = call->ctx;
	const char *id = json_string_value(json_object_get(call->args, "accountId"));

	if (a == NULL || id == NULL || strcmp(id, a->id) != 0)
		return jmap_call_error(call, "accountNotFound", NULL);
	if (jmap_account_load(a) < 0)
		return jmap_call_error(call, "serverFail", "mail store unavailable");
	*a_r = a;
	return 1;
}

/* ---- state and snapshots ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t jmap_name_hash(const char *name)
{
	return fnv(0xcbf29ce484222325ull, name, strlen(name));
}

static void snapshot_free(struct jmap_snapshot *s)
{
	free(s->folders);
	free(s->modseqs);
	free(s->name_hashes);
	free(s->emails);
	free(s);
}

void jmap_snapshots_free(struct jmap *j)
{
	struct jmap_snapshot_list *l = *jmap_snapshot_list_of(j);

	if (l == NULL)
		return;
	while (l->first != NULL) {
		struct jmap_snapshot *s = l->first;
		l->first = s->next;
		snapshot_free(s);
	}
	json_decref(l->loaded);
	free(l);
	*jmap_snapshot_list_of(j) = NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static struct jmap_snapshot *snapshot_take(struct jmap_account *a, const char *state)
{
	struct jmap_snapshot *s = xcalloc(1, sizeof(*s));
	unsigned n = 0;

	str_copy(s->user, a->user, sizeof(s->user));
	str_copy(s->state, state, sizeof(s->state));
	s->n_folders = a->n_folders;
	s->folders = xcalloc(a->n_folders + 1, sizeof(*s->folders));
	s->modseqs = xcalloc(a->n_folders + 1, sizeof(*s->modseqs));
	s->name_hashes = xcalloc(a->n_folders + 1, sizeof(*s->name_hashes));
	for (unsigned i = 0; i < a->n_folders; i++)
		n += store_mailbox_count(a->folders[i].h);
	s->emails = xcalloc(n + 1, sizeof(*s->emails));
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		unsigned c = store_mailbox_count(f->h);
		s->folders[i] = f->st.uidvalidity;
		s->modseqs[i] = f->st.highestmodseq;
		s->name_hashes[i] = jmap_name_hash(store_mailbox_name(f->h));
		for (unsigned k = 0; k < c; k++) {
			struct store_msg m;
			store_mailbox_get(f->h, k, &m);
			s->emails[s->n_emails++] = (uint64_t)f->st.uidvalidity << 32 | m.uid;
		}
	}
	qsort(s->emails, s->n_emails, sizeof(*s->emails), cmp_u64);
	return s;
}

static struct jmap_snapshot *snapshot_lookup(struct jmap_snapshot_list *l, const char *user,
					     const char *state)
{
	for (struct jmap_snapshot *s = l != NULL ? l->first : NULL; s != NULL; s = s->next)
		if (strcmp(s->state, state) == 0 && strcmp(s->user, user) == 0)
			return s;
	return NULL;
}

/* ---- saved states ---- */

static json_t *snapshot_json(const struct jmap_snapshot *s)
{
	json_t *folders = json_array(), *v;
	char *hex = xmalloc((size_t)s->n_emails * 16 + 1), h[3][20];

	for (unsigned i = 0; i < s->n_folders; i++) {
		snprintf(h[0], sizeof(h[0]), "%08x", s->folders[i]);
		snprintf(h[1], sizeof(h[1]), "%016llx", (unsigned long long)s->modseqs[i]);
		snprintf(h[2], sizeof(h[2]), "%016llx", (unsigned long long)s->name_hashes[i]);
		json_array_append_new(folders, json_pack("[s,s,s]", h[0], h[1], h[2]));
	}
	for (unsigned i = 0; i < s->n_emails; i++)
		snprintf(hex + 16 * (size_t)i, 17, "%016llx", (unsigned long long)s->emails[i]);
	hex[16 * (size_t)s->n_emails] = '\0';
	v = json_pack("{s:s,s:o,s:s%}", "state", s->state, "folders", folders, "emails", hex,
		      (size_t)s->n_emails * 16);
	free(hex);
	return v;
}

static struct jmap_snapshot *snapshot_from_json(const char *user, json_t *v)
{
	const char *state = json_string_value(json_object_get(v, "state"));
	const char *emails = json_string_value(json_object_get(v, "emails"));
	json_t *folders = json_object_get(v, "folders"), *f;
	struct jmap_snapshot *s;
	size_t len = emails != NULL ? strlen(emails) : 1, i;
	uint64_t x;

	if (state == NULL || strlen(state) >= sizeof(s->state) || !json_is_array(folders) ||
	    len % 16 != 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	str_copy(s->user, user, sizeof(s->user));
	str_copy(s->state, state, sizeof(s->state));
	s->folders = xcalloc(json_array_size(folders) + 1, sizeof(*s->folders));
	s->modseqs = xcalloc(json_array_size(folders) + 1, sizeof(*s->modseqs));
	s->name_hashes = xcalloc(json_array_size(folders) + 1, sizeof(*s->name_hashes));
	s->emails = xcalloc(len / 16 + 1, sizeof(*s->emails));
	json_array_foreach(folders, i, f) {
		const char *uv = json_string_value(json_array_get(f, 0));
		const char *ms = json_string_value(json_array_get(f, 1));
		const char *nh = json_string_value(json_array_get(f, 2));
		if (uv == NULL || ms == NULL || nh == NULL ||
		    hex_decode_u64(uv, strlen(uv), &x) < 0 || x > UINT32_MAX ||
		    hex_decode_u64(ms, strlen(ms), &s->modseqs[i]) < 0 ||
		    hex_decode_u64(nh, strlen(nh), &s->name_hashes[i]) < 0) {
			snapshot_free(s);
			return NULL;
		}
		s->folders[i] = (uint32_t)x;
		s->n_folders++;
	}
	for (i = 0; i < len / 16; i++) {
		if (hex_decode_u64(emails + 16 * i, 16, &s->emails[i]) < 0 ||
		    (i > 0 && s->emails[i] <= s->emails[i - 1])) {
			snapshot_free(s);
			return NULL;
		}
		s->n_emails++;
	}
	return s;
}

/* Write the newest SAVED_SNAPSHOTS of each account to its states file. */
void jmap_snapshots_save(struct jmap *j, const char *data_dir)
{
	struct jmap_snapshot_list *l = *jmap_snapshot_list_of(j);
	json_t *done = json_object();

	for (struct jmap_snapshot *s = l != NULL ? l->first : NULL; s != NULL; s = s->next) {
		json_t *list;
		char id[20], path[1200];
		unsigned n = 0;
		if (json_object_get(done, s->user) != NULL)
			continue;
		json_object_set_new(done, s->user, json_true());
		list = json_array();
		/* newest first: the list keeps the newest at its head */
		for (struct jmap_snapshot *t = s; t != NULL && n < SAVED_SNAPSHOTS; t = t->next)
			if (strcmp(t->user, s->user) == 0) {
				json_array_append_new(list, snapshot_json(t));
				n++;
			}
		jmap_account_id(s->user, id);
		if (jmap_file_path(data_dir, id, STATES_FILE, path, sizeof(path)) < 0 ||
		    jmap_file_replace(path, list) < 0)
			log_warn("jmap: %s: cannot save the JMAP states", s->user);
		json_decref(list);
	}
	json_decref(done);
}

/* Read user's saved states back (once per process), as its oldest. */
static void snapshots_load(struct jmap *j, const char *user)
{
	struct jmap_snapshot_list *l = *jmap_snapshot_list_of(j);
	struct jmap_snapshot **tail;
	char id[20], path[1200];
	json_t *list = NULL, *v;
	struct buf b;
	size_t i;

	if (l == NULL || json_object_get(l->loaded, user) != NULL)
		return;
	json_object_set_new(l->loaded, user, json_true());
	jmap_account_id(user, id);
	buf_init(&b, 0);
	if (jmap_file_path(jmap_data_dir(j), id, STATES_FILE, path, sizeof(path)) > 0 &&
	    jmap_file_read(path, &b) > 0)
		list = json_loadb(b.data, b.len, 0, NULL);
	buf_deinit(&b);
	for (tail = &l->first; *tail != NULL; tail = &(*tail)->next)
		;
	json_array_foreach(list, i, v) {
		struct jmap_snapshot *s = snapshot_from_json(user, v);
		if (s == NULL || snapshot_lookup(l, user, s->state) != NULL) {
			if (s != NULL)
				snapshot_free(s);
			continue;
		}
		*tail = s;
		tail = &s->next;
	}
	json_decref(list);
}

struct jmap_snapshot *jmap_snapshot_find(struct jmap *j, const char *user,
					 const char *state)
{
	struct jmap_snapshot_list *l = *jmap_snapshot_list_of(j);
	struct jmap_snapshot *s = snapshot_lookup(l, user, state);

	if (s == NULL && l != NULL && json_object_get(l->loaded, user) == NULL) {
		snapshots_load(j, user);
		s = snapshot_lookup(l, user, state);
	}
	return s;
}

static void snapshot_remember(struct jmap_account *a, const char *state)
{
	struct jmap_snapshot_list **lp = jmap_snapshot_list_of(a->j), *l;
	struct jmap_snapshot *s, **p;
	unsigned n = 0, mine_n = 0;

	if (*lp == NULL)
		*lp = xcalloc(1, sizeof(**lp));
	l = *lp;
	if (l->loaded == NULL)
		l->loaded = json_object();
	if (snapshot_lookup(l, a->user, state) != NULL)
		return;
	s = snapshot_take(a, state);
	s->next = l->first;
	l->first = s;
	/* keep the newest USER_SNAPSHOTS of each account, MAX_SNAPSHOTS in
	   all: one busy account does not push the others' states out */
	for (p = &l->first; *p != NULL;) {
		struct jmap_snapshot *old = *p;
		bool mine = strcmp(old->user, a->user) == 0;
		if ((mine && ++mine_n > USER_SNAPSHOTS) || n >= MAX_SNAPSHOTS) {
			*p = old->next;
			snapshot_free(old);
			continue;
		}
		n++;
		p = &old->next;
	}
}

int jmap_changes_begin(struct jmap_call *call, struct jmap_account *a,
		       const char *since, struct jmap_changes *ch)
{
	jmap_account_state(a, ch->state);
	ch->snap = jmap_snapshot_find(a->j, a->user, since);
	if (ch->snap == NULL)
		return jmap_call_error(call, "cannotCalculateChanges", NULL);
	for (unsigned i = 0; i < a->n_folders; i++) {
		uint64_t modseq, name_hash;
		if (jmap_snapshot_folder(ch->snap, a->folders[i].st.uidvalidity, &modseq,
					 &name_hash) && a->folders[i].st.highestmodseq < modseq)
			return jmap_call_error(call, "cannotCalculateChanges",
					       "the mailbox index went back");
	}
	ch->created = json_array();
	ch->updated = json_array();
	ch->destroyed = json_array();
	return 1;
}

int jmap_get_result(struct jmap_call *call, struct jmap_account *a, json_t *list,
		    json_t *notfound)
{
	char state[24];

	jmap_account_state(a, state);
	call->result = json_pack("{s:s,s:s,s:o,s:o}", "accountId", a->id, "state", state,
				 "list", list, "notFound", notfound);
	return 1;
}

void jmap_account_state(struct jmap_account *a, char out[24])
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (jmap_account_load(a) < 0) {
		str_copy(out, "s0", 24);
		return;
	}
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		const char *name = store_mailbox_name(f->h);
		store_mailbox_status(f->h, &f->st);
		h = fnv(h, &f->st.uidvalidity, sizeof(f->st.uidvalidity));
		h = fnv(h, &f->st.highestmodseq, sizeof(f->st.highestmodseq));
		h = fnv(h, &f->st.messages, sizeof(f->st.messages));
		h = fnv(h, name, strlen(name) + 1);
	}
	snprintf(out, 24, "s%016llx", (unsigned long long)h);
	snapshot_remember(a, out);
}

bool jmap_snapshot_folder(const struct jmap_snapshot *s, uint32_t uidvalidity,
			  uint64_t *modseq_r, uint64_t *name_hash_r)
{
	for (unsigned i = 0; i < s->n_folders; i++)
		if (s->folders[i] == uidvalidity) {
			*modseq_r = s->modseqs[i];
			*name_hash_r = s->name_hashes[i];
			return true;
		}
	return false;
}

bool jmap_snapshot_has(const struct jmap_snapshot *s, uint64_t email)
{
	return bsearch(&email, s->emails, s->n_emails, sizeof(email), cmp_u64) != NULL;
}

unsigned jmap_snapshot_folder_count(const struct jmap_snapshot *s)
{
	return s->n_folders;
}

uint32_t jmap_snapshot_folder_at(const struct jmap_snapshot *s, unsigned i)
{
	return s->folders[i];
}

unsigned jmap_snapshot_email_count(const struct jmap_snapshot *s)
{
	return s->n_emails;
}

uint64_t jmap_snapshot_email_at(const struct jmap_snapshot *s, unsigned i)
{
	return s->emails[i];
}

/* ---- the Session ---- */

static json_t *core_capability(const struct jmap_limits *l)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:[]}",
			 "maxSizeUpload", (json_int_t)l->max_size_upload,
			 "maxConcurrentUpload", (json_int_t)l->max_concurrent_upload,
			 "maxSizeRequest", (json_int_t)l->max_size_request,
			 "maxConcurrentRequests", (json_int_t)l->max_concurrent_requests,
			 "maxCallsInRequest", (json_int_t)l->max_calls,
			 "maxObjectsInGet", (json_int_t)l->max_objects_get,
			 "maxObjectsInSet", (json_int_t)l->max_objects_set,
			 "collationAlgorithms");
}

json_t *jmap_session_object(struct jmap_account *a, const char *base)
{
	const struct jmap_limits *l = jmap_limits_of(a->j);
	char url[4][400], state[24];
	json_t *acct;

	snprintf(url[0], sizeof(url[0]), "%s/jmap/api", base);
	snprintf(url[1], sizeof(url[1]), "%s/jmap/download/{accountId}/{blobId}/{name}?accept={type}",
		 base);
	snprintf(url[2], sizeof(url[2]), "%s/jmap/upload/{accountId}/", base);
	snprintf(url[3], sizeof(url[3]),
		 "%s/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}", base);
	/* the session changes only with the account list: one account */
	snprintf(state, sizeof(state), "s%016llx", (unsigned long long)jmap_name_hash(a->user));
	acct = json_pack("{s:s,s:b,s:b,s:{s:{s:i,s:n,s:i,s:I,s:[s],s:b},s:{},s:{s:i,s:{}},s:{}}}",
			 "name", a->user, "isPersonal", 1, "isReadOnly", 0,
			 "accountCapabilities", JMAP_CAP_MAIL,
			 "maxMailboxesPerEmail", 1, "maxMailboxDepth",
			 "maxSizeMailboxName", 255,
			 "maxSizeAttachmentsPerEmail", (json_int_t)l->max_size_upload,
			 "emailQuerySortOptions", "receivedAt",
			 "mayCreateTopLevelMailbox", 1, JMAP_CAP_CORE,
			 JMAP_CAP_SUBMISSION, "maxDelayedSend", 0, "submissionExtensions",
			 JMAP_CAP_VACATION);
	return json_pack("{s:{s:o,s:{},s:{},s:{}},s:{s:o},s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:s,"
			 "s:s,s:s}",
			 "capabilities", JMAP_CAP_CORE, core_capability(l), JMAP_CAP_MAIL,
			 JMAP_CAP_SUBMISSION, JMAP_CAP_VACATION,
			 "accounts", a->id, acct,
			 "primaryAccounts", JMAP_CAP_CORE, a->id, JMAP_CAP_MAIL, a->id,
			 JMAP_CAP_SUBMISSION, a->id, JMAP_CAP_VACATION, a->id,
			 "username", a->user, "apiUrl", url[0], "downloadUrl", url[1],
			 "uploadUrl", url[2], "eventSourceUrl", url[3], "state", state);
}
