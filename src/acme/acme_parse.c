/*
 * acme_parse.c - what the ACME CA sends, read with limits and no I/O:
 * the HTTP/1.1 response (status line, the few headers the client uses,
 * Content-Length or chunked body) and the JSON objects of RFC 8555
 * section 7.1 (directory, order, authorization, challenge, problem).
 * The CA is not trusted to be well-formed: every field is checked for
 * type and size, URLs must be https, tokens base64url (RFC 8555 8.1).
 * Called by acme.c and acme_http.c; fuzzed by fuzz_acme.c.
 */
#include "acme/acme_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "lib/util.h"

void acme_resp_init(struct acme_resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, ACME_RESPONSE_MAX);
}

void acme_resp_deinit(struct acme_resp *r)
{
	buf_deinit(&r->body);
}

/* ---- HTTP ---- */

/* Copy a header value (trimmed) into out when it fits. */
static void header_value(const char *p, size_t n, char *out, size_t size)
{
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	out[0] = '\0';
	if (n < size)
		snprintf(out, size, "%.*s", (int)n, p);
}

static bool header_is(const char *line, size_t n, const char *name, const char **value_r)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
		return false;
	*value_r = line + k + 1;
	return true;
}

/* One header line (without CRLF). */
static void http_header(struct acme_resp *r, const char *line, size_t n,
			long long *length, bool *chunked)
{
	const char *v;
	char text[64];

	if (header_is(line, n, "Location", &v))
		header_value(v, n - (size_t)(v - line), r->location, sizeof(r->location));
	else if (header_is(line, n, "Replay-Nonce", &v))
		header_value(v, n - (size_t)(v - line), r->nonce, sizeof(r->nonce));
	else if (header_is(line, n, "Content-Type", &v))
		header_value(v, n - (size_t)(v - line), r->content_type,
			     sizeof(r->content_type));
	else if (header_is(line, n, "Retry-After", &v)) {
		uint64_t s;
		header_value(v, n - (size_t)(v - line), text, sizeof(text));
		if (parse_uint(text, &s) > 0)
			r->retry_after = s > 86400 ? 86400 : (unsigned)s;
	} else if (header_is(line, n, "Content-Length", &v)) {
		uint64_t s;
		header_value(v, n - (size_t)(v - line), text, sizeof(text));
		*length = parse_uint(text, &s) > 0 && s <= ACME_RESPONSE_MAX ? (long long)s : -2;
	} else if (header_is(line, n, "Transfer-Encoding", &v)) {
		header_value(v, n - (size_t)(v - line), text, sizeof(text));
		*chunked = strcasecmp(text, "chunked") == 0;
	}
}

/* chunked-body = *chunk last-chunk trailer-part CRLF (RFC 9112 7.1) */
static int http_chunked(const char *p, size_t n, struct buf *body)
{
	for (;;) {
		const char *eol = memmem(p, n, "\r\n", 2);
		unsigned long size;
		char *end;

		if (eol == NULL || eol == p || !isxdigit((unsigned char)*p))
			return -1;
		size = strtoul(p, &end, 16);
		if (end > eol || (end < eol && *end != ';') || size > ACME_RESPONSE_MAX)
			return -1;
		n -= (size_t)(eol + 2 - p);
		p = eol + 2;
		if (size == 0)
			return 1;	/* trailers ignored */
		if (n < size + 2 || memcmp(p + size, "\r\n", 2) != 0 ||
		    buf_append(body, p, size) < 0)
			return -1;
		p += size + 2;
		n -= size + 2;
	}
}

int acme_http_parse(const char *data, size_t len, bool head, struct acme_resp *r,
		    const char **error_r)
{
	const char *end = memmem(data, len < ACME_HEADER_MAX ? len : ACME_HEADER_MAX,
				 "\r\n\r\n", 4);
	const char *p = data, *eol;
	long long length = -1;
	bool chunked = false;
	size_t rest;

	buf_reset(&r->body);
	if (end == NULL) {
		*error_r = "no complete HTTP header";
		return -1;
	}
	if (end - data < 12 || strncmp(data, "HTTP/1.", 7) != 0 || data[8] != ' ' ||
	    !isdigit((unsigned char)data[9]) || !isdigit((unsigned char)data[10]) ||
	    !isdigit((unsigned char)data[11])) {
		*error_r = "not an HTTP/1.x status line";
		return -1;
	}
	r->status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
	p = memmem(data, (size_t)(end + 2 - data), "\r\n", 2) + 2;
	for (; p < end + 2; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		http_header(r, p, (size_t)(eol - p), &length, &chunked);
	}
	p = end + 4;
	rest = len - (size_t)(p - data);
	if (head)
		return 1;	/* the length is of the GET's body (RFC 9110 9.3.2) */
	if (length == -2) {
		*error_r = "bad or oversized Content-Length";
		return -1;
	}
	if (chunked) {
		if (http_chunked(p, rest, &r->body) < 0) {
			*error_r = "bad or oversized chunked body";
			return -1;
		}
		return 1;
	}
	if (length >= 0 && (size_t)length < rest)
		rest = (size_t)length;
	if ((length >= 0 && (size_t)length > rest) || buf_append(&r->body, p, rest) < 0) {
		*error_r = "truncated or oversized body";
		return -1;
	}
	return 1;
}

/* ---- JSON ---- */

static json_t *json_object_load(const char *text, size_t len, char *error, size_t size)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	if (root == NULL) {
		snprintf(error, size, "not JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(error, size, "not a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* A string member into out.  1, 0 absent, -1 not a string / too long /
   (url) not https. */
static int get_string(json_t *obj, const char *key, bool url, char *out, size_t size)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	out[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= size)
		return -1;
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return -1;	/* a NUL inside */
	if (url && strncmp(s, "https://", 8) != 0)
		return -1;
	str_copy(out, s, size);
	return 1;
}

static int need_url(json_t *obj, const char *key, char *out, char *error, size_t size)
{
	if (get_string(obj, key, true, out, ACME_URL_MAX) > 0)
		return 1;
	snprintf(error, size, "\"%s\" missing or not an https URL", key);
	return -1;
}

const char *acme_status_name(enum acme_status s)
{
	static const char *names[] = { "unknown", "pending", "ready", "processing",
				       "valid", "invalid" };
	return names[s];
}

static enum acme_status get_status(json_t *obj)
{
	char text[32];

	if (get_string(obj, "status", false, text, sizeof(text)) <= 0)
		return ACME_STATUS_UNKNOWN;
	for (int i = ACME_STATUS_PENDING; i <= ACME_STATUS_INVALID; i++)
		if (strcmp(text, acme_status_name(i)) == 0)
			return i;
	/* "deactivated", "expired", "revoked": as good as invalid here */
	return ACME_STATUS_INVALID;
}

/* The "error" member (a problem document) as "type: detail". */
static void get_error(json_t *obj, char *out, size_t size)
{
	json_t *e = json_object_get(obj, "error");
	char type[128], detail[200];
	struct buf text;

	out[0] = '\0';
	if (!json_is_object(e))
		return;
	get_string(e, "type", false, type, sizeof(type));
	get_string(e, "detail", false, detail, sizeof(detail));
	buf_init(&text, 0);
	buf_printf(&text, "%s: %s", type, detail);
	str_copy(out, buf_cstr(&text), size);
	buf_deinit(&text);
}

int acme_parse_directory(const char *json, size_t len, struct acme_directory *d,
			 char *error, size_t size)
{
	json_t *root = json_object_load(json, len, error, size);
	int ret = -1;

	memset(d, 0, sizeof(*d));
	if (root != NULL && need_url(root, "newNonce", d->new_nonce, error, size) > 0 &&
	    need_url(root, "newAccount", d->new_account, error, size) > 0 &&
	    need_url(root, "newOrder", d->new_order, error, size) > 0)
		ret = 1;
	json_decref(root);
	return ret;
}

int acme_parse_order(const char *json, size_t len, struct acme_order *o,
		     char *error, size_t size)
{
	json_t *root = json_object_load(json, len, error, size), *list, *v;
	size_t i;
	int ret = -1;

	memset(o, 0, sizeof(*o));
	if (root == NULL)
		return -1;
	o->status = get_status(root);
	get_error(root, o->error, sizeof(o->error));
	list = json_object_get(root, "authorizations");
	if (o->status == ACME_STATUS_UNKNOWN)
		snprintf(error, size, "order without a status");
	else if (!json_is_array(list) || json_array_size(list) > ACME_AUTHZ_MAX)
		snprintf(error, size, "\"authorizations\" missing or too many");
	else if (need_url(root, "finalize", o->finalize, error, size) > 0 &&
		 get_string(root, "certificate", true, o->certificate, ACME_URL_MAX) >= 0) {
		ret = 1;
		json_array_foreach(list, i, v) {
			const char *s = json_string_value(v);
			if (s == NULL || strncmp(s, "https://", 8) != 0 ||
			    strlen(s) >= ACME_URL_MAX) {
				snprintf(error, size, "an authorization URL is not an https URL");
				ret = -1;
				break;
			}
			str_copy(o->authz[o->n_authz++], s, ACME_URL_MAX);
		}
	} else if (error[0] == '\0')
		snprintf(error, size, "\"certificate\" is not an https URL");
	json_decref(root);
	return ret;
}

static bool token_ok(const char *t)
{
	if (t[0] == '\0')
		return false;
	for (; *t != '\0'; t++)
		if (!isalnum((unsigned char)*t) && *t != '-' && *t != '_')
			return false;
	return true;
}

static int challenge_from(json_t *obj, struct acme_challenge *c, char *error, size_t size)
{
	memset(c, 0, sizeof(*c));
	if (get_string(obj, "type", false, c->type, sizeof(c->type)) <= 0) {
		snprintf(error, size, "challenge without a type");
		return -1;
	}
	if (need_url(obj, "url", c->url, error, size) < 0)
		return -1;
	c->status = get_status(obj);
	get_error(obj, c->error, sizeof(c->error));
	if (strcmp(c->type, "http-01") != 0 && strcmp(c->type, "tls-alpn-01") != 0)
		return 1;	/* not one we answer: the token does not matter */
	if (get_string(obj, "token", false, c->token, sizeof(c->token)) <= 0 ||
	    !token_ok(c->token)) {
		snprintf(error, size, "%s challenge without a base64url token", c->type);
		return -1;
	}
	return 1;
}

int acme_parse_challenge(const char *json, size_t len, struct acme_challenge *c,
			 char *error, size_t size)
{
	json_t *root = json_object_load(json, len, error, size);
	int ret = root != NULL ? challenge_from(root, c, error, size) : -1;

	json_decref(root);
	return ret;
}

int acme_parse_authz(const char *json, size_t len, struct acme_authz *z,
		     char *error, size_t size)
{
	json_t *root = json_object_load(json, len, error, size), *id, *list, *v;
	char type[16];
	size_t i;
	int ret = -1;

	memset(z, 0, sizeof(*z));
	if (root == NULL)
		return -1;
	z->status = get_status(root);
	id = json_object_get(root, "identifier");
	list = json_object_get(root, "challenges");
	if (!json_is_object(id) || get_string(id, "type", false, type, sizeof(type)) <= 0 ||
	    strcmp(type, "dns") != 0 ||
	    get_string(id, "value", false, z->name, sizeof(z->name)) <= 0)
		snprintf(error, size, "authorization without a dns identifier");
	else if (!json_is_array(list))
		snprintf(error, size, "authorization without challenges");
	else {
		ret = 1;
		json_array_foreach(list, i, v) {
			if (z->n_ch == ACME_CHALLENGES_MAX)
				break;	/* more than anyone offers: the rest ignored */
			if (!json_is_object(v) ||
			    challenge_from(v, &z->ch[z->n_ch], error, size) < 0) {
				if (error[0] == '\0')
					snprintf(error, size, "a challenge is not an object");
				ret = -1;
				break;
			}
			z->n_ch++;
		}
	}
	json_decref(root);
	return ret;
}

void acme_parse_problem(const char *json, size_t len, char *out, size_t size)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	char type[128], detail[256];
	size_t n = 0;

	if (json_is_object(root) &&
	    get_string(root, "detail", false, detail, sizeof(detail)) > 0) {
		struct buf text;
		get_string(root, "type", false, type, sizeof(type));
		buf_init(&text, 0);
		buf_printf(&text, "%s: %s", type, detail);
		str_copy(out, buf_cstr(&text), size);
		buf_deinit(&text);
		json_decref(root);
		return;
	}
	json_decref(root);
	for (size_t i = 0; i < len && n + 1 < size && n < 200; i++)
		out[n++] = json[i] >= 0x20 && json[i] < 0x7f ? json[i] : '.';
	out[n] = '\0';
}
