"""The account store as a running server sees it: every `correio user|alias|
domain` command takes effect at the server's very next SMTP RCPT, IMAP and
POP3 login and SMTP AUTH, under load, without corrupting the database; one
server per data directory; aliases that cannot hijack an account or loop."""

import imaplib
import os
import poplib
import smtplib
import sqlite3
import threading
import time

import pytest

from correio_harness import Server, running_server, send_mail

ALICE = "alice@example.org"
LIVE_CONFIG = "\n[auth]\nplaintext_on_loopback = yes\nmax_failures = 1000\n"


@pytest.fixture
def live():
    """A running server with alice, plaintext logins allowed on loopback and
    a failure limit high enough for tests that try wrong passwords."""
    s = Server(extra_config=LIVE_CONFIG)
    try:
        s.add_user(ALICE, "alicepw")
        s.start()
        yield s
    finally:
        s.cleanup()


# ---- what the server says about an account, by protocol ----

def rcpt(server, address):
    with server.ehlo_client() as c:
        r = c.cmd("MAIL FROM:<someone@example.net>")
        assert r.startswith("250 "), r
        reply = c.cmd(f"RCPT TO:<{address}>")
        c.cmd("QUIT")
    return reply


def imap_login(server, user, password):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    try:
        c.login(user, password)
        c.logout()
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        try:
            c.shutdown()
        except OSError:
            pass


def pop3_login(server, user, password):
    c = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
    try:
        c.user(user)
        c.pass_(password)
        c.quit()
        return True
    except poplib.error_proto:
        return False
    finally:
        c.close()


def smtp_auth(server, user, password):
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10) as c:
        c.ehlo("client.test")
        try:
            c.login(user, password)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


def logins(server, user, password):
    """(IMAP, POP3, SMTP AUTH) outcomes for one user and password."""
    return (imap_login(server, user, password), pop3_login(server, user, password),
            smtp_auth(server, user, password))


def wal_deleted(server):
    """Files of the account store the server holds open after they were
    deleted (a WAL another process checkpointed away under it)."""
    fd_dir = f"/proc/{server.pid}/fd"
    held = []
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if "accounts.db" in target and target.endswith("(deleted)"):
            held.append(target)
    return held


class Load(threading.Thread):
    """Light SMTP and IMAP traffic as alice while the test changes accounts."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.errors = []
        self.rounds = 0

    def run(self):
        while not self.stop.is_set():
            try:
                send_mail(self.server, "load@example.net", [ALICE],
                          f"Subject: load {self.rounds}\r\n\r\nx\r\n")
                if not imap_login(self.server, ALICE, "alicepw"):
                    self.errors.append("alice could not log in")
                self.rounds += 1
            except Exception as e:      # noqa: BLE001: reported by the test
                self.errors.append(repr(e))
            self.stop.wait(0.05)


def test_account_changes_reach_running_server(live):
    s = live
    load = Load(s)
    load.start()
    try:
        for i in range(5):
            user, alias, domain = f"u{i}@example.org", f"a{i}@example.org", f"d{i}.test"
            s.cli("user", "list")           # a read-only command too
            assert rcpt(s, user).startswith("550 5.1.1 ")
            s.add_user(user, f"old{i}")
            assert rcpt(s, user).startswith("250 "), (i, "user add")
            assert logins(s, user, f"old{i}") == (True, True, True), (i, "user add")

            s.cli("user", "passwd", user, "--password-stdin", stdin=f"new{i}\n")
            assert logins(s, user, f"old{i}") == (False, False, False), (i, "old password")
            assert logins(s, user, f"new{i}") == (True, True, True), (i, "new password")

            s.cli("alias", "add", alias, user)
            assert rcpt(s, alias).startswith("250 "), (i, "alias add")
            s.cli("alias", "list")
            s.cli("alias", "del", alias)
            assert rcpt(s, alias).startswith("550 5.1.1 "), (i, "alias del")

            assert rcpt(s, f"x@{domain}").startswith("554 5.7.1 "), (i, "not local yet")
            s.cli("domain", "add", domain)
            assert rcpt(s, f"x@{domain}").startswith("550 5.1.1 "), (i, "domain add")
            s.cli("domain", "list")
            s.cli("domain", "del", domain)
            assert rcpt(s, f"x@{domain}").startswith("554 5.7.1 "), (i, "domain del")

            s.cli("user", "del", user)
            assert rcpt(s, user).startswith("550 5.1.1 "), (i, "user del")
            assert logins(s, user, f"new{i}") == (False, False, False), (i, "user del")
            assert wal_deleted(s) == [], i
    finally:
        load.stop.set()
        load.join(30)
    assert load.errors == []
    assert load.rounds > 0
    assert s.stop() == 0
    db = sqlite3.connect(os.path.join(s.data, "accounts.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        users = [r[0] for r in db.execute("SELECT address FROM users")]
    finally:
        db.close()
    assert users == [ALICE]


# ---- aliases that cannot hijack an account or loop ----

BOB = "bob@example.org"


@pytest.fixture
def pair():
    """A running server with alice and bob."""
    yield from running_server(ALICE, BOB)


def test_alias_over_account_needs_force(pair):
    s = pair
    r = s.cli("alias", "add", ALICE, BOB, check=False)
    assert r.returncode == 1
    assert f"{ALICE} is an account" in r.stderr and "--force" in r.stderr, r.stderr
    assert s.cli("alias", "list").stdout == ""
    send_mail(s, "a@example.net", [ALICE], "Subject: still alice's\r\n\r\nx\r\n")
    s.wait_messages(ALICE, 1)

    r = s.cli("alias", "add", "--force", ALICE, BOB)
    assert "warning" in r.stderr and f"{ALICE} is an account" in r.stderr, r.stderr
    assert s.cli("alias", "list").stdout == f"{ALICE} -> {BOB}\n"
    send_mail(s, "a@example.net", [ALICE], "Subject: now bob's\r\n\r\nx\r\n")
    s.wait_messages(BOB, 1)
    s.wait_queue_empty()
    assert len(s.messages(ALICE)) == 1


def test_alias_listing_itself_keeps_a_copy(pair):
    s = pair
    s.cli("alias", "add", "--force", ALICE, ALICE, BOB)
    send_mail(s, "a@example.net", [ALICE], "Subject: both\r\n\r\nx\r\n")
    s.wait_messages(ALICE, 1)
    s.wait_messages(BOB, 1)
    assert "alias loop" not in s.read_log()


@pytest.mark.parametrize("existing,alias,targets,chain", [
    ([], "a@example.org", ["a@example.org"], "a@example.org -> a@example.org"),
    ([("a@example.org", "b@example.org")], "b@example.org", ["a@example.org"],
     "b@example.org -> a@example.org -> b@example.org"),
    ([("a@example.org", "b@example.org"), ("b@example.org", "c@example.org")],
     "c@example.org", [BOB, "A@Example.org"],
     "c@example.org -> a@example.org -> b@example.org -> c@example.org"),
    ([], "@example.org", ["nobody@example.org"],
     "@example.org -> nobody@example.org -> @example.org"),
    ([], "d@example.org", ["d+x@example.org"], "d@example.org -> d+x@example.org"),
])
def test_alias_loop_refused(pair, existing, alias, targets, chain):
    s = pair
    for a, t in existing:
        s.cli("alias", "add", a, t)
    before = s.cli("alias", "list").stdout
    r = s.cli("alias", "add", alias, *targets, check=False)
    assert r.returncode == 1
    assert f"alias loop: {chain}" in r.stderr, r.stderr
    assert s.cli("alias", "list").stdout == before


def test_alias_chain_without_loop_accepted(pair):
    s = pair
    s.cli("alias", "add", "a@example.org", "b@example.org", "c@example.org")
    s.cli("alias", "add", "b@example.org", "c@example.org", ALICE)
    s.cli("alias", "add", "c@example.org", BOB, "someone@example.net")
    s.cli("alias", "add", "postmaster@example.org", ALICE)
    s.cli("alias", "add", "@example.org", "postmaster@example.org")
    send_mail(s, "a@example.net", ["a@example.org"], "Subject: tree\r\n\r\nx\r\n")
    s.wait_messages(ALICE, 1)
    s.wait_messages(BOB, 1)
    send_mail(s, "a@example.net", ["unknown@example.org"], "Subject: catch-all\r\n\r\nx\r\n")
    s.wait_messages(ALICE, 2)
    assert "alias loop" not in s.read_log()


def test_alias_loop_answered_at_rcpt_and_delivery(pair):
    s = pair
    s.cli("alias", "add", "a@example.org", "b@example.org")
    r = s.cli("alias", "add", "--force", "b@example.org", "a@example.org")
    assert "warning: alias loop: b@example.org -> a@example.org -> b@example.org" in r.stderr
    with s.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<x@example.net>").startswith("250 ")
        r = c.cmd("RCPT TO:<a@example.org>")
        assert r.startswith("550 5.4.6 ") and "alias loop" in r, r
        assert c.cmd(f"RCPT TO:<{BOB}>").startswith("250 ")
    s.wait_log(r"reject: RCPT to <a@example\.org>: alias loop")
    s.wait_log(r"alias loop: a@example\.org -> b@example\.org -> a@example\.org")

    # a loop that arises between RCPT and delivery: the message follows
    # what RCPT resolved (resolve once, issue 11), the next RCPT is refused
    s.cli("alias", "add", "c@example.org", "d@example.org")
    s.cli("alias", "add", "d@example.org", ALICE)
    with s.ehlo_client() as c:
        assert c.cmd(f"MAIL FROM:<{BOB}>").startswith("250 ")
        assert c.cmd("RCPT TO:<c@example.org>").startswith("250 ")
        assert c.cmd(f"RCPT TO:<{BOB}>").startswith("250 ")
        s.cli("alias", "del", "d@example.org")
        s.cli("alias", "add", "--force", "d@example.org", "c@example.org")
        assert c.cmd("DATA").startswith("354 ")
        c.send("Subject: loop\r\n\r\nx\r\n.\r\n")
        assert c.reply().startswith("250 ")
        assert c.cmd(f"MAIL FROM:<{BOB}>").startswith("250 ")
        r = c.cmd("RCPT TO:<c@example.org>")
        assert r.startswith("550 5.4.6 ") and "alias loop" in r, r
    s.wait_log(r"to=<alice@example\.org>, orig_to=<c@example\.org>, status=sent")
    s.wait_queue_empty()
    assert len(s.messages(ALICE)) == 1
    assert "status=bounced" not in s.read_log()


def test_user_add_over_an_alias_warns(pair):
    s = pair
    s.cli("alias", "add", "carol@example.org", BOB)
    r = s.cli("user", "add", "carol@example.org", "--password-stdin", stdin="pw\n")
    assert "warning: carol@example.org is also an alias" in r.stderr, r.stderr
    assert "correio alias del carol@example.org" in r.stderr
    r = s.cli("user", "add", "dave@example.org", "--password-stdin", stdin="pw\n")
    assert r.stderr == ""
