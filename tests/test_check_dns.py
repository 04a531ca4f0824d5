"""`correio check --dns` against a real DNS server (dnsmasq holding the
relay tests' zone): what it reports of each local domain's MX, of the
hostname, and the warnings an admin should see; the store's domains are
looked up too; without --dns no lookup is made and nothing is created."""

import os
import re
import subprocess

from correio_harness import BIN, Server
from relay_fixtures import dns  # noqa: F401  (the fixture)


def check(server, *args):
    r = subprocess.run([BIN, "-c", server.conf, "check", *args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


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
        assert "warning: a.test:" not in out
        assert "# dns: warning: implicit.test: no MX record" in out
        assert "# dns:   implicit.test -> 127.0.0.7" in out
        assert "# dns: warning: nullmx.test: null MX (RFC 7505)" in out
        assert re.search(r"# dns: warning: .*nosuch\.test.*(NXDOMAIN|not found)", out), out
        assert "# dns: hostname mx1.a.test:" in out
        assert re.search(r"^# dns: (\d+) warnings$", out, re.M).group(1) == "4", out
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
