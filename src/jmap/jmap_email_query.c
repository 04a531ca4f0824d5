/*
 * jmap_email_query.c - Email/query (RFC 8621 §4.4): the filter
 * conditions and operators over every message of the account (text
 * conditions decode the message with src/mime, at most 1 MiB of text per
 * message), sort by receivedAt or size, collapseThreads (the first email
 * of each thread in the sorted results stands for it), position or
 * anchor, limit.
 */
#include "jmap_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mime/mime.h"

#define QUERY_LIMIT 5000		/* ids in one Email/query answer, at most */

struct candidate {
	struct jmap_folder *f;
	struct store_msg m;
	struct mime_message *msg;	/* parsed on demand */
	struct buf text;
	bool loaded;
	bool kept;		/* by collapseThreads */
};

static const struct mime_message *cand_msg(struct jmap_account *a, struct candidate *c)
{
	if (!c->loaded) {
		c->loaded = true;
		buf_init(&c->text, JMAP_MAX_MESSAGE);
		if (c->m.size <= JMAP_MAX_MESSAGE &&
		    jmap_email_read(a, c->f->st.uidvalidity, c->m.uid, &c->text) > 0)
			c->msg = mime_message_parse(c->text.data != NULL ? c->text.data : "",
						    c->text.len, NULL);
	}
	return c->msg;
}

static void cand_release(struct candidate *c)
{
	if (c->loaded) {
		mime_message_free(&c->msg);
		buf_deinit(&c->text);
		c->loaded = false;
	}
}

struct text_search {
	const char *needle;
	unsigned what;		/* MIME_WALK_* */
	const char *field;	/* only this header field, or NULL */
	bool found;
};

static int text_cb(void *ctx, const struct mime_text *t)
{
	struct text_search *s = ctx;

	if (t->kind == MIME_TEXT_HEADER && s->field != NULL &&
	    (t->name_len != strlen(s->field) || strncasecmp(t->name, s->field, t->name_len) != 0))
		return 1;
	if (strcasestr(t->text, s->needle) != NULL) {
		s->found = true;
		return 0;
	}
	return 1;
}

static bool text_match(struct jmap_account *a, struct candidate *c, const char *needle,
		       unsigned what, const char *field)
{
	const struct mime_message *msg = cand_msg(a, c);
	struct text_search s = { needle, what, field, false };

	if (msg == NULL)
		return false;
	mime_text_walk(msg, what, 1024 * 1024, text_cb, &s);
	return s.found;
}

static bool has_keyword(struct candidate *c, const char *kw)
{
	uint8_t flag = jmap_keyword_flag(kw);
	unsigned idx;

	if (flag != 0)
		return (c->m.flags & flag) != 0;
	return store_mailbox_keyword(c->f->h, kw, false, &idx, NULL) > 0 && idx < 32 &&
		(c->m.keywords & (1u << idx)) != 0;
}

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

/* 1 match, 0 no, -1 unsupported filter (unknown property or bad value). */
static int filter_match(struct jmap_account *a, struct candidate *c, json_t *flt,
			unsigned depth);

static int operator_match(struct jmap_account *a, struct candidate *c, const char *op,
			  json_t *conds, unsigned depth)
{
	json_t *v;
	size_t i;
	int any = 0, all = 1, r;

	if (!json_is_array(conds))
		return -1;
	json_array_foreach(conds, i, v) {
		if ((r = filter_match(a, c, v, depth + 1)) < 0)
			return -1;
		any |= r;
		all &= r;
	}
	if (strcmp(op, "AND") == 0)
		return all;
	if (strcmp(op, "OR") == 0)
		return any;
	if (strcmp(op, "NOT") == 0)
		return !any;
	return -1;
}

static int condition_match(struct jmap_account *a, struct candidate *c, const char *key,
			   json_t *v)
{
	static const struct { const char *key, *field; unsigned what; } texts[] = {
		{ "text", NULL, MIME_WALK_HEADERS | MIME_WALK_BODIES },
		{ "from", "From", MIME_WALK_HEADERS }, { "to", "To", MIME_WALK_HEADERS },
		{ "cc", "Cc", MIME_WALK_HEADERS }, { "bcc", "Bcc", MIME_WALK_HEADERS },
		{ "subject", "Subject", MIME_WALK_HEADERS }, { "body", NULL, MIME_WALK_BODIES },
	};
	const char *s = json_string_value(v);
	time_t t;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strcmp(key, texts[i].key) == 0)
			return s == NULL ? -1 : text_match(a, c, s, texts[i].what, texts[i].field);
	if (strcmp(key, "inMailbox") == 0)
		return s == NULL ? -1 : strcmp(c->f->id, s) == 0;
	if (strcmp(key, "before") == 0 || strcmp(key, "after") == 0) {
		if (parse_utc(s, &t) < 0)
			return -1;
		return key[0] == 'b' ? c->m.internal_date < t : c->m.internal_date >= t;
	}
	if (strcmp(key, "minSize") == 0 || strcmp(key, "maxSize") == 0) {
		if (!json_is_integer(v))
			return -1;
		return key[1] == 'i' ? c->m.vsize >= (uint64_t)json_integer_value(v) :
			c->m.vsize < (uint64_t)json_integer_value(v);
	}
	if (strcmp(key, "hasKeyword") == 0 || strcmp(key, "notKeyword") == 0) {
		if (s == NULL)
			return -1;
		return has_keyword(c, s) == (key[0] == 'h');
	}
	if (strcmp(key, "inMailboxOtherThan") == 0) {
		json_t *id;
		size_t i;
		if (!json_is_array(v))
			return -1;
		json_array_foreach(v, i, id)
			if (json_is_string(id) && strcmp(json_string_value(id), c->f->id) == 0)
				return 0;
		return 1;
	}
	return -1;
}

static int filter_match(struct jmap_account *a, struct candidate *c, json_t *flt,
			unsigned depth)
{
	const char *key;
	json_t *v, *op = json_object_get(flt, "operator");
	int r;

	if (!json_is_object(flt) || depth > 10)
		return -1;
	if (op != NULL)
		return json_is_string(op) ? operator_match(a, c, json_string_value(op),
				json_object_get(flt, "conditions"), depth) : -1;
	json_object_foreach(flt, key, v)
		if ((r = condition_match(a, c, key, v)) <= 0)
			return r;
	return 1;
}

static int cmp_received_desc(const void *x, const void *y)
{
	const struct candidate *a = x, *b = y;

	if (a->m.internal_date != b->m.internal_date)
		return a->m.internal_date > b->m.internal_date ? -1 : 1;
	if (a->f->st.uidvalidity != b->f->st.uidvalidity)
		return a->f->st.uidvalidity > b->f->st.uidvalidity ? -1 : 1;
	return a->m.uid > b->m.uid ? -1 : a->m.uid < b->m.uid;
}

static int cmp_size_desc(const void *x, const void *y)
{
	const struct candidate *a = x, *b = y;

	if (a->m.vsize != b->m.vsize)
		return a->m.vsize > b->m.vsize ? -1 : 1;
	return cmp_received_desc(x, y);
}

/* sort: [{property: receivedAt|size, isAscending?}] at most one; the
   comparator and whether to reverse.  -1 unsupported. */
static int sort_order(json_t *sort, int (**cmp_r)(const void *, const void *), bool *asc_r)
{
	json_t *c;
	const char *prop;

	*cmp_r = cmp_received_desc;
	*asc_r = false;
	if (sort == NULL || json_is_null(sort) || (json_is_array(sort) && json_array_size(sort) == 0))
		return 1;
	if (!json_is_array(sort) || json_array_size(sort) > 1)
		return -1;
	c = json_array_get(sort, 0);
	prop = json_string_value(json_object_get(c, "property"));
	if (prop == NULL)
		return -1;
	if (strcmp(prop, "size") == 0)
		*cmp_r = cmp_size_desc;
	else if (strcmp(prop, "receivedAt") != 0)
		return -1;
	*asc_r = json_is_true(json_object_get(c, "isAscending"));
	return 1;
}

/* The index of the email with id in the sorted results, or -1. */
static json_int_t anchor_index(const struct candidate *cands, unsigned n, bool asc,
			       const char *anchor)
{
	char id[20];

	for (unsigned i = 0; i < n; i++) {
		const struct candidate *c = &cands[asc ? n - 1 - i : i];
		jmap_email_id(c->f->st.uidvalidity, c->m.uid, id);
		if (strcmp(id, anchor) == 0)
			return (json_int_t)i;
	}
	return -1;
}

/* position/anchor and limit (RFC 8620 §5.5); 1, or -1 (anchorNotFound). */
static int query_result(struct jmap_call *call, struct jmap_account *a,
			struct candidate *cands, unsigned n, bool asc)
{
	json_t *pos = json_object_get(call->args, "position");
	json_t *lim = json_object_get(call->args, "limit");
	json_t *offset = json_object_get(call->args, "anchorOffset");
	const char *anchor = json_string_value(json_object_get(call->args, "anchor"));
	json_int_t position = json_is_integer(pos) ? json_integer_value(pos) : 0;
	json_int_t limit = json_is_integer(lim) ? json_integer_value(lim) : QUERY_LIMIT;
	json_t *ids;
	char id[20], state[24];

	if (limit > QUERY_LIMIT)
		limit = QUERY_LIMIT;
	if (anchor != NULL) {
		if ((position = anchor_index(cands, n, asc, anchor)) < 0)
			return jmap_call_error(call, "anchorNotFound", NULL);
		position += json_is_integer(offset) ? json_integer_value(offset) : 0;
		if (position < 0)
			position = 0;
	}
	if (position < 0)
		position = position + (json_int_t)n < 0 ? 0 : position + (json_int_t)n;
	if (position > (json_int_t)n)
		position = (json_int_t)n;
	ids = json_array();
	for (json_int_t i = position; i < (json_int_t)n && i - position < limit; i++) {
		const struct candidate *c = &cands[asc ? n - 1 - (unsigned)i : (unsigned)i];
		jmap_email_id(c->f->st.uidvalidity, c->m.uid, id);
		json_array_append_new(ids, json_string(id));
	}
	jmap_account_state(a, state);
	call->result = json_pack("{s:s,s:s,s:b,s:I,s:o}", "accountId", a->id,
				 "queryState", state, "canCalculateChanges",
				 !json_is_true(json_object_get(call->args, "collapseThreads")),
				 "position", position, "ids", ids);
	if (json_is_true(json_object_get(call->args, "calculateTotal")))
		json_object_set_new(call->result, "total", json_integer((json_int_t)n));
	if (json_is_integer(lim) || (json_int_t)n - position > limit)
		json_object_set_new(call->result, "limit", json_integer(limit));
	return 1;
}

/* Keep the first email of each thread in the order the client sees
   (cands read backwards when asc), in place: the new count. */
static unsigned collapse_threads(struct jmap_account *a, struct candidate *cands,
				 unsigned n, bool asc)
{
	json_t *seen = json_object();
	unsigned kept = 0;
	char tid[20];

	for (unsigned i = 0; i < n; i++) {
		unsigned k = asc ? n - 1 - i : i;
		jmap_thread_of(a, cands[k].f, cands[k].m.uid, tid);
		if (json_object_get(seen, tid) != NULL)
			continue;
		json_object_set_new(seen, tid, json_true());
		cands[k].kept = true;
	}
	json_decref(seen);
	for (unsigned i = 0; i < n; i++)
		if (cands[i].kept)
			cands[kept++] = cands[i];
	return kept;
}

/* Every email of a that matches the call's filter, sorted as its sort
   asks (cmp's order, read backwards when *asc_r): 1 with *cands_r (the
   caller frees) and *n_r, or -1 with the error set. */
static int run_query(struct jmap_call *call, struct jmap_account *a,
		     struct candidate **cands_r, unsigned *n_r, bool *asc_r)
{
	json_t *filter = json_object_get(call->args, "filter");
	int (*cmp)(const void *, const void *);
	struct candidate *cands;
	unsigned n = 0, total = 0;

	if (sort_order(json_object_get(call->args, "sort"), &cmp, asc_r) < 0)
		return jmap_call_error(call, "unsupportedSort", NULL);
	for (unsigned i = 0; i < a->n_folders; i++)
		total += store_mailbox_count(a->folders[i].h);
	cands = xcalloc(total + 1, sizeof(*cands));
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct candidate *c = &cands[n];
			int r = 1;
			c->f = f;
			store_mailbox_get(f->h, k, &c->m);
			if (filter != NULL && !json_is_null(filter))
				r = filter_match(a, c, filter, 0);
			cand_release(c);
			if (r < 0) {
				free(cands);
				return jmap_call_error(call, "unsupportedFilter", NULL);
			}
			n += r > 0;
		}
	}
	qsort(cands, n, sizeof(*cands), cmp);
	if (json_is_true(json_object_get(call->args, "collapseThreads")))
		n = collapse_threads(a, cands, n, *asc_r);
	*cands_r = cands;
	*n_r = n;
	return 1;
}

static bool bool_or_null(json_t *v)
{
	return v == NULL || json_is_null(v) || json_is_boolean(v);
}

int jmap_email_query(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *pos = json_object_get(call->args, "position");
	json_t *lim = json_object_get(call->args, "limit");
	struct candidate *cands;
	unsigned n;
	bool asc;
	int ret;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((pos != NULL && !json_is_null(pos) && !json_is_integer(pos)) ||
	    (lim != NULL && !json_is_null(lim) &&
	     (!json_is_integer(lim) || json_integer_value(lim) < 0)) ||
	    (json_object_get(call->args, "anchor") != NULL &&
	     !json_is_null(json_object_get(call->args, "anchor")) &&
	     !json_is_string(json_object_get(call->args, "anchor"))) ||
	    !bool_or_null(json_object_get(call->args, "collapseThreads")))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (run_query(call, a, &cands, &n, &asc) < 0)
		return -1;
	ret = query_result(call, a, cands, n, asc);
	free(cands);
	return ret;
}

/*
 * Email/queryChanges (RFC 8620 §5.6).  The query state is the account
 * state, whose snapshot says which emails existed then and each folder's
 * modseq.  Results are sorted by receivedAt or size, which never change,
 * and whether an email matches changes only with the email (its modseq),
 * so an email that did not change kept its place relative to the others:
 * every email created, updated or destroyed since is "removed", and those
 * of them in the results now are "added" at their index.  That is the
 * RFC's allowed over-approximation, exact for the client.  With
 * collapseThreads an email that did not change can come or go as its
 * thread's others do: cannotCalculateChanges (Email/query says
 * canCalculateChanges false then).
 */
int jmap_email_query_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceQueryState"));
	const char *up_to = json_string_value(json_object_get(call->args, "upToId"));
	json_t *maxc = json_object_get(call->args, "maxChanges");
	json_t *removed, *added;
	struct jmap_changes ch;
	struct candidate *cands;
	unsigned n;
	bool asc;
	char id[20];

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL || (maxc != NULL && !json_is_null(maxc) &&
			      (!json_is_integer(maxc) || json_integer_value(maxc) <= 0)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_is_true(json_object_get(call->args, "collapseThreads")))
		return jmap_call_error(call, "cannotCalculateChanges",
				       "the results collapse threads");
	if (run_query(call, a, &cands, &n, &asc) < 0)
		return -1;
	if (jmap_changes_begin(call, a, since, &ch) < 0) {
		free(cands);
		return -1;
	}
	removed = ch.destroyed;
	added = json_array();
	json_decref(ch.created);
	json_decref(ch.updated);
	for (unsigned i = 0; i < jmap_snapshot_email_count(ch.snap); i++) {
		uint64_t e = jmap_snapshot_email_at(ch.snap, i);
		struct jmap_folder *f = jmap_folder_by_uv(a, (uint32_t)(e >> 32));
		struct store_msg m;
		if (f == NULL || store_mailbox_lookup(f->h, (uint32_t)e, &m) <= 0) {
			jmap_email_id((uint32_t)(e >> 32), (uint32_t)e, id);
			json_array_append_new(removed, json_string(id));
		}
	}
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		uint64_t old_modseq = 0, name_hash;
		bool known = jmap_snapshot_folder(ch.snap, f->st.uidvalidity, &old_modseq,
						  &name_hash);
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct store_msg m;
			store_mailbox_get(f->h, k, &m);
			if (known && jmap_snapshot_has(ch.snap, (uint64_t)f->st.uidvalidity << 32 |
						       m.uid) && m.modseq <= old_modseq)
				continue;
			jmap_email_id(f->st.uidvalidity, m.uid, id);
			json_array_append_new(removed, json_string(id));
		}
	}
	for (unsigned i = 0; i < n; i++) {
		const struct candidate *c = &cands[asc ? n - 1 - i : i];
		json_t *v;
		size_t k;
		jmap_email_id(c->f->st.uidvalidity, c->m.uid, id);
		json_array_foreach(removed, k, v)
			if (strcmp(json_string_value(v), id) == 0) {
				json_array_append_new(added, json_pack("{s:s,s:i}", "id", id,
								       "index", (int)i));
				break;
			}
		if (up_to != NULL && strcmp(up_to, id) == 0)
			break;
	}
	free(cands);
	if (json_is_integer(maxc) && json_array_size(removed) + json_array_size(added) >
	    (size_t)json_integer_value(maxc)) {
		json_decref(removed);
		json_decref(added);
		return jmap_call_error(call, "tooManyChanges", NULL);
	}
	call->result = json_pack("{s:s,s:s,s:s,s:o,s:o}", "accountId", a->id,
				 "oldQueryState", since, "newQueryState", ch.state,
				 "removed", removed, "added", added);
	if (json_is_true(json_object_get(call->args, "calculateTotal")))
		json_object_set_new(call->result, "total", json_integer((json_int_t)n));
	return 1;
}
