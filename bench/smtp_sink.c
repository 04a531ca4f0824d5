/*
 * smtp_sink - a fast SMTP server that accepts and discards mail, for the
 * relay benchmark.
 *
 *   smtp-sink ADDRESS PORT
 *
 * Answers every command at once (PIPELINING, CHUNKING, 8BITMIME), counts
 * the messages it accepted and prints the count on stdout each time it
 * reaches a multiple of 100, and at SIGTERM.  One thread per connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_long accepted;

static int reply(int fd, const char *text)
{
	size_t n = strlen(text);

	return write(fd, text, n) == (ssize_t)n ? 0 : -1;
}

static void count_one(void)
{
	long n = atomic_fetch_add(&accepted, 1) + 1;

	if (n % 100 == 0) {
		printf("%ld\n", n);
		fflush(stdout);
	}
}

/* Serve one connection; in DATA, wait for the "." line. */
static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	FILE *in = fdopen(fd, "r");
	char line[4096];
	int data = 0;

	reply(fd, "220 sink ESMTP\r\n");
	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		if (data) {
			if (strcmp(line, ".\r\n") == 0) {
				data = 0;
				count_one();
				reply(fd, "250 2.0.0 queued\r\n");
			}
		} else if (strncasecmp(line, "EHLO", 4) == 0) {
			reply(fd, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			data = 1;
			reply(fd, "354 go\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			reply(fd, "221 bye\r\n");
			break;
		} else {
			reply(fd, "250 2.0.0 ok\r\n");
		}
	}
	if (in != NULL)
		fclose(in);
	else
		close(fd);
	return NULL;
}

static void on_term(int sig)
{
	printf("%ld\n", atomic_load(&accepted));
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (argc != 3) {
		fprintf(stderr, "usage: smtp-sink ADDRESS PORT\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
		perror("smtp-sink");
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_create(&t, NULL, serve, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}
