/*
 * pop3_load - POP3 load generator for correio's benchmarks.
 *
 *   pop3-load HOST PORT CLIENTS USERS PATTERN PASSWORD [DEPTH]
 *
 * CLIENTS threads share the USERS accounts (PATTERN names them with "%d"
 * standing for 0..USERS-1, e.g. "bench%d@example.org"): each thread
 * takes the next account, logs in with USER/PASS, sends LIST, RETRs every
 * message (DEPTH commands in flight, default 1: one at a time) and QUITs,
 * until every account has been done once.  Every RETR is checked: the
 * octets received (dot-stuffing undone) must be the count announced in
 * "+OK n octets" and in LIST.  Prints "sessions N messages M bytes B
 * seconds S rate R login_ms L retr_rate T" on stdout: R messages/s over
 * the whole run, L the mean time from connect to the PASS reply, T
 * messages/s counting only the time the clients spent between LIST and
 * the last message (logins left out).  Exits 1 on any error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct conn {
	int fd;
	char buf[BUF_SIZE];
	size_t start, end;
};

struct shared {
	const char *host, *pattern, *password;
	int port, users, depth;
	atomic_int next_user;
	atomic_int failed;
};

struct worker {
	struct shared *sh;
	long sessions, messages, bytes;
	double login_secs, retr_secs;
	pthread_t thread;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Read more into c->buf (after moving what is unread to the front). */
static int fill(struct conn *c)
{
	ssize_t n;

	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf))
		return -1;
	n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
	if (n <= 0)
		return -1;
	c->end += (size_t)n;
	return 0;
}

/* One response line into line (NUL-terminated, CRLF removed). */
static int read_line(struct conn *c, char *line, size_t max)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (nl != NULL) {
			size_t len = (size_t)(nl - (c->buf + c->start));
			size_t copy = len < max - 1 ? len : max - 1;
			memcpy(line, c->buf + c->start, copy);
			if (copy > 0 && line[copy - 1] == '\r')
				copy--;
			line[copy] = '\0';
			c->start += len + 1;
			return 0;
		}
		if (fill(c) < 0)
			return -1;
	}
}

/* The body of a multi-line response up to its "." line: the octets it
   carries (line ends included, stuffed dots removed), or -1. */
static long read_body(struct conn *c, long *lines_r)
{
	long octets = 0, lines = 0;
	int bol = 1;

	for (;;) {
		if (c->start == c->end && fill(c) < 0)
			return -1;
		if (bol) {
			if (c->buf[c->start] == '.') {
				while (c->end - c->start < 3)
					if (fill(c) < 0)
						return -1;
				if (memcmp(c->buf + c->start, ".\r\n", 3) == 0) {
					c->start += 3;
					if (lines_r != NULL)
						*lines_r = lines;
					return octets;
				}
				c->start++;	/* the stuffed dot */
			}
			bol = 0;
		}
		char *p = c->buf + c->start;
		char *nl = memchr(p, '\n', c->end - c->start);
		if (nl != NULL) {
			octets += nl + 1 - p;
			c->start += (size_t)(nl + 1 - p);
			bol = 1;
			lines++;
		} else {
			octets += (long)(c->end - c->start);
			c->start = c->end;
		}
	}
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

static void fail(struct shared *sh, const char *user, const char *what, const char *line)
{
	fprintf(stderr, "pop3-load: %s: %s%s%s\n", user, what, line ? ": " : "", line ? line : "");
	atomic_store(&sh->failed, 1);
}

/* One session: login, LIST, RETR all, QUIT.  0 or -1. */
static int session(struct worker *w, const char *user)
{
	struct shared *sh = w->sh;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)sh->port) };
	struct conn *c = calloc(1, sizeof(*c));
	char line[1024] = "", cmd[512];
	long *sizes = NULL, count = 0, cap = 0, sent = 0, got = 0;
	int one = 1, ret = -1;
	double t0 = now();

	inet_pton(AF_INET, sh->host, &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("pop3-load: connect");
		atomic_store(&sh->failed, 1);
		goto out;
	}
	if (read_line(c, line, sizeof(line)) < 0 || strncmp(line, "+OK", 3) != 0) {
		fail(sh, user, "greeting", line);
		goto out;
	}
	/* USER and PASS pipelined */
	snprintf(cmd, sizeof(cmd), "USER %s\r\nPASS %s\r\n", user, sh->password);
	if (send_str(c->fd, cmd) < 0 || read_line(c, line, sizeof(line)) < 0 ||
	    strncmp(line, "+OK", 3) != 0 || read_line(c, line, sizeof(line)) < 0 ||
	    strncmp(line, "+OK", 3) != 0) {
		fail(sh, user, "login", line);
		goto out;
	}
	w->login_secs += now() - t0;
	t0 = now();
	if (send_str(c->fd, "LIST\r\n") < 0 || read_line(c, line, sizeof(line)) < 0 ||
	    strncmp(line, "+OK", 3) != 0) {
		fail(sh, user, "LIST", line);
		goto out;
	}
	for (;;) {
		long n, size;
		if (read_line(c, line, sizeof(line)) < 0) {
			fail(sh, user, "LIST", "connection closed");
			goto out;
		}
		if (strcmp(line, ".") == 0)
			break;
		if (sscanf(line, "%ld %ld", &n, &size) != 2 || n != count + 1) {
			fail(sh, user, "LIST line", line);
			goto out;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			sizes = realloc(sizes, (size_t)cap * sizeof(*sizes));
		}
		sizes[count++] = size;
	}
	while (got < count) {
		long octets, announced;
		while (sent < count && sent - got < sh->depth) {
			snprintf(cmd, sizeof(cmd), "RETR %ld\r\n", sent + 1);
			if (send_str(c->fd, cmd) < 0) {
				fail(sh, user, "RETR", "send");
				goto out;
			}
			sent++;
		}
		if (read_line(c, line, sizeof(line)) < 0 ||
		    sscanf(line, "+OK %ld octets", &announced) != 1) {
			fail(sh, user, "RETR", line);
			goto out;
		}
		octets = read_body(c, NULL);
		if (octets < 0 || octets != announced || announced != sizes[got]) {
			snprintf(line, sizeof(line), "message %ld: %ld octets, announced %ld, LIST %ld",
				 got + 1, octets, announced, sizes[got]);
			fail(sh, user, "RETR", line);
			goto out;
		}
		w->bytes += octets;
		w->messages++;
		got++;
	}
	w->retr_secs += now() - t0;
	if (send_str(c->fd, "QUIT\r\n") < 0 || read_line(c, line, sizeof(line)) < 0 ||
	    strncmp(line, "+OK", 3) != 0) {
		fail(sh, user, "QUIT", line);
		goto out;
	}
	w->sessions++;
	ret = 0;
out:
	close(c->fd);
	free(c);
	free(sizes);
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	const char *at = strstr(sh->pattern, "%d");
	char user[320];
	int i;

	while (!atomic_load(&sh->failed) && (i = atomic_fetch_add(&sh->next_user, 1)) < sh->users) {
		if (at != NULL)
			snprintf(user, sizeof(user), "%.*s%d%s", (int)(at - sh->pattern),
				 sh->pattern, i, at + 2);
		else
			snprintf(user, sizeof(user), "%s", sh->pattern);
		if (session(w, user) < 0)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct shared sh = { 0 };
	struct worker *ws;
	long sessions = 0, messages = 0, bytes = 0;
	double t0, secs, login = 0, retr = 0;
	int clients;

	if (argc < 7) {
		fprintf(stderr, "usage: pop3-load HOST PORT CLIENTS USERS PATTERN PASSWORD [DEPTH]\n");
		return 2;
	}
	sh.host = argv[1];
	sh.port = atoi(argv[2]);
	clients = atoi(argv[3]);
	sh.users = atoi(argv[4]);
	sh.pattern = argv[5];
	sh.password = argv[6];
	sh.depth = argc > 7 ? atoi(argv[7]) : 1;
	if (clients < 1 || sh.users < 1 || sh.depth < 1) {
		fprintf(stderr, "pop3-load: CLIENTS, USERS and DEPTH must be positive\n");
		return 2;
	}
	ws = calloc((size_t)clients, sizeof(*ws));
	t0 = now();
	for (int i = 0; i < clients; i++) {
		ws[i].sh = &sh;
		pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(ws[i].thread, NULL);
		sessions += ws[i].sessions;
		messages += ws[i].messages;
		bytes += ws[i].bytes;
		login += ws[i].login_secs;
		retr += ws[i].retr_secs;
	}
	secs = now() - t0;
	printf("sessions %ld messages %ld bytes %ld seconds %.3f rate %.0f login_ms %.1f "
	       "retr_rate %.0f\n", sessions, messages, bytes, secs, messages / secs,
	       sessions ? login * 1000 / sessions : 0.0,
	       retr > 0 ? messages / (retr / clients) : 0.0);
	free(ws);
	return atomic_load(&sh.failed) || sessions != sh.users ? 1 : 0;
}
