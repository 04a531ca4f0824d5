/*
 * test_mime.c - the message parser on a corpus of real-world-shaped
 * messages (tests/mime-corpus/): the same message with LF, CRLF and mixed
 * line endings, section resolution, HEADER.FIELDS, the SEARCH text walk,
 * BINARY, limits, every truncation of every corpus message, and address
 * lists.  The IMAP renderings of the corpus (ENVELOPE, BODYSTRUCTURE) are
 * tested in lib-imap/test_imap_body.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"

#define CORPUS "tests/mime-corpus/"

/* ---- helpers ------------------------------------------------------------- */

static char *corpus_read(const char *name, size_t *len_r)
{
	char path[256];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), CORPUS "%s.eml", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the source tree)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	data[n] = '\0';
	*len_r = (size_t)n;
	return data;
}

enum line_ends { ENDS_LF, ENDS_CRLF, ENDS_MIXED };

/* The text with its LFs as CRLF (all, or every other line). */
static char *line_ends(const char *in, size_t n, enum line_ends ends,
		       size_t *len_r)
{
	char *out = malloc(n * 2 + 1);
	size_t i, o = 0, line = 0;

	assert_non_null(out);
	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r') &&
		    (ends == ENDS_CRLF || (ends == ENDS_MIXED && line++ % 2)))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* ---- the corpus: CRLF sizes whatever the line ends --------------------- */

static const char *const corpus_names[] = {
	"simple", "alternative", "mixed-base64", "nested", "forward",
	"encoded-words", "groups", "rfc2231", "digest", "broken-boundary",
	"wrong-boundary", "malformed", "rfc3501"
};

static uint64_t corpus_size(const char *name, enum line_ends ends)
{
	struct mime_message *m;
	size_t raw_len, len;
	char *raw = corpus_read(name, &raw_len);
	char *text = line_ends(raw, raw_len, ends, &len);
	uint64_t size;

	m = mime_message_parse(text, len, NULL);
	size = mime_message_size_crlf(m);
	if (ends == ENDS_CRLF)
		assert_int_equal(size, len);
	mime_message_free(&m);
	assert_null(m);
	free(text);
	free(raw);
	return size;
}

static void test_corpus_sizes(void **state)
{
	uint64_t lf;
	size_t i;

	for (i = 0; i < sizeof(corpus_names) / sizeof(corpus_names[0]); i++) {
		lf = corpus_size(corpus_names[i], ENDS_LF);
		assert_int_equal(corpus_size(corpus_names[i], ENDS_CRLF), lf);
		assert_int_equal(corpus_size(corpus_names[i], ENDS_MIXED), lf);
	}
}

/* ---- sections ------------------------------------------------------------ */

struct section_case {
	const char *name;
	const char *spec;
	int ret;
	const char *text;	/* the raw range; a prefix when it ends in
				   "..." */
};

static const struct section_case section_cases[] = {
	{ "nested", "", 1, "From: Grace <grace@example.org>\n..." },
	{ "nested", "HEADER", 1, "From: Grace <grace@example.org>\n..." },
	{ "nested", "TEXT", 1, "preamble\n--outer\n..." },
	{ "nested", "1.1", 1, "Here are the photos." },
	{ "nested", "1.2", 1, "<p>Here are the photos.</p>" },
	{ "nested", "1.2.MIME", 1,
	  "Content-Type: text/html\nContent-Language: en, pt-BR\n\n" },
	{ "nested", "1", 1, "--outer-inner\nContent-Type: text/plain\n..." },
	{ "nested", "2", 1, "iVBORw0KGgo=" },
	{ "nested", "2.mime", 1, "Content-Type: image/png; name=\"a.png\"\n..." },
	{ "nested", "1.1.HEADER", 0, NULL },
	{ "nested", "1.1.TEXT", 0, NULL },
	{ "nested", "3", 0, NULL },
	{ "nested", "1.3", 0, NULL },
	{ "nested", "2.1", 0, NULL },
	{ "forward", "2", 1, "From: Grace <grace@example.org>\n..." },
	{ "forward", "2.MIME", 1,
	  "Content-Type: message/rfc822\n"
	  "Content-Description: forwarded message\n\n" },
	{ "forward", "2.HEADER", 1, "From: Grace <grace@example.org>\n..." },
	{ "forward", "2.HEADER.FIELDS", 1,
	  "From: Grace <grace@example.org>\n..." },
	{ "forward", "2.TEXT", 1, "--inner\nContent-Type: text/plain; ..." },
	{ "forward", "2.1", 1, "Ol=E1, here are the photos." },
	{ "forward", "2.2", 1, "<p>Ol\xe1</p>" },
	{ "forward", "2.2.MIME", 1,
	  "Content-Type: text/html; charset=iso-8859-1\n\n" },
	{ "forward", "2.1.TEXT", 0, NULL },
	{ "forward", "2.3", 0, NULL },
	{ "simple", "1", 1, "Hi Bob,\n..." },
	{ "simple", "1.MIME", 1, "Return-Path: <alice@example.org>\n..." },
	{ "simple", "TEXT", 1, "Hi Bob,\n..." },
	{ "simple", "2", 0, NULL },
	{ "simple", "1.1", 0, NULL },
	{ "simple", "1.HEADER", 0, NULL },
	{ "digest", "1", 1, "From: a@example.com\nSubject: one\n\nfirst" },
	{ "digest", "1.HEADER", 1, "From: a@example.com\nSubject: one\n\n" },
	{ "digest", "1.TEXT", 1, "first" },
	{ "digest", "1.1", 1, "first" },
	{ "digest", "1.1.MIME", 1, "From: a@example.com\nSubject: one\n\n" },
	{ "digest", "2.1", 1, "second" },
	{ "digest", "1.2", 0, NULL },
	{ "digest", "1.MIME", 1, "\n" },
	/* syntax */
	{ "simple", "0", -1, NULL },
	{ "simple", "01", -1, NULL },
	{ "simple", "1.", -1, NULL },
	{ "simple", "1..1", -1, NULL },
	{ "simple", ".1", -1, NULL },
	{ "simple", "MIME", -1, NULL },
	{ "simple", "1.X", -1, NULL },
	{ "simple", "HEADER.FIELDS.NOT", 1, "Return-Path: ..." },
	{ "simple", "header", 1, "Return-Path: ..." },
	{ "simple", "TEXT.MIME", -1, NULL },
};

static void section_check(const struct section_case *c)
{
	struct mime_section s;
	struct mime_message *m;
	size_t len, want;
	char *raw = corpus_read(c->name, &len);
	int ret;

	m = mime_message_parse(raw, len, NULL);
	ret = mime_section_resolve(m, c->spec, strlen(c->spec), &s);
	if (ret != c->ret)
		fail_msg("%s [%s]: %d, not %d", c->name, c->spec, ret, c->ret);
	if (ret == 1) {
		want = strlen(c->text);
		if (want > 3 && strcmp(c->text + want - 3, "...") == 0)
			want -= 3;
		else
			assert_int_equal(s.end - s.start, want);
		if (s.end - s.start < want ||
		    memcmp(raw + s.start, c->text, want) != 0)
			fail_msg("%s [%s]: got \"%.*s\"", c->name, c->spec,
				 (int)(s.end - s.start), raw + s.start);
	}
	mime_message_free(&m);
	free(raw);
}

static void test_sections(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(section_cases) / sizeof(section_cases[0]); i++)
		section_check(&section_cases[i]);
}

/* Every part's path leads back to it. */
static void test_section_paths(void **state)
{
	static const char *const names[] = {
		"forward", "nested", "digest", "rfc3501", "simple"
	};
	static const char *const paths[] = {
		"", "1", "2", "2", "2.1", "2.2",	/* forward */
		"", "1", "1.1", "1.2", "2",		/* nested */
		"", "1", "1.1", "2", "2.1",		/* digest */
		"", "1", "2",				/* rfc3501 */
		"",					/* simple */
	};
	const struct mime_part *p;
	struct mime_message *m;
	struct mime_section s;
	struct buf path;
	size_t i, k = 0, len;
	char *raw;

	buf_init(&path, 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		raw = corpus_read(names[i], &len);
		m = mime_message_parse(raw, len, NULL);
		for (p = mime_message_root(m); p != NULL; p = mime_part_next(p)) {
			buf_reset(&path);
			assert_int_equal(mime_section_path(p, &path), 1);
			assert_string_equal(buf_cstr(&path), paths[k++]);
			assert_int_equal(mime_section_resolve(m, path.data,
							      path.len, &s), 1);
			assert_true(s.part == p || s.part == p->parent);
		}
		mime_message_free(&m);
		free(raw);
	}
	assert_int_equal(k, sizeof(paths) / sizeof(paths[0]));
	buf_deinit(&path);
}

/* ---- HEADER.FIELDS ---------------------------------------------------- */

static void test_header_fields(void **state)
{
	static const char *const names[] = { "subject", "TO", "X-None" };
	struct mime_message *m;
	struct mime_section s;
	struct buf out;
	size_t len;
	char *raw = corpus_read("simple", &len);

	buf_init(&out, 0);
	m = mime_message_parse(raw, len, NULL);
	assert_int_equal(mime_section_resolve(m, "HEADER.FIELDS", 13, &s), 1);
	assert_int_equal(s.kind, MIME_SECTION_HEADER_FIELDS);
	assert_int_equal(mime_header_filter(raw + s.start, s.end - s.start,
					    names, 3, false, &out), 1);
	assert_string_equal(buf_cstr(&out),
		"To: Bob <bob@example.com>\n"
		"Subject: Lunch on\n Thursday?\n\n");
	buf_reset(&out);
	assert_int_equal(mime_header_filter(raw + s.start, s.end - s.start,
					    names, 3, true, &out), 1);
	assert_non_null(strstr(buf_cstr(&out), "Received: from mx"));
	assert_null(strstr(buf_cstr(&out), "Subject"));
	assert_int_equal(out.data[out.len - 1], '\n');
	assert_int_equal(out.data[out.len - 2], '\n');
	/* a header that ends without an empty line still gets one */
	buf_reset(&out);
	assert_int_equal(mime_header_filter("To: a\nSubject: b", 16, names, 1,
					    false, &out), 1);
	assert_string_equal(buf_cstr(&out), "Subject: b\n\n");
	/* the output buffer's maximum is honoured */
	buf_deinit(&out);
	buf_init(&out, 10);
	assert_int_equal(mime_header_filter(raw + s.start, s.end - s.start,
					    names, 3, true, &out), -1);
	mime_message_free(&m);
	buf_deinit(&out);
	free(raw);
}

static void test_header_get(void **state)
{
	static const char msg[] =
		"Subject: first\r\n"
		"X-Folded: a\r\n"
		"\tb\n"
		"  c\r\n"
		"subject: second\n"
		"X-Nul: a\0b\n"
		"\n"
		"Subject: body\n";
	struct mime_message *m = mime_message_parse(msg, sizeof(msg) - 1, NULL);
	const struct mime_part *root = mime_message_root(m);
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(mime_header_get(m, root, "SUBJECT", &out), 1);
	assert_string_equal(buf_cstr(&out), "first");
	buf_reset(&out);
	assert_int_equal(mime_header_get(m, root, "x-folded", &out), 1);
	assert_string_equal(buf_cstr(&out), "a\tb  c");
	buf_reset(&out);
	assert_int_equal(mime_header_get(m, root, "X-Nul", &out), 1);
	assert_string_equal(buf_cstr(&out), "ab");
	buf_reset(&out);
	assert_int_equal(mime_header_get(m, root, "Received", &out), 0);
	assert_int_equal(mime_header_get_decoded(m, root, "Received", &out), 0);
	assert_int_equal(mime_header_get_decoded(m, root, "x-folded", &out), 1);
	assert_string_equal(buf_cstr(&out), "a\tb  c");
	assert_int_equal(root->flags & MIME_PART_NO_EMPTY_LINE, 0);
	mime_message_free(&m);
	buf_deinit(&out);
}

/* ---- decoded content --------------------------------------------------- */

struct walk_seen {
	struct buf all;		/* "H:name:text\n" and "B:path:text\n" */
	unsigned int calls, stop_after;
};

static int walk_collect(void *ctx, const struct mime_text *t)
{
	struct walk_seen *w = ctx;

	assert_int_equal(t->text[t->len], '\0');
	if (t->kind == MIME_TEXT_HEADER)
		buf_printf(&w->all, "H:%.*s:", (int)t->name_len, t->name);
	else
		buf_puts(&w->all, "B:");
	buf_append(&w->all, t->text, t->len);
	buf_putc(&w->all, '\n');
	return ++w->calls != w->stop_after;
}

static void walk_file(const char *name, unsigned int what, size_t max,
		      struct walk_seen *w)
{
	struct mime_message *m;
	size_t len;
	char *raw = corpus_read(name, &len);

	m = mime_message_parse(raw, len, NULL);
	buf_reset(&w->all);
	w->calls = 0;
	assert_int_equal(mime_text_walk(m, what, max, walk_collect, w),
			 w->stop_after == 0 ? 1 : 0);
	mime_message_free(&m);
	free(raw);
}

static void test_text_walk(void **state)
{
	struct walk_seen w = { .stop_after = 0 };

	buf_init(&w.all, 0);
	walk_file("alternative", MIME_WALK_BODIES, 0, &w);
	assert_string_equal(buf_cstr(&w.all),
		"B:Today: cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e and a very long "
		"line that is wrapped by the soft line break rule.\n\n"
		"B:<div dir=\"ltr\">Today: cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
		"e</div>\n\n");
	walk_file("encoded-words", MIME_WALK_HEADERS | MIME_WALK_BODIES, 0,
		  &w);
	assert_non_null(strstr(buf_cstr(&w.all), "H:Subject:\xe6\x97\xa5"
			       "\xe6\x9c\xac\xe8\xaa\x9e\xe2\x80\x93 test\n"));
	assert_non_null(strstr(buf_cstr(&w.all),
			       "H:From:Andr\xc3\xa9 Pirard <PIRARD@"));
	assert_non_null(strstr(buf_cstr(&w.all),
			       "H:Cc:\xe2\x80\x9cQuoted\xe2\x80\x9d Person <"));
	assert_non_null(strstr(buf_cstr(&w.all),
			       "B:\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n"));
	/* the forwarded message: its header and both of its text parts */
	walk_file("forward", MIME_WALK_HEADERS | MIME_WALK_BODIES, 0, &w);
	assert_non_null(strstr(buf_cstr(&w.all), "H:Subject:Fwd: Photos\n"));
	assert_non_null(strstr(buf_cstr(&w.all), "H:Subject:Photos\n"));
	assert_non_null(strstr(buf_cstr(&w.all),
			       "B:Ol\xc3\xa1, here are the photos.\n"));
	assert_non_null(strstr(buf_cstr(&w.all), "B:<p>Ol\xc3\xa1</p>\n"));
	/* MIME part headers are not message headers */
	assert_null(strstr(buf_cstr(&w.all), "H:Content-Type:text/plain"));
	/* no image data, a cut per part, and stopping */
	walk_file("nested", MIME_WALK_BODIES, 4, &w);
	assert_string_equal(buf_cstr(&w.all), "B:Here\nB:<p>H\n");
	w.stop_after = 1;
	walk_file("nested", MIME_WALK_BODIES, 0, &w);
	assert_int_equal(w.calls, 1);
	buf_deinit(&w.all);
}

static const struct mime_part *part_at(const struct mime_message *m,
				       const char *spec)
{
	struct mime_section s;

	assert_int_equal(mime_section_resolve(m, spec, strlen(spec), &s), 1);
	return s.part;
}

static void test_binary(void **state)
{
	static const char qp[] =
		"Today: cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e and a very long "
		"line that is wrapped by the soft line break rule.\r\n";
	struct mime_message *m;
	const struct mime_part *p;
	struct buf out;
	uint64_t size;
	size_t len, i;
	char *raw;

	buf_init(&out, 0);
	raw = corpus_read("mixed-base64", &len);
	m = mime_message_parse(raw, len, NULL);
	p = part_at(m, "2");
	assert_int_equal(p->cte, MIME_CTE_BASE64);
	assert_int_equal(mime_text_binary(m, p, &out), 1);
	assert_int_equal(mime_text_binary_size(m, p, &size), 1);
	assert_int_equal(size, 293);
	assert_int_equal(out.len, 293);
	assert_memory_equal(out.data, "%PDF-1.4\n% fake pdf for tests\n", 30);
	for (i = 0; i < 256; i++)
		assert_int_equal((unsigned char)out.data[30 + i], i);
	buf_reset(&out);
	assert_int_equal(mime_text_binary(m, part_at(m, "1"), &out), 1);
	assert_string_equal(buf_cstr(&out), "Please find the report attached.");
	mime_message_free(&m);
	free(raw);

	raw = corpus_read("alternative", &len);
	m = mime_message_parse(raw, len, NULL);
	p = part_at(m, "1");
	buf_reset(&out);
	assert_int_equal(mime_text_binary(m, p, &out), 1);
	assert_string_equal(buf_cstr(&out), qp);
	assert_int_equal(mime_text_binary_size(m, p, &size), 1);
	assert_int_equal(size, strlen(qp));
	/* text decoding is cut at the buffer's maximum */
	buf_deinit(&out);
	buf_init(&out, 10);
	assert_int_equal(mime_text_decode(m, p, &out), 0);
	assert_string_equal(buf_cstr(&out), "Today: cr\xc3");
	mime_message_free(&m);
	free(raw);
	buf_deinit(&out);
}

static void test_unknown_cte(void **state)
{
	static const char msg[] =
		"Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n";
	struct mime_message *m = mime_message_parse(msg, strlen(msg), NULL);
	const struct mime_part *root = mime_message_root(m);
	struct buf out;
	uint64_t size;

	buf_init(&out, 0);
	assert_int_equal(root->cte, MIME_CTE_UNKNOWN);
	assert_string_equal(root->encoding, "X-UUENCODE");
	assert_int_equal(mime_text_binary(m, root, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(mime_text_binary_size(m, root, &size), 0);
	assert_int_equal(mime_text_decode(m, root, &out), 1);
	assert_string_equal(buf_cstr(&out), "begin 644 a\n");
	mime_message_free(&m);
	buf_deinit(&out);
}

/* ---- limits and malformed input ---------------------------------------- */

static void test_limit_depth(void **state)
{
	const struct mime_part *p, *deepest = NULL;
	struct mime_message *m;
	struct buf msg;
	int i;

	buf_init(&msg, 0);
	for (i = 0; i < 30; i++)
		buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%d\n"
			   "\n--b%d\n", i, i);
	buf_puts(&msg, "\ndeep text\n");
	for (i = 29; i >= 0; i--)
		buf_printf(&msg, "--b%d--\n", i);
	m = mime_message_parse(msg.data, msg.len, NULL);
	for (p = mime_message_root(m); p != NULL; p = mime_part_next(p)) {
		assert_true(p->depth <= MIME_MAX_DEPTH);
		if (deepest == NULL || p->depth > deepest->depth)
			deepest = p;
	}
	assert_int_equal(deepest->depth, MIME_MAX_DEPTH);
	assert_int_equal(deepest->flags & (MIME_PART_OPAQUE | MIME_PART_LIMIT),
			 MIME_PART_OPAQUE | MIME_PART_LIMIT);
	assert_int_equal(mime_message_part_count(m), MIME_MAX_DEPTH + 1);
	mime_message_free(&m);
	buf_deinit(&msg);
}

static void test_limit_parts(void **state)
{
	const struct mime_part *p, *last = NULL;
	struct mime_message *m;
	struct buf msg;
	int i;

	buf_init(&msg, 0);
	buf_puts(&msg, "Content-Type: multipart/mixed; boundary=x\n\n");
	for (i = 0; i < 1500; i++)
		buf_printf(&msg, "--x\n\npart %d\n", i);
	buf_puts(&msg, "--x--\n");
	m = mime_message_parse(msg.data, msg.len, NULL);
	assert_int_equal(mime_message_part_count(m), MIME_MAX_PARTS);
	assert_int_equal(mime_message_root(m)->nchildren, MIME_MAX_PARTS - 1);
	assert_true(mime_message_root(m)->flags & MIME_PART_LIMIT);
	for (p = mime_message_root(m)->children; p != NULL; p = p->next)
		last = p;
	/* the rest of the content stays in the last part */
	assert_int_equal(last->end, msg.len);
	mime_message_free(&m);
	buf_deinit(&msg);
}

static void test_limit_header(void **state)
{
	struct mime_limits limits = { 20, 1000, 100, 1 << 20 };
	struct mime_message *m;
	struct buf msg, out;
	int i;

	buf_init(&msg, 0);
	buf_init(&out, 0);
	for (i = 0; i < 200; i++)
		buf_printf(&msg, "X-Field-%d: value\n", i);
	buf_puts(&msg, "Subject: late\n\nbody\n");
	m = mime_message_parse(msg.data, msg.len, &limits);
	assert_true(mime_message_root(m)->flags & MIME_PART_LIMIT);
	assert_int_equal(mime_header_get(m, mime_message_root(m), "Subject",
					 &out), 0);
	assert_int_equal(mime_header_get(m, mime_message_root(m), "X-Field-99",
					 &out), 1);
	mime_message_free(&m);
	limits.max_header_fields = 1000;
	limits.max_header_size = 100;
	m = mime_message_parse(msg.data, msg.len, &limits);
	assert_true(mime_message_root(m)->body_start <= 100);
	mime_message_free(&m);
	buf_deinit(&msg);
	buf_deinit(&out);
}

/* Every prefix of every corpus message gives a sane tree. */
static void test_truncated(void **state)
{
	static const char *const names[] = {
		"simple", "alternative", "mixed-base64", "nested", "forward",
		"encoded-words", "rfc2231", "broken-boundary", "groups",
		"digest", "malformed", "rfc3501"
	};
	const struct mime_part *p;
	struct mime_message *m;
	size_t i, n, len;
	char *raw;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		raw = corpus_read(names[i], &len);
		for (n = 0; n <= len; n += 1 + n / 512) {
			m = mime_message_parse(raw, n, NULL);
			for (p = mime_message_root(m); p != NULL;
			     p = mime_part_next(p))
				assert_true(p->header_start <= p->body_start &&
					    p->body_start <= p->end &&
					    p->end <= n);
			mime_message_free(&m);
		}
		free(raw);
	}
}

/* mime_address_text: the normal form SEARCH FROM/TO/... also matches */
static void test_address_text(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "user@example.org", "<user@example.org>" },
		{ "Real Name <user@example.org>", "Real Name <user@example.org>" },
		{ "\"Doe, J.\" <j@example.org>", "Doe, J. <j@example.org>" },
		{ "<user (comment)@ (comment) example.org>", "<user@example.org>" },
		{ "user@example.org (Real)", "Real <user@example.org>" },
		{ "a@x.org, b@y.org", "<a@x.org> <b@y.org>" },
		{ "grp: a@x.org, b@x.org;, g2: c@x.org;",
		  "grp: <a@x.org> <b@x.org> ; g2: <c@x.org> ;" },
		{ "undisclosed-recipients:;", "undisclosed-recipients: ;" },
		{ "user", "<user@MISSING_DOMAIN>" },
		{ "", "" },
	};
	struct buf out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&out, 0);
		assert_int_equal(mime_address_text(cases[i].in, strlen(cases[i].in), &out), 1);
		assert_string_equal(buf_cstr(&out), cases[i].out);
		buf_deinit(&out);
	}
}

/* mime_address_first: the first address with a mailbox and a host */
static void test_address_first(void **state)
{
	static const struct { const char *in, *name, *mailbox, *host; int ret; } cases[] = {
		{ "Amy <amy@x.org>, b@y.org", "Amy", "amy", "x.org", 1 },
		{ "\"Doe, J\" <j@x.org>", "Doe, J", "j", "x.org", 1 },
		{ "=?UTF-8?Q?=C3=89mile?= <e@x.org>", "=?UTF-8?Q?=C3=89mile?=", "e", "x.org", 1 },
		{ "grp: ;, c@z.org", "", "c", "z.org", 1 },
		{ "grp: d@z.org;", "", "d", "z.org", 1 },
		{ "u@x.org (Real)", "Real", "u", "x.org", 1 },
		{ "", "", "", "", 0 },
		{ "undisclosed-recipients:;", "", "", "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mime_address a;
		buf_init(&a.name, 0);
		buf_init(&a.mailbox, 0);
		buf_init(&a.host, 0);
		assert_int_equal(mime_address_first(cases[i].in, strlen(cases[i].in), &a),
				 cases[i].ret);
		assert_string_equal(buf_cstr(&a.name), cases[i].name);
		assert_string_equal(buf_cstr(&a.mailbox), cases[i].mailbox);
		assert_string_equal(buf_cstr(&a.host), cases[i].host);
		buf_deinit(&a.name);
		buf_deinit(&a.mailbox);
		buf_deinit(&a.host);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_sizes),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_section_paths),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_header_get),
		cmocka_unit_test(test_text_walk),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_unknown_cte),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_parts),
		cmocka_unit_test(test_limit_header),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_address_text),
		cmocka_unit_test(test_address_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
