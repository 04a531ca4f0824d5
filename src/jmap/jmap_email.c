/*
 * jmap_email.c - Email/get and Email/parse (RFC 8621 §4) over the
 * store, with the project's MIME parser for headers, body structure and
 * body values, and what the other Email files share (ids, look-ups,
 * keywords).  An Email is one message of one folder (mailboxIds has
 * exactly one id); its thread is its conversation (jmap_thread.c).
 * Email/query is in jmap_email_query.c, Email/set and Email/changes in
 * jmap_email_set.c.
 *
 * Limits: a message is read whole into memory up to JMAP_MAX_MESSAGE bytes
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
#include "lib/encoding.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mime/mime.h"

#define MAX_BODY_VALUE (1u * 1024 * 1024)
#define MAX_PARTS_LIST 200
#define PREVIEW_CHARS 256


/* ---- ids ---- */

void jmap_email_id(uint32_t uidvalidity, uint32_t uid, char out[20])
{
	snprintf(out, 20, "m%08x%08x", uidvalidity, uid);
}

int jmap_email_id_parse(const char *id, char prefix, uint32_t *uv_r, uint32_t *uid_r)
{
	uint64_t v;

	if (id == NULL || id[0] != prefix || strlen(id) != 17 ||
	    hex_decode_u64(id + 1, 16, &v) < 0)
		return -1;
	*uv_r = (uint32_t)(v >> 32);
	*uid_r = (uint32_t)v;
	return 1;
}

struct jmap_folder *jmap_folder_by_uv(struct jmap_account *a, uint32_t uv)
{
	for (unsigned i = 0; i < a->n_folders; i++)
		if (a->folders[i].st.uidvalidity == uv)
			return &a->folders[i];
	return NULL;
}

int jmap_email_find(struct jmap_account *a, const char *id, struct jmap_email_ref *r)
{
	uint32_t uv, uid;

	if (jmap_email_id_parse(id, 'm', &uv, &uid) < 0 ||
	    (r->f = jmap_folder_by_uv(a, uv)) == NULL)
		return 0;
	return store_mailbox_lookup(r->f->h, uid, &r->m) > 0;
}

int jmap_email_read(struct jmap_account *a, uint32_t uv, uint32_t uid, struct buf *out)
{
	struct jmap_folder *f = jmap_folder_by_uv(a, uv);
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

uint8_t jmap_keyword_flag(const char *keyword)
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
	struct part_list *text = xcalloc(3, sizeof(*text)), *html = text + 1, *att = text + 2;
	const struct mime_part *root = mime_message_root(msg);

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

static json_t *email_object(struct jmap_account *a, const struct jmap_email_ref *r,
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
		char tid[20];
		jmap_thread_of(a, r->f, r->m.uid, tid);
		json_object_set_new(o, "threadId", json_string(tid));
	}
	if (want(opt, "mailboxIds"))
		json_object_set_new(o, "mailboxIds", json_pack("{s:b}", r->f->id, 1));
	if (want(opt, "keywords"))
		json_object_set_new(o, "keywords", keywords_object(r->f, &r->m));
	if (want(opt, "size"))
		json_object_set_new(o, "size", json_integer((json_int_t)r->m.vsize));
	if (want(opt, "receivedAt"))
		json_object_set_new(o, "receivedAt", utc_date(r->m.internal_date));
	if (needs_text(opt) && r->m.size <= JMAP_MAX_MESSAGE) {
		struct buf text;
		buf_init(&text, JMAP_MAX_MESSAGE);
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
	struct jmap_email_ref r;
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
	struct jmap_email_ref r;
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
		if (json_is_string(v) && jmap_email_find(a, json_string_value(v), &r) > 0)
			json_array_append_new(list, email_object(a, &r, &opt));
		else
			json_array_append(notfound, v);
	}
	return jmap_get_result(call, a, list, notfound);
}

/* ---- Email/parse ---- */

/* The text of blob id with LF line ends, and the digits its parts' blob
   ids carry ("p" + digits + "-" + partId), for an upload ("u" + 32 hex)
   or a message ("b" + 16 hex).  1, 0 unknown or not a message, -1. */
static int parse_source(struct jmap_account *a, const char *id, struct buf *text,
			char *digits, size_t size)
{
	uint32_t uv, uid;
	struct buf raw;
	int ret;

	if (id[0] == 'b' && jmap_email_id_parse(id, 'b', &uv, &uid) > 0) {
		str_copy(digits, id + 1, size);
		return jmap_email_read(a, uv, uid, text);
	}
	if (id[0] != 'u' || strlen(id) != 33)
		return 0;
	str_copy(digits, id + 1, size);
	buf_init(&raw, text->max);
	ret = jmap_blob_read(a, id, &raw);
	for (size_t i = 0; ret > 0 && i < raw.len; i++)
		if (!(raw.data[i] == '\r' && i + 1 < raw.len && raw.data[i + 1] == '\n') &&
		    buf_putc(text, raw.data[i]) < 0)
			ret = -1;
	buf_deinit(&raw);
	return ret;
}

int jmap_email_parse(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "blobIds"), *parsed, *not_parsable, *notfound, *v;
	struct get_opts opt;
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (get_options(call, &opt) < 0 || !json_is_array(ids))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	parsed = json_object();
	not_parsable = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		char digits[40];
		struct buf text;
		struct mime_message *msg;
		json_t *o;
		int ret;
		if (id == NULL || !jmap_is_id(id)) {
			json_array_append(notfound, v);
			continue;
		}
		buf_init(&text, JMAP_MAX_MESSAGE);
		ret = parse_source(a, id, &text, digits, sizeof(digits));
		if (ret <= 0) {
			json_array_append(ret < 0 ? not_parsable : notfound, v);
			buf_deinit(&text);
			continue;
		}
		msg = mime_message_parse(text.data != NULL ? text.data : "", text.len, NULL);
		/* RFC 8621 §4.9: what belongs to a stored email is null */
		o = json_object();
		if (want(&opt, "id"))
			json_object_set_new(o, "id", json_null());
		if (want(&opt, "blobId"))
			json_object_set_new(o, "blobId", json_string(id));
		if (want(&opt, "threadId"))
			json_object_set_new(o, "threadId", json_null());
		if (want(&opt, "mailboxIds"))
			json_object_set_new(o, "mailboxIds", json_null());
		if (want(&opt, "keywords"))
			json_object_set_new(o, "keywords", json_null());
		if (want(&opt, "receivedAt"))
			json_object_set_new(o, "receivedAt", json_null());
		if (want(&opt, "size"))
			json_object_set_new(o, "size", json_integer((json_int_t)
				mime_message_size_crlf(msg)));
		add_parsed(o, &opt, msg, digits);
		mime_message_free(&msg);
		buf_deinit(&text);
		json_object_set_new(parsed, id, o);
	}
	call->result = json_pack("{s:s,s:o,s:o,s:o}", "accountId", a->id, "parsed", parsed,
				 "notParsable", not_parsable, "notFound", notfound);
	return 1;
}
