/*
 * check_warn.c - `correio check` warnings about a configuration that is
 * valid but will hurt once real mail flows: a hostname that is not a
 * fully qualified domain name (remote servers refuse or distrust such a
 * HELO and the self-signed certificate carries it), and, for the DNS
 * check, an MX that names this server while every SMTP listener is on
 * loopback (nobody else can reach it).  Called by cmd_check.c only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

int check_warn_hostname(const struct config *cfg)
{
	const char *h = cfg->hostname;
	const char *dot = strchr(h, '.');

	if (dot != NULL && dot != h && dot[1] != '\0' &&
	    strcasecmp(h, "localhost.localdomain") != 0)
		return 0;
	printf("# warning: hostname %s is not a fully qualified domain name: other mail "
	       "servers see it in the greeting, HELO and Received: lines and may refuse "
	       "it; set [server] hostname = the server's name in DNS (e.g. "
	       "mail.example.org)\n", h);
	return 1;
}

/* Is "address:port" (IPv6 in brackets) on a loopback address? */
static bool listen_item_loopback(const char *item)
{
	char addr[128];
	const char *colon = strrchr(item, ':');
	size_t n = colon != NULL ? (size_t)(colon - item) : strlen(item);
	unsigned char v6[16];
	struct in_addr v4;

	if (n >= 2 && item[0] == '[' && item[n - 1] == ']') {
		item++;
		n -= 2;
	}
	if (n >= sizeof(addr))
		return false;
	memcpy(addr, item, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, v6) == 1)
		return memcmp(v6, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	return strcasecmp(addr, "localhost") == 0;
}

bool check_smtp_loopback_only(const struct config *cfg)
{
	char list[sizeof(cfg->listen[0])];
	char *save = NULL;

	snprintf(list, sizeof(list), "%s", cfg->listen[CONFIG_LISTEN_SMTP]);
	for (char *t = strtok_r(list, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save))
		if (!listen_item_loopback(t))
			return false;
	return true;
}
