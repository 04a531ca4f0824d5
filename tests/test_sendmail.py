"""`correio sendmail` as cron and scripts use it: the configuration found
without a working directory that holds it (-C FILE, $CORREIO_CONFIG), the
From:, Date: and Message-ID: a message lacks added, and a clear refusal of
-t without recipient header fields."""

import email
import email.utils
import os
import pwd
import re
import subprocess
import time

import pytest

from correio_harness import BIN, running_server

ALICE = "alice@example.org"


@pytest.fixture
def srv():
    yield from running_server(ALICE)


def run_sendmail(srv, args, text, env_config=None, name=None):
    """Run sendmail as cron would: in / (no correio.conf there), with only
    PATH in the environment (and CORREIO_CONFIG when given).  name: run
    through a link of that name instead of `correio sendmail`."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if env_config is not None:
        env["CORREIO_CONFIG"] = env_config
    if name is not None:
        link = os.path.join(srv.dir, name)
        if not os.path.exists(link):
            os.symlink(os.path.abspath(BIN), link)
        argv = [link]
    else:
        argv = [BIN, "sendmail"]
    return subprocess.run(argv + list(args), input=text.encode(), capture_output=True,
                          timeout=30, cwd="/", env=env)


def stored(srv, count=1):
    data = srv.read_message(srv.wait_messages(ALICE, count)[-1])
    return email.message_from_bytes(data)


@pytest.mark.parametrize("how", ["-C", "-Cattached", "env", "env-as-sendmail"])
def test_sendmail_finds_its_configuration(srv, how):
    text = f"Subject: found by {how}\n\nx\n"
    if how == "-C":
        r = run_sendmail(srv, ["-C", srv.conf, ALICE], text)
    elif how == "-Cattached":
        r = run_sendmail(srv, ["-i", "-C" + srv.conf, ALICE], text, name="sendmail")
    elif how == "env":
        r = run_sendmail(srv, [ALICE], text, env_config=srv.conf)
    else:
        r = run_sendmail(srv, ["-t"], f"To: {ALICE}\n" + text, env_config=srv.conf,
                         name="sendmail")
    assert r.returncode == 0, r.stderr
    assert stored(srv)["Subject"] == f"found by {how}"


def test_c_option_wins_over_environment(srv, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("[server]\nno_such_key = 1\n")
    r = run_sendmail(srv, ["-C", srv.conf, ALICE], "Subject: C first\n\nx\n",
                     env_config=str(bad))
    assert r.returncode == 0, r.stderr
    r = run_sendmail(srv, [ALICE], "Subject: env read\n\nx\n", env_config=str(bad))
    assert r.returncode == 1 and b"no_such_key" in r.stderr, r.stderr


def test_sendmail_adds_from_date_message_id(srv):
    before = time.time()
    r = run_sendmail(srv, [ALICE], "Subject: cron output\n\nall done\n",
                     env_config=srv.conf)
    assert r.returncode == 0, r.stderr
    m = stored(srv)
    pw = pwd.getpwuid(os.getuid())
    name, address = email.utils.parseaddr(m["From"])
    assert address == pw.pw_name + "@example.org"
    assert name == pw.pw_gecos.split(",")[0]
    date = email.utils.parsedate_to_datetime(m["Date"])
    assert date.tzinfo is not None
    assert before - 2 <= date.timestamp() <= time.time() + 2
    assert re.fullmatch(r"<[^<>@\s]+@mx\.example\.org>", m["Message-ID"]), m["Message-ID"]
    assert m["Subject"] == "cron output"
    assert m.get_payload() == "all done\n"
    for field in ("From", "Date", "Message-ID"):
        assert len(m.get_all(field)) == 1


def test_sendmail_from_names_the_sender(srv):
    r = run_sendmail(srv, ["-f", "backup@example.org", "-F", "Backup Job", ALICE],
                     "Subject: named\n\nx\n", env_config=srv.conf)
    assert r.returncode == 0, r.stderr
    m = stored(srv)
    assert m["From"] == "Backup Job <backup@example.org>"
    assert m["Return-Path"] == "<backup@example.org>"


def test_sendmail_keeps_the_fields_it_has(srv):
    text = ("From: Someone <someone@example.net>\nDate: Mon, 1 Jan 2024 10:00:00 +0100\n"
            "Message-ID: <kept@example.net>\nSubject: complete\n\nx\n")
    r = run_sendmail(srv, [ALICE], text, env_config=srv.conf)
    assert r.returncode == 0, r.stderr
    m = stored(srv)
    assert m.get_all("From") == ["Someone <someone@example.net>"]
    assert m.get_all("Date") == ["Mon, 1 Jan 2024 10:00:00 +0100"]
    assert m.get_all("Message-ID") == ["<kept@example.net>"]


def test_sendmail_message_without_header_section(srv):
    r = run_sendmail(srv, [ALICE], "disk almost full\nsee df\n", env_config=srv.conf)
    assert r.returncode == 0, r.stderr
    m = stored(srv)
    assert m["Message-ID"] is not None and m["Date"] is not None
    assert m.get_payload() == "disk almost full\nsee df\n"


@pytest.mark.parametrize("text", [
    "Subject: to nobody\n\nx\n",
    "To: undisclosed-recipients:;\nSubject: group only\n\nx\n",
    "Subject: in the body\n\nTo: alice@example.org\n",
])
def test_sendmail_t_without_recipient_headers(srv, text):
    r = run_sendmail(srv, ["-t"], text, env_config=srv.conf)
    assert r.returncode != 0
    assert b"no recipient addresses found" in r.stderr and b"To:" in r.stderr, r.stderr
    assert srv.queue_files() == []
    assert srv.messages(ALICE) == []


def test_sendmail_relative_data_dir_is_explained(tmp_path):
    """From cron, a data_dir relative to the working directory points
    nowhere: the error says so and how to fix it."""
    conf = tmp_path / "relative.conf"
    conf.write_text("[server]\ndata_dir = ./correio-data\n")
    r = subprocess.run([BIN, "sendmail", ALICE], input=b"Subject: x\n\nx\n",
                       capture_output=True, timeout=30, cwd="/",
                       env={"PATH": "/usr/bin:/bin", "CORREIO_CONFIG": str(conf)})
    assert r.returncode == 1
    assert b"cannot reach the server at ./correio-data/control.sock" in r.stderr, r.stderr
    assert b"data_dir is relative to the current directory" in r.stderr, r.stderr
