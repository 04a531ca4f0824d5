"""Clients that write one command in several pieces are not slowed down.

Most clients leave Nagle's algorithm on: a second small write waits until
the first is acknowledged.  Python's imaplib sends an APPEND's literal and
its final CRLF in two writes; a server that delays its ACK (the kernel's
delayed ACK, some 40 ms, whenever the server has nothing to answer yet)
then makes every such command wait 40 ms.  Each test compares the rate of
the split client with the rate of the same commands sent in one write,
over the same connection kind and in interleaved rounds, so that the
machine's load cancels out: a ratio, not a timed threshold."""

import imaplib
import socket
import time

from correio_harness import Server

USER = "split@example.org"
MESSAGE = b"From: a@example.org\r\nTo: split@example.org\r\nSubject: split\r\n\r\nhello\r\n"


def read_tagged(f, tag):
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        if line.startswith(tag + b" "):
            assert line.startswith(tag + b" OK"), line
            return


def rounds(n_rounds, per_round, split_round, whole_round):
    """Run the two loops in alternating rounds; total seconds of each."""
    split = whole = 0.0
    for _ in range(n_rounds):
        t = time.monotonic()
        split_round(per_round)
        split += time.monotonic() - t
        t = time.monotonic()
        whole_round(per_round)
        whole += time.monotonic() - t
    return split, whole


def test_imaplib_append_loop_is_not_stalled():
    """200 APPENDs from imaplib (literal and CRLF in separate writes) run
    at least at half the rate of 200 APPENDs sent in one write each with
    LITERAL+, over one connection each."""
    with Server() as s:
        s.add_user(USER)
        s.start()
        m = imaplib.IMAP4("127.0.0.1", s.imap_port)
        m.login(USER, "secret")
        raw = socket.create_connection(("127.0.0.1", s.imap_port), timeout=10)
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"a LOGIN %s secret\r\n" % USER.encode())
        read_tagged(f, b"a")

        def imaplib_round(n):
            for _ in range(n):
                typ, _ = m.append("INBOX", None, None, MESSAGE)
                assert typ == "OK"

        def single_write_round(n):
            for _ in range(n):
                raw.sendall(b"b APPEND INBOX {%d+}\r\n%s\r\n" % (len(MESSAGE), MESSAGE))
                read_tagged(f, b"b")

        split, whole = rounds(10, 20, imaplib_round, single_write_round)
        m.logout()
        raw.close()
        assert len(s.messages(USER)) == 400
        # rates: 200 / split against 200 / whole
        assert split <= 2 * whole, \
            f"imaplib {200 / split:.0f}/s against one write {200 / whole:.0f}/s"


def test_smtp_data_end_in_its_own_write_is_not_stalled():
    """A message whose final ".\\r\\n" comes in a write of its own (after
    the body) is accepted about as fast as one sent in one write."""
    with Server() as s:
        s.add_user(USER)
        s.start()
        c = s.ehlo_client()
        body = MESSAGE

        def transaction(split):
            assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
            assert c.cmd(f"RCPT TO:<{USER}>").startswith("250")
            assert c.cmd("DATA").startswith("354")
            if split:
                c.send(body)
                c.send(b".\r\n")
            else:
                c.send(body + b".\r\n")
            r = c.reply()
            assert r.startswith("250"), r

        split, whole = rounds(5, 20, lambda n: [transaction(True) for _ in range(n)],
                              lambda n: [transaction(False) for _ in range(n)])
        c.close()
        assert split <= 2 * whole, \
            f"split {100 / split:.0f}/s against one write {100 / whole:.0f}/s"


def test_pop3_command_in_two_writes_is_not_stalled():
    """A POP3 command sent in two writes ("NOO", then "P\\r\\n") costs
    one more round trip (the ACK that releases the second write), not a
    40 ms delayed ACK: the loop is compared with one of two whole NOOPs per
    step (two round trips)."""
    with Server() as s:
        s.add_user(USER)
        s.start()
        sock = socket.create_connection(("127.0.0.1", s.pop3_port), timeout=10)
        f = sock.makefile("rb")
        assert f.readline().startswith(b"+OK")
        for line in (b"USER " + USER.encode(), b"PASS secret"):
            sock.sendall(line + b"\r\n")
            assert f.readline().startswith(b"+OK")

        def split_round(n):
            for _ in range(n):
                sock.sendall(b"NOO")
                sock.sendall(b"P\r\n")
                assert f.readline().startswith(b"+OK")

        def whole_round(n):
            for _ in range(n):
                for _ in range(2):
                    sock.sendall(b"NOOP\r\n")
                    assert f.readline().startswith(b"+OK")

        split, whole = rounds(5, 40, split_round, whole_round)
        sock.sendall(b"QUIT\r\n")
        sock.close()
        # a stalled server is some 500 times slower
        assert split <= 3 * whole, \
            f"split {200 / split:.0f}/s against two whole {200 / whole:.0f}/s"
