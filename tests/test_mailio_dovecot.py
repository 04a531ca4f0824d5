"""`correio user import|export` against a real Dovecot (Debian's
dovecot-imapd, a private instance on loopback, stopped by PID): mail that
Dovecot filed, with flags, keywords and folders, comes into correio with
the same UIDs and UIDVALIDITY; and what correio exports, Dovecot serves
with the same UIDs again."""

import os


from correio_harness import Server
from test_mail_client_dovecot import Dovecot
from test_mailio import folder_state, imap_login, msg

def fill(d):
    """Mail filed by Dovecot itself: folders, flags, keywords, a gap in
    the UIDs (an expunge), so UIDNEXT is above the last message."""
    c = d.imap("alice")
    c.create("Work")
    c.create("Work/Projects")
    for i in range(5):
        c.append("INBOX", "(\\Seen)" if i % 2 else None, None, msg(i, f"inbox {i}").encode())
    c.select("INBOX")
    c.store("2", "+FLAGS", "(\\Flagged \\Answered $Forwarded Later)")
    c.store("5", "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.append("Work", "(\\Draft)", None, msg(7, "work").encode())
    c.append("Work/Projects", "(\\Seen $Label1)", None, msg(8, "project").encode())
    c.logout()


def state(c, names):
    return {n: folder_state(c, n) for n in names}


def test_dovecot_maildir_into_correio_and_back():
    d = Dovecot()
    try:
        d.start()
        fill(d)
        c = d.imap("alice")
        before = state(c, ["INBOX", "Work", "Work/Projects"])
        c.logout()
        d.stop()
        assert [u for u, *_ in before["INBOX"][1]] == [1, 2, 3, 4]

        with Server() as s:
            s.add_user("alice@example.org")
            s.add_user("bob@example.org")
            s.start()
            s.cli("user", "import", "alice@example.org", os.path.join(d.dir, "mail", "alice"))
            m = imap_login(s, "alice@example.org")
            got = state(m, ["INBOX", "Work", "Work/Projects"])
            typ, data = m.status("INBOX", "(UIDNEXT)")
            m.logout()
            assert got == before            # UIDVALIDITY, UIDs, flags, dates, bytes
            assert b"UIDNEXT 6" in data[0]  # the expunged UID 5 is not given again

            # and back: correio's export is a Maildir Dovecot reads with the same UIDs
            out = os.path.join(d.dir, "mail", "bob")
            s.cli("user", "export", "alice@example.org", out)
            os.system(f"chown -R 65534:65534 {out}")
        d.start()
        c = d.imap("bob")
        again = state(c, ["INBOX", "Work", "Work/Projects"])
        c.logout()
        assert again == before
    finally:
        d.cleanup()
