"""SMTP details clients and Postfix users expect: DSN (RFC 3461) advertised
in EHLO on every listener and a success report for local delivery when
NOTIFY=SUCCESS asks for one (RFC 3461 §5.2.2), paths
without angle brackets as Postfix accepts them by default, and HELP for
one command."""

import smtplib
import ssl
import time

import pytest

from correio_harness import Server

ALICE = "alice@example.org"
BOB = "bob@example.org"


@pytest.fixture
def server():
    s = Server()
    try:
        s.add_user(ALICE)
        s.add_user(BOB)
        s.start()
        yield s
    finally:
        s.cleanup()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_dsn_in_ehlo_on_every_listener(server):
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as c:
        c.ehlo("client.test")
        assert c.has_extn("dsn"), c.esmtp_features
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10) as c:
        c.ehlo("client.test")
        assert c.has_extn("dsn"), c.esmtp_features
        c.starttls(context=tls_context())
        c.ehlo("client.test")
        assert c.has_extn("dsn") and c.has_extn("auth"), c.esmtp_features
    with smtplib.SMTP_SSL("127.0.0.1", server.submissions_port, timeout=10,
                          context=tls_context()) as c:
        c.ehlo("client.test")
        assert c.has_extn("dsn"), c.esmtp_features


def test_notify_success_gets_a_success_report(server):
    msg = (f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: dsn please\r\n"
           "Message-ID: <dsn1@example.org>\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as c:
        c.ehlo("client.test")
        # smtplib sends DSN parameters only to a server that advertises DSN
        refused = c.sendmail(ALICE, [BOB], msg,
                             mail_options=["RET=HDRS", "ENVID=QQ314159"],
                             rcpt_options=["NOTIFY=SUCCESS,FAILURE",
                                           f"ORCPT=rfc822;{BOB}"])
        assert refused == {}
    server.wait_messages(BOB, 1)
    paths = server.wait_messages(ALICE, 1, timeout=15)
    report = server.read_message(paths[0])
    assert b"Return-Path: <>" in report
    assert b"multipart/report" in report and b"report-type=delivery-status" in report
    assert b"Original-Envelope-Id: QQ314159" in report
    assert b"Action: delivered" in report
    assert f"Original-Recipient: rfc822; {BOB}".encode() in report
    assert b"Status: 2.0.0" in report
    # a success report returns the header, not the body
    assert b"Subject: dsn please" in report and b"hello" not in report.split(b"Action:")[1]


def test_success_report_only_when_asked(server):
    carol = "carol@example.org"
    server.add_user(carol)
    msg = f"From: {ALICE}\r\nSubject: two\r\n\r\nbody\r\n"
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as c:
        c.ehlo("client.test")
        c.sendmail(ALICE, [BOB], msg, rcpt_options=["NOTIFY=SUCCESS"])
        c.sendmail(ALICE, [carol], msg, rcpt_options=["NOTIFY=FAILURE,DELAY"])
        c.sendmail(ALICE, [carol], msg)
        c.sendmail(ALICE, [carol], msg, rcpt_options=["NOTIFY=NEVER"])
        c.sendmail("", [carol], msg, rcpt_options=["NOTIFY=SUCCESS"])   # null sender
        c.sendmail(ALICE, [BOB, carol], msg, rcpt_options=["NOTIFY=SUCCESS"])
    server.wait_messages(carol, 5)
    server.wait_messages(BOB, 2)
    paths = server.wait_messages(ALICE, 2, timeout=15)
    time.sleep(1)   # nothing more comes
    paths = server.messages(ALICE)
    assert len(paths) == 2, paths
    reports = sorted(server.read_message(p) for p in paths)
    assert all(b"Action: delivered" in r for r in reports)
    both = [r for r in reports if r.count(b"Action: delivered") == 2]
    assert len(both) == 1, "one report names both recipients of the last message"


def test_paths_without_angle_brackets(server):
    with server.ehlo_client() as c:
        assert c.cmd(f"MAIL FROM:{ALICE}").startswith("250 "), "MAIL FROM:address"
        assert c.cmd(f"RCPT TO:{BOB}").startswith("250 "), "RCPT TO:address"
        assert c.cmd(f"RCPT TO: {ALICE} NOTIFY=NEVER").startswith("250 ")
        assert c.cmd("DATA").startswith("354")
        c.send("Subject: bare\r\n\r\nbody\r\n.\r\n")
        assert c.reply().startswith("250 ")
        r = c.cmd("MAIL FROM:a@b>")
        assert r.startswith("501 "), r
        c.cmd("QUIT")
    server.wait_messages(BOB, 1)
    server.wait_messages(ALICE, 1)


def test_help_for_one_command(server):
    with server.ehlo_client() as c:
        r = c.cmd("HELP")
        assert r.startswith("214-") and "RCPT" in r and "DATA" in r and r.count("\n") > 5, r
        r = c.cmd("HELP mail")
        assert r.startswith("214 ") and "\n" not in r and "MAIL FROM:" in r, r
        r = c.cmd("HELP RCPT")
        assert r.startswith("214 ") and "RCPT TO:" in r and "MAIL" not in r, r
        r = c.cmd("HELP FROB")
        assert r.startswith("504 "), r
        c.cmd("QUIT")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as c:
        text = c.help("DATA").decode()
        assert text.startswith("2.0.0 DATA") and "\n" not in text, text
