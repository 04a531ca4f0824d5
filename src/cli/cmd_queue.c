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
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/config.h"
#include "lib/buf.h"
#include "lib/util.h"

static const char queue_usage[] =
	"usage: correio queue list [--json]\n"
	"       correio queue show [--body | --json] ID\n"
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
	"whose queue files were found damaged at start are listed as \"damaged\"\n"
	"(their files are kept in data_dir/queue/damaged/); show and delete act\n"
	"on them too.  `correio queue COMMAND --help` tells more of each.\n";

static const char list_usage[] =
	"usage: correio queue list [--json]\n"
	"       mailq, sendmail -bp\n\n"
	"List the queue as mailq does, oldest message first: a header line, then\n"
	"per message its queue id, size in bytes, arrival time, state and\n"
	"sender, and below it every recipient with its state (pending: not\n"
	"tried yet, deferred: failed for now and retried, delivered, bounced)\n"
	"and the last reason it was deferred, in parentheses; a total line ends\n"
	"it (\"-- 3 Kbytes in 2 Requests.\"), or \"Mail queue is empty\".  The\n"
	"message states: queued (not tried yet), deferred, active (a delivery\n"
	"is under way, marked * after the id), held (no attempts until\n"
	"release, marked !) and damaged (marked #).\n"
	"  --json   the same as a JSON object {\"messages\": [...]}, one object\n"
	"           per message with its recipients, times in unix seconds\n";

static const char show_usage[] =
	"usage: correio queue show [--body | --json] ID\n\n"
	"Show one queued message: its envelope (state, arrival, sender, DSN\n"
	"parameters, and per recipient its state, attempts, next retry, last\n"
	"error and the host that gave it) and the message's header section.\n"
	"  --body   the whole message after the envelope (as postcat -q)\n"
	"  --json   the envelope as a JSON object (as in list --json)\n"
	"An unknown ID is an error (exit status 1).\n";

static const char flush_usage[] =
	"usage: correio queue flush [ID]\n\n"
	"Make every queued message (or only ID) due now, whatever its retry\n"
	"schedule, and look up the destinations' mail exchangers again.  Held\n"
	"messages are not sent: flush ID of a held message says so and exits\n"
	"with status 1; `correio queue release ID` sends it.\n";

static const char hold_usage[] =
	"usage: correio queue hold ID\n\n"
	"Stop delivery attempts for ID until `correio queue release ID`\n"
	"(kept across restarts).  A mail filter's quarantine holds mail too.\n";

static const char release_usage[] =
	"usage: correio queue release ID\n\n"
	"Let a held message be tried again: at once if it was flushed while\n"
	"held or was due, else at its next scheduled attempt.\n";

static const char delete_usage[] =
	"usage: correio queue delete ID\n\n"
	"Remove ID from the queue without any notice to its sender (refused\n"
	"while a delivery is under way: hold it first).  Damaged messages too.\n";

static const char stats_usage[] =
	"usage: correio queue stats\n\n"
	"Counters since the server started, one \"name value\" per line: jobs\n"
	"and recipients handed to the local delivery agent, transactions with\n"
	"other hosts.\n";

static int usage_error(const char *what, const char *usage)
{
	fprintf(stderr, "correio: %s: bad arguments\n%s", what, usage);
	return 2;
}

static int control_connect(const struct config *cfg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	config_control_path(cfg->data_dir, sun.sun_path, sizeof(sun.sun_path));
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

/* Send line and take the answer's text (after "ok") into ans.  1, or -1
   after printing the server's error. */
static int fetch(const struct config *cfg, const char *what, const char *line,
		 struct buf *ans)
{
	char block[65536];
	ssize_t n;
	int fd = control_connect(cfg);

	if (fd < 0)
		return -1;
	if (write_all(fd, line, strlen(line)) < 0 || shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "correio: %s: %s\n", what, strerror(errno));
		close(fd);
		return -1;
	}
	while ((n = read(fd, block, sizeof(block))) > 0)
		if (buf_append(ans, block, (size_t)n) < 0)
			break;
	close(fd);
	if (n != 0 || strncmp(buf_cstr(ans), "ok\n", 3) != 0) {
		fprintf(stderr, "correio: %s: %s", what, n > 0 ? "the answer is too big\n" :
			ans->len > 0 ? buf_cstr(ans) : "no answer from the server\n");
		return -1;
	}
	buf_consume(ans, 3);
	return 1;
}

/* DUMP [id] read into entries.  1, or -1 after printing why. */
static int fetch_entries(const struct config *cfg, const char *what, const char *id,
			 struct queue_entry **v, size_t *n)
{
	struct buf ans, line;
	const char *error;
	int ret = 1;

	buf_init(&ans, (64u << 20) + 4096);	/* the server's cap, and "ok" */
	buf_init(&line, 1024);
	buf_printf(&line, "DUMP%s%s\n", id != NULL ? " " : "", id != NULL ? id : "");
	if (fetch(cfg, what, buf_cstr(&line), &ans) < 0) {
		ret = -1;
	} else if (queue_dump_parse(ans.data, ans.len, v, n, &error) < 0) {
		fprintf(stderr, "correio: %s: cannot read the server's answer: %s\n", what, error);
		ret = -1;
	}
	buf_deinit(&ans);
	buf_deinit(&line);
	return ret;
}

static int print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	json_decref(j);
	if (text == NULL)
		return 1;
	puts(text);
	free(text);
	return 0;
}

/* Oldest first, as an operator reads a queue; ties by queue id. */
static int by_arrival(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;

	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	return strcmp(x->id, y->id);
}

int cli_queue_list(const struct config *cfg, bool json)
{
	struct queue_entry *v = NULL;
	size_t n = 0;
	struct buf out;

	if (fetch_entries(cfg, "queue list", NULL, &v, &n) < 0)
		return 1;
	if (n > 1)
		qsort(v, n, sizeof(*v), by_arrival);
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, queue_entry_json(&v[i]));
		queue_entries_free(&v, n);
		return print_json(json_pack("{s:o}", "messages", a));
	}
	buf_init(&out, 0);
	queue_format_list(v, n, &out);
	fwrite(out.data, 1, out.len, stdout);
	buf_deinit(&out);
	queue_entries_free(&v, n);
	return 0;
}

/* A line of a header section for the terminal: control characters other
   than TAB and the line end as \xNN (the fields come from any sender). */
static void put_header_line(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < ' ' && c != '\t' && c != '\n' && !(c == '\r' && s[1] == '\n')) ||
		    c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* The message's text from the server to stdout: all of it as it is, or
   its header section (up to the empty line) made safe for a terminal.
   1, or -1 after printing. */
static int print_text(const struct config *cfg, const char *id, bool body)
{
	char line[600], block[65536];
	FILE *in;
	int fd = control_connect(cfg);
	bool line_start = true;

	if (fd < 0)
		return -1;
	snprintf(line, sizeof(line), "TEXT %s\n", id);
	if (write_all(fd, line, strlen(line)) < 0 || shutdown(fd, SHUT_WR) < 0 ||
	    (in = fdopen(fd, "r")) == NULL) {
		fprintf(stderr, "correio: queue show: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (fgets(line, sizeof(line), in) == NULL || strcmp(line, "ok\n") != 0) {
		fprintf(stderr, "correio: queue show: %s", line[0] != '\0' ? line :
			"no answer from the server\n");
		fclose(in);
		return -1;
	}
	while (fgets(block, sizeof(block), in) != NULL) {
		if (!body && line_start && (block[0] == '\n' || strcmp(block, "\r\n") == 0))
			break;
		line_start = block[strlen(block) - 1] == '\n';
		if (body)
			fputs(block, stdout);
		else
			put_header_line(block);
	}
	fclose(in);
	return 1;
}

static int queue_show(int argc, char **argv, struct config *cfg)
{
	struct queue_entry *v = NULL;
	size_t n = 0;
	struct buf out;
	bool body = false, json = false;
	const char *id = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--body") == 0)
			body = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] != '-' && id == NULL)
			id = argv[i];
		else
			return usage_error("queue show", show_usage);
	}
	if (id == NULL || (body && json) || strlen(id) > ENVELOPE_ID_LEN)
		return usage_error("queue show", show_usage);
	if (fetch_entries(cfg, "queue show", id, &v, &n) < 0)
		return 1;
	if (n != 1) {
		queue_entries_free(&v, n);
		fprintf(stderr, "correio: queue show: no message %s in the queue\n", id);
		return 1;
	}
	if (json) {
		json_t *j = queue_entry_json(&v[0]);
		queue_entries_free(&v, n);
		return print_json(j);
	}
	buf_init(&out, 0);
	queue_format_show(&v[0], (uint64_t)time(NULL), &out);
	fwrite(out.data, 1, out.len, stdout);
	buf_deinit(&out);
	if (v[0].env != NULL) {
		printf("\n%s\n", body ? "Message:" : "Message headers (--body for all):");
		fflush(stdout);
		if (print_text(cfg, id, body) < 0) {
			queue_entries_free(&v, n);
			return 1;
		}
	}
	queue_entries_free(&v, n);
	return 0;
}

static int queue_list(int argc, char **argv, struct config *cfg)
{
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return usage_error("queue list", list_usage);
	}
	return cli_queue_list(cfg, json);
}

int cmd_mailq(int argc, char **argv, struct config *cfg)
{
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(list_usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-C") == 0 && i + 1 < argc)
			i++;		/* the configuration: main.c took it */
		else if (strncmp(argv[i], "-C", 2) != 0 && strcmp(argv[i], "-v") != 0)
			return usage_error("mailq", list_usage);
	}
	return cli_queue_list(cfg, json);
}

static int queue_stats(int argc, char **argv, struct config *cfg)
{
	if (argc != 1)
		return usage_error("queue stats", stats_usage);
	return request(cfg, "queue stats", "STATS\n");
}

static int queue_flush(int argc, char **argv, struct config *cfg)
{
	char line[512];

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return usage_error("queue flush", flush_usage);
	snprintf(line, sizeof(line), "FLUSH%s%s\n", argc == 2 ? " " : "",
		 argc == 2 ? argv[1] : "");
	return request(cfg, "queue flush", line);
}

/* hold, release, delete: VERB ID */
static int queue_with_id(int argc, char **argv, struct config *cfg)
{
	char line[512];

	if (argc != 2 || argv[1][0] == '-')
		return usage_error("queue", queue_usage);
	snprintf(line, sizeof(line), "%s %s\n", argv[0], argv[1]);
	for (char *p = line; *p != ' '; p++)
		*p = (char)toupper((unsigned char)*p);
	return request(cfg, "queue", line);
}

static const struct queue_command {
	const char *name;
	int (*run)(int argc, char **argv, struct config *cfg);
	const char *usage;
} queue_commands[] = {
	{ "list", queue_list, list_usage },
	{ "show", queue_show, show_usage },
	{ "flush", queue_flush, flush_usage },
	{ "hold", queue_with_id, hold_usage },
	{ "release", queue_with_id, release_usage },
	{ "delete", queue_with_id, delete_usage },
	{ "stats", queue_stats, stats_usage },
};

int cmd_queue(int argc, char **argv, struct config *cfg)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(queue_usage, stdout);
		return 0;
	}
	for (size_t i = 0; argc >= 2 && i < sizeof(queue_commands) / sizeof(queue_commands[0]);
	     i++) {
		const struct queue_command *c = &queue_commands[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (cli_wants_help(argc - 1, argv + 1)) {
			fputs(c->usage, stdout);
			return 0;
		}
		return c->run(argc - 1, argv + 1, cfg);
	}
	fprintf(stderr, "correio: queue: %s\n%s", argc < 2 ? "missing subcommand" :
		"bad arguments", queue_usage);
	return 2;
}

/* ---- sendmail ---- */

static const char sendmail_usage[] =
	"usage: sendmail [-t] [-i] [-oi] [-f SENDER] [-F NAME] [-C FILE] [RECIPIENT...]\n"
	"       sendmail -bp | -bi [-C FILE]\n"
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
	"  -bp       list the queue instead (as mailq, `correio queue list`)\n"
	"  -bi       import the aliases file instead (as newaliases)\n"
	"Other sendmail options (-o..., -B..., -v, -bm) are accepted and ignored.\n";

/* sendmail(1)'s options: those that take a value have a ':' */
static const char sendmail_optstring[] = "+tif:F:o:B:b:r:vhN:R:V:X:L:q:C:";

struct sendmail_opts {
	bool from_headers;
	bool dots_end;
	const char *sender;
	const char *full_name;
	char mode;		/* -bp: 'p', -bi: 'i', else 0 (send) */
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
		case 'b':	/* -bp lists the queue, -bi is newaliases; -bm, -bs... send */
			if (strcmp(optarg, "p") == 0 || strcmp(optarg, "i") == 0)
				o->mode = optarg[0];
			break;
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
	if (o.mode == 'p')
		return cli_queue_list(cfg, false);
	if (o.mode == 'i')
		return cmd_newaliases(argc, argv, cfg);
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
