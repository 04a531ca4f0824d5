/*
 * resolve.c - recipient resolution: accounts, aliases (recursive, with a
 * visited set against loops), plus-addressing and catch-all.
 */
#include "resolve.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-mail/address.h"
#include "lib/log.h"
#include "lib/util.h"

struct resolve_state {
	const struct config *cfg;
	struct accounts *accounts;
	resolve_fn *cb;
	void *ctx;
	char **seen;		/* every key visited or emitted */
	unsigned n_seen;
	int targets;
	int error;
};

static bool state_seen(struct resolve_state *st, const char *key)
{
	char **p;

	for (unsigned i = 0; i < st->n_seen; i++)
		if (strcasecmp(st->seen[i], key) == 0)
			return true;
	p = realloc(st->seen, (st->n_seen + 1) * sizeof(*p));
	if (p == NULL || (p[st->n_seen] = strdup(key)) == NULL)
		abort();
	st->seen = p;
	st->n_seen++;
	return false;
}

int resolve_domain_is_local(const struct config *cfg, struct accounts *a,
			    const char *domain)
{
	if (config_is_local_domain(cfg, domain))
		return 1;
	return accounts_domain_exists(a, domain);
}

static int resolve_key(struct resolve_state *st, const char *key, int depth);

struct alias_walk {
	struct resolve_state *st;
	int depth;
};

static void alias_target(void *ctx, const char *target)
{
	struct alias_walk *w = ctx;

	if (resolve_key(w->st, target, w->depth + 1) == 0)
		log_warn("resolve: alias target %s names nobody", target);
}

/* Expand alias key if it is one.  Returns targets found (0: no alias). */
static int try_alias(struct resolve_state *st, const char *key, int depth)
{
	struct alias_walk w = { st, depth };

	return accounts_alias_targets(st->accounts, key, alias_target, &w);
}

static int emit(struct resolve_state *st, enum resolve_kind kind,
		const char *address, const struct account *acct)
{
	struct resolve_target t = { kind, address, acct };

	if (st->targets >= RESOLVE_MAX_TARGETS)
		return 1;
	st->targets++;
	if (st->cb != NULL)
		st->cb(st->ctx, &t);
	return 1;
}

/* Resolve key within a local domain.  Returns >0 found, 0 nobody, -1. */
static int resolve_local(struct resolve_state *st, const char *key,
			 const char *domain, int depth)
{
	char base[320], catchall[300];
	struct account acct;
	int ret;

	if ((ret = try_alias(st, key, depth)) != 0)
		return ret;
	if ((ret = accounts_user_get(st->accounts, key, &acct)) != 0)
		return ret < 0 ? -1 : emit(st, RESOLVE_LOCAL, acct.address, &acct);
	if (address_strip_tag(key, st->cfg->recipient_delimiter, base, sizeof(base)) > 0) {
		if ((ret = try_alias(st, base, depth)) != 0)
			return ret;
		if ((ret = accounts_user_get(st->accounts, base, &acct)) != 0)
			return ret < 0 ? -1 : emit(st, RESOLVE_LOCAL, acct.address, &acct);
	}
	snprintf(catchall, sizeof(catchall), "@%s", domain);
	return try_alias(st, catchall, depth);
}

static int resolve_key(struct resolve_state *st, const char *key, int depth)
{
	const char *at = strrchr(key, '@');
	int local;

	if (depth > RESOLVE_MAX_DEPTH) {
		log_warn("resolve: alias nesting too deep at %s", key);
		return 1;	/* counted as found: the loop is cut, not unknown */
	}
	if (state_seen(st, key))
		return 1;	/* loop or duplicate: already handled */
	if (at == NULL || at[1] == '\0')
		return 0;
	local = resolve_domain_is_local(st->cfg, st->accounts, at + 1);
	if (local < 0) {
		st->error = 1;
		return -1;
	}
	if (!local)
		return emit(st, RESOLVE_REMOTE, key, NULL);
	local = resolve_local(st, key, at + 1, depth);
	if (local < 0)
		st->error = 1;
	return local;
}

void resolve_postmaster(const struct config *cfg, char *out, size_t size)
{
	const char *p = cfg->local_domains + strspn(cfg->local_domains, ", \t");
	int n = (int)strcspn(p, ", \t");

	if (cfg->postmaster[0] != '\0')
		snprintf(out, size, "%s", cfg->postmaster);
	else
		snprintf(out, size, "postmaster@%.*s", n, n > 0 ? p : cfg->hostname);
}

bool resolve_is_postmaster(const char *key)
{
	return strncasecmp(key, "postmaster@", 11) == 0 && strchr(key + 11, '@') == NULL;
}

int resolve_address(const struct config *cfg, struct accounts *a, const char *key,
		    resolve_fn *cb, void *ctx)
{
	struct resolve_state st = { .cfg = cfg, .accounts = a, .cb = cb, .ctx = ctx };
	int ret = resolve_key(&st, key, 0);
	char postmaster[320];

	if (ret == 0 && !st.error && resolve_is_postmaster(key)) {
		/* nobody has this domain's postmaster address: the postmaster
		   takes it (if that is key itself, it is seen: still nobody) */
		resolve_postmaster(cfg, postmaster, sizeof(postmaster));
		ret = resolve_key(&st, postmaster, 0);
	}

	for (unsigned i = 0; i < st.n_seen; i++)
		free(st.seen[i]);
	free(st.seen);
	if (st.error)
		return -1;
	return ret <= 0 ? ret : (st.targets > 0 ? st.targets : 0);
}
