/*
 * cmd_user.c - `correio user add|del|passwd|quota|list`: mail accounts.
 *
 * Passwords never come from the command line (other users could read them
 * in the process list): either the first line of standard input
 * (--password-stdin, for scripts) or typed twice on the terminal with echo
 * off.  Every buffer that held a password is wiped before it goes away.
 * A password is at most USER_PASSWORD_MAX - 1 bytes.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "delivery/quota.h"
#include "lib/util.h"
#include "store/store.h"

#define USER_PASSWORD_MAX 1024

static const char user_usage[] =
	"usage: correio user add ADDRESS [--password-stdin] [--mbox|--maildir] [--quota SIZE]\n"
	"       correio user del ADDRESS [--keep-mail|--remove-mail]\n"
	"       correio user passwd ADDRESS [--password-stdin]\n"
	"       correio user quota ADDRESS SIZE\n"
	"       correio user list\n"
	"       correio user unlock ADDRESS\n"
	"       correio user import ADDRESS PATH\n"
	"       correio user export ADDRESS PATH [--mbox]\n"
	"       correio user sieve ADDRESS list|put NAME FILE|get NAME|activate NAME|check FILE\n"
	"       correio user sieve ADDRESS test FILE MESSAGE [SENDER]\n"
	"\n"
	"  --password-stdin  read the password from the first line of standard input;\n"
	"                    otherwise it is asked for twice on the terminal\n"
	"  --mbox, --maildir mailbox format of this user (default: the configured\n"
	"                    mailbox_format)\n"
	"  --quota SIZE      mailbox quota: bytes, or with k, M or G (0 = unlimited)\n"
	"  --keep-mail       user del: leave the mail on disk, and say where (default)\n"
	"  --remove-mail     user del: delete the account's mail too\n"
	"\n"
	"user quota sets the quota of an account (0 or none: no quota); it takes\n"
	"effect with the next message.  user list shows each account's format,\n"
	"the bytes its mailbox uses and its quota.\n"
	"\n"
	"The domain of ADDRESS must be local (local_domains, or: correio domain add).\n"
	"unlock makes the running server forget the account's failed logins, so\n"
	"that the addresses it was locked out from may try again at once.\n"
	"user sieve manages the account's Sieve scripts (run at delivery): put\n"
	"stores a script after checking it, activate makes it the one that runs,\n"
	"check only compiles FILE and reports errors with their line; test runs\n"
	"FILE on a message and prints the actions, filing and sending nothing.\n";

enum user_opt { USER_OPT_PASSWORD = 1, USER_OPT_FORMAT = 2, USER_OPT_QUOTA = 4,
		USER_OPT_MAIL = 8 };

struct user_args {
	const char *what;		/* "user add", for messages */
	const char *address;
	bool password_stdin;
	int format;			/* enum accounts_format */
	bool quota_set;
	uint64_t quota;
	bool remove_mail;
};

static int user_usage_error(const char *what, const char *msg, const char *arg)
{
	cli_error(what, "%s%s", msg, arg);
	fputs(user_usage, stderr);
	return -1;
}

/* Handle the option argv[*i] (allowed: enum user_opt bits).  1, or -1. */
static int user_option(int argc, char **argv, int *i, unsigned allowed,
		       struct user_args *r)
{
	const char *arg = argv[*i];

	if ((allowed & USER_OPT_PASSWORD) && strcmp(arg, "--password-stdin") == 0)
		r->password_stdin = true;
	else if ((allowed & USER_OPT_FORMAT) && strcmp(arg, "--mbox") == 0)
		r->format = ACCOUNTS_FORMAT_MBOX;
	else if ((allowed & USER_OPT_FORMAT) && strcmp(arg, "--maildir") == 0)
		r->format = ACCOUNTS_FORMAT_MAILDIR;
	else if ((allowed & USER_OPT_MAIL) && strcmp(arg, "--keep-mail") == 0)
		r->remove_mail = false;
	else if ((allowed & USER_OPT_MAIL) && strcmp(arg, "--remove-mail") == 0)
		r->remove_mail = true;
	else if ((allowed & USER_OPT_QUOTA) && strcmp(arg, "--quota") == 0) {
		if (++*i >= argc)
			return user_usage_error(r->what, "--quota needs a SIZE", "");
		if (parse_size(argv[*i], &r->quota) < 0)
			return user_usage_error(r->what, "invalid SIZE: ", argv[*i]);
		r->quota_set = true;
	} else
		return user_usage_error(r->what, "unknown option: ", arg);
	return 1;
}

/* Parse argv[1..]: the options in allowed and exactly npos (0 or 1)
   ADDRESS arguments.  Returns 1, or -1 after printing the usage. */
static int user_parse(int argc, char **argv, unsigned allowed, int npos,
		      struct user_args *r)
{
	bool options = true;
	int pos = 0;

	for (int i = 1; i < argc; i++) {
		if (options && strcmp(argv[i], "--") == 0)
			options = false;
		else if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
			if (user_option(argc, argv, &i, allowed, r) < 0)
				return -1;
		} else if (pos++ < npos)
			r->address = argv[i];
		else
			return user_usage_error(r->what, "unexpected argument: ", argv[i]);
	}
	if (pos < npos)
		return user_usage_error(r->what, "missing ADDRESS", "");
	return 1;
}

/* ---- reading passwords ---- */

/*
 * Read one line from fd into out (the newline and any trailing CRs
 * removed), one byte at a time so that no stdio buffer keeps a copy.
 */
static int user_read_line(int fd, char *out, size_t size, const char **error_r)
{
	size_t n = 0;
	ssize_t r;
	char c = '\0';

	while ((r = read(fd, &c, 1)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || c == '\n')
			break;
		if (n + 1 >= size) {
			*error_r = "password too long";
			explicit_bzero(out, size);
			return -1;
		}
		out[n++] = c;
	}
	explicit_bzero(&c, sizeof(c));
	if (r < 0) {
		*error_r = "cannot read the password";
		return -1;
	}
	while (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	return 1;
}

/* The terminal, while echo is off, to restore on a fatal signal. */
static volatile sig_atomic_t user_tty_fd = -1;
static struct termios user_tty_saved;

static void user_tty_signal(int sig)
{
	if (user_tty_fd >= 0)
		tcsetattr(user_tty_fd, TCSANOW, &user_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int user_tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define USER_TTY_NSIGNALS (sizeof(user_tty_signals) / sizeof(user_tty_signals[0]))

static void user_tty_echo_on(int fd, const struct sigaction *old)
{
	tcsetattr(fd, TCSAFLUSH, &user_tty_saved);
	user_tty_fd = -1;
	for (size_t i = 0; i < USER_TTY_NSIGNALS; i++)
		sigaction(user_tty_signals[i], &old[i], NULL);
}

/* Echo off until user_tty_echo_on(), which a fatal signal also does. */
static int user_tty_echo_off(int fd, struct sigaction *old)
{
	struct sigaction sa;
	struct termios t;

	if (tcgetattr(fd, &user_tty_saved) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = user_tty_signal;
	sigemptyset(&sa.sa_mask);
	user_tty_fd = fd;
	for (size_t i = 0; i < USER_TTY_NSIGNALS; i++)
		sigaction(user_tty_signals[i], &sa, &old[i]);
	t = user_tty_saved;
	t.c_lflag &= ~(tcflag_t)ECHO;
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0) {
		user_tty_echo_on(fd, old);
		return -1;
	}
	return 1;
}

static int user_tty_prompt(int fd, const char *prompt, char *out, size_t size,
			   const char **error_r)
{
	struct sigaction old[USER_TTY_NSIGNALS];
	int ret;

	if (user_tty_echo_off(fd, old) < 0) {
		*error_r = "cannot turn off echo on the terminal";
		return -1;
	}
	if (write_all(fd, prompt, strlen(prompt)) < 0) {
		*error_r = "cannot write to the terminal";
		ret = -1;
	} else
		ret = user_read_line(fd, out, size, error_r);
	user_tty_echo_on(fd, old);
	(void)write_all(fd, "\n", 1);
	return ret;
}

/* Ask twice on the terminal; the answers must match. */
static int user_password_tty(char *out, size_t size, const char **error_r)
{
	char again[USER_PASSWORD_MAX];
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int ret = -1;

	if (fd < 0) {
		*error_r = "cannot open the terminal";
		return -1;
	}
	if (user_tty_prompt(fd, "New password: ", out, size, error_r) > 0 &&
	    user_tty_prompt(fd, "Retype new password: ", again, sizeof(again),
			    error_r) > 0) {
		ret = strcmp(out, again) == 0 ? 1 : -1;
		if (ret < 0)
			*error_r = "passwords do not match";
	}
	explicit_bzero(again, sizeof(again));
	close(fd);
	return ret;
}

static int user_password(bool from_stdin, char *out, size_t size,
			 const char **error_r)
{
	int ret;

	if (from_stdin)
		ret = user_read_line(STDIN_FILENO, out, size, error_r);
	else if (isatty(STDIN_FILENO))
		ret = user_password_tty(out, size, error_r);
	else {
		*error_r = "no password given (use --password-stdin)";
		return -1;
	}
	if (ret > 0 && out[0] == '\0') {
		*error_r = "empty password";
		ret = -1;
	}
	return ret;
}

/* ---- subcommands ---- */

/* The account must not exist yet and its domain must be local. */
static int user_add_check(struct accounts *a, const struct config *cfg,
			  const char *address)
{
	const char *domain = strchr(address, '@') + 1;
	struct account acct;
	int ret;

	if ((ret = cli_domain_is_local(cfg, a, domain)) <= 0) {
		if (ret == 0)
			cli_error("user add", "domain %s is not local (add it with: "
				  "correio domain add %s)", domain, domain);
		else
			cli_error("user add", "cannot read the account store");
		return -1;
	}
	if ((ret = accounts_user_get(a, address, &acct)) != 0) {
		if (ret > 0)
			cli_error("user add", "user %s already exists", acct.address);
		else
			cli_error("user add", "cannot read the account store");
		return -1;
	}
	return 1;
}

static void ignore_target(void *ctx, const char *target)
{
}

/* An alias of the same address takes the account's mail: say so. */
static void user_add_warn_alias(struct accounts *a, const char *address)
{
	if (accounts_alias_targets(a, address, ignore_target, NULL) > 0)
		cli_error("user add", "warning: %s is also an alias, which takes its mail "
			  "(remove it with: correio alias del %s, or keep a copy here "
			  "with: correio alias add --force %s %s)",
			  address, address, address, address);
}

static int user_add_store(struct accounts *a, const struct config *cfg,
			  const struct user_args *args)
{
	char password[USER_PASSWORD_MAX];
	const char *error;
	int ret;

	if (user_add_check(a, cfg, args->address) < 0)
		return 1;
	if (user_password(args->password_stdin, password, sizeof(password), &error) < 0) {
		cli_error("user add", "%s", error);
		return 1;
	}
	ret = accounts_user_add(a, args->address, password, args->format, &error);
	explicit_bzero(password, sizeof(password));
	if (ret > 0 && args->quota_set &&
	    (ret = accounts_user_set_quota(a, args->address, args->quota, &error)) < 0) {
		cli_error("user add", "%s", error);
		/* Not half an account: without its quota, take it away again. */
		(void)accounts_user_del(a, args->address, &error);
		return 1;
	}
	if (ret < 0) {
		cli_error("user add", "%s", error);
		return 1;
	}
	user_add_warn_alias(a, args->address);
	return 0;
}

static int user_add(int argc, char **argv, struct config *cfg)
{
	struct user_args args = { .what = "user add", .format = ACCOUNTS_FORMAT_DEFAULT };
	struct accounts *a;
	const char *error;
	int ret;

	if (user_parse(argc, argv, USER_OPT_PASSWORD | USER_OPT_FORMAT | USER_OPT_QUOTA,
		       1, &args) < 0)
		return 2;
	if (accounts_check(ACCOUNTS_KIND_USER, args.address, &error) < 0) {
		cli_error("user add", "invalid address '%s': %s", args.address, error);
		return 1;
	}
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	ret = user_add_store(a, cfg, &args);
	accounts_free(&a);
	return ret;
}

static int user_del(int argc, char **argv, struct config *cfg)
{
	struct user_args args = { .what = "user del" };
	struct account acct;
	struct accounts *a;
	const char *error = "";
	int ret = 0;

	if (user_parse(argc, argv, USER_OPT_MAIL, 1, &args) < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	if (accounts_user_get(a, args.address, &acct) <= 0 ||
	    accounts_user_del(a, args.address, &error) < 0) {
		if (accounts_user_get(a, args.address, &acct) == 0)
			error = "no such user";
		cli_error("user del", "%s: %s", args.address, error);
		ret = 1;
	} else
		ret = cli_user_mail_gone(cfg, &acct, args.remove_mail) < 0;
	accounts_free(&a);
	return ret;
}

static int user_passwd_store(struct accounts *a, const struct user_args *args)
{
	char password[USER_PASSWORD_MAX];
	struct account acct;
	const char *error;
	int ret;

	if ((ret = accounts_user_get(a, args->address, &acct)) <= 0) {
		if (ret == 0)
			cli_error("user passwd", "no such user %s", args->address);
		else
			cli_error("user passwd", "cannot read the account store");
		return 1;
	}
	if (user_password(args->password_stdin, password, sizeof(password), &error) < 0) {
		cli_error("user passwd", "%s", error);
		return 1;
	}
	ret = accounts_user_passwd(a, args->address, password, &error);
	explicit_bzero(password, sizeof(password));
	if (ret < 0) {
		cli_error("user passwd", "%s", error);
		return 1;
	}
	return 0;
}

static int user_passwd(int argc, char **argv, struct config *cfg)
{
	struct user_args args = { .what = "user passwd" };
	struct accounts *a;
	int ret;

	if (user_parse(argc, argv, USER_OPT_PASSWORD, 1, &args) < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	ret = user_passwd_store(a, &args);
	accounts_free(&a);
	return ret;
}

/* Quota as parse_size() reads it back: "unlimited", "5G", "300M", "12345". */
static void user_quota_text(uint64_t q, char *out, size_t size)
{
	static const char units[] = "GMk";
	static const uint64_t mult[] = { 1u << 30, 1u << 20, 1u << 10 };

	if (q == 0) {
		str_copy(out, "unlimited", size);
		return;
	}
	for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++) {
		if (q % mult[i] == 0) {
			snprintf(out, size, "%llu%c", (unsigned long long)(q / mult[i]),
				 units[i]);
			return;
		}
	}
	snprintf(out, size, "%llu", (unsigned long long)q);
}

/* "<address> <format> used=<bytes> quota=<size>[ (<percent>%)]" */
static void user_list_one(void *ctx, const struct account *acct)
{
	const struct store *store = ctx;
	const char *format = acct->mailbox_format == ACCOUNTS_FORMAT_MAILDIR ? "maildir" :
			     acct->mailbox_format == ACCOUNTS_FORMAT_MBOX ? "mbox" :
			     "default";
	char quota[32], used[32], share[16] = "";
	uint64_t bytes;

	user_quota_text(acct->quota, quota, sizeof(quota));
	if (quota_usage(store, acct, &bytes) < 0) {
		str_copy(used, "?", sizeof(used));
	} else {
		snprintf(used, sizeof(used), "%llu", (unsigned long long)bytes);
		if (acct->quota > 0)
			snprintf(share, sizeof(share), " (%llu%%)",
				 (unsigned long long)(bytes / (acct->quota / 100 + 1)));
	}
	printf("%-40s %-8s used=%s quota=%s%s\n", acct->address, format, used, quota, share);
}

static int user_list(int argc, char **argv, struct config *cfg)
{
	struct user_args args = { .what = "user list" };
	struct accounts *a;
	struct store *store;
	int ret = 0;

	if (user_parse(argc, argv, 0, 0, &args) < 0)
		return 2;
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	printf("%-40s %-8s %s\n", "ADDRESS", "FORMAT", "USAGE");
	store = cli_store_new(cfg);
	if (accounts_user_list(a, user_list_one, store) < 0) {
		cli_error("user list", "cannot read the account store");
		ret = 1;
	}
	store_free(&store);
	accounts_free(&a);
	return ret;
}

/* `user quota ADDRESS SIZE`: SIZE as --quota takes it, or "none". */
static int user_quota(int argc, char **argv, struct config *cfg)
{
	struct accounts *a;
	const char *error;
	uint64_t quota = 0;
	int ret = 0;

	if (argc != 3) {
		user_usage_error("user quota", argc < 3 ? "missing ADDRESS or SIZE" :
				 "unexpected argument: ", argc < 3 ? "" : argv[3]);
		return 2;
	}
	if (strcasecmp(argv[2], "none") != 0 && parse_size(argv[2], &quota) < 0) {
		user_usage_error("user quota", "invalid SIZE: ", argv[2]);
		return 2;
	}
	if (cli_open_accounts(cfg, &a) < 0)
		return 1;
	if (accounts_user_set_quota(a, argv[1], quota, &error) < 0) {
		cli_error("user quota", "%s", error);
		ret = 1;
	}
	accounts_free(&a);
	return ret;
}

static int user_unlock(int argc, char **argv, struct config *cfg)
{
	struct user_args args = { .what = "user unlock" };
	char line[600];

	if (user_parse(argc, argv, 0, 1, &args) < 0)
		return 2;
	if (strpbrk(args.address, " \r\n") != NULL ||
	    strlen(args.address) >= sizeof(line) - 10) {
		cli_error("user unlock", "invalid ADDRESS: %s", args.address);
		return 2;
	}
	snprintf(line, sizeof(line), "UNLOCK %s\n", args.address);
	return cli_control_request(cfg, "user unlock", line);
}

static const struct cli_command user_commands[] = {
	{ "add", user_add },
	{ "del", user_del },
	{ "passwd", user_passwd },
	{ "quota", user_quota },
	{ "list", user_list },
	{ "unlock", user_unlock },
	{ "import", cmd_user_import },
	{ "export", cmd_user_export },
	{ "sieve", cmd_user_sieve },
};

int cmd_user(int argc, char **argv, struct config *cfg)
{
	return cli_subcommand("user", user_usage, user_commands,
			      sizeof(user_commands) / sizeof(user_commands[0]), argc, argv, cfg);
}
