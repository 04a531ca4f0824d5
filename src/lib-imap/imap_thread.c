/*
 * imap_thread.c - THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256
 * §3) over the keys the IMAP server gathered (struct imap_sort_msg), and
 * the thread data of the THREAD response.  Called by src/imapd/cmd_sort.c.
 * Pure.  Memory is linear in the messages and their references; the
 * message-ID table is an open-addressing hash.
 *
 * REFERENCES is Jamie Zawinski's algorithm as RFC 5256 words it:
 *   1. link each message under the last of its references, and each
 *      reference under the one before it (never making a loop);
 *   2. the messages without a parent are the roots;
 *   3. prune the empty containers (a reference with no message): drop
 *      them when childless, promote their children otherwise (at the
 *      root only when there is a single child);
 *   4. sort the roots by sent date;
 *   5. merge roots with the same base subject;
 *   6. sort every set of siblings by sent date (a dummy by its first
 *      child's).
 */
#include "lib-imap/imap_sort.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define NONE (-1)
/* Deepest nesting REFERENCES builds: deeper replies start threads of their
   own, so that the recursive walks below stay within the stack whatever
   References: chains the messages carry.  XXX: the loop check of step 1
   walks up the chain, so one chain of n replies costs O(n^2) to link. */
#define THREAD_DEPTH_MAX 1000

/* ---- output ---- */

struct tree {
	struct imap_sort_msg *msgs;
	int *msg;		/* node -> message index, NONE for a dummy */
	int *parent, *child, *next;
	int n, cap;
	int root;		/* the first root; roots chain through next */
};

static void tree_init(struct tree *t, struct imap_sort_msg *msgs, size_t cap)
{
	t->msgs = msgs;
	t->n = 0;
	t->cap = (int)cap;
	t->root = NONE;
	t->msg = xmalloc(cap * sizeof(int) + 1);
	t->parent = xmalloc(cap * sizeof(int) + 1);
	t->child = xmalloc(cap * sizeof(int) + 1);
	t->next = xmalloc(cap * sizeof(int) + 1);
}

static void tree_deinit(struct tree *t)
{
	free(t->msg);
	free(t->parent);
	free(t->child);
	free(t->next);
}

static int node_new(struct tree *t, int msg)
{
	int i = t->n++;

	t->msg[i] = msg;
	t->parent[i] = t->child[i] = t->next[i] = NONE;
	return i;
}

static int write_node(const struct tree *t, int x, struct buf *out);

/* The members of node x inside its list: "1 2 (3)(4)". */
static int write_node(const struct tree *t, int x, struct buf *out)
{
	int c = t->child[x];
	bool first = true;

	if (t->msg[x] != NONE) {
		if (buf_printf(out, "%u", t->msgs[t->msg[x]].id) < 0)
			return -1;
		if (c != NONE && t->next[c] == NONE)	/* one child: the same list */
			return buf_putc(out, ' ') < 0 ? -1 : write_node(t, c, out);
		first = false;
	}
	for (; c != NONE; c = t->next[c]) {
		if ((!first && buf_putc(out, ' ') < 0) || buf_putc(out, '(') < 0 ||
		    write_node(t, c, out) < 0 || buf_putc(out, ')') < 0)
			return -1;
		first = true;	/* siblings follow each other without a space */
	}
	return 1;
}

static int write_roots(const struct tree *t, struct buf *out)
{
	for (int r = t->root; r != NONE; r = t->next[r])
		if (buf_putc(out, '(') < 0 || write_node(t, r, out) < 0 || buf_putc(out, ')') < 0)
			return -1;
	return 1;
}

/* ---- sorting siblings by sent date ---- */

/* The message a node sorts by: its own, or a dummy's first child's. */
static const struct imap_sort_msg *sort_msg(const struct tree *t, int x)
{
	while (t->msg[x] == NONE && t->child[x] != NONE)
		x = t->child[x];
	return t->msg[x] == NONE ? NULL : &t->msgs[t->msg[x]];
}

static int cmp_date(const void *pa, const void *pb, void *arg)
{
	const struct tree *t = arg;
	const struct imap_sort_msg *a = sort_msg(t, *(const int *)pa);
	const struct imap_sort_msg *b = sort_msg(t, *(const int *)pb);

	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sort the chain starting at *head (children first when deep). */
static void sort_chain(struct tree *t, int *head, bool deep)
{
	int n = 0;

	for (int x = *head; x != NONE; x = t->next[x]) {
		if (deep)
			sort_chain(t, &t->child[x], true);
	}
	for (int x = *head; x != NONE; x = t->next[x])
		n++;
	if (n < 2)
		return;
	int *v = xmalloc((size_t)n * sizeof(int));
	n = 0;
	for (int x = *head; x != NONE; x = t->next[x])
		v[n++] = x;
	qsort_r(v, (size_t)n, sizeof(int), cmp_date, t);
	*head = v[0];
	for (int i = 0; i < n; i++)
		t->next[v[i]] = i + 1 < n ? v[i + 1] : NONE;
	free(v);
}

/* ---- ORDEREDSUBJECT ---- */

static int cmp_subject(const void *pa, const void *pb)
{
	const struct imap_sort_msg *a = pa, *b = pb;
	int r = strcmp(a->subject, b->subject);

	if (r != 0)
		return r;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int imap_thread_orderedsubject(struct imap_sort_msg *msgs, size_t n, struct buf *out)
{
	struct tree t;
	int last = NONE, ret;

	qsort(msgs, n, sizeof(*msgs), cmp_subject);
	tree_init(&t, msgs, n);
	for (size_t i = 0; i < n; i++) {
		int x = node_new(&t, (int)i);
		if (i > 0 && strcmp(msgs[i].subject, msgs[i - 1].subject) == 0) {
			/* a child of the group's first message, after its siblings */
			int p = last, *link = &t.child[p];
			while (*link != NONE)
				link = &t.next[*link];
			*link = x;
			t.parent[x] = p;
			continue;
		}
		t.next[x] = t.root;	/* the order is fixed by the sort below */
		t.root = x;
		last = x;
	}
	sort_chain(&t, &t.root, false);
	ret = write_roots(&t, out);
	tree_deinit(&t);
	return ret;
}

/* ---- REFERENCES: the message-ID table ---- */

struct id_table {
	const char **key;	/* message IDs (not owned) */
	size_t *key_len;
	int *node;
	size_t size;		/* a power of two */
};

static size_t id_hash(const char *s, size_t n)
{
	size_t h = 5381;

	for (size_t i = 0; i < n; i++)
		h = h * 33 + (unsigned char)s[i];
	return h;
}

static void table_init(struct id_table *tab, size_t ids)
{
	tab->size = 16;
	while (tab->size < ids * 2)
		tab->size *= 2;
	tab->key = xcalloc(tab->size, sizeof(*tab->key));
	tab->key_len = xcalloc(tab->size, sizeof(*tab->key_len));
	tab->node = xcalloc(tab->size, sizeof(*tab->node));
}

static void table_deinit(struct id_table *tab)
{
	free(tab->key);
	free(tab->key_len);
	free(tab->node);
}

/* The slot of id: its own, or the empty one where it belongs. */
static size_t table_slot(const struct id_table *tab, const char *id, size_t n)
{
	size_t i = id_hash(id, n) & (tab->size - 1);

	while (tab->key[i] != NULL &&
	       (tab->key_len[i] != n || memcmp(tab->key[i], id, n) != 0))
		i = (i + 1) & (tab->size - 1);
	return i;
}

/* The node of id, made (a dummy) when new. */
static int id_node(struct tree *t, struct id_table *tab, const char *id)
{
	size_t n = strlen(id), i = table_slot(tab, id, n);

	if (tab->key[i] == NULL) {
		tab->key[i] = id;
		tab->key_len[i] = n;
		tab->node[i] = node_new(t, NONE);
	}
	return tab->node[i];
}

/* ---- REFERENCES: links ---- */

/* Is a equal to b or below it? */
static bool below(const struct tree *t, int a, int b)
{
	for (; a != NONE; a = t->parent[a])
		if (a == b)
			return true;
	return false;
}

static void unlink_node(struct tree *t, int x)
{
	int p = t->parent[x], *link;

	if (p == NONE)
		return;
	for (link = &t->child[p]; *link != x; link = &t->next[*link])
		;
	*link = t->next[x];
	t->next[x] = NONE;
	t->parent[x] = NONE;
}

static void add_child(struct tree *t, int p, int x)
{
	int *link = &t->child[p];

	while (*link != NONE)
		link = &t->next[*link];
	*link = x;
	t->parent[x] = p;
	t->next[x] = NONE;
}

/* Step 1 for message i. */
static void link_message(struct tree *t, struct id_table *tab, int i)
{
	const struct imap_sort_msg *m = &t->msgs[i];
	int x = NONE, prev = NONE, r;

	if (m->message_id[0] != '\0') {
		x = id_node(t, tab, m->message_id);
		if (t->msg[x] != NONE)
			x = NONE;	/* a duplicate ID: a message of its own */
	}
	if (x == NONE)
		x = node_new(t, i);
	t->msg[x] = i;
	for (unsigned k = 0; k < m->n_refs; k++) {
		r = id_node(t, tab, m->refs[k]);
		if (prev != NONE && t->parent[r] == NONE && !below(t, prev, r))
			add_child(t, prev, r);
		prev = r;
	}
	if (prev != NONE && below(t, prev, x))
		return;		/* the message's own reference loops back */
	unlink_node(t, x);
	if (prev != NONE)
		add_child(t, prev, x);
}

/* Cut the trees at THREAD_DEPTH_MAX: a node deeper than that becomes a
   root.  One walk with an explicit stack; every node is visited once. */
static void limit_depth(struct tree *t)
{
	int *stack = xmalloc(((size_t)t->n + 1) * sizeof(int));
	int *depth = xmalloc(((size_t)t->n + 1) * sizeof(int));
	int top = 0;

	for (int x = 0; x < t->n; x++)
		if (t->parent[x] == NONE) {
			stack[top++] = x;
			depth[x] = 0;
		}
	while (top > 0) {
		int x = stack[--top], c = t->child[x], next;
		for (; c != NONE; c = next) {
			next = t->next[c];
			if (depth[x] + 1 > THREAD_DEPTH_MAX) {
				unlink_node(t, c);	/* a thread of its own */
				depth[c] = 0;
			} else {
				depth[c] = depth[x] + 1;
			}
			stack[top++] = c;
		}
	}
	free(stack);
	free(depth);
}

/* ---- REFERENCES: pruning (step 3) ---- */

/* Prune the chain at *head; at_root: the root set. */
static void prune_chain(struct tree *t, int *head, bool at_root)
{
	int *link = head;

	while (*link != NONE) {
		int x = *link, c;
		prune_chain(t, &t->child[x], false);
		c = t->child[x];
		if (t->msg[x] != NONE || (at_root && c != NONE && t->next[c] != NONE)) {
			link = &t->next[x];
			continue;
		}
		/* an empty container: its children (if any) take its place */
		*link = c != NONE ? c : t->next[x];
		if (c == NONE)
			continue;
		int last = c;
		for (int k = c; k != NONE; k = t->next[k]) {
			t->parent[k] = t->parent[x];
			last = k;
		}
		t->next[last] = t->next[x];
		/* the promoted ones are looked at again (a root with one child
		   may itself be empty) */
	}
}

/* ---- REFERENCES: subjects (step 5) ---- */

static const struct imap_sort_msg *subject_msg(const struct tree *t, int x)
{
	if (t->msg[x] == NONE)
		x = t->child[x];
	return x == NONE || t->msg[x] == NONE ? NULL : &t->msgs[t->msg[x]];
}

/* The root x joins the root table holds (same base subject). */
static void merge_roots(struct tree *t, int x, int held, int *entry)
{
	bool x_dummy = t->msg[x] == NONE, h_dummy = t->msg[held] == NONE;

	if (x_dummy && h_dummy) {
		while (t->child[x] != NONE) {
			int c = t->child[x];
			unlink_node(t, c);
			add_child(t, held, c);
		}
	} else if (h_dummy) {
		add_child(t, held, x);
	} else if (subject_msg(t, x)->reply && !subject_msg(t, held)->reply) {
		add_child(t, held, x);
	} else {
		/* both messages, or both replies: a new dummy holds them */
		int d = node_new(t, NONE);
		t->next[d] = t->next[held];
		t->next[held] = d;	/* d takes held's place: fixed below */
		add_child(t, d, held);
		add_child(t, d, x);
		*entry = d;
	}
}

static void group_subjects(struct tree *t)
{
	struct id_table tab;
	int *link, x;

	table_init(&tab, (size_t)t->n);
	/* 5B: one root per subject, a dummy or a non-reply preferred */
	for (x = t->root; x != NONE; x = t->next[x]) {
		const struct imap_sort_msg *m = subject_msg(t, x);
		if (m == NULL || m->subject[0] == '\0')
			continue;
		size_t i = table_slot(&tab, m->subject, strlen(m->subject));
		int held = tab.key[i] != NULL ? tab.node[i] : NONE;
		if (held == NONE || (t->msg[x] == NONE && t->msg[held] != NONE) ||
		    (t->msg[held] != NONE && t->msg[x] != NONE &&
		     subject_msg(t, held)->reply && !m->reply)) {
			tab.key[i] = m->subject;
			tab.key_len[i] = strlen(m->subject);
			tab.node[i] = x;
		}
	}
	/* 5C: the other roots of a subject join the held one */
	for (link = &t->root; (x = *link) != NONE;) {
		const struct imap_sort_msg *m = subject_msg(t, x);
		size_t i;
		if (m == NULL || m->subject[0] == '\0' ||
		    tab.node[i = table_slot(&tab, m->subject, strlen(m->subject))] == x) {
			link = &t->next[x];
			continue;
		}
		int held = tab.node[i], next = t->next[x];
		*link = next;		/* x leaves the root set */
		t->next[x] = NONE;
		merge_roots(t, x, held, &tab.node[i]);
		if (tab.node[i] != held) {
			/* the new dummy took held's place among the roots: it
			   was chained after held, which is its child now */
			int d = tab.node[i], *l;
			for (l = &t->root; *l != held; l = &t->next[*l])
				;
			*l = d;
			if (link == &t->next[held])
				link = &t->next[d];
		}
	}
	table_deinit(&tab);
}

static size_t count_ids(const struct imap_sort_msg *msgs, size_t n)
{
	size_t ids = 0;

	for (size_t i = 0; i < n; i++)
		ids += 1 + msgs[i].n_refs;
	return ids;
}

int imap_thread_references(struct imap_sort_msg *msgs, size_t n, struct buf *out)
{
	size_t ids = count_ids(msgs, n);
	struct id_table tab;
	struct tree t;
	int ret, *link;

	/* nodes: the messages, their references, the dummies of step 5 */
	tree_init(&t, msgs, ids + n + 1);
	table_init(&tab, ids);
	for (size_t i = 0; i < n; i++)
		link_message(&t, &tab, (int)i);
	table_deinit(&tab);
	limit_depth(&t);
	/* 2: the roots, in node order */
	link = &t.root;
	for (int x = 0; x < t.n; x++) {
		if (t.parent[x] != NONE)
			continue;
		*link = x;
		link = &t.next[x];
	}
	*link = NONE;
	prune_chain(&t, &t.root, true);
	sort_chain(&t, &t.root, true);	/* 4 (children first: dummies) */
	group_subjects(&t);
	sort_chain(&t, &t.root, true);	/* 6 */
	ret = write_roots(&t, out);
	tree_deinit(&t);
	return ret;
}
