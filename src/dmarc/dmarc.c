/*
 * dmarc.c - DMARC records (RFC 7489 §6.3), the Public Suffix List and
 * identifier alignment (§3.1).  The list is an open-addressing hash set of
 * its rules.
 */
#include "dmarc/dmarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "lib/util.h"

bool dmarc_is_record(const char *txt)
{
	size_t i = 0;

	if (strncmp(txt, "v", 1) != 0)
		return false;
	i = 1;
	while (txt[i] == ' ' || txt[i] == '\t')
		i++;
	if (txt[i] != '=')
		return false;
	i++;
	while (txt[i] == ' ' || txt[i] == '\t')
		i++;
	return strncmp(txt + i, "DMARC1", 6) == 0 &&
	       (txt[i + 6] == '\0' || txt[i + 6] == ';' || txt[i + 6] == ' ' || txt[i + 6] == '\t');
}

static bool is(const char *v, size_t len, const char *s)
{
	return v != NULL && len == strlen(s) && strncasecmp(v, s, len) == 0;
}

static int policy(const char *v, size_t len, enum dmarc_policy *r)
{
	if (is(v, len, "none"))
		*r = DMARC_NONE;
	else if (is(v, len, "quarantine"))
		*r = DMARC_QUARANTINE;
	else if (is(v, len, "reject"))
		*r = DMARC_REJECT;
	else
		return -1;
	return 1;
}

int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
		       const char **error_r)
{
	struct dkim_tags t;
	const char *v;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->pct = 100;
	if (dkim_tags_parse(txt, len, &t, error_r) < 0)
		return -1;
	*error_r = "not a DMARC1 record";
	if (t.n == 0 || !is(t.tag[0].name, t.tag[0].name_len, "v") ||
	    !is(t.tag[0].value, t.tag[0].value_len, "DMARC1"))
		return -1;
	v = dkim_tags_get(&t, "p", &n);
	*error_r = "bad or missing p=";
	if (v == NULL) {
		/* §6.6.3: a record with rua= but no p= is p=none */
		if (dkim_tags_get(&t, "rua", &n) == NULL)
			return -1;
		r->p = DMARC_NONE;
	} else if (policy(v, n, &r->p) < 0) {
		return -1;
	}
	r->sp = r->p;
	v = dkim_tags_get(&t, "sp", &n);
	if (v != NULL && policy(v, n, &r->sp) < 0)
		r->sp = r->p;	/* an unknown sp= is ignored */
	v = dkim_tags_get(&t, "pct", &n);
	if (v != NULL) {
		char num[8];
		uint64_t pct;
		if (n > 0 && n < sizeof(num)) {
			memcpy(num, v, n);
			num[n] = '\0';
			if (parse_uint(num, &pct) > 0)
				r->pct = pct > 100 ? 100 : (unsigned)pct;
		}
	}
	v = dkim_tags_get(&t, "adkim", &n);
	r->adkim_strict = is(v, n, "s");
	v = dkim_tags_get(&t, "aspf", &n);
	r->aspf_strict = is(v, n, "s");
	return 1;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	return p == DMARC_REJECT ? "reject" : p == DMARC_QUARANTINE ? "quarantine" : "none";
}

/* ---- the Public Suffix List ---- */

struct dmarc_psl {
	char **slots;
	size_t n_slots, used;
};

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static void psl_insert(struct dmarc_psl *p, const char *s, size_t n)
{
	size_t i;

	if ((p->used + 1) * 2 > p->n_slots) {
		struct dmarc_psl bigger = { xcalloc(p->n_slots * 2, sizeof(char *)), p->n_slots * 2, 0 };
		for (size_t k = 0; k < p->n_slots; k++) {
			if (p->slots[k] == NULL)
				continue;
			i = hash(p->slots[k], strlen(p->slots[k])) % bigger.n_slots;
			while (bigger.slots[i] != NULL)
				i = (i + 1) % bigger.n_slots;
			bigger.slots[i] = p->slots[k];
			bigger.used++;
		}
		free(p->slots);
		*p = bigger;
	}
	i = hash(s, n) % p->n_slots;
	while (p->slots[i] != NULL) {
		if (strlen(p->slots[i]) == n && memcmp(p->slots[i], s, n) == 0)
			return;
		i = (i + 1) % p->n_slots;
	}
	p->slots[i] = xstrndup(s, n);
	for (size_t k = 0; k < n; k++)
		if (p->slots[i][k] >= 'A' && p->slots[i][k] <= 'Z')
			p->slots[i][k] += 32;
	p->used++;
}

static bool psl_has(const struct dmarc_psl *p, const char *prefix, const char *s)
{
	char key[300];
	size_t n = (size_t)snprintf(key, sizeof(key), "%s%s", prefix, s), i;

	if (n >= sizeof(key))
		return false;
	i = hash(key, n) % p->n_slots;
	while (p->slots[i] != NULL) {
		if (strcmp(p->slots[i], key) == 0)
			return true;
		i = (i + 1) % p->n_slots;
	}
	return false;
}

struct dmarc_psl *dmarc_psl_parse(const char *data, size_t len)
{
	struct dmarc_psl *p = xcalloc(1, sizeof(*p));
	size_t i = 0;

	p->n_slots = 1024;
	p->slots = xcalloc(p->n_slots, sizeof(char *));
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl == NULL ? len : (size_t)(nl - data), n;
		const char *line = data + i;

		n = 0;
		while (i + n < end && line[n] != ' ' && line[n] != '\t' && line[n] != '\r' &&
		       line[n] != '\0')
			n++;	/* a rule ends at white space */
		if (n > 0 && !(n >= 2 && line[0] == '/' && line[1] == '/') && n < 256)
			psl_insert(p, line, n);
		i = end + 1;
	}
	return p;
}

const struct dmarc_psl *dmarc_psl_default(void)
{
	static struct dmarc_psl *psl;
	static bool tried;
	FILE *f;
	char *data = NULL;
	size_t cap = 0, len = 0, got;

	if (tried)
		return psl;
	tried = true;
	f = fopen(DMARC_PSL_PATH, "re");
	if (f == NULL)
		return NULL;
	do {
		if (len + 65536 > cap) {
			cap = cap * 2 + 65536;
			data = xrealloc(data, cap);
		}
		got = fread(data + len, 1, cap - len, f);
		len += got;
	} while (got > 0 && len < 16 * 1024 * 1024);
	fclose(f);
	psl = dmarc_psl_parse(data, len);
	free(data);
	return psl;
}

void dmarc_psl_free(struct dmarc_psl **pp)
{
	struct dmarc_psl *p = *pp;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_slots; i++)
		free(p->slots[i]);
	free(p->slots);
	free(p);
	*pp = NULL;
}

/* The number of labels of the public suffix of domain (the PSL
   algorithm: the matching rule with the most labels; an exception rule
   wins and counts one label less; no rule matches: "*", one label). */
static unsigned suffix_labels(const struct dmarc_psl *p, const char *domain)
{
	unsigned labels = 1, count = 1, best = 1;
	const char *s;

	for (s = domain; *s != '\0'; s++)
		labels += *s == '.';
	/* walk the suffixes from the longest: s is "a.b.c", then "b.c", ... */
	for (s = domain; s != NULL; count++) {
		const char *dot = strchr(s, '.');
		unsigned n = labels - count + 1;	/* labels in s */
		if (psl_has(p, "!", s))
			return n - 1;
		if (psl_has(p, "", s) && n > best)
			best = n;
		if (dot != NULL && psl_has(p, "*.", dot + 1) && n > best)
			best = n;
		s = dot == NULL ? NULL : dot + 1;
	}
	return best;
}

int dmarc_org_domain(const struct dmarc_psl *psl, const char *domain, char *out, size_t size)
{
	unsigned labels = 1, keep;
	const char *s = domain;

	for (const char *p = domain; *p != '\0'; p++)
		labels += *p == '.';
	keep = (psl == NULL ? 1 : suffix_labels(psl, domain)) + 1;
	while (labels > keep) {
		s = strchr(s, '.') + 1;
		labels--;
	}
	return str_copy(out, s, size) < size ? 1 : -1;
}

bool dmarc_aligned(const struct dmarc_psl *psl, const char *a, const char *b, bool strict)
{
	char oa[256], ob[256];

	if (str_ieq(a, b))
		return true;
	if (strict)
		return false;
	if (dmarc_org_domain(psl, a, oa, sizeof(oa)) < 0 ||
	    dmarc_org_domain(psl, b, ob, sizeof(ob)) < 0)
		return false;
	return str_ieq(oa, ob);
}
