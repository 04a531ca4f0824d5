/*
 * smtpd_quota.c - account quotas as the SMTP server applies them, the way
 * Dovecot's LMTP does: a permanent 552 5.2.2 for mail that would take a
 * mailbox past its quota, never a 452 that has the sender retry for days.
 *
 *  - RCPT: refused when every final mailbox of the address is full, or has
 *    no room for the declared SIZE beside the messages already on their
 *    way to it.  An alias or list with one full member is accepted: the
 *    others get the message, the full one is bounced at delivery.
 *  - end of DATA/BDAT: the message's size is reserved in each mailbox that
 *    RCPT resolved the recipients to (not looked up again) and that has room (atomically, with the other sessions' reservations); with a
 *    single recipient and a single mailbox that has none, the message is
 *    refused.  The delivery agent releases the reservations.
 */
#include "smtpd_private.h"

#include <string.h>

#include "delivery/quota.h"
#include "delivery/resolve.h"
#include "lib/log.h"
#include "queue/queue.h"

struct room_check {
	struct smtpd_session *s;
	uint64_t bytes;		/* the declared SIZE, or the message's size */
	const char *id;		/* reserve for this message (DATA), or NULL */
	unsigned targets;	/* final targets of the address */
	unsigned full;		/* local ones without room */
	struct envelope *rec;	/* RCPT: record the targets in its last recipient */
};

static void room_target(void *ctx, const struct resolve_target *t)
{
	struct room_check *c = ctx;
	struct services *srv = c->s->conn.srv;
	int ret;

	c->targets++;
	if (c->rec != NULL)
		envelope_add_target(c->rec, c->rec->n_rcpts - 1, t->kind == RESOLVE_LOCAL ?
				    ENVELOPE_LOCAL : ENVELOPE_REMOTE, t->address);
	if (t->kind != RESOLVE_LOCAL || t->account->quota == 0)
		return;
	if (c->id != NULL)
		ret = quota_reserve(srv->quota, c->id, &srv->cfg, t->account, c->bytes);
	else
		ret = quota_check(srv->quota, &srv->cfg, t->account, c->bytes);
	if (ret < 0)	/* the delivery agent checks again: let it decide */
		log_warn("smtpd: quota usage of <%s>: %m", t->address);
	if (ret == 0)
		c->full++;
}

int smtpd_quota_rcpt(struct smtpd_session *s, const char *key, bool *full_r)
{
	/* a mailbox at its limit has no room for anything: count one byte */
	struct room_check c = { s, s->declared_size > 0 ? s->declared_size : 1, NULL, 0, 0,
				s->env };
	int found = resolve_address(&s->conn.srv->cfg, s->conn.srv->accounts, key,
				    room_target, &c);

	*full_r = found > 0 && c.full == c.targets;
	return found;
}

int smtpd_quota_data(struct smtpd_session *s)
{
	struct envelope *e = queue_msg_envelope(s->msg);
	struct room_check c = { s, queue_msg_size(s->msg), queue_msg_id(s->msg), 0, 0, NULL };

	/* the targets RCPT recorded: no alias is looked up again */
	for (unsigned i = 0; i < e->n_rcpts; i++) {
		const struct envelope_rcpt *r = &e->rcpts[i];
		for (unsigned k = 0; k < r->n_targets; k++) {
			struct resolve_target t = { RESOLVE_REMOTE, r->targets[k].address, NULL };
			struct account acct;
			if (r->targets[k].kind == ENVELOPE_LOCAL) {
				if (accounts_user_get(s->conn.srv->accounts, t.address, &acct) <= 0)
					continue;	/* gone: the delivery agent bounces it */
				t.kind = RESOLVE_LOCAL;
				t.account = &acct;
			} else if (r->targets[k].kind != ENVELOPE_REMOTE) {
				continue;
			}
			room_target(&c, &t);
		}
	}
	if (e->n_rcpts != 1 || c.targets != 1 || c.full != 1)
		return 1;	/* others are delivered; the delivery agent bounces */
	log_info("%s: reject: to=<%s>: mailbox full (size=%llu)", c.id,
		 e->rcpts[0].address, (unsigned long long)c.bytes);
	smtpd_reply(s, "552 5.2.2 <%s>: Mailbox full: the message exceeds the "
		    "recipient's quota", e->rcpts[0].address);
	quota_release(s->conn.srv->quota, c.id);
	return 0;
}
