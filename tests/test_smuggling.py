"""SMTP smuggling (the December 2023 pattern): a client hides a second
transaction behind an end-of-data variant that correio reads as text but
a downstream server might read as the end ("\\r.\\r\\n", "\\n.\\n", ...).
correio stores and relays only CRLF-terminated lines, so the next hop
gets one message whose every line ends in CRLF, and no second MAIL FROM.

The relay world (dnsmasq, aiosmtpd sinks) comes from relay_fixtures."""

import re

import pytest

from relay_fixtures import cert, dns, env  # noqa: F401 - pytest fixtures

SENDER = "alice@example.org"
VARIANTS = [b"\r.\r\n", b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\n"]
HIDDEN = (b"MAIL FROM:<forged@evil.test>\r\n"
          b"RCPT TO:<victim@a.test>\r\n"
          b"DATA\r\n"
          b"From: <forged@evil.test>\r\n"
          b"Subject: forged\r\n"
          b"\r\n"
          b"forged body\r\n")


def carrier(variant, n):
    return (b"From: <alice@example.org>\r\nSubject: carrier %d\r\n\r\nline1" % n
            + variant + HIDDEN)


def send_raw(srv, text, bdat):
    """One transaction on a raw connection, with DATA or BDAT LAST."""
    with srv.ehlo_client() as c:
        assert c.cmd(f"MAIL FROM:<{SENDER}>").startswith("250 ")
        assert c.cmd("RCPT TO:<carol@a.test>").startswith("250 ")
        if bdat:
            c.send(b"BDAT %d LAST\r\n" % len(text) + text)
        else:
            assert c.cmd("DATA").startswith("354 ")
            c.send(text + b".\r\n")
        r = c.reply()
        assert re.match(r"250 2\.0\.0 Ok: queued as \w+$", r), r
        assert c.cmd("NOOP") == "250 2.0.0 Ok"      # nothing else was answered
        c.cmd("QUIT")


@pytest.mark.parametrize("chunking", [False, True], ids=["relay-DATA", "relay-BDAT"])
def test_smuggling_variants_are_not_relayed(env, chunking):
    mx1 = env.sink("mx1.a.test", chunking=chunking)
    srv = env.server()
    sent = []
    for bdat in (False, True):
        for v in VARIANTS:
            n = len(sent)
            send_raw(srv, carrier(v, n), bdat)
            sent.append((v, bdat))
    got = mx1.wait_messages(len(sent))
    srv.wait_queue_empty()
    assert len(mx1.messages) == len(sent), mx1.messages
    assert [verb for verb in mx1.verbs() if verb == "MAIL"] == ["MAIL"] * len(sent)
    assert all(m.mail_from == SENDER and m.rcpt_tos == ["carol@a.test"] for m in got)
    for m in got:
        data = m.data
        assert b"\n" not in data.replace(b"\r\n", b""), ("bare LF on the wire", data)
        assert b"\r" not in data.replace(b"\r\n", b""), ("bare CR on the wire", data)
        n = int(re.search(rb"Subject: carrier (\d+)\r\n", data).group(1))
        v, bdat = sent[n]
        # the hidden commands arrive as lines of text of the one message;
        # the dot after a bare line end is text and is kept (only DATA's
        # "\r\n." is dot-stuffing, its dot removed)
        dot = b"" if (v == b"\r\n.\n" and not bdat) else b"."
        assert b"\r\nline1\r\n" + dot + b"\r\n" + HIDDEN in data, (v, bdat, data)
        assert data.endswith(HIDDEN)
