# correio - build, test, sanitizer and fuzz targets.
#
#   make          build build/correio
#   make run      install missing build packages, build, serve on built-in defaults
#   make test     install missing test packages, build, run every test (unit + integration)
#   make asan     the whole suite under AddressSanitizer + UBSan
#   make fuzz     every fuzz target for FUZZ_SECONDS each
#   make bench    the SMTP-to-Maildir, IMAP, relay, POP3 and JMAP benchmarks
#   make install  binary, man pages, example configuration, systemd unit
#                 (PREFIX=/usr/local, DESTDIR for a staged tree)
#   make install-links  sendmail, mailq, newaliases links where none is
#   make deb      build/correio_$(VERSION)_ARCH.deb (scripts/mkdeb.sh)

VERSION  := 0.9.0
# "git describe" of the tree built, when it is a git checkout
GIT_VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)

BUILD    ?= build
CC       ?= cc
PYTHON   ?= /usr/bin/python3
FUZZ_SECONDS ?= 30
PKGS     := libevent libevent_pthreads libevent_openssl openssl inih sqlite3 libcrypt \
	libmagic ncursesw \
	libcares libidn2 zlib jansson libunbound
WARN     := -Wall -Wextra -Wformat=2 -Wshadow -Wno-unused-parameter -Werror
CFLAGS   ?= -O2 -g
CPPFLAGS ?=
LDFLAGS  ?=
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(CPPFLAGS) -D_GNU_SOURCE -Isrc \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

ALL_SRC  := $(shell find src -name '*.c' | sort)
TEST_SRC := $(wildcard src/*/test_*.c)
FUZZ_SRC := $(wildcard src/*/fuzz_*.c)
LIB_SRC  := $(filter-out src/cli/main.c $(TEST_SRC) $(FUZZ_SRC),$(ALL_SRC))
# the parsers and what they use: no event loop, no database
FUZZ_LIB := src/lib/buf.c src/lib/util.c src/lib/handoff.c src/lib/encoding.c src/lib/arena.c src/lib/log.c src/auth/sasl.c \
	src/queue/envelope.c src/cli/sendmail_headers.c src/cli/dovecot_files.c \
	src/cli/aliases_file.c src/cli/queue_format.c src/cli/cli_visible.c \
	src/jmap/jmap_core.c src/jmap/jmap_parse.c src/jmap/jmap_websession.c \
	src/dkim/dkim_tags.c src/dkim/dkim_canon.c src/dkim/dkim_verify.c src/spf/spf.c \
	src/dmarc/dmarc.c src/srs/srs.c src/acme/acme_parse.c src/mta/mta_sts.c \
	src/mta/tlsrpt_record.c \
	$(filter-out $(TEST_SRC) $(FUZZ_SRC),$(wildcard src/lib-smtp/*.c \
		src/mime/*.c src/lib-imap/*.c src/store/*.c)) \
	src/client/client_imap_resp.c src/client/client_uu.c \
	src/sieve/sieve_parse.c src/sieve/sieve_run.c src/sieve/sieve_body.c \
	src/managesieve/ms_parse.c
FUZZ_LIBS := -ljansson -lcrypto
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(patsubst src/%.c,$(BUILD)/tests/%,$(TEST_SRC))

.PHONY: all run test unit integration check-banned check-layering asan fuzz bench clean deps install \
	install-links deb FORCE

all: $(BUILD)/correio

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libcorreio.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/correio: $(BUILD)/src/cli/main.o $(BUILD)/libcorreio.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# correio --version: rewritten only when the version text changes
$(BUILD)/version.h: FORCE
	@mkdir -p $(BUILD)
	@printf '#define CORREIO_VERSION "%s"\n#define CORREIO_GIT_VERSION "%s"\n' \
		'$(VERSION)' '$(GIT_VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/src/cli/main.o: $(BUILD)/version.h
$(BUILD)/src/cli/main.o: ALL_CFLAGS += -I$(BUILD)

$(BUILD)/tests/%: $(BUILD)/src/%.o $(BUILD)/libcorreio.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

deps:
	./scripts/deps.sh

run:
	@./scripts/deps.sh --run
	$(MAKE) all
	./$(BUILD)/correio serve

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

integration: $(BUILD)/correio
	CORREIO_BIN=$(abspath $(BUILD)/correio) $(PYTHON) -m pytest -q tests

check-banned:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok)\s*\(' $(ALL_SRC) bench/*.c \
		|| (echo "banned function used (see STYLE.md)"; exit 1)
	@! grep -nE '^#\s*include\s*"server/' $(filter-out src/server/% src/cli/%,$(ALL_SRC) \
		$(wildcard src/*/*.h)) \
		|| (echo "only src/server and src/cli may include server/ (see README, Layout)"; exit 1)

# the queue, accounts, greylisting and mailboxes stay behind their headers
# (README, "Backends"): scripts/check-layering.sh says what it checks
check-layering:
	@sh scripts/check-layering.sh

# the packages first (a fresh machine has none), then a make that sees them
test:
	@./scripts/deps.sh --if-missing
	$(MAKE) all check-banned check-layering unit integration

asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" test

FUZZ_CFLAGS := -std=gnu11 -O1 -g -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined
# the parsers are compiled once for every target, instrumented but without
# libFuzzer's main; each target links what it uses from one archive
FUZZ_OBJ := $(FUZZ_LIB:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_BIN := $(patsubst src/%.c,$(BUILD)/fuzz/bin/%,$(FUZZ_SRC))

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(subst fuzzer,fuzzer-no-link,$(FUZZ_CFLAGS)) -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/libfuzzparsers.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/bin/%: src/%.c $(BUILD)/fuzz/libfuzzparsers.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(BUILD)/fuzz/libfuzzparsers.a $(FUZZ_LIBS)

fuzz: $(FUZZ_BIN)
	@set -e; for bin in $(FUZZ_BIN); do \
		name=$$(basename $$bin); name=$${name#fuzz_}; \
		echo "== fuzz $$name ($(FUZZ_SECONDS) s)"; \
		mkdir -p $(BUILD)/fuzz/corpus-$$name $(BUILD)/fuzz/tmp; \
		TMPDIR=$(CURDIR)/$(BUILD)/fuzz/tmp $$bin -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
			-print_final_stats=1 $(BUILD)/fuzz/corpus-$$name fuzz/$$name \
			> $(BUILD)/fuzz/$$name.log 2>&1 || { tail -n 60 $(BUILD)/fuzz/$$name.log; exit 1; }; \
		grep -E '^(Done|stat::number_of_executed_units)' $(BUILD)/fuzz/$$name.log || true; \
	done

bench: $(BUILD)/correio $(BUILD)/smtp-load $(BUILD)/smtp-sink $(BUILD)/pop3-load
	$(PYTHON) bench/smtp_bench.py --bin $(BUILD)/correio --load $(BUILD)/smtp-load
	$(PYTHON) bench/imap_bench.py --bin $(BUILD)/correio
	$(PYTHON) bench/relay_bench.py --bin $(BUILD)/correio --load $(BUILD)/smtp-load \
		--sink $(BUILD)/smtp-sink
	$(PYTHON) bench/pop3_bench.py --bin $(BUILD)/correio --load $(BUILD)/pop3-load
	$(PYTHON) bench/jmap_bench.py --bin $(BUILD)/correio

$(BUILD)/smtp-sink: bench/smtp_sink.c
	$(CC) -std=gnu11 -O2 $(WARN) -o $@ $< -lpthread

$(BUILD)/smtp-load: bench/smtp_load.c
	$(CC) -std=gnu11 -O2 $(WARN) -o $@ $< -lpthread

$(BUILD)/pop3-load: bench/pop3_load.c
	$(CC) -std=gnu11 -O2 $(WARN) -o $@ $< -lpthread

# ---- install and package ----
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
WEBDIR     ?= $(PREFIX)/share/correio/web
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=

# where the server finds the webmail's files: installed, else this tree's
$(BUILD)/src/jmap/jmap_web.o: ALL_CFLAGS += -DCORREIO_WEB_SHARE='"$(WEBDIR)"' \
	-DCORREIO_WEB_SOURCE='"$(CURDIR)/web"'

# /usr/sbin/sendmail, mailq and newaliases are left alone: the Debian package
# offers them through update-alternatives, by hand `make install-links`.
install: $(BUILD)/correio
	install -D -m 0755 $(BUILD)/correio $(DESTDIR)$(SBINDIR)/correio
	install -D -m 0644 doc/correio.8 $(DESTDIR)$(MANDIR)/man8/correio.8
	install -D -m 0644 doc/correio.conf.5 $(DESTDIR)$(MANDIR)/man5/correio.conf.5
	install -d -m 0755 $(DESTDIR)$(WEBDIR)
	install -m 0644 web/*.html web/*.js web/*.css web/*.svg $(DESTDIR)$(WEBDIR)/
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		etc/correio.service.in > $(DESTDIR)$(UNITDIR)/correio.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/correio.service
	install -D -m 0644 etc/correio.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/correio
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/correio/correio.conf ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/correio/correio.conf"; \
	else \
		echo "install -D -m 0644 etc/correio.conf $(DESTDIR)$(SYSCONFDIR)/correio/correio.conf"; \
		install -D -m 0644 etc/correio.conf $(DESTDIR)$(SYSCONFDIR)/correio/correio.conf; \
	fi

# sendmail, mailq and newaliases as links to correio (argv[0] chooses the
# command), offered and never forced: a name that is already taken (another
# mail server's) is kept.  The Debian package offers them through
# update-alternatives instead.
MAIL_LINKS ?= /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases
install-links:
	@for l in $(MAIL_LINKS); do \
		if [ -e "$(DESTDIR)$$l" ] || [ -L "$(DESTDIR)$$l" ]; then \
			echo "install-links: keeping $(DESTDIR)$$l"; \
		else \
			install -d -m 0755 "$$(dirname "$(DESTDIR)$$l")"; \
			ln -s "$(SBINDIR)/correio" "$(DESTDIR)$$l"; \
			echo "install-links: $(DESTDIR)$$l -> $(SBINDIR)/correio"; \
		fi; \
	done

deb:
	./scripts/mkdeb.sh $(VERSION)

clean:
	rm -rf build build-asan build-deb

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
