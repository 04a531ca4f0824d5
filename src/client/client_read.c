/*
 * client_read.c - what the client shows of a message: the one-line
 * summary of `list`, and for `read` the headers, the text (plain text
 * preferred, HTML-only mail turned into text), and the attachments,
 * MIME parts and uuencoded blocks inside the text alike; and `save`,
 * which writes those attachments under names that cannot leave the
 * chosen directory.  The message is parsed once by src/mime.
 */
#include "client/client_private.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/util.h"
#include "mime/mime.h"

#define VIEW_TEXT_MAX (64u << 20)

/* ---- dates ------------------------------------------------------------ */

/* RFC 5322 date-time: [day ","] d mon yyyy hh:mm[:ss] zone. */
static time_t parse_rfc5322_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm = { 0 };
	char mon[4] = "";
	int day, year, hh, mm, ss = 0, zone = 0, n = 0;
	const char *comma = strchr(s, ',');

	if (comma != NULL)
		s = comma + 1;
	if (sscanf(s, " %d %3s %d %d:%d%n", &day, mon, &year, &hh, &mm, &n) < 5)
		return 0;
	s += n;
	if (*s == ':') {
		if (sscanf(s, ":%d%n", &ss, &n) < 1)
			return 0;
		s += n;
	}
	while (*s == ' ')
		s++;
	if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1])) {
		int z = atoi(s + 1);
		zone = (z / 100) * 60 + z % 100;
		if (*s == '-')
			zone = -zone;
	}
	const char *m = strcasestr(months, mon);
	if (m == NULL || strlen(mon) != 3 || (m - months) % 3 != 0)
		return 0;
	if (year < 100)
		year += year < 50 ? 2000 : 1900;
	tm.tm_year = year - 1900;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	return timegm(&tm) - (time_t)zone * 60;
}

/* "Alice <a@x>" -> "Alice"; "<a@x>" -> "a@x". */
static void display_name(const char *from, char *out, size_t size)
{
	const char *lt = strchr(from, '<');
	size_t n;

	if (lt != NULL && lt > from) {
		n = (size_t)(lt - from);
		while (n > 0 && from[n - 1] == ' ')
			n--;
		if (n >= 2 && from[0] == '"' && from[n - 1] == '"') {
			from++;
			n -= 2;
		}
		if (n > 0) {
			if (n >= size)
				n = size - 1;
			memcpy(out, from, n);
			out[n] = '\0';
			return;
		}
	}
	if (lt != NULL) {
		const char *gt = strchr(lt, '>');
		n = gt != NULL ? (size_t)(gt - lt - 1) : strlen(lt + 1);
		if (n >= size)
			n = size - 1;
		memcpy(out, lt + 1, n);
		out[n] = '\0';
		return;
	}
	str_copy(out, from, size);
}

void client_summary_header(struct client_summary *s, const char *hdr,
			   size_t len)
{
	struct mime_message *msg = mime_message_parse(hdr, len, NULL);
	const struct mime_part *root = mime_message_root(msg);
	struct buf v;

	buf_init(&v, 0);
	if (mime_header_get_decoded(msg, root, "From", &v) > 0)
		display_name(buf_cstr(&v), s->from, sizeof(s->from));
	buf_reset(&v);
	if (mime_header_get_decoded(msg, root, "Subject", &v) > 0)
		str_copy(s->subject, buf_cstr(&v), sizeof(s->subject));
	buf_reset(&v);
	if (s->date == 0 && mime_header_get(msg, root, "Date", &v) > 0)
		s->date = parse_rfc5322_date(buf_cstr(&v));
	buf_deinit(&v);
	mime_message_free(&msg);
}

/* Append s padded or cut to width characters (UTF-8 aware). */
static void put_cols(struct buf *out, const char *s, int width)
{
	int cols = 0;
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0' && cols < width) {
		size_t k = utf8_sequence(p, strlen((const char *)p));
		if (k == 0) {
			buf_putc(out, '?');
			p++;
		} else {
			buf_append(out, p, k);
			p += k;
		}
		cols++;
	}
	while (cols++ < width)
		buf_putc(out, ' ');
}

static void size_str(uint64_t size, char *out, size_t n)
{
	if (size < 1024)
		snprintf(out, n, "%luB", (unsigned long)size);
	else if (size < 1024 * 1024)
		snprintf(out, n, "%luK", (unsigned long)((size + 1023) / 1024));
	else
		snprintf(out, n, "%.1fM", (double)size / (1024.0 * 1024.0));
}

static void date_str(time_t t, char *out, size_t n)
{
	struct tm tm;

	if (t == 0 || localtime_r(&t, &tm) == NULL)
		str_copy(out, "----------------", n);
	else
		strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

void client_summary_line(const struct client_summary *s, struct buf *out,
			 int width)
{
	char date[32], size[16];
	int subject_w = width - 4 - 1 - 4 - 16 - 2 - 20 - 2 - 8;

	date_str(s->date, date, sizeof(date));
	size_str(s->size, size, sizeof(size));
	buf_printf(out, "%4u %c%c%c ", s->n,
		   s->flags & CLIENT_F_DELETED ? 'D' : !(s->flags & CLIENT_F_SEEN) ? 'N' : ' ',
		   s->flags & CLIENT_F_FLAGGED ? '!' : ' ',
		   s->flags & CLIENT_F_ANSWERED ? 'r' : ' ');
	buf_printf(out, "%s  ", date);
	put_cols(out, s->from[0] ? s->from : "(nobody)", 20);
	buf_puts(out, "  ");
	put_cols(out, s->subject[0] ? s->subject : "(no subject)",
		 subject_w < 10 ? 10 : subject_w);
	buf_printf(out, " %6s", size);
}

static void flags_json(unsigned flags, struct buf *out)
{
	struct buf f;
	bool first = true;

	buf_init(&f, 0);
	client_imap_flags_str(flags, &f);
	buf_putc(out, '[');
	for (char *p = f.data; p != NULL && *p != '\0';) {
		char *sp = strchr(p, ' ');
		if (sp != NULL)
			*sp = '\0';
		if (!first)
			buf_putc(out, ',');
		client_json_str(out, p);
		first = false;
		p = sp != NULL ? sp + 1 : NULL;
	}
	buf_putc(out, ']');
	buf_deinit(&f);
}

void client_summary_json(const struct client_summary *s, struct buf *out)
{
	char date[32];

	date_str(s->date, date, sizeof(date));
	buf_printf(out, "{\"number\":%u,\"uid\":%u,\"date\":", s->n, s->uid);
	client_json_str(out, date);
	buf_printf(out, ",\"timestamp\":%lld,\"from\":", (long long)s->date);
	client_json_str(out, s->from);
	buf_puts(out, ",\"subject\":");
	client_json_str(out, s->subject);
	buf_printf(out, ",\"size\":%lu,\"flags\":", (unsigned long)s->size);
	flags_json(s->flags, out);
	buf_putc(out, '}');
}

/* ---- HTML as text ----------------------------------------------------- */

static bool tag_is(const char *tag, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n > 0 && tag[0] == '/')
		tag++, n--;
	return n >= k && strncasecmp(tag, name, k) == 0 &&
	       (n == k || !isalnum((unsigned char)tag[k]));
}

static void html_entity(const char *s, size_t n, size_t *used, struct buf *out)
{
	static const struct { const char *name; const char *text; } ents[] = {
		{ "amp;", "&" }, { "lt;", "<" }, { "gt;", ">" }, { "quot;", "\"" },
		{ "apos;", "'" }, { "nbsp;", " " }, { "copy;", "\xc2\xa9" },
		{ "hellip;", "..." }, { "mdash;", "--" }, { "ndash;", "-" },
		{ "eacute;", "\xc3\xa9" }, { "aacute;", "\xc3\xa1" }, { "iacute;", "\xc3\xad" },
		{ "oacute;", "\xc3\xb3" }, { "uacute;", "\xc3\xba" }, { "agrave;", "\xc3\xa0" },
		{ "egrave;", "\xc3\xa8" }, { "ccedil;", "\xc3\xa7" }, { "ntilde;", "\xc3\xb1" },
		{ "atilde;", "\xc3\xa3" }, { "otilde;", "\xc3\xb5" }, { "auml;", "\xc3\xa4" },
		{ "ouml;", "\xc3\xb6" }, { "uuml;", "\xc3\xbc" }, { "szlig;", "\xc3\x9f" },
		{ "euro;", "\xe2\x82\xac" }, { "rsquo;", "'" }, { "lsquo;", "'" },
		{ "rdquo;", "\"" }, { "ldquo;", "\"" }, { "laquo;", "\xc2\xab" },
		{ "raquo;", "\xc2\xbb" },
	};
	*used = 1;
	if (n > 2 && s[1] == '#') {
		char *end;
		unsigned long cp = (s[2] == 'x' || s[2] == 'X') ? strtoul(s + 3, &end, 16)
							       : strtoul(s + 2, &end, 10);
		if (end < s + n && *end == ';' && cp > 0 && cp < 0x110000 &&
		    !(cp >= 0xd800 && cp < 0xe000)) {
			char u[4];
			size_t k;
			if (cp < 0x80) { u[0] = (char)cp; k = 1; }
			else if (cp < 0x800) { u[0] = (char)(0xc0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3f)); k = 2; }
			else if (cp < 0x10000) { u[0] = (char)(0xe0 | cp >> 12); u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); u[2] = (char)(0x80 | (cp & 0x3f)); k = 3; }
			else { u[0] = (char)(0xf0 | cp >> 18); u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)); u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f)); k = 4; }
			buf_append(out, u, k);
			*used = (size_t)(end - s) + 1;
			return;
		}
	}
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		size_t k = strlen(ents[i].name);
		if (n > k && strncasecmp(s + 1, ents[i].name, k) == 0) {
			buf_puts(out, ents[i].text);
			*used = k + 1;
			return;
		}
	}
	buf_putc(out, '&');
}

static void html_newline(struct buf *out)
{
	size_t nl = 0;

	while (out->len > 0 && out->data[out->len - 1] == ' ')
		buf_truncate(out, out->len - 1);
	for (size_t i = out->len; i > 0 && out->data[i - 1] == '\n'; i--)
		nl++;
	if (out->len > 0 && nl < 2)
		buf_putc(out, '\n');
}

void client_html_to_text(const char *h, size_t n, struct buf *out)
{
	size_t i = 0, start = out->len;
	const char *skip_until = NULL;

	while (i < n) {
		if (h[i] == '<') {
			const char *gt = memchr(h + i, '>', n - i);
			size_t tl = gt != NULL ? (size_t)(gt - h - i - 1) : n - i - 1;
			const char *tag = h + i + 1;
			if (skip_until != NULL) {
				if (tag_is(tag, tl, skip_until) && tag[0] == '/')
					skip_until = NULL;
			} else if (tl >= 3 && strncmp(tag, "!--", 3) == 0) {
				const char *end = memmem(h + i, n - i, "-->", 3);
				i = end != NULL ? (size_t)(end - h) + 3 : n;
				continue;
			} else if (tag_is(tag, tl, "script") || tag_is(tag, tl, "style") ||
				   tag_is(tag, tl, "head")) {
				if (tag[0] != '/')
					skip_until = tag_is(tag, tl, "script") ? "script" :
						     tag_is(tag, tl, "style") ? "style" : "head";
			} else if (tag_is(tag, tl, "br") || tag_is(tag, tl, "p") ||
				   tag_is(tag, tl, "div") || tag_is(tag, tl, "tr") ||
				   tag_is(tag, tl, "h1") || tag_is(tag, tl, "h2") ||
				   tag_is(tag, tl, "h3") || tag_is(tag, tl, "table") ||
				   tag_is(tag, tl, "blockquote")) {
				html_newline(out);
			} else if (tag_is(tag, tl, "li") && tag[0] != '/') {
				html_newline(out);
				buf_puts(out, "  * ");
			}
			i = gt != NULL ? (size_t)(gt - h) + 1 : n;
			continue;
		}
		if (skip_until != NULL) {
			i++;
			continue;
		}
		if (h[i] == '&') {
			size_t used;
			html_entity(h + i, n - i, &used, out);
			i += used;
			continue;
		}
		if (isspace((unsigned char)h[i])) {
			if (out->len > 0 && out->data[out->len - 1] != ' ' &&
			    out->data[out->len - 1] != '\n')
				buf_putc(out, ' ');
			i++;
			continue;
		}
		buf_putc(out, h[i++]);
	}
	/* one line end at the end, whatever the blocks left */
	while (out->len > start && (out->data[out->len - 1] == '\n' ||
				    out->data[out->len - 1] == ' '))
		buf_truncate(out, out->len - 1);
	buf_putc(out, '\n');
}

/* ---- a message's text and attachments ----------------------------------- */

static bool part_is(const struct mime_part *p, const char *type, const char *sub)
{
	return strcmp(p->type, type) == 0 && (sub == NULL || strcmp(p->subtype, sub) == 0);
}

static void part_filename(const struct mime_part *p, struct buf *out)
{
	const struct mime_param *prm = mime_param_find_disp(p, "FILENAME");

	if (prm == NULL)
		prm = mime_param_find(p, "NAME");
	if (prm != NULL)
		mime_param_decode(prm, out);
}

static bool is_attachment(const struct mime_part *p)
{
	struct buf name;
	bool named;

	if (p->disposition != NULL && strcmp(p->disposition, "ATTACHMENT") == 0)
		return true;
	buf_init(&name, 0);
	part_filename(p, &name);
	named = name.len > 0;
	buf_deinit(&name);
	return named || !(p->flags & MIME_PART_TEXT) || !part_is(p, "TEXT", NULL);
}

static struct client_attachment *att_add(struct client_view *v)
{
	v->att = xrealloc(v->att, (v->natt + 1) * sizeof(*v->att));
	memset(&v->att[v->natt], 0, sizeof(v->att[0]));
	return &v->att[v->natt++];
}

static void add_part_attachment(struct client_view *v, const struct mime_part *p)
{
	struct client_attachment *a = att_add(v);
	struct buf name;
	uint64_t size = 0;

	buf_init(&name, 0);
	part_filename(p, &name);
	str_copy(a->name, buf_cstr(&name), sizeof(a->name));
	buf_deinit(&name);
	snprintf(a->type, sizeof(a->type), "%s/%s", p->type, p->subtype);
	for (char *c = a->type; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	a->part = p;
	if (p->flags & MIME_PART_MESSAGE)
		size = p->end - p->body_start;
	else if (mime_text_binary_size(v->msg, p, &size) <= 0)
		size = p->end - p->body_start;
	a->size = size;
	if (a->name[0] == '\0' && (p->flags & MIME_PART_MESSAGE))
		str_copy(a->name, "message.eml", sizeof(a->name));
}

static void add_text(struct client_view *v, const struct mime_part *p, bool html)
{
	struct buf t;

	buf_init(&t, VIEW_TEXT_MAX);
	mime_text_decode(v->msg, p, &t);
	if (v->text.len > 0)
		buf_puts(&v->text, "\n");
	if (html)
		client_html_to_text(t.data != NULL ? t.data : "", t.len, &v->text);
	else
		buf_append(&v->text, t.data != NULL ? t.data : "", t.len);
	buf_deinit(&t);
}

/* the text part to show inside a multipart/alternative */
static const struct mime_part *alternative_pick(const struct mime_part *alt)
{
	const struct mime_part *html = NULL;

	for (const struct mime_part *c = alt->children; c != NULL; c = c->next) {
		if (part_is(c, "TEXT", "PLAIN"))
			return c;
		if (part_is(c, "TEXT", "HTML") && html == NULL)
			html = c;
	}
	return html != NULL ? html : alt->children;
}

static void walk(struct client_view *v, const struct mime_part *p)
{
	if (p->flags & MIME_PART_MESSAGE) {
		if (p->parent == NULL && p->children != NULL)
			walk(v, p->children);
		else
			add_part_attachment(v, p);
		return;
	}
	if (p->flags & MIME_PART_MULTIPART) {
		if (strcmp(p->subtype, "ALTERNATIVE") == 0) {
			const struct mime_part *pick = alternative_pick(p);
			for (const struct mime_part *c = p->children; c != NULL; c = c->next)
				if (c == pick)
					walk(v, c);
				else if (is_attachment(c) && !part_is(c, "TEXT", NULL))
					walk(v, c);
			return;
		}
		for (const struct mime_part *c = p->children; c != NULL; c = c->next)
			walk(v, c);
		return;
	}
	if (!is_attachment(p) && (part_is(p, "TEXT", "PLAIN") || part_is(p, "TEXT", "HTML") ||
				  v->body == NULL)) {
		bool html = part_is(p, "TEXT", "HTML");
		if (v->body == NULL) {
			v->body = p;
			v->body_html = html;
		}
		add_text(v, p, html);
		return;
	}
	add_part_attachment(v, p);
}

static void find_uu(struct client_view *v)
{
	size_t pos = 0;
	struct client_uu_block b;

	while (client_uu_find(v->text.data != NULL ? v->text.data : "", v->text.len,
			      &pos, &b) > 0) {
		struct client_attachment *a = att_add(v);
		struct buf tmp;
		str_copy(a->name, b.name, sizeof(a->name));
		str_copy(a->type, "application/octet-stream", sizeof(a->type));
		a->uu_start = b.start;
		a->uu_end = b.end;
		buf_init(&tmp, 0);
		client_uu_decode(v->text.data, &b, &tmp);
		a->size = tmp.len;
		buf_deinit(&tmp);
	}
}

void client_view_init(struct client_view *v, const char *data, size_t len)
{
	memset(v, 0, sizeof(*v));
	buf_init(&v->text, VIEW_TEXT_MAX);
	v->msg = mime_message_parse(data, len, NULL);
	walk(v, mime_message_root(v->msg));
	find_uu(v);
}

void client_view_deinit(struct client_view *v)
{
	mime_message_free(&v->msg);
	buf_deinit(&v->text);
	free(v->att);
	v->att = NULL;
	v->natt = 0;
}

int client_view_header(const struct client_view *v, const char *name,
		       struct buf *out)
{
	return mime_header_get_decoded(v->msg, mime_message_root(v->msg), name, out);
}

int client_view_attachment(const struct client_view *v, size_t i,
			   struct buf *out)
{
	const struct client_attachment *a = &v->att[i];
	const char *data = mime_message_data(v->msg);

	if (a->part == NULL) {
		struct client_uu_block b;
		size_t pos = a->uu_start;
		if (client_uu_find(v->text.data, v->text.len, &pos, &b) <= 0)
			return client_fail(CLIENT_ERR_OTHER, "uuencoded block lost");
		return client_uu_decode(v->text.data, &b, out);
	}
	if (a->part->flags & MIME_PART_MESSAGE)
		return buf_append(out, data + a->part->body_start,
				  a->part->end - a->part->body_start);
	if (mime_cte_decode(a->part->cte, data + a->part->body_start,
			    a->part->end - a->part->body_start, false, out) < 0)
		return client_fail(CLIENT_ERR_OTHER, "attachment too big");
	return 1;
}

/* The body text with uuencoded blocks replaced by a line naming them. */
static void text_without_uu(const struct client_view *v, struct buf *out)
{
	size_t pos = 0;

	for (size_t i = 0; i < v->natt; i++) {
		const struct client_attachment *a = &v->att[i];
		if (a->part != NULL)
			continue;
		buf_append(out, v->text.data + pos, a->uu_start - pos);
		buf_printf(out, "[uuencoded file %s, %lu bytes]\n", a->name,
			   (unsigned long)a->size);
		pos = a->uu_end;
	}
	if (v->text.len > pos)
		buf_append(out, v->text.data + pos, v->text.len - pos);
}

void client_view_render(const struct client_view *v, struct buf *out)
{
	static const char *const fields[] = { "Date", "From", "To", "Cc", "Subject" };
	struct buf val;
	char size[16];

	buf_init(&val, 0);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		buf_reset(&val);
		if (client_view_header(v, fields[i], &val) > 0)
			buf_printf(out, "%s: %s\n", fields[i], buf_cstr(&val));
	}
	buf_deinit(&val);
	buf_putc(out, '\n');
	text_without_uu(v, out);
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
	if (v->natt > 0)
		buf_puts(out, "\nAttachments:\n");
	for (size_t i = 0; i < v->natt; i++) {
		size_str(v->att[i].size, size, sizeof(size));
		buf_printf(out, "  [%zu] %s (%s, %s)\n", i + 1,
			   v->att[i].name[0] ? v->att[i].name : "(no name)",
			   v->att[i].type, size);
	}
}

void client_view_json(const struct client_view *v, uint32_t n, unsigned flags,
		      struct buf *out)
{
	static const char *const fields[] = { "Date", "From", "To", "Cc", "Subject",
					      "Message-ID" };
	static const char *const keys[] = { "date", "from", "to", "cc", "subject",
					    "message_id" };
	struct buf val, text;

	buf_init(&val, 0);
	buf_printf(out, "{\"number\":%u,\"flags\":", n);
	flags_json(flags, out);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		buf_reset(&val);
		client_view_header(v, fields[i], &val);
		buf_printf(out, ",\"%s\":", keys[i]);
		client_json_str(out, buf_cstr(&val));
	}
	buf_init(&text, 0);
	text_without_uu(v, &text);
	buf_puts(out, ",\"text\":");
	client_json_str(out, buf_cstr(&text));
	buf_deinit(&text);
	buf_puts(out, ",\"attachments\":[");
	for (size_t i = 0; i < v->natt; i++) {
		buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		client_json_str(out, v->att[i].name);
		buf_puts(out, ",\"type\":");
		client_json_str(out, v->att[i].type);
		buf_printf(out, ",\"size\":%lu}", (unsigned long)v->att[i].size);
	}
	buf_puts(out, "]}");
	buf_deinit(&val);
}

/* ---- saving ------------------------------------------------------------- */

void client_safe_filename(const char *name, const char *fallback, char *out,
			  size_t size)
{
	const char *base = name;
	size_t n = 0;

	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	for (const unsigned char *p = (const unsigned char *)base; *p && n + 5 < size;) {
		size_t k = utf8_sequence(p, strlen((const char *)p));
		if (k == 0 || *p < 0x20 || *p == 0x7f) {
			out[n++] = '_';
			p += k == 0 ? 1 : k;
			continue;
		}
		if (n == 0 && *p == '.') {	/* no hidden files, no ".." */
			out[n++] = '_';
			p++;
			continue;
		}
		memcpy(out + n, p, k);
		n += k;
		p += k;
	}
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '.'))
		out[--n] = '\0';
	if (n == 0 || strspn(out, "_") == n)
		str_copy(out, fallback, size);
}

/* The safe name of attachment i, made distinct from those of the
   attachments before it ("a.txt", "a-2.txt"). */
static void save_name(const struct client_view *v, size_t i, char *out, size_t size)
{
	char fallback[32], prev[256];
	unsigned same = 0;

	snprintf(fallback, sizeof(fallback), "attachment-%zu", i + 1);
	client_safe_filename(v->att[i].name, fallback, out, size);
	for (size_t k = 0; k < i; k++) {
		snprintf(fallback, sizeof(fallback), "attachment-%zu", k + 1);
		client_safe_filename(v->att[k].name, fallback, prev, sizeof(prev));
		same += strcmp(prev, out) == 0;
	}
	if (same > 0) {
		char base[256];
		const char *dot = strrchr(out, '.');
		size_t stem = dot != NULL && dot != out ? (size_t)(dot - out) : strlen(out);
		str_copy(base, out, sizeof(base));
		snprintf(out, size, "%.*s-%u%s", (int)(stem < 200 ? stem : 200), base, same + 1,
			 base + stem);
	}
}

static int save_one(const struct client_view *v, size_t i, const char *dir,
		    bool force, struct buf *report)
{
	char name[256], path[4096];
	struct buf data;
	int fd, flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC;

	save_name(v, i, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf_init(&data, 0);
	if (client_view_attachment(v, i, &data) < 0) {
		buf_deinit(&data);
		return -1;
	}
	flags |= force ? O_TRUNC : O_EXCL;
	fd = open(path, flags, 0644);
	if (fd < 0) {
		int e = errno;
		buf_deinit(&data);
		if (e == EEXIST)
			return client_fail(CLIENT_ERR_OTHER, "%s exists; not overwritten "
					   "(use --force)", path);
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(e));
	}
	if (write_all(fd, data.data != NULL ? data.data : "", data.len) < 0 || close(fd) < 0) {
		buf_deinit(&data);
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", path, strerror(errno));
	}
	buf_printf(report, "%s (%zu bytes)\n", path, data.len);
	buf_deinit(&data);
	return 1;
}

int client_view_save(const struct client_view *v, const char *dir, bool force,
		     struct buf *report)
{
	if (v->natt == 0)
		return client_fail(CLIENT_ERR_OTHER, "the message has no attachments");
	if (mkdir_p(dir, 0755) < 0)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s", dir, strerror(errno));
	for (size_t i = 0; i < v->natt; i++)
		if (save_one(v, i, dir, force, report) < 0)
			return -1;
	return 1;
}
