#!/usr/bin/env python3
"""IMAP benchmarks.

  fetch   LOGIN + SELECT + FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE) +
          FETCH 1:* BODY.PEEK[] on a folder of M messages (default 1,000
          of 7.5 KiB: 7.5 MB), warm (a first pass fills the index and the
          cache); median of R runs.  Also the same on 10,000 messages.
  idle    memory per idle authenticated connection: RSS of the server
          before and after opening C connections that LOGIN and stay.
  logins  sequential LOGIN/LOGOUT per second, and the time a login adds to
          the password hash itself.
  steady  an imaptest-like steady state: C clients (default 20, one process
          each) logged in once as random users among U (default 100) and
          never logging out, each looping over a random mix of SELECT,
          FETCH (flags/envelope, body), STORE, SEARCH, APPEND (LITERAL+),
          COPY and STORE \Deleted + EXPUNGE for S seconds (default 30);
          ops/s, median of R runs, and the count of each command.
  append  APPEND over one connection from Python's imaplib (literal and
          CRLF in two writes) and from a client that sends each APPEND in
          one write with LITERAL+: messages/s, median of R runs of N.
  tlslogins  C parallel clients (--tls-clients, default 8, one process
          each) doing imaps connect (a full TLS handshake, RSA-2048
          certificate) + LOGOUT, then connect + LOGIN + LOGOUT, for
          --seconds: connections/s, and the CPU the server's loop (main)
          thread and the whole server spent per connection; median of R
          runs each.
  With --tls, steady's clients use imaps (one handshake each, then the
  mix over TLS).  steady and tlslogins report the loop thread's and the
  server's CPU during the measured part.

Messages are written straight into the Maildir as the delivery agent does.
"""

import argparse
import os
import resource
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from correio_harness import Server  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fill(server, address, count, size):
    new = os.path.join(server.maildir(address), "new")
    os.makedirs(new, exist_ok=True)
    for d in ("cur", "tmp"):
        os.makedirs(os.path.join(server.maildir(address), d), exist_ok=True)
    body = ("x" * 76 + "\n") * max(1, (size - 300) // 77)
    now = int(time.time())
    for i in range(count):
        text = (f"Return-Path: <bench@example.net>\nFrom: Bench <bench@example.net>\n"
                f"To: {address}\nSubject: message {i}\nDate: Fri, 27 Nov 2026 05:00:00 +0000\n"
                f"Message-ID: <{i}@bench>\n\n{body}")
        with open(os.path.join(new, f"{now}.B{i}.bench,S={len(text)}"), "w") as f:
            f.write(text)
    os.system(f"chown -R --reference={server.data} {server.maildir(address)} 2>/dev/null")


def cpu_seconds(pid):
    """(loop thread, whole process) CPU seconds so far: the loop is the
    main thread (its tid is the pid)."""
    tick = os.sysconf("SC_CLK_TCK")
    loop = total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue        # a thread that just ended
        ticks = int(fields[11]) + int(fields[12])
        total += ticks
        if int(tid) == pid:
            loop = ticks
    return loop / tick, total / tick


def rsa_server(extra):
    """A Server serving an RSA-2048 certificate (the usual kind for mail
    servers), with extra configuration."""
    import subprocess
    s = Server()
    pem = os.path.join(s.dir, "rsa.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    pem, "-out", pem + ".crt", "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    with open(pem, "a") as f, open(pem + ".crt") as crt:
        f.write(crt.read())
    os.chmod(pem, 0o644)
    s.write_config("example.org, localhost", f"[tls]\ncertificate = {pem}\nkey = {pem}\n{extra}")
    return s


TLS_CONTEXT = []


def tls_context():
    """One client context per process (making one loads the system's CAs)."""
    import ssl
    if not TLS_CONTEXT:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        TLS_CONTEXT.append(ctx)
    return TLS_CONTEXT[0]


class Client:
    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port))
        if tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.tag = 0
        self.exists = 0     # messages in the selected folder, from the updates
        self.read_until(b"* OK")

    def read_until(self, prefix):
        total = 0
        while True:
            i = self.buf.find(b"\r\n")
            while i < 0:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise EOFError
                total += len(chunk)
                self.buf += chunk
                i = self.buf.find(b"\r\n")
            # skip literals quickly: {n}\r\n + n bytes
            line = self.buf[:i]
            if line.endswith(b"}") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-1])
                need = i + 2 + n
                while len(self.buf) < need:
                    chunk = self.sock.recv(1 << 20)
                    if not chunk:
                        raise EOFError
                    total += len(chunk)
                    self.buf += chunk
                self.buf = self.buf[need:]
                continue
            self.buf = self.buf[i + 2:]
            if line.startswith(b"* ") and line.endswith((b" EXISTS", b" EXPUNGE")):
                n = int(line.split()[1])
                self.exists = n if line.endswith(b"EXISTS") else self.exists - 1
            if line.startswith(prefix):
                return line, total

    def cmd(self, text):
        self.tag += 1
        t = b"t%d" % self.tag
        self.sock.sendall(t + b" " + text.encode() + b"\r\n")
        line, n = self.read_until(t + b" ")
        if not line.startswith(t + b" OK"):
            raise RuntimeError(line)
        return n


def bench_fetch(args, count, size):
    extra = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
    with Server(extra_config=extra) as s:
        s.add_user("bench@example.org")
        fill(s, "bench@example.org", count, size)
        s.start()
        times = []
        for run in range(args.runs + 1):
            t0 = time.monotonic()
            c = Client(s.imap_port)
            c.cmd("LOGIN bench@example.org secret")
            c.cmd("SELECT INBOX")
            c.cmd("FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
            n = c.cmd("FETCH 1:* BODY.PEEK[]")
            elapsed = time.monotonic() - t0
            c.cmd("LOGOUT")
            if run > 0:                 # the first run fills index and cache
                times.append(elapsed)
        med = statistics.median(times)
        print(f"fetch: {count} messages of {size} B ({count * size / 1e6:.1f} MB): "
              f"LOGIN+SELECT+FETCH(FLAGS ENVELOPE BODYSTRUCTURE)+FETCH BODY.PEEK[] "
              f"median {med * 1000:.1f} ms over {args.runs} warm runs (last body fetch {n} B)")


def bench_mix(args):
    """C clients at once, each on its own account, looping over SELECT,
    FETCH, STORE, SEARCH, APPEND and EXPUNGE for a few seconds."""
    import threading
    extra = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n[limits]\nconnections_per_client = 1000\n"
    with Server(extra_config=extra) as s:
        users = [f"mix{i}@example.org" for i in range(args.clients)]
        for u in users:
            s.add_user(u)
            fill(s, u, 200, 4096)
        s.start()
        counts = [0] * len(users)
        stop = time.monotonic() + args.seconds
        msg = "Subject: mix\r\n\r\nhello\r\n"

        def work(i):
            c = Client(s.imap_port)
            c.cmd(f"LOGIN {users[i]} secret")
            n = 0
            while time.monotonic() < stop:
                c.cmd("SELECT INBOX")
                c.cmd("FETCH 1:20 (FLAGS ENVELOPE BODYSTRUCTURE)")
                c.cmd("FETCH 5 BODY.PEEK[]")
                c.cmd("STORE 1:10 +FLAGS (\\Seen)")
                c.cmd("SEARCH UNSEEN SUBJECT message")
                c.cmd(f"APPEND INBOX {{{len(msg)}+}}\r\n{msg}")
                c.cmd("STORE 1 +FLAGS (\\Deleted)")
                c.cmd("EXPUNGE")
                n += 8
            counts[i] = n
            c.cmd("LOGOUT")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(users))]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        print(f"mix: {len(users)} concurrent clients, SELECT/FETCH/STORE/SEARCH/APPEND/"
              f"EXPUNGE: {sum(counts) / elapsed:.0f} commands/s, server RSS "
              f"{rss_kib(s.proc.pid) / 1024:.1f} MiB")


STEADY_MIX = (("select", 5), ("fetch", 20), ("body", 10), ("store", 15), ("search", 10),
              ("append", 10), ("copy", 5), ("expunge", 15))


def steady_client(port, user, seconds, seed, start_at, result, tls=False):
    """One steady-state client (run in a process of its own): counts of
    each command done, into the result queue."""
    import random
    rnd = random.Random(seed)
    kinds = [k for k, w in STEADY_MIX for _ in range(w)]
    counts = {k: 0 for k, _ in STEADY_MIX}
    msg = (f"From: Load <load@example.net>\r\nTo: {user}\r\nSubject: steady {seed}\r\n"
           f"Date: Fri, 27 Nov 2026 05:00:00 +0000\r\n\r\n" + "line of text\r\n" * 40)
    c = Client(port, tls)
    c.cmd(f"LOGIN {user} secret")
    c.cmd("SELECT INBOX")
    while time.time() < start_at:
        time.sleep(0.001)
    stop = start_at + seconds
    while time.time() < stop:
        kind = rnd.choice(kinds)
        n = c.exists
        if n < 5 and kind in ("expunge", "fetch", "body", "store", "copy"):
            kind = "append"
        elif n > 60 and kind in ("append", "copy"):
            kind = "expunge"
        i = rnd.randint(1, n) if n > 0 else 1
        if kind == "select":
            c.cmd("SELECT INBOX")
        elif kind == "fetch":
            c.cmd(f"FETCH {i}:{min(n, i + 9)} (UID FLAGS ENVELOPE BODYSTRUCTURE)")
        elif kind == "body":
            c.cmd(f"FETCH {i} (UID BODY.PEEK[])")
        elif kind == "store":
            flag = rnd.choice(("\\Seen", "\\Flagged", "\\Answered"))
            c.cmd(f"STORE {i} {rnd.choice('+-')}FLAGS ({flag})")
        elif kind == "search":
            c.cmd(rnd.choice(("SEARCH UNSEEN", "SEARCH FLAGGED", "SEARCH SUBJECT steady",
                              "UID SEARCH ALL")))
        elif kind == "append":
            c.cmd(f"APPEND INBOX {{{len(msg)}+}}\r\n{msg}")
        elif kind == "copy":
            c.cmd(f"COPY {i} INBOX")
        else:
            c.cmd(f"STORE {i} +FLAGS (\\Deleted)")
            c.cmd("EXPUNGE")
            counts["store"] += 1
        counts[kind] += 1
    result.put(counts)


def bench_steady(args):
    import multiprocessing
    import random
    extra = ("[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
             "[limits]\nconnections_per_client = 1000\n")
    rates = []
    cpu = []
    for run in range(args.runs):
        with (rsa_server(extra) if args.tls else Server(extra_config=extra)) as s:
            users = [f"load{i}@example.org" for i in range(args.users)]
            for u in users:
                s.add_user(u)
            s.start()
            for u in users:       # each account logs in once, then its mail arrives
                c = Client(s.imap_port)
                c.cmd(f"LOGIN {u} secret")
                c.cmd("LOGOUT")
                fill(s, u, 20, 2048)
            rnd = random.Random(run)
            result = multiprocessing.Queue()
            start_at = time.time() + 1.0 + args.steady_clients * 0.05
            procs = [multiprocessing.Process(
                target=steady_client,
                args=(s.imaps_port if args.tls else s.imap_port, rnd.choice(users),
                      args.steady_seconds, run * 1000 + i, start_at, result, args.tls))
                for i in range(args.steady_clients)]
            for p in procs:
                p.start()
            while time.time() < start_at:
                time.sleep(0.001)
            cpu0 = cpu_seconds(s.proc.pid)
            totals = {k: 0 for k, _ in STEADY_MIX}
            for _ in procs:
                for k, v in result.get(timeout=args.steady_seconds + 120).items():
                    totals[k] += v
            cpu1 = cpu_seconds(s.proc.pid)
            for p in procs:
                p.join()
            ops = sum(totals.values())
            rates.append(ops / args.steady_seconds)
            cpu.append(((cpu1[0] - cpu0[0]) / args.steady_seconds,
                        (cpu1[1] - cpu0[1]) / args.steady_seconds))
            detail = ", ".join(f"{k} {v}" for k, v in totals.items())
            print(f"steady run {run + 1}: {rates[-1]:.0f} ops/s ({detail}; EXPUNGE counts "
                  f"its STORE), server RSS {rss_kib(s.proc.pid) / 1024:.1f} MiB, CPU: loop "
                  f"{cpu[-1][0]:.0%} of a core, server {cpu[-1][1]:.0%}", flush=True)
    print(f"steady{' --tls' if args.tls else ''}: {args.steady_clients} clients, {args.users} "
          f"users, {args.steady_seconds:g} s, no logouts: median {statistics.median(rates):.0f} "
          f"ops/s over {len(rates)} runs (min {min(rates):.0f}, max {max(rates):.0f}); CPU: "
          f"loop {statistics.median(c[0] for c in cpu):.0%} of a core, server "
          f"{statistics.median(c[1] for c in cpu):.0%}")


def bench_append(args):
    """imaplib against one-write APPENDs, for a small message (under one
    TCP segment's default MSS: the case of a delayed ACK) and a 2 KiB one."""
    import imaplib
    small = b"From: a@example.net\r\nSubject: append\r\n\r\nhello\r\n"
    large = (b"From: Load <load@example.net>\r\nTo: append@example.org\r\nSubject: append\r\n"
             b"\r\n" + b"a line of text to fill a draft with\r\n" * 54)
    extra = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
    with Server(extra_config=extra) as s:
        s.add_user("append@example.org")
        s.start()
        for msg in (small, large):
            split, whole = [], []
            for _ in range(args.runs):     # interleaved: the disk is shared
                m = imaplib.IMAP4("127.0.0.1", s.imap_port)
                m.login("append@example.org", "secret")
                t = time.monotonic()
                for _ in range(args.appends):
                    m.append("INBOX", None, None, msg)
                split.append(args.appends / (time.monotonic() - t))
                m.logout()
                c = Client(s.imap_port)
                c.cmd("LOGIN append@example.org secret")
                t = time.monotonic()
                for _ in range(args.appends):
                    c.cmd("APPEND INBOX {%d+}\r\n%s" % (len(msg), msg.decode()))
                whole.append(args.appends / (time.monotonic() - t))
                c.cmd("LOGOUT")
            print(f"append: {args.appends} APPENDs of {len(msg)} B over one connection: "
                  f"imaplib median {statistics.median(split):.0f} messages/s, one write "
                  f"(LITERAL+) median {statistics.median(whole):.0f} messages/s, over "
                  f"{args.runs} runs", flush=True)


def bench_idle(args):
    extra = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n[limits]\nconnections = 20000\nconnections_per_client = 20000\n"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with Server(extra_config=extra) as s:
        s.add_user("bench@example.org")
        s.start()
        warm = [Client(s.imap_port) for _ in range(10)]
        for c in warm:
            c.cmd("LOGIN bench@example.org secret")
        before = rss_kib(s.proc.pid)
        clients = []
        for _ in range(args.connections):
            c = Client(s.imap_port)
            c.cmd("LOGIN bench@example.org secret")
            clients.append(c)
        time.sleep(0.5)
        after = rss_kib(s.proc.pid)
        per = (after - before) * 1024 / args.connections
        print(f"idle: {args.connections} authenticated idle connections: server RSS "
              f"{before / 1024:.1f} -> {after / 1024:.1f} MiB, {per / 1024:.1f} KiB per connection")


def yescrypt_ms():
    """What one yescrypt hash costs here, with libxcrypt's default cost."""
    import ctypes
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt_gensalt.restype = ctypes.c_char_p
    salt = lib.crypt_gensalt(b"$y$", 0, None, 0)
    t = time.monotonic()
    for _ in range(20):
        lib.crypt(b"secret", salt)
    return (time.monotonic() - t) / 20 * 1000


def bench_logins(args):
    extra = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
    with Server(extra_config=extra) as s:
        s.add_user("bench@example.org")
        s.start()
        t0 = time.monotonic()
        for _ in range(args.logins):
            c = Client(s.imap_port)
            c.cmd("LOGIN bench@example.org secret")
            c.cmd("LOGOUT")
        elapsed = time.monotonic() - t0
        hash_ms = yescrypt_ms()
        per_ms = elapsed / args.logins * 1000
        print(f"logins: {args.logins / elapsed:.0f} sequential logins/s, {per_ms:.1f} ms per "
              f"login of which the yescrypt hash is about {hash_ms:.1f} ms "
              f"(login path {per_ms - hash_ms:.1f} ms)")


def tls_login_client(port, seconds, start_at, result, login):
    """One tlslogins client (in a process of its own): imaps connect
    (+ LOGIN) + LOGOUT until the time is up; the count into result."""
    done = 0
    while time.time() < start_at:
        time.sleep(0.001)
    stop = start_at + seconds
    while time.time() < stop:
        c = Client(port, tls=True)
        if login:
            c.cmd("LOGIN bench@example.org secret")
        c.cmd("LOGOUT")
        c.sock.close()
        done += 1
    result.put(done)


def tls_connections(args, login):
    """One run per R of tls_login_client: connections/s and the server's
    CPU (loop, whole) per connection."""
    import multiprocessing
    extra = "[auth]\nfailure_delay = 0\n[limits]\nconnections_per_client = 1000\n"
    what = "connect + LOGIN + LOGOUT" if login else "connect + LOGOUT"
    rates, loop_ms, total_ms = [], [], []
    for run in range(args.runs):
        with rsa_server(extra) as s:
            s.add_user("bench@example.org")
            s.start()
            result = multiprocessing.Queue()
            start_at = time.time() + 1.0 + args.tls_clients * 0.05
            procs = [multiprocessing.Process(
                target=tls_login_client,
                args=(s.imaps_port, args.seconds, start_at, result, login))
                for _ in range(args.tls_clients)]
            for p in procs:
                p.start()
            while time.time() < start_at:
                time.sleep(0.001)
            cpu0 = cpu_seconds(s.proc.pid)
            done = sum(result.get(timeout=args.seconds + 120) for _ in procs)
            cpu1 = cpu_seconds(s.proc.pid)
            for p in procs:
                p.join()
            rates.append(done / args.seconds)
            loop_ms.append((cpu1[0] - cpu0[0]) / done * 1000)
            total_ms.append((cpu1[1] - cpu0[1]) / done * 1000)
            print(f"tlslogins run {run + 1} ({what}): {rates[-1]:.0f} connections/s, CPU per "
                  f"connection: loop {loop_ms[-1]:.2f} ms, server {total_ms[-1]:.2f} ms "
                  f"(loop {loop_ms[-1] * rates[-1] / 10:.0f}% of a core)", flush=True)
    print(f"tlslogins: {args.tls_clients} clients, imaps {what} for {args.seconds:g} s: median "
          f"{statistics.median(rates):.0f} connections/s over {len(rates)} runs (min "
          f"{min(rates):.0f}, max {max(rates):.0f}); CPU per connection: loop "
          f"{statistics.median(loop_ms):.2f} ms, server {statistics.median(total_ms):.2f} ms",
          flush=True)


def bench_tlslogins(args):
    tls_connections(args, False)    # the handshake's cost alone
    tls_connections(args, True)     # with the password hash


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin")
    p.add_argument("what", nargs="*",
                   default=["fetch", "mix", "idle", "logins", "append", "steady"])
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("-r", "--runs", type=int, default=5)
    p.add_argument("-c", "--connections", type=int, default=1000)
    p.add_argument("-l", "--logins", type=int, default=100)
    p.add_argument("--users", type=int, default=100, help="steady: accounts")
    p.add_argument("--steady-seconds", type=float, default=30, help="steady: length of a run")
    p.add_argument("--steady-clients", type=int, default=20, help="steady: clients")
    p.add_argument("--appends", type=int, default=200, help="append: APPENDs per run")
    p.add_argument("--tls-clients", type=int, default=8, help="tlslogins: clients")
    p.add_argument("--tls", action="store_true", help="steady: over imaps")
    args = p.parse_args()
    if args.bin:
        os.environ["CORREIO_BIN"] = os.path.abspath(args.bin)
        import correio_harness  # noqa: E402  (it read the variable at import)
        correio_harness.BIN = os.environ["CORREIO_BIN"]
    if "fetch" in args.what:
        bench_fetch(args, 1000, 7680)
        bench_fetch(args, 10000, 4096)
    if "mix" in args.what:
        bench_mix(args)
    if "idle" in args.what:
        bench_idle(args)
    if "logins" in args.what:
        bench_logins(args)
    if "append" in args.what:
        bench_append(args)
    if "steady" in args.what:
        bench_steady(args)
    if "tlslogins" in args.what:
        bench_tlslogins(args)


if __name__ == "__main__":
    main()
