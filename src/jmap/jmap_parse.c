/*
 * jmap_parse.c - the small text parsers of the JMAP server, pure so that
 * they are unit-tested and fuzzed alone (fuzz_jmap_parse.c): RFC 5322
 * dates for sentAt, the address lists mime_address_text() writes, HTTP
 * Basic credentials, and the download types a browser may be given.
 * Called by jmap_email.c, jmap_blob.c and jmap_http.c.
 */
#include "jmap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/encoding.h"
#include "mime/mime.h"

/* RFC 5322 date-time: [day-of-week ","] d mon yyyy hh:mm[:ss] zone. */
int jmap_parse_date(const char *s, time_t *t_r, long *off_r)
{
	struct tm tm;
	const char *comma = strchr(s, ','), *end;

	memset(&tm, 0, sizeof(tm));
	if (comma != NULL)
		s = comma + 1;
	end = strptime(s, " %d %b %Y %H:%M:%S %z", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, " %d %b %Y %H:%M %z", &tm);
	}
	/* a zone of a day or more ("+4411") is no zone: RFC 3339 cannot say it */
	if (end == NULL || tm.tm_gmtoff <= -86400 || tm.tm_gmtoff >= 86400)
		return -1;
	/* timegm() normalises tm and clears tm_gmtoff: read it first */
	*off_r = tm.tm_gmtoff;
	*t_r = timegm(&tm) - *off_r;
	return 1;
}

json_t *jmap_utf8_string(const char *p, size_t n)
{
	struct buf b;
	json_t *r;

	buf_init(&b, n * 3 + 16);
	mime_utf8_sanitize(p, n, &b);
	r = json_stringn(b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	return r;
}

/* "Name <a@b> Other <c@d>" (mime_address_text) -> EmailAddress[]. */
json_t *jmap_parse_addresses(const char *s, size_t n)
{
	json_t *list = json_array();
	size_t i = 0;

	while (i < n) {
		const char *lt = memchr(s + i, '<', n - i), *gt;
		size_t ns = i, ne;
		struct buf name;
		if (lt == NULL || (gt = memchr(lt, '>', n - (size_t)(lt - s))) == NULL)
			break;
		ne = (size_t)(lt - s);
		while (ns < ne && (s[ns] == ' ' || s[ns] == ','))
			ns++;
		while (ne > ns && s[ne - 1] == ' ')
			ne--;
		buf_init(&name, 4096);
		mime_rfc2047_decode(s + ns, ne - ns, &name);
		if (name.len >= 2 && name.data[0] == '"' && name.data[name.len - 1] == '"') {
			buf_consume(&name, 1);
			buf_truncate(&name, name.len - 1);
		}
		json_array_append_new(list, json_pack("{s:o,s:o}",
			"name", name.len > 0 ? jmap_utf8_string(name.data, name.len) : json_null(),
			"email", jmap_utf8_string(lt + 1, (size_t)(gt - lt - 1))));
		buf_deinit(&name);
		i = (size_t)(gt - s) + 1;
	}
	return list;
}

/* A type the download may carry as is: type/subtype of safe characters
   and nothing a browser would render as a page or run. */
bool jmap_type_safe(const char *t)
{
	static const char *const active[] = {
		"html", "xml", "javascript", "ecmascript", "svg", "xhtml", "x-shockwave",
		"pdf", "rdf", "xsl", "multipart", NULL,
	};
	const char *slash = strchr(t, '/');

	if (slash == NULL || slash == t || slash[1] == '\0' || strlen(t) > 100 ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/.+-_") !=
	    strlen(t) || strchr(slash + 1, '/') != NULL)
		return false;
	for (int i = 0; active[i] != NULL; i++)
		if (strcasestr(t, active[i]) != NULL)
			return false;
	return true;
}

/* "Basic base64(user:password)" -> user and password in out ("user\0pass").
   The token is strict base64 (RFC 7617 section 2, RFC 4648): nothing in
   it is skipped.  1, or -1 when malformed. */
int jmap_parse_basic(const char *header, struct buf *out, const char **pass_r)
{
	size_t len;
	char *colon;

	if (strncasecmp(header, "Basic ", 6) != 0)
		return -1;
	header += 6;
	while (*header == ' ')
		header++;
	len = strlen(header);
	while (len > 0 && (header[len - 1] == ' ' || header[len - 1] == '\t'))
		len--;
	if (base64_decode(header, len, out) < 0 || buf_putc(out, '\0') < 0)
		return -1;
	colon = memchr(out->data, ':', out->len);
	if (colon == NULL || strlen(out->data) != out->len - 1)
		return -1;
	*colon = '\0';
	*pass_r = colon + 1;
	return 1;
}


/* Is the field at p (n bytes to the end) named name (with its colon)? */
static bool field_is(const char *p, size_t n, const char *name)
{
	size_t len = strlen(name);
	size_t i = len;

	if (n < len || strncasecmp(p, name, len) != 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

size_t jmap_parse_submission_header(const char *p, size_t n, struct buf *out,
				    unsigned *missing_r)
{
	size_t i = 0;
	bool skip = false;

	*missing_r = JMAP_MISSING_DATE | JMAP_MISSING_MESSAGE_ID;
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (p[i] == '\n' || (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
			return i;	/* the empty line: the body follows */
		if (p[i] != ' ' && p[i] != '\t') {
			skip = field_is(p + i, n - i, "Bcc");
			if (field_is(p + i, n - i, "Date"))
				*missing_r &= ~JMAP_MISSING_DATE;
			if (field_is(p + i, n - i, "Message-ID"))
				*missing_r &= ~JMAP_MISSING_MESSAGE_ID;
		}
		if (!skip)
			buf_append(out, p + i, end - i);
		i = end;
	}
	if (n > 0 && p[n - 1] != '\n')
		buf_putc(out, '\n');
	return n;
}

/* The length of the term of terms[0..n) that starts at p (the longest;
   ASCII letters in any case), or 0. */
static size_t term_at(const char *p, size_t left, const char *const *terms, unsigned n)
{
	size_t best = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(terms[i]);
		if (len > 0 && len <= left && len > best && strncasecmp(p, terms[i], len) == 0)
			best = len;
	}
	return best;
}

static void html_escaped(struct buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default: buf_putc(out, p[i]); break;
		}
	}
}

int jmap_parse_highlight(const char *text, size_t len, const char *const *terms, unsigned n,
			 size_t max_chars, struct buf *out)
{
	struct buf flat;
	size_t first = (size_t)-1, start = 0, chars = 0, i, lead;
	bool space = false;

	/* white space runs become one space, and none at either end */
	buf_init(&flat, 0);
	for (i = 0; i < len; i++) {
		char c = text[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0') {
			space = flat.len > 0;
			continue;
		}
		if (space)
			buf_putc(&flat, ' ');
		space = false;
		buf_putc(&flat, c);
	}
	for (i = 0; i < flat.len && first == (size_t)-1; i++)
		if (term_at(flat.data + i, flat.len - i, terms, n) > 0)
			first = i;
	if (first == (size_t)-1) {
		buf_deinit(&flat);
		return 0;
	}
	lead = max_chars / 4 < SNIPPET_LEAD ? max_chars / 4 : SNIPPET_LEAD;
	if (max_chars > 0 && first > lead) {
		/* some context before the first match, from a character start */
		start = first - lead;
		while (start < first && ((unsigned char)flat.data[start] & 0xc0) == 0x80)
			start++;
	}
	for (i = start; i < flat.len && (max_chars == 0 || chars < max_chars);) {
		size_t m = term_at(flat.data + i, flat.len - i, terms, n), c = 1;
		if (m > 0) {
			/* a match ends on a character boundary, as the term does */
			buf_puts(out, "<mark>");
			html_escaped(out, flat.data + i, m);
			buf_puts(out, "</mark>");
			for (size_t k = 0; k < m; k++)
				chars += ((unsigned char)flat.data[i + k] & 0xc0) != 0x80;
			i += m;
			continue;
		}
		while (i + c < flat.len && ((unsigned char)flat.data[i + c] & 0xc0) == 0x80)
			c++;
		html_escaped(out, flat.data + i, c);
		chars++;
		i += c;
	}
	buf_deinit(&flat);
	return 1;
}

/* ---- writing header fields (Email/set create) ---- */

static bool needs_words(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x7f || (unsigned char)*s < 0x20)
			return true;
	return false;
}

static void b64_word(struct buf *out, const unsigned char *p, size_t n)
{
	buf_puts(out, "=?UTF-8?B?");
	base64_encode(p, n, out);
	buf_puts(out, "?=");
}

void jmap_format_text(struct buf *out, const char *s)
{
	size_t n = strlen(s), i = 0;

	if (!needs_words(s)) {
		buf_puts(out, s);
		return;
	}
	/* words of at most 45 bytes (60 encoded), cut between characters,
	   folded onto lines of their own */
	while (i < n) {
		size_t len = n - i < 45 ? n - i : 45;
		while (len > 1 && i + len < n && ((unsigned char)s[i + len] & 0xc0) == 0x80)
			len--;
		if (i > 0)
			buf_puts(out, "\n ");
		b64_word(out, (const unsigned char *)s + i, len);
		i += len;
	}
}

void jmap_format_address(struct buf *out, const char *name, const char *email)
{
	if (name != NULL && name[0] != '\0') {
		if (needs_words(name)) {
			jmap_format_text(out, name);
		} else {
			buf_putc(out, '"');
			for (; *name != '\0'; name++) {
				if (*name == '"' || *name == '\\')
					buf_putc(out, '\\');
				buf_putc(out, *name);
			}
			buf_putc(out, '"');
		}
		buf_putc(out, ' ');
	}
	buf_printf(out, "<%s>", email);
}
