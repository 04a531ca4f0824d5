#!/bin/sh
# Install the Debian packages correio needs to build, test and fuzz, and the
# system user it runs as.  Idempotent.  --if-missing: do nothing when every
# package is already there (used by `make test`); --run: only what building
# and running correio needs, when missing (used by `make run`).
set -eu

# The install skips recommended packages, so everything the tests use is
# named here, including what a client needs only for TLS:
#   build:  compiler, pkg-config, the libraries, cmocka (unit tests)
#   fuzz:   clang and its libFuzzer runtime
#   tests:  openssl (test certificates), python3 with pytest and aiosmtpd,
#           swaks and Net::SSLeay (its only way to STARTTLS / TLS; a
#           recommendation of swaks), dnsmasq (the relay tests' DNS),
#           mbsync (isync), mutt, curl and fetchmail as real clients,
#           Dovecot (IMAP, POP3) and tmux for the tests of `correio mail`,
#           prometheus_client's parser for the metrics endpoint,
#           python3-dkim (with python3-nacl for ed25519) to check
#           correio's DKIM signatures and sign test mail, python3-spf to
#           compare SPF results, publicsuffix (DMARC organizational domains),
#           opendkim-tools (opendkim-testmsg, a second DKIM verifier),
#           chromium (the webmail tests' browser, driven headless by
#           playwright-core from npm, installed below with `npm ci`),
#           python3-milter (libmilter's binding: the mail filter of the
#           milter tests), pebble (the ACME test CA of the ACME tests)
#           and rspamd (run privately through its milter proxy; its
#           system service is never started: policy-rc.d below),
#           postfix (the peer MTA a DKIM-signed message passes through, a
#           private instance with its own config and queue directories;
#           the system's Postfix is never started: policy-rc.d below),
#           unbound and ldnsutils (a DNSSEC-signed zone served on loopback
#           for the DANE tests; unbound's service is never started either),
#           strace (the durability tests watch the server's flushes)
#   client: libmagic (attachment types), ncurses (the full-screen view)
#   package: lintian (checks the .deb of `make deb`; large, but the only
#           judge of a Debian package) and systemd for systemd-analyze
#           verify of the unit (installed, never started), logrotate (-d
#           checks the shipped rotation); dpkg-dev comes with build-essential
RUN_PACKAGES="build-essential pkg-config
libevent-dev libssl-dev libc-ares-dev libidn2-dev libinih-dev libsqlite3-dev libcrypt-dev
zlib1g-dev libmagic-dev libncurses-dev libjansson-dev libunbound-dev
openssl publicsuffix"
PACKAGES="$RUN_PACKAGES clang libclang-rt-14-dev libcmocka-dev
python3 python3-pytest python3-aiosmtpd swaks libnet-ssleay-perl dnsmasq-base
isync mutt curl fetchmail
dovecot-imapd dovecot-pop3d dovecot-sieve sieve-connect tmux python3-prometheus-client
lintian systemd logrotate
python3-dkim python3-dnspython python3-nacl python3-spf opendkim-tools
python3-milter pebble rspamd postfix
unbound ldnsutils chromium strace"

# Node runs the JMAP client-library test (jmap-jam, tests/js) and the
# webmail's browser test (playwright-core): Debian's
# nodejs and npm, unless a node is already there.
if ! command -v node >/dev/null 2>&1; then
	PACKAGES="$PACKAGES nodejs npm"
fi
if [ "${1:-}" = "--run" ]; then
	PACKAGES=$RUN_PACKAGES
fi
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages:$missing" >&2
		echo "deps: run as root: apt-get install -y$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q || echo "deps: apt-get update failed; trying the install anyway" >&2
	# Installing dovecot-core would start the system's Dovecot service;
	# the tests run private instances only, so forbid service starts for
	# the duration of the install (policy-rc.d exit 101), unless the
	# machine already has a policy of its own.
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
	if [ -n "$policy" ]; then
		rm -f "$policy"
		trap - EXIT
	fi
elif [ -z "${1:-}" ]; then
	echo "deps: all packages present"
fi

# The Node packages of the tests (tests/js/package-lock.json), when
# node_modules is missing or older than the lock file.
js="$(dirname "$0")/../tests/js"
if [ "${1:-}" != "--run" ] && [ -f "$js/package-lock.json" ] &&
	{ [ ! -f "$js/node_modules/.package-lock.json" ] ||
	  [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; }; then
	(cd "$js" && npm ci --no-audit --no-fund)
fi

# The account correio switches to when started as root.
if [ "$(id -u)" -eq 0 ] && ! getent passwd correio >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin correio
fi
