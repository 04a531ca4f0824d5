"""mbox accounts read over POP3 and IMAP: mail delivered over SMTP to an
account made with `user add --mbox` (or the `[delivery] mailbox_format`
default) is served byte for byte like the same mail in a Maildir account,
with UIDs that survive a restart, deletions (POP3 DELE+QUIT, IMAP
EXPUNGE and MOVE) that rewrite the mbox file while SMTP keeps delivering
to it, and an index that is rebuilt when lost."""

import imaplib
import os
import poplib
import re
import shutil
import threading
import time

import pytest

from correio_harness import Server, send_mail

CAROL = "carol@example.org"	# mbox
DAVE = "dave@example.org"	# Maildir, for comparison
LOOPBACK_PLAIN = "\n[auth]\nplaintext_on_loopback = yes\n"

BODIES = [
    "From the start of a line\r\n>From already quoted\r\n>>From twice\r\nend\r\n",
    "plain body\r\n\r\n\r\n",
    "From\r\n From not at the start\r\nFrom: looks like a header\r\nlast\r\n",
]


@pytest.fixture
def srv():
    s = Server(extra_config=LOOPBACK_PLAIN)
    try:
        s.add_user(CAROL, "secret", "--mbox")
        s.add_user(DAVE, "secret")
        s.start()
        yield s
    finally:
        s.cleanup()


def mbox_path(server, address=CAROL):
    return os.path.join(server.data, "mbox", address)


def deliver(server, subject, body="body\r\n", rcpts=(CAROL,)):
    qid = send_mail(server, "sender@example.net", list(rcpts),
                    f"Subject: {subject}\r\n\r\n{body}")
    server.wait_log(re.escape(qid) + ": removed")
    return qid


def pop3(server, user=CAROL):
    c = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
    c.user(user)
    c.pass_("secret")
    return c


def retr(c, n):
    resp, lines, octets = c.retr(n)
    return b"".join(line + b"\r\n" for line in lines), octets


def imap(server, user=CAROL):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    c.login(user, "secret")
    return c


def select(c, name="INBOX"):
    typ, data = c.select(name)
    assert typ == "OK", data
    uidvalidity = int(c.untagged_responses["UIDVALIDITY"][0])
    return int(data[0]), uidvalidity


def fetch_all(c):
    """{uid: (flags without \\Recent, size, bytes)} of the selected folder."""
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK", data
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = int(re.search(r"UID (\d+)", head).group(1))
        size = int(re.search(r"RFC822\.SIZE (\d+)", head).group(1))
        flags = " ".join(f for f in re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()
                         if f != "\\Recent")
        out[uid] = (flags, size, item[1])
    return out


def subjects(data):
    return re.findall(rb"^Subject: ([^\r\n]*)", data, re.M)


def test_pop3_and_imap_serve_the_mbox_exactly(srv):
    """Three messages sent to an mbox and a Maildir account at once: POP3
    STAT/LIST/UIDL/RETR and IMAP FETCH give the mbox account the very
    bytes the Maildir account gets ("From " lines in bodies unquoted),
    sizes that match, and one identity on both protocols."""
    for i, body in enumerate(BODIES):
        deliver(srv, f"m{i}", body, rcpts=(CAROL, DAVE))
    with open(mbox_path(srv), "rb") as f:
        assert f.read().count(b"\nFrom sender@example.net ") == 2
    c, d = pop3(srv), pop3(srv, DAVE)
    try:
        assert c.stat() == d.stat()
        assert c.stat()[0] == 3
        assert c.list()[1] == d.list()[1]
        uidls = [line.split()[1].decode() for line in c.uidl()[1]]
        assert len(set(uidls)) == 3
        for n in range(1, 4):
            text, octets = retr(c, n)
            want, _ = retr(d, n)
            assert text == want
            size = int(c.list(n).split()[2])
            assert len(text) == size
            assert text.endswith(f"Subject: m{n - 1}\r\n\r\n{BODIES[n - 1]}".encode())
    finally:
        c.quit()
        d.quit()
    m = imap(srv)
    try:
        assert select(m)[0] == 3
        msgs = fetch_all(m)
        assert sorted(msgs) == [int(u.split(".")[1]) for u in uidls]
        for uid, (flags, size, data) in msgs.items():
            assert len(data) == size
            assert data.endswith(BODIES[uid - 1].encode())
        uidvalidity = select(m)[1]
        assert uidls[0] == f"{uidvalidity}.1"
    finally:
        m.logout()


def test_uids_and_flags_survive_a_restart(srv):
    for i in range(3):
        deliver(srv, f"r{i}")
    m = imap(srv)
    _, uidvalidity = select(m)
    before = fetch_all(m)
    m.uid("STORE", "2", "+FLAGS", r"(\Flagged $Work)")
    m.logout()
    c = pop3(srv)
    uidls = c.uidl()[1]
    c.quit()
    srv.stop()
    srv.start()
    m = imap(srv)
    try:
        assert select(m)[1] == uidvalidity
        after = fetch_all(m)
        assert sorted(after) == sorted(before)
        assert [after[u][2] for u in sorted(after)] == [before[u][2] for u in sorted(before)]
        assert set(after[2][0].split()) == {r"\Flagged", "$Work"}
    finally:
        m.logout()
    c = pop3(srv)
    assert c.uidl()[1] == uidls
    c.quit()


def test_new_mail_seen_by_a_selected_session(srv):
    """A delivery is seen at the next sync; the sender's Status:,
    X-Status: and X-Keywords: headers (which mbox tools read as flags) are
    dropped by delivery and flag nothing."""
    deliver(srv, "first")
    m = imap(srv)
    try:
        assert select(m)[0] == 1
        deliver(srv, "second\r\nStatus: RO\r\nX-Status: DF\r\nX-Keywords: Forged")
        m.noop()
        assert m.untagged_responses.get("EXISTS")[-1] == b"2"
        msgs = fetch_all(m)
        assert len(msgs) == 2 and msgs[2][0] == ""
        assert b"X-Status" not in msgs[2][2] and b"Forged" not in msgs[2][2], msgs[2][2]
    finally:
        m.logout()


class Deliverer(threading.Thread):
    """Sends count messages to the mbox account, one after the other."""

    def __init__(self, server, prefix, count):
        super().__init__()
        self.server, self.prefix, self.count = server, prefix, count
        self.error = None

    def run(self):
        try:
            for i in range(self.count):
                send_mail(self.server, "sender@example.net", [CAROL],
                          f"Subject: {self.prefix}{i}\r\n\r\nbody\r\n")
        except Exception as e:  # reported by the test
            self.error = e


def wait_subjects(server, n, timeout=20):
    deadline = time.time() + timeout
    while True:
        server.wait_queue_empty(timeout)
        with open(mbox_path(server), "rb") as f:
            got = subjects(f.read())
        if len(got) >= n or time.time() > deadline:
            return got
        time.sleep(0.05)


def test_pop3_dele_rewrites_the_file_during_deliveries(srv):
    for i in range(6):
        deliver(srv, f"old{i}")
    d = Deliverer(srv, "new", 15)
    d.start()
    try:
        for _ in range(3):	# three sessions, each deletes two
            c = pop3(srv)
            listing = {}
            for n in range(1, c.stat()[0] + 1):
                text, _ = retr(c, n)
                listing[n] = subjects(text)[0]
            dele = [n for n, s in listing.items() if s.startswith(b"old")][:2]
            for n in dele:
                c.dele(n)
            c.quit()
    finally:
        d.join()
    assert d.error is None, d.error
    got = wait_subjects(srv, 15)
    assert sorted(got) == sorted(b"new%d" % i for i in range(15))
    c = pop3(srv)
    try:
        assert c.stat()[0] == 15
    finally:
        c.quit()


def test_imap_expunge_and_move_during_deliveries(srv):
    for i in range(5):
        deliver(srv, f"old{i}")
    m = imap(srv)
    select(m)
    before = fetch_all(m)
    d = Deliverer(srv, "new", 15)
    d.start()
    try:
        m.uid("STORE", "2,4", "+FLAGS", r"(\Deleted)")
        typ, data = m.expunge()
        assert typ == "OK"
        typ, data = m.uid("MOVE", "1", "Trash")
        assert typ == "OK", data
    finally:
        d.join()
    assert d.error is None, d.error
    got = wait_subjects(srv, 17)
    assert sorted(got) == sorted([b"old2", b"old4"] + [b"new%d" % i for i in range(15)])
    m.noop()
    after = fetch_all(m)
    assert after[3][2] == before[3][2]
    assert after[5][2] == before[5][2]
    assert len(after) == 17
    m.select("Trash")
    moved = fetch_all(m)
    assert [v[2] for v in moved.values()] == [before[1][2]]
    m.logout()


def test_append_copy_and_move_into_the_mbox(srv):
    """APPEND (flags, date, a body with "From " lines) and COPY/MOVE from
    a Maildir folder into the mbox INBOX: APPENDUID/COPYUID name the new
    messages, which come back byte for byte, also after a restart."""
    deliver(srv, "delivered", BODIES[0])
    text = b"Subject: appended\r\n\r\n" + BODIES[2].encode() + b">From x\r\nno newline"
    m = imap(srv)
    try:
        typ, data = m.append("INBOX", r"(\Seen $Label1)", '"01-Feb-2024 10:00:00 +0000"', text)
        assert typ == "OK", data
        appenduid = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        assert int(appenduid.group(2)) == 2
        assert m.append("Archive", None, None, b"Subject: archived\r\n\r\nFrom here\r\n")[0] == "OK"
        m.select("Archive")
        typ, data = m.uid("MOVE", "1", "INBOX")
        assert typ == "OK", data
        typ, data = m.select("INBOX")
        assert data == [b"3"]
        assert int(appenduid.group(1)) == int(m.untagged_responses["UIDVALIDITY"][0])
        typ, data = m.uid("COPY", "1", "INBOX")
        assert typ == "OK", data
        m.noop()
        msgs = fetch_all(m)
        assert sorted(msgs) == [1, 2, 3, 4]
        assert msgs[2][2] == text + b"\r\n"
        assert set(msgs[2][0].split()) == {r"\Seen", "$Label1"}
        assert msgs[3][2] == b"Subject: archived\r\n\r\nFrom here\r\n"
        assert msgs[4][2] == msgs[1][2]
        typ, data = m.uid("FETCH", "2", "INTERNALDATE")
        assert b'"01-Feb-2024 10:00:00 +0000"' in data[0]
        m.select("Archive")
        assert fetch_all(m) == {}
    finally:
        m.logout()
    with open(mbox_path(srv), "rb") as f:
        assert f.read().count(b"\nFrom MAILER-DAEMON ") == 3
    srv.stop()
    srv.start()
    m = imap(srv)
    try:
        select(m)
        assert fetch_all(m) == msgs
    finally:
        m.logout()


def test_list_status_and_rename_inbox(srv):
    """The INBOX lists like any other (the index directory is no folder);
    RENAME INBOX moves its messages out of the file into a Maildir
    folder, and later mail starts the mbox again."""
    for i in range(3):
        deliver(srv, f"n{i}")
    m = imap(srv)
    try:
        typ, data = m.list()
        names = [re.search(rb'"([^"]*)"$', line).group(1) for line in data]
        assert b"INBOX" in names and not any(b"correio" in n for n in names)
        typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UNSEEN)")
        assert data[0].endswith(b"(MESSAGES 3 UIDNEXT 4 UNSEEN 3)")
        assert m.rename("INBOX", "Old")[0] == "OK"
        assert m.status("Old", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 3)")
        with open(mbox_path(srv), "rb") as f:
            assert f.read() == b""
        deliver(srv, "after")
        assert select(m)[0] == 1
        assert subjects(fetch_all(m)[4][2]) == [b"after"]
    finally:
        m.logout()


def test_lost_index_is_rebuilt(srv):
    for i in range(3):
        deliver(srv, f"i{i}")
    m = imap(srv)
    _, uidvalidity = select(m)
    m.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    m.expunge()
    m.logout()
    srv.stop()
    local, domain = CAROL.split("@")
    shutil.rmtree(os.path.join(srv.data, "mail", domain, local, "correio-mbox"))
    srv.start()
    m = imap(srv)
    try:
        n, again = select(m)
        assert n == 2 and again > uidvalidity
        msgs = fetch_all(m)
        assert sorted(msgs) == [1, 2]
        assert [subjects(v[2])[0] for _, v in sorted(msgs.items())] == [b"i1", b"i2"]
    finally:
        m.logout()


def test_configured_default_format():
    """[delivery] mailbox_format = mbox: accounts without their own
    setting get mbox, and read it."""
    s = Server(extra_config=LOOPBACK_PLAIN + "\n[delivery]\nmailbox_format = mbox\n")
    try:
        s.add_user(CAROL)
        s.start()
        deliver(s, "default")
        assert os.path.exists(mbox_path(s))
        c = pop3(s)
        try:
            assert c.stat()[0] == 1
            assert subjects(retr(c, 1)[0]) == [b"default"]
        finally:
            c.quit()
    finally:
        s.cleanup()
