/*
 * jmap_snippet.c - SearchSnippet/get (RFC 8621 §5): for each email, its
 * subject and a preview of its text with the filter's terms marked
 * (jmap_parse_highlight: HTML-escaped, <mark> around each occurrence).
 * Terms: the filter's "text" and "subject" conditions for the subject,
 * "text" and "body" for the preview, from every level of operators.  A
 * field without a match is null.
 */
#include "jmap_private.h"
#include "jmap_parse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mime/mime.h"

#define MAX_TERMS 32
#define SNIPPET_CHARS 255
#define SNIPPET_TEXT_MAX (256 * 1024)

struct terms {
	const char *subject[MAX_TERMS], *body[MAX_TERMS];
	unsigned n_subject, n_body;
};

static void add_term(const char **list, unsigned *n, json_t *v)
{
	const char *s = json_string_value(v);

	if (s != NULL && s[0] != '\0' && *n < MAX_TERMS)
		list[(*n)++] = s;
}

/* The terms of filter (a condition or an operator), depth bounded. */
static void collect(json_t *filter, struct terms *t, unsigned depth)
{
	json_t *conds = json_object_get(filter, "conditions"), *v;
	size_t i;

	if (!json_is_object(filter) || depth > 8)
		return;
	if (json_is_string(json_object_get(filter, "operator")) &&
	    strcmp(json_string_value(json_object_get(filter, "operator")), "NOT") == 0)
		return;		/* what must not occur is not shown */
	json_array_foreach(conds, i, v)
		collect(v, t, depth + 1);
	add_term(t->subject, &t->n_subject, json_object_get(filter, "text"));
	add_term(t->subject, &t->n_subject, json_object_get(filter, "subject"));
	add_term(t->body, &t->n_body, json_object_get(filter, "text"));
	add_term(t->body, &t->n_body, json_object_get(filter, "body"));
}

static int body_text(void *ctx, const struct mime_text *t)
{
	struct buf *b = ctx;

	if (b->len > 0)
		buf_putc(b, ' ');
	buf_append(b, t->text, t->len);
	return b->len < SNIPPET_TEXT_MAX;
}

static json_t *snippet(struct jmap_account *a, struct jmap_email_ref *r, const char *id,
		       const struct terms *t)
{
	struct buf text, v, out;
	struct mime_message *msg;
	json_t *o = json_pack("{s:s,s:n,s:n}", "emailId", id, "subject", "preview");

	buf_init(&text, JMAP_MAX_MESSAGE);
	if (r->m.size > JMAP_MAX_MESSAGE ||
	    jmap_email_read(a, r->f->st.uidvalidity, r->m.uid, &text) <= 0) {
		buf_deinit(&text);
		return o;
	}
	msg = mime_message_parse(text.data != NULL ? text.data : "", text.len, NULL);
	buf_init(&v, 65536);
	buf_init(&out, 0);
	if (t->n_subject > 0 &&
	    mime_header_get_decoded(msg, mime_message_root(msg), "Subject", &v) > 0 &&
	    jmap_parse_highlight(v.data != NULL ? v.data : "", v.len, t->subject, t->n_subject,
				 0, &out) > 0)
		json_object_set_new(o, "subject", jmap_utf8_string(out.data, out.len));
	buf_reset(&v);
	buf_reset(&out);
	if (t->n_body > 0) {
		mime_text_walk(msg, MIME_WALK_BODIES, SNIPPET_TEXT_MAX, body_text, &v);
		if (jmap_parse_highlight(v.data != NULL ? v.data : "", v.len, t->body, t->n_body,
					 SNIPPET_CHARS, &out) > 0)
			json_object_set_new(o, "preview", jmap_utf8_string(out.data, out.len));
	}
	buf_deinit(&out);
	buf_deinit(&v);
	mime_message_free(&msg);
	buf_deinit(&text);
	return o;
}

int jmap_snippet_get(struct jmap_call *call)
{
	struct jmap_account *a;
	json_t *ids = json_object_get(call->args, "emailIds");
	json_t *filter = json_object_get(call->args, "filter");
	json_t *list, *notfound, *v;
	struct terms t = { .n_subject = 0 };
	size_t i;

	if (jmap_call_account(call, &a) < 0)
		return -1;
	if (!json_is_array(ids) || (filter != NULL && !json_is_null(filter) &&
				    !json_is_object(filter)))
		return jmap_call_error(call, "invalidArguments", NULL);
	if (json_array_size(ids) > call->limits->max_objects_get)
		return jmap_call_error(call, "requestTooLarge", NULL);
	collect(filter, &t, 0);
	list = json_array();
	notfound = json_array();
	json_array_foreach(ids, i, v) {
		struct jmap_email_ref r;
		if (!json_is_string(v) || jmap_email_find(a, json_string_value(v), &r) <= 0) {
			json_array_append(notfound, v);
			continue;
		}
		json_array_append_new(list, snippet(a, &r, json_string_value(v), &t));
	}
	call->result = json_pack("{s:s,s:o,s:o}", "accountId", a->id, "list", list,
				 "notFound", notfound);
	return 1;
}
