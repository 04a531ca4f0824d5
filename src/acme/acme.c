/*
 * acme.c - the ACME thread: when a certificate is due, one issuance of
 * RFC 8555 section 7 from directory to download, then the loop reloads.
 *
 *   directory -> newNonce -> newAccount (jwk, contact mailto:) -> kid
 *   newOrder {identifiers} -> authorizations -> for each pending one:
 *     publish the key authorization (HTTP-01 table / TLS-ALPN-01 cert),
 *     POST {} to the challenge, poll the authorization
 *   poll the order until ready -> finalize {csr} with a new key
 *   poll the order until valid -> POST-as-GET the certificate chain
 *   write key + chain to <data_dir>/tls/acme.pem (fsync, rename)
 *
 * Polls are bounded (ACME_POLL_MAX tries, Retry-After capped); a failure
 * is logged with the CA's problem text and retried with a doubling
 * backoff (1 minute up to a day); the certificate in use stays.  The
 * thread sleeps on a condition variable between checks so that stopping
 * and `correio tls renew` wake it at once; a new certificate reaches the
 * loop as a notice through lib/handoff.
 */
#include "acme/acme.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme/acme_int.h"
#include "lib/handoff.h"
#include "lib/log.h"
#include "lib/util.h"
#include "tls/tls.h"

#define ACME_POLL_MAX 60		/* tries of one poll, about a second apart */
#define ACME_RENEW_BEFORE (30L * 86400)
#define ACME_CHECK_EVERY 86400
#define ACME_BACKOFF_FIRST 60
#define ACME_NONCE_RETRIES 3
#define ACME_POLL_WAIT_MAX 10		/* seconds: a longer Retry-After is cut */

struct acme_pending {
	char token[ACME_TOKEN_MAX + 1];
	char keyauth[ACME_TOKEN_MAX + 64];
	char name[256];
	X509 *cert;			/* TLS-ALPN-01 only */
	EVP_PKEY *key;
};

struct acme {
	struct config cfg;
	struct handoff *issued_notices;	/* from the thread: a certificate is new */
	struct event *issued_event;	/* watches issued_notices */
	acme_issued_fn *issued;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, renew_now;
	struct acme_pending pending[ACME_AUTHZ_MAX];	/* under lock */
	int n_pending;
};

/* One issuance: what the requests share. */
struct acme_session {
	struct acme *a;
	EVP_PKEY *key;
	struct acme_directory dir;
	char kid[ACME_URL_MAX];
	char nonce[128];
	unsigned retry_after;		/* of the last answer, seconds */
	struct buf thumbprint;
	struct buf *error;
};

/* ---- configuration ---- */

static void add_name(struct buf *names, const char *name)
{
	for (const char *q = names->data; q != NULL && q < names->data + names->len;
	     q += strlen(q) + 1)
		if (strcasecmp(q, name) == 0)
			return;
	buf_append(names, name, strlen(name) + 1);
}

void acme_wanted_names(const struct config *cfg, struct buf *names)
{
	char name[300];

	buf_reset(names);
	if (cfg->acme_names[0] != '\0') {
		for (int i = 0; str_list_item(cfg->acme_names, i, name, sizeof(name)); i++)
			add_name(names, name);
		return;
	}
	add_name(names, cfg->hostname);
	for (int i = 0; str_list_item(cfg->local_domains, i, name + 5, sizeof(name) - 5); i++) {
		if (strchr(name + 5, '.') == NULL)
			continue;	/* localhost and the like */
		memcpy(name, "mail.", 5);
		add_name(names, name);
	}
}

int acme_config_check(const struct config *cfg, const char **error_r)
{
	if (cfg->acme_email[0] == '\0' || strchr(cfg->acme_email, '@') == NULL)
		*error_r = "[tls] acme = yes needs acme_email, the account's contact address";
	else if (strncmp(cfg->acme_directory, "https://", 8) != 0)
		*error_r = "[tls] acme_directory must be an https:// URL";
	else if (cfg->tls_certificate[0] != '\0')
		*error_r = "[tls] acme = yes and [tls] certificate exclude each other";
	else if (cfg->acme_challenge != CONFIG_ACME_TLSALPN01 && cfg->acme_http_listen[0] == '\0')
		*error_r = "[tls] acme_challenge http-01 needs [listen] acme_http (port 80 of "
			   "the names certified)";
	else if (strchr(cfg->hostname, '.') == NULL && cfg->acme_names[0] == '\0')
		*error_r = "[tls] acme = yes needs a fully qualified [server] hostname "
			   "(or acme_names)";
	else
		return 1;
	return -1;
}

/* ---- the challenge table (thread-safe) ---- */

static void pending_add(struct acme *a, const struct acme_pending *p)
{
	pthread_mutex_lock(&a->lock);
	if (a->n_pending < ACME_AUTHZ_MAX)
		a->pending[a->n_pending++] = *p;
	pthread_mutex_unlock(&a->lock);
}

static void pending_clear(struct acme *a)
{
	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < a->n_pending; i++) {
		X509_free(a->pending[i].cert);
		EVP_PKEY_free(a->pending[i].key);
	}
	a->n_pending = 0;
	pthread_mutex_unlock(&a->lock);
}

int acme_http01_answer(struct acme *a, const char *token, char *out, size_t size)
{
	int found = 0;

	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < a->n_pending && !found; i++) {
		if (a->pending[i].cert == NULL && strcmp(a->pending[i].token, token) == 0) {
			str_copy(out, a->pending[i].keyauth, size);
			found = 1;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return found;
}

int acme_alpn_cert(struct acme *a, const char *name, X509 **cert_r, EVP_PKEY **key_r)
{
	int found = 0;

	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < a->n_pending && !found; i++) {
		if (a->pending[i].cert != NULL && strcasecmp(a->pending[i].name, name) == 0) {
			X509_up_ref(a->pending[i].cert);
			EVP_PKEY_up_ref(a->pending[i].key);
			*cert_r = a->pending[i].cert;
			*key_r = a->pending[i].key;
			found = 1;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return found;
}

/* ---- requests ---- */

static bool stopping(struct acme *a)
{
	bool stop;

	pthread_mutex_lock(&a->lock);
	stop = a->stop;
	pthread_mutex_unlock(&a->lock);
	return stop;
}

/* acme_http_request's cancel: the server is stopping. */
static bool http_cancel(void *a)
{
	return stopping(a);
}

/* Between checks: sleep up to seconds, less when stopping or asked to
   renew.  Returns whether a renewal was asked for (and clears it). */
static bool idle(struct acme *a, unsigned seconds)
{
	struct timespec until;
	bool forced;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&a->lock);
	while (!a->stop && !a->renew_now &&
	       pthread_cond_timedwait(&a->cond, &a->lock, &until) != ETIMEDOUT) {
		/* woken early: check again */
	}
	forced = a->renew_now;
	a->renew_now = false;
	pthread_mutex_unlock(&a->lock);
	return forced;
}

/* Sleep up to seconds, less when stopping. */
static void nap(struct acme *a, unsigned seconds)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&a->lock);
	if (!a->stop)
		pthread_cond_timedwait(&a->cond, &a->lock, &until);
	pthread_mutex_unlock(&a->lock);
}

/* Between two polls: the CA's Retry-After, from 1 to ACME_POLL_WAIT_MAX. */
static void poll_wait(struct acme_session *s)
{
	unsigned wait = s->retry_after;

	nap(s->a, wait < 1 ? 1 : wait > ACME_POLL_WAIT_MAX ? ACME_POLL_WAIT_MAX : wait);
}

static int get_nonce(struct acme_session *s)
{
	struct acme_resp r;
	int ret = -1;

	acme_resp_init(&r);
	if (acme_http_request(&s->a->cfg, http_cancel, s->a, "HEAD",
			      s->dir.new_nonce, NULL, &r, s->error) > 0) {
		if (r.nonce[0] == '\0')
			buf_printf(s->error, "newNonce %s gave no Replay-Nonce", s->dir.new_nonce);
		else
			ret = 1;
		str_copy(s->nonce, r.nonce, sizeof(s->nonce));
	}
	acme_resp_deinit(&r);
	return ret;
}

static bool bad_nonce(const struct acme_resp *r)
{
	return r->status == 400 && r->body.len > 0 &&
	       strstr(buf_cstr(&r->body), "urn:ietf:params:acme:error:badNonce") != NULL;
}

/* A signed POST (payload "" = POST-as-GET).  1 with a 2xx response in r,
   -1 with the reason (the CA's problem) in s->error. */
static int post(struct acme_session *s, const char *url, const char *payload,
		struct acme_resp *r)
{
	struct buf jws;
	char problem[512];

	buf_init(&jws, 0);
	for (int tries = 0; tries < ACME_NONCE_RETRIES; tries++) {
		if (s->nonce[0] == '\0' && get_nonce(s) < 0)
			break;
		buf_reset(&jws);
		if (acme_jws(s->key, s->kid[0] != '\0' ? s->kid : NULL, s->nonce, url, payload,
			     &jws) < 0) {
			buf_printf(s->error, "cannot sign a request");
			break;
		}
		s->nonce[0] = '\0';
		if (acme_http_request(&s->a->cfg, http_cancel, s->a, "POST", url,
				      buf_cstr(&jws), r, s->error) < 0)
			break;
		str_copy(s->nonce, r->nonce, sizeof(s->nonce));
		s->retry_after = r->retry_after;
		if (r->status / 100 == 2) {
			buf_deinit(&jws);
			return 1;
		}
		if (bad_nonce(r) && tries + 1 < ACME_NONCE_RETRIES)
			continue;
		acme_parse_problem(r->body.data, r->body.len, problem, sizeof(problem));
		buf_printf(s->error, "%s answered %d: %s", url, r->status, problem);
		break;
	}
	buf_deinit(&jws);
	return -1;
}

static int fetch_directory(struct acme_session *s)
{
	struct acme_resp r;
	char why[256];
	int ret = -1;

	acme_resp_init(&r);
	if (acme_http_request(&s->a->cfg, http_cancel, s->a, "GET",
			      s->a->cfg.acme_directory, NULL, &r, s->error) < 0) {
		/* reason given */
	} else if (r.status != 200) {
		buf_printf(s->error, "directory %s answered %d", s->a->cfg.acme_directory,
			   r.status);
	} else if (acme_parse_directory(r.body.data, r.body.len, &s->dir, why,
					sizeof(why)) < 0) {
		buf_printf(s->error, "directory %s: %s", s->a->cfg.acme_directory, why);
	} else {
		ret = 1;
	}
	acme_resp_deinit(&r);
	return ret;
}

static int new_account(struct acme_session *s)
{
	json_t *p = json_pack("{s:b, s:[s+]}", "termsOfServiceAgreed", 1, "contact",
			      "mailto:", s->a->cfg.acme_email);
	char *payload = json_dumps(p, JSON_COMPACT);
	struct acme_resp r;
	int ret = -1;

	acme_resp_init(&r);
	if (payload != NULL && post(s, s->dir.new_account, payload, &r) > 0) {
		if (r.location[0] == '\0')
			buf_printf(s->error, "newAccount gave no account URL");
		else
			ret = 1;
		str_copy(s->kid, r.location, sizeof(s->kid));
	}
	acme_resp_deinit(&r);
	free(payload);
	json_decref(p);
	return ret;
}

/* ---- authorizations ---- */

static const char *challenge_wanted(const struct acme *a, const struct acme_authz *z,
				    int *index_r)
{
	static const char *order[3][2] = {
		{ "http-01", NULL }, { "tls-alpn-01", NULL }, { "http-01", "tls-alpn-01" }
	};

	for (int k = 0; k < 2 && order[a->cfg.acme_challenge][k] != NULL; k++)
		for (int i = 0; i < z->n_ch; i++)
			if (strcmp(z->ch[i].type, order[a->cfg.acme_challenge][k]) == 0) {
				*index_r = i;
				return z->ch[i].type;
			}
	return NULL;
}

static int fetch_authz(struct acme_session *s, const char *url, struct acme_authz *z)
{
	struct acme_resp r;
	char why[256];
	int ret = -1;

	acme_resp_init(&r);
	if (post(s, url, "", &r) > 0) {
		if (acme_parse_authz(r.body.data, r.body.len, z, why, sizeof(why)) < 0)
			buf_printf(s->error, "authorization %s: %s", url, why);
		else
			ret = 1;
	}
	acme_resp_deinit(&r);
	return ret;
}

/* Publish the answer to challenge c of z for the listeners. */
static int publish(struct acme_session *s, const struct acme_authz *z,
		   const struct acme_challenge *c)
{
	struct acme_pending p = { 0 };

	str_copy(p.token, c->token, sizeof(p.token));
	snprintf(p.keyauth, sizeof(p.keyauth), "%s.%s", c->token, buf_cstr(&s->thumbprint));
	str_copy(p.name, z->name, sizeof(p.name));
	if (strcmp(c->type, "tls-alpn-01") == 0 &&
	    acme_alpn_make(z->name, p.keyauth, &p.cert, &p.key) < 0) {
		buf_printf(s->error, "cannot make the tls-alpn-01 certificate for %s", z->name);
		return -1;
	}
	pending_add(s->a, &p);
	return 1;
}

/* The error of the challenge of type that failed, else the status of the
   authorization. */
static void authz_failed(struct acme_session *s, const struct acme_authz *z, const char *type)
{
	const char *why = acme_status_name(z->status);

	for (int i = 0; i < z->n_ch; i++)
		if (strcmp(z->ch[i].type, type) == 0 && z->ch[i].error[0] != '\0')
			why = z->ch[i].error;
	buf_printf(s->error, "the %s challenge for %s failed: %s", type, z->name, why);
}

static int answer_authz(struct acme_session *s, const char *url)
{
	struct acme_authz z;
	struct acme_resp r;
	char type[sizeof(z.ch[0].type)];
	int ci = 0, ret;

	if (fetch_authz(s, url, &z) < 0)
		return -1;
	if (z.status == ACME_STATUS_VALID)
		return 1;
	if (z.status != ACME_STATUS_PENDING) {
		buf_printf(s->error, "authorization for %s is %s", z.name, acme_status_name(z.status));
		return -1;
	}
	if (challenge_wanted(s->a, &z, &ci) == NULL) {
		buf_printf(s->error, "the CA offers no challenge of acme_challenge for %s", z.name);
		return -1;
	}
	str_copy(type, z.ch[ci].type, sizeof(type));
	if (publish(s, &z, &z.ch[ci]) < 0)
		return -1;
	log_info("acme: answering the %s challenge for %s", type, z.name);
	acme_resp_init(&r);
	ret = post(s, z.ch[ci].url, "{}", &r);
	acme_resp_deinit(&r);
	for (int tries = 0; ret > 0; tries++) {
		if (tries == ACME_POLL_MAX || stopping(s->a)) {
			buf_printf(s->error, "the authorization for %s stayed pending", z.name);
			return -1;
		}
		poll_wait(s);
		if (fetch_authz(s, url, &z) < 0)
			return -1;
		if (z.status == ACME_STATUS_VALID)
			return 1;
		if (z.status != ACME_STATUS_PENDING && z.status != ACME_STATUS_PROCESSING) {
			authz_failed(s, &z, type);
			return -1;
		}
	}
	return -1;
}

/* ---- order ---- */

static int fetch_order(struct acme_session *s, const char *url, struct acme_order *o)
{
	struct acme_resp r;
	char why[256];
	int ret = -1;

	acme_resp_init(&r);
	if (post(s, url, "", &r) > 0) {
		if (acme_parse_order(r.body.data, r.body.len, o, why, sizeof(why)) < 0)
			buf_printf(s->error, "order %s: %s", url, why);
		else
			ret = 1;
	}
	acme_resp_deinit(&r);
	return ret;
}

static int new_order(struct acme_session *s, const char *names, size_t len,
		     char *url, struct acme_order *o)
{
	json_t *ids = json_array(), *p;
	struct acme_resp r;
	char why[256], *payload;
	int ret = -1;

	for (const char *n = names; n < names + len; n += strlen(n) + 1)
		json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value", n));
	p = json_pack("{s:o}", "identifiers", ids);
	payload = json_dumps(p, JSON_COMPACT);
	acme_resp_init(&r);
	if (payload != NULL && post(s, s->dir.new_order, payload, &r) > 0) {
		if (r.location[0] == '\0' || strncmp(r.location, "https://", 8) != 0)
			buf_printf(s->error, "newOrder gave no order URL");
		else if (acme_parse_order(r.body.data, r.body.len, o, why, sizeof(why)) < 0)
			buf_printf(s->error, "newOrder: %s", why);
		else
			ret = 1;
		str_copy(url, r.location, ACME_URL_MAX);
	}
	acme_resp_deinit(&r);
	free(payload);
	json_decref(p);
	return ret;
}

/* Poll the order until its status is not one of pending/processing. */
static int order_settle(struct acme_session *s, const char *url, struct acme_order *o,
			enum acme_status waiting)
{
	for (int tries = 0; o->status == waiting || o->status == ACME_STATUS_PROCESSING;
	     tries++) {
		if (tries == ACME_POLL_MAX || stopping(s->a)) {
			buf_printf(s->error, "the order %s stayed %s", url,
				   acme_status_name(o->status));
			return -1;
		}
		poll_wait(s);
		if (fetch_order(s, url, o) < 0)
			return -1;
	}
	return 1;
}

static int finalize(struct acme_session *s, const char *url, struct acme_order *o,
		    EVP_PKEY *key, const char *names, size_t len)
{
	struct buf csr, payload;
	struct acme_resp r;
	int ret = -1;

	buf_init(&csr, 0);
	buf_init(&payload, 0);
	acme_resp_init(&r);
	if (acme_csr(key, names, len, &csr) < 0) {
		buf_printf(s->error, "cannot make the certificate request");
	} else {
		buf_printf(&payload, "{\"csr\":\"%s\"}", buf_cstr(&csr));
		if (post(s, o->finalize, buf_cstr(&payload), &r) > 0 &&
		    fetch_order(s, url, o) > 0 && order_settle(s, url, o, ACME_STATUS_READY) > 0) {
			if (o->status != ACME_STATUS_VALID || o->certificate[0] == '\0')
				buf_printf(s->error, "the order is %s after finalize: %s",
					   acme_status_name(o->status), o->error);
			else
				ret = 1;
		}
	}
	acme_resp_deinit(&r);
	buf_deinit(&payload);
	buf_deinit(&csr);
	return ret;
}

/* ---- the certificate ---- */

/* Does chain (PEM) start with a certificate for key? */
static X509 *chain_leaf(const struct buf *chain, EVP_PKEY *key)
{
	BIO *in = BIO_new_mem_buf(chain->data, (int)chain->len);
	X509 *leaf = PEM_read_bio_X509(in, NULL, NULL, NULL);

	BIO_free(in);
	if (leaf != NULL && X509_check_private_key(leaf, key) != 1) {
		X509_free(leaf);
		leaf = NULL;
	}
	return leaf;
}

static int write_pem(const char *path, EVP_PKEY *key, const struct buf *chain, mode_t mode)
{
	char tmp[1200];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ok = (key == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1) &&
	     fwrite(chain->data, 1, chain->len, f) == chain->len && fflush(f) == 0 &&
	     fsync(fd) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 1;
}

static int save_certificate(struct acme_session *s, EVP_PKEY *key, const struct buf *chain)
{
	char path[1100], crt[1200], dir[1100];
	X509 *leaf = chain_leaf(chain, key);

	if (leaf == NULL) {
		buf_printf(s->error, "the CA's answer is not a PEM chain for the new key");
		return -1;
	}
	X509_free(leaf);
	tls_acme_cert_path(&s->a->cfg, path, sizeof(path));
	tls_selfsigned_crt_path(path, crt, sizeof(crt));
	snprintf(dir, sizeof(dir), "%s/tls", s->a->cfg.data_dir);
	if (mkdir_p(dir, 0700) < 0 || write_pem(path, key, chain, 0600) < 0 ||
	    write_pem(crt, NULL, chain, 0644) < 0 || fsync_dir(dir) < 0) {
		buf_printf(s->error, "cannot write %s: %m", path);
		return -1;
	}
	return 1;
}

static int download(struct acme_session *s, const struct acme_order *o, EVP_PKEY *key)
{
	struct acme_resp r;
	int ret = -1;

	acme_resp_init(&r);
	if (post(s, o->certificate, "", &r) > 0)
		ret = save_certificate(s, key, &r.body);
	acme_resp_deinit(&r);
	return ret;
}

/* ---- one issuance ---- */

static int session_open(struct acme_session *s, struct acme *a, struct buf *error)
{
	char dir[1100], path[1200];

	memset(s, 0, sizeof(*s));
	s->a = a;
	s->error = error;
	buf_init(&s->thumbprint, 256);
	snprintf(dir, sizeof(dir), "%s/acme", a->cfg.data_dir);
	snprintf(path, sizeof(path), "%s/account.pem", dir);
	if (mkdir_p(dir, 0700) < 0) {
		buf_printf(error, "cannot make %s: %m", dir);
		return -1;
	}
	if ((s->key = acme_key_load(path, error)) == NULL)
		return -1;
	if (acme_thumbprint(s->key, &s->thumbprint) < 0) {
		buf_printf(error, "cannot compute the account key's thumbprint");
		return -1;
	}
	return 1;
}

static void session_close(struct acme_session *s)
{
	EVP_PKEY_free(s->key);
	buf_deinit(&s->thumbprint);
	pending_clear(s->a);
}

static int issue(struct acme *a, const struct buf *names, struct buf *error)
{
	struct acme_session s;
	struct acme_order o;
	char url[ACME_URL_MAX];
	EVP_PKEY *key = NULL;
	int ret = -1;

	if (session_open(&s, a, error) < 0 || fetch_directory(&s) < 0 || new_account(&s) < 0 ||
	    new_order(&s, names->data, names->len, url, &o) < 0)
		goto out;
	for (int i = 0; i < o.n_authz; i++)
		if (answer_authz(&s, o.authz[i]) < 0)
			goto out;
	if (fetch_order(&s, url, &o) < 0 || order_settle(&s, url, &o, ACME_STATUS_PENDING) < 0)
		goto out;
	if (o.status != ACME_STATUS_READY && o.status != ACME_STATUS_VALID) {
		buf_printf(error, "the order is %s: %s", acme_status_name(o.status), o.error);
		goto out;
	}
	if ((key = acme_key_new()) == NULL ||
	    finalize(&s, url, &o, key, names->data, names->len) < 0 || download(&s, &o, key) < 0)
		goto out;
	ret = 1;
out:
	EVP_PKEY_free(key);
	session_close(&s);
	return ret;
}

/* ---- when ---- */

/* Why a new certificate is needed ("" = not needed), into why. */
static void due(struct acme *a, const struct buf *names, char *why, size_t size)
{
	char path[1100];
	X509 *cert = NULL;
	FILE *f;

	why[0] = '\0';
	tls_acme_cert_path(&a->cfg, path, sizeof(path));
	if ((f = fopen(path, "re")) != NULL) {
		cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (cert == NULL) {
		snprintf(why, size, "no certificate issued yet");
		return;
	}
	if (X509_cmp_time(X509_get0_notAfter(cert), &(time_t){ time(NULL) + ACME_RENEW_BEFORE }) < 0)
		snprintf(why, size, "the certificate ends within 30 days");
	for (const char *n = names->data; why[0] == '\0' && n < names->data + names->len;
	     n += strlen(n) + 1)
		if (X509_check_host(cert, n, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) != 1)
			snprintf(why, size, "the certificate does not name %s", n);
	X509_free(cert);
}

static void *acme_main(void *arg)
{
	struct acme *a = arg;
	unsigned backoff = 0, wait = 0;
	struct buf names, error;
	char why[300];
	bool forced;

	buf_init(&names, 16384);
	buf_init(&error, 4096);
	acme_wanted_names(&a->cfg, &names);
	for (;;) {
		forced = idle(a, wait);
		if (stopping(a))
			break;
		due(a, &names, why, sizeof(why));
		if (why[0] == '\0' && !forced) {
			log_info("acme: the certificate is good for more than 30 days and names "
				 "every name wanted; next check in a day");
			wait = ACME_CHECK_EVERY;
			continue;
		}
		log_info("acme: ordering a certificate from %s (%s)", a->cfg.acme_directory,
			 forced ? "renewal asked for" : why);
		buf_reset(&error);
		if (issue(a, &names, &error) > 0) {
			struct handoff_link *notice = xcalloc(1, sizeof(*notice));
			log_info("acme: certificate issued, serving it from the next handshake");
			handoff_post(a->issued_notices, notice);
			backoff = 0;
			wait = ACME_CHECK_EVERY;
			continue;
		}
		backoff = backoff == 0 ? ACME_BACKOFF_FIRST
			: backoff * 2 > ACME_CHECK_EVERY ? ACME_CHECK_EVERY : backoff * 2;
		log_err("acme: no certificate issued: %s; the current certificate stays in "
			"use; next try in %u s", buf_cstr(&error), backoff);
		wait = backoff;
	}
	buf_deinit(&names);
	buf_deinit(&error);
	return NULL;
}

/* ---- lifecycle ---- */

/* Notices left at stop are freed unread. */
static void free_notices(struct handoff_link *l)
{
	struct handoff_link *next;

	for (; l != NULL; l = next) {
		next = l->next;
		free(l);
	}
}

/* On the loop: one reload however many issuances it was told of. */
static void on_issued(void *ctx, struct handoff_link *notices)
{
	struct acme *a = ctx;

	free_notices(notices);
	a->issued(a->ctx);
}

int acme_start(const struct config *cfg, struct event_base *base,
	       acme_issued_fn *issued, void *ctx, struct acme **r, const char **error_r)
{
	sigset_t all, old;
	struct acme *a;
	int ret;

	if (acme_config_check(cfg, error_r) < 0)
		return -1;
	a = xcalloc(1, sizeof(*a));
	a->cfg = *cfg;
	a->issued = issued;
	a->ctx = ctx;
	if (handoff_new(on_issued, a, &a->issued_notices) < 0) {
		*error_r = "cannot make the ACME thread's hand-off";
		free(a);
		return -1;
	}
	a->issued_event = handoff_watch(a->issued_notices, base);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	/* the thread blocks every signal: they are the loop's to take */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&a->thread, NULL, acme_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		*error_r = "cannot start the ACME thread";
		event_free(a->issued_event);
		handoff_free(&a->issued_notices);
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->cond);
		free(a);
		return -1;
	}
	*r = a;
	return 1;
}

void acme_renew_now(struct acme *a)
{
	pthread_mutex_lock(&a->lock);
	a->renew_now = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

void acme_stop(struct acme **ap)
{
	struct acme *a = *ap;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pending_clear(a);
	event_free(a->issued_event);
	free_notices(handoff_take(a->issued_notices));
	handoff_free(&a->issued_notices);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	free(a);
	*ap = NULL;
}
