"""SIGHUP applies what it says: a change of [dns] servers reaches the
very next relay, and a setting that only a restart can apply is named in
the log (and left as it was) instead of being silently ignored."""

import re
import signal
import smtplib
import socket

import pytest

from correio_harness import send_mail
from relay_fixtures import IP, Dnsmasq, cert, dns, env  # noqa: F401  (fixtures)


def reload(server, start):
    """SIGHUP, then wait for the server to say it read the file; returns
    the log from start."""
    server.signal(signal.SIGHUP)
    server.wait_log(r"reload: configuration .* read", start=start)
    return server.read_log()[start:]


def rewrite(server, old, new):
    with open(server.conf) as f:
        conf = f.read()
    assert old in conf, (old, conf)
    with open(server.conf, "w") as f:
        f.write(conf.replace(old, new))


@pytest.fixture
def dns2():
    """A second resolver: mx.b.test is 127.0.0.13 there (mx.c.test's
    address), not 127.0.0.4."""
    d = Dnsmasq(ip={"mx.b.test": IP["mx.c.test"]})
    yield d
    d.stop()


def test_dns_servers_change_reaches_the_next_relay(env, dns2):  # noqa: F811
    old_mx = env.sink("mx.b.test")
    new_mx = env.sink("mx.c.test")
    s = env.server()
    send_mail(s, "alice@example.org", ["rcpt@b.test"], "Subject: one\r\n\r\nfirst\r\n")
    old_mx.wait_messages(1)
    start = len(s.read_log())
    rewrite(s, f"servers = 127.0.0.1:{env.dns.port}", f"servers = 127.0.0.1:{dns2.port}")
    reload(s, start)
    send_mail(s, "alice@example.org", ["rcpt@b.test"], "Subject: two\r\n\r\nsecond\r\n")
    [m] = new_mx.wait_messages(1)
    assert b"second" in m.data
    assert len(old_mx.messages) == 1
    s.wait_queue_empty()
    log = s.read_log()[start:]
    assert f"relay lookups now ask 127.0.0.1:{dns2.port}" in log, log
    assert "takes effect only at restart" not in log, log


def test_restart_only_settings_are_named_and_kept(env):  # noqa: F811
    s = env.server()
    start = len(s.read_log())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        other_port = probe.getsockname()[1]
    rewrite(s, f"imap = 127.0.0.1:{s.imap_port}", f"imap = 127.0.0.1:{other_port}")
    rewrite(s, "[limits]\nmessage_size = 1M", "[limits]\nmessage_size = 2M")
    rewrite(s, "[auth]\n", "[auth]\nthreads = 3\n")
    log = reload(s, start)
    assert re.search(r"reload: \[listen\] imap changed: it takes effect only at restart", log), log
    assert re.search(r"reload: \[auth\] threads changed: it takes effect only at restart", log), log
    # the reloadable one is applied, and not named
    assert "message_size" not in log, log
    c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=10)
    c.ehlo()
    assert c.esmtp_features["size"] == str(2 * 1024 * 1024)
    c.quit()
    # the old imap listener is still the one that answers
    with socket.create_connection(("127.0.0.1", s.imap_port), 5) as i:
        assert i.recv(100).startswith(b"* OK")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other_port), 1).close()


def test_smarthost_password_file_is_read_again(env):  # noqa: F811
    from correio_harness import free_port
    from test_relay import password_file, smarthost_server

    port = free_port()
    sh = env.sink("smarthost.test", port=port, tls=env.cert, auth={"relayuser": "old pw"},
                  auth_required=True)
    s = smarthost_server(env, port, "relayuser", "old pw")
    send_mail(s, "alice@example.org", ["carol@a.test"], "Subject: one\r\n\r\nfirst\r\n")
    [m] = sh.wait_messages(1)
    assert m.login == ("relayuser", "old pw")
    # the smarthost's password changes, and so does the file
    sh.passwords["relayuser"] = "new pw"
    password_file(s, "new pw")
    reload(s, len(s.read_log()))
    send_mail(s, "alice@example.org", ["carol@a.test"], "Subject: two\r\n\r\nsecond\r\n")
    m = sh.wait_messages(2)[1]
    assert m.login == ("relayuser", "new pw")
