/*
 * cmd_list.c - LIST (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 6154
 * SPECIAL-USE, RFC 5819 LIST-STATUS) and LSUB (RFC 3501 §6.3.9).  Called
 * by the dispatcher (imapd_cmd.c) once logged in.
 *
 *   list          = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 *                   [SP list-return-opts]
 *   list-select-opts = "(" [list-select-option *(SP list-select-option)] ")"
 *   list-select-option = "SUBSCRIBED" / "REMOTE" / "RECURSIVEMATCH" /
 *                   "SPECIAL-USE"
 *   mbox-or-pat   = list-mailbox / "(" list-mailbox *(SP list-mailbox) ")"
 *   list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
 *   return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
 *                   "STATUS" SP "(" status-att *(SP status-att) ")"
 *
 * The store gives every folder of the account, sorted, with its
 * attributes (store_folder_list); this file picks the names the patterns
 * match and the selection allows.  RECURSIVEMATCH and LSUB also name a
 * parent that is not subscribed itself when a subscribed descendant of
 * it is not matched by the patterns (RFC 5258 §3.5, CHILDINFO; RFC 3501
 * §6.3.9, \Noselect).  REMOTE selects nothing more: every folder is
 * local.  Folders are tens to a few thousands: the descendant look-up is
 * a scan per candidate.
 */
#include "imapd_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define LIST_PATTERNS_MAX 64
#define LIST_PATTERN_MAX 1024	/* bytes of reference + pattern */

/*
 * IMAP LIST pattern match: '*' anything, '%' anything but '/'; the INBOX
 * part of a name matches in any case (RFC 9051 §5.1).  The pattern is run
 * as a set of positions over the name, one byte at a time: O(pattern x
 * name), whatever the wildcards (a backtracking match is exponential in
 * them, and "*a*a*a...*b" would hold up the server).
 */
static void wildcard_closure(const char *p, size_t plen, unsigned char *set)
{
	for (size_t i = 0; i < plen; i++)
		if (set[i] && (p[i] == '*' || p[i] == '%'))
			set[i + 1] = 1;
}

static bool pattern_match(const char *p, size_t plen, const char *name, unsigned char *cur,
			  unsigned char *next)
{
	bool inbox = strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/');
	unsigned char *tmp;

	memset(cur, 0, plen + 1);
	cur[0] = 1;
	wildcard_closure(p, plen, cur);
	for (size_t ni = 0; name[ni] != '\0'; ni++) {
		char c = name[ni];
		bool any = false;
		memset(next, 0, plen + 1);
		for (size_t i = 0; i < plen; i++) {
			if (!cur[i])
				continue;
			if (p[i] == '*' || (p[i] == '%' && c != '/'))
				next[i] = 1;
			else if (p[i] != '%' && (p[i] == c || (inbox && ni < 5 && (p[i] | 32) == (c | 32))))
				next[i + 1] = 1;
			else
				continue;
			any = true;
		}
		if (!any)
			return false;
		wildcard_closure(p, plen, next);
		tmp = cur;
		cur = next;
		next = tmp;
	}
	return cur[plen] != 0;
}

struct list_entry {
	char *name;
	unsigned attrs;		/* STORE_FOLDER_* */
	bool placeholder;	/* only a parent of subscriptions, not listed */
};

struct list_ctx {
	struct imapd_session *s;
	bool lsub, extended;
	bool sel_subscribed, sel_special, recursive;	/* selection options */
	bool ret_subscribed;				/* RETURN (SUBSCRIBED) */
	const struct imap_arg *status_items;		/* RETURN (STATUS (...)) */
	size_t status_count;
	struct buf patterns[LIST_PATTERNS_MAX];		/* reference + pattern */
	unsigned n_patterns;
	unsigned char cur[LIST_PATTERN_MAX + 1], next[LIST_PATTERN_MAX + 1];
	bool empty_pattern;				/* LIST ref "" */
	struct list_entry *v;
	unsigned n, cap;
};

static bool matched(struct list_ctx *c, const char *name)
{
	for (unsigned i = 0; i < c->n_patterns; i++)
		if (pattern_match(c->patterns[i].data != NULL ? c->patterns[i].data : "",
				  c->patterns[i].len, name, c->cur, c->next))
			return true;
	return false;
}

/* ---- arguments ---- */

static int selection_options(struct list_ctx *c, const struct imap_arg *list, size_t n)
{
	bool other = false;

	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&list[i], "SUBSCRIBED"))
			c->sel_subscribed = other = true;
		else if (imap_arg_atom_equals(&list[i], "SPECIAL-USE"))
			c->sel_special = other = true;
		else if (imap_arg_atom_equals(&list[i], "RECURSIVEMATCH"))
			c->recursive = true;
		else if (!imap_arg_atom_equals(&list[i], "REMOTE"))
			return -1;
	}
	/* RFC 5258 §3: RECURSIVEMATCH alone (or with REMOTE) is an error */
	return c->recursive && !other ? -1 : 1;
}

static int return_options(struct list_ctx *c, const struct imap_arg *list, size_t n)
{
	const struct imap_arg *items;
	size_t count;

	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&list[i], "SUBSCRIBED"))
			c->ret_subscribed = true;
		else if (imap_arg_atom_equals(&list[i], "CHILDREN") ||
			 imap_arg_atom_equals(&list[i], "SPECIAL-USE"))
			continue;	/* both always shown */
		else if (imap_arg_atom_equals(&list[i], "STATUS") && i + 1 < n &&
			 imap_arg_get_list(&list[i + 1], &items, &count) && count > 0) {
			c->status_items = items;
			c->status_count = count;
			i++;
		} else
			return -1;
	}
	return 1;
}

static int add_pattern(struct list_ctx *c, const struct buf *ref, const struct imap_arg *arg)
{
	struct buf *p;
	const char *text;

	if (c->n_patterns == LIST_PATTERNS_MAX)
		return -1;
	c->empty_pattern = imap_arg_get_astring(arg, &text) && text[0] == '\0';
	p = &c->patterns[c->n_patterns++];
	buf_init(p, LIST_PATTERN_MAX);
	if (buf_append(p, ref->data, ref->len) < 0)
		return -1;
	return imapd_name_in(c->s, arg, p) > 0 ? 1 : -1;
}

/* The patterns: one, or a list of them (LIST-EXTENDED). */
static int patterns(struct list_ctx *c, const struct buf *ref, const struct imap_arg *arg)
{
	const struct imap_arg *list;
	size_t count;

	if (c->lsub || !imap_arg_get_list(arg, &list, &count))
		return add_pattern(c, ref, arg);
	c->extended = true;
	if (count == 0)
		return -1;
	for (size_t i = 0; i < count; i++)
		if (add_pattern(c, ref, &list[i]) < 0)
			return -1;
	return 1;
}

static int list_args(struct list_ctx *c)
{
	const struct imap_arg *a = c->s->cmd.args, *opts;
	size_t n = c->s->cmd.arg_count, count;
	struct buf ref;
	int ret;

	if (n > 0 && !c->lsub && imap_arg_get_list(&a[0], &opts, &count)) {
		c->extended = true;
		if (selection_options(c, opts, count) < 0)
			return -1;
		a++;
		n--;
	}
	if (n != 2 && n != 4)
		return -1;
	buf_init(&ref, 0);
	ret = imapd_name_in(c->s, &a[0], &ref) <= 0 ? -1 : patterns(c, &ref, &a[1]);
	buf_deinit(&ref);
	if (ret < 0 || n == 2)
		return ret;
	if (c->lsub || !imap_arg_atom_equals(&a[2], "RETURN") ||
	    !imap_arg_get_list(&a[3], &opts, &count))
		return -1;
	c->extended = true;
	return return_options(c, opts, count);
}

/* ---- the folders ---- */

static struct list_entry *entry_add(struct list_ctx *c, const char *name, size_t len,
				    unsigned attrs)
{
	struct list_entry *e;

	if (c->n == c->cap) {
		c->cap = c->cap < 32 ? 32 : c->cap * 2;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	e = &c->v[c->n++];
	e->name = xstrndup(name, len);
	e->attrs = attrs;
	e->placeholder = false;
	return e;
}

static void collect(void *ctx, const struct store_folder_info *f)
{
	struct list_ctx *c = ctx;

	entry_add(c, f->name, strlen(f->name), f->attrs);
}

static long entry_find(const struct list_ctx *c, const char *name, size_t len)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strncmp(c->v[i].name, name, len) == 0 && c->v[i].name[len] == '\0')
			return i;
	return -1;
}

/* The parents of subscribed names that are in no list of the store (the
   parents of subscriptions without a folder): LSUB and RECURSIVEMATCH
   may name them.  Appended after the store's entries. */
static void add_placeholders(struct list_ctx *c)
{
	unsigned n = c->n;

	for (unsigned i = 0; i < n; i++) {
		const char *name = c->v[i].name;
		if (!(c->v[i].attrs & STORE_FOLDER_SUBSCRIBED))
			continue;
		for (const char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
			if (entry_find(c, name, (size_t)(p - name)) >= 0)
				continue;
			entry_add(c, name, (size_t)(p - name),
				  STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT)->placeholder = true;
			name = c->v[i].name;	/* v may have moved */
		}
	}
}

/* Has e a subscribed descendant that no pattern matches? (RFC 5258 §3.5) */
static bool child_subscribed(struct list_ctx *c, const struct list_entry *e)
{
	size_t len = strlen(e->name);

	for (unsigned i = 0; i < c->n; i++) {
		const char *d = c->v[i].name;
		if ((c->v[i].attrs & STORE_FOLDER_SUBSCRIBED) && strncmp(d, e->name, len) == 0 &&
		    d[len] == '/' && !matched(c, d))
			return true;
	}
	return false;
}

/* A name that exists only as a subscription: neither a folder nor the
   parent of one (no children attribute was given to it). */
static bool subscription_only(const struct list_entry *e)
{
	return (e->attrs & STORE_FOLDER_NONEXISTENT) &&
	       !(e->attrs & (STORE_FOLDER_HASCHILDREN | STORE_FOLDER_HASNOCHILDREN));
}

/* ---- the replies ---- */

static void put_attr(struct buf *out, const char *name)
{
	if (out->data[out->len - 1] != '(')
		buf_putc(out, ' ');
	buf_puts(out, name);
}

static void list_attrs(const struct list_ctx *c, const struct list_entry *e, bool parent_only,
		       struct buf *out)
{
	/* in Dovecot's order */
	static const struct { unsigned bit; const char *name; } names[] = {
		{ STORE_FOLDER_SUBSCRIBED, "\\Subscribed" },
		{ STORE_FOLDER_NOSELECT, "\\Noselect" },
		{ STORE_FOLDER_NONEXISTENT, "\\NonExistent" },
		{ STORE_FOLDER_HASCHILDREN, "\\HasChildren" },
		{ STORE_FOLDER_HASNOCHILDREN, "\\HasNoChildren" },
		{ STORE_FOLDER_SENT, "\\Sent" }, { STORE_FOLDER_DRAFTS, "\\Drafts" },
		{ STORE_FOLDER_TRASH, "\\Trash" }, { STORE_FOLDER_JUNK, "\\Junk" },
		{ STORE_FOLDER_ARCHIVE, "\\Archive" },
	};
	unsigned a = e->attrs;

	buf_putc(out, '(');
	if (c->lsub) {
		if (parent_only)
			put_attr(out, "\\Noselect");
		buf_putc(out, ')');
		return;
	}
	if (!c->sel_subscribed && !c->ret_subscribed)
		a &= ~STORE_FOLDER_SUBSCRIBED;
	/* a name without a folder: \NonExistent, which implies \Noselect, for
	   LIST-EXTENDED (RFC 5258 §3.4); \Noselect for the rest */
	if ((a & STORE_FOLDER_NONEXISTENT) && c->extended)
		a &= ~STORE_FOLDER_NOSELECT;
	else if (a & STORE_FOLDER_NONEXISTENT)
		a = (a & ~STORE_FOLDER_NONEXISTENT) | STORE_FOLDER_NOSELECT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (a & names[i].bit)
			put_attr(out, names[i].name);
	buf_putc(out, ')');
}

static void list_line(struct list_ctx *c, const struct list_entry *e, bool parent_only)
{
	struct buf line;

	buf_init(&line, 0);
	list_attrs(c, e, parent_only, &line);
	buf_puts(&line, " \"/\" ");
	imapd_name_out(c->s, e->name, &line);
	if (parent_only && !c->lsub)
		buf_puts(&line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	imapd_untagged(c->s, "%s %s", c->lsub ? "LSUB" : "LIST", buf_cstr(&line));
	buf_deinit(&line);
	if (c->status_items != NULL && !(e->attrs & (STORE_FOLDER_NOSELECT | STORE_FOLDER_NONEXISTENT)))
		imapd_status_line(c->s, e->name, c->status_items, c->status_count);
}

/* Whether e is listed, and (*parent_only_r) only as the parent of
   subscribed names the patterns miss. */
static bool selected(struct list_ctx *c, const struct list_entry *e, bool *parent_only_r)
{
	bool subscribed = (e->attrs & STORE_FOLDER_SUBSCRIBED) != 0;

	*parent_only_r = false;
	if (!matched(c, e->name))
		return false;
	if (c->lsub || c->sel_subscribed) {
		if (subscribed && !e->placeholder)
			return !c->sel_special || (e->attrs & STORE_FOLDER_SPECIAL_USE);
		if (c->lsub || c->recursive)
			return *parent_only_r = child_subscribed(c, e);
		return false;
	}
	if (e->placeholder || subscription_only(e))
		return false;
	return !c->sel_special || (e->attrs & STORE_FOLDER_SPECIAL_USE);
}

static void list_run(struct list_ctx *c)
{
	bool parent_only;

	add_placeholders(c);
	for (unsigned i = 0; i < c->n; i++)
		if (selected(c, &c->v[i], &parent_only))
			list_line(c, &c->v[i], parent_only);
}

void imapd_cmd_list(struct imapd_session *s)
{
	struct list_ctx c = { .s = s, .lsub = strcmp(s->cmd.name, "LSUB") == 0 };
	struct store_error err;

	if (list_args(&c) < 0) {
		imapd_tagged(s, "BAD", "bad %s arguments", s->cmd.name);
	} else if (!c.lsub && c.n_patterns == 1 && c.empty_pattern) {
		/* LIST "" "": the hierarchy delimiter and root (§6.3.9) */
		imapd_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imapd_tagged(s, "OK", "LIST completed");
	} else if (store_folder_list(s->account, collect, &c, &err) < 0) {
		imapd_tagged(s, "NO", "[SERVERBUG] %s", err.text);
	} else {
		list_run(&c);
		imapd_tagged(s, "OK", "%s completed", s->cmd.name);
	}
	for (unsigned i = 0; i < c.n_patterns; i++)
		buf_deinit(&c.patterns[i]);
	for (unsigned i = 0; i < c.n; i++)
		free(c.v[i].name);
	free(c.v);
}
