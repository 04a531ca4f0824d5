"""The relay: outbound delivery to other domains through DNS (dnsmasq)
and scriptable SMTP sinks (aiosmtpd) - MX order and fallback, implicit
and null MX, NXDOMAIN, deferral and retry, delay notices and bounces
(RFC 3464), restarts, smarthost with STARTTLS and AUTH, connection
reuse, `correio queue` and `correio sendmail`.

Every mail exchanger listens on its own loopback address and on the one
port the server is told to use ([relay] port); see relay_fixtures for the
zone."""

import json
import os
import pwd
import re
import smtplib
import subprocess
import time

import pytest

from correio_harness import BIN, free_port, send_mail
from relay_fixtures import (DROP, Replies, dsn_kind, log_count, parse_dsn, queue_ids,
                            queued_message, start_and_wait, wait_for)
from relay_fixtures import cert, dns, env  # noqa: F401 - pytest fixtures

ALICE = "alice@example.org"
BOB = "bob@example.org"
TRY_LATER = "451 4.3.0 try later"


# ---- helpers ----

def send(server, rcpts, body=None, sender=ALICE, subject="relay test",
         mail_options=(), rcpt_options=()):
    """Submit over the smtp port (the server trusts 127.0.0.0/8) with
    smtplib; returns the queue id."""
    if body is None:
        body = f"From: <{sender}>\r\nSubject: {subject}\r\n\r\nHello there.\r\n"
    if isinstance(body, str):
        body = body.encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, local_hostname="client.test",
                      timeout=10) as c:
        c.ehlo()
        code, resp = c.mail(sender, list(mail_options))
        assert code == 250, resp
        for r in rcpts:
            code, resp = c.rcpt(r, list(rcpt_options))
            assert code == 250, (r, resp)
        code, resp = c.data(body)
        assert code == 250, resp
        m = re.search(rb"queued as (\w+)", resp)
        assert m, resp
        return m.group(1).decode()


def dsns(server, address=ALICE):
    return server.messages(address)


def wait_dsn(server, n=1, timeout=10, address=ALICE):
    return server.wait_messages(address, n, timeout=timeout)


def read_dsn(server, path):
    data = server.read_message(path)
    assert data.startswith(b"Return-Path: <>\n"), "a DSN comes from the null sender"
    return parse_dsn(data)


def wait_connections_closed(sink):
    """Wait until every connection the server opened to sink has said
    QUIT.  A test that counts the connections a flush opens starts from
    here: the connection of the first attempts may still be ending (RSET,
    QUIT) when their deferrals are logged, and work flushed before its
    QUIT rightly rides on it."""
    def closed():
        quits = {c for c, v, _ in sink.commands if v == "QUIT"}
        return set(sink.connections) <= quits
    wait_for(closed, what=f"the connections to {sink.host} to end")


def no_new_mail(server, address, count, seconds=1.5):
    time.sleep(seconds)
    assert len(server.messages(address)) == count, server.read_log()[-3000:]


# ---- delivery through MX ----

@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
def test_delivery_via_mx_wire_form(env, chunking):
    mx1 = env.sink("mx1.a.test", chunking=chunking)
    srv = env.server()
    text = (b"From: Alice <alice@example.org>\r\nTo: carol@a.test\r\nSubject: dots\r\n\r\n"
            b"..\r\n"                # a line with a single dot (stuffed by us)
            b"...two dots\r\n"
            b"..leading dot\r\n"
            b"x.y\r\n"
            b"\r\n"
            b"last line\r\n")
    qid = send_mail(srv, ALICE, ["carol@a.test"], text)
    [m] = mx1.wait_messages(1)
    srv.wait_log(rf"^.*{qid}: to=<carol@a\.test>, relay=mx1\.a\.test\[127\.0\.0\.2\]"
                 rf":{env.port}, status=sent \(250 2\.0\.0 OK: got it\)")
    srv.wait_log(rf"{qid}: removed")
    srv.wait_queue_empty()
    assert m.method == ("BDAT" if chunking else "DATA")
    assert m.mail_from == ALICE and m.rcpt_tos == ["carol@a.test"]
    data = m.data
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF on the wire"
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR on the wire"
    assert not data.lower().startswith(b"return-path:")
    assert b"\nReturn-Path:" not in data
    lf = data.replace(b"\r\n", b"\n")
    assert re.match(rb"Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\n"
                    rb"\tby mx\.example\.org \(correio\) with E?SMTPS?A? id "
                    + qid.encode() + rb"(\n\tfor <carol@a\.test>)?; [^\n]+\n"
                    rb"From: Alice <alice@example\.org>\n", lf), lf[:400]
    assert lf.endswith(b"\nSubject: dots\n\n.\n..two dots\n.leading dot\nx.y\n\nlast line\n")
    assert len(mx1.connections) == 1
    assert mx1.commands[0][1:] == ("EHLO", "mx.example.org")


@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
def test_long_message_wire_form(env, chunking):
    """Lines starting with dots at every offset, across the 64 KiB blocks
    the text is streamed in."""
    mx1 = env.sink("mx1.a.test", chunking=chunking)
    srv = env.server()
    lines = ["." * (i % 4) + "x" * (i * 7 % 101) for i in range(6000)]
    body = "Subject: many dots\r\n\r\n" + "\r\n".join(lines) + "\r\n"
    assert len(body) > 300_000
    send(srv, ["carol@a.test"], body=body)
    [m] = mx1.wait_messages(1)
    assert m.data.endswith(body.encode().split(b"\r\n\r\n", 1)[1])
    assert m.data.split(b"\r\n\r\n", 1)[1] == body.encode().split(b"\r\n\r\n", 1)[1]


def test_mx_preference_order(env):
    mx1 = env.sink("mx1.a.test")
    mx2 = env.sink("mx2.a.test")
    srv = env.server()
    for i in range(3):
        send(srv, [f"user{i}@a.test"])
    mx1.wait_messages(3)
    srv.wait_queue_empty()
    assert mx2.connections == [] and mx2.messages == []
    assert log_count(srv, r"relay=mx1\.a\.test\[127\.0\.0\.2\].*status=sent") == 3


def test_next_mx_when_first_is_down(env):
    mx2 = env.sink("mx2.down.test")          # mx1.down.test: nothing listens
    srv = env.server()
    qid = send(srv, ["carol@down.test"])
    [m] = mx2.wait_messages(1)
    assert m.rcpt_tos == ["carol@down.test"]
    srv.wait_log(rf"{qid}: to=<carol@down\.test>, relay=mx2\.down\.test\[127\.0\.0\.6\]"
                 rf":{env.port}, status=sent")
    assert "status=deferred" not in srv.read_log()


@pytest.mark.parametrize("banner", [b"554 5.3.2 no service here\r\n",
                                    b"421 4.3.2 too busy\r\n", b""],
                         ids=["554", "421", "closed"])
def test_next_mx_when_first_does_not_greet_220(env, banner):
    bad = env.greeter("mx1.greet.test", banner)
    good = env.sink("mx2.greet.test")
    srv = env.server()
    qid = send(srv, ["carol@greet.test"])
    good.wait_messages(1)
    assert bad.connections >= 1
    srv.wait_log(rf"{qid}: to=<carol@greet\.test>, relay=mx2\.greet\.test.*status=sent")


def test_implicit_mx_from_a_record(env):
    sink = env.sink("implicit.test")
    srv = env.server()
    qid = send(srv, ["carol@implicit.test"])
    sink.wait_messages(1)
    srv.wait_log(rf"{qid}: to=<carol@implicit\.test>, relay=implicit\.test\[127\.0\.0\.7\]"
                 rf":{env.port}, status=sent")


def test_address_literal(env):
    sink = env.sink("mx1.a.test")
    srv = env.server()
    qid = send(srv, ["carol@[127.0.0.2]"])
    [m] = sink.wait_messages(1)
    assert m.rcpt_tos == ["carol@[127.0.0.2]"]
    srv.wait_log(rf"{qid}: to=<carol@\[127\.0\.0\.2\]>, relay=.*127\.0\.0\.2.*status=sent")


def test_internationalised_domain(env):
    """b\u00fccher.test is looked up as xn--bcher-kva.test (IDNA)."""
    sink = env.sink("mx.c.test")
    srv = env.server()
    rcpt = "carol@b\u00fccher.test"
    send(srv, [rcpt], mail_options=["SMTPUTF8"])
    [m] = sink.wait_messages(1)
    assert m.rcpt_tos in ([rcpt], ["carol@xn--bcher-kva.test"]), m.rcpt_tos


def test_all_mx_down_defers(env):
    """Nothing listens at either exchanger: deferred, kept, retried."""
    srv = env.server()
    qid = send(srv, ["carol@down.test"])
    srv.wait_log(rf"{qid}: to=<carol@down\.test>, relay=none, status=deferred \(4\.4\.1 ")
    srv.wait_log(rf"(?s)status=deferred.*{qid}: to=<carol@down\.test>.*status=deferred",
                 timeout=5)          # retried about every second
    assert qid in queue_ids(srv)
    mx2 = env.sink("mx2.down.test")      # comes back
    mx2.wait_messages(1, timeout=5)
    srv.wait_log(rf"{qid}: removed")
    assert dsns(srv) == []


# ---- permanent DNS answers: bounce at once ----

@pytest.mark.parametrize("domain, diagnostic", [
    ("nullmx.test", r"null MX"),
    ("nosuch.test", r"NXDOMAIN"),
    ("noaddr.test", r"no address"),
], ids=["null-mx", "nxdomain", "mx-without-address"])
def test_permanent_dns_failure_bounces_at_once(env, domain, diagnostic):
    srv = env.server()
    t0 = time.time()
    qid = send(srv, [f"carol@{domain}"], subject="to nowhere")
    [path] = wait_dsn(srv, 1, timeout=5)
    assert time.time() - t0 < 4, "a permanent DNS answer must not wait for a retry"
    srv.wait_log(rf"{qid}: to=<carol@{re.escape(domain)}>, relay=none, status=bounced")
    srv.wait_log(rf"{qid}: sender non-delivery notice: \w+")
    srv.wait_log(rf"{qid}: removed")
    assert "status=deferred" not in srv.read_log()
    d = read_dsn(srv, path)
    assert d["msg"]["To"] == f"<{ALICE}>"
    assert d["msg"]["From"] == "Mail Delivery System <MAILER-DAEMON@mx.example.org>"
    [r] = d["rcpts"]
    assert r["Final-Recipient"] == f"rfc822; carol@{domain}"
    assert r["Action"] == "failed"
    assert r["Status"].startswith("5.")
    assert re.search(diagnostic, r["Diagnostic-Code"]), r["Diagnostic-Code"]
    assert d["returned"].get_content_type() == "message/rfc822"
    assert d["returned"].get_payload()[0]["Subject"] == "to nowhere"
    srv.wait_queue_empty()


def test_null_mx_status_code(env):
    """RFC 7505 §4.2 / RFC 3463 registry: a null MX is reported as
    X.1.10 (Recipient address has null MX), not X.1.2."""
    srv = env.server()
    send(srv, ["carol@nullmx.test"])
    [path] = wait_dsn(srv, 1, timeout=5)
    [r] = read_dsn(srv, path)["rcpts"]
    assert r["Status"] == "5.1.10", r.items()


def test_dns_temporary_failure_defers(env):
    """REFUSED from the resolver (names outside .test) is temporary."""
    srv = env.server()
    qid = send(srv, ["carol@elsewhere.example"])
    srv.wait_log(rf"{qid}: to=<carol@elsewhere\.example>, relay=none, status=deferred")
    time.sleep(0.5)
    assert qid in queue_ids(srv)
    assert "status=bounced" not in srv.read_log()
    assert dsns(srv) == []


# ---- deferral, retry, delay notice, give-up ----

@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
def test_4xx_then_success_on_retry(env, stage):
    mx1 = env.sink("mx1.a.test")
    getattr(mx1, stage).set(TRY_LATER)
    srv = env.server()
    qid = send(srv, ["carol@a.test"])
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, relay=mx1\.a\.test\[127\.0\.0\.2\]:{env.port}, "
                 rf"status=deferred \(.*451 4\.3\.0 try later\)")
    [m] = mx1.wait_messages(1, timeout=6)
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, relay=mx1\.a\.test.*status=sent")
    srv.wait_log(rf"{qid}: removed")
    assert m.rcpt_tos == ["carol@a.test"]
    assert dsns(srv) == [] and len(mx1.messages) == 1


def test_delay_notice_then_bounce(env):
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default="451 4.3.0 still busy"))
    srv = env.server(queue={"warn_after": "1s", "give_up": "4s"})
    t0 = time.time()
    qid = send(srv, ["carol@a.test"], subject="slow one")
    srv.wait_log(rf"{qid}: sender delay notice: \w+", timeout=6)
    [first] = wait_dsn(srv, 1)
    assert dsn_kind(first) == "Delayed Mail (still being retried)"
    # a restart must not forget that the sender was warned
    assert srv.stop() == 0
    start_and_wait(srv)
    srv.wait_log(rf"{qid}: sender non-delivery notice: \w+", timeout=8)
    srv.wait_log(rf"{qid}: removed")
    # give_up counts from the arrival time, kept in whole seconds: the
    # bounce comes no earlier than 4 s after the second the message came
    # in, so more than 3 s after t0
    assert time.time() - t0 > 2.95
    paths = wait_dsn(srv, 2)
    no_new_mail(srv, ALICE, 2, seconds=1.2)
    kinds = [dsn_kind(p) for p in srv.messages(ALICE)]
    assert sorted(kinds) == ["Delayed Mail (still being retried)",
                             "Undelivered Mail Returned to Sender"], kinds
    assert log_count(srv, rf"{qid}: sender delay notice") == 1
    assert mx1.verbs().count("RCPT") >= 2      # it was retried meanwhile

    delay = read_dsn(srv, first)
    [r] = delay["rcpts"]
    assert r["Action"] == "delayed"
    assert r["Final-Recipient"] == "rfc822; carol@a.test"
    assert r["Status"] == "4.3.0"
    assert "451 4.3.0 still busy" in r["Diagnostic-Code"]
    assert r["Remote-MTA"] == "dns; mx1.a.test"
    assert r["Will-Retry-Until"]
    assert delay["returned"].get_content_type() == "text/rfc822-headers"
    assert "Subject: slow one" in delay["returned"].get_payload()
    assert "Hello there." not in delay["returned"].get_payload()

    bounce_path = [p for p in paths if p != first][0]
    bounce = read_dsn(srv, bounce_path)
    assert bounce["msg"]["Subject"] == "Undelivered Mail Returned to Sender"
    assert bounce["per_message"]["X-Correio-Queue-ID"] == qid
    [r] = bounce["rcpts"]
    assert r["Action"] == "failed"
    assert r["Status"].startswith("5.")
    assert "451 4.3.0 still busy" in r["Diagnostic-Code"]
    orig = bounce["returned"]
    assert orig.get_content_type() == "message/rfc822"
    assert orig.get_payload()[0]["Subject"] == "slow one"
    assert "Hello there." in orig.get_payload()[0].get_payload()
    srv.wait_queue_empty()


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
def test_5xx_bounces_at_once(env, stage):
    mx1 = env.sink("mx1.a.test")
    getattr(mx1, stage).set("550 5.7.1 relaying denied for you")
    srv = env.server()
    qid = send(srv, ["carol@a.test"], subject="refused")
    [path] = wait_dsn(srv, 1, timeout=5)
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, relay=mx1\.a\.test\[127\.0\.0\.2\]:{env.port}, "
                 rf"status=bounced \(.*550 5\.7\.1 relaying denied for you\)")
    srv.wait_log(rf"{qid}: removed")
    d = read_dsn(srv, path)
    [r] = d["rcpts"]
    assert r["Final-Recipient"] == "rfc822; carol@a.test"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.7.1"
    assert "550 5.7.1 relaying denied for you" in r["Diagnostic-Code"]
    assert r["Remote-MTA"] == "dns; mx1.a.test"
    assert d["returned"].get_payload()[0]["Subject"] == "refused"
    no_new_mail(srv, ALICE, 1, seconds=1.2)
    assert len([v for v in mx1.verbs() if v == "MAIL"]) == 1, "a 5xx is not retried"


def test_one_bounce_for_several_failed_recipients(env):
    env.sink("mx1.a.test", rcpt=Replies(default=lambda a: None if a.startswith("ok@")
                                        else "550 5.1.1 unknown " + a))
    srv = env.server()
    qid = send(srv, ["x1@a.test", "ok@a.test", "x2@a.test", "x3@nosuch.test"])
    srv.wait_log(rf"{qid}: removed")
    [path] = wait_dsn(srv, 1)
    d = read_dsn(srv, path)
    finals = sorted(r["Final-Recipient"] for r in d["rcpts"])
    assert finals == ["rfc822; x1@a.test", "rfc822; x2@a.test", "rfc822; x3@nosuch.test"]
    for r in d["rcpts"]:
        assert r["Action"] == "failed"
    no_new_mail(srv, ALICE, 1, seconds=0.5)


def test_retry_backoff_doubles(env):
    env.sink("mx1.a.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server(queue={"retry_interval": "100s", "max_retry_interval": "350s"})
    qid = send(srv, ["carol@a.test"])
    waits = []
    for attempt in range(1, 5):
        srv.wait_log(rf"(?s)({qid}: to=<carol@a\.test>.*?status=deferred.*?){{{attempt}}}")
        wait_for(lambda: "active" not in srv.cli("queue", "list").stdout, what="idle")
        [r] = queued_message(srv, qid)["recipients"]
        assert r["state"] == "deferred" and r["attempts"] == attempt, r
        waits.append(r["next_attempt"] - time.time())
        srv.cli("queue", "flush", qid)
    assert [round(w, -1) for w in waits] == [100, 200, 350, 350], waits


def test_overlong_reply_line_defers(env):
    """A reply line past 4,096 bytes is not read into memory whole: the
    attempt ends as a temporary failure naming the cause, and the message
    stays queued for the next try."""
    env.sink("mx1.a.test", rcpt=Replies(default="250 2.1.5 " + "x" * 6000))
    srv = env.server()
    qid = send(srv, ["carol@a.test"])
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, .*status=deferred.*reply line too long")
    [r] = queued_message(srv, qid)["recipients"]
    assert r["state"] == "deferred", r


def test_diagnostic_code_is_the_smtp_reply(env):
    """RFC 3464 §2.3.6: the remote server's reply, as it said it, with
    diagnostic-type smtp."""
    env.sink("mx1.a.test", rcpt=Replies("550 5.1.1 no such user here"))
    srv = env.server()
    qid = send(srv, ["carol@a.test"])
    [path] = wait_dsn(srv, 1, timeout=5)
    [r] = read_dsn(srv, path)["rcpts"]
    assert r["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user here"
    assert re.search(rf"{qid}: to=<carol@a\.test>, .*status=bounced "
                     r"\(550 5\.1\.1 no such user here\)", srv.read_log())


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "no-pipelining"])
def test_recipients_tracked_separately(env, pipelining):
    """Two recipients at one domain (one refused, one taken) and one at
    another domain (deferred once): each has its own fate, nobody gets
    the message twice, the bounce names only the refused one."""
    mx_a = env.sink("mx1.a.test", pipelining=pipelining,
                    rcpt=Replies(default=lambda a: "550 5.1.1 unknown" if a.startswith("dave@")
                                 else None))
    mx_b = env.sink("mx.b.test", pipelining=pipelining, rcpt=Replies(TRY_LATER))
    srv = env.server()
    qid = send(srv, ["carol@a.test", "dave@a.test", "erin@b.test"])
    [ma] = mx_a.wait_messages(1)
    assert ma.rcpt_tos == ["carol@a.test"]
    srv.wait_log(rf"{qid}: to=<erin@b\.test>, .*status=deferred")
    [mb] = mx_b.wait_messages(1, timeout=6)
    assert mb.rcpt_tos == ["erin@b.test"]
    srv.wait_log(rf"{qid}: removed")
    [path] = wait_dsn(srv, 1)
    [r] = read_dsn(srv, path)["rcpts"]
    assert r["Final-Recipient"] == "rfc822; dave@a.test"
    no_new_mail(srv, ALICE, 1, seconds=0.5)
    assert len(mx_a.messages) == 1 and len(mx_b.messages) == 1
    assert [v for v in mx_a.verbs() if v == "MAIL"] == ["MAIL"]
    assert log_count(srv, rf"{qid}: to=<carol@a\.test>.*status=sent") == 1
    assert log_count(srv, rf"{qid}: to=<erin@b\.test>.*status=sent") == 1
    assert log_count(srv, rf"{qid}: to=<dave@a\.test>.*status=bounced") == 1


# ---- restarts ----

@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_deferred_mail_survives_restart(env, how):
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server()
    ids = [send(srv, [f"user{i}@a.test", "other@b.test"][:1 + (i == 0)], subject=f"m{i}")
           for i in range(3)]
    for qid in ids:
        srv.wait_log(rf"{qid}: to=<user\d@a\.test>, .*status=deferred")
    if how == "sigterm":
        assert srv.stop() == 0
    else:
        srv.kill()
    for qid in ids:
        assert f"{qid}.env" in srv.queue_files()
    mx1.rcpt.set()          # accept from now on
    mx_b = env.sink("mx.b.test")
    log_at = len(srv.read_log())
    start_and_wait(srv)
    mx1.wait_messages(3, timeout=8)
    mx_b.wait_messages(1, timeout=8)
    for qid in ids:
        srv.wait_log(rf"{qid}: removed", start=log_at)
    srv.wait_queue_empty()
    time.sleep(0.5)
    subjects = sorted(re.search(rb"Subject: (\S+)", m.data).group(1) for m in mx1.messages)
    assert subjects == [b"m0", b"m1", b"m2"], mx1.messages
    assert len(mx_b.messages) == 1
    assert dsns(srv) == []


def test_large_envelope_survives_restart(env):
    """A deferred message whose envelope file has grown past 64 KiB (many
    recipients, each with its last error) must still be there after a
    restart."""
    long_reply = "451 4.3.0 " + "please try again later " * 12
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=long_reply.strip()))
    srv = env.server()
    rcpts = [f"recipient-number-{i:04d}-with-a-rather-long-local-part@a.test"
             for i in range(300)]
    qid = send(srv, rcpts)
    srv.wait_log(rf"{qid}: to=<recipient-number-0299-.*status=deferred")
    wait_for(lambda: sum(r["last_error"] is not None
                         for r in queued_message(srv, qid)["recipients"]) == 300,
             what="300 errors recorded")
    env_size = os.path.getsize(os.path.join(srv.data, "queue", qid + ".env"))
    assert env_size > 65536, env_size
    assert srv.stop() == 0
    mx1.rcpt.set()
    start_and_wait(srv)
    [m] = mx1.wait_messages(1, timeout=5)
    assert sorted(m.rcpt_tos) == rcpts
    srv.wait_log(rf"{qid}: removed")
    assert "damaged" not in srv.read_log() and "discarding" not in srv.read_log()


def test_recipients_deferred_over_seconds_are_retried_together(env):
    """The peer answers each RCPT slowly, so the 451s of one transaction
    arrive over more than a second.  The retry still carries every
    recipient in one transaction, not those deferred in the first second
    now and the others in a second transaction."""
    def slow_refusal(address):
        time.sleep(0.035)
        return TRY_LATER
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=slow_refusal))
    srv = env.server(queue={"retry_interval": "3s", "max_retry_interval": "3s"})
    rcpts = [f"user{i:02d}@a.test" for i in range(40)]
    qid = send(srv, rcpts)
    srv.wait_log(rf"{qid}: to=<user39@a\.test>.*status=deferred", timeout=10)
    mx1.rcpt.set()
    [m] = mx1.wait_messages(1, timeout=10)
    assert sorted(m.rcpt_tos) == rcpts, f"{len(m.rcpt_tos)} of 40 in the first transaction"
    srv.wait_log(rf"{qid}: removed")
    assert len(mx1.messages) == 1


# ---- smarthost ----

def password_file(srv, text):
    path = os.path.join(srv.dir, "smarthost.pw")
    with open(path, "w") as f:
        f.write(text + "\n")
    pw = pwd.getpwnam("correio")
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o600)
    return path


def smarthost_server(env, port, user=None, password=None, **kwargs):
    relay = f"smarthost = smarthost.test:{port}\n"
    srv = env.server(start=False, **kwargs)
    if user is not None:
        relay += f"smarthost_user = {user}\nsmarthost_password_file = " \
                 f"{password_file(srv, password)}\n"
    with open(srv.conf) as f:
        conf = f.read()
    with open(srv.conf, "w") as f:
        f.write(conf.replace("[relay]\n", "[relay]\n" + relay, 1))
    return start_and_wait(srv)


def test_smarthost_starttls_and_auth(env):
    port = free_port()
    sh = env.sink("smarthost.test", port=port, tls=env.cert, auth={"relayuser": "s3cret pw"},
                  auth_required=True)
    mx1 = env.sink("mx1.a.test")     # must not be used
    srv = smarthost_server(env, port, "relayuser", "s3cret pw")
    qid = send(srv, ["carol@a.test", "dan@b.test"])
    [m] = sh.wait_messages(1)
    assert sorted(m.rcpt_tos) == ["carol@a.test", "dan@b.test"] or len(sh.messages) == 2
    assert m.tls, "the password went over a connection without TLS"
    assert m.login == ("relayuser", "s3cret pw")
    assert [(mech, u, p) for _, mech, u, p in sh.logins][0] == ("PLAIN", "relayuser", "s3cret pw")
    verbs = sh.verbs(m.conn)
    assert verbs.index("STARTTLS") < verbs.index("AUTH") < verbs.index("MAIL"), verbs
    assert verbs.count("EHLO") == 2, verbs
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, relay=smarthost\.test\[127\.0\.0\.8\]:{port}, "
                 r"status=sent")
    assert mx1.connections == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smarthost_without_starttls_gets_no_password(env):
    port = free_port()
    sh = env.sink("smarthost.test", port=port, auth={"relayuser": "s3cret"},
                  auth_require_tls=False, auth_required=True)
    srv = smarthost_server(env, port, "relayuser", "s3cret")
    qid = send(srv, ["carol@a.test"])
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, .*status=deferred \(.*clear")
    sh.wait_commands("EHLO", 1)
    time.sleep(0.3)
    assert "AUTH" not in sh.verbs() and sh.logins == []
    assert sh.messages == []
    assert qid in queue_ids(srv)


def test_smarthost_ip_literal(env):
    """smarthost = 127.0.0.8:PORT (an address, no name to look up)."""
    port = free_port()
    sh = env.sink("smarthost.test", port=port)
    srv = env.server(relay=f"smarthost = 127.0.0.8:{port}\n")
    qid = send(srv, ["carol@a.test"])
    sh.wait_messages(1, timeout=4)
    srv.wait_log(rf"{qid}: removed")


# ---- one connection for several messages ----

def test_several_messages_share_one_connection(env):
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server(relay="destination_concurrency = 1\n",
                     queue={"retry_interval": "1h", "max_retry_interval": "1h"})
    ids = [send(srv, [f"user{i}@a.test"], subject=f"n{i}") for i in range(5)]
    for qid in ids:
        srv.wait_log(rf"{qid}: to=<user\d@a\.test>.*status=deferred")
    mx1.rcpt.set()
    wait_connections_closed(mx1)
    seen = len(mx1.commands)
    srv.cli("queue", "flush")
    msgs = mx1.wait_messages(5)
    new_conns = {c for c, v, _ in mx1.commands[seen:] if v in ("EHLO", "HELO")}
    assert len(new_conns) == 1, mx1.commands[seen:]
    assert {m.conn for m in msgs} == new_conns
    assert [v for c, v, _ in mx1.commands[seen:]].count("QUIT") <= 1
    srv.wait_queue_empty()


def test_refused_message_inside_a_reused_connection(env):
    """One connection, three messages; the peer refuses the second one's
    sender: it bounces (to its sender), the others go through."""
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server(relay="destination_concurrency = 1\n",
                     queue={"retry_interval": "1h", "max_retry_interval": "1h"})
    ids = [send(srv, ["carol@a.test"], sender=who) for who in (ALICE, BOB, ALICE)]
    for qid in ids:
        srv.wait_log(rf"{qid}: to=<carol@a\.test>.*status=deferred")
    mx1.rcpt.set()
    mx1.mail.set(default=lambda a: "550 5.7.1 not from you" if a == BOB else None)
    wait_connections_closed(mx1)
    seen = len(mx1.commands)
    srv.cli("queue", "flush")
    mx1.wait_messages(2)
    [path] = wait_dsn(srv, 1, address=BOB)
    [r] = read_dsn(srv, path)["rcpts"]
    assert r["Status"] == "5.7.1"
    srv.wait_queue_empty()
    later = mx1.commands[seen:]
    assert len({c for c, v, _ in later if v == "EHLO"}) == 1, later
    assert {m.conn for m in mx1.messages} == {c for c, v, _ in later if v == "EHLO"}
    assert dsns(srv) == []


def test_connection_cut_during_data_is_retried(env):
    mx1 = env.sink("mx1.a.test", data=Replies(DROP))
    srv = env.server()
    qid = send(srv, ["carol@a.test"])
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, .*status=deferred")
    [m] = mx1.wait_messages(1, timeout=6)
    srv.wait_log(rf"{qid}: removed")
    assert len(mx1.refused) == 1 and len(mx1.messages) == 1
    assert dsns(srv) == []


def test_concurrency_limit_and_reuse(env):
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server(relay="destination_concurrency = 2\n",
                     queue={"retry_interval": "1h", "max_retry_interval": "1h"})
    ids = [send(srv, [f"user{i}@a.test"]) for i in range(8)]
    for qid in ids:
        srv.wait_log(rf"{qid}: to=<user\d@a\.test>.*status=deferred")
    mx1.rcpt.set()
    wait_connections_closed(mx1)
    seen = len(mx1.commands)
    srv.cli("queue", "flush")
    msgs = mx1.wait_messages(8)
    new_conns = {c for c, v, _ in mx1.commands[seen:] if v in ("EHLO", "HELO")}
    assert 1 <= len(new_conns) <= 2, new_conns
    assert len({m.conn for m in msgs}) <= 2


def test_equal_preferences_are_shuffled(env):
    a = env.sink("mxa.eq.test", rcpt=Replies(default=TRY_LATER))
    b = env.sink("mxb.eq.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server(queue={"retry_interval": "1h", "max_retry_interval": "1h"})
    qid = send(srv, ["carol@eq.test"])
    for attempt in range(1, 25):
        srv.wait_log(rf"(?s)({qid}: to=<carol@eq\.test>.*?status=deferred.*?){{{attempt}}}")
        if a.messages or b.messages or (a.verbs().count("RCPT") and b.verbs().count("RCPT")):
            break
        srv.cli("queue", "flush", qid)
    assert a.verbs().count("RCPT") > 0 and b.verbs().count("RCPT") > 0, \
        "equal-preference exchangers were always tried in the same order"


# ---- message properties the peer must support ----

@pytest.mark.parametrize("lacking", ["8bitmime", "smtputf8", "size"])
def test_peer_lacking_a_needed_extension_bounces(env, lacking):
    """BODY=8BITMIME to a peer without 8BITMIME (5.6.3), SMTPUTF8 to one
    without SMTPUTF8 (5.6.7), more than the peer's SIZE (5.3.4): bounced
    at once, without even a MAIL command."""
    mx1 = env.sink("mx1.a.test", eightbit=lacking != "8bitmime",
                   smtputf8=lacking != "smtputf8",
                   size_limit=2000 if lacking == "size" else 10 * 1024 * 1024)
    srv = env.server()
    rcpt, opts, body = "carol@a.test", [], "Subject: plain\r\n\r\nx\r\n".encode()
    if lacking == "8bitmime":
        opts = ["BODY=8BITMIME"]
        body = "Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode()
    elif lacking == "smtputf8":
        opts, rcpt = ["SMTPUTF8"], "jos\u00e9@a.test"
    else:
        body += (b"y" * 70 + b"\r\n") * 100
    status = {"8bitmime": "5.6.3", "smtputf8": "5.6.7", "size": "5.3.4"}[lacking]
    qid = send(srv, [rcpt], body=body, mail_options=opts)
    [path] = wait_dsn(srv, 1, timeout=5)
    srv.wait_log(rf"{qid}: to=<{re.escape(rcpt)}>, .*status=bounced \({re.escape(status)} ")
    [r] = read_dsn(srv, path)["rcpts"]
    assert r["Status"] == status
    assert r["Action"] == "failed"
    assert "MAIL" not in mx1.verbs()


def test_8bitmime_to_peer_with_it(env):
    mx1 = env.sink("mx1.a.test")
    srv = env.server()
    body = "Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n".encode()
    send(srv, ["carol@a.test"], body=body, mail_options=["BODY=8BITMIME"])
    [m] = mx1.wait_messages(1)
    assert "BODY=8BITMIME" in m.mail_options
    assert m.data.endswith(b"\r\n\r\nd\xc3\xa9j\xc3\xa0 vu\r\n")


# ---- DSN requests (RFC 3461) ----

def test_dsn_parameters_passed_on(env):
    mx1 = env.sink("mx1.a.test", dsn=True)
    srv = env.server()
    send(srv, ["carol@a.test"], mail_options=["RET=HDRS", "ENVID=env+2B42"],
         rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;carol@a.test"])
    [m] = mx1.wait_messages(1)
    assert "RET=HDRS" in m.mail_options and "ENVID=env+2B42" in m.mail_options, m.mail_options
    [opts] = m.rcpt_options
    assert "NOTIFY=SUCCESS,FAILURE" in opts and "ORCPT=rfc822;carol@a.test" in opts, opts
    # the next hop speaks DSN and was asked to report success itself
    no_new_mail(srv, ALICE, 0, seconds=1.5)


def test_notify_success_to_peer_without_dsn_gets_relayed_notice(env):
    mx1 = env.sink("mx1.a.test")
    srv = env.server()
    qid = send(srv, ["carol@a.test"], rcpt_options=["NOTIFY=SUCCESS"])
    [m] = mx1.wait_messages(1)
    assert not any("NOTIFY" in o for o in m.rcpt_options[0])
    [path] = wait_dsn(srv, 1)
    srv.wait_log(rf"{qid}: sender delivery notice: \w+")
    d = read_dsn(srv, path)
    assert d["msg"]["Subject"] == "Successful Mail Delivery Report"
    [r] = d["rcpts"]
    assert r["Action"] == "relayed" and r["Status"].startswith("2."), r.items()
    assert d["returned"].get_content_type() == "text/rfc822-headers"


def test_notify_never_suppresses_the_bounce(env):
    env.sink("mx1.a.test", rcpt=Replies("550 5.1.1 unknown"))
    srv = env.server()
    qid = send(srv, ["carol@a.test"], rcpt_options=["NOTIFY=NEVER"])
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, .*status=bounced")
    srv.wait_log(rf"{qid}: removed")
    no_new_mail(srv, ALICE, 0, seconds=1.0)
    assert "notice" not in srv.read_log()


@pytest.mark.parametrize("how", ["5xx", "give_up"])
def test_no_dsn_for_null_sender(env, how):
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default="550 5.1.1 unknown" if how == "5xx"
                                              else TRY_LATER))
    srv = env.server(queue={"warn_after": "1s", "give_up": "2s"})
    qid = send(srv, ["carol@a.test"], sender="")
    srv.wait_log(rf"{qid}: to=<carol@a\.test>, .*status=bounced", timeout=8)
    srv.wait_log(rf"{qid}: removed")
    time.sleep(1.0)
    assert "notice" not in srv.read_log()
    srv.wait_queue_empty()
    assert not os.path.exists(os.path.join(srv.data, "mail", "example.org", "alice"))
    assert mx1.verbs().count("MAIL") >= 1


# ---- correio queue ----

def deferred_message(env, **kwargs):
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server(queue={"retry_interval": "1h", "max_retry_interval": "1h"}, **kwargs)
    qid = send(srv, ["carol@a.test"], subject="queued")
    srv.wait_log(rf"{qid}: to=<carol@a\.test>.*status=deferred")
    wait_for(lambda: "active" not in srv.cli("queue", "list").stdout, what="idle")
    return mx1, srv, qid


def test_queue_list_and_show(env):
    mx1, srv, qid = deferred_message(env)
    [m] = json.loads(srv.cli("queue", "list", "--json").stdout)["messages"]
    assert m["id"] == qid
    assert m["size"] == os.path.getsize(os.path.join(srv.data, "queue", qid + ".msg"))
    assert abs(m["arrival"] - time.time()) < 30
    assert m["sender"] == ALICE and m["state"] == "deferred" and not m["held"], m
    show = queued_message(srv, qid)
    assert show["sender"] == ALICE
    [r] = show["recipients"]
    assert r["address"] == "carol@a.test" and r["state"] == "deferred", r
    assert r["attempts"] == 1 and r["next_attempt"] > time.time() + 3000   # in an hour
    assert r["last_error"].endswith("451 4.3.0 try later"), r


def test_queue_hold_release_flush(env):
    mx1, srv, qid = deferred_message(env)
    mx1.rcpt.set()                                   # would accept now
    assert srv.cli("queue", "hold", qid).stdout.strip() == f"{qid} held"
    srv.wait_log(rf"{qid}: held")
    assert "held" in srv.cli("queue", "list").stdout.split()
    assert queued_message(srv, qid)["held"] is True
    assert srv.cli("queue", "release", qid).stdout.strip() == f"{qid} released"
    srv.wait_log(rf"{qid}: released")
    assert "held" not in srv.cli("queue", "list").stdout.split()
    time.sleep(0.5)
    assert mx1.messages == [], "released, but its next attempt is an hour away"
    srv.cli("queue", "hold", qid)
    srv.cli("queue", "flush")
    r = srv.cli("queue", "flush", qid, check=False)
    assert r.returncode == 1 and f"{qid} is held" in r.stderr, r
    time.sleep(0.8)
    assert mx1.messages == [], "a held message was attempted"
    assert mx1.verbs().count("MAIL") == 1
    srv.cli("queue", "release", qid)       # flushed meanwhile: goes at once
    mx1.wait_messages(1, timeout=5)
    srv.wait_log(rf"{qid}: removed")
    assert queue_ids(srv) == []
    r = srv.cli("queue", "show", qid, check=False)
    assert r.returncode == 1 and "no message" in r.stderr


def test_queue_flush_one(env):
    mx1, srv, qid = deferred_message(env)
    other = send(srv, ["dave@a.test"], subject="other")
    srv.wait_log(rf"{other}: to=<dave@a\.test>.*status=deferred")
    mx1.rcpt.set()
    assert srv.cli("queue", "flush", qid).stdout.strip() == "1 message(s) scheduled now"
    [m] = mx1.wait_messages(1, timeout=5)
    assert m.rcpt_tos == ["carol@a.test"]
    srv.wait_log(rf"{qid}: removed")
    time.sleep(1.2)
    assert len(mx1.messages) == 1 and queue_ids(srv) == [other]
    assert srv.cli("queue", "flush").stdout.strip() == "1 message(s) scheduled now"
    mx1.wait_messages(2, timeout=5)
    srv.wait_queue_empty()


def test_hold_survives_restart(env):
    mx1, srv, qid = deferred_message(env)
    srv.cli("queue", "hold", qid)
    mx1.rcpt.set()
    assert srv.stop() == 0
    start_and_wait(srv)
    srv.cli("queue", "flush")
    time.sleep(1.5)
    assert mx1.messages == []
    assert "held" in srv.cli("queue", "list").stdout.split()
    srv.cli("queue", "release", qid)      # flushed while held: goes at once
    mx1.wait_messages(1, timeout=5)


def test_queue_delete(env):
    mx1, srv, qid = deferred_message(env)
    assert srv.cli("queue", "delete", qid).stdout.strip() == f"{qid} deleted"
    srv.wait_log(rf"{qid}: deleted by the administrator")
    assert queue_ids(srv) == []
    assert not any(f.startswith(qid) for f in srv.queue_files())
    mx1.rcpt.set()
    srv.cli("queue", "flush")
    no_new_mail(srv, ALICE, 0, seconds=1.2)
    assert mx1.messages == []


@pytest.mark.parametrize("verb", ["show", "hold", "release", "delete", "flush"])
def test_queue_unknown_id(env, verb):
    srv = env.server()
    r = srv.cli("queue", verb, "0123456789ABCDEF", check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "no message 0123456789ABCDEF" in r.stderr
    assert r.stdout == ""


def test_queue_without_server(env):
    srv = env.server(start=False)
    r = srv.cli("queue", "list", check=False)
    assert r.returncode == 1 and "is it running" in r.stderr


# ---- sendmail ----

def sendmail(srv, args, text, link=None, cwd=None):
    argv = [link] if link else [BIN, "-c", srv.conf, "sendmail"]
    r = subprocess.run(argv + list(args), input=text.encode(), capture_output=True,
                       timeout=30, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r


def test_sendmail_recipients_as_arguments(env):
    mx1 = env.sink("mx1.a.test")
    srv = env.server()
    sendmail(srv, ["-f", ALICE, BOB, "carol@a.test"],
             "Subject: via sendmail\nTo: bob@example.org, carol@a.test\n\nline one\n"
             ".\nnot part of the message\n")
    [m] = mx1.wait_messages(1)
    assert m.mail_from == ALICE and m.rcpt_tos == ["carol@a.test"]
    assert m.data.endswith(b"Subject: via sendmail\r\nTo: bob@example.org, carol@a.test\r\n"
                           b"\r\nline one\r\n")
    assert re.match(rb"Received: by mx\.example\.org \(correio, from userid 0\)\r\n"
                    rb"\tid \w+; ", m.data), m.data[:200]
    local = srv.read_message(srv.wait_messages(BOB, 1)[0])
    assert local.startswith(f"Return-Path: <{ALICE}>\n".encode())
    assert local.endswith(b"\n\nline one\n")
    assert b"not part" not in local


def test_sendmail_t_removes_bcc(env):
    mx1 = env.sink("mx1.a.test")
    srv = env.server(users=(ALICE, BOB, "hidden@example.org"))
    sendmail(srv, ["-t", "-i", "-f", ALICE],
             "To: Bob <bob@example.org>\nCc: carol@a.test\nBcc: dave@a.test,\n"
             " hidden@example.org\nSubject: blind\n\nbody\n.\nafter a dot line\n")
    [m] = mx1.wait_messages(1)
    assert sorted(m.rcpt_tos) == ["carol@a.test", "dave@a.test"]
    assert b"Bcc" not in m.data and b"hidden" not in m.data
    assert m.data.endswith(b"\r\nbody\r\n.\r\nafter a dot line\r\n")     # -i
    for who in (BOB, "hidden@example.org"):
        data = srv.read_message(srv.wait_messages(who, 1)[0])
        assert b"Bcc" not in data and b"hidden" not in data, data
        assert b"\nCc: carol@a.test\n" in data
    srv.wait_queue_empty()


def test_sendmail_default_sender(env):
    mx1 = env.sink("mx1.a.test")
    srv = env.server()
    sendmail(srv, ["carol@a.test"], "Subject: who am I\n\nx\n")
    [m] = mx1.wait_messages(1)
    assert m.mail_from == pwd.getpwuid(os.getuid()).pw_name + "@example.org"


def test_sendmail_through_a_symlink(env):
    mx1 = env.sink("mx1.a.test")
    srv = env.server()
    link = os.path.join(srv.dir, "sendmail")
    os.symlink(os.path.abspath(BIN), link)
    # no -c: ./correio.conf in the working directory
    sendmail(srv, ["-oi", "-f", "alice@example.org", "carol@a.test", BOB],
             "Subject: symlinked\n\n.\nend\n", link=link, cwd=srv.dir)
    [m] = mx1.wait_messages(1)
    assert m.mail_from == ALICE
    assert m.data.endswith(b"Subject: symlinked\r\n\r\n.\r\nend\r\n")
    srv.wait_messages(BOB, 1)


def test_sendmail_ascii_to_peer_without_8bitmime(env):
    """A plain ASCII message from sendmail is 7bit: it must go to a peer
    that does not offer 8BITMIME."""
    mx1 = env.sink("mx1.a.test", eightbit=False)
    srv = env.server()
    sendmail(srv, ["-f", ALICE, "carol@a.test"], "Subject: plain\n\nascii only\n")
    [m] = mx1.wait_messages(1, timeout=5)
    assert "BODY=8BITMIME" not in m.mail_options


def test_sendmail_t_without_recipients(env):
    srv = env.server()
    r = subprocess.run([BIN, "-c", srv.conf, "sendmail", "-t"], input=b"Subject: nobody\n\nx\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and b"recipient" in r.stderr, r
    assert srv.queue_files() == []


@pytest.mark.parametrize("args", [["bad-recipient"], ["-f", "bad sender", BOB], []],
                         ids=["bad-recipient", "bad-sender", "no-recipient"])
def test_sendmail_refusal_is_reported(env, args):
    """The server refuses the request at its first line and closes; the
    client, still writing the message, must report the server's answer
    (exit 1 and a message), not die of SIGPIPE."""
    srv = env.server()
    text = b"Subject: refused\n\n" + (b"x" * 99 + b"\n") * 9000     # 900 kB
    r = subprocess.run([BIN, "-c", srv.conf, "sendmail", *args], input=text,
                       capture_output=True, timeout=30)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert b"bad sender or recipient" in r.stderr, r.stderr
    assert srv.queue_files() == []


def test_sendmail_without_server(env):
    srv = env.server(start=False)
    r = subprocess.run([BIN, "-c", srv.conf, "sendmail", "carol@a.test"], input=b"x\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and b"is it running" in r.stderr


# ---- more of the SMTP client ----

def test_helo_when_ehlo_is_refused(env):
    mx1 = env.sink("mx1.a.test", ehlo=False)
    srv = env.server()
    send(srv, ["carol@a.test"])
    [m] = mx1.wait_messages(1)
    verbs = mx1.verbs(m.conn)
    assert verbs[:2] == ["EHLO", "HELO"], verbs
    mail = [a for c, v, a in mx1.commands if v == "MAIL"]
    assert mail == ["FROM:<alice@example.org>"], mail       # no ESMTP parameters


def test_starttls_used_when_offered(env):
    mx1 = env.sink("mx1.a.test", tls=env.cert)
    srv = env.server()
    send(srv, ["carol@a.test"])
    [m] = mx1.wait_messages(1)
    assert m.tls
    assert mx1.verbs(m.conn)[:3] == ["EHLO", "STARTTLS", "EHLO"]


def test_starttls_refused_goes_on_in_clear(env):
    mx1 = env.sink("mx1.a.test", tls=env.cert, starttls_reply="454 4.7.0 TLS not available")
    srv = env.server()
    qid = send(srv, ["carol@a.test"])
    [m] = mx1.wait_messages(1)
    assert not m.tls
    srv.wait_log(rf"{qid}: removed")


def test_local_remote_and_forwarded_recipients(env):
    """One message for a local account, a remote address and a local
    alias that forwards to another remote address."""
    mx_a = env.sink("mx1.a.test")
    mx_b = env.sink("mx.b.test")
    srv = env.server()
    srv.alias_add("fwd@example.org", "erin@b.test")
    qid = send(srv, [BOB, "carol@a.test", "fwd@example.org"])
    [ma] = mx_a.wait_messages(1)
    [mb] = mx_b.wait_messages(1)
    assert ma.rcpt_tos == ["carol@a.test"] and mb.rcpt_tos == ["erin@b.test"]
    assert ma.mail_from == mb.mail_from == ALICE
    [local] = srv.wait_messages(BOB, 1)
    assert srv.read_message(local).endswith(b"\n\nHello there.\n")
    srv.wait_log(rf"{qid}: removed")
    srv.wait_queue_empty()
    time.sleep(1.0)
    assert len(mx_a.messages) == 1 and len(mx_b.messages) == 1
    assert len(srv.messages(BOB)) == 1


def test_bounce_to_a_remote_sender_is_relayed_from_null_sender(env):
    env.sink("mx1.a.test", rcpt=Replies(default="550 5.1.1 unknown"))
    mx_b = env.sink("mx.b.test")
    srv = env.server()
    qid = send(srv, ["carol@a.test"], sender="writer@b.test", subject="from afar")
    [m] = mx_b.wait_messages(1, timeout=5)
    assert m.mail_from in ("", "<>") and m.rcpt_tos == ["writer@b.test"]
    assert [a for c, v, a in mx_b.commands if v == "MAIL"][0].startswith("FROM:<> ")
    d = parse_dsn(m.data.replace(b"\r\n", b"\n"))
    [r] = d["rcpts"]
    assert r["Final-Recipient"] == "rfc822; carol@a.test" and r["Action"] == "failed"
    assert d["per_message"]["X-Correio-Queue-ID"] == qid
    srv.wait_queue_empty()


def test_local_part_case_preserved(env):
    """RFC 5321 §2.4: a relay must preserve the case of local parts (the
    domain's case does not matter)."""
    mx1 = env.sink("mx1.a.test")
    srv = env.server()
    send(srv, ["Carol.Smith@A.Test"])
    [m] = mx1.wait_messages(1)
    assert [r.split("@")[0] for r in m.rcpt_tos] == ["Carol.Smith"], m.rcpt_tos
