#ifndef CORREIO_MIME_H
#define CORREIO_MIME_H
/*
 * mime: the message parser of correio.  It reads a whole message held in
 * memory (a mapped Maildir file) and gives its MIME tree, with for every
 * part the raw byte ranges and the sizes IMAP wants; then it writes IMAP
 * ENVELOPE / BODY / BODYSTRUCTURE, resolves BODY[section] specs, filters
 * header fields, and decodes bodies and header values to UTF-8 for SEARCH
 * and the client.
 *
 * Input is the message as correio stores it: lines end in LF, though CRLF
 * and mixed endings are understood the same way.  IMAP counts sizes as if
 * every line ended in CRLF: "CRLF size" below is the raw byte count plus
 * one for every LF not preceded by CR inside the range.
 *
 * Parsing never fails: malformed input (missing or broken boundaries, bad
 * encodings, NUL or 8-bit bytes in headers, no empty line after the header,
 * truncation) gives a best-effort tree.  The limits below bound the work;
 * past them the remaining content is one opaque leaf.
 *
 * Ownership: mime_message_parse() does not copy the text; it must outlive
 * the message.  Everything a message points to (parts, strings) belongs to
 * it and lives until mime_message_free().  Output goes into a caller's
 * struct buf; a function that returns -1 because the buf reached its
 * maximum has appended only a prefix of what it meant to.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* ---- limits ---------------------------------------------------------- */

#define MIME_MAX_DEPTH 20		/* nesting of multiparts and messages */
#define MIME_MAX_PARTS 1000		/* parts in one tree, the root included */
#define MIME_MAX_HEADER_FIELDS 1000	/* fields read from one header block */
#define MIME_MAX_HEADER_SIZE (256 * 1024)	/* bytes of one header block */

struct mime_limits {
	unsigned int max_depth;
	unsigned int max_parts;
	unsigned int max_header_fields;
	size_t max_header_size;
};

/* ---- the tree ---------------------------------------------------------- */

enum mime_cte {
	MIME_CTE_7BIT,		/* also when the header is absent */
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_QP,		/* quoted-printable */
	MIME_CTE_BASE64,
	MIME_CTE_UNKNOWN	/* x-uuencode and the like: not decoded */
};

/* part->flags */
#define MIME_PART_MULTIPART	0x01	/* children are the body parts */
#define MIME_PART_MESSAGE	0x02	/* children is the embedded message */
#define MIME_PART_TEXT		0x04	/* read as text: TEXT/anything, or an
					   opaque multipart */
#define MIME_PART_DEFAULT_TYPE	0x08	/* no (valid) Content-Type */
#define MIME_PART_NO_EMPTY_LINE	0x10	/* header not ended by an empty line */
#define MIME_PART_UNCLOSED	0x20	/* multipart without a close delimiter */
#define MIME_PART_OPAQUE	0x40	/* declared multipart or message but not
					   parsed (no delimiter found, encoded,
					   or past a limit): one leaf, shown to
					   IMAP as TEXT/PLAIN (a multipart) or
					   APPLICATION/OCTET-STREAM (a message) */
#define MIME_PART_LIMIT		0x80	/* a limit cut the structure here */

/*
 * A Content-Type or Content-Disposition parameter.  RFC 2231 continuations
 * (name*0, name*1*, ...) are joined into one parameter; if any piece was
 * encoded, extended is true and value is in RFC 2231 form
 * ("charset'language'%XX..."), as BODYSTRUCTURE sends it (name "NAME*").
 * mime_param_decode() gives the UTF-8 value.
 */
struct mime_param {
	const char *name;	/* upper-case, without the RFC 2231 suffix */
	const char *value;
	bool extended;
};

/*
 * One entity: the message itself, a body part of a multipart, or the
 * message embedded in a message/rfc822 part.  Read-only for callers.
 */
struct mime_part {
	struct mime_part *parent;	/* NULL for the root */
	struct mime_part *children;	/* first body part, or the embedded
					   message of a MESSAGE part */
	struct mime_part *next;		/* next sibling in a multipart */
	unsigned int nchildren;
	unsigned int depth;		/* 0 for the root */
	unsigned int flags;		/* MIME_PART_* */

	/* raw byte offsets into the message text */
	size_t header_start;
	size_t body_start;		/* after the empty line, if any */
	size_t end;			/* one past the body */

	/* CRLF sizes */
	uint64_t header_size;		/* the empty line included */
	uint64_t body_size;
	uint64_t body_lines;		/* LFs, plus a last unterminated line */

	/* MIME header fields; strings are NULL when the field is absent */
	const char *type;		/* upper-case, "TEXT" by default */
	const char *subtype;		/* upper-case, "PLAIN" by default */
	const struct mime_param *params;
	unsigned int nparams;
	const char *encoding;		/* Content-Transfer-Encoding, upper-case */
	enum mime_cte cte;
	const char *id;			/* Content-ID, unfolded, as written */
	const char *description;	/* Content-Description, not decoded */
	const char *md5;		/* Content-MD5 */
	const char *location;		/* Content-Location */
	const char *disposition;	/* upper-case disposition type */
	const struct mime_param *disp_params;
	unsigned int ndisp_params;
	const char *const *languages;	/* Content-Language tags */
	unsigned int nlanguages;
};

struct mime_message;

/*
 * Parse data[0..size).  limits NULL means the MIME_MAX_* defaults.  Never
 * fails (it exits on out of memory, like buf).  Free with
 * mime_message_free(), which sets *msg to NULL.
 */
struct mime_message *mime_message_parse(const char *data, size_t size,
					const struct mime_limits *limits);
void mime_message_free(struct mime_message **msg);

const struct mime_part *mime_message_root(const struct mime_message *msg);
const char *mime_message_data(const struct mime_message *msg);
size_t mime_message_size(const struct mime_message *msg);
/* RFC822.SIZE: the CRLF size of the whole message. */
uint64_t mime_message_size_crlf(const struct mime_message *msg);
/* Parts in the tree, the root included. */
unsigned int mime_message_part_count(const struct mime_message *msg);

/*
 * Depth-first, document order walk of every part (the root first, an
 * embedded message right after its MESSAGE part).  Returns the part after
 * p, or NULL at the end.
 */
const struct mime_part *mime_part_next(const struct mime_part *p);

/* ---- header fields ----------------------------------------------------- */

/*
 * One header field as found in the text: name and value point into the
 * message; value is raw (folded, line ending of the last line excluded,
 * leading whitespace kept).  start..end covers the whole field, its last
 * line ending included.
 */
struct mime_field {
	const char *name;
	size_t name_len;		/* without trailing whitespace */
	const char *value;
	size_t value_len;
	size_t start, end;		/* offsets relative to the iterated text */
};

struct mime_header_iter {
	const char *data;
	size_t pos, end;
	bool empty_line;	/* the header ended with an empty line, which
				   pos is now past */
};

/*
 * Iterate the fields of a header block text[0..len) (for a part:
 * data + header_start, body_start - header_start).  RFC 5322 §2.2: a field
 * is a name, optional blanks, ":" and a value continued on lines that begin
 * with a space or tab.  The iteration stops at the empty line, or at a line
 * that is no field; pos is then where the body starts.
 */
void mime_header_iter_init(struct mime_header_iter *it, const char *text,
			   size_t len);
/* Returns 1 with *f set, 0 at the end of the header. */
int mime_header_next(struct mime_header_iter *it, struct mime_field *f);

/*
 * Append the unfolded value of f to out (RFC 5322 §2.2.3: line breaks
 * removed; also NUL bytes removed and surrounding blanks trimmed).
 * Returns 1, or -1 when out is full.
 */
int mime_header_unfold(const struct mime_field *f, struct buf *out);

/*
 * Find the first field called name (case-insensitive) in the header of
 * part, and append its unfolded value to out.  Returns 1 found, 0 absent,
 * -1 out full.
 */
int mime_header_get(const struct mime_message *msg,
		    const struct mime_part *part, const char *name,
		    struct buf *out);

/*
 * The same, with the value decoded to UTF-8 by mime_rfc2047_decode() (for
 * SEARCH SUBJECT / HEADER and the client).  Returns 1, 0 absent, -1 full.
 */
int mime_header_get_decoded(const struct mime_message *msg,
			    const struct mime_part *part, const char *name,
			    struct buf *out);

/*
 * HEADER.FIELDS / HEADER.FIELDS.NOT: append to out the fields of the header
 * block text[0..len) whose name is (exclude: is not) one of names[0..n)
 * (case-insensitive), raw and in order, then an empty line "\n".  Returns 1,
 * or -1 when out is full.
 */
int mime_header_filter(const char *text, size_t len,
		       const char *const *names, size_t n, bool exclude,
		       struct buf *out);

/* ---- parameters ---------------------------------------------------------- */

/* The Content-Type parameter called name (case-insensitive), or NULL. */
const struct mime_param *mime_param_find(const struct mime_part *part,
					 const char *name);
/* The same among the Content-Disposition parameters. */
const struct mime_param *mime_param_find_disp(const struct mime_part *part,
					      const char *name);
/*
 * Append the value of p as UTF-8: an RFC 2231 value is percent-decoded
 * and converted from its charset; a plain one has its RFC 2047 encoded
 * words decoded (mailers put them in file names).  Returns 1 or -1 (full).
 */
int mime_param_decode(const struct mime_param *p, struct buf *out);

/* ---- IMAP output ------------------------------------------------------- */

/*
 * Append s[0..len) as an IMAP string: a quoted string ("\" and DQUOTE
 * escaped) when it holds only 7-bit characters other than CR and LF, else a
 * literal "{n}\r\n" followed by the bytes.  NUL bytes are left out (IMAP
 * strings cannot carry them).  mime_imap_nstring() writes NIL for s NULL.
 * Returns 1 or -1 (full).
 */
int mime_imap_string(struct buf *out, const char *s, size_t len);
int mime_imap_nstring(struct buf *out, const char *s);

/*
 * ENVELOPE (RFC 9051 §7.5.2) of a message: the root, or the embedded
 * message of a MESSAGE part (its children).  Values are the raw unfolded
 * fields (encoded words left as they are, as IMAP requires); From, Sender,
 * Reply-To, To, Cc and Bcc are parsed as RFC 5322 address lists, groups
 * in IMAP group syntax; Sender and Reply-To default to From.  Returns 1 or
 * -1 (full).
 */
int mime_imap_envelope(const struct mime_message *msg,
		       const struct mime_part *part, struct buf *out);

/*
 * An RFC 5322 address list (a From, To, Cc, ... value) in one normal
 * form for searching: "Name <local@domain>" for each address, separated
 * by a space, comments and folding gone ("<user (c)@ (c) example.org>"
 * becomes "<user@example.org>"), groups as "group: <a@b> <c@d> ;".
 * Appended to out.  Returns 1 or -1 (full).
 */
int mime_address_text(const char *value, size_t len, struct buf *out);

/*
 * The first address of an address list (groups entered) with a mailbox
 * and a host: its display name (raw: encoded words not decoded; the
 * comment after an address without one), local part and domain, appended
 * to r's buffers (which the caller inits).  SORT FROM/TO/CC and
 * DISPLAYFROM/DISPLAYTO use it.  Returns 1, 0 none, -1 (a buffer full).
 */
struct mime_address {
	struct buf name, mailbox, host;
};
int mime_address_first(const char *value, size_t len, struct mime_address *r);

/* mime_imap_body() flags */
#define MIME_IMAP_EXTENDED 0x01	/* BODYSTRUCTURE, not BODY */
#define MIME_IMAP_REV1 0x02	/* IMAP4rev1 session: MESSAGE/GLOBAL is a
				   basic part (RFC 3501 knows only
				   MESSAGE/RFC822 as body-type-msg) */

/*
 * BODY or BODYSTRUCTURE (MIME_IMAP_EXTENDED) of part and all below it.
 * Returns 1 or -1 (full).
 */
int mime_imap_body(const struct mime_message *msg,
		   const struct mime_part *part, unsigned int flags,
		   struct buf *out);

/* ---- sections ---------------------------------------------------------- */

enum mime_section_kind {
	MIME_SECTION_BODY,		/* "" or "1.2": the whole message or the
					   part's body */
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,	/* range is the header block; filter it
					   with mime_header_filter() */
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME
};

struct mime_section {
	enum mime_section_kind kind;
	const struct mime_part *part;	/* the part the numbers lead to (the
					   root for none) */
	size_t start, end;		/* raw range in the message */
};

/*
 * Resolve an IMAP section-spec (RFC 9051 §6.4.5) such as "", "1.2",
 * "HEADER", "2.TEXT", "1.MIME", "3.HEADER.FIELDS" (case-insensitive; the
 * field list of HEADER.FIELDS is not part of spec).  For a MESSAGE part,
 * "N.HEADER" and "N.TEXT" refer to the embedded message and "N.1" to its
 * first part (or its body when it is not a multipart).  Returns 1 with *r
 * set, 0 when no such part or section exists in this message, -1 when spec
 * is not a valid section-spec.
 */
int mime_section_resolve(const struct mime_message *msg, const char *spec,
			 size_t len, struct mime_section *r);

/*
 * Append the part number path of part ("1.2"; "" for the root and for the
 * embedded message of a multipart MESSAGE part, which are addressed by
 * their parent's path).  Returns 1 or -1 (full).
 */
int mime_section_path(const struct mime_part *part, struct buf *out);

/* ---- CRLF and transfer encodings --------------------------------------- */

/* CRLF size of p[0..n). */
uint64_t mime_crlf_size(const char *p, size_t n);
/* Append p[0..n) with every LF not preceded by CR written as CRLF.
   Returns 1 or -1 (full: a prefix was appended). */
int mime_crlf_append(struct buf *out, const char *p, size_t n);

/*
 * Append the decoded form of in[0..n).  Base64 is lenient: bytes outside
 * the alphabet are skipped and the first "=" ends the data.
 * Quoted-printable (RFC 2045 §6.7): "=" at the end of a line joins lines,
 * "=XX" is a byte, a bad escape is kept as it is, blanks at the end of a
 * line are dropped; crlf true writes hard line breaks as CRLF (else as in
 * the input).  Identity encodings copy (with crlf: LF written as CRLF).
 * Returns 1, 0 for MIME_CTE_UNKNOWN (copied as is), -1 full.
 */
int mime_cte_decode(enum mime_cte cte, const char *in, size_t n, bool crlf,
		    struct buf *out);
int mime_base64_decode(const char *in, size_t n, struct buf *out);
int mime_qp_decode(const char *in, size_t n, bool crlf, struct buf *out);

/* ---- charsets and header decoding ------------------------------------- */

/*
 * Append in[0..n), written in charset, as UTF-8 (iconv).  Bytes that do
 * not convert become U+FFFD.  An unknown charset (or NULL) is taken as
 * UTF-8: valid sequences are kept, invalid bytes become U+FFFD.  Returns 1
 * converted, 0 charset unknown, -1 full.
 */
int mime_charset_to_utf8(const char *charset, const char *in, size_t n,
			 struct buf *out);
/* Append in[0..n) with every byte that is not valid UTF-8 as U+FFFD.
   Returns 1 or -1 (full). */
int mime_utf8_sanitize(const char *in, size_t n, struct buf *out);

/*
 * Decode an unstructured header value (unfolded) to UTF-8: RFC 2047
 * encoded words (B and Q; adjacent ones joined without the blanks between
 * them; malformed ones kept as they are), other bytes taken as UTF-8.
 * Returns 1 or -1 (full).
 */
int mime_rfc2047_decode(const char *in, size_t n, struct buf *out);

/* ---- decoded content ------------------------------------------------- */

/*
 * Append the body of part decoded to UTF-8 text: transfer decoding, then
 * the charset parameter (default US-ASCII, read as UTF-8), line endings as
 * LF.  At most out->max bytes: returns 1 complete, 0 cut at out's maximum.
 * A multipart or MESSAGE part gives its raw body (invalid UTF-8 replaced).
 */
int mime_text_decode(const struct mime_message *msg,
		     const struct mime_part *part, struct buf *out);

/*
 * BINARY[section] (RFC 3516): append the body of part with the transfer
 * encoding undone and no charset conversion, as IMAP sends it: identity
 * encodings and quoted-printable line breaks as CRLF, base64 exact.
 * Returns 1, 0 for an unknown encoding (nothing appended), -1 full.
 * mime_text_binary_size() gives the same length without storing it
 * (1, or 0 for an unknown encoding).
 */
int mime_text_binary(const struct mime_message *msg,
		     const struct mime_part *part, struct buf *out);
int mime_text_binary_size(const struct mime_message *msg,
			  const struct mime_part *part, uint64_t *size_r);

enum mime_text_kind {
	MIME_TEXT_HEADER,	/* a decoded header field value */
	MIME_TEXT_BODY		/* the decoded body of a TEXT part */
};

struct mime_text {
	enum mime_text_kind kind;
	const struct mime_part *part;	/* the root or an embedded message for
					   headers, the TEXT part for bodies */
	const char *name;		/* field name (not terminated) */
	size_t name_len;
	const char *text;		/* UTF-8, NUL-terminated */
	size_t len;
};

/* Return 1 to go on, 0 to stop the walk. */
typedef int mime_text_fn(void *ctx, const struct mime_text *t);

#define MIME_WALK_HEADERS 0x01	/* fields of the root and embedded messages */
#define MIME_WALK_BODIES 0x02	/* bodies of TEXT parts */

/*
 * The text SEARCH looks at, in document order: for the header blocks of
 * the root and of every embedded message, each field decoded with
 * mime_rfc2047_decode(); for every TEXT leaf, its body decoded with
 * mime_text_decode(), at most max bytes of it (0: no limit).  Returns 1
 * when all was walked, 0 when fn stopped it.
 */
int mime_text_walk(const struct mime_message *msg, unsigned int what,
		   size_t max, mime_text_fn *fn, void *ctx);

/* ---- APPEND filter ------------------------------------------------------ */

/*
 * Re-encode, as a message streams in, every leaf part declared
 * "Content-Transfer-Encoding: binary" into base64 (its CTE field
 * rewritten), so that its exact bytes survive LF-ended text storage;
 * everything else passes byte for byte.  Feed pieces of any size with
 * write, then finish once; output is appended to out.  Memory stays
 * bounded by one header block and one line start.  Both return 1.
 */
struct mime_binenc;
struct mime_binenc *mime_binenc_new(void);
int mime_binenc_write(struct mime_binenc *e, const void *data, size_t len,
		      struct buf *out);
int mime_binenc_finish(struct mime_binenc *e, struct buf *out);
void mime_binenc_free(struct mime_binenc **e);

#endif
