"""Logs an operator can live with: a log file that logrotate can move away
(reopened on SIGUSR1 and SIGHUP), log_level = debug, the SMTP dialogue of
the clients in [server] debug_peers, sasl_username= on the client= line,
reject lines with from=<> to=<> helo=<>, and DNS failures that say what the
resolver answered."""

import os
import pwd
import re
import signal
import smtplib
import time

from correio_harness import Server
from relay_fixtures import cert, dns, env  # noqa: F401  (fixtures)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_file(path, pattern, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, read(path), re.M)
        if m:
            return m
        time.sleep(0.02)
    raise AssertionError(f"{path} has no /{pattern}/:\n" + read(path)[-3000:])


def mail(s, subject, rcpt="alice@example.org"):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, local_hostname="client.test",
                      timeout=10) as c:
        c.sendmail("sender@example.net", [rcpt], f"Subject: {subject}\r\n\r\nhi\r\n")


def file_server(tmp, extra=""):
    s = Server()
    log = os.path.join(s.dir, "mail.log")
    s.write_config("example.org, localhost", f"[server]\nlog = {log}\n{extra}")
    return s, log


def rotate(log, to):
    st = os.stat(log)
    os.rename(log, to)
    fd = os.open(log, os.O_CREAT | os.O_WRONLY, 0o640)
    os.fchown(fd, st.st_uid, st.st_gid)
    os.close(fd)


def test_log_file_is_reopened_after_rotation():
    s, log = file_server(None)
    with s:
        s.add_user("alice@example.org")
        s.start()
        wait_file(log, r"start: correio on mx\.example\.org")
        mail(s, "one")
        wait_file(log, r"client=client\.test\[127\.0\.0\.1\], from=<sender@example\.net>")
        assert "client=" not in s.read_log(), "the lines go to the file, not stderr"
        st = os.stat(log)
        assert (st.st_mode & 0o777) == 0o640
        if os.geteuid() == 0:   # the run-as user can reopen what logrotate makes
            assert st.st_uid == pwd.getpwnam("correio").pw_uid

        # logrotate with "create": move the file away, make a new one with
        # the old one's owner and mode, then SIGUSR1
        rotate(log, log + ".1")
        s.signal(signal.SIGUSR1)
        wait_file(log, r"log: log file reopened")
        mail(s, "two")
        wait_file(log, r"client=client\.test")
        assert read(log).count("client=") == 1
        assert read(log + ".1").count("client=") == 1

        # SIGHUP reopens it too (the configuration is read again as well)
        rotate(log, log + ".2")
        s.signal(signal.SIGHUP)
        wait_file(log, r"reload: configuration .* read")
        mail(s, "three")
        wait_file(log, r"client=client\.test")
        assert read(log + ".2").count("client=") == 1
        assert s.stop() == 0
        assert re.search(r"stop: done", read(log))


def test_log_value_is_checked():
    s = Server(extra_config="[server]\nlog = relative/file.log\n")
    with s:
        r = s.cli("check", check=False)
        assert r.returncode != 0
        assert "log = relative/file.log: expected stderr, syslog or the absolute path" \
            in r.stderr, r.stderr


def dialogue(s):
    with smtplib.SMTP("127.0.0.1", s.smtp_port, local_hostname="client.test",
                      timeout=10) as c:
        c.ehlo("client.test")
        c.mail("sender@example.net")
        c.rcpt("alice@example.org")
        c.data(b"Subject: traced\r\n\r\nbody line\r\n")


def test_log_level_debug_logs_the_dialogue():
    with Server(extra_config="[server]\nlog_level = debug\n") as s:
        s.add_user("alice@example.org")
        s.start()
        dialogue(s)
        s.wait_log(r"debug: smtpd: \[127\.0\.0\.1\]: < (?i:mail from):<sender@example\.net>")
        s.wait_log(r"debug: smtpd: \[127\.0\.0\.1\]: > 250 2\.1\.0 Ok")
        s.wait_log(r"debug: smtpd: \[127\.0\.0\.1\]: > 354 ")
        assert "body line" not in s.read_log(), "message text is not logged"


def test_log_level_info_is_quiet():
    with Server() as s:
        s.add_user("alice@example.org")
        s.start()
        dialogue(s)
        s.wait_log(r"to=<alice@example\.org>, status=sent")
        assert not re.search(r" < mail from", s.read_log(), re.I)
        assert "debug:" not in s.read_log()


def test_debug_peers_logs_their_dialogue_at_info():
    with Server(extra_config="[server]\ndebug_peers = 192.0.2.0/24, 127.0.0.0/8\n") as s:
        s.add_user("alice@example.org", "sesame-word")
        s.start()
        dialogue(s)
        s.wait_log(r"info: smtpd: \[127\.0\.0\.1\]: < (?i:ehlo) client\.test")
        s.wait_log(r"info: smtpd: \[127\.0\.0\.1\]: < (?i:rcpt to):<alice@example\.org>")
        s.wait_log(r"info: smtpd: \[127\.0\.0\.1\]: > 250 2\.1\.5 ")
        # a password given with AUTH never reaches the log
        with smtplib.SMTP("127.0.0.1", s.submission_port, timeout=10) as c:
            c.ehlo("client.test")
            c.login("alice@example.org", "sesame-word")
        s.wait_log(r"info: smtpd: \[127\.0\.0\.1\]: < (?i:auth plain)$")
        s.wait_log(r"> 235 2\.7\.0")
        assert "sesame" not in s.read_log()
        assert "c2VzYW1l" not in s.read_log()


def test_debug_peers_leaves_other_clients_alone():
    with Server(extra_config="[server]\ndebug_peers = 192.0.2.0/24\n") as s:
        s.add_user("alice@example.org")
        s.start()
        dialogue(s)
        s.wait_log(r"to=<alice@example\.org>, status=sent")
        assert not re.search(r" < ehlo", s.read_log(), re.I)


def test_client_line_names_the_authenticated_user():
    with Server() as s:
        s.add_user("alice@example.org", "sesame-word")
        s.start()
        with smtplib.SMTP("127.0.0.1", s.submission_port, local_hostname="client.test",
                          timeout=10) as c:
            c.login("alice@example.org", "sesame-word")
            c.sendmail("alice@example.org", ["alice@example.org"],
                       b"Subject: x\r\n\r\nx\r\n")
        s.wait_log(r": client=client\.test\[127\.0\.0\.1\], sasl_method=PLAIN, "
                   r"sasl_username=alice@example\.org, from=<alice@example\.org>, "
                   r"size=\d+, nrcpt=1$")


def test_reject_lines_carry_from_to_helo():
    with Server() as s:
        s.add_user("alice@example.org")
        s.start()
        c = s.ehlo_client("client.test")
        assert c.cmd("MAIL FROM:<sender@example.net>").startswith("250")
        assert c.cmd("RCPT TO:<bob@example.org>").startswith("550")
        assert c.cmd("RCPT TO:<x@elsewhere.example>").startswith("554")
        c.close()
        s.wait_log(r"reject: RCPT to <bob@example\.org>: user unknown; "
                   r"from=<sender@example\.net> to=<bob@example\.org> helo=<client\.test>$")
        s.wait_log(r"reject: RCPT to <x@elsewhere\.example>: relay access denied; "
                   r"from=<sender@example\.net> to=<x@elsewhere\.example> "
                   r"helo=<client\.test>$")


def test_dns_failure_says_what_the_resolver_answered(env):  # noqa: F811
    srv = env.server()
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, local_hostname="client.test",
                      timeout=10) as c:
        c.ehlo()
        c.mail("alice@example.org")
        c.rcpt("carol@noaddr.test")
        code, resp = c.data(b"Subject: to nowhere\r\n\r\nhi\r\n")
    qid = re.search(rb"queued as (\w+)", resp).group(1).decode()
    srv.wait_log(rf"{qid}: to=<carol@noaddr\.test>, relay=none, status=bounced "
                 r".*no address for any mail exchanger \(gone\.noaddr\.test: "
                 r"Domain name not found\)")


def test_debug_peers_logs_the_pop3_dialogue_without_passwords():
    import poplib
    with Server(extra_config="[server]\ndebug_peers = 127.0.0.1/32\n") as s:
        s.add_user("alice@example.org", "sesame-word")
        s.start()
        mail(s, "for pop3")
        s.wait_log(r"to=<alice@example\.org>, status=sent")
        p = poplib.POP3("127.0.0.1", s.pop3_port, timeout=10)
        p.user("alice@example.org")
        p.pass_("sesame-word")
        p.retr(1)
        p.quit()
        s.wait_log(r"info: pop3d: \[127\.0\.0\.1\]: > \+OK correio POP3 server ready")
        s.wait_log(r"info: pop3d: \[127\.0\.0\.1\]: < USER alice@example\.org$")
        s.wait_log(r"info: pop3d: \[127\.0\.0\.1\]: < PASS$")
        s.wait_log(r"info: pop3d: \[127\.0\.0\.1\]: < RETR 1$")
        s.wait_log(r"info: pop3d: \[127\.0\.0\.1\]: < QUIT$")
        log = s.read_log()
        assert "sesame" not in log
        assert "Subject: for pop3" not in log, "message text is not logged"


def test_reload_moves_the_log_between_stderr_and_a_file():
    s, log = file_server(None)
    with s:
        s.add_user("alice@example.org")
        s.start()
        wait_file(log, r"start: correio on")
        # to stderr
        s.write_config("example.org, localhost", "[server]\nlog = stderr\n")
        s.signal(signal.SIGHUP)
        s.wait_log(r"reload: configuration .* read")
        mail(s, "to stderr")
        s.wait_log(r"client=client\.test")
        assert "client=" not in read(log)
        # and back to the file
        s.write_config("example.org, localhost", f"[server]\nlog = {log}\n")
        s.signal(signal.SIGHUP)
        wait_file(log, r"reload: configuration .* read")
        mail(s, "to the file")
        wait_file(log, r"client=client\.test")
        assert s.read_log().count("client=") == 1


def test_reload_applies_log_level_and_debug_peers():
    with Server() as s:
        s.add_user("alice@example.org")
        s.start()
        dialogue(s)
        s.wait_log(r"to=<alice@example\.org>, status=sent")
        assert "debug:" not in s.read_log()
        s.write_config("example.org, localhost", "[server]\nlog_level = debug\n")
        s.signal(signal.SIGHUP)
        s.wait_log(r"reload: configuration .* read")
        assert "takes effect only at restart" not in s.read_log()
        dialogue(s)
        s.wait_log(r"debug: smtpd: \[127\.0\.0\.1\]: < (?i:rcpt to):<alice@example\.org>")
        s.write_config("example.org, localhost", "[server]\ndebug_peers = 127.0.0.0/8\n")
        s.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while s.read_log().count("reload: configuration") < 2:
            assert time.time() < deadline, s.read_log()
            time.sleep(0.02)
        start = len(s.read_log())
        dialogue(s)
        s.wait_log(r"info: smtpd: \[127\.0\.0\.1\]: < (?i:rcpt to):<alice@example\.org>",
                   start=start)
