/*
 * client_pop3.c - POP3 mode (RFC 1939, RFC 2595 STLS): `sync` on a POP3
 * account downloads the messages not fetched before (known by UIDL) into
 * the cache's INBOX and deletes them on the server, unless --keep.  Every
 * other command then reads the cache.  A message's data is capped at
 * 256 MiB and a line at 1 MiB.
 */
#include "client/client_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define POP3_LINE_MAX (1u << 20)
#define POP3_MESSAGE_MAX (256u << 20)

struct pop3 {
	struct client_conn conn;
	struct client_account *acct;
	struct buf line;
};

/* Send a command (NULL: none, just read) and read the status line.
   1 +OK, 0 -ERR, -1. */
static int pop3_cmd(struct pop3 *p, const char *cmd, const char *arg)
{
	if (cmd != NULL) {
		struct buf out;
		buf_init(&out, 0);
		buf_printf(&out, "%s%s%s\r\n", cmd, arg ? " " : "", arg ? arg : "");
		int ret = client_conn_write(&p->conn, out.data, out.len);
		explicit_bzero(out.data, out.len);
		buf_deinit(&out);
		if (ret < 0)
			return -1;
	}
	if (client_conn_line(&p->conn, &p->line, POP3_LINE_MAX) < 0)
		return -1;
	if (strncmp(buf_cstr(&p->line), "+OK", 3) == 0)
		return 1;
	if (strncmp(buf_cstr(&p->line), "-ERR", 4) == 0)
		return 0;
	return client_fail(CLIENT_ERR_OTHER, "%s does not speak POP3", p->acct->in.host);
}

/* A multi-line answer, dot-unstuffed, LF line ends, into out. */
static int pop3_multi(struct pop3 *p, struct buf *out)
{
	for (;;) {
		if (client_conn_line(&p->conn, &p->line, POP3_LINE_MAX) < 0)
			return -1;
		const char *s = buf_cstr(&p->line);
		if (strcmp(s, ".") == 0)
			return 1;
		if (s[0] == '.')
			s++;
		if (buf_puts(out, s) < 0 || buf_putc(out, '\n') < 0)
			return client_fail(CLIENT_ERR_OTHER, "message too big");
	}
}

static int pop3_login(struct pop3 *p)
{
	struct client_account *a = p->acct;
	int ret;

	if (pop3_cmd(p, NULL, NULL) <= 0)
		return client_fail(CLIENT_ERR_NET, "%s port %u does not greet as POP3",
				   a->in.host, a->in.port);
	if (a->in.tls == CLIENT_TLS_STARTTLS) {
		if (pop3_cmd(p, "STLS", NULL) <= 0)
			return client_fail(CLIENT_ERR_TLS, "%s refused STLS", a->in.host);
		if (client_conn_starttls(&p->conn) < 0)
			return -1;
	}
	if (client_password(a) < 0)
		return -1;
	ret = pop3_cmd(p, "USER", a->user);
	if (ret > 0)
		ret = pop3_cmd(p, "PASS", a->password);
	if (ret == 0)
		return client_fail(CLIENT_ERR_AUTH, "wrong user name or password for %s on "
				   "%s (%s)", a->user, a->in.host, buf_cstr(&p->line));
	return ret;
}

struct uidl {
	unsigned n;
	char id[72];
};

static int pop3_uidl(struct pop3 *p, struct uidl **r, size_t *n_r)
{
	struct buf list;
	char *line, *nl;

	*r = NULL;
	*n_r = 0;
	if (pop3_cmd(p, "UIDL", NULL) <= 0)
		return client_fail(CLIENT_ERR_OTHER, "%s does not support UIDL",
				   p->acct->in.host);
	buf_init(&list, POP3_MESSAGE_MAX);
	if (pop3_multi(p, &list) < 0) {
		buf_deinit(&list);
		return -1;
	}
	for (line = list.data; line != NULL && (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		struct uidl u;
		*nl = '\0';
		if (sscanf(line, "%u %71s", &u.n, u.id) != 2)
			continue;
		*r = xrealloc(*r, (*n_r + 1) * sizeof(**r));
		(*r)[(*n_r)++] = u;
	}
	buf_deinit(&list);
	return 1;
}

static int fetch_one(struct pop3 *p, struct client_cache *c, const struct uidl *u)
{
	char num[16];
	struct buf msg;
	int ret;

	snprintf(num, sizeof(num), "%u", u->n);
	if ((ret = pop3_cmd(p, "RETR", num)) <= 0)
		return ret < 0 ? -1 : client_fail(CLIENT_ERR_OTHER, "RETR %u: %s", u->n,
						   buf_cstr(&p->line));
	buf_init(&msg, POP3_MESSAGE_MAX);
	ret = pop3_multi(p, &msg);
	if (ret > 0)
		ret = client_cache_store(c, "INBOX", client_cache_next_uid(c, "INBOX"), 0, 0,
					 msg.data != NULL ? msg.data : "", msg.len);
	buf_deinit(&msg);
	if (ret > 0)
		ret = client_cache_pop3_mark(c, u->id);
	return ret;
}

int client_pop3_fetch(struct client_account *a, bool keep, bool show_progress)
{
	struct pop3 p = { .acct = a };
	struct client_cache *c = NULL;
	struct uidl *u = NULL;
	size_t n = 0, fetched = 0, deleted = 0;
	int ret;

	buf_init(&p.line, POP3_LINE_MAX + 1);
	ret = client_conn_open(&p.conn, a, &a->in);
	if (ret > 0)
		ret = pop3_login(&p);
	if (ret > 0)
		ret = client_cache_open(a, &c);
	if (ret > 0)
		ret = pop3_uidl(&p, &u, &n);
	for (size_t i = 0; ret > 0 && i < n; i++) {
		if (show_progress)
			fprintf(stderr, "\rPOP3: %zu/%zu", i + 1, n);
		if (!client_cache_pop3_seen(c, u[i].id)) {
			ret = fetch_one(&p, c, &u[i]);
			fetched += ret > 0;
		}
		if (ret > 0 && !keep) {
			char num[16];
			snprintf(num, sizeof(num), "%u", u[i].n);
			ret = pop3_cmd(&p, "DELE", num);
			deleted += ret > 0;
			if (ret == 0)
				ret = client_fail(CLIENT_ERR_OTHER, "DELE %u: %s", u[i].n,
						  buf_cstr(&p.line));
		}
	}
	if (show_progress && n > 0)
		fputc('\n', stderr);
	if (ret > 0 && pop3_cmd(&p, "QUIT", NULL) <= 0)
		ret = client_fail(CLIENT_ERR_OTHER, "QUIT failed: the deletions may not "
				  "have been made");
	if (ret > 0)
		printf("POP3: %zu new message%s, %zu deleted on the server\n", fetched,
		       fetched == 1 ? "" : "s", deleted);
	if (p.conn.fd >= 0)
		client_conn_close(&p.conn);
	buf_deinit(&p.line);
	free(u);
	if (c != NULL)
		client_cache_close(&c);
	return ret > 0 ? 1 : -1;
}
