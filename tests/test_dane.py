"""DANE for outbound SMTP (RFC 7672): a DNSSEC-signed test zone
(ldns-keygen + ldns-signzone) served by a private unbound as an auth-zone
on a loopback port; correio's libunbound forwards to it ([dns]
dnssec_resolver) with the zone's DS record as trust anchor ([dns]
trust_anchor_file), and its c-ares lookups ask the same server.  The
mail exchangers are aiosmtpd sinks with known certificates.

    good.dane.example    MX mx.good (127.0.0.51)   TLSA 3 1 1 SPKI of its certificate
    bad.dane.example     MX mx.bad (127.0.0.52)    TLSA 3 1 1 of another key
    ta.dane.example      MX mx.ta (127.0.0.53)     TLSA 2 0 1 of the CA that signed
                                                   its certificate
    plain.dane.example   MX mx.plain (127.0.0.54)  TLSA, but no STARTTLS
    nodane.dane.example  MX mx.nodane (127.0.0.55) no TLSA (a signed denial)
    sts.dane.example     MX mx.sts (127.0.0.56)    TLSA 3 1 1 SPKI; an MTA-STS
                         enforce policy that names another MX: DANE wins
    bogus.dane.example   MX mx.bogus (127.0.0.58)  TLSA 3 1 1 SPKI, its signature
                                                   spoilt: bogus
"""

import hashlib
import os
import shutil
import ssl
import subprocess
import tempfile

import pytest

from correio_harness import free_port
from relay_fixtures import Sink, queue_ids, relay_server, wait_for
from test_mta_sts import CA, PolicyServer, read_report, self_signed
from test_relay import send

ZONE = "dane.example"
MX = {"good": "127.0.0.51", "bad": "127.0.0.52", "ta": "127.0.0.53",
      "plain": "127.0.0.54", "nodane": "127.0.0.55", "sts": "127.0.0.56",
      "bogus": "127.0.0.58"}
POLICY_HOST = "127.0.0.57"


def der(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def spki_sha256(pem_path):
    pub = subprocess.run(["openssl", "x509", "-in", pem_path, "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                          check=True, capture_output=True).stdout
    return hashlib.sha256(spki).hexdigest()


class SignedZone:
    """The zone signed with a fresh KSK and ZSK, served by unbound."""

    def __init__(self, directory, records):
        self.dir = directory
        self.port = free_port()
        zone = os.path.join(directory, "zone")
        with open(zone, "w") as f:
            f.write(f"$ORIGIN {ZONE}.\n$TTL 300\n"
                    f"@ IN SOA ns.{ZONE}. admin.{ZONE}. 1 3600 600 86400 300\n"
                    "@ IN NS ns\nns IN A 127.0.0.1\n" + "".join(r + "\n" for r in records))

        def keygen(*flags):
            out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", *flags, ZONE + "."],
                                 cwd=directory, check=True, capture_output=True, text=True)
            return out.stdout.strip()
        ksk = keygen("-k")
        zsk = keygen()
        subprocess.run(["ldns-signzone", "zone", ksk, zsk], cwd=directory, check=True,
                       capture_output=True)
        self.spoil_signature(os.path.join(directory, "zone.signed"), "_25._tcp.mx.bogus.")
        self.trust_anchor = os.path.join(directory, ksk + ".ds")
        os.chmod(self.trust_anchor, 0o644)
        conf = os.path.join(directory, "unbound.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
    interface: 127.0.0.1
    port: {self.port}
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: ""
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    do-not-query-localhost: no
auth-zone:
    name: "{ZONE}."
    zonefile: "{directory}/zone.signed"
    for-downstream: yes
    for-upstream: no
""")
        self.log = open(os.path.join(directory, "unbound.log"), "wb")
        self.proc = subprocess.Popen(["unbound", "-d", "-c", conf], stdout=self.log,
                                     stderr=self.log)
        wait_for(self._answers, timeout=10, what="unbound")

    @staticmethod
    def spoil_signature(path, owner):
        """Change one character of the signature over owner's TLSA
        records: a validating resolver finds them bogus."""
        with open(path) as f:
            lines = f.read().split("\n")
        done = False
        for i, line in enumerate(lines):
            fields = line.split()
            if (line.startswith(owner) and len(fields) > 5 and fields[3] == "RRSIG"
                    and fields[4] == "TLSA"):
                sig = fields[-1]
                fields[-1] = ("B" if sig[10] == "A" else "A").join([sig[:10], sig[11:]])
                lines[i] = "\t".join(fields)
                done = True
        assert done, "no RRSIG over the TLSA records of " + owner
        with open(path, "w") as f:
            f.write("\n".join(lines))

    def _answers(self):
        import socket
        import struct
        if self.proc.poll() is not None:
            raise AssertionError("unbound exited")
        pkt = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
        for label in ("good." + ZONE).split("."):
            pkt += bytes([len(label)]) + label.encode()
        pkt += b"\0" + struct.pack(">HH", 15, 1)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.3)
                s.sendto(pkt, ("127.0.0.1", self.port))
                data = s.recv(4096)
            return struct.unpack(">H", data[6:8])[0] > 0
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.log.close()


class World:
    def __init__(self, tmp):
        self.dir = tmp
        self.ca = CA(tmp)
        own = {n: self_signed(tmp, f"mx.{n}.{ZONE}") for n in ("good", "bad", "sts", "bogus")}
        other = self_signed(tmp, "other-key.test")
        leaf, key = self.ca.issue(f"mx.ta.{ZONE}")
        # DANE-TA(2): the server sends the trust anchor in its chain
        chain = os.path.join(tmp, "ta-chain.pem")
        with open(chain, "w") as out, open(leaf) as a, open(self.ca.cert) as b:
            out.write(a.read() + b.read())
        ta_cert = (chain, key)
        plain_cert = self_signed(tmp, f"mx.plain.{ZONE}")
        records = []
        for name, ip in MX.items():
            records.append(f"{name} IN MX 10 mx.{name}")
            records.append(f"mx.{name} IN A {ip}")
        tlsa = {
            "good": "3 1 1 " + spki_sha256(own["good"][0]),
            "bad": "3 1 1 " + spki_sha256(other[0]),
            "ta": "2 0 1 " + hashlib.sha256(der(self.ca.cert)).hexdigest(),
            "plain": "3 1 1 " + spki_sha256(plain_cert[0]),
            "sts": "3 1 1 " + spki_sha256(own["sts"][0]),
            "bogus": "3 1 1 " + spki_sha256(own["bogus"][0]),
        }
        records += [f"_25._tcp.mx.{n} IN TLSA {t}" for n, t in tlsa.items()]
        for name in ("good", "bad"):
            records.append(f'_smtp._tls.{name} IN TXT "v=TLSRPTv1; '
                           f'rua=mailto:tlsrpt@example.org"')
        # the MTA-STS policy of sts.dane.example (enforce, another MX)
        records.append(f'_mta-sts.sts IN TXT "v=STSv1; id=1;"')
        records.append(f"mta-sts.sts IN A {POLICY_HOST}")
        self.zone = SignedZone(tmp, records)
        self.https_port = free_port()
        self.https = PolicyServer(POLICY_HOST, self.https_port,
                                  self.ca.issue(f"mta-sts.sts.{ZONE}"),
                                  {f"sts.{ZONE}": "version: STSv1\nmode: enforce\n"
                                   "mx: mx.elsewhere.test\nmax_age: 86400\n"})
        self.relay_port = free_port()
        self.sinks = {
            "good": Sink(MX["good"], self.relay_port, tls=own["good"]),
            "bad": Sink(MX["bad"], self.relay_port, tls=own["bad"]),
            "ta": Sink(MX["ta"], self.relay_port, tls=ta_cert),
            "plain": Sink(MX["plain"], self.relay_port),
            "nodane": Sink(MX["nodane"], self.relay_port, tls=other),
            "sts": Sink(MX["sts"], self.relay_port, tls=own["sts"]),
            "bogus": Sink(MX["bogus"], self.relay_port, tls=own["bogus"]),
        }
        os.chmod(self.ca.cert, 0o644)
        self.server = relay_server(
            self.zone, self.relay_port,
            users=("alice@example.org", "tlsrpt@example.org"),
            relay=f"mta_sts_port = {self.https_port}\nca_file = {self.ca.cert}\n"
                  f"\n[dns]\ndnssec_resolver = 127.0.0.1:{self.zone.port}\n"
                  f"trust_anchor_file = {self.zone.trust_anchor}\n")

    def close(self):
        print("---- server log ----\n" + self.server.read_log()[-8000:])
        self.server.cleanup()
        for s in self.sinks.values():
            s.stop()
        self.https.stop()
        self.zone.stop()


@pytest.fixture(scope="module")
def world():
    tmp = tempfile.mkdtemp(prefix="correio-dane-")
    os.chmod(tmp, 0o755)
    w = World(tmp)
    yield w
    w.close()
    shutil.rmtree(tmp, ignore_errors=True)


def wait_log(server, text, timeout=15):
    return wait_for(lambda: text in server.read_log(), timeout, what=repr(text))


def shown(server, qid):
    return server.cli("queue", "show", qid).stdout


def test_dane_ee_match_delivers(world):
    send(world.server, [f"rcpt@good.{ZONE}"])
    got = world.sinks["good"].wait_messages(1, timeout=15)
    assert got[0].tls
    assert f"mx.good.{ZONE}" in world.server.read_log()
    wait_log(world.server, "DANE: certificate matches the TLSA records")


def test_dane_ta_match_delivers(world):
    send(world.server, [f"rcpt@ta.{ZONE}"])
    got = world.sinks["ta"].wait_messages(1, timeout=15)
    assert got[0].tls


def test_dane_mismatch_defers(world):
    qid = send(world.server, [f"rcpt@bad.{ZONE}"])
    wait_for(lambda: "certificate does not match" in shown(world.server, qid), 15,
             what="the deferral")
    text = shown(world.server, qid)
    assert "4.7.5" in text and f"DANE: TLSA records published for mx.bad.{ZONE}" in text, text
    assert world.sinks["bad"].messages == []
    assert "MAIL" not in world.sinks["bad"].verbs()
    assert qid in queue_ids(world.server)


def test_dane_host_without_starttls_is_never_sent_in_clear(world):
    qid = send(world.server, [f"rcpt@plain.{ZONE}"])
    wait_for(lambda: "offers no STARTTLS" in shown(world.server, qid), 15,
             what="the deferral")
    assert "MAIL" not in world.sinks["plain"].verbs()


def test_bogus_tlsa_rules_the_host_out(world):
    """The TLSA records of mx.bogus fail validation: the host is not used
    (not even in clear, though its certificate would match)."""
    qid = send(world.server, [f"rcpt@bogus.{ZONE}"])
    wait_for(lambda: "TLSA lookup of" in shown(world.server, qid), 15, what="the deferral")
    text = shown(world.server, qid)
    assert f"DANE: the TLSA lookup of mx.bogus.{ZONE} failed" in text and "4.7.5" in text, text
    assert world.sinks["bogus"].connections == []


def test_no_tlsa_is_opportunistic(world):
    """A validated denial of TLSA: no DANE; the sink's certificate (for
    another name, not trusted) does not matter."""
    send(world.server, [f"rcpt@nodane.{ZONE}"])
    got = world.sinks["nodane"].wait_messages(1, timeout=15)
    assert got[0].tls


def test_dane_takes_precedence_over_mta_sts(world):
    """sts.dane.example has an enforced MTA-STS policy that names another
    MX; its MX publishes TLSA records that match: DANE decides."""
    send(world.server, [f"rcpt@sts.{ZONE}"])
    world.sinks["sts"].wait_messages(1, timeout=15)
    log = world.server.read_log()
    assert f"mta-sts: sts.{ZONE}: policy 1 fetched: mode enforce" in log, log


def test_tlsrpt_reports_tlsa_policies(world):
    """Runs after the tests above: good.dane.example had a verified
    session, bad.dane.example only failures."""
    out = world.server.cli("tlsrpt", "send").stdout
    assert "report(s)" in out, out
    paths = world.server.wait_messages("tlsrpt@example.org", 2, timeout=15)
    reports = {}
    for p in paths:
        msg, report = read_report(p)
        reports[msg["TLS-Report-Domain"]] = report
    assert set(reports) == {f"good.{ZONE}", f"bad.{ZONE}"}, reports
    [good] = reports[f"good.{ZONE}"]["policies"]
    assert good["policy"]["policy-type"] == "tlsa"
    assert good["policy"]["policy-string"] == [
        "3 1 1 " + spki_sha256(os.path.join(world.dir, f"self-mx.good.{ZONE}.pem"))]
    assert good["summary"]["total-successful-session-count"] >= 1
    assert good["summary"]["total-failure-session-count"] == 0
    [bad] = reports[f"bad.{ZONE}"]["policies"]
    assert bad["summary"]["total-successful-session-count"] == 0
    [detail] = bad["failure-details"]
    assert detail["result-type"] == "validation-failure"
    assert detail["receiving-mx-hostname"] == f"mx.bad.{ZONE}"
    assert detail["receiving-ip"] == MX["bad"]
