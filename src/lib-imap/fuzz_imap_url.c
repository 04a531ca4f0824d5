/*
 * fuzz_imap_url.c - libFuzzer target for the IMAP URLs of CATENATE: the
 * input, cut at 4 KiB and made a C string, is parsed as a URL.
 *
 * Checked: a URL that parses names a mailbox and a UID, its strings are
 * terminated within their arrays, and a section is upper case.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib-imap/imap_url.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size > 4096 ? 4096 : size);
	struct imap_url u;
	const char *error = NULL;

	if (imap_url_parse(s, &u, &error) > 0) {
		CHECK(u.uid > 0);
		CHECK(memchr(u.mailbox, '\0', sizeof(u.mailbox)) != NULL && u.mailbox[0] != '\0');
		CHECK(memchr(u.section, '\0', sizeof(u.section)) != NULL);
		for (const char *c = u.section; *c != '\0'; c++)
			CHECK(!(*c >= 'a' && *c <= 'z'));
	} else {
		CHECK(error != NULL);
	}
	free(s);
	return 0;
}
