#ifndef CORREIO_QUEUE_H
#define CORREIO_QUEUE_H
/*
 * queue: the durable spool.  Every accepted message is two files under
 * <data_dir>/queue/: <id>.msg (the text as stored, LF line ends, beginning
 * with its Return-Path: line) and <id>.env (the envelope).  A message is
 * accepted only once both are on disk: commits from many sessions are
 * gathered and made durable together on committer threads (group commit:
 * an fdatasync of each of the batch's files, one fsync of the spool
 * directory, never a flush of the whole file system), then each session's
 * callback runs on the event loop.  Committed messages are handed to the
 * router hook (the scheduler, for local and remote recipients alike);
 * queue_done() removes a message once it is finished.
 *
 * Threads: queue_msg_* and queue_commit run on the event loop thread;
 * queue_done and the readers (queue_text_*, queue_space, queue_census)
 * may run on any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "queue/envelope.h"

struct event_base;
struct mailauth;
struct queue;
struct queue_msg;

/*
 * Called on the loop thread with each message that is committed (and, at
 * start, with each message recovered from the spool: recovered == true).
 * Takes ownership of e.
 */
typedef void queue_route_fn(void *ctx, struct envelope *e, bool recovered);

/* Open the spool under data_dir, with its committer thread.  Returns 1 or
   -1 with *error_r. */
int queue_open(const char *data_dir, struct event_base *base,
	       queue_route_fn *route, void *route_ctx, struct queue **r,
	       const char **error_r);
/* Finish the commits in flight (their callbacks and routing run) and stop
   the committer thread.  The queue stays usable for queue_done(). */
void queue_stop(struct queue *q);
/* queue_stop() if needed, then free.  Stop the router's consumers first. */
void queue_free(struct queue **q);
/* Hand every message found in the spool to the router (once, at start). */
int queue_recover(struct queue *q);

/* Start a message: creates <id>.msg and takes ownership of env (sender,
   recipients and parameters already set; the queue sets id and size).
   Returns 1, or -1 with *error_r (env is then freed). */
int queue_msg_new(struct queue *q, struct envelope *env, struct queue_msg **r,
		  const char **error_r);
const char *queue_msg_id(const struct queue_msg *m);
/* The message's envelope (owned by the message). */
struct envelope *queue_msg_envelope(struct queue_msg *m);
/* Append text (buffered).  Returns 1 or -1 (disk error; the message is
   then doomed and commit will fail). */
int queue_msg_write(struct queue_msg *m, const void *p, size_t n);
/* Bytes written so far. */
size_t queue_msg_size(const struct queue_msg *m);
/* Cut the text back to its first size bytes, to write it again from there
   (a mail filter changed the message).  Returns 1 or -1. */
int queue_msg_truncate(struct queue_msg *m, size_t size);
/* Mark where the Return-Path line ends (bytes written so far). */
void queue_msg_mark_header(struct queue_msg *m);
/* Remove the files and free. */
void queue_msg_abort(struct queue_msg **m);
/* The authentication step of reception (mailauth/mailauth.h): every byte
   written from now on passes through a (call it after the trace lines),
   and queue_commit() first waits for its verdict: the header fields it
   adds go where a started, at the top of the message's own header
   section, and the fields it removes go.  When it refuses the message,
   commit's cb gets 0 and the SMTP reply is copied to refusal (size bytes;
   the caller's buffer, NULL if never refused).  The message owns a. */
void queue_msg_set_auth(struct queue_msg *m, struct mailauth *a, char *refusal, size_t size);

/*
 * Write the envelope and make the message durable.  cb(ctx, 1) runs on the
 * loop thread once it is on disk, cb(ctx, -1) if it could not be stored
 * (the files are then removed), cb(ctx, 0) if the authentication step
 * refused it (see queue_msg_set_auth).  Ownership of *m passes to the queue.
 */
void queue_commit(struct queue_msg **m, void (*cb)(void *ctx, int result),
		  void *ctx);

/* The message is finished: remove its files (no sync needed: redelivery
   after a crash is idempotent). */
void queue_done(struct queue *q, const char *id);
/* Rewrite the envelope of a message that stays queued (atomic replace).
   sync: fsync it now; false when the caller flushes the file system
   itself before relying on it (the delivery agent's batch). */
int queue_update(struct queue *q, const struct envelope *e, bool sync);
/*
 * Damaged messages: an envelope found unreadable or short at start (or
 * whose text is missing or short) is not deleted but moved, with its text
 * and a note of why, to <data_dir>/queue/damaged/, for the administrator.
 * queue_damaged_list appends one line per message ("ID SIZE TIME damaged:
 * WHY (files in DIR)") and returns how many, or -1; show appends the line
 * of id and returns 1, or 0 if id is not there; delete removes its files
 * and returns 1, 0 if id is not there, or -1.  Any thread.
 */
int queue_damaged_list(struct queue *q, struct buf *out);
int queue_damaged_show(struct queue *q, const char *id, struct buf *out);
int queue_damaged_delete(struct queue *q, const char *id);

/*
 * Reading the spool without knowing its layout (any thread).  A reader
 * that only needs the bytes uses these, never a path: the relay sending a
 * message, the bounces quoting it, `correio queue` showing it, metrics.
 */
/* Open the text of id (as queued: from its Return-Path line) for reading.
   Returns 1 with *fd_r (the caller closes it), 0 when the queue has no
   such message, -1 on error. */
int queue_text_open(struct queue *q, const char *id, int *fd_r);
/* Append the text of id from byte offset on, at most max bytes, to out.
   Returns 1 when it was read to its end, 0 when max cut it short, -1 on
   error (no such message, read error, out full). */
int queue_text_read(struct queue *q, const char *id, uint64_t offset, size_t max,
		    struct buf *out);
/* Bytes free for new messages (on the spool's file system): 1 or -1. */
int queue_space(struct queue *q, uint64_t *bytes_r);
/* Messages in the spool and the age in seconds of the oldest at now (0
   when empty).  Returns 1 or -1. */
int queue_census(struct queue *q, time_t now, uint64_t *messages_r, uint64_t *oldest_age_r);

/*
 * The file layout, for local delivery only: it files a message into a
 * Maildir by hard link from the spool (same file system, no copy), so it
 * needs the text's path, and the spool directory's fd to flush the file
 * system once for a batch (syncfs).  Nothing else may use these: a reader
 * that only needs the bytes opens the text with queue_text_open().
 */
/* Path of the text file of id, into out.  Returns 1 or -1. */
int queue_text_path(struct queue *q, const char *id, char *out, size_t size);
/* The directory fd of the spool (same file system as the mailboxes). */
int queue_dir_fd(struct queue *q);

#endif
