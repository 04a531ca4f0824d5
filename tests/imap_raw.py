"""A raw IMAP connection that keeps the exact bytes of each response, for
the tests that compare them: cmd() returns (untagged responses as bytes,
with their literals inline, and the tagged line without its tag)."""

import re
import socket


class Imap:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""
        self.n = 0
        assert self.response().startswith(b"* OK")

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError(self.buf[-300:])
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self):
        """One response line, literals included (without the final CRLF)."""
        out = b""
        while True:
            line = self._line()
            out += line
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return out
            out += b"\r\n" + self._take(int(m.group(1)))

    def send(self, text):
        """Send a command (str, or bytes holding LITERAL+ literals); its tag."""
        if isinstance(text, str):
            text = text.encode()
        self.n += 1
        tag = b"t%d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        return tag

    def cmd(self, text):
        tag = self.send(text)
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag + b" "):
                return untagged, r[len(tag) + 1:].decode()
            untagged.append(r)

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("OK"), (text, tagged)
        return untagged

    @property
    def tag(self):
        """The tag of the last command."""
        return "t%d" % self.n

    def close(self):
        self.sock.close()
