/*
 * cmd_tls.c - `correio tls show`: the certificates the server presents,
 * as an operator checks them: subject, issuer, names, validity, the
 * SHA-256 fingerprint of the certificate and of its public key (the pin
 * curl --pinnedpubkey takes), and for the self-signed one the file that
 * holds the certificate alone, to give to clients.  Reads only: a missing
 * self-signed certificate is made by the first `correio serve`.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/buf.h"
#include "lib/encoding.h"
#include "lib/util.h"
#include "tls/tls.h"

static const char tls_usage[] =
	"usage: correio tls show\n"
	"       correio tls renew\n"
	"\n"
	"show: each certificate the server presents (the configured ones, else the\n"
	"one issued by ACME with [tls] acme = yes, else the self-signed one in\n"
	"data_dir/tls/): subject, issuer, names, validity and SHA-256 fingerprints\n"
	"of the certificate and of its public key.\n"
	"renew: with [tls] acme = yes, have the running server order a new\n"
	"certificate now, whatever the age of the current one (the log tells\n"
	"the outcome).\n";

static void print_name(const char *label, const X509_NAME *name)
{
	BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);

	printf("  %-12s ", label);
	fflush(stdout);
	X509_NAME_print_ex(out, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	BIO_free(out);
	printf("\n");
}

static void print_time(const char *label, const ASN1_TIME *t)
{
	struct tm tm;
	char text[64];
	int days, secs;

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		printf("  %-12s (unreadable)\n", label);
		return;
	}
	strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &tm);
	ASN1_TIME_diff(&days, &secs, NULL, t);
	if (days > 0 || (days == 0 && secs > 0))
		printf("  %-12s %s (in %d day%s)\n", label, text, days, days == 1 ? "" : "s");
	else
		printf("  %-12s %s (%d day%s ago)\n", label, text, -days, days == -1 ? "" : "s");
}

static void print_hex(const char *label, const unsigned char *md, unsigned n)
{
	struct buf hex;

	buf_init(&hex, 0);
	hex_fingerprint(md, n, &hex);
	printf("  %-12s %s\n", label, buf_cstr(&hex));
	buf_deinit(&hex);
}

static int show_one(const char *path, const char *crt_path)
{
	unsigned char md[EVP_MAX_MD_SIZE], *spki = NULL;
	unsigned n = 0;
	struct buf names;
	X509 *cert;
	FILE *f;
	int len;

	if ((f = fopen(path, "re")) == NULL) {
		cli_error("tls show", "%s: %m", path);
		return -1;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL) {
		cli_error("tls show", "%s: no PEM certificate in it", path);
		return -1;
	}
	printf("%s\n", path);
	print_name("subject:", X509_get_subject_name(cert));
	print_name("issuer:", X509_get_issuer_name(cert));
	buf_init(&names, 0);
	tls_cert_names(cert, &names);
	for (char *p = names.data; p != NULL && p < names.data + names.len; p++)
		if (*p == ',')
			*p = ' ';
	printf("  %-12s %s\n", "names:", names.len > 0 ? buf_cstr(&names) : "(none)");
	buf_deinit(&names);
	print_time("not before:", X509_get0_notBefore(cert));
	print_time("not after:", X509_get0_notAfter(cert));
	if (X509_digest(cert, EVP_sha256(), md, &n))
		print_hex("sha256:", md, n);
	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki)) > 0) {
		struct buf b64;
		buf_init(&b64, 0);
		EVP_Digest(spki, (size_t)len, md, &n, EVP_sha256(), NULL);
		base64_encode(md, n, &b64);
		printf("  %-12s sha256//%s\n", "public key:", buf_cstr(&b64));
		buf_deinit(&b64);
		OPENSSL_free(spki);
	}
	if (crt_path != NULL)
		printf("  %-12s %s (the certificate alone, for clients to pin)\n", "cert file:",
		       crt_path);
	X509_free(cert);
	return 1;
}

static int tls_show(const struct config *cfg)
{
	const char *p = cfg->tls_certificate;
	char path[1100], crt[1200];
	int ret = 1, n = 0;
	size_t len;

	if (cfg->tls_certificate[0] == '\0' && cfg->acme) {
		tls_acme_cert_path(cfg, path, sizeof(path));
		if (access(path, F_OK) == 0) {
			tls_selfsigned_crt_path(path, crt, sizeof(crt));
			printf("ACME, from %s: ", cfg->acme_directory);
			return show_one(path, crt);
		}
		printf("ACME: none issued yet by %s, the self-signed one serves\n",
		       cfg->acme_directory);
	}
	if (cfg->tls_certificate[0] == '\0') {
		snprintf(path, sizeof(path), "%s/tls/selfsigned.pem", cfg->data_dir);
		tls_selfsigned_crt_path(path, crt, sizeof(crt));
		printf("self-signed (no [tls] certificate configured): ");
		return show_one(path, crt);
	}
	for (;;) {
		p += strspn(p, ", \t");
		if ((len = strcspn(p, ", \t")) == 0)
			break;
		snprintf(path, sizeof(path), "%.*s", (int)len, p);
		if (n++ > 0)
			printf("\n");
		if (show_one(path, NULL) < 0)
			ret = -1;
		p += len;
	}
	return ret;
}

int cmd_tls(int argc, char **argv, struct config *cfg)
{
	if (argc < 2) {
		cli_error("tls", "missing subcommand");
		fputs(tls_usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    cli_wants_help(argc - 1, argv + 1)) {
		fputs(tls_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "renew") == 0) {
		if (cli_operands(argc - 1, argv + 1, "tls renew", tls_usage, 0, 0) < 0)
			return 2;
		if (!cfg->acme) {
			cli_error("tls renew", "[tls] acme is not enabled in %s",
				  cfg->path[0] != '\0' ? cfg->path : "the configuration");
			return 1;
		}
		return cli_control_request(cfg, "tls renew", "ACMERENEW\n");
	}
	if (strcmp(argv[1], "show") != 0) {
		cli_error("tls", "unknown subcommand '%s'", argv[1]);
		fputs(tls_usage, stderr);
		return 2;
	}
	if (cli_operands(argc - 1, argv + 1, "tls show", tls_usage, 0, 0) < 0)
		return 2;
	return tls_show(cfg) > 0 ? 0 : 1;
}
