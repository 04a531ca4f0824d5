/*
 * mta_sts_fetch.c - the MTA-STS policy of a destination domain (RFC 8461
 * §3, §5), for mta.c before it connects to the domain's mail exchangers.
 *
 * The TXT record at _mta-sts.DOMAIN names the policy's id.  A policy
 * cached (in memory and under <data_dir>/mta-sts/) with that id and within
 * its max_age is used as it is; otherwise it is fetched from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt, the certificate checked
 * against the system's CAs and [relay] ca_file, redirects refused, at most
 * MTA_STS_MAX_POLICY bytes of body in [relay] mta_sts_timeout.  The fetch
 * runs on the event loop: c-ares finds the policy host's address, an
 * OpenSSL bufferevent speaks HTTP/1.0.  When the TXT record is missing or
 * the fetch fails, a cached policy still within its max_age is used (§5.1),
 * else the domain has no policy.  Loop thread only.
 */
#include "mta_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/util.h"
#include "tls/tls.h"

#define STS_HEADER_MAX 8192

/* One policy known for a domain. */
struct sts_cached {
	char domain[256];
	char id[33];
	uint64_t fetched;		/* when the policy was fetched */
	struct mta_sts_policy policy;
	struct sts_cached *next;
};

struct sts_lookup {
	struct mta *mta;
	char domain[256];
	char id[33];			/* from the TXT record */
	sts_fn *cb;
	void *ctx;
	bool cancelled;			/* free when the DNS answer comes */
	bool dns_waiting;		/* a query has not answered yet */
	bool tried_aaaa;
	struct bufferevent *bev;
	struct event *timer;
	struct buf response;
	struct sts_lookup *next_of_mta;	/* mta->sts_lookups */
};

static const struct config *cfg_of(struct mta *m)
{
	return &m->srv->cfg;
}

/* ---- the cache ---- */

static bool cache_name_ok(const char *domain)
{
	if (domain[0] == '\0' || domain[0] == '.')
		return false;
	for (const char *p = domain; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

static void cache_path(struct mta *m, const char *domain, char *out, size_t size)
{
	snprintf(out, size, "%s/mta-sts/%s", cfg_of(m)->data_dir, domain);
}

static struct sts_cached *cache_find(struct mta *m, const char *domain)
{
	for (struct sts_cached *c = m->sts_cache; c != NULL; c = c->next)
		if (strcmp(c->domain, domain) == 0)
			return c;
	return NULL;
}

static struct sts_cached *cache_add(struct mta *m, const char *domain)
{
	struct sts_cached *c = xcalloc(1, sizeof(*c));

	str_copy(c->domain, domain, sizeof(c->domain));
	c->next = m->sts_cache;
	m->sts_cache = c;
	return c;
}

/* The file: "<id> <fetched>\n" then the policy as it was served. */
static void cache_load(struct mta *m, const char *domain)
{
	char path[1400], id[33], *data = NULL, *nl;
	size_t cap = 0;
	ssize_t n;
	int fd;
	struct mta_sts_policy p;
	struct sts_cached *c;
	const char *error;
	unsigned long long fetched;

	cache_path(m, domain, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read_file_at_start(fd, MTA_STS_MAX_POLICY + 100, &data, &cap);
	close(fd);
	if (n <= 0 || (nl = memchr(data, '\n', (size_t)n)) == NULL ||
	    sscanf(data, "%32s %llu", id, &fetched) != 2 ||
	    mta_sts_policy_parse(nl + 1, (size_t)(data + n - nl - 1), &p, &error) < 0) {
		log_warn("mta-sts: %s: ignoring a bad cache file", path);
		free(data);
		return;
	}
	free(data);
	c = cache_add(m, domain);
	str_copy(c->id, id, sizeof(c->id));
	c->fetched = fetched;
	c->policy = p;
}

static void cache_store(struct mta *m, const char *domain, const char *id, uint64_t fetched,
			const char *text, size_t len)
{
	char dir[1200], path[1400], tmp[1500];
	struct buf head;
	int fd;

	snprintf(dir, sizeof(dir), "%s/mta-sts", cfg_of(m)->data_dir);
	cache_path(m, domain, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	buf_init(&head, 0);
	buf_printf(&head, "%s %llu\n", id, (unsigned long long)fetched);
	if (mkdir_p(dir, 0750) < 0 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0) {
		log_warn("mta-sts: cannot write %s: %m", tmp);
		buf_deinit(&head);
		return;
	}
	if (write_all(fd, head.data, head.len) < 0 || write_all(fd, text, len) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0) {
		log_warn("mta-sts: cannot write %s: %m", path);
		unlink(tmp);
	}
	buf_deinit(&head);
}

/* The cached policy of domain while its max_age lasts, else NULL. */
static const struct sts_cached *cache_valid(struct mta *m, const char *domain)
{
	const struct sts_cached *c = cache_find(m, domain);

	if (c == NULL && cache_name_ok(domain)) {
		cache_load(m, domain);
		c = cache_find(m, domain);
	}
	if (c == NULL || c->fetched + c->policy.max_age <= (uint64_t)time(NULL))
		return NULL;
	return c;
}

/* ---- the end of a lookup ---- */

static void lookup_free(struct sts_lookup *l)
{
	struct sts_lookup **pp;

	for (pp = l->mta != NULL ? &l->mta->sts_lookups : NULL; pp != NULL && *pp != NULL;
	     pp = &(*pp)->next_of_mta)
		if (*pp == l) {
			*pp = l->next_of_mta;
			break;
		}
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	if (l->timer != NULL)
		event_free(l->timer);
	buf_deinit(&l->response);
	free(l);
}

/* Give the caller the cached policy (or none), after a failure.  result:
   the RFC 8460 result-type when the policy the TXT record announced could
   not be had (counted for TLS-RPT), else NULL. */
static void finish_failed(struct sts_lookup *l, const char *result, const char *why)
{
	const struct sts_cached *c = cache_valid(l->mta, l->domain);

	if (result != NULL)
		tlsrpt_count(l->mta, l->domain, "sts", "", result, NULL, NULL);

	if (why != NULL)
		log_info("mta-sts: %s: %s; %s", l->domain, why,
			 c != NULL ? "using the cached policy" : "no policy applies");
	l->cb(l->ctx, c != NULL ? &c->policy : NULL);
	lookup_free(l);
}

static void finish_fetched(struct sts_lookup *l, const char *body, size_t len)
{
	struct mta_sts_policy p;
	struct sts_cached *c;
	const char *error;
	uint64_t now = (uint64_t)time(NULL);

	if (mta_sts_policy_parse(body, len, &p, &error) < 0) {
		char why[200];
		snprintf(why, sizeof(why), "policy not valid: %s", error);
		finish_failed(l, "sts-policy-invalid", why);
		return;
	}
	if ((c = cache_find(l->mta, l->domain)) == NULL)
		c = cache_add(l->mta, l->domain);
	str_copy(c->id, l->id, sizeof(c->id));
	c->fetched = now;
	c->policy = p;
	if (cache_name_ok(l->domain))
		cache_store(l->mta, l->domain, l->id, now, body, len);
	log_info("mta-sts: %s: policy %s fetched: mode %s, max_age %llu, %u mx pattern(s)",
		 l->domain, l->id, mta_sts_mode_name(p.mode), (unsigned long long)p.max_age,
		 p.n_mx);
	l->cb(l->ctx, &c->policy);
	lookup_free(l);
}

/* ---- HTTPS ---- */

/* Take what arrived into l->response.  Returns 1, or -1 when it is
   more than a policy can be. */
static int take_input(struct sts_lookup *l, struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	if (n > 0 && buf_append(&l->response, evbuffer_pullup(in, -1), n) < 0)
		return -1;
	evbuffer_drain(in, n);
	return 1;
}

static void on_http_read(struct bufferevent *bev, void *arg)
{
	struct sts_lookup *l = arg;

	if (take_input(l, bev) < 0)
		finish_failed(l, "sts-policy-invalid", "policy fetch: response too long");
}

static void http_done(struct sts_lookup *l)
{
	const char *body, *error;
	size_t len;
	char why[200];

	if (mta_sts_http_parse(l->response.data != NULL ? l->response.data : "",
			       l->response.len, &body, &len, &error) < 0) {
		snprintf(why, sizeof(why), "policy fetch: %s", error);
		finish_failed(l, "sts-policy-fetch-error", why);
		return;
	}
	finish_fetched(l, body, len);
}

static void on_http_event(struct bufferevent *bev, short what, void *arg)
{
	struct sts_lookup *l = arg;
	const char *error;
	char why[400];

	if (what & BEV_EVENT_CONNECTED) {
		evbuffer_add_printf(bufferevent_get_output(bev),
				    "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: mta-sts.%s\r\n"
				    "User-Agent: correio\r\nConnection: close\r\n\r\n", l->domain);
		return;
	}
	if ((what & BEV_EVENT_EOF) && take_input(l, bev) > 0 && l->response.len > 0) {
		http_done(l);
		return;
	}
	error = (what & BEV_EVENT_TIMEOUT) ? "timeout" : (what & BEV_EVENT_EOF) ?
		"connection closed" : tls_last_error(bev);
	snprintf(why, sizeof(why), "policy fetch from mta-sts.%s: %s", l->domain, error);
	finish_failed(l, strstr(error, "certificate verify failed") != NULL ?
		      "sts-webpki-invalid" : "sts-policy-fetch-error", why);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	finish_failed(arg, "sts-policy-fetch-error", "policy fetch: timeout");
}

static void http_start(struct sts_lookup *l, const struct sockaddr_storage *addr)
{
	struct sockaddr_storage sa = *addr;
	struct timeval limit = { (time_t)cfg_of(l->mta)->mta_sts_timeout, 0 };
	uint16_t port = (uint16_t)cfg_of(l->mta)->mta_sts_port;
	char host[300];
	socklen_t len;

	if (sa.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&sa)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	}
	snprintf(host, sizeof(host), "mta-sts.%s", l->domain);
	l->bev = tls_connect_strict(l->mta->srv->tls, l->mta->srv->base, host);
	l->timer = evtimer_new(l->mta->srv->base, on_timer, l);
	if (l->bev == NULL || l->timer == NULL)
		abort();
	evtimer_add(l->timer, &limit);
	bufferevent_setcb(l->bev, on_http_read, NULL, on_http_event, l);
	bufferevent_set_timeouts(l->bev, &limit, &limit);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&sa, (int)len) < 0) {
		char why[300];
		snprintf(why, sizeof(why), "policy fetch: connect: %s", strerror(errno));
		finish_failed(l, "sts-policy-fetch-error", why);
	}
}

static void on_address(void *ctx, const struct dns_answer *a)
{
	struct sts_lookup *l = ctx;
	char name[300];

	l->dns_waiting = false;
	if (l->cancelled) {
		lookup_free(l);
		return;
	}
	if (a->status == DNS_OK) {
		http_start(l, &a->addrs[0]);
		return;
	}
	if (a->status == DNS_PERMANENT && !l->tried_aaaa) {
		l->tried_aaaa = true;
		l->dns_waiting = true;
		snprintf(name, sizeof(name), "mta-sts.%s", l->domain);
		dns_query(mta_dns(l->mta), name, DNS_AAAA, on_address, l);
		return;
	}
	finish_failed(l, "sts-policy-fetch-error", "policy host mta-sts has no address");
}

/* ---- the TXT record ---- */

static void on_txt(void *ctx, const struct dns_answer *a)
{
	struct sts_lookup *l = ctx;
	const struct sts_cached *c;
	char name[300];
	unsigned found = 0;

	l->dns_waiting = false;
	if (l->cancelled) {
		lookup_free(l);
		return;
	}
	for (unsigned i = 0; a->status == DNS_OK && i < a->n; i++) {
		int ret = mta_sts_txt_parse(a->txt[i], l->id, sizeof(l->id));
		if (ret != 0)
			found++;
		if (ret < 0)
			found = 99;	/* a bad STS record: as if none (§3.1) */
	}
	if (found != 1) {
		/* none, several or bad: the cached policy stays in force (§5.1) */
		finish_failed(l, NULL, a->status == DNS_TEMPORARY ? "TXT lookup failed" : NULL);
		return;
	}
	c = cache_valid(l->mta, l->domain);
	if (c != NULL && strcmp(c->id, l->id) == 0) {
		l->cb(l->ctx, &c->policy);
		lookup_free(l);
		return;
	}
	if (l->mta->srv->tls == NULL) {
		finish_failed(l, NULL, "no TLS to fetch the policy with");
		return;
	}
	l->dns_waiting = true;
	snprintf(name, sizeof(name), "mta-sts.%s", l->domain);
	dns_query(mta_dns(l->mta), name, DNS_A, on_address, l);
}

struct sts_lookup *mta_sts_lookup(struct mta *m, const char *domain, sts_fn *cb, void *ctx)
{
	struct sts_lookup *l;
	char name[300];

	l = xcalloc(1, sizeof(*l));
	str_copy(l->domain, domain, sizeof(l->domain));
	str_lower(l->domain);
	if (!cache_name_ok(l->domain) || strlen(l->domain) > 240) {
		free(l);
		return NULL;	/* XXX: internationalised domains get no policy */
	}
	l->mta = m;
	l->cb = cb;
	l->ctx = ctx;
	buf_init(&l->response, STS_HEADER_MAX + MTA_STS_MAX_POLICY);
	l->next_of_mta = m->sts_lookups;
	m->sts_lookups = l;
	l->dns_waiting = true;
	snprintf(name, sizeof(name), "_mta-sts.%s", l->domain);
	dns_query(mta_dns(m), name, DNS_TXT, on_txt, l);
	return l;
}

void mta_sts_cancel(struct sts_lookup *l)
{
	if (l->dns_waiting) {
		l->cancelled = true;	/* freed by its DNS callback */
		return;
	}
	lookup_free(l);
}

void mta_sts_stop(struct mta *m)
{
	while (m->sts_lookups != NULL) {
		struct sts_lookup *l = m->sts_lookups;
		m->sts_lookups = l->next_of_mta;
		l->next_of_mta = NULL;
		if (l->dns_waiting) {
			l->cancelled = true;
			l->mta = NULL;
			continue;	/* the resolver's end calls back: freed there */
		}
		l->mta = NULL;
		lookup_free(l);
	}
	while (m->sts_cache != NULL) {
		struct sts_cached *c = m->sts_cache;
		m->sts_cache = c->next;
		free(c);
	}
}
