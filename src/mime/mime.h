#ifndef CORREIO_MIME_H
#define CORREIO_MIME_H
/*
 * mime: correio's message-format code, in one place.  It holds:
 *
 *   - the message parser: a whole message held in memory (a mapped Maildir
 *     file) gives its MIME tree, with for every part the raw byte ranges
 *     and the sizes IMAP wants; BODY[section] specs, header field filters,
 *     RFC 5322 address lists, and the decoding of bodies and header values
 *     (transfer encodings, charsets, RFC 2047) to UTF-8 for SEARCH and the
 *     client.  IMAP's renderings of the tree (ENVELOPE, BODY,
 *     BODYSTRUCTURE) live with the other IMAP encoders, in
 *     lib-imap/imap_body.h;
 *   - RFC 5321 envelope mailboxes (address_*), which SMTP commands carry;
 *   - the encodings: quoted-printable and the 8BITMIME downgrade (qp_*),
 *     xtext (xtext_*), the binary-to-base64 APPEND filter (mime_binenc_*);
 *     the base64 alphabet itself is lib/encoding's;
 *   - the delivery status notifications correio sends (dsn_*); which
 *     notices an envelope's NOTIFY= and RET= ask for is the queue's
 *     (envelope_dsn_wanted(), envelope_dsn_ret_full()).
 *
 * Parser input is the message as correio stores it: lines end in LF,
 * though CRLF and mixed endings are understood the same way.  IMAP counts
 * sizes as if every line ended in CRLF: "CRLF size" below is the raw byte
 * count plus one for every LF not preceded by CR inside the range.
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
 * maximum has appended only a prefix of what it meant to (unless its
 * contract below says it leaves out as it was).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

/* ---- address lists ------------------------------------------------------ */

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

/*
 * Read an RFC 5322 address list value[0..len) (a From, To, Cc, ... value,
 * unfolded) and call fn for each address in order, in the form IMAP's
 * ENVELOPE gives it (RFC 9051 §7.5.2): name (the display name, raw:
 * encoded words not decoded; the comment after an address without one) or
 * NULL, adl (an obsolete route) or NULL, mailbox and host; a missing half
 * of an address is "MISSING_MAILBOX" / "MISSING_DOMAIN".  A group starts
 * with (NULL, NULL, group name, NULL) and ends with all four NULL.
 * Unparsable text is skipped to the next "," or ";"; at most 10,000
 * addresses are given.  The buffers are the walk's, valid for the call.
 * fn returns 1 to go on, 0 to stop, -1 to fail.  Returns 1 when the list
 * was walked to its end, 0 when fn stopped it, -1 when fn failed.
 */
typedef int mime_address_fn(void *ctx, const struct buf *name,
			    const struct buf *adl, const struct buf *mailbox,
			    const struct buf *host);
int mime_address_walk(const char *value, size_t len, mime_address_fn *fn,
		      void *ctx);

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


/* ---- RFC 5321 mailboxes -------------------------------------------- */

/*
 * address: RFC 5321 §4.1.2 Mailbox syntax (local-part "@" domain), with
 * RFC 6531 UTF-8 when allowed.  Pure; no allocation.
 *
 *   Mailbox      = Local-part "@" ( Domain / address-literal )
 *   Local-part   = Dot-string / Quoted-string      ; at most 64 octets, unquoted
 *   Domain       = sub-domain *("." sub-domain)    ; at most 255 octets
 *   address-literal = "[" ( IPv4 / "IPv6:" IPv6 / tag ":" text ) "]"
 */

#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255

struct address {
	char local[ADDRESS_LOCAL_MAX * 2 + 3];	/* as written, quotes included */
	char domain[ADDRESS_DOMAIN_MAX + 1];	/* as written (literal keeps [ ]) */
};

/*
 * Parse s[0..len) as a Mailbox.  utf8 allows non-ASCII UTF-8 (RFC 6531) in
 * both parts; without it any byte >= 0x80 is an error.  Returns 1, or -1
 * with *error_r a short text ("local part too long", ...).
 */
int address_parse(const char *s, size_t len, bool utf8, struct address *r,
		  const char **error_r);

/* Does the address contain any byte >= 0x80? */
bool address_is_utf8(const struct address *a);

/*
 * The lookup key: "local@domain" lower-cased, quotes removed from a quoted
 * local part that needs none (one that does is written in its shortest
 * quoted form); just "local" when the domain is empty (RCPT <Postmaster>).
 * Writes at most size bytes (NUL included).
 * Returns 1, or -1 if it does not fit.
 */
int address_key(const struct address *a, char *out, size_t size);

/*
 * The address as an envelope records it: like address_key() (a quoted
 * local part that needs no quotes loses them, RFC 5321 §4.1.2: "alice"
 * and alice are one mailbox), but every character's case kept.
 * Returns 1, or -1 if it does not fit.
 */
int address_canonical(const struct address *a, char *out, size_t size);

/*
 * Split a lookup key's local part at the first delimiter character
 * ("user+tag" -> "user").  delims "" means no plus-addressing.  A delimiter
 * that is the first character, or any in a quoted local part, is kept.
 * Writes the base key (with domain) to out.  Returns 1 if a tag was
 * removed, 0 if not, -1 if out (size bytes) is too small.
 */
int address_strip_tag(const char *key, const char *delims, char *out,
		      size_t size);

/* ---- quoted-printable and the 8BITMIME downgrade ------------------- */

/*
 * qp: quoted-printable (RFC 2045 §6.7) and the 8BITMIME downgrade of
 * RFC 6152 §3: the relay client calls qp_downgrade() before sending a
 * message with 8-bit data to a server that does not offer 8BITMIME.
 * Messages are in correio's stored form: LF line ends.  Pure; output goes
 * to a struct buf whose maximum caps it.
 */

#define QP_LINE_MAX 76		/* encoded line, soft-break "=" included */
#define QP_DEPTH_MAX 20		/* nested multiparts followed */
#define QP_BOUNDARY_MAX 200	/* RFC 2046 says 70; some senders use more */

/* Does p[0..len) hold any byte >= 0x80? */
bool qp_is_8bit(const char *p, size_t len);

/*
 * Quoted-printable encode in[0..len) (LF line ends; each LF is a hard line
 * break and stays an LF) and append it to out.  Encoded lines are at most
 * QP_LINE_MAX characters.  Besides what RFC 2045 requires ("=", control
 * bytes, bytes >= 0x7f, whitespace before a line end), a "." or "From "
 * that starts a line is encoded (=2E, =46) so that no line reads "." or
 * "From ", and "--" after a soft break is encoded (=2D-) so that wrapping
 * never makes a MIME boundary appear.
 * Returns 1, or -1 (out full; out is then left as it was).
 */
int qp_encode(const char *in, size_t len, struct buf *out);

/*
 * Make msg[0..len) 7-bit for a peer without 8BITMIME.  Each leaf MIME part
 * (or the whole body of a non-MIME or single-part message) that holds
 * 8-bit data and is labelled 7bit, 8bit or binary (or not labelled) is
 * re-encoded as quoted-printable: its Content-Transfer-Encoding field is
 * replaced, a "Content-Type: text/plain; charset=unknown-8bit" is added
 * when it had none, and the message gets "MIME-Version: 1.0" if it lacked
 * it.  Multiparts are walked by boundary (nested up to QP_DEPTH_MAX); a
 * multipart's own 8bit/binary label becomes 7bit.  Everything else is
 * copied byte for byte.
 *
 * Returns 1 with *converted_r true and the 7-bit message appended to out;
 * or 1 with *converted_r false when msg is already 7-bit (out untouched:
 * send msg as it is); or -1 with *error_r (a static string) when it cannot
 * be converted: 8-bit bytes in a header field, in a message/ part, in a
 * multipart's preamble or epilogue, in a part already labelled base64,
 * quoted-printable or an unknown encoding, in a multipart without usable
 * boundary, nesting too deep, or out full.  On -1 out is left as it was.
 */
int qp_downgrade(const char *msg, size_t len, struct buf *out,
		 bool *converted_r, const char **error_r);

/* ---- xtext --------------------------------------------------------- */

/*
 * xtext: the encoding of the DSN parameters ENVID= and ORCPT= (RFC 3461 §4).
 *
 *   xtext   = *( xchar / hexchar )
 *   xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *             except for "+" and "="
 *   hexchar = "+" 2(HEXDIGIT)      ; upper case on output
 *
 * Pure; the output goes to a struct buf.
 */

/*
 * Decode in[0..len) and append the result to out.  Lower-case hex digits
 * and a bare "=" are accepted (be liberal in what is read); any byte
 * outside 33..126 or a "+" without two hex digits is refused.  The result
 * may contain any byte, NUL included: check it before use.
 * Returns 1, or -1 (bad syntax or out full; out is then left as it was).
 */
int xtext_decode(const char *in, size_t len, struct buf *out);

/* Encode in[0..len) and append it to out.  Returns 1, or -1 (out full;
   out is then left as it was). */
int xtext_encode(const char *in, size_t len, struct buf *out);

/* Is s[0..len) valid xtext as xtext_decode() reads it? */
bool xtext_valid(const char *s, size_t len);

/* ---- delivery status notifications --------------------------------- */

/*
 * dsn: the delivery status notifications correio sends to the envelope
 * sender (RFC 3464 multipart/report; report-type=delivery-status, RFC 3461
 * for what is asked with NOTIFY= and RET=, RFC 6533 when addresses or the
 * returned header section hold UTF-8).  Pure: the caller gathers the
 * facts, dsn_compose() writes the message text; queuing and sending it
 * (with MAIL FROM:<>) is the caller's.
 */

#define DSN_FIELD_MAX 900	/* longest value written; longer ones are cut */
#define DSN_STATUS_MAX 16	/* "5.123.123" and its NUL fit */

enum dsn_kind {
	DSN_FAILURE,		/* a bounce: "Undelivered Mail Returned to Sender" */
	DSN_DELAY,		/* "Delayed Mail (still being retried)" */
	DSN_SUCCESS,		/* "Successful Mail Delivery Report" */
};

/* One recipient's fate.  The strings are borrowed for the call. */
struct dsn_rcpt {
	const char *address;	/* the recipient as given at RCPT TO */
	const char *orcpt;	/* ORCPT= as given ("rfc822;a+2Bb@x"), or NULL */
	const char *action;	/* "failed" "delayed" "delivered" "relayed"
				   "expanded" */
	const char *status;	/* "5.1.1" (see dsn_status_from_reply()) */
	const char *remote_mta;	/* "dns; mx.example.net", or NULL */
	const char *diagnostic;	/* "smtp; 550 5.1.1 No such user", or NULL */
	time_t last_attempt;	/* 0: none (the field is left out) */
	time_t will_retry_until;/* for "delayed"; 0 otherwise */
};

/* The message being reported on, and the report. */
struct dsn_info {
	enum dsn_kind kind;
	const char *reporting_mta;	/* our hostname */
	const char *from_address;	/* "MAILER-DAEMON@<hostname>" */
	const char *to;			/* the envelope sender (never "") */
	const char *envid;		/* ENVID= as given (xtext), or NULL */
	const char *queue_id;		/* of the original message */
	time_t arrival;			/* 0: the field is left out */
	time_t date;			/* of the report; 0: now */
	bool ret_full;			/* attach the whole original (the queue
					   decides: envelope_dsn_ret_full()) */
	size_t max_return;		/* bytes; 0: no limit */
};

struct dsn_result {
	bool need_8bitmime;	/* 8-bit text inside: send with BODY=8BITMIME */
	bool need_smtputf8;	/* UTF-8 in addresses or returned header
				   fields: send with SMTPUTF8 */
	bool returned_full;	/* the whole original is attached (else its
				   header section only) */
};

/*
 * Append the complete notice, LF line ends, to out: header fields (From:
 * "Mail Delivery System <from_address>", To:, Subject:, Date:, Message-ID:,
 * Auto-Submitted: auto-replied, MIME-Version:, Content-Type:
 * multipart/report), then three parts: a text/plain explanation, the
 * message/delivery-status fields, and the original — message/rfc822 when
 * info->ret_full and it is at most max_return bytes, else its header
 * section as text/rfc822-headers.  original[0..original_len) is the stored
 * text; a leading Return-Path: field is left out.  8-bit text in the
 * original is labelled 8bit (and need_8bitmime set); UTF-8 in its header
 * section or in an address makes the parts message/global,
 * message/global-headers and message/global-delivery-status (RFC 6533)
 * and sets need_smtputf8.  Control characters in field values become
 * spaces, 8-bit bytes in diagnostics "?", and values are cut at
 * DSN_FIELD_MAX bytes.  The ENVID and ORCPT are shown xtext-decoded
 * (undecodable ones as given).
 *
 * rcpts[0..n) with n >= 1.  Returns 1 with *result_r filled, or -1 with
 * *error_r (a static string: bad argument, out full); out is then left as
 * it was.
 */
int dsn_compose(const struct dsn_info *info, const struct dsn_rcpt *rcpts,
		unsigned n, const char *original, size_t original_len,
		struct buf *out, struct dsn_result *result_r,
		const char **error_r);

/*
 * The status code (RFC 3463) for an SMTP reply: the enhanced code when
 * `enhanced` (the reply text after the code, or NULL) starts with one of
 * the same class, else "<class>.0.0".  code must be 200..599.
 * Returns 1, or -1 (bad code, out of size bytes too small).
 */
int dsn_status_from_reply(int code, const char *enhanced, char *out,
			  size_t size);

/* A recipient's texts for its struct dsn_rcpt, made by dsn_rcpt_text(). */
struct dsn_rcpt_text {
	char status[DSN_STATUS_MAX];
	char diagnostic[700];	/* "" for none */
	char mta[300];		/* "" for none */
};

/*
 * The Status, Diagnostic-Code and Remote-MTA of a recipient from what the
 * queue recorded of its last attempt: last_error is an SMTP reply ("550
 * 5.1.1 No such user": its enhanced code if of the reply's class, the
 * reply as "smtp; ..."), correio's own text ("4.4.1 No answer": a status
 * of the notice's class at its start is taken, the text as
 * "X-correio; ..."), or NULL; remote_host is "mx.example.net[192.0.2.1]"
 * (the address dropped: "dns; mx.example.net") or NULL.  The status
 * defaults to "<class>.0.0" for kind (5 failure, 4 delay, 2 success).
 * Texts too long are cut.
 */
void dsn_rcpt_text(enum dsn_kind kind, const char *last_error,
		   const char *remote_host, struct dsn_rcpt_text *t);

#endif
