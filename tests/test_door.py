"""At the door of the smtp listener ([door]): DNS blocklists answered by the
test's own dnsmasq (and by a slow responder, to show the lookups do not
hold the loop), message and recipient rate limits that answer 450 and
recover after the window, and greylisting with its whitelist.

Clients connect from other loopback addresses (127.0.0.2, ...): the server
listens on 127.0.0.1 and Linux routes all of 127.0.0.0/8 to it."""

import ipaddress
import os
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from correio_harness import Server, free_port
from relay_fixtures import dns_query, wait_for

USER = "alice@example.org"


def reversed_v6(addr, zone):
    nibbles = ipaddress.IPv6Address(addr).exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + "." + zone


class BlocklistDNS:
    """dnsmasq on 127.0.0.1:port answering for two lists:
    zen.test lists 127.0.0.2, 127.0.0.5 and ::1 (answer 127.0.0.2);
    codes.test answers 127.0.0.10 for 127.0.0.3 and 127.0.0.2 for 127.0.0.4;
    every other name under .test is NXDOMAIN (not listed)."""

    RECORDS = {
        "2.0.0.127.zen.test": "127.0.0.2",
        "5.0.0.127.zen.test": "127.0.0.2",
        reversed_v6("::1", "zen.test"): "127.0.0.2",
        "3.0.0.127.codes.test": "127.0.0.10",
        "4.0.0.127.codes.test": "127.0.0.2",
    }

    def __init__(self):
        self.log = tempfile.TemporaryFile()
        for _ in range(5):
            self.port = free_port()
            args = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                    "--port=%d" % self.port, "--listen-address=127.0.0.1",
                    "--bind-interfaces", "--cache-size=0", "--local=/test/",
                    "--log-queries", "--log-facility=-"]
            args += ["--address=/%s/%s" % kv for kv in self.RECORDS.items()]
            self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
            try:
                wait_for(self._answers, timeout=5, what="dnsmasq")
                return
            except AssertionError:
                self.stop()
        raise AssertionError("dnsmasq did not start")

    def _answers(self):
        if self.proc.poll() is not None:
            return False
        try:
            return dns_query(self.port, "2.0.0.127.zen.test", qtype=1) == (0, 1)
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None


@pytest.fixture(scope="module")
def bl_dns():
    d = BlocklistDNS()
    yield d
    d.stop()


def door_server(dns_port, door, extra=""):
    s = Server(extra_config=f"[dns]\nservers = 127.0.0.1:{dns_port}\n[door]\n{door}\n{extra}")
    s.add_user(USER)
    return s


def connect(server, source="127.0.0.1", port=None):
    c = smtplib.SMTP(timeout=20, source_address=(source, 0))
    c.connect("127.0.0.1", port or server.smtp_port)
    c.ehlo("client.example")
    return c


def try_rcpt(server, source, sender="bob@sender.example", rcpt=USER):
    c = connect(server, source)
    try:
        code, _ = c.mail(sender)
        assert code == 250
        return c.rcpt(rcpt)
    finally:
        c.close()


def send(server, source="127.0.0.1", sender="bob@sender.example", rcpt=USER):
    c = connect(server, source)
    try:
        c.sendmail(sender, [rcpt], b"Subject: hi\r\n\r\nhello\r\n")
    finally:
        c.quit()


# ---- DNS blocklists ----

def test_dnsbl_listed_client_refused_at_rcpt_naming_the_zone(bl_dns):
    with door_server(bl_dns.port, "dnsbl = zen.test, codes.test=127.0.0.2") as s:
        s.start()
        code, text = try_rcpt(s, "127.0.0.2")
        assert code == 554, text
        assert text.startswith(b"5.7.1 "), text
        assert b"[127.0.0.2] blocked using zen.test (127.0.0.2)" in text, text
        # codes.test lists only with the answer 127.0.0.2
        code, text = try_rcpt(s, "127.0.0.4")
        assert code == 554 and b"blocked using codes.test (127.0.0.2)" in text, text
        code, text = try_rcpt(s, "127.0.0.3")
        assert code == 250, text
        # not listed anywhere: the mail goes in
        send(s, "127.0.0.1")
        s.wait_messages(USER, 1)
        assert "listed by zen.test (127.0.0.2)" in s.read_log()


def test_dnsbl_ipv6_client_looked_up_by_nibbles(bl_dns):
    # both ports chosen by the harness (again, should one be taken at start)
    with door_server(bl_dns.port, "dnsbl = zen.test",
                     "[listen]\nsmtp = 127.0.0.1:{port:smtp}, [::1]:{port:smtp6}\n") as s:
        s.start()
        port6 = s.port("smtp6")
        c = smtplib.SMTP(timeout=20)
        c.connect("::1", port6)
        c.ehlo("client.example")
        c.mail("bob@sender.example")
        code, text = c.rcpt(USER)
        c.close()
        assert code == 554 and b"[::1] blocked using zen.test" in text, text


def test_dnsbl_spares_trusted_networks_and_authenticated_clients(bl_dns):
    with door_server(bl_dns.port, "dnsbl = zen.test",
                     "[relay]\ntrusted_networks = 127.0.0.5/32\n") as s:
        s.start()
        code, text = try_rcpt(s, "127.0.0.5")
        assert code == 250, text
        c = connect(s, "127.0.0.2")
        c.login(USER, "secret")
        c.mail(USER)
        code, text = c.rcpt(USER)
        c.close()
        assert code == 250, text


class SlowDNS:
    """A UDP DNS responder that answers every A query with 127.0.0.2 after
    delay seconds (a slow blocklist)."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                query, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            threading.Timer(self.delay, self._answer, (query, peer)).start()

    def _answer(self, query, peer):
        end = 12
        while query[end] != 0:
            end += query[end] + 1
        question = query[12:end + 5]
        head = query[:2] + struct.pack(">HHHHH", 0x8580, 1, 1, 0, 0)
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 2])
        try:
            self.sock.sendto(head + question + answer, peer)
        except OSError:
            pass

    def stop(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


def test_dnsbl_lookup_does_not_hold_the_loop_and_rcpt_waits_for_it():
    # 2.2 s: below c-ares' 3 s timeout, above the 1.6 s another client
    # may take on a loaded machine
    slow = SlowDNS(2.2)
    try:
        with door_server(slow.port, "dnsbl = slow.test") as s:
            s.start()
            t0 = time.time()
            a = connect(s, "127.0.0.2")
            a.mail("bob@sender.example")
            result = {}
            th = threading.Thread(target=lambda: result.update(r=a.rcpt(USER)))
            th.start()
            # meanwhile another client is served at once
            time.sleep(0.2)
            t1 = time.time()
            b = connect(s, "127.0.0.3")
            assert b.noop()[0] == 250
            b.close()
            assert time.time() - t1 < 1.6
            th.join(20)
            a.close()
            code, text = result["r"]
            assert code == 554 and b"blocked using slow.test (127.0.0.2)" in text, text
            assert time.time() - t0 >= 2.1
    finally:
        slow.stop()


# ---- rate limits ----

def test_message_rate_limit_answers_450_then_recovers(bl_dns):
    with door_server(bl_dns.port, "rate_messages = 2\nrate_window = 3s") as s:
        s.start()
        c = connect(s, "127.0.0.6")
        for _ in range(2):
            assert c.mail("bob@sender.example")[0] == 250
            assert c.rset()[0] == 250
        start = time.time()
        code, text = c.mail("bob@sender.example")
        assert code == 450 and text.startswith(b"4.7.1 "), text
        # another client has its own count
        send(s, "127.0.0.7")
        s.wait_messages(USER, 1)
        time.sleep(max(0, 3.2 - (time.time() - start)))
        assert c.mail("bob@sender.example")[0] == 250
        c.close()


def test_recipient_rate_limit_per_authenticated_user(bl_dns):
    with door_server(bl_dns.port, "rate_recipients = 3\nrate_window = 3s") as s:
        s.start()
        c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20)
        c.ehlo("client.example")
        c.login(USER, "secret")
        c.mail(USER)
        start = time.time()
        for i in range(3):
            assert c.rcpt(f"r{i}@remote.example")[0] == 250
        code, text = c.rcpt("r3@remote.example")
        assert code == 450 and b"4.7.1" in text and USER.encode() in text, text
        c.rset()
        c.close()
        # the same user from another connection shares the count
        c = smtplib.SMTP("127.0.0.1", s.submission_port, timeout=20)
        c.ehlo("client.example")
        c.login(USER, "secret")
        c.mail(USER)
        assert c.rcpt("r4@remote.example")[0] == 450
        time.sleep(max(0, 3.2 - (time.time() - start)))
        assert c.rcpt("r5@remote.example")[0] == 250
        c.rset()
        c.close()


# ---- greylisting ----

def test_greylisting_first_try_450_retry_after_delay_accepted(bl_dns):
    with door_server(bl_dns.port, "greylist = on\ngreylist_delay = 2s") as s:
        s.start()
        start = time.time()
        code, text = try_rcpt(s, "127.0.0.8")
        assert code == 450 and text.startswith(b"4.7.1 "), text
        assert b"Greylisted, please try again in 2 seconds" in text, text
        # too early
        code, _ = try_rcpt(s, "127.0.0.8")
        assert code == 450
        # another sender is another triplet
        assert try_rcpt(s, "127.0.0.8", sender="carol@sender.example")[0] == 450
        time.sleep(max(0, 2.2 - (time.time() - start)))
        # the same /24, after the delay: accepted, and the mail goes in
        send(s, "127.0.0.9")
        s.wait_messages(USER, 1)
        assert os.path.exists(os.path.join(s.data, "greylist.db"))
        # remembered across a restart
        s.stop()
        s.start()
        assert try_rcpt(s, "127.0.0.8")[0] == 250


def test_greylisting_whitelist_and_authenticated_bypass(bl_dns):
    with door_server(bl_dns.port, "greylist = on\ngreylist_delay = 1h\n"
                     "greylist_whitelist = 127.0.0.11/32, friends.example") as s:
        s.start()
        assert try_rcpt(s, "127.0.0.11")[0] == 250
        assert try_rcpt(s, "127.0.0.12", sender="x@mail.friends.example")[0] == 250
        assert try_rcpt(s, "127.0.0.12", sender="x@friends.example")[0] == 250
        code, text = try_rcpt(s, "127.0.0.12")
        assert code == 450 and b"3600 seconds" in text, text
        c = connect(s, "127.0.0.12")
        c.login(USER, "secret")
        assert c.mail(USER)[0] == 250
        assert c.rcpt(USER)[0] == 250
        c.close()
