"""The IMAP server's heavy reading runs on the store's worker threads, not
on the event loop: a session that FETCHes a large body, or SEARCHes the
texts of its folder, holds up no other session, and the order of its own
responses is kept.

A slow disk is simulated with CORREIO_TEST_READ_DELAY_MS, read by the
server at startup: every read of a message file for a client (FETCH,
SEARCH) waits that long first.  Were the read done on the loop, every
other session would wait with it."""

import imaplib
import os
import socket
import statistics
import time

from correio_harness import Server
from imap_raw import Imap

ALICE = "alice@example.org"
BOB = "bob@example.org"


def started(delay_ms):
    s = Server()
    s.add_user(ALICE)
    s.add_user(BOB)
    old = os.environ.get("CORREIO_TEST_READ_DELAY_MS")
    os.environ["CORREIO_TEST_READ_DELAY_MS"] = str(delay_ms)
    try:
        s.start()
    finally:
        if old is None:
            del os.environ["CORREIO_TEST_READ_DELAY_MS"]
        else:
            os.environ["CORREIO_TEST_READ_DELAY_MS"] = old
    for user in (ALICE, BOB):      # the first login makes the Maildir
        c = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=30)
        c.login(user, "secret")
        c.logout()
    return s


def drop(server, address, name, text):
    """A message file straight into new/ with its sizes in its name (S=,
    W=: the store need not read it to index it)."""
    md = server.maildir(address)
    st = os.stat(md)
    vsize = len(text) + text.count(b"\n") - text.count(b"\r\n")
    p = os.path.join(md, "new", f"{name},S={len(text)},W={vsize}")
    with open(p, "wb") as f:
        f.write(text)
    os.chown(p, st.st_uid, st.st_gid)
    return vsize


def big_text(mib):
    line = b"a line of a big attachment, seventy-five bytes long, written many times\n"
    return (b"From: big@example.net\nSubject: big\n\n" +
            line * (mib * 1024 * 1024 // len(line)))


def bob_session(port):
    c = Imap(port)
    c.ok(f"LOGIN {BOB} secret")
    c.ok("SELECT INBOX")
    return c


def noop_times(c, count):
    times = []
    for _ in range(count):
        t = time.monotonic()
        c.ok("NOOP")
        times.append(time.monotonic() - t)
    return times


def read_reply(sock, tag, limit):
    """Everything up to the tagged line of tag (literals included)."""
    data = b""
    while not data.endswith(b"\r\n") or (b"\r\n" + tag + b" ") not in data[-200:]:
        chunk = sock.recv(1 << 20)
        assert chunk, data[-300:]
        data += chunk
        assert len(data) < limit
    return data


def test_big_fetch_does_not_stall_another_sessions_noop():
    """Alice fetches a 20 MiB body from a slow disk (4 s) and reads her
    socket slowly; meanwhile Bob's NOOPs are answered at once, and then
    Alice gets her body whole, in order, and her tagged OK."""
    s = started(4000)
    try:
        text = big_text(20)
        vsize = drop(s, ALICE, "1700000000.M1P1.big", text)
        drop(s, BOB, "1700000000.M2P1.small", b"Subject: small\n\nhello\n")
        a = socket.create_connection(("127.0.0.1", s.imap_port), 30)
        a.recv(4096)
        a.sendall(b"a1 LOGIN alice@example.org secret\r\na2 SELECT INBOX\r\n")
        read_reply(a, b"a2", 1 << 20)
        bob = bob_session(s.imap_port)
        a.sendall(b"a3 FETCH 1 (UID BODY.PEEK[])\r\n")
        time.sleep(0.3)         # the FETCH waits on the disk now
        times = noop_times(bob, 5)
        a.settimeout(0)         # a peek that does not wait
        try:
            a.recv(1, socket.MSG_PEEK)
            still_fetching = False
        except BlockingIOError:
            still_fetching = True
        a.settimeout(30)
        assert still_fetching, "the FETCH was answered before the delay ran out"
        # a NOOP held behind the read would wait some 3.7 s; the bounds
        # leave room for a loaded machine and the sanitizer build
        assert max(times) < 2.0, f"Bob's NOOPs waited behind Alice's FETCH: {times}"
        assert statistics.median(times) < 0.5, times
        # Alice reads slowly: 64 KiB at a time, with pauses
        data = b""
        while b"\r\na3 " not in data[-400:]:
            chunk = a.recv(65536)
            assert chunk
            data += chunk
            if len(data) < 2 * 65536:
                time.sleep(0.05)
        head = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % vsize
        assert data.startswith(head), data[:100]
        body = data[len(head):len(head) + vsize]
        assert body == text.replace(b"\n", b"\r\n")
        assert data[len(head) + vsize:].startswith(b")\r\na3 OK")
        a.close()
    finally:
        s.cleanup()


def test_text_search_does_not_stall_another_session():
    """A SEARCH BODY that reads every file waits on the slow disk off the
    loop: Bob's NOOPs go on meanwhile, and Alice gets the right answer."""
    s = started(2000)
    try:
        for i in range(4):
            word = b"needle" if i % 2 else b"hay"
            drop(s, ALICE, f"1700000000.M{i}P1.s", b"Subject: s%d\n\nsome %s here\n" % (i, word))
        drop(s, BOB, "1700000000.M9P1.b", b"Subject: b\n\nhello\n")
        a = socket.create_connection(("127.0.0.1", s.imap_port), 30)
        a.recv(4096)
        a.sendall(b"a1 LOGIN alice@example.org secret\r\na2 SELECT INBOX\r\n")
        read_reply(a, b"a2", 1 << 20)
        bob = bob_session(s.imap_port)
        a.sendall(b"a3 SEARCH BODY needle\r\n")
        time.sleep(0.3)
        t = time.monotonic()
        times = noop_times(bob, 5)
        took = time.monotonic() - t
        reply = read_reply(a, b"a3", 1 << 20)
        assert b"* SEARCH 2 4\r\n" in reply, reply
        assert b"a3 OK" in reply
        # each file's read waits 2 s: a NOOP held behind one would wait
        # more than 1.7 s; the bounds leave room for a loaded machine
        assert max(times) < 1.5, f"Bob's NOOPs waited behind Alice's SEARCH: {times}"
        assert statistics.median(times) < 0.5, times
        assert took < 3.0
        a.close()
    finally:
        s.cleanup()


def test_session_leaves_while_its_fetch_is_on_a_worker():
    """Alice leaves while her FETCH waits on the disk: the server goes on
    (the worker's result is dropped) and answers the next session."""
    s = started(500)
    try:
        for i in range(3):
            drop(s, ALICE, f"1700000000.M{i}P1.l", b"Subject: l%d\n\n" % i + b"x" * 5000 + b"\n")
        for _ in range(3):
            a = socket.create_connection(("127.0.0.1", s.imap_port), 30)
            a.recv(4096)
            a.sendall(b"a1 LOGIN alice@example.org secret\r\na2 SELECT INBOX\r\n"
                      b"a3 FETCH 1:* (BODY.PEEK[] BODYSTRUCTURE)\r\n")
            time.sleep(0.1)
            a.close()
        time.sleep(0.8)
        assert s.proc.poll() is None
        c = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=30)
        c.login(ALICE, "secret")
        c.select("INBOX")
        typ, data = c.fetch("1:3", "(BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        assert [d[1] for d in data if isinstance(d, tuple)] == \
            [b"Subject: l%d\r\n\r\n" % i for i in range(3)]
        c.logout()
    finally:
        s.cleanup()
