/*
 * mta_sts.c - the MTA-STS parsers (RFC 8461): the TXT record, the policy
 * text, the HTTP response around it, and the mx pattern match.  Pure
 * functions over bounded input, used by mta_sts_fetch.c and fuzzed by
 * fuzz_mta_sts.c.
 *
 * TXT record (§3.1):
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 *   sts-field-delim = *WSP ";" *WSP
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *
 * Policy (§3.2):
 *   sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP)
 *                       [sts-policy-term]
 *   sts-policy-term   = LF / CRLF
 *   sts-policy-field  = name ":" *WSP value
 *   version: STSv1 | mode: testing / enforce / none | max_age: 1*10DIGIT |
 *   mx: ["*."] Ldh-str *("." Ldh-str)
 */
#include "mta/mta_sts.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

const char *mta_sts_mode_name(enum mta_sts_mode mode)
{
	static const char *names[] = { "none", "testing", "enforce" };

	return mode <= MTA_STS_ENFORCE ? names[mode] : "?";
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ---- the TXT record ---- */

/* One "name=value" field of the record at [p, end).  Returns 1 (with the
   id copied when it is the id field), -1 on bad syntax. */
static int txt_field(const char *p, const char *end, char *id, size_t size, bool *have_id)
{
	const char *eq = memchr(p, '=', (size_t)(end - p));
	size_t name_len, value_len;

	if (eq == NULL || eq == p || eq + 1 == end)
		return -1;
	name_len = (size_t)(eq - p);
	value_len = (size_t)(end - eq - 1);
	if (name_len == 2 && memcmp(p, "id", 2) == 0) {
		if (value_len > 32 || value_len + 1 > size)
			return -1;
		for (size_t i = 0; i < value_len; i++)
			if (!is_alnum(eq[1 + i]))
				return -1;
		if (!*have_id) {
			memcpy(id, eq + 1, value_len);
			id[value_len] = '\0';
			*have_id = true;
		}
		return 1;
	}
	for (const char *q = eq + 1; q < end; q++)
		if (*q <= 0x20 || *q == 0x7f || *q == ';' || *q == '=')
			return -1;
	return 1;
}

int mta_sts_txt_parse(const char *txt, char *id, size_t size)
{
	const char *p = txt, *end;
	bool have_id = false;

	if (strncmp(txt, "v=STSv1", 7) != 0 ||
	    (txt[7] != ';' && txt[7] != '\0' && !is_wsp(txt[7])))
		return 0;
	p = txt + 7;
	for (;;) {
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ';')
			return -1;
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;		/* a final delimiter */
		for (end = p; *end != '\0' && *end != ';' && !is_wsp(*end); end++)
			;
		if (txt_field(p, end, id, size, &have_id) < 0)
			return -1;
		p = end;
	}
	return have_id ? 1 : -1;
}

/* ---- the policy ---- */

/* A name as the policy's mx lines write it: an optional "*." then LDH
   labels of 1 to 63 characters, at most 253 in all. */
static bool mx_pattern_ok(const char *s, size_t len)
{
	size_t label = 0;

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
		if (s[i] == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

struct fields {
	bool version, mode, max_age;
	size_t mx_used;		/* bytes of p->mx taken */
};

static bool value_is(const char *v, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(v, word, len) == 0;
}

static int policy_mode(const char *v, size_t len, struct mta_sts_policy *p)
{
	if (value_is(v, len, "enforce"))
		p->mode = MTA_STS_ENFORCE;
	else if (value_is(v, len, "testing"))
		p->mode = MTA_STS_TESTING;
	else if (value_is(v, len, "none"))
		p->mode = MTA_STS_NONE;
	else
		return -1;
	return 1;
}

static int policy_max_age(const char *v, size_t len, struct mta_sts_policy *p)
{
	uint64_t n = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	/* §3.2: up to 31557600; a bigger value is used as that maximum */
	p->max_age = n > MTA_STS_MAX_AGE ? MTA_STS_MAX_AGE : n;
	return 1;
}

static int policy_mx(const char *v, size_t len, struct mta_sts_policy *p, size_t *used)
{
	if (!mx_pattern_ok(v, len))
		return -1;
	if (*used + len + 1 > sizeof(p->mx))
		return 1;	/* past the space kept: left out */
	memcpy(p->mx + *used, v, len);
	p->mx[*used + len] = '\0';
	str_lower(p->mx + *used);
	*used += len + 1;
	p->n_mx++;
	return 1;
}

const char *mta_sts_mx_next(const struct mta_sts_policy *p, const char *prev)
{
	const char *next = prev == NULL ? p->mx : prev + strlen(prev) + 1;

	if (p->n_mx == 0 || next >= p->mx + sizeof(p->mx) || *next == '\0')
		return NULL;
	return next;
}

/* One line "name: value" (the line end taken off). */
static int policy_line(const char *line, size_t len, struct mta_sts_policy *p,
		       struct fields *seen, const char **error_r)
{
	const char *colon = memchr(line, ':', len);
	const char *v;
	size_t name_len, vlen;

	if (len == 0)
		return 1;
	if (colon == NULL)
		return 1;	/* not a field: ignored like an unknown one */
	name_len = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - name_len - 1;
	while (vlen > 0 && is_wsp(*v)) {
		v++;
		vlen--;
	}
	while (vlen > 0 && is_wsp(v[vlen - 1]))
		vlen--;
	if (value_is(line, name_len, "version") && !seen->version) {
		seen->version = true;
		*error_r = "version is not STSv1";
		return value_is(v, vlen, "STSv1") ? 1 : -1;
	}
	if (value_is(line, name_len, "mode") && !seen->mode) {
		seen->mode = true;
		*error_r = "unknown mode";
		return policy_mode(v, vlen, p);
	}
	if (value_is(line, name_len, "max_age") && !seen->max_age) {
		seen->max_age = true;
		*error_r = "bad max_age";
		return policy_max_age(v, vlen, p);
	}
	if (value_is(line, name_len, "mx")) {
		*error_r = "bad mx pattern";
		return policy_mx(v, vlen, p, &seen->mx_used);
	}
	return 1;
}

int mta_sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *p,
			 const char **error_r)
{
	struct fields seen = { false, false, false, 0 };
	size_t pos = 0;

	memset(p, 0, sizeof(*p));
	if (len > MTA_STS_MAX_POLICY) {
		*error_r = "policy too long";
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		size_t line_len = n > 0 && text[pos + n - 1] == '\r' ? n - 1 : n;
		if (memchr(text + pos, '\0', n) != NULL) {
			*error_r = "NUL in policy";
			return -1;
		}
		if (policy_line(text + pos, line_len, p, &seen, error_r) < 0)
			return -1;
		pos += n + 1;
	}
	*error_r = !seen.version ? "no version" : !seen.mode ? "no mode" :
		   !seen.max_age ? "no max_age" : "no mx";
	if (!seen.version || !seen.mode || !seen.max_age ||
	    (p->mode != MTA_STS_NONE && p->n_mx == 0))
		return -1;
	return 1;
}

bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *host)
{
	size_t len = strlen(host);

	if (len > 0 && host[len - 1] == '.')
		len--;
	for (const char *pat = mta_sts_mx_next(p, NULL); pat != NULL;
	     pat = mta_sts_mx_next(p, pat)) {
		size_t plen = strlen(pat);
		if (pat[0] != '*') {
			if (plen == len && strncasecmp(pat, host, len) == 0)
				return true;
			continue;
		}
		/* "*.example.net": one label, then ".example.net" */
		plen--;
		pat++;
		if (len > plen && strncasecmp(host + len - plen, pat, plen) == 0 &&
		    memchr(host, '.', len - plen) == NULL)
			return true;
	}
	return false;
}

/* ---- the HTTP response ---- */

/* The value of header name in the header block [h, end), or NULL. */
static const char *header_value(const char *h, const char *end, const char *name,
				size_t *len_r)
{
	size_t nlen = strlen(name);

	while (h < end) {
		const char *eol = memchr(h, '\n', (size_t)(end - h));
		const char *line_end = eol != NULL ? eol : end;
		size_t n = (size_t)(line_end - h);
		if (n > 0 && h[n - 1] == '\r')
			n--;
		if (n > nlen && h[nlen] == ':' && strncasecmp(h, name, nlen) == 0) {
			const char *v = h + nlen + 1;
			size_t vlen = n - nlen - 1;
			while (vlen > 0 && is_wsp(*v)) {
				v++;
				vlen--;
			}
			while (vlen > 0 && is_wsp(v[vlen - 1]))
				vlen--;
			*len_r = vlen;
			return v;
		}
		h = line_end + 1;
	}
	return NULL;
}

static int check_length(const char *v, size_t vlen, size_t body_len, const char **error_r)
{
	uint64_t n = 0;

	*error_r = "bad Content-Length";
	if (vlen == 0 || vlen > 10)
		return -1;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*error_r = "policy shorter than its Content-Length";
	return n <= body_len ? 1 : -1;
}

int mta_sts_http_parse(const char *data, size_t len, const char **body_r, size_t *body_len_r,
		       const char **error_r)
{
	const char *end = NULL, *v;
	size_t vlen, body_len;

	for (size_t i = 0; i + 1 < len && end == NULL; i++) {
		if (data[i] == '\n' && data[i + 1] == '\n')
			end = data + i + 1;
		else if (data[i] == '\n' && data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n')
			end = data + i + 2;
	}
	*error_r = "truncated HTTP response";
	if (end == NULL)
		return -1;
	*error_r = "HTTP status is not 200";
	if (len < 12 || strncmp(data, "HTTP/1.", 7) != 0 || memcmp(data + 8, " 200", 4) != 0 ||
	    (data[12] != ' ' && data[12] != '\r' && data[12] != '\n'))
		return -1;
	*error_r = "Content-Type is not text/plain";
	v = header_value(data, end, "Content-Type", &vlen);
	if (v == NULL || vlen < 10 || strncasecmp(v, "text/plain", 10) != 0 ||
	    (vlen > 10 && v[10] != ';' && !is_wsp(v[10])))
		return -1;
	*error_r = "chunked transfer encoding";
	if (header_value(data, end, "Transfer-Encoding", &vlen) != NULL)
		return -1;	/* asked with HTTP/1.0: a server may not chunk */
	body_len = len - (size_t)(end + 1 - data);
	v = header_value(data, end, "Content-Length", &vlen);
	if (v != NULL && check_length(v, vlen, body_len, error_r) < 0)
		return -1;
	if (v != NULL) {
		uint64_t n = 0;
		for (size_t i = 0; i < vlen; i++)
			n = n * 10 + (uint64_t)(v[i] - '0');
		body_len = (size_t)n;
	}
	*body_r = end + 1;
	*body_len_r = body_len;
	return 1;
}
