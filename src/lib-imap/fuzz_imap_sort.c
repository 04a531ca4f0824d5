/*
 * fuzz_imap_sort.c - libFuzzer target for what SORT and THREAD read from
 * messages: each line of the input is one message, "<id> refs... |
 * subject | date" (any part may be missing or malformed).  The subject
 * goes through imap_base_subject, the date through imap_sort_date_parse,
 * the IDs through imap_msgids; then both threading algorithms and a sort
 * by every key run over the messages.
 *
 * Checked: a base subject is never longer than its input and is a fixed
 * point (its base subject is itself, less the reply mark); every message
 * appears exactly once in each THREAD output, whose parentheses balance.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_sort.h"
#include "lib/buf.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

#define MSGS_MAX 64
#define REFS_MAX 16

struct fuzz_msg {
	char *line;
	struct buf subject;
	const char *refs[REFS_MAX];
	char *ref_text[REFS_MAX];
	unsigned n_refs;
	char *id;
};

static void take_ref(void *ctx, const char *id, size_t len)
{
	struct fuzz_msg *m = ctx;

	if (m->id == NULL) {
		m->id = strndup(id, len);
		return;
	}
	if (m->n_refs < REFS_MAX) {
		m->ref_text[m->n_refs] = strndup(id, len);
		m->refs[m->n_refs] = m->ref_text[m->n_refs];
		m->n_refs++;
	}
}

static void check_subject(const char *s, size_t n, struct buf *out, bool *reply)
{
	struct buf again;

	CHECK(imap_base_subject(s, n, out, reply) == 1);
	CHECK(out->len <= n);
	buf_init(&again, 0);
	CHECK(imap_base_subject(out->data, out->len, &again, NULL) == 1);
	CHECK(again.len == out->len && memcmp(again.data, out->data, out->len) == 0);
	buf_deinit(&again);
}

/* Every id 1..n once in the thread data, parentheses balanced. */
static void check_threads(const struct buf *out, size_t n)
{
	unsigned char seen[MSGS_MAX + 1] = { 0 };
	long depth = 0, v;
	const char *p = out->data == NULL ? "" : out->data;

	while (*p != '\0') {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			CHECK(--depth >= 0);
		else if (*p >= '1' && *p <= '9') {
			v = strtol(p, (char **)&p, 10);
			CHECK(v >= 1 && (size_t)v <= n && !seen[v]);
			seen[v] = 1;
			continue;
		} else
			CHECK(*p == ' ');
		p++;
	}
	CHECK(depth == 0);
	for (size_t i = 1; i <= n; i++)
		CHECK(seen[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_msg fm[MSGS_MAX];
	struct imap_sort_msg msgs[MSGS_MAX];
	char *text = strndup((const char *)data, size), *line, *next;
	size_t n = 0;
	struct buf out;

	for (line = text; line != NULL && n < MSGS_MAX; line = next, n++) {
		struct fuzz_msg *m = &fm[n];
		char *subject, *date = NULL;
		time_t t = 0;
		bool reply = false;

		memset(m, 0, sizeof(*m));
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((subject = strchr(line, '|')) != NULL) {
			*subject++ = '\0';
			if ((date = strchr(subject, '|')) != NULL)
				*date++ = '\0';
		}
		imap_msgids(line, take_ref, m);
		buf_init(&m->subject, 0);
		check_subject(subject != NULL ? subject : "", subject != NULL ? strlen(subject) : 0,
			      &m->subject, &reply);
		if (date != NULL)
			imap_sort_date_parse(date, &t);
		msgs[n] = (struct imap_sort_msg){
			.id = (uint32_t)n + 1, .seq = (uint32_t)n + 1, .date = t,
			.arrival = (time_t)(n * 7 % 5), .size = n % 3,
			.subject = buf_cstr(&m->subject), .reply = reply,
			.from = "", .to = "", .cc = "", .display_from = "", .display_to = "",
			.message_id = m->id != NULL ? m->id : "",
			.refs = m->refs, .n_refs = m->n_refs,
		};
	}
	buf_init(&out, 0);
	CHECK(imap_thread_references(msgs, n, &out) == 1);
	check_threads(&out, n);
	buf_reset(&out);
	CHECK(imap_thread_orderedsubject(msgs, n, &out) == 1);
	check_threads(&out, n);
	buf_deinit(&out);
	for (int k = IMAP_SORT_ARRIVAL; k <= IMAP_SORT_DISPLAYTO; k++) {
		struct imap_sort_criterion c = { (enum imap_sort_key)k, k % 2 == 0 };
		imap_sort(msgs, n, &c, 1);
	}
	for (size_t i = 0; i < n; i++) {
		buf_deinit(&fm[i].subject);
		free(fm[i].id);
		for (unsigned r = 0; r < fm[i].n_refs; r++)
			free(fm[i].ref_text[r]);
	}
	free(text);
	return 0;
}
