"""Sizes of messages another program left in cur/ (issue 18 item 5): the
store indexes such a file from its name alone and reads it when its size
is first wanted (or by a store worker after the SELECT).  RFC822.SIZE,
STATUS SIZE, SEARCH LARGER and POP3's LIST/STAT then count CRLF line ends
(the files have bare LF; the S=/W= of a name that lies are not believed),
agree with the bytes FETCH BODY[] and RETR send, survive a restart (the
index keeps them), and a message another program replaced by a new file
gets the new file's size."""

import imaplib
import os
import poplib
import re
import time

from correio_harness import Server

USER = "lazy@example.org"
PLAIN = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
DATE0 = 1600000000


def text_of(i):
    body = "line\n" * (i % 7) + ("crlf\r\n" if i % 5 == 0 else "")
    return f"From: <x@example.net>\nSubject: m{i}\n\n{body}end {i}\n"


def crlf_size(text):
    data = text.encode()
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def put(md, name, text, mtime):
    path = os.path.join(md, "cur", name)
    with open(path, "w", newline="") as f:
        f.write(text)
    os.utime(path, (mtime, mtime))


def fill(s, count):
    """count messages in cur/, without S= or W= (one with S=/W= that lie),
    as another program leaves them; {uid: (name, text)} in UID order."""
    md = s.maildir(USER)
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    msgs = {}
    for i in range(count):
        name = f"{1700000000 + i}.L{i}.other" + (",S=9,W=9" if i == 3 else "") + ":2,S"
        put(md, name, text_of(i), DATE0 + i)
        msgs[i + 1] = (name, text_of(i))
    os.system(f"chown -R --reference={s.data} {md} 2>/dev/null")
    return md, msgs


def fetch_sizes(m, items="RFC822.SIZE"):
    typ, data = m.uid("FETCH", "1:*", f"({items})")
    assert typ == "OK", data
    out = {}
    for line in data:
        line = line[0] if isinstance(line, tuple) else line
        uid = int(re.search(rb"UID (\d+)", line).group(1))
        out[uid] = int(re.search(rb"RFC822\.SIZE (\d+)", line).group(1))
    return out


def body(m, uid):
    typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
    assert typ == "OK", data
    return data[0][1]


def login(s):
    m = imaplib.IMAP4("127.0.0.1", s.imap_port)
    m.login(USER, "secret")
    return m


def test_rfc822_size_read_late_and_kept():
    with Server(extra_config=PLAIN) as s:
        s.add_user(USER)
        s.start()
        md, msgs = fill(s, 40)
        m = login(s)
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == 40
        typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK" and len(data) == 40

        sizes = fetch_sizes(m, "RFC822.SIZE INTERNALDATE")
        want = {uid: crlf_size(text) for uid, (_, text) in msgs.items()}
        assert sizes == want
        for uid in (1, 4, 5, 6, 40):
            assert len(body(m, uid)) == want[uid]
        typ, data = m.uid("FETCH", "7", "(INTERNALDATE)")
        assert typ == "OK"
        got = imaplib.Internaldate2tuple(data[0])
        assert time.mktime(got) == DATE0 + 6
        typ, data = m.status("INBOX", "(MESSAGES SIZE)")
        assert typ == "OK"
        assert f"SIZE {sum(want.values())}".encode() in data[0], data
        big = sorted(uid for uid, n in want.items() if n > 100)
        typ, data = m.uid("SEARCH", None, "LARGER", "100")
        assert [int(x) for x in data[0].split()] == big
        m.logout()

        # a restart: the index has the sizes
        s.stop()
        s.start()
        m = login(s)
        m.select("INBOX")
        assert fetch_sizes(m) == want

        # another program replaces message 9 by a new file
        old, _ = msgs[9]
        os.unlink(os.path.join(md, "cur", old))
        put(md, "1800000000.R9.other:2,", text_of(123), DATE0 + 500)
        m.noop()
        sizes = fetch_sizes(m)
        assert 9 not in sizes
        assert sizes[41] == crlf_size(text_of(123))
        assert len(body(m, 41)) == sizes[41]
        m.logout()


def test_pop3_sizes_of_files_left_in_cur():
    with Server(extra_config=PLAIN) as s:
        s.add_user(USER)
        s.start()
        md, msgs = fill(s, 12)
        want = [crlf_size(text) for _, (_, text) in sorted(msgs.items())]
        p = poplib.POP3("127.0.0.1", s.pop3_port, timeout=10)
        p.user(USER)
        p.pass_("secret")
        assert p.stat() == (12, sum(want))
        _, listing, _ = p.list()
        assert [int(x.split()[1]) for x in listing] == want
        for n in (1, 4, 6, 12):
            resp, lines, octets = p.retr(n)
            # poplib strips CRLF: count them back; the octets agree
            assert octets == want[n - 1]
            assert int(p.list(n).split()[2]) == want[n - 1]
        p.quit()
