/*
 * cmd_fetch.c - FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY):
 * the items of each message of a set, one "* n FETCH (...)" per message.
 * Called by the dispatcher (imapd_cmd.c) in the selected state, and again
 * through s->resume each time a long output has drained.
 *
 *   fetch           = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *                     fetch-att / "(" fetch-att *(SP fetch-att) ")")
 *   fetch-att       = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
 *                     "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
 *                     "BODY" ["STRUCTURE"] / "UID" /
 *                     "BODY" section [partial] / "BODY.PEEK" section [partial] /
 *                     "BINARY" [".PEEK"] section-binary [partial] /
 *                     "BINARY.SIZE" section-binary / "MODSEQ"
 *   fetch-modifiers = SP "(" "CHANGEDSINCE" SP mod-sequence-valzer
 *                     [SP "VANISHED"] ")"
 * (the reader, imap_section.c, has parsed the brackets and the partial.)
 *
 * CONDSTORE (RFC 7162): MODSEQ and CHANGEDSINCE turn it on for the
 * session; from then on FLAGS always comes with MODSEQ.  CHANGEDSINCE n
 * leaves out the messages whose mod-sequence is not above n.  QRESYNC's
 * VANISHED (UID FETCH only) first sends "* VANISHED (EARLIER) uids": the
 * UIDs of the set the folder no longer has.
 *
 * Everything a message needs (cache look-ups, the file, its MIME tree,
 * the check that BINARY can decode) is done before the first byte of its
 * response, so a response is never left half written.  The response is
 * staged in a small buffer; body literals are converted to CRLF straight
 * into the session's output.  After each message, when the output holds
 * more than IMAPD_OUTPUT_LOW, the command stops and leaves its place in
 * s->resume_state (one allocation: the session frees it with free() if
 * the client goes away); one message may still add a large literal.
 *
 * Messages are stored with LF line ends; every body section is sent in
 * CRLF form, and a partial <offset.length> counts octets of that form.
 * ENVELOPE, BODYSTRUCTURE and BODY are kept in the store's per-message
 * cache, fields FETCH_CACHE_* below, so that a second FETCH of them opens
 * no file.  A file is read whole (one read(2), or mmap(2) past
 * FETCH_READ_MAX); its size is bounded by the server's message_size for
 * mail correio received.
 *
 * A section the message does not have (BODY[4] of a two-part message)
 * is sent as NIL, BINARY.SIZE of one as 0; a section that names a part
 * sets \Seen even so.
 *
 * Limits: items per command by the reader's argument limit; memory per
 * message: the file (or its mapping), its MIME tree, and for BINARY and
 * HEADER.FIELDS the decoded or filtered section.
 */
#include "imapd_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "lib/util.h"
#include "lib-imap/imap_body.h"
#include "lib-imap/imap_date.h"
#include "lib/log.h"
#include "mime/mime.h"

/* Fields of the store's cache (store_mailbox_cache_get/set) FETCH uses.
   BODY and BODYSTRUCTURE differ for IMAP4rev1 sessions, where a
   MESSAGE/GLOBAL part is a basic part (imap_body_structure, IMAP_BODY_REV1):
   1 and 2 hold the IMAP4rev1 forms, 3 and 4 those of IMAP4rev2.
   XXX: the values carry no version: a change of imap_body's output
   reaches cached messages only when the cache is rebuilt. */
#define FETCH_CACHE_ENVELOPE		0
#define FETCH_CACHE_BODYSTRUCTURE	1
#define FETCH_CACHE_BODY		2
#define FETCH_CACHE_BODYSTRUCTURE_REV2	3
#define FETCH_CACHE_BODY_REV2		4
#define FETCH_CACHE_COUNT		3	/* kinds: ENVELOPE, BODYSTRUCTURE, BODY */

#define FETCH_STAGE (64 * 1024)		/* staged bytes before they go out */
#define FETCH_READ_MAX (1024 * 1024)	/* larger files are mapped */

enum fetch_kind {
	FETCH_UID,
	FETCH_FLAGS,
	FETCH_INTERNALDATE,
	FETCH_RFC822_SIZE,
	FETCH_ENVELOPE,		/* the three cached ones: FETCH_CACHE_* in order */
	FETCH_BODYSTRUCTURE,
	FETCH_BODY,
	FETCH_SECTION,		/* BODY[...], BODY.PEEK[...], RFC822, RFC822.* */
	FETCH_BINARY,		/* BINARY[...], BINARY.PEEK[...] */
	FETCH_BINARY_SIZE,
	FETCH_MODSEQ,
};

struct fetch_item {
	enum fetch_kind kind;
	const char *label;		/* response name of the RFC822 forms */
	const struct imap_section *sec;	/* bracketed items: the reader's */
	const char *spec;		/* the section for mime_section_resolve */
	size_t spec_len;
	bool seen;			/* sets \Seen: not PEEK */
};

#define FETCH_BATCH 32			/* messages prepared at once */
#define FETCH_BATCH_BYTES (4 * 1024 * 1024)	/* files of a batch, about */

/* One message of a batch: what the loop found for it in the index and
   the cache, and its file, open, when an item reads it. */
struct fetch_msg {
	struct store_msg m;		/* name NULL: the index's, not ours */
	unsigned seq;
	bool flags_changed;		/* \Seen set by this FETCH */
	bool has_flags;			/* FLAGS goes out: asked, or changed */
	int fd;				/* -1: no item reads the file */
	unsigned missing;		/* cache kinds to compute (bit FETCH_CACHE_*) */
	struct buf flags;		/* "(\Seen $Label)" as the session shows them */
	struct buf cache[FETCH_CACHE_COUNT];
};

/*
 * The messages prepared at once and their rendering, on the loop when
 * no item reads a file, else on a store worker: everything the session
 * knows (sequence numbers, flags as it shows them, cache values) is
 * copied into msgs first, and the rendering touches only the batch, the
 * command's items (the reader's memory, kept alive by struct imapd_work
 * should the session end) and the open files.  The loop then stores the
 * cache values computed and moves the responses to the session's output,
 * in order.
 */
struct fetch_run {
	struct imapd_work work;		/* first */
	struct imapd_session *s;	/* the loop's only */
	struct fetch_state *st;
	struct store *store;
	bool rev2, condstore;		/* of the session, when prepared */
	struct fetch_msg msgs[FETCH_BATCH];
	unsigned n;			/* prepared */
	unsigned rendered;		/* msgs[0..rendered) are in out */
	struct evbuffer *out;		/* their responses */
	struct buf resp;		/* staged response */
	struct buf tmp;			/* HEADER.FIELDS, BINARY */
	char *file;			/* read(2) buffer */
	size_t file_cap;
	const char *error;		/* tagged NO text when the command fails */
	char error_text[160];

	/* the message being rendered */
	struct fetch_msg *fm;
	bool first;			/* no item written yet */
	const char *data;
	size_t size;
	bool mapped;
	struct mime_message *mime;
};

/* The command between two calls; one allocation (items and uids follow). */
struct fetch_state {
	bool uid;			/* send UID (UID FETCH, or asked for) */
	bool flags;			/* FLAGS asked for */
	bool modseq;			/* MODSEQ asked for, or CHANGEDSINCE */
	uint64_t changed_since;		/* CHANGEDSINCE, 0 if none */
	bool seen;			/* some item sets \Seen */
	bool need_file, need_parse;	/* for every message, whatever the cache */
	bool need_meta;			/* sizes or date: more than flags */
	unsigned cache_want;		/* bit FETCH_CACHE_* */
	unsigned n_items, cap_items;
	struct fetch_item *items;
	unsigned n_uids, next;
	uint32_t *uids;
	struct fetch_run *run;		/* made at the first call */
};

/* ---- arguments ---- */

struct fetch_name {
	const char *name;
	enum fetch_kind kind;
	const char *spec;		/* RFC822 forms */
	bool seen;
};

static const struct fetch_name fetch_names[] = {
	{ "UID", FETCH_UID, NULL, false },
	{ "MODSEQ", FETCH_MODSEQ, NULL, false },
	{ "FLAGS", FETCH_FLAGS, NULL, false },
	{ "INTERNALDATE", FETCH_INTERNALDATE, NULL, false },
	{ "RFC822.SIZE", FETCH_RFC822_SIZE, NULL, false },
	{ "ENVELOPE", FETCH_ENVELOPE, NULL, false },
	{ "BODYSTRUCTURE", FETCH_BODYSTRUCTURE, NULL, false },
	{ "BODY", FETCH_BODY, NULL, false },
	{ "RFC822", FETCH_SECTION, "", true },
	{ "RFC822.HEADER", FETCH_SECTION, "HEADER", false },
	{ "RFC822.TEXT", FETCH_SECTION, "TEXT", true },
};

/* macro name, then its items (RFC 9051 §6.4.5) */
static const char *const fetch_macros[][6] = {
	{ "FAST", "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL, NULL },
	{ "ALL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL },
	{ "FULL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY" },
};

static struct fetch_item *item_add(struct fetch_state *st)
{
	struct fetch_item *it = &st->items[st->n_items++];

	memset(it, 0, sizeof(*it));
	return it;
}

/* A plain item name; false if unknown. */
static bool item_named(struct fetch_state *st, const char *name)
{
	for (size_t i = 0; i < sizeof(fetch_names) / sizeof(fetch_names[0]); i++) {
		const struct fetch_name *n = &fetch_names[i];
		struct fetch_item *it;

		if (strcasecmp(name, n->name) != 0)
			continue;
		if (n->kind == FETCH_UID) {
			st->uid = true;
			return true;
		}
		it = item_add(st);
		it->kind = n->kind;
		it->seen = n->seen;
		if (n->spec != NULL) {
			it->label = n->name;
			it->spec = n->spec;
			it->spec_len = strlen(n->spec);
		}
		return true;
	}
	return false;
}

/* BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...], BINARY.SIZE[...] */
static void item_section(struct fetch_state *st, const struct imap_section *sec)
{
	struct fetch_item *it = item_add(st);
	bool binary = strncasecmp(sec->name, "BINARY", 6) == 0;

	if (!binary)
		it->kind = FETCH_SECTION;
	else if (strcasecmp(sec->name, "BINARY.SIZE") == 0)
		it->kind = FETCH_BINARY_SIZE;
	else
		it->kind = FETCH_BINARY;
	it->sec = sec;
	it->spec = sec->spec;
	/* the field list of HEADER.FIELDS is not part of the spec */
	it->spec_len = strcspn(sec->spec, " ");
	it->seen = strchr(sec->name, '.') == NULL;
}

static bool item_parse(struct fetch_state *st, const struct imap_arg *arg)
{
	const char *name;

	if (arg->section != NULL) {
		item_section(st, arg->section);
		return true;
	}
	return imap_arg_get_atom(arg, &name) && item_named(st, name);
}

/* ALL, FAST, FULL; false when name is none of them. */
static bool item_macro(struct fetch_state *st, const char *name)
{
	for (size_t i = 0; i < sizeof(fetch_macros) / sizeof(fetch_macros[0]); i++) {
		if (strcasecmp(name, fetch_macros[i][0]) != 0)
			continue;
		for (size_t j = 1; j < 6 && fetch_macros[i][j] != NULL; j++)
			item_named(st, fetch_macros[i][j]);
		return true;
	}
	return false;
}

/* What the items need of every message. */
static void items_summarise(struct fetch_state *st)
{
	for (unsigned i = 0; i < st->n_items; i++) {
		const struct fetch_item *it = &st->items[i];

		if (it->kind != FETCH_UID && it->kind != FETCH_FLAGS && it->kind != FETCH_MODSEQ)
			st->need_meta = true;
		if (it->kind == FETCH_FLAGS)
			st->flags = true;
		else if (it->kind == FETCH_MODSEQ)
			st->modseq = true;
		else if (it->kind >= FETCH_ENVELOPE && it->kind <= FETCH_BODY)
			st->cache_want |= 1u << (it->kind - FETCH_ENVELOPE);
		else if (it->kind >= FETCH_SECTION && it->kind <= FETCH_BINARY_SIZE) {
			st->need_file |= it->kind != FETCH_BINARY_SIZE || it->spec_len > 0;
			st->need_parse |= it->spec_len > 0;
		}
		st->seen |= it->seen;
	}
}

/* The fetch att argument: one item, a macro, or a list.  1 or -1. */
static int items_parse(struct fetch_state *st, const struct imap_arg *arg)
{
	const struct imap_arg *list;
	const char *name;
	size_t count;

	if (imap_arg_get_atom(arg, &name) && arg->section == NULL && item_macro(st, name)) {
		items_summarise(st);
		return 1;
	}
	if (!imap_arg_get_list(arg, &list, &count)) {
		list = arg;
		count = 1;
	}
	if (count == 0 || count > st->cap_items - 1)
		return -1;
	for (size_t i = 0; i < count; i++)
		if (!item_parse(st, &list[i]))
			return -1;
	items_summarise(st);
	return 1;
}

/* Room for the items of arg: a list's length, or the largest macro. */
static unsigned items_cap(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_LIST ? (unsigned)arg->len + 1 : 6;
}

static struct fetch_state *state_new(unsigned cap_items, const uint32_t *uids, unsigned n)
{
	size_t size = sizeof(struct fetch_state) + cap_items * sizeof(struct fetch_item) +
		      (size_t)n * sizeof(uint32_t);
	struct fetch_state *st = xcalloc(1, size);

	st->items = (struct fetch_item *)(st + 1);
	st->cap_items = cap_items;
	st->uids = (uint32_t *)(st->items + cap_items);
	st->n_uids = n;
	if (n > 0)
		memcpy(st->uids, uids, n * sizeof(*uids));
	return st;
}

/* ---- the message: flags, file, tree, cache ---- */

/* The command fails with "NO [code] text". */
static void run_fail(struct fetch_run *r, const char *code, const char *text)
{
	snprintf(r->error_text, sizeof(r->error_text), "[%s] %s", code, text);
	r->error = r->error_text;
}

/* The store's cache field of kind k (FETCH_CACHE_ENVELOPE, _BODYSTRUCTURE
   or _BODY) for this session. */
static unsigned cache_field(bool rev2, unsigned k)
{
	return rev2 && k != FETCH_CACHE_ENVELOPE ? k + 2 : k;
}

/* The message's facts: flags alone when the items want no more (sizes
   and dates may cost the store a read of the file).  false if gone. */
static bool msg_lookup(struct fetch_run *r, struct fetch_msg *fm, uint32_t uid)
{
	if (r->st->need_meta)
		return store_mailbox_lookup(r->s->box, uid, &fm->m) > 0;
	return store_mailbox_lookup_flags(r->s->box, uid, &fm->m) > 0;
}

/* BODY[...] or BINARY[...] without PEEK on a read-write mailbox (loop). */
static bool msg_mark_seen(struct fetch_run *r, struct fetch_msg *fm, uint32_t uid)
{
	struct imapd_session *s = r->s;
	struct store_flag_result res;
	struct store_error err;

	if (store_mailbox_set_flags(s->box, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, 0,
				    &res, &err) < 0) {
		log_warn("imapd: %s: setting \\Seen on UID %u: %s", s->user, uid, err.text);
		return true;
	}
	if (res.status == STORE_FLAG_GONE)
		return false;
	if (res.status == STORE_FLAG_CHANGED) {
		fm->flags_changed = true;
		return msg_lookup(r, fm, uid);
	}
	return true;
}

/* On the loop: what message uid needs from the session and the store,
   into fm; its file opened when an item reads it.  1, 0 gone (skipped),
   -1 the command fails (r->error). */
static int msg_prepare(struct fetch_run *r, struct fetch_msg *fm, uint32_t uid)
{
	struct imapd_session *s = r->s;
	const struct fetch_state *st = r->st;
	struct store_error err;
	int ret;

	fm->flags_changed = false;
	fm->fd = -1;
	fm->missing = 0;
	if (!msg_lookup(r, fm, uid) || fm->m.modseq <= st->changed_since)
		return 0;
	if ((fm->seq = imapd_seq_of(s, uid)) == 0)
		return 0;
	if (st->seen && !s->readonly && (fm->m.flags & STORE_FLAG_SEEN) == 0 &&
	    !msg_mark_seen(r, fm, uid))
		return 0;
	for (unsigned k = 0; k < FETCH_CACHE_COUNT; k++) {
		if ((st->cache_want & (1u << k)) != 0 &&
		    store_mailbox_cache_get(s->box, uid, cache_field(r->rev2, k),
					    &fm->cache[k]) <= 0)
			fm->missing |= 1u << k;
	}
	if (st->need_file || fm->missing != 0) {
		ret = store_mailbox_open_msg(s->box, uid, &fm->fd, &fm->m, &err);
		if (ret <= 0) {
			fm->fd = -1;
			if (ret < 0)
				run_fail(r, "UNAVAILABLE", err.text);
			return ret;
		}
	}
	fm->has_flags = st->flags || fm->flags_changed;
	if (fm->has_flags) {
		/* a keyword the client has not been told of: FLAGS first */
		imapd_announce_keywords(s, fm->m.keywords);
		buf_reset(&fm->flags);
		imapd_write_flags(s, &fm->flags, fm->m.flags, fm->m.keywords,
				  imapd_is_recent(s, uid));
	}
	fm->m.name = NULL;
	return 1;
}

/* Read all of fd into the run's buffer.  1 or -1. */
static int file_read(struct fetch_run *r, int fd, size_t size)
{
	if (read_file_at_start(fd, size, &r->file, &r->file_cap) != (ssize_t)size)
		return -1;
	r->data = r->file;
	return 1;
}

static int file_load(struct fetch_run *r, int fd)
{
	struct stat sb;
	void *p;

	if (fstat(fd, &sb) < 0)
		return -1;
	r->size = (size_t)sb.st_size;
	if (r->size == 0) {
		r->data = "";
		return 1;
	}
	if (r->size <= FETCH_READ_MAX)
		return file_read(r, fd, r->size);
	p = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	r->data = p;
	r->mapped = true;
	return 1;
}

static void msg_end(struct fetch_run *r)
{
	mime_message_free(&r->mime);
	if (r->mapped)
		munmap((void *)r->data, r->size);
	r->mapped = false;
	r->data = NULL;
	r->size = 0;
}

/* Compute the cache kinds the message lacks from its tree (the loop
   stores them afterwards). */
static void cache_fill(struct fetch_run *r, struct fetch_msg *fm)
{
	const struct mime_part *root = mime_message_root(r->mime);
	unsigned flags = r->rev2 ? 0 : IMAP_BODY_REV1;

	for (unsigned k = 0; k < FETCH_CACHE_COUNT; k++) {
		struct buf *b = &fm->cache[k];

		if ((fm->missing & (1u << k)) == 0)
			continue;
		buf_reset(b);
		if (k == FETCH_CACHE_ENVELOPE)
			imap_body_envelope(r->mime, root, b);
		else if (k == FETCH_CACHE_BODYSTRUCTURE)
			imap_body_structure(r->mime, root, flags | IMAP_BODY_EXTENDED, b);
		else
			imap_body_structure(r->mime, root, flags, b);
	}
}

/* RFC 3516 §4.3: a part whose encoding cannot be undone fails the command. */
static bool binary_check(struct fetch_run *r)
{
	for (unsigned i = 0; i < r->st->n_items; i++) {
		const struct fetch_item *it = &r->st->items[i];
		struct mime_section sec;

		if ((it->kind != FETCH_BINARY && it->kind != FETCH_BINARY_SIZE) ||
		    it->spec_len == 0)
			continue;
		if (mime_section_resolve(r->mime, it->spec, it->spec_len, &sec) > 0 &&
		    sec.part->cte == MIME_CTE_UNKNOWN) {
			run_fail(r, "UNKNOWN-CTE", "cannot decode this part");
			return false;
		}
	}
	return true;
}

/* Everything the items need of the prepared message fm, read from its
   file: 1, or -1 the command fails (r->error).  Any thread. */
static int msg_load(struct fetch_run *r, struct fetch_msg *fm)
{
	bool parse = r->st->need_parse || fm->missing != 0;
	int ret = 1;

	r->fm = fm;
	if (fm->fd >= 0) {
		store_read_delay(r->store);
		ret = file_load(r, fm->fd);
		if (ret < 0) {
			log_err("imapd: reading UID %u: %m", fm->m.uid);
			run_fail(r, "SERVERBUG", "message could not be read");
		}
		close(fm->fd);
		fm->fd = -1;
		if (ret < 0)
			return -1;
	}
	if (parse)
		r->mime = mime_message_parse(r->data, r->size, NULL);
	if (fm->missing != 0)
		cache_fill(r, fm);
	return parse && !binary_check(r) ? -1 : 1;
}

/* ---- writing ---- */

/* Hand the staged bytes to the session's output. */
static void stage_flush(struct fetch_run *r)
{
	if (r->resp.len == 0)
		return;
	evbuffer_add(r->out, r->resp.data, r->resp.len);
	buf_reset(&r->resp);
}

static void out_bytes(struct fetch_run *r, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (n >= FETCH_STAGE) {
		stage_flush(r);
		evbuffer_add(r->out, p, n);
		return;
	}
	buf_append(&r->resp, p, n);
	if (r->resp.len >= FETCH_STAGE)
		stage_flush(r);
}

/* Where a windowed copy goes: octets skip .. skip + take of the source.
   With dst NULL nothing is copied: nul tells whether the window has NUL. */
struct fetch_window {
	char *dst;
	uint64_t skip, take;
	bool nul;
};

static void window_copy(struct fetch_window *w, const char *p, size_t n)
{
	if (w->skip >= n) {
		w->skip -= n;
		return;
	}
	p += w->skip;
	n -= (size_t)w->skip;
	w->skip = 0;
	if (n > w->take)
		n = (size_t)w->take;
	if (w->dst == NULL) {
		w->nul |= memchr(p, '\0', n) != NULL;
	} else {
		memcpy(w->dst, p, n);
		w->dst += n;
	}
	w->take -= n;
}

/* Copy the window of the CRLF form of p[0..n) to w->dst (a LF not preceded
   by CR inside the range gets one, as mime_crlf_size counts).  Rather than
   mime_crlf_append, which goes byte by byte into a buf: this copies whole
   lines, clips to a partial, and writes into the output's own memory. */
static void crlf_copy(struct fetch_window *w, const char *p, size_t n)
{
	const char *q = p, *end = p + n, *lf;

	while (q < end && w->take > 0) {
		lf = memchr(q, '\n', (size_t)(end - q));
		if (lf == NULL) {
			window_copy(w, q, (size_t)(end - q));
			break;
		}
		if (lf == p || lf[-1] != '\r') {
			window_copy(w, q, (size_t)(lf - q));
			window_copy(w, "\r\n", 2);
		} else {
			window_copy(w, q, (size_t)(lf + 1 - q));
		}
		q = lf + 1;
	}
}

/* The partial window of an item over content of total octets. */
static void item_window(const struct fetch_item *it, uint64_t total, uint64_t *skip_r,
			uint64_t *take_r)
{
	*skip_r = 0;
	*take_r = total;
	if (it->sec == NULL || !it->sec->partial)
		return;
	*skip_r = it->sec->partial_offset < total ? it->sec->partial_offset : total;
	*take_r = total - *skip_r;
	if (*take_r > it->sec->partial_length)
		*take_r = it->sec->partial_length;
}

/* NUL may not appear in a literal outside BINARY (RFC 9051 §4.3): as
   Dovecot does, it is sent as 0x80, in the output's memory. */
static void nul_to_0x80(char *p, size_t n)
{
	char *end = p + n;

	while ((p = memchr(p, '\0', (size_t)(end - p))) != NULL)
		*p++ = (char)0x80;
}

/* The window of the CRLF form of p[0..n) straight into the output, in
   one extent (a big BODY[] is one large piece of the output); NUL kept
   only for BINARY. */
static void crlf_out(struct fetch_run *r, const char *p, size_t n, uint64_t skip,
		     uint64_t take, bool keep_nul)
{
	struct fetch_window w = { NULL, skip, take, false };
	struct evbuffer_iovec v;

	stage_flush(r);
	if (evbuffer_reserve_space(r->out, (ev_ssize_t)take, &v, 1) < 1)
		abort();	/* out of memory, as buf does */
	w.dst = v.iov_base;
	crlf_copy(&w, p, n);
	v.iov_len = (size_t)(take - w.take);
	if (!keep_nul)
		nul_to_0x80(v.iov_base, v.iov_len);
	evbuffer_commit_space(r->out, &v, 1);
}

/* A literal of the CRLF form of raw text p[0..n), windowed by the item;
   for BINARY[] a literal8 (RFC 3516) if the text holds NUL. */
static void literal_crlf(struct fetch_run *r, const struct fetch_item *it, const char *p,
			 size_t n)
{
	bool binary = it->kind == FETCH_BINARY;
	struct fetch_window probe;
	uint64_t skip, take;

	item_window(it, mime_crlf_size(p, n), &skip, &take);
	if (take == 0) {
		buf_puts(&r->resp, "{0}\r\n");	/* as Dovecot: a literal, never "" */
		return;
	}
	probe = (struct fetch_window){ NULL, skip, take, false };
	if (binary)
		crlf_copy(&probe, p, n);
	buf_printf(&r->resp, "%s{%llu}\r\n", probe.nul ? "~" : "", (unsigned long long)take);
	crlf_out(r, p, n, skip, take, binary);
}

/* "BODY[1.TEXT]<0> ", "BINARY.SIZE[2] ", "RFC822.HEADER " */
static void item_label(struct fetch_run *r, const struct fetch_item *it)
{
	static const char *const names[] = { "BODY", "BINARY", "BINARY.SIZE" };

	if (it->label != NULL) {
		buf_printf(&r->resp, "%s ", it->label);
		return;
	}
	buf_printf(&r->resp, "%s[%s]", names[it->kind - FETCH_SECTION], it->sec->spec);
	if (it->sec->partial)
		buf_printf(&r->resp, "<%u>", it->sec->partial_offset);
	buf_putc(&r->resp, ' ');
}

static void write_section(struct fetch_run *r, const struct fetch_item *it)
{
	struct mime_section sec;
	bool exclude;

	item_label(r, it);
	if (it->spec_len == 0) {
		literal_crlf(r, it, r->data, r->size);
		return;
	}
	if (mime_section_resolve(r->mime, it->spec, it->spec_len, &sec) <= 0) {
		buf_puts(&r->resp, "NIL");
		return;
	}
	if (sec.kind != MIME_SECTION_HEADER_FIELDS && sec.kind != MIME_SECTION_HEADER_FIELDS_NOT) {
		literal_crlf(r, it, r->data + sec.start, sec.end - sec.start);
		return;
	}
	exclude = sec.kind == MIME_SECTION_HEADER_FIELDS_NOT;
	buf_reset(&r->tmp);
	mime_header_filter(r->data + sec.start, sec.end - sec.start, it->sec->fields,
			   it->sec->field_count, exclude, &r->tmp);
	literal_crlf(r, it, r->tmp.data, r->tmp.len);
}

/* BINARY[section]<partial>: the decoded part, as literal8 if it holds NUL. */
static void write_binary(struct fetch_run *r, const struct fetch_item *it)
{
	struct mime_section sec;
	uint64_t skip, take;
	const char *p;

	item_label(r, it);
	if (it->spec_len == 0) {
		literal_crlf(r, it, r->data, r->size);
		return;
	}
	buf_reset(&r->tmp);
	if (mime_section_resolve(r->mime, it->spec, it->spec_len, &sec) <= 0 ||
	    mime_text_binary(r->mime, sec.part, &r->tmp) <= 0) {
		buf_puts(&r->resp, "NIL");
		return;
	}
	item_window(it, r->tmp.len, &skip, &take);
	if (take == 0) {
		buf_puts(&r->resp, "{0}\r\n");
		return;
	}
	p = r->tmp.data + skip;
	buf_printf(&r->resp, "%s{%llu}\r\n", memchr(p, '\0', (size_t)take) != NULL ? "~" : "",
		   (unsigned long long)take);
	out_bytes(r, p, (size_t)take);
}

static void write_binary_size(struct fetch_run *r, const struct fetch_item *it)
{
	struct mime_section sec;
	uint64_t size = 0;

	item_label(r, it);
	if (it->spec_len == 0)
		size = r->fm->m.vsize;
	else if (mime_section_resolve(r->mime, it->spec, it->spec_len, &sec) > 0)
		mime_text_binary_size(r->mime, sec.part, &size);
	buf_printf(&r->resp, "%llu", (unsigned long long)size);
}

static void write_flags(struct fetch_run *r)
{
	buf_puts(&r->resp, "FLAGS ");
	buf_append(&r->resp, r->fm->flags.data, r->fm->flags.len);
}

/* INTERNALDATE in the server's local zone. */
static void write_date(struct fetch_run *r)
{
	time_t t = r->fm->m.internal_date;
	struct tm tm;
	int tz = 0;

	if (localtime_r(&t, &tm) != NULL)
		tz = (int)(tm.tm_gmtoff / 60);
	buf_puts(&r->resp, "INTERNALDATE \"");
	if (imap_date_time_write(&r->resp, t, tz) < 0)
		imap_date_time_write(&r->resp, 0, 0);
	buf_putc(&r->resp, '"');
}

static void write_item(struct fetch_run *r, const struct fetch_item *it)
{
	static const char *const cached[] = { "ENVELOPE ", "BODYSTRUCTURE ", "BODY " };
	unsigned f;

	if (!r->first)
		buf_putc(&r->resp, ' ');
	r->first = false;
	switch (it->kind) {
	case FETCH_UID:
		break;
	case FETCH_FLAGS:
		write_flags(r);
		break;
	case FETCH_INTERNALDATE:
		write_date(r);
		break;
	case FETCH_RFC822_SIZE:
		buf_printf(&r->resp, "RFC822.SIZE %llu", (unsigned long long)r->fm->m.vsize);
		break;
	case FETCH_ENVELOPE:
	case FETCH_BODYSTRUCTURE:
	case FETCH_BODY:
		f = it->kind - FETCH_ENVELOPE;
		buf_puts(&r->resp, cached[f]);
		out_bytes(r, r->fm->cache[f].data, r->fm->cache[f].len);
		break;
	case FETCH_SECTION:
		write_section(r, it);
		break;
	case FETCH_BINARY:
		write_binary(r, it);
		break;
	case FETCH_BINARY_SIZE:
		write_binary_size(r, it);
		break;
	case FETCH_MODSEQ:
		buf_printf(&r->resp, "MODSEQ (%llu)", (unsigned long long)r->fm->m.modseq);
		break;
	}
}

/* "* 3 FETCH (UID 7 FLAGS (\Seen) ...)" */
static void msg_write(struct fetch_run *r)
{
	const struct fetch_state *st = r->st;
	const struct fetch_msg *fm = r->fm;
	struct fetch_item flags = { .kind = FETCH_FLAGS }, modseq = { .kind = FETCH_MODSEQ };

	r->first = true;
	buf_printf(&r->resp, "* %u FETCH (", fm->seq);
	if (st->uid) {
		buf_printf(&r->resp, "UID %u", r->fm->m.uid);
		r->first = false;
	}
	for (unsigned i = 0; i < st->n_items; i++)
		write_item(r, &st->items[i]);
	if (fm->flags_changed && !st->flags)
		write_item(r, &flags);
	if (!st->modseq && (st->changed_since > 0 || (r->condstore && fm->has_flags)))
		write_item(r, &modseq);
	buf_puts(&r->resp, ")\r\n");
	stage_flush(r);
}

/* ---- the command ---- */

static struct fetch_run *run_new(struct imapd_session *s, struct fetch_state *st)
{
	struct fetch_run *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->out = evbuffer_new()) == NULL)
		abort();
	r->s = s;
	r->st = st;
	r->store = imapd_store(s);
	buf_init(&r->resp, 0);
	buf_init(&r->tmp, 0);
	for (unsigned i = 0; i < FETCH_BATCH; i++) {
		buf_init(&r->msgs[i].flags, 0);
		for (unsigned f = 0; f < FETCH_CACHE_COUNT; f++)
			buf_init(&r->msgs[i].cache[f], 0);
	}
	return r;
}

/* The command's state and its run (the session's resume_free). */
static void state_free(void *arg)
{
	struct fetch_state *st = arg;
	struct fetch_run *r = st->run;

	if (r != NULL) {
		for (unsigned i = 0; i < FETCH_BATCH; i++) {
			if (i < r->n && r->msgs[i].fd >= 0)
				close(r->msgs[i].fd);
			buf_deinit(&r->msgs[i].flags);
			for (unsigned f = 0; f < FETCH_CACHE_COUNT; f++)
				buf_deinit(&r->msgs[i].cache[f]);
		}
		evbuffer_free(r->out);
		buf_deinit(&r->resp);
		buf_deinit(&r->tmp);
		free(r->file);
		free(r);
	}
	free(st);
}

/* On the loop: the next messages of the set, up to a batch. */
static void batch_prepare(struct fetch_run *r)
{
	struct fetch_state *st = r->st;
	size_t bytes = 0;
	int ret;

	r->n = r->rendered = 0;
	r->rev2 = r->s->rev2;
	r->condstore = r->s->condstore;
	while (r->n < FETCH_BATCH && st->next < st->n_uids && bytes < FETCH_BATCH_BYTES) {
		struct fetch_msg *fm = &r->msgs[r->n];

		if ((ret = msg_prepare(r, fm, st->uids[st->next])) < 0)
			break;
		st->next++;
		if (ret == 0)
			continue;
		r->n++;
		if (fm->fd >= 0)
			bytes += fm->m.size;
	}
}

static bool batch_reads(const struct fetch_run *r)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->msgs[i].fd >= 0 || r->msgs[i].missing != 0)
			return true;
	return false;
}

/* Render the batch's responses into r->out, until one fails.  Any
   thread: the worker's step when a file is read. */
static void batch_render(void *arg)
{
	struct fetch_run *r = arg;

	for (; r->rendered < r->n && r->error == NULL; r->rendered++) {
		struct fetch_msg *fm = &r->msgs[r->rendered];

		if (msg_load(r, fm) > 0)
			msg_write(r);
		msg_end(r);
		if (r->error != NULL)
			break;
	}
	for (unsigned i = 0; i < r->n; i++)
		if (r->msgs[i].fd >= 0) {
			close(r->msgs[i].fd);
			r->msgs[i].fd = -1;
		}
}

/* On the loop: keep the cache values computed, hand the responses to the
   session. */
static void batch_finish(struct fetch_run *r)
{
	struct imapd_session *s = r->s;

	for (unsigned i = 0; i < r->rendered; i++) {
		struct fetch_msg *fm = &r->msgs[i];
		for (unsigned k = 0; k < FETCH_CACHE_COUNT; k++)
			if ((fm->missing & (1u << k)) != 0)
				store_mailbox_cache_set(s->box, fm->m.uid, cache_field(r->rev2, k),
							fm->cache[k].data, fm->cache[k].len, NULL);
	}
	evbuffer_add_buffer(imapd_out(s), r->out);
	r->n = r->rendered = 0;
}

static void fetch_end(struct imapd_session *s)
{
	struct fetch_state *st = s->resume_state;
	const char *error = st->run->error;

	s->resume = NULL;
	if (error != NULL)
		imapd_tagged(s, "NO", "%s", error);	/* the text is copied out first */
	else
		imapd_tagged(s, "OK", "%s completed", s->cmd.uid ? "UID FETCH" : "FETCH");
	s->resume_state = NULL;
	s->resume_free = NULL;
	state_free(st);
}

static void fetch_continue(struct imapd_session *s);

/* A worker rendered a batch. */
static void batch_done(void *arg)
{
	struct fetch_run *r = arg;
	struct imapd_session *s = r->s;

	if (!imapd_work_alive(&r->work))
		return;		/* the session is gone, and with it the run */
	batch_finish(r);
	imapd_work_resume(s, fetch_continue);
}

/* Go on from where the state says: called again by the session when the
   output has drained, or when a worker rendered a batch. */
static void fetch_continue(struct imapd_session *s)
{
	struct fetch_state *st = s->resume_state;
	struct fetch_run *r = st->run;

	s->resume = NULL;
	while (r->error == NULL && st->next < st->n_uids) {
		if (evbuffer_get_length(imapd_out(s)) > IMAPD_OUTPUT_LOW) {
			s->resume = fetch_continue;	/* when the output drains */
			return;
		}
		batch_prepare(r);
		if (batch_reads(r)) {
			/* the files are read and rendered off the loop */
			imapd_work_begin(s, &r->work);
			store_offload(r->store, batch_render, batch_done, r);
			return;
		}
		batch_render(r);
		batch_finish(r);
	}
	fetch_end(s);
}

/* (CHANGEDSINCE n [VANISHED]); VANISHED only for UID FETCH once QRESYNC
   is on.  1 or -1. */
static int modifiers_parse(const struct imapd_session *s, const struct imap_arg *arg,
			   uint64_t *changed_since_r, bool *vanished_r)
{
	const struct imap_arg *list;
	bool changed = false;
	size_t count;

	*vanished_r = false;
	if (!imap_arg_get_list(arg, &list, &count))
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (imap_arg_atom_equals(&list[i], "CHANGEDSINCE") && !changed && i + 1 < count &&
		    imap_arg_get_number64(&list[i + 1], changed_since_r)) {
			changed = true;
			i++;
		} else if (imap_arg_atom_equals(&list[i], "VANISHED") && !*vanished_r &&
			   s->qresync && s->cmd.uid) {
			*vanished_r = true;
		} else {
			return -1;
		}
	}
	return changed ? 1 : -1;	/* VANISHED needs CHANGEDSINCE */
}

void imapd_cmd_fetch(struct imapd_session *s)
{
	const struct imap_arg *args = s->cmd.args;
	struct fetch_state *st;
	uint64_t changed_since = 0;
	bool vanished = false;
	const char *set;
	uint32_t *uids;
	int n;

	if (s->cmd.arg_count < 2 || s->cmd.arg_count > 3 || !imap_arg_get_atom(&args[0], &set)) {
		imapd_tagged(s, "BAD", "usage: FETCH sequence-set items [(CHANGEDSINCE n)]");
		return;
	}
	if (s->cmd.arg_count == 3 &&
	    modifiers_parse(s, &args[2], &changed_since, &vanished) < 0) {
		imapd_tagged(s, "BAD", "unknown or malformed FETCH modifier");
		return;
	}
	if ((n = imapd_resolve_set(s, set, s->cmd.uid, &uids)) < 0) {
		imapd_done(s);	/* BAD sent */
		return;
	}
	st = state_new(items_cap(&args[1]), uids, (unsigned)n);
	free(uids);
	st->uid = s->cmd.uid;
	if (items_parse(st, &args[1]) < 0) {
		free(st);
		imapd_tagged(s, "BAD", "unknown or malformed fetch item");
		return;
	}
	st->changed_since = changed_since;
	if (st->modseq || s->cmd.arg_count == 3)
		imapd_condstore_enable(s);
	if (vanished)
		imapd_send_vanished_earlier(s, set);	/* set parsed well above */
	st->run = run_new(s, st);
	s->resume_state = st;
	s->resume_free = state_free;
	fetch_continue(s);
}
