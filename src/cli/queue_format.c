/*
 * queue_format.c - what `correio queue list|show` (and mailq) print: the
 * server's DUMP answer (control.c) read back into envelopes, then a
 * mailq-style listing, a readable envelope, or JSON.  Pure: no I/O, the
 * time of day is passed in; the dump is capped by the reader (64 MiB).
 *
 *   dump     = *(item)
 *   item     = "envelope" SP id SP active SP len LF <len bytes: envelope file>
 *            / "damaged" SP id SP size SP arrival SP "damaged: " why LF
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib-smtp/smtp_parse.h"
#include "lib/buf.h"
#include "lib/util.h"

#define QUEUE_DUMP_ITEMS_MAX 1000000

void queue_entries_free(struct queue_entry **v, size_t n)
{
	for (size_t i = 0; *v != NULL && i < n; i++) {
		envelope_free(&(*v)[i].env);
		free((*v)[i].why);
	}
	free(*v);
	*v = NULL;
}

/* "damaged ID SIZE TIME damaged: WHY" (without its LF) into q. */
static int parse_damaged(const char *p, size_t len, struct queue_entry *q)
{
	char line[2048];
	unsigned long long size, arrival;
	int used = 0;
	const char *why;

	if (len >= sizeof(line))
		return -1;
	memcpy(line, p, len);
	line[len] = '\0';
	if (sscanf(line, "damaged %16s %llu %llu %n", q->id, &size, &arrival, &used) != 3 ||
	    used == 0 || strncmp(line + used, "damaged: ", 9) != 0)
		return -1;
	why = line + used + 9;
	q->size = size;
	q->arrival = arrival;
	q->why = xstrdup(why);
	return 1;
}

/* "envelope ID ACTIVE LEN" LF and the envelope; *used_r is its length. */
static int parse_envelope(const char *p, size_t len, struct queue_entry *q,
			  size_t *used_r, const char **error_r)
{
	const char *nl = memchr(p, '\n', len);
	char line[128];
	unsigned long long n;
	int active, used = 0;

	if (nl == NULL || (size_t)(nl - p) >= sizeof(line)) {
		*error_r = "a truncated envelope line";
		return -1;
	}
	memcpy(line, p, (size_t)(nl - p));
	line[nl - p] = '\0';
	if (sscanf(line, "envelope %16s %d %llu%n", q->id, &active, &n, &used) != 3 ||
	    line[used] != '\0' || n > len - (size_t)(nl + 1 - p)) {
		*error_r = "a bad envelope line";
		return -1;
	}
	if (envelope_parse(nl + 1, (size_t)n, &q->env, error_r) < 0)
		return -1;
	q->active = active != 0;
	q->size = q->env->size;
	q->arrival = q->env->arrival;
	*used_r = (size_t)(nl + 1 - p) + (size_t)n;
	return 1;
}

static int parse_item(const char *p, size_t len, struct queue_entry *q,
		      size_t *used_r, const char **error_r)
{
	const char *nl;

	memset(q, 0, sizeof(*q));
	if (len > 9 && memcmp(p, "envelope ", 9) == 0)
		return parse_envelope(p, len, q, used_r, error_r);
	nl = memchr(p, '\n', len);
	if (len > 8 && memcmp(p, "damaged ", 8) == 0 && nl != NULL &&
	    parse_damaged(p, (size_t)(nl - p), q) > 0) {
		*used_r = (size_t)(nl + 1 - p);
		return 1;
	}
	*error_r = "an unknown line";
	return -1;
}

int queue_dump_parse(const char *data, size_t len, struct queue_entry **r,
		     size_t *n_r, const char **error_r)
{
	struct queue_entry *v = NULL;
	size_t n = 0, cap = 0, used;

	while (len > 0) {
		if (n == cap) {
			if (cap >= QUEUE_DUMP_ITEMS_MAX) {
				queue_entries_free(&v, n);
				*error_r = "too many messages";
				return -1;
			}
			cap = cap * 2 + 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		if (parse_item(data, len, &v[n], &used, error_r) < 0) {
			queue_entries_free(&v, n);
			return -1;
		}
		n++;
		data += used;
		len -= used;
	}
	*r = v;
	*n_r = n;
	return 1;
}

/* ---- states ---- */

const char *queue_rcpt_state(const struct envelope_rcpt *r)
{
	switch (r->state) {
	case ENVELOPE_SENT: return "delivered";
	case ENVELOPE_BOUNCED: case ENVELOPE_FAILED: return "bounced";
	default: return r->attempts > 0 || r->last_error != NULL ? "deferred" : "pending";
	}
}

const char *queue_entry_state(const struct queue_entry *q)
{
	if (q->env == NULL)
		return "damaged";
	if (q->env->held)
		return "held";
	if (q->active)
		return "active";
	for (unsigned i = 0; i < q->env->n_rcpts; i++)
		if (strcmp(queue_rcpt_state(&q->env->rcpts[i]), "deferred") == 0)
			return "deferred";
	return "queued";
}

/* ---- mailq ---- */

#define LIST_HEADER "-Queue ID-------- --Size-- ----Arrival Time---- -State--- " \
		    "-Sender/Recipient-------\n"
#define LIST_INDENT 48		/* where the state column starts */

static void short_date(uint64_t when, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(out, size, "%a %b %e %H:%M:%S", &tm) == 0)
		snprintf(out, size, "%" PRIu64, when);
}

/* One line of a reason, with control characters shown as '?'. */
static void put_reason(struct buf *out, const char *why)
{
	buf_printf(out, "%*s(", LIST_INDENT + 10, "");
	for (const char *p = why; *p != '\0'; p++)
		buf_putc(out, (unsigned char)*p < 0x20 ? '?' : *p);
	buf_puts(out, ")\n");
}

static void list_entry(const struct queue_entry *q, struct buf *out)
{
	const char *state = queue_entry_state(q);
	char date[64];

	short_date(q->arrival, date, sizeof(date));
	buf_printf(out, "%-16s%c %8" PRIu64 " %-20s %-9s %s\n", q->id,
		   q->env == NULL ? '#' : q->env->held ? '!' : q->active ? '*' : ' ',
		   q->size, date, state, q->env == NULL ? "?" :
		   q->env->sender[0] != '\0' ? q->env->sender : "MAILER-DAEMON");
	if (q->env == NULL) {
		put_reason(out, q->why);
		return;
	}
	for (unsigned i = 0; i < q->env->n_rcpts; i++) {
		const struct envelope_rcpt *r = &q->env->rcpts[i];
		const char *st = queue_rcpt_state(r);
		buf_printf(out, "%*s%-9s %s\n", LIST_INDENT, "", st, r->address);
		if (r->last_error != NULL && strcmp(st, "delivered") != 0)
			put_reason(out, r->last_error);
	}
}

void queue_format_list(const struct queue_entry *v, size_t n, struct buf *out)
{
	uint64_t bytes = 0;

	if (n == 0) {
		buf_puts(out, "Mail queue is empty\n");
		return;
	}
	buf_puts(out, LIST_HEADER);
	for (size_t i = 0; i < n; i++) {
		list_entry(&v[i], out);
		buf_putc(out, '\n');
		bytes += v[i].size;
	}
	buf_printf(out, "-- %" PRIu64 " Kbytes in %zu Request%s.\n", (bytes + 1023) / 1024,
		   n, n == 1 ? "" : "s");
}

/* ---- queue show ---- */

/* "3h 5m", "2d 4h", "45s": a span of seconds the way people say it. */
void queue_format_span(uint64_t s, char *out, size_t size)
{
	if (s < 60)
		snprintf(out, size, "%us", (unsigned)s);
	else if (s < 3600)
		snprintf(out, size, "%um %us", (unsigned)(s / 60), (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(out, size, "%uh %um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
	else
		snprintf(out, size, "%ud %uh", (unsigned)(s / 86400), (unsigned)(s / 3600 % 24));
}

/* "Sun, 06 Dec 2026 06:00:01 +0000 (5m 2s ago)" */
static void long_date(uint64_t when, uint64_t now, struct buf *out)
{
	time_t t = (time_t)when;
	struct tm tm;
	char date[64], span[32];

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		snprintf(date, sizeof(date), "%" PRIu64, when);
	queue_format_span(when > now ? when - now : now - when, span, sizeof(span));
	if (when == now)
		buf_printf(out, "%s (now)", date);
	else
		buf_printf(out, when > now ? "%s (in %s)" : "%s (%s ago)", date, span);
}

static void notify_text(unsigned notify, struct buf *out)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ SMTP_NOTIFY_NEVER, "NEVER" }, { SMTP_NOTIFY_SUCCESS, "SUCCESS" },
		{ SMTP_NOTIFY_FAILURE, "FAILURE" }, { SMTP_NOTIFY_DELAY, "DELAY" },
	};
	const char *sep = "";

	if (notify == 0) {
		buf_puts(out, "default (FAILURE)");
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (notify & names[i].bit) {
			buf_printf(out, "%s%s", sep, names[i].name);
			sep = ",";
		}
	}
}

static const char *route_text(char kind)
{
	switch (kind) {
	case ENVELOPE_LOCAL: return "local delivery (an account)";
	case ENVELOPE_REMOTE: return "relay to another host";
	case ENVELOPE_FAIL: return "refused";
	default: return "not resolved yet";
	}
}

static void show_rcpt(const struct envelope_rcpt *r, uint64_t now, struct buf *out)
{
	const char *st = queue_rcpt_state(r);

	buf_printf(out, "\n  %s\n    State:        %s", r->address, st);
	if (r->attempts > 0)
		buf_printf(out, " after %u attempt%s", r->attempts, r->attempts == 1 ? "" : "s");
	buf_printf(out, "\n    Route:        %s\n", route_text(r->kind));
	if (r->orig != NULL)
		buf_printf(out, "    Given as:     %s\n", r->orig);
	if (r->state == ENVELOPE_PENDING) {
		buf_puts(out, "    Next attempt: ");
		if (r->next_attempt == 0)
			buf_puts(out, "as soon as possible");
		else
			long_date(r->next_attempt, now, out);
		buf_putc(out, '\n');
	}
	if (r->last_error != NULL) {
		buf_puts(out, "    Last error:   ");
		cli_visible(out, r->last_error, false);
		if (r->remote_mta != NULL) {
			buf_puts(out, " (from ");
			cli_visible(out, r->remote_mta, false);
			buf_putc(out, ')');
		}
		buf_putc(out, '\n');
	}
	buf_puts(out, "    DSN:          NOTIFY=");
	notify_text(r->notify, out);
	if (r->orcpt != NULL) {
		buf_puts(out, " ORCPT=");
		cli_visible(out, r->orcpt, false);
	}
	buf_putc(out, '\n');
}

static void show_summary(const struct envelope *e, struct buf *out)
{
	static const char *const bodies[] = { "7BIT", "8BITMIME", "BINARYMIME" };
	static const char *const rets[] = { "default (FULL)", "FULL", "HDRS" };
	unsigned counts[4] = { 0 };
	static const char *const words[] = { "pending", "deferred", "delivered", "bounced" };
	const char *sep = "";

	buf_printf(out, "DSN:            RET=%s ENVID=",
		   e->ret >= 0 && e->ret <= 2 ? rets[e->ret] : "?");
	cli_visible(out, e->envid != NULL ? e->envid : "(none)", false);
	buf_putc(out, '\n');
	buf_printf(out, "Body:           %s%s\n", e->body >= 0 && e->body <= 2 ?
		   bodies[e->body] : "?", e->smtputf8 ? " SMTPUTF8" : "");
	buf_printf(out, "Delay notice:   %s\n", e->warned ? "sent" : "not sent");
	if (e->junk)
		buf_puts(out, "Filing:         Junk folder (DMARC quarantine)\n");
	for (unsigned i = 0; i < e->n_rcpts; i++)
		for (unsigned k = 0; k < 4; k++)
			counts[k] += strcmp(queue_rcpt_state(&e->rcpts[i]), words[k]) == 0;
	buf_printf(out, "Recipients:     %u (", e->n_rcpts);
	for (unsigned k = 0; k < 4; k++) {
		if (counts[k] == 0)
			continue;
		buf_printf(out, "%s%u %s", sep, counts[k], words[k]);
		sep = ", ";
	}
	buf_puts(out, ")\n");
}

void queue_format_show(const struct queue_entry *q, uint64_t now, struct buf *out)
{
	const struct envelope *e = q->env;
	const char *state = queue_entry_state(q);

	buf_printf(out, "Queue ID:       %s\nState:          %s", q->id, state);
	if (e != NULL && e->held)
		buf_printf(out, " (no attempts until `correio queue release %s`)", q->id);
	else if (q->active)
		buf_puts(out, " (a delivery is under way)");
	buf_puts(out, "\nArrival:        ");
	long_date(q->arrival, now, out);
	buf_printf(out, "\nSize:           %" PRIu64 " bytes\n", q->size);
	if (e == NULL) {
		buf_printf(out, "Damaged:        %s\n", q->why);
		return;
	}
	buf_printf(out, "Sender:         %s\n", e->sender[0] != '\0' ? e->sender :
		   "<> (the null sender: a notice)");
	show_summary(e, out);
	for (unsigned i = 0; i < e->n_rcpts; i++)
		show_rcpt(&e->rcpts[i], now, out);
}

/* ---- JSON ---- */

/* A JSON string of s (null for NULL); bytes that are not UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *copy;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	copy = xstrdup(s);
	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *rcpt_json(const struct envelope_rcpt *r)
{
	char kind[2] = { r->kind, '\0' };
	json_t *o = json_object();

	json_object_set_new(o, "address", jstr(r->address));
	json_object_set_new(o, "state", json_string(queue_rcpt_state(r)));
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	json_object_set_new(o, "next_attempt", json_integer((json_int_t)r->next_attempt));
	json_object_set_new(o, "last_error", jstr(r->last_error));
	json_object_set_new(o, "remote_mta", jstr(r->remote_mta));
	json_object_set_new(o, "orcpt", jstr(r->orcpt));
	json_object_set_new(o, "original", jstr(r->orig));
	json_object_set_new(o, "kind", jstr(kind));
	json_object_set_new(o, "notify", json_integer(r->notify));
	return o;
}

json_t *queue_entry_json(const struct queue_entry *q)
{
	json_t *o = json_object(), *rcpts;

	json_object_set_new(o, "id", jstr(q->id));
	json_object_set_new(o, "size", json_integer((json_int_t)q->size));
	json_object_set_new(o, "arrival", json_integer((json_int_t)q->arrival));
	json_object_set_new(o, "state", json_string(queue_entry_state(q)));
	json_object_set_new(o, "active", json_boolean(q->active));
	json_object_set_new(o, "held", json_boolean(q->env != NULL && q->env->held));
	if (q->env == NULL) {
		json_object_set_new(o, "damaged", jstr(q->why));
		return o;
	}
	rcpts = json_array();
	for (unsigned i = 0; i < q->env->n_rcpts; i++)
		json_array_append_new(rcpts, rcpt_json(&q->env->rcpts[i]));
	json_object_set_new(o, "sender", jstr(q->env->sender));
	json_object_set_new(o, "envid", jstr(q->env->envid));
	json_object_set_new(o, "ret", json_integer(q->env->ret));
	json_object_set_new(o, "warned", json_boolean(q->env->warned));
	json_object_set_new(o, "recipients", rcpts);
	return o;
}
