/*
 * dns.c - c-ares on libevent, and the MX procedure of RFC 5321 §5.1.
 *
 * c-ares tells us which sockets it wants watched (sock_state_cb); each gets
 * a libevent event, and one timer drives c-ares' own timeouts.  A lookup is
 * an MX query, then one getaddrinfo per exchanger (or for the domain itself
 * when it has no MX); the request answers when the last one returns.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <idn2.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/util.h"

#define DNS_MAX_SOCKETS 16

struct dns_socket {
	ares_socket_t fd;
	struct event *ev;
};

struct dns {
	ares_channel channel;
	struct event_base *base;
	struct event *timer;
	struct dns_socket sockets[DNS_MAX_SOCKETS];
	unsigned active;	/* requests waiting for c-ares */
	bool closing;		/* dns_free is answering what is pending */
};

struct dns_request {
	struct dns *dns;
	dns_mx_fn *cb;
	dns_a_fn *a_cb;		/* an A query (dns_lookup_a) instead */
	void *ctx;
	bool cancelled;
	unsigned pending;	/* lookups outstanding */
	bool temporary;		/* some lookup failed temporarily */
	bool queried;		/* counted in dns->active */
	int host_status;	/* c-ares status of the last failed address lookup */
	char host_failed[256];	/* and the host it was for */
	struct dns_mx result;
};

/* ---- c-ares on libevent ---- */

static void dns_schedule(struct dns *d)
{
	struct timeval tv, *t = ares_timeout(d->channel, NULL, &tv);

	if (t != NULL)
		evtimer_add(d->timer, t);
	else
		evtimer_del(d->timer);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	ares_process_fd(d->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_schedule(d);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_schedule(d);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_socket *slot = NULL, *free_slot = NULL;

	for (int i = 0; i < DNS_MAX_SOCKETS; i++) {
		if (d->sockets[i].ev != NULL && d->sockets[i].fd == fd)
			slot = &d->sockets[i];
		else if (d->sockets[i].ev == NULL && free_slot == NULL)
			free_slot = &d->sockets[i];
	}
	if (slot != NULL) {
		event_free(slot->ev);
		slot->ev = NULL;
	} else {
		slot = free_slot;
	}
	if ((!readable && !writable) || slot == NULL)
		return;
	slot->fd = fd;
	slot->ev = event_new(d->base, fd, EV_PERSIST | (readable ? EV_READ : 0) |
			     (writable ? EV_WRITE : 0), on_socket, d);
	event_add(slot->ev, NULL);
}

int dns_open(struct event_base *base, const char *servers, struct dns **r,
	     const char **error_r)
{
	struct dns *d = xcalloc(1, sizeof(*d));
	struct ares_options opts = { .sock_state_cb = on_sock_state, .sock_state_cb_data = d,
				     .timeout = 3000, .tries = 2 };
	static bool initialised;

	if (!initialised && ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS)
		initialised = true;
	d->base = base;
	if (ares_init_options(&d->channel, &opts, ARES_OPT_SOCK_STATE_CB |
			      ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
		*error_r = "cannot start the DNS resolver";
		free(d);
		return -1;
	}
	if (servers[0] != '\0' && ares_set_servers_ports_csv(d->channel, servers) != ARES_SUCCESS) {
		*error_r = "bad DNS server list (expected host:port, ...)";
		ares_destroy(d->channel);
		free(d);
		return -1;
	}
	d->timer = evtimer_new(base, on_timer, d);
	*r = d;
	return 1;
}

void dns_free(struct dns **dp)
{
	struct dns *d = *dp;

	if (d == NULL)
		return;
	d->closing = true;
	ares_destroy(d->channel);	/* answers pending requests with ARES_EDESTRUCTION */
	for (int i = 0; i < DNS_MAX_SOCKETS; i++)
		if (d->sockets[i].ev != NULL)
			event_free(d->sockets[i].ev);
	event_free(d->timer);
	free(d);
	*dp = NULL;
}

/* ---- the MX procedure ---- */

static bool temporary_status(int status)
{
	return status != ARES_ENOTFOUND && status != ARES_ENODATA &&
	       status != ARES_ENONAME && status != ARES_EBADNAME;
}

static void request_finish(struct dns_request *rq)
{
	struct dns_mx *res = &rq->result;
	unsigned kept = 0;

	for (unsigned i = 0; i < res->n_hosts; i++)
		if (res->hosts[i].n_addrs > 0)
			res->hosts[kept++] = res->hosts[i];
	res->n_hosts = kept;
	if (res->status == DNS_OK && kept == 0) {
		/* say what the resolver answered, e.g. "mx.example: Timeout
		   while contacting DNS servers" */
		res->status = rq->temporary ? DNS_TEMPORARY : DNS_PERMANENT;
		snprintf(res->error, sizeof(res->error), "%s (%.150s: %s)",
			 rq->temporary ? "lookup of the mail exchangers failed" :
			 "no address for any mail exchanger", rq->host_failed,
			 rq->host_status != ARES_SUCCESS ? ares_strerror(rq->host_status) :
			 "no A or AAAA record");
	}
	if (rq->queried)
		rq->dns->active--;
	if (!rq->cancelled)
		rq->cb(rq->ctx, res);
	free(rq);
}

struct host_lookup {
	struct dns_request *rq;
	unsigned idx;
};

static void lookup_done(struct dns_request *rq)
{
	if (--rq->pending == 0)
		request_finish(rq);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct host_lookup *hl = arg;
	struct dns_request *rq = hl->rq;
	struct dns_host *h = &rq->result.hosts[hl->idx];

	free(hl);
	str_copy(rq->host_failed, h->name, sizeof(rq->host_failed));
	rq->host_status = status;
	if (status != ARES_SUCCESS) {
		if (temporary_status(status))
			rq->temporary = true;
	} else {
		for (struct ares_addrinfo_node *n = ai->nodes;
		     n != NULL && h->n_addrs < DNS_MAX_ADDRS; n = n->ai_next) {
			if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
				continue;
			memcpy(&h->addrs[h->n_addrs++], n->ai_addr, n->ai_addrlen);
		}
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	lookup_done(rq);
}

static void resolve_host(struct dns_request *rq, unsigned idx)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC,
					     .ai_socktype = SOCK_STREAM };
	struct host_lookup *hl = xmalloc(sizeof(*hl));

	hl->rq = rq;
	hl->idx = idx;
	rq->pending++;
	ares_getaddrinfo(rq->dns->channel, rq->result.hosts[idx].name, "25", &hints,
			 on_addrinfo, hl);
}

static int by_pref(const void *a, const void *b)
{
	const struct dns_host *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* Sort by preference; shuffle each run of equal preference (§5.1). */
static void order_hosts(struct dns_mx *res)
{
	qsort(res->hosts, res->n_hosts, sizeof(res->hosts[0]), by_pref);
	for (unsigned i = 0; i < res->n_hosts;) {
		unsigned j = i;
		while (j < res->n_hosts && res->hosts[j].pref == res->hosts[i].pref)
			j++;
		for (unsigned k = j - 1; k > i; k--) {
			unsigned r = i + (unsigned)random() % (k - i + 1);
			struct dns_host t = res->hosts[k];
			res->hosts[k] = res->hosts[r];
			res->hosts[r] = t;
		}
		i = j;
	}
}

static void fail(struct dns_request *rq, enum dns_status status, const char *what,
		 const char *detail)
{
	rq->result.status = status;
	snprintf(rq->result.error, sizeof(rq->result.error), "%s%s", what, detail);
}

static void take_mx(struct dns_request *rq, struct ares_mx_reply *mx)
{
	struct dns_mx *res = &rq->result;

	for (struct ares_mx_reply *m = mx; m != NULL && res->n_hosts < DNS_MAX_HOSTS;
	     m = m->next) {
		struct dns_host *h = &res->hosts[res->n_hosts++];
		str_copy(h->name, m->host, sizeof(h->name));
		h->pref = m->priority;
	}
	/* RFC 7505: a single MX of preference 0 naming "." refuses mail */
	if (res->n_hosts == 1 && (res->hosts[0].name[0] == '\0' ||
				  strcmp(res->hosts[0].name, ".") == 0)) {
		res->n_hosts = 0;
		res->null_mx = true;
		fail(rq, DNS_PERMANENT, "domain does not accept mail (null MX)", "");
	}
	order_hosts(res);
}

static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_request *rq = arg;
	struct ares_mx_reply *mx = NULL;
	const char *domain = rq->result.hosts[0].name;

	if (status == ARES_SUCCESS && ares_parse_mx_reply(abuf, alen, &mx) == ARES_SUCCESS) {
		rq->result.n_hosts = 0;
		take_mx(rq, mx);
		ares_free_data(mx);
	} else if (status == ARES_ENODATA || (status == ARES_SUCCESS && mx == NULL)) {
		/* no MX: the domain itself, as an implicit MX of preference 0 */
		rq->result.n_hosts = 1;
	} else if (status == ARES_ENOTFOUND) {
		fail(rq, DNS_PERMANENT, domain, ": domain not found (NXDOMAIN)");
		rq->result.n_hosts = 0;
	} else {
		fail(rq, DNS_TEMPORARY, "MX lookup failed: ", ares_strerror(status));
		rq->result.n_hosts = 0;
	}
	rq->pending = 1;	/* held until every host lookup is started */
	for (unsigned i = 0; rq->result.status == DNS_OK && i < rq->result.n_hosts; i++)
		resolve_host(rq, i);
	lookup_done(rq);
}

static void on_invalid(evutil_socket_t fd, short what, void *arg)
{
	request_finish(arg);
}

/* "192.0.2.1", "[192.0.2.1]", "[IPv6:2001:db8::1]", "::1": one host. */
static bool take_literal(struct dns_request *rq, const char *domain)
{
	char text[128];
	size_t n = strlen(domain);
	struct dns_host *h = &rq->result.hosts[0];
	struct sockaddr_in *v4 = (struct sockaddr_in *)&h->addrs[0];
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&h->addrs[0];

	if (n >= sizeof(text))
		return false;
	if (domain[0] == '[' && n > 2 && domain[n - 1] == ']')
		snprintf(text, sizeof(text), "%.*s", (int)(n - 2), domain + 1);
	else
		str_copy(text, domain, sizeof(text));
	if (strncasecmp(text, "IPv6:", 5) == 0)
		memmove(text, text + 5, strlen(text + 5) + 1);
	memset(&h->addrs[0], 0, sizeof(h->addrs[0]));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	else
		return false;
	str_copy(h->name, text, sizeof(h->name));
	h->n_addrs = 1;
	rq->result.n_hosts = 1;
	return true;
}

struct dns_request *dns_lookup_mx(struct dns *d, const char *domain, dns_mx_fn *cb,
				  void *ctx)
{
	struct dns_request *rq = xcalloc(1, sizeof(*rq));
	char *ascii = NULL;

	rq->dns = d;
	rq->cb = cb;
	rq->ctx = ctx;
	if (take_literal(rq, domain)) {
		struct timeval now = { 0, 0 };
		event_base_once(d->base, -1, EV_TIMEOUT, on_invalid, rq, &now);
		return rq;
	}
	if (idn2_to_ascii_8z(domain, &ascii, IDN2_NONTRANSITIONAL) != IDN2_OK) {
		struct timeval now = { 0, 0 };
		fail(rq, DNS_PERMANENT, domain, ": not a valid domain name");
		/* answer from the loop, never from inside the caller */
		event_base_once(d->base, -1, EV_TIMEOUT, on_invalid, rq, &now);
		return rq;
	}
	str_copy(rq->result.hosts[0].name, ascii, sizeof(rq->result.hosts[0].name));
	rq->result.hosts[0].pref = 0;
	free(ascii);
	rq->queried = true;
	d->active++;
	ares_query(d->channel, rq->result.hosts[0].name, C_IN, T_MX, on_mx, rq);
	dns_schedule(d);
	return rq;
}

static void on_a(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_request *rq = arg;
	struct ares_addrttl ttls[DNS_MAX_ADDRS];
	struct in_addr addrs[DNS_MAX_ADDRS];
	int n = DNS_MAX_ADDRS;
	enum dns_status st = DNS_OK;

	if (status == ARES_SUCCESS &&
	    ares_parse_a_reply(abuf, alen, NULL, ttls, &n) == ARES_SUCCESS && n > 0) {
		for (int i = 0; i < n; i++)
			addrs[i] = ttls[i].ipaddr;
	} else {
		n = 0;
		st = status == ARES_SUCCESS || !temporary_status(status) ?
		     DNS_PERMANENT : DNS_TEMPORARY;
	}
	rq->dns->active--;
	if (!rq->cancelled)
		rq->a_cb(rq->ctx, st, addrs, (unsigned)n);
	free(rq);
}

struct dns_request *dns_lookup_a(struct dns *d, const char *name, dns_a_fn *cb, void *ctx)
{
	struct dns_request *rq = xcalloc(1, sizeof(*rq));

	rq->dns = d;
	rq->a_cb = cb;
	rq->ctx = ctx;
	rq->queried = true;
	d->active++;
	ares_query(d->channel, name, C_IN, T_A, on_a, rq);
	dns_schedule(d);
	return rq;
}

void dns_cancel(struct dns_request *r)
{
	if (r != NULL)
		r->cancelled = true;
}

bool dns_busy(const struct dns *d)
{
	return d->active > 0;
}

/* ---- single queries ---- */

struct dns_query {
	struct dns *dns;
	enum dns_type type;
	dns_answer_fn *cb;
	void *ctx;
	struct dns_answer answer;
};

static void query_finish(struct dns_query *q)
{
	q->cb(q->ctx, &q->answer);
	for (unsigned i = 0; i < q->answer.n; i++) {
		free(q->answer.txt[i]);
		free(q->answer.names[i]);
	}
	free(q);
}

static void take_txt(struct dns_answer *a, struct ares_txt_ext *txt)
{
	for (struct ares_txt_ext *t = txt; t != NULL; t = t->next) {
		size_t old;
		char *joined;

		if (t->record_start) {
			if (a->n == DNS_MAX_ANSWERS)
				break;
			a->txt[a->n++] = xcalloc(1, 1);
		}
		if (a->n == 0)
			continue;
		old = strlen(a->txt[a->n - 1]);
		joined = xrealloc(a->txt[a->n - 1], old + t->length + 1);
		memcpy(joined + old, t->txt, t->length);
		joined[old + t->length] = '\0';
		a->txt[a->n - 1] = joined;
	}
}

static void take_ptr(struct dns_answer *a, const unsigned char *abuf, int alen)
{
	struct hostent *h = NULL;
	unsigned char any[4] = { 0 };	/* the address is not ours to know here */

	if (ares_parse_ptr_reply(abuf, alen, any, sizeof(any), AF_INET, &h) != ARES_SUCCESS)
		return;
	if (h->h_name != NULL)
		a->names[a->n++] = xstrdup(h->h_name);
	for (char **p = h->h_aliases; p != NULL && *p != NULL && a->n < DNS_MAX_ANSWERS; p++)
		a->names[a->n++] = xstrdup(*p);
	ares_free_hostent(h);
}

static void on_query(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_answer *a = &q->answer;

	q->dns->active--;
	if (status == ARES_SUCCESS) {
		if (q->type == DNS_TXT) {
			struct ares_txt_ext *txt = NULL;
			if (ares_parse_txt_reply_ext(abuf, alen, &txt) == ARES_SUCCESS) {
				take_txt(a, txt);
				ares_free_data(txt);
			}
		} else if (q->type == DNS_MX_NAMES) {
			struct ares_mx_reply *mx = NULL;
			if (ares_parse_mx_reply(abuf, alen, &mx) == ARES_SUCCESS) {
				for (struct ares_mx_reply *m = mx; m != NULL && a->n < DNS_MAX_ANSWERS;
				     m = m->next)
					a->names[a->n++] = xstrdup(m->host);
				ares_free_data(mx);
			}
		} else if (q->type == DNS_PTR) {
			take_ptr(a, abuf, alen);
		} else if (q->type == DNS_A) {
			struct ares_addrttl ttls[DNS_MAX_ANSWERS];
			int n = DNS_MAX_ANSWERS;
			if (ares_parse_a_reply(abuf, alen, NULL, ttls, &n) == ARES_SUCCESS) {
				for (int i = 0; i < n; i++) {
					struct sockaddr_in *v4 = (struct sockaddr_in *)&a->addrs[a->n++];
					memset(v4, 0, sizeof(a->addrs[0]));
					v4->sin_family = AF_INET;
					v4->sin_addr = ttls[i].ipaddr;
				}
			}
		} else {
			struct ares_addr6ttl ttls[DNS_MAX_ANSWERS];
			int n = DNS_MAX_ANSWERS;
			if (ares_parse_aaaa_reply(abuf, alen, NULL, ttls, &n) == ARES_SUCCESS) {
				for (int i = 0; i < n; i++) {
					struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->addrs[a->n++];
					memset(v6, 0, sizeof(a->addrs[0]));
					v6->sin6_family = AF_INET6;
					memcpy(&v6->sin6_addr, &ttls[i].ip6addr, 16);
				}
			}
		}
		a->status = a->n > 0 ? DNS_OK : DNS_PERMANENT;
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		a->status = DNS_PERMANENT;
		a->nxdomain = status == ARES_ENOTFOUND;
	} else {
		a->status = DNS_TEMPORARY;
	}
	query_finish(q);
}

static void on_query_invalid(evutil_socket_t fd, short what, void *arg)
{
	query_finish(arg);
}

void dns_query(struct dns *d, const char *name, enum dns_type type, dns_answer_fn *cb,
	       void *ctx)
{
	static const int types[] = { [DNS_TXT] = T_TXT, [DNS_A] = T_A, [DNS_AAAA] = T_AAAA,
				     [DNS_MX_NAMES] = T_MX, [DNS_PTR] = T_PTR };
	struct dns_query *q = xcalloc(1, sizeof(*q));
	size_t len = strlen(name);

	q->dns = d;
	q->type = type;
	q->cb = cb;
	q->ctx = ctx;
	if (len == 0 || len > 253 || d->closing) {
		struct timeval now = { 0, 0 };
		/* a query made while the resolver closes (from the callback of
		   one it cancels) fails at once, as a temporary error */
		q->answer.status = d->closing ? DNS_TEMPORARY : DNS_PERMANENT;
		q->answer.nxdomain = !d->closing;
		if (d->closing) {
			query_finish(q);
			return;
		}
		event_base_once(d->base, -1, EV_TIMEOUT, on_query_invalid, q, &now);
		return;
	}
	d->active++;
	ares_query(d->channel, name, C_IN, types[type], on_query, q);
	dns_schedule(d);
}
