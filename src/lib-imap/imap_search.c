/*
 * imap_search.c - SEARCH arguments into a search program, and the pure
 * helpers of its evaluation: folding, matching, Date: days, ESEARCH.
 *
 * Called by the IMAP SEARCH handler (src/imapd/cmd_search.c), which
 * evaluates the program against the messages of the selected mailbox.
 * Limits: the nodes of a program are at most three per argument of the
 * command (the reader bounds the arguments), nesting is bounded by
 * max_depth, each sequence set by IMAP_SEARCH_MAX_RANGES ranges.
 */
#include "imap_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/imap_date.h"
#include "lib-imap/imap_quote.h"
#include "lib/util.h"

/* How a key takes its arguments. */
enum key_arg {
	ARG_NONE,
	ARG_STRING,	/* astring: BODY, TEXT, FROM, ... */
	ARG_HEADER,	/* header-fld-name SP astring */
	ARG_DATE,
	ARG_NUMBER,	/* number64 */
	ARG_MODSEQ,	/* [entry-name SP entry-type-req] SP mod-sequence-valzer */
	ARG_KEYWORD,	/* flag-keyword */
	ARG_SET,	/* sequence-set */
	ARG_KEY,	/* NOT search-key */
	ARG_KEY2,	/* OR search-key SP search-key */
	ARG_NEW,	/* NEW: (RECENT UNSEEN) */
	ARG_OLD,	/* OLD: NOT RECENT */
};

struct key_def {
	const char *name;
	enum imap_search_key key;
	enum key_arg arg;
	uint8_t flag;
	bool unset;
	const char *field;	/* the HEADER field of FROM, TO, ... */
};

static const struct key_def key_defs[] = {
	{ "ALL", IMAP_SEARCH_AND, ARG_NONE, 0, false, NULL },
	{ "ANSWERED", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_ANSWERED, false, NULL },
	{ "BCC", IMAP_SEARCH_HEADER, ARG_STRING, 0, false, "BCC" },
	{ "BEFORE", IMAP_SEARCH_BEFORE, ARG_DATE, 0, false, NULL },
	{ "BODY", IMAP_SEARCH_BODY, ARG_STRING, 0, false, NULL },
	{ "CC", IMAP_SEARCH_HEADER, ARG_STRING, 0, false, "CC" },
	{ "DELETED", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_DELETED, false, NULL },
	{ "DRAFT", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_DRAFT, false, NULL },
	{ "FLAGGED", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_FLAGGED, false, NULL },
	{ "FROM", IMAP_SEARCH_HEADER, ARG_STRING, 0, false, "FROM" },
	{ "HEADER", IMAP_SEARCH_HEADER, ARG_HEADER, 0, false, NULL },
	{ "KEYWORD", IMAP_SEARCH_KEYWORD, ARG_KEYWORD, 0, false, NULL },
	{ "LARGER", IMAP_SEARCH_LARGER, ARG_NUMBER, 0, false, NULL },
	{ "MODSEQ", IMAP_SEARCH_MODSEQ, ARG_MODSEQ, 0, false, NULL },
	{ "NEW", IMAP_SEARCH_AND, ARG_NEW, 0, false, NULL },
	{ "NOT", IMAP_SEARCH_NOT, ARG_KEY, 0, false, NULL },
	{ "OLD", IMAP_SEARCH_NOT, ARG_OLD, 0, false, NULL },
	{ "OLDER", IMAP_SEARCH_OLDER, ARG_NUMBER, 0, false, NULL },
	{ "ON", IMAP_SEARCH_ON, ARG_DATE, 0, false, NULL },
	{ "OR", IMAP_SEARCH_OR, ARG_KEY2, 0, false, NULL },
	{ "RECENT", IMAP_SEARCH_RECENT, ARG_NONE, 0, false, NULL },
	{ "SEEN", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_SEEN, false, NULL },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, ARG_DATE, 0, false, NULL },
	{ "SENTON", IMAP_SEARCH_SENTON, ARG_DATE, 0, false, NULL },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE, ARG_DATE, 0, false, NULL },
	{ "SINCE", IMAP_SEARCH_SINCE, ARG_DATE, 0, false, NULL },
	{ "SMALLER", IMAP_SEARCH_SMALLER, ARG_NUMBER, 0, false, NULL },
	{ "SUBJECT", IMAP_SEARCH_HEADER, ARG_STRING, 0, false, "SUBJECT" },
	{ "TEXT", IMAP_SEARCH_TEXT, ARG_STRING, 0, false, NULL },
	{ "TO", IMAP_SEARCH_HEADER, ARG_STRING, 0, false, "TO" },
	{ "UID", IMAP_SEARCH_UID, ARG_SET, 0, false, NULL },
	{ "UNANSWERED", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_ANSWERED, true, NULL },
	{ "UNDELETED", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_DELETED, true, NULL },
	{ "UNDRAFT", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_DRAFT, true, NULL },
	{ "UNFLAGGED", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_FLAGGED, true, NULL },
	{ "UNKEYWORD", IMAP_SEARCH_KEYWORD, ARG_KEYWORD, 0, true, NULL },
	{ "UNSEEN", IMAP_SEARCH_FLAG, ARG_NONE, IMAP_SEARCH_FLAG_SEEN, true, NULL },
	{ "YOUNGER", IMAP_SEARCH_YOUNGER, ARG_NUMBER, 0, false, NULL },
};

/* The system flags by bit, as keys and as \Flags (KEYWORD \Seen). */
static const char *const flag_keys[] = { "SEEN", "ANSWERED", "FLAGGED", "DELETED", "DRAFT" };
static const char *const flag_names[] = {
	"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"
};

static const char *const date_keys[] = {
	"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"
};

struct parse {
	const struct imap_search_params *params;
	struct imap_search_program *prog;
	unsigned max_depth;
	const char *error;
};

/* ---- the program ---- */

static struct imap_search_node *fail(struct parse *p, const char *error)
{
	if (p->error == NULL)
		p->error = error;
	return NULL;
}

static struct imap_search_node *node_new(struct parse *p, enum imap_search_key key)
{
	struct imap_search_program *prog = p->prog;
	struct imap_search_node *n;

	if (prog->n_nodes == prog->cap_nodes)
		return fail(p, "search program too complex");
	n = &prog->nodes[prog->n_nodes++];
	n->key = key;
	imap_seqset_init(&n->set);
	return n;
}

static void node_add(struct imap_search_node *parent, struct imap_search_node **last,
		     struct imap_search_node *child)
{
	if (*last == NULL)
		parent->child = child;
	else
		(*last)->next = child;
	*last = child;
	parent->need |= child->need;
}

/* Arguments in args and in the lists below. */
static size_t count_args(const struct imap_arg *args)
{
	size_t n = 0;

	for (; args->type != IMAP_ARG_EOL; args++) {
		n++;
		if (args->type == IMAP_ARG_LIST)
			n += count_args(args->list);
	}
	return n;
}

void imap_search_program_free(struct imap_search_program **pp)
{
	struct imap_search_program *p = *pp;

	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->n_nodes; i++) {
		imap_seqset_deinit(&p->nodes[i].set);
		free((char *)p->nodes[i].name);
		free((char *)p->nodes[i].text);
	}
	free(p->nodes);
	free(p);
	*pp = NULL;
}

/* ---- keys ---- */

static struct imap_search_node *parse_key(struct parse *p, const struct imap_arg **ap,
					  unsigned depth);

static const struct key_def *key_find(const char *word)
{
	for (size_t i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++)
		if (strcasecmp(key_defs[i].name, word) == 0)
			return &key_defs[i];
	return NULL;
}

static char *copy_text(const char *s, size_t len)
{
	char *c = xmalloc(len + 1);

	memcpy(c, s, len);
	c[len] = '\0';
	return c;
}

/* The next argument as an astring (no NULs), or NULL. */
static const char *next_astring(const struct imap_arg **ap)
{
	const char *s;

	if ((*ap)->type == IMAP_ARG_EOL || !imap_arg_get_astring(*ap, &s))
		return NULL;
	(*ap)++;
	return s;
}

static struct imap_search_node *parse_text(struct parse *p, const struct key_def *k,
					   const struct imap_arg **ap)
{
	const char *field = k->field, *text;
	struct imap_search_node *n;
	size_t len;

	if (k->arg == ARG_HEADER && ((field = next_astring(ap)) == NULL || *field == '\0'))
		return fail(p, "HEADER needs a field name");
	if ((text = next_astring(ap)) == NULL)
		return fail(p, "search string expected");
	if ((n = node_new(p, k->key)) == NULL)
		return NULL;
	len = strlen(text);
	n->text = copy_text(text, len);
	n->text_len = len;
	imap_search_fold((char *)n->text, len);
	if (field != NULL)
		n->name = copy_text(field, strlen(field));
	n->need = k->key == IMAP_SEARCH_HEADER ? IMAP_SEARCH_NEED_HEADER :
		  IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY;
	return n;
}

static struct imap_search_node *parse_date(struct parse *p, const struct key_def *k,
					   const struct imap_arg **ap)
{
	const char *s = next_astring(ap);
	struct imap_search_node *n;
	time_t day;

	if (s == NULL || imap_date_parse(s, &day) < 0)
		return fail(p, "bad date (d-Mon-yyyy)");
	if ((n = node_new(p, k->key)) == NULL)
		return NULL;
	n->day = day;
	if (k->key >= IMAP_SEARCH_SENTBEFORE && k->key <= IMAP_SEARCH_SENTSINCE)
		n->need = IMAP_SEARCH_NEED_HEADER;
	return n;
}

static struct imap_search_node *parse_number(struct parse *p, const struct key_def *k,
					     const struct imap_arg **ap)
{
	struct imap_search_node *n;
	uint64_t num;

	if ((*ap)->type == IMAP_ARG_EOL || !imap_arg_get_number64(*ap, &num))
		return fail(p, "number expected");
	(*ap)++;
	if ((n = node_new(p, k->key)) == NULL)
		return NULL;
	n->number = num;
	return n;
}

/* MODSEQ ["/flags/\\seen" all] 12345 (RFC 7162 §3.1.5): one mod-sequence
   per message here, so the entry is checked, then left out. */
static struct imap_search_node *parse_modseq(struct parse *p, const struct key_def *k,
					     const struct imap_arg **ap)
{
	static const char *const types[] = { "priv", "shared", "all" };
	struct imap_search_node *n;
	const char *entry;
	size_t len;
	bool type_ok = false;

	if (imap_arg_get_string(*ap, &entry, &len)) {
		if (len < 8 || strncasecmp(entry, "/flags/", 7) != 0)
			return fail(p, "MODSEQ entry must be /flags/<flag>");
		for (unsigned i = 0; i < 3; i++)
			type_ok |= imap_arg_atom_equals(*ap + 1, types[i]);
		if (!type_ok)
			return fail(p, "MODSEQ entry type must be priv, shared or all");
		*ap += 2;
	}
	if ((n = parse_number(p, k, ap)) == NULL)	/* number64: at most 2^63 - 1 */
		return NULL;
	p->prog->modseq = true;
	return n;
}

/* KEYWORD name; a system flag given as a keyword is that flag. */
static struct imap_search_node *parse_keyword(struct parse *p, const struct key_def *k,
					      const struct imap_arg **ap)
{
	struct imap_search_node *n;
	const char *name;

	if ((*ap)->type == IMAP_ARG_EOL || !imap_arg_get_atom(*ap, &name))
		return fail(p, "keyword expected");
	(*ap)++;
	for (unsigned i = 0; i < 5; i++) {
		if (strcasecmp(name, flag_names[i]) != 0)
			continue;
		if ((n = node_new(p, IMAP_SEARCH_FLAG)) != NULL) {
			n->flag = (uint8_t)(1u << i);
			n->unset = k->unset;
		}
		return n;
	}
	if ((n = node_new(p, IMAP_SEARCH_KEYWORD)) != NULL) {
		n->name = copy_text(name, strlen(name));
		n->unset = k->unset;
	}
	return n;
}

/* "$" (RFC 5182): the UIDs of the saved result; none saved: NOT ALL. */
static struct imap_search_node *parse_saved(struct parse *p, const char *s)
{
	struct imap_search_node *n, *c, *last = NULL;
	const char *error;

	if (strcmp(s, "$") != 0 || p->params->saved == NULL)
		return fail(p, strcmp(s, "$") != 0 ? "$ stands alone" : "no SEARCHRES here");
	if (p->params->saved[0] == '\0') {
		if ((n = node_new(p, IMAP_SEARCH_NOT)) == NULL ||
		    (c = node_new(p, IMAP_SEARCH_AND)) == NULL)
			return NULL;
		node_add(n, &last, c);
		return n;
	}
	if ((n = node_new(p, IMAP_SEARCH_UID)) == NULL)
		return NULL;
	if (imap_seqset_parse(&n->set, p->params->saved, p->params->max_uid,
			      IMAP_SEARCH_MAX_RANGES, &error) < 0)
		return fail(p, error);
	return n;
}

static struct imap_search_node *parse_set(struct parse *p, enum imap_search_key key,
					  const char *s)
{
	uint32_t star = key == IMAP_SEARCH_UID ? p->params->max_uid : p->params->messages;
	struct imap_search_node *n;
	const char *error;

	if (s[0] == '$')
		return parse_saved(p, s);
	if ((n = node_new(p, key)) == NULL)
		return NULL;
	if (imap_seqset_parse(&n->set, s, star, IMAP_SEARCH_MAX_RANGES, &error) < 0)
		return fail(p, error);
	return n;
}

/* NOT key, OR key key. */
static struct imap_search_node *parse_logic(struct parse *p, const struct key_def *k,
					    const struct imap_arg **ap, unsigned depth)
{
	struct imap_search_node *n = node_new(p, k->key), *last = NULL, *c;
	unsigned count = k->arg == ARG_KEY2 ? 2 : 1;

	for (unsigned i = 0; n != NULL && i < count; i++) {
		if ((*ap)->type == IMAP_ARG_EOL)
			return fail(p, "search key expected");
		if ((c = parse_key(p, ap, depth + 1)) == NULL)
			return NULL;
		node_add(n, &last, c);
	}
	return n;
}

/* NEW is (RECENT UNSEEN), OLD is NOT RECENT. */
static struct imap_search_node *parse_new_old(struct parse *p, const struct key_def *k)
{
	struct imap_search_node *n = node_new(p, k->key), *last = NULL, *c;

	if (n == NULL || (c = node_new(p, IMAP_SEARCH_RECENT)) == NULL)
		return NULL;
	node_add(n, &last, c);
	if (k->arg == ARG_OLD)
		return n;
	if ((c = node_new(p, IMAP_SEARCH_FLAG)) == NULL)
		return NULL;
	c->flag = IMAP_SEARCH_FLAG_SEEN;
	c->unset = true;
	node_add(n, &last, c);
	return n;
}

static struct imap_search_node *parse_args(struct parse *p, const struct key_def *k,
					   const struct imap_arg **ap, unsigned depth)
{
	struct imap_search_node *n;
	const char *set;

	switch (k->arg) {
	case ARG_STRING:
	case ARG_HEADER:
		return parse_text(p, k, ap);
	case ARG_DATE:
		return parse_date(p, k, ap);
	case ARG_NUMBER:
		return parse_number(p, k, ap);
	case ARG_MODSEQ:
		return parse_modseq(p, k, ap);
	case ARG_KEYWORD:
		return parse_keyword(p, k, ap);
	case ARG_SET:
		if ((*ap)->type == IMAP_ARG_EOL || !imap_arg_get_atom(*ap, &set))
			return fail(p, "sequence set expected");
		(*ap)++;
		return parse_set(p, k->key, set);
	case ARG_KEY:
	case ARG_KEY2:
		return parse_logic(p, k, ap, depth);
	case ARG_NEW:
	case ARG_OLD:
		return parse_new_old(p, k);
	case ARG_NONE:
		break;
	}
	if ((n = node_new(p, k->key)) != NULL) {
		n->flag = k->flag;
		n->unset = k->unset;
	}
	return n;
}

/* "(" search-key *(SP search-key) ")" */
static struct imap_search_node *parse_group(struct parse *p, const struct imap_arg **ap,
					    unsigned depth)
{
	const struct imap_arg *items = (*ap)->list;
	struct imap_search_node *n, *last = NULL, *c;

	(*ap)++;
	if (items->type == IMAP_ARG_EOL)
		return fail(p, "empty search key list");
	if ((n = node_new(p, IMAP_SEARCH_AND)) == NULL)
		return NULL;
	while (items->type != IMAP_ARG_EOL) {
		if ((c = parse_key(p, &items, depth + 1)) == NULL)
			return NULL;
		node_add(n, &last, c);
	}
	return n;
}

static struct imap_search_node *parse_key(struct parse *p, const struct imap_arg **ap,
					  unsigned depth)
{
	const struct key_def *k;
	const char *word;

	if (depth > p->max_depth)
		return fail(p, "search program nested too deep");
	if ((*ap)->type == IMAP_ARG_LIST)
		return parse_group(p, ap, depth);
	if (!imap_arg_get_atom(*ap, &word))
		return fail(p, "search key expected");
	(*ap)++;
	if ((word[0] >= '0' && word[0] <= '9') || word[0] == '*' || word[0] == '$')
		return parse_set(p, IMAP_SEARCH_SEQSET, word);
	if ((k = key_find(word)) == NULL)
		return fail(p, "unknown search key");
	return parse_args(p, k, ap, depth);
}

/* ---- RETURN and CHARSET ---- */

static int parse_return(struct parse *p, const struct imap_arg **ap)
{
	static const char *const opts[] = { "MIN", "MAX", "ALL", "COUNT", "SAVE" };
	const struct imap_arg *list;
	size_t count, j;

	p->prog->return_opts = IMAP_SEARCH_RETURN_ALL;
	if (!imap_arg_atom_equals(*ap, "RETURN"))
		return 1;
	if (!imap_arg_get_list(*ap + 1, &list, &count)) {
		fail(p, "RETURN needs a list of options");
		return -1;
	}
	*ap += 2;
	p->prog->esearch = true;
	p->prog->return_opts = count == 0 ? IMAP_SEARCH_RETURN_ALL : 0;
	for (size_t i = 0; i < count; i++) {
		for (j = 0; j < 5 && !imap_arg_atom_equals(&list[i], opts[j]); j++)
			;
		if (j == 5) {
			fail(p, "unknown RETURN option");
			return -1;
		}
		p->prog->return_opts |= 1u << j;
	}
	return 1;
}

/* 1, 0 for a charset other than UTF-8 and US-ASCII, -1. */
static int parse_charset(struct parse *p, const struct imap_arg **ap)
{
	const char *cs;

	if (!imap_arg_atom_equals(*ap, "CHARSET"))
		return 1;
	(*ap)++;
	if ((cs = next_astring(ap)) == NULL) {
		fail(p, "CHARSET needs a name");
		return -1;
	}
	return strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "US-ASCII") == 0 ? 1 : 0;
}

static int parse_program(struct parse *p, const struct imap_arg *args)
{
	struct imap_search_node *root, *last = NULL, *c;
	int ret;

	if ((root = node_new(p, IMAP_SEARCH_AND)) == NULL)
		return -1;
	p->prog->root = root;
	if ((ret = parse_return(p, &args)) <= 0 || (ret = parse_charset(p, &args)) <= 0)
		return ret;
	if (args->type == IMAP_ARG_EOL) {
		fail(p, "search key expected");
		return -1;
	}
	while (args->type != IMAP_ARG_EOL) {
		if ((c = parse_key(p, &args, 1)) == NULL)
			return -1;
		node_add(root, &last, c);
	}
	p->prog->need = root->need;
	return 1;
}

int imap_search_parse(const struct imap_arg *args,
		      const struct imap_search_params *params,
		      struct imap_search_program **r, const char **error_r)
{
	struct parse p = { .params = params };
	int ret;

	p.max_depth = params->max_depth != 0 ? params->max_depth : IMAP_SEARCH_MAX_DEPTH;
	p.prog = xcalloc(1, sizeof(*p.prog));
	p.prog->cap_nodes = (unsigned)(count_args(args) * 3 + 1);
	p.prog->nodes = xcalloc(p.prog->cap_nodes, sizeof(*p.prog->nodes));
	ret = parse_program(&p, args);
	if (ret <= 0) {
		imap_search_program_free(&p.prog);
		if (ret < 0)
			*error_r = p.error != NULL ? p.error : "bad search program";
		return ret;
	}
	*r = p.prog;
	return 1;
}

/* ---- writing a program back ---- */

static int write_node(const struct imap_search_node *n, struct buf *out, bool top);

static int write_children(const struct imap_search_node *n, struct buf *out)
{
	for (const struct imap_search_node *c = n->child; c != NULL; c = c->next) {
		if (c != n->child && buf_putc(out, ' ') < 0)
			return -1;
		if (write_node(c, out, false) < 0)
			return -1;
	}
	return 1;
}

static int write_day(struct buf *out, const char *key, time_t day)
{
	struct buf dt;
	const char *s;
	int ret;

	buf_init(&dt, 64);
	if (imap_date_time_write(&dt, day, 0) < 0) {
		buf_deinit(&dt);
		return -1;
	}
	s = buf_cstr(&dt);
	ret = buf_printf(out, "%s %.*s", key, (int)strcspn(s, " "), s);
	buf_deinit(&dt);
	return ret;
}

static int write_text(const struct imap_search_node *n, struct buf *out)
{
	const char *key = n->key == IMAP_SEARCH_BODY ? "BODY " : "TEXT ";

	if (n->key == IMAP_SEARCH_HEADER) {
		if (buf_puts(out, "HEADER ") < 0 ||
		    imap_quote_astring(out, n->name, strlen(n->name), true) < 0 ||
		    buf_putc(out, ' ') < 0)
			return -1;
	} else if (buf_puts(out, key) < 0) {
		return -1;
	}
	return imap_quote_string(out, n->text, n->text_len, true);
}

static int write_flag(const struct imap_search_node *n, struct buf *out)
{
	unsigned i = 0;

	while (i < 4 && n->flag != (1u << i))
		i++;
	return buf_printf(out, "%s%s", n->unset ? "UN" : "", flag_keys[i]);
}

static int write_node(const struct imap_search_node *n, struct buf *out, bool top)
{
	switch (n->key) {
	case IMAP_SEARCH_AND:
		if (n->child == NULL)
			return buf_puts(out, "ALL");
		if (top)
			return write_children(n, out);
		return buf_putc(out, '(') < 0 || write_children(n, out) < 0 ||
		       buf_putc(out, ')') < 0 ? -1 : 1;
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		return buf_puts(out, n->key == IMAP_SEARCH_OR ? "OR " : "NOT ") < 0 ||
		       write_children(n, out) < 0 ? -1 : 1;
	case IMAP_SEARCH_UID:
		if (buf_puts(out, "UID ") < 0)
			return -1;
		/* fall through */
	case IMAP_SEARCH_SEQSET:
		return imap_seqset_write(&n->set, out) < 0 ? -1 : 1;
	case IMAP_SEARCH_FLAG:
		return write_flag(n, out);
	case IMAP_SEARCH_KEYWORD:
		return buf_printf(out, "%sKEYWORD %s", n->unset ? "UN" : "", n->name);
	case IMAP_SEARCH_RECENT:
		return buf_puts(out, "RECENT");
	case IMAP_SEARCH_MODSEQ:
		return buf_printf(out, "MODSEQ %llu", (unsigned long long)n->number);
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
		return buf_printf(out, "%s %llu", n->key == IMAP_SEARCH_LARGER ?
				  "LARGER" : "SMALLER", (unsigned long long)n->number);
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
		return buf_printf(out, "%s %llu", n->key == IMAP_SEARCH_OLDER ?
				  "OLDER" : "YOUNGER", (unsigned long long)n->number);
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_ON: case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
		return write_day(out, date_keys[n->key - IMAP_SEARCH_BEFORE], n->day);
	case IMAP_SEARCH_HEADER:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		return write_text(n, out);
	}
	return -1;
}

static int write_return(const struct imap_search_program *p, struct buf *out)
{
	static const char *const opts[] = { "MIN", "MAX", "ALL", "COUNT", "SAVE" };
	bool first = true;

	if (buf_puts(out, "RETURN (") < 0)
		return -1;
	for (unsigned i = 0; i < 5; i++) {
		if ((p->return_opts & (1u << i)) == 0)
			continue;
		if (buf_printf(out, "%s%s", first ? "" : " ", opts[i]) < 0)
			return -1;
		first = false;
	}
	return buf_puts(out, ") ");
}

int imap_search_write(const struct imap_search_program *p, struct buf *out)
{
	if (p->esearch && write_return(p, out) < 0)
		return -1;
	return write_node(p->root, out, true);
}

/* ---- folding and matching ---- */

/* The simple lower-case form of a code point below U+0800, in the same
   number of UTF-8 bytes. */
static uint32_t fold_char(uint32_t c)
{
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) || (c >= 0x391 && c <= 0x3ab && c != 0x3a2) ||
	    (c >= 0x410 && c <= 0x42f))
		return c + 0x20;
	if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) ||
	    (c >= 0x14a && c <= 0x177))
		return c | 1;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return (c & 1) != 0 ? c + 1 : c;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	switch (c) {
	case 0x178: return 0xff;
	case 0x386: return 0x3ac;
	case 0x38c: return 0x3cc;
	case 0x3c2: return 0x3c3;	/* final sigma */
	default: return c;
	}
}

void imap_search_fold(char *s, size_t len)
{
	unsigned char *u = (unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if (u[i] >= 'A' && u[i] <= 'Z') {
			u[i] = (unsigned char)(u[i] + 32);
		} else if (u[i] >= 0xc2 && u[i] <= 0xdf && i + 1 < len &&
			   (u[i + 1] & 0xc0) == 0x80) {
			uint32_t c = fold_char(((uint32_t)(u[i] & 0x1f) << 6) | (u[i + 1] & 0x3f));
			u[i] = (unsigned char)(0xc0 | (c >> 6));
			u[i + 1] = (unsigned char)(0x80 | (c & 0x3f));
			i++;
		}
	}
}

int imap_search_match(const char *needle, size_t needle_len, const char *text,
		      size_t len, struct buf *scratch)
{
	if (needle_len == 0)
		return 1;
	if (len < needle_len)
		return 0;
	buf_reset(scratch);
	if (buf_append(scratch, text, len) < 0)
		return -1;
	imap_search_fold(scratch->data, len);
	return memmem(scratch->data, len, needle, needle_len) != NULL;
}

/* ---- Date: days ---- */

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static const char *skip_alpha(const char *s)
{
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
		s++;
	return s;
}

/* 1..max digits at *sp into *n; the count, 0 if none. */
static int read_digits(const char **sp, int max, int *n)
{
	int count = 0;

	*n = 0;
	while (count < max && **sp >= '0' && **sp <= '9') {
		*n = *n * 10 + (**sp - '0');
		(*sp)++;
		count++;
	}
	return count;
}

/*
 * RFC 5322 §3.3 (and §4.3 obs-year):
 *   date-time = [ day-of-week "," ] date time [CFWS]
 *   date      = day month year
 *   year      = 4*DIGIT / obs-year (2DIGIT: +1900 from 50, else +2000;
 *               3DIGIT: +1900)
 */
int imap_search_date_header(const char *value, time_t *day_r)
{
	const char *s = skip_blanks(value), *mon;
	char text[32];
	int day, year, digits;

	if (skip_alpha(s) != s) {
		s = skip_blanks(skip_alpha(s));
		if (*s == ',')
			s = skip_blanks(s + 1);
	}
	if (read_digits(&s, 2, &day) == 0)
		return -1;
	s = *s == '-' ? s + 1 : skip_blanks(s);
	mon = s;
	if (skip_alpha(s) - s < 3)
		return -1;
	s = skip_alpha(s);
	s = *s == '-' ? s + 1 : skip_blanks(s);
	digits = read_digits(&s, 4, &year);
	if (digits < 2 || (*s >= '0' && *s <= '9'))
		return -1;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	snprintf(text, sizeof(text), "%d-%.3s-%04d", day, mon, year);
	return imap_date_parse(text, day_r);
}

/* ---- ESEARCH ---- */

int imap_search_esearch_write(struct buf *out, const char *tag, bool uid,
			      unsigned return_opts, const uint32_t *nums, size_t n,
			      uint64_t modseq)
{
	size_t start = out->len;

	if (buf_puts(out, "ESEARCH (TAG ") < 0 || imap_quote_quoted(out, tag, strlen(tag)) < 0 ||
	    buf_putc(out, ')') < 0 || (uid && buf_puts(out, " UID") < 0))
		goto full;
	if (n > 0 && (return_opts & IMAP_SEARCH_RETURN_MIN) != 0 &&
	    buf_printf(out, " MIN %u", nums[0]) < 0)
		goto full;
	if (n > 0 && (return_opts & IMAP_SEARCH_RETURN_MAX) != 0 &&
	    buf_printf(out, " MAX %u", nums[n - 1]) < 0)
		goto full;
	if (n > 0 && (return_opts & IMAP_SEARCH_RETURN_ALL) != 0 &&
	    (buf_puts(out, " ALL ") < 0 || imap_seqset_format(nums, n, out) < 0))
		goto full;
	if ((return_opts & IMAP_SEARCH_RETURN_COUNT) != 0 &&
	    buf_printf(out, " COUNT %zu", n) < 0)
		goto full;
	if (n > 0 && modseq != 0 && buf_printf(out, " MODSEQ %llu", (unsigned long long)modseq) < 0)
		goto full;
	return 1;
full:
	buf_truncate(out, start);
	return -1;
}
