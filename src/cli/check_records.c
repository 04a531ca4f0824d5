/*
 * check_records.c - `correio check --dns DOMAIN`: the DNS records DOMAIN
 * should publish for mail through this server, each printed in zone-file
 * form and compared with what DNS says (through correio's own resolver,
 * c-ares, [dns] servers), with the fix for each mismatch:
 *
 *   MX        DOMAIN -> the hostname
 *   SPF       one v=spf1 TXT whose check_host passes for every address of
 *             the hostname (evaluated with correio's SPF code)
 *   DKIM      <selector>._domainkey TXT of every key of the domain, the
 *             same public key (p=) as the key file
 *   DMARC     one valid v=DMARC1 TXT at _dmarc
 *   MTA-STS   a v=STSv1 TXT with id= at _mta-sts, and an address for
 *             mta-sts.DOMAIN, which serves the policy printed (the policy
 *             file itself is not fetched)
 *   TLSRPT    a v=TLSRPTv1 TXT with rua= at _smtp._tls
 *   PTR       each address of the hostname names the hostname back
 *
 * The lookups run one after another on a private event loop, each bounded
 * by CHECK_RECORD_SECONDS.  Called by cmd_check.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "mta/dns.h"
#include "spf/spf.h"
#include "lib/util.h"

#define CHECK_RECORD_SECONDS 10
#define CHECK_MAX_ADDRS 8
#define CHECK_MAX_KEYS 16

/* One answer, copied out of the resolver's callback. */
struct reply {
	enum dns_status status;
	bool nxdomain;
	unsigned n;
	char *text[DNS_MAX_ANSWERS];	/* TXT, or the names of MX / PTR */
	struct sockaddr_storage addrs[DNS_MAX_ANSWERS];
};

struct records {
	const struct config *cfg;
	const char *domain;
	struct event_base *base;
	struct dns *dns;
	bool done;
	unsigned gen;			/* of the query or evaluation in progress */
	struct reply *reply;		/* the query in progress */
	struct spf_check *spf;		/* the SPF evaluation in progress */
	enum spf_result spf_result;
	char spf_detail[300];
	unsigned mismatches;
	struct sockaddr_storage host_addrs[CHECK_MAX_ADDRS];	/* of the hostname */
	unsigned n_host_addrs;
};

static void reply_free(struct reply *r)
{
	for (unsigned i = 0; i < r->n; i++)
		free(r->text[i]);
	memset(r, 0, sizeof(*r));
}

/* The context of one query: an answer that comes after its time was up
   (gen has moved on) is dropped. */
struct pending {
	struct records *rc;
	unsigned gen;
};

static struct pending *pending_new(struct records *rc)
{
	struct pending *p = xmalloc(sizeof(*p));

	p->rc = rc;
	p->gen = rc->gen;
	return p;
}

static void on_answer(void *ctx, const struct dns_answer *a)
{
	struct pending *p = ctx;
	struct records *rc = p->rc;
	struct reply *r = rc->reply;

	if (p->gen != rc->gen || r == NULL) {
		free(p);
		return;
	}
	free(p);
	r->status = a->status;
	r->nxdomain = a->nxdomain;
	for (unsigned i = 0; i < a->n; i++) {
		const char *t = a->txt[i] != NULL ? a->txt[i] : a->names[i];
		r->text[i] = t != NULL ? xstrdup(t) : NULL;
		r->addrs[i] = a->addrs[i];
	}
	r->n = a->n;
	rc->done = true;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct records *rc = arg;

	rc->done = true;
}

/* Run the loop until done (or the time is up: a temporary failure). */
static void wait_done(struct records *rc)
{
	struct timeval limit = { CHECK_RECORD_SECONDS, 0 };
	struct event *timer = evtimer_new(rc->base, on_timeout, rc);

	evtimer_add(timer, &limit);
	while (!rc->done)
		event_base_loop(rc->base, EVLOOP_ONCE);
	event_free(timer);
	rc->gen++;	/* what is still on its way is dropped */
}

/* Ask for the records of type at name into r (to reply_free). */
static void ask(struct records *rc, const char *name, enum dns_type type, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->status = DNS_TEMPORARY;
	rc->reply = r;
	rc->done = false;
	dns_query(rc->dns, name, type, on_answer, pending_new(rc));
	wait_done(rc);
	rc->reply = NULL;
}

/* Is name (maybe with a final dot) the same DNS name as want? */
static bool same_name(const char *name, const char *want)
{
	size_t n = strlen(name), w = strlen(want);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (w > 0 && want[w - 1] == '.')
		w--;
	return n == w && strncasecmp(name, want, n) == 0;
}

static void ok(const char *what)
{
	fputs("#   ok: ", stdout);
	cli_print_visible(what, false);
	putchar('\n');
}

static void mismatch(struct records *rc, const char *what, const char *fix)
{
	fputs("#   MISMATCH: ", stdout);
	cli_print_visible(what, false);
	fputs("\n#   fix: ", stdout);
	cli_print_visible(fix, false);
	putchar('\n');
	rc->mismatches++;
}

/* Why a lookup found nothing, as text. */
static const char *nothing(const struct reply *r)
{
	return r->status == DNS_TEMPORARY ? "the lookup failed (no answer)" :
	       r->nxdomain ? "the name does not exist" : "no such record is published";
}

/* A TXT record in zone-file form, in strings of at most 255 bytes. */
static void print_txt(const char *name, const char *txt)
{
	size_t len = strlen(txt);

	printf("%s. IN TXT (", name);
	for (size_t i = 0; i < len; i += 255)
		printf(" \"%.*s\"", (int)(len - i < 255 ? len - i : 255), txt + i);
	printf(" )\n");
}

/* The TXT records at name that begin with prefix (case-insensitive),
   into r (those that do not are dropped).  Returns how many. */
static unsigned ask_txt(struct records *rc, const char *name, const char *prefix,
			struct reply *r)
{
	unsigned k = 0;

	ask(rc, name, DNS_TXT, r);
	for (unsigned i = 0; i < r->n; i++) {
		if (r->text[i] != NULL && strncasecmp(r->text[i], prefix, strlen(prefix)) == 0)
			r->text[k++] = r->text[i];
		else
			free(r->text[i]);
	}
	r->n = k;
	return k;
}

/* ---- MX ---- */

static void check_mx(struct records *rc)
{
	struct reply r;
	char what[1200], fix[600];
	size_t len = 0;

	printf("%s. IN MX 10 %s.\n", rc->domain, rc->cfg->hostname);
	snprintf(fix, sizeof(fix), "publish the record above (and remove MX records of hosts "
		 "that do not take the domain's mail)");
	ask(rc, rc->domain, DNS_MX_NAMES, &r);
	for (unsigned i = 0; i < r.n; i++)
		if (r.text[i] != NULL && same_name(r.text[i], rc->cfg->hostname)) {
			ok("an MX names this server");
			reply_free(&r);
			return;
		}
	if (r.n == 0) {
		snprintf(what, sizeof(what), "no MX: %s", nothing(&r));
	} else {
		len = (size_t)snprintf(what, sizeof(what), "the MX records name");
		for (unsigned i = 0; i < r.n && len < sizeof(what); i++)
			len += (size_t)snprintf(what + len, sizeof(what) - len, " %s",
						r.text[i] != NULL ? r.text[i] : "?");
		if (len < sizeof(what))
			snprintf(what + len, sizeof(what) - len, ", not %s", rc->cfg->hostname);
	}
	mismatch(rc, what, fix);
	reply_free(&r);
}

/* ---- the hostname's addresses, and PTR ---- */

static void collect_host_addrs(struct records *rc)
{
	static const enum dns_type types[2] = { DNS_A, DNS_AAAA };
	struct reply r;

	for (int t = 0; t < 2; t++) {
		ask(rc, rc->cfg->hostname, types[t], &r);
		for (unsigned i = 0; i < r.n && rc->n_host_addrs < CHECK_MAX_ADDRS; i++)
			rc->host_addrs[rc->n_host_addrs++] = r.addrs[i];
		reply_free(&r);
	}
}

/* The reverse name of an address: d.c.b.a.in-addr.arpa or the nibbles of
   ip6.arpa. */
static void reverse_name(const struct sockaddr_storage *ss, char *out, size_t size)
{
	size_t len = 0;

	if (ss->ss_family == AF_INET) {
		const unsigned char *b =
			(const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
		return;
	}
	const unsigned char *b = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	for (int i = 15; i >= 0 && len + 4 < size; i--)
		len += (size_t)snprintf(out + len, size - len, "%x.%x.", b[i] & 15, b[i] >> 4);
	snprintf(out + len, size - len, "ip6.arpa");
}

static void check_ptr(struct records *rc)
{
	char name[100], addr[INET6_ADDRSTRLEN], what[600], fix[600];
	struct reply r;

	if (rc->n_host_addrs == 0) {
		printf("%s. IN A <the address of this server>\n", rc->cfg->hostname);
		snprintf(fix, sizeof(fix), "publish the A (and AAAA) records of %s, then a PTR "
			 "record for each address naming %s", rc->cfg->hostname, rc->cfg->hostname);
		mismatch(rc, "the hostname has no address (A or AAAA): receivers look up the "
			 "sender's PTR and its address", fix);
		return;
	}
	for (unsigned i = 0; i < rc->n_host_addrs; i++) {
		bool found = false;
		reverse_name(&rc->host_addrs[i], name, sizeof(name));
		sockaddr_addr_text(&rc->host_addrs[i], addr, sizeof(addr));
		printf("%s. IN PTR %s.\n", name, rc->cfg->hostname);
		ask(rc, name, DNS_PTR, &r);
		for (unsigned k = 0; k < r.n && !found; k++)
			found = r.text[k] != NULL && same_name(r.text[k], rc->cfg->hostname);
		if (found) {
			ok("the address names the hostname back");
		} else {
			if (r.n > 0)
				snprintf(what, sizeof(what), "%s (of %s) names %s", addr,
					 rc->cfg->hostname, r.text[0] != NULL ? r.text[0] : "?");
			else
				snprintf(what, sizeof(what), "no PTR for %s (of %s): %s", addr,
					 rc->cfg->hostname, nothing(&r));
			mismatch(rc, what, "ask whoever gives you the address (the hosting "
				 "provider) to set its reverse DNS (PTR) to the hostname");
		}
		reply_free(&r);
	}
}

/* ---- SPF ---- */

static void on_spf_answer(void *ctx, const struct dns_answer *a)
{
	struct pending *p = ctx;
	struct records *rc = p->rc;
	bool current = p->gen == rc->gen && rc->spf != NULL;

	free(p);
	if (current)
		spf_check_answer(rc->spf, a);
}

static void spf_query(void *ctx, struct spf_check *c, const char *name, enum dns_type type)
{
	struct records *rc = ctx;

	dns_query(rc->dns, name, type, on_spf_answer, pending_new(rc));
}

static void spf_done(void *ctx, enum spf_result result, const char *detail)
{
	struct records *rc = ctx;

	rc->spf_result = result;
	snprintf(rc->spf_detail, sizeof(rc->spf_detail), "%s", detail != NULL ? detail : "");
	rc->done = true;
}

/* check_host for ip: the result, SPF_TEMPERROR when out of time. */
static enum spf_result spf_for(struct records *rc, const struct sockaddr_storage *ip)
{
	char sender[300];

	snprintf(sender, sizeof(sender), "postmaster@%s", rc->domain);
	rc->done = false;
	rc->spf_result = SPF_TEMPERROR;
	rc->spf_detail[0] = '\0';
	rc->spf = spf_check_new(ip, rc->domain, sender, rc->cfg->hostname, spf_query, spf_done,
				rc);
	spf_check_start(rc->spf);
	wait_done(rc);
	spf_check_free(&rc->spf);
	return rc->spf_result;
}

static void check_spf(struct records *rc)
{
	char what[900], fix[600], addr[INET6_ADDRSTRLEN];
	struct reply r;
	unsigned n;
	bool all_pass = true;

	printf("%s. IN TXT \"v=spf1 mx -all\"\n", rc->domain);
	snprintf(fix, sizeof(fix), "publish the record above (\"mx\": the hosts of the MX may "
		 "send), or add this server's addresses (ip4:/ip6:) to your one v=spf1 record");
	n = ask_txt(rc, rc->domain, "v=spf1", &r);
	if (n != 1) {
		if (n == 0)
			snprintf(what, sizeof(what), "no SPF record: %s", nothing(&r));
		else
			snprintf(what, sizeof(what), "%u v=spf1 records: receivers take that as an "
				 "error (permerror); keep one", n);
		mismatch(rc, what, fix);
		reply_free(&r);
		return;
	}
	if (rc->n_host_addrs == 0) {
		mismatch(rc, "cannot evaluate: the hostname has no address", "see PTR below");
		reply_free(&r);
		return;
	}
	for (unsigned i = 0; i < rc->n_host_addrs; i++) {
		enum spf_result res = spf_for(rc, &rc->host_addrs[i]);
		if (res == SPF_PASS)
			continue;
		sockaddr_addr_text(&rc->host_addrs[i], addr, sizeof(addr));
		bool detail = rc->spf_detail[0] != '\0' &&
			      strcmp(rc->spf_detail, spf_result_name(res)) != 0;
		snprintf(what, sizeof(what), "the published \"%s\" gives %s for this server's "
			 "address %s%s%s", r.text[0], spf_result_name(res), addr,
			 detail ? ": " : "", detail ? rc->spf_detail : "");
		mismatch(rc, what, fix);
		all_pass = false;
	}
	if (all_pass)
		ok("the published SPF record lets this server send (pass)");
	reply_free(&r);
}

/* ---- DKIM ---- */

/* The p= of a key record, without white space, into out. */
static void key_of(const char *txt, char *out, size_t size)
{
	struct dkim_tags t;
	const char *error, *p;
	size_t len = 0, k = 0;

	out[0] = '\0';
	if (dkim_tags_parse(txt, strlen(txt), &t, &error) < 0 ||
	    (p = dkim_tags_get(&t, "p", &len)) == NULL)
		return;
	for (size_t i = 0; i < len && k + 1 < size; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			out[k++] = p[i];
	out[k] = '\0';
}

static void check_dkim(struct records *rc)
{
	struct dkim_record *recs = xcalloc(CHECK_MAX_KEYS, sizeof(*recs));
	char name[400], mine[1500], theirs[1500], fix[600];
	const char *error = "out of memory";
	struct reply r;
	int n = dkim_keys_list(rc->cfg->data_dir, rc->domain, recs, CHECK_MAX_KEYS, &error);

	if (n <= 0) {
		printf("; DKIM: %s\n", n < 0 ? error : "the domain has no keys");
		snprintf(fix, sizeof(fix), "correio domain dkim %s rotate (makes the keys), "
			 "then publish what `correio domain dkim %s` prints", rc->domain, rc->domain);
		mismatch(rc, "no DKIM key: mail of the domain is not signed", fix);
		free(recs);
		return;
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s._domainkey.%s", recs[i].selector, rc->domain);
		printf("; %s%s\n", recs[i].alg == DKIM_ALG_RSA_SHA256 ? "rsa-sha256" :
		       "ed25519-sha256", recs[i].signing ? ", signing" :
		       ", no longer signing: keep published until retired");
		print_txt(name, recs[i].txt);
		key_of(recs[i].txt, mine, sizeof(mine));
		ask_txt(rc, name, "v=DKIM1", &r);
		if (r.n == 0)
			ask_txt(rc, name, "", &r);	/* v= is optional in key records */
		theirs[0] = '\0';
		for (unsigned k = 0; k < r.n && strcmp(theirs, mine) != 0; k++)
			key_of(r.text[k], theirs, sizeof(theirs));
		snprintf(fix, sizeof(fix), "publish the record above at %s", name);
		if (strcmp(theirs, mine) == 0)
			ok("the published key is this key");
		else if (r.n == 0)
			mismatch(rc, nothing(&r), fix);
		else
			mismatch(rc, "the published key (p=) is another key", fix);
		reply_free(&r);
	}
	free(recs);
}

/* ---- DMARC, MTA-STS, TLSRPT ---- */

static void check_dmarc(struct records *rc)
{
	char name[300], want[600], what[600], fix[700];
	struct dmarc_record d;
	const char *error = "";
	struct reply r;
	unsigned n;

	snprintf(name, sizeof(name), "_dmarc.%s", rc->domain);
	snprintf(want, sizeof(want), "v=DMARC1; p=quarantine; rua=mailto:postmaster@%s",
		 rc->domain);
	print_txt(name, want);
	snprintf(fix, sizeof(fix), "publish the record above (p=none only monitors; "
		 "p=reject once the reports show only your own mail passing)");
	n = ask_txt(rc, name, "v=DMARC1", &r);
	if (n == 1 && dmarc_record_parse(r.text[0], strlen(r.text[0]), &d, &error) > 0) {
		snprintf(what, sizeof(what), "a DMARC record is published (p=%s)",
			 dmarc_policy_name(d.p));
		ok(what);
	} else if (n == 1) {
		snprintf(what, sizeof(what), "the published \"%s\" is not valid: %s", r.text[0],
			 error);
		mismatch(rc, what, fix);
	} else if (n > 1) {
		mismatch(rc, "several v=DMARC1 records: receivers ignore them all", fix);
	} else {
		snprintf(what, sizeof(what), "no DMARC record: %s", nothing(&r));
		mismatch(rc, what, fix);
	}
	reply_free(&r);
}

static void check_mta_sts(struct records *rc)
{
	char name[300], want[100], host[300], what[600], fix[700], id[32];
	struct reply r, a;
	time_t now = time(NULL);
	struct tm tm;
	unsigned n;

	snprintf(name, sizeof(name), "_mta-sts.%s", rc->domain);
	gmtime_r(&now, &tm);
	strftime(id, sizeof(id), "%Y%m%d%H%M%S", &tm);
	snprintf(want, sizeof(want), "v=STSv1; id=%s", id);
	print_txt(name, want);
	snprintf(host, sizeof(host), "mta-sts.%s", rc->domain);
	printf("; the policy, served at https://%s/.well-known/mta-sts.txt (a certificate "
	       "valid for %s):\n;   version: STSv1\n;   mode: enforce\n;   mx: %s\n"
	       ";   max_age: 604800\n", host, host, rc->cfg->hostname);
	snprintf(fix, sizeof(fix), "publish the record above (change id= whenever the policy "
		 "changes)");
	n = ask_txt(rc, name, "v=STSv1", &r);
	if (n == 1 && strstr(r.text[0], "id=") != NULL) {
		ok("an MTA-STS record is published");
	} else if (n == 1) {
		snprintf(what, sizeof(what), "the published \"%s\" has no id=", r.text[0]);
		mismatch(rc, what, fix);
	} else if (n > 1) {
		mismatch(rc, "several v=STSv1 records: senders ignore them all", fix);
	} else {
		snprintf(what, sizeof(what), "no MTA-STS record: %s", nothing(&r));
		mismatch(rc, what, fix);
	}
	reply_free(&r);
	ask(rc, host, DNS_A, &a);
	if (a.n == 0) {
		reply_free(&a);
		ask(rc, host, DNS_AAAA, &a);
	}
	if (a.n > 0) {
		ok("the policy host has an address (the policy itself is not fetched here)");
	} else {
		snprintf(what, sizeof(what), "%s has no address: %s", host, nothing(&a));
		snprintf(fix, sizeof(fix), "publish an A/AAAA record for %s and serve the policy "
			 "above over HTTPS", host);
		mismatch(rc, what, fix);
	}
	reply_free(&a);
}

static void check_tlsrpt(struct records *rc)
{
	char name[300], want[400], what[600];
	struct reply r;
	unsigned n;

	snprintf(name, sizeof(name), "_smtp._tls.%s", rc->domain);
	snprintf(want, sizeof(want), "v=TLSRPTv1; rua=mailto:postmaster@%s", rc->domain);
	print_txt(name, want);
	n = ask_txt(rc, name, "v=TLSRPTv1", &r);
	if (n == 1 && strstr(r.text[0], "rua=") != NULL) {
		ok("a TLSRPT record is published");
	} else {
		if (n == 1)
			snprintf(what, sizeof(what), "the published \"%s\" has no rua=", r.text[0]);
		else if (n > 1)
			snprintf(what, sizeof(what), "%u v=TLSRPTv1 records: senders ignore them "
				 "all", n);
		else
			snprintf(what, sizeof(what), "no TLSRPT record: %s", nothing(&r));
		mismatch(rc, what, "publish the record above");
	}
	reply_free(&r);
}

int check_records(const struct config *cfg, const char *domain)
{
	struct records rc = { .cfg = cfg, .domain = domain };
	const char *error;

	if ((rc.base = event_base_new()) == NULL ||
	    dns_open(rc.base, cfg->dns_servers, &rc.dns, &error) < 0) {
		cli_error("check", "dns: %s", rc.base == NULL ? "out of memory" : error);
		if (rc.base != NULL)
			event_base_free(rc.base);
		return -1;
	}
	printf("# dns: the records %s should publish for mail through %s, each compared "
	       "with DNS:\n", domain, cfg->hostname);
	collect_host_addrs(&rc);
	check_mx(&rc);
	check_spf(&rc);
	check_dkim(&rc);
	check_dmarc(&rc);
	check_mta_sts(&rc);
	check_tlsrpt(&rc);
	check_ptr(&rc);
	printf("# dns: %s: %u mismatch%s\n", domain, rc.mismatches,
	       rc.mismatches == 1 ? "" : "es");
	dns_free(&rc.dns);
	event_base_free(rc.base);
	return (int)rc.mismatches;
}
