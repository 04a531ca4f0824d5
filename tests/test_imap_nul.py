"""NUL in mail: RFC 9051 forbids NUL in a literal outside BINARY.  correio
accepts such mail (nothing is refused) and, as Dovecot does, sends each
NUL as 0x80 in BODY[], RFC822 and their partials, while BINARY[] keeps
the NUL in a literal8 (~{n}, RFC 3516).  Mail arrives by SMTP, DATA and
BDAT; the client is imaplib."""

import imaplib
import re
import smtplib

import pytest

from correio_harness import running_server

ALICE = "alice@example.org"
TEXT = b"ab\0cd\r\nline two \0\0 end\r\n"
MSG = b"From: <bob@example.net>\r\nSubject: nul\r\n\r\n" + TEXT


@pytest.fixture
def server():
    yield from running_server(ALICE, extra_config="[auth]\nplaintext_on_loopback = yes\n")


def deliver(server, bdat):
    if bdat:
        with server.ehlo_client() as c:
            assert c.cmd("MAIL FROM:<bob@example.net>").startswith("250 ")
            assert c.cmd(f"RCPT TO:<{ALICE}>").startswith("250 ")
            c.send(b"BDAT %d LAST\r\n" % len(MSG) + MSG)
            assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    else:
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as c:
            c.sendmail("bob@example.net", [ALICE], MSG)


def fetch(m, items):
    """One message's FETCH response: (the line before the literal, the
    literal's bytes) for a single literal item."""
    typ, data = m.fetch("1", items)
    assert typ == "OK", data
    head, body = data[0]
    return head, body


@pytest.mark.parametrize("bdat", [False, True], ids=["DATA", "BDAT"])
def test_nul_is_0x80_outside_binary(server, bdat):
    deliver(server, bdat)
    [path] = server.wait_messages(ALICE, 1)
    assert b"ab\0cd\n" in server.read_message(path)     # stored as received
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    try:
        m.login(ALICE, "secret")
        m.select("INBOX", readonly=True)
        converted = TEXT.replace(b"\0", b"\x80")
        head, body = fetch(m, "(BODY.PEEK[])")
        assert re.search(rb"BODY\[\] \{\d+\}$", head), head
        assert b"\0" not in body and body.endswith(b"\r\n\r\n" + converted)
        head, body = fetch(m, "(BODY.PEEK[TEXT])")
        assert body == converted and b"~{" not in head
        head, body = fetch(m, "(BODY.PEEK[1])")
        assert body == converted
        head, body = fetch(m, "(BODY.PEEK[TEXT]<2.3>)")
        assert body == b"\x80cd", body
        head, body = fetch(m, "(BODY.PEEK[TEXT]<16.4>)")
        assert body == b"\x80\x80 e", body
        head, body = fetch(m, "(RFC822.TEXT)")
        assert body == converted
        # BINARY keeps the NUL, in a literal8
        head, body = fetch(m, "(BINARY.PEEK[])")
        assert re.search(rb"BINARY\[\] ~\{\d+\}$", head), head
        assert body.endswith(b"\r\n\r\n" + TEXT)
        head, body = fetch(m, "(BINARY.PEEK[1])")
        assert re.search(rb"BINARY\[1\] ~\{%d\}$" % len(TEXT), head) and body == TEXT
        head, body = fetch(m, "(BINARY.PEEK[]<0.10>)")
        assert re.search(rb"BINARY\[\]<0> \{10\}$", head) and b"\0" not in body
        head, body = fetch(m, "(BINARY.PEEK[1]<1.3>)")
        assert re.search(rb"BINARY\[1\]<1> ~\{3\}$", head) and body == b"b\0c"
        m.logout()
    finally:
        try:
            m.shutdown()
        except OSError:
            pass
