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
 *    first seen; then it is remembered as passed.  Triplets live in
 *    DATA_DIR/greylist.db (SQLite); stale ones are purged hourly.
 *
 * Blocklists and greylisting apply to the smtp listener only, and neither
 * to authenticated clients nor to [relay] trusted_networks; the rate limits
 * apply on every listener except to trusted_networks.
 */
#include "smtpd_private.h"

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "mta/mta.h"

#define DOOR_MAX_ZONES 8
#define DOOR_RATE_SLOTS 4096
#define DOOR_RATE_PROBES 8
#define DOOR_GREY_PASSED_TTL (36 * 86400)	/* a passed triplet unseen this long */
#define DOOR_GREY_PENDING_TTL (2 * 86400)	/* a first try never retried */

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
static sqlite3 *grey_db;
static char grey_path[1100];
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

static sqlite3 *grey_open(const struct config *cfg)
{
	char path[sizeof(grey_path)];

	snprintf(path, sizeof(path), "%s/greylist.db", cfg->data_dir);
	if (grey_db != NULL && strcmp(path, grey_path) == 0)
		return grey_db;
	if (grey_db != NULL)
		sqlite3_close(grey_db);
	grey_db = NULL;
	str_copy(grey_path, path, sizeof(grey_path));
	if (sqlite3_open_v2(path, &grey_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(grey_db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			 "CREATE TABLE IF NOT EXISTS triplet (key TEXT PRIMARY KEY, "
			 "first INTEGER NOT NULL, last INTEGER NOT NULL, "
			 "passed INTEGER NOT NULL DEFAULT 0)", NULL, NULL, NULL) != SQLITE_OK) {
		log_err("smtpd: greylisting: %s: %s", path,
			grey_db != NULL ? sqlite3_errmsg(grey_db) : "cannot open");
		sqlite3_close(grey_db);
		grey_db = NULL;
		return NULL;
	}
	sqlite3_busy_timeout(grey_db, 200);
	return grey_db;
}

/* The client's network as greylisting sees it: its /24 or /64. */
static void client_net(const char *addr, char *out, size_t size)
{
	unsigned char b[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, addr, b) == 1) {
		b[3] = 0;
		inet_ntop(AF_INET, b, text, sizeof(text));
		snprintf(out, size, "%s/24", text);
	} else if (inet_pton(AF_INET6, addr, b) == 1) {
		memset(b + 8, 0, 8);
		inet_ntop(AF_INET6, b, text, sizeof(text));
		snprintf(out, size, "%s/64", text);
	} else {
		str_copy(out, addr, size);
	}
}

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

static void grey_purge(sqlite3 *db, time_t now)
{
	sqlite3_stmt *st;

	if (now - grey_purged < 3600)
		return;
	grey_purged = now;
	if (sqlite3_prepare_v2(db, "DELETE FROM triplet WHERE (passed AND last < ?1) OR "
			       "(NOT passed AND first < ?2)", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - DOOR_GREY_PASSED_TTL));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(now - DOOR_GREY_PENDING_TTL));
	sqlite3_step(st);
	sqlite3_finalize(st);
}

/* Returns 0 when the triplet may pass, else the seconds left to wait
   (-1: the table cannot be read: let it pass). */
static long grey_check(struct smtpd_session *s, const char *rcpt)
{
	const struct config *cfg = cfg_of(s);
	sqlite3 *db = grey_open(cfg);
	sqlite3_stmt *st = NULL;
	char net[64], key[1024];
	time_t now = time(NULL);
	long wait = -1;

	if (db == NULL)
		return -1;
	grey_purge(db, now);
	client_net(s->conn.addr, net, sizeof(net));
	snprintf(key, sizeof(key), "%s|%s|%s", net, s->env->sender, rcpt);
	if (sqlite3_prepare_v2(db, "SELECT first, passed FROM triplet WHERE key = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		time_t first = (time_t)sqlite3_column_int64(st, 0);
		bool passed = sqlite3_column_int(st, 1) != 0;
		sqlite3_finalize(st);
		st = NULL;
		if (!passed && now - first < (time_t)cfg->door_greylist_delay) {
			wait = (long)((time_t)cfg->door_greylist_delay - (now - first));
			goto out;
		}
		if (sqlite3_prepare_v2(db, "UPDATE triplet SET passed = 1, last = ?2 "
				       "WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
			goto out;
		wait = 0;
	} else {
		sqlite3_finalize(st);
		st = NULL;
		wait = cfg->door_greylist_delay > 0 ? (long)cfg->door_greylist_delay : 0;
		if (sqlite3_prepare_v2(db, "INSERT INTO triplet (key, first, last, passed) "
				       "VALUES (?1, ?2, ?2, ?3)", -1, &st, NULL) != SQLITE_OK)
			goto out;
		sqlite3_bind_int(st, 3, wait == 0);
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_err("smtpd: greylisting: %s: %s", grey_path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
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
