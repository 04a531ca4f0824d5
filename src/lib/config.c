/*
 * config.c - the settings table, the INI reader and the defaults.
 *
 * To add a setting: add a field to struct config, a row to settings[] and a
 * line to the README's configuration section.  Nothing else.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ini.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

enum setting_type {
	SET_STRING, SET_UINT, SET_SIZE, SET_DURATION, SET_CHOICE,
	SET_LISTEN, SET_DOMAINS, SET_BOOL, SET_NETWORKS, SET_UINT32, SET_ADDRESS,
	SET_LOG			/* "stderr", "syslog" or an absolute path */
};

struct setting {
	const char *section;
	const char *key;
	enum setting_type type;
	size_t offset;
	size_t size;		/* strings: field size */
	uint64_t min, max;	/* numbers */
	const char *choices;	/* SET_CHOICE: "a|b|c", index stored as int */
	bool restart;		/* SIGHUP cannot apply it: only a restart does */
};

#define STR(sec, k, field) \
	{ sec, k, SET_STRING, offsetof(struct config, field), \
	  sizeof(((struct config *)0)->field), 0, 0, NULL, false }
#define NUM(sec, k, t, field, lo, hi) \
	{ sec, k, t, offsetof(struct config, field), 0, lo, hi, NULL, false }
#define BOOL(sec, k, field) \
	{ sec, k, SET_BOOL, offsetof(struct config, field), 0, 0, 1, NULL, false }
#define LISTEN(k, idx) \
	{ "listen", k, SET_LISTEN, offsetof(struct config, listen[idx]), \
	  sizeof(((struct config *)0)->listen[idx]), 0, 0, NULL, true }
/* rows that SIGHUP cannot apply */
#define STR_RESTART(sec, k, field) \
	{ sec, k, SET_STRING, offsetof(struct config, field), \
	  sizeof(((struct config *)0)->field), 0, 0, NULL, true }
#define NUM_RESTART(sec, k, t, field, lo, hi) \
	{ sec, k, t, offsetof(struct config, field), 0, lo, hi, NULL, true }

static const struct setting settings[] = {
	STR("server", "hostname", hostname),
	STR_RESTART("server", "data_dir", data_dir),
	STR_RESTART("server", "user", user),
	{ "server", "local_domains", SET_DOMAINS, offsetof(struct config, local_domains),
	  sizeof(((struct config *)0)->local_domains), 0, 0, NULL, false },
	{ "server", "postmaster", SET_ADDRESS, offsetof(struct config, postmaster),
	  sizeof(((struct config *)0)->postmaster), 0, 0, NULL, false },
	{ "server", "log", SET_LOG, offsetof(struct config, log),
	  sizeof(((struct config *)0)->log), 0, 0, NULL, false },
	{ "server", "log_level", SET_CHOICE, offsetof(struct config, log_level),
	  0, 0, 0, "info|debug", false },
	{ "server", "debug_peers", SET_NETWORKS, offsetof(struct config, debug_peers),
	  sizeof(((struct config *)0)->debug_peers), 0, 0, NULL, false },
	LISTEN("smtp", CONFIG_LISTEN_SMTP),
	LISTEN("submission", CONFIG_LISTEN_SUBMISSION),
	LISTEN("submissions", CONFIG_LISTEN_SUBMISSIONS),
	LISTEN("pop3", CONFIG_LISTEN_POP3),
	LISTEN("pop3s", CONFIG_LISTEN_POP3S),
	LISTEN("imap", CONFIG_LISTEN_IMAP),
	LISTEN("imaps", CONFIG_LISTEN_IMAPS),
	LISTEN("http", CONFIG_LISTEN_HTTP),
	LISTEN("https", CONFIG_LISTEN_HTTPS),
	LISTEN("managesieve", CONFIG_LISTEN_MANAGESIEVE),
	{ "listen", "acme_http", SET_LISTEN, offsetof(struct config, acme_http_listen),
	  sizeof(((struct config *)0)->acme_http_listen), 0, 0, NULL, true },
	NUM("limits", "message_size", SET_SIZE, message_size, 1024, 2ull << 30),
	NUM("limits", "recipients", SET_UINT, max_recipients, 1, 100000),
	NUM("limits", "connections", SET_UINT, max_connections, 1, 1000000),
	NUM("limits", "connections_per_client", SET_UINT, max_connections_per_client, 1, 1000000),
	NUM("limits", "idle_timeout", SET_DURATION, idle_timeout, 1, 86400),
	NUM("limits", "command_timeout", SET_DURATION, command_timeout, 1, 86400),
	NUM("limits", "errors", SET_UINT, max_errors, 1, 10000),
	NUM("limits", "disk_reserve", SET_SIZE, disk_reserve, 0, 1ull << 50),
	{ "delivery", "mailbox_format", SET_CHOICE, offsetof(struct config, mailbox_format),
	  0, 0, 0, "maildir|mbox", false },
	STR("delivery", "recipient_delimiter", recipient_delimiter),
	STR("sieve", "global_dir", sieve_global_dir),
	STR("sieve", "before", sieve_before),
	STR("sieve", "after", sieve_after),
	STR("tls", "certificate", tls_certificate),
	STR("tls", "key", tls_key),
	{ "tls", "acme", SET_BOOL, offsetof(struct config, acme), 0, 0, 1, NULL, true },
	{ "tls", "acme_email", SET_ADDRESS, offsetof(struct config, acme_email),
	  sizeof(((struct config *)0)->acme_email), 0, 0, NULL, true },
	STR_RESTART("tls", "acme_directory", acme_directory),
	STR_RESTART("tls", "acme_ca_file", acme_ca_file),
	NUM_RESTART("tls", "acme_timeout", SET_DURATION, acme_timeout, 2, 600),
	{ "tls", "acme_challenge", SET_CHOICE, offsetof(struct config, acme_challenge),
	  0, 0, 0, "http-01|tls-alpn-01|both", true },
	{ "tls", "acme_names", SET_DOMAINS, offsetof(struct config, acme_names),
	  sizeof(((struct config *)0)->acme_names), 0, 0, NULL, true },
	BOOL("auth", "plaintext_on_loopback", auth_plaintext_loopback),
	NUM("auth", "failure_delay", SET_DURATION, auth_failure_delay, 0, 60),
	NUM("auth", "max_failures", SET_UINT, auth_max_failures, 1, 1000),
	NUM("auth", "lockout", SET_DURATION, auth_lockout, 1, 86400),
	NUM_RESTART("auth", "threads", SET_UINT32, auth_threads, 1, 64),
	{ "relay", "trusted_networks", SET_NETWORKS, offsetof(struct config, trusted_networks),
	  sizeof(((struct config *)0)->trusted_networks), 0, 0, NULL, false },
	STR("relay", "smarthost", smarthost),
	STR("relay", "smarthost_user", smarthost_user),
	STR("relay", "smarthost_password_file", smarthost_password_file),
	NUM("relay", "port", SET_UINT, relay_port, 1, 65535),
	NUM("relay", "destination_concurrency", SET_UINT, destination_concurrency, 1, 1000),
	BOOL("relay", "mta_sts", mta_sts),
	NUM("relay", "mta_sts_port", SET_UINT, mta_sts_port, 1, 65535),
	NUM("relay", "mta_sts_timeout", SET_DURATION, mta_sts_timeout, 1, 600),
	STR("relay", "ca_file", ca_file),
	NUM("queue", "retry_interval", SET_DURATION, retry_interval, 1, 86400),
	NUM("queue", "max_retry_interval", SET_DURATION, max_retry_interval, 1, 7 * 86400),
	NUM("queue", "warn_after", SET_DURATION, warn_after, 1, 30 * 86400),
	NUM("queue", "give_up", SET_DURATION, give_up, 1, 60 * 86400),
	STR("dns", "servers", dns_servers),
	STR_RESTART("dns", "dnssec_resolver", dnssec_resolver),
	STR_RESTART("dns", "trust_anchor_file", trust_anchor_file),
	{ "auth_checks", "dkim", SET_CHOICE, offsetof(struct config, check_dkim),
	  0, 0, 0, "off|tag|enforce", false },
	{ "auth_checks", "spf", SET_CHOICE, offsetof(struct config, check_spf),
	  0, 0, 0, "off|tag|enforce", false },
	{ "auth_checks", "dmarc", SET_CHOICE, offsetof(struct config, check_dmarc),
	  0, 0, 0, "off|tag|enforce", false },
	BOOL("submission", "restrict_sender", submission_restrict_sender),
	STR("door", "dnsbl", door_dnsbl),
	NUM("door", "rate_messages", SET_UINT, door_rate_messages, 0, 1000000),
	NUM("door", "rate_recipients", SET_UINT, door_rate_recipients, 0, 10000000),
	NUM("door", "rate_window", SET_DURATION, door_rate_window, 1, 86400),
	BOOL("door", "greylist", door_greylist),
	NUM("door", "greylist_delay", SET_DURATION, door_greylist_delay, 0, 86400),
	STR("door", "greylist_whitelist", door_greylist_whitelist),
	STR("milter", "filters", milter_filters),
	{ "milter", "default_action", SET_CHOICE, offsetof(struct config, milter_default_action),
	  0, 0, 0, "tempfail|accept", false },
	NUM("milter", "connect_timeout", SET_DURATION, milter_connect_timeout, 1, 3600),
	NUM("milter", "timeout", SET_DURATION, milter_timeout, 1, 3600),
	BOOL("srs", "enabled", srs_enabled),
	STR("srs", "domain", srs_domain),
	NUM("srs", "max_age", SET_DURATION, srs_max_age, 86400, 365 * 86400),
	STR("srs", "secret_file", srs_secret_file),
	{ "metrics", "listen", SET_LISTEN, offsetof(struct config, metrics_listen),
	  sizeof(((struct config *)0)->metrics_listen), 0, 0, NULL, true },
	STR_RESTART("jmap", "web_root", jmap_web_root),
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))
_Static_assert(N_SETTINGS <= CONFIG_SETTINGS_MAX, "raise CONFIG_SETTINGS_MAX");

static const char *listener_names[CONFIG_LISTEN_COUNT] = {
	"smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps",
	"http", "https", "managesieve"
};
static const uint16_t listener_ports[CONFIG_LISTEN_COUNT][2] = {
	{ 25, 2525 }, { 587, 5870 }, { 465, 4650 }, { 110, 1100 }, { 995, 9950 },
	{ 143, 1430 }, { 993, 9930 },
	{ 0, 0 }, { 0, 0 },	/* http, https: off unless configured */
	{ 4190, 4190 },		/* managesieve: a high port even as root */
};

const char *config_listener_name(enum config_listener l)
{
	return listener_names[l];
}

void config_defaults(struct config *cfg)
{
	bool root = geteuid() == 0;

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) < 0 ||
	    cfg->hostname[0] == '\0')
		str_copy(cfg->hostname, "localhost", sizeof(cfg->hostname));
	str_copy(cfg->data_dir, "./correio-data", sizeof(cfg->data_dir));
	str_copy(cfg->user, "correio", sizeof(cfg->user));
	str_copy(cfg->local_domains, "localhost", sizeof(cfg->local_domains));
	str_copy(cfg->log, "stderr", sizeof(cfg->log));
	for (int i = 0; i < CONFIG_LISTEN_COUNT; i++)
		if (listener_ports[i][0] != 0)
			snprintf(cfg->listen[i], sizeof(cfg->listen[i]), "127.0.0.1:%u",
				 listener_ports[i][root ? 0 : 1]);
	cfg->message_size = 25u * 1024 * 1024;
	cfg->max_recipients = 1000;
	cfg->max_connections = 1000;
	cfg->max_connections_per_client = 50;
	cfg->idle_timeout = 300;
	cfg->command_timeout = 600;
	cfg->max_errors = 20;
	cfg->disk_reserve = 100u * 1024 * 1024;
	cfg->mailbox_format = CONFIG_MAILBOX_MAILDIR;
	cfg->check_dkim = CONFIG_CHECK_TAG;
	cfg->check_spf = CONFIG_CHECK_TAG;
	cfg->check_dmarc = CONFIG_CHECK_ENFORCE;
	str_copy(cfg->recipient_delimiter, "+", sizeof(cfg->recipient_delimiter));
	cfg->auth_plaintext_loopback = true;
	cfg->auth_failure_delay = 1;
	cfg->auth_max_failures = 10;
	cfg->auth_lockout = 900;
	cfg->auth_threads = 2;
	cfg->submission_restrict_sender = true;
	cfg->relay_port = 25;
	cfg->destination_concurrency = 5;
	cfg->mta_sts = true;
	cfg->mta_sts_port = 443;
	cfg->mta_sts_timeout = 60;
	cfg->acme_timeout = 60;
	str_copy(cfg->trust_anchor_file, "/usr/share/dns/root.key", sizeof(cfg->trust_anchor_file));
	cfg->retry_interval = 15 * 60;
	cfg->max_retry_interval = 4 * 3600;
	cfg->warn_after = 4 * 3600;
	cfg->give_up = 5 * 86400;
	cfg->door_rate_window = 3600;
	cfg->door_greylist_delay = 300;
	cfg->milter_default_action = CONFIG_MILTER_TEMPFAIL;
	cfg->milter_connect_timeout = 30;
	cfg->milter_timeout = 30;
	str_copy(cfg->acme_directory, CONFIG_ACME_LETSENCRYPT, sizeof(cfg->acme_directory));
	cfg->acme_challenge = CONFIG_ACME_HTTP01;
	cfg->srs_enabled = true;
	cfg->srs_max_age = 21 * 86400;
}

void config_defaults_no_file(struct config *cfg)
{
	/* `make run` in a fresh clone: the webmail and JMAP on loopback,
	   where plain http may carry passwords */
	if (cfg->listen[CONFIG_LISTEN_HTTP][0] == '\0' &&
	    cfg->listen[CONFIG_LISTEN_HTTPS][0] == '\0')
		str_copy(cfg->listen[CONFIG_LISTEN_HTTP], "127.0.0.1:8080",
			 sizeof(cfg->listen[CONFIG_LISTEN_HTTP]));
}

/* Check one "host:port" or "[v6]:port" item. */
static int check_listen_item(const char *item, const char **error_r)
{
	const char *colon = strrchr(item, ':');
	uint64_t port;

	if (colon == NULL || colon == item) {
		*error_r = "expected address:port";
		return -1;
	}
	if (parse_uint(colon + 1, &port) < 0 || port == 0 || port > 65535) {
		*error_r = "bad port number";
		return -1;
	}
	return 1;
}

static int check_listen(const char *value, const char **error_r)
{
	char copy[512], *save = NULL;

	if (str_copy(copy, value, sizeof(copy)) >= sizeof(copy)) {
		*error_r = "value too long";
		return -1;
	}
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save))
		if (check_listen_item(t, error_r) < 0)
			return -1;
	return 1;
}

/* "" or a plain local@domain: no spaces, brackets or list separators. */
static int check_address(const char *value, const char **error_r)
{
	const char *at = strrchr(value, '@');

	if (value[0] == '\0')
		return 1;
	if (at == NULL || at == value || at[1] == '\0' || strpbrk(value, " \t<>,;()") != NULL) {
		*error_r = "expected an address: local@domain";
		return -1;
	}
	return 1;
}

static int parse_bool(const char *v, bool *b)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (int i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*b = strcasecmp(v, yes[i]) == 0;
			return 1;
		}
	}
	return -1;
}

/* Parse "addr/bits" (or a bare address) into family, bytes and prefix. */
static int parse_cidr(const char *text, int *family, unsigned char *bytes,
		      unsigned *bits)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t n = slash != NULL ? (size_t)(slash - text) : strlen(text);
	uint64_t b;

	if (n >= sizeof(addr))
		return -1;
	memcpy(addr, text, n);
	addr[n] = '\0';
	*family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(*family, addr, bytes) != 1)
		return -1;
	*bits = *family == AF_INET6 ? 128 : 32;
	if (slash != NULL) {
		if (parse_uint(slash + 1, &b) < 0 || b > *bits)
			return -1;
		*bits = (unsigned)b;
	}
	return 1;
}

/* Parse a CIDR list into nets (may be NULL: only check).  1, or -1. */
static int networks_parse(const char *value, struct config_networks *nets,
			  const char **error_r)
{
	char copy[1024], *save = NULL;
	unsigned char bytes[16] = { 0 };
	unsigned bits, n = 0;
	int family;

	if (str_copy(copy, value, sizeof(copy)) >= sizeof(copy)) {
		*error_r = "value too long";
		return -1;
	}
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (parse_cidr(t, &family, bytes, &bits) < 0) {
			*error_r = "expected address/prefix, e.g. 192.0.2.0/24";
			return -1;
		}
		assert(n < CONFIG_NETWORKS_MAX);	/* see CONFIG_NETWORKS_MAX */
		if (nets != NULL) {
			memcpy(nets->net[n].bytes, bytes, sizeof(bytes));
			nets->net[n].bits = (unsigned char)bits;
			nets->net[n].v6 = family == AF_INET6;
		}
		n++;
	}
	if (nets != NULL)
		nets->n = n;
	return 1;
}

/* Is the address a (v6: 16 bytes, else 4) inside net? */
static bool network_contains(const struct config_network *net, bool v6,
			     const unsigned char *a)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	return net->v6 == v6 && memcmp(net->bytes, a, full) == 0 &&
	       (rest == 0 || ((net->bytes[full] ^ a[full]) & (0xff << (8 - rest))) == 0);
}

bool config_networks_match(const struct config_networks *nets, const char *addr)
{
	bool v6 = strchr(addr, ':') != NULL;
	unsigned char a[16];

	assert(nets != NULL && nets->n <= CONFIG_NETWORKS_MAX);
	if (nets->n == 0 || inet_pton(v6 ? AF_INET6 : AF_INET, addr, a) != 1)
		return false;
	for (unsigned i = 0; i < nets->n; i++)
		if (network_contains(&nets->net[i], v6, a))
			return true;
	return false;
}

bool config_in_networks(const char *list, const char *addr)
{
	char copy[1024], *save = NULL;
	bool v6 = strchr(addr, ':') != NULL;
	struct config_network net;
	unsigned char a[16];
	unsigned bits;
	int family;

	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, a) != 1)
		return false;
	str_copy(copy, list, sizeof(copy));
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (parse_cidr(t, &family, net.bytes, &bits) < 0)
			continue;	/* an item that does not parse is skipped */
		net.bits = (unsigned char)bits;
		net.v6 = family == AF_INET6;
		if (network_contains(&net, v6, a))
			return true;
	}
	return false;
}

/* The parsed form kept beside the text of a SET_NETWORKS setting. */
static struct config_networks *networks_field(struct config *cfg,
					      const struct setting *s)
{
	assert(s->type == SET_NETWORKS);
	if (s->offset == offsetof(struct config, trusted_networks))
		return &cfg->trusted_nets;
	assert(s->offset == offsetof(struct config, debug_peers));
	return &cfg->debug_nets;
}

static int parse_number(const struct setting *s, const char *value,
			uint64_t *v, const char **error_r)
{
	int ret = s->type == SET_SIZE ? parse_size(value, v) :
		  s->type == SET_DURATION ? parse_duration(value, v) :
		  parse_uint(value, v);

	if (ret < 0) {
		*error_r = s->type == SET_SIZE ? "expected a size (e.g. 25M)" :
			   s->type == SET_DURATION ? "expected a duration (e.g. 30s, 5m, 4h, 5d)" :
			   "expected a whole number";
		return -1;
	}
	if (*v < s->min || *v > s->max) {
		*error_r = "value out of range";
		return -1;
	}
	return 1;
}

static int parse_choice(const struct setting *s, const char *value, int *idx)
{
	const char *p = s->choices;

	for (int i = 0; *p != '\0'; i++) {
		size_t n = strcspn(p, "|");
		if (strlen(value) == n && strncasecmp(p, value, n) == 0) {
			*idx = i;
			return 1;
		}
		p += n + (p[n] == '|');
	}
	return -1;
}

static int setting_apply(struct config *cfg, const struct setting *s,
			 const char *value, const char **error_r)
{
	char *field = (char *)cfg + s->offset;
	uint64_t v;
	int idx;

	switch (s->type) {
	case SET_UINT:
	case SET_SIZE:
	case SET_DURATION:
		if (parse_number(s, value, &v, error_r) < 0)
			return -1;
		memcpy(field, &v, sizeof(v));
		if (s->type != SET_UINT &&
		    str_copy(cfg->written[s - settings], value, CONFIG_WRITTEN_MAX) >=
		    CONFIG_WRITTEN_MAX)
			cfg->written[s - settings][0] = '\0';
		return 1;
	case SET_UINT32: {
		unsigned u;
		if (parse_number(s, value, &v, error_r) < 0)
			return -1;
		u = (unsigned)v;
		memcpy(field, &u, sizeof(u));
		return 1;
	}
	case SET_BOOL: {
		bool b;
		if (parse_bool(value, &b) < 0) {
			*error_r = "expected yes or no";
			return -1;
		}
		memcpy(field, &b, sizeof(b));
		return 1;
	}
	case SET_NETWORKS:
		if (networks_parse(value, networks_field(cfg, s), error_r) < 0)
			return -1;
		break;
	case SET_CHOICE:
		if (parse_choice(s, value, &idx) < 0) {
			*error_r = "unknown value";
			return -1;
		}
		if (s->size == 0)
			memcpy(field, &idx, sizeof(idx));
		else
			str_copy(field, value, s->size);
		return 1;
	case SET_LISTEN:
		if (check_listen(value, error_r) < 0)
			return -1;
		break;
	case SET_LOG:
		if (strcmp(value, "stderr") != 0 && strcmp(value, "syslog") != 0 &&
		    value[0] != '/') {
			*error_r = "expected stderr, syslog or the absolute path of a file";
			return -1;
		}
		break;
	case SET_ADDRESS:
		if (check_address(value, error_r) < 0)
			return -1;
		break;
	case SET_STRING:
	case SET_DOMAINS:
		break;
	}
	if (str_copy(field, value, s->size) >= s->size) {
		*error_r = "value too long";
		return -1;
	}
	if (s->type == SET_DOMAINS)
		str_lower(field);
	if (s->type == SET_ADDRESS && strrchr(field, '@') != NULL)
		str_lower(strrchr(field, '@'));
	return 1;
}

static const struct setting *setting_find(const char *section, const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcasecmp(settings[i].section, section) == 0 &&
		    strcasecmp(settings[i].key, key) == 0)
			return &settings[i];
	return NULL;
}

struct load_state {
	struct config *cfg;
	FILE *file;
	const char *path;
	int line;
	int errors;
	struct buf *out;
};

static char *counting_reader(char *str, int num, void *stream)
{
	struct load_state *st = stream;

	st->line++;
	return fgets(str, num, st->file);
}

static int load_handler(void *user, const char *section, const char *key,
			const char *value)
{
	struct load_state *st = user;
	const struct setting *s = setting_find(section, key);
	const char *error = NULL;

	if (s == NULL) {
		buf_printf(st->out, "%s:%d: unknown setting '%s' in section [%s]\n",
			   st->path, st->line, key, section);
		st->errors++;
	} else if (setting_apply(st->cfg, s, value, &error) < 0) {
		buf_printf(st->out, "%s:%d: %s = %s: %s\n", st->path, st->line,
			   key, value, error);
		st->errors++;
	}
	return 1;
}

int config_load(struct config *cfg, const char *path, struct buf *errors)
{
	struct load_state st = { .cfg = cfg, .path = path, .out = errors };
	int ret;

	st.file = fopen(path, "r");
	if (st.file == NULL) {
		buf_printf(errors, "%s: cannot open: %m\n", path);
		return -1;
	}
	ret = ini_parse_stream(counting_reader, &st, load_handler, &st);
	fclose(st.file);
	if (ret > 0) {
		buf_printf(errors, "%s:%d: syntax error (expected [section] or key = value)\n",
			   path, ret);
		st.errors++;
	}
	str_copy(cfg->path, path, sizeof(cfg->path));
	return st.errors == 0 ? 1 : -1;
}

const char *config_default_path(void)
{
	if (access("correio.conf", F_OK) == 0)
		return "correio.conf";
	if (access("/etc/correio/correio.conf", F_OK) == 0)
		return "/etc/correio/correio.conf";
	return NULL;
}

/* A size or a duration in the largest unit that holds it whole. */
static void print_human(uint64_t v, enum setting_type type, FILE *out)
{
	static const char size_units[] = "GMk";
	static const uint64_t size_mult[] = { 1ull << 30, 1ull << 20, 1ull << 10 };
	static const char time_units[] = "dhm";
	static const uint64_t time_mult[] = { 86400, 3600, 60 };
	const char *units = type == SET_SIZE ? size_units : time_units;
	const uint64_t *mult = type == SET_SIZE ? size_mult : time_mult;

	for (int i = 0; i < 3 && v != 0; i++) {
		if (v % mult[i] == 0) {
			fprintf(out, "%llu%c", (unsigned long long)(v / mult[i]), units[i]);
			return;
		}
	}
	fprintf(out, "%llu%s", (unsigned long long)v, type == SET_DURATION ? "s" : "");
}

static void print_value(const struct config *cfg, const struct setting *s, FILE *out)
{
	const char *field = (const char *)cfg + s->offset;
	uint64_t v;
	int idx;

	switch (s->type) {
	case SET_UINT:
		memcpy(&v, field, sizeof(v));
		fprintf(out, "%llu", (unsigned long long)v);
		break;
	case SET_SIZE:
	case SET_DURATION:
		memcpy(&v, field, sizeof(v));
		if (cfg->written[s - settings][0] != '\0')
			fputs(cfg->written[s - settings], out);
		else
			print_human(v, s->type, out);
		break;
	case SET_UINT32: {
		unsigned u;
		memcpy(&u, field, sizeof(u));
		fprintf(out, "%u", u);
		break;
	}
	case SET_BOOL: {
		bool b;
		memcpy(&b, field, sizeof(b));
		fputs(b ? "yes" : "no", out);
		break;
	}
	case SET_CHOICE:
		if (s->size != 0) {
			fputs(field, out);
			break;
		}
		memcpy(&idx, field, sizeof(idx));
		for (const char *p = s->choices; idx >= 0; idx--) {
			size_t n = strcspn(p, "|");
			if (idx == 0)
				fwrite(p, 1, n, out);
			p += n + (p[n] == '|');
		}
		break;
	default:
		fputs(field, out);
	}
}

void config_print(const struct config *cfg, FILE *out)
{
	const char *section = "";

	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		if (strcmp(section, s->section) != 0) {
			fprintf(out, "%s[%s]\n", i > 0 ? "\n" : "", s->section);
			section = s->section;
		}
		fprintf(out, "%s = ", s->key);
		print_value(cfg, s, out);
		fputc('\n', out);
	}
}

/* Bytes of a setting's field in struct config. */
static size_t field_size(const struct setting *s)
{
	switch (s->type) {
	case SET_UINT:
	case SET_SIZE:
	case SET_DURATION:
		return sizeof(uint64_t);
	case SET_UINT32:
		return sizeof(unsigned);
	case SET_BOOL:
		return sizeof(bool);
	case SET_CHOICE:
		return s->size != 0 ? s->size : sizeof(int);
	default:
		return s->size;
	}
}

static bool field_equal(const struct setting *s, const char *a, const char *b)
{
	bool text = s->size != 0;	/* strings, lists, choices kept as text */

	return text ? strcmp(a, b) == 0 : memcmp(a, b, field_size(s)) == 0;
}

int config_reload(struct config *next, const struct config *cur,
		  void (*restart_needed)(void *ctx, const char *section, const char *key),
		  void *ctx)
{
	int n = 0;

	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		char *to = (char *)next + s->offset;
		const char *from = (const char *)cur + s->offset;
		if (!s->restart || field_equal(s, to, from))
			continue;
		restart_needed(ctx, s->section, s->key);
		memcpy(to, from, field_size(s));
		if (s->type == SET_NETWORKS)
			*networks_field(next, s) = *networks_field((struct config *)cur, s);
		n++;
	}
	return n;
}

bool config_is_local_domain(const struct config *cfg, const char *domain)
{
	const char *p = cfg->local_domains;
	size_t dlen = strlen(domain);

	while (*p != '\0') {
		size_t n;
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n > 0 && n == dlen && strncasecmp(p, domain, n) == 0)
			return true;
		p += n;
	}
	return false;
}

void config_control_path(const char *data_dir, char *out, size_t size)
{
	snprintf(out, size, "%s/control.sock", data_dir);
}
