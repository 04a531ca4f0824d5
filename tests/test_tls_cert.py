"""The self-signed certificate done right: it names the hostname, the
local domains and their mail hosts, localhost and the loopback
addresses; the certificate alone is written beside the key so clients
can pin it; `correio tls show` prints what an operator checks; and a
change of names makes it again."""

import hashlib
import os
import re
import signal
import socket
import ssl

from correio_harness import Server


def handshake(port, cafile, server_hostname):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.getpeercert(binary_form=True)


def test_selfsigned_names_pin_and_show():
    with Server() as s:
        s.start()
        crt = os.path.join(s.data, "tls", "selfsigned.crt")
        with open(crt) as f:
            text = f.read()
        assert text.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" not in text
        assert os.stat(crt).st_mode & 0o777 == 0o644
        # pinned with the certificate file alone, every name verifies
        for name in ("mx.example.org", "example.org", "mail.example.org", "localhost",
                     "127.0.0.1", "::1"):
            der = handshake(s.imaps_port, crt, name)
        try:
            handshake(s.imaps_port, crt, "other.example.net")
            assert False, "a name the certificate does not carry was accepted"
        except ssl.SSLCertVerificationError:
            pass

        out = s.cli("tls", "show").stdout
        assert "CN = mx.example.org" in out
        names = re.search(r"names:\s+(.*)", out).group(1).split()
        assert names == ["DNS:mx.example.org", "DNS:example.org", "DNS:mail.example.org",
                         "DNS:localhost", "IP:127.0.0.1", "IP:::1"]
        fp = re.search(r"sha256:\s+([0-9A-F:]+)", out).group(1)
        assert fp == ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert re.search(r"not after:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 36\d\d days\)", out)
        assert "cert file:   " + crt in out
        assert re.search(r"public key:\s+sha256//[A-Za-z0-9+/]{43}=", out)


def test_selfsigned_made_again_when_names_change():
    with Server() as s:
        s.start()
        crt = os.path.join(s.data, "tls", "selfsigned.crt")
        first = handshake(s.imaps_port, crt, "example.org")
        s.write_config("example.org, example.net, localhost")
        mark = len(s.read_log())
        s.signal(signal.SIGHUP)
        s.wait_log(r"making the self-signed certificate again: the names", start=mark)
        s.wait_log(r"reload: configuration", start=mark)
        second = handshake(s.imaps_port, crt, "mail.example.net")
        assert second != first
        # and a restart with the same names keeps it
        s.stop()
        s.start()
        assert handshake(s.imaps_port, crt, "example.net") == second


def test_tls_show_configured_certificate(tmp_path):
    key, cert = str(tmp_path / "k.pem"), str(tmp_path / "c.pem")
    os.system(f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
              f"-keyout {key} -out {cert} -days 30 -subj /CN=imap.example.org "
              f"-addext subjectAltName=DNS:imap.example.org 2>/dev/null")
    with Server(extra_config=f"[tls]\ncertificate = {cert}\nkey = {key}\n") as s:
        out = s.cli("tls", "show").stdout
        assert out.startswith(cert + "\n")
        assert "DNS:imap.example.org" in out and "cert file" not in out
        assert re.search(r"not after:.*\(in (29|30) days\)", out)
        r = s.cli("tls", "frobnicate", check=False)
        assert r.returncode == 2
