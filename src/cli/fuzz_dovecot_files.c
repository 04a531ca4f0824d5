/*
 * fuzz_dovecot_files.c - libFuzzer target: dovecot-uidlist and
 * dovecot-keywords as `correio user import` reads them.  Every record
 * handed out lies inside the input, has a UID and a name without '/',
 * and no record comes without a UIDVALIDITY; keyword indexes stay below
 * 26 and names hold no NUL or newline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

struct span {
	const char *start, *end;
	unsigned records;
};

static void on_record(void *ctx, uint32_t uid, const char *name, size_t len)
{
	struct span *s = ctx;

	if (uid == 0 || name < s->start || name + len > s->end ||
	    memchr(name, '/', len) != NULL || memchr(name, '\n', len) != NULL)
		abort();
	s->records++;
}

static void on_keyword(void *ctx, unsigned index, const char *name, size_t len)
{
	struct span *s = ctx;

	if (index >= 26 || len == 0 || name < s->start || name + len > s->end ||
	    memchr(name, '\0', len) != NULL || memchr(name, '\n', len) != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct span s = { text, text + size, 0 };
	uint32_t v, next;
	int ret;

	ret = dovecot_uidlist_parse(text, size, &v, &next, on_record, &s);
	if ((ret == 0 && (s.records > 0 || v != 0)) || (ret == 1 && v == 0))
		abort();
	dovecot_keywords_parse(text, size, on_keyword, &s);
	return 0;
}
