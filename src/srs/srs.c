/*
 * srs.c - the Sender Rewriting Scheme: forward (rewrite an envelope sender
 * into SRS0/SRS1 of our domain) and reverse (the original address of an
 * SRS address of ours, checked: hash and time stamp).  Pure, apart from
 * srs_secret_load at the end.  Callers: the relay (mta_session.c) and the
 * SMTP server at RCPT (smtpd_cmd.c); src/srs/fuzz_srs.c fuzzes the parser.
 */
#include "srs/srs.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/encoding.h"
#include "lib/util.h"

static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static bool is_separator(char c)
{
	return c == '=' || c == '+' || c == '-';
}

bool srs_is_srs(const char *address)
{
	return strncasecmp(address, "SRS", 3) == 0 && (address[3] == '0' || address[3] == '1') &&
	       is_separator(address[4]);
}

/* Cut s at the next '=': returns what follows, NULL if there is none. */
static char *cut(char *s)
{
	char *eq = strchr(s, '=');

	if (eq == NULL)
		return NULL;
	*eq = '\0';
	return eq + 1;
}

/*
 * SRS0 local part:  "SRS0" sep hash "=" stamp "=" host "=" user
 * SRS1 local part:  "SRS1" sep hash "=" host "=" rest
 * (sep is one of = + -; rest is an SRS0 local part without "SRS0", its
 * separator first; user may itself contain '=').
 */
int srs_parse(char *local, struct srs_parts *r, const char **error_r)
{
	char *p;

	if (!srs_is_srs(local))
		return 0;
	memset(r, 0, sizeof(*r));
	r->kind = local[3] - '0';
	r->hash = local + 5;
	if ((p = cut(local + 5)) == NULL)
		goto bad;
	if (r->kind == 0) {
		r->stamp = p;
		if ((p = cut(p)) == NULL)
			goto bad;
	}
	r->host = p;
	if ((p = cut(p)) == NULL)
		goto bad;
	r->user = p;
	if (r->hash[0] == '\0' || r->host[0] == '\0' || r->user[0] == '\0' ||
	    (r->kind == 0 && strlen(r->stamp) != 2))
		goto bad;
	return 1;
bad:
	*error_r = r->kind == 0 ? "malformed SRS0 address" : "malformed SRS1 address";
	return -1;
}

void srs_stamp(uint64_t day, char out[3])
{
	out[0] = base32[(day >> 5) & 31];
	out[1] = base32[day & 31];
	out[2] = '\0';
}

/* The day number of a stamp, or -1 when it is not base32. */
static int stamp_day(const char *stamp)
{
	int v = 0;

	for (int i = 0; i < 2; i++) {
		const char *c = strchr(base32, toupper((unsigned char)stamp[i]));
		if (stamp[i] == '\0' || c == NULL)
			return -1;
		v = v * 32 + (int)(c - base32);
	}
	return v;
}

void srs_hash(const struct srs *srs, const char *const *fields, int n,
	      char out[SRS_HASH_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE], text[3 * SRS_ADDRESS_MAX];
	unsigned int md_len = 0;
	struct buf b64;
	size_t len = 0;

	/* the fields in lower case, one after the other (longer than any
	   address of ours: what does not fit is cut, consistently) */
	for (int i = 0; i < n; i++)
		for (const char *p = fields[i]; *p != '\0' && len < sizeof(text); p++)
			text[len++] = (unsigned char)tolower((unsigned char)*p);
	HMAC(EVP_sha1(), srs->secret, (int)srs->secret_len, text, len, md, &md_len);
	buf_init(&b64, 0);
	base64_encode(md, md_len, &b64);
	assert(b64.len >= SRS_HASH_LEN);
	memcpy(out, b64.data, SRS_HASH_LEN);
	out[SRS_HASH_LEN] = '\0';
	buf_deinit(&b64);
}

int srs_forward(const struct srs *srs, const char *sender, uint64_t now, char *out,
		size_t size)
{
	const char *at = strrchr(sender, '@');
	char local[SRS_ADDRESS_MAX], stamp[3], hash[SRS_HASH_LEN + 1];
	const char *host;
	struct srs_parts p;
	const char *error;
	int kind, n;

	if (sender[0] == '\0' || at == NULL || at == sender || at[1] == '\0')
		return 0;
	host = at + 1;
	if (strcasecmp(host, srs->domain) == 0 || strchr(host, '=') != NULL)
		return 0;	/* ours already, or no domain name */
	if ((size_t)(at - sender) >= sizeof(local))
		return -1;
	memcpy(local, sender, (size_t)(at - sender));
	local[at - sender] = '\0';
	kind = srs_parse(local, &p, &error) > 0 ? p.kind : -1;
	if (kind == 1) {
		/* SRS1 of another forwarder: keep its first host and rest */
		const char *f[2] = { p.host, p.user };
		srs_hash(srs, f, 2, hash);
		n = snprintf(out, size, "SRS1=%s=%s=%s@%s", hash, p.host, p.user, srs->domain);
	} else if (kind == 0) {
		/* SRS0 of another forwarder: SRS1 naming that forwarder, the
		   SRS0 remainder (from its separator on) kept as it is */
		const char *f[2] = { host, local };
		snprintf(local, sizeof(local), "%.*s", (int)(at - sender - 4), sender + 4);
		srs_hash(srs, f, 2, hash);
		n = snprintf(out, size, "SRS1=%s=%s=%s@%s", hash, host, local, srs->domain);
	} else {
		const char *f[3] = { stamp, host, local };
		snprintf(local, sizeof(local), "%.*s", (int)(at - sender), sender);
		srs_stamp(now / 86400, stamp);
		srs_hash(srs, f, 3, hash);
		n = snprintf(out, size, "SRS0=%s=%s=%s=%s@%s", hash, stamp, host, local,
			     srs->domain);
	}
	if (n < 0 || (size_t)n >= size)
		return -1;
	return (size_t)(strrchr(out, '@') - out) > SRS_LOCAL_MAX ? 0 : 1;
}

static bool stamp_fresh(const struct srs *srs, const char *stamp, uint64_t now)
{
	int then = stamp_day(stamp);
	uint64_t today = (now / 86400) % 1024;

	if (then < 0)
		return false;
	if (today < (uint64_t)then)
		today += 1024;
	return today - (uint64_t)then <= srs->max_age_days;
}

int srs_reverse(const struct srs *srs, const char *address, uint64_t now, char *out,
		size_t size, const char **error_r)
{
	const char *at = strrchr(address, '@');
	char local[SRS_ADDRESS_MAX], hash[SRS_HASH_LEN + 1];
	struct srs_parts p;
	int ret, n;

	if (at == NULL || !srs_is_srs(address))
		return 0;
	if (strcasecmp(at + 1, srs->domain) != 0)
		return 0;
	if ((size_t)(at - address) >= sizeof(local)) {
		*error_r = "SRS address too long";
		return -1;
	}
	memcpy(local, address, (size_t)(at - address));
	local[at - address] = '\0';
	if ((ret = srs_parse(local, &p, error_r)) <= 0)
		return ret;
	if (p.kind == 0) {
		const char *f[3] = { p.stamp, p.host, p.user };
		srs_hash(srs, f, 3, hash);
	} else {
		const char *f[2] = { p.host, p.user };
		srs_hash(srs, f, 2, hash);
	}
	if (strlen(p.hash) != SRS_HASH_LEN || strcasecmp(p.hash, hash) != 0) {
		*error_r = "bad SRS hash";
		return -1;
	}
	if (p.kind == 0 && !stamp_fresh(srs, p.stamp, now)) {
		*error_r = stamp_day(p.stamp) < 0 ? "bad SRS time stamp" :
			   "expired SRS time stamp";
		return -1;
	}
	if (p.kind == 0)
		n = snprintf(out, size, "%s@%s", p.user, p.host);
	else
		n = snprintf(out, size, "SRS0%s@%s", p.user, p.host);
	if (n < 0 || (size_t)n >= size) {
		*error_r = "SRS address too long";
		return -1;
	}
	return 1;
}

/* A new secret: 32 random bytes, base64, written to a new file. */
static int secret_create(const char *path)
{
	unsigned char raw[32];
	struct buf text;
	int fd, ret = 1;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	/* 45 bytes: the buffer's first allocation holds them, so that no
	   copy of the secret is left behind by a growth */
	buf_init(&text, 0);
	base64_encode(raw, sizeof(raw), &text);
	buf_putc(&text, '\n');
	explicit_bzero(raw, sizeof(raw));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		ret = errno == EEXIST ? 0 : -1;
	} else if (write_all(fd, text.data, text.len) < 0 || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		ret = -1;
	} else if (close(fd) < 0) {
		ret = -1;
	}
	explicit_bzero(text.data, text.cap);
	buf_deinit(&text);
	return ret;
}

int srs_secret_load(struct srs *srs, const char *path, const char **error_r)
{
	char text[SRS_SECRET_MAX + 2];
	ssize_t n;
	size_t len;
	int fd;

	if (secret_create(path) < 0) {
		*error_r = "cannot create the SRS secret file";
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		*error_r = "cannot open the SRS secret file";
		return -1;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		*error_r = "cannot read the SRS secret file";
		return -1;
	}
	text[n] = '\0';
	len = strcspn(text, "\r\n");
	if (len == 0 || len > SRS_SECRET_MAX) {
		*error_r = "the SRS secret file's first line is empty or too long";
		explicit_bzero(text, sizeof(text));
		return -1;
	}
	memcpy(srs->secret, text, len);
	srs->secret_len = len;
	explicit_bzero(text, sizeof(text));
	return 1;
}
