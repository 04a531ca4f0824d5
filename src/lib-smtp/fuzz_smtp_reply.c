/*
 * fuzz_smtp_reply.c - libFuzzer target for the client's reply parser: the
 * input is split into lines and fed until a reply completes or fails.
 */
#include <stdint.h>
#include <string.h>

#include "lib-smtp/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	const char *p = (const char *)data, *end = p + size;
	const char *param;
	char sum[128];

	smtp_reply_init(&r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		int ret = smtp_reply_line(&r, p, len);
		if (ret != 0) {
			smtp_reply_has_keyword(&r, "SIZE", &param);
			smtp_reply_summary(&r, sum, sizeof(sum));
			smtp_reply_reset(&r);
		}
		p += len + (nl != NULL);
	}
	smtp_reply_deinit(&r);
	return 0;
}
