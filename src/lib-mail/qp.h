#ifndef CORREIO_QP_H
#define CORREIO_QP_H
/*
 * qp: quoted-printable (RFC 2045 §6.7) and the 8BITMIME downgrade of
 * RFC 6152 §3: the relay client calls qp_downgrade() before sending a
 * message with 8-bit data to a server that does not offer 8BITMIME.
 * Messages are in correio's stored form: LF line ends.  Pure; output goes
 * to a struct buf whose maximum caps it.
 */
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define QP_LINE_MAX 76		/* encoded line, soft-break "=" included */
#define QP_DEPTH_MAX 20		/* nested multiparts followed */
#define QP_BOUNDARY_MAX 200	/* RFC 2046 says 70; some senders use more */

/* Does p[0..len) hold any byte >= 0x80? */
bool qp_is_8bit(const char *p, size_t len);

/*
 * Quoted-printable encode in[0..len) (LF line ends; each LF is a hard line
 * break and stays an LF) and append it to out.  Encoded lines are at most
 * QP_LINE_MAX characters.  Besides what RFC 2045 requires ("=", control
 * bytes, bytes >= 0x7f, whitespace before a line end), a "." or "From "
 * that starts a line is encoded (=2E, =46) so that no line reads "." or
 * "From ", and "--" after a soft break is encoded (=2D-) so that wrapping
 * never makes a MIME boundary appear.
 * Returns 1, or -1 (out full; out is then left as it was).
 */
int qp_encode(const char *in, size_t len, struct buf *out);

/*
 * Make msg[0..len) 7-bit for a peer without 8BITMIME.  Each leaf MIME part
 * (or the whole body of a non-MIME or single-part message) that holds
 * 8-bit data and is labelled 7bit, 8bit or binary (or not labelled) is
 * re-encoded as quoted-printable: its Content-Transfer-Encoding field is
 * replaced, a "Content-Type: text/plain; charset=unknown-8bit" is added
 * when it had none, and the message gets "MIME-Version: 1.0" if it lacked
 * it.  Multiparts are walked by boundary (nested up to QP_DEPTH_MAX); a
 * multipart's own 8bit/binary label becomes 7bit.  Everything else is
 * copied byte for byte.
 *
 * Returns 1 with *converted_r true and the 7-bit message appended to out;
 * or 1 with *converted_r false when msg is already 7-bit (out untouched:
 * send msg as it is); or -1 with *error_r (a static string) when it cannot
 * be converted: 8-bit bytes in a header field, in a message/ part, in a
 * multipart's preamble or epilogue, in a part already labelled base64,
 * quoted-printable or an unknown encoding, in a multipart without usable
 * boundary, nesting too deep, or out full.  On -1 out is left as it was.
 */
int qp_downgrade(const char *msg, size_t len, struct buf *out,
		 bool *converted_r, const char **error_r);

#endif
