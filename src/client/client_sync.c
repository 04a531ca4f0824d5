/*
 * client_sync.c - `correio mail sync` for IMAP accounts, in three steps:
 *
 *  1. the outbox: mail composed offline goes out over SMTP and a copy is
 *     appended to Sent;
 *  2. the journal: flag changes, deletions and moves made offline are
 *     replayed by UID; a message that is gone on the server (or a folder
 *     whose UIDVALIDITY changed) is a conflict: reported, skipped;
 *  3. every folder is mirrored into the cache: with CONDSTORE (RFC 7162)
 *     only the flags changed since the last sync's HIGHESTMODSEQ are
 *     fetched, plus the list of UIDs to find expunged messages; without
 *     it, UID and flags of every message.  New messages are downloaded
 *     by UID in batches.  With QRESYNC the SELECT itself brings what
 *     vanished and what changed since then, and no UID list is needed.
 *
 * A progress bar is drawn on stderr when it is a terminal.
 */
#include "client/client_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_date.h"
#include "lib-imap/imap_seqset.h"
#include "lib/util.h"

#define FETCH_BATCH 50

struct sync_state {
	struct client_account *acct;
	struct client_imap *imap;
	struct client_cache *cache;
	bool progress;
	unsigned conflicts;
	unsigned failures;
	bool qresync;		/* ENABLE QRESYNC accepted */
	unsigned qresynced;	/* folders brought up to date with QRESYNC */
	unsigned condstored;	/* ... with CONDSTORE CHANGEDSINCE */
};

static void progress(struct sync_state *st, const char *what, size_t done,
		     size_t total)
{
	char bar[31];
	size_t fill = total ? done * 30 / total : 30;

	if (!st->progress)
		return;
	for (size_t i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3zu%% %-30.30s", bar, total ? done * 100 / total : 100,
		what);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

/* ---- 1. the outbox ------------------------------------------------------ */

static int send_outbox(struct sync_state *st)
{
	char **items, **rcpts, sent[512];
	size_t n, nr;
	struct buf from, msg;

	if (client_cache_outbox(st->cache, &items, &n) < 0)
		return -1;
	buf_init(&from, 0);
	buf_init(&msg, 0);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&from);
		buf_reset(&msg);
		if (client_cache_outbox_read(items[i], &from, &rcpts, &nr, &msg) < 0 ||
		    client_smtp_send(st->acct, buf_cstr(&from), rcpts, nr, msg.data,
				     msg.len) < 0) {
			fprintf(stderr, "correio: outbox: %s (kept for the next sync)\n",
				client_error());
			st->failures++;
		} else {
			client_cache_outbox_done(items[i]);
			printf("outbox: sent to %zu recipient%s\n", nr, nr == 1 ? "" : "s");
			if (client_imap_sent_folder(st->imap, st->acct, sent, sizeof(sent)) < 0 ||
			    client_imap_append(st->imap, sent, CLIENT_F_SEEN, msg.data, msg.len) <= 0) {
				fprintf(stderr, "correio: outbox: sent, but no copy kept in "
					"Sent: %s\n", client_error());
				st->failures++;
			}
		}
		client_strv_free(rcpts, nr);
	}
	buf_deinit(&from);
	buf_deinit(&msg);
	client_strv_free(items, n);
	return 1;
}

/* ---- 2. the journal ------------------------------------------------------ */

struct uid_probe {
	bool found;
};

static int probe_fn(void *ctx, const struct imap_resp *r)
{
	struct uid_probe *p = ctx;

	if (strcmp(r->name, "FETCH") == 0)
		p->found = true;
	return 1;
}

static void conflict(struct sync_state *st, const struct client_pending *p,
		     const char *why)
{
	static const char *const ops[] = { "flag change", "deletion", "move" };

	fprintf(stderr, "correio: sync: conflict: the offline %s of message UID %u "
		"in %s was not applied: %s\n", ops[p->op], p->uid, p->folder, why);
	st->conflicts++;
}

static int store_flags(struct sync_state *st, uint32_t uid, const char *sign,
		       unsigned flags)
{
	struct buf f;
	int ret;

	if (flags == 0)
		return 1;
	buf_init(&f, 0);
	client_imap_flags_str(flags, &f);
	ret = client_imap_cmd(st->imap, NULL, NULL, "UID STORE %u %sFLAGS.SILENT (%s)",
			      uid, sign, buf_cstr(&f));
	buf_deinit(&f);
	return ret;
}

static int expunge_one(struct sync_state *st, uint32_t uid)
{
	int ret = store_flags(st, uid, "+", CLIENT_F_DELETED);

	if (ret <= 0)
		return ret;
	if (client_imap_has_cap(st->imap, "UIDPLUS"))
		return client_imap_cmd(st->imap, NULL, NULL, "UID EXPUNGE %u", uid);
	return client_imap_cmd(st->imap, NULL, NULL, "EXPUNGE");
}

static int move_one(struct sync_state *st, uint32_t uid, const char *dest)
{
	bool move = client_imap_has_cap(st->imap, "MOVE");
	struct buf f;
	int ret;

	buf_init(&f, 0);
	client_imap_folder_arg(st->imap, &f, dest);
	ret = client_imap_cmd(st->imap, NULL, NULL, "UID %s %u %s", move ? "MOVE" : "COPY",
			      uid, buf_cstr(&f));
	buf_deinit(&f);
	if (ret > 0 && !move)
		ret = expunge_one(st, uid);
	return ret;
}

static int replay_one(struct sync_state *st, const struct client_pending *p)
{
	struct uid_probe probe = { false };
	int ret = 1;

	if (client_imap_select(st->imap, p->folder, false) <= 0) {
		conflict(st, p, "the folder is gone");
		return 1;
	}
	if (p->uidvalidity != 0 && client_imap_uidvalidity(st->imap) != p->uidvalidity) {
		conflict(st, p, "the folder was recreated on the server");
		return 1;
	}
	if (client_imap_exists(st->imap) > 0 &&
	    client_imap_cmd(st->imap, probe_fn, &probe, "UID FETCH %u (UID)", p->uid) < 0)
		return -1;
	if (!probe.found) {
		conflict(st, p, "the message is gone from the server");
		return 1;
	}
	switch (p->op) {
	case CLIENT_OP_FLAGS:
		ret = store_flags(st, p->uid, "+", p->add);
		if (ret > 0)
			ret = store_flags(st, p->uid, "-", p->del);
		break;
	case CLIENT_OP_MOVE:
		ret = move_one(st, p->uid, p->dest);
		break;
	case CLIENT_OP_DELETE:
		ret = expunge_one(st, p->uid);
		break;
	}
	if (ret == 0) {
		conflict(st, p, client_error());
		return 1;
	}
	return ret;
}

static int replay_journal(struct sync_state *st)
{
	struct client_pending *p;
	size_t n;

	if (client_cache_journal(st->cache, &p, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		progress(st, "offline changes", i, n);
		if (replay_one(st, &p[i]) < 0) {
			free(p);
			return -1;
		}
	}
	if (n > 0) {
		progress(st, "offline changes", n, n);
		printf("replayed %zu offline change%s (%u conflict%s)\n", n,
		       n == 1 ? "" : "s", st->conflicts, st->conflicts == 1 ? "" : "s");
	}
	free(p);
	return client_cache_journal_clear(st->cache);
}

/* ---- 3. mirroring ------------------------------------------------------------ */

struct uid_flags {
	uint32_t uid;
	unsigned flags;
	bool changed;		/* flags known (fetched) */
	bool cached;		/* already in the cache */
};

struct mirror_ctx {
	struct sync_state *st;
	const char *folder;
	struct uid_flags *v;
	size_t n, cap;
	bool store;		/* FETCH with bodies: store them */
	size_t stored;
};

static struct uid_flags *uf_find(struct mirror_ctx *m, uint32_t uid)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->v[mid].uid == uid)
			return &m->v[mid];
		if (m->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void uf_add(struct mirror_ctx *m, uint32_t uid, unsigned flags, bool changed)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n++] = (struct uid_flags){ uid, flags, changed, false };
}

static int uf_cmp(const void *a, const void *b)
{
	const struct uid_flags *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int flags_fn(void *ctx, const struct imap_resp *r)
{
	struct mirror_ctx *m = ctx;
	const struct imap_arg *list, *v;
	size_t count, len;
	uint32_t uid = 0;
	const char *s;

	if (strcmp(r->name, "FETCH") != 0 || r->arg_count < 1 ||
	    !imap_arg_get_list(&r->args[0], &list, &count))
		return 1;
	if ((v = imap_resp_fetch_item(list, count, "UID", false)) == NULL ||
	    !imap_arg_get_number(v, &uid) || uid == 0)
		return 1;
	unsigned flags = client_imap_flags(imap_resp_fetch_item(list, count, "FLAGS", false));
	if (m->store) {
		if ((v = imap_resp_fetch_item(list, count, "BODY[]", false)) != NULL &&
		    imap_arg_get_string(v, &s, &len)) {
			struct buf lf;
			buf_init(&lf, 0);
			for (size_t i = 0; i < len; i++)
				if (!(s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
					buf_putc(&lf, s[i]);
			time_t arrived = 0;
			int tz;
			if ((v = imap_resp_fetch_item(list, count, "INTERNALDATE", false)) == NULL ||
			    !imap_arg_get_astring(v, &s) ||
			    imap_date_time_parse(s, &arrived, &tz) < 0)
				arrived = 0;
			if (client_cache_store(m->st->cache, m->folder, uid, flags, arrived,
					       lf.data != NULL ? lf.data : "", lf.len) > 0)
				m->stored++;
			buf_deinit(&lf);
		}
		return 1;
	}
	uf_add(m, uid, flags, true);
	return 1;
}

static int uids_fn(void *ctx, const struct imap_resp *r)
{
	struct mirror_ctx *m = ctx;
	const char *p = r->rest;
	uint32_t v;

	if (strcmp(r->name, "SEARCH") != 0)
		return 1;
	while (imap_resp_search_next(&p, &v))
		uf_add(m, v, 0, false);
	return 1;
}

/* The server's UIDs, with flags for those that changed (all of them
   without CONDSTORE). */
static int server_state(struct mirror_ctx *m, uint64_t modseq)
{
	struct client_imap *imap = m->st->imap;

	if (modseq == 0 || client_imap_highestmodseq(imap) == 0)
		return client_imap_cmd(imap, flags_fn, m, "UID FETCH 1:* (UID FLAGS)") > 0 ? 1 : -1;
	/* CONDSTORE: UIDs, then only the flags changed since modseq */
	if (client_imap_cmd(imap, uids_fn, m, "UID SEARCH ALL") <= 0)
		return -1;
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), uf_cmp);
	struct mirror_ctx changed = { .st = m->st, .folder = m->folder };
	if (client_imap_cmd(imap, flags_fn, &changed, "UID FETCH 1:* (UID FLAGS) "
			    "(CHANGEDSINCE %llu)", (unsigned long long)modseq) <= 0) {
		free(changed.v);
		return -1;
	}
	for (size_t i = 0; i < changed.n; i++) {
		struct uid_flags *u = uf_find(m, changed.v[i].uid);
		if (u != NULL)
			*u = changed.v[i];
	}
	free(changed.v);
	return 1;
}

static int download(struct mirror_ctx *m, const uint32_t *uids, size_t n)
{
	struct buf set;

	for (size_t i = 0; i < n; i += FETCH_BATCH) {
		buf_init(&set, 0);
		for (size_t k = i; k < n && k < i + FETCH_BATCH; k++)
			buf_printf(&set, k > i ? ",%u" : "%u", uids[k]);
		m->store = true;
		int ret = client_imap_cmd(m->st->imap, flags_fn, m, "UID FETCH %s (UID FLAGS "
					  "INTERNALDATE BODY.PEEK[])", buf_cstr(&set));
		m->store = false;
		buf_deinit(&set);
		if (ret <= 0)
			return -1;
		progress(m->st, m->folder, i + FETCH_BATCH < n ? i + FETCH_BATCH : n, n);
	}
	return 1;
}

/* Bring the cache of one (selected) folder in line with the server. */
static int mirror(struct mirror_ctx *m, uint64_t modseq)
{
	struct client_cache_msg *c;
	size_t nc, nnew = 0;
	uint32_t *fresh;

	if (client_imap_exists(m->st->imap) > 0 && server_state(m, modseq) < 0)
		return -1;
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), uf_cmp);
	if (client_cache_list(m->st->cache, m->folder, &c, &nc) < 0)
		return -1;
	for (size_t i = 0; i < nc; i++) {
		struct uid_flags *u = uf_find(m, c[i].uid);
		if (u == NULL)
			client_cache_remove(m->st->cache, &c[i]);
		else if (u->changed && u->flags != c[i].flags)
			client_cache_set_flags(m->st->cache, m->folder, &c[i], u->flags);
		if (u != NULL)
			u->cached = true;
	}
	fresh = xcalloc(m->n + 1, sizeof(*fresh));
	for (size_t i = 0; i < m->n; i++) {
		if (!m->v[i].cached)
			fresh[nnew++] = m->v[i].uid;
	}
	free(c);
	int ret = download(m, fresh, nnew);
	free(fresh);
	return ret;
}

/* ---- QRESYNC (RFC 7162 §3.2.5) ----------------------------------------- */

struct qresync_ctx {
	struct mirror_ctx *m;
	struct imap_seq_range *gone;	/* VANISHED (EARLIER) UIDs */
	size_t ngone;
};

static int qresync_fn(void *ctx, const struct imap_resp *r)
{
	struct qresync_ctx *q = ctx;
	struct imap_seqset set;
	const struct imap_seq_range *ranges;
	const char *text, *error;
	size_t i = 0, n;

	if (strcmp(r->name, "FETCH") == 0)
		return flags_fn(q->m, r);
	if (strcmp(r->name, "VANISHED") != 0)
		return 1;
	if (r->arg_count > 0 && r->args[0].type == IMAP_ARG_LIST)
		i = 1;	/* (EARLIER) */
	if (i >= r->arg_count || !imap_arg_get_atom(&r->args[i], &text))
		return 1;
	imap_seqset_init(&set);
	if (imap_seqset_parse(&set, text, 0, 1u << 20, &error) > 0) {
		ranges = imap_seqset_ranges(&set, &n);
		q->gone = xrealloc(q->gone, (q->ngone + n) * sizeof(*q->gone));
		memcpy(q->gone + q->ngone, ranges, n * sizeof(*ranges));
		q->ngone += n;
	}
	imap_seqset_deinit(&set);
	return 1;
}

static bool qresync_gone(const struct qresync_ctx *q, uint32_t uid)
{
	for (size_t i = 0; i < q->ngone; i++)
		if (uid >= q->gone[i].first && uid <= q->gone[i].last)
			return true;
	return false;
}

/* The server told what vanished and what changed (new messages
   included) since the cached modseq: apply that. */
static int mirror_qresync(struct qresync_ctx *q)
{
	struct mirror_ctx *m = q->m;
	struct client_cache_msg *c;
	size_t nc, nnew = 0;
	uint32_t *fresh;

	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), uf_cmp);
	if (client_cache_list(m->st->cache, m->folder, &c, &nc) < 0)
		return -1;
	for (size_t i = 0; i < nc; i++) {
		struct uid_flags *u = uf_find(m, c[i].uid);
		if (qresync_gone(q, c[i].uid)) {
			client_cache_remove(m->st->cache, &c[i]);
			continue;
		}
		if (u == NULL)
			continue;
		if (u->flags != c[i].flags)
			client_cache_set_flags(m->st->cache, m->folder, &c[i], u->flags);
		u->cached = true;
	}
	free(c);
	fresh = xcalloc(m->n + 1, sizeof(*fresh));
	for (size_t i = 0; i < m->n; i++)
		if (!m->v[i].cached && !qresync_gone(q, m->v[i].uid))
			fresh[nnew++] = m->v[i].uid;
	int ret = download(m, fresh, nnew);
	free(fresh);
	return ret;
}

/* SELECT with QRESYNC data; 1 done, 0 the folder must be read in full
   (UIDVALIDITY changed), -1. */
static int sync_qresync(struct sync_state *st, const char *folder, uint32_t uv,
			uint64_t modseq)
{
	struct mirror_ctx m = { .st = st, .folder = folder };
	struct qresync_ctx q = { .m = &m };
	char params[96];
	int ret;

	snprintf(params, sizeof(params), "QRESYNC (%u %llu)", uv, (unsigned long long)modseq);
	ret = client_imap_select_with(st->imap, folder, true, params, qresync_fn, &q);
	if (ret > 0 && client_imap_uidvalidity(st->imap) != uv)
		ret = 0;
	uint64_t highest = client_imap_highestmodseq(st->imap);
	if (ret > 0)
		ret = mirror_qresync(&q);
	free(m.v);
	free(q.gone);
	if (ret > 0) {
		st->qresynced++;
		ret = client_cache_set_state(st->cache, folder, uv, highest);
	}
	return ret;
}

static int sync_folder(struct sync_state *st, const char *folder)
{
	struct mirror_ctx m = { .st = st, .folder = folder };
	uint32_t uv;
	uint64_t modseq;
	int ret;

	client_cache_state(st->cache, folder, &uv, &modseq);
	if (st->qresync && uv != 0 && modseq != 0) {
		ret = sync_qresync(st, folder, uv, modseq);
		if (ret != 0)
			return ret;
	} else if (client_imap_select(st->imap, folder, true) <= 0) {
		return -1;
	}
	if (uv != client_imap_uidvalidity(st->imap)) {
		client_cache_clear(st->cache, folder);
		modseq = 0;
	}
	/* an empty state file first: the folder exists in the cache */
	client_cache_set_state(st->cache, folder, client_imap_uidvalidity(st->imap), 0);
	uint64_t highest = client_imap_highestmodseq(st->imap);
	ret = mirror(&m, modseq);
	free(m.v);
	if (ret < 0)
		return -1;
	if (modseq != 0 && highest != 0)
		st->condstored++;
	return client_cache_set_state(st->cache, folder, client_imap_uidvalidity(st->imap),
				      highest);
}

/* Folders in the cache that the server no longer has. */
static void drop_vanished_folders(struct sync_state *st, const struct client_folder *f,
				  size_t n)
{
	char **cached;
	size_t nc;

	if (client_cache_folders(st->cache, &cached, &nc) < 0)
		return;
	for (size_t i = 0; i < nc; i++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = !f[k].noselect && strcmp(f[k].name, cached[i]) == 0;
		if (!found && client_cache_drop_folder(st->cache, cached[i]) > 0)
			printf("folder %s is gone from the server: removed from the cache\n",
			       cached[i]);
	}
	client_strv_free(cached, nc);
}

int client_sync(struct client_account *a, bool show_progress)
{
	struct sync_state st = { .acct = a, .progress = show_progress };
	struct client_folder *f;
	size_t n;
	int ret = 1;

	if (client_imap_open(a, &st.imap) < 0)
		return -1;
	if (client_cache_open(a, &st.cache) < 0) {
		client_imap_close(&st.imap);
		return -1;
	}
	st.qresync = client_imap_has_cap(st.imap, "QRESYNC") &&
		     client_imap_cmd(st.imap, NULL, NULL, "ENABLE QRESYNC") > 0;
	if (send_outbox(&st) < 0 || replay_journal(&st) < 0 ||
	    client_imap_folders(st.imap, &f, &n) < 0) {
		ret = -1;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (f[i].noselect)
			continue;
		progress(&st, f[i].name, i, n);
		if (sync_folder(&st, f[i].name) < 0) {
			fprintf(stderr, "correio: sync: %s: %s\n", f[i].name, client_error());
			st.failures++;
		}
	}
	progress(&st, "done", n, n);
	drop_vanished_folders(&st, f, n);
	free(f);
	printf("synced %zu folder%s into %s (%u by QRESYNC, %u by CONDSTORE)\n", n,
	       n == 1 ? "" : "s", a->cache_dir, st.qresynced, st.condstored);
	if (st.failures > 0)
		ret = client_fail(CLIENT_ERR_OTHER, "sync finished with %u failure%s",
				  st.failures, st.failures == 1 ? "" : "s");
done:
	client_imap_close(&st.imap);
	client_cache_close(&st.cache);
	return ret;
}
