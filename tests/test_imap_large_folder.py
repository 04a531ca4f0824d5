"""A large folder over IMAP (issue 18 item 5): messages another program
left in cur/ keep their file names, UID SEARCH UNSEEN (which starts at
the first message the index does not know to be \\Seen) still finds a
message whose \\Seen was taken away, by us or by another program, and a
second SELECT in the same login gives the same folder."""

import imaplib
import os
import time

from correio_harness import Server

USER = "big@example.org"
PLAIN = "[auth]\nplaintext_on_loopback = yes\nfailure_delay = 0\n"
COUNT = 1500


def fill(s):
    md = s.maildir(USER)
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    now = int(time.time()) - 100
    names = []
    for i in range(COUNT):
        text = f"From: <x@example.net>\nSubject: m{i}\n\nbody {i}\n"
        unseen = i >= COUNT - 3
        sub, suffix = ("new", "") if unseen else ("cur", ":2,S")
        name = f"{now + i}.L{i}.other,S={len(text)}{suffix}"
        with open(os.path.join(md, sub, name), "w") as f:
            f.write(text)
        names.append(name)
    os.system(f"chown -R --reference={s.data} {md} 2>/dev/null")
    return md, names


def uids(resp):
    typ, data = resp
    assert typ == "OK", resp
    return [int(x) for x in data[0].split()]


def test_unseen_search_and_kept_names():
    with Server(extra_config=PLAIN) as s:
        s.add_user(USER)
        s.start()
        md, names = fill(s)
        m = imaplib.IMAP4("127.0.0.1", s.imap_port)
        m.login(USER, "secret")
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == COUNT
        # files found in cur/ keep their names
        cur = set(os.listdir(os.path.join(md, "cur")))
        assert names[0] in cur and names[COUNT - 4] in cur
        last3 = [COUNT - 2, COUNT - 1, COUNT]
        assert uids(m.uid("SEARCH", None, "UNSEEN")) == last3
        # our own change below the first unseen message
        m.uid("STORE", "7", "-FLAGS", "(\\Seen)")
        assert uids(m.uid("SEARCH", None, "UNSEEN")) == [7] + last3
        assert uids(m.uid("SEARCH", None, "UNSEEN", "SUBJECT", "m6")) == [7]
        m.uid("STORE", "7", "+FLAGS", "(\\Seen)")
        assert uids(m.uid("SEARCH", None, "UNSEEN")) == last3
        # another program takes \Seen away from message 3
        os.rename(os.path.join(md, "cur", names[2]),
                  os.path.join(md, "cur", names[2][:-1]))
        m.noop()
        assert uids(m.uid("SEARCH", None, "UNSEEN")) == [3] + last3
        assert uids(m.uid("SEARCH", None, "NOT", "SEEN")) == [3] + last3
        # the folder again, in the same login: same answer
        m.unselect()
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == COUNT
        assert uids(m.uid("SEARCH", None, "UNSEEN")) == [3] + last3
        m.logout()
