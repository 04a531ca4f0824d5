"""Descriptor exhaustion: a flood of connections under a 1024-descriptor
limit (soft = hard, so raising the soft limit cannot help) neither spins
the server nor floods its log, and a normal client is answered within
2 s during the flood and greeted after it.

The server holds `connections` to what the limit allows (keeping a
reserve for spool, mailbox, database and log files) and refuses the rest
with 421; should accept() still fail with EMFILE (here: the limit lowered
under the running server), it tells the waiting clients to come back and
pauses its listeners until a connection closes or a short timer fires."""

import os
import re
import resource
import socket
import time

import pytest

from correio_harness import Server

FLOOD = 2000
SOURCES = 40            # 127.0.0.2 .. 127.0.0.41, 50 each: the per-client limit
LIMIT = 1024
ABOUT_IT = re.compile(r"accept|refusing|descriptor|connections = |Too many open files")


def limit_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flood(port):
    """Open FLOOD connections from SOURCES loopback addresses; return the
    sockets (the server may have answered and closed some)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, FLOOD + 1000), hard))
    socks = []
    for i in range(FLOOD):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((f"127.0.0.{2 + i % SOURCES}", 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    return socks


# A client must hear 220 or 421 within this long: a hang or a spin would
# take far longer; a shared, loaded machine can take a second or two.
GREETING_WAIT = 4.0


def greeting(port, timeout=GREETING_WAIT):
    """What a normal client hears first, and how long it took."""
    t = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout) as c:
        c.settimeout(max(0.1, timeout - (time.time() - t)))
        try:
            data = c.recv(512)
        except socket.timeout:
            data = b""
    return data.decode(errors="replace"), time.time() - t


def log_lines_about_it(server):
    return [line for line in server.read_log().splitlines() if ABOUT_IT.search(line)]


def run_flood(server, hold=3.0):
    """Flood, check the server's CPU use and a normal client meanwhile,
    close the flood, and check that a client is greeted after it."""
    pid = server.pid
    cpu0, t0 = cpu_seconds(pid), time.time()
    socks = flood(server.smtp_port)
    try:
        during = []
        end = time.time() + hold
        while time.time() < end:
            during.append(greeting(server.smtp_port))
            time.sleep(0.5)
        cpu = (cpu_seconds(pid) - cpu0) / (time.time() - t0)
    finally:
        for s in socks:
            s.close()
    for text, took in during:
        # at the connection limit the answer is 421 (come back later)
        assert took < GREETING_WAIT and re.match(r"(220|421) ", text), during
    deadline = time.time() + 5
    while True:
        text, took = greeting(server.smtp_port)
        if text.startswith("220 ") or time.time() > deadline:
            break
        time.sleep(0.1)
    assert text.startswith("220 ") and took < GREETING_WAIT, (text, took)
    assert cpu < 0.20, f"server used {cpu:.0%} CPU during the flood"
    lines = log_lines_about_it(server)
    print(f"flood: server CPU {cpu:.1%}, {len(lines)} log lines about it, "
          f"answers during it in {max(t for _, t in during):.3f} s at most "
          f"({sorted(set(x[:3] for x, _ in during))}), greeting after it in {took:.3f} s")
    assert len(lines) < 100, (len(lines), lines[:5])
    return lines


def test_flood_under_1024_descriptors():
    s = Server()
    try:
        s.start(preexec_fn=limit_descriptors)
        with open(f"/proc/{s.pid}/limits") as f:
            assert re.search(r"Max open files\s+1024\s+1024", f.read())
        lines = run_flood(s)
        # connections held to what 1024 descriptors allow, said at start
        assert any(re.search(r"connections = 1000 lowered to \d+: 1024 descriptors", x)
                   for x in lines), lines
        assert any("connection limit reached" in x for x in lines), lines
    finally:
        s.cleanup()


def open_transactions(port, n):
    """n sessions (from 127.0.0.42 on, 40 per address) in the middle of
    DATA: each holds a spool file open besides its socket."""
    conns = []
    for i in range(n):
        c = socket.socket()
        c.bind((f"127.0.0.{42 + i // 40}", 0))
        c.settimeout(5)
        c.connect(("127.0.0.1", port))
        f = c.makefile("rb")
        assert f.readline().startswith(b"220 ")
        c.sendall(b"EHLO flood.test\r\nMAIL FROM:<a@example.net>\r\n"
                  b"RCPT TO:<alice@example.org>\r\nDATA\r\n")
        while not f.readline().startswith(b"354 "):
            pass
        c.sendall(b"Subject: slow\r\n\r\nstill typing\r\n")
        conns.append((c, f))
    return conns


def test_accept_out_of_descriptors_pauses():
    """Sessions in the middle of DATA hold spool files too: enough of them
    use up the reserve, and accept() fails with EMFILE.  The server must
    neither spin nor leave the waiting clients hanging."""
    s = Server()
    try:
        s.add_user("alice@example.org")
        s.start(preexec_fn=limit_descriptors)
        held = open_transactions(s.smtp_port, 240)
        try:
            lines = run_flood(s)
        finally:
            for c, f in held:
                f.close()
                c.close()
        assert any(re.search(r"accept: Too many open files with \d+ connections open", x)
                   for x in lines), lines
    finally:
        s.cleanup()
