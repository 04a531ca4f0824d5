"""Maildir file names are made in one place (issue 11 item 3, the names):
a message the delivery agent files and one the store writes (IMAP APPEND)
carry the same host part, sanitised the same way, whatever the hostname."""

import imaplib
import os

from correio_harness import Server

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
