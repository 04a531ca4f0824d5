/*
 * cmd_folder.c - SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
 * UNSUBSCRIBE, LIST (RFC 5258 LIST-EXTENDED selection and return options,
 * RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS), LSUB and STATUS.  Names go
 * in and out as modified UTF-7 for IMAP4rev1 clients, UTF-8 for rev2.
 * Also the QUOTA commands (RFC 9208).
 */
#include "imapd_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/imap_quote.h"
#include "lib-imap/imap_utf7.h"
#include "lib/util.h"

/* The mailbox name argument arg, as UTF-8, into out.  Returns 1 or -1. */
static int name_in(struct imapd_session *s, const struct imap_arg *arg, struct buf *out)
{
	const char *name;

	if (!imap_arg_get_astring(arg, &name))
		return -1;
	if (s->utf8)
		return buf_puts(out, name);
	return imap_utf7_decode(name, strlen(name), out);
}

/* A name for the client (quoted, mUTF-7 for rev1). */
static void name_out(struct imapd_session *s, const char *name, struct buf *out)
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
	unsigned recent = 0;

	store_mailbox_status(s->box, &st);
	imapd_untagged(s, "%u EXISTS", s->n_uids);
	if (!s->rev2) {
		for (unsigned i = 0; i < s->n_uids; i++)
			recent += s->uids[i] >= s->first_recent;
		imapd_untagged(s, "%u RECENT", recent);
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
		name_out(s, store_mailbox_name(s->box), &name);
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
		if (store_mailbox_lookup(s->box, s->uids[i], &m) > 0 && m.modseq > q->modseq &&
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

	buf_init(&name, 0);
	if (s->cmd.arg_count < 1 || s->cmd.arg_count > 2 ||
	    name_in(s, &s->cmd.args[0], &name) < 0) {
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

static int folder_op(struct imapd_session *s, const char *a, const char *b,
		     struct store_error *err)
{
	const char *n = s->cmd.name;

	if (strcmp(n, "CREATE") == 0)
		return store_folder_create(s->account, a, 0, err);
	if (strcmp(n, "DELETE") == 0) {
		if (s->box != NULL && strcmp(store_mailbox_name(s->box), a) == 0)
			imapd_unselect(s);
		return store_folder_delete(s->account, a, err);
	}
	if (strcmp(n, "RENAME") == 0)
		return store_folder_rename(s->account, a, b, err);
	return store_folder_subscribe(s->account, a, strcmp(n, "SUBSCRIBE") == 0, err);
}

void imapd_cmd_folder(struct imapd_session *s)
{
	size_t want = strcmp(s->cmd.name, "RENAME") == 0 ? 2 : 1;
	struct store_error err;
	struct buf a, b;
	int ret = -1;

	buf_init(&a, 0);
	buf_init(&b, 0);
	if (s->cmd.arg_count != want || name_in(s, &s->cmd.args[0], &a) < 0 ||
	    (want == 2 && name_in(s, &s->cmd.args[1], &b) < 0)) {
		imapd_tagged(s, "BAD", "bad mailbox name");
	} else {
		/* a trailing separator only says "will have children" (§6.3.4) */
		if (a.len > 1 && a.data[a.len - 1] == '/' && strcmp(s->cmd.name, "CREATE") == 0)
			buf_truncate(&a, a.len - 1);
		ret = folder_op(s, buf_cstr(&a), buf_cstr(&b), &err);
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

/* "* STATUS name (items)" for folder name; returns 1, 0 not found, -1 bad. */
static int status_line(struct imapd_session *s, const char *name,
		       const struct imap_arg *list, size_t count)
{
	struct store_status st;
	struct store_error err;
	struct buf items, quoted;
	int ret = 1;

	if (store_folder_status(s->account, name, &st, &err) < 0)
		return 0;
	buf_init(&items, 0);
	buf_init(&quoted, 0);
	if (status_items(s, list, count, &st, &items) < 0) {
		ret = -1;
	} else {
		name_out(s, name, &quoted);
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
	if (s->cmd.arg_count != 2 || name_in(s, &s->cmd.args[0], &name) < 0 ||
	    !imap_arg_get_list(&s->cmd.args[1], &list, &count)) {
		buf_deinit(&name);
		imapd_tagged(s, "BAD", "usage: STATUS mailbox (items)");
		return;
	}
	ret = status_line(s, buf_cstr(&name), list, count);
	buf_deinit(&name);
	if (ret < 0)
		imapd_tagged(s, "BAD", "unknown STATUS item");
	else if (ret == 0)
		imapd_tagged(s, "NO", "[NONEXISTENT] no such mailbox");
	else
		imapd_tagged(s, "OK", "STATUS completed");
}

/* ---- LIST, LSUB ---- */

/* IMAP LIST pattern match: '*' anything, '%' anything but '/'; the
   INBOX part of a name matches in any case (RFC 9051 §5.1). */
static bool match_at(const char *p, const char *n, const char *start)
{
	bool inbox = strncmp(start, "INBOX", 5) == 0 && (start[5] == '\0' || start[5] == '/');

	for (; *p != '\0'; p++, n++) {
		if (*p == '*' || *p == '%') {
			for (const char *t = n;; t++) {
				if (match_at(p + 1, t, start))
					return true;
				if (*t == '\0' || (*p == '%' && *t == '/'))
					return false;
			}
		}
		if (*n == '\0' || (*p != *n && !(inbox && n - start < 5 && (*p | 32) == (*n | 32))))
			return false;
	}
	return *n == '\0';
}

static bool match(const char *p, const char *n)
{
	return match_at(p, n, n);
}

struct list_ctx {
	struct imapd_session *s;
	struct buf pattern;
	bool lsub, subscribed_only, special_only, want_special, want_children;
	const struct imap_arg *status_items;
	size_t status_count;
};

static void list_attrs(const struct list_ctx *c, unsigned a, struct buf *out)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ STORE_FOLDER_NOSELECT, "\\Noselect" },
		{ STORE_FOLDER_NONEXISTENT, "\\NonExistent" },
		{ STORE_FOLDER_HASCHILDREN, "\\HasChildren" },
		{ STORE_FOLDER_HASNOCHILDREN, "\\HasNoChildren" },
		{ STORE_FOLDER_SUBSCRIBED, "\\Subscribed" },
		{ STORE_FOLDER_SENT, "\\Sent" }, { STORE_FOLDER_DRAFTS, "\\Drafts" },
		{ STORE_FOLDER_TRASH, "\\Trash" }, { STORE_FOLDER_JUNK, "\\Junk" },
		{ STORE_FOLDER_ARCHIVE, "\\Archive" },
	};

	buf_putc(out, '(');
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(a & names[i].bit))
			continue;
		if (c->lsub && names[i].bit != STORE_FOLDER_NOSELECT)
			continue;
		if (names[i].bit == STORE_FOLDER_SUBSCRIBED && !c->subscribed_only)
			continue;
		if (out->data[out->len - 1] != '(')
			buf_putc(out, ' ');
		buf_puts(out, names[i].name);
	}
	buf_putc(out, ')');
}

static void list_one(void *ctx, const struct store_folder_info *f)
{
	struct list_ctx *c = ctx;
	struct buf line;

	if (!match(buf_cstr(&c->pattern), f->name))
		return;
	if ((c->lsub || c->subscribed_only) && !(f->attrs & STORE_FOLDER_SUBSCRIBED))
		return;
	if (!c->lsub && !c->subscribed_only && (f->attrs & STORE_FOLDER_NONEXISTENT) &&
	    !(f->attrs & STORE_FOLDER_NOSELECT))
		return;
	if (c->special_only && !(f->attrs & STORE_FOLDER_SPECIAL_USE))
		return;
	buf_init(&line, 0);
	list_attrs(c, f->attrs, &line);
	buf_puts(&line, " \"/\" ");
	name_out(c->s, f->name, &line);
	imapd_untagged(c->s, "%s %s", c->lsub ? "LSUB" : "LIST", buf_cstr(&line));
	buf_deinit(&line);
	if (c->status_items != NULL && !(f->attrs & (STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT)))
		status_line(c->s, f->name, c->status_items, c->status_count);
}

/* LIST-EXTENDED options: (SUBSCRIBED SPECIAL-USE ...) before the
   reference, RETURN (CHILDREN SPECIAL-USE STATUS (...)) after. */
static int list_options(struct list_ctx *c, const struct imap_arg *list, size_t n,
			bool selection)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *items;
		size_t count;
		if (selection && imap_arg_atom_equals(&list[i], "SUBSCRIBED"))
			c->subscribed_only = true;
		else if (selection && imap_arg_atom_equals(&list[i], "SPECIAL-USE"))
			c->special_only = true;
		else if (imap_arg_atom_equals(&list[i], "REMOTE") ||
			 imap_arg_atom_equals(&list[i], "RECURSIVEMATCH") ||
			 imap_arg_atom_equals(&list[i], "CHILDREN") ||
			 imap_arg_atom_equals(&list[i], "SPECIAL-USE") ||
			 imap_arg_atom_equals(&list[i], "SUBSCRIBED"))
			continue;
		else if (!selection && imap_arg_atom_equals(&list[i], "STATUS") && i + 1 < n &&
			 imap_arg_get_list(&list[i + 1], &items, &count)) {
			c->status_items = items;
			c->status_count = count;
			i++;
		} else
			return -1;
	}
	return 1;
}

static int list_args(struct list_ctx *c, struct buf *ref)
{
	struct imapd_session *s = c->s;
	const struct imap_arg *a = s->cmd.args, *opts;
	size_t n = s->cmd.arg_count, count;

	if (n > 0 && !c->lsub && imap_arg_get_list(&a[0], &opts, &count)) {
		if (list_options(c, opts, count, true) < 0)
			return -1;
		a++;
		n--;
	}
	if (n < 2 || name_in(s, &a[0], ref) < 0 || name_in(s, &a[1], &c->pattern) < 0)
		return -1;
	if (n == 4 && imap_arg_atom_equals(&a[2], "RETURN") &&
	    imap_arg_get_list(&a[3], &opts, &count))
		return list_options(c, opts, count, false);
	return n == 2 ? 1 : -1;
}

void imapd_cmd_list(struct imapd_session *s)
{
	struct list_ctx c = { .s = s, .lsub = strcmp(s->cmd.name, "LSUB") == 0 };
	struct store_error err;
	struct buf ref, full;

	buf_init(&c.pattern, 0);
	buf_init(&ref, 0);
	buf_init(&full, 0);
	if (list_args(&c, &ref) < 0) {
		imapd_tagged(s, "BAD", "bad %s arguments", s->cmd.name);
	} else if (c.pattern.len == 0 && !c.lsub) {
		imapd_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imapd_tagged(s, "OK", "LIST completed");
	} else {
		buf_printf(&full, "%s%s", buf_cstr(&ref), buf_cstr(&c.pattern));
		buf_reset(&c.pattern);
		buf_append(&c.pattern, full.data, full.len);
		if (store_folder_list(s->account, list_one, &c, &err) < 0)
			imapd_tagged(s, "NO", "[SERVERBUG] %s", err.text);
		else
			imapd_tagged(s, "OK", "%s completed", s->cmd.name);
	}
	buf_deinit(&c.pattern);
	buf_deinit(&ref);
	buf_deinit(&full);
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
	if (s->cmd.arg_count != 1 || name_in(s, &s->cmd.args[0], &name) < 0) {
		imapd_tagged(s, "BAD", "usage: GETQUOTAROOT mailbox");
	} else if (store_folder_status(s->account, buf_cstr(&name), &st, &err) < 0) {
		imapd_tagged(s, "NO", "%s%s", code_of(&err), err.text);
	} else {
		name_out(s, buf_cstr(&name), &quoted);
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
