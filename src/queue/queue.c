/*
 * queue.c - spool files, group commit and recovery.
 *
 * Group commit: queue_commit() writes the message's text and its envelope
 * (as <id>.env.new, still open) and puts the message on the pending list.
 * A committer thread takes the whole list at once and makes exactly those
 * files durable: it starts the write-back of every file of the batch, has
 * each one fdatasynced, renames each envelope into place, and fsyncs the
 * spool directory once for every entry of the batch.  The batch then
 * goes back to the loop.  An envelope is in place only once its text and
 * itself are on disk, and the 250 waits for the directory.  No syncfs(2):
 * other programs' dirty data on the same file system is neither waited
 * for nor forced out.
 *
 * While one batch is flushed the next gathers; QUEUE_COMMITTERS threads
 * take batches, so more than one batch may be in flight.  The files of a
 * batch are fdatasynced by QUEUE_FLUSHERS threads at once: flushes in
 * flight together share the disk's cache flush (and, on a journaling file
 * system, its journal commit), where one after the other each would wait
 * for its own.  Under load each flush covers many messages, and under no
 * load a message waits for exactly one batch.  Messages, files to flush
 * and flushed batches all travel through lib/handoff.h's hand-offs.
 */
#include "queue.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/handoff.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mailauth/mailauth.h"

#define QUEUE_WRITE_BUFFER 65536
#define QUEUE_DAMAGED "damaged"	/* subdirectory for damaged messages */
#define QUEUE_COMMITTERS 2	/* committer threads: batches in flight */
#define QUEUE_FLUSHERS 4	/* threads that fdatasync a batch's files */

struct queue_msg {
	struct queue *q;
	char id[ENVELOPE_ID_LEN + 1];
	int fd;
	int env_fd;		/* <id>.env.new, written, until the commit */
	struct buf out;		/* text not yet written to fd */
	size_t size;		/* bytes accepted by queue_msg_write */
	size_t flushed;		/* bytes written to fd */
	bool failed;
	struct mailauth *auth;	/* the authentication step, or NULL */
	size_t auth_offset;	/* where its header fields go */
	char *refusal;		/* the caller's buffer for a refusal reply */
	size_t refusal_size;
	struct envelope *env;
	void (*cb)(void *ctx, int result);
	void *ctx;
	int result;
	struct handoff_link link;	/* on pending, then on synced */
};

struct queue {
	char dir[1100];
	int dirfd;
	struct event_base *base;
	queue_route_fn *route;
	void *route_ctx;
	pthread_t threads[QUEUE_COMMITTERS];
	unsigned n_threads;
	pthread_t flushers[QUEUE_FLUSHERS];
	unsigned n_flushers;
	struct handoff *pending;	/* to the committers: waiting for a flush */
	struct handoff *flush;		/* to the flushers: files to fdatasync */
	struct handoff *synced;		/* to the loop: flushed */
	bool stopped;		/* committers and flushers joined */
	struct event *event;	/* watches synced */
	unsigned seq;
};

/* A batch's files being flushed: the committer waits until none is left. */
struct flush_set {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned left;
};

/* One file of a batch, for a flusher. */
struct flush_item {
	struct handoff_link link;
	int fd;
	int err;		/* of its fdatasync: 0 flushed */
	struct flush_set *set;
};

static struct queue_msg *msg_of(struct handoff_link *l)
{
	return HANDOFF_ITEM(l, struct queue_msg, link);
}

static void file_path(const struct queue *q, const char *id, const char *ext,
		      char *out, size_t size)
{
	snprintf(out, size, "%s/%s.%s", q->dir, id, ext);
}

static void msg_free(struct queue_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->env_fd >= 0)
		close(m->env_fd);
	buf_deinit(&m->out);
	mailauth_free(&m->auth);
	envelope_free(&m->env);
	free(m);
}

static void msg_unlink(struct queue *q, const char *id)
{
	char path[1200];

	file_path(q, id, "env", path, sizeof(path));
	unlink(path);
	file_path(q, id, "msg", path, sizeof(path));
	unlink(path);
	file_path(q, id, "env.new", path, sizeof(path));
	unlink(path);
}

/* ---- committer and flusher threads ---- */

/* Each turn takes one file to fdatasync, of any batch. */
static void *flusher_main(void *arg)
{
	struct queue *q = arg;
	struct handoff_link *l;

	while ((l = handoff_wait(q->flush, false)) != NULL) {
		struct flush_item *it = HANDOFF_ITEM(l, struct flush_item, link);
		struct flush_set *set = it->set;
		it->err = fdatasync(it->fd) < 0 ? errno : 0;
		pthread_mutex_lock(&set->lock);
		if (--set->left == 0)
			pthread_cond_signal(&set->cond);
		pthread_mutex_unlock(&set->lock);
	}
	return NULL;
}

/*
 * fdatasync the text and envelope of msgs[0..n) at once, on the flushers,
 * so that many flushes share one cache flush or journal commit instead of
 * one each.  A file that fails dooms its message.
 */
static void flush_files(struct queue *q, struct queue_msg **msgs, unsigned n)
{
	struct flush_item *items = xcalloc(2 * n, sizeof(*items));
	struct flush_set set = { .left = 2 * n };

	pthread_mutex_init(&set.lock, NULL);
	pthread_cond_init(&set.cond, NULL);
	for (unsigned i = 0; i < 2 * n; i++) {
		items[i].fd = i % 2 == 0 ? msgs[i / 2]->fd : msgs[i / 2]->env_fd;
		items[i].set = &set;
		items[i].link.next = i + 1 < 2 * n ? &items[i + 1].link : NULL;
		/* start the write-back of every file first: their writes go
		   to the disk together, and each fdatasync then mostly waits */
		sync_file_range(items[i].fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	handoff_post_list(q->flush, &items[0].link);
	pthread_mutex_lock(&set.lock);
	while (set.left > 0)
		pthread_cond_wait(&set.cond, &set.lock);
	pthread_mutex_unlock(&set.lock);
	pthread_mutex_destroy(&set.lock);
	pthread_cond_destroy(&set.cond);

	for (unsigned i = 0; i < 2 * n; i++)
		if (items[i].err != 0 && msgs[i / 2]->result == 0) {
			errno = items[i].err;
			log_err("queue: %s: fdatasync of the %s: %m", msgs[i / 2]->id,
				i % 2 == 0 ? "text" : "envelope");
			msgs[i / 2]->result = -1;
		}
	free(items);
}

/*
 * Make the batch durable: its files, then its envelopes in place, then
 * the spool directory.  Sets each message's result (1 durable, -1 not).
 */
static void commit_batch(struct queue *q, struct handoff_link *batch, unsigned n)
{
	char from[ENVELOPE_ID_LEN + 16], to[ENVELOPE_ID_LEN + 16];
	struct queue_msg **msgs = xcalloc(n + 1, sizeof(*msgs));
	struct queue_msg *m;
	unsigned n_ok = 0;
	bool renamed = false;
	int result = 1;

	for (struct handoff_link *l = batch; l != NULL; l = l->next)
		if (msg_of(l)->result == 0)
			msgs[n_ok++] = msg_of(l);
	if (n_ok > 0)
		flush_files(q, msgs, n_ok);
	for (unsigned i = 0; i < n_ok; i++) {
		m = msgs[i];
		if (m->result != 0)
			continue;
		snprintf(from, sizeof(from), "%s.env.new", m->id);
		snprintf(to, sizeof(to), "%s.env", m->id);
		if (renameat(q->dirfd, from, q->dirfd, to) < 0) {
			log_err("queue: %s: rename the envelope into place: %m", m->id);
			m->result = -1;
		}
		renamed = renamed || m->result == 0;
	}
	if (renamed && fsync(q->dirfd) < 0) {
		log_err("queue: fsync %s: %m", q->dir);
		result = -1;
	}
	for (struct handoff_link *l = batch; l != NULL; l = l->next)
		if (msg_of(l)->result == 0)
			msg_of(l)->result = result;
	free(msgs);
}

/* Each turn takes every message pending (at stop, those left too) and
   hands the whole batch to the loop at once. */
static void *committer_main(void *arg)
{
	struct queue *q = arg;
	struct handoff_link *batch;

	while ((batch = handoff_wait(q->pending, true)) != NULL) {
		unsigned n = 0;

		for (struct handoff_link *l = batch; l != NULL; l = l->next)
			n++;
		metrics_fsync_group(n);
		commit_batch(q, batch, n);
		handoff_post_list(q->synced, batch);
	}
	return NULL;
}

/* On the loop: finish every message the committer has flushed. */
static void queue_on_synced(void *ctx, struct handoff_link *batch)
{
	struct queue *q = ctx;
	struct handoff_link *next;

	for (; batch != NULL; batch = next) {
		struct queue_msg *m = msg_of(batch);
		next = batch->next;
		if (m->result < 0)
			msg_unlink(q, m->id);
		m->cb(m->ctx, m->result);
		if (m->result > 0) {
			q->route(q->route_ctx, m->env, false);
			m->env = NULL;
		}
		msg_free(m);
	}
}

/* ---- open / close ---- */

int queue_open(const char *data_dir, struct event_base *base,
	       queue_route_fn *route, void *route_ctx, struct queue **r,
	       const char **error_r)
{
	struct queue *q = xcalloc(1, sizeof(*q));

	snprintf(q->dir, sizeof(q->dir), "%s/queue", data_dir);
	q->base = base;
	q->route = route;
	q->route_ctx = route_ctx;
	q->seq = (unsigned)(time_now_us() & 0xfffff);
	if (mkdir_p(q->dir, 0750) < 0 ||
	    (q->dirfd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*error_r = "cannot create the queue directory";
		log_err("queue: %s: %m", q->dir);
		free(q);
		return -1;
	}
	if (handoff_new(NULL, NULL, &q->pending) < 0 ||
	    handoff_new(NULL, NULL, &q->flush) < 0 ||
	    handoff_new(queue_on_synced, q, &q->synced) < 0) {
		*error_r = "cannot make the committer's hand-off";
		log_err("queue: eventfd: %m");
		handoff_free(&q->pending);
		handoff_free(&q->flush);
		close(q->dirfd);
		free(q);
		return -1;
	}
	q->event = handoff_watch(q->synced, base);
	for (; q->n_flushers < QUEUE_FLUSHERS; q->n_flushers++)
		if (pthread_create(&q->flushers[q->n_flushers], NULL, flusher_main, q) != 0)
			abort();
	for (; q->n_threads < QUEUE_COMMITTERS; q->n_threads++)
		if (pthread_create(&q->threads[q->n_threads], NULL, committer_main, q) != 0)
			abort();
	*r = q;
	return 1;
}

void queue_stop(struct queue *q)
{
	if (q->stopped)
		return;
	handoff_stop(q->pending, true);	/* the committers flush what is left */
	for (unsigned i = 0; i < q->n_threads; i++)
		pthread_join(q->threads[i], NULL);
	handoff_stop(q->flush, true);	/* idle: the committers waited for theirs */
	for (unsigned i = 0; i < q->n_flushers; i++)
		pthread_join(q->flushers[i], NULL);
	handoff_run(q->synced);
	q->stopped = true;
}

void queue_free(struct queue **qp)
{
	struct queue *q = *qp;

	if (q == NULL)
		return;
	queue_stop(q);
	event_free(q->event);
	handoff_free(&q->synced);
	handoff_free(&q->flush);
	handoff_free(&q->pending);
	close(q->dirfd);
	free(q);
	*qp = NULL;
}

/* ---- messages ---- */

static void queue_new_id(struct queue *q, char *id)
{
	uint64_t us = time_now_us();

	snprintf(id, ENVELOPE_ID_LEN + 1, "%011llX%05X",
		 (unsigned long long)(us & 0xFFFFFFFFFFFull), q->seq++ & 0xFFFFF);
}

int queue_msg_new(struct queue *q, struct envelope *env, struct queue_msg **r,
		  const char **error_r)
{
	struct queue_msg *m = xcalloc(1, sizeof(*m));
	char path[1200];

	assert(q != NULL && env != NULL);
	m->q = q;
	m->fd = -1;
	m->env_fd = -1;
	for (int tries = 0; m->fd < 0 && tries < 10; tries++) {
		queue_new_id(q, m->id);
		file_path(q, m->id, "msg", path, sizeof(path));
		m->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (m->fd < 0 && errno != EEXIST)
			break;
	}
	if (m->fd < 0) {
		log_err("queue: create %s: %m", path);
		*error_r = "cannot create a queue file";
		envelope_free(&env);
		free(m);
		return -1;
	}
	buf_init(&m->out, QUEUE_WRITE_BUFFER + 4096);
	m->env = env;
	str_copy(m->env->id, m->id, sizeof(m->env->id));
	*r = m;
	return 1;
}

const char *queue_msg_id(const struct queue_msg *m)
{
	return m->id;
}

struct envelope *queue_msg_envelope(struct queue_msg *m)
{
	return m->env;
}

static int msg_flush(struct queue_msg *m)
{
	if (!m->failed && m->out.len > 0 && write_all(m->fd, m->out.data, m->out.len) < 0) {
		log_err("queue: %s: write: %m", m->id);
		m->failed = true;
	}
	m->flushed += m->out.len;
	buf_reset(&m->out);
	return m->failed ? -1 : 1;
}

int queue_msg_write(struct queue_msg *m, const void *p, size_t n)
{
	assert(p != NULL || n == 0);
	m->size += n;
	if (m->auth != NULL)
		mailauth_feed(m->auth, p, n);
	if (m->failed)
		return -1;
	if (m->out.len + n > QUEUE_WRITE_BUFFER && msg_flush(m) < 0)
		return -1;
	if (n > QUEUE_WRITE_BUFFER) {
		if (write_all(m->fd, p, n) < 0) {
			log_err("queue: %s: write: %m", m->id);
			m->failed = true;
			return -1;
		}
		m->flushed += n;
		return 1;
	}
	buf_append(&m->out, p, n);
	return 1;
}

size_t queue_msg_size(const struct queue_msg *m)
{
	return m->size;
}

int queue_msg_truncate(struct queue_msg *m, size_t size)
{
	if (size > m->size || msg_flush(m) < 0)
		return -1;
	if (ftruncate(m->fd, (off_t)size) < 0 || lseek(m->fd, (off_t)size, SEEK_SET) < 0) {
		log_err("queue: %s: truncate: %m", m->id);
		m->failed = true;
		return -1;
	}
	m->size = size;
	return 1;
}

void queue_msg_mark_header(struct queue_msg *m)
{
	m->env->header_offset = m->size;
}

void queue_msg_abort(struct queue_msg **mp)
{
	struct queue_msg *m = *mp;

	if (m == NULL)
		return;
	msg_unlink(m->q, m->id);
	msg_free(m);
	*mp = NULL;
}

void queue_msg_set_auth(struct queue_msg *m, struct mailauth *a, char *refusal, size_t size)
{
	mailauth_free(&m->auth);
	m->auth = a;
	m->auth_offset = m->size;
	m->refusal = refusal;
	m->refusal_size = size;
}

/* The kept pieces of the text after the authentication step's edit:
   [0, at), then the fields, then [at, size) without the removed ranges. */
struct edit {
	size_t at;
	const struct buf *fields;
	size_t n;			/* pieces of the old text after at */
	size_t start[MAILAUTH_MAX_REMOVE + 1], end[MAILAUTH_MAX_REMOVE + 1];
};

static void edit_plan(struct edit *e, size_t at, size_t size, const struct mailauth_verdict *v)
{
	size_t pos = at;

	e->at = at;
	e->fields = v->fields;
	e->n = 0;
	for (unsigned i = 0; i < v->n_remove; i++) {
		size_t s = at + v->remove[i].offset, t = s + v->remove[i].len;
		if (s < pos || t > size)
			continue;	/* out of order or outside: ignored */
		e->start[e->n] = pos;
		e->end[e->n++] = s;
		pos = t;
	}
	e->start[e->n] = pos;
	e->end[e->n++] = size;
}

static size_t edit_size(const struct edit *e)
{
	size_t n = e->at + e->fields->len;

	for (size_t i = 0; i < e->n; i++)
		n += e->end[i] - e->start[i];
	return n;
}

/* The whole text is still in m->out: edit it there. */
static void edit_in_memory(struct queue_msg *m, const struct edit *e)
{
	struct buf text;

	buf_init(&text, 0);
	buf_append(&text, m->out.data, e->at);
	buf_append(&text, e->fields->data, e->fields->len);
	for (size_t i = 0; i < e->n; i++)
		buf_append(&text, m->out.data + e->start[i], e->end[i] - e->start[i]);
	buf_reset(&m->out);
	buf_append(&m->out, text.data, text.len);
	buf_deinit(&text);
}

static int copy_range(int in, int out, size_t from, size_t to)
{
	loff_t off = (loff_t)from;
	ssize_t got = 0;

	while ((size_t)off < to &&
	       (got = copy_file_range(in, &off, out, NULL, to - (size_t)off, 0)) > 0)
		;
	return (size_t)off == to ? 1 : -1;
}

/* Part of the text is on disk: write the edited text to a new file (the
   copies stay within the file system: copy_file_range) and rename it. */
static int edit_file(struct queue_msg *m, const struct edit *e)
{
	char path[1200], tmp[1210];
	int in = -1, out = -1, ret = -1;

	if (msg_flush(m) < 0)
		return -1;
	file_path(m->q, m->id, "msg", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	in = open(path, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (in < 0 || out < 0 || copy_range(in, out, 0, e->at) < 0 ||
	    write_all(out, e->fields->data, e->fields->len) < 0)
		goto out;
	for (size_t i = 0; i < e->n; i++)
		if (copy_range(in, out, e->start[i], e->end[i]) < 0)
			goto out;
	if (rename(tmp, path) < 0)
		goto out;
	close(m->fd);
	m->fd = out;
	out = -1;
	ret = 1;
out:
	if (ret < 0) {
		log_err("queue: %s: rewrite for the authentication results: %m", m->id);
		unlink(tmp);
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ret;
}

static void commit_write(struct queue_msg *m);

static void on_refused(evutil_socket_t fd, short what, void *arg)
{
	struct queue_msg *m = arg;

	msg_unlink(m->q, m->id);
	m->cb(m->ctx, 0);
	msg_free(m);
}

/* The authentication step's verdict: refuse, or edit the header section
   and go on with the commit. */
static void on_auth_verdict(void *ctx, const struct mailauth_verdict *v)
{
	struct queue_msg *m = ctx;
	struct edit e;
	size_t size;

	if (v->action == MAILAUTH_REJECT) {
		struct timeval now = { 0, 0 };
		if (m->refusal != NULL)
			str_copy(m->refusal, v->reply, m->refusal_size);
		/* answer from the loop, never from inside queue_commit */
		event_base_once(m->q->base, -1, EV_TIMEOUT, on_refused, m, &now);
		return;
	}
	if (v->junk)
		m->env->junk = true;
	if (!m->failed && (v->fields->len > 0 || v->n_remove > 0)) {
		edit_plan(&e, m->auth_offset, m->size, v);
		size = edit_size(&e);
		if (m->flushed == 0 && m->out.len == m->size && size <= QUEUE_WRITE_BUFFER + 4096)
			edit_in_memory(m, &e);
		else if (edit_file(m, &e) < 0)
			m->failed = true;
		else
			m->flushed = size;
		m->size = size;
	}
	commit_write(m);
}

/* Written as <id>.env.new, left open in m->env_fd: a committer renames
   it into place once it and the text are on disk, so that a crash never
   leaves a torn <id>.env (one found at start is damage, and is kept). */
static int write_envelope(struct queue *q, struct queue_msg *m)
{
	struct buf text;
	char tmp[1210];
	int fd, ret = -1;

	buf_init(&text, 0);
	m->env->size = m->size;
	envelope_format(m->env, &text);
	file_path(q, m->id, "env.new", tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0 && write_all(fd, text.data, text.len) > 0)
		ret = 1;
	if (ret < 0) {
		log_err("queue: %s: %m", tmp);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	} else {
		m->env_fd = fd;
	}
	buf_deinit(&text);
	return ret;
}

/* Write the envelope and hand the message to the committers (the files
   stay open for their flush). */
static void commit_write(struct queue_msg *m)
{
	struct queue *q = m->q;

	if (q->stopped) {
		/* the authentication step answered after queue_stop (the server
		   stopping): the client got no reply, so nothing is kept */
		msg_unlink(q, m->id);
		m->cb(m->ctx, -1);
		msg_free(m);
		return;
	}

	if (msg_flush(m) < 0 || write_envelope(q, m) < 0)
		m->result = -1;
	handoff_post(q->pending, &m->link);
}

void queue_commit(struct queue_msg **mp, void (*cb)(void *ctx, int result), void *ctx)
{
	struct queue_msg *m = *mp;

	/* a message is committed once, and someone hears of the result */
	assert(m != NULL && cb != NULL);
	*mp = NULL;
	m->cb = cb;
	m->ctx = ctx;
	m->result = 0;
	if (m->auth != NULL)
		mailauth_finish(m->auth, m->id, on_auth_verdict, m);
	else
		commit_write(m);
}

/* ---- finished messages ---- */

void queue_done(struct queue *q, const char *id)
{
	/* an empty id would name "<spool>/.msg" */
	assert(id != NULL && id[0] != '\0');
	msg_unlink(q, id);
}

int queue_update(struct queue *q, const struct envelope *e, bool sync)
{
	char path[1200], tmp[1210];
	struct buf text;
	int fd, ret = -1;

	assert(e != NULL && e->id[0] != '\0');	/* a queued message's envelope */
	buf_init(&text, 0);
	envelope_format(e, &text);
	file_path(q, e->id, "env", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0 && write_all(fd, text.data, text.len) > 0 && (!sync || fsync(fd) == 0) &&
	    rename(tmp, path) == 0 && (!sync || fsync(q->dirfd) == 0))
		ret = 1;
	if (ret < 0)
		log_err("queue: update %s: %m", path);
	if (fd >= 0)
		close(fd);
	buf_deinit(&text);
	return ret;
}

int queue_text_path(struct queue *q, const char *id, char *out, size_t size)
{
	file_path(q, id, "msg", out, size);
	return 1;
}

int queue_dir_fd(struct queue *q)
{
	return q->dirfd;
}

/* The whole envelope file (bounded: 100,000 recipients fit) into out. */
static int read_envelope(const char *path, struct buf *out)
{
	char block[65536];
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, block, sizeof(block))) > 0)
		if (buf_append(out, block, (size_t)n) < 0)
			break;
	close(fd);
	return n == 0 ? 1 : -1;
}

/* ---- damaged messages ---- */

/* Move id's files (those that exist) to damaged/, with a note of why. */
static void quarantine(struct queue *q, const char *id, const char *why)
{
	static const char *const exts[] = { "env", "msg" };
	char from[64], to[128];
	int dfd, fd, moved = 0;

	if (mkdirat(q->dirfd, QUEUE_DAMAGED, 0750) < 0 && errno != EEXIST) {
		log_err("queue: %s: damaged (%s), left in place: mkdir %s/%s: %m", id, why,
			q->dir, QUEUE_DAMAGED);
		return;
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		snprintf(from, sizeof(from), "%s.%s", id, exts[i]);
		snprintf(to, sizeof(to), "%s/%s", QUEUE_DAMAGED, from);
		if (renameat(q->dirfd, from, q->dirfd, to) == 0)
			moved++;
		else if (errno != ENOENT)
			log_err("queue: %s: move %s to %s/: %m", id, from, QUEUE_DAMAGED);
	}
	snprintf(to, sizeof(to), "%s/%s.why", QUEUE_DAMAGED, id);
	fd = openat(q->dirfd, to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0) {
		if (write_all(fd, why, strlen(why)) < 0 || write_all(fd, "\n", 1) < 0)
			log_err("queue: %s: write %s: %m", id, to);
		close(fd);
	}
	dfd = openat(q->dirfd, QUEUE_DAMAGED, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	fsync(q->dirfd);
	log_warn("queue: %s: damaged queue file (%s): %d file(s) moved to %s/%s/ "
		 "(`correio queue list` shows it, `correio queue delete %s` removes it)",
		 id, why, moved, q->dir, QUEUE_DAMAGED, id);
}

/* An id as the queue makes them: letters and digits only. */
static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= ENVELOPE_ID_LEN && strspn(id,
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == n;
}

/* damaged/<id>.<ext> into out. */
static void damaged_path(const struct queue *q, const char *id, const char *ext,
			 char *out, size_t size)
{
	snprintf(out, size, "%s/%s/%s.%s", q->dir, QUEUE_DAMAGED, id, ext);
}

/* One line about damaged message id: "ID SIZE TIME damaged: WHY". */
static void damaged_line(const struct queue *q, const char *id, struct buf *out)
{
	char path[1200], why[300] = "";
	struct stat env_st, msg_st;
	ssize_t n = 0;
	int fd;

	damaged_path(q, id, "why", path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, why, sizeof(why) - 1);
		close(fd);
	}
	why[n > 0 ? n : 0] = '\0';
	why[strcspn(why, "\r\n")] = '\0';
	damaged_path(q, id, "env", path, sizeof(path));
	if (stat(path, &env_st) < 0)
		env_st.st_mtime = 0;
	damaged_path(q, id, "msg", path, sizeof(path));
	if (stat(path, &msg_st) < 0)
		msg_st.st_size = 0;
	buf_printf(out, "%s %8llu %llu damaged: %s (files in %s/%s/)\n", id,
		   (unsigned long long)msg_st.st_size, (unsigned long long)env_st.st_mtime,
		   why[0] != '\0' ? why : "unreadable envelope", q->dir, QUEUE_DAMAGED);
}

int queue_damaged_list(struct queue *q, struct buf *out)
{
	char path[1200], id[ENVELOPE_ID_LEN + 1];
	struct dirent *de;
	int count = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", q->dir, QUEUE_DAMAGED);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		const char *dot = strrchr(de->d_name, '.');
		size_t len = dot == NULL ? 0 : (size_t)(dot - de->d_name);
		if (len == 0 || len > ENVELOPE_ID_LEN || strcmp(dot, ".why") != 0)
			continue;
		memcpy(id, de->d_name, len);
		id[len] = '\0';
		if (!id_valid(id))
			continue;
		damaged_line(q, id, out);
		count++;
	}
	closedir(d);
	return count;
}

int queue_damaged_show(struct queue *q, const char *id, struct buf *out)
{
	char path[1200];

	if (!id_valid(id))
		return 0;
	damaged_path(q, id, "why", path, sizeof(path));
	if (access(path, F_OK) < 0)
		return 0;
	damaged_line(q, id, out);
	return 1;
}

int queue_damaged_delete(struct queue *q, const char *id)
{
	static const char *const exts[] = { "env", "msg", "why" };
	char path[1200];
	int found = 0;

	if (!id_valid(id))
		return 0;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		damaged_path(q, id, exts[i], path, sizeof(path));
		if (unlink(path) == 0)
			found = 1;
		else if (errno != ENOENT)
			return -1;
	}
	return found;
}

/* ---- recovery ---- */

static struct envelope *recover_one(struct queue *q, const char *id)
{
	char path[1200];
	struct envelope *e = NULL;
	const char *error = "unreadable";
	struct buf data;
	struct stat st;
	int ok;

	file_path(q, id, "env", path, sizeof(path));
	buf_init(&data, 64 << 20);
	ok = read_envelope(path, &data) > 0 &&
	     envelope_parse(buf_cstr(&data), data.len, &e, &error) > 0;
	buf_deinit(&data);
	if (ok) {
		file_path(q, id, "msg", path, sizeof(path));
		if (stat(path, &st) == 0 && (uint64_t)st.st_size == e->size &&
		    strcmp(e->id, id) == 0)
			return e;
		error = "text file missing or short";
		envelope_free(&e);
	}
	quarantine(q, id, error);
	return NULL;
}

int queue_recover(struct queue *q)
{
	DIR *d = opendir(q->dir);
	struct dirent *de;
	char id[ENVELOPE_ID_LEN + 1], path[1200];
	int count = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		const char *dot = strchr(de->d_name, '.');
		size_t len = dot == NULL ? 0 : (size_t)(dot - de->d_name);
		struct envelope *e;

		if (len == 0 || len > ENVELOPE_ID_LEN)
			continue;
		memcpy(id, de->d_name, len);
		id[len] = '\0';
		file_path(q, id, "env", path, sizeof(path));
		if (strcmp(dot, ".msg") == 0 && access(path, F_OK) != 0) {
			file_path(q, id, "msg", path, sizeof(path));
			unlink(path);	/* reception never completed */
		} else if (strcmp(dot, ".env") == 0 && (e = recover_one(q, id)) != NULL) {
			q->route(q->route_ctx, e, true);
			count++;
		} else if (strcmp(dot, ".env.new") == 0 || strcmp(dot, ".msg.new") == 0) {
			unlinkat(q->dirfd, de->d_name, 0);
		}
	}
	closedir(d);
	if (count > 0)
		log_info("queue: recovered %d message(s) from the spool", count);
	return count;
}

/* ---- reading the spool ---- */

int queue_text_open(struct queue *q, const char *id, int *fd_r)
{
	char name[ENVELOPE_ID_LEN + 8];

	*fd_r = -1;
	if (!id_valid(id))
		return 0;
	snprintf(name, sizeof(name), "%s.msg", id);
	if ((*fd_r = openat(q->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

int queue_text_read(struct queue *q, const char *id, uint64_t offset, size_t max,
		    struct buf *out)
{
	char block[65536];
	ssize_t n = 0;
	size_t got = 0;
	int fd, ret;

	if ((ret = queue_text_open(q, id, &fd)) <= 0)
		return -1;
	if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	while (got < max && (n = read(fd, block, max - got < sizeof(block) ?
					  max - got : sizeof(block))) > 0) {
		if (buf_append(out, block, (size_t)n) < 0) {
			n = -1;
			break;
		}
		got += (size_t)n;
	}
	/* cut short by max: is there more? */
	if (n > 0 && got == max)
		n = read(fd, block, 1);
	close(fd);
	return n < 0 ? -1 : n == 0 ? 1 : 0;
}

int queue_space(struct queue *q, uint64_t *bytes_r)
{
	struct statvfs st;

	if (fstatvfs(q->dirfd, &st) < 0)
		return -1;
	*bytes_r = (uint64_t)st.f_bavail * st.f_frsize;
	return 1;
}

int queue_census(struct queue *q, time_t now, uint64_t *messages_r, uint64_t *oldest_age_r)
{
	time_t oldest = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	*messages_r = 0;
	*oldest_age_r = 0;
	/* a descriptor of our own: readdir's position is not shared */
	if ((fd = openat(q->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".msg") != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		(*messages_r)++;
		if (oldest == 0 || st.st_mtime < oldest)
			oldest = st.st_mtime;
	}
	closedir(d);
	*oldest_age_r = oldest != 0 && now > oldest ? (uint64_t)(now - oldest) : 0;
	return 1;
}
