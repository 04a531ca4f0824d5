#!/usr/bin/env python3
"""A large IMAP folder: N (default 100,000) small messages written straight
into a Maildir's new/ (as the delivery agent leaves them), then over one
connection: the first SELECT (the index is built and new/ moved to cur/),
warm SELECTs, `UID SEARCH UNSEEN` (the answer: the messages not yet
read, here the last --seen-gap of them), `UID FETCH 1:* (FLAGS)`, and the
index's size on disk per message.  Times run from sending the command to
reading its tagged OK (the client reads the whole answer); medians of R.
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


class Client:
    def __init__(self, port):
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

    def cmd(self, text):
        self.tag += 1
        t = b"t%d " % self.tag
        start = time.monotonic()
        self.sock.sendall(t + text.encode() + b"\r\n")
        line, untagged = self.until(t)
        elapsed = (time.monotonic() - start) * 1000
        if not line.startswith(t + b"OK"):
            raise RuntimeError(line)
        return elapsed, untagged


def fill(server, count, seen):
    md = server.maildir(USER)
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    now = int(time.time())
    for i in range(count):
        text = (f"From: Bench <bench@example.net>\nTo: {USER}\nSubject: message {i}\n"
                f"Message-ID: <{i}@large.bench>\n\nhello {i}\n")
        if i < seen:
            name = os.path.join(md, "cur", f"{now}.L{i}.bench,S={len(text)}:2,S")
        else:
            name = os.path.join(md, "new", f"{now}.L{i}.bench,S={len(text)}")
        with open(name, "w") as f:
            f.write(text)
    os.system(f"chown -R --reference={server.data} {md} 2>/dev/null")


def med(xs):
    return f"{statistics.median(xs):.1f} ms"


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin")
    p.add_argument("-n", "--messages", type=int, default=100000)
    p.add_argument("--unseen", type=int, default=100, help="messages not \\Seen")
    p.add_argument("-r", "--runs", type=int, default=5)
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = os.path.abspath(args.bin)
        import correio_harness  # noqa: E402  (it read the variable at import)
        correio_harness.BIN = os.environ["CORREIO_BIN"]
    extra = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
    with Server(extra_config=extra) as s:
        s.add_user(USER)
        s.start()
        c = Client(s.imap_port)
        c.cmd(f"LOGIN {USER} secret")
        t = time.monotonic()
        fill(s, args.messages, args.messages - args.unseen)
        print(f"large: {args.messages} messages written in {time.monotonic() - t:.1f} s "
              f"({args.unseen} of them not \\Seen)", flush=True)
        first, _ = c.cmd("SELECT INBOX")
        c.cmd("UNSELECT")
        warm, search, fetch = [], [], []
        for _ in range(args.runs):
            warm.append(c.cmd("SELECT INBOX")[0])
            ms, _ = c.cmd("UID SEARCH UNSEEN")
            search.append(ms)
            ms, n = c.cmd("UID FETCH 1:* (FLAGS)")
            fetch.append(ms)
            c.cmd("UNSELECT")
        assert n == args.messages, n
        # one delivery into the selected folder: picked up by a NOOP; the
        # next command's sync then re-reads cur/ (our rename moved its mtime)
        c.cmd("SELECT INBOX")
        deliver_ms, after_ms = [], []
        for k in range(args.runs):
            text = f"From: Bench <bench@example.net>\nSubject: late {k}\n\nhello\n"
            name = os.path.join(s.maildir(USER), "new", f"{int(time.time())}.D{k}.bench")
            with open(name, "w") as f:
                f.write(text)
            os.system(f"chown --reference={s.data} {name} 2>/dev/null")
            deliver_ms.append(c.cmd("NOOP")[0])
            time.sleep(0.1)     # cur/'s new mtime becomes old enough to trust
            after_ms.append(c.cmd("NOOP")[0])
            c.cmd("NOOP")
        c.cmd("UNSELECT")
        other = Client(s.imap_port)
        other.cmd(f"LOGIN {USER} secret")
        other_first, _ = other.cmd("SELECT INBOX")
        md = s.maildir(USER)
        index = sum(os.path.getsize(os.path.join(md, f)) for f in os.listdir(md)
                    if f.startswith("correio-index"))
        cache = sum(os.path.getsize(os.path.join(md, f)) for f in os.listdir(md)
                    if f.startswith("correio-cache"))
        print(f"large: first SELECT (index build) {first:.1f} ms; warm SELECT {med(warm)}; "
              f"SELECT by a second session {other_first:.1f} ms")
        print(f"large: UID SEARCH UNSEEN {med(search)}; UID FETCH 1:* (FLAGS) {med(fetch)} "
              f"(medians of {args.runs})")
        print(f"large: one new delivery: the NOOP that takes it {med(deliver_ms)}, the "
              f"next NOOP {med(after_ms)}")
        print(f"large: index {index / args.messages:.1f} B per message on disk "
              f"(cache {cache / args.messages:.1f} B per message)")


if __name__ == "__main__":
    main()
