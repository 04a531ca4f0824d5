#ifndef CORREIO_IMAP_SORT_H
#define CORREIO_IMAP_SORT_H
/*
 * imap_sort: what SORT and THREAD (RFC 5256, RFC 5957 DISPLAYFROM and
 * DISPLAYTO) need beyond a search: the sort criteria of a command, the
 * base subject of a Subject: value, the sent date of a Date: value, the
 * message IDs of References: and In-Reply-To:, the sort itself, and the
 * two threading algorithms, ORDEREDSUBJECT and REFERENCES, written as a
 * THREAD response.  Pure: no I/O; the IMAP server gathers the keys of
 * each message (struct imap_sort_msg) and calls these.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib-imap/imap_parser.h"
#include "lib/buf.h"

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,	/* internal date */
	IMAP_SORT_CC,		/* addr-mailbox of the first Cc address */
	IMAP_SORT_DATE,		/* sent date (Date:, else the internal date) */
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,		/* RFC822.SIZE */
	IMAP_SORT_SUBJECT,	/* base subject */
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,	/* RFC 5957: display name, else addr-spec */
	IMAP_SORT_DISPLAYTO,
};

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

#define IMAP_SORT_MAX_CRITERIA 16

/*
 * Parse the sort criteria list (the elements of the parenthesised list):
 *
 *   sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
 *   sort-criterion = ["REVERSE" SP] sort-key
 *   sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" /
 *              "TO" / "DISPLAYFROM" / "DISPLAYTO"
 *
 * into out[0..*n_r) (at most IMAP_SORT_MAX_CRITERIA).  1, or -1 with a
 * short reason in *error_r (an empty list, an unknown key, REVERSE alone
 * or twice).
 */
int imap_sort_criteria_parse(const struct imap_arg *list, size_t count,
			     struct imap_sort_criterion *out, unsigned *n_r,
			     const char **error_r);

/*
 * The base subject (RFC 5256 §2.1) of subject[0..len), a Subject: value
 * already decoded to UTF-8: blanks collapsed, "(fwd)" trailers, "Re:",
 * "Fw:", "Fwd:" leaders and "[blob]" prefixes removed, "[Fwd: ...]"
 * unwrapped; then case-folded for comparison.  Appended to out.  *reply_r
 * (may be NULL) tells whether anything marking a reply or forward was
 * removed (THREAD=REFERENCES uses it).  1, or -1 when out is full.
 */
int imap_base_subject(const char *subject, size_t len, struct buf *out, bool *reply_r);

/*
 * The time of an RFC 5322 Date: value ("Tue, 1 Jul 2003 10:52:37 +0200",
 * obsolete zones and 2-digit years too), as seconds since the epoch (UTC).
 * 1, or -1 if it is not a date.
 */
int imap_sort_date_parse(const char *value, time_t *t_r);

/*
 * The message IDs "<...>" in a Message-ID:, References: or In-Reply-To:
 * value, in order, each passed to fn (id[0..len), brackets included);
 * words, comments and other text between them are skipped.  Returns how
 * many there were.
 */
unsigned imap_msgids(const char *value, void (*fn)(void *ctx, const char *id, size_t len),
		     void *ctx);

/* One message's keys.  Strings are NUL-terminated; "" for a missing one. */
struct imap_sort_msg {
	uint32_t id;		/* what the reply names: sequence number or UID */
	uint32_t seq;		/* its sequence number: the final tie-break */
	time_t date;		/* sent date, else the internal date */
	time_t arrival;		/* internal date */
	uint64_t size;
	const char *subject;	/* base subject, folded */
	bool reply;		/* the subject was a reply's or forward's */
	const char *from, *to, *cc;	/* addr-mailbox, folded */
	const char *display_from, *display_to;	/* folded */
	const char *message_id;		/* "<a@b>", "" none */
	const char *const *refs;	/* References (or In-Reply-To), oldest first */
	unsigned n_refs;
};

/* Sort msgs[0..n) by the criteria; equal ones by sequence number. */
void imap_sort(struct imap_sort_msg *msgs, size_t n, const struct imap_sort_criterion *c,
	       unsigned n_c);

/*
 * THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3) of msgs[0..n)
 * (any order; reordered), appended to out as the thread data of a THREAD
 * response: "(1 2)(3 (4)(5))", nothing for no messages.  1, or -1 (out
 * full).
 */
int imap_thread_orderedsubject(struct imap_sort_msg *msgs, size_t n, struct buf *out);
int imap_thread_references(struct imap_sort_msg *msgs, size_t n, struct buf *out);

#endif
