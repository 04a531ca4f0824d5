/*
 * test_dsn.c - delivery status notifications: each kind composed, then
 * read back as a mail reader would (header fields, boundary, parts,
 * per-recipient field groups) and checked field by field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "mime/mime.h"

#define QID "0123456789ABCDEF"
#define T_NOW 1751371389	/* Tue, 01 Jul 2025 12:03:09 +0000 */
#define T_ARRIVAL 1751000000	/* Fri, 27 Jun 2025 04:53:20 +0000 */
#define T_UNTIL 1751800000	/* Sun, 06 Jul 2025 11:06:40 +0000 */
#define D_NOW "Tue, 01 Jul 2025 12:03:09 +0000"
#define D_ARRIVAL "Fri, 27 Jun 2025 04:53:20 +0000"
#define D_UNTIL "Sun, 06 Jul 2025 11:06:40 +0000"

#define ORIG_HDR "From: a@example.org\nTo: b@example.net\nSubject: hi\n"
#define ORIG_BODY "Hello,\n\nbody text.\n"
#define ORIGINAL "Return-Path: <a@example.org>\n" ORIG_HDR "\n" ORIG_BODY

/* ---- reading a notice back ---- */

struct part {
	const char *hdr, *body;
	size_t hdr_len, body_len;
};

struct notice {
	char *text;
	size_t hdr_len;		/* top header section, last LF included */
	char boundary[128];
	struct part parts[8];
	unsigned n_parts;
	bool closed;
};

/* The unfolded value of field name in hdr[0..len), NULL if absent. */
static char *field(const char *hdr, size_t len, const char *name)
{
	size_t n = strlen(name), s = 0, e;
	static char value[4096];
	size_t v = 0;

	while (s < len) {
		for (e = s; e < len && !(hdr[e] == '\n' && (e + 1 >= len ||
		     (hdr[e + 1] != ' ' && hdr[e + 1] != '\t'))); e++)
			;
		if (e - s > n && strncasecmp(hdr + s, name, n) == 0 &&
		    hdr[s + n] == ':') {
			for (size_t i = s + n + 1; i < e && v + 1 < sizeof(value); i++) {
				if (hdr[i] != '\n')
					value[v++] = hdr[i];
			}
			value[v] = '\0';
			return value + strspn(value, " \t");
		}
		s = e + 1;
	}
	return NULL;
}

static void part_split(const char *p, size_t len, struct part *r)
{
	const char *blank = memmem(p, len, "\n\n", 2);

	assert_non_null(blank);
	r->hdr = p;
	r->hdr_len = (size_t)(blank - p) + 1;
	r->body = blank + 2;
	r->body_len = len - r->hdr_len - 1;
}

/* Split the notice at its boundary: parts, close delimiter, nothing after. */
static void notice_parse(struct notice *n, const char *text, size_t len)
{
	char *ct, *b, *q, delim[140];
	const char *p, *next, *end = text + len;
	size_t dlen;

	memset(n, 0, sizeof(*n));
	n->text = strndup(text, len);
	assert_int_equal(strlen(n->text), len);
	p = strstr(n->text, "\n\n");
	assert_non_null(p);
	n->hdr_len = (size_t)(p - n->text) + 1;
	ct = field(n->text, n->hdr_len, "Content-Type");
	assert_non_null(ct);
	b = strstr(ct, "boundary=\"");
	assert_non_null(b);
	b += 10;
	q = strchr(b, '"');
	assert_non_null(q);
	assert_in_range(q - b, 1, 70);
	snprintf(n->boundary, sizeof(n->boundary), "%.*s", (int)(q - b), b);
	dlen = (size_t)snprintf(delim, sizeof(delim), "\n--%s", n->boundary);
	p = strstr(n->text, delim);
	assert_non_null(p);
	for (;;) {
		p += dlen;
		if (strncmp(p, "--\n", 3) == 0) {
			n->closed = true;
			assert_ptr_equal(p + 3, n->text + len);
			break;
		}
		assert_true(*p == '\n');
		p++;
		next = strstr(p, delim);
		assert_non_null(next);
		assert_in_range(n->n_parts, 0, 7);
		part_split(p, (size_t)(next - p), &n->parts[n->n_parts++]);
		p = next;
	}
	(void)end;
}

static void notice_free(struct notice *n)
{
	free(n->text);
}

static const char *top(struct notice *n, const char *name)
{
	return field(n->text, n->hdr_len, name);
}

static const char *part_field(struct notice *n, unsigned i, const char *name)
{
	return field(n->parts[i].hdr, n->parts[i].hdr_len, name);
}

static void assert_body(const struct part *p, const char *want)
{
	if (p->body_len != strlen(want) || memcmp(p->body, want, p->body_len) != 0)
		fail_msg("body:\n%.*s\nwant:\n%s", (int)p->body_len, p->body, want);
}

/* ---- fixtures ---- */

static struct dsn_info info_base(enum dsn_kind kind)
{
	struct dsn_info info = {
		.kind = kind,
		.reporting_mta = "mx.example.org",
		.from_address = "MAILER-DAEMON@mx.example.org",
		.to = "a@example.org",
		.envid = NULL,
		.queue_id = QID,
		.arrival = T_ARRIVAL,
		.date = T_NOW,
		.ret_full = kind == DSN_FAILURE,
		.max_return = 0,
	};
	return info;
}

static const struct dsn_rcpt rcpt_failed = {
	.address = "b@example.net",
	.orcpt = "rfc822;b+2Btag@example.net",
	.action = "failed",
	.status = "5.1.1",
	.remote_mta = "dns; mx.example.net",
	.diagnostic = "smtp; 550 5.1.1 No such user",
	.last_attempt = T_NOW,
};

/* Compose into a fresh notice; expects success. */
static void compose(const struct dsn_info *info, const struct dsn_rcpt *rcpts,
		    unsigned count, const char *orig, size_t orig_len,
		    struct notice *n, struct dsn_result *result)
{
	struct buf out;
	const char *error = NULL;

	buf_init(&out, 0);
	if (dsn_compose(info, rcpts, count, orig, orig_len, &out, result,
			&error) != 1)
		fail_msg("dsn_compose: %s", error);
	notice_parse(n, out.data, out.len);
	for (const char *l = out.data; l < out.data + out.len;) {
		const char *nl = memchr(l, '\n', (size_t)(out.data + out.len - l));

		assert_non_null(nl);
		assert_true(nl - l <= 998);
		l = nl + 1;
	}
	buf_deinit(&out);
}

/* ---- the kinds ---- */

static void test_failure(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n;
	const char *mid;

	info.envid = "abc+2Bdef";
	compose(&info, &rcpt_failed, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_string_equal(top(&n, "From"),
			    "Mail Delivery System <MAILER-DAEMON@mx.example.org>");
	assert_string_equal(top(&n, "To"), "<a@example.org>");
	assert_string_equal(top(&n, "Subject"), "Undelivered Mail Returned to Sender");
	assert_string_equal(top(&n, "Date"), D_NOW);
	assert_string_equal(top(&n, "Auto-Submitted"), "auto-replied");
	assert_string_equal(top(&n, "MIME-Version"), "1.0");
	assert_null(top(&n, "Content-Transfer-Encoding"));
	mid = top(&n, "Message-ID");
	assert_int_equal(strncmp(mid, "<" QID ".", 18), 0);
	assert_string_equal(mid + strlen(mid) - 16, "@mx.example.org>");
	assert_int_equal(strncmp(top(&n, "Content-Type"),
				 "multipart/report; report-type=delivery-status;\tboundary=\"", 57), 0);
	assert_non_null(strstr(n.boundary, QID));
	assert_null(strstr(ORIGINAL, n.boundary));
	assert_true(n.closed);
	assert_int_equal(n.n_parts, 3);

	assert_string_equal(part_field(&n, 0, "Content-Type"),
			    "text/plain; charset=us-ascii");
	assert_non_null(strstr(n.parts[0].body,
			       "\n\n<b@example.net>: delivery failed (5.1.1)\n"
			       "    Remote server: dns; mx.example.net\n"
			       "    It said: smtp; 550 5.1.1 No such user\n\n\n--"));
	assert_non_null(strstr(n.parts[0].body, "The message is attached below."));

	assert_string_equal(part_field(&n, 1, "Content-Type"), "message/delivery-status");
	assert_body(&n.parts[1],
		    "Reporting-MTA: dns; mx.example.org\n"
		    "X-Correio-Queue-ID: " QID "\n"
		    "Original-Envelope-Id: abc+def\n"
		    "Arrival-Date: " D_ARRIVAL "\n"
		    "\n"
		    "Original-Recipient: rfc822; b+tag@example.net\n"
		    "Final-Recipient: rfc822; b@example.net\n"
		    "Action: failed\n"
		    "Status: 5.1.1\n"
		    "Remote-MTA: dns; mx.example.net\n"
		    "Diagnostic-Code: smtp; 550 5.1.1 No such user\n"
		    "Last-Attempt-Date: " D_NOW "\n");

	assert_string_equal(part_field(&n, 2, "Content-Type"), "message/rfc822");
	assert_string_equal(part_field(&n, 2, "Content-Description"),
			    "Undelivered Message");
	assert_null(part_field(&n, 2, "Content-Transfer-Encoding"));
	assert_body(&n.parts[2], ORIG_HDR "\n" ORIG_BODY);
	assert_true(res.returned_full);
	assert_false(res.need_8bitmime);
	assert_false(res.need_smtputf8);
	notice_free(&n);
}

static void test_failure_hdrs(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n;

	info.ret_full = false;
	compose(&info, &rcpt_failed, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_int_equal(n.n_parts, 3);
	assert_string_equal(part_field(&n, 2, "Content-Type"), "text/rfc822-headers");
	assert_string_equal(part_field(&n, 2, "Content-Description"),
			    "Undelivered Message Headers");
	assert_body(&n.parts[2], ORIG_HDR);
	assert_null(memmem(n.text, strlen(n.text), "body text", 9));
	assert_non_null(strstr(n.parts[0].body, "The header section of the message"));
	assert_false(res.returned_full);
	notice_free(&n);
}

static void test_max_return(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	size_t returned = strlen(ORIG_HDR "\n" ORIG_BODY);
	struct dsn_result res;
	struct notice n;

	/* the limit counts the original without its Return-Path: line */
	info.max_return = returned;
	compose(&info, &rcpt_failed, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_true(res.returned_full);
	assert_string_equal(part_field(&n, 2, "Content-Type"), "message/rfc822");
	notice_free(&n);

	info.max_return = returned - 1;
	compose(&info, &rcpt_failed, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_false(res.returned_full);
	assert_string_equal(part_field(&n, 2, "Content-Type"), "text/rfc822-headers");
	assert_body(&n.parts[2], ORIG_HDR);
	notice_free(&n);
}

static void test_delay(void **state)
{
	struct dsn_info info = info_base(DSN_DELAY);
	struct dsn_rcpt r = {
		.address = "c@example.com", .action = "delayed",
		.status = "4.4.1", .remote_mta = "mx.example.com",
		.diagnostic = "connection refused",
		.last_attempt = T_NOW, .will_retry_until = T_UNTIL,
	};
	struct dsn_result res;
	struct notice n;

	info.ret_full = false;	/* a delay notice returns the headers */
	compose(&info, &r, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_string_equal(top(&n, "Subject"), "Delayed Mail (still being retried)");
	assert_int_equal(n.n_parts, 3);
	assert_body(&n.parts[1],
		    "Reporting-MTA: dns; mx.example.org\n"
		    "X-Correio-Queue-ID: " QID "\n"
		    "Arrival-Date: " D_ARRIVAL "\n"
		    "\n"
		    "Final-Recipient: rfc822; c@example.com\n"
		    "Action: delayed\n"
		    "Status: 4.4.1\n"
		    "Remote-MTA: dns; mx.example.com\n"
		    "Diagnostic-Code: smtp; connection refused\n"
		    "Last-Attempt-Date: " D_NOW "\n"
		    "Will-Retry-Until: " D_UNTIL "\n");
	assert_non_null(strstr(n.parts[0].body, "Retried until: " D_UNTIL "\n"));
	assert_non_null(strstr(n.parts[0].body, "do not need to send"));
	assert_string_equal(part_field(&n, 2, "Content-Type"), "text/rfc822-headers");
	assert_string_equal(part_field(&n, 2, "Content-Description"),
			    "Delayed Message Headers");
	assert_body(&n.parts[2], ORIG_HDR);
	notice_free(&n);
}

static void test_success(void **state)
{
	struct dsn_info info = info_base(DSN_SUCCESS);
	struct dsn_rcpt r[2] = {
		{ .address = "d@example.com", .action = "delivered",
		  .status = "2.0.0", .orcpt = "rfc822;D@Example.COM",
		  .will_retry_until = T_UNTIL /* ignored: not delayed */ },
		{ .address = "e@example.net", .action = "relayed",
		  .status = "2.0.0", .remote_mta = "dns; mx.example.net",
		  .diagnostic = "smtp; 250 2.0.0 Ok: queued as 12345",
		  .last_attempt = T_NOW },
	};
	struct dsn_result res;
	struct notice n;

	info.envid = NULL;
	info.arrival = 0;
	info.ret_full = false;	/* so does a success notice */
	compose(&info, r, 2, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_string_equal(top(&n, "Subject"), "Successful Mail Delivery Report");
	assert_body(&n.parts[1],
		    "Reporting-MTA: dns; mx.example.org\n"
		    "X-Correio-Queue-ID: " QID "\n"
		    "\n"
		    "Original-Recipient: rfc822; D@Example.COM\n"
		    "Final-Recipient: rfc822; d@example.com\n"
		    "Action: delivered\n"
		    "Status: 2.0.0\n"
		    "\n"
		    "Final-Recipient: rfc822; e@example.net\n"
		    "Action: relayed\n"
		    "Status: 2.0.0\n"
		    "Remote-MTA: dns; mx.example.net\n"
		    "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 12345\n"
		    "Last-Attempt-Date: " D_NOW "\n");
	assert_non_null(strstr(n.parts[0].body, "<d@example.com>: delivered (2.0.0)\n"));
	assert_non_null(strstr(n.parts[0].body, "<e@example.net>: relayed to a system"));
	assert_null(strstr(n.parts[0].body, "Retried until"));
	assert_string_equal(part_field(&n, 2, "Content-Description"),
			    "Delivered Message Headers");
	notice_free(&n);
}

/* ---- the original ---- */

static void test_return_path(void **state)
{
	static const struct {
		const char *orig, *returned;
	} cases[] = {
		{ "Return-Path: <a@x>\nSubject: s\n\nb\n", "Subject: s\n\nb\n" },
		{ "return-path: <>\nSubject: s\n\nb\n", "Subject: s\n\nb\n" },
		{ "Return-Path:\n <a@x>\nSubject: s\n\nb\n", "Subject: s\n\nb\n" },
		{ "Subject: s\nReturn-Path: <a@x>\n\nb\n",
		  "Subject: s\nReturn-Path: <a@x>\n\nb\n" },
		{ "Return-Pathology: x\n\nb\n", "Return-Pathology: x\n\nb\n" },
		{ "Subject: s\n\nno final LF", "Subject: s\n\nno final LF\n" },
		{ "Return-Path: <a@x>\n", "" },
		{ "", "" },
		{ "\nbody only\n", "\nbody only\n" },
	};
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		compose(&info, &rcpt_failed, 1, cases[i].orig,
			strlen(cases[i].orig), &n, &res);
		assert_int_equal(n.n_parts, 3);
		assert_body(&n.parts[2], cases[i].returned);
		notice_free(&n);
	}
}

static void test_headers_only_shapes(void **state)
{
	static const struct {
		const char *orig, *returned;
	} cases[] = {
		{ "Return-Path: <a@x>\nSubject: s\n\nb\n", "Subject: s\n" },
		{ "Subject: s\n X-Folded: y\n\nb\n\nc\n", "Subject: s\n X-Folded: y\n" },
		{ "Subject: no body", "Subject: no body\n" },
		{ "\nbody only\n", "" },
	};
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n;

	info.ret_full = false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		compose(&info, &rcpt_failed, 1, cases[i].orig,
			strlen(cases[i].orig), &n, &res);
		assert_body(&n.parts[2], cases[i].returned);
		notice_free(&n);
	}
}

static void test_8bit_body(void **state)
{
	const char *orig = "Return-Path: <a@x>\nSubject: s\n\ncaf\xc3\xa9\n";
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n;

	compose(&info, &rcpt_failed, 1, orig, strlen(orig), &n, &res);
	assert_true(res.need_8bitmime);
	assert_false(res.need_smtputf8);
	assert_string_equal(top(&n, "Content-Transfer-Encoding"), "8bit");
	assert_string_equal(part_field(&n, 2, "Content-Type"), "message/rfc822");
	assert_string_equal(part_field(&n, 2, "Content-Transfer-Encoding"), "8bit");
	assert_null(part_field(&n, 0, "Content-Transfer-Encoding"));
	assert_body(&n.parts[2], "Subject: s\n\ncaf\xc3\xa9\n");
	notice_free(&n);

	/* headers only: nothing 8-bit is left */
	info.ret_full = false;
	compose(&info, &rcpt_failed, 1, orig, strlen(orig), &n, &res);
	assert_false(res.need_8bitmime);
	assert_null(top(&n, "Content-Transfer-Encoding"));
	assert_null(part_field(&n, 2, "Content-Transfer-Encoding"));
	notice_free(&n);
}

static void test_utf8_header(void **state)
{
	const char *orig = "Subject: ol\xc3\xa1\n\nbody\n";
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n;

	compose(&info, &rcpt_failed, 1, orig, strlen(orig), &n, &res);
	assert_true(res.need_8bitmime);
	assert_true(res.need_smtputf8);
	assert_string_equal(part_field(&n, 2, "Content-Type"), "message/global");
	assert_string_equal(part_field(&n, 2, "Content-Transfer-Encoding"), "8bit");
	notice_free(&n);

	info.ret_full = false;
	compose(&info, &rcpt_failed, 1, orig, strlen(orig), &n, &res);
	assert_true(res.need_8bitmime);
	assert_true(res.need_smtputf8);
	assert_string_equal(part_field(&n, 2, "Content-Type"), "message/global-headers");
	assert_body(&n.parts[2], "Subject: ol\xc3\xa1\n");
	notice_free(&n);
}

static void test_utf8_address(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_rcpt r = rcpt_failed;
	struct dsn_result res;
	struct notice n;

	r.address = "jos\xc3\xa9@example.net";
	r.orcpt = NULL;
	info.to = "s\xc3\xa3o@example.org";
	compose(&info, &r, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_true(res.need_smtputf8);
	assert_true(res.need_8bitmime);
	assert_string_equal(top(&n, "To"), "<s\xc3\xa3o@example.org>");
	assert_string_equal(top(&n, "Content-Transfer-Encoding"), "8bit");
	assert_string_equal(part_field(&n, 0, "Content-Type"), "text/plain; charset=utf-8");
	assert_string_equal(part_field(&n, 1, "Content-Type"),
			    "message/global-delivery-status");
	assert_non_null(strstr(n.parts[1].body,
			       "\nFinal-Recipient: utf-8; jos\xc3\xa9@example.net\n"));
	notice_free(&n);
}

static void test_boundary(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n1, n2;
	char orig[512];

	/* an original that carries a boundary of ours, random part aside */
	snprintf(orig, sizeof(orig), "Subject: s\n\n--=_correio_%s_\n"
		 "--=_correio_%s_0000000000000000--\n", QID, QID);
	compose(&info, &rcpt_failed, 1, orig, strlen(orig), &n1, &res);
	compose(&info, &rcpt_failed, 1, orig, strlen(orig), &n2, &res);
	assert_string_not_equal(n1.boundary, n2.boundary);
	assert_null(strstr(orig, n1.boundary));
	assert_int_equal(strncmp(n1.boundary, "=_correio_" QID "_", 27), 0);
	assert_int_equal(n1.n_parts, 3);
	assert_body(&n1.parts[2], orig);
	notice_free(&n1);
	notice_free(&n2);
}

/* ---- values from outside ---- */

static void test_sanitize(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_rcpt r = rcpt_failed;
	struct dsn_result res;
	struct notice n;
	char longdiag[2000];

	r.diagnostic = "smtp; 550-5.1.1 first\r\n550 5.1.1 caf\xc3\xa9";
	compose(&info, &r, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_non_null(strstr(n.parts[1].body,
			       "\nDiagnostic-Code: smtp; 550-5.1.1 first  550 5.1.1 caf??\n"));
	assert_false(res.need_8bitmime);
	notice_free(&n);

	memset(longdiag, 'x', sizeof(longdiag) - 1);
	longdiag[sizeof(longdiag) - 1] = '\0';
	memcpy(longdiag, "smtp; ", 6);
	r.diagnostic = longdiag;
	compose(&info, &r, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	{
		const char *d = strstr(n.parts[1].body, "Diagnostic-Code: ");
		size_t len = strcspn(d, "\n");

		assert_int_equal(len, 17 + DSN_FIELD_MAX);
	}
	notice_free(&n);
}

static void test_orcpt_envid(void **state)
{
	static const struct {
		const char *orcpt, *field;	/* field NULL: absent */
	} cases[] = {
		{ "rfc822;a@x", "rfc822; a@x" },
		{ "RFC822;a+2Bb+3Dc@x", "RFC822; a+b=c@x" },
		{ "rfc822;a+2bb@x", "rfc822; a+b@x" },
		{ "rfc822;bad+zz@x", "rfc822;bad+zz@x" },	/* shown as given */
		{ "rfc822;nl+0A@x", "rfc822;nl+0A@x" },
		{ "rfc822;hi+C3+A9@x", "rfc822;hi+C3+A9@x" },
		{ "noseparator", "noseparator" },
		{ ";a@x", ";a@x" },
		{ NULL, NULL },
	};
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_rcpt r = rcpt_failed;
	struct dsn_result res;
	struct notice n;
	char want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.orcpt = cases[i].orcpt;
		compose(&info, &r, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
		if (cases[i].field == NULL) {
			assert_null(strstr(n.parts[1].body, "Original-Recipient"));
		} else {
			snprintf(want, sizeof(want), "\nOriginal-Recipient: %s\n"
				 "Final-Recipient: ", cases[i].field);
			if (strstr(n.parts[1].body, want) == NULL)
				fail_msg("case %zu: %s", i, n.parts[1].body);
		}
		notice_free(&n);
	}
	info.envid = "bad+2";
	compose(&info, &r, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_non_null(strstr(n.parts[1].body, "\nOriginal-Envelope-Id: bad+2\n"));
	notice_free(&n);
	info.envid = "x+0D+0Ay";
	compose(&info, &r, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_non_null(strstr(n.parts[1].body, "\nOriginal-Envelope-Id: x+0D+0Ay\n"));
	notice_free(&n);
}

static void test_date_zone(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_result res;
	struct notice n;

	setenv("TZ", "BRT3", 1);
	tzset();
	compose(&info, &rcpt_failed, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_string_equal(top(&n, "Date"), "Tue, 01 Jul 2025 09:03:09 -0300");
	notice_free(&n);
	setenv("TZ", "IST-5:30", 1);
	tzset();
	compose(&info, &rcpt_failed, 1, ORIGINAL, strlen(ORIGINAL), &n, &res);
	assert_string_equal(top(&n, "Date"), "Tue, 01 Jul 2025 17:33:09 +0530");
	notice_free(&n);
	setenv("TZ", "UTC", 1);
	tzset();
}

/* ---- refusals ---- */

static void assert_compose_fails(const struct dsn_info *info,
				 const struct dsn_rcpt *rcpts, unsigned count,
				 size_t max, const char *error_want)
{
	struct buf out;
	struct dsn_result res;
	const char *error = NULL;

	buf_init(&out, max);
	buf_puts(&out, "kept");
	assert_int_equal(dsn_compose(info, rcpts, count, ORIGINAL, strlen(ORIGINAL),
				     &out, &res, &error), -1);
	assert_string_equal(error, error_want);
	assert_string_equal(buf_cstr(&out), "kept");
	buf_deinit(&out);
}

static void test_bad_args(void **state)
{
	struct dsn_info info = info_base(DSN_FAILURE);
	struct dsn_rcpt r = rcpt_failed;

	assert_compose_fails(&info, &r, 0, 0, "no recipients to report on");
	info.to = "";
	assert_compose_fails(&info, &r, 1, 0,
			     "missing reporting MTA, From or To address");
	info = info_base(DSN_FAILURE);
	info.queue_id = "../x";
	assert_compose_fails(&info, &r, 1, 0, "bad queue id");
	info = info_base(DSN_FAILURE);
	info.kind = (enum dsn_kind)7;
	assert_compose_fails(&info, &r, 1, 0, "bad notice kind");
	info = info_base(DSN_FAILURE);
	r.action = "bounced";
	assert_compose_fails(&info, &r, 1, 0, "bad recipient action");
	r = rcpt_failed;
	r.status = "5.1";
	assert_compose_fails(&info, &r, 1, 0, "bad recipient status");
	r.status = "3.1.1";
	assert_compose_fails(&info, &r, 1, 0, "bad recipient status");
	r.status = "5.1.1 ";
	assert_compose_fails(&info, &r, 1, 0, "bad recipient status");
	r.status = "5.1234.1";
	assert_compose_fails(&info, &r, 1, 0, "bad recipient status");
	r = rcpt_failed;
	r.address = "";
	assert_compose_fails(&info, &r, 1, 0, "recipient without an address");
	assert_compose_fails(&info, &rcpt_failed, 1, 200, "notice too large");
}

/* ---- helpers ---- */

static void test_status_from_reply(void **state)
{
	static const struct {
		int code;
		const char *enhanced, *want;	/* want NULL: -1 */
	} cases[] = {
		{ 550, "5.1.1 No such user", "5.1.1" },
		{ 550, "5.1.1", "5.1.1" },
		{ 452, "4.2.2 Mailbox full", "4.2.2" },
		{ 250, "2.0.0 Ok", "2.0.0" },
		{ 554, "5.7.123 policy", "5.7.123" },
		{ 550, "No such user", "5.0.0" },
		{ 550, NULL, "5.0.0" },
		{ 421, "5.1.1 mismatched class", "4.0.0" },
		{ 550, "5.1.1x", "5.0.0" },
		{ 550, "5.1.1234 too long", "5.0.0" },
		{ 550, "5..1 empty", "5.0.0" },
		{ 451, "", "4.0.0" },
		{ 199, NULL, NULL },
		{ 600, "5.1.1", NULL },
		{ 0, NULL, NULL },
	};
	char out[DSN_STATUS_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = dsn_status_from_reply(cases[i].code, cases[i].enhanced,
						out, sizeof(out));

		if (cases[i].want == NULL) {
			assert_int_equal(ret, -1);
			continue;
		}
		assert_int_equal(ret, 1);
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(dsn_status_from_reply(550, "5.1.1", out, 5), -1);
	assert_int_equal(dsn_status_from_reply(550, "5.1.1", out, 6), 1);
	assert_int_equal(dsn_status_from_reply(550, NULL, out, 5), -1);
}

/* A recipient's texts from the queue's last_error and remote host. */
static void test_rcpt_text(void **state)
{
	static const struct {
		enum dsn_kind kind;
		const char *error, *host;
		const char *status, *diagnostic, *mta;
	} cases[] = {
		{ DSN_FAILURE, "550 5.1.1 No such user", "mx.example.net[192.0.2.1]",
		  "5.1.1", "smtp; 550 5.1.1 No such user", "dns; mx.example.net" },
		{ DSN_FAILURE, "550 4.1.1 wrong class", NULL,
		  "5.0.0", "smtp; 550 4.1.1 wrong class", "" },
		{ DSN_DELAY, "421", "mx.example.net",
		  "4.0.0", "smtp; 421", "dns; mx.example.net" },
		{ DSN_DELAY, "4.4.1 No answer from host", NULL,
		  "4.4.1", "X-correio; 4.4.1 No answer from host", "" },
		{ DSN_FAILURE, "4.4.1 a temporary text", NULL,
		  "5.0.0", "X-correio; 4.4.1 a temporary text", "" },
		{ DSN_FAILURE, "5.123.1234567890123 too long", NULL,
		  "5.0.0", "X-correio; 5.123.1234567890123 too long", "" },
		{ DSN_FAILURE, "mailbox full", NULL,
		  "5.0.0", "X-correio; mailbox full", "" },
		{ DSN_FAILURE, "5500 not a reply", NULL,
		  "5.0.0", "X-correio; 5500 not a reply", "" },
		{ DSN_SUCCESS, NULL, NULL, "2.0.0", "", "" },
		{ DSN_SUCCESS, "250 2.0.0 Ok: queued as 1", "mx.example.org[::1]",
		  "2.0.0", "smtp; 250 2.0.0 Ok: queued as 1", "dns; mx.example.org" },
	};
	struct dsn_rcpt_text t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&t, 'x', sizeof(t));
		dsn_rcpt_text(cases[i].kind, cases[i].error, cases[i].host, &t);
		assert_string_equal(t.status, cases[i].status);
		assert_string_equal(t.diagnostic, cases[i].diagnostic);
		assert_string_equal(t.mta, cases[i].mta);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure),
		cmocka_unit_test(test_failure_hdrs),
		cmocka_unit_test(test_max_return),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_return_path),
		cmocka_unit_test(test_headers_only_shapes),
		cmocka_unit_test(test_8bit_body),
		cmocka_unit_test(test_utf8_header),
		cmocka_unit_test(test_utf8_address),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_orcpt_envid),
		cmocka_unit_test(test_date_zone),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_status_from_reply),
		cmocka_unit_test(test_rcpt_text),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
