#ifndef CORREIO_CONFIG_H
#define CORREIO_CONFIG_H
/*
 * config: the one configuration of correio.  Every setting is declared once
 * in a typed table (config.c) that drives parsing, validation, `correio
 * check` output and the defaults.  The file is INI ([section] key = value),
 * read with inih; errors are collected as "file:line: message".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

/*
 * A list of CIDR blocks ("192.0.2.0/24, 2001:db8::/32"), parsed once when
 * the configuration is loaded so that a check per connection or per RCPT
 * is a few memcmp calls.  The bound covers the longest list that fits the
 * 1024-byte text ("::" and a separator: 3 characters an item).
 */
#define CONFIG_NETWORKS_MAX 342
struct config_network {
	unsigned char bytes[16];	/* network address, 4 or 16 bytes used */
	unsigned char bits;		/* prefix length */
	bool v6;
};
struct config_networks {
	unsigned n;
	struct config_network net[CONFIG_NETWORKS_MAX];
};

enum config_listener {
	CONFIG_LISTEN_SMTP,
	CONFIG_LISTEN_SUBMISSION,
	CONFIG_LISTEN_SUBMISSIONS,
	CONFIG_LISTEN_POP3,
	CONFIG_LISTEN_POP3S,
	CONFIG_LISTEN_IMAP,
	CONFIG_LISTEN_IMAPS,
	CONFIG_LISTEN_HTTP,		/* JMAP over plain HTTP: loopback or a proxy */
	CONFIG_LISTEN_HTTPS,		/* JMAP over HTTPS */
	CONFIG_LISTEN_MANAGESIEVE,	/* ManageSieve (RFC 5804), STARTTLS */
	CONFIG_LISTEN_COUNT
};

enum config_mailbox_format { CONFIG_MAILBOX_MAILDIR, CONFIG_MAILBOX_MBOX };
enum config_milter_action { CONFIG_MILTER_TEMPFAIL, CONFIG_MILTER_ACCEPT };
enum config_log_level { CONFIG_LOG_INFO, CONFIG_LOG_DEBUG };
enum config_acme_challenge {
	CONFIG_ACME_HTTP01, CONFIG_ACME_TLSALPN01, CONFIG_ACME_BOTH
};
#define CONFIG_ACME_LETSENCRYPT "https://acme-v02.api.letsencrypt.org/directory"

/* Room for the text of each size and duration as the file wrote it. */
#define CONFIG_SETTINGS_MAX 128
#define CONFIG_WRITTEN_MAX 24

/* [auth_checks]: what a check of mail received on `smtp` does */
enum config_check { CONFIG_CHECK_OFF, CONFIG_CHECK_TAG, CONFIG_CHECK_ENFORCE };

struct config {
	char path[1024];		/* file read, "" for built-in defaults */
	char hostname[256];
	char data_dir[1024];
	char user[64];			/* account to run as when started as root */
	char local_domains[1024];	/* space/comma separated, lower case */
	char postmaster[320];		/* where <postmaster> goes ("" = postmaster@
					   the first local domain), domain lower case */
	char log[1024];			/* "stderr", "syslog" or an absolute file path */
	int log_level;			/* enum config_milter_action { CONFIG_MILTER_TEMPFAIL, CONFIG_MILTER_ACCEPT };
enum config_log_level */
	char debug_peers[1024];		/* CIDR list whose SMTP dialogue is logged */
	struct config_networks debug_nets;	/* debug_peers, parsed */
	char listen[CONFIG_LISTEN_COUNT][512]; /* "addr:port[, addr:port]" or "" */

	uint64_t message_size;		/* bytes */
	uint64_t max_recipients;	/* per message */
	uint64_t max_connections;	/* overall */
	uint64_t max_connections_per_client;
	uint64_t idle_timeout;		/* seconds waiting for a command */
	uint64_t command_timeout;	/* seconds for one command incl. DATA */
	uint64_t max_errors;		/* protocol errors before disconnecting */
	uint64_t disk_reserve;		/* bytes kept free on data_dir's disk; 0: no check */

	int mailbox_format;		/* enum config_mailbox_format */
	int check_dkim;			/* enum config_check */
	int check_spf;			/* enum config_check */
	int check_dmarc;		/* enum config_check */
	char recipient_delimiter[8];	/* "" disables plus-addressing */
	char sieve_global_dir[1024];	/* include :global scripts; "" = none */
	char sieve_before[1024];	/* a Sieve script run before each account's; "" */
	char sieve_after[1024];		/* ... and after it; "" */

	char tls_certificate[1024];	/* PEM chain files; "" = self-signed */
	char tls_key[1024];		/* key files, same order; "" = in the cert */
	bool acme;			/* obtain and renew the certificate (RFC 8555) */
	char acme_email[320];		/* the account's contact */
	char acme_directory[512];	/* the CA's directory URL (https) */
	char acme_ca_file[1024];	/* CA to trust for it; "" = the system's */
	uint64_t acme_timeout;		/* seconds for one request to the CA */
	int acme_challenge;		/* enum config_acme_challenge */
	char acme_names[1024];		/* names to certify; "" = hostname + mail hosts */
	char acme_http_listen[512];	/* "addr:port" answering HTTP-01 (port 80) */

	bool auth_plaintext_loopback;	/* plaintext AUTH without TLS on loopback */
	uint64_t auth_failure_delay;	/* seconds, times the failure count */
	uint64_t auth_max_failures;	/* then refuse for auth_lockout */
	uint64_t auth_lockout;		/* seconds */
	unsigned auth_threads;		/* password-checking threads */

	char trusted_networks[1024];	/* CIDR list that may relay without AUTH */
	struct config_networks trusted_nets;	/* trusted_networks, parsed */
	char smarthost[300];		/* "host:port": send everything there */
	char smarthost_user[320];
	char smarthost_password_file[1024];
	uint64_t relay_port;		/* port of the mail exchangers (25) */
	uint64_t destination_concurrency;	/* connections per destination */
	bool mta_sts;			/* apply the MTA-STS policies of destinations */
	uint64_t mta_sts_port;		/* port of the policy hosts (443) */
	uint64_t mta_sts_timeout;	/* seconds for one policy fetch */
	char ca_file[1024];		/* CAs trusted beside the system's ("" = none):
					   policy hosts and mail exchangers */

	uint64_t retry_interval;	/* first retry; doubles up to max_retry */
	uint64_t max_retry_interval;
	uint64_t warn_after;		/* delay notice after this long */
	uint64_t give_up;		/* bounce after this long */

	char dns_servers[512];		/* "host:port, ..."; "" = resolv.conf */
	char dnssec_resolver[512];	/* "host:port" for DANE's lookups; "" = no DANE */
	char trust_anchor_file[1024];	/* DNSSEC trust anchors (DS or DNSKEY) */
	bool submission_restrict_sender;/* MAIL FROM must be the user or its alias */

	/* at the door of the smtp listener (smtpd_door.c) */
	char door_dnsbl[1024];		/* "zone[=127.0.0.x], ..."; "" = none */
	uint64_t door_rate_messages;	/* per client/user per window; 0 = no limit */
	uint64_t door_rate_recipients;
	uint64_t door_rate_window;	/* seconds */
	bool door_greylist;
	uint64_t door_greylist_delay;	/* seconds before a retry is accepted */
	char door_greylist_whitelist[1024];	/* CIDR blocks and sender domains */

	/* mail filters asked at the end of each message (smtpd_milter.c) */
	char milter_filters[1024];	/* "inet:host:port, unix:/path"; "" = none */
	int milter_default_action;	/* enum config_milter_action: filter down */
	uint64_t milter_connect_timeout;	/* seconds */
	uint64_t milter_timeout;	/* seconds for each reply */

	char metrics_listen[512];	/* "addr:port" for /metrics; "" = off */

	/* the webmail's files; "" = the installed share dir, else the
	   source tree's web/ (jmap_web.c) */
	char jmap_web_root[1024];

	/* the Sender Rewriting Scheme for forwarded mail (src/srs) */
	bool srs_enabled;
	char srs_domain[256];		/* "" = the first local domain */
	uint64_t srs_max_age;		/* seconds an SRS address stays valid */
	char srs_secret_file[1024];	/* "" = data_dir/srs.secret */

	/* sizes and durations as written in the file ("25M", "5m"), by row of
	   the settings table; "" for a value left at its default */
	char written[CONFIG_SETTINGS_MAX][CONFIG_WRITTEN_MAX];
};

/* Fill cfg with the built-in defaults (ports depend on the effective uid). */
void config_defaults(struct config *cfg);
/* What the built-in defaults add when no configuration file is read at
   all: [listen] http = 127.0.0.1:8080 (JMAP and the webmail). */
void config_defaults_no_file(struct config *cfg);

/*
 * Read path over the defaults.  Returns 1, or -1 with every problem found
 * appended to errors as "file:line: message\n".
 */
int config_load(struct config *cfg, const char *path, struct buf *errors);

/*
 * The file to use when none is given: "./correio.conf", then
 * "/etc/correio/correio.conf", else NULL (built-in defaults).
 */
const char *config_default_path(void);

/*
 * SIGHUP: next was read from the file, cur is the running configuration.
 * For every setting that only a restart can apply (listeners, data_dir,
 * user, auth threads) and whose value changed, call restart_needed with
 * its name and put cur's value back into next.  Every other setting of
 * next is to be applied.  Returns how many were kept.
 */
int config_reload(struct config *next, const struct config *cur,
		  void (*restart_needed)(void *ctx, const char *section, const char *key),
		  void *ctx);

/* Print every setting with its effective value, as a valid config file.
   Sizes and durations appear as the file wrote them (defaults in the
   largest whole unit: 25M, 5m), never as bare bytes or seconds. */
void config_print(const struct config *cfg, FILE *out);

/* Is domain (any case) one of the local_domains? */
bool config_is_local_domain(const struct config *cfg, const char *domain);

/* Is the address (text form) inside one of the CIDR blocks of list?
   Parses list on every call: for a setting, use config_networks_match on
   its parsed form (trusted_nets, debug_nets). */
bool config_in_networks(const char *list, const char *addr);
/* Is the address (text form) inside one of the blocks of nets? */
bool config_networks_match(const struct config_networks *nets, const char *addr);

/* The server's local command socket, <data_dir>/control.sock, into out
   (served by src/server/control.c; used by the `correio` commands and by
   vacation replies). */
void config_control_path(const char *data_dir, char *out, size_t size);

/* Name of a listener ("smtp", ...). */
const char *config_listener_name(enum config_listener l);

#endif
