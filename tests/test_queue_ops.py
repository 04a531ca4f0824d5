"""The queue for operators (issue 14 item 2): `correio queue list` reads
like mailq (header, human dates, every recipient with its state and last
deferral reason, a total line), `queue show ID` the envelope and the
headers (`--body` all of it), `queue flush` of a held message says it is
held, mailq / `sendmail -bp` / newaliases when the binary is called by
those names, and --help for every queue subcommand.

The server relays to sinks on loopback (relay_fixtures): mx1.a.test
answers 451 to every RCPT (deferred), nope.test does not exist (bounced
at once), alice@example.org is an account here (delivered)."""

import json
import os
import re
import subprocess
import time

import pytest

from correio_harness import BIN, Server, send_mail
from relay_fixtures import Replies, queue_ids, wait_for
from relay_fixtures import cert, dns, env  # noqa: F401 - pytest fixtures
from test_relay import send

ALICE = "alice@example.org"
BOB = "bob@example.org"
TRY_LATER = "451 4.3.0 try later"
DATE = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d"


def listing(srv):
    return json.loads(srv.cli("queue", "list", "--json").stdout)["messages"]


def by_id(srv):
    return {m["id"]: m for m in listing(srv)}


@pytest.fixture
def queued(env):
    """A server with three messages: one deferred for carol@a.test and
    delivered to alice (here), one deferred and bounced for nobody@nope.test
    with DSN parameters, one held by `correio queue hold`."""
    mx1 = env.sink("mx1.a.test", rcpt=Replies(default=TRY_LATER))
    srv = env.server(queue={"retry_interval": "1h", "max_retry_interval": "1h"})
    mixed = send(srv, ["carol@a.test", ALICE], subject="mixed")
    dsn = send(srv, ["dave@a.test", "nobody@nope.test"], subject="with dsn",
               mail_options=["RET=HDRS", "ENVID=env-42"],
               rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;dave@a.test"])
    held = send(srv, ["erin@a.test"], subject="held one")
    for qid, rcpt in ((mixed, "carol"), (dsn, "dave"), (held, "erin")):
        srv.wait_log(rf"{qid}: to=<{rcpt}@a\.test>.*status=deferred")
    srv.wait_log(rf"{dsn}: to=<nobody@nope\.test>.*status=bounced")
    srv.wait_log(rf"{mixed}: to=<alice@example\.org>.*status=sent")
    assert srv.cli("queue", "hold", held).stdout.strip() == f"{held} held"
    wait_for(lambda: all(m["state"] != "active" for m in listing(srv)), what="idle")
    return mx1, srv, mixed, dsn, held


def msg_size(srv, qid):
    return os.path.getsize(os.path.join(srv.data, "queue", qid + ".msg"))


def blocks(out):
    """The listing's message blocks by queue id (lines up to a blank one)."""
    result = {}
    for block in out.split("\n\n"):
        m = re.match(r"(?:.*\n)?([0-9A-F]{16})[ *!#] ", block)
        if m:
            result[m.group(1)] = block
    return result


# ---- 1. queue list like mailq ----

def test_list_reads_like_mailq(queued):
    mx1, srv, mixed, dsn, held = queued
    out = srv.cli("queue", "list").stdout
    lines = out.splitlines()
    assert re.match(r"-Queue ID-+ --Size-- ----Arrival Time---- -State-+ -Sender/Recipient-+$",
                    lines[0]), out
    b = blocks(out)
    assert set(b) == {mixed, dsn, held}, out
    # oldest first
    order = [m["id"] for m in sorted(listing(srv), key=lambda m: (m["arrival"], m["id"]))]
    assert re.findall(r"^([0-9A-F]{16})[ *!#] ", out, re.M) == order, out
    assert re.search(rf"^{mixed}  +{msg_size(srv, mixed)} {DATE} +deferred +{ALICE}$",
                     b[mixed], re.M), out
    assert re.search(r"^ +deferred +carol@a\.test\n +\(.*451 4\.3\.0 try later\)$", b[mixed],
                     re.M), out
    assert re.search(r"^ +delivered +alice@example\.org$", b[mixed], re.M), out
    assert re.search(r"^ +bounced +nobody@nope\.test\n +\(.+\)$", b[dsn], re.M), out
    assert re.search(rf"^{held}! +\d+ {DATE} +held +{ALICE}$", b[held], re.M), out
    total = sum(msg_size(srv, q) for q in (mixed, dsn, held))
    assert lines[-1] == f"-- {(total + 1023) // 1024} Kbytes in 3 Requests.", out


def test_list_json_has_every_recipient_state(queued):
    mx1, srv, mixed, dsn, held = queued
    m = by_id(srv)
    assert m[held]["state"] == "held" and m[held]["held"] is True
    assert m[mixed]["state"] == "deferred" and m[mixed]["sender"] == ALICE
    assert m[mixed]["size"] == msg_size(srv, mixed)
    assert abs(m[mixed]["arrival"] - time.time()) < 60
    states = {r["address"]: r for r in m[mixed]["recipients"] + m[dsn]["recipients"]}
    assert states["carol@a.test"]["state"] == "deferred"
    assert states["carol@a.test"]["attempts"] == 1
    assert "451 4.3.0 try later" in states["carol@a.test"]["last_error"]
    assert states["alice@example.org"]["state"] == "delivered"
    assert states["nobody@nope.test"]["state"] == "bounced"
    assert states["dave@a.test"]["next_attempt"] > time.time() + 3000


def test_empty_queue(env):
    srv = env.server()
    r = srv.cli("queue", "list")
    assert r.stdout == "Mail queue is empty\n"
    assert json.loads(srv.cli("queue", "list", "--json").stdout) == {"messages": []}


# ---- 2. queue show ----

def test_show_envelope_and_headers(queued):
    mx1, srv, mixed, dsn, held = queued
    out = srv.cli("queue", "show", dsn).stdout
    assert f"Queue ID:       {dsn}\n" in out
    assert "State:          deferred\n" in out
    assert re.search(r"^Arrival: +\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \((now|.* ago)\)$",
                     out, re.M), out
    assert f"Sender:         {ALICE}\n" in out
    assert "DSN:            RET=HDRS ENVID=env-42\n" in out
    assert "Recipients:     2 (1 deferred, 1 bounced)\n" in out
    dave = out[out.index("\n  dave@a.test\n"):]
    assert re.search(r"State: +deferred after 1 attempt\n", dave), out
    assert re.search(r"Next attempt: .*\(in (59m|1h)", dave), out
    assert re.search(r"Last error: +.*451 4\.3\.0 try later", dave), out
    assert "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;dave@a.test" in dave
    assert "Route:        relay to another host" in dave
    headers = out[out.index("Message headers"):]
    assert "\nSubject: with dsn\n" in headers
    assert "Hello there." not in out
    body = srv.cli("queue", "show", "--body", dsn).stdout
    assert "\nSubject: with dsn\n" in body and "Hello there." in body
    assert "Queue ID:" in body


def test_show_held_and_json(queued):
    mx1, srv, mixed, dsn, held = queued
    out = srv.cli("queue", "show", held).stdout
    assert f"State:          held (no attempts until `correio queue release {held}`)" in out
    j = json.loads(srv.cli("queue", "show", "--json", held).stdout)
    assert j["id"] == held and j["held"] is True
    assert [r["address"] for r in j["recipients"]] == ["erin@a.test"]


def test_show_unknown_id(env):
    srv = env.server()
    for args in (("show", "0123456789ABCDEF"), ("show", "--body", "0123456789ABCDEF")):
        r = srv.cli("queue", *args, check=False)
        assert r.returncode == 1, r
        assert "no message 0123456789ABCDEF in the queue" in r.stderr
        assert r.stdout == ""


# ---- 3. flush of a held message ----

def test_flush_of_a_held_message_says_it_is_held(queued):
    mx1, srv, mixed, dsn, held = queued
    mx1.rcpt.set()                       # would accept now
    mails = mx1.verbs().count("MAIL")
    r = srv.cli("queue", "flush", held, check=False)
    assert r.returncode == 1
    assert f"{held} is held" in r.stderr and f"correio queue release {held}" in r.stderr
    assert r.stdout == ""
    time.sleep(1)
    assert not any("erin@a.test" in m.rcpt_tos for m in mx1.messages)
    out = srv.cli("queue", "flush").stdout
    assert "1 held message(s) wait for `correio queue release ID`" in out
    srv.cli("queue", "release", held)     # due since the flush: goes at once
    wait_for(lambda: any("erin@a.test" in m.rcpt_tos for m in mx1.messages),
             what="the released message")
    assert mx1.verbs().count("MAIL") > mails


# ---- 4. mailq, sendmail -bp, newaliases ----

def link(tmp_path, name):
    path = tmp_path / name
    os.symlink(BIN, path)
    return str(path)


def test_mailq_and_sendmail_bp(queued, tmp_path):
    mx1, srv, mixed, dsn, held = queued
    expected = srv.cli("queue", "list").stdout
    environ = dict(os.environ, CORREIO_CONFIG=srv.conf)
    for argv in ([link(tmp_path, "mailq")],
                 [link(tmp_path, "sendmail"), "-bp"],
                 [BIN, "sendmail", "-bp"],
                 [BIN, "-c", srv.conf, "sendmail", "-bp"]):
        r = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=30)
        assert r.returncode == 0, (argv, r.stderr)
        # the arrival times are the same; only the order of listing could vary
        assert sorted(r.stdout.splitlines()) == sorted(expected.splitlines()), argv
    r = subprocess.run([str(tmp_path / "mailq"), "-C", srv.conf, "--json"],
                       capture_output=True, text=True, timeout=30)
    assert {m["id"] for m in json.loads(r.stdout)["messages"]} == {mixed, dsn, held}


ALIASES = """\
# /etc/aliases as Debian ships it, and more
postmaster:    root
root: alice
"staff":  alice, bob@example.org,
\tcarol@elsewhere.example
prog: "|/usr/bin/vacation alice"
archive: /var/mail/archive
lists: :include:/etc/mail/lists
ghost: nobody-here
other@elsewhere.example: alice
alice: bob
broken line without a colon
webmaster: www
www: nobody-here
mailer-daemon: postmaster
@example.org: alice
"""


def test_queue_show_hides_control_characters(env):
    """A sender's header fields holding terminal escapes: `queue show`
    prints them with the control characters as \\xNN (the administrator's
    terminal is not driven by mail from anyone); --body stays byte for
    byte, as postcat -q, for piping.  So is the last error, which the
    next hop wrote."""
    env.sink("mx1.a.test", rcpt=Replies(default="451 4.3.0 try \x1b[2Jlater"))
    srv = env.server(queue={"retry_interval": "1h", "max_retry_interval": "1h"})
    text = (b"From: <alice@example.org>\r\nSubject: hi \x1b]0;owned\x07\x1b[2J there\r\n"
            b"X-Tab:\tkept\r\n\r\nbody \x1b[31m\r\n")
    qid = send(srv, ["carol@a.test"], body=text)
    srv.wait_log(rf"{qid}: to=<carol@a\.test>.*status=deferred")
    r = subprocess.run([BIN, "-c", srv.conf, "queue", "show", qid], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", r.stdout) is None, r.stdout
    assert b"Subject: hi \\x1b]0;owned\\x07\\x1b[2J there" in r.stdout, r.stdout
    assert b"X-Tab:\tkept" in r.stdout
    assert b"try \\x1b[2Jlater" in r.stdout, r.stdout
    r = subprocess.run([BIN, "-c", srv.conf, "queue", "show", "--body", qid],
                       capture_output=True, timeout=30)
    assert b"\x1b]0;owned\x07" in r.stdout and b"body \x1b[31m" in r.stdout


def test_newaliases_imports_local_entries(tmp_path):
    s = Server(domains="example.org, example.net")
    try:
        for u in (ALICE, BOB, "alice@example.net"):
            s.add_user(u)
        path = tmp_path / "aliases"
        path.write_text(ALIASES)
        r = subprocess.run([link(tmp_path, "newaliases"), "-C", s.conf, f"-oA{path}"],
                           capture_output=True, text=True, timeout=30)
        out = r.stdout
        assert r.returncode == 1, (out, r.stderr)     # a line that is not an entry
        pairs = set(re.findall(r"^(\S+) -> (\S+): added$", out, re.M))
        for d in ("example.org", "example.net"):
            assert (f"postmaster@{d}", f"root@{d}") in pairs
            assert (f"root@{d}", f"alice@{d}") in pairs
            assert (f"staff@{d}", "bob@example.org") in pairs
            assert (f"staff@{d}", "carol@elsewhere.example") in pairs
            assert (f"staff@{d}", f"alice@{d}") in pairs
        assert re.search(r":6: skipped prog@example.org -> \|/usr/bin/vacation alice: "
                         r"a pipe to a command", out), out
        assert re.search(r":7: skipped archive@example.org -> /var/mail/archive: a file", out)
        assert re.search(r":8: skipped lists@example.org -> :include:/etc/mail/lists: "
                         r"an :include: list", out)
        assert re.search(r":9: skipped ghost@example.org -> nobody-here: "
                         r"nobody-here@example.org is neither", out)
        assert re.search(r":10: skipped other@elsewhere.example: its domain is not a local",
                         out)
        assert re.search(r":11: skipped alice@example.org: it is an account", out)
        assert re.search(r":11: skipped alice@example.net: it is an account", out)
        assert re.search(r":12: not an entry: no ':' after the name", out)
        # a chain that ends nowhere is left out whole; one that ends somebody is kept
        assert re.search(r":13: skipped webmaster@example.org -> www: www@example.org is "
                         r"neither an account nor an alias", out), out
        assert re.search(r":14: skipped www@example.org -> nobody-here: ", out)
        assert ("mailer-daemon@example.org", "postmaster@example.org") in pairs
        # "@domain" would be a catch-all in the alias store: never by accident
        assert re.search(r":16: skipped @example.org: no local part", out), out
        stored = s.cli("alias", "list").stdout
        assert "postmaster@example.org -> root@example.org" in stored
        assert "prog@" not in stored and "ghost@" not in stored and "other@" not in stored
        # run again: nothing new, nothing lost
        again = s.cli("newaliases", str(path), check=False)
        assert "0 alias target(s) added, %d already there" % len(pairs) in again.stdout
        assert s.cli("alias", "list").stdout == stored
        # delivered through the imported aliases: postmaster -> root -> alice
        s.start()
        send_mail(s, "someone@elsewhere.example", ["postmaster@example.org"],
                  "Subject: hi postmaster\r\n\r\nhello\r\n")
        s.wait_messages(ALICE, 1)
    finally:
        s.cleanup()


def test_newaliases_unreadable_file(tmp_path):
    s = Server()
    try:
        r = s.cli("newaliases", str(tmp_path / "missing"), check=False)
        assert r.returncode == 1
        assert "cannot read" in r.stderr and "missing" in r.stderr
    finally:
        s.cleanup()


def test_newaliases_hostile_file(tmp_path):
    """An aliases file with binary junk, terminal escapes, a huge line and
    a loop: each bad entry is reported on one line, no control character
    of the file reaches the terminal, good entries still go in."""
    s = Server()
    try:
        s.add_user(ALICE)
        path = tmp_path / "aliases"
        path.write_bytes(b"ok: alice\n"
                         b"esc: \x1b]0;owned\x07alice, \x1b[2Jbob\n"
                         b"bin\x01ary: alice\n"
                         b"huge: " + b"x" * 3000000 + b"\n"
                         b"loop1: loop2\nloop2: loop1\n"
                         b"\x00\xff\xfe: \x00alice\n"
                         b"last: alice\n")
        r = subprocess.run([BIN, "-c", s.conf, "newaliases", str(path)],
                           capture_output=True, timeout=30)
        out = r.stdout + r.stderr
        assert r.returncode == 1, out
        assert re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", out) is None, out
        assert b"ok@example.org -> alice@example.org: added" in out
        assert b"last@example.org -> alice@example.org: added" in out
        assert b":4: not an entry: the entry is too long" in out
        stored = s.cli("alias", "list").stdout
        assert "loop1" not in stored and "esc@" not in stored and "huge" not in stored
    finally:
        s.cleanup()


# ---- 5. --help of every queue subcommand ----

@pytest.mark.parametrize("sub", ["list", "show", "flush", "hold", "release", "delete", "stats"])
def test_queue_subcommand_help(sub, tmp_path):
    r = subprocess.run([BIN, "queue", sub, "--help"], capture_output=True, text=True,
                       cwd=tmp_path, env=dict(os.environ, CORREIO_CONFIG=""), timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: correio queue {sub}"), r.stdout
    assert r.stderr == ""


def test_mailq_and_newaliases_help(tmp_path):
    for name in ("mailq", "newaliases"):
        r = subprocess.run([link(tmp_path, name), "--help"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=30)
        assert r.returncode == 0 and "usage:" in r.stdout, (name, r.stderr)
        assert re.search(rf"^(usage:)? *{name}\b", r.stdout, re.M), r.stdout
