/*
 * cmd_alias.c - `correio alias add|del|list`: addresses that forward to
 * one or more other addresses, and catch-alls ("@domain") that take the
 * mail of a whole local domain.  The alias's domain must be local; targets
 * may be anywhere.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "auth/accounts.h"

static const char alias_usage[] =
	"usage: correio alias add ALIAS TARGET [TARGET...]\n"
	"       correio alias del ALIAS [TARGET]\n"
	"       correio alias list [ALIAS]\n"
	"\n"
	"  ALIAS   local@domain, or @domain for a catch-all of that domain;\n"
	"          the domain must be local\n"
	"  TARGET  any address, local or remote; an alias may have many targets\n"
	"\n"
	"alias del without TARGET removes the alias with all its targets.\n";

/* Check the syntax of alias and targets[0..n) before changing anything. */
static int alias_check(const char *alias, char **targets, int n)
{
	const char *error;

	if (accounts_check(ACCOUNTS_KIND_ALIAS, alias, &error) < 0) {
		cli_error("alias add", "invalid alias '%s': %s", alias, error);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (accounts_check(ACCOUNTS_KIND_TARGET, targets[i], &error) < 0) {
			cli_error("alias add", "invalid target '%s': %s", targets[i], error);
			return -1;
		}
	}
	return 1;
}

/* Add every target; one that fails (already there) does not stop the rest. */
static int alias_add_store(struct accounts *a, const struct config *cfg,
			   const char *alias, char **targets, int n)
{
	const char *domain = strchr(alias, '@') + 1;
	const char *error;
	int ret = 0, local = cli_domain_is_local(cfg, a, domain);

	if (local <= 0) {
		if (local == 0)
			cli_error("alias add", "domain %s is not local (add it with: "
				  "correio domain add %s)", domain, domain);
		else
			cli_error("alias add", "cannot read the account store");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		if (accounts_alias_add(a, alias, targets[i], &error) < 0) {
			cli_error("alias add", "%s", error);
			ret = 1;
		}
	}
	return ret;
}

static int alias_add(int argc, char **argv, struct config *cfg)
{
	int n = cli_operands(argc, argv, "alias add", alias_usage, 2, -1);
	struct accounts *a;
	int ret;

	if (n < 0)
		return 2;
	if (alias_check(argv[1], argv + 2, n - 1) < 0)
		return 1;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	ret = alias_add_store(a, cfg, argv[1], argv + 2, n - 1);
	accounts_free(&a);
	return ret;
}

static int alias_del(int argc, char **argv, struct config *cfg)
{
	int n = cli_operands(argc, argv, "alias del", alias_usage, 1, 2);
	struct accounts *a;
	const char *error;
	int ret = 0;

	if (n < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	if (accounts_alias_del(a, argv[1], n == 2 ? argv[2] : NULL, &error) < 0) {
		cli_error("alias del", "%s", error);
		ret = 1;
	}
	accounts_free(&a);
	return ret;
}

static void alias_list_one(void *ctx, const char *alias, const char *target)
{
	(*(int *)ctx)++;
	printf("%s -> %s\n", alias, target);
}

static int alias_list(int argc, char **argv, struct config *cfg)
{
	int n = cli_operands(argc, argv, "alias list", alias_usage, 0, 1);
	const char *alias = n == 1 ? argv[1] : NULL;
	struct accounts *a;
	int ret = 0, count = 0;

	if (n < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	if (accounts_alias_list(a, alias, alias_list_one, &count) < 0) {
		cli_error("alias list", "cannot read the account store");
		ret = 1;
	} else if (alias != NULL && count == 0) {
		cli_error("alias list", "no such alias %s", alias);
		ret = 1;
	}
	accounts_free(&a);
	return ret;
}

static const struct alias_command {
	const char *name;
	int (*run)(int argc, char **argv, struct config *cfg);
} alias_commands[] = {
	{ "add", alias_add },
	{ "del", alias_del },
	{ "list", alias_list },
};

int cmd_alias(int argc, char **argv, struct config *cfg)
{
	if (argc < 2) {
		cli_error("alias", "missing subcommand");
		fputs(alias_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    cli_wants_help(argc - 1, argv + 1)) {
		fputs(alias_usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(alias_commands) / sizeof(alias_commands[0]); i++) {
		if (strcmp(argv[1], alias_commands[i].name) == 0)
			return alias_commands[i].run(argc - 1, argv + 1, cfg);
	}
	cli_error("alias", "unknown subcommand '%s'", argv[1]);
	fputs(alias_usage, stderr);
	return 2;
}
