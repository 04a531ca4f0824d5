#ifndef CORREIO_IMAPD_PRIVATE_H
#define CORREIO_IMAPD_PRIVATE_H
/*
 * The IMAP session, shared by imapd_session.c (connection, reader, output,
 * untagged updates), imapd_cmd.c (dispatch and the small commands) and one
 * cmd_<name>.c per larger command.  Not for use outside src/imapd/.
 *
 * A command handler gets the session and the parsed command; it replies
 * with imapd_untagged()/imapd_tagged() (or writes into imapd_out()), and
 * finishes with imapd_done() — at once, or later for asynchronous work
 * (a password check) or a long output (FETCH of many messages: set
 * s->resume, return, and the session calls it again each time the output
 * has drained below IMAPD_OUTPUT_LOW; or a long computation (SEARCH of
 * message texts: imapd_resume_soon() lets the other sessions run, then
 * calls it again); the handler calls imapd_done() when finished).  No
 * other command is read while one is in progress.
 *
 * Sequence numbers are the session's own: s->uids[i] is the UID of
 * message i + 1.  Changes made by other sessions or deliveries arrive
 * through the store's listener and are queued; imapd_flush_updates()
 * turns them into untagged EXPUNGE / EXISTS / FETCH FLAGS at the moments
 * the RFC allows (before a tagged reply, during IDLE), never in the middle
 * of a FETCH, STORE or SEARCH by sequence number.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib-imap/imap_parser.h"
#include "lib-imap/imap_seqset.h"
#include "lib/buf.h"
#include "conn/conn.h"
#include "store/store.h"

#define IMAPD_OUTPUT_LOW (256 * 1024)
/* The store's per-message cache fields: FETCH uses 0 to 4 (cmd_fetch.c),
   SORT and THREAD this one for a message's sort keys (cmd_sort.c). */
#define IMAPD_CACHE_SORT 8
#define IMAPD_AUTH_LINE_MAX 16384

struct evbuffer;
struct event;
struct auth_request;

enum imapd_state {
	IMAPD_STATE_NOT_AUTH,
	IMAPD_STATE_AUTH,
	IMAPD_STATE_SELECTED,
	IMAPD_STATE_LOGOUT,
};

/* A command as the handlers see it. */
struct imapd_command {
	const char *tag;
	const char *name;		/* upper case, "UID " stripped */
	bool uid;			/* UID FETCH, UID STORE, ... */
	const struct imap_arg *args;	/* EOL-terminated */
	size_t arg_count;
};

struct imapd_session;
typedef void imapd_resume_fn(struct imapd_session *s);

/* One message of an APPEND command (cmd_append.c). */
struct mime_binenc;
struct imapd_append_msg {
	struct store_append *ap;	/* NULL once it failed */
	struct mime_binenc *enc;	/* binary parts into base64 on the way */
	uint8_t flags;
	time_t date;
	struct buf keywords;		/* names, NUL-separated */
};

/*
 * Work of the command in progress on a store worker (store_offload:
 * FETCH rendering message files, SEARCH reading them).  The session
 * waits for it (busy, no resume); should the session end first,
 * session_free hands the work the parser (the command's arguments point
 * into it) and the command's resume state and sets orphaned: the work's
 * done step then calls imapd_work_orphan_free() and touches nothing else.
 */
struct imapd_work {
	bool orphaned;
	struct imap_parser *parser;
	void *state;
	void (*state_free)(void *state);	/* NULL: free() */
};

struct imapd_session {
	struct conn conn;		/* first: the connection layer's view */
	struct imap_parser *parser;
	enum imapd_state state;
	bool rev2;			/* ENABLE IMAP4rev2 */
	bool utf8;			/* ENABLE UTF8=ACCEPT (implied by rev2) */
	bool condstore;			/* a CONDSTORE enabling command was seen */
	bool qresync;			/* ENABLE QRESYNC: VANISHED, not EXPUNGE */
	bool compressed;		/* COMPRESS DEFLATE is active */
	char user[320];
	struct store_account *account;

	/* the selected mailbox */
	struct store_mailbox *box;
	bool readonly;			/* EXAMINE */
	uint32_t *uids;			/* sequence number - 1 -> UID */
	unsigned n_uids, cap_uids;
	uint32_t *saved;		/* SEARCHRES "$": UIDs, ascending */
	unsigned n_saved;
	uint32_t *recent;		/* UIDs \Recent in this session only (rev1),
					   ascending: the ones it claimed */
	unsigned n_recent, cap_recent;
	unsigned known_keywords;	/* keywords named by our last FLAGS */
	/* queued news from the store listener */
	bool news_exists;
	bool news_keywords;		/* the folder's keyword list grew */
	uint32_t *news_expunged;
	unsigned n_news_expunged, cap_news_expunged;
	uint32_t *news_flags;
	unsigned n_news_flags, cap_news_flags;

	/* the command in progress */
	struct imapd_command cmd;
	bool busy;			/* a command has not finished */
	imapd_resume_fn *resume;	/* long output: called when it drains */
	void *resume_state;		/* the handler's, freed by the handler */
	void (*resume_free)(void *state);	/* if the session ends first;
						   NULL: free() */
	struct event *resume_timer;	/* imapd_resume_soon; made on first use */
	struct auth_request *auth_req;
	/* APPEND, COPY, MOVE waiting on the store's disk flush (the other
	   sessions run meanwhile); wait_state is the command's, freed with
	   the session if it ends first */
	struct store_wait *store_wait;
	void *wait_state;
	struct imapd_work *work;	/* on a store worker, or NULL */
	bool idling;
	bool auth_continue;		/* AUTHENTICATE waits for a response line */
	/* APPEND (MULTIAPPEND: several messages), the last one streaming */
	struct imapd_append_msg *append_msgs;
	unsigned n_append_msgs, cap_append_msgs;
	uint64_t append_total;		/* their octets, for the quota */
	size_t append_next_arg;		/* the first argument not yet made a
					   message of (CATENATE) */
	struct buf tag;			/* the command's tag, kept past the reader's
					   memory (IDLE, AUTHENTICATE) */

	unsigned errors;
	bool quitting;
};

/* ---- imapd_session.c ---- */
struct evbuffer *imapd_out(struct imapd_session *s);
void imapd_untagged(struct imapd_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "tag OK|NO|BAD text" for the current command, and the command ends
   (imapd_done).  status: "OK", "NO", "BAD". */
void imapd_tagged(struct imapd_session *s, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* End the current command without a reply (the handler replied). */
void imapd_done(struct imapd_session *s);
/* Count a client error; false if the session goes on. */
bool imapd_error(struct imapd_session *s);
void imapd_close_after_output(struct imapd_session *s);
/* Compress the rest of the session (after COMPRESS's OK).  1 or -1. */
int imapd_start_compress(struct imapd_session *s);
/* Read and run the commands waiting in the input (after async work). */
void imapd_resume_input(struct imapd_session *s);
/* The store's flush of the command in progress ended (the reply is
   sent): go on with the input, unless this runs inside the reader. */
void imapd_store_waited(struct imapd_session *s);
/* Call fn (as s->resume) again once the loop has served the others. */
void imapd_resume_soon(struct imapd_session *s, imapd_resume_fn *fn);
/* The command hands w to a store worker (store_offload) and waits. */
void imapd_work_begin(struct imapd_session *s, struct imapd_work *w);
/* In the work's done step: false when the session ended meanwhile (the
   parser and state it left are freed here; the caller frees only its own
   work and returns), true to go on, with imapd_work_resume. */
bool imapd_work_alive(struct imapd_work *w);
/* The work ended: call fn (as s->resume) at the loop's next turn, then
   go on with the input if the command ended. */
void imapd_work_resume(struct imapd_session *s, imapd_resume_fn *fn);
/* The store the session's mail is in (for store_offload). */
struct store *imapd_store(struct imapd_session *s);
/* Send queued untagged updates; expunges only when allowed is true. */
void imapd_flush_updates(struct imapd_session *s, bool expunges_allowed);

/* ---- imapd_mailbox.c: the selected mailbox and the session's view ---- */
/* A CONDSTORE enabling command (RFC 7162 §3.1): from now on every FETCH
   response with FLAGS carries MODSEQ; with a folder selected, the client
   is told its HIGHESTMODSEQ. */
void imapd_condstore_enable(struct imapd_session *s);
/* " MODSEQ (n)" after the FLAGS of a FETCH response, when enabled. */
void imapd_write_modseq(struct imapd_session *s, struct buf *out, uint64_t modseq);
int imapd_select(struct imapd_session *s, const char *name, bool readonly,
		 struct store_error *error_r);
void imapd_unselect(struct imapd_session *s);
/* Resolve a sequence set (uid: UIDs; "$": the saved search result, RFC
   5182) to UIDs of the view, ascending, into *uids_r (malloc'd, caller
   frees).  Returns the count, or -1 for a bad set (BAD already sent). */
int imapd_resolve_set(struct imapd_session *s, const char *set, bool uid,
		      uint32_t **uids_r);
/* Whether uid is \Recent in this session: it claimed it (RFC 3501
   §2.3.2: one session only), and the session is IMAP4rev1. */
bool imapd_is_recent(const struct imapd_session *s, uint32_t uid);
/* How many messages of the view are \Recent in this session. */
unsigned imapd_recent_count(const struct imapd_session *s);
/* Before a FETCH response shows keywords: an untagged FLAGS first if one
   of them is newer than the last FLAGS the client was sent. */
void imapd_announce_keywords(struct imapd_session *s, uint32_t keywords);
/* Sequence number of uid in the view, 0 if absent. */
unsigned imapd_seq_of(const struct imapd_session *s, uint32_t uid);
/* Take an expunged uid out of the view and, if report, tell the client:
   "* n EXPUNGE", or "* VANISHED uid" once QRESYNC is on. */
void imapd_view_expunge(struct imapd_session *s, uint32_t uid, bool report);
/* QRESYNC: "* VANISHED (EARLIER) set" of the UIDs of known (a UID set;
   NULL: every UID below UIDNEXT) that are not in the folder, if any.
   1, or -1 for a bad set (nothing sent). */
int imapd_send_vanished_earlier(struct imapd_session *s, const char *known);
/* Write "(\Seen \Flagged $Label)" for flags/keywords (and \Recent). */
/* "* seq FETCH ([UID u ]FLAGS (...)[ MODSEQ (n)])" for message m. */
void imapd_send_fetch_flags(struct imapd_session *s, unsigned seq, const struct store_msg *m,
			    bool uid);
/* FLAGS and PERMANENTFLAGS of the selected folder, its keywords included. */
void imapd_send_flags(struct imapd_session *s);
void imapd_write_flags(struct imapd_session *s, struct buf *out, uint8_t flags,
		       uint32_t keywords, bool recent);
/* Parse a flag list argument (list, single atom, or NIL: none) into system flags and
   keyword indexes (created in the mailbox when create).  Returns 1, or -1
   with a reason for BAD/NO in *error_r. */
int imapd_parse_flags(struct imapd_session *s, const struct imap_arg *arg, bool create,
		      uint8_t *flags_r, uint32_t *keywords_r, const char **error_r);

/* ---- cmd_folder.c: mailbox names on the wire ---- */
/* The mailbox name argument arg, as UTF-8, into out (appended).  1, 0 if
   it is not valid modified UTF-7 (a rev1 session: "a&b"; NO, not BAD, as
   Dovecot answers), -1 if it is no astring. */
int imapd_name_in(struct imapd_session *s, const struct imap_arg *arg, struct buf *out);
/* A name for the client, quoted: mUTF-7 for rev1, UTF-8 for rev2. */
void imapd_name_out(struct imapd_session *s, const char *name, struct buf *out);
/* "* STATUS name (items)" for folder name, items the list[0..count) of
   STATUS item names.  1, 0 no such folder, -1 an unknown item. */
int imapd_status_line(struct imapd_session *s, const char *name,
		      const struct imap_arg *list, size_t count);

/* ---- one file per larger command ---- */
void imapd_cmd_folder(struct imapd_session *s);		/* cmd_folder.c: CREATE, DELETE,
							   RENAME, (UN)SUBSCRIBE */
void imapd_cmd_select(struct imapd_session *s);		/* and EXAMINE */
void imapd_cmd_status(struct imapd_session *s);
void imapd_cmd_list(struct imapd_session *s);		/* cmd_list.c: and LSUB */
void imapd_cmd_quota(struct imapd_session *s);		/* GETQUOTA(ROOT), SETQUOTA */
void imapd_cmd_append(struct imapd_session *s);		/* cmd_append.c */
/* Forget the messages of an APPEND in progress (BAD, disconnect). */
void imapd_append_abort(struct imapd_session *s);
/* Message bytes of m, through its binary part filter, into its file.
   1, or -1 (m->ap is then dropped). */
int imapd_append_put(struct imapd_append_msg *m, const void *data, size_t len,
		     struct store_error *error_r);
/* cmd_catenate.c: write the CATENATE parts[0..count) (TEXT literal / URL
   url pairs, RFC 4469) into m.  1, 0 NO, -1 BAD, with the reply text
   ("[BADURL ...] ...") in text. */
int imapd_catenate(struct imapd_session *s, struct imapd_append_msg *m,
		   const struct imap_arg *parts, size_t count, char *text, size_t size);
void imapd_cmd_fetch(struct imapd_session *s);		/* cmd_fetch.c */
void imapd_cmd_search(struct imapd_session *s);		/* cmd_search.c */
/* SORT and THREAD: search the view with args (search keys, as SEARCH
   takes them but without RETURN), then call done with the UIDs that
   match, ascending (uids: malloc'd, done frees them; done owns ctx and
   ends the command), and with a MODSEQ key the highest mod-sequence of
   them (else 0).  A bad program is answered here (NO/BAD) and ctx freed
   with ctx_free, as it is if the session ends meanwhile. */
typedef void imapd_search_done_fn(struct imapd_session *s, uint32_t *uids, unsigned n,
				  uint64_t modseq, void *ctx);
void imapd_search_then(struct imapd_session *s, const struct imap_arg *args,
		       imapd_search_done_fn *done, void *ctx, void (*ctx_free)(void *ctx));
void imapd_cmd_sort(struct imapd_session *s);		/* cmd_sort.c: SORT, UID SORT */
void imapd_cmd_thread(struct imapd_session *s);		/* and THREAD, UID THREAD */
void imapd_cmd_store(struct imapd_session *s);		/* cmd_store.c */
void imapd_cmd_copy(struct imapd_session *s);		/* cmd_copy.c: COPY and MOVE */

#endif
