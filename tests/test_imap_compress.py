"""IMAP COMPRESS=DEFLATE (RFC 4978) against a real server, with Python's
zlib as the client's side: the OK in clear, then raw deflate both ways;
bodies fetched whole through it, commands sent right behind COMPRESS,
TLS under it, a second COMPRESS refused, a decompression bomb and a
broken stream ending the session without harm.  (mbsync, in
test_imap.py, uses COMPRESS on its own when the server offers it.)"""

import re
import socket
import zlib

import pytest

from test_imap import ALICE, BIG, PLAIN, Imap, _server, big_msg, msg


@pytest.fixture
def srv():
    s = _server(PLAIN + BIG)
    yield s
    s.cleanup()


class Deflated:
    """An IMAP connection after COMPRESS DEFLATE: raw deflate both ways."""

    def __init__(self, imap):
        self.sock = imap.sock
        self.buf = imap.buf.encode() if isinstance(imap.buf, str) else imap.buf
        self.out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inp = zlib.decompressobj(-15)
        self.plain = self.inp.decompress(self.buf) if self.buf else b""
        self.n = 0

    def send(self, data):
        self.sock.sendall(self.out.compress(data) + self.out.flush(zlib.Z_SYNC_FLUSH))

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed")
        self.plain += self.inp.decompress(chunk)

    def line(self):
        while b"\r\n" not in self.plain:
            self._fill()
        line, self.plain = self.plain.split(b"\r\n", 1)
        m = re.search(rb"\{(\d+)\}$", line)
        if m:
            n = int(m.group(1))
            while len(self.plain) < n:
                self._fill()
            line += b"\r\n" + self.plain[:n]
            self.plain = self.plain[n:]
            line += self.line()
        return line

    def cmd(self, text):
        self.n += 1
        tag = b"z%d" % self.n
        self.send(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return lines, line.decode()
            lines.append(line)

    def ok(self, text):
        lines, tagged = self.cmd(text)
        assert re.match(r"\S+ OK", tagged), (text, tagged)
        return lines


def compress(c):
    caps = " ".join(c.ok("CAPABILITY"))
    assert "COMPRESS=DEFLATE" in caps.split()
    c.send("c1 COMPRESS DEFLATE\r\n")
    assert c.line() == "c1 OK DEFLATE active"     # the OK itself is not compressed
    return Deflated(c)


def test_compressed_session(srv):
    body = big_msg(600 * 1024, subject="large one")
    with Imap(srv.imap_port) as c:
        c.login()
        c.append_ok("INBOX", body)
        for i in range(20):
            c.append_ok("INBOX", msg(f"small {i}", body=f"text {i}"))
        z = compress(c)
        caps = b" ".join(z.ok("CAPABILITY"))
        assert b"COMPRESS=DEFLATE" not in caps          # no second time
        lines, tagged = z.cmd("COMPRESS DEFLATE")
        assert tagged.startswith("z2 NO [COMPRESSIONACTIVE]"), tagged
        assert b"* 21 EXISTS" in z.ok("SELECT INBOX")
        fetched = z.ok("FETCH 1 BODY.PEEK[]")
        assert fetched[0].startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(body))
        assert body in fetched[0]
        subjects = b"\n".join(z.ok("FETCH 2:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        assert all(b"Subject: small %d" % i in subjects for i in range(20))
        # a literal sent through the compressed stream
        z.send(b"a1 APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
        line = z.line()
        while line.startswith(b"* "):
            line = z.line()
        assert re.match(rb"a1 OK \[APPENDUID \d+ 22\]", line), line
        assert z.ok("LOGOUT")[0].startswith(b"* BYE")


def test_commands_right_behind_compress(srv):
    """A client may send compressed commands in the same packet as
    COMPRESS: they are read after the switch, not as clear text."""
    with Imap(srv.imap_port) as c:
        c.login()
        out = zlib.compressobj(6, zlib.DEFLATED, -15)
        c.send(b"c1 COMPRESS DEFLATE\r\n" + out.compress(b"c2 NOOP\r\nc3 LIST \"\" INBOX\r\n")
               + out.flush(zlib.Z_SYNC_FLUSH))
        assert c.line() == "c1 OK DEFLATE active"
        z = Deflated(c)
        z.out = out
        got = [z.line(), z.line(), z.line()]
        assert got[0].startswith(b"c2 OK") and got[1].startswith(b"* LIST") and \
            got[2].startswith(b"c3 OK"), got


def test_compress_under_tls(srv):
    with Imap(srv.imap_port) as c:
        c.starttls()
        c.login()
        z = compress(c)
        assert b"* 0 EXISTS" in z.ok("SELECT INBOX")
        z.ok("LOGOUT")


def test_bomb_and_garbage_end_the_session(srv):
    with Imap(srv.imap_port) as c:
        c.login()
        z = compress(c)
        # 64 MiB of one line compress to about 64 KiB: the server must
        # refuse the line, not inflate it all into memory
        comp = z.out.compress(b"z1 NOOP " + b"a" * (64 << 20)) + z.out.flush(zlib.Z_SYNC_FLUSH)
        assert len(comp) < 200 * 1024
        try:
            z.sock.sendall(comp + z.out.compress(b"\r\n") + z.out.flush(zlib.Z_SYNC_FLUSH))
            line = z.line()
            assert b"BAD" in line or line.startswith(b"* BYE"), line
        except (EOFError, ConnectionResetError, BrokenPipeError):
            pass        # closing on it is an answer too
    rss_kib = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{srv.pid}/status").read()).group(1))
    assert rss_kib < 100 * 1024, f"server RSS {rss_kib} KiB after the bomb"
    with Imap(srv.imap_port) as c:
        c.login()
        c.send("c1 COMPRESS DEFLATE\r\n")
        assert c.line() == "c1 OK DEFLATE active"
        c.send(b"\xff\xff\xff not deflate at all \x00\x01")
        c.sock.settimeout(5)
        with pytest.raises((EOFError, ConnectionResetError, socket.timeout)) as e:
            while True:
                if not c.sock.recv(65536):
                    raise EOFError
        assert e.type is not socket.timeout, "a broken stream must end the session"
    # the server goes on
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("NOOP")


def test_output_to_a_slow_reader_is_bounded(srv):
    """FETCH of 30 MB through compression to a client that does not read:
    the server holds a bounded amount, then sends it all when read."""
    import base64
    import os
    import time
    with Imap(srv.imap_port) as c:
        c.login()       # the account's Maildir is made at its first login
    md = srv.maildir(ALICE)
    st = os.stat(md)
    count = 3000
    for i in range(count):
        text = (b"Subject: message %d\n\n" % i + base64.encodebytes(os.urandom(7000)) +
                b"end %d\n" % i)
        p = os.path.join(md, "new", "%d.M%dP1.test" % (1700000000 + i, i))
        with open(p, "wb") as f:
            f.write(text)
        os.chown(p, st.st_uid, st.st_gid)
    with Imap(srv.imap_port) as c:
        c.login()
        z = compress(c)
        z.ok("SELECT INBOX")
        before = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{srv.pid}/status").read()).group(1))
        z.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        z.send(b"f1 FETCH 1:* BODY.PEEK[]\r\n")
        time.sleep(1.0)
        after = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{srv.pid}/status").read()).group(1))
        assert after - before < 16 * 1024, f"server grew by {after - before} KiB"
        seen = 0
        while True:
            line = z.line()
            if line.startswith(b"f1 "):
                assert line.startswith(b"f1 OK"), line
                break
            seen += 1
            assert line.startswith(b"* %d FETCH (BODY[] {" % seen), line[:60]
            assert line.endswith(b"end %d\r\n)" % (seen - 1)), line[-40:]
        assert seen == count
