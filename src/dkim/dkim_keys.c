/*
 * dkim_keys.c - the signing keys of the local domains: PEM (PKCS #8)
 * private keys in data_dir/dkim/<domain>/<selector>.rsa.key and
 * <selector>.ed25519.key, mode 0600, and a file "signing" naming the
 * selectors that sign new mail ("rsa SELECTOR" and "ed25519 SELECTOR"
 * lines).  A key that no longer signs stays until retired, so that its
 * DNS record can stay published while signed mail is still in transit.
 *
 * The signing keys are read once per process and kept (dkim_keys_load): a
 * later load costs a stat of the "signing" file, and reads the keys again
 * only when that file was replaced (a rotation).
 */
#include "dkim/dkim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/encoding.h"
#include "lib/util.h"

static const char *alg_ext(enum dkim_alg alg)
{
	return alg == DKIM_ALG_RSA_SHA256 ? "rsa" : "ed25519";
}

/* A domain name usable as a directory name. */
static bool domain_ok(const char *d)
{
	if (d[0] == '\0' || d[0] == '.' || strlen(d) > 253)
		return false;
	for (const char *p = d; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.' || *p == '_'))
			return false;
	return strstr(d, "..") == NULL;
}

static bool selector_ok(const char *s)
{
	if (s[0] == '\0' || strlen(s) >= 64)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static int domain_dir(const char *data_dir, const char *domain, char *out, size_t size,
		      const char **error_r)
{
	if (!domain_ok(domain)) {
		*error_r = "invalid domain name (lower case letters, digits, '-' and '.')";
		return -1;
	}
	if ((size_t)snprintf(out, size, "%s/dkim/%s", data_dir, domain) >= size) {
		*error_r = "path too long";
		return -1;
	}
	return 1;
}

static void key_path(const char *dir, const char *selector, enum dkim_alg alg,
		     char *out, size_t size)
{
	snprintf(out, size, "%s/%s.%s.key", dir, selector, alg_ext(alg));
}

/* The signing selectors of dir: rsa[0] / ed[0] are "" when unset. */
static int read_signing(const char *dir, char rsa[64], char ed[64])
{
	char path[1400], line[200], alg[16], sel[64];
	FILE *f;

	rsa[0] = ed[0] = '\0';
	snprintf(path, sizeof(path), "%s/signing", dir);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%15s %63s", alg, sel) != 2 || !selector_ok(sel))
			continue;
		if (strcmp(alg, "rsa") == 0)
			str_copy(rsa, sel, 64);
		else if (strcmp(alg, "ed25519") == 0)
			str_copy(ed, sel, 64);
	}
	fclose(f);
	return 1;
}

static int write_signing(const char *dir, const char *rsa, const char *ed)
{
	char path[1400], tmp[1420];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/signing", dir);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	if (f == NULL)
		return -1;
	ok = fprintf(f, "rsa %s\ned25519 %s\n", rsa, ed) > 0 && fflush(f) == 0 &&
	     fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 1;
}

static int write_key(const char *path, EVP_PKEY *pkey)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;
	int ok;

	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
	     fflush(f) == 0 && fsync(fd) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok)
		unlink(path);
	return ok ? 1 : -1;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (f == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* A free pair of selectors for this month: c202612r / c202612e, then
   c202612r2 / c202612e2, ... */
static int pick_selectors(const char *dir, char *rsa, char *ed)
{
	time_t now = time(NULL);
	struct tm tm;
	char base[32], path[1400];

	gmtime_r(&now, &tm);
	snprintf(base, sizeof(base), "c%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
	for (unsigned n = 1; n < 1000; n++) {
		char num[8] = "";
		struct stat st;

		if (n > 1)
			snprintf(num, sizeof(num), "%u", n);
		snprintf(rsa, 64, "%sr%s", base, num);
		snprintf(ed, 64, "%se%s", base, num);
		key_path(dir, rsa, DKIM_ALG_RSA_SHA256, path, sizeof(path));
		if (stat(path, &st) == 0)
			continue;
		key_path(dir, ed, DKIM_ALG_ED25519_SHA256, path, sizeof(path));
		if (stat(path, &st) == 0)
			continue;
		return 1;
	}
	return -1;
}

int dkim_keys_create(const char *data_dir, const char *domain, char *rsa_sel,
		     char *ed_sel, const char **error_r)
{
	char dir[1200], path[1400];
	EVP_PKEY *rsa = NULL, *ed = NULL;
	int ret = -1;

	if (domain_dir(data_dir, domain, dir, sizeof(dir), error_r) < 0)
		return -1;
	if (mkdir_p(dir, 0700) < 0) {
		*error_r = "cannot create the key directory";
		return -1;
	}
	if (pick_selectors(dir, rsa_sel, ed_sel) < 0) {
		*error_r = "no free selector name this month";
		return -1;
	}
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	*error_r = "cannot generate the keys";
	if (rsa == NULL || ed == NULL)
		goto out;
	*error_r = "cannot write the key files";
	key_path(dir, rsa_sel, DKIM_ALG_RSA_SHA256, path, sizeof(path));
	if (write_key(path, rsa) < 0)
		goto out;
	key_path(dir, ed_sel, DKIM_ALG_ED25519_SHA256, path, sizeof(path));
	if (write_key(path, ed) < 0)
		goto out;
	if (write_signing(dir, rsa_sel, ed_sel) < 0 || fsync_dir(dir) < 0)
		goto out;
	ret = 1;
out:
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	return ret;
}

/* The keys of one domain directory as last read, valid while its
   "signing" file is the same file (a rotation replaces it by rename; a
   key file is never rewritten in place: a new key gets a new selector). */
struct key_cache_entry {
	char dir[1200];
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	struct dkim_key keys[2];
	unsigned n;
	uint64_t used;		/* for evicting the least recently used */
};

#define KEY_CACHE_MAX 64

static struct key_cache_entry key_cache[KEY_CACHE_MAX];
static uint64_t key_cache_clock;
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static bool same_file(const struct key_cache_entry *c, const struct stat *st)
{
	return c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
	       c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Copy n keys, each EVP_PKEY up-referenced. */
static void keys_copy(struct dkim_key *to, const struct dkim_key *from, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		to[i] = from[i];
		EVP_PKEY_up_ref(to[i].pkey);
	}
}

/* The cached keys of dir whose signing file is st: 1 copied, 0 not cached. */
static int cache_get(const char *dir, const struct stat *st, struct dkim_key *keys,
		     unsigned *n_r)
{
	int ret = 0;

	pthread_mutex_lock(&key_cache_lock);
	for (unsigned i = 0; i < KEY_CACHE_MAX && ret == 0; i++) {
		struct key_cache_entry *c = &key_cache[i];
		if (c->n == 0 || strcmp(c->dir, dir) != 0 || !same_file(c, st))
			continue;
		keys_copy(keys, c->keys, c->n);
		*n_r = c->n;
		c->used = ++key_cache_clock;
		ret = 1;
	}
	pthread_mutex_unlock(&key_cache_lock);
	return ret;
}

/* Remember the keys of dir (replacing what it had, else the least
   recently used entry). */
static void cache_put(const char *dir, const struct stat *st, const struct dkim_key *keys,
		      unsigned n)
{
	struct key_cache_entry *c = &key_cache[0];

	pthread_mutex_lock(&key_cache_lock);
	for (unsigned i = 0; i < KEY_CACHE_MAX; i++) {
		if (key_cache[i].n > 0 && strcmp(key_cache[i].dir, dir) == 0) {
			c = &key_cache[i];
			break;
		}
		if (key_cache[i].used < c->used)
			c = &key_cache[i];
	}
	dkim_keys_unload(c->keys, c->n);
	str_copy(c->dir, dir, sizeof(c->dir));
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	keys_copy(c->keys, keys, n);
	c->n = n;
	c->used = ++key_cache_clock;
	pthread_mutex_unlock(&key_cache_lock);
}

/* Read the signing keys of dir from disk. */
static int keys_read(const char *dir, struct dkim_key *keys, unsigned *n_r,
		     const char **error_r)
{
	char path[1400], sel[2][64];
	enum dkim_alg algs[2] = { DKIM_ALG_RSA_SHA256, DKIM_ALG_ED25519_SHA256 };

	if (read_signing(dir, sel[0], sel[1]) < 0) {
		*error_r = "cannot read the signing selectors";
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (sel[i][0] == '\0')
			continue;
		key_path(dir, sel[i], algs[i], path, sizeof(path));
		keys[*n_r].pkey = read_key(path);
		if (keys[*n_r].pkey == NULL) {
			dkim_keys_unload(keys, *n_r);
			*n_r = 0;
			*error_r = "cannot read a signing key";
			return -1;
		}
		keys[*n_r].alg = algs[i];
		str_copy(keys[*n_r].selector, sel[i], sizeof(keys[*n_r].selector));
		(*n_r)++;
	}
	return *n_r > 0 ? 1 : 0;
}

int dkim_keys_load(const char *data_dir, const char *domain, struct dkim_key *keys,
		   unsigned *n_r, const char **error_r)
{
	char dir[1200], path[1400];
	struct stat st;
	int ret;

	*n_r = 0;
	if (domain_dir(data_dir, domain, dir, sizeof(dir), error_r) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/signing", dir);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot read the signing selectors";
		return -1;
	}
	if (cache_get(dir, &st, keys, n_r) > 0)
		return 1;
	if ((ret = keys_read(dir, keys, n_r, error_r)) > 0)
		cache_put(dir, &st, keys, *n_r);
	return ret;
}

void dkim_keys_unload(struct dkim_key *keys, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		EVP_PKEY_free(keys[i].pkey);
		keys[i].pkey = NULL;
	}
}

/* "v=DKIM1; k=...; p=<base64 public key>" of a private key. */
static int record_text(EVP_PKEY *k, enum dkim_alg alg, char *out, size_t size)
{
	unsigned char der[1024], *p = der;
	struct buf b64;
	size_t len = sizeof(der);
	int n;

	if (alg == DKIM_ALG_RSA_SHA256) {
		n = i2d_PUBKEY(k, NULL);
		if (n <= 0 || (size_t)n > sizeof(der) || i2d_PUBKEY(k, &p) != n)
			return -1;
		len = (size_t)n;
	} else if (EVP_PKEY_get_raw_public_key(k, der, &len) != 1) {
		return -1;
	}
	buf_init(&b64, 0);
	base64_encode(der, len, &b64);
	snprintf(out, size, "v=DKIM1; k=%s; p=%s", alg_ext(alg), buf_cstr(&b64));
	buf_deinit(&b64);
	return 1;
}

static int record_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dkim_record *)a)->selector,
		      ((const struct dkim_record *)b)->selector);
}

int dkim_keys_list(const char *data_dir, const char *domain, struct dkim_record *recs,
		   unsigned max, const char **error_r)
{
	char dir[1200], path[1400], rsa[64], ed[64];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	if (domain_dir(data_dir, domain, dir, sizeof(dir), error_r) < 0)
		return -1;
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot read the key directory";
		return -1;
	}
	read_signing(dir, rsa, ed);
	while ((de = readdir(d)) != NULL && n < max) {
		size_t len = strlen(de->d_name);
		struct dkim_record *r = &recs[n];
		EVP_PKEY *k;

		if (len > 8 && strcmp(de->d_name + len - 8, ".rsa.key") == 0)
			r->alg = DKIM_ALG_RSA_SHA256, len -= 8;
		else if (len > 12 && strcmp(de->d_name + len - 12, ".ed25519.key") == 0)
			r->alg = DKIM_ALG_ED25519_SHA256, len -= 12;
		else
			continue;
		if (len >= sizeof(r->selector))
			continue;
		memcpy(r->selector, de->d_name, len);
		r->selector[len] = '\0';
		key_path(dir, r->selector, r->alg, path, sizeof(path));
		if ((k = read_key(path)) == NULL)
			continue;
		if (record_text(k, r->alg, r->txt, sizeof(r->txt)) > 0) {
			r->signing = strcmp(r->selector, r->alg == DKIM_ALG_RSA_SHA256 ? rsa : ed) == 0;
			n++;
		}
		EVP_PKEY_free(k);
	}
	closedir(d);
	qsort(recs, n, sizeof(*recs), record_cmp);
	return (int)n;
}

int dkim_keys_retire(const char *data_dir, const char *domain, const char *selector,
		     const char **error_r)
{
	char dir[1200], path[1400], rsa[64], ed[64];
	int found = 0;

	if (domain_dir(data_dir, domain, dir, sizeof(dir), error_r) < 0)
		return -1;
	if (!selector_ok(selector))
		return 0;
	read_signing(dir, rsa, ed);
	if (strcmp(selector, rsa) == 0 || strcmp(selector, ed) == 0) {
		*error_r = "this selector still signs; rotate first";
		return -1;
	}
	key_path(dir, selector, DKIM_ALG_RSA_SHA256, path, sizeof(path));
	found += unlink(path) == 0;
	key_path(dir, selector, DKIM_ALG_ED25519_SHA256, path, sizeof(path));
	found += unlink(path) == 0;
	if (found > 0)
		fsync_dir(dir);
	return found > 0 ? 1 : 0;
}
