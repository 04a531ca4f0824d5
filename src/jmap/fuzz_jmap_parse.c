/*
 * fuzz_jmap_parse.c - the pure parsers of jmap_parse.c on arbitrary bytes:
 * an RFC 5322 date, an address list, Basic credentials, a download
 * type, the header section of a submitted message, a search snippet and
 * header text written for a created email.  The address list must always come out as valid JSON strings.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jmap/jmap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct buf b;
	const char *pass;
	time_t t;
	long off;
	json_t *v;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (jmap_parse_date(s, &t, &off) > 0)
		assert(off > -86400 && off < 86400);
	v = jmap_parse_addresses((const char *)data, size);
	assert(json_is_array(v));
	for (size_t i = 0; i < json_array_size(v); i++)
		assert(json_is_string(json_object_get(json_array_get(v, i), "email")));
	json_decref(v);
	buf_init(&b, 4096);
	if (jmap_parse_basic(s, &b, &pass) > 0)
		assert(pass > b.data && pass <= b.data + b.len);
	buf_deinit(&b);
	buf_init(&b, 0);
	{
		unsigned missing;
		size_t body = jmap_parse_submission_header((const char *)data, size, &b,
							   &missing);
		assert(body <= size && (b.len == 0 || b.data[b.len - 1] == '\n'));
		assert(b.len <= size + 1);
	}
	buf_reset(&b);
	{
		static const char *const terms[] = { "a", "mark", "\xc3\xa9" };
		if (jmap_parse_highlight((const char *)data, size, terms, 3, 255, &b) > 0)
			assert(strstr(buf_cstr(&b), "<mark>") != NULL);
		else
			assert(b.len == 0);
	}
	buf_reset(&b);
	/* header text made from any string has no line end but folding */
	jmap_format_text(&b, s);
	for (size_t i = 0; i < b.len; i++)
		assert(b.data[i] != '\r' && (b.data[i] != '\n' || (i + 1 < b.len &&
							       b.data[i + 1] == ' ')));
	buf_deinit(&b);
	if (jmap_type_safe(s))
		assert(strchr(s, '/') != NULL && strpbrk(s, "\r\n\"<> ;") == NULL);
	free(s);
	return 0;
}
