"""Maildir file names are made in one place (issue 11 item 3, the names):
a message the delivery agent files and one the store writes (IMAP APPEND)
carry the same host part, sanitised the same way, whatever the hostname."""

import imaplib
import os
import re

from correio_harness import Server, send_mail
from test_sieve import install

ALICE = "alice@example.org"


def host_part(fname):
    """The host of "<time>.<unique>.<host>,S=...": what follows the second
    dot, up to the first ',' or ':'."""
    rest = fname.split(".", 2)[2]
    for sep in (",", ":"):
        rest = rest.split(sep, 1)[0]
    return rest


def test_delivered_and_appended_names_share_the_host_part():
    s = Server(extra_config="[server]\nhostname = mx:1/x\\y\n"
                            "[auth]\nplaintext_on_loopback = yes\n")
    try:
        s.add_user(ALICE)
        s.start()
        from correio_harness import send_mail
        send_mail(s, "bob@example.net", [ALICE], "Subject: delivered\r\n\r\nhi\r\n")
        [delivered] = s.wait_messages(ALICE, 1)
        imap = imaplib.IMAP4("127.0.0.1", s.imap_port)
        imap.login(ALICE, "secret")
        assert imap.append("INBOX", None, None, b"Subject: appended\r\n\r\nhi\r\n")[0] == "OK"
        imap.logout()
        files = s.wait_messages(ALICE, 2)
        hosts = sorted(host_part(os.path.basename(p)) for p in files)
        assert hosts == ["mx_1_x_y", "mx_1_x_y"], files
    finally:
        s.cleanup()


def test_host_with_separators_through_delivery_and_imap():
    """A hostname with the characters Maildir names are split at ('/' and
    ':', here before a letter that is a flag) and a '\\': the delivered names
    parse back.  IMAP serves each message with its RFC822.SIZE and flags (a
    Sieve script's \\Flagged, written at delivery as the ":2," info), and
    the names the store gives the files in cur/ keep the host part."""
    s = Server(extra_config="[server]\nhostname = mx:2/T:x\\y\n"
                            "[auth]\nplaintext_on_loopback = yes\n")
    try:
        s.add_user(ALICE)
        install(s, ALICE, 'require "imap4flags";\n'
                          'if header :contains "subject" "flag" { addflag "\\\\Flagged"; }\n')
        s.start()
        texts = {"plain": "Subject: plain\r\n\r\nhi there\r\n",
                 "flag": "Subject: flag me\r\n\r\nhello\r\nworld\r\n"}
        for text in texts.values():
            send_mail(s, "bob@example.net", [ALICE], text)
        files = s.wait_messages(ALICE, 2)
        for p in files:
            assert host_part(os.path.basename(p)) == "mx_2_T_x_y", files
        imap = imaplib.IMAP4("127.0.0.1", s.imap_port)
        imap.login(ALICE, "secret")
        imap.select("INBOX")
        typ, data = imap.fetch("1:2", "(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        got = {}
        for item in data:
            if isinstance(item, tuple):
                meta = item[0].decode()
                subject = item[1].decode().split(":", 1)[1].strip().split()[0]
                got[subject] = meta
        imap.logout()
        for key, text in texts.items():
            meta = got[key]
            # every message arrives with Received:/Return-Path: added
            size = int(re.search(r"RFC822\.SIZE (\d+)", meta).group(1))
            assert size > len(text), meta
            flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()
            assert ("\\Flagged" in flags) == (key == "flag"), meta
            assert "\\Seen" not in flags and "\\Deleted" not in flags, meta
        # in cur/ now, named by the store: the host part is kept, the sizes
        # it parsed are those of the file
        cur = sorted(os.listdir(os.path.join(s.maildir(ALICE), "cur")))
        assert len(cur) == 2, cur
        for name in cur:
            assert host_part(name) == "mx_2_T_x_y", cur
            size = int(re.search(r",S=(\d+)", name.split("mx_2_T_x_y", 1)[1]).group(1))
            assert size == os.path.getsize(os.path.join(s.maildir(ALICE), "cur", name)), name
            # the flagged one was filed into cur/ with its info; the other
            # was moved there by the store, which gave it its UID
            assert re.search(r"(:2,F|,U=\d+:2,)$", name), name
    finally:
        s.cleanup()
