/*
 * spf.c - SPF records and macros (RFC 7208 §4.6, §5, §7): pure text
 * handling, no DNS.
 */
#include "spf/spf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/util.h"

static const char *const result_names[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror",
};

const char *spf_result_name(enum spf_result r)
{
	return result_names[r];
}

bool spf_is_record(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == '\0' || txt[6] == ' ');
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A trailing "/n", "//m" or "/n//m" of t[0..*len): shortens *len. */
static int take_cidr(const char *t, size_t *len, struct spf_term *term, bool allow)
{
	size_t n = *len;

	for (int pass = 0; pass < 2; pass++) {
		size_t d = n, v;
		while (d > 0 && is_digit(t[d - 1]))
			d--;
		if (d == n || d == 0 || t[d - 1] != '/')
			break;
		if (n - d > 3 || (n - d > 1 && t[d] == '0'))
			return -1;
		v = (size_t)atoi(t + d);
		if (d >= 2 && t[d - 2] == '/') {
			if (pass > 0 || v > 128)
				return -1;	/* "//m" must come last */
			term->cidr6 = (unsigned)v;
			n = d - 2;
		} else {
			if (v > 32)
				return -1;
			term->cidr4 = (unsigned)v;
			n = d - 1;
			break;
		}
	}
	if (n != *len && !allow)
		return -1;
	*len = n;
	return 1;
}

/* Check the macro syntax of a domain-spec (expansion comes later). */
static int spec_check(const char *s, size_t len)
{
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e)
			return -1;
		if (c != '%')
			continue;
		if (i + 1 >= len)
			return -1;
		if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-') {
			i++;
			continue;
		}
		if (s[i + 1] != '{')
			return -1;
		i += 2;
		if (i >= len || strchr("slodiphcrtvSLODIPHCRTV", s[i]) == NULL)
			return -1;
		i++;
		while (i < len && is_digit(s[i]))
			i++;
		if (i < len && (s[i] == 'r' || s[i] == 'R'))
			i++;
		while (i < len && strchr(".-+,/_=", s[i]) != NULL)
			i++;
		if (i >= len || s[i] != '}')
			return -1;
	}
	return 1;
}

static int parse_ip(const char *s, size_t len, int family, unsigned char *out)
{
	char text[64];

	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	return inet_pton(family, text, out) == 1 ? 1 : -1;
}

static int parse_directive(const char *t, size_t len, struct spf_term *term)
{
	static const struct { const char *name; enum spf_mech mech; } mechs[] = {
		{ "all", SPF_ALL }, { "include", SPF_INCLUDE }, { "a", SPF_A },
		{ "mx", SPF_MX }, { "ptr", SPF_PTR }, { "ip4", SPF_IP4 },
		{ "ip6", SPF_IP6 }, { "exists", SPF_EXISTS },
	};
	size_t name_len = 0, k;
	const char *arg;
	size_t arg_len;

	memset(term, 0, sizeof(*term));
	term->qualifier = SPF_PASS;
	term->cidr4 = 32;
	term->cidr6 = 128;
	if (len > 0 && strchr("+-~?", t[0]) != NULL) {
		term->qualifier = t[0] == '+' ? SPF_PASS : t[0] == '-' ? SPF_FAIL :
				  t[0] == '~' ? SPF_SOFTFAIL : SPF_NEUTRAL;
		t++;
		len--;
	}
	while (name_len < len && is_alpha(t[name_len]))
		name_len++;
	while (name_len < len && is_digit(t[name_len]))
		name_len++;	/* ip4, ip6 */
	for (k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++)
		if (strlen(mechs[k].name) == name_len && strncasecmp(t, mechs[k].name, name_len) == 0)
			break;
	if (k == sizeof(mechs) / sizeof(mechs[0]))
		return -1;
	term->mech = mechs[k].mech;
	arg = t + name_len;
	arg_len = len - name_len;
	switch (term->mech) {
	case SPF_ALL:
		return arg_len == 0 ? 1 : -1;
	case SPF_INCLUDE:
	case SPF_EXISTS:
		if (arg_len < 2 || arg[0] != ':' || spec_check(arg + 1, arg_len - 1) < 0)
			return -1;
		term->spec = arg + 1;
		term->spec_len = arg_len - 1;
		return 1;
	case SPF_A:
	case SPF_MX:
	case SPF_PTR:
		if (take_cidr(arg, &arg_len, term, term->mech != SPF_PTR) < 0)
			return -1;
		if (arg_len == 0)
			return 1;
		if (arg[0] != ':' || spec_check(arg + 1, arg_len - 1) < 0)
			return -1;
		term->spec = arg + 1;
		term->spec_len = arg_len - 1;
		return 1;
	case SPF_IP4:
	case SPF_IP6: {
		size_t n = arg_len;
		const char *slash;
		unsigned bits;
		if (n < 2 || arg[0] != ':')
			return -1;
		slash = memchr(arg, '/', n);
		if (slash != NULL) {
			size_t d = (size_t)(slash - arg) + 1;
			if (d == n || n - d > 3 || (n - d > 1 && arg[d] == '0'))
				return -1;
			for (size_t i = d; i < n; i++)
				if (!is_digit(arg[i]))
					return -1;
			bits = (unsigned)atoi(arg + d);
			if (bits > (term->mech == SPF_IP4 ? 32u : 128u))
				return -1;
			if (term->mech == SPF_IP4)
				term->cidr4 = bits;
			else
				term->cidr6 = bits;
			n = (size_t)(slash - arg);
		}
		return parse_ip(arg + 1, n - 1, term->mech == SPF_IP4 ? AF_INET : AF_INET6,
				term->ip);
	}
	}
	return -1;
}

int spf_record_parse(const char *txt, struct spf_record *r, const char **error_r)
{
	const char *p = txt + 6;
	bool exp = false;

	memset(r, 0, sizeof(*r));
	*error_r = "not an SPF record";
	if (!spf_is_record(txt))
		return -1;
	for (;;) {
		const char *start, *eq;
		size_t len;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ' ')
			p++;
		len = (size_t)(p - start);
		eq = memchr(start, '=', len);
		if (eq != NULL && eq > start && is_alpha(start[0]) &&
		    strspn(start, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
		    (size_t)(eq - start)) {
			size_t nl = (size_t)(eq - start), vl = len - nl - 1;
			if (nl == 8 && strncasecmp(start, "redirect", 8) == 0) {
				*error_r = "bad or repeated redirect=";
				if (r->redirect != NULL || spec_check(eq + 1, vl) < 0)
					return -1;
				r->redirect = eq + 1;
				r->redirect_len = vl;
			} else if (nl == 3 && strncasecmp(start, "exp", 3) == 0) {
				*error_r = "repeated exp=";
				if (exp)
					return -1;
				exp = true;
			}
			continue;	/* unknown modifiers are ignored (§6) */
		}
		*error_r = "too many terms";
		if (r->n == SPF_MAX_TERMS)
			return -1;
		*error_r = "syntax error in a mechanism";
		if (parse_directive(start, len, &r->terms[r->n]) < 0)
			return -1;
		r->n++;
	}
	return 1;
}

/* ---- macros ---- */

static void ip_text(const struct sockaddr_storage *ip, bool dotted_nibbles, char *out,
		    size_t size)
{
	if (ip->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ip)->sin_addr, out, (socklen_t)size);
		return;
	}
	if (!dotted_nibbles) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ip)->sin6_addr, out,
			  (socklen_t)size);
		return;
	}
	{
		const unsigned char *b = ((const struct sockaddr_in6 *)ip)->sin6_addr.s6_addr;
		size_t o = 0;
		for (int i = 0; i < 16 && o + 4 < size; i++) {
			o += (size_t)snprintf(out + o, size - o, "%s%x.%x", i ? "." : "",
					      b[i] >> 4, b[i] & 15);
		}
	}
}

static void macro_value(char letter, const struct spf_macro_ctx *c, char *out, size_t size)
{
	const char *at = strrchr(c->sender, '@');

	switch (letter) {
	case 's':
		str_copy(out, c->sender, size);
		break;
	case 'l':
		if (at == NULL || at == c->sender)
			str_copy(out, "postmaster", size);
		else
			snprintf(out, size, "%.*s", (int)(at - c->sender), c->sender);
		break;
	case 'o':
		str_copy(out, at == NULL ? c->sender : at + 1, size);
		break;
	case 'd':
		str_copy(out, c->domain, size);
		break;
	case 'i':
	case 'c':
		ip_text(c->ip, letter == 'i', out, size);
		break;
	case 'p':
		str_copy(out, "unknown", size);
		break;
	case 'v':
		str_copy(out, c->ip->ss_family == AF_INET ? "in-addr" : "ip6", size);
		break;
	case 'h':
		str_copy(out, c->helo, size);
		break;
	case 'r':
		str_copy(out, "unknown", size);
		break;
	case 't':
		snprintf(out, size, "%ld", (long)time(NULL));
		break;
	default:
		out[0] = '\0';
	}
}

/* Split value at any of delims, keep the rightmost `keep` parts (0: all),
   reversed first if asked, joined with dots; appended to out. */
static void transform(const char *value, const char *delims, unsigned keep, bool reverse,
		      struct buf *out)
{
	const char *parts[128];
	size_t lens[128];
	unsigned n = 0, first;
	const char *p = value;

	for (;;) {
		size_t l = strcspn(p, delims);
		if (n < 128) {
			parts[n] = p;
			lens[n++] = l;
		}
		if (p[l] == '\0')
			break;
		p += l + 1;
	}
	if (reverse) {
		for (unsigned i = 0; i < n / 2; i++) {
			const char *tp = parts[i];
			size_t tl = lens[i];
			parts[i] = parts[n - 1 - i];
			lens[i] = lens[n - 1 - i];
			parts[n - 1 - i] = tp;
			lens[n - 1 - i] = tl;
		}
	}
	first = keep == 0 || keep >= n ? 0 : n - keep;
	for (unsigned i = first; i < n; i++) {
		if (i > first)
			buf_putc(out, '.');
		buf_append(out, parts[i], lens[i]);
	}
}

int spf_macro_expand(const char *spec, size_t len, const struct spf_macro_ctx *ctx,
		     char *out, size_t size, const char **error_r)
{
	struct buf b;
	const char *result;

	*error_r = "bad macro";
	if (spec_check(spec, len) < 0)
		return -1;
	buf_init(&b, 8192);
	for (size_t i = 0; i < len; i++) {
		char value[1100], delims[8] = "";
		unsigned keep = 0, nd = 0;
		bool reverse = false;
		char letter;

		if (spec[i] != '%') {
			buf_putc(&b, spec[i]);
			continue;
		}
		i++;
		if (spec[i] == '%' || spec[i] == '_' || spec[i] == '-') {
			buf_puts(&b, spec[i] == '%' ? "%" : spec[i] == '_' ? " " : "%20");
			continue;
		}
		i++;	/* '{' */
		letter = (char)(spec[i] | 0x20);
		i++;
		while (is_digit(spec[i])) {
			keep = keep * 10 + (unsigned)(spec[i] - '0');
			if (keep > 128)
				keep = 128;
			i++;
		}
		if (spec[i] == 'r' || spec[i] == 'R') {
			reverse = true;
			i++;
		}
		while (spec[i] != '}') {
			if (nd < sizeof(delims) - 1 && strchr(delims, spec[i]) == NULL)
				delims[nd++] = spec[i];
			i++;
		}
		if (nd == 0)
			delims[0] = '.';
		macro_value(letter, ctx, value, sizeof(value));
		transform(value, delims, keep, reverse, &b);
	}
	result = buf_cstr(&b);
	/* §7.3: over 253 characters, drop labels from the left */
	while (strlen(result) > 253) {
		const char *dot = strchr(result, '.');
		if (dot == NULL)
			break;
		result = dot + 1;
	}
	if (strlen(result) > 253 || result[0] == '\0' || strlen(result) >= size) {
		buf_deinit(&b);
		*error_r = "expanded domain is unusable";
		return -1;
	}
	str_copy(out, result, size);
	buf_deinit(&b);
	return 1;
}

bool spf_ip_match(const struct sockaddr_storage *ip, const unsigned char *net, bool v6,
		  unsigned bits)
{
	const unsigned char *a;
	unsigned whole = bits / 8, rest = bits % 8;

	if (v6 != (ip->ss_family == AF_INET6))
		return false;
	a = v6 ? ((const struct sockaddr_in6 *)ip)->sin6_addr.s6_addr :
		 (const unsigned char *)&((const struct sockaddr_in *)ip)->sin_addr;
	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ net[whole]) & (0xff << (8 - rest))) == 0;
}
