"""TLS handshakes run on the handshake threads ("correio-tls"), not on the
event loop: the public-key work of many handshakes (implicit TLS and
STARTTLS) is spent off the main thread, a stalled or failed handshake
holds nobody up and frees its connection slot, a handshake that never
ends times out, and a server stopping with handshakes in flight exits at
once."""

import concurrent.futures
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

from correio_harness import Server


def rsa_certificate(directory):
    """An RSA-2048 key and certificate for localhost (the kind most mail
    servers still serve): its signature is the handshake's main cost."""
    pem = os.path.join(directory, "rsa.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", pem, "-out", pem + ".crt", "-days", "2",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    with open(pem, "a") as f, open(pem + ".crt") as crt:
        f.write(crt.read())
    return pem


@pytest.fixture
def server():
    s = Server()
    try:
        pem = rsa_certificate(s.dir)
        os.chmod(pem, 0o644)	# read by the server after it drops privileges
        s.write_config("example.org, localhost",
                       f"idle_timeout = 3\nconnections_per_client = 40\n"
                       f"[tls]\ncertificate = {pem}\nkey = {pem}\n")
        s.add_user("ana@example.org")
        s.start()
        yield s
    finally:
        s.cleanup()


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tasks(pid):
    """{tid: (name, CPU ticks)} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (name, int(fields[11]) + int(fields[12]))	# utime + stime
    return out


def line(f):
    text = f.readline()
    assert text, "connection closed"
    return text


def implicit_tls_once(port, ctx, greeting, quit, bye):
    """One session on an implicit-TLS port: the greeting, then quit."""
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            f = t.makefile("rb")
            assert line(f).startswith(greeting)
            t.sendall(quit)
            assert line(f).startswith(bye)


def imaps_once(port, ctx):
    implicit_tls_once(port, ctx, b"* OK", b"a LOGOUT\r\n", b"* BYE")


def pop3s_once(port, ctx):
    implicit_tls_once(port, ctx, b"+OK", b"QUIT\r\n", b"+OK")


def submissions_once(port, ctx):
    implicit_tls_once(port, ctx, b"220 ", b"QUIT\r\n", b"221")


def imap_starttls_once(port, ctx):
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        f = raw.makefile("rb")
        assert line(f).startswith(b"* OK")
        raw.sendall(b"s STARTTLS\r\n")
        assert line(f).startswith(b"s OK")
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            f = t.makefile("rb")
            t.sendall(b"n NOOP\r\n")
            assert line(f).startswith(b"n OK")


def smtp_starttls_once(port, ctx):
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        f = raw.makefile("rb")
        assert line(f).startswith(b"220 ")
        raw.sendall(b"EHLO client.test\r\n")
        while not line(f).startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\n")
        assert line(f).startswith(b"220 ")
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            f = t.makefile("rb")
            t.sendall(b"EHLO client.test\r\n")
            assert line(f).startswith(b"250")


def pop3_stls_once(port, ctx):
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        f = raw.makefile("rb")
        assert line(f).startswith(b"+OK")
        raw.sendall(b"STLS\r\n")
        assert line(f).startswith(b"+OK")
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            f = t.makefile("rb")
            t.sendall(b"CAPA\r\n")
            assert line(f).startswith(b"+OK")


def half_client_hello():
    """The first bytes of a real ClientHello: a handshake that stalls with
    the server waiting for the rest."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    return hello[:len(hello) // 2]


def stalled(port, count):
    """count connections that start a TLS handshake and stall: half of them
    send nothing, half of them half a ClientHello."""
    hello = half_client_hello()
    socks = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), 10)
        if i % 2:
            s.sendall(hello)
        socks.append(s)
    return socks


def closed_by_server(sock, timeout):
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_handshake_threads_run(server):
    names = [name for name, _ in tasks(server.pid).values()]
    assert names.count("correio-tls") >= 2, names


def test_handshake_cpu_is_spent_off_the_loop(server):
    """A few hundred handshakes, implicit (imaps, pop3s, submissions) and
    STARTTLS (IMAP, SMTP, POP3): the loop (the main thread) does a small
    share of the process's CPU meanwhile."""
    ctx = client_context()
    jobs = [(imaps_once, server.imaps_port)] * 160 + \
        [(pop3s_once, server.pop3s_port)] * 20 + \
        [(submissions_once, server.submissions_port)] * 20 + \
        [(imap_starttls_once, server.imap_port)] * 60 + \
        [(smtp_starttls_once, server.submission_port)] * 20 + \
        [(pop3_stls_once, server.pop3_port)] * 20
    pid = server.pid
    before = tasks(pid)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(fn, port, ctx) for fn, port in jobs]:
            f.result()
    after = tasks(pid)
    spent = {tid: ticks - before.get(tid, (name, 0))[1] for tid, (name, ticks) in after.items()}
    total = sum(spent.values())
    loop = spent[pid]
    tls = sum(t for tid, t in spent.items() if after[tid][0] == "correio-tls")
    assert total > 0
    assert loop < 0.30 * total, f"loop {loop} of {total} ticks, handshake threads {tls}"
    assert tls > 0.5 * total, f"handshake threads {tls} of {total} ticks"


def imap_login(port):
    s = socket.create_connection(("127.0.0.1", port), 10)
    f = s.makefile("rb")
    assert line(f).startswith(b"* OK")
    s.sendall(b"l LOGIN ana@example.org secret\r\n")
    while not line(f).startswith(b"l OK"):
        pass
    return s, f


def test_stalled_handshakes_do_not_delay_a_session(server):
    socks = stalled(server.imaps_port, 20)
    try:
        s, f = imap_login(server.imap_port)
        with s:
            for i in range(20):
                start = time.monotonic()
                s.sendall(b"n NOOP\r\n")
                assert line(f).startswith(b"n OK")
                assert time.monotonic() - start < 0.5
    finally:
        for x in socks:
            x.close()


def test_failed_handshakes_free_their_slots_and_are_logged(server):
    """connections_per_client = 40: twice that many failed handshakes, one
    after the other, leave no slot taken."""
    mark = len(server.read_log())
    for _ in range(80):
        with socket.create_connection(("127.0.0.1", server.submissions_port), 10) as s:
            s.sendall(b"EHLO not TLS at all\r\n\r\n")
            assert closed_by_server(s, 5)
    server.wait_log(r"smtpd: \[127\.0\.0\.1\]: connection error: \S",
                    start=mark)
    smtp_starttls_once(server.submission_port, client_context())
    imaps_once(server.imaps_port, client_context())


def test_stalled_handshake_times_out(server):
    """[limits] idle_timeout = 3 bounds a handshake that never ends, on
    implicit TLS and after STARTTLS."""
    implicit = stalled(server.imaps_port, 2)
    after_starttls = socket.create_connection(("127.0.0.1", server.imap_port), 10)
    f = after_starttls.makefile("rb")
    assert line(f).startswith(b"* OK")
    after_starttls.sendall(b"s STARTTLS\r\n")
    assert line(f).startswith(b"s OK")
    start = time.monotonic()
    for s in implicit + [after_starttls]:
        with s:
            assert closed_by_server(s, 10)
    assert time.monotonic() - start < 8
    imaps_once(server.imaps_port, client_context())


def test_sigterm_with_handshakes_in_flight_exits_at_once(server):
    socks = stalled(server.imaps_port, 16) + stalled(server.submissions_port, 8)
    starttls = socket.create_connection(("127.0.0.1", server.imap_port), 10)
    f = starttls.makefile("rb")
    assert line(f).startswith(b"* OK")
    starttls.sendall(b"s STARTTLS\r\n")
    assert line(f).startswith(b"s OK")
    socks.append(starttls)
    time.sleep(0.2)
    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(20)
    elapsed = time.monotonic() - start
    server.proc = None
    server.log.close()
    assert code == 0, server.read_log()[-2000:]
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    assert "stop: done" in server.read_log()
    for s in socks:
        with s:
            assert closed_by_server(s, 2)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_session_resumption_on_the_handshake_threads(server, version):
    ctx = client_context()
    ctx.maximum_version = ctx.minimum_version = getattr(ssl.TLSVersion, version)
    session = None
    for attempt in range(2):
        with socket.create_connection(("127.0.0.1", server.imaps_port), 10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as t:
                f = t.makefile("rb")
                assert line(f).startswith(b"* OK")	# TLS 1.3: the ticket came first
                t.sendall(b"a LOGOUT\r\n")
                assert line(f).startswith(b"* BYE")
                assert t.session_reused == (attempt == 1)
                session = t.session
