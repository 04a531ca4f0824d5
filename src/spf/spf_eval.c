/*
 * spf_eval.c - check_host() (RFC 7208 §4-§6) as a state machine that
 * stops at each DNS lookup and goes on with the answer.  include and
 * redirect push a frame; the limits of §4.6.4 hold over the whole check.
 */
#include "spf/spf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "lib/util.h"

#define MAX_LOOKUPS 10
#define MAX_VOIDS 2
#define MAX_MX 10
#define MAX_DEPTH (MAX_LOOKUPS + 2)

enum step { STEP_FETCH, STEP_MECH, STEP_MX_NAMES, STEP_MX_ADDRS };

struct frame {
	char domain[256];
	char *txt;
	struct spf_record rec;
	unsigned term;
	bool redirected;	/* reached by redirect=: "none" is a permerror */
};

struct spf_check {
	struct sockaddr_storage ip;
	char sender[600];
	char helo[256];
	spf_query_fn *query;
	spf_done_fn *done;
	void *ctx;
	struct frame frames[MAX_DEPTH];
	unsigned depth;
	unsigned lookups, voids;
	enum step step;
	char mx[MAX_MX][256];
	unsigned n_mx, mx_idx;
	bool finished;
	char detail[300];
};

static void run(struct spf_check *c);

struct spf_check *spf_check_new(const struct sockaddr_storage *ip, const char *domain,
				const char *sender, const char *helo, spf_query_fn *query,
				spf_done_fn *done, void *ctx)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));

	c->ip = *ip;
	str_copy(c->sender, sender, sizeof(c->sender));
	str_copy(c->helo, helo, sizeof(c->helo));
	str_copy(c->frames[0].domain, domain, sizeof(c->frames[0].domain));
	str_lower(c->frames[0].domain);
	c->depth = 1;
	c->query = query;
	c->done = done;
	c->ctx = ctx;
	return c;
}

/* The result, with a detail made of two pieces of text. */
static void finish(struct spf_check *c, enum spf_result r, const char *a, const char *b)
{
	if (c->finished)
		return;
	c->finished = true;
	snprintf(c->detail, sizeof(c->detail), "%s%s", a, b);
	c->done(c->ctx, r, c->detail);
}

static struct frame *top(struct spf_check *c)
{
	return &c->frames[c->depth - 1];
}

static void fetch(struct spf_check *c)
{
	struct frame *f = top(c);

	c->step = STEP_FETCH;
	c->query(c->ctx, c, f->domain, DNS_TXT);
}

void spf_check_start(struct spf_check *c)
{
	const char *d = c->frames[0].domain;

	/* §4.3: a domain that is not a usable FQDN has no record */
	if (d[0] == '\0' || strchr(d, '.') == NULL || strlen(d) > 253 || strstr(d, "..") != NULL) {
		finish(c, SPF_NONE, d, " is not a usable domain");
		return;
	}
	fetch(c);
}

static bool count_lookup(struct spf_check *c)
{
	if (++c->lookups > MAX_LOOKUPS) {
		finish(c, SPF_PERMERROR, "more than 10 DNS lookups", "");
		return false;
	}
	return true;
}

static bool count_void(struct spf_check *c)
{
	if (++c->voids > MAX_VOIDS) {
		finish(c, SPF_PERMERROR, "more than 2 void lookups", "");
		return false;
	}
	return true;
}

/* The target of a term: its domain-spec expanded, else the frame's domain. */
static bool target(struct spf_check *c, const char *spec, size_t len, char *out, size_t size)
{
	struct frame *f = top(c);
	struct spf_macro_ctx m = { c->sender, f->domain, &c->ip, c->helo };
	const char *error;

	if (spec == NULL) {
		str_copy(out, f->domain, size);
		return true;
	}
	if (spf_macro_expand(spec, len, &m, out, size, &error) < 0) {
		finish(c, SPF_PERMERROR, error, "");
		return false;
	}
	return true;
}

static enum dns_type addr_type(const struct spf_check *c)
{
	return c->ip.ss_family == AF_INET6 ? DNS_AAAA : DNS_A;
}

/* The frame on top ends with result r: give it to its parent. */
static void pop(struct spf_check *c, enum spf_result r)
{
	struct frame *f = top(c);
	struct spf_term *t;

	if (f->redirected && r == SPF_NONE)
		r = SPF_PERMERROR;	/* §6.1 */
	free(f->txt);
	f->txt = NULL;
	if (--c->depth == 0) {
		finish(c, r, spf_result_name(r), "");
		return;
	}
	/* the parent was at an include (§5.2) */
	f = top(c);
	t = &f->rec.terms[f->term];
	switch (r) {
	case SPF_PASS:
		pop(c, t->qualifier);
		return;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		f->term++;
		run(c);
		return;
	case SPF_TEMPERROR:
		finish(c, SPF_TEMPERROR, c->frames[c->depth].domain,
		       " (include): temporary DNS error");
		return;
	default:
		finish(c, SPF_PERMERROR, c->frames[c->depth].domain,
		       " (include): no usable SPF record");
		return;
	}
}

static void push(struct spf_check *c, const char *domain, bool redirected)
{
	struct frame *f;

	if (c->depth == MAX_DEPTH) {
		finish(c, SPF_PERMERROR, "too deep", "");
		return;
	}
	f = &c->frames[c->depth++];
	memset(f, 0, sizeof(*f));
	str_copy(f->domain, domain, sizeof(f->domain));
	str_lower(f->domain);
	f->redirected = redirected;
	fetch(c);
}

/* Evaluate terms from the current one until a lookup is needed or the
   frame ends. */
static void run(struct spf_check *c)
{
	struct frame *f = top(c);
	char name[256];

	while (!c->finished && f->term < f->rec.n) {
		struct spf_term *t = &f->rec.terms[f->term];

		switch (t->mech) {
		case SPF_ALL:
			pop(c, t->qualifier);
			return;
		case SPF_IP4:
		case SPF_IP6:
			if (spf_ip_match(&c->ip, t->ip, t->mech == SPF_IP6,
					 t->mech == SPF_IP6 ? t->cidr6 : t->cidr4)) {
				pop(c, t->qualifier);
				return;
			}
			f->term++;
			continue;
		case SPF_PTR:
			if (!count_lookup(c))
				return;
			f->term++;	/* never matches (see spf.h) */
			continue;
		case SPF_INCLUDE:
			if (!count_lookup(c) || !target(c, t->spec, t->spec_len, name, sizeof(name)))
				return;
			push(c, name, false);
			return;
		case SPF_A:
		case SPF_EXISTS:
			if (!count_lookup(c) || !target(c, t->spec, t->spec_len, name, sizeof(name)))
				return;
			c->step = STEP_MECH;
			c->query(c->ctx, c, name, t->mech == SPF_EXISTS ? DNS_A : addr_type(c));
			return;
		case SPF_MX:
			if (!count_lookup(c) || !target(c, t->spec, t->spec_len, name, sizeof(name)))
				return;
			c->step = STEP_MX_NAMES;
			c->query(c->ctx, c, name, DNS_MX_NAMES);
			return;
		}
	}
	if (c->finished)
		return;
	if (f->rec.redirect != NULL) {
		if (!count_lookup(c) ||
		    !target(c, f->rec.redirect, f->rec.redirect_len, name, sizeof(name)))
			return;
		/* the redirect replaces this frame */
		free(f->txt);
		f->txt = NULL;
		c->depth--;
		push(c, name, true);
		return;
	}
	pop(c, SPF_NEUTRAL);
}

static void on_record(struct spf_check *c, const struct dns_answer *a)
{
	struct frame *f = top(c);
	const char *found = NULL, *error;

	if (a->status == DNS_TEMPORARY) {
		if (c->depth == 1)
			finish(c, SPF_TEMPERROR, f->domain, ": temporary DNS error");
		else
			pop(c, SPF_TEMPERROR);
		return;
	}
	for (unsigned i = 0; a->status == DNS_OK && i < a->n; i++) {
		if (!spf_is_record(a->txt[i]))
			continue;
		if (found != NULL) {
			finish(c, SPF_PERMERROR, f->domain, ": more than one SPF record");
			return;
		}
		found = a->txt[i];
	}
	if (found == NULL) {
		if (c->depth > 1 && !count_void(c))
			return;
		pop(c, SPF_NONE);
		return;
	}
	f->txt = xstrdup(found);
	if (spf_record_parse(f->txt, &f->rec, &error) < 0) {
		finish(c, SPF_PERMERROR, error, "");
		return;
	}
	f->term = 0;
	run(c);
}

static bool addrs_match(const struct spf_check *c, const struct spf_term *t,
			const struct dns_answer *a)
{
	for (unsigned i = 0; i < a->n; i++) {
		const struct sockaddr_storage *s = &a->addrs[i];
		const unsigned char *net = s->ss_family == AF_INET6 ?
			((const struct sockaddr_in6 *)s)->sin6_addr.s6_addr :
			(const unsigned char *)&((const struct sockaddr_in *)s)->sin_addr;
		bool v6 = s->ss_family == AF_INET6;
		if (spf_ip_match(&c->ip, net, v6, v6 ? t->cidr6 : t->cidr4))
			return true;
	}
	return false;
}

static void next_mx(struct spf_check *c)
{
	c->step = STEP_MX_ADDRS;
	c->query(c->ctx, c, c->mx[c->mx_idx], addr_type(c));
}

void spf_check_answer(struct spf_check *c, const struct dns_answer *a)
{
	struct frame *f = top(c);
	struct spf_term *t = &f->rec.terms[f->term];

	if (c->finished)
		return;
	if (c->step == STEP_FETCH) {
		on_record(c, a);
		return;
	}
	if (a->status == DNS_TEMPORARY) {
		finish(c, SPF_TEMPERROR, "temporary DNS error", "");
		return;
	}
	switch (c->step) {
	case STEP_MECH:
		if (a->status != DNS_OK) {
			if (!count_void(c))
				return;
		} else if (t->mech == SPF_EXISTS || addrs_match(c, t, a)) {
			pop(c, t->qualifier);
			return;
		}
		break;
	case STEP_MX_NAMES:
		if (a->status != DNS_OK) {
			if (!count_void(c))
				return;
			break;
		}
		if (a->n > MAX_MX) {
			finish(c, SPF_PERMERROR, "more than 10 MX names", "");
			return;
		}
		c->n_mx = 0;
		for (unsigned i = 0; i < a->n; i++)
			str_copy(c->mx[c->n_mx++], a->names[i], sizeof(c->mx[0]));
		c->mx_idx = 0;
		next_mx(c);
		return;
	case STEP_MX_ADDRS:
		if (a->status == DNS_OK && addrs_match(c, t, a)) {
			pop(c, t->qualifier);
			return;
		}
		if (++c->mx_idx < c->n_mx) {
			next_mx(c);
			return;
		}
		break;
	default:
		break;
	}
	f->term++;
	run(c);
}

void spf_check_free(struct spf_check **cp)
{
	struct spf_check *c = *cp;

	if (c == NULL)
		return;
	for (unsigned i = 0; i < MAX_DEPTH; i++)
		free(c->frames[i].txt);
	free(c);
	*cp = NULL;
}
