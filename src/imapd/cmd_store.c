/*
 * cmd_store.c - STORE and UID STORE (RFC 9051 §6.4.6): add, remove or
 * replace the flags and keywords of the messages of a set.  Called by the
 * dispatcher (imapd_cmd.c) in the selected state.
 *
 *   store           = "STORE" SP sequence-set [store-modifiers] SP
 *                     store-att-flags
 *   store-modifiers = SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"
 *   store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
 *                     (flag-list / (flag *(SP flag)))
 *
 * Unless .SILENT, each message of the set that still exists gets
 * "* n FETCH (FLAGS (...))" with its flags after the change ("UID n"
 * first for UID STORE).  The store's listener does not report changes
 * made through this session's own handle, so these are the only news of
 * them.  Keywords are created in the mailbox by +FLAGS and FLAGS (at
 * most STORE_MAX_KEYWORDS: NO [LIMIT] beyond); -FLAGS ignores unknown
 * ones.  \Recent belongs to the server: storing it is BAD.  Messages of
 * the set expunged by another session meanwhile are skipped.
 *
 * CONDSTORE (RFC 7162 §3.1.3): UNCHANGEDSINCE n leaves alone the messages
 * whose mod-sequence is above n and names them in the tagged OK
 * ([MODIFIED set]: sequence numbers, UIDs for UID STORE); UNCHANGEDSINCE
 * 0 so fails for every message.  Once CONDSTORE is on, every FETCH
 * response carries MODSEQ, and .SILENT still reports the new MODSEQ of
 * the messages that changed.
 */
#include "imapd_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

struct store_request {
	enum store_flag_op op;
	bool silent;
	uint8_t flags;
	uint32_t keywords;
	bool conditional;		/* UNCHANGEDSINCE given */
	uint64_t unchanged_since;
};

/* (UNCHANGEDSINCE n).  1 or -1. */
static int parse_modifiers(const struct imap_arg *arg, struct store_request *q)
{
	const struct imap_arg *list;
	size_t count;

	if (!imap_arg_get_list(arg, &list, &count) || count != 2 ||
	    !imap_arg_atom_equals(&list[0], "UNCHANGEDSINCE") ||
	    !imap_arg_get_number64(&list[1], &q->unchanged_since))
		return -1;
	q->conditional = true;
	return 1;
}

/* "+FLAGS", "-FLAGS.SILENT", "FLAGS", ... into q.  1 or -1. */
static int parse_item(const char *item, struct store_request *q)
{
	q->op = STORE_FLAGS_REPLACE;
	if (item[0] == '+' || item[0] == '-') {
		q->op = item[0] == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		item++;
	}
	if (strncasecmp(item, "FLAGS", 5) != 0)
		return -1;
	item += 5;
	q->silent = strcasecmp(item, ".SILENT") == 0;
	return q->silent || *item == '\0' ? 1 : -1;
}

static bool is_recent(const struct imap_arg *arg)
{
	const struct imap_arg *list;
	size_t count;

	if (imap_arg_get_list(arg, &list, &count)) {
		for (size_t i = 0; i < count; i++)
			if (imap_arg_atom_equals(&list[i], "\\Recent"))
				return true;
		return false;
	}
	return imap_arg_atom_equals(arg, "\\Recent");
}

/* The flag arguments (one list, or flags side by side) into q.  1, or -1
   with the reply sent. */
static int parse_flag_args(struct imapd_session *s, const struct imap_arg *args,
			   struct store_request *q)
{
	bool create = q->op != STORE_FLAGS_REMOVE;
	const char *error = "bad flag";
	uint32_t keywords;
	uint8_t flags;

	for (const struct imap_arg *a = args; a->type != IMAP_ARG_EOL; a++) {
		if (a->type == IMAP_ARG_LIST && (a != args || a[1].type != IMAP_ARG_EOL)) {
			imapd_tagged(s, "BAD", "a flag list must be alone");
			return -1;
		}
		if (imapd_parse_flags(s, a, create, &flags, &keywords, &error) < 0) {
			/* known without creating: it was the keyword limit */
			if (create && imapd_parse_flags(s, a, false, &flags, &keywords, &error) > 0)
				imapd_tagged(s, "NO", "[LIMIT] too many keywords in this mailbox");
			else
				imapd_tagged(s, "BAD", "%s", error);
			return -1;
		}
		q->flags |= flags;
		q->keywords |= keywords;
	}
	return 1;
}

/* Check the command; 1 with q, *set_r and *flag_args_r (the first flag
   argument) filled, or -1 with the reply sent. */
static int store_check(struct imapd_session *s, struct store_request *q, const char **set_r,
		       size_t *flag_args_r)
{
	const struct imap_arg *args = s->cmd.args;
	size_t i = 1;
	const char *item;

	if (s->cmd.arg_count >= 2 && args[1].type == IMAP_ARG_LIST &&
	    parse_modifiers(&args[i++], q) < 0) {
		imapd_tagged(s, "BAD", "unknown or malformed STORE modifier");
		return -1;
	}
	if (s->cmd.arg_count < i + 2 || !imap_arg_get_atom(&args[0], set_r) ||
	    !imap_arg_get_atom(&args[i], &item) || parse_item(item, q) < 0) {
		imapd_tagged(s, "BAD", "usage: %sSTORE set [(UNCHANGEDSINCE n)] "
			     "(+|-)FLAGS[.SILENT] (flags)", s->cmd.uid ? "UID " : "");
		return -1;
	}
	*flag_args_r = ++i;
	for (; i < s->cmd.arg_count; i++) {
		if (is_recent(&args[i])) {
			imapd_tagged(s, "BAD", "\\Recent cannot be stored");
			return -1;
		}
	}
	if (s->readonly) {
		imapd_tagged(s, "NO", "[READ-ONLY] mailbox is read-only");
		return -1;
	}
	return 1;
}

/* "* n FETCH (FLAGS (...))" for each message of uids still there and not
   left alone by UNCHANGEDSINCE; with .SILENT, "* n FETCH (MODSEQ (m))"
   for those that changed, if CONDSTORE is on. */
static void store_report(struct imapd_session *s, const uint32_t *uids, unsigned n,
			 const struct store_flag_result *results, bool silent)
{
	struct store_msg m;
	unsigned seq;

	for (unsigned i = 0; i < n; i++) {
		enum store_flag_status st = results != NULL ? results[i].status :
					    STORE_FLAG_CHANGED;
		if (st == STORE_FLAG_GONE || st == STORE_FLAG_MODIFIED ||
		    (silent && (st != STORE_FLAG_CHANGED || !s->condstore)) ||
		    (seq = imapd_seq_of(s, uids[i])) == 0 ||
		    store_mailbox_lookup_flags(s->box, uids[i], &m) <= 0)
			continue;
		if (!silent)
			imapd_send_fetch_flags(s, seq, &m, s->cmd.uid);
		else if (s->cmd.uid)
			imapd_untagged(s, "%u FETCH (UID %u MODSEQ (%llu))", seq, m.uid,
				       (unsigned long long)m.modseq);
		else
			imapd_untagged(s, "%u FETCH (MODSEQ (%llu))", seq,
				       (unsigned long long)m.modseq);
	}
}

/* The messages UNCHANGEDSINCE left alone, as a set for [MODIFIED ...]:
   sequence numbers, UIDs for UID STORE.  Empty if none. */
static void modified_set(struct imapd_session *s, const uint32_t *uids, unsigned n,
			 const struct store_flag_result *results, struct buf *out)
{
	uint32_t *nums = xcalloc((size_t)n + 1, sizeof(*nums));
	unsigned k = 0, seq;

	for (unsigned i = 0; i < n; i++)
		if (results[i].status == STORE_FLAG_MODIFIED &&
		    (seq = imapd_seq_of(s, uids[i])) != 0)
			nums[k++] = s->cmd.uid ? uids[i] : seq;
	if (k > 0)
		imap_seqset_format(nums, k, out);
	free(nums);
}

/* UNCHANGEDSINCE 0: nothing has a mod-sequence that low; every message
   still there is left alone. */
static int store_none(struct imapd_session *s, const uint32_t *uids, unsigned n,
		      struct store_flag_result *results)
{
	struct store_msg m;

	for (unsigned i = 0; i < n; i++)
		results[i].status = store_mailbox_lookup_flags(s->box, uids[i], &m) > 0 ?
				    STORE_FLAG_MODIFIED : STORE_FLAG_GONE;
	return 1;
}

static const char *error_code(const struct store_error *err)
{
	switch (err->code) {
	case STORE_ERROR_LIMIT: return "[LIMIT]";
	case STORE_ERROR_IN_USE: return "[INUSE]";
	case STORE_ERROR_TEMP: return "[UNAVAILABLE]";
	default: return "[SERVERBUG]";
	}
}

void imapd_cmd_store(struct imapd_session *s)
{
	struct store_request q = { .op = STORE_FLAGS_REPLACE };
	struct store_flag_result *results;
	struct store_error err;
	struct buf modified;
	uint32_t *uids = NULL;
	const char *set;
	unsigned keywords;
	size_t flag_args;
	int n, ret;

	if (store_check(s, &q, &set, &flag_args) < 0)
		return;
	if (q.conditional)
		imapd_condstore_enable(s);
	if ((n = imapd_resolve_set(s, set, s->cmd.uid, &uids)) < 0) {
		imapd_done(s);
		return;
	}
	keywords = store_mailbox_keyword_count(s->box);
	if (parse_flag_args(s, s->cmd.args + flag_args, &q) < 0) {
		free(uids);
		return;
	}
	if (store_mailbox_keyword_count(s->box) > keywords)
		imapd_send_flags(s);	/* before any FETCH shows a new keyword */
	results = xcalloc((size_t)n + 1, sizeof(*results));
	if (q.conditional && q.unchanged_since == 0)
		ret = store_none(s, uids, (unsigned)n, results);
	else
		ret = store_mailbox_set_flags(s->box, uids, (unsigned)n, q.op, q.flags,
					      q.keywords, q.unchanged_since, results, &err);
	store_report(s, uids, (unsigned)n, ret < 0 ? NULL : results, q.silent);
	buf_init(&modified, 0);
	if (ret > 0 && q.conditional)
		modified_set(s, uids, (unsigned)n, results, &modified);
	free(results);
	free(uids);
	if (ret < 0)
		imapd_tagged(s, "NO", "%s %s", error_code(&err), err.text);
	else if (modified.len > 0)
		imapd_tagged(s, "OK", "[MODIFIED %s] conditional %sSTORE failed for some",
			     buf_cstr(&modified), s->cmd.uid ? "UID " : "");
	else
		imapd_tagged(s, "OK", "%sSTORE completed", s->cmd.uid ? "UID " : "");
	buf_deinit(&modified);
}
