/*
 * smtp_load - SMTP load generator for correio's benchmarks.
 *
 *   smtp-load HOST PORT CONNECTIONS MESSAGES SIZE RCPT [FROM]
 *
 * Opens CONNECTIONS sessions, each sending its share of MESSAGES messages
 * of about SIZE bytes to RCPT with MAIL/RCPT/DATA pipelined, and waits for
 * every final 250.  Prints "accepted N seconds S rate R" on stdout; exits
 * 1 if any message was refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
	const char *host;
	int port, messages;
	const char *rcpt, *from, *body;
	size_t body_len;
	int accepted;
	pthread_t thread;
};

/* Read one complete reply (last line "NNN "), return its code or -1. */
static int read_reply(int fd, char *buf, size_t size, size_t *have)
{
	for (;;) {
		char *start = buf, *nl;
		while ((nl = memchr(start, '\n', (size_t)(buf + *have - start))) != NULL) {
			if (nl - start >= 4 && start[3] == ' ') {
				int code = atoi(start);
				size_t used = (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, *have - used);
				*have -= used;
				return code;
			}
			start = nl + 1;
		}
		if (*have == size)
			return -1;
		ssize_t n = read(fd, buf + *have, size - *have);
		if (n <= 0)
			return -1;
		*have += (size_t)n;
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

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)w->port) };
	char buf[8192], cmd[1024];
	size_t have = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, cmdlen;

	inet_pton(AF_INET, w->host, &sa.sin_addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    read_reply(fd, buf, sizeof(buf), &have) != 220 ||
	    send_all(fd, "EHLO load.example\r\n", 19) < 0 ||
	    read_reply(fd, buf, sizeof(buf), &have) != 250) {
		perror("smtp-load: connect");
		close(fd);
		return NULL;
	}
	cmdlen = snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
			  w->from, w->rcpt);
	for (int i = 0; i < w->messages; i++) {
		if (send_all(fd, cmd, (size_t)cmdlen) < 0 ||
		    read_reply(fd, buf, sizeof(buf), &have) != 250 ||
		    read_reply(fd, buf, sizeof(buf), &have) != 250 ||
		    read_reply(fd, buf, sizeof(buf), &have) != 354 ||
		    send_all(fd, w->body, w->body_len) < 0 ||
		    read_reply(fd, buf, sizeof(buf), &have) != 250)
			break;
		w->accepted++;
	}
	send_all(fd, "QUIT\r\n", 6);
	close(fd);
	return NULL;
}

static char *make_body(size_t size, size_t *len)
{
	char *b = malloc(size + 256);
	size_t n = (size_t)snprintf(b, 256, "From: load@example.net\r\nSubject: load\r\n\r\n");

	while (n + 78 < size) {
		memset(b + n, 'x', 76);
		memcpy(b + n + 76, "\r\n", 2);
		n += 78;
	}
	memcpy(b + n, ".\r\n", 3);
	*len = n + 3;
	return b;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	int conns, total, accepted = 0;
	size_t body_len;
	char *body;
	struct worker *ws;

	if (argc < 7) {
		fprintf(stderr, "usage: smtp-load HOST PORT CONNECTIONS MESSAGES SIZE RCPT [FROM]\n");
		return 2;
	}
	conns = atoi(argv[3]);
	total = atoi(argv[4]);
	body = make_body((size_t)atol(argv[5]), &body_len);
	ws = calloc((size_t)conns, sizeof(*ws));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < conns; i++) {
		ws[i] = (struct worker){ argv[1], atoi(argv[2]), total / conns + (i < total % conns),
					 argv[6], argc > 7 ? argv[7] : "load@example.net", body, body_len, 0, 0 };
		pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
	}
	for (int i = 0; i < conns; i++) {
		pthread_join(ws[i].thread, NULL);
		accepted += ws[i].accepted;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("accepted %d seconds %.3f rate %.0f\n", accepted, secs, accepted / secs);
	free(ws);
	free(body);
	return accepted == total ? 0 : 1;
}
