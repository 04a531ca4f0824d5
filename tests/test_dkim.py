"""DKIM signing of submitted mail (RFC 6376, RFC 8463): the keys made by
`correio domain add` / `domain dkim DOMAIN rotate`, the TXT records printed
by `domain dkim DOMAIN`, and signatures checked by a third-party verifier
(python3-dkim, rsa-sha256 and ed25519-sha256)."""

import os
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
