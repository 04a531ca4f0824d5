"""The full-screen view of `correio mail`, driven through tmux (send-keys,
capture-pane) on a private tmux server (-L with a name of its own, killed
at the end): open a message, save its attachment, reply with $EDITOR,
search, and the same view on the offline cache."""

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from correio_harness import running_server, send_mail
from mail_client import BIN, MailClient


class Tmux:
    def __init__(self, cols=120, rows=30):
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed (scripts/deps.sh installs it)")
        self.sock = "correio-test-" + uuid.uuid4().hex[:8]
        self.cols, self.rows = cols, rows

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True,
                              text=True, timeout=10)

    def start(self, command, env):
        envs = [f"{k}={v}" for k, v in env.items()]
        r = self.tmux("new-session", "-d", "-s", "mail", "-x", str(self.cols),
                      "-y", str(self.rows), "env", *envs, *command)
        assert r.returncode == 0, r.stderr

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "mail", *keys)

    def text(self, *keys):
        """Type literal text."""
        self.tmux("send-keys", "-t", "mail", "-l", *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "mail").stdout

    def wait(self, needle, timeout=10):
        deadline = time.time() + timeout
        while True:
            s = self.screen()
            if needle in s:
                return s
            if time.time() > deadline:
                raise AssertionError(f"no {needle!r} on the screen:\n{s}")
            time.sleep(0.1)

    def alive(self):
        return self.tmux("has-session", "-t", "mail").returncode == 0

    def kill(self):
        self.tmux("kill-server")


@pytest.fixture
def srv():
    yield from running_server(("alice@example.org", "alice-pw"),
                              ("bob@example.org", "bob-pw"))


@pytest.fixture
def tmux():
    t = Tmux()
    yield t
    t.kill()


def editor_script(path):
    """An $EDITOR that puts a line on top of what it is given."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "{ echo 'Answer typed in the editor.'; cat \"$1\"; } > \"$1.new\" "
                "&& mv \"$1.new\" \"$1\"\n")
    os.chmod(path, 0o755)
    return path


def view(tmux, client, tmp_path, *args):
    env = {"CORREIO_MAIL_PASSWORD": client.password, "LANG": "C.UTF-8",
           "HOME": client.dir, "TERM": "xterm",
           "EDITOR": editor_script(str(tmp_path / "editor.sh"))}
    tmux.start([BIN, "mail", "-c", client.conf, *args], env)


def test_open_save_attachment_reply_in_the_terminal_view(srv, tmux, tmp_path):
    alice = MailClient(srv.dir, "alice", "alice@example.org", "alice-pw", srv)
    bob = MailClient(srv.dir, "bob", "bob@example.org", "bob-pw", srv)
    data = bytes(range(256)) * 2
    att = tmp_path / "chart.bin"
    att.write_bytes(data)
    bob.run("send", "--to", "alice@example.org", "--subject", "Quarterly chart",
            "--attach", str(att), stdin="Chart attached.\n")
    send_mail(srv, "x@example.org", ["alice@example.org"],
              "From: x@example.org\r\nSubject: other news\r\n\r\nnothing\r\n")
    srv.wait_messages("alice@example.org", 2)

    view(tmux, alice, tmp_path)
    s = tmux.wait("Quarterly chart")
    assert "INBOX (2)" in s and "other news" in s
    assert "q:Quit" in s and "r:Reply" in s and "/:Search" in s  # keys on screen
    assert " N " in s  # new-message markers

    tmux.keys("Enter")  # open the first message
    s = tmux.wait("Chart attached.")
    assert "chart.bin" in s and "Attachments:" in s

    out = tmp_path / "saved"
    tmux.keys("s")
    tmux.wait("Save attachments into directory:")
    tmux.text(str(out))
    tmux.keys("Enter")
    tmux.wait("Saved:")
    assert (out / "chart.bin").read_bytes() == data

    tmux.keys("r")  # reply: the editor runs, a file is attached, we confirm
    tmux.wait("Send the message? (y/n, a: attach a file) [0 attached]")
    notes = tmp_path / "notes for bob.txt"
    notes.write_bytes(b"my notes\n")
    tmux.keys("a")
    tmux.wait("Attach file:")
    tmux.text(str(notes))
    tmux.keys("Enter")
    tmux.wait("[1 attached]")
    tmux.keys("y")
    tmux.wait("Sent.")
    tmux.keys("q")  # back to the index: the message is read and answered
    s = tmux.wait("INBOX (2)")
    line = [l for l in s.splitlines() if "Quarterly chart" in l][0]
    assert line[5:8] == "  r", line  # not new, not flagged, answered

    # search narrows the index
    tmux.keys("/")
    tmux.wait("Search (empty: all):")
    tmux.text("nothing")
    tmux.keys("Enter")
    s = tmux.wait("search: nothing")
    assert "other news" in s and "Quarterly chart" not in s
    tmux.keys("q")
    deadline = time.time() + 5
    while tmux.alive() and time.time() < deadline:
        time.sleep(0.1)
    assert not tmux.alive()

    reply = [m for m in json.loads(bob.run("list", "--json").stdout)
             if m["subject"] == "Re: Quarterly chart"]
    assert reply, bob.run("list").stdout
    text = json.loads(bob.run("read", str(reply[0]["number"]), "--json").stdout)["text"]
    assert text.startswith("Answer typed in the editor.")
    assert "> Chart attached." in text
    bob.run("save", str(reply[0]["number"]), str(tmp_path / "bob"))
    assert (tmp_path / "bob" / "notes for bob.txt").read_bytes() == b"my notes\n"


def test_terminal_view_works_on_the_offline_cache(srv, tmux, tmp_path):
    alice = MailClient(srv.dir, "alice", "alice@example.org", "alice-pw", srv)
    send_mail(srv, "x@example.org", ["alice@example.org"],
              "From: x@example.org\r\nSubject: cached one\r\n\r\nfrom the cache\r\n")
    srv.wait_messages("alice@example.org", 1)
    alice.run("sync")
    srv.stop()
    view(tmux, alice, tmp_path)
    s = tmux.wait("cached one")
    assert "[offline]" in s
    tmux.keys("Enter")
    tmux.wait("from the cache")
    tmux.keys("q")
    tmux.keys("m")  # compose offline: goes to the outbox
    tmux.wait("To:")
    tmux.text("bob@example.org")
    tmux.keys("Enter")
    tmux.wait("Subject:")
    tmux.text("from the view")
    tmux.keys("Enter")
    tmux.wait("Attach file")
    tmux.keys("Enter")
    tmux.wait("Send the message? (y/n, a: attach a file)")
    tmux.keys("y")
    tmux.wait("outbox")
    tmux.keys("q")
    outbox = os.listdir(os.path.join(alice.cache, "outbox"))
    assert len(outbox) == 2  # the message and its envelope


def test_password_prompt_on_the_terminal_without_echo(srv, tmux, tmp_path):
    alice = MailClient(srv.dir, "alice", "alice@example.org", "alice-pw", srv)
    send_mail(srv, "x@example.org", ["alice@example.org"],
              "From: x@example.org\r\nSubject: behind a password\r\n\r\nbody\r\n")
    srv.wait_messages("alice@example.org", 1)
    tmux.start(["sh", "-c", f"{BIN} mail -c {alice.conf} list; echo EXIT=$?; sleep 30"],
               {"HOME": alice.dir, "LANG": "C.UTF-8", "TERM": "xterm"})
    tmux.wait("Password for alice@example.org@127.0.0.1:")
    tmux.text("alice-pw")
    tmux.keys("Enter")
    s = tmux.wait("EXIT=")
    assert "behind a password" in s and "EXIT=0" in s
    assert "alice-pw" not in s  # typed without echo


def test_send_from_a_terminal_uses_the_editor_and_sync_draws_progress(srv, tmux, tmp_path):
    alice = MailClient(srv.dir, "alice", "alice@example.org", "alice-pw", srv)
    bob = MailClient(srv.dir, "bob", "bob@example.org", "bob-pw", srv)
    env = {"CORREIO_MAIL_PASSWORD": "alice-pw", "LANG": "C.UTF-8", "HOME": alice.dir,
           "TERM": "xterm", "EDITOR": editor_script(str(tmp_path / "editor.sh"))}
    cmd = (f"{BIN} mail -c {alice.conf} send --to bob@example.org --subject edited; "
           f"echo SEND=$?; {BIN} mail -c {alice.conf} sync; echo SYNC=$?; sleep 30")
    tmux.start(["sh", "-c", cmd], env)
    s = tmux.wait("SYNC=", timeout=20)
    assert "SEND=0" in s and "SYNC=0" in s
    # on a terminal, sync draws a progress bar (and not when piped: see
    # the other tests, whose output has none)
    assert "[##############################] 100%" in s
    text = json.loads(bob.run("read", "1", "--json").stdout)["text"]
    assert text.startswith("Answer typed in the editor.")
    r = alice.run("sync")
    assert "[#" not in r.stdout + r.stderr
