"""IMAP extensions beyond the base protocol, each against a real server
with imaplib and byte-exact: CREATE-SPECIAL-USE (RFC 6154), WITHIN
(RFC 5032), MULTIAPPEND (RFC 3502) and SEARCHRES (RFC 5182)."""

import imaplib
import time

import pytest

from correio_harness import Server
from imap_raw import Imap

ALICE = "alice@example.org"
PLAIN = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"


@pytest.fixture
def server():
    s = Server(extra_config=PLAIN)
    try:
        s.add_user(ALICE)
        s.start()
        yield s
    finally:
        s.cleanup()


def login(server):
    c = Imap(server.imap_port)
    c.ok(f"LOGIN {ALICE} secret")
    return c


def lit(text):
    data = text.replace("\n", "\r\n").encode()
    return b"{%d+}\r\n" % len(data) + data


def capabilities(c):
    line = [u for u in c.ok("CAPABILITY") if u.startswith(b"* CAPABILITY")][0]
    return line.decode().split()[2:]


# ---- CREATE-SPECIAL-USE ----

def test_create_special_use(server):
    c = login(server)
    assert "CREATE-SPECIAL-USE" in capabilities(c)
    c.ok("CREATE Outbox (USE (\\Sent))")
    c.ok("CREATE Bin (use (\\trash))")
    c.ok("CREATE Plain (USE ())")
    listed = c.ok('LIST "" (Outbox Bin Plain)')
    assert b'* LIST (\\HasNoChildren \\Sent) "/" "Outbox"' in listed, listed
    assert b'* LIST (\\HasNoChildren \\Trash) "/" "Bin"' in listed, listed
    assert b'* LIST (\\HasNoChildren) "/" "Plain"' in listed, listed
    listed = c.ok('LIST (SPECIAL-USE) "" *')
    assert any(b'"Outbox"' in u for u in listed) and not any(b'"Plain"' in u for u in listed)
    for cmd in ["CREATE Stars (USE (\\Flagged))", "CREATE Two (USE (\\Sent \\Junk))",
                "CREATE All (USE (\\All))"]:
        _, tagged = c.cmd(cmd)
        assert tagged.startswith("NO [USEATTR]"), (cmd, tagged)
    for cmd in ["CREATE Bad (FOO)", "CREATE Bad (USE \\Sent)", "CREATE Bad (USE (\\Sent) X)"]:
        _, tagged = c.cmd(cmd)
        assert tagged.startswith("BAD"), (cmd, tagged)
    _, tagged = c.cmd("CREATE Outbox (USE (\\Sent))")
    assert tagged.startswith("NO [ALREADYEXISTS]"), tagged
    assert not any(b'"Stars"' in u or b'"Two"' in u for u in c.ok('LIST "" *'))


# ---- WITHIN ----

def test_within(server):
    c = login(server)
    assert "WITHIN" in capabilities(c)
    old = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(time.time() - 2 * 86400))
    c.ok(b'APPEND INBOX "' + old.encode() + b'" ' + lit("Subject: old\n\nx\n"))
    c.ok(b"APPEND INBOX " + lit("Subject: new\n\nx\n"))
    c.ok("SELECT INBOX")
    assert c.ok("SEARCH OLDER 86400") == [b"* SEARCH 1"]
    assert c.ok("SEARCH YOUNGER 86400") == [b"* SEARCH 2"]
    assert c.ok("SEARCH YOUNGER 300000") == [b"* SEARCH 1 2"]
    assert c.ok("SEARCH OLDER 300000") == [b"* SEARCH"]
    assert c.ok("SEARCH NOT OLDER 86400 SUBJECT new") == [b"* SEARCH 2"]
    _, tagged = c.cmd("SEARCH OLDER")
    assert tagged.startswith("BAD"), tagged
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login(ALICE, "secret")
    m.select("INBOX")
    typ, data = m.search(None, "YOUNGER", "3600")
    assert typ == "OK" and data == [b"2"], data
    m.logout()


# ---- MULTIAPPEND ----

def raw_lit(data):
    return b"{%d+}\r\n" % len(data) + data


def test_multiappend(server):
    c = login(server)
    assert "MULTIAPPEND" in capabilities(c)
    m1, m2, m3 = (f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode() for i in (1, 2, 3))
    tagged = c.cmd(b"APPEND INBOX (\\Seen) " + raw_lit(m1) +
                   b' (\\Flagged $Work) "02-Feb-2024 10:00:00 +0000" ' + raw_lit(m2) +
                   b" " + raw_lit(m3))[1]
    assert tagged.startswith("OK [APPENDUID ") and tagged.split()[3] == "1:3]", tagged
    c.ok("SELECT INBOX")
    got = c.ok("FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"m1" in got[0] and b"\\Seen" in got[0]
    assert b"m2" in got[1] and b"\\Flagged $Work" in got[1] and b'"02-Feb-2024' in got[1]
    assert b"m3" in got[2] and b"FLAGS (\\Recent)" in got[2]
    # synchronizing literals: the server asks for each one
    c.sock.sendall(b"s1 APPEND INBOX {%d}\r\n" % len(m1))
    assert c.response().startswith(b"+")
    c.sock.sendall(m1 + b" (\\Draft) {%d}\r\n" % len(m2))
    assert c.response().startswith(b"+")
    c.sock.sendall(m2 + b"\r\n")
    r = c.response()
    while r.startswith(b"*"):
        r = c.response()
    assert r.startswith(b"s1 OK [APPENDUID ") and r.split()[4] == b"4:5]", r
    assert c.ok("SEARCH DRAFT") == [b"* SEARCH 5"]


def test_multiappend_is_all_or_nothing(server):
    c = login(server)
    msg = b"Subject: one\r\n\r\nx\r\n"
    # the second message is too big: neither is kept
    c.sock.sendall(b"t1 APPEND INBOX " + raw_lit(msg) + b" {2000000}\r\n")
    r = c.response()
    assert r.startswith(b"t1 NO [TOOBIG]"), r
    c.n = 1
    # a flag list after the last message is a syntax error: nothing kept
    _, tagged = c.cmd(b"APPEND INBOX " + raw_lit(msg) + b" " + raw_lit(msg) + b" (\\Seen)")
    assert tagged.startswith("BAD"), tagged
    # the second message's date is bad
    _, tagged = c.cmd(b"APPEND INBOX " + raw_lit(msg) + b' "32-Foo-2024" ' + raw_lit(msg))
    assert tagged.startswith("BAD"), tagged
    # no such mailbox for the whole command
    _, tagged = c.cmd(b"APPEND Nowhere " + raw_lit(msg) + b" " + raw_lit(msg))
    assert tagged.startswith("NO [TRYCREATE]"), tagged
    assert b"* 0 EXISTS" in c.ok("SELECT INBOX")
    c.ok("NOOP")


# ---- SEARCHRES ----

def test_searchres(server):
    c = login(server)
    assert "SEARCHRES" in capabilities(c)
    for i in range(1, 7):
        c.ok(b"APPEND INBOX " + lit(f"Subject: s{i}\n\n{'even' if i % 2 == 0 else 'odd'}\n"))
    c.ok("SELECT INBOX")
    # SAVE alone answers nothing untagged; "$" is then a set like any other
    assert c.ok("SEARCH RETURN (SAVE) BODY even") == []
    got = c.ok("FETCH $ (UID)")
    assert [u.split()[1] for u in got] == [b"2", b"4", b"6"], got
    assert c.ok("SEARCH $ SUBJECT s4") == [b"* SEARCH 4"]
    assert c.ok("UID SEARCH UID $") == [b"* SEARCH 2 4 6"]
    c.ok("STORE $ +FLAGS.SILENT (\\Flagged)")
    assert c.ok("SEARCH FLAGGED") == [b"* SEARCH 2 4 6"]
    c.ok("COPY $ INBOX")
    # SAVE with other options: the reply as usual, MIN/MAX keep only those
    line = c.ok("SEARCH RETURN (SAVE MIN MAX) BODY odd")[0].decode()
    assert line.endswith(" MIN 1 MAX 5"), line
    assert c.ok("SEARCH $") == [b"* SEARCH 1 5"]
    line = c.ok("UID SEARCH RETURN (COUNT SAVE) BODY odd")[0].decode()
    assert line.endswith("UID COUNT 3"), line     # 1 3 5: the copies are even
    # an expunged message leaves the saved result
    c.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    assert c.ok("SEARCH $") == [b"* SEARCH 1 4"]
    # SELECT forgets it
    c.ok("SELECT INBOX")
    assert c.ok("SEARCH $") == [b"* SEARCH"]
    assert c.ok("FETCH $ FLAGS") == []
    _, tagged = c.cmd("SEARCH $:4")
    assert tagged.startswith("BAD"), tagged


# ---- CATENATE ----

def body(c, seq):
    got = c.ok(f"FETCH {seq} BODY.PEEK[]")
    return got[0].split(b"}\r\n", 1)[1][:-1]


def test_catenate(server):
    c = login(server)
    assert "CATENATE" in capabilities(c)
    one = b"From: a@example.org\r\nSubject: one\r\n\r\nfirst body\r\n"
    two = b"From: b@example.org\r\n\r\nInner: header\r\n\r\nsecond body"
    c.ok(b"APPEND INBOX (\\Seen) CATENATE (TEXT " + raw_lit(one) + b")")
    c.ok(b"APPEND INBOX CATENATE (TEXT " + raw_lit(two[:10]) + b" TEXT " + raw_lit(two[10:]) + b")")
    c.ok("CREATE Out")
    got = c.ok("SELECT INBOX")
    uidv = [u for u in got if b"UIDVALIDITY" in u][0].split(b"UIDVALIDITY ")[1].split(b"]")[0]
    assert body(c, 1) == one and body(c, 2) == two
    cases = [
        (b'URL "/INBOX/;UID=1/;SECTION=HEADER" TEXT ' + raw_lit(b"new body\r\n"),
         b"From: a@example.org\r\nSubject: one\r\n\r\nnew body\r\n"),
        (b'url "/INBOX;UIDVALIDITY=' + uidv + b'/;uid=2/;section=text" text ' + raw_lit(b"!"),
         b"Inner: header\r\n\r\nsecond body!"),
        (b'URL "/INBOX/;UID=2/;SECTION=1" TEXT ' + raw_lit(b"!"),
         b"Inner: header\r\n\r\nsecond body!"),
        (b"TEXT " + raw_lit(b"Subject: wrapped\r\n\r\n") + b' URL "/INBOX/;UID=1/;SECTION=TEXT"',
         b"Subject: wrapped\r\n\r\nfirst body\r\n"),
        (b'URL "/INBOX/;UID=1/;PARTIAL=0.20" TEXT ' + raw_lit(b"\r\n\r\nx"),
         b"From: a@example.org\r\n\r\nx"),
        (b'URL "/INBOX/;UID=1/;PARTIAL=100000.1" TEXT ' + raw_lit(b"Hdr: x\r\n\r\ny"),
         b"Hdr: x\r\n\r\ny"),
        (b'URL "imap://alice@example.org/INBOX/;UID=1"', one),
    ]
    for parts, _ in cases:
        tagged = c.cmd(b"APPEND Out (\\Flagged) CATENATE (" + parts + b")")[1]
        assert tagged.startswith("OK [APPENDUID "), (parts, tagged)
    c.ok("SELECT Out")
    for i, (parts, want) in enumerate(cases, 1):
        assert body(c, i) == want, (parts, body(c, i))
    assert c.ok("SEARCH FLAGGED") == [b"* SEARCH 1 2 3 4 5 6 7"]
    # CATENATE beside plain literals in one MULTIAPPEND, in order
    tagged = c.cmd(b"APPEND Out " + raw_lit(b"Subject: plain\r\n\r\nx\r\n") +
                   b' CATENATE (URL "/INBOX/;UID=1") (\\Draft) ' + raw_lit(b"Subject: last\r\n\r\ny\r\n"))[1]
    assert tagged.startswith("OK [APPENDUID ") and tagged.split()[3] == "8:10]", tagged
    c.ok("NOOP")
    assert body(c, 9) == one
    assert c.ok("SEARCH DRAFT") == [b"* SEARCH 10"]


def test_catenate_errors(server):
    c = login(server)
    one = b"Subject: one\r\n\r\nbody\r\n"
    c.ok(b"APPEND INBOX " + raw_lit(one))
    c.ok("CREATE Out")
    for parts in [b'URL "/INBOX;UIDVALIDITY=12345/;UID=1/;SECTION=HEADER"',
                  b'TEXT ' + raw_lit(b"a: 1\r\n\r\n") + b' URL "/INBOX/;UID=99"',
                  b'URL "/Nowhere/;UID=1"', b'URL "/INBOX/;UID=1/;SECTION=9"',
                  b'URL "INBOX/;UID=1"']:
        _, tagged = c.cmd(b"APPEND Out CATENATE (" + parts + b")")
        assert tagged.startswith("NO [BADURL"), (parts, tagged)
    # a bad URL drops every message of the command
    _, tagged = c.cmd(b"APPEND Out " + raw_lit(one) + b' CATENATE (URL "/INBOX/;UID=7")')
    assert tagged.startswith("NO [BADURL"), tagged
    _, tagged = c.cmd(b'APPEND Out CATENATE (URL "/INBOX/;UID=7") ' + raw_lit(one))
    assert tagged.startswith("NO [BADURL"), tagged
    for parts in [b"", b"TEXT", b'FOO "x"', b'URL']:
        _, tagged = c.cmd(b"APPEND Out CATENATE (" + parts + b")")
        assert tagged.startswith("BAD"), (parts, tagged)
    _, tagged = c.cmd(b'APPEND Missing CATENATE (URL "/INBOX/;UID=1")')
    assert tagged.startswith("NO [TRYCREATE]"), tagged
    assert b"* 0 EXISTS" in c.ok("SELECT Out")
