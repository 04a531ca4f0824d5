"""SPF (RFC 7208) and DMARC (RFC 7489) of mail received on `smtp`: a table
of SPF records served by a private dnsmasq, each result in the
Authentication-Results: field compared with python3-spf asking the same
server; [auth_checks] spf = enforce refusing a fail; DMARC policies
(reject, quarantine into Junk, sp=), strict and relaxed alignment."""

import imaplib
import os
import re
import smtplib
import subprocess
import time

import dns.message
import dns.query
import dns.resolver
import pytest
import spf

from correio_harness import Server, free_port

TXT = {
    "pass.spf.test": "v=spf1 ip4:127.0.0.0/8 -all",
    "fail.spf.test": "v=spf1 ip4:192.0.2.1 -all",
    "softfail.spf.test": "v=spf1 ip4:192.0.2.1 ~all",
    "neutral.spf.test": "v=spf1 ?all",
    "nospf.spf.test": "not spf",
    "bad.spf.test": "v=spf1 ip4:300.1.1.1 -all",
    "unknown.spf.test": "v=spf1 frobnicate -all",
    "include.spf.test": "v=spf1 include:pass.spf.test -all",
    "incfail.spf.test": "v=spf1 include:fail.spf.test ~all",
    "incnone.spf.test": "v=spf1 include:nospf.spf.test -all",
    "redirect.spf.test": "v=spf1 redirect=fail.spf.test",
    "mx.spf.test": "v=spf1 mx -all",
    "acidr.spf.test": "v=spf1 a:host.spf.test/24 -all",
    "exists.spf.test": "v=spf1 exists:%{i}.%{l}.%{d} -all",
    "macro.spf.test": "v=spf1 exists:%{ir}.%{v}._spf.%{o} -all",
    "toomany.spf.test": "v=spf1 " + " ".join("a:x%d.spf.test" % i for i in range(1, 12)) + " -all",
    "tenlookups.spf.test": "v=spf1 " + " ".join("a:x%d.spf.test" % i for i in range(1, 10)) +
                           " a:host.spf.test/24 -all",
    "voids.spf.test": "v=spf1 a:v1.spf.test a:v2.spf.test a:v3.spf.test ip4:127.0.0.1 -all",
    "twovoids.spf.test": "v=spf1 a:v1.spf.test a:v2.spf.test ip4:127.0.0.1 -all",
    "temp.spf.test": "v=spf1 include:outside.example -all",
    "helo.spf.test": "v=spf1 ip4:127.0.0.1 -all",
    # DMARC
    "ok.test": "v=spf1 ip4:127.0.0.1 -all",
    "rel.test": "v=spf1 ip4:127.0.0.1 -all",
    "strict.test": "v=spf1 ip4:127.0.0.1 -all",
    "_dmarc.reject.test": "v=DMARC1; p=reject",
    "_dmarc.quar.test": "v=DMARC1; p=quarantine; rua=mailto:d@quar.test",
    "_dmarc.rel.test": "v=DMARC1; p=reject",
    "_dmarc.strict.test": "v=DMARC1; p=reject; aspf=s",
    "_dmarc.sp.test": "v=DMARC1; p=reject; sp=none",
    "_dmarc.pct0.test": "v=DMARC1; p=reject; pct=0",
}
HOSTS = {"host.spf.test": "127.0.0.200", "mail.spf.test": "127.0.0.1",
         "127.0.0.1.alice.exists.spf.test": "127.0.0.2",
         "1.0.0.127.in-addr._spf.macro.spf.test": "127.0.0.2"}
HOSTS.update({"x%d.spf.test" % i: "192.0.2.%d" % i for i in range(1, 12)})

# (sender domain, expected result); the sender is alice@<domain>
CASES = [
    ("pass.spf.test", "pass"), ("fail.spf.test", "fail"), ("softfail.spf.test", "softfail"),
    ("neutral.spf.test", "neutral"), ("nospf.spf.test", "none"), ("absent.spf.test", "none"),
    ("bad.spf.test", "permerror"), ("unknown.spf.test", "permerror"),
    ("include.spf.test", "pass"), ("incfail.spf.test", "softfail"),
    ("incnone.spf.test", "permerror"), ("redirect.spf.test", "fail"),
    ("mx.spf.test", "pass"), ("acidr.spf.test", "pass"), ("exists.spf.test", "pass"),
    ("macro.spf.test", "pass"), ("toomany.spf.test", "permerror"),
    ("tenlookups.spf.test", "pass"), ("voids.spf.test", "permerror"),
    ("twovoids.spf.test", "pass"), ("temp.spf.test", "temperror"),
]


class SpfDns:
    def __init__(self):
        for _ in range(5):
            self.port = free_port()
            args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                    "--port=%d" % self.port, "--listen-address=127.0.0.1",
                    "--bind-interfaces", "--cache-size=0", "--local=/test/",
                    "--mx-host=mx.spf.test,mail.spf.test,10"]
            args += ["--txt-record=%s,%s" % kv for kv in TXT.items()]
            args += ["--host-record=%s,%s" % kv for kv in HOSTS.items()]
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            deadline = time.time() + 5
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    dns.query.udp(dns.message.make_query("pass.spf.test", "TXT"),
                                  "127.0.0.1", port=self.port, timeout=0.5)
                    return
                except Exception:
                    time.sleep(0.05)
            self.stop()
        raise AssertionError("dnsmasq did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def spf_dns():
    d = SpfDns()
    yield d
    d.stop()


def python_spf(port, sender, helo="client.test"):
    """python3-spf's answer, with the same DNS server."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = 3
    saved = dns.resolver.default_resolver
    dns.resolver.default_resolver = r
    try:
        return spf.check2(i="127.0.0.1", s=sender, h=helo, timeout=5)[0]
    finally:
        dns.resolver.default_resolver = saved


def spf_result(stored):
    head = stored.split(b"\n\n", 1)[0]
    m = re.search(rb"^Authentication-Results: mx\.example\.org;.*?\n\tspf=(\w+)[^\n]*? "
                  rb"(smtp\.\w+)=([^\s;]+)", head, re.M | re.S)
    assert m, head
    return m.group(1).decode(), m.group(2).decode(), m.group(3).decode()


def make_server(spf_dns, mode="tag"):
    s = Server(extra_config=f"[dns]\nservers = 127.0.0.1:{spf_dns.port}\n"
                            f"[auth_checks]\nspf = {mode}\ndkim = tag\n", auth_checks=True)
    s.add_user("bob@example.org")
    s.start()
    return s


def test_spf_table_matches_python_spf(spf_dns):
    s = make_server(spf_dns)
    try:
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30, local_hostname="client.test")
        for domain, _ in CASES:
            c.sendmail("alice@" + domain, ["bob@example.org"],
                       f"From: alice@{domain}\r\nSubject: {domain}\r\n\r\nspf\r\n")
        c.quit()
        files = s.wait_messages("bob@example.org", len(CASES), timeout=30)
        got = {}
        for path in files:
            data = s.read_message(path)
            subject = re.search(rb"^Subject: (\S+)", data, re.M).group(1).decode()
            got[subject] = spf_result(data)
    finally:
        s.cleanup()
    for domain, expected in CASES:
        result, what, identity = got[domain]
        assert (domain, what, identity) == (domain, "smtp.mailfrom", "alice@" + domain)
        assert (domain, result) == (domain, expected)
        assert (domain, result) == (domain, python_spf(spf_dns.port, "alice@" + domain))


def test_null_sender_checks_helo(spf_dns):
    s = make_server(spf_dns)
    try:
        for helo, expected in (("helo.spf.test", "pass"), ("fail.spf.test", "fail")):
            c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30, local_hostname=helo)
            c.sendmail("", ["bob@example.org"], f"Subject: {helo}\r\n\r\nbounce\r\n")
            c.quit()
            [path] = s.wait_messages("bob@example.org", 1)
            assert spf_result(s.read_message(path)) == (expected, "smtp.helo", helo)
            assert python_spf(spf_dns.port, "", helo) == expected
            os.unlink(path)
    finally:
        s.cleanup()


def test_enforce_refuses_spf_fail(spf_dns):
    s = make_server(spf_dns, mode="enforce")
    try:
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30, local_hostname="client.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("alice@fail.spf.test", ["bob@example.org"], "Subject: x\r\n\r\nx\r\n")
        assert e.value.smtp_code == 550 and b"5.7.23" in e.value.smtp_error
        # softfail is only tagged
        c.sendmail("alice@softfail.spf.test", ["bob@example.org"], "Subject: y\r\n\r\ny\r\n")
        c.quit()
        [path] = s.wait_messages("bob@example.org", 1)
        assert spf_result(s.read_message(path))[0] == "softfail"
    finally:
        s.cleanup()


# ---- DMARC ----

def dmarc_server(spf_dns, mode="enforce"):
    s = Server(extra_config=f"[dns]\nservers = 127.0.0.1:{spf_dns.port}\n"
                            f"[auth_checks]\nspf = tag\ndkim = tag\ndmarc = {mode}\n",
               auth_checks=True)
    s.add_user("bob@example.org")
    s.start()
    return s


def send(s, mail_from, header_from, subject):
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30, local_hostname="client.test")
    try:
        c.sendmail(mail_from, ["bob@example.org"],
                   f"From: {header_from}\r\nSubject: {subject}\r\n\r\nx\r\n")
    finally:
        c.quit()


def dmarc_of(data):
    head = data.split(b"\n\n", 1)[0]
    m = re.search(rb"dmarc=(\w+)( \(p=\w+ dis=\w+\))? header\.from=([^\s;]+)", head)
    assert m, head
    return m.group(1).decode(), (m.group(2) or b"").decode().strip(), m.group(3).decode()


def junk(s):
    d = os.path.join(s.maildir("bob@example.org"), ".Junk", "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


# (MAIL FROM, From:, what happens, dmarc result)
DMARC_CASES = [
    ("a@ok.test", "a@ok.test", "inbox", "none"),               # no DMARC record
    ("a@fail.spf.test", "a@reject.test", "refused", None),      # p=reject, nothing aligned
    ("a@fail.spf.test", "a@quar.test", "junk", "fail"),         # p=quarantine
    ("a@rel.test", "a@news.rel.test", "inbox", "pass"),         # relaxed: same org domain
    ("a@strict.test", "a@news.strict.test", "refused", None),   # aspf=s: not aligned
    ("a@strict.test", "a@strict.test", "inbox", "pass"),        # aspf=s: identical
    ("a@fail.spf.test", "a@sub.sp.test", "inbox", "fail"),      # sp=none for subdomains
    ("a@fail.spf.test", "a@pct0.test", "inbox", "fail"),        # pct=0: never applied
]


@pytest.mark.parametrize("mail_from,header_from,outcome,result", DMARC_CASES)
def test_dmarc_policy(spf_dns, mail_from, header_from, outcome, result):
    s = dmarc_server(spf_dns)
    try:
        if outcome == "refused":
            with pytest.raises(smtplib.SMTPDataError) as e:
                send(s, mail_from, header_from, "dmarc")
            assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error
            assert header_from.split("@")[1].encode() in e.value.smtp_error
            s.wait_queue_empty()
            assert s.messages("bob@example.org") == [] and junk(s) == []
            return
        send(s, mail_from, header_from, "dmarc")
        if outcome == "junk":
            deadline = time.time() + 10
            while not junk(s) and time.time() < deadline:
                time.sleep(0.05)
            [name] = junk(s)
            assert s.messages("bob@example.org") == []
            data = s.read_message(os.path.join(s.maildir("bob@example.org"), ".Junk", "new", name))
            assert dmarc_of(data)[:2] == ("fail", "(p=quarantine dis=quarantine)")
            # an IMAP client finds it in Junk, and nothing in INBOX
            m = imaplib.IMAP4("127.0.0.1", s.imap_port)
            m.login("bob@example.org", "secret")
            typ, data = m.select("Junk")
            assert typ == "OK" and data == [b"1"], (typ, data)
            typ, data = m.select("INBOX")
            assert typ == "OK" and data == [b"0"], (typ, data)
            m.logout()
        else:
            [path] = s.wait_messages("bob@example.org", 1)
            got = dmarc_of(s.read_message(path))
            assert got[0] == result and got[2] == header_from.split("@")[1]
            assert junk(s) == []
    finally:
        s.cleanup()


def test_dmarc_tag_only_marks(spf_dns):
    s = dmarc_server(spf_dns, mode="tag")
    try:
        send(s, "a@fail.spf.test", "a@reject.test", "tagged")
        [path] = s.wait_messages("bob@example.org", 1)
        assert dmarc_of(s.read_message(path))[:2] == ("fail", "(p=reject dis=reject)")
    finally:
        s.cleanup()
