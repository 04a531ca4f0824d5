"""MTA-STS (RFC 8461) on the relay: the policy found through the
_mta-sts TXT record of the test's own dnsmasq, fetched from a local HTTPS
server (python's http.server over ssl) for mta-sts.DOMAIN, its
certificate and the mail exchangers' checked against a test CA given to
correio as [relay] ca_file; enforce refuses mail exchangers that do not
match, do not offer STARTTLS or show a certificate not valid for their
name (the mail is deferred, never sent in clear); testing delivers
anyway and logs; the policy is cached under the data directory and
fetched again when the TXT id changes; the outcomes are counted and
sent as TLS-RPT (RFC 8460) reports to the rua of _smtp._tls.DOMAIN.

The zone (policy hosts on 127.0.0.40, mail exchangers on their own
addresses, every sink on one port):

    enf.test     enforce, mx: mx.enf.test     MX mx.enf.test (127.0.0.41, good cert)
    bad.test     enforce, mx: mx.bad.test     MX mx.bad.test (127.0.0.42, cert for
                                              another name)
    tst.test     testing, mx: mx.tst.test     MX mx.tst.test (127.0.0.43, cert for
                                              another name)
    nomx.test    enforce, mx: *.other.test    MX mx.nomx.test (127.0.0.44)
    clear.test   enforce, mx: mx.clear.test   MX mx.clear.test (127.0.0.45, no STARTTLS)
    untr.test    (policy host on 127.0.0.46 with a self-signed certificate)
                                              MX mx.untr.test (127.0.0.47, no STARTTLS)
"""

import email
import gzip
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import pytest

from correio_harness import free_port
from relay_fixtures import Sink, queue_ids, relay_server, wait_for
from test_relay import send

POLICY_HOST = "127.0.0.40"
UNTRUSTED_HOST = "127.0.0.46"
MX_IP = {
    "mx.enf.test": "127.0.0.41",
    "mx.bad.test": "127.0.0.42",
    "mx.tst.test": "127.0.0.43",
    "mx.nomx.test": "127.0.0.44",
    "mx.clear.test": "127.0.0.45",
    "mx.untr.test": "127.0.0.47",
}
DOMAINS = ["enf.test", "bad.test", "tst.test", "nomx.test", "clear.test", "untr.test"]

POLICIES = {
    "enf.test": "version: STSv1\nmode: enforce\nmx: mx.enf.test\nmax_age: 86400\n",
    "bad.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.bad.test\r\nmax_age: 86400\r\n",
    "tst.test": "version: STSv1\nmode: testing\nmx: mx.tst.test\nmax_age: 86400\n",
    "nomx.test": "version: STSv1\nmode: enforce\nmx: *.other.test\nmax_age: 86400\n",
    "clear.test": "version: STSv1\nmode: enforce\nmx: mx.clear.test\nmax_age: 86400\n",
    "untr.test": "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n",
}


# ---- certificates ----

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


class CA:
    """A test certificate authority and the certificates it signs."""

    def __init__(self, directory):
        self.dir = directory
        self.cert = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-days", "2", "-subj", "/CN=correio test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", self.key, "-out", self.cert)

    def issue(self, *names):
        base = os.path.join(self.dir, names[0])
        openssl("req", "-x509", "-CA", self.cert, "-CAkey", self.key, "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=" + names[0],
                "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names),
                "-addext", "basicConstraints=critical,CA:FALSE",
                "-keyout", base + ".key", "-out", base + ".pem")
        return base + ".pem", base + ".key"


def self_signed(directory, name):
    base = os.path.join(directory, "self-" + name)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "2", "-subj", "/CN=" + name,
            "-addext", "subjectAltName=DNS:" + name,
            "-keyout", base + ".key", "-out", base + ".pem")
    return base + ".pem", base + ".key"


# ---- DNS ----

class Zone:
    """dnsmasq on 127.0.0.1:port (a fixed port, so that it can be started
    again with other TXT ids while correio keeps asking it)."""

    def __init__(self, ids, port=None):
        self.port = port or free_port()
        self.log = tempfile.TemporaryFile()
        args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                "--port=%d" % self.port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--cache-size=0", "--local=/test/",
                "--log-queries", "--log-facility=-"]
        for domain in DOMAINS:
            mx = "mx." + domain
            args.append("--mx-host=%s,%s,10" % (domain, mx))
            args.append("--host-record=%s,%s" % (mx, MX_IP[mx]))
            args.append("--host-record=mta-sts.%s,%s" % (
                domain, UNTRUSTED_HOST if domain == "untr.test" else POLICY_HOST))
            args.append('--txt-record=_mta-sts.%s,v=STSv1; id=%s;' % (domain, ids[domain]))
        for domain in ("enf.test", "bad.test", "untr.test"):
            # (a comma would start a second string of the record in
            # dnsmasq's syntax: one address)
            args.append("--txt-record=_smtp._tls.%s,v=TLSRPTv1; "
                        "rua=mailto:tlsrpt@example.org" % domain)
        # an unrelated TXT record beside the STS one is ignored
        args.append('--txt-record=_mta-sts.enf.test,v=spf1 -all')
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        wait_for(self._answers, timeout=5, what="dnsmasq")

    def _answers(self):
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise AssertionError("dnsmasq exited: " + self.log.read().decode())
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


# ---- the policy server ----

class PolicyServer:
    """HTTPS on host:port answering GET /.well-known/mta-sts.txt with
    policies[Host without "mta-sts."]; counts the fetches per domain."""

    def __init__(self, host, port, cert, policies):
        self.policies = policies
        self.fetches = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                domain = (self.headers.get("Host") or "").removeprefix("mta-sts.")
                outer.fetches[domain] = outer.fetches.get(domain, 0) + 1
                body = outer.policies.get(domain)
                if self.path != "/.well-known/mta-sts.txt" or body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- the world of the tests ----

class World:
    def __init__(self, tmp):
        self.ca = CA(tmp)
        self.ids = {d: "1" for d in DOMAINS}
        self.zone = Zone(self.ids)
        self.https_port = free_port()
        self.relay_port = free_port()
        names = ["mta-sts." + d for d in DOMAINS if d != "untr.test"]
        self.policies = dict(POLICIES)
        self.https = PolicyServer(POLICY_HOST, self.https_port, self.ca.issue(*names),
                                  self.policies)
        self.untrusted = PolicyServer(UNTRUSTED_HOST, self.https_port,
                                      self_signed(tmp, "mta-sts.untr.test"), self.policies)
        good = self.ca.issue("mx.enf.test")
        wrong = self.ca.issue("wrong-name.test")
        self.sinks = {
            "enf.test": Sink(MX_IP["mx.enf.test"], self.relay_port, tls=good),
            "bad.test": Sink(MX_IP["mx.bad.test"], self.relay_port, tls=wrong),
            "tst.test": Sink(MX_IP["mx.tst.test"], self.relay_port, tls=wrong),
            "nomx.test": Sink(MX_IP["mx.nomx.test"], self.relay_port, tls=good),
            "clear.test": Sink(MX_IP["mx.clear.test"], self.relay_port),
            "untr.test": Sink(MX_IP["mx.untr.test"], self.relay_port),
        }
        self.server = relay_server(
            self.zone, self.relay_port,
            users=("alice@example.org", "tlsrpt@example.org"),
            relay=f"mta_sts_port = {self.https_port}\nca_file = {self.ca.cert}\n"
                  "mta_sts_timeout = 10s\n")

    def restart_zone(self):
        port = self.zone.port
        self.zone.stop()
        self.zone = Zone(self.ids, port)

    def close(self):
        print("---- server log ----\n" + self.server.read_log()[-8000:])
        self.server.cleanup()
        for s in self.sinks.values():
            s.stop()
        self.https.stop()
        self.untrusted.stop()
        self.zone.stop()


@pytest.fixture
def world():
    # readable by the account the server runs as (it drops root)
    tmp = tempfile.mkdtemp(prefix="correio-mta-sts-")
    os.chmod(tmp, 0o755)
    w = World(tmp)
    os.chmod(w.ca.cert, 0o644)
    yield w
    w.close()
    shutil.rmtree(tmp, ignore_errors=True)


def last_error(server, qid):
    return server.cli("queue", "show", qid).stdout


def wait_log(server, text, timeout=15):
    return wait_for(lambda: text in server.read_log(), timeout, what=repr(text))


# ---- the tests ----

def test_enforce_delivers_over_verified_tls(world):
    send(world.server, ["rcpt@enf.test"])
    got = world.sinks["enf.test"].wait_messages(1, timeout=15)
    assert got[0].tls, got
    assert world.https.fetches.get("enf.test") == 1
    cached = os.path.join(world.server.data, "mta-sts", "enf.test")
    with open(cached) as f:
        text = f.read()
    assert text.startswith("1 ") and "mode: enforce" in text, text
    assert "policy 1 fetched: mode enforce" in world.server.read_log()


def test_enforce_mismatching_certificate_defers(world):
    qid = send(world.server, ["rcpt@bad.test"])
    wait_log(world.server, "status=deferred")
    log = world.server.read_log()
    assert "MTA-STS policy of bad.test (enforce): certificate of mx.bad.test not valid" \
        in log, log
    shown = last_error(world.server, qid)
    assert "4.7.5" in shown and "MTA-STS" in shown, shown
    assert world.sinks["bad.test"].messages == []
    # TLS was begun, but no transaction was started on it
    assert "MAIL" not in world.sinks["bad.test"].verbs()
    assert qid in queue_ids(world.server)


def test_testing_mode_delivers_anyway_and_reports(world):
    send(world.server, ["rcpt@tst.test"])
    got = world.sinks["tst.test"].wait_messages(1, timeout=15)
    assert got[0].tls
    log = world.server.read_log()
    assert "MTA-STS policy of tst.test (testing): certificate of mx.tst.test not valid" \
        in log and "delivering anyway (testing)" in log, log


def test_enforce_without_matching_mx_defers(world):
    qid = send(world.server, ["rcpt@nomx.test"])
    wait_log(world.server, "status=deferred")
    assert "no mail exchanger matches its mx patterns" in last_error(world.server, qid)
    assert world.sinks["nomx.test"].connections == []


def test_enforce_never_sends_in_clear(world):
    qid = send(world.server, ["rcpt@clear.test"])
    wait_log(world.server, "status=deferred")
    assert "offers no STARTTLS" in last_error(world.server, qid)
    sink = world.sinks["clear.test"]
    assert sink.connections and "MAIL" not in sink.verbs(), sink.commands


def test_policy_host_with_untrusted_certificate_is_no_policy(world):
    """The policy of untr.test (enforce, mx.elsewhere.test) would refuse
    its MX; fetched from a host whose certificate is not trusted, it is
    not taken, and the mail goes out as without MTA-STS."""
    send(world.server, ["rcpt@untr.test"])
    world.sinks["untr.test"].wait_messages(1, timeout=15)
    log = world.server.read_log()
    assert "policy fetch from mta-sts.untr.test" in log and "no policy applies" in log, log
    assert world.untrusted.fetches.get("untr.test") is None
    assert not os.path.exists(os.path.join(world.server.data, "mta-sts", "untr.test"))


def test_cached_policy_until_the_id_changes(world):
    sink = world.sinks["enf.test"]
    send(world.server, ["one@enf.test"])
    sink.wait_messages(1, timeout=15)
    # the cached policy (same id) is used: no second fetch, even when
    # the policy served meanwhile would refuse the mail exchanger
    world.policies["enf.test"] = POLICIES["nomx.test"]
    world.server.cli("queue", "flush")
    send(world.server, ["two@enf.test"])
    sink.wait_messages(2, timeout=15)
    assert world.https.fetches["enf.test"] == 1
    # a new id: fetched again, and the new policy applies
    world.ids["enf.test"] = "2"
    world.restart_zone()
    world.server.cli("queue", "flush")
    qid = send(world.server, ["three@enf.test"])
    wait_log(world.server, "policy 2 fetched")
    wait_log(world.server, "status=deferred")
    assert world.https.fetches["enf.test"] == 2
    assert "no mail exchanger matches" in last_error(world.server, qid)
    assert len(sink.messages) == 2
    with open(os.path.join(world.server.data, "mta-sts", "enf.test")) as f:
        assert f.read().startswith("2 ")


def test_cached_policy_survives_restart_and_a_missing_record(world):
    send(world.server, ["one@enf.test"])
    world.sinks["enf.test"].wait_messages(1, timeout=15)
    # the TXT record disappears and the policy host goes away: the
    # cached enforce policy still holds (RFC 8461 §5.1), after a restart
    world.ids["enf.test"] = "x y"     # not a valid record: as if none
    world.restart_zone()
    world.https.stop()
    world.server.stop()
    world.server.start()
    wait_for(lambda: world.server.cli("queue", "list", check=False).returncode == 0,
             timeout=10, what="the control socket")
    world.sinks["enf.test"].stop()
    world.sinks["enf.test"] = Sink(MX_IP["mx.enf.test"], world.relay_port,
                                   tls=world.ca.issue("wrong-name2.test"))
    qid = send(world.server, ["two@enf.test"])
    wait_log(world.server, "status=deferred")
    assert "certificate of mx.enf.test not valid" in last_error(world.server, qid)
    world.https = PolicyServer(POLICY_HOST, free_port(), world.ca.issue("unused.test"), {})


# ---- TLS-RPT (RFC 8460) ----

def read_report(path):
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read())
    assert msg.get_content_type() == "multipart/report", msg["Content-Type"]
    assert msg.get_param("report-type") == "tlsrpt"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == ["text/plain", "application/tlsrpt+gzip"]
    assert parts[1].get_filename().endswith(".json.gz")
    report = json.loads(gzip.decompress(parts[1].get_payload(decode=True)))
    return msg, report


def test_tlsrpt_report_counts_successes_and_failures(world):
    send(world.server, ["one@enf.test"])
    world.sinks["enf.test"].wait_messages(1, timeout=15)
    send(world.server, ["two@bad.test"])
    wait_log(world.server, "status=deferred")
    world.server.cli("queue", "hold", queue_ids(world.server)[0])
    send(world.server, ["three@untr.test"])
    world.sinks["untr.test"].wait_messages(1, timeout=15)
    out = world.server.cli("tlsrpt", "send").stdout
    assert "3 report(s) for 1 day(s)" in out, out
    paths = world.server.wait_messages("tlsrpt@example.org", 3, timeout=15)
    reports = {}
    for p in paths:
        msg, report = read_report(p)
        reports[msg["TLS-Report-Domain"]] = (msg, report)
    assert set(reports) == {"enf.test", "bad.test", "untr.test"}

    # the policy announced by untr.test's TXT record could not be fetched:
    # its host's certificate is not trusted
    _, untrusted = reports["untr.test"]
    [pol] = untrusted["policies"]
    assert pol["policy"]["policy-type"] == "sts"
    assert pol["summary"]["total-failure-session-count"] >= 1
    assert [d["result-type"] for d in pol["failure-details"]] == ["sts-webpki-invalid"]

    msg, good = reports["enf.test"]
    assert msg["Subject"].startswith("Report Domain: enf.test Submitter: mx.example.org")
    assert msg["TLS-Report-Submitter"] == "mx.example.org"
    assert good["organization-name"] == "mx.example.org"
    assert good["date-range"]["start-datetime"].endswith("T00:00:00Z")
    [pol] = good["policies"]
    assert pol["policy"]["policy-type"] == "sts"
    assert pol["policy"]["policy-domain"] == "enf.test"
    assert "mode: enforce" in pol["policy"]["policy-string"]
    assert pol["policy"]["mx-host"] == ["mx.enf.test"]
    assert pol["summary"] == {"total-successful-session-count": 1,
                              "total-failure-session-count": 0}
    assert pol["failure-details"] == []

    _, bad = reports["bad.test"]
    [pol] = bad["policies"]
    assert pol["summary"]["total-successful-session-count"] == 0
    failed = pol["summary"]["total-failure-session-count"]
    assert failed >= 1
    [detail] = pol["failure-details"]
    assert detail == {"result-type": "certificate-host-mismatch",
                      "receiving-mx-hostname": "mx.bad.test",
                      "receiving-ip": MX_IP["mx.bad.test"],
                      "failed-session-count": failed}
    # a day is reported once
    assert "0 report(s)" in world.server.cli("tlsrpt", "send").stdout
