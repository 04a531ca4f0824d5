/*
 * fuzz_store_index.c - libFuzzer target: a folder whose own files are
 * damaged.  An INBOX of three messages (flags, a keyword, a cached string)
 * is made once; each run puts its files back as they were, then the first
 * input byte picks one of them (the index snapshot, the index log, the
 * UIDVALIDITY fallback, the keywords, the cache) and the rest replaces it.
 * The Maildir is the truth: whatever the file says, opening the folder
 * must give the three messages, with ascending UIDs, each readable.
 * The folder is made under $TMPDIR (make fuzz: the build directory).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"
#include "store/store_private.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define MESSAGES 3

static const char *const damaged[] = {
	STORE_INDEX_FILE, STORE_LOG_FILE, STORE_UIDV_FILE, STORE_KEYWORDS_FILE,
	STORE_CACHE_FILE,
};
#define N_DAMAGED (sizeof(damaged) / sizeof(damaged[0]))

static char root[STORE_ROOT_MAX], inbox[STORE_PATH_MAX];
static struct buf pristine[N_DAMAGED];	/* len 0 and no data: absent */
static bool present[N_DAMAGED];
static char cur_names[MESSAGES][STORE_FILE_MAX];
static struct buf cur_data[MESSAGES];

static void put_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[STORE_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write_all(fd, data, len) > 0 && close(fd) == 0);
}

static void empty_dir(const char *dir)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* The INBOX as the server leaves it, then a copy of its files. */
static void make_folder(void)
{
	struct store *s;
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	char dir[STORE_PATH_MAX], path[STORE_PATH_MAX];
	unsigned kw, n = 0;
	uint32_t uid;
	const char *tmp = getenv("TMPDIR");
	struct dirent *de;
	DIR *d;

	snprintf(root, sizeof(root), "%s/correio-fuzz-index-XXXXXX", tmp != NULL ? tmp : "/tmp");
	CHECK(mkdtemp(root) != NULL);
	snprintf(inbox, sizeof(inbox), "%s/mail/example.org/alice", root);
	s = store_new(root, "fuzz.example");
	CHECK(store_account_open(s, "alice@example.org", &a, &err) == 1);
	snprintf(dir, sizeof(dir), "%s/new", inbox);
	for (unsigned i = 0; i < MESSAGES; i++) {
		char name[64], text[128];
		int len = snprintf(text, sizeof(text), "Subject: message %u\n\nBody %u.\n", i, i);
		snprintf(name, sizeof(name), "%u.QFUZZ%u.mx.example.org,S=%d", 1700000000 + i, i,
			 len);
		put_file(dir, name, text, (size_t)len);
	}
	CHECK(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err) == 1);
	CHECK(store_mailbox_count(h) == MESSAGES);
	uid = 2;
	CHECK(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, 0, 0,
				      NULL, &err) == 1);
	CHECK(store_mailbox_keyword(h, "$Work", true, &kw, &err) == 1);
	uid = 3;
	CHECK(store_mailbox_set_flags(h, &uid, 1, STORE_FLAGS_ADD, 0, 1u << kw, 0, NULL,
				      &err) == 1);
	CHECK(store_mailbox_cache_set(h, 1, 0, "(\"envelope\")", 12, &err) >= 0);
	store_mailbox_close(&h);
	store_account_unref(&a);
	store_free(&s);

	for (unsigned i = 0; i < N_DAMAGED; i++) {
		snprintf(path, sizeof(path), "%s/%s", inbox, damaged[i]);
		buf_init(&pristine[i], 0);
		present[i] = store_read_file(path, &pristine[i]) > 0;
	}
	snprintf(dir, sizeof(dir), "%s/cur", inbox);
	CHECK((d = opendir(dir)) != NULL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		CHECK(n < MESSAGES);
		str_copy(cur_names[n], de->d_name, sizeof(cur_names[n]));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		buf_init(&cur_data[n], 0);
		CHECK(store_read_file(path, &cur_data[n]) > 0);
		n++;
	}
	closedir(d);
	CHECK(n == MESSAGES);
}

static void restore(void)
{
	char dir[STORE_PATH_MAX], path[STORE_PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/new", inbox);
	empty_dir(dir);
	snprintf(dir, sizeof(dir), "%s/cur", inbox);
	empty_dir(dir);
	for (unsigned i = 0; i < MESSAGES; i++)
		put_file(dir, cur_names[i], cur_data[i].data, cur_data[i].len);
	for (unsigned i = 0; i < N_DAMAGED; i++) {
		snprintf(path, sizeof(path), "%s/%s", inbox, damaged[i]);
		if (present[i])
			put_file(inbox, damaged[i], pristine[i].data, pristine[i].len);
		else
			unlink(path);
	}
}

static void check_folder(void)
{
	struct store *s = store_new(root, "fuzz.example");
	struct store_account *a;
	struct store_mailbox *h;
	struct store_error err;
	struct store_msg m;
	struct buf cached;
	uint32_t last = 0;

	CHECK(store_account_open(s, "alice@example.org", &a, &err) == 1);
	CHECK(store_mailbox_open(a, "INBOX", NULL, NULL, &h, &err) == 1);
	CHECK(store_mailbox_count(h) == MESSAGES);
	buf_init(&cached, 0);
	for (unsigned i = 0; i < MESSAGES; i++) {
		int fd;

		store_mailbox_get(h, i, &m);
		CHECK(m.uid > last);
		last = m.uid;
		CHECK(store_mailbox_open_msg(h, m.uid, &fd, &m, &err) == 1);
		close(fd);
		(void)store_mailbox_cache_get(h, m.uid, 0, &cached);
	}
	for (unsigned i = 0; i < store_mailbox_keyword_count(h); i++)
		(void)store_mailbox_keyword_name(h, i);
	buf_deinit(&cached);
	store_mailbox_close(&h);
	store_account_unref(&a);
	store_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		log_set_level(LOG_LEVEL_ERR);
		make_folder();
		ready = true;
	}
	if (size == 0)
		return 0;
	restore();
	put_file(inbox, damaged[data[0] % N_DAMAGED], data + 1, size - 1);
	check_folder();
	return 0;
}
