#ifndef CORREIO_IMAP_SEARCH_H
#define CORREIO_IMAP_SEARCH_H
/*
 * imap_search: the arguments of an IMAP SEARCH command (RFC 9051 §6.4.4,
 * RFC 3501 §6.4.4, RFC 4731 ESEARCH RETURN options) turned into a search
 * program: a tree of keys the IMAP server evaluates against each message.
 * Also the pieces of that evaluation which need no mailbox: case folding
 * of text, matching, the day of a Date: header, and the ESEARCH response.
 * Pure: no I/O.
 *
 * The program is normalised: CHARSET is checked and dropped; FROM, TO,
 * CC, BCC and SUBJECT become HEADER keys; NEW is (RECENT UNSEEN), OLD is
 * NOT RECENT; KEYWORD \Seen (a system flag) is SEEN; sequence sets are
 * resolved against the "*" values given; search strings are case-folded
 * (imap_search_fold) so that the evaluator folds the text it looks at and
 * compares bytes.  MODSEQ (RFC 7162 CONDSTORE) keeps its number only: the
 * server has one mod-sequence per message, so the entry name and type
 * are checked and dropped.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib-imap/imap_parser.h"
#include "lib-imap/imap_seqset.h"
#include "lib/buf.h"

/* System flags, in the bit order of the store's STORE_FLAG_*. */
#define IMAP_SEARCH_FLAG_SEEN		0x01
#define IMAP_SEARCH_FLAG_ANSWERED	0x02
#define IMAP_SEARCH_FLAG_FLAGGED	0x04
#define IMAP_SEARCH_FLAG_DELETED	0x08
#define IMAP_SEARCH_FLAG_DRAFT		0x10

/* RETURN options (RFC 4731); RETURN () means ALL. */
#define IMAP_SEARCH_RETURN_MIN		0x01
#define IMAP_SEARCH_RETURN_MAX		0x02
#define IMAP_SEARCH_RETURN_ALL		0x04
#define IMAP_SEARCH_RETURN_COUNT	0x08
#define IMAP_SEARCH_RETURN_SAVE		0x10	/* RFC 5182 SEARCHRES: keep as $ */

/* What a key needs of a message beyond its index entry (flags, size, UID,
   internal date): the header block, or the decoded bodies as well. */
#define IMAP_SEARCH_NEED_HEADER		0x01
#define IMAP_SEARCH_NEED_BODY		0x02

enum imap_search_key {
	IMAP_SEARCH_AND,	/* every child; no child: ALL */
	IMAP_SEARCH_OR,		/* either of the two children */
	IMAP_SEARCH_NOT,	/* not the one child */
	IMAP_SEARCH_SEQSET,	/* sequence number in set */
	IMAP_SEARCH_UID,	/* UID in set */
	IMAP_SEARCH_FLAG,	/* flag set (unset: UNSEEN, ...) */
	IMAP_SEARCH_KEYWORD,	/* keyword name set (unset: UNKEYWORD) */
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_MODSEQ,	/* mod-sequence >= number */
	IMAP_SEARCH_LARGER,	/* RFC822.SIZE > number */
	IMAP_SEARCH_SMALLER,	/* RFC822.SIZE < number */
	IMAP_SEARCH_BEFORE,	/* day of INTERNALDATE < day */
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,	/* >= day */
	IMAP_SEARCH_SENTBEFORE,	/* day of the Date: header, its own zone */
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_HEADER,	/* a field called name contains text */
	IMAP_SEARCH_BODY,	/* the decoded body contains text */
	IMAP_SEARCH_TEXT,	/* header or body contains text */
	IMAP_SEARCH_OLDER,	/* RFC 5032 WITHIN: INTERNALDATE at least
				   number seconds ago */
	IMAP_SEARCH_YOUNGER,	/* less than number seconds ago */
};

struct imap_search_node {
	enum imap_search_key key;
	unsigned need;			/* IMAP_SEARCH_NEED_*, this node and below */
	struct imap_search_node *child;	/* AND, OR, NOT: the first child */
	struct imap_search_node *next;	/* the next sibling */
	bool unset;			/* FLAG, KEYWORD: UN... */
	uint8_t flag;			/* FLAG: one IMAP_SEARCH_FLAG_* */
	uint64_t number;		/* LARGER, SMALLER, MODSEQ, OLDER, YOUNGER */
	time_t day;			/* date keys: 00:00 UTC of the date */
	const char *name;		/* HEADER field, KEYWORD: as sent */
	const char *text;		/* HEADER, BODY, TEXT: folded */
	size_t text_len;
	struct imap_seqset set;		/* SEQSET, UID */
};

struct imap_search_program {
	struct imap_search_node *root;	/* an AND */
	bool esearch;			/* RETURN given: answer with ESEARCH */
	bool modseq;			/* a MODSEQ key: answer with the highest */
	unsigned return_opts;		/* IMAP_SEARCH_RETURN_*, ALL if none */
	unsigned need;			/* root->need */
	/* private */
	struct imap_search_node *nodes;
	unsigned n_nodes, cap_nodes;
};

#define IMAP_SEARCH_MAX_DEPTH 256	/* nesting of NOT, OR and groups */
#define IMAP_SEARCH_MAX_RANGES 65536	/* ranges of one sequence set */

struct imap_search_params {
	uint32_t messages;	/* "*" of a sequence set: the last sequence number */
	uint32_t max_uid;	/* "*" of a UID set: the highest UID */
	unsigned max_depth;	/* 0: IMAP_SEARCH_MAX_DEPTH */
	const char *saved;	/* SEARCHRES: "$" as a UID set ("" none saved),
				   NULL: "$" is refused */
};

/*
 * Parse args (EOL-ended: the arguments after SEARCH) into a program:
 *
 *   search          = "SEARCH" [search-return-opts]
 *                     [SP "CHARSET" SP charset] 1*(SP search-key)
 *   search-return-opts = SP "RETURN" SP "(" [search-return-opt
 *                     *(SP search-return-opt)] ")"
 *   search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
 *   search-key      = "ALL" / "ANSWERED" / "BCC" SP astring /
 *                     "BEFORE" SP date / "BODY" SP astring / ... /
 *                     "MODSEQ" [SP entry-name SP entry-type-req]
 *                     SP mod-sequence-valzer /
 *                     "OLDER" SP interval / "YOUNGER" SP interval /
 *                     "NOT" SP search-key /
 *                     "OR" SP search-key SP search-key /
 *                     "UID" SP sequence-set / sequence-set /
 *                     "$" (RFC 5182: the saved result, as UIDs) /
 *                     "(" search-key *(SP search-key) ")"
 *
 * Returns 1 with *r set (free with imap_search_program_free), 0 when the
 * CHARSET is neither UTF-8 nor US-ASCII (NO [BADCHARSET]), -1 on bad
 * syntax (BAD) with a short text for the client in *error_r.
 */
int imap_search_parse(const struct imap_arg *args,
		      const struct imap_search_params *params,
		      struct imap_search_program **r, const char **error_r);
void imap_search_program_free(struct imap_search_program **p);

/*
 * Append the program in the normalised form, as search keys that parse
 * back to the same program ("RETURN (MIN COUNT) UNSEEN HEADER FROM x").
 * An empty sequence set (only "*" of an empty mailbox) is written as
 * nothing.  Returns 1 or -1 (out full).
 */
int imap_search_write(const struct imap_search_program *p, struct buf *out);

/*
 * Fold s[0..len) in place for case-insensitive comparison: ASCII, and the
 * two-byte UTF-8 letters of Latin-1, Latin Extended-A, Greek and Cyrillic
 * that have a lower-case form of the same length (simple case folding).
 * Other bytes, invalid UTF-8 included, stay as they are; the length never
 * changes.
 */
void imap_search_fold(char *s, size_t len);

/*
 * Whether text[0..len) contains the folded needle: text is copied into
 * scratch (reset first) and folded there.  An empty needle matches.
 * Returns 1, 0, or -1 when scratch refused to grow.
 */
int imap_search_match(const char *needle, size_t needle_len, const char *text,
		      size_t len, struct buf *scratch);

/*
 * The day of an RFC 5322 Date: value ("Tue, 1 Jul 2003 10:52:37 +0200",
 * obsolete 2-digit years too) with time and zone disregarded: *day_r is
 * 00:00 UTC of that date.  Returns 1, or -1 if it is not a date.
 */
int imap_search_date_header(const char *value, time_t *day_r);

/*
 * Append the ESEARCH response data (RFC 4731) without "* " and CRLF:
 * ESEARCH (TAG "tag") [UID] [MIN n] [MAX n] [ALL set] [COUNT n]
 * [MODSEQ m] for nums[0..n) ascending; MIN, MAX, ALL and MODSEQ are left
 * out when nothing matched, MODSEQ when modseq is 0.  Returns 1 or -1
 * (out full).
 */
int imap_search_esearch_write(struct buf *out, const char *tag, bool uid,
			      unsigned return_opts, const uint32_t *nums, size_t n,
			      uint64_t modseq);

#endif
