"""IMAP SORT (RFC 5256, with RFC 5957's DISPLAYFROM/DISPLAYTO), ESORT
(RFC 5267) and THREAD=ORDEREDSUBJECT / THREAD=REFERENCES (RFC 5256) against
a real server, with imaplib and byte-exact: every sort key, REVERSE, ties,
search keys, UID forms, ESEARCH replies, threads, errors, and the sort keys
kept in the store's cache."""

import imaplib
import os

import pytest

from correio_harness import Server
from imap_raw import Imap

ALICE = "alice@example.org"
PLAIN = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"

MESSAGES = [
    # (header, internal date)
    ("From: Zed <zed@x.org>\nTo: bob@x.org\nSubject: Re: apples\n"
     "Date: Wed, 3 Jan 2024 10:00:00 +0000\nMessage-ID: <a2@x>\nIn-Reply-To: <a1@x>\n",
     "10-Jan-2024 00:00:00 +0000"),
    ("From: \"Amy\" <amy@x.org>\nTo: Carl <carl@x.org>\nCc: dan@x.org\nSubject: apples\n"
     "Date: Mon, 1 Jan 2024 09:00:00 +0000\nMessage-ID: <a1@x>\n",
     "09-Jan-2024 00:00:00 +0000"),
    ("From: bob@x.org\nTo: amy@x.org\nSubject: [list] Bananas (fwd)\n"
     "Date: Tue, 2 Jan 2024 08:00:00 -0500\nMessage-ID: <b1@x>\n",
     "08-Jan-2024 00:00:00 +0000"),
    ("From: =?UTF-8?Q?=C3=89mile?= <emile@x.org>\nTo: zed@x.org\nSubject: Fwd: bananas\n"
     "Message-ID: <b2@x>\nReferences: <b1@x>\n",
     "05-Jan-2024 00:00:00 +0000"),
    ("From: carl@x.org\nSubject: cherries\nDate: 2 Jan 2024 12:00 GMT\n"
     "References: <a1@x> <a2@x>\nMessage-ID: <a3@x>\n",
     "07-Jan-2024 00:00:00 +0000"),
]


def wire(text):
    return text.replace("\n", "\r\n").encode()


@pytest.fixture
def server():
    s = Server(extra_config=PLAIN)
    try:
        s.add_user(ALICE)
        s.start()
        c = Imap(s.imap_port)
        c.ok(f"LOGIN {ALICE} secret")
        # a first message, expunged: UIDs are sequence numbers + 1
        data = wire("Subject: gone\n\nx\n")
        c.ok(b"APPEND INBOX (\\Deleted) {%d+}\r\n" % len(data) + data)
        for i, (header, date) in enumerate(MESSAGES):
            data = wire(header + "\n" + "body line\n" * (3 * i % 5 + 1))
            c.ok(b'APPEND INBOX "%s" {%d+}\r\n' % (date.encode(), len(data)) + data)
        c.ok("SELECT INBOX")
        c.ok("EXPUNGE")
        c.close()
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def box(server):
    c = Imap(server.imap_port)
    c.ok(f"LOGIN {ALICE} secret")
    c.ok("SELECT INBOX")
    yield c
    c.close()


def sort(c, cmd):
    untagged = c.ok(cmd)
    lines = [u for u in untagged if u.startswith(b"* SORT")]
    assert len(lines) == 1, untagged
    return lines[0][7:].decode()


SORT_CASES = [
    ("(ARRIVAL)", "4 5 3 2 1"),
    ("(REVERSE ARRIVAL)", "1 2 3 5 4"),
    ("(DATE)", "2 5 3 1 4"),            # 4 has no Date: its internal date
    ("(REVERSE DATE)", "4 1 3 5 2"),
    ("(SUBJECT)", "1 2 3 4 5"),         # base subjects; ties by sequence
    ("(REVERSE SUBJECT)", "5 3 4 1 2"),
    ("(SUBJECT REVERSE DATE)", "1 2 4 3 5"),
    ("(FROM)", "2 3 5 4 1"),            # addr-mailbox: amy bob carl emile zed
    ("(DISPLAYFROM)", "2 3 5 1 4"),     # Amy bob@ carl@ Zed Émile
    ("(TO)", "5 3 1 2 4"),
    ("(DISPLAYTO)", "5 3 1 2 4"),
    ("(CC)", "1 3 4 5 2"),
    ("(CC REVERSE ARRIVAL)", "1 3 5 4 2"),
]


@pytest.mark.parametrize("criteria,expected", SORT_CASES)
def test_sort_keys(box, criteria, expected):
    assert sort(box, f"SORT {criteria} UTF-8 ALL") == expected


def test_sort_size_and_uid(box):
    sizes = {}
    for u in box.ok("FETCH 1:* RFC822.SIZE"):
        seq, size = u.split()[1], u.split(b"RFC822.SIZE ")[1].rstrip(b")")
        sizes[int(seq)] = int(size)
    expected = sorted(sizes, key=lambda n: (sizes[n], n))
    assert sort(box, "SORT (SIZE) US-ASCII ALL") == " ".join(map(str, expected))
    # UID SORT names UIDs: sequence numbers + 1 here
    assert sort(box, "UID SORT (DATE) UTF-8 ALL") == "3 6 4 2 5"
    assert sort(box, "UID SORT (DATE) UTF-8 UID 2:4") == "3 4 2"


def test_sort_with_search_keys(box):
    assert sort(box, "SORT (DATE) UTF-8 SUBJECT apples") == "2 1"
    assert sort(box, "SORT (DATE) UTF-8 OR FROM zed FROM emile") == "1 4"
    assert sort(box, "SORT (DATE) UTF-8 2:4 NOT TO amy") == "2 4"
    assert sort(box, "SORT (SUBJECT) UTF-8 SUBJECT nothing") == ""
    box.ok("STORE 2 +FLAGS (\\Seen)")
    assert sort(box, "SORT (REVERSE DATE) UTF-8 UNSEEN") == "4 1 3 5"


def esearch(c, cmd):
    untagged = c.ok(cmd)
    lines = [u for u in untagged if u.startswith(b"* ESEARCH")]
    assert len(lines) == 1, untagged
    return lines[0].decode()


def test_esort(box):
    tag = lambda: box.tag
    line = esearch(box, "SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL")
    assert line == f'* ESEARCH (TAG "{tag()}") MIN 2 MAX 4 COUNT 5'
    line = esearch(box, "SORT RETURN (ALL) (DATE) UTF-8 ALL")
    assert line == f'* ESEARCH (TAG "{tag()}") ALL 2,5,3,1,4'
    line = esearch(box, "SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL")
    assert line == f'* ESEARCH (TAG "{tag()}") ALL 1:3,5,4'
    line = esearch(box, "UID SORT RETURN (COUNT MIN) (SUBJECT) UTF-8 ALL")
    assert line == f'* ESEARCH (TAG "{tag()}") UID MIN 2 COUNT 5'
    line = esearch(box, "SORT RETURN (MIN MAX ALL COUNT) (DATE) UTF-8 SUBJECT nothing")
    assert line == f'* ESEARCH (TAG "{tag()}") COUNT 0'


def thread(c, cmd):
    untagged = c.ok(cmd)
    lines = [u for u in untagged if u.startswith(b"* THREAD")]
    assert len(lines) == 1, untagged
    return lines[0][9:].decode()


def test_thread(box):
    assert thread(box, "THREAD REFERENCES UTF-8 ALL") == "(2 1 5)(3 4)"
    assert thread(box, "THREAD ORDEREDSUBJECT UTF-8 ALL") == "(2 1)(5)(3 4)"
    assert thread(box, "UID THREAD REFERENCES UTF-8 ALL") == "(3 2 6)(4 5)"
    # a search that leaves out the middle of a thread
    assert thread(box, "THREAD REFERENCES UTF-8 NOT FROM zed") == "(2 5)(3 4)"
    assert thread(box, "THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing") == ""


def test_sort_thread_errors(box):
    for cmd in ["SORT (FOO) UTF-8 ALL", "SORT () UTF-8 ALL", "SORT (DATE REVERSE) UTF-8 ALL",
                "SORT DATE UTF-8 ALL", "SORT (DATE) UTF-8", "SORT RETURN (FOO) (DATE) UTF-8 ALL",
                "THREAD FOO UTF-8 ALL", "THREAD REFERENCES UTF-8", "SORT (DATE) UTF-8 FROB"]:
        _, tagged = box.cmd(cmd)
        assert tagged.startswith("BAD"), (cmd, tagged)
    for cmd in ["SORT (DATE) KOI8-R ALL", "THREAD REFERENCES ISO-8859-1 ALL"]:
        _, tagged = box.cmd(cmd)
        assert tagged.startswith("NO [BADCHARSET"), (cmd, tagged)
    box.ok("NOOP")


def test_sort_keys_come_from_the_cache(server, box):
    assert sort(box, "SORT (SUBJECT) UTF-8 ALL") == "1 2 3 4 5"
    # change message 5's Subject: on disk, same length: SORT keeps the
    # cached keys, SEARCH (which reads the file) sees the new text
    path = [p for p in server.messages(ALICE) if b"cherries" in open(p, "rb").read()][0]
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data.replace(b"cherries", b"aardvark"))
    assert sort(box, "SORT (SUBJECT) UTF-8 ALL") == "1 2 3 4 5"
    assert box.ok("SEARCH SUBJECT aardvark") == [b"* SEARCH 5"]


def test_imaplib_sort_and_thread(server):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login(ALICE, "secret")
    m.select("INBOX")
    typ, data = m.capability()
    caps = data[0].decode().split()
    for cap in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT"):
        assert cap in caps, (cap, caps)
    typ, data = m.sort("(REVERSE DATE)", "UTF-8", "ALL")
    assert typ == "OK" and data == [b"4 1 3 5 2"], data
    typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK" and data == [b"(2 1 5)(3 4)"], data
    m.logout()


def test_sort_with_modseq(box):
    # RFC 7162 §3.1.5: with a MODSEQ key, the highest mod-sequence follows
    box.ok("STORE 3 +FLAGS (\\Seen)")
    line = [u for u in box.ok("FETCH 3 (MODSEQ)") if b" FETCH " in u][0]
    modseq = int(line.split(b"MODSEQ (")[1].split(b")")[0])
    assert sort(box, f"SORT (DATE) UTF-8 MODSEQ {modseq}") == f"3 (MODSEQ {modseq})"
    assert sort(box, "SORT (DATE) UTF-8 MODSEQ 1").endswith(f"4 (MODSEQ {modseq})")
    line = esearch(box, f"SORT RETURN (COUNT) (DATE) UTF-8 MODSEQ {modseq}")
    assert line.endswith(f"COUNT 1 MODSEQ {modseq}"), line
    assert sort(box, f"SORT (DATE) UTF-8 MODSEQ {modseq + 1}") == ""
