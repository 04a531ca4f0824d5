/*
 * client_mailbox.c - the folders and messages the commands work on, from
 * the IMAP server when online, from the offline cache otherwise.  A
 * message is known by its number N: its position in the folder in UID
 * order, which is the IMAP sequence number on the server and the same
 * position in the cache after a sync.  Offline changes (flags, deletions,
 * moves) are made in the cache at once and written to the journal, which
 * the next sync replays on the server; mail sent offline waits in the
 * outbox.
 */
#include "client/client_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/imap_date.h"
#include "lib-imap/imap_quote.h"
#include "lib/util.h"
#include "mime/mime.h"

#define MESSAGE_MAX (256u << 20)

int client_session_cache(struct client_session *s)
{
	if (s->cache != NULL)
		return 1;
	return client_cache_open(s->acct, &s->cache);
}

int client_session_open(struct client_session *s, struct client_account *a,
			bool offline)
{
	memset(s, 0, sizeof(*s));
	s->acct = a;
	if (offline || a->proto == CLIENT_PROTO_POP3) {
		s->offline = true;
		if (!client_cache_exists(a))
			return client_fail(CLIENT_ERR_OTHER, "no offline cache for account "
					   "%s yet (run `correio mail sync`)", a->name);
		return client_session_cache(s);
	}
	if (client_imap_open(a, &s->imap) > 0)
		return 1;
	if (client_error_kind() != CLIENT_ERR_NET || !client_cache_exists(a))
		return -1;
	fprintf(stderr, "correio: %s; working offline from the cache\n", client_error());
	s->offline = true;
	return client_session_cache(s);
}

void client_session_close(struct client_session *s)
{
	client_imap_close(&s->imap);
	if (s->cache != NULL)
		client_cache_close(&s->cache);
}

static int select_folder(struct client_session *s, const char *folder, bool rw)
{
	if (strcmp(s->selected, folder) == 0 && (s->selected_rw || !rw))
		return 1;
	s->selected[0] = '\0';
	if (client_imap_select(s->imap, folder, !rw) <= 0)
		return -1;
	str_copy(s->selected, folder, sizeof(s->selected));
	s->selected_rw = rw;
	return 1;
}

/* ---- folders ------------------------------------------------------------ */

int client_mb_folders(struct client_session *s, char ***r, size_t *n_r)
{
	struct client_folder *f;
	size_t n;

	if (s->offline)
		return client_cache_folders(s->cache, r, n_r);
	if (client_imap_folders(s->imap, &f, &n) < 0)
		return -1;
	*r = xcalloc(n + 1, sizeof(**r));
	*n_r = 0;
	for (size_t i = 0; i < n; i++)
		if (!f[i].noselect)
			(*r)[(*n_r)++] = xstrdup(f[i].name);
	free(f);
	return 1;
}

/* ---- summaries ------------------------------------------------------------ */

struct fetch_ctx {
	struct client_summary *v;
	size_t n, cap;
	struct buf *data;		/* BODY[] of a single fetch */
	uint32_t uid;
	unsigned flags;
	bool got;
};

static int summary_fn(void *ctx, const struct imap_resp *r)
{
	struct fetch_ctx *fc = ctx;
	const struct imap_arg *list, *v;
	size_t count;
	const char *s;
	size_t len;

	if (strcmp(r->name, "FETCH") != 0 || !r->has_number || r->arg_count < 1 ||
	    !imap_arg_get_list(&r->args[0], &list, &count))
		return 1;
	if (fc->n == fc->cap) {
		fc->cap = fc->cap ? fc->cap * 2 : 64;
		fc->v = xrealloc(fc->v, fc->cap * sizeof(*fc->v));
	}
	struct client_summary *m = &fc->v[fc->n++];
	memset(m, 0, sizeof(*m));
	m->n = r->number;
	if ((v = imap_resp_fetch_item(list, count, "UID", false)) != NULL)
		imap_arg_get_number(v, &m->uid);
	m->flags = client_imap_flags(imap_resp_fetch_item(list, count, "FLAGS", false));
	if ((v = imap_resp_fetch_item(list, count, "RFC822.SIZE", false)) != NULL) {
		uint64_t size;
		if (imap_arg_get_number64(v, &size))
			m->size = size;
	}
	if ((v = imap_resp_fetch_item(list, count, "BODY[HEADER", true)) != NULL &&
	    imap_arg_get_string(v, &s, &len))
		client_summary_header(m, s, len);
	/* no (valid) Date: the arrival */
	if (m->date == 0 && (v = imap_resp_fetch_item(list, count, "INTERNALDATE", false)) != NULL &&
	    imap_arg_get_astring(v, &s)) {
		int tz;
		if (imap_date_time_parse(s, &m->date, &tz) < 0)
			m->date = 0;
	}
	return 1;
}

static int summary_cmp(const void *a, const void *b)
{
	const struct client_summary *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

static int online_fetch_summaries(struct client_session *s, const char *set,
				  struct client_summary **r, size_t *n_r)
{
	struct fetch_ctx fc = { 0 };
	int ret = client_imap_cmd(s->imap, summary_fn, &fc, "FETCH %s (UID FLAGS "
				  "RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE FROM "
				  "SUBJECT)])",
				  set);
	if (ret <= 0) {
		free(fc.v);
		return -1;
	}
	if (fc.n > 1)
		qsort(fc.v, fc.n, sizeof(*fc.v), summary_cmp);
	*r = fc.v;
	*n_r = fc.n;
	return 1;
}

struct search_ctx {
	uint32_t *v;
	size_t n;
};

static int search_fn(void *ctx, const struct imap_resp *r)
{
	struct search_ctx *sc = ctx;
	const char *p = r->rest;
	uint32_t v;

	if (strcmp(r->name, "SEARCH") != 0)
		return 1;
	while (imap_resp_search_next(&p, &v)) {
		sc->v = xrealloc(sc->v, (sc->n + 1) * sizeof(*sc->v));
		sc->v[sc->n++] = v;
	}
	return 1;
}

/* FETCH summaries of the numbers in v[0..n), the last limit ones. */
static int online_numbers(struct client_session *s, uint32_t *v, size_t n,
			  size_t limit, struct client_summary **r, size_t *n_r)
{
	struct buf set;
	int ret;
	size_t first = limit > 0 && n > limit ? n - limit : 0;

	*r = NULL;
	*n_r = 0;
	if (n == first)
		return 1;
	buf_init(&set, 0);
	for (size_t i = first; i < n; i++)
		buf_printf(&set, i > first ? ",%u" : "%u", v[i]);
	ret = online_fetch_summaries(s, buf_cstr(&set), r, n_r);
	buf_deinit(&set);
	return ret;
}

static int offline_summaries(struct client_session *s, const char *folder,
			     const struct client_query *q, size_t limit,
			     struct client_summary **r, size_t *n_r);

int client_mb_list(struct client_session *s, const char *folder, bool unseen,
		   size_t limit, struct client_summary **r, size_t *n_r)
{
	char set[64];
	uint32_t exists;

	if (s->offline) {
		struct client_query q = { .unseen = unseen };
		return offline_summaries(s, folder, &q, limit, r, n_r);
	}
	if (select_folder(s, folder, false) < 0)
		return -1;
	exists = client_imap_exists(s->imap);
	*r = NULL;
	*n_r = 0;
	if (unseen) {
		struct search_ctx sc = { 0 };
		if (client_imap_cmd(s->imap, search_fn, &sc, "SEARCH UNSEEN") <= 0)
			return -1;
		int ret = online_numbers(s, sc.v, sc.n, limit, r, n_r);
		free(sc.v);
		return ret;
	}
	if (exists == 0)
		return 1;
	snprintf(set, sizeof(set), "%u:%u",
		 limit > 0 && exists > limit ? exists - (uint32_t)limit + 1 : 1, exists);
	return online_fetch_summaries(s, set, r, n_r);
}

/* ---- search --------------------------------------------------------------- */

/* key and value; non-ASCII text goes as a LITERAL+ literal (sent in the
   same write as the command), else as a UTF-8 quoted string, which
   IMAP4rev2 servers accept. */
static void search_key(struct client_session *s, struct buf *cmd, const char *key,
		       const char *value)
{
	size_t len = strlen(value);
	bool ascii = true;

	for (size_t i = 0; i < len; i++)
		ascii = ascii && (unsigned char)value[i] < 0x80;
	buf_printf(cmd, " %s ", key);
	if (!ascii && client_imap_has_cap(s->imap, "LITERAL+") &&
	    memchr(value, '\0', len) == NULL) {
		buf_printf(cmd, "{%zu+}\r\n", len);
		buf_append(cmd, value, len);
		return;
	}
	imap_quote_string(cmd, value, len, true);
}

int client_mb_search(struct client_session *s, const char *folder,
		     const struct client_query *q, struct client_summary **r,
		     size_t *n_r)
{
	struct search_ctx sc = { 0 };
	struct buf cmd;
	int ret;

	if (s->offline)
		return offline_summaries(s, folder, q, 0, r, n_r);
	if (select_folder(s, folder, false) < 0)
		return -1;
	buf_init(&cmd, 0);
	buf_puts(&cmd, "SEARCH CHARSET UTF-8");
	if (q->from)
		search_key(s, &cmd, "FROM", q->from);
	if (q->to)
		search_key(s, &cmd, "TO", q->to);
	if (q->subject)
		search_key(s, &cmd, "SUBJECT", q->subject);
	if (q->body)
		search_key(s, &cmd, "BODY", q->body);
	for (size_t i = 0; i < q->ntext; i++)
		search_key(s, &cmd, "TEXT", q->text[i]);
	if (q->unseen)
		buf_puts(&cmd, " UNSEEN");
	if (q->flagged)
		buf_puts(&cmd, " FLAGGED");
	if (!q->from && !q->to && !q->subject && !q->body && q->ntext == 0 &&
	    !q->unseen && !q->flagged)
		buf_puts(&cmd, " ALL");
	ret = client_imap_cmd(s->imap, search_fn, &sc, "%s", buf_cstr(&cmd));
	buf_deinit(&cmd);
	if (ret <= 0) {
		free(sc.v);
		return client_fail(CLIENT_ERR_OTHER, "search failed: %s", client_error());
	}
	ret = online_numbers(s, sc.v, sc.n, 0, r, n_r);
	free(sc.v);
	return ret;
}

/* ---- offline ---------------------------------------------------------------- */

struct match_ctx {
	const char *needle;
	const char *field;	/* header name, or NULL for bodies too */
	bool headers_only;
	bool found;
};

static int match_fn(void *ctx, const struct mime_text *t)
{
	struct match_ctx *m = ctx;

	if (m->field != NULL && (t->kind != MIME_TEXT_HEADER ||
				 strlen(m->field) != t->name_len ||
				 strncasecmp(t->name, m->field, t->name_len) != 0))
		return 1;
	if (strcasestr(t->text, m->needle) != NULL) {
		m->found = true;
		return 0;
	}
	return 1;
}

static bool matches(const struct mime_message *msg, const char *needle,
		    const char *field, unsigned what)
{
	struct match_ctx m = { .needle = needle, .field = field };

	mime_text_walk(msg, what, 1 << 20, match_fn, &m);
	return m.found;
}

static bool offline_match(const struct client_query *q, const struct buf *data,
			  unsigned flags)
{
	struct mime_message *msg;
	bool ok = true;

	if ((q->unseen && (flags & CLIENT_F_SEEN)) || (q->flagged && !(flags & CLIENT_F_FLAGGED)))
		return false;
	if (!q->from && !q->to && !q->subject && !q->body && q->ntext == 0)
		return true;
	msg = mime_message_parse(data->data, data->len, NULL);
	if (q->from && !matches(msg, q->from, "From", MIME_WALK_HEADERS))
		ok = false;
	if (ok && q->to && !matches(msg, q->to, "To", MIME_WALK_HEADERS))
		ok = false;
	if (ok && q->subject && !matches(msg, q->subject, "Subject", MIME_WALK_HEADERS))
		ok = false;
	if (ok && q->body && !matches(msg, q->body, NULL, MIME_WALK_BODIES))
		ok = false;
	for (size_t i = 0; ok && i < q->ntext; i++)
		if (!matches(msg, q->text[i], NULL, MIME_WALK_HEADERS | MIME_WALK_BODIES))
			ok = false;
	mime_message_free(&msg);
	return ok;
}

static size_t header_len(const char *d, size_t n)
{
	const char *end = memmem(d, n, "\n\n", 2);
	const char *end2 = memmem(d, n, "\r\n\r\n", 4);

	if (end2 != NULL && (end == NULL || end2 < end))
		return (size_t)(end2 - d) + 4;
	return end != NULL ? (size_t)(end - d) + 2 : n;
}

static int offline_summaries(struct client_session *s, const char *folder,
			     const struct client_query *q, size_t limit,
			     struct client_summary **r, size_t *n_r)
{
	struct client_cache_msg *m;
	size_t n, first;
	struct buf data;

	*r = NULL;
	*n_r = 0;
	if (client_cache_list(s->cache, folder, &m, &n) < 0)
		return -1;
	*r = xcalloc(n + 1, sizeof(**r));
	buf_init(&data, 0);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&data);
		if (client_read_file(m[i].file, MESSAGE_MAX, &data) <= 0)
			continue;
		if (!offline_match(q, &data, m[i].flags))
			continue;
		struct client_summary *sm = &(*r)[(*n_r)++];
		sm->n = (uint32_t)i + 1;
		sm->uid = m[i].uid;
		sm->flags = m[i].flags;
		sm->size = mime_crlf_size(data.data, data.len);
		client_summary_header(sm, data.data, header_len(data.data, data.len));
		if (sm->date == 0)
			sm->date = m[i].arrived;
	}
	buf_deinit(&data);
	free(m);
	first = limit > 0 && *n_r > limit ? *n_r - limit : 0;
	if (first > 0) {
		memmove(*r, *r + first, (*n_r - first) * sizeof(**r));
		*n_r -= first;
	}
	return 1;
}

/* The cache entry of message n, into *m.  1, 0 none, -1. */
static int offline_msg(struct client_session *s, const char *folder, uint32_t n,
		       struct client_cache_msg *r)
{
	struct client_cache_msg *m;
	size_t count;

	if (client_cache_list(s->cache, folder, &m, &count) < 0)
		return -1;
	if (n == 0 || n > count) {
		free(m);
		return 0;
	}
	*r = m[n - 1];
	free(m);
	return 1;
}

static int journal(struct client_session *s, enum client_op op, const char *folder,
		   uint32_t uid, unsigned add, unsigned del, const char *dest)
{
	struct client_pending p = { .op = op, .uid = uid, .add = add, .del = del };
	uint64_t modseq;

	str_copy(p.folder, folder, sizeof(p.folder));
	if (dest != NULL)
		str_copy(p.dest, dest, sizeof(p.dest));
	client_cache_state(s->cache, folder, &p.uidvalidity, &modseq);
	return client_cache_journal_add(s->cache, &p);
}

/* ---- one message ------------------------------------------------------------- */

static int body_fn(void *ctx, const struct imap_resp *r)
{
	struct fetch_ctx *fc = ctx;
	const struct imap_arg *list, *v;
	size_t count, len;
	const char *s;

	if (strcmp(r->name, "FETCH") != 0 || r->arg_count < 1 ||
	    !imap_arg_get_list(&r->args[0], &list, &count))
		return 1;
	if ((v = imap_resp_fetch_item(list, count, "UID", false)) != NULL)
		imap_arg_get_number(v, &fc->uid);
	if ((v = imap_resp_fetch_item(list, count, "FLAGS", false)) != NULL)
		fc->flags = client_imap_flags(v);
	if (fc->data != NULL && (v = imap_resp_fetch_item(list, count, "BODY[]", false)) != NULL &&
	    imap_arg_get_string(v, &s, &len)) {
		buf_reset(fc->data);
		/* stored form: LF line ends, as the cache and mime expect */
		for (size_t i = 0; i < len; i++)
			if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
				buf_putc(fc->data, s[i]);
		fc->got = true;
	}
	return 1;
}

static int online_uid(struct client_session *s, const char *folder, uint32_t n,
		      bool rw, uint32_t *uid_r)
{
	struct fetch_ctx fc = { 0 };

	if (select_folder(s, folder, rw) < 0)
		return -1;
	if (n == 0 || n > client_imap_exists(s->imap))
		return client_fail(CLIENT_ERR_OTHER, "no message %u in %s (it has %u)", n,
				   folder, client_imap_exists(s->imap));
	if (client_imap_cmd(s->imap, body_fn, &fc, "FETCH %u (UID FLAGS)", n) <= 0)
		return -1;
	*uid_r = fc.uid;
	return fc.uid != 0 ? 1 : client_fail(CLIENT_ERR_OTHER, "no message %u", n);
}

int client_mb_fetch(struct client_session *s, const char *folder, uint32_t n,
		    bool mark_seen, struct buf *data, uint32_t *uid_r,
		    unsigned *flags_r)
{
	struct fetch_ctx fc = { .data = data };

	if (s->offline) {
		struct client_cache_msg m;
		int ret = offline_msg(s, folder, n, &m);
		if (ret == 0)
			return client_fail(CLIENT_ERR_OTHER, "no message %u in %s", n, folder);
		if (ret < 0 || client_read_file(m.file, MESSAGE_MAX, data) <= 0)
			return -1;
		*uid_r = m.uid;
		*flags_r = m.flags;
		if (mark_seen && !(m.flags & CLIENT_F_SEEN)) {
			client_cache_set_flags(s->cache, folder, &m, m.flags | CLIENT_F_SEEN);
			journal(s, CLIENT_OP_FLAGS, folder, m.uid, CLIENT_F_SEEN, 0, NULL);
		}
		return 1;
	}
	if (select_folder(s, folder, mark_seen) < 0)
		return -1;
	if (n == 0 || n > client_imap_exists(s->imap))
		return client_fail(CLIENT_ERR_OTHER, "no message %u in %s (it has %u)", n,
				   folder, client_imap_exists(s->imap));
	if (client_imap_cmd(s->imap, body_fn, &fc, "FETCH %u (UID FLAGS BODY.PEEK[])", n) <= 0)
		return -1;
	if (!fc.got)
		return client_fail(CLIENT_ERR_OTHER, "the server sent no message %u", n);
	*uid_r = fc.uid;
	*flags_r = fc.flags;
	if (mark_seen && !(fc.flags & CLIENT_F_SEEN) &&
	    client_imap_cmd(s->imap, NULL, NULL, "UID STORE %u +FLAGS.SILENT (\\Seen)",
			    fc.uid) <= 0)
		return -1;
	return 1;
}

int client_mb_view(struct client_session *s, const char *folder, uint32_t n,
		   bool mark_seen, struct buf *data, struct client_view *v,
		   unsigned *flags_r)
{
	uint32_t uid;
	int ret;

	buf_init(data, 0);
	ret = client_mb_fetch(s, folder, n, mark_seen, data, &uid, flags_r);
	if (ret < 0) {
		buf_deinit(data);
		return -1;
	}
	client_view_init(v, data->data != NULL ? data->data : "", data->len);
	return ret;
}

void client_mb_view_close(struct client_view *v, struct buf *data)
{
	client_view_deinit(v);
	buf_deinit(data);
}

int client_mb_flags(struct client_session *s, const char *folder, uint32_t n,
		    unsigned add, unsigned del)
{
	struct buf f;
	uint32_t uid;
	int ret = 1;

	if (s->offline) {
		struct client_cache_msg m;
		ret = offline_msg(s, folder, n, &m);
		if (ret <= 0)
			return ret < 0 ? -1 : client_fail(CLIENT_ERR_OTHER, "no message %u", n);
		if (client_cache_set_flags(s->cache, folder, &m, (m.flags | add) & ~del) < 0)
			return -1;
		return journal(s, CLIENT_OP_FLAGS, folder, m.uid, add, del, NULL);
	}
	if (online_uid(s, folder, n, true, &uid) < 0)
		return -1;
	buf_init(&f, 0);
	if (add) {
		client_imap_flags_str(add, &f);
		ret = client_imap_cmd(s->imap, NULL, NULL, "UID STORE %u +FLAGS.SILENT (%s)",
				      uid, buf_cstr(&f));
	}
	if (ret > 0 && del) {
		buf_reset(&f);
		client_imap_flags_str(del, &f);
		ret = client_imap_cmd(s->imap, NULL, NULL, "UID STORE %u -FLAGS.SILENT (%s)",
				      uid, buf_cstr(&f));
	}
	buf_deinit(&f);
	return ret > 0 ? 1 : -1;
}

/* Remove UID uid (already \Deleted) from the selected folder. */
static int expunge_uid(struct client_session *s, uint32_t uid)
{
	if (client_imap_has_cap(s->imap, "UIDPLUS"))
		return client_imap_cmd(s->imap, NULL, NULL, "UID EXPUNGE %u", uid);
	return client_imap_cmd(s->imap, NULL, NULL, "EXPUNGE");
}

int client_mb_delete(struct client_session *s, const char *folder, uint32_t n)
{
	uint32_t uid;

	if (s->offline) {
		struct client_cache_msg m;
		int ret = offline_msg(s, folder, n, &m);
		if (ret <= 0)
			return ret < 0 ? -1 : client_fail(CLIENT_ERR_OTHER, "no message %u", n);
		if (client_cache_remove(s->cache, &m) < 0)
			return -1;
		return journal(s, CLIENT_OP_DELETE, folder, m.uid, 0, 0, NULL);
	}
	if (online_uid(s, folder, n, true, &uid) < 0)
		return -1;
	if (client_imap_cmd(s->imap, NULL, NULL, "UID STORE %u +FLAGS.SILENT (\\Deleted)",
			    uid) <= 0 || expunge_uid(s, uid) <= 0)
		return -1;
	return 1;
}

int client_mb_move(struct client_session *s, const char *folder, uint32_t n,
		   const char *dest)
{
	struct buf cmd;
	uint32_t uid;
	int ret;

	if (s->offline) {
		struct client_cache_msg m;
		ret = offline_msg(s, folder, n, &m);
		if (ret <= 0)
			return ret < 0 ? -1 : client_fail(CLIENT_ERR_OTHER, "no message %u", n);
		if (client_cache_remove(s->cache, &m) < 0)
			return -1;
		return journal(s, CLIENT_OP_MOVE, folder, m.uid, 0, 0, dest);
	}
	if (online_uid(s, folder, n, true, &uid) < 0)
		return -1;
	buf_init(&cmd, 0);
	bool move = client_imap_has_cap(s->imap, "MOVE");
	buf_printf(&cmd, "UID %s %u ", move ? "MOVE" : "COPY", uid);
	client_imap_folder_arg(s->imap, &cmd, dest);
	ret = client_imap_cmd(s->imap, NULL, NULL, "%s", buf_cstr(&cmd));
	buf_deinit(&cmd);
	if (ret <= 0)
		return -1;
	if (!move && (client_imap_cmd(s->imap, NULL, NULL, "UID STORE %u +FLAGS.SILENT "
				      "(\\Deleted)", uid) <= 0 || expunge_uid(s, uid) <= 0))
		return -1;
	return 1;
}

/* ---- sending ------------------------------------------------------------------ */

static int sent_copy(struct client_session *s, const char *msg, size_t len)
{
	char folder[512];

	if (s->imap == NULL && s->acct->proto == CLIENT_PROTO_IMAP &&
	    client_imap_open(s->acct, &s->imap) < 0)
		return -1;
	if (s->imap == NULL) {
		/* POP3 accounts keep their sent mail in the cache */
		if (client_session_cache(s) < 0)
			return -1;
		return client_cache_store(s->cache, "Sent", client_cache_next_uid(s->cache, "Sent"),
					  CLIENT_F_SEEN, 0, msg, len);
	}
	if (client_imap_sent_folder(s->imap, s->acct, folder, sizeof(folder)) < 0)
		return -1;
	if (client_imap_append(s->imap, folder, CLIENT_F_SEEN, msg, len) <= 0)
		return -1;
	return 1;
}

int client_mb_send(struct client_session *s, const struct client_draft *d,
		   bool *queued_r)
{
	char **rcpts, **from;
	size_t n, nfrom;
	struct buf msg;
	int ret;

	*queued_r = false;
	if (client_draft_recipients(d, &rcpts, &n) < 0)
		return -1;
	client_addresses(d->from, &from, &nfrom);
	buf_init(&msg, 0);
	client_draft_build(d, false, &msg);
	const char *sender = nfrom > 0 ? from[0] : d->from;
	if (s->offline && s->acct->proto == CLIENT_PROTO_IMAP) {
		ret = client_session_cache(s);
		if (ret > 0)
			ret = client_cache_outbox_add(s->cache, sender, rcpts, n, msg.data, msg.len);
		*queued_r = ret > 0;
		goto done;
	}
	ret = client_smtp_send(s->acct, sender, rcpts, n, msg.data, msg.len);
	if (ret < 0 && client_error_kind() == CLIENT_ERR_NET &&
	    client_session_cache(s) > 0) {
		fprintf(stderr, "correio: %s\n", client_error());
		ret = client_cache_outbox_add(s->cache, sender, rcpts, n, msg.data, msg.len);
		*queued_r = ret > 0;
		goto done;
	}
	if (ret > 0 && sent_copy(s, msg.data, msg.len) < 0)
		ret = client_fail(client_error_kind(), "sent, but no copy was kept in Sent: %s",
				  client_error());
done:
	buf_deinit(&msg);
	client_strv_free(rcpts, n);
	client_strv_free(from, nfrom);
	return ret;
}
