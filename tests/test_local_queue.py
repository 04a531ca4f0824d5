"""One queue, one scheduler (issue 11 item 2): a local recipient that cannot
be delivered now waits in the same queue as the relay's, on the same
schedule ([queue] retry_interval, warn_after, give_up), gets the same
notices (delay, failure, success on NOTIFY=SUCCESS) and answers to the
same `correio queue` commands; remote-only mail never passes the local
delivery agent."""

import json
import os
import re
import shutil
import time

import pytest

from correio_harness import Server, free_port

ALICE = "alice@example.org"
BOB = "bob@example.org"          # the sender: local, so its notices are seen


def queue_list(s):
    """`correio queue list --json`: the queued messages."""
    return json.loads(s.cli("queue", "list", "--json").stdout)["messages"]


def make_server(**queue):
    conf = "".join(f"{k} = {v}\n" for k, v in queue.items())
    s = Server(extra_config=f"[queue]\n{conf}" if conf else "")
    s.add_user(ALICE)
    s.add_user(BOB)
    return s


def block_mailbox(s, address):
    """Make the account's Maildir impossible to create: its path is a
    file (the server, root or not, cannot make new/ under it)."""
    path = s.maildir(address)
    if os.path.isdir(path):
        shutil.rmtree(path)
    # the domain's folder as the server would make it: its own (the suite
    # runs as root, the server as the data directory's owner)
    owner = os.stat(s.data)
    parent = os.path.dirname(path)
    for d in (os.path.dirname(parent), parent):
        if not os.path.isdir(d):
            os.mkdir(d, 0o750)
            os.chown(d, owner.st_uid, owner.st_gid)
    with open(path, "w") as f:
        f.write("not a Maildir\n")


def unblock_mailbox(s, address):
    os.unlink(s.maildir(address))


def send(s, rcpt, subject="local queue", notify=None):
    with s.ehlo_client() as c:
        assert c.cmd(f"MAIL FROM:<{BOB}>").startswith("250")
        opt = f" NOTIFY={notify}" if notify else ""
        r = c.cmd(f"RCPT TO:<{rcpt}>{opt}")
        assert r.startswith("250"), r
        assert c.cmd("DATA").startswith("354")
        c.send(f"Subject: {subject}\r\nFrom: {BOB}\r\n\r\nhello\r\n.\r\n".encode())
        r = c.reply()
        m = re.match(r"250 2\.0\.0 Ok: queued as (\w+)$", r)
        assert m, r
        c.cmd("QUIT")
        return m.group(1)


def notices(s):
    """The delivery status notifications in the sender's mailbox."""
    out = []
    for p in s.messages(BOB):
        data = s.read_message(p).decode(errors="replace")
        if "report-type=delivery-status" in data:
            out.append(data)
    return out


def wait_notices(s, n, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = notices(s)
        if len(found) >= n:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{len(notices(s))} notices, wanted {n}\n" + s.read_log()[-3000:])


def deferrals(s, qid):
    return len(re.findall(re.escape(qid) + r": to=<alice@example\.org>, status=deferred",
                          s.read_log()))


def test_deferred_local_recipient_is_queued_retried_warned_and_bounced():
    s = make_server(retry_interval="1s", max_retry_interval="1s",
                    warn_after="2s", give_up="5s")
    try:
        s.start()
        block_mailbox(s, ALICE)
        t0 = time.time()
        qid = send(s, ALICE)
        s.wait_log(re.escape(qid) + r": to=<alice@example\.org>, status=deferred \(4\.")
        # the delivery agent logs before the scheduler records the outcome
        deadline = time.time() + 10
        while True:
            [listed] = queue_list(s)
            if listed["recipients"][0]["attempts"] > 0 or time.time() > deadline:
                break
            time.sleep(0.05)
        assert listed["id"] == qid and listed["sender"] == "bob@example.org", listed
        [r] = listed["recipients"]
        assert r["state"] == "deferred" and r["attempts"] >= 1, r
        assert r["address"] == "alice@example.org" and r["kind"] == "l", r
        assert r["last_error"].startswith("4.2.0 mailbox"), r
        assert "Route:        local delivery" in s.cli("queue", "show", qid).stdout
        # retried on the schedule: about once a second
        deadline = time.time() + 10
        while deferrals(s, qid) < 3 and time.time() < deadline:
            time.sleep(0.1)
        assert deferrals(s, qid) >= 3
        # the delay notice after warn_after, the bounce after give_up
        [delay] = wait_notices(s, 1)
        assert "Action: delayed" in delay and "Final-Recipient: rfc822; alice@example.org" in delay
        s.wait_log(re.escape(qid) + r": removed", timeout=15)
        assert time.time() - t0 > 3.9
        texts = wait_notices(s, 2)
        [bounce] = [t for t in texts if "Action: failed" in t]
        assert "Final-Recipient: rfc822; alice@example.org" in bounce
        assert "5.4.7" in bounce
        assert s.messages(ALICE) == [] if os.path.isdir(s.maildir(ALICE)) else True
    finally:
        s.cleanup()


@pytest.fixture
def slow():
    """Retries an hour apart: only flush and release make them now."""
    s = make_server(retry_interval="1h", max_retry_interval="1h")
    s.start()
    yield s
    s.cleanup()


def test_flush_retries_a_local_deferral_now(slow):
    s = slow
    block_mailbox(s, ALICE)
    qid = send(s, ALICE)
    s.wait_log(re.escape(qid) + r": to=<alice@example\.org>, status=deferred")
    time.sleep(0.5)
    assert deferrals(s, qid) == 1
    unblock_mailbox(s, ALICE)
    r = s.cli("queue", "flush", qid)
    assert "1 message(s) scheduled now" in r.stdout, r.stdout
    s.wait_log(re.escape(qid) + r": to=<alice@example\.org>, status=sent \(delivered to mailbox\)")
    s.wait_log(re.escape(qid) + r": removed")
    assert len(s.messages(ALICE)) == 1
    assert qid not in s.cli("queue", "list").stdout


def test_hold_release_delete_act_on_local_deferrals(slow):
    s = slow
    block_mailbox(s, ALICE)
    qid = send(s, ALICE, subject="held")
    other = send(s, ALICE, subject="deleted")
    for q in (qid, other):
        s.wait_log(re.escape(q) + r": to=<alice@example\.org>, status=deferred")
    assert s.cli("queue", "hold", qid).stdout.strip() == f"{qid} held"
    assert {m["id"]: m["state"] for m in queue_list(s)}[qid] == "held"
    assert s.cli("queue", "delete", other).stdout.strip() == f"{other} deleted"
    unblock_mailbox(s, ALICE)
    s.cli("queue", "flush")
    time.sleep(1)
    assert s.messages(ALICE) == []          # held: no attempt
    # the flush made it due; held, it waited: released, it goes at once
    assert s.cli("queue", "release", qid).stdout.strip() == f"{qid} released"
    s.wait_log(re.escape(qid) + r": removed")
    [only] = s.wait_messages(ALICE, 1)
    assert b"Subject: held" in s.read_message(only)
    s.wait_queue_empty()


def test_account_deleted_while_held_is_bounced(slow):
    s = slow
    block_mailbox(s, ALICE)
    qid = send(s, ALICE)
    s.wait_log(re.escape(qid) + r": to=<alice@example\.org>, status=deferred")
    s.cli("queue", "hold", qid)
    s.cli("user", "del", ALICE)
    unblock_mailbox(s, ALICE)
    s.cli("queue", "release", qid)
    s.cli("queue", "flush", qid)
    s.wait_log(re.escape(qid) + r": to=<alice@example\.org>, status=bounced \(5\.1\.1")
    [bounce] = wait_notices(s, 1)
    assert "Action: failed" in bounce and "Status: 5.1.1" in bounce
    s.wait_queue_empty()


def test_success_notice_for_local_delivery():
    s = make_server()
    try:
        s.start()
        qid = send(s, ALICE, notify="SUCCESS")
        s.wait_log(re.escape(qid) + r": removed")
        [dsn] = wait_notices(s, 1)
        assert "Action: delivered" in dsn
        assert "Final-Recipient: rfc822; alice@example.org" in dsn
        assert len(s.messages(ALICE)) == 1
    finally:
        s.cleanup()


def stats(s):
    out = s.cli("queue", "stats").stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def test_remote_only_mail_never_passes_the_local_agent():
    # a smarthost that refuses connections: the remote recipient waits
    s = make_server(retry_interval="1h", max_retry_interval="1h")
    s.write_config("example.org, localhost",
                   f"[queue]\nretry_interval = 1h\nmax_retry_interval = 1h\n"
                   f"[relay]\nsmarthost = 127.0.0.1:{free_port()}\n")
    try:
        s.start()
        r = s.cli("sendmail", "-f", BOB, "carol@elsewhere.example",
                  stdin="Subject: away\n\nhello\n")
        assert r.returncode == 0
        m = s.wait_log(r"(\w+): to=<carol@elsewhere\.example>, relay=none, status=deferred")
        qid = m.group(1)
        st = stats(s)
        assert st["local-jobs"] == 0 and st["local-recipients"] == 0, st
        assert st["relay-transactions"] == 1, st
        log = s.read_log()
        assert not re.search(re.escape(qid) + r": to=<[^>]*>, status=", log)
        # a local message does pass it, once, and nothing more
        q2 = send(s, ALICE)
        s.wait_log(re.escape(q2) + r": removed")
        st = stats(s)
        assert st["local-jobs"] == 1 and st["local-recipients"] == 1, st
        assert st["relay-transactions"] == 1, st
    finally:
        s.cleanup()


def test_sieve_redirect_to_a_remote_address_joins_the_queue():
    """A Sieve redirect to another domain adds a recipient to the message,
    which the scheduler relays like any other (here it waits: the
    smarthost refuses connections)."""
    s = make_server()
    s.write_config("example.org, localhost",
                   f"[queue]\nretry_interval = 1h\nmax_retry_interval = 1h\n"
                   f"[relay]\nsmarthost = 127.0.0.1:{free_port()}\n")
    try:
        s.start()
        d = os.path.join(s.maildir(ALICE), "sieve")
        os.makedirs(d)
        with open(os.path.join(d, "main.sieve"), "w") as f:
            f.write('redirect "carol@elsewhere.example";\n')
        os.symlink("main.sieve", os.path.join(d, "active"))
        # the server drops privileges: what the test made (the script, its
        # link, the directories up to the data directory) is given to the
        # data directory's owner; not the other entries of the live
        # Maildir (index files the server renames meanwhile)
        owner = os.stat(s.data)
        for p in [os.path.join(d, "main.sieve"), os.path.join(d, "active")]:
            os.lchown(p, owner.st_uid, owner.st_gid)
        while len(d) > len(s.data):
            os.lchown(d, owner.st_uid, owner.st_gid)
            d = os.path.dirname(d)
        qid = send(s, ALICE, subject="forward me")
        s.wait_log(re.escape(qid) + r": to=<alice@example\.org>, sieve: redirect to "
                   r"<carol@elsewhere\.example>")
        s.wait_log(re.escape(qid) + r": to=<carol@elsewhere\.example>, relay=none, "
                   r"status=deferred")
        shown = json.loads(s.cli("queue", "show", "--json", qid).stdout)["recipients"]
        states = {r["address"]: (r["state"], r["attempts"]) for r in shown}
        assert states["alice@example.org"][0] == "delivered", shown
        assert states["carol@elsewhere.example"] == ("deferred", 1), shown
    finally:
        s.cleanup()
