#ifndef CORREIO_STORE_H
#define CORREIO_STORE_H
/*
 * store: the one way to touch mail.  The mailbox API of correio over
 * Maildir++ plus an index, used by the IMAP, POP3 and JMAP servers, and
 * the only writer of mailboxes: the delivery agent files mail through it
 * (store_deliver), so Maildir names, paths and mbox entries are made
 * here alone.
 *
 * Layout (one account):
 *   <data_dir>/mail/<domain>/<local>/          INBOX (a Maildir: tmp/ new/ cur/)
 *   <data_dir>/mail/<domain>/<local>/.A.B/     folder "A/B" (IMAP separator '/')
 *   <root>/subscriptions                       subscribed names, one per line
 *   <root>/correio-account                     the last UIDVALIDITY given
 *   <data_dir>/mbox/<address>                  INBOX of an mbox account
 *   <root>/correio-mbox/                       ... and its index files
 * Folder names are UTF-8.  On disk each hierarchy level keeps its UTF-8
 * bytes, except '%', '.', '/', bytes below 0x20 and 0x7f, which become
 * "%XX" (two upper-case hex digits): "a.b" is ".a%2Eb", "A/B" is ".A.B".
 *
 * Message files keep the Maildir rules (mutt reads them).  When the store
 * first sees a message it moves it from new/ to cur/ under
 *   <base>,S=<bytes>,W=<RFC822.SIZE>,U=<uid>:2,<flags>
 * flags D \Draft, F \Flagged, R \Answered, S \Seen, T \Deleted, P kept
 * as is, and a-z the keywords listed in the folder's "dovecot-keywords"
 * ("<n> <name>" lines, n = 0 for 'a').  Beside them the index files
 * (correio-index, correio-index.log, correio-cache, correio-uidvalidity);
 * deleting them loses no mail and no UID: they are rebuilt from the names.
 *
 * Threading: everything here runs on one thread, the event loop thread,
 * except the delivery calls (store_deliver and its batch, which touch
 * files only and run on the delivery agent's thread) and the store's own
 * worker threads (store_workers_start), which only fsync descriptors and
 * directories handed to them, unlink the files of expunged messages
 * (store_mailbox_expunge_later) and run the work the servers hand them
 * through store_offload() (never on a store object).  Nothing is locked
 * but an mbox file (see store_mboxfile.c), and one process owns the index
 * files: other programs may change the Maildir (deliver, rename, delete)
 * or the mbox, not the index.  Calls block on local file-system I/O:
 * directory scans, small reads and renames always; fsync only where said
 * (append, copy, move - on the workers through store_append_commit and
 * store_copy_commit - folder creation and the periodic index
 * compaction).
 *
 * Ownership: struct store (one per process) owns the open accounts; an
 * account owns the shared folders open in it; a struct store_mailbox is
 * one session's handle on a shared folder.  Several handles on one
 * folder share a single in-memory index.  Pointers handed out (names in
 * struct store_msg, change arrays) stay valid until the next call that
 * may change that mailbox (sync, flags, expunge, append, copy, move, and
 * open_msg, which resyncs when a file moved).
 *
 * Returns: 1 done, 0 "not found" where stated, -1 error with *error_r
 * filled in (error_r may be NULL).  The text of an error is short and
 * safe to show to a client; details of I/O errors are logged.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;
struct store_account;
struct store_mailbox;
struct store_append;

/* ---- errors ---- */

enum store_error_code {
	STORE_ERROR_NONE,
	STORE_ERROR_TEMP,	/* I/O trouble: try again later */
	STORE_ERROR_NOT_FOUND,	/* no such folder (IMAP: TRYCREATE / NONEXISTENT) */
	STORE_ERROR_EXISTS,	/* the folder already exists (ALREADYEXISTS) */
	STORE_ERROR_OVER_QUOTA,	/* OVERQUOTA */
	STORE_ERROR_IN_USE,	/* called from a listener, or the folder is gone */
	STORE_ERROR_BAD_PARAM,	/* bad name, INBOX cannot be deleted, ... (CANNOT) */
	STORE_ERROR_LIMIT,	/* too many keywords, name too long (LIMIT) */
};

struct store_error {
	enum store_error_code code;
	char text[128];
};

/* ---- the store and accounts ---- */

/* The store of a process, for mail under <data_dir>/mail.  host names the
   files the store creates (Maildir unique names).  Never fails. */
struct store *store_new(const char *data_dir, const char *host);
/* The host part of new Maildir file names from now on (SIGHUP). */
void store_set_host(struct store *s, const char *host);

/*
 * How an account's INBOX is kept: its own setting (the account store's
 * ACCOUNTS_FORMAT_* values, which are these), or DEFAULT for the store's
 * default.  The default is Maildir until store_set_default_format() gives
 * the configured one ([delivery] mailbox_format), right after store_new()
 * and again at a reload.  The protocols hand the store the account's
 * setting and never decide the format themselves.
 */
enum store_format {
	STORE_FORMAT_DEFAULT = -1,
	STORE_FORMAT_MAILDIR = 0,
	STORE_FORMAT_MBOX = 1,
};
/* true: accounts without a setting of their own keep their INBOX in an
   mbox file.  Read by any thread (the delivery agent's, smtpd's quota). */
void store_set_default_format(struct store *s, bool mbox);
/* Is the INBOX of an account whose own setting is format (STORE_FORMAT_*)
   an mbox file?  Any thread. */
bool store_format_is_mbox(const struct store *s, int format);
/* Every account and mailbox must have been released.  Waits for the
   workers' jobs in flight and finishes them. */
void store_free(struct store **s);

/*
 * The store's disk waits off the event loop: from now on the flushes of
 * APPEND, COPY and MOVE (fsync of new files, then of their directories,
 * group-committed across sessions) run on n worker threads.  Returns a
 * descriptor that becomes readable when finished work waits; the loop
 * then calls store_workers_run(), which runs the callbacks of
 * store_append_commit() and store_copy_commit().  -1 on failure: the
 * flushes stay on the caller's thread, as they are without this call
 * (the CLI).
 */
int store_workers_start(struct store *s, unsigned n);
void store_workers_run(struct store *s);

/*
 * Other work off the loop, for the servers over the store (IMAP: FETCH
 * rendering message files, SEARCH reading them): work(arg) runs on one of
 * the store's worker threads, then done(arg) on the loop thread, from
 * store_workers_run().  work may touch only what arg holds (open
 * descriptors, copies): never a store, account or mailbox object, which
 * belong to the loop.  Jobs of several callers run at once, in any
 * order; each caller keeps its own order.  Without workers both steps
 * run before the call returns.
 */
void store_offload(struct store *s, void (*work)(void *arg), void (*done)(void *arg),
		   void *arg);
/* Tests only: CORREIO_TEST_READ_DELAY_MS, read at store_new(), makes
   every read of a message file for a client (FETCH, SEARCH) wait that
   long first, a slow disk.  Any thread. */
void store_read_delay(const struct store *s);

/*
 * Maildir names, made here only (any thread; no struct store needed): the
 * host part of every name correio gives a file, host with '/', ':', ','
 * and '\\' made '_' ("localhost" when empty); and the name of a message
 * the delivery agent files from the queue,
 * "<arrival>.Q<queue id>.<host part>,S=<bytes>[,W=<CRLF bytes>]" (W= left
 * out when 0), whose sizes the store reads back without opening the file.
 */
void store_maildir_host(const char *host, char *out, size_t size);
/* The INBOX of account address under data_dir, into out: its Maildir
   "<data_dir>/mail/<domain>/<local>", or its mbox file
   "<data_dir>/mbox/<address>" (any thread). */
void store_mailbox_path(const char *data_dir, const char *address, bool mbox,
			char *out, size_t size);
void store_delivery_name(char *out, size_t size, uint64_t arrival, const char *id,
			 const char *host, uint64_t bytes, uint64_t crlf_bytes);

/*
 * Open (or share) the mail of account address ("local@domain"), creating
 * its Maildir if needed.  Reference-counted: store_account_unref() once
 * per open.
 */
int store_account_open(struct store *s, const char *address,
		       struct store_account **r, struct store_error *error_r);
void store_account_unref(struct store_account **a);
/*
 * For a reader of folders (IMAP): on the account's first such use, create
 * Sent, Drafts, Trash, Junk and Archive with their SPECIAL-USE attributes
 * and subscribe them all; later calls do nothing (a default folder the
 * user deleted stays deleted).  POP3 and delivery never need them.
 * Returns 1 or -1.
 */
int store_account_default_folders(struct store_account *a, struct store_error *error_r);

/*
 * The account's INBOX is the mbox file <data_dir>/mbox/<address> that the
 * delivery agent appends to (mbox true), or the Maildir (false, the
 * default).  Its other folders are Maildir++ folders either way.  Takes
 * effect when the INBOX is next loaded (no session has it open).  For an
 * mbox INBOX: UIDs and flags live in an index under
 * <root>/correio-mbox/; expunge rewrites the file, and append, copy and
 * move into it append to the file, under the delivery agent's lock (see
 * store_mboxfile.c).
 */
void store_account_set_mbox(struct store_account *a, bool mbox);
/* The same from the account's own setting (STORE_FORMAT_*), the store's
   default deciding for STORE_FORMAT_DEFAULT. */
void store_account_set_format(struct store_account *a, int format);

/* Bytes the account may hold (0 = unlimited), from the account's quota:
   append and copy refuse with STORE_ERROR_OVER_QUOTA beyond it (moves
   and deliveries are not checked here). */
void store_account_set_quota(struct store_account *a, uint64_t limit);
uint64_t store_account_quota(const struct store_account *a);
/* Storage in use (bytes on disk of every message of every folder),
   rescanned at most once a minute and after deliveries.  Returns 1 or -1. */
int store_account_usage(struct store_account *a, uint64_t *bytes_r,
			uint64_t *messages_r, struct store_error *error_r);
/* The storage used by the Maildir++ tree at root (every folder's new/ and
   cur/; the INBOX at root itself only when inbox, i.e. not in an mbox
   file), counted from the file names as the store counts it, without an
   account object: safe on any thread (the delivery agent's quota check).
   Returns 1, or -1 if root cannot be read (errno; ENOENT: no mail yet). */
int store_usage_scan(const char *root, bool inbox, uint64_t *bytes_r, uint64_t *messages_r);
/* The storage used by the mail of account address, whose own setting is
   format (STORE_FORMAT_*): its mbox file, if its INBOX is one, and every
   Maildir folder, counted as store_account_usage() counts them but read
   from the disk now and without an account object: any thread (the
   quota checks of smtpd and the delivery agent).  An account with no mail
   yet uses 0.  Returns 1, or -1 (errno). */
int store_mail_usage(const struct store *s, const char *address, int format,
		     uint64_t *bytes_r);
/* Would adding bytes stay within the limit?  1 yes, 0 no, -1 error. */
int store_account_quota_check(struct store_account *a, uint64_t bytes,
			      struct store_error *error_r);

/*
 * New mail was filed for address (on the loop thread: the done step of a
 * delivery batch's commit, below).  If that INBOX is open it is synced
 * and its listeners hear of the new messages.  Cheap when the account
 * has nothing open: one hash look-up.
 */
void store_notify_delivery(struct store *s, const char *address);

/* ---- local delivery: the store writes every mailbox ---- */

/*
 * The delivery agent files mail through these calls, on its own thread:
 * they touch files only (no index, no account object), so they may run
 * beside the loop.  A batch (store_delivery_begin) records what its
 * deliveries changed: the directories that got a new entry, the mbox
 * files appended to, the accounts that got mail.  store_delivery_commit()
 * makes exactly those durable - fdatasync of each mbox file, fsync of
 * each directory once - and only then reports; the loop's store then
 * hears of the new mail itself (its INBOXes are synced, their listeners
 * told).  Several batches may be committing at once.
 *
 * Maildir: the message is hard-linked from the spool file when on the
 * same file system (its data is durable already: the queue flushed it),
 * else copied into tmp/, fdatasynced and linked; into new/, or into cur/
 * as "<name>:2,<letters>" when it has flags, so that it never appears
 * without them.  Its name is store_delivery_name()'s, which makes a
 * second delivery of the same queue id a no-op (after a crash).  A
 * missing Maildir (the account's first mail, Junk) is created.  mbox:
 * appended under the lock the store takes (store_mboxfile.c), with the
 * flags as Status:, X-Status: and X-Keywords:.
 */
struct store_delivery;

/* One message as the delivery agent files it. */
struct store_delivery_msg {
	const char *src;	/* the spool file: LF line ends */
	const char *sender;	/* for an mbox's From_ line ("" MAILER-DAEMON) */
	int64_t arrival;
	bool recovered;		/* it may have been filed before a crash */
	char name[256];		/* its Maildir name (store_delivery_msg_init) */
};

/* Fill in m; measures the message's CRLF size (W=) from src. */
void store_delivery_msg_init(struct store_delivery_msg *m, const char *src,
			     const char *id, const char *host, const char *sender,
			     uint64_t arrival, uint64_t bytes, bool recovered);

/* A new batch for the store s (whose loop is told of the mail once the
   batch is durable).  Never fails. */
struct store_delivery *store_delivery_begin(struct store *s);

/*
 * File m for account address into folder (NULL: the INBOX; else a
 * folder name, "Junk", "A/B", created as a bare Maildir++ folder when
 * missing).  mbox: the INBOX is the account's mbox file.  flags: IMAP
 * flags and keywords, space-separated, or NULL.  Returns 1 filed, 0
 * already there (an earlier attempt), -1 error (errno kept; *error_r).
 */
int store_deliver(struct store_delivery *b, const struct store_delivery_msg *m,
		  const char *address, const char *folder, bool mbox, const char *flags,
		  struct store_error *error_r);

/* Is m already in that Maildir folder (an earlier attempt filed it)?
   Never true for an mbox INBOX. */
bool store_delivery_present(struct store_delivery *b, const struct store_delivery_msg *m,
			    const char *address, const char *folder, bool mbox);

/* Does folder (not INBOX) exist in the account's Maildir?  1 yes, 0 no,
   -1 no valid folder name. */
int store_delivery_folder_exists(struct store_delivery *b, const char *address,
				 const char *folder);

/*
 * Make the batch durable and free it (*b set to NULL).  cb(ctx, result)
 * runs once it is on disk (1) or failed (-1): on one of the store's
 * worker threads (store_workers_start), else at once on the caller's;
 * never on the loop.  After that the loop's store syncs what it has open
 * of the accounts that got mail.
 */
typedef void store_delivery_fn(void *ctx, int result);
void store_delivery_commit(struct store_delivery **b, store_delivery_fn *cb, void *ctx);

/* ---- folders ---- */

#define STORE_FOLDER_NOSELECT		0x0001	/* a name only: no messages */
#define STORE_FOLDER_NONEXISTENT	0x0002	/* does not exist (LIST-EXTENDED) */
#define STORE_FOLDER_HASCHILDREN	0x0004
#define STORE_FOLDER_HASNOCHILDREN	0x0008
#define STORE_FOLDER_SUBSCRIBED		0x0010
#define STORE_FOLDER_SENT		0x0100	/* SPECIAL-USE, RFC 6154 */
#define STORE_FOLDER_DRAFTS		0x0200
#define STORE_FOLDER_TRASH		0x0400
#define STORE_FOLDER_JUNK		0x0800
#define STORE_FOLDER_ARCHIVE		0x1000
#define STORE_FOLDER_SPECIAL_USE	0x1f00

struct store_folder_info {
	const char *name;	/* "INBOX", "Sent", "A/B": UTF-8 */
	unsigned attrs;		/* STORE_FOLDER_* */
};

/*
 * Call cb for every folder, INBOX first, then in byte order of the name.
 * Parents that do not exist but have children come as NOSELECT |
 * NONEXISTENT; subscribed names that do not exist as NONEXISTENT |
 * SUBSCRIBED.  Pattern matching is the caller's.  Returns 1 or -1.
 */
int store_folder_list(struct store_account *a,
		      void (*cb)(void *ctx, const struct store_folder_info *f),
		      void *ctx, struct store_error *error_r);

/*
 * Create folder name, and its missing parents (RFC 9051 CREATE).
 * special_use: one of STORE_FOLDER_SENT..ARCHIVE or 0.  Durable (fsync)
 * on return.  EXISTS if it exists, BAD_PARAM for a bad name.
 */
int store_folder_create(struct store_account *a, const char *name,
			unsigned special_use, struct store_error *error_r);
/* The Maildir++ directory name (".A.B") of a non-INBOX folder name, for
   local delivery (Sieve fileinto).  1, or -1 for a bad name or INBOX. */
int store_folder_dir_name(const char *name, char *out, size_t size);
/* Delete a folder and its messages.  Its children stay (the name becomes
   \Noselect).  Sessions that have it open get STORE_CHANGE_GONE. */
int store_folder_delete(struct store_account *a, const char *name,
			struct store_error *error_r);
/*
 * Rename a folder and its children.  Renaming INBOX moves its messages
 * into a new folder newname and leaves INBOX empty (its children stay).
 * Open handles follow the folder to its new name; UIDVALIDITY and
 * subscriptions stay as they are.
 */
int store_folder_rename(struct store_account *a, const char *oldname,
			const char *newname, struct store_error *error_r);
/* Subscriptions; any name may be subscribed, existing or not. */
int store_folder_subscribe(struct store_account *a, const char *name, bool on,
			   struct store_error *error_r);

struct store_status {
	uint32_t messages;
	uint32_t recent;	/* UIDs >= first recent UID (see claim_recent) */
	uint32_t unseen;
	uint32_t deleted;	/* with \Deleted (STATUS DELETED) */
	uint64_t deleted_size;	/* their bytes on disk (DELETED-STORAGE) */
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint32_t first_unseen;	/* sequence number of the first unseen, 0 if none */
	uint64_t size;		/* sum of RFC822.SIZE (STATUS=SIZE) */
	uint64_t highestmodseq;
};

/* STATUS of a folder (syncs it; loads its index when nobody has it
   open); size and deleted_size only when sizes is true (they may cost
   reading files, see store_mailbox_status).  NOT_FOUND when it does not
   exist or cannot be selected. */
int store_folder_status(struct store_account *a, const char *name, bool sizes,
			struct store_status *st, struct store_error *error_r);

/* ---- mailboxes: one session's handle on a shared folder ---- */

#define STORE_FLAG_SEEN		0x01
#define STORE_FLAG_ANSWERED	0x02
#define STORE_FLAG_FLAGGED	0x04
#define STORE_FLAG_DELETED	0x08
#define STORE_FLAG_DRAFT	0x10
#define STORE_FLAGS_SYSTEM	0x1f
#define STORE_MAX_KEYWORDS	26	/* per folder: Maildir letters a-z */

enum store_change_kind {
	STORE_CHANGE_EXISTS,	/* uids: new messages, ascending */
	STORE_CHANGE_EXPUNGE,	/* uids: messages removed */
	STORE_CHANGE_FLAGS,	/* uids: flags/modseq changed (look them up) */
	STORE_CHANGE_KEYWORDS,	/* the folder's keyword list grew */
	STORE_CHANGE_GONE,	/* the folder was deleted: close the handle */
};

struct store_change {
	enum store_change_kind kind;
	const uint32_t *uids;	/* valid during the call only */
	unsigned count;
};

/*
 * A listener hears of changes made through other handles and of those a
 * sync found (deliveries, other programs), never of the changes made
 * through its own handle (set_flags, expunge and the expunge half of a
 * move report those to their caller).  Appends and copies into the
 * folder reach every handle, the caller's too.  Called on the loop
 * thread, from inside the store call that found or made the change:
 * another session's call, store_notify_delivery, or one of this
 * session's own calls that syncs (store_mailbox_sync, open_msg when a
 * file moved, set_flags when one did).  It may read (lookup, get, count)
 * but must not change the mailbox, sync it or release the handle (those
 * fail with STORE_ERROR_IN_USE): queue the news and act after return.
 * The shared index already reflects the change when the listener runs:
 * a session keeps its own UID list for its sequence numbers and may find
 * an expunged UID gone from lookups before it sent the EXPUNGE.
 */
typedef void store_listener_fn(void *ctx, struct store_mailbox *h,
			       const struct store_change *change);

/* Open folder name (INBOX in any case) and sync it.  NOT_FOUND if it does
   not exist or is \Noselect.  listener may be NULL. */
int store_mailbox_open(struct store_account *a, const char *name,
		       store_listener_fn *listener, void *ctx,
		       struct store_mailbox **r, struct store_error *error_r);
void store_mailbox_close(struct store_mailbox **h);

/* Look at new/ and cur/ and take in deliveries and changes made by other
   programs; listeners (this handle's too) hear of them.  Returns 1 or -1. */
int store_mailbox_sync(struct store_mailbox *h, struct store_error *error_r);
/* Counters of the open folder (no sync), but for size and deleted_size
   (zero): those cost a read of the files the store has not measured yet
   (a folder another program filled), see store_mailbox_status_sizes. */
void store_mailbox_status(struct store_mailbox *h, struct store_status *st);
/* Fill st->size and st->deleted_size (measuring the files not measured). */
void store_mailbox_status_sizes(struct store_mailbox *h, struct store_status *st);
/* Name of the folder as now (it follows renames). */
const char *store_mailbox_name(struct store_mailbox *h);

/*
 * \Recent is session state.  first_recent: messages with a UID >= it are
 * new since the last session claimed them.  claim_recent (SELECT, and
 * after each sync of a read-write session) returns the same and moves
 * the mark to UIDNEXT, so no other session sees those as recent.
 */
uint32_t store_mailbox_first_recent(struct store_mailbox *h);
uint32_t store_mailbox_claim_recent(struct store_mailbox *h);

struct store_msg {
	uint32_t uid;
	uint8_t flags;		/* STORE_FLAG_* */
	uint32_t keywords;	/* bit i: keyword i of the folder */
	uint64_t modseq;
	time_t internal_date;
	uint64_t size;		/* bytes on disk (LF line ends) */
	uint64_t vsize;		/* RFC822.SIZE: size + one CR per bare LF */
	const char *name;	/* file name in cur/: base ":2," flags */
	size_t base_len;	/* the base: name up to ':' */
};

/* Messages now in the shared index, in UID order: index 0..count-1.
   (A session keeps its own sequence numbers; see store_change.) */
unsigned store_mailbox_count(struct store_mailbox *h);
void store_mailbox_get(struct store_mailbox *h, unsigned i, struct store_msg *m);
/* The UID of message i (0-based), without the rest of store_mailbox_get. */
uint32_t store_mailbox_uid_at(struct store_mailbox *h, unsigned i);
/* 1 found, 0 no such UID. */
int store_mailbox_lookup(struct store_mailbox *h, uint32_t uid, struct store_msg *m);
/* The same without size, vsize and internal_date (zero): for callers that
   want flags, modseq or the name only (FETCH FLAGS, STORE, EXPUNGE), as
   those may cost a read of a file another program left in cur/. */
int store_mailbox_lookup_flags(struct store_mailbox *h, uint32_t uid, struct store_msg *m);
/* Like store_mailbox_lookup without the file name (name NULL, base_len 0): walks over
   many messages that need only the index's fields (SEARCH on flags,
   sizes, dates) then never touch the names. */
int store_mailbox_lookup_meta(struct store_mailbox *h, uint32_t uid, struct store_msg *m);
/* A UID below which every message is \Seen (UIDNEXT if all are): a
   search for UNSEEN can start there.  Found again only after a change. */
uint32_t store_mailbox_unseen_low(struct store_mailbox *h);
/* Index of the first message whose UID is >= uid (count if none). */
unsigned store_mailbox_seek(struct store_mailbox *h, uint32_t uid);

/*
 * Open a message for reading: *fd_r (O_RDONLY, the caller closes it), its
 * facts in *m.  The file has LF line ends; the caller converts to CRLF
 * (vsize is the size after that).  1, 0 expunged meanwhile, -1 error.
 */
int store_mailbox_open_msg(struct store_mailbox *h, uint32_t uid, int *fd_r,
			   struct store_msg *m, struct store_error *error_r);

/* Keywords: the folder's names, index i < count (FLAGS, PERMANENTFLAGS);
   NULL for a slot a hand-edited dovecot-keywords left empty. */
unsigned store_mailbox_keyword_count(struct store_mailbox *h);
const char *store_mailbox_keyword_name(struct store_mailbox *h, unsigned i);
/* Index of keyword name (case-insensitive), adding it when create.
   1 found, 0 unknown (create false), -1 error (LIMIT when 26 are in use). */
int store_mailbox_keyword(struct store_mailbox *h, const char *name, bool create,
			  unsigned *index_r, struct store_error *error_r);

/*
 * For local delivery (any thread, no index): the Maildir letters ('a' +
 * n, as in the file names) of the keywords names[0..n) in the folder
 * whose Maildir is dir, adding those it lacks to its dovecot-keywords
 * under the folder's lock.  Into out (NUL-terminated, size > 26); a name
 * that is not a valid keyword, or past the 26 letters, is left out and
 * logged.  1 or -1.
 */
int store_keyword_letters(const char *dir, const char *const *names, unsigned n,
			  char *out, size_t size);

enum store_flag_op { STORE_FLAGS_ADD, STORE_FLAGS_REMOVE, STORE_FLAGS_REPLACE };

/* What set_flags did to one message. */
enum store_flag_status {
	STORE_FLAG_GONE,	/* no such UID (expunged) */
	STORE_FLAG_UNCHANGED,	/* already so */
	STORE_FLAG_CHANGED,
	STORE_FLAG_MODIFIED,	/* modseq > unchanged_since: left alone */
};

struct store_flag_result {
	enum store_flag_status status;
	uint64_t modseq;	/* the message's modseq now (new if CHANGED), 0 if GONE */
};

/*
 * Change the flags of uids[0..n) (any order).  unchanged_since: CONDSTORE
 * UNCHANGEDSINCE, 0 for none.  Changed messages share one new modseq.
 * results (may be NULL) gets n entries.  Renames the files (no fsync).
 * Returns 1 or -1 (some may have changed: look them up).
 */
int store_mailbox_set_flags(struct store_mailbox *h, const uint32_t *uids,
			    unsigned n, enum store_flag_op op, uint8_t flags,
			    uint32_t keywords, uint64_t unchanged_since,
			    struct store_flag_result *results,
			    struct store_error *error_r);

/* Remove uids[0..*n) (their files are deleted).  On return uids[0..*n)
   are the UIDs really removed, ascending.  1 or -1. */
int store_mailbox_expunge(struct store_mailbox *h, uint32_t *uids, unsigned *n,
			  struct store_error *error_r);
/*
 * The same with the unlinks of the files on the store's workers (IMAP
 * EXPUNGE: an unlink is a journal transaction that would hold up every
 * session): the index, the sessions and the listeners know of the
 * expunge on return; until the files are gone a scan of the folder
 * passes over them.  An unlink that fails then is logged and its message
 * comes back at the next scan; a crash before the unlinks brings them
 * back at the next start (an expunge was never flushed to disk).
 */
int store_mailbox_expunge_later(struct store_mailbox *h, uint32_t *uids, unsigned *n,
				struct store_error *error_r);

/*
 * Per-message cache of strings for the IMAP layer (ENVELOPE,
 * BODYSTRUCTURE, ...): field < STORE_CACHE_FIELDS, any bytes.  get: 1 and
 * the value in *out (replaced), 0 not cached, -1 error.  set: 1, 0 no
 * such UID, -1 error.  Values outlive restarts; a damaged cache reads as
 * "not cached".
 */
#define STORE_CACHE_FIELDS 16
struct buf;
int store_mailbox_cache_get(struct store_mailbox *h, uint32_t uid, unsigned field,
			    struct buf *out);
int store_mailbox_cache_set(struct store_mailbox *h, uint32_t uid, unsigned field,
			    const void *data, size_t len, struct store_error *error_r);

/* ---- append, copy, move ---- */

/* Start writing a message into folder name.  NOT_FOUND (TRYCREATE) if the
   folder does not exist. */
int store_append_begin(struct store_account *a, const char *name,
		       struct store_append **r, struct store_error *error_r);
/* The message comes in pieces over time and ends with
   store_append_commit (an IMAP literal): its text may go to the file on
   a worker thread as it arrives, in chunks (without this, the file is
   written whole when the message is sealed). */
void store_append_stream(struct store_append *ap);
/* Message bytes as the client sends them (CRLF or LF): stored with LF.
   The file is created and written off the loop: -1 reports a failure of
   an earlier piece. */
int store_append_write(struct store_append *ap, const void *data, size_t len,
		       struct store_error *error_r);
/*
 * Make it a message: flags, keywords (names, created in the folder as
 * needed), internal date (0 = now).  fsyncs the file and the directory:
 * on 1 the message is on disk.  *uid_r and *uidvalidity_r for APPENDUID.
 * Frees ap in every case.
 */
int store_append_finish(struct store_append **ap, uint8_t flags,
			const char *const *keywords, unsigned n_keywords,
			time_t internal_date, uint32_t *uid_r,
			uint32_t *uidvalidity_r, struct store_error *error_r);
void store_append_abort(struct store_append **ap);

/*
 * The same for the messages of one command, with the disk waits off the
 * loop: store_append_set() gives each its flags, keywords (copied) and
 * internal date (0 = now); store_append_commit() takes aps[0..n) (the
 * array's pointers are set to NULL), fsyncs their files on a worker, then
 * on the loop files them in order (each gets the next UID of its folder:
 * uids[i] for aps[i]), then fsyncs their directories in a group flush
 * shared with other sessions, and only then calls cb on the loop: result
 * 1 all on disk; -1 with *error: uids[0..n_filed) were filed before the
 * failure and stay.  Returns a handle for store_wait_cancel(), or NULL if
 * cb already ran (without workers it runs before the call returns).
 */
struct store_wait;
typedef void store_append_fn(void *ctx, int result, const uint32_t *uids, unsigned n_filed,
			     uint32_t uidvalidity, const struct store_error *error);
void store_append_set(struct store_append *ap, uint8_t flags, const char *const *keywords,
		      unsigned n_keywords, time_t internal_date);
struct store_wait *store_append_commit(struct store_append **aps, unsigned n,
				       store_append_fn *cb, void *ctx);
/* The caller goes away: its callback will not run; the work still ends
   (what was filed stays filed). */
void store_wait_cancel(struct store_wait *w);

/*
 * Copy (or move) uids[0..n) of h's folder into folder dest.  new_uids[i]
 * gets the new UID of uids[i], 0 for one that no longer exists; with
 * *uidvalidity_r that is COPYUID.  Flags, keywords, internal date and
 * cache go along; files are hard-linked (copy) or renamed (move) and the
 * directories fsynced.  Moved messages are expunged from h's folder:
 * other handles hear of it, h does not (the caller sends the EXPUNGEs of
 * every uids[i] with new_uids[i] != 0).  dest may be h's own folder.
 * 1, or -1 (what was done before the error is kept and reported).
 */
int store_copy(struct store_mailbox *h, const uint32_t *uids, unsigned n,
	       const char *dest, bool move, uint32_t *new_uids,
	       uint32_t *uidvalidity_r, struct store_error *error_r);

/*
 * store_copy with the directory flush off the loop: the files are linked
 * or renamed and indexed now (new_uids and *uidvalidity_r are set when
 * this returns, and other handles told), then the directories are
 * fsynced in a group flush and cb(ctx, result, error) runs on the loop
 * with what store_copy would have returned.  Returns a handle for
 * store_wait_cancel(), or NULL if cb already ran.
 */
typedef void store_copy_fn(void *ctx, int result, const struct store_error *error);
struct store_wait *store_copy_commit(struct store_mailbox *h, const uint32_t *uids,
				     unsigned n, const char *dest, bool move,
				     uint32_t *new_uids, uint32_t *uidvalidity_r,
				     store_copy_fn *cb, void *ctx);

/* ---- POP3 ---- */

struct store_snapshot_msg {
	uint32_t uid;
	uint64_t vsize;		/* octets as POP3 sends them (CRLF) */
	const char *base;	/* Maildir base name */
};

struct store_snapshot {
	uint32_t uidvalidity;
	unsigned count;
	uint64_t total_vsize;
	struct store_snapshot_msg *msgs;	/* UID order */
};

/* A fixed list of h's messages as the index has them now (the open
   synced it).  One allocation the caller owns. */
struct store_snapshot *store_snapshot_new(struct store_mailbox *h);
void store_snapshot_free(struct store_snapshot **s);

/*
 * The POP3 UIDL of a message: "<uidvalidity>.<uid>" in decimal, e.g.
 * "1732700000.42" (at most 21 characters).  Stable across sessions and
 * restarts, and names the same message IMAP calls UID 42.  It changes
 * only if the folder's UIDVALIDITY does.  size >= 24.
 */
void store_uidl(uint32_t uidvalidity, uint32_t uid, char *out, size_t size);

/* ---- import and export (correio user import|export) ---- */

/*
 * Bulk import writes into the folder's Maildir as another program would,
 * never through an index, so it is safe beside a running server, which
 * takes the messages in at its next sync of the folder (see
 * store_import.c).  begin creates the folder (and its parents) when
 * missing.  If the folder holds no message, UIDs are kept: uidvalidity
 * (0: the folder's own) becomes the folder's, uidnext (0: none) its next
 * UID at least, and each message keeps the uid given to add (0 or one
 * not above the last: the next one).  Otherwise the store gives UIDs
 * at its next sync.  Into the INBOX of an mbox account messages are
 * appended to the file under the delivery lock with their flags as
 * Status:/X-Status: (no UIDs kept, no keywords).
 */
struct store_import;
int store_import_begin(struct store_account *a, const char *name, uint32_t uidvalidity,
		       uint32_t uidnext, struct store_import **r,
		       struct store_error *error_r);
/* Are UIDs kept (the folder was new or empty)? */
bool store_import_keeps_uids(const struct store_import *im);
/* One message (CRLF or LF; stored with LF); its UID in *uid_r (0: given
   at the next sync; uid_r may be NULL).  Each message is fdatasynced
   and moved into cur/ at once (visible to the store's next sync); cur/
   is fsynced once by finish: all are durable once it returns 1. */
int store_import_add(struct store_import *im, const void *data, size_t len, uint32_t uid,
		     uint8_t flags, const char *const *keywords, unsigned n_keywords,
		     time_t date, uint32_t *uid_r, struct store_error *error_r);
/* Every message of the mbox file data[0..len) (mboxrd or mboxo "From "
   lines): flags from Status:/X-Status:, keywords from X-Keywords:, the
   internal date from the From_ line; those header fields (and X-UID:,
   X-IMAP:, X-IMAPbase:) are left out of the stored message.  *count_r:
   messages written.  1 or -1. */
int store_import_mbox(struct store_import *im, const char *data, size_t len,
		      unsigned *count_r, struct store_error *error_r);
/* Make what was imported durable (cur/ fsynced once); frees im in every case. */
int store_import_finish(struct store_import **im, struct store_error *error_r);
void store_import_abort(struct store_import **im);

/* Remove all the mail of address (its Maildir tree and its mbox file),
   for an account that is gone.  1 (also when there was none) or -1. */
int store_account_remove_mail(struct store *s, const char *address,
			      struct store_error *error_r);

struct store_export_folder {
	uint32_t uidvalidity;	/* 0: the folder has none yet */
	uint32_t uidnext;
	const char *keywords[STORE_MAX_KEYWORDS];	/* bit i of a message's keywords */
	unsigned n_keywords;
};

struct store_export_msg {
	uint32_t uid;		/* 0: arrived since the last sync, no UID yet */
	uint8_t flags;		/* STORE_FLAG_* */
	uint32_t keywords;
	time_t date;		/* internal date */
	const char *path;	/* the message file (LF line ends) */
};

/* 1 go on, -1 stop. */
typedef int store_export_fn(void *ctx, const struct store_export_folder *f,
			    const struct store_export_msg *m);
/*
 * Call cb first with m NULL (the folder's facts in f, valid during the
 * call only), then for every message of folder name, in UID order (those without
 * one last), reading the Maildir only (no index: safe beside a running
 * server).  1 or -1.  The INBOX of an mbox account: BAD_PARAM.
 */
int store_export_folder(struct store_account *a, const char *name,
			store_export_fn *cb, void *ctx, struct store_error *error_r);

#endif
