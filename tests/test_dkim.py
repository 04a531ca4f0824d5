"""DKIM signing of submitted mail (RFC 6376, RFC 8463): the keys made by
`correio domain add` / `domain dkim DOMAIN rotate`, the TXT records printed
by `domain dkim DOMAIN`, and signatures checked by a third-party verifier
(python3-dkim, rsa-sha256 and ed25519-sha256)."""

import os
import pwd
import shutil
import signal
import socket
import tempfile
import time
import re
import smtplib
import stat
import subprocess

import dkim
import pytest

from correio_harness import BIN, Server


def published(server, domain):
    """{"selector._domainkey.domain.": b"v=DKIM1; ..."} from `domain dkim`."""
    out = server.cli("domain", "dkim", domain).stdout
    records = {}
    for m in re.finditer(r'^(\S+) IN TXT \((.*)\)$', out, re.M):
        records[m.group(1)] = "".join(re.findall(r'"([^"]*)"', m.group(2))).encode()
    return records


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        if not name.endswith("."):
            name += "."
        return records.get(name)
    return dnsfunc


def wire_form(stored):
    """The stored message as a receiver sees it: no Return-Path line, CRLF."""
    assert stored.startswith(b"Return-Path: ")
    stored = stored[stored.index(b"\n") + 1:]
    return stored.replace(b"\n", b"\r\n")


def signatures(message):
    return re.findall(rb"^DKIM-Signature:.*?(?=^\S)", message, re.M | re.S)


def verify_all(message, records):
    """Verify every signature of message; returns the a= of those that pass."""
    d = dkim.DKIM(message)
    sigs = signatures(message)
    algs = []
    for i in range(len(sigs)):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc_for(records))
        except dkim.ValidationError:
            ok = False
        if ok:
            algs.append(re.search(rb"a=([a-z0-9-]+)", sigs[i]).group(1).decode())
    return algs


MESSAGE = (b"From: Alice Example <alice@example.org>\r\n"
           b"To: bob@example.net\r\n"
           b"Subject: signed   mail\r\n"
           b"  folded subject line\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"\r\n"
           b"Hello Bob,  with  spaces   \r\n"
           b"\r\n"
           b"and trailing empty lines\r\n"
           b"\r\n\r\n")


@pytest.fixture
def server():
    s = Server()
    s.cli("domain", "dkim", "example.org", "rotate")
    s.add_user("alice@example.org")
    s.add_user("bob@example.org")
    s.start()
    yield s
    s.cleanup()


def submit(server, text, rcpt="bob@example.org"):
    c = smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10)
    c.login("alice@example.org", "secret")
    c.sendmail("alice@example.org", [rcpt], text)
    c.quit()


def test_keys_are_private_and_records_published(server):
    keydir = os.path.join(server.data, "dkim", "example.org")
    keys = sorted(f for f in os.listdir(keydir) if f.endswith(".key"))
    assert len(keys) == 2 and keys[0].endswith(".ed25519.key") and keys[1].endswith(".rsa.key")
    for k in keys:
        st = os.stat(os.path.join(keydir, k))
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.stat(server.data).st_uid
    records = published(server, "example.org")
    assert len(records) == 2
    kinds = sorted(re.search(rb"k=(\w+)", v).group(1) for v in records.values())
    assert kinds == [b"ed25519", b"rsa"]


def test_submitted_mail_is_signed_with_both_algorithms(server):
    submit(server, MESSAGE)
    [path] = server.wait_messages("bob@example.org", 1)
    message = wire_form(server.read_message(path))
    sigs = signatures(message)
    assert len(sigs) == 2, message[:2000]
    for sig in sigs:
        assert b"c=relaxed/relaxed" in sig
        h = re.search(rb"h=([^;]*);", sig).group(1)
        h = re.sub(rb"\s", b"", h).split(b":")
        assert h.count(b"from") == 2          # oversigned
        for name in (b"to", b"subject", b"mime-version", b"content-type", b"date",
                     b"message-id"):
            assert name in h
    assert sorted(verify_all(message, published(server, "example.org"))) == \
        ["ed25519-sha256", "rsa-sha256"]


def test_bounces_correio_writes_are_signed(server, tmp_path):
    """A bounce (here of a Sieve reject) comes from MAILER-DAEMON@ the
    hostname, mx.example.org: it is signed with the keys of example.org,
    the local domain it belongs to (aligned for DMARC), and verifies."""
    script = tmp_path / "reject.sieve"
    script.write_text('require "reject";\nreject "not today";\n')
    server.cli("user", "sieve", "bob@example.org", "put", "main", str(script))
    server.cli("user", "sieve", "bob@example.org", "activate", "main")
    submit(server, MESSAGE)
    [path] = server.wait_messages("alice@example.org", 1)
    message = wire_form(server.read_message(path))
    assert re.search(rb"^From: .*MAILER-DAEMON@mx\.example\.org", message, re.M), message[:800]
    assert b"multipart/report" in message
    # the returned message (the report's third part) has signatures too
    sigs = signatures(message[:message.index(b"\r\n\r\n") + 2])
    assert len(sigs) == 2 and all(b"d=example.org;" in s for s in sigs), message[:2000]
    d, records = dkim.DKIM(message), published(server, "example.org")
    assert all(d.verify(idx=i, dnsfunc=dnsfunc_for(records)) for i in range(2))
    # and a changed report fails
    tampered = message.replace(b"not today", b"not tomorrow")
    assert tampered != message
    with pytest.raises(dkim.ValidationError, match="body hash mismatch"):
        dkim.DKIM(tampered).verify(idx=0, dnsfunc=dnsfunc_for(records))


def test_tampering_breaks_the_signatures(server):
    submit(server, MESSAGE)
    [path] = server.wait_messages("bob@example.org", 1)
    message = wire_form(server.read_message(path))
    records = published(server, "example.org")
    assert len(verify_all(message, records)) == 2
    body = message.replace(b"Hello Bob", b"Hello Eve")
    assert verify_all(body, records) == []
    header = message.replace(b"Subject: signed", b"Subject: changed")
    assert verify_all(header, records) == []
    added = message.replace(b"MIME-Version:", b"From: eve@example.org\r\nMIME-Version:")
    assert verify_all(added, records) == []


def test_large_message_is_signed(server):
    big = MESSAGE + b"".join(b"line %d of a long message\r\n" % i for i in range(20000))
    submit(server, big)
    [path] = server.wait_messages("bob@example.org", 1)
    message = wire_form(server.read_message(path))
    assert len(message) > 400_000
    assert len(verify_all(message, published(server, "example.org"))) == 2


def test_local_sendmail_is_signed(server):
    r = subprocess.run([BIN, "-c", server.conf, "sendmail", "-f", "alice@example.org",
                        "bob@example.org"], input=MESSAGE.replace(b"\r\n", b"\n"),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    [path] = server.wait_messages("bob@example.org", 1)
    message = wire_form(server.read_message(path))
    assert len(verify_all(message, published(server, "example.org"))) == 2


def test_foreign_from_and_inbound_mail_are_not_signed(server):
    submit(server, MESSAGE.replace(b"alice@example.org", b"alice@example.net"))
    c = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10)
    c.sendmail("carol@example.net", ["bob@example.org"], MESSAGE)
    c.quit()
    for path in server.wait_messages("bob@example.org", 2):
        assert b"DKIM-Signature:" not in server.read_message(path)


def test_rotate_keeps_the_old_selector_until_retired(server):
    before = published(server, "example.org")
    server.cli("domain", "dkim", "example.org", "rotate")
    after = published(server, "example.org")
    assert set(before) < set(after) and len(after) == 4
    out = server.cli("domain", "dkim", "example.org").stdout
    old = [name.split(".")[0] for name in before]
    for sel in old:
        assert re.search(r"no longer signing.*\n%s\._domainkey" % sel, out)
    # new mail is signed with the new selectors
    submit(server, MESSAGE)
    [path] = server.wait_messages("bob@example.org", 1)
    message = wire_form(server.read_message(path))
    used = re.findall(rb"s=([a-z0-9-]+);", message)
    assert used and not set(s.decode() for s in used) & set(old)
    assert len(verify_all(message, after)) == 2
    # a signing selector cannot be retired; an old one can
    new_sel = used[0].decode()
    r = server.cli("domain", "dkim", "example.org", "retire", new_sel, check=False)
    assert r.returncode == 1 and "rotate first" in r.stderr
    for sel in old:
        server.cli("domain", "dkim", "example.org", "retire", sel)
    assert set(published(server, "example.org")) == set(after) - set(before)


def test_domain_add_creates_keys():
    with Server() as s:
        r = s.cli("domain", "add", "example.com")
        assert "correio domain dkim example.com" in r.stdout
        assert len(published(s, "example.com")) == 2
        r = s.cli("domain", "dkim", "example.net", check=False)
        assert r.returncode == 1 and "not a local domain" in r.stderr


# ---- verification of received mail ----

import base64
import time

import dns.message
import dns.query
import nacl.signing

from correio_harness import free_port


class TxtDns:
    """dnsmasq on 127.0.0.1:port answering the TXT records given (name ->
    text; long texts split into strings of 250), NXDOMAIN for anything
    else under .test."""

    def __init__(self, records):
        self.log = open(os.devnull, "wb")
        for _ in range(5):
            self.port = free_port()
            args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                    "--port=%d" % self.port, "--listen-address=127.0.0.1",
                    "--bind-interfaces", "--cache-size=0", "--local=/test/"]
            for name, text in records.items():
                parts = [text[i:i + 250] for i in range(0, len(text), 250)] or [""]
                args.append("--txt-record=%s,%s" % (name, ",".join(parts)))
            self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
            if self._ready():
                return
            self.stop()
        raise AssertionError("dnsmasq did not start")

    def _ready(self):
        deadline = time.time() + 5
        while time.time() < deadline and self.proc.poll() is None:
            try:
                dns.query.udp(dns.message.make_query("x.test", "TXT"), "127.0.0.1",
                              port=self.port, timeout=0.5)
                return True
            except Exception:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def signer_keys(tmp_path_factory):
    """A third party's keys: RSA (PEM) and Ed25519 (raw), with their
    records under signer.test."""
    d = tmp_path_factory.mktemp("signer")
    key = d / "rsa.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(key)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    ed = nacl.signing.SigningKey.generate()
    return {
        "rsa": key.read_bytes(),
        "ed": base64.b64encode(bytes(ed)),
        "records": {
            "rsa._domainkey.signer.test": "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode(),
            "ed._domainkey.signer.test": "v=DKIM1; k=ed25519; p=" +
            base64.b64encode(bytes(ed.verify_key)).decode(),
            "revoked._domainkey.signer.test": "v=DKIM1; k=rsa; p=",
        },
    }


@pytest.fixture(scope="module")
def txt_dns(signer_keys):
    d = TxtDns(signer_keys["records"])
    yield d
    d.stop()


def inbound_server(txt_dns, mode="tag"):
    s = Server(extra_config=f"[dns]\nservers = 127.0.0.1:{txt_dns.port}\n"
                            f"[auth_checks]\ndkim = {mode}\n", auth_checks=True)
    s.add_user("bob@example.org")
    s.start()
    return s


INBOUND = (b"From: Alice <alice@signer.test>\r\n"
           b"To: bob@example.org\r\n"
           b"Subject: from a third party\r\n"
           b"Date: Sun, 06 Dec 2026 03:00:00 +0000\r\n"
           b"Message-ID: <third.party@signer.test>\r\n"
           b"\r\n"
           b"Signed   elsewhere.\r\n")


def third_party_sign(keys, message, selectors=("rsa", "ed")):
    sigs = b""
    for sel in selectors:
        if sel == "ed":
            sigs = dkim.sign(message, b"ed", b"signer.test", keys["ed"],
                             signature_algorithm=b"ed25519-sha256",
                             include_headers=[b"from", b"to", b"subject", b"date"]) + sigs
        else:
            sigs = dkim.sign(message, sel.encode(), b"signer.test", keys["rsa"],
                             include_headers=[b"from", b"to", b"subject", b"date"]) + sigs
    return sigs + message


def receive(server, message):
    c = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=20)
    try:
        c.sendmail("alice@signer.test", ["bob@example.org"], message)
    finally:
        c.quit()
    [path] = server.wait_messages("bob@example.org", 1)
    return server.read_message(path)


def results(stored):
    """The Authentication-Results: fields of a stored message, unfolded."""
    head = stored.split(b"\n\n", 1)[0]
    return [re.sub(rb"\n\s+", b" ", m) for m in
            re.findall(rb"^Authentication-Results:.*?(?=^\S)", head + b"\n", re.M | re.S)]


def test_third_party_signatures_pass(signer_keys, txt_dns):
    s = inbound_server(txt_dns)
    try:
        stored = receive(s, third_party_sign(signer_keys, INBOUND))
    finally:
        s.cleanup()
    [ar] = results(stored)
    assert ar.startswith(b"Authentication-Results: mx.example.org;"), ar
    assert re.search(rb"dkim=pass header\.d=signer\.test header\.s=rsa header\.a=rsa-sha256", ar), ar
    assert re.search(rb"dkim=pass header\.d=signer\.test header\.s=ed header\.a=ed25519-sha256", ar), ar
    assert b"fail" not in ar


def test_tampered_body_and_header_fail(signer_keys, txt_dns):
    signed = third_party_sign(signer_keys, INBOUND)
    s = inbound_server(txt_dns)
    try:
        stored = receive(s, signed.replace(b"Signed   elsewhere", b"Changed  elsewhere"))
        [ar] = results(stored)
        assert ar.count(b"dkim=fail") == 2 and b"dkim=pass" not in ar, ar
        assert b"body hash did not verify" in ar
        for path in s.messages("bob@example.org"):
            os.unlink(path)
        stored = receive(s, signed.replace(b"Subject: from a third", b"Subject: from a forged"))
        [ar] = results(stored)
        assert ar.count(b"dkim=fail") == 2 and b"dkim=pass" not in ar, ar
        assert b"signature did not verify" in ar
    finally:
        s.cleanup()


def test_unsigned_missing_and_revoked_keys(signer_keys, txt_dns):
    s = inbound_server(txt_dns)
    try:
        [ar] = results(receive(s, INBOUND))
        assert ar.startswith(b"Authentication-Results: mx.example.org;")
        assert ar.endswith(b"; dkim=none\n") and ar.count(b"dkim=") == 1, ar
        for path in s.messages("bob@example.org"):
            os.unlink(path)
        signed = third_party_sign(signer_keys, INBOUND, selectors=("nokey", "revoked"))
        [ar] = results(receive(s, signed))
        assert ar.count(b"dkim=permerror") == 2, ar
        assert b"no key record" in ar and b"key revoked" in ar
    finally:
        s.cleanup()


def test_forged_results_of_ours_are_removed(signer_keys, txt_dns):
    forged = (b"Authentication-Results: mx.example.org; dkim=pass header.d=bank.test\r\n"
              b"Authentication-Results: MX.EXAMPLE.ORG;\r\n\tspf=pass\r\n"
              b"Authentication-Results: other.test; dkim=pass header.d=other.test\r\n")
    s = inbound_server(txt_dns)
    try:
        stored = receive(s, forged + third_party_sign(signer_keys, INBOUND))
    finally:
        s.cleanup()
    ars = results(stored)
    assert len(ars) == 2, ars
    assert b"dkim=pass header.d=signer.test" in ars[0]
    assert ars[1].startswith(b"Authentication-Results: other.test;")
    assert b"bank.test" not in stored and b"spf=pass" not in stored
    # the signatures still verify after the edit (the removed fields were not signed)
    assert b"From: Alice <alice@signer.test>\n" in stored


def test_forged_results_removed_from_a_large_message(signer_keys, txt_dns):
    """The same edit when the text is already on disk (over the spool's
    64 KiB write buffer): the file is rewritten, the body kept whole."""
    body = b"".join(b"line %d of a long body\r\n" % i for i in range(8000))
    message = INBOUND.replace(b"Signed   elsewhere.\r\n", body)
    forged = b"Authentication-Results: mx.example.org; dkim=pass header.d=bank.test\r\n"
    s = inbound_server(txt_dns)
    try:
        stored = receive(s, forged + third_party_sign(signer_keys, message))
    finally:
        s.cleanup()
    [ar] = results(stored)
    assert ar.count(b"dkim=pass header.d=signer.test") == 2, ar
    assert b"bank.test" not in stored
    assert stored.endswith(body.replace(b"\r\n", b"\n"))


def test_enforce_refuses_a_failed_signature(signer_keys, txt_dns):
    signed = third_party_sign(signer_keys, INBOUND)
    s = inbound_server(txt_dns, mode="enforce")
    try:
        c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("alice@signer.test", ["bob@example.org"],
                       signed.replace(b"Signed", b"Forged"))
        assert e.value.smtp_code == 550 and b"5.7.20" in e.value.smtp_error
        # the session goes on; a good message is taken
        c.sendmail("alice@signer.test", ["bob@example.org"], signed)
        c.quit()
        [path] = s.wait_messages("bob@example.org", 1)
        [ar] = results(s.read_message(path))
        assert ar.count(b"dkim=pass") == 2
        s.wait_queue_empty()      # the refused message left no file behind
    finally:
        s.cleanup()


def test_correio_signed_mail_verifies_in_correio(txt_dns, tmp_path):
    """Round trip: a message signed by correio's submission verifies on a
    second correio's `smtp` listener with the records `domain dkim` prints."""
    sender = Server()
    sender.cli("domain", "dkim", "example.org", "rotate")
    sender.add_user("alice@example.org")
    sender.add_user("bob@example.org")
    sender.start()
    try:
        submit(sender, MESSAGE)
        [path] = sender.wait_messages("bob@example.org", 1)
        signed = wire_form(sender.read_message(path))
        signed = signed[signed.index(b"\r\n", signed.index(b"Received:") + 1) + 2:]
        while signed.startswith(b"\t"):
            signed = signed[signed.index(b"\r\n") + 2:]
        records = {k.rstrip("."): v.decode()
                   for k, v in published(sender, "example.org").items()}
    finally:
        sender.cleanup()
    d = TxtDns(records)
    try:
        s = Server(extra_config=f"[dns]\nservers = 127.0.0.1:{d.port}\n", auth_checks=True,
                   domains="example.net")
        s.add_user("bob@example.net")
        s.start()
        try:
            c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=20)
            c.sendmail("alice@example.org", ["bob@example.net"], signed)
            c.quit()
            [path] = s.wait_messages("bob@example.net", 1)
            [ar] = results(s.read_message(path))
        finally:
            s.cleanup()
    finally:
        d.stop()
    assert ar.count(b"dkim=pass header.d=example.org") == 2, ar


def test_opendkim_rsa_sha1_signature_is_not_accepted(signer_keys, txt_dns, tmp_path):
    """opendkim-testmsg signs with rsa-sha1, which RFC 8301 §3.1 says a
    verifier must not accept: correio reports it as permerror, not pass."""
    key = tmp_path / "rsa.private"
    key.write_bytes(signer_keys["rsa"])
    r = subprocess.run(["opendkim-testmsg", "-d", "signer.test", "-s", "rsa", "-k", str(key),
                        "-C"], input=INBOUND, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    signed = r.stdout
    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha1;")
    s = inbound_server(txt_dns)
    try:
        [ar] = results(receive(s, signed))
    finally:
        s.cleanup()
    assert b'dkim=permerror reason="unsupported algorithm"' in ar, ar
    assert b"dkim=pass" not in ar


def test_opendkim_verifies_correio_signatures(tmp_path):
    """opendkim-testmsg (OpenDKIM's library) verifies a message signed by
    correio.  It asks the system resolver, so it runs in a private mount
    namespace whose /etc/resolv.conf names a dnsmasq on 127.0.0.153:53 that
    serves the records of `domain dkim` (the real file is never touched)."""
    s = Server()
    s.cli("domain", "dkim", "example.org", "rotate")
    s.add_user("alice@example.org")
    s.add_user("bob@example.org")
    s.start()
    try:
        submit(s, MESSAGE)
        [path] = s.wait_messages("bob@example.org", 1)
        message = wire_form(s.read_message(path))
        records = published(s, "example.org")
    finally:
        s.cleanup()
    args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--port=53",
            "--listen-address=127.0.0.153", "--bind-interfaces", "--cache-size=0"]
    for name, text in records.items():
        text = text.decode()
        args.append("--txt-record=%s,%s" % (name.rstrip("."), ",".join(
            text[i:i + 250] for i in range(0, len(text), 250))))
    dnsmasq = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                dns.query.udp(dns.message.make_query("x.example.org", "TXT"), "127.0.0.153",
                              port=53, timeout=0.5)
                break
            except Exception:
                time.sleep(0.05)
        resolv = tmp_path / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.153\n")
        msg = tmp_path / "msg"

        def opendkim(data):
            msg.write_bytes(data)
            return subprocess.run(
                ["unshare", "-m", "sh", "-c",
                 'mount --bind "$1" /etc/resolv.conf && exec opendkim-testmsg < "$2"',
                 "sh", str(resolv), str(msg)], capture_output=True, timeout=30)

        # each signature alone: OpenDKIM checks the first one it meets
        sigs = signatures(message)
        assert len(sigs) == 2
        for keep in sigs:
            only = message
            for other in sigs:
                if other is not keep:
                    only = only.replace(other, b"")
            r = opendkim(only)
            assert r.returncode == 0 and r.stdout == b"", (keep[:60], r.stderr, r.stdout)
            r = opendkim(only.replace(b"Hello Bob", b"Hello Eve"))
            assert r.returncode != 0 and b"bad signature" in r.stderr.lower() + r.stdout.lower(), \
                (keep[:60], r.returncode, r.stderr, r.stdout)
    finally:
        dnsmasq.terminate()
        dnsmasq.wait(5)


def test_authenticated_mail_on_port_25_is_signed_not_checked(server):
    """AUTH on the smtp listener is submission too: signed, and no
    Authentication-Results: of its own."""
    c = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10)
    c.login("alice@example.org", "secret")
    c.sendmail("alice@example.org", ["bob@example.org"], MESSAGE)
    c.quit()
    [path] = server.wait_messages("bob@example.org", 1)
    message = wire_form(server.read_message(path))
    assert b"Authentication-Results:" not in message
    assert len(verify_all(message, published(server, "example.org"))) == 2


def test_checks_follow_a_reload(signer_keys, txt_dns):
    """[auth_checks] changed in the file take effect on SIGHUP."""
    s = inbound_server(txt_dns)
    try:
        [ar] = results(receive(s, INBOUND))
        assert b"dkim=none" in ar
        for path in s.messages("bob@example.org"):
            os.unlink(path)
        s.write_config("example.org, localhost",
                       f"[dns]\nservers = 127.0.0.1:{txt_dns.port}\n"
                       "[auth_checks]\ndkim = off\nspf = off\ndmarc = off\n")
        mark = len(s.read_log())
        s.signal(signal.SIGHUP)
        s.wait_log("reload: configuration", start=mark)
        assert results(receive(s, INBOUND)) == []
    finally:
        s.cleanup()


# ---- through a Postfix peer ----

POSTFIX_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A private Postfix (Debian's package; its system service is never
    started) on 127.0.0.1:port with its own config_directory and
    queue_directory under a temporary directory, accepting mail from
    127.0.0.0/8 for example.net and delivering it with its virtual agent
    into the Maildir <dir>/mail/bob/.  Postfix's master must start as root
    (it binds, then runs its daemons as the postfix user)."""

    def __init__(self):
        assert os.geteuid() == 0, "the Postfix peer test starts Postfix, which needs root"
        self.dir = tempfile.mkdtemp(prefix="correio-postfix-")
        os.chmod(self.dir, 0o755)       # the daemons run as postfix
        self.conf = os.path.join(self.dir, "conf")
        self.port = free_port()
        pw = pwd.getpwnam("postfix")
        for d in ("conf", "queue", "data", "mail"):
            os.mkdir(os.path.join(self.dir, d))
        for d in ("data", "mail"):
            os.chown(os.path.join(self.dir, d), pw.pw_uid, pw.pw_gid)
        self.maildir = os.path.join(self.dir, "mail", "bob")
        self.log = os.path.join(self.dir, "maillog")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
mail_owner = postfix
myhostname = peer.example.net
mydomain = example.net
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = {self.log}
maillog_file_prefixes = {self.dir}
virtual_mailbox_domains = example.net
virtual_mailbox_base = {self.dir}/mail
virtual_mailbox_maps = static:bob/
virtual_uid_maps = static:{pw.pw_uid}
virtual_gid_maps = static:{pw.pw_gid}
biff = no
""")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(port=self.port))
        self._postfix("check")
        self._postfix("start")
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise AssertionError("Postfix did not listen:\n" + self.read_log())
                time.sleep(0.1)

    def _postfix(self, command):
        # postfix(1) reports on stderr only to a terminal (else to syslog,
        # which a test machine may not have): give it one with script(1)
        r = subprocess.run(["script", "-qec", f"postfix -c {self.conf} {command}",
                            "/dev/null"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"postfix {command}: {r.stdout}{r.stderr}"

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return "(no log)"

    def messages(self):
        new = os.path.join(self.maildir, "new")
        return sorted(os.path.join(new, n) for n in os.listdir(new)) \
            if os.path.isdir(new) else []

    def stop(self):
        pid = None
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        subprocess.run(["script", "-qec", f"postfix -c {self.conf} stop", "/dev/null"],
                       capture_output=True, timeout=60)
        deadline = time.time() + 20
        while pid is not None and os.path.exists(f"/proc/{pid}") and time.time() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postfix():
    p = Postfix()
    yield p
    p.stop()


def test_signature_survives_a_postfix_peer(postfix):
    """correio signs submitted mail and relays it to Postfix (the
    smarthost here), which delivers it into a Maildir with its own trace
    fields added: both signatures still verify with python3-dkim."""
    s = Server(extra_config=f"\n[relay]\nsmarthost = 127.0.0.1:{postfix.port}\n")
    try:
        s.cli("domain", "dkim", "example.org", "rotate")
        s.add_user("alice@example.org")
        s.start()
        submit(s, MESSAGE, rcpt="bob@example.net")
        deadline = time.time() + 30
        while not postfix.messages():
            assert time.time() < deadline, \
                "no delivery by Postfix:\n" + postfix.read_log() + s.read_log()[-3000:]
            time.sleep(0.1)
        [path] = postfix.messages()
        with open(path, "rb") as f:
            delivered = f.read()
        records = published(s, "example.org")
    finally:
        s.cleanup()
    assert b"by peer.example.net (Postfix)" in delivered, delivered[:1500]
    assert delivered.startswith(b"Return-Path: <alice@example.org>\n")
    message = delivered.replace(b"\n", b"\r\n")
    assert len(signatures(message)) == 2, message[:2000]
    assert sorted(verify_all(message, records)) == ["ed25519-sha256", "rsa-sha256"]
