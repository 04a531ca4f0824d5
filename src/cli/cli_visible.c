/*
 * cli_visible.c - text from elsewhere (a message's header, a DNS answer, a
 * next hop's reply, a line of an aliases file) as the CLI shows it on a
 * terminal: each control character and DEL written as "\xNN", so that the
 * text cannot send escape sequences to the administrator's terminal.
 */
#include "cli/cli.h"

#include <stdio.h>

#include "lib/buf.h"
#include "lib/encoding.h"

void cli_visible(struct buf *out, const char *s, bool lines)
{
	char hex[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool kept = lines && (c == '\t' || c == '\n' || (c == '\r' && s[1] == '\n'));

		if ((c < ' ' && !kept) || c == 0x7f) {
			hex_encode(&c, 1, hex);
			buf_puts(out, "\\x");
			buf_puts(out, hex);
		} else {
			buf_putc(out, (char)c);
		}
	}
}

void cli_print_visible(const char *s, bool lines)
{
	struct buf text;

	buf_init(&text, 0);
	cli_visible(&text, s, lines);
	fwrite(buf_cstr(&text), 1, text.len, stdout);
	buf_deinit(&text);
}
