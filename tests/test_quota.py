"""Per-account quotas that behave like Dovecot's (issue 9 item 4): a
message that would take a mailbox past its quota is refused for good
(552 5.2.2 at RCPT when the declared SIZE does not fit, at the end of DATA
when the text does not and the transaction has one recipient) or bounced
to the sender for that recipient only; sessions that end DATA at the same
moment are counted together; local sendmail is held to it; IMAP APPEND
says [OVERQUOTA]; `correio user quota` changes it and `user list` shows
usage and limit."""

import imaplib
import os
import smtplib
import subprocess
import threading
import time

import pytest

from correio_harness import BIN, Server

BOB = "bob@example.org"        # a local sender, who receives the bounces


@pytest.fixture
def quota_server():
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n")
    s.add_user("alice@example.org")
    s.add_user(BOB)
    s.add_user("carol@example.org", "secret", "--quota", "50k")
    s.start()
    yield s
    s.cleanup()


def text(size, subject="quota test"):
    """A message of about size bytes (CRLF line ends)."""
    head = f"Subject: {subject}\r\nFrom: {BOB}\r\n\r\n".encode()
    line = b"x" * 78 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def mailbox_bytes(s, address):
    return sum(os.path.getsize(p) for p in s.messages(address))


def raw_transaction(s, sender, rcpts, data, size=None):
    """MAIL (with SIZE= when given), RCPTs, DATA; returns the RCPT replies
    and the final reply (None when no recipient was accepted)."""
    with s.ehlo_client() as c:
        opt = f" SIZE={size}" if size is not None else ""
        assert c.cmd(f"MAIL FROM:<{sender}>{opt}").startswith("250")
        replies = [c.cmd(f"RCPT TO:<{r}>") for r in rcpts]
        if not any(r.startswith("250") for r in replies):
            return replies, None
        assert c.cmd("DATA").startswith("354")
        c.send(data + b".\r\n")
        final = c.reply()
        c.cmd("QUIT")
        return replies, final


def bounces(s, who, count, timeout=10):
    """The RFC 3464 reports in who's mailbox, once there are count."""
    deadline = time.time() + timeout
    while True:
        found = [s.read_message(p) for p in s.messages(who)]
        found = [m for m in found if b"report-type=delivery-status" in m]
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.05)


def test_declared_size_over_quota_refused_at_rcpt(quota_server):
    s = quota_server
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10)
    # smtplib declares SIZE=; 80 KB cannot fit a 50 KB quota
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        c.sendmail("x@example.net", ["carol@example.org"], text(80_000))
    code, msg = e.value.recipients["carol@example.org"]
    assert code == 552 and msg.startswith(b"5.2.2"), (code, msg)
    c.quit()
    time.sleep(0.3)
    assert s.messages("carol@example.org") == []


def test_message_over_quota_refused_at_end_of_data(quota_server):
    s = quota_server
    # no SIZE declared: the text itself is found too big for one recipient
    replies, final = raw_transaction(s, "x@example.net", ["carol@example.org"], text(80_000))
    assert replies[0].startswith("250"), replies
    assert final.startswith("552 5.2.2"), final
    time.sleep(0.3)
    assert s.messages("carol@example.org") == []
    assert s.queue_files() == []


def test_bdat_over_quota_refused(quota_server):
    s = quota_server
    data = text(80_000)
    with s.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<x@example.net>").startswith("250")
        assert c.cmd("RCPT TO:<carol@example.org>").startswith("250")
        c.send(f"BDAT {len(data)} LAST\r\n".encode() + data)
        r = c.reply()
        assert r.startswith("552 5.2.2"), r
        # the session goes on: a message that fits is taken
        assert c.cmd("MAIL FROM:<x@example.net>").startswith("250")
        assert c.cmd("RCPT TO:<carol@example.org>").startswith("250")
        small = text(2000)
        c.send(f"BDAT {len(small)} LAST\r\n".encode() + small)
        assert c.reply().startswith("250 "), r
    assert len(s.wait_messages("carol@example.org", 1)) == 1


def test_full_mailbox_gets_552(quota_server):
    s = quota_server
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10)
    c.sendmail("x@example.net", ["carol@example.org"], text(45_000, "fills it"))
    s.wait_messages("carol@example.org", 1)
    # 45 KB of 50 KB used: a declared 10 KB no longer fits
    c.mail("x@example.net", ["SIZE=10000"])
    code, msg = c.rcpt("carol@example.org")
    # permanent: the sender must not retry for days
    assert code == 552 and b"5.2.2" in msg, (code, msg)
    assert c.rcpt("alice@example.org")[0] == 250   # others are not affected
    c.rset()
    c.quit()
    # the administrator lowers the quota below the usage: the mailbox is
    # full for any message, SIZE declared or not
    s.cli("user", "quota", "carol@example.org", "10k")
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10)
    c.ehlo()
    c.mail("x@example.net")
    code, msg = c.rcpt("carol@example.org")
    assert code == 552 and b"5.2.2" in msg, (code, msg)
    c.quit()


def test_alias_with_a_full_member_delivers_to_the_others(quota_server):
    s = quota_server
    s.cli("alias", "add", "team@example.org", "alice@example.org", "carol@example.org")
    replies, final = raw_transaction(s, BOB, ["team@example.org"], text(80_000, "to the team"))
    assert replies == ["250 2.1.5 Ok"], replies
    assert final.startswith("250 "), final
    s.wait_messages("alice@example.org", 1)
    [report] = bounces(s, BOB, 1)
    assert b"Final-Recipient: rfc822; carol@example.org" in report, report[:3000]
    assert b"Status: 5.2.2" in report and b"Action: failed" in report
    assert b"alice@example.org" not in report.split(b"message/delivery-status")[1].split(b"\n--")[0]
    assert s.messages("carol@example.org") == []


def test_second_recipient_over_quota_is_bounced_alone(quota_server):
    s = quota_server
    replies, final = raw_transaction(s, BOB, ["alice@example.org", "carol@example.org"],
                                     text(60_000, "two of us"))
    assert replies == ["250 2.1.5 Ok"] * 2, replies
    assert final.startswith("250 "), final
    s.wait_messages("alice@example.org", 1)
    [report] = bounces(s, BOB, 1)
    assert b"Final-Recipient: rfc822; carol@example.org" in report
    assert b"Status: 5.2.2" in report
    assert b"Subject: two of us" in report       # the original comes back
    assert s.messages("carol@example.org") == []
    s.wait_queue_empty()


def test_no_bounce_for_the_null_sender(quota_server):
    s = quota_server
    replies, final = raw_transaction(s, "", ["alice@example.org", "carol@example.org"],
                                     text(60_000, "a notice"))
    assert final.startswith("250 "), final
    s.wait_messages("alice@example.org", 1)
    s.wait_log(r"to=<carol@example\.org>.*status=bounced \(5\.2\.2")
    s.wait_queue_empty()
    assert s.messages("carol@example.org") == []
    assert bounces(s, BOB, 1, timeout=0.5) == []


def test_parallel_deliveries_share_the_quota():
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\n")
    try:
        s.add_user("dave@example.org", "secret", "--quota", "700k")
        s.start()
        body = text(300_000)
        conns = []
        for _ in range(4):
            c = s.ehlo_client(timeout=20)
            assert c.cmd("MAIL FROM:<x@example.net>").startswith("250")
            assert c.cmd("RCPT TO:<dave@example.org>").startswith("250")
            assert c.cmd("DATA").startswith("354")
            c.send(body)
            conns.append(c)
        finals = [None] * 4

        def finish(i):
            conns[i].send(b".\r\n")
            finals[i] = conns[i].reply()
        threads = [threading.Thread(target=finish, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        ok = [f for f in finals if f.startswith("250 ")]
        refused = [f for f in finals if f.startswith("552 5.2.2")]
        # two fit in 700 KB; the other two are refused, not accepted and lost
        assert len(ok) == 2 and len(refused) == 2, finals
        s.wait_messages("dave@example.org", 2)
        s.wait_queue_empty()
        time.sleep(0.3)
        assert len(s.messages("dave@example.org")) == 2
        assert mailbox_bytes(s, "dave@example.org") <= 700 * 1024
        for c in conns:
            c.close()
    finally:
        s.cleanup()


def test_sendmail_is_held_to_the_quota(quota_server):
    s = quota_server
    r = subprocess.run([BIN, "-c", s.conf, "sendmail", "-f", BOB, "carol@example.org"],
                       input=text(80_000, "via sendmail").replace(b"\r\n", b"\n"),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    [report] = bounces(s, BOB, 1)
    assert b"Final-Recipient: rfc822; carol@example.org" in report
    assert b"Status: 5.2.2" in report
    assert s.messages("carol@example.org") == []
    s.wait_queue_empty()


def test_append_over_quota(quota_server):
    s = quota_server
    m = imaplib.IMAP4("127.0.0.1", s.imap_port)
    m.login("carol@example.org", "secret")
    typ, data = m.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"y" * 60000 + b"\r\n")
    assert typ == "NO" and b"OVERQUOTA" in data[0], (typ, data)
    m.logout()


def test_copy_over_quota(quota_server):
    s = quota_server
    m = imaplib.IMAP4("127.0.0.1", s.imap_port)
    m.login("carol@example.org", "secret")
    assert m.append("INBOX", None, None, text(30_000))[0] == "OK"
    m.select("INBOX")
    typ, data = m.copy("1", "Trash")
    assert typ == "NO" and b"OVERQUOTA" in data[0], (typ, data)
    m.logout()


def test_user_quota_command_and_list(quota_server):
    s = quota_server
    smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10).sendmail(
        "x@example.net", ["carol@example.org"], text(20_000))
    s.wait_messages("carol@example.org", 1)
    used = mailbox_bytes(s, "carol@example.org")
    out = s.cli("user", "list").stdout
    line = [ln for ln in out.splitlines() if ln.startswith("carol@example.org")][0]
    assert "quota=50k" in line and f"used={used}" in line, out
    # raise it: a message refused before now fits
    s.cli("user", "quota", "carol@example.org", "1M")
    assert "quota=1M" in s.cli("user", "list").stdout
    # the running server sees it at once
    replies, final = raw_transaction(s, "x@example.net", ["carol@example.org"], text(80_000))
    assert final.startswith("250 "), final
    # 0 and "none" remove it
    s.cli("user", "quota", "carol@example.org", "none")
    line = [ln for ln in s.cli("user", "list").stdout.splitlines()
            if ln.startswith("carol@example.org")][0]
    assert "quota=unlimited" in line, line
    s.cli("user", "quota", "carol@example.org", "0")
    r = s.cli("user", "quota", "nobody@example.org", "1M", check=False)
    assert r.returncode != 0 and "no such user" in r.stderr
    r = s.cli("user", "quota", "carol@example.org", "lots", check=False)
    assert r.returncode != 0


def test_sendmail_to_an_unknown_local_user_bounces(quota_server):
    # the same path as over quota: a local recipient refused at delivery
    # (here, one nobody has) is reported to the sender, not only logged
    s = quota_server
    r = subprocess.run([BIN, "-c", s.conf, "sendmail", "-f", BOB,
                        "nobody@example.org", "alice@example.org"],
                       input=b"Subject: typo\n\nhello\n", capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    s.wait_messages("alice@example.org", 1)
    [report] = bounces(s, BOB, 1)
    assert b"Final-Recipient: rfc822; nobody@example.org" in report
    assert b"Status: 5.1.1" in report
    s.wait_queue_empty()


def test_mbox_account_is_held_to_its_quota(quota_server):
    s = quota_server
    s.add_user("mia@example.org", "secret", "--mbox", "--quota", "50k")
    replies, final = raw_transaction(s, "x@example.net", ["mia@example.org"], text(30_000))
    assert final.startswith("250 "), final
    mbox = os.path.join(s.data, "mbox", "mia@example.org")
    deadline = time.time() + 10
    while not os.path.exists(mbox) and time.time() < deadline:
        time.sleep(0.05)
    s.wait_queue_empty()
    # 30 KB in the mbox file: another 30 KB does not fit 50 KB
    replies, final = raw_transaction(s, "x@example.net", ["mia@example.org"], text(30_000))
    assert final.startswith("552 5.2.2"), final
    assert "used=%d " % os.path.getsize(mbox) in s.cli("user", "list").stdout
