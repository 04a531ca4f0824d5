/*
 * cmd_sort.c - SORT, UID SORT (RFC 5256; ESORT's RETURN, RFC 5267;
 * DISPLAYFROM/DISPLAYTO, RFC 5957) and THREAD, UID THREAD
 * (ORDEREDSUBJECT, REFERENCES).  Called by the dispatcher in the
 * selected state.
 *
 *   sort   = ["UID" SP] "SORT" [SP "RETURN" SP "(" sort-return-opts ")"]
 *            SP sort-criteria SP search-charset 1*(SP search-key)
 *   thread = ["UID" SP] "THREAD" SP thread-alg SP search-charset
 *            1*(SP search-key)
 *
 * The search is SEARCH's (imapd_search_then); this file gathers the keys
 * of each match and hands them to lib-imap/imap_sort.c.  A message's keys
 * (sent date, base subject, first From/To/Cc, display names, message IDs)
 * come from its header once and are kept in the store's cache
 * (IMAPD_CACHE_SORT): a later SORT or THREAD reads no file.  Gathering
 * gives the loop back every SORT_SLICE_MS, as SEARCH does.
 *
 * Limits: the header read is SORT_HEADER_READ bytes (longer headers are
 * cut there); a record is at most SORT_RECORD_MAX bytes.
 */
#include "imapd_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "lib-imap/imap_quote.h"
#include "lib-imap/imap_search.h"
#include "lib-imap/imap_sort.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mime/mime.h"

#define SORT_HEADER_READ (64 * 1024)
#define SORT_RECORD_MAX (16 * 1024)
#define SORT_SLICE_MS 10
#define SORT_RECORD_VERSION "s1"

/* RETURN options of ESORT: the ESEARCH ones (RFC 5267 §3) */
#define RET_MIN 0x01
#define RET_MAX 0x02
#define RET_ALL 0x04
#define RET_COUNT 0x08

enum sort_fields {	/* the lines of a record after the version */
	F_DATE, F_SUBJECT, F_REPLY, F_FROM, F_TO, F_CC, F_DFROM, F_DTO, F_MSGID, F_REFS,
	F_COUNT
};

struct sort_job {
	bool thread, references;	/* THREAD, THREAD=REFERENCES */
	bool esort;			/* RETURN given */
	unsigned ret;			/* RET_* */
	struct imap_sort_criterion crit[IMAP_SORT_MAX_CRITERIA];
	unsigned n_crit;
	uint32_t *uids;
	unsigned n, next;		/* matches; keys gathered for [0, next) */
	uint64_t modseq;		/* a MODSEQ key: the highest of the matches */
	size_t *off;			/* record i at pool.data + off[i] */
	struct buf pool;
	char *file;
	size_t file_cap;
};

static void job_free(void *arg)
{
	struct sort_job *j = arg;

	if (j == NULL)
		return;
	free(j->uids);
	free(j->off);
	free(j->file);
	buf_deinit(&j->pool);
	free(j);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- a message's keys ---- */

/* One line of a record: s[0..n) with line ends and NUL made blanks. */
static void field(struct buf *rec, const char *s, size_t n, bool fold)
{
	size_t start = rec->len;

	buf_putc(rec, '\n');
	buf_append(rec, s, n);
	for (size_t i = start + 1; i < rec->len; i++)
		if (rec->data[i] == '\n' || rec->data[i] == '\r' || rec->data[i] == '\0')
			rec->data[i] = ' ';
	if (fold)
		imap_search_fold(rec->data + start + 1, rec->len - start - 1);
}

/* The addr-mailbox (FROM, TO, CC) of the first address of header name,
   or with disp its display form (DISPLAYFROM, DISPLAYTO). */
static void address_fields(const struct mime_message *msg, const char *name, bool disp,
			   struct buf *rec, struct buf *tmp)
{
	struct mime_address a;
	struct buf dname;

	buf_init(&a.name, 0);
	buf_init(&a.mailbox, 0);
	buf_init(&a.host, 0);
	buf_init(&dname, 0);
	buf_reset(tmp);
	if (mime_header_get(msg, mime_message_root(msg), name, tmp) > 0 &&
	    mime_address_first(buf_cstr(tmp), tmp->len, &a) > 0) {
		if (a.name.len > 0)
			mime_rfc2047_decode(a.name.data, a.name.len, &dname);
		if (dname.len == 0)	/* RFC 5957 §2: else the addr-spec */
			buf_printf(&dname, "%s@%s", buf_cstr(&a.mailbox), buf_cstr(&a.host));
	}
	if (disp)
		field(rec, dname.data, dname.len, true);
	else
		field(rec, a.mailbox.data, a.mailbox.len, true);
	buf_deinit(&a.name);
	buf_deinit(&a.mailbox);
	buf_deinit(&a.host);
	buf_deinit(&dname);
}

static void put_id(void *ctx, const char *id, size_t len)
{
	struct buf *b = ctx;

	if (b->len > 0)
		buf_putc(b, ' ');
	buf_append(b, id, len);
}

static void first_id(void *ctx, const char *id, size_t len)
{
	struct buf *b = ctx;

	if (b->len == 0)
		buf_append(b, id, len);
}

/* Message-ID, and References (else In-Reply-To's first ID). */
static void id_fields(const struct mime_message *msg, struct buf *rec, struct buf *tmp)
{
	const struct mime_part *root = mime_message_root(msg);
	struct buf ids;

	buf_init(&ids, SORT_RECORD_MAX / 2);
	buf_reset(tmp);
	if (mime_header_get(msg, root, "Message-ID", tmp) > 0)
		imap_msgids(buf_cstr(tmp), first_id, &ids);
	field(rec, ids.data, ids.len, false);
	buf_reset(&ids);
	buf_reset(tmp);
	if (mime_header_get(msg, root, "References", tmp) > 0)
		imap_msgids(buf_cstr(tmp), put_id, &ids);
	buf_reset(tmp);
	if (ids.len == 0 && mime_header_get(msg, root, "In-Reply-To", tmp) > 0)
		imap_msgids(buf_cstr(tmp), first_id, &ids);
	field(rec, ids.data, ids.len, false);
	buf_deinit(&ids);
}

/* The record of the header hdr[0..n) into rec. */
static void record_make(const char *hdr, size_t n, struct buf *rec)
{
	struct mime_message *msg = mime_message_parse(hdr, n, NULL);
	const struct mime_part *root = mime_message_root(msg);
	struct buf tmp, subject;
	time_t date;
	bool reply = false;

	buf_init(&tmp, SORT_RECORD_MAX);
	buf_init(&subject, SORT_RECORD_MAX);
	buf_puts(rec, SORT_RECORD_VERSION);
	if (mime_header_get(msg, root, "Date", &tmp) > 0 &&
	    imap_sort_date_parse(buf_cstr(&tmp), &date) > 0)
		buf_printf(rec, "\n%lld", (long long)date);
	else
		buf_putc(rec, '\n');
	buf_reset(&tmp);
	if (mime_header_get_decoded(msg, root, "Subject", &tmp) > 0)
		imap_base_subject(tmp.data, tmp.len, &subject, &reply);
	field(rec, subject.data, subject.len, false);	/* folded already */
	buf_puts(rec, reply ? "\n1" : "\n0");
	address_fields(msg, "From", false, rec, &tmp);
	address_fields(msg, "To", false, rec, &tmp);
	address_fields(msg, "Cc", false, rec, &tmp);
	address_fields(msg, "From", true, rec, &tmp);
	address_fields(msg, "To", true, rec, &tmp);
	id_fields(msg, rec, &tmp);
	buf_deinit(&tmp);
	buf_deinit(&subject);
	mime_message_free(&msg);
}

/* The header of message uid into rec (from its file).  1, 0 gone, -1. */
static int record_from_file(struct imapd_session *s, struct sort_job *j, uint32_t uid,
			    struct buf *rec)
{
	struct store_error err;
	struct store_msg m;
	const char *end;
	ssize_t got;
	size_t n;
	int fd, ret;

	if ((ret = store_mailbox_open_msg(s->box, uid, &fd, &m, &err)) <= 0)
		return ret;
	n = m.size < SORT_HEADER_READ ? (size_t)m.size : SORT_HEADER_READ;
	got = n > 0 ? read_file_at_start(fd, n, &j->file, &j->file_cap) : 0;
	close(fd);
	if (got < 0)
		return -1;
	n = (size_t)got;
	if (n > 0 && (end = memmem(j->file, n, "\n\n", 2)) != NULL)
		n = (size_t)(end - j->file) + 2;
	record_make(n > 0 ? j->file : "", n, rec);
	return 1;
}

/* The record of uid: cached, else made and cached.  Appended to the pool. */
static void record_get(struct imapd_session *s, struct sort_job *j, uint32_t uid, bool *read_r)
{
	struct store_error err;
	struct buf rec;

	buf_init(&rec, SORT_RECORD_MAX);
	if (store_mailbox_cache_get(s->box, uid, IMAPD_CACHE_SORT, &rec) <= 0 ||
	    strncmp(buf_cstr(&rec), SORT_RECORD_VERSION "\n", 3) != 0) {
		buf_reset(&rec);
		*read_r = true;
		if (record_from_file(s, j, uid, &rec) > 0)
			store_mailbox_cache_set(s->box, uid, IMAPD_CACHE_SORT, rec.data, rec.len,
						&err);
		else
			buf_reset(&rec);	/* gone or unreadable: no keys */
	}
	buf_append(&j->pool, rec.data, rec.len);
	buf_putc(&j->pool, '\0');
	buf_deinit(&rec);
}

/* Gather keys from j->next on.  1 done, 0 a slice is used up. */
static int gather(struct imapd_session *s, struct sort_job *j)
{
	uint64_t start = now_ms();
	bool read = false;

	for (; j->next < j->n; j->next++) {
		if (read && now_ms() - start >= SORT_SLICE_MS)
			return 0;
		j->off[j->next] = j->pool.len;
		record_get(s, j, j->uids[j->next], &read);
	}
	return 1;
}

/* ---- the keys as imap_sort wants them ---- */

struct keys {
	struct imap_sort_msg *msgs;
	const char **refs;
};

/* Split record rec (in place) into m's strings; refs gets its IDs. */
static unsigned record_split(char *rec, struct imap_sort_msg *m, const char **refs)
{
	char *f[F_COUNT] = { 0 }, *p = rec;
	unsigned n_refs = 0;

	for (unsigned i = 0; i < F_COUNT && p != NULL; i++) {
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
		f[i] = p;
	}
	for (unsigned i = 0; i < F_COUNT; i++)
		if (f[i] == NULL)
			f[i] = "";
	if (f[F_DATE][0] != '\0')
		m->date = (time_t)strtoll(f[F_DATE], NULL, 10);
	m->subject = f[F_SUBJECT];
	m->reply = f[F_REPLY][0] == '1';
	m->from = f[F_FROM];
	m->to = f[F_TO];
	m->cc = f[F_CC];
	m->display_from = f[F_DFROM];
	m->display_to = f[F_DTO];
	m->message_id = f[F_MSGID];
	for (char *r = f[F_REFS]; *r != '\0';) {
		refs[n_refs++] = r;
		if ((r = strchr(r, ' ')) == NULL)
			break;
		*r++ = '\0';
	}
	return n_refs;
}

static void keys_make(struct imapd_session *s, struct sort_job *j, struct keys *k)
{
	size_t max_refs = j->pool.len / 2 + 1;	/* every ID has 2 bytes or more */
	struct store_msg sm;
	unsigned used = 0;

	k->msgs = xcalloc(j->n + 1, sizeof(*k->msgs));
	k->refs = xcalloc(max_refs, sizeof(*k->refs));
	for (unsigned i = 0; i < j->n; i++) {
		struct imap_sort_msg *m = &k->msgs[i];
		uint32_t uid = j->uids[i];
		m->seq = imapd_seq_of(s, uid);
		m->id = s->cmd.uid ? uid : m->seq;
		if (store_mailbox_lookup(s->box, uid, &sm) > 0) {
			m->arrival = sm.internal_date;
			m->size = sm.vsize;
		}
		m->date = m->arrival;	/* RFC 5256: no sent date, the internal one */
		m->refs = k->refs + used;
		m->n_refs = record_split(j->pool.data + j->off[i], m, k->refs + used);
		used += m->n_refs;
	}
}

/* ---- replies ---- */

/* ESORT's ALL: the IDs in sort order, runs that go up by one as a:b. */
static void write_ordered_set(struct buf *out, const struct imap_sort_msg *m, unsigned n)
{
	for (unsigned i = 0; i < n;) {
		unsigned k = i;
		while (k + 1 < n && m[k + 1].id == m[k].id + 1)
			k++;
		buf_printf(out, "%s%u", i > 0 ? "," : "", m[i].id);
		if (k > i)
			buf_printf(out, ":%u", m[k].id);
		i = k + 1;
	}
}

static void reply_sort(struct imapd_session *s, struct sort_job *j, const struct imap_sort_msg *m)
{
	struct buf line;

	buf_init(&line, 0);
	if (!j->esort) {
		buf_puts(&line, "* SORT");
		for (unsigned i = 0; i < j->n; i++)
			buf_printf(&line, " %u", m[i].id);
		if (j->n > 0 && j->modseq != 0)	/* RFC 7162 §3.1.5 */
			buf_printf(&line, " (MODSEQ %llu)", (unsigned long long)j->modseq);
	} else {
		buf_puts(&line, "* ESEARCH (TAG ");
		imap_quote_quoted(&line, s->cmd.tag, strlen(s->cmd.tag));
		buf_puts(&line, s->cmd.uid ? ") UID" : ")");
		if (j->n > 0 && (j->ret & RET_MIN))
			buf_printf(&line, " MIN %u", m[0].id);
		if (j->n > 0 && (j->ret & RET_MAX))
			buf_printf(&line, " MAX %u", m[j->n - 1].id);
		if (j->ret & RET_COUNT)
			buf_printf(&line, " COUNT %u", j->n);
		if (j->n > 0 && (j->ret & RET_ALL)) {
			buf_puts(&line, " ALL ");
			write_ordered_set(&line, m, j->n);
		}
		if (j->n > 0 && j->modseq != 0)
			buf_printf(&line, " MODSEQ %llu", (unsigned long long)j->modseq);
	}
	buf_puts(&line, "\r\n");
	evbuffer_add(imapd_out(s), line.data, line.len);
	buf_deinit(&line);
}

static void reply_thread(struct imapd_session *s, struct sort_job *j, struct imap_sort_msg *m)
{
	struct buf line;

	buf_init(&line, 0);
	buf_puts(&line, "* THREAD ");
	if (j->references)
		imap_thread_references(m, j->n, &line);
	else
		imap_thread_orderedsubject(m, j->n, &line);
	if (j->n == 0)
		buf_truncate(&line, line.len - 1);	/* "* THREAD" */
	buf_puts(&line, "\r\n");
	evbuffer_add(imapd_out(s), line.data, line.len);
	buf_deinit(&line);
}

static void sort_continue(struct imapd_session *s)
{
	struct sort_job *j = s->resume_state;
	struct keys k;

	if (gather(s, j) == 0) {
		imapd_resume_soon(s, sort_continue);
		return;
	}
	s->resume_state = NULL;
	keys_make(s, j, &k);
	if (j->thread) {
		reply_thread(s, j, k.msgs);
	} else {
		imap_sort(k.msgs, j->n, j->crit, j->n_crit);
		reply_sort(s, j, k.msgs);
	}
	free(k.msgs);
	free(k.refs);
	imapd_tagged(s, "OK", "%s%s completed", s->cmd.uid ? "UID " : "", s->cmd.name);
	job_free(j);
}

/* After the search: the matches, then their keys. */
static void on_matches(struct imapd_session *s, uint32_t *uids, unsigned n, uint64_t modseq,
		       void *ctx)
{
	struct sort_job *j = ctx;

	j->modseq = modseq;
	j->uids = uids;
	j->n = n;
	j->off = xcalloc(n + 1, sizeof(*j->off));
	s->resume_state = j;
	s->resume_free = job_free;
	sort_continue(s);
}

/* ---- the commands ---- */

/* The charset argument; 1 known, 0 not (NO sent), -1 bad (BAD sent). */
static int charset(struct imapd_session *s, const struct imap_arg *arg)
{
	const char *cs;

	if (!imap_arg_get_astring(arg, &cs)) {
		imapd_tagged(s, "BAD", "usage: %s ... charset search-keys", s->cmd.name);
		return -1;
	}
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
		imapd_tagged(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
		return 0;
	}
	return 1;
}

static struct sort_job *job_new(void)
{
	struct sort_job *j = xcalloc(1, sizeof(*j));

	buf_init(&j->pool, 0);
	return j;
}

/* RETURN (MIN MAX ALL COUNT); RETURN () is ALL.  1 or -1. */
static int return_opts(struct sort_job *j, const struct imap_arg *arg)
{
	static const char *const names[] = { "MIN", "MAX", "ALL", "COUNT" };
	const struct imap_arg *list;
	size_t count, k;

	if (!imap_arg_get_list(arg, &list, &count))
		return -1;
	j->esort = true;
	for (size_t i = 0; i < count; i++) {
		for (k = 0; k < 4 && !imap_arg_atom_equals(&list[i], names[k]); k++)
			;
		if (k == 4)
			return -1;
		j->ret |= 1u << k;
	}
	if (j->ret == 0)
		j->ret = RET_ALL;
	return 1;
}

void imapd_cmd_sort(struct imapd_session *s)
{
	const struct imap_arg *a = s->cmd.args, *list;
	struct sort_job *j = job_new();
	const char *error = "usage: SORT [RETURN (...)] (criteria) charset search-keys";
	size_t count;
	int ret;

	if (imap_arg_atom_equals(&a[0], "RETURN")) {
		if (return_opts(j, &a[1]) < 0) {
			job_free(j);
			imapd_tagged(s, "BAD", "bad SORT RETURN options");
			return;
		}
		a += 2;
	}
	if (!imap_arg_get_list(&a[0], &list, &count) || a[1].type == IMAP_ARG_EOL ||
	    a[2].type == IMAP_ARG_EOL ||
	    imap_sort_criteria_parse(list, count, j->crit, &j->n_crit, &error) < 0) {
		job_free(j);
		imapd_tagged(s, "BAD", "%s", error);
		return;
	}
	if ((ret = charset(s, &a[1])) <= 0) {
		job_free(j);
		return;
	}
	imapd_search_then(s, a + 2, on_matches, j, job_free);
}

void imapd_cmd_thread(struct imapd_session *s)
{
	const struct imap_arg *a = s->cmd.args;
	struct sort_job *j = job_new();

	j->thread = true;
	if (imap_arg_atom_equals(&a[0], "REFERENCES"))
		j->references = true;
	else if (!imap_arg_atom_equals(&a[0], "ORDEREDSUBJECT")) {
		job_free(j);
		imapd_tagged(s, "BAD", "unknown THREAD algorithm (ORDEREDSUBJECT, REFERENCES)");
		return;
	}
	if (a[1].type == IMAP_ARG_EOL || a[2].type == IMAP_ARG_EOL) {
		job_free(j);
		imapd_tagged(s, "BAD", "usage: THREAD algorithm charset search-keys");
		return;
	}
	if (charset(s, &a[1]) <= 0) {
		job_free(j);
		return;
	}
	imapd_search_then(s, a + 2, on_matches, j, job_free);
}
