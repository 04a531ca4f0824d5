/*
 * smtpd_door.c - what the smtp listener checks before it takes mail in:
 * DNS blocklists, rate limits and greylisting ([door] settings).
 *
 *  - DNS blocklists: at connect, one A query per zone for the client's
 *    reversed address (IPv4 octets, IPv6 nibbles), asked through the relay's
 *    c-ares resolver on the loop.  The verdict is given at RCPT, as Postfix's
 *    reject_rbl_client does: 554 5.7.1 naming the zone and its answer.  A
 *    RCPT that comes before the answers waits for them (the session reads
 *    no further input meanwhile).  A failed lookup does not list.
 *  - rate limits: messages (at MAIL) and recipients (at RCPT) per client
 *    address, or per account once authenticated, in a fixed window; past
 *    the limit 450 4.7.1 until the window ends.  The table has a fixed
 *    number of slots: a flood of addresses evicts old entries, never grows it.
 *  - greylisting: the triplet (client /24 or /64, sender, recipient) is
 *    refused with 450 4.7.1 until greylist_delay has passed since it was
 *    first seen; then it is remembered as passed.  The triplets are kept
 *    by greylist/greylist.h (never touched here); stale ones are purged
 *    hourly.
 *
 * Blocklists and greylisting apply to the smtp listener only, and neither
 * to authenticated clients nor to [relay] trusted_networks; the rate limits
 * apply on every listener except to trusted_networks.
 */
#include "smtpd_private.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "greylist/greylist.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "mta/mta.h"

#define DOOR_MAX_ZONES 8
#define DOOR_RATE_SLOTS 4096
#define DOOR_RATE_PROBES 8

struct door_zone {
	struct smtpd_door *door;
	char zone[256];
	struct in_addr code;	/* the answer that lists; 0: any 127.0.0.0/8 */
	struct dns_request *rq;
	bool answered;		/* c-ares may answer from inside the query call */
};

struct smtpd_door {
	struct smtpd_session *s;
	unsigned n_zones, pending;
	struct door_zone zones[DOOR_MAX_ZONES];
	char listed[300];	/* "zone (127.0.0.2)" once listed */
	bool waiting;		/* a RCPT waits for the answers */
	char *rcpt_arg;		/* that RCPT's argument */
};

struct rate_slot {
	char key[330];		/* "ip:ADDR" or "user:NAME"; "" free */
	time_t start;		/* of the window */
	uint64_t messages, recipients;
};

static struct rate_slot rate_table[DOOR_RATE_SLOTS];
static struct greylist *grey;	/* the loop thread's handle */
static time_t grey_purged;

static const struct config *cfg_of(struct smtpd_session *s)
{
	return &s->conn.srv->cfg;
}

static bool trusted(struct smtpd_session *s)
{
	return config_networks_match(&cfg_of(s)->trusted_nets, s->conn.addr);
}

/* Do blocklists and greylisting apply to this client now? */
static bool door_applies(struct smtpd_session *s)
{
	return s->conn.listener == CONFIG_LISTEN_SMTP && s->user[0] == '\0' && !trusted(s);
}

/* ---- DNS blocklists ---- */

/* The client's address reversed for a DNS list, with a final dot. */
static int reversed_name(const char *addr, char *out, size_t size)
{
	unsigned char b[16];
	size_t n = 0;

	if (inet_pton(AF_INET, addr, b) == 1) {
		n = (size_t)snprintf(out, size, "%u.%u.%u.%u.", b[3], b[2], b[1], b[0]);
		return n < size ? 1 : -1;
	}
	if (inet_pton(AF_INET6, addr, b) != 1 || size < 65)
		return -1;
	for (int i = 15; i >= 0; i--) {
		static const char hex[] = "0123456789abcdef";
		out[n++] = hex[b[i] & 15];
		out[n++] = '.';
		out[n++] = hex[b[i] >> 4];
		out[n++] = '.';
	}
	out[n] = '\0';
	return 1;
}

static bool listing_answer(const struct door_zone *z, struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	if (z->code.s_addr != 0)
		return a.s_addr == z->code.s_addr;
	/* 127.255.255.x: the list's own errors (refused resolver, ...) */
	return (h >> 24) == 127 && (h >> 8) != 0x7fffff;
}

static void door_resume(struct smtpd_door *d)
{
	struct smtpd_session *s = d->s;
	char line[SMTPD_LINE_MAX + 8];
	char *arg = d->rcpt_arg;
	int n;

	if (!d->waiting)
		return;
	d->waiting = false;
	d->rcpt_arg = NULL;
	n = snprintf(line, sizeof(line), "RCPT %s", arg);
	free(arg);
	if (n > 0 && (size_t)n < sizeof(line))
		smtpd_dispatch(s, line, (size_t)n);
	smtpd_process_input(s);
}

static void on_dnsbl(void *ctx, enum dns_status status, const struct in_addr *addrs,
		     unsigned n_addrs)
{
	struct door_zone *z = ctx;
	struct smtpd_door *d = z->door;
	char text[INET_ADDRSTRLEN];

	z->rq = NULL;
	z->answered = true;
	if (status == DNS_TEMPORARY)
		log_warn("smtpd: [%s]: DNS blocklist %s: lookup failed, not listed",
			 d->s->conn.addr, z->zone);
	for (unsigned i = 0; i < n_addrs && d->listed[0] == '\0'; i++) {
		if (!listing_answer(z, addrs[i]))
			continue;
		inet_ntop(AF_INET, &addrs[i], text, sizeof(text));
		snprintf(d->listed, sizeof(d->listed), "%s (%s)", z->zone, text);
	}
	if (--d->pending == 0)
		door_resume(d);
}

void smtpd_door_connect(struct smtpd_session *s)
{
	const struct config *cfg = cfg_of(s);
	char copy[sizeof(cfg->door_dnsbl)], rev[80], name[400], *save = NULL;
	struct smtpd_door *d;
	struct dns *dns;

	if (cfg->door_dnsbl[0] == '\0' || !door_applies(s) || s->conn.srv->mta == NULL ||
	    reversed_name(s->conn.addr, rev, sizeof(rev)) < 0)
		return;
	dns = mta_dns(s->conn.srv->mta);
	d = xcalloc(1, sizeof(*d));
	d->s = s;
	s->door = d;
	str_copy(copy, cfg->door_dnsbl, sizeof(copy));
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL && d->n_zones < DOOR_MAX_ZONES;
	     t = strtok_r(NULL, ", \t", &save)) {
		struct door_zone *z = &d->zones[d->n_zones];
		char *eq = strchr(t, '=');
		if (eq != NULL) {
			*eq = '\0';
			if (inet_pton(AF_INET, eq + 1, &z->code) != 1) {
				log_warn("smtpd: [door] dnsbl: %s: bad answer %s, ignored", t, eq + 1);
				continue;
			}
		}
		if (t[0] == '\0' || str_copy(z->zone, t, sizeof(z->zone)) >= sizeof(z->zone))
			continue;
		d->n_zones++;
	}
	/* every request is made before any can answer (answers come from the loop) */
	d->pending = d->n_zones;
	for (unsigned i = 0; i < d->n_zones; i++) {
		struct door_zone *z = &d->zones[i];
		z->door = d;
		snprintf(name, sizeof(name), "%s%s", rev, z->zone);
		struct dns_request *rq = dns_lookup_a(dns, name, on_dnsbl, z);
		if (!z->answered)
			z->rq = rq;
	}
}

void smtpd_door_free(struct smtpd_session *s)
{
	struct smtpd_door *d = s->door;

	if (d == NULL)
		return;
	for (unsigned i = 0; i < d->n_zones; i++)
		dns_cancel(d->zones[i].rq);
	free(d->rcpt_arg);
	free(d);
	s->door = NULL;
}

bool smtpd_door_waiting(const struct smtpd_session *s)
{
	return s->door != NULL && s->door->waiting;
}

int smtpd_door_ready(struct smtpd_session *s, const char *arg)
{
	struct smtpd_door *d = s->door;

	if (d == NULL || d->pending == 0 || !door_applies(s))
		return 1;
	d->rcpt_arg = xstrdup(arg);
	d->waiting = true;
	return 0;
}

/* ---- rate limits ---- */

static uint32_t hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

static struct rate_slot *rate_slot(const char *key, time_t now, uint64_t window)
{
	uint32_t h = hash(key);
	struct rate_slot *victim = NULL;
	int victim_rank = 3;	/* 0 free, 1 window over, 2 oldest live */

	for (unsigned i = 0; i < DOOR_RATE_PROBES; i++) {
		struct rate_slot *r = &rate_table[(h + i) % DOOR_RATE_SLOTS];
		int rank;
		if (r->key[0] != '\0' && strcmp(r->key, key) == 0) {
			if (now - r->start >= (time_t)window) {
				r->start = now;
				r->messages = r->recipients = 0;
			}
			return r;
		}
		rank = r->key[0] == '\0' ? 0 : now - r->start >= (time_t)window ? 1 : 2;
		if (rank < victim_rank || (rank == 2 && victim_rank == 2 && r->start < victim->start)) {
			victim = r;
			victim_rank = rank;
		}
	}
	/* a full neighbourhood: the oldest entry is forgotten (the table never
	   grows, whatever the number of client addresses) */
	str_copy(victim->key, key, sizeof(victim->key));
	victim->start = now;
	victim->messages = victim->recipients = 0;
	return victim;
}

/* Count one more message or recipient; false past the limit. */
static bool rate_take(struct smtpd_session *s, bool message, const char **who_r)
{
	const struct config *cfg = cfg_of(s);
	uint64_t limit = message ? cfg->door_rate_messages : cfg->door_rate_recipients;
	char key[sizeof(rate_table[0].key)];
	struct rate_slot *r;
	uint64_t *count;

	if (limit == 0 || trusted(s))
		return true;
	if (s->user[0] != '\0')
		snprintf(key, sizeof(key), "user:%s", s->user);
	else
		snprintf(key, sizeof(key), "ip:%s", s->conn.addr);
	r = rate_slot(key, time(NULL), cfg->door_rate_window);
	count = message ? &r->messages : &r->recipients;
	*who_r = s->user[0] != '\0' ? s->user : s->conn.addr;
	if (*count >= limit)
		return false;
	(*count)++;
	return true;
}

int smtpd_door_mail(struct smtpd_session *s)
{
	const char *who = "";

	if (rate_take(s, true, &who))
		return 1;
	log_info("smtpd: [%s]: reject: MAIL: message rate limit of %s exceeded (%llu per %llus); "
		 "helo=<%s>", s->conn.addr, who,
		 (unsigned long long)cfg_of(s)->door_rate_messages,
		 (unsigned long long)cfg_of(s)->door_rate_window, s->helo);
	smtpd_reply(s, "450 4.7.1 Error: too many messages from %s, try again later", who);
	return 0;
}

/* ---- greylisting ---- */

static bool domain_matches(const char *domain, const char *item)
{
	size_t dl = strlen(domain), il = strlen(item);

	if (strcasecmp(domain, item) == 0)
		return true;
	return dl > il && domain[dl - il - 1] == '.' && strcasecmp(domain + dl - il, item) == 0;
}

static bool whitelisted(struct smtpd_session *s)
{
	const struct config *cfg = cfg_of(s);
	char copy[sizeof(cfg->door_greylist_whitelist)], *save = NULL;
	const char *at = strrchr(s->env->sender, '@');
	unsigned char b[16];

	str_copy(copy, cfg->door_greylist_whitelist, sizeof(copy));
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save)) {
		char net[64];
		str_copy(net, t, sizeof(net));
		net[strcspn(net, "/")] = '\0';
		if (inet_pton(AF_INET, net, b) == 1 || inet_pton(AF_INET6, net, b) == 1) {
			if (config_in_networks(t, s->conn.addr))
				return true;
		} else if (at != NULL && domain_matches(at + 1, t)) {
			return true;
		}
	}
	return false;
}

/* Returns 0 when the triplet may pass, else the seconds left to wait.  The
   table (greylist/greylist.h) is opened when first needed and purged
   hourly; when it cannot be read the mail passes. */
static long grey_check(struct smtpd_session *s, const char *rcpt)
{
	const struct config *cfg = cfg_of(s);
	const char *error;
	time_t now = time(NULL);
	long wait = 0;

	if (grey == NULL && greylist_open(cfg->data_dir, &grey, &error) < 0) {
		log_err("smtpd: greylisting: %s", error);
		return 0;
	}
	if (now - grey_purged >= 3600) {
		grey_purged = now;
		greylist_purge(grey, now);
	}
	if (greylist_check(grey, s->conn.addr, s->env->sender, rcpt, now,
			   (unsigned long)cfg->door_greylist_delay, &wait) != 0)
		return 0;
	return wait;
}

int smtpd_door_rcpt(struct smtpd_session *s, const char *key)
{
	const char *who = "";
	long wait;

	if (door_applies(s) && s->door != NULL && s->door->listed[0] != '\0') {
		smtpd_log_reject(s, key, "RCPT to <%s>: client [%s] listed by %s", key,
				 s->conn.addr, s->door->listed);
		smtpd_reply(s, "554 5.7.1 Service unavailable; Client host [%s] blocked using %s",
			    s->conn.addr, s->door->listed);
		return 0;
	}
	if (!rate_take(s, false, &who)) {
		smtpd_log_reject(s, key, "RCPT to <%s>: recipient rate limit of %s exceeded "
				 "(%llu per %llus)", key, who,
				 (unsigned long long)cfg_of(s)->door_rate_recipients,
				 (unsigned long long)cfg_of(s)->door_rate_window);
		smtpd_reply(s, "450 4.7.1 <%s>: Recipient address rejected: too many "
			    "recipients from %s, try again later", key, who);
		return 0;
	}
	if (!cfg_of(s)->door_greylist || !door_applies(s) || whitelisted(s))
		return 1;
	wait = grey_check(s, key);
	if (wait <= 0)
		return 1;
	smtpd_log_reject(s, key, "RCPT to <%s>: greylisted, retry in %lds", key, wait);
	smtpd_reply(s, "450 4.7.1 <%s>: Recipient address rejected: Greylisted, "
		    "please try again in %ld seconds", key, wait);
	return 0;
}
