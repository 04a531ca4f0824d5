/*
 * tls_selfsigned.c - the certificate correio makes for itself when none is
 * configured: EC P-256, CN and subjectAltName = the hostname, ten years,
 * written with its key to one PEM file (0600) atomically.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

static X509 *make_cert(EVP_PKEY *key, const char *host)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_get_subject_name(cert);
	unsigned char serial[16];
	BIGNUM *bn;
	char san[300];

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
	snprintf(san, sizeof(san), "DNS:%s", host);
	if (add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    X509_sign(cert, key, EVP_sha256()) == 0) {
		X509_free(cert);
		return NULL;
	}
	return cert;
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

int tls_selfsigned_create(const struct config *cfg, const char *path, struct buf *error)
{
	char dir[1100];
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key == NULL ? NULL : make_cert(key, cfg->hostname);
	int ret = -1;

	snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
	if (cert == NULL)
		buf_printf(error, "cannot create a self-signed certificate");
	else if (mkdir_p(dir, 0700) < 0 || write_pem(path, key, cert) < 0)
		buf_printf(error, "cannot write %s: %m", path);
	else
		ret = 1;
	if (ret > 0)
		log_info("tls: created a self-signed certificate for %s in %s",
			 cfg->hostname, path);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ret;
}
