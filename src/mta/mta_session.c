/*
 * mta_session.c - the SMTP client of the relay (RFC 5321, 3207, 2920,
 * 3030, 1870, 6152, 6531, 3461, 4954).  One session is one connection to
 * a destination: it tries the mail exchangers in order until one greets,
 * says EHLO (HELO if refused), upgrades with STARTTLS when offered, logs in
 * to a smarthost, then runs the destination's waiting transactions one
 * after another on the same connection, and says QUIT when none is left.
 *
 * A transaction pipelines MAIL and every RCPT when the peer offers
 * PIPELINING; the text follows with BDAT when the peer offers CHUNKING,
 * else DATA with dot-stuffing.  The stored text (LF line ends, starting
 * with our Return-Path: line) is streamed from the spool file in blocks
 * through smtp_data_out (every line end sent as CRLF, never a bare CR or
 * LF), so memory stays bounded for any message size.
 */
#include "mta_private.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth/sasl.h"
#include "delivery/resolve.h"
#include "mime/mime.h"
#include "lib-smtp/smtp_data.h"
#include "lib-smtp/smtp_parse.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"
#include "srs/srs.h"
#include "lib/line_read.h"
#include "tls/tls.h"

#define SESSION_LINE_MAX 4096
#define BODY_BLOCK 65536
#define OUTPUT_LOW 16384

enum session_state {
	S_CONNECTING, S_BANNER, S_EHLO, S_HELO, S_STARTTLS, S_AUTH, S_READY,
	S_ENVELOPE, S_DATA, S_BODY, S_BODY_END, S_RSET, S_QUIT
};

struct session {
	struct mta_dest *dest;
	struct mta *mta;
	struct bufferevent *bev;
	enum session_state state;
	unsigned host, addr;		/* position in dest->mx */
	char host_name[300];		/* "mx.example.net[192.0.2.1]" */
	struct smtp_reply reply;
	bool greeted;			/* some host said 220 */
	bool tls, esmtp, pipelining, eightbit, utf8, dsn, chunking;
	bool peer_checked;		/* the TLS peer's certificate was judged */
	unsigned dane_usable;		/* TLSA records OpenSSL matches against */
	uint64_t size_limit;
	char error[600];		/* why the last host failed */
	int error_code;
	const char *error_status;	/* enhanced status of error, or NULL */
	const char *fail_status;	/* for the next session_fail, or NULL */

	struct mta_txn *txn;
	unsigned expected, got;		/* envelope replies */
	unsigned accepted;		/* recipients the peer took */
	bool mail_ok;
	bool rcpt_ok[MTA_MAX_RCPTS];
	int fd;				/* the spool file, during the text */
	struct buf converted;		/* the text after an 8BITMIME downgrade */
	size_t converted_pos;
	bool use_converted;
	struct smtp_data_out wire;	/* the text's wire form: CRLF, dots */
	struct buf block;		/* one block of it */
	struct event *retry;		/* next host, from the loop */
	struct session *prev, *next;	/* mta->sessions */
	bool reading;			/* inside on_read: frees wait for its end */
	unsigned bev_generation;	/* changes whenever bev is replaced */
	bool dead;			/* free at the end of on_read */
};

static void session_next_host(struct session *s);
static void session_next_txn(struct session *s);

static const struct config *cfg_of(struct session *s)
{
	return &s->mta->srv->cfg;
}

static void send_line(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void send_line(struct session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static void session_release(struct session *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->mta->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->fd >= 0)
		close(s->fd);
	if (s->retry != NULL)
		event_free(s->retry);
	smtp_reply_deinit(&s->reply);
	buf_deinit(&s->converted);
	buf_deinit(&s->block);
	free(s);
}

void mta_session_close_all(struct mta *m)
{
	while (m->sessions != NULL) {
		struct session *s = m->sessions;
		free(s->txn);	/* its message stays as it is on disk */
		session_release(s);
	}
}

static void session_free(struct session *s)
{
	struct mta_dest *d = s->dest;

	if (s->reading) {
		s->dead = true;
		if (s->bev != NULL)
			bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	session_release(s);
	d->active--;
	mta_dest_idle(d);
}

/* The current transaction ends with code/text for every recipient that
   has no answer yet. */
static void txn_abort(struct session *s, int code, const char *status, const char *text)
{
	struct mta_txn *t = s->txn;

	if (t == NULL)
		return;
	s->txn = NULL;
	for (unsigned i = 0; i < t->n; i++)
		mta_rcpt_result(t, i, code, status, text, s->host_name);
	mta_txn_done(t);
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

/* The connection is unusable.  Before any transaction ran on it, the next
   host is tried; after, the session ends (others will be opened). */
static void session_fail(struct session *s, int code, const char *text)
{
	snprintf(s->error, sizeof(s->error), "%s%s%s", s->host_name,
		 s->host_name[0] != '\0' ? ": " : "", text);
	s->error_code = code;
	s->error_status = s->fail_status;
	s->fail_status = NULL;
	if (s->txn != NULL) {
		txn_abort(s, code >= 500 ? code : 451, code >= 500 ? "5.0.0" :
			  s->error_status != NULL ? s->error_status : "4.4.2", s->error);
		session_free(s);
		return;
	}
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	s->addr++;
	session_next_host(s);
}

/* ---- connecting ---- */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void use_bev(struct session *s, struct bufferevent *bev)
{
	struct timeval timeout = { 300, 0 };	/* RFC 5321 §4.5.3.2 */

	s->bev = bev;
	s->bev_generation++;
	bufferevent_setcb(bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(bev, &timeout, &timeout);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ---- MTA-STS (RFC 8461 §4, §5) ---- */

/* ---- TLS-RPT counts (RFC 8460) ---- */

/* The result-type of a certificate that failed verification. */
static const char *cert_result(const char *error)
{
	if (strstr(error, "hostname mismatch") != NULL)
		return "certificate-host-mismatch";
	if (strstr(error, "expired") != NULL)
		return "certificate-expired";
	return "certificate-not-trusted";
}

/* Count this connection under the sts or tlsa policy; result NULL: ok. */
static void count(struct session *s, bool tlsa, const char *result)
{
	const struct dns_host *h = &s->dest->mx.hosts[s->host];
	struct buf strings;

	buf_init(&strings, 0);
	mta_policy_strings(s->dest, (int)s->host, tlsa, &strings);
	tlsrpt_count(s->mta, s->dest->name, tlsa ? "tlsa" : "sts", buf_cstr(&strings), result,
		     h->name, s->addr < h->n_addrs ? &h->addrs[s->addr] : NULL);
	buf_deinit(&strings);
}

/* ---- DANE (RFC 7672) ---- */

/* The DANE state of mail exchanger h of the destination. */
static enum dane_host_state dane_state(struct session *s, unsigned h)
{
	const struct mta_dest *d = s->dest;

	if (d->dane.status != DANE_SECURE || h >= d->mx.n_hosts ||
	    cfg_of(s)->smarthost[0] != '\0')
		return DANE_HOST_NONE;
	return d->dane.hosts[h].state;
}

static bool dane_here(struct session *s)
{
	return dane_state(s, s->host) == DANE_HOST_TLSA;
}

/* TLS is not possible or not valid on a DANE host: give it up. */
static void dane_violation(struct session *s, const char *result, const char *why)
{
	char text[500];

	count(s, true, result);

	snprintf(text, sizeof(text), "DANE: TLSA records published for %s: %s",
		 s->dest->mx.hosts[s->host].name, why);
	log_info("relay: %s: %s", s->host_name, text);
	s->fail_status = "4.7.5";
	session_fail(s, 451, text);
}

/* Under TLS with a DANE host: does the certificate match a TLSA record?
   False when the session was given up. */
static bool dane_check_peer(struct session *s)
{
	const char *error;
	char why[400];

	if (s->peer_checked || !dane_here(s))
		return true;
	s->peer_checked = true;
	if (s->dane_usable == 0) {
		log_info("relay: %s: DANE: no usable TLSA record: encrypted, not authenticated",
			 s->host_name);
		count(s, true, "tlsa-invalid");
		return true;
	}
	if (tls_peer_verified(s->bev, &error) > 0) {
		log_info("relay: %s: DANE: certificate matches the TLSA records", s->host_name);
		count(s, true, NULL);
		return true;
	}
	snprintf(why, sizeof(why), "certificate does not match: %s", error);
	dane_violation(s, "validation-failure", why);
	return false;
}

static struct bufferevent *dane_connect(struct session *s, struct bufferevent *under,
					const char *name)
{
	const struct dane_host *h = &s->dest->dane.hosts[s->host];
	struct tls_tlsa r[DANE_MAX_TLSA];

	for (unsigned i = 0; i < h->n; i++) {
		r[i].usage = h->tlsa[i].usage;
		r[i].selector = h->tlsa[i].selector;
		r[i].mtype = h->tlsa[i].mtype;
		r[i].data = h->tlsa[i].data;
		r[i].len = h->tlsa[i].len;
	}
	return tls_connect_dane(s->mta->srv->tls, s->mta->srv->base, under, name, r, h->n,
				&s->dane_usable);
}

/* The policy that applies to this session's host, or NULL (none, a
   smarthost, or a DANE host: DANE takes precedence, RFC 8461 §2). */
static const struct mta_sts_policy *sts_policy(struct session *s)
{
	if (!s->dest->has_policy || cfg_of(s)->smarthost[0] != '\0' || dane_here(s))
		return NULL;
	return &s->dest->policy;
}

static bool sts_enforced(struct session *s)
{
	const struct mta_sts_policy *p = sts_policy(s);

	return p != NULL && p->mode == MTA_STS_ENFORCE;
}

/* May this mail exchanger be used?  An enforced policy allows only the
   hosts that match its mx patterns. */
static bool sts_host_allowed(struct session *s, const char *name)
{
	if (dane_state(s, s->host) == DANE_HOST_FAILED) {
		snprintf(s->error, sizeof(s->error), "DANE: the TLSA lookup of %s failed", name);
		s->error_status = "4.7.5";
		return false;
	}
	if (dane_state(s, s->host) == DANE_HOST_TLSA || !sts_enforced(s) ||
	    mta_sts_mx_match(&s->dest->policy, name))
		return true;
	snprintf(s->error, sizeof(s->error), "MTA-STS policy of %s (enforce): %s does not "
		 "match its mx patterns", s->dest->name, name);
	s->error_status = "4.7.5";
	return false;
}

/* The policy is not met on this connection (why): with enforce the host
   is given up (returns false), with testing it is only logged. */
static bool sts_violation(struct session *s, const char *result, const char *why)
{
	char text[500];

	count(s, false, result);

	snprintf(text, sizeof(text), "MTA-STS policy of %s (%s): %s", s->dest->name,
		 mta_sts_mode_name(s->dest->policy.mode), why);
	if (!sts_enforced(s)) {
		log_info("relay: %s: %s; delivering anyway (testing)", s->host_name, text);
		return true;
	}
	log_info("relay: %s: %s", s->host_name, text);
	s->fail_status = "4.7.5";
	session_fail(s, 451, text);
	return false;
}

/* Under TLS: is the certificate valid for the host's name?  False when
   the session was given up. */
static bool sts_check_peer(struct session *s)
{
	const char *error;
	char why[400];

	if (s->peer_checked || sts_policy(s) == NULL)
		return true;
	s->peer_checked = true;
	if (tls_peer_verified(s->bev, &error) > 0) {
		count(s, false, NULL);
		return true;
	}
	snprintf(why, sizeof(why), "certificate of %s not valid: %s",
		 s->dest->mx.hosts[s->host].name, error);
	return sts_violation(s, cert_result(error), why);
}

/* Fill sa with the next address to try, or return false at the end. */
static bool next_address(struct session *s, struct sockaddr_storage *sa, socklen_t *len)
{
	const struct dns_mx *mx = &s->dest->mx;
	uint16_t port = (uint16_t)cfg_of(s)->relay_port;
	char text[INET6_ADDRSTRLEN];

	while (s->host < mx->n_hosts && (s->addr >= mx->hosts[s->host].n_addrs ||
					 !sts_host_allowed(s, mx->hosts[s->host].name))) {
		s->host++;
		s->addr = 0;
	}
	if (s->host >= mx->n_hosts)
		return false;
	*sa = mx->hosts[s->host].addrs[s->addr];
	if (s->dest->name[0] != '\0' && cfg_of(s)->smarthost[0] != '\0') {
		const char *colon = strrchr(cfg_of(s)->smarthost, ':');
		port = colon != NULL ? (uint16_t)atoi(colon + 1) : 25;
	}
	if (sa->ss_family == AF_INET6) {
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
		*len = sizeof(struct sockaddr_in6);
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof(text));
	} else {
		((struct sockaddr_in *)sa)->sin_port = htons(port);
		*len = sizeof(struct sockaddr_in);
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, text, sizeof(text));
	}
	snprintf(s->host_name, sizeof(s->host_name), "%s[%s]:%u",
		 mx->hosts[s->host].name, text, port);
	return true;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	session_next_host(arg);
}

static void give_up_destination(struct session *s)
{
	struct mta_dest *d = s->dest;
	char text[700];
	int code = s->error_code != 0 ? s->error_code : 451;

	const char *status = s->error_status != NULL ? s->error_status : "4.4.1";

	snprintf(text, sizeof(text), "%s", s->error[0] != '\0' ? s->error :
		 "no mail exchanger could be reached");
	/* a refusal by every host is still temporary: they may come back */
	session_free(s);
	(void)code;
	while (d->head != NULL) {
		struct mta_txn *t = d->head;
		d->head = t->next;
		if (d->head == NULL)
			d->tail = &d->head;
		for (unsigned i = 0; i < t->n; i++)
			mta_rcpt_result(t, i, 451, status, text, NULL);
		mta_txn_done(t);
	}
}

static void session_next_host(struct session *s)
{
	struct sockaddr_storage sa;
	socklen_t len;
	struct timeval now = { 0, 0 };

	if (s->dest->head == NULL && s->txn == NULL) {
		session_free(s);	/* nothing left to do */
		return;
	}
	if (!next_address(s, &sa, &len)) {
		give_up_destination(s);
		return;
	}
	s->state = S_CONNECTING;
	s->tls = s->esmtp = s->peer_checked = false;
	use_bev(s, bufferevent_socket_new(s->mta->srv->base, -1, BEV_OPT_CLOSE_ON_FREE));
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&sa, (int)len) < 0) {
		bufferevent_free(s->bev);
		s->bev = NULL;
		s->addr++;
		snprintf(s->error, sizeof(s->error), "%s: connect: %s", s->host_name,
			 strerror(errno));
		s->error_status = NULL;
		evtimer_add(s->retry, &now);	/* never recurse from here */
	}
}

/* Resolve the smarthost "host:port" as a one-host MX list. */
static void smarthost_mx(struct session *s);

void mta_session_start(struct mta_dest *d)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct timeval now = { 0, 0 };

	s->dest = d;
	s->mta = d->mta;
	s->fd = -1;
	buf_init(&s->converted, 0);
	buf_init(&s->block, 0);
	s->next = d->mta->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	d->mta->sessions = s;
	smtp_reply_init(&s->reply);
	s->retry = evtimer_new(d->mta->srv->base, on_retry, s);
	if (d->mta->srv->cfg.smarthost[0] != '\0' && d->mx_time == 0) {
		smarthost_mx(s);
		return;
	}
	evtimer_add(s->retry, &now);
}

static void on_smarthost(void *ctx, const struct dns_mx *mx)
{
	struct session *s = ctx;
	struct timeval now = { 0, 0 };

	s->dest->mx = *mx;
	if (mx->status != DNS_OK) {
		snprintf(s->error, sizeof(s->error), "smarthost: %s", mx->error);
		give_up_destination(s);
		return;
	}
	s->dest->mx_time = time(NULL);
	evtimer_add(s->retry, &now);
}

static void smarthost_mx(struct session *s)
{
	char host[300];
	const char *sh = cfg_of(s)->smarthost;
	const char *colon = strrchr(sh, ':');
	size_t n = colon != NULL ? (size_t)(colon - sh) : strlen(sh);

	snprintf(host, sizeof(host), "%.*s", (int)n, sh);
	/* a smarthost has no MX of its own: the lookup falls back to A/AAAA */
	dns_lookup_mx(s->mta->dns, host, on_smarthost, s);
}

/* ---- the dialogue ---- */

static void say_ehlo(struct session *s)
{
	s->state = S_EHLO;
	send_line(s, "EHLO %s", cfg_of(s)->hostname);
}

static void take_capabilities(struct session *s)
{
	const char *param;

	s->esmtp = true;
	s->pipelining = smtp_reply_has_keyword(&s->reply, "PIPELINING", NULL);
	s->eightbit = smtp_reply_has_keyword(&s->reply, "8BITMIME", NULL);
	s->utf8 = smtp_reply_has_keyword(&s->reply, "SMTPUTF8", NULL);
	s->dsn = smtp_reply_has_keyword(&s->reply, "DSN", NULL);
	s->chunking = smtp_reply_has_keyword(&s->reply, "CHUNKING", NULL);
	s->size_limit = 0;
	if (smtp_reply_has_keyword(&s->reply, "SIZE", &param))
		s->size_limit = strtoull(param, NULL, 10);
}

static void start_auth(struct session *s)
{
	struct buf raw, b64;
	const char *user = cfg_of(s)->smarthost_user;

	if (!s->tls) {
		session_fail(s, 451, "smarthost offers no STARTTLS; the password is not sent in the clear");
		return;
	}
	buf_init(&raw, 0);
	buf_init(&b64, 0);
	buf_putc(&raw, '\0');
	buf_puts(&raw, user);
	buf_putc(&raw, '\0');
	buf_puts(&raw, s->mta->smarthost_password);
	base64_encode(raw.data, raw.len, &b64);
	s->state = S_AUTH;
	send_line(s, "AUTH PLAIN %s", buf_cstr(&b64));
	explicit_bzero(raw.data, raw.len);
	explicit_bzero(b64.data, b64.len);
	buf_deinit(&raw);
	buf_deinit(&b64);
}

/* After EHLO/HELO: TLS first if we can, then AUTH for a smarthost. */
static void after_hello(struct session *s)
{
	if (!s->tls && s->esmtp && smtp_reply_has_keyword(&s->reply, "STARTTLS", NULL) &&
	    s->mta->srv->tls != NULL) {
		s->state = S_STARTTLS;
		send_line(s, "STARTTLS");
		return;
	}
	if (!s->tls && dane_here(s)) {
		dane_violation(s, "starttls-not-supported", "the host offers no STARTTLS");
		return;
	}
	if (!s->tls && sts_policy(s) != NULL && !sts_violation(s, "starttls-not-supported",
						      "the host offers no STARTTLS"))
		return;
	if (cfg_of(s)->smarthost[0] != '\0' && cfg_of(s)->smarthost_user[0] != '\0') {
		start_auth(s);
		return;
	}
	s->state = S_READY;
	session_next_txn(s);
}

/* STARTTLS refused: go on in the clear (opportunistic TLS). */
static void tls_refused(struct session *s)
{
	if (dane_here(s)) {
		dane_violation(s, "starttls-not-supported", "the host refused STARTTLS");
		return;
	}
	if (sts_policy(s) != NULL && !sts_violation(s, "starttls-not-supported",
						      "the host refused STARTTLS"))
		return;
	if (cfg_of(s)->smarthost_user[0] != '\0') {
		start_auth(s);	/* refuses to send the password in the clear */
		return;
	}
	s->state = S_READY;
	session_next_txn(s);
}

static void start_tls(struct session *s)
{
	struct bufferevent *under = s->bev;
	const char *name = s->dest->mx.hosts[s->host].name;

	bufferevent_setcb(under, NULL, NULL, NULL, NULL);
	s->bev = NULL;
	use_bev(s, dane_here(s) ? dane_connect(s, under, name) :
		tls_connect(s->mta->srv->tls, s->mta->srv->base, under, name));
	s->tls = true;
	say_ehlo(s);		/* RFC 3207 §4.2: forget what was learnt before */
}

static void on_reply(struct session *s);

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[SESSION_LINE_MAX + 3];
	bool skip = false;
	size_t len;
	unsigned generation = s->bev_generation;

	s->reading = true;
	while (!s->dead && s->bev_generation == generation && s->bev == bev) {
		/* a reply line is at most SESSION_LINE_MAX bytes before its CR LF */
		int ret = line_read(in, line, SESSION_LINE_MAX + 2, &len, &skip);
		if (ret < 0 || (ret == 0 && skip)) {
			session_fail(s, 451, "reply line too long");
			break;
		}
		if (ret == 0)
			break;
		ret = smtp_reply_line(&s->reply, line, len);
		if (ret < 0) {
			session_fail(s, 451, "malformed reply");
			break;
		}
		if (ret > 0) {
			on_reply(s);
			smtp_reply_reset(&s->reply);
		}
	}
	s->reading = false;
	if (s->dead)
		session_free(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;
		/* replies are awaited after each burst: no Nagle delay */
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (s->state == S_CONNECTING)
			s->state = S_BANNER;
		return;
	}
	if (s->state == S_QUIT) {
		session_free(s);
		return;
	}
	session_fail(s, 451, (what & BEV_EVENT_TIMEOUT) ? "timeout" :
		     (what & BEV_EVENT_EOF) ? "connection closed by peer" :
		     tls_last_error(bev));
}

/* ---- transactions ---- */

static void send_rcpt(struct session *s, unsigned i)
{
	const struct envelope *e = s->txn->msg->env;
	const struct envelope_rcpt *r = &e->rcpts[s->txn->rcpt[i]];
	struct buf notify;

	buf_init(&notify, 0);
	if (s->dsn && r->notify != 0) {
		buf_puts(&notify, " NOTIFY=");
		if (r->notify & SMTP_NOTIFY_NEVER)
			buf_puts(&notify, "NEVER,");
		if (r->notify & SMTP_NOTIFY_SUCCESS)
			buf_puts(&notify, "SUCCESS,");
		if (r->notify & SMTP_NOTIFY_FAILURE)
			buf_puts(&notify, "FAILURE,");
		if (r->notify & SMTP_NOTIFY_DELAY)
			buf_puts(&notify, "DELAY,");
		buf_truncate(&notify, notify.len - 1);
	}
	if (s->dsn && r->orcpt != NULL)
		buf_printf(&notify, " ORCPT=%s", r->orcpt);
	send_line(s, "RCPT TO:<%s>%s", r->address, buf_cstr(&notify));
	buf_deinit(&notify);
}

/* The envelope sender of the transaction: for recipients forwarded to
   another domain, the SRS form of the sender (unless it is null, in a
   local domain, or SRS is off), so that the next hop's SPF check sees our
   domain and a bounce comes back to us. */
static const char *txn_sender(struct session *s, char *out, size_t size)
{
	const struct envelope *e = s->txn->msg->env;
	const struct srs *srs = s->mta->srv->srs;
	const char *at = strrchr(e->sender, '@');

	if (!s->txn->forwarded || srs == NULL || at == NULL ||
	    resolve_domain_is_local(cfg_of(s), s->mta->srv->accounts, at + 1) != 0)
		return e->sender;
	if (srs_forward(srs, e->sender, (uint64_t)time(NULL), out, size) <= 0)
		return e->sender;
	log_info("%s: srs: from=<%s> forwarded as <%s>", e->id, e->sender, out);
	return out;
}

static void send_envelope(struct session *s)
{
	const struct envelope *e = s->txn->msg->env;
	char srs_sender[SRS_ADDRESS_MAX];
	struct buf params;

	buf_init(&params, 0);
	if (s->size_limit > 0)
		buf_printf(&params, " SIZE=%llu", (unsigned long long)(e->size - e->header_offset));
	if (e->body == SMTP_BODY_8BITMIME && s->eightbit)
		buf_puts(&params, " BODY=8BITMIME");
	if (e->smtputf8)
		buf_puts(&params, " SMTPUTF8");
	if (s->dsn && e->ret != SMTP_RET_NONE)
		buf_puts(&params, e->ret == SMTP_RET_FULL ? " RET=FULL" : " RET=HDRS");
	if (s->dsn && e->envid != NULL)
		buf_printf(&params, " ENVID=%s", e->envid);
	send_line(s, "MAIL FROM:<%s>%s", txn_sender(s, srs_sender, sizeof(srs_sender)),
		  buf_cstr(&params));
	buf_deinit(&params);
	for (unsigned i = 0; s->pipelining && i < s->txn->n; i++)
		send_rcpt(s, i);
}

/* The peer lacks 8BITMIME: convert 8-bit parts to quoted-printable
   (RFC 6152 §3), or bounce what cannot be converted. */
static bool downgrade(struct session *s)
{
	const struct envelope *e = s->txn->msg->env;
	struct buf raw;
	const char *error = "cannot read the queued message";
	bool converted = false;
	int got;

	buf_init(&raw, 0);
	buf_reset(&s->converted);
	got = queue_text_read(s->mta->srv->queue, e->id, e->header_offset, SIZE_MAX, &raw);
	if (got > 0 &&
	    qp_downgrade(raw.data != NULL ? raw.data : "", raw.len, &s->converted,
			 &converted, &error) > 0) {
		s->use_converted = converted;
		s->converted_pos = 0;
		buf_deinit(&raw);
		return true;
	}
	buf_deinit(&raw);
	txn_abort(s, 554, "5.6.3", got <= 0 ? error :
		  "destination does not support 8BITMIME and the message cannot be converted");
	return false;
}

/* Can the message go to this peer at all?  Returns false after ending
   the transaction with a permanent error. */
static bool txn_possible(struct session *s)
{
	const struct envelope *e = s->txn->msg->env;

	if (s->size_limit > 0 && e->size - e->header_offset > s->size_limit) {
		txn_abort(s, 552, "5.3.4", "message too big for the destination");
		return false;
	}
	if (e->smtputf8 && !s->utf8) {
		txn_abort(s, 553, "5.6.7", "destination does not support SMTPUTF8");
		return false;
	}
	s->use_converted = false;
	if (e->body == SMTP_BODY_8BITMIME && !s->eightbit)
		return downgrade(s);
	return true;
}

static void session_next_txn(struct session *s)
{
	struct mta_dest *d = s->dest;

	while ((s->txn = d->head) != NULL) {
		d->head = s->txn->next;
		if (d->head == NULL)
			d->tail = &d->head;
		if (!txn_possible(s))
			continue;
		s->state = S_ENVELOPE;
		s->txn->peer_dsn = s->dsn;
		s->expected = 1 + s->txn->n;
		s->got = 0;
		s->accepted = 0;
		memset(s->rcpt_ok, 0, sizeof(s->rcpt_ok));
		send_envelope(s);
		return;
	}
	s->state = S_QUIT;
	send_line(s, "QUIT");
}

/* Stream the next block of text; returns true when all is sent. */
static bool send_text_block(struct session *s)
{
	char block[BODY_BLOCK];
	const char *in = block;
	ssize_t n;

	if (s->use_converted) {
		n = (ssize_t)(s->converted.len - s->converted_pos);
		if (n > BODY_BLOCK)
			n = BODY_BLOCK;
		in = s->converted.data + s->converted_pos;
		s->converted_pos += (size_t)n;
	} else {
		n = read(s->fd, block, sizeof(block));
	}
	if (n <= 0)
		return true;
	buf_reset(&s->block);
	if (smtp_data_out_feed(&s->wire, in, (size_t)n, &s->block) < 0)
		abort();	/* the block buffer has no maximum */
	evbuffer_add(bufferevent_get_output(s->bev), s->block.data, s->block.len);
	return false;
}

static void finish_text(struct session *s)
{
	close(s->fd);
	s->fd = -1;
	buf_reset(&s->block);
	if (smtp_data_out_finish(&s->wire, &s->block) < 0)
		abort();
	evbuffer_add(bufferevent_get_output(s->bev), s->block.data, s->block.len);
	s->state = S_BODY_END;
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->state != S_BODY)
		return;
	if (send_text_block(s))
		finish_text(s);
}

/* Bytes of the text on the wire (BDAT's size): counted by the same
   filter that will send it. */
static int wire_size(struct session *s, uint64_t *size_r)
{
	char in[BODY_BLOCK];
	struct smtp_data_out count;
	ssize_t n;

	smtp_data_out_init(&count, false);
	if (s->use_converted) {
		smtp_data_out_feed(&count, s->converted.data, s->converted.len, NULL);
	} else {
		while ((n = read(s->fd, in, sizeof(in))) > 0)
			smtp_data_out_feed(&count, in, (size_t)n, NULL);
		if (n < 0)
			return -1;
	}
	smtp_data_out_finish(&count, NULL);
	*size_r = count.octets;
	return 1;
}

static void start_text(struct session *s)
{
	const struct envelope *e = s->txn->msg->env;
	uint64_t size;

	if (queue_text_open(s->mta->srv->queue, e->id, &s->fd) <= 0 ||
	    lseek(s->fd, (off_t)e->header_offset, SEEK_SET) < 0) {
		txn_abort(s, 451, "4.3.0", "cannot read the queued message");
		send_line(s, "RSET");
		s->state = S_RSET;
		return;
	}
	smtp_data_out_init(&s->wire, !s->chunking);
	if (s->chunking) {
		if (wire_size(s, &size) < 0 ||
		    lseek(s->fd, (off_t)e->header_offset, SEEK_SET) < 0) {
			txn_abort(s, 451, "4.3.0", "cannot read the queued message");
			send_line(s, "RSET");
			s->state = S_RSET;
			return;
		}
		send_line(s, "BDAT %llu LAST", (unsigned long long)size);
	}
	s->state = S_BODY;
	bufferevent_setwatermark(s->bev, EV_WRITE, OUTPUT_LOW, 0);
	if (send_text_block(s))
		finish_text(s);
}

static void summary(struct session *s, char *out, size_t size)
{
	smtp_reply_summary(&s->reply, out, size);
}

/* The envelope is answered: send the text, or give up on it. */
static void envelope_done(struct session *s)
{
	if (s->accepted == 0) {
		mta_txn_done(s->txn);
		s->txn = NULL;
		send_line(s, "RSET");
		s->state = S_RSET;
		return;
	}
	if (s->chunking) {
		start_text(s);
		return;
	}
	send_line(s, "DATA");
	s->state = S_DATA;	/* data_reply sees the 354 */
}

/* One reply of the envelope: MAIL's, then each RCPT's. */
static void envelope_reply(struct session *s)
{
	struct mta_txn *t = s->txn;
	int code = s->reply.code;
	char text[600];

	summary(s, text, sizeof(text));
	if (s->got == 0) {
		s->mail_ok = code < 300;
		if (!s->mail_ok) {
			for (unsigned i = 0; i < t->n; i++)
				mta_rcpt_result(t, i, code, s->reply.enhanced, text, s->host_name);
			if (!s->pipelining)
				s->expected = 1;
		} else if (!s->pipelining) {
			send_rcpt(s, 0);
		}
	} else {
		unsigned i = s->got - 1;
		if (s->mail_ok && code < 300) {
			s->rcpt_ok[i] = true;
			s->accepted++;
		} else if (s->mail_ok) {
			mta_rcpt_result(t, i, code, s->reply.enhanced, text, s->host_name);
		}
		if (!s->pipelining && s->mail_ok && i + 1 < t->n)
			send_rcpt(s, i + 1);
	}
	if (++s->got >= s->expected)
		envelope_done(s);
}

static void data_reply(struct session *s)
{
	char text[600];

	if (s->state == S_DATA && s->reply.code == 354) {
		start_text(s);
		return;
	}
	summary(s, text, sizeof(text));
	for (unsigned i = 0; i < s->txn->n; i++)
		if (s->rcpt_ok[i])
			mta_rcpt_result(s->txn, i, s->reply.code, s->reply.enhanced, text,
					s->host_name);
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	mta_txn_done(s->txn);
	s->txn = NULL;
	if (s->reply.code == 354) {
		session_fail(s, 451, "unexpected 354");
		return;
	}
	s->state = S_READY;
	session_next_txn(s);
}

static void hello_reply(struct session *s)
{
	char text[600];

	summary(s, text, sizeof(text));
	if (s->reply.code >= 400 && s->state == S_EHLO) {
		s->state = S_HELO;
		send_line(s, "HELO %s", cfg_of(s)->hostname);
		return;
	}
	if (s->reply.code >= 400) {
		session_fail(s, s->reply.code, text);
		return;
	}
	if (s->tls && (!dane_check_peer(s) || !sts_check_peer(s)))
		return;
	if (s->state == S_EHLO)
		take_capabilities(s);
	after_hello(s);
}

static void on_reply(struct session *s)
{
	char text[600];

	summary(s, text, sizeof(text));
	switch (s->state) {
	case S_BANNER:
		if (s->reply.code != 220) {
			session_fail(s, s->reply.code, text);
			return;
		}
		s->greeted = true;
		say_ehlo(s);
		return;
	case S_EHLO:
	case S_HELO:
		hello_reply(s);
		return;
	case S_STARTTLS:
		if (s->reply.code != 220) {
			tls_refused(s);
			return;
		}
		start_tls(s);
		return;
	case S_AUTH:
		if (s->reply.code != 235) {
			session_fail(s, s->reply.code >= 500 ? 451 : s->reply.code, text);
			return;
		}
		s->state = S_READY;
		session_next_txn(s);
		return;
	case S_ENVELOPE:
		envelope_reply(s);
		return;
	case S_DATA:
	case S_BODY:
	case S_BODY_END:
		data_reply(s);
		return;
	case S_RSET:
		s->state = S_READY;
		session_next_txn(s);
		return;
	case S_QUIT:
		session_free(s);
		return;
	default:
		session_fail(s, 451, "unexpected reply");
	}
}
