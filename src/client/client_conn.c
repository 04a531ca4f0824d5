/*
 * client_conn.c - one blocking connection of the client to a server, plain
 * or TLS (OpenSSL), with a read buffer, line reads with a cap, and a
 * timeout on every read and write (the account's timeout).  A client does
 * one thing at a time, so no event loop.
 *
 * Certificates: the handshake itself accepts any certificate; right after
 * it the result is checked here, so that a refusal can say why and show
 * the SHA-256 fingerprint of what the server presented: with tls_pin the
 * certificate must be the pinned one, else it must verify against the
 * system's CAs (or ca_file) and carry the host name.
 */
#include "client/client_private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/encoding.h"
#include "lib/util.h"

#define CONNECT_TIMEOUT_MS 15000

static int connect_one(const struct addrinfo *ai, unsigned timeout)
{
	struct pollfd pfd;
	struct timeval tv = { .tv_sec = timeout };
	int fd, err = 0;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, CONNECT_TIMEOUT_MS) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			errno = err != 0 ? err : errno;
			goto fail;
		}
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int tcp_connect(struct client_conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[16];
	int ret, err = 0;

	snprintf(port, sizeof(port), "%u", c->srv->port);
	ret = getaddrinfo(c->srv->host, port, &hints, &res);
	if (ret != 0)
		return client_fail(CLIENT_ERR_NET, "cannot reach %s: %s", c->srv->host,
				   gai_strerror(ret));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = connect_one(ai, c->acct->timeout);
		if (c->fd >= 0)
			break;
		err = errno;
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return client_fail(CLIENT_ERR_NET, "cannot reach %s port %u: %s",
				   c->srv->host, c->srv->port, strerror(err));
	return 1;
}

int client_conn_open(struct client_conn *c, const struct client_account *a,
		     const struct client_server *srv)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->acct = a;
	c->srv = srv;
	if (tcp_connect(c) < 0)
		return -1;
	if (srv->tls == CLIENT_TLS_IMPLICIT && client_conn_starttls(c) < 0) {
		client_conn_close(c);
		return -1;
	}
	return 1;
}

static void fingerprint(X509 *cert, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	struct buf hex;

	buf_init(&hex, 0);
	if (X509_digest(cert, EVP_sha256(), md, &n) == 1)
		hex_fingerprint(md, n, &hex);
	snprintf(out, size, "%s", buf_cstr(&hex));
	buf_deinit(&hex);
}

static int check_pin(struct client_conn *c, X509 *peer, const char *fp)
{
	FILE *f = fopen(c->acct->tls_pin, "r");
	X509 *pin;
	int same;

	if (f == NULL)
		return client_fail(CLIENT_ERR_TLS, "tls_pin %s: %s", c->acct->tls_pin,
				   strerror(errno));
	pin = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (pin == NULL)
		return client_fail(CLIENT_ERR_TLS, "tls_pin %s: no PEM certificate in it",
				   c->acct->tls_pin);
	same = X509_cmp(pin, peer) == 0;
	X509_free(pin);
	if (!same)
		return client_fail(CLIENT_ERR_TLS, "certificate mismatch: %s presented a "
				   "certificate other than the pinned %s (SHA-256 %s)",
				   c->srv->host, c->acct->tls_pin, fp);
	return 1;
}

static int check_peer(struct client_conn *c)
{
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	char fp[128];
	long v;
	int ret = 1;

	if (peer == NULL)
		return client_fail(CLIENT_ERR_TLS, "%s sent no certificate", c->srv->host);
	fingerprint(peer, fp, sizeof(fp));
	if (c->acct->tls_pin[0] != '\0') {
		ret = check_pin(c, peer, fp);
	} else if ((v = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
		ret = client_fail(CLIENT_ERR_TLS, "certificate of %s not trusted: %s "
				  "(SHA-256 %s; pin it with tls_pin if you trust it)",
				  c->srv->host, X509_verify_cert_error_string(v), fp);
	}
	X509_free(peer);
	return ret;
}

static int tls_setup(struct client_conn *c)
{
	struct in6_addr addr;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return client_fail(CLIENT_ERR_TLS, "TLS: cannot create a context");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	if (c->acct->ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(c->ctx, c->acct->ca_file, NULL) != 1)
			return client_fail(CLIENT_ERR_TLS, "ca_file %s: cannot load it",
					   c->acct->ca_file);
	} else {
		SSL_CTX_set_default_verify_paths(c->ctx);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL)
		return client_fail(CLIENT_ERR_TLS, "TLS: cannot create a session");
	SSL_set_fd(c->ssl, c->fd);
	if (inet_pton(AF_INET, c->srv->host, &addr) != 1 &&
	    inet_pton(AF_INET6, c->srv->host, &addr) != 1) {
		SSL_set_tlsext_host_name(c->ssl, c->srv->host);
		SSL_set1_host(c->ssl, c->srv->host);
	} else {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->srv->host);
	}
	return 1;
}

int client_conn_starttls(struct client_conn *c)
{
	char why[256];

	if (tls_setup(c) < 0)
		return -1;
	ERR_clear_error();
	if (SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();
		ERR_error_string_n(e, why, sizeof(why));
		return client_fail(CLIENT_ERR_NET, "TLS handshake with %s failed: %s",
				   c->srv->host, e != 0 ? why : strerror(errno));
	}
	c->in_pos = c->in_len = 0;
	return check_peer(c);
}

int client_conn_write(struct client_conn *c, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, s, n > 1 << 20 ? 1 << 20 : (int)n);
			w = r > 0 ? r : -1;
		} else {
			w = send(c->fd, s, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return client_fail(CLIENT_ERR_NET, "connection to %s lost while "
					   "sending", c->srv->host);
		s += w;
		n -= (size_t)w;
	}
	return 1;
}

static long raw_read(struct client_conn *c, void *p, size_t n)
{
	long r;

	for (;;) {
		if (c->ssl != NULL) {
			int ret = SSL_read(c->ssl, p, n > 1 << 20 ? 1 << 20 : (int)n);
			r = ret > 0 ? ret : -1;
		} else {
			r = recv(c->fd, p, n, 0);
			if (r < 0 && errno == EINTR)
				continue;
		}
		break;
	}
	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return client_fail(CLIENT_ERR_NET, "%s did not answer within %u s",
					   c->srv->host, c->acct->timeout);
		return client_fail(CLIENT_ERR_NET, "%s closed the connection",
				   c->srv->host);
	}
	return r;
}

long client_conn_read(struct client_conn *c, void *p, size_t n)
{
	if (c->in_pos < c->in_len) {
		size_t k = c->in_len - c->in_pos;
		if (k > n)
			k = n;
		memcpy(p, c->in + c->in_pos, k);
		c->in_pos += k;
		return (long)k;
	}
	return raw_read(c, p, n);
}

int client_conn_line(struct client_conn *c, struct buf *line, size_t max)
{
	buf_reset(line);
	for (;;) {
		if (c->in_pos == c->in_len) {
			long r = raw_read(c, c->in, sizeof(c->in));
			if (r < 0)
				return -1;
			c->in_pos = 0;
			c->in_len = (size_t)r;
		}
		char *start = c->in + c->in_pos;
		char *nl = memchr(start, '\n', c->in_len - c->in_pos);
		size_t k = nl != NULL ? (size_t)(nl - start) : c->in_len - c->in_pos;
		if (line->len + k > max)
			return client_fail(CLIENT_ERR_OTHER, "%s sent a line longer than %zu "
					   "bytes", c->srv->host, max);
		buf_append(line, start, k);
		c->in_pos += k;
		if (nl != NULL) {
			c->in_pos++;
			if (line->len > 0 && line->data[line->len - 1] == '\r')
				buf_truncate(line, line->len - 1);
			return 1;
		}
	}
}

void client_conn_close(struct client_conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ctx != NULL) {
		SSL_CTX_free(c->ctx);
		c->ctx = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}
