/*
 * tlsrpt.c - SMTP TLS Reporting (RFC 8460) for the relay: the outcome of
 * every connection to a mail exchanger under an MTA-STS or DANE policy is
 * counted per policy domain per UTC day, and once a day (or when `correio
 * tlsrpt send` asks) each domain that publishes a `_smtp._tls` TXT record
 * with mailto: addresses gets the aggregate report: JSON (§4), gzip,
 * multipart/report (§5.3), queued from the null sender like a DSN.
 *
 * Counting appends one line per connection to data_dir/tlsrpt/YYYY-MM-DD
 * ("domain TAB policy-type TAB policy-strings TAB result TAB mx TAB ip",
 * result "ok" or an RFC 8460 result-type); sending reads a day's file,
 * adds it up, renames it to YYYY-MM-DD.sent and starts one TXT lookup
 * per domain.  XXX: https: report addresses are left out; reports are not
 * DKIM-signed.
 */
#include "mta_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <zlib.h>

#include "auth/sasl.h"
#include "lib-smtp/smtp_parse.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mta/tlsrpt_record.h"
#include "queue/queue.h"

#define TLSRPT_FILE_MAX (64u << 20)	/* bytes of one day's counts read */
#define TLSRPT_MAX_POLICIES 64		/* per domain and day */
#define TLSRPT_MAX_FAILURES 64		/* distinct failure rows per policy */

static const struct config *cfg_of(struct mta *m)
{
	return &m->srv->cfg;
}

static void day_name(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d", &tm);
}

/* ---- counting ---- */

/* Copy text into line without the characters of the file's syntax. */
static void put_field(struct buf *line, const char *text)
{
	for (const char *p = text; *p != '\0'; p++)
		buf_putc(line, *p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p);
	buf_putc(line, '\t');
}

void tlsrpt_count(struct mta *m, const char *domain, const char *policy_type,
		  const char *policy_strings, const char *result, const char *mx,
		  const struct sockaddr_storage *addr)
{
	char dir[1200], path[1300], day[16], ip[INET6_ADDRSTRLEN] = "";
	struct buf line;
	int fd;

	if (addr != NULL && addr->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, ip, sizeof(ip));
	else if (addr != NULL && addr->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, ip,
			  sizeof(ip));
	day_name(time(NULL), day, sizeof(day));
	snprintf(dir, sizeof(dir), "%s/tlsrpt", cfg_of(m)->data_dir);
	snprintf(path, sizeof(path), "%s/%s", dir, day);
	buf_init(&line, 0);
	put_field(&line, domain);
	put_field(&line, policy_type);
	put_field(&line, policy_strings);
	put_field(&line, result != NULL ? result : "ok");
	put_field(&line, mx != NULL ? mx : "");
	put_field(&line, ip);
	line.data[line.len - 1] = '\n';
	/* one write with O_APPEND: a line is never torn by another */
	if (mkdir_p(dir, 0750) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0) {
		log_warn("tlsrpt: cannot write %s: %m", path);
	} else {
		if (write_all(fd, line.data, line.len) < 0)
			log_warn("tlsrpt: cannot write %s: %m", path);
		close(fd);
	}
	buf_deinit(&line);
}

/* ---- adding up a day ---- */

struct failure {
	char result[64], mx[256], ip[INET6_ADDRSTRLEN];
	unsigned count;
};

struct policy_sum {
	char type[16];
	char *strings;			/* joined with '|' */
	unsigned ok, failed;
	unsigned n_failures;
	struct failure failures[TLSRPT_MAX_FAILURES];
};

struct domain_sum {
	char domain[256];
	unsigned n;
	struct policy_sum policies[TLSRPT_MAX_POLICIES];
	struct domain_sum *next;
};

static void sums_free(struct domain_sum *d)
{
	while (d != NULL) {
		struct domain_sum *next = d->next;
		for (unsigned i = 0; i < d->n; i++)
			free(d->policies[i].strings);
		free(d);
		d = next;
	}
}

static struct policy_sum *policy_of(struct domain_sum **list, char **f)
{
	struct domain_sum *d;
	struct policy_sum *p;

	for (d = *list; d != NULL && strcmp(d->domain, f[0]) != 0; d = d->next)
		;
	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		str_copy(d->domain, f[0], sizeof(d->domain));
		d->next = *list;
		*list = d;
	}
	for (unsigned i = 0; i < d->n; i++)
		if (strcmp(d->policies[i].type, f[1]) == 0 &&
		    strcmp(d->policies[i].strings, f[2]) == 0)
			return &d->policies[i];
	if (d->n == TLSRPT_MAX_POLICIES)
		return NULL;
	p = &d->policies[d->n++];
	str_copy(p->type, f[1], sizeof(p->type));
	p->strings = xstrdup(f[2]);
	return p;
}

static void add_line(struct domain_sum **list, char *line)
{
	char *f[6];
	struct policy_sum *p;
	unsigned n = 0;

	for (char *s = line; n < 6; n++) {
		f[n] = s;
		if ((s = strchr(s, '\t')) == NULL) {
			n++;
			break;
		}
		*s++ = '\0';
	}
	if (n != 6 || f[0][0] == '\0' || (p = policy_of(list, f)) == NULL)
		return;
	if (strcmp(f[3], "ok") == 0) {
		p->ok++;
		return;
	}
	p->failed++;
	for (unsigned i = 0; i < p->n_failures; i++) {
		struct failure *x = &p->failures[i];
		if (strcmp(x->result, f[3]) == 0 && strcmp(x->mx, f[4]) == 0 &&
		    strcmp(x->ip, f[5]) == 0) {
			x->count++;
			return;
		}
	}
	if (p->n_failures == TLSRPT_MAX_FAILURES)
		return;
	str_copy(p->failures[p->n_failures].result, f[3], sizeof(p->failures[0].result));
	str_copy(p->failures[p->n_failures].mx, f[4], sizeof(p->failures[0].mx));
	str_copy(p->failures[p->n_failures].ip, f[5], sizeof(p->failures[0].ip));
	p->failures[p->n_failures++].count = 1;
}

static struct domain_sum *read_day(const char *path)
{
	struct domain_sum *list = NULL;
	char *data = NULL, *line, *nl;
	size_t cap = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	n = read_file_at_start(fd, TLSRPT_FILE_MAX, &data, &cap);
	close(fd);
	for (line = data; n > 0 && line < data + n; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(data + n - line))) == NULL)
			break;
		*nl = '\0';
		add_line(&list, line);
	}
	free(data);
	return list;
}

/* ---- the report ---- */

static json_t *policy_json(const char *domain, const struct policy_sum *p)
{
	json_t *pol = json_object(), *strings = json_array(), *mx = json_array();
	json_t *out = json_object(), *summary = json_object(), *details = json_array();
	char *copy = xstrdup(p->strings), *s, *bar;

	for (s = copy; *s != '\0'; s = bar + 1) {
		bar = strchr(s, '|');
		if (bar != NULL)
			*bar = '\0';
		json_array_append_new(strings, json_string(s));
		if (strncmp(s, "mx: ", 4) == 0)
			json_array_append_new(mx, json_string(s + 4));
		if (bar == NULL)
			break;
	}
	free(copy);
	json_object_set_new(pol, "policy-type", json_string(p->type));
	json_object_set_new(pol, "policy-string", strings);
	json_object_set_new(pol, "policy-domain", json_string(domain));
	if (json_array_size(mx) > 0)
		json_object_set_new(pol, "mx-host", mx);
	else
		json_decref(mx);
	json_object_set_new(summary, "total-successful-session-count", json_integer(p->ok));
	json_object_set_new(summary, "total-failure-session-count", json_integer(p->failed));
	for (unsigned i = 0; i < p->n_failures; i++) {
		const struct failure *f = &p->failures[i];
		json_t *d = json_object();
		json_object_set_new(d, "result-type", json_string(f->result));
		if (f->mx[0] != '\0')
			json_object_set_new(d, "receiving-mx-hostname", json_string(f->mx));
		if (f->ip[0] != '\0')
			json_object_set_new(d, "receiving-ip", json_string(f->ip));
		json_object_set_new(d, "failed-session-count", json_integer(f->count));
		json_array_append_new(details, d);
	}
	json_object_set_new(out, "policy", pol);
	json_object_set_new(out, "summary", summary);
	json_object_set_new(out, "failure-details", details);
	return out;
}

static char *report_json(struct mta *m, const struct domain_sum *d, const char day[16],
			 const char *report_id)
{
	json_t *r = json_object(), *range = json_object(), *policies = json_array();
	char start[40], end[40], contact[400];
	char *text;

	snprintf(start, sizeof(start), "%sT00:00:00Z", day);
	snprintf(end, sizeof(end), "%sT23:59:59Z", day);
	snprintf(contact, sizeof(contact), "postmaster@%s", cfg_of(m)->hostname);
	json_object_set_new(range, "start-datetime", json_string(start));
	json_object_set_new(range, "end-datetime", json_string(end));
	json_object_set_new(r, "organization-name", json_string(cfg_of(m)->hostname));
	json_object_set_new(r, "date-range", range);
	json_object_set_new(r, "contact-info", json_string(contact));
	json_object_set_new(r, "report-id", json_string(report_id));
	for (unsigned i = 0; i < d->n; i++)
		json_array_append_new(policies, policy_json(d->domain, &d->policies[i]));
	json_object_set_new(r, "policies", policies);
	text = json_dumps(r, JSON_INDENT(1));
	json_decref(r);
	return text;
}

/* gzip (RFC 1952) of text into out.  Returns 1 or -1. */
static int gzip_text(const char *text, struct buf *out)
{
	z_stream z;
	unsigned char block[16384];
	int ret;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)text;
	z.avail_in = (uInt)strlen(text);
	do {
		z.next_out = block;
		z.avail_out = sizeof(block);
		ret = deflate(&z, Z_FINISH);
		buf_append(out, block, sizeof(block) - z.avail_out);
	} while (ret == Z_OK);
	deflateEnd(&z);
	return ret == Z_STREAM_END ? 1 : -1;
}

/* The message of §5.3 (LF line ends, as the spool keeps them). */
static int report_message(struct mta *m, const char *domain, const char *day,
			  const char *report_id, const char *json, struct buf *msg)
{
	struct buf gz, b64;
	char date[64], file[600];
	time_t now = time(NULL);
	struct tm tm;
	struct tm start = { 0 };

	buf_init(&gz, 0);
	buf_init(&b64, 0);
	if (gzip_text(json, &gz) < 0 || base64_encode(gz.data, gz.len, &b64) < 0) {
		buf_deinit(&gz);
		buf_deinit(&b64);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sscanf(day, "%d-%d-%d", &start.tm_year, &start.tm_mon, &start.tm_mday);
	start.tm_year -= 1900;
	start.tm_mon -= 1;
	snprintf(file, sizeof(file), "%s!%s!%lld!%lld!%s.json.gz", cfg_of(m)->hostname, domain,
		 (long long)timegm(&start), (long long)timegm(&start) + 86399, day);
	buf_printf(msg, "From: TLS reports <postmaster@%s>\n", cfg_of(m)->hostname);
	buf_printf(msg, "Date: %s\n", date);
	buf_printf(msg, "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\n", domain,
		   cfg_of(m)->hostname, report_id);
	buf_printf(msg, "Message-ID: <%s>\n", report_id);
	buf_printf(msg, "TLS-Report-Domain: %s\nTLS-Report-Submitter: %s\n", domain,
		   cfg_of(m)->hostname);
	buf_puts(msg, "Auto-Submitted: auto-generated\nMIME-Version: 1.0\n"
		 "Content-Type: multipart/report; report-type=\"tlsrpt\";\n"
		 "\tboundary=\"tlsrpt-boundary\"\n\n"
		 "--tlsrpt-boundary\nContent-Type: text/plain; charset=us-ascii\n\n");
	buf_printf(msg, "This is an aggregate TLS report (RFC 8460) from %s about the mail\n"
		   "it sent to %s on %s (UTC).\n\n", cfg_of(m)->hostname, domain, day);
	buf_printf(msg, "--tlsrpt-boundary\nContent-Type: application/tlsrpt+gzip\n"
		   "Content-Transfer-Encoding: base64\n"
		   "Content-Disposition: attachment;\n\tfilename=\"%s\"\n\n", file);
	for (size_t i = 0; i < b64.len; i += 76) {
		buf_append(msg, b64.data + i, b64.len - i < 76 ? b64.len - i : 76);
		buf_putc(msg, '\n');
	}
	buf_puts(msg, "--tlsrpt-boundary--\n");
	buf_deinit(&gz);
	buf_deinit(&b64);
	return 1;
}

/* ---- sending ---- */

/* One domain's report, waiting for the domain's _smtp._tls record. */
struct pending_report {
	struct mta *mta;
	char domain[256];
	struct buf message;
};

static void on_queued(void *ctx, int result)
{
	if (result < 0)
		log_err("tlsrpt: a report could not be queued");
}

static void queue_report(struct mta *m, const char *rcpt, const struct buf *text)
{
	struct envelope *e = envelope_new();
	struct queue_msg *msg;
	const char *error;
	static const char rp[] = "Return-Path: <>\n";

	e->arrival = (uint64_t)time(NULL);
	envelope_set(&e->host, cfg_of(m)->hostname);
	e->body = SMTP_BODY_7BIT;
	envelope_add_rcpt(e, rcpt, NULL, SMTP_NOTIFY_NEVER);
	if (queue_msg_new(m->srv->queue, e, &msg, &error) < 0) {
		log_err("tlsrpt: %s", error);
		return;
	}
	log_info("%s: tlsrpt: report to <%s>", queue_msg_id(msg), rcpt);
	queue_msg_write(msg, rp, sizeof(rp) - 1);
	queue_msg_mark_header(msg);
	queue_msg_write(msg, text->data, text->len);
	queue_commit(&msg, on_queued, NULL);
}

static void on_tlsrpt_txt(void *ctx, const struct dns_answer *a)
{
	struct pending_report *r = ctx;
	struct tlsrpt_rua rua, found_rua = { 0 };
	unsigned found = 0;

	for (unsigned i = 0; a->status == DNS_OK && i < a->n; i++) {
		int ret = tlsrpt_record_parse(a->txt[i], &rua);
		if (ret != 0)
			found++;
		if (ret > 0)
			found_rua = rua;
		else if (ret < 0)
			found = 99;	/* a bad record: as if none */
	}
	if (found != 1) {
		log_info("tlsrpt: %s: no valid TLSRPT record (_smtp._tls): no report", r->domain);
	} else {
		for (unsigned i = 0; i < found_rua.n_mailto; i++)
			queue_report(r->mta, found_rua.mailto[i], &r->message);
		if (found_rua.n_mailto == 0)
			log_info("tlsrpt: %s: no mailto: address in its rua", r->domain);
	}
	buf_deinit(&r->message);
	free(r);
}

/* Report the day whose counts are in path; the file becomes .sent first,
   so that a day is reported once. */
static unsigned send_day(struct mta *m, const char *dir, const char day[16])
{
	char path[1300], done[1400], report_id[600], name[300];
	struct domain_sum *sums;
	unsigned n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, day);
	snprintf(done, sizeof(done), "%s.sent", path);
	sums = read_day(path);
	if (rename(path, done) < 0) {
		log_err("tlsrpt: cannot rename %s: %m", path);
		sums_free(sums);
		return 0;
	}
	for (struct domain_sum *d = sums; d != NULL; d = d->next) {
		struct pending_report *r = xcalloc(1, sizeof(*r));
		char *json;
		snprintf(report_id, sizeof(report_id), "%s.%s.%ld@%s", day, d->domain,
			 (long)time(NULL), cfg_of(m)->hostname);
		json = report_json(m, d, day, report_id);
		r->mta = m;
		str_copy(r->domain, d->domain, sizeof(r->domain));
		buf_init(&r->message, 0);
		if (json == NULL || report_message(m, d->domain, day, report_id, json,
						   &r->message) < 0) {
			log_err("tlsrpt: %s: cannot make the report", d->domain);
			buf_deinit(&r->message);
			free(r);
			free(json);
			continue;
		}
		free(json);
		snprintf(name, sizeof(name), "_smtp._tls.%s", d->domain);
		dns_query(mta_dns(m), name, DNS_TXT, on_tlsrpt_txt, r);
		n++;
	}
	sums_free(sums);
	return n;
}

int tlsrpt_send(struct mta *m, bool today_too, struct buf *out)
{
	char dir[1200], today[16];
	unsigned days = 0, domains = 0;
	struct dirent *de;
	DIR *dp;

	day_name(time(NULL), today, sizeof(today));
	snprintf(dir, sizeof(dir), "%s/tlsrpt", cfg_of(m)->data_dir);
	if ((dp = opendir(dir)) == NULL) {
		if (out != NULL)
			buf_puts(out, "no TLS reports to send\n");
		return errno == ENOENT ? 1 : -1;
	}
	while ((de = readdir(dp)) != NULL) {
		char day[16];
		if (strlen(de->d_name) != 10)
			continue;
		str_copy(day, de->d_name, sizeof(day));
		if (day[4] != '-' || day[7] != '-' || (!today_too && strcmp(day, today) >= 0))
			continue;
		domains += send_day(m, dir, day);
		days++;
	}
	closedir(dp);
	if (out != NULL)
		buf_printf(out, "%u report(s) for %u day(s) being sent\n", domains, days);
	if (days > 0)
		log_info("tlsrpt: %u report(s) for %u day(s) being sent", domains, days);
	return 1;
}
