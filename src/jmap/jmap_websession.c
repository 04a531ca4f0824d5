/*
 * jmap_websession.c - the webmail's sign-in sessions (see the header) and
 * the Cookie header.  A flat array scanned in full: a few thousand entries
 * at most, and every lookup compares whole ids in constant time.
 */
#include "jmap_websession.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/util.h"

struct websession {
	char id[JMAP_WEB_ID_LEN + 1];	/* "" = free slot */
	char csrf[JMAP_WEB_ID_LEN + 1];
	char user[320];
	time_t created, used;
};

struct jmap_websessions {
	struct websession *v;
	unsigned max, per_user;
	time_t idle, absolute;
};

struct jmap_websessions *jmap_websessions_new(unsigned max, unsigned per_user,
					      time_t idle, time_t absolute)
{
	struct jmap_websessions *s = xcalloc(1, sizeof(*s));

	s->v = xcalloc(max, sizeof(*s->v));
	s->max = max;
	s->per_user = per_user;
	s->idle = idle;
	s->absolute = absolute;
	return s;
}

static void forget(struct websession *w)
{
	explicit_bzero(w, sizeof(*w));
}

void jmap_websessions_free(struct jmap_websessions **sp)
{
	struct jmap_websessions *s = *sp;

	if (s == NULL)
		return;
	explicit_bzero(s->v, s->max * sizeof(*s->v));
	free(s->v);
	free(s);
	*sp = NULL;
}

static bool expired(const struct jmap_websessions *s, const struct websession *w, time_t now)
{
	return now - w->used >= s->idle || now - w->created >= s->absolute || now < w->created;
}

static int random_hex(char *out)
{
	unsigned char rnd[JMAP_WEB_ID_LEN / 2];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	hex_encode(rnd, sizeof(rnd), out);	/* JMAP_WEB_ID_LEN digits */
	explicit_bzero(rnd, sizeof(rnd));
	return 1;
}

int jmap_websessions_create(struct jmap_websessions *s, const char *user, time_t now,
			    char *id_r, char *csrf_r)
{
	struct websession *slot = NULL, *lru = NULL, *user_lru = NULL;
	unsigned mine = 0;

	for (unsigned i = 0; i < s->max; i++) {
		struct websession *w = &s->v[i];
		if (w->id[0] != '\0' && expired(s, w, now))
			forget(w);
		if (w->id[0] == '\0') {
			if (slot == NULL)
				slot = w;
			continue;
		}
		if (lru == NULL || w->used < lru->used)
			lru = w;
		if (strcmp(w->user, user) == 0) {
			mine++;
			if (user_lru == NULL || w->used < user_lru->used)
				user_lru = w;
		}
	}
	/* over the user's bound, the user's oldest goes; over the total, the
	   oldest of all */
	if (mine >= s->per_user && user_lru != NULL) {
		forget(user_lru);
		slot = user_lru;
	} else if (slot == NULL) {
		forget(lru);
		slot = lru;
	}
	if (random_hex(slot->id) < 0 || random_hex(slot->csrf) < 0) {
		forget(slot);
		return -1;
	}
	str_copy(slot->user, user, sizeof(slot->user));
	slot->created = slot->used = now;
	memcpy(id_r, slot->id, JMAP_WEB_ID_LEN + 1);
	memcpy(csrf_r, slot->csrf, JMAP_WEB_ID_LEN + 1);
	return 1;
}

static struct websession *lookup(struct jmap_websessions *s, const char *id)
{
	struct websession *found = NULL;

	if (strlen(id) != JMAP_WEB_ID_LEN)
		return NULL;
	for (unsigned i = 0; i < s->max; i++)
		if (s->v[i].id[0] != '\0' &&
		    CRYPTO_memcmp(s->v[i].id, id, JMAP_WEB_ID_LEN) == 0)
			found = &s->v[i];
	return found;
}

int jmap_websessions_find(struct jmap_websessions *s, const char *id, time_t now,
			  const char **user_r, const char **csrf_r)
{
	struct websession *w = lookup(s, id);

	if (w == NULL)
		return 0;
	if (expired(s, w, now)) {
		forget(w);
		return 0;
	}
	w->used = now;
	*user_r = w->user;
	*csrf_r = w->csrf;
	return 1;
}

int jmap_websessions_remove(struct jmap_websessions *s, const char *id)
{
	struct websession *w = lookup(s, id);

	if (w == NULL)
		return 0;
	forget(w);
	return 1;
}

unsigned jmap_websessions_count(struct jmap_websessions *s, time_t now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->max; i++)
		if (s->v[i].id[0] != '\0' && !expired(s, &s->v[i], now))
			n++;
	return n;
}

int jmap_cookie_value(const char *header, const char *name, char *out, size_t size)
{
	return jmap_cookie_nth(header, name, 0, out, size);
}

int jmap_cookie_nth(const char *header, const char *name, unsigned nth, char *out,
		    size_t size)
{
	size_t nlen = strlen(name);
	const char *p = header;
	unsigned seen = 0;

	while (*p != '\0') {
		const char *end, *v;
		size_t len;

		p += strspn(p, " \t;");
		end = p + strcspn(p, ";");
		v = p + strcspn(p, "=;");
		if (*v == '=' && (size_t)(v - p) == nlen && strncmp(p, name, nlen) == 0 &&
		    seen++ == nth) {
			v++;
			len = (size_t)(end - v);
			while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
				len--;
			if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
				v++;
				len -= 2;
			}
			if (len >= size)
				return -1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 1;
		}
		p = end;
	}
	return 0;
}

bool jmap_token_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n > 0 && strlen(b) == n && CRYPTO_memcmp(a, b, n) == 0;
}
