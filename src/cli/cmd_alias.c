/*
 * cmd_alias.c - `correio alias add|del|list`: addresses that forward to
 * one or more other addresses, and catch-alls ("@domain") that take the
 * mail of a whole local domain.  The alias's domain must be local; targets
 * may be anywhere.  An alias that would take an account's mail or loop
 * (resolve_alias_check) is refused unless --force.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "auth/accounts.h"
#include "delivery/resolve.h"
#include "lib/util.h"

static const char alias_usage[] =
	"usage: correio alias add [--force] ALIAS TARGET [TARGET...]\n"
	"       correio alias del ALIAS [TARGET]\n"
	"       correio alias list [ALIAS]\n"
	"\n"
	"  ALIAS   local@domain, or @domain for a catch-all of that domain;\n"
	"          the domain must be local\n"
	"  TARGET  any address, local or remote; an alias may have many targets\n"
	"\n"
	"An alias takes the mail of an account of the same address (list the\n"
	"address among its targets to keep a copy in the account's mailbox), and\n"
	"an alias whose expansion comes back to itself is a loop: alias add\n"
	"refuses both unless --force is given.\n"
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

/* Refuse (or with force, warn about) an alias that takes an account's
   mail or that would loop.  Returns 1 go on, -1 refused or store error. */
static int alias_add_safe(struct accounts *a, const struct config *cfg,
			  const char *alias, char **targets, int n, bool force)
{
	char key[320], loop[RESOLVE_LOOP_TEXT_MAX];
	struct account acct;
	const char *warn = force ? "warning: " : "";
	int ret;

	str_copy(key, alias, sizeof(key));
	str_lower(key);
	for (int i = 0; i < n; i++)
		str_lower(targets[i]);
	if ((ret = accounts_user_get(a, key, &acct)) > 0) {
		cli_error("alias add", "%s%s is an account: the alias takes all its mail "
			  "(list %s among the targets to keep a copy in its mailbox)%s",
			  warn, key, key, force ? "" : "; use --force to add it anyway");
		if (!force)
			return -1;
	}
	if (ret >= 0)
		ret = resolve_alias_check(cfg, a, key, targets, n, loop);
	if (ret == RESOLVE_LOOP) {
		cli_error("alias add", "%salias loop: %s%s", warn, loop,
			  force ? "" : "; not added (--force adds it anyway)");
		if (!force)
			return -1;
	} else if (ret < 0) {
		cli_error("alias add", "cannot read the account store");
		return -1;
	}
	return 1;
}

/* Add every target; one that fails (already there) does not stop the rest. */
static int alias_add_store(struct accounts *a, const struct config *cfg,
			   const char *alias, char **targets, int n, bool force)
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
	if (alias_add_safe(a, cfg, alias, targets, n, force) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		if (accounts_alias_add(a, alias, targets[i], &error) < 0) {
			cli_error("alias add", "%s", error);
			ret = 1;
		}
	}
	return ret;
}

/* Take --force out of argv (before any "--"); returns the new argc. */
static int alias_take_force(int argc, char **argv, bool *force_r)
{
	int n = 1;

	*force_r = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--force") == 0)
			*force_r = true;
		else
			argv[n++] = argv[i];
	}
	return n;
}

static int alias_add(int argc, char **argv, struct config *cfg)
{
	bool force;
	int n;
	struct accounts *a;
	int ret;

	argc = alias_take_force(argc, argv, &force);
	if ((n = cli_operands(argc, argv, "alias add", alias_usage, 2, -1)) < 0)
		return 2;
	if (alias_check(argv[1], argv + 2, n - 1) < 0)
		return 1;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	ret = alias_add_store(a, cfg, argv[1], argv + 2, n - 1, force);
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

static const struct cli_command alias_commands[] = {
	{ "add", alias_add },
	{ "del", alias_del },
	{ "list", alias_list },
};

int cmd_alias(int argc, char **argv, struct config *cfg)
{
	return cli_subcommand("alias", alias_usage, alias_commands,
			      sizeof(alias_commands) / sizeof(alias_commands[0]), argc, argv, cfg);
}
