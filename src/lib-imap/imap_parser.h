#ifndef CORREIO_IMAP_PARSER_H
#define CORREIO_IMAP_PARSER_H
/*
 * imap_parser: the incremental reader of IMAP client commands (RFC 9051
 * IMAP4rev2, RFC 3501 IMAP4rev1, RFC 7888 LITERAL+/LITERAL-, RFC 3516
 * BINARY literal8).  Pure: no I/O.  The IMAP session feeds the bytes it
 * read and gets one event per call:
 *
 *   IMAP_EVENT_LITERAL       a literal header {n}, {n+} or ~{n} was read.
 *                            Decide now, before its data: keep the default
 *                            action or call imap_parser_literal_action().
 *                            For a synchronising literal that is accepted
 *                            the session sends "+ Ready"; for one that is
 *                            rejected it sends "tag NO [TOOBIG] ..." (or
 *                            BAD) and the reader drops the command: the
 *                            client sends no data and starts a new command
 *                            (RFC 9051 §4.3, §7.5).  A rejected
 *                            non-synchronising literal is also answered by
 *                            the session (BAD); the reader then skips its
 *                            n octets and the rest of the command, never
 *                            reading them as commands (RFC 7888 §4).
 *   IMAP_EVENT_LITERAL_DATA  a piece of a literal being streamed.
 *   IMAP_EVENT_LITERAL_END   that literal is complete.
 *   IMAP_EVENT_COMMAND       a whole command: tag, name, argument tree.
 *   IMAP_EVENT_LINE          the raw line asked for by read_line().
 *   IMAP_EVENT_BAD           a syntax error or a limit (feed returns -1):
 *                            the session replies "tag BAD reason" (or "*
 *                            BAD" without a tag); the reader skips to the
 *                            end of the line, and past the data of a
 *                            non-synchronising literal ending that line.
 *
 * Memory: an idle reader is one small allocation (imap_parser_memory()).
 * A command's memory is taken when its bytes arrive and given back by
 * imap_parser_done() or the next feed.  Everything an event points to is
 * owned by the reader and valid until the next imap_parser_feed(),
 * imap_parser_done() or imap_parser_free(); LITERAL_DATA points into the
 * caller's input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_parser_limits {
	size_t max_line;	/* octets of a command outside literal data */
	uint64_t max_literal;	/* largest literal accepted at all */
	size_t max_collect;	/* literal octets one command may hold in
				   its tree; bigger ones must be streamed */
	unsigned max_args;	/* arguments of one command, lists and the
				   items inside them included */
	unsigned max_depth;	/* nesting of parenthesised lists */
	size_t max_raw_line;	/* a line read by imap_parser_read_line() */
};

/* The defaults: 64 KiB line, 64 MiB literal, 64 KiB collected, 1024
   arguments, depth 16, 64 KiB raw line.  Given to imap_parser_new(), a 0
   in max_line, max_args, max_depth or max_raw_line means its default; a 0
   in max_literal or max_collect means what it says (no literal data). */
void imap_parser_limits_default(struct imap_parser_limits *limits);

enum imap_arg_type {
	IMAP_ARG_EOL,		/* ends every argument array */
	IMAP_ARG_ATOM,		/* atom, number, sequence set, flag (\Seen),
				   fetch item, unquoted date, "*", ... */
	IMAP_ARG_NIL,		/* the atom NIL, any case */
	IMAP_ARG_STRING,	/* quoted string, unescaped */
	IMAP_ARG_LITERAL,	/* literal collected into the tree */
	IMAP_ARG_LITERAL_STREAMED, /* literal delivered in LITERAL_DATA */
	IMAP_ARG_LIST		/* parenthesised list */
};

enum imap_section_text {
	IMAP_SECTION_TEXT_NONE,		/* BODY[] or BODY[1.2] */
	IMAP_SECTION_TEXT_HEADER,
	IMAP_SECTION_TEXT_HEADER_FIELDS,
	IMAP_SECTION_TEXT_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT_TEXT,
	IMAP_SECTION_TEXT_MIME
};

/* The parsed form of a fetch item such as BODY.PEEK[1.2.HEADER]<0.100>. */
struct imap_section {
	const char *name;	/* "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK"
				   or "BINARY.SIZE", as the client spelled it */
	const char *spec;	/* the text between the brackets, as sent */
	const uint32_t *parts;	/* section-part: 1.2.3 -> {1, 2, 3} */
	unsigned part_count;
	enum imap_section_text text;
	const char *const *fields; /* HEADER.FIELDS[.NOT] names, unquoted */
	unsigned field_count;
	bool partial;		/* <offset.length> given */
	uint32_t partial_offset;
	uint32_t partial_length; /* > 0 */
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8;		/* LITERAL*: sent as ~{n} */
	size_t len;		/* octets of str, or items of list */
	const char *str;	/* ATOM, NIL, STRING, LITERAL: NUL-terminated;
				   only a literal may hold NULs (use len) */
	const struct imap_arg *list; /* LIST: len items, then an EOL */
	const struct imap_section *section; /* ATOM that is a BODY[...] or
				   BINARY[...] item, else NULL */
	uint64_t literal_size;	/* LITERAL, LITERAL_STREAMED */
};

enum imap_event_type {
	IMAP_EVENT_COMMAND,
	IMAP_EVENT_LITERAL,
	IMAP_EVENT_LITERAL_DATA,
	IMAP_EVENT_LITERAL_END,
	IMAP_EVENT_LINE,
	IMAP_EVENT_BAD
};

enum imap_literal_action {
	IMAP_LITERAL_COLLECT,	/* keep the data in the argument tree */
	IMAP_LITERAL_STREAM,	/* hand the data out in LITERAL_DATA events */
	IMAP_LITERAL_REJECT	/* refuse it; the session replies */
};

struct imap_literal_info {
	uint64_t size;
	bool sync;		/* {n}: the client waits for "+" */
	bool literal8;		/* ~{n} */
	unsigned depth;		/* 0 at the top level, 1 inside one list... */
	enum imap_literal_action action; /* what the reader will do: COLLECT
				   if it fits the limits, else REJECT */
};

struct imap_event {
	enum imap_event_type type;
	const char *tag;	/* COMMAND, LITERAL*, BAD: NULL before known */
	const char *name;	/* COMMAND, LITERAL*, BAD: NULL before known */
	/* COMMAND: all arguments.  LITERAL: the complete top-level arguments
	   before the literal (before its outermost open list).  EOL-ended. */
	const struct imap_arg *args;
	size_t arg_count;
	struct imap_literal_info literal; /* LITERAL, LITERAL_DATA, _END */
	const char *data;	/* LITERAL_DATA piece; LINE text without its
				   CRLF, NUL-terminated */
	size_t data_len;
	const char *reason;	/* BAD: short text for the client */
};

/* A reader with the given limits (copied).  Never NULL. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
/* Free the reader and everything it holds; sets *p to NULL. */
void imap_parser_free(struct imap_parser **p);

/*
 * Consume bytes from in[0..n) up to the next event.  *consumed_r is set to
 * the bytes used; the rest must be fed again after handling the event.
 * Returns 1 with *ev_r filled, 0 when all of in was used and more is
 * needed, -1 with an IMAP_EVENT_BAD in *ev_r (the reader stays usable).
 * n may be 0: a streamed literal of 0 octets still ends with LITERAL_END.
 */
int imap_parser_feed(struct imap_parser *p, const void *in, size_t n,
		     size_t *consumed_r, struct imap_event *ev_r);

/*
 * Answer the last IMAP_EVENT_LITERAL (only before the next feed).
 * Returns 1, or -1 if no literal awaits a decision, or COLLECT/STREAM was
 * asked for a literal over max_literal, or COLLECT over max_collect; the
 * action is then unchanged.
 */
int imap_parser_literal_action(struct imap_parser *p,
			       enum imap_literal_action action);

/*
 * Read the next line raw (at most max_raw_line octets): the reply lines of
 * AUTHENTICATE, the DONE that ends IDLE.  Only between commands.  The next
 * event is IMAP_EVENT_LINE (or BAD if the line is too long), then the
 * reader reads commands again.  Returns 1, or -1 inside a command.
 */
int imap_parser_read_line(struct imap_parser *p);

/* The session is done with the last event; give the command's memory
   back now rather than at the next feed.  Harmless at any time. */
void imap_parser_done(struct imap_parser *p);

/* True between commands: no byte of a next command has been read. */
bool imap_parser_at_boundary(const struct imap_parser *p);

/* Bytes of heap the reader holds now (the reader itself included). */
size_t imap_parser_memory(const struct imap_parser *p);

/* Argument access; each returns false if arg is not of the kind asked. */

/* ATOM (not NIL): *str_r is its text. */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* astring: ATOM, NIL ("NIL" is a fine mailbox name), STRING, or LITERAL
   without NULs. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r);
/* string: STRING or LITERAL, NULs allowed (*len_r says the length). */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r,
			 size_t *len_r);
/* nstring: NIL (*str_r = NULL) or string without NULs. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r);
/* number: ATOM of 1*DIGIT below 2^32. */
bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r);
/* number64: ATOM of 1*DIGIT below 2^63. */
bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r);
/* LIST: *list_r is its EOL-ended items, *count_r their number. */
bool imap_arg_get_list(const struct imap_arg *arg,
		       const struct imap_arg **list_r, size_t *count_r);
/* flag: ATOM "\Word" or a keyword atom (RFC 9051 flag, flag-keyword). */
bool imap_arg_is_flag(const struct imap_arg *arg);
/* ATOM equal to word, ASCII case ignored. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word);

#endif
