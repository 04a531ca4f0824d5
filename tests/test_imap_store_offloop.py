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


# ---- STORE ----

def drop_many(server, address, count):
    """count small messages straight into cur/, named as another Maildir
    program would (sizes in the name: indexed without a read)."""
    md = server.maildir(address)
    st = os.stat(md)
    for i in range(count):
        text = b"Subject: m%d\n\nbody %d\n" % (i, i)
        vsize = len(text) + text.count(b"\n")
        p = os.path.join(md, "cur", f"1700000000.M{i}P1.drop,S={len(text)},W={vsize}:2,")
        with open(p, "wb") as f:
            f.write(text)
        os.chown(p, st.st_uid, st.st_gid)


def flag_letters(server, address):
    """UID -> the flag letters of its file name in cur/ (files named
    without U= are left out)."""
    out = {}
    for n in os.listdir(os.path.join(server.maildir(address), "cur")):
        m = re.search(r",U=(\d+)", n)
        if m and ":2," in n:
            out[int(m.group(1))] = n.split(":2,", 1)[1]
    return out


def wait_letters(server, address, count, letter, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        have = flag_letters(server, address)
        done = [u for u, f in have.items() if letter in f]
        if len(done) == count or time.monotonic() > deadline:
            return have
        time.sleep(0.05)


def slow_renames(server, delay_us):
    return Strace(server, "-e", "trace=rename,renameat,renameat2",
                  "-e", f"inject=rename,renameat,renameat2:delay_enter={delay_us}")


def alice_with_messages(server, count):
    drop_many(server, ALICE, count)
    c = Imap(server.imap_port, timeout=120)
    c.ok(f"LOGIN {ALICE} secret")
    c.ok("SELECT INBOX")
    return c


def test_slow_renames_of_a_big_store_do_not_stall_another_session():
    """Every rename is held 3 ms: STORE of \\Seen on 1,000 messages means
    3 s of renames.  Alice's STORE is answered at once (the index has the
    flags), Bob's NOOPs go on meanwhile, and the file names follow."""
    s = started()
    try:
        alice = alice_with_messages(s, 1000)
        bob = bob_session(s.imap_port)
        trace = slow_renames(s, 3000)
        try:
            t = time.monotonic()
            alice.ok("STORE 1:* +FLAGS.SILENT (\\Seen)")
            store_took = time.monotonic() - t
            times = noop_times(bob, 10, 0.05)
            renamed = len([f for f in flag_letters(s, ALICE).values() if "S" in f])
            untagged = alice.ok("SEARCH UNSEEN")
            assert untagged == [b"* SEARCH"], untagged
            have = wait_letters(s, ALICE, 1000, "S")
        finally:
            trace.stop()
        assert store_took < 1.0, f"STORE waited for its renames: {store_took:.2f} s"
        assert max(times) < 0.5, f"Bob's NOOPs waited behind Alice's renames: {times}"
        assert renamed < 1000, "the renames were over before the NOOPs: no delay in effect"
        assert len(have) == 1000 and all(f == "S" for f in have.values()), have
        alice.close()
        bob.close()
    finally:
        s.cleanup()


def test_messages_are_read_while_their_files_are_renamed():
    """While the renames of a STORE are under way, another IMAP session
    fetches every body, POP3 retrieves every message and a second STORE
    changes the flags again: everything is found under whatever name its
    file has at that moment, and the names end as the index says."""
    s = started()
    try:
        alice = alice_with_messages(s, 300)
        trace = slow_renames(s, 3000)
        try:
            alice.ok("STORE 1:* +FLAGS.SILENT (\\Flagged)")
            other = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=60)
            other.login(ALICE, "secret")
            other.select("INBOX", readonly=True)
            typ, data = other.fetch("1:*", "(FLAGS BODY.PEEK[])")
            assert typ == "OK"
            got = [d for d in data if isinstance(d, tuple)]
            assert len(got) == 300
            for head, body in got:
                assert b"\\Flagged" in head, head
                n = int(re.search(rb"Subject: m(\d+)", body).group(1))
                assert body == b"Subject: m%d\r\n\r\nbody %d\r\n" % (n, n)
            pop = poplib.POP3("127.0.0.1", s.pop3_port, timeout=60)
            pop.user(ALICE)
            pop.pass_("secret")
            count, _ = pop.stat()
            assert count == 300
            for i in (1, 150, 300):
                lines = pop.retr(i)[1]
                assert lines[0].startswith(b"Subject: m"), lines
            pop.quit()
            alice.ok("STORE 1:100 -FLAGS.SILENT (\\Flagged)")
            alice.ok("STORE 1:50 +FLAGS.SILENT (\\Answered)")
            other.logout()
            deadline = time.monotonic() + 60
            while True:
                have = flag_letters(s, ALICE)
                want = {u: ("R" if u <= 50 else "") + ("F" if u > 100 else "")
                        for u in range(1, 301)}
                if have == want or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            trace.stop()
        assert have == want
        alice.close()
    finally:
        s.cleanup()


def test_kill_9_while_renames_are_pending_keeps_the_acknowledged_flags():
    """The server is killed while most renames of an acknowledged STORE
    are still to be made.  After the restart every message has the flags
    STORE acknowledged, and the file names are put right to match."""
    s = started()
    try:
        alice = alice_with_messages(s, 500)
        trace = slow_renames(s, 10000)
        try:
            alice.ok("STORE 1:* +FLAGS.SILENT (\\Flagged \\Seen)")
            alice.ok("STORE 1:10 -FLAGS.SILENT (\\Seen)")
            time.sleep(0.3)
            before = flag_letters(s, ALICE)
            assert s.kill() == -9
        finally:
            trace.stop()
        pending = [u for u in range(1, 501) if before.get(u) != ("F" if u <= 10 else "FS")]
        assert len(pending) > 100, "the renames were done before the kill"
        s.start()
        c = imaplib.IMAP4("127.0.0.1", s.imap_port, timeout=60)
        c.login(ALICE, "secret")
        c.select("INBOX", readonly=True)
        typ, data = c.fetch("1:*", "(UID FLAGS)")
        flags = {}
        for line in data:
            m = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", line)
            flags[int(m.group(1))] = set(m.group(2).split())
        assert len(flags) == 500
        wrong = [u for u, f in flags.items()
                 if f != ({b"\\Flagged"} if u <= 10 else {b"\\Flagged", b"\\Seen"})]
        assert not wrong, f"flags not as acknowledged: {wrong[:10]} {flags[wrong[0]]}"
        have = wait_letters(s, ALICE, 500, "F", timeout=30)
        assert have == {u: ("F" if u <= 10 else "FS") for u in range(1, 501)}
        c.logout()
    finally:
        s.cleanup()
