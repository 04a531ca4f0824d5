#ifndef CORREIO_SRS_H
#define CORREIO_SRS_H
/*
 * srs: the Sender Rewriting Scheme, so that mail forwarded to another
 * domain (an alias, a Sieve redirect) passes SPF at the next hop and its
 * bounces still reach the original sender.  The forms are those of the
 * Shevek/libsrs2 description (also postsrsd's, so a postsrsd secret can be
 * reused):
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@our-domain
 *   SRS1=HHHH=first-domain==HHHH=TT=orig-domain=orig-local@our-domain
 *
 * HHHH is the first 4 characters of the base64 HMAC-SHA1, keyed with the
 * secret, of the other fields in lower case (TT, domain, local for SRS0;
 * first-domain and the SRS0 remainder for SRS1); TT is the day number
 * (unix time / 86400) modulo 1024 in two base32 characters.  An SRS0
 * address of another domain that is forwarded again becomes SRS1 (its
 * remainder kept as it is, so the first forwarder still reverses it); an
 * SRS1 address stays SRS1 with our hash.  The hash and the stamp are
 * compared without regard to case: some hops change the case of local
 * parts.
 *
 * Pure functions (no I/O) apart from srs_secret_load.  Used by the relay
 * (the envelope sender of a forwarded copy) and by the SMTP server (a
 * bounce to an SRS address at RCPT).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRS_ADDRESS_MAX 512
#define SRS_LOCAL_MAX 64	/* RFC 5321 §4.5.3.1.1, as RCPT checks it */
#define SRS_SECRET_MAX 256
#define SRS_HASH_LEN 4
#define SRS_DEFAULT_MAX_AGE_DAYS 21

struct srs {
	unsigned char secret[SRS_SECRET_MAX];
	size_t secret_len;
	char domain[256];	/* the domain of rewritten addresses, lower case */
	unsigned max_age_days;	/* a reversed address older than this is refused */
};

/* The fields of an SRS local part (pointers into a copy the caller owns). */
struct srs_parts {
	int kind;		/* 0 for SRS0, 1 for SRS1 */
	const char *hash;
	const char *stamp;	/* SRS0 only */
	const char *host;	/* SRS0: the original domain; SRS1: the first forwarder */
	const char *user;	/* SRS0: the original local part; SRS1: the SRS0
				   remainder, starting with its separator */
};

/* Does local part (or whole address) begin with SRS0 or SRS1 and a
   separator (= + -), in any case? */
bool srs_is_srs(const char *address);

/*
 * Split the local part local (modified in place: separators become NULs)
 * into r.  Returns 1, 0 when local is not an SRS local part, -1 when it is
 * one but malformed (error_r says how).
 */
int srs_parse(char *local, struct srs_parts *r, const char **error_r);

/* The two-character time stamp of day (unix time / 86400). */
void srs_stamp(uint64_t day, char out[3]);

/*
 * The hash of the n strings fields (lower-cased) with the secret: the
 * first SRS_HASH_LEN characters of the base64 HMAC-SHA1, into out.
 */
void srs_hash(const struct srs *srs, const char *const *fields, int n,
	      char out[SRS_HASH_LEN + 1]);

/*
 * The rewritten form of sender ("local@domain") at time now, into out.
 * Returns 1 rewritten, 0 when it is left alone (the null sender, no '@',
 * a domain with '=' in it, a sender of srs->domain already, or one whose
 * SRS local part would pass RFC 5321's SRS_LOCAL_MAX octets: our own SMTP
 * server, like other strict ones, would refuse the bounce to it), -1 when
 * the result does not fit in size (the caller keeps the sender as it is).
 */
int srs_forward(const struct srs *srs, const char *sender, uint64_t now, char *out,
		size_t size);

/*
 * The address an SRS address of ours stands for at time now: user@host for
 * SRS0, the SRS0 address of the first forwarder for SRS1.  Returns 1 with
 * out filled, 0 when address is not an SRS address, -1 when it is one but
 * must be refused: *error_r says why ("bad hash", "expired time stamp",
 * "malformed ...").
 */
int srs_reverse(const struct srs *srs, const char *address, uint64_t now, char *out,
		size_t size, const char **error_r);

/*
 * Read the secret (the first line of path) into srs, creating the file
 * with a new random secret, mode 0600, when it does not exist.  Returns 1,
 * or -1 with *error_r (static text; errno kept).
 */
int srs_secret_load(struct srs *srs, const char *path, const char **error_r);

struct config;

/*
 * srs_setup.c: the SRS of configuration cfg into *r (caller frees with
 * free()): NULL when [srs] enabled = no; domain = [srs] domain, else the
 * first local domain, else the hostname; the secret from [srs]
 * secret_file, else data_dir/srs.secret (created at first use).  Returns
 * 1, or -1 with *error_r (and *r NULL).
 */
int srs_setup(const struct config *cfg, struct srs **r, const char **error_r);

/* Wipe the secret and free *srs (NULL allowed); sets it to NULL. */
void srs_free(struct srs **srs);

/* The domain SRS addresses of cfg use, into out (see srs_setup). */
void srs_config_domain(const struct config *cfg, char *out, size_t size);

#endif
