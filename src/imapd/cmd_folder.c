/*
 * cmd_folder.c - SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
 * UNSUBSCRIBE and STATUS.  Names go in and out as modified UTF-7 for
 * IMAP4rev1 clients, UTF-8 for rev2.  Also the QUOTA commands (RFC 9208).
 * LIST and LSUB live in cmd_list.c.
 */
#include "imapd_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/imap_quote.h"
#include "lib-imap/imap_utf7.h"
#include "lib/util.h"

int imapd_name_in(struct imapd_session *s, const struct imap_arg *arg, struct buf *out)
{
	size_t start = out->len;
	const char *name;

	if (!imap_arg_get_astring(arg, &name))
		return -1;
	if (s->utf8)
		return buf_puts(out, name);
	if (imap_utf7_decode(name, strlen(name), out) < 0) {
		buf_truncate(out, start);
		return 0;
	}
	return 1;
}

void imapd_name_out(struct imapd_session *s, const char *name, struct buf *out)
{
	struct buf enc;

	if (s->utf8) {
		imap_quote_string(out, name, strlen(name), true);
		return;
	}
	buf_init(&enc, 0);
	imap_utf7_encode(name, strlen(name), &enc);
	imap_quote_string(out, buf_cstr(&enc), enc.len, false);
	buf_deinit(&enc);
}

static const char *code_of(const struct store_error *err)
{
	switch (err->code) {
	case STORE_ERROR_NOT_FOUND: return "[NONEXISTENT] ";
	case STORE_ERROR_EXISTS: return "[ALREADYEXISTS] ";
	case STORE_ERROR_OVER_QUOTA: return "[OVERQUOTA] ";
	case STORE_ERROR_BAD_PARAM: return "[CANNOT] ";
	case STORE_ERROR_LIMIT: return "[LIMIT] ";
	case STORE_ERROR_IN_USE: return "[INUSE] ";
	default: return "[SERVERBUG] ";
	}
}

/* ---- SELECT / EXAMINE ---- */

static void select_reply(struct imapd_session *s)
{
	struct store_status st;

	store_mailbox_status(s->box, &st);
	imapd_untagged(s, "%u EXISTS", s->n_uids);
	if (!s->rev2) {
		imapd_untagged(s, "%u RECENT", imapd_recent_count(s));
		if (st.first_unseen > 0)
			imapd_untagged(s, "OK [UNSEEN %u] first unseen", st.first_unseen);
	}
	imapd_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", st.uidvalidity);
	imapd_untagged(s, "OK [UIDNEXT %u] predicted next UID", st.uidnext);
	/* RFC 7162 §3.1.2.1: every SELECT, modseqs being kept */
	imapd_untagged(s, "OK [HIGHESTMODSEQ %llu] highest",
		       (unsigned long long)st.highestmodseq);
	if (s->rev2) {
		/* RFC 9051 §6.3.2: the mailbox name as LIST would show it */
		struct buf name;
		buf_init(&name, 0);
		imapd_name_out(s, store_mailbox_name(s->box), &name);
		imapd_untagged(s, "LIST () \"/\" %s", buf_cstr(&name));
		buf_deinit(&name);
	}
	imapd_send_flags(s);
}

/* What the client of a QRESYNC select knows (RFC 7162 §3.2.5). */
struct qresync_param {
	bool given;
	uint32_t uidvalidity;
	uint64_t modseq;
	const char *known;	/* known-uids, NULL: all */
};

/* (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])) into q; the
   sequence match data is a hint we do without.  1 or -1. */
static int qresync_param(const struct imap_arg *arg, struct qresync_param *q)
{
	const struct imap_arg *list;
	size_t count;

	if (!imap_arg_get_list(arg, &list, &count) || count < 2 || count > 4 ||
	    !imap_arg_get_number(&list[0], &q->uidvalidity) ||
	    !imap_arg_get_number64(&list[1], &q->modseq) || q->uidvalidity == 0 ||
	    q->modseq == 0)
		return -1;
	if (count >= 3) {
		struct imap_seqset check;
		const char *error;
		int ret;

		if (!imap_arg_get_atom(&list[2], &q->known))
			return -1;
		imap_seqset_init(&check);
		ret = imap_seqset_parse(&check, q->known, 1, 100000, &error);
		imap_seqset_deinit(&check);
		if (ret < 0)
			return -1;
	}
	if (count == 4 && list[3].type != IMAP_ARG_LIST)
		return -1;
	q->given = true;
	return 1;
}

/* (CONDSTORE) and (QRESYNC (...)), the select-params (RFC 7162 §3.1.8,
   §3.2.5); QRESYNC only once it is enabled.  1 or -1. */
static int select_params(struct imapd_session *s, const struct imap_arg *arg,
			 struct qresync_param *q)
{
	const struct imap_arg *list;
	size_t count;

	if (!imap_arg_get_list(arg, &list, &count))
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (imap_arg_atom_equals(&list[i], "CONDSTORE"))
			s->condstore = true;	/* SELECT's reply has HIGHESTMODSEQ */
		else if (imap_arg_atom_equals(&list[i], "QRESYNC") && s->qresync &&
			 i + 1 < count && qresync_param(&list[++i], q) > 0)
			continue;
		else
			return -1;
	}
	return 1;
}

/* After a QRESYNC select: what vanished and what changed since the
   client's mod-sequence, if its UIDVALIDITY is still the folder's. */
static void qresync_reply(struct imapd_session *s, const struct qresync_param *q)
{
	struct imap_seqset known;
	struct store_status st;
	struct store_msg m;
	const char *error;

	store_mailbox_status(s->box, &st);
	if (st.uidvalidity != q->uidvalidity)
		return;
	imap_seqset_init(&known);
	if (imapd_send_vanished_earlier(s, q->known) < 0 ||
	    (q->known != NULL && imap_seqset_parse(&known, q->known, st.uidnext - 1, 100000,
						   &error) < 0)) {
		imap_seqset_deinit(&known);
		return;
	}
	for (unsigned i = 0; i < s->n_uids; i++) {
		if (store_mailbox_lookup_flags(s->box, s->uids[i], &m) > 0 && m.modseq > q->modseq &&
		    (q->known == NULL || imap_seqset_contains(&known, m.uid)))
			imapd_send_fetch_flags(s, i + 1, &m, true);	/* MODSEQ: QRESYNC is on */
	}
	imap_seqset_deinit(&known);
}

void imapd_cmd_select(struct imapd_session *s)
{
	bool examine = strcmp(s->cmd.name, "EXAMINE") == 0;
	struct qresync_param q = { 0 };
	struct store_error err;
	struct buf name;
	int valid = -1;

	buf_init(&name, 0);
	if (s->cmd.arg_count < 1 || s->cmd.arg_count > 2 ||
	    (valid = imapd_name_in(s, &s->cmd.args[0], &name)) < 0) {
		buf_deinit(&name);
		imapd_tagged(s, "BAD", "usage: %s mailbox [(CONDSTORE | QRESYNC (...))]",
			     s->cmd.name);
		return;
	}
	if (s->cmd.arg_count == 2 && select_params(s, &s->cmd.args[1], &q) < 0) {
		buf_deinit(&name);
		imapd_tagged(s, "BAD", "unknown %s parameter", s->cmd.name);
		return;
	}
	if (s->box != NULL) {
		imapd_unselect(s);
		imapd_untagged(s, "OK [CLOSED] previous mailbox closed");
	}
	if (valid == 0) {
		buf_deinit(&name);
		imapd_tagged(s, "NO", "[NONEXISTENT] no such mailbox (not valid modified UTF-7)");
		return;
	}
	if (imapd_select(s, buf_cstr(&name), examine, &err) < 0) {
		buf_deinit(&name);
		imapd_tagged(s, "NO", "%s%s", code_of(&err), err.text);
		return;
	}
	buf_deinit(&name);
	select_reply(s);
	if (q.given)
		qresync_reply(s, &q);
	imapd_tagged(s, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
		     s->cmd.name);
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE ---- */

static int folder_op(struct imapd_session *s, const char *a, const char *b, unsigned use,
		     struct store_error *err)
{
	const char *n = s->cmd.name;

	if (strcmp(n, "CREATE") == 0)
		return store_folder_create(s->account, a, use, err);
	if (strcmp(n, "DELETE") == 0) {
		if (s->box != NULL && strcmp(store_mailbox_name(s->box), a) == 0)
			imapd_unselect(s);
		return store_folder_delete(s->account, a, err);
	}
	if (strcmp(n, "RENAME") == 0)
		return store_folder_rename(s->account, a, b, err);
	return store_folder_subscribe(s->account, a, strcmp(n, "SUBSCRIBE") == 0, err);
}

/*
 * CREATE's parameters (RFC 4466): "(USE (\Sent))", CREATE-SPECIAL-USE
 * (RFC 6154 §3): one of the attributes the store keeps.  1 with *use_r,
 * 0 an attribute it cannot keep (NO [USEATTR] sent), -1 bad (BAD sent).
 */
static int create_params(struct imapd_session *s, const struct imap_arg *arg, unsigned *use_r)
{
	static const struct { const char *name; unsigned bit; } uses[] = {
		{ "\\Sent", STORE_FOLDER_SENT }, { "\\Drafts", STORE_FOLDER_DRAFTS },
		{ "\\Trash", STORE_FOLDER_TRASH }, { "\\Junk", STORE_FOLDER_JUNK },
		{ "\\Archive", STORE_FOLDER_ARCHIVE },
	};
	const struct imap_arg *list, *attrs;
	size_t count, n_attrs, i;

	if (!imap_arg_get_list(arg, &list, &count) || count != 2 ||
	    !imap_arg_atom_equals(&list[0], "USE") ||
	    !imap_arg_get_list(&list[1], &attrs, &n_attrs)) {
		imapd_tagged(s, "BAD", "usage: CREATE mailbox [(USE (attributes))]");
		return -1;
	}
	*use_r = 0;
	for (size_t k = 0; k < n_attrs; k++) {
		for (i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
			if (imap_arg_atom_equals(&attrs[k], uses[i].name))
				break;
		if (i == sizeof(uses) / sizeof(uses[0]) || *use_r != 0) {
			imapd_tagged(s, "NO", "[USEATTR] %s", *use_r != 0 ?
				     "one special use per mailbox" :
				     "special use not supported (\\Sent \\Drafts \\Trash \\Junk \\Archive are)");
			return 0;
		}
		*use_r = uses[i].bit;
	}
	return 1;
}

void imapd_cmd_folder(struct imapd_session *s)
{
	size_t want = strcmp(s->cmd.name, "RENAME") == 0 ? 2 : 1;
	struct store_error err;
	struct buf a, b;
	int ret = -1, va = -1, vb = 1;
	bool params = strcmp(s->cmd.name, "CREATE") == 0 && s->cmd.arg_count == 2;
	unsigned use = 0;

	if (params) {
		if (create_params(s, &s->cmd.args[1], &use) <= 0)
			return;
		want = 2;
	}
	buf_init(&a, 0);
	buf_init(&b, 0);
	if (s->cmd.arg_count != want || (va = imapd_name_in(s, &s->cmd.args[0], &a)) < 0 ||
	    (want == 2 && !params && (vb = imapd_name_in(s, &s->cmd.args[1], &b)) < 0)) {
		imapd_tagged(s, "BAD", "bad mailbox name");
	} else if (va == 0 || vb == 0) {
		imapd_tagged(s, "NO", "[CANNOT] mailbox name is not valid modified UTF-7");
	} else {
		/* a trailing separator only says "will have children" (§6.3.4) */
		if (a.len > 1 && a.data[a.len - 1] == '/' && strcmp(s->cmd.name, "CREATE") == 0)
			buf_truncate(&a, a.len - 1);
		ret = folder_op(s, buf_cstr(&a), buf_cstr(&b), use, &err);
		if (ret < 0)
			imapd_tagged(s, "NO", "%s%s", code_of(&err), err.text);
		else
			imapd_tagged(s, "OK", "%s completed", s->cmd.name);
	}
	buf_deinit(&a);
	buf_deinit(&b);
}

/* Storage in the units of QUOTA (RFC 9208): 1024 octets, rounded up. */
static unsigned long long kib(uint64_t bytes)
{
	return (unsigned long long)(bytes / 1024 + (bytes % 1024 != 0));
}

/* ---- STATUS ---- */

static int status_items(struct imapd_session *s, const struct imap_arg *list,
			size_t count, const struct store_status *st, struct buf *out)
{
	for (size_t i = 0; i < count; i++) {
		const char *item;
		if (!imap_arg_get_atom(&list[i], &item))
			return -1;
		if (out->len > 0)
			buf_putc(out, ' ');
		if (strcasecmp(item, "MESSAGES") == 0)
			buf_printf(out, "MESSAGES %u", st->messages);
		else if (strcasecmp(item, "RECENT") == 0)
			buf_printf(out, "RECENT %u", st->recent);
		else if (strcasecmp(item, "UIDNEXT") == 0)
			buf_printf(out, "UIDNEXT %u", st->uidnext);
		else if (strcasecmp(item, "UIDVALIDITY") == 0)
			buf_printf(out, "UIDVALIDITY %u", st->uidvalidity);
		else if (strcasecmp(item, "UNSEEN") == 0)
			buf_printf(out, "UNSEEN %u", st->unseen);
		else if (strcasecmp(item, "SIZE") == 0)
			buf_printf(out, "SIZE %llu", (unsigned long long)st->size);
		else if (strcasecmp(item, "DELETED") == 0)
			buf_printf(out, "DELETED %u", st->deleted);
		else if (strcasecmp(item, "DELETED-STORAGE") == 0)
			buf_printf(out, "DELETED-STORAGE %llu", kib(st->deleted_size));
		else if (strcasecmp(item, "HIGHESTMODSEQ") == 0) {
			imapd_condstore_enable(s);
			buf_printf(out, "HIGHESTMODSEQ %llu", (unsigned long long)st->highestmodseq);
		}
		else
			return -1;
	}
	return 1;
}

int imapd_status_line(struct imapd_session *s, const char *name,
		       const struct imap_arg *list, size_t count)
{
	struct store_status st;
	struct store_error err;
	struct buf items, quoted;
	bool sizes = false;
	const char *item;
	int ret = 1;

	/* the sizes may cost reading files the store has not measured yet */
	for (size_t i = 0; i < count; i++)
		if (imap_arg_get_atom(&list[i], &item) &&
		    (strcasecmp(item, "SIZE") == 0 || strcasecmp(item, "DELETED-STORAGE") == 0))
			sizes = true;
	if (store_folder_status(s->account, name, sizes, &st, &err) < 0)
		return 0;
	buf_init(&items, 0);
	buf_init(&quoted, 0);
	if (status_items(s, list, count, &st, &items) < 0) {
		ret = -1;
	} else {
		imapd_name_out(s, name, &quoted);
		imapd_untagged(s, "STATUS %s (%s)", buf_cstr(&quoted), buf_cstr(&items));
	}
	buf_deinit(&items);
	buf_deinit(&quoted);
	return ret;
}

void imapd_cmd_status(struct imapd_session *s)
{
	const struct imap_arg *list;
	size_t count;
	struct buf name;
	int ret;

	buf_init(&name, 0);
	if (s->cmd.arg_count != 2 || imapd_name_in(s, &s->cmd.args[0], &name) < 0 ||
	    !imap_arg_get_list(&s->cmd.args[1], &list, &count)) {
		buf_deinit(&name);
		imapd_tagged(s, "BAD", "usage: STATUS mailbox (items)");
		return;
	}
	ret = imapd_status_line(s, buf_cstr(&name), list, count);
	buf_deinit(&name);
	if (ret < 0)
		imapd_tagged(s, "BAD", "unknown STATUS item");
	else if (ret == 0)
		imapd_tagged(s, "NO", "[NONEXISTENT] no such mailbox");
	else
		imapd_tagged(s, "OK", "STATUS completed");
}

/* ---- QUOTA (RFC 9208) ---- */

/*
 * One quota root per account, named "", with the one resource the
 * account's quota limits: STORAGE.  GETQUOTAROOT of an account without a
 * quota names no root.  The quota is the administrator's (correio user
 * add|passwd --quota): SETQUOTA is refused.
 */

/* "* QUOTA "" (STORAGE used limit)"; false if the account has no quota. */
static bool quota_line(struct imapd_session *s)
{
	uint64_t limit = store_account_quota(s->account), used, messages;
	struct store_error err;

	if (limit == 0 || store_account_usage(s->account, &used, &messages, &err) < 0)
		return false;
	imapd_untagged(s, "QUOTA \"\" (STORAGE %llu %llu)", kib(used), kib(limit));
	return true;
}

void imapd_cmd_quota(struct imapd_session *s)
{
	struct store_status st;
	struct store_error err;
	struct buf name, quoted;
	const char *root;

	if (strcmp(s->cmd.name, "SETQUOTA") == 0) {
		imapd_tagged(s, "NO", "[NOPERM] quotas are set by the administrator");
		return;
	}
	if (strcmp(s->cmd.name, "GETQUOTA") == 0) {
		if (s->cmd.arg_count != 1 || !imap_arg_get_astring(&s->cmd.args[0], &root)) {
			imapd_tagged(s, "BAD", "usage: GETQUOTA root");
			return;
		}
		if (root[0] != '\0' || !quota_line(s)) {
			imapd_tagged(s, "NO", "[NONEXISTENT] no such quota root");
			return;
		}
		imapd_tagged(s, "OK", "GETQUOTA completed");
		return;
	}
	buf_init(&name, 0);
	buf_init(&quoted, 0);
	if (s->cmd.arg_count != 1 || imapd_name_in(s, &s->cmd.args[0], &name) < 0) {
		imapd_tagged(s, "BAD", "usage: GETQUOTAROOT mailbox");
	} else if (store_folder_status(s->account, buf_cstr(&name), false, &st, &err) < 0) {
		imapd_tagged(s, "NO", "%s%s", code_of(&err), err.text);
	} else {
		imapd_name_out(s, buf_cstr(&name), &quoted);
		if (store_account_quota(s->account) > 0) {
			imapd_untagged(s, "QUOTAROOT %s \"\"", buf_cstr(&quoted));
			quota_line(s);
		} else {
			imapd_untagged(s, "QUOTAROOT %s", buf_cstr(&quoted));
		}
		imapd_tagged(s, "OK", "GETQUOTAROOT completed");
	}
	buf_deinit(&name);
	buf_deinit(&quoted);
}
