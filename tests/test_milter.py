"""Mail filters ([milter] filters): a real milter written with python3-milter
(Debian's binding of Sendmail's libmilter, a third-party implementation of
the protocol) run as a private process on loopback.  It records what it was
shown, adds a header, changes the subject, replaces the body, rejects,
defers, discards or quarantines according to markers in the body; a filter
that is down follows [milter] default_action."""

import json
import re
import signal
import os
import smtplib
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from correio_harness import Server, free_port
from relay_fixtures import wait_for

import Milter  # noqa: F401  (python3-milter, scripts/deps.sh: the filters below need it)

USER = "alice@example.org"

FILTER = textwrap.dedent(r'''
    import json
    import sys

    import Milter

    LOG = sys.argv[2]


    class Filter(Milter.Base):
        def __init__(self):
            self.seen = {"rcpts": [], "headers": [], "body": b""}

        def connect(self, hostname, family, hostaddr):
            self.seen["client"] = hostaddr[0]
            return Milter.CONTINUE

        def hello(self, helo):
            self.seen["helo"] = helo
            return Milter.CONTINUE

        def envfrom(self, sender, *args):
            self.seen["from"] = sender
            return Milter.CONTINUE

        def envrcpt(self, rcpt, *args):
            self.seen["rcpts"].append(rcpt)
            return Milter.CONTINUE

        def header(self, name, value):
            self.seen["headers"].append([name, value])
            return Milter.CONTINUE

        def eoh(self):
            self.seen["eoh"] = True
            return Milter.CONTINUE

        def body(self, chunk):
            self.seen["body"] += chunk
            return Milter.CONTINUE

        def eom(self):
            body = self.seen["body"]
            self.seen["body"] = body.decode()
            self.seen["queue_id"] = self.getsymval("i")
            with open(LOG, "a") as f:
                f.write(json.dumps(self.seen) + "\n")
            if b"REJECT-ME" in body:
                self.setreply("554", "5.7.1", "marker found by the test filter")
                return Milter.REJECT
            if b"TEMPFAIL-ME" in body:
                return Milter.TEMPFAIL
            if b"DISCARD-ME" in body:
                return Milter.DISCARD
            self.addheader("X-Test-Filter", "seen %d recipients" % len(self.seen["rcpts"]))
            if b"CHANGE-SUBJECT" in body:
                self.chgheader("Subject", 1, "changed by the filter")
            if b"DROP-SUBJECT" in body:
                self.chgheader("Subject", 1, "")
            if b"FIRST-HEADER" in body:
                self.addheader("X-First", "on top", 0)
            if b"REPLACE-BODY" in body:
                self.replacebody(b"the filter's body\r\nline two\r\n")
            if b"QUARANTINE-ME" in body:
                self.quarantine("held by the test filter")
            return Milter.ACCEPT


    Milter.factory = Filter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY | Milter.QUARANTINE)
    Milter.runmilter("correio-test", "inet:%s@127.0.0.1" % sys.argv[1], 60)
''')


class PyMilter:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="correio-milter-")
        self.script = os.path.join(self.dir, "filter.py")
        self.log = os.path.join(self.dir, "seen.jsonl")
        with open(self.script, "w") as f:
            f.write(FILTER)
        self.port = free_port()
        self.out = open(os.path.join(self.dir, "out"), "wb")
        self.proc = subprocess.Popen(["/usr/bin/python3", self.script, str(self.port), self.log],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        wait_for(self._listening, timeout=10, what="the test milter")

    def _listening(self):
        import socket
        assert self.proc.poll() is None, "the test milter exited"
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def seen(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        if self.proc.poll() is None:
            # libmilter waits for its sessions on SIGTERM: a test filter
            # has nothing to lose
            self.proc.kill()
            self.proc.wait()
        self.out.close()


@pytest.fixture
def milter():
    m = PyMilter()
    yield m
    m.stop()


def milter_server(filters, default="tempfail"):
    s = Server(extra_config=f"[milter]\nfilters = {filters}\ndefault_action = {default}\n"
               "timeout = 10s\nconnect_timeout = 5s\n")
    s.add_user(USER)
    s.add_user("bob@example.org")
    return s


def send(server, body, subject="hello", rcpts=(USER,)):
    msg = (f"From: carol@sender.example\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\n"
           f"{body}\r\n").encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        return c.sendmail("carol@sender.example", list(rcpts), msg)


def test_filter_sees_the_transaction_and_adds_a_header(milter):
    with milter_server(f"inet:127.0.0.1:{milter.port}") as s:
        s.start()
        send(s, "first line\r\nsecond line", rcpts=(USER, "bob@example.org"))
        path = s.wait_messages(USER, 1)[0]
        text = s.read_message(path).decode()
        assert "\nX-Test-Filter: seen 2 recipients\n" in text, text
        # the added header goes at the end of the header section
        head = text.split("\n\n", 1)[0]
        assert head.rstrip("\n").endswith("X-Test-Filter: seen 2 recipients"), head
        assert text.endswith("\n\nfirst line\nsecond line\n"), text
        seen = milter.seen()[0]
        assert seen["client"] == "127.0.0.1"
        assert seen["helo"] == "client.example"
        assert seen["from"] == "<carol@sender.example>"
        assert seen["rcpts"] == [f"<{USER}>", "<bob@example.org>"]
        assert ["Subject", "hello"] in seen["headers"]
        assert seen["eoh"] is True
        assert seen["body"] == "first line\r\nsecond line\r\n"
        assert seen["queue_id"] and seen["queue_id"] in text


def test_filter_rejects_defers_and_discards(milter):
    with milter_server(f"inet:127.0.0.1:{milter.port}") as s:
        s.start()
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(s, "this carries REJECT-ME")
        assert e.value.smtp_code == 554
        assert b"5.7.1 marker found by the test filter" in e.value.smtp_error
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(s, "this carries TEMPFAIL-ME")
        assert e.value.smtp_code == 451
        # discarded: the client is told 250, nothing is delivered
        assert send(s, "this carries DISCARD-ME") == {}
        send(s, "and this one is fine")
        files = s.wait_messages(USER, 1)
        time.sleep(0.3)
        files = s.messages(USER)
        assert len(files) == 1
        assert b"this one is fine" in s.read_message(files[0])


def test_filter_changes_headers_and_replaces_the_body(milter):
    with milter_server(f"inet:127.0.0.1:{milter.port}") as s:
        s.start()
        send(s, "CHANGE-SUBJECT FIRST-HEADER REPLACE-BODY")
        text = s.read_message(s.wait_messages(USER, 1)[0]).decode()
        head, body = text.split("\n\n", 1)
        assert "\nSubject: changed by the filter\n" in head + "\n", head
        assert "Subject: hello" not in head
        assert body == "the filter's body\nline two\n", body
        # X-First was inserted first among the message's own headers
        lines = head.split("\n")
        received = max(i for i, l in enumerate(lines) if l.startswith(("Received:", "\t")))
        assert lines[received + 1] == "X-First: on top", lines
        send(s, "DROP-SUBJECT")
        text = s.read_message(s.wait_messages(USER, 2)[1]).decode()
        assert "Subject:" not in text.split("\n\n", 1)[0]


def test_stopped_filter_follows_default_action(milter):
    port = milter.port
    milter.stop()
    with milter_server(f"inet:127.0.0.1:{port}", "tempfail") as s:
        s.start()
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(s, "nobody is filtering")
        assert e.value.smtp_code == 451 and b"4.7.1" in e.value.smtp_error
        assert "milter inet:127.0.0.1:%d: cannot connect" % port in s.read_log()
        assert s.messages(USER) == []
    with milter_server(f"inet:127.0.0.1:{port}", "accept") as s:
        s.start()
        send(s, "nobody is filtering")
        text = s.read_message(s.wait_messages(USER, 1)[0]).decode()
        assert "X-Test-Filter" not in text


def test_second_filter_sees_the_first_ones_changes_and_a_dead_one_is_skipped(milter):
    second = PyMilter()
    dead = free_port()
    try:
        with milter_server(f"inet:127.0.0.1:{milter.port}, inet:127.0.0.1:{dead}, "
                           f"inet:127.0.0.1:{second.port}", "accept") as s:
            s.start()
            send(s, "CHANGE-SUBJECT")
            text = s.read_message(s.wait_messages(USER, 1)[0]).decode()
            assert text.count("X-Test-Filter: seen 1 recipients") == 2, text
            seen = second.seen()[0]
            assert ["Subject", "changed by the filter"] in seen["headers"]
            assert ["X-Test-Filter", "seen 1 recipients"] in seen["headers"]
    finally:
        second.stop()


def test_quarantine_holds_the_message_in_the_queue(milter):
    with milter_server(f"inet:127.0.0.1:{milter.port}") as s:
        with open(s.conf, "a") as f:
            f.write("[relay]\ntrusted_networks = 127.0.0.0/8\n"
                    "smarthost = 127.0.0.1:%d\n" % free_port())
        s.start()
        send(s, "QUARANTINE-ME", rcpts=("dave@remote.example",))
        out = wait_for(lambda: (lambda o: "held" in o and o)(s.cli("queue", "list").stdout),
                       timeout=10, what="a held message")
        assert re.search(r"^[0-9A-F]{16}! .* held +carol@sender\.example$", out, re.M), out
        assert re.search(r"^ +deferred +dave@remote\.example$|^ +pending +dave@remote\.example$",
                         out, re.M), out
        assert "milter-hold: held by the test filter" in s.read_log()


def test_quarantine_holds_mail_for_local_recipients_too(milter):
    """Local recipients wait in the same queue as remote ones, so a held
    message is not filed until an operator releases it."""
    with milter_server(f"inet:127.0.0.1:{milter.port}") as s:
        s.start()
        send(s, "QUARANTINE-ME", rcpts=(USER,))
        out = wait_for(lambda: (lambda o: "held" in o and o)(s.cli("queue", "list").stdout),
                       timeout=10, what="a held message")
        time.sleep(1)
        assert s.messages(USER) == [], "a held message was delivered"
        qid = re.search(r"^([0-9A-F]{8,})", out, re.M).group(1)
        s.cli("queue", "release", qid)
        s.wait_messages(USER, 1)


# ---- rspamd (Debian's package) through its milter proxy ----

RSPAMD_CONF = """
.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "console";
    level = "notice";
}
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:%d";
    milter = yes;
    timeout = 120s;
    count = 1;
    upstream "local" {
        default = yes;
        self_scan = yes;
    }
}
"""

# rspamd compiles its multi-pattern matchers at start (20-30 s on a busy
# machine); the compiled ones are kept between runs here, and a start with
# them takes about a second
RSPAMD_CACHE = os.path.join(tempfile.gettempdir(), "correio-test-rspamd-cache")

RSPAMD_LOCAL = {
    # no fuzzy servers on the Internet, short DNS waits
    "options.inc": "local_addrs = [];\ndisable_hyperscan = true;\n"
                   'hs_cache_dir = "%s";\n' % RSPAMD_CACHE +
                   "dns { timeout = 1s; retransmits = 1; }\n",
    "fuzzy_check.conf": "enabled = false;\n",
    "milter_headers.conf": 'use = ["x-spamd-result", "x-rspamd-queue-id", "x-spam-status"];\n'
                           "skip_local = false;\n",
}


@pytest.fixture
def rspamd():
    """A private rspamd (proxy worker scanning by itself, milter mode) on a
    free loopback port, its configuration, database and logs in a
    temporary directory; stopped by PID.  The system's service is never
    touched."""
    d = tempfile.mkdtemp(prefix="correio-rspamd-")
    os.makedirs(os.path.join(d, "local.d"))
    port = free_port()
    os.makedirs(RSPAMD_CACHE, exist_ok=True)
    with open(os.path.join(d, "rspamd.conf"), "w") as f:
        f.write(RSPAMD_CONF % port)
    for name, text in RSPAMD_LOCAL.items():
        with open(os.path.join(d, "local.d", name), "w") as f:
            f.write(text)
    log = open(os.path.join(d, "rspamd.log"), "wb")
    proc = subprocess.Popen(
        ["rspamd", "-f", "-i", "-u", "root", "-g", "root", "-c", os.path.join(d, "rspamd.conf"),
         "--var=CONFDIR=/etc/rspamd", "--var=LOCAL_CONFDIR=" + d, "--var=DBDIR=" + d,
         "--var=RUNDIR=" + d, "--var=LOGDIR=" + d],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def listening():
        import socket
        assert proc.poll() is None, open(os.path.join(d, "rspamd.log")).read()
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False

    try:
        wait_for(listening, timeout=120, what="rspamd")
        yield port
    finally:
        # its own process group: the main process and its workers
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        import shutil
        shutil.rmtree(d, ignore_errors=True)


GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def test_rspamd_rejects_gtube_and_adds_its_headers(rspamd):
    with milter_server(f"inet:127.0.0.1:{rspamd}") as s:
        s.start()
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(s, "spam follows\r\n" + GTUBE)
        assert e.value.smtp_code == 554, e.value
        assert b"5.7.1" in e.value.smtp_error and b"Gtube" in e.value.smtp_error
        send(s, "an ordinary message")
        text = s.read_message(s.wait_messages(USER, 1)[0]).decode()
        head = text.split("\n\n", 1)[0]
        assert "\nX-Spamd-Result: default: False [" in head, head
        assert "\nX-Spam-Status: No, score=" in head, head
        queue_id = re.search(r"with ESMTP id (\w+)", head).group(1)
        assert f"\nX-Rspamd-Queue-Id: {queue_id}" in head, head


def test_bdat_message_is_filtered_too(milter):
    import socket
    with milter_server(f"inet:127.0.0.1:{milter.port}") as s:
        s.start()
        for marker, want in ((b"REJECT-ME", b"554 5.7.1 marker found"), (b"fine", b"250 ")):
            text = b"Subject: chunked\r\n\r\nthis is " + marker + b"\r\n"
            with socket.create_connection(("127.0.0.1", s.smtp_port), 10) as c:
                f = c.makefile("rb")
                f.readline()
                c.sendall(b"EHLO client.example\r\n")
                while not f.readline().startswith(b"250 "):
                    pass
                c.sendall(b"MAIL FROM:<carol@sender.example>\r\nRCPT TO:<%s>\r\n" % USER.encode())
                assert f.readline().startswith(b"250")
                assert f.readline().startswith(b"250")
                c.sendall(b"BDAT %d LAST\r\n" % len(text) + text)
                reply = f.readline()
                assert reply.startswith(want), reply
        text = s.read_message(s.wait_messages(USER, 1)[0]).decode()
        assert "X-Test-Filter: seen 1 recipients" in text and "this is fine" in text
