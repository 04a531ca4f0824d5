#ifndef CORREIO_LINE_READ_H
#define CORREIO_LINE_READ_H
/*
 * line_read: take one command line from a connection's input buffer, with
 * a cap.  Used by the connection layer (conn_read_line: each protocol
 * answers an over-long line its own way) and by the relay's client for
 * reply lines.  An over-long line is dropped as it arrives,
 * without buffering it: *skip remembers, across calls, that the rest of
 * the current line is to be dropped too.
 */
#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

/*
 * Take the next LF-terminated line of in into line (at least max bytes),
 * without its LF or CR LF, NUL-terminated, its length in *len_r.  A line
 * counts its end: at most max bytes with the LF.  Returns 1 with a line,
 * 0 when no complete line is there yet (input beyond max is dropped and
 * *skip set), -1 when an over-long line was dropped (the caller answers).
 */
int line_read(struct evbuffer *in, char *line, size_t max, size_t *len_r, bool *skip);

#endif
