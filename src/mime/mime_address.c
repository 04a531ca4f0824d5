/*
 * mime_address.c - RFC 5322 address lists (From, To, Cc, ...): one reader,
 * mime_address_walk(), and what correio makes of its addresses: SEARCH's
 * normal form (mime_address_text), SORT's first address
 * (mime_address_first), and through lib-imap/imap_body.c the IMAP
 * ENVELOPE address lists.
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
 * The walk gives each address as IMAP sees it (RFC 9051 §7.5.2): name,
 * adl (route), mailbox, host; a group starts with (NIL NIL "group name"
 * NIL) and ends with (NIL NIL NIL NIL).  The display name is kept raw
 * (encoded words not decoded), its quoted strings unquoted and blanks
 * collapsed; with no display name, a comment after the address is the
 * name.  The local part is given as in the message.  A missing local part
 * or domain is "MISSING_MAILBOX" / "MISSING_DOMAIN".  Anything unparsable
 * is skipped up to the next "," or ";".  At most ADDRESS_MAX addresses are
 * given.
 */
#include "mime_int.h"

#include <string.h>

#define ADDRESS_MAX 10000

struct addr_parser {
	struct mime_lex l;
	mime_address_fn *fn;
	void *ctx;
	unsigned int count;
	int ret;		/* 1, or -1 once fn failed */
	bool stop;		/* fn asked to stop */
	bool in_group;
	struct buf name, local, domain, route, comment, scratch;
};

/* Give (name adl mailbox host) to the caller; NULL buffers are NIL. */
static void addr_write(struct addr_parser *p, const struct buf *name,
		       const struct buf *adl, const struct buf *mailbox,
		       const struct buf *host)
{
	int ret;

	if (p->ret < 0 || p->stop)
		return;
	p->count++;
	ret = p->fn(p->ctx, name, adl, mailbox, host);
	if (ret < 0)
		p->ret = -1;
	else if (ret == 0)
		p->stop = true;
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

	while (p->count < ADDRESS_MAX && p->ret > 0 && !p->stop) {
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

int mime_address_walk(const char *value, size_t len, mime_address_fn *fn,
		      void *ctx)
{
	struct addr_parser p = { .fn = fn, .ctx = ctx, .ret = 1 };
	struct buf *bufs[] = { &p.name, &p.local, &p.domain, &p.route,
			       &p.comment, &p.scratch };
	size_t i;

	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_init(bufs[i], 0);
	mime_lex_init(&p.l, value, len);
	address_list(&p);
	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_deinit(bufs[i]);
	if (p.ret < 0)
		return -1;
	return p.stop ? 0 : 1;
}

/* ---- SEARCH's normal form ------------------------------------------------ */

struct text_ctx {
	struct buf *out;
	unsigned int count;
};

static int text_put(struct buf *out, const char *s)
{
	return buf_puts(out, s) < 0 ? -1 : 1;
}

/* "name <mailbox@host>"; a group's start (mailbox alone: the group name)
   "name:", its end ";". */
static int text_fn(void *ctx, const struct buf *name, const struct buf *adl,
		   const struct buf *mailbox, const struct buf *host)
{
	struct text_ctx *t = ctx;
	struct buf *out = t->out;

	if (t->count++ > 0 && text_put(out, " ") < 0)
		return -1;
	if (host == NULL) {
		if (mailbox == NULL)
			return text_put(out, ";");
		if (text_put(out, buf_cstr(mailbox)) < 0)
			return -1;
		return text_put(out, ":");
	}
	if (name != NULL && (text_put(out, buf_cstr(name)) < 0 ||
			     text_put(out, " ") < 0))
		return -1;
	if (text_put(out, "<") < 0 || text_put(out, buf_cstr(mailbox)) < 0 ||
	    text_put(out, "@") < 0 || text_put(out, buf_cstr(host)) < 0)
		return -1;
	return text_put(out, ">");
}

int mime_address_text(const char *value, size_t len, struct buf *out)
{
	struct text_ctx t = { .out = out };

	return mime_address_walk(value, len, text_fn, &t) < 0 ? -1 : 1;
}

/* ---- SORT's first address ------------------------------------------------ */

static int first_fn(void *ctx, const struct buf *name, const struct buf *adl,
		    const struct buf *mailbox, const struct buf *host)
{
	struct mime_address *r = ctx;

	if (host == NULL || mailbox == NULL)
		return 1;
	if (name != NULL && buf_append(&r->name, name->data, name->len) < 0)
		return -1;
	if (buf_append(&r->mailbox, mailbox->data, mailbox->len) < 0 ||
	    buf_append(&r->host, host->data, host->len) < 0)
		return -1;
	return 0;
}

int mime_address_first(const char *value, size_t len, struct mime_address *r)
{
	int ret = mime_address_walk(value, len, first_fn, r);

	return ret < 0 ? -1 : ret == 0 ? 1 : 0;
}
