"""The password-checking pool's hand-off under attack: many concurrent
logins over SMTP submission, IMAP and POP3, right and wrong passwords
(the throttle counting the wrong ones), sessions that close while their
login is in the pool, pipelined logins, and a stop with logins still
queued.  The server stays up, answers right logins, exits cleanly, and
(run with CORREIO_BIN pointing at a sanitizer build) reports no memory
error."""

import base64
import random
import signal
import socket
import threading
import time

import pytest

from correio_harness import Server

ALICE = "alice@example.org"
BOB = "bob@example.org"
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def smtp_login(port, user, password, how):
    c = socket.create_connection(("127.0.0.1", port), 10)
    c.settimeout(10)
    f = c.makefile("rb")
    f.readline()
    c.sendall(b"EHLO auth.test\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    line = f"AUTH PLAIN {plain(user, password)}\r\n".encode()
    if how == "close":          # gone while the login is in the pool
        c.sendall(line)
        c.close()
        return None
    if how == "pipelined":      # a second login and QUIT behind the first
        c.sendall(line + line + b"QUIT\r\n")
        c.close()
        return None
    c.sendall(line)
    r = f.readline()
    c.sendall(b"QUIT\r\n")
    c.close()
    return r


def imap_login(port, user, password, how):
    c = socket.create_connection(("127.0.0.1", port), 10)
    c.settimeout(10)
    f = c.makefile("rb")
    f.readline()
    line = f'a LOGIN {user} "{password}"\r\n'.encode()
    if how == "close":
        c.sendall(line)
        c.close()
        return None
    if how == "pipelined":
        c.sendall(line + line.replace(b"a ", b"b ", 1) + b"c LOGOUT\r\n")
        c.close()
        return None
    c.sendall(line)
    while True:
        r = f.readline()
        if not r or r.startswith(b"a "):
            break
    c.close()
    return r


def pop3_login(port, user, password, how):
    c = socket.create_connection(("127.0.0.1", port), 10)
    c.settimeout(10)
    f = c.makefile("rb")
    f.readline()
    lines = f"USER {user}\r\nPASS {password}\r\n".encode()
    if how in ("close", "pipelined"):
        c.sendall(lines + (lines + b"QUIT\r\n" if how == "pipelined" else b""))
        c.close()
        return None
    c.sendall(lines)
    f.readline()
    r = f.readline()
    c.close()
    return r


def hammer(srv, seconds, seed, errors):
    rng = random.Random(seed)
    deadline = time.time() + seconds
    kinds = [(smtp_login, srv.submission_port), (imap_login, srv.imap_port),
             (pop3_login, srv.pop3_port)]
    while time.time() < deadline:
        fn, port = rng.choice(kinds)
        how = rng.choice(["close", "pipelined", "wait"])
        # wrong passwords for bob (locked out after max_failures), right
        # ones for alice
        user, pw = (ALICE, "secret") if rng.random() < 0.5 else (BOB, "wrong")
        try:
            r = fn(port, user, pw, how)
        except OSError:
            if srv.proc is None or srv.proc.poll() is not None:
                return
            continue
        if r is not None and user == ALICE and not (
                r.startswith(b"235") or r.startswith(b"a OK") or r.startswith(b"+OK")):
            errors.append((fn.__name__, how, r))


def no_sanitizer_report(srv):
    log = srv.read_log()
    for word in SANITIZER:
        assert word not in log, log[log.find(word) - 2000:][:6000]


@pytest.fixture
def auth_server():
    s = Server(extra_config="[auth]\nthreads = 2\nmax_failures = 3\n")
    s.add_user(ALICE)
    s.add_user(BOB)
    s.start()
    yield s
    s.cleanup()


def test_concurrent_logins_closing_sessions(auth_server):
    s = auth_server
    errors = []
    threads = [threading.Thread(target=hammer, args=(s, 6, i, errors)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert s.proc.poll() is None, s.read_log()[-4000:]
    assert not errors, errors[:5]
    # bob is locked out from here, alice still logs in everywhere
    assert smtp_login(s.submission_port, BOB, "secret", "wait").startswith(b"454")
    assert smtp_login(s.submission_port, ALICE, "secret", "wait").startswith(b"235")
    assert imap_login(s.imap_port, ALICE, "secret", "wait").startswith(b"a OK")
    assert pop3_login(s.pop3_port, ALICE, "secret", "wait").startswith(b"+OK")
    assert s.stop() == 0
    no_sanitizer_report(s)


def test_stop_with_logins_in_the_pool(auth_server):
    """SIGTERM while dozens of logins are queued or held: the server
    exits at once and cleanly."""
    s = auth_server
    socks = []
    for i in range(60):
        c = socket.create_connection(("127.0.0.1", s.imap_port), 10)
        c.settimeout(10)
        c.recv(4096)
        user, pw = (ALICE, "secret") if i % 2 else (BOB, "wrong")
        c.sendall(f'a LOGIN {user} "{pw}"\r\nb LOGIN {user} "{pw}"\r\n'.encode())
        socks.append(c)
    s.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    code = s.proc.wait(30)
    assert time.monotonic() - t0 < 10
    for c in socks:
        c.close()
    s.stop()
    assert code == 0, s.read_log()[-4000:]
    no_sanitizer_report(s)


def test_jmap_basic_logins_closed_in_the_pool():
    """HTTP requests with Basic credentials (right and wrong) whose
    connection closes while the password is being checked, and some
    answered: no crash, right credentials still work afterwards."""
    s = Server(http=True, extra_config="[auth]\nthreads = 1\nmax_failures = 3\n")
    try:
        s.add_user(ALICE)
        s.add_user(BOB)
        s.start()

        def request(user, pw, wait):
            cred = base64.b64encode(f"{user}:{pw}".encode()).decode()
            c = socket.create_connection(("127.0.0.1", s.http_port), 10)
            c.settimeout(10)
            c.sendall(f"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Basic {cred}\r\n\r\n".encode())
            r = c.recv(100) if wait else b""
            c.close()
            return r

        def hammer_http(seed):
            rng = random.Random(seed)
            for _ in range(40):
                user, pw = (ALICE, "secret") if rng.random() < 0.5 else (BOB, "bad")
                try:
                    request(user, pw, rng.random() < 0.3)
                except OSError:
                    pass
        threads = [threading.Thread(target=hammer_http, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert s.proc.poll() is None, s.read_log()[-4000:]
        r = request(ALICE, "secret", True)
        assert r.startswith(b"HTTP/1.1 200") or r.startswith(b"HTTP/1.1 30"), r
        assert s.stop() == 0
        no_sanitizer_report(s)
    finally:
        s.cleanup()
