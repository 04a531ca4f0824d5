/*
 * store_watch.c - knowing, without reading cur/, that nobody but us
 * changed it.
 *
 * Each open Maildir folder has an inotify watch on its cur/ (one inotify
 * descriptor for the whole store).  Every rename, link or unlink the
 * store itself makes in cur/ is written down, in order, as the event it
 * will cause; at the next sync the events are read and each must be the
 * next one expected.  Anything else (another program's rename, a file
 * created or removed by hand, a lost event queue, a watch that could not
 * be set) makes the folder dirty, and the sync reads cur/ as before.
 * A missed expectation only costs a scan: it never hides a change.
 *
 * The watch is set (and its queue drained) before cur/ is read, so a
 * change made while the scan runs shows as an event afterwards.  Without
 * a watch the mtime rule of store_sync.c applies alone.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define WATCH_MASK (IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ONLYDIR)
/* bytes of expectations kept at most; beyond, the folder is rescanned */
#define WATCH_EXPECT_MAX (8u << 20)

static void expect_reset(struct mbox *mb)
{
	buf_reset(&mb->watch_expect);
	mb->watch_head = 0;
}

static void watch_dirty(struct mbox *mb)
{
	mb->watch_clean = false;
	expect_reset(mb);
}

static char event_code(uint32_t mask)
{
	if (mask & IN_MOVED_FROM)
		return 'F';
	if (mask & IN_MOVED_TO)
		return 'T';
	if (mask & IN_CREATE)
		return 'C';
	if (mask & IN_DELETE)
		return 'D';
	return 0;
}

/* One event of mb's cur/: the next one expected, or a foreign change. */
static void watch_event(struct mbox *mb, const struct inotify_event *ev)
{
	const char *e = mb->watch_expect.data + mb->watch_head;
	char code = event_code(ev->mask);
	uint32_t uid;

	if (!mb->watch_clean)
		return;
	if (code != 0 && ev->len > 0 && mb->watch_head < mb->watch_expect.len &&
	    e[0] == code && strcmp(e + 1, ev->name) == 0) {
		mb->watch_head += strlen(e + 1) + 2;
		if (mb->watch_head == mb->watch_expect.len)
			expect_reset(mb);
		return;
	}
	if (code == 'D' && ev->len > 0 && store_unlink_pending(mb, ev->name))
		return;		/* a worker unlinked an expunged message's file */
	if ((code == 'F' || code == 'T') && ev->len > 0 && store_rename_name(mb, ev->name, &uid))
		return;		/* a worker renamed a file whose flags changed */
	watch_dirty(mb);
}

static struct mbox **bucket(struct store *s, int wd)
{
	return &s->watched[(unsigned)wd % STORE_WATCH_BUCKETS];
}

static struct mbox *mbox_of_wd(struct store *s, int wd)
{
	struct mbox *mb = *bucket(s, wd);

	while (mb != NULL && mb->watch_wd != wd)
		mb = mb->watch_next;
	return mb;
}

static void all_dirty(struct store *s)
{
	for (unsigned i = 0; i < STORE_WATCH_BUCKETS; i++)
		for (struct mbox *mb = s->watched[i]; mb != NULL; mb = mb->watch_next)
			watch_dirty(mb);
}

static void forget_wd(struct store *s, struct mbox *mb)
{
	struct mbox **p;

	if (mb->watch_wd >= 0) {
		for (p = bucket(s, mb->watch_wd); *p != NULL && *p != mb; p = &(*p)->watch_next)
			;
		if (*p != NULL)
			*p = mb->watch_next;
	}
	mb->watch_next = NULL;
	mb->watch_wd = -1;
	watch_dirty(mb);
}

/* Read every queued event of the store and hand each to its folder. */
static void drain(struct store *s)
{
	char block[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct mbox *mb;
	ssize_t n;

	if (s->watch_fd < 0)
		return;
	while ((n = read(s->watch_fd, block, sizeof(block))) > 0) {
		for (char *p = block; p < block + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				all_dirty(s);
				continue;
			}
			if ((mb = mbox_of_wd(s, ev->wd)) == NULL)
				continue;
			if (ev->mask & IN_IGNORED)
				forget_wd(s, mb);	/* cur/ is gone */
			else
				watch_event(mb, ev);
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		log_err("store: read inotify: %m");
		all_dirty(s);
	}
}

/* Set the watch on mb's cur/ if it has none.  1 or 0 (no watch). */
static int add_watch(struct mbox *mb)
{
	struct store *s = mb->acct->store;
	char path[STORE_PATH_MAX];
	int wd;

	if (mb->watch_wd >= 0)
		return 1;
	if (mb->mbox_path != NULL || s->watch_off)
		return 0;
	if (s->watch_fd < 0 &&
	    (s->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		log_warn("store: inotify: %m (big folders are read again after each change)");
		s->watch_off = true;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/cur", mb->dir);
	if ((wd = inotify_add_watch(s->watch_fd, path, WATCH_MASK)) < 0) {
		if (errno == ENOSPC && !s->watch_full_logged) {
			log_warn("store: inotify watches exhausted (fs.inotify.max_user_watches)");
			s->watch_full_logged = true;
		}
		return 0;
	}
	if (mbox_of_wd(s, wd) != NULL)
		return 0;	/* the same directory open twice: that one keeps it */
	mb->watch_wd = wd;
	mb->watch_next = *bucket(s, wd);
	*bucket(s, wd) = mb;
	return 1;
}

bool store_watch_clean(struct mbox *mb)
{
	if (mb->watch_wd < 0)
		return false;
	drain(mb->acct->store);
	return mb->watch_wd >= 0 && mb->watch_clean;
}

bool store_watch_begin(struct mbox *mb)
{
	if (add_watch(mb) == 0)
		return false;
	drain(mb->acct->store);
	if (mb->watch_wd < 0)
		return false;
	expect_reset(mb);
	mb->watch_clean = true;
	return true;
}

void store_watch_lost(struct mbox *mb)
{
	watch_dirty(mb);
}

void store_watch_own(struct mbox *mb, char code, const char *name)
{
	if (mb->watch_wd < 0 || !mb->watch_clean)
		return;
	if (mb->watch_expect.len - mb->watch_head > WATCH_EXPECT_MAX) {
		watch_dirty(mb);	/* a huge batch: one scan is cheaper */
		return;
	}
	if (buf_putc(&mb->watch_expect, code) < 0 ||
	    buf_append(&mb->watch_expect, name, strlen(name) + 1) < 0)
		watch_dirty(mb);
}

void store_watch_end(struct mbox *mb)
{
	struct store *s = mb->acct->store;

	if (mb->watch_wd >= 0) {
		if (s->watch_fd >= 0)
			inotify_rm_watch(s->watch_fd, mb->watch_wd);
		forget_wd(s, mb);
	}
	buf_deinit(&mb->watch_expect);
}

void store_watch_free(struct store *s)
{
	if (s->watch_fd >= 0)
		close(s->watch_fd);
	s->watch_fd = -1;
}
