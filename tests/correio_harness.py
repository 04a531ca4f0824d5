"""Start a real `correio serve` on free loopback ports in a temporary data
directory, and give tests the paths and helpers they need to check what
arrived on disk."""

import glob
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("CORREIO_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "build", "correio")


def strace_path():
    """strace, for the tests that watch system calls.  Installed by
    scripts/deps.sh; the one environment skip: a machine (a container's
    seccomp policy) that refuses ptrace(2)."""
    import pytest
    strace = shutil.which("strace")
    assert strace is not None, "strace is missing: scripts/deps.sh installs it"
    probe = subprocess.run([strace, "-o", "/dev/null", "true"], capture_output=True, text=True)
    if probe.returncode != 0 and "not permitted" in probe.stderr:
        pytest.skip("ptrace is not permitted on this machine: " + probe.stderr.strip())
    assert probe.returncode == 0, probe.stderr
    return strace


def env_under_ptrace():
    """The environment for a correio run under strace: LeakSanitizer (the
    sanitizer build) cannot run under ptrace."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return env


def free_port():
    return free_ports(1)[0]


def free_ports(n):
    """n distinct free loopback ports, all bound at once while choosing.
    They are taken below the kernel's ephemeral range: a port from that
    range is free only until some outgoing connection (the tests make
    thousands) is given it, which can happen between choosing the port
    and the server's bind."""
    low, _ = ephemeral_range()
    if low <= 11000:
        return kernel_ports(n)
    rng = random.SystemRandom()
    socks = []
    try:
        while len(socks) < n:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", rng.randrange(10000, low)))
            except OSError:
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def kernel_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def running_server(*users, **server_args):
    """A started Server (Server(**server_args)) with these accounts, each an
    address (password "secret") or an (address, password) pair, cleaned up
    afterwards: for fixtures to `yield from`."""
    s = Server(**server_args)
    try:
        for u in users:
            if isinstance(u, str):
                s.add_user(u)
            else:
                s.add_user(*u)
        s.start()
        yield s
    finally:
        s.cleanup()


class Server:
    """One correio instance.  Use as a context manager or call stop()."""

    def __init__(self, extra_config="", domains="example.org, localhost", http=False,
                 auth_checks=False, https=False):
        """http: also listen for JMAP on plain HTTP (loopback), at
        self.http_port; [listen] http is off by default.  https: the same
        over TLS at self.https_port.  auth_checks:
        keep the [auth_checks] of mail received on `smtp` (an
        Authentication-Results: field on every message); off by default so
        that other tests see the text they sent.  An extra_config with its
        own [auth_checks] section decides for itself."""
        self.http_port = free_port() if http else None
        self.https_port = free_port() if https else None
        self.auth_checks = auth_checks
        self.dir = tempfile.mkdtemp(prefix="correio-test-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        (self.smtp_port, self.submission_port, self.submissions_port,
         self.pop3_port, self.pop3s_port, self.imap_port,
         self.imaps_port, self.managesieve_port) = free_ports(8)
        self.conf = os.path.join(self.dir, "correio.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        self.extra_ports = {}
        self.write_config(domains, extra_config)
        self.proc = None
        self.started = False

    LISTENERS = ("smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps",
                 "managesieve", "http", "https")

    def port(self, name):
        """The port that "{port:NAME}" stands for in an extra config: a
        listener of the harness's own (port("imap") is imap_port), or any
        other name (a [metrics] listen, an acme_http, a second address of
        a listener), given a free port at first use.  Each one is chosen
        again, like the harness's own, when a start finds a port taken:
        a port written into the extra config as a number would not be."""
        if name in self.LISTENERS:
            port = getattr(self, name + "_port")
            assert port is not None, f"{name} is off: Server({name}=True) turns it on"
            return port
        if name not in self.extra_ports:
            taken = {getattr(self, n + "_port") for n in self.LISTENERS} - {None}
            taken |= set(self.extra_ports.values())
            port = free_port()
            while port in taken:        # chosen apart, but one at a time
                port = free_port()
            self.extra_ports[name] = port
        return self.extra_ports[name]

    def write_config(self, domains, extra=""):
        """Write the configuration; "{port:NAME}" in extra is replaced by
        self.port(NAME)."""
        self.config_args = (domains, extra)
        extra = re.sub(r"\{port:(\w+)\}", lambda m: str(self.port(m.group(1))), extra)
        if not self.auth_checks and "[auth_checks]" not in extra:
            # appended: an extra may begin with keys of [limits] above
            extra = extra + "\n[auth_checks]\ndkim = off\nspf = off\ndmarc = off\n"
        with open(self.conf, "w") as f:
            f.write(f"""[server]
hostname = mx.example.org
data_dir = {self.data}
local_domains = {domains}

[listen]
smtp = 127.0.0.1:{self.smtp_port}
submission = 127.0.0.1:{self.submission_port}
submissions = 127.0.0.1:{self.submissions_port}
pop3 = 127.0.0.1:{self.pop3_port}
pop3s = 127.0.0.1:{self.pop3s_port}
imap = 127.0.0.1:{self.imap_port}
imaps = 127.0.0.1:{self.imaps_port}
managesieve = 127.0.0.1:{self.managesieve_port}
{f"http = 127.0.0.1:{self.http_port}" if self.http_port else ""}
{f"https = 127.0.0.1:{self.https_port}" if self.https_port else ""}

[auth]
failure_delay = 0

[limits]
message_size = 1M
errors = 50
{extra}
""")

    def cli(self, *args, stdin=None, check=True):
        r = subprocess.run([BIN, "-c", self.conf, *args], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"correio {' '.join(args)}: {r.returncode}\n{r.stderr}")
        return r

    def add_user(self, address, password="secret", *flags):
        self.cli("user", "add", address, "--password-stdin", *flags,
                 stdin=password + "\n")

    def start(self, preexec_fn=None):
        """Start the server and wait for the listeners; preexec_fn runs in
        the child before the server (e.g. to set resource limits).  At the
        first start, a listener port that some other program took between
        choosing it and binding it is chosen again (tests that run side by
        side race for free ports)."""
        for attempt in range(3):
            try:
                return self._start(preexec_fn)
            except AssertionError as e:
                if self.started or attempt == 2 or \
                        "Address already in use" not in str(e):
                    raise
            (self.smtp_port, self.submission_port, self.submissions_port,
             self.pop3_port, self.pop3s_port, self.imap_port,
             self.imaps_port, self.managesieve_port) = free_ports(8)
            if self.http_port:
                self.http_port = free_port()
            if self.https_port:
                self.https_port = free_port()
            self.extra_ports = {}
            self.write_config(*self.config_args)
        return self

    def _start(self, preexec_fn):
        # A server killed with -9 leaves its control socket behind; the new
        # one makes its own after binding every listener, which is what the
        # wait below relies on.
        try:
            os.unlink(os.path.join(self.data, "control.sock"))
        except FileNotFoundError:
            pass
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "-c", self.conf, "serve"],
                                     stdout=self.log, stderr=self.log,
                                     preexec_fn=preexec_fn)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                self.log.close()
                raise AssertionError("server exited:\n" + self.read_log())
            # one successful probe only: each one the server accepts counts
            # against its per-client limit until it has seen it close, and a
            # slow start (a sanitizer build) met by a probe every few ms
            # left tests refused with 421 "too many connections"
            if not os.path.exists(os.path.join(self.data, "control.sock")):
                time.sleep(0.01)
                continue
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), 0.2).close()
                self.started = True
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("server did not start:\n" + self.read_log())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        self.log.close()
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # ---- what arrived ----

    def maildir(self, address):
        local, domain = address.lower().rsplit("@", 1)
        return os.path.join(self.data, "mail", domain, local)

    def messages(self, address):
        """Files in the account's Maildir new/ and cur/, oldest first.  A
        POP3 or IMAP session may move a file from new/ to cur/ while we
        look: then look again."""
        d = self.maildir(address)
        for _ in range(50):
            files = glob.glob(os.path.join(d, "new", "*")) + glob.glob(os.path.join(d, "cur", "*"))
            try:
                return sorted(files, key=lambda p: (os.stat(p).st_mtime, p))
            except FileNotFoundError:
                time.sleep(0.01)
        raise AssertionError(f"{d}: files keep moving")

    def wait_messages(self, address, count, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            files = self.messages(address)
            if len(files) >= count:
                return files
            time.sleep(0.02)
        raise AssertionError(f"{address}: {len(self.messages(address))} messages, "
                             f"wanted {count}\n" + self.read_log()[-4000:])

    def read_message(self, path):
        """The bytes of a message file listed by messages().  A session may
        meanwhile move it from new/ to cur/ (and the store name it anew
        there, e.g. with its UID or flags): then it is found again by the
        unique part of its name, before the first ',' or ':'."""
        for _ in range(50):
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                unique = re.split(r"[,:]", os.path.basename(path), maxsplit=1)[0]
                maildir = os.path.dirname(os.path.dirname(path))
                moved = [p for sub in ("cur", "new")
                         for p in glob.glob(os.path.join(maildir, sub, glob.escape(unique) + "*"))
                         if re.split(r"[,:]", os.path.basename(p), maxsplit=1)[0] == unique]
                if moved:
                    path = moved[0]
                else:
                    time.sleep(0.01)
        with open(path, "rb") as f:
            return f.read()

    def queue_files(self):
        return sorted(os.listdir(os.path.join(self.data, "queue")))

    def wait_queue_empty(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.queue_files():
                return
            time.sleep(0.02)
        raise AssertionError("queue not empty: %r" % self.queue_files())

    # ---- more about the running server ----

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def alias_add(self, alias, *targets):
        self.cli("alias", "add", alias, *targets)

    def wait_log(self, pattern, timeout=10, start=0):
        """Wait until the log (from offset start) matches the regular
        expression; return the match."""
        rx = re.compile(pattern, re.M)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.read_log(), start)
            if m or time.time() >= deadline:
                break
            time.sleep(0.02)
        if not m:
            raise AssertionError(f"log has no /{pattern}/:\n" + self.read_log()[-4000:])
        return m

    def client(self, timeout=5, greeting=True):
        """A raw SMTP connection (Client); reads the greeting unless told not to."""
        c = Client(self.smtp_port, timeout)
        if greeting:
            r = c.reply()
            assert r.startswith("220 "), r
        return c

    def ehlo_client(self, name="client.test", timeout=5):
        c = self.client(timeout)
        r = c.cmd("EHLO " + name)
        assert r.startswith("250"), r
        return c


class Client:
    """A raw SMTP connection.  Every read has a timeout; a reply is returned
    as its text (lines joined by "\\n", CRLF removed), e.g. "250 2.0.0 Ok"."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; unread: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """Read one complete (possibly multi-line) reply."""
        lines = [self._line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self._line())
        return "\n".join(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def wait_closed(self, timeout=5):
        """True once the server closed the connection (EOF or reset) within
        timeout; data still arriving before that is returned in self.rest."""
        self.sock.settimeout(timeout)
        self.rest = self.buf
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.rest += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def file_stats(root):
    """{path: os.lstat()} of every file under root, a directory the live
    server may be writing: a file it renames or removes between the
    listing and the look at it (an index's .tmp renamed into place, a
    message moved from new/ to cur/) is left out, not an error."""
    stats = {}
    for d, _, names in os.walk(root):
        for name in names:
            path = os.path.join(d, name)
            try:
                stats[path] = os.lstat(path)
            except FileNotFoundError:
                continue
    return stats


def send_mail(server, sender, rcpts, text, name="client.test"):
    """One transaction over a raw connection with EHLO and DATA.  text is
    bytes or str, CRLF line endings, dot-stuffed by the caller; the final
    ".\\r\\n" is added.  Returns the queue id of the 250 reply."""
    if isinstance(text, str):
        text = text.encode()
    with server.ehlo_client(name) as c:
        r = c.cmd(f"MAIL FROM:<{sender}>")
        assert r.startswith("250 "), r
        for rcpt in rcpts:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.startswith("250 "), r
        r = c.cmd("DATA")
        assert r.startswith("354 "), r
        c.send(text + b".\r\n")
        r = c.reply()
        m = re.match(r"250 2\.0\.0 Ok: queued as (\w+)$", r)
        assert m, r
        c.cmd("QUIT")
        return m.group(1)


# ---- what a stored message looks like ----

TRACE_RE = re.compile(
    rb"Return-Path: <(?P<sender>[^>\n]*)>\n"
    rb"Received: from (?P<helo>\S+) \(unknown \[127\.0\.0\.1\]\)\n"
    rb"\tby mx\.example\.org \(correio\) with (?P<proto>[A-Z0-9]+) id (?P<id>[0-9A-F]+)"
    rb"(?:\n\tfor <(?P<rcpt>[^>\n]*)>)?; (?P<date>[^\n]+)\n")

MAILDIR_NAME_RE = re.compile(r"^(?P<secs>\d+)\.Q(?P<id>[0-9A-F]+)\.mx\.example\.org"
                             r",S=(?P<size>\d+),W=(?P<crlf_size>\d+)$")


def split_stored(data):
    """Split a stored message into its trace fields and the text after
    them.  Returns a dict: sender, helo, proto, id, rcpt (None when the
    Received: line has no "for"), date (str) and body (bytes)."""
    m = TRACE_RE.match(data)
    assert m, "no Return-Path:/Received: trace at the top of:\n%r" % data[:400]
    d = {k: (v.decode() if v is not None else None) for k, v in m.groupdict().items()}
    d["body"] = data[m.end():]
    return d


def check_maildir_file(path):
    """Check a Maildir file's name against its content; return
    (data, fields) with fields as from split_stored()."""
    with open(path, "rb") as f:
        data = f.read()
    name = os.path.basename(path)
    m = MAILDIR_NAME_RE.match(name)
    assert m, name
    assert int(m.group("size")) == len(data), (name, len(data))
    # W=: the size with CRLF line ends, as IMAP's RFC822.SIZE and POP3 count it
    assert int(m.group("crlf_size")) == len(data) + data.count(b"\n") - data.count(b"\r\n"), name
    fields = split_stored(data)
    assert fields["id"] == m.group("id"), (name, fields["id"])
    assert abs(int(m.group("secs")) - time.time()) < 3600, name
    return data, fields
