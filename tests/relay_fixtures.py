"""What the relay tests talk to: a DNS server (dnsmasq) that holds a small
zone under .test, scriptable SMTP sinks (aiosmtpd) standing in for the
mail exchangers, bare TCP listeners that greet badly, a self-signed
certificate, and a correio server configured to relay through them.

The zone (every name resolves to a loopback address; every sink listens
on the one relay port that the server under test is told to use):

    a.test          MX 20 mx2.a.test (127.0.0.3), MX 10 mx1.a.test (127.0.0.2)
                    (listed out of order on purpose)
    b.test          MX 10 mx.b.test (127.0.0.4)
    down.test       MX 10 mx1.down.test (127.0.0.5), MX 20 mx2.down.test (127.0.0.6)
    implicit.test   no MX, A 127.0.0.7 (the implicit MX)
    smarthost.test  A 127.0.0.8
    greet.test      MX 10 mx1.greet.test (127.0.0.9), MX 20 mx2.greet.test (127.0.0.10)
    eq.test         MX 10 mxa.eq.test (127.0.0.11), MX 10 mxb.eq.test (127.0.0.12)
    c.test          MX 10 mx.c.test (127.0.0.13)
    b\u00fccher.test     MX 10 mx.c.test (as xn--bcher-kva.test)
    noaddr.test     MX 10 gone.noaddr.test (no address at all)
    nullmx.test     MX 0 "." (RFC 7505 null MX)
    anything else under .test: NXDOMAIN; names outside .test: REFUSED
    (a temporary failure for a resolver).
"""

import collections
import email
import email.policy
import functools
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from correio_harness import Server, free_port

IP = {
    "mx1.a.test": "127.0.0.2",
    "mx2.a.test": "127.0.0.3",
    "mx.b.test": "127.0.0.4",
    "mx1.down.test": "127.0.0.5",
    "mx2.down.test": "127.0.0.6",
    "implicit.test": "127.0.0.7",
    "smarthost.test": "127.0.0.8",
    "mx1.greet.test": "127.0.0.9",
    "mx2.greet.test": "127.0.0.10",
    "mxa.eq.test": "127.0.0.11",
    "mxb.eq.test": "127.0.0.12",
    "mx.c.test": "127.0.0.13",
}

MX = [
    ("a.test", "mx2.a.test", 20),
    ("a.test", "mx1.a.test", 10),
    ("b.test", "mx.b.test", 10),
    ("down.test", "mx1.down.test", 10),
    ("down.test", "mx2.down.test", 20),
    ("greet.test", "mx1.greet.test", 10),
    ("greet.test", "mx2.greet.test", 20),
    ("eq.test", "mxa.eq.test", 10),
    ("eq.test", "mxb.eq.test", 10),
    ("c.test", "mx.c.test", 10),
    ("xn--bcher-kva.test", "mx.c.test", 10),
    ("noaddr.test", "gone.noaddr.test", 10),
    ("nullmx.test", ".", 0),
]


def wait_for(predicate, timeout=10, interval=0.02, what="condition"):
    """Poll predicate until it returns something true; return that."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---- DNS ----

def dns_query(port, name, qtype=15, timeout=1.0):
    """One UDP query to 127.0.0.1:port; returns (rcode, answer count)."""
    tid = os.getpid() & 0xFFFF
    pkt = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        pkt += bytes([len(label)]) + label.encode()
    pkt += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, ("127.0.0.1", port))
        data = s.recv(4096)
    flags, _qd, an = struct.unpack(">HHH", data[2:8])
    return flags & 0xF, an


class Dnsmasq:
    """dnsmasq in the foreground on 127.0.0.1:port, authoritative for the
    zone above (see the module's docstring); ip: addresses that differ
    from IP's (a second resolver that answers differently)."""

    def __init__(self, ip=None, extra=()):
        """extra: more dnsmasq options (records of a test's own)."""
        hosts = dict(IP, **(ip or {}))
        self.proc = None
        self.log = tempfile.TemporaryFile()
        for _ in range(5):
            self.port = free_port()
            args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                    "--port=%d" % self.port, "--listen-address=127.0.0.1",
                    "--bind-interfaces", "--cache-size=0", "--local=/test/",
                    "--log-queries", "--log-facility=-"]
            args += ["--mx-host=%s,%s,%d" % mx for mx in MX]
            args += ["--host-record=%s,%s" % kv for kv in hosts.items()]
            args += list(extra)
            self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
            try:
                wait_for(self._answers, timeout=5, what="dnsmasq")
                return
            except AssertionError:
                self.stop()
        raise AssertionError("dnsmasq did not start:\n" + self.read_log())

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("dnsmasq exited:\n" + self.read_log())
        try:
            return dns_query(self.port, "a.test") == (0, 2)
        except OSError:
            return False

    def read_log(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---- certificates ----

def make_cert(directory, host="sink.test"):
    cert = os.path.join(directory, host + ".pem")
    key = os.path.join(directory, host + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=" + host, "-addext", "subjectAltName=DNS:" + host,
                    "-keyout", key, "-out", cert], check=True, capture_output=True,
                   timeout=30)
    return cert, key


def server_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# ---- SMTP sinks ----

class Received:
    """One transaction a sink accepted (or refused at DATA/BDAT)."""

    def __init__(self, conn, mail_from, mail_options, rcpt_tos, rcpt_options,
                 data, method, tls, login, reply):
        self.conn = conn                    # connection number at the sink
        self.mail_from = mail_from
        self.mail_options = mail_options    # upper-cased MAIL parameters
        self.rcpt_tos = rcpt_tos            # the accepted recipients
        self.rcpt_options = rcpt_options    # per accepted recipient
        self.data = data                    # bytes as received (dots removed)
        self.method = method                # "DATA" or "BDAT"
        self.tls = tls
        self.login = login                  # (user, password) or None
        self.reply = reply                  # what the sink answered

    def __repr__(self):
        return (f"<Received conn={self.conn} from={self.mail_from!r} to={self.rcpt_tos!r} "
                f"{self.method} {len(self.data)} bytes reply={self.reply!r}>")


class Replies:
    """Scripted answers: queued ones first (each used once), then the
    default.  An answer is a reply line ("451 4.3.0 try later"), None for
    the normal acceptance, DROP (the connection is cut instead of an
    answer; DATA only), or a callable(argument) giving one of those."""

    def __init__(self, *queued, default=None):
        self.lock = threading.Lock()
        self.queued = collections.deque(queued)
        self.default = default

    def set(self, *queued, default=None):
        with self.lock:
            self.queued = collections.deque(queued)
            self.default = default

    def next(self, arg):
        with self.lock:
            answer = self.queued.popleft() if self.queued else self.default
        return answer(arg) if callable(answer) else answer


DROP = "drop the connection"      # an answer: close at once, say nothing


DSN_PARAM = re.compile(r"\s+(NOTIFY|ORCPT|RET|ENVID)=(\S+)", re.I)


class SinkSMTP(SMTP):
    """aiosmtpd's server with what the tests need on top: a connection
    number, a log of commands, DSN parameters taken off (and recorded)
    when the sink offers DSN, and BDAT when it offers CHUNKING."""

    def __init__(self, sink, *args, **kwargs):
        self.sink = sink
        self.conn_id = sink._new_connection()
        self.login = None
        self.dsn_mail = {}
        self.dsn_rcpt = []
        self.method = "DATA"
        self.bdat_chunks = []
        super().__init__(*args, **kwargs)
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._logged(name, method)

    def _logged(self, name, method):
        @functools.wraps(method)
        async def run(arg):
            self.sink.commands.append((self.conn_id, name, arg))
            return await method(arg)
        return run

    def _take_dsn(self, arg, into):
        if not self.sink.dsn or arg is None:
            return arg
        for m in DSN_PARAM.finditer(arg):
            into[m.group(1).upper()] = m.group(2)
        return DSN_PARAM.sub("", arg)

    async def smtp_MAIL(self, arg):
        self.dsn_mail = {}
        self.dsn_rcpt = []
        await super().smtp_MAIL(self._take_dsn(arg, self.dsn_mail))

    async def smtp_RCPT(self, arg):
        params = {}
        arg = self._take_dsn(arg, params)
        self._pending_dsn = params
        await super().smtp_RCPT(arg)

    async def smtp_STARTTLS(self, arg):
        if self.sink.starttls_reply is not None:
            await self.push(self.sink.starttls_reply)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_BDAT(self, arg):
        if not self.sink.chunking:
            await self.push('500 Error: command "BDAT" not recognized')
            return
        m = re.fullmatch(r"(\d+)(\s+LAST)?", arg or "", re.I)
        if not m:
            await self.push("501 5.5.4 Syntax: BDAT size [LAST]")
            return
        chunk = await self._reader.readexactly(int(m.group(1)))
        if not self.envelope.rcpt_tos:
            self.bdat_chunks = []
            await self.push("503 5.5.1 need RCPT")
            return
        self.bdat_chunks.append(chunk)
        if not m.group(2):
            await self.push("250 2.0.0 %d octets received" % len(chunk))
            return
        content = b"".join(self.bdat_chunks)
        self.bdat_chunks = []
        self.envelope.content = self.envelope.original_content = content
        self.method = "BDAT"
        status = await self._call_handler_hook("DATA")
        self.method = "DATA"
        self._set_post_data_state()
        await self.push(status)


class SinkController(Controller):
    def __init__(self, sink, *args, **kwargs):
        self.sink = sink
        super().__init__(*args, **kwargs)

    def factory(self):
        return SinkSMTP(self.sink, self.handler, **self.SMTP_kwargs)


class Sink:
    """A scriptable mail exchanger on host:port.

    mail / rcpt / data: Replies for MAIL, each RCPT and the end of the
    text (DATA or BDAT); None answers "250".  Capabilities: eightbit
    (8BITMIME), pipelining, chunking, dsn, smtputf8, size_limit (SIZE),
    ehlo (False: EHLO refused, HELO needed), tls (a (cert, key) pair:
    STARTTLS; starttls_reply: a refusal of it instead), auth ({user:
    password}: AUTH, only after STARTTLS unless auth_require_tls=False;
    auth_required refuses MAIL before it).

    What arrived: messages (accepted transactions, Received objects),
    refused (transactions refused at the text), commands ((conn, verb,
    argument) tuples), connections (how many the server under test
    opened)."""

    def __init__(self, host, port, *, mail=None, rcpt=None, data=None,
                 eightbit=True, pipelining=True, chunking=False, dsn=False,
                 smtputf8=True, size_limit=10 * 1024 * 1024, ehlo=True,
                 tls=None, starttls_reply=None, auth=None, auth_require_tls=True,
                 auth_required=False, start=True):
        self.host, self.port = host, port
        self.mail = mail or Replies()
        self.rcpt = rcpt or Replies()
        self.data = data or Replies()
        self.eightbit, self.pipelining = eightbit, pipelining
        self.chunking, self.dsn = chunking, dsn
        self.ehlo = ehlo                    # False: EHLO is refused (502)
        self.starttls_reply = starttls_reply  # e.g. "454 ...": STARTTLS refused
        self.messages = []
        self.refused = []
        self.commands = []
        self.logins = []
        self._conn_count = 0
        self._lock = threading.Lock()
        kwargs = {"hostname": host, "port": port, "ready_timeout": 10,
                  "server_hostname": "sink-" + host, "decode_data": False,
                  "data_size_limit": size_limit, "enable_SMTPUTF8": smtputf8}
        if tls is not None:
            kwargs["tls_context"] = server_tls_context(*tls)
        if auth is not None:
            self.passwords = dict(auth)
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = auth_require_tls
            kwargs["auth_required"] = auth_required
        self.controller = SinkController(self, _Handler(self), **kwargs)
        self.running = False
        if start:
            self.start()

    def _new_connection(self):
        with self._lock:
            self._conn_count += 1
            return self._conn_count

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        user = auth_data.login.decode()
        password = auth_data.password.decode()
        self.logins.append((server.conn_id, mechanism, user, password))
        ok = self.passwords.get(user) == password
        if ok:
            server.login = (user, password)
        return AuthResult(success=ok, handled=False)

    def start(self):
        self.controller.start()
        self.running = True
        # the controller's own readiness probe was a connection too; it
        # said no EHLO, so `connections` leaves it out
        return self

    def stop(self):
        if self.running:
            self.controller.stop()
            self.running = False

    # ---- what arrived ----

    @property
    def connections(self):
        """Connections opened by the server under test: those that said
        EHLO or HELO."""
        return sorted({c for c, verb, _ in self.commands if verb in ("EHLO", "HELO")})

    def verbs(self, conn=None):
        return [v for c, v, _ in self.commands if conn is None or c == conn]

    def wait_messages(self, n, timeout=10):
        return wait_for(lambda: self.messages if len(self.messages) >= n else None,
                        timeout, what=f"{n} message(s) at {self.host} "
                                      f"(have {self.messages!r})")

    def wait_commands(self, verb, n, timeout=10):
        return wait_for(lambda: len([1 for _, v, _ in self.commands if v == verb]) >= n,
                        timeout, what=f"{n} {verb} at {self.host}")


def _accept(answer, default):
    return default if answer is None else answer


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        sink = self.sink
        if not sink.ehlo:
            return ["502 5.5.2 EHLO not implemented here"]
        session.host_name = hostname
        lines = [r[4:] for r in responses if r[4:] != "HELP"]
        if not sink.eightbit:
            lines = [x for x in lines if x != "8BITMIME"]
        if sink.pipelining:
            lines.append("PIPELINING")
        if sink.chunking:
            lines.append("CHUNKING")
        if sink.dsn:
            lines.append("DSN")
        return ["250-" + x for x in lines[:-1]] + ["250 " + lines[-1]]

    async def handle_MAIL(self, server, session, envelope, address, options):
        answer = self.sink.mail.next(address)
        if answer is None:
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 2.1.0 OK"
        return answer

    async def handle_RCPT(self, server, session, envelope, address, options):
        answer = self.sink.rcpt.next(address)
        if answer is None:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.append(list(options) + [
                f"{k}={v}" for k, v in getattr(server, "_pending_dsn", {}).items()])
            return "250 2.1.5 OK"
        return answer

    async def handle_DATA(self, server, session, envelope):
        answer = self.sink.data.next(envelope.rcpt_tos)
        reply = _accept(answer, "250 2.0.0 OK: got it")
        if answer == DROP:
            server.transport.abort()
            reply = "(connection dropped)"
        options = list(envelope.mail_options) + [
            f"{k}={v}" for k, v in server.dsn_mail.items()]
        rec = Received(server.conn_id, envelope.mail_from, options,
                       list(envelope.rcpt_tos), list(envelope.rcpt_options),
                       bytes(envelope.original_content), server.method,
                       server._tls_protocol is not None, server.login, reply)
        (self.sink.messages if reply.startswith("2") else self.sink.refused).append(rec)
        return reply


class RawGreeter:
    """A TCP listener that answers every connection with one line (e.g. a
    554 refusal) and closes it: a mail exchanger that does not greet with
    220.  Counts the connections."""

    def __init__(self, host, port, line=b"554 5.3.2 no service here\r\n"):
        self.line = line
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                c.sendall(self.line)
                c.settimeout(1)
                c.recv(1024)        # QUIT, or nothing
            except OSError:
                pass
            c.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


# ---- the server under test ----

def relay_server(dns, relay_port, *, relay="", queue=None, domains="example.org, localhost",
                 users=("alice@example.org", "bob@example.org"), start=True):
    """A correio server that relays for 127.0.0.0/8 on its smtp port,
    resolves with dns (a Dnsmasq), reaches mail exchangers on relay_port,
    and retries every second.  relay: more [relay] lines; queue: a dict
    overriding [queue] settings."""
    q = {"retry_interval": "1s", "max_retry_interval": "1s",
         "warn_after": "1h", "give_up": "1h"}
    q.update(queue or {})
    extra = (f"\n[relay]\ntrusted_networks = 127.0.0.0/8\nport = {relay_port}\n{relay}\n"
             "\n[queue]\n" + "".join(f"{k} = {v}\n" for k, v in q.items()) +
             f"\n[dns]\nservers = 127.0.0.1:{dns.port}\n")
    s = Server(extra_config=extra, domains=domains)
    try:
        for u in users:
            s.add_user(u)
        if start:
            start_and_wait(s)
    except BaseException:
        s.cleanup()
        raise
    return s


def start_and_wait(server):
    """Start, and wait for the control socket too (the harness waits for
    the smtp port only, which listens before the socket exists)."""
    server.start()
    wait_for(lambda: server.cli("queue", "list", check=False).returncode == 0,
             timeout=10, what="the control socket")
    return server


def queue_ids(server):
    """Ids of the messages in the relay queue (`correio queue list`)."""
    out = server.cli("queue", "list", "--json").stdout
    return [m["id"] for m in json.loads(out)["messages"]]


def queued_message(server, qid):
    """`correio queue show --json ID`: the envelope as a dict."""
    return json.loads(server.cli("queue", "show", "--json", qid).stdout)


def log_count(server, pattern):
    return len(re.findall(pattern, server.read_log(), re.M))


# ---- delivery status notifications ----

def parse_dsn(data):
    """Parse a stored DSN (bytes of a Maildir file) and check its RFC 3464
    structure.  Returns a dict: msg (the email.message.Message), text (the
    human-readable part), per_message (Message of the per-message
    fields), rcpts (list of Messages, one per recipient), returned (the
    third part)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
    assert msg["Auto-Submitted"] == "auto-replied"
    parts = msg.get_payload()
    assert isinstance(parts, list) and len(parts) == 3, parts
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() in ("message/delivery-status",
                                           "message/global-delivery-status")
    blocks = _status_blocks(parts[1])
    assert isinstance(blocks, list) and len(blocks) >= 2, blocks
    assert blocks[0]["Reporting-MTA"] == "dns; mx.example.org", blocks[0].items()
    for b in blocks[1:]:
        assert b["Final-Recipient"] and b["Action"] and b["Status"], b.items()
    return {"msg": msg, "text": parts[0].get_payload(decode=True).decode(),
            "per_message": blocks[0], "rcpts": blocks[1:], "returned": parts[2]}


def _status_blocks(part):
    """The field blocks of a (global-)delivery-status part as Messages."""
    payload = part.get_payload()
    if part.get_content_type() == "message/delivery-status":
        return payload
    # message/global-delivery-status (RFC 6533): parse its text ourselves
    if isinstance(payload, list):
        payload = "".join(m.as_string() for m in payload)
    text = payload.replace("\r\n", "\n").strip("\n")
    return [email.message_from_string(b + "\n") for b in re.split(r"\n\n+", text)]


def dsn_kind(path):
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read())
    return msg["Subject"]


# ---- pytest fixtures (import them into the test module) ----

@pytest.fixture(scope="module")
def dns():
    d = Dnsmasq()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp("sink-cert")))


def free_port_on_every_host():
    """A port that no socket holds on any of the test hosts' addresses (the
    sinks of one test share it; a port free on 127.0.0.1 may be taken on
    127.0.0.2 by a test running beside this one)."""
    for _ in range(50):
        port = free_port()
        socks = []
        try:
            for addr in set(IP.values()):
                s = socket.socket()
                socks.append(s)
                s.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no port free on every test host")


class Env:
    """One test's world: a relay port, sinks on it, a server using it."""

    def __init__(self, dns, cert):
        self.dns = dns
        self.cert = cert
        self.port = free_port_on_every_host()
        self._cleanups = []
        self._servers = []
        self._sinks = []

    def sink(self, name, **kwargs):
        s = Sink(IP[name], kwargs.pop("port", self.port), **kwargs)
        self._cleanups.append(s.stop)
        self._sinks.append((name, s))
        return s

    def greeter(self, name, line):
        g = RawGreeter(IP[name], self.port, line)
        self._cleanups.append(g.stop)
        return g

    def server(self, **kwargs):
        s = relay_server(self.dns, self.port, **kwargs)
        self._cleanups.append(s.cleanup)
        self._servers.append(s)
        return s

    def report(self):
        """Shown by pytest when the test fails (captured output)."""
        for s in self._servers:
            print("---- server log ----\n" + s.read_log()[-6000:])
        for name, s in self._sinks:
            print(f"---- sink {name}: commands ----")
            for c in s.commands[-40:]:
                print("  ", c)

    def close(self):
        self.report()
        for f in reversed(self._cleanups):
            try:
                f()
            except Exception:   # noqa: BLE001 - best effort
                pass


@pytest.fixture
def env(dns, cert):
    e = Env(dns, cert)
    yield e
    e.close()
