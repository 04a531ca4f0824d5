/*
 * client_config.c - the accounts file of `correio mail` and the password.
 *
 * INI (inih), one section per account:
 *
 *   [work]
 *   protocol = imap            ; or pop3
 *   host = imap.example.org    ; port defaults by protocol and tls
 *   tls = implicit             ; implicit | starttls | none
 *   smtp_host = smtp.example.org
 *   smtp_tls = starttls        ; smtp_port 587 (465 implicit)
 *   user = me@example.org
 *   tls_pin = /path/cert.pem   ; accept this certificate and no other
 *
 * Certificates are verified against the system's CAs (or ca_file) with the
 * host name, unless tls_pin names the one certificate to accept.  The
 * password never comes from the command line: password_env (default
 * CORREIO_MAIL_PASSWORD), password_command (its first output line), or a
 * prompt on the terminal with echo off.
 */
#include "client/client_private.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "lib/util.h"

struct config_state {
	const char *want;		/* section asked for, or NULL */
	bool found;
	struct client_account *a;
	char smtp_tls[16], tls[16];
	unsigned port, smtp_port;
	char error[1024];
	const char *path;
};

static int set_str(char *dst, size_t size, const char *value)
{
	return str_copy(dst, value, size) < size ? 1 : -1;
}

static int set_port(unsigned *dst, const char *value)
{
	uint64_t v;

	if (parse_uint(value, &v) < 0 || v == 0 || v > 65535)
		return -1;
	*dst = (unsigned)v;
	return 1;
}

/* one key of the chosen section; 1 or -1 */
static int config_key(struct config_state *st, const char *key, const char *value)
{
	struct client_account *a = st->a;
	uint64_t v;

	if (strcmp(key, "protocol") == 0) {
		if (str_ieq(value, "imap"))
			a->proto = CLIENT_PROTO_IMAP;
		else if (str_ieq(value, "pop3"))
			a->proto = CLIENT_PROTO_POP3;
		else
			return -1;
		return 1;
	}
	if (strcmp(key, "host") == 0)
		return set_str(a->in.host, sizeof(a->in.host), value);
	if (strcmp(key, "port") == 0)
		return set_port(&st->port, value);
	if (strcmp(key, "tls") == 0)
		return set_str(st->tls, sizeof(st->tls), value);
	if (strcmp(key, "smtp_host") == 0)
		return set_str(a->smtp.host, sizeof(a->smtp.host), value);
	if (strcmp(key, "smtp_port") == 0)
		return set_port(&st->smtp_port, value);
	if (strcmp(key, "smtp_tls") == 0)
		return set_str(st->smtp_tls, sizeof(st->smtp_tls), value);
	if (strcmp(key, "user") == 0)
		return set_str(a->user, sizeof(a->user), value);
	if (strcmp(key, "from") == 0)
		return set_str(a->from, sizeof(a->from), value);
	if (strcmp(key, "ca_file") == 0)
		return set_str(a->ca_file, sizeof(a->ca_file), value);
	if (strcmp(key, "tls_pin") == 0)
		return set_str(a->tls_pin, sizeof(a->tls_pin), value);
	if (strcmp(key, "password_command") == 0)
		return set_str(a->password_command, sizeof(a->password_command), value);
	if (strcmp(key, "password_env") == 0)
		return set_str(a->password_env, sizeof(a->password_env), value);
	if (strcmp(key, "cache_dir") == 0)
		return set_str(a->cache_dir, sizeof(a->cache_dir), value);
	if (strcmp(key, "sent_folder") == 0)
		return set_str(a->sent_folder, sizeof(a->sent_folder), value);
	if (strcmp(key, "timeout") == 0) {
		if (parse_duration(value, &v) < 0 || v == 0 || v > 3600)
			return -1;
		a->timeout = (unsigned)v;
		return 1;
	}
	return 0;
}

static int config_handler(void *user, const char *section, const char *key,
			  const char *value)
{
	struct config_state *st = user;
	int ret;

	if (st->error[0] != '\0')
		return 1;
	if (!st->found) {
		if (st->want != NULL && strcmp(section, st->want) != 0)
			return 1;
		st->found = true;
		str_copy(st->a->name, section, sizeof(st->a->name));
	} else if (strcmp(section, st->a->name) != 0) {
		return 1;
	}
	ret = config_key(st, key, value);
	if (ret <= 0)
		snprintf(st->error, sizeof(st->error), "%.600s: [%s]: %s '%.100s'",
			 st->path, section, ret == 0 ? "unknown key" : "bad value for", key);
	return 1;
}

static int parse_tls(const char *s, enum client_tls dflt, enum client_tls *r)
{
	if (s[0] == '\0')
		*r = dflt;
	else if (str_ieq(s, "implicit") || str_ieq(s, "tls") || str_ieq(s, "ssl"))
		*r = CLIENT_TLS_IMPLICIT;
	else if (str_ieq(s, "starttls"))
		*r = CLIENT_TLS_STARTTLS;
	else if (str_ieq(s, "none") || str_ieq(s, "plain"))
		*r = CLIENT_TLS_NONE;
	else
		return -1;
	return 1;
}

static unsigned default_port(enum client_proto proto, enum client_tls tls, bool smtp)
{
	if (smtp)
		return tls == CLIENT_TLS_IMPLICIT ? 465 : 587;
	if (proto == CLIENT_PROTO_POP3)
		return tls == CLIENT_TLS_IMPLICIT ? 995 : 110;
	return tls == CLIENT_TLS_IMPLICIT ? 993 : 143;
}

static int config_finish(struct config_state *st)
{
	struct client_account *a = st->a;
	const char *home = getenv("HOME");

	if (parse_tls(st->tls, CLIENT_TLS_IMPLICIT, &a->in.tls) < 0 ||
	    parse_tls(st->smtp_tls, CLIENT_TLS_STARTTLS, &a->smtp.tls) < 0)
		return client_fail(CLIENT_ERR_OTHER, "%s: [%s]: tls must be implicit, "
				   "starttls or none", st->path, a->name);
	if (a->in.host[0] == '\0' || a->user[0] == '\0')
		return client_fail(CLIENT_ERR_OTHER, "%s: [%s]: host and user are "
				   "required", st->path, a->name);
	if (a->smtp.host[0] == '\0')
		str_copy(a->smtp.host, a->in.host, sizeof(a->smtp.host));
	a->in.port = st->port ? st->port : default_port(a->proto, a->in.tls, false);
	a->smtp.port = st->smtp_port ? st->smtp_port
				     : default_port(a->proto, a->smtp.tls, true);
	if (a->from[0] == '\0')
		str_copy(a->from, a->user, sizeof(a->from));
	if (a->password_env[0] == '\0')
		str_copy(a->password_env, "CORREIO_MAIL_PASSWORD", sizeof(a->password_env));
	if (a->cache_dir[0] == '\0') {
		const char *xdg = getenv("XDG_CACHE_HOME");
		if (xdg != NULL && xdg[0] == '/')
			snprintf(a->cache_dir, sizeof(a->cache_dir), "%s/correio/%s", xdg, a->name);
		else
			snprintf(a->cache_dir, sizeof(a->cache_dir), "%s/.cache/correio/%s",
				 home != NULL ? home : ".", a->name);
	}
	if (a->timeout == 0)
		a->timeout = 60;
	return 1;
}

int client_config_load(const char *path, const char *name,
		       struct client_account *r)
{
	struct config_state st = { .want = name, .a = r };
	char dflt[1024];
	FILE *f;
	int ret;

	memset(r, 0, sizeof(*r));
	if (path == NULL) {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");
		if (xdg != NULL && xdg[0] == '/')
			snprintf(dflt, sizeof(dflt), "%s/correio/mail.conf", xdg);
		else
			snprintf(dflt, sizeof(dflt), "%s/.config/correio/mail.conf",
				 home != NULL ? home : ".");
		path = dflt;
	}
	st.path = path;
	f = fopen(path, "r");
	if (f == NULL)
		return client_fail(CLIENT_ERR_OTHER, "%s: %s (see `correio mail --help` "
				   "for the accounts file)", path, strerror(errno));
	ret = ini_parse_file(f, config_handler, &st);
	fclose(f);
	if (ret > 0 && st.error[0] == '\0')
		snprintf(st.error, sizeof(st.error), "%.900s:%d: syntax error", path, ret);
	if (st.error[0] != '\0')
		return client_fail(CLIENT_ERR_OTHER, "%s", st.error);
	if (!st.found)
		return client_fail(CLIENT_ERR_OTHER, name != NULL ? "%s: no account [%s]"
				   : "%s: no account%s", path, name != NULL ? name : "");
	return config_finish(&st);
}

static int password_set(struct client_account *a, const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	a->password = xmalloc(n + 1);
	memcpy(a->password, s, n);
	a->password[n] = '\0';
	return 1;
}

static int password_from_command(struct client_account *a)
{
	char line[1024];
	FILE *p = popen(a->password_command, "r");
	int status;

	if (p == NULL)
		return client_fail(CLIENT_ERR_OTHER, "password_command: %s", strerror(errno));
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	status = pclose(p);
	if (status != 0 || line[0] == '\0') {
		explicit_bzero(line, sizeof(line));
		return client_fail(CLIENT_ERR_OTHER, "password_command failed (status %d)",
				   status);
	}
	status = password_set(a, line, strlen(line));
	explicit_bzero(line, sizeof(line));
	return status;
}

static int password_prompt(struct client_account *a)
{
	struct termios old, quiet;
	char line[1024];
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	ssize_t n;
	size_t len = 0;
	int ret;

	if (fd < 0)
		return client_fail(CLIENT_ERR_AUTH, "no password: set %s, password_command, "
				   "or run on a terminal", a->password_env);
	dprintf(fd, "Password for %s@%s: ", a->user, a->in.host);
	bool restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	while (len < sizeof(line) - 1 && (n = read(fd, line + len, 1)) == 1 &&
	       line[len] != '\n')
		len++;
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	dprintf(fd, "\n");
	close(fd);
	ret = password_set(a, line, len);
	explicit_bzero(line, sizeof(line));
	return ret;
}

int client_password(struct client_account *a)
{
	const char *env;

	if (a->password != NULL)
		return 1;
	env = getenv(a->password_env);
	if (env != NULL)
		return password_set(a, env, strlen(env));
	if (a->password_command[0] != '\0')
		return password_from_command(a);
	return password_prompt(a);
}

void client_account_wipe(struct client_account *a)
{
	if (a->password != NULL) {
		explicit_bzero(a->password, strlen(a->password));
		free(a->password);
		a->password = NULL;
	}
}
