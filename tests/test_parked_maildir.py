"""IMAP APPEND and COPY into folders that stay parked (open in memory
between two writes) while another program changes the Maildir behind
them: a plain `mv` of a new message into new/, an `rm` from cur/.  The
counts that STATUS and SELECT give follow the files on disk, every UID
the server hands out (APPENDUID, COPYUID) is new, larger than the
earlier ones, and still names the same message afterwards."""

import imaplib
import os
import random
import re
import shutil
import time

import pytest

from correio_harness import running_server

ALICE = "alice@example.org"


@pytest.fixture
def srv():
    yield from running_server(ALICE)


def login(s):
    c = imaplib.IMAP4("127.0.0.1", s.imap_port)
    c.login(ALICE, "secret")
    return c


def folder_dir(s, name):
    root = s.maildir(ALICE)
    for d in os.listdir(root):
        if d.endswith(name) and os.path.isdir(os.path.join(root, d, "cur")):
            return os.path.join(root, d)
    raise AssertionError(f"no folder {name} under {root}: {os.listdir(root)}")


def files_in(d):
    return sorted(os.listdir(os.path.join(d, "new")) + os.listdir(os.path.join(d, "cur")))


def status(c, name):
    typ, data = c.status(name, "(MESSAGES UIDNEXT)")
    assert typ == "OK", data
    m = re.search(rb"MESSAGES (\d+) UIDNEXT (\d+)", data[0])
    return int(m.group(1)), int(m.group(2))


def msg(subject):
    return (f"From: a@example.net\r\nSubject: {subject}\r\n\r\nbody {subject}\r\n").encode()


def test_append_copy_into_parked_folder_while_maildir_changes(srv):
    rng = random.Random(7)
    a = login(srv)
    assert a.create("Parked")[0] == "OK"
    for i in range(3):
        assert a.append("INBOX", None, None, msg(f"inbox-{i}"))[0] == "OK"
    assert a.select("INBOX")[0] == "OK"      # holds the account: targets stay parked
    d = folder_dir(srv, "Parked")
    uid_of = {}                              # subject -> UID the server gave
    last_uid = 0
    outside = 0
    for step in range(40):
        action = rng.choice(["append", "append", "copy", "mv", "rm"])
        if action == "append":
            subject = f"app-{step}"
            typ, data = a.append("Parked", None, None, msg(subject))
            assert typ == "OK", data
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0])
            uid = int(m.group(1))
        elif action == "copy":
            subject = f"inbox-{step % 3}"
            # the tagged reply's text (imaplib's uid() keeps only untagged)
            typ, data = a._simple_command("UID", "COPY", "1:*", "Parked")
            assert typ == "OK", data
            m = re.search(rb"COPYUID \d+ \S+ (\d+)(?::(\d+))?", data[0])
            uid = int(m.group(2) or m.group(1))
            subject = None
            first = int(m.group(1))
            assert first > last_uid, (first, last_uid, data)
        elif action == "mv":
            outside += 1
            name = f"{int(time.time())}.outside{step}.host"
            tmp = os.path.join(d, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(msg(f"outside-{step}"))
            shutil.move(tmp, os.path.join(d, "new", name))
            continue
        else:
            cur = os.listdir(os.path.join(d, "cur"))
            if cur:
                os.unlink(os.path.join(d, "cur", rng.choice(cur)))
            continue
        assert uid > last_uid, (step, action, uid, last_uid)
        last_uid = uid
        if subject is not None:
            uid_of[subject] = uid
        n, uidnext = status(a, "Parked")
        assert n == len(files_in(d)), (step, n, files_in(d))
        assert uidnext > last_uid, (step, uidnext, last_uid)

    # a second session sees the same folder
    b = login(srv)
    typ, data = b.select("Parked")
    assert typ == "OK"
    on_disk = files_in(d)
    assert int(data[0]) == len(on_disk)
    typ, data = b.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    seen = {}
    for part in data:
        if not isinstance(part, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", part[0]).group(1))
        subj = re.search(rb"Subject: (\S+)", part[1]).group(1).decode()
        assert uid not in seen, (uid, subj, seen[uid])
        seen[uid] = subj
    assert len(seen) == len(on_disk)
    for subject, uid in uid_of.items():
        if uid in seen:
            assert seen[uid] == subject, (uid, subject, seen[uid])
    present = {s for s in seen.values()}
    # an APPENDed message is gone only if something removed a file
    lost = [s for s in uid_of if s not in present]
    assert len(lost) <= 40 - len(uid_of), lost
    a.logout()
    b.logout()
    assert srv.proc.poll() is None


def test_parked_folder_removed_and_made_again_behind_the_server(srv):
    """The parked folder's directory is removed by another program (rm -rf)
    and later made again by CREATE: APPEND in between says the folder is
    missing, the new folder starts its own UIDs and counts its files."""
    a = login(srv)
    assert a.create("Gone")[0] == "OK"
    assert a.select("INBOX")[0] == "OK"
    for i in range(3):
        assert a.append("Gone", None, None, msg(f"g-{i}"))[0] == "OK"
    d = folder_dir(srv, "Gone")
    typ, data = a.status("Gone", "(UIDVALIDITY)")
    old_validity = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)
    shutil.rmtree(d)
    typ, data = a.append("Gone", None, None, msg("g-after-rm"))
    assert typ == "NO", data
    assert b"TRYCREATE" in data[0], data
    assert a.create("Gone")[0] == "OK"
    typ, data = a.append("Gone", None, None, msg("g-new"))
    assert typ == "OK", data
    validity, uid = re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups()
    # the same UIDVALIDITY only with UIDs never given before
    assert validity != old_validity or int(uid) > 3, (validity, old_validity, uid)
    n, _ = status(a, "Gone")
    assert n == 1 == len(files_in(folder_dir(srv, "Gone")))
    a.logout()
    assert srv.proc.poll() is None
    # the message keeps that UID under that UIDVALIDITY, for another
    # session and after a restart (the index read again from disk)
    for restart in (False, True):
        if restart:
            assert srv.stop() == 0
            srv.start()
        b = login(srv)
        typ, data = b.select("Gone")
        assert typ == "OK" and int(data[0]) == 1
        typ, data = b.status("Gone", "(UIDVALIDITY)")
        v = re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1)
        typ, data = b.uid("FETCH", "1:*", "(UID)")
        got = int(re.search(rb"UID (\d+)", data[0]).group(1))
        assert (v, got) == (validity, int(uid)), (restart, v, got, validity, uid)
        b.logout()


def test_append_while_selected_elsewhere_and_maildir_changes(srv):
    """One session has the folder selected and expunges from it, another
    APPENDs and COPYs into it, a shell moves files into new/ and removes
    files from cur/: after each round the selected session's view (NOOP),
    a fresh SELECT and the files on disk agree."""
    rng = random.Random(11)
    a = login(srv)
    assert a.create("Shared")[0] == "OK"
    for i in range(3):
        assert a.append("INBOX", None, None, msg(f"inbox-{i}"))[0] == "OK"
    assert a.select("INBOX")[0] == "OK"
    d = folder_dir(srv, "Shared")
    b = login(srv)
    typ, data = b.select("Shared")
    exists = int(data[0])
    for step in range(30):
        for _ in range(rng.randint(1, 3)):
            action = rng.choice(["append", "copy", "mv", "rm", "expunge"])
            if action == "append":
                assert a.append("Shared", None, None, msg(f"s-{step}"))[0] == "OK"
            elif action == "copy":
                assert a.copy("1:*", "Shared")[0] == "OK"
            elif action == "mv":
                name = f"{int(time.time())}.sh{step}_{rng.random()}.host"
                with open(os.path.join(d, "tmp", name), "wb") as f:
                    f.write(msg(f"outside-{step}"))
                os.rename(os.path.join(d, "tmp", name), os.path.join(d, "new", name))
            elif action == "rm":
                cur = os.listdir(os.path.join(d, "cur"))
                if cur:
                    os.unlink(os.path.join(d, "cur", rng.choice(cur)))
            elif exists > 0:
                b.store("1", "+FLAGS", "(\\Deleted)")
                b.expunge()
        # the selected session's count, from its untagged EXISTS/EXPUNGE
        typ, data = b.noop()
        assert typ == "OK"
        typ, data = b.uid("SEARCH", "ALL")
        b_uids = [int(x) for x in data[0].split()]
        assert len(b_uids) == len(set(b_uids))
        c = login(srv)
        typ, data = c.select("Shared", readonly=True)
        fresh = int(data[0])
        typ, data = c.uid("SEARCH", "ALL")
        c_uids = [int(x) for x in data[0].split()]
        c.logout()
        on_disk = len(files_in(d))
        assert fresh == on_disk == len(c_uids), (step, fresh, on_disk, len(c_uids))
        assert sorted(b_uids) == sorted(c_uids), (step, b_uids, c_uids)
        exists = len(b_uids)
    a.logout()
    b.logout()
    assert srv.proc.poll() is None
