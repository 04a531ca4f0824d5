#!/usr/bin/env python3
"""IMAP idle sessions at scale.

Opens C (default 10,000) concurrent IMAP sessions that each LOGIN (as one
of U users, default 100, whose INBOX holds M messages), SELECT INBOX and
IDLE, and stay.  The client spreads its connections over several source
addresses (127.0.0.2 ... 127.0.0.N) so that one address's ephemeral ports
do not run out, and raises its own descriptor limit to the hard limit (the
server raises its soft limit to the hard one at start).

Reported: the server's RSS before (after a warm-up of a few sessions) and
with every session idling, the growth per session in KiB; then, with all
of them still idling, the latency of new logins (connect, greeting, LOGIN
until its tagged OK; median of L) against what one password hash costs
here (yescrypt, libxcrypt's default cost, measured in this process), and
against the same logins timed before any session was opened.
"""

import argparse
import ctypes
import os
import resource
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from correio_harness import Server  # noqa: E402

PASSWORD = "bench-password"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def yescrypt_ms():
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt_gensalt.restype = ctypes.c_char_p
    salt = lib.crypt_gensalt(b"$y$", 0, None, 0)
    times = []
    for _ in range(20):
        t = time.monotonic()
        lib.crypt(PASSWORD.encode(), salt)
        times.append(time.monotonic() - t)
    return statistics.median(times) * 1000


def fill(server, address, count):
    md = server.maildir(address)
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    now = int(time.time())
    for i in range(count):
        text = (f"From: Bench <bench@example.net>\nTo: {address}\nSubject: message {i}\n"
                f"Date: Fri, 27 Nov 2026 05:00:00 +0000\nMessage-ID: <{i}@idle.bench>\n\n"
                + "x" * 500 + "\n")
        with open(os.path.join(md, "new", f"{now}.I{i}.bench,S={len(text)}"), "w") as f:
            f.write(text)
    os.system(f"chown -R --reference={server.data} {md} 2>/dev/null")


class Conn:
    def __init__(self, port, source):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def until(self, prefix):
        while True:
            i = self.buf.find(b"\r\n")
            while i < 0:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError(self.buf)
                self.buf += chunk
                i = self.buf.find(b"\r\n")
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            if line.startswith(prefix):
                return line


def open_batch(port, sources, users, start, n):
    """n sessions, each through LOGIN, SELECT and IDLE, pipelined by
    step over the batch (every socket's command sent, then each answer)."""
    conns = [Conn(port, sources[(start + k) % len(sources)]) for k in range(n)]
    for c in conns:
        c.until(b"* OK")
    for k, c in enumerate(conns):
        c.send(b"a LOGIN %s %s\r\n" % (users[(start + k) % len(users)].encode(),
                                       PASSWORD.encode()))
    for c in conns:
        line = c.until(b"a ")
        if not line.startswith(b"a OK"):
            raise RuntimeError(line)
    for c in conns:
        c.send(b"b SELECT INBOX\r\nc IDLE\r\n")
    for c in conns:
        c.until(b"b OK")
        c.until(b"+ ")
    return conns


def login_latency(port, user):
    t = time.monotonic()
    c = Conn(port, "127.0.0.1")
    c.until(b"* OK")
    c.send(b"a LOGIN %s %s\r\n" % (user.encode(), PASSWORD.encode()))
    line = c.until(b"a ")
    elapsed = time.monotonic() - t
    assert line.startswith(b"a OK"), line
    c.send(b"b LOGOUT\r\n")
    c.sock.close()
    return elapsed * 1000


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin")
    p.add_argument("-c", "--connections", type=int, default=10000)
    p.add_argument("-u", "--users", type=int, default=100)
    p.add_argument("-m", "--messages", type=int, default=20, help="messages per INBOX")
    p.add_argument("-s", "--sources", type=int, default=8, help="client addresses 127.0.0.x")
    p.add_argument("-b", "--batch", type=int, default=250)
    p.add_argument("-l", "--logins", type=int, default=21, help="new logins timed under load")
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = os.path.abspath(args.bin)
        import correio_harness  # noqa: E402  (it read the variable at import)
        correio_harness.BIN = os.environ["CORREIO_BIN"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 200
    if hard < need:
        sys.exit(f"descriptor hard limit {hard} < {need}: raise it (ulimit -Hn) first")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sources = [f"127.0.0.{2 + i}" for i in range(args.sources)]
    extra = (f"[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
             f"[limits]\nconnections = {args.connections + 100}\n"
             f"connections_per_client = {args.connections + 100}\n")
    with Server(extra_config=extra) as s:
        users = [f"idle{i}@example.org" for i in range(args.users)]
        for u in users:
            s.add_user(u, PASSWORD)
        # the server's own descriptor limit: its soft limit goes to the hard
        # one at start; the child inherits ours
        s.start()
        for u in users:
            c = Conn(s.imap_port, "127.0.0.1")
            c.until(b"* OK")
            c.send(b"a LOGIN %s %s\r\nb LOGOUT\r\n" % (u.encode(), PASSWORD.encode()))
            c.until(b"b ")
            c.sock.close()
            fill(s, u, args.messages)
        quiet = [login_latency(s.imap_port, users[i % len(users)]) for i in range(args.logins)]
        warm = open_batch(s.imap_port, sources, users, 0, 10)
        time.sleep(0.5)
        pid = s.proc.pid
        before = rss_kib(pid)
        conns = list(warm)
        t0 = time.monotonic()
        while len(conns) < args.connections + len(warm):
            n = min(args.batch, args.connections + len(warm) - len(conns))
            conns += open_batch(s.imap_port, sources, users, len(conns), n)
        setup = time.monotonic() - t0
        time.sleep(1)
        after = rss_kib(pid)
        per = (after - before) / args.connections
        print(f"idle: {args.connections} sessions logged in, INBOX ({args.messages} messages) "
              f"selected, in IDLE, from {len(sources)} addresses (set up in {setup:.1f} s)")
        print(f"idle: server RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB: "
              f"{per:.1f} KiB per session")
        hash_ms = yescrypt_ms()
        lat = [login_latency(s.imap_port, users[i % len(users)]) for i in range(args.logins)]
        med = statistics.median(lat)
        quiet_med = statistics.median(quiet)
        print(f"idle: a new login under that load: median {med:.1f} ms (min {min(lat):.1f}, "
              f"max {max(lat):.1f}) over {args.logins}, against {quiet_med:.1f} ms with no "
              f"session open ({med - quiet_med:+.1f} ms); one yescrypt hash in this process "
              f"{hash_ms:.1f} ms (login path {med - hash_ms:+.1f} ms)")
        for c in conns:
            c.sock.close()


if __name__ == "__main__":
    main()
