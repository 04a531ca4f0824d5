#!/bin/sh
# check-layering.sh - keeps the queue, the account store, greylisting and
# the mailboxes behind their interfaces (README, "Backends"), so that a
# second backend can be added behind those headers without touching the
# protocols or the relay.  Run by `make check-layering` (part of `make
# test`) from the top of the tree; prints each offending line, exits 1.
#
#  1. SQLite is the account store's and greylisting's business: sqlite3.h
#     is included only by their modules and unit tests.
#  2. A component's private header (*_private.h, *_int.h) is included only
#     inside its own folder.
#  3. The spool's file layout (queue_text_path, queue_dir_fd) is for local
#     delivery only, which files mail by hard link; everybody else reads a
#     queued message with queue_text_open/queue_text_read.
#  4. The protocols and the relay build no path into the data directory's
#     queue, mailboxes, account or greylisting files, and do not ask where
#     a mailbox lives (store_mailbox_path, delivery_mailbox_path).
set -u

PROTOCOLS="src/smtpd src/pop3d src/imapd src/managesieve src/jmap src/mta"
SQLITE_OK="src/auth/accounts.c src/auth/test_accounts.c src/greylist/greylist.c \
src/greylist/test_greylist.c"
status=0

fail() {
	echo "check-layering: $1" >&2
	status=1
}

# 1. sqlite3.h
for f in $(grep -rlE '#[[:space:]]*include[[:space:]]*<sqlite3\.h>' src bench); do
	case " $SQLITE_OK " in
	*" $f "*) ;;
	*) fail "$f includes sqlite3.h (only the account and greylisting backends may)" ;;
	esac
done

# 2. another component's private header
grep -rnE '#[[:space:]]*include[[:space:]]*"[^"]*_(private|int)\.h"' src | {
	bad=0
	while IFS=: read -r file line text; do
		header=$(printf '%s\n' "$text" | sed -E 's/.*include[[:space:]]*"([^"]*)".*/\1/')
		case "$header" in
		*/*) owner=src/${header%/*} ;;
		*) owner=$(dirname "$file") ;;	# "x_private.h": the file's own folder
		esac
		if [ "$owner" != "$(dirname "$file")" ]; then
			echo "check-layering: $file:$line includes $header, private to $owner" >&2
			bad=1
		fi
	done
	exit $bad
} || status=1

# 3. the spool's layout
for hit in $(grep -rnE '\b(queue_text_path|queue_dir_fd)[[:space:]]*\(' src \
		--include='*.c' | grep -vE '^src/(queue|delivery)/' | cut -d: -f1,2); do
	fail "$hit uses the spool's file layout (read with queue_text_open/queue_text_read)"
done

# 4. paths into the data directory from the protocols and the relay
for hit in $(grep -rnE '"%s/(queue|mail|mbox|accounts\.db|greylist\.db)\b|\b(store_mailbox_path|delivery_mailbox_path)[[:space:]]*\(' \
		$PROTOCOLS --include='*.c' | cut -d: -f1,2); do
	fail "$hit builds a path into the data directory (go through queue.h, store.h, accounts.h)"
done

exit $status
