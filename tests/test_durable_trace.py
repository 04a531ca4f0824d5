"""Durability, watched with strace.  SMTP: between the 354 and the 250 of
a DATA, the server makes exactly the message's files durable (its text
and its envelope), then puts the envelope in place, then flushes the
spool directory, and only then answers 250.  IMAP APPEND: the message
file is flushed in tmp/, renamed into cur/, cur/ is flushed, then OK,
and nothing else is flushed for it (the index is rebuilt from the
Maildir if lost).  No syncfs(2) anywhere: flushing the whole file system
would also wait for every other program's writes."""

import os
import re
import shutil
import signal
import imaplib
import smtplib
import socket
import subprocess
import time

import pytest

import correio_harness
from correio_harness import Server

ALICE = "alice@example.org"
STRACE = shutil.which("strace")

# "PID HH:MM:SS.ffffff name(args) = result", or a call that another
# thread's call interrupted in the output: "PID TIME name(args <unfinished
# ...>" and later "PID TIME <... name resumed>rest) = result"
LINE_RE = re.compile(r"^(\d+)\s+[\d:.]+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")
UNFINISHED_RE = re.compile(r"^(\d+)\s+[\d:.]+\s+(\w+)\((.*) <unfinished \.\.\.>$")
RESUMED_RE = re.compile(r"^(\d+)\s+[\d:.]+\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(-?\d+)")


def serve_child(parent):
    try:
        with open(f"/proc/{parent}/task/{parent}/children") as f:
            children = [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return None
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv[0] == correio_harness.BIN.encode() and b"serve" in argv:
            return child
    return None


@pytest.fixture
def traced(tmp_path):
    """A server started under strace (strace its parent, so that no
    ptrace policy stands in the way), the path of the trace, and the
    function that stops them."""
    correio_harness.strace_path()
    out = str(tmp_path / "strace.out")
    env = correio_harness.env_under_ptrace()
    s = Server()
    s.add_user(ALICE)
    log = open(s.log_path, "ab")
    st = subprocess.Popen([STRACE, "-f", "-tt", "-y", "-s", "300", "-o", out,
                           "-e", "trace=syncfs,sync,fsync,fdatasync,sync_file_range,"
                           "rename,renameat,renameat2,write,writev,sendto,sendmsg",
                           "--", correio_harness.BIN, "-c", s.conf, "serve"],
                          stdout=log, stderr=log, env=env)
    pid = None

    def stop():
        """Stop the server, and strace with it (strace holds fatal
        signals while it runs a command); the trace is then complete."""
        if st.returncode is not None:
            return
        try:
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
            st.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            st.kill()
            st.wait()

    try:
        deadline = time.time() + 20
        while True:
            assert st.poll() is None, "server exited:\n" + s.read_log()
            assert time.time() < deadline, "server did not start:\n" + s.read_log()
            # strace's child running `correio serve` (strace first forks
            # a short-lived child of its own: not that one)
            if pid is None:
                pid = serve_child(st.pid)
            if pid is not None and os.path.exists(os.path.join(s.data, "control.sock")):
                try:
                    socket.create_connection(("127.0.0.1", s.smtp_port), 0.5).close()
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        yield s, out, stop
    finally:
        stop()
        log.close()
        s.cleanup()


def parse(path):
    """The calls as (name, args, result), in the order they returned."""
    calls, started = [], {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = LINE_RE.match(line)
            if m:
                calls.append((m.group(2), m.group(3), int(m.group(4))))
                continue
            m = UNFINISHED_RE.match(line)
            if m:
                started[m.group(1)] = (m.group(2), m.group(3))
                continue
            m = RESUMED_RE.match(line)
            if m and m.group(1) in started:
                name, args = started.pop(m.group(1))
                calls.append((name, args + m.group(3), int(m.group(4))))
    return calls


def reply_index(calls, code, start=0):
    """Index of the first write of an SMTP reply with this code to a socket."""
    for i in range(start, len(calls)):
        name, args, _ = calls[i]
        if name in ("write", "writev", "sendto", "sendmsg") and "socket:" in args and \
                re.search(r'"%d[ -]' % code, args):
            return i
    raise AssertionError(f"no {code} reply written")


def test_reception_flushes_its_files_then_the_spool_without_syncfs(traced):
    server, out, stop = traced
    spool = os.path.join(server.data, "queue")
    for n in range(3):
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as c:
            c.sendmail("s@example.net", [ALICE], f"Subject: durable {n}\r\n\r\nbody\r\n")
        # delivered, and the delivery agent done with it
        server.wait_messages(ALICE, n + 1)
        server.wait_queue_empty()
    stop()
    calls = parse(out)

    start = 0
    for n in range(3):
        data = reply_index(calls, 354, start)
        ok = reply_index(calls, 250, data)
        window = calls[data:ok]
        start = ok + 1
        names = [c[0] for c in window]
        assert "syncfs" not in names and "sync" not in names, (n, window)

        def first(pred, what):
            for i, (name, args, result) in enumerate(window):
                if pred(name, args):
                    assert result == 0, (what, window[i])
                    return i
            raise AssertionError(f"message {n}: no {what} before the 250: {window}")

        text = first(lambda name, a: name in ("fsync", "fdatasync") and
                     re.search(r"<%s/\w+\.msg>" % re.escape(spool), a), "flush of the text")
        env = first(lambda name, a: name in ("fsync", "fdatasync") and
                    re.search(r"<%s/\w+\.env\.new>" % re.escape(spool), a),
                    "flush of the envelope")
        put = first(lambda name, a: name.startswith("rename") and
                    re.search(r'\.env\.new".*\.env"', a), "rename of the envelope")
        spool_flush = first(lambda name, a: name in ("fsync", "fdatasync") and
                            a.startswith("%s<%s>" % (a.split("<")[0], spool)),
                            "flush of the spool directory")
        assert text < put and env < put < spool_flush, window


def test_append_flushes_the_file_then_cur_and_nothing_else(traced):
    server, out, stop = traced
    server.cli("user", "add", "bob@example.org", "--password-stdin", stdin="secret\n")
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login("bob@example.org", "secret")
    m.create("Sent")
    m.select("INBOX")
    for n in range(3):
        for folder in ("INBOX", "Sent"):
            typ, _ = m.append(folder, None, None,
                              f"Subject: append {n}\r\n\r\nbody\r\n".encode())
            assert typ == "OK"
    m.logout()
    stop()
    calls = parse(out)
    root = os.path.join(server.data, "mail", "example.org", "bob")

    start = 0
    for n in range(6):
        ready = next(i for i in range(start, len(calls)) if calls[i][0] == "writev" and
                     "socket:" in calls[i][1] and '"+ ' in calls[i][1])
        ok = next(i for i in range(ready, len(calls)) if "socket:" in calls[i][1] and
                  "OK [APPENDUID" in calls[i][1])
        window = calls[ready:ok]
        start = ok + 1
        names = [c[0] for c in window]
        assert "syncfs" not in names and "sync" not in names, (n, window)
        flushes = [c for c in window if c[0] in ("fsync", "fdatasync")]
        renames = [c for c in window if c[0].startswith("rename")]
        if n < 2:
            # the first APPEND into a folder may load it, and write its
            # files (index, UIDVALIDITY) and their directory then; later
            # ones find it in memory
            def folder_files(c):
                return re.search(r'/correio-[^/>"]*[>"]', c[1]) or \
                    re.search(r"<%s(/\.[^/>]+)?>$" % re.escape(root), c[1])
            flushes = [c for c in flushes if not folder_files(c)]
            renames = [c for c in renames if not folder_files(c)]
        assert len(flushes) == 2, (n, flushes)
        assert len(renames) == 1, (n, renames)
        # the file, in tmp/ of its folder, then the folder's cur/
        m1 = re.match(r"\d+<(%s(?:/[^/>]+)?)/tmp/([^/>]+)>$" % re.escape(root), flushes[0][1])
        assert m1 and flushes[0][2] == 0, (n, flushes)
        folder, name = m1.groups()
        assert re.search(r'"%s/tmp/%s".*"%s/cur/%s[,:]' % (
            re.escape(folder), re.escape(name), re.escape(folder), re.escape(name)),
            renames[0][1]), (n, renames)
        assert flushes[1][1].endswith("<%s/cur>" % folder) and flushes[1][2] == 0, (n, flushes)
        assert window.index(flushes[0]) < window.index(renames[0]) < window.index(flushes[1])
