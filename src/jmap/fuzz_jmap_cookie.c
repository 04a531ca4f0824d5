/*
 * fuzz_jmap_cookie.c - the Cookie header parser of jmap_websession.c on
 * arbitrary bytes: a value found fits the buffer, holds no ';' and is a
 * substring of the header; a session lookup with it never matches in an
 * empty store.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jmap/jmap_websession.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jmap_websessions *s;
	char *h = malloc(size + 1), v[JMAP_WEB_ID_LEN + 2];
	const char *user, *csrf;
	int r;

	if (h == NULL)
		return 0;
	if (s == NULL)
		s = jmap_websessions_new(4, 2, 100, 1000);
	memcpy(h, data, size);
	h[size] = '\0';
	r = jmap_cookie_value(h, "correio_session", v, sizeof(v));
	assert(r >= -1 && r <= 1);
	if (r > 0) {
		assert(strlen(v) < sizeof(v) && strchr(v, ';') == NULL);
		assert(strstr(h, v) != NULL);
		assert(jmap_websessions_find(s, v, 500, &user, &csrf) == 0);
	}
	free(h);
	return 0;
}
