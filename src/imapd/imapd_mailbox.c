/*
 * imapd_mailbox.c - the selected mailbox as one session sees it: its own
 * sequence numbers (an array of UIDs), the news the store's listener
 * brings (queued while a command runs, sent when the RFC allows), flags
 * in and out, and sequence sets.
 */
#include "imapd_private.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lib/log.h"
#include "lib/util.h"

static const char *const system_flags[] = {
	"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"
};

/* ---- the view ---- */

static void push_uid(uint32_t **arr, unsigned *n, unsigned *cap, uint32_t uid)
{
	if (*n == *cap) {
		unsigned c = *cap == 0 ? 16 : *cap * 2;
		*arr = xreallocarray(*arr, c, sizeof(**arr));
		*cap = c;
	}
	(*arr)[(*n)++] = uid;
}

static bool uid_in(const uint32_t *v, unsigned n, uint32_t uid)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == uid;
}

bool imapd_is_recent(const struct imapd_session *s, uint32_t uid)
{
	return !s->rev2 && uid_in(s->recent, s->n_recent, uid);
}

unsigned imapd_recent_count(const struct imapd_session *s)
{
	unsigned n = 0, i = 0, j = 0;

	/* the recent UIDs still in the view: both lists ascend */
	while (i < s->n_recent && j < s->n_uids) {
		if (s->recent[i] < s->uids[j]) {
			i++;
		} else if (s->recent[i] > s->uids[j]) {
			j++;
		} else {
			n++;
			i++;
			j++;
		}
	}
	return n;
}

/* The UIDs of the view from index from on that are >= first: \Recent
   here.  A read-write session has claimed them, so no other session
   counts them (first is what store_mailbox_claim_recent returned). */
static void take_recent(struct imapd_session *s, unsigned from, uint32_t first)
{
	for (unsigned i = from; i < s->n_uids; i++)
		if (s->uids[i] >= first)
			push_uid(&s->recent, &s->n_recent, &s->cap_recent, s->uids[i]);
}

unsigned imapd_seq_of(const struct imapd_session *s, uint32_t uid)
{
	unsigned lo = 0, hi = s->n_uids;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (s->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n_uids && s->uids[lo] == uid ? lo + 1 : 0;
}

static void on_change(void *ctx, struct store_mailbox *h, const struct store_change *c)
{
	struct imapd_session *s = ctx;

	switch (c->kind) {
	case STORE_CHANGE_EXISTS:
		s->news_exists = true;
		break;
	case STORE_CHANGE_EXPUNGE:
		for (unsigned i = 0; i < c->count; i++)
			push_uid(&s->news_expunged, &s->n_news_expunged,
				 &s->cap_news_expunged, c->uids[i]);
		break;
	case STORE_CHANGE_FLAGS:
		for (unsigned i = 0; i < c->count; i++)
			push_uid(&s->news_flags, &s->n_news_flags, &s->cap_news_flags,
				 c->uids[i]);
		break;
	case STORE_CHANGE_KEYWORDS:
		s->news_keywords = true;
		break;
	case STORE_CHANGE_GONE:
		s->news_exists = true;
		break;
	}
	if (s->idling)
		imapd_flush_updates(s, true);
}

/* Load the view from the shared index. */
static void view_load(struct imapd_session *s)
{
	unsigned n = store_mailbox_count(s->box);

	if (n > s->cap_uids) {
		s->uids = xreallocarray(s->uids, n, sizeof(*s->uids));
		s->cap_uids = n;
	}
	for (unsigned i = 0; i < n; i++)
		s->uids[i] = store_mailbox_uid_at(s->box, i);
	s->n_uids = n;
}

int imapd_select(struct imapd_session *s, const char *name, bool readonly,
		 struct store_error *error_r)
{
	imapd_unselect(s);
	if (store_mailbox_open(s->account, name, on_change, s, &s->box, error_r) < 0)
		return -1;
	s->readonly = readonly;
	view_load(s);
	take_recent(s, 0, readonly ? store_mailbox_first_recent(s->box) :
			  store_mailbox_claim_recent(s->box));
	s->state = IMAPD_STATE_SELECTED;
	return 1;
}

void imapd_unselect(struct imapd_session *s)
{
	store_mailbox_close(&s->box);
	free(s->uids);
	free(s->news_expunged);
	free(s->news_flags);
	free(s->recent);
	free(s->saved);
	s->uids = s->news_expunged = s->news_flags = s->recent = s->saved = NULL;
	s->n_recent = s->cap_recent = s->n_saved = 0;
	s->n_uids = s->cap_uids = 0;
	s->n_news_expunged = s->cap_news_expunged = 0;
	s->n_news_flags = s->cap_news_flags = 0;
	s->news_exists = false;
	if (s->state == IMAPD_STATE_SELECTED)
		s->state = IMAPD_STATE_AUTH;
}

/* ---- CONDSTORE ---- */

void imapd_condstore_enable(struct imapd_session *s)
{
	struct store_status st;

	if (s->condstore)
		return;
	s->condstore = true;
	if (s->box != NULL) {
		store_mailbox_status(s->box, &st);
		imapd_untagged(s, "OK [HIGHESTMODSEQ %llu] highest",
			       (unsigned long long)st.highestmodseq);
	}
}

void imapd_write_modseq(struct imapd_session *s, struct buf *out, uint64_t modseq)
{
	if (s->condstore)
		buf_printf(out, " MODSEQ (%llu)", (unsigned long long)modseq);
}

static void vanished_range(struct buf *out, uint32_t first, uint32_t last)
{
	buf_printf(out, out->len > 0 ? ",%u" : "%u", first);
	if (last > first)
		buf_printf(out, ":%u", last);
}

int imapd_send_vanished_earlier(struct imapd_session *s, const char *known)
{
	struct store_status st;
	struct imap_seqset set;
	const struct imap_seq_range *r;
	struct buf out;
	const char *error;
	size_t n_ranges;
	unsigned count = store_mailbox_count(s->box);

	store_mailbox_status(s->box, &st);
	imap_seqset_init(&set);
	if (imap_seqset_parse(&set, known != NULL ? known : "1:*", st.uidnext - 1, 100000,
			      &error) < 0) {
		imap_seqset_deinit(&set);
		return -1;
	}
	buf_init(&out, 0);
	r = imap_seqset_ranges(&set, &n_ranges);
	/* the gaps between the UIDs the folder holds, within each range */
	for (size_t k = 0; k < n_ranges && r[k].first < st.uidnext; k++) {
		uint32_t next = r[k].first, last = r[k].last < st.uidnext ? r[k].last :
						   st.uidnext - 1;
		for (unsigned i = store_mailbox_seek(s->box, next); i < count; i++) {
			uint32_t uid = store_mailbox_uid_at(s->box, i);
			if (uid > last)
				break;
			if (uid > next)
				vanished_range(&out, next, uid - 1);
			next = uid + 1;
		}
		if (next <= last)
			vanished_range(&out, next, last);
	}
	if (out.len > 0)
		imapd_untagged(s, "VANISHED (EARLIER) %s", buf_cstr(&out));
	buf_deinit(&out);
	imap_seqset_deinit(&set);
	return 1;
}

/* ---- updates ---- */

void imapd_view_expunge(struct imapd_session *s, uint32_t uid, bool report)
{
	unsigned seq = imapd_seq_of(s, uid);

	if (seq == 0)
		return;
	memmove(s->uids + seq - 1, s->uids + seq, (s->n_uids - seq) * sizeof(*s->uids));
	s->n_uids--;
	if (!report)
		return;
	if (s->qresync)
		imapd_untagged(s, "VANISHED %u", uid);
	else
		imapd_untagged(s, "%u EXPUNGE", seq);
}

static void flush_expunges(struct imapd_session *s)
{
	for (unsigned i = 0; i < s->n_news_expunged; i++)
		imapd_view_expunge(s, s->news_expunged[i], true);
	s->n_news_expunged = 0;
}

static void flush_exists(struct imapd_session *s)
{
	unsigned n = store_mailbox_count(s->box), before = s->n_uids;
	uint32_t last = s->n_uids > 0 ? s->uids[s->n_uids - 1] : 0;

	s->news_exists = false;
	for (unsigned i = store_mailbox_seek(s->box, last + 1); i < n; i++)
		push_uid(&s->uids, &s->n_uids, &s->cap_uids, store_mailbox_uid_at(s->box, i));
	if (s->n_uids == before)
		return;
	take_recent(s, before, s->readonly ? store_mailbox_first_recent(s->box) :
			       store_mailbox_claim_recent(s->box));
	imapd_untagged(s, "%u EXISTS", s->n_uids);
	if (!s->rev2) {
		imapd_untagged(s, "%u RECENT", imapd_recent_count(s));
	}
}

void imapd_send_fetch_flags(struct imapd_session *s, unsigned seq, const struct store_msg *m,
			    bool uid)
{
	struct buf line;

	buf_init(&line, 0);
	if (uid)
		buf_printf(&line, "UID %u ", m->uid);
	imapd_announce_keywords(s, m->keywords);
	buf_puts(&line, "FLAGS ");
	imapd_write_flags(s, &line, m->flags, m->keywords, imapd_is_recent(s, m->uid));
	imapd_write_modseq(s, &line, m->modseq);
	imapd_untagged(s, "%u FETCH (%s)", seq, buf_cstr(&line));
	buf_deinit(&line);
}

static void flush_flags(struct imapd_session *s)
{
	struct store_msg m;

	for (unsigned i = 0; i < s->n_news_flags; i++) {
		unsigned seq = imapd_seq_of(s, s->news_flags[i]);
		if (seq > 0 && store_mailbox_lookup_flags(s->box, s->news_flags[i], &m) > 0)
			imapd_send_fetch_flags(s, seq, &m, true);
	}
	s->n_news_flags = 0;
}

void imapd_announce_keywords(struct imapd_session *s, uint32_t keywords)
{
	if (s->box == NULL || s->known_keywords >= 32 || (keywords >> s->known_keywords) == 0)
		return;
	s->news_keywords = false;
	imapd_send_flags(s);
}

void imapd_send_flags(struct imapd_session *s)
{
	struct buf flags;

	s->known_keywords = store_mailbox_keyword_count(s->box);
	buf_init(&flags, 0);
	imapd_write_flags(s, &flags, STORE_FLAGS_SYSTEM, 0xffffffffu, false);
	imapd_untagged(s, "FLAGS %s", buf_cstr(&flags));
	if (s->readonly) {
		/* nothing can be stored in an EXAMINEd folder (RFC 9051 §7.1) */
		imapd_untagged(s, "OK [PERMANENTFLAGS ()] read-only");
	} else {
		buf_truncate(&flags, flags.len - 1);
		imapd_untagged(s, "OK [PERMANENTFLAGS %s%s\\*)] flags permitted",
			       buf_cstr(&flags), flags.len > 1 ? " " : "");
	}
	buf_deinit(&flags);
}

void imapd_flush_updates(struct imapd_session *s, bool expunges_allowed)
{
	if (s->box == NULL)
		return;
	if (s->news_keywords) {		/* the folder's keyword list grew */
		s->news_keywords = false;
		imapd_send_flags(s);
	}
	if (expunges_allowed)
		flush_expunges(s);
	flush_flags(s);
	if (s->news_exists)
		flush_exists(s);
}

/* ---- sets and flags ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int imapd_resolve_set(struct imapd_session *s, const char *set, bool uid,
		      uint32_t **uids_r)
{
	struct imap_seqset seq;
	uint32_t star = uid ? (s->n_uids > 0 ? s->uids[s->n_uids - 1] : 0) : s->n_uids;
	uint32_t *out = NULL;
	unsigned n = 0, cap = 0;
	const char *error;

	if (strcmp(set, "$") == 0) {	/* SEARCHRES: the saved UIDs still here */
		for (unsigned i = 0; i < s->n_saved; i++)
			if (imapd_seq_of(s, s->saved[i]) > 0)
				push_uid(&out, &n, &cap, s->saved[i]);
		*uids_r = out != NULL ? out : xcalloc(1, sizeof(*out));
		return (int)n;
	}
	imap_seqset_init(&seq);
	if (imap_seqset_parse(&seq, set, star > 0 ? star : 1, 100000, &error) < 0) {
		imap_seqset_deinit(&seq);
		imapd_tagged(s, "BAD", "bad sequence set");
		return -1;
	}
	for (unsigned i = 0; i < s->n_uids; i++)
		if (imap_seqset_contains(&seq, uid ? s->uids[i] : i + 1))
			push_uid(&out, &n, &cap, s->uids[i]);
	imap_seqset_deinit(&seq);
	if (n > 1)
		qsort(out, n, sizeof(*out), cmp_u32);
	*uids_r = out != NULL ? out : xcalloc(1, sizeof(*out));
	return (int)n;
}

void imapd_write_flags(struct imapd_session *s, struct buf *out, uint8_t flags,
		       uint32_t keywords, bool recent)
{
	bool first = true;

	buf_putc(out, '(');
	for (unsigned i = 0; i < 5; i++) {
		if (!(flags & (1u << i)))
			continue;
		buf_printf(out, "%s%s", first ? "" : " ", system_flags[i]);
		first = false;
	}
	for (unsigned i = 0; i < STORE_MAX_KEYWORDS && s->box != NULL; i++) {
		if (!(keywords & (1u << i)) || i >= store_mailbox_keyword_count(s->box))
			continue;
		buf_printf(out, "%s%s", first ? "" : " ", store_mailbox_keyword_name(s->box, i));
		first = false;
	}
	if (recent)
		buf_printf(out, "%s\\Recent", first ? "" : " ");
	buf_putc(out, ')');
}

static int one_flag(struct imapd_session *s, const char *f, bool create, uint8_t *flags,
		    uint32_t *keywords, const char **error_r)
{
	struct store_error err;
	unsigned idx;
	int ret;

	for (unsigned i = 0; i < 5; i++)
		if (strcasecmp(f, system_flags[i]) == 0) {
			*flags |= (uint8_t)(1u << i);
			return 1;
		}
	if (strcasecmp(f, "\\Recent") == 0 || f[0] == '\\') {
		*error_r = "unknown system flag";
		return f[0] == '\\' && strcasecmp(f, "\\Recent") != 0 ? -1 : 1;
	}
	ret = store_mailbox_keyword(s->box, f, create, &idx, &err);
	if (ret < 0) {
		*error_r = "too many keywords in this mailbox";
		return -1;
	}
	if (ret > 0)
		*keywords |= 1u << idx;
	return 1;
}

int imapd_parse_flags(struct imapd_session *s, const struct imap_arg *arg, bool create,
		      uint8_t *flags_r, uint32_t *keywords_r, const char **error_r)
{
	const struct imap_arg *list = arg;
	size_t count = 1;
	const char *f;

	*flags_r = 0;
	*keywords_r = 0;
	if (arg->type == IMAP_ARG_NIL)
		return 1;	/* STORE 1 FLAGS NIL: no flags, as Dovecot reads it */
	if (arg->type == IMAP_ARG_LIST && !imap_arg_get_list(arg, &list, &count))
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (!imap_arg_is_flag(&list[i]) || !imap_arg_get_atom(&list[i], &f)) {
			*error_r = "bad flag";
			return -1;
		}
		if (s->box != NULL && one_flag(s, f, create, flags_r, keywords_r, error_r) < 0)
			return -1;
	}
	return 1;
}
