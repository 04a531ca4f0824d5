/*
 * line_read.c - one capped command line out of an evbuffer.  Callers:
 * the connection layer (conn_read_line) and the relay (mta_session.c).
 */
#include "line_read.h"

#include <assert.h>

#include <event2/buffer.h>

int line_read(struct evbuffer *in, char *line, size_t max, size_t *len_r, bool *skip)
{
	size_t eol_len, avail = evbuffer_get_length(in);
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);

	assert(line != NULL && max > 0);
	if (eol.pos < 0) {
		if (avail >= max || *skip) {
			evbuffer_drain(in, avail);
			*skip = true;
		}
		return 0;
	}
	if (*skip || (size_t)eol.pos + eol_len > max) {
		evbuffer_drain(in, (size_t)eol.pos + eol_len);
		*skip = false;
		return -1;
	}
	evbuffer_remove(in, line, (size_t)eol.pos + eol_len);
	*len_r = (size_t)eol.pos;
	if (*len_r > 0 && line[*len_r - 1] == '\r')
		(*len_r)--;
	line[*len_r] = '\0';
	return 1;
}
