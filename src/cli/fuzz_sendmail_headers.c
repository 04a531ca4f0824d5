/*
 * fuzz_sendmail_headers.c - libFuzzer target: the header work of
 * `correio sendmail` on arbitrary messages.  sendmail_complete_headers()
 * only adds (the original bytes, less a leading "From " line, stay in
 * order and whole) and leaves a message that has From:, Date: and
 * Message-ID: alone; a second pass changes nothing; sendmail_headers()
 * finds as many addresses as it appends and never grows the message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/buf.h"

/* Is needle[0..n) a subsequence of hay[0..m)? */
static int subsequence(const char *needle, size_t n, const char *hay, size_t m)
{
	size_t i = 0;

	for (size_t j = 0; i < n && j < m; j++)
		if (hay[j] == needle[i])
			i++;
	return i == n;
}

static void check_complete(const uint8_t *data, size_t size)
{
	struct buf msg, again;
	const char *text = (const char *)data;
	size_t skip = 0;

	if (size >= 5 && memcmp(data, "From ", 5) == 0) {
		const char *nl = memchr(data, '\n', size);
		skip = nl != NULL ? (size_t)(nl - text) + 1 : size;
	}
	buf_init(&msg, 0);
	buf_append(&msg, data, size);
	if (sendmail_complete_headers(&msg, "Me <me@example.org>", "mx.example.org") != 1)
		abort();
	if (!subsequence(text + skip, size - skip, msg.data, msg.len))
		abort();
	buf_init(&again, 0);
	buf_append(&again, msg.data, msg.len);
	/* complete now; a second pass may only drop a "From " line it made first */
	if (sendmail_complete_headers(&again, "x@example.org", "h") != 1 ||
	    (again.len != msg.len && memcmp(msg.data, "From ", 5) != 0))
		abort();
	buf_deinit(&again);
	buf_deinit(&msg);
}

static void check_recipients(const uint8_t *data, size_t size)
{
	struct buf msg, rcpts;
	int found;

	buf_init(&msg, 0);
	buf_init(&rcpts, 0);
	buf_append(&msg, data, size);
	found = sendmail_headers(&msg, &rcpts);
	if (found < 0 || msg.len > size || (found == 0) != (rcpts.len == 0))
		abort();
	buf_deinit(&msg);
	buf_deinit(&rcpts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_complete(data, size);
	check_recipients(data, size);
	return 0;
}
