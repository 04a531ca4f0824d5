/*
 * cmd_user_sieve.c - `correio user sieve ADDRESS list|put|get|activate|
 * check`: an administrator manages an account's Sieve scripts, which live
 * in <maildir>/sieve/<name>.sieve with the symlink sieve/active naming the
 * one delivery runs (see sieve.h).  put refuses a script that does not
 * compile and says the line; files in the data directory are written as
 * the server's user (privilege_drop_effective), the script file given is
 * read as the invoker.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "lib/buf.h"
#include "lib/privilege.h"
#include "lib/util.h"
#include "sieve/sieve.h"

static const char what[] = "user sieve";

/* Read a whole file, at most SIEVE_MAX_SCRIPT bytes.  1 or -1. */
static int read_script(const char *path, struct buf *out)
{
	char block[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		cli_error(what, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, block, sizeof(block))) > 0)
		if (buf_append(out, block, (size_t)n) < 0) {
			cli_error(what, "%s: larger than %d bytes", path, SIEVE_MAX_SCRIPT);
			close(fd);
			return -1;
		}
	close(fd);
	if (n < 0) {
		cli_error(what, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 1;
}

/* Compile text; on error print "PATH: line N: reason".  1 or -1. */
static int check_text(const char *path, const struct buf *text)
{
	struct sieve_script *s;
	char err[256];

	if (sieve_compile(text->data ? text->data : "", text->len, &s, err, sizeof(err)) < 0) {
		cli_error(what, "%s: %s", path, err);
		return -1;
	}
	sieve_script_free(&s);
	return 1;
}

static void print_script(void *ctx, const char *name, bool active)
{
	printf("%s%s\n", name, active ? " ACTIVE" : "");
}

static int sieve_list(const char *dir)
{
	if (sieve_store_list(dir, print_script, NULL) < 0) {
		cli_error(what, "%s: %s", dir, strerror(errno));
		return 1;
	}
	return 0;
}

static int sieve_put(const char *dir, const char *name, const char *file)
{
	struct buf text;
	int ret;

	buf_init(&text, SIEVE_MAX_SCRIPT);
	privilege_invoker(true);
	ret = read_script(file, &text);
	privilege_invoker(false);
	if (ret < 0 || check_text(file, &text) < 0) {
		buf_deinit(&text);
		return 1;
	}
	ret = sieve_store_put(dir, name, text.data ? text.data : "", text.len);
	if (ret < 0)
		cli_error(what, "%s/%s.sieve: %s", dir, name, strerror(errno));
	buf_deinit(&text);
	return ret < 0 ? 1 : 0;
}

static int sieve_get(const char *dir, const char *name)
{
	struct buf text;
	int ret;

	buf_init(&text, SIEVE_MAX_SCRIPT);
	ret = sieve_store_get(dir, name, &text);
	if (ret <= 0) {
		cli_error(what, ret == 0 ? "no script named %s" : "%s: %s", name, strerror(errno));
		buf_deinit(&text);
		return 1;
	}
	fwrite(text.data ? text.data : "", 1, text.len, stdout);
	buf_deinit(&text);
	return 0;
}

static int sieve_activate(const char *dir, const char *name)
{
	int ret = sieve_store_activate(dir, name);

	if (ret == 0)
		cli_error(what, "no script named %s", name);
	else if (ret < 0)
		cli_error(what, "%s/active: %s", dir, strerror(errno));
	return ret > 0 ? 0 : 1;
}

/* `test FILE MESSAGE [SENDER]`: run FILE on MESSAGE delivered to ADDRESS
   from SENDER (default: none, "") and print the plan, one action a line
   ("fileinto FOLDER [FLAGS]", "redirect ADDRESS", "reject TEXT",
   "vacation TO", or "discard"), as Pigeonhole's sieve-test does.  Nothing
   is sent or filed; includes are not resolved. */
static int sieve_test(int argc, char **argv, struct config *cfg)
{
	struct buf script, text;
	struct sieve_script *s;
	struct sieve_plan *plan;
	char err[256];
	int status = 0;

	if (argc != 5 && argc != 6) {
		cli_error(what, "usage: correio user sieve ADDRESS test FILE MESSAGE [SENDER]");
		return 2;
	}
	buf_init(&script, SIEVE_MAX_SCRIPT);
	buf_init(&text, 64 << 20);
	if (read_script(argv[3], &script) < 0 || read_script(argv[4], &text) < 0) {
		buf_deinit(&script);
		buf_deinit(&text);
		return 1;
	}
	struct sieve_message m = { .data = text.data ? text.data : "", .len = text.len,
				   .env_from = argc == 6 ? argv[5] : "", .env_to = argv[1],
				   .delimiter = cfg->recipient_delimiter[0] };
	plan = xcalloc(1, sizeof(*plan));
	if (sieve_compile(script.data ? script.data : "", script.len, &s, err, sizeof(err)) < 0) {
		cli_error(what, "%s: %s", argv[3], err);
		status = 1;
	} else if (sieve_run(s, &m, plan, err, sizeof(err)) < 0) {
		cli_error(what, "%s: %s", argv[3], err);
		status = 1;
	} else {
		if (plan->n == 0)
			printf("discard\n");
		for (unsigned i = 0; i < plan->n; i++) {
			const struct sieve_action *a = &plan->actions[i];
			if (a->kind == SIEVE_ACTION_FILEINTO)
				printf("fileinto %s%s%s\n", a->folder, a->flags[0] ? " " : "", a->flags);
			else if (a->kind == SIEVE_ACTION_REDIRECT)
				printf("redirect %s\n", a->address);
			else if (a->kind == SIEVE_ACTION_REJECT)
				printf("reject %s\n", a->text);
			else
				printf("vacation %s\n", a->address);
		}
	}
	sieve_script_free(&s);
	sieve_plan_free(plan);
	free(plan);
	buf_deinit(&script);
	buf_deinit(&text);
	return status;
}

int cmd_user_sieve(int argc, char **argv, struct config *cfg)
{
	struct accounts *a;
	struct account acct;
	const char *error, *cmd;
	char dir[4400];
	int found;

	/* argv: sieve ADDRESS CMD [ARGS] */
	if (argc < 3) {
		cli_error(what, "usage: correio user sieve ADDRESS list|put NAME FILE|get NAME|"
			  "activate NAME|check FILE");
		return 2;
	}
	cmd = argv[2];
	if (strcmp(cmd, "check") == 0) {
		struct buf text;
		int ret;
		if (argc != 4) {
			cli_error(what, "usage: correio user sieve ADDRESS check FILE");
			return 2;
		}
		buf_init(&text, SIEVE_MAX_SCRIPT);
		ret = read_script(argv[3], &text) > 0 && check_text(argv[3], &text) > 0;
		buf_deinit(&text);
		if (ret)
			printf("%s: OK\n", argv[3]);
		return ret ? 0 : 1;
	}
	if (strcmp(cmd, "test") == 0)
		return sieve_test(argc, argv, cfg);
	if (!((strcmp(cmd, "list") == 0 && argc == 3) ||
	      ((strcmp(cmd, "get") == 0 || strcmp(cmd, "activate") == 0) && argc == 4) ||
	      (strcmp(cmd, "put") == 0 && argc == 5))) {
		cli_error(what, "usage: correio user sieve ADDRESS list|put NAME FILE|get NAME|"
			  "activate NAME|check FILE");
		return 2;
	}
	if (argc >= 4 && !sieve_store_valid_name(argv[3])) {
		cli_error(what, "invalid script NAME: %s", argv[3]);
		return 2;
	}
	if (privilege_drop_effective(cfg, &error) < 0) {
		cli_error(what, "%s", error);
		return 1;
	}
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	found = accounts_user_get(a, argv[1], &acct);
	accounts_free(&a);
	if (found <= 0) {
		cli_error(what, found == 0 ? "no such user: %s" : "cannot read the account "
			  "store (%s)", argv[1]);
		return 1;
	}
	sieve_store_dir(cfg->data_dir, acct.address, dir, sizeof(dir));
	if (strcmp(cmd, "list") == 0)
		return sieve_list(dir);
	if (strcmp(cmd, "get") == 0)
		return sieve_get(dir, argv[3]);
	if (strcmp(cmd, "activate") == 0)
		return sieve_activate(dir, argv[3]);
	return sieve_put(dir, argv[3], argv[4]);
}
