"""Logging in: plaintext POP3 USER/PASS, IMAP LOGIN and SMTP AUTH typed
by hand work from loopback without any setting (as Dovecot treats
localhost as secure), are refused from other addresses without TLS with a
reply that names the way out, and a PASS after a refused USER says what
the real problem is.  Failed logins are throttled so that they cannot be
turned against other users: delays per client address, refusal only per
account+address pair, `correio user unlock` to end it.

The refusal from a non-loopback address is tested for real: the server
listens on one of the machine's own non-loopback addresses (`hostname
-I`) and the test connects to it, so the client's address is that one."""

import base64
import socket
import subprocess
import time

import pytest

from correio_harness import Server

ALICE = "alice@example.org"


class Raw:
    """A line-oriented raw connection, as a user at a terminal would have."""

    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def smtp_reply(self):
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return "\n".join(lines)

    def smtp(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.smtp_reply()

    def close(self):
        self.sock.close()


def non_loopback_address():
    """One of this machine's own addresses that is not loopback, or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                             timeout=10).stdout
    except OSError:
        return None
    for a in out.split():
        if a.startswith("127.") or a == "::1" or a.startswith("fe80"):
            continue
        family = socket.AF_INET6 if ":" in a else socket.AF_INET
        try:
            with socket.socket(family) as s:
                s.bind((a, 0))
            return a
        except OSError:
            continue
    return None


@pytest.fixture(scope="module")
def srv():
    """Built-in defaults for [auth] (no plaintext_on_loopback line)."""
    s = Server()
    s.add_user(ALICE)
    s.start()
    yield s
    s.cleanup()


# ---- loopback: plaintext allowed by default ----

def test_pop3_user_pass_by_hand_on_loopback(srv):
    p = Raw("127.0.0.1", srv.pop3_port)
    assert p.line().startswith("+OK")
    assert p.cmd("USER " + ALICE).startswith("+OK")
    assert p.cmd("PASS secret").startswith("+OK maildrop has 0 messages")
    assert p.cmd("QUIT").startswith("+OK")
    p.close()


def test_imap_login_by_hand_on_loopback(srv):
    i = Raw("127.0.0.1", srv.imap_port)
    greeting = i.line()
    assert greeting.startswith("* OK") and "LOGINDISABLED" not in greeting
    assert i.cmd(f"a LOGIN {ALICE} secret").startswith("a OK ")
    assert i.cmd("b LOGOUT").startswith("* BYE")
    i.close()


def test_smtp_auth_plain_and_login_on_loopback(srv):
    for mech in ("PLAIN", "LOGIN"):
        c = Raw("127.0.0.1", srv.submission_port)
        assert c.smtp_reply().startswith("220")
        ehlo = c.smtp("EHLO client.test")
        assert "AUTH PLAIN LOGIN" in ehlo, ehlo
        if mech == "PLAIN":
            r = c.smtp("AUTH PLAIN " + base64.b64encode(f"\0{ALICE}\0secret".encode()).decode())
        else:
            assert c.smtp("AUTH LOGIN").startswith("334")
            assert c.smtp(base64.b64encode(ALICE.encode()).decode()).startswith("334")
            r = c.smtp(base64.b64encode(b"secret").decode())
        assert r.startswith("235 "), (mech, r)
        c.smtp("QUIT")
        c.close()


# ---- refusal: what the reply says ----

def check_pop3_refusal(host, port, pop3s_port):
    p = Raw(host, port)
    assert p.line().startswith("+OK")
    r = p.cmd("USER " + ALICE)
    assert r.startswith("-ERR [AUTH] "), r
    assert "STLS" in r and f"port {pop3s_port}" in r, r
    assert "openssl s_client -crlf -starttls pop3 -connect" in r, r
    # PASS after the refused USER: the same real reason, not "send USER first"
    r2 = p.cmd("PASS secret")
    assert r2.startswith("-ERR [AUTH] ") and "USER first" not in r2, r2
    assert "STLS" in r2 and "openssl s_client" in r2, r2
    p.close()


def check_imap_refusal(host, port, imaps_port):
    i = Raw(host, port)
    greeting = i.line()
    assert "LOGINDISABLED" in greeting and "STARTTLS" in greeting, greeting
    r = i.cmd(f"a LOGIN {ALICE} secret")
    assert r.startswith("a NO [PRIVACYREQUIRED] "), r
    assert "STARTTLS" in r and f"port {imaps_port}" in r, r
    assert "openssl s_client -crlf -starttls imap -connect" in r, r
    i.close()


def check_smtp_refusal(host, port, submissions_port):
    c = Raw(host, port)
    assert c.smtp_reply().startswith("220")
    assert c.smtp("EHLO client.test").startswith("250")
    r = c.smtp("AUTH PLAIN " + base64.b64encode(f"\0{ALICE}\0secret".encode()).decode())
    assert r.startswith("538 5.7.11 "), r
    assert "STARTTLS" in r and f"port {submissions_port}" in r, r
    assert "openssl s_client -crlf -starttls smtp -connect" in r, r
    c.close()


def check_managesieve_refusal(host, port):
    m = Raw(host, port)
    caps = []
    while not caps or not caps[-1].startswith("OK"):
        caps.append(m.line())
    assert '"STARTTLS"' in caps and '"SASL" ""' in caps, caps
    r = m.cmd('AUTHENTICATE "PLAIN" "' +
              base64.b64encode(f"\0{ALICE}\0secret".encode()).decode() + '"')
    assert r.startswith('NO (ENCRYPT-NEEDED) "plaintext login needs TLS: use STARTTLS'), r
    assert "openssl s_client -crlf -starttls sieve -connect" in r, r
    m.close()


def test_plaintext_on_loopback_no_refuses_with_the_way_out():
    with Server(extra_config="[auth]\nplaintext_on_loopback = no\n") as s:
        s.add_user(ALICE)
        s.start()
        check_pop3_refusal("127.0.0.1", s.pop3_port, s.pop3s_port)
        check_imap_refusal("127.0.0.1", s.imap_port, s.imaps_port)
        check_smtp_refusal("127.0.0.1", s.submission_port, s.submissions_port)
        check_managesieve_refusal("127.0.0.1", s.managesieve_port)


def test_plaintext_refused_from_a_non_loopback_address():
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address (hostname -I); the "
                    "refusal itself is covered by the plaintext_on_loopback = no test")
    host = f"[{addr}]" if ":" in addr else addr
    # every port by the harness's name for it: a start that finds one
    # taken chooses them all again
    extra = "[listen]\n" + "".join(
        f"{kind} = 127.0.0.1:{{port:{kind}}}, {host}:{{port:far_{kind}}}\n"
        for kind in ("pop3", "imap", "submission", "managesieve"))
    with Server(extra_config=extra) as s:
        s.add_user(ALICE)
        s.start()
        pop3, imap, sub, sieve = (s.port("far_" + kind) for kind in
                                  ("pop3", "imap", "submission", "managesieve"))
        check_pop3_refusal(addr, pop3, s.pop3s_port)
        check_imap_refusal(addr, imap, s.imaps_port)
        check_smtp_refusal(addr, sub, s.submissions_port)
        check_managesieve_refusal(addr, sieve)
        # the same server still lets loopback in
        p = Raw("127.0.0.1", s.pop3_port)
        p.line()
        assert p.cmd("USER " + ALICE).startswith("+OK")
        assert p.cmd("PASS secret").startswith("+OK")
        p.close()


# ---- failed logins: throttling that cannot be turned against users ----
#
# Clients connect from several loopback addresses (127.0.0.2, ...) to the
# server on 127.0.0.1, so that "another address" is a real source address.

THROTTLE = "[auth]\nplaintext_on_loopback = yes\nmax_failures = 3\nlockout = 1h\n"


def connect_from(src, port, timeout=20):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    r = Raw.__new__(Raw)
    r.sock, r.buf = s, b""
    return r


def pop3_login(server, src, user, password):
    p = connect_from(src, server.pop3_port)
    p.line()
    assert p.cmd("USER " + user).startswith("+OK")
    r = p.cmd("PASS " + password)
    p.close()
    return r


def imap_login(server, src, user, password):
    i = connect_from(src, server.imap_port)
    i.line()
    r = i.cmd(f"a LOGIN {user} {password}")
    i.close()
    return r


def smtp_login(server, src, user, password):
    c = connect_from(src, server.submission_port)
    c.smtp_reply()
    c.smtp("EHLO client.test")
    r = c.smtp("AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode())
    c.close()
    return r


LOGINS = (pop3_login, imap_login, smtp_login)


def ok(reply):
    return reply.startswith(("+OK", "a OK", "235 "))


def refused(reply):
    """The answer to a locked-out account (not a plain wrong password)."""
    return (reply.startswith("-ERR [SYS/TEMP] ") or reply.startswith("a NO [UNAVAILABLE]")
            or reply.startswith("454 "))


def failed(reply):
    return (reply.startswith("-ERR [AUTH] ") or reply.startswith("a NO [AUTHENTICATIONFAILED]")
            or reply.startswith("535 "))


def fail_times(server, src, user, n):
    """n wrong passwords, taking turns over POP3, IMAP and SMTP."""
    for k in range(n):
        r = LOGINS[k % 3](server, src, user, "wrong")
        assert failed(r) or refused(r), r


@pytest.fixture
def throttled():
    s = Server(extra_config=THROTTLE)
    for u in (ALICE, "bob@example.org", "carol@example.org"):
        s.add_user(u)
    s.start()
    yield s
    s.cleanup()


def test_typos_of_one_user_do_not_lock_out_the_others_at_that_address(throttled):
    """One user behind a NAT mistypes ten times: the others at the same
    address still log in, on every protocol."""
    fail_times(throttled, "127.0.0.2", ALICE, 10)
    for login in LOGINS:
        r = login(throttled, "127.0.0.2", "bob@example.org", "secret")
        assert ok(r), (login.__name__, r)


def test_lockout_is_per_account_and_address(throttled):
    fail_times(throttled, "127.0.0.2", ALICE, 3)
    # alice from that address: refused even with the right password
    for login in LOGINS:
        r = login(throttled, "127.0.0.2", ALICE, "secret")
        assert refused(r), (login.__name__, r)
    # alice from elsewhere, and carol from there: in
    for login in LOGINS:
        assert ok(login(throttled, "127.0.0.1", ALICE, "secret")), login.__name__
        assert ok(login(throttled, "127.0.0.2", "carol@example.org", "secret")), login.__name__
    assert "too many failures for this account" in throttled.read_log()


def test_failures_from_other_addresses_never_lock_the_owner_out(throttled):
    """An account under attack from many addresses: the attackers are
    slowed down and refused, the owner's own address is not."""
    for n in range(3, 9):
        fail_times(throttled, f"127.0.0.{n}", ALICE, 4)
    for login in LOGINS:
        r = login(throttled, "127.0.0.1", ALICE, "secret")
        assert ok(r), (login.__name__, r)
    assert refused(pop3_login(throttled, "127.0.0.3", ALICE, "secret"))


def test_user_unlock(throttled):
    fail_times(throttled, "127.0.0.2", ALICE, 3)
    fail_times(throttled, "127.0.0.3", ALICE, 3)
    assert refused(imap_login(throttled, "127.0.0.2", ALICE, "secret"))
    r = throttled.cli("user", "unlock", ALICE)
    assert "2 address(es)" in r.stdout, r.stdout
    for src in ("127.0.0.2", "127.0.0.3"):
        for login in LOGINS:
            assert ok(login(throttled, src, ALICE, "secret")), (src, login.__name__)
    assert "unlocked by the administrator" in throttled.read_log()


def test_user_unlock_needs_the_server():
    with Server() as s:
        r = s.cli("user", "unlock", ALICE, check=False)
        assert r.returncode != 0 and "is it running?" in r.stderr


def test_failures_slow_the_address_down_then_others_get_in_within_seconds():
    """failure_delay = 1: each failure from an address delays its next
    attempts (1 s, 2 s, ...); a right password for another account from
    there, sent while the last failure's delay runs, waits for it and then
    gets in: within seconds."""
    with Server(extra_config=THROTTLE.replace("lockout", "failure_delay = 1\nlockout")) as s:
        s.add_user(ALICE)
        s.add_user("bob@example.org")
        s.start()
        t0 = time.monotonic()
        assert failed(pop3_login(s, "127.0.0.2", ALICE, "wrong"))
        t1 = time.monotonic()
        assert 0.9 < t1 - t0 < 4.0, t1 - t0
        # the second failure: its answer after 2 s, and the address's next
        # attempts held until then
        start = len(s.read_log())
        p = connect_from("127.0.0.2", s.imap_port)
        p.line()
        p.sock.sendall(f"a LOGIN {ALICE} wrong\r\n".encode())
        s.wait_log(r"login failed from \[127\.0\.0\.2\]", start=start)
        t2 = time.monotonic()
        assert ok(smtp_login(s, "127.0.0.2", "bob@example.org", "secret"))
        waited = time.monotonic() - t2
        assert failed(p.line())
        p.close()
        assert 1.0 < waited < 5.0, waited
        # another address is not held
        t3 = time.monotonic()
        assert ok(pop3_login(s, "127.0.0.1", ALICE, "secret"))
        assert time.monotonic() - t3 < 1.0
