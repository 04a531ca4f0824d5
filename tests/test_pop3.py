"""POP3 (RFC 1939, CAPA/RESP-CODES RFC 2449, STLS RFC 2595, SASL PLAIN
RFC 5034): every command with Python's poplib and a raw client that looks
at the bytes on the wire, UPDATE-state semantics, byte-exact message text
(dot-stuffing, 8-bit, a 10 MiB attachment), TOP, UIDL identity, STLS and
pop3s, malformed input, and real clients: fetchmail and curl."""

import base64
import hashlib
import imaplib
import os
import poplib
import random
import re
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import pytest

from correio_harness import Server

ALICE = "alice@example.org"
LOOPBACK_PLAIN = "\n[auth]\nplaintext_on_loopback = yes\n"
UIDL_RE = re.compile(r"^\d+\.\d+$")


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def srv():
    """A running server that allows plaintext logins on loopback, with
    alice and bob."""
    s = Server(extra_config=LOOPBACK_PLAIN)
    try:
        s.add_user(ALICE)
        s.add_user("bob@example.org")
        s.start()
        yield s
    finally:
        s.cleanup()


# ---- a POP3 client that shows the bytes ----

def connect(port, timeout=10):
    """A TCP connection to the server; retried briefly (start() waits only
    for the SMTP listener)."""
    deadline = time.time() + 5
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout)
        except ConnectionRefusedError:
            if time.time() > deadline:
                raise
            time.sleep(0.02)


class Pop:
    """A raw POP3 connection.  Lines are returned as str without CRLF
    (every line the server sends must end in CRLF); multi-line bodies as the
    bytes between the status line and the terminating ".", still
    dot-stuffed."""

    def __init__(self, port, tls=False, timeout=10):
        self.sock = connect(port, timeout)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = bytearray()
        self.greeting = self.line()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed; unread: %r" % bytes(self.buf[:200]))
        self.buf += chunk

    def raw_line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                break
            self._fill()
        line = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        assert line.endswith(b"\r\n"), line
        return line[:-2]

    def line(self):
        return self.raw_line().decode("utf-8", "replace")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.line()

    def body(self):
        """The rest of a multi-line response up to its "." line."""
        if self.buf[:3] == b".\r\n":
            del self.buf[:3]
            return b""
        start = 0
        while True:
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                data = bytes(self.buf[:i + 2])
                del self.buf[:i + 5]
                return data
            start = max(0, len(self.buf) - 4)
            self._fill()
            if self.buf[:3] == b".\r\n":
                del self.buf[:3]
                return b""

    def multi(self, line):
        """Send a command with a multi-line answer: (status, raw body)."""
        status = self.cmd(line)
        if not status.startswith("+OK"):
            return status, None
        return status, self.body()

    def lines(self, line):
        status, body = self.multi(line)
        assert status.startswith("+OK"), (line, status)
        return [unstuff_line(x) for x in body.split(b"\r\n")[:-1]]

    def login(self, user=ALICE, password="secret"):
        r = self.cmd("USER " + user)
        assert r.startswith("+OK"), r
        r = self.cmd("PASS " + password)
        assert r.startswith("+OK maildrop has "), r
        return r

    def stls(self):
        r = self.cmd("STLS")
        assert r.startswith("+OK"), r
        assert not self.buf
        self.sock = tls_context().wrap_socket(self.sock)

    def retr(self, n):
        """(octets announced, message as sent on the wire with the
        dot-stuffing undone)."""
        status, body = self.multi(f"RETR {n}")
        m = re.match(r"^\+OK (\d+) octets$", status)
        assert m, status
        return int(m.group(1)), unstuff(body)

    def stat(self):
        r = self.cmd("STAT")
        m = re.match(r"^\+OK (\d+) (\d+)$", r)
        assert m, r
        return int(m.group(1)), int(m.group(2))

    def closed(self, timeout=5):
        """True once the server closed the connection; what it still sent
        is kept in self.rest."""
        self.sock.settimeout(timeout)
        self.rest = bytes(self.buf)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.rest += chunk
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def unstuff_line(line):
    return line[1:] if line.startswith(b".") else line


def unstuff(body):
    """Undo the dot-stuffing of a multi-line body; every line must end in
    CRLF and no line may be a lone "."."""
    assert body == b"" or body.endswith(b"\r\n"), body[-50:]
    lines = body.split(b"\r\n")[:-1]
    assert b"." not in lines
    for x in lines:
        assert b"\n" not in x, x[:80]
    return b"".join(unstuff_line(x) + b"\r\n" for x in lines)


def wire(stored):
    """The text POP3 must send for a stored file with LF line ends."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", stored)


# ---- getting mail into the maildrop ----

def deliver(server, rcpt, messages, eightbit=False):
    """Send messages (bytes, CRLF) over SMTP and wait until all are filed."""
    if isinstance(messages, bytes):
        messages = [messages]
    before = len(server.messages(rcpt))
    opts = ["BODY=8BITMIME"] if eightbit else []
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as c:
        for m in messages:
            c.sendmail("sender@example.net", [rcpt], m, mail_options=opts)
    return server.wait_messages(rcpt, before + len(messages), timeout=30)[before:]


def simple(i, extra=b""):
    return (b"From: sender@example.net\r\nSubject: message %d\r\n\r\n"
            b"body of message %d\r\n" % (i, i)) + extra


_drop_seq = [0]


def drop_file(server, address, data):
    """Write a message file into the account's Maildir new/ the way a
    delivery agent does (tmp/, then rename), owned like the server's data.
    Files dropped one after the other get ascending names (the server
    orders newcomers of the same second by name).  Returns the path."""
    st = os.stat(server.data)
    md = server.maildir(address)
    for d in (os.path.dirname(os.path.dirname(md)), os.path.dirname(md), md,
              md + "/tmp", md + "/new", md + "/cur"):
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            os.chown(d, st.st_uid, st.st_gid)
    _drop_seq[0] += 1
    name = "%d.M%06dP%d.test.example" % (time.time(), _drop_seq[0], os.getpid())
    tmp = os.path.join(md, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chown(tmp, st.st_uid, st.st_gid)
    path = os.path.join(md, "new", name)
    os.rename(tmp, path)
    return path


def sync(server, address=ALICE):
    """Log in once so that the server numbers what arrived so far (UIDs
    follow arrival from then on)."""
    with Pop(server.pop3_port) as p:
        p.login(address)
        p.cmd("QUIT")


def stored(server, rcpt):
    return [server.read_message(p) for p in server.messages(rcpt)]


# ---- greeting, CAPA, authentication ----

def test_greeting_and_capa_with_plaintext_on_loopback(srv):
    with Pop(srv.pop3_port) as p:
        assert p.greeting == "+OK correio POP3 server ready"
        caps = [x.decode() for x in p.lines("CAPA")]
        for c in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                  "EXPIRE NEVER", "USER", "SASL PLAIN", "STLS", "IMPLEMENTATION correio"):
            assert c in caps, (c, caps)
        p.login()
        caps = [x.decode() for x in p.lines("CAPA")]
        assert "TOP" in caps and "UIDL" in caps
        assert "USER" not in caps and "STLS" not in caps
        assert not any(c.startswith("SASL") for c in caps)
        assert p.cmd("QUIT") == "+OK correio POP3 server signing off"
        assert p.closed()


def test_plaintext_login_needs_tls(tls_only_server):
    """With [auth] plaintext_on_loopback = no, USER and AUTH PLAIN are
    refused in the clear; after STLS they work."""
    server = tls_only_server
    deliver(server, ALICE, simple(1))
    c = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
    caps = c.capa()
    assert "STLS" in caps and "USER" not in caps and "SASL" not in caps
    with pytest.raises(poplib.error_proto) as e:
        c.user(ALICE)
    assert e.value.args[0].startswith(b"-ERR [AUTH] plaintext login needs TLS: use STLS")
    with pytest.raises(poplib.error_proto) as e:
        c._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0alice@example.org\0secret").decode())
    assert e.value.args[0].startswith(b"-ERR [AUTH] ")
    assert c._longcmd("AUTH") == (b"+OK SASL mechanisms follow", [], 0)
    c.stls(context=tls_context())
    caps = c.capa()
    assert "STLS" not in caps and "USER" in caps and caps["SASL"] == ["PLAIN"]
    c.user(ALICE)
    assert c.pass_("secret").startswith(b"+OK maildrop has 1 messages")
    assert c.stat()[0] == 1
    resp, lines, octets = c.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == wire(stored(server, ALICE)[0])
    c.quit()


def test_pop3s_implicit_tls(server):
    big = b"Subject: over TLS\n\n" + b"".join(
        b"%s line %06d of a message sent through the TLS filter\n" % (b"." if i % 7 == 0 else b"", i)
        for i in range(20000))
    drop_file(server, ALICE, big)
    with Pop(server.pop3s_port, tls=True) as p:
        assert p.greeting == "+OK correio POP3 server ready"
        caps = [x.decode() for x in p.lines("CAPA")]
        assert "USER" in caps and "SASL PLAIN" in caps and "STLS" not in caps
        assert p.cmd("STLS").startswith("-ERR")
        p.login()
        octets, text = p.retr(1)
        assert text == wire(big) and octets == len(text)
        assert p.cmd("NOOP") == "+OK"
        assert p.cmd("QUIT").startswith("+OK")
    c = poplib.POP3_SSL("127.0.0.1", server.pop3s_port, context=tls_context(), timeout=10)
    c.user(ALICE)
    c.pass_("secret")
    assert c.stat() == (1, len(wire(big)))
    c.quit()


def test_stls_session(tls_only_server):
    with Pop(tls_only_server.pop3_port) as p:
        assert p.cmd("USER alice@example.org").startswith("-ERR [AUTH]")
        p.stls()
        caps = [x.decode() for x in p.lines("CAPA")]
        assert "USER" in caps and "STLS" not in caps
        assert p.cmd("STLS").startswith("-ERR")        # TLS already active
        p.login()
        assert p.stat() == (0, 0)
        assert p.cmd("STLS") == "-ERR command not valid in this state"
        assert p.cmd("QUIT").startswith("+OK")


def test_stls_refuses_pipelined_command_and_forgets_user(srv):
    with Pop(srv.pop3_port) as p:
        assert p.cmd("USER alice@example.org") == "+OK send PASS"
        # a command sent in the clear behind STLS must not run under TLS
        p.send("STLS\r\nPASS secret\r\n")
        assert p.line().startswith("-ERR")
        # the plaintext session goes on; the pipelined PASS was discarded
        assert p.cmd("NOOP") == "-ERR command not valid in this state"
        p.stls()
        # USER given before TLS is forgotten
        assert p.cmd("PASS secret") == "-ERR send USER first"
        p.login()
        assert p.cmd("QUIT").startswith("+OK")


def test_failed_tls_handshakes(srv):
    """Plaintext on the pop3s port and garbage after STLS end those
    connections, and nothing else."""
    with connect(srv.pop3s_port) as raw:
        raw.sendall(b"CAPA\r\n" * 10)
        raw.settimeout(5)
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
    with Pop(srv.pop3_port) as p:
        assert p.cmd("STLS").startswith("+OK")
        p.send(b"USER alice\r\n" + bytes(range(256)) * 4)
        assert p.closed()
    with Pop(srv.pop3s_port, tls=True) as p:
        p.login()
        assert p.cmd("QUIT").startswith("+OK")


def test_auth_plain(srv):
    deliver(srv, ALICE, simple(1))
    good = base64.b64encode(b"\0alice@example.org\0secret").decode()
    with Pop(srv.pop3_port) as p:
        assert p.multi("AUTH") == ("+OK SASL mechanisms follow", b"PLAIN\r\n")
        assert p.cmd("AUTH CRAM-MD5").startswith("-ERR")
        # continuation, aborted with "*"
        assert p.cmd("AUTH PLAIN") == "+ "
        assert p.cmd("*").startswith("-ERR")
        assert p.cmd("STAT") == "-ERR command not valid in this state"
        # not base64
        assert p.cmd("AUTH PLAIN") == "+ "
        assert p.cmd("!!not base64!!").startswith("-ERR [AUTH]")
        # wrong password, with an initial response
        bad = base64.b64encode(b"\0alice@example.org\0wrong").decode()
        assert p.cmd("AUTH PLAIN " + bad) == "-ERR [AUTH] authentication failed"
        # another authorization identity is not allowed
        other = base64.b64encode(b"bob@example.org\0alice@example.org\0secret").decode()
        assert p.cmd("AUTH PLAIN " + other).startswith("-ERR [AUTH]")
        # continuation, then the response
        assert p.cmd("AUTH PLAIN") == "+ "
        r = p.cmd(good)
        assert r.startswith("+OK maildrop has 1 messages ("), r
        assert p.cmd("AUTH PLAIN " + good) == "-ERR command not valid in this state"
        assert p.stat()[0] == 1
    with Pop(srv.pop3_port) as p:
        # initial response, authzid equal to authcid
        same = base64.b64encode(b"alice@example.org\0alice@example.org\0secret").decode()
        assert p.cmd("auth plain " + same).startswith("+OK maildrop has 1 messages")


def test_auth_plain_over_pop3s(server):
    with Pop(server.pop3s_port, tls=True) as p:
        assert p.cmd("AUTH PLAIN") == "+ "
        assert p.cmd(base64.b64encode(b"\0alice@example.org\0secret").decode()).startswith("+OK")
        assert p.cmd("QUIT").startswith("+OK")


def test_wrong_password_gives_auth_code(srv):
    c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
    c.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        c.pass_("wrong")
    assert e.value.args[0] == b"-ERR [AUTH] authentication failed"
    c.user("nobody@example.org")
    with pytest.raises(poplib.error_proto) as e:
        c.pass_("secret")
    assert e.value.args[0].startswith(b"-ERR [AUTH] ")
    with pytest.raises(poplib.error_proto) as e:
        c.pass_("secret")                       # USER again after a failure
    assert e.value.args[0].startswith(b"-ERR")
    c.user(ALICE)
    assert c.pass_("secret").startswith(b"+OK")
    c.quit()


def test_login_names_and_passwords(srv):
    srv.add_user("carol@example.org", " correct horse  battery ")
    for user in ("alice", "ALICE@Example.ORG"):       # bare name: the primary domain
        with Pop(srv.pop3_port) as p:
            p.login(user)
    with Pop(srv.pop3_port) as p:
        # PASS takes the rest of the line, spaces included
        p.login("carol@example.org", " correct horse  battery ")
    with Pop(srv.pop3_port) as p:
        assert p.cmd("USER carol@example.org").startswith("+OK")
        assert p.cmd("PASS correct horse  battery").startswith("-ERR [AUTH]")


def test_auth_plain_line_too_long_ends_the_exchange(srv):
    """A response over the limit is answered -ERR, which ends the AUTH
    command (RFC 5034 §4): the next line is a command again, not another
    try at the SASL response."""
    with Pop(srv.pop3_port) as p:
        assert p.cmd("AUTH PLAIN") == "+ "
        assert p.cmd("A" * 10000) == "-ERR line too long"
        assert p.cmd("CAPA") == "+OK capability list follows"
        assert b"SASL PLAIN" in p.body().split(b"\r\n")
        p.login()


def test_throttled_login_gives_sys_temp():
    with Server(extra_config=LOOPBACK_PLAIN + "max_failures = 3\n") as s:
        s.add_user(ALICE)
        s.start()
        with Pop(s.pop3_port) as p:
            for _ in range(3):
                assert p.cmd("USER " + ALICE).startswith("+OK")
                assert p.cmd("PASS wrong") == "-ERR [AUTH] authentication failed"
            assert p.cmd("USER " + ALICE).startswith("+OK")
            assert p.cmd("PASS secret").startswith("-ERR [SYS/TEMP] ")


def test_unreadable_maildrop_gives_sys_temp(srv):
    deliver(srv, ALICE, simple(1))
    md = srv.maildir(ALICE)
    os.chmod(md, 0)
    try:
        with Pop(srv.pop3_port) as p:
            assert p.cmd("USER " + ALICE).startswith("+OK")
            assert p.cmd("PASS secret").startswith("-ERR [SYS/TEMP] ")
            assert p.cmd("STAT") == "-ERR command not valid in this state"
    finally:
        os.chmod(md, 0o700)
    with Pop(srv.pop3_port) as p:
        p.login()
        assert p.stat()[0] == 1


def test_commands_before_login(srv):
    with Pop(srv.pop3_port) as p:
        for c in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "RSET", "NOOP",
                  "TOP 1 0", "UIDL"):
            assert p.cmd(c) == "-ERR command not valid in this state", c
        assert p.cmd("PASS secret") == "-ERR send USER first"
        assert p.cmd("USER").startswith("-ERR")
        p.login()
        assert p.cmd("USER " + ALICE) == "-ERR command not valid in this state"
        assert p.cmd("PASS secret") == "-ERR command not valid in this state"
    with Pop(srv.pop3_port) as p:
        assert p.cmd("QUIT").startswith("+OK")
        assert p.closed()


# ---- the transaction state ----

def test_stat_list_uidl_retr(srv):
    msgs = [simple(1), simple(2, (b"x" * 900 + b"\r\n") * 6), simple(3, b"three\r\n" * 3)]
    deliver(srv, ALICE, msgs)
    files = stored(srv, ALICE)
    sizes = [len(wire(f)) for f in files]
    with Pop(srv.pop3_port) as p:
        assert p.login() == f"+OK maildrop has 3 messages ({sum(sizes)} octets)"
        assert p.stat() == (3, sum(sizes))
        assert p.lines("LIST") == [b"%d %d" % (i + 1, n) for i, n in enumerate(sizes)]
        for i, n in enumerate(sizes):
            assert p.cmd(f"LIST {i + 1}") == f"+OK {i + 1} {n}"
        uidl = [x.decode().split() for x in p.lines("UIDL")]
        assert [int(n) for n, _ in uidl] == [1, 2, 3]
        ids = [u for _, u in uidl]
        assert all(UIDL_RE.match(u) for u in ids) and len(set(ids)) == 3
        for i, u in enumerate(ids):
            assert p.cmd(f"UIDL {i + 1}") == f"+OK {i + 1} {u}"
        for i in range(3):
            octets, text = p.retr(i + 1)
            assert text == wire(files[i])
            assert octets == sizes[i]
            assert text.endswith(msgs[i])
            assert text.startswith(b"Return-Path: <sender@example.net>\r\nReceived: ")
        assert p.cmd("NOOP") == "+OK"
        assert p.cmd("QUIT").startswith("+OK")
    # poplib agrees
    c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
    c.user(ALICE)
    c.pass_("secret")
    assert c.stat() == (3, sum(sizes))
    assert c.uidl()[1] == [b"%d %s" % (i + 1, u.encode()) for i, u in enumerate(ids)]
    resp, lines, octets = c.retr(2)
    assert resp == b"+OK %d octets" % sizes[1]
    assert b"\r\n".join(lines) + b"\r\n" == wire(files[1])
    c.quit()


def test_empty_maildrop(srv):
    """A new account that never received mail (no Maildir yet)."""
    with Pop(srv.pop3_port) as p:
        assert p.login() == "+OK maildrop has 0 messages (0 octets)"
        assert p.stat() == (0, 0)
        assert p.lines("LIST") == []
        assert p.lines("UIDL") == []
        assert p.cmd("RETR 1") == "-ERR no such message"
        assert p.cmd("QUIT").startswith("+OK")


def test_retr_dot_lines_byte_exact(srv):
    body = (b"Subject: dots\r\n\r\n"
            b".\r\n..\r\n...\r\n.hidden\r\n. \r\n .\r\nend.\r\n"
            b"..double\r\n.\r\n" + b"." * 997 + b"\r\n" + b"x" * 997 + b".\r\n"
            b"From the beginning\r\n>From quoted\r\n\r\n\r\n.last\r\n")
    deliver(srv, ALICE, body)
    [f] = stored(srv, ALICE)
    with Pop(srv.pop3_port) as p:
        p.login()
        status, raw = p.multi("RETR 1")
        assert status == f"+OK {len(wire(f))} octets"
        lines = raw.split(b"\r\n")[:-1]
        # every line that begins with "." is stuffed on the wire
        assert b".." in lines and b"..." in lines and b"...." in lines
        assert b"..hidden" in lines and b".. " in lines and b"...double" in lines
        assert b"." * 998 in lines and b"..last" in lines and b" ." in lines
        assert all(x.startswith(b"..") for x in lines if x.startswith(b"."))
        assert unstuff(raw) == wire(f)
        assert unstuff(raw).endswith(body)
    c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
    c.user(ALICE)
    c.pass_("secret")
    assert b"\r\n".join(c.retr(1)[1]) + b"\r\n" == wire(f)
    c.quit()


def test_retr_8bit_body(srv):
    body = ("Subject: =?utf-8?q?acentua=C3=A7=C3=A3o?=\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "Correio eletrônico: ação, coração, pão — ☃ 日本語 🙂\r\n").encode()
    body += bytes(range(0x80, 0x100)) + b"\r\n" + bytes(range(1, 0x80)).replace(
        b"\r", b"").replace(b"\n", b"") + b"\r\n" + b"\xff\xfe\xfd.\x80\r\n.\xc3\xa7\r\n"
    deliver(srv, ALICE, body, eightbit=True)
    [f] = stored(srv, ALICE)
    assert f.endswith(body.replace(b"\r\n", b"\n"))
    with Pop(srv.pop3_port) as p:
        p.login()
        octets, text = p.retr(1)
        assert text == wire(f) and octets == len(text)
        assert text.endswith(body)


def test_retr_10mib_attachment():
    with Server(extra_config="message_size = 20M\n" + LOOPBACK_PLAIN) as s:
        s.add_user(ALICE)
        s.start()
        payload = random.Random(7).randbytes(10 << 20)
        b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
        msg = (b"From: sender@example.net\r\nSubject: big attachment\r\n"
               b"MIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
               b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n.\r\n"
               b"--b1\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n"
               b"Content-Disposition: attachment; filename=\"blob.bin\"\r\n\r\n"
               + b64 + b"--b1--\r\n")
        deliver(s, ALICE, msg)
        [f] = stored(s, ALICE)
        with Pop(s.pop3_port) as p:
            p.login()
            size = len(wire(f))
            assert p.cmd("LIST 1") == f"+OK 1 {size}"
            octets, text = p.retr(1)
            assert octets == size == len(text)
            assert hashlib.sha256(text).digest() == hashlib.sha256(wire(f)).digest()
            assert text.endswith(msg)
            assert base64.b64decode(b64) == payload
            # commands after the big message
            assert p.cmd("NOOP") == "+OK"
            assert p.lines("TOP 1 3")[-3:] == [b"--b1", b"Content-Type: text/plain", b""]
            assert p.cmd("QUIT").startswith("+OK")


def test_retr_across_blocks(srv):
    """Lines of every length, many beginning with '.', so that dots and
    line ends fall on the boundaries of the server's read blocks; a file
    with CRLF line ends and one without a final newline, as another
    program may leave them."""
    rnd = random.Random(1)
    lines = []
    for i in range(6000):
        n = rnd.randrange(0, 120)
        lines.append((b"." if rnd.random() < 0.3 else b"") + b"%d" % i + b"y" * n)
    lf = b"Subject: blocks\n\n" + b"\n".join(lines) + b"\n"
    crlf = lf.replace(b"\n", b"\r\n")
    nonl = b"Subject: no final newline\n\nlast line without LF"
    for data in (lf, crlf, nonl):
        drop_file(srv, ALICE, data)
    with Pop(srv.pop3_port) as p:
        p.login()
        assert p.cmd("LIST 1") == f"+OK 1 {len(crlf)}"
        assert p.cmd("LIST 2") == f"+OK 2 {len(crlf)}"
        for n, expected in ((1, crlf), (2, crlf), (3, wire(nonl) + b"\r\n")):
            octets, text = p.retr(n)
            assert text == expected, n
        status, raw = p.multi("TOP 1 4000")
        assert unstuff(raw) == b"Subject: blocks\r\n\r\n" + b"".join(x + b"\r\n" for x in lines[:4000])
        status, raw = p.multi("TOP 2 5999")
        assert unstuff(raw) == crlf[:-len(lines[-1]) - 2]
        status, raw = p.multi("TOP 2 0")
        assert unstuff(raw) == b"Subject: blocks\r\n\r\n"


def test_top(srv):
    body = (b"From: sender@example.net\r\nSubject: top\r\n\r\n"
            b"line 1\r\n.line 2\r\n\r\nline 4\r\n.\r\nline 6\r\n")
    deliver(srv, ALICE, [body, simple(2)])
    sync(srv)
    drop_file(srv, ALICE, b"Subject: only a header\nX-Other: y\n")
    f = stored(srv, ALICE)[0]
    head, rest = wire(f).split(b"\r\n\r\n", 1)
    body_lines = rest.split(b"\r\n")[:-1]
    with Pop(srv.pop3_port) as p:
        p.login()
        status, raw = p.multi("TOP 1 0")
        assert status == "+OK top of message follows"
        assert unstuff(raw) == head + b"\r\n\r\n"
        for k in (1, 2, 3, 5):
            status, raw = p.multi(f"TOP 1 {k}")
            assert unstuff(raw) == head + b"\r\n\r\n" + b"".join(x + b"\r\n" for x in body_lines[:k]), k
        _, raw = p.multi("TOP 1 2")
        assert raw.endswith(b"\r\nline 1\r\n..line 2\r\n")
        for k in (6, 7, 1000, 2 ** 63 - 1):
            _, raw = p.multi(f"TOP 1 {k}")
            assert unstuff(raw) == wire(f)
        _, raw = p.multi("TOP 3 0")
        assert unstuff(raw) == b"Subject: only a header\r\nX-Other: y\r\n"
        _, raw = p.multi("TOP 3 5")
        assert unstuff(raw) == b"Subject: only a header\r\nX-Other: y\r\n"
        for bad in ("TOP", "TOP 1", "TOP 1 -1", "TOP 1 x", "TOP 1 99999999999999999999999",
                    "TOP x 1"):
            assert p.cmd(bad).startswith("-ERR"), bad
        assert p.cmd("TOP 4 0") == "-ERR no such message"
        assert p.cmd("TOP 0 0") == "-ERR no such message"
        assert p.cmd("DELE 2").startswith("+OK")
        assert p.cmd("TOP 2 0").startswith("-ERR")
        octets, text = p.retr(1)                   # TOP changed nothing
        assert text == wire(f)
        assert p.cmd("QUIT").startswith("+OK")


def test_dele_rset(srv):
    deliver(srv, ALICE, [simple(i) for i in (1, 2, 3)])
    files = stored(srv, ALICE)
    sizes = [len(wire(f)) for f in files]
    with Pop(srv.pop3_port) as p:
        p.login()
        ids = p.lines("UIDL")
        assert p.cmd("DELE 2") == "+OK message 2 deleted"
        assert p.stat() == (2, sizes[0] + sizes[2])
        assert p.lines("LIST") == [b"1 %d" % sizes[0], b"3 %d" % sizes[2]]
        assert p.lines("UIDL") == [ids[0], ids[2]]
        for c in ("LIST 2", "UIDL 2", "RETR 2", "DELE 2", "TOP 2 1"):
            assert p.cmd(c).startswith("-ERR"), c
        # numbers stay: message 3 is still message 3
        assert p.retr(3)[1] == wire(files[2])
        assert p.cmd("RSET") == f"+OK 3 {sum(sizes)}"
        assert p.stat() == (3, sum(sizes))
        assert p.lines("UIDL") == ids
        assert p.retr(2)[1] == wire(files[1])
        assert p.cmd("DELE 1").startswith("+OK")
        assert p.cmd("DELE 3").startswith("+OK")
        assert p.cmd("RSET").startswith("+OK 3 ")
        assert p.cmd("QUIT").startswith("+OK")
    assert stored(srv, ALICE) == files            # nothing deleted


def test_quit_expunges_marked_messages(srv):
    deliver(srv, ALICE, [simple(i) for i in (1, 2, 3)])
    files = stored(srv, ALICE)
    with Pop(srv.pop3_port) as p:
        p.login()
        ids = p.lines("UIDL")
        assert p.cmd("DELE 1").startswith("+OK")
        assert p.cmd("DELE 3").startswith("+OK")
        # marked, not yet removed: another session still sees them
        with Pop(srv.pop3_port) as q:
            q.login()
            assert q.stat()[0] == 3
            q.cmd("QUIT")
        assert len(srv.messages(ALICE)) == 3
        assert p.cmd("QUIT") == "+OK correio POP3 server signing off"
        assert p.closed()
    assert stored(srv, ALICE) == [files[1]]
    with Pop(srv.pop3_port) as p:
        p.login()
        assert p.stat() == (1, len(wire(files[1])))
        assert p.lines("UIDL") == [b"1 " + ids[1].split()[1]]
        assert p.retr(1)[1] == wire(files[1])


def test_quit_reports_failed_deletion(srv):
    deliver(srv, ALICE, [simple(1), simple(2)])
    sync(srv)
    files = stored(srv, ALICE)
    cur = os.path.join(srv.maildir(ALICE), "cur")
    with Pop(srv.pop3_port) as p:
        p.login()
        assert p.cmd("DELE 1").startswith("+OK")
        os.chmod(cur, 0o500)
        try:
            assert p.cmd("QUIT").startswith("-ERR [SYS/TEMP] ")
            assert p.closed()
        finally:
            os.chmod(cur, 0o700)
    assert stored(srv, ALICE) == files
    with Pop(srv.pop3_port) as p:
        p.login()
        assert p.stat()[0] == 2


def test_pipelined_dele_and_quit(srv):
    deliver(srv, ALICE, [simple(i) for i in (1, 2, 3, 4)])
    files = stored(srv, ALICE)
    with Pop(srv.pop3_port) as p:
        p.send("USER alice@example.org\r\nPASS secret\r\nRETR 4\r\n"
               "DELE 1\r\nDELE 2\r\nDELE 4\r\nQUIT\r\n")
        assert p.line() == "+OK send PASS"
        assert p.line().startswith("+OK maildrop has 4 messages")
        assert p.line().startswith("+OK ")
        assert unstuff(p.body()) == wire(files[3])
        assert [p.line() for _ in range(4)] == [
            "+OK message 1 deleted", "+OK message 2 deleted", "+OK message 4 deleted",
            "+OK correio POP3 server signing off"]
        assert p.closed()
    assert stored(srv, ALICE) == [files[2]]


@pytest.mark.parametrize("how", ["close", "reset", "pop3s-close"])
def test_dropped_connection_deletes_nothing(srv, how):
    deliver(srv, ALICE, [simple(i) for i in (1, 2, 3)])
    files = stored(srv, ALICE)
    p = Pop(srv.pop3s_port if how.startswith("pop3s") else srv.pop3_port,
            tls=how.startswith("pop3s"))
    p.login()
    for i in (1, 2, 3):
        assert p.cmd(f"DELE {i}").startswith("+OK")
    assert p.stat() == (0, 0)
    if how == "reset":
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    p.close()
    srv.wait_log(r"pop3d: disconnect from \[127\.0\.0\.1\]")
    time.sleep(0.1)
    assert stored(srv, ALICE) == files
    with Pop(srv.pop3_port) as q:
        q.login()
        assert q.stat()[0] == 3


def test_new_mail_during_session_is_not_listed(srv):
    deliver(srv, ALICE, [simple(1), simple(2)])
    with Pop(srv.pop3_port) as p:
        p.login()
        before = p.stat()
        ids = p.lines("UIDL")
        deliver(srv, ALICE, simple(3))
        # a new session sees it at once ...
        with Pop(srv.pop3_port) as q:
            q.login()
            assert q.stat()[0] == 3
        # ... this one keeps its listing
        assert p.stat() == before
        assert len(p.lines("LIST")) == 2
        assert p.lines("UIDL") == ids
        assert p.cmd("RETR 3") == "-ERR no such message"
        assert p.cmd("LIST 3") == "-ERR no such message"
        assert p.cmd("RSET").startswith("+OK 2 ")
        assert p.cmd("DELE 1").startswith("+OK")
        assert p.cmd("QUIT").startswith("+OK")
    with Pop(srv.pop3_port) as p:
        p.login()
        assert p.stat()[0] == 2
        new = p.lines("UIDL")
        assert new[0] == b"1 " + ids[1].split()[1]
        assert new[1].split()[1] not in [x.split()[1] for x in ids]


def test_uidl_stable_across_sessions_and_restart(srv):
    deliver(srv, ALICE, [simple(i) for i in (1, 2, 3)])

    def uidl():
        with Pop(srv.pop3_port) as p:
            p.login()
            ids = [x.split()[1].decode() for x in p.lines("UIDL")]
            p.cmd("QUIT")
            return ids

    first = uidl()
    assert len(set(first)) == 3 and all(UIDL_RE.match(u) for u in first)
    assert uidl() == first
    srv.stop()
    srv.start()
    assert uidl() == first
    # an expunge elsewhere renumbers messages but keeps their ids
    with Pop(srv.pop3_port) as p:
        p.login()
        p.cmd("DELE 2")
        p.cmd("QUIT")
    assert uidl() == [first[0], first[2]]
    deliver(srv, ALICE, simple(4))
    after = uidl()
    assert after[:2] == [first[0], first[2]]
    v, uid = after[2].split(".")
    assert v == first[0].split(".")[0] and int(uid) > int(first[2].split(".")[1])
    srv.kill()
    srv.start()
    assert uidl() == after


def imap_login(server):
    im = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    im.login(ALICE, "secret")
    return im


def test_uidl_is_imap_uid(srv):
    """UIDL is "<UIDVALIDITY>.<UID>" of the same message in IMAP."""
    deliver(srv, ALICE, [simple(i) for i in (1, 2, 3)])
    with Pop(srv.pop3_port) as p:
        p.login()
        p.cmd("DELE 1")
        p.cmd("QUIT")
    im = imap_login(srv)
    try:
        typ, _ = im.select("INBOX", readonly=True)
        assert typ == "OK"
        uidvalidity = im.untagged_responses["UIDVALIDITY"][0].decode()
        uidnext = int(im.untagged_responses["UIDNEXT"][0])
        exists = int(im.untagged_responses["EXISTS"][-1])
    finally:
        im.logout()
    with Pop(srv.pop3_port) as p:
        p.login()
        ids = [x.split()[1].decode() for x in p.lines("UIDL")]
    assert exists == 2 and uidnext == 4
    assert ids == [f"{uidvalidity}.2", f"{uidvalidity}.3"]


def test_uidl_of_imap_appended_message(srv):
    deliver(srv, ALICE, simple(1))
    sync(srv)
    im = imap_login(srv)
    try:
        appended = b"From: imap@example.org\r\nSubject: appended\r\n\r\n.via IMAP\r\n"
        typ, data = im.append("INBOX", None, None, appended)
        assert typ == "OK", data
    finally:
        im.logout()
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert m, data
    with Pop(srv.pop3_port) as p:
        p.login()
        ids = [x.split()[1].decode() for x in p.lines("UIDL")]
        assert ids[1] == "%s.%s" % (m.group(1).decode(), m.group(2).decode())
        assert ids[0].split(".")[0] == m.group(1).decode()
        assert p.retr(2)[1] == appended


def test_concurrent_sessions_delete_same_message(srv):
    deliver(srv, ALICE, [simple(i) for i in (1, 2, 3)])
    files = stored(srv, ALICE)
    with Pop(srv.pop3_port) as a, Pop(srv.pop3_port) as b:
        a.login()
        b.login()
        assert a.cmd("DELE 1").startswith("+OK")
        assert a.cmd("QUIT").startswith("+OK")
        assert a.closed()
        # b's listing still has it, but the text is gone
        assert b.stat()[0] == 3
        r = b.cmd("RETR 1")
        assert r.startswith("-ERR"), r
        assert b.retr(2)[1] == wire(files[1])
        assert b.cmd("DELE 1").startswith("+OK")
        assert b.cmd("DELE 2").startswith("+OK")
        assert b.cmd("QUIT").startswith("+OK")
    assert stored(srv, ALICE) == [files[2]]


def test_pipelining(srv):
    big = b"Subject: pipelined\n\n" + b"".join(b".%06d pipelined text\n" % i for i in range(30000))
    drop_file(srv, ALICE, big)
    sync(srv)
    deliver(srv, ALICE, simple(2))
    small = stored(srv, ALICE)[1]
    with Pop(srv.pop3_port) as p:
        p.send("CAPA\r\nUSER alice@example.org\r\nPASS secret\r\nSTAT\r\nRETR 1\r\n"
               "TOP 2 0\r\nLIST\r\nUIDL 2\r\nRETR 2\r\nNOOP\r\nBOGUS\r\nQUIT\r\n")
        assert p.line().startswith("+OK")
        assert b"PIPELINING" in p.body().split(b"\r\n")
        assert p.line() == "+OK send PASS"
        assert p.line().startswith("+OK maildrop has 2 messages")
        assert p.line() == f"+OK 2 {len(wire(big)) + len(wire(small))}"
        assert p.line() == f"+OK {len(wire(big))} octets"
        assert unstuff(p.body()) == wire(big)
        assert p.line() == "+OK top of message follows"
        assert unstuff(p.body()) == wire(small).split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        assert p.line() == "+OK listing follows"
        assert p.body().count(b"\r\n") == 2
        assert re.match(r"^\+OK 2 \d+\.\d+$", p.line())
        assert p.line().startswith("+OK ")
        assert unstuff(p.body()) == wire(small)
        assert p.line() == "+OK"
        assert p.line() == "-ERR unknown command"
        assert p.line().startswith("+OK")
        assert p.closed()


# ---- malformed input ----

def test_unknown_command_and_missing_arguments(srv):
    deliver(srv, ALICE, simple(1))
    with Pop(srv.pop3_port) as p:
        assert p.cmd("FOO") == "-ERR unknown command"
        assert p.cmd("") == "-ERR unknown command"
        assert p.cmd("USER") == "-ERR usage: USER name"
        assert p.cmd("AUTH PLAIN ") .startswith("-ERR")
        p.login()
        for c in ("RETR", "DELE", "LIST 0", "LIST 2", "LIST x", "LIST -1", "LIST +1",
                  "UIDL 0", "RETR 2", "RETR 1 2", "RETR 99999999999999999999999999",
                  "DELE 4294967297", "RETR 0x1"):
            assert p.cmd(c) == "-ERR no such message", c
        for c in ("TOP", "TOP 1", "TOP  1"):
            assert p.cmd(c) == "-ERR usage: TOP msg lines", c
        assert p.cmd("XTND XMIT") == "-ERR unknown command"
        assert p.cmd("RETR1") == "-ERR unknown command"
        # case does not matter, extra spaces before the argument neither
        assert p.cmd("noop") == "+OK"
        assert p.cmd("Stat") == "+OK 1 %d" % len(wire(stored(srv, ALICE)[0]))
        assert p.cmd("list   1").startswith("+OK 1 ")
        # the session goes on
        assert p.retr(1)[1] == wire(stored(srv, ALICE)[0])
        assert p.cmd("QUIT").startswith("+OK")


def test_line_length_limit(srv):
    with Pop(srv.pop3_port) as p:
        p.login()
        # 255 octets with CRLF are allowed, 256 are not
        assert p.cmd("NOOP " + "x" * 248) == "+OK"
        assert p.cmd("NOOP " + "x" * 249) == "-ERR line too long"
        # a huge argument, in pieces
        p.send("RETR ")
        for _ in range(20):
            p.send("9" * 10000)
            time.sleep(0.005)
        assert p.cmd("") == "-ERR line too long"
        assert p.cmd("USER " + "a" * 100000) == "-ERR line too long"
        assert p.cmd("NOOP") == "+OK"
        assert p.stat() == (0, 0)
        assert p.cmd("QUIT").startswith("+OK")


def test_binary_garbage(srv):
    deliver(srv, ALICE, simple(1))
    rnd = random.Random(3)
    with Pop(srv.pop3_port) as p:
        garbage = bytes(b for b in rnd.randbytes(200) if b not in b"\r\n\0")
        assert p.cmd(garbage) == "-ERR unknown command"
        assert p.cmd(b"US\0ER alice") == "-ERR NUL in command"
        assert p.cmd(b"\xff\xfe\xfd\xfc") == "-ERR unknown command"
        assert p.cmd(b"\x16\x03\x01\x02\x01\xfc\x03\x03") == "-ERR unknown command"
        p.login()
        assert p.cmd(b"RETR \xff\x80") == "-ERR no such message"
        assert p.cmd(b"NOOP\0\xff") == "-ERR NUL in command"
        assert p.cmd(b"\x1b[2J\x7f\x08") == "-ERR unknown command"
        assert p.cmd(b"LIST 1\r") == "-ERR no such message"     # "1\r"
        # a line without CR is a line too
        p.send(b"NOOP\n")
        assert p.line() == "+OK"
        assert p.retr(1)[1] == wire(stored(srv, ALICE)[0])
        assert p.cmd("QUIT").startswith("+OK")


def test_error_limit_closes_session(srv):
    """[limits] errors = 50 in the harness."""
    with Pop(srv.pop3_port) as p:
        p.login()
        p.send("BOGUS\r\n" * 60)
        for _ in range(50):
            assert p.line() == "-ERR unknown command"
        assert p.line() == "-ERR too many errors, closing"
        assert p.closed()
        assert p.rest == b""


# ---- the text must not be corrupted when the session ends under it ----

def big_file(srv, mib=8):
    line = b"%07d the quick brown fox jumps over the lazy dog, again and again\n"
    data = b"Subject: very big\n\n" + b"".join(line % i for i in range((mib << 20) // 73))
    drop_file(srv, ALICE, data)
    return wire(data)


def read_until_closed(p, timeout=20):
    out = bytearray(p.buf)
    p.sock.settimeout(timeout)
    try:
        while True:
            chunk = p.sock.recv(1 << 20)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    return bytes(out)


def check_not_corrupted(status, got, expected):
    """A message interrupted by the end of the session may be cut short
    (no terminating "."); it must not carry foreign text."""
    assert status == f"+OK {len(expected)} octets", status
    i = got.find(b"\r\n.\r\n")
    text = got[:i + 2] if i >= 0 else got
    pos = text.find(b"-ERR")
    assert pos < 0, "server reply inside the message text at octet %d of %d: %r" % (
        pos, len(expected), text[max(0, pos - 60):pos + 60])
    stuffed = expected.replace(b"\r\n.", b"\r\n..")
    if i >= 0:
        assert text == stuffed, "message text differs"
    else:
        assert stuffed.startswith(text), "message text differs"


def test_idle_timeout_while_sending_does_not_corrupt_text():
    """A client slow to read a big message gets either the whole message or
    a connection closed in the middle of it, never the autologout reply
    inside the message text."""
    with Server(extra_config="idle_timeout = 1s\n" + LOOPBACK_PLAIN) as s:
        s.add_user(ALICE)
        s.start()
        expected = big_file(s)
        with Pop(s.pop3_port) as p:
            p.login()
            p.send("RETR 1\r\n")
            time.sleep(2.5)             # the socket buffers fill up; the client reads nothing
            status = p.line()
            check_not_corrupted(status, read_until_closed(p), expected)


def test_idle_session_is_logged_out():
    with Server(extra_config="idle_timeout = 1s\n" + LOOPBACK_PLAIN) as s:
        s.add_user(ALICE)
        s.start()
        with Pop(s.pop3_port) as p:
            p.login()
            assert p.cmd("DELE 1") == "-ERR no such message"
            p.sock.settimeout(5)
            assert p.line() == "-ERR autologout: idle for too long"
            assert p.closed()


def test_shutdown_while_sending_does_not_corrupt_text():
    with Server(extra_config=LOOPBACK_PLAIN) as s:
        s.add_user(ALICE)
        s.start()
        expected = big_file(s)
        with Pop(s.pop3_port) as p:
            p.login()
            p.send("RETR 1\r\n")
            time.sleep(0.5)
            s.signal(signal.SIGTERM)
            time.sleep(0.5)
            status = p.line()
            check_not_corrupted(status, read_until_closed(p), expected)
        assert s.stop() == 0


# ---- real clients ----

def run_fetchmail(home, port, options):
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write(f"""set no bouncemail
set idfile "{home}/fetchids"
poll 127.0.0.1 with proto POP3 port {port}
  user "{ALICE}" there with password "secret"
  {options}
  mda "/bin/sh -c 'cat >> {home}/mbox'"
""")
    os.chmod(rc, 0o600)
    r = subprocess.run(["fetchmail", "-f", rc, "--nosyslog", "-v"], capture_output=True,
                       text=True, timeout=60,
                       env=dict(os.environ, HOME=home, FETCHMAILHOME=home))
    return r


def mbox_messages(home):
    try:
        with open(os.path.join(home, "mbox"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    # fetchmail puts its own Received: on top of the Return-Path: it keeps
    return [b"Return-Path:" + m for m in data.split(b"Return-Path:")[1:]]


def fetched_bodies(home):
    out = []
    for m in mbox_messages(home):
        assert b"\nReceived: from [127.0.0.1] (unknown [127.0.0.1])\n\tby mx.example.org (correio)" in m
        out.append(m.split(b"\n\n", 1)[1])
    return out


def test_fetchmail_keep_and_nokeep(srv):
    msgs = [simple(i, b".dot line %d\r\n..two dots\r\n.\r\nend\r\n" % i) for i in range(1, 5)]
    deliver(srv, ALICE, msgs)
    expected = sorted(m.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n") for m in msgs)
    with tempfile.TemporaryDirectory() as home:
        # plaintext on loopback, keep: everything fetched, nothing deleted
        r = run_fetchmail(home, srv.pop3_port, "keep sslproto ''")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "4 messages for alice@example.org" in r.stdout
        assert sorted(fetched_bodies(home)) == expected
        assert len(srv.messages(ALICE)) == 4
        # STLS, keep again: the UIDLs are known, nothing new is fetched
        r = run_fetchmail(home, srv.pop3_port, "keep no sslcertck")
        assert r.returncode == 1, r.stdout + r.stderr      # 1: no mail
        assert "POP3> STLS" in r.stdout
        assert "(4 seen)" in r.stdout
        assert len(mbox_messages(home)) == 4
        assert len(srv.messages(ALICE)) == 4
    with tempfile.TemporaryDirectory() as home:
        # pop3s, nokeep: fetched and deleted
        r = run_fetchmail(home, srv.pop3s_port, "fetchall nokeep ssl no sslcertck")
        assert r.returncode == 0, r.stdout + r.stderr
        assert sorted(fetched_bodies(home)) == expected
        assert srv.messages(ALICE) == []
        with Pop(srv.pop3_port) as p:
            p.login()
            assert p.stat() == (0, 0)


def test_fetchmail_stls_only_server(server):
    deliver(server, ALICE, [simple(1), simple(2)])
    with tempfile.TemporaryDirectory() as home:
        r = run_fetchmail(home, server.pop3_port, "nokeep no sslcertck")
        assert r.returncode == 0, r.stdout + r.stderr
        assert len(mbox_messages(home)) == 2
        assert server.messages(ALICE) == []


def curl(*args):
    return subprocess.run(["curl", "-s", "--max-time", "30", *args], capture_output=True,
                          timeout=60)


def test_curl_list_and_retrieve(srv):
    msgs = [simple(1, b".starts with a dot\r\n..\r\n"), simple(2), simple(3, b"\xc3\xa7\r\n")]
    deliver(srv, ALICE, msgs, eightbit=True)
    files = stored(srv, ALICE)
    url = f"pop3://127.0.0.1:{srv.pop3_port}/"
    r = curl(url, "-u", f"{ALICE}:secret")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"".join(b"%d %d\r\n" % (i + 1, len(wire(f))) for i, f in enumerate(files))
    r = curl(url + "1", "-u", f"{ALICE}:secret")
    assert r.returncode == 0, r.stderr
    assert r.stdout == wire(files[0])
    r = curl(f"pop3s://127.0.0.1:{srv.pop3s_port}/3", "-k", "-u", f"{ALICE}:secret")
    assert r.returncode == 0, r.stderr
    assert r.stdout == wire(files[2])
    r = curl(url, "-X", "UIDL", "-u", f"{ALICE}:secret")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3
    r = curl(url, "-u", f"{ALICE}:wrong")
    assert r.returncode == 67                      # login denied
    r = curl(url + "9", "-u", f"{ALICE}:secret")
    assert r.returncode != 0
    assert len(srv.messages(ALICE)) == 3


def test_curl_stls(tls_only_server):
    server = tls_only_server
    deliver(server, ALICE, simple(1))
    [f] = stored(server, ALICE)
    url = f"pop3://127.0.0.1:{server.pop3_port}/"
    r = curl(url + "1", "-u", f"{ALICE}:secret")
    assert r.returncode != 0 and r.stdout == b""         # no plaintext login
    r = curl(url + "1", "--ssl-reqd", "-k", "-u", f"{ALICE}:secret")
    assert r.returncode == 0, r.stderr
    assert r.stdout == wire(f)
