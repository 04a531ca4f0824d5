#ifndef CORREIO_JMAP_PRIVATE_H
#define CORREIO_JMAP_PRIVATE_H
/*
 * What the files of src/jmap share.  An account context lives for one
 * API request: it opens the user's store account and, on first need, a
 * handle on every selectable folder (opening syncs it, which is how
 * deliveries and IMAP changes become visible).
 *
 * Ids (RFC 8620 §1.2, [A-Za-z0-9_-]):
 *   account   "a" + 16 hex digits of SHA-256 of the address
 *   mailbox   "f" + folder UIDVALIDITY (8 hex)
 *   email     "m" + UIDVALIDITY (8 hex) + UID (8 hex)
 *   thread    "t" + the digits of the first email of the conversation
 *             seen (jmap_thread.c)
 *   blob      "b" + the email id's digits (the message), or
 *             "u" + 32 random hex digits (an upload)
 * A folder's UIDVALIDITY is unique in its account and stable, so the ids
 * are too.  XXX: a message moved to another folder gets a new UID there
 * and so a new id (Email/changes reports the old one destroyed and the
 * new one created), as the store keeps no id across folders.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "jmap_core.h"
#include "store/store.h"

struct jmap;
struct services;

struct jmap_folder {
	char *name;
	unsigned attrs;			/* STORE_FOLDER_* */
	struct store_mailbox *h;
	struct store_status st;
	char id[16];
};

struct jmap_account {
	struct jmap *j;
	struct services *srv;
	struct store_account *store;
	char user[320];
	char id[20];
	struct jmap_folder *folders;
	unsigned n_folders;
	bool loaded;
	store_listener_fn *listener;	/* for the folder handles (push), or NULL */
	void *listener_ctx;
	struct jmap_threads *threads;	/* the thread map, read on first need */
};

/* jmap_session.c */
void jmap_account_id(const char *user, char out[20]);
int jmap_account_open(struct jmap *j, struct services *srv, const char *user,
		      struct jmap_account *a);
void jmap_account_close(struct jmap_account *a);
/* Open every selectable folder (once per request).  1 or -1. */
int jmap_account_load(struct jmap_account *a);
/* Close the folder handles: the next load opens (and syncs) them again. */
void jmap_account_unload(struct jmap_account *a);
/* A new request on a kept account: sync the open folders, or unload them
   when the folder list changed (created, deleted, renamed). */
void jmap_account_refresh(struct jmap_account *a);
struct jmap_folder *jmap_folder_by_id(struct jmap_account *a, const char *id);
/* The account state (Mailbox and Email): "s" + 16 hex, and a snapshot of
   it kept for /changes.  out has 24 bytes. */
void jmap_account_state(struct jmap_account *a, char out[24]);
/* The result of a Foo/get (RFC 8620 §5.1): accountId, the current state,
   list and notFound (both taken).  Returns 1. */
int jmap_get_result(struct jmap_call *call, struct jmap_account *a, json_t *list,
		    json_t *notfound);
/* The Session object of RFC 8620 §2 for a, URLs below base ("https://h"). */
json_t *jmap_session_object(struct jmap_account *a, const char *base);
/* The limits in force. */
const struct jmap_limits *jmap_limits_of(struct jmap *j);
/* Check call's accountId against the context: 1, or -1 (accountNotFound). */
int jmap_call_account(struct jmap_call *call, struct jmap_account **a_r);

/* What a snapshot of an earlier state says (for /changes). */
struct jmap_snapshot;
struct jmap_snapshot *jmap_snapshot_find(struct jmap *j, const char *user,
					 const char *state);
/* Folder UIDVALIDITY -> HIGHESTMODSEQ at the snapshot, 0 if absent. */
bool jmap_snapshot_folder(const struct jmap_snapshot *s, uint32_t uidvalidity,
			  uint64_t *modseq_r, uint64_t *name_hash_r);
/* Was email (uidvalidity << 32 | uid) there? */
bool jmap_snapshot_has(const struct jmap_snapshot *s, uint64_t email);
/* Each folder / email of the snapshot. */
unsigned jmap_snapshot_folder_count(const struct jmap_snapshot *s);
uint32_t jmap_snapshot_folder_at(const struct jmap_snapshot *s, unsigned i);
unsigned jmap_snapshot_email_count(const struct jmap_snapshot *s);
uint64_t jmap_snapshot_email_at(const struct jmap_snapshot *s, unsigned i);

/* A Foo/changes (RFC 8620 §5.2) under way: the state now, the snapshot of
   sinceState and the three id lists to fill. */
struct jmap_changes {
	char state[24];
	struct jmap_snapshot *snap;
	json_t *created, *updated, *destroyed;
};
/* Start a Foo/changes from since (arguments checked): 1, or -1 with the
   cannotCalculateChanges error set when since is unknown. */
int jmap_changes_begin(struct jmap_call *call, struct jmap_account *a,
		       const char *since, struct jmap_changes *ch);
uint64_t jmap_name_hash(const char *name);
void jmap_snapshots_free(struct jmap *j);
/* At stop: the newest states of each account to its states file. */
void jmap_snapshots_save(struct jmap *j, const char *data_dir);
/* jmap_http.c: the server's data directory. */
const char *jmap_data_dir(struct jmap *j);

/* jmap_mailbox.c */
int jmap_mailbox_get(struct jmap_call *call);
int jmap_mailbox_changes(struct jmap_call *call);
const char *jmap_mailbox_role(unsigned attrs, const char *name);
/* The Mailbox object of f (every property). */
json_t *jmap_mailbox_object(struct jmap_account *a, struct jmap_folder *f);
/* jmap_mailbox_set.c */
int jmap_mailbox_set(struct jmap_call *call);
int jmap_mailbox_query(struct jmap_call *call);
int jmap_mailbox_query_changes(struct jmap_call *call);

/* jmap_email.c */
int jmap_email_get(struct jmap_call *call);
int jmap_email_query(struct jmap_call *call);
int jmap_email_query_changes(struct jmap_call *call);
int jmap_email_set(struct jmap_call *call);
int jmap_email_changes(struct jmap_call *call);
int jmap_email_parse(struct jmap_call *call);
/* jmap_thread.c: threads as conversations */
int jmap_thread_get(struct jmap_call *call);
int jmap_thread_changes(struct jmap_call *call);
/* The thread id of email uid of f into tid (given now if it had none). */
void jmap_thread_of(struct jmap_account *a, struct jmap_folder *f, uint32_t uid,
		    char tid[20]);
/* Give every email of the account a thread. */
void jmap_threads_sync(struct jmap_account *a);
/* Make the thread map written so far durable (before an answer). */
void jmap_threads_flush(struct jmap_account *a);
struct jmap_threads;
void jmap_threads_free(struct jmap_threads **t);
/* jmap_snippet.c */
int jmap_snippet_get(struct jmap_call *call);
/* jmap_email_create.c: Email/set create of obj; NULL with *created
   (id, blobId, threadId, size), or the SetError. */
json_t *jmap_email_create(struct jmap_account *a, json_t *obj, json_t **created);
/* jmap_email_import.c */
int jmap_email_import(struct jmap_call *call);

#define JMAP_NEW_EMAIL_KEYWORDS 100

/* Where a new email (Email/import, Email/set create) goes: its one
   mailbox, its keywords as flags and names (pointing into obj), its
   receivedAt (0: now). */
struct jmap_new_email {
	struct jmap_folder *folder;
	uint8_t flags;
	unsigned n_names;
	const char *names[JMAP_NEW_EMAIL_KEYWORDS];
	time_t received;
};

/* Read mailboxIds, keywords and receivedAt of obj into ne: NULL, or the
   SetError. */
json_t *jmap_new_email_read(struct jmap_account *a, json_t *obj, struct jmap_new_email *ne);
/* File text as ne says; its Email/set "created" object (id, blobId,
   threadId, size) into *created.  NULL, or the SetError. */
json_t *jmap_new_email_file(struct jmap_account *a, const struct jmap_new_email *ne,
			    const char *text, size_t len, json_t **created);
void jmap_email_id(uint32_t uidvalidity, uint32_t uid, char out[20]);
/* "m"/"b"/"t" + 16 hex -> uidvalidity, uid.  1 or -1. */
int jmap_email_id_parse(const char *id, char prefix, uint32_t *uv_r, uint32_t *uid_r);
/* One located message. */
struct jmap_email_ref {
	struct jmap_folder *f;
	struct store_msg m;
};
/* The largest message read whole (Email/get, text filters). */
#define JMAP_MAX_MESSAGE (64u * 1024 * 1024)
/* 1 with *r, 0 no such email (id malformed, folder or UID gone). */
int jmap_email_find(struct jmap_account *a, const char *id, struct jmap_email_ref *r);
/* The open folder of UIDVALIDITY uv, or NULL. */
struct jmap_folder *jmap_folder_by_uv(struct jmap_account *a, uint32_t uv);
/* The store flag of a system keyword ("$seen" ...), 0 for others. */
uint8_t jmap_keyword_flag(const char *keyword);
/* The message text of an email (LF line ends) into out: 1, 0 no such, -1. */
int jmap_email_read(struct jmap_account *a, uint32_t uv, uint32_t uid, struct buf *out);

/* The method table (jmap_session.c). */
extern const struct jmap_method jmap_methods[];

/* jmap_blob.c: uploads under <data_dir>/jmap/<account id>/ */
struct evhttp_request;
void jmap_blob_upload(struct jmap_account *a, struct evhttp_request *req, const char *acct);
void jmap_blob_download(struct jmap_account *a, struct evhttp_request *req,
			const char *path);
/* The bytes of blob id into out: 1, 0 unknown, -1 error. */
int jmap_blob_read(struct jmap_account *a, const char *id, struct buf *out);

/* jmap_push.c: GET /jmap/eventsource.  Starts the stream on req and puts
   it in *owner (the connection's slot), or returns NULL (bad query or no
   store: the caller answers).  jmap_push_free: the connection is going;
   detached: evhttp let go of the request, which is freed here. */
struct jmap_push;
struct jmap_push *jmap_push_start(struct jmap *j, struct services *srv, const char *user,
				  struct evhttp_request *req, struct jmap_push **owner);
void jmap_push_free(struct jmap_push **p, bool detached);

/* jmap_files.c: JMAP's own per-account files under <data_dir>/jmap/<account
   id>/; nothing else in jmap/ opens, writes or removes them */
struct buf;
/* The path of file name (the directories made as needed): 1 or -1. */
int jmap_file_path(const char *data_dir, const char *account_id, const char *name,
		   char *out, size_t size);
/* The whole file appended to out: 1, 0 absent, -1 error (or over max
   bytes; jmap_file_read: over 16 MiB). */
int jmap_file_read_max(const char *path, size_t max, struct buf *out);
int jmap_file_read(const char *path, struct buf *out);
/* Open the file for reading from byte from on: 1 with *fd_r (the caller
   closes it), 0 absent, -1 error. */
int jmap_file_open(const char *path, uint64_t from, int *fd_r);
/* Append n bytes (creating the file), fsynced if sync: 1 or -1. */
int jmap_file_append(const char *path, const void *p, size_t n, bool sync);
/* fsync what was appended without it: 1 or -1. */
int jmap_file_sync(const char *path);
/* Append v as one line, fsynced: 1 or -1. */
int jmap_file_append_line(const char *path, json_t *v);
/* Replace (or create) the file by n bytes, atomically (temporary file,
   fsync, rename): 1 or -1.  jmap_file_replace: by v's JSON text. */
int jmap_file_put(const char *path, const void *p, size_t n);
int jmap_file_replace(const char *path, json_t *v);
/* Remove the account's uploads ("u..." files) and leftover temporary
   files last changed before the time before. */
void jmap_file_expire_uploads(const char *data_dir, const char *account_id, time_t before);

/* jmap_identity.c */
int jmap_identity_get(struct jmap_call *call);
int jmap_identity_set(struct jmap_call *call);
int jmap_identity_changes(struct jmap_call *call);
/* The identity of id for a: 1 with its address in email (320 bytes), 0. */
int jmap_identity_find(struct jmap_account *a, const char *id, char *email);

/* jmap_vacation.c */
int jmap_vacation_get(struct jmap_call *call);
int jmap_vacation_set(struct jmap_call *call);

/* jmap_submission.c */
int jmap_submission_get(struct jmap_call *call);
int jmap_submission_set(struct jmap_call *call);
int jmap_submission_query(struct jmap_call *call);
int jmap_submission_changes(struct jmap_call *call);

/* jmap_http.c */
void jmap_send_json(struct evhttp_request *req, int status, json_t *v,
		    const char *type);

/* jmap_web.c: the webmail's side of the listener */
/* The security headers every response carries (CSP, nosniff, ...). */
void jmap_web_headers(struct evhttp_request *req);
/* The directory of the webmail's files for [jmap] web_root = configured. */
void jmap_web_root_resolve(const char *configured, char *out, size_t size);
/* Did req come from a page of this server (Origin, Sec-Fetch-Site)? */
bool jmap_web_same_origin(struct evhttp_request *req, bool tls);
/* Is path one of the webmail's files ("/", "/app.js")? */
bool jmap_web_is_static(const char *path);
/* Answer GET or HEAD of path from root. */
void jmap_web_static(const char *root, struct evhttp_request *req, const char *path);

#endif
