/*
 * jmap_email.c - Email/get, Email/query, Email/set and Email/changes
 * (RFC 8621 §4) over the store, with the project's MIME parser for
 * headers, body structure and body values.  An Email is one message of
 * one folder (mailboxIds has exactly one id); each is its own thread.
 *
 * Limits: a message is read whole into memory up to MAX_MESSAGE bytes
 * (larger ones show their index facts only); body values are cut at
 * maxBodyValueBytes (default MAX_BODY_VALUE); the preview is 256
 * characters.
 */
#include "jmap_private.h"
#include "jmap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mime/mime.h"

#define MAX_MESSAGE (64u * 1024 * 1024)
#define MAX_BODY_VALUE (1u * 1024 * 1024)
#define MAX_PARTS_LIST 200
#define PREVIEW_CHARS 256
#define QUERY_LIMIT 5000		/* ids in one Email/query answer, at most */

/* One located message. */
struct email_ref {
	struct jmap_folder *f;
	struct store_msg m;
};

/* ---- ids ---- */

void jmap_email_id(uint32_t uidvalidity, uint32_t uid, char out[20])
{
	snprintf(out, 20, "m%08x%08x", uidvalidity, uid);
}

int jmap_email_id_parse(const char *id, char prefix, uint32_t *uv_r, uint32_t *uid_r)
{
	unsigned long long v = 0;

	if (id == NULL || id[0] != prefix || strlen(id) != 17)
		return -1;
	for (int i = 1; i < 17; i++) {
		char c = id[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*uv_r = (uint32_t)(v >> 32);
	*uid_r = (uint32_t)v;
	return 1;
}

static struct jmap_folder *folder_by_uv(struct jmap_account *a, uint32_t uv)
{
	for (unsigned i = 0; i < a->n_folders; i++)
		if (a->folders[i].st.uidvalidity == uv)
			return &a->folders[i];
	return NULL;
}

/* 1 found, 0 no such email. */
static int email_find(struct jmap_account *a, const char *id, struct email_ref *r)
{
	uint32_t uv, uid;

	if (jmap_email_id_parse(id, 'm', &uv, &uid) < 0 ||
	    (r->f = folder_by_uv(a, uv)) == NULL)
		return 0;
	return store_mailbox_lookup(r->f->h, uid, &r->m) > 0;
}

int jmap_email_read(struct jmap_account *a, uint32_t uv, uint32_t uid, struct buf *out)
{
	struct jmap_folder *f = folder_by_uv(a, uv);
	struct store_error err;
	struct store_msg m;
	int fd, ret;
	char chunk[65536];
	ssize_t n;

	if (f == NULL)
		return 0;
	ret = store_mailbox_open_msg(f->h, uid, &fd, &m, &err);
	if (ret <= 0)
		return ret;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			return -1;
		}
	close(fd);
	return n < 0 ? -1 : 1;
}

/* ---- keywords ---- */

static const struct { uint8_t flag; const char *name; } system_keywords[] = {
	{ STORE_FLAG_SEEN, "$seen" }, { STORE_FLAG_ANSWERED, "$answered" },
	{ STORE_FLAG_FLAGGED, "$flagged" }, { STORE_FLAG_DRAFT, "$draft" },
};

static json_t *keywords_object(struct jmap_folder *f, const struct store_msg *m)
{
	json_t *k = json_object();
	char lower[256];

	for (size_t i = 0; i < sizeof(system_keywords) / sizeof(system_keywords[0]); i++)
		if (m->flags & system_keywords[i].flag)
			json_object_set_new(k, system_keywords[i].name, json_true());
	for (unsigned i = 0; i < store_mailbox_keyword_count(f->h) && i < 32; i++) {
		const char *name = store_mailbox_keyword_name(f->h, i);
		if (name == NULL || !(m->keywords & (1u << i)))
			continue;
		str_copy(lower, name, sizeof(lower));
		str_lower(lower);
		json_object_set_new(k, lower, json_true());
	}
	return k;
}

static uint8_t system_flag(const char *keyword)
{
	for (size_t i = 0; i < sizeof(system_keywords) / sizeof(system_keywords[0]); i++)
		if (strcasecmp(keyword, system_keywords[i].name) == 0)
			return system_keywords[i].flag;
	return 0;
}

/* ---- dates and headers ---- */

static json_t *utc_date(time_t t)
{
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(s);
}

static json_t *sent_at(const struct mime_message *msg)
{
	struct buf v;
	time_t t;
	long off;
	json_t *r = json_null();

	buf_init(&v, 4096);
	if (mime_header_get(msg, mime_message_root(msg), "Date", &v) > 0 &&
	    jmap_parse_date(buf_cstr(&v), &t, &off) > 0) {
		struct tm tm;
		char s[40];
		time_t local = t + off;
		gmtime_r(&local, &tm);
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(s + strlen(s), sizeof(s) - strlen(s), "%c%02ld:%02ld",
			 off < 0 ? '-' : '+', labs(off) / 3600, labs(off) % 3600 / 60);
		json_decref(r);
		r = json_string(s);
	}
	buf_deinit(&v);
	return r;
}

static json_t *header_text(const struct mime_message *msg, const char *name)
{
	struct buf v;
	json_t *r;

	buf_init(&v, 65536);
	if (mime_header_get_decoded(msg, mime_message_root(msg), name, &v) <= 0) {
		buf_deinit(&v);
		return json_null();
	}
	r = jmap_utf8_string(v.data != NULL ? v.data : "", v.len);
	buf_deinit(&v);
	return r;
}

static json_t *header_addresses(const struct mime_message *msg, const char *field)
{
	struct buf raw, text;
	json_t *r = json_null();

	buf_init(&raw, 65536);
	buf_init(&text, 65536);
	if (mime_header_get(msg, mime_message_root(msg), field, &raw) > 0 &&
	    mime_address_text(raw.data != NULL ? raw.data : "", raw.len, &text) > 0) {
		json_decref(r);
		r = jmap_parse_addresses(text.data != NULL ? text.data : "", text.len);
	}
	buf_deinit(&raw);
	buf_deinit(&text);
	return r;
}

/* Message-ID, In-Reply-To, References: the ids without < >. */
static json_t *header_msgids(const struct mime_message *msg, const char *field)
{
	struct buf v;
	json_t *r = json_null();

	buf_init(&v, 65536);
	if (mime_header_get(msg, mime_message_root(msg), field, &v) > 0) {
		const char *p = buf_cstr(&v), *lt, *gt;
		json_decref(r);
		r = json_array();
		while ((lt = strchr(p, '<')) != NULL && (gt = strchr(lt, '>')) != NULL) {
			json_array_append_new(r, jmap_utf8_string(lt + 1, (size_t)(gt - lt - 1)));
			p = gt + 1;
		}
		if (json_array_size(r) == 0) {
			json_decref(r);
			r = json_null();
		}
	}
	buf_deinit(&v);
	return r;
}

/* ---- body structure (RFC 8621 §4.1.4) ---- */

struct part_list {
	const struct mime_part *p[MAX_PARTS_LIST];
	unsigned n;
};

static void list_add(struct part_list *l, const struct mime_part *p)
{
	if (l != NULL && l->n < MAX_PARTS_LIST)
		l->p[l->n++] = p;
}

static bool is_type(const struct mime_part *p, const char *type, const char *subtype)
{
	return strcasecmp(p->type, type) == 0 &&
		(subtype == NULL || strcasecmp(p->subtype, subtype) == 0);
}

static bool is_media(const struct mime_part *p)
{
	return is_type(p, "IMAGE", NULL) || is_type(p, "AUDIO", NULL) || is_type(p, "VIDEO", NULL);
}

static bool has_name(const struct mime_part *p)
{
	return mime_param_find_disp(p, "filename") != NULL || mime_param_find(p, "name") != NULL;
}

/* The RFC's parseStructure: sorts the leaves into text, html and
   attachments.  text/html NULL: that list is off in this branch. */
static void parse_structure(const struct mime_part *first, const char *multi, bool in_alt,
			    struct part_list *text, struct part_list *html,
			    struct part_list *att)
{
	unsigned text_len = text != NULL ? text->n : 0, html_len = html != NULL ? html->n : 0;
	bool alt = strcasecmp(multi, "ALTERNATIVE") == 0;
	unsigned i = 0;

	for (const struct mime_part *p = first; p != NULL; p = p->next, i++) {
		bool inline_ = !(p->disposition != NULL &&
				 strcasecmp(p->disposition, "ATTACHMENT") == 0) &&
			(is_type(p, "TEXT", "PLAIN") || is_type(p, "TEXT", "HTML") || is_media(p)) &&
			(i == 0 || (strcasecmp(multi, "RELATED") != 0 &&
				    (is_media(p) || !has_name(p))));
		struct part_list *t = text, *h = html;

		if ((p->flags & MIME_PART_MULTIPART) && p->children != NULL) {
			parse_structure(p->children, p->subtype,
					in_alt || strcasecmp(p->subtype, "ALTERNATIVE") == 0,
					text, html, att);
			continue;
		}
		if (!inline_) {
			list_add(att, p);
			continue;
		}
		if (alt) {
			if (is_type(p, "TEXT", "PLAIN"))
				list_add(text, p);
			else if (is_type(p, "TEXT", "HTML"))
				list_add(html, p);
			else
				list_add(att, p);
			continue;
		}
		if (in_alt) {
			if (is_type(p, "TEXT", "PLAIN"))
				h = NULL;
			if (is_type(p, "TEXT", "HTML"))
				t = NULL;
		}
		list_add(t, p);
		list_add(h, p);
		if ((t == NULL || h == NULL) && is_media(p))
			list_add(att, p);
	}
	if (alt && text != NULL && html != NULL) {
		if (text_len == text->n && html_len != html->n)
			for (unsigned k = html_len; k < html->n; k++)
				list_add(text, html->p[k]);
		if (html_len == html->n && text_len != text->n)
			for (unsigned k = text_len; k < text->n; k++)
				list_add(html, text->p[k]);
	}
}

/* partId: the IMAP section ("1.2"); "1" for a single-part message. */
static void part_id(const struct mime_part *p, char *out, size_t size)
{
	struct buf b;

	buf_init(&b, 256);
	mime_section_path(p, &b);
	str_copy(out, b.len > 0 ? buf_cstr(&b) : "1", size);
	buf_deinit(&b);
}

static json_t *body_part(const struct mime_message *msg, const struct mime_part *p,
			 const char *email_digits, bool sub)
{
	char pid[128], blob[200], type[128];
	const struct mime_param *cs = mime_param_find(p, "charset");
	const struct mime_param *fn = mime_param_find_disp(p, "filename");
	struct buf name;
	json_t *o;
	uint64_t size = p->body_size;

	if (fn == NULL)
		fn = mime_param_find(p, "name");
	snprintf(type, sizeof(type), "%s/%s", p->type, p->subtype);
	str_lower(type);
	o = json_pack("{s:s,s:I}", "type", type, "size", (json_int_t)size);
	if ((p->flags & MIME_PART_MULTIPART) && p->children != NULL) {
		json_t *subs = json_array();
		json_object_set_new(o, "partId", json_null());
		json_object_set_new(o, "blobId", json_null());
		for (const struct mime_part *c = p->children; c != NULL && sub; c = c->next)
			json_array_append_new(subs, body_part(msg, c, email_digits, true));
		json_object_set_new(o, "subParts", subs);
		return o;
	}
	part_id(p, pid, sizeof(pid));
	mime_text_binary_size(msg, p, &size);
	json_object_set_new(o, "size", json_integer((json_int_t)size));
	json_object_set_new(o, "partId", json_string(pid));
	snprintf(blob, sizeof(blob), "p%s-%s", email_digits, pid);
	for (char *c = blob; *c != '\0'; c++)
		if (*c == '.')
			*c = '_';
	json_object_set_new(o, "blobId", json_string(blob));
	buf_init(&name, 4096);
	json_object_set_new(o, "name", fn != NULL && mime_param_decode(fn, &name) > 0 ?
			    jmap_utf8_string(name.data != NULL ? name.data : "", name.len) : json_null());
	buf_deinit(&name);
	json_object_set_new(o, "charset", cs != NULL ? json_string(cs->value) :
			    is_type(p, "TEXT", NULL) ? json_string("us-ascii") : json_null());
	json_object_set_new(o, "disposition", p->disposition != NULL ?
			    json_string(strcasecmp(p->disposition, "ATTACHMENT") == 0 ?
					"attachment" : "inline") : json_null());
	json_object_set_new(o, "cid", p->id != NULL ? jmap_utf8_string(p->id, strlen(p->id)) :
			    json_null());
	return o;
}

static json_t *part_array(const struct mime_message *msg, const struct part_list *l,
			  const char *digits)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < l->n; i++)
		json_array_append_new(a, body_part(msg, l->p[i], digits, false));
	return a;
}

/* The decoded text of a part, cut at max bytes. */
static json_t *body_value(const struct mime_message *msg, const struct mime_part *p,
			  size_t max)
{
	struct buf b;
	int ret;
	json_t *r;

	buf_init(&b, max);
	ret = mime_text_decode(msg, p, &b);
	/* do not cut a UTF-8 sequence in two */
	if (ret == 0 && b.len > 0) {
		size_t lead = b.len - 1;
		unsigned char c;
		while (lead > 0 && b.len - lead < 4 && ((unsigned char)b.data[lead] & 0xc0) == 0x80)
			lead--;
		c = (unsigned char)b.data[lead];
		if (c >= 0xc0 && b.len - lead < (c >= 0xf0 ? 4u : c >= 0xe0 ? 3u : 2u))
			b.len = lead;
	}
	r = json_pack("{s:o,s:b,s:b}", "value", jmap_utf8_string(b.data != NULL ? b.data : "", b.len),
		      "isEncodingProblem", 0, "isTruncated", ret == 0);
	buf_deinit(&b);
	return r;
}

static json_t *preview(const struct mime_message *msg, const struct part_list *text)
{
	struct buf b, out;
	json_t *r;
	unsigned chars = 0;
	bool space = false;

	if (text->n == 0 || !is_type(text->p[0], "TEXT", "PLAIN"))
		return json_string("");
	buf_init(&b, 16384);
	buf_init(&out, 2048);
	mime_text_decode(msg, text->p[0], &b);
	for (size_t i = 0; i < b.len && chars < PREVIEW_CHARS; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = out.len > 0;
			continue;
		}
		if (space)
			buf_putc(&out, ' ');
		space = false;
		buf_putc(&out, (char)c);
		if ((c & 0xc0) != 0x80)
			chars++;
	}
	r = jmap_utf8_string(out.data != NULL ? out.data : "", out.len);
	buf_deinit(&b);
	buf_deinit(&out);
	return r;
}

/* ---- Email/get ---- */

struct get_opts {
	json_t *props;		/* array or NULL: the defaults */
	bool fetch_text, fetch_html, fetch_all;
	size_t max_value;
};

/* Every property Email/get knows: the defaults, then the others. */
static const char *const email_props[] = {
	"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
	"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
	"replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues",
	"textBody", "htmlBody", "attachments", "bodyStructure", NULL,
};

static bool known_prop(const char *prop)
{
	for (int i = 0; email_props[i] != NULL; i++)
		if (strcmp(email_props[i], prop) == 0)
			return true;
	return false;
}

static bool want(const struct get_opts *o, const char *prop)
{
	static const char *const defaults[] = {
		"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
		"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
		"replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues",
		"textBody", "htmlBody", "attachments", NULL,
	};
	json_t *v;
	size_t i;

	if (o->props == NULL) {
		for (i = 0; defaults[i] != NULL; i++)
			if (strcmp(defaults[i], prop) == 0)
				return true;
		return false;
	}
	json_array_foreach(o->props, i, v)
		if (strcmp(json_string_value(v), prop) == 0)
			return true;
	return strcmp(prop, "id") == 0;
}

static bool needs_text(const struct get_opts *o)
{
	static const char *const props[] = {
		"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
		"replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues",
		"textBody", "htmlBody", "attachments", "bodyStructure", NULL,
	};
	for (int i = 0; props[i] != NULL; i++)
		if (want(o, props[i]))
			return true;
	return false;
}

static void set_body_values(json_t *o, const struct get_opts *opt,
			    const struct mime_message *msg, const struct part_list *text,
			    const struct part_list *html)
{
	json_t *values = json_object();
	const struct part_list *lists[2] = { text, html };
	bool on[2] = { opt->fetch_text || opt->fetch_all, opt->fetch_html || opt->fetch_all };
	char pid[128];

	for (int l = 0; l < 2; l++)
		for (unsigned i = 0; on[l] && i < lists[l]->n; i++) {
			const struct mime_part *p = lists[l]->p[i];
			if (!is_type(p, "TEXT", NULL))
				continue;
			part_id(p, pid, sizeof(pid));
			if (json_object_get(values, pid) == NULL)
				json_object_set_new(values, pid, body_value(msg, p, opt->max_value));
		}
	json_object_set_new(o, "bodyValues", values);
}

static void add_parsed(json_t *o, const struct get_opts *opt, const struct mime_message *msg,
		       const char *digits)
{
	static const struct { const char *prop, *field; char kind; } headers[] = {
		{ "messageId", "Message-ID", 'i' }, { "inReplyTo", "In-Reply-To", 'i' },
		{ "references", "References", 'i' }, { "sender", "Sender", 'a' },
		{ "from", "From", 'a' }, { "to", "To", 'a' }, { "cc", "Cc", 'a' },
		{ "bcc", "Bcc", 'a' }, { "replyTo", "Reply-To", 'a' },
		{ "subject", "Subject", 's' },
	};
	struct part_list *text = calloc(3, sizeof(*text)), *html = text + 1, *att = text + 2;
	const struct mime_part *root = mime_message_root(msg);

	if (text == NULL)
		abort();
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		if (!want(opt, headers[i].prop))
			continue;
		json_object_set_new(o, headers[i].prop,
				    headers[i].kind == 'a' ? header_addresses(msg, headers[i].field) :
				    headers[i].kind == 'i' ? header_msgids(msg, headers[i].field) :
				    header_text(msg, headers[i].field));
	}
	if (want(opt, "sentAt"))
		json_object_set_new(o, "sentAt", sent_at(msg));
	parse_structure(root, "MIXED", false, text, html, att);
	if (want(opt, "bodyStructure"))
		json_object_set_new(o, "bodyStructure", body_part(msg, root, digits, true));
	if (want(opt, "textBody"))
		json_object_set_new(o, "textBody", part_array(msg, text, digits));
	if (want(opt, "htmlBody"))
		json_object_set_new(o, "htmlBody", part_array(msg, html, digits));
	if (want(opt, "attachments"))
		json_object_set_new(o, "attachments", part_array(msg, att, digits));
	if (want(opt, "hasAttachment"))
		json_object_set_new(o, "hasAttachment", json_boolean(att->n > 0));
	if (want(opt, "preview"))
		json_object_set_new(o, "preview", preview(msg, text));
	if (want(opt, "bodyValues"))
		set_body_values(o, opt, msg, text, html);
	free(text);
}

static json_t *email_object(struct jmap_account *a, const struct email_ref *r,
			    const struct get_opts *opt)
{
	char id[20];
	json_t *o = json_object();
	uint32_t uv = r->f->st.uidvalidity;

	jmap_email_id(uv, r->m.uid, id);
	json_object_set_new(o, "id", json_string(id));
	if (want(opt, "blobId")) {
		id[0] = 'b';
		json_object_set_new(o, "blobId", json_string(id));
	}
	if (want(opt, "threadId")) {
		id[0] = 't';
		json_object_set_new(o, "threadId", json_string(id));
	}
	if (want(opt, "mailboxIds"))
		json_object_set_new(o, "mailboxIds", json_pack("{s:b}", r->f->id, 1));
	if (want(opt, "keywords"))
		json_object_set_new(o, "keywords", keywords_object(r->f, &r->m));
	if (want(opt, "size"))
		json_object_set_new(o, "size", json_integer((json_int_t)r->m.vsize));
	if (want(opt, "receivedAt"))
		json_object_set_new(o, "receivedAt", utc_date(r->m.internal_date));
	if (needs_text(opt) && r->m.size <= MAX_MESSAGE) {
		struct buf text;
		buf_init(&text, MAX_MESSAGE);
		if (jmap_email_read(a, uv, r->m.uid, &text) > 0) {
			struct mime_message *msg = mime_message_parse(text.data != NULL ?
				text.data : "", text.len, NULL);
			add_parsed(o, opt, msg, id + 1);
			mime_message_free(&msg);
		}
		buf_deinit(&text);
	}
	return o;
}

static int get_options(struct jmap_call *call, struct get_opts *o)
{
	json_t *props = json_object_get(call->args, "properties"), *v;
	json_t *maxv = json_object_get(call->args, "maxBodyValueBytes");
	size_t i;

	memset(o, 0, sizeof(*o));
	if (props != NULL && !json_is_null(props)) {
		if (!json_is_array(props))
			return -1;
		/* RFC 8620 §5.1: an unknown property is an error
		   (header:*:as... forms are not served yet) */
		json_array_foreach(props, i, v)
			if (!json_is_string(v) || !known_prop(json_string_value(v)))
				return -1;
		o->props = props;
	}
	o->fetch_text = json_is_true(json_object_get(call->args, "fetchTextBodyValues"));
	o->fetch_html = json_is_true(json_object_get(call->args, "fetchHTMLBodyValues"));
	o->fetch_all = json_is_true(json_object_get(call->args, "fetchAllBodyValues"));
	o->max_value = MAX_BODY_VALUE;
	if (maxv != NULL && !json_is_null(maxv)) {
		if (!json_is_integer(maxv) || json_integer_value(maxv) <= 0)
			return -1;
		if ((uint64_t)json_integer_value(maxv) < MAX_BODY_VALUE)
			o->max_value = (size_t)json_integer_value(maxv);
	}
	return 1;
}

/* Email/get with ids null: every email of the account. */
static int get_all(struct jmap_call *call, struct jmap_account *a, const struct get_opts *opt)
{
	json_t *list = json_array();
	struct email_ref r;
	char state[24];

	for (unsigned k = 0; k < a->n_folders; k++) {
		r.f = &a->folders[k];
		for (unsigned i = 0; i < store_mailbox_count(r.f->h); i++) {
			store_mailbox_get(r.f->h, i, &r.m);
			json_array_append_new(list, email_object(a, &r, opt));
		}
	}
	jmap_account_state(a, state);
	call->result = json_pack("{s:s,s:s,s:o,s:[]}", "accountId", a->id, "state", state,
				 "list", list, "notFound");
	return 1;
}

int jmap_email_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "ids"), *list, *notfound, *v;
	struct get_opts opt;
	struct email_ref r;
	char state[24];
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (get_options(call, &opt) < 0 || (ids != NULL && !json_is_null(ids) &&
					    !json_is_array(ids)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (!json_is_array(ids)) {
		unsigned total = 0;
		for (unsigned k = 0; k < a->n_folders; k++)
			total += store_mailbox_count(a->folders[k].h);
		if (total > call->limits->max_objects_get)
			return jmap_call_error(call, "requestTooLarge", NULL);
		return get_all(call, a, &opt);
	}
	if (json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v) {
		if (json_is_string(v) && email_find(a, json_string_value(v), &r) > 0)
			json_array_append_new(list, email_object(a, &r, &opt));
		else
			json_array_append(notfound, v);
	}
	jmap_account_state(a, state);
	call->result = json_pack("{s:s,s:s,s:o,s:o}", "accountId", a->id, "state", state,
				 "list", list, "notFound", notfound);
	return 1;
}

/* ---- Email/query ---- */

struct candidate {
	struct jmap_folder *f;
	struct store_msg m;
	struct mime_message *msg;	/* parsed on demand */
	struct buf text;
	bool loaded;
};

static const struct mime_message *cand_msg(struct jmap_account *a, struct candidate *c)
{
	if (!c->loaded) {
		c->loaded = true;
		buf_init(&c->text, MAX_MESSAGE);
		if (c->m.size <= MAX_MESSAGE &&
		    jmap_email_read(a, c->f->st.uidvalidity, c->m.uid, &c->text) > 0)
			c->msg = mime_message_parse(c->text.data != NULL ? c->text.data : "",
						    c->text.len, NULL);
	}
	return c->msg;
}

static void cand_release(struct candidate *c)
{
	if (c->loaded) {
		mime_message_free(&c->msg);
		buf_deinit(&c->text);
		c->loaded = false;
	}
}

struct text_search {
	const char *needle;
	unsigned what;		/* MIME_WALK_* */
	const char *field;	/* only this header field, or NULL */
	bool found;
};

static int text_cb(void *ctx, const struct mime_text *t)
{
	struct text_search *s = ctx;

	if (t->kind == MIME_TEXT_HEADER && s->field != NULL &&
	    (t->name_len != strlen(s->field) || strncasecmp(t->name, s->field, t->name_len) != 0))
		return 1;
	if (strcasestr(t->text, s->needle) != NULL) {
		s->found = true;
		return 0;
	}
	return 1;
}

static bool text_match(struct jmap_account *a, struct candidate *c, const char *needle,
		       unsigned what, const char *field)
{
	const struct mime_message *msg = cand_msg(a, c);
	struct text_search s = { needle, what, field, false };

	if (msg == NULL)
		return false;
	mime_text_walk(msg, what, 1024 * 1024, text_cb, &s);
	return s.found;
}

static bool has_keyword(struct candidate *c, const char *kw)
{
	uint8_t flag = system_flag(kw);
	unsigned idx;

	if (flag != 0)
		return (c->m.flags & flag) != 0;
	return store_mailbox_keyword(c->f->h, kw, false, &idx, NULL) > 0 && idx < 32 &&
		(c->m.keywords & (1u << idx)) != 0;
}

static int parse_utc(const char *s, time_t *t_r)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    strcmp(end, "Z") != 0)
		return -1;
	*t_r = timegm(&tm);
	return 1;
}

/* 1 match, 0 no, -1 unsupported filter (unknown property or bad value). */
static int filter_match(struct jmap_account *a, struct candidate *c, json_t *flt,
			unsigned depth);

static int operator_match(struct jmap_account *a, struct candidate *c, const char *op,
			  json_t *conds, unsigned depth)
{
	json_t *v;
	size_t i;
	int any = 0, all = 1, r;

	if (!json_is_array(conds))
		return -1;
	json_array_foreach(conds, i, v) {
		if ((r = filter_match(a, c, v, depth + 1)) < 0)
			return -1;
		any |= r;
		all &= r;
	}
	if (strcmp(op, "AND") == 0)
		return all;
	if (strcmp(op, "OR") == 0)
		return any;
	if (strcmp(op, "NOT") == 0)
		return !any;
	return -1;
}

static int condition_match(struct jmap_account *a, struct candidate *c, const char *key,
			   json_t *v)
{
	static const struct { const char *key, *field; unsigned what; } texts[] = {
		{ "text", NULL, MIME_WALK_HEADERS | MIME_WALK_BODIES },
		{ "from", "From", MIME_WALK_HEADERS }, { "to", "To", MIME_WALK_HEADERS },
		{ "cc", "Cc", MIME_WALK_HEADERS }, { "bcc", "Bcc", MIME_WALK_HEADERS },
		{ "subject", "Subject", MIME_WALK_HEADERS }, { "body", NULL, MIME_WALK_BODIES },
	};
	const char *s = json_string_value(v);
	time_t t;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strcmp(key, texts[i].key) == 0)
			return s == NULL ? -1 : text_match(a, c, s, texts[i].what, texts[i].field);
	if (strcmp(key, "inMailbox") == 0)
		return s == NULL ? -1 : strcmp(c->f->id, s) == 0;
	if (strcmp(key, "before") == 0 || strcmp(key, "after") == 0) {
		if (parse_utc(s, &t) < 0)
			return -1;
		return key[0] == 'b' ? c->m.internal_date < t : c->m.internal_date >= t;
	}
	if (strcmp(key, "minSize") == 0 || strcmp(key, "maxSize") == 0) {
		if (!json_is_integer(v))
			return -1;
		return key[1] == 'i' ? c->m.vsize >= (uint64_t)json_integer_value(v) :
			c->m.vsize < (uint64_t)json_integer_value(v);
	}
	if (strcmp(key, "hasKeyword") == 0 || strcmp(key, "notKeyword") == 0) {
		if (s == NULL)
			return -1;
		return has_keyword(c, s) == (key[0] == 'h');
	}
	if (strcmp(key, "inMailboxOtherThan") == 0) {
		json_t *id;
		size_t i;
		if (!json_is_array(v))
			return -1;
		json_array_foreach(v, i, id)
			if (json_is_string(id) && strcmp(json_string_value(id), c->f->id) == 0)
				return 0;
		return 1;
	}
	return -1;
}

static int filter_match(struct jmap_account *a, struct candidate *c, json_t *flt,
			unsigned depth)
{
	const char *key;
	json_t *v, *op = json_object_get(flt, "operator");
	int r;

	if (!json_is_object(flt) || depth > 10)
		return -1;
	if (op != NULL)
		return json_is_string(op) ? operator_match(a, c, json_string_value(op),
				json_object_get(flt, "conditions"), depth) : -1;
	json_object_foreach(flt, key, v)
		if ((r = condition_match(a, c, key, v)) <= 0)
			return r;
	return 1;
}

static int cmp_received_desc(const void *x, const void *y)
{
	const struct candidate *a = x, *b = y;

	if (a->m.internal_date != b->m.internal_date)
		return a->m.internal_date > b->m.internal_date ? -1 : 1;
	if (a->f->st.uidvalidity != b->f->st.uidvalidity)
		return a->f->st.uidvalidity > b->f->st.uidvalidity ? -1 : 1;
	return a->m.uid > b->m.uid ? -1 : a->m.uid < b->m.uid;
}

static int cmp_size_desc(const void *x, const void *y)
{
	const struct candidate *a = x, *b = y;

	if (a->m.vsize != b->m.vsize)
		return a->m.vsize > b->m.vsize ? -1 : 1;
	return cmp_received_desc(x, y);
}

/* sort: [{property: receivedAt|size, isAscending?}] at most one; the
   comparator and whether to reverse.  -1 unsupported. */
static int sort_order(json_t *sort, int (**cmp_r)(const void *, const void *), bool *asc_r)
{
	json_t *c;
	const char *prop;

	*cmp_r = cmp_received_desc;
	*asc_r = false;
	if (sort == NULL || json_is_null(sort) || (json_is_array(sort) && json_array_size(sort) == 0))
		return 1;
	if (!json_is_array(sort) || json_array_size(sort) > 1)
		return -1;
	c = json_array_get(sort, 0);
	prop = json_string_value(json_object_get(c, "property"));
	if (prop == NULL)
		return -1;
	if (strcmp(prop, "size") == 0)
		*cmp_r = cmp_size_desc;
	else if (strcmp(prop, "receivedAt") != 0)
		return -1;
	*asc_r = json_is_true(json_object_get(c, "isAscending"));
	return 1;
}

/* The index of the email with id in the sorted results, or -1. */
static json_int_t anchor_index(const struct candidate *cands, unsigned n, bool asc,
			       const char *anchor)
{
	char id[20];

	for (unsigned i = 0; i < n; i++) {
		const struct candidate *c = &cands[asc ? n - 1 - i : i];
		jmap_email_id(c->f->st.uidvalidity, c->m.uid, id);
		if (strcmp(id, anchor) == 0)
			return (json_int_t)i;
	}
	return -1;
}

/* position/anchor and limit (RFC 8620 §5.5); 1, or -1 (anchorNotFound). */
static int query_result(struct jmap_call *call, struct jmap_account *a,
			struct candidate *cands, unsigned n, bool asc)
{
	json_t *pos = json_object_get(call->args, "position");
	json_t *lim = json_object_get(call->args, "limit");
	json_t *offset = json_object_get(call->args, "anchorOffset");
	const char *anchor = json_string_value(json_object_get(call->args, "anchor"));
	json_int_t position = json_is_integer(pos) ? json_integer_value(pos) : 0;
	json_int_t limit = json_is_integer(lim) ? json_integer_value(lim) : QUERY_LIMIT;
	json_t *ids;
	char id[20], state[24];

	if (limit > QUERY_LIMIT)
		limit = QUERY_LIMIT;
	if (anchor != NULL) {
		if ((position = anchor_index(cands, n, asc, anchor)) < 0)
			return jmap_call_error(call, "anchorNotFound", NULL);
		position += json_is_integer(offset) ? json_integer_value(offset) : 0;
		if (position < 0)
			position = 0;
	}
	if (position < 0)
		position = position + (json_int_t)n < 0 ? 0 : position + (json_int_t)n;
	if (position > (json_int_t)n)
		position = (json_int_t)n;
	ids = json_array();
	for (json_int_t i = position; i < (json_int_t)n && i - position < limit; i++) {
		const struct candidate *c = &cands[asc ? n - 1 - (unsigned)i : (unsigned)i];
		jmap_email_id(c->f->st.uidvalidity, c->m.uid, id);
		json_array_append_new(ids, json_string(id));
	}
	jmap_account_state(a, state);
	call->result = json_pack("{s:s,s:s,s:b,s:I,s:o}", "accountId", a->id,
				 "queryState", state, "canCalculateChanges", 0,
				 "position", position, "ids", ids);
	if (json_is_true(json_object_get(call->args, "calculateTotal")))
		json_object_set_new(call->result, "total", json_integer((json_int_t)n));
	if (json_is_integer(lim) || (json_int_t)n - position > limit)
		json_object_set_new(call->result, "limit", json_integer(limit));
	return 1;
}

int jmap_email_query(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *filter = json_object_get(call->args, "filter");
	json_t *pos = json_object_get(call->args, "position");
	json_t *lim = json_object_get(call->args, "limit");
	int (*cmp)(const void *, const void *);
	struct candidate *cands;
	unsigned n = 0, total = 0;
	bool asc;
	int ret;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if ((pos != NULL && !json_is_null(pos) && !json_is_integer(pos)) ||
	    (lim != NULL && !json_is_null(lim) &&
	     (!json_is_integer(lim) || json_integer_value(lim) < 0)) ||
	    (json_object_get(call->args, "anchor") != NULL &&
	     !json_is_null(json_object_get(call->args, "anchor")) &&
	     !json_is_string(json_object_get(call->args, "anchor"))))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (sort_order(json_object_get(call->args, "sort"), &cmp, &asc) < 0)
		return jmap_call_error(call, "unsupportedSort", NULL);
	for (unsigned i = 0; i < a->n_folders; i++)
		total += store_mailbox_count(a->folders[i].h);
	cands = calloc(total + 1, sizeof(*cands));
	if (cands == NULL)
		abort();
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct candidate *c = &cands[n];
			int r = 1;
			c->f = f;
			store_mailbox_get(f->h, k, &c->m);
			if (filter != NULL && !json_is_null(filter))
				r = filter_match(a, c, filter, 0);
			cand_release(c);
			if (r < 0) {
				free(cands);
				return jmap_call_error(call, "unsupportedFilter", NULL);
			}
			n += r > 0;
		}
	}
	qsort(cands, n, sizeof(*cands), cmp);
	ret = query_result(call, a, cands, n, asc);
	free(cands);
	return ret;
}

/* ---- Email/set ---- */

static json_t *set_error(const char *type, const char *desc)
{
	json_t *e = json_pack("{s:s}", "type", type);

	if (desc != NULL)
		json_object_set_new(e, "description", json_string(desc));
	return e;
}

/* Apply keyword changes: patch is the whole "keywords" object or the
   "keywords/<k>" entries.  Returns NULL or a SetError. */
static json_t *update_keywords(struct email_ref *r, json_t *patch)
{
	json_t *full = json_object_get(patch, "keywords"), *v;
	const char *key;
	uint8_t add = 0, del = 0;
	uint32_t kadd = 0, kdel = 0;
	struct store_error err;
	unsigned idx;

	if (full != NULL) {
		if (!json_is_object(full))
			return set_error("invalidProperties", "keywords");
		del = STORE_FLAGS_SYSTEM & ~STORE_FLAG_DELETED;
		kdel = 0xffffffffu;
	}
	json_object_foreach(full != NULL ? full : patch, key, v) {
		const char *kw = key;
		bool on;
		if (full == NULL) {
			if (strncmp(key, "keywords/", 9) != 0)
				continue;
			kw = key + 9;
			if (!json_is_true(v) && !json_is_null(v))
				return set_error("invalidProperties", "keywords");
			on = json_is_true(v);
		} else {
			if (!json_is_true(v))
				return set_error("invalidProperties", "keywords");
			on = true;
		}
		if (system_flag(kw) != 0) {
			uint8_t f = system_flag(kw);
			if (on) {
				add |= f;
				del &= (uint8_t)~f;
			} else {
				del |= f;
			}
			continue;
		}
		if (kw[0] == '\0' || strlen(kw) > 255 || strpbrk(kw, "()[]{}%*\"\\ ") != NULL)
			return set_error("invalidProperties", "keywords");
		if (store_mailbox_keyword(r->f->h, kw, on, &idx, &err) < 0)
			return set_error("invalidProperties", err.text);
		if (idx >= 32)
			continue;
		if (on) {
			kadd |= 1u << idx;
			kdel &= ~(1u << idx);
		} else {
			kdel |= 1u << idx;
		}
	}
	if (((del || kdel) && store_mailbox_set_flags(r->f->h, &r->m.uid, 1, STORE_FLAGS_REMOVE,
						       del, kdel, 0, NULL, &err) < 0) ||
	    ((add || kadd) && store_mailbox_set_flags(r->f->h, &r->m.uid, 1, STORE_FLAGS_ADD,
						       add, kadd, 0, NULL, &err) < 0))
		return set_error("serverFail", err.text);
	return NULL;
}

/* mailboxIds: the one mailbox the email ends up in, moved there. */
static json_t *update_mailbox(struct jmap_account *a, struct email_ref *r, json_t *patch)
{
	json_t *full = json_object_get(patch, "mailboxIds"), *set = json_object(), *v;
	const char *key, *dest_id;
	struct jmap_folder *dest;
	struct store_error err;
	uint32_t new_uid = 0, uv;

	if (full != NULL && json_is_object(full)) {
		json_object_update(set, full);
	} else if (full != NULL) {
		json_decref(set);
		return set_error("invalidProperties", "mailboxIds");
	} else {
		json_object_set_new(set, r->f->id, json_true());
	}
	json_object_foreach(patch, key, v) {
		if (strncmp(key, "mailboxIds/", 11) != 0)
			continue;
		if (json_is_true(v))
			json_object_set(set, key + 11, v);
		else
			json_object_del(set, key + 11);
	}
	if (json_object_size(set) != 1) {
		json_decref(set);
		return set_error("invalidProperties",
				 "an email is in exactly one mailbox here");
	}
	dest_id = json_object_iter_key(json_object_iter(set));
	dest = jmap_folder_by_id(a, dest_id);
	json_decref(set);
	if (dest == NULL)
		return set_error("invalidProperties", "no such mailbox");
	if (dest == r->f)
		return NULL;
	if (store_copy(r->f->h, &r->m.uid, 1, store_mailbox_name(dest->h), true, &new_uid,
		       &uv, &err) < 0 || new_uid == 0)
		return set_error("serverFail", err.text);
	return NULL;
}

static bool patch_has(json_t *patch, const char *prefix)
{
	const char *key;
	json_t *v;

	json_object_foreach(patch, key, v)
		if (strncmp(key, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void set_update(struct jmap_account *a, json_t *update, json_t *updated,
		       json_t *not_updated)
{
	const char *id, *key;
	json_t *patch, *v, *err;
	struct email_ref r;

	json_object_foreach(update, id, patch) {
		err = NULL;
		if (email_find(a, id, &r) <= 0) {
			json_object_set_new(not_updated, id, set_error("notFound", NULL));
			continue;
		}
		json_object_foreach(patch, key, v)
			if (strncmp(key, "keywords", 8) != 0 && strncmp(key, "mailboxIds", 10) != 0)
				err = set_error("invalidProperties", key);
		if (err == NULL && patch_has(patch, "keywords"))
			err = update_keywords(&r, patch);
		if (err == NULL && patch_has(patch, "mailboxIds"))
			err = update_mailbox(a, &r, patch);
		if (err != NULL)
			json_object_set_new(not_updated, id, err);
		else
			json_object_set_new(updated, id, json_null());
	}
}

static void set_destroy(struct jmap_account *a, json_t *destroy, json_t *destroyed,
			json_t *not_destroyed)
{
	struct store_error err;
	struct email_ref r;
	json_t *v;
	size_t i;

	json_array_foreach(destroy, i, v) {
		const char *id = json_string_value(v);
		uint32_t uid;
		unsigned n = 1;
		if (id == NULL || email_find(a, id, &r) <= 0) {
			if (id != NULL)
				json_object_set_new(not_destroyed, id, set_error("notFound", NULL));
			continue;
		}
		uid = r.m.uid;
		if (store_mailbox_expunge(r.f->h, &uid, &n, &err) < 0)
			json_object_set_new(not_destroyed, id, set_error("serverFail", err.text));
		else
			json_array_append(destroyed, v);
	}
}

int jmap_email_set(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *create = json_object_get(call->args, "create");
	json_t *update = json_object_get(call->args, "update");
	json_t *destroy = json_object_get(call->args, "destroy");
	json_t *if_state = json_object_get(call->args, "ifInState");
	json_t *not_created = json_object(), *updated = json_object();
	json_t *not_updated = json_object(), *destroyed = json_array();
	json_t *not_destroyed = json_object(), *v;
	const char *key;
	char old[24], now[24];

	if (jmap_call_account(call, &a) < 0)
		goto fail;
	if ((create != NULL && !json_is_null(create) && !json_is_object(create)) ||
	    (update != NULL && !json_is_null(update) && !json_is_object(update)) ||
	    (destroy != NULL && !json_is_null(destroy) && !json_is_array(destroy))) {
		jmap_call_error(call, "invalidArguments", NULL);
		goto fail;
	}
	if (json_object_size(create) + json_object_size(update) + json_array_size(destroy) >
	    call->limits->max_objects_set) {
		jmap_call_error(call, "requestTooLarge", NULL);
		goto fail;
	}
	jmap_account_state(a, old);
	if (json_is_string(if_state) && strcmp(json_string_value(if_state), old) != 0) {
		jmap_call_error(call, "stateMismatch", NULL);
		goto fail;
	}
	json_object_foreach(create, key, v)
		json_object_set_new(not_created, key, set_error("forbidden",
			"creating emails is not supported yet"));
	if (json_is_object(update))
		set_update(a, update, updated, not_updated);
	if (json_is_array(destroy))
		set_destroy(a, destroy, destroyed, not_destroyed);
	jmap_account_state(a, now);
	call->result = json_pack("{s:s,s:s,s:s,s:n,s:o,s:o,s:o,s:o,s:o}", "accountId", a->id,
				 "oldState", old, "newState", now, "created",
				 "notCreated", not_created, "updated", updated,
				 "notUpdated", not_updated, "destroyed", destroyed,
				 "notDestroyed", not_destroyed);
	return 1;
fail:
	json_decref(not_created);
	json_decref(updated);
	json_decref(not_updated);
	json_decref(destroyed);
	json_decref(not_destroyed);
	return -1;
}

/* ---- Email/changes ---- */

int jmap_email_changes(struct jmap_call *call)
{
	struct jmap_account *a;
	const char *since = json_string_value(json_object_get(call->args, "sinceState"));
	json_t *maxc = json_object_get(call->args, "maxChanges");
	struct jmap_snapshot *snap;
	json_t *created, *updated, *destroyed;
	char state[24], id[20];

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (since == NULL || (maxc != NULL && !json_is_null(maxc) &&
			      (!json_is_integer(maxc) || json_integer_value(maxc) <= 0)))
		return jmap_call_error(call, "invalidArguments", NULL);
	jmap_account_state(a, state);
	snap = jmap_snapshot_find(a->j, a->user, since);
	if (snap == NULL)
		return jmap_call_error(call, "cannotCalculateChanges", NULL);
	created = json_array();
	updated = json_array();
	destroyed = json_array();
	for (unsigned i = 0; i < a->n_folders; i++) {
		struct jmap_folder *f = &a->folders[i];
		uint64_t old_modseq = 0, name_hash;
		bool known = jmap_snapshot_folder(snap, f->st.uidvalidity, &old_modseq, &name_hash);
		for (unsigned k = 0; k < store_mailbox_count(f->h); k++) {
			struct store_msg m;
			store_mailbox_get(f->h, k, &m);
			jmap_email_id(f->st.uidvalidity, m.uid, id);
			if (!known || !jmap_snapshot_has(snap, (uint64_t)f->st.uidvalidity << 32 | m.uid))
				json_array_append_new(created, json_string(id));
			else if (m.modseq > old_modseq)
				json_array_append_new(updated, json_string(id));
		}
	}
	for (unsigned i = 0; i < jmap_snapshot_email_count(snap); i++) {
		uint64_t e = jmap_snapshot_email_at(snap, i);
		struct jmap_folder *f = folder_by_uv(a, (uint32_t)(e >> 32));
		struct store_msg m;
		if (f == NULL || store_mailbox_lookup(f->h, (uint32_t)e, &m) <= 0) {
			jmap_email_id((uint32_t)(e >> 32), (uint32_t)e, id);
			json_array_append_new(destroyed, json_string(id));
		}
	}
	if (json_is_integer(maxc) && json_array_size(created) + json_array_size(updated) +
	    json_array_size(destroyed) > (size_t)json_integer_value(maxc)) {
		json_decref(created);
		json_decref(updated);
		json_decref(destroyed);
		return jmap_call_error(call, "cannotCalculateChanges",
				       "more changes than maxChanges");
	}
	call->result = json_pack("{s:s,s:s,s:s,s:b,s:o,s:o,s:o}", "accountId", a->id,
				 "oldState", since, "newState", state, "hasMoreChanges", 0,
				 "created", created, "updated", updated, "destroyed", destroyed);
	return 1;
}

/* ---- Thread/get ---- */

/* Every email is its own thread here ("t" + the email's digits). */
int jmap_thread_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "ids"), *list, *notfound, *v;
	struct email_ref r;
	char state[24], eid[20];
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (!json_is_array(ids))
		return jmap_call_error(call, json_is_null(ids) || ids == NULL ?
				       "requestTooLarge" : "invalidArguments", NULL);
	if (json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		if (id != NULL && id[0] == 't' && strlen(id) < sizeof(eid)) {
			str_copy(eid, id, sizeof(eid));
			eid[0] = 'm';
			if (email_find(a, eid, &r) > 0) {
				json_array_append_new(list, json_pack("{s:s,s:[s]}", "id", id,
								      "emailIds", eid));
				continue;
			}
		}
		json_array_append(notfound, v);
	}
	jmap_account_state(a, state);
	call->result = json_pack("{s:s,s:s,s:o,s:o}", "accountId", a->id, "state", state,
				 "list", list, "notFound", notfound);
	return 1;
}
