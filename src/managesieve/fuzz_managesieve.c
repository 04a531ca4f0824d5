/*
 * fuzz_managesieve.c - libFuzzer target: the ManageSieve command parser.
 * The input is fed whole and then in pieces cut by its first byte; both
 * must give the same events, every ms_parse call must consume something
 * or report an event, arguments must be NUL-terminated within the
 * parser's data, and no argument may pass its bound (MS_TOKEN_MAX for
 * atoms and quoted strings, the cap for literals).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "managesieve/managesieve.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define CAP 256

static void run(const uint8_t *data, size_t size, size_t step, struct buf *out)
{
	struct ms_parser p;
	size_t pos = 0;

	ms_parser_init(&p, CAP);
	buf_reset(out);
	while (pos < size) {
		size_t n = size - pos;
		enum ms_event ev;
		if (step > 0 && n > step)
			n = step;
		size_t used = ms_parse(&p, (const char *)data + pos, n, &ev);
		CHECK(used <= n);
		CHECK(used > 0 || ev != MS_MORE);
		pos += used;
		if (ev == MS_COMMAND) {
			CHECK(p.n_args >= 1 && p.n_args <= MS_MAX_ARGS);
			buf_putc(out, 'C');
			for (unsigned i = 0; i < p.n_args; i++) {
				size_t l;
				const char *t = ms_arg_text(&p, i, &l);
				CHECK(t != NULL && t[l] == '\0');
				CHECK(l <= (p.args[i].kind == MS_ATOM || CAP < MS_TOKEN_MAX ?
					    MS_TOKEN_MAX : CAP));
				CHECK(p.args[i].off + l < p.data.len + 1);
				buf_printf(out, "%c%zu:", p.args[i].kind == MS_ATOM ? 'A' : 'S', l);
				buf_append(out, t, l);
			}
		} else if (ev != MS_MORE) {
			CHECK(p.error != NULL);
			buf_putc(out, ev == MS_ERROR ? 'E' : 'B');
		}
	}
	ms_parser_deinit(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole, pieces;

	if (size == 0)
		return 0;
	buf_init(&whole, 0);
	buf_init(&pieces, 0);
	run(data + 1, size - 1, 0, &whole);
	run(data + 1, size - 1, 1 + data[0] % 16, &pieces);
	CHECK(whole.len == pieces.len && memcmp(buf_cstr(&whole), buf_cstr(&pieces), whole.len) == 0);
	buf_deinit(&whole);
	buf_deinit(&pieces);
	return 0;
}
