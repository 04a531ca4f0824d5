"""Sieve filtering at local delivery (issue 16 item 1): each account's
active script (<maildir>/sieve/active naming <name>.sieve) decides where
a message goes — folders (created with :create), IMAP flags, discard,
redirect to another address, reject (a bounce to the sender) — checked
end to end through SMTP and IMAP.  A script that does not compile or
fails at run time leaves the message in INBOX and says why in the log; a
changed script is used from the next message on."""

import glob
import imaplib
import os
import time

import pytest

from correio_harness import Server, send_mail

BOB = "bob@example.org"
ALICE = "alice@example.org"
CAROL = "carol@example.org"


@pytest.fixture
def server():
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n")
    for a in (ALICE, BOB, CAROL):
        s.add_user(a)
    s.start()
    yield s
    s.cleanup()


def install(server, address, text, name="main"):
    d = os.path.join(server.maildir(address), "sieve")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".sieve")
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
    link = os.path.join(d, "active")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(name + ".sieve", link)
    chown_like_data(server, d)


def chown_like_data(server, path):
    """The server drops privileges: what the test made under the data
    directory must belong to the data directory's owner."""
    st = os.stat(server.data)
    for f in os.listdir(path) if os.path.isdir(path) else []:
        os.lchown(os.path.join(path, f), st.st_uid, st.st_gid)
    # Upwards only the directories themselves: their other entries are
    # the live server's (index files it renames while we walk).
    while len(path) > len(server.data):
        os.lchown(path, st.st_uid, st.st_gid)
        path = os.path.dirname(path)


def message(subject="hello", extra="", body="Hi Bob.\r\n"):
    return (f"From: Alice <{ALICE}>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\n{extra}"
            f"\r\n{body}")


def folder_files(server, address, folder):
    root = server.maildir(address)
    d = root if folder == "INBOX" else os.path.join(root, "." + folder.replace("/", "."))
    return sorted(glob.glob(os.path.join(d, "new", "*")) + glob.glob(os.path.join(d, "cur", "*")))


def wait_files(server, address, folder, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = folder_files(server, address, folder)
        if len(files) >= n:
            return files
        time.sleep(0.02)
    raise AssertionError(f"{address} {folder}: {folder_files(server, address, folder)}\n"
                         + server.read_log()[-3000:])


def imap_fetch(server, address, folder):
    """(flags, subject) of each message in folder, through IMAP."""
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as m:
        m.login(address, "secret")
        typ, _ = m.select('"' + folder + '"')
        assert typ == "OK", folder
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        out = []
        for item in data:
            if isinstance(item, tuple):
                flags = item[0].decode()
                subject = item[1].decode().strip()
                out.append((flags, subject))
        return out


def test_fileinto_create_and_flags(server):
    install(server, BOB, """require ["fileinto", "mailbox", "imap4flags", "variables"];
if header :matches "subject" "[*] *" {
    fileinto :create :flags "\\\\Flagged" "Lists/${1}";
    stop;
}
if header :contains "subject" "seen" { addflag "\\\\Seen"; }
""")
    send_mail(server, ALICE, [BOB], message("[announce] weekly"))
    send_mail(server, ALICE, [BOB], message("already seen"))
    files = wait_files(server, BOB, "Lists/announce", 1)
    assert files[0].endswith(":2,F"), files
    inbox = wait_files(server, BOB, "INBOX", 1)
    assert inbox[0].endswith(":2,S"), inbox
    got = imap_fetch(server, BOB, "Lists/announce")
    assert len(got) == 1 and "\\Flagged" in got[0][0] and "[announce] weekly" in got[0][1]
    got = imap_fetch(server, BOB, "INBOX")
    assert len(got) == 1 and "\\Seen" in got[0][0] and "already seen" in got[0][1]


def test_fileinto_missing_folder_keeps(server):
    install(server, BOB, 'require "fileinto";\nfileinto "Nowhere";\n')
    send_mail(server, ALICE, [BOB], message())
    wait_files(server, BOB, "INBOX", 1)
    assert not os.path.exists(os.path.join(server.maildir(BOB), ".Nowhere"))
    server.wait_log(r'fileinto "Nowhere": no such folder')


def test_discard_and_subaddress(server):
    install(server, BOB, """require ["envelope", "subaddress", "fileinto", "variables"];
if envelope :detail :matches "to" "*" { if string :is "${1}" "spam" { discard; stop; }
  fileinto :copy "x"; }
""".replace(':copy "x"', ':create "${1}"').replace('"fileinto",', '"fileinto", "mailbox",'))
    send_mail(server, ALICE, ["bob+spam@example.org"], message("spam"))
    send_mail(server, ALICE, ["bob+shop@example.org"], message("shop"))
    send_mail(server, ALICE, [BOB], message("plain"))
    wait_files(server, BOB, "shop", 1)
    wait_files(server, BOB, "INBOX", 1)
    server.wait_log(r"sieve: discarded")
    assert len(folder_files(server, BOB, "INBOX")) == 1


def test_redirect_to_local_address(server):
    install(server, BOB, 'require "copy";\nredirect :copy "carol@example.org";\n')
    send_mail(server, ALICE, [BOB], message("forward me"))
    wait_files(server, CAROL, "INBOX", 1)
    wait_files(server, BOB, "INBOX", 1)
    server.wait_log(r"sieve: redirect to <carol@example\.org>")


def test_reject_bounces_to_sender(server):
    install(server, BOB, 'require "reject";\nif header :contains "subject" "buy" '
            '{ reject "I do not want this"; }\n')
    send_mail(server, ALICE, [BOB], message("buy now"))
    files = wait_files(server, ALICE, "INBOX", 1)
    text = open(files[0], "rb").read()
    assert b"I do not want this" in text and b"5.7.1" in text
    assert folder_files(server, BOB, "INBOX") == []


def test_broken_script_keeps_and_logs(server):
    install(server, BOB, 'require "fileinto";\n\nfileinto "x"\n')
    send_mail(server, ALICE, [BOB], message())
    wait_files(server, BOB, "INBOX", 1)
    server.wait_log(r"sieve: .*main\.sieve: line 4: expected ';'.*keeping in INBOX")


def test_runtime_error_keeps_and_logs(server):
    install(server, BOB, 'require "regex";\nif header :regex "subject" "(" { discard; }\n')
    send_mail(server, ALICE, [BOB], message())
    wait_files(server, BOB, "INBOX", 1)
    server.wait_log(r"run failed, line 2: bad regular expression")


def test_changed_script_is_used(server):
    install(server, BOB, 'discard;\n')
    send_mail(server, ALICE, [BOB], message("one"))
    server.wait_log(r"sieve: discarded")
    time.sleep(0.01)
    install(server, BOB, 'keep;\n', name="other")
    send_mail(server, ALICE, [BOB], message("two"))
    files = wait_files(server, BOB, "INBOX", 1)
    assert b"Subject: two" in open(files[0], "rb").read()


def test_active_file_naming_the_script(server):
    install(server, BOB, 'require "fileinto";\nfileinto :create "A";\n'
            .replace('"fileinto"', '["fileinto", "mailbox"]'), name="named")
    link = os.path.join(server.maildir(BOB), "sieve", "active")
    os.unlink(link)
    with open(link, "w") as f:
        f.write("named\n")
    chown_like_data(server, os.path.dirname(link))
    send_mail(server, ALICE, [BOB], message())
    wait_files(server, BOB, "A", 1)


def test_hostile_script_does_not_hang(server):
    tests = ",".join('header :matches ["subject", "from", "to"] "*a*b*c*d*e*"'
                     for _ in range(10000))
    install(server, BOB, f"if anyof({tests}) {{ discard; }}\n")
    t0 = time.time()
    send_mail(server, ALICE, [BOB], message("a" * 900))
    wait_files(server, BOB, "INBOX", 1)
    assert time.time() - t0 < 10
    server.wait_log(r"too many steps")


def test_cli_put_check_activate_then_delivery_follows(server, tmp_path):
    """`correio user sieve`: a script with an error is refused with its
    line; a good one is stored, listed, read back and activated, and the
    next message follows it."""
    bad = tmp_path / "bad.sieve"
    bad.write_text('require "fileinto";\nif header :contains "subject" "x" {\n'
                   '  fileinto "X"\n}\n')
    r = server.cli("user", "sieve", BOB, "check", str(bad), check=False)
    assert r.returncode == 1 and "line 4: expected ';'" in r.stderr, r.stderr
    r = server.cli("user", "sieve", BOB, "put", "bad", str(bad), check=False)
    assert r.returncode == 1 and "line 4" in r.stderr, r.stderr

    good = tmp_path / "good.sieve"
    text = ('require ["fileinto", "mailbox"];\nif header :contains "subject" "report" {\n'
            '  fileinto :create "Reports";\n}\n')
    good.write_text(text)
    assert "OK" in server.cli("user", "sieve", BOB, "check", str(good)).stdout
    server.cli("user", "sieve", BOB, "put", "main", str(good))
    assert server.cli("user", "sieve", BOB, "list").stdout == "main\n"
    assert server.cli("user", "sieve", BOB, "get", "main").stdout == text
    r = server.cli("user", "sieve", BOB, "activate", "nosuch", check=False)
    assert r.returncode == 1 and "no script named nosuch" in r.stderr
    server.cli("user", "sieve", BOB, "activate", "main")
    assert server.cli("user", "sieve", BOB, "list").stdout == "main ACTIVE\n"
    r = server.cli("user", "sieve", "nobody@example.org", "list", check=False)
    assert r.returncode == 1 and "no such user" in r.stderr

    send_mail(server, ALICE, [BOB], message("monthly report"))
    wait_files(server, BOB, "Reports", 1)
    assert folder_files(server, BOB, "INBOX") == []
    assert "Reports" in str(imap_list(server, BOB))


def imap_list(server, address):
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as m:
        m.login(address, "secret")
        typ, data = m.list()
        assert typ == "OK"
        return data


VACATION = """require ["vacation"];
vacation :days 3 :subject "Away" :addresses ["robert@example.org"]
  "I am away until Monday.";
"""


def test_vacation_one_reply_per_sender_per_period(server):
    install(server, BOB, VACATION)
    send_mail(server, ALICE, [BOB], message("first", "Message-ID: <m1@example.org>\r\n"))
    replies = wait_files(server, ALICE, "INBOX", 1)
    reply = open(replies[0], "rb").read().decode()
    head, _, body = reply.partition("\n\n")
    assert "Return-Path: <>" in head                # from the null sender
    assert "\nAuto-Submitted: auto-replied" in head  # RFC 3834
    assert "\nIn-Reply-To: <m1@example.org>" in head
    assert "\nReferences: <m1@example.org>" in head
    assert "\nSubject: Away" in head
    assert f"\nTo: <{ALICE}>" in head and f"\nFrom: <{BOB}>" in head
    assert "I am away until Monday." in body
    wait_files(server, BOB, "INBOX", 1)             # the message itself is kept
    # the same sender again within the period: no second reply
    send_mail(server, ALICE, [BOB], message("second"))
    wait_files(server, BOB, "INBOX", 2)
    server.wait_log(r"vacation: already replied to <alice@example\.org>")
    time.sleep(0.3)
    assert len(folder_files(server, ALICE, "INBOX")) == 1
    # another sender gets its own reply
    send_mail(server, CAROL, [BOB], message("third"))
    wait_files(server, CAROL, "INBOX", 1)


@pytest.mark.parametrize("sender,extra,why", [
    ("", "", "null sender"),
    (ALICE, "List-Id: <announce.example.org>\r\n", "list"),
    (ALICE, "Precedence: bulk\r\n", "bulk"),
    (ALICE, "Auto-Submitted: auto-generated\r\n", "automatic"),
    ("owner-announce@example.org", "", "list owner"),
])
def test_vacation_never_to_lists_bulk_or_null_sender(server, sender, extra, why):
    install(server, BOB, VACATION)
    send_mail(server, sender, [BOB], message("x", extra))
    wait_files(server, BOB, "INBOX", 1)
    # a message after it that does get a reply: the script is active, and
    # a reply to the first would have been sent before this one
    send_mail(server, CAROL, [BOB], message("marker"))
    wait_files(server, CAROL, "INBOX", 1)
    time.sleep(0.3)
    assert folder_files(server, ALICE, "INBOX") == [], why
    assert server.read_log().count("vacation: replied") == 1, why


def test_vacation_not_addressed_to_user(server):
    """Only mail that names the user (or one of :addresses) in To/Cc gets
    a reply: not a Bcc through a list or alias."""
    install(server, BOB, VACATION)
    text = f"From: <{ALICE}>\r\nTo: <someone@example.net>\r\nSubject: x\r\n\r\nhi\r\n"
    send_mail(server, ALICE, [BOB], text)
    wait_files(server, BOB, "INBOX", 1)
    text = f"From: <{ALICE}>\r\nTo: <robert@example.org>\r\nSubject: y\r\n\r\nhi\r\n"
    send_mail(server, ALICE, [BOB], text)
    wait_files(server, ALICE, "INBOX", 1)
    assert len(folder_files(server, ALICE, "INBOX")) == 1


def test_include_personal(server):
    """include :personal runs another script of the account; return ends
    it only; a missing script is a run-time error (message kept, logged)."""
    install(server, BOB, 'require ["fileinto", "mailbox", "include"];\n'
            'if header :contains "subject" "list" { fileinto :create "Lists"; return; }\n'
            'fileinto :create "Other";\n', name="sort")
    # the flags at the time of each fileinto (RFC 5232), set before including
    install(server, BOB, 'require ["include", "imap4flags"];\naddflag "\\\\Flagged";\n'
            'include :personal "sort";\nremoveflag "\\\\Flagged";\n')
    send_mail(server, ALICE, [BOB], message("a list message"))
    send_mail(server, ALICE, [BOB], message("plain"))
    assert wait_files(server, BOB, "Lists", 1)[0].endswith(":2,F")
    assert wait_files(server, BOB, "Other", 1)[0].endswith(":2,F")
    assert folder_files(server, BOB, "INBOX") == []
    install(server, BOB, 'require "include";\n\ninclude "missing";\ndiscard;\n', name="m2")
    send_mail(server, ALICE, [BOB], message("third"))
    wait_files(server, BOB, "INBOX", 1)
    server.wait_log(r'line 3: include "missing": no such script')


def test_redirect_to_itself_keeps(server):
    """A redirect to the account itself must not lose the message."""
    install(server, BOB, 'redirect "bob@example.org";\n')
    send_mail(server, ALICE, [BOB], message("loop"))
    wait_files(server, BOB, "INBOX", 1)
    server.wait_log(r"redirect to itself or back to <bob@example\.org>, keeping in INBOX")


def test_redirect_loop_between_accounts_keeps(server):
    """bob redirects to carol, carol to dave, dave back to carol: the
    message must not be lost; it stays with dave, whose redirect closes
    the loop."""
    dave = "dave@example.org"
    server.add_user(dave)
    install(server, BOB, 'redirect "carol@example.org";\n')
    install(server, CAROL, f'redirect "{dave}";\n')
    install(server, dave, 'redirect "carol@example.org";\n')
    send_mail(server, ALICE, [BOB], message("loop"))
    wait_files(server, dave, "INBOX", 1)
    assert folder_files(server, BOB, "INBOX") == []
    assert folder_files(server, CAROL, "INBOX") == []


def test_redirect_chain_is_bounded(server):
    """Accounts that redirect one to the next: past 8 nested redirects
    the message stays where it is (bounded work, nothing lost)."""
    users = [f"u{i}@example.org" for i in range(11)]
    for i, u in enumerate(users):
        server.add_user(u)
        if i + 1 < len(users):
            install(server, u, f'redirect "{users[i + 1]}";\n')
    send_mail(server, ALICE, [users[0]], message("chain"))
    wait_files(server, users[8], "INBOX", 1)
    server.wait_log(r"redirects nested too deeply, keeping in INBOX")
    for u in users[:8] + users[9:]:
        assert folder_files(server, u, "INBOX") == [], u


def test_keywords_filed_and_seen_by_imap(server):
    """imap4flags keywords ($Label1, Work, ...) are filed with the message:
    IMAP FETCH FLAGS shows them beside the system flags, in INBOX (addflag,
    implicit keep) and in a folder (fileinto :flags)."""
    install(server, BOB, """require ["fileinto", "mailbox", "imap4flags"];
addflag ["$Label1", "\\\\Seen"];
if header :contains "subject" "work" {
    fileinto :create :flags ["Work", "$Label2", "\\\\Flagged"] "Jobs";
}
""")
    send_mail(server, ALICE, [BOB], message("work to do"))
    send_mail(server, ALICE, [BOB], message("hello"))
    wait_files(server, BOB, "Jobs", 1)
    wait_files(server, BOB, "INBOX", 1)
    got = imap_fetch(server, BOB, "INBOX")
    assert len(got) == 1, got
    for flags, _ in got:
        assert "$Label1" in flags and "\\Seen" in flags, got
    got = imap_fetch(server, BOB, "Jobs")
    assert len(got) == 1, got
    flags = got[0][0]
    assert "Work" in flags and "$Label2" in flags and "\\Flagged" in flags, got
    assert "$Label1" not in flags, got
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as m:
        m.login(BOB, "secret")
        typ, _ = m.select("INBOX")
        typ, data = m.search(None, "KEYWORD", "$Label1")
        assert typ == "OK" and data[0].split() == [b"1"], data


def test_keywords_new_while_folder_selected(server):
    """A keyword the folder does not know yet, delivered while an IMAP
    session has the folder selected, is shown to that session and kept
    when the session adds a keyword of its own."""
    install(server, BOB, 'require "imap4flags";\naddflag "$Old";\n')
    send_mail(server, ALICE, [BOB], message("first"))
    wait_files(server, BOB, "INBOX", 1)
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as m:
        m.login(BOB, "secret")
        m.select("INBOX")
        install(server, BOB, 'require "imap4flags";\naddflag "$Fresh";\n')
        send_mail(server, ALICE, [BOB], message("second"))
        wait_files(server, BOB, "INBOX", 2)
        deadline = time.time() + 10
        flags = ""
        while time.time() < deadline and "$Fresh" not in flags:
            m.noop()
            typ, data = m.fetch("2", "(FLAGS)")
            flags = data[0].decode() if data and data[0] else ""
            time.sleep(0.05)
        assert "$Fresh" in flags, flags
        typ, _ = m.store("1", "+FLAGS", "(Mine)")
        assert typ == "OK"
    got = imap_fetch(server, BOB, "INBOX")
    assert "$Old" in got[0][0] and "Mine" in got[0][0], got
    assert "$Fresh" in got[1][0], got


def test_mbox_account_runs_sieve():
    """An mbox account's script runs too: fileinto a folder files into that
    (Maildir++) folder with its flags and keywords, a keep files into the
    mbox INBOX with the flags written as Status:/X-Status:/X-Keywords:
    (the sender's dropped), which IMAP shows; discard files nothing."""
    dora = "dora@example.org"
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n")
    try:
        s.add_user(ALICE)
        s.add_user(dora, "secret", "--mbox")
        s.start()
        # managed as any account's: `correio user sieve` (and ManageSieve)
        script = os.path.join(s.dir, "dora.sieve")
        with open(script, "w") as f:
            f.write("""require ["fileinto", "mailbox", "imap4flags"];
if header :contains "subject" "drop" { discard; stop; }
if header :contains "subject" "work" {
    fileinto :create :flags ["\\\\Flagged", "$Work"] "Jobs";
    stop;
}
addflag ["\\\\Seen", "$Label1", "\\\\Answered"];
""")
        for args in (("put", "main", script), ("activate", "main")):
            r = s.cli("user", "sieve", dora, *args, check=False)
            assert r.returncode == 0, r.stderr
        send_mail(s, ALICE, [dora], message("work item").replace("<" + BOB + ">", dora))
        send_mail(s, ALICE, [dora], message("kept", extra="Status: O\r\nX-Status: D\r\n"
                                            "X-Keywords: Forged\r\n"))
        send_mail(s, ALICE, [dora], message("drop this"))
        wait_files(s, dora, "Jobs", 1)
        s.wait_log(r"to=<dora@example.org>, sieve: discarded")
        deadline = time.time() + 10
        while time.time() < deadline:
            with imaplib.IMAP4("127.0.0.1", s.imap_port) as m:
                m.login(dora, "secret")
                m.select("INBOX")
                typ, data = m.search(None, "ALL")
                if len(data[0].split()) >= 1:
                    break
            time.sleep(0.1)
        got = imap_fetch(s, dora, "INBOX")
        assert len(got) == 1 and "kept" in got[0][1], got
        flags = got[0][0]
        assert "\\Seen" in flags and "\\Answered" in flags and "$Label1" in flags, flags
        assert "\\Deleted" not in flags and "Forged" not in flags, flags
        got = imap_fetch(s, dora, "Jobs")
        assert len(got) == 1 and "work item" in got[0][1], got
        assert "\\Flagged" in got[0][0] and "$Work" in got[0][0], got
        assert not glob.glob(os.path.join(s.maildir(dora), "new", "*"))
    finally:
        s.cleanup()


def test_include_global_and_server_scripts():
    """include :global runs a script of [sieve] global_dir, sharing the
    variables both declare "global" (RFC 6609); [sieve] before and after
    run around every account's script (also for an account without one),
    and a stop in the account's script skips the after script."""
    s = Server()
    try:
        gdir = os.path.join(s.dir, "sieve-global")
        os.makedirs(gdir)
        with open(os.path.join(gdir, "spam.sieve"), "w") as f:
            f.write('require ["fileinto", "mailbox", "variables", "include"];\n'
                    'global "verdict";\n'
                    'if header :contains "subject" "viagra" { set "verdict" "spam";\n'
                    '  fileinto :create "Junk"; }\n')
        with open(os.path.join(s.dir, "before.sieve"), "w") as f:
            f.write('require ["imap4flags"];\naddflag "$Checked";\n')
        with open(os.path.join(s.dir, "after.sieve"), "w") as f:
            f.write('require ["fileinto", "mailbox", "copy"];\n'
                    'if header :contains "subject" "archive" '
                    '{ fileinto :copy :create "Archive"; }\n')
        s.write_config("example.org, localhost",
                       "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
                       f"[sieve]\nglobal_dir = {gdir}\nbefore = {s.dir}/before.sieve\n"
                       f"after = {s.dir}/after.sieve\n")
        for a in (ALICE, BOB, CAROL):
            s.add_user(a)
        s.start()
        install(s, BOB, 'require ["include", "variables", "fileinto", "mailbox"];\n'
                'global "verdict";\ninclude :global "spam";\n'
                'if string :is "${verdict}" "spam" { stop; }\n'
                'if header :contains "subject" "stopnow" { stop; }\n'
                'include :global :optional "missing";\n')
        send_mail(s, ALICE, [BOB], message("cheap viagra archive"))
        send_mail(s, ALICE, [BOB], message("stopnow archive"))
        send_mail(s, ALICE, [BOB], message("please archive"))
        send_mail(s, ALICE, [CAROL], message("carol archive"))
        wait_files(s, BOB, "Junk", 1)
        wait_files(s, BOB, "Archive", 1)
        wait_files(s, BOB, "INBOX", 2)
        wait_files(s, CAROL, "Archive", 1)
        wait_files(s, CAROL, "INBOX", 1)
        assert len(folder_files(s, BOB, "Junk")) == 1
        got = imap_fetch(s, BOB, "Junk")
        assert "viagra" in got[0][1] and "$Checked" in got[0][0], got
        got = imap_fetch(s, BOB, "Archive")
        assert len(got) == 1 and "please archive" in got[0][1], got
        got = imap_fetch(s, BOB, "INBOX")
        assert sorted(x[1] for x in got) == ["Subject: please archive",
                                             "Subject: stopnow archive"], got
        assert all("$Checked" in x[0] for x in got), got
        got = imap_fetch(s, CAROL, "Archive")
        assert len(got) == 1 and "$Checked" in got[0][0], got
    finally:
        s.cleanup()


def test_flags_not_imap_atoms_are_dropped():
    """imap4flags words that are not IMAP flags (RFC 3501 atoms: no
    parentheses, braces, quotes, '%', '*', ']', control characters; a
    system flag is '\\' and such an atom) are left out of what is filed,
    whether the script wrote them or a variable took them from the
    message: a keyword with a line break must not add a header field to an
    mbox account's message (X-Keywords:), and IMAP FETCH FLAGS must stay
    parseable for both mbox and Maildir accounts."""
    dora = "dora@example.org"
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n")
    try:
        s.add_user(ALICE)
        s.add_user(BOB)
        s.add_user(dora, "secret", "--mbox")
        s.start()
        text = ('require ["imap4flags", "variables"];\n'
                'addflag ["$Good", "evil\r\nX-Injected: yes", "a(b", "c{3}", "d]",'
                ' "e\\"f", "g%", "h*", "\\\\Seen", "\\\\Bad(", "\\\\"];\n'
                'if header :matches "subject" "tag *" { addflag "${1}"; }\n')
        script = os.path.join(s.dir, "flags.sieve")
        with open(script, "w", newline="") as f:
            f.write(text)
        for who in (dora, BOB):
            for args in (("put", "main", script), ("activate", "main")):
                r = s.cli("user", "sieve", who, *args, check=False)
                assert r.returncode == 0, r.stderr
        for who in (dora, BOB):
            send_mail(s, ALICE, [who], message("tag Ok (x) {9}").replace("<" + BOB + ">", who))
        wait_files(s, BOB, "INBOX", 1)
        deadline = time.time() + 10
        while time.time() < deadline:
            with imaplib.IMAP4("127.0.0.1", s.imap_port) as m:
                m.login(dora, "secret")
                m.select("INBOX")
                typ, data = m.search(None, "ALL")
                if len(data[0].split()) >= 1:
                    break
            time.sleep(0.1)
        for who in (dora, BOB):
            with imaplib.IMAP4("127.0.0.1", s.imap_port) as m:
                m.login(who, "secret")
                m.select("INBOX")
                typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER])")
                assert typ == "OK", data
                flags = data[0][0].decode()
                header = data[0][1].decode()
                assert "X-Injected" not in header, header
                inner = flags[flags.index("FLAGS (") + 7:flags.index(")", flags.index("FLAGS ("))]
                words = sorted(w for w in inner.split() if w != "\\Recent")
                # "yes" is the word after the space of "...Injected: yes"
                assert words == sorted(["$Good", "\\Seen", "Ok", "yes"]), (who, flags)
    finally:
        s.cleanup()


def test_mbox_keywords_line_stays_within_the_line_limit():
    """A script that adds hundreds of keywords: an mbox account's message
    gets an X-Keywords: line of whole keywords within the 998 characters
    RFC 5322 allows a line (the store reads no more of it), never a
    keyword cut short."""
    dora = "dora@example.org"
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n")
    try:
        s.add_user(ALICE)
        s.add_user(dora, "secret", "--mbox")
        s.start()
        words = [f"kw{i:04d}" for i in range(300)]
        script = os.path.join(s.dir, "many.sieve")
        with open(script, "w") as f:
            f.write('require "imap4flags";\naddflag "%s";\n' % " ".join(words))
        for args in (("put", "main", script), ("activate", "main")):
            r = s.cli("user", "sieve", dora, *args, check=False)
            assert r.returncode == 0, r.stderr
        send_mail(s, ALICE, [dora], message("many").replace("<" + BOB + ">", dora))
        deadline = time.time() + 10
        data = None
        while time.time() < deadline:
            with imaplib.IMAP4("127.0.0.1", s.imap_port) as m:
                m.login(dora, "secret")
                m.select("INBOX")
                typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER])")
                if typ == "OK" and data and data[0]:
                    break
            time.sleep(0.1)
        flags = data[0][0].decode()
        header = data[0][1].decode()
        assert max(len(line) for line in header.split("\r\n")) <= 998, header
        kw = [line for line in header.split("\r\n") if line.startswith("X-Keywords:")]
        assert len(kw) == 1 and kw[0].split()[1] == "kw0000", header
        assert all(w in words for w in kw[0].split()[1:]), kw
        inner = flags[flags.index("FLAGS (") + 7:flags.index(")", flags.index("FLAGS ("))]
        shown = [w for w in inner.split() if not w.startswith("\\")]
        assert shown and all(w in words for w in shown), flags
    finally:
        s.cleanup()
