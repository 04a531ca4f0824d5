"""Local delivery: aliases, lists, loops, plus-addressing, catch-all,
duplicates, mbox, the trace lines, the spool and the log."""

import email.utils
import os
import re
import time

from correio_harness import check_maildir_file, send_mail, split_stored

ALICE = "alice@example.org"
BOB = "bob@example.org"


def settle(server):
    """Wait for the spool to drain, then a little longer, so that a
    duplicate or late copy would have arrived."""
    server.wait_queue_empty()
    time.sleep(0.1)


def exactly(server, address, n):
    if n:
        server.wait_messages(address, n)
    settle(server)
    files = server.messages(address)
    assert len(files) == n, (address, files)
    return [check_maildir_file(p) for p in files]


def mail(server, rcpts, subject, sender="sender@example.net", body="body\r\n"):
    return send_mail(server, sender, rcpts, f"Subject: {subject}\r\n\r\n{body}")


# ---- the stored form ----

def test_trace_lines_exact(server):
    before = time.time()
    queue_id = send_mail(server, "sender@example.net", [ALICE],
                         "Subject: trace\r\n\r\nline\r\n", name="client.test")
    [(data, f)] = exactly(server, ALICE, 1)
    head = (f"Return-Path: <sender@example.net>\n"
            f"Received: from client.test (unknown [127.0.0.1])\n"
            f"\tby mx.example.org (correio) with ESMTP id {queue_id}\n"
            f"\tfor <alice@example.org>; ").encode()
    assert data.startswith(head), data[:300]
    rest = data[len(head):]
    date, text = rest.split(b"\n", 1)
    assert text == b"Subject: trace\n\nline\n"
    when = email.utils.parsedate_to_datetime(date.decode()).timestamp()
    assert before - 2 <= when <= time.time() + 2, date
    assert f["id"] == queue_id


def test_sender_local_part_case_preserved(server):
    """RFC 5321 2.4: the local-part is case-sensitive and its case must be
    preserved; the Return-Path: is where bounces go."""
    send_mail(server, "John.Smith@Example.NET", [ALICE], "Subject: case\r\n\r\nx\r\n")
    [(data, f)] = exactly(server, ALICE, 1)
    assert f["sender"].lower() == "john.smith@example.net"
    assert f["sender"].split("@")[0] == "John.Smith", f["sender"]


def test_trace_without_for_with_two_recipients(server):
    queue_id = mail(server, [ALICE, BOB], "two")
    for who in (ALICE, BOB):
        [(data, f)] = exactly(server, who, 1)
        assert f["rcpt"] is None
        assert (f"with ESMTP id {queue_id}; ").encode() in data


def test_helo_gives_with_smtp(server):
    with server.client() as c:
        assert c.cmd("HELO old.client") == "250 mx.example.org"
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("250 ")
        assert c.cmd("DATA").startswith("354 ")
        c.send("Subject: helo\r\n\r\n.\r\n")
        assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    [(data, f)] = exactly(server, ALICE, 1)
    assert f["proto"] == "SMTP" and f["helo"] == "old.client"


def test_helo_name_is_sanitised(server):
    with server.client() as c:
        assert c.cmd("EHLO bad(name)\x01x").startswith("250")
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("250 ")
        assert c.cmd("DATA").startswith("354 ")
        c.send(".\r\n")
        assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    [(data, f)] = exactly(server, ALICE, 1)
    assert f["helo"] == "bad?name??x"


def test_null_sender(server):
    queue_id = send_mail(server, "", [ALICE], "Subject: bounce\r\n\r\nundeliverable\r\n")
    [(data, f)] = exactly(server, ALICE, 1)
    assert data.startswith(b"Return-Path: <>\nReceived: from client.test ")
    assert f["sender"] == ""
    server.wait_log(re.escape(queue_id) + r": client=client\.test\[127\.0\.0\.1\], from=<>, ")


def test_queue_empty_and_log_lines(server):
    queue_id = mail(server, [ALICE, BOB], "logged")
    [(data, f)] = exactly(server, ALICE, 1)
    exactly(server, BOB, 1)
    assert server.queue_files() == []
    server.wait_log(re.escape(queue_id) + ": removed")
    lines = [l for l in server.read_log().splitlines() if queue_id in l]
    events = [l.split(f"{queue_id}: ", 1)[1] for l in lines]
    assert re.fullmatch(r"client=client\.test\[127\.0\.0\.1\], from=<sender@example\.net>, "
                        r"size=(\d+), nrcpt=2", events[0]), events
    size = int(events[0].rsplit("size=", 1)[1].split(",")[0])
    assert size == len(data)
    assert sorted(events[1:3]) == ["to=<alice@example.org>, status=sent (delivered to mailbox)",
                                   "to=<bob@example.org>, status=sent (delivered to mailbox)"]
    assert events[3:] == ["removed"]


def test_maildir_layout(server):
    mail(server, [ALICE], "layout")
    [(data, f)] = exactly(server, ALICE, 1)
    d = server.maildir(ALICE)
    assert sorted(os.listdir(d)) == ["cur", "new", "tmp"]
    assert os.listdir(os.path.join(d, "tmp")) == []
    assert len(os.listdir(os.path.join(d, "new"))) == 1
    assert b"\r" not in data


def test_recipient_case_insensitive(server):
    mail(server, ["ALICE@EXAMPLE.ORG"], "upper case")
    [(data, f)] = exactly(server, ALICE, 1)
    assert b"Subject: upper case\n" in data


# ---- aliases ----

def test_alias_list(server):
    server.alias_add("list@example.org", ALICE, BOB)
    queue_id = mail(server, ["list@example.org"], "to the list")
    for who in (ALICE, BOB):
        [(data, f)] = exactly(server, who, 1)
        assert f["rcpt"] == "list@example.org" and f["id"] == queue_id
        assert b"Subject: to the list\n" in data
    log = server.read_log()
    for who in (ALICE, BOB):
        assert re.search(re.escape(queue_id) + r": to=<" + re.escape(who) +
                         r">(, orig_to=<list@example\.org>)?, status=sent \(delivered to mailbox\)",
                         log), log
    assert server.queue_files() == []


def test_alias_chain(server):
    server.alias_add("first@example.org", "second@example.org")
    server.alias_add("second@example.org", "third@example.org")
    server.alias_add("third@example.org", ALICE)
    mail(server, ["first@example.org"], "chained")
    [(data, f)] = exactly(server, ALICE, 1)
    assert f["rcpt"] == "first@example.org"
    exactly(server, BOB, 0)


def test_alias_loop(server):
    """A loop is refused when added; one added anyway is answered as such."""
    server.alias_add("loopa@example.org", "loopb@example.org")
    r = server.cli("alias", "add", "loopb@example.org", "loopa@example.org", ALICE,
                   check=False)
    assert r.returncode == 1 and "alias loop" in r.stderr, r.stderr
    server.cli("alias", "add", "--force", "loopb@example.org", "loopa@example.org", ALICE)
    t = time.time()
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        for rcpt in ("loopa@example.org", "loopb@example.org"):
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.startswith("550 5.4.6 ") and "alias loop" in r, r
    assert time.time() - t < 5


def test_alias_pure_loop_does_not_hang(server):
    server.alias_add("ping@example.org", "pong@example.org")
    server.cli("alias", "add", "--force", "pong@example.org", "ping@example.org")
    with server.ehlo_client(timeout=3) as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        r = c.cmd("RCPT TO:<ping@example.org>")
        assert r.startswith("550 5.4.6 "), r
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_plus_addressing(server):
    queue_id = mail(server, ["alice+news@example.org"], "tagged")
    [(data, f)] = exactly(server, ALICE, 1)
    assert f["rcpt"] == "alice+news@example.org" and f["id"] == queue_id
    assert server.messages("alice+news@example.org") == []
    assert not os.path.exists(server.maildir("alice+news@example.org"))


def test_plus_addressing_unknown_base(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        assert c.cmd("RCPT TO:<nobody+tag@example.org>").startswith("550 5.1.1 ")


def test_plus_addressing_of_an_alias(server):
    server.alias_add("team@example.org", ALICE, BOB)
    mail(server, ["team+x@example.org"], "tagged alias")
    exactly(server, ALICE, 1)
    exactly(server, BOB, 1)


def test_catch_all(server):
    server.alias_add("@example.org", BOB)
    mail(server, ["whoever@example.org"], "caught")
    mail(server, [ALICE], "for alice")
    mail(server, ["alice+tag@example.org"], "tagged alice")
    [(data, f)] = exactly(server, BOB, 1)
    assert f["rcpt"] == "whoever@example.org" and b"Subject: caught\n" in data
    files = exactly(server, ALICE, 2)
    assert sorted(re.search(rb"Subject: (.*)\n", d).group(1) for d, _ in files) == \
        [b"for alice", b"tagged alice"]


def test_catch_all_is_per_domain(server):
    server.alias_add("@example.org", BOB)
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        assert c.cmd("RCPT TO:<whoever@localhost>").startswith("550 5.1.1 ")


def test_duplicate_recipients(server):
    server.alias_add("both@example.org", ALICE, BOB)
    mail(server, [ALICE, "alice+x@example.org", "ALICE@example.org", "both@example.org"],
         "dups")
    [(data, f)] = exactly(server, ALICE, 1)
    assert f["rcpt"] is None
    exactly(server, BOB, 1)


def test_duplicate_rcpt_commands(server):
    mail(server, [ALICE, ALICE], "same twice")
    exactly(server, ALICE, 1)


# ---- mbox ----

def test_mbox_delivery(server):
    server.add_user("carol@example.org", "secret", "--mbox")
    body1 = ("From here on it is quoted\r\n>From already quoted\r\n"
             "From\r\n From not at the start\r\nlast\r\n")
    id1 = send_mail(server, "sender@example.net", ["carol@example.org"],
                    "Subject: first\r\n\r\n" + body1)
    server.wait_log(re.escape(id1) + ": removed")
    id2 = send_mail(server, "", ["carol@example.org"], "Subject: second\r\n\r\nx\r\n")
    server.wait_log(re.escape(id2) + ": removed")
    assert not os.path.exists(server.maildir("carol@example.org"))
    path = os.path.join(server.data, "mbox", "carol@example.org")
    with open(path, "rb") as f:
        mbox = f.read()
    date = rb"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}"
    m = re.fullmatch(rb"From sender@example\.net " + date + rb"\n(.*\n)\n"
                     rb"From MAILER-DAEMON " + date + rb"\n(.*\n)\n", mbox, re.S)
    assert m, mbox
    first = split_stored(m.group(1))
    assert first["id"] == id1 and first["sender"] == "sender@example.net"
    assert first["body"] == (b"Subject: first\n\n"
                             b">From here on it is quoted\n>>From already quoted\n"
                             b"From\n From not at the start\nlast\n")
    second = split_stored(m.group(2))
    assert second["id"] == id2 and second["sender"] == ""
    assert second["body"] == b"Subject: second\n\nx\n"


def test_mbox_via_alias(server):
    server.add_user("carol@example.org", "secret", "--mbox")
    server.alias_add("mixed@example.org", "carol@example.org", ALICE)
    queue_id = mail(server, ["mixed@example.org"], "mixed formats")
    server.wait_log(re.escape(queue_id) + ": removed")
    exactly(server, ALICE, 1)
    with open(os.path.join(server.data, "mbox", "carol@example.org"), "rb") as f:
        assert f.read().count(b"\nSubject: mixed formats\n") == 1
