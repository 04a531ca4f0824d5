"""Real SMTP clients against the server: Python's smtplib and swaks."""

import email
import email.policy
import os
import smtplib
import subprocess
from email.message import EmailMessage

import pytest

from correio_harness import check_maildir_file

ALICE = "alice@example.org"
BOB = "bob@example.org"


def smtp(server):
    return smtplib.SMTP("127.0.0.1", server.smtp_port, local_hostname="client.test",
                        timeout=5)


def only_message(server, address):
    files = server.wait_messages(address, 1)
    server.wait_queue_empty()
    files = server.messages(address)
    assert len(files) == 1, files
    return check_maildir_file(files[0])


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def test_smtplib_plain(server):
    text = ("From: Sender <sender@example.net>\r\nTo: alice@example.org\r\n"
            "Subject: plain smtplib\r\n\r\nHello Alice.\r\n.dotted line\r\n")
    with smtp(server) as s:
        assert s.ehlo()[0] == 250
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        assert s.sendmail("sender@example.net", [ALICE], text) == {}
    data, f = only_message(server, ALICE)
    assert f["sender"] == "sender@example.net"
    assert f["helo"] == "client.test" and f["rcpt"] == ALICE
    assert f["body"] == text.replace("\r\n", "\n").encode()
    msg = parse(data)
    assert msg["Subject"] == "plain smtplib"


def test_smtplib_helo_only(server):
    with smtp(server) as s:
        s.helo()
        s.sendmail("sender@example.net", [ALICE], "Subject: helo\r\n\r\nx\r\n")
    _, f = only_message(server, ALICE)
    assert f["proto"] == "SMTP"


def test_smtplib_8bitmime_body(server):
    msg = EmailMessage()
    msg["From"] = "sender@example.net"
    msg["To"] = ALICE
    msg["Subject"] = "8-bit body"
    body = "Ol\u00e1, cora\u00e7\u00e3o! \u2014 \u00e9t\u00e9 \u65e5\u672c\n"
    msg.set_content(body, charset="utf-8", cte="8bit")
    with smtp(server) as s:
        assert s.send_message(msg, mail_options=["BODY=8BITMIME"]) == {}
    data, f = only_message(server, ALICE)
    assert f["proto"] == "ESMTP"
    assert body.encode("utf-8") in data
    stored = parse(data)
    assert stored.get_content() == body
    assert stored["Content-Transfer-Encoding"] == "8bit"


def test_smtplib_smtputf8(server):
    sender = "jo\u00e3o@exemplo.pt"
    text = ("From: Jo\u00e3o <jo\u00e3o@exemplo.pt>\r\nTo: alice@example.org\r\n"
            "Subject: Ol\u00e1 \u00e0 Alice\r\n\r\nTudo bem? \u00e7\u00e3o\r\n").encode()
    with smtp(server) as s:
        assert s.sendmail(sender, [ALICE], text, mail_options=["SMTPUTF8"]) == {}
    data, f = only_message(server, ALICE)
    assert f["sender"] == sender
    assert f["proto"] == "UTF8SMTP"
    assert f["body"] == text.replace(b"\r\n", b"\n")
    assert parse(data)["Subject"] == "Ol\u00e1 \u00e0 Alice"


def test_smtplib_send_message_international(server):
    """send_message() turns on SMTPUTF8 by itself for a UTF-8 address."""
    msg = EmailMessage()
    msg["From"] = "Jo\u00e3o <jo\u00e3o@exemplo.pt>"
    msg["To"] = ALICE
    msg["Subject"] = "Ol\u00e1"
    msg.set_content("corpo\n")
    with smtp(server) as s:
        assert s.send_message(msg) == {}
    data, f = only_message(server, ALICE)
    assert f["sender"] == "jo\u00e3o@exemplo.pt" and f["proto"] == "UTF8SMTP"
    assert parse(data)["Subject"] == "Ol\u00e1"


def test_smtplib_multiple_recipients(server):
    text = "Subject: to both\r\n\r\nhi\r\n"
    with smtp(server) as s:
        assert s.sendmail("sender@example.net", [ALICE, BOB], text) == {}
    a, fa = only_message(server, ALICE)
    b, fb = only_message(server, BOB)
    assert a == b
    assert fa["rcpt"] is None


def test_smtplib_several_messages_one_session(server):
    with smtp(server) as s:
        for i in range(5):
            s.sendmail("sender@example.net", [ALICE], f"Subject: n{i}\r\n\r\n{i}\r\n")
    files = server.wait_messages(ALICE, 5)
    server.wait_queue_empty()
    subjects = sorted(parse(check_maildir_file(p)[0])["Subject"] for p in files)
    assert subjects == [f"n{i}" for i in range(5)]
    ids = {check_maildir_file(p)[1]["id"] for p in files}
    assert len(ids) == 5


def test_smtplib_all_recipients_refused(server):
    with smtp(server) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("sender@example.net", ["nobody@example.org", "x@example.net"],
                       "Subject: refused\r\n\r\nx\r\n")
        refused = e.value.recipients
        assert refused["nobody@example.org"][0] == 550
        assert refused["nobody@example.org"][1].startswith(b"5.1.1 ")
        assert refused["x@example.net"][0] == 554
        assert refused["x@example.net"][1].startswith(b"5.7.1 ")
        assert s.noop()[0] == 250
    server.wait_queue_empty()
    assert server.messages(ALICE) == [] and server.messages(BOB) == []


def test_smtplib_some_recipients_refused(server):
    with smtp(server) as s:
        refused = s.sendmail("sender@example.net", ["nobody@example.org", ALICE],
                             "Subject: partly\r\n\r\nx\r\n")
    assert list(refused) == ["nobody@example.org"]
    assert refused["nobody@example.org"][0] == 550
    _, f = only_message(server, ALICE)
    assert f["rcpt"] == ALICE


def test_smtplib_size_refusal(server):
    text = "Subject: too big\r\n\r\n" + ("x" * 78 + "\r\n") * 14000    # 1.12 MB
    with smtp(server) as s:
        s.ehlo()
        assert s.esmtp_features["size"] == "1048576"
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("sender@example.net", [ALICE], text)
        assert e.value.smtp_code == 552
        assert e.value.smtp_error.startswith(b"5.3.4 ")
    server.wait_queue_empty()
    assert server.messages(ALICE) == []


def test_smtplib_size_refused_after_data(server):
    """A client that announces no SIZE is refused after the text."""
    text = "Subject: too big\r\n\r\n" + ("x" * 78 + "\r\n") * 14000
    with smtp(server) as s:
        s.ehlo()
        s.mail("sender@example.net")
        s.rcpt(ALICE)
        code, msg = s.data(text)
        assert code == 552 and msg.startswith(b"5.3.4 ")
        assert s.noop()[0] == 250
    server.wait_queue_empty()
    assert server.messages(ALICE) == []


# ---- swaks ----

SWAKS = "/usr/bin/swaks"


def swaks(server, *args):
    assert os.path.exists(SWAKS), "swaks is not installed: run scripts/deps.sh"
    r = subprocess.run([SWAKS, "--server", f"127.0.0.1:{server.smtp_port}",
                        "--helo", "swaks.test", "--timeout", "10", *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_swaks(server):
    out = swaks(server, "--to", ALICE, "--from", "swaks@example.net",
                "--header", "Subject: from swaks", "--body", "swaks body line")
    assert "250 2.0.0 Ok: queued as" in out
    data, f = only_message(server, ALICE)
    assert f["sender"] == "swaks@example.net" and f["helo"] == "swaks.test"
    assert f["id"] in out
    msg = parse(data)
    assert msg["Subject"] == "from swaks"
    assert "swaks body line" in msg.get_content()


def test_swaks_pipeline(server):
    out = swaks(server, "--pipeline", "--to", f"{ALICE},{BOB}", "--from", "swaks@example.net",
                "--header", "Subject: swaks pipelined")
    assert "PIPELINING" in out
    for who in (ALICE, BOB):
        data, f = only_message(server, who)
        assert parse(data)["Subject"] == "swaks pipelined"


def test_swaks_body_file(server, tmp_path):
    body = "".join(f"line {i}\n" for i in range(200)) + ".\n..\nFrom the file\n"
    path = tmp_path / "body.txt"
    path.write_text(body)
    swaks(server, "--to", ALICE, "--from", "swaks@example.net",
          "--header", "Subject: body file", "--body", f"@{path}")
    data, f = only_message(server, ALICE)
    msg = parse(data)
    assert msg["Subject"] == "body file"
    # swaks dot-stuffs (and adds blank lines at the end); the server
    # unstuffs, so the file's text is there unchanged
    assert b"\n\n" + body.encode() in f["body"]
    assert f["body"].rstrip(b"\n").endswith(b"\n..\nFrom the file")


def test_swaks_starttls_and_auth(server):
    """swaks speaks TLS only with Net::SSLeay (libnet-ssleay-perl, which
    scripts/deps.sh installs): STARTTLS on smtp, then AUTH on submission
    after STARTTLS, and implicit TLS on submissions."""
    out = swaks(server, "--tls", "--to", ALICE, "--from", "swaks@example.net",
                "--header", "Subject: swaks over starttls")
    assert "TLS started" in out, out
    data = server.read_message(server.wait_messages(ALICE, 1)[0])
    assert parse(data)["Subject"] == "swaks over starttls"
    assert b"(correio) with ESMTPS id" in data
    for port, tls in ((server.submission_port, "--tls"),
                      (server.submissions_port, "--tls-on-connect")):
        r = subprocess.run([SWAKS, "--server", f"127.0.0.1:{port}", "--helo", "swaks.test",
                            "--timeout", "10", tls, "--auth", "PLAIN",
                            "--auth-user", ALICE, "--auth-password", "secret",
                            "--to", BOB, "--from", ALICE,
                            "--header", f"Subject: swaks {tls}"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "<~  235 " in r.stdout, r.stdout
    subjects = sorted(parse(server.read_message(p))["Subject"]
                      for p in server.wait_messages(BOB, 2))
    assert subjects == ["swaks --tls", "swaks --tls-on-connect"]
