/*
 * password.c - password hashing and verification with libxcrypt.
 *
 * New hashes are yescrypt ("$y$", libxcrypt's default cost); verification
 * accepts every method libxcrypt supports, so hashes imported from other
 * systems (bcrypt "$2b$", sha512-crypt "$6$") keep working.  Used by the
 * account store and, through it, by the SMTP/IMAP/POP3 authentication code.
 *
 * Thread-safe: every call uses its own struct crypt_data (about 32 KiB,
 * allocated on the heap so that worker threads with small stacks are fine),
 * wiped before it is freed because it holds password-derived state.
 */
#include "auth/password.h"
#include "lib/encoding.h"
#include "lib/util.h"

#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Used only if the system cannot hash at all; any valid yescrypt hash will
   do, as nobody will ever log in with it. */
#define PASSWORD_FALLBACK_DUMMY \
	"$y$j9T$.owQ.3SpJJQT5qOfnu3U21$jnCutBCGPlVWIt4n5Qd03XIvgHEvIghULTF92n0qYU7"

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[CRYPT_OUTPUT_SIZE];

/* crypt_rn(password, setting) into out.  Returns 1, or -1 on failure. */
static int password_crypt(const char *password, const char *setting,
			  char *out, size_t size)
{
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	const char *res;
	int ret = -1;

	res = crypt_rn(password, setting, data, sizeof(*data));
	if (res != NULL && res[0] != '*' && strlen(res) < size) {
		memcpy(out, res, strlen(res) + 1);
		ret = 1;
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ret;
}

int password_hash(const char *password, char *out, size_t size)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return -1;
	return password_crypt(password, salt, out, size);
}

/* Compare without an early exit, so that the time taken does not tell how
   much of the hash matched.  The lengths are not secret. */
static int password_const_eq(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	unsigned char diff = alen != blen;

	for (size_t i = 0; i < alen && i < blen; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int password_verify(const char *password, const char *hash)
{
	char computed[CRYPT_OUTPUT_SIZE];
	int ret;

	/* "", "*" and "!..." are locked or disabled accounts. */
	if (hash[0] == '\0' || hash[0] == '*' || hash[0] == '!')
		return -1;
	if (password_crypt(password, hash, computed, sizeof(computed)) < 0)
		return -1;
	ret = password_const_eq(computed, hash);
	explicit_bzero(computed, sizeof(computed));
	return ret;
}

static void password_dummy_init(void)
{
	unsigned char rnd[16];
	char secret[2 * sizeof(rnd) + 1];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), secret);
	if (password_hash(secret, dummy_hash, sizeof(dummy_hash)) < 0)
		memcpy(dummy_hash, PASSWORD_FALLBACK_DUMMY,
		       sizeof(PASSWORD_FALLBACK_DUMMY));
	explicit_bzero(rnd, sizeof(rnd));
	explicit_bzero(secret, sizeof(secret));
}

const char *password_dummy_hash(void)
{
	pthread_once(&dummy_once, password_dummy_init);
	return dummy_hash;
}
