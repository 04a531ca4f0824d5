/*
 * smtp_parse.c - SMTP command lines: verb, MAIL, RCPT and BDAT arguments.
 *
 * Called by the SMTP server session for each command line it reads (the
 * session caps the line length).  Pure: no I/O, no allocation; results
 * point into the line, which is cut up in place.
 *
 *   command   = verb [SP argument]
 *   mail      = "MAIL FROM:" Reverse-path [SP Mail-parameters]
 *   rcpt      = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *               Forward-path ) [SP Rcpt-parameters]
 *   Path      = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l     = At-domain *( "," At-domain )
 *   esmtp-param   = esmtp-keyword ["=" esmtp-value]
 *   esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   xtext     = *( xchar / hexchar )              ; RFC 3461
 *   bdat      = "BDAT" SP chunk-size [SP "LAST"]  ; RFC 3030
 */
#include "smtp_parse.h"

#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define SMTP_VERB_MAX 16
#define SMTP_SIZE_DIGITS_MAX 20
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX 500

#define LDH_CHARS \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

#define ERR_MAIL_SYNTAX "501 5.5.4 Syntax: MAIL FROM:<address>"
#define ERR_RCPT_SYNTAX "501 5.5.4 Syntax: RCPT TO:<address>"
#define ERR_BDAT_SYNTAX "501 5.5.4 Syntax: BDAT size [LAST]"
#define ERR_PARAM_SYNTAX "501 5.5.4 Syntax error in parameters"
#define ERR_PARAM_UNKNOWN "555 5.5.4 Unsupported parameter"
#define ERR_PARAM_DUP "501 5.5.4 Duplicate parameter"
#define ERR_BAD_SENDER "553 5.1.3 Bad sender address syntax"
#define ERR_BAD_RCPT "553 5.1.3 Bad recipient address syntax"
#define ERR_NULL_RCPT "553 5.1.3 Null recipient address not allowed"
#define ERR_UTF8 "553 5.6.7 UTF-8 address requires SMTPUTF8"

static const char *const verb_names[SMTP_VERB_COUNT] = {
	[SMTP_VERB_UNKNOWN] = "UNKNOWN",
	[SMTP_VERB_HELO] = "HELO", [SMTP_VERB_EHLO] = "EHLO",
	[SMTP_VERB_MAIL] = "MAIL", [SMTP_VERB_RCPT] = "RCPT",
	[SMTP_VERB_DATA] = "DATA", [SMTP_VERB_BDAT] = "BDAT",
	[SMTP_VERB_RSET] = "RSET", [SMTP_VERB_NOOP] = "NOOP",
	[SMTP_VERB_QUIT] = "QUIT", [SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_VRFY] = "VRFY", [SMTP_VERB_EXPN] = "EXPN",
	[SMTP_VERB_VERB] = "VERB", [SMTP_VERB_STARTTLS] = "STARTTLS",
	[SMTP_VERB_AUTH] = "AUTH",
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	if ((unsigned)verb >= SMTP_VERB_COUNT)
		return verb_names[SMTP_VERB_UNKNOWN];
	return verb_names[verb];
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static enum smtp_verb verb_lookup(const char *word, size_t len)
{
	size_t i;

	if (len == 0 || len > SMTP_VERB_MAX)
		return SMTP_VERB_UNKNOWN;
	for (i = 0; i < len; i++) {
		if (!is_alpha((unsigned char)word[i]))
			return SMTP_VERB_UNKNOWN;
	}
	for (i = SMTP_VERB_UNKNOWN + 1; i < SMTP_VERB_COUNT; i++) {
		if (strlen(verb_names[i]) == len &&
		    strncasecmp(verb_names[i], word, len) == 0)
			return (enum smtp_verb)i;
	}
	return SMTP_VERB_UNKNOWN;
}

int smtp_command_parse(char *line, size_t len, struct smtp_command *cmd,
		       const char **error_r)
{
	size_t verb_len, i;

	if (memchr(line, '\0', len) != NULL) {
		*error_r = "500 5.5.2 Syntax error: NUL byte in command";
		return -1;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	line[len] = '\0';
	if (len == 0) {
		*error_r = "500 5.5.2 Syntax error: empty command";
		return -1;
	}
	verb_len = strcspn(line, " ");
	cmd->verb = verb_lookup(line, verb_len);
	for (i = verb_len; line[i] == ' '; i++)
		;
	cmd->arg = line + i;
	return 1;
}

/* Parse 1..20 digits s[0..n) into *r.  Returns 1, or -1 (syntax, overflow). */
static int parse_digits(const char *s, size_t n, uint64_t *r)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > SMTP_SIZE_DIGITS_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (!is_digit((unsigned char)s[i]) || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*r = v;
	return 1;
}

/* xtext of 1..max characters: xchar = %d33-42 / %d44-60 / %d62-126,
   hexchar = "+" 2HEXDIG. */
static bool is_xtext(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '+') {
			if (!is_hex((unsigned char)s[1]) ||
			    !is_hex((unsigned char)s[2]))
				return false;
			s += 2;
		} else if (c < 33 || c > 126 || c == '=') {
			return false;
		}
	}
	return true;
}

/* --- paths --- */

/* The '>' closing the path that starts after p, skipping quoted text. */
static char *path_close(char *p)
{
	bool quoted = false;

	for (; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '>' && !quoted)
			return p;
	}
	return NULL;
}

/*
 * A path without its angle brackets, "MAIL FROM:a@b" (not RFC 5321, but
 * accepted by Postfix unless strict_rfc821_envelopes is set, and sent by
 * old scripts): the address runs to the first space; it must not be
 * empty nor hold a bracket.
 */
static int path_bare(char *arg, char **path_r, char **params_r)
{
	size_t n = strcspn(arg, " ");

	if (n == 0 || memchr(arg, '<', n) != NULL || memchr(arg, '>', n) != NULL)
		return -1;
	*path_r = arg;
	arg += n;
	if (*arg == ' ')
		*arg++ = '\0';
	while (*arg == ' ')
		arg++;
	*params_r = arg;
	return 1;
}

/*
 * Split "<prefix>[SP]<path>[SP params]": *path_r gets the text inside the
 * brackets (or a bare address, path_bare), *params_r the rest (both
 * NUL-terminated in place).
 */
static int path_split(char *arg, const char *prefix, char **path_r,
		      char **params_r)
{
	size_t n = strlen(prefix);
	char *close;

	if (strncasecmp(arg, prefix, n) != 0)
		return -1;
	arg += n;
	if (*arg == ' ')
		arg++;
	if (*arg != '<')
		return path_bare(arg, path_r, params_r);
	if ((close = path_close(arg + 1)) == NULL)
		return -1;
	if (close[1] != '\0' && close[1] != ' ')
		return -1;
	*close++ = '\0';
	while (*close == ' ')
		close++;
	*path_r = arg + 1;
	*params_r = close;
	return 1;
}

/* Drop a source route "@a,@b:" (RFC 5321 §C: accepted, ignored). */
static int path_skip_route(char **path)
{
	char *p = *path;

	if (*p != '@')
		return 1;
	for (;;) {
		p++;
		if (*p == '[') {
			if ((p = strchr(p, ']')) == NULL)
				return -1;
			p++;
		} else {
			size_t n = strspn(p, LDH_CHARS "._");
			if (n == 0)
				return -1;
			p += n;
		}
		if (*p == ':')
			break;
		if (p[0] != ',' || p[1] != '@')
			return -1;
		p++;
	}
	*path = p + 1;
	return 1;
}

/* Validate the Mailbox of a path (after its route); UTF-8 only when utf8. */
static int path_address(const char *mailbox, bool utf8, struct address *addr,
			const char *bad_reply, const char **error_r)
{
	const char *error;

	if (address_parse(mailbox, strlen(mailbox), true, addr, &error) < 0) {
		*error_r = bad_reply;
		return -1;
	}
	if (!utf8 && address_is_utf8(addr)) {
		*error_r = ERR_UTF8;
		return -1;
	}
	return 1;
}

/* --- parameters --- */

struct smtp_param {
	const char *name;
	/* value is NULL when the parameter has no "=" */
	int (*parse)(char *value, void *args, const char **error_r);
};

static bool is_keyword(const char *s)
{
	if (*s == '-' || *s == '\0')
		return false;
	return s[strspn(s, LDH_CHARS)] == '\0';
}

/* Cut the next space-separated word off *p. */
static char *param_next(char **p)
{
	char *word = *p, *end = word + strcspn(word, " ");

	if (*end == ' ') {
		*end++ = '\0';
		while (*end == ' ')
			end++;
	}
	*p = end;
	return word;
}

/* "KEY[=VALUE] ...": each known keyword at most once, via its handler. */
static int params_parse(char *p, const struct smtp_param *defs, void *args,
			const char **error_r)
{
	unsigned seen = 0;
	size_t i;

	while (*p != '\0') {
		char *word = param_next(&p), *value = strchr(word, '=');

		if (value != NULL)
			*value++ = '\0';
		if (!is_keyword(word)) {
			*error_r = ERR_PARAM_SYNTAX;
			return -1;
		}
		for (i = 0; defs[i].name != NULL; i++) {
			if (str_ieq(defs[i].name, word))
				break;
		}
		if (defs[i].name == NULL || (seen & (1u << i)) != 0) {
			*error_r = defs[i].name == NULL ? ERR_PARAM_UNKNOWN :
				ERR_PARAM_DUP;
			return -1;
		}
		seen |= 1u << i;
		if (defs[i].parse(value, args, error_r) < 0)
			return -1;
	}
	return 1;
}

static int param_fail(const char **error_r, const char *reply)
{
	*error_r = reply;
	return -1;
}

/* --- MAIL --- */

static int mail_size(char *value, void *args, const char **error_r)
{
	struct smtp_mail_args *r = args;

	if (value == NULL || parse_digits(value, strlen(value), &r->size) < 0)
		return param_fail(error_r, "501 5.5.4 Bad SIZE value");
	return 1;
}

static int mail_body(char *value, void *args, const char **error_r)
{
	struct smtp_mail_args *r = args;

	if (value != NULL && str_ieq(value, "7BIT"))
		r->body = SMTP_BODY_7BIT;
	else if (value != NULL && str_ieq(value, "8BITMIME"))
		r->body = SMTP_BODY_8BITMIME;
	else if (value != NULL && str_ieq(value, "BINARYMIME"))
		r->body = SMTP_BODY_BINARYMIME;
	else
		return param_fail(error_r, "501 5.5.4 Bad BODY value");
	return 1;
}

static int mail_smtputf8(char *value, void *args, const char **error_r)
{
	struct smtp_mail_args *r = args;

	if (value != NULL)
		return param_fail(error_r, "501 5.5.4 SMTPUTF8 takes no value");
	r->smtputf8 = true;
	return 1;
}

static int mail_ret(char *value, void *args, const char **error_r)
{
	struct smtp_mail_args *r = args;

	if (value != NULL && str_ieq(value, "FULL"))
		r->ret = SMTP_RET_FULL;
	else if (value != NULL && str_ieq(value, "HDRS"))
		r->ret = SMTP_RET_HDRS;
	else
		return param_fail(error_r, "501 5.5.4 Bad RET value");
	return 1;
}

static int mail_envid(char *value, void *args, const char **error_r)
{
	struct smtp_mail_args *r = args;

	if (value == NULL || !is_xtext(value, SMTP_ENVID_MAX))
		return param_fail(error_r, "501 5.5.4 Bad ENVID value");
	r->envid = value;
	return 1;
}

static int mail_auth(char *value, void *args, const char **error_r)
{
	struct smtp_mail_args *r = args;

	if (value == NULL || !is_xtext(value, SIZE_MAX))
		return param_fail(error_r, "501 5.5.4 Bad AUTH value");
	r->auth = value;
	return 1;
}

static const struct smtp_param mail_params[] = {
	{ "SIZE", mail_size },
	{ "BODY", mail_body },
	{ "SMTPUTF8", mail_smtputf8 },
	{ "RET", mail_ret },
	{ "ENVID", mail_envid },
	{ "AUTH", mail_auth },
	{ NULL, NULL }
};

int smtp_mail_parse(char *arg, struct smtp_mail_args *r, const char **error_r)
{
	char *path, *params;

	memset(r, 0, sizeof(*r));
	r->body = SMTP_BODY_7BIT;
	r->ret = SMTP_RET_NONE;
	r->envid = r->auth = NULL;
	if (path_split(arg, "FROM:", &path, &params) < 0)
		return param_fail(error_r, ERR_MAIL_SYNTAX);
	if (params_parse(params, mail_params, r, error_r) < 0)
		return -1;
	if (*path == '\0') {
		r->null_sender = true;
		return 1;
	}
	if (path_skip_route(&path) < 0)
		return param_fail(error_r, ERR_BAD_SENDER);
	return path_address(path, r->smtputf8, &r->sender,
			    ERR_BAD_SENDER, error_r);
}

/* --- RCPT --- */

static unsigned notify_bit(const char *s, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].name) == n &&
		    strncasecmp(words[i].name, s, n) == 0)
			return words[i].bit;
	}
	return 0;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) */
static int rcpt_notify(char *value, void *args, const char **error_r)
{
	struct smtp_rcpt_args *r = args;
	unsigned bits = 0, bit;
	size_t n;

	if (value == NULL)
		return param_fail(error_r, "501 5.5.4 Bad NOTIFY value");
	while (value != NULL) {
		n = strcspn(value, ",");
		if ((bit = notify_bit(value, n)) == 0)
			break;
		bits |= bit;
		value = value[n] == ',' ? value + n + 1 : NULL;
	}
	if (value != NULL || ((bits & SMTP_NOTIFY_NEVER) != 0 &&
			      bits != SMTP_NOTIFY_NEVER))
		return param_fail(error_r, "501 5.5.4 Bad NOTIFY value");
	r->notify = bits;
	return 1;
}

/* ORCPT = addr-type ";" xtext, addr-type = atom */
static int rcpt_orcpt(char *value, void *args, const char **error_r)
{
	struct smtp_rcpt_args *r = args;
	size_t n;

	if (value == NULL || strlen(value) > SMTP_ORCPT_MAX)
		return param_fail(error_r, "501 5.5.4 Bad ORCPT value");
	n = strspn(value, LDH_CHARS "!#$%&'*+/=?^_`{|}~");
	if (n == 0 || value[n] != ';' || !is_xtext(value + n + 1, SIZE_MAX))
		return param_fail(error_r, "501 5.5.4 Bad ORCPT value");
	r->orcpt = value;
	return 1;
}

static const struct smtp_param rcpt_params[] = {
	{ "NOTIFY", rcpt_notify },
	{ "ORCPT", rcpt_orcpt },
	{ NULL, NULL }
};

int smtp_rcpt_parse(char *arg, bool utf8, struct smtp_rcpt_args *r,
		    const char **error_r)
{
	char *path, *params;

	memset(r, 0, sizeof(*r));
	r->orcpt = NULL;
	if (path_split(arg, "TO:", &path, &params) < 0)
		return param_fail(error_r, ERR_RCPT_SYNTAX);
	if (params_parse(params, rcpt_params, r, error_r) < 0)
		return -1;
	if (*path == '\0')
		return param_fail(error_r, ERR_NULL_RCPT);
	if (path_skip_route(&path) < 0)
		return param_fail(error_r, ERR_BAD_RCPT);
	if (str_ieq(path, "postmaster")) {
		r->postmaster = true;
		str_copy(r->rcpt.local, "postmaster", sizeof(r->rcpt.local));
		r->rcpt.domain[0] = '\0';
		return 1;
	}
	return path_address(path, utf8, &r->rcpt, ERR_BAD_RCPT, error_r);
}

/* --- BDAT --- */

int smtp_bdat_parse(const char *arg, uint64_t *size_r, bool *last_r,
		    const char **error_r)
{
	size_t n = strspn(arg, "0123456789");
	const char *p = arg + n;
	uint64_t size;
	bool last = false;

	if (parse_digits(arg, n, &size) < 0 || (*p != ' ' && *p != '\0'))
		return param_fail(error_r, ERR_BDAT_SYNTAX);
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "LAST", 4) == 0) {
		last = true;
		for (p += 4; *p == ' '; p++)
			;
	}
	if (*p != '\0')
		return param_fail(error_r, ERR_BDAT_SYNTAX);
	*size_r = size;
	*last_r = last;
	return 1;
}
