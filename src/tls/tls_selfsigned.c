/*
 * tls_selfsigned.c - the certificate correio makes for itself when none is
 * configured: EC P-256, CN = the hostname, ten years, written with its
 * key to one PEM file (0600) atomically, and alone to a second file
 * beside it (<name>.crt, 0644) that clients can be given to pin it.
 *
 * Its subjectAltName holds every name a client may use to reach this
 * server: the hostname, each local domain of the configuration and
 * "mail.<domain>" for those with a dot, localhost, 127.0.0.1 and ::1.
 * At each start and reload the certificate is checked: one that lacks a
 * name now wanted (the hostname or the local domains changed) or that
 * ends within 30 days is made again.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "tls/tls.h"

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 1;
}

#define RENEW_BEFORE (30L * 86400)

/* Add "DNS:<name>" to san unless names (NUL-separated) has it already. */
static void add_dns(struct buf *san, struct buf *names, const char *name)
{
	for (const char *q = names->data; q != NULL && q < names->data + names->len;
	     q += strlen(q) + 1)
		if (strcasecmp(q, name) == 0)
			return;
	buf_append(names, name, strlen(name) + 1);
	buf_printf(san, "%sDNS:%s", san->len > 0 ? "," : "", name);
}

/* The subjectAltName entries wanted, "DNS:a,DNS:b,IP:127.0.0.1,...", each
   name once (case-insensitive). */
static void wanted_names(const struct config *cfg, struct buf *san)
{
	const char *p = cfg->local_domains;
	struct buf names;
	char name[300];
	size_t len;

	buf_init(&names, 0);
	buf_reset(san);
	if (cfg->hostname[0] != '\0')
		add_dns(san, &names, cfg->hostname);
	for (;;) {
		p += strspn(p, ", \t");
		if ((len = strcspn(p, ", \t")) == 0 || len >= 250)
			break;
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		add_dns(san, &names, name);
		if (memchr(p, '.', len) != NULL) {
			snprintf(name, sizeof(name), "mail.%.*s", (int)len, p);
			add_dns(san, &names, name);
		}
		p += len;
	}
	add_dns(san, &names, "localhost");
	buf_printf(san, ",IP:127.0.0.1,IP:::1");
	buf_deinit(&names);
}

static X509 *make_cert(EVP_PKEY *key, const char *host, const char *san)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_get_subject_name(cert);
	unsigned char serial[16];
	BIGNUM *bn;

	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	BN_free(bn);
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 86400);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)host,
				   -1, -1, 0);
	X509_set_issuer_name(cert, name);
	X509_set_pubkey(cert, key);
	if (add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
	    X509_sign(cert, key, EVP_sha256()) == 0) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* The subjectAltName entries of cert as "DNS:a,IP:127.0.0.1" into out. */
void tls_cert_names(X509 *cert, struct buf *out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

	buf_reset(out);
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[64];
		if (g->type == GEN_DNS) {
			buf_printf(out, "%sDNS:%.*s", out->len > 0 ? "," : "",
				   ASN1_STRING_length(g->d.dNSName),
				   (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			int n = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
			if ((n == 4 && inet_ntop(AF_INET, a, ip, sizeof(ip)) != NULL) ||
			    (n == 16 && inet_ntop(AF_INET6, a, ip, sizeof(ip)) != NULL))
				buf_printf(out, "%sIP:%s", out->len > 0 ? "," : "", ip);
		}
	}
	GENERAL_NAMES_free(gens);
}

/* Does cert name every entry of the list wanted ("DNS:a,IP:..."), and
   stay valid for RENEW_BEFORE more?  The reason it does not in why. */
static bool cert_fits(X509 *cert, const char *wanted, const char **why)
{
	struct buf have;
	char item[320];
	bool ok = true;
	time_t soon = time(NULL) + RENEW_BEFORE;

	if (X509_cmp_time(X509_get0_notAfter(cert), &soon) <= 0) {
		*why = "it expires within 30 days";
		return false;
	}
	buf_init(&have, 0);
	tls_cert_names(cert, &have);
	for (const char *p = wanted; ok && *p != '\0';) {
		size_t len = strcspn(p, ",");
		const char *h = buf_cstr(&have);
		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		ok = false;
		while (!ok && *h != '\0') {
			size_t hl = strcspn(h, ",");
			ok = hl == strlen(item) && strncasecmp(h, item, hl) == 0;
			h += hl + (h[hl] == ',');
		}
		p += len + (p[len] == ',');
	}
	if (!ok)
		*why = "the names it should carry changed";
	buf_deinit(&have);
	return ok;
}

static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	char tmp[1200];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) &&
	     PEM_write_X509(f, cert) && fflush(f) == 0 && fsync(fd) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 1;
}

/* The certificate alone, beside the key file: <path without .pem>.crt. */
void tls_selfsigned_crt_path(const char *pem_path, char *out, size_t size)
{
	size_t n = strlen(pem_path);

	if (n > 4 && strcmp(pem_path + n - 4, ".pem") == 0)
		n -= 4;
	snprintf(out, size, "%.*s.crt", (int)n, pem_path);
}

/* Write the certificate alone (0644) unless that file already says so. */
static int write_crt(const char *pem_path, X509 *cert)
{
	char path[1200], tmp[1210];
	BIO *mem = BIO_new(BIO_s_mem());
	struct buf have;
	char *data;
	long len;
	int fd, ret = 1;

	tls_selfsigned_crt_path(pem_path, path, sizeof(path));
	if (mem == NULL || !PEM_write_bio_X509(mem, cert)) {
		BIO_free(mem);
		return -1;
	}
	len = BIO_get_mem_data(mem, &data);
	buf_init(&have, 1 << 20);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		char chunk[4096];
		ssize_t n;
		while ((n = read(fd, chunk, sizeof(chunk))) > 0)
			buf_append(&have, chunk, (size_t)n);
		close(fd);
	}
	if (have.len != (size_t)len || memcmp(have.data, data, (size_t)len) != 0) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 || fchmod(fd, 0644) < 0 || write_all(fd, data, (size_t)len) < 0 ||
		    fsync(fd) < 0)
			ret = -1;
		if (fd >= 0 && close(fd) < 0)
			ret = -1;
		if (ret > 0 && rename(tmp, path) < 0)
			ret = -1;
		if (ret < 0)
			unlink(tmp);
	}
	buf_deinit(&have);
	BIO_free(mem);
	return ret;
}

int tls_selfsigned_create(const struct config *cfg, const char *path, struct buf *error)
{
	char dir[1100];
	struct buf san;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	int ret = -1;

	buf_init(&san, 0);
	wanted_names(cfg, &san);
	if (key != NULL)
		cert = make_cert(key, cfg->hostname, buf_cstr(&san));
	snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
	if (cert == NULL)
		buf_printf(error, "cannot create a self-signed certificate");
	else if (mkdir_p(dir, 0700) < 0 || write_pem(path, key, cert) < 0 ||
		 write_crt(path, cert) < 0)
		buf_printf(error, "cannot write %s: %m", path);
	else
		ret = 1;
	if (ret > 0)
		log_info("tls: created a self-signed certificate for %s in %s (%s)",
			 cfg->hostname, path, buf_cstr(&san));
	buf_deinit(&san);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ret;
}

int tls_selfsigned_ensure(const struct config *cfg, const char *path, struct buf *error)
{
	const char *why = NULL;
	struct buf san;
	X509 *cert = NULL;
	FILE *f;
	int ret = 0;

	if ((f = fopen(path, "re")) != NULL) {
		cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (cert != NULL) {
		buf_init(&san, 0);
		wanted_names(cfg, &san);
		if (cert_fits(cert, buf_cstr(&san), &why))
			ret = write_crt(path, cert) < 0 ? -1 : 1;
		buf_deinit(&san);
		X509_free(cert);
		ERR_clear_error();
		if (ret < 0)
			buf_printf(error, "cannot write the certificate beside %s: %m", path);
		if (ret != 0)
			return ret;
		log_info("tls: making the self-signed certificate again: %s", why);
	}
	ERR_clear_error();
	return tls_selfsigned_create(cfg, path, error);
}
