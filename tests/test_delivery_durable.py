"""Local delivery makes exactly what it changed durable (issue 11, item 3:
the store is the only mailbox writer): no syncfs(2) of the whole file
system, but an fsync of the Maildir directory that got the message, and
only after that is the message removed from the queue.  And new mail
reaches a selected IMAP session without the server relaying it.

The system calls are watched with strace attached to the running server
(all its threads)."""

import imaplib
import os
import re
import signal
import subprocess
import time

import correio_harness
from correio_harness import Server, send_mail

ALICE = "alice@example.org"
BOB = "bob@example.org"


def attached(text):
    """Threads strace says it attached to."""
    n = 0
    for line in text.decode(errors="replace").splitlines():
        m = re.search(r"attached(?: with (\d+) threads)?", line)
        if m:
            n += int(m.group(1)) if m.group(1) else 1
    return n


class Trace:
    """strace -f on the server's threads, written to a file."""

    def __init__(self, pid, out):
        self.out = out
        correio_harness.strace_path()
        self.proc = subprocess.Popen(
            ["strace", "-f", "-y", "-o", out, "-e",
             "trace=syncfs,sync,fsync,fdatasync,unlink,unlinkat,link,linkat",
             "-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # strace reports each thread it attached to on stderr: wait for
        # all of them (the delivery agent's and the store's workers)
        # ("Process N attached with M threads", or a line per thread)
        threads = len(os.listdir(f"/proc/{pid}/task"))
        deadline = time.time() + 20
        seen = b""
        while attached(seen) < threads and time.time() < deadline:
            seen += self.proc.stderr.read1(4096)
        assert attached(seen) >= threads, seen

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        with open(self.out) as f:
            return f.read().splitlines()


def first_line(lines, rx):
    for i, line in enumerate(lines):
        if re.search(rx, line):
            return i
    return None


def test_batch_flushes_its_directories_not_the_file_system():
    s = Server()
    try:
        s.add_user(ALICE)
        s.add_user(BOB)
        s.start()
        # the Maildirs exist already (a first delivery): only new/ changes
        send_mail(s, "x@example.net", [ALICE, BOB], "Subject: warm\r\n\r\nx\r\n")
        s.wait_messages(ALICE, 1)
        s.wait_messages(BOB, 1)
        s.wait_queue_empty()
        trace = Trace(s.pid, os.path.join(s.dir, "strace.out"))
        try:
            start = len(s.read_log())
            send_mail(s, "x@example.net", [ALICE, BOB], "Subject: one\r\n\r\nx\r\n")
            qid = s.wait_log(r"(\w+): removed", start=start).group(1)
            s.wait_messages(ALICE, 2)
        finally:
            lines = trace.stop()
        text = "\n".join(lines)
        # the delivery agent's thread links the message into the Maildirs;
        # from then on nothing flushes the whole file system (the queue's
        # own flush of the message at acceptance comes before)
        linked = first_line(lines, r"link(at)?\(.*/mail/example\.org/alice/new/")
        assert linked is not None, text[-3000:]
        delivery_tid = lines[linked].split()[0]
        after = lines[linked:]
        assert not [l for l in after if re.search(r"\bsyncfs\(|\bsync\(\)", l)], text[-3000:]
        assert not [l for l in lines if l.split()[0] == delivery_tid and "sync" in l and
                    "fsync(" not in l and "fdatasync(" not in l], text[-3000:]
        alice_new = s.maildir(ALICE) + "/new"
        bob_new = s.maildir(BOB) + "/new"
        # each directory that got the message is flushed once
        fsyncs = [l for l in lines if re.search(r"\bfsync\(\d+<", l)]
        assert len([l for l in fsyncs if alice_new + ">" in l]) == 1, text[-3000:]
        assert len([l for l in fsyncs if bob_new + ">" in l]) == 1, text[-3000:]
        # the queue lets go of the message only once both are on disk
        removed = first_line(lines, r"unlink(at)?\(.*%s" % qid)
        assert removed is not None, text[-3000:]
        for d in (alice_new, bob_new):
            flushed = first_line(lines, r"\bfsync\(\d+<%s>" % re.escape(d))
            assert flushed is not None and flushed < removed, text[-3000:]
    finally:
        s.cleanup()


def test_new_mail_reaches_an_idle_session():
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\n")
    try:
        s.add_user(ALICE)
        s.start()
        imap = imaplib.IMAP4("127.0.0.1", s.imap_port)
        imap.login(ALICE, "secret")
        imap.select("INBOX")
        tag = imap._new_tag().decode()
        imap.send(f"{tag} IDLE\r\n".encode())
        assert imap.readline().startswith(b"+")
        send_mail(s, "x@example.net", [ALICE], "Subject: idle\r\n\r\nx\r\n")
        imap.sock.settimeout(10)
        assert imap.readline().strip() == b"* 1 EXISTS"
        imap.send(b"DONE\r\n")
        while not imap.readline().startswith(tag.encode()):
            pass
        imap.logout()
    finally:
        s.cleanup()
