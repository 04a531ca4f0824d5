/*
 * control.c - the command socket: requests of `correio queue` and
 * `correio sendmail`.
 *
 *   request = "DUMP" [SP id] / "TEXT" SP id / "FLUSH" [SP id] /
 *             "HOLD" SP id / "RELEASE" SP id / "DELETE" SP id /
 *             "STATS" / "UNLOCK" SP account /
 *             "NEWMAIL" SP account / "ACMERENEW" /
 *             "SUBMIT" SP sender *(SP recipient) LF message
 *   answer  = ("ok" / "error: " text) LF *(text LF)
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "acme/acme.h"
#include "auth/accounts.h"
#include "auth/auth.h"
#include "delivery/resolve.h"
#include "mime/mime.h"
#include "store/store.h"
#include "lib-smtp/smtp_parse.h"
#include "lib/metrics.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mta/mta.h"
#include "mailauth/mailauth.h"
#include "queue/queue.h"
#include "conn/services.h"

#define CONTROL_LINE_MAX 65536
#define CONTROL_DUMP_MAX (64u << 20)	/* what `correio queue` reads */

struct control {
	struct services *srv;
	struct evconnlistener *listener;
	char path[1100];
	dev_t dev;			/* the socket file we made */
	ino_t ino;
};

struct control_conn {
	struct control *ctl;
	struct bufferevent *bev;
	uid_t uid;
	bool admin;
	struct queue_msg *msg;		/* SUBMIT: the message being read */
	bool line_start;		/* SUBMIT: CRLF -> LF across reads */
	bool cr;
	bool committing;
	bool closing;
};

static void conn_free(struct control_conn *c)
{
	queue_msg_abort(&c->msg);
	bufferevent_free(c->bev);
	free(c);
}

static void answer(struct control_conn *c, const char *first, const struct buf *body)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "%s\n", first);
	if (body != NULL && body->len > 0)
		evbuffer_add(out, body->data, body->len);
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
}

/* ---- administration ---- */

/* `correio user unlock`: forget an account's failed logins. */
static int unlock_account(struct control_conn *c, const char *account, struct buf *out)
{
	unsigned n = auth_unlock(c->ctl->srv->auth, account);

	buf_printf(out, "%s: failed logins from %u address(es) forgotten\n", account, n);
	return 1;
}

/* `correio user import` wrote mail into the account's Maildir: sessions
   that have its INBOX open sync now (IDLE clients hear of it at once). */
static int new_mail(struct control_conn *c, char *account, struct buf *out)
{
	str_lower(account);
	if (c->ctl->srv->store != NULL)
		store_notify_delivery(c->ctl->srv->store, account);
	buf_printf(out, "%s: the running server's open sessions were told of new mail\n",
		   account);
	return 1;
}

/* `correio tls renew`: wake the ACME thread. */
static int acme_renew(struct control_conn *c, struct buf *out)
{
	struct services *srv = c->ctl->srv;

	if (srv->acme == NULL) {
		buf_puts(out, "[tls] acme is off in the running server\n");
		return -1;
	}
	acme_renew_now(srv->acme);
	buf_printf(out, "renewal started: the certificate is ordered from %s; the log "
		   "tells the outcome\n", srv->cfg.acme_directory);
	return 1;
}

/* DELETE of a damaged message (queue/damaged/, set aside at start):
   1 done, 0 id is not one, -1 error (in out). */
static int damaged_delete(struct queue *q, const char *id, struct buf *out)
{
	int ret;

	if ((ret = queue_damaged_delete(q, id)) > 0) {
		log_info("%s: damaged message deleted by the administrator", id);
		buf_printf(out, "%s deleted\n", id);
	} else if (ret < 0) {
		buf_printf(out, "cannot delete the damaged message %s\n", id);
	}
	return ret;
}

/* DUMP [id]: the envelopes (mta_dump), then each damaged message as
   "damaged " and its queue_damaged_list line.  1, 0 (id unknown), -1. */
static int dump_request(struct control_conn *c, const char *id, struct buf *out)
{
	struct queue *q = c->ctl->srv->queue;
	struct buf damaged;
	int ret = mta_dump(c->ctl->srv->mta, id, out);

	if (ret < 0 || (ret > 0 && id != NULL))
		return ret;
	buf_init(&damaged, 1 << 20);
	if ((id == NULL ? queue_damaged_list(q, &damaged) :
	     queue_damaged_show(q, id, &damaged)) < 0)
		log_err("queue: cannot list the damaged messages: %m");
	for (const char *p = buf_cstr(&damaged), *nl; (nl = strchr(p, '\n')) != NULL;
	     p = nl + 1) {
		buf_printf(out, "damaged %.*s\n", (int)(nl - p), p);
		ret = 1;
	}
	buf_deinit(&damaged);
	return ret;
}

/* TEXT id: "ok" then the message text as queued, straight from its file
   (up to the message size limit: not through a capped buffer). */
static void text_request(struct control_conn *c, const char *id)
{
	char first[600];
	int fd = -1;

	if (mta_dump(c->ctl->srv->mta, id, NULL) <= 0 ||
	    queue_text_open(c->ctl->srv->queue, id, &fd) <= 0) {
		snprintf(first, sizeof(first), "error: no message %s in the queue", id);
		answer(c, first, NULL);
		return;
	}
	answer(c, "ok", NULL);
	if (evbuffer_add_file(bufferevent_get_output(c->bev), fd, 0, -1) < 0)
		close(fd);
}

static void admin_request(struct control_conn *c, char *verb, char *arg)
{
	struct mta *m = c->ctl->srv->mta;
	struct queue *q = c->ctl->srv->queue;
	struct buf out;
	int ret;

	if (strcmp(verb, "TEXT") == 0 && arg != NULL) {
		text_request(c, arg);
		return;
	}
	/* a whole queue's envelopes: as much as the reader takes */
	buf_init(&out, strcmp(verb, "DUMP") == 0 ? CONTROL_DUMP_MAX : 1 << 20);
	if (strcmp(verb, "DUMP") == 0) {
		if ((ret = dump_request(c, arg, &out)) == 0) {
			buf_printf(&out, "no message %s in the queue\n", arg);
			ret = -1;
		}
	} else if (strcmp(verb, "DELETE") == 0 && arg != NULL &&
		   (ret = damaged_delete(q, arg, &out)) != 0)
		;	/* a damaged message: answered */
	else if (strcmp(verb, "FLUSH") == 0)
		ret = mta_flush(m, arg, &out);
	else if ((strcmp(verb, "HOLD") == 0 || strcmp(verb, "RELEASE") == 0) && arg != NULL)
		ret = mta_hold(m, arg, verb[0] == 'H', &out);
	else if (strcmp(verb, "DELETE") == 0 && arg != NULL)
		ret = mta_delete(m, arg, &out);
	else if (strcmp(verb, "STATS") == 0)
		ret = mta_stats(m, &out);
	else if (strcmp(verb, "TLSRPT") == 0)
		ret = tlsrpt_send(m, true, &out);
	else if (strcmp(verb, "UNLOCK") == 0 && arg != NULL)
		ret = unlock_account(c, arg, &out);
	else if (strcmp(verb, "NEWMAIL") == 0 && arg != NULL)
		ret = new_mail(c, arg, &out);
	else if (strcmp(verb, "ACMERENEW") == 0)
		ret = acme_renew(c, &out);
	else {
		buf_puts(&out, "unknown request\n");
		ret = -1;
	}
	if (ret < 0) {
		buf_truncate(&out, out.len > 0 ? out.len - 1 : 0);
		char first[600];
		snprintf(first, sizeof(first), "error: %s", buf_cstr(&out));
		answer(c, first, NULL);
	} else {
		answer(c, "ok", &out);
	}
	buf_deinit(&out);
}

/* ---- local submission ---- */

static void on_submitted(void *ctx, int result)
{
	struct control_conn *c = ctx;
	char first[64];

	c->committing = false;
	if (result > 0)
		metrics_received(METRICS_LOCAL);
	if (c->bev == NULL) {
		free(c);
		return;
	}
	snprintf(first, sizeof(first), result > 0 ? "ok" : "error: cannot queue the message");
	answer(c, first, NULL);
}

/* Parse and check one address argument into key (lower-case domain). */
static int take_address(const char *arg, bool allow_empty, char *key, size_t size)
{
	struct address a;
	const char *error;

	if (allow_empty && arg[0] == '\0') {
		key[0] = '\0';
		return 1;
	}
	if (address_parse(arg, strlen(arg), true, &a, &error) < 0)
		return -1;
	str_lower(a.domain);
	snprintf(key, size, "%s@%s", a.local, a.domain);
	return 1;
}

static void write_trace(struct control_conn *c, struct envelope *e)
{
	const struct config *cfg = &c->ctl->srv->cfg;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	struct buf h;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_init(&h, 0);
	buf_printf(&h, "Return-Path: <%s>\n", e->sender);
	queue_msg_write(c->msg, h.data, h.len);
	queue_msg_mark_header(c->msg);
	buf_reset(&h);
	buf_printf(&h, "Received: by %s (correio, from userid %u)\n\tid %s; %s\n",
		   cfg->hostname, (unsigned)c->uid, e->id, date);
	queue_msg_write(c->msg, h.data, h.len);
	buf_deinit(&h);
}

static int submit_begin(struct control_conn *c, char *args)
{
	struct envelope *e = envelope_new();
	char *save = NULL, key[600];
	const char *error;
	char *sender = strtok_r(args, " ", &save);

	if (sender == NULL || take_address(strcmp(sender, "<>") == 0 ? "" : sender, true,
					   key, sizeof(key)) < 0) {
		envelope_free(&e);
		return -1;
	}
	envelope_set(&e->sender, key);
	for (char *r = strtok_r(NULL, " ", &save); r != NULL; r = strtok_r(NULL, " ", &save)) {
		if (take_address(r, false, key, sizeof(key)) < 0) {
			envelope_free(&e);
			return -1;
		}
		envelope_add_rcpt(e, key, NULL, 0);
		/* resolved once, here: delivery follows what is recorded (a
		   store error leaves it to be resolved when the relay loads it) */
		resolve_record(&c->ctl->srv->cfg, c->ctl->srv->accounts, e, e->n_rcpts - 1);
	}
	if (e->n_rcpts == 0) {
		envelope_free(&e);
		return -1;
	}
	e->arrival = (uint64_t)time(NULL);
	e->body = SMTP_BODY_8BITMIME;
	envelope_set(&e->host, c->ctl->srv->cfg.hostname);
	if (queue_msg_new(c->ctl->srv->queue, e, &c->msg, &error) < 0)
		return -1;
	str_copy(e->id, queue_msg_id(c->msg), sizeof(e->id));
	write_trace(c, queue_msg_envelope(c->msg));
	/* local sendmail is submission: signed like authenticated mail */
	queue_msg_set_auth(c->msg, mailauth_new_submission(&c->ctl->srv->cfg,
							   c->ctl->srv->accounts), NULL, 0);
	c->line_start = true;
	return 1;
}

/* Message bytes: CRLF becomes LF, as correio stores mail. */
static void submit_data(struct control_conn *c, const char *p, size_t n)
{
	struct buf out;

	buf_init(&out, 0);
	for (size_t i = 0; i < n; i++) {
		if (c->cr && p[i] != '\n')
			buf_putc(&out, '\r');
		c->cr = p[i] == '\r';
		if (!c->cr)
			buf_putc(&out, p[i]);
	}
	if (queue_msg_size(c->msg) + out.len > c->ctl->srv->cfg.message_size + 4096)
		c->closing = true;	/* too big: refused at the end */
	else
		queue_msg_write(c->msg, out.data, out.len);
	buf_deinit(&out);
}

static void submit_end(struct control_conn *c)
{
	if (c->cr)
		queue_msg_write(c->msg, "\r", 1);
	if (c->closing) {
		queue_msg_abort(&c->msg);
		c->closing = false;
		answer(c, "error: message too big", NULL);
		return;
	}
	log_info("%s: uid=%u, from=<%s>, size=%zu, nrcpt=%u (local submission)",
		 queue_msg_id(c->msg), (unsigned)c->uid, queue_msg_envelope(c->msg)->sender,
		 queue_msg_size(c->msg), queue_msg_envelope(c->msg)->n_rcpts);
	c->committing = true;
	queue_commit(&c->msg, on_submitted, c);
}

/* ---- connection ---- */

static void dispatch(struct control_conn *c, char *line)
{
	char *arg = strchr(line, ' ');

	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(line, "SUBMIT") == 0) {
		if (arg == NULL || submit_begin(c, arg) < 0)
			answer(c, "error: bad sender or recipient", NULL);
		return;
	}
	if (!c->admin) {
		answer(c, "error: permission denied (root or the correio user only)", NULL);
		return;
	}
	admin_request(c, line, arg);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct control_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	if (c->msg == NULL && !c->closing) {
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
				answer(c, "error: request too long", NULL);
			return;
		}
		dispatch(c, line);
		free(line);
	}
	if (c->msg != NULL) {
		struct evbuffer_iovec v;
		while (evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
			submit_data(c, v.iov_base, v.iov_len);
			evbuffer_drain(in, v.iov_len);
		}
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct control_conn *c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct control_conn *c = arg;

	if ((what & BEV_EVENT_EOF) && c->msg != NULL) {
		on_read(bev, c);
		submit_end(c);
		return;
	}
	if (c->committing) {
		bufferevent_free(c->bev);
		c->bev = NULL;		/* on_submitted frees c */
		return;
	}
	conn_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int len, void *arg)
{
	struct control *ctl = arg;
	struct control_conn *c = xcalloc(1, sizeof(*c));
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	c->ctl = ctl;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->uid = cred.uid;
		c->admin = cred.uid == 0 || cred.uid == geteuid();
	}
	c->bev = bufferevent_socket_new(ctl->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

int control_open(struct services *srv, struct control **r, const char **error_r)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;

	ctl->srv = srv;
	config_control_path(srv->cfg.data_dir, ctl->path, sizeof(ctl->path));
	if (strlen(ctl->path) >= sizeof(sun.sun_path)) {
		*error_r = "data_dir is too long for the control socket path";
		free(ctl);
		return -1;
	}
	str_copy(sun.sun_path, ctl->path, sizeof(sun.sun_path));
	unlink(ctl->path);
	ctl->listener = evconnlistener_new_bind(srv->base, on_accept, ctl,
						LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
						(struct sockaddr *)&sun, sizeof(sun));
	if (ctl->listener == NULL || chmod(ctl->path, 0666) < 0 ||
	    lstat(ctl->path, &st) < 0) {
		*error_r = "cannot create the control socket";
		if (ctl->listener != NULL)
			evconnlistener_free(ctl->listener);
		free(ctl);
		return -1;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	*r = ctl;
	return 1;
}

void control_free(struct control **cp)
{
	struct control *c = *cp;
	struct stat st;

	if (c == NULL)
		return;
	evconnlistener_free(c->listener);
	/* a server started after us may have made its own socket there */
	if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c);
	*cp = NULL;
}
