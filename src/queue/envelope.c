/*
 * envelope.c - the envelope record and its text file format:
 *
 *   correio-envelope 1
 *   id <queue id>
 *   arrival <unix seconds>
 *   host <hostname>
 *   sender <address or empty>
 *   size <bytes of .msg>
 *   header-offset <bytes>
 *   body <0|1|2>  smtputf8 <0|1>  ret <0|1|2>  envid <xtext>
 *   routed <0|1>  warned <0|1>  held <0|1>  junk 1 (only when set)
 *   rcpt <state> <attempts> <next attempt> <notify> <orcpt or -> <address>
 *   error <rcpt index> <text>       (last failure of that recipient)
 *   mta <rcpt index> <host>         (the host that gave it)
 *   target <rcpt index> <l|r|x> <address or reason>
 *                                   (resolution recorded at RCPT, before
 *                                    the recipient is expanded)
 *   route <rcpt index> <l|r|x> <address given at RCPT, or ->
 *                                   (an expanded recipient: what it is)
 *   end
 *
 * Values never contain spaces except the last field of a line, and never
 * newlines: SMTP addresses and xtext cannot hold them.  An envelope
 * without target or route lines (written by an older correio) has its
 * recipients of kind '?': the relay resolves them when it loads them.
 */
#include "envelope.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lib-smtp/smtp_parse.h"
#include "lib/util.h"

struct envelope *envelope_new(void)
{
	struct envelope *e = xcalloc(1, sizeof(*e));

	envelope_set(&e->sender, "");
	envelope_set(&e->host, "localhost");
	return e;
}

static void free_targets(struct envelope_rcpt *r)
{
	for (unsigned k = 0; k < r->n_targets; k++)
		free(r->targets[k].address);
	free(r->targets);
	r->targets = NULL;
	r->n_targets = 0;
}

static void free_rcpt(struct envelope_rcpt *r)
{
	free(r->address);
	free(r->orcpt);
	free(r->last_error);
	free(r->remote_mta);
	free(r->orig);
	free_targets(r);
}

static void free_rcpts(struct envelope *e)
{
	for (unsigned i = 0; i < e->n_rcpts; i++)
		free_rcpt(&e->rcpts[i]);
	free(e->rcpts);
	e->rcpts = NULL;
	e->n_rcpts = e->cap_rcpts = 0;
}

void envelope_drop_last_rcpt(struct envelope *e)
{
	if (e->n_rcpts > 0)
		free_rcpt(&e->rcpts[--e->n_rcpts]);
}

void envelope_take_rcpts(struct envelope *e, struct envelope *from)
{
	free_rcpts(e);
	e->rcpts = from->rcpts;
	e->n_rcpts = from->n_rcpts;
	e->cap_rcpts = from->cap_rcpts;
	from->rcpts = NULL;
	from->n_rcpts = from->cap_rcpts = 0;
}

void envelope_free(struct envelope **ep)
{
	struct envelope *e = *ep;

	if (e == NULL)
		return;
	free_rcpts(e);
	free(e->host);
	free(e->sender);
	free(e->envid);
	free(e);
	*ep = NULL;
}

void envelope_set(char **field, const char *value)
{
	free(*field);
	*field = value == NULL ? NULL : xstrdup(value);
}

int envelope_add_rcpt(struct envelope *e, const char *address, const char *orcpt,
		      unsigned notify)
{
	struct envelope_rcpt *r;

	/* every recipient has an address: delivery and the relay rely on it */
	assert(address != NULL);
	if (e->n_rcpts >= 100000)
		return -1;
	if (e->n_rcpts == e->cap_rcpts) {
		unsigned cap = e->cap_rcpts == 0 ? 4 : e->cap_rcpts * 2;
		r = xrealloc(e->rcpts, cap * sizeof(*r));
		e->rcpts = r;
		e->cap_rcpts = cap;
	}
	r = &e->rcpts[e->n_rcpts++];
	memset(r, 0, sizeof(*r));
	envelope_set(&r->address, address);
	envelope_set(&r->orcpt, orcpt);
	r->notify = notify;
	r->state = ENVELOPE_PENDING;
	r->kind = ENVELOPE_UNRESOLVED;
	return 1;
}

int envelope_add_target(struct envelope *e, unsigned i, char kind, const char *address)
{
	struct envelope_rcpt *r;
	struct envelope_target *t;

	if (i >= e->n_rcpts || kind == '\0' || strchr("lrx", kind) == NULL ||
	    e->rcpts[i].n_targets >= 1000)
		return -1;
	r = &e->rcpts[i];
	t = xrealloc(r->targets, (r->n_targets + 1) * sizeof(*t));
	r->targets = t;
	t = &r->targets[r->n_targets++];
	t->kind = kind;
	t->address = NULL;
	envelope_set(&t->address, address);
	return 1;
}

void envelope_clear_targets(struct envelope *e, unsigned i)
{
	if (i < e->n_rcpts)
		free_targets(&e->rcpts[i]);
}

static bool has_target(const struct envelope *e, char kind, const char *address)
{
	for (unsigned i = 0; i < e->n_rcpts; i++)
		if (e->rcpts[i].kind == kind && kind != ENVELOPE_FAIL &&
		    strcmp(e->rcpts[i].address, address) == 0)
			return true;
	return false;
}

void envelope_expand(struct envelope *e)
{
	struct envelope *x = envelope_new();
	struct envelope_rcpt *r, *n;

	for (unsigned i = 0; i < e->n_rcpts; i++) {
		r = &e->rcpts[i];
		if (r->n_targets == 0) {
			if (envelope_add_rcpt(x, r->address, NULL, 0) < 0)
				continue;
			n = &x->rcpts[x->n_rcpts - 1];
			free(n->address);
			*n = *r;		/* moved: its strings change hands */
			memset(r, 0, sizeof(*r));
			continue;
		}
		for (unsigned k = 0; k < r->n_targets; k++) {
			const struct envelope_target *t = &r->targets[k];
			const char *address = t->kind == ENVELOPE_FAIL ? r->address : t->address;
			if (has_target(x, t->kind, address) ||
			    envelope_add_rcpt(x, address, r->orcpt, r->notify) < 0)
				continue;
			n = &x->rcpts[x->n_rcpts - 1];
			n->kind = t->kind;
			n->state = r->state;
			n->attempts = r->attempts;
			n->next_attempt = r->next_attempt;
			if (strcmp(address, r->address) != 0)
				envelope_set(&n->orig, r->address);
			if (t->kind == ENVELOPE_FAIL) {
				n->state = ENVELOPE_FAILED;
				envelope_set(&n->last_error, t->address);
			}
		}
	}
	envelope_take_rcpts(e, x);
	envelope_free(&x);
}

int envelope_format(const struct envelope *e, struct buf *out)
{
	int ok = buf_printf(out, "correio-envelope 1\nid %s\narrival %llu\nhost %s\n"
			    "sender %s\nsize %llu\nheader-offset %llu\nbody %d\n"
			    "smtputf8 %d\nret %d\n",
			    e->id, (unsigned long long)e->arrival, e->host, e->sender,
			    (unsigned long long)e->size,
			    (unsigned long long)e->header_offset, e->body,
			    e->smtputf8 ? 1 : 0, e->ret);

	if (ok > 0 && e->envid != NULL)
		ok = buf_printf(out, "envid %s\n", e->envid);
	if (ok > 0)
		ok = buf_printf(out, "routed %d\nwarned %d\nheld %d\n", e->routed,
				e->warned, e->held);
	if (ok > 0 && e->junk)
		ok = buf_printf(out, "junk 1\n");
	for (unsigned i = 0; ok > 0 && i < e->n_rcpts; i++) {
		const struct envelope_rcpt *r = &e->rcpts[i];
		ok = buf_printf(out, "rcpt %c %u %llu %u %s %s\n", r->state, r->attempts,
				(unsigned long long)r->next_attempt, r->notify,
				r->orcpt != NULL ? r->orcpt : "-", r->address);
		if (ok > 0 && r->last_error != NULL)
			ok = buf_printf(out, "error %u %s\n", i, r->last_error);
		if (ok > 0 && r->remote_mta != NULL)
			ok = buf_printf(out, "mta %u %s\n", i, r->remote_mta);
		if (ok > 0 && r->kind != ENVELOPE_UNRESOLVED)
			ok = buf_printf(out, "route %u %c %s\n", i, r->kind,
					r->orig != NULL ? r->orig : "-");
		for (unsigned k = 0; ok > 0 && k < r->n_targets; k++)
			ok = buf_printf(out, "target %u %c %s\n", i, r->targets[k].kind,
					r->targets[k].address);
	}
	if (ok > 0)
		ok = buf_puts(out, "end\n");
	return ok;
}

static int parse_num(const char *v, uint64_t *r)
{
	return parse_uint(v, r);
}

/* "rcpt <state> <attempts> <next> <notify> <orcpt> <address>" */
static int parse_rcpt(struct envelope *e, char *value)
{
	char *f[6];
	uint64_t attempts, next, notify;
	struct envelope_rcpt *r;

	for (int i = 0; i < 5; i++) {
		f[i] = value;
		if ((value = strchr(value, ' ')) == NULL)
			return -1;
		*value++ = '\0';
	}
	f[5] = value;
	if (strlen(f[0]) != 1 || strchr("psbf", f[0][0]) == NULL ||
	    parse_num(f[1], &attempts) < 0 || parse_num(f[2], &next) < 0 ||
	    parse_num(f[3], &notify) < 0 ||
	    envelope_add_rcpt(e, f[5], strcmp(f[4], "-") == 0 ? NULL : f[4],
			      (unsigned)notify) < 0)
		return -1;
	r = &e->rcpts[e->n_rcpts - 1];
	r->state = f[0][0];
	r->attempts = (unsigned)attempts;
	r->next_attempt = next;
	return 1;
}

/* "route <index> <kind> <orig or ->" (route) or "target <index> <kind>
   <address>" (!route). */
static int parse_route(struct envelope *e, bool route, char *value)
{
	char *kind = strchr(value, ' '), *text;
	struct envelope_rcpt *r;
	uint64_t n;

	if (kind == NULL)
		return -1;
	*kind++ = '\0';
	if (parse_num(value, &n) < 0 || n >= e->n_rcpts || kind[0] == '\0' ||
	    strchr("lrx", kind[0]) == NULL || kind[1] != ' ' || kind[2] == '\0')
		return -1;
	text = kind + 2;
	r = &e->rcpts[n];
	if (!route)
		return r->kind == ENVELOPE_UNRESOLVED ?
		       envelope_add_target(e, (unsigned)n, kind[0], text) : -1;
	if (r->kind != ENVELOPE_UNRESOLVED || r->n_targets > 0)
		return -1;	/* one route, and never both */
	r->kind = kind[0];
	envelope_set(&r->orig, strcmp(text, "-") == 0 ? NULL : text);
	return 1;
}

/* Apply one "key value" line.  Returns 1, 0 for "end", -1 on error. */
static int envelope_parse_line(struct envelope *e, char *line)
{
	char *value = strchr(line, ' ');
	uint64_t n;

	if (strcmp(line, "end") == 0)
		return 0;
	if (value == NULL)
		return strcmp(line, "sender") == 0 ? 1 : -1;
	*value++ = '\0';
	if (strcmp(line, "id") == 0) {
		if (str_copy(e->id, value, sizeof(e->id)) >= sizeof(e->id))
			return -1;
	} else if (strcmp(line, "host") == 0) {
		envelope_set(&e->host, value);
	} else if (strcmp(line, "sender") == 0) {
		envelope_set(&e->sender, value);
	} else if (strcmp(line, "envid") == 0) {
		envelope_set(&e->envid, value);
	} else if (strcmp(line, "rcpt") == 0) {
		return parse_rcpt(e, value);
	} else if (strcmp(line, "route") == 0 || strcmp(line, "target") == 0) {
		return parse_route(e, line[0] == 'r', value);
	} else if (strcmp(line, "error") == 0 || strcmp(line, "mta") == 0) {
		char *text = strchr(value, ' ');
		if (text == NULL)
			return -1;
		*text++ = '\0';
		if (parse_num(value, &n) < 0 || n >= e->n_rcpts)
			return -1;
		envelope_set(line[0] == 'e' ? &e->rcpts[n].last_error :
			     &e->rcpts[n].remote_mta, text);
	} else {
		if (parse_num(value, &n) < 0)
			return -1;
		/* body and ret are 0, 1 or 2: anything else is a damaged file */
		if ((strcmp(line, "body") == 0 && n > SMTP_BODY_BINARYMIME) ||
		    (strcmp(line, "ret") == 0 && n > SMTP_RET_HDRS))
			return -1;
		if (strcmp(line, "arrival") == 0)
			e->arrival = n;
		else if (strcmp(line, "size") == 0)
			e->size = n;
		else if (strcmp(line, "header-offset") == 0)
			e->header_offset = n;
		else if (strcmp(line, "body") == 0)
			e->body = (int)n;
		else if (strcmp(line, "smtputf8") == 0)
			e->smtputf8 = n != 0;
		else if (strcmp(line, "ret") == 0)
			e->ret = (int)n;
		else if (strcmp(line, "routed") == 0)
			e->routed = n != 0;
		else if (strcmp(line, "warned") == 0)
			e->warned = n != 0;
		else if (strcmp(line, "held") == 0)
			e->held = n != 0;
		else if (strcmp(line, "junk") == 0)
			e->junk = n != 0;
		/* unknown numeric keys are ignored: newer versions may add some */
	}
	return 1;
}

int envelope_parse(const char *data, size_t len, struct envelope **r,
		   const char **error_r)
{
	struct envelope *e = envelope_new();
	struct buf copy;
	char *line, *next;
	int ret = -1;

	buf_init(&copy, 0);
	buf_append(&copy, data, len);
	line = copy.data;
	*error_r = "torn envelope (no end line)";
	if (line == NULL || strncmp(line, "correio-envelope 1\n", 19) != 0) {
		*error_r = "not an envelope file";
		goto out;
	}
	for (line += 19; (next = strchr(line, '\n')) != NULL; line = next + 1) {
		*next = '\0';
		ret = envelope_parse_line(e, line);
		if (ret <= 0)
			break;
	}
	if (ret < 0)
		*error_r = "bad envelope line";
	else if (ret == 0 && e->id[0] != '\0' && e->n_rcpts > 0)
		ret = 1;
	else
		ret = -1;
out:
	buf_deinit(&copy);
	if (ret == 1)
		*r = e;
	else
		envelope_free(&e);
	return ret == 1 ? 1 : -1;
}

bool envelope_dsn_wanted(enum dsn_kind kind, unsigned notify)
{
	if ((notify & SMTP_NOTIFY_NEVER) != 0)
		return false;
	switch (kind) {
	case DSN_FAILURE:
		return notify == 0 || (notify & SMTP_NOTIFY_FAILURE) != 0;
	case DSN_DELAY:
		return notify == 0 || (notify & SMTP_NOTIFY_DELAY) != 0;
	case DSN_SUCCESS:
		return (notify & SMTP_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

bool envelope_dsn_ret_full(enum dsn_kind kind, int ret)
{
	return kind == DSN_FAILURE && ret != SMTP_RET_HDRS;
}
