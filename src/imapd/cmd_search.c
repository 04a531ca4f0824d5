/*
 * cmd_search.c - SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4,
 * RFC 4731 ESEARCH).  Called by the dispatcher (imapd_cmd.c) in the
 * selected state.
 *
 * The arguments become a search program (lib-imap/imap_search.c, pure
 * and fuzzed); this file evaluates it against each message of the
 * session's view and answers "* SEARCH n..." (IMAP4rev1), or
 * "* ESEARCH (TAG ...) ..." when RETURN was given or the session is
 * IMAP4rev2.
 *
 * Flags, keywords, size, UID and INTERNALDATE come from the index; a
 * message file is read only when a key needs its content, and of the
 * keys of an AND or OR those that need nothing are tried first.  Header
 * keys (FROM, SUBJECT, HEADER, SENT*) read the first SEARCH_HEADER_READ
 * bytes when the header ends there; BODY and TEXT read the whole file
 * and decode it (transfer encodings, charsets, RFC 2047 words) to UTF-8
 * with the mime module, then match case-folded substrings.
 *
 * Dates: BEFORE/ON/SINCE compare the day of INTERNALDATE in the server's
 * zone (as FETCH shows it); SENT* the day written in the Date: header
 * (a message without a valid one matches none of them).
 *
 * Limits: SEARCH_PART_MAX decoded bytes per text part; files as FETCH
 * reads them (read(2) up to SEARCH_READ_MAX, mapped above).
 *
 * A search that reads message files gives the loop back every
 * SEARCH_SLICE_MS (imapd_resume_soon), so that a TEXT search of a large
 * mailbox does not hold up the other sessions; its state (one struct
 * search_job) waits in s->resume_state meanwhile.
 */
#include "imapd_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "lib/util.h"
#include "lib-imap/imap_search.h"
#include "lib/log.h"
#include "mime/mime.h"

_Static_assert(IMAP_SEARCH_FLAG_SEEN == STORE_FLAG_SEEN &&
	       IMAP_SEARCH_FLAG_ANSWERED == STORE_FLAG_ANSWERED &&
	       IMAP_SEARCH_FLAG_FLAGGED == STORE_FLAG_FLAGGED &&
	       IMAP_SEARCH_FLAG_DELETED == STORE_FLAG_DELETED &&
	       IMAP_SEARCH_FLAG_DRAFT == STORE_FLAG_DRAFT, "flag bits differ");

#define SEARCH_HEADER_READ (64 * 1024)		/* first read for header keys */
#define SEARCH_READ_MAX (1024 * 1024)		/* larger files are mapped */
#define SEARCH_PART_MAX (32 * 1024 * 1024)	/* decoded bytes of one part */

/* One piece of a message's decoded text, case-folded, in the pool. */
struct search_text {
	bool header;		/* a header field, kept as "name: value" */
	bool root;		/* of the message itself, not an embedded one */
	size_t off, len;	/* the whole piece */
	size_t name_len;	/* header: the name; the value starts 2 after */
};

/* One SEARCH command; the message fields are reset for each message. */
struct search_run {
	struct imapd_session *s;
	const struct imap_search_program *prog;
	struct store *store;
	char *file;			/* read(2) buffer */
	size_t file_cap;
	const char *error;		/* NO [code] text when it fails */
	uint64_t modseq;		/* highest mod-sequence of the matches */
	uint64_t first_modseq, last_modseq;	/* of the first and last match */

	/* KEYWORD keys: the folder's index of each node's keyword, -1 none
	   (by position in prog->nodes), looked up on the loop */
	int *kw_index;

	/* the message being looked at */
	struct store_msg m;
	unsigned seq;
	bool recent;			/* \Recent in this session */
	int fd;				/* its file, open (on a worker), or -1 */
	bool gone;			/* expunged meanwhile: no match */
	const char *data;		/* its file, or the header of it */
	size_t size;
	bool whole, mapped;
	struct mime_message *mime;
	bool headers, bodies;		/* texts collected */
	struct buf pool;
	struct search_text *texts;
	unsigned n_texts, cap_texts;
	int sent;			/* Date: day: 0 not looked, 1 found, -1 none */
	time_t sent_day;
};

/* ---- the message file ---- */

static void msg_unload(struct search_run *r)
{
	mime_message_free(&r->mime);
	if (r->mapped)
		munmap((void *)r->data, r->size);
	r->data = NULL;
	r->size = 0;
	r->whole = r->mapped = false;
	r->headers = r->bodies = false;
	r->n_texts = 0;
	buf_reset(&r->pool);
	r->sent = 0;
}

/* Read size bytes of fd from its start into the run's buffer.  1 or -1. */
static int file_read(struct search_run *r, int fd, size_t size)
{
	if (read_file_at_start(fd, size, &r->file, &r->file_cap) != (ssize_t)size)
		return -1;
	r->data = r->file;
	r->size = size;
	return 1;
}

/* Offset just past the empty line ending the header in data, or 0. */
static size_t header_end(const char *data, size_t size)
{
	const char *p;

	if (size > 0 && data[0] == '\n')
		return 1;
	if ((p = memmem(data, size, "\n\n", 2)) != NULL)
		return (size_t)(p - data) + 2;
	if ((p = memmem(data, size, "\n\r\n", 3)) != NULL)
		return (size_t)(p - data) + 3;
	return 0;
}

/* The header only when it ends early in the file, else the whole file. */
static int file_load(struct search_run *r, int fd, bool whole)
{
	struct stat sb;
	size_t size, end;
	void *p;

	if (fstat(fd, &sb) < 0)
		return -1;
	size = (size_t)sb.st_size;
	r->whole = true;
	if (size == 0) {
		r->data = "";
		return 1;
	}
	if (!whole && size > SEARCH_HEADER_READ) {
		if (file_read(r, fd, SEARCH_HEADER_READ) < 0)
			return -1;
		if ((end = header_end(r->data, r->size)) > 0) {
			r->size = end;
			r->whole = false;
			return 1;
		}
	}
	if (size <= SEARCH_READ_MAX)
		return file_read(r, fd, size);
	if ((p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
		return -1;
	r->data = p;
	r->size = size;
	r->mapped = true;
	return 1;
}

/* The message parsed, whole or at least its header.  1, 0 gone, -1. */
static int msg_load(struct search_run *r, bool whole)
{
	struct store_error err;
	struct store_msg m;
	int fd, ret;

	if (r->data != NULL && (r->whole || !whole))
		return 1;
	msg_unload(r);
	if ((fd = r->fd) < 0) {
		/* on the loop: no worker took it */
		ret = store_mailbox_open_msg(r->s->box, r->m.uid, &fd, &m, &err);
		if (ret == 0)
			r->gone = true;
		if (ret <= 0) {
			if (ret < 0)
				r->error = "[UNAVAILABLE] a message could not be read";
			return ret;
		}
	}
	store_read_delay(r->store);
	ret = file_load(r, fd, whole);
	if (fd != r->fd)
		close(fd);
	if (ret < 0) {
		log_err("imapd: search: reading UID %u: %m", r->m.uid);
		r->error = "[SERVERBUG] a message could not be read";
		return -1;
	}
	r->mime = mime_message_parse(r->data, r->size, NULL);
	return 1;
}

/* ---- decoded text ---- */

/* A piece of text for t (its value: text[0..len)), folded, in the pool. */
static void text_add(struct search_run *r, const struct mime_text *t, const char *text,
		     size_t len)
{
	struct search_text *e;

	if (r->n_texts == r->cap_texts) {
		unsigned cap = r->cap_texts == 0 ? 32 : r->cap_texts * 2;
		r->texts = xreallocarray(r->texts, cap, sizeof(*r->texts));
		r->cap_texts = cap;
	}
	e = &r->texts[r->n_texts++];
	e->header = t->kind == MIME_TEXT_HEADER;
	e->root = t->part->parent == NULL;
	e->off = r->pool.len;
	e->name_len = e->header ? t->name_len : 0;
	if (e->header) {
		buf_append(&r->pool, t->name, t->name_len);
		buf_puts(&r->pool, ": ");
	}
	buf_append(&r->pool, text, len);
	e->len = r->pool.len - e->off;
	imap_search_fold(r->pool.data + e->off, e->len);
}

static bool address_field(const struct mime_text *t)
{
	static const char *const names[] = { "From", "To", "Cc", "Bcc", "Sender", "Reply-To" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (t->name_len == strlen(names[i]) && strncasecmp(t->name, names[i], t->name_len) == 0)
			return true;
	return false;
}

/* Each text as it is; an address field also in its normal form, so that
   FROM user@example.org finds "<user (comment)@ example.org>" too. */
static int collect(void *ctx, const struct mime_text *t)
{
	struct search_run *r = ctx;
	struct buf norm;

	text_add(r, t, t->text, t->len);
	if (t->kind == MIME_TEXT_HEADER && address_field(t)) {
		buf_init(&norm, 0);
		if (mime_address_text(t->text, t->len, &norm) > 0 && norm.len > 0)
			text_add(r, t, norm.data, norm.len);
		buf_deinit(&norm);
	}
	return 1;
}

/* Header texts, and with bodies the decoded text parts.  1, 0 gone, -1. */
static int texts_ready(struct search_run *r, bool bodies)
{
	int ret = msg_load(r, bodies);

	if (ret <= 0)
		return ret;
	if (!r->headers)
		mime_text_walk(r->mime, MIME_WALK_HEADERS, SEARCH_PART_MAX, collect, r);
	if (bodies && !r->bodies)
		mime_text_walk(r->mime, MIME_WALK_BODIES, SEARCH_PART_MAX, collect, r);
	r->headers = true;
	r->bodies = r->bodies || bodies;
	return 1;
}

/* Which part of piece e the key n looks at; false if none. */
static bool text_scope(const struct search_text *e, const char *pool,
		       const struct imap_search_node *n, size_t *off_r, size_t *len_r)
{
	*off_r = e->off;
	*len_r = e->len;
	switch (n->key) {
	case IMAP_SEARCH_HEADER:
		if (!e->header || !e->root || e->name_len != strlen(n->name) ||
		    strncasecmp(pool + e->off, n->name, e->name_len) != 0)
			return false;
		*off_r = e->off + e->name_len + 2;
		*len_r = e->len - e->name_len - 2;
		return true;
	case IMAP_SEARCH_BODY:
		return !e->header || !e->root;
	default:
		return true;
	}
}

static int match_text(struct search_run *r, const struct imap_search_node *n)
{
	int ret = texts_ready(r, n->key != IMAP_SEARCH_HEADER);
	size_t off, len;

	if (ret <= 0)
		return ret;
	if (n->text_len == 0 && n->key != IMAP_SEARCH_HEADER)
		return 1;
	for (unsigned i = 0; i < r->n_texts; i++) {
		if (!text_scope(&r->texts[i], r->pool.data, n, &off, &len))
			continue;
		if (n->text_len == 0 || memmem(r->pool.data + off, len, n->text, n->text_len) != NULL)
			return 1;
	}
	return 0;
}

/* ---- dates ---- */

/* 00:00 UTC of the date t falls on in the server's zone. */
static time_t local_day(time_t t)
{
	struct tm tm;
	int64_t x = (int64_t)t;

	if (localtime_r(&t, &tm) != NULL)
		x += tm.tm_gmtoff;
	x = x >= 0 ? x / 86400 : (x - 86399) / 86400;
	return (time_t)(x * 86400);
}

/* op: 0 before, 1 on, 2 since. */
static int day_cmp(int op, time_t day, time_t want)
{
	return op == 0 ? day < want : op == 1 ? day == want : day >= want;
}

/* The day of the Date: header.  1, 0 none (or gone), -1 error. */
static int sent_day(struct search_run *r, time_t *day_r)
{
	struct buf value;
	int ret;

	if (r->sent == 0) {
		if ((ret = msg_load(r, false)) <= 0)
			return ret;
		buf_init(&value, 4096);
		r->sent = mime_header_get(r->mime, mime_message_root(r->mime), "Date", &value) > 0 &&
			  imap_search_date_header(buf_cstr(&value), &r->sent_day) > 0 ? 1 : -1;
		buf_deinit(&value);
	}
	*day_r = r->sent_day;
	return r->sent > 0;
}

/* ---- evaluation ---- */

static int eval(struct search_run *r, const struct imap_search_node *n);

/* 0 for index keys, 1 header, 2 body: cheaper keys are tried first. */
static int cost(const struct imap_search_node *n)
{
	return (n->need & IMAP_SEARCH_NEED_BODY) != 0 ? 2 : n->need != 0;
}

/* AND (stop at the first 0) or OR (stop at the first 1). */
static int eval_children(struct search_run *r, const struct imap_search_node *n, int stop)
{
	const struct imap_search_node *c;
	int v;

	for (int level = 0; level <= 2; level++) {
		for (c = n->child; c != NULL; c = c->next) {
			if (cost(c) != level)
				continue;
			if ((v = eval(r, c)) < 0 || v == stop)
				return v;
		}
	}
	return !stop;
}

static bool has_keyword(struct search_run *r, const struct imap_search_node *n)
{
	int idx = r->kw_index[n - r->prog->nodes];

	return idx >= 0 && (r->m.keywords & (1u << idx)) != 0;
}

/* On the loop: the folder's index of every KEYWORD key's name. */
static void keywords_resolve(struct search_run *r)
{
	const struct imap_search_program *prog = r->prog;
	unsigned idx;

	for (unsigned i = 0; i < prog->n_nodes; i++) {
		const struct imap_search_node *n = &prog->nodes[i];
		r->kw_index[i] = n->key == IMAP_SEARCH_KEYWORD && r->s->box != NULL &&
				 store_mailbox_keyword(r->s->box, n->name, false, &idx, NULL) > 0 ?
				 (int)idx : -1;
	}
}

static int eval_sent(struct search_run *r, const struct imap_search_node *n)
{
	time_t day;
	int v = sent_day(r, &day);

	return v <= 0 ? v : day_cmp(n->key - IMAP_SEARCH_SENTBEFORE, day, n->day);
}

/* 1 match, 0 not, -1 error (r->error). */
static int eval(struct search_run *r, const struct imap_search_node *n)
{
	int v;

	switch (n->key) {
	case IMAP_SEARCH_AND:
		return eval_children(r, n, 0);
	case IMAP_SEARCH_OR:
		return eval_children(r, n, 1);
	case IMAP_SEARCH_NOT:
		return (v = eval(r, n->child)) < 0 ? v : !v;
	case IMAP_SEARCH_SEQSET:
		return imap_seqset_contains(&n->set, r->seq);
	case IMAP_SEARCH_UID:
		return imap_seqset_contains(&n->set, r->m.uid);
	case IMAP_SEARCH_FLAG:
		return ((r->m.flags & n->flag) != 0) != n->unset;
	case IMAP_SEARCH_KEYWORD:
		return has_keyword(r, n) != n->unset;
	case IMAP_SEARCH_RECENT:
		return r->recent;
	case IMAP_SEARCH_MODSEQ:
		return r->m.modseq >= n->number;
	case IMAP_SEARCH_OLDER:		/* RFC 5032 */
	case IMAP_SEARCH_YOUNGER: {
		int64_t age = (int64_t)time(NULL) - (int64_t)r->m.internal_date;
		bool older = age >= 0 && (uint64_t)age >= n->number;
		return n->key == IMAP_SEARCH_OLDER ? older : !older;
	}
	case IMAP_SEARCH_LARGER:
		return r->m.vsize > n->number;
	case IMAP_SEARCH_SMALLER:
		return r->m.vsize < n->number;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
		return day_cmp(n->key - IMAP_SEARCH_BEFORE, local_day(r->m.internal_date), n->day);
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		return eval_sent(r, n);
	case IMAP_SEARCH_HEADER:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		return match_text(r, n);
	}
	return 0;
}

/* ---- the command ---- */

#define SEARCH_SLICE_MS 10	/* of file reading before the loop gets a turn */
#define SEARCH_BATCH 64		/* messages handed to a worker at once */
#define SEARCH_UNKNOWN 2	/* eval_index: the index alone cannot tell */

/* A message of a batch: the session's view of it, and its file, open,
   when the index alone does not decide. */
struct search_cand {
	struct store_msg m;		/* name NULL */
	unsigned seq;
	bool recent;
	int fd;				/* -1 once read (or never opened) */
	int result;			/* 1, 0, -1 error, SEARCH_UNKNOWN: the worker's */
};

/*
 * The command between turns.  A program that reads message files is
 * evaluated in batches: on the loop, every key the index answers (flags,
 * sizes, dates, UIDs); the messages that still need their file have it
 * opened and go, with a copy of what the session knows of them, to a
 * store worker, which reads and matches them (the session waits for its
 * own command only); the loop then takes the matches in order.
 */
struct search_job {
	struct imapd_work work;		/* first */
	struct search_run r;
	struct imap_search_program *prog;
	unsigned next;			/* index into the view */
	uint32_t *nums;			/* matches so far */
	unsigned n, cap;
	struct search_cand batch[SEARCH_BATCH];
	unsigned n_batch;
	imapd_search_done_fn *done;	/* SORT, THREAD: what comes next */
	void *done_ctx;
	void (*done_free)(void *ctx);
};

static void batch_close(struct search_job *j)
{
	for (unsigned i = 0; i < j->n_batch; i++)
		if (j->batch[i].fd >= 0) {
			close(j->batch[i].fd);
			j->batch[i].fd = -1;
		}
}

static void job_free(void *arg)
{
	struct search_job *j = arg;

	batch_close(j);
	if (j->done_free != NULL)
		j->done_free(j->done_ctx);
	imap_search_program_free(&j->prog);
	buf_deinit(&j->r.pool);
	free(j->r.texts);
	free(j->r.file);
	free(j->r.kw_index);
	free(j->nums);
	free(j);
}

static void push(struct search_job *j, uint32_t num)
{
	if (j->n == j->cap) {
		unsigned c = j->cap == 0 ? 64 : j->cap * 2;
		j->nums = xreallocarray(j->nums, c, sizeof(*j->nums));
		j->cap = c;
	}
	j->nums[j->n++] = num;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A match: its number (sequence number, or UID for UID SEARCH, SORT and
   THREAD) and its mod-sequence. */
static void take_match(struct search_job *j, uint32_t uid, unsigned seq, uint64_t modseq)
{
	struct search_run *r = &j->r;

	push(j, r->s->cmd.uid || j->done != NULL ? uid : seq);
	if (modseq > r->modseq)
		r->modseq = modseq;
	if (j->n == 1)
		r->first_modseq = modseq;
	r->last_modseq = modseq;
}

/* The messages of the view from j->next on against a program that needs
   no file, the matches added ascending.  1 done. */
static int search_some(struct search_job *j)
{
	struct search_run *r = &j->r;
	struct imapd_session *s = r->s;
	int v;

	keywords_resolve(r);
	for (; j->next < s->n_uids; j->next++) {
		if (store_mailbox_lookup_meta(s->box, s->uids[j->next], &r->m) <= 0)
			continue;
		r->seq = j->next + 1;
		r->recent = imapd_is_recent(s, r->m.uid);
		r->gone = false;
		v = eval(r, r->prog->root);
		msg_unload(r);
		if (v < 0)
			return -1;
		if (v > 0 && !r->gone)
			take_match(j, r->m.uid, r->seq, r->m.modseq);
	}
	return 1;
}

/* What the index alone says of the current message: 1, 0, or
   SEARCH_UNKNOWN when a key needs its file. */
static int eval_index(struct search_run *r, const struct imap_search_node *n)
{
	const struct imap_search_node *c;
	int v, acc, stop;

	switch (n->key) {
	case IMAP_SEARCH_AND:
	case IMAP_SEARCH_OR:
		stop = n->key == IMAP_SEARCH_OR;	/* AND: a 0 decides; OR: a 1 */
		acc = !stop;
		for (c = n->child; c != NULL; c = c->next) {
			if ((v = eval_index(r, c)) == stop)
				return v;
			if (v == SEARCH_UNKNOWN)
				acc = SEARCH_UNKNOWN;
		}
		return acc;
	case IMAP_SEARCH_NOT:
		v = eval_index(r, n->child);
		return v == SEARCH_UNKNOWN ? v : !v;
	default:
		return n->need != 0 ? SEARCH_UNKNOWN : eval(r, n);
	}
}

/* On the loop: the next messages of the view, up to a batch, those the
   index cannot decide with their file open.  Returns how many wait for a
   worker, or -1 (r->error). */
static int batch_prepare(struct search_job *j)
{
	struct search_run *r = &j->r;
	struct imapd_session *s = r->s;
	struct store_error err;
	struct store_msg m;
	int pending = 0, v, ret;

	keywords_resolve(r);
	j->n_batch = 0;
	for (; j->n_batch < SEARCH_BATCH && j->next < s->n_uids; j->next++) {
		struct search_cand *c = &j->batch[j->n_batch];

		if (store_mailbox_lookup_meta(s->box, s->uids[j->next], &c->m) <= 0)
			continue;
		c->seq = j->next + 1;
		c->recent = imapd_is_recent(s, c->m.uid);
		c->fd = -1;
		r->m = c->m;
		r->seq = c->seq;
		r->recent = c->recent;
		if ((v = eval_index(r, r->prog->root)) == 0)
			continue;
		if (v == SEARCH_UNKNOWN) {
			ret = store_mailbox_open_msg(s->box, c->m.uid, &c->fd, &m, &err);
			if (ret == 0)
				continue;	/* expunged meanwhile */
			if (ret < 0) {
				c->fd = -1;
				r->error = "[UNAVAILABLE] a message could not be read";
				return -1;
			}
			pending++;
		}
		c->result = v;
		j->n_batch++;
	}
	return pending;
}

/* The batch's undecided messages against the program, from their open
   files.  Any thread: a worker's step. */
static void batch_match(void *arg)
{
	struct search_job *j = arg;
	struct search_run *r = &j->r;

	for (unsigned i = 0; i < j->n_batch; i++) {
		struct search_cand *c = &j->batch[i];

		if (c->result != SEARCH_UNKNOWN)
			continue;
		r->m = c->m;
		r->seq = c->seq;
		r->recent = c->recent;
		r->fd = c->fd;
		r->gone = false;
		c->result = eval(r, r->prog->root);
		msg_unload(r);
		r->fd = -1;
		close(c->fd);
		c->fd = -1;
		if (c->result < 0)
			break;
	}
	batch_close(j);
}

/* On the loop: the batch's matches, in order.  1, or -1 (r->error). */
static int batch_take(struct search_job *j)
{
	for (unsigned i = 0; i < j->n_batch; i++) {
		const struct search_cand *c = &j->batch[i];

		if (c->result < 0)
			return -1;
		if (c->result == 1)
			take_match(j, c->m.uid, c->seq, c->m.modseq);
	}
	j->n_batch = 0;
	return 1;
}

/* Does every match have to lack \Seen (UNSEEN among the keys ANDed at
   the top)? */
static bool needs_unseen(const struct imap_search_node *root)
{
	if (root == NULL || root->key != IMAP_SEARCH_AND)
		return false;
	for (const struct imap_search_node *c = root->child; c != NULL; c = c->next)
		if (c->key == IMAP_SEARCH_FLAG && c->unset && c->flag == IMAP_SEARCH_FLAG_SEEN)
			return true;
	return false;
}

/* Where the walk starts: with UNSEEN, at the first message of the view
   that the index does not know to be \Seen. */
static unsigned first_candidate(struct imapd_session *s, const struct imap_search_program *prog)
{
	unsigned lo = 0, hi = s->n_uids;
	uint32_t low;

	if (s->box == NULL || !needs_unseen(prog->root))
		return 0;
	low = store_mailbox_unseen_low(s->box);
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (s->uids[mid] < low)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The MODSEQ of an ESEARCH reply (RFC 7162 §3.1.5, RFC 4731 §3.2): the
   highest mod-sequence of the messages the reply names: only the MIN
   and MAX ones when neither ALL nor COUNT was asked. */
static uint64_t reply_modseq(const struct imap_search_program *prog, const struct search_run *r)
{
	unsigned opts = prog->return_opts;
	uint64_t m = 0;

	if (!prog->esearch || (opts & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) != 0)
		return r->modseq;
	if ((opts & IMAP_SEARCH_RETURN_MIN) != 0)
		m = r->first_modseq;
	if ((opts & IMAP_SEARCH_RETURN_MAX) != 0 && r->last_modseq > m)
		m = r->last_modseq;
	return m;
}

/* RETURN (SAVE) (RFC 5182 §2.4): the matches become "$", as UIDs; with
   MIN and/or MAX but neither ALL nor COUNT, only those messages. */
static void save_result(struct imapd_session *s, const struct imap_search_program *prog,
			const uint32_t *nums, unsigned n)
{
	unsigned opts = prog->return_opts;
	bool ends_only = (opts & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) != 0 &&
			 (opts & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) == 0;

	free(s->saved);
	s->n_saved = 0;
	s->saved = xcalloc(n + 1, sizeof(*s->saved));
	for (unsigned i = 0; i < n; i++) {
		if (ends_only && !((i == 0 && (opts & IMAP_SEARCH_RETURN_MIN)) ||
				   (i == n - 1 && (opts & IMAP_SEARCH_RETURN_MAX))))
			continue;
		s->saved[s->n_saved++] = s->cmd.uid ? nums[i] : s->uids[nums[i] - 1];
	}
}

/* With a MODSEQ key, the highest mod-sequence of the matches follows
   (RFC 7162 §3.1.5): "* SEARCH 2 5 (MODSEQ 917)", or ESEARCH's MODSEQ. */
static void reply(struct imapd_session *s, const struct imap_search_program *prog,
		  const uint32_t *nums, unsigned n, uint64_t modseq)
{
	struct buf line;

	if (!prog->modseq)
		modseq = 0;
	if (prog->esearch && (prog->return_opts & ~IMAP_SEARCH_RETURN_SAVE) == 0)
		return;		/* RETURN (SAVE): the result is kept, not sent */
	buf_init(&line, 0);
	buf_puts(&line, "* ");
	if (prog->esearch || s->rev2) {
		imap_search_esearch_write(&line, s->cmd.tag, s->cmd.uid, prog->return_opts,
					  nums, n, modseq);
	} else {
		buf_puts(&line, "SEARCH");
		for (unsigned i = 0; i < n; i++)
			buf_printf(&line, " %u", nums[i]);
		if (n > 0 && modseq != 0)
			buf_printf(&line, " (MODSEQ %llu)", (unsigned long long)modseq);
	}
	buf_puts(&line, "\r\n");
	evbuffer_add(imapd_out(s), line.data, line.len);
	buf_deinit(&line);
}

static void search_finish(struct imapd_session *s, struct search_job *j, int ret)
{
	s->resume_state = NULL;
	s->resume_free = NULL;
	if (ret > 0 && j->done != NULL) {
		imapd_search_done_fn *done = j->done;
		void *ctx = j->done_ctx;
		uint32_t *uids = j->nums;
		uint64_t modseq = j->prog->modseq ? j->r.modseq : 0;
		unsigned n = j->n;
		j->nums = NULL;
		j->done_free = NULL;	/* done owns ctx now */
		job_free(j);
		done(s, uids, n, modseq, ctx);
		return;
	}
	if (ret > 0 && (j->prog->return_opts & IMAP_SEARCH_RETURN_SAVE))
		save_result(s, j->prog, j->nums, j->n);
	else if (ret < 0 && (j->prog->return_opts & IMAP_SEARCH_RETURN_SAVE))
		save_result(s, j->prog, NULL, 0);	/* a failed SAVE empties $ */
	if (ret > 0)
		reply(s, j->prog, j->nums, j->n, reply_modseq(j->prog, &j->r));
	if (ret < 0)
		imapd_tagged(s, "NO", "%s", j->r.error);
	else
		imapd_tagged(s, "OK", "%sSEARCH completed", s->cmd.uid ? "UID " : "");
	job_free(j);
}

static void search_continue(struct imapd_session *s);

/* A worker matched a batch. */
static void batch_done(void *arg)
{
	struct search_job *j = arg;
	struct imapd_session *s = j->r.s;

	if (!imapd_work_alive(&j->work))
		return;		/* the session is gone, and with it the job */
	imapd_work_resume(s, search_continue);
}

static void search_continue(struct imapd_session *s)
{
	struct search_job *j = s->resume_state;
	bool reads = (j->prog->need & (IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY)) != 0;
	uint64_t start = now_ms();
	int ret = 1, pending;

	s->resume = NULL;
	if (!reads) {
		search_finish(s, j, search_some(j));
		return;
	}
	if (j->n_batch > 0)
		ret = batch_take(j);	/* a worker's batch */
	while (ret > 0 && j->next < s->n_uids) {
		if (now_ms() - start >= SEARCH_SLICE_MS) {
			imapd_resume_soon(s, search_continue);
			return;
		}
		if ((pending = batch_prepare(j)) < 0) {
			ret = -1;
			break;
		}
		if (pending > 0) {
			imapd_work_begin(s, &j->work);
			store_offload(j->r.store, batch_match, batch_done, j);
			return;
		}
		ret = batch_take(j);
	}
	search_finish(s, j, ret);
}

/* Parse args and start the search; done (NULL: SEARCH's own reply)
   takes over at the end.  ctx is freed with done_free if it never runs. */
static void search_start(struct imapd_session *s, const struct imap_arg *args,
			 imapd_search_done_fn *done, void *ctx, void (*done_free)(void *))
{
	struct imap_search_params params = { s->n_uids, 0, 0, NULL };
	struct imap_search_program *prog = NULL;
	struct search_job *j;
	const char *error = NULL;
	struct buf saved;
	int ret;

	if (s->n_uids > 0)
		params.max_uid = s->uids[s->n_uids - 1];
	buf_init(&saved, 0);
	imap_seqset_format(s->saved, s->n_saved, &saved);
	params.saved = buf_cstr(&saved);
	ret = imap_search_parse(args, &params, &prog, &error);
	buf_deinit(&saved);
	if (ret <= 0 || (done != NULL && prog->esearch)) {
		if (done_free != NULL)
			done_free(ctx);
		if (ret == 0)
			imapd_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
		else
			imapd_tagged(s, "BAD", "%s", ret < 0 ? error : "RETURN is SEARCH's");
		imap_search_program_free(&prog);
		return;
	}
	if (prog->modseq)
		imapd_condstore_enable(s);
	j = xcalloc(1, sizeof(*j));
	j->prog = prog;
	j->done = done;
	j->done_ctx = ctx;
	j->done_free = done_free;
	j->r.s = s;
	j->r.prog = prog;
	j->r.store = imapd_store(s);
	j->r.fd = -1;
	if ((j->r.kw_index = calloc(prog->n_nodes + 1, sizeof(int))) == NULL)
		abort();
	buf_init(&j->r.pool, 0);
	j->next = first_candidate(s, prog);
	s->resume_state = j;
	s->resume_free = job_free;
	search_continue(s);
}

void imapd_cmd_search(struct imapd_session *s)
{
	search_start(s, s->cmd.args, NULL, NULL, NULL);
}

void imapd_search_then(struct imapd_session *s, const struct imap_arg *args,
		       imapd_search_done_fn *done, void *ctx, void (*ctx_free)(void *ctx))
{
	search_start(s, args, done, ctx, ctx_free);
}
