/*
 * conn_deflate.c - a compressed stream over a bufferevent, as IMAP COMPRESS=DEFLATE
 * (RFC 4978) wants it: raw deflate (no zlib header) both ways, each burst
 * of output flushed (Z_SYNC_FLUSH) so that the client can read every
 * response whole as soon as it is sent.
 *
 * A libevent filter: the input side inflates what arrives into the
 * session's input, the output side deflates the session's output into
 * the stream below.  Memory is bounded both ways.  Inflating stops once
 * the session's input holds its read high-water mark (a small compressed
 * packet may inflate a thousandfold); the rest waits, still compressed,
 * below.  Deflating stops once the stream below holds write_max bytes, so
 * the session's own output grows instead and its write-watermark logic
 * (FETCH pausing for a slow reader) works as without compression.  The
 * window is 2 KiB for output (about 24 KiB of zlib state) and whatever the
 * client chose for input (at most 32 KiB, as RFC 1951 allows).
 */
#include "conn/conn.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <zlib.h>

#define CHUNK 4096
#define OUT_WINDOW_BITS 11	/* 2 KiB */
#define OUT_MEM_LEVEL 6

struct deflate_ctx {
	z_stream in, out;
	struct bufferevent *bev;	/* the one we make */
};

static void ctx_free(void *arg)
{
	struct deflate_ctx *z = arg;

	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

/* Run zlib over src into dst until src is used up (and, deflating, the
   flush is out) or room bytes were made (room < 0: no bound).  A call
   that can do nothing says so (BEV_NEED_MORE), so that libevent does not
   call it again for the same bytes. */
static enum bufferevent_filter_result pump(z_stream *zs, bool deflating,
					   struct evbuffer *src, struct evbuffer *dst,
					   ev_ssize_t room)
{
	bool pending = false;	/* the last call filled its space: may have more */
	bool flushed = !deflating || evbuffer_get_length(src) == 0;
	size_t total = 0;

	for (;;) {
		struct evbuffer_iovec in = { NULL, 0 }, out;
		size_t used, made;
		int ret;

		if (!pending && (flushed && evbuffer_get_length(src) == 0))
			break;
		if (!pending && room >= 0 && total >= (size_t)room)
			break;
		evbuffer_peek(src, -1, NULL, &in, 1);
		if (evbuffer_reserve_space(dst, CHUNK, &out, 1) < 1)
			return BEV_ERROR;
		zs->next_in = in.iov_base;
		zs->avail_in = (uInt)in.iov_len;
		zs->next_out = out.iov_base;
		zs->avail_out = (uInt)out.iov_len;
		if (deflating) {
			bool last = in.iov_len == evbuffer_get_length(src);
			ret = deflate(zs, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
			flushed = last && zs->avail_in == 0 && zs->avail_out > 0;
		} else {
			ret = inflate(zs, Z_SYNC_FLUSH);
		}
		used = in.iov_len - zs->avail_in;
		made = out.iov_len - zs->avail_out;
		out.iov_len = made;
		evbuffer_commit_space(dst, &out, 1);
		evbuffer_drain(src, used);
		total += made;
		if (ret == Z_STREAM_END || (ret != Z_OK && ret != Z_BUF_ERROR))
			return BEV_ERROR;	/* the stream ends with the connection only */
		pending = zs->avail_out == 0;
		if (used == 0 && made == 0 && !pending)
			break;		/* needs more input */
	}
	return total > 0 || evbuffer_get_length(src) == 0 ? BEV_OK : BEV_NEED_MORE;
}

/* A stream zlib cannot read ends the connection: libevent does not act
   on a filter's error, so the owner is told as for a socket error. */
static enum bufferevent_filter_result failed(struct deflate_ctx *z, short what)
{
	bufferevent_trigger_event(z->bev, what | BEV_EVENT_ERROR, BEV_TRIG_DEFER_CALLBACKS);
	return BEV_ERROR;
}

static enum bufferevent_filter_result on_input(struct evbuffer *src, struct evbuffer *dst,
					       ev_ssize_t limit,
					       enum bufferevent_flush_mode mode, void *arg)
{
	struct deflate_ctx *z = arg;
	enum bufferevent_filter_result res = pump(&z->in, false, src, dst, limit);

	return res == BEV_ERROR ? failed(z, BEV_EVENT_READING) : res;
}

static enum bufferevent_filter_result on_output(struct evbuffer *src, struct evbuffer *dst,
						ev_ssize_t limit,
						enum bufferevent_flush_mode mode, void *arg)
{
	struct deflate_ctx *z = arg;
	enum bufferevent_filter_result res = pump(&z->out, true, src, dst, limit);

	return res == BEV_ERROR ? failed(z, BEV_EVENT_WRITING) : res;
}

struct bufferevent *conn_deflate_wrap(struct bufferevent *under, size_t write_max)
{
	struct deflate_ctx *z = xcalloc(1, sizeof(*z));
	struct bufferevent *bev;

	if (inflateInit2(&z->in, -MAX_WBITS) != Z_OK) {
		free(z);
		return NULL;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -OUT_WINDOW_BITS,
			 OUT_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return NULL;
	}
	bufferevent_setwatermark(under, EV_WRITE, 0, write_max);
	bev = bufferevent_filter_new(under, on_input, on_output, BEV_OPT_CLOSE_ON_FREE,
				     ctx_free, z);
	if (bev == NULL)
		ctx_free(z);
	else
		z->bev = bev;
	return bev;
}
