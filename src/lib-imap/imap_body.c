/*
 * imap_body.c - IMAP renderings of a message parsed by mime/: ENVELOPE,
 * BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2).  Called by
 * the IMAP server's FETCH.  Strings go through imap_quote, like every
 * other IMAP string correio writes.
 *
 *   body            = "(" (body-type-1part / body-type-mpart) ")"
 *   body-type-1part = (body-type-basic / body-type-msg / body-type-text)
 *                     [SP body-ext-1part]
 *   body-type-basic = media-basic SP body-fields
 *   body-type-msg   = media-message SP body-fields SP envelope
 *                     SP body SP body-fld-lines
 *   body-type-text  = media-text SP body-fields SP body-fld-lines
 *   body-fields     = body-fld-param SP body-fld-id SP body-fld-desc SP
 *                     body-fld-enc SP body-fld-octets
 *   body-ext-1part  = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
 *                     [SP body-fld-loc *(SP body-extension)]]]
 *   body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
 *   body-ext-mpart  = body-fld-param [SP body-fld-dsp [SP body-fld-lang
 *                     [SP body-fld-loc *(SP body-extension)]]]
 *   envelope        = "(" env-date SP env-subject SP env-from SP
 *                     env-sender SP env-reply-to SP env-to SP env-cc SP
 *                     env-bcc SP env-in-reply-to SP env-message-id ")"
 *
 * Media types, encodings, parameter names and disposition types are sent
 * upper-case, like the RFC examples; a TEXT part without a charset gets
 * ("CHARSET" "US-ASCII"); sizes are CRLF sizes.  Strings are quoted when
 * they are 7-bit without CR or LF, else literals (8-bit text is not sent
 * quoted, whatever the session enabled).  The parser removes NULs from
 * header values and leaves none in its C strings, so no literal8 is
 * written.  Output is bounded by the caller's buffer only (the parser
 * bounds the tree).
 */
#include "imap_body.h"

#include <inttypes.h>
#include <string.h>

#include "imap_quote.h"

/* A string of the message as IMAP nstring: NIL for NULL. */
static int nstring(struct buf *out, const char *s, size_t len)
{
	return imap_quote_nstring(out, s, len, false);
}

static int cnstring(struct buf *out, const char *s)
{
	return nstring(out, s, s != NULL ? strlen(s) : 0);
}

/* ---- address lists ------------------------------------------------------ */

struct addr_writer {
	struct buf *out;
	unsigned int count;
};

static int addr_nstring(struct buf *out, const struct buf *b)
{
	return b == NULL ? buf_puts(out, "NIL") : nstring(out, buf_cstr(b), b->len);
}

/* One address as (name adl mailbox host), the list opened before the
   first. */
static int addr_fn(void *ctx, const struct buf *name, const struct buf *adl,
		   const struct buf *mailbox, const struct buf *host)
{
	struct addr_writer *w = ctx;
	struct buf *out = w->out;

	if (buf_puts(out, w->count++ == 0 ? "((" : "(") < 0 ||
	    addr_nstring(out, name) < 0 || buf_putc(out, ' ') < 0 ||
	    addr_nstring(out, adl) < 0 || buf_putc(out, ' ') < 0 ||
	    addr_nstring(out, mailbox) < 0 || buf_putc(out, ' ') < 0 ||
	    addr_nstring(out, host) < 0 || buf_putc(out, ')') < 0)
		return -1;
	return 1;
}

/* An address list value as IMAP: a list of addresses, or NIL. */
static int addresses_write(const char *value, size_t len, struct buf *out)
{
	struct addr_writer w = { .out = out };

	if (mime_address_walk(value, len, addr_fn, &w) < 0)
		return -1;
	return buf_puts(out, w.count > 0 ? ")" : "NIL") < 0 ? -1 : 1;
}

/* ---- ENVELOPE ---------------------------------------------------------- */

/* Write the address list of field name; 0 when it is empty (NIL). */
static int envelope_addresses(const struct mime_message *msg,
			      const struct mime_part *part, const char *name,
			      struct buf *tmp, struct buf *out)
{
	size_t before = out->len;

	buf_reset(tmp);
	if (mime_header_get(msg, part, name, tmp) < 0 ||
	    addresses_write(buf_cstr(tmp), tmp->len, out) < 0)
		return -1;
	return out->len - before == 3 &&
	       memcmp(out->data + before, "NIL", 3) == 0 ? 0 : 1;
}

/* Sender and Reply-To: the From list when absent or empty. */
static int envelope_defaulted(const struct mime_message *msg,
			      const struct mime_part *part, const char *name,
			      struct buf *tmp, struct buf *out)
{
	size_t before = out->len;
	int ret = envelope_addresses(msg, part, name, tmp, out);

	if (ret != 0)
		return ret;
	buf_truncate(out, before);
	return envelope_addresses(msg, part, "From", tmp, out);
}

static int envelope_string(const struct mime_message *msg,
			   const struct mime_part *part, const char *name,
			   struct buf *tmp, struct buf *out)
{
	int ret;

	buf_reset(tmp);
	ret = mime_header_get(msg, part, name, tmp);
	if (ret < 0)
		return -1;
	if (ret == 0)
		return buf_puts(out, "NIL");
	return nstring(out, buf_cstr(tmp), tmp->len);
}

int imap_body_envelope(const struct mime_message *msg,
		       const struct mime_part *part, struct buf *out)
{
	static const struct {
		const char *name;
		char kind;	/* s: string, a: addresses, d: defaulted */
	} fields[] = {
		{ "Date", 's' }, { "Subject", 's' }, { "From", 'a' },
		{ "Sender", 'd' }, { "Reply-To", 'd' }, { "To", 'a' },
		{ "Cc", 'a' }, { "Bcc", 'a' }, { "In-Reply-To", 's' },
		{ "Message-ID", 's' },
	};
	struct buf tmp;
	size_t i;
	int ret;

	buf_init(&tmp, 0);
	ret = buf_putc(out, '(');
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]) && ret >= 0; i++) {
		if (i > 0 && buf_putc(out, ' ') < 0)
			ret = -1;
		else if (fields[i].kind == 's')
			ret = envelope_string(msg, part, fields[i].name, &tmp,
					      out);
		else if (fields[i].kind == 'a')
			ret = envelope_addresses(msg, part, fields[i].name,
						 &tmp, out);
		else
			ret = envelope_defaulted(msg, part, fields[i].name,
						 &tmp, out);
	}
	buf_deinit(&tmp);
	if (ret < 0 || buf_putc(out, ')') < 0)
		return -1;
	return 1;
}

/* ---- BODY / BODYSTRUCTURE ------------------------------------------------ */

struct body_writer {
	const struct mime_message *msg;
	struct buf *out;
	bool extended;
	bool rev1;
	int ret;
};

static void put(struct body_writer *w, const char *s)
{
	if (w->ret > 0 && buf_puts(w->out, s) < 0)
		w->ret = -1;
}

static void nstr(struct body_writer *w, const char *s)
{
	if (w->ret > 0 && cnstring(w->out, s) < 0)
		w->ret = -1;
}

static void number(struct body_writer *w, uint64_t n)
{
	if (w->ret > 0 && buf_printf(w->out, " %" PRIu64, n) < 0)
		w->ret = -1;
}

static bool find_charset(const struct mime_param *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (strcmp(p[i].name, "CHARSET") == 0)
			return true;
	}
	return false;
}

/* body-fld-param; charset true adds CHARSET US-ASCII when missing. */
static void params_write(struct body_writer *w, const struct mime_param *p,
			 unsigned int n, bool charset)
{
	struct buf name;
	unsigned int i;

	if (charset && find_charset(p, n))
		charset = false;
	if (n == 0 && !charset) {
		put(w, "NIL");
		return;
	}
	put(w, charset ? "(\"CHARSET\" \"US-ASCII\"" : "(");
	buf_init(&name, 0);
	for (i = 0; i < n; i++) {
		buf_reset(&name);
		buf_puts(&name, p[i].name);
		if (p[i].extended)
			buf_putc(&name, '*');
		if (i > 0 || charset)
			put(w, " ");
		nstr(w, buf_cstr(&name));
		put(w, " ");
		nstr(w, p[i].value);
	}
	buf_deinit(&name);
	put(w, ")");
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void ext_write(struct body_writer *w, const struct mime_part *p)
{
	unsigned int i;

	put(w, " ");
	if (p->disposition == NULL) {
		put(w, "NIL");
	} else {
		put(w, "(");
		nstr(w, p->disposition);
		put(w, " ");
		params_write(w, p->disp_params, p->ndisp_params, false);
		put(w, ")");
	}
	put(w, " ");
	if (p->nlanguages == 0)
		put(w, "NIL");
	else if (p->nlanguages == 1)
		nstr(w, p->languages[0]);
	for (i = 0; i < p->nlanguages && p->nlanguages > 1; i++) {
		put(w, i == 0 ? "(" : " ");
		nstr(w, p->languages[i]);
	}
	if (p->nlanguages > 1)
		put(w, ")");
	put(w, " ");
	nstr(w, p->location);
}

static void body_write(struct body_writer *w, const struct mime_part *p);

static void multipart_write(struct body_writer *w, const struct mime_part *p)
{
	const struct mime_part *c;

	for (c = p->children; c != NULL; c = c->next)
		body_write(w, c);
	put(w, " ");
	nstr(w, p->subtype);
	if (w->extended) {
		put(w, " ");
		params_write(w, p->params, p->nparams, false);
		ext_write(w, p);
	}
}

/* media type as IMAP sees it: an opaque part is shown as a leaf type */
static void media_write(struct body_writer *w, const struct mime_part *p)
{
	if ((p->flags & MIME_PART_OPAQUE) != 0 &&
	    (p->flags & MIME_PART_TEXT) != 0)
		put(w, "\"TEXT\" \"PLAIN\" ");
	else if ((p->flags & MIME_PART_OPAQUE) != 0)
		put(w, "\"APPLICATION\" \"OCTET-STREAM\" ");
	else {
		nstr(w, p->type);
		put(w, " ");
		nstr(w, p->subtype);
		put(w, " ");
	}
}

/* Is p written as body-type-msg (envelope, body and lines)? */
static bool message_form(const struct body_writer *w,
			 const struct mime_part *p)
{
	return (p->flags & MIME_PART_MESSAGE) != 0 &&
	       !(w->rev1 && strcmp(p->subtype, "GLOBAL") == 0);
}

static void leaf_write(struct body_writer *w, const struct mime_part *p)
{
	bool text = (p->flags & MIME_PART_TEXT) != 0;
	bool message = message_form(w, p);

	media_write(w, p);
	params_write(w, p->params, p->nparams, text);
	put(w, " ");
	nstr(w, p->id);
	put(w, " ");
	nstr(w, p->description);
	put(w, " ");
	nstr(w, p->encoding != NULL ? p->encoding : "7BIT");
	number(w, p->body_size);
	if (message) {
		put(w, " ");
		if (w->ret > 0 &&
		    imap_body_envelope(w->msg, p->children, w->out) < 0)
			w->ret = -1;
		put(w, " ");
		body_write(w, p->children);
	}
	if (text || message)
		number(w, p->body_lines);
	if (w->extended) {
		put(w, " ");
		nstr(w, p->md5);
		ext_write(w, p);
	}
}

static void body_write(struct body_writer *w, const struct mime_part *p)
{
	put(w, "(");
	if ((p->flags & MIME_PART_MULTIPART) != 0)
		multipart_write(w, p);
	else
		leaf_write(w, p);
	put(w, ")");
}

int imap_body_structure(const struct mime_message *msg,
			const struct mime_part *part, unsigned int flags,
			struct buf *out)
{
	struct body_writer w = {
		.msg = msg, .out = out, .ret = 1,
		.extended = (flags & IMAP_BODY_EXTENDED) != 0,
		.rev1 = (flags & IMAP_BODY_REV1) != 0,
	};

	body_write(&w, part);
	return w.ret;
}
