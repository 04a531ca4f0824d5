/*
 * cmd_copy.c - COPY, MOVE, UID COPY and UID MOVE (RFC 9051 §6.4.7,
 * §6.4.8; RFC 6851 MOVE; RFC 4315 UIDPLUS COPYUID).  Called by the
 * dispatcher (imapd_cmd.c) in the selected state.
 *
 *   copy = "COPY" SP sequence-set SP mailbox
 *   move = "MOVE" SP sequence-set SP mailbox
 *
 * The store copies (hard links) or moves (renames) the files and gives
 * the new UIDs.  COPY answers "OK [COPYUID v src dst]".  MOVE sends
 * "* OK [COPYUID v src dst]" first, then "* n EXPUNGE" (or "* VANISHED
 * uid" once QRESYNC is on) for each moved message from the highest
 * sequence number down (so that each number is
 * still right when the client reads it), taking them out of the
 * session's view itself: the store does not tell this handle of its own
 * moves.  A destination that does not exist is NO [TRYCREATE]; a copy
 * past the account's quota NO [OVERQUOTA]; MOVE out of a mailbox opened
 * with EXAMINE NO [READ-ONLY].  Names are modified UTF-7 for IMAP4rev1
 * clients, UTF-8 once UTF8=ACCEPT or IMAP4rev2 is enabled.
 */
#include "imapd_private.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib-imap/imap_utf7.h"

/* The destination name as UTF-8 into out.  1 or -1. */
static int dest_name(struct imapd_session *s, const struct imap_arg *arg, struct buf *out)
{
	const char *name;

	if (!imap_arg_get_astring(arg, &name))
		return -1;
	if (s->utf8)
		return buf_puts(out, name);
	return imap_utf7_decode(name, strlen(name), out);
}

static const char *error_code(const struct store_error *err)
{
	switch (err->code) {
	case STORE_ERROR_NOT_FOUND: return "[TRYCREATE]";
	case STORE_ERROR_OVER_QUOTA: return "[OVERQUOTA]";
	case STORE_ERROR_BAD_PARAM: return "[CANNOT]";
	case STORE_ERROR_LIMIT: return "[LIMIT]";
	case STORE_ERROR_IN_USE: return "[INUSE]";
	case STORE_ERROR_TEMP: return "[UNAVAILABLE]";
	default: return "[SERVERBUG]";
	}
}

/* nums[0..n) as a set: compact when ascending, else one by one. */
static void write_set(struct buf *out, const uint32_t *nums, unsigned n)
{
	if (imap_seqset_format(nums, n, out) >= 0)
		return;
	for (unsigned i = 0; i < n; i++)
		buf_printf(out, "%s%u", i > 0 ? "," : "", nums[i]);
}

/* "COPYUID <uidvalidity> <src> <dst>" for the messages copied into out;
   0 (nothing written) if none was. */
static int copyuid_write(struct buf *out, uint32_t uidvalidity, const uint32_t *uids,
			 const uint32_t *new_uids, unsigned n)
{
	uint32_t *src = xcalloc((size_t)n + 1, 2 * sizeof(*src)), *dst = src + n + 1;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		if (new_uids[i] == 0)
			continue;
		src[k] = uids[i];
		dst[k++] = new_uids[i];
	}
	if (k > 0) {
		buf_printf(out, "COPYUID %u ", uidvalidity);
		write_set(out, src, k);
		buf_putc(out, ' ');
		write_set(out, dst, k);
	}
	free(src);
	return k > 0;
}

/* MOVE: the messages that left, from the highest sequence number down. */
static void move_expunge(struct imapd_session *s, const uint32_t *uids,
			 const uint32_t *new_uids, unsigned n)
{
	for (unsigned i = n; i-- > 0;)
		if (new_uids[i] != 0)
			imapd_view_expunge(s, uids[i], true);
}

/* Check the command: 1 with *set_r and name, or -1 with the reply sent. */
static int copy_check(struct imapd_session *s, bool move, const char **set_r,
		      struct buf *name)
{
	if (s->cmd.arg_count != 2 || !imap_arg_get_atom(&s->cmd.args[0], set_r)) {
		imapd_tagged(s, "BAD", "usage: %s%s set mailbox", s->cmd.uid ? "UID " : "",
			     s->cmd.name);
		return -1;
	}
	if (dest_name(s, &s->cmd.args[1], name) < 0) {
		imapd_tagged(s, "BAD", "bad mailbox name");
		return -1;
	}
	if (move && s->readonly) {
		imapd_tagged(s, "NO", "[READ-ONLY] mailbox is read-only");
		return -1;
	}
	return 1;
}

/* After store_copy: the replies of COPY or MOVE. */
static void copy_reply(struct imapd_session *s, bool move, int ret, uint32_t uidvalidity,
		       const uint32_t *uids, const uint32_t *new_uids, unsigned n,
		       const struct store_error *err)
{
	struct buf code;

	buf_init(&code, 0);
	if (ret > 0 && copyuid_write(&code, uidvalidity, uids, new_uids, n) > 0 && move)
		imapd_untagged(s, "OK [%s] moved", buf_cstr(&code));
	/* a failed move keeps what it moved: the client must hear of it */
	if (move)
		move_expunge(s, uids, new_uids, n);
	if (ret < 0)
		imapd_tagged(s, "NO", "%s %s", error_code(err), err->text);
	else if (code.len > 0 && !move)
		imapd_tagged(s, "OK", "[%s] %sCOPY completed", buf_cstr(&code),
			     s->cmd.uid ? "UID " : "");
	else
		imapd_tagged(s, "OK", "%s%s completed", s->cmd.uid ? "UID " : "", s->cmd.name);
	buf_deinit(&code);
}

/* A COPY or MOVE waiting for its flush: one allocation, the UID arrays
   after the struct. */
struct copy_state {
	bool move;
	uint32_t *uids, *new_uids, uidvalidity;
	unsigned n;
};

/* The store's flush ended: the replies. */
static void on_copied(void *ctx, int result, const struct store_error *err)
{
	struct imapd_session *s = ctx;
	struct copy_state *cs = s->wait_state;

	copy_reply(s, cs->move, result, cs->uidvalidity, cs->uids, cs->new_uids, cs->n, err);
	imapd_store_waited(s);	/* frees cs */
}

void imapd_cmd_copy(struct imapd_session *s)
{
	bool move = strcmp(s->cmd.name, "MOVE") == 0;
	struct copy_state *cs;
	uint32_t *uids = NULL;
	struct buf name;
	const char *set;
	int n;

	buf_init(&name, 0);
	if (copy_check(s, move, &set, &name) < 0) {
		buf_deinit(&name);
		return;
	}
	if ((n = imapd_resolve_set(s, set, s->cmd.uid, &uids)) < 0) {
		buf_deinit(&name);
		imapd_done(s);
		return;
	}
	cs = xcalloc(1, sizeof(*cs) + 2 * ((size_t)n + 1) * sizeof(*uids));
	cs->move = move;
	cs->uids = (uint32_t *)(cs + 1);
	cs->new_uids = cs->uids + n + 1;
	cs->n = (unsigned)n;
	memcpy(cs->uids, uids, (size_t)n * sizeof(*uids));
	free(uids);
	s->wait_state = cs;	/* until the reply, or freed with the session */
	s->store_wait = store_copy_commit(s->box, cs->uids, cs->n, buf_cstr(&name), move,
					  cs->new_uids, &cs->uidvalidity, on_copied, s);
	buf_deinit(&name);
}
