/*
 * tls.c - certificate sets, SNI, self-signed certificates and the
 * libevent OpenSSL glue.
 *
 * A certificate set is one SSL_CTX per configured certificate file; the
 * first is the default, and the servername callback moves a handshake to
 * the context whose certificate names the requested host.  A reload builds
 * a new set; old sets stay allocated until tls_free() because handshakes
 * in progress may still call back into them (reloads are rare).
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/util.h"

#define TLS_MAX_CERTS 16

struct tls_set {
	SSL_CTX *ctx[TLS_MAX_CERTS];
	int n;
	struct tls_set *older;
};

struct tls {
	struct tls_set *set;
	SSL_CTX *client;
	tls_alpn_cert_fn *alpn_cert;	/* TLS-ALPN-01 answers, or NULL */
	void *alpn_ctx;
	char error[512];
};

/* The last OpenSSL error as text, into t->error. */
static const char *tls_error(struct tls *t, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char reason[256];

	ERR_error_string_n(e, reason, sizeof(reason));
	snprintf(t->error, sizeof(t->error), "%s %s: %s", what, file, reason);
	ERR_clear_error();
	return t->error;
}

/* ---- SNI ---- */

static bool name_matches(const char *pattern, const char *host)
{
	if (strncmp(pattern, "*.", 2) == 0) {
		const char *dot = strchr(host, '.');
		return dot != NULL && strcasecmp(pattern + 1, dot) == 0;
	}
	return strcasecmp(pattern, host) == 0;
}

static bool cert_names_host(X509 *cert, const char *host)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	char cn[256];

	for (int i = 0; names != NULL && !found && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *s;
		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		found = name_matches((const char *)s, host);
	}
	GENERAL_NAMES_free(names);
	if (!found && X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
						cn, sizeof(cn)) > 0)
		found = name_matches(cn, host);
	return found;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct tls_set *set = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (host == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (int i = 1; i < set->n; i++) {
		if (cert_names_host(SSL_CTX_get0_certificate(set->ctx[i]), host)) {
			SSL_set_SSL_CTX(ssl, set->ctx[i]);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;	/* the default certificate */
}

/* ---- TLS-ALPN-01 ---- */

static const unsigned char acme_tls_1[] = "acme-tls/1";

/* RFC 8737 3: a client offering acme-tls/1 is an ACME validator; it gets
   the challenge certificate for the name it asks for, or nothing (no
   other protocol may be negotiated with it).  Other clients: no ALPN. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned inlen, void *arg)
{
	struct tls *t = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const unsigned char *p = in;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	bool offered = false;

	for (; p < in + inlen && p + 1 + *p <= in + inlen; p += 1 + *p)
		if (*p == sizeof(acme_tls_1) - 1 && memcmp(p + 1, acme_tls_1, *p) == 0)
			offered = true;
	if (!offered)
		return SSL_TLSEXT_ERR_NOACK;
	if (t->alpn_cert == NULL || host == NULL ||
	    t->alpn_cert(t->alpn_ctx, host, &cert, &key) <= 0) {
		log_warn("tls: an ACME validation for %s with no challenge pending",
			 host != NULL ? host : "(no name)");
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (SSL_use_certificate(ssl, cert) != 1 || SSL_use_PrivateKey(ssl, key) != 1) {
		X509_free(cert);
		EVP_PKEY_free(key);
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	*out = acme_tls_1;
	*outlen = sizeof(acme_tls_1) - 1;
	log_info("tls: answered the tls-alpn-01 challenge for %s", host);
	return SSL_TLSEXT_ERR_OK;
}

void tls_set_alpn_challenge(struct tls *t, tls_alpn_cert_fn *fn, void *ctx)
{
	t->alpn_cert = fn;
	t->alpn_ctx = ctx;
}

/* ---- contexts ---- */

static SSL_CTX *ctx_new(struct tls *t, const char *cert, const char *key,
			const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
				 SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5");
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, t);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_r = tls_error(t, "cannot load certificate", cert);
	} else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error(t, "cannot load key", key);
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error(t, "key does not match certificate", cert);
	} else {
		return ctx;
	}
	SSL_CTX_free(ctx);
	return NULL;
}

static void set_free(struct tls_set *set)
{
	while (set != NULL) {
		struct tls_set *older = set->older;
		for (int i = 0; i < set->n; i++)
			SSL_CTX_free(set->ctx[i]);
		free(set);
		set = older;
	}
}

void tls_acme_cert_path(const struct config *cfg, char *out, size_t size)
{
	snprintf(out, size, "%s/tls/acme.pem", cfg->data_dir);
}

static struct tls_set *set_load(struct tls *t, const struct config *cfg,
				const char **error_r)
{
	struct tls_set *set = xcalloc(1, sizeof(*set));
	char cert[1024], key[1024], self[1100];
	struct buf err;

	if (cfg->acme && cfg->tls_certificate[0] == '\0') {
		tls_acme_cert_path(cfg, self, sizeof(self));
		if (access(self, F_OK) == 0 &&
		    (set->ctx[0] = ctx_new(t, self, self, error_r)) == NULL)
			log_err("tls: %s, serving the self-signed certificate", *error_r);
		set->n = set->ctx[0] != NULL;
	}
	if (cfg->tls_certificate[0] == '\0' && set->n == 0) {
		snprintf(self, sizeof(self), "%s/tls/selfsigned.pem", cfg->data_dir);
		buf_init(&err, 512);
		if (tls_selfsigned_ensure(cfg, self, &err) < 0) {
			snprintf(t->error, sizeof(t->error), "%s", buf_cstr(&err));
			*error_r = t->error;
			buf_deinit(&err);
			free(set);
			return NULL;
		}
		buf_deinit(&err);
		set->ctx[set->n] = ctx_new(t, self, self, error_r);
		set->n += set->ctx[set->n] != NULL;
	}
	for (int i = 0; set->n < TLS_MAX_CERTS &&
			str_list_item(cfg->tls_certificate, i, cert, sizeof(cert)); i++) {
		if (!str_list_item(cfg->tls_key, i, key, sizeof(key)))
			str_copy(key, cert, sizeof(key));
		set->ctx[set->n] = ctx_new(t, cert, key, error_r);
		if (set->ctx[set->n] == NULL)
			break;
		set->n++;
	}
	if (set->n == 0 || (cfg->tls_certificate[0] != '\0' &&
			    str_list_item(cfg->tls_certificate, set->n, cert, sizeof(cert)))) {
		set_free(set);
		return NULL;
	}
	SSL_CTX_set_tlsext_servername_callback(set->ctx[0], on_servername);
	SSL_CTX_set_tlsext_servername_arg(set->ctx[0], set);
	return set;
}

/* The relay's client context: the system's CAs and [relay] ca_file are
   loaded so that a peer's certificate can be judged (MTA-STS), though a
   handshake itself never fails on it unless the caller asks. */
static SSL_CTX *client_new(struct tls *t, const struct config *cfg, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		abort();
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_dane_enable(ctx) <= 0)
		ERR_clear_error();	/* tls_connect_dane() finds no usable record */
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();	/* no system CAs: only ca_file is trusted */
	if (cfg->ca_file[0] != '\0' && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
		char file[200];
		str_copy(file, cfg->ca_file, sizeof(file));
		*error_r = tls_error(t, "cannot load [relay] ca_file", file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int tls_open(const struct config *cfg, struct tls **r, const char **error_r)
{
	static char error[512];
	struct tls *t = xcalloc(1, sizeof(*t));

	t->set = set_load(t, cfg, error_r);
	if (t->set == NULL) {
		/* the text may be in t->error: keep it past the free */
		snprintf(error, sizeof(error), "%s", *error_r);
		*error_r = error;
		free(t);
		return -1;
	}
	if ((t->client = client_new(t, cfg, error_r)) == NULL) {
		snprintf(error, sizeof(error), "%s", *error_r);
		*error_r = error;
		set_free(t->set);
		free(t);
		return -1;
	}
	*r = t;
	return 1;
}

int tls_check(const struct config *cfg, const char **error_r)
{
	static struct tls t;
	struct tls_set *set;

	if (cfg->tls_certificate[0] == '\0')
		return 1;
	if ((set = set_load(&t, cfg, error_r)) == NULL)
		return -1;
	set_free(set);
	return 1;
}

int tls_reload(struct tls *t, const struct config *cfg, const char **error_r)
{
	struct tls_set *set = set_load(t, cfg, error_r);
	SSL_CTX *client;

	if (set == NULL)
		return -1;
	if ((client = client_new(t, cfg, error_r)) == NULL) {
		set_free(set);
		return -1;
	}
	SSL_CTX_free(t->client);	/* connections keep their own reference */
	t->client = client;
	set->older = t->set;
	t->set = set;
	return 1;
}

void tls_free(struct tls **tp)
{
	if (*tp == NULL)
		return;
	set_free((*tp)->set);
	SSL_CTX_free((*tp)->client);
	free(*tp);
	*tp = NULL;
}

/* ---- bufferevents ---- */

SSL *tls_server_ssl(struct tls *t)
{
	SSL *ssl = SSL_new(t->set->ctx[0]);

	if (ssl == NULL)
		abort();
	return ssl;
}

struct bufferevent *tls_accept(struct tls *t, struct event_base *base,
			       evutil_socket_t fd)
{
	return bufferevent_openssl_socket_new(base, fd, tls_server_ssl(t),
					      BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

struct bufferevent *tls_session_new(struct event_base *base, evutil_socket_t fd, SSL *ssl)
{
	return bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_OPEN,
					      BEV_OPT_CLOSE_ON_FREE);
}

struct bufferevent *tls_connect(struct tls *t, struct event_base *base,
				struct bufferevent *under, const char *servername)
{
	SSL *ssl = SSL_new(t->client);

	SSL_set_tlsext_host_name(ssl, servername);
	SSL_set1_host(ssl, servername);		/* judged by tls_peer_verified() */
	return bufferevent_openssl_filter_new(base, under, ssl, BUFFEREVENT_SSL_CONNECTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

struct bufferevent *tls_connect_dane(struct tls *t, struct event_base *base,
				     struct bufferevent *under, const char *servername,
				     const struct tls_tlsa *r, unsigned n, unsigned *usable_r)
{
	SSL *ssl = SSL_new(t->client);

	*usable_r = 0;
	SSL_set_tlsext_host_name(ssl, servername);
	if (SSL_dane_enable(ssl, servername) > 0) {
		/* RFC 7672 §3.1.1: DANE-EE(3) binds the key, not the name */
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		for (unsigned i = 0; i < n; i++)
			if (r[i].usage >= 2 &&	/* PKIX-TA/EE are unusable (§3.1.3) */
			    SSL_dane_tlsa_add(ssl, r[i].usage, r[i].selector, r[i].mtype,
					      r[i].data, r[i].len) > 0)
				(*usable_r)++;
	}
	ERR_clear_error();
	return bufferevent_openssl_filter_new(base, under, ssl, BUFFEREVENT_SSL_CONNECTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

struct bufferevent *tls_connect_strict(struct tls *t, struct event_base *base,
				       const char *servername)
{
	SSL *ssl = SSL_new(t->client);
	struct bufferevent *bev;

	SSL_set_tlsext_host_name(ssl, servername);
	SSL_set1_host(ssl, servername);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	/* web servers often close without close_notify after an HTTP/1.0
	   answer: that is the end of the data (its length is checked) */
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int tls_peer_verified(struct bufferevent *bev, const char **error_r)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	X509 *cert;
	long result;

	if (ssl == NULL) {
		*error_r = "no TLS";
		return -1;
	}
	if ((cert = SSL_get1_peer_certificate(ssl)) == NULL) {
		*error_r = "no certificate";
		return -1;
	}
	X509_free(cert);
	result = SSL_get_verify_result(ssl);
	if (result != X509_V_OK) {
		*error_r = X509_verify_cert_error_string(result);
		return -1;
	}
	return 1;
}

void tls_describe(struct bufferevent *bev, char *out, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const SSL_CIPHER *c;
	int alg = 0, bits;

	out[0] = '\0';
	if (ssl == NULL || (c = SSL_get_current_cipher(ssl)) == NULL)
		return;
	bits = SSL_CIPHER_get_bits(c, &alg);
	snprintf(out, size, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		 SSL_CIPHER_get_name(c), bits, alg);
}

const char *tls_last_error(struct bufferevent *bev)
{
	static char text[256];
	unsigned long e = bufferevent_get_openssl_error(bev);

	if (e == 0)
		return evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
	ERR_error_string_n(e, text, sizeof(text));
	return text;
}
