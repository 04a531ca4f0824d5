"""ManageSieve (RFC 5804, issue 16 item 3) on the [listen] managesieve
port: sieve-connect puts a script, a script with an error is refused with
its line number, the activated script decides where the next SMTP
delivery goes (checked through IMAP); the script commands and their
response codes (NONEXISTENT, ALREADYEXISTS, ACTIVE, QUOTA/MAXSIZE);
STARTTLS and AUTHENTICATE PLAIN with a continuation; a literal over the
1 MiB script limit is refused as soon as its header arrives."""

import base64
import imaplib
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from correio_harness import Server, send_mail

BOB = "bob@example.org"
ALICE = "alice@example.org"


@pytest.fixture
def server():
    s = Server(extra_config="[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n")
    s.add_user(ALICE)
    s.add_user(BOB)
    s.start()
    yield s
    s.cleanup()


@pytest.fixture
def tls_only():
    s = Server(extra_config="[auth]\nplaintext_on_loopback = no\nfailure_delay = 0\n")
    s.add_user(BOB)
    s.start()
    yield s
    s.cleanup()


def plain(user, password="secret"):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


class Client:
    """A ManageSieve client that shows the server's lines."""

    def __init__(self, port, timeout=10):
        deadline = time.time() + 5
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        line = self.f.readline()
        assert line.endswith(b"\r\n"), line
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        if m:   # a literal: its octets and the rest of the line
            data = self.f.read(int(m.group(1)))
            return line[:m.start()].decode() + "{" + data.decode() + "}" + self.line()
        return line[:-2].decode()

    def response(self):
        """(lines before, the OK/NO/BYE line)."""
        lines = []
        while True:
            line = self.line()
            if re.match(r"(OK|NO|BYE)\b", line):
                return lines, line
            lines.append(line)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.response()

    def starttls(self):
        assert self.cmd("STARTTLS")[1].startswith("OK")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")
        return self.response()

    def login(self, user=BOB):
        assert self.cmd(f'AUTHENTICATE "PLAIN" "{plain(user)}"')[1] == 'OK "logged in"'

    def close(self):
        self.sock.close()


def literal(text):
    return "{%d+}\r\n%s" % (len(text.encode()), text)


def sieve_connect(server, commands, user=BOB):
    """Run sieve-connect non-interactively (STARTTLS, PLAIN); returns the
    CompletedProcess."""
    path = os.path.join(server.dir, "commands")
    with open(path, "w") as f:
        f.write(commands)
    return subprocess.run(
        ["sieve-connect", "--server", "127.0.0.1", "--port", str(server.managesieve_port),
         "--user", user, "--passwordfd", "0", "--notlsverify", "--exec", path],
        input="secret\n", capture_output=True, text=True, timeout=60)


def imap_subjects(server, address, folder):
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as m:
        m.login(address, "secret")
        typ, _ = m.select('"' + folder + '"')
        assert typ == "OK", folder
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return [item[1].decode().strip() for item in data if isinstance(item, tuple)]


def wait_subjects(server, address, folder, n, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            got = imap_subjects(server, address, folder)
        except AssertionError:
            got = []
        if len(got) >= n or time.time() > deadline:
            return got
        time.sleep(0.05)


def message(subject):
    return f"From: <{ALICE}>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\n\r\nHello.\r\n"


def test_sieve_connect_put_check_activate_then_delivery_follows(server):
    bad = os.path.join(server.dir, "bad.sieve")
    good = os.path.join(server.dir, "good.sieve")
    with open(bad, "w") as f:
        f.write('require "fileinto";\n\nfileinto "Lists"\nkeep;\n')
    with open(good, "w") as f:
        f.write('require ["fileinto", "mailbox"];\n'
                'if header :contains "subject" "[list]" {\n'
                '    fileinto :create "Lists";\n}\n')
    r = sieve_connect(server, f"put {bad} broken\n")
    assert re.search(r"line [34]", r.stdout + r.stderr), (r.stdout, r.stderr)
    r = sieve_connect(server, f"put {good} main\nactivate main\nlist\n")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert '"main" ACTIVE' in r.stdout, r.stdout
    assert "broken" not in r.stdout
    log = server.read_log()
    assert "managesieve: bob@example.org: logged in" in log
    send_mail(server, ALICE, [BOB], message("[list] weekly news"))
    send_mail(server, ALICE, [BOB], message("personal"))
    assert wait_subjects(server, BOB, "Lists", 1) == ["Subject: [list] weekly news"]
    assert wait_subjects(server, BOB, "INBOX", 1) == ["Subject: personal"]
    # the same store as the administrator's command
    out = server.cli("user", "sieve", BOB, "list").stdout
    assert out == "main ACTIVE\n"


def test_capabilities_and_starttls(server):
    c = Client(server.managesieve_port)
    caps, ok = c.response()
    assert ok.startswith("OK")
    assert '"IMPLEMENTATION" "correio"' in caps
    assert '"SASL" "PLAIN"' in caps and '"STARTTLS"' in caps and '"VERSION" "1.0"' in caps
    sieve = [x for x in caps if x.startswith('"SIEVE"')][0]
    for ext in ("fileinto", "vacation", "variables", "imap4flags", "include"):
        assert ext in sieve.split('"')[3].split(), sieve
    caps, ok = c.starttls()
    assert ok.startswith("OK") and '"STARTTLS"' not in caps and '"SASL" "PLAIN"' in caps
    assert c.cmd("STARTTLS")[1].startswith("NO")
    # AUTHENTICATE with a continuation: the server's empty challenge
    c.send('AUTHENTICATE "PLAIN"\r\n')
    assert c.line() == '""'
    c.send('"%s"\r\n' % plain(BOB))
    assert c.response()[1] == 'OK "logged in"'
    assert c.cmd("LISTSCRIPTS") == ([], 'OK "listscripts completed"')
    caps, _ = c.cmd("CAPABILITY")
    assert f'"OWNER" "{BOB}"' in caps and '"UNAUTHENTICATE"' in caps
    # UNAUTHENTICATE: back to the start, a new login is possible
    assert c.cmd("UNAUTHENTICATE")[1].startswith("OK")
    assert c.cmd("LISTSCRIPTS")[1] == 'NO "authenticate first"'
    c.login()
    assert c.cmd("LOGOUT")[1].startswith("OK")
    c.close()


def test_plaintext_needs_tls(tls_only):
    c = Client(tls_only.managesieve_port)
    caps, _ = c.response()
    assert '"SASL" ""' in caps
    _, no = c.cmd(f'AUTHENTICATE "PLAIN" "{plain(BOB)}"')
    assert no.startswith("NO (ENCRYPT-NEEDED)"), no
    c.starttls()
    c.login()
    c.close()
    # sieve-connect takes the same way: STARTTLS, then PLAIN
    r = sieve_connect(tls_only, "list\n")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "logged in" in tls_only.read_log()


def test_script_commands_and_response_codes(server):
    c = Client(server.managesieve_port)
    c.response()
    assert c.cmd("LISTSCRIPTS")[1] == 'NO "authenticate first"'
    c.login()
    script = 'require "fileinto";\r\nfileinto "A";\r\n'
    assert c.cmd('PUTSCRIPT "one" ' + literal(script))[1] == 'OK "script stored"'
    assert c.cmd('PUTSCRIPT "two" "keep;"')[1] == 'OK "script stored"'
    # an invalid script: NO with the line of the error, nothing stored
    _, no = c.cmd('PUTSCRIPT "three" ' + literal("keep;\r\n\r\nfrobnicate;\r\n"))
    assert no.startswith('NO "line 3:'), no
    _, no = c.cmd('CHECKSCRIPT ' + literal('require "fileinto";\r\nfileinto;\r\n'))
    assert no.startswith('NO "line 2:'), no
    assert c.cmd('CHECKSCRIPT "keep;"')[1] == 'OK "script is valid"'
    assert c.cmd('HAVESPACE "x" 1000')[1].startswith("OK")
    assert c.cmd('HAVESPACE "x" 2000000')[1].startswith("NO (QUOTA/MAXSIZE)")
    assert sorted(c.cmd("LISTSCRIPTS")[0]) == ['"one"', '"two"']
    assert c.cmd('SETACTIVE "nope"')[1].startswith("NO (NONEXISTENT)")
    assert c.cmd('SETACTIVE "one"')[1] == 'OK "script activated"'
    assert sorted(c.cmd("LISTSCRIPTS")[0]) == ['"one" ACTIVE', '"two"']
    assert c.cmd('GETSCRIPT "one"') == (["{%s}" % script], 'OK "getscript completed"')
    assert c.cmd('GETSCRIPT "nope"')[1].startswith("NO (NONEXISTENT)")
    assert c.cmd('DELETESCRIPT "one"')[1].startswith("NO (ACTIVE)")
    assert c.cmd('DELETESCRIPT "nope"')[1].startswith("NO (NONEXISTENT)")
    assert c.cmd('RENAMESCRIPT "one" "two"')[1].startswith("NO (ALREADYEXISTS)")
    assert c.cmd('RENAMESCRIPT "nope" "four"')[1].startswith("NO (NONEXISTENT)")
    # renaming the active script keeps it active
    assert c.cmd('RENAMESCRIPT "one" "uno"')[1] == 'OK "script renamed"'
    assert sorted(c.cmd("LISTSCRIPTS")[0]) == ['"two"', '"uno" ACTIVE']
    assert c.cmd('DELETESCRIPT "two"')[1] == 'OK "script deleted"'
    assert c.cmd('SETACTIVE ""')[1] == 'OK "no script is active"'
    assert c.cmd("LISTSCRIPTS")[0] == ['"uno"']
    assert c.cmd('DELETESCRIPT "uno"')[1] == 'OK "script deleted"'
    assert c.cmd("LISTSCRIPTS")[0] == []
    assert c.cmd('NOOP "t1"')[1] == 'OK (TAG "t1") "done"'
    assert c.cmd("FROB")[1] == 'NO "unknown command"'
    assert c.cmd('PUTSCRIPT {3+}\r\na\0b "keep;"')[1] == 'NO "NUL in an argument"'
    assert c.cmd("LISTSCRIPTS")[0] == []
    c.close()


def test_oversize_literal_refused_before_it_is_read(server):
    c = Client(server.managesieve_port)
    c.response()
    c.login()
    # only the header is sent: the refusal comes without the octets
    c.send('PUTSCRIPT "big" {2000000+}\r\n')
    _, no = c.response()
    assert no.startswith("NO (QUOTA/MAXSIZE)"), no
    # the octets that follow are skipped, not taken for commands
    c.send(("keep;\r\n" * (2000000 // 7 + 1))[:2000000] + "\r\n")
    assert c.cmd('NOOP "after"')[1] == 'OK (TAG "after") "done"'
    assert c.cmd("LISTSCRIPTS")[0] == []
    c.close()
