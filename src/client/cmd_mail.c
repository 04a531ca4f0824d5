/*
 * cmd_mail.c - `correio mail [-c FILE] [-a ACCOUNT] [--offline] COMMAND`:
 * the commands of the mail client, for a person and for scripts (--json).
 * Each command parses its options, opens the session (online, or the
 * offline cache when asked or when the server cannot be reached), does
 * its work through client_mailbox.c and prints.  Errors are one line on
 * stderr, "correio: mail: ...", and exit status 1 (2 for usage).
 */
#include "client/client.h"
#include "client/client_private.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/util.h"
#include "mime/mime.h"

static const char mail_usage[] =
	"usage: correio mail [-c FILE] [-a ACCOUNT] [--offline] [COMMAND ARGS]\n"
	"\n"
	"  (no command)              the full-screen view\n"
	"  folders                   list the folders\n"
	"  list [FOLDER] [--unseen] [--limit N] [--json]\n"
	"  read N [-f FOLDER] [--json]        show message N (marks it seen)\n"
	"  save N [DIR] [-f FOLDER] [--force] write its attachments into DIR\n"
	"  send --to ADDR [--cc ADDR] [--bcc ADDR] [--subject TEXT] [--attach FILE]...\n"
	"  reply N [--all] [-f FOLDER] [--attach FILE]...\n"
	"  forward N --to ADDR [-f FOLDER] [--attach FILE]...\n"
	"  delete N [-f FOLDER]\n"
	"  move N DEST [-f FOLDER]\n"
	"  flag N [+|-]seen|flagged|answered... [-f FOLDER]\n"
	"  search [--from T] [--to T] [--subject T] [--body T] [--unseen]\n"
	"         [--flagged] [WORD...] [-f FOLDER] [--json]\n"
	"  sync [--keep]             send the outbox, replay offline changes and\n"
	"                            mirror every folder (POP3: download new mail,\n"
	"                            deleting it on the server unless --keep)\n"
	"\n"
	"N is the number `list` shows.  The body of send/reply/forward is read\n"
	"from standard input when it is not a terminal, else written in $EDITOR.\n"
	"Accounts: ~/.config/correio/mail.conf (see correio-mail(1)); the\n"
	"password comes from $CORREIO_MAIL_PASSWORD, password_command or a prompt.\n";

struct mail_opts {
	const char *config;
	const char *account;
	bool offline;
	bool json;
	bool force;
	bool all;
	bool keep;
	bool unseen;
	bool flagged;
	size_t limit;
	const char *folder;
	const char *to, *cc, *bcc, *subject;
	const char *q_from, *q_body;
	const char *attach[64];
	size_t nattach;
	char *pos[64];
	size_t npos;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("correio: mail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(mail_usage, stderr);
	return -1;
}

/* Options with a value: their table. */
static const char **opt_value(struct mail_opts *o, const char *name)
{
	static const struct { const char *name; size_t off; } t[] = {
		{ "-c", offsetof(struct mail_opts, config) },
		{ "--config", offsetof(struct mail_opts, config) },
		{ "-a", offsetof(struct mail_opts, account) },
		{ "--account", offsetof(struct mail_opts, account) },
		{ "-f", offsetof(struct mail_opts, folder) },
		{ "--folder", offsetof(struct mail_opts, folder) },
		{ "--to", offsetof(struct mail_opts, to) },
		{ "--cc", offsetof(struct mail_opts, cc) },
		{ "--bcc", offsetof(struct mail_opts, bcc) },
		{ "--subject", offsetof(struct mail_opts, subject) },
		{ "-s", offsetof(struct mail_opts, subject) },
		{ "--from", offsetof(struct mail_opts, q_from) },
		{ "--body", offsetof(struct mail_opts, q_body) },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(name, t[i].name) == 0)
			return (const char **)((char *)o + t[i].off);
	return NULL;
}

static int parse_flag_opt(struct mail_opts *o, const char *a)
{
	if (strcmp(a, "--offline") == 0)
		o->offline = true;
	else if (strcmp(a, "--json") == 0)
		o->json = true;
	else if (strcmp(a, "--force") == 0)
		o->force = true;
	else if (strcmp(a, "--all") == 0)
		o->all = true;
	else if (strcmp(a, "--keep") == 0)
		o->keep = true;
	else if (strcmp(a, "--unseen") == 0)
		o->unseen = true;
	else if (strcmp(a, "--flagged") == 0)
		o->flagged = true;
	else
		return 0;
	return 1;
}

/* -h or --help before any "--" */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

/* "-seen" after `flag`: a flag to remove, not an option */
static bool is_flag_word(const struct mail_opts *o, const char *a)
{
	static const char *const words[] = { "-seen", "-flagged", "-answered", "-draft" };

	if (o->npos == 0 || strcmp(o->pos[0], "flag") != 0)
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(a, words[i]) == 0)
			return true;
	return false;
}

static int parse_args(int argc, char **argv, struct mail_opts *o)
{
	bool options = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **v;
		if (!options || a[0] != '-' || a[1] == '\0' || is_flag_word(o, a)) {
			if (o->npos == sizeof(o->pos) / sizeof(o->pos[0]))
				return usage_error("too many arguments%s", "");
			o->pos[o->npos++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options = false;
			continue;
		}
		if (parse_flag_opt(o, a))
			continue;
		if (strcmp(a, "--attach") == 0 || strcmp(a, "--limit") == 0) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			if (a[2] == 'l') {
				uint64_t n;
				if (parse_uint(argv[++i], &n) < 0 || n > 1000000)
					return usage_error("bad --limit: %s", argv[i]);
				o->limit = (size_t)n;
			} else if (o->nattach < sizeof(o->attach) / sizeof(o->attach[0])) {
				o->attach[o->nattach++] = argv[++i];
			}
			continue;
		}
		if ((v = opt_value(o, a)) == NULL)
			return usage_error("unknown option: %s", a);
		if (i + 1 >= argc)
			return usage_error("%s needs a value", a);
		*v = argv[++i];
	}
	return 1;
}

/* Text for a person, converted to the terminal's charset; JSON for
   scripts stays UTF-8. */
static void print_buf(const struct buf *b)
{
	struct buf t;

	buf_init(&t, 0);
	client_to_terminal(b->data != NULL ? b->data : "", b->len, &t);
	fwrite(t.data != NULL ? t.data : "", 1, t.len, stdout);
	buf_deinit(&t);
}

static void print_json(const struct buf *b)
{
	fwrite(b->data != NULL ? b->data : "", 1, b->len, stdout);
}

static int fail(void)
{
	fprintf(stderr, "correio: mail: %s\n", client_error());
	return 1;
}

static int parse_number(const char *s, uint32_t *n)
{
	uint64_t v;

	if (s == NULL || parse_uint(s, &v) < 0 || v == 0 || v > UINT32_MAX) {
		usage_error("a message number N is needed, not '%s'", s ? s : "");
		return -1;
	}
	*n = (uint32_t)v;
	return 1;
}

static int terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 100;
}

/* ---- commands ---------------------------------------------------------------- */

struct mail_cmd_ctx {
	struct mail_opts *o;
	struct client_account *a;
	struct client_session s;
	const char *folder;
};

static int cmd_folders(struct mail_cmd_ctx *c)
{
	char **names;
	size_t n;
	struct buf out;

	if (client_mb_folders(&c->s, &names, &n) < 0)
		return fail();
	buf_init(&out, 0);
	if (c->o->json)
		buf_putc(&out, '[');
	for (size_t i = 0; i < n; i++) {
		if (c->o->json) {
			if (i)
				buf_putc(&out, ',');
			client_json_str(&out, names[i]);
		} else {
			buf_printf(&out, "%s\n", names[i]);
		}
	}
	if (c->o->json)
		buf_puts(&out, "]\n");
	if (c->o->json)
		print_json(&out);
	else
		print_buf(&out);
	buf_deinit(&out);
	client_strv_free(names, n);
	return 0;
}

static void print_summaries(struct mail_cmd_ctx *c, const struct client_summary *v,
			    size_t n)
{
	struct buf out;
	int width = terminal_width();

	buf_init(&out, 0);
	if (c->o->json)
		buf_putc(&out, '[');
	for (size_t i = 0; i < n; i++) {
		if (c->o->json) {
			if (i)
				buf_putc(&out, ',');
			client_summary_json(&v[i], &out);
		} else {
			client_summary_line(&v[i], &out, width);
			buf_putc(&out, '\n');
		}
	}
	if (c->o->json)
		buf_puts(&out, "]\n");
	if (c->o->json)
		print_json(&out);
	else
		print_buf(&out);
	buf_deinit(&out);
}

static int cmd_list(struct mail_cmd_ctx *c)
{
	struct client_summary *v;
	size_t n;

	if (c->o->npos > 2)
		return usage_error("list takes one FOLDER%s", ""), 2;
	if (c->o->npos == 2)
		c->folder = c->o->pos[1];
	if (client_mb_list(&c->s, c->folder, c->o->unseen, c->o->limit, &v, &n) < 0)
		return fail();
	print_summaries(c, v, n);
	free(v);
	return 0;
}

static int cmd_search(struct mail_cmd_ctx *c)
{
	struct client_query q = { .from = c->o->q_from, .to = c->o->to,
				  .subject = c->o->subject, .body = c->o->q_body,
				  .unseen = c->o->unseen, .flagged = c->o->flagged };
	struct client_summary *v;
	size_t n;

	for (size_t i = 1; i < c->o->npos && q.ntext < 32; i++)
		q.text[q.ntext++] = c->o->pos[i];
	if (client_mb_search(&c->s, c->folder, &q, &v, &n) < 0)
		return fail();
	print_summaries(c, v, n);
	free(v);
	return 0;
}

static int cmd_read(struct mail_cmd_ctx *c)
{
	uint32_t n;
	unsigned flags;
	struct buf data, out;
	struct client_view v;

	if (c->o->npos != 2 || parse_number(c->o->pos[1], &n) < 0)
		return 2;
	if (client_mb_view(&c->s, c->folder, n, true, &data, &v, &flags) < 0)
		return fail();
	buf_init(&out, 0);
	if (c->o->json) {
		client_view_json(&v, n, flags | CLIENT_F_SEEN, &out);
		buf_putc(&out, '\n');
	} else {
		client_view_render(&v, &out);
	}
	if (c->o->json)
		print_json(&out);
	else
		print_buf(&out);
	buf_deinit(&out);
	client_mb_view_close(&v, &data);
	return 0;
}

static int cmd_save(struct mail_cmd_ctx *c)
{
	uint32_t n;
	unsigned flags;
	struct buf data, report;
	struct client_view v;
	int ret;

	if (c->o->npos < 2 || c->o->npos > 3 || parse_number(c->o->pos[1], &n) < 0)
		return 2;
	if (client_mb_view(&c->s, c->folder, n, false, &data, &v, &flags) < 0)
		return fail();
	buf_init(&report, 0);
	ret = client_view_save(&v, c->o->npos == 3 ? c->o->pos[2] : ".", c->o->force, &report);
	print_buf(&report);
	buf_deinit(&report);
	client_mb_view_close(&v, &data);
	return ret < 0 ? fail() : 0;
}

static int cmd_delete(struct mail_cmd_ctx *c)
{
	uint32_t n;

	if (c->o->npos != 2 || parse_number(c->o->pos[1], &n) < 0)
		return 2;
	return client_mb_delete(&c->s, c->folder, n) < 0 ? fail() : 0;
}

static int cmd_move(struct mail_cmd_ctx *c)
{
	uint32_t n;

	if (c->o->npos != 3 || parse_number(c->o->pos[1], &n) < 0)
		return usage_error("move N DEST%s", ""), 2;
	return client_mb_move(&c->s, c->folder, n, c->o->pos[2]) < 0 ? fail() : 0;
}

static int flag_word(const char *w, unsigned *add, unsigned *del)
{
	static const struct { const char *name; unsigned bit; } t[] = {
		{ "seen", CLIENT_F_SEEN }, { "flagged", CLIENT_F_FLAGGED },
		{ "answered", CLIENT_F_ANSWERED }, { "draft", CLIENT_F_DRAFT },
	};
	bool minus = w[0] == '-';

	if (w[0] == '-' || w[0] == '+')
		w++;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcasecmp(w, t[i].name) == 0) {
			*(minus ? del : add) |= t[i].bit;
			return 1;
		}
	}
	return -1;
}

static int cmd_flag(struct mail_cmd_ctx *c)
{
	uint32_t n;
	unsigned add = 0, del = 0;

	if (c->o->npos < 3 || parse_number(c->o->pos[1], &n) < 0)
		return usage_error("flag N [+|-]seen|flagged|answered...%s", ""), 2;
	for (size_t i = 2; i < c->o->npos; i++)
		if (flag_word(c->o->pos[i], &add, &del) < 0)
			return usage_error("unknown flag: %s", c->o->pos[i]), 2;
	return client_mb_flags(&c->s, c->folder, n, add, del) < 0 ? fail() : 0;
}

/* ---- composing ------------------------------------------------------------------ */

/* The body: standard input when it is not a terminal, else the editor
   over template.  1, or -1. */
static int get_body(const char *template, struct buf *body)
{
	if (!isatty(STDIN_FILENO)) {
		char chunk[65536];
		ssize_t n;
		while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
			buf_append(body, chunk, (size_t)n);
		if (n < 0)
			return client_fail(CLIENT_ERR_OTHER, "standard input: %s", strerror(errno));
		if (template[0] != '\0') {
			if (body->len > 0 && body->data[body->len - 1] != '\n')
				buf_putc(body, '\n');
			buf_puts(body, template);
		}
		return 1;
	}
	int ret = client_edit(template, strlen(template), body);
	if (ret == 0)
		return client_fail(CLIENT_ERR_OTHER, "empty message; nothing sent");
	return ret;
}

static int attach_all(struct mail_cmd_ctx *c, struct client_draft *d)
{
	for (size_t i = 0; i < c->o->nattach; i++)
		if (client_draft_attach_file(d, c->o->attach[i]) < 0)
			return -1;
	return 1;
}

static int send_draft(struct mail_cmd_ctx *c, struct client_draft *d)
{
	bool queued;

	if (client_mb_send(&c->s, d, &queued) < 0)
		return -1;
	if (queued)
		printf("Offline: the message waits in the outbox until the next "
		       "`correio mail sync`.\n");
	else
		printf("Sent.\n");
	return 1;
}

static int cmd_send(struct mail_cmd_ctx *c)
{
	struct client_draft d;
	int ret = -1;

	client_draft_init(&d);
	str_copy(d.from, c->a->from, sizeof(d.from));
	if (c->o->to)
		buf_puts(&d.to, c->o->to);
	if (c->o->cc)
		buf_puts(&d.cc, c->o->cc);
	if (c->o->bcc)
		buf_puts(&d.bcc, c->o->bcc);
	str_copy(d.subject, c->o->subject ? c->o->subject : "", sizeof(d.subject));
	if (d.to.len + d.cc.len + d.bcc.len == 0)
		client_fail(CLIENT_ERR_OTHER, "no recipients (--to, --cc or --bcc)");
	else if (attach_all(c, &d) > 0 && get_body("", &d.body) > 0)
		ret = send_draft(c, &d);
	client_draft_deinit(&d);
	return ret < 0 ? fail() : 0;
}

/* "> " before every line of text. */
static void quote_text(const char *text, size_t len, struct buf *out)
{
	bool bol = true;

	for (size_t i = 0; i < len; i++) {
		if (bol)
			buf_puts(out, text[i] == '>' ? ">" : "> ");
		buf_putc(out, text[i]);
		bol = text[i] == '\n';
	}
	if (!bol)
		buf_putc(out, '\n');
}

static bool is_me(const struct client_account *a, const char *addr)
{
	char **mine;
	size_t n;
	bool me = strcasecmp(addr, a->user) == 0;

	client_addresses(a->from, &mine, &n);
	for (size_t i = 0; i < n; i++)
		me = me || strcasecmp(addr, mine[i]) == 0;
	client_strv_free(mine, n);
	return me;
}

/* Add the addresses of list to out (comma-separated), without mine and
   without those already in skip. */
static void add_others(const struct client_account *a, const char *list,
		       const struct buf *skip, struct buf *out)
{
	char **v;
	size_t n;

	client_addresses(list, &v, &n);
	for (size_t i = 0; i < n; i++) {
		if (is_me(a, v[i]) || strcasestr(buf_cstr(skip), v[i]) != NULL ||
		    strcasestr(buf_cstr(out), v[i]) != NULL)
			continue;
		if (out->len > 0)
			buf_puts(out, ", ");
		buf_puts(out, v[i]);
	}
	client_strv_free(v, n);
}

static void prefixed_subject(const char *prefix, const struct client_view *v,
			     char *out, size_t size)
{
	struct buf subj;

	buf_init(&subj, 0);
	client_view_header(v, "Subject", &subj);
	if (strncasecmp(buf_cstr(&subj), prefix, strlen(prefix)) == 0)
		str_copy(out, buf_cstr(&subj), size);
	else
		snprintf(out, size, "%s %s", prefix, buf_cstr(&subj));
	buf_deinit(&subj);
}

static void reply_headers(struct mail_cmd_ctx *c, const struct client_view *v,
			  struct client_draft *d)
{
	struct buf h, id;

	buf_init(&h, 0);
	buf_init(&id, 0);
	if (client_view_header(v, "Reply-To", &h) <= 0)
		client_view_header(v, "From", &h);
	buf_puts(&d->to, buf_cstr(&h));
	if (c->o->all) {
		buf_reset(&h);
		client_view_header(v, "To", &h);
		add_others(c->a, buf_cstr(&h), &d->to, &d->cc);
		buf_reset(&h);
		client_view_header(v, "Cc", &h);
		add_others(c->a, buf_cstr(&h), &d->to, &d->cc);
	}
	prefixed_subject("Re:", v, d->subject, sizeof(d->subject));
	if (mime_header_get(v->msg, mime_message_root(v->msg), "Message-ID", &id) > 0) {
		str_copy(d->in_reply_to, buf_cstr(&id), sizeof(d->in_reply_to));
		buf_reset(&h);
		if (mime_header_get(v->msg, mime_message_root(v->msg), "References", &h) > 0)
			buf_printf(&d->references, "%s ", buf_cstr(&h));
		buf_puts(&d->references, buf_cstr(&id));
	}
	buf_deinit(&h);
	buf_deinit(&id);
}

static int cmd_reply(struct mail_cmd_ctx *c)
{
	uint32_t n;
	unsigned flags;
	struct buf data, tmpl, h;
	struct client_view v;
	struct client_draft d;
	int ret = -1;

	if (c->o->npos != 2 || parse_number(c->o->pos[1], &n) < 0)
		return 2;
	if (client_mb_view(&c->s, c->folder, n, false, &data, &v, &flags) < 0)
		return fail();
	client_draft_init(&d);
	str_copy(d.from, c->a->from, sizeof(d.from));
	reply_headers(c, &v, &d);
	buf_init(&tmpl, 0);
	buf_init(&h, 0);
	client_view_header(&v, "Date", &h);
	buf_printf(&tmpl, "\nOn %s, ", buf_cstr(&h));
	buf_reset(&h);
	client_view_header(&v, "From", &h);
	buf_printf(&tmpl, "%s wrote:\n", buf_cstr(&h));
	quote_text(v.text.data != NULL ? v.text.data : "", v.text.len, &tmpl);
	if (attach_all(c, &d) > 0 && get_body(buf_cstr(&tmpl), &d.body) > 0 &&
	    send_draft(c, &d) > 0) {
		ret = 1;
		/* mark the original answered (offline: journalled) */
		client_mb_flags(&c->s, c->folder, n, CLIENT_F_ANSWERED, 0);
	}
	buf_deinit(&h);
	buf_deinit(&tmpl);
	client_draft_deinit(&d);
	client_mb_view_close(&v, &data);
	return ret < 0 ? fail() : 0;
}

static void forward_text(const struct client_view *v, struct buf *out)
{
	static const char *const fields[] = { "From", "Date", "Subject", "To", "Cc" };
	struct buf h;

	buf_init(&h, 0);
	buf_puts(out, "\n---------- Forwarded message ----------\n");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		buf_reset(&h);
		if (client_view_header(v, fields[i], &h) > 0)
			buf_printf(out, "%s: %s\n", fields[i], buf_cstr(&h));
	}
	buf_putc(out, '\n');
	buf_append(out, v->text.data != NULL ? v->text.data : "", v->text.len);
	buf_deinit(&h);
}

static int forward_attachments(const struct client_view *v, struct client_draft *d)
{
	struct buf data;
	char name[64];

	buf_init(&data, 0);
	for (size_t i = 0; i < v->natt; i++) {
		if (v->att[i].part == NULL)
			continue;	/* uuencoded: still inside the text */
		buf_reset(&data);
		if (client_view_attachment(v, i, &data) < 0) {
			buf_deinit(&data);
			return -1;
		}
		snprintf(name, sizeof(name), "attachment-%zu", i + 1);
		client_draft_attach(d, v->att[i].name[0] ? v->att[i].name : name,
				    v->att[i].type, data.data != NULL ? data.data : "",
				    data.len);
	}
	buf_deinit(&data);
	return 1;
}

static int cmd_forward(struct mail_cmd_ctx *c)
{
	uint32_t n;
	unsigned flags;
	struct buf data, tmpl;
	struct client_view v;
	struct client_draft d;
	int ret = -1;

	if (c->o->npos != 2 || parse_number(c->o->pos[1], &n) < 0)
		return 2;
	if (c->o->to == NULL)
		return usage_error("forward needs --to%s", ""), 2;
	if (client_mb_view(&c->s, c->folder, n, false, &data, &v, &flags) < 0)
		return fail();
	client_draft_init(&d);
	str_copy(d.from, c->a->from, sizeof(d.from));
	buf_puts(&d.to, c->o->to);
	if (c->o->cc)
		buf_puts(&d.cc, c->o->cc);
	if (c->o->bcc)
		buf_puts(&d.bcc, c->o->bcc);
	prefixed_subject("Fwd:", &v, d.subject, sizeof(d.subject));
	buf_init(&tmpl, 0);
	forward_text(&v, &tmpl);
	if (forward_attachments(&v, &d) > 0 && attach_all(c, &d) > 0 &&
	    get_body(buf_cstr(&tmpl), &d.body) > 0 && send_draft(c, &d) > 0)
		ret = 1;
	buf_deinit(&tmpl);
	client_draft_deinit(&d);
	client_mb_view_close(&v, &data);
	return ret < 0 ? fail() : 0;
}

static int cmd_sync(struct mail_cmd_ctx *c)
{
	bool progress = isatty(STDERR_FILENO);
	int ret;

	if (c->a->proto == CLIENT_PROTO_POP3)
		ret = client_pop3_fetch(c->a, c->o->keep, progress);
	else
		ret = client_sync(c->a, progress);
	return ret < 0 ? fail() : 0;
}

static const struct {
	const char *name;
	int (*run)(struct mail_cmd_ctx *c);
	bool needs_session;	/* sync opens its own connections */
} commands[] = {
	{ "folders", cmd_folders, true }, { "list", cmd_list, true },
	{ "read", cmd_read, true }, { "save", cmd_save, true },
	{ "send", cmd_send, true }, { "reply", cmd_reply, true },
	{ "forward", cmd_forward, true }, { "delete", cmd_delete, true },
	{ "move", cmd_move, true }, { "flag", cmd_flag, true },
	{ "search", cmd_search, true }, { "sync", cmd_sync, false },
};

/* send works with no cache and no server for reading: a session that
   could not be opened is fine as long as SMTP works. */
static bool session_optional(const char *cmd)
{
	return strcmp(cmd, "send") == 0;
}

int cmd_mail(int argc, char **argv)
{
	struct mail_opts o = { 0 };
	struct client_account a;
	struct mail_cmd_ctx c = { .o = &o, .a = &a };
	int status = 2;

	setlocale(LC_CTYPE, "");
	/* a server that hangs up under TLS must give an error, not SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	if (wants_help(argc, argv)) {
		fputs(mail_usage, stdout);
		return 0;
	}
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (client_config_load(o.config, o.account, &a) < 0)
		return fail();
	c.folder = o.folder != NULL ? o.folder : "INBOX";
	if (o.npos == 0) {
		status = client_tui(&a, o.offline) < 0 ? fail() : 0;
		client_account_wipe(&a);
		return status;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(o.pos[0], commands[i].name) != 0)
			continue;
		if (commands[i].needs_session &&
		    client_session_open(&c.s, &a, o.offline) < 0) {
			if (!session_optional(o.pos[0])) {
				client_account_wipe(&a);
				return fail();
			}
			memset(&c.s, 0, sizeof(c.s));
			c.s.acct = &a;
			c.s.offline = a.proto == CLIENT_PROTO_IMAP && o.offline;
		}
		status = commands[i].run(&c);
		client_session_close(&c.s);
		client_account_wipe(&a);
		return status;
	}
	client_account_wipe(&a);
	usage_error("unknown command '%s'", o.pos[0]);
	return 2;
}
