/*
 * jmap_thread.c - threads as conversations (RFC 8621 §3): Thread/get,
 * Thread/changes and the threadId of every email.
 *
 * A message joins the thread of any message it names: its own Message-ID
 * (a copy filed in another mailbox, or a parent that a reply already
 * named), its In-Reply-To, then its References from the nearest back.
 * With none of them known, it starts a thread, "t" + its email id's
 * digits.  The subject is not looked at: an unrelated message of the same
 * subject starts its own thread.  Two threads are never merged, so a
 * thread id, once given, stays.
 *
 * The map is kept per account in <data_dir>/jmap/<accountId>/threads, one
 * line per email seen: {"e": email id, "t": thread id, "i": [the
 * Message-IDs the email names]}; each Message-ID belongs to the first
 * thread that named it.  The file is only appended to, and read by every
 * connection of the account from where it last stopped before an email
 * is given a thread, so all agree.  The lines a request wrote are fsynced
 * once, before its answer goes out (jmap_threads_flush), so an id handed
 * out survives a crash.  An email gets its thread the
 * first time JMAP shows it (its header read once, at most HEADER_MAX
 * bytes); Thread/get, Thread/changes and Email/query with collapseThreads
 * first give one to every email of the account that has none yet.
 */
#include "jmap_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mime/mime.h"

#define THREADS_FILE "threads"
#define HEADER_MAX (64u * 1024)		/* header bytes read per message */
#define MSGID_MAX 998			/* one Message-ID, RFC 5322 line */
#define NAMED_MAX 64			/* Message-IDs kept per email */

struct jmap_threads {
	json_t *emails;		/* email id -> thread id */
	json_t *msgids;		/* Message-ID -> thread id */
	off_t read_to;		/* bytes of the file taken in */
	char path[1200];
	bool no_file;		/* the path could not be made */
	bool unsynced;		/* lines written since the last fsync */
	bool torn;		/* the file ends in a line cut short (a crash) */
};

void jmap_threads_free(struct jmap_threads **t)
{
	if (*t == NULL)
		return;
	json_decref((*t)->emails);
	json_decref((*t)->msgids);
	free(*t);
	*t = NULL;
}

/* One line of the file (or a new assignment) into the maps: the first
   word on an email or a Message-ID wins. */
static void take_record(struct jmap_threads *t, json_t *rec)
{
	const char *e = json_string_value(json_object_get(rec, "e"));
	json_t *tid = json_object_get(rec, "t"), *v;
	size_t i;

	if (e == NULL || !json_is_string(tid))
		return;
	if (json_object_get(t->emails, e) == NULL)
		json_object_set(t->emails, e, tid);
	json_array_foreach(json_object_get(rec, "i"), i, v)
		if (json_is_string(v) && json_object_get(t->msgids, json_string_value(v)) == NULL)
			json_object_set(t->msgids, json_string_value(v), tid);
}

/* Take in what was appended to the file since the last look (by this
   connection or another). */
static void catch_up(struct jmap_account *a)
{
	struct jmap_threads *t = a->threads;
	char chunk[65536];
	struct buf pending;
	ssize_t n;
	int fd;

	if (t->no_file)
		return;
	if (jmap_file_open(t->path, (uint64_t)t->read_to, &fd) <= 0) {
		if (fd < 0 && errno != ENOENT)
			log_warn("jmap: %s: %s", t->path, strerror(errno));
		return;
	}
	buf_init(&pending, 4u * 1024 * 1024);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		size_t start = 0;
		if (buf_append(&pending, chunk, (size_t)n) < 0)
			break;
		for (size_t i = 0; i < pending.len; i++) {
			json_t *rec;
			if (pending.data[i] != '\n')
				continue;
			rec = json_loadb(pending.data + start, i - start, 0, NULL);
			if (rec != NULL)
				take_record(t, rec);
			json_decref(rec);
			t->read_to += (off_t)(i + 1 - start);
			t->torn = false;	/* another connection ended it */
			start = i + 1;
		}
		buf_consume(&pending, start);
	}
	/* nobody else writes the file (one process, one event loop): what
	   is left is a line a crash cut short; step over it, and the next
	   line written starts on a line of its own */
	if (n == 0 && pending.len > 0) {
		t->read_to += (off_t)pending.len;
		t->torn = true;
	}
	buf_deinit(&pending);
	close(fd);
}

static int threads_open(struct jmap_account *a)
{
	struct jmap_threads *t;

	if (a->threads != NULL)
		return 1;
	t = xcalloc(1, sizeof(*t));
	t->emails = json_object();
	t->msgids = json_object();
	if (jmap_file_path(jmap_data_dir(a->j), a->id, THREADS_FILE, t->path,
			   sizeof(t->path)) < 0) {
		log_warn("jmap: %s: no place for the thread map", a->user);
		t->no_file = true;
	}
	a->threads = t;
	catch_up(a);
	return 1;
}

/* Add the first most <...> ids of value to names (at most NAMED_MAX in
   all; one not UTF-8 is left out). */
static void add_msgids(json_t *names, const char *value, size_t most)
{
	const char *p = value, *lt, *gt;
	size_t added = 0;

	while (added < most && (lt = strchr(p, '<')) != NULL && (gt = strchr(lt, '>')) != NULL) {
		size_t len = (size_t)(gt - lt - 1);
		json_t *s;
		if (len > 0 && len <= MSGID_MAX && json_array_size(names) < NAMED_MAX &&
		    (s = json_stringn(lt + 1, len)) != NULL) {
			json_array_append_new(names, s);
			added++;
		}
		p = gt + 1;
	}
}

/* The Message-IDs the message (uid of f) names, in the order they count:
   its own, In-Reply-To, References nearest first.  1, 0 gone, -1. */
static int named_ids(struct jmap_folder *f, uint32_t uid, json_t *names)
{
	struct store_error err;
	struct store_msg m;
	struct mime_header_iter it;
	struct mime_field fld;
	struct buf head, own, irt, refs;
	json_t *ref_list;
	char chunk[8192];
	ssize_t n;
	int fd, ret;

	ret = store_mailbox_open_msg(f->h, uid, &fd, &m, &err);
	if (ret <= 0)
		return ret;
	buf_init(&head, HEADER_MAX);
	while (head.len < HEADER_MAX && (n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&head, chunk, head.len + (size_t)n > HEADER_MAX ?
			       HEADER_MAX - head.len : (size_t)n) < 0)
			break;
	close(fd);
	buf_init(&own, 65536);
	buf_init(&irt, 65536);
	buf_init(&refs, 65536);
	mime_header_iter_init(&it, head.data != NULL ? head.data : "", head.len);
	while (mime_header_next(&it, &fld) > 0) {
		struct buf *into = NULL;
		if (fld.name_len == 10 && strncasecmp(fld.name, "Message-ID", 10) == 0)
			into = &own;
		else if (fld.name_len == 11 && strncasecmp(fld.name, "In-Reply-To", 11) == 0)
			into = &irt;
		else if (fld.name_len == 10 && strncasecmp(fld.name, "References", 10) == 0)
			into = &refs;
		if (into != NULL && into->len == 0)
			mime_header_unfold(&fld, into);
	}
	add_msgids(names, buf_cstr(&own), 1);
	add_msgids(names, buf_cstr(&irt), NAMED_MAX);
	ref_list = json_array();
	add_msgids(ref_list, buf_cstr(&refs), NAMED_MAX);
	for (size_t i = json_array_size(ref_list); i > 0; i--)
		if (json_array_size(names) < NAMED_MAX)
			json_array_append(names, json_array_get(ref_list, i - 1));
	json_decref(ref_list);
	buf_deinit(&own);
	buf_deinit(&irt);
	buf_deinit(&refs);
	buf_deinit(&head);
	return 1;
}

/* Append rec as one line, not yet fsynced, at the end of what was read
   (read_to moves past it): 1 or -1. */
static int append_line(struct jmap_threads *t, json_t *rec)
{
	char *text = json_dumps(rec, JSON_COMPACT);
	struct buf line;
	int ret;

	if (text == NULL)
		return -1;
	buf_init(&line, 0);
	if ((t->torn && buf_putc(&line, '\n') < 0) || buf_puts(&line, text) < 0 ||
	    buf_putc(&line, '\n') < 0)
		abort();
	free(text);
	ret = jmap_file_append(t->path, line.data, line.len, false);
	if (ret > 0) {
		t->read_to += (off_t)line.len;
		t->torn = false;
	}
	buf_deinit(&line);
	t->unsynced = true;
	return ret;
}

void jmap_threads_flush(struct jmap_account *a)
{
	struct jmap_threads *t = a->threads;

	if (t == NULL || !t->unsynced)
		return;
	t->unsynced = false;
	if (jmap_file_sync(t->path) < 0)
		log_warn("jmap: %s: %s", t->path, strerror(errno));
}

/* Give email (uid of f, id eid) its thread and write it down. */
static void assign(struct jmap_account *a, struct jmap_folder *f, uint32_t uid,
		   const char *eid, char tid[20])
{
	struct jmap_threads *t = a->threads;
	json_t *names = json_array(), *rec, *v;
	size_t i;

	str_copy(tid, eid, 20);
	tid[0] = 't';
	if (named_ids(f, uid, names) <= 0) {
		json_decref(names);
		return;		/* gone or unreadable: nothing to remember */
	}
	json_array_foreach(names, i, v) {
		const char *known = json_string_value(json_object_get(t->msgids,
								      json_string_value(v)));
		if (known != NULL) {
			str_copy(tid, known, 20);
			break;
		}
	}
	rec = json_pack("{s:s,s:s,s:o}", "e", eid, "t", tid, "i", names);
	take_record(t, rec);
	if (!t->no_file && append_line(t, rec) < 0) {
		log_warn("jmap: %s: %s", t->path, strerror(errno));
		catch_up(a);	/* whatever part of it was written */
	}
	json_decref(rec);
}

/* The thread of email eid as far as this connection knows, or NULL. */
static const char *known_thread(struct jmap_account *a, const char *eid)
{
	return json_string_value(json_object_get(a->threads->emails, eid));
}

void jmap_thread_of(struct jmap_account *a, struct jmap_folder *f, uint32_t uid,
		    char tid[20])
{
	char eid[20];
	const char *known;

	threads_open(a);
	jmap_email_id(f->st.uidvalidity, uid, eid);
	if ((known = known_thread(a, eid)) == NULL) {
		catch_up(a);
		known = known_thread(a, eid);
	}
	if (known != NULL)
		str_copy(tid, known, 20);
	else
		assign(a, f, uid, eid, tid);
}

void jmap_threads_sync(struct jmap_account *a)
{
	char eid[20], tid[20];

	threads_open(a);
	catch_up(a);
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct store_msg m;
			store_mailbox_get(f->h, k, &m);
			jmap_email_id(f->st.uidvalidity, m.uid, eid);
			if (known_thread(a, eid) == NULL)
				assign(a, f, m.uid, eid, tid);
		}
	}
}

/* ---- Thread/get ---- */

struct member {
	const char *tid;
	time_t date;
	uint32_t uv, uid;
};

static int cmp_received_asc(const void *x, const void *y)
{
	const struct member *a = x, *b = y;

	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	if (a->uv != b->uv)
		return a->uv < b->uv ? -1 : 1;
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

/* Every email of the account with its thread, by receivedAt: the caller
   frees *r. */
static unsigned members(struct jmap_account *a, struct member **r)
{
	unsigned total = 0, n = 0;
	struct member *all;
	char eid[20];

	for (unsigned i = 0; i < a->n_folders; i++)
		total += store_mailbox_count(a->folders[i].h);
	all = xcalloc(total + 1, sizeof(*all));
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct store_msg m;
			store_mailbox_get(f->h, k, &m);
			jmap_email_id(f->st.uidvalidity, m.uid, eid);
			if ((all[n].tid = known_thread(a, eid)) == NULL)
				continue;
			all[n].date = m.internal_date;
			all[n].uv = f->st.uidvalidity;
			all[n].uid = m.uid;
			n++;
		}
	}
	qsort(all, n, sizeof(*all), cmp_received_asc);
	*r = all;
	return n;
}

int jmap_thread_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "ids"), *wanted, *list, *notfound, *v;
	struct member *all;
	unsigned n;
	char eid[20];
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (!json_is_array(ids))
		return jmap_call_error(call, json_is_null(ids) || ids == NULL ?
				       "requestTooLarge" : "invalidArguments", NULL);
	if (json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	jmap_threads_sync(a);
	wanted = json_object();
	json_array_foreach(ids, i, v)
		if (json_is_string(v))
			json_object_set_new(wanted, json_string_value(v), json_array());
	n = members(a, &all);
	for (unsigned k = 0; k < n; k++) {
		json_t *emails = json_object_get(wanted, all[k].tid);
		if (emails == NULL)
			continue;
		jmap_email_id(all[k].uv, all[k].uid, eid);
		json_array_append_new(emails, json_string(eid));
	}
	free(all);
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v) {
		json_t *emails = json_object_get(wanted, json_string_value(v));
		if (emails != NULL && json_array_size(emails) > 0)
			json_array_append_new(list, json_pack("{s:O,s:O}", "id", v,
							      "emailIds", emails));
		else
			json_array_append(notfound, v);
	}
	json_decref(wanted);
	return jmap_get_result(call, a, list, notfound);
}

/* ---- Thread/changes ---- */

/*
 * A thread changes when an email joins or leaves it (an email's thread
 * never changes; its keywords and mailboxes are no part of the Thread).
 * The snapshot of sinceState says which emails there were; the map says
 * the thread of each, also of those gone since, unless one was destroyed
 * before JMAP ever gave it a thread: then cannotCalculateChanges.
 */
int jmap_thread_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceState"));
	json_t *maxc = json_object_get(call->args, "maxChanges");
	json_t *before, *now, *touched, *v;
	struct jmap_changes ch;
	const char *tid;
	char eid[20];
	bool unknown = false;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL || (maxc != NULL && !json_is_null(maxc) &&
			      (!json_is_integer(maxc) || json_integer_value(maxc) <= 0)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (jmap_changes_begin(call, a, since, &ch) < 0)
		return -1;
	jmap_threads_sync(a);
	before = json_object();
	now = json_object();
	touched = json_object();
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct store_msg m;
			store_mailbox_get(f->h, k, &m);
			jmap_email_id(f->st.uidvalidity, m.uid, eid);
			if ((tid = known_thread(a, eid)) == NULL)
				continue;
			json_object_set_new(now, tid, json_true());
			if (!jmap_snapshot_has(ch.snap, (uint64_t)f->st.uidvalidity << 32 | m.uid))
				json_object_set_new(touched, tid, json_true());
		}
	}
	for (unsigned i = 0; i < jmap_snapshot_email_count(ch.snap); i++) {
		uint64_t e = jmap_snapshot_email_at(ch.snap, i);
		struct jmap_folder *f = jmap_folder_by_uv(a, (uint32_t)(e >> 32));
		struct store_msg m;
		jmap_email_id((uint32_t)(e >> 32), (uint32_t)e, eid);
		if ((tid = known_thread(a, eid)) == NULL) {
			unknown = true;
			break;
		}
		json_object_set_new(before, tid, json_true());
		if (f == NULL || store_mailbox_lookup(f->h, (uint32_t)e, &m) <= 0)
			json_object_set_new(touched, tid, json_true());
	}
	json_object_foreach(touched, tid, v) {
		bool was = json_object_get(before, tid) != NULL, is = json_object_get(now, tid) != NULL;
		if (was && is)
			json_array_append_new(ch.updated, json_string(tid));
		else if (is)
			json_array_append_new(ch.created, json_string(tid));
		else if (was)
			json_array_append_new(ch.destroyed, json_string(tid));
	}
	json_decref(before);
	json_decref(now);
	json_decref(touched);
	if (unknown || (json_is_integer(maxc) && json_array_size(ch.created) +
			json_array_size(ch.updated) + json_array_size(ch.destroyed) >
			(size_t)json_integer_value(maxc))) {
		json_decref(ch.created);
		json_decref(ch.updated);
		json_decref(ch.destroyed);
		return jmap_call_error(call, "cannotCalculateChanges", unknown ?
				       "an email gone since had no thread yet" :
				       "more changes than maxChanges");
	}
	call->result = json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:o}", "accountId", a->id,
				 "oldState", since, "newState", ch.state, "hasMoreChanges", 0,
				 "created", ch.created, "updated", ch.updated, "destroyed", ch.destroyed);
	return 1;
}
