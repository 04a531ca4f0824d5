/*
 * cmd_check.c - `correio check [--dns]`: the configuration as correio reads
 * it and, with --dns, what the world's DNS says about this server's mail.
 *
 * The DNS part asks, through the resolvers correio itself uses ([dns]
 * servers, else resolv.conf), where each local domain receives mail, and
 * where this server's own hostname points.  It reports what a sender
 * would find: the MX hosts with their addresses, a domain with no MX (its
 * own address then takes the mail), a null MX, a name that does not
 * exist, a lookup that failed; and whether any MX host of a domain is this
 * server's hostname.  Findings are warnings: the exit status says only
 * whether the configuration is valid.  Local domains are those of the
 * configuration and, when the account store exists, those added with
 * `correio domain add`.  What `serve` would refuse although the file
 * parses (ports, certificates, the data directory) is check_startup.c's.
 *
 * With --dns DOMAIN, check_records.c prints the records DOMAIN should
 * publish and compares them with DNS.
 *
 * Without --dns too, it says where mail to the postmaster goes and warns
 * when that address names nobody (RFC 5321 §4.5.1 wants a postmaster; the
 * server then refuses RCPT TO:<postmaster>).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/accounts.h"
#include "cli/cli.h"
#include "delivery/resolve.h"
#include "lib/buf.h"
#include "mta/dns.h"
#include "lib/util.h"

#define CHECK_DNS_SECONDS 20	/* for all the lookups together */
#define CHECK_MAX_DOMAINS 64

struct dns_check;

struct lookup {
	struct dns_check *dc;
	char name[256];
	bool is_hostname;
};

struct dns_check {
	const struct config *cfg;
	struct event_base *base;
	unsigned pending, warnings;
	struct lookup names[CHECK_MAX_DOMAINS + 1];	/* the domains, then the hostname */
	unsigned n_names;
};

static void print_host(const struct dns_host *h, bool mx)
{
	char addr[INET6_ADDRSTRLEN];

	if (mx)
		printf("# dns:   MX %u %s ->", h->pref, h->name);
	else
		printf("# dns:   %s ->", h->name);
	for (unsigned i = 0; i < h->n_addrs; i++) {
		sockaddr_addr_text(&h->addrs[i], addr, sizeof(addr));
		printf(" %s", addr);
	}
	printf("\n");
}

static void warn(struct dns_check *dc, const char *name, const char *text)
{
	printf("# dns: warning: %s%s%s\n", name != NULL ? name : "", name != NULL ? ": " : "",
	       text);
	dc->warnings++;
}

static void on_mx(void *arg, const struct dns_mx *mx)
{
	struct lookup *l = arg;
	struct dns_check *dc = l->dc;
	bool implicit = mx->n_hosts == 1 && strcasecmp(mx->hosts[0].name, l->name) == 0;
	bool ours = false;

	if (mx->status != DNS_OK) {
		if (mx->null_mx)
			warn(dc, l->name, "null MX (RFC 7505): senders are told it takes no mail");
		else if (mx->error[0] != '\0')
			/* some texts name the domain already */
			warn(dc, strncasecmp(mx->error, l->name, strlen(l->name)) == 0 ? NULL :
				 l->name, mx->error);
		else
			warn(dc, l->name, "lookup failed");
	} else if (l->is_hostname) {
		printf("# dns: hostname %s:\n", l->name);
		for (unsigned i = 0; i < mx->n_hosts; i++)
			print_host(&mx->hosts[i], !implicit);
	} else {
		printf("# dns: %s receives mail at:\n", l->name);
		for (unsigned i = 0; i < mx->n_hosts; i++) {
			print_host(&mx->hosts[i], !implicit);
			ours |= strcasecmp(mx->hosts[i].name, dc->cfg->hostname) == 0;
		}
		if (implicit)
			warn(dc, l->name, "no MX record: senders use the domain's own address");
		if (!ours)
			warn(dc, l->name, "no MX host is this server's hostname; if this server "
					  "takes the domain's mail, its MX should name it");
		else if (check_smtp_loopback_only(dc->cfg))
			warn(dc, l->name, "its MX names this server, but every [listen] smtp "
					  "address is on loopback: no other host can deliver to it "
					  "(listen on 0.0.0.0:25, [::]:25)");
	}
	if (--dc->pending == 0)
		event_base_loopexit(dc->base, NULL);
}

static void add_name(struct dns_check *dc, const char *name)
{
	if (dc->n_names >= CHECK_MAX_DOMAINS || name[0] == '\0' || strlen(name) >= 256)
		return;
	for (unsigned i = 0; i < dc->n_names; i++)
		if (strcasecmp(dc->names[i].name, name) == 0)
			return;
	snprintf(dc->names[dc->n_names++].name, 256, "%s", name);
}

static void add_store_domain(void *ctx, const char *domain)
{
	add_name(ctx, domain);
}

/* The local domains: the configuration's, and the store's if it exists
   (it is only read: no directory is made, no user switched to). */
static void collect_domains(struct dns_check *dc)
{
	char list[sizeof(dc->cfg->local_domains)], path[4200];
	struct accounts *a;
	const char *error;

	snprintf(list, sizeof(list), "%s", dc->cfg->local_domains);
	for (char *save = NULL, *d = strtok_r(list, " ,\t", &save); d != NULL;
	     d = strtok_r(NULL, " ,\t", &save))
		add_name(dc, d);
	snprintf(path, sizeof(path), "%s/accounts.db", dc->cfg->data_dir);
	if (access(path, R_OK) == 0 && accounts_open(dc->cfg->data_dir, &a, &error) > 0) {
		accounts_domain_list(a, add_store_domain, dc);
		accounts_free(&a);
	}
}

/* Returns the number of warnings, or -1. */
static int check_dns(const struct config *cfg)
{
	struct dns_check *dc = xcalloc(1, sizeof(*dc));
	struct timeval limit = { CHECK_DNS_SECONDS, 0 };
	struct dns *dns = NULL;
	const char *error;
	unsigned domains;
	int warnings;

	if ((dc->base = event_base_new()) == NULL) {
		cli_error("check", "out of memory");
		free(dc);
		return -1;
	}
	dc->cfg = cfg;
	collect_domains(dc);
	domains = dc->n_names;
	add_name(dc, cfg->hostname);
	if (dns_open(dc->base, cfg->dns_servers, &dns, &error) < 0) {
		cli_error("check", "dns: %s", error);
		event_base_free(dc->base);
		free(dc);
		return -1;
	}
	printf("# dns: asking %s\n", cfg->dns_servers[0] != '\0' ? cfg->dns_servers :
	       "the resolvers of /etc/resolv.conf");
	for (unsigned i = 0; i < dc->n_names; i++) {
		struct lookup *l = &dc->names[i];
		l->dc = dc;
		l->is_hostname = i >= domains;
		dc->pending++;
		dns_lookup_mx(dns, l->name, on_mx, l);
	}
	if (dc->pending > 0) {
		event_base_loopexit(dc->base, &limit);
		event_base_dispatch(dc->base);
	}
	if (dc->pending > 0)
		printf("# dns: %u lookups had no answer within %d s\n", dc->pending,
		       CHECK_DNS_SECONDS);
	printf("# dns: %u warning%s\n", dc->warnings, dc->warnings == 1 ? "" : "s");
	warnings = (int)dc->warnings + (dc->pending > 0);
	dns_free(&dns);		/* cancels what is left */
	event_base_free(dc->base);
	free(dc);
	return warnings;
}

/* Where <postmaster> goes; a warning when it names nobody.  The account
   store is only read, and only when it exists.  Returns the warnings. */
static int check_postmaster(const struct config *cfg)
{
	char pm[320], path[4200];
	struct accounts *a = NULL;
	const char *error;
	int found;

	resolve_postmaster(cfg, pm, sizeof(pm));
	snprintf(path, sizeof(path), "%s/accounts.db", cfg->data_dir);
	if (access(path, R_OK) != 0) {
		/* no account store yet: a local address names nobody */
		found = config_is_local_domain(cfg, strrchr(pm, '@') + 1) ? 0 : 1;
	} else if (accounts_open(cfg->data_dir, &a, &error) > 0) {
		found = resolve_address(cfg, a, pm, NULL, NULL);
		accounts_free(&a);
	} else {
		found = -1;
	}
	printf("# postmaster: mail to <postmaster> goes to <%s>%s\n", pm,
	       cfg->postmaster[0] == '\0' ? " (the default: set [server] postmaster)" : "");
	if (found == 0)
		printf("# warning: postmaster: <%s> names no account or alias, so mail to "
		       "<postmaster> is refused; add one (correio alias add %s ADDRESS) or set "
		       "[server] postmaster\n", pm, pm);
	else if (found < 0)
		printf("# warning: postmaster: cannot read the account store to check <%s>\n", pm);
	return found <= 0;
}

int cmd_check(int argc, char **argv, struct config *cfg)
{
	bool dns = false, strict = false;
	int problems, warnings, dns_warnings = 0;
	const char *domains[CHECK_MAX_DOMAINS];
	unsigned n_domains = 0;

	if (cli_wants_help(argc, argv)) {
		printf("usage: correio check [-c FILE] [--dns [DOMAIN]] [--strict]\n\n"
		       "Read the configuration, report every error as file:line: message,\n"
		       "and print the effective settings.  Starts nothing.  Also fails on what\n"
		       "`correio serve` would refuse: two listeners on one port, certificate or\n"
		       "key files the run-as user cannot read or load, a data directory that\n"
		       "user cannot reach (tried as that user when run as root).\n\n"
		       "--dns  also look up where each local domain receives mail (MX) and\n"
		       "       where the hostname points, with the resolvers correio uses,\n"
		       "       and warn about what a sender would trip over.\n"
		       "--dns DOMAIN  also print the records DOMAIN should publish (MX, SPF,\n"
		       "       DKIM for each selector, DMARC, MTA-STS, TLSRPT, the PTR of each\n"
		       "       address of the hostname), compare each with DNS, and say how to\n"
		       "       fix each mismatch (a mismatch counts as a warning).\n"
		       "--strict  exit with status 1 when there is any warning.\n\n"
		       "Sizes and durations are shown as the file wrote them (25M, 5m);\n"
		       "defaults in the largest whole unit.\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dns") == 0) {
			dns = true;
			if (i + 1 < argc && argv[i + 1][0] != '-' && n_domains < CHECK_MAX_DOMAINS)
				domains[n_domains++] = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--strict") == 0) {
			strict = true;
			continue;
		}
		fprintf(stderr, "correio: check: unexpected argument '%s'\n"
				"usage: correio check [-c FILE] [--dns [DOMAIN]] [--strict]\n",
			argv[i]);
		return 2;
	}
	/* main.c has loaded (and would have refused) the file already */
	printf("# %s\n", cfg->path[0] != '\0' ? cfg->path : "built-in defaults");
	config_print(cfg, stdout);
	if ((problems = check_startup(cfg)) > 0) {
		printf("# %d problem%s: `correio serve` would refuse to start\n", problems,
		       problems == 1 ? "" : "s");
		return 1;
	}
	printf("# configuration OK\n");
	warnings = check_warn_hostname(cfg);
	warnings += check_postmaster(cfg);
	if (dns && (dns_warnings = check_dns(cfg)) < 0)
		return 1;
	warnings += dns_warnings;
	for (unsigned i = 0; i < n_domains; i++) {
		int mismatches = check_records(cfg, domains[i]);
		if (mismatches < 0)
			return 1;
		warnings += mismatches;
	}
	if (strict && warnings > 0) {
		printf("# --strict: %d warning%s\n", warnings, warnings == 1 ? "" : "s");
		return 1;
	}
	return 0;
}
