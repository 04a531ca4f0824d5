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
    time.sleep(1.2)                 # the free space is looked at once a second
    assert mail_reply(s) == STORAGE
    # space comes back: mail is taken again, and delivered
    os.unlink(filler)
    time.sleep(1.2)
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
