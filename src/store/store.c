/*
 * store.c - the store of a process: the table of open accounts, errors,
 * UIDVALIDITY and unique-name generation, delivery notifications and the
 * POP3 UIDL text.
 *
 * Called on the event loop thread only (see store.h).  The account table
 * is a fixed array of hash chains keyed by the lower-case address, so that
 * store_notify_delivery() costs one hash look-up when nobody has that
 * account open.
 */
#include "store/store_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct store *store_new(const char *data_dir, const char *host)
{
	struct store *s = xcalloc(1, sizeof(*s));
	size_t n = strlen(data_dir) + sizeof("/mail");
	const char *delay;

	s->mail_dir = xmalloc(n);
	s->mbox_dir = xmalloc(n);
	snprintf(s->mail_dir, n, "%s/mail", data_dir);
	snprintf(s->mbox_dir, n, "%s/mbox", data_dir);
	store_set_host(s, host);
	s->watch_fd = -1;
	if ((delay = getenv("CORREIO_TEST_STORE_DELAY_MS")) != NULL)
		s->disk_delay_ms = (unsigned)strtoul(delay, NULL, 10);
	if ((delay = getenv("CORREIO_TEST_READ_DELAY_MS")) != NULL)
		s->read_delay_ms = (unsigned)strtoul(delay, NULL, 10);
	return s;
}

static void delay_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	if (ms > 0)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
}

void store_disk_delay(const struct store *s)
{
	delay_ms(s->disk_delay_ms);
}

void store_read_delay(const struct store *s)
{
	delay_ms(s->read_delay_ms);
}

void store_set_host(struct store *s, const char *host)
{
	store_maildir_host(host, s->host, sizeof(s->host));
}

void store_set_default_format(struct store *s, bool mbox)
{
	atomic_store(&s->default_mbox, mbox);
}

bool store_format_is_mbox(const struct store *s, int format)
{
	return format == STORE_FORMAT_MBOX ||
	       (format == STORE_FORMAT_DEFAULT && atomic_load(&s->default_mbox));
}

void store_free(struct store **sp)
{
	struct store *s = *sp;

	if (s == NULL)
		return;
	store_workers_stop(s);
	store_watch_free(s);
	for (unsigned i = 0; i < STORE_ACCOUNT_BUCKETS; i++)
		if (s->accounts[i] != NULL)
			log_err("store: account %s still open at exit",
				s->accounts[i]->address);
	free(s->mail_dir);
	free(s->mbox_dir);
	free(s);
	*sp = NULL;
}

/* ---- errors ---- */

void store_error_set(struct store_error *e, enum store_error_code code,
		     const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}

void store_error_sys(struct store_error *e, const char *what, const char *path)
{
	int saved = errno;

	log_err("store: %s %s: %s", what, path, strerror(saved));
	if (saved == EDQUOT || saved == ENOSPC)
		store_error_set(e, STORE_ERROR_OVER_QUOTA, "Not enough disk space");
	else
		store_error_set(e, STORE_ERROR_TEMP,
				"Internal error occurred, try again later");
	errno = saved;
}

/* ---- names and numbers ---- */

void store_unique_name(struct store *s, char *out, size_t size)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(out, size, "%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), ++s->seq, s->host);
}

void store_uidl(uint32_t uidvalidity, uint32_t uid, char *out, size_t size)
{
	snprintf(out, size, "%u.%u", uidvalidity, uid);
}

/* ---- the account table ---- */

static unsigned bucket_of(const char *address)
{
	unsigned h = 5381;

	for (; *address != '\0'; address++)
		h = h * 33 + (unsigned char)*address;
	return h % STORE_ACCOUNT_BUCKETS;
}

struct store_account *store_find_account(struct store *s, const char *address)
{
	struct store_account *a = s->accounts[bucket_of(address)];

	while (a != NULL && strcmp(a->address, address) != 0)
		a = a->next;
	return a;
}

void store_remember_account(struct store *s, struct store_account *a)
{
	unsigned b = bucket_of(a->address);

	a->next = s->accounts[b];
	s->accounts[b] = a;
}

void store_account_forget(struct store_account *a)
{
	struct store_account **p = &a->store->accounts[bucket_of(a->address)];

	while (*p != NULL && *p != a)
		p = &(*p)->next;
	if (*p != NULL)
		*p = a->next;
}

/* ---- deliveries ---- */

void store_notify_delivery(struct store *s, const char *address)
{
	char lower[320];
	struct store_account *a;
	struct store_error err;
	struct mbox *mb;

	str_copy(lower, address, sizeof(lower));
	str_lower(lower);
	if ((a = store_find_account(s, lower)) == NULL)
		return;
	store_account_usage_stale(a);
	for (mb = a->open; mb != NULL; mb = mb->next)
		if (strcmp(mb->name, "INBOX") == 0)
			break;
	if (mb == NULL || mb->busy || mb->deleted)
		return;
	store_mbox_ref(mb);
	if (store_sync_run(mb, false, false, &err) < 0)
		log_warn("store: %s: sync after delivery: %s", lower, err.text);
	store_mbox_release(mb);
}
