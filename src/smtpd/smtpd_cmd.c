/*
 * smtpd_cmd.c - the SMTP commands other than DATA and BDAT.  Each command
 * is a row of one table {verb, handler, states allowed, help text}; the
 * dispatcher checks the state, then the handler checks its argument, then
 * acts (OpenSMTPD's check-then-proceed shape).
 */
#include "smtpd_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/accounts.h"
#include "delivery/resolve.h"
#include "mime/mime.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"
#include "srs/srs.h"

#define ST(x) (1u << SMTPD_STATE_##x)
#define ST_ANY (ST(GREETED) | ST(READY) | ST(MAIL))
#define ST_HELLO (ST(READY) | ST(MAIL))

struct smtpd_cmd {
	enum smtp_verb verb;
	void (*handler)(struct smtpd_session *s, char *arg);
	unsigned states;	/* states in which the command is allowed */
	const char *help;
};

void smtpd_reset_transaction(struct smtpd_session *s)
{
	envelope_free(&s->env);
	queue_msg_abort(&s->msg);
	smtpd_milter_free(s);
	buf_reset(&s->text);
	s->too_big = s->bdat = s->bdat_failed = s->bdat_last = false;
	s->bdat_outside = false;
	s->bdat_error = NULL;
	s->chunk_left = 0;
	if (s->state != SMTPD_STATE_GREETED)
		s->state = SMTPD_STATE_READY;
}

static const struct config *cfg_of(struct smtpd_session *s)
{
	return &s->conn.srv->cfg;
}

/* Keep a HELO argument printable for logs and the Received: line. */
static void set_helo(struct smtpd_session *s, const char *arg)
{
	size_t n = str_copy(s->helo, arg, sizeof(s->helo));

	if (n >= sizeof(s->helo))
		n = sizeof(s->helo) - 1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s->helo[i] <= ' ' || (unsigned char)s->helo[i] >= 0x7f ||
		    s->helo[i] == '(' || s->helo[i] == ')')
			s->helo[i] = '?';
}

static void cmd_helo(struct smtpd_session *s, char *arg)
{
	if (arg[0] == '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: HELO hostname");
		smtpd_error(s);
		return;
	}
	smtpd_reset_transaction(s);
	set_helo(s, arg);
	s->esmtp = false;
	s->state = SMTPD_STATE_READY;
	smtpd_reply(s, "250 %s", cfg_of(s)->hostname);
}

static void cmd_ehlo(struct smtpd_session *s, char *arg)
{
	if (arg[0] == '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: EHLO hostname");
		smtpd_error(s);
		return;
	}
	smtpd_reset_transaction(s);
	set_helo(s, arg);
	s->esmtp = true;
	s->state = SMTPD_STATE_READY;
	smtpd_reply(s, "250-%s Hello %s [%s]", cfg_of(s)->hostname, s->helo, s->conn.addr);
	smtpd_reply(s, "250-PIPELINING");
	smtpd_reply(s, "250-SIZE %llu", (unsigned long long)cfg_of(s)->message_size);
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250-SMTPUTF8");
	smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(s, "250-CHUNKING");
	smtpd_reply(s, "250-DSN");	/* NOTIFY, ORCPT, RET, ENVID: every listener */
	if (smtpd_starttls_offered(s))
		smtpd_reply(s, "250-STARTTLS");
	if (smtpd_auth_offered(s))
		smtpd_reply(s, "250-AUTH PLAIN LOGIN");
	smtpd_reply(s, "250 HELP");
}

/* An authenticated session, on any listener (AUTH on port 25 binds the
   session to its user as on submission): may the user send as key
   (itself, +tag, or an alias of it)? */
static bool sender_allowed(struct smtpd_session *s, const char *key)
{
	return resolve_may_send_as(cfg_of(s), s->conn.srv->accounts, s->user, key);
}

/*
 * Free space for the queue (in the data directory), in bytes: asking is
 * cheap, but once a second is enough for every session (the cache is the
 * loop thread's).  UINT64_MAX when it cannot be known.
 */
static uint64_t disk_available(struct queue *q)
{
	static struct timespec checked;
	static uint64_t avail;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (checked.tv_sec != 0 && now.tv_sec - checked.tv_sec < 1)
		return avail;
	checked = now;
	if (queue_space(q, &avail) < 0)
		avail = UINT64_MAX;
	return avail;
}

/* Say a full disk at MAIL, not after the text (Postfix's queue_minfree):
   too little left above the reserve, or less than the declared SIZE. */
static bool disk_short(struct smtpd_session *s, uint64_t size)
{
	const struct config *cfg = cfg_of(s);
	uint64_t avail;

	if (cfg->disk_reserve == 0)
		return false;
	avail = disk_available(s->conn.srv->queue);
	if (avail >= cfg->disk_reserve && avail - cfg->disk_reserve >= size)
		return false;
	log_warn("smtpd: [%s]: reject: MAIL: %llu bytes free in %s, reserve %llu, size %llu; "
		 "helo=<%s>", s->conn.addr, (unsigned long long)avail, cfg->data_dir,
		 (unsigned long long)cfg->disk_reserve, (unsigned long long)size, s->helo);
	smtpd_reply(s, "452 4.3.1 Insufficient system storage");
	return true;
}

static void cmd_mail(struct smtpd_session *s, char *arg)
{
	struct smtp_mail_args m;
	const char *error;
	char key[sizeof(m.sender.local) + sizeof(m.sender.domain) + 2];

	if (s->submission && s->user[0] == '\0') {
		smtpd_reply(s, "530 5.7.0 Authentication required");
		smtpd_error(s);
		return;
	}
	if (smtp_mail_parse(arg, &m, &error) < 0) {
		smtpd_reply(s, "%s", error);
		smtpd_error(s);
		return;
	}
	if (m.size > cfg_of(s)->message_size) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	if (disk_short(s, m.size))
		return;
	if (!m.null_sender && address_key(&m.sender, key, sizeof(key)) < 0) {
		smtpd_reply(s, "553 5.1.3 Bad sender address syntax");
		smtpd_error(s);
		return;
	}
	if (s->user[0] != '\0' && !sender_allowed(s, m.null_sender ? "" : key)) {
		log_info("smtpd: [%s]: reject: MAIL from <%s>: not owned by %s; "
			 "from=<%s> to=<> helo=<%s>", s->conn.addr, m.null_sender ? "" : key,
			 s->user, m.null_sender ? "" : key, s->helo);
		smtpd_reply(s, "553 5.7.1 <%s>: Sender address rejected: not owned by user %s",
			    m.null_sender ? "" : key, s->user);
		smtpd_error(s);
		return;
	}
	if (smtpd_door_mail(s) == 0)
		return;
	s->env = envelope_new();
	if (!m.null_sender) {
		/* RFC 5321 §2.4: keep the local part's case for the Return-Path */
		str_lower(m.sender.domain);
		snprintf(key, sizeof(key), "%s@%s", m.sender.local, m.sender.domain);
	}
	envelope_set(&s->env->sender, m.null_sender ? "" : key);
	s->declared_size = m.size;
	s->env->body = m.body;
	s->env->smtputf8 = m.smtputf8;
	s->env->ret = m.ret;
	envelope_set(&s->env->envid, m.envid);
	s->state = SMTPD_STATE_MAIL;
	smtpd_reply(s, "250 2.1.0 Ok");
}

/* May this session send to addresses outside the local domains? */
static bool may_relay(struct smtpd_session *s)
{
	return s->user[0] != '\0' ||
	       config_networks_match(&cfg_of(s)->trusted_nets, s->conn.addr);
}

/* Nobody receives mail for key, an address in a local domain (postmaster:
   key is the postmaster address, for RCPT TO:<Postmaster>). */
static void rcpt_unknown(struct smtpd_session *s, const char *key, bool postmaster)
{
	char address[320];

	if (postmaster || resolve_is_postmaster(key)) {
		/* RFC 5321 §4.5.1 wants one: tell the administrator how */
		resolve_postmaster(cfg_of(s), address, sizeof(address));
		log_warn("smtpd: [%s]: reject: RCPT to <%s>: the postmaster address <%s> "
			 "names nobody: add that account or alias, or set [server] postmaster",
			 s->conn.addr, postmaster ? "postmaster" : key, address);
		smtpd_reply(s, "550 5.1.1 <%s>: Recipient address rejected: no postmaster "
			    "mailbox is set up here", postmaster ? "postmaster" : key);
		return;
	}
	smtpd_log_reject(s, key, "RCPT to <%s>: user unknown", key);
	smtpd_reply(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown", key);
}

/* An SRS address of ours (a bounce of mail forwarded from here): the
   address it stands for into out.  Returns 1 reversed, 0 not one of ours,
   -1 refused (hash or time stamp wrong: replied). */
static int rcpt_srs(struct smtpd_session *s, const char *key, char *out, size_t size)
{
	const struct srs *srs = s->conn.srv->srs;
	const char *error = NULL;
	int ret;

	if (srs == NULL)
		return 0;
	ret = srs_reverse(srs, key, (uint64_t)time(NULL), out, size, &error);
	if (ret < 0) {
		smtpd_log_reject(s, key, "RCPT to <%s>: %s", key, error);
		smtpd_reply(s, "550 5.1.1 <%s>: Recipient address rejected: %s (not the "
			    "address of a message forwarded by this server, or older than "
			    "%u days)", key, error, srs->max_age_days);
		smtpd_error(s);
		return -1;
	}
	if (ret > 0) {
		char *at = strrchr(out, '@');
		str_lower(at + 1);
		log_info("smtpd: [%s]: RCPT to <%s>: SRS address of <%s>", s->conn.addr, key, out);
	}
	return ret;
}

/* Check a parsed recipient (postmaster: RCPT TO:<Postmaster>, which may go
   to a remote postmaster address from anyone).  An SRS address of ours
   goes to the address it stands for, from anyone.  Returns 1 accepted, or
   0 after replying. */
static int rcpt_check(struct smtpd_session *s, const char *key, const char *domain,
		      bool postmaster)
{
	bool full;
	char orig[SRS_ADDRESS_MAX];
	int srs = rcpt_srs(s, key, orig, sizeof(orig));
	int local, found;

	if (srs < 0)
		return 0;
	if (srs > 0) {
		key = orig;
		domain = strrchr(orig, '@') + 1;
	}
	local = resolve_domain_is_local(cfg_of(s), s->conn.srv->accounts, domain);
	if (local < 0) {
		smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", key);
		return 0;
	}
	if (!local) {
		if (postmaster || srs > 0 || may_relay(s)) {
			envelope_add_target(s->env, s->env->n_rcpts - 1, ENVELOPE_REMOTE, key);
			return 1;
		}
		smtpd_log_reject(s, key, "RCPT to <%s>: relay access denied", key);
		smtpd_reply(s, "554 5.7.1 <%s>: Relay access denied", key);
		smtpd_error(s);
		return 0;
	}
	found = smtpd_quota_rcpt(s, key, &full);
	if (found == RESOLVE_LOOP) {
		smtpd_log_reject(s, key, "RCPT to <%s>: alias loop", key);
		smtpd_reply(s, "550 5.4.6 <%s>: Recipient address rejected: alias loop", key);
		return 0;
	}
	if (found < 0) {
		smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", key);
		return 0;
	}
	if (found == 0) {
		rcpt_unknown(s, key, postmaster);
		smtpd_error(s);
		return 0;
	}
	if (full) {
		smtpd_log_reject(s, key, "RCPT to <%s>: mailbox full", key);
		smtpd_reply(s, "552 5.2.2 <%s>: Mailbox full: quota exceeded", key);
		return 0;
	}
	return 1;
}

static void cmd_rcpt(struct smtpd_session *s, char *arg)
{
	struct smtp_rcpt_args r;
	const char *error;
	char key[sizeof(r.rcpt.local) + sizeof(r.rcpt.domain) + 2];

	if (smtpd_door_ready(s, arg) == 0)
		return;		/* run again once the blocklists answered */
	if (s->bdat) {
		/* RFC 3030: the envelope is closed once the first chunk came */
		smtpd_reply(s, "503 5.5.1 Error: RCPT after BDAT");
		smtpd_error(s);
		return;
	}
	if (s->env->n_rcpts >= cfg_of(s)->max_recipients) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (smtp_rcpt_parse(arg, s->env->smtputf8, &r, &error) < 0) {
		smtpd_reply(s, "%s", error);
		smtpd_error(s);
		return;
	}
	if (r.postmaster) {
		resolve_postmaster(cfg_of(s), key, sizeof(key));
	} else {
		/* RFC 5321 §2.4: the local part keeps its case (for the relay);
		   local look-ups ignore it.  "alice"@ is alice@ (§4.1.2). */
		str_lower(r.rcpt.domain);
		if (address_canonical(&r.rcpt, key, sizeof(key)) < 0) {
			smtpd_reply(s, "553 5.1.3 Bad recipient address syntax");
			smtpd_error(s);
			return;
		}
	}
	/* the resolution made by the check is recorded in the recipient
	   (resolve once: delivery follows it) */
	envelope_add_rcpt(s->env, key, r.orcpt, r.notify);
	if (rcpt_check(s, key, strrchr(key, '@') + 1, r.postmaster) == 0 ||
	    smtpd_door_rcpt(s, key) == 0) {
		envelope_drop_last_rcpt(s->env);
		return;
	}
	smtpd_reply(s, "250 2.1.5 Ok");
}

static void cmd_rset(struct smtpd_session *s, char *arg)
{
	smtpd_reset_transaction(s);
	smtpd_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, "221 2.0.0 Bye");
	smtpd_close_after_output(s);
}

static void cmd_vrfy(struct smtpd_session *s, char *arg)
{
	if (arg[0] == '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
		smtpd_error(s);
		return;
	}
	smtpd_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct smtpd_session *s, char *arg)
{
	if (arg[0] == '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: EXPN list");
		smtpd_error(s);
		return;
	}
	smtpd_reply(s, "252 2.5.2 Cannot EXPN list, but will accept message and attempt delivery");
}

static void cmd_verb(struct smtpd_session *s, char *arg)
{
	smtpd_reply(s, "252 2.0.0 VERB accepted; correio has no verbose mode, replies stay as they are");
}

static void cmd_help(struct smtpd_session *s, char *arg);

static const struct smtpd_cmd commands[] = {
	{ SMTP_VERB_HELO, cmd_helo, ST_ANY, "HELO hostname - say hello (plain SMTP)" },
	{ SMTP_VERB_EHLO, cmd_ehlo, ST_ANY, "EHLO hostname - say hello and list the extensions" },
	{ SMTP_VERB_MAIL, cmd_mail, ST(READY), "MAIL FROM:<address> [SIZE= BODY= SMTPUTF8 RET= ENVID=] - start a message" },
	{ SMTP_VERB_RCPT, cmd_rcpt, ST(MAIL), "RCPT TO:<address> [NOTIFY= ORCPT=] - add a recipient" },
	{ SMTP_VERB_DATA, smtpd_cmd_data, ST(MAIL), "DATA - send the message, ended by a line with a single dot" },
	{ SMTP_VERB_BDAT, smtpd_cmd_bdat, ST_ANY, "BDAT size [LAST] - send the message in chunks of known size" },
	{ SMTP_VERB_RSET, cmd_rset, ST_ANY, "RSET - abandon the current message" },
	{ SMTP_VERB_NOOP, cmd_noop, ST_ANY, "NOOP - do nothing" },
	{ SMTP_VERB_QUIT, cmd_quit, ST_ANY, "QUIT - end the session" },
	{ SMTP_VERB_HELP, cmd_help, ST_ANY, "HELP [command] - this list, or one command" },
	{ SMTP_VERB_VRFY, cmd_vrfy, ST_ANY, "VRFY address - verify an address (answered without disclosing accounts)" },
	{ SMTP_VERB_EXPN, cmd_expn, ST_ANY, "EXPN list - expand a list (answered without disclosing members)" },
	{ SMTP_VERB_VERB, cmd_verb, ST_ANY, "VERB - verbose mode (accepted, no effect)" },
	{ SMTP_VERB_STARTTLS, smtpd_cmd_starttls, ST_ANY, "STARTTLS - switch to TLS" },
	{ SMTP_VERB_AUTH, smtpd_cmd_auth, ST_ANY, "AUTH mechanism [response] - log in (PLAIN, LOGIN)" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void cmd_help(struct smtpd_session *s, char *arg)
{
	if (arg[0] != '\0') {	/* HELP MAIL: that command only */
		for (size_t i = 0; i < N_COMMANDS; i++)
			if (strcasecmp(arg, smtp_verb_name(commands[i].verb)) == 0) {
				smtpd_reply(s, "214 2.0.0 %s", commands[i].help);
				return;
			}
		smtpd_reply(s, "504 5.5.1 HELP topic unknown: try HELP");
		return;
	}
	smtpd_reply(s, "214-2.0.0 correio commands:");
	for (size_t i = 0; i < N_COMMANDS; i++)
		smtpd_reply(s, "214-2.0.0   %s", commands[i].help);
	smtpd_reply(s, "214 2.0.0 End of HELP");
}

/* Reply for a command given in the wrong state. */
static void wrong_state(struct smtpd_session *s, enum smtp_verb verb)
{
	if (s->state == SMTPD_STATE_GREETED)
		smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	else if (verb == SMTP_VERB_MAIL)
		smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
	else if (verb == SMTP_VERB_RCPT)
		smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
	else
		smtpd_reply(s, "503 5.5.1 Error: need RCPT command");
	smtpd_error(s);
}

void smtpd_dispatch(struct smtpd_session *s, char *line, size_t len)
{
	struct smtp_command cmd;
	const char *error;

	if (s->trace || log_debug_enabled()) {
		/* AUTH's initial response is a password: its mechanism only */
		size_t shown = len;
		if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0)
			shown = 5 + strcspn(line + 5, " ");
		smtpd_trace(s, "<", line, shown);
	}
	if (smtp_command_parse(line, len, &cmd, &error) < 0) {
		smtpd_reply(s, "%s", error);
		smtpd_error(s);
		return;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (commands[i].verb != cmd.verb)
			continue;
		if ((commands[i].states & (1u << s->state)) == 0)
			wrong_state(s, cmd.verb);
		else
			commands[i].handler(s, cmd.arg);
		return;
	}
	smtpd_reply(s, "500 5.5.1 Error: command not recognized");
	smtpd_error(s);
}
