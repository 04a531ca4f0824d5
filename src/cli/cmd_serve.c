/*
 * cmd_serve.c - `correio serve`.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int cmd_serve(int argc, char **argv, struct config *cfg)
{
	if (wants_help(argc, argv)) {
		printf("usage: correio serve [-c FILE]\n\n"
		       "Run the mail server in the foreground until SIGTERM (graceful stop)\n"
		       "or SIGINT; SIGHUP reloads the configuration.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "correio: serve: unexpected argument '%s'\n"
				"usage: correio serve [-c FILE]\n", argv[1]);
		return 2;
	}
	return server_run(cfg);
}
