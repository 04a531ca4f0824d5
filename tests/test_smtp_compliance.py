"""SMTP details clients and Postfix users expect: DSN (RFC 3461) advertised
in EHLO on every listener, paths
without angle brackets as Postfix accepts them by default, and HELP for
one command."""

import smtplib
import ssl

ALICE = "alice@example.org"
BOB = "bob@example.org"
# the server fixture (alice and bob) is conftest.py's


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
