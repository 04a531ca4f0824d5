"""ACME (RFC 8555) against pebble, the ACME test server of Let's Encrypt
(Debian package `pebble`), all on loopback: pebble's HTTPS API with a
certificate made here (correio trusts it through [tls] acme_ca_file),
its validator resolving the names through a private dnsmasq that maps
them to 127.0.0.1, and its challenge ports pointed at correio's
[listen] acme_http (HTTP-01) or imaps listener (TLS-ALPN-01, RFC 8737).

Checked: a certificate issued by Pebble's intermediate is served from
the next handshake of SMTP STARTTLS and IMAPS while an IMAP session opened
before keeps working; both challenge types; a challenge that fails leaves
the self-signed certificate in place with a clear log line; `correio tls
show` shows the issuer; `correio tls renew` orders again."""

import imaplib
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile

import pytest

from correio_harness import Server, free_port, free_ports
from relay_fixtures import dns_query, wait_for

NAMES = ("mx.example.org", "mail.example.org")


class Dns:
    """dnsmasq in the foreground, answering NAMES with 127.0.0.1."""

    def __init__(self):
        self.log = tempfile.TemporaryFile()
        self.port = free_port()
        args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                "--port=%d" % self.port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--cache-size=0", "--local=/example.org/",
                "--log-facility=-"]
        args += ["--host-record=%s,127.0.0.1" % n for n in NAMES]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        wait_for(lambda: self._answers(), timeout=5, what="dnsmasq")

    def _answers(self):
        try:
            return dns_query(self.port, NAMES[0], qtype=1)[1] == 1
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def make_api_cert(directory):
    """A CA and, signed by it, the certificate of pebble's API for
    localhost: pebble needs one, and the package ships none."""
    ca_key, ca = (os.path.join(directory, n) for n in ("ca.key", "ca.pem"))
    key, csr, cert = (os.path.join(directory, n) for n in ("api.key", "api.csr", "api.pem"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=test ACME API CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = os.path.join(directory, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


class Pebble:
    """pebble on loopback; validates HTTP-01 on http_port and TLS-ALPN-01
    on tls_port of 127.0.0.1 (what dns answers)."""

    def __init__(self, dns, http_port, tls_port, ports):
        """ports: pebble's own two (API, management)."""
        self.dir = tempfile.mkdtemp(prefix="correio-pebble-")
        os.chmod(self.dir, 0o755)  # the server reads the CA after dropping root
        self.ca, cert, key = make_api_cert(self.dir)
        self.port, self.mgmt_port = ports
        conf = os.path.join(self.dir, "pebble.json")
        with open(conf, "w") as f:
            json.dump({"pebble": {
                "listenAddress": "127.0.0.1:%d" % self.port,
                "managementListenAddress": "127.0.0.1:%d" % self.mgmt_port,
                "certificate": cert, "privateKey": key,
                "httpPort": http_port, "tlsPort": tls_port,
                "ocspResponderURL": "", "externalAccountBindingRequired": False}}, f)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0",
                   PEBBLE_AUTHZREUSE="0")
        self.log_path = os.path.join(self.dir, "pebble.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["pebble", "-config", conf, "-dnsserver", "127.0.0.1:%d" % dns.port],
            stdout=self.log, stderr=self.log, env=env)
        wait_for(self._listening, timeout=20, what="pebble")

    @property
    def directory(self):
        return "https://localhost:%d/dir" % self.port

    def _listening(self):
        assert self.proc.poll() is None, "pebble exited:\n" + self.read_log()
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def dns():
    d = Dns()
    yield d
    d.stop()


def acme_config(pebble, http_port, challenge):
    return f"""
[tls]
acme = yes
acme_email = postmaster@example.org
acme_directory = {pebble.directory}
acme_ca_file = {pebble.ca}
acme_challenge = {challenge}

[listen]
acme_http = 127.0.0.1:{http_port}
"""


def start_pair(dns, challenge, http_target=None):
    """A correio server (not started) and a pebble validating against it.
    http_target: the port pebble's HTTP-01 validation goes to (default:
    correio's [listen] acme_http)."""
    server = Server()
    taken = {server.smtp_port, server.submission_port, server.submissions_port,
             server.pop3_port, server.pop3s_port, server.imap_port, server.imaps_port,
             server.managesieve_port}
    # pebble's ports and the HTTP-01 one apart from the server's (chosen,
    # not bound yet): a clash would move the server's imaps port at start
    ports = free_ports(3)
    while taken & set(ports):
        ports = free_ports(3)
    http_port = ports[2]
    pebble = Pebble(dns, http_target or http_port, server.imaps_port, ports[:2])
    server.write_config("example.org, localhost", acme_config(pebble, http_port, challenge))
    return server, pebble


def start(server, pebble):
    """Start the server where pebble validates TLS-ALPN-01."""
    imaps = server.imaps_port
    server.start()
    assert server.imaps_port == imaps, "a port was taken: pebble validates the old one"


def peer_cert(sock):
    der = sock.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    r = subprocess.run(["openssl", "x509", "-noout", "-serial", "-issuer", "-subject", "-ext",
                        "subjectAltName"], input=pem, capture_output=True, text=True)
    return r.stdout


def no_verify():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def smtp_starttls_cert(server):
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as s:
        s.ehlo("client.test")
        s.starttls(context=no_verify())
        return peer_cert(s.sock)


def imaps_cert(server):
    with socket.create_connection(("127.0.0.1", server.imaps_port), 10) as raw:
        with no_verify().wrap_socket(raw, server_hostname="mx.example.org") as s:
            return peer_cert(s)


def wait_issued(server, pebble, timeout=90):
    def issued():
        log = server.read_log()
        assert "acme: no certificate issued" not in log, log + "\n" + pebble.read_log()
        return "acme: TLS certificates reloaded" in log
    wait_for(issued, timeout=timeout, interval=0.2, what="ACME issuance")


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_certificate_issued_and_served(dns, challenge):
    server, pebble = start_pair(dns, challenge)
    try:
        server.add_user("alice@example.org")
        start(server, pebble)
        # a session opened on the self-signed certificate, before issuance
        old = imaplib.IMAP4_SSL("127.0.0.1", server.imaps_port, ssl_context=no_verify(),
                                timeout=10)
        old.login("alice@example.org", "secret")
        assert "Pebble" not in peer_cert(old.sock)
        wait_issued(server, pebble)
        log = server.read_log()
        assert "answering the %s challenge for mx.example.org" % challenge in log
        assert "answering the %s challenge for mail.example.org" % challenge in log
        for cert in (smtp_starttls_cert(server), imaps_cert(server)):
            assert "issuer=CN = Pebble Intermediate CA" in cert, cert
            assert "DNS:mx.example.org" in cert and "DNS:mail.example.org" in cert, cert
        # the session of before is untouched: same connection, same certificate
        assert old.noop()[0] == "OK"
        assert old.select("INBOX")[0] == "OK"
        assert "Pebble" not in peer_cert(old.sock)
        old.logout()
        show = server.cli("tls", "show").stdout
        assert "acme.pem" in show and "Pebble Intermediate CA" in show, show
        with open(os.path.join(server.data, "tls", "acme.pem")) as f:
            pem = f.read()
        assert "PRIVATE KEY" in pem and pem.count("BEGIN CERTIFICATE") >= 2
        assert os.stat(os.path.join(server.data, "tls", "acme.pem")).st_mode & 0o077 == 0
    finally:
        server.cleanup()
        pebble.stop()


def test_failing_challenge_keeps_self_signed(dns):
    closed = free_port()  # pebble validates HTTP-01 where nothing listens
    server, pebble = start_pair(dns, "http-01", http_target=closed)
    try:
        start(server, pebble)
        wait_for(lambda: "acme: no certificate issued" in server.read_log(), timeout=90,
                 interval=0.2, what="the failure logged")
        log = server.read_log()
        line = [l for l in log.splitlines() if "acme: no certificate issued" in l][0]
        assert "http-01 challenge for" in line, line
        assert "the current certificate stays in use; next try in 60 s" in line, line
        assert not os.path.exists(os.path.join(server.data, "tls", "acme.pem"))
        show = server.cli("tls", "show").stdout
        assert "ACME: none issued yet by %s, the self-signed one serves" % pebble.directory \
            in show and "selfsigned.pem" in show, show
        # a validator's handshake with no challenge pending is refused; other
        # clients offering ALPN get the certificate and no protocol
        for protocols, refused in ((["acme-tls/1"], True), (["h2", "http/1.1"], False)):
            ctx = no_verify()
            ctx.set_alpn_protocols(protocols)
            with socket.create_connection(("127.0.0.1", server.imaps_port), 10) as raw:
                try:
                    with ctx.wrap_socket(raw, server_hostname=NAMES[0]) as tls:
                        assert not refused and tls.selected_alpn_protocol() is None
                except ssl.SSLError:
                    assert refused
        assert "tls: an ACME validation for mx.example.org with no challenge pending" \
            in server.read_log()
        for cert in (smtp_starttls_cert(server), imaps_cert(server)):
            assert "Pebble" not in cert and "issuer=CN = mx.example.org" in cert, cert
    finally:
        server.cleanup()
        pebble.stop()


def test_renew_now(dns):
    server, pebble = start_pair(dns, "http-01")
    try:
        start(server, pebble)
        wait_issued(server, pebble)
        first = smtp_starttls_cert(server)
        r = server.cli("tls", "renew")
        assert "renewal" in r.stdout, r.stdout
        wait_for(lambda: server.read_log().count("acme: TLS certificates reloaded") == 2,
                 timeout=90, interval=0.2, what="the second issuance")
        assert "renewal asked for" in server.read_log()
        second = smtp_starttls_cert(server)
        assert "Pebble Intermediate CA" in second and second != first
    finally:
        server.cleanup()
        pebble.stop()


def write_own_certificate(server, days):
    """An acme.pem as an earlier issuance would have left it, from a CA of
    the test's own ("Old Test CA"), for NAMES, ending in days."""
    tls = os.path.join(server.data, "tls")
    pem = os.path.join(tls, "acme.pem")
    d = tempfile.mkdtemp(prefix="correio-oldca-")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "400",
        "-subj", "/CN=Old Test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", d + "/key.pem", "-out", d + "/req.csr", "-subj", "/CN=" + NAMES[0])
    with open(d + "/ext.cnf", "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in NAMES) + "\n")
    run("openssl", "x509", "-req", "-in", d + "/req.csr", "-CA", d + "/ca.pem", "-CAkey",
        d + "/ca.key", "-CAcreateserial", "-out", d + "/cert.pem", "-days", str(days),
        "-extfile", d + "/ext.cnf")
    with open(pem, "w") as out:
        for name in ("key.pem", "cert.pem", "ca.pem"):
            with open(os.path.join(d, name)) as f:
                out.write(f.read())
    st = os.stat(tls)
    os.chown(pem, st.st_uid, st.st_gid)
    os.chmod(pem, 0o600)
    shutil.rmtree(d)


def test_certificate_kept_until_30_days_left_then_renewed(dns):
    server, pebble = start_pair(dns, "http-01")
    acme = server.config_args[1]
    try:
        # a first start without ACME makes the data directory as serve does
        server.write_config("example.org, localhost", "")
        start(server, pebble)
        server.stop()
        server.write_config("example.org, localhost", acme)
        write_own_certificate(server, 60)
        start(server, pebble)
        wait_for(lambda: "acme: the certificate is good" in server.read_log(), timeout=10,
                 what="the check at start")
        assert "acme: ordering" not in server.read_log()
        for cert in (smtp_starttls_cert(server), imaps_cert(server)):
            assert "issuer=CN = Old Test CA" in cert, cert
        server.stop()
        write_own_certificate(server, 10)
        start(server, pebble)
        wait_issued(server, pebble)
        assert "acme: ordering a certificate from %s (the certificate ends within 30 days)" \
            % pebble.directory in server.read_log()
        assert "issuer=CN = Pebble Intermediate CA" in smtp_starttls_cert(server)
    finally:
        server.cleanup()
        pebble.stop()


def test_acme_config_errors(tmp_path):
    server = Server(extra_config="""
[tls]
acme = yes
acme_email = postmaster@example.org
""")
    try:
        with pytest.raises(AssertionError) as e:
            server.start()
        assert "acme_challenge http-01 needs [listen] acme_http" in str(e.value)
        r = server.cli("check", check=False)
        assert r.returncode != 0
        assert "check: tls: [tls] acme_challenge http-01 needs [listen] acme_http" in r.stderr
    finally:
        server.cleanup()


def test_renew_needs_acme():
    server = Server()
    try:
        server.start()
        r = server.cli("tls", "renew", check=False)
        assert r.returncode == 1 and "[tls] acme is not enabled" in r.stderr, r.stderr
    finally:
        server.cleanup()


class DrippingCa:
    """A hostile ACME server on loopback: TLS with a certificate correio
    trusts, then an answer that never ends, one byte a second."""

    def __init__(self):
        import threading
        self.dir = tempfile.mkdtemp(prefix="correio-drip-")
        os.chmod(self.dir, 0o755)	# the server reads the CA after dropping root
        self.ca, cert, key = make_api_cert(self.dir)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(10)
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self.stopping.wait(1):
                    tls.sendall(b"a")
        except OSError:
            pass

    def stop(self):
        self.stopping.set()
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def dripping_pair():
    ca = DrippingCa()
    server = Server(extra_config=f"""
[tls]
acme = yes
acme_email = postmaster@example.org
acme_directory = https://localhost:{ca.port}/dir
acme_ca_file = {ca.ca}
acme_challenge = http-01
acme_timeout = 5s

[listen]
acme_http = 127.0.0.1:{{port:acme_http}}
""")
    return server, ca


def test_ca_that_never_finishes_is_bounded():
    """A CA whose answer never ends (a byte now and then, each before any
    read timeout) does not hold the ACME client for ever: the request is
    given up after its overall limit and logged."""
    server, ca = dripping_pair()
    try:
        server.start()
        wait_for(lambda: ca.connections > 0, timeout=10, interval=0.2, what="the request")
        wait_for(lambda: "acme: no certificate issued" in server.read_log(), timeout=30,
                 interval=0.5, what="the request given up")
        line = [l for l in server.read_log().splitlines()
                if "acme: no certificate issued" in l][0]
        assert "took longer than" in line, line
    finally:
        server.cleanup()
        ca.stop()


def test_stop_during_a_hanging_acme_request():
    """SIGTERM while the ACME thread waits on a CA that never finishes:
    the server stops at once, not after the CA's answer or a timeout."""
    import time
    server, ca = dripping_pair()
    try:
        server.start()
        wait_for(lambda: ca.connections > 0, timeout=10, interval=0.2, what="the request")
        time.sleep(1)
        start = time.monotonic()
        assert server.stop(timeout=60) == 0
        assert time.monotonic() - start < 5
    finally:
        server.cleanup()
        ca.stop()
