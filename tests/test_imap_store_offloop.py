"""The store's file work stays off the event loop: an APPEND's message
file is created and written by a worker thread, and a STORE's renames of
Maildir files (the flags are in the name) are made by a worker, so a slow
disk under one session holds up no other session.

A slow disk is simulated with strace's fault injection, attached to the
running server: every openat (or rename) of every thread is held before
it runs.  Another session's NOOPs must meanwhile be answered at once, as
they are when the held call is on a worker.  The flags themselves change
in the index at once, so every session, POP3 and the files (once the
renames settle) agree with what STORE acknowledged; after a kill -9 in
the middle of the renames the index is the truth and the next start puts
the names right."""

import imaplib
import os
import poplib
import re
import signal
import subprocess
import threading
import time

import correio_harness
from correio_harness import Server
from imap_raw import Imap

ALICE = "alice@example.org"
BOB = "bob@example.org"


def started(extra_config=""):
    s = Server(extra_config=extra_config)
    s.add_user(ALICE)
    s.add_user(BOB)
    s.start()
    for user in (ALICE, BOB):      # the first login makes the Maildir
        c = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=30)
        c.login(user, "secret")
        c.logout()
    # the relay's first tick (a second after start) looks for TLS reports
    # to send, an openat of the loop: let it pass before any strace
    time.sleep(1.2)
    return s


class Strace:
    """strace attached to every thread of the running server, with its
    options; detached (strace ended by its own PID) on stop()."""

    def __init__(self, server, *options, output="/dev/null"):
        strace = correio_harness.strace_path()
        threads = len(os.listdir(f"/proc/{server.pid}/task"))
        self.proc = subprocess.Popen([strace, "-f", "-o", output, *options,
                                      "-p", str(server.pid)],
                                     stderr=subprocess.PIPE, text=True)
        # "Process N attached with T threads", or one line per thread
        attached = 0
        while attached < threads:
            line = self.proc.stderr.readline()
            assert line, "strace ended"
            m = re.search(r"attached with (\d+) threads", line)
            attached = int(m.group(1)) if m else attached + ("attached" in line)
        # the rest of its messages, read so that it never blocks on them
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(20)


def noop_times(c, count, pause=0.0):
    times = []
    for _ in range(count):
        t = time.monotonic()
        c.ok("NOOP")
        times.append(time.monotonic() - t)
        time.sleep(pause)
    return times


def bob_session(port):
    c = Imap(port)
    c.ok(f"LOGIN {BOB} secret")
    c.ok("SELECT INBOX")
    return c


# ---- APPEND ----

def test_slow_file_creation_of_append_does_not_stall_another_session():
    """Every openat is held 1.5 s.  Alice APPENDs into her selected INBOX;
    while her message file is being created, Bob's NOOPs are answered at
    once, and Alice then gets her OK and her message.  (Bob selects no
    folder: a NOOP in a folder reads its new/, an openat of the loop.)"""
    s = started()
    try:
        bob = Imap(s.imap_port)
        bob.ok(f"LOGIN {BOB} secret")
        alice = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=30)
        alice.login(ALICE, "secret")
        alice.select("INBOX")
        trace = Strace(s, "-e", "trace=openat", "-e", "inject=openat:delay_enter=1500000")
        try:
            result = {}

            def append():
                t = time.monotonic()
                result["reply"] = alice.append("INBOX", None, None,
                                               b"Subject: slow\r\n\r\nslow disk\r\n")
                result["seconds"] = time.monotonic() - t

            th = threading.Thread(target=append)
            th.start()
            time.sleep(0.3)         # the file is being created now
            times = noop_times(bob, 5, 0.1)
            still_waiting = th.is_alive()
            th.join(30)
        finally:
            trace.stop()
        assert result["reply"][0] == "OK", result
        assert result["seconds"] >= 1.2, result     # the delay was in effect
        assert still_waiting, (times, result)
        assert max(times) < 0.5, f"Bob's NOOPs waited behind Alice's APPEND: {times}"
        typ, data = alice.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] == b"Subject: slow\r\n\r\nslow disk\r\n"
        alice.logout()
        bob.close()
    finally:
        s.cleanup()


def test_append_file_is_created_and_written_by_a_worker(tmp_path):
    """Traced: the open and every write of the message file in tmp/ are
    system calls of a worker thread, never of the event loop (the
    server's main thread); a big literal arrives in many pieces."""
    s = started("message_size = 20M\n")
    out = tmp_path / "trace"
    try:
        alice = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=30)
        alice.login(ALICE, "secret")
        alice.select("INBOX")
        line = b"a line of a big attachment, seventy-five bytes long, written many times\r\n"
        text = b"Subject: big\r\n\r\n" + line * (3 * 1024 * 1024 // len(line))
        trace = Strace(s, "-y", "-e", "trace=openat,write", output=str(out))
        try:
            typ, data = alice.append("INBOX", None, None, text)
        finally:
            trace.stop()
        assert typ == "OK", data
        calls = [ln for ln in out.read_text(errors="replace").splitlines()
                 if "/alice/tmp/" in ln and ("openat(" in ln or "write(" in ln)]
        assert any("openat(" in c for c in calls), calls[:5]
        writes = [c for c in calls if "write(" in c]
        assert len(writes) >= 2, calls[:5]
        on_loop = [c for c in calls if int(c.split()[0]) == s.pid]
        assert not on_loop, f"the event loop touched the message file: {on_loop[:3]}"
        typ, data = alice.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        assert data[0][1] == text
        alice.logout()
    finally:
        s.cleanup()
