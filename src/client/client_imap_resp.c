/*
 * client_imap_resp.c - reading IMAP server responses (RFC 9051 §7), for
 * the client.  Pure: no I/O.  The server is not trusted, so every part has
 * a cap: a line between literals, a literal, a whole response.
 *
 *   response      = *(continue-req / response-data) response-done
 *   continue-req  = "+" SP (resp-text / base64) CRLF
 *   response-data = "*" SP (resp-cond-state / resp-cond-bye /
 *                   mailbox-data / message-data / capability-data ...) CRLF
 *   response-tagged = tag SP resp-cond-state CRLF
 *   resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
 *   resp-text     = ["[" resp-text-code "]" SP] [text]
 *   literal       = "{" number64 "}" CRLF *CHAR8    (and "~{n}" literal8)
 *
 * Two stages.  imap_resp_feed() frames one response: lines up to LF; a line
 * that ends in a literal header is followed by that many octets and then
 * the rest of the response.  imap_resp_parse() splits the framed text: the
 * status responses (OK, NO, BAD, BYE, PREAUTH) by hand, because their text
 * is free prose; data responses (FETCH, LIST, SEARCH, STATUS, ...) are
 * given to lib-imap's reader, the same tokenizer and literal handling the
 * server uses for commands, behind a tag of its own.
 */
#include "client/client_private.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void imap_resp_reader_init(struct imap_resp_reader *r,
			   const struct imap_resp_limits *limits)
{
	memset(r, 0, sizeof(*r));
	r->limits = *limits;
	buf_init(&r->text, limits->max_total);
}

void imap_resp_reader_deinit(struct imap_resp_reader *r)
{
	buf_deinit(&r->text);
}

/* Does the line text[start..len) (LF included) end in "{n}" or "~{n}"
   before its CRLF?  1 with *n_r, 0 no, -1 a bad number. */
static int literal_at_end(const char *text, size_t start, size_t len,
			  uint64_t *n_r)
{
	size_t end = len - 1;	/* at the LF */
	size_t i;
	uint64_t n = 0;

	if (end > start && text[end - 1] == '\r')
		end--;
	if (end == start || text[end - 1] != '}')
		return 0;
	i = end - 1;
	while (i > start && isdigit((unsigned char)text[i - 1]))
		i--;
	if (i == start || text[i - 1] != '{')
		return 0;
	if (i == end - 1 || end - 1 - i > 19)
		return -1;
	for (size_t k = i; k < end - 1; k++)
		n = n * 10 + (uint64_t)(text[k] - '0');
	*n_r = n;
	return 1;
}

static int reader_fail(struct imap_resp_reader *r, const char *why,
		       const char **reason_r)
{
	*reason_r = why;
	r->failed = true;
	r->state = IMAP_RESP_SKIP;
	return -1;
}

/* A line just ended (its LF is the last byte of text). */
static int line_end(struct imap_resp_reader *r, const char **reason_r)
{
	uint64_t n;
	int ret = literal_at_end(r->text.data, r->line_start, r->text.len, &n);

	if (ret < 0)
		return reader_fail(r, "bad literal size", reason_r);
	if (ret == 0) {
		r->line_start = 0;
		return 1;
	}
	if (n > r->limits.max_literal ||
	    n > r->limits.max_total - r->text.len)
		return reader_fail(r, "literal too big", reason_r);
	r->literal_left = n;
	r->state = IMAP_RESP_LITERAL;
	return 0;
}

static int feed_line(struct imap_resp_reader *r, const char *in, size_t n,
		     size_t *used, const char **reason_r)
{
	const char *nl = memchr(in, '\n', n);
	size_t k = nl != NULL ? (size_t)(nl - in) + 1 : n;

	if (r->text.len - r->line_start + k > r->limits.max_line + 2)
		return reader_fail(r, "line too long", reason_r);
	if (buf_append(&r->text, in, k) < 0)
		return reader_fail(r, "response too big", reason_r);
	*used = k;
	if (nl == NULL)
		return 0;
	return line_end(r, reason_r);
}

static int feed_literal(struct imap_resp_reader *r, const char *in, size_t n,
			size_t *used)
{
	size_t k = n < r->literal_left ? n : (size_t)r->literal_left;

	buf_append(&r->text, in, k);	/* room checked at the header */
	r->literal_left -= k;
	*used = k;
	if (r->literal_left == 0) {
		r->state = IMAP_RESP_LINE;
		r->line_start = r->text.len;
	}
	return 0;
}

/* A response that broke a limit is skipped: the rest of its line, and
   (roughly) whatever follows is read as new lines. */
static int feed_skip(struct imap_resp_reader *r, const char *in, size_t n,
		     size_t *used)
{
	const char *nl = memchr(in, '\n', n);

	if (nl == NULL) {
		*used = n;
		return 0;
	}
	*used = (size_t)(nl - in) + 1;
	r->state = IMAP_RESP_LINE;
	r->line_start = 0;
	buf_reset(&r->text);
	r->failed = false;
	return 0;
}

int imap_resp_feed(struct imap_resp_reader *r, const char *in, size_t n,
		   size_t *consumed_r, const char **reason_r)
{
	size_t done = 0;

	if (r->state == IMAP_RESP_LINE && r->line_start == 0 && !r->failed &&
	    r->text.len > 0 && r->text.data[r->text.len - 1] == '\n')
		buf_reset(&r->text);	/* the previous response was taken */
	while (done < n) {
		size_t used = 0;
		int ret;

		switch (r->state) {
		case IMAP_RESP_LINE:
			ret = feed_line(r, in + done, n - done, &used, reason_r);
			break;
		case IMAP_RESP_LITERAL:
			ret = feed_literal(r, in + done, n - done, &used);
			break;
		default:
			ret = feed_skip(r, in + done, n - done, &used);
			break;
		}
		done += used;
		if (ret != 0) {
			*consumed_r = done;
			return ret;
		}
	}
	*consumed_r = done;
	return 0;
}

/* ---- splitting a framed response -------------------------------------- */

static bool is_status(const char *word, size_t len)
{
	static const char *const names[] = { "OK", "NO", "BAD", "BYE", "PREAUTH" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(word, names[i], len) == 0)
			return true;
	return false;
}

/* "OK [CODE args] text": s points at the status word (NUL-terminated
   copy we may cut). */
static void parse_status(char *s, size_t wlen, struct imap_resp *r)
{
	char *p = s + wlen;

	for (size_t i = 0; i < wlen; i++)
		s[i] = (char)toupper((unsigned char)s[i]);
	r->code = "";
	r->text = "";
	if (*p == '\0') {
		s[wlen] = '\0';
		r->status = s;
		return;
	}
	*p++ = '\0';
	r->status = s;
	if (*p == '[') {
		char *close = strchr(p + 1, ']');
		if (close != NULL) {
			*close = '\0';
			r->code = p + 1;
			p = close + 1;
			while (*p == ' ')
				p++;
		}
	}
	r->text = p;
}

static int parse_data(struct imap_parser *parser, const char *s, size_t len,
		      struct imap_resp *r)
{
	struct imap_event ev;
	struct buf in;
	size_t off = 0, used;
	int ret;

	/* the reader wants "tag name args": give it "U X args"; it copies
	   what the tree holds, so the input may go right after */
	buf_init(&in, 0);
	buf_puts(&in, "U X");
	buf_append(&in, s, len);
	imap_parser_done(parser);
	for (;;) {
		ret = imap_parser_feed(parser, in.data + off, in.len - off, &used, &ev);
		off += used;
		if (ret <= 0 || ev.type == IMAP_EVENT_COMMAND)
			break;
		/* literal events: the default (collect) is right, the framer
		   checked the sizes */
	}
	buf_deinit(&in);
	if (ret <= 0)
		return -1;
	r->args = ev.args;
	r->arg_count = ev.arg_count;
	return 1;
}

int imap_resp_parse(struct imap_parser *p, struct buf *scratch,
		    const char *text, size_t len, struct imap_resp *r)
{
	char *s, *sp;
	size_t wlen;

	memset(r, 0, sizeof(*r));
	buf_reset(scratch);
	if (len < 2 || text[len - 1] != '\n')
		return -1;
	/* a NUL-terminated copy at the end of scratch's first part */
	buf_append(scratch, text, len);
	buf_putc(scratch, '\0');
	s = scratch->data;
	if (s[0] == '+') {
		r->kind = IMAP_RESP_CONT;
		r->text = s[1] == ' ' ? s + 2 : s + 1;
		s[strcspn(s, "\r\n")] = '\0';
		return 1;
	}
	sp = strchr(s, ' ');
	if (sp == NULL || sp == s || (size_t)(sp - s) >= sizeof(r->tag))
		return -1;
	memcpy(r->tag, s, (size_t)(sp - s));
	r->kind = strcmp(r->tag, "*") == 0 ? IMAP_RESP_UNTAGGED : IMAP_RESP_TAGGED;
	s = sp + 1;
	wlen = strcspn(s, " \r\n");
	if (is_status(s, wlen)) {
		/* status text: the first line only */
		s[strcspn(s, "\r\n")] = '\0';
		parse_status(s, wlen, r);
		return 1;
	}
	if (r->kind == IMAP_RESP_TAGGED)
		return -1;
	if (wlen > 0 && isdigit((unsigned char)s[0])) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (end != s + wlen || n > UINT32_MAX)
			return -1;
		r->has_number = true;
		r->number = (uint32_t)n;
		s += wlen;
		while (*s == ' ')
			s++;
		wlen = strcspn(s, " \r\n");
	}
	if (wlen == 0)
		return -1;
	for (size_t i = 0; i < wlen; i++)
		s[i] = (char)toupper((unsigned char)s[i]);
	r->name = s;
	if (parse_data(p, s + wlen, len - (size_t)(s + wlen - scratch->data), r) < 0)
		return -1;
	r->rest = s[wlen] == ' ' ? s + wlen + 1 : "";
	s[wlen] = '\0';
	return 1;
}

int imap_resp_search_next(const char **p, uint32_t *v_r)
{
	while (**p != '\0') {
		char *end;
		unsigned long v = strtoul(*p, &end, 10);
		if (end == *p)
			return 0;
		*p = end;
		while (**p == ' ')
			(*p)++;
		if (v > 0 && v <= UINT32_MAX) {
			*v_r = (uint32_t)v;
			return 1;
		}
	}
	return 0;
}

const struct imap_arg *imap_resp_fetch_item(const struct imap_arg *list,
					    size_t count, const char *name,
					    bool prefix)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i + 1 < count; i += 2) {
		const char *s;
		if (!imap_arg_get_atom(&list[i], &s))
			continue;
		if (prefix ? strncasecmp(s, name, nlen) == 0 : strcasecmp(s, name) == 0)
			return &list[i + 1];
	}
	return NULL;
}

/* ---- flags -------------------------------------------------------------- */

static const struct { const char *name; unsigned bit; } flag_names[] = {
	{ "\\Seen", CLIENT_F_SEEN }, { "\\Answered", CLIENT_F_ANSWERED },
	{ "\\Flagged", CLIENT_F_FLAGGED }, { "\\Deleted", CLIENT_F_DELETED },
	{ "\\Draft", CLIENT_F_DRAFT },
};

unsigned client_imap_flags(const struct imap_arg *list)
{
	const struct imap_arg *items;
	size_t n;
	unsigned flags = 0;
	const char *s;

	if (list == NULL || !imap_arg_get_list(list, &items, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_get_atom(&items[i], &s))
			continue;
		for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
			if (strcasecmp(s, flag_names[k].name) == 0)
				flags |= flag_names[k].bit;
	}
	return flags;
}

void client_imap_flags_str(unsigned flags, struct buf *out)
{
	bool first = true;

	for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++) {
		if (!(flags & flag_names[k].bit))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, flag_names[k].name);
		first = false;
	}
}
