#!/usr/bin/env python3
"""A large IMAP folder: N (default 100,000) small messages written straight
into a Maildir (the last --unseen of them in new/, as the delivery agent
leaves them, the others in cur/ without W= in their names, as another
program leaves them), then over one connection: the first SELECT (the
index is built and new/ moved to cur/; median of --first-runs folders
built afresh, each in its own account), warm SELECTs, `UID SEARCH UNSEEN`
(the answer: the messages not yet read), `UID FETCH 1:* (FLAGS)`, the
first and a later `UID FETCH 1:* (RFC822.SIZE)` (the sizes of files found
in cur/ are read when first wanted), a QRESYNC SELECT after another
session changed the flags of 100 messages, one delivery taken in by a
NOOP (and the bytes it added to the index files), and the index's size on
disk per message.  Times run from sending the command to reading its
tagged OK (the client reads the whole answer); medians of R.  The
server's CPU time (its main thread) is given beside the first SELECT: on
a loaded machine the wall time also holds the wait for a core.
"""

import argparse
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from correio_harness import Server  # noqa: E402

USER = "large@example.org"


def cpu_ms(pid):
    """CPU time of the server's main thread (the event loop), in ms."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e6
    except OSError:
        return 0.0


class Client:
    def __init__(self, port, pid=None):
        self.pid = pid          # the server's: CPU time of each command
        self.cpu = 0.0
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.tag = 0
        self.until(b"* OK")

    def until(self, prefix):
        """Lines up to the one starting with prefix; (it, lines before).
        Reads with an offset into the buffer: a big answer costs the
        client linear time."""
        count = 0
        pos = 0
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i < 0:
                self.buf = self.buf[pos:]
                pos = 0
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise EOFError
                self.buf += chunk
                continue
            if self.buf.startswith(prefix, pos):
                line = self.buf[pos:i]
                self.buf = self.buf[i + 2:]
                return line, count
            count += 1
            pos = i + 2

    def lines(self, text):
        """Send a command with a short answer: its lines, the tagged last."""
        self.tag += 1
        t = b"t%d " % self.tag
        self.sock.sendall(t + text.encode() + b"\r\n")
        out = []
        while True:
            line, _ = self.until(b"")
            out.append(line)
            if line.startswith(t):
                return out

    def cmd(self, text):
        self.tag += 1
        t = b"t%d " % self.tag
        c0 = cpu_ms(self.pid)
        start = time.monotonic()
        self.sock.sendall(t + text.encode() + b"\r\n")
        line, untagged = self.until(t)
        elapsed = (time.monotonic() - start) * 1000
        self.cpu = cpu_ms(self.pid) - c0
        if not line.startswith(t + b"OK"):
            raise RuntimeError(line)
        return elapsed, untagged


def make_template(server, count, seen):
    """The messages, written once under the server's directory: the last
    count - seen of them for new/, the others for cur/ (names without
    W=, as another program leaves them)."""
    tpl = os.path.join(server.dir, "template")
    for d in ("new", "cur"):
        os.makedirs(os.path.join(tpl, d), exist_ok=True)
    now = int(time.time())
    for i in range(count):
        text = (f"From: Bench <bench@example.net>\nTo: {USER}\nSubject: message {i}\n"
                f"Message-ID: <{i}@large.bench>\n\nhello {i}\n")
        if i < seen:
            name = os.path.join(tpl, "cur", f"{now}.L{i}.bench,S={len(text)}:2,S")
        else:
            name = os.path.join(tpl, "new", f"{now}.L{i}.bench,S={len(text)}")
        with open(name, "w") as f:
            f.write(text)
    os.system(f"chown -R --reference={server.data} {tpl} 2>/dev/null")
    return tpl


def fill(server, tpl, user):
    """user's INBOX: hard links to the template's files (a new Maildir
    costs no disk blocks, and removing it later no discards)."""
    md = server.maildir(user)
    os.makedirs(os.path.join(md, "tmp"), exist_ok=True)
    for d in ("new", "cur"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
        for name in os.listdir(os.path.join(tpl, d)):
            os.link(os.path.join(tpl, d, name), os.path.join(md, d, name))
    os.system(f"chown -R --reference={server.data} {md} 2>/dev/null")


def med(xs):
    return f"{statistics.median(xs):.1f} ms"


def first_select(s, c, tpl, user):
    """Fill user's INBOX and time its first SELECT: (wall ms, CPU ms)."""
    t = time.monotonic()
    fill(s, tpl, user)
    print(f"large: {user}'s INBOX filled in {time.monotonic() - t:.1f} s", flush=True)
    time.sleep(1)       # the store's workers finish the previous folder
    ms, _ = c.cmd("SELECT INBOX")
    cpu = c.cpu
    c.cmd("UNSELECT")
    return ms, cpu


def index_bytes(md):
    return sum(os.path.getsize(os.path.join(md, f)) for f in os.listdir(md)
               if f.startswith("correio-index"))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin")
    p.add_argument("-n", "--messages", type=int, default=100000)
    p.add_argument("--unseen", type=int, default=100, help="messages not \\Seen")
    p.add_argument("-r", "--runs", type=int, default=5)
    p.add_argument("--first-runs", type=int, default=5,
                   help="folders built afresh for the first SELECT's median")
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = os.path.abspath(args.bin)
        import correio_harness  # noqa: E402  (it read the variable at import)
        correio_harness.BIN = os.environ["CORREIO_BIN"]
    extra = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
    with Server(extra_config=extra) as s:
        s.add_user(USER)
        s.start()
        pid = s.proc.pid
        t = time.monotonic()
        tpl = make_template(s, args.messages, args.messages - args.unseen)
        print(f"large: {args.messages} messages written in {time.monotonic() - t:.1f} s "
              f"({args.unseen} of them not \\Seen)", flush=True)
        c = Client(s.imap_port, pid)
        c.cmd(f"LOGIN {USER} secret")
        firsts = [first_select(s, c, tpl, USER)]
        warm, search, fetch, fetch_cpu = [], [], [], []
        for _ in range(args.runs):
            warm.append(c.cmd("SELECT INBOX")[0])
            ms, _ = c.cmd("UID SEARCH UNSEEN")
            search.append(ms)
            ms, n = c.cmd("UID FETCH 1:* (FLAGS)")
            fetch.append(ms)
            fetch_cpu.append(c.cpu)
            c.cmd("UNSELECT")
        assert n == args.messages, n
        # the sizes: read from the files found in cur/ at the first
        # request, from the index afterwards
        c.cmd("SELECT INBOX")
        size_first, n = c.cmd("UID FETCH 1:* (RFC822.SIZE)")
        size_first_cpu = c.cpu
        assert n == args.messages, n
        size_later = [c.cmd("UID FETCH 1:* (RFC822.SIZE)")[0] for _ in range(args.runs)]
        c.cmd("UNSELECT")

        # QRESYNC: another session changes the flags of 100 messages
        # spread over the folder; the first session's SELECT with its
        # HIGHESTMODSEQ gets those 100 back, not the folder
        q = Client(s.imap_port)
        q.cmd(f"LOGIN {USER} secret")
        q.cmd("ENABLE QRESYNC")
        qres, qlines = [], []
        other = Client(s.imap_port)
        other.cmd(f"LOGIN {USER} secret")
        other.cmd("SELECT INBOX")
        step = max(1, args.messages // 100)
        for k in range(args.runs):
            text = b"\n".join(q.lines("SELECT INBOX"))
            uidv = int(text.split(b"[UIDVALIDITY ")[1].split(b"]")[0])
            modseq = int(text.split(b"[HIGHESTMODSEQ ")[1].split(b"]")[0])
            q.cmd("UNSELECT")
            uids = ",".join(str(1 + k + i * step) for i in range(100))
            other.cmd(f"UID STORE {uids} {'-' if k % 2 else '+'}FLAGS.SILENT (\\Flagged)")
            ms, n = q.cmd(f"SELECT INBOX (QRESYNC ({uidv} {modseq}))")
            qres.append(ms)
            qlines.append(n)
            q.cmd("UNSELECT")
        other.cmd("UNSELECT")

        # one delivery into the selected folder: picked up by a NOOP; the
        # next command's sync then re-reads cur/ (our rename moved its mtime)
        c.cmd("SELECT INBOX")
        md = s.maildir(USER)
        deliver_ms, after_ms, grown = [], [], []
        for k in range(args.runs):
            text = f"From: Bench <bench@example.net>\nSubject: late {k}\n\nhello\n"
            name = os.path.join(md, "new", f"{int(time.time())}.D{k}.bench")
            before = index_bytes(md)
            with open(name, "w") as f:
                f.write(text)
            os.system(f"chown --reference={s.data} {name} 2>/dev/null")
            deliver_ms.append(c.cmd("NOOP")[0])
            grown.append(index_bytes(md) - before)
            time.sleep(0.1)     # cur/'s new mtime becomes old enough to trust
            after_ms.append(c.cmd("NOOP")[0])
            c.cmd("NOOP")
        c.cmd("UNSELECT")
        second = Client(s.imap_port)
        second.cmd(f"LOGIN {USER} secret")
        other_first, _ = second.cmd("SELECT INBOX")
        second.cmd("LOGOUT")
        index = index_bytes(md)
        cache = sum(os.path.getsize(os.path.join(md, f)) for f in os.listdir(md)
                    if f.startswith("correio-cache"))

        # more first SELECTs, each of a folder built afresh in its own account
        for k in range(1, args.first_runs):
            user = f"large{k}@example.org"
            s.add_user(user)
            ck = Client(s.imap_port, pid)
            ck.cmd(f"LOGIN {user} secret")
            firsts.append(first_select(s, ck, tpl, user))
            ck.cmd("LOGOUT")

        walls = [w for w, _ in firsts]
        cpus = [u for _, u in firsts]
        print(f"large: first SELECT (index build) {med(walls)} (median of {len(firsts)}: "
              + ", ".join(f"{w:.0f}" for w in walls)
              + f"; server CPU {med(cpus)})")
        print(f"large: warm SELECT {med(warm)}; SELECT by a second session {other_first:.1f} ms")
        print(f"large: UID SEARCH UNSEEN {med(search)}; UID FETCH 1:* (FLAGS) {med(fetch)} "
              f"(server CPU {med(fetch_cpu)}) (medians of {args.runs})")
        print(f"large: UID FETCH 1:* (RFC822.SIZE): first {size_first:.1f} ms (server CPU "
              f"{size_first_cpu:.1f} ms; sizes of files found in cur/ read by then, or "
              f"now), later {med(size_later)}")
        print(f"large: QRESYNC SELECT after 100 flag changes {med(qres)} "
              f"({statistics.median(qlines):.0f} untagged lines)")
        print(f"large: one new delivery: the NOOP that takes it {med(deliver_ms)}, the "
              f"next NOOP {med(after_ms)}; index files grew {statistics.median(grown):.0f} B")
        print(f"large: index {index / args.messages:.1f} B per message on disk "
              f"(cache {cache / args.messages:.1f} B per message)")


if __name__ == "__main__":
    main()
