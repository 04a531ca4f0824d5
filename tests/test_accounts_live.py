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

from correio_harness import Server, send_mail

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
