/*
 * vacation.c - Sieve vacation replies (see vacation.h).
 */
#include "delivery/vacation.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

/* The record file of (sender, handle), into out. */
static void record_path(const char *maildir, const char *sender, const char *handle,
			char *out, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (const char *p = sender; *p != '\0'; p++)
		h = (h ^ (unsigned char)tolower((unsigned char)*p)) * 0x100000001b3ull;
	h = (h ^ '\n') * 0x100000001b3ull;
	for (const char *p = handle; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	snprintf(out, size, "%s/sieve/.vacation/%016llx", maildir, (unsigned long long)h);
}

/* SUBMIT the text from <> to rcpt through the control socket.  1 or -1. */
static int submit(const struct config *cfg, const char *rcpt, const struct buf *text)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[700], answer[256];
	ssize_t n;
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	config_control_path(cfg->data_dir, sun.sun_path, sizeof(sun.sun_path));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(line, sizeof(line), "SUBMIT <> %s\n", rcpt);
	if (write_all(fd, line, strlen(line)) < 0 || write_all(fd, text->data, text->len) < 0 ||
	    shutdown(fd, SHUT_WR) < 0) {
		close(fd);
		return -1;
	}
	while (got < sizeof(answer) - 1 && (n = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0)
		got += (size_t)n;
	answer[got] = '\0';
	close(fd);
	return strncmp(answer, "ok\n", 3) == 0 ? 1 : -1;
}

int vacation_send(const struct config *cfg, const char *maildir, const char *account,
		  const struct sieve_action *a)
{
	char record[4400], dir[4400], date[64], msgid[400];
	struct stat st;
	struct buf text;
	time_t now = time(NULL);
	struct tm tm;
	int fd, ret;

	if (strpbrk(a->address, " <>\r\n") != NULL || a->address[0] == '\0')
		return 0;
	record_path(maildir, a->address, a->handle ? a->handle : "", record, sizeof(record));
	if (stat(record, &st) == 0 && now - st.st_mtime < (time_t)a->days * 86400) {
		log_info("sieve: <%s>: vacation: already replied to <%s> in the last %u days",
			 account, a->address, a->days);
		return 0;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(msgid, sizeof(msgid), "<%lld.%ld.vacation@%s>", (long long)now,
		 (long)random(), cfg->hostname);
	buf_init(&text, 2 * 1024 * 1024);
	buf_printf(&text, "From: <%s>\nTo: <%s>\nSubject: %s\nDate: %s\nMessage-ID: %s\n",
		   a->from ? a->from : account, a->address, a->subject ? a->subject : "Auto:",
		   date, msgid);
	if (a->in_reply_to != NULL) {
		buf_printf(&text, "In-Reply-To: %s\n", a->in_reply_to);
		buf_printf(&text, "References: %s%s%s\n", a->references ? a->references : "",
			   a->references ? " " : "", a->in_reply_to);
	}
	buf_puts(&text, "Auto-Submitted: auto-replied (vacation)\nPrecedence: bulk\n"
		 "MIME-Version: 1.0\n");
	if (!a->mime)
		buf_puts(&text, "Content-Type: text/plain; charset=utf-8\n"
			 "Content-Transfer-Encoding: 8bit\n\n");
	buf_puts(&text, a->text ? a->text : "");
	if (text.len > 0 && text.data[text.len - 1] != '\n')
		buf_putc(&text, '\n');
	ret = submit(cfg, a->address, &text);
	buf_deinit(&text);
	if (ret < 0) {
		log_err("sieve: <%s>: vacation: the reply to <%s> could not be queued",
			account, a->address);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/sieve/.vacation", maildir);
	mkdir_p(dir, 0700);
	fd = open(record, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (write_all(fd, a->address, strlen(a->address)) < 0)
			log_warn("sieve: %s: %m", record);
		close(fd);
	}
	log_info("sieve: <%s>: vacation: replied to <%s>", account, a->address);
	return 1;
}
