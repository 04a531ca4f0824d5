/*
 * cmd_tlsrpt.c - `correio tlsrpt send`: ask the running server to send the
 * SMTP TLS reports (RFC 8460) of every day counted so far, today's
 * included, instead of waiting for the daily run.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char tlsrpt_usage[] =
	"usage: correio tlsrpt send\n"
	"\n"
	"Send now the TLS reports (RFC 8460) of the days counted so far, today's\n"
	"too: the outcomes of the connections made under MTA-STS and DANE\n"
	"policies, one report per domain to the mailto: addresses of its\n"
	"_smtp._tls TXT record, through the queue.  The server sends the reports\n"
	"of past days once a day by itself.\n";

int cmd_tlsrpt(int argc, char **argv, struct config *cfg)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(tlsrpt_usage, stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "send") == 0)
		return cli_control_request(cfg, "tlsrpt send", "TLSRPT\n");
	fprintf(stderr, "correio: tlsrpt: bad arguments\n%s", tlsrpt_usage);
	return 2;
}
