/*
 * client_smtp.c - sending: one SMTP submission session (RFC 6409) per
 * message: EHLO, STARTTLS (or implicit TLS), AUTH PLAIN (or LOGIN), MAIL,
 * RCPT, DATA with dot-stuffing and CRLF line ends.  Replies are read by
 * lib-smtp's reply parser; refusals become sentences a person
 * understands (wrong password, message too big, mailbox full).
 */
#include "client/client_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sasl.h"
#include "lib-smtp/smtp_reply.h"
#include "lib/util.h"

#define SMTP_LINE_MAX 4096

struct smtp_client {
	struct client_conn conn;
	struct client_account *acct;
	struct smtp_reply reply;
	struct buf line;
	char summary[600];
	uint64_t size_limit;
};

static int read_reply(struct smtp_client *s)
{
	int ret;

	smtp_reply_reset(&s->reply);
	do {
		if (client_conn_line(&s->conn, &s->line, SMTP_LINE_MAX) < 0)
			return -1;
		ret = smtp_reply_line(&s->reply, s->line.data != NULL ? s->line.data : "",
				      s->line.len);
		if (ret < 0)
			return client_fail(CLIENT_ERR_OTHER, "%s does not speak SMTP",
					   s->acct->smtp.host);
	} while (ret == 0);
	smtp_reply_summary(&s->reply, s->summary, sizeof(s->summary));
	return s->reply.code;
}

static int cmd(struct smtp_client *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int cmd(struct smtp_client *s, const char *fmt, ...)
{
	struct buf line;
	va_list ap;
	int ret;

	buf_init(&line, 0);
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_puts(&line, "\r\n");
	ret = client_conn_write(&s->conn, line.data, line.len);
	explicit_bzero(line.data, line.len);
	buf_deinit(&line);
	return ret < 0 ? -1 : read_reply(s);
}

/* What a refusal means, as a sentence. */
static int refused(struct smtp_client *s, const char *what)
{
	const char *e = s->reply.enhanced;
	int code = s->reply.code;

	if (code == 535 || strcmp(e, "5.7.8") == 0)
		return client_fail(CLIENT_ERR_AUTH, "wrong user name or password for %s "
				   "on %s (%s)", s->acct->user, s->acct->smtp.host, s->summary);
	if (strcmp(e, "5.3.4") == 0 || (code == 552 && strcmp(e, "5.2.2") != 0))
		return client_fail(CLIENT_ERR_OTHER, "message too big for %s (%s)",
				   s->acct->smtp.host, s->summary);
	if (strcmp(e, "4.2.2") == 0 || strcmp(e, "5.2.2") == 0)
		return client_fail(CLIENT_ERR_OTHER, "mailbox full: %s (%s)", what,
				   s->summary);
	return client_fail(CLIENT_ERR_OTHER, "%s refused %s: %s", s->acct->smtp.host,
			   what, s->summary);
}

static void hello_name(char *out, size_t size)
{
	if (gethostname(out, size) < 0 || out[0] == '\0' || strchr(out, '.') == NULL)
		str_copy(out, "localhost", size);
}

static int ehlo(struct smtp_client *s)
{
	char name[256];
	const char *param;

	hello_name(name, sizeof(name));
	if (cmd(s, "EHLO %s", name) != 250)
		return refused(s, "EHLO");
	if (smtp_reply_has_keyword(&s->reply, "SIZE", &param))
		s->size_limit = strtoull(param, NULL, 10);
	return 1;
}

static int authenticate(struct smtp_client *s)
{
	struct client_account *a = s->acct;
	const char *mechs;
	struct buf raw, b64;
	int code;

	if (!smtp_reply_has_keyword(&s->reply, "AUTH", &mechs))
		return 1;	/* the server trusts us without AUTH */
	if (client_password(a) < 0)
		return -1;
	buf_init(&raw, 0);
	buf_init(&b64, 0);
	buf_putc(&raw, '\0');
	buf_puts(&raw, a->user);
	buf_putc(&raw, '\0');
	buf_puts(&raw, a->password);
	base64_encode(raw.data, raw.len, &b64);
	code = cmd(s, "AUTH PLAIN %s", buf_cstr(&b64));
	explicit_bzero(raw.data, raw.len);
	explicit_bzero(b64.data, b64.len);
	buf_deinit(&raw);
	buf_deinit(&b64);
	if (code < 0)
		return -1;
	if (code != 235)
		return refused(s, "the login");
	return 1;
}

static int session_start(struct smtp_client *s)
{
	if (read_reply(s) < 0)
		return -1;
	if (s->reply.code != 220)
		return client_fail(CLIENT_ERR_NET, "%s does not accept mail now: %s",
				   s->acct->smtp.host, s->summary);
	if (ehlo(s) < 0)
		return -1;
	if (s->acct->smtp.tls == CLIENT_TLS_STARTTLS) {
		if (!smtp_reply_has_keyword(&s->reply, "STARTTLS", NULL))
			return client_fail(CLIENT_ERR_TLS, "%s does not offer STARTTLS "
					   "(set smtp_tls)", s->acct->smtp.host);
		if (cmd(s, "STARTTLS") != 220)
			return refused(s, "STARTTLS");
		if (client_conn_starttls(&s->conn) < 0 || ehlo(s) < 0)
			return -1;
	}
	return authenticate(s);
}

/* The message with CRLF line ends and dot-stuffing, then ".". */
static int send_data(struct smtp_client *s, const char *msg, size_t len)
{
	struct buf out;
	int ret;
	bool bol = true;

	buf_init(&out, 0);
	for (size_t i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			buf_putc(&out, '.');
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			buf_putc(&out, '\r');
		buf_putc(&out, msg[i]);
		bol = msg[i] == '\n';
	}
	if (!bol)
		buf_puts(&out, "\r\n");
	buf_puts(&out, ".\r\n");
	ret = client_conn_write(&s->conn, out.data, out.len);
	buf_deinit(&out);
	return ret < 0 ? -1 : read_reply(s);
}

static int transaction(struct smtp_client *s, const char *from,
		       char *const *rcpts, size_t n, const char *msg, size_t len)
{
	int code;

	if (s->size_limit > 0 && len > s->size_limit)
		return client_fail(CLIENT_ERR_OTHER, "message too big: %zu bytes, %s takes "
				   "at most %lu", len, s->acct->smtp.host,
				   (unsigned long)s->size_limit);
	code = cmd(s, "MAIL FROM:<%s> SIZE=%zu", from, len);
	if (code < 0)
		return -1;
	if (code != 250)
		return refused(s, "the sender");
	for (size_t i = 0; i < n; i++) {
		code = cmd(s, "RCPT TO:<%s>", rcpts[i]);
		if (code < 0)
			return -1;
		if (code != 250 && code != 251) {
			char what[600];
			snprintf(what, sizeof(what), "recipient %s", rcpts[i]);
			return refused(s, what);
		}
	}
	code = cmd(s, "DATA");
	if (code < 0)
		return -1;
	if (code != 354)
		return refused(s, "DATA");
	code = send_data(s, msg, len);
	if (code < 0)
		return -1;
	if (code != 250)
		return refused(s, "the message");
	cmd(s, "QUIT");
	return 1;
}

int client_smtp_send(struct client_account *a, const char *from,
		     char *const *rcpts, size_t nrcpt, const char *msg, size_t len)
{
	struct smtp_client s = { .acct = a };
	int ret;

	smtp_reply_init(&s.reply);
	buf_init(&s.line, SMTP_LINE_MAX + 1);
	ret = client_conn_open(&s.conn, a, &a->smtp);
	if (ret > 0)
		ret = session_start(&s);
	if (ret > 0)
		ret = transaction(&s, from, rcpts, nrcpt, msg, len);
	if (s.conn.fd >= 0)
		client_conn_close(&s.conn);
	smtp_reply_deinit(&s.reply);
	buf_deinit(&s.line);
	return ret;
}
