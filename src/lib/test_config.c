/*
 * test_config.c - the configuration table: defaults, every type of value,
 * errors with file and line, all errors reported at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/util.h"

static char path[64];

static void write_file(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/correio-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int load(struct config *cfg, const char *text, struct buf *errors)
{
	int ret;

	config_defaults(cfg);
	buf_init(errors, 0);
	write_file(text);
	ret = config_load(cfg, path, errors);
	unlink(path);
	return ret;
}

static void test_defaults(void **state)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_string_equal(cfg.data_dir, "./correio-data");
	assert_string_equal(cfg.local_domains, "localhost");
	assert_true(cfg.message_size == 25u * 1024 * 1024);
	assert_true(cfg.idle_timeout == 300);
	assert_int_equal(cfg.mailbox_format, CONFIG_MAILBOX_MAILDIR);
	assert_true(strstr(cfg.listen[CONFIG_LISTEN_SMTP], "127.0.0.1:") != NULL);
}

static void test_values(void **state)
{
	struct config cfg;
	struct buf errors;

	assert_int_equal(load(&cfg,
		"; comment\n[server]\nhostname = mx.example.org\n"
		"local_domains = Example.ORG, example.net\n"
		"[listen]\nsmtp = 127.0.0.1:2626, [::1]:2627\n"
		"[limits]\nmessage_size = 10M\nidle_timeout = 2m\ncommand_timeout = 1h\n"
		"recipients = 7\n[delivery]\nmailbox_format = mbox\nrecipient_delimiter = -+\n",
		&errors), 1);
	assert_string_equal(cfg.hostname, "mx.example.org");
	assert_true(config_is_local_domain(&cfg, "example.org"));
	assert_true(config_is_local_domain(&cfg, "EXAMPLE.NET"));
	assert_false(config_is_local_domain(&cfg, "example.com"));
	assert_false(config_is_local_domain(&cfg, "example"));
	assert_true(cfg.message_size == 10u * 1024 * 1024);
	assert_true(cfg.idle_timeout == 120);
	assert_true(cfg.command_timeout == 3600);
	assert_true(cfg.max_recipients == 7);
	assert_int_equal(cfg.mailbox_format, CONFIG_MAILBOX_MBOX);
	assert_string_equal(cfg.recipient_delimiter, "-+");
	buf_deinit(&errors);
}

static void test_errors_have_file_and_line(void **state)
{
	struct config cfg;
	struct buf errors;
	char want[128];

	assert_int_equal(load(&cfg,
		"[server]\nhostname = a\nbogus = 1\n[limits]\nmessage_size = lots\n"
		"recipients = 0\nidle_timeout = 5x\n[listen]\nsmtp = nowhere\n"
		"[delivery]\nmailbox_format = mh\n", &errors), -1);
	snprintf(want, sizeof(want), "%s:3: unknown setting 'bogus'", path);
	assert_non_null(strstr(errors.data, want));
	snprintf(want, sizeof(want), "%s:5: message_size = lots", path);
	assert_non_null(strstr(errors.data, want));
	snprintf(want, sizeof(want), "%s:6: recipients = 0: value out of range", path);
	assert_non_null(strstr(errors.data, want));
	snprintf(want, sizeof(want), "%s:7: idle_timeout", path);
	assert_non_null(strstr(errors.data, want));
	snprintf(want, sizeof(want), "%s:9: smtp = nowhere", path);
	assert_non_null(strstr(errors.data, want));
	snprintf(want, sizeof(want), "%s:11: mailbox_format = mh: unknown value", path);
	assert_non_null(strstr(errors.data, want));
	buf_deinit(&errors);
}

/* [server] postmaster: empty (the default) or one plain address. */
static void test_postmaster(void **state)
{
	static const struct { const char *value; int ok; const char *stored; } cases[] = {
		{ "", 1, "" },
		{ "Admin@Example.ORG", 1, "Admin@example.org" },
		{ "root@[192.0.2.1]", 1, "root@[192.0.2.1]" },
		{ "admin", -1, NULL },
		{ "@example.org", -1, NULL },
		{ "admin@", -1, NULL },
		{ "a b@example.org", -1, NULL },
		{ "<admin@example.org>", -1, NULL },
		{ "a@example.org, b@example.org", -1, NULL },
	};
	struct config cfg;
	struct buf errors;
	char text[128];

	config_defaults(&cfg);
	assert_string_equal(cfg.postmaster, "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[server]\npostmaster = %s\n", cases[i].value);
		assert_int_equal(load(&cfg, text, &errors), cases[i].ok);
		if (cases[i].ok > 0)
			assert_string_equal(cfg.postmaster, cases[i].stored);
		else
			assert_non_null(strstr(errors.data, "expected an address"));
		buf_deinit(&errors);
	}
}

/* The text config_print() gives for "key = " in [section]. */
static void printed(const struct config *cfg, const char *key, char *out, size_t size)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char want[64];

	config_print(cfg, f);
	fclose(f);
	snprintf(want, sizeof(want), "\n%s = ", key);
	p = strstr(text, want);
	assert_non_null(p);
	p += strlen(want);
	snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
	free(text);
}

/* Sizes and durations print as written; defaults in the largest whole unit. */
static void test_print_as_written(void **state)
{
	static const struct { const char *key, *want; } cases[] = {
		{ "message_size", "2048k" }, { "idle_timeout", "300s" },
		{ "retry_interval", "90m" }, { "give_up", "7" },
		{ "disk_reserve", "100M" }, { "command_timeout", "10m" },
		{ "max_retry_interval", "4h" }, { "warn_after", "4h" },
		{ "failure_delay", "1s" }, { "recipients", "1000" },
	};
	struct config cfg;
	struct buf errors;
	char text[64];

	assert_int_equal(load(&cfg, "[limits]\nmessage_size = 2048k\nidle_timeout = 300s\n"
				    "[queue]\nretry_interval = 90m\ngive_up = 7\n", &errors), 1);
	assert_true(cfg.message_size == 2u * 1024 * 1024 && cfg.idle_timeout == 300);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printed(&cfg, cases[i].key, text, sizeof(text));
		assert_string_equal(text, cases[i].want);
	}
	buf_deinit(&errors);
	config_defaults(&cfg);
	cfg.idle_timeout = 90;		/* set by a program: no written text */
	printed(&cfg, "idle_timeout", text, sizeof(text));
	assert_string_equal(text, "90s");
}

/* trusted_networks and debug_peers are parsed when the file is loaded:
   the check per RCPT or per connection matches the parsed blocks, and
   gives the same answers as the text list. */
static void test_networks_parsed_at_load(void **state)
{
	static const struct {
		const char *addr;
		bool trusted, debug;
	} cases[] = {
		{ "192.0.2.1", true, false },
		{ "192.0.2.255", true, false },
		{ "192.0.3.1", false, false },
		{ "198.51.100.77", true, true },
		{ "198.51.100.78", false, true },
		{ "10.1.2.3", true, false },
		{ "11.255.0.1", true, false },
		{ "12.0.0.1", false, false },
		{ "2001:db8::1", true, false },
		{ "2001:db9::1", false, false },
		{ "::1", false, true },
		{ "::2", false, false },
		{ "not an address", false, false },
		{ "", false, false },
	};
	struct config cfg;
	struct buf errors;

	assert_int_equal(load(&cfg, "[relay]\ntrusted_networks = 192.0.2.0/24,"
				    " 198.51.100.77 10.0.0.0/7\t2001:db8::/32\n"
				    "[server]\ndebug_peers = ::1, 198.51.100.76/30\n",
			      &errors), 1);
	assert_int_equal(cfg.trusted_nets.n, 4);
	assert_int_equal(cfg.debug_nets.n, 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(config_networks_match(&cfg.trusted_nets, cases[i].addr),
				 cases[i].trusted);
		assert_int_equal(config_in_networks(cfg.trusted_networks, cases[i].addr),
				 cases[i].trusted);
		assert_int_equal(config_networks_match(&cfg.debug_nets, cases[i].addr),
				 cases[i].debug);
	}
	buf_deinit(&errors);
	/* the defaults: empty lists that match nothing */
	config_defaults(&cfg);
	assert_int_equal(cfg.trusted_nets.n, 0);
	assert_false(config_networks_match(&cfg.trusted_nets, "127.0.0.1"));
}

/* [server] log: stderr, syslog or an absolute path; log_level; debug_peers. */
static void test_log_settings(void **state)
{
	struct config cfg;
	struct buf errors;

	assert_int_equal(load(&cfg, "[server]\nlog = /var/log/correio/mail.log\n"
				    "log_level = debug\ndebug_peers = 192.0.2.0/24, ::1\n",
			      &errors), 1);
	assert_string_equal(cfg.log, "/var/log/correio/mail.log");
	assert_int_equal(cfg.log_level, CONFIG_LOG_DEBUG);
	assert_true(config_in_networks(cfg.debug_peers, "192.0.2.7"));
	buf_deinit(&errors);
	assert_int_equal(load(&cfg, "[server]\nlog = mail.log\nlog_level = loud\n"
				    "debug_peers = somewhere\n", &errors), -1);
	assert_non_null(strstr(errors.data, "log = mail.log: expected stderr, syslog or the "
					    "absolute path of a file"));
	assert_non_null(strstr(errors.data, "log_level = loud: unknown value"));
	assert_non_null(strstr(errors.data, "debug_peers = somewhere"));
	buf_deinit(&errors);
	config_defaults(&cfg);
	assert_string_equal(cfg.log, "stderr");
	assert_int_equal(cfg.log_level, CONFIG_LOG_INFO);
}

static void test_syntax_error(void **state)
{
	struct config cfg;
	struct buf errors;
	char want[128];

	assert_int_equal(load(&cfg, "[server]\nhostname = a\nthis line has no equals\n",
			      &errors), -1);
	snprintf(want, sizeof(want), "%s:3: syntax error", path);
	assert_non_null(strstr(errors.data, want));
	buf_deinit(&errors);
}

static void test_missing_file(void **state)
{
	struct config cfg;
	struct buf errors;

	config_defaults(&cfg);
	buf_init(&errors, 0);
	assert_int_equal(config_load(&cfg, "/nonexistent/correio.conf", &errors), -1);
	assert_non_null(strstr(errors.data, "cannot open"));
	buf_deinit(&errors);
}

static void test_print_roundtrip(void **state)
{
	struct config cfg, again;
	struct buf errors;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	config_defaults(&cfg);
	cfg.message_size = 12345;
	config_print(&cfg, f);
	fclose(f);
	assert_int_equal(load(&again, text, &errors), 1);
	assert_true(again.message_size == 12345);
	assert_string_equal(again.hostname, cfg.hostname);
	free(text);
	buf_deinit(&errors);
}

static void note_restart(void *ctx, const char *section, const char *key)
{
	struct buf *names = ctx;

	buf_printf(names, "[%s] %s;", section, key);
}

/* SIGHUP: the settings only a restart applies are named and kept; the
   others come from the new file. */
static void test_reload_keeps_and_names_restart_settings(void **state)
{
	struct config cur, next;
	struct buf names;

	config_defaults(&cur);
	config_defaults(&next);
	str_copy(next.listen[CONFIG_LISTEN_IMAP], "127.0.0.1:1431", sizeof(next.listen[0]));
	str_copy(next.data_dir, "/elsewhere", sizeof(next.data_dir));
	str_copy(next.user, "nobody", sizeof(next.user));
	next.auth_threads = 7;
	str_copy(next.dns_servers, "127.0.0.1:5353", sizeof(next.dns_servers));
	next.message_size = 1234567;
	next.auth_plaintext_loopback = false;
	buf_init(&names, 0);
	assert_int_equal(config_reload(&next, &cur, note_restart, &names), 4);
	assert_string_equal(buf_cstr(&names), "[server] data_dir;[server] user;"
			    "[listen] imap;[auth] threads;");
	assert_string_equal(next.listen[CONFIG_LISTEN_IMAP], cur.listen[CONFIG_LISTEN_IMAP]);
	assert_string_equal(next.data_dir, cur.data_dir);
	assert_string_equal(next.user, cur.user);
	assert_int_equal(next.auth_threads, cur.auth_threads);
	assert_string_equal(next.dns_servers, "127.0.0.1:5353");
	assert_int_equal(next.message_size, 1234567);
	assert_false(next.auth_plaintext_loopback);
	/* nothing changed: nothing named */
	buf_reset(&names);
	assert_int_equal(config_reload(&next, &cur, note_restart, &names), 0);
	assert_int_equal(names.len, 0);
	buf_deinit(&names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors_have_file_and_line),
		cmocka_unit_test(test_postmaster),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_print_as_written),
		cmocka_unit_test(test_log_settings),
		cmocka_unit_test(test_networks_parsed_at_load),
		cmocka_unit_test(test_reload_keeps_and_names_restart_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
