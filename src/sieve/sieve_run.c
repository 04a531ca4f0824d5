/*
 * sieve_run.c - running a compiled Sieve script over one message: tests,
 * match types and comparators, variables, flags, and the actions that
 * make the plan.  Every command and test counts against SIEVE_MAX_STEPS;
 * strings given to :matches and :regex are cut at SIEVE_MAX_MATCH_INPUT.
 */
#include "sieve/sieve_private.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/util.h"

#define MAX_VARS	128
#define MAX_VALUE	4096	/* bytes of a variable, a flag list */
#define MAX_HEADERS	1000
#define MAX_CAPTURES	10

struct header {
	const char *name;
	size_t name_len;
	char *value;		/* unfolded, trimmed */
};

/* A set of variables: a script's own (each script, included or not, has
   its own, RFC 6609 3.3), or the global ones. */
struct vars {
	char *names[MAX_VARS];
	char *values[MAX_VARS];
	unsigned n;
	char *declared[MAX_VARS];	/* names the script made global ("global") */
	unsigned n_declared;
};

struct run {
	const struct sieve_script *s;
	const struct sieve_message *msg;
	struct sieve_plan *plan;
	char *err;
	size_t err_size;
	unsigned steps, redirects;
	bool keep, stopped, failed;
	bool returned;		/* "return": leave the script being run */
	unsigned include_depth, n_included;
	char *included[SIEVE_MAX_INCLUDED];	/* names, for :once */
	struct header headers[MAX_HEADERS];
	unsigned n_headers;
	size_t body_offset;
	struct vars *local;	/* the variables of the script being run */
	struct vars globals;	/* RFC 6609 global variables, shared by all */
	char *captures[MAX_CAPTURES];
	char flags[MAX_VALUE];	/* the internal flag variable */
	struct sv_body *body;	/* the MIME parts, for body :text/:content */
	bool no_captures;	/* a body test: match variables are left as they are */
};

static int run_fail(struct run *r, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int run_fail(struct run *r, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->failed)
		return -1;
	r->failed = true;
	n = snprintf(r->err, r->err_size, "line %u: ", line);
	if (n < 0 || (size_t)n >= r->err_size)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->err_size - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- the message ---- */

static void parse_headers(struct run *r)
{
	const char *p = r->msg->data, *end = p + r->msg->len;

	while (p < end) {
		const char *eol = memchr(p, '\n', end - p), *colon, *next;
		struct buf v;
		if (eol == NULL)
			eol = end;
		if (p == eol || (*p == '\r' && p + 1 == eol)) {
			p = eol < end ? eol + 1 : end;
			break;
		}
		colon = memchr(p, ':', eol - p);
		next = eol < end ? eol + 1 : end;
		/* continuation lines */
		while (next < end && (*next == ' ' || *next == '\t')) {
			const char *e2 = memchr(next, '\n', end - next);
			eol = e2 == NULL ? end : e2;
			next = eol < end ? eol + 1 : end;
		}
		if (colon != NULL && r->n_headers < MAX_HEADERS) {
			struct header *h = &r->headers[r->n_headers++];
			const char *n_end = colon;
			while (n_end > p && (n_end[-1] == ' ' || n_end[-1] == '\t'))
				n_end--;
			h->name = p;
			h->name_len = n_end - p;
			buf_init(&v, 0);
			for (const char *c = colon + 1; c < eol; c++) {
				if (*c == '\r' || *c == '\n')
					continue;
				buf_putc(&v, *c == '\t' ? ' ' : *c);
			}
			const char *vs = buf_cstr(&v);
			size_t vl = v.len;
			while (vl > 0 && *vs == ' ')
				vs++, vl--;
			while (vl > 0 && vs[vl - 1] == ' ')
				vl--;
			h->value = xstrndup(vs, vl);
			buf_deinit(&v);
		}
		p = next;
	}
	r->body_offset = p - r->msg->data;
}

/* ---- variables ---- */

static bool variables(const struct run *r)
{
	return (r->s->extensions & SV_EXT_VARIABLES) != 0;
}

static void vars_free(struct vars *v)
{
	for (unsigned i = 0; i < v->n; i++) {
		free(v->names[i]);
		free(v->values[i]);
	}
	for (unsigned i = 0; i < v->n_declared; i++)
		free(v->declared[i]);
	memset(v, 0, sizeof(*v));
}

/* The set name[0..len) lives in: the global one for "global.x" (the name
   becomes "x") and for a name the script declared global, else the
   script's own. */
static struct vars *vars_of(struct run *r, const char **name, size_t *len)
{
	if (*len > 7 && strncasecmp(*name, "global.", 7) == 0) {
		*name += 7;
		*len -= 7;
		return &r->globals;
	}
	for (unsigned i = 0; i < r->local->n_declared; i++)
		if (strlen(r->local->declared[i]) == *len &&
		    strncasecmp(r->local->declared[i], *name, *len) == 0)
			return &r->globals;
	return r->local;
}

static const char *var_get(struct run *r, const char *name, size_t len)
{
	struct vars *v;

	if (len > 0 && isdigit((unsigned char)name[0])) {
		unsigned i = 0;
		for (size_t k = 0; k < len; k++) {
			if (!isdigit((unsigned char)name[k]))
				return "";
			i = i * 10 + (name[k] - '0');
			if (i >= MAX_CAPTURES)
				return "";
		}
		return r->captures[i] ? r->captures[i] : "";
	}
	v = vars_of(r, &name, &len);
	for (unsigned i = 0; i < v->n; i++)
		if (strlen(v->names[i]) == len && strncasecmp(v->names[i], name, len) == 0)
			return v->values[i];
	return "";
}

static int var_set(struct run *r, const char *name, const char *value, unsigned line)
{
	size_t len = strlen(name);
	struct vars *v = vars_of(r, &name, &len);

	for (unsigned i = 0; i < v->n; i++)
		if (strcasecmp(v->names[i], name) == 0) {
			free(v->values[i]);
			v->values[i] = xstrndup(value, MAX_VALUE);
			return 1;
		}
	if (v->n == MAX_VARS)
		return run_fail(r, line, "more than %d variables", MAX_VARS);
	v->names[v->n] = xstrndup(name, 64);
	v->values[v->n++] = xstrndup(value, MAX_VALUE);
	return 1;
}

static bool var_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* s with "${name}" replaced (when variables is required); a new string. */
static char *expand(struct run *r, const char *s)
{
	struct buf b;
	char *out;

	if (!variables(r))
		return xstrndup(s, strlen(s));
	buf_init(&b, SIEVE_MAX_MATCH_INPUT);
	while (*s != '\0') {
		if (s[0] == '$' && s[1] == '{') {
			size_t n = 0;
			while (var_name_char(s[2 + n]))
				n++;
			if (n > 0 && s[2 + n] == '}') {
				buf_puts(&b, var_get(r, s + 2, n));
				s += 3 + n;
				continue;
			}
		}
		buf_putc(&b, *s++);
	}
	out = xstrndup(b.data ? b.data : "", b.len);
	buf_deinit(&b);
	return out;
}

/* ---- matching ---- */

enum cmp { CMP_OCTET, CMP_CASEMAP, CMP_NUMERIC };
enum mtype { M_IS, M_CONTAINS, M_MATCHES, M_REGEX, M_VALUE, M_COUNT };
enum relop { R_GT, R_GE, R_LT, R_LE, R_EQ, R_NE };

struct matcher {
	enum cmp cmp;
	enum mtype type;
	enum relop rel;
	unsigned line;
};

static bool ch_eq(enum cmp c, char a, char b)
{
	return c == CMP_CASEMAP ? tolower((unsigned char)a) == tolower((unsigned char)b) : a == b;
}

/* Wildcard match ('*', '?', '\\' escapes), one backtracking point (no
   exponential cases); fills caps with what each wildcard matched. */
static bool glob_match(struct run *r, enum cmp c, const char *p, const char *s, size_t sl,
		       char **caps)
{
	size_t pl = strlen(p), pi = 0, si = 0, star_pi = (size_t)-1, star_si = 0;
	size_t cap_s[64], cap_e[64];
	unsigned k = 0, star_k = 0, capn[64];

	if (pl > SIEVE_MAX_REGEX)
		return false;
	while (si < sl) {
		if (pi < pl && p[pi] == '*') {
			if (k < 64) {
				cap_s[k] = cap_e[k] = si;
				capn[k] = 0;
			}
			star_k = k++;
			star_pi = pi++;
			star_si = si;
			continue;
		}
		if (pi < pl && p[pi] == '?') {
			if (k < 64) {
				cap_s[k] = si;
				cap_e[k] = si + 1;
			}
			k++;
			pi++;
			si++;
			continue;
		}
		if (pi < pl) {
			size_t adv = 1;
			char lit = p[pi];
			if (lit == '\\' && pi + 1 < pl) {
				lit = p[pi + 1];
				adv = 2;
			}
			if (ch_eq(c, lit, s[si])) {
				pi += adv;
				si++;
				continue;
			}
		}
		if (star_pi == (size_t)-1)
			return false;
		r->steps++;
		pi = star_pi + 1;
		si = ++star_si;
		k = star_k + 1;
		if (star_k < 64)
			cap_e[star_k] = si;
	}
	while (pi < pl && p[pi] == '*') {
		if (k < 64)
			cap_s[k] = cap_e[k] = sl;
		k++;
		pi++;
	}
	if (pi != pl)
		return false;
	if (caps != NULL) {
		for (unsigned i = 0; i < MAX_CAPTURES; i++) {
			free(caps[i]);
			caps[i] = NULL;
		}
		caps[0] = xstrndup(s, sl);
		for (unsigned i = 0; i < k && i + 1 < MAX_CAPTURES && i < 64; i++)
			caps[i + 1] = xstrndup(s + cap_s[i], cap_e[i] - cap_s[i]);
	}
	(void)capn;
	return true;
}

/* -1 a < b, 0 equal, 1 a > b, under the comparator. */
static int compare(enum cmp c, const char *a, const char *b)
{
	if (c == CMP_NUMERIC) {
		/* a string not starting with a digit is positive infinity */
		bool ia = !isdigit((unsigned char)*a), ib = !isdigit((unsigned char)*b);
		if (ia || ib)
			return ia == ib ? 0 : ia ? 1 : -1;
		while (*a == '0' && isdigit((unsigned char)a[1]))
			a++;
		while (*b == '0' && isdigit((unsigned char)b[1]))
			b++;
		size_t la = 0, lb = 0;
		while (isdigit((unsigned char)a[la]))
			la++;
		while (isdigit((unsigned char)b[lb]))
			lb++;
		if (la != lb)
			return la < lb ? -1 : 1;
		int d = strncmp(a, b, la);
		return d < 0 ? -1 : d > 0;
	}
	int d = c == CMP_CASEMAP ? strcasecmp(a, b) : strcmp(a, b);
	return d < 0 ? -1 : d > 0;
}

static bool rel_ok(enum relop rel, int d)
{
	switch (rel) {
	case R_GT: return d > 0;
	case R_GE: return d >= 0;
	case R_LT: return d < 0;
	case R_LE: return d <= 0;
	case R_EQ: return d == 0;
	case R_NE: return d != 0;
	}
	return false;
}

static int regex_match(struct run *r, const struct matcher *m, const char *pat,
		       const char *s, size_t sl, bool *ok)
{
	regex_t re;
	regmatch_t pm[MAX_CAPTURES];
	char *subject;
	int rc;

	*ok = false;
	if (strlen(pat) > SIEVE_MAX_REGEX)
		return run_fail(r, m->line, "regular expression longer than %d bytes",
				SIEVE_MAX_REGEX);
	for (const char *q = pat; *q != '\0'; q++)
		if (q[0] == '\\' && isdigit((unsigned char)q[1]))
			return run_fail(r, m->line, "back-references are not allowed");
	r->steps += 10;
	if (regcomp(&re, pat, REG_EXTENDED | (m->cmp == CMP_CASEMAP ? REG_ICASE : 0)) != 0)
		return run_fail(r, m->line, "bad regular expression");
	subject = xstrndup(s, sl);
	rc = regexec(&re, subject, MAX_CAPTURES, pm, 0);
	if (rc == 0) {
		*ok = true;
		for (unsigned i = 0; i < MAX_CAPTURES && !r->no_captures; i++) {
			free(r->captures[i]);
			r->captures[i] = NULL;
			if (pm[i].rm_so >= 0)
				r->captures[i] = xstrndup(subject + pm[i].rm_so,
							  pm[i].rm_eo - pm[i].rm_so);
		}
	}
	free(subject);
	regfree(&re);
	return 1;
}

/* Does value match key?  Returns 1 with *ok, -1 on error. */
static int match_one(struct run *r, const struct matcher *m, const char *value,
		     const char *key, bool *ok)
{
	size_t vl = strlen(value);

	if (vl > SIEVE_MAX_MATCH_INPUT && (m->type == M_MATCHES || m->type == M_REGEX))
		vl = SIEVE_MAX_MATCH_INPUT;
	switch (m->type) {
	case M_IS:
		*ok = compare(m->cmp, value, key) == 0;
		return 1;
	case M_CONTAINS:
		if (m->cmp == CMP_CASEMAP)
			*ok = strcasestr(value, key) != NULL;
		else
			*ok = strstr(value, key) != NULL;
		return 1;
	case M_MATCHES:
		*ok = glob_match(r, m->cmp, key, value, vl,
				 variables(r) && !r->no_captures ? r->captures : NULL);
		return 1;
	case M_REGEX:
		return regex_match(r, m, key, value, vl, ok);
	case M_VALUE:
		*ok = rel_ok(m->rel, compare(m->cmp, value, key));
		return 1;
	case M_COUNT:
		break;
	}
	*ok = false;
	return 1;
}

/* Any value against any key; :count compares the number of values. */
static int match_list(struct run *r, const struct matcher *m, char **values, unsigned n,
		      const struct sv_arg *keys, bool *ok)
{
	*ok = false;
	if (m->type == M_COUNT) {
		char count[24];
		snprintf(count, sizeof(count), "%u", n);
		for (unsigned k = 0; k < keys->n_strs && !*ok; k++) {
			char *key = expand(r, keys->strs[k]);
			*ok = rel_ok(m->rel, compare(CMP_NUMERIC, count, key));
			free(key);
		}
		return 1;
	}
	for (unsigned i = 0; i < n && !*ok; i++)
		for (unsigned k = 0; k < keys->n_strs && !*ok; k++) {
			char *key = expand(r, keys->strs[k]);
			int ret;
			if (++r->steps > SIEVE_MAX_STEPS) {
				free(key);
				return run_fail(r, m->line, "too many steps (over %d)",
						SIEVE_MAX_STEPS);
			}
			ret = match_one(r, m, values[i], key, ok);
			free(key);
			if (ret < 0)
				return -1;
		}
	return 1;
}

/* ---- arguments ---- */

static const struct sv_arg *tag_value(const struct sv_node *n, const char *tag)
{
	for (unsigned i = 0; i + 1 < n->n_args; i++)
		if (n->args[i].type == SV_ARG_TAG && strcmp(n->args[i].tag, tag) == 0)
			return &n->args[i + 1];
	return NULL;
}

static bool has_tag(const struct sv_node *n, const char *tag)
{
	for (unsigned i = 0; i < n->n_args; i++)
		if (n->args[i].type == SV_ARG_TAG && strcmp(n->args[i].tag, tag) == 0)
			return true;
	return false;
}

/* The i-th positional string list (not the value of a tag). */
static const struct sv_arg *positional(const struct sv_node *n, unsigned want)
{
	unsigned seen = 0;

	for (unsigned i = 0; i < n->n_args; i++) {
		if (n->args[i].type == SV_ARG_TAG) {
			if (strcmp(n->args[i].tag, "comparator") == 0 ||
			    strcmp(n->args[i].tag, "count") == 0 ||
			    strcmp(n->args[i].tag, "value") == 0 ||
			    strcmp(n->args[i].tag, "content") == 0 ||
			    strcmp(n->args[i].tag, "flags") == 0 ||
			    strcmp(n->args[i].tag, "over") == 0 ||
			    strcmp(n->args[i].tag, "under") == 0 ||
			    strcmp(n->args[i].tag, "days") == 0 ||
			    strcmp(n->args[i].tag, "index") == 0 ||
			    strcmp(n->args[i].tag, "zone") == 0 ||
			    strcmp(n->args[i].tag, "subject") == 0 ||
			    strcmp(n->args[i].tag, "from") == 0 ||
			    strcmp(n->args[i].tag, "addresses") == 0 ||
			    strcmp(n->args[i].tag, "handle") == 0)
				i++;
			continue;
		}
		if (seen++ == want)
			return &n->args[i];
	}
	return NULL;
}

static unsigned n_positional(const struct sv_node *n)
{
	unsigned c = 0;

	while (positional(n, c) != NULL)
		c++;
	return c;
}

static int get_matcher(struct run *r, const struct sv_node *n, struct matcher *m)
{
	const struct sv_arg *a;

	m->cmp = CMP_CASEMAP;
	m->type = M_IS;
	m->line = n->line;
	if ((a = tag_value(n, "comparator")) != NULL) {
		const char *c = a->strs[0];
		if (strcmp(c, "i;octet") == 0)
			m->cmp = CMP_OCTET;
		else if (strcmp(c, "i;ascii-casemap") == 0)
			m->cmp = CMP_CASEMAP;
		else if (strcmp(c, "i;ascii-numeric") == 0 &&
			 (r->s->extensions & SV_EXT_COMPARATOR_NUMERIC))
			m->cmp = CMP_NUMERIC;
		else
			return run_fail(r, n->line, "unknown comparator \"%s\"", c);
	}
	if (has_tag(n, "contains"))
		m->type = M_CONTAINS;
	else if (has_tag(n, "matches"))
		m->type = M_MATCHES;
	else if (has_tag(n, "regex"))
		m->type = M_REGEX;
	else if ((a = tag_value(n, "value")) != NULL || (a = tag_value(n, "count")) != NULL) {
		static const char *const ops[] = { "gt", "ge", "lt", "le", "eq", "ne" };
		m->type = tag_value(n, "value") == a ? M_VALUE : M_COUNT;
		unsigned i;
		for (i = 0; i < 6; i++)
			if (strcasecmp(a->strs[0], ops[i]) == 0)
				break;
		if (i == 6)
			return run_fail(r, n->line, "unknown relation \"%s\"", a->strs[0]);
		m->rel = (enum relop)i;
	}
	return 1;
}

/* ---- addresses ---- */

/* The addresses in a header value: <...> when present, else each
   comma-separated item; groups and comments are skipped roughly. */
static unsigned split_addresses(const char *v, char **out, unsigned max)
{
	unsigned n = 0;
	const char *p = v;

	while (*p != '\0' && n < max) {
		const char *start = p, *lt = NULL, *gt = NULL;
		bool quoted = false;
		int paren = 0;
		for (; *p != '\0'; p++) {
			if (*p == '"' && paren == 0)
				quoted = !quoted;
			else if (quoted && *p == '\\' && p[1] != '\0')
				p++;
			else if (!quoted && *p == '(')
				paren++;
			else if (!quoted && *p == ')' && paren > 0)
				paren--;
			else if (!quoted && paren == 0 && *p == '<')
				lt = p;
			else if (!quoted && paren == 0 && *p == '>' && lt != NULL)
				gt = p;
			else if (!quoted && paren == 0 && (*p == ',' || *p == ';'))
				break;
		}
		if (lt != NULL && gt != NULL) {
			out[n++] = xstrndup(lt + 1, gt - lt - 1);
		} else {
			const char *s = start, *e = p;
			const char *colon = memchr(s, ':', (size_t)(e - s));
			if (colon != NULL)
				s = colon + 1;	/* a group's name */
			while (s < e && isspace((unsigned char)*s))
				s++;
			for (const char *cp = s; cp < e; cp++)
				if (*cp == '(') {
					e = cp;
					break;
				}
			while (e > s && isspace((unsigned char)e[-1]))
				e--;
			if (e > s)
				out[n++] = xstrndup(s, e - s);
		}
		if (*p != '\0')
			p++;
	}
	return n;
}

/* The part of address a asked for by n's tags, a new string, or NULL
   when it has none (:detail without a delimiter). */
static char *address_part(struct run *r, const struct sv_node *n, const char *a)
{
	const char *at = strrchr(a, '@');
	size_t local_len = at ? (size_t)(at - a) : strlen(a);

	if (has_tag(n, "localpart"))
		return xstrndup(a, local_len);
	if (has_tag(n, "domain"))
		return xstrndup(at ? at + 1 : "", at ? strlen(at + 1) : 0);
	if (has_tag(n, "user") || has_tag(n, "detail")) {
		char d = r->msg->delimiter;
		const char *sep = d ? memchr(a, d, local_len) : NULL;
		if (has_tag(n, "user"))
			return xstrndup(a, sep ? (size_t)(sep - a) : local_len);
		if (sep == NULL)
			return NULL;
		return xstrndup(sep + 1, local_len - (sep + 1 - a));
	}
	return xstrndup(a, strlen(a));
}

/* ---- tests ---- */

static void free_values(char **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i]);
}

#define MAX_VALUES 256

static int eval_test(struct run *r, const struct sv_node *t, bool *ok, unsigned depth);

static int test_header_like(struct run *r, const struct sv_node *t, bool *ok)
{
	struct matcher m;
	const struct sv_arg *names = positional(t, 0), *keys = positional(t, 1);
	char *values[MAX_VALUES];
	unsigned n = 0;
	bool is_addr = strcmp(t->name, "address") == 0;
	int ret;

	if (get_matcher(r, t, &m) < 0)
		return -1;
	if (strcmp(t->name, "envelope") == 0) {
		for (unsigned i = 0; i < names->n_strs && n < MAX_VALUES; i++) {
			char *name = expand(r, names->strs[i]);
			const char *v = NULL;
			if (strcasecmp(name, "from") == 0)
				v = r->msg->env_from;
			else if (strcasecmp(name, "to") == 0)
				v = r->msg->env_to;
			free(name);
			if (v == NULL)
				continue;
			char *part = v[0] == '\0' && !has_tag(t, "all") ? NULL : address_part(r, t, v);
			if (v[0] == '\0' && (has_tag(t, "all") || !(has_tag(t, "localpart") ||
				has_tag(t, "domain") || has_tag(t, "user") || has_tag(t, "detail"))))
				part = xstrndup("", 0);
			if (part != NULL)
				values[n++] = part;
		}
	} else {
		for (unsigned i = 0; i < names->n_strs; i++) {
			char *name = expand(r, names->strs[i]);
			size_t nl = strlen(name);
			unsigned total = 0, seen = 0, want = 0;
			const struct sv_arg *idx = tag_value(t, "index");
			for (unsigned h = 0; idx != NULL && h < r->n_headers; h++)
				total += r->headers[h].name_len == nl &&
					 strncasecmp(r->headers[h].name, name, nl) == 0;
			if (idx != NULL)	/* RFC 5260 4: the Nth field, from the end with :last */
				want = has_tag(t, "last") ? (idx->num <= total ? total - idx->num + 1 : 0)
							  : (unsigned)(idx->num <= total ? idx->num : 0);
			for (unsigned h = 0; h < r->n_headers && n < MAX_VALUES; h++) {
				if (r->headers[h].name_len != nl ||
				    strncasecmp(r->headers[h].name, name, nl) != 0)
					continue;
				if (idx != NULL && ++seen != want)
					continue;
				if (!is_addr) {
					values[n++] = xstrndup(r->headers[h].value,
							       strlen(r->headers[h].value));
					continue;
				}
				char *addrs[64];
				unsigned na = split_addresses(r->headers[h].value, addrs, 64);
				for (unsigned a = 0; a < na; a++) {
					char *part = n < MAX_VALUES ? address_part(r, t, addrs[a]) : NULL;
					if (part != NULL)
						values[n++] = part;
					free(addrs[a]);
				}
			}
			free(name);
		}
	}
	ret = match_list(r, &m, values, n, keys, ok);
	free_values(values, n);
	return ret;
}

static int test_body(struct run *r, const struct sv_node *t, bool *ok)
{
	struct matcher m;
	const struct sv_arg *types = tag_value(t, "content");
	const char *values[MAX_VALUES];
	char *expanded[MAX_VALUES], *raw = NULL;
	unsigned n = 0, n_types = 0;
	int ret;

	if (get_matcher(r, t, &m) < 0)
		return -1;
	if (!has_tag(t, "text") && types == NULL) {
		/* :raw, the default: the body undecoded */
		size_t len = r->msg->len - r->body_offset;
		if (len > SIEVE_MAX_MATCH_INPUT)
			len = SIEVE_MAX_MATCH_INPUT;
		raw = xstrndup(r->msg->data + r->body_offset, len);
		values[n++] = raw;
	} else {
		if (r->body == NULL)
			r->body = sv_body_new(r->msg->data, r->msg->len);
		for (unsigned i = 0; types != NULL && i < types->n_strs && i < MAX_VALUES; i++)
			expanded[n_types++] = expand(r, types->strs[i]);
		n = sv_body_values(r->body, types == NULL, expanded, n_types, values, MAX_VALUES);
		free_values(expanded, n_types);
		r->steps += n;
	}
	/* as Pigeonhole: the body test sets no match variables */
	r->no_captures = true;
	ret = match_list(r, &m, (char **)values, n, positional(t, 0), ok);
	r->no_captures = false;
	free(raw);
	return ret;
}

static int test_string(struct run *r, const struct sv_node *t, bool *ok)
{
	struct matcher m;
	const struct sv_arg *src = positional(t, 0);
	char *values[MAX_VALUES];
	unsigned n = 0;
	int ret;

	if (get_matcher(r, t, &m) < 0)
		return -1;
	for (unsigned i = 0; i < src->n_strs && n < MAX_VALUES; i++) {
		values[n] = expand(r, src->strs[i]);
		/* :count counts the non-empty strings (RFC 5229 5) */
		if (m.type == M_COUNT && values[n][0] == '\0')
			free(values[n]);
		else
			n++;
	}
	ret = match_list(r, &m, values, n, positional(t, 1), ok);
	free_values(values, n);
	return ret;
}

static bool flag_in(const char *list, const char *flag)
{
	size_t fl = strlen(flag);

	for (const char *p = list; *p != '\0';) {
		while (*p == ' ')
			p++;
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == fl && l > 0 && strncasecmp(p, flag, l) == 0)
			return true;
		p += l;
	}
	return false;
}

static int test_hasflag(struct run *r, const struct sv_node *t, bool *ok)
{
	struct matcher m;
	const struct sv_arg *keys = positional(t, n_positional(t) - 1);
	char *values[MAX_VALUES];
	unsigned n = 0;
	char *list;
	int ret;

	if (get_matcher(r, t, &m) < 0)
		return -1;
	if (n_positional(t) == 2) {
		char *name = expand(r, positional(t, 0)->strs[0]);
		list = xstrndup(var_get(r, name, strlen(name)), MAX_VALUE);
		free(name);
	} else {
		list = xstrndup(r->flags, MAX_VALUE);
	}
	for (char *p = list; *p != '\0' && n < MAX_VALUES;) {
		while (*p == ' ')
			p++;
		size_t l = strcspn(p, " ");
		if (l > 0)
			values[n++] = xstrndup(p, l);
		p += l;
	}
	free(list);
	ret = match_list(r, &m, values, n, keys, ok);
	free_values(values, n);
	return ret;
}


/* ---- date (RFC 5260) ---- */

/* An RFC 5322 date-time: seconds since the epoch and the zone in minutes
   east of UTC.  1, or 0 when it is not a date. */
static int parse_date(const char *v, time_t *t_r, int *zone_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char mon[4] = "";
	int day, year, hh, mm, ss = 0, consumed = 0;
	struct tm tm = { 0 };
	const char *p = strchr(v, ',');

	p = p ? p + 1 : v;
	if (sscanf(p, " %d %3s %d %d:%d%n", &day, mon, &year, &hh, &mm, &consumed) < 5)
		return 0;
	p += consumed;
	if (*p == ':') {
		if (sscanf(p, ":%d%n", &ss, &consumed) < 1)
			return 0;
		p += consumed;
	}
	const char *m = strcasestr(months, mon);
	if (strlen(mon) != 3 || m == NULL || (m - months) % 3 != 0)
		return 0;
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	while (*p == ' ')
		p++;
	*zone_r = 0;
	if ((p[0] == '+' || p[0] == '-') && isdigit((unsigned char)p[1]) && strlen(p) >= 5) {
		int z = (p[1] - '0') * 600 + (p[2] - '0') * 60 + (p[3] - '0') * 10 + (p[4] - '0');
		*zone_r = p[0] == '-' ? -z : z;
	}
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return 0;
	tm.tm_year = year - 1900;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*t_r = timegm(&tm) - (time_t)*zone_r * 60;
	return 1;
}

/* "+hhmm"/"-hhmm" into minutes.  1 or 0. */
static int parse_zone(const char *z, int *zone_r)
{
	if (strlen(z) != 5 || (z[0] != '+' && z[0] != '-'))
		return 0;
	for (int i = 1; i < 5; i++)
		if (!isdigit((unsigned char)z[i]))
			return 0;
	*zone_r = ((z[1] - '0') * 600 + (z[2] - '0') * 60 + (z[3] - '0') * 10 + (z[4] - '0')) *
		  (z[0] == '-' ? -1 : 1);
	return 1;
}

/* The date-part of t shown in zone, into out; 0 for an unknown part. */
static int date_part(time_t t, int zone, const char *part, char *out, size_t size)
{
	struct tm tm;
	time_t local = t + (time_t)zone * 60;
	int az = zone < 0 ? -zone : zone;

	gmtime_r(&local, &tm);
	if (strcasecmp(part, "year") == 0)
		snprintf(out, size, "%04d", tm.tm_year + 1900);
	else if (strcasecmp(part, "month") == 0)
		snprintf(out, size, "%02d", tm.tm_mon + 1);
	else if (strcasecmp(part, "day") == 0)
		snprintf(out, size, "%02d", tm.tm_mday);
	else if (strcasecmp(part, "date") == 0)
		snprintf(out, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	else if (strcasecmp(part, "julian") == 0)
		snprintf(out, size, "%lld", (long long)(local / 86400 + 40587));
	else if (strcasecmp(part, "hour") == 0)
		snprintf(out, size, "%02d", tm.tm_hour);
	else if (strcasecmp(part, "minute") == 0)
		snprintf(out, size, "%02d", tm.tm_min);
	else if (strcasecmp(part, "second") == 0)
		snprintf(out, size, "%02d", tm.tm_sec);
	else if (strcasecmp(part, "time") == 0)
		snprintf(out, size, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	else if (strcasecmp(part, "iso8601") == 0 && zone == 0)	/* UTC is "Z", as Pigeonhole */
		snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else if (strcasecmp(part, "iso8601") == 0)
		snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 zone < 0 ? '-' : '+', az / 60, az % 60);
	else if (strcasecmp(part, "std11") == 0) {
		static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
		static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
						  "Aug", "Sep", "Oct", "Nov", "Dec" };
		snprintf(out, size, "%s, %d %s %04d %02d:%02d:%02d %c%02d%02d", wd[tm.tm_wday],
			 tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, zone < 0 ? '-' : '+', az / 60, az % 60);
	} else if (strcasecmp(part, "zone") == 0)
		snprintf(out, size, "%c%02d%02d", zone < 0 ? '-' : '+', az / 60, az % 60);
	else if (strcasecmp(part, "weekday") == 0)
		snprintf(out, size, "%d", tm.tm_wday);
	else
		return 0;
	return 1;
}

/* The zone a date test shows dates in: :zone, else the server's. */
static int target_zone(struct run *r, const struct sv_node *t, time_t when, int *zone_r)
{
	const struct sv_arg *z = tag_value(t, "zone");
	struct tm tm;

	if (z != NULL) {
		char *zs = expand(r, z->strs[0]);
		int ok = parse_zone(zs, zone_r);
		free(zs);
		return ok ? 1 : run_fail(r, t->line, "bad :zone");
	}
	localtime_r(&when, &tm);
	*zone_r = (int)(tm.tm_gmtoff / 60);
	return 1;
}

static int test_date(struct run *r, const struct sv_node *t, bool *ok)
{
	struct matcher m;
	bool current = strcmp(t->name, "currentdate") == 0;
	const struct sv_arg *keys = positional(t, current ? 1 : 2);
	char *part = expand(r, positional(t, current ? 0 : 1)->strs[0]);
	char *values[MAX_VALUES], text[100];
	unsigned n = 0;
	int ret = 1;

	*ok = false;
	if (get_matcher(r, t, &m) < 0) {
		free(part);
		return -1;
	}
	if (current) {
		time_t now = time(NULL);
		int zone;
		if (target_zone(r, t, now, &zone) < 0 ||
		    !date_part(now, zone, part, text, sizeof(text)))
			ret = r->failed ? -1 : 1;
		else
			values[n++] = xstrndup(text, strlen(text));
	} else {
		char *name = expand(r, positional(t, 0)->strs[0]);
		size_t nl = strlen(name);
		const struct sv_arg *idx = tag_value(t, "index");
		unsigned total = 0, seen = 0, want = 0;
		for (unsigned h = 0; h < r->n_headers; h++)
			total += r->headers[h].name_len == nl &&
				 strncasecmp(r->headers[h].name, name, nl) == 0;
		if (idx != NULL)
			want = has_tag(t, "last") ? (idx->num <= total ? total - idx->num + 1 : 0)
						  : (unsigned)(idx->num <= total ? idx->num : 0);
		for (unsigned h = 0; h < r->n_headers && n < MAX_VALUES && ret > 0; h++) {
			time_t when;
			int orig, zone;
			if (r->headers[h].name_len != nl ||
			    strncasecmp(r->headers[h].name, name, nl) != 0)
				continue;
			if (idx != NULL && ++seen != want)
				continue;
			/* a field that is no date does not match (RFC 5260 4.2) */
			const char *v = r->headers[h].value, *semi = strrchr(v, ';');
			if (!parse_date(semi ? semi + 1 : v, &when, &orig))
				continue;
			if (has_tag(t, "originalzone"))
				zone = orig;
			else if (target_zone(r, t, when, &zone) < 0) {
				ret = -1;
				break;
			}
			if (date_part(when, zone, part, text, sizeof(text)))
				values[n++] = xstrndup(text, strlen(text));
		}
		free(name);
	}
	free(part);
	if (ret > 0)
		ret = match_list(r, &m, values, n, keys, ok);
	free_values(values, n);
	return ret;
}

static int eval_test(struct run *r, const struct sv_node *t, bool *ok, unsigned depth)
{
	const char *name = t->name;

	if (++r->steps > SIEVE_MAX_STEPS)
		return run_fail(r, t->line, "too many steps (over %d)", SIEVE_MAX_STEPS);
	if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
		*ok = name[0] == 't';
		return 1;
	}
	if (strcmp(name, "not") == 0) {
		if (eval_test(r, t->tests[0], ok, depth + 1) < 0)
			return -1;
		*ok = !*ok;
		return 1;
	}
	if (strcmp(name, "allof") == 0 || strcmp(name, "anyof") == 0) {
		bool all = name[1] == 'l';
		for (unsigned i = 0; i < t->n_tests; i++) {
			if (eval_test(r, t->tests[i], ok, depth + 1) < 0)
				return -1;
			if (*ok != all)
				return 1;
		}
		*ok = all;
		return 1;
	}
	if (strcmp(name, "exists") == 0) {
		const struct sv_arg *names = positional(t, 0);
		*ok = true;
		for (unsigned i = 0; i < names->n_strs && *ok; i++) {
			char *h = expand(r, names->strs[i]);
			size_t hl = strlen(h);
			bool found = false;
			for (unsigned k = 0; k < r->n_headers && !found; k++)
				found = r->headers[k].name_len == hl &&
					strncasecmp(r->headers[k].name, h, hl) == 0;
			*ok = found;
			free(h);
		}
		return 1;
	}
	if (strcmp(name, "size") == 0) {
		bool over = has_tag(t, "over");
		const struct sv_arg *a = tag_value(t, over ? "over" : "under");
		if (a == NULL)
			return run_fail(r, t->line, "size needs :over or :under");
		*ok = over ? r->msg->len > a->num : r->msg->len < a->num;
		return 1;
	}
	if (strcmp(name, "header") == 0 || strcmp(name, "address") == 0 ||
	    strcmp(name, "envelope") == 0)
		return test_header_like(r, t, ok);
	if (strcmp(name, "body") == 0)
		return test_body(r, t, ok);
	if (strcmp(name, "string") == 0)
		return test_string(r, t, ok);
	if (strcmp(name, "hasflag") == 0)
		return test_hasflag(r, t, ok);
	if (strcmp(name, "date") == 0 || strcmp(name, "currentdate") == 0)
		return test_date(r, t, ok);
	return run_fail(r, t->line, "unknown test %s", name);
}

/* ---- actions ---- */

static struct sieve_action *add_action(struct run *r, unsigned line)
{
	struct sieve_action *a;

	if (r->plan->n >= SIEVE_MAX_ACTIONS) {
		run_fail(r, line, "more than %d actions", SIEVE_MAX_ACTIONS);
		return NULL;
	}
	a = &r->plan->actions[r->plan->n++];
	memset(a, 0, sizeof(*a));
	return a;
}

/* Is w (len bytes) an IMAP flag: an atom (RFC 3501 §9: no "(", ")",
   "{", space, control character, "%", "*", '"', "\\", "]", nothing past
   ASCII), or "\\" and such an atom for a system flag? */
static bool flag_word_ok(const char *w, size_t len)
{
	if (len > 0 && w[0] == '\\') {
		w++;
		len--;
	}
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* list (space-separated) without the words that are not IMAP flags: a
   script's own words or a variable's text taken from the message would
   otherwise reach the store as keywords, and an mbox message's header
   as X-Keywords: (a line break there is a header field of its own). */
static char *flags_valid(const char *list)
{
	struct buf b;
	char *out;

	buf_init(&b, MAX_VALUE);
	for (const char *p = list; *p != '\0';) {
		size_t l;
		p += strspn(p, " ");
		l = strcspn(p, " ");
		if (flag_word_ok(p, l)) {
			if (b.len > 0)
				buf_putc(&b, ' ');
			buf_append(&b, p, l);
		}
		p += l;
	}
	out = xstrndup(buf_cstr(&b), b.len);
	buf_deinit(&b);
	return out;
}

/* The flags for a fileinto/keep: its :flags, else the internal variable;
   only the words that are IMAP flags. */
static char *action_flags(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *f = tag_value(n, "flags");
	struct buf b;
	char *out;

	if (f == NULL)
		return flags_valid(r->flags);
	buf_init(&b, MAX_VALUE);
	for (unsigned i = 0; i < f->n_strs; i++) {
		char *v = expand(r, f->strs[i]);
		for (char *p = v; *p != '\0';) {
			while (*p == ' ')
				p++;
			size_t l = strcspn(p, " ");
			char *one = xstrndup(p, l);
			if (l > 0 && !flag_in(buf_cstr(&b), one)) {
				if (b.len > 0)
					buf_putc(&b, ' ');
				buf_append(&b, p, l);
			}
			free(one);
			p += l;
		}
		free(v);
	}
	out = flags_valid(buf_cstr(&b));
	buf_deinit(&b);
	return out;
}

static int do_fileinto(struct run *r, const struct sv_node *n, const char *folder)
{
	struct sieve_action *a;
	char *flags = action_flags(r, n);

	/* filing twice into the same folder files once (RFC 5228 4.1) */
	for (unsigned i = 0; i < r->plan->n; i++) {
		a = &r->plan->actions[i];
		if (a->kind == SIEVE_ACTION_FILEINTO && strcmp(a->folder, folder) == 0) {
			free(a->flags);
			a->flags = flags;
			a->create = a->create || has_tag(n, "create");
			return 1;
		}
	}
	if ((a = add_action(r, n->line)) == NULL) {
		free(flags);
		return -1;
	}
	a->kind = SIEVE_ACTION_FILEINTO;
	a->folder = xstrndup(folder, strlen(folder));
	a->create = has_tag(n, "create");
	a->flags = flags;
	return 1;
}

/* setflag/addflag/removeflag on the variable named or the internal one. */
static int do_flags(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *list = positional(n, n_positional(n) - 1);
	char *varname = n_positional(n) == 2 ? expand(r, positional(n, 0)->strs[0]) : NULL;
	const char *cur = varname ? var_get(r, varname, strlen(varname)) : r->flags;
	struct buf b, add;
	bool over = false;	/* a list past MAX_VALUE bytes */
	int ret = 1;

	buf_init(&b, MAX_VALUE);
	buf_init(&add, MAX_VALUE);
	for (unsigned i = 0; i < list->n_strs; i++) {
		char *v = expand(r, list->strs[i]);
		if (add.len > 0)
			over |= buf_putc(&add, ' ') < 0;
		over |= buf_puts(&add, v) < 0;
		free(v);
	}
	if (strcmp(n->name, "setflag") != 0) {
		/* keep the current flags, less those removed */
		for (const char *p = cur; *p != '\0';) {
			while (*p == ' ')
				p++;
			size_t l = strcspn(p, " ");
			char *one = xstrndup(p, l);
			bool drop = strcmp(n->name, "removeflag") == 0 && flag_in(buf_cstr(&add), one);
			if (l > 0 && !drop && !flag_in(buf_cstr(&b), one)) {
				if (b.len > 0)
					over |= buf_putc(&b, ' ') < 0;
				over |= buf_puts(&b, one) < 0;
			}
			free(one);
			p += l;
		}
	}
	if (strcmp(n->name, "removeflag") != 0) {
		for (const char *p = buf_cstr(&add); *p != '\0';) {
			while (*p == ' ')
				p++;
			size_t l = strcspn(p, " ");
			char *one = xstrndup(p, l);
			if (l > 0 && !flag_in(buf_cstr(&b), one)) {
				if (b.len > 0)
					over |= buf_putc(&b, ' ') < 0;
				over |= buf_puts(&b, one) < 0;
			}
			free(one);
			p += l;
		}
	}
	if (over)
		ret = run_fail(r, n->line, "%s: the flag list passes %u bytes", n->name,
			       (unsigned)MAX_VALUE);
	else if (varname != NULL)
		ret = var_set(r, varname, buf_cstr(&b), n->line);
	else
		snprintf(r->flags, sizeof(r->flags), "%s", buf_cstr(&b));
	free(varname);
	buf_deinit(&b);
	buf_deinit(&add);
	return ret;
}

static int do_set(struct run *r, const struct sv_node *n)
{
	char *name = expand(r, positional(n, 0)->strs[0]);
	char *value = expand(r, positional(n, 1)->strs[0]);
	int ret;

	for (const char *p = name; *p != '\0'; p++)
		if (!var_name_char(*p)) {
			free(name);
			free(value);
			return run_fail(r, n->line, "bad variable name");
		}
	if (has_tag(n, "lower") || has_tag(n, "upper"))
		for (char *p = value; *p != '\0'; p++)
			*p = has_tag(n, "lower") ? tolower((unsigned char)*p)
						 : toupper((unsigned char)*p);
	if (has_tag(n, "lowerfirst"))
		value[0] = tolower((unsigned char)value[0]);
	if (has_tag(n, "upperfirst"))
		value[0] = toupper((unsigned char)value[0]);
	if (has_tag(n, "length")) {
		char len[24];
		snprintf(len, sizeof(len), "%zu", strlen(value));
		free(value);
		value = xstrndup(len, strlen(len));
	}
	ret = var_set(r, name, value, n->line);
	free(name);
	free(value);
	return ret;
}


/* ---- vacation (RFC 5230) ---- */

static const char *header_value(struct run *r, const char *name)
{
	size_t nl = strlen(name);

	for (unsigned i = 0; i < r->n_headers; i++)
		if (r->headers[i].name_len == nl && strncasecmp(r->headers[i].name, name, nl) == 0)
			return r->headers[i].value;
	return NULL;
}

/* Is the message one that must get no automatic reply (RFC 5230 4.6,
   RFC 3834 2): the null sender, an automatic or bulk or list message, a
   sender that is a mailer or list owner? */
static const char *no_reply_reason(struct run *r)
{
	const char *v, *from = r->msg->env_from;
	const char *at = strrchr(from, '@');
	size_t local = at ? (size_t)(at - from) : strlen(from);

	if (from[0] == '\0')
		return "the null sender";
	if ((v = header_value(r, "auto-submitted")) != NULL && strncasecmp(v, "no", 2) != 0)
		return "an automatic message";
	if ((v = header_value(r, "precedence")) != NULL &&
	    (strcasecmp(v, "bulk") == 0 || strcasecmp(v, "list") == 0 ||
	     strcasecmp(v, "junk") == 0))
		return "a bulk message";
	for (unsigned i = 0; i < r->n_headers; i++)
		if (r->headers[i].name_len > 5 && strncasecmp(r->headers[i].name, "list-", 5) == 0)
			return "a list message";
	if ((local == 13 && strncasecmp(from, "mailer-daemon", 13) == 0) ||
	    strncasecmp(from, "owner-", 6) == 0 ||
	    (local > 8 && strncasecmp(from + local - 8, "-request", 8) == 0) ||
	    (local >= 9 && strncasecmp(from, "listserv", 8) == 0) ||
	    (local >= 7 && strncasecmp(from, "majordomo", 7) == 0))
		return "a mailer or list address";
	return NULL;
}

/* Is one of the user's addresses (the recipient, with and without its
   detail, and :addresses) in To, Cc, Bcc or Resent-To/Cc? */
static bool addressed_to_user(struct run *r, const struct sv_node *n)
{
	static const char *const fields[] = { "to", "cc", "bcc", "resent-to", "resent-cc" };
	const struct sv_arg *extra = tag_value(n, "addresses");
	const char *to = r->msg->env_to, *at = strrchr(to, '@');
	char plain[400];
	char d = r->msg->delimiter;
	const char *sep = d && at ? memchr(to, d, (size_t)(at - to)) : NULL;

	if (sep != NULL)
		snprintf(plain, sizeof(plain), "%.*s%s", (int)(sep - to), to, at);
	else
		snprintf(plain, sizeof(plain), "%s", to);
	for (unsigned h = 0; h < r->n_headers; h++) {
		bool wanted = false;
		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
			wanted = wanted || (r->headers[h].name_len == strlen(fields[f]) &&
				 strncasecmp(r->headers[h].name, fields[f], strlen(fields[f])) == 0);
		if (!wanted)
			continue;
		char *addrs[64];
		unsigned na = split_addresses(r->headers[h].value, addrs, 64);
		bool found = false;
		for (unsigned i = 0; i < na; i++) {
			found = found || strcasecmp(addrs[i], to) == 0 ||
				strcasecmp(addrs[i], plain) == 0;
			for (unsigned k = 0; extra != NULL && k < extra->n_strs; k++)
				found = found || strcasecmp(addrs[i], extra->strs[k]) == 0;
			free(addrs[i]);
		}
		if (found)
			return true;
	}
	return false;
}

static int do_vacation(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *days = tag_value(n, "days"), *a;
	const char *why = no_reply_reason(r), *v;
	struct sieve_action *act;
	char *reason;

	for (unsigned i = 0; i < r->plan->n; i++)
		if (r->plan->actions[i].kind == SIEVE_ACTION_VACATION)
			return run_fail(r, n->line, "more than one vacation");
	if (why == NULL && !addressed_to_user(r, n))
		why = "a message not addressed to the user";
	if (why != NULL)
		return 1;	/* no reply, and nothing to say: RFC 5230 4.6 */
	if ((act = add_action(r, n->line)) == NULL)
		return -1;
	reason = expand(r, positional(n, 0)->strs[0]);
	act->kind = SIEVE_ACTION_VACATION;
	act->address = xstrndup(r->msg->env_from, strlen(r->msg->env_from));
	act->text = reason;
	act->mime = has_tag(n, "mime");
	/* RFC 5230 4.1: 1 day at least, capped here at 30 days */
	act->days = days == NULL ? 7 : days->num < 1 ? 1 : days->num > 30 ? 30 : (unsigned)days->num;
	if ((a = tag_value(n, "subject")) != NULL) {
		act->subject = expand(r, a->strs[0]);
	} else {
		v = header_value(r, "subject");
		size_t l = v ? strlen(v) : 0;
		act->subject = xmalloc(l + 7);
		snprintf(act->subject, l + 7, "Auto: %s", v ? v : "");
	}
	if ((a = tag_value(n, "from")) != NULL)
		act->from = expand(r, a->strs[0]);
	if ((a = tag_value(n, "handle")) != NULL)
		act->handle = expand(r, a->strs[0]);
	else
		act->handle = xstrndup(reason, strlen(reason));
	if ((v = header_value(r, "message-id")) != NULL)
		act->in_reply_to = xstrndup(v, 998);
	if ((v = header_value(r, "references")) != NULL)
		act->references = xstrndup(v, 998);
	/* a reply must not carry CR or LF into its header fields */
	for (char *p = act->subject; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	if (act->from != NULL && strpbrk(act->from, "\r\n") != NULL)
		return run_fail(r, n->line, "bad vacation :from");
	return 1;
}

static int run_block(struct run *r, const struct sv_node *n, unsigned depth);

static int do_include(struct run *r, const struct sv_node *n, unsigned depth);
static int do_global(struct run *r, const struct sv_node *n);

static int run_command(struct run *r, const struct sv_node *n, unsigned depth)
{
	const char *name = n->name;
	struct sieve_action *a;

	if (++r->steps > SIEVE_MAX_STEPS)
		return run_fail(r, n->line, "too many steps (over %d)", SIEVE_MAX_STEPS);
	if (strcmp(name, "require") == 0)
		return 1;
	if (strcmp(name, "stop") == 0) {
		r->stopped = true;
		return 1;
	}
	if (strcmp(name, "keep") == 0) {
		r->keep = false;
		return do_fileinto(r, n, "INBOX");
	}
	if (strcmp(name, "discard") == 0) {
		r->keep = false;
		return 1;
	}
	if (strcmp(name, "fileinto") == 0) {
		char *folder = expand(r, positional(n, 0)->strs[0]);
		int ret = folder[0] == '\0' ? run_fail(r, n->line, "empty folder name")
					    : do_fileinto(r, n, folder);
		free(folder);
		if (!has_tag(n, "copy"))
			r->keep = false;
		return ret;
	}
	if (strcmp(name, "redirect") == 0) {
		char *to = expand(r, positional(n, 0)->strs[0]);
		if (strchr(to, '@') == NULL || strpbrk(to, " <>\r\n") != NULL) {
			run_fail(r, n->line, "bad redirect address \"%.100s\"", to);
			free(to);
			return -1;
		}
		for (unsigned i = 0; i < r->plan->n; i++)
			if (r->plan->actions[i].kind == SIEVE_ACTION_REDIRECT &&
			    strcasecmp(r->plan->actions[i].address, to) == 0) {
				free(to);	/* the same address twice: once */
				if (!has_tag(n, "copy"))
					r->keep = false;
				return 1;
			}
		if (++r->redirects > SIEVE_MAX_REDIRECTS) {
			free(to);
			return run_fail(r, n->line, "more than %d redirects", SIEVE_MAX_REDIRECTS);
		}
		if ((a = add_action(r, n->line)) == NULL) {
			free(to);
			return -1;
		}
		a->kind = SIEVE_ACTION_REDIRECT;
		a->address = to;
		if (!has_tag(n, "copy"))
			r->keep = false;
		return 1;
	}
	if (strcmp(name, "reject") == 0 || strcmp(name, "ereject") == 0) {
		if ((a = add_action(r, n->line)) == NULL)
			return -1;
		a->kind = SIEVE_ACTION_REJECT;
		a->text = expand(r, positional(n, 0)->strs[0]);
		r->keep = false;
		return 1;
	}
	if (strcmp(name, "vacation") == 0)
		return do_vacation(r, n);
	if (strcmp(name, "return") == 0) {
		r->returned = true;
		return 1;
	}
	if (strcmp(name, "include") == 0)
		return do_include(r, n, depth);
	if (strcmp(name, "global") == 0)
		return do_global(r, n);
	if (strcmp(name, "set") == 0)
		return do_set(r, n);
	if (strcmp(name, "setflag") == 0 || strcmp(name, "addflag") == 0 ||
	    strcmp(name, "removeflag") == 0)
		return do_flags(r, n);
	if (strcmp(name, "if") == 0) {
		bool ok;
		const struct sv_node *c = n;
		for (;;) {
			if (strcmp(c->name, "else") == 0)
				return run_block(r, c->block, depth + 1);
			if (eval_test(r, c->tests[0], &ok, depth + 1) < 0)
				return -1;
			if (ok)
				return run_block(r, c->block, depth + 1);
			c = c->next;
			if (c == NULL || (strcmp(c->name, "elsif") != 0 && strcmp(c->name, "else") != 0))
				return 1;
		}
	}
	if (strcmp(name, "elsif") == 0 || strcmp(name, "else") == 0)
		return 1;	/* run with their if */
	return run_fail(r, n->line, "unknown command %s", name);
}


/* ---- include (RFC 6609) ---- */

static int run_block(struct run *r, const struct sv_node *n, unsigned depth);

/* "global" (RFC 6609 3.5): the names refer to the global variables in
   this script from here on. */
static int do_global(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *names = positional(n, 0);

	for (unsigned i = 0; i < names->n_strs; i++) {
		char *name = expand(r, names->strs[i]);
		bool known = false;
		for (const char *p = name; *p != '\0'; p++)
			if (!var_name_char(*p) || *p == '.') {
				run_fail(r, n->line, "bad global variable name \"%.64s\"", name);
				free(name);
				return -1;
			}
		for (unsigned k = 0; k < r->local->n_declared; k++)
			known = known || strcasecmp(r->local->declared[k], name) == 0;
		if (known) {
			free(name);
			continue;
		}
		if (r->local->n_declared == MAX_VARS) {
			free(name);
			return run_fail(r, n->line, "more than %d global variables", MAX_VARS);
		}
		r->local->declared[r->local->n_declared++] = name;
	}
	return 1;
}

/* Run script s as a script of its own: its own variables, "return"
   ending it only. */
static int run_script(struct run *r, const struct sieve_script *s, unsigned depth)
{
	const struct sieve_script *saved_s = r->s;
	struct vars *saved_vars = r->local, *own = xcalloc(1, sizeof(*own));
	int ret;

	r->s = s;
	r->local = own;
	ret = run_block(r, s->first, depth);
	vars_free(own);
	free(own);
	r->local = saved_vars;
	r->s = saved_s;
	r->returned = false;
	return ret;
}

static int do_include(struct run *r, const struct sv_node *n, unsigned depth)
{
	const struct sieve_script *inc = NULL;
	bool global = has_tag(n, "global");
	char *name = expand(r, positional(n, 0)->strs[0]), *key, err[200];
	size_t key_len = strlen(name) + 3;
	int ret;

	/* :once and the list of included scripts know the location */
	key = xmalloc(key_len);
	snprintf(key, key_len, "%c:%s", global ? 'g' : 'p', name);
	if (has_tag(n, "once"))
		for (unsigned i = 0; i < r->n_included; i++)
			if (strcmp(r->included[i], key) == 0) {
				free(name);
				free(key);
				return 1;
			}
	if (r->include_depth >= SIEVE_MAX_INCLUDE || r->n_included >= SIEVE_MAX_INCLUDED) {
		free(name);
		free(key);
		return run_fail(r, n->line, "include nested too deeply or too many includes");
	}
	err[0] = '\0';
	ret = r->msg->include == NULL ? -1 :
	      r->msg->include(r->msg->include_ctx, name, global, &inc, err, sizeof(err));
	if (ret < 0 || (inc == NULL && !has_tag(n, "optional"))) {
		run_fail(r, n->line, "include %s\"%.100s\": %s", global ? ":global " : "", name,
			 ret < 0 ? (err[0] ? err : "cannot include") : "no such script");
		free(name);
		free(key);
		return -1;
	}
	free(name);
	r->included[r->n_included++] = key;
	if (inc == NULL)
		return 1;
	r->include_depth++;
	ret = run_script(r, inc, depth + 1);
	r->include_depth--;
	return ret;
}

static int run_block(struct run *r, const struct sv_node *n, unsigned depth)
{
	for (; n != NULL && !r->stopped && !r->returned; n = n->next)
		if (run_command(r, n, depth) < 0)
			return -1;
	return 1;
}

void sieve_plan_free(struct sieve_plan *plan)
{
	for (unsigned i = 0; i < plan->n; i++) {
		free(plan->actions[i].folder);
		free(plan->actions[i].flags);
		free(plan->actions[i].address);
		free(plan->actions[i].text);
		free(plan->actions[i].subject);
		free(plan->actions[i].from);
		free(plan->actions[i].handle);
		free(plan->actions[i].in_reply_to);
		free(plan->actions[i].references);
	}
	plan->n = 0;
}

int sieve_run(const struct sieve_script *s, const struct sieve_message *msg,
	      struct sieve_plan *plan, char *err, size_t err_size)
{
	return sieve_run_scripts(&s, 1, msg, plan, err, err_size);
}

int sieve_run_scripts(const struct sieve_script *const *scripts, unsigned n,
		      const struct sieve_message *msg, struct sieve_plan *plan, char *err,
		      size_t err_size)
{
	struct run *r = xcalloc(1, sizeof(*r));
	int ret = 1;

	r->s = scripts[0];
	r->msg = msg;
	r->plan = plan;
	r->err = err;
	r->err_size = err_size;
	r->keep = true;
	plan->n = 0;
	if (err_size > 0)
		err[0] = '\0';
	parse_headers(r);
	for (unsigned i = 0; i < n && ret > 0 && !r->stopped; i++)
		if (scripts[i] != NULL)
			ret = run_script(r, scripts[i], 0);
	if (ret > 0 && r->keep) {
		/* the implicit keep, with the current flags */
		struct sv_node none = { .name = (char *)"keep" };
		ret = do_fileinto(r, &none, "INBOX");
	}
	for (unsigned i = 0; i < r->n_headers; i++)
		free(r->headers[i].value);
	vars_free(&r->globals);
	for (unsigned i = 0; i < MAX_CAPTURES; i++)
		free(r->captures[i]);
	for (unsigned i = 0; i < r->n_included; i++)
		free(r->included[i]);
	sv_body_free(&r->body);
	free(r);
	if (ret < 0)
		sieve_plan_free(plan);
	return ret < 0 ? -1 : 1;
}
