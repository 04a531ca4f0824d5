/*
 * test_xalloc.c - the allocation wrappers of util.h: what they return, and
 * that a request that cannot be met aborts the process (run in a child).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/util.h"

static void test_xmalloc_and_xcalloc(void **state)
{
	unsigned char *p = xmalloc(100), *z = xcalloc(10, 10);

	memset(p, 0xaa, 100);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(z[i], 0);
	free(p);
	free(z);
	/* a zero-sized request is still a pointer to free */
	p = xmalloc(0);
	z = xcalloc(0, 8);
	assert_non_null(p);
	assert_non_null(z);
	free(p);
	free(z);
}

static void test_xrealloc_keeps_content(void **state)
{
	char *p = xmalloc(4);

	memcpy(p, "abc", 4);
	p = xrealloc(p, 1 << 20);
	assert_string_equal(p, "abc");
	p = xreallocarray(p, 3, 1000);
	assert_string_equal(p, "abc");
	free(p);
}

static void test_xstrdup(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{ "", 0, "" },
		{ "mail", 10, "mail" },
		{ "mailbox", 4, "mail" },
		{ "a\0b", 3, "a" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = xstrndup(cases[i].in, cases[i].n);
		assert_string_equal(d, cases[i].want);
		free(d);
	}
	char *d = xstrdup("postmaster@example.org");
	assert_string_equal(d, "postmaster@example.org");
	free(d);
}

/* Under the sanitizer build, let an impossible request fail as it does
   without it (NULL) instead of ending in the sanitizer's own report, so
   that the wrappers' handling is what is tested. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

/* Run f in a child; true if it logged the failure and died of SIGABRT. */
static bool aborts(void (*f)(void))
{
	int status, fds[2];
	char out[512];
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &core);
		dup2(fds[1], 2);
		close(fds[0]);
		f();
		_exit(0);
	}
	close(fds[1]);
	/* to the end: the sanitizer's warning may come in a write of its own */
	for (size_t len = 0;; len += (size_t)n) {
		n = read(fds[0], out + len, sizeof(out) - 1 - len);
		if (n <= 0) {
			out[len] = '\0';
			break;
		}
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
		strstr(out, "out of memory") != NULL;
}

static void huge_malloc(void)
{
	free(xmalloc(SIZE_MAX - 16));
}

static void overflowing_calloc(void)
{
	free(xcalloc(SIZE_MAX / 2, 4));
}

static void overflowing_reallocarray(void)
{
	free(xreallocarray(NULL, SIZE_MAX / 2, 4));
}

static void test_failure_aborts(void **state)
{
	assert_true(aborts(huge_malloc));
	assert_true(aborts(overflowing_calloc));
	assert_true(aborts(overflowing_reallocarray));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xmalloc_and_xcalloc),
		cmocka_unit_test(test_xrealloc_keeps_content),
		cmocka_unit_test(test_xstrdup),
		cmocka_unit_test(test_failure_aborts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
