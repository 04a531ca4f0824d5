/*
 * address.c - RFC 5321 Mailbox syntax, with RFC 6531 UTF-8.
 *
 * Called by the SMTP command parser for MAIL and RCPT paths and by anything
 * that turns an address into a lookup key (aliases, accounts).  Pure: no
 * allocation, no I/O.  Limits: 64 octets of local part (counted without the
 * quoting), 255 octets of domain as written, 63 octets per ASCII label.
 *
 *   Local-part     = Dot-string / Quoted-string
 *   Dot-string     = Atom *("."  Atom)
 *   Atom           = 1*atext                  ; RFC 5322 atext
 *   Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
 *   QcontentSMTP   = qtextSMTP / quoted-pairSMTP
 *   quoted-pairSMTP = %d92 %d32-126
 *   qtextSMTP      = %d32-33 / %d35-91 / %d93-126
 *   Domain         = sub-domain *("." sub-domain)
 *   sub-domain     = Let-dig [Ldh-str]
 *   address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                          General-address-literal ) "]"
 *   General-address-literal = Standardized-tag ":" 1*dcontent
 *   dcontent       = %d33-90 / %d94-126
 *
 * RFC 6531 adds UTF8-non-ascii to atext, qtextSMTP and sub-domain.
 *
 * Not to be confused with mime_address.c, which reads the RFC 5322
 * address lists of header fields (display names, groups, comments): an
 * envelope path is a single bare mailbox with its own, stricter grammar.
 */
#include "lib/util.h"
#include "mime.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define ADDRESS_LABEL_MAX 63

/*
 * A non-ASCII sequence at p: its length, or 0 with *error_r set when UTF-8
 * is not allowed or the sequence is invalid.
 */
static size_t utf8_check(const char *p, size_t n, bool utf8,
			 const char **error_r)
{
	size_t len;

	if (!utf8) {
		*error_r = "non-ASCII address without SMTPUTF8";
		return 0;
	}
	len = utf8_sequence((const unsigned char *)p, n);
	if (len == 0)
		*error_r = "invalid UTF-8 in address";
	return len;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) ||
		(c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/* Dot-string up to '@' or the end.  Sets *used_r (bytes, unquoted). */
static int local_dot_string(const char *s, size_t len, bool utf8,
			    size_t *used_r, const char **error_r)
{
	bool want_atom = true;
	size_t i = 0, seq;

	while (i < len && s[i] != '@') {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' && !want_atom) {
			want_atom = true;
			i++;
			continue;
		}
		if (c >= 0x80) {
			seq = utf8_check(s + i, len - i, utf8, error_r);
			if (seq == 0)
				return -1;
			i += seq;
		} else if (is_atext(c)) {
			i++;
		} else {
			*error_r = "bad local part";
			return -1;
		}
		want_atom = false;
	}
	if (want_atom) {
		*error_r = i == 0 ? "empty local part" : "bad local part";
		return -1;
	}
	*used_r = i;
	return 1;
}

/* Quoted-string at s[0] == '"'.  Sets *used_r (bytes as written) and
   *content_r (octets without the quoting). */
static int local_quoted(const char *s, size_t len, bool utf8, size_t *used_r,
			size_t *content_r, const char **error_r)
{
	size_t i = 1, content = 0, seq;

	while (i < len && s[i] != '"') {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126)
				break;
			seq = 2;
			content++;
		} else if (c >= 0x80) {
			seq = utf8_check(s + i, len - i, utf8, error_r);
			if (seq == 0)
				return -1;
			content += seq;
		} else if (is_qtext(c)) {
			seq = 1;
			content++;
		} else {
			break;
		}
		i += seq;
	}
	if (i >= len || s[i] != '"') {
		*error_r = "bad quoted local part";
		return -1;
	}
	*used_r = i + 1;
	*content_r = content;
	return 1;
}

static int local_parse(const char *s, size_t len, bool utf8, size_t *used_r,
		       const char **error_r)
{
	size_t content;

	if (s[0] == '"') {
		if (local_quoted(s, len, utf8, used_r, &content, error_r) < 0)
			return -1;
	} else {
		if (local_dot_string(s, len, utf8, used_r, error_r) < 0)
			return -1;
		content = *used_r;
	}
	if (content > ADDRESS_LOCAL_MAX) {
		*error_r = "local part too long";
		return -1;
	}
	return 1;
}

/* Snum "." Snum "." Snum "." Snum, Snum = 1*3DIGIT of value 0..255 */
static bool literal_ipv4(const char *s, size_t len)
{
	size_t i = 0, parts = 0;

	while (parts < 4) {
		unsigned v = 0, digits = 0;

		while (i < len && is_digit((unsigned char)s[i]) && digits < 4) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
		if (++parts < 4 && (i >= len || s[i++] != '.'))
			return false;
	}
	return i == len;
}

static bool literal_ipv6(const char *s, size_t len)
{
	char tmp[ADDRESS_DOMAIN_MAX + 1];
	unsigned char addr[16];

	if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, addr) == 1;
}

/* Standardized-tag ":" 1*dcontent, Standardized-tag = Ldh-str */
static bool literal_general(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (is_alpha((unsigned char)s[i]) ||
			   is_digit((unsigned char)s[i]) || s[i] == '-'))
		i++;
	if (i == 0 || s[i - 1] == '-' || i + 1 >= len || s[i] != ':')
		return false;
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	return true;
}

static int domain_literal(const char *s, size_t len, const char **error_r)
{
	bool ok;

	if (len < 3 || s[len - 1] != ']') {
		*error_r = "bad address literal";
		return -1;
	}
	s++;
	len -= 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0)
		ok = literal_ipv6(s + 5, len - 5);
	else if (is_digit((unsigned char)s[0]))
		ok = literal_ipv4(s, len);
	else
		ok = literal_general(s, len);
	if (!ok) {
		*error_r = "bad address literal";
		return -1;
	}
	return 1;
}

/*
 * One label s[0..len): letters, digits, '-' inside, '_' tolerated, and
 * UTF-8 when allowed.  XXX: a U-label's limit is that of its A-label, which
 * needs punycode to know; non-ASCII labels are bounded by the domain only.
 */
static int domain_label(const char *s, size_t len, bool utf8,
			const char **error_r)
{
	bool ascii = true;
	size_t i = 0, seq;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-') {
		*error_r = "bad domain";
		return -1;
	}
	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80) {
			seq = utf8_check(s + i, len - i, utf8, error_r);
			if (seq == 0)
				return -1;
			ascii = false;
			i += seq;
		} else if (is_alpha(c) || is_digit(c) || c == '-' || c == '_') {
			i++;
		} else {
			*error_r = "bad domain";
			return -1;
		}
	}
	if (ascii && len > ADDRESS_LABEL_MAX) {
		*error_r = "domain label too long";
		return -1;
	}
	return 1;
}

static int domain_parse(const char *s, size_t len, bool utf8,
			const char **error_r)
{
	size_t start = 0, i;

	if (len == 0) {
		*error_r = "missing domain";
		return -1;
	}
	if (len > ADDRESS_DOMAIN_MAX) {
		*error_r = "domain too long";
		return -1;
	}
	if (s[0] == '[')
		return domain_literal(s, len, error_r);
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (domain_label(s + start, i - start, utf8, error_r) < 0)
			return -1;
		start = i + 1;
	}
	return 1;
}

int address_parse(const char *s, size_t len, bool utf8, struct address *r,
		  const char **error_r)
{
	size_t local_len;

	if (len == 0) {
		*error_r = "empty address";
		return -1;
	}
	if (local_parse(s, len, utf8, &local_len, error_r) < 0)
		return -1;
	if (local_len >= len || s[local_len] != '@') {
		*error_r = local_len >= len ? "missing @" : "bad local part";
		return -1;
	}
	if (domain_parse(s + local_len + 1, len - local_len - 1, utf8,
			 error_r) < 0)
		return -1;
	memcpy(r->local, s, local_len);
	r->local[local_len] = '\0';
	memcpy(r->domain, s + local_len + 1, len - local_len - 1);
	r->domain[len - local_len - 1] = '\0';
	return 1;
}

static bool has_8bit(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}

bool address_is_utf8(const struct address *a)
{
	return has_8bit(a->local) || has_8bit(a->domain);
}

/* A bounded writer for address_key() and address_canonical(). */
struct key_out {
	char *p;
	size_t size, len;
	bool full;
	bool keep_case;
};

static void key_put(struct key_out *k, const char *s, size_t n)
{
	size_t i;

	if (k->full || n >= k->size - k->len) {
		k->full = true;
		return;
	}
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z' && !k->keep_case)
			c = (char)(c - 'A' + 'a');
		k->p[k->len++] = c;
	}
	k->p[k->len] = '\0';
}

/* Would content (unquoted) be a valid Dot-string on its own? */
static bool is_dot_string(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' && i + 1 < len && s[i + 1] == '.')
			return false;
		if (c != '.' && c < 0x80 && !is_atext(c))
			return false;
	}
	return true;
}

/* Write a quoted local part in its shortest form. */
static void key_put_quoted(struct key_out *k, const char *quoted)
{
	char content[ADDRESS_LOCAL_MAX + 1];
	size_t n = 0, i;

	for (i = 1; quoted[i] != '"' && quoted[i] != '\0'; i++) {
		if (quoted[i] == '\\' && quoted[i + 1] != '\0')
			i++;
		if (n < sizeof(content) - 1)
			content[n++] = quoted[i];
	}
	content[n] = '\0';
	if (is_dot_string(content, n)) {
		key_put(k, content, n);
		return;
	}
	key_put(k, "\"", 1);
	for (i = 0; i < n; i++) {
		if (content[i] == '"' || content[i] == '\\')
			key_put(k, "\\", 1);
		key_put(k, content + i, 1);
	}
	key_put(k, "\"", 1);
}

static int key_write(const struct address *a, char *out, size_t size, bool keep_case)
{
	struct key_out k = { out, size, 0, size == 0, keep_case };

	if (size > 0)
		out[0] = '\0';
	if (a->local[0] == '"')
		key_put_quoted(&k, a->local);
	else
		key_put(&k, a->local, strlen(a->local));
	if (a->domain[0] != '\0') {
		key_put(&k, "@", 1);
		key_put(&k, a->domain, strlen(a->domain));
	}
	return k.full ? -1 : 1;
}

int address_key(const struct address *a, char *out, size_t size)
{
	return key_write(a, out, size, false);
}

int address_canonical(const struct address *a, char *out, size_t size)
{
	return key_write(a, out, size, true);
}

int address_strip_tag(const char *key, const char *delims, char *out,
		      size_t size)
{
	const char *at = strrchr(key, '@');
	size_t local_len = at != NULL ? (size_t)(at - key) : strlen(key);
	size_t cut = local_len, rest, i;

	if (key[0] != '"') {
		for (i = 1; i < local_len; i++) {
			if (strchr(delims, key[i]) != NULL) {
				cut = i;
				break;
			}
		}
	}
	rest = strlen(key + local_len);
	if (size == 0 || cut + rest >= size)
		return -1;
	memcpy(out, key, cut);
	memcpy(out + cut, key + local_len, rest);
	out[cut + rest] = '\0';
	return cut < local_len ? 1 : 0;
}
