"""IMAP details where correio answers as Dovecot does, each one a case
Dovecot's imaptest suite checks: an empty part fetched as a {0} literal,
mailbox names made of every atom character, the MODSEQ of SEARCH RETURN
(MIN/MAX), LIST with several patterns and the LIST-EXTENDED selection and
return options, STORE ... FLAGS NIL, address searches that see through
comments and display names, and LSUB's \\Noselect parents."""

import imaplib

import pytest

from correio_harness import Server
from imap_raw import Imap

ALICE = "alice@example.org"
PLAIN = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"

# every ATOM-CHAR (RFC 9051 §9: CHAR but atom-specials), '/' aside
ATOMS = "".join(chr(c) for c in range(0x21, 0x7f) if chr(c) not in '(){ %*"\\]/')


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


def lit(data):
    if isinstance(data, str):
        data = data.encode()
    return b"{%d+}\r\n" % len(data) + data


def append(c, text, box="INBOX"):
    c.ok(b"APPEND " + box.encode() + b" " + lit(text.replace("\n", "\r\n")))


# ---- FETCH of an empty part ----

EMPTY_PART = """From: a@example.org
Subject: parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

--b
Content-Type: text/plain
Content-Transfer-Encoding: base64

Zm9vYmFy
Yg==
--b--
"""


def test_empty_part_is_a_zero_literal(server):
    c = login(server)
    append(c, EMPTY_PART)
    c.ok("SELECT INBOX")
    assert c.ok("FETCH 1 (BODY.PEEK[1] BINARY.SIZE[1])") == [
        b"* 1 FETCH (BODY[1] {0}\r\n BINARY.SIZE[1] 0)"]
    assert c.ok("FETCH 1 BINARY.PEEK[1]") == [b"* 1 FETCH (BINARY[1] {0}\r\n)"]
    # the decoded size of a base64 part, and the part itself
    assert c.ok("FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])") == [
        b"* 1 FETCH (BINARY.SIZE[2] 7 BINARY[2] {7}\r\nfoobarb)"]
    # imaplib reads the literal as the (empty) part
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login(ALICE, "secret")
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[1])")
    assert typ == "OK" and data[0][1] == b"", data
    m.logout()


# ---- mailbox names of every atom character ----

def test_select_and_create_every_atom_character(server):
    c = login(server)
    # '&' starts no valid modified UTF-7 here: NO, as Dovecot answers
    _, tagged = c.cmd("SELECT " + ATOMS)
    assert tagged.startswith("NO [NONEXISTENT]"), tagged
    _, tagged = c.cmd("EXAMINE " + ATOMS)
    assert tagged.startswith("NO [NONEXISTENT]"), tagged
    _, tagged = c.cmd("CREATE " + ATOMS)
    assert tagged.startswith("NO [CANNOT]"), tagged
    _, tagged = c.cmd(f"STATUS {ATOMS} (MESSAGES)")
    assert tagged.startswith("NO"), tagged
    c.ok("NOOP")
    # the same without '&', or with it encoded, is a name like any other
    for name in (ATOMS.replace("&", ""), ATOMS.replace("&", "&-")):
        _, tagged = c.cmd("SELECT " + name)
        assert tagged.startswith("NO [NONEXISTENT]"), tagged
        c.ok("CREATE " + name)
        assert b"* 0 EXISTS" in c.ok("SELECT " + name)
        c.ok(f"STATUS {name} (MESSAGES)")
        listed = c.ok('LIST "" *')
        assert any(line.endswith(b' "' + name.encode() + b'"') for line in listed), listed
    c.ok("LOGOUT")


# ---- SEARCH RETURN (MIN/MAX) with MODSEQ ----

def modseq_of(c, seq):
    untagged = c.ok(f"FETCH {seq} (MODSEQ)")
    line = [u for u in untagged if b"MODSEQ (" in u][0]
    return int(line.split(b"MODSEQ (")[1].split(b")")[0])


def test_esearch_modseq_is_of_the_returned_messages(server):
    c = login(server)
    for i in range(4):
        append(c, f"Subject: {i}\n\nbody\n")
    c.ok("SELECT INBOX")
    for seq in (1, 3, 2, 4):     # mod-sequences rise in this order
        c.ok(f"STORE {seq} +FLAGS (\\Seen)")
    m1, m2, m3 = modseq_of(c, 1), modseq_of(c, 2), modseq_of(c, 3)
    assert m1 < m3 < m2

    def esearch(cmd):
        untagged = c.ok(cmd)
        line = [u for u in untagged if u.startswith(b"* ESEARCH")]
        assert len(line) == 1, untagged
        return line[0].split(b") ", 1)[1].decode() if b") " in line[0] else ""

    assert esearch('SEARCH RETURN (MIN) 1:3 MODSEQ "/flags/\\\\seen" all 1') == f"MIN 1 MODSEQ {m1}"
    assert esearch('SEARCH RETURN (MAX) 1:3 MODSEQ "/flags/\\\\seen" all 1') == f"MAX 3 MODSEQ {m3}"
    assert esearch("SEARCH RETURN (MIN MAX) 2:3 MODSEQ 1") == f"MIN 2 MAX 3 MODSEQ {m2}"
    assert esearch("SEARCH RETURN () 1:3 MODSEQ 1") == f"ALL 1:3 MODSEQ {m2}"
    assert esearch("SEARCH RETURN (COUNT MIN) 1:3 MODSEQ 1") == f"MIN 1 COUNT 3 MODSEQ {m2}"
    assert esearch(f"SEARCH RETURN (ALL) 2:3 MODSEQ {m2 + 1000}") == ""


# ---- STORE with NIL ----

def test_store_flags_nil_is_an_empty_list(server):
    c = login(server)
    append(c, "Subject: x\n\nbody\n")
    c.ok("SELECT INBOX")
    c.ok("STORE 1 FLAGS (\\Seen \\Flagged)")
    assert c.ok("STORE 1 +FLAGS.SILENT NIL") == []
    untagged = c.ok("STORE 1 +FLAGS NIL")
    assert b"\\Seen" in untagged[0] and b"\\Flagged" in untagged[0]
    untagged = c.ok("STORE 1 FLAGS NIL")
    assert untagged == [b"* 1 FETCH (FLAGS (\\Recent))"]


# ---- address searches ----

ADDRESS_MESSAGES = [
    "From: user-from@domain.org\nTo: user-to@domain.org\nCc: user-cc@domain.org\n"
    "Bcc: user-bcc@domain.org\n\nbody\n",
    "From: RealFrom <user-from@domain.org>\nTo: RealTo <user-to@domain.org>\n"
    "Cc: RealCc <user-cc@domain.org>\nBcc: RealBcc <user-bcc@domain.org>\n\nbody2\n",
    "From: <user-from (comment)@ (comment) domain.org>\nTo: <user-to@domain.org>\n"
    "Cc: <user-cc@domain.org>\nBcc: <user-bcc@domain.org>\n\nbody3\n",
    "From: user-from@domain.org (RealFrom)\nTo: user-to@domain.org (RealTo)\n"
    "Cc: user-cc@domain.org (RealCc)\nBcc: user-bcc@domain.org (RealBcc)\n\nbody4\n",
    "From: user-from1@domain.org, user-from2@domain.org\nCc: user-cc@domain.org\n\nbody5\n",
    "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\n"
    "  groupname2: groupuser3@domain.org;\n\nbody6\n",
]

ADDRESS_CASES = [
    ("FROM user-from@domain.org", [1, 2, 3, 4]),
    ("TO user-to@domain.org", [1, 2, 3, 4]),
    ("CC user-cc@domain.org", [1, 2, 3, 4, 5]),
    ("BCC user-bcc@domain.org", [1, 2, 3, 4]),
    ("FROM realfrom", [2, 4]), ("BCC realbcc", [2, 4]),
    ("FROM ser-fro", [1, 2, 3, 4, 5]), ("FROM ealfro", [2, 4]),
    ("FROM user-from1", [5]), ("FROM user-from2@domain.org", [5]),
    ("TO groupname", [6]), ("TO groupname2", [6]), ("TO groupuser3", [6]),
    ("TO groupuser4", []),
    ('HEADER TO ""', [1, 2, 3, 4, 6]),
]


@pytest.mark.parametrize("keys,expected", ADDRESS_CASES)
def test_search_addresses(server, keys, expected):
    c = login(server)
    for text in ADDRESS_MESSAGES:
        append(c, text)
    c.ok("SELECT INBOX")
    untagged = c.ok("SEARCH " + keys)
    assert untagged == [b"* SEARCH" + b"".join(b" %d" % n for n in expected)], keys


# ---- LIST with several patterns, LIST-EXTENDED ----

def names(untagged, kind=b"LIST"):
    """{name: (attributes line, rest)} of LIST/LSUB responses."""
    out = {}
    for u in untagged:
        assert u.startswith(b"* " + kind + b" "), u
        attrs, rest = u[len(kind) + 3:].split(b") ", 1)
        name = rest.split(b" ", 1)[1]
        extra = b""
        if name.startswith(b'"'):
            end = name.index(b'"', 1)
            name, extra = name[1:end], name[end + 1:].strip()
        out[name.decode()] = (attrs[1:].decode().lower().split() if attrs != b"(" else [],
                              extra.decode())
    return out


@pytest.fixture
def folders(server):
    c = login(server)
    for n in ["box/test1", "box/test2/", "box/test2/test1", "box/test3", "box/test4/test5",
              "box/test4/test52", "box/test6", "box/test7/test7", "box/test8/test8",
              "box/test8/test9"]:
        c.ok("CREATE " + n)
    for n in ["box/test1", "box/test2/test1", "box/test6", "box/test7/test7",
              "box/test8/test8", "box/test8/test9"]:
        c.ok("SUBSCRIBE " + n)
    c.ok("DELETE box/test6")
    yield c
    c.close()


def test_list_several_patterns(folders):
    got = names(folders.ok('LIST "" (box/*2 box/test3)'))
    assert sorted(got) == ["box/test2", "box/test3", "box/test4/test52"]
    got = names(folders.ok('LIST "" (box/test7 box/test7/test7)'))
    assert sorted(got) == ["box/test7", "box/test7/test7"]
    # the delimiter reply, with or without selection options
    for cmd in ['LIST "" ""', 'LIST (SUBSCRIBED) "" ""', 'LIST () "" ""']:
        assert folders.ok(cmd) == [b'* LIST (\\Noselect) "/" ""'], cmd


def test_list_extended_errors(folders):
    for cmd in ['LIST (imaptest) "" ""', 'LIST (RECURSIVEMATCH) "" ""',
                'LIST (RECURSIVEMATCH REMOTE) "" ""', 'LIST "" "" RETURN (imaptest)',
                'LIST "" ()']:
        _, tagged = folders.cmd(cmd)
        assert tagged.startswith("BAD"), (cmd, tagged)
    folders.ok('LIST (REMOTE) "" %')
    folders.ok("NOOP")


def test_list_subscribed_selection(folders):
    got = names(folders.ok('LIST (SUBSCRIBED) "" box/*'))
    assert sorted(got) == ["box/test1", "box/test2/test1", "box/test6", "box/test7/test7",
                           "box/test8/test8", "box/test8/test9"]
    assert all("\\subscribed" in a for a, _ in got.values())
    assert "\\nonexistent" in got["box/test6"][0]
    assert "\\noselect" not in got["box/test6"][0]


def test_list_recursivematch_childinfo(folders):
    got = names(folders.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" box/test2% RETURN (CHILDREN)'))
    assert list(got) == ["box/test2"]
    assert "\\haschildren" in got["box/test2"][0]
    assert got["box/test2"][1].upper() == '("CHILDINFO" ("SUBSCRIBED"))'
    # a subscribed child the pattern matches itself: no CHILDINFO parent
    got = names(folders.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" *test7'))
    assert list(got) == ["box/test7/test7"]
    got = names(folders.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" *test8'))
    assert sorted(got) == ["box/test8", "box/test8/test8"]
    assert got["box/test8"][1].upper() == '("CHILDINFO" ("SUBSCRIBED"))'
    got = names(folders.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" (box/test2 box/test2/test1)'))
    assert list(got) == ["box/test2/test1"]


def test_list_return_subscribed(folders):
    got = names(folders.ok('LIST "" box/% RETURN (CHILDREN SUBSCRIBED)'))
    assert sorted(got) == ["box/test1", "box/test2", "box/test3", "box/test4", "box/test7",
                           "box/test8"]
    assert "\\subscribed" in got["box/test1"][0] and "\\hasnochildren" in got["box/test1"][0]
    assert "\\subscribed" not in got["box/test2"][0]
    assert "\\haschildren" in got["box/test2"][0]


# ---- LSUB \Noselect parents (RFC 3501 §6.3.9) ----

def test_lsub_noselect_parents(server):
    one, two = login(server), login(server)
    for n in ["box/", "box/test", "box/test2/", "box/test3/", "box/test2/test",
              "box/test3/test3"]:
        one.ok("CREATE " + n)
    for n in ["box/test", "box/test2/test", "box/test3/test3"]:
        one.ok("SUBSCRIBE " + n)
    got = names(two.ok('LSUB "" box/%'), b"LSUB")
    assert got == {"box/test": ([], ""), "box/test2": (["\\noselect"], ""),
                   "box/test3": (["\\noselect"], "")}
    got = names(two.ok('LSUB "" *test'), b"LSUB")
    assert got == {"box/test": ([], ""), "box/test2/test": ([], "")}
    got = names(two.ok('LSUB "" box/*'), b"LSUB")
    assert got == {"box/test": ([], ""), "box/test2/test": ([], ""),
                   "box/test3/test3": ([], "")}
    one.ok("UNSUBSCRIBE box/test")
    one.ok("UNSUBSCRIBE box/test2/test")
    got = names(two.ok('LSUB "" box/%'), b"LSUB")
    assert got == {"box/test3": (["\\noselect"], "")}
    one.ok("UNSUBSCRIBE box/test3/test3")
    assert two.ok('LSUB "" box/%') == []
    # imaplib parses the reply
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login(ALICE, "secret")
    one.ok("SUBSCRIBE box/test2/test")
    typ, data = m.lsub('""', "box/%")
    assert typ == "OK" and data == [b'(\\Noselect) "/" "box/test2"'], data
    m.logout()


# ---- sessions racing on one mailbox (imaptest's stress mode) ----

def test_nothing_but_bye_after_logout(server):
    a, b = login(server), login(server)
    for i in range(3):
        append(b, f"Subject: {i}\n\nbody\n")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    b.ok("STORE 2 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    append(b, "Subject: late\n\nbody\n")
    # a has an EXPUNGE, a FETCH and an EXISTS queued: none may follow LOGOUT
    untagged, tagged = a.cmd("LOGOUT")
    assert [u.split(b" ")[1] for u in untagged] == [b"BYE"], untagged
    assert tagged.startswith("OK"), tagged
    # the same in IDLE's company: the updates went out during IDLE, LOGOUT
    # after DONE is answered alone
    c = login(server)
    c.ok("SELECT INBOX")
    tag = c.send("IDLE")
    assert c.response().startswith(b"+")
    b.ok("STORE 1 -FLAGS (\\Flagged)")
    assert b"FETCH" in c.response()
    c.sock.sendall(b"DONE\r\n")
    assert c.response().startswith(tag + b" OK")
    untagged, tagged = c.cmd("LOGOUT")
    assert len(untagged) == 1 and untagged[0].startswith(b"* BYE"), untagged


def recent_uids(c):
    out = set()
    for u in c.ok("FETCH 1:* (UID FLAGS)"):
        if b"\\Recent" in u:
            out.add(int(u.split(b"UID ")[1].split(b" ")[0]))
    return out


@pytest.mark.parametrize("rounds", [3])
def test_recent_goes_to_one_session(server, rounds):
    deliverer = login(server)
    sessions = [login(server) for _ in range(4)]
    for c in sessions:
        c.ok("SELECT INBOX")
    seen = {}
    for r in range(rounds):
        for i in range(3):
            append(deliverer, f"Subject: {r}.{i}\n\nbody\n")
        # the sessions notice the news in a different order each round
        order = sessions[r % 4:] + sessions[:r % 4]
        for c in order:
            untagged = c.ok("NOOP")
            assert any(u.endswith(b" EXISTS") for u in untagged), untagged
        for n, c in enumerate(sessions):
            for uid in recent_uids(c):
                assert uid not in seen or seen[uid] == n, (uid, seen[uid], n)
                seen[uid] = n
            untagged = c.ok("SEARCH RECENT")
            assert len(untagged[0].split()) - 2 == len(recent_uids(c))
    # every message is \Recent in exactly one session
    assert sorted(seen) == list(range(1, 3 * rounds + 1))


def check_keywords_announced(transcript):
    """Every keyword a FETCH shows was named by an earlier FLAGS."""
    known = set()
    for line in transcript:
        if line.startswith(b"* FLAGS ("):
            known = set(line[9:line.index(b")")].split())
        elif b" FETCH (" in line and b"FLAGS (" in line:
            flags = line.split(b"FLAGS (")[1].split(b")")[0].split()
            for f in flags:
                if not f.startswith(b"\\"):
                    assert f in known, (f, line, transcript)


def test_new_keyword_is_announced_before_fetch(server):
    a, b = login(server), login(server)
    append(b, "Subject: k\n\nbody\n")
    append(b, "Subject: k2\n\nbody\n")
    transcript = a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS ($Fresh)")
    # a asks for the flags before it had any news: FLAGS comes first
    untagged = a.ok("FETCH 1 (FLAGS)")
    transcript += untagged
    assert untagged[0].startswith(b"* FLAGS ("), untagged
    assert b"$Fresh" in untagged[0]
    check_keywords_announced(transcript)
    # a STORE of its own on another message, while b adds another keyword
    b.ok("STORE 2 +FLAGS ($Other)")
    untagged = a.ok("STORE 1 +FLAGS (\\Seen)")
    transcript += untagged
    check_keywords_announced(transcript)
    b.ok("STORE 1 +FLAGS ($Third)")
    untagged = a.ok("UID FETCH 1:* (FLAGS)")
    transcript += untagged
    check_keywords_announced(transcript)
    assert any(b"$Third" in u for u in untagged)


def test_list_attributes_as_dovecot_writes_them(folders):
    # \Subscribed first; a name without a folder is \NonExistent with
    # LIST-EXTENDED, \Noselect without
    got = folders.ok('LIST (SUBSCRIBED) "" (box/test6 box/test2/test1)')
    assert got == [b'* LIST (\\Subscribed \\HasNoChildren) "/" "box/test2/test1"',
                   b'* LIST (\\Subscribed \\NonExistent) "/" "box/test6"'], got
    folders.ok("DELETE box/test4")       # its children stay: a name only
    assert folders.ok('LIST "" box/test4') == [b'* LIST (\\Noselect \\HasChildren) "/" "box/test4"']
    assert folders.ok('LIST () "" box/test4') == [
        b'* LIST (\\NonExistent \\HasChildren) "/" "box/test4"']
    got = folders.ok('LIST "" box/test1 RETURN (SUBSCRIBED)')
    assert got == [b'* LIST (\\Subscribed \\HasNoChildren) "/" "box/test1"'], got


def test_list_pattern_cost_is_bounded(server):
    """Wildcards are matched without backtracking: a pattern that a
    backtracking match takes ages over is answered at once, and the other
    sessions are not held up; an over-long pattern is refused."""
    c, other = login(server), login(server)
    c.ok("CREATE " + "a" * 200)
    c.ok("CREATE " + "a" * 199 + "b")
    c.sock.settimeout(5)
    got = c.ok('LIST "" "%s"' % ("*a" * 15 + "*b"))
    assert got == [b'* LIST (\\HasNoChildren) "/" "' + b"a" * 199 + b'b"'], got
    assert c.ok('LIST "" "%s"' % ("%a" * 15 + "%")) != []
    other.ok("NOOP")
    _, tagged = c.cmd('LIST "" "%s"' % ("*" * 2000))
    assert tagged.startswith("BAD"), tagged
    # the usual cases still hold
    assert [u.split(b'"/" ')[1] for u in c.ok('LIST "" inbox')] == [b'"INBOX"']
    assert len(c.ok('LIST "" %')) == len(c.ok('LIST "" *'))


def test_racing_sessions_keep_the_invariants(server):
    """Six clients at once on one INBOX (appends, keyword and \\Deleted
    stores, expunges, fetches, SEARCHRES, SORT, THREAD, COPY $), as
    imaptest's stress mode runs them: no keyword in a FETCH before a FLAGS
    naming it, only BYE after LOGOUT, every command understood."""
    import random
    import threading

    errors = []

    def check(lines, known):
        for line in lines:
            if line.startswith(b"* FLAGS ("):
                known.clear()
                known.update(line[9:line.index(b")")].split())
            elif b" FETCH (" in line and b"FLAGS (" in line:
                for f in line.split(b"FLAGS (")[1].split(b")")[0].split():
                    if not f.startswith(b"\\") and f not in known:
                        errors.append(("keyword before FLAGS", line))

    def client(n):
        rnd = random.Random(n)
        try:
            for _ in range(3):
                c = login(server)
                known = set()
                check(c.ok("SELECT INBOX"), known)
                for _ in range(15):
                    op = rnd.randrange(9)
                    if op == 0:
                        msg = (f"Subject: {rnd.choice(['a', 'Re: a', 'b'])}\r\n"
                               f"Message-ID: <{n}.{rnd.randrange(30)}@x>\r\n"
                               f"References: <{rnd.randrange(6)}.{rnd.randrange(30)}@x>\r\n"
                               "\r\nbody\r\n").encode()
                        cmds = [b"APPEND INBOX " + lit(msg)]
                    elif op == 1:
                        cmds = [f"STORE 1:{rnd.randint(1, 4)} +FLAGS ($k{rnd.randrange(12)})"]
                    elif op == 2:
                        cmds = [f"STORE {rnd.randint(1, 4)} +FLAGS (\\Deleted)", "EXPUNGE"]
                    else:
                        cmds = [["FETCH 1:* (UID FLAGS)", "SEARCH RETURN (SAVE MIN) ALL",
                                 "SORT (REVERSE SUBJECT DATE) UTF-8 ALL",
                                 "THREAD REFERENCES UTF-8 ALL", "COPY $ INBOX",
                                 "NOOP"][op - 3]]
                    for cmd in cmds:
                        untagged, tagged = c.cmd(cmd)
                        check(untagged, known)
                        if tagged.startswith("BAD"):
                            errors.append((cmd, tagged))
                untagged, tagged = c.cmd("LOGOUT")
                if len(untagged) != 1 or not untagged[0].startswith(b"* BYE"):
                    errors.append(("after LOGOUT", untagged))
                c.close()
        except Exception as e:      # a closed or stuck connection
            errors.append(("client", n, repr(e)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [], errors[:5]
    login(server).ok("NOOP")


# ---- APPEND of binary content (RFC 3516) ----

BINARY_CONTENT = b"a\x00b\nc\rd"     # NUL, bare LF, bare CR: 7 bytes

BINARY_MSG = (b"From: a@example.org\r\n"
              b"Subject: binary\r\n"
              b"MIME-Version: 1.0\r\n"
              b"Content-Type: multipart/mixed; boundary=\"b\"\r\n"
              b"\r\n"
              b"--b\r\n"
              b"Content-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: binary\r\n"
              b"\r\n" + BINARY_CONTENT + b"\r\n"
              b"--b\r\n"
              b"Content-Type: text/plain\r\n"
              b"\r\n"
              b"plain text\r\n"
              b"--b--\r\n")

PLAIN_MSG = (b"From: a@example.org\r\nSubject: plain\r\n"
             b"Content-Transfer-Encoding: 8bit\r\n\r\n"
             b"caf\xc3\xa9\r\n\r\n  spaced  \r\n.\r\nend\r\n")


def lit8(data):
    return b"~{%d+}\r\n" % len(data) + data


def check_binary_part(c, seq):
    r = c.ok(f"FETCH {seq} (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[2])")
    assert r == [b"* %d FETCH (BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n" % seq + BINARY_CONTENT +
                 b" BINARY[2] {10}\r\nplain text)"], r
    # the stored form is what BODY[] and RFC822.SIZE report, consistently
    r = c.ok(f"FETCH {seq} (RFC822.SIZE BODY.PEEK[] BODY.PEEK[1.MIME])")
    head, body = r[0].split(b"BODY[] {", 1)
    size = int(head.split(b"RFC822.SIZE ")[1].split()[0])
    n = int(body.split(b"}", 1)[0])
    assert size == n
    assert b"Content-Transfer-Encoding: base64" in r[0]
    assert b"Content-Transfer-Encoding: binary" not in r[0]


def test_append_binary_part_comes_back_exactly(server):
    c = login(server)
    c.ok(b"APPEND INBOX " + lit8(BINARY_MSG))
    c.ok(b"APPEND INBOX " + lit(PLAIN_MSG))
    # MULTIAPPEND: a plain message, then a binary one
    c.ok(b"APPEND INBOX " + lit(PLAIN_MSG) + b" " + lit8(BINARY_MSG))
    # CATENATE: the binary part cut in two TEXT pieces
    cut = BINARY_MSG.index(b"\x00") + 2
    c.ok(b"APPEND INBOX CATENATE (TEXT " + lit8(BINARY_MSG[:cut]) +
         b" TEXT " + lit8(BINARY_MSG[cut:]) + b")")
    c.ok("SELECT INBOX")
    for seq in (1, 4, 5):
        check_binary_part(c, seq)
    # a message without binary content is stored byte for byte
    for seq in (2, 3):
        r = c.ok(f"FETCH {seq} (RFC822.SIZE BODY.PEEK[])")
        assert r == [b"* %d FETCH (RFC822.SIZE %d BODY[] {%d}\r\n" %
                     (seq, len(PLAIN_MSG), len(PLAIN_MSG)) + PLAIN_MSG + b")"], r
    # imaplib sees the same bytes
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login(ALICE, "secret")
    m.select("INBOX")
    typ, data = m.fetch("1", "(BINARY.PEEK[1])")
    assert typ == "OK" and data[0][1] == BINARY_CONTENT, data
    m.logout()
