"""`correio mail` against Dovecot (Debian's dovecot-imapd and dovecot-pop3d),
to show that the client is not tied to correio's server.  The test starts
a private Dovecot: its own configuration, base and state directories and
Maildirs in a temporary directory, IMAP and POP3 on free loopback ports
without TLS (plaintext login allowed), stopped by PID; the system's
Dovecot service is never touched.  Mail is sent to an aiosmtpd sink that
delivers it into the recipient's Dovecot INBOX with IMAP APPEND."""

import imaplib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from correio_harness import free_ports
from mail_client import MailClient, uuencode

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def internal_user(name, fallback="nobody"):
    try:
        import pwd
        pwd.getpwnam(name)
        return name
    except KeyError:
        return fallback


# Dovecot 2.3's capabilities after login, without QRESYNC, and without
# CONDSTORE either: so that each way of syncing is tried on one server
CAPS_CONDSTORE = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT CHILDREN "
                  "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE ESEARCH "
                  "SEARCHRES WITHIN LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE")
CAPS_PLAIN = CAPS_CONDSTORE.replace(" CONDSTORE", "").replace(" UIDPLUS", "").replace(
    " MOVE", "")


class Dovecot:
    def __init__(self, capability=None):
        self.dir = tempfile.mkdtemp(prefix="correio-dovecot-")
        os.chmod(self.dir, 0o755)
        self.imap_port, self.pop3_port = free_ports(2)
        mail = os.path.join(self.dir, "mail")
        os.makedirs(mail)
        os.chmod(mail, 0o1777)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, pw in USERS.items():
                f.write(f"{user}:{{PLAIN}}{pw}:65534:65534::{self.dir}/mail/{user}::\n")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        internal = internal_user("dovecot")
        login = internal_user("dovenull")
        caps = f"imap_capability = {capability}\n" if capability else ""
        with open(self.conf, "w") as f:
            f.write(caps + f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = correio-test-{self.imap_port}
log_path = {self.dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{self.dir}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {self.dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {self.dir}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Archive {{
    special_use = \\Archive
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""")
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited:\n" + self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.imap_port), 0.2).close()
                socket.create_connection(("127.0.0.1", self.pop3_port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("dovecot did not start:\n" + self.read_log())

    def read_log(self):
        out = ""
        for name in ("stderr.log", "dovecot.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def imap(self, user):
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        c.login(user, USERS[user])
        return c

    def deliver(self, user, data):
        c = self.imap(user)
        c.append("INBOX", None, None, data)
        c.logout()


class Sink:
    """aiosmtpd on loopback: every message is APPENDed to its recipients'
    Dovecot INBOX (recipient alice@... -> user alice)."""

    def __init__(self, dovecot):
        from aiosmtpd.controller import Controller
        self.received = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.received.append(envelope)
                for rcpt in envelope.rcpt_tos:
                    dovecot.deliver(rcpt.split("@")[0], envelope.content)
                return "250 OK"

        self.port = free_ports(1)[0]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.fixture(params=[None], ids=["qresync"])
def dovecot(request):
    if not os.path.exists(DOVECOT):
        pytest.fail("dovecot is not installed (scripts/deps.sh installs "
                    "dovecot-imapd and dovecot-pop3d)")
    d = Dovecot(request.param)
    try:
        d.start()
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def sink(dovecot):
    s = Sink(dovecot)
    yield s
    s.stop()


def client(dovecot, sink, user, **extra):
    settings = dict(host="127.0.0.1", port=dovecot.imap_port, tls="none",
                    smtp_host="127.0.0.1", smtp_port=sink.port, smtp_tls="none",
                    **{"from": f"{user}@example.org"})
    settings.update(extra)
    return MailClient(dovecot.dir, user, user, USERS[user], **settings)


def test_list_read_send_save_against_dovecot(dovecot, sink, tmp_path):
    alice = client(dovecot, sink, "alice")
    bob = client(dovecot, sink, "bob")
    folders = alice.run("folders").stdout.split()
    assert "INBOX" in folders and "Sent" in folders

    payload = bytes(range(256)) * 3
    f = tmp_path / "données.bin"
    f.write_bytes(payload)
    r = alice.run("send", "--to", "bob@example.org", "--subject", "Olá Dovecot",
                  "--attach", str(f), stdin="Hello from correio mail.\n")
    assert "Sent." in r.stdout, r.stderr
    assert [e.rcpt_tos for e in sink.received] == [["bob@example.org"]]
    # the copy went into Dovecot's \Sent folder
    sent = json.loads(alice.run("list", "Sent", "--json").stdout)
    assert [m["subject"] for m in sent] == ["Olá Dovecot"]

    items = json.loads(bob.run("list", "--json").stdout)
    assert [m["subject"] for m in items] == ["Olá Dovecot"]
    assert items[0]["flags"] == []
    r = bob.run("read", "1")
    assert "Hello from correio mail." in r.stdout and "données.bin" in r.stdout
    assert "\\Seen" in json.loads(bob.run("list", "--json").stdout)[0]["flags"]
    bob.run("save", "1", str(tmp_path / "out"))
    assert (tmp_path / "out" / "données.bin").read_bytes() == payload

    # uuencoded file in a plain-text body, delivered straight into Dovecot
    uu = bytes(range(200))
    dovecot.deliver("bob", b"From: carol@example.org\r\nSubject: uu\r\n\r\ntext\r\n"
                    + uuencode("old.bin", uu).replace(b"\n", b"\r\n"))
    bob.run("save", "2", str(tmp_path / "uu"))
    assert (tmp_path / "uu" / "old.bin").read_bytes() == uu

    found = json.loads(bob.run("search", "--subject", "Dovecot", "--json").stdout)
    assert [m["number"] for m in found] == [1]

    # reply, delete, move
    bob.run("reply", "1", stdin="Got it.\n")
    got = json.loads(alice.run("list", "--json").stdout)
    assert [m["subject"] for m in got] == ["Re: Olá Dovecot"]
    bob.run("move", "2", "Archive")
    assert [m["subject"] for m in json.loads(bob.run("list", "Archive", "--json").stdout)] == ["uu"]
    bob.run("delete", "1")
    assert json.loads(bob.run("list", "--json").stdout) == []


@pytest.mark.parametrize("dovecot,method", [
    (None, "by QRESYNC"), (CAPS_CONDSTORE, "by CONDSTORE"), (CAPS_PLAIN, "plain")],
    indirect=["dovecot"], ids=["qresync", "condstore", "uids"])
def test_sync_and_offline_against_dovecot(dovecot, method, sink, tmp_path):
    alice = client(dovecot, sink, "alice")
    for i in range(3):
        dovecot.deliver("alice", f"From: x@example.org\r\nSubject: d{i}\r\n\r\nbody {i}\r\n".encode())
    r = alice.run("sync")
    assert "synced" in r.stdout, r.stderr
    dovecot.stop()
    r = alice.run("list", "--json")
    assert "working offline" in r.stderr
    assert [m["subject"] for m in json.loads(r.stdout)] == ["d0", "d1", "d2"]
    assert "body 1" in alice.run("read", "2").stdout
    alice.run("delete", "1")
    alice.run("flag", "2", "+flagged")  # d2, now the second
    # the SMTP sink is up: while the IMAP server is away, mail waits anyway
    r = alice.run("send", "--to", "bob@example.org", "--subject", "queued", stdin="later\n")
    assert "outbox" in r.stdout
    dovecot.start()
    r = alice.run("sync")
    assert "outbox: sent to 1 recipient" in r.stdout, r.stderr
    assert [e.rcpt_tos for e in sink.received] == [["bob@example.org"]]
    c = dovecot.imap("alice")
    c.select("INBOX")
    typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    got = [(d[1].decode().strip(), d[0].decode()) for d in data if isinstance(d, tuple)]
    c.logout()
    assert [g[0] for g in got] == ["Subject: d1", "Subject: d2"]
    assert "\\Flagged" in got[1][1] and "\\Seen" in got[0][1]
    # new mail arrives and the next sync fetches it (CONDSTORE or not)
    dovecot.deliver("alice", b"From: y@example.org\r\nSubject: d3\r\n\r\nnew\r\n")
    c = dovecot.imap("alice")
    c.select("INBOX")
    c.store("1", "+FLAGS", "(\\Answered)")
    c.logout()
    r = alice.run("sync")
    m = re.search(r"\((\d+) by QRESYNC, (\d+) by CONDSTORE\)", r.stdout)
    assert m, r.stdout
    if method == "by QRESYNC":
        assert int(m.group(1)) > 0 and int(m.group(2)) == 0
    elif method == "by CONDSTORE":
        assert int(m.group(1)) == 0 and int(m.group(2)) > 0
    else:
        assert m.group(1) == m.group(2) == "0"
    cached = json.loads(alice.run("--offline", "list", "--json").stdout)
    assert [m["subject"] for m in cached] == ["d1", "d2", "d3"]
    assert "\\Answered" in cached[0]["flags"] and "\\Flagged" in cached[1]["flags"]
    sent = json.loads(alice.run("--offline", "list", "Sent", "--json").stdout)
    assert [m["subject"] for m in sent] == ["queued"]


def test_pop3_against_dovecot(dovecot, sink, tmp_path):
    pop = client(dovecot, sink, "bob", protocol="pop3", port=dovecot.pop3_port)
    dovecot.deliver("bob", b"From: x@example.org\r\nSubject: p1\r\n\r\none\r\n")
    dovecot.deliver("bob", b"From: x@example.org\r\nSubject: p2\r\n\r\ntwo\r\n")
    r = pop.run("sync")
    assert "2 new messages, 2 deleted" in r.stdout, r.stderr
    assert [m["subject"] for m in json.loads(pop.run("list", "--json").stdout)] == ["p1", "p2"]
    c = dovecot.imap("bob")
    typ, data = c.select("INBOX")
    assert data[0] == b"0"
    c.logout()
