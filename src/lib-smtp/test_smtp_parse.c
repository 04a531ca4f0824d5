/*
 * test_smtp_parse.c - command lines, MAIL/RCPT parameters, BDAT arguments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib-smtp/smtp_parse.h"

#define ERR_MAIL "501 5.5.4 Syntax: MAIL FROM:<address>"
#define ERR_RCPT "501 5.5.4 Syntax: RCPT TO:<address>"
#define ERR_BDAT "501 5.5.4 Syntax: BDAT size [LAST]"
#define ERR_PSYN "501 5.5.4 Syntax error in parameters"
#define ERR_UNK "555 5.5.4 Unsupported parameter"
#define ERR_DUP "501 5.5.4 Duplicate parameter"
#define ERR_SENDER "553 5.1.3 Bad sender address syntax"
#define ERR_RCPTADDR "553 5.1.3 Bad recipient address syntax"
#define ERR_UTF8 "553 5.6.7 UTF-8 address requires SMTPUTF8"
#define ERR_SIZE "501 5.5.4 Bad SIZE value"
#define ERR_NOTIFY "501 5.5.4 Bad NOTIFY value"
#define ERR_ORCPT "501 5.5.4 Bad ORCPT value"
#define ERR_NULLRCPT "553 5.1.3 Null recipient address not allowed"

/* A reply line: 3 digits, space, enhanced code, space, text. */
static void check_reply(const char *reply)
{
	assert_non_null(reply);
	assert_true(strlen(reply) > 10);
	assert_true(reply[3] == ' ');
	assert_true(reply[0] == '5' && reply[4] == '5' && reply[5] == '.');
	assert_null(strchr(reply, '\r'));
	assert_null(strchr(reply, '\n'));
}

struct command_case {
	const char *line;
	size_t len;		/* 0: strlen(line) */
	int ret;
	enum smtp_verb verb;
	const char *arg;	/* or the error when ret < 0 */
};

static const struct command_case command_cases[] = {
	{ "HELO client.example", 0, 1, SMTP_VERB_HELO, "client.example" },
	{ "ehlo client.example", 0, 1, SMTP_VERB_EHLO, "client.example" },
	{ "MAIL FROM:<a@b>", 0, 1, SMTP_VERB_MAIL, "FROM:<a@b>" },
	{ "mail from:<a@b> SIZE=10", 0, 1, SMTP_VERB_MAIL,
	  "from:<a@b> SIZE=10" },
	{ "RcPt TO:<a@b>   ", 0, 1, SMTP_VERB_RCPT, "TO:<a@b>" },
	{ "DATA", 0, 1, SMTP_VERB_DATA, "" },
	{ "DATA   ", 0, 1, SMTP_VERB_DATA, "" },
	{ "data \t ", 0, 1, SMTP_VERB_DATA, "" },
	{ "BDAT 100 LAST", 0, 1, SMTP_VERB_BDAT, "100 LAST" },
	{ "RSET", 0, 1, SMTP_VERB_RSET, "" },
	{ "NOOP anything", 0, 1, SMTP_VERB_NOOP, "anything" },
	{ "QUIT", 0, 1, SMTP_VERB_QUIT, "" },
	{ "HELP", 0, 1, SMTP_VERB_HELP, "" },
	{ "VRFY user", 0, 1, SMTP_VERB_VRFY, "user" },
	{ "EXPN list", 0, 1, SMTP_VERB_EXPN, "list" },
	{ "VERB", 0, 1, SMTP_VERB_VERB, "" },
	{ "StartTLS", 0, 1, SMTP_VERB_STARTTLS, "" },
	{ "AUTH PLAIN AGFiYwBkZWY=", 0, 1, SMTP_VERB_AUTH, "PLAIN AGFiYwBkZWY=" },
	{ "EHLO    spaced", 0, 1, SMTP_VERB_EHLO, "spaced" },
	{ "XCLIENT NAME=x", 0, 1, SMTP_VERB_UNKNOWN, "NAME=x" },
	{ "MAILX FROM:<>", 0, 1, SMTP_VERB_UNKNOWN, "FROM:<>" },
	{ "MAI", 0, 1, SMTP_VERB_UNKNOWN, "" },
	{ "GET / HTTP/1.1", 0, 1, SMTP_VERB_UNKNOWN, "/ HTTP/1.1" },
	{ "HEL0 x", 0, 1, SMTP_VERB_UNKNOWN, "x" },
	{ "ABCDEFGHIJKLMNOPQ x", 0, 1, SMTP_VERB_UNKNOWN, "x" },
	{ "ABCDEFGHIJKLMNOP", 0, 1, SMTP_VERB_UNKNOWN, "" },
	{ " HELO x", 0, 1, SMTP_VERB_UNKNOWN, "HELO x" },
	{ "MAIL:FROM", 0, 1, SMTP_VERB_UNKNOWN, "" },
	{ "H\xc3\x89LO x", 0, 1, SMTP_VERB_UNKNOWN, "x" },
	{ "", 0, -1, SMTP_VERB_UNKNOWN, "500 5.5.2" },
	{ "    ", 0, -1, SMTP_VERB_UNKNOWN, "500 5.5.2" },
	{ "HELO a\0b", 8, -1, SMTP_VERB_UNKNOWN, "500 5.5.2" },
	{ "\0", 1, -1, SMTP_VERB_UNKNOWN, "500 5.5.2" },
	{ "QUIT\0", 5, -1, SMTP_VERB_UNKNOWN, "500 5.5.2" },
};

static void test_command(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(command_cases) / sizeof(command_cases[0]); i++) {
		const struct command_case *c = &command_cases[i];
		size_t len = c->len != 0 ? c->len : strlen(c->line);
		char line[128];
		struct smtp_command cmd;
		const char *error = NULL;
		int ret;

		memcpy(line, c->line, len);
		line[len] = 'X';	/* the parser must terminate it */
		ret = smtp_command_parse(line, len, &cmd, &error);
		if (ret != c->ret)
			fail_msg("case %zu: got %d", i, ret);
		if (ret < 0) {
			check_reply(error);
			assert_memory_equal(error, c->arg, strlen(c->arg));
			continue;
		}
		if (cmd.verb != c->verb)
			fail_msg("case %zu: verb %d", i, cmd.verb);
		assert_string_equal(cmd.arg, c->arg);
	}
}

static void test_verb_name(void **state)
{
	char line[32];
	int v;

	for (v = SMTP_VERB_UNKNOWN + 1; v < SMTP_VERB_COUNT; v++) {
		struct smtp_command cmd;
		const char *error;
		size_t len;

		len = (size_t)snprintf(line, sizeof(line), "%s arg",
				       smtp_verb_name((enum smtp_verb)v));
		assert_int_equal(smtp_command_parse(line, len, &cmd, &error), 1);
		assert_int_equal(cmd.verb, v);
	}
	assert_string_equal(smtp_verb_name(SMTP_VERB_MAIL), "MAIL");
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
	assert_string_equal(smtp_verb_name(SMTP_VERB_COUNT), "UNKNOWN");
}

struct mail_case {
	const char *arg;
	const char *error;	/* NULL: success */
	bool null_sender;
	const char *local, *domain;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	enum smtp_ret ret;
	const char *envid, *auth;
};

static const struct mail_case mail_cases[] = {
	{ "FROM:<a@b.c>", NULL, false, "a", "b.c", 0, SMTP_BODY_7BIT, false,
	  SMTP_RET_NONE, NULL, NULL },
	{ "from:<a@b.c>", NULL, false, "a", "b.c", 0, 0, false, 0, NULL, NULL },
	{ "FROM: <a@b.c>", NULL, false, "a", "b.c", 0, 0, false, 0, NULL, NULL },
	{ "FROM:<>", NULL, true, NULL, NULL, 0, 0, false, 0, NULL, NULL },
	{ "FROM:<> SIZE=0", NULL, true, NULL, NULL, 0, 0, false, 0, NULL, NULL },
	{ "FROM:<@r1,@[1.2.3.4]:u@d>", NULL, false, "u", "d", 0, 0, false, 0,
	  NULL, NULL },
	{ "FROM:<\"a>b\"@d>", NULL, false, "\"a>b\"", "d", 0, 0, false, 0,
	  NULL, NULL },
	{ "FROM:<\"a\\\"> \"@d>", NULL, false, "\"a\\\"> \"", "d", 0, 0, false,
	  0, NULL, NULL },
	{ "FROM:<a@b> SIZE=12345 BODY=8BITMIME", NULL, false, "a", "b", 12345,
	  SMTP_BODY_8BITMIME, false, 0, NULL, NULL },
	{ "FROM:<a@b> size=18446744073709551615 body=binarymime", NULL, false,
	  "a", "b", UINT64_MAX, SMTP_BODY_BINARYMIME, false, 0, NULL, NULL },
	{ "FROM:<a@b> BODY=7bit", NULL, false, "a", "b", 0, SMTP_BODY_7BIT,
	  false, 0, NULL, NULL },
	{ "FROM:<a@b>  RET=HDRS   ENVID=QQ+2Bx", NULL, false, "a", "b", 0, 0,
	  false, SMTP_RET_HDRS, "QQ+2Bx", NULL },
	{ "FROM:<a@b> RET=full AUTH=<>", NULL, false, "a", "b", 0, 0, false,
	  SMTP_RET_FULL, NULL, "<>" },
	{ "FROM:<a@b> AUTH=e+3Dmc2@example.com", NULL, false, "a", "b", 0, 0,
	  false, 0, NULL, "e+3Dmc2@example.com" },
	{ "FROM:<\xc3\xa9@b> SMTPUTF8", NULL, false, "\xc3\xa9", "b", 0, 0,
	  true, 0, NULL, NULL },
	{ "FROM:<a@b\xc3\xa9> smtputf8 BODY=8BITMIME", NULL, false, "a",
	  "b\xc3\xa9", 0, SMTP_BODY_8BITMIME, true, 0, NULL, NULL },
	{ "FROM:<a@b> SMTPUTF8", NULL, false, "a", "b", 0, 0, true, 0, NULL,
	  NULL },
	/* without angle brackets, as Postfix accepts by default */
	{ "FROM:a@b.c", NULL, false, "a", "b.c", 0, 0, false, 0, NULL, NULL },
	{ "FROM: a@b.c SIZE=10", NULL, false, "a", "b.c", 10, 0, false, 0,
	  NULL, NULL },
	{ "FROM:a@b.c  BODY=8BITMIME", NULL, false, "a", "b.c", 0,
	  SMTP_BODY_8BITMIME, false, 0, NULL, NULL },
	/* 501 syntax */
	{ .arg = "FROM:a@b>", .error = ERR_MAIL },
	{ .arg = "FROM:a<b@c", .error = ERR_MAIL },
	{ .arg = "FROM: ", .error = ERR_MAIL },
	{ .arg = "FROM:<a@b", .error = ERR_MAIL },
	{ .arg = "FROM:  <a@b>", .error = ERR_MAIL },
	{ .arg = "FROM <a@b>", .error = ERR_MAIL },
	{ .arg = "TO:<a@b>", .error = ERR_MAIL },
	{ .arg = "", .error = ERR_MAIL },
	{ .arg = "FROM:", .error = ERR_MAIL },
	{ .arg = "FROM:<a@b>SIZE=1", .error = ERR_MAIL },
	{ .arg = "FROM:<\"a@b>", .error = ERR_MAIL },
	/* 553 address */
	{ .arg = "FROM:<a>", .error = ERR_SENDER },
	{ .arg = "FROM:<a@>", .error = ERR_SENDER },
	{ .arg = "FROM:< a@b>", .error = ERR_SENDER },
	{ .arg = "FROM:<a@b.>", .error = ERR_SENDER },
	{ .arg = "FROM:<@r1:>", .error = ERR_SENDER },
	{ .arg = "FROM:<@:a@b>", .error = ERR_SENDER },
	{ .arg = "FROM:<@r1,r2:a@b>", .error = ERR_SENDER },
	{ .arg = "FROM:<@[1.2.3.4:a@b>", .error = ERR_SENDER },
	{ .arg = "FROM:<a\xc3@b> SMTPUTF8", .error = ERR_SENDER },
	/* 553 5.6.7 */
	{ .arg = "FROM:<\xc3\xa9@b>", .error = ERR_UTF8 },
	{ .arg = "FROM:<a@\xc3\xa9>", .error = ERR_UTF8 },
	{ .arg = "FROM:<\xc3\xa9@b> BODY=8BITMIME", .error = ERR_UTF8 },
	/* parameters */
	{ .arg = "FROM:<a@b> FOO=bar", .error = ERR_UNK },
	{ .arg = "FROM:<a@b> NOTIFY=NEVER", .error = ERR_UNK },
	{ .arg = "FROM:<a@b> X-1", .error = ERR_UNK },
	{ .arg = "FROM:<a@b> SIZE=1 SIZE=2", .error = ERR_DUP },
	{ .arg = "FROM:<a@b> size=1 SIZE=1", .error = ERR_DUP },
	{ .arg = "FROM:<a@b> SMTPUTF8 SMTPUTF8", .error = ERR_DUP },
	{ .arg = "FROM:<a@b> =x", .error = ERR_PSYN },
	{ .arg = "FROM:<a@b> -X=1", .error = ERR_PSYN },
	{ .arg = "FROM:<a@b> SI_ZE=1", .error = ERR_PSYN },
	{ .arg = "FROM:<a@b> SIZE", .error = ERR_SIZE },
	{ .arg = "FROM:<a@b> SIZE=", .error = ERR_SIZE },
	{ .arg = "FROM:<a@b> SIZE=12k", .error = ERR_SIZE },
	{ .arg = "FROM:<a@b> SIZE=-1", .error = ERR_SIZE },
	{ .arg = "FROM:<a@b> SIZE=18446744073709551616", .error = ERR_SIZE },
	{ .arg = "FROM:<a@b> SIZE=000000000000000000001", .error = ERR_SIZE },
	{ .arg = "FROM:<a@b> BODY=8BIT", .error = "501 5.5.4 Bad BODY value" },
	{ .arg = "FROM:<a@b> BODY", .error = "501 5.5.4 Bad BODY value" },
	{ .arg = "FROM:<a@b> SMTPUTF8=yes", .error = "501 5.5.4 SMTPUTF8 takes no value" },
	{ .arg = "FROM:<a@b> RET=ALL", .error = "501 5.5.4 Bad RET value" },
	{ .arg = "FROM:<a@b> RET", .error = "501 5.5.4 Bad RET value" },
	{ .arg = "FROM:<a@b> ENVID=", .error = "501 5.5.4 Bad ENVID value" },
	{ .arg = "FROM:<a@b> ENVID=a+2", .error = "501 5.5.4 Bad ENVID value" },
	{ .arg = "FROM:<a@b> ENVID=a+zz", .error = "501 5.5.4 Bad ENVID value" },
	{ .arg = "FROM:<a@b> ENVID=a\x01", .error = "501 5.5.4 Bad ENVID value" },
	{ .arg = "FROM:<a@b> ENVID=\xc3\xa9", .error = "501 5.5.4 Bad ENVID value" },
	{ .arg = "FROM:<a@b> AUTH", .error = "501 5.5.4 Bad AUTH value" },
	{ .arg = "FROM:<a@b> AUTH=a=b", .error = "501 5.5.4 Bad AUTH value" },
};

static void check_mail_ok(const struct mail_case *c,
			  const struct smtp_mail_args *r)
{
	assert_int_equal(r->null_sender, c->null_sender);
	if (!c->null_sender) {
		assert_string_equal(r->sender.local, c->local);
		assert_string_equal(r->sender.domain, c->domain);
	}
	assert_true(r->size == c->size);
	assert_int_equal(r->body, c->body);
	assert_int_equal(r->smtputf8, c->smtputf8);
	assert_int_equal(r->ret, c->ret);
	if (c->envid == NULL)
		assert_null(r->envid);
	else
		assert_string_equal(r->envid, c->envid);
	if (c->auth == NULL)
		assert_null(r->auth);
	else
		assert_string_equal(r->auth, c->auth);
}

static void test_mail(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		const struct mail_case *c = &mail_cases[i];
		struct smtp_mail_args r;
		char arg[256];
		const char *error = NULL;
		int ret;

		snprintf(arg, sizeof(arg), "%s", c->arg);
		ret = smtp_mail_parse(arg, &r, &error);
		if (ret != (c->error == NULL ? 1 : -1))
			fail_msg("case %zu \"%s\": got %d (%s)", i, c->arg, ret,
				 error != NULL ? error : "");
		if (ret > 0) {
			check_mail_ok(c, &r);
			continue;
		}
		check_reply(error);
		if (strcmp(error, c->error) != 0)
			fail_msg("case %zu \"%s\": %s", i, c->arg, error);
	}
}

static void test_mail_envid_length(void **state)
{
	char arg[256];
	struct smtp_mail_args r;
	const char *error;
	int n;

	n = snprintf(arg, sizeof(arg), "FROM:<a@b> ENVID=");
	memset(arg + n, 'e', 100);
	arg[n + 100] = '\0';
	assert_int_equal(smtp_mail_parse(arg, &r, &error), 1);
	assert_int_equal(strlen(r.envid), 100);
	n = snprintf(arg, sizeof(arg), "FROM:<a@b> ENVID=");
	memset(arg + n, 'e', 101);
	arg[n + 101] = '\0';
	assert_int_equal(smtp_mail_parse(arg, &r, &error), -1);
	assert_string_equal(error, "501 5.5.4 Bad ENVID value");
}

/* Through smtp_command_parse, as the session does it. */
static void test_mail_from_command(void **state)
{
	char line[] = "MAIL FROM:<User@Example.org> SIZE=100 BODY=8BITMIME  ";
	struct smtp_command cmd;
	struct smtp_mail_args r;
	const char *error;

	assert_int_equal(smtp_command_parse(line, strlen(line), &cmd, &error), 1);
	assert_int_equal(cmd.verb, SMTP_VERB_MAIL);
	assert_int_equal(smtp_mail_parse(cmd.arg, &r, &error), 1);
	assert_string_equal(r.sender.local, "User");
	assert_true(r.size == 100);
}

struct rcpt_case {
	const char *arg;
	bool utf8;
	const char *error;	/* NULL: success */
	bool postmaster;
	const char *local, *domain;
	unsigned notify;
	const char *orcpt;
};

static const struct rcpt_case rcpt_cases[] = {
	{ "TO:<a@b.c>", false, NULL, false, "a", "b.c", 0, NULL },
	{ "to: <a@b.c>", false, NULL, false, "a", "b.c", 0, NULL },
	{ "TO:<Postmaster>", false, NULL, true, "postmaster", "", 0, NULL },
	{ "TO:<POSTMASTER>", false, NULL, true, "postmaster", "", 0, NULL },
	{ "TO:<postmaster@b.c>", false, NULL, false, "postmaster", "b.c", 0,
	  NULL },
	{ "TO:<@r:a@b>", false, NULL, false, "a", "b", 0, NULL },
	{ "TO:<a@b> NOTIFY=NEVER", false, NULL, false, "a", "b",
	  SMTP_NOTIFY_NEVER, NULL },
	{ "TO:<a@b> NOTIFY=success,FAILURE", false, NULL, false, "a", "b",
	  SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, NULL },
	{ "TO:<a@b> NOTIFY=DELAY,SUCCESS,FAILURE", false, NULL, false, "a", "b",
	  SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, NULL },
	{ "TO:<a@b> ORCPT=rfc822;a+40b", false, NULL, false, "a", "b", 0,
	  "rfc822;a+40b" },
	{ "TO:<a@b> ORCPT=utf-8;u\\x{E9}@b NOTIFY=DELAY", false, NULL, false,
	  "a", "b", SMTP_NOTIFY_DELAY, "utf-8;u\\x{E9}@b" },
	{ "TO:<\xc3\xa9@b>", true, NULL, false, "\xc3\xa9", "b", 0, NULL },
	{ .arg = "TO:<\xc3\xa9@b>", .utf8 = false, .error = ERR_UTF8 },
	{ .arg = "TO:<a@\xc3\xa9>", .utf8 = false, .error = ERR_UTF8 },
	{ .arg = "TO:<\xff@b>", .utf8 = true, .error = ERR_RCPTADDR },
	{ .arg = "TO:<>", .utf8 = false, .error = ERR_NULLRCPT },
	{ .arg = "TO:<a>", .utf8 = false, .error = ERR_RCPTADDR },
	{ .arg = "TO:<postmaster@>", .utf8 = false, .error = ERR_RCPTADDR },
	{ .arg = "TO:<@r:>", .utf8 = false, .error = ERR_RCPTADDR },
	{ .arg = "TO:<@r>", .utf8 = false, .error = ERR_RCPTADDR },
	{ "TO:a@b.c", false, NULL, false, "a", "b.c", 0, NULL },
	{ "to: a@b.c NOTIFY=SUCCESS", false, NULL, false, "a", "b.c",
	  SMTP_NOTIFY_SUCCESS, NULL },
	{ "TO:postmaster", false, NULL, true, "postmaster", "", 0, NULL },
	{ .arg = "TO:", .utf8 = false, .error = ERR_RCPT },
	{ .arg = "TO:a@b>", .utf8 = false, .error = ERR_RCPT },
	{ .arg = "TO:a", .utf8 = false, .error = ERR_RCPTADDR },
	{ .arg = "TO:<a@b", .utf8 = false, .error = ERR_RCPT },
	{ .arg = "FROM:<a@b>", .utf8 = false, .error = ERR_RCPT },
	{ .arg = "TO:<a@b>x", .utf8 = false, .error = ERR_RCPT },
	{ .arg = "TO:<a@b> NOTIFY=NEVER,SUCCESS", .utf8 = false, .error = ERR_NOTIFY },
	{ .arg = "TO:<a@b> NOTIFY=", .utf8 = false, .error = ERR_NOTIFY },
	{ .arg = "TO:<a@b> NOTIFY", .utf8 = false, .error = ERR_NOTIFY },
	{ .arg = "TO:<a@b> NOTIFY=SUCCESS,", .utf8 = false, .error = ERR_NOTIFY },
	{ .arg = "TO:<a@b> NOTIFY=,SUCCESS", .utf8 = false, .error = ERR_NOTIFY },
	{ .arg = "TO:<a@b> NOTIFY=ALWAYS", .utf8 = false, .error = ERR_NOTIFY },
	{ .arg = "TO:<a@b> ORCPT=rfc822", .utf8 = false, .error = ERR_ORCPT },
	{ .arg = "TO:<a@b> ORCPT=;a@b", .utf8 = false, .error = ERR_ORCPT },
	{ .arg = "TO:<a@b> ORCPT=rfc822;", .utf8 = false, .error = ERR_ORCPT },
	{ .arg = "TO:<a@b> ORCPT=rfc822;a+4", .utf8 = false, .error = ERR_ORCPT },
	{ .arg = "TO:<a@b> ORCPT", .utf8 = false, .error = ERR_ORCPT },
	{ .arg = "TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", .utf8 = false, .error = ERR_DUP },
	{ .arg = "TO:<a@b> SIZE=1", .utf8 = false, .error = ERR_UNK },
	{ .arg = "TO:<a@b> X=1 =", .utf8 = false, .error = ERR_UNK },
	{ .arg = "TO:<a@b> = X=1", .utf8 = false, .error = ERR_PSYN },
};

static void test_rcpt(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
		const struct rcpt_case *c = &rcpt_cases[i];
		struct smtp_rcpt_args r;
		char arg[256];
		const char *error = NULL;
		int ret;

		snprintf(arg, sizeof(arg), "%s", c->arg);
		ret = smtp_rcpt_parse(arg, c->utf8, &r, &error);
		if (ret != (c->error == NULL ? 1 : -1))
			fail_msg("case %zu \"%s\": got %d (%s)", i, c->arg, ret,
				 error != NULL ? error : "");
		if (ret < 0) {
			check_reply(error);
			if (strcmp(error, c->error) != 0)
				fail_msg("case %zu \"%s\": %s", i, c->arg, error);
			continue;
		}
		assert_int_equal(r.postmaster, c->postmaster);
		assert_string_equal(r.rcpt.local, c->local);
		assert_string_equal(r.rcpt.domain, c->domain);
		assert_int_equal(r.notify, c->notify);
		if (c->orcpt == NULL)
			assert_null(r.orcpt);
		else
			assert_string_equal(r.orcpt, c->orcpt);
	}
}

static void test_rcpt_orcpt_length(void **state)
{
	char arg[700];
	struct smtp_rcpt_args r;
	const char *error;
	int n;

	n = snprintf(arg, sizeof(arg), "TO:<a@b> ORCPT=rfc822;");
	memset(arg + n, 'o', 493);
	arg[n + 493] = '\0';
	assert_int_equal(smtp_rcpt_parse(arg, false, &r, &error), 1);
	assert_int_equal(strlen(r.orcpt), 500);
	n = snprintf(arg, sizeof(arg), "TO:<a@b> ORCPT=rfc822;");
	memset(arg + n, 'o', 494);
	arg[n + 494] = '\0';
	assert_int_equal(smtp_rcpt_parse(arg, false, &r, &error), -1);
}

struct bdat_case {
	const char *arg;
	int ret;
	uint64_t size;
	bool last;
};

static const struct bdat_case bdat_cases[] = {
	{ "0", 1, 0, false },
	{ "100", 1, 100, false },
	{ "100 LAST", 1, 100, true },
	{ "100 last", 1, 100, true },
	{ "0 LAST", 1, 0, true },
	{ "100  LAST  ", 1, 100, true },
	{ "100 ", 1, 100, false },
	{ "18446744073709551615", 1, UINT64_MAX, false },
	{ "00000000000000000001 LAST", 1, 1, true },
	{ "18446744073709551616", -1, 0, false },
	{ "99999999999999999999", -1, 0, false },
	{ "000000000000000000001", -1, 0, false },
	{ "", -1, 0, false },
	{ "LAST", -1, 0, false },
	{ " 100", -1, 0, false },
	{ "-1", -1, 0, false },
	{ "100LAST", -1, 0, false },
	{ "100 LASTX", -1, 0, false },
	{ "100 LAS", -1, 0, false },
	{ "100 LAST LAST", -1, 0, false },
	{ "100 FIRST", -1, 0, false },
	{ "1e3", -1, 0, false },
	{ "0x10", -1, 0, false },
};

static void test_bdat(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bdat_cases) / sizeof(bdat_cases[0]); i++) {
		const struct bdat_case *c = &bdat_cases[i];
		uint64_t size = 12345;
		bool last = false;
		const char *error = NULL;
		int ret = smtp_bdat_parse(c->arg, &size, &last, &error);

		if (ret != c->ret)
			fail_msg("case %zu \"%s\": got %d", i, c->arg, ret);
		if (ret < 0) {
			assert_string_equal(error, ERR_BDAT);
			continue;
		}
		assert_true(size == c->size);
		assert_int_equal(last, c->last);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_verb_name),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_mail_envid_length),
		cmocka_unit_test(test_mail_from_command),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_rcpt_orcpt_length),
		cmocka_unit_test(test_bdat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
