#ifndef CORREIO_STORE_PRIVATE_H
#define CORREIO_STORE_PRIVATE_H
/*
 * store_private: what the files of src/store/ share and nobody else sees.
 * The shared folder (struct mbox) with its index, the account and store
 * objects, and the helpers each file offers the others.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/handoff.h"
#include "store/store.h"

#define STORE_INDEX_FILE	"correio-index"
#define STORE_LOG_FILE		"correio-index.log"
#define STORE_CACHE_FILE	"correio-cache"
#define STORE_UIDV_FILE		"correio-uidvalidity"
#define STORE_KEYWORDS_FILE	"dovecot-keywords"
#define STORE_SPECIAL_FILE	"correio-special-use"
#define STORE_SUBS_FILE		"subscriptions"
#define STORE_ACCOUNT_FILE	"correio-account"
#define STORE_TRASH_PREFIX	"correio-trash."
#define STORE_NEWDIR_PREFIX	"correio-new."

#define STORE_PATH_MAX		4096
/* An account's root is at most this long, so that root + folder (255) +
   "/cur/" + file name (256) always fits STORE_PATH_MAX. */
#define STORE_ROOT_MAX		2048
#define STORE_NAME_MAX		1024	/* folder name, UTF-8 bytes */
#define STORE_FILE_MAX		256	/* Maildir file name */

/* Flag bits of a record beyond IMAP's system flags. */
#define REC_FLAG_PASSED		0x20	/* Maildir 'P': kept, not shown */
/* size, vsize and date not read yet: a file the sync found in cur/ is
   indexed from its name alone, and read when they are first wanted
   (store_rec_measure) */
#define REC_FLAG_UNMEASURED	0x40
/* the file's name may not carry the flags yet: renames are queued for a
   worker, or were when the server stopped (store_rename.c); the index's
   flags are the truth */
#define REC_FLAG_RENAMING	0x80

/*
 * One message in memory and in the snapshot file: 56 bytes, no holes.
 * name_off points into the names pool: the file name in cur/.
 */
struct index_rec {
	uint64_t modseq;
	int64_t date;		/* internal date, seconds */
	uint64_t size;
	uint64_t vsize;
	uint32_t uid;
	uint32_t keywords;
	uint32_t cache_off;	/* 0: nothing cached */
	uint32_t cache_len;
	uint32_t name_off;
	uint8_t flags;		/* STORE_FLAG_* | REC_FLAG_PASSED */
	uint8_t mark;		/* scratch of sync and expunge, not meaningful on disk */
	uint16_t pad;
};

/* A rename of a file in cur/ queued for a worker (store_rename.c). */
struct rename_op {
	char *from, *to;	/* names in cur/ */
	uint32_t uid;
	size_t key_len;		/* of the unique part, up to ',' or ':' */
	int32_t prev;		/* the op before it of the same file, or -1 */
};

struct uidvec {
	uint32_t *v;
	unsigned n, cap;
};

struct index {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t first_recent;
	uint64_t highestmodseq;
	uint64_t modseq_bound;	/* durable: no modseq ever reaches it */
	struct index_rec *recs;	/* ascending UID */
	unsigned count, cap;
	char *names;		/* pool of NUL-terminated file names */
	size_t names_len, names_cap, names_garbage;
	uint64_t log_seq;	/* the log that goes with the snapshot */
	uint64_t snapshot_size;
	uint64_t log_size;
	int log_fd;
	struct buf pending;	/* log records of the operation in progress */
	bool needs_compact;	/* the log was damaged or the index rebuilt */
	/* from the log: the index held all of cur/ as of this mtime of it
	   (INDEX_LOG_CURDIR), so a load need not read cur/ again */
	struct timespec cur_mtime;
	bool cur_known;
};

/* A folder open in this process, shared by every handle on it. */
struct mbox {
	struct store_account *acct;
	char *name;		/* "INBOX", "A/B" */
	char *dir;		/* absolute path of the Maildir */
	unsigned refs;		/* handles and internal users */
	struct store_mailbox *handles;
	struct index idx;
	char *keywords[STORE_MAX_KEYWORDS];
	unsigned n_keywords;
	/* dovecot-keywords as last read */
	bool kw_known;
	ino_t kw_ino;
	off_t kw_size;
	struct timespec kw_mtime;
	int cache_fd;
	uint64_t cache_size;
	struct timespec cur_mtime;	/* of cur/ when last scanned */
	bool cur_clean;		/* no change to cur/ since cur_mtime */
	unsigned long cur_scans;	/* times cur/ was read whole */
	/* every message before position unseen_pos is \Seen, as of
	   highestmodseq unseen_modseq (every change of flags, arrival and
	   expunge moves highestmodseq) */
	unsigned unseen_pos;
	uint64_t unseen_modseq;
	unsigned unseen_count;
	bool unseen_known;
	/* inotify on cur/ (store_watch.c): watch_clean while every event
	   since the last scan was one of ours, expected in watch_expect
	   (from watch_head: code letter, name, NUL) */
	int watch_wd;
	struct mbox *watch_next;	/* in the store's bucket of watch_wd */
	bool watch_clean;
	struct buf watch_expect;
	size_t watch_head;
	/* names in cur/ of expunged messages whose files a worker is still
	   to unlink (store_change.c), ascending: a scan of cur/ passes over
	   them and the watch takes their deletions in any order */
	char **unlinking;
	unsigned n_unlinking, cap_unlinking;
	/* flag renames (store_rename.c): ops [renames_head, n_renames) are
	   pending, a job makes them one batch at a time (renaming); the
	   table finds a file's latest op by the unique part of its name */
	struct rename_op *renames;
	unsigned n_renames, cap_renames, renames_head;
	unsigned *rename_tab;	/* op index + 1, 0 empty */
	size_t rename_mask;
	bool renaming;
	bool deleted;		/* the folder is gone; handles linger */
	bool ready;		/* loaded and synced once */
	/* nobody uses it, but the account is open: a big folder stays in
	   memory (with its watch) for the next SELECT or STATUS, without
	   holding the account; so does a folder written to (written) for
	   the next APPEND or COPY into it */
	bool parked;
	bool written;
	bool busy;		/* listeners running */
	bool filling;		/* a worker reads the sizes left for later */
	struct uidvec chg_exists, chg_expunge, chg_flags;
	bool chg_keywords;
	/* the INBOX of an mbox account: the messages are in this file, dir
	   holds only the index files (see store_mboxfile.c) */
	char *mbox_path;
	struct stat mbox_st;	/* the file as last synced */
	bool mbox_known;	/* mbox_st is valid */
	struct mbox *next;	/* in the account's list */
};

struct store_mailbox {
	struct mbox *mb;
	store_listener_fn *listener;
	void *ctx;
	struct store_mailbox *next;
	unsigned hint;		/* position of the last lookup: walks in UID
				   order (SEARCH, FETCH 1:*) find the next one
				   there without a binary search */
};

struct store_account {
	struct store *store;
	char *address;
	char *root;		/* the INBOX Maildir */
	char *mbox_path;	/* the INBOX is this mbox file, or NULL */
	unsigned refs;
	struct mbox *open;
	uint64_t quota;
	uint64_t usage, usage_msgs;
	time_t usage_at;
	bool usage_valid;
	bool closing;		/* its parked folders are being freed */
	struct store_account *next;	/* hash chain */
};

#define STORE_ACCOUNT_BUCKETS 1024
#define STORE_WATCH_BUCKETS 256

struct store {
	char *mail_dir;		/* <data_dir>/mail */
	char *mbox_dir;		/* <data_dir>/mbox */
	char host[128];
	atomic_bool default_mbox;	/* store_set_default_format: any thread reads */
	struct store_account *accounts[STORE_ACCOUNT_BUCKETS];
	uint32_t last_uidvalidity;
	unsigned seq;
	unsigned disk_delay_ms;	/* CORREIO_TEST_STORE_DELAY_MS: tests only */
	unsigned read_delay_ms;	/* CORREIO_TEST_READ_DELAY_MS: tests only */
	struct store_pool *pool;	/* worker threads, or NULL: inline */
	/* group commit, counted on the loop: directory flushes made and the
	   requests they served */
	unsigned long dir_flushes, dir_requests;
	/* inotify on the cur/ of open folders (store_watch.c) */
	int watch_fd;		/* -1 until the first folder opens */
	bool watch_off;		/* inotify unavailable */
	bool watch_full_logged;
	struct mbox *watched[STORE_WATCH_BUCKETS];	/* by watch descriptor */
};

/* ---- store.c ---- */
void store_error_set(struct store_error *e, enum store_error_code code,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Log "what path: errno text" and set a generic TEMP error. */
void store_error_sys(struct store_error *e, const char *what, const char *path);
/* Before a flush that makes messages durable, and before the unlinks
   of expunged files: wait the test delay, if the environment asked for
   one at startup (a slow disk, for the tests that check that one
   session's disk wait blocks nobody else). */
void store_disk_delay(const struct store *s);
/* A Maildir unique base: "<secs>.M<usecs>P<pid>Q<seq>.<host>". */
void store_unique_name(struct store *s, char *out, size_t size);
struct store_account *store_find_account(struct store *s, const char *address);
void store_remember_account(struct store *s, struct store_account *a);
void store_account_forget(struct store_account *a);

/* ---- store_worker.c: disk waits off the loop ---- */
/* A piece of disk work: work runs on a worker thread (and may touch only
   what the job holds), then done on the loop thread. */
struct store_job {
	void (*work)(struct store_job *j);
	void (*done)(struct store_job *j);
	struct handoff_link link;	/* on the pool's todo, then done */
};
/* What store_append_commit and store_copy_commit hand out. */
struct store_wait {
	struct store_job job;
	bool cancelled;		/* the callback is not wanted any more */
	bool *finished;		/* set when it ended before the call returned */
};
/* Queue j (without workers: run it now, both steps). */
void store_job_submit(struct store *s, struct store_job *j);
/* Make the directories paths[0..n) durable (fsync), grouped with the
   requests of other sessions, then call done(arg, 1 or -1) on the loop
   (at once without workers).  paths are copied. */
void store_flush_dirs(struct store *s, const char *const *paths, unsigned n,
		      void (*done)(void *arg, int result), void *arg);
/* Join the workers and finish every job they had (store_free). */
void store_workers_stop(struct store *s);

/* ---- store_change.c: expunged files, unlinked off the loop ---- */
/* Is name (in cur/) the file of an expunged message not unlinked yet? */
bool store_unlink_pending(const struct mbox *mb, const char *name);
/* Unlink mb's pending files now, on this thread (before the folder is
   renamed or deleted: the worker's own unlink then finds nothing). */
void store_unlink_now(struct mbox *mb);
void store_unlink_free(struct mbox *mb);

/* ---- store_rename.c: flag renames off the loop ---- */
/* Queue the rename of r's file to name (after the renames queued for it
   before); the caller sets REC_FLAG_RENAMING on r and calls
   store_renames_kick() when done with the folder. */
void store_rename_queue(struct mbox *mb, const struct index_rec *r, const char *name);
/* Start a worker on the queued renames, unless one runs. */
void store_renames_kick(struct mbox *mb);
/* Has r renames still to be made? */
bool store_rename_pending(const struct mbox *mb, const struct index_rec *r);
/* The name r's file has once its queued renames are made. */
const char *store_rename_target(const struct mbox *mb, const struct index_rec *r);
/* Call fn(path) on r's file under its index name, then under each name
   its pending renames give it, in order, while fn returns 0 (not
   there).  *name_r: the name fn took (valid until the folder changes).
   fn's result: 1, 0 (under no name), -1. */
int store_rename_try(struct mbox *mb, const struct index_rec *r,
		     int (*fn)(const char *path, void *arg), void *arg, const char **name_r);
/* Every name r's file has while its renames are pending, index name
   first (*n_r of them; the array and strings are the caller's). */
char **store_rename_names(const struct mbox *mb, const struct index_rec *r, unsigned *n_r);
/* Is fname a name of a file whose renames are pending?  *uid_r: its UID. */
bool store_rename_name(const struct mbox *mb, const char *fname, uint32_t *uid_r);
/* After a scan of cur/: the records whose files are being renamed were
   seen (a directory read may miss a file renamed meanwhile). */
void store_rename_unmark(struct mbox *mb);
/* A scan found r (REC_FLAG_RENAMING, nothing pending: the server stopped
   before its renames) as fname: rename it to carry the index's flags. */
void store_rename_fix(struct mbox *mb, struct index_rec *r, const char *fname);
void store_renames_free(struct mbox *mb);

/* ---- store_name.c: folder names ---- */
bool store_name_is_inbox(const char *name);
/* Check a UTF-8 folder name and write it canonical (INBOX upper case).
   1, or -1 with a reason in *error_r. */
int store_name_normalize(const char *name, char *out, size_t size,
			 struct store_error *error_r);
/* Directory name of a canonical non-INBOX name (".A.B").  1 or -1. */
int store_name_to_dir(const char *name, char *out, size_t size);
/* Folder name of a directory entry; 0 if it is no folder of ours. */
int store_name_from_dir(const char *dirname, char *out, size_t size);
/* Maildir path of a canonical folder name.  1 or -1 (too long). */
int store_folder_path(const struct store_account *a, const char *name,
		      char *out, size_t size);

/* ---- store_maildir.c: file names and files ---- */
struct mdname {
	size_t base_len;	/* up to ':' (or all) */
	uint32_t uid;		/* 0: no U= */
	uint64_t size, vsize;	/* UINT64_MAX: absent */
	uint8_t flags;
	uint32_t keywords;	/* letters a-z, as found */
	uint64_t arrival;	/* leading number of the name, 0 if none */
};
void store_maildir_parse(const char *fname, struct mdname *r);
/* "<base without S=,W=,U=>,S=,W=,U=:2,<flags>" into out.  1 or -1 (long). */
int store_maildir_name(char *out, size_t size, const char *base, size_t base_len,
		       uint64_t bytes, uint64_t vsize, uint32_t uid,
		       uint8_t flags, uint32_t keywords);
/* snprintf into a path buffer: 1, or -1 (ENAMETOOLONG) when it does not
   fit. */
int store_path_fmt(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write a small file atomically (tmp + rename; fsync when asked). 1 or -1. */
int store_write_file(const char *path, const void *data, size_t len, bool sync);
/* The folder's STORE_UIDV_FILE at path: "<uidvalidity> <uidnext> <modseq
   bound>".  1, 0 missing or malformed, -1 read error. */
int store_uidv_read(const char *path, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
		    uint64_t *bound_r);
/* Read a small file into out (replaced).  1, 0 missing, -1 error. */
int store_read_file(const char *path, struct buf *out);
/* Remove a directory tree (depth-limited, never follows links).  1 or -1. */
int store_remove_tree(const char *path);
/* Create a Maildir (tmp, new, cur) at path.  1 or -1. */
int store_maildir_create(const char *path);

/* ---- store_keywords.c ---- */
/* Read the folder's dovecot-keywords, taking in the names of slots
   still empty.  1 or -1. */
int store_keywords_load(struct mbox *mb);
/* Read it again if it changed since: 1 new names (chg_keywords set), 0
   none, -1 error. */
int store_keywords_refresh(struct mbox *mb);
void store_keywords_free(struct mbox *mb);
/* 1 found, 0 missing (create false), -1 error. */
int store_keywords_find(struct mbox *mb, const char *name, bool create,
			unsigned *index_r, struct store_error *error_r);

/* ---- store_index.c: the index in memory ---- */
void store_index_init(struct index *idx);
void store_index_deinit(struct index *idx);
/* Position of uid, or -1. */
long store_index_find(const struct index *idx, uint32_t uid);
/* First position with UID >= uid. */
unsigned store_index_lower(const struct index *idx, uint32_t uid);
const char *store_index_name(const struct index *idx, const struct index_rec *r);
/* Room for n more records and names_bytes more of names (no copying
   while a big sync appends them). */
void store_index_reserve(struct index *idx, unsigned n, size_t names_bytes);
/* Append a record (UID above all others) named name. */
void store_index_append(struct index *idx, const struct index_rec *r, const char *name);
void store_index_set_name(struct index *idx, struct index_rec *r, const char *name);
/* Drop the records whose mark is set. */
void store_index_remove_marked(struct index *idx);
/* Rewrite the pool with live names only (when worth it, or always). */
void store_index_gc_names(struct index *idx, bool force);
void store_index_clear(struct index *idx);
void uidvec_push(struct uidvec *v, uint32_t uid);
void uidvec_free(struct uidvec *v);

/* ---- store_index_file.c: the index on disk ---- */
enum index_log_type {
	INDEX_LOG_ADD = 1,
	INDEX_LOG_FLAGS,
	INDEX_LOG_EXPUNGE,
	INDEX_LOG_CACHE,
	INDEX_LOG_STATE,
	INDEX_LOG_CURDIR,	/* cur/ read whole: idx->cur_mtime */
	INDEX_LOG_SIZES,	/* a record's size, vsize and date, read late */
};
/* Load snapshot + log (1), or 0 when they are missing or damaged and the
   index must be rebuilt (idx is then empty with uidvalidity, uidnext and
   modseq bound from the fallback file).  -1 on I/O error. */
int store_index_load(struct mbox *mb, struct store_error *error_r);
/* Queue one log record for the operation in progress. */
void store_index_log(struct index *idx, enum index_log_type type,
		     const struct index_rec *r, const char *name);
/* Write the queued records, compacting when the log grew big.  1 or -1. */
int store_index_commit(struct mbox *mb);
/* Write a new snapshot (fsync) and start an empty log.  1 or -1. */
int store_index_compact(struct mbox *mb);
/* The modseq for the next change (compacts first at the bound). */
uint64_t store_index_next_modseq(struct mbox *mb);
/* The one modseq of a sync or rescan: *modseq, taken from
   store_index_next_modseq() the first time something changes (0 until
   then). */
uint64_t store_index_lazy_modseq(struct mbox *mb, uint64_t *modseq);
/* Expunge the marked records (their files are gone): each gets the lazy
   modseq, is reported and logged, and leaves the index and the account's
   usage; the fallback file is rewritten when any went. */
void store_index_expunge_marked(struct mbox *mb, uint64_t *modseq);
/* Rewrite the fallback file (uidvalidity, uidnext, modseq bound). */
int store_index_write_fallback(struct mbox *mb, bool sync);
void store_index_close(struct mbox *mb);
uint32_t store_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- store_cache.c ---- */
int store_cache_open(struct mbox *mb, bool truncate);
void store_cache_close(struct mbox *mb);
/* The whole record of r (all fields) into out.  1, 0 none, -1 error. */
int store_cache_read(struct mbox *mb, const struct index_rec *r, struct buf *out);
/* Append a record for r with the encoded fields in rec; sets r's offset. */
int store_cache_write(struct mbox *mb, struct index_rec *r, const void *rec,
		      size_t len);
/* Rewrite the cache file with live records only, when mostly garbage. */
int store_cache_compact(struct mbox *mb);

/* ---- store_sync.c ---- */
/*
 * Take in what changed in new/ and cur/ and tell the handles.  rebuild:
 * the index was lost, trust every U= found.  force_cur: scan cur/ even if
 * its mtime says nothing changed.  1 or -1.
 */
int store_sync_run(struct mbox *mb, bool rebuild, bool force_cur,
		   struct store_error *error_r);
/* Have the store's workers read the sizes of mb's records the sync left
   unmeasured (a folder loaded with some), if any and not already. */
void store_sync_fill(struct mbox *mb);
/* rename(2) that never replaces an existing file.  0 or -1 (errno). */
int store_rename_noreplace(const char *from, const char *to);
/* r's size, RFC822 size and internal date, read from its file in cur/ if
   the sync left them for later (REC_FLAG_UNMEASURED); logged with the
   folder's next commit.  1 known, 0 not now (the file is gone or is no
   readable regular file: r stays unmeasured, its fields zero). */
int store_rec_measure(struct mbox *mb, struct index_rec *r);

/* ---- store_watch.c: cur/ changed only by us ---- */
/* cur/ is watched and nothing but our own expected changes happened
   since the last store_watch_begin() (reads the queued events). */
bool store_watch_clean(struct mbox *mb);
/* Before cur/ is read whole: set the watch if missing, forget the
   events so far.  false: no watch (the mtime rule applies). */
bool store_watch_begin(struct mbox *mb);
/* A change of cur/ we did not make was noticed otherwise: rescan. */
void store_watch_lost(struct mbox *mb);
/* We just made an entry of cur/ change: 'F' renamed away (from), 'T'
   renamed in (to), 'C' created or linked, 'D' unlinked; name in cur/. */
void store_watch_own(struct mbox *mb, char code, const char *name);
/* The folder closes: drop its watch. */
void store_watch_end(struct mbox *mb);
void store_watch_free(struct store *s);

/* ---- store_mailbox.c ---- */
/* The shared folder name (canonical), opened and synced.  1 or -1. */
int store_mbox_get(struct store_account *a, const char *name, struct mbox **r,
		   struct store_error *error_r);
/* One more user of mb (unparks it). */
void store_mbox_ref(struct mbox *mb);
void store_mbox_release(struct mbox *mb);
/* Free a's parked folders (its last user went).  Returns with a->refs
   as it was. */
void store_mbox_drop_parked(struct store_account *a);
/* Tell every handle but origin about the changes collected in mb. */
void store_mbox_notify(struct mbox *mb, struct store_mailbox *origin);
/* -1 (IN_USE) when mb cannot be changed now (deleted, listeners). */
int store_mbox_check(struct mbox *mb, struct store_error *error_r);
void store_mbox_gone(struct mbox *mb);

/* ---- store_mboxparse.c: the mbox format (pure) ---- */
/* One message of an mbox file. */
struct mboxmsg {
	uint64_t off;		/* of its From_ line */
	uint64_t raw_len;	/* From_ line and stored lines, not the separator */
	uint64_t end;		/* where the next entry (or the end) starts */
	uint64_t size, vsize;	/* served: unquoted, with LF / CRLF line ends */
	uint32_t crc;		/* CRC-32C of the raw_len bytes at off */
	int64_t date;		/* of the From_ line (UTC), 0 if unreadable */
	uint8_t flags;		/* STORE_FLAG_* from Status:/X-Status: */
	uint64_t kw_off;	/* the value of its X-Keywords: (in the file), */
	uint32_t kw_len;	/* 0 when it has none */
};
typedef void store_mboxparse_fn(void *ctx, const struct mboxmsg *m);
/* Call cb for each message in data[0..len), the file's bytes from offset
   base (base starts a line), in file order. */
void store_mboxparse(const char *data, size_t len, uint64_t base,
		     store_mboxparse_fn *cb, void *ctx);
/* The mbox entry of a message text[0..len) (LF line ends) appended to
   out: "From <sender> <date, UTC>" (sender "" is MAILER-DAEMON), the
   lines with mboxrd quoting (">*From " gets one more '>'), a final LF
   when missing, and the empty separator line.  The one writer of the
   format (delivery's and the store's appends, imports); the store reads
   its content back as text.  Pure: any thread may call it. */
void store_mboxparse_entry(const char *sender, int64_t date, const char *text,
			   size_t len, struct buf *out);
/* msg[0..len) with its header's Status:, X-Status: and X-Keywords:
   fields (the sender's: they are the mailbox's, not the message's)
   replaced by those of the IMAP flags in flags (space-separated; NULL or
   "": none), appended to out. */
void store_mboxparse_state(const char *msg, size_t len, const char *flags,
			   struct buf *out);
/* The served text of the raw entry raw[0..raw_len) (From_ line dropped,
   ">From" unquoted) into out (room for raw_len bytes); its length. */
size_t store_mboxparse_content(const char *raw, size_t raw_len, char *out);

/* ---- store_mboxfile.c: an mbox INBOX ---- */
/* Local delivery: the message file src appended to the mbox file path
   (created if missing: *created_r) under the lock, as an entry with
   sender's From_ line and the IMAP flags in flags (space-separated, NULL
   none) as Status:, X-Status: and X-Keywords: (the sender's own are
   dropped).  Not flushed: the caller's batch fdatasyncs the file.
   recovered: if the file ends with this very entry (filed before a
   crash), it is not appended twice.  The file is cut back if the append
   fails.  1, 0 already there, -1 (errno). */
int store_mboxfile_deliver(const char *path, const char *sender, int64_t arrival,
			   const char *src, const char *flags, bool recovered,
			   bool *created_r);
#define STORE_MBOX_INDEX_DIR	"correio-mbox"	/* under the account root */
/* store_sync_run() of an mbox INBOX.  full: read the whole file and
   match every message again.  *modseq: 0 until this sync changed
   something.  1 or -1 (errno). */
int store_mboxfile_sync(struct mbox *mb, bool rebuild, bool full, uint64_t *modseq);
/* Remove uids[0..n) from the file (rewritten: new file, fsync, rename,
   under the lock delivery takes); their records get mark set, the others'
   offsets follow.  Syncs first (the listeners, origin's too, hear of what
   that found).  1 or -1. */
int store_mboxfile_expunge(struct mbox *mb, const uint32_t *uids, unsigned n,
			   struct store_error *error_r);
/* A message for store_mboxfile_append(). */
struct mbox_add {
	int fd;			/* its text (LF line ends), read from offset 0 */
	uint8_t flags;
	uint32_t keywords;
	int64_t date;		/* internal date: also the From_ line's */
	uint32_t uid;		/* given on return, 0 if not added */
};
/* Append v[0..n) to the file (created if missing) under the lock, fsync,
   and index them with the next UIDs (after deliveries found first).
   The listeners are not told: the caller notifies.  1 or -1. */
int store_mboxfile_append(struct mbox *mb, struct mbox_add *v, unsigned n,
			  struct store_error *error_r);
/* Append ready mbox entries to the file at path as another program
   would (the lock delivery takes; no index: the owner of the index
   finds them at its next sync, their Status: giving their flags).  The
   file is cut back if the append fails.  1 or -1. */
int store_mboxfile_append_foreign(const char *path, const char *entries, size_t len,
				  struct store_error *error_r);
/* A message's served text as a file (memfd, at offset 0).  1, 0 not where
   the index says (resync and try again), -1 error. */
int store_mboxfile_open_msg(struct mbox *mb, const struct index_rec *r, int *fd_r);

/* ---- store_change.c ---- */
/* store_mailbox_expunge() of a shared folder (later: ..._expunge_later);
   origin (may be NULL) is not told. */
int store_expunge_run(struct mbox *mb, struct store_mailbox *origin, uint32_t *uids,
		      unsigned *n, bool later, struct store_error *error_r);

/* ---- store_copy.c ---- */
/* store_copy() from a shared folder; origin (may be NULL) is not told. */
int store_copy_run(struct mbox *src, struct store_mailbox *origin,
		   const uint32_t *uids, unsigned n, const char *dest, bool move,
		   uint32_t *new_uids, uint32_t *uidvalidity_r,
		   struct store_error *error_r);

/* ---- store_folder.c ---- */
/* The SPECIAL-USE flag of a folder directory, 0 if none. */
unsigned store_folder_special_use(const char *dir);
/* store_folder_create without a single fsync: for a batch of folders the
   caller makes durable together. */
int store_folder_create_unsynced(struct store_account *a, const char *name,
				 unsigned special_use, struct store_error *error_r);

/* ---- store_deliver.c ---- */
/* What the batch's commit will flush so far: directories (fsync) and
   files (fdatasync), NUL-separated paths, each once. */
void store_delivery_pending(const struct store_delivery *b, const struct buf **dirs_r,
			    const struct buf **files_r);

/* ---- store_account.c ---- */
/* The one place an account's mailbox path is made: its Maildir
   "<data_dir>/mail/<domain>/<local>", or its mbox file
   "<data_dir>/mbox/<address>", into out.  1, or -1 (too long). */
int store_account_path(const struct store *s, const char *address, bool mbox,
		       char *out, size_t size);
/* A new UIDVALIDITY, above every one given in this account before;
   sync: durable before it returns (else the caller fsyncs the account). */
uint32_t store_account_new_uidvalidity(struct store_account *a, bool sync);
void store_account_usage_add(struct store_account *a, int64_t bytes, int64_t msgs);
void store_account_usage_stale(struct store_account *a);

#endif
