"""`correio mail`, the mail client, against a correio server started by the
test: IMAP with STARTTLS and submission with STARTTLS, the server's
self-signed certificate pinned with tls_pin."""

import email
import email.policy
import json
import os
import re
import subprocess
import time

import pytest

from correio_harness import running_server, send_mail
from mail_client import BIN, MailClient, imap_login, uuencode


@pytest.fixture
def srv():
    yield from running_server(("alice@example.org", "alice-pw"),
                              ("bob@example.org", "bob-pw"),
                              ("carol@example.org", "carol-pw"))


@pytest.fixture
def alice(srv):
    return MailClient(srv.dir, "alice", "alice@example.org", "alice-pw", srv)


@pytest.fixture
def bob(srv):
    return MailClient(srv.dir, "bob", "bob@example.org", "bob-pw", srv)


def wait_list(client, count, *args, timeout=10):
    """`list --json` once it shows count messages."""
    deadline = time.time() + timeout
    while True:
        items = json.loads(client.run("list", "--json", *args).stdout)
        if len(items) >= count or time.time() > deadline:
            return items
        time.sleep(0.1)


def files_for_attachments(tmp):
    binary = bytes(range(256)) * 4
    names = {"all-bytes.bin": binary,
             "Relatório ñandú 日本.txt": "relatório\n".encode(),
             "notes.txt": b"first line\nsecond line\n"}
    paths = []
    for name, data in names.items():
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        paths.append(p)
    return names, paths


def test_send_three_attachments_and_save_them_back_byte_exact(srv, alice, bob, tmp_path):
    names, paths = files_for_attachments(str(tmp_path))
    args = ["send", "--to", "bob@example.org", "--subject", "Três anexos"]
    for p in paths:
        args += ["--attach", p]
    r = alice.run(*args, stdin="The files you asked for.\n")
    assert "Sent." in r.stdout

    # what went over the wire is proper MIME
    stored = srv.read_message(srv.wait_messages("bob@example.org", 1)[0])
    msg = email.message_from_bytes(stored, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    assert str(msg["Subject"]) == "Três anexos"
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == list(names)
    assert all(p["Content-Transfer-Encoding"] == "base64" for p in parts)
    assert b"filename*=UTF-8''Relat%C3%B3rio%20%C3%B1and%C3%BA%20%E6%97%A5%E6%9C%AC.txt" in stored
    assert parts[2].get_content_type() == "text/plain"

    items = wait_list(bob, 1)
    assert items[0]["subject"] == "Três anexos"
    out = tmp_path / "saved"
    bob.run("save", "1", str(out))
    for name, data in names.items():
        assert (out / name).read_bytes() == data, name

    # never overwrite without --force
    r = bob.run("save", "1", str(out), check=False)
    assert r.returncode != 0 and "exists" in r.stderr and "--force" in r.stderr
    (out / "notes.txt").write_bytes(b"changed")
    bob.run("save", "1", str(out), "--force")
    assert (out / "notes.txt").read_bytes() == names["notes.txt"]

    # a copy is in alice's Sent folder (the \Sent special-use folder)
    sent = json.loads(alice.run("list", "Sent", "--json").stdout)
    assert [m["subject"] for m in sent] == ["Três anexos"]
    assert "\\Seen" in sent[0]["flags"]


def test_read_uuencoded_file_in_plain_text_body_and_save_it(srv, bob, tmp_path):
    payload = bytes(range(256)) + b"uuencoded payload\n" * 20
    body = (b"Subject: old style\r\nFrom: carol@example.org\r\nTo: bob@example.org\r\n\r\n"
            b"Here is the file:\r\n\r\n" + uuencode("report.dat", payload).replace(b"\n", b"\r\n")
            + b"\r\nbye\r\n")
    send_mail(srv, "carol@example.org", ["bob@example.org"], body)
    wait_list(bob, 1)
    r = bob.run("read", "1")
    assert "Here is the file:" in r.stdout and "bye" in r.stdout
    assert "report.dat" in r.stdout
    assert "begin 644" not in r.stdout  # the block is shown as an attachment
    bob.run("save", "1", str(tmp_path))
    assert (tmp_path / "report.dat").read_bytes() == payload


def test_list_read_search_and_json(srv, alice, bob):
    send_mail(srv, "carol@example.org", ["alice@example.org"],
              "From: Carol <carol@example.org>\r\nTo: alice@example.org\r\n"
              "Subject: =?UTF-8?Q?Caf=C3=A9_tonight?=\r\nDate: Mon, 3 Jun 2024 10:00:00 +0000\r\n"
              "Content-Type: text/html; charset=utf-8\r\n\r\n"
              "<html><head><style>p{}</style></head><body><p>Meet at the "
              "<b>caf&eacute;</b> &amp; bring cake</p></body></html>\r\n")
    alice_list = None
    send_mail(srv, "dave@example.org", ["alice@example.org"],
              "From: dave@example.org\r\nTo: alice@example.org\r\nSubject: invoice 42\r\n\r\n"
              "Please pay the invoice.\r\n")
    alice_list = wait_list(alice, 2)
    assert [m["number"] for m in alice_list] == [1, 2]
    assert alice_list[0]["subject"] == "Café tonight"
    assert alice_list[0]["from"] == "Carol"
    assert alice_list[0]["flags"] == []
    text = alice.run("list").stdout
    assert re.search(r"^\s+1 N .*Carol\s+Café tonight", text, re.M), text
    assert "2024-06-03" in text

    # HTML-only mail is rendered as text; reading marks it \Seen
    r = alice.run("read", "1")
    assert "Meet at the caf" in r.stdout and "& bring cake" in r.stdout
    assert "<b>" not in r.stdout and "p{}" not in r.stdout
    assert "Subject: Café tonight" in r.stdout
    # on a terminal whose charset is ASCII the text is converted, not
    # written as UTF-8 bytes; --json stays UTF-8
    r = alice.run("read", "1", env={"LC_ALL": "C", "LANG": "C"})
    assert "Subject: Caf? tonight" in r.stdout and r.stdout.isascii(), r.stdout
    r = alice.run("list", "--json", env={"LC_ALL": "C", "LANG": "C"})
    assert json.loads(r.stdout)[0]["subject"] == "Café tonight"
    js = json.loads(alice.run("read", "2", "--json").stdout)
    assert js["subject"] == "invoice 42" and "Please pay" in js["text"]
    assert js["attachments"] == []
    flags = {m["number"]: m["flags"] for m in json.loads(alice.run("list", "--json").stdout)}
    assert "\\Seen" in flags[1] and "\\Seen" in flags[2]

    # --unseen and --limit
    send_mail(srv, "erin@example.org", ["alice@example.org"],
              "From: erin@example.org\r\nSubject: third\r\n\r\nthird body\r\n")
    wait_list(alice, 3)
    unseen = json.loads(alice.run("list", "--unseen", "--json").stdout)
    assert [m["subject"] for m in unseen] == ["third"]
    last = json.loads(alice.run("list", "--limit", "2", "--json").stdout)
    assert [m["number"] for m in last] == [2, 3]

    # server-side search
    found = json.loads(alice.run("search", "invoice", "--json").stdout)
    assert [m["number"] for m in found] == [2]
    found = json.loads(alice.run("search", "--from", "carol", "--json").stdout)
    assert [m["subject"] for m in found] == ["Café tonight"]
    assert json.loads(alice.run("search", "nowhere-to-be-found", "--json").stdout) == []

    # no such message: an error and a non-zero status
    r = alice.run("read", "99", check=False)
    assert r.returncode == 1 and "no message 99" in r.stderr


def test_reply_and_forward(srv, alice, bob, tmp_path):
    bob.run("send", "--to", "alice@example.org", "--cc", "carol@example.org",
            "--subject", "Lunch?", stdin="Shall we have lunch?\n")
    wait_list(alice, 1)
    alice.run("reply", "1", stdin="Yes, at noon.\n")
    items = wait_list(bob, 1)
    r = json.loads(bob.run("read", "1", "--json").stdout)
    assert r["subject"] == "Re: Lunch?"
    assert r["to"] == "bob@example.org"
    assert r["cc"] == ""
    assert r["text"].startswith("Yes, at noon.")
    assert "> Shall we have lunch?" in r["text"]
    orig = json.loads(alice.run("read", "1", "--json").stdout)
    raw = srv.read_message(srv.messages("bob@example.org")[0])
    assert b"In-Reply-To: " + orig["message_id"].encode() in raw
    # the original is marked answered
    assert "\\Answered" in json.loads(alice.run("list", "--json").stdout)[0]["flags"]

    # reply to all: carol (Cc) too, not alice herself
    alice.run("reply", "1", "--all", stdin="Carol too.\n")
    raw = srv.read_message(srv.wait_messages("bob@example.org", 2)[-1])
    assert re.search(rb"^Cc: carol@example.org$", raw, re.M), raw

    # forward keeps the attachments
    att = tmp_path / "plan.bin"
    att.write_bytes(bytes(range(256)))
    bob.run("send", "--to", "alice@example.org", "--subject", "the plan",
            "--attach", str(att), stdin="plan attached\n")
    wait_list(alice, 2)
    alice.run("forward", "2", "--to", "bob@example.org", stdin="FYI\n")
    srv.wait_messages("bob@example.org", 3)
    items = wait_list(bob, 3)
    fwd = [m for m in items if m["subject"] == "Fwd: the plan"]
    assert fwd, items
    js = json.loads(bob.run("read", str(fwd[0]["number"]), "--json").stdout)
    assert js["text"].startswith("FYI")
    assert "Forwarded message" in js["text"] and "plan attached" in js["text"]
    assert [a["name"] for a in js["attachments"]] == ["plan.bin"]
    out = tmp_path / "fwd"
    bob.run("save", str(fwd[0]["number"]), str(out))
    assert (out / "plan.bin").read_bytes() == bytes(range(256))


def test_delete_and_move(srv, alice):
    for i in range(3):
        send_mail(srv, "x@example.org", ["alice@example.org"],
                  f"From: x@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n")
    wait_list(alice, 3)
    alice.run("delete", "1")
    assert [m["subject"] for m in json.loads(alice.run("list", "--json").stdout)] == ["m1", "m2"]
    alice.run("move", "2", "Archive")
    assert [m["subject"] for m in json.loads(alice.run("list", "--json").stdout)] == ["m1"]
    assert [m["subject"] for m in json.loads(alice.run("list", "Archive", "--json").stdout)] == ["m2"]
    r = alice.run("move", "1", "No Such Folder", check=False)
    assert r.returncode == 1
    assert "Archive" in alice.run("folders").stdout.split("\n")
    # a folder name outside ASCII travels as modified UTF-7
    c = imap_login(srv, "alice@example.org", "alice-pw")
    assert c.create('"&AMk-t&AOk- 2024"')[0] == "OK"  # "Été 2024"
    c.logout()
    assert "Été 2024" in alice.run("folders").stdout.split("\n")
    alice.run("move", "1", "Été 2024")
    assert [m["subject"] for m in json.loads(alice.run("list", "Été 2024", "--json").stdout)] == ["m1"]
    alice.run("sync")
    cached = json.loads(alice.run("--offline", "list", "Été 2024", "--json").stdout)
    assert [m["subject"] for m in cached] == ["m1"]
    # a search for non-ASCII text
    send_mail(srv, "x@example.org", ["alice@example.org"],
              "From: x@example.org\r\nSubject: =?UTF-8?B?w6d1bmhhZG8=?=\r\n\r\nbody\r\n")
    wait_list(alice, 1)
    found = json.loads(alice.run("search", "--subject", "çunhado", "--json").stdout)
    assert [m["subject"] for m in found] == ["çunhado"]


def test_hostile_attachment_names_stay_in_the_directory(srv, bob, tmp_path):
    names = ["../../escape.txt", "/etc/passwd", "..", "a\x01b\x1b[31m.txt", ".hidden",
             "same.txt", "other/same.txt"]
    parts = []
    for i, n in enumerate(names):
        parts.append(f"--B\r\nContent-Type: application/octet-stream\r\n"
                     f"Content-Disposition: attachment; filename=\"{n}\"\r\n"
                     f"Content-Transfer-Encoding: base64\r\n\r\n"
                     f"{__import__('base64').b64encode(f'data {i}'.encode()).decode()}\r\n")
    body = ("From: mallory@example.org\r\nSubject: evil\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=B\r\n\r\n" + "".join(parts) + "--B--\r\n")
    send_mail(srv, "mallory@example.org", ["bob@example.org"], body)
    wait_list(bob, 1)
    out = tmp_path / "a" / "b"
    bob.run("save", "1", str(out))
    saved = sorted(os.listdir(out))
    assert len(saved) == 7, saved
    for n in saved:
        assert "/" not in n and not n.startswith(".") and n != ".."
        assert not any(ord(c) < 32 for c in n)
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "a" / "escape.txt").exists()
    assert "escape.txt" in saved and "passwd" in saved
    # two attachments of the same name in one message: both kept
    assert (out / "same.txt").read_bytes() == b"data 5"
    assert (out / "same-2.txt").read_bytes() == b"data 6"


def test_errors_a_person_understands(srv, alice, tmp_path):
    alice.password = "wrong"
    r = alice.run("list", check=False)
    assert r.returncode == 1 and "wrong user name or password" in r.stderr
    alice.password = "alice-pw"

    # a pinned certificate that is not the server's: refused, with the
    # fingerprint of the one presented
    other = MailClient(srv.dir, "other", "alice@example.org", "alice-pw", srv)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"),
                    "-days", "1", "-subj", "/CN=other"], check=True, capture_output=True)
    other.settings["tls_pin"] = str(tmp_path / "c.pem")
    other.write()
    r = other.run("list", check=False)
    assert r.returncode == 1 and "certificate mismatch" in r.stderr
    assert re.search(r"SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}", r.stderr), r.stderr
    # without a pin the self-signed certificate is not trusted by the system CAs
    del other.settings["tls_pin"]
    other.write()
    r = other.run("list", check=False)
    assert r.returncode == 1 and "not trusted" in r.stderr and "SHA-256" in r.stderr

    # unreachable server, no cache
    other.settings["port"] = 1
    other.write()
    r = other.run("list", check=False)
    assert r.returncode == 1 and "cannot reach 127.0.0.1 port 1" in r.stderr

    # a message bigger than the server takes (message_size = 1M)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1100 * 1024))
    r = alice.run("send", "--to", "bob@example.org", "--attach", str(big), stdin="x\n",
                  check=False)
    assert r.returncode == 1 and "message too big" in r.stderr, r.stderr

    # unknown command, bad number
    assert alice.run("frobnicate", check=False).returncode == 2
    assert alice.run("read", "zero", check=False).returncode == 2


def test_quota_full_is_reported(srv, alice, tmp_path):
    srv.cli("user", "add", "tiny@example.org", "--password-stdin", "--quota", "2k",
            stdin="tiny-pw\n")
    tiny = MailClient(srv.dir, "tiny", "tiny@example.org", "tiny-pw", srv)
    tiny.run("folders")
    payload = tmp_path / "p.bin"
    payload.write_bytes(os.urandom(4000))
    r = tiny.run("send", "--to", "alice@example.org", "--attach", str(payload),
                 stdin="x\n", check=False)
    # sent, but the copy for Sent does not fit the quota
    assert r.returncode == 1 and "mailbox full" in r.stderr, r.stderr
    # and mail to a full mailbox is refused by the server: said so
    r = alice.run("send", "--to", "tiny@example.org", "--attach", str(payload),
                  stdin="x\n", check=False)
    assert r.returncode == 1 and "mailbox full: recipient tiny@example.org" in r.stderr, r.stderr


def test_offline_cache_outbox_and_replay(srv, alice, bob, tmp_path):
    for i in range(5):
        send_mail(srv, "x@example.org", ["alice@example.org"],
                  f"From: x@example.org\r\nSubject: msg {i}\r\n\r\nbody {i}\r\n")
    wait_list(alice, 5)
    r = alice.run("sync")
    assert "synced" in r.stdout
    assert os.path.isdir(os.path.join(alice.cache, "folders", "INBOX", "cur"))

    srv.stop()
    # the server is unreachable: list/read/search work from the cache
    r = alice.run("list", "--json")
    assert "working offline" in r.stderr
    assert [m["subject"] for m in json.loads(r.stdout)] == [f"msg {i}" for i in range(5)]
    assert "body 2" in alice.run("read", "3").stdout
    found = json.loads(alice.run("--offline", "search", "--body", "body 1", "--json").stdout)
    assert [m["subject"] for m in found] == ["msg 1"]
    # compose offline: the message waits in the outbox
    r = alice.run("send", "--to", "bob@example.org", "--subject", "written offline",
                  stdin="from the train\n")
    assert "outbox" in r.stdout
    # delete, flag and move offline
    alice.run("delete", "1")
    alice.run("flag", "2", "+flagged")
    alice.run("flag", "3", "-seen")
    alice.run("move", "4", "Archive")
    assert [m["subject"] for m in json.loads(alice.run("list", "--json").stdout)] == \
        ["msg 1", "msg 2", "msg 3"]

    srv.start()
    # meanwhile "msg 3" (now number 3) is deleted by another client: a conflict
    c = imap_login(srv, "alice@example.org", "alice-pw")
    c.select("INBOX")
    c.store("4", "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.logout()
    r = alice.run("sync")
    assert "outbox: sent to 1 recipient" in r.stdout
    assert "conflict" in r.stderr and "gone from the server" in r.stderr
    # outbox sent
    items = wait_list(bob, 1)
    assert items[0]["subject"] == "written offline"
    assert os.listdir(os.path.join(alice.cache, "outbox")) == []
    # deletions and flags applied on the server
    c = imap_login(srv, "alice@example.org", "alice-pw")
    c.select("INBOX")
    typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
    flags = [d[0].decode() for d in data if isinstance(d, tuple)]
    assert subjects == ["Subject: msg 1", "Subject: msg 2"]
    assert "\\Flagged" in flags[1]
    c.select("Archive")
    typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert [d[1].decode().strip() for d in data if isinstance(d, tuple)] == ["Subject: msg 4"]
    sent = c.select("Sent")
    typ, data = c.search(None, "SUBJECT", '"written offline"')
    assert data[0].split(), "no copy of the outbox message in Sent"
    c.logout()
    # the cache follows the server
    cached = json.loads(alice.run("--offline", "list", "--json").stdout)
    assert [m["subject"] for m in cached] == ["msg 1", "msg 2"]
    archived = json.loads(alice.run("--offline", "list", "Archive", "--json").stdout)
    assert [m["subject"] for m in archived] == ["msg 4"]


def test_sync_follows_server_changes(srv, alice):
    for i in range(3):
        send_mail(srv, "x@example.org", ["alice@example.org"],
                  f"From: x@example.org\r\nSubject: s{i}\r\n\r\nbody\r\n")
    wait_list(alice, 3)
    c = imap_login(srv, "alice@example.org", "alice-pw")
    assert c.create("Scratch")[0] == "OK"
    c.logout()
    alice.run("sync")
    assert "Scratch" in alice.run("--offline", "folders").stdout.split()
    c = imap_login(srv, "alice@example.org", "alice-pw")
    assert c.delete("Scratch")[0] == "OK"
    c.select("INBOX")
    c.store("1", "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.store("1", "+FLAGS", "(\\Flagged)")
    c.logout()
    send_mail(srv, "x@example.org", ["alice@example.org"],
              "From: x@example.org\r\nSubject: s3\r\n\r\nbody\r\n")
    srv.wait_messages("alice@example.org", 3)
    r = alice.run("sync")
    # correio offers QRESYNC: the SELECT itself brought the changes
    assert re.search(r"\([1-9]\d* by QRESYNC, 0 by CONDSTORE\)", r.stdout), r.stdout
    assert "folder Scratch is gone from the server" in r.stdout
    assert "Scratch" not in alice.run("--offline", "folders").stdout.split()
    cached = json.loads(alice.run("--offline", "list", "--json").stdout)
    assert [m["subject"] for m in cached] == ["s1", "s2", "s3"]
    assert "\\Flagged" in cached[0]["flags"]
    # no Date: field: the arrival time is shown, online and offline
    now = time.time()
    online = json.loads(alice.run("list", "--json").stdout)
    for m in online + cached:
        assert abs(m["timestamp"] - now) < 600, m


def test_pop3_round_trip(srv, alice, tmp_path):
    pop = MailClient(srv.dir, "pop", "bob@example.org", "bob-pw", srv,
                     protocol="pop3", port=srv.pop3_port, tls="starttls")
    names, paths = files_for_attachments(str(tmp_path))
    alice.run("send", "--to", "bob@example.org", "--subject", "via pop",
              "--attach", paths[0], stdin="pop body\n")
    alice.run("send", "--to", "bob@example.org", "--subject", "second", stdin="two\n")
    srv.wait_messages("bob@example.org", 2)
    r = pop.run("sync", "--keep")
    assert "2 new messages, 0 deleted" in r.stdout
    assert len(srv.messages("bob@example.org")) == 2
    r = pop.run("sync")  # nothing new; now deleted on the server
    assert "0 new messages, 2 deleted" in r.stdout
    assert srv.messages("bob@example.org") == []
    items = json.loads(pop.run("list", "--json").stdout)
    assert [m["subject"] for m in items] == ["via pop", "second"]
    assert "pop body" in pop.run("read", "1").stdout
    pop.run("save", "1", str(tmp_path / "out"))
    assert (tmp_path / "out" / "all-bytes.bin").read_bytes() == names["all-bytes.bin"]
    # a POP3 account sends over SMTP too
    pop.run("send", "--to", "alice@example.org", "--subject", "from pop", stdin="hi\n")
    assert [m["subject"] for m in wait_list(alice, 1)] == ["from pop"]


def test_password_command_and_bcc(srv, alice, bob, tmp_path):
    carol = MailClient(srv.dir, "carol", "carol@example.org", "", srv,
                       password_command="echo carol-pw")
    r = carol.run("list", env={"CORREIO_MAIL_PASSWORD": ""}, check=False)
    # an empty variable is still the variable: it wins, and is wrong
    assert r.returncode == 1 and "wrong user name or password" in r.stderr
    env = dict(os.environ)
    env.pop("CORREIO_MAIL_PASSWORD", None)
    r = subprocess.run([BIN, "mail", "-c", carol.conf, "folders"], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "INBOX" in r.stdout, r.stderr
    # a failing password command is an error, not a prompt
    carol.settings["password_command"] = "false"
    carol.write()
    r = subprocess.run([BIN, "mail", "-c", carol.conf, "folders"], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "password_command failed" in r.stderr

    # Bcc: delivered, but not written in the message the others get
    alice.run("send", "--to", "bob@example.org", "--bcc", "carol@example.org",
              "--subject", "quiet copy", stdin="hi\n")
    bob_msg = srv.read_message(srv.wait_messages("bob@example.org", 1)[0])
    carol_msg = srv.read_message(srv.wait_messages("carol@example.org", 1)[0])
    assert b"quiet copy" in bob_msg and b"quiet copy" in carol_msg
    assert b"carol" not in bob_msg
    assert b"Bcc:" not in bob_msg and b"Bcc:" not in carol_msg


def test_quoted_printable_and_base64_attachments_with_uuencoded_text(srv, bob, tmp_path):
    # (the line break before a boundary belongs to the boundary, RFC 2046)
    qp_text = "caf\u00e9 = coffee\n" + "x" * 100
    body = ("From: carol@example.org\r\nSubject: mixed\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=XY\r\n\r\n"
            "--XY\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
            + uuencode("inline.bin", b"\x00\x01uu\xff").decode().replace("\n", "\r\n")
            + "--XY\r\nContent-Type: text/plain; charset=utf-8; name=menu.txt\r\n"
            "Content-Disposition: attachment; filename=menu.txt\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "caf=C3=A9 =3D coffee\r\n" + "x" * 70 + "=\r\n" + "x" * 30 + "\r\n"
            "--XY--\r\n")
    send_mail(srv, "carol@example.org", ["bob@example.org"], body)
    wait_list(bob, 1)
    js = json.loads(bob.run("read", "1", "--json").stdout)
    assert sorted(a["name"] for a in js["attachments"]) == ["inline.bin", "menu.txt"]
    bob.run("save", "1", str(tmp_path))
    assert (tmp_path / "menu.txt").read_bytes() == qp_text.encode()
    assert (tmp_path / "inline.bin").read_bytes() == b"\x00\x01uu\xff"


def fake_imap(script):
    """A hostile IMAP server on loopback: greets, accepts LOGIN, then
    answers the next command with script (bytes; TAG becomes the
    command's tag).  Returns its port."""
    import socket
    import threading
    srv_sock = socket.socket()
    srv_sock.bind(("127.0.0.1", 0))
    srv_sock.listen(1)

    def serve():
        conn, _ = srv_sock.accept()
        conn.settimeout(10)
        f = conn.makefile("rb")
        try:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1] fake\r\n")
            for line in f:
                tag = line.split(b" ")[0]
                if b"LOGIN" in line.upper() or b"CAPABILITY" in line.upper():
                    conn.sendall(tag + b" OK [CAPABILITY IMAP4rev1] done\r\n")
                    continue
                conn.sendall(script.replace(b"TAG", tag))
                break
            conn.recv(100)
        except OSError:
            pass
        finally:
            conn.close()
            srv_sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv_sock.getsockname()[1]


@pytest.mark.parametrize("script,why", [
    (b"* LIST () \"/\" {99999999999}\r\n", "literal too big"),
    (b"* LIST () \"/\" " + b"A" * (17 << 20) + b"\r\n", "line too long"),
    (b"* LIST (((( \r\nTAG WHATEVER\r\n", "nonsense"),
], ids=["huge-literal", "endless-line", "bad-tagged"])
def test_a_hostile_imap_server_is_refused_not_obeyed(tmp_path, script, why):
    port = fake_imap(script)
    c = MailClient(str(tmp_path), "evil", "me", "pw", host="127.0.0.1", port=port,
                   tls="none", smtp_tls="none")
    r = c.run("folders", check=False, timeout=30)
    assert r.returncode == 1
    assert why in r.stderr, r.stderr


def test_display_names_in_recipients(srv, alice, bob):
    alice.run("send", "--to", '"Bob, the Ñ Builder" <bob@example.org>',
              "--cc", "Çarol Ñ <carol@example.org>", "--subject", "names", stdin="hi\n")
    raw = srv.read_message(srv.wait_messages("bob@example.org", 1)[0])
    srv.wait_messages("carol@example.org", 1)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"].addresses[0].display_name == "Bob, the Ñ Builder"
    assert msg["Cc"].addresses[0].display_name == "Çarol Ñ"
    assert msg["Cc"].addresses[0].addr_spec == "carol@example.org"
    assert raw.isascii()


def test_send_when_only_the_imap_server_is_away(srv, bob, tmp_path):
    # no cache yet, IMAP unreachable, SMTP up: the mail goes out, and the
    # missing copy in Sent is reported (not filed somewhere it would be lost)
    alice = MailClient(srv.dir, "alice", "alice@example.org", "alice-pw", srv, port=1)
    r = alice.run("send", "--to", "bob@example.org", "--subject", "imap away",
                  stdin="x\n", check=False)
    assert r.returncode == 1
    assert "sent, but no copy was kept in Sent" in r.stderr and "port 1" in r.stderr
    assert [m["subject"] for m in wait_list(bob, 1)] == ["imap away"]
    assert not os.path.exists(os.path.join(alice.cache, "folders", "Sent"))


def test_server_hanging_up_under_tls_is_an_error_not_a_crash(tmp_path):
    """An SMTP server that takes STARTTLS and DATA, then hangs up while
    the message is coming: the client says so (no SIGPIPE death) and, the
    message not being accepted, keeps it in the outbox for the next sync."""
    import socket
    import ssl
    import threading
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def serve():
        conn, _ = lsock.accept()
        conn.settimeout(10)
        try:
            conn.sendall(b"220 hello\r\n")
            f = conn.makefile("rb")
            f.readline()
            conn.sendall(b"250-x\r\n250 STARTTLS\r\n")
            f.readline()
            conn.sendall(b"220 go\r\n")
            t = ctx.wrap_socket(conn, server_side=True)
            tf = t.makefile("rb")
            for answer in (b"250 x\r\n", b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
                tf.readline()
                t.sendall(answer)
            t.close()
        except OSError:
            pass
        finally:
            lsock.close()

    threading.Thread(target=serve, daemon=True).start()
    c = MailClient(str(tmp_path), "hangup", "me@example.org", "pw", host="127.0.0.1",
                   port=1, tls="none", smtp_host="127.0.0.1",
                   smtp_port=lsock.getsockname()[1], smtp_tls="starttls",
                   tls_pin=str(cert))
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 << 20))
    r = c.run("send", "--to", "x@example.org", "--attach", str(big), stdin="x\n",
              check=False)
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert "lost while sending" in r.stderr and "outbox" in r.stdout, r.stderr
    assert len(os.listdir(os.path.join(c.cache, "outbox"))) == 2
