"""The IMAP server (RFC 9051 IMAP4rev2 / RFC 3501 IMAP4rev1) with a raw
client that sees every byte, Python's imaplib, and real clients (mbsync,
mutt, curl): capabilities, login, TLS, folders, APPEND and its literals,
mailbox names in both encodings, updates between sessions and IDLE, UIDs
across restarts and a lost index, and what a broken client sends."""

import datetime
import email.utils
import imaplib
import os
import poplib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from correio_harness import Server, send_mail

ALICE = "alice@example.org"
BOB = "bob@example.org"

PLAIN = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
BIG = "[limits]\nmessage_size = 8M\n"
LIMIT = 8 * 1024 * 1024


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---- a raw client ----

class Imap:
    """A raw IMAP connection.  Lines are str without CRLF; a line announcing
    a literal {n} carries the literal and the rest of the line with it."""

    def __init__(self, port, tls=False, timeout=10):
        sock = socket.create_connection(("127.0.0.1", port), timeout)
        if tls:
            sock = tls_context().wrap_socket(sock)
        sock.settimeout(timeout)
        self.timeout = timeout
        self.sock = sock
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _raw_line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; unread: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed in a literal")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self):
        out = b""
        while True:
            line = self._raw_line()
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return out.decode("utf-8", "replace")
            out += b"\r\n" + self._read(int(m.group(1)))

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def read_tagged(self, tag):
        """(untagged and continuation lines, tagged line) up to tag's reply."""
        lines = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return lines, line
            lines.append(line)

    def cmd(self, text, tag=None):
        tag = tag or self.tag()
        self.send(f"{tag} {text}\r\n")
        return self.read_tagged(tag)

    def ok(self, text):
        """Run text; the reply must be OK.  Returns the untagged lines."""
        untagged, tagged = self.cmd(text)
        assert re.match(r"\S+ OK", tagged), (text, untagged, tagged)
        return untagged

    def login(self, user=ALICE, password="secret"):
        return self.ok(f"LOGIN {user} {password}")

    def select(self, name="INBOX", examine=False):
        return parse_select(self.ok(("EXAMINE " if examine else "SELECT ") + quote(name)))

    def append(self, mailbox, message, flags=None, date=None, plus=False):
        """APPEND with a synchronising literal (or LITERAL+); returns
        (untagged, tagged)."""
        tag = self.tag()
        head = f"{tag} APPEND {quote(mailbox)}"
        if flags is not None:
            head += " (" + " ".join(flags) + ")"
        if date is not None:
            head += f' "{date}"'
        head += " {%d%s}\r\n" % (len(message), "+" if plus else "")
        self.send(head)
        if not plus:
            self.sock.settimeout(min(5, self.timeout))
            try:
                cont = self.line()
            except socket.timeout:
                raise AssertionError("no \"+\" continuation for a %d-octet literal"
                                     % len(message)) from None
            finally:
                self.sock.settimeout(self.timeout)
            if not cont.startswith("+"):
                return [], cont
        self.send(message + b"\r\n")
        return self.read_tagged(tag)

    def append_ok(self, mailbox, message, **kw):
        """APPEND that must succeed; returns (uidvalidity, uid)."""
        untagged, tagged = self.append(mailbox, message, **kw)
        m = re.match(r"\S+ OK \[APPENDUID (\d+) (\d+)\]", tagged)
        assert m, (untagged, tagged)
        return int(m.group(1)), int(m.group(2))

    def status(self, mailbox, items="MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE"):
        untagged = self.ok(f"STATUS {quote(mailbox)} ({items})")
        assert len(untagged) == 1 and untagged[0].startswith("* STATUS "), untagged
        return parse_status(untagged[0])

    def wait_for(self, pattern, timeout=5):
        """Read lines until one matches pattern (during IDLE); returns the
        lines read, the matching one last."""
        self.sock.settimeout(timeout)
        lines = []
        try:
            while True:
                line = self.line()
                lines.append(line)
                if re.search(pattern, line):
                    return lines
        except socket.timeout:
            raise AssertionError(f"no /{pattern}/ within {timeout}s; got {lines!r}")
        finally:
            self.sock.settimeout(self.timeout)

    def quiet(self, seconds=0.3):
        """Whatever arrives within seconds (nothing expected)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = b""
        finally:
            self.sock.settimeout(self.timeout)
        data, self.buf = self.buf + data, b""
        return data

    def closed(self, timeout=5):
        """True once the server has closed the connection; lines that came
        before are in self.rest."""
        self.sock.settimeout(timeout)
        self.rest = self.buf
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.rest += chunk
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True

    def starttls(self):
        self.ok("STARTTLS")
        assert self.buf == b""
        self.sock = tls_context().wrap_socket(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_select(untagged):
    d = {}
    for line in untagged:
        if m := re.match(r"\* (\d+) (EXISTS|RECENT)$", line):
            d[m.group(2)] = int(m.group(1))
        elif m := re.match(r"\* OK \[(UIDVALIDITY|UIDNEXT|UNSEEN) (\d+)\]", line):
            d[m.group(1)] = int(m.group(2))
        elif m := re.match(r"\* FLAGS \((.*)\)$", line):
            d["FLAGS"] = m.group(1).split()
        elif m := re.match(r"\* OK \[PERMANENTFLAGS \((.*)\)\]", line):
            d["PERMANENTFLAGS"] = m.group(1).split()
    return d


def parse_status(line):
    m = re.match(r'\* STATUS (".*"|\S+) \((.*)\)$', line)
    assert m, line
    items = m.group(2).split()
    d = {items[i]: int(items[i + 1]) for i in range(0, len(items), 2)}
    d["name"] = m.group(1).strip('"')
    return d


LIST_RE = re.compile(r'\* (LIST|LSUB) \(([^)]*)\) "/" (".*"|\S+)$')


def parse_list(untagged):
    """{name: set of attributes} from LIST/LSUB lines (others ignored)."""
    out = {}
    for line in untagged:
        m = LIST_RE.match(line)
        if m:
            out[m.group(3).strip('"')] = set(m.group(2).split())
    return out


def msg(subject="test", body="hello", extra=""):
    return (f"From: Carol <carol@example.net>\r\nTo: alice@example.org\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@example.net>\r\n"
            f"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n{extra}\r\n{body}\r\n").encode()


def big_msg(size, subject="big"):
    head = msg(subject, body="")
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?\r\n"   # 66 octets
    body = line * ((size - len(head)) // len(line))
    return head + body + b"x" * (size - len(head) - len(body))


def folder_dirs(server, address=ALICE):
    """The Maildir directories of the account: INBOX and every .folder."""
    root = server.maildir(address)
    return [root] + [os.path.join(root, d) for d in sorted(os.listdir(root))
                     if d.startswith(".") and os.path.isdir(os.path.join(root, d))]


def pop3_uidls(server, address=ALICE):
    """UIDL of the INBOX over POP3: "<uidvalidity>.<uid>" per message."""
    c = poplib.POP3("127.0.0.1", server.pop3_port, timeout=10)
    try:
        c.user(address)
        c.pass_("secret")
        return [x.decode().split()[1] for x in c.uidl()[1]]
    finally:
        c.quit()


def need(server, *commands):
    """Every command is in the server's dispatch table.  (In the
    authenticated state an implemented FETCH answers "not allowed without a
    selected mailbox", a missing one "unknown command".)"""
    with Imap(server.imap_port) as c:
        c.login()
        for command in commands:
            _, tagged = c.cmd(command + " 1")
            assert "unknown command" not in tagged, f"{command} is not implemented"


# ---- fixtures ----

def _server(extra):
    s = Server(extra_config=extra)
    try:
        s.add_user(ALICE)
        s.add_user(BOB)
        s.start()
    except BaseException:
        s.cleanup()
        raise
    return s


@pytest.fixture
def srv():
    """Plaintext LOGIN allowed on loopback, 8 MB messages."""
    s = _server(PLAIN + BIG)
    yield s
    s.cleanup()


@pytest.fixture
def strict():
    """No login without TLS, loopback included (plaintext_on_loopback = no)."""
    s = _server("[auth]\nplaintext_on_loopback = no\n")
    yield s
    s.cleanup()


@pytest.fixture
def alice(srv):
    with Imap(srv.imap_port) as c:
        c.login()
        yield c


def imaplib_login(server, user=ALICE):
    c = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    c.login(user, "secret")
    return c


# ---- capabilities and login ----

NOT_AUTH_CAPS = {"IMAP4rev1", "IMAP4rev2", "SASL-IR", "LITERAL+", "ID", "ENABLE"}
LOGGED_CAPS = {"IMAP4rev1", "IMAP4rev2", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE",
               "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "SPECIAL-USE", "LIST-EXTENDED",
               "LIST-STATUS", "STATUS=SIZE", "ESEARCH", "UTF8=ACCEPT", f"APPENDLIMIT={LIMIT}"}


def caps_of(line):
    m = re.search(r"CAPABILITY ([^\]]*?)(\]|$)", line)
    assert m, line
    return set(m.group(1).split())


def test_capability_before_and_after_login(srv):
    with Imap(srv.imap_port) as c:
        assert c.greeting.startswith("* OK [CAPABILITY ")
        greet = caps_of(c.greeting)
        [line] = c.ok("CAPABILITY")
        caps = caps_of(line)
        assert caps == greet
        assert caps == NOT_AUTH_CAPS | {"STARTTLS", "AUTH=PLAIN"}
        _, tagged = c.cmd("LOGIN alice@example.org secret")
        assert tagged.startswith("t2 OK [CAPABILITY ")
        assert LOGGED_CAPS <= caps_of(tagged)
        [line] = c.ok("CAPABILITY")
        assert caps_of(line) == caps_of(tagged)
        assert not {"STARTTLS", "AUTH=PLAIN", "LOGINDISABLED", "SASL-IR"} & caps_of(line)
        assert [x for x in caps_of(line) if x.startswith("APPENDLIMIT=")] == [f"APPENDLIMIT={LIMIT}"]


def test_capability_without_plaintext_and_after_starttls(strict):
    with Imap(strict.imap_port) as c:
        caps = caps_of(c.greeting)
        assert caps == NOT_AUTH_CAPS | {"STARTTLS", "LOGINDISABLED"}
        c.starttls()
        [line] = c.ok("CAPABILITY")
        assert caps_of(line) == NOT_AUTH_CAPS | {"AUTH=PLAIN"}
        _, tagged = c.cmd("LOGIN alice@example.org secret")
        assert LOGGED_CAPS - {f"APPENDLIMIT={LIMIT}"} | {"APPENDLIMIT=1048576"} <= caps_of(tagged)


def test_login_good_and_bad(srv):
    with Imap(srv.imap_port) as c:
        _, tagged = c.cmd("LOGIN alice@example.org wrong")
        assert tagged == "t1 NO [AUTHENTICATIONFAILED] Authentication failed"
        _, tagged = c.cmd("LOGIN nobody@example.org secret")
        assert tagged.startswith("t2 NO [AUTHENTICATIONFAILED]")
        _, tagged = c.cmd("LOGIN alice@example.org")
        assert tagged.startswith("t3 BAD")
        _, tagged = c.cmd("SELECT INBOX")
        assert tagged == "t4 BAD SELECT not allowed before login"
        c.ok('LOGIN "alice@example.org" {6+}\r\nsecret')      # quoted and literal
        _, tagged = c.cmd("LOGIN alice@example.org secret")
        assert tagged.startswith("t6 BAD")
        c.ok("NOOP")
    # imaplib, a bare local part
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login("alice", "nope")
    typ, _ = m.login("alice", "secret")
    assert typ == "OK" and m.state == "AUTH"
    m.logout()


def test_wrong_state_texts(alice):
    """The BAD text names the reason: a command of the not-authenticated
    state after login is "not allowed after login", not "without a
    selected mailbox"."""
    _, tagged = alice.cmd("EXPUNGE", tag="x1")
    assert tagged == "x1 BAD EXPUNGE not allowed without a selected mailbox"
    _, tagged = alice.cmd("LOGIN alice@example.org secret", tag="x2")
    assert tagged == "x2 BAD LOGIN not allowed after login"
    alice.select("INBOX")
    _, tagged = alice.cmd("STARTTLS", tag="x3")
    assert tagged == "x3 BAD STARTTLS not allowed after login"


def test_privacy_required_without_tls(strict):
    with Imap(strict.imap_port) as c:
        _, tagged = c.cmd("LOGIN alice@example.org secret")
        assert tagged.startswith("t1 NO [PRIVACYREQUIRED]")
        _, tagged = c.cmd("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==")
        assert tagged.startswith("t2 NO [PRIVACYREQUIRED]")
        c.starttls()
        c.login()
        c.select("INBOX")


def test_authenticate_plain(srv):
    import base64

    def b64(s):
        return base64.b64encode(s.encode()).decode()

    with Imap(srv.imap_port) as c:
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("\0alice@example.org\0wrong"))
        assert tagged.startswith("t1 NO [AUTHENTICATIONFAILED]")
        _, tagged = c.cmd("AUTHENTICATE PLAIN !!notbase64")
        assert tagged.startswith("t2 BAD")
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("bob@example.org\0alice@example.org\0secret"))
        assert tagged.startswith("t3 NO [AUTHORIZATIONFAILED]")
        _, tagged = c.cmd("AUTHENTICATE CRAM-MD5")
        assert tagged.startswith("t4 NO")
        # continuation, aborted with "*"
        c.send("t5 AUTHENTICATE PLAIN\r\n")
        assert c.line().startswith("+")
        c.send("*\r\n")
        _, tagged = c.read_tagged("t5")
        assert tagged.startswith("t5 BAD")
        # continuation with the response
        c.send("t6 AUTHENTICATE PLAIN\r\n")
        assert c.line() == "+ "
        c.send(b64("\0alice@example.org\0secret") + "\r\n")
        _, tagged = c.read_tagged("t6")
        assert tagged.startswith("t6 OK [CAPABILITY ") and "IDLE" in tagged
        c.select("INBOX")
    with Imap(srv.imap_port) as c:     # SASL-IR, authzid = authcid
        _, tagged = c.cmd("AUTHENTICATE PLAIN " + b64("bob@example.org\0bob@example.org\0secret"))
        assert tagged.startswith("t1 OK")
    # imaplib's AUTHENTICATE (continuation)
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
    typ, _ = m.authenticate("PLAIN", lambda _: b"\0alice@example.org\0secret")
    assert typ == "OK" and m.state == "AUTH"
    m.logout()


def test_long_tag_after_idle_and_authenticate(srv):
    """The tagged reply that ends IDLE or AUTHENTICATE carries the
    command's tag, however long, after the reader has read the DONE or
    response line."""
    import base64
    tag = "Q" * 5000
    with Imap(srv.imap_port) as c:
        c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
        assert c.line().startswith("+")
        c.send(base64.b64encode(b"\0alice@example.org\0secret").decode() + "\r\n")
        line = c.line()
        assert line.startswith(tag + " OK "), line[:100]
        c.send(f"{tag} IDLE\r\n")
        assert c.line().startswith("+")
        c.send("DONE\r\n")
        line = c.line()
        assert line == tag + " OK IDLE terminated", line[:100]


def test_starttls_session(strict):
    with Imap(strict.imap_port) as c:
        c.starttls()
        _, tagged = c.cmd("STARTTLS")
        assert tagged.startswith("t2 BAD")
        c.login()
        ver = c.sock.version()
        assert ver in ("TLSv1.2", "TLSv1.3")
        c.select("INBOX")
        c.ok("LOGOUT")
    m = imaplib.IMAP4("127.0.0.1", strict.imap_port, timeout=10)
    m.starttls(ssl_context=tls_context())
    m.login(ALICE, "secret")
    typ, data = m.list()
    assert typ == "OK" and any(b'"INBOX"' in d for d in data)
    m.logout()


def test_starttls_pipelined_command_refused(strict):
    with Imap(strict.imap_port) as c:
        c.send("a STARTTLS\r\nb CAPABILITY\r\n")
        _, tagged = c.read_tagged("a")
        assert tagged.startswith("a BAD")
        # the session goes on in plain text, the piggy-backed command dropped
        assert c.quiet(0.3) == b""
        [line] = c.ok("CAPABILITY")
        assert "STARTTLS" in line and "LOGINDISABLED" in line
        c.starttls()
        c.login()


def test_imaps(srv):
    with Imap(srv.imaps_port, tls=True) as c:
        caps = caps_of(c.greeting)
        assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps
        _, tagged = c.cmd("STARTTLS")
        assert tagged.startswith("t1 BAD")
        c.login()
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=tls_context(), timeout=10)
    m.login(ALICE, "secret")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"0"]
    uid, _ = m.append("INBOX", r"(\Seen)", None, msg("over imaps"))
    assert uid == "OK"
    typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
    assert data == [b'"INBOX" (MESSAGES 1 UNSEEN 0)']
    m.logout()


def test_id_namespace_enable_logout(alice):
    [line] = alice.ok('ID ("name" "test" "version" "1")')
    assert line == '* ID ("name" "correio" "vendor" "correio")'
    assert alice.ok("ID NIL") == [line]
    assert alice.ok("NAMESPACE") == ['* NAMESPACE (("" "/")) NIL NIL']
    assert alice.ok("ENABLE UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT"]
    assert alice.ok("ENABLE UTF8=ACCEPT") == ["* ENABLED"]
    assert alice.ok("ENABLE IMAP4rev2 X-UNKNOWN") == ["* ENABLED IMAP4rev2"]
    assert alice.ok("LOGOUT") == ["* BYE correio IMAP server signing off"]
    assert alice.closed()


def test_enable_before_login(srv):
    with Imap(srv.imap_port) as c:
        _, tagged = c.cmd("ENABLE IMAP4rev2")
        assert tagged.startswith("t1 BAD")
        [line] = c.ok("ID NIL")
        assert line.startswith("* ID ")
        c.ok("NOOP")
        assert c.ok("LOGOUT") == ["* BYE correio IMAP server signing off"]


# ---- folders ----

SPECIAL = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
           "Junk": "\\Junk", "Archive": "\\Archive"}


def test_new_account_special_use(alice):
    folders = parse_list(alice.ok('LIST "" "*"'))
    assert set(folders) == {"INBOX", *SPECIAL}
    assert folders["INBOX"] == {"\\HasNoChildren"}
    for name, attr in SPECIAL.items():
        assert folders[name] == {"\\HasNoChildren", attr}
    # RFC 6154 selection option: only the special-use folders
    special = parse_list(alice.ok('LIST (SPECIAL-USE) "" "*"'))
    assert special == {name: {"\\HasNoChildren", attr} for name, attr in SPECIAL.items()}
    special = parse_list(alice.ok('LIST "" "*" RETURN (SPECIAL-USE)'))
    assert special["Trash"] == {"\\HasNoChildren", "\\Trash"}
    # all subscribed
    subs = parse_list(alice.ok('LSUB "" "*"'))
    assert set(subs) == {"INBOX", *SPECIAL}
    for name in SPECIAL:
        assert alice.status(name)["MESSAGES"] == 0


def test_special_use_folders_on_disk(srv, alice):
    root = srv.maildir(ALICE)
    for name in SPECIAL:
        for sub in ("cur", "new", "tmp"):
            assert os.path.isdir(os.path.join(root, "." + name, sub)), (name, sub)


def test_create_delete_rename(srv, alice):
    alice.ok('CREATE "Projects/2024/Q1"')
    folders = parse_list(alice.ok('LIST "" "Projects*"'))
    assert folders == {"Projects": {"\\HasChildren"}, "Projects/2024": {"\\HasChildren"},
                       "Projects/2024/Q1": {"\\HasNoChildren"}}
    assert os.path.isdir(os.path.join(srv.maildir(ALICE), ".Projects.2024.Q1", "cur"))
    alice.select("Projects")            # the created parents are real folders
    alice.ok("UNSELECT")
    _, tagged = alice.cmd("CREATE Projects")
    assert "NO [ALREADYEXISTS]" in tagged
    _, tagged = alice.cmd("CREATE inbox")
    assert "NO [ALREADYEXISTS]" in tagged
    alice.ok('CREATE "Lists/"')         # trailing separator: a hint only
    assert parse_list(alice.ok('LIST "" Lists')) == {"Lists": {"\\HasNoChildren"}}
    _, tagged = alice.cmd('CREATE "a//b"')
    assert " NO " in tagged
    # RENAME moves the subtree
    alice.append_ok("Projects/2024", msg("kept"))
    alice.ok("RENAME Projects Work")
    folders = parse_list(alice.ok('LIST "" "*"'))
    assert "Projects" not in folders and "Projects/2024" not in folders
    assert {"Work", "Work/2024", "Work/2024/Q1"} <= set(folders)
    assert alice.status("Work/2024")["MESSAGES"] == 1
    _, tagged = alice.cmd("RENAME Work Sent")
    assert "NO [ALREADYEXISTS]" in tagged
    _, tagged = alice.cmd("RENAME Nothing Else")
    assert "NO [NONEXISTENT]" in tagged
    # DELETE: a leaf goes; a folder with children becomes \Noselect
    alice.ok('DELETE "Work/2024/Q1"')
    assert "Work/2024/Q1" not in parse_list(alice.ok('LIST "" "*"'))
    alice.ok("DELETE Work")
    folders = parse_list(alice.ok('LIST "" "Work*"'))
    assert "\\Noselect" in folders["Work"] and "\\HasChildren" in folders["Work"]
    assert folders["Work/2024"] == {"\\HasNoChildren"}
    _, tagged = alice.cmd("SELECT Work")
    assert " NO " in tagged
    _, tagged = alice.cmd("DELETE Nothing")
    assert "NO [NONEXISTENT]" in tagged
    _, tagged = alice.cmd("DELETE INBOX")
    assert " NO " in tagged
    _, tagged = alice.cmd("CREATE")
    assert " BAD " in tagged


def test_delete_selected_folder(alice):
    alice.ok("CREATE Tmp")
    alice.select("Tmp")
    alice.ok("DELETE Tmp")
    # no longer selected
    _, tagged = alice.cmd("EXPUNGE")
    assert " BAD " in tagged
    alice.ok("NOOP")


def test_rename_inbox(srv, alice):
    for i in range(3):
        alice.append_ok("INBOX", msg(f"inbox {i}"))
    uidnext = alice.status("INBOX")["UIDNEXT"]
    alice.ok("RENAME INBOX Old")
    old = alice.status("Old")
    assert old["MESSAGES"] == 3
    inbox = alice.status("INBOX")
    assert inbox["MESSAGES"] == 0
    assert inbox["UIDNEXT"] >= uidnext or inbox["UIDVALIDITY"] != old["UIDVALIDITY"]
    folders = parse_list(alice.ok('LIST "" "*"'))
    assert "Old" in folders and "INBOX" in folders
    # and mail still arrives in the INBOX
    send_mail(srv, "carol@example.net", [ALICE], msg("after rename"))
    srv.wait_messages(ALICE, 1)
    assert alice.status("INBOX")["MESSAGES"] == 1
    assert alice.status("Old")["MESSAGES"] == 3


def test_list_patterns(alice):
    alice.ok('CREATE "a/b/c"')
    alice.ok('CREATE "a/x"')
    alice.ok('CREATE "ab"')
    assert set(parse_list(alice.ok('LIST "" "%"'))) == {"INBOX", "a", "ab", *SPECIAL}
    assert set(parse_list(alice.ok('LIST "" "a/%"'))) == {"a/b", "a/x"}
    assert set(parse_list(alice.ok('LIST "" "a/*"'))) == {"a/b", "a/b/c", "a/x"}
    assert set(parse_list(alice.ok('LIST "" "a*"'))) == {"a", "a/b", "a/b/c", "a/x", "ab"}
    assert set(parse_list(alice.ok('LIST "" "a%"'))) == {"a", "ab"}
    assert set(parse_list(alice.ok('LIST "a/" "%"'))) == {"a/b", "a/x"}   # reference
    assert set(parse_list(alice.ok('LIST "" "%/%/%"'))) == {"a/b/c"}
    assert set(parse_list(alice.ok('LIST "" "S*"'))) == {"Sent"}
    assert alice.ok('LIST "" "nothing*"') == []
    assert alice.ok('LIST "" ""') == ['* LIST (\\Noselect) "/" ""']
    assert set(parse_list(alice.ok('LIST "" "INBOX"'))) == {"INBOX"}


def test_list_inbox_is_case_insensitive(alice):
    """RFC 3501 §5.1: INBOX is case-insensitive, also in LIST patterns."""
    assert set(parse_list(alice.ok('LIST "" "inbox"'))) == {"INBOX"}
    assert set(parse_list(alice.ok('LIST "" "Inbox"'))) == {"INBOX"}
    assert set(parse_list(alice.ok('LIST "" "inb*"'))) == {"INBOX"}


def test_list_extended_and_status(alice):
    alice.ok('CREATE "Box/Sub"')
    alice.append_ok("Box", msg("one"))
    alice.append_ok("Box", msg("two"), flags=["\\Seen"])
    alice.append_ok("INBOX", msg("three"))
    untagged = alice.ok('LIST "" "*" RETURN (CHILDREN STATUS (MESSAGES UNSEEN UIDNEXT SIZE))')
    # every LIST line is followed by the STATUS line of that folder
    statuses = {}
    for i, line in enumerate(untagged):
        if line.startswith("* STATUS "):
            st = parse_status(line)
            assert untagged[i - 1].endswith(f'"{st["name"]}"'), untagged[i - 1:i + 1]
            statuses[st["name"]] = st
    assert set(statuses) == {"INBOX", "Box", "Box/Sub", *SPECIAL}
    assert statuses["Box"]["MESSAGES"] == 2 and statuses["Box"]["UNSEEN"] == 1
    assert statuses["Box"]["UIDNEXT"] == 3
    assert statuses["Box"]["SIZE"] == len(msg("one")) + len(msg("two"))
    assert statuses["INBOX"]["MESSAGES"] == 1
    assert statuses["Box/Sub"] == {"name": "Box/Sub", "MESSAGES": 0, "UNSEEN": 0,
                                   "UIDNEXT": 1, "SIZE": 0}
    folders = parse_list(untagged)
    assert folders["Box"] == {"\\HasChildren"}
    # SUBSCRIBED selection: \Subscribed shown; Box is not subscribed
    alice.ok("SUBSCRIBE Box/Sub")
    subs = parse_list(alice.ok('LIST (SUBSCRIBED) "" "*"'))
    assert set(subs) == {"INBOX", "Box/Sub", *SPECIAL}
    assert all("\\Subscribed" in a for a in subs.values())
    _, tagged = alice.cmd('LIST "" "*" RETURN (BOGUS)')
    assert " BAD " in tagged
    _, tagged = alice.cmd('LIST (BOGUS) "" "*"')
    assert " BAD " in tagged


def test_subscribe_lsub(alice):
    alice.ok("CREATE News")
    assert "News" not in parse_list(alice.ok('LSUB "" "*"'))
    alice.ok("SUBSCRIBE News")
    lsub = alice.ok('LSUB "" "N*"')
    assert lsub == ['* LSUB () "/" "News"']
    alice.ok("UNSUBSCRIBE News")
    assert alice.ok('LSUB "" "N*"') == []
    alice.ok("UNSUBSCRIBE Junk")
    assert "Junk" not in parse_list(alice.ok('LSUB "" "*"'))
    assert "Junk" in parse_list(alice.ok('LIST "" "*"'))


def test_subscriptions_survive_restart(srv):
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("CREATE News")
        c.ok("SUBSCRIBE News")
    srv.stop()
    srv.start()
    with Imap(srv.imap_port) as c:
        c.login()
        assert "News" in parse_list(c.ok('LSUB "" "*"'))


# ---- STATUS, SELECT, APPEND ----

def test_status_after_appends(alice):
    before = alice.status("INBOX")
    assert before["MESSAGES"] == 0 and before["UIDNEXT"] == 1 and before["SIZE"] == 0
    sizes = 0
    for i, flags in enumerate([None, ["\\Seen"], ["\\Seen", "\\Flagged"], []]):
        m = msg(f"status {i}", body="x" * (i * 100))
        sizes += len(m)
        alice.append_ok("INBOX", m, flags=flags)
    st = alice.status("INBOX")
    assert st["MESSAGES"] == 4
    assert st["UNSEEN"] == 2
    assert st["RECENT"] == 4
    assert st["UIDNEXT"] == 5
    assert st["UIDVALIDITY"] == before["UIDVALIDITY"]
    assert st["SIZE"] == sizes
    sel = alice.select("INBOX")
    assert sel["EXISTS"] == 4 and sel["RECENT"] == 4
    assert sel["UIDNEXT"] == 5 and sel["UIDVALIDITY"] == st["UIDVALIDITY"]
    assert sel["UNSEEN"] == 1            # the first unseen message's number
    # this session claimed \Recent
    assert alice.status("INBOX")["RECENT"] == 0
    _, tagged = alice.cmd("STATUS INBOX (BOGUS)")
    assert " BAD " in tagged
    _, tagged = alice.cmd("STATUS Nope (MESSAGES)")
    assert "NO [NONEXISTENT]" in tagged


def test_select_and_examine(srv, alice):
    alice.append_ok("INBOX", msg("one"))
    alice.append_ok("INBOX", msg("two"), flags=["\\Seen", "$Important"])
    with Imap(srv.imap_port) as other:
        other.login()
        untagged = other.ok("EXAMINE INBOX")
        ex = parse_select(untagged)
        assert ex["EXISTS"] == 2 and ex["RECENT"] == 2
        assert "$Important" in ex["FLAGS"]
        assert ex["PERMANENTFLAGS"] == [], "nothing can be stored in an EXAMINEd folder"
    # EXAMINE does not take \Recent away
    untagged, tagged = alice.cmd("SELECT INBOX")
    assert tagged.endswith("OK [READ-WRITE] SELECT completed")
    sel = parse_select(untagged)
    assert sel["EXISTS"] == 2 and sel["RECENT"] == 2 and sel["UNSEEN"] == 1
    assert set(sel["FLAGS"]) == {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft",
                                 "$Important"}
    assert "\\*" in sel["PERMANENTFLAGS"] and "\\Deleted" in sel["PERMANENTFLAGS"]
    # a second SELECT sees them no longer recent
    with Imap(srv.imap_port) as other:
        other.login()
        assert other.select("INBOX")["RECENT"] == 0
    # EXAMINE of the selected mailbox: [CLOSED] then READ-ONLY
    untagged, tagged = alice.cmd("EXAMINE INBOX")
    assert "* OK [CLOSED] previous mailbox closed" in untagged
    assert tagged.endswith("OK [READ-ONLY] EXAMINE completed")
    _, tagged = alice.cmd("EXPUNGE")
    assert "NO [READ-ONLY]" in tagged
    alice.ok("CHECK")
    alice.ok("CLOSE")
    _, tagged = alice.cmd("CLOSE")
    assert " BAD " in tagged
    _, tagged = alice.cmd("SELECT Nope")
    assert "NO [NONEXISTENT]" in tagged


def test_select_imap4rev2_has_no_recent(alice):
    alice.append_ok("INBOX", msg("one"))
    alice.ok("ENABLE IMAP4rev2")
    untagged = alice.ok("SELECT INBOX")
    assert not any("RECENT" in l for l in untagged), untagged
    assert "* 1 EXISTS" in untagged


def test_append_flags_and_date(srv, alice):
    date = "14-Jul-2021 02:44:25 +0200"
    uv, uid = alice.append_ok("INBOX", msg("dated"), flags=["\\Seen", "\\Flagged", "$Label1"],
                              date=date)
    assert uid == 1
    [path] = srv.messages(ALICE)
    assert os.path.dirname(path).endswith("/cur")
    name = os.path.basename(path)
    assert re.search(r":2,[a-zA-Z]*F[a-zA-Z]*S", name) or re.search(r":2,.*FS", name), name
    expected = email.utils.parsedate_to_datetime("Wed, 14 Jul 2021 02:44:25 +0200").timestamp()
    assert os.stat(path).st_mtime == expected
    # no flags, no date: now, in new/ (or cur/ without flags)
    t0 = time.time()
    alice.append_ok("INBOX", msg("undated"))
    path2 = [p for p in srv.messages(ALICE) if p != path][0]
    assert abs(os.stat(path2).st_mtime - t0) < 5
    # the keyword is known to the mailbox
    sel = alice.select("INBOX")
    assert "$Label1" in sel["FLAGS"]
    st = alice.status("INBOX")
    assert st["UNSEEN"] == 1 and st["MESSAGES"] == 2
    # content stored as sent (line endings aside)
    data = srv.read_message(path)
    assert data.replace(b"\r\n", b"\n") == msg("dated").replace(b"\r\n", b"\n")
    # a bad date or flag is BAD, and nothing is stored
    for args in ['INBOX "32-Jul-2021 02:44:25 +0200" {5}', 'INBOX ("quoted") {5}',
                 'INBOX "yesterday" {5}', 'INBOX (\\Seen) "14-Jul-2021 02:44:25 +0200" x {5}']:
        _, tagged = alice.cmd(f"APPEND {args}")
        assert " BAD " in tagged, (args, tagged)
        alice.ok("NOOP")
    assert alice.status("INBOX")["MESSAGES"] == 2


def test_append_date_over_imaplib(srv):
    m = imaplib_login(srv)
    when = imaplib.Time2Internaldate(1_000_000_000)
    typ, data = m.append("Drafts", r"(\Draft)", when, msg("draft"))
    assert typ == "OK" and b"APPENDUID" in data[0]
    files = [p for p in os.listdir(os.path.join(srv.maildir(ALICE), ".Drafts", "cur"))]
    assert len(files) == 1 and re.search(r":2,D$", files[0]), files
    path = os.path.join(srv.maildir(ALICE), ".Drafts", "cur", files[0])
    assert os.stat(path).st_mtime == 1_000_000_000
    m.logout()


def test_appenduid_matches_uidnext(alice):
    for folder in ("INBOX", "Sent"):
        st = alice.status(folder)
        for i in range(3):
            uv, uid = alice.append_ok(folder, msg(f"{folder} {i}"))
            assert uv == st["UIDVALIDITY"]
            assert uid == st["UIDNEXT"] + i
        assert alice.status(folder)["UIDNEXT"] == uid + 1


def test_append_trycreate(alice):
    untagged, tagged = alice.append("Missing", msg())
    assert re.match(r"t\d+ NO \[TRYCREATE\]", tagged), tagged
    alice.ok("NOOP")
    alice.ok("CREATE Missing")
    alice.append_ok("Missing", msg())
    # the non-synchronising form too: its data is skipped, not read as commands
    untagged, tagged = alice.append("Missing2", b"t99 LOGOUT\r\n" + msg(), plus=True)
    assert re.match(r"t\d+ NO \[TRYCREATE\]", tagged), tagged
    alice.ok("NOOP")
    assert alice.status("Missing")["MESSAGES"] == 1


def test_append_5mb_sync_literal_and_literal_plus(srv, alice):
    alice.timeout = 3
    big = big_msg(5 * 1024 * 1024)
    t0 = time.time()
    uv, uid1 = alice.append_ok("INBOX", big)
    uv, uid2 = alice.append_ok("INBOX", big, plus=True)
    assert uid2 == uid1 + 1
    assert time.time() - t0 < 20
    st = alice.status("INBOX")
    assert st["MESSAGES"] == 2 and st["SIZE"] == 2 * len(big)
    for path in srv.messages(ALICE):
        data = srv.read_message(path)
        assert data.replace(b"\r\n", b"\n") == big.replace(b"\r\n", b"\n")
    # the session goes on
    assert alice.select("INBOX")["EXISTS"] == 2


def test_append_content_intact(srv, alice):
    """Messages of sizes around the reader's chunks, with LITERAL+, arrive
    on disk exactly as sent (CRLF stored as LF), nothing else in them."""
    sent = []
    for i, size in enumerate([1000, 60000, 65537, 70000, 150000, 300000, 1000000]):
        line = ("%06d-" % i + "abcdefghijklmnopqrstuvwxyz0123456789" * 2 + "\r\n").encode()
        head = msg(f"intact {i}", body="")
        m = head + line * ((size - len(head)) // len(line))
        sent.append(m)
        alice.append_ok("INBOX", m, plus=True)
    st = alice.status("INBOX")
    assert st["MESSAGES"] == len(sent) and st["SIZE"] == sum(map(len, sent))
    stored = sorted(srv.read_message(p) for p in srv.messages(ALICE))
    expected = sorted(m.replace(b"\r\n", b"\n") for m in sent)
    for got, want in zip(stored, expected):
        if got != want:
            i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
                     min(len(got), len(want)))
            raise AssertionError(f"stored message differs at octet {i} of {len(want)}: "
                                 f"{got[max(0, i - 20):i + 40]!r}")


def test_append_too_big_refused_before_data(srv, alice):
    # synchronising literal: NO [TOOBIG] instead of "+"; the client sends nothing
    alice.send("t50 APPEND INBOX {%d}\r\n" % (LIMIT + 1))
    line = alice.line()
    assert re.match(r"t50 NO \[TOOBIG\]", line), line
    alice.ok("NOOP")
    # a huge announced size too
    alice.send("t51 APPEND INBOX (\\Seen) {99999999999}\r\n")
    assert re.match(r"t51 NO \[TOOBIG\]", alice.line())
    alice.ok("NOOP")
    # exactly the limit is accepted
    assert alice.append_ok("INBOX", big_msg(LIMIT), plus=True)[1] == 1


def test_append_too_big_literal_plus(srv):
    """A rejected non-synchronising literal: the server answers and skips
    its octets (RFC 7888 §4); a command hidden in the data is not run."""
    s = Server(extra_config=PLAIN)          # 1M limit
    try:
        s.add_user(ALICE)
        s.start()
        with Imap(s.imap_port, timeout=3) as c:
            c.login()
            evil = (b"t77 CREATE Evil\r\n" * 80000)[:1024 * 1024 + 10]
            c.send(b"t60 APPEND INBOX {%d+}\r\n" % len(evil) + evil + b"\r\n")
            _, tagged = c.read_tagged("t60")
            assert re.match(r"t60 NO \[TOOBIG\]", tagged), tagged
            c.send("t61 NOOP\r\n")
            untagged, tagged = c.read_tagged("t61")
            assert tagged.startswith("t61 OK"), (untagged, tagged)
            assert not any("t77" in l for l in untagged)
            assert "Evil" not in parse_list(c.ok('LIST "" "*"'))
            assert c.status("INBOX")["MESSAGES"] == 0
            assert c.append_ok("INBOX", msg())[1] == 1
    finally:
        s.cleanup()


def test_append_zero_length_and_literal_plus_small(alice):
    alice.append_ok("INBOX", msg("plus"), plus=True, flags=["\\Answered"])
    untagged, tagged = alice.append("INBOX", b"")
    assert tagged.split()[1] in ("OK", "NO", "BAD")     # any answer, no hang
    alice.ok("NOOP")


def test_append_selected_mailbox_sends_exists(alice):
    alice.select("INBOX")
    untagged, tagged = alice.append("INBOX", msg())
    assert "OK [APPENDUID" in tagged
    assert "* 1 EXISTS" in untagged
    untagged, tagged = alice.append("Sent", msg())
    assert not any("EXISTS" in l for l in untagged)


# ---- mailbox names ----

def test_modified_utf7_names(srv, alice):
    alice.ok('CREATE "&AOk-t&AOk-"')
    assert os.path.isdir(os.path.join(srv.maildir(ALICE), ".été"))
    assert "&AOk-t&AOk-" in parse_list(alice.ok('LIST "" "*"'))
    alice.ok('CREATE "&ZeVnLIqe-/&ZeVnLA-"')          # 日本語/日本
    assert os.path.isdir(os.path.join(srv.maildir(ALICE), ".日本語.日本"))
    alice.append_ok("&AOk-t&AOk-", msg())
    st = alice.status("&AOk-t&AOk-")
    assert st["name"] == "&AOk-t&AOk-" and st["MESSAGES"] == 1
    alice.select("&AOk-t&AOk-")
    # malformed modified UTF-7 is refused
    for bad in ('"&AOk"', '"&"', '"&AOk-&AOk-"'):
        _, tagged = alice.cmd(f"CREATE {bad}")
        assert " BAD " in tagged or " NO " in tagged, (bad, tagged)
    # a rev1 client sees UTF-8 names created by another as mUTF-7
    with Imap(srv.imap_port) as u:
        u.login()
        u.ok("ENABLE UTF8=ACCEPT")
        folders = parse_list(u.ok('LIST "" "*"'))
        assert "été" in folders and "日本語/日本" in folders
        u.ok('CREATE "Ünïcødé/ß"')
        assert u.status("été")["MESSAGES"] == 1
        assert u.status("été")["name"] == "été"
        u.append_ok("Ünïcødé/ß", msg())
        u.ok('RENAME "été" "hiver"')
    folders = parse_list(alice.ok('LIST "" "*"'))
    assert "&ANw-n&AO8-c&APg-d&AOk-/&AN8-" in folders
    assert "hiver" in folders and "&AOk-t&AOk-" not in folders


def test_utf8_names_after_enable(srv):
    with Imap(srv.imap_port) as c:
        c.login()
        assert c.ok("ENABLE UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT"]
        c.ok('CREATE "été"')
        assert "été" in parse_list(c.ok('LIST "" "*"'))
        # after ENABLE, "&" is an ordinary character
        c.ok('CREATE "R&D"')
        assert "R&D" in parse_list(c.ok('LIST "" "*"'))
        assert c.append_ok("été", msg())[1] == 1
        c.select("été")
    assert os.path.isdir(os.path.join(srv.maildir(ALICE), ".été"))
    assert os.path.isdir(os.path.join(srv.maildir(ALICE), ".R&D"))
    with Imap(srv.imap_port) as c:
        c.login()
        folders = parse_list(c.ok('LIST "" "*"'))
        assert "&AOk-t&AOk-" in folders and "R&-D" in folders
    with Imap(srv.imap_port) as c:       # IMAP4rev2 implies UTF-8 names
        c.login()
        c.ok("ENABLE IMAP4rev2")
        assert {"été", "R&D"} <= set(parse_list(c.ok('LIST "" "*"')))


# ---- two sessions, IDLE ----

def test_append_in_one_session_exists_in_other_after_noop(srv, alice):
    alice.select("INBOX")
    with Imap(srv.imap_port) as other:
        other.login()
        other.append_ok("INBOX", msg("one"))
        other.append_ok("INBOX", msg("two"))
        untagged = alice.ok("NOOP")
        assert "* 2 EXISTS" in untagged
        assert "* 2 RECENT" in untagged
        assert alice.ok("NOOP") == []
        # appends to another folder are not reported
        other.append_ok("Sent", msg("three"))
        assert alice.ok("NOOP") == []
    # SMTP delivery
    send_mail(srv, "carol@example.net", [ALICE], msg("by smtp"))
    srv.wait_messages(ALICE, 3)
    deadline = time.time() + 5
    while time.time() < deadline:
        untagged = alice.ok("NOOP")
        if untagged:
            break
        time.sleep(0.05)
    assert "* 3 EXISTS" in untagged, untagged


def test_idle_woken_by_append_and_delivery(srv, alice):
    alice.select("INBOX")
    alice.send("i1 IDLE\r\n")
    assert alice.line() == "+ idling"
    with Imap(srv.imap_port) as other:
        other.login()
        # the idling session is woken by the change; the bounds leave room
        # for a loaded machine (a delivery waits for its batch's fsync)
        other.append_ok("INBOX", msg("during idle"))
        alice.wait_for(r"^\* 1 EXISTS$", timeout=10)
        send_mail(srv, "carol@example.net", [ALICE], msg("delivered"))
        alice.wait_for(r"^\* 2 EXISTS$", timeout=15)
    alice.send("DONE\r\n")
    untagged, tagged = alice.read_tagged("i1")
    assert tagged == "i1 OK IDLE terminated"
    assert alice.select("INBOX")["EXISTS"] == 2


def test_idle_basics(srv, alice):
    # IDLE without a selected mailbox
    alice.send("i1 IDLE\r\n")
    assert alice.line().startswith("+")
    assert alice.quiet(0.2) == b""
    alice.send("DONE\r\n")
    assert alice.read_tagged("i1")[1] == "i1 OK IDLE terminated"
    # anything but DONE
    alice.select("INBOX")
    alice.send("i2 IDLE\r\n")
    assert alice.line().startswith("+")
    alice.send("NOOP\r\n")
    assert alice.read_tagged("i2")[1].startswith("i2 BAD")
    alice.ok("NOOP")
    # "done" in any case
    alice.send("i3 IDLE\r\n")
    assert alice.line().startswith("+")
    alice.send("done\r\n")
    assert alice.read_tagged("i3")[1].startswith("i3 OK")
    # news that came before IDLE are sent when it starts
    with Imap(srv.imap_port) as other:
        other.login()
        other.append_ok("INBOX", msg())
    alice.send("i4 IDLE\r\n")
    lines = alice.wait_for(r"^\+")
    assert "* 1 EXISTS" in lines
    alice.send("DONE\r\n")
    assert alice.read_tagged("i4")[1].startswith("i4 OK")
    # IDLE before login is not allowed
    with Imap(srv.imap_port) as c:
        _, tagged = c.cmd("IDLE")
        assert " BAD " in tagged


def test_expunge_order_and_other_session(srv, alice):
    deleted = {2, 3, 5}
    for i in range(1, 7):
        alice.append_ok("INBOX", msg(f"m{i}"), flags=["\\Deleted"] if i in deleted else [])
    alice.select("INBOX")
    with Imap(srv.imap_port) as other:
        other.login()
        assert other.select("INBOX")["EXISTS"] == 6
        untagged = alice.ok("EXPUNGE")
        assert untagged == ["* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE"]
        assert alice.ok("EXPUNGE") == []
        untagged = other.ok("NOOP")
        assert untagged == ["* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE"]
        st = alice.status("INBOX")
        assert st["MESSAGES"] == 3
        # the other session, in IDLE, hears of the next changes at once
        other.send("i1 IDLE\r\n")
        assert other.line().startswith("+")
        for i in (7, 8):
            untagged, tagged = alice.append("INBOX", msg(f"m{i}"), flags=["\\Deleted"])
            assert f"* {i - 3} EXISTS" in untagged, (untagged, tagged)
        # UID EXPUNGE removes only the UIDs given
        assert alice.ok("UID EXPUNGE 8") == ["* 5 EXPUNGE"]
        assert alice.ok("UID EXPUNGE 1:6") == []
        assert alice.ok("UID EXPUNGE 7") == ["* 4 EXPUNGE"]
        lines = other.wait_for(r"^\* 4 EXPUNGE$", timeout=10)
        assert [l for l in lines if "EXISTS" in l][-1] == "* 5 EXISTS", lines
        assert lines[-2:] == ["* 5 EXPUNGE", "* 4 EXPUNGE"], lines
        other.send("DONE\r\n")
        assert other.read_tagged("i1") == ([], "i1 OK IDLE terminated")
        # changes that came and went unseen are not reported at all
        alice.append_ok("INBOX", msg("m9"), flags=["\\Deleted"])
        alice.ok("EXPUNGE")
        assert other.ok("NOOP") == []
        assert alice.status("INBOX")["MESSAGES"] == 3
    assert len(srv.messages(ALICE)) == 3


def test_expunge_reported_in_idle(srv, alice):
    alice.append_ok("INBOX", msg("a"), flags=["\\Deleted"])
    alice.append_ok("INBOX", msg("b"))
    alice.select("INBOX")
    with Imap(srv.imap_port) as other:
        other.login()
        other.select("INBOX")
        other.send("i1 IDLE\r\n")
        assert other.line().startswith("+")
        alice.ok("EXPUNGE")
        other.wait_for(r"^\* 1 EXPUNGE$", timeout=10)
        other.send("DONE\r\n")
        other.read_tagged("i1")


def test_close_expunges_silently(srv, alice):
    """RFC 9051 §6.4.1: CLOSE removes \\Deleted messages and sends no
    untagged EXPUNGE; UNSELECT removes nothing."""
    alice.append_ok("INBOX", msg("a"), flags=["\\Deleted"])
    alice.append_ok("INBOX", msg("b"))
    alice.select("INBOX")
    assert alice.ok("UNSELECT") == []
    assert alice.status("INBOX")["MESSAGES"] == 2
    alice.select("INBOX")
    untagged = alice.ok("CLOSE")
    assert alice.status("INBOX")["MESSAGES"] == 1
    assert untagged == [], "CLOSE sent untagged responses: %r" % untagged


# ---- UIDs across restarts and a lost index ----

def _fill(c):
    c.ok("CREATE Box")
    uids = {}
    for folder in ("INBOX", "Box"):
        for i in range(4):
            uids.setdefault(folder, []).append(
                c.append_ok(folder, msg(f"{folder} {i}"), flags=["\\Deleted"] if i == 1 else [])[1])
        c.select(folder)
        c.ok("EXPUNGE")                 # UID 2 gone in both
        uids[folder].remove(2)
    c.ok("UNSELECT")
    return uids, {f: c.status(f) for f in ("INBOX", "Box")}


def test_uids_survive_restart(srv, alice):
    uids, before = _fill(alice)
    uidls = pop3_uidls(srv)
    uv = before["INBOX"]["UIDVALIDITY"]
    assert uidls == [f"{uv}.{u}" for u in uids["INBOX"]]
    alice.close()
    srv.stop()
    srv.start()
    with Imap(srv.imap_port) as c:
        c.login()
        for f in ("INBOX", "Box"):
            after = c.status(f)
            assert after == before[f]
        assert pop3_uidls(srv) == uidls
        sel = c.select("INBOX")
        assert sel["EXISTS"] == 3 and sel["UIDVALIDITY"] == uv and sel["UIDNEXT"] == 5
        assert c.append_ok("INBOX", msg("new"))[1] == 5
    # kill -9 too
    srv.kill()
    srv.start()
    with Imap(srv.imap_port) as c:
        c.login()
        st = c.status("INBOX")
        assert st["UIDVALIDITY"] == uv and st["UIDNEXT"] == 6 and st["MESSAGES"] == 4


INDEX_FILES = ("correio-index", "correio-index.log", "correio-cache")


def _delete_index(srv, also_uidvalidity=False):
    removed = []
    for d in folder_dirs(srv):
        names = INDEX_FILES + (("correio-uidvalidity",) if also_uidvalidity else ())
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p):
                os.unlink(p)
                removed.append(p)
    return removed


def test_index_rebuilt_with_same_uids(srv, alice):
    uids, before = _fill(alice)
    uidls = pop3_uidls(srv)
    alice.close()
    srv.stop()
    removed = _delete_index(srv)
    assert any(p.endswith("/correio-index") for p in removed), removed
    srv.start()
    with Imap(srv.imap_port) as c:
        c.login()
        for f in ("INBOX", "Box"):
            assert c.status(f) == before[f]
        assert pop3_uidls(srv) == uidls
        assert c.append_ok("INBOX", msg("new"))[1] == 5
        assert c.append_ok("Box", msg("new"))[1] == 5
    for d in folder_dirs(srv):
        if d.endswith("/.Box") or d == srv.maildir(ALICE):
            assert os.path.exists(os.path.join(d, "correio-index")) or \
                os.path.exists(os.path.join(d, "correio-index.log")), d


def test_index_and_uidvalidity_file_lost(srv, alice):
    """Without even correio-uidvalidity the UIDs come back from the Maildir
    names with the same UIDVALIDITY, or the UIDVALIDITY changes; a UID is
    never given again to another message under the same UIDVALIDITY."""
    uids, before = _fill(alice)
    uidls = pop3_uidls(srv)
    alice.close()
    srv.stop()
    removed = _delete_index(srv, also_uidvalidity=True)
    assert any(p.endswith("/correio-uidvalidity") for p in removed), removed
    srv.start()
    with Imap(srv.imap_port) as c:
        c.login()
        for f in ("INBOX", "Box"):
            after = c.status(f)
            assert after["MESSAGES"] == 3 and after["SIZE"] == before[f]["SIZE"]
            if after["UIDVALIDITY"] == before[f]["UIDVALIDITY"]:
                assert after["UIDNEXT"] >= before[f]["UIDNEXT"], (f, before[f], after)
        new = pop3_uidls(srv)
        if new[0].split(".")[0] == uidls[0].split(".")[0]:
            assert new == uidls
        uv, uid = c.append_ok("INBOX", msg("new"))
        if uv == before["INBOX"]["UIDVALIDITY"]:
            assert uid >= 5


def test_index_deleted_while_running(srv, alice):
    """The index vanishes under a running server (an admin's rm): the next
    session still sees the messages with their UIDs."""
    uids, before = _fill(alice)
    uidls = pop3_uidls(srv)
    alice.close()
    _delete_index(srv)
    with Imap(srv.imap_port) as c:
        c.login()
        assert c.status("INBOX")["MESSAGES"] == 3
        assert c.select("INBOX")["EXISTS"] == 3
    assert pop3_uidls(srv) == uidls


# ---- malformed input ----

def test_malformed_input(srv, alice):
    _, tagged = alice.cmd("FROBNICATE", tag="x1")
    assert tagged == "x1 BAD unknown command"
    alice.send("+ NOOP\r\n")
    assert re.match(r"(\*|\+) BAD", alice.line())
    alice.send("bad{tag NOOP\r\n")
    assert " BAD" in alice.line()
    alice.send(b"\x00\xff\xfe\x01garbage\x80\r\n")
    assert " BAD" in alice.line()
    alice.send("\r\n")
    assert " BAD" in alice.line()
    alice.send("lonetag\r\n")
    assert alice.line().startswith("lonetag BAD")
    alice.send("t9 NOOP extra (unbalanced\r\n")
    assert alice.read_tagged("t9")[1].startswith("t9 BAD")
    alice.send("t10 SELECT\r\n")
    assert alice.read_tagged("t10")[1].startswith("t10 BAD")
    alice.send("t11 UID\r\n")
    assert alice.read_tagged("t11")[1].startswith("t11 BAD")
    alice.send("t12 UID NOOP\r\n")
    assert alice.read_tagged("t12")[1].startswith("t12 BAD")
    alice.send('t13 LIST "" "unterminated\r\n')
    assert alice.read_tagged("t13")[1].startswith("t13 BAD")
    # an over-long line
    alice.send("t14 NOOP " + "x" * 200_000 + "\r\n")
    assert " BAD" in alice.line()
    # the session goes on: nothing stray, commands work
    alice.n = 20
    alice.ok("NOOP")
    assert alice.quiet(0.2) == b""
    alice.select("INBOX")
    alice.ok("LOGOUT")


def test_too_many_errors_bye():
    s = Server(extra_config=PLAIN + "[limits]\nerrors = 5\n")
    try:
        s.add_user(ALICE)
        s.start()
        with Imap(s.imap_port) as c:
            for i in range(4):
                _, tagged = c.cmd("BOGUS%d" % i)
                assert " BAD " in tagged
            c.ok("NOOP")
            c.send("t9 BOGUS\r\n")
            assert c.closed()
            assert b"t9 BAD" in c.rest and b"* BYE" in c.rest, c.rest
        # also for garbage before login, and failed logins
        with Imap(s.imap_port) as c:
            for i in range(5):
                c.send(b"\x01\x02\xff\r\n")
            assert c.closed()
            assert b"* BYE" in c.rest
        with Imap(s.imap_port) as c:
            for i in range(4):
                _, tagged = c.cmd("LOGIN alice@example.org wrong")
                assert "AUTHENTICATIONFAILED" in tagged
            c.send("t9 LOGIN alice@example.org wrong\r\n")
            assert c.closed()
    finally:
        s.cleanup()


def test_server_shutdown_says_bye(srv, alice):
    alice.select("INBOX")
    srv.stop()
    assert alice.closed()
    assert b"* BYE" in alice.rest


# ---- with FETCH, STORE, COPY: real clients ----

def test_fetch_appended_message(srv, alice):
    need(srv, "FETCH")
    date = "14-Jul-2021 02:44:25 +0200"
    m = msg("fetched")
    alice.append_ok("INBOX", m, flags=["\\Flagged", "$Label1"], date=date)
    alice.select("INBOX")
    untagged = alice.ok("UID FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    text = "\n".join(untagged)
    assert "UID 1" in text
    # the same instant (the zone need not be kept)
    got = re.search(r'INTERNALDATE "([^"]+)"', text).group(1)
    fmt = "%d-%b-%Y %H:%M:%S %z"
    assert datetime.datetime.strptime(got, fmt) == datetime.datetime.strptime(date, fmt)
    assert f"RFC822.SIZE {len(m)}" in text
    assert "\\Flagged" in text and "$Label1" in text
    assert m.decode().replace("\r\n", "\n").strip() in text.replace("\r\n", "\n")


def test_restart_uids_via_fetch(srv, alice):
    need(srv, "FETCH")
    uids, _ = _fill(alice)
    alice.close()
    srv.stop()
    _delete_index(srv)
    srv.start()
    with Imap(srv.imap_port) as c:
        c.login()
        for folder in ("INBOX", "Box"):
            c.select(folder)
            untagged = c.ok("FETCH 1:* (UID)")
            got = [int(x) for x in re.findall(r"\(UID (\d+)\)", "\n".join(untagged))]
            assert got == uids[folder]


def _mbsync_rc(srv, tmp, local):
    rc = tmp / "mbsyncrc"
    rc.write_text(f"""IMAPAccount test
Host 127.0.0.1
Port {srv.imap_port}
User {ALICE}
Pass secret
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
""")
    return rc


def _mbsync(rc):
    r = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _local_files(local, folder):
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(local, folder, sub)
        if os.path.isdir(d):
            for n in os.listdir(d):
                out[n] = os.path.join(d, n)
    return out


def test_mbsync_two_way(srv, tmp_path):
    # a client scripts/deps.sh installs: missing, it is a failure, not a skip
    assert shutil.which("mbsync"), "mbsync (isync) is not installed: run scripts/deps.sh"
    need(srv, "FETCH", "STORE", "UID SEARCH")
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok('CREATE "Lists/dev"')
        c.append_ok("INBOX", msg("inbox one"))
        c.append_ok("INBOX", msg("inbox two"), flags=["\\Seen"])
        c.append_ok("Lists/dev", msg("dev one"), flags=["\\Flagged"])
    local = tmp_path / "mail"
    local.mkdir()
    rc = _mbsync_rc(srv, tmp_path, local)
    _mbsync(rc)
    inbox = _local_files(local, "INBOX")
    assert len(inbox) == 2
    assert sum(1 for n in inbox if re.search(r":2,[A-Z]*S", n)) == 1
    dev = _local_files(local, "Lists/dev")
    assert len(dev) == 1 and re.search(r":2,F", next(iter(dev))), dev
    assert set(os.listdir(local)) >= {"INBOX", "Lists", "Sent", "Drafts", "Trash", "Junk",
                                      "Archive"}
    # local changes: a new message in a new folder, a flag set on an old one
    os.makedirs(local / "Local" / "cur")
    os.makedirs(local / "Local" / "new")
    os.makedirs(local / "Local" / "tmp")
    (local / "Local" / "new" / "1700000000.1.test").write_bytes(msg("local one"))
    name, path = next((n, p) for n, p in inbox.items() if not re.search(r":2,[A-Z]*S", n))
    os.rename(path, os.path.join(local, "INBOX", "cur", name.split(":")[0] + ":2,FS"))
    # a remote change: flag the dev message as seen, a new message
    with Imap(srv.imap_port) as c:
        c.login()
        c.select("Lists/dev")
        c.ok("STORE 1 +FLAGS (\\Seen)")
        c.append_ok("Lists/dev", msg("dev two"))
    _mbsync(rc)
    with Imap(srv.imap_port) as c:
        c.login()
        assert c.status("Local")["MESSAGES"] == 1
        st = c.status("INBOX")
        assert st["MESSAGES"] == 2 and st["UNSEEN"] == 0
        c.select("INBOX")
        flags = "\n".join(c.ok("FETCH 1:* (FLAGS)"))
        assert "\\Flagged" in flags
    dev = _local_files(local, "Lists/dev")
    assert len(dev) == 2
    assert any(re.search(r":2,FS", n) for n in dev), dev
    # a second run changes nothing
    _mbsync(rc)
    assert len(_local_files(local, "Lists/dev")) == 2


def _mutt(srv, tmp_path, keys, readonly):
    """Run mutt on the INBOX over IMAP under script(1) (it wants a
    terminal), typing keys; returns its screen output."""
    (tmp_path / "Mail").mkdir(exist_ok=True)
    muttrc = tmp_path / "muttrc"
    # $hostname is set so that mutt does not ask DNS for this machine's name
    muttrc.write_text(f"""set hostname = "client.example.org"
set imap_user = "{ALICE}"
set imap_pass = "secret"
set ssl_starttls = no
set ssl_force_tls = no
set folder = "{tmp_path}/Mail"
set mbox_type = Maildir
set header_cache = ""
set message_cachedir = ""
set timeout = 5
set wait_key = no
set pipe_split = yes
set resolve = no
set mark_old = no
set delete = yes
set quit = yes
set move = no
""")
    # script(1) runs the command with $SHELL; dash forks it, and timeout(1)
    # would then put mutt in a process group of its own, in the background
    # of the terminal, where mutt is stopped (SIGTTOU) as soon as it sets
    # the terminal up.  --foreground keeps mutt in the terminal's group.
    env = dict(os.environ, TERM="dumb", HOME=str(tmp_path), LANG="C.UTF-8",
               COLUMNS="80", LINES="24", SHELL="/bin/sh")
    cmd = (f"timeout --foreground -k 5 20 mutt -d 2 -n {'-R ' if readonly else ''}-F {muttrc} "
           f"-f imap://127.0.0.1:{srv.imap_port}/INBOX -e \"push '{keys}'\"")
    p = subprocess.Popen(["script", "-qec", cmd, "/dev/null"], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=40)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = "timeout"
    screen = out.decode(errors="replace")
    if rc != 0:
        trace = b"".join(f.read_bytes() for f in sorted(tmp_path.glob(".muttdebug*")))
        pytest.fail(f"mutt ended with {rc}\n--- screen\n{screen[-2000:]}\n--- mutt trace\n"
                    f"{trace.decode(errors='replace')[-6000:]}\n--- server log\n"
                    f"{srv.read_log()[-3000:]}")
    return screen


def test_mutt_reads_inbox(srv, tmp_path):
    # a client scripts/deps.sh installs: missing, it is a failure, not a skip
    assert shutil.which("mutt"), "mutt is not installed: run scripts/deps.sh"
    need(srv, "FETCH")
    with Imap(srv.imap_port) as c:
        c.login()
        for i in range(3):
            c.append_ok("INBOX", msg(f"hello from mutt test {i}", body=f"Body text number {i}."))
    out = tmp_path / "out.txt"
    # read-only: tag every message, pipe them all into a file, leave
    screen = _mutt(srv, tmp_path, f"<tag-pattern>~A<enter><tag-prefix><pipe-message>cat >> {out}"
                   "<enter><exit>", readonly=True)
    assert "Authenticating" in screen and "Selecting INBOX" in screen, screen[-2000:]
    text = out.read_text(errors="replace")
    for i in range(3):
        assert f"Subject: hello from mutt test {i}" in text and f"Body text number {i}." in text
    with Imap(srv.imap_port) as c:
        c.login()
        assert c.status("INBOX")["UNSEEN"] == 3
    # read-write: mark the first message read and flagged, delete the last
    need(srv, "STORE")
    out.unlink()
    _mutt(srv, tmp_path, f"<first-entry><pipe-message>cat > {out}<enter><toggle-new><flag-message>"
          "<last-entry><delete-message><quit>", readonly=False)
    assert "Subject: hello from mutt test 0" in out.read_text(errors="replace")
    with Imap(srv.imap_port) as c:
        c.login()
        st = c.status("INBOX")
        assert st["MESSAGES"] == 2 and st["UNSEEN"] == 1, st
        c.select("INBOX")
        flags = c.ok("UID FETCH 1:* (FLAGS)")
        assert re.match(r"\* 1 FETCH \(.*\\Seen", flags[0]) and "\\Flagged" in flags[0], flags
        assert "\\Seen" not in flags[1], flags


def test_curl_list_and_fetch(srv):
    # a client scripts/deps.sh installs: missing, it is a failure, not a skip
    assert shutil.which("curl"), "curl is not installed: run scripts/deps.sh"
    with Imap(srv.imap_port) as c:
        c.login()
        c.ok("CREATE Folder")
        c.append_ok("INBOX", msg("curl me", body="fetched by curl"))
    r = subprocess.run(["curl", "-sS", "--max-time", "10", f"imap://127.0.0.1:{srv.imap_port}/",
                        "-u", f"{ALICE}:secret"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    names = {line.rsplit(" ", 1)[-1].strip().strip('"') for line in r.stdout.splitlines()
             if line.startswith("* LIST")}
    assert {"INBOX", "Folder", *SPECIAL} <= names, r.stdout
    need(srv, "FETCH")
    r = subprocess.run(["curl", "-sS", "--max-time", "10",
                        f"imap://127.0.0.1:{srv.imap_port}/INBOX;UID=1",
                        "-u", f"{ALICE}:secret"], capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert b"Subject: curl me" in r.stdout and b"fetched by curl" in r.stdout
