/*
 * cmd_domain.c - `correio domain add|del|list|dkim`: the local domains kept
 * in the account store, and their DKIM keys.  The configuration's
 * local_domains are local too; `domain list` shows them marked "(config)",
 * and they can only be removed by editing the configuration file.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"

#include "auth/accounts.h"
#include "dkim/dkim.h"
#include "lib/util.h"

static const char domain_usage[] =
	"usage: correio domain add DOMAIN\n"
	"       correio domain del [--force] DOMAIN\n"
	"       correio domain list\n"
	"       correio domain dkim DOMAIN [rotate | retire SELECTOR]\n"
	"\n"
	"Mail for a local domain is delivered here.  The local_domains setting of\n"
	"the configuration lists more; domain list shows those with \"(config)\".\n"
	"domain del refuses while the domain still has users or aliases; with\n"
	"--force it deletes them first (the users' mail stays on disk: see\n"
	"correio user del --remove-mail).\n"
	"\n"
	"domain add also creates the domain's DKIM keys (RSA-2048 and Ed25519):\n"
	"mail submitted with a From: address in the domain is signed with both.\n"
	"domain dkim DOMAIN prints the DNS TXT records to publish; rotate makes a\n"
	"new pair of keys that signs from now on, the old ones staying listed\n"
	"(publish both) until `retire SELECTOR`.\n";

/* New signing keys for domain (lower case); prints their selectors. */
static int dkim_create(const struct config *cfg, const char *domain, const char *what)
{
	char rsa[64], ed[64], lower[256];
	const char *error;

	str_copy(lower, domain, sizeof(lower));
	str_lower(lower);
	if (dkim_keys_create(cfg->data_dir, lower, rsa, ed, &error) < 0) {
		cli_error(what, "%s: DKIM keys: %s", lower, error);
		return 1;
	}
	printf("%s: new DKIM keys, selectors %s (rsa) and %s (ed25519); publish the "
	       "records shown by: correio domain dkim %s\n", lower, rsa, ed, lower);
	return 0;
}

static int domain_add(int argc, char **argv, struct config *cfg)
{
	int n = cli_operands(argc, argv, "domain add", domain_usage, 1, 1);
	struct accounts *a;
	const char *error;
	int ret = 0;

	if (n < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	if (accounts_domain_add(a, argv[1], &error) < 0) {
		cli_error("domain add", "%s", error);
		ret = 1;
	} else {
		ret = dkim_create(cfg, argv[1], "domain add");
	}
	accounts_free(&a);
	return ret;
}

/* The users and aliases of one domain. */
struct domain_members {
	const char *domain;
	struct buf users;	/* NUL-separated addresses */
	struct buf aliases;
	unsigned n_users, n_aliases;
};

static bool in_domain(const char *address, const char *domain)
{
	const char *at = strrchr(address, '@');

	return at != NULL && strcasecmp(at + 1, domain) == 0;
}

static void domain_member_user(void *ctx, const struct account *acct)
{
	struct domain_members *m = ctx;

	if (in_domain(acct->address, m->domain)) {
		buf_append(&m->users, acct->address, strlen(acct->address) + 1);
		m->n_users++;
	}
}

static void domain_member_alias(void *ctx, const char *alias, const char *target)
{
	struct domain_members *m = ctx;
	const char *p = m->aliases.data, *end = p + m->aliases.len;

	if (!in_domain(alias, m->domain))
		return;
	for (; p < end; p += strlen(p) + 1)
		if (strcmp(p, alias) == 0)
			return;		/* one line per target: count the alias once */
	buf_append(&m->aliases, alias, strlen(alias) + 1);
	m->n_aliases++;
}

/* --force: delete the domain's aliases and users.  1 or -1 (said). */
static int domain_del_members(struct accounts *a, const struct config *cfg,
			      struct domain_members *m)
{
	const char *p, *error;

	for (p = m->aliases.data; p < m->aliases.data + m->aliases.len; p += strlen(p) + 1) {
		if (accounts_alias_del(a, p, NULL, &error) < 0) {
			cli_error("domain del", "alias %s: %s", p, error);
			return -1;
		}
		printf("alias %s deleted\n", p);
	}
	for (p = m->users.data; p < m->users.data + m->users.len; p += strlen(p) + 1) {
		struct account acct;
		if (accounts_user_get(a, p, &acct) <= 0 || accounts_user_del(a, p, &error) < 0) {
			cli_error("domain del", "user %s: cannot delete it", p);
			return -1;
		}
		if (cli_user_mail_gone(cfg, &acct, false) < 0)
			return -1;
	}
	return 1;
}

static int domain_del_store(struct accounts *a, const struct config *cfg,
			    const char *domain, bool force)
{
	struct domain_members m = { .domain = domain };
	const char *error;
	int ret = 1;

	if (accounts_domain_exists(a, domain) == 0 &&
	    config_is_local_domain(cfg, domain)) {
		if (cfg->path[0] != '\0')
			cli_error("domain del", "domain %s is in local_domains of %s; "
				  "remove it there", domain, cfg->path);
		else
			cli_error("domain del", "domain %s is in the built-in default "
				  "local_domains; set local_domains in a configuration "
				  "file instead", domain);
		return 1;
	}
	buf_init(&m.users, 0);
	buf_init(&m.aliases, 0);
	if (accounts_user_list(a, domain_member_user, &m) < 0 ||
	    accounts_alias_list(a, NULL, domain_member_alias, &m) < 0) {
		cli_error("domain del", "cannot read the account store");
		ret = -1;
	} else if ((m.n_users > 0 || m.n_aliases > 0) && !force) {
		cli_error("domain del", "domain %s still has %u user%s and %u alias%s "
			  "(delete them first, or all at once with: correio domain del "
			  "--force %s)", domain, m.n_users, m.n_users == 1 ? "" : "s",
			  m.n_aliases, m.n_aliases == 1 ? "" : "es", domain);
		ret = -1;
	} else if (force)
		ret = domain_del_members(a, cfg, &m);
	buf_deinit(&m.users);
	buf_deinit(&m.aliases);
	if (ret < 0)
		return 1;
	if (accounts_domain_del(a, domain, &error) < 0) {
		cli_error("domain del", "%s", error);
		return 1;
	}
	printf("domain %s deleted\n", domain);
	return 0;
}

static int domain_del(int argc, char **argv, struct config *cfg)
{
	bool force = false;
	struct accounts *a;
	int n = 0, ret;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else
			argv[++n] = argv[i];
	}
	if (cli_operands(n + 1, argv, "domain del", domain_usage, 1, 1) < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	ret = domain_del_store(a, cfg, argv[1], force);
	accounts_free(&a);
	return ret;
}

static void domain_list_one(void *ctx, const char *domain)
{
	printf("%s\n", domain);
}

/* local_domains: names separated by spaces, tabs or commas. */
static void domain_list_config(const struct config *cfg)
{
	const char *p = cfg->local_domains;

	while (*p != '\0') {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len > 0)
			printf("%.*s (config)\n", (int)len, p);
		p += len;
	}
}

static int domain_list(int argc, char **argv, struct config *cfg)
{
	int n = cli_operands(argc, argv, "domain list", domain_usage, 0, 0);
	struct accounts *a;
	int ret = 0;

	if (n < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	if (accounts_domain_list(a, domain_list_one, NULL) < 0) {
		cli_error("domain list", "cannot read the account store");
		ret = 1;
	}
	domain_list_config(cfg);
	accounts_free(&a);
	return ret;
}

/* One TXT record in zone-file form, in strings of at most 255 bytes. */
static void print_record(const char *domain, const struct dkim_record *r)
{
	size_t len = strlen(r->txt);

	printf("; %s, %s\n", r->alg == DKIM_ALG_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256",
	       r->signing ? "signing" : "no longer signing: keep published until retired");
	printf("%s._domainkey.%s. IN TXT (", r->selector, domain);
	for (size_t i = 0; i < len; i += 255)
		printf(" \"%.*s\"", (int)(len - i < 255 ? len - i : 255), r->txt + i);
	printf(" )\n");
}

static int dkim_show(const struct config *cfg, const char *domain)
{
	struct dkim_record recs[32];
	const char *error;
	int n = dkim_keys_list(cfg->data_dir, domain, recs, 32, &error);

	if (n < 0) {
		cli_error("domain dkim", "%s: %s", domain, error);
		return 1;
	}
	if (n == 0) {
		cli_error("domain dkim", "%s has no DKIM keys; create them with: "
			  "correio domain dkim %s rotate", domain, domain);
		return 1;
	}
	for (int i = 0; i < n; i++)
		print_record(domain, &recs[i]);
	return 0;
}

static int domain_dkim(int argc, char **argv, struct config *cfg)
{
	int n = cli_operands(argc, argv, "domain dkim", domain_usage, 1, 3);
	struct accounts *a;
	char domain[256];
	const char *error;
	int ret = 1, local;

	if (n < 0)
		return 2;
	if (n == 2 && strcmp(argv[2], "retire") == 0) {
		cli_error("domain dkim", "retire needs a SELECTOR");
		return 2;
	}
	if ((n == 2 && strcmp(argv[2], "rotate") != 0) ||
	    (n == 3 && strcmp(argv[2], "retire") != 0)) {
		cli_error("domain dkim", "expected: DOMAIN [rotate | retire SELECTOR]");
		fputs(domain_usage, stderr);
		return 2;
	}
	str_copy(domain, argv[1], sizeof(domain));
	str_lower(domain);
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	local = cli_domain_is_local(cfg, a, domain);
	if (local <= 0) {
		cli_error("domain dkim", local < 0 ? "cannot read the account store" :
			  "%s is not a local domain", domain);
	} else if (n == 1) {
		ret = dkim_show(cfg, domain);
	} else if (n == 2) {
		ret = dkim_create(cfg, domain, "domain dkim");
	} else {
		int r = dkim_keys_retire(cfg->data_dir, domain, argv[3], &error);
		if (r < 0)
			cli_error("domain dkim", "%s: %s", argv[3], error);
		else if (r == 0)
			cli_error("domain dkim", "%s has no selector %s", domain, argv[3]);
		else
			printf("%s: selector %s retired; remove its DNS record\n", domain, argv[3]);
		ret = r > 0 ? 0 : 1;
	}
	accounts_free(&a);
	return ret;
}

static const struct cli_command domain_commands[] = {
	{ "add", domain_add },
	{ "del", domain_del },
	{ "list", domain_list },
	{ "dkim", domain_dkim },
};

int cmd_domain(int argc, char **argv, struct config *cfg)
{
	return cli_subcommand("domain", domain_usage, domain_commands,
			      sizeof(domain_commands) / sizeof(domain_commands[0]), argc, argv, cfg);
}
