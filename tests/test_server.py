"""The server process: signals, configuration, limits, privileges, and
the command line."""

import json
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import pytest

from correio_harness import BIN, Server, check_maildir_file, send_mail

ALICE = "alice@example.org"


def wait_exit(server, timeout=10):
    code = server.proc.wait(timeout)
    server.stop()        # closes the log, forgets the process
    return code


def ehlo_size(server):
    with server.client() as c:
        lines = c.cmd("EHLO c").split("\n")
    return [l for l in lines if l.startswith("250-SIZE ")][0].split()[1]


@pytest.fixture
def limited():
    """A server that allows two connections per client."""
    s = Server(extra_config="connections_per_client = 2")
    s.add_user(ALICE)
    s.start()
    yield s
    s.cleanup()


# ---- SIGTERM ----

def test_sigterm_during_data(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<alice@example.org>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send("Subject: stopping\r\n\r\nfirst half\r\n")
        time.sleep(0.05)
        server.signal(signal.SIGTERM)
        server.wait_log(r"stop: signal 15")
        # the server waits for the rest of the message
        time.sleep(0.2)
        assert server.proc.poll() is None
        # and takes no new connections meanwhile
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.smtp_port), 1).close()
        c.send("second half\r\n.\r\n")
        r = c.reply()
        assert re.match(r"250 2\.0\.0 Ok: queued as [0-9A-F]+$", r), r
        queue_id = r.split()[-1]
        assert c.reply().startswith("421 4.3.2 ")
        assert c.wait_closed()
    assert wait_exit(server) == 0
    # after a clean stop the message is either delivered and gone from the
    # spool, or still in the spool for the next start - never both
    delivered, spooled = server.messages(ALICE), server.queue_files()
    assert spooled in ([], [f"{queue_id}.env", f"{queue_id}.msg"]), spooled
    assert bool(delivered) != bool(spooled), (delivered, spooled)
    if not delivered:
        server.start()          # delivered from the spool after a restart
    files = server.wait_messages(ALICE, 1)
    server.wait_queue_empty()
    assert len(server.messages(ALICE)) == 1
    data, f = check_maildir_file(files[0])
    assert f["id"] == queue_id
    assert f["body"] == b"Subject: stopping\n\nfirst half\nsecond half\n"


def test_sigterm_idle_client(server):
    with server.ehlo_client() as c, server.client() as c2:
        server.signal(signal.SIGTERM)
        for conn in (c, c2):
            assert conn.reply().startswith("421 4.3.2 mx.example.org ")
            assert conn.wait_closed()
    assert wait_exit(server) == 0
    assert "stop: done" in server.read_log()


def test_sigterm_no_clients(server):
    server.signal(signal.SIGTERM)
    assert wait_exit(server) == 0


def test_message_survives_restart(server):
    send_mail(server, "a@example.net", [ALICE], "Subject: one\r\n\r\n1\r\n")
    server.wait_messages(ALICE, 1)
    server.wait_queue_empty()
    assert server.stop() == 0
    server.start()
    send_mail(server, "a@example.net", [ALICE], "Subject: two\r\n\r\n2\r\n")
    server.wait_messages(ALICE, 2)
    server.wait_queue_empty()
    assert len(server.messages(ALICE)) == 2


# ---- damaged queue files ----

def test_damaged_queue_files_are_kept():
    """An envelope found corrupt or short at start is not deleted: it and
    its text move to queue/damaged/, the log says so, `queue list` shows
    it as damaged and `queue delete` removes it.  Good messages beside it
    go on."""
    relay = "[relay]\ntrusted_networks = 127.0.0.0/8\n[dns]\nservers = 127.0.0.1:9\n"
    with Server(extra_config=relay) as s:
        s.add_user(ALICE)
        s.start()
        # a real queued message (its MX cannot be looked up: it waits)
        send_mail(s, ALICE, ["carol@remote.example"], "Subject: waits\r\n\r\nx\r\n")
        send_mail(s, ALICE, ["dan@remote.example"], "Subject: stays\r\n\r\ny\r\n")
        qdir = os.path.join(s.data, "queue")
        deadline = time.time() + 10
        while len([f for f in os.listdir(qdir) if f.endswith(".env")]) < 2:
            assert time.time() < deadline, os.listdir(qdir)
            time.sleep(0.05)
        assert s.stop() == 0
        short_id, good_id = sorted(f[:-4] for f in os.listdir(qdir) if f.endswith(".env"))
        with open(os.path.join(qdir, short_id + ".env"), "rb") as f:
            text = f.read()
        with open(os.path.join(qdir, short_id + ".env"), "wb") as f:
            f.write(text[:len(text) // 2])          # torn: no "end" line
        garbage_id = "0123456789ABCDEF"
        with open(os.path.join(qdir, garbage_id + ".env"), "wb") as f:
            f.write(b"\x00\xff garbage \x01\n" * 10)
        with open(os.path.join(qdir, garbage_id + ".msg"), "wb") as f:
            f.write(b"Subject: kept text\n\nhello\n")

        s.start()
        damaged = os.path.join(qdir, "damaged")
        for qid in (short_id, garbage_id):
            s.wait_log(rf"queue: {qid}: damaged queue file \(.+\): 2 file\(s\) moved to "
                       rf".*/queue/damaged/")
            assert os.path.exists(os.path.join(damaged, qid + ".env"))
            assert os.path.exists(os.path.join(damaged, qid + ".msg"))
            assert not os.path.exists(os.path.join(qdir, qid + ".env"))
            assert not os.path.exists(os.path.join(qdir, qid + ".msg"))
        with open(os.path.join(damaged, garbage_id + ".msg"), "rb") as f:
            assert f.read() == b"Subject: kept text\n\nhello\n"
        with open(os.path.join(damaged, short_id + ".env"), "rb") as f:
            assert f.read() == text[:len(text) // 2]

        listing = json.loads(s.cli("queue", "list", "--json").stdout)["messages"]
        msgs = {m["id"]: m for m in listing}
        assert set(msgs) == {short_id, good_id, garbage_id}, listing
        assert msgs[short_id]["state"] == msgs[garbage_id]["state"] == "damaged"
        assert msgs[short_id]["damaged"] and msgs[garbage_id]["damaged"]
        assert msgs[good_id]["state"] != "damaged" and msgs[good_id]["sender"] == ALICE
        assert msgs[garbage_id]["size"] == len(b"Subject: kept text\n\nhello\n")
        assert "State:          damaged\n" in s.cli("queue", "show", garbage_id).stdout
        assert re.search(rf"^{garbage_id}# .* damaged ", s.cli("queue", "list").stdout, re.M)

        assert s.cli("queue", "delete", garbage_id).stdout.strip() == f"{garbage_id} deleted"
        assert not os.path.exists(os.path.join(damaged, garbage_id + ".env"))
        assert not os.path.exists(os.path.join(damaged, garbage_id + ".msg"))
        listing = s.cli("queue", "list").stdout
        assert garbage_id not in listing and short_id in listing
        assert s.cli("queue", "delete", garbage_id, check=False).returncode != 0
        # the server goes on: local mail is delivered
        send_mail(s, "a@example.net", [ALICE], "Subject: after\r\n\r\nz\r\n")
        s.wait_messages(ALICE, 1)


# ---- SIGHUP ----

def test_sighup_reload(server):
    assert ehlo_size(server) == "1048576"
    start = len(server.read_log())
    with open(server.conf) as f:
        conf = f.read().replace("message_size = 1M", "message_size = 2M")
    with open(server.conf, "w") as f:
        f.write(conf)
    server.signal(signal.SIGHUP)
    server.wait_log(r"reload: configuration .* read", start=start)
    assert ehlo_size(server) == "2097152"
    # the new limit applies: 1.5 MB is accepted now
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net> SIZE=1500000") == "250 2.1.0 Ok"
    assert server.proc.poll() is None


def test_sighup_bad_config_keeps_the_old_one(server):
    start = len(server.read_log())
    with open(server.conf) as f:
        good = f.read()
    with open(server.conf, "w") as f:
        f.write(good.replace("message_size = 1M", "message_size = 2M\nbogus_key = 1"))
    server.signal(signal.SIGHUP)
    server.wait_log(r"reload: keeping the current configuration", start=start)
    assert "bogus_key" in server.read_log()[start:]
    assert ehlo_size(server) == "1048576"
    send_mail(server, "a@example.net", [ALICE], "Subject: still here\r\n\r\nx\r\n")
    server.wait_messages(ALICE, 1)
    # a good file later is read
    with open(server.conf, "w") as f:
        f.write(good.replace("message_size = 1M", "message_size = 3M"))
    start = len(server.read_log())
    server.signal(signal.SIGHUP)
    server.wait_log(r"reload: configuration .* read", start=start)
    assert ehlo_size(server) == str(3 << 20)


# ---- configuration ----

def run(*args, stdin=subprocess.DEVNULL, input=None):
    kw = {"input": input} if input is not None else {"stdin": stdin}
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30, **kw)


def test_check_prints_settings():
    with Server() as s:
        r = run("-c", s.conf, "check")
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert "hostname = mx.example.org" in out
        assert f"data_dir = {s.data}" in out
        assert "message_size = 1M" in out
        assert "errors = 50" in out
        assert re.search(r"^local_domains = example\.org, localhost$", out, re.M)
        assert re.search(rf"^smtp = 127\.0\.0\.1:{s.smtp_port}$", out, re.M)
        assert "[limits]" in out and "[server]" in out
        # nothing was started or created
        assert not os.path.exists(s.data)


def test_check_reports_every_error(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[server]\n"
                    "hostname = mx.example.org\n"
                    "colour = blue\n"
                    "\n"
                    "[limits]\n"
                    "message_size = lots\n"
                    "errors = -1\n"
                    "[nosuch]\n"
                    "key = 1\n")
    r = run("-c", str(conf), "check")
    assert r.returncode == 1
    err = r.stderr
    assert re.search(rf"^{re.escape(str(conf))}:3: .*colour", err, re.M), err
    assert re.search(rf"^{re.escape(str(conf))}:6: .*message_size", err, re.M), err
    assert re.search(rf"^{re.escape(str(conf))}:7: .*errors", err, re.M), err
    assert re.search(rf"^{re.escape(str(conf))}:9: ", err, re.M), err
    assert "configuration OK" not in r.stdout


def test_check_syntax_error(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[server]\nhostname = mx.example.org\nthis is not ini\n")
    r = run("-c", str(conf), "check")
    assert r.returncode == 1
    assert re.search(rf"^{re.escape(str(conf))}:3: ", r.stderr, re.M), r.stderr


def test_check_missing_file(tmp_path):
    r = run("-c", str(tmp_path / "none.conf"), "check")
    assert r.returncode == 1
    assert "none.conf" in r.stderr


def test_serve_refuses_bad_config():
    with Server(extra_config="message_size = huge") as s:
        r = subprocess.run([BIN, "-c", s.conf, "serve"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 1
        assert re.search(rf"^{re.escape(s.conf)}:\d+: message_size", r.stderr, re.M), r.stderr
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", s.smtp_port), 0.5).close()


def test_serve_refuses_busy_port(server):
    with Server() as other:
        other.write_config("example.org", "")
        with open(other.conf) as f:
            conf = f.read().replace(f":{other.smtp_port}", f":{server.smtp_port}")
        with open(other.conf, "w") as f:
            f.write(conf)
        r = subprocess.run([BIN, "-c", other.conf, "serve"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 1
        assert "cannot listen" in r.stderr


# ---- check: what serve would refuse ----

def edit_conf(server, old, new):
    with open(server.conf) as f:
        conf = f.read()
    assert old in conf, old
    with open(server.conf, "w") as f:
        f.write(conf.replace(old, new, 1))


def check_and_serve(server):
    """`correio check` and then `correio serve` on the same file."""
    chk = run("-c", server.conf, "check")
    srv = subprocess.run([BIN, "-c", server.conf, "serve"], capture_output=True, text=True,
                         timeout=15)
    return chk, srv


@pytest.mark.parametrize("smtp,other", [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1")],
                         ids=["same-address", "wildcard"])
def test_check_two_listeners_on_one_port(smtp, other):
    with Server() as s:
        port = s.smtp_port
        edit_conf(s, f"smtp = 127.0.0.1:{port}", f"smtp = {smtp}:{port}")
        edit_conf(s, f"imap = 127.0.0.1:{s.imap_port}", f"imap = {other}:{port}")
        chk, srv = check_and_serve(s)
        assert chk.returncode == 1, chk.stdout + chk.stderr
        assert (f"correio: check: listen: smtp = {smtp}:{port} and imap = {other}:{port}: "
                f"two listeners on port {port}") in chk.stderr, chk.stderr
        assert "configuration OK" not in chk.stdout
        assert "would refuse to start" in chk.stdout
        assert srv.returncode == 1 and "cannot listen" in srv.stderr, srv.stderr
        # one listener named twice in one key
        edit_conf(s, f"imap = {other}:{port}", f"imap = 127.0.0.1:{s.imap_port}")
        edit_conf(s, f"pop3 = 127.0.0.1:{s.pop3_port}",
                  f"pop3 = 127.0.0.1:{s.pop3_port}, 127.0.0.1:{s.pop3_port}")
        chk = run("-c", s.conf, "check")
        assert chk.returncode == 1 and f"two listeners on port {s.pop3_port}" in chk.stderr


def make_cert(directory, name):
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=mx.example.org", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


@pytest.mark.skipif(os.geteuid() != 0, reason="not running as root: no user to check as")
def test_check_certificate_and_key_as_the_run_as_user():
    with Server() as s:
        cert, key = make_cert(s.dir, "mx")
        os.chmod(key, 0o600)                    # root's alone: correio cannot read it
        with open(s.conf, "a") as f:
            f.write(f"[tls]\ncertificate = {cert}\nkey = {key}\n")
        chk, srv = check_and_serve(s)
        assert chk.returncode == 1
        assert (f"correio: check: tls: key = {key}: user correio cannot read it: "
                "Permission denied") in chk.stderr, chk.stderr
        assert srv.returncode == 1 and "cannot load key" in srv.stderr, srv.stderr
        os.chmod(key, 0o640)
        os.chown(key, 0, pwd.getpwnam("correio").pw_gid)   # the usual group-readable key
        chk = run("-c", s.conf, "check")
        assert chk.returncode == 0 and "configuration OK" in chk.stdout, chk.stderr
        # missing, and a key of another certificate
        edit_conf(s, f"certificate = {cert}", f"certificate = {s.dir}/none.pem")
        chk = run("-c", s.conf, "check")
        assert chk.returncode == 1
        assert f"certificate = {s.dir}/none.pem: user correio cannot read it: No such file" \
            in chk.stderr, chk.stderr
        _, other_key = make_cert(s.dir, "other")
        os.chmod(other_key, 0o644)
        edit_conf(s, f"certificate = {s.dir}/none.pem", f"certificate = {cert}")
        edit_conf(s, f"key = {key}", f"key = {other_key}")
        chk = run("-c", s.conf, "check")
        assert chk.returncode == 1 and "key values mismatch" in chk.stderr, \
            chk.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="not running as root: no user to check as")
def test_check_data_dir_the_run_as_user_cannot_reach():
    with Server() as s:
        locked = os.path.join(s.dir, "locked")
        os.mkdir(locked, 0o700)                 # root's, mode 0700
        data = os.path.join(locked, "sub", "data")
        edit_conf(s, f"data_dir = {s.data}", f"data_dir = {data}")
        chk = run("-c", s.conf, "check")
        assert chk.returncode == 1
        assert (f"correio: check: data_dir {data}: user correio cannot reach it: no search "
                f"permission on {locked} (mode 0700, owner root:root)") in chk.stderr, chk.stderr
        assert not os.path.exists(os.path.join(locked, "sub")), "check created something"
        srv = subprocess.run([BIN, "-c", s.conf, "serve"], capture_output=True, text=True,
                             timeout=15)
        assert srv.returncode == 1, srv.stderr
        os.chmod(locked, 0o711)
        chk = run("-c", s.conf, "check")
        assert chk.returncode == 0 and "configuration OK" in chk.stdout, chk.stderr


# ---- limits ----

def test_connections_per_client(limited):
    a = limited.client()
    b = limited.client()
    try:
        with limited.client(greeting=False) as c:
            assert c.reply().startswith("421 4.7.0 ")
            assert c.wait_closed()
        assert a.cmd("NOOP") == "250 2.0.0 Ok"
        assert b.cmd("NOOP") == "250 2.0.0 Ok"
        assert a.cmd("QUIT").startswith("221 ")
        assert a.wait_closed()
    finally:
        a.close()
        b.close()
    # a slot is free again once the server has seen the close
    deadline = time.time() + 5
    while True:
        with limited.client(greeting=False) as c:
            r = c.reply()
        if r.startswith("220 ") or time.time() > deadline:
            break
        time.sleep(0.05)
    assert r.startswith("220 "), r
    limited.wait_log(r"connection limit reached")


def test_idle_timeout():
    with Server(extra_config="idle_timeout = 1s") as s:
        s.start()
        with s.ehlo_client() as c:
            t = time.time()
            assert c.wait_closed(5)
            assert b"421 4.4.2 " in c.rest
            assert 0.5 < time.time() - t < 4


def test_recipient_limit():
    with Server(extra_config="recipients = 2") as s:
        s.add_user(ALICE)
        s.start()
        with s.ehlo_client() as c:
            assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
            assert c.cmd("RCPT TO:<alice@example.org>").startswith("250 ")
            assert c.cmd("RCPT TO:<alice+1@example.org>").startswith("250 ")
            assert c.cmd("RCPT TO:<alice+2@example.org>").startswith("452 4.5.3 ")


# ---- privileges ----

@pytest.mark.skipif(os.geteuid() != 0, reason="not running as root: no privileges to drop")
def test_root_drop(server):
    pw = pwd.getpwnam("correio")
    with open(f"/proc/{server.pid}/status") as f:
        status = f.read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    groups = re.search(r"^Groups:[ \t]*(.*)$", status, re.M).group(1).split()
    assert uids == [str(pw.pw_uid)] * 4
    assert gids == [str(pw.pw_gid)] * 4
    assert set(groups) <= {str(pw.pw_gid)}       # no supplementary groups of root
    st = os.stat(server.data)
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    send_mail(server, "a@example.net", [ALICE], "Subject: owner\r\n\r\nx\r\n")
    path = server.wait_messages(ALICE, 1)[0]
    server.wait_queue_empty()
    for p in (path, os.path.join(server.data, "queue"), os.path.join(server.data, "mail"),
              os.path.join(server.data, "accounts.db")):
        assert os.stat(p).st_uid == pw.pw_uid, p
    assert os.stat(path).st_mode & 0o007 == 0     # no access for others


# ---- the command line ----

def test_user_add_non_local_domain(server):
    r = server.cli("user", "add", "carol@example.net", "--password-stdin",
                   stdin="pw\n", check=False)
    assert r.returncode == 1
    assert "not local" in r.stderr
    assert "carol@example.net" not in server.cli("user", "list").stdout


def test_user_add_needs_a_password(server):
    r = run("-c", server.conf, "user", "add", "carol@example.org")   # stdin: /dev/null
    assert r.returncode == 1
    assert "password" in r.stderr
    r = run("-c", server.conf, "user", "add", "carol@example.org", "--password-stdin",
            input="")
    assert r.returncode == 1
    assert "carol@example.org" not in server.cli("user", "list").stdout


def test_user_add_twice(server):
    r = server.cli("user", "add", ALICE, "--password-stdin", stdin="x\n", check=False)
    assert r.returncode == 1
    assert "exists" in r.stderr


def test_user_add_then_receive(server):
    server.add_user("dave@example.org")
    assert "dave@example.org" in server.cli("user", "list").stdout
    send_mail(server, "a@example.net", ["dave@example.org"], "Subject: hi dave\r\n\r\nx\r\n")
    server.wait_messages("dave@example.org", 1)


def test_user_del_then_refused(server):
    server.cli("user", "del", "bob@example.org")
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        assert c.cmd("RCPT TO:<bob@example.org>").startswith("550 5.1.1 ")


def test_domain_add_makes_it_local(server):
    with server.ehlo_client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("250 ")
        assert c.cmd("RCPT TO:<erin@example.com>").startswith("554 5.7.1 ")
    server.cli("domain", "add", "example.com")
    server.add_user("erin@example.com")
    send_mail(server, "a@example.net", ["erin@example.com"], "Subject: new domain\r\n\r\nx\r\n")
    server.wait_messages("erin@example.com", 1)


@pytest.mark.parametrize("args", [
    ["--help"], ["serve", "--help"], ["check", "--help"],
    ["user", "--help"], ["user", "add", "--help"], ["user", "del", "--help"],
    ["user", "passwd", "--help"], ["user", "list", "--help"],
    ["alias", "--help"], ["alias", "add", "--help"], ["alias", "del", "--help"],
    ["alias", "list", "--help"],
    ["domain", "--help"], ["domain", "add", "--help"], ["domain", "del", "--help"],
    ["domain", "list", "--help"],
])
def test_help_exits_0(args):
    with Server() as s:     # a valid -c file: no ./correio.conf is looked for
        r = run("-c", s.conf, *args)
        assert not os.path.exists(s.data), "--help must not touch the data directory"
    assert r.returncode == 0, (args, r.stderr)
    assert "usage" in r.stdout.lower()
    assert r.stderr == ""


def test_usage_errors(server):
    assert run().returncode == 2
    assert run("-c", server.conf, "frobnicate").returncode == 2
    assert run("-c", server.conf, "user").returncode == 2
    assert run("-c", server.conf, "user", "add").returncode == 2
    assert run("-c", server.conf, "user", "add", "x@example.org", "--bogus").returncode == 2
    assert run("-c", server.conf, "serve", "extra").returncode == 2
