#ifndef CORREIO_CLIENT_PRIVATE_H
#define CORREIO_CLIENT_PRIVATE_H
/*
 * client_private.h - what the files of src/client share.  Nothing outside
 * src/client includes it (client.h is the public face).
 *
 * Errors: the client is one sequential process, so the text of the last
 * failure is kept in one place (client_fail() sets it, client_error()
 * reads it) with a class that decides what the command does next (an
 * unreachable server sends list/read/save/search to the offline cache).
 * Functions return 1 done, 0 not found / refused, -1 failure.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "lib-imap/imap_parser.h"
#include "lib/buf.h"

/* ---- errors (client_util.c) ------------------------------------------ */

enum client_err {
	CLIENT_ERR_OTHER,
	CLIENT_ERR_NET,		/* cannot reach the server: go offline */
	CLIENT_ERR_AUTH,	/* wrong user name or password */
	CLIENT_ERR_TLS		/* certificate not trusted */
};

int client_fail(enum client_err kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *client_error(void);
enum client_err client_error_kind(void);

/* Append s as a JSON string (quotes included; invalid UTF-8 as U+FFFD). */
void client_json_str(struct buf *out, const char *s);
/* Write the file atomically-ish: tmp + rename.  1 or -1 (client_fail). */
int client_write_file(const char *path, const void *p, size_t n);
/* Read a whole file (at most max bytes).  1, 0 absent, -1. */
int client_read_file(const char *path, size_t max, struct buf *out);
/* Convert UTF-8 text to the terminal's charset (nl_langinfo(CODESET)),
   transliterating what it lacks. */
void client_to_terminal(const char *utf8, size_t n, struct buf *out);
/* A random hex string of 2*bytes characters (Message-IDs, boundaries). */
void client_random_hex(char *out, size_t bytes);

/* ---- the accounts file (client_config.c) ----------------------------- */

enum client_proto { CLIENT_PROTO_IMAP, CLIENT_PROTO_POP3 };
enum client_tls { CLIENT_TLS_IMPLICIT, CLIENT_TLS_STARTTLS, CLIENT_TLS_NONE };

struct client_server {
	char host[256];
	unsigned port;
	enum client_tls tls;
};

struct client_account {
	char name[64];
	enum client_proto proto;
	struct client_server in;	/* IMAP or POP3 */
	struct client_server smtp;	/* submission */
	char user[320];
	char from[512];			/* From: of composed mail */
	char ca_file[1024];		/* trust these CAs instead of the system's */
	char tls_pin[1024];		/* accept exactly this certificate */
	char password_command[1024];
	char password_env[128];
	char cache_dir[1024];
	char sent_folder[256];		/* "" = the \Sent folder, else "Sent" */
	unsigned timeout;		/* seconds per network read */
	char *password;			/* filled by client_password(); wiped */
};

/*
 * Read the accounts file (path NULL: ~/.config/correio/mail.conf) and the
 * section called name (NULL: the first).  Returns 1, or -1 (client_fail).
 */
int client_config_load(const char *path, const char *name,
		       struct client_account *r);
/* Get the password: environment, password_command, else a prompt on the
   terminal without echo.  1 or -1. */
int client_password(struct client_account *a);
void client_account_wipe(struct client_account *a);

/* ---- a connection (client_conn.c) ------------------------------------ */

struct client_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	const struct client_account *acct;
	const struct client_server *srv;
	char in[16384];
	size_t in_pos, in_len;
};

/* Connect (and for implicit TLS, handshake).  1 or -1. */
int client_conn_open(struct client_conn *c, const struct client_account *a,
		     const struct client_server *srv);
/* Start TLS on an open plain connection (after STARTTLS/STLS).  1 or -1. */
int client_conn_starttls(struct client_conn *c);
int client_conn_write(struct client_conn *c, const void *p, size_t n);
/* Up to n bytes: > 0 read, -1 error or end (client_fail). */
long client_conn_read(struct client_conn *c, void *p, size_t n);
/* One line (LF-ended, CR and LF removed) of at most max bytes.  1 or -1. */
int client_conn_line(struct client_conn *c, struct buf *line, size_t max);
void client_conn_close(struct client_conn *c);

/* ---- IMAP responses (client_imap_resp.c, pure) ------------------------ */

struct imap_resp_limits {
	size_t max_line;	/* one line between literals */
	uint64_t max_literal;
	size_t max_total;	/* a whole response */
};

enum imap_resp_state { IMAP_RESP_LINE, IMAP_RESP_LITERAL, IMAP_RESP_SKIP };

struct imap_resp_reader {
	struct imap_resp_limits limits;
	enum imap_resp_state state;
	struct buf text;	/* the response so far, literals inline */
	size_t line_start;	/* offset of the current line in text */
	uint64_t literal_left;
	bool failed;		/* the response being skipped was bad */
};

void imap_resp_reader_init(struct imap_resp_reader *r,
			   const struct imap_resp_limits *limits);
void imap_resp_reader_deinit(struct imap_resp_reader *r);
/*
 * Feed bytes; *consumed_r tells how many were used.  Returns 1 when a whole
 * response is in r->text (CRLF-ended lines with literal data inline; the
 * next feed starts a new one), 0 when more is needed, -1 when the response
 * broke a limit (it is then skipped up to its end; *reason_r says why).
 */
int imap_resp_feed(struct imap_resp_reader *r, const char *in, size_t n,
		   size_t *consumed_r, const char **reason_r);

enum imap_resp_kind { IMAP_RESP_TAGGED, IMAP_RESP_UNTAGGED, IMAP_RESP_CONT };

struct imap_resp {
	enum imap_resp_kind kind;
	char tag[32];
	const char *status;	/* "OK" "NO" "BAD" "BYE" "PREAUTH" or NULL */
	const char *code;	/* inside the brackets, "" when none */
	const char *text;	/* human text after the code */
	/* data responses ("* 3 FETCH (...)", "* LIST ..."): */
	bool has_number;
	uint32_t number;
	const char *name;	/* upper-case: FETCH, EXISTS, LIST, SEARCH... */
	const char *rest;	/* raw text after name (for SEARCH) */
	const struct imap_arg *args;	/* parsed after name, EOL-ended */
	size_t arg_count;
};

/*
 * Split a complete response text[0..len) (modified in place, copied into
 * scratch) into r.  Data responses are parsed with the lib-imap reader
 * (p, limits generous enough for messages), their tree valid until the next
 * call.  Returns 1, or -1 when the response makes no sense.
 */
int imap_resp_parse(struct imap_parser *p, struct buf *scratch,
		    const char *text, size_t len, struct imap_resp *r);

/* The next number (1..2^32-1) of a SEARCH response's rest at *p, skipping
   zero and numbers too large; *p moves past it.  1, or 0 at the end. */
int imap_resp_search_next(const char **p, uint32_t *v_r);

/* The value after item name in a FETCH list ("UID", "FLAGS", "BODY[]",
   "BODY[HEADER" as a prefix when prefix is true), or NULL. */
const struct imap_arg *imap_resp_fetch_item(const struct imap_arg *list,
					    size_t count, const char *name,
					    bool prefix);

/* ---- IMAP session (client_imap.c) ------------------------------------ */

#define CLIENT_F_SEEN 0x01
#define CLIENT_F_ANSWERED 0x02
#define CLIENT_F_FLAGGED 0x04
#define CLIENT_F_DELETED 0x08
#define CLIENT_F_DRAFT 0x10

struct client_imap;
typedef int client_imap_fn(void *ctx, const struct imap_resp *r);

/* Connect, STARTTLS if asked, log in.  1 or -1 (client_fail). */
int client_imap_open(struct client_account *a, struct client_imap **r);
void client_imap_close(struct client_imap **s);
bool client_imap_has_cap(struct client_imap *s, const char *cap);
/*
 * Send a command (fmt is the text after the tag) and read responses up to
 * its tagged one; every untagged data response goes to fn (may be NULL).
 * Returns 1 OK, 0 NO (client_fail set), -1 BAD or connection lost.
 */
int client_imap_cmd(struct client_imap *s, client_imap_fn *fn, void *ctx,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Append an astring for folder (UTF-8 name, sent as modified UTF-7
   unless the server speaks UTF-8) to cmd. */
void client_imap_folder_arg(struct client_imap *s, struct buf *cmd,
			    const char *folder);
/* SELECT (or EXAMINE when readonly) folder; fills the numbers below. */
int client_imap_select(struct client_imap *s, const char *folder,
		       bool readonly);
/* The same with select parameters ("QRESYNC (...)"; NULL: CONDSTORE when
   offered) and fn for the untagged data it brings (VANISHED, FETCH). */
int client_imap_select_with(struct client_imap *s, const char *folder,
			    bool readonly, const char *params, client_imap_fn *fn,
			    void *ctx);
uint32_t client_imap_exists(struct client_imap *s);
uint32_t client_imap_uidvalidity(struct client_imap *s);
uint64_t client_imap_highestmodseq(struct client_imap *s);
/* APPEND data to folder with the given CLIENT_F_* flags.  1, 0 NO, -1. */
int client_imap_append(struct client_imap *s, const char *folder,
		       unsigned flags, const char *data, size_t len);
/* Parse a FLAGS list into CLIENT_F_* bits. */
unsigned client_imap_flags(const struct imap_arg *list);
/* "\\Seen \\Flagged" for bits. */
void client_imap_flags_str(unsigned flags, struct buf *out);

struct client_folder {
	char name[512];		/* UTF-8 */
	bool noselect;
	bool sent;		/* \Sent special use */
};
/* LIST "" "*": *r (malloc'd array, caller frees), *n_r entries. */
int client_imap_folders(struct client_imap *s, struct client_folder **r,
			size_t *n_r);
/* The folder for sent mail: the account's sent_folder, the \Sent one,
   else "Sent" (created when missing). */
int client_imap_sent_folder(struct client_imap *s, struct client_account *a,
			    char *out, size_t size);

/* ---- message summaries and rendering (client_read.c) ----------------- */

struct client_summary {
	uint32_t n;		/* number shown: the position in the folder */
	uint32_t uid;
	unsigned flags;
	uint64_t size;
	time_t date;
	char from[256];
	char subject[512];
};

/* Fill from/subject/date of s from a header block. */
void client_summary_header(struct client_summary *s, const char *hdr,
			   size_t len);
/* The list line ("  12 N  2024-01-02 10:00  Alice  Subject (3K)"). */
void client_summary_line(const struct client_summary *s, struct buf *out,
			 int width);
void client_summary_json(const struct client_summary *s, struct buf *out);

struct client_attachment {
	char name[256];		/* decoded UTF-8 file name, "" if none */
	char type[128];		/* lower-case type/subtype */
	const struct mime_part *part;	/* NULL for a uuencoded block */
	size_t uu_start, uu_end;	/* the block, in decoded text */
	const struct mime_part *uu_part;	/* text part holding it */
	uint64_t size;		/* decoded bytes */
};

struct client_view {
	struct mime_message *msg;
	const struct mime_part *body;	/* the part shown as text, or NULL */
	bool body_html;
	struct buf text;		/* body as UTF-8 text */
	struct client_attachment *att;
	size_t natt;
};

/* Analyse a whole message (data must outlive the view). */
void client_view_init(struct client_view *v, const char *data, size_t len);
void client_view_deinit(struct client_view *v);
/* Headers, text and attachment list, for a person (UTF-8). */
void client_view_render(const struct client_view *v, struct buf *out);
void client_view_json(const struct client_view *v, uint32_t n,
		      unsigned flags, struct buf *out);
/* Decoded bytes of attachment i.  1 or -1. */
int client_view_attachment(const struct client_view *v, size_t i,
			   struct buf *out);
/* A decoded header value (UTF-8) of the message. */
int client_view_header(const struct client_view *v, const char *name,
		       struct buf *out);
/* Save every attachment into dir (hostile names made safe).  Prints one
   line per file on stdout.  1, or -1 after the first failure. */
int client_view_save(const struct client_view *v, const char *dir,
		     bool force, struct buf *report);
/* A file name that cannot leave its directory ("" -> fallback). */
void client_safe_filename(const char *name, const char *fallback,
			  char *out, size_t size);
/* Turn HTML into plain text (tags dropped, entities and blocks done). */
void client_html_to_text(const char *html, size_t n, struct buf *out);

/* ---- uuencode (client_uu.c, pure) ------------------------------------ */

struct client_uu_block {
	size_t start, end;	/* "begin" line to past the "end" line */
	size_t data_start;	/* first encoded line */
	unsigned mode;
	char name[256];
};

/* Find the next "begin MODE NAME" ... "end" block in text[*pos..len).
   1 with *r set and *pos past it, 0 when there is none. */
int client_uu_find(const char *text, size_t len, size_t *pos,
		   struct client_uu_block *r);
/* Decode the block's lines.  1, or -1 (out full). */
int client_uu_decode(const char *text, const struct client_uu_block *b,
		     struct buf *out);

/* ---- composing (client_compose.c) ------------------------------------ */

struct client_file {
	char name[256];		/* file name to announce */
	char type[128];
	struct buf data;
};

struct client_draft {
	char from[512];
	struct buf to, cc, bcc;		/* comma-separated address lists */
	char subject[1024];
	char in_reply_to[1024];
	struct buf references;
	struct buf body;		/* UTF-8 text */
	struct client_file *files;
	size_t nfiles;
};

void client_draft_init(struct client_draft *d);
void client_draft_deinit(struct client_draft *d);
/* Read a file to attach (type from libmagic).  1 or -1. */
int client_draft_attach_file(struct client_draft *d, const char *path);
/* Attach bytes already in memory (forward). */
void client_draft_attach(struct client_draft *d, const char *name,
			 const char *type, const char *data, size_t len);
/* The whole message (LF line ends), Bcc: written only if with_bcc. */
int client_draft_build(const struct client_draft *d, bool with_bcc,
		       struct buf *out);
/* The envelope recipients (To, Cc, Bcc), bare addresses. */
int client_draft_recipients(const struct client_draft *d, char ***r,
			    size_t *n_r);
/* Let the user write the body in $EDITOR (start holds a template).
   1, 0 when the result is empty, -1. */
int client_edit(const char *start, size_t len, struct buf *out);
/* Pull bare addresses out of an address list header value. */
void client_addresses(const char *list, char ***r, size_t *n_r);

/* ---- sending (client_smtp.c) ----------------------------------------- */

/* Submit msg to rcpts over the account's submission server.  1 or -1. */
int client_smtp_send(struct client_account *a, const char *from,
		     char *const *rcpts, size_t nrcpt, const char *msg,
		     size_t len);

/* ---- the offline cache (client_cache.c) ------------------------------ */

struct client_cache;

struct client_cache_msg {
	uint32_t uid;
	unsigned flags;
	time_t arrived;
	char file[512];		/* path */
};

/* Open (create) the cache of an account. */
int client_cache_open(const struct client_account *a,
		      struct client_cache **r);
void client_cache_close(struct client_cache **c);
bool client_cache_exists(const struct client_account *a);
/* Folders in the cache (UTF-8 names), sorted. */
int client_cache_folders(struct client_cache *c, char ***r, size_t *n_r);
/* Messages of a folder sorted by UID. */
int client_cache_list(struct client_cache *c, const char *folder,
		      struct client_cache_msg **r, size_t *n_r);
/* The folder's state: uidvalidity, highest modseq.  1, 0 none. */
int client_cache_state(struct client_cache *c, const char *folder,
		       uint32_t *uidvalidity_r, uint64_t *modseq_r);
int client_cache_set_state(struct client_cache *c, const char *folder,
			   uint32_t uidvalidity, uint64_t modseq);
/* Forget every message of a folder (UIDVALIDITY changed). */
int client_cache_clear(struct client_cache *c, const char *folder);
/* Remove a folder from the cache (it is gone on the server). */
int client_cache_drop_folder(struct client_cache *c, const char *folder);
/* Store a message; arrived (INTERNALDATE, 0: now) becomes its file time. */
int client_cache_store(struct client_cache *c, const char *folder,
		       uint32_t uid, unsigned flags, time_t arrived,
		       const char *data, size_t len);
int client_cache_set_flags(struct client_cache *c, const char *folder,
			   const struct client_cache_msg *m, unsigned flags);
int client_cache_remove(struct client_cache *c,
			const struct client_cache_msg *m);
/* The next free local UID of a folder (POP3 downloads). */
uint32_t client_cache_next_uid(struct client_cache *c, const char *folder);

/* The journal of offline changes, replayed by sync. */
enum client_op { CLIENT_OP_FLAGS, CLIENT_OP_DELETE, CLIENT_OP_MOVE };
struct client_pending {
	enum client_op op;
	char folder[512];
	uint32_t uidvalidity, uid;
	unsigned add, del;	/* FLAGS */
	char dest[512];		/* MOVE */
};
int client_cache_journal_add(struct client_cache *c,
			     const struct client_pending *p);
int client_cache_journal(struct client_cache *c, struct client_pending **r,
			 size_t *n_r);
int client_cache_journal_clear(struct client_cache *c);

/* The outbox: messages composed offline. */
int client_cache_outbox_add(struct client_cache *c, const char *from,
			    char *const *rcpts, size_t n, const char *msg,
			    size_t len);
/* Paths of the waiting messages. */
int client_cache_outbox(struct client_cache *c, char ***r, size_t *n_r);
/* Read one: envelope and message. */
int client_cache_outbox_read(const char *path, struct buf *from,
			     char ***rcpts, size_t *n_r, struct buf *msg);
int client_cache_outbox_done(const char *path);

/* POP3 UIDLs already downloaded. */
bool client_cache_pop3_seen(struct client_cache *c, const char *uidl);
int client_cache_pop3_mark(struct client_cache *c, const char *uidl);

/* ---- sync (client_sync.c) and POP3 (client_pop3.c) ------------------- */

/* Send the outbox, replay the journal, mirror every folder.  1 or -1. */
int client_sync(struct client_account *a, bool progress);
/* Download new POP3 messages into the cache INBOX (delete on the server
   unless keep).  1 or -1. */
int client_pop3_fetch(struct client_account *a, bool keep, bool progress);

/* ---- a mailbox online or offline (client_mailbox.c) ------------------ */

struct client_session {
	struct client_account *acct;
	struct client_imap *imap;	/* NULL when offline */
	struct client_cache *cache;	/* opened when first needed */
	bool offline;
	char selected[512];		/* folder selected on the server */
	bool selected_rw;
};

struct client_query {
	const char *from, *to, *subject, *body;
	bool unseen, flagged;
	const char *text[32];		/* words anywhere in the message */
	size_t ntext;
};

/* Connect (unless offline); when the server cannot be reached and there
   is a cache, say so on stderr and work offline.  1 or -1. */
int client_session_open(struct client_session *s, struct client_account *a,
			bool offline);
void client_session_close(struct client_session *s);
int client_session_cache(struct client_session *s);

int client_mb_folders(struct client_session *s, char ***r, size_t *n_r);
/* Summaries of the folder (unseen only; the last limit ones if > 0). */
int client_mb_list(struct client_session *s, const char *folder, bool unseen,
		   size_t limit, struct client_summary **r, size_t *n_r);
int client_mb_search(struct client_session *s, const char *folder,
		     const struct client_query *q, struct client_summary **r,
		     size_t *n_r);
/* Message n of the folder: its text, UID and flags (before marking).
   0 when there is no such message. */
int client_mb_fetch(struct client_session *s, const char *folder, uint32_t n,
		    bool mark_seen, struct buf *data, uint32_t *uid_r,
		    unsigned *flags_r);
/* client_mb_fetch() of message n into data (initialised here), then a view
   on it: what reading, saving, replying and forwarding start from.  The
   fetch's result; unless -1 (nothing held), release both with
   client_mb_view_close(). */
int client_mb_view(struct client_session *s, const char *folder, uint32_t n,
		   bool mark_seen, struct buf *data, struct client_view *v,
		   unsigned *flags_r);
void client_mb_view_close(struct client_view *v, struct buf *data);
int client_mb_flags(struct client_session *s, const char *folder, uint32_t n,
		    unsigned add, unsigned del);
int client_mb_delete(struct client_session *s, const char *folder, uint32_t n);
int client_mb_move(struct client_session *s, const char *folder, uint32_t n,
		   const char *dest);
/* Send the draft (or put it in the outbox when offline) and keep a copy
   in Sent.  *queued_r tells which.  1 or -1. */
int client_mb_send(struct client_session *s, const struct client_draft *d,
		   bool *queued_r);

/* ---- the commands (cmd_mail.c) and the terminal view (client_tui.c) -- */

void client_strv_free(char **v, size_t n);
int client_tui(struct client_account *a, bool offline);

#endif
