"""The SMTP dialogue over raw sockets: replies, state errors, limits,
pipelining, DATA transparency and BDAT, each checked against what was (or
was not) stored."""

import random
import re
import time

import pytest

from correio_harness import check_maildir_file, send_mail

ALICE = "alice@example.org"
BOB = "bob@example.org"
QUEUED = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$")


def queued_id(reply):
    m = QUEUED.match(reply)
    assert m, reply
    return m.group(1)


def start_transaction(c, *rcpts, sender="sender@example.net"):
    assert c.cmd(f"MAIL FROM:<{sender}>") == "250 2.1.0 Ok"
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>") == "250 2.1.5 Ok"


def assert_nothing_stored(server, *addresses):
    """No message for anyone named, and an empty spool (the rejected text
    left no file behind)."""
    server.wait_queue_empty()
    for a in addresses or (ALICE, BOB):
        assert server.messages(a) == [], a


def only_message(server, address):
    files = server.wait_messages(address, 1)
    time.sleep(0.05)
    files = server.messages(address)
    assert len(files) == 1, files
    return check_maildir_file(files[0])


# ---- greeting, EHLO, HELO, HELP ----

def test_greeting(server):
    with server.client(greeting=False) as c:
        assert c.reply() == "220 mx.example.org ESMTP correio"


def test_ehlo_lists_extensions(server):
    with server.client() as c:
        lines = c.cmd("EHLO client.test").split("\n")
    assert lines[0] == "250-mx.example.org Hello client.test [127.0.0.1]"
    assert all(l.startswith("250-") for l in lines[:-1]) and lines[-1].startswith("250 ")
    keywords = [l[4:] for l in lines[1:]]
    for k in ("PIPELINING", "SIZE 1048576", "8BITMIME", "SMTPUTF8",
              "ENHANCEDSTATUSCODES", "CHUNKING", "HELP"):
        assert keywords.count(k) == 1, (k, keywords)
    assert len(set(keywords)) == len(keywords)


def test_helo(server):
    with server.client() as c:
        assert c.cmd("HELO client.test") == "250 mx.example.org"
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")


def test_helo_and_ehlo_need_an_argument(server):
    with server.client() as c:
        assert c.cmd("HELO").startswith("501 5.5.4 ")
        assert c.cmd("EHLO").startswith("501 5.5.4 ")
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("503 5.5.1 ")


def test_help_lists_every_command(server):
    with server.client() as c:
        lines = c.cmd("HELP").split("\n")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert len(lines) > 13
    assert all(l.startswith("214-") for l in lines[:-1]), lines
    assert lines[-1].startswith("214 ")
    text = "\n".join(lines)
    for verb in ("HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP",
                 "QUIT", "HELP", "VRFY", "EXPN", "VERB"):
        # each command on a line of its own, with a description after it
        m = re.search(r"^214-\S*\s+" + verb + r"\b.* - \S.*$", text, re.M)
        assert m, (verb, text)


# ---- state errors ----

def test_mail_before_helo(server):
    with server.client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("503 5.5.1 ")
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_nested_mail(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("MAIL FROM:<b@example.net>").startswith("503 5.5.1 ")
        # the first transaction is still open
        assert c.cmd("RCPT TO:<alice@example.org>") == "250 2.1.5 Ok"


def test_rcpt_before_mail(server):
    with server.ehlo_client() as c:
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")


def test_data_before_mail(server):
    with server.ehlo_client() as c:
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_data_without_accepted_recipient(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<nobody@example.org>").startswith("550 5.1.1 ")
        assert c.cmd("DATA").startswith("554 5.5.1 ")
        # not in DATA mode: this is a command
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert_nothing_stored(server)


def test_data_takes_no_argument(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA now").startswith("501 5.5.4 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_rset_ends_the_transaction(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")
        start_transaction(c, BOB)
        assert c.cmd("DATA").startswith("354 ")
        c.send("Subject: after rset\r\n\r\nx\r\n.\r\n")
        queued_id(c.reply())
    data, _ = only_message(server, BOB)
    assert b"Subject: after rset\n" in data
    assert server.messages(ALICE) == []


def test_unknown_command(server):
    with server.client() as c:
        assert c.cmd("FROB x").startswith("500 5.5.1 ")
        assert c.cmd("XYZZY").startswith("500 5.5.1 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_other_commands(server):
    with server.client() as c:
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        assert c.cmd("VRFY alice").startswith("252 ")
        assert c.cmd("EXPN staff").startswith("252 ")
        assert c.cmd("VERB").startswith("252 ")
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        assert c.cmd("noop") == "250 2.0.0 Ok"      # verbs are case-insensitive
        assert c.cmd("QUIT") == "221 2.0.0 Bye"
        assert c.wait_closed()
        assert c.rest == b""


# ---- MAIL and RCPT arguments ----

@pytest.mark.parametrize("line", [
    "MAIL FROM:a@example.net>",      # a bare path (accepted) holds no bracket
    "MAIL FROM:<a@example.net",
    "MAIL TO:<a@example.net>",
    "MAIL <a@example.net>",
    "MAIL FROM:<a@example.net>x",
])
def test_bad_mail_syntax(server, line):
    with server.ehlo_client() as c:
        assert c.cmd(line).startswith("501 5.5.4 "), line
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"


def test_unknown_mail_parameter(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net> FROB=1").startswith("555 5.5.4 ")
        assert c.cmd("MAIL FROM:<a@example.net> BODY=8BITMIME") == "250 2.1.0 Ok"


@pytest.mark.parametrize("addr", ["a@@example.net", "a b@example.net", "@example.net",
                                  "a@", "a@exa mple.net", "a@-bad..net"])
def test_bad_sender_address(server, addr):
    with server.ehlo_client() as c:
        assert c.cmd(f"MAIL FROM:<{addr}>").startswith("553 5.1.3 "), addr


def test_bad_recipient_address(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<al ice@example.org>").startswith("553 5.1.3 ")
        assert c.cmd("RCPT TO:<>").startswith("553 5.1.3 ")
        assert c.cmd("RCPT TO:alice@example.org>").startswith("501 5.5.4 ")


def test_utf8_address_needs_smtputf8(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<jo\u00e3o@exemplo.pt>").startswith("553 5.6.7 ")
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<\u00f1and\u00fa@example.org>").startswith("553 5.6.7 ")


def test_smtputf8_sender_is_accepted_and_stored(server):
    sender = "jo\u00e3o@exemplo.pt"
    text = "Subject: ol\u00e1\r\n\r\nCora\u00e7\u00e3o\r\n"
    with server.ehlo_client() as c:
        assert c.cmd(f"MAIL FROM:<{sender}> SMTPUTF8 BODY=8BITMIME") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<alice@example.org>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(text.encode() + b".\r\n")
        queued_id(c.reply())
    data, f = only_message(server, ALICE)
    assert f["sender"] == sender
    assert f["proto"] == "UTF8SMTP"
    assert data.startswith(f"Return-Path: <{sender}>\n".encode())
    assert f["body"] == text.replace("\r\n", "\n").encode()


def test_size_parameter_over_the_limit(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net> SIZE=2000000").startswith("552 5.3.4 ")
        # not in a transaction
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")
        assert c.cmd("MAIL FROM:<a@example.net> SIZE=1048576") == "250 2.1.0 Ok"


def test_unknown_local_recipient(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        r = c.cmd("RCPT TO:<nobody@example.org>")
        assert r.startswith("550 5.1.1 "), r
        assert "nobody@example.org" in r


@pytest.mark.parametrize("rcpt", ["someone@example.net", "alice@example.org.evil.test",
                                  "alice@sub.example.org", "postmaster@example.com"])
def test_relay_denied(server, rcpt):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<alice@example.org>") == "250 2.1.0 Ok"
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.startswith("554 5.7.1 ") and "Relay access denied" in r, r
        assert c.cmd("DATA").startswith("554 5.5.1 ")
        assert c.cmd("QUIT").startswith("221 ")
    assert_nothing_stored(server)


def test_relay_denied_beside_a_local_recipient(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<someone@example.net>").startswith("554 5.7.1 ")
        assert c.cmd("RCPT TO:<alice@example.org>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send("Subject: mixed\r\n\r\nx\r\n.\r\n")
        queue_id = queued_id(c.reply())
    data, f = only_message(server, ALICE)
    assert f["rcpt"] == ALICE          # the only accepted recipient
    server.wait_queue_empty()          # nothing left for the remote address
    assert "someone@example.net" not in server.read_log().split(queue_id, 1)[1]


# ---- pipelining ----

def test_pipelined_transaction(server):
    with server.ehlo_client() as c:
        c.send("MAIL FROM:<p@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
               "RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        assert c.replies(5)[0] == "250 2.1.0 Ok"
        c.send("Subject: pipelined\r\n\r\nhello\r\n.\r\nNOOP\r\n")
        queue_id = queued_id(c.reply())
        assert c.reply() == "250 2.0.0 Ok"
    for who in (ALICE, BOB):
        data, f = only_message(server, who)
        assert f["id"] == queue_id and f["sender"] == "p@example.net"
        assert f["rcpt"] is None        # two recipients: no "for" clause
        assert f["body"] == b"Subject: pipelined\n\nhello\n"


def test_pipelined_replies_in_order(server):
    with server.ehlo_client() as c:
        c.send("MAIL FROM:<p@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
               "RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        r = c.replies(5)
        assert r[0] == "250 2.1.0 Ok"
        assert r[1] == "250 2.1.5 Ok"
        assert r[2].startswith("550 5.1.1 ")
        assert r[3] == "250 2.1.5 Ok"
        assert r[4].startswith("354 ")
        c.send(".\r\n")
        queued_id(c.reply())


def test_two_transactions_in_one_write(server):
    """A client that does not wait at all (beyond what PIPELINING allows):
    every reply still comes, in order, and both messages are stored."""
    with server.client() as c:
        c.send("EHLO c\r\n"
               "MAIL FROM:<p@example.net>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"
               "Subject: one\r\n\r\n1\r\n.\r\n"
               "MAIL FROM:<p@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
               "Subject: two\r\n\r\n2\r\n.\r\nQUIT\r\n")
        r = c.replies(10)
        assert r[0].startswith("250-mx.example.org")
        assert r[1:4] == ["250 2.1.0 Ok", "250 2.1.5 Ok", r[3]] and r[3].startswith("354 ")
        id1 = queued_id(r[4])
        assert r[5:7] == ["250 2.1.0 Ok", "250 2.1.5 Ok"] and r[7].startswith("354 ")
        id2 = queued_id(r[8])
        assert r[9] == "221 2.0.0 Bye"
        assert c.wait_closed()
    assert id1 != id2
    assert only_message(server, ALICE)[1]["body"] == b"Subject: one\n\n1\n"
    assert only_message(server, BOB)[1]["body"] == b"Subject: two\n\n2\n"


# ---- line lengths, NUL, garbage, the error budget ----

def test_command_line_limit(server):
    with server.ehlo_client() as c:
        ok = "NOOP " + "x" * (998 - 5)          # 998 + CRLF = 1000 octets
        assert c.cmd(ok) == "250 2.0.0 Ok"
        assert c.cmd(ok + "x").startswith("500 5.5.2 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_very_long_command_line(server):
    with server.ehlo_client() as c:
        c.send("MAIL FROM:<" + "a" * 200000 + "@example.net>\r\nNOOP\r\n")
        assert c.reply().startswith("500 5.5.2 ")
        assert c.reply() == "250 2.0.0 Ok"
        # the long line did not start a transaction
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")


def test_long_line_split_across_writes(server):
    with server.ehlo_client() as c:
        for _ in range(5):
            c.send("y" * 700)
            time.sleep(0.02)
        c.send("\r\nNOOP\r\n")
        assert c.reply().startswith("500 5.5.2 ")
        assert c.reply() == "250 2.0.0 Ok"


def test_text_line_limit(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(b"Subject: long\r\n\r\n" + b"a" * 998 + b"\r\n" + b"b" * 999 + b"\r\nend\r\n.\r\n")
        assert c.reply().startswith("500 5.5.2 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        # the transaction is over; a new one with a 998-octet line is fine
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(b"Subject: ok\r\n\r\n" + b"a" * 998 + b"\r\n.\r\n")
        queued_id(c.reply())
    data, f = only_message(server, ALICE)
    assert f["body"] == b"Subject: ok\n\n" + b"a" * 998 + b"\n"


def test_nul_in_command(server):
    with server.ehlo_client() as c:
        assert c.cmd("NO\0OP").startswith("500 5.5.2 ")
        assert c.cmd("MAIL FROM:<a@example.net>\0").startswith("500 5.5.2 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def garbage_lines(n, seed=1):
    rnd = random.Random(seed)
    alphabet = bytes(b for b in range(256) if b not in (10, 13))
    return [bytes(rnd.choice(alphabet) for _ in range(rnd.randint(1, 300)))
            for _ in range(n)]


def test_binary_garbage(server):
    with server.ehlo_client() as c:
        lines = garbage_lines(20)
        c.send(b"\r\n".join(lines) + b"\r\n")
        for _ in lines:
            assert c.reply().startswith("500 5.5.")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send("Subject: after garbage\r\n\r\n.\r\n")
        queued_id(c.reply())
    only_message(server, ALICE)


def test_error_budget(server):
    """errors = 50: the 50th error is answered, then 421 4.7.0 and close."""
    with server.ehlo_client() as c:
        lines = garbage_lines(49, seed=2)
        c.send(b"\r\n".join(lines) + b"\r\n")
        for _ in lines:
            assert c.reply().startswith("500 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        assert c.cmd("FROB").startswith("500 5.5.1 ")
        assert c.reply().startswith("421 4.7.0 ")
        assert c.wait_closed()


def test_error_budget_counts_state_errors(server):
    with server.ehlo_client() as c:
        for _ in range(49):
            assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.reply().startswith("421 4.7.0 ")
        assert c.wait_closed()
    # the server itself goes on
    with server.ehlo_client() as c:
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


# ---- DATA ----

def test_data_over_the_size_limit(server):
    line = b"x" * 98 + b"\r\n"
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(b"Subject: big\r\n\r\n" + line * 11000 + b".\r\n")   # 1.1 MB
        assert c.reply().startswith("552 5.3.4 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")
    assert_nothing_stored(server)


def test_data_just_under_the_size_limit(server):
    line = b"x" * 98 + b"\r\n"
    body = line * 10000          # 1,000,000 octets
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(body + b".\r\n")
        queued_id(c.reply())
    data, f = only_message(server, ALICE)
    assert f["body"] == body.replace(b"\r\n", b"\n")


def test_client_disconnects_during_data(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(b"Subject: cut\r\n\r\n" + b"partial line\r\n" * 5000)
        time.sleep(0.1)
    server.wait_log(r"lost connection after DATA")
    assert_nothing_stored(server)
    assert server.messages(ALICE) == []
    send_mail(server, "a@example.net", [ALICE], "Subject: next\r\n\r\nok\r\n")
    data, f = only_message(server, ALICE)
    assert b"Subject: next\n" in data


def test_dot_stuffing(server):
    text = (b"Subject: dots\r\n\r\n"
            b"..leading dot\r\n"
            b"...two dots\r\n"
            b"..\r\n"
            b"a.\r\n"
            b". \r\n"
            b"end\r\n")
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(text + b".\r\n")
        queued_id(c.reply())
    data, f = only_message(server, ALICE)
    assert f["body"] == (b"Subject: dots\n\n"
                         b".leading dot\n"
                         b"..two dots\n"
                         b".\n"
                         b"a.\n"
                         b" \n"
                         b"end\n")


def test_data_line_endings(server):
    """CRLF becomes LF, and so do a bare CR and a bare LF (each ends a line,
    as Postfix 3.9 normalises them): only CRLF lines go onward."""
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(b"Subject: eol\r\n\r\na\rb\r\nc\nd\r\re\r\n.\r\n")
        queued_id(c.reply())
    assert only_message(server, ALICE)[1]["body"] == b"Subject: eol\n\na\nb\nc\nd\n\ne\n"


def test_end_of_data_split_across_writes(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        for piece in (b"Subject: split\r\n\r\nbody\r", b"\n", b".", b"\r", b"\n"):
            c.send(piece)
            time.sleep(0.03)
        queued_id(c.reply())
    assert only_message(server, ALICE)[1]["body"] == b"Subject: split\n\nbody\n"


def test_no_smuggling(server):
    """Bare-LF variants of the end marker are text: the message goes on,
    and the 'commands' after them are neither run nor answered."""
    smuggled = (b"MAIL FROM:<evil@example.net>\r\n"
                b"RCPT TO:<bob@example.org>\r\n"
                b"DATA\r\n"
                b"Subject: smuggled\r\n")
    text = (b"Subject: carrier\r\n\r\nfirst\n.\n" + smuggled +
            b"second\r\n.\n" + smuggled +
            b"third\n.\r\n" + smuggled +
            b"last\r\n")
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("DATA").startswith("354 ")
        c.send(text + b".\r\nNOOP\r\n")
        queued_id(c.reply())
        assert c.reply() == "250 2.0.0 Ok"     # no stray replies in between
    data, f = only_message(server, ALICE)
    body = f["body"]
    # the dot after a bare LF is text, kept; the one after CRLF is stuffing
    assert body.startswith(b"Subject: carrier\n\nfirst\n.\nMAIL FROM:")
    assert b"second\n\nMAIL FROM:" in body and b"third\n.\nMAIL FROM:" in body
    assert body.endswith(b"last\n")
    assert body.count(b"MAIL FROM:<evil@example.net>") == 3
    server.wait_queue_empty()
    assert server.messages(BOB) == []
    assert "evil@example.net" not in server.read_log()


# ---- BDAT ----

def test_bdat_chunks(server):
    chunk1 = b"Subject: chunks\r\n\r\nfirst part, "
    chunk2 = b"second part\r\n.not stuffed\r\n.\r\nstill text\r\n"
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT %d\r\n" % len(chunk1) + chunk1)
        assert c.reply() == "250 2.0.0 %d octets received" % len(chunk1)
        c.send(b"BDAT %d LAST\r\n" % len(chunk2) + chunk2)
        queue_id = queued_id(c.reply())
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    data, f = only_message(server, ALICE)
    assert f["id"] == queue_id and f["proto"] == "ESMTP"
    # no dot handling in BDAT: the text as sent, CRLF -> LF
    assert f["body"] == (chunk1 + chunk2).replace(b"\r\n", b"\n")


def test_bdat_pipelined_with_commands(server):
    text = b"Subject: bdat pipelined\r\n\r\nbody\r\n"
    with server.ehlo_client() as c:
        c.send(b"MAIL FROM:<b@example.net>\r\nRCPT TO:<bob@example.org>\r\n"
               b"BDAT %d LAST\r\n" % len(text) + text + b"NOOP\r\n")
        r = c.replies(4)
        assert r[:2] == ["250 2.1.0 Ok", "250 2.1.5 Ok"]
        queued_id(r[2])
        assert r[3] == "250 2.0.0 Ok"
    assert only_message(server, BOB)[1]["body"] == text.replace(b"\r\n", b"\n")


def test_bdat_chunk_split_across_writes(server):
    text = b"Subject: slow chunk\r\n\r\n" + (b"z" * 98 + b"\r\n") * 50
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT %d LAST\r\n" % len(text) + text[:10])
        for i in range(10, len(text), 1500):
            time.sleep(0.03)
            c.send(text[i:i + 1500])
        queued_id(c.reply())
    assert only_message(server, ALICE)[1]["body"] == text.replace(b"\r\n", b"\n")


def test_bdat_zero_last(server):
    text = b"Subject: zero last\r\n\r\nbody\r\n"
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT %d\r\n" % len(text) + text)
        assert c.reply() == "250 2.0.0 %d octets received" % len(text)
        assert c.cmd("BDAT 0 LAST").startswith("250 2.0.0 Ok: queued as ")
    assert only_message(server, ALICE)[1]["body"] == text.replace(b"\r\n", b"\n")


def test_bdat_crlf_split_across_chunks(server):
    chunks = [b"Subject: crlf\r\n\r\nline one\r", b"\nline two\r", b"\n\r", b"\nend\r"]
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        for ch in chunks:
            c.send(b"BDAT %d\r\n" % len(ch) + ch)
            assert re.match(r"250 2\.0\.0 \d+ octets received$", c.reply())
        assert c.cmd("BDAT 0 LAST").startswith("250 2.0.0 Ok: queued as ")
    # the CR held back at the end of the last chunk is a bare CR: a line end
    assert only_message(server, ALICE)[1]["body"] == \
        b"Subject: crlf\n\nline one\nline two\n\nend\n"


def test_bdat_without_mail(server):
    with server.client() as c:
        c.send(b"BDAT 5\r\nHELO!NOOP\r\n")
        assert c.reply().startswith("503 5.5.1 ")
        assert c.reply() == "250 2.0.0 Ok"
        assert c.cmd("EHLO c").startswith("250-")
        c.send(b"BDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n")
        assert c.reply().startswith("503 5.5.1 ")
        assert c.reply() == "250 2.0.0 Ok"
    assert_nothing_stored(server)


def test_bdat_over_the_size_limit(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT 2000000 LAST\r\n" + (b"x" * 98 + b"\r\n") * 20000)
        assert c.reply().startswith("552 5.3.4 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        assert c.cmd("RCPT TO:<alice@example.org>").startswith("503 5.5.1 ")
    assert_nothing_stored(server)


def test_bdat_over_the_size_limit_in_chunks(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT 600000\r\n" + (b"x" * 98 + b"\r\n") * 6000)
        assert c.reply() == "250 2.0.0 600000 octets received"
        c.send(b"BDAT 600000\r\n" + (b"y" * 98 + b"\r\n") * 6000)
        assert c.reply().startswith("552 5.3.4 ")
        c.send(b"BDAT 10 LAST\r\n" + b"z" * 10)
        assert c.reply().startswith("552 5.3.4 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert_nothing_stored(server)


def test_bdat_text_line_limit(server):
    text = b"Subject: long\r\n\r\n" + b"b" * 999 + b"\r\n"
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT %d LAST\r\n" % len(text) + text)
        assert c.reply().startswith("500 5.5.2 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert_nothing_stored(server)


def test_bdat_bad_size_closes(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        assert c.cmd("BDAT x LAST").startswith("501 5.5.4 ")
        assert c.reply().startswith("421 4.7.0 ")
        assert c.wait_closed()
    assert_nothing_stored(server)


def test_data_after_bdat(server):
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT 4\r\nabcd")
        assert c.reply() == "250 2.0.0 4 octets received"
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        c.send(b"BDAT 2 LAST\r\nef")
        queued_id(c.reply())
    assert only_message(server, ALICE)[1]["body"] == b"abcdef"


def test_rcpt_after_bdat_chunk(server):
    """RCPT between two chunks of one message is out of sequence: it must
    be refused (503), and the server must survive it."""
    with server.ehlo_client() as c:
        start_transaction(c, ALICE)
        c.send(b"BDAT 4\r\nabcd")
        assert c.reply() == "250 2.0.0 4 octets received"
        r = c.cmd("RCPT TO:<bob@example.org>")
        assert r.startswith("503 5.5.1 "), r
        c.send(b"BDAT 2 LAST\r\nef")
        queued_id(c.reply())
    assert only_message(server, ALICE)[1]["body"] == b"abcdef"
    assert server.messages(BOB) == []


def test_bdat_without_accepted_recipient(server):
    """One BDAT command, one reply: 554 5.5.1 when no recipient was
    accepted, then the next command's reply."""
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<nobody@example.org>").startswith("550 5.1.1 ")
        c.send(b"BDAT 5 LAST\r\nhelloNOOP\r\n")
        assert c.reply().startswith("554 5.5.1 ")
        assert c.reply() == "250 2.0.0 Ok"
    assert_nothing_stored(server)
