/*
 * check_startup.c - the part of `correio check` that finds what `correio
 * serve` would refuse although the file parses: two listeners on one port
 * (the same address:port twice, or a wildcard address and a specific one
 * of the same family on one port), certificate or key files that the
 * run-as user cannot read or that do not load, and a data directory that
 * user cannot reach (naming the directory of the path that blocks it).
 *
 * serve binds its ports as root and then becomes [server] user before it
 * reads the certificates or opens the data directory; so the files are
 * tried as that user: when check runs as root and the user is another
 * account, a forked child becomes the user and reports back through a
 * pipe.  Nothing is created or changed.  Called by cmd_check.c only.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/privilege.h"
#include "lib/util.h"
#include "acme/acme.h"
#include "tls/tls.h"

#define CHECK_MAX_LISTENERS 64

struct listen_item {
	enum config_listener kind;
	char text[300];
	struct sockaddr_storage sa;
};

/* ---- listeners ---- */

/* Resolve item as bind_one() in server.c does: its first address. */
static int listen_resolve(const char *item, struct sockaddr_storage *sa)
{
	struct addrinfo *res;

	if (listen_address_resolve(item, &res) < 0)
		return -1;
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, res->ai_addr, res->ai_addrlen <= sizeof(*sa) ? res->ai_addrlen : sizeof(*sa));
	freeaddrinfo(res);
	return 1;
}

static unsigned sa_port(const struct sockaddr_storage *sa)
{
	return ntohs(sa->ss_family == AF_INET6 ?
		     ((const struct sockaddr_in6 *)sa)->sin6_port :
		     ((const struct sockaddr_in *)sa)->sin_port);
}

static bool sa_any(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &in6addr_any,
			      sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
}

static bool sa_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

/* Does [::] take IPv4 connections too (net.ipv6.bindv6only = 0)? */
static bool v6_any_is_dual(void)
{
	char c = '0';
	int fd = open("/proc/sys/net/ipv6/bindv6only", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '0';
}

/* Could a and b not both be bound (one port, overlapping addresses)? */
static bool listen_clash(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (sa_port(a) != sa_port(b))
		return false;
	if (a->ss_family == b->ss_family)
		return sa_any(a) || sa_any(b) || sa_same_addr(a, b);
	/* [::] without IPV6_V6ONLY also holds the port for every IPv4 address */
	return ((a->ss_family == AF_INET6 && sa_any(a)) ||
		(b->ss_family == AF_INET6 && sa_any(b))) && v6_any_is_dual();
}

static unsigned listen_collect(const struct config *cfg, struct listen_item *items,
			       struct buf *out)
{
	unsigned n = 0;

	for (int k = 0; k < CONFIG_LISTEN_COUNT; k++) {
		char copy[512], *save = NULL;
		str_copy(copy, cfg->listen[k], sizeof(copy));
		for (char *t = strtok_r(copy, ", \t", &save); t != NULL && n < CHECK_MAX_LISTENERS;
		     t = strtok_r(NULL, ", \t", &save)) {
			struct listen_item *l = &items[n];
			l->kind = (enum config_listener)k;
			str_copy(l->text, t, sizeof(l->text));
			if (listen_resolve(t, &l->sa) < 0) {
				buf_printf(out, "listen: %s = %s: not an address this host can "
					   "listen on\n", config_listener_name(l->kind), t);
				continue;
			}
			n++;
		}
	}
	return n;
}

static void check_listeners(const struct config *cfg, struct buf *out)
{
	struct listen_item items[CHECK_MAX_LISTENERS];
	unsigned n = listen_collect(cfg, items, out);

	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (listen_clash(&items[i].sa, &items[j].sa))
				buf_printf(out, "listen: %s = %s and %s = %s: two listeners on "
					   "port %u (serve cannot bind both)\n",
					   config_listener_name(items[i].kind), items[i].text,
					   config_listener_name(items[j].kind), items[j].text,
					   sa_port(&items[i].sa));
}

/* ---- files, as the run-as user ---- */

/* Every file of list readable?  Problems into out; returns how many. */
static unsigned check_readable(const char *list, const char *key, const char *who,
			       struct buf *out)
{
	char path[1024];
	unsigned bad = 0;

	for (int i = 0; str_list_item(list, i, path, sizeof(path)); i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		buf_printf(out, "tls: %s = %s: %s cannot read it: %s\n", key, path, who,
			   strerror(errno));
		bad++;
	}
	return bad;
}

static void check_tls(const struct config *cfg, const char *who, struct buf *out)
{
	const char *error;

	if (cfg->acme && acme_config_check(cfg, &error) < 0)
		buf_printf(out, "tls: %s\n", error);
	if (cfg->acme)
		check_readable(cfg->acme_ca_file, "acme_ca_file", who, out);
	if (check_readable(cfg->tls_certificate, "certificate", who, out) +
	    check_readable(cfg->tls_key, "key", who, out) > 0)
		return;
	if (tls_check(cfg, &error) < 0)
		buf_printf(out, "tls: %s\n", error);
}

/* "mode 0700, owner root:root" of st, into text. */
static void describe(const struct stat *st, char *text, size_t size)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	char uid[16], gid[16];

	snprintf(uid, sizeof(uid), "%u", (unsigned)st->st_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)st->st_gid);
	snprintf(text, size, "mode %04o, owner %s:%s", (unsigned)(st->st_mode & 07777),
		 pw != NULL ? pw->pw_name : uid, gr != NULL ? gr->gr_name : gid);
}

/* One directory on the data directory's path (self: the data directory
   itself).  Returns true to go on down the path. */
static bool reach_one(const char *dir, const char *at, const char *parent, bool self,
		      bool owner_fixed, const char *who, struct buf *out)
{
	char text[200];
	struct stat st;

	if (stat(at, &st) < 0 && errno == ENOENT) {
		/* missing from here on: serve makes the rest, as root (parents
		   0755), else as this user, who must be able to write parent */
		if (!owner_fixed && access(parent, W_OK | X_OK) < 0 && stat(parent, &st) == 0) {
			describe(&st, text, sizeof(text));
			buf_printf(out, "data_dir %s: %s cannot create %s in %s (%s)\n", dir, who,
				   at, parent, text);
		}
		return false;
	}
	if (stat(at, &st) < 0 || !S_ISDIR(st.st_mode)) {
		buf_printf(out, "data_dir %s: %s is not a directory %s can use\n", dir, at, who);
		return false;
	}
	if (self && owner_fixed)
		return false;	/* serve gives it to the user */
	if (access(at, self ? R_OK | W_OK | X_OK : X_OK) == 0)
		return true;
	describe(&st, text, sizeof(text));
	if (self)
		buf_printf(out, "data_dir %s: %s cannot read and write it (%s)\n", dir, who, text);
	else
		buf_printf(out, "data_dir %s: %s cannot reach it: no search permission on %s "
			   "(%s)\n", dir, who, at, text);
	return false;
}

/*
 * Walk the data directory's path from "/" as the run-as user: every
 * existing directory on the way needs search permission.  owner_fixed:
 * serve (as root) creates what is missing and gives the data directory
 * itself to the user, so only the directories above it matter; else the
 * user must be able to use the directory itself, or to create it.
 */
static void check_data_dir(const char *dir, const char *who, bool owner_fixed,
			   struct buf *out)
{
	char path[4200], at[4200], parent[4200] = "/", cwd[4096];
	size_t len;

	if (dir[0] == '/')
		str_copy(path, dir, sizeof(path));
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		snprintf(path, sizeof(path), "%s/%s", cwd, dir);
	else
		return;
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	for (size_t end = 1; end <= len; end++) {
		if (end < len && (path[end] != '/' || path[end - 1] == '/'))
			continue;
		snprintf(at, sizeof(at), "%.*s", (int)end, path);
		if (!reach_one(dir, at, parent, end == len, owner_fixed, who, out))
			return;
		str_copy(parent, at, sizeof(parent));
	}
}

/* Everything that is tried as the run-as user. */
static void check_as_user(const struct config *cfg, const char *who, bool owner_fixed,
			  struct buf *out)
{
	check_tls(cfg, who, out);
	check_data_dir(cfg->data_dir, who, owner_fixed, out);
}

/* A child becomes pw, runs check_as_user and sends its findings back. */
static void check_in_child(const struct config *cfg, const struct passwd *pw,
			   const char *who, struct buf *out)
{
	char block[4096];
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		buf_printf(out, "cannot start a process as %s: %s\n", who, strerror(errno));
		return;
	}
	if (pid == 0) {
		struct buf mine;	/* out holds the parent's findings already */
		buf_init(&mine, 1 << 20);
		close(fds[0]);
		if (privilege_become(pw) < 0)
			buf_printf(&mine, "cannot switch to %s: %s\n", who, strerror(errno));
		else
			check_as_user(cfg, who, true, &mine);
		_exit(mine.len > 0 && write_all(fds[1], mine.data, mine.len) < 0 ? 1 : 0);
	}
	close(fds[1]);
	while ((n = read(fds[0], block, sizeof(block))) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			buf_append(out, block, (size_t)n);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

int check_startup(const struct config *cfg)
{
	struct passwd *pw = NULL;
	const char *error;
	char who[300];
	struct buf out;
	unsigned count = 0;
	int run_as;

	buf_init(&out, 1 << 20);
	check_listeners(cfg, &out);
	run_as = privilege_run_as(cfg, &pw, &error);
	if (run_as < 0) {
		buf_printf(&out, "server: user = %s: %s\n", cfg->user, error);
	} else if (run_as > 0) {
		snprintf(who, sizeof(who), "user %s", pw->pw_name);
		check_in_child(cfg, pw, who, &out);
	} else {
		snprintf(who, sizeof(who), "this user (uid %u)", (unsigned)geteuid());
		check_as_user(cfg, who, false, &out);
	}
	for (char *line = out.data, *nl; line != NULL && line < out.data + out.len;
	     line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(out.data + out.len - line))) == NULL)
			break;
		*nl = '\0';
		cli_error("check", "%s", line);
		count++;
	}
	buf_deinit(&out);
	return (int)count;
}
