/*
 * main.c - the `correio` command: finds the configuration (-c FILE anywhere
 * on the command line, sendmail's -C FILE, $CORREIO_CONFIG, then the
 * default path), loads it, and runs one subcommand.  Called as sendmail,
 * mailq or newaliases (links to the binary), it is that command.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "client/client.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "version.h"		/* made by the Makefile */

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv, struct config *cfg);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "serve", cmd_serve, "run the mail server in the foreground" },
	{ "user", cmd_user, "add, delete, list accounts and set passwords" },
	{ "alias", cmd_alias, "add, delete and list aliases and lists" },
	{ "domain", cmd_domain, "add, delete and list local domains" },
	{ "check", cmd_check, "validate the configuration and show it" },
	{ "queue", cmd_queue, "list, show, flush, hold, release, delete queued mail" },
	{ "sendmail", cmd_sendmail, "submit a message from standard input (sendmail(1))" },
	{ "newaliases", cmd_newaliases, "import /etc/aliases for the local domains" },
	{ "tls", cmd_tls, "show the certificates the server presents" },
	{ "tlsrpt", cmd_tlsrpt, "send the SMTP TLS reports (RFC 8460) now" },
	{ "mail", NULL, "the mail client: read, write, send, sync (its own -c FILE)" },
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: correio [-c FILE] COMMAND [ARGS]\n\n"
		     "Without -c, the file named by $CORREIO_CONFIG, else ./correio.conf,\n"
		     "then /etc/correio/correio.conf, else the built-in defaults.\n\n"
		     "commands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\nEach command takes --help; correio --version tells the version.\n");
}

/* Remove "-c FILE" / "--config FILE" / "--config=FILE" from argv. */
static int take_config_option(int *argc, char **argv, const char **path)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= *argc)
				return -1;
			*path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			*path = argv[i] + 9;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 1;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	struct config cfg;
	struct buf errors;
	int status;

	/* called as "sendmail", "mailq" or "newaliases": their interfaces */
	const char *base = strrchr(argv[0], '/');
	const char *name = base != NULL ? base + 1 : argv[0];
	bool as_mailq = strcmp(name, "mailq") == 0;
	bool as_newaliases = strcmp(name, "newaliases") == 0;
	bool as_sendmail = strcmp(name, "sendmail") == 0 || as_mailq || as_newaliases;

	if (!as_sendmail && argc == 2 && (strcmp(argv[1], "--version") == 0 ||
					  strcmp(argv[1], "version") == 0)) {
		printf("correio %s%s%s%s\n", CORREIO_VERSION,
		       CORREIO_GIT_VERSION[0] != '\0' ? " (git " : "", CORREIO_GIT_VERSION,
		       CORREIO_GIT_VERSION[0] != '\0' ? ")" : "");
		return 0;
	}
	/* the mail client has its own accounts file: its -c is not ours */
	if (!as_sendmail && argc >= 2 && strcmp(argv[1], "mail") == 0)
		return cmd_mail(argc - 1, argv + 1);
	if (take_config_option(&argc, argv, &path) < 0) {
		fprintf(stderr, "correio: -c needs a file name\n");
		return 2;
	}
	if (!as_sendmail && (argc < 2 || strcmp(argv[1], "--help") == 0 ||
			     strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!as_sendmail && strcmp(argv[1], "mail") == 0) {
		/* "correio -c FILE mail": FILE was meant for the client */
		fprintf(stderr, "correio: the mail client has its own accounts file: "
			"write `correio mail -c FILE ...`\n");
		return 2;
	}
	config_defaults(&cfg);
	if (path == NULL && (as_sendmail || strcmp(argv[1], "sendmail") == 0 ||
			     strcmp(argv[1], "newaliases") == 0))
		path = as_sendmail ? sendmail_config_option(argc, argv) :
				     sendmail_config_option(argc - 1, argv + 1);
	if (path == NULL && getenv("CORREIO_CONFIG") != NULL &&
	    getenv("CORREIO_CONFIG")[0] != '\0')
		path = getenv("CORREIO_CONFIG");
	if (path == NULL)
		path = config_default_path();
	buf_init(&errors, 1 << 20);
	if (path != NULL && config_load(&cfg, path, &errors) < 0) {
		fputs(buf_cstr(&errors), stderr);
		fprintf(stderr, "correio: configuration %s has errors\n", path);
		buf_deinit(&errors);
		return 1;
	}
	buf_deinit(&errors);
	if (path == NULL)
		config_defaults_no_file(&cfg);
	if (as_mailq)
		return cmd_mailq(argc, argv, &cfg);
	if (as_newaliases)
		return cmd_newaliases(argc, argv, &cfg);
	if (as_sendmail)
		return cmd_sendmail(argc, argv, &cfg);
	for (size_t i = 0; i < N_SUBCOMMANDS; i++) {
		if (strcmp(argv[1], subcommands[i].name) != 0 || subcommands[i].run == NULL)
			continue;
		status = subcommands[i].run(argc - 1, argv + 1, &cfg);
		return status;
	}
	fprintf(stderr, "correio: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
