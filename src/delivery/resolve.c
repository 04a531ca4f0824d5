/*
 * resolve.c - recipient resolution: accounts, aliases (recursive: a stack
 * of the aliases being expanded finds loops, a visited set drops
 * duplicates), plus-addressing and catch-all.
 */
#include "resolve.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
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
	/* the addresses being resolved and the aliases being expanded, the
	   outermost first (keys owned by callers further up the expansion) */
	const char *stack[2 * RESOLVE_MAX_DEPTH + 4];
	unsigned n_stack;
	bool loop;
	char loop_text[RESOLVE_LOOP_TEXT_MAX];
	bool quiet;		/* no warnings (a first pass, a check) */
	/* resolve_alias_check: targets to count as extra_alias's */
	const char *extra_alias;
	char *const *extra;
	int n_extra;
};

static bool state_seen(struct resolve_state *st, const char *key)
{
	char **p;

	for (unsigned i = 0; i < st->n_seen; i++)
		if (strcasecmp(st->seen[i], key) == 0)
			return true;
	p = xreallocarray(st->seen, st->n_seen + 1, sizeof(*p));
	p[st->n_seen] = xstrdup(key);
	st->seen = p;
	st->n_seen++;
	return false;
}

static bool on_stack(const struct resolve_state *st, const char *key)
{
	for (unsigned i = 0; i < st->n_stack; i++)
		if (strcasecmp(st->stack[i], key) == 0)
			return true;
	return false;
}

static bool on_top(const struct resolve_state *st, const char *key)
{
	return st->n_stack > 0 && strcasecmp(st->stack[st->n_stack - 1], key) == 0;
}

/* Returns 1, or -1 (logged) when the stack is full. */
static int push(struct resolve_state *st, const char *key)
{
	if (st->n_stack >= sizeof(st->stack) / sizeof(st->stack[0])) {
		if (!st->quiet)
			log_warn("resolve: alias nesting too deep at %s", key);
		return -1;
	}
	st->stack[st->n_stack++] = key;
	return 1;
}

/* key comes back while the aliases on the stack are being expanded. */
static int loop_found(struct resolve_state *st, const char *key)
{
	size_t len = 0;

	if (st->loop)
		return -1;
	st->loop = true;
	for (unsigned i = 0; i < st->n_stack && len < sizeof(st->loop_text); i++)
		len += (size_t)snprintf(st->loop_text + len, sizeof(st->loop_text) - len,
					"%s -> ", st->stack[i]);
	if (len < sizeof(st->loop_text))
		snprintf(st->loop_text + len, sizeof(st->loop_text) - len, "%s", key);
	if (!st->quiet)
		log_warn("resolve: alias loop: %s", st->loop_text);
	return -1;
}

int resolve_domain_is_local(const struct config *cfg, struct accounts *a,
			    const char *domain)
{
	if (config_is_local_domain(cfg, domain))
		return 1;
	return accounts_domain_exists(a, domain);
}

static int resolve_key(struct resolve_state *st, const char *key, int depth);

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

struct alias_walk {
	struct resolve_state *st;
	const char *alias;	/* the alias whose targets these are */
	int depth;
};

/* Does target name the alias it is a target of, with or without a +tag? */
static bool self_reference(const struct resolve_state *st, const char *alias,
			   const char *target)
{
	char base[320];

	if (strcasecmp(target, alias) == 0)
		return true;
	return address_strip_tag(target, st->cfg->recipient_delimiter, base,
				 sizeof(base)) > 0 && strcasecmp(base, alias) == 0;
}

/* "alice -> alice": the account's own mailbox, once; a loop when the alias
   is no account. */
static int self_target(struct resolve_state *st, const char *alias, const char *target)
{
	char once[330];
	struct account acct;
	int ret = accounts_user_get(st->accounts, alias, &acct);

	if (ret < 0)
		return -1;
	if (ret == 0)
		return loop_found(st, target);
	snprintf(once, sizeof(once), " self %s", acct.address);
	if (state_seen(st, once))
		return 1;
	return emit(st, RESOLVE_LOCAL, acct.address, &acct);
}

static void alias_target(void *ctx, const char *target)
{
	struct alias_walk *w = ctx;
	int ret;

	if (self_reference(w->st, w->alias, target))
		ret = self_target(w->st, w->alias, target);
	else
		ret = resolve_key(w->st, target, w->depth + 1);
	if (ret == 0 && !w->st->quiet)
		log_warn("resolve: alias target %s names nobody", target);
	else if (ret < 0 && !w->st->loop)
		w->st->error = 1;
}

/* Expand alias key if it is one.  Returns targets found (0: no alias), or
   -1 (error or loop). */
static int try_alias(struct resolve_state *st, const char *key, int depth)
{
	struct alias_walk w = { st, key, depth };
	bool pushed = false;
	int n;

	/* on top: the address resolve_key is resolving, now as an alias */
	if (!on_top(st, key)) {
		if (on_stack(st, key))
			return loop_found(st, key);
		if (push(st, key) < 0)
			return 1;	/* counted as found, as in resolve_key */
		pushed = true;
	}
	n = accounts_alias_targets(st->accounts, key, alias_target, &w);
	if (n >= 0 && st->extra_alias != NULL && strcasecmp(key, st->extra_alias) == 0) {
		for (int i = 0; i < st->n_extra; i++)
			alias_target(&w, st->extra[i]);
		n += st->n_extra;
	}
	if (pushed)
		st->n_stack--;
	return st->loop ? -1 : n;
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
		if (!st->quiet)
			log_warn("resolve: alias nesting too deep at %s", key);
		return 1;	/* counted as found: the chain is cut, not unknown */
	}
	if (on_stack(st, key))
		return loop_found(st, key);
	if (state_seen(st, key))
		return 1;	/* reached before on another branch: handled */
	if (at == NULL || at[1] == '\0')
		return 0;
	local = resolve_domain_is_local(st->cfg, st->accounts, at + 1);
	if (local < 0) {
		st->error = 1;
		return -1;
	}
	if (!local)
		return emit(st, RESOLVE_REMOTE, key, NULL);
	if (push(st, key) < 0)
		return 1;
	local = resolve_local(st, key, at + 1, depth);
	st->n_stack--;
	if (local < 0 && !st->loop)
		st->error = 1;
	return local;
}

static int resolve_run(struct resolve_state *st, const char *key)
{
	int ret = resolve_key(st, key, 0);

	for (unsigned i = 0; i < st->n_seen; i++)
		free(st->seen[i]);
	free(st->seen);
	st->seen = NULL;
	st->n_seen = 0;
	if (st->loop)
		return RESOLVE_LOOP;
	if (st->error)
		return -1;
	return ret <= 0 ? ret : (st->targets > 0 ? st->targets : 0);
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

/* One resolution of key (see resolve_address). */
static int resolve_once(const struct config *cfg, struct accounts *a, const char *key,
			resolve_fn *cb, void *ctx)
{
	struct resolve_state st = { .cfg = cfg, .accounts = a, .quiet = cb != NULL };
	int ret;

	/* A first pass without cb: nothing is delivered to part of an
	   expansion that turns out to loop. */
	if (cb != NULL && (ret = resolve_run(&st, key)) < 0) {
		if (ret == RESOLVE_LOOP)
			log_warn("resolve: alias loop: %s", st.loop_text);
		return ret;
	}
	st = (struct resolve_state){ .cfg = cfg, .accounts = a, .cb = cb, .ctx = ctx };
	return resolve_run(&st, key);
}

int resolve_address(const struct config *cfg, struct accounts *a, const char *key,
		    resolve_fn *cb, void *ctx)
{
	int ret = resolve_once(cfg, a, key, cb, ctx);
	char postmaster[320];

	if (ret == 0 && resolve_is_postmaster(key)) {
		/* nobody has this domain's postmaster address: the postmaster
		   takes it */
		resolve_postmaster(cfg, postmaster, sizeof(postmaster));
		if (strcasecmp(postmaster, key) != 0)
			ret = resolve_once(cfg, a, postmaster, cb, ctx);
	}
	return ret;
}

int resolve_alias_check(const struct config *cfg, struct accounts *a, const char *alias,
			char *const *targets, int n, char *loop_r)
{
	struct resolve_state st = { .cfg = cfg, .accounts = a, .extra_alias = alias,
				    .extra = targets, .n_extra = n, .quiet = true };
	int ret = resolve_run(&st, alias);

	if (ret == RESOLVE_LOOP)
		str_copy(loop_r, st.loop_text, RESOLVE_LOOP_TEXT_MAX);
	return ret == RESOLVE_LOOP || ret < 0 ? ret : 1;
}

struct sender_check {
	const char *user;
	bool found;
};

static void sender_target(void *ctx, const struct resolve_target *t)
{
	struct sender_check *c = ctx;

	if (t->kind == RESOLVE_LOCAL && strcmp(t->address, c->user) == 0)
		c->found = true;
}

bool resolve_reaches(const struct config *cfg, struct accounts *a, const char *key,
		     const char *user)
{
	struct sender_check c = { user, false };

	if (strcmp(key, user) == 0)
		return true;
	resolve_address(cfg, a, key, sender_target, &c);
	return c.found;
}

bool resolve_may_send_as(const struct config *cfg, struct accounts *a, const char *user,
			 const char *key)
{
	return !cfg->submission_restrict_sender || resolve_reaches(cfg, a, key, user);
}

struct record {
	struct envelope *e;
	unsigned i;
};

static void record_target(void *ctx, const struct resolve_target *t)
{
	struct record *rec = ctx;

	envelope_add_target(rec->e, rec->i, t->kind == RESOLVE_LOCAL ? ENVELOPE_LOCAL :
			    ENVELOPE_REMOTE, t->address);
}

int resolve_record(const struct config *cfg, struct accounts *a, struct envelope *e,
		   unsigned i)
{
	struct record rec = { e, i };
	int ret = resolve_address(cfg, a, e->rcpts[i].address, record_target, &rec);

	if (ret == 0)
		envelope_add_target(e, i, ENVELOPE_FAIL, "5.1.1 unknown user");
	else if (ret == RESOLVE_LOOP)
		envelope_add_target(e, i, ENVELOPE_FAIL, "5.4.6 alias loop");
	if (ret == -1)
		envelope_clear_targets(e, i);
	return ret;
}
