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
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/accounts.h"
#include "delivery/maildir.h"
#include "delivery/mbox.h"
#include "delivery/quota.h"
#include "delivery/resolve.h"
#include "delivery/vacation.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib-smtp/smtp_parse.h"
#include "lib/util.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "sieve/sieve.h"
#include "store/store.h"

#define DELIVERY_RETRY_SECONDS 60
#define NOTICE_ORIGINAL_READ (256 * 1024)	/* a success notice returns headers */

struct job {
	struct envelope *env;
	bool recovered;
	bool failed;		/* temporary error: retry later */
	bool remote;		/* some recipients left for the relay */
	struct envelope *relay;	/* those recipients, as a routed envelope */
	time_t due;		/* retry time */
	struct buf *notice;	/* "delivered" notice to send once durable */
	bool notice_8bitmime, notice_smtputf8;
	struct job *next;
};

struct delivery {
	struct config cfg;	/* the thread's copy */
	struct config next_cfg;	/* set by delivery_set_config */
	bool cfg_changed;
	struct queue *queue;
	delivery_relay_fn *relay;
	delivery_notify_fn *notify;
	delivery_notice_fn *notice;
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
	struct store *store;	/* for Sieve's fileinto :create; made when first needed */
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
	bool filed;		/* the recipient got a new copy in a mailbox */
	char **done;		/* account addresses already filed */
	unsigned n_done;
	unsigned redirects;	/* Sieve redirects being followed (nesting) */
};

/* Sieve redirects followed into other local accounts' scripts, nested:
   past this the message is kept where it is (a chain of accounts that
   redirect to each other cannot grow the stack without end). */
#define SIEVE_REDIRECT_NESTING 8

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

/* Has this message been handled for address already (no record made)? */
static bool was_filed(const struct target_ctx *t, const char *address)
{
	for (unsigned i = 0; i < t->n_done; i++)
		if (strcasecmp(t->done[i], address) == 0)
			return true;
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
	const char *flags;	/* Sieve's IMAP flags for the file name, or NULL */
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
	room = maildir_deliver(f->path, f->name, f->src, f->recovered);
	if (room > 0 && f->flags != NULL && f->flags[0] != '\0')
		return maildir_set_flags(f->path, f->name, f->flags);
	return room;
}

/* File src into acct's mailbox.  Returns 1 filed, 0 already there (a
   delivery resumed after a crash), or 0 with *over_r set when the
   message would exceed the quota, -1 error. */
static int file_into_folder(struct delivery *d, const struct envelope *e,
			    const struct account *acct, const char *src, bool recovered,
			    const char *folder_dir, const char *flags, bool *over_r);

static int file_into(struct delivery *d, const struct envelope *e,
		     const struct account *acct, const char *src, bool recovered,
		     bool *over_r)
{
	return file_into_folder(d, e, acct, src, recovered, NULL, NULL, over_r);
}

/* The same into one Maildir++ folder (a directory of the account's
   Maildir, from sieve_folder_dir), with IMAP flags; NULL: the INBOX. */
static int file_into_folder(struct delivery *d, const struct envelope *e,
			    const struct account *acct, const char *src, bool recovered,
			    const char *folder_dir, const char *flags, bool *over_r)
{
	struct filing f = { .d = d, .e = e, .acct = acct, .src = src, .recovered = recovered,
			    .flags = flags };
	int ret;

	f.mbox = delivery_uses_mbox(&d->cfg, acct->mailbox_format) && !e->junk;
	delivery_mailbox_path(&d->cfg, acct->address, f.mbox, f.path, sizeof(f.path));
	if (e->junk)	/* DMARC quarantine: the Maildir++ folder Junk */
		strncat(f.path, "/.Junk", sizeof(f.path) - strlen(f.path) - 1);
	else if (folder_dir != NULL && !f.mbox) {
		size_t l = strlen(f.path);
		snprintf(f.path + l, sizeof(f.path) - l, "/%s", folder_dir);
	}
	if (f.mbox) {
		char dir[4200];
		snprintf(dir, sizeof(dir), "%s/mbox", d->cfg.data_dir);
		if (mkdir_p(dir, 0700) < 0)
			return -1;
	} else {
		if (maildir_create(f.path) < 0)
			return -1;
		if (e->junk) {
			/* mark it a Maildir++ folder, as the store does */
			char mark[4300];
			int fd;
			snprintf(mark, sizeof(mark), "%s/maildirfolder", f.path);
			if ((fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
				close(fd);
		}
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
	metrics_delivery(METRICS_LOCAL, METRICS_BOUNCED, job->env->arrival);
	if (job->relay == NULL)
		job->relay = envelope_new();
	if (envelope_add_rcpt(job->relay, address, tc->orcpt, tc->notify) < 0)
		return;
	r = &job->relay->rcpts[job->relay->n_rcpts - 1];
	r->state = ENVELOPE_FAILED;
	envelope_set(&r->last_error, text);
	job->remote = true;
}

/* The Maildir++ directory (".A.B") of a Sieve folder name ('/' between
   levels) in the account's Maildir, into out; the folder is created
   through the mail store when create is set.  1 exists, 0 does not, -1
   bad name. */
static int sieve_folder_dir(struct delivery *d, const char *address, const char *maildir,
			    const char *folder, bool create, char *out, size_t size)
{
	char path[4800];
	struct stat st;

	if (store_folder_dir_name(folder, out, size) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", maildir, out);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 1;
	if (!create)
		return 0;
	struct store_account *a;
	struct store_error err = { 0 };
	if (d->store == NULL)
		d->store = store_new(d->cfg.data_dir, d->cfg.hostname);
	if (store_account_open(d->store, address, &a, &err) < 0)
		return -1;
	int ret = store_folder_create(a, folder, 0, &err);
	store_account_unref(&a);
	if (ret < 0 && !(stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
		log_warn("sieve: <%s>: cannot create folder \"%s\": %s", address, folder,
			 err.text);
		return 0;
	}
	return 1;
}

static void deliver_target(void *ctx, const struct resolve_target *t);

/* Sieve: the account's script decides where the message goes
   (sieve_deliver_plan); this carries out its plan.  Returns as file_into
   (1 filed, 0 discarded or already there, -1 error to retry). */
static int deliver_sieve(struct target_ctx *tc, const struct resolve_target *t, bool *over_r)
{
	struct delivery *d = tc->d;
	const struct envelope *e = tc->job->env;
	struct sieve_message msg = { .env_from = e->sender, .env_to = tc->rcpt,
				     .delimiter = d->cfg.recipient_delimiter[0] };
	struct sieve_plan *plan;
	char maildir[4200], dir[600];
	void *map = MAP_FAILED;
	struct stat st;
	int fd, ret = 1;

	*over_r = false;
	delivery_mailbox_path(&d->cfg, t->account->address, false, maildir, sizeof(maildir));
	fd = open(tc->src, O_RDONLY | O_CLOEXEC);
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
	plan = calloc(1, sizeof(*plan));
	if (plan == NULL)
		abort();
	if (sieve_deliver_plan(maildir, &msg, plan) == 0) {
		free(plan);
		if (map != MAP_FAILED)
			munmap(map, st.st_size);
		return file_into(d, e, t->account, tc->src, tc->job->recovered, over_r);
	}
	if (map != MAP_FAILED)
		munmap(map, st.st_size);
	if (plan->n == 0)
		log_info("%s: to=<%s>, sieve: discarded", e->id, t->address);
	for (unsigned i = 0; i < plan->n && ret >= 0 && !*over_r; i++) {
		struct sieve_action *a = &plan->actions[i];
		const char *folder_dir = NULL;
		int r;
		if (a->kind == SIEVE_ACTION_REDIRECT && tc->redirects >= SIEVE_REDIRECT_NESTING) {
			log_warn("%s: to=<%s>, sieve: redirects nested too deeply, keeping in INBOX",
				 e->id, t->address);
			a->kind = SIEVE_ACTION_FILEINTO;
			a->folder = strdup("INBOX");
			if (a->flags == NULL)
				a->flags = strdup("");
			if (a->folder == NULL || a->flags == NULL)
				abort();
		}
		if (a->kind == SIEVE_ACTION_REDIRECT &&
		    (strcasecmp(a->address, t->address) == 0 ||
		     strcasecmp(a->address, tc->rcpt) == 0 || was_filed(tc, a->address))) {
			/* to itself, or back to an account that had it already
			   (a loop: an account gets a message once, and it would
			   be lost): keep it */
			log_info("%s: to=<%s>, sieve: redirect to itself or back to <%s>, "
				 "keeping in INBOX", e->id, t->address, a->address);
			a->kind = SIEVE_ACTION_FILEINTO;
			a->folder = strdup("INBOX");
			if (a->flags == NULL)
				a->flags = strdup("");
			if (a->folder == NULL || a->flags == NULL)
				abort();
		}
		if (a->kind == SIEVE_ACTION_REDIRECT) {
			log_info("%s: to=<%s>, sieve: redirect to <%s>", e->id, t->address,
				 a->address);
			const char *rcpt = tc->rcpt;
			tc->redirects++;
			if (resolve_address(&d->cfg, d->accounts, a->address, deliver_target, tc) < 0)
				ret = -1;
			tc->redirects--;
			tc->rcpt = rcpt;
			continue;
		}
		if (a->kind == SIEVE_ACTION_VACATION) {
			if (!tc->job->recovered)
				vacation_send(&d->cfg, maildir, t->account->address, a);
			continue;
		}
		if (a->kind == SIEVE_ACTION_REJECT) {
			char text[400];
			snprintf(text, sizeof(text), "5.7.1 rejected by the recipient's filter: %.300s",
				 a->text);
			refuse_target(tc, t->address, text);
			continue;
		}
		if (strcasecmp(a->folder, "INBOX") != 0) {
			if (sieve_folder_dir(d, t->account->address, maildir, a->folder,
					     a->create, dir, sizeof(dir)) > 0)
				folder_dir = dir;
			else
				log_warn("%s: to=<%s>, sieve: fileinto \"%s\": no such folder, "
					 "keeping in INBOX", e->id, t->address, a->folder);
		}
		r = file_into_folder(d, e, t->account, tc->src, tc->job->recovered, folder_dir,
				     a->flags, over_r);
		if (r < 0)
			ret = -1;
		else if (r > 0 && folder_dir != NULL)
			log_info("%s: to=<%s>, sieve: fileinto %s", e->id, t->address, a->folder);
	}
	sieve_plan_free(plan);
	free(plan);
	return ret;
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
		envelope_add_rcpt(job->relay, t->address, tc->orcpt, tc->notify);
		job->remote = true;
		return;
	}
	if (already_filed(tc, t->address))
		return;
	buf_puts(&tc->d->filed, t->address);
	buf_putc(&tc->d->filed, '\0');
	/* Sieve runs for Maildir accounts; a message DMARC quarantined goes
	   to Junk without it */
	if (e->junk || delivery_uses_mbox(&tc->d->cfg, t->account->mailbox_format))
		ret = file_into(tc->d, e, t->account, tc->src, tc->job->recovered, &over);
	else
		ret = deliver_sieve(tc, t, &over);
	if (over) {
		snprintf(text, sizeof(text), "5.2.2 mailbox full: the message (%llu bytes) "
			 "exceeds the quota of <%s> (%llu bytes)", (unsigned long long)e->size,
			 t->address, (unsigned long long)t->account->quota);
		refuse_target(tc, t->address, text);
		return;
	}
	tc->filed = tc->filed || ret > 0;
	if (ret < 0) {
		log_err("%s: to=<%s>, status=deferred (mailbox: %m)", e->id, t->address);
		metrics_delivery(METRICS_LOCAL, METRICS_DEFERRED, e->arrival);
		tc->job->failed = true;
		return;
	}
	log_info("%s: to=<%s>%s%s%s, status=%s", e->id, t->address,
		 strcmp(t->address, tc->rcpt) != 0 ? ", orig_to=<" : "",
		 strcmp(t->address, tc->rcpt) != 0 ? tc->rcpt : "",
		 strcmp(t->address, tc->rcpt) != 0 ? ">" : "",
		 ret > 0 ? "sent (delivered to mailbox)" : "sent (already in mailbox)");
	metrics_delivery(METRICS_LOCAL, METRICS_DELIVERED, e->arrival);
}

/* ---- "delivered" notices (RFC 3461 §5.2.2) ---- */

/* The notice for e's recipients rcpts[0..n) (indexes), composed now,
   while the spool file src is there; kept in job until the batch is
   durable. */
static void notice_compose(struct delivery *d, struct job *job, const char *src,
			   const unsigned *rcpts, unsigned n)
{
	const struct envelope *e = job->env;
	struct dsn_rcpt *dr = calloc(n, sizeof(*dr));
	struct dsn_info info = { 0 };
	struct dsn_result result;
	char from[300], *original = NULL;
	size_t cap = 0;
	ssize_t got = -1;
	const char *error;
	int fd;

	if (dr == NULL)
		abort();
	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) >= 0) {
		got = read_file_at_start(fd, e->size < NOTICE_ORIGINAL_READ ? (size_t)e->size :
					 NOTICE_ORIGINAL_READ, &original, &cap);
		close(fd);
	}
	for (unsigned i = 0; i < n; i++) {
		dr[i].address = e->rcpts[rcpts[i]].address;
		dr[i].orcpt = e->rcpts[rcpts[i]].orcpt;
		dr[i].action = "delivered";
		dr[i].status = "2.0.0";
		dr[i].last_attempt = time(NULL);
	}
	snprintf(from, sizeof(from), "MAILER-DAEMON@%s", d->cfg.hostname);
	info = (struct dsn_info){ .kind = DSN_SUCCESS, .reporting_mta = d->cfg.hostname,
				  .from_address = from, .to = e->sender, .envid = e->envid,
				  .queue_id = e->id, .arrival = (time_t)e->arrival,
				  .ret_full = false, .max_return = NOTICE_ORIGINAL_READ };
	if ((job->notice = calloc(1, sizeof(*job->notice))) == NULL)
		abort();
	buf_init(job->notice, 0);
	if (got < 0 || dsn_compose(&info, dr, n, original, (size_t)got, job->notice, &result,
				   &error) < 0) {
		log_err("%s: cannot compose the delivery notice", e->id);
		buf_deinit(job->notice);
		free(job->notice);
		job->notice = NULL;
	} else {
		job->notice_8bitmime = result.need_8bitmime;
		job->notice_smtputf8 = result.need_smtputf8;
	}
	free(original);
	free(dr);
}

static void notice_free(struct job *job)
{
	if (job->notice == NULL)
		return;
	buf_deinit(job->notice);
	free(job->notice);
	job->notice = NULL;
}

/* A local recipient that asked NOTIFY=SUCCESS and now has its copy. */
static bool wants_notice(const struct job *job, const struct envelope_rcpt *r,
			 const struct target_ctx *tc)
{
	return tc->filed && !job->failed && !job->remote && !job->recovered &&
	       (r->notify & SMTP_NOTIFY_SUCCESS) && !(r->notify & SMTP_NOTIFY_NEVER) &&
	       job->env->sender[0] != '\0';
}

static void deliver_job(struct delivery *d, struct job *job)
{
	struct target_ctx tc = { .d = d, .job = job };
	struct envelope *e = job->env;
	unsigned *notice = calloc(e->n_rcpts + 1, sizeof(*notice)), n_notice = 0;
	char src[1200];
	int ret;

	if (notice == NULL)
		abort();
	queue_text_path(d->queue, e->id, src, sizeof(src));
	tc.src = src;
	job->failed = job->remote = false;
	envelope_free(&job->relay);
	for (unsigned i = 0; i < e->n_rcpts; i++) {
		struct envelope_rcpt *r = &e->rcpts[i];
		bool was_failed = job->failed, was_remote = job->remote;
		if (r->done)
			continue;
		tc.rcpt = r->address;
		tc.orcpt = r->orcpt;
		tc.notify = r->notify;
		tc.filed = false;
		job->failed = job->remote = false;
		ret = resolve_address(&d->cfg, d->accounts, r->address, deliver_target, &tc);
		if (ret > 0 && wants_notice(job, r, &tc))
			notice[n_notice++] = i;
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
	if (n_notice > 0 && d->notice != NULL)
		notice_compose(d, job, src, notice, n_notice);
	free(notice);
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
	notice_free(job);
	free(job);
}

static void finish_job(struct delivery *d, struct job *job)
{
	if (!job->failed && !job->remote) {
		queue_done(d->queue, job->env->id);
		log_info("%s: removed", job->env->id);
		envelope_free(&job->env);
		notice_free(job);
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
	bool durable = true;

	for (job = batch; job != NULL; job = job->next) {
		deliver_job(d, job);
		if (job->remote && !job->failed)
			route_remote(d, job);
	}
	if (syncfs(d->sync_fd) < 0 || (d->mail_fd >= 0 && syncfs(d->mail_fd) < 0)) {
		log_err("delivery: syncfs: %m");
		durable = false;
		for (job = batch; job != NULL; job = job->next)
			job->failed = true;
	}
	for (size_t off = 0; off < d->filed.len; off += strlen(d->filed.data + off) + 1)
		d->notify(d->relay_ctx, d->filed.data + off);
	buf_reset(&d->filed);
	for (job = batch; job != NULL; job = job->next) {
		/* the copies are durable (their recipients are done even when
		   another recipient of the message waits for a retry) */
		if (job->notice == NULL)
			continue;
		if (!durable) {
			log_err("%s: delivery notice dropped: the batch did not reach the disk",
				job->env->id);
			notice_free(job);
			continue;
		}
		d->notice(d->relay_ctx, job->env->sender, job->notice, job->notice_8bitmime,
			  job->notice_smtputf8);
		job->notice = NULL;	/* the callee has it now */
	}
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
		   delivery_relay_fn *relay, delivery_notify_fn *notify,
		   delivery_notice_fn *notice, void *relay_ctx,
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
	d->notice = notice;
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
		notice_free(j);
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
	if (d->store != NULL)
		store_free(&d->store);
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
