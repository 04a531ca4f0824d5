#ifndef CORREIO_SMTP_DATA_H
#define CORREIO_SMTP_DATA_H
/*
 * smtp_data: the incremental filter for message text arriving after DATA
 * (RFC 5321 §4.5.2 transparency, §4.1.1.4 end of data) or in BDAT chunks
 * (RFC 3030, no dot handling).  Pure: bytes in, bytes out.
 *
 * Output is the message as correio stores it: every CRLF becomes LF, and
 * so do a bare LF and a bare CR (each ends a line, as Postfix 3.9
 * normalises them), so that the relay sends only CRLF-terminated lines;
 * with dots, a leading "." of a line after CRLF (or at the start) is
 * removed, while a "." after a bare line end is kept as text.  The end of
 * DATA is only "CRLF . CRLF" (the first CRLF may be the start of the data);
 * "LF . LF", "CR . CRLF" and other variants are text, never an end, so that
 * no message can smuggle a second one past a peer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum smtp_data_state {
	SMTP_DATA_LINE_START,	/* after CRLF (or at the start) */
	SMTP_DATA_BARE_START,	/* after a bare LF or CR: never an end, dot kept */
	SMTP_DATA_TEXT,		/* inside a line */
	SMTP_DATA_CR,		/* saw CR inside a line */
	SMTP_DATA_DOT,		/* saw "." at a CRLF line start */
	SMTP_DATA_DOT_CR,	/* saw ".CR" at a CRLF line start */
	SMTP_DATA_DONE
};

struct smtp_data {
	enum smtp_data_state state;
	bool dots;		/* DATA (true) or BDAT (false) */
	size_t max_line;	/* longest allowed line, CRLF excluded (998) */
	size_t line_len;	/* octets of the current line so far */
	bool line_too_long;	/* sticky: some line exceeded max_line */
	uint64_t octets;	/* wire octets consumed so far */
};

void smtp_data_init(struct smtp_data *d, bool dots, size_t max_line);

/*
 * Consume up to n bytes of in, appending the stored form to out: at most
 * n + 1 bytes more, since a CR held back at the end of the previous call
 * comes out with this call's first byte (out must be able to take them).
 * *consumed_r is set to the bytes used.  Returns 1 when the end of DATA
 * was consumed (bytes after it are not consumed: they are the next
 * command), 0 when more is wanted, -1 if out refused to grow; then
 * *consumed_r covers only the bytes whose output was stored and the state
 * is consistent, so the rest may be fed again once out has room.  With
 * dots == false it always consumes all of in and returns 0 (or -1).
 */
int smtp_data_feed(struct smtp_data *d, const char *in, size_t n,
		   size_t *consumed_r, struct buf *out);

/* BDAT LAST: flush a CR held back at the end of the last chunk. */
int smtp_data_finish(struct smtp_data *d, struct buf *out);

/*
 * smtp_data_out: the relay's direction, stored text to the wire.  Every
 * line end of the store (LF, and in older or foreign text a CRLF or a
 * bare CR) becomes CRLF, so no bare CR or LF is ever sent; with dots
 * (DATA) a leading "." is doubled and finish adds the end marker, after a
 * CRLF if the text did not end with one.  Without dots (BDAT) the text
 * goes as it is otherwise, and octets gives the chunk size.
 */
struct smtp_data_out {
	bool dots;		/* DATA (true) or BDAT (false) */
	bool line_start;	/* the next byte starts a line */
	bool cr;		/* the last byte was a CR (sent as CRLF) */
	uint64_t octets;	/* wire octets produced so far */
};

void smtp_data_out_init(struct smtp_data_out *o, bool dots);

/*
 * Append the wire form of in[0..n) to out (NULL: only count it in
 * o->octets).  Returns 1, or -1 if out refused to grow (the output is
 * then incomplete: give up on the message).
 */
int smtp_data_out_feed(struct smtp_data_out *o, const char *in, size_t n,
		       struct buf *out);

/* The end of the text: with dots, a last CRLF if needed and ".CRLF". */
int smtp_data_out_finish(struct smtp_data_out *o, struct buf *out);

#endif
