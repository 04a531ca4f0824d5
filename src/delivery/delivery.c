/*
 * delivery.c - the delivery agent thread and its batches.
 *
 * One batch: every job submitted since the last batch.  For each job and
 * each recipient, a hard link (or copy) into the Maildir's new/ or an
 * append to the mbox; then one syncfs(2) for the batch; only then are the
 * outcomes given back to the scheduler, which removes finished messages
 * from the spool.  A crash anywhere in between leaves the spool files,
 * and the redelivery finds the Maildir file names already present, so
 * each message lands exactly once.
 */
#include "delivery.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "delivery/maildir.h"
#include "delivery/mbox.h"
#include "delivery/quota.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"
#include "store/store.h"

struct delivery {
	struct config cfg;	/* the thread's copy */
	struct config next_cfg;	/* set by delivery_set_config */
	bool cfg_changed;
	struct queue *queue;
	delivery_done_fn *done;
	delivery_notify_fn *notify;
	void *ctx;
	struct buf filed;	/* accounts filed into in this batch, NUL-separated */
	struct accounts *accounts;
	struct quota *quota;	/* reservations made at DATA, released here */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct delivery_job *incoming;	/* LIFO under lock; reversed when taken */
	bool stop;
	int sync_fd;		/* the spool's file system, for syncfs */
	int mail_fd;		/* the mail root when on another file system, else -1 */
};

bool delivery_uses_mbox(const struct config *cfg, int account_format)
{
	return account_format == ACCOUNTS_FORMAT_MBOX ||
	       (account_format == ACCOUNTS_FORMAT_DEFAULT &&
		cfg->mailbox_format == CONFIG_MAILBOX_MBOX);
}

void delivery_mailbox_path(const struct config *cfg, const char *address, bool mbox,
			   char *out, size_t size)
{
	store_mailbox_path(cfg->data_dir, address, mbox, out, size);
}

/* ---- one job ---- */

/* The size of the message in CRLF form (its W=), measured here on the
   delivery thread so that the event loop need not read the file; 0 if
   the file is not as the envelope says. */
static uint64_t crlf_size(const char *src, uint64_t bytes)
{
	uint64_t size = 0, crlf = 0;
	int fd = open(src, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (file_crlf_size(fd, &size, &crlf) < 0 || size != bytes)
		crlf = 0;
	close(fd);
	return crlf;
}

/* One message into one mailbox (see file_into). */
struct filing {
	struct delivery *d;
	const struct delivery_job *job;
	const struct account *acct;
	const char *src;
	bool mbox;
	char path[4200], name[512];
	bool over;		/* out: no room for it */
};

/* Is there room for the message (Dovecot's rule: nothing that would take
   the mailbox past its quota)?  Reservations made at DATA are not
   counted: this is the message they were made for, or one behind it in
   line.  1 room, 0 over quota, -1 usage unknown. */
static int has_room(struct filing *f)
{
	uint64_t used;

	if (f->acct->quota == 0)
		return 1;
	/* a message filed already (a retry, or a restart) is counted in the
	   usage: it is not checked against itself.  XXX: in an mbox only a
	   resumed delivery can tell, and it is not checked */
	if (f->mbox ? f->job->recovered : maildir_has(f->path, f->name))
		return 1;
	if (quota_usage(&f->d->cfg, f->acct, &used) < 0)
		return -1;
	return quota_fits(f->acct->quota, used, 0, f->job->size) ? 1 : 0;
}

/* Under the quota lock: check the room, then file. */
static int file_locked(void *ctx)
{
	struct filing *f = ctx;
	int room = has_room(f);

	if (room <= 0) {
		f->over = room == 0;
		return room;
	}
	if (f->mbox)
		return mbox_deliver(f->path, f->job->sender, f->job->arrival, f->src,
				    f->job->recovered);
	return maildir_deliver(f->path, f->name, f->src, f->job->recovered);
}

/* File src into acct's mailbox.  Returns 1 filed, 0 already there (a
   delivery resumed after a crash), or 0 with *over_r set when the
   message would exceed the quota, -1 error. */
static int file_into(struct delivery *d, const struct delivery_job *job,
		     const struct account *acct, const char *src, bool *over_r)
{
	struct filing f = { .d = d, .job = job, .acct = acct, .src = src };
	int ret;

	f.mbox = delivery_uses_mbox(&d->cfg, acct->mailbox_format);
	delivery_mailbox_path(&d->cfg, acct->address, f.mbox, f.path, sizeof(f.path));
	if (f.mbox) {
		char dir[4200];
		snprintf(dir, sizeof(dir), "%s/mbox", d->cfg.data_dir);
		if (mkdir_p(dir, 0700) < 0)
			return -1;
	} else {
		if (maildir_create(f.path) < 0)
			return -1;
		store_delivery_name(f.name, sizeof(f.name), job->arrival, job->id, job->host,
			     job->size, crlf_size(src, job->size));
	}
	ret = quota_file(d->quota, job->id, acct, file_locked, &f);
	*over_r = f.over;
	return ret;
}

/* ", orig_to=<x>" when the recipient came through an alias, else "". */
static const char *orig_note(const struct delivery_rcpt *r, char *out, size_t size)
{
	if (r->orig == NULL || strcmp(r->orig, r->address) == 0)
		return "";
	snprintf(out, size, ", orig_to=<%s>", r->orig);
	return out;
}

/* Deliver to one recipient: its code and text are set.  An account
   deleted since RCPT is refused (the scheduler bounces it), never
   dropped. */
static void deliver_rcpt(struct delivery *d, struct delivery_job *job,
			 struct delivery_rcpt *r, const char *src)
{
	struct account acct;
	char note[400];
	bool over = false;
	int ret = accounts_user_get(d->accounts, r->address, &acct);

	if (ret > 0) {
		buf_puts(&d->filed, acct.address);
		buf_putc(&d->filed, '\0');
		ret = file_into(d, job, &acct, src, &over);
	} else if (ret == 0) {
		r->code = 550;
		snprintf(r->text, sizeof(r->text), "5.1.1 unknown user: the account "
			 "no longer exists");
	}
	if (over) {
		r->code = 552;
		snprintf(r->text, sizeof(r->text), "5.2.2 mailbox full: the message "
			 "(%llu bytes) exceeds the quota of <%s> (%llu bytes)",
			 (unsigned long long)job->size, acct.address,
			 (unsigned long long)acct.quota);
	} else if (ret < 0) {
		r->code = 451;
		snprintf(r->text, sizeof(r->text), "4.2.0 mailbox: %s", strerror(errno));
		log_err("%s: to=<%s>%s, status=deferred (%s)", job->id, r->address,
			orig_note(r, note, sizeof(note)), r->text);
		return;
	} else if (r->code == 0) {
		r->code = 250;
		snprintf(r->text, sizeof(r->text), "2.0.0 %s", ret > 0 ?
			 "delivered to mailbox" : "already in mailbox");
		log_info("%s: to=<%s>%s, status=sent (%s)", job->id, r->address,
			 orig_note(r, note, sizeof(note)), r->text + 6);
		return;
	}
	log_info("%s: to=<%s>%s, status=bounced (%s)", job->id, r->address,
		 orig_note(r, note, sizeof(note)), r->text);
}

static void deliver_job(struct delivery *d, struct delivery_job *job)
{
	char src[1200];

	queue_text_path(d->queue, job->id, src, sizeof(src));
	for (unsigned i = 0; i < job->n_rcpts; i++)
		deliver_rcpt(d, job, &job->rcpts[i], src);
	quota_release(d->quota, job->id);
}

/* ---- batches ---- */

static bool all_delivered(const struct delivery_job *job)
{
	for (unsigned i = 0; i < job->n_rcpts; i++)
		if (job->rcpts[i].code < 200 || job->rcpts[i].code >= 300)
			return false;
	return true;
}

static void run_batch(struct delivery *d, struct delivery_job *batch)
{
	struct delivery_job *job, *next;

	for (job = batch; job != NULL; job = job->next)
		deliver_job(d, job);
	if (syncfs(d->sync_fd) < 0 || (d->mail_fd >= 0 && syncfs(d->mail_fd) < 0)) {
		log_err("delivery: syncfs: %m");
		for (job = batch; job != NULL; job = job->next) {
			for (unsigned i = 0; i < job->n_rcpts; i++) {
				struct delivery_rcpt *r = &job->rcpts[i];
				if (r->code >= 300)
					continue;
				r->code = 451;
				snprintf(r->text, sizeof(r->text), "4.3.0 the mailboxes could "
					 "not be flushed to disk");
			}
		}
	}
	for (size_t off = 0; off < d->filed.len; off += strlen(d->filed.data + off) + 1)
		d->notify(d->ctx, d->filed.data + off);
	buf_reset(&d->filed);
	for (job = batch; job != NULL; job = next) {
		next = job->next;
		job->next = NULL;
		if (job->last && all_delivered(job)) {
			queue_done(d->queue, job->id);
			log_info("%s: removed", job->id);
			job->removed = true;
		}
		d->done(d->ctx, job);
	}
}

/* Take everything submitted, oldest first. */
static struct delivery_job *take_work(struct delivery *d)
{
	struct delivery_job *list = NULL, *j, *next;

	for (j = d->incoming; j != NULL; j = next) {
		next = j->next;
		j->next = list;
		list = j;
	}
	d->incoming = NULL;
	return list;
}

static void *delivery_main(void *arg)
{
	struct delivery *d = arg;
	struct delivery_job *batch;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		if (d->cfg_changed) {
			d->cfg = d->next_cfg;
			d->cfg_changed = false;
		}
		batch = take_work(d);
		if (batch == NULL) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		pthread_mutex_unlock(&d->lock);
		run_batch(d, batch);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- interface ---- */

/* A descriptor of <data_dir>/mail if it lives on another file system than
   the spool (then each batch flushes both), else -1. */
static int mail_root_fd(const struct config *cfg, int spool_fd)
{
	char path[1100];
	struct stat a, b;
	int fd;

	snprintf(path, sizeof(path), "%s/mail", cfg->data_dir);
	if (mkdir_p(path, 0750) < 0 || (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &a) == 0 && fstat(spool_fd, &b) == 0 && a.st_dev != b.st_dev)
		return fd;
	close(fd);
	return -1;
}

int delivery_start(const struct config *cfg, struct queue *q, struct quota *quota,
		   delivery_done_fn *done, delivery_notify_fn *notify, void *ctx,
		   struct delivery **r, const char **error_r)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d == NULL)
		abort();
	d->cfg = *cfg;
	d->queue = q;
	d->quota = quota;
	d->done = done;
	d->notify = notify;
	d->ctx = ctx;
	if (accounts_open(cfg->data_dir, &d->accounts, error_r) < 0) {
		free(d);
		return -1;
	}
	d->sync_fd = queue_dir_fd(q);
	d->mail_fd = mail_root_fd(cfg, d->sync_fd);
	buf_init(&d->filed, 0);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if (pthread_create(&d->thread, NULL, delivery_main, d) != 0)
		abort();
	*r = d;
	return 1;
}

void delivery_job_free(struct delivery_job **jp)
{
	struct delivery_job *j = *jp;

	if (j == NULL)
		return;
	free(j->rcpts);
	free(j);
	*jp = NULL;
}

void delivery_stop(struct delivery **dp)
{
	struct delivery *d = *dp;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	/* jobs not taken go back without results (their caller frees them) */
	while (d->incoming != NULL) {
		struct delivery_job *job = d->incoming;
		d->incoming = job->next;
		job->next = NULL;
		d->done(d->ctx, job);
	}
	accounts_free(&d->accounts);
	if (d->mail_fd >= 0)
		close(d->mail_fd);
	buf_deinit(&d->filed);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
	*dp = NULL;
}

void delivery_submit(struct delivery *d, struct delivery_job *job)
{
	pthread_mutex_lock(&d->lock);
	job->next = d->incoming;
	d->incoming = job;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

void delivery_set_config(struct delivery *d, const struct config *cfg)
{
	pthread_mutex_lock(&d->lock);
	d->next_cfg = *cfg;
	d->cfg_changed = true;
	pthread_mutex_unlock(&d->lock);
}
