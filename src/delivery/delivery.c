/*
 * delivery.c - the delivery agent thread and its batches.
 *
 * One batch: every message submitted since the last batch.  For each
 * message and each final recipient, a hard link (or copy) into the
 * Maildir's new/ or an append to the mbox; then one syncfs(2) for the
 * batch; only then are the spool files removed.  A crash anywhere in
 * between leaves the spool files, and the redelivery finds the Maildir
 * file names already present, so each message lands exactly once.
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
#include "delivery/resolve.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"

#define DELIVERY_RETRY_SECONDS 60

struct job {
	struct envelope *env;
	bool recovered;
	bool failed;		/* temporary error: retry later */
	bool remote;		/* some recipients left for the relay */
	struct envelope *relay;	/* those recipients, as a routed envelope */
	time_t due;		/* retry time */
	struct job *next;
};

struct delivery {
	struct config cfg;	/* the thread's copy */
	struct config next_cfg;	/* set by delivery_set_config */
	bool cfg_changed;
	struct queue *queue;
	delivery_relay_fn *relay;
	delivery_notify_fn *notify;
	void *relay_ctx;
	struct buf filed;	/* accounts filed into in this batch, NUL-separated */
	struct accounts *accounts;
	struct quota *quota;	/* reservations made at DATA, released here */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *incoming;	/* LIFO under lock; reversed when taken */
	struct job *retry;	/* thread-only */
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
	const char *at = strrchr(address, '@');
	int local_len = at == NULL ? (int)strlen(address) : (int)(at - address);

	if (mbox)
		snprintf(out, size, "%s/mbox/%s", cfg->data_dir, address);
	else
		snprintf(out, size, "%s/mail/%s/%.*s", cfg->data_dir,
			 at == NULL ? "" : at + 1, local_len, address);
}

/* ---- one message ---- */

struct target_ctx {
	struct delivery *d;
	struct job *job;
	const char *src;
	const char *rcpt;
	const char *orcpt;	/* of the recipient being resolved */
	unsigned notify;
	char **done;		/* account addresses already filed */
	unsigned n_done;
};

static bool already_filed(struct target_ctx *t, const char *address)
{
	char **p;

	for (unsigned i = 0; i < t->n_done; i++)
		if (strcmp(t->done[i], address) == 0)
			return true;
	p = realloc(t->done, (t->n_done + 1) * sizeof(*p));
	if (p == NULL || (p[t->n_done] = strdup(address)) == NULL)
		abort();
	t->done = p;
	t->n_done++;
	return false;
}

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
	const struct envelope *e;
	const struct account *acct;
	const char *src;
	bool recovered;
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
	if (f->mbox ? f->recovered : maildir_has(f->path, f->name))
		return 1;
	if (quota_usage(&f->d->cfg, f->acct, &used) < 0)
		return -1;
	return quota_fits(f->acct->quota, used, 0, f->e->size) ? 1 : 0;
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
		return mbox_deliver(f->path, f->e->sender, f->e->arrival, f->src, f->recovered);
	return maildir_deliver(f->path, f->name, f->src, f->recovered);
}

/* File src into acct's mailbox.  Returns 1 filed, 0 already there (a
   delivery resumed after a crash), or 0 with *over_r set when the
   message would exceed the quota, -1 error. */
static int file_into(struct delivery *d, const struct envelope *e,
		     const struct account *acct, const char *src, bool recovered,
		     bool *over_r)
{
	struct filing f = { .d = d, .e = e, .acct = acct, .src = src, .recovered = recovered };
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
		maildir_name(f.name, sizeof(f.name), e->arrival, e->id, e->host, e->size,
			     crlf_size(src, e->size));
	}
	ret = quota_file(d->quota, e->id, acct, file_locked, &f);
	*over_r = f.over;
	return ret;
}

/* Local delivery refused the recipient for good: the relay bounces it to
   the sender (RFC 3464), through the same envelope as the remote ones. */
static void refuse_target(struct target_ctx *tc, const char *address, const char *text)
{
	struct job *job = tc->job;
	struct envelope_rcpt *r;

	log_info("%s: to=<%s>%s%s%s, status=bounced (%s)", job->env->id, address,
		 strcmp(address, tc->rcpt) != 0 ? ", orig_to=<" : "",
		 strcmp(address, tc->rcpt) != 0 ? tc->rcpt : "",
		 strcmp(address, tc->rcpt) != 0 ? ">" : "", text);
	if (job->relay == NULL)
		job->relay = envelope_new();
	if (envelope_add_rcpt(job->relay, address, tc->orcpt, tc->notify) < 0)
		return;
	r = &job->relay->rcpts[job->relay->n_rcpts - 1];
	r->state = ENVELOPE_FAILED;
	r->kind = ENVELOPE_FAIL;
	if (strcmp(address, tc->rcpt) != 0)
		envelope_set(&r->orig, tc->rcpt);
	envelope_set(&r->last_error, text);
	job->remote = true;
}

static void deliver_target(void *ctx, const struct resolve_target *t)
{
	struct target_ctx *tc = ctx;
	const struct envelope *e = tc->job->env;
	char text[400];
	bool over;
	int ret;

	if (t->kind == RESOLVE_REMOTE) {
		struct job *job = tc->job;
		if (job->relay == NULL)
			job->relay = envelope_new();
		for (unsigned i = 0; i < job->relay->n_rcpts; i++)
			if (strcmp(job->relay->rcpts[i].address, t->address) == 0)
				return;		/* the same remote address twice */
		if (envelope_add_rcpt(job->relay, t->address, tc->orcpt, tc->notify) > 0) {
			struct envelope_rcpt *r = &job->relay->rcpts[job->relay->n_rcpts - 1];
			r->kind = ENVELOPE_REMOTE;
			if (strcmp(t->address, tc->rcpt) != 0)
				envelope_set(&r->orig, tc->rcpt);
		}
		job->remote = true;
		return;
	}
	if (already_filed(tc, t->address))
		return;
	buf_puts(&tc->d->filed, t->address);
	buf_putc(&tc->d->filed, '\0');
	ret = file_into(tc->d, e, t->account, tc->src, tc->job->recovered, &over);
	if (over) {
		snprintf(text, sizeof(text), "5.2.2 mailbox full: the message (%llu bytes) "
			 "exceeds the quota of <%s> (%llu bytes)", (unsigned long long)e->size,
			 t->address, (unsigned long long)t->account->quota);
		refuse_target(tc, t->address, text);
		return;
	}
	if (ret < 0) {
		log_err("%s: to=<%s>, status=deferred (mailbox: %m)", e->id, t->address);
		tc->job->failed = true;
		return;
	}
	log_info("%s: to=<%s>%s%s%s, status=%s", e->id, t->address,
		 strcmp(t->address, tc->rcpt) != 0 ? ", orig_to=<" : "",
		 strcmp(t->address, tc->rcpt) != 0 ? tc->rcpt : "",
		 strcmp(t->address, tc->rcpt) != 0 ? ">" : "",
		 ret > 0 ? "sent (delivered to mailbox)" : "sent (already in mailbox)");
}

/* One final target as resolved at RCPT.  An account deleted since then is
   refused (and so bounced to the sender), never dropped. */
static void deliver_one(struct delivery *d, struct target_ctx *tc, char kind,
			const char *address)
{
	struct resolve_target t = { .address = address };
	struct account acct;
	int ret;

	if (kind == ENVELOPE_FAIL) {
		refuse_target(tc, tc->rcpt, address);
		return;
	}
	if (kind == ENVELOPE_REMOTE) {
		t.kind = RESOLVE_REMOTE;
		deliver_target(tc, &t);
		return;
	}
	ret = accounts_user_get(d->accounts, address, &acct);
	if (ret == 0) {
		refuse_target(tc, address, "5.1.1 unknown user: the account no longer exists");
		return;
	}
	if (ret < 0) {
		log_err("%s: to=<%s>, status=deferred (account lookup failed)",
			tc->job->env->id, address);
		tc->job->failed = true;
		return;
	}
	t.kind = RESOLVE_LOCAL;
	t.account = &acct;
	deliver_target(tc, &t);
}

static void deliver_recorded(struct delivery *d, struct target_ctx *tc,
			     const struct envelope_rcpt *r)
{
	if (r->n_targets == 0) {
		deliver_one(d, tc, r->kind, r->kind == ENVELOPE_FAIL && r->last_error != NULL ?
			    r->last_error : r->address);
		return;
	}
	for (unsigned k = 0; k < r->n_targets; k++)
		deliver_one(d, tc, r->targets[k].kind, r->targets[k].address);
}

static void deliver_job(struct delivery *d, struct job *job)
{
	struct target_ctx tc = { .d = d, .job = job };
	struct envelope *e = job->env;
	char src[1200];
	int ret;

	queue_text_path(d->queue, e->id, src, sizeof(src));
	tc.src = src;
	job->failed = job->remote = false;
	envelope_free(&job->relay);
	for (unsigned i = 0; i < e->n_rcpts; i++) {
		struct envelope_rcpt *r = &e->rcpts[i];
		bool was_failed = job->failed, was_remote = job->remote;
		if (r->done)
			continue;
		tc.rcpt = r->orig != NULL ? r->orig : r->address;
		tc.orcpt = r->orcpt;
		tc.notify = r->notify;
		job->failed = job->remote = false;
		if (r->kind != ENVELOPE_UNRESOLVED || r->n_targets > 0) {
			deliver_recorded(d, &tc, r);
			ret = 1;
		} else {	/* an envelope from before routes were recorded */
			ret = resolve_address(&d->cfg, d->accounts, r->address,
					      deliver_target, &tc);
		}
		if (ret == 0)
			refuse_target(&tc, r->address, "5.1.1 unknown user");
		else if (ret == RESOLVE_LOOP)
			refuse_target(&tc, r->address, "5.4.6 alias loop");
		else if (ret < 0)
			job->failed = true;
		r->done = !job->failed && !job->remote;
		job->failed = job->failed || was_failed;
		job->remote = job->remote || was_remote;
	}
	for (unsigned i = 0; i < tc.n_done; i++)
		free(tc.done[i]);
	free(tc.done);
	quota_release(d->quota, e->id);
}

/* ---- batches ---- */

/* After the batch is durable: drop finished messages, keep the others. */
/* The local part is done: the envelope now holds the remote recipients
   only, marked routed.  Written before the batch's flush, which makes it
   durable together with the batch's deliveries. */
static void route_remote(struct delivery *d, struct job *job)
{
	struct envelope *e = job->env;

	envelope_take_rcpts(e, job->relay);
	envelope_free(&job->relay);
	e->routed = true;
	if (queue_update(d->queue, e, false) < 0) {
		log_err("%s: cannot record the relay recipients", e->id);
		job->failed = true;
	}
}

/* After the flush: the relay takes the message. */
static void relay_job(struct delivery *d, struct job *job)
{
	struct envelope *e = job->env;

	job->env = NULL;
	d->relay(d->relay_ctx, e);
	free(job);
}

static void finish_job(struct delivery *d, struct job *job)
{
	if (!job->failed && !job->remote) {
		queue_done(d->queue, job->env->id);
		log_info("%s: removed", job->env->id);
		envelope_free(&job->env);
		free(job);
		return;
	}
	if (job->failed) {
		job->due = time(NULL) + DELIVERY_RETRY_SECONDS;
		job->next = d->retry;
		d->retry = job;
		return;
	}
	relay_job(d, job);
}

static void run_batch(struct delivery *d, struct job *batch)
{
	struct job *job, *next;

	for (job = batch; job != NULL; job = job->next) {
		deliver_job(d, job);
		if (job->remote && !job->failed)
			route_remote(d, job);
	}
	if (syncfs(d->sync_fd) < 0 || (d->mail_fd >= 0 && syncfs(d->mail_fd) < 0)) {
		log_err("delivery: syncfs: %m");
		for (job = batch; job != NULL; job = job->next)
			job->failed = true;
	}
	for (size_t off = 0; off < d->filed.len; off += strlen(d->filed.data + off) + 1)
		d->notify(d->relay_ctx, d->filed.data + off);
	buf_reset(&d->filed);
	for (job = batch; job != NULL; job = next) {
		next = job->next;
		finish_job(d, job);
	}
}

/* Take due retries and everything submitted, oldest first. */
static struct job *take_work(struct delivery *d)
{
	struct job *list = NULL, *j, *next, **keep = &d->retry;
	time_t now = time(NULL);

	for (j = d->incoming; j != NULL; j = next) {
		next = j->next;
		j->next = list;
		list = j;
	}
	d->incoming = NULL;
	while ((j = *keep) != NULL) {
		if (j->due <= now) {
			*keep = j->next;
			j->next = list;
			list = j;
		} else {
			keep = &j->next;
		}
	}
	return list;
}

static void wait_for_work(struct delivery *d)
{
	struct timespec ts;

	if (d->retry == NULL) {
		pthread_cond_wait(&d->cond, &d->lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_cond_timedwait(&d->cond, &d->lock, &ts);
}

static void *delivery_main(void *arg)
{
	struct delivery *d = arg;
	struct job *batch;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		if (d->cfg_changed) {
			d->cfg = d->next_cfg;
			d->cfg_changed = false;
		}
		batch = take_work(d);
		if (batch == NULL) {
			wait_for_work(d);
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
		   delivery_relay_fn *relay, delivery_notify_fn *notify, void *relay_ctx,
		   struct delivery **r, const char **error_r)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (d == NULL)
		abort();
	d->cfg = *cfg;
	d->queue = q;
	d->quota = quota;
	d->relay = relay;
	d->notify = notify;
	d->relay_ctx = relay_ctx;
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

static void free_jobs(struct job *j)
{
	while (j != NULL) {
		struct job *next = j->next;
		envelope_free(&j->env);
		envelope_free(&j->relay);
		free(j);
		j = next;
	}
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
	free_jobs(d->incoming);
	free_jobs(d->retry);
	accounts_free(&d->accounts);
	if (d->mail_fd >= 0)
		close(d->mail_fd);
	buf_deinit(&d->filed);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
	*dp = NULL;
}

void delivery_submit(struct delivery *d, struct envelope *e, bool recovered)
{
	struct job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		abort();
	job->env = e;
	job->recovered = recovered;
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
