"""`correio user import|export`: a Maildir++ tree laid out as Dovecot
writes it (folders, flags, keywords, dovecot-uidlist), an mbox file, and
an export read back into another account, all checked through IMAP."""

import imaplib
import os
import pwd
import re
import time

from correio_harness import Server, file_stats, send_mail


def msg(n, subject):
    return (f"From: sender{n}@example.net\r\nTo: alice@example.org\r\n"
            f"Subject: {subject}\r\nMessage-ID: <m{n}@example.net>\r\n"
            f"Date: Mon, 1 Jan 2024 10:0{n % 10}:00 +0000\r\n\r\n"
            f"Body of message {n}.\r\nFrom here on, a line that starts with From.\r\n")


def write_dovecot_folder(path, uidvalidity, nextuid, entries, keywords=None):
    """A Dovecot Maildir folder: entries are (uid, subdir, base, info,
    text, mtime); dovecot-uidlist in its version 3 format."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    lines = [f"3 V{uidvalidity} N{nextuid} G0123456789abcdef0123456789abcdef"]
    for uid, sub, base, info, text, mtime in entries:
        name = base + (":2," + info if info is not None else "")
        fpath = os.path.join(path, sub, name)
        with open(fpath, "w", newline="") as f:
            f.write(text)
        os.utime(fpath, (mtime, mtime))
        lines.append(f"{uid} :{base}")
    with open(os.path.join(path, "dovecot-uidlist"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if keywords:
        with open(os.path.join(path, "dovecot-keywords"), "w") as f:
            for i, k in enumerate(keywords):
                f.write(f"{i} {k}\n")


def chown_tree(path, user="nobody"):
    """The files belong to someone else and only they may read them (as
    root; otherwise they stay the tester's)."""
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o700)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)
            os.chmod(os.path.join(root, f), 0o600)


def imap_login(server, user):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port)
    m.login(user, "secret")
    return m


def folder_state(m, folder):
    """(uidvalidity, [(uid, flags, internaldate, body)]) of a folder."""
    typ, _ = m.select(f'"{folder}"', readonly=True)
    assert typ == "OK", folder
    uidvalidity = int(m.untagged_responses["UIDVALIDITY"][0])
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = int(re.search(r"UID (\d+)", head).group(1))
        flags = sorted(set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split())
                       - {"\\Recent"})
        date = re.search(r'INTERNALDATE "([^"]+)"', head).group(1)
        out.append((uid, flags, date, item[1]))
    out.sort()
    m.close()
    return uidvalidity, out


def folders(m):
    typ, data = m.list()
    names = []
    for line in data:
        names.append(line.decode().rsplit(' "/" ', 1)[1].strip('"'))
    return sorted(names)


def make_dovecot_tree(root):
    t0 = 1700000000
    write_dovecot_folder(root, 1600000001, 12, [
        (3, "cur", f"{t0}.M1P10.old", "S", msg(1, "seen one"), t0),
        (7, "cur", f"{t0 + 5}.M2P10.old,S=300,W=310", "FRSa", msg(2, "flagged answered"), t0 + 5),
        (9, "cur", f"{t0 + 9}.M3P10.old", "Tb", msg(3, "deleted keyword"), t0 + 9),
        (11, "new", f"{t0 + 20}.M4P10.old", None, msg(4, "new one"), t0 + 20),
    ], keywords=["$Forwarded", "Work"])
    write_dovecot_folder(os.path.join(root, ".Work"), 1600000002, 3, [
        (1, "cur", f"{t0}.M5P10.old", "DS", msg(5, "draft"), t0),
        (2, "cur", f"{t0 + 1}.M6P10.old", "", msg(6, "unseen"), t0 + 1),
    ])
    write_dovecot_folder(os.path.join(root, ".Work.Projects"), 1600000003, 101, [
        (100, "cur", f"{t0 + 2}.M7P10.old", "Sa", msg(7, "project"), t0 + 2),
    ], keywords=["$Forwarded"])
    # a folder name in modified UTF-7, as Dovecot writes it: "Caf\u00e9"
    write_dovecot_folder(os.path.join(root, ".Caf&AOk-"), 1600000004, 2, [
        (1, "cur", f"{t0 + 3}.M8P10.old", "S", msg(8, "accent"), t0 + 3),
    ])
    with open(os.path.join(root, "subscriptions"), "w") as f:
        f.write("Work\nWork/Projects\n")


def test_import_dovecot_maildir(tmp_path):
    src = str(tmp_path / "Maildir")
    make_dovecot_tree(src)
    chown_tree(src)
    with Server() as s:
        s.add_user("alice@example.org")
        s.start()
        # the account is used (INBOX opened) before the import
        m = imap_login(s, "alice@example.org")
        m.select("INBOX")
        m.close()
        r = s.cli("user", "import", "alice@example.org", src)
        assert "imported 8 messages into 4 folders" in r.stdout, r.stdout
        # files in the store belong to the server's user, not to root
        owners = {st.st_uid for st in file_stats(s.maildir("alice@example.org")).values()}
        assert owners == {pwd.getpwnam("correio").pw_uid if os.geteuid() == 0
                          else os.geteuid()}, owners

        names = folders(m)
        for want in ("INBOX", "Work", "Work/Projects", "Caf&AOk-"):
            assert want in names, names
        # subscribed, for clients that show only those
        typ, data = m.lsub()
        subscribed = [l.decode().rsplit(' "/" ', 1)[1].strip('"') for l in data]
        for want in ("INBOX", "Work", "Work/Projects", "Caf&AOk-", "Sent"):
            assert want in subscribed, subscribed
        v, inbox = folder_state(m, "INBOX")
        assert v == 1600000001
        assert [x[0] for x in inbox] == [3, 7, 9, 11]
        assert inbox[0][1] == ["\\Seen"]
        assert inbox[1][1] == ["$Forwarded", "\\Answered", "\\Flagged", "\\Seen"]
        assert inbox[2][1] == ["Work", "\\Deleted"]
        assert inbox[3][1] == []
        assert b"Subject: flagged answered" in inbox[1][3]
        assert inbox[0][2].startswith("14-Nov-2023")
        typ, data = m.status("INBOX", "(UIDNEXT)")
        assert b"UIDNEXT 12" in data[0]
        v, work = folder_state(m, "Work")
        assert v == 1600000002 and [x[0] for x in work] == [1, 2]
        assert work[0][1] == ["\\Draft", "\\Seen"] and work[1][1] == []
        v, proj = folder_state(m, "Work/Projects")
        assert v == 1600000003 and proj[0][0] == 100
        assert proj[0][1] == ["$Forwarded", "\\Seen"]
        v, cafe = folder_state(m, "Caf&AOk-")
        assert len(cafe) == 1 and b"Subject: accent" in cafe[0][3]

        # importing again into folders that now hold mail adds copies
        # with new UIDs (no clash with those kept)
        r = s.cli("user", "import", "alice@example.org", src)
        assert "new UIDs" in r.stdout
        v, inbox2 = folder_state(m, "INBOX")
        assert v == 1600000001
        assert [x[0] for x in inbox2] == [3, 7, 9, 11, 12, 13, 14, 15]
        assert [x[1] for x in inbox2[4:]] == [x[1] for x in inbox]
        m.logout()


MBOX = (
    "From alice@example.net Mon Jan  1 10:00:00 2024\n"
    "From: alice@example.net\nSubject: read\nStatus: RO\n\nfirst\n>From the start\n\n"
    "From bob@example.net Tue Jan  2 11:00:00 2024\n"
    "From: bob@example.net\nSubject: answered and flagged\nStatus: O\nX-Status: AF\n"
    "X-Keywords: $Label1 Later\n\nsecond\n\n"
    "From carol@example.net Wed Jan  3 12:00:00 2024\n"
    "From: carol@example.net\nSubject: unread\n\nthird\n"
)


def test_import_mbox(tmp_path):
    path = tmp_path / "inbox.mbox"
    path.write_text(MBOX)
    chown_tree(str(tmp_path))
    with Server() as s:
        s.add_user("alice@example.org")
        s.start()
        r = s.cli("user", "import", "alice@example.org", str(path))
        assert "imported 3 messages into 1 folder" in r.stdout, r.stdout
        m = imap_login(s, "alice@example.org")
        v, inbox = folder_state(m, "INBOX")
        assert len(inbox) == 3
        assert inbox[0][1] == ["\\Seen"]
        assert inbox[1][1] == ["$Label1", "Later", "\\Answered", "\\Flagged"]
        assert inbox[2][1] == []
        assert inbox[0][3] == b"From: alice@example.net\r\nSubject: read\r\n\r\nfirst\r\nFrom the start\r\n"
        assert b"Status:" not in inbox[1][3] and b"X-Keywords" not in inbox[1][3]
        assert inbox[1][2].startswith("02-Jan-2024 11:00:00")
        m.logout()


def fetch_all(m):
    state = {}
    for name in folders(m):
        v, msgs = folder_state(m, name)
        state[name] = (v, msgs)
    return state


def test_export_reimport(tmp_path):
    src = str(tmp_path / "Maildir")
    make_dovecot_tree(src)
    with Server() as s:
        s.add_user("alice@example.org")
        s.add_user("bob@example.org")
        s.add_user("carol@example.org")
        s.start()
        s.cli("user", "import", "alice@example.org", src)
        m = imap_login(s, "alice@example.org")
        # and a message delivered and changed by IMAP
        m.append("Work", "(\\Flagged Later)", None,
                 msg(9, "appended").encode())
        alice = fetch_all(m)
        m.logout()

        out = str(tmp_path / "export")
        r = s.cli("user", "export", "alice@example.org", out)
        assert "exported 9 messages" in r.stdout, r.stdout
        assert os.path.exists(os.path.join(out, ".Work.Projects", "dovecot-uidlist"))
        s.cli("user", "import", "bob@example.org", out)
        m = imap_login(s, "bob@example.org")
        bob = fetch_all(m)
        m.logout()
        # identical: folders, UIDVALIDITY, UIDs, flags, dates and bytes
        assert bob == alice

        mbox_out = str(tmp_path / "export-mbox")
        r = s.cli("user", "export", "alice@example.org", mbox_out, "--mbox")
        # one file per folder, named in UTF-8
        assert sorted(os.listdir(mbox_out)) == sorted(
            n.replace("/", ".").replace("Caf&AOk-", "Caf\u00e9") for n in alice)
        s.cli("user", "import", "carol@example.org", mbox_out)
        m = imap_login(s, "carol@example.org")
        carol = fetch_all(m)
        m.logout()
        assert sorted(carol) == sorted(alice)
        for name in alice:
            a = [(f, d, b) for _, f, d, b in alice[name][1]]
            c = [(f, d, b) for _, f, d, b in carol[name][1]]
            assert c == a, name


def test_import_needs_account(tmp_path):
    path = tmp_path / "x.mbox"
    path.write_text(MBOX)
    with Server() as s:
        r = s.cli("user", "import", "nobody@example.org", str(path), check=False)
        assert r.returncode == 1 and "no such user" in r.stderr


def test_user_del_keeps_or_removes_mail(tmp_path):
    path = tmp_path / "x.mbox"
    path.write_text(MBOX)
    with Server() as s:
        s.add_user("alice@example.org")
        s.add_user("bob@example.org")
        s.add_user("carol@example.org")
        s.cli("user", "import", "alice@example.org", str(path))
        s.cli("user", "import", "bob@example.org", str(path))
        alice_dir = s.maildir("alice@example.org")
        bob_dir = s.maildir("bob@example.org")
        r = s.cli("user", "del", "alice@example.org")
        assert "its mail is kept in " + alice_dir in r.stdout, r.stdout
        assert len(os.listdir(os.path.join(alice_dir, "cur"))) == 3
        r = s.cli("user", "del", "--keep-mail", "carol@example.org")
        assert "had no mail" in r.stdout
        r = s.cli("user", "del", "bob@example.org", "--remove-mail")
        assert "deleted with its mail" in r.stdout and bob_dir in r.stdout
        assert not os.path.exists(bob_dir)
        assert os.listdir(os.path.dirname(bob_dir)) == ["alice"]
        r = s.cli("user", "del", "bob@example.org", check=False)
        assert r.returncode == 1 and "no such user" in r.stderr


def test_domain_del_refuses_or_forces():
    with Server() as s:
        s.cli("domain", "add", "example.com")
        s.add_user("u1@example.com")
        s.add_user("keep@example.org")
        s.cli("alias", "add", "a1@example.com", "u1@example.com")
        s.cli("alias", "add", "a2@example.com", "x@example.net", "y@example.net")
        s.cli("alias", "add", "other@example.org", "u1@example.com")
        r = s.cli("domain", "del", "example.com", check=False)
        assert r.returncode == 1
        assert "still has 1 user and 2 aliases" in r.stderr, r.stderr
        assert "--force" in r.stderr
        assert "example.com" in s.cli("domain", "list").stdout
        r = s.cli("domain", "del", "--force", "example.com")
        assert "alias a1@example.com deleted" in r.stdout
        assert "alias a2@example.com deleted" in r.stdout
        assert "user u1@example.com deleted" in r.stdout
        assert "domain example.com deleted" in r.stdout
        assert "example.com" not in s.cli("domain", "list").stdout
        users = s.cli("user", "list").stdout
        assert "u1@example.com" not in users and "keep@example.org" in users
        aliases = s.cli("alias", "list").stdout
        assert "a1@example.com" not in aliases and "other@example.org" in aliases
        # an empty domain goes without --force
        s.cli("domain", "add", "example.net")
        assert "domain example.net deleted" in s.cli("domain", "del", "example.net").stdout


def test_user_list_header_and_usage(tmp_path):
    path = tmp_path / "x.mbox"
    path.write_text(MBOX)
    with Server() as s:
        s.add_user("alice@example.org")
        s.add_user("bob@example.org", "secret", "--quota", "10M")
        s.cli("user", "import", "alice@example.org", str(path))
        lines = s.cli("user", "list").stdout.splitlines()
        assert lines[0].split() == ["ADDRESS", "FORMAT", "USAGE"]
        rows = {l.split()[0]: l.split()[1:] for l in lines[1:]}
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(os.path.join(s.maildir("alice@example.org"), "cur"))
                   for f in fs)
        assert rows["alice@example.org"] == ["default", f"used={size}", "quota=unlimited"]
        assert rows["bob@example.org"][:3] == ["default", "used=0", "quota=10M"]


def test_import_tells_idle_session(tmp_path):
    """An IMAP client idling in INBOX hears of imported mail at once."""
    from imap_raw import Imap
    path = tmp_path / "x.mbox"
    path.write_text(MBOX)
    with Server() as s:
        s.add_user("alice@example.org")
        s.start()
        c = Imap(s.imap_port)
        c.ok('LOGIN alice@example.org secret')
        c.ok("SELECT INBOX")
        c.send("IDLE")
        assert c.response().startswith(b"+ ")
        start = time.time()
        r = s.cli("user", "import", "alice@example.org", str(path))
        assert "open sessions were told" in r.stdout, r.stdout
        # the keywords the import added to the folder come first (FLAGS,
        # PERMANENTFLAGS), then the messages that carry them
        seen = []
        while not seen or seen[-1] != b"* 3 EXISTS":
            seen.append(c.response())
            assert len(seen) < 5, seen
        assert any(x.startswith(b"* FLAGS (") and b"Later" in x for x in seen), seen
        assert time.time() - start < 5
        c.sock.sendall(b"DONE\r\n")
        while not c.response().startswith(b"t3 OK"):
            pass
        c.close()


def test_mbox_account_inbox(tmp_path):
    """The INBOX of an mbox account is its mbox file: import appends to it
    under the delivery lock with the flags as Status:/X-Status: (new UIDs,
    no keywords); export takes the other folders and names the file."""
    src = str(tmp_path / "Maildir")
    make_dovecot_tree(src)
    with Server() as s:
        s.add_user("dora@example.org", "secret", "--mbox")
        s.start()
        send_mail(s, "x@example.net", ["dora@example.org"], "Subject: delivered\r\n\r\nfirst\r\n")
        s.wait_log(r"to=<dora@example.org>.*status=sent")
        r = s.cli("user", "import", "dora@example.org", src)
        assert "INBOX: 4 messages added with new UIDs" in r.stdout, r.stdout
        assert "Work: 2 messages, UIDs kept" in r.stdout
        m = imap_login(s, "dora@example.org")
        v, inbox = folder_state(m, "INBOX")
        assert len(inbox) == 5 and b"Subject: delivered" in inbox[0][3]
        assert [x[1] for x in inbox[1:]] == [["\\Seen"], ["\\Answered", "\\Flagged", "\\Seen"],
                                             ["\\Deleted"], []]
        assert b"Subject: flagged answered" in inbox[2][3]
        assert inbox[2][2].startswith("14-Nov-2023")
        m.logout()
        with open(os.path.join(s.data, "mbox", "dora@example.org")) as f:
            assert f.read().count("\nFrom ") == 4

        out = str(tmp_path / "out")
        r = s.cli("user", "export", "dora@example.org", out, check=False)
        assert r.returncode == 1
        assert "INBOX left out: it is the mbox file " + os.path.join(
            s.data, "mbox", "dora@example.org") in r.stderr, r.stderr
        assert "Work: 2 messages" in r.stdout
        assert len(os.listdir(os.path.join(out, ".Work", "cur"))) == 2


def test_import_flushes_its_files_not_the_file_system(tmp_path):
    """Import makes exactly what it wrote durable: each message file is
    fdatasynced before it is moved into cur/, and each cur/ that got
    messages is fsynced once at the end; no syncfs(2) of the whole file
    system (which would wait for every other program's writes too)."""
    import subprocess
    import correio_harness
    strace = correio_harness.strace_path()
    env = correio_harness.env_under_ptrace()
    src = str(tmp_path / "src")
    make_dovecot_tree(src)
    chown_tree(src)
    out = str(tmp_path / "strace.out")
    with Server() as s:
        s.add_user("alice@example.org")
        r = subprocess.run([strace, "-f", "-y", "-o", out, "-e",
                            "trace=syncfs,sync,fsync,fdatasync,rename,renameat,renameat2",
                            correio_harness.BIN, "-c", s.conf, "user", "import",
                            "alice@example.org", src],
                           capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert "imported 8 messages into 4 folders" in r.stdout, r.stdout
        with open(out) as f:
            lines = f.read().splitlines()
        text = "\n".join(lines)
        assert not [l for l in lines if re.search(r"\bsyncfs\(|\bsync\(\)", l)], text[-3000:]
        home = s.maildir("alice@example.org")
        # every message file is flushed, in tmp/, before its rename
        datasyncs = [l for l in lines if re.search(r"\bfdatasync\(\d+<%s/[^>]*tmp/" %
                                                   re.escape(home), l)]
        assert len(datasyncs) == 8, text[-3000:]
        # each of the four cur/ directories is flushed once, after the
        # last message moved into it ("Caf\u00e9" as strace escapes it)
        for cur in ("cur", ".Work/cur", ".Work.Projects/cur", r".Caf\303\251/cur"):
            path = re.escape(os.path.join(home, cur))
            flushed = [i for i, l in enumerate(lines) if re.search(r"\bfsync\(\d+<%s>" % path, l)]
            assert len(flushed) == 1, (cur, [l for l in lines if "cur>" in l])
            moved = [i for i, l in enumerate(lines) if re.search(r"rename.*, \"%s/" % path, l)]
            assert moved and max(moved) < flushed[0], (cur, text[-3000:])
