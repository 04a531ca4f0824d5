/*
 * quota.c - usage of a mailbox, and the reservations of messages between
 * their acceptance (end of DATA) and their filing by the delivery agent.
 *
 * The reservations are a short list under a mutex: one entry per message
 * and account, gone once the delivery agent has handled the message.  The
 * same mutex covers reading a mailbox's usage together with its
 * reservations (smtpd) and filing a message together with dropping its
 * reservation (delivery agent): a message is counted once, reserved or
 * filed.  It is taken only for accounts that have a quota.  The
 * reservations live in memory only: after a restart the delivery agent's
 * own check (usage at the moment of filing, one message at a time) still
 * keeps every mailbox within its quota.
 */
#include "quota.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "delivery/delivery.h"
#include "lib/util.h"
#include "queue/envelope.h"
#include "store/store.h"

struct reservation {
	char id[ENVELOPE_ID_LEN + 1];
	char address[320];
	uint64_t bytes;
	struct reservation *next;
};

struct quota {
	pthread_mutex_t lock;
	struct reservation *list;
};

struct quota *quota_new(void)
{
	struct quota *q = xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void quota_free(struct quota **qp)
{
	struct quota *q = *qp;

	if (q == NULL)
		return;
	while (q->list != NULL) {
		struct reservation *next = q->list->next;
		free(q->list);
		q->list = next;
	}
	pthread_mutex_destroy(&q->lock);
	free(q);
	*qp = NULL;
}

int quota_usage(const struct config *cfg, const struct account *acct, uint64_t *bytes_r)
{
	bool mbox = delivery_uses_mbox(cfg, acct->mailbox_format);
	uint64_t used_folders;
	char path[4200];
	struct stat st;

	/* as the store counts it: the INBOX (Maildir, or the mbox file) and
	   every other folder (Maildir) */
	*bytes_r = 0;
	if (mbox) {
		delivery_mailbox_path(cfg, acct->address, true, path, sizeof(path));
		if (stat(path, &st) == 0)
			*bytes_r = (uint64_t)st.st_size;
		else if (errno != ENOENT)
			return -1;
	}
	delivery_mailbox_path(cfg, acct->address, false, path, sizeof(path));
	if (store_usage_scan(path, !mbox, &used_folders, NULL) < 0)
		return errno == ENOENT ? 1 : -1;
	*bytes_r += used_folders;
	return 1;
}

/* Sum for address; the lock is held. */
static uint64_t reserved_locked(struct quota *q, const char *address)
{
	uint64_t sum = 0;

	for (struct reservation *r = q->list; r != NULL; r = r->next)
		if (strcmp(r->address, address) == 0)
			sum += r->bytes;
	return sum;
}

uint64_t quota_reserved(struct quota *q, const char *address)
{
	uint64_t sum;

	pthread_mutex_lock(&q->lock);
	sum = reserved_locked(q, address);
	pthread_mutex_unlock(&q->lock);
	return sum;
}

bool quota_fits(uint64_t limit, uint64_t used, uint64_t reserved, uint64_t bytes)
{
	if (limit == 0)
		return true;
	if (used > limit || reserved > limit - used)
		return false;
	return bytes <= limit - used - reserved;
}

int quota_check(struct quota *q, const struct config *cfg, const struct account *acct,
		uint64_t bytes)
{
	uint64_t used;
	int ret = 1;

	if (acct->quota == 0)
		return 1;
	pthread_mutex_lock(&q->lock);
	if (quota_usage(cfg, acct, &used) < 0)
		ret = -1;
	else if (!quota_fits(acct->quota, used, reserved_locked(q, acct->address), bytes))
		ret = 0;
	pthread_mutex_unlock(&q->lock);
	return ret;
}

int quota_reserve(struct quota *q, const char *id, const struct config *cfg,
		  const struct account *acct, uint64_t bytes)
{
	struct reservation *r;
	uint64_t used;
	int ret = 1;

	if (acct->quota == 0)
		return 1;
	pthread_mutex_lock(&q->lock);
	if (quota_usage(cfg, acct, &used) < 0) {
		ret = -1;
	} else if (!quota_fits(acct->quota, used, reserved_locked(q, acct->address), bytes)) {
		ret = 0;
	} else {
		r = xcalloc(1, sizeof(*r));
		str_copy(r->id, id, sizeof(r->id));
		str_copy(r->address, acct->address, sizeof(r->address));
		r->bytes = bytes;
		r->next = q->list;
		q->list = r;
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* Drop id's reservations (for address only, unless it is NULL); the lock
   is held. */
static void release_locked(struct quota *q, const char *id, const char *address)
{
	struct reservation **p, *r;

	for (p = &q->list; (r = *p) != NULL;) {
		if (strcmp(r->id, id) == 0 && (address == NULL || strcmp(r->address, address) == 0)) {
			*p = r->next;
			free(r);
		} else {
			p = &r->next;
		}
	}
}

int quota_file(struct quota *q, const char *id, const struct account *acct,
	       int (*file)(void *ctx), void *ctx)
{
	int ret;

	if (acct->quota == 0)
		return file(ctx);
	pthread_mutex_lock(&q->lock);
	ret = file(ctx);
	release_locked(q, id, acct->address);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

void quota_release(struct quota *q, const char *id)
{
	pthread_mutex_lock(&q->lock);
	release_locked(q, id, NULL);
	pthread_mutex_unlock(&q->lock);
}
