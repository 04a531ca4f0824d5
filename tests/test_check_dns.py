"""`correio check --dns` against a real DNS server (dnsmasq holding the
relay tests' zone): what it reports of each local domain's MX, of the
hostname, and the warnings an admin should see; the store's domains are
looked up too; without --dns no lookup is made and nothing is created."""

import os
import re
import subprocess

from correio_harness import BIN, Server
from relay_fixtures import dns  # noqa: F401  (the fixture)


def check(server, *args, status=0):
    r = subprocess.run([BIN, "-c", server.conf, "check", *args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == status, r.stdout + r.stderr
    return r.stdout


def set_conf(server, old, new):
    with open(server.conf) as f:
        conf = f.read()
    assert old in conf
    with open(server.conf, "w") as f:
        f.write(conf.replace(old, new))


def test_check_dns_mx_here_but_listening_on_loopback(dns):  # noqa: F811
    extra = (f"[dns]\nservers = 127.0.0.1:{dns.port}\n"
             "[server]\npostmaster = admin@elsewhere.example\n")
    with Server(extra_config=extra, domains="a.test") as s:
        set_conf(s, "hostname = mx.example.org", "hostname = mx1.a.test")
        out = check(s, "--dns")
        assert "# dns: warning: a.test: its MX names this server, but every [listen] " \
               "smtp address is on loopback" in out, out
        assert "# dns: 1 warning\n" in out
        # --strict: the warning fails the check
        out = check(s, "--dns", "--strict", status=1)
        assert "# --strict: 1 warning" in out
        # an address others can reach: no warning, --strict passes
        set_conf(s, f"smtp = 127.0.0.1:{s.smtp_port}", f"smtp = 0.0.0.0:{s.smtp_port}")
        out = check(s, "--dns", "--strict")
        assert "warning" not in out.replace("# dns: 0 warnings", ""), out
        # IPv6 loopback only is loopback too
        set_conf(s, f"smtp = 0.0.0.0:{s.smtp_port}",
                 f"smtp = [::1]:{s.smtp_port}, 127.0.0.2:{s.smtp_port}")
        out = check(s, "--dns", "--strict", status=1)
        assert "every [listen] smtp address is on loopback" in out


def test_check_dns(dns):  # noqa: F811
    extra = f"[dns]\nservers = 127.0.0.1:{dns.port}\n"
    with Server(extra_config=extra, domains="a.test, implicit.test, nullmx.test, nosuch.test") as s:
        # the server's hostname is one of a.test's exchangers
        with open(s.conf) as f:
            conf = f.read().replace("hostname = mx.example.org", "hostname = mx1.a.test")
        with open(s.conf, "w") as f:
            f.write(conf)
        out = check(s, "--dns")
        assert not os.path.exists(s.data), "check must create nothing"
        assert f"# dns: asking 127.0.0.1:{dns.port}" in out
        # MX in preference order, with addresses; mx1.a.test is this server
        block = re.search(r"# dns: a\.test receives mail at:\n((?:# dns:   .*\n)+)", out)
        assert block, out
        assert block.group(1) == ("# dns:   MX 10 mx1.a.test -> 127.0.0.2\n"
                                  "# dns:   MX 20 mx2.a.test -> 127.0.0.3\n"), block.group(1)
        # a.test's MX names this server, but it listens on loopback only
        assert re.findall(r"warning: a\.test: .*", out) == [
            "warning: a.test: its MX names this server, but every [listen] smtp address "
            "is on loopback: no other host can deliver to it (listen on 0.0.0.0:25, "
            "[::]:25)"], out
        assert "# dns: warning: implicit.test: no MX record" in out
        assert "# dns:   implicit.test -> 127.0.0.7" in out
        assert "# dns: warning: nullmx.test: null MX (RFC 7505)" in out
        assert re.search(r"# dns: warning: .*nosuch\.test.*(NXDOMAIN|not found)", out), out
        assert "# dns: hostname mx1.a.test:" in out
        assert re.search(r"^# dns: (\d+) warnings$", out, re.M).group(1) == "5", out
        # without --dns: the configuration only
        assert "# dns:" not in check(s)


def test_check_dns_looks_at_the_stores_domains(dns):  # noqa: F811
    extra = f"[dns]\nservers = 127.0.0.1:{dns.port}\n"
    with Server(extra_config=extra, domains="example.org") as s:
        s.cli("domain", "add", "b.test")
        out = check(s, "--dns")
        assert "# dns: b.test receives mail at:\n# dns:   MX 10 mx.b.test -> 127.0.0.4\n" in out
        # mx.example.org is not b.test's exchanger: said so
        assert "# dns: warning: b.test: no MX host is this server's hostname" in out
        # example.org is not under .test: the test DNS server refuses it
        assert re.search(r"# dns: warning: .*example\.org", out), out
