/*
 * delivery.c - the delivery agent thread and its batches.
 *
 * One batch: the jobs filed since the last batch was handed over.  For
 * each job and each recipient the mail store files the message
 * (store_deliver: a hard link or copy into the Maildir, or an append to
 * the mbox), recording what changed; the batch's commit then fsyncs
 * exactly those files and directories on the store's workers while this
 * thread goes on filing the jobs that arrive into the next batch (one
 * batch flushes at a time: a group commit, see delivery_main).  Only
 * once a batch is on disk are its outcomes given back to the scheduler
 * (and finished messages removed from the spool), and the store takes in
 * the new mail.  A crash anywhere in between leaves the spool files, and
 * the redelivery finds the Maildir file names already present, so each
 * message lands exactly once.
 */
#include "delivery.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "delivery/quota.h"
#include "delivery/resolve.h"
#include "delivery/vacation.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"
#include "sieve/sieve.h"
#include "store/store.h"

struct delivery {
	struct config cfg;	/* the thread's copy */
	struct config next_cfg;	/* set by delivery_set_config */
	bool cfg_changed;
	struct queue *queue;
	delivery_done_fn *done;
	void *ctx;
	struct store *store;	/* the loop's: files the mail, hears of it */
	struct commit *gathering;	/* the jobs of the batch being filed */
	struct store_delivery *batch;	/* ... and what filing them changed */
	unsigned committing;	/* batches flushing (under commit_lock) */
	struct accounts *accounts;
	struct quota *quota;	/* reservations made at DATA, released here */
	pthread_t thread;
	struct handoff *incoming;	/* jobs for the thread */
	pthread_mutex_t cfg_lock;	/* guards next_cfg and cfg_changed */
	pthread_mutex_t commit_lock;	/* guards committing */
	pthread_cond_t commit_cond;	/* a batch is on disk */
	struct store *folders;	/* this thread's, for Sieve's fileinto :create;
				   made when first needed */
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

/* One message into one mailbox (see file_into). */
struct filing {
	struct delivery *d;
	const struct delivery_job *job;
	const struct account *acct;
	const struct store_delivery_msg *msg;
	bool mbox;
	const char *folder;	/* NULL: the INBOX */
	const char *flags;	/* Sieve's IMAP flags, or NULL */
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
	if (f->mbox ? f->job->recovered :
	    store_delivery_present(f->d->batch, f->msg, f->acct->address, f->folder, false))
		return 1;
	if (quota_usage(&f->d->cfg, f->acct, &used) < 0)
		return -1;
	return quota_fits(f->acct->quota, used, 0, f->job->size) ? 1 : 0;
}

/* Under the quota lock: check the room, then file. */
static int file_locked(void *ctx)
{
	struct filing *f = ctx;
	struct store_error err;
	int room = has_room(f);

	if (room <= 0) {
		f->over = room == 0;
		return room;
	}
	return store_deliver(f->d->batch, f->msg, f->acct->address, f->folder, f->mbox,
			     f->flags, &err);
}

/* File msg into acct's mailbox: its INBOX, or the folder (from
   sieve_folder) with IMAP flags; a message DMARC quarantined goes to the
   folder Junk.  Returns 1 filed, 0 already there (a delivery resumed
   after a crash), or 0 with *over_r set when the message would exceed
   the quota, -1 error. */
static int file_into_folder(struct delivery *d, const struct delivery_job *job,
			    const struct account *acct, const struct store_delivery_msg *msg,
			    const char *folder, const char *flags, bool *over_r)
{
	struct filing f = { .d = d, .job = job, .acct = acct, .msg = msg, .flags = flags };
	int ret;

	/* the INBOX of an mbox account is its mbox file, its other folders
	   are Maildir++ folders as for every account */
	f.folder = job->junk ? "Junk" : folder;
	f.mbox = delivery_uses_mbox(&d->cfg, acct->mailbox_format) && f.folder == NULL;
	ret = quota_file(d->quota, job->id, acct, file_locked, &f);
	*over_r = f.over;
	return ret;
}

static int file_into(struct delivery *d, const struct delivery_job *job,
		     const struct account *acct, const struct store_delivery_msg *msg,
		     bool *over_r)
{
	return file_into_folder(d, job, acct, msg, NULL, NULL, over_r);
}

/* ---- Sieve ---- */

/* Sieve redirects followed into other local accounts' scripts, nested:
   past this the message is kept where it is (a chain of accounts that
   redirect to each other cannot grow the stack without end). */
#define SIEVE_REDIRECT_NESTING 8

/* One recipient's delivery through Sieve scripts (its own, and those of
   the local accounts it redirects to). */
struct sieve_run {
	struct delivery *d;
	struct delivery_job *job;
	struct delivery_rcpt *r;
	const struct store_delivery_msg *msg;
	unsigned redirects;	/* nesting */
	char **done;		/* accounts filed for this recipient */
	unsigned n_done;
	int ret;		/* of the redirects followed */
};

static bool run_done(const struct sieve_run *sr, const char *address)
{
	for (unsigned i = 0; i < sr->n_done; i++)
		if (strcasecmp(sr->done[i], address) == 0)
			return true;
	return false;
}

static void run_record(struct sieve_run *sr, const char *address)
{
	sr->done = xreallocarray(sr->done, sr->n_done + 1, sizeof(*sr->done));
	sr->done[sr->n_done++] = xstrdup(address);
}

/* Does the Sieve folder name ('/' between levels) exist in the
   account's mailbox?  It is created through a mail store of this thread
   when create is set.  1 exists, 0 does not, -1 bad name. */
static int sieve_folder(struct delivery *d, const char *address, const char *folder,
			bool create)
{
	struct store_account *a;
	struct store_error err = { 0 };
	int ret = store_delivery_folder_exists(d->batch, address, folder);

	if (ret != 0 || !create)
		return ret;
	if (d->folders == NULL)
		d->folders = store_new(d->cfg.data_dir, d->cfg.hostname);
	if (store_account_open(d->folders, address, &a, &err) < 0)
		return -1;
	ret = store_folder_create(a, folder, 0, &err);
	store_account_unref(&a);
	if (ret < 0 && store_delivery_folder_exists(d->batch, address, folder) <= 0) {
		log_warn("sieve: <%s>: cannot create folder \"%s\": %s", address, folder,
			 err.text);
		return 0;
	}
	return 1;
}

static int deliver_account(struct sieve_run *sr, const struct account *acct, bool *over_r);

/* A target of a Sieve redirect: a local account gets it here (through its
   own script), a remote address goes back to the scheduler. */
static void redirect_target(void *ctx, const struct resolve_target *t)
{
	struct sieve_run *sr = ctx;
	bool over = false;

	if (t->kind == RESOLVE_REMOTE) {
		buf_puts(&sr->job->redirects, t->address);
		buf_putc(&sr->job->redirects, '\0');
		buf_puts(&sr->job->redirects, sr->r->address);
		buf_putc(&sr->job->redirects, '\0');
		return;
	}
	if (run_done(sr, t->address))
		return;
	run_record(sr, t->address);
	if (deliver_account(sr, t->account, &over) < 0)
		sr->ret = -1;
	else if (over)
		log_info("%s: to=<%s>, orig_to=<%s>, status=bounced (5.2.2 mailbox full: "
			 "the redirected message is not filed)", sr->job->id, t->address,
			 sr->r->address);
}

/* Keep a redirect as a fileinto INBOX instead. */
static void keep_instead(struct sieve_action *a)
{
	a->kind = SIEVE_ACTION_FILEINTO;
	free(a->folder);
	a->folder = xstrdup("INBOX");
	if (a->flags == NULL)
		a->flags = xstrdup("");
}

/* Sieve: the account's script decides where the message goes
   (sieve_deliver_plan); this carries out its plan.  Returns as file_into
   (1 filed, 0 discarded or already there, -1 error to retry); a reject
   refuses the recipient (its code and text set). */
static int deliver_sieve(struct sieve_run *sr, const struct account *acct, bool *over_r)
{
	struct delivery *d = sr->d;
	struct delivery_job *job = sr->job;
	struct sieve_message msg = { .env_from = job->sender,
				     .env_to = sr->r->orig != NULL ? sr->r->orig : sr->r->address,
				     .delimiter = d->cfg.recipient_delimiter[0] };
	struct sieve_globals globals = { .dir = d->cfg.sieve_global_dir,
					 .before = d->cfg.sieve_before,
					 .after = d->cfg.sieve_after };
	struct sieve_plan *plan;
	char maildir[4200];
	void *map = MAP_FAILED;
	struct stat st;
	int fd, ret = 1;

	*over_r = false;
	delivery_mailbox_path(&d->cfg, acct->address, false, maildir, sizeof(maildir));
	fd = open(sr->msg->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size > 0)
		map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	msg.data = map == MAP_FAILED ? "" : map;
	msg.len = map == MAP_FAILED ? 0 : (size_t)st.st_size;
	plan = xcalloc(1, sizeof(*plan));
	if (sieve_deliver_plan(maildir, &globals, &msg, plan) == 0) {
		free(plan);
		if (map != MAP_FAILED)
			munmap(map, st.st_size);
		return file_into(d, job, acct, sr->msg, over_r);
	}
	if (map != MAP_FAILED)
		munmap(map, st.st_size);
	if (plan->n == 0)
		log_info("%s: to=<%s>, sieve: discarded", job->id, acct->address);
	for (unsigned i = 0; i < plan->n && ret >= 0 && !*over_r; i++) {
		struct sieve_action *a = &plan->actions[i];
		const char *folder = NULL;
		int r;
		if (a->kind == SIEVE_ACTION_REDIRECT && sr->redirects >= SIEVE_REDIRECT_NESTING) {
			log_warn("%s: to=<%s>, sieve: redirects nested too deeply, keeping in INBOX",
				 job->id, acct->address);
			keep_instead(a);
		}
		if (a->kind == SIEVE_ACTION_REDIRECT &&
		    (strcasecmp(a->address, acct->address) == 0 ||
		     strcasecmp(a->address, sr->r->address) == 0 ||
		     (sr->r->orig != NULL && strcasecmp(a->address, sr->r->orig) == 0) ||
		     run_done(sr, a->address))) {
			/* to itself, or back to an account that had it already
			   (a loop: an account gets a message once, and it would
			   be lost): keep it */
			log_info("%s: to=<%s>, sieve: redirect to itself or back to <%s>, "
				 "keeping in INBOX", job->id, acct->address, a->address);
			keep_instead(a);
		}
		if (a->kind == SIEVE_ACTION_REDIRECT) {
			log_info("%s: to=<%s>, sieve: redirect to <%s>", job->id, acct->address,
				 a->address);
			sr->redirects++;
			if (resolve_address(&d->cfg, d->accounts, a->address, redirect_target,
					    sr) < 0)
				ret = -1;
			sr->redirects--;
			if (sr->ret < 0)
				ret = -1;
			continue;
		}
		if (a->kind == SIEVE_ACTION_VACATION) {
			if (!job->recovered)
				vacation_send(&d->cfg, maildir, acct->address, a);
			continue;
		}
		if (a->kind == SIEVE_ACTION_REJECT) {
			if (strcmp(acct->address, sr->r->address) == 0) {
				sr->r->code = 550;
				snprintf(sr->r->text, sizeof(sr->r->text), "5.7.1 rejected by the "
					 "recipient's filter: %.300s", a->text);
			} else {
				log_info("%s: to=<%s>, status=bounced (5.7.1 rejected by the "
					 "recipient's filter)", job->id, acct->address);
			}
			continue;
		}
		if (strcasecmp(a->folder, "INBOX") != 0) {
			if (sieve_folder(d, acct->address, a->folder, a->create) > 0)
				folder = a->folder;
			else
				log_warn("%s: to=<%s>, sieve: fileinto \"%s\": no such folder, "
					 "keeping in INBOX", job->id, acct->address, a->folder);
		}
		r = file_into_folder(d, job, acct, sr->msg, folder, a->flags, over_r);
		if (r < 0)
			ret = -1;
		else if (r > 0 && folder != NULL)
			log_info("%s: to=<%s>, sieve: fileinto %s", job->id, acct->address,
				 a->folder);
	}
	sieve_plan_free(plan);
	free(plan);
	return ret;
}

/* Into one account: through its Sieve script (Maildir and mbox accounts
   alike), straight into Junk when DMARC quarantined it. */
static int deliver_account(struct sieve_run *sr, const struct account *acct, bool *over_r)
{
	if (sr->job->junk)
		return file_into(sr->d, sr->job, acct, sr->msg, over_r);
	return deliver_sieve(sr, acct, over_r);
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
			 struct delivery_rcpt *r, const struct store_delivery_msg *msg)
{
	struct account acct;
	char note[400];
	bool over = false;
	int ret = accounts_user_get(d->accounts, r->address, &acct);

	if (ret > 0) {
		struct sieve_run sr = { .d = d, .job = job, .r = r, .msg = msg };
		run_record(&sr, acct.address);
		ret = deliver_account(&sr, &acct, &over);
		for (unsigned i = 0; i < sr.n_done; i++)
			free(sr.done[i]);
		free(sr.done);
		if (r->code != 0 && ret >= 0) {		/* its own script rejected it */
			log_info("%s: to=<%s>%s, status=bounced (%s)", job->id, r->address,
				 orig_note(r, note, sizeof(note)), r->text);
			return;
		}
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
	struct store_delivery_msg msg;
	char src[1200];

	queue_text_path(d->queue, job->id, src, sizeof(src));
	store_delivery_msg_init(&msg, src, job->id, job->host, job->sender, job->arrival,
				job->size, job->recovered);
	for (unsigned i = 0; i < job->n_rcpts; i++)
		deliver_rcpt(d, job, &job->rcpts[i], &msg);
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

static struct delivery_job *job_of(struct handoff_link *l)
{
	return HANDOFF_ITEM(l, struct delivery_job, link);
}

/* A batch whose files are being flushed. */
struct commit {
	struct delivery *d;
	struct handoff_link *jobs;
};

/* The batch is on disk (result 1) or not (-1): on a store worker, give
   the jobs back. */
static void batch_durable(void *ctx, int result)
{
	struct commit *c = ctx;
	struct delivery *d = c->d;
	struct handoff_link *l, *next;

	for (l = c->jobs; l != NULL; l = next) {
		struct delivery_job *job = job_of(l);
		next = l->next;		/* done() hands the job on */
		for (unsigned i = 0; result < 0 && i < job->n_rcpts; i++) {
			struct delivery_rcpt *r = &job->rcpts[i];
			if (r->code >= 300)
				continue;
			r->code = 451;
			snprintf(r->text, sizeof(r->text), "4.3.0 the mailboxes could "
				 "not be flushed to disk");
		}
		if (job->last && job->redirects.len == 0 && all_delivered(job)) {
			queue_done(d->queue, job->id);
			log_info("%s: removed", job->id);
			job->removed = true;
		}
		d->done(d->ctx, job);
	}
	free(c);
	pthread_mutex_lock(&d->commit_lock);
	d->committing--;
	pthread_cond_broadcast(&d->commit_cond);
	pthread_mutex_unlock(&d->commit_lock);
}

/* File jobs (oldest first) into the batch being gathered, under the
   configuration of the moment they are taken. */
static void file_jobs(struct delivery *d, struct handoff_link *jobs)
{
	struct commit *c = d->gathering;
	struct handoff_link **tail;

	pthread_mutex_lock(&d->cfg_lock);
	if (d->cfg_changed) {
		d->cfg = d->next_cfg;
		d->cfg_changed = false;
	}
	pthread_mutex_unlock(&d->cfg_lock);
	if (c == NULL) {
		c = d->gathering = xcalloc(1, sizeof(*c));
		c->d = d;
		d->batch = store_delivery_begin(d->store);
	}
	for (tail = &c->jobs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = jobs;
	for (struct handoff_link *l = jobs; l != NULL; l = l->next)
		deliver_job(d, job_of(l));
}

/* Hand the gathered batch to the store to be flushed. */
static void commit_gathered(struct delivery *d)
{
	struct commit *c = d->gathering;

	d->gathering = NULL;
	pthread_mutex_lock(&d->commit_lock);
	d->committing++;
	pthread_mutex_unlock(&d->commit_lock);
	store_delivery_commit(&d->batch, batch_durable, c);
}

static bool flushing(struct delivery *d)
{
	bool busy;

	pthread_mutex_lock(&d->commit_lock);
	busy = d->committing > 0;
	pthread_mutex_unlock(&d->commit_lock);
	return busy;
}

static void wait_flushed(struct delivery *d)
{
	pthread_mutex_lock(&d->commit_lock);
	while (d->committing > 0)
		pthread_cond_wait(&d->commit_cond, &d->commit_lock);
	pthread_mutex_unlock(&d->commit_lock);
}

/*
 * Group commit: one batch flushes at a time.  Jobs that arrive meanwhile
 * are filed at once (their files appear in the mailboxes) into the next
 * batch, which is handed over to be flushed when the flush under way
 * ends; so a burst shares few flushes and filing never waits for the
 * disk while there is work.  At stop, jobs not taken stay.
 */
static void *delivery_main(void *arg)
{
	struct delivery *d = arg;
	struct handoff_link *jobs;

	for (;;) {
		if (d->gathering != NULL && !flushing(d)) {
			commit_gathered(d);
		} else if (d->gathering != NULL) {
			if ((jobs = handoff_take(d->incoming)) != NULL)
				file_jobs(d, jobs);
			else
				wait_flushed(d);
		} else if ((jobs = handoff_wait(d->incoming, true)) != NULL) {
			file_jobs(d, jobs);
		} else {
			break;
		}
	}
	/* the batches still flushing give their jobs back first */
	wait_flushed(d);
	return NULL;
}

/* ---- interface ---- */

int delivery_start(const struct config *cfg, struct queue *q, struct quota *quota,
		   struct store *store, delivery_done_fn *done, void *ctx,
		   struct delivery **r, const char **error_r)
{
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->cfg = *cfg;
	d->queue = q;
	d->quota = quota;
	d->store = store;
	d->done = done;
	d->ctx = ctx;
	if (accounts_open(cfg->data_dir, &d->accounts, error_r) < 0) {
		free(d);
		return -1;
	}
	if (handoff_new(NULL, NULL, &d->incoming) < 0)
		abort();	/* a worker hand-off makes no descriptor */
	pthread_mutex_init(&d->cfg_lock, NULL);
	pthread_mutex_init(&d->commit_lock, NULL);
	pthread_cond_init(&d->commit_cond, NULL);
	if (pthread_create(&d->thread, NULL, delivery_main, d) != 0)
		fatal("delivery: cannot start its thread");
	*r = d;
	return 1;
}

void delivery_job_free(struct delivery_job **jp)
{
	struct delivery_job *j = *jp;

	if (j == NULL)
		return;
	free(j->rcpts);
	buf_deinit(&j->redirects);
	free(j);
	*jp = NULL;
}

void delivery_stop(struct delivery **dp)
{
	struct delivery *d = *dp;

	if (d == NULL)
		return;
	handoff_stop(d->incoming, false);	/* the batch under way ends */
	pthread_join(d->thread, NULL);
	/* jobs not taken go back without results (their caller frees them) */
	for (struct handoff_link *l = handoff_take(d->incoming), *next; l != NULL; l = next) {
		next = l->next;
		d->done(d->ctx, job_of(l));
	}
	accounts_free(&d->accounts);
	if (d->folders != NULL)
		store_free(&d->folders);
	handoff_free(&d->incoming);
	pthread_mutex_destroy(&d->cfg_lock);
	pthread_mutex_destroy(&d->commit_lock);
	pthread_cond_destroy(&d->commit_cond);
	free(d);
	*dp = NULL;
}

void delivery_submit(struct delivery *d, struct delivery_job *job)
{
	handoff_post(d->incoming, &job->link);
}

void delivery_set_config(struct delivery *d, const struct config *cfg)
{
	pthread_mutex_lock(&d->cfg_lock);
	d->next_cfg = *cfg;
	d->cfg_changed = true;
	pthread_mutex_unlock(&d->cfg_lock);
}
