"""IMAP SEARCH, STORE, COPY and MOVE against a real server: search keys on
flags, sizes, dates and decoded text (base64 and quoted-printable bodies,
RFC 2047 headers, other charsets, case folding beyond ASCII), ESEARCH,
flag changes seen by FETCH, by other sessions and on disk, COPYUID, the
exact untagged responses of MOVE, TRYCREATE, READ-ONLY and OVERQUOTA."""

import base64
import glob
import imaplib
import os
import re
import time

import pytest

from correio_harness import Server
from imap_raw import Imap

ALICE = "alice@example.org"
CAROL = "carol@example.org"
PLAIN = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"


def b64(text):
    return base64.encodebytes(text.encode()).decode()


# 1: plain ASCII, \Seen
M1 = """From: Alice <alice@example.org>
To: Bob <bob@example.org>
Subject: Hello world
Date: Mon, 7 Feb 1994 21:52:25 -0800
Message-ID: <m1@example.org>

The quick brown fox jumps over the lazy dog.
"""
# 2: RFC 2047 From and Subject, a base64 UTF-8 text part and a binary
#    attachment; \Flagged $Work
M2 = f"""From: =?ISO-8859-1?Q?Jo=E3o?= <joao@example.org>
To: alice@example.org
Subject: =?UTF-8?B?{base64.b64encode("Relatório de Ação".encode()).decode()}?=
Date: Fri, 1 Mar 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64("Olá, café com pão.")}
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

{b64("zebra-in-attachment")}
--b--
"""
# 3: quoted-printable Latin-1, Cc, X-Spam-Flag, large; \Answered \Deleted
M3 = """From: Carla <carla@example.org>
To: alice@example.org
Cc: Carol <carol@example.org>
Subject: Relatorio mensal
Date: Sat, 2 Mar 2024 23:30:00 -0500
X-Spam-Flag: YES
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Ol=E1 mundo, isto =E9 um teste.
""" + ("padding " * 9 + "\n") * 40
# 4: an embedded message; \Draft
M4 = """From: Dan <dan@example.org>
To: alice@example.org
Subject: Fwd: something
Date: 10 Mar 2024 08:00:00 +0000
MIME-Version: 1.0
Content-Type: message/rfc822

From: Eve <eve@example.org>
Subject: inner secret

needle inside
"""
# 5: no Date:, Bcc
M5 = """From: Frank <frank@example.org>
Subject: no date here
Bcc: hidden@example.org

plain body
"""

MESSAGES = [
    (M1, r"(\Seen)", '"17-Jul-1996 02:44:25 -0700"'),
    (M2, r"(\Flagged $Work)", '"01-Mar-2024 10:00:00 +0000"'),
    (M3, r"(\Answered \Deleted)", '"03-Mar-2024 12:00:00 +0000"'),
    (M4, r"(\Draft)", '"10-Mar-2024 08:00:00 +0000"'),
    (M5, None, '"20-Mar-2024 00:00:00 +0000"'),
]


def wire(text):
    return text.replace("\n", "\r\n").encode()


def lit(text):
    """A LITERAL+ literal of text in UTF-8."""
    data = text.encode()
    return b"{%d+}\r\n" % len(data) + data


def append_all(server, user=ALICE):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    m.login(user, "secret")
    for text, flags, date in MESSAGES:
        typ, data = m.append("INBOX", flags, date, wire(text))
        assert typ == "OK", data
    m.select("INBOX")      # claims \Recent: the sessions below see none
    m.logout()


def login(server, user=ALICE):
    c = Imap(server.imap_port)
    c.ok(f"LOGIN {user} secret")
    return c


def need_commands(server):
    c = login(server)
    _, tagged = c.cmd("SEARCH ALL")
    c.close()
    assert "unknown command" not in tagged, "SEARCH is not implemented"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    s = Server(extra_config=PLAIN)
    try:
        s.add_user(ALICE)
        s.add_user(CAROL, "secret", "--quota", "2k")
        s.start()
        need_commands(s)
        append_all(s)
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def box(server):
    c = login(server)
    c.ok("SELECT INBOX")
    yield c
    c.close()


def search(c, keys):
    """The numbers of "* SEARCH" for SEARCH keys (str or bytes)."""
    if isinstance(keys, str):
        keys = keys.encode()
    untagged, tagged = c.cmd(b"SEARCH " + keys)
    assert tagged.startswith("OK"), (keys, tagged)
    lines = [u for u in untagged if u.startswith(b"* SEARCH")]
    assert len(lines) == 1, untagged
    return [int(x) for x in lines[0].split()[2:]]


# ---- SEARCH ----

ALL = [1, 2, 3, 4, 5]

KEY_CASES = [
    ("ALL", ALL),
    ("SEEN", [1]), ("UNSEEN", [2, 3, 4, 5]),
    ("FLAGGED", [2]), ("UNFLAGGED", [1, 3, 4, 5]),
    ("ANSWERED", [3]), ("UNANSWERED", [1, 2, 4, 5]),
    ("DELETED", [3]), ("UNDELETED", [1, 2, 4, 5]),
    ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5]),
    ("KEYWORD $Work", [2]), ("keyword $work", [2]), ("UNKEYWORD $Work", [1, 3, 4, 5]),
    ("KEYWORD $Nothing", []), ("UNKEYWORD $Nothing", ALL),
    ("KEYWORD \\Seen", [1]),
    ("RECENT", []), ("NEW", []), ("OLD", ALL),
    ("FROM alice", [1]), ("FROM JOAO@EXAMPLE", [2]), ("TO bob", [1]),
    ("CC carol", [3]), ("BCC hidden", [5]),
    ("SUBJECT relatorio", [3]), ("SUBJECT \"hello WORLD\"", [1]),
    ("HEADER X-Spam-Flag yes", [3]), ('HEADER x-spam-flag ""', [3]),
    ('HEADER Message-ID ""', [1]), ("HEADER Subject inner", []),
    ("BODY quick", [1]), ("BODY \"LAZY DOG\"", [1]),
    ("BODY zebra", []),                  # an attachment is not text
    ("BODY alice", []),                  # the message's own header is not body
    ("TEXT alice", [1, 2, 3, 4]),
    ("BODY \"inner secret\"", [4]),      # an embedded message's header is
    ("BODY needle", [4]), ("SUBJECT secret", []),
    ("TEXT x-spam-flag", [3]), ("TEXT \"plain body\"", [5]),
    ("LARGER 2000", [3]), ("SMALLER 2000", [1, 2, 4, 5]),
    ("BEFORE 1-Mar-2024", [1]), ("ON 1-Mar-2024", [2]), ("ON 17-Jul-1996", [1]),
    ("SINCE 3-Mar-2024", [3, 4, 5]), ('SINCE "10-mar-2024"', [4, 5]),
    ("SENTON 7-Feb-1994", [1]),          # its own zone: 8 Feb in UTC
    ("SENTON 8-Feb-1994", []), ("SENTON 2-Mar-2024", [3]),
    ("SENTBEFORE 2-Mar-2024", [1, 2]), ("SENTSINCE 2-Mar-2024", [3, 4]),
    ("NOT SENTSINCE 2-Mar-2024", [1, 2, 5]),
    ("2:3", [2, 3]), ("*", [5]), ("5:*", [5]), ("1,4:5", [1, 4, 5]),
    ("UID 4:*", [4, 5]), ("UID 2,9", [2]),
    ("OR SEEN FLAGGED", [1, 2]), ("NOT SEEN", [2, 3, 4, 5]),
    ("(SEEN) (UNFLAGGED)", [1]), ("OR (FROM alice SEEN) (DRAFT)", [1, 4]),
    ("NOT (OR SEEN DELETED)", [2, 4, 5]), ("OR OR SEEN DRAFT 5", [1, 4, 5]),
    ("CHARSET UTF-8 SEEN", [1]), ("CHARSET us-ascii SEEN", [1]),
]


def test_search_keys(box):
    for keys, want in KEY_CASES:
        assert search(box, keys) == want, keys


DECODED_CASES = [
    # RFC 2047 (B, UTF-8) subject, case folded beyond ASCII
    (b"SUBJECT " + lit("relatório"), [2]),
    (b"SUBJECT " + lit("AÇÃO"), [2]),
    (b"CHARSET UTF-8 SUBJECT " + lit("Relatório de Ação"), [2]),
    # RFC 2047 (Q, ISO-8859-1) From
    (b"FROM " + lit("joão"), [2]),
    (b"FROM " + lit("JOÃO"), [2]),
    # base64 UTF-8 body
    (b"BODY " + lit("café com pão"), [2]),
    (b"BODY " + lit("CAFÉ"), [2]),
    (b"TEXT " + lit("olá"), [2, 3]),
    # quoted-printable ISO-8859-1 body
    (b"BODY " + lit("olá mundo, isto é um teste"), [3]),
    (b"BODY " + lit("mundo, isto e"), []),
]


def test_search_decoded_text(box):
    for keys, want in DECODED_CASES:
        assert search(box, keys) == want, keys


def test_uid_search(server, box):
    # make UIDs and sequence numbers differ
    box.ok("UID MOVE 2 Archive")
    assert search(box, "ALL") == [1, 2, 3, 4]
    untagged, tagged = box.cmd("UID SEARCH ALL")
    assert untagged == [b"* SEARCH 1 3 4 5"] and tagged.startswith("OK")
    untagged, _ = box.cmd("UID SEARCH 2:3")
    assert untagged == [b"* SEARCH 3 4"]
    untagged, _ = box.cmd("UID SEARCH UID 3:* NOT DRAFT")
    assert untagged == [b"* SEARCH 3 5"]
    untagged, _ = box.cmd("SEARCH UID 3")
    assert untagged == [b"* SEARCH 2"]


def test_search_recent(box):
    box.ok(b"APPEND INBOX " + lit("Subject: late\r\n\r\nnew one\r\n"))
    assert search(box, "RECENT") == [6]
    assert search(box, "NEW") == [6]
    assert search(box, "OLD") == ALL
    box.ok("STORE 6 +FLAGS (\\Seen)")
    assert search(box, "NEW") == []


def test_search_errors(box):
    _, tagged = box.cmd("SEARCH CHARSET ISO-8859-1 SEEN")
    assert tagged.startswith("NO [BADCHARSET (UTF-8 US-ASCII)]"), tagged
    for bad in ["SEARCH", "SEARCH FOO", "SEARCH BEFORE yesterday", "SEARCH FROM",
                "SEARCH RETURN (PARTIAL 1:5) ALL", "SEARCH OR SEEN", "SEARCH ()",
                "SEARCH LARGER -1", "SEARCH UID x", "SEARCH CHARSET"]:
        untagged, tagged = box.cmd(bad)
        assert tagged.startswith("BAD") and untagged == [], (bad, tagged)
    assert search(box, "SEEN") == [1]       # the session goes on


def test_esearch(box):
    def es(keys):
        untagged, tagged = box.cmd(keys)
        assert tagged.startswith("OK"), tagged
        assert len(untagged) == 1, untagged
        return untagged[0].decode()

    assert es("SEARCH RETURN (MIN MAX ALL COUNT) UNSEEN") == \
        f'* ESEARCH (TAG "{box.tag}") MIN 2 MAX 5 ALL 2:5 COUNT 4'
    assert es("SEARCH RETURN () OR SEEN DRAFT") == f'* ESEARCH (TAG "{box.tag}") ALL 1,4'
    assert es("UID SEARCH RETURN (COUNT) ALL") == f'* ESEARCH (TAG "{box.tag}") UID COUNT 5'
    assert es("SEARCH RETURN (MIN MAX) KEYWORD $Nothing") == f'* ESEARCH (TAG "{box.tag}")'
    assert es("SEARCH RETURN (COUNT) KEYWORD $Nothing") == \
        f'* ESEARCH (TAG "{box.tag}") COUNT 0'
    assert es("SEARCH RETURN (MAX) CHARSET UTF-8 NOT DELETED") == \
        f'* ESEARCH (TAG "{box.tag}") MAX 5'
    # IMAP4rev2 answers every SEARCH with ESEARCH
    box.ok("ENABLE IMAP4rev2")
    assert es("SEARCH SEEN") == f'* ESEARCH (TAG "{box.tag}") ALL 1'
    assert es("UID SEARCH 3:*") == f'* ESEARCH (TAG "{box.tag}") UID ALL 3:5'
    assert es("SEARCH DRAFT FLAGGED") == f'* ESEARCH (TAG "{box.tag}")'


def test_search_imaplib(server):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    m.login(ALICE, "secret")
    m.select("INBOX")
    assert m.search(None, "UNSEEN") == ("OK", [b"2 3 4 5"])
    m.literal = "café".encode()
    assert m.search("UTF-8", "BODY") == ("OK", [b"2"])
    assert m.uid("SEARCH", "FROM", "alice") == ("OK", [b"1"])
    m.logout()


# ---- STORE ----

def test_store_flags(server, box):
    assert box.ok("STORE 1 +FLAGS (\\Flagged)") == [b"* 1 FETCH (FLAGS (\\Seen \\Flagged))"]
    assert box.ok("STORE 1 -FLAGS (\\Seen)") == [b"* 1 FETCH (FLAGS (\\Flagged))"]
    # a new keyword is announced before its first use
    assert box.ok("STORE 1 FLAGS (\\Answered $Label1)") == [
        b"* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work $Label1)",
        b"* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work $Label1 \\*)]"
        b" flags permitted",
        b"* 1 FETCH (FLAGS (\\Answered $Label1))"]
    assert box.ok("STORE 1 +FLAGS \\Draft \\Flagged") == \
        [b"* 1 FETCH (FLAGS (\\Answered \\Flagged \\Draft $Label1))"]
    assert box.ok("STORE 1:2 +FLAGS.SILENT (\\Seen)") == []
    assert box.ok("UID STORE 2 +FLAGS (\\Deleted)") == \
        [b"* 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged \\Deleted $Work))"]
    assert box.ok("STORE 2 -FLAGS.SILENT ($Work $Unknown)") == []
    assert box.ok("FETCH 1:2 FLAGS") == [
        b"* 1 FETCH (FLAGS (\\Seen \\Answered \\Flagged \\Draft $Label1))",
        b"* 2 FETCH (FLAGS (\\Seen \\Flagged \\Deleted))"]
    assert box.ok("STORE 3:4 FLAGS ()") == [b"* 3 FETCH (FLAGS ())", b"* 4 FETCH (FLAGS ())"]
    assert search(box, "KEYWORD $Label1") == [1]
    assert search(box, "UNSEEN") == [3, 4, 5]
    # on disk: the Maildir flag letters (keywords as a-z), once the
    # store's worker has renamed the files (the index changed at once)
    deadline = time.monotonic() + 10
    while True:
        names = sorted(os.path.basename(p) for p in
                       glob.glob(os.path.join(server.maildir(ALICE), "cur", "*")))
        flags = {int(re.search(r",U=(\d+)", n).group(1)): n.split(":2,")[1] for n in names}
        if (flags[1].startswith("DFRS") and flags[2] == "FST" and flags[3] == "" and
                flags[4] == "") or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert flags[1].startswith("DFRS") and re.fullmatch(r"DFRS[a-z]", flags[1]), flags
    assert flags[2] == "FST" and flags[3] == "" and flags[4] == "", flags


def test_store_errors(server, box):
    for bad in ["STORE 1 +FLAGS (\\Recent)", "STORE 1 FLAGS \\Seen \\Recent",
                "STORE 1 +FLAGS (\\Bogus)", "STORE 1 XFLAGS (\\Seen)",
                "STORE 1 +FLAGS.LOUD (\\Seen)", "STORE 1 +FLAGS", "STORE 1",
                "STORE x +FLAGS (\\Seen)", "STORE 1 +FLAGS (\\Seen) (\\Flagged)"]:
        untagged, tagged = box.cmd(bad)
        assert tagged.startswith("BAD") and untagged == [], (bad, tagged)
    # nothing in the set: nothing to say
    assert box.ok("UID STORE 99 +FLAGS (\\Seen)") == []
    assert search(box, "SEEN") == [1]
    # EXAMINE: read-only
    c = login(server)
    c.ok("EXAMINE INBOX")
    untagged, tagged = c.cmd("STORE 1 +FLAGS (\\Seen)")
    assert tagged.startswith("NO [READ-ONLY]") and untagged == [], tagged
    c.close()


def test_store_keyword_limit(box):
    # $Work exists; 25 more fill the 26 Maildir letters
    box.ok("STORE 5 +FLAGS (" + " ".join(f"k{i}" for i in range(25)) + ")")
    untagged, tagged = box.cmd("STORE 5 +FLAGS (k25)")
    assert tagged.startswith("NO [LIMIT]") and untagged == [], tagged
    # removing an unknown keyword is no error
    box.ok("STORE 5 -FLAGS (k25)")
    assert search(box, "KEYWORD k24") == [5]


def test_store_seen_by_other_session(server, box):
    other = login(server)
    other.ok("SELECT INBOX")
    box.ok("STORE 3 +FLAGS.SILENT (\\Flagged)")
    untagged = other.ok("NOOP")
    assert b"* 3 FETCH (UID 3 FLAGS (\\Answered \\Flagged \\Deleted))" in untagged, untagged
    other.close()


# ---- COPY and MOVE ----

def uidvalidity(c, name):
    untagged = c.ok(f"STATUS {name} (UIDVALIDITY)")
    return int(re.search(rb"UIDVALIDITY (\d+)", untagged[0]).group(1))


def test_copy(server, box):
    v = uidvalidity(box, "Archive")
    untagged, tagged = box.cmd("COPY 1:2 Archive")
    assert untagged == [] and tagged == f"OK [COPYUID {v} 1:2 1:2] COPY completed", tagged
    untagged, tagged = box.cmd("COPY 1,3 Archive")
    assert tagged == f"OK [COPYUID {v} 1,3 3:4] COPY completed", tagged
    untagged, tagged = box.cmd("UID COPY 5 Archive")
    assert tagged == f"OK [COPYUID {v} 5 5] UID COPY completed", tagged
    untagged, tagged = box.cmd("COPY 1 Nope")
    assert tagged.startswith("NO [TRYCREATE]") and untagged == [], tagged
    untagged, tagged = box.cmd("UID COPY 99 Nope")
    assert tagged.startswith("NO [TRYCREATE]"), tagged
    for bad in ["COPY 1", "COPY x Archive", "COPY 1 Archive extra", "COPY 1 &Jjo"]:
        _, tagged = box.cmd(bad)
        assert tagged.startswith("BAD"), (bad, tagged)
    assert search(box, "ALL") == ALL                 # the source keeps them
    box.ok("SELECT Archive")                         # copies are \\Recent there
    assert box.ok("FETCH 1:5 FLAGS") == [
        b"* 1 FETCH (FLAGS (\\Seen \\Recent))",
        b"* 2 FETCH (FLAGS (\\Flagged $Work \\Recent))",
        b"* 3 FETCH (FLAGS (\\Seen \\Recent))",
        b"* 4 FETCH (FLAGS (\\Answered \\Deleted \\Recent))",
        b"* 5 FETCH (FLAGS (\\Recent))"]
    assert search(box, b"BODY " + lit("café")) == [2]


def test_move(server, box):
    watcher = login(server)
    watcher.ok("SELECT INBOX")
    v = uidvalidity(box, "Trash")
    untagged, tagged = box.cmd("MOVE 2:3 Trash")
    assert untagged == [f"* OK [COPYUID {v} 2:3 1:2] moved".encode(),
                        b"* 3 EXPUNGE", b"* 2 EXPUNGE"], untagged
    assert tagged == "OK MOVE completed", tagged
    assert search(box, "ALL") == [1, 2, 3]
    untagged, _ = box.cmd("UID SEARCH ALL")
    assert untagged == [b"* SEARCH 1 4 5"]
    untagged, tagged = box.cmd("UID MOVE 4:5 Trash")
    assert untagged == [f"* OK [COPYUID {v} 4:5 3:4] moved".encode(),
                        b"* 3 EXPUNGE", b"* 2 EXPUNGE"], untagged
    assert tagged == "OK UID MOVE completed", tagged
    # nothing to move: no untagged response
    assert box.ok("UID MOVE 99 Trash") == []
    untagged, tagged = box.cmd("MOVE 1 Nope")
    assert tagged.startswith("NO [TRYCREATE]") and untagged == [], tagged
    assert search(box, "ALL") == [1]
    # another session hears of the expunges
    untagged = watcher.ok("NOOP")
    assert untagged == [b"* 2 EXPUNGE"] * 4, untagged
    assert search(watcher, "ALL") == [1]
    watcher.close()
    # the messages are in Trash, flags and text with them
    untagged = box.ok("SELECT Trash")
    assert b"* 4 EXISTS" in untagged
    assert search(box, "FLAGGED KEYWORD $Work") == [1]
    assert search(box, b"BODY " + lit("pão")) == [1]
    assert search(box, "DELETED") == [2]


def test_move_into_same_mailbox(server, box):
    v = uidvalidity(box, "INBOX")
    untagged, tagged = box.cmd("MOVE 1 INBOX")
    # the copy is new in the mailbox: \Recent for this IMAP4rev1 session
    assert untagged == [f"* OK [COPYUID {v} 1 6] moved".encode(),
                        b"* 1 EXPUNGE", b"* 5 EXISTS", b"* 1 RECENT"], untagged
    assert tagged.startswith("OK")
    untagged, _ = box.cmd("UID SEARCH SEEN")
    assert untagged == [b"* SEARCH 6"]


def test_move_read_only(server):
    c = login(server)
    c.ok("EXAMINE INBOX")
    untagged, tagged = c.cmd("MOVE 1 Trash")
    assert tagged.startswith("NO [READ-ONLY]") and untagged == [], tagged
    untagged, tagged = c.cmd("COPY 1 Trash")
    assert tagged.startswith("OK [COPYUID "), tagged
    assert search(c, "ALL") == ALL
    c.close()


def test_copy_folder_names(server, box):
    box.ok("CREATE Caf&AOk-")                        # "Café", modified UTF-7
    v = uidvalidity(box, "Caf&AOk-")
    _, tagged = box.cmd("COPY 2 Caf&AOk-")
    assert tagged == f"OK [COPYUID {v} 2 1] COPY completed", tagged
    box.ok("ENABLE UTF8=ACCEPT")
    _, tagged = box.cmd(b"COPY 3 " + lit("Café"))
    assert tagged == f"OK [COPYUID {v} 3 2] COPY completed", tagged
    untagged = box.ok(b"STATUS " + lit("Café") + b" (MESSAGES)")
    assert untagged[0].endswith(b"(MESSAGES 2)"), untagged


def test_quota_commands(server):
    """RFC 9208 through imaplib's own GETQUOTAROOT, GETQUOTA, SETQUOTA."""
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    m.login(CAROL, "secret")
    typ, data = m.capability()
    assert b"QUOTA" in data[0].split() and b"QUOTA=RES-STORAGE" in data[0].split()
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and data == [[b'"INBOX" ""'], [b'"" (STORAGE 0 2)']], data
    typ, data = m.append("INBOX", "(\\Deleted)", None,
                         b"Subject: half\r\n\r\n" + b"z" * 1200 + b"\r\n")
    assert typ == "OK", data
    typ, data = m.getquota('""')
    assert typ == "OK" and data == [b'"" (STORAGE 2 2)'], data     # 1,224 bytes: 2 KiB
    typ, data = m.status("INBOX", "(DELETED DELETED-STORAGE)")
    assert typ == "OK" and b"(DELETED 1 DELETED-STORAGE 2)" in data[0], data
    typ, data = m.setquota('""', "(STORAGE 100)")
    assert typ == "NO" and b"[NOPERM]" in data[0], data
    typ, data = m.getquota("other")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data
    typ, data = m.getquotaroot("No/Such")
    assert typ == "NO", data
    m.logout()
    # an account without a quota has no quota root
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    m.login(ALICE, "secret")
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and data == [[b'"INBOX"'], [None]], data   # no QUOTA line
    m.logout()


def test_copy_over_quota(server):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    m.login(CAROL, "secret")
    typ, data = m.append("INBOX", None, None,
                         b"Subject: half\r\n\r\n" + b"z" * 1200 + b"\r\n")
    assert typ == "OK", data
    m.logout()
    c = login(server, CAROL)
    c.ok("SELECT INBOX")
    untagged, tagged = c.cmd("COPY 1 Archive")
    assert tagged.startswith("NO [OVERQUOTA]") and untagged == [], tagged
    # a move adds nothing to the account
    untagged, tagged = c.cmd("MOVE 1 Archive")
    assert tagged.startswith("OK"), tagged
    assert untagged[-1] == b"* 1 EXPUNGE", untagged
    c.close()
