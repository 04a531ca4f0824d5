/*
 * client_imap.c - the client's IMAP session (RFC 9051, RFC 3501 servers
 * alike): connect, STARTTLS, LOGIN, commands with their untagged answers,
 * SELECT, APPEND, LIST with SPECIAL-USE.  Responses are framed and parsed
 * by client_imap_resp.c under limits (a line 16 MiB, a literal or a whole
 * response 256 MiB), since the server is not trusted.
 */
#include "client/client_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib-imap/imap_quote.h"
#include "lib-imap/imap_utf7.h"
#include "lib/util.h"
#include "mime/mime.h"

#define IMAP_MAX_LINE (16 << 20)	/* SEARCH results of big folders */
#define IMAP_MAX_LITERAL (256ull << 20)

struct client_imap {
	struct client_conn conn;
	struct client_account *acct;
	struct imap_resp_reader rd;
	struct imap_parser *parser;
	struct buf scratch;
	char rbuf[65536];
	size_t rpos, rlen;
	unsigned tagno;
	char tag[16];
	struct buf caps;	/* " CAP1 CAP2 ", upper case */
	uint32_t exists, uidvalidity;
	uint64_t highestmodseq;
};

static void caps_set(struct client_imap *s, const char *list)
{
	buf_reset(&s->caps);
	buf_putc(&s->caps, ' ');
	for (const char *p = list; *p != '\0' && *p != '\r' && *p != '\n'; p++)
		buf_putc(&s->caps, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
	buf_putc(&s->caps, ' ');
}

bool client_imap_has_cap(struct client_imap *s, const char *cap)
{
	char want[128];

	snprintf(want, sizeof(want), " %s ", cap);
	return strcasestr(buf_cstr(&s->caps), want) != NULL;
}

/* Read and parse the next response.  1 or -1. */
static int read_response(struct client_imap *s, struct imap_resp *r)
{
	const char *reason;
	size_t used;

	for (;;) {
		if (s->rpos == s->rlen) {
			long n = client_conn_read(&s->conn, s->rbuf, sizeof(s->rbuf));
			if (n < 0)
				return -1;
			s->rpos = 0;
			s->rlen = (size_t)n;
		}
		int ret = imap_resp_feed(&s->rd, s->rbuf + s->rpos, s->rlen - s->rpos,
					 &used, &reason);
		s->rpos += used;
		if (ret < 0)
			return client_fail(CLIENT_ERR_OTHER, "%s sent a response the client "
					   "refuses (%s)", s->acct->in.host, reason);
		if (ret == 0)
			continue;
		if (imap_resp_parse(s->parser, &s->scratch, s->rd.text.data,
				    s->rd.text.len, r) > 0)
			return 1;
		/* an untagged response we cannot read is skipped, as mail
		   clients do; the answer to our command cannot be */
		size_t tl = strlen(s->tag);
		if (tl > 0 && s->rd.text.len > tl && s->rd.text.data[tl] == ' ' &&
		    memcmp(s->rd.text.data, s->tag, tl) == 0)
			return client_fail(CLIENT_ERR_OTHER, "%s answered with nonsense",
					   s->acct->in.host);
	}
}

/* What a status code tells about the session. */
static void status_code(struct client_imap *s, const char *code)
{
	if (strncasecmp(code, "CAPABILITY ", 11) == 0)
		caps_set(s, code + 11);
	else if (strncasecmp(code, "UIDVALIDITY ", 12) == 0)
		s->uidvalidity = (uint32_t)strtoul(code + 12, NULL, 10);
	else if (strncasecmp(code, "HIGHESTMODSEQ ", 14) == 0)
		s->highestmodseq = strtoull(code + 14, NULL, 10);
	else if (strcasecmp(code, "NOMODSEQ") == 0)
		s->highestmodseq = 0;
}

static int untagged(struct client_imap *s, const struct imap_resp *r)
{
	if (r->status != NULL) {
		status_code(s, r->code);
		if (strcmp(r->status, "BYE") == 0)
			client_fail(CLIENT_ERR_NET, "%s closed the session: %s",
				    s->acct->in.host, r->text);
		return 0;
	}
	if (strcmp(r->name, "CAPABILITY") == 0)
		caps_set(s, r->rest);
	else if (r->has_number && strcmp(r->name, "EXISTS") == 0)
		s->exists = r->number;
	else if (r->has_number && strcmp(r->name, "EXPUNGE") == 0 && s->exists > 0)
		s->exists--;
	return 1;
}

/* The text of a NO as a person reads it. */
static int refused(struct client_imap *s, const struct imap_resp *r)
{
	const char *code = r->code;

	if (strncasecmp(code, "AUTHENTICATIONFAILED", 20) == 0 ||
	    strncasecmp(code, "AUTHORIZATIONFAILED", 19) == 0)
		return client_fail(CLIENT_ERR_AUTH, "wrong user name or password for %s "
				   "on %s (%s)", s->acct->user, s->acct->in.host, r->text);
	if (strncasecmp(code, "OVERQUOTA", 9) == 0 || strncasecmp(code, "LIMIT", 5) == 0)
		return client_fail(CLIENT_ERR_OTHER, "mailbox full: the quota on %s is "
				   "reached (%s)", s->acct->in.host, r->text);
	if (strncasecmp(code, "TOOBIG", 6) == 0)
		return client_fail(CLIENT_ERR_OTHER, "message too big for %s (%s)",
				   s->acct->in.host, r->text);
	if (strncasecmp(code, "NONEXISTENT", 11) == 0)
		return client_fail(CLIENT_ERR_OTHER, "no such folder (%s)", r->text);
	return client_fail(CLIENT_ERR_OTHER, "%s refused: %s", s->acct->in.host, r->text);
}

/* Read responses up to the tagged one of s->tag.  1, 0 (NO), -1. */
static int wait_tagged(struct client_imap *s, client_imap_fn *fn, void *ctx,
		       bool stop_at_cont)
{
	struct imap_resp r;

	for (;;) {
		if (read_response(s, &r) < 0)
			return -1;
		if (r.kind == IMAP_RESP_CONT) {
			if (stop_at_cont)
				return 2;
			continue;
		}
		if (r.kind == IMAP_RESP_UNTAGGED) {
			if (untagged(s, &r) > 0 && fn != NULL)
				fn(ctx, &r);
			else if (r.status != NULL && strcmp(r.status, "BYE") == 0)
				return -1;
			continue;
		}
		if (strcmp(r.tag, s->tag) != 0)
			continue;
		status_code(s, r.code);
		if (strcmp(r.status, "OK") == 0)
			return 1;
		if (strcmp(r.status, "NO") == 0)
			return refused(s, &r) < 0 ? 0 : 0;
		return client_fail(CLIENT_ERR_OTHER, "%s did not understand the client: %s",
				   s->acct->in.host, r.text);
	}
}

static int send_cmd(struct client_imap *s, const char *text, size_t len)
{
	char head[24];

	snprintf(s->tag, sizeof(s->tag), "c%u", ++s->tagno);
	snprintf(head, sizeof(head), "%s ", s->tag);
	if (client_conn_write(&s->conn, head, strlen(head)) < 0 ||
	    client_conn_write(&s->conn, text, len) < 0 ||
	    client_conn_write(&s->conn, "\r\n", 2) < 0)
		return -1;
	return 1;
}

int client_imap_cmd(struct client_imap *s, client_imap_fn *fn, void *ctx,
		    const char *fmt, ...)
{
	struct buf cmd;
	va_list ap;
	int ret;

	buf_init(&cmd, 0);
	va_start(ap, fmt);
	buf_vprintf(&cmd, fmt, ap);
	va_end(ap);
	ret = send_cmd(s, cmd.data, cmd.len);
	buf_deinit(&cmd);
	if (ret < 0)
		return -1;
	return wait_tagged(s, fn, ctx, false);
}

void client_imap_folder_arg(struct client_imap *s, struct buf *cmd,
			    const char *folder)
{
	struct buf enc;

	buf_init(&enc, 0);
	if (imap_utf7_encode(folder, strlen(folder), &enc) < 0) {
		buf_reset(&enc);
		buf_puts(&enc, folder);
	}
	imap_quote_string(cmd, enc.data != NULL ? enc.data : "", enc.len, false);
	buf_deinit(&enc);
}

static int greeting(struct client_imap *s)
{
	struct imap_resp r;

	if (read_response(s, &r) < 0)
		return -1;
	if (r.kind != IMAP_RESP_UNTAGGED || r.status == NULL)
		return client_fail(CLIENT_ERR_NET, "%s port %u does not speak IMAP",
				   s->acct->in.host, s->acct->in.port);
	status_code(s, r.code);
	if (strcmp(r.status, "BYE") == 0)
		return client_fail(CLIENT_ERR_NET, "%s refused the connection: %s",
				   s->acct->in.host, r.text);
	return strcmp(r.status, "PREAUTH") == 0 ? 2 : 1;
}

static int starttls(struct client_imap *s)
{
	if (s->caps.len == 0 && client_imap_cmd(s, NULL, NULL, "CAPABILITY") <= 0)
		return -1;
	if (!client_imap_has_cap(s, "STARTTLS"))
		return client_fail(CLIENT_ERR_TLS, "%s does not offer STARTTLS (set "
				   "tls = implicit or none)", s->acct->in.host);
	if (client_imap_cmd(s, NULL, NULL, "STARTTLS") <= 0)
		return -1;
	s->rpos = s->rlen = 0;	/* nothing read in the clear is kept */
	buf_reset(&s->caps);
	return client_conn_starttls(&s->conn);
}

static int login(struct client_imap *s)
{
	struct client_account *a = s->acct;
	struct buf cmd;
	int ret;

	if (client_password(a) < 0)
		return -1;
	buf_init(&cmd, 0);
	buf_puts(&cmd, "LOGIN ");
	imap_quote_string(&cmd, a->user, strlen(a->user), true);
	buf_putc(&cmd, ' ');
	imap_quote_string(&cmd, a->password, strlen(a->password), true);
	ret = send_cmd(s, cmd.data, cmd.len);
	explicit_bzero(cmd.data, cmd.len);
	buf_deinit(&cmd);
	if (ret < 0)
		return -1;
	buf_reset(&s->caps);
	ret = wait_tagged(s, NULL, NULL, false);
	if (ret == 0 && client_error_kind() != CLIENT_ERR_AUTH)
		client_fail(CLIENT_ERR_AUTH, "login refused: %s", client_error());
	if (ret <= 0)
		return -1;
	if (s->caps.len == 0 && client_imap_cmd(s, NULL, NULL, "CAPABILITY") <= 0)
		return -1;
	return 1;
}

int client_imap_open(struct client_account *a, struct client_imap **r)
{
	struct client_imap *s = xcalloc(1, sizeof(*s));
	struct imap_resp_limits rl = { IMAP_MAX_LINE, IMAP_MAX_LITERAL,
				       IMAP_MAX_LITERAL + IMAP_MAX_LINE };
	struct imap_parser_limits pl;
	int ret;

	s->acct = a;
	imap_resp_reader_init(&s->rd, &rl);
	imap_parser_limits_default(&pl);
	pl.max_line = IMAP_MAX_LINE;
	pl.max_literal = IMAP_MAX_LITERAL;
	pl.max_collect = IMAP_MAX_LITERAL;
	pl.max_args = 1 << 20;
	pl.max_depth = 32;
	s->parser = imap_parser_new(&pl);
	buf_init(&s->scratch, 0);
	buf_init(&s->caps, 1 << 20);
	s->conn.fd = -1;
	if (client_conn_open(&s->conn, a, &a->in) < 0)
		goto fail;
	ret = greeting(s);
	if (ret < 0)
		goto fail;
	if (a->in.tls == CLIENT_TLS_STARTTLS && starttls(s) < 0)
		goto fail;
	if (ret == 1 && login(s) < 0)
		goto fail;
	*r = s;
	return 1;
fail:
	client_imap_close(&s);
	return -1;
}

void client_imap_close(struct client_imap **sp)
{
	struct client_imap *s = *sp;

	if (s == NULL)
		return;
	if (s->conn.fd >= 0) {
		send_cmd(s, "LOGOUT", 6);
		client_conn_close(&s->conn);
	}
	imap_resp_reader_deinit(&s->rd);
	imap_parser_free(&s->parser);
	buf_deinit(&s->scratch);
	buf_deinit(&s->caps);
	free(s);
	*sp = NULL;
}

int client_imap_select(struct client_imap *s, const char *folder, bool readonly)
{
	return client_imap_select_with(s, folder, readonly, NULL, NULL, NULL);
}

int client_imap_select_with(struct client_imap *s, const char *folder,
			    bool readonly, const char *params, client_imap_fn *fn,
			    void *ctx)
{
	struct buf cmd;
	int ret;

	buf_init(&cmd, 0);
	buf_puts(&cmd, readonly ? "EXAMINE " : "SELECT ");
	client_imap_folder_arg(s, &cmd, folder);
	if (params != NULL)
		buf_printf(&cmd, " (%s)", params);
	else if (client_imap_has_cap(s, "CONDSTORE"))
		buf_puts(&cmd, " (CONDSTORE)");
	s->exists = s->uidvalidity = 0;
	s->highestmodseq = 0;
	ret = client_imap_cmd(s, fn, ctx, "%s", buf_cstr(&cmd));
	buf_deinit(&cmd);
	if (ret == 0)
		return client_fail(CLIENT_ERR_OTHER, "cannot open folder %s: %s", folder,
				   client_error());
	return ret;
}

uint32_t client_imap_exists(struct client_imap *s) { return s->exists; }
uint32_t client_imap_uidvalidity(struct client_imap *s) { return s->uidvalidity; }
uint64_t client_imap_highestmodseq(struct client_imap *s) { return s->highestmodseq; }

int client_imap_append(struct client_imap *s, const char *folder,
		       unsigned flags, const char *data, size_t len)
{
	struct buf cmd, body;
	bool plus = client_imap_has_cap(s, "LITERAL+");
	int ret;

	buf_init(&cmd, 0);
	buf_init(&body, 0);
	mime_crlf_append(&body, data, len);
	buf_puts(&cmd, "APPEND ");
	client_imap_folder_arg(s, &cmd, folder);
	buf_puts(&cmd, " (");
	client_imap_flags_str(flags, &cmd);
	buf_printf(&cmd, ") {%zu%s}", body.len, plus ? "+" : "");
	snprintf(s->tag, sizeof(s->tag), "c%u", ++s->tagno);
	char head[24];
	snprintf(head, sizeof(head), "%s ", s->tag);
	ret = client_conn_write(&s->conn, head, strlen(head));
	if (ret > 0)
		ret = client_conn_write(&s->conn, cmd.data, cmd.len);
	if (ret > 0)
		ret = client_conn_write(&s->conn, "\r\n", 2);
	if (ret > 0 && !plus) {
		ret = wait_tagged(s, NULL, NULL, true);
		if (ret != 2)
			goto done;
	}
	if (ret > 0)
		ret = client_conn_write(&s->conn, body.data, body.len);
	if (ret > 0)
		ret = client_conn_write(&s->conn, "\r\n", 2);
	if (ret > 0)
		ret = wait_tagged(s, NULL, NULL, false);
done:
	buf_deinit(&cmd);
	buf_deinit(&body);
	return ret;
}

/* ---- folders ---------------------------------------------------------- */

struct folders_ctx {
	struct client_folder *v;
	size_t n, cap;
};

static int list_fn(void *ctx, const struct imap_resp *r)
{
	struct folders_ctx *fc = ctx;
	const struct imap_arg *attrs;
	size_t nattrs;
	const char *name;
	struct client_folder *f;
	struct buf dec;

	if (strcmp(r->name, "LIST") != 0 || r->arg_count < 3 ||
	    !imap_arg_get_list(&r->args[0], &attrs, &nattrs) ||
	    !imap_arg_get_astring(&r->args[2], &name))
		return 1;
	if (fc->n == fc->cap) {
		fc->cap = fc->cap ? fc->cap * 2 : 16;
		fc->v = xrealloc(fc->v, fc->cap * sizeof(*fc->v));
	}
	f = &fc->v[fc->n++];
	memset(f, 0, sizeof(*f));
	buf_init(&dec, 0);
	if (imap_utf7_decode(name, strlen(name), &dec) < 0) {
		buf_reset(&dec);
		mime_utf8_sanitize(name, strlen(name), &dec);
	}
	str_copy(f->name, buf_cstr(&dec), sizeof(f->name));
	buf_deinit(&dec);
	for (size_t i = 0; i < nattrs; i++) {
		const char *at;
		if (!imap_arg_get_atom(&attrs[i], &at))
			continue;
		if (strcasecmp(at, "\\Noselect") == 0 || strcasecmp(at, "\\NonExistent") == 0)
			f->noselect = true;
		if (strcasecmp(at, "\\Sent") == 0)
			f->sent = true;
	}
	return 1;
}

static int folder_cmp(const void *a, const void *b)
{
	const struct client_folder *x = a, *y = b;

	if (strcasecmp(x->name, "INBOX") == 0)
		return -1;
	if (strcasecmp(y->name, "INBOX") == 0)
		return 1;
	return strcmp(x->name, y->name);
}

int client_imap_folders(struct client_imap *s, struct client_folder **r,
			size_t *n_r)
{
	struct folders_ctx fc = { 0 };
	int ret;

	if (client_imap_has_cap(s, "SPECIAL-USE"))
		ret = client_imap_cmd(s, list_fn, &fc, "LIST \"\" \"*\" RETURN (SPECIAL-USE)");
	else
		ret = client_imap_cmd(s, list_fn, &fc, "LIST \"\" \"*\"");
	if (ret <= 0) {
		free(fc.v);
		return -1;
	}
	if (fc.n > 1)
		qsort(fc.v, fc.n, sizeof(*fc.v), folder_cmp);
	*r = fc.v;
	*n_r = fc.n;
	return 1;
}

int client_imap_sent_folder(struct client_imap *s, struct client_account *a,
			    char *out, size_t size)
{
	struct client_folder *f;
	size_t n;
	bool exists = false;

	if (a->sent_folder[0] != '\0') {
		str_copy(out, a->sent_folder, size);
		return 1;
	}
	if (client_imap_folders(s, &f, &n) < 0)
		return -1;
	str_copy(out, "Sent", size);
	for (size_t i = 0; i < n; i++) {
		if (f[i].sent) {
			str_copy(out, f[i].name, size);
			free(f);
			return 1;
		}
		if (strcmp(f[i].name, "Sent") == 0)
			exists = true;
	}
	free(f);
	if (!exists) {
		struct buf cmd;
		buf_init(&cmd, 0);
		buf_puts(&cmd, "CREATE ");
		client_imap_folder_arg(s, &cmd, out);
		client_imap_cmd(s, NULL, NULL, "%s", buf_cstr(&cmd));
		buf_deinit(&cmd);
	}
	return 1;
}
