"""A full disk is said early: MAIL FROM is answered `452 4.3.1
Insufficient system storage` when the data directory's file system has
less free space than [limits] disk_reserve, or less above it than a
declared SIZE= (as Postfix's queue_minfree), instead of 451 after the
whole text.  The free space is the real statvfs of the data directory:
a reserve larger than the disk, and a small tmpfs of our own."""

import os
import subprocess
import time

import pytest

from correio_harness import Server

ALICE = "alice@example.org"
STORAGE = "452 4.3.1 Insufficient system storage"


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def mail_reply(server, size=None):
    with server.ehlo_client() as c:
        r = c.cmd(f"MAIL FROM:<bob@example.net>" + (f" SIZE={size}" if size else ""))
        c.cmd("QUIT")
        return r


def mail_reply_once(server, want, timeout=10):
    """MAIL FROM's reply, asked again until it starts with want: the
    server looks at the free space once a second, later than that on a
    loaded machine."""
    deadline = time.time() + timeout
    while True:
        r = mail_reply(server)
        if r.startswith(want) or time.time() > deadline:
            return r
        time.sleep(0.2)


def test_mail_refused_below_the_reserve():
    s = Server()
    try:
        os.makedirs(s.data, exist_ok=True)
        reserve = free_bytes(s.dir) + (10 << 30)
        s.write_config("example.org, localhost", f"disk_reserve = {reserve}\n")
        s.add_user(ALICE)
        s.start()
        with s.ehlo_client() as c:
            assert c.cmd("MAIL FROM:<bob@example.net>") == STORAGE
            # nothing was started: the client may try again later
            assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 ")
            assert c.cmd("NOOP") == "250 2.0.0 Ok"
        s.wait_log(r"reject: MAIL: \d+ bytes free in .*, reserve %d" % reserve)
        assert s.messages(ALICE) == []
    finally:
        s.cleanup()


def test_reserve_zero_turns_the_check_off():
    s = Server(extra_config="disk_reserve = 0\n")
    try:
        s.add_user(ALICE)
        s.start()
        assert mail_reply(s, size=1000).startswith("250 ")
    finally:
        s.cleanup()


def small_disk_server(reserve):
    """A started server whose data directory is an 8 MiB tmpfs of its
    own (unmounted by small_disk_cleanup)."""
    assert os.geteuid() == 0, "mounting the test's tmpfs needs root (CI runs as root)"
    s = Server(extra_config=f"disk_reserve = {reserve}\nmessage_size = 20M\n")
    os.makedirs(s.data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", s.data],
                   check=True)
    try:
        s.add_user(ALICE)
        s.start()
    except BaseException:
        small_disk_cleanup(s)
        raise
    return s


def small_disk_cleanup(s):
    s.stop()
    subprocess.run(["umount", s.data], check=False)
    s.cleanup()


@pytest.fixture
def small_disk():
    """The small disk with a 2 MiB reserve."""
    s = small_disk_server("2M")
    yield s
    small_disk_cleanup(s)


def fill(path, leave):
    """Write a file that leaves about `leave` bytes free on path's disk."""
    name = os.path.join(path, "filler")
    with open(name, "wb") as f:
        f.write(b"\0" * max(0, free_bytes(path) - leave))
    return name


def test_small_disk_declared_size_and_recovery(small_disk):
    s = small_disk
    free = free_bytes(s.data)
    assert 4 << 20 < free <= 8 << 20, free
    # a declared size that would eat into the reserve is refused at once
    assert mail_reply(s, size=free - (1 << 20)) == STORAGE
    assert mail_reply(s, size=1000).startswith("250 ")
    # the disk fills up (below the reserve): refused without SIZE too
    filler = fill(s.data, 1 << 20)
    assert mail_reply_once(s, STORAGE) == STORAGE
    # space comes back: mail is taken again, and delivered
    os.unlink(filler)
    assert mail_reply_once(s, "250 ").startswith("250 ")
    with s.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<bob@example.net>").startswith("250 ")
        assert c.cmd(f"RCPT TO:<{ALICE}>").startswith("250 ")
        assert c.cmd("DATA").startswith("354 ")
        c.send(b"Subject: disk\r\n\r\nroom again\r\n.\r\n")
        assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    s.wait_messages(ALICE, 1)


def test_small_disk_write_failure_at_data_end():
    """Without a reserve the disk can fill up during the text: the message
    is refused at its end (451), nothing is kept, and the server goes on."""
    s = small_disk_server(0)
    try:
        filler = fill(s.data, 256 << 10)
        line = b"x" * 76 + b"\r\n"
        with s.ehlo_client() as c:
            assert c.cmd("MAIL FROM:<bob@example.net>").startswith("250 ")
            assert c.cmd(f"RCPT TO:<{ALICE}>").startswith("250 ")
            assert c.cmd("DATA").startswith("354 ")
            c.send(b"Subject: too big for the disk\r\n\r\n" + line * 13000 + b".\r\n")
            assert c.reply().startswith("451 4.3.0 ")
            assert c.cmd("NOOP") == "250 2.0.0 Ok"
        os.unlink(filler)
        assert s.queue_files() == []
        assert mail_reply(s).startswith("250 ")
    finally:
        small_disk_cleanup(s)


def test_small_disk_fills_under_parallel_load():
    """Many sessions send while the disk fills up (no reserve): each is
    told 250, or 451/452 for a message not kept; every message told 250
    is on disk and is delivered once space comes back (the local
    deliveries deferred meanwhile are retried), none twice, none of the
    refused ones, and no file of a refused message stays in the spool."""
    import re
    import socket
    import threading

    s = Server(extra_config="disk_reserve = 0\nmessage_size = 20M\n"
               "\n[queue]\nretry_interval = 1s\nmax_retry_interval = 1s\n")
    os.makedirs(s.data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", s.data],
                   check=True)
    results = {}        # token -> final reply
    lock = threading.Lock()

    def sender(name):
        line = b"q" * 76 + b"\r\n"
        try:
            c = socket.create_connection(("127.0.0.1", s.smtp_port), 10)
            c.settimeout(15)
            f = c.makefile("rb")
            assert f.readline().startswith(b"220")
            c.sendall(b"EHLO full.test\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            for n in range(12):
                token = f"{name}-{n}"
                c.sendall(b"MAIL FROM:<bob@example.net>\r\n"
                          b"RCPT TO:<alice@example.org>\r\n"
                          b"RCPT TO:<carol@example.org>\r\nDATA\r\n")
                replies = [f.readline() for _ in range(4)]
                if not replies[3].startswith(b"354"):
                    with lock:
                        results[token] = replies[0].strip()
                    c.sendall(b"RSET\r\n")
                    f.readline()
                    continue
                body = line * (2000 + 1000 * (n % 3))
                c.sendall(f"Subject: token {token}\r\n\r\n".encode() + body + b".\r\n")
                r = f.readline().strip()
                with lock:
                    results[token] = r
            c.sendall(b"QUIT\r\n")
            c.close()
        except OSError as e:
            with lock:
                results[name] = repr(e).encode()

    try:
        s.add_user(ALICE)
        s.add_user("carol@example.org")
        s.start()
        filler = fill(s.data, 3 << 20)
        threads = [threading.Thread(target=sender, args=(f"f{i}",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        acked = {t for t, r in results.items() if r.startswith(b"250 ")}
        refused = {t for t, r in results.items() if not r.startswith(b"250 ")}
        assert all(results[t][:4] in (b"451 ", b"452 ") for t in refused), results
        assert acked and refused, results
        os.unlink(filler)
        for rcpt in (ALICE, "carol@example.org"):
            deadline = time.time() + 30
            while time.time() < deadline and len(s.messages(rcpt)) < len(acked):
                time.sleep(0.1)
            got = {}
            for path in s.messages(rcpt):
                data = open(path, "rb").read()
                m = re.findall(rb"^Subject: token (\S+)\r?$", data, re.M)
                assert len(m) == 1, (path, data[:200])
                got[m[0].decode()] = got.get(m[0].decode(), 0) + 1
            assert set(got) == acked, (rcpt, sorted(acked - set(got)), sorted(set(got) - acked))
            assert all(v == 1 for v in got.values()), (rcpt, got)
            assert os.listdir(os.path.join(s.maildir(rcpt), "tmp")) == []
        s.wait_queue_empty(timeout=10)
        # and mail is taken again
        assert mail_reply(s).startswith("250 ")
    finally:
        small_disk_cleanup(s)


def test_small_disk_imap_append():
    """IMAP APPEND when the disk fills up: NO for what does not
    fit, no partial file left in tmp/ or filed, the folder's count and
    UIDNEXT unchanged by the failures; once space comes back APPEND works
    and its UID follows the earlier ones."""
    import imaplib
    import re
    s = small_disk_server(0)
    try:
        c = imaplib.IMAP4("127.0.0.1", s.imap_port)
        c.login(ALICE, "secret")
        assert c.create("Box")[0] == "OK"
        assert c.append("Box", None, None, b"Subject: first\r\n\r\nx\r\n")[0] == "OK"
        assert c.select("INBOX")[0] == "OK"
        filler = fill(s.data, 200 << 10)
        big = b"Subject: big\r\n\r\n" + (b"b" * 76 + b"\r\n") * 8000
        refused = 0
        for _ in range(3):
            typ, data = c.append("Box", None, None, big)
            refused += typ == "NO"
        assert refused == 3
        box = [d for d in os.listdir(s.maildir(ALICE)) if d.endswith("Box")][0]
        d = os.path.join(s.maildir(ALICE), box)
        assert os.listdir(os.path.join(d, "tmp")) == []
        assert len(os.listdir(os.path.join(d, "new")) + os.listdir(os.path.join(d, "cur"))) == 1
        typ, data = c.status("Box", "(MESSAGES UIDNEXT)")
        assert re.search(rb"MESSAGES 1 UIDNEXT (\d+)", data[0]), data
        os.unlink(filler)
        typ, data = c.append("Box", None, None, big)
        assert typ == "OK", data
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        assert uid >= 2
        typ, data = c.status("Box", "(MESSAGES)")
        assert b"MESSAGES 2" in data[0], data
        c.logout()
        assert s.proc.poll() is None
    finally:
        small_disk_cleanup(s)
