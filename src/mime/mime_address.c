/*
 * mime_address.c - RFC 5322 address lists (From, To, Cc, ...) written as
 * IMAP ENVELOPE address lists.  Called by mime_imap_envelope().
 *
 * RFC 5322 §3.4 (with the obsolete forms of §4.4 tolerated):
 *   address-list = (address *("," address))
 *   address      = mailbox / group
 *   mailbox      = name-addr / addr-spec
 *   name-addr    = [display-name] angle-addr
 *   angle-addr   = [CFWS] "<" [obs-route] addr-spec ">" [CFWS]
 *   group        = display-name ":" [group-list] ";" [CFWS]
 *   addr-spec    = local-part "@" domain
 *
 * RFC 9051 §7.5.2: an address is (name adl mailbox host); a group starts
 * with (NIL NIL "group name" NIL) and ends with (NIL NIL NIL NIL).  The
 * display name is kept raw (encoded words not decoded), its quoted strings
 * unquoted and blanks collapsed; with no display name, a comment after
 * the address is the name.  The local part is written as in the message.
 * A missing local part or domain is "MISSING_MAILBOX" / "MISSING_DOMAIN".
 * Anything unparsable is skipped up to the next "," or ";".  At most
 * ADDRESS_MAX addresses are written.
 */
#include "mime_int.h"

#include <string.h>

#define ADDRESS_MAX 10000

struct addr_parser {
	struct mime_lex l;
	struct buf *out;
	unsigned int count;
	int ret;
	bool in_group;
	bool text;		/* mime_address_text: "name <a@b>, ..." */
	struct mime_address *first;	/* mime_address_first: wanted, NULL none */
	bool found;
	struct buf name, local, domain, route, comment, scratch;
};

static void nstring(struct addr_parser *p, const struct buf *b, bool nil)
{
	if (nil) {
		if (buf_puts(p->out, "NIL") < 0)
			p->ret = -1;
	} else if (mime_imap_string(p->out, buf_cstr(b), b->len) < 0) {
		p->ret = -1;
	}
}

static void sep(struct addr_parser *p, const char *s)
{
	if (buf_puts(p->out, s) < 0)
		p->ret = -1;
}

/* mime_address_text's form of one address: "name <mailbox@host>"; a
   group's start (mailbox alone: the group name) "name:", its end ";". */
static void addr_text(struct addr_parser *p, const struct buf *name,
		      const struct buf *mailbox, const struct buf *host)
{
	if (p->count++ > 0)
		sep(p, " ");
	if (host == NULL) {
		sep(p, mailbox != NULL ? buf_cstr(mailbox) : ";");
		if (mailbox != NULL)
			sep(p, ":");
		return;
	}
	if (name != NULL) {
		sep(p, buf_cstr(name));
		sep(p, " ");
	}
	sep(p, "<");
	sep(p, buf_cstr(mailbox));
	sep(p, "@");
	sep(p, buf_cstr(host));
	sep(p, ">");
}

/* (name adl mailbox host); NULL buffers are NIL. */
static void addr_write(struct addr_parser *p, const struct buf *name,
		       const struct buf *adl, const struct buf *mailbox,
		       const struct buf *host)
{
	if (p->first != NULL) {
		if (!p->found && host != NULL && mailbox != NULL) {
			p->found = true;
			if (name != NULL && buf_append(&p->first->name, name->data, name->len) < 0)
				p->ret = -1;
			if (buf_append(&p->first->mailbox, mailbox->data, mailbox->len) < 0 ||
			    buf_append(&p->first->host, host->data, host->len) < 0)
				p->ret = -1;
		}
		return;
	}
	if (p->text) {
		addr_text(p, name, mailbox, host);
		return;
	}
	sep(p, p->count++ == 0 ? "((" : "(");
	nstring(p, name, name == NULL);
	sep(p, " ");
	nstring(p, adl, adl == NULL);
	sep(p, " ");
	nstring(p, mailbox, mailbox == NULL);
	sep(p, " ");
	nstring(p, host, host == NULL);
	sep(p, ")");
}

/* Words (atoms, quoted strings, dots) up to a special: the display form
   into name, the addr-spec form into local. */
static void phrase_read(struct addr_parser *p)
{
	bool blank;
	int c;

	buf_reset(&p->name);
	buf_reset(&p->local);
	for (;;) {
		blank = mime_lex_cfws(&p->l, &p->comment);
		c = mime_lex_peek(&p->l);
		if (c != '"' && c != '.' &&
		    (c < 0 || c <= ' ' || strchr(MIME_LEX_SPECIALS, c)))
			break;
		if (blank && p->name.len > 0)
			buf_putc(&p->name, ' ');
		if (c == '"') {
			mime_lex_quoted(&p->l, &p->name, &p->local);
		} else if (c == '.') {
			buf_putc(&p->name, '.');
			buf_putc(&p->local, '.');
			p->l.pos++;
		} else {
			size_t start = p->l.pos;

			if (mime_lex_atom(&p->l, MIME_LEX_SPECIALS,
					  &p->name) <= 0)
				break;	/* DEL */
			buf_append(&p->local, p->l.s + start, p->l.pos - start);
		}
	}
}

/* domain = dot-atom / domain-literal, comments and blanks dropped; words
   must be joined by dots ("b.c junk" ends after "c"). */
static void domain_read(struct addr_parser *p)
{
	bool want_word = true;
	size_t start;
	int c;

	buf_reset(&p->domain);
	for (;;) {
		mime_lex_cfws(&p->l, &p->comment);
		c = mime_lex_peek(&p->l);
		start = p->l.pos;
		if (c == '.') {
			buf_putc(&p->domain, '.');
			p->l.pos++;
			want_word = true;
		} else if (!want_word) {
			break;
		} else if (c == '[') {
			while (p->l.pos < p->l.len && p->l.s[p->l.pos] != ']')
				p->l.pos++;
			if (p->l.pos < p->l.len)
				p->l.pos++;
			buf_append(&p->domain, p->l.s + start,
				   p->l.pos - start);
			want_word = false;
		} else if (mime_lex_atom(&p->l, MIME_LEX_SPECIALS,
					 &p->domain) > 0) {
			want_word = false;
		} else {
			break;
		}
	}
}

/* obs-route = obs-domain-list ":"; kept without blanks, ":" dropped. */
static void route_read(struct addr_parser *p)
{
	const char *s = p->l.s;
	size_t i = p->l.pos;

	buf_reset(&p->route);
	while (i < p->l.len && s[i] != ':' && s[i] != '>')
		i++;
	if (i >= p->l.len || s[i] != ':')
		return;
	for (; p->l.pos < i; p->l.pos++) {
		if (!mime_is_wsp(s[p->l.pos]) && s[p->l.pos] != '\r' &&
		    s[p->l.pos] != '\n')
			buf_putc(&p->route, s[p->l.pos]);
	}
	p->l.pos++;
}

static void skip_to_separator(struct addr_parser *p)
{
	int c;

	while ((c = mime_lex_peek(&p->l)) >= 0 && c != ',' && c != ';') {
		if (c == '"')
			mime_lex_quoted(&p->l, NULL, NULL);
		else if (c == '(' || c == ' ' || c == '\t')
			mime_lex_cfws(&p->l, NULL);
		else
			p->l.pos++;
	}
}

/* The mailbox of local / domain, "MISSING_*" for a missing half. */
static void mailbox_write(struct addr_parser *p, const struct buf *name,
			  const struct buf *adl)
{
	struct buf *m = &p->local, *h = &p->domain;

	if (m->len == 0 && h->len > 0)
		buf_puts(m, "MISSING_MAILBOX");
	if (h->len == 0 && m->len > 0)
		buf_puts(h, "MISSING_DOMAIN");
	if (name == NULL && p->comment.len > 0)
		name = &p->comment;
	addr_write(p, name, adl, m, h);
}

/* After "<": [route] addr-spec ">". */
static void angle_read(struct addr_parser *p)
{
	buf_reset(&p->scratch);
	buf_append(&p->scratch, buf_cstr(&p->name), p->name.len);
	mime_lex_cfws(&p->l, NULL);
	if (mime_lex_peek(&p->l) == '@')
		route_read(p);
	else
		buf_reset(&p->route);
	phrase_read(p);
	buf_reset(&p->domain);
	if (mime_lex_peek(&p->l) == '@') {
		p->l.pos++;
		domain_read(p);
	}
	buf_reset(&p->comment);
	mailbox_write(p, p->scratch.len > 0 ? &p->scratch : NULL,
		      p->route.len > 0 ? &p->route : NULL);
	skip_to_separator(p);
}

static void address_read(struct addr_parser *p)
{
	buf_reset(&p->comment);
	phrase_read(p);
	switch (mime_lex_peek(&p->l)) {
	case ':':
		p->l.pos++;
		if (!p->in_group)
			addr_write(p, NULL, NULL, &p->name, NULL);
		p->in_group = true;
		return;
	case '<':
		p->l.pos++;
		angle_read(p);
		return;
	case '@':
		p->l.pos++;
		domain_read(p);
		mailbox_write(p, NULL, NULL);
		skip_to_separator(p);
		return;
	default:
		if (p->local.len > 0) {
			buf_reset(&p->domain);
			mailbox_write(p, NULL, NULL);
		}
		skip_to_separator(p);
	}
}

static void group_end(struct addr_parser *p)
{
	if (p->in_group)
		addr_write(p, NULL, NULL, NULL, NULL);
	p->in_group = false;
}

static void address_list(struct addr_parser *p)
{
	size_t start;
	int c;

	while (p->count < ADDRESS_MAX && p->ret > 0 && !p->found) {
		mime_lex_cfws(&p->l, NULL);
		if ((c = mime_lex_peek(&p->l)) < 0)
			break;
		start = p->l.pos;
		if (c == ',' || c == ';') {
			p->l.pos++;
			if (c == ';')
				group_end(p);
			continue;
		}
		address_read(p);
		if (p->l.pos == start)
			p->l.pos++;	/* a stray special */
	}
	group_end(p);
}

static int address_run(const char *value, size_t len, struct buf *out, bool text,
		       struct mime_address *first)
{
	struct addr_parser p = { .out = out, .ret = 1, .text = text, .first = first };
	struct buf *bufs[] = { &p.name, &p.local, &p.domain, &p.route,
			       &p.comment, &p.scratch };
	size_t i;

	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_init(bufs[i], 0);
	mime_lex_init(&p.l, value, len);
	address_list(&p);
	if (p.ret > 0 && !text && first == NULL)
		sep(&p, p.count > 0 ? ")" : "NIL");
	if (p.ret > 0 && first != NULL)
		p.ret = p.found;
	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_deinit(bufs[i]);
	return p.ret;
}

int mime_address_write(const char *value, size_t len, struct buf *out)
{
	return address_run(value, len, out, false, NULL);
}

int mime_address_text(const char *value, size_t len, struct buf *out)
{
	return address_run(value, len, out, true, NULL);
}

int mime_address_first(const char *value, size_t len, struct mime_address *r)
{
	return address_run(value, len, NULL, false, r);
}
