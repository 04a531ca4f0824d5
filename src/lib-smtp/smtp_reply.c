/*
 * smtp_reply.c - multi-line SMTP replies and EHLO keywords.
 */
#include "smtp_reply.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, 64 * 1024);
}

void smtp_reply_deinit(struct smtp_reply *r)
{
	buf_deinit(&r->text);
}

void smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->lines = 0;
	buf_reset(&r->text);
}

/* "x.y.z " at the start of text (RFC 3463 §2), copied to out. */
static void take_enhanced(struct smtp_reply *r, const char *p, size_t len)
{
	size_t n = 0;
	int dots = 0;

	if (len < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return;
	while (n < len && n < sizeof(r->enhanced) - 1 &&
	       (isdigit((unsigned char)p[n]) || p[n] == '.'))
		dots += p[n++] == '.';
	if (dots == 2 && (n == len || p[n] == ' ') && p[n - 1] != '.') {
		memcpy(r->enhanced, p, n);
		r->enhanced[n] = '\0';
	}
}

int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len)
{
	int code;

	if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || line[0] < '2' || line[0] > '5' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if ((r->lines > 0 && code != r->code) || r->lines >= SMTP_REPLY_MAX_LINES)
		return -1;
	if (r->lines == 0 && len > 4)
		take_enhanced(r, line + 4, len - 4);
	r->code = code;
	if (r->lines++ > 0)
		buf_putc(&r->text, '\n');
	if (len > 4)
		buf_append(&r->text, line + 4, len - 4);
	return len == 3 || line[3] == ' ' ? 1 : 0;
}

bool smtp_reply_has_keyword(const struct smtp_reply *r, const char *keyword,
			    const char **param_r)
{
	size_t klen = strlen(keyword);
	const char *p = buf_cstr(&r->text);

	/* the first line is the greeting, not a keyword */
	for (p = strchr(p, '\n'); p != NULL; p = strchr(p, '\n')) {
		p++;
		if (strncasecmp(p, keyword, klen) == 0 &&
		    (p[klen] == '\0' || p[klen] == '\n' || p[klen] == ' ' || p[klen] == '=')) {
			if (param_r != NULL)
				*param_r = p[klen] == ' ' || p[klen] == '=' ? p + klen + 1 : "";
			return true;
		}
	}
	return false;
}

void smtp_reply_summary(const struct smtp_reply *r, char *out, size_t size)
{
	const char *text = buf_cstr(&r->text);
	size_t n = strcspn(text, "\n");

	snprintf(out, size, "%d %.*s", r->code, (int)n, text);
}
