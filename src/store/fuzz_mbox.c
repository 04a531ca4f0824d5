/*
 * fuzz_mbox.c - libFuzzer target: the mbox reader.  The input is an mbox
 * file as any program may have left it.  The parser must find entries
 * that start with "From " inside the data, in order, with served sizes
 * that store_mboxparse_content() gives exactly, and find the same entries
 * again when resumed at any of them (a sync after a delivery does that).
 * The input as a message text, written as an entry (APPEND), must parse
 * back to one message with that very text (plus a final LF if missing).
 * Delivery's rewrite of its Status:/X-Status:/X-Keywords: fields gives
 * the same bytes when applied again.
 * Then the store opens the file as an account's INBOX: every message is
 * readable with its announced size; expunging every other one leaves the
 * others readable, unchanged, under their UIDs.  Files go under $TMPDIR
 * (make fuzz: the build directory).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"
#include "store/store_private.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_MSGS 64

struct found {
	struct mboxmsg v[MAX_MSGS];
	unsigned n, total;
};

static char root[STORE_ROOT_MAX], mbox_file[STORE_PATH_MAX];

static void collect(void *ctx, const struct mboxmsg *m)
{
	struct found *f = ctx;

	if (f->n < MAX_MSGS)
		f->v[f->n++] = *m;
	f->total++;
}

static void check_parser(const char *data, size_t len)
{
	static struct found f, again;
	char *out = malloc(len + 1);
	uint64_t prev_end = 0;

	CHECK(out != NULL);
	f.n = f.total = 0;
	store_mboxparse(data, len, 0, collect, &f);
	for (unsigned i = 0; i < f.n; i++) {
		const struct mboxmsg *m = &f.v[i];
		CHECK(m->off >= prev_end && m->off < len && m->raw_len <= m->end - m->off);
		CHECK(m->end <= len && memcmp(data + m->off, "From ", 5) == 0);
		CHECK(m->size <= m->raw_len && m->vsize >= m->size);
		CHECK(store_crc32c(0, data + m->off, m->raw_len) == m->crc);
		CHECK(store_mboxparse_content(data + m->off, m->raw_len, out) == m->size);
		prev_end = m->end;
	}
	for (unsigned i = 0; i < f.n; i++) {
		again.n = again.total = 0;
		store_mboxparse(data + f.v[i].off, len - f.v[i].off, f.v[i].off, collect, &again);
		CHECK(again.total == f.total - i);
		for (unsigned k = 0; k < again.n && i + k < f.n; k++)
			CHECK(memcmp(&again.v[k], &f.v[i + k], sizeof(again.v[k])) == 0);
	}
	free(out);
}

static void check_entry(const char *data, size_t len)
{
	static struct found f;
	struct buf entry;
	char *out;

	buf_init(&entry, 0);
	store_mboxparse_entry("a@b", 0, data, len, &entry);
	f.n = f.total = 0;
	store_mboxparse(entry.data, entry.len, 0, collect, &f);
	CHECK(f.total == 1 && f.v[0].off == 0 && f.v[0].end == entry.len);
	CHECK(f.v[0].size == len + (len > 0 && data[len - 1] != '\n'));
	out = malloc(entry.len);
	CHECK(out != NULL);
	CHECK(store_mboxparse_content(entry.data, f.v[0].raw_len, out) == f.v[0].size);
	CHECK(memcmp(out, data, len) == 0);
	free(out);
	buf_deinit(&entry);
}

/* Delivery's rewrite of the state fields (store_mboxparse_state) is
   stable: a message stated once is stated again to the same bytes, and
   only the header changes. */
static void check_state(const char *data, size_t len)
{
	static const char *const flags = "\\Seen \\Answered \\Deleted $Label1 work";
	struct buf once, twice;

	buf_init(&once, 0);
	buf_init(&twice, 0);
	store_mboxparse_state(data, len, flags, &once);
	store_mboxparse_state(once.data != NULL ? once.data : "", once.len, flags, &twice);
	CHECK(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);
	buf_deinit(&once);
	buf_deinit(&twice);
}

static void read_all(struct store_mailbox *h, uint64_t *sizes)
{
	struct store_error err;
	struct store_msg m;
	char block[4096];
	uint64_t got;
	ssize_t n;
	int fd;

	for (unsigned i = 0; i < store_mailbox_count(h); i++) {
		store_mailbox_get(h, i, &m);
		CHECK(store_mailbox_open_msg(h, m.uid, &fd, &m, &err) == 1);
		for (got = 0; (n = read(fd, block, sizeof(block))) > 0; got += (uint64_t)n)
			;
		close(fd);
		CHECK(got == m.size);
		if (sizes != NULL && m.uid < MAX_MSGS)
			sizes[m.uid] = m.size;
	}
}

static void check_store(const char *data, size_t len)
{
	static uint64_t sizes[MAX_MSGS];
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	struct store *st;
	uint32_t uids[MAX_MSGS];
	unsigned n = 0, count;
	char path[STORE_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/mail", root);
	CHECK(store_remove_tree(path) >= 0);
	fd = open(mbox_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write_all(fd, data, len) > 0 && close(fd) == 0);
	st = store_new(root, "fuzz.example");
	CHECK(store_account_open(st, "fuzz@example.org", &a, &err) == 1);
	store_account_set_mbox(a, true);
	CHECK(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err) == 1);
	memset(sizes, 0, sizeof(sizes));
	read_all(h, sizes);
	count = store_mailbox_count(h);
	for (unsigned i = 0; i < count && n < MAX_MSGS; i += 2)
		uids[n++] = (uint32_t)i + 1;
	CHECK(store_mailbox_expunge(h, uids, &n, &err) == 1);
	CHECK(store_mailbox_count(h) == count - n);
	read_all(h, NULL);
	for (unsigned i = 0; i < store_mailbox_count(h); i++) {
		struct store_msg m;
		store_mailbox_get(h, i, &m);
		CHECK(m.uid % 2 == 0 && (m.uid >= MAX_MSGS || sizes[m.uid] == m.size));
	}
	store_mailbox_close(&h);
	store_account_unref(&a);
	store_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static bool ready;

	if (!ready) {
		const char *tmp = getenv("TMPDIR");
		char dir[STORE_PATH_MAX];
		log_set_level(LOG_LEVEL_ERR);
		snprintf(root, sizeof(root), "%s/correio-fuzz-mbox-%d",
			 tmp != NULL ? tmp : "/tmp", (int)getpid());
		snprintf(dir, sizeof(dir), "%s/mbox", root);
		CHECK(mkdir_p(dir, 0700) >= 0);
		snprintf(mbox_file, sizeof(mbox_file), "%s/fuzz@example.org", dir);
		ready = true;
	}
	check_parser((const char *)data, len);
	check_entry((const char *)data, len);
	check_state((const char *)data, len);
	check_store((const char *)data, len);
	return 0;
}
