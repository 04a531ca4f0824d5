"""IMAP CONDSTORE (RFC 7162 §3.1) against a real server: HIGHESTMODSEQ on
SELECT and in STATUS, the commands that turn CONDSTORE on, FETCH MODSEQ and
CHANGEDSINCE, conditional STORE with UNCHANGEDSINCE and [MODIFIED], MODSEQ
in the FETCH responses of STORE (.SILENT too) and of another session's
changes, the MODSEQ search key in SEARCH and ESEARCH, mod-sequences kept
across a restart; and imaplib driving it as a client library would."""

import imaplib
import re

import pytest

from test_imap import ALICE, BIG, PLAIN, Imap, _server, msg

CAP = "CONDSTORE"


@pytest.fixture
def srv():
    s = _server(PLAIN + BIG)
    yield s
    s.cleanup()


def fill(srv, n=3):
    with Imap(srv.imap_port) as c:
        c.login()
        for i in range(n):
            c.append_ok("INBOX", msg(f"condstore {i}", body=f"Body {i}."))


def highest(untagged):
    for line in untagged:
        if m := re.match(r"\* OK \[HIGHESTMODSEQ (\d+)\]", line):
            return int(m.group(1))
    raise AssertionError(f"no HIGHESTMODSEQ in {untagged!r}")


def modseqs(untagged):
    """{uid or seq: modseq} of the FETCH responses."""
    out = {}
    for line in untagged:
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", line)
        if not m:
            continue
        ms = re.search(r"MODSEQ \((\d+)\)", m.group(2))
        uid = re.search(r"UID (\d+)", m.group(2))
        out[int(uid.group(1)) if uid else int(m.group(1))] = int(ms.group(1)) if ms else None
    return out


def refused(c, *commands):
    """Each command gets BAD."""
    for text in commands:
        _, tagged = c.cmd(text)
        assert " BAD " in tagged, (text, tagged)


def test_advertised_and_enabled(srv):
    with Imap(srv.imap_port) as c:
        c.login()
        caps = " ".join(c.ok("CAPABILITY"))
        assert CAP in caps.split()
        assert c.ok("ENABLE CONDSTORE") == ["* ENABLED CONDSTORE"]
        # enabling twice answers an empty ENABLED
        assert c.ok("ENABLE CONDSTORE") == ["* ENABLED"]


def test_select_reports_highestmodseq(srv):
    fill(srv)
    with Imap(srv.imap_port) as c:
        c.login()
        plain = highest(c.ok("SELECT INBOX"))
        assert plain >= 1
        untagged = c.ok("SELECT INBOX (CONDSTORE)")
        assert highest(untagged) == plain
        # a select parameter we do not know is refused
        refused(c, "SELECT INBOX (QRESYNC (1 2))", "EXAMINE INBOX (CONDSTORE) extra")


def test_fetch_modseq_and_changedsince(srv):
    fill(srv, 4)
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("SELECT INBOX")
        # FETCH without CONDSTORE: no MODSEQ
        assert "MODSEQ" not in " ".join(c.ok("FETCH 1 (FLAGS)"))
        first = modseqs(c.ok("UID FETCH 1:* (MODSEQ)"))
        assert sorted(first) == [1, 2, 3, 4] and all(v >= 1 for v in first.values())
        base = max(first.values())
        # now on: FLAGS carries MODSEQ
        lines = c.ok("FETCH 2 (FLAGS)")
        assert re.match(r"\* 2 FETCH \(FLAGS \(.*\) MODSEQ \(\d+\)\)$", lines[0]), lines
        # change two messages; CHANGEDSINCE shows just them, MODSEQ included
        c.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
        c.ok("STORE 4 +FLAGS.SILENT ($Work)")
        changed = modseqs(c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base})"))
        assert sorted(changed) == [2, 4], changed
        assert all(v > base for v in changed.values())
        assert modseqs(c.ok(f"FETCH 1:* (UID) (CHANGEDSINCE {max(changed.values())})")) == {}
        # every message changed since 0
        assert len(modseqs(c.ok("FETCH 1:* (UID) (CHANGEDSINCE 0)"))) == 4
        refused(c, "FETCH 1 (FLAGS) (CHANGEDSINCE x)", "FETCH 1 (FLAGS) (VANISHED)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)")


def test_store_unchangedsince(srv):
    fill(srv, 3)
    with Imap(srv.imap_port) as c, Imap(srv.imap_port) as other:
        c.login()
        other.login()
        c.ok("SELECT INBOX (CONDSTORE)")
        other.ok("SELECT INBOX")
        ms = modseqs(c.ok("UID FETCH 1:* (MODSEQ)"))
        # another client changes message 2 after we read its modseq
        other.ok("STORE 2 +FLAGS (\\Flagged)")
        untagged, tagged = c.cmd(f"STORE 1:3 (UNCHANGEDSINCE {max(ms.values())}) "
                                 "+FLAGS (\\Answered)")
        assert re.search(r"OK \[MODIFIED 2\]", tagged), (untagged, tagged)
        fetched = [l for l in untagged if " FETCH " in l]
        # 1 and 3 changed (FLAGS and MODSEQ); 2 was left alone
        for seq in (1, 3):
            line = next(l for l in fetched if l.startswith(f"* {seq} FETCH (FLAGS"))
            assert "\\Answered" in line and re.search(r"MODSEQ \((\d+)\)", line), line
            assert int(re.search(r"MODSEQ \((\d+)\)", line).group(1)) > ms[seq]
        flags = " ".join(c.ok("FETCH 2 (FLAGS)"))
        assert "\\Answered" not in flags and "\\Flagged" in flags
        # .SILENT still tells the new MODSEQ of what changed; UID STORE names UIDs
        now = modseqs(c.ok("UID FETCH 1:* (MODSEQ)"))
        other.ok("STORE 2 +FLAGS (\\Draft)")
        untagged, tagged = c.cmd(f"UID STORE 1,2 (UNCHANGEDSINCE {max(now.values())}) "
                                 "+FLAGS.SILENT (\\Seen)")
        assert re.search(r"OK \[MODIFIED 2\]", tagged), (untagged, tagged)
        ours = [l for l in untagged if l.startswith("* 1 FETCH")]
        assert len(ours) == 1 and re.match(
            r"\* 1 FETCH \(UID 1 MODSEQ \((\d+)\)\)$", ours[0]), untagged
        # UNCHANGEDSINCE 0 fails for every message
        untagged, tagged = c.cmd("STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Deleted)")
        assert re.search(r"OK \[MODIFIED 1:3\]", tagged), (untagged, tagged)
        assert "\\Deleted" not in " ".join(c.ok("FETCH 1:3 (FLAGS)"))
        # the other session hears of the changes with their MODSEQ once enabled
        other.ok("ENABLE CONDSTORE")
        c.ok("STORE 3 -FLAGS.SILENT (\\Answered)")
        news = other.ok("NOOP")
        assert any(re.match(r"\* 3 FETCH \(UID 3 FLAGS \(.*\) MODSEQ \(\d+\)\)$", l)
                   for l in news), news
        refused(c, "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)")


def test_search_modseq(srv):
    fill(srv, 4)
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("SELECT INBOX")
        base = max(modseqs(c.ok("FETCH 1:* (MODSEQ)")).values())
        c.ok("STORE 3 +FLAGS.SILENT (\\Flagged)")
        top = modseqs(c.ok("FETCH 3 (MODSEQ)"))[3]
        lines = c.ok(f"SEARCH MODSEQ {base + 1}")
        assert lines == [f"* SEARCH 3 (MODSEQ {top})"], lines
        lines = c.ok(f'UID SEARCH MODSEQ "/flags/\\\\flagged" all {base + 1}')
        assert lines == [f"* SEARCH 3 (MODSEQ {top})"], lines
        assert c.ok(f"SEARCH MODSEQ {top + 1}") == ["* SEARCH"]
        lines = c.ok(f"SEARCH RETURN (COUNT) MODSEQ {base + 1}")
        assert re.match(rf'\* ESEARCH \(TAG "\S+"\) COUNT 1 MODSEQ {top}$', lines[0]), lines
        # without a MODSEQ key the answer has none
        assert c.ok("SEARCH FLAGGED") == ["* SEARCH 3"]


def test_status_highestmodseq_and_restart(srv):
    fill(srv, 2)
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        # STATUS HIGHESTMODSEQ turns CONDSTORE on: the selected folder's
        # HIGHESTMODSEQ comes first
        st = c.ok("STATUS INBOX (HIGHESTMODSEQ MESSAGES DELETED)")
        assert len(st) == 2 and st[0].startswith("* OK [HIGHESTMODSEQ "), st
        m = re.match(r"\* STATUS \S+ \(HIGHESTMODSEQ (\d+) MESSAGES 2 DELETED 0\)$", st[1])
        assert m and highest(st) == int(m.group(1)), st
        before = int(m.group(1))
        ms = modseqs(c.ok("FETCH 1:* (MODSEQ)"))
        assert max(ms.values()) == before
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        st = c.ok("STATUS INBOX (DELETED HIGHESTMODSEQ)")
        assert re.match(r"\* STATUS \S+ \(DELETED 1 HIGHESTMODSEQ (\d+)\)$", st[0]), st
        after = int(re.search(r"HIGHESTMODSEQ (\d+)", st[0]).group(1))
        assert after > before
        ms = modseqs(c.ok("FETCH 1:* (MODSEQ)"))
    srv.stop()
    srv.start()
    with Imap(srv.imap_port) as c:
        c.login()
        assert highest(c.ok("SELECT INBOX (CONDSTORE)")) == after
        assert modseqs(c.ok("FETCH 1:* (MODSEQ)")) == ms
        # the next change goes above everything given before the restart
        c.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        assert modseqs(c.ok("FETCH 1 (MODSEQ)"))[1] > after


def test_imaplib_flag_sync(srv):
    """How a client library keeps flags in sync: remember HIGHESTMODSEQ,
    then ask only for what changed since."""
    fill(srv, 5)
    c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
    c.login(ALICE, "secret")
    typ, data = c.capability()
    assert typ == "OK" and CAP in data[0].decode().split()
    typ, _ = c.enable("CONDSTORE")
    assert typ == "OK" and c.untagged_responses["ENABLED"] == [b"CONDSTORE"]
    typ, _ = c.select("INBOX")
    assert typ == "OK"
    known = int(c.untagged_responses["HIGHESTMODSEQ"][-1])
    typ, _ = c.uid("STORE", "2,4", "+FLAGS", "(\\Seen)")
    assert typ == "OK"
    typ, data = c.uid("FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {known})")
    assert typ == "OK"
    got = {int(re.search(rb"UID (\d+)", d).group(1)) for d in data if d}
    assert got == {2, 4}, data
    c.logout()


# ---- QRESYNC (RFC 7162 §3.2) ----

def test_qresync_select_reports_what_changed(srv):
    fill(srv, 6)
    with Imap(srv.imap_port) as c:
        c.login()
        # the QRESYNC select parameter needs ENABLE QRESYNC first
        refused(c, "SELECT INBOX (QRESYNC (1 1))")
        assert c.ok("ENABLE QRESYNC") == ["* ENABLED QRESYNC"]
        sel = c.ok("SELECT INBOX")
        uidvalidity = int(re.search(r"UIDVALIDITY (\d+)", " ".join(sel)).group(1))
        known = highest(sel)
        c.ok("LOGOUT")
    # meanwhile, another client: flags on 2 and 5, 3 and 4 expunged
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("SELECT INBOX")
        c.ok("STORE 2,5 +FLAGS (\\Flagged)")
        c.ok("STORE 3:4 +FLAGS (\\Deleted)")
        c.ok("EXPUNGE")
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("ENABLE QRESYNC")
        untagged = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {known} 1:6))")
        vanished = [l for l in untagged if l.startswith("* VANISHED")]
        assert vanished == ["* VANISHED (EARLIER) 3:4"], untagged
        fetched = [l for l in untagged if " FETCH " in l]
        assert len(fetched) == 2, untagged
        assert re.match(r"\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$", fetched[0])
        assert re.match(r"\* 3 FETCH \(UID 5 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$", fetched[1])
        # VANISHED comes before the FETCH responses
        assert untagged.index(vanished[0]) < untagged.index(fetched[0])
        # without known UIDs, everything below UIDNEXT that is gone
        untagged = c.ok(f"EXAMINE INBOX (QRESYNC ({uidvalidity} {known}))")
        assert "* VANISHED (EARLIER) 3:4" in untagged, untagged
        assert any(l.startswith("* OK [CLOSED]") for l in untagged)
        # a UIDVALIDITY that is not the folder's: nothing to resync
        untagged = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity + 1} {known}))")
        assert not any(l.startswith("* VANISHED") or " FETCH " in l for l in untagged)
        refused(c, "SELECT INBOX (QRESYNC (1))", "SELECT INBOX (QRESYNC (0 5))",
                "SELECT INBOX (QRESYNC (1 5 x:y))")


def test_qresync_vanished_replaces_expunge(srv):
    fill(srv, 5)
    with Imap(srv.imap_port) as c, Imap(srv.imap_port) as other:
        c.login()
        other.login()
        c.ok("ENABLE QRESYNC")
        c.ok("SELECT INBOX")
        other.ok("SELECT INBOX")
        base = max(modseqs(c.ok("UID FETCH 1:* (MODSEQ)")).values())
        # our own EXPUNGE: VANISHED, and the tagged OK tells HIGHESTMODSEQ
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        untagged, tagged = c.cmd("EXPUNGE")
        assert untagged == ["* VANISHED 2"], untagged
        assert re.search(r"OK \[HIGHESTMODSEQ (\d+)\]", tagged), tagged
        # another session's expunge reaches us as VANISHED, and it still
        # gets classic EXPUNGE responses
        other_news = other.ok("NOOP")
        assert "* 2 EXPUNGE" in other_news, other_news
        other.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")   # UID 4 is now number 3
        other.ok("UID STORE 5 +FLAGS.SILENT (\\Seen)")
        other.ok("EXPUNGE")
        news = c.ok("NOOP")
        assert "* VANISHED 4" in news, news
        # UID FETCH ... (CHANGEDSINCE n VANISHED): what left, then what changed
        untagged = c.ok(f"UID FETCH 1:5 (FLAGS) (CHANGEDSINCE {base} VANISHED)")
        assert untagged[0] == "* VANISHED (EARLIER) 2,4", untagged
        assert len(untagged) == 2 and re.match(
            r"\* 3 FETCH \(UID 5 FLAGS \(\\Seen( \\Recent)?\) MODSEQ \(\d+\)\)$", untagged[1]), \
            untagged
        # MOVE's expunges are VANISHED too
        untagged = c.ok("UID MOVE 1 Archive")
        assert "* VANISHED 1" in untagged, untagged
        # VANISHED only on UID FETCH, and only with CHANGEDSINCE
        refused(c, "FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)", "UID FETCH 1 (FLAGS) (VANISHED)")
