/*
 * cli_accounts.c - what the account commands (`correio user|alias|domain`)
 * share: opening the account store the way the server does (data directory
 * created, root left for the run-as user, so every file in the data
 * directory keeps one owner), the local-domain test, error printing and
 * the simple argument checks.
 */
#include "cli/cli.h"

#include <assert.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "delivery/resolve.h"
#include "lib/privilege.h"
#include "lib/util.h"
#include "store/store.h"

void cli_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	fputs("correio: ", stderr);
	if (what != NULL)
		fprintf(stderr, "%s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int cli_subcommand(const char *what, const char *usage, const struct cli_command *cmds,
		   size_t n, int argc, char **argv, struct config *cfg)
{
	assert(cmds != NULL && n > 0);
	if (argc < 2) {
		cli_error(what, "missing subcommand");
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    cli_wants_help(argc - 1, argv + 1)) {
		fputs(usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1, cfg);
	}
	cli_error(what, "unknown subcommand '%s'", argv[1]);
	fputs(usage, stderr);
	return 2;
}

int cli_operands(int argc, char **argv, const char *what, const char *usage,
		 int min, int max)
{
	bool options = true;
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0) {
			options = false;
			continue;
		}
		if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
			cli_error(what, "unknown option: %s", argv[i]);
			fputs(usage, stderr);
			return -1;
		}
		argv[++n] = argv[i];
	}
	if (n < min || (max >= 0 && n > max)) {
		cli_error(what, "%s", n < min ? "missing argument" : "too many arguments");
		fputs(usage, stderr);
		return -1;
	}
	return n;
}

/* As root: become cfg->user (privilege_drop), with precise messages for
   the mistakes an administrator is likely to make. */
static int cli_leave_root(const struct config *cfg)
{
	const char *error;

	if (geteuid() == 0 && getpwnam(cfg->user) == NULL) {
		cli_error(NULL, "user '%s' does not exist (create it with: "
			  "useradd --system %s)", cfg->user, cfg->user);
		return -1;
	}
	if (privilege_drop(cfg, &error) < 0) {
		cli_error(NULL, "%s: %s (user '%s')", cfg->data_dir, error, cfg->user);
		return -1;
	}
	return 1;
}

int cli_open_accounts(const struct config *cfg, struct accounts **r)
{
	const char *error;

	if (cli_leave_root(cfg) < 0)
		return -1;
	if (accounts_open(cfg->data_dir, r, &error) < 0) {
		cli_error(NULL, "%s", error);
		return -1;
	}
	return 1;
}

struct store *cli_store_new(const struct config *cfg)
{
	struct store *s = store_new(cfg->data_dir, cfg->hostname);

	store_set_default_format(s, cfg->mailbox_format == CONFIG_MAILBOX_MBOX);
	return s;
}

int cli_domain_is_local(const struct config *cfg, struct accounts *a,
			const char *domain)
{
	return resolve_domain_is_local(cfg, a, domain);
}
