"""SRS (the Sender Rewriting Scheme): mail that a local alias or a Sieve
redirect forwards to another domain leaves with an SRS0 envelope sender
of our domain, so that the next hop's SPF check sees us; a bounce sent to
that address comes back and is relayed to the original sender; a forged
or expired SRS address is refused at RCPT.

The mail exchangers are aiosmtpd sinks and DNS is dnsmasq (relay_fixtures);
the hashes are recomputed here with Python's hmac from the secret the
server created (data_dir/srs.secret)."""

import base64
import hashlib
import hmac
import os
import re
import smtplib
import stat
import time

from relay_fixtures import wait_for
from relay_fixtures import cert, dns, env  # noqa: F401 - pytest fixtures

DAVE = "dave@c.test"          # a sender in another domain (mx.c.test)
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def send(server, sender, rcpts, subject="srs test"):
    body = (f"From: <{sender}>\r\nTo: <{rcpts[0]}>\r\nSubject: {subject}\r\n\r\n"
            "Forward me.\r\n").encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, local_hostname="client.test",
                      timeout=10) as c:
        c.ehlo()
        assert c.mail(sender)[0] == 250
        for r in rcpts:
            code, resp = c.rcpt(r)
            assert code == 250, (r, resp)
        code, resp = c.data(body)
        assert code == 250, resp


def secret(server):
    path = os.path.join(server.data, "srs.secret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        return f.readline().rstrip("\n")


def srs0(server, sender, domain="example.org", day=None):
    """The SRS0 address the server should make of sender (libsrs2's form)."""
    day = int(time.time()) // 86400 if day is None else day
    stamp = BASE32[(day >> 5) & 31] + BASE32[day & 31]
    local, host = sender.rsplit("@", 1)
    mac = hmac.new(secret(server).encode(), (stamp + host + local).lower().encode(),
                   hashlib.sha1).digest()
    h = base64.b64encode(mac).decode()[:4]
    return f"SRS0={h}={stamp}={host}={local}@{domain}"


def test_alias_forwarding_rewrites_the_sender(env):
    """One message from another domain to a local alias that forwards to
    b.test and to a direct recipient at b.test: the forwarded copy has the
    SRS sender, the direct one the original sender (two transactions)."""
    mx_b = env.sink("mx.b.test")
    srv = env.server()
    srv.alias_add("fwd@example.org", "erin@b.test")
    send(srv, DAVE, ["fwd@example.org", "frank@b.test"])
    msgs = mx_b.wait_messages(2)
    by_rcpt = {tuple(m.rcpt_tos): m for m in msgs}
    assert set(by_rcpt) == {("erin@b.test",), ("frank@b.test",)}, msgs
    assert by_rcpt[("frank@b.test",)].mail_from == DAVE
    forwarded = by_rcpt[("erin@b.test",)].mail_from
    assert forwarded == srs0(srv, DAVE), forwarded
    assert re.match(r"SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=c\.test=dave@example\.org$",
                    forwarded)
    srv.wait_log(r"srs: from=<dave@c\.test> forwarded as <SRS0=")


def test_local_and_null_senders_are_not_rewritten(env):
    mx_b = env.sink("mx.b.test")
    srv = env.server()
    srv.alias_add("fwd@example.org", "erin@b.test")
    send(srv, "alice@example.org", ["fwd@example.org"])
    [m] = mx_b.wait_messages(1)
    assert m.mail_from == "alice@example.org"
    send(srv, "", ["fwd@example.org"])
    m = mx_b.wait_messages(2)[1]
    assert m.mail_from == "<>"   # aiosmtpd's form of the null sender


def test_bounce_to_srs_address_reaches_the_original_sender(env):
    """The bounce a receiver sends to the SRS address goes back to the
    original sender (relayed from the null sender), also when the address
    comes back in another case; and no trusted network or AUTH is needed
    to send it (it is a bounce from the world)."""
    mx_b = env.sink("mx.b.test")
    mx_c = env.sink("mx.c.test")
    srv = env.server(relay="trusted_networks = 192.0.2.0/24")
    srv.alias_add("fwd@example.org", "erin@b.test")
    # the message comes from outside: no relaying for 127.0.0.1 now
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as c:
        c.ehlo("client.test")
        c.mail(DAVE)
        assert c.rcpt("frank@b.test")[0] == 554
        assert c.rcpt("fwd@example.org")[0] == 250
        assert c.data(b"Subject: to forward\r\n\r\nhi\r\n")[0] == 250
    [m] = mx_b.wait_messages(1)
    address = m.mail_from
    assert address.startswith("SRS0=")
    for n, rcpt in enumerate([address, address.upper()], start=1):
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as c:
            c.ehlo("mx.b.test")
            assert c.mail("<>")[0] == 250
            code, resp = c.rcpt(rcpt)
            assert code == 250, resp
            assert c.data(b"Subject: Undelivered Mail\r\n\r\nbounce\r\n")[0] == 250
        got = mx_c.wait_messages(n)[n - 1]
        # the local part comes back in the case the bounce used
        assert [r.lower() for r in got.rcpt_tos] == [DAVE] and got.mail_from == "<>", got


def test_forged_and_expired_srs_addresses_are_refused(env):
    srv = env.server(relay="trusted_networks = 192.0.2.0/24")
    good = srs0(srv, DAVE) if os.path.exists(os.path.join(srv.data, "srs.secret")) else None
    assert good is not None, "the server creates its SRS secret at start"
    h = good[5:9]
    forged_hash = good.replace(h, ("A" if h[0] != "A" else "B") + h[1:], 1)
    forged_user = good.replace("=dave@", "=mallory@")
    old_day = int(time.time()) // 86400 - 30
    expired = srs0(srv, DAVE, day=old_day)
    cases = [(forged_hash, "bad SRS hash"), (forged_user, "bad SRS hash"),
             (expired, "expired SRS time stamp"),
             ("SRS0=abcd=ZZ@example.org", "malformed SRS0 address")]
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as c:
        c.ehlo("mx.b.test")
        assert c.mail("<>")[0] == 250
        for address, why in cases:
            code, resp = c.rcpt(address)
            assert code == 550, (address, code, resp)
            assert why.encode() in resp and b"5.1.1" in resp, resp
        code, resp = c.rcpt(good)
        assert code == 250, resp


def test_sieve_redirect_to_a_remote_address_uses_srs(env):
    mx_b = env.sink("mx.b.test")
    srv = env.server()
    script = os.path.join(srv.dir, "redirect.sieve")
    with open(script, "w") as f:
        f.write('redirect "erin@b.test";\n')
    srv.cli("user", "sieve", "bob@example.org", "put", "main", script)
    srv.cli("user", "sieve", "bob@example.org", "activate", "main")
    send(srv, DAVE, ["bob@example.org"])
    [m] = mx_b.wait_messages(1)
    assert m.rcpt_tos == ["erin@b.test"]
    assert m.mail_from == srs0(srv, DAVE), m.mail_from


def test_srs_off(env):
    mx_b = env.sink("mx.b.test")
    srv = env.server(relay="\n[srs]\nenabled = no\n")
    srv.alias_add("fwd@example.org", "erin@b.test")
    send(srv, DAVE, ["fwd@example.org"])
    [m] = mx_b.wait_messages(1)
    assert m.mail_from == DAVE
    assert not os.path.exists(os.path.join(srv.data, "srs.secret"))
