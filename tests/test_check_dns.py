"""`correio check --dns` against a real DNS server (dnsmasq holding the
relay tests' zone): what it reports of each local domain's MX, of the
hostname, and the warnings an admin should see; the store's domains are
looked up too; without --dns no lookup is made and nothing is created."""

import os
import re
import subprocess

from correio_harness import BIN, Server
from relay_fixtures import Dnsmasq
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


# ---- check --dns DOMAIN: the records to publish, compared with DNS ----

def dkim_records(server, domain):
    """[(name, [strings])] of `correio domain dkim DOMAIN`."""
    out = server.cli("domain", "dkim", domain).stdout
    return [(m.group(1).rstrip("."), re.findall(r'"([^"]*)"', m.group(2)))
            for m in re.finditer(r'^(\S+) IN TXT \((.*)\)$', out, re.M)]


def txt(name, *strings):
    """A dnsmasq TXT record (on its command line, quotes would be kept:
    the strings go as they are, comma-separated)."""
    assert not any("," in s for s in strings)
    return "--txt-record=%s,%s" % (name, ",".join(strings))


def records_server(domain, hostname):
    extra = "[server]\npostmaster = admin@elsewhere.example\n"
    s = Server(extra_config=extra, domains=domain)
    set_conf(s, "hostname = mx.example.org", f"hostname = {hostname}")
    set_conf(s, f"smtp = 127.0.0.1:{s.smtp_port}", f"smtp = 0.0.0.0:{s.smtp_port}")
    s.cli("domain", "dkim", domain, "rotate")
    return s


def use_dns(server, port):
    with open(server.conf, "a") as f:
        f.write(f"\n[dns]\nservers = 127.0.0.1:{port}\n")


def blocks(out):
    """{first line of each record: the '#   ...' lines after it}."""
    found, current = {}, None
    for line in out.splitlines():
        if line.startswith("#   "):
            if current is not None:
                found[current].append(line[4:])
        elif not line.startswith("#") and not line.startswith(";") and line.strip():
            current = line
            found[current] = []
    return found


def test_check_dns_domain_records():
    good = records_server("good.test", "mx.good.test")
    bad = records_server("bad.test", "mx.bad.test")
    d = None
    try:
        good_keys = dkim_records(good, "good.test")
        bad_keys = dkim_records(bad, "bad.test")
        assert len(good_keys) == 2 and len(bad_keys) == 2
        extra = [
            # good.test: everything as correio says it should be
            "--mx-host=good.test,mx.good.test,10",
            "--host-record=mx.good.test,127.0.0.30",     # A, and the PTR back
            "--host-record=mta-sts.good.test,127.0.0.31",
            txt("good.test", "v=spf1 mx -all"),
            txt("_dmarc.good.test", "v=DMARC1; p=reject; rua=mailto:d@good.test"),
            txt("_mta-sts.good.test", "v=STSv1; id=20261206"),
            txt("_smtp._tls.good.test", "v=TLSRPTv1; rua=mailto:tls@good.test"),
            # bad.test: each record wrong in its own way
            "--mx-host=bad.test,other.bad.test,10",
            "--host-record=other.bad.test,127.0.0.32",
            "--address=/mx.bad.test/127.0.0.33",         # an A without PTR ...
            "--ptr-record=33.0.0.127.in-addr.arpa,wrong.bad.test",  # ... a wrong one
            txt("bad.test", "v=spf1 -all"),
            txt("_dmarc.bad.test", "v=DMARC1; p=bogus"),
            txt("_smtp._tls.bad.test", "v=TLSRPTv1;"),
        ]
        extra += [txt(name, *strings) for name, strings in good_keys]
        # bad.test's selectors publish good.test's keys: another key
        extra += [txt(bname, *gstrings)
                  for (bname, _), (_, gstrings) in zip(bad_keys, good_keys)]
        d = Dnsmasq(extra=extra)
        use_dns(good, d.port)
        use_dns(bad, d.port)

        out = check(good, "--dns", "good.test", "--strict")
        assert "# dns: good.test: 0 mismatches" in out, out
        b = blocks(out)
        assert b["good.test. IN MX 10 mx.good.test."] == ["ok: an MX names this server"]
        assert b['good.test. IN TXT "v=spf1 mx -all"'] == [
            "ok: the published SPF record lets this server send (pass)"]
        for name, strings in good_keys:
            line = "%s. IN TXT ( %s )" % (name, " ".join('"%s"' % x for x in strings))
            assert b[line] == ["ok: the published key is this key"], out
        assert [k for k in b if k.startswith("_dmarc.good.test. IN TXT")]
        assert "ok: a DMARC record is published (p=reject)" in out
        assert re.search(r'^_mta-sts\.good\.test\. IN TXT \( "v=STSv1; id=\d{14}" \)$',
                         out, re.M), out
        assert "https://mta-sts.good.test/.well-known/mta-sts.txt" in out
        assert ";   mx: mx.good.test" in out
        assert "ok: an MTA-STS record is published" in out
        assert '_smtp._tls.good.test. IN TXT ( "v=TLSRPTv1; rua=mailto:postmaster@good.test" )' \
            in out
        assert b["30.0.0.127.in-addr.arpa. IN PTR mx.good.test."] == \
            ["ok: the address names the hostname back"]

        out = check(bad, "--dns", "bad.test")        # mismatches are warnings
        assert "# dns: bad.test: 9 mismatches" in out, out
        b = blocks(out)
        assert b["bad.test. IN MX 10 mx.bad.test."][0] == \
            "MISMATCH: the MX records name other.bad.test, not mx.bad.test", out
        spf = b['bad.test. IN TXT "v=spf1 mx -all"']
        assert spf[0].startswith('MISMATCH: the published "v=spf1 -all" gives fail for '
                                 "this server's address 127.0.0.33"), spf
        assert spf[1].startswith("fix: publish the record above")
        for name, _ in bad_keys:
            [key] = [k for k in b if k.startswith(name + ". IN TXT")]
            assert b[key] == ["MISMATCH: the published key (p=) is another key",
                              "fix: publish the record above at " + name], out
        assert 'MISMATCH: the published "v=DMARC1; p=bogus" is not valid' in out
        assert "MISMATCH: no MTA-STS record: the name does not exist" in out
        assert "MISMATCH: mta-sts.bad.test has no address" in out
        assert 'MISMATCH: the published "v=TLSRPTv1;" has no rua=' in out
        assert b["33.0.0.127.in-addr.arpa. IN PTR mx.bad.test."][0] == \
            "MISMATCH: 127.0.0.33 (of mx.bad.test) names wrong.bad.test", out
        out = check(bad, "--dns", "bad.test", "--strict", status=1)
        assert re.search(r"# --strict: \d+ warnings", out)
    finally:
        if d is not None:
            d.stop()
        good.cleanup()
        bad.cleanup()


def test_check_dns_records_with_control_characters():
    """Published records holding terminal escapes (a hostile or broken
    zone): `check --dns DOMAIN` names them with the control characters
    shown as \\xNN, never writes them to the administrator's terminal."""
    s = records_server("esc.test", "mx.esc.test")
    d = None
    try:
        d = Dnsmasq(extra=[
            "--mx-host=esc.test,mx.esc.test,10",
            "--host-record=mx.esc.test,127.0.0.40",
            txt("esc.test", "v=spf1 \x1b[2J\x1b]0;owned\x07-all"),
            txt("_dmarc.esc.test", "v=DMARC1; p=\x1b[31mreject"),
        ])
        use_dns(s, d.port)
        r = subprocess.run([BIN, "-c", s.conf, "check", "--dns", "esc.test"],
                           capture_output=True, timeout=60)
        out = r.stdout + r.stderr
        assert b"esc.test" in out and b"MISMATCH" in out, out
        assert re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", out) is None, out
        assert b"\\x1b[2J" in out, out
    finally:
        if d is not None:
            d.stop()
        s.cleanup()
