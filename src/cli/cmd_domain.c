/*
 * cmd_domain.c - `correio domain add|del|list`: the local domains kept in
 * the account store.  The configuration's local_domains are local too;
 * `domain list` shows them marked "(config)", and they can only be removed
 * by editing the configuration file.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "auth/accounts.h"

static const char domain_usage[] =
	"usage: correio domain add DOMAIN\n"
	"       correio domain del DOMAIN\n"
	"       correio domain list\n"
	"\n"
	"Mail for a local domain is delivered here.  The local_domains setting of\n"
	"the configuration lists more; domain list shows those with \"(config)\".\n"
	"domain del refuses while the domain still has users.\n";

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
	}
	accounts_free(&a);
	return ret;
}

static int domain_del_store(struct accounts *a, const struct config *cfg,
			    const char *domain)
{
	const char *error;

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
	if (accounts_domain_del(a, domain, &error) < 0) {
		cli_error("domain del", "%s", error);
		return 1;
	}
	return 0;
}

static int domain_del(int argc, char **argv, struct config *cfg)
{
	int n = cli_operands(argc, argv, "domain del", domain_usage, 1, 1);
	struct accounts *a;
	int ret;

	if (n < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	ret = domain_del_store(a, cfg, argv[1]);
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

static const struct domain_command {
	const char *name;
	int (*run)(int argc, char **argv, struct config *cfg);
} domain_commands[] = {
	{ "add", domain_add },
	{ "del", domain_del },
	{ "list", domain_list },
};

int cmd_domain(int argc, char **argv, struct config *cfg)
{
	if (argc < 2) {
		cli_error("domain", "missing subcommand");
		fputs(domain_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    cli_wants_help(argc - 1, argv + 1)) {
		fputs(domain_usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(domain_commands) / sizeof(domain_commands[0]); i++) {
		if (strcmp(argv[1], domain_commands[i].name) == 0)
			return domain_commands[i].run(argc - 1, argv + 1, cfg);
	}
	cli_error("domain", "unknown subcommand '%s'", argv[1]);
	fputs(domain_usage, stderr);
	return 2;
}
