"""Per-account quota (SPEC §1.3): a full mailbox refuses new mail with a
temporary 452 at RCPT, over SMTP; IMAP APPEND says [OVERQUOTA]."""

import imaplib
import smtplib

import pytest

from correio_harness import Server


@pytest.fixture
def quota_server():
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n")
    s.add_user("alice@example.org")
    s.add_user("carol@example.org", "secret", "--quota", "2k")
    s.start()
    yield s
    s.cleanup()


def test_full_mailbox_gets_452(quota_server):
    s = quota_server
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10)
    c.sendmail("x@example.net", ["carol@example.org"], b"Subject: one\r\n\r\n" + (b"x" * 70 + b"\r\n") * 50)
    s.wait_messages("carol@example.org", 1)
    c.mail("x@example.net")
    code, msg = c.rcpt("carol@example.org")
    assert code == 452 and b"4.2.2" in msg, (code, msg)
    # others are not affected
    assert c.rcpt("alice@example.org")[0] == 250
    c.quit()


def test_append_over_quota(quota_server):
    s = quota_server
    m = imaplib.IMAP4("127.0.0.1", s.imap_port)
    m.login("carol@example.org", "secret")
    typ, data = m.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"y" * 4000 + b"\r\n")
    assert typ == "NO" and b"OVERQUOTA" in data[0], (typ, data)
    m.logout()
