/*
 * dsn.c - the delivery status notifications correio sends: bounces, delay
 * notices and success notices (RFC 3464, RFC 3461, RFC 6533).
 *
 * The delivery code gathers each recipient's fate and calls dsn_compose();
 * the text it gets back is queued like any other message, from <>.  The
 * notice is built in three steps: the explanation and the status fields
 * go to buffers of their own, a boundary is chosen that none of the parts
 * contains, then the header and the parts are written out.  The original
 * is never copied more than once (into the output).
 *
 * Limits: field values are cut at DSN_FIELD_MAX bytes; the original is
 * returned whole only up to info->max_return bytes; the output buf's
 * maximum caps the whole.
 *
 *   delivery-status-content = per-message-fields
 *                             1*( CRLF per-recipient-fields )
 *   status-code = class "." subject "." detail     (RFC 3463)
 */
#include "mime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "lib/util.h"

#define DSN_BOUNDARY_TRIES 8
#define DSN_QUEUE_ID_MAX 64

struct dsn_ctx {
	const struct dsn_info *info;
	const struct dsn_rcpt *rcpts;
	unsigned n;
	const char *orig;	/* the original without its Return-Path: */
	size_t orig_len;
	size_t hdr_len;		/* its header section, last LF included */
	bool global;		/* UTF-8 addresses: RFC 6533 types */
	bool overflow;		/* an append was refused */
	struct buf text, status;
	char boundary[128];
	struct dsn_result result;
};

/* ---- small helpers ---- */

static void put(struct dsn_ctx *c, struct buf *b, const char *s)
{
	if (buf_puts(b, s) < 0)
		c->overflow = true;
}

static void putf(struct dsn_ctx *c, struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void putf(struct dsn_ctx *c, struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (buf_vprintf(b, fmt, ap) < 0)
		c->overflow = true;
	va_end(ap);
}

/* A field value: control characters become spaces, 8-bit bytes "?"
   unless allowed, and it is cut at DSN_FIELD_MAX bytes. */
static void put_value(struct dsn_ctx *c, struct buf *b, const char *v,
		      bool allow_8bit)
{
	unsigned char u;

	for (size_t i = 0; v[i] != '\0' && i < DSN_FIELD_MAX; i++) {
		u = (unsigned char)v[i];
		if (u < 32 || u == 127)
			u = ' ';
		else if (u >= 0x80 && !allow_8bit)
			u = '?';
		if (buf_putc(b, (char)u) < 0)
			c->overflow = true;
	}
}

/* RFC 5322 date-time in local time, "Tue, 01 Jul 2025 14:03:09 +0200";
   the names are written out so that no locale can change them. */
static void dsn_date(time_t t, char *out, size_t size)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;
	long off;

	if (localtime_r(&t, &tm) == NULL) {
		str_copy(out, "Thu, 01 Jan 1970 00:00:00 +0000", size);
		return;
	}
	off = tm.tm_gmtoff / 60;
	snprintf(out, size, "%s, %02d %s %d %02d:%02d:%02d %c%02ld%02ld",
		 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 off < 0 ? '-' : '+', labs(off) / 60 % 100, labs(off) % 60);
}

static uint64_t dsn_random(void)
{
	static uint64_t counter;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)time(NULL) * 6364136223846793005ULL + ++counter;
	return r;
}

/* ---- checking the arguments ---- */

/* Length of the status code at the start of s ("5.1.1"), 0 if none. */
static size_t status_scan(const char *s)
{
	size_t i = 1, digits;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	for (int part = 0; part < 2; part++) {
		if (s[i++] != '.')
			return 0;
		for (digits = 0; s[i] >= '0' && s[i] <= '9'; digits++)
			i++;
		if (digits < 1 || digits > 3)
			return 0;
	}
	return i;
}

static bool action_valid(const char *a)
{
	static const char *const actions[] = {
		"failed", "delayed", "delivered", "relayed", "expanded"
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (a != NULL && strcmp(a, actions[i]) == 0)
			return true;
	}
	return false;
}

static bool queue_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z')))
			return false;
	}
	return i > 0 && i <= DSN_QUEUE_ID_MAX;
}

static const char *dsn_check(const struct dsn_info *info,
			     const struct dsn_rcpt *rcpts, unsigned n)
{
	if (info->kind != DSN_FAILURE && info->kind != DSN_DELAY &&
	    info->kind != DSN_SUCCESS)
		return "bad notice kind";
	if (info->reporting_mta == NULL || info->from_address == NULL ||
	    info->to == NULL || info->to[0] == '\0')
		return "missing reporting MTA, From or To address";
	if (info->queue_id == NULL || !queue_id_valid(info->queue_id))
		return "bad queue id";
	if (n == 0)
		return "no recipients to report on";
	for (unsigned i = 0; i < n; i++) {
		if (rcpts[i].address == NULL || rcpts[i].address[0] == '\0')
			return "recipient without an address";
		if (!action_valid(rcpts[i].action))
			return "bad recipient action";
		if (rcpts[i].status == NULL || status_scan(rcpts[i].status) == 0 ||
		    rcpts[i].status[status_scan(rcpts[i].status)] != '\0')
			return "bad recipient status";
	}
	return NULL;
}

/* ---- the original ---- */

/* The offset after a leading Return-Path: field (0 if there is none). */
static size_t skip_return_path(const char *p, size_t len)
{
	const char *nl;
	size_t s = 0;

	if (len < 12 || strncasecmp(p, "Return-Path:", 12) != 0)
		return 0;
	do {
		nl = memchr(p + s, '\n', len - s);
		s = nl == NULL ? len : (size_t)(nl - p) + 1;
	} while (s < len && (p[s] == ' ' || p[s] == '\t'));
	return s;
}

/* The header section of p[0..len): its fields, the last LF included. */
static size_t header_section(const char *p, size_t len)
{
	const char *blank;

	if (len > 0 && p[0] == '\n')
		return 0;
	blank = memmem(p, len, "\n\n", 2);
	return blank == NULL ? len : (size_t)(blank - p) + 1;
}

static void original_setup(struct dsn_ctx *c, const char *orig, size_t len)
{
	size_t skip = skip_return_path(orig, len);

	c->orig = orig + skip;
	c->orig_len = len - skip;
	c->hdr_len = header_section(c->orig, c->orig_len);
	c->result.returned_full = c->info->ret_full &&
		(c->info->max_return == 0 || c->orig_len <= c->info->max_return);
}

/* ---- part 1: the explanation ---- */

static const char *const dsn_subjects[] = {
	[DSN_FAILURE] = "Undelivered Mail Returned to Sender",
	[DSN_DELAY] = "Delayed Mail (still being retried)",
	[DSN_SUCCESS] = "Successful Mail Delivery Report",
};

static const char *const dsn_intros[] = {
	[DSN_FAILURE] =
	"Your message could not be delivered to one or more of its\n"
	"recipients.  This is a permanent error: correio has given up.\n",
	[DSN_DELAY] =
	"Your message has not yet been delivered to one or more of its\n"
	"recipients.  Delivery is being retried; you do not need to send\n"
	"it again.  You will be told if it finally fails.\n",
	[DSN_SUCCESS] =
	"Your message was delivered to the recipients below, as you\n"
	"asked to be told.\n",
};

static const char *action_text(const char *action)
{
	if (strcmp(action, "failed") == 0)
		return "delivery failed";
	if (strcmp(action, "delayed") == 0)
		return "delivery delayed";
	if (strcmp(action, "delivered") == 0)
		return "delivered";
	if (strcmp(action, "relayed") == 0)
		return "relayed to a system that sends no further notices";
	return "delivered to a list";
}

static void text_rcpt(struct dsn_ctx *c, const struct dsn_rcpt *r)
{
	char date[64];

	put(c, &c->text, "<");
	put_value(c, &c->text, r->address, true);
	putf(c, &c->text, ">: %s (%s)\n", action_text(r->action), r->status);
	if (r->remote_mta != NULL) {
		put(c, &c->text, "    Remote server: ");
		put_value(c, &c->text, r->remote_mta, false);
		put(c, &c->text, "\n");
	}
	if (r->diagnostic != NULL) {
		put(c, &c->text, "    It said: ");
		put_value(c, &c->text, r->diagnostic, false);
		put(c, &c->text, "\n");
	}
	if (strcmp(r->action, "delayed") == 0 && r->will_retry_until != 0) {
		dsn_date(r->will_retry_until, date, sizeof(date));
		putf(c, &c->text, "    Retried until: %s\n", date);
	}
	put(c, &c->text, "\n");
}

static void text_build(struct dsn_ctx *c)
{
	put(c, &c->text, "This is the mail system at ");
	put_value(c, &c->text, c->info->reporting_mta, false);
	put(c, &c->text, ".\n\n");
	put(c, &c->text, dsn_intros[c->info->kind]);
	put(c, &c->text, c->result.returned_full ?
	    "The message is attached below.\n\n" :
	    "The header section of the message is attached below.\n\n");
	for (unsigned i = 0; i < c->n; i++)
		text_rcpt(c, &c->rcpts[i]);
}

/* ---- part 2: the delivery-status fields ---- */

/* Original-Recipient: the ORCPT "addr-type;xtext" decoded; an ORCPT that
   does not decode to printable ASCII is shown as given. */
static void status_orcpt(struct dsn_ctx *c, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	struct buf dec;
	bool ok;

	buf_init(&dec, DSN_FIELD_MAX);
	ok = semi != NULL && semi > orcpt &&
		xtext_decode(semi + 1, strlen(semi + 1), &dec) > 0 &&
		!qp_is_8bit(dec.data, dec.len) &&
		strcspn(buf_cstr(&dec), "\r\n\t\x7f") == dec.len;
	put(c, &c->status, "Original-Recipient: ");
	if (ok) {
		putf(c, &c->status, "%.*s; ", (int)(semi - orcpt), orcpt);
		put_value(c, &c->status, buf_cstr(&dec), false);
	} else {
		put_value(c, &c->status, orcpt, false);
	}
	put(c, &c->status, "\n");
	buf_deinit(&dec);
}

static void status_field(struct dsn_ctx *c, const char *name,
			 const char *type, const char *value)
{
	putf(c, &c->status, "%s: ", name);
	if (strchr(value, ';') == NULL)
		putf(c, &c->status, "%s; ", type);
	put_value(c, &c->status, value, false);
	put(c, &c->status, "\n");
}

static void status_date(struct dsn_ctx *c, const char *name, time_t t)
{
	char date[64];

	dsn_date(t, date, sizeof(date));
	putf(c, &c->status, "%s: %s\n", name, date);
}

static void status_rcpt(struct dsn_ctx *c, const struct dsn_rcpt *r)
{
	bool utf8 = qp_is_8bit(r->address, strlen(r->address));

	put(c, &c->status, "\n");
	if (r->orcpt != NULL)
		status_orcpt(c, r->orcpt);
	putf(c, &c->status, "Final-Recipient: %s; ", utf8 ? "utf-8" : "rfc822");
	put_value(c, &c->status, r->address, true);
	putf(c, &c->status, "\nAction: %s\nStatus: %s\n", r->action, r->status);
	if (r->remote_mta != NULL)
		status_field(c, "Remote-MTA", "dns", r->remote_mta);
	if (r->diagnostic != NULL)
		status_field(c, "Diagnostic-Code", "smtp", r->diagnostic);
	if (r->last_attempt != 0)
		status_date(c, "Last-Attempt-Date", r->last_attempt);
	if (strcmp(r->action, "delayed") == 0 && r->will_retry_until != 0)
		status_date(c, "Will-Retry-Until", r->will_retry_until);
}

/* Original-Envelope-Id: the ENVID decoded, or as given if it does not
   decode to printable ASCII. */
static void status_envid(struct dsn_ctx *c, const char *envid)
{
	struct buf dec;
	bool ok;

	buf_init(&dec, DSN_FIELD_MAX);
	ok = xtext_decode(envid, strlen(envid), &dec) > 0 &&
		!qp_is_8bit(dec.data, dec.len) &&
		strcspn(buf_cstr(&dec), "\r\n\t\x7f") == dec.len;
	put(c, &c->status, "Original-Envelope-Id: ");
	put_value(c, &c->status, ok ? buf_cstr(&dec) : envid, false);
	put(c, &c->status, "\n");
	buf_deinit(&dec);
}

static void status_build(struct dsn_ctx *c)
{
	const struct dsn_info *info = c->info;

	put(c, &c->status, "Reporting-MTA: dns; ");
	put_value(c, &c->status, info->reporting_mta, false);
	putf(c, &c->status, "\nX-Correio-Queue-ID: %s\n", info->queue_id);
	if (info->envid != NULL)
		status_envid(c, info->envid);
	if (info->arrival != 0)
		status_date(c, "Arrival-Date", info->arrival);
	for (unsigned i = 0; i < c->n; i++)
		status_rcpt(c, &c->rcpts[i]);
}

/* ---- the whole ---- */

static bool boundary_in(const struct dsn_ctx *c, const char *p, size_t len)
{
	return memmem(p, len, c->boundary, strlen(c->boundary)) != NULL;
}

/* "=_" cannot occur in quoted-printable text; the queue id and a random
   part make the rest unique.  Checked against every part all the same. */
static int boundary_choose(struct dsn_ctx *c)
{
	for (int i = 0; i < DSN_BOUNDARY_TRIES; i++) {
		snprintf(c->boundary, sizeof(c->boundary), "=_correio_%s_%016llx",
			 c->info->queue_id, (unsigned long long)dsn_random());
		if (!boundary_in(c, c->text.data, c->text.len) &&
		    !boundary_in(c, c->status.data, c->status.len) &&
		    !boundary_in(c, c->orig, c->orig_len))
			return 1;
	}
	return -1;
}

static void headers_write(struct dsn_ctx *c, struct buf *out)
{
	char date[64];
	time_t now = c->info->date != 0 ? c->info->date : time(NULL);

	dsn_date(now, date, sizeof(date));
	put(c, out, "From: Mail Delivery System <");
	put_value(c, out, c->info->from_address, false);
	put(c, out, ">\nTo: <");
	put_value(c, out, c->info->to, true);
	putf(c, out, ">\nSubject: %s\nDate: %s\n", dsn_subjects[c->info->kind],
	     date);
	putf(c, out, "Message-ID: <%s.%016llx@", c->info->queue_id,
	     (unsigned long long)dsn_random());
	put_value(c, out, c->info->reporting_mta, false);
	put(c, out, ">\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n");
	putf(c, out, "Content-Type: multipart/report; report-type=delivery-status;\n"
	     "\tboundary=\"%s\"\n", c->boundary);
	if (c->result.need_8bitmime)
		put(c, out, "Content-Transfer-Encoding: 8bit\n");
	put(c, out, "\nThis is a MIME-encapsulated message.\n\n");
}

/* A part: its delimiter, header fields, body (ending with an LF). */
static void part_write(struct dsn_ctx *c, struct buf *out, const char *desc,
		       const char *type, bool eight, const char *p, size_t len)
{
	putf(c, out, "--%s\nContent-Description: %s\nContent-Type: %s\n",
	     c->boundary, desc, type);
	if (eight)
		put(c, out, "Content-Transfer-Encoding: 8bit\n");
	put(c, out, "\n");
	if (len > 0 && buf_append(out, p, len) < 0)
		c->overflow = true;
	if (len > 0 && p[len - 1] != '\n')
		put(c, out, "\n");
	/* this LF belongs to the next delimiter */
	put(c, out, "\n");
}

static const char *const returned_desc[] = {
	[DSN_FAILURE] = "Undelivered Message",
	[DSN_DELAY] = "Delayed Message",
	[DSN_SUCCESS] = "Delivered Message",
};

/* Part 3: the whole original or its header section; message/global and
   message/global-headers when that section holds UTF-8 (RFC 6532). */
static void returned_write(struct dsn_ctx *c, struct buf *out)
{
	bool full = c->result.returned_full;
	size_t len = full ? c->orig_len : c->hdr_len;
	bool utf8 = qp_is_8bit(c->orig, c->hdr_len);
	const char *type;
	char desc[64];

	if (full)
		type = utf8 ? "message/global" : "message/rfc822";
	else
		type = utf8 ? "message/global-headers" : "text/rfc822-headers";
	snprintf(desc, sizeof(desc), "%s%s", returned_desc[c->info->kind],
		 full ? "" : " Headers");
	part_write(c, out, desc, type, qp_is_8bit(c->orig, len), c->orig, len);
}

static void flags_set(struct dsn_ctx *c)
{
	size_t len = c->result.returned_full ? c->orig_len : c->hdr_len;

	c->global = qp_is_8bit(c->info->to, strlen(c->info->to));
	for (unsigned i = 0; i < c->n; i++) {
		if (qp_is_8bit(c->rcpts[i].address, strlen(c->rcpts[i].address)))
			c->global = true;
	}
	c->result.need_smtputf8 = c->global || qp_is_8bit(c->orig, c->hdr_len);
	c->result.need_8bitmime = c->global || qp_is_8bit(c->orig, len);
}

static void message_write(struct dsn_ctx *c, struct buf *out)
{
	headers_write(c, out);
	part_write(c, out, "Notification", c->global ?
		   "text/plain; charset=utf-8" : "text/plain; charset=us-ascii",
		   c->global, c->text.data, c->text.len);
	part_write(c, out, "Delivery report", c->global ?
		   "message/global-delivery-status" : "message/delivery-status",
		   c->global, c->status.data, c->status.len);
	returned_write(c, out);
	putf(c, out, "--%s--\n", c->boundary);
}

int dsn_compose(const struct dsn_info *info, const struct dsn_rcpt *rcpts,
		unsigned n, const char *original, size_t original_len,
		struct buf *out, struct dsn_result *result_r,
		const char **error_r)
{
	struct dsn_ctx c = { .info = info, .rcpts = rcpts, .n = n };
	size_t start = out->len;
	int ret = 1;

	if ((*error_r = dsn_check(info, rcpts, n)) != NULL)
		return -1;
	buf_init(&c.text, 0);
	buf_init(&c.status, 0);
	original_setup(&c, original, original_len);
	flags_set(&c);
	text_build(&c);
	status_build(&c);
	if (boundary_choose(&c) < 0) {
		*error_r = "no MIME boundary found";
		ret = -1;
	} else {
		message_write(&c, out);
	}
	if (ret > 0 && c.overflow) {
		*error_r = "notice too large";
		ret = -1;
	}
	if (ret < 0)
		buf_truncate(out, start);
	else
		*result_r = c.result;
	buf_deinit(&c.text);
	buf_deinit(&c.status);
	return ret;
}

/* ---- helpers for the callers ---- */

int dsn_status_from_reply(int code, const char *enhanced, char *out,
			  size_t size)
{
	size_t n = enhanced != NULL ? status_scan(enhanced) : 0;

	if (code < 200 || code > 599)
		return -1;
	if (n > 0 && enhanced[0] - '0' == code / 100 &&
	    (enhanced[n] == '\0' || enhanced[n] == ' ')) {
		if (n >= size)
			return -1;
		memcpy(out, enhanced, n);
		out[n] = '\0';
		return 1;
	}
	if (size < 6)
		return -1;
	snprintf(out, size, "%d.0.0", code / 100);
	return 1;
}

/* Does e start with an SMTP reply code ("550" then a space or the end)? */
static bool reply_code_at(const char *e)
{
	return e[0] >= '2' && e[0] <= '5' && e[1] >= '0' && e[1] <= '9' &&
	       e[2] >= '0' && e[2] <= '9' && (e[3] == ' ' || e[3] == '\0');
}

void dsn_rcpt_text(enum dsn_kind kind, const char *last_error,
		   const char *remote_host, struct dsn_rcpt_text *t)
{
	const char *e = last_error != NULL ? last_error : "";
	int class = kind == DSN_FAILURE ? 5 : kind == DSN_DELAY ? 4 : 2;

	snprintf(t->status, sizeof(t->status), "%d.0.0", class);
	t->diagnostic[0] = t->mta[0] = '\0';
	if (reply_code_at(e)) {
		dsn_status_from_reply(atoi(e), e[3] == ' ' ? e + 4 : NULL,
				      t->status, sizeof(t->status));
		snprintf(t->diagnostic, sizeof(t->diagnostic), "smtp; %s", e);
	} else if (e[0] != '\0') {
		size_t n = strcspn(e, " ");

		if (n >= 5 && n < sizeof(t->status) && e[1] == '.' &&
		    e[0] == '0' + class)
			snprintf(t->status, sizeof(t->status), "%.*s", (int)n, e);
		snprintf(t->diagnostic, sizeof(t->diagnostic), "X-correio; %s",
			 e);
	}
	if (remote_host != NULL)
		snprintf(t->mta, sizeof(t->mta), "dns; %.*s",
			 (int)strcspn(remote_host, "["), remote_host);
}
