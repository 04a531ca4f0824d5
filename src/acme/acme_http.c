/*
 * acme_http.c - one blocking HTTPS request of the ACME thread: resolve,
 * connect, TLS with the CA's certificate verified against acme_ca_file
 * (or the system's store) and its name checked, send the request with
 * "Connection: close", read the whole response up to ACME_RESPONSE_MAX
 * and hand it to acme_http_parse().  Every wait is bounded: 30 s of
 * silence from the CA, [tls] acme_timeout for the whole request (a CA that
 * sends a byte now and then cannot hold the thread), and the caller's
 * cancel() (the server stopping) is asked every second.  Never called on
 * the event loop.
 */
#include "acme/acme_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define ACME_HTTP_TIMEOUT 30	/* seconds of silence from the CA */

/* The bounds of one request: checked before every read and write. */
struct deadline {
	time_t end;			/* CLOCK_MONOTONIC seconds */
	time_t silence;			/* seconds without progress allowed */
	bool (*cancel)(void *arg);
	void *arg;
	const char *why;		/* set when given up */
};

static time_t monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Wait until fd is ready for events (a second at a time, to see a
   cancellation): 1, or 0 given up with d->why. */
static int wait_ready(int fd, short events, struct deadline *d)
{
	time_t start = monotonic_now();

	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		time_t now = monotonic_now();
		int n;
		if (d->cancel != NULL && d->cancel(d->arg)) {
			d->why = "given up: the server is stopping";
			return 0;
		}
		if (now >= d->end) {
			d->why = "the CA took longer than [tls] acme_timeout to answer";
			return 0;
		}
		if (now - start >= d->silence) {
			d->why = "no answer from the CA for 30 s";
			return 0;
		}
		n = poll(&p, 1, 1000);
		if (n > 0 || (n < 0 && errno != EINTR))
			return 1;	/* ready, or an error the call will report */
	}
}

/* Before each read or write of the TLS connection's socket BIO. */
static long bio_wait(BIO *b, int oper, const char *argp, size_t len, int argi,
		     long argl, int ret, size_t *processed)
{
	struct deadline *d = (struct deadline *)BIO_get_callback_arg(b);

	if (oper == BIO_CB_READ)
		return wait_ready(BIO_get_fd(b, NULL), POLLIN, d) ? ret : -1;
	if (oper == BIO_CB_WRITE)
		return wait_ready(BIO_get_fd(b, NULL), POLLOUT, d) ? ret : -1;
	return ret;
}

struct url {
	char host[256];
	char port[8];
	char path[ACME_URL_MAX];
};

/* https://host[:port][/path] */
static int url_split(const char *url, struct url *u)
{
	const char *host = url + 8, *slash, *colon;
	size_t n;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	slash = strchr(host, '/');
	n = slash != NULL ? (size_t)(slash - host) : strlen(host);
	colon = memchr(host, ':', n);
	if (colon != NULL) {
		size_t pn = n - (size_t)(colon + 1 - host);
		if (pn == 0 || pn >= sizeof(u->port))
			return -1;
		snprintf(u->port, sizeof(u->port), "%.*s", (int)pn, colon + 1);
		n = (size_t)(colon - host);
	} else {
		snprintf(u->port, sizeof(u->port), "443");
	}
	if (n == 0 || n >= sizeof(u->host))
		return -1;
	snprintf(u->host, sizeof(u->host), "%.*s", (int)n, host);
	snprintf(u->path, sizeof(u->path), "%s", slash != NULL ? slash : "/");
	return strpbrk(u->host, " \r\n") == NULL && strpbrk(u->path, " \r\n") == NULL ? 1 : -1;
}

/* Connect fd to ai within d: true when connected (fd blocking again). */
static bool connected(int fd, const struct addrinfo *ai, struct deadline *d)
{
	int flags = fcntl(fd, F_GETFL), e = 0;
	socklen_t elen = sizeof(e);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return false;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    (errno != EINPROGRESS || !wait_ready(fd, POLLOUT, d) ||
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 || e != 0)) {
		if (e != 0)
			errno = e;
		return false;
	}
	return fcntl(fd, F_SETFL, flags) == 0;
}

static int tcp_connect(const struct url *u, struct deadline *d, struct buf *error)
{
	struct timeval tv = { ACME_HTTP_TIMEOUT, 0 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, e;

	if ((e = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		buf_printf(error, "cannot resolve %s: %s", u->host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connected(fd, ai, d))
			break;
		close(fd);
		fd = -1;
		if (d->why != NULL)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0 && d->why != NULL)
		buf_printf(error, "cannot connect to %s port %s: %s", u->host, u->port, d->why);
	else if (fd < 0)
		buf_printf(error, "cannot connect to %s port %s: %m", u->host, u->port);
	return fd;
}

static SSL_CTX *client_ctx(const char *ca_file, struct buf *error)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((ca_file[0] != '\0' ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
				: SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		buf_printf(error, "cannot load the CA certificates %s",
			   ca_file[0] != '\0' ? ca_file : "of the system");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Did the connection's deadline end a read or write (d->why)? */
static bool given_up(SSL *ssl)
{
	const struct deadline *d =
		(const struct deadline *)BIO_get_callback_arg(SSL_get_rbio(ssl));

	return d != NULL && d->why != NULL;
}

static void ssl_error(SSL *ssl, const char *what, const struct url *u, struct buf *error)
{
	const struct deadline *d =
		(const struct deadline *)BIO_get_callback_arg(SSL_get_rbio(ssl));
	long v = SSL_get_verify_result(ssl);
	char reason[256];

	if (given_up(ssl)) {
		buf_printf(error, "%s %s: %s", what, u->host, d->why);
	} else if (v != X509_V_OK) {
		buf_printf(error, "%s %s: certificate not trusted: %s", what, u->host,
			   X509_verify_cert_error_string(v));
	} else {
		ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
		buf_printf(error, "%s %s: %s (%m)", what, u->host, reason);
	}
	ERR_clear_error();
}

/* Send req and read until the server closes. */
static int exchange(SSL *ssl, const struct url *u, const struct buf *req,
		    struct buf *in, struct buf *error)
{
	char chunk[16384];
	int n;

	if (SSL_write(ssl, req->data, (int)req->len) != (int)req->len) {
		ssl_error(ssl, "cannot send to", u, error);
		return -1;
	}
	while ((n = SSL_read(ssl, chunk, sizeof(chunk))) > 0) {
		if (buf_append(in, chunk, (size_t)n) < 0) {
			buf_printf(error, "the answer of %s is larger than %d bytes", u->host,
				   ACME_RESPONSE_MAX);
			return -1;
		}
	}
	if (given_up(ssl) || (SSL_get_error(ssl, n) != SSL_ERROR_ZERO_RETURN && in->len == 0)) {
		ssl_error(ssl, "cannot read from", u, error);
		return -1;
	}
	ERR_clear_error();	/* a close without close_notify after the answer */
	return 1;
}

static void build_request(const char *method, const struct url *u, const char *body,
			  struct buf *req)
{
	bool port = strcmp(u->port, "443") != 0;

	buf_printf(req, "%s %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: correio-acme\r\n"
		   "Accept: application/json, application/pem-certificate-chain\r\n"
		   "Connection: close\r\n", method, u->path, u->host, port ? ":" : "",
		   port ? u->port : "");
	if (body != NULL)
		buf_printf(req, "Content-Type: application/jose+json\r\n"
			   "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	else
		buf_puts(req, "\r\n");
}

int acme_http_request(const struct config *cfg, bool (*cancel)(void *arg), void *cancel_arg,
		      const char *method, const char *url, const char *body,
		      struct acme_resp *r, struct buf *error)
{
	time_t total = (time_t)cfg->acme_timeout;
	struct deadline d = { .end = monotonic_now() + total,
			      .silence = total < ACME_HTTP_TIMEOUT ? total : ACME_HTTP_TIMEOUT,
			      .cancel = cancel, .arg = cancel_arg };
	const char *ca_file = cfg->acme_ca_file;
	struct buf req, in;
	const char *perr;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	struct url u;
	int fd = -1, ret = -1;

	if (url_split(url, &u) < 0) {
		buf_printf(error, "not an https URL: %.200s", url);
		return -1;
	}
	buf_init(&req, 0);
	buf_init(&in, ACME_RESPONSE_MAX + ACME_HEADER_MAX);
	build_request(method, &u, body, &req);
	if ((ctx = client_ctx(ca_file, error)) == NULL || (fd = tcp_connect(&u, &d, error)) < 0)
		goto out;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	BIO_set_callback_arg(SSL_get_rbio(ssl), (char *)&d);
	BIO_set_callback_ex(SSL_get_rbio(ssl), bio_wait);
	SSL_set_tlsext_host_name(ssl, u.host);
	SSL_set1_host(ssl, u.host);
	if (SSL_connect(ssl) != 1) {
		ssl_error(ssl, "TLS handshake failed with", &u, error);
		goto out;
	}
	if (exchange(ssl, &u, &req, &in, error) < 0)
		goto out;
	if (acme_http_parse(in.data, in.len, strcmp(method, "HEAD") == 0, r, &perr) < 0)
		buf_printf(error, "%s %s: %s", method, url, perr);
	else
		ret = 1;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	buf_deinit(&req);
	buf_deinit(&in);
	return ret;
}
