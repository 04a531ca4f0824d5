/*
 * jmap_http.c - the HTTP(S) listeners ([listen] http, https) on libevent's
 * evhttp, connection accounting, HTTP Basic logins and the routes:
 *   GET  /.well-known/jmap                          the Session (RFC 8620 §2)
 *   POST /jmap/api                                  method calls (§3)
 *   POST /jmap/upload/{accountId}/                  blob upload (§6.1)
 *   GET  /jmap/download/{accountId}/{blobId}/{name} blob download (§6.2)
 *   GET  /jmap/eventsource                          push (§7.3)
 *   POST /login, GET /login, POST /logout           the webmail's sign-in
 *   GET  / and /{file}                              the webmail's files
 * Logins: HTTP Basic on every request, or the session cookie that
 * POST /login sets after checking the password the same way (auth pool,
 * throttling, plaintext only where conn_plaintext_ok allows).  A request
 * with the cookie must come from this server's own pages (Origin,
 * Sec-Fetch-Site) and, when it is a POST, carry the session's CSRF token
 * in X-Correio-CSRF; the cookie itself is SameSite=Strict and HttpOnly.
 * Limits: header block 64 KiB, body the larger of maxSizeRequest and
 * maxSizeUpload (evhttp answers 413 past it), [limits] idle_timeout for
 * reading a request and writing a reply.
 *
 * evhttp accepts connections itself and says nothing of them before
 * their first request, so a connection is counted (and refused, 503, when
 * over [limits] connections or connections_per_client) at its first
 * request.  XXX: a client that connects and never completes a request is
 * bounded only by the timeout, not by the counts.
 */
#include "jmap.h"
#include "jmap_private.h"
#include "jmap_parse.h"
#include "jmap_websession.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "auth/accounts.h"
#include "auth/auth.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "mime/mime.h"
#include "conn/conn.h"
#include "tls/tls.h"

#define MAX_HEADERS_SIZE (64 * 1024)
#define MAX_AUTH_HEADER 1024
#define MAX_LISTEN 8
#define MAX_LOGIN_BODY 4096
#define COOKIE "correio_session"
/* over https: a name that a browser takes only from a secure page of this
   very host with Path=/ and no Domain (RFC 6265bis §4.1.3.2), so that
   plain http or a sibling domain cannot plant a session of its own */
#define COOKIE_TLS "__Host-correio_session"
#define COOKIES_TRIED 8		/* values of the session cookie looked up */
#define CSRF_HEADER "X-Correio-CSRF"
/* the webmail's sessions: idle and absolute lifetimes, bounds */
#define SESSION_IDLE (60 * 60)
#define SESSION_ABSOLUTE (24 * 60 * 60)
#define MAX_SESSIONS 4096
#define SESSIONS_PER_USER 16

struct jmap_conn;

/* A request waiting for its password check. */
struct jmap_req {
	struct jmap_conn *jc;
	struct evhttp_request *req;
	struct auth_request *ar;
	char header[MAX_AUTH_HEADER];
	bool login;			/* POST /login: a session, not a route */
	struct jmap_req *next;
};

struct jmap_conn {
	struct conn conn;		/* first: the connection layer's view */
	struct jmap *j;
	struct evhttp_connection *evcon;
	char auth_header[MAX_AUTH_HEADER];	/* last Authorization that passed */
	char user[320];
	struct jmap_req *pending;
	struct jmap_push *push;		/* an EventSource stream on it */
	char session[JMAP_WEB_ID_LEN + 1];	/* the webmail session of its last request */
	struct jmap_account acct;	/* jc->user's, kept between requests */
	struct jmap_run *run;		/* an API request whose method waits */
	struct evhttp_request *run_req;	/* ... and its HTTP request */
	bool acct_open;
	struct jmap_conn *next;
	bool gone;
};

struct jmap {
	struct services *srv;
	struct evhttp *http[2];		/* [0] plain http, [1] https */
	struct jmap_conn *conns;
	struct jmap_limits limits;
	struct jmap_snapshot_list *snapshots;
	struct evhttp_bound_socket *bound[MAX_LISTEN];
	int which[MAX_LISTEN];
	int n_bound;
	struct jmap_websessions *sessions;
	char web_root[1024];
};

/* the snapshot list lives in jmap_session.c */
struct jmap_snapshot_list **jmap_snapshot_list_of(struct jmap *j);
struct jmap_snapshot_list **jmap_snapshot_list_of(struct jmap *j)
{
	return &j->snapshots;
}

const char *jmap_data_dir(struct jmap *j)
{
	return j->srv->cfg.data_dir;
}

const struct jmap_limits *jmap_limits_of(struct jmap *j)
{
	return &j->limits;
}

/* ---- replies ---- */

void jmap_send_json(struct evhttp_request *req, int status, json_t *v, const char *type)
{
	struct evbuffer *out = evbuffer_new();
	char *text = json_dumps(v, JSON_COMPACT);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evbuffer_add(out, text, strlen(text));
	free(text);
	evhttp_add_header(h, "Content-Type", type != NULL ? type : "application/json");
	evhttp_add_header(h, "Cache-Control", "no-cache, no-store, must-revalidate");
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
	evbuffer_free(out);
}

static void send_text(struct evhttp_request *req, int status, const char *reason,
		      const char *text)
{
	struct evbuffer *out = evbuffer_new();

	evbuffer_add(out, text, strlen(text));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	evhttp_send_reply(req, status, reason, out);
	evbuffer_free(out);
}

/* ---- connections ---- */

/* A request whose client left: run it to its end, answer nobody. */
static void run_orphan_wake(void *ctx, struct jmap_run *run)
{
	json_t *resp;

	(void)ctx;
	if (jmap_run_step(run, &resp) == 0)
		return;
	json_decref(resp);
	jmap_run_free(&run);
}

/* Forget jc.  detached: evhttp let go of the pending requests (the client
   went away) and they are ours to free; else evhttp frees them with the
   connection. */
static void conn_free(struct jmap_conn *jc, bool detached)
{
	struct jmap_conn **p;

	for (p = &jc->j->conns; *p != NULL; p = &(*p)->next)
		if (*p == jc) {
			*p = jc->next;
			break;
		}
	while (jc->pending != NULL) {
		struct jmap_req *r = jc->pending;
		jc->pending = r->next;
		auth_cancel(r->ar);
		if (detached && evhttp_request_get_connection(r->req) == NULL)
			evhttp_request_free(r->req);
		explicit_bzero(r->header, sizeof(r->header));
		free(r);
	}
	jmap_push_free(&jc->push, detached);
	if (jc->run != NULL) {
		/* its method finishes without us (the mail is queued all
		   the same); evhttp frees the HTTP request */
		log_info("jmap: %s: client gone while its request waited", jc->user);
		jmap_run_abandon(jc->run, run_orphan_wake);
		jc->run = NULL;
		if (detached && evhttp_request_get_connection(jc->run_req) == NULL)
			evhttp_request_free(jc->run_req);
		jc->run_req = NULL;
	}
	if (jc->acct_open)
		jmap_account_close(&jc->acct);
	explicit_bzero(jc->auth_header, sizeof(jc->auth_header));
	conn_unregister(&jc->conn);
	free(jc);
}

static void on_evcon_close(struct evhttp_connection *evcon, void *arg)
{
	struct jmap_conn *jc = arg;

	if (jc->gone)
		return;
	jc->gone = true;
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	conn_free(jc, true);
}

/* Server stop or grace over: close it now (the close callback frees). */
static void op_close_now(struct conn *c)
{
	struct jmap_conn *jc = (struct jmap_conn *)c;
	struct evhttp_connection *evcon = jc->evcon;

	jc->gone = true;
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	while (jc->pending != NULL) {
		struct jmap_req *r = jc->pending;
		jc->pending = r->next;
		auth_cancel(r->ar);
		explicit_bzero(r->header, sizeof(r->header));
		free(r);
	}
	jmap_push_free(&jc->push, false);
	evhttp_connection_free(evcon);
	conn_free(jc, false);
}

static const struct conn_ops jmap_conn_ops = {
	.shutdown = op_close_now,
	.close_now = op_close_now,
};

static bool addr_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(a);
	}
	return false;
}

/* The connection of req, registered with the server at its first request;
   NULL when the limits refuse it. */
static struct jmap_conn *conn_of(struct jmap *j, struct evhttp_request *req, bool tls)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct jmap_conn *jc;
	char addr[INET6_ADDRSTRLEN];
	uint16_t port = 0;
	evutil_socket_t fd;

	for (jc = j->conns; jc != NULL; jc = jc->next)
		if (jc->evcon == evcon)
			return jc;
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	memset(&ss, 0, sizeof(ss));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return NULL;
	str_copy(addr, "unknown", sizeof(addr));
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		if (strncmp(addr, "::ffff:", 7) == 0)
			memmove(addr, addr + 7, strlen(addr + 7) + 1);
	}
	if (!conn_admit(j->srv, tls ? CONFIG_LISTEN_HTTPS : CONFIG_LISTEN_HTTP, addr, port))
		return NULL;
	/* replies go out in several writes (headers, body, event chunks):
	   Nagle's algorithm would hold them for the client's delayed ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	jc = xcalloc(1, sizeof(*jc));
	jc->j = j;
	jc->evcon = evcon;
	str_copy(jc->conn.addr, addr, sizeof(jc->conn.addr));
	jc->conn.port = port;
	jc->conn.loopback = addr_loopback(&ss);
	jc->conn.tls = tls;
	jc->conn.listener = tls ? CONFIG_LISTEN_HTTPS : CONFIG_LISTEN_HTTP;
	jc->conn.ops = &jmap_conn_ops;
	conn_register(j->srv, &jc->conn);
	jc->next = j->conns;
	j->conns = jc;
	evhttp_connection_set_closecb(evcon, on_evcon_close, jc);
	log_info("jmap: connect from [%s]:%u to %s", addr, port, tls ? "https" : "http");
	return jc;
}

/* ---- routes ---- */

/* A method of jc's request waited and can go on. */
static void run_wake(void *ctx, struct jmap_run *run)
{
	struct jmap_conn *jc = ctx;
	json_t *resp;

	if (jmap_run_step(run, &resp) == 0)
		return;
	jmap_threads_flush(&jc->acct);
	jmap_send_json(jc->run_req, 200, resp, NULL);
	json_decref(resp);
	jmap_run_free(&jc->run);
	jc->run_req = NULL;
}

static void route_api(struct jmap_conn *jc, struct evhttp_request *req)
{
	struct jmap_account *a = &jc->acct;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = (const char *)evbuffer_pullup(in, -1);
	const char *type = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Content-Type");
	struct jmap_run *run;
	json_t *resp, *prob;
	char state[24];

	/* RFC 8620 §3.1: application/json only.  This also keeps other web
	   sites out: a form cannot send it, and a script of another origin
	   must ask first (CORS), so a browser that remembers the Basic login
	   does not run their method calls. */
	if (type == NULL || strncasecmp(type, "application/json", 16) != 0 ||
	    (type[16] != '\0' && type[16] != ';' && type[16] != ' ')) {
		prob = json_pack("{s:s,s:i,s:s}", "type", "urn:ietf:params:jmap:error:notJSON",
				 "status", 400, "detail", "the body must be application/json");
		jmap_send_json(req, 400, prob, "application/problem+json");
		json_decref(prob);
		return;
	}
	jmap_account_state(a, state);
	if (jmap_run_new(body != NULL ? body : "", len, &a->j->limits, jmap_methods, a,
			 state, &run, &prob) < 0) {
		jmap_send_json(req, 400, prob, "application/problem+json");
		json_decref(prob);
		return;
	}
	if (jmap_run_step(run, &resp) == 0) {
		/* a submission waits for the queue: evhttp reads no next
		   request on this connection before we answer this one */
		jc->run = run;
		jc->run_req = req;
		jmap_run_set_wake(run, run_wake, jc);
		return;
	}
	jmap_threads_flush(a);
	jmap_send_json(req, 200, resp, NULL);
	json_decref(resp);
	jmap_run_free(&run);
}

/* "https://host" from the Host header, for the Session's URLs. */
static void base_url(struct evhttp_request *req, bool tls, char *out, size_t size)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");

	if (host == NULL || host[0] == '\0' || strlen(host) > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789.-:[]") != strlen(host))
		host = "localhost";
	snprintf(out, size, "%s://%s", tls ? "https" : "http", host);
}

static bool method_is(struct evhttp_request *req, enum evhttp_cmd_type t)
{
	if (evhttp_request_get_command(req) == t)
		return true;
	send_text(req, 405, "Method Not Allowed", "method not allowed\n");
	return false;
}

/* The authenticated request: find its route. */
static void dispatch(struct jmap_conn *jc, struct evhttp_request *req)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct jmap_account *a = &jc->acct;
	char base[300];

	if (path == NULL)
		path = "/";
	if (strcmp(path, "/jmap/eventsource") == 0 || strcmp(path, "/jmap/eventsource/") == 0) {
		/* evhttp reads no next request while a stream is open: one
		   stream per connection at most */
		if (method_is(req, EVHTTP_REQ_GET) &&
		    jmap_push_start(jc->j, jc->j->srv, jc->user, req, &jc->push) == NULL)
			send_text(req, 400, "Bad Request", "bad query, or no mail store\n");
		return;
	}
	/* the account and its folder handles stay open on the connection, so
	   a request only syncs them (a password change does not matter: the
	   Authorization header was checked for this request) */
	if (jc->acct_open && strcmp(jc->acct.user, jc->user) != 0) {
		jmap_account_close(&jc->acct);
		jc->acct_open = false;
	}
	if (!jc->acct_open) {
		if (jmap_account_open(jc->j, jc->j->srv, jc->user, a) < 0) {
			send_text(req, 503, "Service Unavailable", "mail store unavailable\n");
			return;
		}
		jc->acct_open = true;
	} else {
		jmap_account_refresh(a);
	}
	if (strcmp(path, "/.well-known/jmap") == 0 || strcmp(path, "/jmap/session") == 0) {
		if (method_is(req, EVHTTP_REQ_GET)) {
			json_t *s;
			base_url(req, jc->conn.tls, base, sizeof(base));
			s = jmap_session_object(a, base);
			jmap_send_json(req, 200, s, NULL);
			json_decref(s);
		}
	} else if (strcmp(path, "/jmap/api") == 0 || strcmp(path, "/jmap/api/") == 0) {
		if (method_is(req, EVHTTP_REQ_POST))
			route_api(jc, req);
	} else if (strncmp(path, "/jmap/upload/", 13) == 0) {
		if (method_is(req, EVHTTP_REQ_POST))
			jmap_blob_upload(a, req, path + 13);
	} else if (strncmp(path, "/jmap/download/", 15) == 0) {
		if (method_is(req, EVHTTP_REQ_GET))
			jmap_blob_download(a, req, path + 15);
	} else {
		send_text(req, 404, "Not Found", "not found\n");
	}
}

/* ---- logins ---- */

static void send_unauthorized(struct evhttp_request *req, const char *text)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
			  "Basic realm=\"correio\", charset=\"UTF-8\"");
	send_text(req, 401, "Unauthorized", text);
}

/* ---- the webmail's sessions ---- */

static void set_cookie(struct evhttp_request *req, bool tls, const char *value, bool clear)
{
	char c[200];

	snprintf(c, sizeof(c), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
		 tls ? COOKIE_TLS : COOKIE, value, tls ? "; Secure" : "",
		 clear ? "; Max-Age=0" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
}

static void send_session(struct evhttp_request *req, const char *user, const char *csrf)
{
	json_t *v = json_pack("{s:s,s:s}", "username", user, "csrf", csrf);

	jmap_send_json(req, 200, v, NULL);
	json_decref(v);
}

/* A session ended: close the event streams opened under it (on other
   connections than the one asking; a stream's connection reads nothing
   more, so it cannot be this one). */
static void close_session_streams(struct jmap *j, const char *id)
{
	bool again = true;

	while (again) {
		again = false;
		for (struct jmap_conn *c = j->conns; c != NULL; c = c->next)
			if (c->push != NULL && !c->gone && jmap_token_equal(c->session, id)) {
				op_close_now(&c->conn);	/* frees c: the list again */
				again = true;
				break;
			}
	}
}

/* The session named by req's cookie: 1 with its user and token, else 0.
   Each value of the cookie is tried (another site of this host may have
   set one with a longer path, sent first).  A session of an account
   deleted since ends here. */
static int session_of(struct jmap *j, struct evhttp_request *req, bool tls,
		      const char **user_r, const char **csrf_r, char id[JMAP_WEB_ID_LEN + 2])
{
	const char *cookie = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	struct account acct;
	bool found = false;

	for (unsigned i = 0; cookie != NULL && !found && i < COOKIES_TRIED; i++) {
		int ret = jmap_cookie_nth(cookie, tls ? COOKIE_TLS : COOKIE, i, id,
					  JMAP_WEB_ID_LEN + 2);
		if (ret == 0)
			break;
		found = ret > 0 &&
			jmap_websessions_find(j->sessions, id, time(NULL), user_r, csrf_r) > 0;
	}
	if (!found)
		return 0;
	if (accounts_user_get(j->srv->accounts, *user_r, &acct) == 0) {
		log_info("jmap: %s: account gone, its webmail session ends", *user_r);
		jmap_websessions_remove(j->sessions, id);
		close_session_streams(j, id);
		return 0;
	}
	return 1;
}

/* A state-changing request under a session: its CSRF token. */
static bool csrf_ok(struct evhttp_request *req, const char *csrf)
{
	const char *token = evhttp_find_header(evhttp_request_get_input_headers(req),
					       CSRF_HEADER);

	return token != NULL && jmap_token_equal(csrf, token);
}

static void login_done(struct jmap_conn *jc, struct evhttp_request *req, const char *user)
{
	char id[JMAP_WEB_ID_LEN + 1], csrf[JMAP_WEB_ID_LEN + 1];

	if (jmap_websessions_create(jc->j->sessions, user, time(NULL), id, csrf) < 0) {
		send_text(req, 503, "Service Unavailable", "no session could be made\n");
		return;
	}
	log_info("jmap: %s: signed in to the webmail from [%s]", user, jc->conn.addr);
	set_cookie(req, jc->conn.tls, id, false);
	send_session(req, user, csrf);
	explicit_bzero(id, sizeof(id));
	explicit_bzero(csrf, sizeof(csrf));
}

static void on_auth(void *ctx, enum auth_result result, const char *user)
{
	struct jmap_req *r = ctx, **p;
	struct jmap_conn *jc = r->jc;

	for (p = &jc->pending; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	metrics_login(jc->conn.listener, result == AUTH_OK);
	switch (result) {
	case AUTH_OK:
		if (r->login) {
			login_done(jc, r->req, user);
			break;
		}
		if (strcmp(jc->user, user) != 0)
			log_info("jmap: %s: logged in from [%s]", user, jc->conn.addr);
		str_copy(jc->auth_header, r->header, sizeof(jc->auth_header));
		jc->session[0] = '\0';
		str_copy(jc->user, user, sizeof(jc->user));
		dispatch(jc, r->req);
		break;
	case AUTH_FAILED:
		if (r->login)
			send_text(r->req, 401, "Unauthorized", "wrong address or password\n");
		else
			send_unauthorized(r->req, "authentication failed\n");
		break;
	case AUTH_THROTTLED:
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "60");
		send_text(r->req, 429, "Too Many Requests",
			  "too many failed attempts, try again later\n");
		break;
	default:
		send_text(r->req, 503, "Service Unavailable",
			  "temporary authentication failure\n");
		break;
	}
	explicit_bzero(r->header, sizeof(r->header));
	free(r);
}

static bool header_matches(const char *cached, const char *header)
{
	size_t n = strlen(header);

	return cached[0] != '\0' && strlen(cached) == n && CRYPTO_memcmp(cached, header, n) == 0;
}

/* Check user and pass on the auth pool; r's callback answers req. */
static void verify(struct jmap_conn *jc, struct evhttp_request *req, const char *header,
		   bool login, const char *user, const char *pass)
{
	struct jmap_req *r = xcalloc(1, sizeof(*r));

	r->jc = jc;
	r->req = req;
	r->login = login;
	str_copy(r->header, header, sizeof(r->header));
	r->next = jc->pending;
	jc->pending = r;
	r->ar = auth_verify(jc->j->srv->auth, jc->conn.addr, user, pass, on_auth, r);
}

/* POST /login {"username", "password"}: a session cookie and the CSRF
   token; GET /login: the session's user and token, or 401. */
static void web_login(struct jmap_conn *jc, struct evhttp_request *req)
{
	const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *type = evhttp_find_header(in, "Content-Type");
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	const char *user, *csrf, *pass;
	char id[JMAP_WEB_ID_LEN + 2];
	char text[MAX_LOGIN_BODY + 1];
	json_t *v;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		if (session_of(jc->j, req, jc->conn.tls, &user, &csrf, id) > 0 && conn_plaintext_ok(&jc->conn))
			send_session(req, user, csrf);
		else
			send_text(req, 401, "Unauthorized", "not signed in\n");
		return;
	}
	if (!method_is(req, EVHTTP_REQ_POST))
		return;
	/* JSON only: a form of another site cannot send it, and another
	   origin's script must ask first (CORS), which it is not granted */
	if (!jmap_web_same_origin(req, jc->conn.tls)) {
		send_text(req, 403, "Forbidden", "cross-origin sign-in refused\n");
		return;
	}
	if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
		send_text(req, 415, "Unsupported Media Type", "the body must be application/json\n");
		return;
	}
	if (!conn_plaintext_ok(&jc->conn)) {
		send_text(req, 403, "Forbidden", "passwords only over https\n");
		return;
	}
	if (len > MAX_LOGIN_BODY) {
		send_text(req, 413, "Payload Too Large", "sign-in request too large\n");
		return;
	}
	evbuffer_copyout(body, text, len);
	text[len] = '\0';
	evbuffer_drain(body, len);
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	explicit_bzero(text, sizeof(text));
	if (v == NULL || json_unpack(v, "{s:s,s:s}", "username", &user, "password", &pass) < 0 ||
	    user[0] == '\0' || strlen(user) >= 320 || strlen(pass) >= 1024) {
		if (v != NULL) {
			const char *p = NULL;
			if (json_unpack(v, "{s:s}", "password", &p) == 0)
				explicit_bzero((char *)p, strlen(p));
			json_decref(v);
		}
		send_text(req, 400, "Bad Request", "username and password expected\n");
		return;
	}
	verify(jc, req, "", true, user, pass);
	explicit_bzero((char *)pass, strlen(pass));
	json_decref(v);
}

/* POST /logout: forget the session, clear the cookie. */
static void web_logout(struct jmap_conn *jc, struct evhttp_request *req)
{
	const char *user, *csrf;
	char id[JMAP_WEB_ID_LEN + 2];

	if (!method_is(req, EVHTTP_REQ_POST))
		return;
	if (session_of(jc->j, req, jc->conn.tls, &user, &csrf, id) > 0) {
		if (!jmap_web_same_origin(req, jc->conn.tls) || !csrf_ok(req, csrf)) {
			send_text(req, 403, "Forbidden", "missing or wrong CSRF token\n");
			return;
		}
		log_info("jmap: %s: signed out of the webmail", user);
		jmap_websessions_remove(jc->j->sessions, id);
		close_session_streams(jc->j, id);
	}
	set_cookie(req, jc->conn.tls, "", true);
	send_text(req, 200, "OK", "signed out\n");
}

/* A request with a session cookie and no Authorization. */
static void cookie_request(struct jmap_conn *jc, struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *user, *csrf;
	char id[JMAP_WEB_ID_LEN + 2];

	if (!conn_plaintext_ok(&jc->conn)) {
		send_text(req, 403, "Forbidden", "sessions only over https\n");
		return;
	}
	if (session_of(jc->j, req, jc->conn.tls, &user, &csrf, id) <= 0) {
		/* no WWW-Authenticate: the browser would ask for a password
		   itself instead of the page */
		send_text(req, 401, "Unauthorized", "session expired, sign in again\n");
		return;
	}
	if (!jmap_web_same_origin(req, jc->conn.tls)) {
		send_text(req, 403, "Forbidden", "cross-origin request refused\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD && !csrf_ok(req, csrf)) {
		send_text(req, 403, "Forbidden", "missing or wrong CSRF token\n");
		return;
	}
	explicit_bzero(jc->auth_header, sizeof(jc->auth_header));
	str_copy(jc->user, user, sizeof(jc->user));
	str_copy(jc->session, id, sizeof(jc->session));
	dispatch(jc, req);
}

static void authenticate(struct jmap_conn *jc, struct evhttp_request *req)
{
	const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *h = evhttp_find_header(in, "Authorization");
	const char *pass;
	struct buf cred;
	char id[JMAP_WEB_ID_LEN + 2];

	if (h == NULL) {
		const char *cookie = evhttp_find_header(in, "Cookie");
		if (cookie != NULL && (jmap_cookie_value(cookie, COOKIE, id, sizeof(id)) != 0 ||
				       jmap_cookie_value(cookie, COOKIE_TLS, id, sizeof(id)) != 0))
			cookie_request(jc, req);	/* the other name: 401 there */
		else if (evhttp_find_header(in, CSRF_HEADER) != NULL)
			send_text(req, 401, "Unauthorized", "not signed in\n");
		else
			send_unauthorized(req, "authentication required\n");
		return;
	}
	/* a browser sends a Basic login it remembers with another site's
	   form too (text/plain needs no preflight): refused like a cookie */
	if (!jmap_web_same_origin(req, jc->conn.tls)) {
		send_text(req, 403, "Forbidden", "cross-origin request refused\n");
		return;
	}
	if (!conn_plaintext_ok(&jc->conn)) {
		send_text(req, 403, "Forbidden", "passwords only over https\n");
		return;
	}
	if (header_matches(jc->auth_header, h)) {
		dispatch(jc, req);
		return;
	}
	buf_init(&cred, MAX_AUTH_HEADER);
	if (strlen(h) >= MAX_AUTH_HEADER || jmap_parse_basic(h, &cred, &pass) < 0) {
		buf_deinit(&cred);
		send_unauthorized(req, "malformed Authorization\n");
		return;
	}
	verify(jc, req, h, false, cred.data, pass);
	explicit_bzero(cred.data, cred.cap);
	buf_deinit(&cred);
}

static void on_request(struct evhttp_request *req, void *arg, bool tls)
{
	struct jmap *j = arg;
	struct jmap_conn *jc;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	jmap_web_headers(req);
	if ((jc = conn_of(j, req, tls)) == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		send_text(req, 503, "Service Unavailable", "too many connections\n");
		return;
	}
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (strcmp(path, "/login") == 0)
		web_login(jc, req);
	else if (strcmp(path, "/logout") == 0)
		web_logout(jc, req);
	else if (jmap_web_is_static(path))
		jmap_web_static(j->web_root, req, path);
	else
		authenticate(jc, req);
}

static void on_request_plain(struct evhttp_request *req, void *arg)
{
	on_request(req, arg, false);
}

static void on_request_tls(struct evhttp_request *req, void *arg)
{
	on_request(req, arg, true);
}

/* https: each connection gets a TLS bufferevent; evhttp sets its fd. */
static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	struct jmap *j = arg;

	return tls_accept(j->srv->tls, base, -1);
}

/* ---- listeners ---- */

static int bind_list(struct jmap *j, int which, const char *list, const char **error_r)
{
	char copy[512], *save = NULL, host[300];

	str_copy(copy, list, sizeof(copy));
	for (char *t = strtok_r(copy, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save)) {
		const char *colon = strrchr(t, ':');
		size_t hlen = (size_t)(colon - t);
		uint64_t port;

		if (colon == NULL || hlen >= sizeof(host) || parse_uint(colon + 1, &port) < 0 ||
		    port > 65535) {
			*error_r = "bad [listen] http/https address";
			return -1;
		}
		memcpy(host, t, hlen);
		host[hlen] = '\0';
		if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
			memmove(host, host + 1, hlen - 2);
			host[hlen - 2] = '\0';
		}
		if (j->n_bound >= MAX_LISTEN ||
		    (j->bound[j->n_bound] = evhttp_bind_socket_with_handle(j->http[which],
				host[0] == '*' ? "::" : host, (uint16_t)port)) == NULL) {
			log_err("%s: cannot listen on %s: %m", which ? "https" : "http", t);
			*error_r = "cannot bind the http(s) listener";
			return -1;
		}
		j->which[j->n_bound++] = which;
		log_info("%s: listening on %s", which ? "https" : "http", t);
	}
	return 1;
}

static struct evhttp *http_new(struct jmap *j, bool tls)
{
	const struct config *cfg = &j->srv->cfg;
	struct evhttp *h = evhttp_new(j->srv->base);
	size_t body = j->limits.max_size_request > j->limits.max_size_upload ?
		j->limits.max_size_request : j->limits.max_size_upload;

	evhttp_set_max_headers_size(h, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(h, (ev_ssize_t)body);
	evhttp_set_timeout(h, (int)cfg->idle_timeout);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(h, "application/octet-stream");
	evhttp_set_gencb(h, tls ? on_request_tls : on_request_plain, j);
	if (tls)
		evhttp_set_bevcb(h, tls_bevcb, j);
	return h;
}

int jmap_bind(struct services *srv, struct jmap **r, const char **error_r)
{
	struct jmap *j = xcalloc(1, sizeof(*j));
	const struct config *cfg = &srv->cfg;

	j->srv = srv;
	j->limits = (struct jmap_limits){
		.max_size_request = 10u * 1024 * 1024,
		.max_calls = 16,
		.max_objects_get = 500,
		.max_objects_set = 500,
		.max_size_upload = cfg->message_size,
		.max_concurrent_requests = 4,
		.max_concurrent_upload = 4,
	};
	if (j->limits.max_size_request > cfg->message_size + 65536)
		j->limits.max_size_request = cfg->message_size + 65536;
	j->sessions = jmap_websessions_new(MAX_SESSIONS, SESSIONS_PER_USER, SESSION_IDLE,
					   SESSION_ABSOLUTE);
	jmap_web_root_resolve(cfg->jmap_web_root, j->web_root, sizeof(j->web_root));
	*r = j;
	for (int i = 0; i < 2; i++) {
		const char *list = cfg->listen[i ? CONFIG_LISTEN_HTTPS : CONFIG_LISTEN_HTTP];
		if (list[0] == '\0')
			continue;
		j->http[i] = http_new(j, i == 1);
		if (bind_list(j, i, list, error_r) < 0)
			return -1;
	}
	if (j->n_bound > 0)
		log_info("jmap: webmail files from %s", j->web_root);
	return 1;
}

void jmap_unbind(struct jmap *j)
{
	for (int i = 0; j != NULL && i < j->n_bound; i++)
		evhttp_del_accept_socket(j->http[j->which[i]], j->bound[i]);
	if (j != NULL)
		j->n_bound = 0;
}

void jmap_free(struct jmap **jp)
{
	struct jmap *j = *jp;

	if (j == NULL)
		return;
	for (int i = 0; i < 2; i++)
		if (j->http[i] != NULL)
			evhttp_free(j->http[i]);
	jmap_snapshots_save(j, j->srv->cfg.data_dir);
	jmap_snapshots_free(j);
	jmap_websessions_free(&j->sessions);
	free(j);
	*jp = NULL;
}
