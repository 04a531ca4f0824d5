/*
 * test_sieve.c - the Sieve compiler and interpreter: syntax errors with
 * line numbers, each test and action, the extensions, and the limits that
 * keep a hostile script from hanging delivery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "sieve/sieve.h"

static const char message[] =
	"Return-Path: <alice@example.net>\r\n"
	"From: Alice Example <alice@example.net>\r\n"
	"To: bob+lists@example.org, \"Carol, C\" <carol@example.org>\r\n"
	"Subject: [announce] Weekly\r\n"
	" report\r\n"
	"List-Id: <announce.example.net>\r\n"
	"X-Spam-Score: 7\r\n"
	"Received: from c by b; Sat, 5 Dec 2026 09:30:00 -0500\r\n"
	"Received: from b by a; Fri, 4 Dec 2026 23:59:59 +0000\r\n"
	"Date: Sat, 05 Dec 2026 10:00:00 +0100\r\n"
	"\r\n"
	"Hello Bob,\r\nthe report is attached.\r\n";

static struct sieve_message msg(void)
{
	struct sieve_message m = { .data = message, .len = sizeof(message) - 1,
				   .env_from = "alice@example.net",
				   .env_to = "bob+lists@example.org", .delimiter = '+' };
	return m;
}

/* Compile and run; the plan as text: "fileinto:F[flags] redirect:A reject:T". */
static int run(const char *script, char *out, size_t size, char *err, size_t err_size)
{
	struct sieve_script *s;
	struct sieve_plan *plan = calloc(1, sizeof(*plan));
	struct sieve_message m = msg();
	int ret;

	out[0] = '\0';
	if (sieve_compile(script, strlen(script), &s, err, err_size) < 0) {
		free(plan);
		return -2;
	}
	ret = sieve_run(s, &m, plan, err, err_size);
	for (unsigned i = 0; i < plan->n; i++) {
		struct sieve_action *a = &plan->actions[i];
		size_t l = strlen(out);
		if (a->kind == SIEVE_ACTION_FILEINTO)
			snprintf(out + l, size - l, "%sfileinto:%s[%s]", l ? " " : "", a->folder,
				 a->flags);
		else if (a->kind == SIEVE_ACTION_REDIRECT)
			snprintf(out + l, size - l, "%sredirect:%s", l ? " " : "", a->address);
		else if (a->kind == SIEVE_ACTION_VACATION)
			snprintf(out + l, size - l, "%svacation:%s:%u:%s:%s", l ? " " : "", a->address,
				 a->days, a->subject, a->text);
		else
			snprintf(out + l, size - l, "%sreject:%s", l ? " " : "", a->text);
	}
	sieve_plan_free(plan);
	free(plan);
	sieve_script_free(&s);
	return ret;
}

static void expect(const char *script, const char *want)
{
	char out[2048], err[256];
	int ret = run(script, out, sizeof(out), err, sizeof(err));

	if (ret != 1)
		fail_msg("script failed (%d): %s\n%s", ret, err, script);
	if (strcmp(out, want) != 0)
		fail_msg("plan \"%s\", wanted \"%s\"\n%s", out, want, script);
}

static void expect_compile_error(const char *script, const char *want)
{
	char out[2048], err[256];
	int ret = run(script, out, sizeof(out), err, sizeof(err));

	assert_int_equal(ret, -2);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\", wanted \"%s\"", err, want);
}

static void expect_run_error(const char *script, const char *want)
{
	char out[2048], err[256];
	int ret = run(script, out, sizeof(out), err, sizeof(err));

	if (ret != -1)
		fail_msg("ret %d (%s)", ret, err);
	assert_string_equal(out, "");
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\", wanted \"%s\"", err, want);
}

static void test_keep_discard(void **state)
{
	expect("", "fileinto:INBOX[]");
	expect("keep;", "fileinto:INBOX[]");
	expect("discard;", "");
	expect("discard; keep;", "fileinto:INBOX[]");
	expect("# comment\n/* bracketed\n comment */ stop; discard;", "fileinto:INBOX[]");
}

static void test_syntax_errors(void **state)
{
	expect_compile_error("keep", "line 1: expected ';'");
	expect_compile_error("require \"fileinto\";\n\nfileinto \"a\"\nkeep;",
			     "line 3: fileinto takes 0 tests");
	expect_compile_error("require \"fileinto\";\n\nfileinto \"a\"\n", "line 4: expected ';'");
	expect_compile_error("\n\nfrobnicate;", "line 3: unknown command 'frobnicate'");
	expect_compile_error("fileinto \"x\";", "line 1: 'fileinto' needs require");
	expect_compile_error("require \"nosuch\";", "unsupported extension");
	expect_compile_error("if true { keep; ", "missing '}'");
	expect_compile_error("keep; require \"fileinto\";", "require must come before");
	expect_compile_error("else { keep; }", "else without if");
	expect_compile_error("if header :is \"a\" { keep; }", "wrong number of arguments");
	expect_compile_error("\"unterminated", "unterminated string");
	expect_compile_error("/* open", "unterminated comment");
	expect_compile_error("if header :bogus \"a\" \"b\" { keep; }", "unknown tag ':bogus'");
	expect_compile_error("if anyof () { keep; }", "expected a test");
	expect_compile_error("keep {}", "takes no block");
	/* a tag of another command: once taken, it swallowed the address */
	expect_compile_error("redirect :over \"carol@example.com\";",
			     "line 1: redirect takes no ':over'");
	expect_compile_error("if size :is 10 { keep; }", "size takes no ':is'");
	expect_compile_error("require \"fileinto\";\nfileinto :localpart \"a\";",
			     "line 2: fileinto takes no ':localpart'");
	expect_compile_error("if exists :contains \"a\" { keep; }", "exists takes no ':contains'");
}

static void test_fileinto_header(void **state)
{
	const char *s =
		"require [\"fileinto\", \"mailbox\"];\n"
		"if header :contains \"subject\" \"[announce]\" {\n"
		"  fileinto :create \"Lists/Announce\";\n"
		"} elsif header :is \"from\" \"x\" { discard; }\n";
	expect(s, "fileinto:Lists/Announce[]");
	/* unfolded value */
	expect("require \"fileinto\"; if header :is \"Subject\" \"[announce] Weekly report\" "
	       "{ fileinto \"W\"; }", "fileinto:W[]");
	/* :copy keeps the implicit keep */
	expect("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\";",
	       "fileinto:A[] fileinto:INBOX[]");
	/* the same folder twice files once */
	expect("require \"fileinto\"; fileinto \"A\"; fileinto \"A\";", "fileinto:A[]");
	expect("if exists [\"list-id\", \"from\"] { discard; }", "");
	expect("if exists [\"list-id\", \"x-none\"] { discard; }", "fileinto:INBOX[]");
	expect("if not exists \"x-none\" { discard; }", "");
	expect("if allof (true, header :matches \"subject\" \"*weekly*\") { discard; }", "");
	expect("if anyof (false, false) { discard; } else { stop; }", "fileinto:INBOX[]");
	expect("if header :is :comparator \"i;octet\" \"subject\" \"[ANNOUNCE] weekly report\""
	       " { discard; }", "fileinto:INBOX[]");
}

static void test_address_envelope(void **state)
{
	expect("if address :domain \"from\" \"EXAMPLE.net\" { discard; }", "");
	expect("if address :localpart \"to\" \"carol\" { discard; }", "");
	expect("if address :all \"to\" \"carol@example.org\" { discard; }", "");
	expect("if address :is \"to\" \"Carol, C\" { discard; }", "fileinto:INBOX[]");
	expect("require \"envelope\"; if envelope :is \"from\" \"alice@example.net\" "
	       "{ discard; }", "");
	expect("require [\"envelope\", \"subaddress\"]; if envelope :detail \"to\" \"lists\" "
	       "{ discard; }", "");
	expect("require [\"envelope\", \"subaddress\"]; if envelope :user \"to\" \"bob\" "
	       "{ discard; }", "");
	expect("require \"subaddress\"; if address :detail \"from\" \"\" { discard; }",
	       "fileinto:INBOX[]");
}

static void test_size_body(void **state)
{
	expect("if size :over 10 { discard; }", "");
	expect("if size :under 1K { discard; }", "");
	expect("if size :over 1M { discard; }", "fileinto:INBOX[]");
	expect("require \"body\"; if body :contains \"attached\" { discard; }", "");
	expect("require \"body\"; if body :text :contains \"Return-Path\" { discard; }",
	       "fileinto:INBOX[]");
}

static void test_variables(void **state)
{
	expect("require [\"fileinto\", \"variables\"];\n"
	       "if header :matches \"List-Id\" \"<*.example.net>\" {\n"
	       "  set :upperfirst \"list\" \"${1}\"; fileinto \"Lists/${list}\"; }",
	       "fileinto:Lists/Announce[]");
	expect("require [\"fileinto\", \"variables\"]; set \"a\" \"x\"; set :length \"n\" \"abcd\";"
	       " if string :is \"${a}${n}\" \"x4\" { fileinto \"ok\"; }", "fileinto:ok[]");
	expect("require [\"fileinto\", \"variables\", \"subaddress\", \"envelope\"];"
	       " if envelope :detail :matches \"to\" \"*\" { fileinto \"${1}\"; }",
	       "fileinto:lists[]");
	/* without variables, ${x} is literal */
	expect("require \"fileinto\"; fileinto \"${x}\";", "fileinto:${x}[]");
}

static void test_regex_relational(void **state)
{
	expect("require [\"regex\", \"variables\", \"fileinto\"];"
	       " if header :regex \"subject\" \"^\\\\[([a-z]+)\\\\]\" { fileinto \"${1}\"; }",
	       "fileinto:announce[]");
	expect("require [\"relational\", \"comparator-i;ascii-numeric\"];"
	       " if header :value \"ge\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"5\""
	       " { discard; }", "");
	expect("require [\"relational\", \"comparator-i;ascii-numeric\"];"
	       " if header :value \"ge\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"10\""
	       " { discard; }", "fileinto:INBOX[]");
	expect("require \"relational\"; if address :count \"eq\" \"to\" \"2\" { discard; }", "");
	expect_run_error("require \"regex\"; if header :regex \"subject\" \"(\" { discard; }",
			 "bad regular expression");
	expect_run_error("require \"regex\"; if header :regex \"subject\" \"(a)\\\\1\" "
			 "{ discard; }", "back-references");
}

static void test_flags(void **state)
{
	expect("require [\"imap4flags\"]; setflag \"\\\\Seen\"; addflag [\"\\\\Flagged\", "
	       "\"$Work\"]; removeflag \"\\\\seen\";", "fileinto:INBOX[\\Flagged $Work]");
	expect("require [\"imap4flags\", \"fileinto\"];"
	       " fileinto :flags \"\\\\Seen \\\\Answered\" \"A\";",
	       "fileinto:A[\\Seen \\Answered]");
	expect("require [\"imap4flags\", \"variables\"]; addflag \"f\" \"\\\\Seen\";"
	       " if hasflag \"f\" \"\\\\SEEN\" { discard; }", "");
	expect("require \"imap4flags\"; if hasflag \"\\\\Seen\" { discard; }", "fileinto:INBOX[]");
	/* a list too long to keep fails the run (kept in INBOX, logged),
	   never a silent no-op */
	{
		struct buf script;
		buf_init(&script, 0);
		buf_puts(&script, "require \"imap4flags\";\naddflag [");
		for (int i = 0; i < 600; i++)
			buf_printf(&script, "%s\"kw%04d\"", i > 0 ? ", " : "", i);
		buf_puts(&script, "];");
		expect_run_error(buf_cstr(&script), "line 2: addflag: the flag list passes 4096 bytes");
		buf_deinit(&script);
	}
}

static void test_redirect_reject(void **state)
{
	expect("redirect \"carol@example.com\";", "redirect:carol@example.com");
	expect("require \"copy\"; redirect :copy \"carol@example.com\";",
	       "redirect:carol@example.com fileinto:INBOX[]");
	expect("require \"reject\"; reject \"go away\";", "reject:go away");
	expect("require \"ereject\"; ereject text:\nnot\n..here\n.\n;", "reject:not\r\n.here\r\n");
	expect_run_error("redirect \"not an address\";", "bad redirect address");
}

static void test_limits(void **state)
{
	char *big;
	struct sieve_script *s;
	char err[256];
	struct buf_like { char *p; size_t len, cap; } b = { 0 };
	time_t start;

	/* script size */
	big = malloc(SIEVE_MAX_SCRIPT + 2);
	memset(big, ' ', SIEVE_MAX_SCRIPT + 1);
	big[SIEVE_MAX_SCRIPT + 1] = '\0';
	assert_int_equal(sieve_compile(big, SIEVE_MAX_SCRIPT + 1, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
	free(big);

	/* redirects */
	expect_run_error("redirect \"a@x.example\"; redirect \"b@x.example\"; redirect "
			 "\"c@x.example\"; redirect \"d@x.example\"; redirect \"e@x.example\";",
			 "more than 4 redirects");

	/* actions */
	b.cap = 1 << 16;
	b.p = calloc(1, b.cap);
	b.len = (size_t)snprintf(b.p, b.cap, "require \"fileinto\";\n");
	for (int i = 0; i < SIEVE_MAX_ACTIONS + 1; i++)
		b.len += (size_t)snprintf(b.p + b.len, b.cap - b.len, "fileinto \"f%d\";\n", i);
	expect_run_error(b.p, "more than 64 actions");

	free(b.p);

	/* run time: a long script of tests runs out of steps */
	size_t cap = 4 * 1024 * 1024, len = 0;
	char *p = malloc(cap);
	len += (size_t)snprintf(p + len, cap - len, "if anyof(");
	for (int i = 0; i < 12000; i++)
		len += (size_t)snprintf(p + len, cap - len, "%sheader :matches [\"subject\", \"to\","
					" \"from\", \"x\"] [\"*a*b*c*\", \"*z*\"]", i ? "," : "");
	len += (size_t)snprintf(p + len, cap - len, ") { discard; }");
	start = time(NULL);
	expect_run_error(p, "too many steps");
	assert_true(time(NULL) - start < 5);
	free(p);

	/* nesting depth */
	cap = 100000;
	p = malloc(cap);
	len = 0;
	for (int i = 0; i < 200; i++)
		len += (size_t)snprintf(p + len, cap - len, "if true {");
	expect_compile_error(p, "nested too deeply");
	len = (size_t)snprintf(p, cap, "if ");
	for (int i = 0; i < 200; i++)
		len += (size_t)snprintf(p + len, cap - len, "not ");
	snprintf(p + len, cap - len, "true { keep; }");
	expect_compile_error(p, "nested too deeply");
	free(p);

	/* regular expression length */
	p = malloc(SIEVE_MAX_REGEX + 200);
	len = (size_t)snprintf(p, SIEVE_MAX_REGEX + 200,
			       "require \"regex\"; if header :regex \"subject\" \"");
	memset(p + len, 'a', SIEVE_MAX_REGEX + 1);
	snprintf(p + len + SIEVE_MAX_REGEX + 1, 100, "\" { discard; }");
	expect_run_error(p, "longer than");
	free(p);
}

/* A :matches with many stars over a long value stays linear per star
   (no exponential backtracking). */
static void test_matches_worst_case(void **state)
{
	struct sieve_message m = msg();
	size_t vlen = 60000, cap = vlen + 4096, len = 0;
	char *text = malloc(cap), *script = malloc(4096);
	struct sieve_script *s;
	struct sieve_plan *plan = calloc(1, sizeof(*plan));
	char err[256];
	time_t start;

	len = (size_t)snprintf(text, cap, "Subject: ");
	memset(text + len, 'a', vlen);
	len += vlen;
	len += (size_t)snprintf(text + len, cap - len, "\r\n\r\nbody\r\n");
	m.data = text;
	m.len = len;
	snprintf(script, 4096, "if header :matches \"subject\" \"*a*a*a*a*a*a*a*a*b\" { discard; }");
	assert_int_equal(sieve_compile(script, strlen(script), &s, err, sizeof(err)), 1);
	start = time(NULL);
	assert_int_equal(sieve_run(s, &m, plan, err, sizeof(err)) != 0, 1);
	assert_true(time(NULL) - start < 5);
	sieve_plan_free(plan);
	sieve_script_free(&s);
	free(plan);
	free(text);
	free(script);
}

/* vacation: the reply's fields; no reply to lists (this message has a
   List-Id), and none to a message that does not name the user. */
static void test_vacation(void **state)
{
	char out[2048], err[256];
	struct sieve_script *s;
	struct sieve_plan *plan = calloc(1, sizeof(*plan));
	const char *script = "require \"vacation\"; vacation :days 100 \"away\";";
	static const char direct[] =
		"From: Alice <alice@example.net>\r\nTo: bob@example.org\r\n"
		"Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n";
	struct sieve_message m = { .data = direct, .len = sizeof(direct) - 1,
				   .env_from = "alice@example.net",
				   .env_to = "bob+x@example.org", .delimiter = '+' };

	/* the test message is from a list: no reply, the keep stays */
	expect(script, "fileinto:INBOX[]");
	assert_int_equal(sieve_compile(script, strlen(script), &s, err, sizeof(err)), 1);
	assert_int_equal(sieve_run(s, &m, plan, err, sizeof(err)), 1);
	assert_int_equal(plan->n, 2);
	assert_int_equal(plan->actions[0].kind, SIEVE_ACTION_VACATION);
	assert_string_equal(plan->actions[0].address, "alice@example.net");
	assert_int_equal(plan->actions[0].days, 30);	/* capped */
	assert_string_equal(plan->actions[0].subject, "Auto: hi");
	assert_string_equal(plan->actions[0].in_reply_to, "<1@x>");
	sieve_plan_free(plan);
	/* the null sender */
	m.env_from = "";
	assert_int_equal(sieve_run(s, &m, plan, err, sizeof(err)), 1);
	assert_int_equal(plan->n, 1);
	sieve_plan_free(plan);
	/* not addressed to the user */
	m.env_from = "alice@example.net";
	m.env_to = "robert@example.org";
	assert_int_equal(sieve_run(s, &m, plan, err, sizeof(err)), 1);
	assert_int_equal(plan->n, 1);
	sieve_plan_free(plan);
	sieve_script_free(&s);
	free(plan);
	expect_compile_error("require \"vacation\"; vacation :days \"x\" \"r\";",
			     ":days needs a number");
	(void)out;
}

/* include: scripts by name from a small table, compiled on demand. */
static const char *const scripts[][2] = {
	{ "lists", "require [\"fileinto\", \"include\"]; if exists \"list-id\" "
		   "{ fileinto \"Lists\"; return; } fileinto \"NotReached\";" },
	{ "self", "require \"include\"; include \"self\";" },
	{ "bad", "keep" },
	/* global scripts ("g:" + name) */
	{ "g:lists", "require [\"fileinto\", \"include\", \"variables\"];\n"
		     "global \"box\"; set \"box\" \"Global\"; set \"mine\" \"hidden\";\n"
		     "set \"global.other\" \"viaspace\"; fileinto \"GlobalLists\";" },
	{ "g:uses", "require [\"fileinto\", \"include\", \"variables\"];\n"
		    "global \"box\"; fileinto \"Seen-${box}-${mine}\";" },
};
#define N_SCRIPTS (sizeof(scripts) / sizeof(scripts[0]))
static struct sieve_script *compiled[N_SCRIPTS];

static int include_cb(void *ctx, const char *name_in, bool global,
		      const struct sieve_script **r, char *err, size_t err_size)
{
	char name[100];

	snprintf(name, sizeof(name), "%s%s", global ? "g:" : "", name_in);
	*r = NULL;
	for (unsigned i = 0; i < N_SCRIPTS; i++)
		if (strcmp(scripts[i][0], name) == 0) {
			if (compiled[i] == NULL &&
			    sieve_compile(scripts[i][1], strlen(scripts[i][1]), &compiled[i], err,
					  err_size) < 0)
				return -1;
			*r = compiled[i];
			return 1;
		}
	return 1;
}

static int run_with_include(const char *script, unsigned *n_r, char *err, size_t err_size,
			    char *first_folder, size_t ff_size)
{
	struct sieve_message m = msg();
	struct sieve_script *s;
	struct sieve_plan *plan = calloc(1, sizeof(*plan));
	int ret;

	m.include = include_cb;
	assert_int_equal(sieve_compile(script, strlen(script), &s, err, err_size), 1);
	ret = sieve_run(s, &m, plan, err, err_size);
	*n_r = plan->n;
	first_folder[0] = '\0';
	if (plan->n > 0 && plan->actions[0].folder != NULL)
		snprintf(first_folder, ff_size, "%s", plan->actions[0].folder);
	sieve_plan_free(plan);
	free(plan);
	sieve_script_free(&s);
	return ret;
}

static void test_include(void **state)
{
	char err[256], folder[100];
	unsigned n;

	/* return leaves the included script only; the includer goes on */
	assert_int_equal(run_with_include("require [\"include\", \"fileinto\"];\n"
					  "include :personal \"lists\"; fileinto \"After\";",
					  &n, err, sizeof(err), folder, sizeof(folder)), 1);
	assert_int_equal(n, 2);
	assert_string_equal(folder, "Lists");
	/* :once, :optional */
	assert_int_equal(run_with_include("require \"include\"; include :once \"lists\";"
					  " include :once \"lists\"; include :optional \"none\";",
					  &n, err, sizeof(err), folder, sizeof(folder)), 1);
	assert_int_equal(n, 1);
	/* missing, broken, and endless recursion: run-time errors */
	assert_int_equal(run_with_include("require \"include\";\ninclude \"none\";",
					  &n, err, sizeof(err), folder, sizeof(folder)), -1);
	assert_non_null(strstr(err, "line 2: include \"none\": no such script"));
	assert_int_equal(run_with_include("require \"include\"; include \"bad\";",
					  &n, err, sizeof(err), folder, sizeof(folder)), -1);
	assert_non_null(strstr(err, "expected ';'"));
	assert_int_equal(run_with_include("require \"include\"; include \"self\";",
					  &n, err, sizeof(err), folder, sizeof(folder)), -1);
	assert_non_null(strstr(err, "nested too deeply"));
	for (unsigned i = 0; i < N_SCRIPTS; i++)
		sieve_script_free(&compiled[i]);
}

/* All the folders of a run with include, space-separated. */
static int run_folders(const char *script, char *out, size_t size, char *err, size_t err_size)
{
	struct sieve_message m = msg();
	struct sieve_script *s;
	struct sieve_plan *plan = calloc(1, sizeof(*plan));
	int ret;

	m.include = include_cb;
	assert_int_equal(sieve_compile(script, strlen(script), &s, err, err_size), 1);
	ret = sieve_run(s, &m, plan, err, err_size);
	out[0] = '\0';
	for (unsigned i = 0; i < plan->n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, size - l, "%s%s", l ? " " : "",
			 plan->actions[i].folder ? plan->actions[i].folder : "-");
	}
	sieve_plan_free(plan);
	free(plan);
	sieve_script_free(&s);
	return ret;
}

/* include :global, and global variables (RFC 6609): a script's own
   variables are its own; those declared "global" (or "global.x") are
   shared. */
static void test_include_global(void **state)
{
	char err[256], out[300];

	assert_int_equal(run_folders("require [\"include\", \"variables\", \"fileinto\"];\n"
				     "global \"box\"; set \"mine\" \"mine\";\n"
				     "include :global \"lists\"; include :global \"uses\";\n"
				     "fileinto \"${box}-${mine}-${global.other}\";",
				     out, sizeof(out), err, sizeof(err)), 1);
	assert_string_equal(out, "GlobalLists Seen-Global- Global-mine-viaspace");
	/* :global and :personal are two places: "lists" differs in each */
	assert_int_equal(run_folders("require [\"include\"];\n"
				     "include :once :personal \"lists\"; include :once :global \"lists\";",
				     out, sizeof(out), err, sizeof(err)), 1);
	assert_string_equal(out, "Lists GlobalLists");
	/* a variable not declared global is not seen by the includer */
	assert_int_equal(run_folders("require [\"include\", \"variables\", \"fileinto\"];\n"
				     "include :global \"lists\"; fileinto \"x${mine}x\";",
				     out, sizeof(out), err, sizeof(err)), 1);
	assert_string_equal(out, "GlobalLists xx");
	assert_int_equal(run_folders("require \"include\";\ninclude :global \"none\";",
				     out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2: include :global \"none\": no such script"));
	for (unsigned i = 0; i < N_SCRIPTS; i++)
		sieve_script_free(&compiled[i]);
}

/* Scripts run one after the other (the server's before and after
   scripts around the account's): a stop ends the run. */
static void test_run_scripts(void **state)
{
	const char *texts[] = {
		"require [\"imap4flags\", \"include\", \"variables\"]; addflag \"$Before\";"
		" global \"who\"; set \"who\" \"before\";",
		"require [\"fileinto\", \"include\", \"variables\"]; global \"who\";"
		" if header :contains \"subject\" \"stop\" { stop; }"
		" fileinto \"Mine-${who}\";",
		"require [\"fileinto\"]; fileinto \"After\";",
	};
	const struct sieve_script *run[3];
	struct sieve_script *s[3];
	struct sieve_plan plan;
	struct sieve_message m = msg();
	char err[256];

	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(sieve_compile(texts[i], strlen(texts[i]), &s[i], err, sizeof(err)),
				 1);
		run[i] = s[i];
	}
	assert_int_equal(sieve_run_scripts(run, 3, &m, &plan, err, sizeof(err)), 1);
	assert_int_equal(plan.n, 2);
	assert_string_equal(plan.actions[0].folder, "Mine-before");
	assert_string_equal(plan.actions[0].flags, "$Before");
	assert_string_equal(plan.actions[1].folder, "After");
	sieve_plan_free(&plan);
	/* the account's script stops: no after script, the implicit keep */
	m.data = "Subject: please stop\n\nbody\n";
	m.len = strlen(m.data);
	assert_int_equal(sieve_run_scripts(run, 3, &m, &plan, err, sizeof(err)), 1);
	assert_int_equal(plan.n, 1);
	assert_string_equal(plan.actions[0].folder, "INBOX");
	assert_string_equal(plan.actions[0].flags, "$Before");
	sieve_plan_free(&plan);
	/* no account script: before and after */
	run[1] = NULL;
	assert_int_equal(sieve_run_scripts(run, 3, &m, &plan, err, sizeof(err)), 1);
	assert_int_equal(plan.n, 1);
	assert_string_equal(plan.actions[0].folder, "After");
	assert_string_equal(plan.actions[0].flags, "$Before");
	sieve_plan_free(&plan);
	for (unsigned i = 0; i < 3; i++)
		sieve_script_free(&s[i]);
}

/* date, currentdate, index (RFC 5260). */
static void test_date_index(void **state)
{
	expect("require [\"date\", \"relational\"]; if date :zone \"+0000\" \"date\" \"hour\""
	       " \"09\" { discard; }", "");
	expect("require \"date\"; if date :originalzone \"date\" \"iso8601\""
	       " \"2026-12-05T10:00:00+01:00\" { discard; }", "");
	expect("require \"date\"; if date :zone \"-0500\" \"date\" \"std11\""
	       " \"Sat, 5 Dec 2026 04:00:00 -0500\" { discard; }", "");
	expect("require \"date\"; if date :originalzone \"date\" \"weekday\" \"6\""
	       " { discard; }", "");
	expect("require \"date\"; if date :zone \"+0000\" \"date\" \"julian\" \"61379\""
	       " { discard; }", "");
	expect("require [\"date\", \"relational\"]; if currentdate :value \"ge\" \"year\""
	       " \"2020\" { discard; }", "");
	expect("require \"date\"; if date \"subject\" \"year\" \"2026\" { discard; }",
	       "fileinto:INBOX[]");
	/* index: the Nth field, from the end with :last */
	expect("require [\"date\", \"index\"]; if date :index 2 :originalzone \"received\""
	       " \"date\" \"2026-12-04\" { discard; }", "");
	expect("require [\"date\", \"index\"]; if date :index 1 :last :originalzone"
	       " \"received\" \"zone\" \"+0000\" { discard; }", "");
	expect("require \"index\"; if header :index 1 :contains \"received\" \"from c\""
	       " { discard; }", "");
	expect("require \"index\"; if header :index 3 :contains \"received\" \"from\""
	       " { discard; }", "fileinto:INBOX[]");
	expect_run_error("require \"date\"; if date :zone \"CET\" \"date\" \"year\" \"x\""
			 " { discard; }", "bad :zone");
	expect_compile_error("require \"index\"; if header :index \"x\" \"a\" \"b\""
			     " { discard; }", ":index needs a number");
}

/* body :text and :content on a huge message: the work is bounded (the
   MIME structure of the first megabytes, a budget of decoded bytes), and
   a part past the budget is looked at no further. */
static void test_body_huge(void **state)
{
	static const char head[] =
		"From: a@example.net\nSubject: big\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		"Content-Type: text/plain\n\nfirstmarker\n--b\n"
		"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n";
	static const char tail[] = "\n--b\nContent-Type: text/plain\n\nlastmarker\n--b--\n";
	size_t big = 64u << 20, len = 0;
	char *data = malloc(sizeof(head) + big + 80 + sizeof(tail));
	struct sieve_script *s;
	struct sieve_plan *plan = calloc(1, sizeof(*plan));
	struct sieve_message m = msg();
	char err[256];
	const char *script = "require [\"body\", \"fileinto\"];\n"
		"if body :text :contains \"firstmarker\" { fileinto \"First\"; }\n"
		"if body :text :contains \"nowhere\" { fileinto \"Nowhere\"; }\n"
		"if body :content \"text\" :contains \"nowhere\" { fileinto \"Nowhere2\"; }\n"
		"if body :text :contains \"lastmarker\" { fileinto \"Last\"; }\n";
	clock_t start = clock();

	assert_non_null(data);
	memcpy(data, head, sizeof(head) - 1);
	len = sizeof(head) - 1;
	for (size_t i = 0; i + 77 <= big; i += 77) {
		memcpy(data + len, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n", 77);
		len += 77;
	}
	memcpy(data + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	m.data = data;
	m.len = len;
	assert_int_equal(sieve_compile(script, strlen(script), &s, err, sizeof(err)), 1);
	assert_int_equal(sieve_run(s, &m, plan, err, sizeof(err)), 1);
	/* the last part lies past the structure read: not seen */
	assert_int_equal(plan->n, 1);
	assert_string_equal(plan->actions[0].folder, "First");
	assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 10.0);	/* a loaded machine, sanitizers */
	sieve_plan_free(plan);
	free(plan);
	sieve_script_free(&s);
	free(data);
}

static void test_body_html(void **state)
{
	static const char html[] =
		"From: a@example.net\nContent-Type: text/html; charset=utf-8\n\n"
		"<html><head><style>p { color: red }</style><script>var hidden = 1;</script></head>"
		"<body><!-- a comment --><p>Fish &amp; chips &#233;&#xE9; &lt;ok&gt;</p></body></html>\n";
	static const struct { const char *key; bool found; } cases[] = {
		{ "Fish & chips \xc3\xa9\xc3\xa9 <ok>", true }, { "color", false },
		{ "hidden", false }, { "comment", false }, { "<p>", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char script[300], err[256];
		struct sieve_script *s;
		struct sieve_plan plan;
		struct sieve_message m = msg();
		m.data = html;
		m.len = sizeof(html) - 1;
		snprintf(script, sizeof(script), "require [\"body\", \"fileinto\"];\n"
			 "if body :text :contains \"%s\" { fileinto \"Yes\"; }\n", cases[i].key);
		assert_int_equal(sieve_compile(script, strlen(script), &s, err, sizeof(err)), 1);
		assert_int_equal(sieve_run(s, &m, &plan, err, sizeof(err)), 1);
		assert_string_equal(plan.actions[0].folder, cases[i].found ? "Yes" : "INBOX");
		sieve_plan_free(&plan);
		sieve_script_free(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_discard),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_fileinto_header),
		cmocka_unit_test(test_address_envelope),
		cmocka_unit_test(test_size_body),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_regex_relational),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_redirect_reject),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_matches_worst_case),
		cmocka_unit_test(test_vacation),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_date_index),
		cmocka_unit_test(test_include_global),
		cmocka_unit_test(test_run_scripts),
		cmocka_unit_test(test_body_huge),
		cmocka_unit_test(test_body_html),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
