"""Resolve once (issue 11 item 1): what a recipient resolved to at RCPT (or
at local submission) is recorded in the queued envelope, and delivery
follows it instead of resolving again; an account deleted between RCPT and
delivery is bounced to the sender with a DSN, never dropped."""

import os
import re

import pytest

from correio_harness import Server

BOB = "bob@example.org"          # the sender: local, so the bounce is seen


@pytest.fixture
def server():
    s = Server()
    s.add_user("alice@example.org")
    s.add_user(BOB)
    s.add_user("carol@example.org")
    s.start()
    yield s
    s.cleanup()


def open_transaction(s, rcpts):
    """MAIL and RCPTs of a transaction left open before DATA."""
    c = s.ehlo_client()
    assert c.cmd(f"MAIL FROM:<{BOB}>").startswith("250")
    for r in rcpts:
        reply = c.cmd(f"RCPT TO:<{r}>")
        assert reply.startswith("250"), reply
    return c


def finish_transaction(c, body=b"Subject: resolve once\r\n\r\nhello\r\n"):
    assert c.cmd("DATA").startswith("354")
    c.send(body + b".\r\n")
    reply = c.reply()
    m = re.match(r"250 2\.0\.0 Ok: queued as (\w+)$", reply)
    assert m, reply
    c.cmd("QUIT")
    c.close()
    return m.group(1)


def test_delivery_follows_the_alias_as_resolved_at_rcpt(server):
    """An alias changed after RCPT: the message goes where the alias
    pointed when it was accepted."""
    server.alias_add("list@example.org", "alice@example.org")
    c = open_transaction(server, ["list@example.org"])
    server.cli("alias", "del", "list@example.org")
    server.alias_add("list@example.org", "carol@example.org")
    qid = finish_transaction(c)
    server.wait_log(re.escape(qid) + ": removed")
    assert len(server.messages("alice@example.org")) == 1
    assert server.messages("carol@example.org") == []
    assert re.search(re.escape(qid) + r": to=<alice@example\.org>, orig_to=<list@example\.org>, "
                     r"status=sent", server.read_log())


def test_account_deleted_after_rcpt_is_bounced(server):
    c = open_transaction(server, ["alice@example.org", "carol@example.org"])
    server.cli("user", "del", "carol@example.org")
    qid = finish_transaction(c)
    server.wait_log(re.escape(qid) + r": to=<carol@example\.org>.*status=bounced \(5\.1\.1")
    [bounce] = server.wait_messages(BOB, 1)
    data = server.read_message(bounce).decode()
    assert "Final-Recipient: rfc822; carol@example.org" in data
    assert "Status: 5.1.1" in data
    assert len(server.messages("alice@example.org")) == 1
    server.wait_queue_empty()


def test_the_envelope_records_the_resolution(server):
    """Seen in the queue file of a held message: the targets of each
    recipient as RCPT resolved them."""
    server.alias_add("list@example.org", "alice@example.org", "someone@elsewhere.example")
    c = open_transaction(server, ["list@example.org", "carol@example.org"])
    assert c.cmd("DATA").startswith("354")
    # the queue id is known only at the end of DATA: read it from the reply
    c.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
    reply = c.reply()
    c.close()
    qid = re.match(r"250 2\.0\.0 Ok: queued as (\w+)$", reply).group(1)
    server.wait_log(re.escape(qid) + r": to=<carol@example\.org>, status=sent")
    log = server.read_log()
    assert re.search(re.escape(qid) + r": to=<alice@example\.org>, orig_to=<list@example\.org>", log)


def test_sendmail_records_unknown_local_recipient_as_failed(server):
    """Local submission resolves too: an unknown local address is bounced."""
    r = server.cli("sendmail", "-f", BOB, "nobody@example.org",
                   stdin="Subject: to nobody\n\nhello\n")
    assert r.returncode == 0
    server.wait_log(r"to=<nobody@example\.org>.*status=bounced \(5\.1\.1")
    [bounce] = server.wait_messages(BOB, 1)
    assert "Final-Recipient: rfc822; nobody@example.org" in server.read_message(bounce).decode()


def test_envelope_from_before_routes_is_resolved_at_load():
    """A spool written by an older correio (no target or route lines) is
    resolved when loaded: an alias to its account, an unknown address
    bounced."""
    s = Server()
    try:
        s.add_user("alice@example.org")
        s.add_user(BOB)
        s.alias_add("list@example.org", "alice@example.org")
        s.start()
        assert s.stop() == 0
        qid = "1EF0000000000001"
        rp = b"Return-Path: <bob@example.org>\n"
        text = rp + b"Subject: from an older spool\n\nhello\n"
        env = (f"correio-envelope 1\nid {qid}\narrival {int(__import__('time').time())}\n"
               f"host mx.example.org\nsender {BOB}\nsize {len(text)}\n"
               f"header-offset {len(rp)}\nbody 0\nsmtputf8 0\nret 0\nrouted 0\n"
               f"warned 0\nheld 0\nrcpt p 0 0 0 - list@example.org\n"
               f"rcpt p 0 0 0 - nobody@example.org\nend\n")
        qdir = os.path.join(s.data, "queue")
        owner = os.stat(qdir)
        for name, data in ((qid + ".msg", text), (qid + ".env", env.encode())):
            path = os.path.join(qdir, name)
            with open(path, "wb") as f:
                f.write(data)
            os.chown(path, owner.st_uid, owner.st_gid)
        s.start()
        s.wait_log(re.escape(qid) + r": to=<alice@example\.org>, orig_to=<list@example\.org>, "
                   r"status=sent")
        s.wait_log(re.escape(qid) + r": to=<nobody@example\.org>, status=bounced \(5\.1\.1")
        s.wait_log(re.escape(qid) + r": removed")
        [bounce] = s.wait_messages(BOB, 1)
        assert "Final-Recipient: rfc822; nobody@example.org" in \
            s.read_message(bounce).decode()
    finally:
        s.cleanup()
