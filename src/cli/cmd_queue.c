/*
 * cmd_queue.c - `correio queue list|show|flush|hold|release|delete` and
 * `correio sendmail` (also run when the binary is called "sendmail"):
 * both talk to the running server through its control socket.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "server/control.h"

static const char queue_usage[] =
	"usage: correio queue list\n"
	"       correio queue show ID\n"
	"       correio queue flush [ID]\n"
	"       correio queue hold ID\n"
	"       correio queue release ID\n"
	"       correio queue delete ID\n"
	"       correio queue stats\n\n"
	"Look at and act on the queue of the running server: every message\n"
	"with recipients still to be delivered, here or to other domains, on\n"
	"one retry schedule.  flush retries now; hold stops attempts until\n"
	"release; delete drops a message without notice; stats counts the\n"
	"work handed to the local delivery agent and to other hosts.  Messages\n"
	"whose queue files were found damaged at start are listed as \"damaged:\"\n"
	"(their files are kept in data_dir/queue/damaged/); show and delete act\n"
	"on them too.\n";

static int control_connect(const struct config *cfg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	control_path(cfg->data_dir, sun.sun_path, sizeof(sun.sun_path));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "correio: cannot reach the server at %s: %s (is it running?%s)\n",
			sun.sun_path, strerror(errno), cfg->data_dir[0] == '/' ? "" :
			" data_dir is relative to the current directory: give the "
			"configuration with -c, -C or CORREIO_CONFIG, and an absolute "
			"data_dir");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Print the answer; returns the exit status. */
static int read_answer(int fd, const char *what)
{
	struct buf in;
	char block[4096];
	ssize_t n;
	int status;

	buf_init(&in, 64 << 20);
	while ((n = read(fd, block, sizeof(block))) > 0)
		buf_append(&in, block, (size_t)n);
	close(fd);
	if (strncmp(buf_cstr(&in), "ok\n", 3) == 0) {
		fputs(buf_cstr(&in) + 3, stdout);
		status = 0;
	} else {
		fprintf(stderr, "correio: %s: %s", what, in.len > 0 ? buf_cstr(&in) :
			"no answer from the server\n");
		status = 1;
	}
	buf_deinit(&in);
	return status;
}

static int request(const struct config *cfg, const char *what, const char *line)
{
	int fd = control_connect(cfg);

	if (fd < 0)
		return 1;
	if (write_all(fd, line, strlen(line)) < 0 || shutdown(fd, SHUT_WR) < 0) {
		close(fd);
		fprintf(stderr, "correio: %s: %s\n", what, strerror(errno));
		return 1;
	}
	return read_answer(fd, what);
}

int cli_control_request(const struct config *cfg, const char *what, const char *line)
{
	return request(cfg, what, line);
}

int cmd_queue(int argc, char **argv, struct config *cfg)
{
	static const char *with_id[] = { "show", "hold", "release", "delete" };
	char line[512];

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(queue_usage, stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return request(cfg, "queue list", "LIST\n");
	if (argc == 2 && strcmp(argv[1], "stats") == 0)
		return request(cfg, "queue stats", "STATS\n");
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "flush") == 0) {
		snprintf(line, sizeof(line), "FLUSH%s%s\n", argc == 3 ? " " : "",
			 argc == 3 ? argv[2] : "");
		return request(cfg, "queue flush", line);
	}
	for (size_t i = 0; argc == 3 && i < sizeof(with_id) / sizeof(with_id[0]); i++) {
		if (strcmp(argv[1], with_id[i]) != 0)
			continue;
		snprintf(line, sizeof(line), "%s %s\n", with_id[i], argv[2]);
		for (char *p = line; *p != ' '; p++)
			*p = (char)toupper((unsigned char)*p);
		return request(cfg, "queue", line);
	}
	fprintf(stderr, "correio: queue: bad arguments\n%s", queue_usage);
	return 2;
}

/* ---- sendmail ---- */

static const char sendmail_usage[] =
	"usage: sendmail [-t] [-i] [-oi] [-f SENDER] [-F NAME] [-C FILE] [RECIPIENT...]\n"
	"       correio sendmail [same options]\n\n"
	"Read a message on standard input and queue it for the recipients.\n"
	"  -t        take recipients from To:, Cc: and Bcc: (Bcc: is removed)\n"
	"  -i, -oi   a line with a single dot does not end the message\n"
	"  -f ADDR   envelope sender (default: your login at the primary domain)\n"
	"  -F NAME   your full name for the From: field (default: $NAME, else the\n"
	"            account's name in the password file)\n"
	"  -C FILE   the configuration file (as correio -c); without it\n"
	"            $CORREIO_CONFIG, ./correio.conf, /etc/correio/correio.conf\n"
	"A message without From:, Date: or Message-ID: gets them.\n"
	"Other sendmail options (-o..., -B..., -v, -bm) are accepted and ignored.\n";

/* sendmail(1)'s options: those that take a value have a ':' */
static const char sendmail_optstring[] = "+tif:F:o:B:b:r:vhN:R:V:X:L:q:C:";

struct sendmail_opts {
	bool from_headers;
	bool dots_end;
	const char *sender;
	const char *full_name;
};

const char *sendmail_config_option(int argc, char **argv)
{
	const char *path = NULL;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt(argc, argv, sendmail_optstring)) != -1)
		if (c == 'C')
			path = optarg;
	optind = 1;
	return path;
}

static void default_sender(const struct config *cfg, char *out, size_t size)
{
	struct passwd *pw = getpwuid(getuid());
	const char *d = cfg->local_domains + strspn(cfg->local_domains, ", \t");

	snprintf(out, size, "%s@%.*s", pw != NULL ? pw->pw_name : "nobody",
		 (int)strcspn(d, ", \t"), d);
}

/* The sender's full name: -F, $NAME, or the password file's (the GECOS
   field up to its first comma); "" when none. */
static void full_name(const struct sendmail_opts *o, char *out, size_t size)
{
	const char *name = o->full_name != NULL ? o->full_name : getenv("NAME");
	struct passwd *pw;

	if (name == NULL && (pw = getpwuid(getuid())) != NULL && pw->pw_gecos != NULL) {
		snprintf(out, size, "%.*s", (int)strcspn(pw->pw_gecos, ","), pw->pw_gecos);
		return;
	}
	snprintf(out, size, "%s", name != NULL ? name : "");
}

/* "Name <address>" (the name quoted when it needs to be), or "address". */
static void from_field(const struct sendmail_opts *o, const char *address,
		       char *out, size_t size)
{
	char name[256];
	struct buf b;

	full_name(o, name, sizeof(name));
	if (name[0] == '\0' || strpbrk(name, "\r\n") != NULL) {
		snprintf(out, size, "%s", address);
		return;
	}
	buf_init(&b, size - 1);
	if (strpbrk(name, "()<>[]:;@\\,.\"") == NULL) {
		buf_printf(&b, "%s", name);
	} else {
		buf_putc(&b, '"');
		for (const char *p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		buf_putc(&b, '"');
	}
	if (buf_printf(&b, " <%s>", address) < 0)
		snprintf(out, size, "%s", address);
	else
		snprintf(out, size, "%s", buf_cstr(&b));
	buf_deinit(&b);
}

/* Standard input, CRLF kept as it is; without -i a "." line ends it. */
static int read_message(bool dots_end, struct buf *msg)
{
	char line[65536];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (dots_end && (strcmp(line, ".\n") == 0 || strcmp(line, ".\r\n") == 0))
			break;
		if (buf_append(msg, line, strlen(line)) < 0)
			return -1;
	}
	return ferror(stdin) ? -1 : 1;
}

static int parse_sendmail(int argc, char **argv, struct sendmail_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->dots_end = true;
	opterr = 0;
	optind = 1;
	while ((c = getopt(argc, argv, sendmail_optstring)) != -1) {
		switch (c) {
		case 't': o->from_headers = true; break;
		case 'i': o->dots_end = false; break;
		case 'o': if (strcmp(optarg, "i") == 0) o->dots_end = false; break;
		case 'f': case 'r': o->sender = optarg; break;
		case 'F': o->full_name = optarg; break;
		case 'h': fputs(sendmail_usage, stdout); return 0;
		case '?': fprintf(stderr, "sendmail: unknown option -%c\n%s", optopt, sendmail_usage);
			  return -1;
		default: break;		/* -C was taken by main.c; others ignored */
		}
	}
	return 1;
}

/* The message from standard input with its header fields completed, and
   its recipients (-t) appended to req.  Returns 1, or -1 after printing. */
static int sendmail_message(const struct config *cfg, const struct sendmail_opts *o,
			    const char *sender, int n_args, struct buf *msg,
			    struct buf *req)
{
	char from[700];
	int found = 0;

	if (read_message(o->dots_end, msg) < 0) {
		fprintf(stderr, "sendmail: cannot read the message (too big?)\n");
		return -1;
	}
	from_field(o, sender, from, sizeof(from));
	if (sendmail_complete_headers(msg, from, cfg->hostname) < 0) {
		fprintf(stderr, "sendmail: the message is too big\n");
		return -1;
	}
	if (o->from_headers)
		found = sendmail_headers(msg, req);
	if (o->from_headers && found == 0 && n_args == 0) {
		fprintf(stderr, "sendmail: -t: no recipient addresses found in the message's "
				"To:, Cc: or Bcc: header fields\n");
		return -1;
	}
	return 1;
}

int cmd_sendmail(int argc, char **argv, struct config *cfg)
{
	struct sendmail_opts o;
	struct buf msg, req;
	char sender[400];
	const char *envelope;
	int fd, ret;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
			fputs(sendmail_usage, stdout);
			return 0;
		}
	if ((ret = parse_sendmail(argc, argv, &o)) <= 0)
		return ret == 0 ? 0 : 2;
	buf_init(&msg, cfg->message_size + 65536);
	buf_init(&req, 0);
	default_sender(cfg, sender, sizeof(sender));
	envelope = o.sender != NULL ? (o.sender[0] != '\0' ? o.sender : "<>") : sender;
	buf_printf(&req, "SUBMIT %s", envelope);
	for (int i = optind; i < argc; i++)
		buf_printf(&req, " %s", argv[i]);
	if (sendmail_message(cfg, &o, o.sender != NULL && o.sender[0] != '\0' ? o.sender :
			     sender, argc - optind, &msg, &req) < 0) {
		buf_deinit(&msg);
		buf_deinit(&req);
		return 1;
	}
	buf_putc(&req, '\n');
	if ((fd = control_connect(cfg)) < 0)
		return 1;
	/* a refusal comes before the message is read: keep the answer */
	signal(SIGPIPE, SIG_IGN);
	if (write_all(fd, req.data, req.len) < 0 || write_all(fd, msg.data, msg.len) < 0 ||
	    shutdown(fd, SHUT_WR) < 0) {
		if (errno != EPIPE && errno != ECONNRESET) {
			fprintf(stderr, "sendmail: %s\n", strerror(errno));
			close(fd);
			return 1;
		}
	}
	buf_deinit(&msg);
	buf_deinit(&req);
	return read_answer(fd, "sendmail");
}
